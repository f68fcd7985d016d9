/*
 * preload.c: the system-call interposer in front of the simulated VFIO
 * kernel (vmig-simvfio). With VFSIM_SOCKET set in the environment,
 * open() of /dev/vfio/vfio, /dev/vfio/N, /dev/vfio/devices/vfioN and
 * /dev/iommu connects to the simulator instead, and ioctl, read, write,
 * pread, pwrite and mmap on such a file become requests to it
 * (vfsim_proto.h). Everything else, and everything when VFSIM_SOCKET is
 * unset, goes straight to the kernel (raw system calls, so nothing here
 * depends on symbol lookup order).
 *
 * Built twice from this one file: linked into a test executable (its
 * definitions of open, ioctl, ... then win over libc's for the whole
 * process) and as an LD_PRELOAD library for other processes (the VMM
 * helper, later vmigd). The code under test calls the real libc names
 * either way.
 *
 * Files the simulator handed over (a device fd, a data_fd) are known by
 * the fd they were installed at; a descriptor that arrived some other
 * way (SCM_RIGHTS from a VMM, dup) is recognised on first use: a socket
 * whose peer is the simulator process, asked what it is (VFS_WHOAMI).
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vfsim_proto.h"

#define MAXFD		65536
#define NSTRIPES	64

/* kind << 56 | inode: one word, so it is read and written atomically */
static uint64_t		 fdtab[MAXFD];
static pthread_mutex_t	 stripes[NSTRIPES] = {
	[0 ... NSTRIPES - 1] = PTHREAD_MUTEX_INITIALIZER
};
#define NSIMS		8
static pid_t		 sims[NSIMS];	/* simulators seen so far */

static int	real_openat(int, const char *, int, mode_t);

/* ------------------------------------------------ raw system calls */

static long
sys_read(int fd, void *b, size_t n)
{
	return (syscall(SYS_read, fd, b, n));
}

static int
sys_close(int fd)
{
	return ((int)syscall(SYS_close, fd));
}

static const char *
simsock(void)
{
	const char	*s = getenv("VFSIM_SOCKET");

	return (s != NULL && s[0] != '\0' ? s : NULL);
}

static int
simpath(const char *p)
{
	return (p != NULL && simsock() != NULL &&
	    (strncmp(p, "/dev/vfio/", 10) == 0 || strcmp(p, "/dev/iommu") == 0));
}

/* ------------------------------------------------------- fd table */

static void
reg(int fd, int kind, uint64_t ino)
{
	if (fd >= 0 && fd < MAXFD)
		__atomic_store_n(&fdtab[fd], ((uint64_t)kind << 56) |
		    (ino & ((1ULL << 56) - 1)), __ATOMIC_RELEASE);
}

static void
unreg(int fd)
{
	if (fd >= 0 && fd < MAXFD)
		__atomic_store_n(&fdtab[fd], 0, __ATOMIC_RELEASE);
}

static int
tabkind(int fd)
{
	if (fd < 0 || fd >= MAXFD)
		return (0);
	return ((int)(__atomic_load_n(&fdtab[fd], __ATOMIC_ACQUIRE) >> 56));
}

static uint64_t
sock_ino(int fd)
{
	struct stat	st;

	if (fstat(fd, &st) == -1 || !S_ISSOCK(st.st_mode))
		return (0);
	return ((uint64_t)st.st_ino);
}

/* ----------------------------------------------------- transport */

static int
xsend(int s, const struct vfs_msg *m, const void *pl, int fd)
{
	return (vfs_wire_send(s, m, pl, fd) == 0 ? 0 : -EIO);
}

