# include/local.mk: what a third-party backend plugin or client builds
# against, installed where its #includes expect it: <vmig/backend.h> (the
# plugin ABI), <vmig/client.h> with the generated <vmig/vmig.pb-c.h> it
# includes, libvmigclient.a (clients/local.mk), a pkg-config file for each
# (vmig-backend: the plugin directory; vmigclient: flags and libraries),
# and the .proto files for clients in other languages.
vmigincludedir = $(includedir)/vmig
vmiginclude_HEADERS = include/vmig/backend.h include/vmig/client.h
nodist_vmiginclude_HEADERS = proto/vmig.pb-c.h

protodir = $(pkgdatadir)/proto
proto_DATA = proto/vmig.proto proto/stream.proto

pkgconfigdir = $(libdir)/pkgconfig
pkgconfig_DATA = include/vmigclient.pc include/vmig-backend.pc
EXTRA_DIST += include/vmigclient.pc.in include/vmig-backend.pc.in
CLEANFILES += $(pkgconfig_DATA)
# Substituted at make time (as the unit is): the directories are final then.
include/vmigclient.pc include/vmig-backend.pc: Makefile
	$(AM_V_GEN)$(MKDIR_P) include && \
	sed -e 's|@prefix[@]|$(prefix)|g' \
	    -e 's|@libdir[@]|$(libdir)|g' \
	    -e 's|@includedir[@]|$(includedir)|g' \
	    -e 's|@protodir[@]|$(protodir)|g' \
	    -e 's|@plugindir[@]|$(plugindir)|g' \
	    -e 's|@VERSION[@]|$(VERSION)|g' \
	    $(srcdir)/$@.in > $@.tmp && mv $@.tmp $@
include/vmigclient.pc: $(srcdir)/include/vmigclient.pc.in
include/vmig-backend.pc: $(srcdir)/include/vmig-backend.pc.in

# The install, tested: a DESTDIR install, then a tiny plugin and a tiny
# client built against it alone, run with the installed vmigd, vmigctl
# and Python package.
INSTALL_PY_TESTS = test/integration/test_install.py
TESTS += $(INSTALL_PY_TESTS)
EXTRA_DIST += $(INSTALL_PY_TESTS) test/install/tiny_plugin.c \
	test/install/tiny_client.c
AM_TESTS_ENVIRONMENT += VMIG_CC='$(CC)'; export VMIG_CC; \
	VMIG_SAN_CFLAGS='$(SAN_CFLAGS)'; export VMIG_SAN_CFLAGS;
