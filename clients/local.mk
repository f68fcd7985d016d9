# clients/local.mk: the C client library, vmigctl, and the Python client's
# generated protobuf classes.

# libvmigclient: the C client (vmig/client.h) with the control API's
# codecs (vmig.pb-c.c), installed for third-party clients
# (include/local.mk installs the headers and vmigclient.pc). Position
# independent, so that it also links into shared objects.
lib_LIBRARIES += clients/libvmigclient.a
clients_libvmigclient_a_SOURCES = clients/client.c include/vmig/client.h
nodist_clients_libvmigclient_a_SOURCES = proto/vmig.pb-c.c proto/vmig.pb-c.h
clients_libvmigclient_a_CPPFLAGS = $(AM_CPPFLAGS) $(PROTOBUF_C_CFLAGS)
clients_libvmigclient_a_CFLAGS = $(AM_CFLAGS) -fPIC
# vmigctl's protobuf -> JSON printer (not part of the installed client).
noinst_LIBRARIES += clients/libvmigjson.a
clients_libvmigjson_a_SOURCES = clients/json.c clients/json.h
clients_libvmigjson_a_CPPFLAGS = $(AM_CPPFLAGS) $(PROTOBUF_C_CFLAGS)
VMIG_CLIENT_LIBS = clients/libvmigjson.a clients/libvmigclient.a \
	libvmigproto.a $(PROTOBUF_C_LIBS) $(NNG_LIBS) $(LIBS)

# vmigctl: one file per command group (vmigctl_*.c), commands in a table.
bin_PROGRAMS += clients/vmigctl
clients_vmigctl_SOURCES = clients/vmigctl.c clients/vmigctl.h \
	clients/vmigctl_info.c clients/vmigctl_watch.c clients/vmigctl_job.c \
	clients/vmigctl_top.c clients/vmigctl_man.c doc/mdoc.c doc/mdoc.h
clients_vmigctl_CPPFLAGS = $(AM_CPPFLAGS) $(PROTOBUF_C_CFLAGS) -I$(srcdir)/doc
clients_vmigctl_LDADD = $(VMIG_CLIENT_LIBS) common/libvmigcommon.a

# vmigctl's command line (numbers, options, --help, --json streams),
# against a dead URL, a test daemon and a real migration.
CLIENT_PY_TESTS = test/integration/test_vmigctl.py
TESTS += $(CLIENT_PY_TESTS)
EXTRA_DIST += $(CLIENT_PY_TESTS)

# Python client: the package is in the source tree, the classes protoc
# generates go to the build tree (clients/python/vmig_pb2.py), which is on
# PYTHONPATH for make check. stream_pb2.py (the peer stream) is for the
# tests that play a hostile peer (test/integration/streampeer.py).
PY_CLIENT_GEN = clients/python/vmig_pb2.py clients/python/stream_pb2.py
noinst_DATA += $(PY_CLIENT_GEN)
CLEANFILES += $(PY_CLIENT_GEN)
# Installed as the package vmig in $(vmigpythondir) (configure
# --with-pythondir), with vmig_pb2.py inside it.
pyvmigdir = $(vmigpythondir)/vmig
dist_pyvmig_DATA = clients/python/vmig/__init__.py clients/python/vmig/_nng.py \
	clients/python/vmig/client.py clients/python/vmig/errors.py \
	clients/python/vmig/migrate.py
nodist_pyvmig_DATA = clients/python/vmig_pb2.py
clients/python/vmig_pb2.py: $(srcdir)/proto/vmig.proto
	$(AM_V_GEN)$(MKDIR_P) clients/python && \
	$(PROTOC) --proto_path=$(srcdir)/proto --python_out=clients/python \
	    $(srcdir)/proto/vmig.proto
clients/python/stream_pb2.py: $(srcdir)/proto/stream.proto
	$(AM_V_GEN)$(MKDIR_P) clients/python && \
	$(PROTOC) --proto_path=$(srcdir)/proto --python_out=clients/python \
	    $(srcdir)/proto/stream.proto

clean-local: clean-local-clients
clean-local-clients:
	-rm -rf clients/python/__pycache__ clients/python/vmig/__pycache__
.PHONY: clean-local-clients

# vmigctl top in a real terminal (tmux), as a person sees it; the
# orchestrator's side (python3 -m vmig.migrate) against simulated hosts.
CLIENTS_PY_TESTS = test/integration/test_top.py \
	test/integration/test_orchestrator.py
TESTS += $(CLIENTS_PY_TESTS)
EXTRA_DIST += $(CLIENTS_PY_TESTS)
