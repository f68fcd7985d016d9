# plugins/virtio-admin/local.mk: the virtio admin-queue backend plugin, and
# the code it shares with the simulated PF (test/sim) and the tests.

# Shared by plugin, simulator, tests, benchmark and fuzzers: the split
# ring, the admin framing, the draft's opcode table and codecs, the
# device-context TLV codec,
# the socket handshake and transports, write records to bitmaps.
VA_COMMON_SRCS = \
	plugins/virtio-admin/virtq.c plugins/virtio-admin/virtq.h \
	plugins/virtio-admin/admin.c plugins/virtio-admin/admin.h \
	plugins/virtio-admin/draft.c plugins/virtio-admin/draft.h \
	plugins/virtio-admin/devctx.c plugins/virtio-admin/devctx.h \
	plugins/virtio-admin/handshake.c plugins/virtio-admin/handshake.h \
	plugins/virtio-admin/writerec.c plugins/virtio-admin/writerec.h \
	plugins/virtio-admin/transport.h \
	plugins/virtio-admin/transport_sim.c \
	plugins/virtio-admin/transport_vfio.c
VA_CPPFLAGS = $(AM_CPPFLAGS) -I$(srcdir)/plugins/virtio-admin

# Non-PIC copy for the simulator and the tests.
noinst_LIBRARIES += plugins/virtio-admin/libvadmin.a
plugins_virtio_admin_libvadmin_a_SOURCES = $(VA_COMMON_SRCS)
plugins_virtio_admin_libvadmin_a_CPPFLAGS = $(VA_CPPFLAGS)

# The plugin: dlopen()ed by vmigd; logs through host->log, so it links
# neither libvmig.a nor libvadmin.a (not PIC) but compiles the sources.
plugin_LTLIBRARIES += plugins/virtio-admin/virtio_admin.la
plugins_virtio_admin_virtio_admin_la_SOURCES = $(VA_COMMON_SRCS) \
	plugins/virtio-admin/adminq.c plugins/virtio-admin/adminq.h \
	plugins/virtio-admin/plugin.c
plugins_virtio_admin_virtio_admin_la_CPPFLAGS = $(VA_CPPFLAGS) \
	$(LIBEVENT_CFLAGS)
plugins_virtio_admin_virtio_admin_la_CFLAGS = $(AM_CFLAGS) \
	-fvisibility=hidden
plugins_virtio_admin_virtio_admin_la_LDFLAGS = $(AM_LDFLAGS) -module \
	-avoid-version -shared
plugins_virtio_admin_virtio_admin_la_LIBADD = $(LIBEVENT_LIBS)

EXTRA_DIST += plugins/virtio-admin/README.md

# libFuzzer harnesses (clang), built by `make fuzz` into fuzz/: the result
# decoders and the device-context parser.
VA_FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -I. -I$(srcdir)/include \
	-I$(srcdir)/daemon -I$(srcdir)/plugins/virtio-admin -I$(srcdir)/test/sim
FUZZ_TARGETS += fuzz/fuzz_devctx fuzz/fuzz_admin_result
CLEANFILES += fuzz/fuzz_devctx fuzz/fuzz_admin_result
EXTRA_DIST += test/fuzz/fuzz_devctx.c test/fuzz/fuzz_admin_result.c
fuzz/fuzz_devctx: $(srcdir)/test/fuzz/fuzz_devctx.c \
	$(srcdir)/plugins/virtio-admin/devctx.c
	$(AM_V_GEN)$(MKDIR_P) fuzz && $(CLANG) $(VA_FUZZ_FLAGS) -o $@ \
	$(srcdir)/test/fuzz/fuzz_devctx.c $(srcdir)/plugins/virtio-admin/devctx.c
fuzz/fuzz_admin_result: $(srcdir)/test/fuzz/fuzz_admin_result.c \
	$(srcdir)/plugins/virtio-admin/admin.c \
	$(srcdir)/plugins/virtio-admin/draft.c \
	$(srcdir)/plugins/virtio-admin/handshake.c \
	$(srcdir)/plugins/virtio-admin/writerec.c
	$(AM_V_GEN)$(MKDIR_P) fuzz && $(CLANG) $(VA_FUZZ_FLAGS) -o $@ \
	$(srcdir)/test/fuzz/fuzz_admin_result.c \
	$(srcdir)/plugins/virtio-admin/admin.c \
	$(srcdir)/plugins/virtio-admin/draft.c \
	$(srcdir)/plugins/virtio-admin/handshake.c \
	$(srcdir)/plugins/virtio-admin/writerec.c
