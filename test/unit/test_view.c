/*
 * test_view.c: the jobs' view for the RPC fast lane: copies in and out,
 * ids in any order, replace and delete, a missing id, and readers on
 * other threads while the writer replaces and deletes (every read is one
 * whole version, never a torn or freed one).
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include "log.h"
#include "util.h"
#include "view.h"
#include "leakcheck.h"

static void *
bytes(int fill, size_t len)
{
	void	*p = xmalloc(len > 0 ? len : 1);

	memset(p, fill, len);
	return (p);
}

static void
expect(struct view *w, uint64_t id, int fill, size_t len)
{
	void		*buf;
	size_t		 n, i;

	cr_assert_eq(view_get(w, id, &buf, &n), 0, "id %llu missing",
	    (unsigned long long)id);
	cr_assert_eq(n, len);
	for (i = 0; i < n; i++)
		cr_assert_eq(((uint8_t *)buf)[i], (uint8_t)fill);
	free(buf);
}

Test(view, put_get_replace_delete)
{
	struct view	*w = view_new();
	void		*buf;
	size_t		 n;

	/* out of order on purpose: the lookup must not assume appends */
	view_put(w, 7, bytes(7, 70), 70);
	view_put(w, 3, bytes(3, 30), 30);
	view_put(w, 9, bytes(9, 90), 90);
	view_put(w, 5, bytes(5, 50), 50);
	cr_assert_eq(view_count(w), 4);
	expect(w, 3, 3, 30);
	expect(w, 5, 5, 50);
	expect(w, 7, 7, 70);
	expect(w, 9, 9, 90);
	cr_assert_eq(view_get(w, 4, &buf, &n), -ENOENT);
	cr_assert_eq(view_get(w, 10, &buf, &n), -ENOENT);

	view_put(w, 5, bytes(0x55, 5), 5);	/* replaced, not added */
	cr_assert_eq(view_count(w), 4);
	expect(w, 5, 0x55, 5);

	view_del(w, 3);
	view_del(w, 9);
	view_del(w, 42);			/* absent: nothing happens */
	cr_assert_eq(view_count(w), 2);
	cr_assert_eq(view_get(w, 3, &buf, &n), -ENOENT);
	expect(w, 5, 0x55, 5);
	expect(w, 7, 7, 70);

	view_put(w, 11, bytes(0, 0), 0);	/* an empty job is a job */
	expect(w, 11, 0, 0);
	view_free(w);
	LEAK_CHECK();
}

#define READERS		2
#define ROUNDS		20000

struct reader {
	struct view	*w;
	volatile int	*stop;
	int		 torn;
	unsigned int	 reads;
};

static void
reader_run(void *arg)
{
	struct reader	*r = arg;
	void		*buf;
	size_t		 n, i;

	while (!*r->stop) {
		if (view_get(r->w, 1, &buf, &n) != 0)
			continue;
		/* a version is len bytes of the value len % 251 */
		for (i = 0; i < n; i++) {
			if (((uint8_t *)buf)[i] != (uint8_t)(n % 251))
				r->torn++;
		}
		free(buf);
		r->reads++;
	}
}

Test(view, readers_see_whole_versions)
{
	struct view	*w = view_new();
	struct reader	 r[READERS];
	nng_thread	*t[READERS];
	volatile int	 stop = 0;
	size_t		 len;
	int		 i, k;

	log_init(LOG_LEVEL_ERROR, "test_view");
	for (k = 0; k < READERS; k++) {
		memset(&r[k], 0, sizeof(r[k]));
		r[k].w = w;
		r[k].stop = &stop;
		cr_assert_eq(nng_thread_create(&t[k], reader_run, &r[k]), 0);
	}
	for (i = 0; i < ROUNDS; i++) {
		len = 1 + (size_t)(i * 37) % 4000;
		view_put(w, 1, bytes((int)(len % 251), len), len);
		if (i % 100 == 0)
			view_del(w, 1);
	}
	stop = 1;
	for (k = 0; k < READERS; k++) {
		nng_thread_destroy(t[k]);
		cr_assert_eq(r[k].torn, 0, "reader %d saw a torn copy", k);
	}
	view_free(w);
	LEAK_CHECK();
}
