/*
 * Name resolution over nstack.
 *
 * glibc's resolver opens its sockets with libc-internal calls no preload can
 * interpose, so under nstack its DNS queries went to the kernel, which in an
 * nstack-only setup has no address to send them from: every lookup failed.
 * Here the resolver entry points are served by c-ares, whose sockets are
 * opened with the ordinary socket() and so go through nstack like any
 * program's (or to the kernel where the handover policy says: loopback
 * servers such as 127.0.0.53, NSTACK_BYPASS networks).
 *
 * What glibc's configuration says is honoured: the `hosts:` line of
 * /etc/nsswitch.conf for its `files` and `dns` sources, in order (c-ares
 * reads /etc/hosts for `files`); /etc/resolv.conf (c-ares reads
 * nameserver, search, domain, options ndots/timeout/attempts/rotate; edns0
 * turns on EDNS). When the hosts line names other sources (myhostname,
 * mdns4, resolve...) and files/dns found nothing, glibc itself is asked, so
 * those keep working. Numeric addresses and service-only lookups go to
 * glibc directly: no resolver is involved.
 *
 * One c-ares channel per call, driven here with the interposed poll() (its
 * sockets are private fds): calls are independent and thread-safe, and a
 * changed resolv.conf applies to the next lookup, as with glibc.
 *
 * Results are laid out as glibc lays out its own (one block per addrinfo
 * with its sockaddr; the canonical name allocated on its own), so the
 * program's freeaddrinfo() -- glibc's -- frees them.
 */
#include <ares.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preload.h"

/* Not <resolv.h>: it renames res_query and friends to __res_* with macros. */
typedef struct __res_state *res_state;

/* --- configuration ------------------------------------------------------ */

struct res_conf {
	char lookups[4]; /* c-ares order: 'f' files, 'b' dns */
	bool other;	 /* the hosts line names sources c-ares does not serve */
	bool edns;
};

/* The hosts line of nsswitch.conf (glibc's default "dns [!UNAVAIL=return] files" if none). */
static void read_conf(struct res_conf *c)
{
	char line[512];
	FILE *f;
	size_t n = 0;
	bool found = false;

	memset(c, 0, sizeof(*c));
	f = fopen("/etc/nsswitch.conf", "re");
	while (f && fgets(line, sizeof(line), f)) {
		char *p = line, *tok, *save;

		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, "hosts:", 6))
			continue;
		found = true;
		for (tok = strtok_r(p + 6, " \t\n", &save); tok;
		     tok = strtok_r(NULL, " \t\n", &save)) {
			if (*tok == '[')
				continue; /* actions: the order is what matters here */
			if (!strcmp(tok, "files") && !memchr(c->lookups, 'f', n) && n < 2)
				c->lookups[n++] = 'f';
			else if (!strcmp(tok, "dns") && !memchr(c->lookups, 'b', n) && n < 2)
				c->lookups[n++] = 'b';
			else if (strcmp(tok, "files") && strcmp(tok, "dns"))
				c->other = true;
		}
		break;
	}
	if (f)
		fclose(f);
	if (!found)
		strcpy(c->lookups, "bf");
	f = fopen("/etc/resolv.conf", "re");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "options", 7) && strstr(line, "edns0"))
			c->edns = true;
	if (f)
		fclose(f);
}

static int lib_rc = ARES_ENOTINITIALIZED;

static void lib_init(void)
{
	lib_rc = ares_library_init(ARES_LIB_INIT_ALL);
}

static int channel_open(ares_channel *ch, const struct res_conf *c)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct ares_options o = {0};
	int mask = 0;

	pthread_once(&once, lib_init);
	if (lib_rc != ARES_SUCCESS)
		return lib_rc;
	o.lookups = (char *)c->lookups;
	mask |= ARES_OPT_LOOKUPS;
	if (c->edns) {
		o.flags = ARES_FLAG_EDNS;
		mask |= ARES_OPT_FLAGS;
	}
	return ares_init_options(ch, &o, mask);
}

