# daemon/policy.mk: the pure policy (converge.c, sched.c), the page delta
# codec it counts bytes with (delta.c), and their tests.
libvmig_a_SOURCES += daemon/converge.c daemon/converge.h \
	daemon/sched.c daemon/sched.h daemon/delta.c daemon/delta.h

if HAVE_CRITERION
check_PROGRAMS += test/unit/test_converge test/unit/test_sched \
	test/unit/test_delta
TESTS += test/unit/test_converge test/unit/test_sched test/unit/test_delta
test_unit_test_delta_SOURCES = test/unit/test_delta.c
test_unit_test_delta_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
test_unit_test_delta_LDADD = $(VMIG_LIBS) $(CRITERION_LIBS)
test_unit_test_converge_SOURCES = test/unit/test_converge.c
test_unit_test_converge_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
test_unit_test_converge_LDADD = $(VMIG_LIBS) $(CRITERION_LIBS)
test_unit_test_sched_SOURCES = test/unit/test_sched.c
test_unit_test_sched_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
test_unit_test_sched_LDADD = $(VMIG_LIBS) $(CRITERION_LIBS)
endif

# Trace-replay simulator of both convergence policies (make bench).
EXTRA_PROGRAMS += test/bench/converge_sim
BENCH_BINS += test/bench/converge_sim
test_bench_converge_sim_SOURCES = test/bench/converge_sim.c
test_bench_converge_sim_LDADD = $(VMIG_LIBS)
