# daemon/state.mk: what outlives the daemon under the state directory:
# the per-job undo journal, the finished-job history, and the pure
# crash-recovery rules that read them (DESIGN.md, "Crash recovery").
libvmig_a_SOURCES += daemon/journal.c daemon/journal.h \
	daemon/history.c daemon/history.h \
	daemon/recover.c daemon/recover.h \
	daemon/restart.c daemon/restart.h

if HAVE_CRITERION
STATE_UNIT_TESTS = test/unit/test_journal test/unit/test_history \
	test/unit/test_recover
check_PROGRAMS += $(STATE_UNIT_TESTS)
TESTS += $(STATE_UNIT_TESTS)
STATE_UNIT_CPPFLAGS = $(libvmig_a_CPPFLAGS) $(CRITERION_CFLAGS)
STATE_UNIT_LDADD = $(VMIG_LIBS) $(CRITERION_LIBS)
test_unit_test_journal_SOURCES = test/unit/test_journal.c
test_unit_test_journal_CPPFLAGS = $(STATE_UNIT_CPPFLAGS)
test_unit_test_journal_LDADD = $(STATE_UNIT_LDADD)
test_unit_test_history_SOURCES = test/unit/test_history.c
test_unit_test_history_CPPFLAGS = $(STATE_UNIT_CPPFLAGS)
test_unit_test_history_LDADD = $(STATE_UNIT_LDADD)
test_unit_test_recover_SOURCES = test/unit/test_recover.c
test_unit_test_recover_CPPFLAGS = $(STATE_UNIT_CPPFLAGS)
test_unit_test_recover_LDADD = $(STATE_UNIT_LDADD)
endif

# libFuzzer harness (make fuzz): the journal's and the history's record
# decoders, everything a file in the state directory can hand them.
STATE_FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -I. -I$(builddir)/proto \
	-I$(srcdir)/include -iquote $(srcdir)/daemon $(PROTOBUF_C_CFLAGS) \
	$(XXHASH_CFLAGS)
FUZZ_TARGETS += fuzz/fuzz_journal
CLEANFILES += fuzz/fuzz_journal
EXTRA_DIST += test/fuzz/fuzz_journal.c
FUZZ_JOURNAL_SRCS = $(srcdir)/test/fuzz/fuzz_journal.c \
	$(srcdir)/daemon/journal.c $(srcdir)/daemon/history.c \
	$(srcdir)/daemon/recover.c $(srcdir)/daemon/util.c \
	$(srcdir)/daemon/log.c proto/vmig.pb-c.c
fuzz/fuzz_journal: $(FUZZ_JOURNAL_SRCS)
	$(AM_V_GEN)$(MKDIR_P) fuzz && $(CLANG) $(STATE_FUZZ_FLAGS) -o $@ \
	$(FUZZ_JOURNAL_SRCS) $(PROTOBUF_C_LIBS) $(XXHASH_LIBS)

# Benchmark (make bench): a journal record's cost beside a plain
# write + rename of the same bytes, with and without fsync.
EXTRA_PROGRAMS += test/bench/journal_cost
BENCH_BINS += test/bench/journal_cost
test_bench_journal_cost_SOURCES = test/bench/journal_cost.c
test_bench_journal_cost_CPPFLAGS = $(libvmig_a_CPPFLAGS)
test_bench_journal_cost_LDADD = $(VMIG_LIBS)

# The state directory of the real vmigd (Python, vmigtest.py).
STATE_PY_TESTS = test/integration/test_state.py
TESTS += $(STATE_PY_TESTS)
EXTRA_DIST += $(STATE_PY_TESTS)