/* Runs the channel until its queries are done, waiting with nstack's poll(). */
static void channel_run(ares_channel ch)
{
	for (;;) {
		ares_socket_t s[ARES_GETSOCK_MAXNUM];
		struct pollfd p[ARES_GETSOCK_MAXNUM];
		struct timeval tv, *t;
		/*
		 * Unsigned: c-ares's ARES_GETSOCK_WRITABLE shifts an int 1 by
		 * up to 31 places, undefined behaviour (UBSan in make asan-lab).
		 */
		unsigned int bits = (unsigned int)ares_getsock(ch, s, ARES_GETSOCK_MAXNUM);
		int n = 0, rc;

		for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
			short ev =
			    (short)(((bits >> i) & 1u ? POLLIN : 0) |
				    ((bits >> (i + ARES_GETSOCK_MAXNUM)) & 1u ? POLLOUT : 0));

			if (ev)
				p[n++] = (struct pollfd){.fd = s[i], .events = ev};
		}
		t = ares_timeout(ch, NULL, &tv);
		if (!n && !t)
			return; /* nothing pending */
		rc = poll(p, (nfds_t)n,
			  t ? (int)(t->tv_sec * 1000 + (t->tv_usec + 999) / 1000) : -1);
		if (rc < 0 && errno != EINTR)
			return;
		if (rc <= 0) {
			ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
			continue;
		}
		for (int i = 0; i < n; i++)
			ares_process_fd(ch,
					(p[i].revents & (POLLIN | POLLERR | POLLHUP))
					    ? p[i].fd
					    : ARES_SOCKET_BAD,
					(p[i].revents & POLLOUT) ? p[i].fd : ARES_SOCKET_BAD);
	}
}

/*
 * Whether node is a numeric address, which glibc answers without any
 * lookup: IPv4 in every form inet_aton() takes ("10.1" too), IPv6 with an
 * optional zone ("fe80::1%eth0", "ff02::1%2"), which c-ares does not parse.
 */
static bool numeric(const char *node)
{
	unsigned char b[16];
	char six[INET6_ADDRSTRLEN];
	const char *pct = strchr(node, '%');
	struct in_addr a4;

	if (inet_aton(node, &a4))
		return true;
	if (!pct)
		return inet_pton(AF_INET6, node, b) == 1;
	if ((size_t)(pct - node) >= sizeof(six) || !pct[1])
		return false;
	memcpy(six, node, (size_t)(pct - node));
	six[pct - node] = 0;
	return inet_pton(AF_INET6, six, b) == 1;
}

/* Whether this call is one for c-ares at all. */
static bool ours(const char *node)
{
	return !nsp_inside && node && *node && !numeric(node);
}

/* --- getaddrinfo ---------------------------------------------------------- */

struct gai_req {
	int status;
	struct ares_addrinfo *res;
};

static void gai_done(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
	struct gai_req *r = arg;

	(void)timeouts;
	r->status = status;
	r->res = res;
}

static int eai_of(int status)
{
	switch (status) {
	case ARES_SUCCESS:
		return 0;
	case ARES_ENOTFOUND:
		return EAI_NONAME;
	case ARES_ENODATA:
		return EAI_NODATA;
	case ARES_ENOMEM:
		return EAI_MEMORY;
	case ARES_ESERVICE:
		return EAI_SERVICE;
	case ARES_EBADFAMILY:
		return EAI_FAMILY;
	case ARES_EBADFLAGS:
	case ARES_EBADHINTS:
		return EAI_BADFLAGS;
	case ARES_ENONAME:
		return EAI_NONAME;
	default: /* timeouts, refused, server failures: worth trying again */
		return EAI_AGAIN;
	}
}

/* One glibc-shaped addrinfo: the node and its address in one block. */
static struct addrinfo *gai_node(const struct ares_addrinfo_node *n, int socktype, int protocol)
{
	struct addrinfo *ai = calloc(1, sizeof(*ai) + sizeof(struct sockaddr_in6));

