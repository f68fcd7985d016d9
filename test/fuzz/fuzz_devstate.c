/*
 * fuzz_devstate.c: the canonical device state decoder, and every dialect's
 * converter fed what it accepted. Properties beyond "no crash": an image
 * the decoder accepts encodes back to the same bytes (the form is
 * canonical), and what a dialect's from_canon produces, that dialect's
 * to_canon accepts.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dialect.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vds	 s, t, base;
	static uint8_t		 out[1 << 20], img[1 << 20];
	static uint8_t		 common[64];
	const struct va_dialect	*ds[] = { &va_dialect_draft,
	    &va_dialect_v14, &va_dialect_cvq };
	char			 err[256];
	uint32_t		 total;
	long			 n;
	size_t			 i;

	(void)vds_peek_length(data, size, &total, err, sizeof(err));
	if (vds_decode(data, size, &s, err, sizeof(err)) != 0)
		return (0);
	n = vds_encode(&s, out, sizeof(out), err, sizeof(err));
	if (n != (long)size || memcmp(out, data, size) != 0)
		abort();
	vds_common_full(&s, NULL, common);
	/* The state as its own base: what a destination of itself sees. */
	base = s;
	for (i = 0; i < 3; i++) {
		n = ds[i]->from_canon(&s, &base, img, sizeof(img), err,
		    sizeof(err));
		if (n < 0)
			continue;
		if (ds[i]->to_canon(img, (size_t)n, s.device_type, &t, err,
		    sizeof(err)) != 0) {
			fprintf(stderr, "%s: its from_canon wrote what its "
			    "to_canon refuses: %s\n", ds[i]->name, err);
			abort();
		}
		if (vds_encode(&t, out, sizeof(out), err, sizeof(err)) < 0)
			abort();
	}
	return (0);
}
