/*
 * sim_vf.c: one simulated virtio-net VF: its device state, the device
 * context image it is read from and restored to, its modes, its attached
 * guest memory and its write records.
 *
 * The image is a pure function of struct sim_devstate, built in one
 * canonical order, so restoring an image and reading it back gives the
 * same bytes. Applying an image parses it into a copy of the state and
 * swaps only when every field was accepted: a bad image leaves the VF as
 * it was.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "log.h"
#include "util.h"
#include "sim.h"

/* virtio-net feature bits the VF offers. */
#define F_CSUM		(1ULL << 0)
#define F_GUEST_CSUM	(1ULL << 1)
#define F_MAC		(1ULL << 5)
#define F_MRG_RXBUF	(1ULL << 15)
#define F_STATUS	(1ULL << 16)
#define F_CTRL_VQ	(1ULL << 17)
#define F_CTRL_RX	(1ULL << 18)
#define F_CTRL_VLAN	(1ULL << 19)
#define F_VERSION_1	(1ULL << 32)

static const char *const vq_names[SIM_NUM_VQS] = { "rx", "tx", "ctrl" };

void
sim_vf_init(struct sim *sim, struct sim_vf *vf, unsigned int id)
{
	struct sim_devstate *st = &vf->st;
	uint64_t	 feat;
	unsigned int	 i;

	memset(vf, 0, sizeof(*vf));
	vf->id = id;
	vf->mode = (uint8_t)sim_dl(sim)->active;
	vf->mem.fd = -1;
	feat = F_CSUM | F_GUEST_CSUM | F_MAC | F_MRG_RXBUF | F_STATUS |
	    F_CTRL_VQ | F_CTRL_RX | F_CTRL_VLAN | F_VERSION_1;
	st->features[0] = feat;
	st->features[1] = 0;
	/* The driver took every feature offered. */
	st->drv_features[0] = feat;
	st->drv_features[1] = 0;

	/* A driver that got as far as DRIVER_OK with three queues. */
	put_le32(st->common + 4, (uint32_t)feat);	/* device_feature */
	put_le32(st->common + 12, (uint32_t)feat);	/* driver_feature */
	put_le16(st->common + 16, 0);		/* config_msix_vector */
	put_le16(st->common + VA_COMMON_NUM_QUEUES, SIM_NUM_VQS);
	st->common[VA_COMMON_DEVICE_STATUS] = 0x0f;
	put_le16(st->common + 24, SIM_VQ_SIZE);	/* queue_size of queue 0 */

	/* struct virtio_net_config: mac, status, pairs, mtu, speed, duplex */
	st->devcfg[0] = 0x52;
	st->devcfg[1] = 0x54;
	st->devcfg[2] = 0x00;
	st->devcfg[3] = 0x5e;
	st->devcfg[4] = (uint8_t)(id >> 8);
	st->devcfg[5] = (uint8_t)id;
	put_le16(st->devcfg + 6, 1);		/* VIRTIO_NET_S_LINK_UP */
	put_le16(st->devcfg + 8, 1);
	put_le16(st->devcfg + 10, 1500);
	put_le32(st->devcfg + 12, 10000);
	st->devcfg[16] = 1;

	for (i = 0; i < SIM_NUM_VQS; i++) {
		st->vq[i].size = SIM_VQ_SIZE;
		st->vq[i].msix = (uint16_t)(i + 1);
		st->vq[i].desc = 0x40000000ULL + (uint64_t)i * 0x10000;
		st->vq[i].driver = st->vq[i].desc + 16 * SIM_VQ_SIZE;
		st->vq[i].device = st->vq[i].desc + 0x8000;
		st->vq[i].enabled = 1;
		st->vq[i].notify_off = (uint16_t)i;
		st->vq[i].notif_data = (uint16_t)i;
	}
	memcpy(st->cvq.mac, st->devcfg, 6);
	sim_dma_defaults(&st->dma, id);
}

void
sim_vf_reset_records(struct sim_vf *vf)
{
	unsigned int	i;

	vf->nrecs = 0;
	for (i = 0; i < vf->nranges; i++)
		vf->ranges[i].lost = 0;
	if (!vf->recording) {
		vf->nranges = 0;
		free(vf->recs);
		vf->recs = NULL;
	}
}

