# plugins/vfio/local.mk: the VFIO backend: its kernel-facing layer
# (migration v2 and the v1 region, every dirty source, device opening and
# fd hand-over, the worker thread) as a convenience library for the tests,
# and the plugin (plugin.c, backend ABI 2), which compiles the same
# sources, as plugins/virtio-admin does.
# VFIO_OPEN_SRCS: opening a device and its region, interrupt and DMA
# calls; the virtio-admin plugin compiles them too (its vfio:BDF
# transport opens a virtio PF the same way).
VFIO_OPEN_SRCS = \
	plugins/vfio/vfio_compat.h \
	plugins/vfio/vfio_log.c plugins/vfio/vfio_log.h \
	plugins/vfio/vfio_parse.c plugins/vfio/vfio_parse.h \
	plugins/vfio/vfio_dev.c plugins/vfio/vfio_dev.h \
	plugins/vfio/vfio_mig.c plugins/vfio/vfio_mig.h \
	plugins/vfio/vfio_v1.c plugins/vfio/vfio_v1.h \
	plugins/vfio/vfio_open.c plugins/vfio/vfio_open.h
VFIO_SRCS = $(VFIO_OPEN_SRCS) \
	plugins/vfio/vfio_dirty.c plugins/vfio/vfio_dirty.h \
	plugins/vfio/vfio_worker.c plugins/vfio/vfio_worker.h
VFIO_CPPFLAGS = $(AM_CPPFLAGS) -I$(srcdir)/plugins/vfio $(LIBEVENT_CFLAGS)

noinst_LIBRARIES += plugins/vfio/libvfio.a
plugins_vfio_libvfio_a_SOURCES = $(VFIO_SRCS)
plugins_vfio_libvfio_a_CPPFLAGS = $(VFIO_CPPFLAGS)

# The plugin: dlopen()ed by vmigd; logs through host->log.
plugin_LTLIBRARIES += plugins/vfio/vfio.la
plugins_vfio_vfio_la_SOURCES = $(VFIO_SRCS) plugins/vfio/plugin.c
plugins_vfio_vfio_la_CPPFLAGS = $(VFIO_CPPFLAGS)
plugins_vfio_vfio_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden -pthread
plugins_vfio_vfio_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared
plugins_vfio_vfio_la_LIBADD = $(LIBEVENT_LIBS) -lpthread

EXTRA_DIST += plugins/vfio/README.md

# Integration tests: two vmigd with the plugin, under the interposer, each
# against its own vmig-simvfio, the VFs held by VMM stand-ins.
VFIO_PY_TESTS = test/integration/test_vfio_migration.py \
	test/integration/test_vfio_faults.py
TESTS += $(VFIO_PY_TESTS)
EXTRA_DIST += $(VFIO_PY_TESTS) test/integration/vfiosim.py test/demo_vfio.py

# ---- tests ---------------------------------------------------------------
# Criterion tests through the real system calls: the binaries link the
# interposer (test/sim/vfio/preload.c), which sends /dev/vfio/* and
# /dev/iommu calls to vmig-simvfio processes the tests start.
if HAVE_CRITERION
VFIO_UNIT_TESTS = test/unit/test_vfio_parse test/unit/test_vfio_sim \
	test/unit/test_vfio_v2 test/unit/test_vfio_v1 \
	test/unit/test_vfio_dirty test/unit/test_vfio_open \
	test/unit/test_vfio_worker
check_PROGRAMS += $(VFIO_UNIT_TESTS)
TESTS += $(VFIO_UNIT_TESTS)
VFIO_TEST_CPPFLAGS = $(VFIO_CPPFLAGS) -I$(srcdir)/test/sim \
	-I$(srcdir)/test/sim/vfio $(CRITERION_CFLAGS)
VFIO_TEST_SRCS = test/unit/vfio_testlib.c test/unit/vfio_testlib.h \
	$(SIMPROC_SRCS)
VFIO_TEST_LDADD = plugins/vfio/libvfio.a test/sim/vfio/libvfsim_preload.a \
	$(LIBEVENT_LIBS) $(CRITERION_LIBS)

test_unit_test_vfio_parse_SOURCES = test/unit/test_vfio_parse.c
test_unit_test_vfio_parse_CPPFLAGS = $(VFIO_TEST_CPPFLAGS)
test_unit_test_vfio_parse_LDADD = plugins/vfio/libvfio.a $(LIBEVENT_LIBS) \
	$(CRITERION_LIBS)
test_unit_test_vfio_sim_SOURCES = test/unit/test_vfio_sim.c $(VFIO_TEST_SRCS)
test_unit_test_vfio_sim_CPPFLAGS = $(VFIO_TEST_CPPFLAGS)
test_unit_test_vfio_sim_LDADD = $(VFIO_TEST_LDADD)
test_unit_test_vfio_v2_SOURCES = test/unit/test_vfio_v2.c $(VFIO_TEST_SRCS)
test_unit_test_vfio_v2_CPPFLAGS = $(VFIO_TEST_CPPFLAGS)
test_unit_test_vfio_v2_LDADD = $(VFIO_TEST_LDADD)
test_unit_test_vfio_v1_SOURCES = test/unit/test_vfio_v1.c $(VFIO_TEST_SRCS)
test_unit_test_vfio_v1_CPPFLAGS = $(VFIO_TEST_CPPFLAGS)
test_unit_test_vfio_v1_LDADD = $(VFIO_TEST_LDADD)
test_unit_test_vfio_dirty_SOURCES = test/unit/test_vfio_dirty.c \
	$(VFIO_TEST_SRCS)
test_unit_test_vfio_dirty_CPPFLAGS = $(VFIO_TEST_CPPFLAGS)
test_unit_test_vfio_dirty_LDADD = $(VFIO_TEST_LDADD)
test_unit_test_vfio_open_SOURCES = test/unit/test_vfio_open.c \
	$(VFIO_TEST_SRCS)
test_unit_test_vfio_open_CPPFLAGS = $(VFIO_TEST_CPPFLAGS)
test_unit_test_vfio_open_LDADD = $(VFIO_TEST_LDADD)
test_unit_test_vfio_worker_SOURCES = test/unit/test_vfio_worker.c \
	$(VFIO_TEST_SRCS)
test_unit_test_vfio_worker_CPPFLAGS = $(VFIO_TEST_CPPFLAGS)
test_unit_test_vfio_worker_LDADD = $(VFIO_TEST_LDADD)
endif

# libFuzzer (clang; `make fuzz`): everything the layer parses from the
# kernel side or a VMM.
VFIO_FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -I. -I$(srcdir)/include \
	-I$(srcdir)/plugins/vfio -pthread
FUZZ_TARGETS += fuzz/fuzz_vfio_parse
CLEANFILES += fuzz/fuzz_vfio_parse
EXTRA_DIST += test/fuzz/fuzz_vfio_parse.c
FUZZ_VFIO_SRCS = $(srcdir)/test/fuzz/fuzz_vfio_parse.c \
	$(srcdir)/plugins/vfio/vfio_parse.c $(srcdir)/plugins/vfio/vfio_log.c \
	$(srcdir)/plugins/vfio/vfio_dirty.c $(srcdir)/plugins/vfio/vfio_dev.c \
	$(srcdir)/plugins/vfio/vfio_mig.c $(srcdir)/plugins/vfio/vfio_v1.c
fuzz/fuzz_vfio_parse: $(FUZZ_VFIO_SRCS)
	$(AM_V_GEN)$(MKDIR_P) fuzz && $(CLANG) $(VFIO_FUZZ_FLAGS) -o $@ \
	$(FUZZ_VFIO_SRCS)
