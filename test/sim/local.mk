# test/sim/local.mk: vmig-simdev, the simulated virtio PF (real split admin
# virtqueue over shared memory, VFs with a DMA workload, faults, a text
# control channel). Built by plain `make`: tests and the demo find it at
# BUILDDIR/test/sim/vmig-simdev.
SIM_SRCS = test/sim/sim.h test/sim/sim_cmd.c test/sim/sim_vf.c \
	test/sim/sim_dma.c test/sim/sim_fault.c test/sim/sim_ctl.c
SIM_CPPFLAGS = $(VA_CPPFLAGS) -I$(srcdir)/test/sim $(LIBEVENT_CFLAGS) \
	$(XXHASH_CFLAGS)

noinst_PROGRAMS += test/sim/vmig-simdev
test_sim_vmig_simdev_SOURCES = test/sim/simdev.c $(SIM_SRCS)
test_sim_vmig_simdev_CPPFLAGS = $(SIM_CPPFLAGS)
test_sim_vmig_simdev_LDADD = plugins/virtio-admin/libvadmin.a $(VMIG_LIBS) -lm

EXTRA_DIST += test/sim/README.md