/* One message; *pl malloc'd (NULL if none); *fd a received fd or -1. */
static int
xrecv(int s, struct vfs_msg *m, void **pl, int *fd)
{
	union {
		struct cmsghdr	h;
		char		b[CMSG_SPACE(sizeof(int) * 4)];
	} cm;
	struct msghdr	 mh;
	struct iovec	 iov;
	struct cmsghdr	*c;
	uint8_t		*p;
	size_t		 got = 0;
	long		 r;
	int		 k;

	*pl = NULL;
	*fd = -1;
	while (got < sizeof(*m)) {
		memset(&mh, 0, sizeof(mh));
		iov.iov_base = (uint8_t *)m + got;
		iov.iov_len = sizeof(*m) - got;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cm.b;
		mh.msg_controllen = sizeof(cm.b);
		r = recvmsg(s, &mh, MSG_CMSG_CLOEXEC);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return (-EIO);
		for (c = CMSG_FIRSTHDR(&mh); c != NULL;
		    c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET ||
			    c->cmsg_type != SCM_RIGHTS)
				continue;
			for (k = 0; (size_t)k < (c->cmsg_len - CMSG_LEN(0)) /
			    sizeof(int); k++) {
				int f;

				memcpy(&f, CMSG_DATA(c) + k * sizeof(int),
				    sizeof(int));
				if (*fd == -1)
					*fd = f;
				else
					sys_close(f);
			}
		}
		got += (size_t)r;
	}
	if (m->magic != VFS_MAGIC || m->len > VFS_MAX_PAYLOAD)
		return (-EIO);
	if (m->len == 0)
		return (0);
	if ((p = malloc(m->len)) == NULL)
		return (-ENOMEM);
	for (got = 0; got < m->len; got += (size_t)r) {
		r = sys_read(s, p + got, m->len - got);
		if (r == -1 && errno == EINTR) {
			r = 0;
			continue;
		}
		if (r <= 0) {
			free(p);
			return (-EIO);
		}
	}
	*pl = p;
	return (0);
}

/* copy_from_user / copy_to_user on ourselves: a bad pointer is EFAULT. */
static int
self_rw(uint64_t addr, void *buf, size_t n, int wr)
{
	struct iovec	l = { buf, n }, r = { (void *)(uintptr_t)addr, n };
	ssize_t		k;

	if (n == 0)
		return (0);
	k = wr ? process_vm_writev(getpid(), &l, 1, &r, 1, 0) :
	    process_vm_readv(getpid(), &l, 1, &r, 1, 0);
	return (k == (ssize_t)n ? 0 : -EFAULT);
}

/* Serve the simulator's questions until its answer. */
static long
serve(int s, int *outfd, int64_t *outb)
{
	struct vfs_msg	 m, a;
	struct stat	 st;
	void		*pl, *buf;
	int		 fd, rc;

	for (;;) {
		if ((rc = xrecv(s, &m, &pl, &fd)) != 0)
			return (rc);
		memset(&a, 0, sizeof(a));
		a.magic = VFS_MAGIC;
		a.type = VFS_ACK;
		switch (m.type) {
		case VFS_PEEK:
			a.type = VFS_DATA;
			if (m.b < 0 || m.b > VFS_MAX_PAYLOAD ||
			    (buf = malloc((size_t)m.b + 1)) == NULL) {
				a.a = -EFAULT;
				rc = xsend(s, &a, NULL, -1);
				break;
			}
			a.a = self_rw((uint64_t)m.a, buf, (size_t)m.b, 0);
			a.len = a.a == 0 ? (uint32_t)m.b : 0;
			rc = xsend(s, &a, buf, -1);
			free(buf);
			break;
		case VFS_POKE:
			a.a = self_rw((uint64_t)m.a, pl, m.len, 1);
			rc = xsend(s, &a, NULL, -1);
			break;
		case VFS_INSTALL:
			a.a = fd >= 0 ? fd : -EMFILE;
			if (fd >= 0)
				reg(fd, (int)m.a, sock_ino(fd));
			fd = -1;
			rc = xsend(s, &a, NULL, -1);
			break;
		case VFS_UNINSTALL:
			unreg((int)m.a);
			sys_close((int)m.a);
			rc = xsend(s, &a, NULL, -1);
			break;
		case VFS_FDINO:
			if (fstat((int)m.a, &st) == -1)
				a.a = -EBADF;
			else
				a.b = S_ISSOCK(st.st_mode) ? (int64_t)st.st_ino :
				    0;
			rc = xsend(s, &a, NULL, -1);
			break;
		case VFS_GETFD:
			/* the simulator checks it is an eventfd */
			a.a = fstat((int)m.a, &st) == -1 ? -EBADF : 0;
			rc = xsend(s, &a, NULL, a.a == 0 ? (int)m.a : -1);
			break;
		case VFS_DONE:
			free(pl);
			if (outfd != NULL)
				*outfd = fd;
			else if (fd >= 0)
				sys_close(fd);
			if (outb != NULL)
				*outb = m.b;
			return ((long)m.a);
		default:
			rc = -EIO;
			break;
		}
		free(pl);
		if (fd >= 0)
			sys_close(fd);
		if (rc != 0)
			return (rc);
	}
}

