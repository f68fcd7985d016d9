/*
 * simproc.c: run vmig-simdev from C (see simproc.h).
 */
#include "config.h"

#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "simproc.h"

const char *
simproc_binary(void)
{
	static char	 path[512];

	return (simproc_path("test/sim/vmig-simdev", path, sizeof(path)));
}

const char *
simproc_path(const char *rel, char *buf, size_t len)
{
	const char	*b = getenv("VMIG_BUILDDIR");

	snprintf(buf, len, "%s/%s", b != NULL ? b : ".", rel);
	return (buf);
}

/* Read one line from fd within ms. */
static int
read_line(int fd, char *buf, size_t len, int ms)
{
	struct pollfd	pfd = { fd, POLLIN, 0 };
	size_t		n = 0;
	ssize_t		r;

	while (n + 1 < len) {
		if (poll(&pfd, 1, ms) <= 0)
			return (-ETIMEDOUT);
		if ((r = read(fd, buf + n, 1)) <= 0)
			return (r == 0 ? -EPIPE : -errno);
		if (buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = '\0';
	return (0);
}

int
simproc_prepare(struct simproc *sp)
{
	memset(sp, 0, sizeof(*sp));
	sp->ctl = -1;
	snprintf(sp->dir, sizeof(sp->dir), "/tmp/vmig-sim.XXXXXX");
	if (mkdtemp(sp->dir) == NULL)
		return (-errno);
	snprintf(sp->sock, sizeof(sp->sock), "%s/pf.sock", sp->dir);
	snprintf(sp->ctlpath, sizeof(sp->ctlpath), "%s/ctl.sock", sp->dir);
	snprintf(sp->spec, sizeof(sp->spec), "sim:%s", sp->sock);
	return (0);
}

int
simproc_exec(struct simproc *sp, const char *const *argv, const char *ready)
{
	struct sockaddr_un sun;
	char		 line[400];
	int		 p[2];

	if (pipe(p) == -1)
		return (-errno);
	if ((sp->pid = fork()) == -1)
		return (-errno);
	if (sp->pid == 0) {
		/* Die with the test: never hold its pipes open after it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(1);
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execv(argv[0], (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	close(p[1]);
	if (read_line(p[0], line, sizeof(line), 10000) != 0 ||
	    strncmp(line, ready, strlen(ready)) != 0) {
		close(p[0]);
		simproc_stop(sp);
		return (-EIO);
	}
	close(p[0]);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(sp->ctlpath) >= sizeof(sun.sun_path)) {
		simproc_stop(sp);
		return (-ENAMETOOLONG);
	}
	memcpy(sun.sun_path, sp->ctlpath, strlen(sp->ctlpath));
	if ((sp->ctl = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(sp->ctl, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		simproc_stop(sp);
		return (-EIO);
	}
	return (0);
}

int
simproc_start(struct simproc *sp, int nvfs, const char *const *extra)
{
	const char	*argv[64];
	char		 vfs[16];
	int		 argc = 0, i, rc;

	if ((rc = simproc_prepare(sp)) != 0)
		return (rc);
	snprintf(vfs, sizeof(vfs), "%d", nvfs);
	argv[argc++] = simproc_binary();
	argv[argc++] = "--socket";
	argv[argc++] = sp->sock;
	argv[argc++] = "--control";
	argv[argc++] = sp->ctlpath;
	argv[argc++] = "--vfs";
	argv[argc++] = vfs;
	argv[argc++] = "--log-level";
	argv[argc++] = getenv("SIM_LOG") != NULL ? getenv("SIM_LOG") : "warn";
	for (i = 0; extra != NULL && extra[i] != NULL && argc < 62; i++)
		argv[argc++] = extra[i];
	argv[argc] = NULL;
	return (simproc_exec(sp, argv, "vmig-simdev ready"));
}

int
simproc_cmd(struct simproc *sp, char *reply, size_t len, const char *fmt,
    ...)
{
	char	 buf[1024], tmp[2048];
	va_list	 ap;
	int	 n;

	if (reply == NULL) {
		reply = tmp;
		len = sizeof(tmp);
	}
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf) - 1)
		return (-EINVAL);
	buf[n++] = '\n';
	if (write(sp->ctl, buf, (size_t)n) != n)
		return (-EIO);
	if (read_line(sp->ctl, reply, len, 20000) != 0)
		return (-EIO);
	return (strncmp(reply, "ok", 2) == 0 ? 0 : -1);
}

int
simproc_hex(struct simproc *sp, unsigned long long *v, const char *fmt, ...)
{
	char	 buf[1024], reply[256];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (simproc_cmd(sp, reply, sizeof(reply), "%s", buf) != 0)
		return (-1);
	return (sscanf(reply, "ok %llx", v) == 1 ? 0 : -1);
}

int
simproc_field(const char *reply, const char *key, char *out, size_t len)
{
	char		 pat[64];
	const char	*p, *e;

	snprintf(pat, sizeof(pat), " %s=", key);
	if ((p = strstr(reply, pat)) == NULL)
		return (-1);
	p += strlen(pat);
	e = strchr(p, ' ');
	if (e == NULL)
		e = p + strlen(p);
	snprintf(out, len, "%.*s", (int)(e - p), p);
	return (0);
}

void
simproc_stop(struct simproc *sp)
{
	char	path[200];
	int	st, i;

	if (sp->ctl != -1) {
		(void)write(sp->ctl, "quit\n", 5);
		close(sp->ctl);
		sp->ctl = -1;
	}
	if (sp->pid > 0) {
		for (i = 0; i < 200; i++) {
			if (waitpid(sp->pid, &st, WNOHANG) == sp->pid)
				break;
			usleep(10000);
		}
		if (i == 200) {
			kill(sp->pid, SIGKILL);
			waitpid(sp->pid, &st, 0);
		}
		sp->pid = 0;
	}
	unlink(sp->sock);
	unlink(sp->ctlpath);
	snprintf(path, sizeof(path), "%s", sp->dir);
	if (path[0] != '\0')
		rmdir(path);
}
