# test/sim/vfio/local.mk: vmig-simvfio, the simulated VFIO / iommufd
# kernel side, and the interposer that sends /dev/vfio/* and /dev/iommu
# calls to it (linked into test binaries; also built as an LD_PRELOAD
# library for other processes). README.md says what it enforces and what
# it cannot prove.
VFSIM_SRCS = test/sim/vfio/vfsim.c test/sim/vfio/vfsim.h \
	test/sim/vfio/vfsim_proto.h test/sim/vfio/vfsim_vfio.c \
	test/sim/vfio/vfsim_mig.c test/sim/vfio/vfsim_iommu.c \
	test/sim/vfio/vfsim_ctl.c test/sim/vfio/vfsim_wire.c \
	test/sim/vfio/vfsim_virtio.c
VFSIM_CPPFLAGS = $(SIM_CPPFLAGS) -I$(srcdir)/plugins/vfio \
	-I$(srcdir)/test/sim/vfio

# Built by plain `make`: later integration tests and the demo use it.
noinst_PROGRAMS += test/sim/vfio/vmig-simvfio
test_sim_vfio_vmig_simvfio_SOURCES = $(VFSIM_SRCS) test/sim/sim_vf.c \
	test/sim/sim_dma.c test/sim/sim_util.c
test_sim_vfio_vmig_simvfio_CPPFLAGS = $(VFSIM_CPPFLAGS)
test_sim_vfio_vmig_simvfio_LDADD = plugins/virtio-admin/libvadmin.a \
	$(VMIG_LIBS) -lm

# The interposer: a convenience library the tests link (their own
# definitions of open, ioctl, read... win over libc's), and the same
# file as an LD_PRELOAD object for other processes.
noinst_LIBRARIES += test/sim/vfio/libvfsim_preload.a
test_sim_vfio_libvfsim_preload_a_SOURCES = test/sim/vfio/preload.c \
	test/sim/vfio/vfsim_wire.c test/sim/vfio/vfsim_proto.h
test_sim_vfio_libvfsim_preload_a_CPPFLAGS = $(AM_CPPFLAGS) \
	-I$(srcdir)/test/sim/vfio -U_FORTIFY_SOURCE
test_sim_vfio_libvfsim_preload_a_CFLAGS = $(AM_CFLAGS) -fPIC

noinst_LTLIBRARIES += test/sim/vfio/vfsim_preload.la
test_sim_vfio_vfsim_preload_la_SOURCES = test/sim/vfio/preload.c \
	test/sim/vfio/vfsim_wire.c
test_sim_vfio_vfsim_preload_la_CPPFLAGS = $(AM_CPPFLAGS) \
	-I$(srcdir)/test/sim/vfio -U_FORTIFY_SOURCE
test_sim_vfio_vfsim_preload_la_LDFLAGS = -module -avoid-version -shared \
	-rpath /nowhere

# A VMM stand-in (hand-over tests, the integration tests, the demo:
# built by plain `make`, as the interposer): opens a device through the
# simulator (under LD_PRELOAD), maps a memory file, serves the fds.
noinst_PROGRAMS += test/sim/vfio/vfsim-vmm
test_sim_vfio_vfsim_vmm_SOURCES = test/sim/vfio/vfsim_vmm.c
test_sim_vfio_vfsim_vmm_CPPFLAGS = $(VFIO_CPPFLAGS)
test_sim_vfio_vfsim_vmm_LDADD = plugins/vfio/libvfio.a $(LIBEVENT_LIBS)

EXTRA_DIST += test/sim/vfio/README.md

# The admin queue over vfio-pci: vmigd's virtio-admin plugin opens a
# virtio PF of the simulated kernel (--dev virtio=SOCK) as vfio:BDF.
TESTS += test/integration/test_vfio_pf.py
EXTRA_DIST += test/integration/test_vfio_pf.py
# The same PF's rules and the transport, from C through the interposer.
if HAVE_CRITERION
check_PROGRAMS += test/unit/test_vfio_virtio
TESTS += test/unit/test_vfio_virtio
test_unit_test_vfio_virtio_SOURCES = test/unit/test_vfio_virtio.c \
	$(VFIO_TEST_SRCS)
test_unit_test_vfio_virtio_CPPFLAGS = $(VFIO_TEST_CPPFLAGS) \
	-I$(srcdir)/plugins/virtio-admin
test_unit_test_vfio_virtio_LDADD = plugins/virtio-admin/libvadmin.a \
	$(VFIO_TEST_LDADD) $(VMIG_LIBS)
endif