static long
request(int s, uint64_t ino, struct vfs_msg *m, const void *pl, int *outfd,
    int64_t *outb)
{
	pthread_mutex_t	*l = &stripes[ino % NSTRIPES];
	long		 r;

	m->magic = VFS_MAGIC;
	m->pid = (int32_t)getpid();
	if (outfd != NULL)
		*outfd = -1;
	pthread_mutex_lock(l);
	if ((r = xsend(s, m, pl, -1)) == 0)
		r = serve(s, outfd, outb);
	pthread_mutex_unlock(l);
	return (r);
}

static int
connect_sim(int cloexec)
{
	struct sockaddr_un	 sun;
	const char		*p = simsock();
	int			 s;

	if (p == NULL || strlen(p) >= sizeof(sun.sun_path))
		return (-ENOENT);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, p, strlen(p));
	if ((s = socket(AF_UNIX, SOCK_STREAM | (cloexec ? SOCK_CLOEXEC : 0),
	    0)) == -1)
		return (-errno);
	if (connect(s, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		sys_close(s);
		return (-ENOENT);	/* no kernel serves that node */
	}
	return (s);
}

/*
 * Is pid a simulator? Its name says so (one test may run two: a source
 * and a destination "host"); the answers are remembered.
 */
static int
is_sim(pid_t pid)
{
	char	path[64], comm[32];
	long	n;
	int	fd, i, slot = -1;

	for (i = 0; i < NSIMS; i++) {
		if (__atomic_load_n(&sims[i], __ATOMIC_ACQUIRE) == pid)
			return (1);
		if (slot == -1 && __atomic_load_n(&sims[i],
		    __ATOMIC_ACQUIRE) == 0)
			slot = i;
	}
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if ((fd = real_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0)) == -1)
		return (0);
	n = sys_read(fd, comm, sizeof(comm) - 1);
	sys_close(fd);
	if (n <= 0)
		return (0);
	comm[n] = '\0';
	if (strncmp(comm, "vmig-simvfio", 12) != 0)
		return (0);
	if (slot == -1)
		slot = (int)(pid % NSIMS);
	__atomic_store_n(&sims[slot], pid, __ATOMIC_RELEASE);
	return (1);
}

/*
 * The kind of a simulated file behind fd, 0 if fd is none of ours.
 * check: also recognise an fd the table does not know.
 */
static int
kind_of(int fd, uint64_t *ino)
{
	struct vfs_msg	m;
	struct ucred	cr;
	socklen_t	len = sizeof(cr);
	uint64_t	i;
	long		k;

	if (simsock() == NULL || (i = sock_ino(fd)) == 0)
		return (0);
	*ino = i;
	if (fd >= 0 && fd < MAXFD &&
	    (__atomic_load_n(&fdtab[fd], __ATOMIC_ACQUIRE) &
	    ((1ULL << 56) - 1)) == (i & ((1ULL << 56) - 1)) && tabkind(fd))
		return (tabkind(fd));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0 ||
	    cr.pid <= 0 || !is_sim(cr.pid))
		return (0);
	memset(&m, 0, sizeof(m));
	m.type = VFS_WHOAMI;
	if ((k = request(fd, i, &m, NULL, NULL, NULL)) <= 0)
		return (0);
	reg(fd, (int)k, i);
	return ((int)k);
}

static long
ret(long r)
{
	if (r < 0) {
		errno = (int)-r;
		return (-1);
	}
	return (r);
}

/* --------------------------------------------------------- open */

