# test/sim/local.mk: vmig-simdev, the simulated virtio PF (real split admin
# virtqueue over shared memory, VFs with a DMA workload, faults, a text
# control channel). Built by plain `make`: tests and the demo find it at
# BUILDDIR/test/sim/vmig-simdev.
SIM_SRCS = test/sim/sim.h test/sim/sim_cmd.c test/sim/sim_v14.c \
	test/sim/sim_cvq.c test/sim/sim_vf.c test/sim/sim_dma.c \
	test/sim/sim_fault.c test/sim/sim_ctl.c test/sim/sim_util.c
SIM_CPPFLAGS = $(VA_CPPFLAGS) -I$(srcdir)/test/sim $(LIBEVENT_CFLAGS) \
	$(XXHASH_CFLAGS)

noinst_PROGRAMS += test/sim/vmig-simdev
test_sim_vmig_simdev_SOURCES = test/sim/simdev.c $(SIM_SRCS)
test_sim_vmig_simdev_CPPFLAGS = $(SIM_CPPFLAGS)
test_sim_vmig_simdev_LDADD = plugins/virtio-admin/libvadmin.a $(VMIG_LIBS) -lm

EXTRA_DIST += test/sim/README.md

# Python: SimPF (used by everyone's Python tests) and its own tests.
VA_PY_TESTS = test/integration/test_simdev.py test/integration/test_dialects.py
TESTS += $(VA_PY_TESTS)
EXTRA_DIST += $(VA_PY_TESTS) test/integration/simdev.py

# ---- tests ---------------------------------------------------------------
# simproc: start and drive a simulator from C (tests, benchmark).
SIMPROC_SRCS = test/sim/simproc.c test/sim/simproc.h
# simpump: drive any dialect's operations through the transport, in step.
SIMPUMP_SRCS = test/sim/simpump.c test/sim/simpump.h $(SIMPROC_SRCS)

if HAVE_CRITERION
VA_UNIT_TESTS = test/unit/test_virtq test/unit/test_admin_codec \
	test/unit/test_devctx test/unit/test_writerec \
	test/unit/test_admin_sim test/unit/test_plugin_sim \
	test/unit/test_devstate test/unit/test_dialect_codec \
	test/unit/test_dialect_sim
check_PROGRAMS += $(VA_UNIT_TESTS)
TESTS += $(VA_UNIT_TESTS)
VA_TEST_CPPFLAGS = $(SIM_CPPFLAGS) $(CRITERION_CFLAGS)
VA_TEST_LDADD = plugins/virtio-admin/libvadmin.a $(VMIG_LIBS) \
	$(CRITERION_LIBS)

test_unit_test_virtq_SOURCES = test/unit/test_virtq.c
test_unit_test_virtq_CPPFLAGS = $(VA_TEST_CPPFLAGS)
test_unit_test_virtq_LDADD = $(VA_TEST_LDADD)
test_unit_test_admin_codec_SOURCES = test/unit/test_admin_codec.c
test_unit_test_admin_codec_CPPFLAGS = $(VA_TEST_CPPFLAGS)
test_unit_test_admin_codec_LDADD = $(VA_TEST_LDADD)
test_unit_test_devctx_SOURCES = test/unit/test_devctx.c
test_unit_test_devctx_CPPFLAGS = $(VA_TEST_CPPFLAGS)
test_unit_test_devctx_LDADD = $(VA_TEST_LDADD)
test_unit_test_writerec_SOURCES = test/unit/test_writerec.c
test_unit_test_writerec_CPPFLAGS = $(VA_TEST_CPPFLAGS)
test_unit_test_writerec_LDADD = $(VA_TEST_LDADD)
test_unit_test_devstate_SOURCES = test/unit/test_devstate.c
test_unit_test_devstate_CPPFLAGS = $(VA_TEST_CPPFLAGS)
test_unit_test_devstate_LDADD = $(VA_TEST_LDADD)
test_unit_test_dialect_codec_SOURCES = test/unit/test_dialect_codec.c
test_unit_test_dialect_codec_CPPFLAGS = $(VA_TEST_CPPFLAGS)
test_unit_test_dialect_codec_LDADD = $(VA_TEST_LDADD)
test_unit_test_admin_sim_SOURCES = test/unit/test_admin_sim.c \
	$(SIMPUMP_SRCS)
test_unit_test_admin_sim_CPPFLAGS = $(VA_TEST_CPPFLAGS)
test_unit_test_admin_sim_LDADD = $(VA_TEST_LDADD)
test_unit_test_plugin_sim_SOURCES = test/unit/test_plugin_sim.c \
	$(SIMPROC_SRCS)
test_unit_test_plugin_sim_CPPFLAGS = $(VA_TEST_CPPFLAGS)
test_unit_test_plugin_sim_LDADD = $(VA_TEST_LDADD)
test_unit_test_dialect_sim_SOURCES = test/unit/test_dialect_sim.c \
	$(SIMPUMP_SRCS)
test_unit_test_dialect_sim_CPPFLAGS = $(VA_TEST_CPPFLAGS)
test_unit_test_dialect_sim_LDADD = $(VA_TEST_LDADD)
endif

# libFuzzer: the simulator's command decoding and chain parsing (clang;
# `make fuzz`). VA_FUZZ_FLAGS comes from plugins/virtio-admin/local.mk.
FUZZ_TARGETS += fuzz/fuzz_admin_sim
CLEANFILES += fuzz/fuzz_admin_sim
EXTRA_DIST += test/fuzz/fuzz_admin_sim.c
FUZZ_ADMIN_SIM_SRCS = $(srcdir)/test/fuzz/fuzz_admin_sim.c \
	$(srcdir)/test/sim/sim_cmd.c $(srcdir)/test/sim/sim_v14.c \
	$(srcdir)/test/sim/sim_cvq.c $(srcdir)/test/sim/sim_vf.c \
	$(srcdir)/test/sim/sim_dma.c $(srcdir)/test/sim/sim_fault.c \
	$(srcdir)/test/sim/sim_util.c \
	$(srcdir)/plugins/virtio-admin/virtq.c \
	$(VA_DIALECT_FUZZ_SRCS) \
	$(srcdir)/daemon/log.c $(srcdir)/daemon/util.c
fuzz/fuzz_admin_sim: $(FUZZ_ADMIN_SIM_SRCS)
	$(AM_V_GEN)$(MKDIR_P) fuzz && $(CLANG) $(VA_FUZZ_FLAGS) -o $@ \
	$(FUZZ_ADMIN_SIM_SRCS) $(XXHASH_LIBS) -lm

# Benchmark (`make bench`, never `make check`): admin-queue commands per
# second through the plugin, 1 and 8 VFs busy, against an eventfd
# ping-pong between the same two processes.
EXTRA_PROGRAMS += test/bench/adminq_rate
BENCH_BINS += test/bench/adminq_rate
test_bench_adminq_rate_SOURCES = test/bench/adminq_rate.c $(SIMPROC_SRCS)
test_bench_adminq_rate_CPPFLAGS = $(SIM_CPPFLAGS)
test_bench_adminq_rate_LDADD = plugins/virtio-admin/libvadmin.a $(VMIG_LIBS)
