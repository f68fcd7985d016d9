# daemon/engine.mk: the migration engine: one job per VF migration, its
# phase table and steps (job.c), the source side (job_out.c) and the
# destination side (job_in.c). The calls that reach it are in api_job.c.
libvmig_a_SOURCES += \
	daemon/job.c daemon/job.h \
	daemon/job_out.c daemon/job_out.h \
	daemon/out_pump.c daemon/out_dirty.c daemon/out_delta.c \
	daemon/out_state.c \
	daemon/job_in.c \
	daemon/job_resume.c \
	daemon/tracker.c daemon/tracker.h

# Tests of the engine: the phase table in C (Criterion, linking libvmig.a),
# migrations between two real daemons and simulators in Python.
if HAVE_CRITERION
check_PROGRAMS += test/unit/test_job
TESTS += test/unit/test_job
test_unit_test_job_SOURCES = test/unit/test_job.c
test_unit_test_job_CPPFLAGS = $(libvmig_a_CPPFLAGS) $(CRITERION_CFLAGS)
test_unit_test_job_LDADD = clients/libvmigclient.a $(VMIG_LIBS) \
	$(CRITERION_LIBS)
# Both directions' step tables against a scripted backend built into the
# test and a fake stream (linked before libvmig.a: stream.o stays out).
check_PROGRAMS += test/unit/test_engine
TESTS += test/unit/test_engine
test_unit_test_engine_SOURCES = test/unit/test_engine.c \
	test/unit/fake_stream.c test/unit/fake_stream.h
test_unit_test_engine_CPPFLAGS = $(libvmig_a_CPPFLAGS) $(CRITERION_CFLAGS)
test_unit_test_engine_LDADD = clients/libvmigclient.a $(VMIG_LIBS) \
	$(CRITERION_LIBS)
endif
ENGINE_PY_TESTS = test/integration/test_migration.py \
	test/integration/test_migration_cancel.py \
	test/integration/test_migration_faults.py \
	test/integration/test_migration_peer.py \
	test/integration/test_migration_stream.py \
	test/integration/test_migration_phases.py \
	test/integration/test_migration_delta.py \
	test/integration/test_soak.py
TESTS += $(ENGINE_PY_TESTS)
EXTRA_DIST += $(ENGINE_PY_TESTS) test/integration/test_migration_lib.py \
	test/integration/streampeer.py test/integration/test_loaded_host.py

# The demo beside two CPU hogs: not in make check, where the tests that
# run beside it already load both cores and the hogs make a third and a
# fourth (under that, VFs fail: README, "Tests"). Run it on its own.
check-loaded: all
	VMIG_BUILDDIR=$(abs_top_builddir) VMIG_SRCDIR=$(abs_top_srcdir) \
	    /usr/bin/python3 $(srcdir)/test/integration/test_loaded_host.py
.PHONY: check-loaded
