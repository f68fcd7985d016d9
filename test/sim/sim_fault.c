/*
 * sim_fault.c: faults injected into the admin queue for tests, from the
 * command line (--fault) or the control channel (fault ...):
 *
 *	fail op=OP status=S [qualifier=Q] [count=N] [vf=V]
 *	delay op=OP ms=T [count=N] [vf=V]
 *	drop op=OP [count=N] [vf=V]	(never completed)
 *	more max=N [vf=V]		(records per read: the driver reads again)
 *	lost [vf=V]			(next read reports lost records)
 *	clear
 *
 * OP is a name from the command table (DEV_MODE_SET) or a number (0x8).
 * count defaults to forever for fail and delay, to 1 for drop.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "sim.h"

static const char *const fault_names[] = {
	[SIM_FAULT_FAIL] = "fail",
	[SIM_FAULT_DELAY] = "delay",
	[SIM_FAULT_DROP] = "drop",
};

static int
parse_op(struct sim *sim, const char *s, uint16_t *op)
{
	const struct va_opinfo *oi;
	uint64_t	 v;

	if ((oi = va_dialect_op_byname(sim->dl->d, s)) != NULL) {
		*op = oi->opcode;
		return (0);
	}
	if (sim_parse_u64(s, &v) == 0 && v <= 0xffff) {
		*op = (uint16_t)v;
		return (0);
	}
	return (-1);
}

/* For `more` and `lost`: one VF or all. */
static int
each_vf(struct sim *sim, unsigned int vf, char *err, size_t errlen)
{
	if (vf > sim->o.nvfs) {
		snprintf(err, errlen, "no VF %u (1..%u)", vf, sim->o.nvfs);
		return (-1);
	}
	return (0);
}

int
sim_fault_parse(struct sim *sim, int argc, char **argv, char *err,
    size_t errlen)
{
	struct sim_fault f, *nf;
	char		*key, *val;
	uint64_t	 v, max = 0;
	unsigned int	 i, lo, hi;
	int		 k, have_op = 0, have_status = 0, have_ms = 0;
	int		 more = 0, lost = 0;

	if (argc < 1) {
		snprintf(err, errlen, "fault: fail, delay, drop, more, lost "
		    "or clear");
		return (-EINVAL);
	}
	memset(&f, 0, sizeof(f));
	f.count = -1;
	if (strcmp(argv[0], "clear") == 0) {
		sim_fault_clear(sim);
		return (0);
	} else if (strcmp(argv[0], "fail") == 0)
		f.kind = SIM_FAULT_FAIL;
	else if (strcmp(argv[0], "delay") == 0)
		f.kind = SIM_FAULT_DELAY;
	else if (strcmp(argv[0], "drop") == 0) {
		f.kind = SIM_FAULT_DROP;
		f.count = 1;
	} else if (strcmp(argv[0], "more") == 0)
		more = 1;
	else if (strcmp(argv[0], "lost") == 0)
		lost = 1;
	else {
		snprintf(err, errlen, "unknown fault '%s' (fail, delay, drop, "
		    "more, lost, clear)", argv[0]);
		return (-EINVAL);
	}
	for (k = 1; k < argc; k++) {
		key = argv[k];
		if ((val = strchr(key, '=')) == NULL) {
			snprintf(err, errlen, "'%s' is not key=value", key);
			return (-EINVAL);
		}
		*val++ = '\0';
		if (strcmp(key, "op") == 0) {
			if (parse_op(sim, val, &f.opcode) != 0) {
				snprintf(err, errlen, "op=%s: not an opcode "
				    "name or number", val);
				return (-EINVAL);
			}
			have_op = 1;
			continue;
		}
		if (sim_parse_u64(val, &v) != 0) {
			snprintf(err, errlen, "%s=%s: not a number", key, val);
			return (-EINVAL);
		}
		if (strcmp(key, "status") == 0 && v <= 0xffff) {
			f.status = (uint16_t)v;
			have_status = 1;
		} else if (strcmp(key, "qualifier") == 0 && v <= 0xffff)
			f.qual = (uint16_t)v;
		else if (strcmp(key, "count") == 0 && v >= 1 && v <= INT32_MAX)
			f.count = (int)v;
		else if (strcmp(key, "vf") == 0 && v <= SIM_MAX_VFS)
			f.vf = (unsigned int)v;
		else if (strcmp(key, "ms") == 0 && v <= 600000) {
			f.ms = (unsigned int)v;
			have_ms = 1;
		} else if (strcmp(key, "max") == 0 && v <= UINT32_MAX)
			max = v;
		else {
			snprintf(err, errlen, "unknown or out-of-range key "
			    "%s=%s", key, val);
			return (-EINVAL);
		}
	}
	if (more || lost) {
		if (each_vf(sim, f.vf, err, errlen) != 0)
			return (-EINVAL);
		lo = f.vf == 0 ? 1 : f.vf;
		hi = f.vf == 0 ? sim->o.nvfs : f.vf;
		for (i = lo; i <= hi; i++) {
			if (more)
				sim->vfs[i - 1].more_max = (uint32_t)max;
			else
				sim->vfs[i - 1].lose_next = 1;
		}
		return (0);
	}
	if (!have_op) {
		snprintf(err, errlen, "%s needs op=", argv[0]);
		return (-EINVAL);
	}
	if (f.kind == SIM_FAULT_FAIL && (!have_status || f.status == 0)) {
		snprintf(err, errlen, "fail needs a non-zero status=");
		return (-EINVAL);
	}
	if (f.kind == SIM_FAULT_DELAY && !have_ms) {
		snprintf(err, errlen, "delay needs ms=");
		return (-EINVAL);
	}
	nf = xmalloc(sizeof(*nf));
	*nf = f;
	TAILQ_INSERT_TAIL(&sim->faults, nf, entry);
	log_info("%s: %s %s vf %u count %d", __func__, fault_names[f.kind],
	    va_dialect_op_name(sim->dl->d, f.opcode), f.vf, f.count);
	return (0);
}

