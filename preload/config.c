/*
 * NSTACK_* parsing (see config.h). Every error message names the variable
 * the user has to fix, because that is the first thing they will look for.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "config.h"

/* Dotted quad, exactly four decimal parts (inet_pton's strict form). */
int nsp_parse_ipv4(const char *s, uint32_t *addr)
{
	struct in_addr a;

	if (!s || inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*addr = a.s_addr;
	return 0;
}

/* ADDR/LEN with LEN in 1..32. */
int nsp_parse_cidr(const char *s, uint32_t *addr, unsigned int *prefixlen)
{
	char buf[INET_ADDRSTRLEN + 4];
	const char *slash;
	char *end;
	unsigned long len;

	if (!s || !(slash = strchr(s, '/')) || (size_t)(slash - s) >= INET_ADDRSTRLEN)
		return -EINVAL;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = '\0';
	if (nsp_parse_ipv4(buf, addr))
		return -EINVAL;
	if (!isdigit((unsigned char)slash[1]))
		return -EINVAL;
	errno = 0;
	len = strtoul(slash + 1, &end, 10);
	if (errno || *end || len < 1 || len > 32)
		return -EINVAL;
	*prefixlen = (unsigned int)len;
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Six two-digit hex bytes separated by ':' or '-'; unicast only. */
int nsp_parse_mac(const char *s, uint8_t mac[6])
{
	uint8_t m[6];

	if (!s || strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		int hi = hexval(s[3 * i]), lo = hexval(s[3 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		if (i < 5 && s[3 * i + 2] != ':' && s[3 * i + 2] != '-')
			return -EINVAL;
		m[i] = (uint8_t)(hi << 4 | lo);
	}
	/* A group address as our source would be invalid on the wire (IEEE 802). */
	if ((m[0] & 1) || !(m[0] | m[1] | m[2] | m[3] | m[4] | m[5]))
		return -EINVAL;
	memcpy(mac, m, 6);
	return 0;
}

/* Log level by name or number. */
int nsp_parse_log(const char *s, enum nstack_log_level *level)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};

	if (!s)
		return -EINVAL;
	for (int i = 0; i < 4; i++) {
		if (!strcasecmp(s, names[i]) || (s[0] == '0' + i && !s[1])) {
			*level = (enum nstack_log_level)i;
			return 0;
		}
	}
	if (!strcasecmp(s, "warning")) {
		*level = NSTACK_LOG_WARN;
		return 0;
	}
	return -EINVAL;
}

enum tcp_knob_kind { K_INT, K_INT3, K_BOOL, K_STR, K_MS, K_TFOKEY, K_U32 };

/* One TCP knob: its sysctl under /proc/sys/net (NULL: none) and its variable. */
struct tcp_knob {
	const char *sysctl;
	const char *env;
	enum tcp_knob_kind kind;
	size_t off;
};

#define KNOB(sys, env, kind, field)                                                                \
	{                                                                                          \
		sys, "NSTACK_TCP_" env, kind, offsetof(struct tcp_config, field)                   \
	}
static const struct tcp_knob tcp_knobs[] = {
    KNOB("ipv4/tcp_rmem", "RMEM", K_INT3, rmem),
    KNOB("ipv4/tcp_wmem", "WMEM", K_INT3, wmem),
    KNOB("ipv4/tcp_mem", "MEM", K_INT3, mem),
    KNOB("ipv4/udp_mem", "UDP_MEM", K_INT3, udp_mem),
    KNOB("ipv4/tcp_sack", "SACK", K_BOOL, sack),
    KNOB("ipv4/tcp_timestamps", "TIMESTAMPS", K_BOOL, timestamps),
    KNOB("ipv4/tcp_window_scaling", "WINDOW_SCALING", K_BOOL, window_scaling),
    KNOB("ipv4/tcp_syncookies", "SYNCOOKIES", K_INT, syncookies),
    KNOB("ipv4/tcp_congestion_control", "CONGESTION_CONTROL", K_STR, congestion_control),
    KNOB("ipv4/tcp_syn_retries", "SYN_RETRIES", K_INT, syn_retries),
    KNOB("ipv4/tcp_synack_retries", "SYNACK_RETRIES", K_INT, synack_retries),
    KNOB("ipv4/tcp_retries1", "RETRIES1", K_INT, retries1),
    KNOB("ipv4/tcp_retries2", "RETRIES2", K_INT, retries2),
    KNOB("ipv4/tcp_orphan_retries", "ORPHAN_RETRIES", K_INT, orphan_retries),
    KNOB("ipv4/tcp_fin_timeout", "FIN_TIMEOUT", K_INT, fin_timeout_s),
    KNOB("ipv4/tcp_keepalive_time", "KEEPALIVE_TIME", K_INT, keepalive_time_s),
    KNOB("ipv4/tcp_keepalive_intvl", "KEEPALIVE_INTVL", K_INT, keepalive_intvl_s),
    KNOB("ipv4/tcp_keepalive_probes", "KEEPALIVE_PROBES", K_INT, keepalive_probes),
    KNOB("ipv4/tcp_max_syn_backlog", "MAX_SYN_BACKLOG", K_INT, max_syn_backlog),
    KNOB("ipv4/tcp_max_tw_buckets", "MAX_TW_BUCKETS", K_INT, max_tw_buckets),
    KNOB("core/somaxconn", "SOMAXCONN", K_INT, somaxconn),
    KNOB("ipv4/tcp_tw_reuse", "TW_REUSE", K_INT, tw_reuse),
    KNOB("ipv4/tcp_challenge_ack_limit", "CHALLENGE_ACK_LIMIT", K_INT, challenge_ack_limit),
    KNOB("ipv4/tcp_no_metrics_save", "NO_METRICS_SAVE", K_BOOL, no_metrics_save),
    KNOB("ipv4/tcp_fastopen", "FASTOPEN", K_INT, fastopen),
    KNOB("ipv4/tcp_ecn", "ECN", K_INT, ecn),
    KNOB("ipv4/tcp_notsent_lowat", "NOTSENT_LOWAT", K_U32, notsent_lowat),
    KNOB("ipv4/tcp_min_tso_segs", "MIN_TSO_SEGS", K_INT, min_tso_segs),
    KNOB("ipv4/tcp_tso_rtt_log", "TSO_RTT_LOG", K_INT, tso_rtt_log),
    KNOB("ipv4/tcp_tso_win_divisor", "TSO_WIN_DIVISOR", K_INT, tso_win_divisor),
    KNOB("ipv4/tcp_pacing_ss_ratio", "PACING_SS_RATIO", K_INT, pacing_ss_ratio),
    KNOB("ipv4/tcp_pacing_ca_ratio", "PACING_CA_RATIO", K_INT, pacing_ca_ratio),
    KNOB("ipv4/tcp_recovery", "RECOVERY", K_INT, recovery),
    KNOB("ipv4/tcp_max_reordering", "MAX_REORDERING", K_INT, max_reordering),
    KNOB("ipv4/tcp_fastopen_key", "FASTOPEN_KEY", K_TFOKEY, fastopen_key),
    KNOB(NULL, "MSL_MS", K_MS, msl_us),
    KNOB(NULL, "RTO_MIN_MS", K_MS, rto_min_us),
    KNOB(NULL, "RTO_MAX_MS", K_MS, rto_max_us),
    KNOB(NULL, "RTO_INIT_MS", K_MS, rto_init_us),
    KNOB(NULL, "INITIAL_CWND", K_INT, initial_cwnd),
};

static int parse_int(const char *s, long long max, long long *v)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	*v = strtoll(s, &end, 10);
	while (isspace((unsigned char)*end))
		end++;
	if (errno || *end || *v > max)
		return -EINVAL;
	return 0;
}

/* Parses s into the knob's field; the field is untouched on error. */
static int knob_set(struct tcp_config *t, const struct tcp_knob *k, const char *s)
{
	char *field = (char *)t + k->off;
	long long v, v3[3];

	switch (k->kind) {
	case K_INT:
		if (parse_int(s, INT32_MAX, &v))
			return -EINVAL;
		*(int *)field = (int)v;
		return 0;
	case K_BOOL:
		if (parse_int(s, INT32_MAX, &v))
			return -EINVAL;
		*(bool *)field = v != 0; /* Linux's tcp_timestamps=2 still means on */
		return 0;
	case K_U32:
		if (parse_int(s, UINT32_MAX, &v))
			return -EINVAL;
		*(uint32_t *)field = (uint32_t)v;
		return 0;
	case K_MS:
		if (parse_int(s, INT64_MAX / 1000, &v))
			return -EINVAL;
		*(uint64_t *)field = (uint64_t)v * 1000;
		return 0;
	case K_INT3: {
		char *end;
		const char *p = s;

		for (int i = 0; i < 3; i++) {
			errno = 0;
			v3[i] = strtoll(p, &end, 10);
			if (errno || end == p || v3[i] < 1 || v3[i] > INT32_MAX)
				return -EINVAL;
			p = end;
		}
		while (isspace((unsigned char)*p))
			p++;
		if (*p || v3[0] > v3[1] || v3[1] > v3[2])
			return -EINVAL;
		for (int i = 0; i < 3; i++)
			((int *)field)[i] = (int)v3[i];
		return 0;
	}
	case K_TFOKEY: {
		/* "%08x-%08x-%08x-%08x" (a backup key may follow after a comma), as Linux's
		 * proc_tcp_fastopen_key; all zeros: none set, a random key is drawn. */
		unsigned int k[4];
		int n = 0;

		if (sscanf(s, "%8x-%8x-%8x-%8x%n", &k[0], &k[1], &k[2], &k[3], &n) != 4 ||
		    (s[n] && s[n] != ',' && !isspace((unsigned char)s[n])))
			return -EINVAL;
		/* Linux stores the four words little-endian, one after the other. */
		t->fastopen_key[0] = (uint64_t)k[1] << 32 | k[0];
		t->fastopen_key[1] = (uint64_t)k[3] << 32 | k[2];
		t->fastopen_key_set = t->fastopen_key[0] || t->fastopen_key[1];
		return 0;
	}
	case K_STR: {
		size_t n = strcspn(s, " \t\n");

		if (n == 0 || n >= sizeof(t->congestion_control) || s[n + strspn(s + n, " \t\n")])
			return -EINVAL;
		memcpy(field, s, n);
		field[n] = '\0';
		return 0;
	}
	}
	return -EINVAL;
}

/* Reads the host's TCP sysctls so nstack behaves like this host's kernel. */
void nsp_tcp_from_proc(struct tcp_config *t, const char *procdir)
{
	for (size_t i = 0; i < sizeof(tcp_knobs) / sizeof(tcp_knobs[0]); i++) {
		const struct tcp_knob *k = &tcp_knobs[i];
		char path[512], buf[128];
		ssize_t n;
		int fd;

		if (!k->sysctl)
			continue;
		snprintf(path, sizeof(path), "%s/%s", procdir, k->sysctl);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		(void)knob_set(t, k, buf); /* an odd value keeps the default */
	}
}

/* NSTACK_TCP_* overrides. */
int nsp_tcp_from_env(struct tcp_config *t, nsp_getenv_fn get, void *ctx, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(tcp_knobs) / sizeof(tcp_knobs[0]); i++) {
		const struct tcp_knob *k = &tcp_knobs[i];
		const char *v = get(ctx, k->env);

		if (v && knob_set(t, k, v)) {
			snprintf(err, errlen, "bad %s='%s' (expected %s)", k->env, v,
				 k->kind == K_INT3     ? "three integers MIN DEFAULT MAX"
				 : k->kind == K_TFOKEY ? "a key xxxxxxxx-xxxxxxxx-xxxxxxxx-xxxxxxxx"
				 : k->kind == K_STR    ? "an algorithm name"
				 : k->kind == K_BOOL   ? "0 or 1"
				 : k->kind == K_MS     ? "milliseconds"
						       : "a non-negative integer");
			return -EINVAL;
		}
	}
	return 0;
}

