# common/local.mk: code that vmigd and its clients both link, and that
# needs nothing but libc, so linking it never drags the daemon (libvmig.a)
# into a client: the byte formatter of reasons and tables (fmt.c).
noinst_LIBRARIES += common/libvmigcommon.a
common_libvmigcommon_a_SOURCES = common/fmt.c common/fmt.h

if HAVE_CRITERION
check_PROGRAMS += test/unit/test_fmt
TESTS += test/unit/test_fmt
test_unit_test_fmt_SOURCES = test/unit/test_fmt.c
test_unit_test_fmt_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
test_unit_test_fmt_LDADD = common/libvmigcommon.a $(CRITERION_LIBS)
endif