void
sim_vf_free(struct sim_vf *vf)
{
	/* The control-vq's dirty map, whichever dialect runs. */
	free(vf->track.map);
	memset(&vf->track, 0, sizeof(vf->track));
	sim_vf_detach(vf);
	free(vf->recs);
	free(vf->rd);
	free(vf->wr);
	vf->recs = NULL;
	vf->rd = vf->wr = NULL;
}

struct sim_vf *
sim_vf_get(struct sim *sim, uint64_t member)
{
	if (member == 0 || member > sim->o.nvfs)
		return (NULL);
	return (&sim->vfs[member - 1]);
}

/* ------------------------------------------------------------ context */

static void
put_vq_cfg(uint8_t *v, unsigned int i, const struct sim_vq *q)
{
	put_le16(v, (uint16_t)i);
	put_le16(v + 2, q->size);
	put_le16(v + 4, q->msix);
	put_le64(v + 8, q->desc);
	put_le64(v + 16, q->driver);
	put_le64(v + 24, q->device);
}

long
sim_vf_ctx_build(struct sim *sim, struct sim_vf *vf, uint8_t *buf,
    size_t cap)
{
	const struct sim_devstate *st = &vf->st;
	struct va_ctx_buf b;
	uint8_t		*v;
	unsigned int	 i, k, nmac;

	va_ctx_begin(&b, buf, cap);
	if ((v = va_ctx_add(&b, VA_CTX_PCI_COMMON_CFG, 0,
	    VA_CTX_COMMON_LEN)) != NULL)
		memcpy(v, st->common, VA_CTX_COMMON_LEN);
	if ((v = va_ctx_add(&b, VA_CTX_DEV_CFG_LAYOUT, 0,
	    SIM_DEVCFG_LEN)) != NULL)
		memcpy(v, st->devcfg, SIM_DEVCFG_LEN);
	if ((v = va_ctx_add(&b, VA_CTX_DEV_FEATURES, 0, 16)) != NULL) {
		put_le64(v, st->features[0]);
		put_le64(v + 8, st->features[1]);
	}
	for (i = 0; i < SIM_NUM_VQS; i++) {
		if ((v = va_ctx_add(&b, VA_CTX_PCI_VQ_CFG, 0,
		    VA_CTX_VQ_CFG_LEN)) != NULL)
			put_vq_cfg(v, i, &st->vq[i]);
	}
	for (i = 0; i < SIM_NUM_VQS; i++) {
		if ((v = va_ctx_add(&b, VA_CTX_VQ_SPLIT_RUNTIME, 0,
		    VA_CTX_VQ_RT_LEN)) != NULL) {
			put_le16(v, (uint16_t)i);
			put_le16(v + 2, st->vq[i].avail_idx);
			v[4] = st->vq[i].enabled;
		}
	}
	for (i = 0; i < SIM_NUM_VQS; i++) {
		if ((v = va_ctx_add(&b, VA_CTX_VQ_SPLIT_DEV_OWN_DESC, 0,
		    VA_CTX_OWN_DESC_HDR + 2 * st->vq[i].nown)) != NULL) {
			put_le16(v, (uint16_t)i);
			put_le16(v + 2, st->vq[i].nown);
			for (k = 0; k < st->vq[i].nown; k++)
				put_le16(v + 4 + 2 * k, st->vq[i].own[k]);
		}
	}
	nmac = st->cvq.uc + st->cvq.mc;
	if ((v = va_ctx_add(&b, VA_CTX_NET_CVQ_STATE, 0,
	    VA_CTX_CVQ_FIXED + 6 * nmac)) != NULL) {
		memcpy(v, st->cvq.mac, 6);
		put_le16(v + 6, st->cvq.rx_mode);
		memcpy(v + VA_CTX_CVQ_VLAN_OFF, st->cvq.vlan, 512);
		put_le32(v + VA_CTX_CVQ_UC_OFF, st->cvq.uc);
		put_le32(v + VA_CTX_CVQ_MC_OFF, st->cvq.mc);
		for (k = 0; k < nmac; k++)
			memcpy(v + VA_CTX_CVQ_FIXED + 6 * k, st->cvq.macs[k],
			    6);
	}
	if ((v = va_ctx_add(&b, VA_CTX_VENDOR_SIM_DMA, VA_CTX_F_OPTIONAL,
	    VA_CTX_SIM_DMA_LEN)) != NULL)
		sim_dma_ctx_put(&st->dma, v);
	(void)sim;
	return (va_ctx_end(&b));
}

