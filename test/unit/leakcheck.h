/*
 * leakcheck.h: LEAK_CHECK() at the end of a Criterion test body.
 *
 * Under ASan, LeakSanitizer's report at process exit does not fail a
 * Criterion test (c-stack-notes.md, 3); a recoverable check inside the
 * body does. Criterion's own runner leak is suppressed for every binary
 * by test/lsan.supp (LSAN_OPTIONS in Makefile.am).
 */
#ifndef VMIG_TEST_LEAKCHECK_H
#define VMIG_TEST_LEAKCHECK_H

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#define LEAK_CHECK()	cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, \
			    "memory leaked (see the LeakSanitizer report)")
#else
#define LEAK_CHECK()	do { } while (0)
#endif

#endif /* VMIG_TEST_LEAKCHECK_H */
