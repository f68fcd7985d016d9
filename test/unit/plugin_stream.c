/*
 * plugin_stream.c: a test backend for the ABI 2 paths the virtio
 * simulator does not take, the ones VFIO v2 devices need: a state STREAM
 * (pre-copy chunks while the device runs, PRECOPY_INFO, an exact
 * stop-copy size, the rest once frozen), the QUIESCED mode, and a dirty
 * tracker SHARED by the devices of one container.
 *
 * Each VF is a small DMA engine. Handed its VM's memory (a "dma" fd,
 * mapped at IOVA 0) it writes pages into it while it runs (active or
 * quiesced) and marks them in its container's tracker. Devices handed
 * the same "container" file share one tracker (keyed by the file); a
 * device without one has none (every page dirty, always).
 *
 * Its state stream is a function of (VF, offset): initial bytes, plus
 * bytes the running device adds as it works, plus final bytes only the
 * frozen device has. The destination appends what it is written and, when
 * it resumes, logs the bytes and an FNV-1a digest of them: equal to the
 * source's only if every chunk arrived once and in order.
 *
 * PF spec: "vfs=N[,log=PATH][,tag=T][,precopy=BYTES][,final=BYTES]
 *	     [,rate=PAGES]"
 *   log	 one line per event: modes, tracker start/read/stop, streams
 *		 saved and loaded (appended: hosts may share one file)
 *   tag	 the lines' prefix ("T: ")
 *   precopy	 the stream's initial bytes (1 MiB)
 *   final	 the bytes only the frozen device has (64 KiB)
 *   rate	 pages written per 5 ms while running (4)
 *   failload	 the Nth state write on this PF fails (EIO)
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "vmig/backend.h"

#define S_VFS_MAX	8
#define S_PAGE		4096
#define S_TICK_US	5000
#define S_DIRTY_MAX	(1024 * 1024)	/* device bytes a run adds, at most */
#define S_RANGES_MAX	8

struct spriv {
	const struct vmig_host	*host;
	struct vmig_tracker	*trackers;	/* open ones, by key */
};

/* A VF's lasting state (its handle comes and goes). */
struct svf {
	uint32_t	 mode;
	/* saving: the stream read so far */
	int		 saving;
	uint64_t	 pos;		/* bytes read */
	uint64_t	 precopy_read;	/* of them, while running */
	uint64_t	 dirty;		/* bytes the running device added */
	uint64_t	 save_digest;
	/* loading: what was written */
	uint64_t	 loaded;
	uint64_t	 load_digest;
	uint64_t	 writes;	/* pages the workload wrote */
};

struct vmig_pf {
	struct spriv	*priv;
	char		 name[32];
	char		 log[256];
	char		 tag[16];
	unsigned int	 nvfs;
	uint64_t	 precopy;
	uint64_t	 final;
	unsigned int	 rate;
	uint64_t	 failload;
	uint64_t	 loads;		/* state writes so far */
	struct svf	 vf[S_VFS_MAX];
};

struct vmig_dev {
	struct vmig_pf	*pf;
	uint64_t	 member;
	struct svf	*vf;
	uint8_t		*mem;		/* the VM's memory, read-write */
	size_t		 memlen;
	char		 key[64];	/* its container, "" none */
	struct event	*ev_work;
	uint64_t	 rng;
};

struct vmig_tracker {
	struct vmig_tracker *next;
	struct spriv	*priv;
	struct vmig_pf	*pf;		/* for the log */
	char		 key[64];
	int		 started;
	unsigned int	 nranges;
	struct vmig_iova_range ranges[S_RANGES_MAX];
	uint64_t	*bits[S_RANGES_MAX];
	uint64_t	 page_size;
};

struct slater {
	vmig_done_fn	 done;
	void		*arg;
	struct vmig_result res;
};

static void
s_log(const struct vmig_pf *pf, const char *fmt, ...)
{
	char	line[256];
	va_list	ap;
	int	fd, n;

	if (pf->log[0] == '\0')
		return;
	if ((fd = open(pf->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0644)) < 0)
		return;
	/* one write per line: hosts sharing the file do not mix lines */
	n = pf->tag[0] != '\0' ? snprintf(line, sizeof(line), "%s: ",
	    pf->tag) : 0;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	strcat(line, "\n");
	(void)write(fd, line, strlen(line));
	close(fd);
}

