/* Shared pieces of the fuzz targets (see fuzz_common.h). */
#include <errno.h>
#include <sanitizer/asan_interface.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arp.h"
#include "checksum.h"
#include "icmpv6.h"
#include "ndisc.h"
#include "fuzz_arena.h"
#include "fuzz_common.h"
#include "proto/arp.h"
#include "proto/ether.h"
#include "proto/ip.h"
#include "proto/tcp.h"
#include "proto/udp.h"
#include "shared.h"
#include "stack.h"

const uint8_t fz_mac_a[6] = {2, 0, 0, 0, 0, 2};
const uint8_t fz_mac_b[6] = {2, 0, 0, 0, 0, 1};

struct fz FZ;

static uint8_t scratch[FZ_FRAME_MAX];

void fz_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "nstack fuzz: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	abort();
}

static uint64_t fz_now(void *ctx)
{
	(void)ctx;
	return FZ.now;
}

static uint32_t xs(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static uint32_t fz_rand_a(void *ctx)
{
	(void)ctx;
	return xs(&FZ.rng_a);
}

static uint32_t fz_rand_b(void *ctx)
{
	(void)ctx;
	return xs(&FZ.rng_b);
}

static const struct nstack_env env_a = {.now_us = fz_now, .random32 = fz_rand_a};
static const struct nstack_env env_b = {.now_us = fz_now, .random32 = fz_rand_b};

/* A blocking call never sleeps here: it is interrupted at once, as by a signal. */
static void *fz_token(void *ctx)
{
	(void)ctx;
	return &FZ;
}

static int fz_sleep(void *ctx, void *token, int64_t timeo_us)
{
	(void)ctx;
	(void)token;
	(void)timeo_us;
	return -EINTR;
}

static void fz_wake(void *ctx, void *token)
{
	(void)ctx;
	(void)token;
}

static const struct nstack_wait_ops fz_wait_ops = {
    .token = fz_token, .sleep = fz_sleep, .wake = fz_wake};

static void fz_log(void *ctx, enum nstack_log_level level, const char *line)
{
	(void)ctx;
	(void)level;
	(void)line;
}

static const struct nstack_hooks fz_hooks = {.log = fz_log};

static struct nstack *fz_stack(int end, const uint8_t *mac, uint32_t addr,
			       const struct nstack_env *env, uint32_t peer, const uint8_t *peer_mac)
{
	struct nstack_config cfg;
	struct nstack *ns;
	int err;

	nstack_config_defaults(&cfg);
	cfg.addr = addr;
	cfg.prefixlen = 24;
	cfg.gateway = peer;
	cfg.gratuitous_arp = false;
	cfg.log_level = NSTACK_LOG_ERROR;
	/* Small arenas: creating and tearing down stacks is most of an execution. */
	cfg.arena_size = 32u << 20;
	/* IPv6 on both ends: 2001:2::2/64 on A, 2001:2::1/64 on B. */
	cfg.ipv6 = true;
	cfg.prefixlen6 = 64;
	cfg.addr6.s6_addr[0] = 0x20;
	cfg.addr6.s6_addr[1] = 0x01;
	cfg.addr6.s6_addr[3] = 0x02;
	cfg.addr6.s6_addr[15] = end == 0 ? 2 : 1;
	/* Usable at once: the fixture opens TCP over IPv6 without waiting out DAD. */
	cfg.optimistic_dad = true;
	err = nstack_create(&cfg, wire_netdev(FZ.w, end, mac, 1500), env, &fz_hooks, &ns);
	if (err)
		fz_die("nstack_create: %d", err);
	nstack_set_wait_ops(ns, &fz_wait_ops);
	nstack_lock(ns);
	if (neigh_add_permanent(ns, peer, peer_mac))
		fz_die("neigh_add_permanent");
	{
		struct in6_addr peer6 = cfg.addr6;

		peer6.s6_addr[15] = end == 0 ? 1 : 2;
		if (ndisc_add_permanent(ns, &peer6, peer_mac))
			fz_die("ndisc_add_permanent");
	}
	nstack_unlock(ns);
	return ns;
}

/* Builds the wire and stack A (and B when with_b). */
void fz_setup(bool with_b)
{
	void (*record)(const void *, size_t) = FZ.record;

	memset(&FZ, 0, sizeof(FZ));
	FZ.record = record;
	FZ.now = FZ_CLOCK0;
	FZ.rng_a = 0x1234567u;
	FZ.rng_b = 0x7654321u;
	if (wire_create(NULL, &FZ.w))
		fz_die("wire_create");
	FZ.a = fz_stack(0, fz_mac_a, FZ_IP_A, &env_a, FZ_IP_B, fz_mac_b);
	if (with_b)
		FZ.b = fz_stack(1, fz_mac_b, FZ_IP_B, &env_b, FZ_IP_A, fz_mac_a);
}

static bool fz_clean(struct nstack *ns)
{
	return !ns || (nstack_live_socks(ns) == 0 && nstack_live_skbs(ns) == 0);
}

static uint64_t fz_deadline(void)
{
	uint64_t da = nstack_next_deadline(FZ.a);
	uint64_t db = FZ.b ? nstack_next_deadline(FZ.b) : UINT64_MAX;

	return da < db ? da : db;
}

/* nstack_destroy() with the arena's poisoning undone around it. */
static void fz_destroy(struct nstack *ns)
{
	if (!ns)
		return;
	fz_arena_destroy_begin(ns->arena);
	nstack_destroy(ns);
	fz_arena_destroy_end();
}

/* Runs every timer for up to a simulated day; aborts if a socket or buffer is left. */
void fz_check_drained(void)
{
	uint64_t end = FZ.now + 86400ull * 1000000;
	long sa, ka, sb = 0, kb = 0;

	for (int i = 0; i < 100000; i++) {
		uint64_t d;

		fz_settle();
		if (!FZ.b)
			fz_drop(1);
		if (fz_clean(FZ.a) && fz_clean(FZ.b)) {
			if (getenv("FZ_DEBUG_ITERS"))
				fprintf(stderr, "drained after %d rounds, %llu s\n", i,
					(unsigned long long)(FZ.now / 1000000));
			return;
		}
		d = fz_deadline();
		if (d == UINT64_MAX || FZ.now >= end)
			break;
		/*
		 * Beyond the wheel's 4 s the deadline is only the wheel's end:
		 * take a minute at once (timers may fire late, as on a busy host).
		 */
		if (d >= FZ.now + 4000000)
			d = FZ.now + 60000000;
		if (d > FZ.now)
			FZ.now = d;
	}
	sa = nstack_live_socks(FZ.a);
	ka = nstack_live_skbs(FZ.a);
	if (FZ.b) {
		sb = nstack_live_socks(FZ.b);
		kb = nstack_live_skbs(FZ.b);
	}
	fz_die("leak after close and a day of timers: A %ld socks %ld skbs, B %ld socks %ld skbs",
	       sa, ka, sb, kb);
}

/* Checks for leaks, then destroys everything. */
void fz_teardown(void)
{
	fz_check_drained();
	fz_destroy(FZ.a);
	fz_destroy(FZ.b);
	wire_destroy(FZ.w);
	FZ.a = FZ.b = NULL;
	FZ.w = NULL;
}

/* Moves the clock and lets both stacks run. */
void fz_advance(uint64_t delta)
{
	FZ.now += delta;
	fz_settle();
}

/* Both stacks until the wire is quiet (bounded: two stacks can ping-pong forever). */
void fz_settle(void)
{
	for (int i = 0; i < 64; i++) {
		nstack_process(FZ.a);
		if (FZ.b)
			nstack_process(FZ.b);
		if (!wire_pending(FZ.w, 0) && (!FZ.b || !wire_pending(FZ.w, 1)))
			break;
	}
}

/* Discards what waits at end. */
void fz_drop(int end)
{
	while (wire_recv(FZ.w, end, scratch, sizeof(scratch)) >= 0) {
	}
}

/* Lets only A run. */
void fz_run_a(void)
{
	nstack_process(FZ.a);
}

/* Sends one frame from end 1 to A and lets A handle it. */
void fz_inject(const void *frame, size_t len)
{
	if (FZ.record)
		FZ.record(frame, len);
	if (wire_send(FZ.w, 1, frame, len) == 0)
		nstack_process(FZ.a);
}

struct socket *fz_socket(struct nstack *ns, int type, int protocol)
{
	struct socket *s = NULL;
	int err = nstack_socket(ns, AF_INET, type, protocol, &s);

	if (err)
		fz_die("nstack_socket(%d, %d): %d", type, protocol, err);
	nstack_set_nonblock(s, true);
	return s;
}

struct sockaddr_in fz_sin(uint32_t addr, uint16_t port)
{
	struct sockaddr_in s;

	memset(&s, 0, sizeof(s));
	s.sin_family = AF_INET;
	s.sin_addr.s_addr = addr;
	s.sin_port = htons(port);
	return s;
}

/* Repairs checksums so mutated frames get past the first checks. */
/*
 * An IPv6 frame's ICMPv6, TCP or UDP checksum, after the extension headers
 * the stack walks (hop-by-hop, routing, destination options; not past a
 * fragment).
 */
static void fz_fix_checksum6(uint8_t *frame, size_t len)
{
	uint8_t *ip6 = frame + ETH_HLEN, *p, nh;
	size_t plen, off = 40, cko;

	if (len < ETH_HLEN + 40)
		return;
	plen = (size_t)ip6[4] << 8 | ip6[5];
	if (ETH_HLEN + 40 + plen > len)
		return;
	nh = ip6[6];
	while ((nh == 0 || nh == 43 || nh == 60) && off + 8 <= 40 + plen) {
		nh = ip6[off];
		off += ((size_t)ip6[off + 1] + 1) * 8;
	}
	/* Where each keeps its checksum. */
	cko = nh == 58 ? 2 : nh == 6 ? 16 : nh == 17 ? 6 : 0;
	if (!cko || off + cko + 2 > 40 + plen)
		return;
	p = ip6 + off;
	p[cko] = p[cko + 1] = 0;
	{
		struct in6_addr src, dst;
		uint16_t c;

		memcpy(&src, ip6 + 8, 16);
		memcpy(&dst, ip6 + 24, 16);
		c = csum_ipv6_magic(&src, &dst, (uint32_t)(40 + plen - off), nh, p);
		if (nh == 17 && c == 0)
			c = 0xffff; /* UDP's zero means "none", which IPv6 forbids */
		memcpy(p + cko, &c, 2);
	}
}

void fz_fix_checksums(uint8_t *frame, size_t len)
{
	struct iphdr *ip;
	size_t hl, tot, l4len;
	uint8_t *l4;

	if (len >= ETH_HLEN && frame[12] == 0x86 && frame[13] == 0xdd) {
		fz_fix_checksum6(frame, len);
		return;
	}
	if (len < ETH_HLEN + IP_HLEN_MIN || frame[12] != 0x08 || frame[13] != 0x00)
		return;
	ip = (struct iphdr *)(frame + ETH_HLEN);
	hl = (size_t)(ip->ver_ihl & 0x0f) * 4;
	if (hl < IP_HLEN_MIN || ETH_HLEN + hl > len)
		return;
	ip->check = 0;
	ip->check = ip_fast_csum(ip, (unsigned int)hl / 4);
	tot = ntohs(ip->tot_len);
	if (tot < hl || ETH_HLEN + tot > len || (ntohs(ip->frag_off) & 0x3fff))
		return;
	l4 = (uint8_t *)ip + hl;
	l4len = tot - hl;
	switch (ip->protocol) {
	case IPPROTO_TCP:
		if (l4len < TCP_HLEN_MIN)
			return;
		((struct tcphdr *)l4)->check = 0;
		((struct tcphdr *)l4)->check = csum_tcpudp_magic(
		    ip->saddr, ip->daddr, (uint16_t)l4len, IPPROTO_TCP, csum_partial(l4, l4len, 0));
		break;
	case IPPROTO_UDP: {
		struct udphdr *uh = (struct udphdr *)l4;
		size_t ulen;

		if (l4len < UDP_HLEN)
			return;
		ulen = ntohs(uh->len);
		if (ulen < UDP_HLEN || ulen > l4len)
			ulen = l4len;
		uh->check = 0;
		uh->check = csum_tcpudp_magic(ip->saddr, ip->daddr, (uint16_t)ulen, IPPROTO_UDP,
					      csum_partial(l4, ulen, 0));
		if (!uh->check)
			uh->check = 0xffff;
		break;
	}
	case IPPROTO_ICMP:
		if (l4len < 8)
			return;
		l4[2] = l4[3] = 0;
		{
			uint16_t c = csum_fold(csum_partial(l4, l4len, 0));

			memcpy(l4 + 2, &c, 2);
		}
		break;
	}
}

static size_t fz_eth(uint8_t *buf, uint16_t type, size_t plen)
{
	memcpy(buf, fz_mac_a, 6);
	memcpy(buf + 6, fz_mac_b, 6);
	buf[12] = (uint8_t)(type >> 8);
	buf[13] = (uint8_t)type;
	if (ETH_HLEN + plen < ETH_ZLEN) {
		memset(buf + ETH_HLEN + plen, 0, ETH_ZLEN - ETH_HLEN - plen);
		return ETH_ZLEN;
	}
	return ETH_HLEN + plen;
}

/* Ethernet + IPv4 (B -> A) around l4, with checksums. */
size_t fz_build_ip(uint8_t *buf, uint8_t proto, uint16_t id, uint16_t frag, const void *l4,
		   size_t l4len)
{
	struct iphdr *ip = (struct iphdr *)(buf + ETH_HLEN);
	size_t n;

	memmove(buf + ETH_HLEN + IP_HLEN_MIN, l4, l4len);
	ip->ver_ihl = 0x45;
	ip->tos = 0;
	ip->tot_len = htons((uint16_t)(IP_HLEN_MIN + l4len));
	ip->id = htons(id);
	ip->frag_off = htons(frag);
	ip->ttl = 64;
	ip->protocol = proto;
	ip->check = 0;
	ip->saddr = FZ_IP_B;
	ip->daddr = FZ_IP_A;
	n = fz_eth(buf, ETH_P_IP, IP_HLEN_MIN + l4len);
	fz_fix_checksums(buf, n);
	return n;
}

size_t fz_build_tcp(uint8_t *buf, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
		    uint8_t flags, uint16_t win, const void *opts, size_t optlen, const void *data,
		    size_t dlen)
{
	static uint8_t seg[FZ_FRAME_MAX];
	struct tcphdr *th = (struct tcphdr *)seg;
	size_t hl = TCP_HLEN_MIN + ((optlen + 3) & ~(size_t)3);

	memset(seg, 0, hl);
	th->source = htons(sport);
	th->dest = htons(dport);
	th->seq = htonl(seq);
	th->ack_seq = htonl(ack);
	th->doff_res = (uint8_t)((hl / 4) << 4);
	th->flags = flags;
	th->window = htons(win);
	if (optlen)
		memcpy(seg + TCP_HLEN_MIN, opts, optlen);
	if (dlen)
		memcpy(seg + hl, data, dlen);
	return fz_build_ip(buf, IPPROTO_TCP, (uint16_t)seq, 0x4000, seg, hl + dlen);
}

size_t fz_build_udp(uint8_t *buf, uint16_t sport, uint16_t dport, const void *data, size_t dlen)
{
	static uint8_t dg[FZ_FRAME_MAX];
	struct udphdr *uh = (struct udphdr *)dg;

	uh->source = htons(sport);
	uh->dest = htons(dport);
	uh->len = htons((uint16_t)(UDP_HLEN + dlen));
	uh->check = 0;
	memcpy(dg + UDP_HLEN, data, dlen);
	return fz_build_ip(buf, IPPROTO_UDP, 77, 0, dg, UDP_HLEN + dlen);
}

size_t fz_build_arp(uint8_t *buf, uint16_t op, const uint8_t sha[6], uint32_t sip, uint32_t tip)
{
	struct arphdr_eth *a = (struct arphdr_eth *)(buf + ETH_HLEN);

	a->ar_hrd = htons(ARPHRD_ETHER);
	a->ar_pro = htons(ETH_P_IP);
	a->ar_hln = 6;
	a->ar_pln = 4;
	a->ar_op = htons(op);
	memcpy(a->ar_sha, sha, 6);
	memcpy(a->ar_sip, &sip, 4);
	memset(a->ar_tha, 0, 6);
	memcpy(a->ar_tip, &tip, 4);
	fz_eth(buf, ETH_P_ARP, ARP_HLEN);
	if (op == 1)
		memset(buf, 0xff, 6);
	return ETH_ZLEN;
}

void fz_write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len)
		fz_die("cannot write %s", path);
	fclose(f);
}

