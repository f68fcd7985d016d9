/*
 * test_fmt.c: common/fmt.c, the byte formatter vmigd's reasons and
 * vmigctl's output share: unit boundaries, decimals per unit, rates, and
 * buffers too small for the text.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "fmt.h"

struct fcase {
	double		 n;
	const char	*bytes;
	const char	*rate;
};

static const struct fcase cases[] = {
	{ 0, "0 B", "0 B/s" },
	{ 1023, "1023 B", "1023 B/s" },
	{ 1024, "1.0 KiB", "1.0 KiB/s" },
	{ 1536, "1.5 KiB", "1.5 KiB/s" },
	{ 1024.0 * 1024 - 1, "1024.0 KiB", "1024.0 KiB/s" },
	{ 1024.0 * 1024, "1.0 MiB", "1.0 MiB/s" },
	{ 16.0 * 1024 * 1024, "16.0 MiB", "16.0 MiB/s" },
	{ 1024.0 * 1024 * 1024, "1.00 GiB", "1.00 GiB/s" },
	{ 1.5 * 1024 * 1024 * 1024, "1.50 GiB", "1.50 GiB/s" },
	/* no TiB: the daemon's reasons never had one */
	{ 2048.0 * 1024 * 1024 * 1024, "2048.00 GiB", "2048.00 GiB/s" },
	{ 18446744073709551615.0, "17179869184.00 GiB",
	  "17179869184.00 GiB/s" },
};

Test(fmt, bytes_and_rates)
{
	char	buf[64];
	size_t	i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_expect_str_eq(fmt_bytes(buf, sizeof(buf), cases[i].n),
		    cases[i].bytes, "%.0f bytes", cases[i].n);
		cr_expect_str_eq(fmt_rate(buf, sizeof(buf), cases[i].n),
		    cases[i].rate, "%.0f bytes/s", cases[i].n);
	}
}

Test(fmt, small_buffers_are_cut_and_terminated)
{
	char	buf[8];

	memset(buf, 'x', sizeof(buf));
	cr_expect_str_eq(fmt_bytes(buf, 5, 1.5 * 1024 * 1024), "1.5 ");
	cr_expect_eq(buf[5], 'x', "nothing written past len");
	cr_expect_str_eq(fmt_rate(buf, 4, 1536), "1.5");
	cr_expect_eq(fmt_bytes(NULL, 0, 1), NULL);
	cr_expect_eq(fmt_rate(buf, 0, 1), buf);
}
