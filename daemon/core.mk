# daemon/core.mk: vmigd itself (options, config, loop, RPC, plugins,
# events, sd_notify). The modules go into libvmig.a so that the unit tests
# and benchmarks link the very same objects; main.c alone makes vmigd.
libvmig_a_SOURCES += \
	daemon/vmigd.h \
	daemon/conf.c daemon/conf.h \
	daemon/wake.c daemon/wake.h \
	daemon/offload.c daemon/offload.h \
	daemon/view.c daemon/view.h \
	daemon/rpc.c daemon/rpc.h \
	daemon/api.c daemon/api.h \
	daemon/api_job.c daemon/api_view.c daemon/api_fds.c \
	daemon/backend.c daemon/backend.h \
	daemon/events.c daemon/events.h \
	daemon/metrics.c daemon/metrics_http.c daemon/metrics.h \
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

# A vmigd run from this build tree loads the plugins it built without
# --plugin-dir: make links each one into plugins/.libs, the default
# plugin_dir of a vmigd whose executable is this tree's (conf.c,
# config_build_plugin_dir). Every plugin lives in plugins/NAME/.
all-local: plugins/.libs-linked
plugins/.libs-linked: $(plugin_LTLIBRARIES)
	$(AM_V_GEN)$(MKDIR_P) plugins/.libs && \
	for la in $(plugin_LTLIBRARIES); do \
	  rel=$${la#plugins/}; so=`basename $$la .la`.so; \
	  ln -sf ../$${rel%/*}/.libs/$$so plugins/.libs/$$so || exit 1; \
	done && touch $@
clean-local: clean-build-plugin-links
clean-build-plugin-links:
	-rm -rf plugins/.libs plugins/.libs-linked
.PHONY: clean-build-plugin-links
# The metrics endpoint scraped during migrations between two daemons
# (test_metrics.c, its unit test, is in test/local.mk).
METRICS_PY_TESTS = test/integration/test_metrics.py
TESTS += $(METRICS_PY_TESTS)
EXTRA_DIST += $(METRICS_PY_TESTS)

# README.md: how to run, call and configure vmigd (the unit points at it).
dist_doc_DATA = README.md

# libFuzzer harness (clang), built by `make fuzz`: the request decoder and
# checks (rpc_decode), and vmigctl's JSON printer over any Response.
CORE_FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -I. -I$(builddir)/proto \
	-I$(srcdir)/include -iquote $(srcdir)/daemon -I$(srcdir)/clients \
	$(PROTOBUF_C_CFLAGS) $(LIBEVENT_CFLAGS)
FUZZ_TARGETS += fuzz/fuzz_rpc
CLEANFILES += fuzz/fuzz_rpc
EXTRA_DIST += test/fuzz/fuzz_rpc.c
FUZZ_RPC_SRCS = $(srcdir)/test/fuzz/fuzz_rpc.c $(srcdir)/daemon/rpc.c \
	$(srcdir)/daemon/authz.c $(srcdir)/daemon/wake.c \
	$(srcdir)/daemon/util.c $(srcdir)/daemon/log.c \
	$(srcdir)/clients/json.c proto/vmig.pb-c.c
fuzz/fuzz_rpc: $(FUZZ_RPC_SRCS)
	$(AM_V_GEN)$(MKDIR_P) fuzz && $(CLANG) $(CORE_FUZZ_FLAGS) -o $@ \
	$(FUZZ_RPC_SRCS) $(PROTOBUF_C_LIBS) $(LIBEVENT_LIBS) $(NNG_LIBS)
