/*
 * peerpol.c: the stream destination policy (peerpol.h).
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peerpol.h"
#include "util.h"

/* "10.0.0.1" or "fd00::1" into family and 16 bytes (v4 and mapped v4: 4). */
static int
peerpol_addr(const char *s, int *family, uint8_t addr[16])
{
	static const uint8_t	mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
				    0xff, 0xff };
	uint8_t			a6[16];

	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, addr) == 1) {
		*family = 4;
		return (0);
	}
	if (inet_pton(AF_INET6, s, a6) != 1)
		return (-1);
	if (memcmp(a6, mapped, sizeof(mapped)) == 0) {
		memcpy(addr, a6 + 12, 4);
		*family = 4;
		return (0);
	}
	memcpy(addr, a6, 16);
	*family = 6;
	return (0);
}

static int
peerpol_name_ok(const char *s)
{
	size_t	n;

	for (n = 0; s[n] != '\0'; n++) {
		if (!isalnum((unsigned char)s[n]) && s[n] != '-' &&
		    s[n] != '.')
			return (0);
	}
	return (n > 0 && n < PEERPOL_HOST_MAX && strcmp(s, ".") != 0);
}

static void
peerpol_lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* One allow-list entry: an address, a prefix, a name or a ".suffix". */
static int
peerpol_entry(struct peerpol *p, char *e, char *err, size_t errlen)
{
	struct peerpol_net	 net;
	char			*slash, *end;
	unsigned long		 bits;
	unsigned int		 i;

	if ((slash = strchr(e, '/')) != NULL)
		*slash = '\0';
	if (peerpol_addr(e, &net.family, net.addr) == 0) {
		net.prefix = net.family == 4 ? 32 : 128;
		if (slash != NULL) {
			errno = 0;
			bits = strtoul(slash + 1, &end, 10);
			if (!isdigit((unsigned char)slash[1]) || *end != '\0' ||
			    errno != 0 || bits > net.prefix)
				return (err_set(err, errlen, -EINVAL, "stream_allow "
				    "entry %s/%s: the prefix length must be 0 to "
				    "%u", e, slash + 1, net.prefix));
			net.prefix = (unsigned int)bits;
		}
		/* host bits set: a typo we would rather hear about */
		for (i = net.prefix; i < (net.family == 4 ? 32u : 128u); i++) {
			if (net.addr[i / 8] & (0x80 >> (i % 8)))
				return (err_set(err, errlen, -EINVAL,
				    "stream_allow entry %s/%u: bits are set past "
				    "the prefix", e, net.prefix));
		}
		p->nets = xreallocarray(p->nets, p->nnets + 1,
		    sizeof(*p->nets));
		p->nets[p->nnets++] = net;
		return (0);
	}
	if (slash != NULL || !peerpol_name_ok(e))
		return (err_set(err, errlen, -EINVAL, "stream_allow entry '%s%s%s': "
		    "not an address, a prefix (10.0.0.0/8, fd00::/8) or a host "
		    "name", e, slash != NULL ? "/" : "", slash != NULL ?
		    slash + 1 : ""));
	p->names = xreallocarray(p->names, p->nnames + 1, sizeof(*p->names));
	p->names[p->nnames] = xstrdup(e);
	peerpol_lower(p->names[p->nnames++]);
	return (0);
}

int
peerpol_parse(struct peerpol *p, const char *allow, int require_tls,
    const char *peer_name, char *err, size_t errlen)
{
	char	*s, *tok, *save = NULL;
	int	 rc = 0;

	memset(p, 0, sizeof(*p));
	p->require_tls = require_tls;
	if (peer_name != NULL && *peer_name != '\0') {
		if (strcmp(peer_name, "host") != 0 &&
		    !peerpol_name_ok(peer_name)) {
			return (err_set(err, errlen, -EINVAL, "stream_peer_name "
			    "'%s': not a host name (or \"host\")", peer_name));
		}
		p->peer_name = xstrdup(peer_name);
		p->require_tls = 1;
	}
	s = xstrdup(allow != NULL ? allow : "");
	for (tok = strtok_r(s, ", \t", &save); tok != NULL && rc == 0;
	    tok = strtok_r(NULL, ", \t", &save))
		rc = peerpol_entry(p, tok, err, errlen);
	free(s);
	if (rc != 0)
		peerpol_clear(p);
	return (rc);
}

void
peerpol_clear(struct peerpol *p)
{
	size_t	i;

	for (i = 0; i < p->nnames; i++)
		free(p->names[i]);
	free(p->names);
	free(p->nets);
	free(p->peer_name);
	memset(p, 0, sizeof(*p));
}