static int
sim_open(const char *path, int flags)
{
	struct vfs_msg	m;
	int64_t		kind = 0;
	uint64_t	ino;
	long		r;
	int		s;

	if ((s = connect_sim(flags & O_CLOEXEC)) < 0)
		return ((int)ret(s));
	ino = sock_ino(s);
	memset(&m, 0, sizeof(m));
	m.type = VFS_OPEN;
	m.a = flags;
	m.b = (int64_t)ino;
	m.len = (uint32_t)strlen(path) + 1;
	r = request(s, ino, &m, path, NULL, &kind);
	if (r < 0) {
		sys_close(s);
		return ((int)ret(r));
	}
	reg(s, (int)kind, ino);
	return (s);
}

static int
real_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	return ((int)syscall(SYS_openat, dirfd, path, flags, mode));
}

static int
do_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	if (path != NULL && path[0] == '/' && simpath(path))
		return (sim_open(path, flags));
	return (real_openat(dirfd, path, flags, mode));
}

#define MODE_ARG(flags, mode) do {					\
	va_list	ap;							\
	if ((flags) & (O_CREAT | __O_TMPFILE)) {			\
		va_start(ap, flags);					\
		mode = (mode_t)va_arg(ap, int);				\
		va_end(ap);						\
	}								\
} while (0)

int
open(const char *path, int flags, ...)
{
	mode_t	mode = 0;

	MODE_ARG(flags, mode);
	return (do_openat(AT_FDCWD, path, flags, mode));
}

int
open64(const char *path, int flags, ...)
{
	mode_t	mode = 0;

	MODE_ARG(flags, mode);
	return (do_openat(AT_FDCWD, path, flags, mode));
}

int
openat(int dirfd, const char *path, int flags, ...)
{
	mode_t	mode = 0;

	MODE_ARG(flags, mode);
	return (do_openat(dirfd, path, flags, mode));
}

int
openat64(int dirfd, const char *path, int flags, ...)
{
	mode_t	mode = 0;

	MODE_ARG(flags, mode);
	return (do_openat(dirfd, path, flags, mode));
}

int	__open_2(const char *, int);
int	__open64_2(const char *, int);
int	__openat_2(int, const char *, int);

int
__open_2(const char *path, int flags)
{
	return (do_openat(AT_FDCWD, path, flags, 0));
}

int
__open64_2(const char *path, int flags)
{
	return (do_openat(AT_FDCWD, path, flags, 0));
}

int
__openat_2(int dirfd, const char *path, int flags)
{
	return (do_openat(dirfd, path, flags, 0));
}

int
close(int fd)
{
	unreg(fd);
	return (sys_close(fd));
}

/* Copies of a simulated file are the same file: so is their kind. */
static int
copied(int from, int to)
{
	if (to >= 0 && from >= 0 && from < MAXFD && to < MAXFD)
		__atomic_store_n(&fdtab[to], __atomic_load_n(&fdtab[from],
		    __ATOMIC_ACQUIRE), __ATOMIC_RELEASE);
	return (to);
}

int
dup(int fd)
{
	return (copied(fd, (int)syscall(SYS_dup, fd)));
}

int
dup2(int fd, int to)
{
	return (copied(fd, (int)syscall(SYS_dup2, fd, to)));
}

int
dup3(int fd, int to, int flags)
{
	return (copied(fd, (int)syscall(SYS_dup3, fd, to, flags)));
}

int
fcntl(int fd, int cmd, ...)
{
	va_list	ap;
	long	arg;
	int	r;

	va_start(ap, cmd);
	arg = va_arg(ap, long);
	va_end(ap);
	r = (int)syscall(SYS_fcntl, fd, cmd, arg);
	if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)
		return (copied(fd, r));
	return (r);
}

int	fcntl64(int, int, ...);

int
fcntl64(int fd, int cmd, ...)
{
	va_list	ap;
	long	arg;

	va_start(ap, cmd);
	arg = va_arg(ap, long);
	va_end(ap);
	return (fcntl(fd, cmd, arg));
}

/* -------------------------------------------------------- ioctl */

int
ioctl(int fd, unsigned long req, ...)
{
	struct vfs_msg	 m;
	va_list		 ap;
	void		*arg;
	uint64_t	 ino = 0;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	/* Only VFIO's and iommufd's ';' ioctls can be meant for us. */
	if (_IOC_TYPE(req) != ';' || kind_of(fd, &ino) == 0)
		return ((int)syscall(SYS_ioctl, fd, req, arg));
	memset(&m, 0, sizeof(m));
	m.type = VFS_IOCTL;
	m.a = (int64_t)req;
	m.b = (int64_t)(uintptr_t)arg;
	return ((int)ret(request(fd, ino, &m, NULL, NULL, NULL)));
}