	if (!ai)
		return NULL;
	ai->ai_family = n->ai_family;
	ai->ai_socktype = socktype;
	ai->ai_protocol = protocol;
	ai->ai_addrlen = n->ai_addrlen;
	ai->ai_addr = (struct sockaddr *)(ai + 1);
	memcpy(ai->ai_addr, n->ai_addr,
	       n->ai_addrlen < sizeof(struct sockaddr_in6) ? n->ai_addrlen
							   : sizeof(struct sockaddr_in6));
	return ai;
}

/* c-ares' answer as glibc's list: one entry per socket type asked for (all three if none). */
static int gai_convert(const struct ares_addrinfo *res, const struct addrinfo *hints, bool service,
		       struct addrinfo **out)
{
	static const int all[][2] = {
	    {SOCK_STREAM, IPPROTO_TCP}, {SOCK_DGRAM, IPPROTO_UDP}, {SOCK_RAW, 0}};
	struct addrinfo *head = NULL, **tail = &head;
	int types[3][2], nt = 0;

	if (hints && hints->ai_socktype) {
		types[0][0] = hints->ai_socktype;
		types[0][1] = hints->ai_protocol		  ? hints->ai_protocol
			      : hints->ai_socktype == SOCK_STREAM ? IPPROTO_TCP
			      : hints->ai_socktype == SOCK_DGRAM  ? IPPROTO_UDP
								  : 0;
		nt = 1;
	} else {
		/* As glibc: a service has no raw socket type. */
		for (nt = 0; nt < (service ? 2 : 3); nt++)
			types[nt][0] = all[nt][0], types[nt][1] = all[nt][1];
	}
	for (const struct ares_addrinfo_node *n = res->nodes; n; n = n->ai_next) {
		if (n->ai_family != AF_INET && n->ai_family != AF_INET6)
			continue;
		for (int t = 0; t < nt; t++) {
			struct addrinfo *ai = gai_node(n, types[t][0], types[t][1]);

			if (!ai) {
				freeaddrinfo(head);
				return EAI_MEMORY;
			}
			*tail = ai;
			tail = &ai->ai_next;
		}
	}
	if (!head)
		return EAI_NODATA;
	if (hints && (hints->ai_flags & AI_CANONNAME)) {
		const char *cn = res->name;

		for (const struct ares_addrinfo_cname *c = res->cnames; c; c = c->next)
			if (c->name)
				cn = c->name; /* the end of the CNAME chain */
		if (cn && !(head->ai_canonname = strdup(cn))) {
			freeaddrinfo(head);
			return EAI_MEMORY;
		}
	}
	*out = head;
	return 0;
}

static int (*real_getaddrinfo(void))(const char *, const char *, const struct addrinfo *,
				     struct addrinfo **)
{
	static int (*real)(const char *, const char *, const struct addrinfo *, struct addrinfo **);

	if (!real)
		real = (int (*)(const char *, const char *, const struct addrinfo *,
				struct addrinfo **))nsp_dlsym("getaddrinfo");
	return real;
}

NSP_EXPORT int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
			   struct addrinfo **res)
{
	struct ares_addrinfo_hints h = {0};
	struct gai_req r = {.status = ARES_ENOTFOUND};
	struct res_conf c;
	ares_channel ch;
	int rc;