static uint64_t
s_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return (x ^ (x >> 31));
}

/* Byte k of VF m's stream. */
static uint8_t
s_byte(uint64_t m, uint64_t k)
{
	return ((uint8_t)(s_mix((m << 40) ^ (k / 8)) >> (8 * (k % 8))));
}

static uint64_t
s_fnv(uint64_t h, const uint8_t *p, size_t n)
{
	while (n-- > 0)
		h = (h ^ *p++) * 0x100000001b3ULL;
	return (h);
}

#define S_FNV0	0xcbf29ce484222325ULL

static void
s_later_cb(evutil_socket_t fd, short what, void *arg)
{
	struct slater	*l = arg;

	l->done(l->arg, &l->res);
	free(l);
}

/* Complete on a later loop turn, as a device would. */
static int
s_later(struct spriv *p, vmig_done_fn done, void *arg,
    const struct vmig_result *res)
{
	struct slater	*l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return (-ENOMEM);
	l->done = done;
	l->arg = arg;
	l->res = *res;
	if (event_base_once(p->host->base, -1, EV_TIMEOUT, s_later_cb, l,
	    NULL) != 0) {
		free(l);
		return (-ENOMEM);
	}
	return (0);
}

static int
s_ok(struct spriv *p, vmig_done_fn done, void *arg)
{
	struct vmig_result	res;

	memset(&res, 0, sizeof(res));
	return (s_later(p, done, arg, &res));
}

static int
s_init(const struct vmig_host *host, void **priv)
{
	struct spriv	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return (-ENOMEM);
	p->host = host;
	*priv = p;
	return (0);
}

static void
s_fini(void *priv)
{
	free(priv);
}

static uint64_t
s_opt(const char *spec, const char *key, uint64_t def)
{
	const char	*p;

	if ((p = strstr(spec, key)) == NULL)
		return (def);
	return (strtoull(p + strlen(key), NULL, 10));
}

static int
s_pf_open(void *priv, const char *name, const char *spec,
    const struct vmig_fd *fds, unsigned int nfds, struct vmig_pf **out,
    vmig_done_fn done, void *arg, char *err, size_t errlen)
{
	struct vmig_pf	*pf;
	const char	*p;
	unsigned int	 i;

	if (strncmp(spec, "vfs=", 4) != 0 || s_opt(spec, "vfs=", 0) < 1 ||
	    s_opt(spec, "vfs=", 0) > S_VFS_MAX) {
		snprintf(err, errlen, "spec must start with vfs=N (1 to %d)",
		    S_VFS_MAX);
		return (-EINVAL);
	}
	if ((pf = calloc(1, sizeof(*pf))) == NULL)
		return (-ENOMEM);
	pf->priv = priv;
	snprintf(pf->name, sizeof(pf->name), "%s", name);
	pf->nvfs = (unsigned int)s_opt(spec, "vfs=", 1);
	pf->precopy = s_opt(spec, ",precopy=", 1024 * 1024);
	pf->final = s_opt(spec, ",final=", 64 * 1024);
	pf->rate = (unsigned int)s_opt(spec, ",rate=", 4);
	pf->failload = s_opt(spec, ",failload=", 0);
	if ((p = strstr(spec, ",log=")) != NULL)
		snprintf(pf->log, sizeof(pf->log), "%.*s",
		    (int)strcspn(p + 5, ","), p + 5);
	if ((p = strstr(spec, ",tag=")) != NULL)
		snprintf(pf->tag, sizeof(pf->tag), "%.*s",
		    (int)strcspn(p + 5, ","), p + 5);
	for (i = 0; i < S_VFS_MAX; i++)
		pf->vf[i].mode = VMIG_MODE_ACTIVE;
	*out = pf;
	return (s_ok(priv, done, arg));
}

static void
s_pf_close(struct vmig_pf *pf)
{
	free(pf);
}

static int
s_pf_info(struct vmig_pf *pf, struct vmig_pf_info *info)
{
	memset(info, 0, sizeof(*info));
	snprintf(info->interface, sizeof(info->interface), "test/stream");
	info->num_vfs = pf->nvfs;
	info->queue_depth = 64;
	info->max_inflight = 64;
	return (0);
}

