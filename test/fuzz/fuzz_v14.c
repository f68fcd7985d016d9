/*
 * fuzz_v14.c: the virtio 1.4 codecs a device's answers reach: the parts
 * iterator (and the converter to the canonical form of what it accepts,
 * and back), every command result decoder, the admin framing, and the
 * dialect's operations run against fuzzed answers (fuzz_ops.h).
 * Byte 0 picks where the input goes.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dialect.h"
#include "v14.h"
#include "fuzz_ops.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vds	 s;
	static uint8_t		 img[1 << 20];
	struct va_dres		 r;
	const uint8_t		*h;
	size_t			 nh;
	uint32_t		 id, v;
	uint16_t		 t16;
	uint8_t			 t, g, st;
	char			 err[256];
	int			 has, stopped;
	long			 n;

	if (size < 1)
		return (0);
	switch (data[0] % 3) {
	case 0:
		if (va_dialect_v14.to_canon(data + 1, size - 1, 1, &s, err,
		    sizeof(err)) != 0)
			break;
		n = va_dialect_v14.from_canon(&s, NULL, img, sizeof(img), err,
		    sizeof(err));
		if (n >= 0 && v14_parts_validate(img, (size_t)n, err,
		    sizeof(err)) != 0)
			abort();
		break;
	case 1:
		data++;
		size--;
		(void)v14_caps_get(data, size, (uint16_t)size, &has, err,
		    sizeof(err));
		(void)v14_parts_cap_get(data, size, &g, &st, err, sizeof(err));
		(void)v14_cap_set_get(data, size, &t16, &g, &st, err,
		    sizeof(err));
		(void)v14_obj_hdr_get(data, size, &t16, &id, err, sizeof(err));
		(void)v14_obj_create_get(data, size, &id, &t, err, sizeof(err));
		(void)v14_meta_get(data, size, &id, &t, err, sizeof(err));
		(void)v14_meta_value(data, size, &v, err, sizeof(err));
		if (v14_meta_list(data, size, &v, &h, err, sizeof(err)) == 0 &&
		    h + (size_t)v * V14_PART_HDR_LEN > data + size)
			abort();
		if (v14_get_get(data, size, &id, &t, &h, &nh, err,
		    sizeof(err)) == 0 && h + nh * V14_PART_HDR_LEN >
		    data + size)
			abort();
		(void)v14_mode_get(data, size, &stopped, err, sizeof(err));
		if (va_frame_in(VA_FRAME_ADMIN, data, size, size / 2, &r, err,
		    sizeof(err)) == 0 && r.result + r.result_len > data + size)
			abort();
		break;
	default:
		fuzz_ops(&va_dialect_v14, data + 1, size - 1);
		break;
	}
	return (0);
}