	if (!ours(node) || (hints && (hints->ai_flags & AI_NUMERICHOST)))
		return real_getaddrinfo()(node, service, hints, res);
	read_conf(&c);
	if (!c.lookups[0])
		return real_getaddrinfo()(node, service, hints, res);
	if (hints) {
		if (hints->ai_family != AF_UNSPEC && hints->ai_family != AF_INET &&
		    hints->ai_family != AF_INET6)
			return EAI_FAMILY;
		h.ai_family = hints->ai_family;
		h.ai_socktype = hints->ai_socktype;
		h.ai_protocol = hints->ai_protocol;
		h.ai_flags = hints->ai_flags & (AI_CANONNAME | AI_NUMERICSERV | AI_PASSIVE);
		/* nstack's own addresses decide: IPv6 only when the stack carries it. */
		if ((hints->ai_flags & AI_ADDRCONFIG) && h.ai_family == AF_UNSPEC &&
		    !nsp_policy.ipv6)
			h.ai_family = AF_INET;
	}
	h.ai_flags |= ARES_AI_NOSORT;
	rc = channel_open(&ch, &c);
	if (rc != ARES_SUCCESS)
		return eai_of(rc);
	ares_getaddrinfo(ch, node, service, &h, gai_done, &r);
	channel_run(ch);
	ares_destroy(ch);
	if (r.status == ARES_SUCCESS) {
		rc = gai_convert(r.res, hints, service != NULL, res);
		ares_freeaddrinfo(r.res);
		if (rc != EAI_NODATA || !c.other)
			return rc;
	} else if (r.res) {
		ares_freeaddrinfo(r.res);
	}
	/* Sources only glibc knows (myhostname, mdns...) may still have it. */
	if (c.other &&
	    (r.status == ARES_ENOTFOUND || r.status == ARES_ENODATA || r.status == ARES_SUCCESS))
		return real_getaddrinfo()(node, service, hints, res);
	return eai_of(r.status);
}

/* --- gethostbyname family ------------------------------------------------ */

/*
 * Fills he (aliases none, addresses of family af) in buf from getaddrinfo's
 * answer. 0, ERANGE when buf is too small, or -1 with *herr set.
 */