static int
s_pf_list(struct vmig_pf *pf, struct vmig_dev_info *out, int max)
{
	struct vmig_dev_caps	*c;
	unsigned int		 i;

	for (i = 0; i < pf->nvfs && (int)i < max; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		snprintf(out[i].name, sizeof(out[i].name), "vf%u", i + 1);
		snprintf(out[i].type, sizeof(out[i].type), "test-dma");
		out[i].member_id = i + 1;
		out[i].mode = pf->vf[i].mode;
		c = &out[i].caps;
		snprintf(c->interface, sizeof(c->interface), "test/stream");
		c->modes = VMIG_MODE_BIT(VMIG_MODE_ACTIVE) |
		    VMIG_MODE_BIT(VMIG_MODE_QUIESCED) |
		    VMIG_MODE_BIT(VMIG_MODE_STOPPED) |
		    VMIG_MODE_BIT(VMIG_MODE_FROZEN);
		c->flags = VMIG_CAP_STATE_PRECOPY | VMIG_CAP_STATE_CHUNKED |
		    VMIG_CAP_STATE_DISCARD | VMIG_CAP_P2P_QUIESCE |
		    VMIG_CAP_PRECOPY_INFO | VMIG_CAP_STATE_SIZE_EXACT;
		c->state_kind = VMIG_STATE_STREAM;
		c->state_max_bytes = 64ULL << 20;
		c->dirty_kind = VMIG_DIRTY_IOMMU_TYPE1;
		c->track_scope = VMIG_TRACK_SHARED;
		c->dirty_max_ranges = S_RANGES_MAX;
		c->dirty_page_sizes = 1;
	}
	return ((int)pf->nvfs);
}

static struct vmig_tracker *
s_tracker_find(struct spriv *p, const char *key)
{
	struct vmig_tracker	*t;

	for (t = p->trackers; t != NULL; t = t->next) {
		if (strcmp(t->key, key) == 0)
			return (t);
	}
	return (NULL);
}

/* The device wrote a page at iova: its container's tracker hears it. */
static void
s_mark(struct vmig_dev *d, uint64_t iova)
{
	struct vmig_tracker	*t;
	uint64_t		 n;
	unsigned int		 i;

	if (d->key[0] == '\0' ||
	    (t = s_tracker_find(d->pf->priv, d->key)) == NULL || !t->started)
		return;
	for (i = 0; i < t->nranges; i++) {
		if (iova < t->ranges[i].iova ||
		    iova >= t->ranges[i].iova + t->ranges[i].length)
			continue;
		n = (iova - t->ranges[i].iova) / t->page_size;
		t->bits[i][n / 64] |= 1ULL << (n % 64);
	}
}

/* Running: write a few pages of the VM's memory, add to the state. */
static void
s_work(evutil_socket_t fd, short what, void *arg)
{
	struct vmig_dev	*d = arg;
	uint64_t	 page, npages = d->memlen / S_PAGE;
	unsigned int	 i;

	if (d->vf->mode != VMIG_MODE_ACTIVE &&
	    d->vf->mode != VMIG_MODE_QUIESCED)
		return;
	for (i = 0; i < d->pf->rate && npages > 0; i++) {
		d->rng = s_mix(d->rng);
		page = d->rng % npages;
		memset(d->mem + page * S_PAGE, (int)(d->rng >> 56), 64);
		memcpy(d->mem + page * S_PAGE + 64, &d->rng, sizeof(d->rng));
		s_mark(d, page * S_PAGE);
		d->vf->writes++;
	}
	if (d->vf->saving && d->vf->dirty < S_DIRTY_MAX)
		d->vf->dirty += 16 * d->pf->rate;
}

