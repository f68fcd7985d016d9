# daemon/core.mk: vmigd itself (options, config, loop, RPC, plugins,
# events, sd_notify). The modules go into libvmig.a so that the unit tests
# and benchmarks link the very same objects; main.c alone makes vmigd.
libvmig_a_SOURCES += \
	daemon/vmigd.h \
	daemon/conf.c daemon/conf.h \
	daemon/wake.c daemon/wake.h \
	daemon/rpc.c daemon/rpc.h \
	daemon/api.c daemon/api.h \
	daemon/api_job.c \
	daemon/backend.c daemon/backend.h \
	daemon/events.c daemon/events.h \
	daemon/notify.h
# One notify.h, two implementations: callers never #ifdef.
if HAVE_SYSTEMD
libvmig_a_SOURCES += daemon/notify_systemd.c
else
libvmig_a_SOURCES += daemon/notify_none.c
endif
EXTRA_DIST += daemon/notify_systemd.c daemon/notify_none.c

sbin_PROGRAMS += daemon/vmigd
daemon_vmigd_SOURCES = daemon/main.c
daemon_vmigd_CPPFLAGS = $(libvmig_a_CPPFLAGS)
daemon_vmigd_LDADD = $(VMIG_LIBS)

# README.md: how to run, call and configure vmigd (the unit points at it).
dist_doc_DATA = README.md