static int hostent_fill(const char *name, int af, struct hostent *he, char *buf, size_t len,
			int *herr)
{
	struct addrinfo hints = {.ai_family = af,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_CANONNAME},
			*res, *ai;
	size_t alen = af == AF_INET6 ? 16 : 4, naddr = 0, need;
	const char *cn;
	char *p = buf, **addrs, **aliases;
	int rc = getaddrinfo(name, NULL, &hints, &res);

	if (rc) {
		*herr = rc == EAI_NONAME   ? HOST_NOT_FOUND
			: rc == EAI_NODATA ? NO_DATA
			: rc == EAI_AGAIN  ? TRY_AGAIN
					   : NO_RECOVERY;
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next)
		naddr++;
	cn = res->ai_canonname ? res->ai_canonname : name;
	need = (naddr + 1) * sizeof(char *) + sizeof(char *) + naddr * alen + strlen(cn) + 1 +
	       sizeof(char *);
	if (need > len) {
		freeaddrinfo(res);
		return ERANGE;
	}
	/* Pointer arrays first (aligned by the caller's buffer, rounded up here). */
	p = (char *)(((uintptr_t)p + sizeof(char *) - 1) & ~(uintptr_t)(sizeof(char *) - 1));
	addrs = (char **)p;
	p += (naddr + 1) * sizeof(char *);
	aliases = (char **)p;
	p += sizeof(char *);
	aliases[0] = NULL;
	naddr = 0;
	for (ai = res; ai; ai = ai->ai_next) {
		const void *a = af == AF_INET6
				    ? (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
				    : (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;

		memcpy(p, a, alen);
		addrs[naddr++] = p;
		p += alen;
	}
	addrs[naddr] = NULL;
	strcpy(p, cn);
	he->h_name = p;
	he->h_aliases = aliases;
	he->h_addrtype = af;
	he->h_length = (int)alen;
	he->h_addr_list = addrs;
	freeaddrinfo(res);
	return 0;
}

static int hostent_r(const char *name, int af, struct hostent *ret, char *buf, size_t len,
		     struct hostent **result, int *herr)
{
	int tmp, rc;

	if (!herr)
		herr = &tmp;
	*result = NULL;
	if (af != AF_INET && af != AF_INET6) {
		*herr = NO_RECOVERY;
		return EAFNOSUPPORT;
	}
	rc = hostent_fill(name, af, ret, buf, len, herr);
	if (rc == ERANGE) {
		*herr = NETDB_INTERNAL;
		errno = ERANGE;
		return ERANGE;
	}
	if (rc) {
		/* glibc's gethostbyname_r: 0 with a NULL result when the name has no address. */
		return 0;
	}
	*herr = NETDB_SUCCESS;
	*result = ret;
	return 0;
}

/*
 * The non-reentrant forms' static result, one for the process as glibc's
 * (MT-Unsafe there too). Not thread-local: 4 KiB of static TLS makes
 * dlopen() of the library fail ("cannot allocate memory in static TLS
 * block"), which is how the nstack wrapper loads it.
 */
static struct hostent static_he;
static char static_buf[4096];

static struct hostent *hostent_static(const char *name, int af)
{
	struct hostent *r;
	int herr = 0;

	if (hostent_r(name, af, &static_he, static_buf, sizeof(static_buf), &r, &herr) || !r) {
		h_errno = herr;
		return NULL;
	}
	return r;
}

typedef int (*ghbn2_r_fn)(const char *, int, struct hostent *, char *, size_t, struct hostent **,
			  int *);

static ghbn2_r_fn real_ghbn2_r(void)
{
	static ghbn2_r_fn real;

	if (!real)
		real = (ghbn2_r_fn)nsp_dlsym("gethostbyname2_r");
	return real;
}

NSP_EXPORT int gethostbyname2_r(const char *name, int af, struct hostent *ret, char *buf,
				size_t len, struct hostent **result, int *herr)
{
	if (!ours(name))
		return real_ghbn2_r()(name, af, ret, buf, len, result, herr);
	return hostent_r(name, af, ret, buf, len, result, herr);
}

NSP_EXPORT int gethostbyname_r(const char *name, struct hostent *ret, char *buf, size_t len,
			       struct hostent **result, int *herr)
{
	return gethostbyname2_r(name, AF_INET, ret, buf, len, result, herr);
}

NSP_EXPORT struct hostent *gethostbyname2(const char *name, int af)
{
	struct hostent *r;
	int herr = 0;

	if (!ours(name)) {
		if (real_ghbn2_r()(name, af, &static_he, static_buf, sizeof(static_buf), &r,
				   &herr) ||
		    !r) {
			h_errno = herr;
			return NULL;
		}
		return r;
	}
	return hostent_static(name, af);
}

NSP_EXPORT struct hostent *gethostbyname(const char *name)
{
	return gethostbyname2(name, AF_INET);
}

/* --- reverse lookups -------------------------------------------------------- */

struct ghba_req {
	int status;
	char name[NI_MAXHOST];
};

static void ghba_done(void *arg, int status, int timeouts, struct hostent *he)
{
	struct ghba_req *r = arg;

	(void)timeouts;
	r->status = status;
	if (status == ARES_SUCCESS && he && he->h_name)
		snprintf(r->name, sizeof(r->name), "%s", he->h_name);
	else if (status == ARES_SUCCESS)
		r->status = ARES_ENOTFOUND;
}

/* The name of address a (4 or 16 bytes), by files/dns as configured: an ARES_ status. */
static int reverse(const void *a, int af, char *name, size_t len)
{
	struct ghba_req r = {.status = ARES_ENOTFOUND};
	struct res_conf c;
	ares_channel ch;
	int rc;

	read_conf(&c);
	if (!c.lookups[0])
		return ARES_ENOTFOUND;
	rc = channel_open(&ch, &c);
	if (rc != ARES_SUCCESS)
		return rc;
	ares_gethostbyaddr(ch, a, af == AF_INET6 ? 16 : 4, af, ghba_done, &r);
	channel_run(ch);
	ares_destroy(ch);
	if (r.status == ARES_SUCCESS)
		snprintf(name, len, "%s", r.name);
	return r.status;
}

typedef int (*gni_fn)(const struct sockaddr *, socklen_t, char *, socklen_t, char *, socklen_t,
		      int);

NSP_EXPORT int getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host,
			   socklen_t hostlen, char *serv, socklen_t servlen, int flags)
{
	static gni_fn real;
	char name[NI_MAXHOST];
	const void *a;
	int rc;

	if (!real)
		real = (gni_fn)nsp_dlsym("getnameinfo");
	if (nsp_inside || !host || !hostlen || (flags & NI_NUMERICHOST) || !sa ||
	    (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) ||
	    salen < (sa->sa_family == AF_INET ? sizeof(struct sockaddr_in)
					      : sizeof(struct sockaddr_in6)))
		return real(sa, salen, host, hostlen, serv, servlen, flags);
	a = sa->sa_family == AF_INET ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
				     : (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
	rc = reverse(a, sa->sa_family, name, sizeof(name));
	if (rc != ARES_SUCCESS) {
		if (flags & NI_NAMEREQD)
			return rc == ARES_ENOTFOUND || rc == ARES_ENODATA ? EAI_NONAME : EAI_AGAIN;
		/* The numeric form, as glibc gives when there is no name. */
		return real(sa, salen, host, hostlen, serv, servlen, flags | NI_NUMERICHOST);
	}
	if (flags & NI_NOFQDN) {
		char *dot = strchr(name, '.');

		if (dot)
			*dot = '\0';
	}
	if (strlen(name) >= hostlen)
		return EAI_OVERFLOW;
	strcpy(host, name);
	if (serv && servlen)
		return real(sa, salen, NULL, 0, serv, servlen, flags);
	return 0;
}

NSP_EXPORT int gethostbyaddr_r(const void *addr, socklen_t len, int af, struct hostent *ret,
			       char *buf, size_t buflen, struct hostent **result, int *herr)
{
	size_t alen = af == AF_INET6 ? 16 : 4, need;
	char name[NI_MAXHOST], *p;
	int tmp, rc;

	if (!herr)
		herr = &tmp;
	*result = NULL;
	if ((af != AF_INET && af != AF_INET6) || len != alen) {
		*herr = NO_RECOVERY;
		return EINVAL;
	}
	rc = nsp_inside ? ARES_ENOTFOUND : reverse(addr, af, name, sizeof(name));
	if (rc != ARES_SUCCESS) {
		*herr = rc == ARES_ENOTFOUND ? HOST_NOT_FOUND
			: rc == ARES_ENODATA ? NO_DATA
					     : TRY_AGAIN;
		return 0;
	}
	need = 3 * sizeof(char *) + alen + strlen(name) + 1 + sizeof(char *);
	if (need > buflen) {
		*herr = NETDB_INTERNAL;
		errno = ERANGE;
		return ERANGE;
	}
	p = (char *)(((uintptr_t)buf + sizeof(char *) - 1) & ~(uintptr_t)(sizeof(char *) - 1));
	ret->h_addr_list = (char **)p;
	ret->h_aliases = (char **)p + 2;
	ret->h_aliases[0] = NULL;
	p += 3 * sizeof(char *);
	memcpy(p, addr, alen);
	ret->h_addr_list[0] = p;
	ret->h_addr_list[1] = NULL;
	p += alen;
	strcpy(p, name);
	ret->h_name = p;
	ret->h_addrtype = af;
	ret->h_length = (int)alen;
	*herr = NETDB_SUCCESS;
	*result = ret;
	return 0;
}

NSP_EXPORT struct hostent *gethostbyaddr(const void *addr, socklen_t len, int af)
{
	struct hostent *r;
	int herr = 0;

	if (gethostbyaddr_r(addr, len, af, &static_he, static_buf, sizeof(static_buf), &r, &herr) ||
	    !r) {
		h_errno = herr;
		return NULL;
	}
	return r;
}

/* --- res_query / res_search / res_send ------------------------------------ */

struct rq_req {
	int status, len;
	unsigned char *answer;
	int anslen;
};

static void rq_done(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct rq_req *r = arg;

	(void)timeouts;
	r->status = status;
	if (abuf && alen > 0) {
		/* As glibc: what fits is copied, the full length returned. */
		memcpy(r->answer, abuf, (size_t)(alen < r->anslen ? alen : r->anslen));
		r->len = alen;
	}
}

enum rq_kind { RQ_QUERY, RQ_SEARCH, RQ_SEND };

/* One res_* call through c-ares; returns the answer's length or -1 with h_errno. */
static int rq_run(enum rq_kind kind, const char *name, int class, int type,
		  const unsigned char *msg, int msglen, unsigned char *answer, int anslen)
{
	struct rq_req r = {
	    .status = ARES_ECONNREFUSED, .len = -1, .answer = answer, .anslen = anslen};
	struct res_conf c;
	ares_channel ch;
	int rc;

	read_conf(&c);
	strcpy(c.lookups, "b"); /* the res_* calls are DNS only */
	rc = channel_open(&ch, &c);
	if (rc != ARES_SUCCESS) {
		h_errno = NO_RECOVERY;
		return -1;
	}
	if (kind == RQ_QUERY)
		ares_query(ch, name, class, type, rq_done, &r);
	else if (kind == RQ_SEARCH)
		ares_search(ch, name, class, type, rq_done, &r);
	else
		ares_send(ch, msg, msglen, rq_done, &r);
	channel_run(ch);
	ares_destroy(ch);
	if (r.status == ARES_SUCCESS && r.len >= 0) {
		h_errno = NETDB_SUCCESS;
		return r.len;
	}
	h_errno = r.status == ARES_ENOTFOUND ? HOST_NOT_FOUND
		  : r.status == ARES_ENODATA ? NO_DATA
		  : r.status == ARES_ESERVFAIL || r.status == ARES_ETIMEOUT ||
			  r.status == ARES_ECONNREFUSED
		      ? TRY_AGAIN
		      : NO_RECOVERY;
	errno = r.status == ARES_ECONNREFUSED ? ECONNREFUSED
		: r.status == ARES_ETIMEOUT   ? ETIMEDOUT
					      : errno;
	return -1;
}

NSP_EXPORT int res_query(const char *dname, int class, int type, unsigned char *answer, int anslen)
{
	return rq_run(RQ_QUERY, dname, class, type, NULL, 0, answer, anslen);
}

NSP_EXPORT int res_search(const char *dname, int class, int type, unsigned char *answer, int anslen)
{
	return rq_run(RQ_SEARCH, dname, class, type, NULL, 0, answer, anslen);
}

NSP_EXPORT int res_send(const unsigned char *msg, int msglen, unsigned char *answer, int anslen)
{
	return rq_run(RQ_SEND, NULL, 0, 0, msg, msglen, answer, anslen);
}

/* The res_n* forms: the state's options are not applied (resolv.conf is read afresh). */
NSP_EXPORT int res_nquery(res_state st, const char *dname, int class, int type,
			  unsigned char *answer, int anslen)
{
	(void)st;
	return res_query(dname, class, type, answer, anslen);
}

NSP_EXPORT int res_nsearch(res_state st, const char *dname, int class, int type,
			   unsigned char *answer, int anslen)
{
	(void)st;
	return res_search(dname, class, type, answer, anslen);
}

NSP_EXPORT int res_nsend(res_state st, const unsigned char *msg, int msglen, unsigned char *answer,
			 int anslen)
{
	(void)st;
	return res_send(msg, msglen, answer, anslen);
}

/* The names older programs link against (glibc < 2.34's libresolv). */
NSP_EXPORT int __res_query(const char *d, int c, int t, unsigned char *a, int l)
{
	return res_query(d, c, t, a, l);
}

NSP_EXPORT int __res_search(const char *d, int c, int t, unsigned char *a, int l)
{
	return res_search(d, c, t, a, l);
}

NSP_EXPORT int __res_send(const unsigned char *m, int ml, unsigned char *a, int l)
{
	return res_send(m, ml, a, l);
}

NSP_EXPORT int __res_nquery(res_state st, const char *d, int c, int t, unsigned char *a, int l)
{
	return res_nquery(st, d, c, t, a, l);
}

NSP_EXPORT int __res_nsearch(res_state st, const char *d, int c, int t, unsigned char *a, int l)
{
	return res_nsearch(st, d, c, t, a, l);
}

NSP_EXPORT int __res_nsend(res_state st, const unsigned char *m, int ml, unsigned char *a, int l)
{
	return res_nsend(st, m, ml, a, l);
}
