/*
 * fuzz_devctx.c: the device-context TLV parser and its streaming end
 * tracker. Properties beyond "no crash": the tracker, fed the same bytes
 * in any chunking, finds the same end; an image the parser accepts,
 * rebuilt field by field, comes out byte for byte.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devctx.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static size_t
track(const uint8_t *d, size_t n, size_t chunk, int *state)
{
	struct va_ctx_tracker	t;
	char			err[256];
	size_t			off, end;
	int			rc;

	va_ctx_track_init(&t);
	for (off = 0; off < n; off += chunk) {
		rc = va_ctx_track(&t, d + off, n - off < chunk ? n - off : chunk,
		    &end, err, sizeof(err));
		if (rc != 0) {
			*state = rc;
			return (rc == 1 ? off + end : 0);
		}
	}
	*state = 0;
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct va_ctx_iter	 it;
	struct va_ctx_field	 f;
	struct va_ctx_buf	 b;
	const uint8_t		*img;
	uint8_t			*copy, *v;
	char			 err[256];
	size_t			 n, e1, e2;
	int			 s1, s2, rc;
	long			 len;

	if (size < 1)
		return (0);
	img = data + 1;
	n = size - 1;

	/* Same end whatever the chunking. */
	e1 = track(img, n, 1 + data[0] % 61, &s1);
	e2 = track(img, n, n > 0 ? n : 1, &s2);
	if (s1 != s2 || e1 != e2)
		abort();
	if (va_ctx_validate(img, n, err, sizeof(err)) != 0)
		return (0);
	/* The tracker must agree that the image ends exactly there. */
	if (s1 != 1 || e1 != n)
		abort();
	/* Rebuild it field by field: the same bytes. */
	copy = malloc(n > 0 ? n : 1);
	va_ctx_begin(&b, copy, n);
	if (va_ctx_iter_init(&it, img, n, err, sizeof(err)) != 0)
		abort();
	while ((rc = va_ctx_iter_next(&it, &f, err, sizeof(err))) == 1) {
		v = va_ctx_add(&b, f.type, f.flags, f.length);
		if (v == NULL)
			abort();
		memcpy(v, f.value, (size_t)f.length);
	}
	len = va_ctx_end(&b);
	if (rc != 0 || len != (long)n || memcmp(copy, img, n) != 0)
		abort();
	free(copy);
	return (0);
}