/* scheme://host:port into v; -EINVAL with err. */
static int
peerpol_url(const char *url, struct peerpol_verdict *v, char *err,
    size_t errlen)
{
	static const struct {
		const char	*scheme;
		int		 tls;
	} schemes[] = {
		{ "tcp://", 0 }, { "tcp4://", 0 }, { "tcp6://", 0 },
		{ "tls+tcp://", 1 }, { "tls+tcp4://", 1 }, { "tls+tcp6://", 1 },
	};
	const char	*hp = NULL, *colon, *close;
	unsigned long	 port;
	size_t		 i, n;
	char		*end;

	for (i = 0; i < nitems(schemes); i++) {
		n = strlen(schemes[i].scheme);
		if (strncmp(url, schemes[i].scheme, n) == 0) {
			hp = url + n;
			v->tls = schemes[i].tls;
			break;
		}
	}
	if (hp == NULL)
		return (err_set(err, errlen, -EINVAL, "stream URL %s: not "
		    "tcp:// or tls+tcp://", url));
	if (*hp == '[') {
		if ((close = strchr(hp, ']')) == NULL || close[1] != ':')
			return (err_set(err, errlen, -EINVAL, "stream URL %s: "
			    "[IPv6]:port expected", url));
		n = (size_t)(close - hp - 1);
		colon = close + 1;
		hp++;
	} else {
		if ((colon = strrchr(hp, ':')) == NULL)
			return (err_set(err, errlen, -EINVAL, "stream URL %s: "
			    "no port", url));
		n = (size_t)(colon - hp);
	}
	if (n == 0 || n >= sizeof(v->host))
		return (err_set(err, errlen, -EINVAL, "stream URL %s: no host, "
		    "or one too long", url));
	memcpy(v->host, hp, n);
	v->host[n] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (!isdigit((unsigned char)colon[1]) || *end != '\0' || errno != 0 ||
	    port == 0 || port > 65535)
		return (err_set(err, errlen, -EINVAL, "stream URL %s: port '%s' "
		    "is not 1-65535", url, colon + 1));
	v->port = (unsigned int)port;
	return (0);
}

static int
peerpol_net_has(const struct peerpol_net *net, int family,
    const uint8_t *addr)
{
	unsigned int	full = net->prefix / 8, rest = net->prefix % 8;

	if (net->family != family || memcmp(net->addr, addr, full) != 0)
		return (0);
	return (rest == 0 || ((net->addr[full] ^ addr[full]) &
	    (uint8_t)(0xff << (8 - rest))) == 0);
}

static int
peerpol_name_has(const char *entry, const char *host)
{
	size_t	le = strlen(entry), lh = strlen(host);

	if (entry[0] == '.')
		return (lh > le && strcmp(host + lh - le, entry) == 0);
	return (strcmp(entry, host) == 0);
}

/* Is the host on the allow-list? (1, or 0 with the reason in why) */
static int
peerpol_allowed(const struct peerpol *p, const char *host, char *why,
    size_t whylen)
{
	uint8_t		addr[16];
	char		lower[PEERPOL_HOST_MAX];
	size_t		i;
	int		family;

	if (p->nnets == 0 && p->nnames == 0)
		return (1);
	if (peerpol_addr(host, &family, addr) == 0) {
		for (i = 0; i < p->nnets; i++) {
			if (peerpol_net_has(&p->nets[i], family, addr))
				return (1);
		}
		err_set(why, whylen, 0, "%s is in no prefix of stream_allow",
		    host);
		return (0);
	}
	strlcpy_v(lower, host, sizeof(lower));
	peerpol_lower(lower);
	for (i = 0; i < p->nnames; i++) {
		if (peerpol_name_has(p->names[i], lower))
			return (1);
	}
	err_set(why, whylen, 0, "%s is no name in stream_allow%s", host,
	    p->nnets != 0 ? " (a name is never checked against address "
	    "prefixes: list it, or use its address)" : "");
	return (0);
}

int
peerpol_check(const struct peerpol *p, const char *url,
    struct peerpol_verdict *v, char *err, size_t errlen)
{
	char	why[512];
	int	rc;

	memset(v, 0, sizeof(*v));
	if ((rc = peerpol_url(url, v, err, errlen)) != 0)
		return (rc);
	if (!peerpol_allowed(p, v->host, why, sizeof(why)))
		return (err_set(err, errlen, -EACCES, "stream URL %s: %s: this "
		    "daemon does not send memory there", url, why));
	if (p->require_tls && !v->tls)
		return (err_set(err, errlen, -EACCES, "stream URL %s: not "
		    "tls+tcp://, and %s", url, p->peer_name != NULL ?
		    "stream_peer_name needs the destination's certificate" :
		    "stream_require_tls is set"));
	/* over TLS a name is always checked: the URL's host by default */
	if (p->peer_name != NULL && strcmp(p->peer_name, "host") != 0)
		strlcpy_v(v->server_name, p->peer_name, sizeof(v->server_name));
	else if (v->tls)
		strlcpy_v(v->server_name, v->host, sizeof(v->server_name));
	return (0);
}
