# daemon/policy.mk: the pure policy (converge.c, sched.c) and its tests.
libvmig_a_SOURCES += daemon/converge.h daemon/sched.h