static int
s_dev_open(struct vmig_pf *pf, uint64_t member, const struct vmig_fd *fds,
    unsigned int nfds, struct vmig_dev **out, char *err, size_t errlen)
{
	struct vmig_dev	*d;
	struct timeval	 tv = { 0, S_TICK_US };
	struct stat	 st;
	unsigned int	 i;

	if (member < 1 || member > pf->nvfs) {
		snprintf(err, errlen, "no VF %" PRIu64, member);
		return (-ENOENT);
	}
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return (-ENOMEM);
	d->pf = pf;
	d->member = member;
	d->vf = &pf->vf[member - 1];
	d->rng = member;
	for (i = 0; i < nfds; i++) {
		if (fstat(fds[i].fd, &st) != 0)
			continue;
		if (strcmp(fds[i].name, "container") == 0)
			snprintf(d->key, sizeof(d->key), "container:%ju:%ju",
			    (uintmax_t)st.st_dev, (uintmax_t)st.st_ino);
		if (strcmp(fds[i].name, "dma") == 0 && d->mem == NULL &&
		    st.st_size > 0) {
			d->mem = mmap(NULL, (size_t)st.st_size, PROT_READ |
			    PROT_WRITE, MAP_SHARED, fds[i].fd, 0);
			if (d->mem == MAP_FAILED) {
				snprintf(err, errlen, "dma fd: %s",
				    strerror(errno));
				free(d);
				return (-errno);
			}
			d->memlen = (size_t)st.st_size;
		}
	}
	if (d->mem != NULL) {
		d->ev_work = event_new(pf->priv->host->base, -1, EV_PERSIST,
		    s_work, d);
		evtimer_add(d->ev_work, &tv);
	}
	*out = d;
	return (0);
}

static void
s_dev_close(struct vmig_dev *d)
{
	if (d->ev_work != NULL)
		event_free(d->ev_work);
	if (d->mem != NULL)
		munmap(d->mem, d->memlen);
	free(d);
}

static int
s_get_mode(struct vmig_dev *d, int lane, vmig_done_fn done, void *arg)
{
	struct vmig_result	res;

	memset(&res, 0, sizeof(res));
	res.u.mode = d->vf->mode;
	return (s_later(d->pf->priv, done, arg, &res));
}

static const char *
s_mode_name(uint32_t m)
{
	static const char *const names[] = { "unknown", "active", "stopped",
	    "frozen", "error", "quiesced" };

	return (m < 6 ? names[m] : "?");
}

static void
s_stream_reset(struct svf *vf)
{
	vf->saving = 0;
	vf->pos = vf->precopy_read = vf->dirty = 0;
	vf->save_digest = S_FNV0;
}

static int
s_set_mode(struct vmig_dev *d, enum vmig_mode mode, int lane,
    vmig_done_fn done, void *arg)
{
	struct svf	*vf = d->vf;

	if (mode != VMIG_MODE_ACTIVE && mode != VMIG_MODE_QUIESCED &&
	    mode != VMIG_MODE_STOPPED && mode != VMIG_MODE_FROZEN)
		return (-EINVAL);
	s_log(d->pf, "vf%" PRIu64 " mode %s", d->member, s_mode_name(mode));
	if ((mode == VMIG_MODE_ACTIVE || mode == VMIG_MODE_QUIESCED) &&
	    vf->mode != VMIG_MODE_ACTIVE && vf->mode != VMIG_MODE_QUIESCED) {
		/* running again: a saving session ends, a loaded one shows */
		if (vf->loaded != 0)
			s_log(d->pf, "vf%" PRIu64 " loaded %" PRIu64 " bytes "
			    "digest %016" PRIx64, d->member, vf->loaded,
			    vf->load_digest);
		vf->loaded = 0;
		s_stream_reset(vf);
	}
	if (mode == VMIG_MODE_FROZEN && vf->saving)
		s_log(d->pf, "vf%" PRIu64 " frozen after %" PRIu64 " bytes "
		    "read in pre-copy", d->member, vf->precopy_read);
	vf->mode = mode;
	return (s_ok(d->pf->priv, done, arg));
}

/* What the stream holds: what the device has made so far. */
static uint64_t
s_made(const struct vmig_dev *d)
{
	uint64_t	n = d->pf->precopy + d->vf->dirty;

	return (d->vf->mode == VMIG_MODE_FROZEN ? n + d->pf->final : n);
}

static int
s_running(const struct vmig_dev *d)
{
	return (d->vf->mode == VMIG_MODE_ACTIVE ||
	    d->vf->mode == VMIG_MODE_QUIESCED);
}

static int
s_state_size(struct vmig_dev *d, int lane, vmig_done_fn done, void *arg)
{
	struct vmig_result	res;

	memset(&res, 0, sizeof(res));
	/* the unread rest and the final part: what stop-copy will read */
	res.u.size = s_made(d) - d->vf->pos +
	    (d->vf->mode == VMIG_MODE_FROZEN ? 0 : d->pf->final);
	return (s_later(d->pf->priv, done, arg, &res));
}

