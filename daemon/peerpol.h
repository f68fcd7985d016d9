/*
 * peerpol.h: where this daemon may send a VM's memory. StartMigration
 * names the destination's stream URL; before the source dials it, the
 * engine asks peerpol_check() (pure: the URL and the policy in, a verdict
 * out, no resolver, no I/O).
 *
 * The policy ([security] keys):
 *   stream_allow	a comma- or space-separated list of address prefixes
 *			(10.0.0.0/8, fd00::/8, 192.0.2.7) and host names
 *			(dst1.example, or .example for any name under it);
 *			empty: any destination.
 *   stream_require_tls	the URL must be tls+tcp://.
 *   stream_peer_name	the name the destination's certificate must carry:
 *			empty or "host": the URL's host; anything else: that
 *			name. Set, it implies TLS. The verdict's server_name
 *			(over tls+tcp:// always set) goes to the dialer's TLS
 *			configuration, where the TLS engine checks it in the
 *			handshake.
 *
 * A URL whose host is a name is checked against the names only: an
 * address prefix says nothing about a name (the resolver could answer
 * anything). IPv4-mapped IPv6 addresses are checked as IPv4.
 */
#ifndef VMIG_PEERPOL_H
#define VMIG_PEERPOL_H

#include <stddef.h>
#include <stdint.h>

#define PEERPOL_HOST_MAX	256

struct peerpol_net {
	int		 family;	/* 4 or 6 */
	uint8_t		 addr[16];
	unsigned int	 prefix;	/* bits */
};

struct peerpol {
	struct peerpol_net	*nets;
	size_t			 nnets;
	char			**names;	/* lower case; ".x": a suffix */
	size_t			 nnames;
	int			 require_tls;
	char			*peer_name;	/* NULL: none; "host": the URL's */
};

struct peerpol_verdict {
	char		 host[PEERPOL_HOST_MAX];	/* without brackets */
	unsigned int	 port;
	int		 tls;
	/* the name the certificate must carry; "": not TLS */
	char		 server_name[PEERPOL_HOST_MAX];
};

/* Parse the three keys into p; -EINVAL with err naming the bad entry. */
int	 peerpol_parse(struct peerpol *p, const char *allow, int require_tls,
	    const char *peer_name, char *err, size_t errlen);
void	 peerpol_clear(struct peerpol *p);

/*
 * May memory go to url? 0 with v filled, or -EACCES (the policy refuses)
 * or -EINVAL (not a stream URL) with err saying why, naming the URL.
 */
int	 peerpol_check(const struct peerpol *p, const char *url,
	    struct peerpol_verdict *v, char *err, size_t errlen);

#endif /* VMIG_PEERPOL_H */
