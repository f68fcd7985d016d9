# plugins/virtio-admin/local.mk: the virtio admin-queue backend plugin, and
# the code it shares with the simulated PF (test/sim) and the tests.

# Shared by plugin, simulator, tests, benchmark and fuzzers: the split
# ring, the admin framing, each dialect's opcode table and codecs (draft:
# draft.c + devctx.c, virtio 1.4: v14.c, control-vq: cvq.c), the dialects
# as data (dialect*.c), the canonical device state (devstate.c), the
# socket handshake and transports, write records to bitmaps.
VA_COMMON_SRCS = \
	plugins/virtio-admin/virtq.c plugins/virtio-admin/virtq.h \
	plugins/virtio-admin/admin.c plugins/virtio-admin/admin.h \
	plugins/virtio-admin/draft.c plugins/virtio-admin/draft.h \
	plugins/virtio-admin/devctx.c plugins/virtio-admin/devctx.h \
	plugins/virtio-admin/v14.c plugins/virtio-admin/v14.h \
	plugins/virtio-admin/cvq.c plugins/virtio-admin/cvq.h \
	plugins/virtio-admin/devstate.c plugins/virtio-admin/devstate.h \
	plugins/virtio-admin/dialect.c plugins/virtio-admin/dialect.h \
	plugins/virtio-admin/dialect_draft.c \
	plugins/virtio-admin/dialect_v14.c \
	plugins/virtio-admin/dialect_cvq.c \
	plugins/virtio-admin/handshake.c plugins/virtio-admin/handshake.h \
	plugins/virtio-admin/writerec.c plugins/virtio-admin/writerec.h \
	plugins/virtio-admin/transport.h \
	plugins/virtio-admin/transport_sim.c \
	plugins/virtio-admin/transport_vfio.c \
	plugins/virtio-admin/virtio_pci.c plugins/virtio-admin/virtio_pci.h \
	$(VA_VFIO_SRCS)
# The vfio:BDF transport opens the PF with the VFIO layer's own code
# (group + type1 container, region and DMA calls): plugins/vfio's
# sources compiled in, as its own plugin does, never a copy.
VA_VFIO_SRCS = $(VFIO_OPEN_SRCS)
VA_CPPFLAGS = $(AM_CPPFLAGS) -I$(srcdir)/plugins/virtio-admin \
	-I$(srcdir)/plugins/vfio

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

# libFuzzer harnesses (clang), built by `make fuzz` into fuzz/: every
# decoder a device or a peer feeds (results, images, the canonical state).
VA_FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -I. -I$(srcdir)/include \
	-I$(srcdir)/daemon -I$(srcdir)/plugins/virtio-admin -I$(srcdir)/test/sim
# The codecs and dialects, as one list for every harness that needs them.
VA_DIALECT_FUZZ_SRCS = \
	$(srcdir)/plugins/virtio-admin/admin.c \
	$(srcdir)/plugins/virtio-admin/draft.c \
	$(srcdir)/plugins/virtio-admin/devctx.c \
	$(srcdir)/plugins/virtio-admin/v14.c \
	$(srcdir)/plugins/virtio-admin/cvq.c \
	$(srcdir)/plugins/virtio-admin/devstate.c \
	$(srcdir)/plugins/virtio-admin/dialect.c \
	$(srcdir)/plugins/virtio-admin/dialect_draft.c \
	$(srcdir)/plugins/virtio-admin/dialect_v14.c \
	$(srcdir)/plugins/virtio-admin/dialect_cvq.c \
	$(srcdir)/plugins/virtio-admin/handshake.c \
	$(srcdir)/plugins/virtio-admin/writerec.c
VA_FUZZERS = fuzz/fuzz_devctx fuzz/fuzz_admin_result fuzz/fuzz_devstate \
	fuzz/fuzz_v14 fuzz/fuzz_cvq
FUZZ_TARGETS += $(VA_FUZZERS)
CLEANFILES += $(VA_FUZZERS)
EXTRA_DIST += test/fuzz/fuzz_devctx.c test/fuzz/fuzz_admin_result.c \
	test/fuzz/fuzz_devstate.c test/fuzz/fuzz_v14.c test/fuzz/fuzz_cvq.c \
	test/fuzz/fuzz_ops.h
$(VA_FUZZERS): fuzz/%: $(srcdir)/test/fuzz/%.c $(VA_DIALECT_FUZZ_SRCS) \
	$(srcdir)/test/fuzz/fuzz_ops.h
	$(AM_V_GEN)$(MKDIR_P) fuzz && $(CLANG) $(VA_FUZZ_FLAGS) -o $@ \
	$(srcdir)/test/fuzz/$*.c $(VA_DIALECT_FUZZ_SRCS)
