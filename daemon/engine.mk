# daemon/engine.mk: the migration engine: one job per VF migration, its
# phase table and steps (job.c), the source side (job_out.c) and the
# destination side (job_in.c). The calls that reach it are in api_job.c.
libvmig_a_SOURCES += \
	daemon/job.c daemon/job.h \
	daemon/job_out.c \
	daemon/job_in.c