static int
s_precopy_info(struct vmig_dev *d, int lane, vmig_done_fn done, void *arg)
{
	struct vmig_result	res;
	uint64_t		pos = d->vf->pos;

	if (!s_running(d))
		return (-EBUSY);
	memset(&res, 0, sizeof(res));
	res.u.precopy.initial_bytes = pos < d->pf->precopy ?
	    d->pf->precopy - pos : 0;
	res.u.precopy.dirty_bytes = s_made(d) - pos -
	    res.u.precopy.initial_bytes;
	return (s_later(d->pf->priv, done, arg, &res));
}

static int
s_state_read(struct vmig_dev *d, void *buf, size_t cap, int lane,
    vmig_done_fn done, void *arg)
{
	struct svf		*vf = d->vf;
	struct vmig_result	 res;
	uint8_t			*p = buf;
	size_t			 i, n;

	if (!s_running(d) && vf->mode != VMIG_MODE_FROZEN)
		return (-EBUSY);	/* stopped: not readable */
	if (!vf->saving) {
		s_stream_reset(vf);
		vf->saving = 1;
	}
	n = (size_t)(s_made(d) - vf->pos < cap ? s_made(d) - vf->pos : cap);
	for (i = 0; i < n; i++)
		p[i] = s_byte(d->member, vf->pos + i);
	vf->save_digest = s_fnv(vf->save_digest, p, n);
	vf->pos += n;
	if (s_running(d))
		vf->precopy_read += n;
	memset(&res, 0, sizeof(res));
	res.u.read.len = n;
	res.u.read.remaining = s_made(d) - vf->pos;
	if (n == 0 && vf->mode == VMIG_MODE_FROZEN)
		s_log(d->pf, "vf%" PRIu64 " saved %" PRIu64 " bytes digest "
		    "%016" PRIx64, d->member, vf->pos, vf->save_digest);
	return (s_later(d->pf->priv, done, arg, &res));
}

static int
s_state_write(struct vmig_dev *d, const void *buf, size_t len, int lane,
    vmig_done_fn done, void *arg)
{
	struct vmig_result	res;

	if (s_running(d))
		return (-EBUSY);	/* loading needs a stopped device */
	if (++d->pf->loads == d->pf->failload) {
		memset(&res, 0, sizeof(res));
		res.err = -EIO;
		res.msg = "the test's failload";
		s_log(d->pf, "vf%" PRIu64 " load failed", d->member);
		return (s_later(d->pf->priv, done, arg, &res));
	}
	if (d->vf->loaded == 0) {
		d->vf->load_digest = S_FNV0;
		s_log(d->pf, "vf%" PRIu64 " loading", d->member);
	}
	d->vf->load_digest = s_fnv(d->vf->load_digest, buf, len);
	d->vf->loaded += len;
	return (s_ok(d->pf->priv, done, arg));
}

static int
s_state_discard(struct vmig_dev *d, int lane, vmig_done_fn done, void *arg)
{
	if (d->vf->loaded != 0)
		s_log(d->pf, "vf%" PRIu64 " discarded %" PRIu64 " bytes",
		    d->member, d->vf->loaded);
	d->vf->loaded = 0;
	s_stream_reset(d->vf);
	return (s_ok(d->pf->priv, done, arg));
}

static int
s_dev_tracker(struct vmig_dev *d, struct vmig_tracker_info *info)
{
	memset(info, 0, sizeof(*info));
	if (d->key[0] == '\0') {
		info->scope = VMIG_TRACK_NONE;
		info->kind = VMIG_DIRTY_NONE;
		return (0);
	}
	info->scope = VMIG_TRACK_SHARED;
	info->kind = VMIG_DIRTY_IOMMU_TYPE1;
	snprintf(info->key, sizeof(info->key), "%s", d->key);
	return (0);
}

static int
s_tracker_open(struct vmig_dev *d, struct vmig_tracker **out, char *err,
    size_t errlen)
{
	struct vmig_tracker	*t;

	if (s_tracker_find(d->pf->priv, d->key) != NULL) {
		/* the engine opens one per key: a second is its bug */
		snprintf(err, errlen, "tracker %s is open already", d->key);
		return (-EEXIST);
	}
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return (-ENOMEM);
	t->priv = d->pf->priv;
	t->pf = d->pf;
	snprintf(t->key, sizeof(t->key), "%s", d->key);
	t->next = t->priv->trackers;
	t->priv->trackers = t;
	*out = t;
	return (0);
}

