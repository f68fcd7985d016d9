# test/local.mk: the foundation's tests: Criterion unit tests of the
# daemon's modules, the test backend plugins, the Python integration tests
# and their shared harness, the RPC latency benchmark, the demo.

# Test backends, dlopen()ed by test_backend and the integration tests:
# a good one, one built for another ABI, one without the symbol, and one
# with the ABI 2 paths the simulator does not take (state streams, quiesce,
# shared trackers). Built by make check only, as real shared objects
# (test/unit/.libs/*.so).
check_LTLIBRARIES += test/unit/plugin_good.la test/unit/plugin_badabi.la \
	test/unit/plugin_nosym.la test/unit/plugin_stream.la
TEST_PLUGIN_LDFLAGS = -module -avoid-version -shared -rpath /nowhere
test_unit_plugin_good_la_SOURCES = test/unit/plugin_good.c
test_unit_plugin_good_la_CPPFLAGS = $(AM_CPPFLAGS) $(LIBEVENT_CFLAGS)
test_unit_plugin_good_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)
test_unit_plugin_good_la_LIBADD = $(LIBEVENT_LIBS)
test_unit_plugin_stream_la_SOURCES = test/unit/plugin_stream.c
test_unit_plugin_stream_la_CPPFLAGS = $(AM_CPPFLAGS) $(LIBEVENT_CFLAGS)
test_unit_plugin_stream_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)
test_unit_plugin_stream_la_LIBADD = $(LIBEVENT_LIBS)
test_unit_plugin_badabi_la_SOURCES = test/unit/plugin_badabi.c
test_unit_plugin_badabi_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)
test_unit_plugin_nosym_la_SOURCES = test/unit/plugin_nosym.c
test_unit_plugin_nosym_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)

if HAVE_CRITERION
FOUNDATION_UNIT_TESTS = test/unit/test_config test/unit/test_options \
	test/unit/test_rpc test/unit/test_backend test/unit/test_offload \
	test/unit/test_view test/unit/test_metrics
check_PROGRAMS += $(FOUNDATION_UNIT_TESTS)
TESTS += $(FOUNDATION_UNIT_TESTS)
FOUNDATION_UNIT_CPPFLAGS = $(libvmig_a_CPPFLAGS) $(CRITERION_CFLAGS)
FOUNDATION_UNIT_LDADD = clients/libvmigclient.a $(VMIG_LIBS) $(CRITERION_LIBS)
test_unit_test_config_SOURCES = test/unit/test_config.c
test_unit_test_config_CPPFLAGS = $(FOUNDATION_UNIT_CPPFLAGS)
test_unit_test_config_LDADD = $(FOUNDATION_UNIT_LDADD)
test_unit_test_options_SOURCES = test/unit/test_options.c
test_unit_test_options_CPPFLAGS = $(FOUNDATION_UNIT_CPPFLAGS)
test_unit_test_options_LDADD = $(FOUNDATION_UNIT_LDADD)
test_unit_test_rpc_SOURCES = test/unit/test_rpc.c
test_unit_test_rpc_CPPFLAGS = $(FOUNDATION_UNIT_CPPFLAGS)
test_unit_test_rpc_LDADD = $(FOUNDATION_UNIT_LDADD)
test_unit_test_backend_SOURCES = test/unit/test_backend.c
test_unit_test_backend_CPPFLAGS = $(FOUNDATION_UNIT_CPPFLAGS)
test_unit_test_backend_LDADD = $(FOUNDATION_UNIT_LDADD)
test_unit_test_offload_SOURCES = test/unit/test_offload.c
test_unit_test_offload_CPPFLAGS = $(FOUNDATION_UNIT_CPPFLAGS)
test_unit_test_offload_LDADD = $(FOUNDATION_UNIT_LDADD)
test_unit_test_view_SOURCES = test/unit/test_view.c
test_unit_test_view_CPPFLAGS = $(FOUNDATION_UNIT_CPPFLAGS)
test_unit_test_view_LDADD = $(FOUNDATION_UNIT_LDADD)
test_unit_test_metrics_SOURCES = test/unit/test_metrics.c
test_unit_test_metrics_CPPFLAGS = $(FOUNDATION_UNIT_CPPFLAGS)
test_unit_test_metrics_LDADD = $(FOUNDATION_UNIT_LDADD)
endif

# Python integration tests (/usr/bin/python3, see PY_LOG_COMPILER) against
# the real vmigd, vmigctl and Python client. vmigtest.py is the harness
# every area's Python tests import.
FOUNDATION_PY_TESTS = test/integration/test_foundation.py \
	test/integration/test_readme.py
TESTS += $(FOUNDATION_PY_TESTS)
EXTRA_DIST += $(FOUNDATION_PY_TESTS) test/integration/vmigtest.py
# Keep __pycache__ out of the trees (distcheck's source tree is read-only,
# and its build tree must be clean after distclean).
AM_TESTS_ENVIRONMENT += PYTHONDONTWRITEBYTECODE=1; export PYTHONDONTWRITEBYTECODE;
clean-local: clean-local-test-foundation
clean-local-test-foundation:
	-rm -rf test/integration/__pycache__
.PHONY: clean-local-test-foundation

# Benchmark, built by make bench only: GetVersion latency through the C
# client against a running vmigd, beside the raw nng REQ/REP floor.
EXTRA_PROGRAMS += test/bench/rpc_latency
BENCH_BINS += test/bench/rpc_latency
test_bench_rpc_latency_SOURCES = test/bench/rpc_latency.c
test_bench_rpc_latency_CPPFLAGS = $(AM_CPPFLAGS) $(PROTOBUF_C_CFLAGS)
test_bench_rpc_latency_LDADD = clients/libvmigclient.a $(VMIG_LIBS)

# GetJob latency from a process of its own, run by test/bench/scale.py
# beside a level of concurrent migrations.
EXTRA_PROGRAMS += test/bench/rpc_probe
BENCH_BINS += test/bench/rpc_probe
test_bench_rpc_probe_SOURCES = test/bench/rpc_probe.c
test_bench_rpc_probe_CPPFLAGS = $(AM_CPPFLAGS) $(PROTOBUF_C_CFLAGS)
test_bench_rpc_probe_LDADD = clients/libvmigclient.a $(VMIG_LIBS)

# The foundation demo (./bootstrap demo).
EXTRA_DIST += test/demo.sh test/demo.py test/demo_dialects.py
noinst_HEADERS += test/unit/leakcheck.h
