# daemon/security.mk: who may call the control API (authz.c), the TLS
# configurations built from the [security] files (tls.c) on nng's TLS
# engine or on OpenSSL's (tls_openssl.c), and a probe that
# says why a handshake fails (tlsprobe.c), the sealed data connections
# of a TLS job (dseal.c: a TLS 1.3 handshake, then AES-GCM records keyed
# from it, so pages skip nng's TLS rings), and where a
# daemon may send a VM's memory (peerpol.c, pure). README.md, "Security".
libvmig_a_SOURCES += daemon/authz.c daemon/authz.h \
	daemon/tls.c daemon/tls.h daemon/tls_openssl.c \
	daemon/dseal.c daemon/dseal.h \
	daemon/tlsprobe.c daemon/tlsprobe.h \
	daemon/peerpol.c daemon/peerpol.h

# Who may call the real vmigd: another uid over ipc://, read-only and full
# groups, plain tcp:// refused, client certificates over tls+tcp:// (made
# at test time with openssl by certs.py), a reload of the client CA; a
# migration over the mutual-TLS peer link, and the certificates it refuses.
SECURITY_PY_TESTS = test/integration/test_security.py \
	test/integration/test_migration_tls.py
TESTS += $(SECURITY_PY_TESTS)
EXTRA_DIST += $(SECURITY_PY_TESTS) test/integration/certs.py

if HAVE_CRITERION
check_PROGRAMS += test/unit/test_authz test/unit/test_peerpol \
	test/unit/test_tls test/unit/test_dseal
TESTS += test/unit/test_authz test/unit/test_peerpol test/unit/test_tls \
	test/unit/test_dseal
test_unit_test_tls_SOURCES = test/unit/test_tls.c test/unit/testid.c \
	test/unit/testid.h
test_unit_test_dseal_SOURCES = test/unit/test_dseal.c test/unit/testid.c \
	test/unit/testid.h
test_unit_test_dseal_CPPFLAGS = $(libvmig_a_CPPFLAGS) $(CRITERION_CFLAGS)
test_unit_test_dseal_LDADD = $(VMIG_LIBS) $(CRITERION_LIBS)
test_unit_test_tls_CPPFLAGS = $(libvmig_a_CPPFLAGS) $(CRITERION_CFLAGS)
test_unit_test_tls_LDADD = $(VMIG_LIBS) $(CRITERION_LIBS)
test_unit_test_peerpol_SOURCES = test/unit/test_peerpol.c
test_unit_test_peerpol_CPPFLAGS = $(libvmig_a_CPPFLAGS) $(CRITERION_CFLAGS)
test_unit_test_peerpol_LDADD = $(VMIG_LIBS) $(CRITERION_LIBS)
test_unit_test_authz_SOURCES = test/unit/test_authz.c
test_unit_test_authz_CPPFLAGS = $(libvmig_a_CPPFLAGS) $(CRITERION_CFLAGS)
test_unit_test_authz_LDADD = $(VMIG_LIBS) $(CRITERION_LIBS)
endif