static void
s_tracker_free_bits(struct vmig_tracker *t)
{
	unsigned int	i;

	for (i = 0; i < t->nranges; i++) {
		free(t->bits[i]);
		t->bits[i] = NULL;
	}
	t->nranges = 0;
}

static void
s_tracker_close(struct vmig_tracker *t)
{
	struct vmig_tracker	**pp;

	for (pp = &t->priv->trackers; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	s_tracker_free_bits(t);
	free(t);
}

static int
s_tracker_start(struct vmig_tracker *t, const struct vmig_iova_range *r,
    unsigned int n, uint64_t page_size, vmig_done_fn done, void *arg)
{
	unsigned int	i;

	if (n > S_RANGES_MAX || page_size != S_PAGE)
		return (-EINVAL);
	if (t->started)
		return (-EBUSY);
	for (i = 0; i < n; i++) {
		t->ranges[i] = r[i];
		t->bits[i] = calloc((r[i].length / page_size + 63) / 64 + 1,
		    sizeof(uint64_t));
		if (t->bits[i] == NULL) {
			t->nranges = i;
			s_tracker_free_bits(t);
			return (-ENOMEM);
		}
	}
	t->nranges = n;
	t->page_size = page_size;
	t->started = 1;
	s_log(t->pf, "tracker %s start", t->key);
	return (s_ok(t->priv, done, arg));
}

static int
s_tracker_read(struct vmig_tracker *t, struct vmig_dirty_map *maps,
    unsigned int n, int lane, vmig_done_fn done, void *arg)
{
	struct vmig_result	res;
	unsigned int		i, k;
	uint64_t		b, iova, bit, pages = 0;

	if (!t->started)
		return (-EINVAL);
	for (i = 0; i < t->nranges; i++) {
		for (b = 0; b < t->ranges[i].length / t->page_size; b++) {
			if ((t->bits[i][b / 64] & (1ULL << (b % 64))) == 0)
				continue;
			iova = t->ranges[i].iova + b * t->page_size;
			for (k = 0; k < n; k++) {
				if (iova < maps[k].iova ||
				    iova >= maps[k].iova + maps[k].length)
					continue;
				bit = (iova - maps[k].iova) / maps[k].page_size;
				maps[k].bits[bit / 64] |= 1ULL << (bit % 64);
			}
			pages++;
		}
		memset(t->bits[i], 0, ((t->ranges[i].length / t->page_size +
		    63) / 64) * sizeof(uint64_t));
	}
	s_log(t->pf, "tracker %s read %" PRIu64 " pages", t->key, pages);
	memset(&res, 0, sizeof(res));
	res.u.dirty.records = res.u.dirty.pages = pages;
	res.u.dirty.bytes = pages * t->page_size;
	return (s_later(t->priv, done, arg, &res));
}

static int
s_tracker_stop(struct vmig_tracker *t, vmig_done_fn done, void *arg)
{
	s_log(t->pf, "tracker %s stop", t->key);
	s_tracker_free_bits(t);
	t->started = 0;
	return (s_ok(t->priv, done, arg));
}

const struct vmig_backend vmig_backend = {
	.abi_major = VMIG_BACKEND_ABI_MAJOR,
	.abi_minor = VMIG_BACKEND_ABI_MINOR,
	.name = "teststream",
	.version = "1.0",
	.description = "test backend: state streams, quiesce, shared trackers",
	.init = s_init,
	.fini = s_fini,
	.pf_open = s_pf_open,
	.pf_close = s_pf_close,
	.pf_info = s_pf_info,
	.pf_list = s_pf_list,
	.dev_open = s_dev_open,
	.dev_close = s_dev_close,
	.get_mode = s_get_mode,
	.set_mode = s_set_mode,
	.state_size = s_state_size,
	.state_precopy_info = s_precopy_info,
	.state_read = s_state_read,
	.state_write = s_state_write,
	.state_discard = s_state_discard,
	.dev_tracker = s_dev_tracker,
	.tracker_open = s_tracker_open,
	.tracker_close = s_tracker_close,
	.tracker_start = s_tracker_start,
	.tracker_read = s_tracker_read,
	.tracker_stop = s_tracker_stop,
};