/* Snapshots (see fuzz_common.h). */

struct fz_snap_stack {
	struct nstack *ns;
	struct ns_arena *arena;
	uint8_t *bytes; /* the arena's first `used` bytes, but for the skipped range */
	size_t used;
	size_t skip_off, skip_len; /* the process table's unused slots: never written */
	struct nstack_local local;
	struct net_device dev;
};

static struct {
	bool taken;
	struct fz_snap_stack st[2];
	uint64_t now;
	uint32_t rng_a, rng_b;
} snap;

static void snap_one(struct fz_snap_stack *s, struct nstack *ns)
{
	s->ns = ns;
	if (!ns)
		return;
	s->arena = ns->arena;
	s->used = s->arena->brk;
	s->bytes = malloc(s->used);
	if (!s->bytes)
		fz_die("snapshot: out of memory");
	fz_arena_flush(s->arena);
	ASAN_UNPOISON_MEMORY_REGION(s->arena, s->used);
	memcpy(s->bytes, s->arena, s->used);
	fz_arena_reset(s->arena, 0);
	/* Slots 1.. of the process table belong to other processes: there are none. */
	s->skip_off = (size_t)((uint8_t *)&ns->procs->p[1] - (uint8_t *)s->arena);
	s->skip_len = sizeof(ns->procs->p[0]) * (NS_MAX_PROCS - 1);
	s->local = *ns_local(ns);
	s->dev = *ns_dev(ns);
}