struct sim_fault *
sim_fault_match(struct sim *sim, uint16_t opcode, uint64_t member)
{
	struct sim_fault *f;

	TAILQ_FOREACH(f, &sim->faults, entry) {
		if (f->opcode == opcode && (f->vf == 0 || f->vf == member))
			return (f);
	}
	return (NULL);
}

void
sim_fault_consume(struct sim *sim, struct sim_fault *f)
{
	f->hits++;
	sim->n_faulted++;
	if (f->count > 0 && --f->count == 0) {
		TAILQ_REMOVE(&sim->faults, f, entry);
		free(f);
	}
}

void
sim_fault_clear(struct sim *sim)
{
	struct sim_fault *f;
	unsigned int	 i;

	while ((f = TAILQ_FIRST(&sim->faults)) != NULL) {
		TAILQ_REMOVE(&sim->faults, f, entry);
		free(f);
	}
	for (i = 0; i < sim->o.nvfs; i++) {
		sim->vfs[i].more_max = 0;
		sim->vfs[i].lose_next = 0;
	}
}

size_t
sim_fault_list(struct sim *sim, char *buf, size_t len)
{
	struct sim_fault *f;
	size_t		 off = 0;
	int		 n;

	buf[0] = '\0';
	TAILQ_FOREACH(f, &sim->faults, entry) {
		n = snprintf(buf + off, len - off, "%s%s:op=%s,vf=%u,count=%d,"
		    "hits=%llu", off > 0 ? " " : "", fault_names[f->kind],
		    va_dialect_op_name(sim->dl->d, f->opcode), f->vf, f->count,
		    (unsigned long long)f->hits);
		if (n < 0 || (size_t)n >= len - off)
			break;
		off += (size_t)n;
	}
	return (off);
}