/* A 0/1 (off/on, no/yes) variable into *flag, which keeps its default when unset. */
static int parse_flag(nsp_getenv_fn get, void *ctx, const char *name, bool *flag, char *err,
		      size_t errlen)
{
	const char *v = get(ctx, name);

	if (!v || !v[0])
		return 0;
	if (!strcmp(v, "0") || !strcasecmp(v, "off") || !strcasecmp(v, "no"))
		*flag = false;
	else if (!strcmp(v, "1") || !strcasecmp(v, "on") || !strcasecmp(v, "yes"))
		*flag = true;
	else {
		snprintf(err, errlen, "bad %s='%s' (0 or 1)", name, v);
		return -EINVAL;
	}
	return 0;
}

/* "addr/len" for IPv6; 0 or -EINVAL. */
static int parse_cidr6(const char *s, struct in6_addr *a, unsigned int *len)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned long l;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (!slash)
		return -EINVAL;
	*slash = '\0';
	errno = 0;
	l = strtoul(slash + 1, &end, 10);
	if (errno || end == slash + 1 || *end || l < 1 || l > 128 ||
	    inet_pton(AF_INET6, buf, a) != 1)
		return -EINVAL;
	*len = (unsigned int)l;
	return 0;
}

/* NSTACK_IPV6, NSTACK_ADDR6 and NSTACK_GW6 (IPv6 is on with either of the first two). */
static int parse_ipv6(struct nsp_config *c, nsp_getenv_fn get, void *ctx, char *err, size_t errlen)
{
	struct nstack_config *cfg = &c->cfg;
	const char *v;

	if (parse_flag(get, ctx, "NSTACK_IPV6", &cfg->ipv6, err, errlen))
		return -EINVAL;
	/* On unless turned off: the stack starts with the program that then connects at once. */
	cfg->optimistic_dad = true;
	if (parse_flag(get, ctx, "NSTACK_OPTIMISTIC_DAD", &cfg->optimistic_dad, err, errlen))
		return -EINVAL;
	if ((v = get(ctx, "NSTACK_ADDR6")) != NULL && v[0]) {
		if (parse_cidr6(v, &cfg->addr6, &cfg->prefixlen6)) {
			snprintf(err, errlen,
				 "bad NSTACK_ADDR6='%s' (expected ADDR/LEN, e.g. 2001:2::2/64)", v);
			return -EINVAL;
		}
		if (IN6_IS_ADDR_UNSPECIFIED(&cfg->addr6) || IN6_IS_ADDR_MULTICAST(&cfg->addr6) ||
		    IN6_IS_ADDR_V4MAPPED(&cfg->addr6) || IN6_IS_ADDR_LOOPBACK(&cfg->addr6) ||
		    IN6_IS_ADDR_LINKLOCAL(&cfg->addr6)) {
			snprintf(err, errlen,
				 "bad NSTACK_ADDR6='%s' (a global unicast address: the link-local "
				 "one comes from the MAC)",
				 v);
			return -EINVAL;
		}
		cfg->ipv6 = true;
	}
	if ((v = get(ctx, "NSTACK_GW6")) != NULL && v[0]) {
		if (inet_pton(AF_INET6, v, &cfg->gateway6) != 1 ||
		    IN6_IS_ADDR_UNSPECIFIED(&cfg->gateway6) ||
		    IN6_IS_ADDR_MULTICAST(&cfg->gateway6) || IN6_IS_ADDR_V4MAPPED(&cfg->gateway6)) {
			snprintf(err, errlen,
				 "bad NSTACK_GW6='%s' (a unicast IPv6 router address, usually "
				 "link-local)",
				 v);
			return -EINVAL;
		}
		if (!cfg->ipv6) {
			snprintf(err, errlen, "NSTACK_GW6 needs NSTACK_ADDR6 or NSTACK_IPV6=1");
			return -EINVAL;
		}
	}
	return 0;
}