/*
 * The digest of the VF's state as its dialect reads it, or (any) as the
 * draft's image lays it out, whatever the dialect: what a migration
 * between dialects must keep.
 */
int
sim_vf_ctx_digest(struct sim *sim, struct sim_vf *vf, uint64_t *out)
{
	return (sim_vf_state_digest(sim, vf, 0, out));
}

int
sim_vf_state_digest(struct sim *sim, struct sim_vf *vf, int any,
    uint64_t *out)
{
	long	 (*image)(struct sim *, struct sim_vf *, uint8_t *, size_t);
	uint8_t	*buf;
	long	 n;

	image = any ? sim_vf_plain.image : sim_dl(sim)->image;
	if ((n = image(sim, vf, NULL, 0)) < 0)
		return ((int)n);
	buf = xmalloc((size_t)n);
	if (image(sim, vf, buf, (size_t)n) != n) {
		free(buf);
		return (-EIO);
	}
	*out = XXH3_64bits(buf, (size_t)n);
	free(buf);
	return (0);
}

/* One field into the new state; semantic checks beyond the codec's. */
static int
apply_field(struct sim_devstate *ns, const struct sim_devstate *cur,
    const struct va_ctx_field *f, unsigned int *seen, char *err,
    size_t errlen)
{
	const uint8_t	*v = f->value;
	uint16_t	 q, n, k;
	uint32_t	 uc, mc;

	switch (f->type) {
	case VA_CTX_PCI_COMMON_CFG:
		if (get_le16(v + VA_COMMON_NUM_QUEUES) != SIM_NUM_VQS) {
			snprintf(err, errlen, "num_queues %u, this VF has %u",
			    get_le16(v + VA_COMMON_NUM_QUEUES), SIM_NUM_VQS);
			return (-EINVAL);
		}
		memcpy(ns->common, v, VA_CTX_COMMON_LEN);
		seen[0]++;
		break;
	case VA_CTX_DEV_CFG_LAYOUT:
		if (f->length != SIM_DEVCFG_LEN) {
			snprintf(err, errlen, "net config layout is %u bytes, "
			    "not %llu", SIM_DEVCFG_LEN,
			    (unsigned long long)f->length);
			return (-EINVAL);
		}
		memcpy(ns->devcfg, v, SIM_DEVCFG_LEN);
		seen[1]++;
		break;
	case VA_CTX_DEV_FEATURES:
		/* Verified, not set: the VF's features are what it is. */
		if (get_le64(v) != cur->features[0] || (f->length >= 16 &&
		    get_le64(v + 8) != cur->features[1])) {
			snprintf(err, errlen, "device features %#llx do not "
			    "match this VF's %#llx",
			    (unsigned long long)get_le64(v),
			    (unsigned long long)cur->features[0]);
			return (-EINVAL);
		}
		seen[2]++;
		break;
	case VA_CTX_PCI_VQ_CFG:
	case VA_CTX_VQ_SPLIT_RUNTIME:
	case VA_CTX_VQ_SPLIT_DEV_OWN_DESC:
		q = get_le16(v);
		if (q >= SIM_NUM_VQS) {
			snprintf(err, errlen, "vq_index %u, this VF has %u "
			    "queues", q, SIM_NUM_VQS);
			return (-EINVAL);
		}
		if (f->type == VA_CTX_PCI_VQ_CFG) {
			if (get_le16(v + 2) > SIM_VQ_SIZE) {
				snprintf(err, errlen, "%s queue size %u "
				    "exceeds %u", vq_names[q], get_le16(v + 2),
				    SIM_VQ_SIZE);
				return (-EINVAL);
			}
			ns->vq[q].size = get_le16(v + 2);
			ns->vq[q].msix = get_le16(v + 4);
			ns->vq[q].desc = get_le64(v + 8);
			ns->vq[q].driver = get_le64(v + 16);
			ns->vq[q].device = get_le64(v + 24);
			seen[3 + q]++;
		} else if (f->type == VA_CTX_VQ_SPLIT_RUNTIME) {
			ns->vq[q].avail_idx = get_le16(v + 2);
			ns->vq[q].enabled = v[4];
			seen[3 + SIM_NUM_VQS + q]++;
		} else {
			n = get_le16(v + 2);
			if (n > SIM_OWN_MAX) {
				snprintf(err, errlen, "%s owns %u descriptors, "
				    "at most %u", vq_names[q], n, SIM_OWN_MAX);
				return (-EINVAL);
			}
			for (k = 0; k < n; k++) {
				ns->vq[q].own[k] = get_le16(v + 4 + 2 * k);
				if (ns->vq[q].own[k] >= SIM_VQ_SIZE) {
					snprintf(err, errlen, "%s descriptor "
					    "%u out of range", vq_names[q],
					    ns->vq[q].own[k]);
					return (-EINVAL);
				}
			}
			ns->vq[q].nown = n;
			seen[3 + 2 * SIM_NUM_VQS + q]++;
		}
		break;
	case VA_CTX_NET_CVQ_STATE:
		uc = get_le32(v + VA_CTX_CVQ_UC_OFF);
		mc = get_le32(v + VA_CTX_CVQ_MC_OFF);
		memcpy(ns->cvq.mac, v, 6);
		ns->cvq.rx_mode = get_le16(v + 6);
		memcpy(ns->cvq.vlan, v + VA_CTX_CVQ_VLAN_OFF, 512);
		ns->cvq.uc = uc;
		ns->cvq.mc = mc;
		memset(ns->cvq.macs, 0, sizeof(ns->cvq.macs));
		for (k = 0; k < uc + mc; k++)
			memcpy(ns->cvq.macs[k], v + VA_CTX_CVQ_FIXED + 6 * k, 6);
		seen[3 + 3 * SIM_NUM_VQS]++;
		break;
	case VA_CTX_VENDOR_SIM_DMA:
		if (sim_dma_ctx_get(&ns->dma, v, err, errlen) != 0)
			return (-EINVAL);
		seen[4 + 3 * SIM_NUM_VQS]++;
		break;
	default:
		break;	/* an unknown optional field: skipped */
	}
	return (0);
}

