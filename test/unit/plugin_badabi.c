/*
 * plugin_badabi.c: a backend built for another ABI major (1, whose pf_open
 * blocked): vmigd must refuse it, say why, and show a PF that names it
 * offline with that reason.
 */
#include "config.h"

#include "vmig/backend.h"

static int
bad_init(const struct vmig_host *host, void **priv)
{
	/* Never called: the loader refuses us first. */
	return (-1);
}

const struct vmig_backend vmig_backend = {
	.abi_major = 1,
	.abi_minor = 0,
	.name = "badabi",
	.version = "1.0",
	.description = "built for backend ABI 1",
	.init = bad_init,
};
