/*
 * vfsim_vmm.c: a VMM stand-in for the fd hand-over tests. Run under
 * LD_PRELOAD=vfsim_preload.so with VFSIM_SOCKET set, it opens a device
 * through the simulated kernel the way a VMM would (its group and a
 * container, or its cdev and an iommufd), maps a memory file for the
 * device's DMA, and then answers vmig's hand-over requests on a UNIX
 * socket with the fds (vfio_open.h) until SIGTERM.
 *
 *	vfsim-vmm --listen PATH --spec vfio:BDF|vfio-cdev:BDF --sysfs DIR
 *	    [--mem FILE,IOVA,SIZE]
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vfio_dev.h"
#include "vfio_log.h"
#include "vfio_open.h"

static void
die(const char *what, const char *err)
{
	fprintf(stderr, "vfsim-vmm: %s: %s\n", what, err);
	exit(1);
}

/* FILE,IOVA,SIZE: map it shared and give it to the device. */
static void
map_mem(struct vfio_dev *d, const char *spec)
{
	char		 path[256], err[256];
	unsigned long long iova, size;
	void		*p;
	int		 fd;

	if (sscanf(spec, "%255[^,],%lli,%lli", path, &iova, &size) != 3)
		die(spec, "want FILE,IOVA,SIZE");
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) == -1)
		die(path, strerror(errno));
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die(path, strerror(errno));
	close(fd);
	if (vfio_dma_map(d, p, iova, size, err, sizeof(err)) != 0)
		die("DMA map", err);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "spec", required_argument, NULL, 's' },
		{ "sysfs", required_argument, NULL, 'y' },
		{ "mem", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 }
	};
	struct vfio_open_opts	 o;
	struct sockaddr_un	 sun;
	struct vfio_dev		*d;
	const char		*listen_at = NULL, *spec = NULL, *mem = NULL;
	char			 err[256], name[64];
	int			 ch, s, c;

	memset(&o, 0, sizeof(o));
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			listen_at = optarg;
			break;
		case 's':
			spec = optarg;
			break;
		case 'y':
			o.sysfs = optarg;
			break;
		case 'm':
			mem = optarg;
			break;
		default:
			exit(2);
		}
	}
	if (listen_at == NULL || spec == NULL)
		die("usage", "--listen PATH --spec SPEC [--sysfs DIR] [--mem]");
	signal(SIGPIPE, SIG_IGN);
	vfio_logfn = vfio_log_stderr;
	if (vfio_open_spec(spec, &o, &d, err, sizeof(err)) != 0)
		die(spec, err);
	if (mem != NULL)
		map_mem(d, mem);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", listen_at);
	unlink(listen_at);
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(s, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(s, 8) == -1)
		die(listen_at, strerror(errno));
	printf("vfsim-vmm ready %s\n", d->name);
	fflush(stdout);
	for (;;) {
		if ((c = accept4(s, NULL, NULL, SOCK_CLOEXEC)) == -1)
			continue;
		if (vfio_handoff_read_request(c, name, sizeof(name), 5000, err,
		    sizeof(err)) != 0)
			(void)vfio_handoff_refuse(c, err);
		else if (name[0] != '\0' && strcmp(name, d->bdf) != 0)
			(void)vfio_handoff_refuse(c, "no such device here");
		else if (vfio_handoff_send(c, d, err, sizeof(err)) != 0)
			fprintf(stderr, "vfsim-vmm: %s\n", err);
		close(c);
	}
}