int
sim_vf_ctx_apply(struct sim *sim, struct sim_vf *vf, const uint8_t *buf,
    size_t len, char *err, size_t errlen)
{
	struct sim_devstate *ns;
	struct va_ctx_iter it;
	struct va_ctx_field f;
	unsigned int	 seen[5 + 3 * SIM_NUM_VQS], i;
	char		 why[200];
	int		 rc;
	static const char *const need[] = { "PCI_COMMON_CFG",
	    "DEV_CFG_LAYOUT", "DEV_FEATURES" };

	if ((rc = va_ctx_iter_init(&it, buf, len, err, errlen)) != 0)
		return (rc);
	ns = xmalloc(sizeof(*ns));
	*ns = vf->st;
	memset(seen, 0, sizeof(seen));
	while ((rc = va_ctx_iter_next(&it, &f, err, errlen)) == 1) {
		if ((rc = apply_field(ns, &vf->st, &f, seen, why,
		    sizeof(why))) != 0) {
			snprintf(err, errlen, "field %u (%s): %s", f.index,
			    va_ctx_type_name(f.type), why);
			goto out;
		}
	}
	if (rc != 0)
		goto out;
	rc = -EINVAL;
	for (i = 0; i < nitems(seen); i++) {
		if (seen[i] > 1) {
			snprintf(err, errlen, "a field appears %u times (slot "
			    "%u)", seen[i], i);
			goto out;
		}
	}
	for (i = 0; i < 3; i++) {
		if (seen[i] == 0) {
			snprintf(err, errlen, "mandatory field %s is missing",
			    need[i]);
			goto out;
		}
	}
	for (i = 0; i < SIM_NUM_VQS; i++) {
		if (seen[3 + i] == 0 || seen[3 + SIM_NUM_VQS + i] == 0) {
			snprintf(err, errlen, "%s queue: PCI_VQ_CFG or "
			    "VQ_SPLIT_RUNTIME missing", vq_names[i]);
			goto out;
		}
	}
	vf->st = *ns;
	rc = 0;
out:
	free(ns);
	(void)sim;
	return (rc);
}