/* Defaults, then the host's sysctls, then the environment. */
int nsp_config_load(struct nsp_config *c, nsp_getenv_fn get, void *ctx, const char *procdir,
		    char *err, size_t errlen)
{
	struct nstack_config *cfg = &c->cfg;
	const char *v;
	uint32_t mask;

	memset(c, 0, sizeof(*c));
	nstack_config_defaults(cfg);
	if (procdir)
		nsp_tcp_from_proc(&cfg->tcp, procdir);

	if ((v = get(ctx, "NSTACK_IFACE")) != NULL) {
		if (!v[0] || strlen(v) >= sizeof(cfg->ifname) || strchr(v, '/')) {
			snprintf(err, errlen, "bad NSTACK_IFACE='%s' (an interface name)", v);
			return -EINVAL;
		}
		strcpy(cfg->ifname, v);
	}
	if ((v = get(ctx, "NSTACK_ADDR")) != NULL &&
	    nsp_parse_cidr(v, &cfg->addr, &cfg->prefixlen)) {
		snprintf(err, errlen,
			 "bad NSTACK_ADDR='%s' (expected ADDR/LEN, e.g. 198.18.0.2/24)", v);
		return -EINVAL;
	}
	mask = htonl(~0u << (32 - cfg->prefixlen));
	if (cfg->addr == 0 || (ntohl(cfg->addr) >> 24) == 127 || (ntohl(cfg->addr) >> 28) >= 14 ||
	    (cfg->prefixlen < 31 && ((cfg->addr & ~mask) == 0 || (cfg->addr & ~mask) == ~mask))) {
		snprintf(err, errlen, "bad NSTACK_ADDR='%s' (not a usable host address)",
			 v ? v : "");
		return -EINVAL;
	}
	if (parse_ipv6(c, get, ctx, err, errlen))
		return -EINVAL;
	if ((v = get(ctx, "NSTACK_GW")) != NULL) {
		if (!v[0] || !strcmp(v, "none")) {
			cfg->gateway = 0;
		} else if (nsp_parse_ipv4(v, &cfg->gateway)) {
			snprintf(err, errlen,
				 "bad NSTACK_GW='%s' (expected an IPv4 address or none)", v);
			return -EINVAL;
		}
	} else if ((cfg->gateway & mask) != (cfg->addr & mask)) {
		/* The default gateway only fits the default subnet. */
		cfg->gateway = 0;
	}
	if (cfg->gateway &&
	    ((cfg->gateway & mask) != (cfg->addr & mask) || cfg->gateway == cfg->addr)) {
		snprintf(err, errlen,
			 "bad NSTACK_GW='%s' (must be another address inside NSTACK_ADDR's subnet)",
			 v ? v : "");
		return -EINVAL;
	}
	if ((v = get(ctx, "NSTACK_MAC")) != NULL && v[0]) {
		if (nsp_parse_mac(v, c->mac)) {
			snprintf(err, errlen,
				 "bad NSTACK_MAC='%s' (expected a unicast aa:bb:cc:dd:ee:ff)", v);
			return -EINVAL;
		}
		c->have_mac = true;
	}
	if ((v = get(ctx, "NSTACK_MTU")) != NULL && v[0]) {
		long long mtu;

		if (parse_int(v, 65535, &mtu) || mtu < 576) {
			snprintf(err, errlen, "bad NSTACK_MTU='%s' (576..65535)", v);
			return -EINVAL;
		}
		cfg->mtu = (unsigned int)mtu;
	}
	snprintf(c->opener, sizeof(c->opener), "%s", NSTACK_OPENER_PATH);
	if ((v = get(ctx, "NSTACK_OPENER")) != NULL) {
		if (!v[0] || !strcmp(v, "0") || !strcasecmp(v, "off")) {
			c->opener[0] = '\0';
		} else if (v[0] != '/' || strlen(v) >= sizeof(c->opener)) {
			snprintf(err, errlen, "bad NSTACK_OPENER='%s' (an absolute path, or 0)", v);
			return -EINVAL;
		} else {
			strcpy(c->opener, v);
		}
	}
	if ((v = get(ctx, "NSTACK_PCAP")) != NULL && v[0]) {
		if (strlen(v) >= sizeof(c->pcap_path)) {
			snprintf(err, errlen, "bad NSTACK_PCAP (path too long)");
			return -EINVAL;
		}
		strcpy(c->pcap_path, v);
	}
	c->handover_loopback = true;
	c->gso = true;
	c->tx_thread = true;
	c->gro = true;
	c->ingress_drop = true;
	if (parse_flag(get, ctx, "NSTACK_HANDOVER", &c->handover_loopback, err, errlen) ||
	    parse_flag(get, ctx, "NSTACK_GRO", &c->gro, err, errlen) ||
	    parse_flag(get, ctx, "NSTACK_INGRESS_DROP", &c->ingress_drop, err, errlen) ||
	    parse_flag(get, ctx, "NSTACK_GSO", &c->gso, err, errlen) ||
	    parse_flag(get, ctx, "NSTACK_TX_THREAD", &c->tx_thread, err, errlen) ||
	    parse_flag(get, ctx, "NSTACK_STATS", &c->stats, err, errlen))
		return -EINVAL;
	if ((v = get(ctx, "NSTACK_BYPASS")) != NULL && v[0]) {
		const char *p = v;

		while (*p) {
			char one[32];
			size_t n = strcspn(p, ", ");
			unsigned int plen;

			if (n == 0) {
				p++;
				continue;
			}
			if (n >= sizeof(one) || c->nbypass == 16) {
				snprintf(err, errlen, "bad NSTACK_BYPASS='%s' (at most 16 CIDRs)",
					 v);
				return -EINVAL;
			}
			memcpy(one, p, n);
			one[n] = '\0';
			if (strchr(one, ':')) {
				/* An IPv6 prefix: ADDR/LEN or an address alone (/128). */
				char *slash = strchr(one, '/');
				long long l = 128;

				if (slash)
					*slash = '\0';
				if (c->nbypass6 == 16 ||
				    inet_pton(AF_INET6, one, &c->bypass6_net[c->nbypass6]) != 1 ||
				    (slash && parse_int(slash + 1, 128, &l))) {
					snprintf(
					    err, errlen,
					    "bad NSTACK_BYPASS entry '%s' (a list of ADDR/LEN)",
					    one);
					return -EINVAL;
				}
				c->bypass6_plen[c->nbypass6++] = (unsigned int)l;
				p += n;
				continue;
			}
			if (nsp_parse_cidr(one, &c->bypass_net[c->nbypass], &plen) &&
			    (plen = 32, nsp_parse_ipv4(one, &c->bypass_net[c->nbypass]))) {
				snprintf(err, errlen,
					 "bad NSTACK_BYPASS entry '%s' (a list of ADDR/LEN)", one);
				return -EINVAL;
			}
			c->bypass_mask[c->nbypass] = htonl(plen ? ~0u << (32 - plen) : 0);
			c->bypass_net[c->nbypass] &= c->bypass_mask[c->nbypass];
			c->nbypass++;
			p += n;
		}
	}
	c->exit_linger_ms = 5000;
	if ((v = get(ctx, "NSTACK_EXIT_LINGER")) != NULL && v[0]) {
		long long ms;

		if (parse_int(v, 3600 * 1000, &ms)) {
			snprintf(err, errlen, "bad NSTACK_EXIT_LINGER='%s' (milliseconds)", v);
			return -EINVAL;
		}
		c->exit_linger_ms = (unsigned int)ms;
	}
	cfg->arena_size = (size_t)1024 << 20;
	if ((v = get(ctx, "NSTACK_ARENA_MB")) != NULL && v[0]) {
		long long mb;

		if (parse_int(v, 1 << 20, &mb) || mb < 16) {
			snprintf(err, errlen, "bad NSTACK_ARENA_MB='%s' (MiB, 16..1048576)", v);
			return -EINVAL;
		}
		cfg->arena_size = (size_t)mb << 20;
	}
	if ((v = get(ctx, "NSTACK_BUSY_POLL")) != NULL && v[0]) {
		long long us;

		if (parse_int(v, 100000, &us)) {
			snprintf(err, errlen, "bad NSTACK_BUSY_POLL='%s' (microseconds, 0..100000)",
				 v);
			return -EINVAL;
		}
		cfg->busy_poll_us = (unsigned int)us;
	}
	if (parse_flag(get, ctx, "NSTACK_RX_DIRECT", &cfg->rx_direct, err, errlen) ||
	    parse_flag(get, ctx, "NSTACK_MOVE_DRIVER", &cfg->move_driver, err, errlen) ||
	    parse_flag(get, ctx, "NSTACK_FANOUT", &cfg->rx_fanout, err, errlen))
		return -EINVAL;
	if ((v = get(ctx, "NSTACK_LOG")) != NULL && v[0] && nsp_parse_log(v, &cfg->log_level)) {
		snprintf(err, errlen, "bad NSTACK_LOG='%s' (error, warn, info or debug)", v);
		return -EINVAL;
	}
	return nsp_tcp_from_env(&cfg->tcp, get, ctx, err, errlen);
}
