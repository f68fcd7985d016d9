/*
 * fuzz_rpc.c: libFuzzer harness for what a hostile caller or a hostile
 * daemon can send: the daemon's request decoder and checks (rpc_decode),
 * and vmigctl's JSON printer over any decodable Response.
 *
 *	make fuzz && fuzz/fuzz_rpc -max_total_time=60 CORPUS_DIR
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "json.h"
#include "log.h"
#include "rpc.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE		*devnull;
	Vmig__V1__Request	*req;
	Vmig__V1__Response	*resp;
	Vmig__V1__StatusCode	 code;
	uint64_t		 id;
	char			 err[512];

	if (devnull == NULL) {
		log_init(LOG_LEVEL_ERROR, "fuzz");
		devnull = fopen("/dev/null", "w");
	}
	req = rpc_decode(data, size, 1 << 20, &id, &code, err, sizeof(err));
	if (req != NULL)
		vmig__v1__request__free_unpacked(req, NULL);
	resp = vmig__v1__response__unpack(NULL, size, data);
	if (resp != NULL) {
		json_print_message(devnull, &resp->base, 0);
		vmig__v1__response__free_unpacked(resp, NULL);
	}
	return (0);
}