/* ------------------------------------------------------------- modes */

/* Allowed device transitions: freeze is entered and left via stop. */
const uint8_t sim_draft_mode_ok[4][4] = {
	/* to:		active	stop	freeze */
	[VA_MODE_ACTIVE] = { 1, 1, 0 },
	[VA_MODE_STOP] = { 1, 1, 1 },
	[VA_MODE_FREEZE] = { 0, 1, 1 },
};

static long
plain_image(struct sim *sim, struct sim_vf *vf, uint8_t *buf, size_t cap)
{
	return (sim_vf_ctx_build(sim, vf, buf, cap));
}

int
sim_draft_mode_check(struct sim_vf *vf, int mode, char *err, size_t errlen)
{
	if (mode == VA_MODE_ACTIVE && vf->wr != NULL) {
		snprintf(err, errlen, "a partial device context (%zu bytes) "
		    "is pending: finish or discard it first", vf->wr_len);
		return (-EINVAL);
	}
	return (0);
}

void
sim_draft_mode_set(struct sim_vf *vf, int mode)
{
	/* A mode change ends a context read in progress. */
	free(vf->rd);
	vf->rd = NULL;
	vf->rd_len = vf->rd_pos = 0;
	(void)mode;
}

/* The VF side of the draft without its admin commands (sim_cmd.c). */
const struct sim_dialect sim_vf_plain = {
	.d = &va_dialect_draft,
	.mode_hint = "go through stop",
	.active = VA_MODE_ACTIVE,
	.stopped = VA_MODE_STOP,
	.frozen = VA_MODE_FREEZE,
	.mode_ok = sim_draft_mode_ok,
	.image = plain_image,
	.mode_check = sim_draft_mode_check,
	.mode_set = sim_draft_mode_set,
};

const struct sim_dialect *
sim_dl(const struct sim *sim)
{
	return (sim->dl != NULL ? sim->dl : &sim_vf_plain);
}

const char *
sim_mode_name(struct sim *sim, int mode)
{
	return (va_dialect_mode_name(sim_dl(sim)->d, mode));
}

int
sim_vf_active(struct sim *sim, const struct sim_vf *vf)
{
	return (vf->mode == sim_dl(sim)->active);
}

void
sim_vf_drop_sessions(struct sim_vf *vf)
{
	free(vf->rd);
	vf->rd = NULL;
	vf->rd_len = vf->rd_pos = 0;
	free(vf->wr);
	vf->wr = NULL;
	vf->wr_len = vf->wr_cap = 0;
}

int
sim_vf_set_mode(struct sim *sim, struct sim_vf *vf, uint8_t mode, char *err,
    size_t errlen)
{
	const struct sim_dialect *dl = sim_dl(sim);
	int	 rc;

	if (mode >= dl->d->nmodes) {
		snprintf(err, errlen, "unknown mode %u", mode);
		return (-EINVAL);
	}
	if (!dl->mode_ok[vf->mode][mode]) {
		snprintf(err, errlen, "%s to %s is not a transition (%s)",
		    sim_mode_name(sim, vf->mode), sim_mode_name(sim, mode),
		    dl->mode_hint);
		return (-EINVAL);
	}
	if (dl->mode_check != NULL &&
	    (rc = dl->mode_check(vf, mode, err, errlen)) != 0)
		return (rc);
	if (mode == vf->mode)
		return (0);
	log_info("%s: vf%u: %s -> %s", __func__, vf->id,
	    sim_mode_name(sim, vf->mode), sim_mode_name(sim, mode));
	vf->mode = mode;
	if (dl->mode_set != NULL)
		dl->mode_set(vf, mode);
	/* No catching up on what was not written while stopped. */
	vf->pace.credit = 0;
	vf->pace.last_ns = 0;
	vf->pace.next_burst_ns = 0;
	return (0);
}

