# daemon/data.mk: the data plane — page sets, guest memory, stream frames,
# the nng peer link, its data connections, page transfer, the bandwidth
# token bucket.
libvmig_a_SOURCES += daemon/pageset.c daemon/pageset.h \
	daemon/memory.c daemon/memory.h \
	daemon/frame.c daemon/frame.h \
	daemon/stream.c daemon/stream.h \
	daemon/xfer.c daemon/xfer.h \
	daemon/datalink.c daemon/datalink.h \
	daemon/compress.c daemon/compress.h \
	daemon/tbucket.c daemon/tbucket.h

# Unit tests (Criterion), each linking the real modules from libvmig.a.
if HAVE_CRITERION
DATA_TESTS =
DATA_TEST_CPPFLAGS = $(libvmig_a_CPPFLAGS)
DATA_TEST_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
DATA_TEST_LDADD = $(VMIG_LIBS) $(CRITERION_LIBS)
DATA_TESTS += test/unit/test_pageset
test_unit_test_pageset_CPPFLAGS = $(DATA_TEST_CPPFLAGS)
test_unit_test_pageset_CFLAGS = $(DATA_TEST_CFLAGS)
test_unit_test_pageset_LDADD = $(DATA_TEST_LDADD)
DATA_TESTS += test/unit/test_memory
test_unit_test_memory_CPPFLAGS = $(DATA_TEST_CPPFLAGS)
test_unit_test_memory_CFLAGS = $(DATA_TEST_CFLAGS)
test_unit_test_memory_LDADD = $(DATA_TEST_LDADD)
DATA_TESTS += test/unit/test_frame
test_unit_test_frame_CPPFLAGS = $(DATA_TEST_CPPFLAGS)
test_unit_test_frame_CFLAGS = $(DATA_TEST_CFLAGS)
test_unit_test_frame_LDADD = $(DATA_TEST_LDADD)
DATA_TESTS += test/unit/test_stream
test_unit_test_stream_CPPFLAGS = $(DATA_TEST_CPPFLAGS)
test_unit_test_stream_CFLAGS = $(DATA_TEST_CFLAGS)
test_unit_test_stream_LDADD = $(DATA_TEST_LDADD)
DATA_TESTS += test/unit/test_xfer
test_unit_test_xfer_CPPFLAGS = $(DATA_TEST_CPPFLAGS)
test_unit_test_xfer_CFLAGS = $(DATA_TEST_CFLAGS)
test_unit_test_xfer_LDADD = $(DATA_TEST_LDADD)
DATA_TESTS += test/unit/test_compress
test_unit_test_compress_CPPFLAGS = $(DATA_TEST_CPPFLAGS)
test_unit_test_compress_CFLAGS = $(DATA_TEST_CFLAGS)
test_unit_test_compress_LDADD = $(DATA_TEST_LDADD)
DATA_TESTS += test/unit/test_datalink
test_unit_test_datalink_SOURCES = test/unit/test_datalink.c test/unit/testid.c \
	test/unit/testid.h
test_unit_test_datalink_CPPFLAGS = $(DATA_TEST_CPPFLAGS)
test_unit_test_datalink_CFLAGS = $(DATA_TEST_CFLAGS)
test_unit_test_datalink_LDADD = $(DATA_TEST_LDADD)
check_PROGRAMS += $(DATA_TESTS)
TESTS += $(DATA_TESTS)
endif

# Migrations with compression on, off, and over random memory.
DATA_PY_TESTS = test/integration/test_migration_compress.py
TESTS += $(DATA_PY_TESTS)
EXTRA_DIST += $(DATA_PY_TESTS)

# libFuzzer harness (clang), built by `make fuzz`: frame decode, validation
# against a fixed layout, and an apply that trusts only the validation.
DATA_FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -I. -I$(builddir)/proto \
	-I$(srcdir)/include -I$(srcdir)/daemon $(PROTOBUF_C_CFLAGS)
FUZZ_TARGETS += fuzz/fuzz_frame
CLEANFILES += fuzz/fuzz_frame
EXTRA_DIST += test/fuzz/fuzz_frame.c
fuzz/fuzz_frame: $(srcdir)/test/fuzz/fuzz_frame.c $(srcdir)/daemon/frame.c \
	$(srcdir)/daemon/delta.c \
	$(srcdir)/daemon/util.c $(srcdir)/daemon/log.c proto/stream.pb-c.c
	$(AM_V_GEN)$(MKDIR_P) fuzz && $(CLANG) $(DATA_FUZZ_FLAGS) -o $@ \
	$(srcdir)/test/fuzz/fuzz_frame.c $(srcdir)/daemon/frame.c \
	$(srcdir)/daemon/delta.c $(srcdir)/daemon/util.c \
	$(srcdir)/daemon/log.c proto/stream.pb-c.c $(PROTOBUF_C_LIBS)

# Benchmark (make bench): stream + xfer between two processes beside iperf3.
EXTRA_PROGRAMS += test/bench/stream_throughput
BENCH_BINS += test/bench/stream_throughput
test_bench_stream_throughput_SOURCES = test/bench/stream_throughput.c
test_bench_stream_throughput_CPPFLAGS = $(libvmig_a_CPPFLAGS)
test_bench_stream_throughput_LDADD = $(VMIG_LIBS)