/* Copies src over dst page by page, writing only the pages that differ (fewer faults). */
static void copy_changed(uint8_t *dst, const uint8_t *src, size_t len)
{
	for (size_t off = 0; off < len; off += 4096) {
		size_t n = len - off < 4096 ? len - off : 4096;

		if (memcmp(dst + off, src + off, n))
			memcpy(dst + off, src + off, n);
	}
}

static void unsnap_one(struct fz_snap_stack *s)
{
	uint8_t *base;
	size_t tail;

	if (!s->ns)
		return;
	base = (uint8_t *)s->arena;
	ASAN_UNPOISON_MEMORY_REGION(base, s->arena->brk);
	tail = s->skip_off + s->skip_len;
	copy_changed(base, s->bytes, s->skip_off);
	copy_changed(base + tail, s->bytes + tail, s->used - tail);
	fz_arena_reset(s->arena, 0);
	*ns_local(s->ns) = s->local;
	*ns_dev(s->ns) = s->dev;
}

void fz_snap_take(void)
{
	if (wire_pending(FZ.w, 0) || wire_pending(FZ.w, 1))
		fz_die("snapshot with frames on the wire");
	snap_one(&snap.st[0], FZ.a);
	snap_one(&snap.st[1], FZ.b);
	snap.now = FZ.now;
	snap.rng_a = FZ.rng_a;
	snap.rng_b = FZ.rng_b;
	snap.taken = true;
}

void fz_snap_restore(void)
{
	fz_drop(0);
	fz_drop(1);
	unsnap_one(&snap.st[0]);
	unsnap_one(&snap.st[1]);
	FZ.now = snap.now;
	FZ.rng_a = snap.rng_a;
	FZ.rng_b = snap.rng_b;
}