/* ---------------------------------------------------- write recording */

void
sim_vf_record(struct sim *sim, struct sim_vf *vf, uint64_t iova,
    uint64_t len)
{
	struct sim_range *rg;
	struct sim_rec	*last;
	uint64_t	 s, e;
	unsigned int	 i;

	if (sim_dl(sim)->record != NULL) {
		sim_dl(sim)->record(sim, vf, iova, len);
		return;
	}
	if (!vf->recording)
		return;
	if (vf->recs == NULL)
		vf->recs = xcalloc(sim->o.records_max, sizeof(*vf->recs));
	for (i = 0; i < vf->nranges; i++) {
		rg = &vf->ranges[i];
		s = MAX(iova, rg->iova);
		e = MIN(iova + len, rg->iova + rg->len);
		if (s >= e)
			continue;
		vf->recs_made++;
		/* Writes that continue the last record extend it. */
		last = vf->nrecs > 0 ? &vf->recs[vf->nrecs - 1] : NULL;
		if (last != NULL && s != rg->iova &&
		    last->iova + last->len == s && last->len < (1u << 20)) {
			last->len += e - s;
			continue;
		}
		if (vf->nrecs >= sim->o.records_max) {
			rg->lost = 1;
			vf->recs_dropped++;
			continue;
		}
		vf->recs[vf->nrecs].iova = s;
		vf->recs[vf->nrecs].len = e - s;
		vf->nrecs++;
	}
}

/* ------------------------------------------------------- guest memory */

int
sim_vf_attach(struct sim_vf *vf, const char *path, uint64_t size,
    uint64_t iova, uint64_t offset, char *err, size_t errlen)
{
	struct stat	st;
	uint8_t		*p;
	int		fd, e;

	if (size == 0 || size % 4096 != 0 || offset % 4096 != 0) {
		snprintf(err, errlen, "size %llu and offset %llu must be "
		    "non-zero multiples of 4096", (unsigned long long)size,
		    (unsigned long long)offset);
		return (-EINVAL);
	}
	if (iova % 4096 != 0 || size > UINT64_MAX - iova) {
		snprintf(err, errlen, "iova %#llx is not page aligned or the "
		    "range overflows", (unsigned long long)iova);
		return (-EINVAL);
	}
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) == -1) {
		e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return (-e);
	}
	if (fstat(fd, &st) == -1 || (uint64_t)st.st_size < offset ||
	    (uint64_t)st.st_size - offset < size) {
		snprintf(err, errlen, "%s: %lld bytes, too small for %llu at "
		    "offset %llu", path, (long long)st.st_size,
		    (unsigned long long)size, (unsigned long long)offset);
		close(fd);
		return (-EINVAL);
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	    (off_t)offset);
	if (p == MAP_FAILED) {
		e = errno;
		snprintf(err, errlen, "%s: mmap: %s", path, strerror(e));
		close(fd);
		return (-e);
	}
	sim_vf_detach(vf);
	snprintf(vf->mem.path, sizeof(vf->mem.path), "%s", path);
	vf->mem.fd = fd;
	vf->mem.p = p;
	vf->mem.size = size;
	vf->mem.iova = iova;
	vf->mem.offset = offset;
	log_info("%s: vf%u: %s (%llu bytes) at iova %#llx", __func__, vf->id,
	    path, (unsigned long long)size, (unsigned long long)iova);
	return (0);
}

void
sim_vf_detach(struct sim_vf *vf)
{
	if (vf->mem.p != NULL)
		munmap(vf->mem.p, vf->mem.size);
	if (vf->mem.fd != -1)
		close(vf->mem.fd);
	memset(&vf->mem, 0, sizeof(vf->mem));
	vf->mem.fd = -1;
}

uint64_t
sim_vf_mem_digest(struct sim_vf *vf)
{
	if (vf->mem.p == NULL)
		return (0);
	return (XXH3_64bits(vf->mem.p, vf->mem.size));
}