/* ------------------------------------------------ read and write */

static ssize_t
sim_rw(int fd, uint64_t ino, int type, const void *buf, size_t n,
    off_t off)
{
	struct vfs_msg	m;

	memset(&m, 0, sizeof(m));
	m.type = (uint32_t)type;
	m.a = (int64_t)(uintptr_t)buf;
	m.b = (int64_t)n;
	m.d = (int64_t)off;
	return ((ssize_t)ret(request(fd, ino, &m, NULL, NULL, NULL)));
}

ssize_t
read(int fd, void *buf, size_t n)
{
	uint64_t	ino;

	/* Only a data_fd is read(); known when it was installed. */
	if (tabkind(fd) == VFS_K_DATA && kind_of(fd, &ino) == VFS_K_DATA)
		return (sim_rw(fd, ino, VFS_READ, buf, n, 0));
	return ((ssize_t)syscall(SYS_read, fd, buf, n));
}

ssize_t	__read_chk(int, void *, size_t, size_t);

ssize_t
__read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	if (n > buflen)
		abort();
	return (read(fd, buf, n));
}

ssize_t
write(int fd, const void *buf, size_t n)
{
	uint64_t	ino;

	if (tabkind(fd) == VFS_K_DATA && kind_of(fd, &ino) == VFS_K_DATA)
		return (sim_rw(fd, ino, VFS_WRITE, buf, n, 0));
	return ((ssize_t)syscall(SYS_write, fd, buf, n));
}

ssize_t
pread(int fd, void *buf, size_t n, off_t off)
{
	uint64_t	ino;

	if (kind_of(fd, &ino) != 0)
		return (sim_rw(fd, ino, VFS_PREAD, buf, n, off));
	return ((ssize_t)syscall(SYS_pread64, fd, buf, n, off));
}

ssize_t
pread64(int fd, void *buf, size_t n, off_t off)
{
	return (pread(fd, buf, n, off));
}

ssize_t	__pread_chk(int, void *, size_t, off_t, size_t);
ssize_t	__pread64_chk(int, void *, size_t, off_t, size_t);

ssize_t
__pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen)
{
	if (n > buflen)
		abort();
	return (pread(fd, buf, n, off));
}

ssize_t
__pread64_chk(int fd, void *buf, size_t n, off_t off, size_t buflen)
{
	return (__pread_chk(fd, buf, n, off, buflen));
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
	uint64_t	ino;

	if (kind_of(fd, &ino) != 0)
		return (sim_rw(fd, ino, VFS_PWRITE, buf, n, off));
	return ((ssize_t)syscall(SYS_pwrite64, fd, buf, n, off));
}

ssize_t
pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	return (pwrite(fd, buf, n, off));
}

/* --------------------------------------------------------- mmap */

void *
mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	struct vfs_msg	 m;
	uint64_t	 ino;
	int64_t		 moff = 0;
	void		*p;
	long		 r;
	int		 mfd;

	if (fd < 0 || (flags & MAP_ANONYMOUS) || kind_of(fd, &ino) == 0)
		return ((void *)syscall(SYS_mmap, addr, len, prot, flags, fd,
		    off));
	/* The simulator hands over the memory behind that range. */
	memset(&m, 0, sizeof(m));
	m.type = VFS_MMAP;
	m.a = (int64_t)len;
	m.b = prot;
	m.c = flags;
	m.d = (int64_t)off;
	r = request(fd, ino, &m, NULL, &mfd, &moff);
	if (r < 0 || mfd < 0) {
		if (mfd >= 0)
			sys_close(mfd);
		errno = r < 0 ? (int)-r : EIO;
		return (MAP_FAILED);
	}
	p = (void *)syscall(SYS_mmap, addr, len, prot, flags, mfd, moff);
	sys_close(mfd);
	return (p);
}

void *
mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return (mmap(addr, len, prot, flags, fd, off));
}
