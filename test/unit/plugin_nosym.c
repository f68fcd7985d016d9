/*
 * plugin_nosym.c: a shared object in the plugin directory that is not a
 * backend (no vmig_backend symbol): vmigd must refuse it and go on.
 */
#include "config.h"

int	not_a_backend(void);

int
not_a_backend(void)
{
	return (42);
}
