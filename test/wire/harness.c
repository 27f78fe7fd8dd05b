/* The packet-level test harness (see harness.h). */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "arp.h"
#include "checksum.h"
#include "harness.h"
#include "inet.h"
#include "ndisc.h"
#include "netdevice.h"
#include "proto/arp.h"
#include "proto/ether.h"
#include "proto/icmp.h"
#include "proto/ip.h"
#include "proto/tcp.h"
#include "proto/udp.h"
#include "stack.h"

const uint8_t t_local_mac[6] = {0x02, 0, 0, 0, 0, 0x02};
const uint8_t t_peer_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
const uint8_t t_bcast_mac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

struct t_ctx T;

static uint64_t t_now(void *ctx)
{
	uint64_t t = T.now;

	(void)ctx;
	T.now += T.tick_us;
	return t;
}

static uint32_t t_random(void *ctx)
{
	/* xorshift32: a fixed sequence per seed, so ISNs and ports repeat. */
	(void)ctx;
	T.rng ^= T.rng << 13;
	T.rng ^= T.rng >> 17;
	T.rng ^= T.rng << 5;
	return T.rng;
}

static const struct nstack_env t_env = {.now_us = t_now, .random32 = t_random, .ctx = NULL};

/* Default fixture: 1500-byte MTU, the peer a known neighbour, no gratuitous ARP. */
void t_setup(void)
{
	struct t_opts o = {0};

	t_setup_opts(&o);
}

/* Fixture with options; see struct t_opts. */
void t_setup_opts(const struct t_opts *o)
{
	struct nstack_config cfg;
	struct net_device *dev;
	int err;

	memset(&T, 0, sizeof(T));
	T.now = T_CLOCK_START;
	T.rng = o->seed ? o->seed : 0x12345678u;
	ck_assert_int_eq(wire_create(NULL, &T.wire), 0);
	dev = wire_netdev(T.wire, 0, t_local_mac, o->mtu ? o->mtu : 1500);
	nstack_config_defaults(&cfg);
	cfg.gratuitous_arp = o->gratuitous_arp;
	cfg.log_level = NSTACK_LOG_ERROR;
	if (o->tweak)
		o->tweak(&cfg);
	err = nstack_create(&cfg, dev, &t_env, NULL, &T.ns);
	ck_assert_msg(err == 0, "nstack_create: %d", err);
	if (!o->no_peer_neigh) {
		nstack_lock(T.ns);
		ck_assert_int_eq(neigh_add_permanent(T.ns, T_PEER_IP, t_peer_mac), 0);
		nstack_unlock(T.ns);
	}
}

/* Destroys the fixture and checks nothing leaked. */
void t_teardown(void)
{
	long skbs, socks;
	uint64_t rmem;

	if (!T.ns)
		return;
	/* Frames the test never read are not leaks of the stack. */
	skbs = nstack_live_skbs(T.ns);
	socks = nstack_live_socks(T.ns);
	/* With every socket gone, nothing is charged to tcp_mem or udp_mem. */
	rmem = socks ? 0 : T.ns->tcp_mem.allocated + T.ns->udp_mem.allocated;
	nstack_destroy(T.ns);
	T.ns = NULL;
	wire_destroy(T.wire);
	T.wire = NULL;
	ck_assert_msg(socks == 0, "%ld socks still allocated at teardown", socks);
	ck_assert_msg(skbs == 0, "%ld skbs still allocated at teardown", skbs);
	ck_assert_msg(rmem == 0, "%lu bytes still charged to tcp_mem/udp_mem", (unsigned long)rmem);
}

/* Sets the manual clock and lets the stack run its due timers. */
void t_clock_set(uint64_t now_us)
{
	ck_assert_msg(now_us >= T.now, "the clock only moves forward");
	T.now = now_us;
	nstack_process(T.ns);
}

/* Advances the manual clock by delta_us. */
void t_clock_advance(uint64_t delta_us)
{
	t_clock_set(T.now + delta_us);
}

/* Delivers one frame from the peer and processes it. */
void t_inject(const void *frame, size_t len)
{
	ck_assert_int_eq(wire_send(T.wire, 1, frame, len), 0);
	nstack_process(T.ns);
}

/* The next frame the stack sent, if any. */
bool t_try_recv(void *buf, size_t cap, size_t *len)
{
	ssize_t n = wire_recv(T.wire, 1, buf, cap);

	if (n < 0)
		return false;
	*len = (size_t)n;
	return true;
}

/* The next frame the stack sent; fails the test when there is none. */
size_t t_recv(void *buf, size_t cap)
{
	size_t len = 0;

	ck_assert_msg(t_try_recv(buf, cap, &len), "expected a frame from the stack, got none");
	return len;
}

/* Fails the test if the stack sent anything. */
void t_expect_no_tx(void)
{
	static unsigned char buf[T_FRAME_MAX];
	size_t len;

	if (t_try_recv(buf, sizeof(buf), &len)) {
		t_hexdump("unexpected frame", buf, len);
		ck_abort_msg("expected no frame, got %zu bytes", len);
	}
}

/* Asserts that the next frame sent is exactly want. */
void t_expect_frame(const void *want, size_t len)
{
	static unsigned char got[T_FRAME_MAX];
	size_t n = t_recv(got, sizeof(got));

	if (n != len || memcmp(got, want, len) != 0) {
		t_hexdump("expected", want, len);
		t_hexdump("got", got, n);
		ck_abort_msg("frame mismatch (expected %zu bytes, got %zu)", len, n);
	}
}

/* Writes an Ethernet frame; pads to 60 bytes like the stack's device layer. */
size_t t_build_eth(void *buf, const uint8_t dst[6], const uint8_t src[6], uint16_t type,
		   const void *payload, size_t plen)
{
	unsigned char *p = buf;
	struct ethhdr *eth = buf;
	size_t len = ETH_HLEN + plen;

	memcpy(eth->h_dest, dst, 6);
	memcpy(eth->h_source, src, 6);
	eth->h_proto = htons(type);
	memmove(p + ETH_HLEN, payload, plen);
	if (len < ETH_ZLEN) {
		memset(p + len, 0, ETH_ZLEN - len);
		len = ETH_ZLEN;
	}
	return len;
}

/* Writes an IPv4 header (IHL 5) and the payload. */
size_t t_build_ipv4(void *buf, uint32_t src, uint32_t dst, uint8_t proto, uint16_t id,
		    uint16_t frag_off, uint8_t ttl, const void *payload, size_t plen)
{
	struct iphdr *ip = buf;

	memmove((unsigned char *)buf + IP_HLEN_MIN, payload, plen);
	ip->ver_ihl = 0x45;
	ip->tos = 0;
	ip->tot_len = htons((uint16_t)(IP_HLEN_MIN + plen));
	ip->id = htons(id);
	ip->frag_off = htons(frag_off);
	ip->ttl = ttl;
	ip->protocol = proto;
	ip->check = 0;
	ip->saddr = src;
	ip->daddr = dst;
	ip->check = ip_fast_csum(ip, 5);
	return IP_HLEN_MIN + plen;
}

/* Writes a UDP header with a correct checksum and the payload. */
size_t t_build_udp(void *buf, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
		   const void *payload, size_t plen)
{
	struct udphdr *uh = buf;
	uint16_t len = (uint16_t)(UDP_HLEN + plen);

	memmove((unsigned char *)buf + UDP_HLEN, payload, plen);
	uh->source = htons(sport);
	uh->dest = htons(dport);
	uh->len = htons(len);
	uh->check = 0;
	uh->check = csum_tcpudp_magic(src, dst, len, 17, csum_partial(buf, len, 0));
	if (uh->check == 0)
		uh->check = 0xffff;
	return len;
}

size_t t_build_tcp(void *buf, uint32_t src, uint32_t dst, const struct t_tcp_seg *s)
{
	struct tcphdr *th = buf;
	size_t hl = TCP_HLEN_MIN + s->optlen, n = hl + s->len;

	ck_assert_uint_eq(s->optlen % 4, 0);
	th->source = htons(s->sport);
	th->dest = htons(s->dport);
	th->seq = htonl(s->seq);
	th->ack_seq = htonl(s->ack);
	th->doff_res = (uint8_t)((hl / 4) << 4);
	th->flags = s->flags;
	th->window = htons(s->win);
	th->check = 0;
	th->urg_ptr = htons(s->urg);
	if (s->optlen)
		memcpy((unsigned char *)buf + TCP_HLEN_MIN, s->opt, s->optlen);
	if (s->len)
		memcpy((unsigned char *)buf + hl, s->data, s->len);
	th->check = csum_tcpudp_magic(src, dst, (uint32_t)n, IPPROTO_TCP, csum_partial(buf, n, 0));
	return n;
}

/* Writes an ARP packet for IPv4 over Ethernet. */
size_t t_build_arp(void *buf, uint16_t op, const uint8_t sha[6], uint32_t sip, const uint8_t tha[6],
		   uint32_t tip)
{
	struct arphdr_eth *a = buf;

	a->ar_hrd = htons(ARPHRD_ETHER);
	a->ar_pro = htons(ETH_P_IP);
	a->ar_hln = 6;
	a->ar_pln = 4;
	a->ar_op = htons(op);
	memcpy(a->ar_sha, sha, 6);
	memcpy(a->ar_sip, &sip, 4);
	memcpy(a->ar_tha, tha, 6);
	memcpy(a->ar_tip, &tip, 4);
	return ARP_HLEN;
}

/* Ethernet + IPv4 from the peer to the stack around payload. */
size_t t_build_peer_ip(void *buf, uint8_t proto, uint16_t id, const void *payload, size_t plen)
{
	static unsigned char ip[T_FRAME_MAX];
	size_t n = t_build_ipv4(ip, T_PEER_IP, T_LOCAL_IP, proto, id, 0, 64, payload, plen);

	return t_build_eth(buf, t_local_mac, t_peer_mac, ETH_P_IP, ip, n);
}

/*
 * An ICMP error from the peer about a packet the stack sent: sent is the
 * whole frame, qlen how much of its IP packet to quote (0: all of it, as
 * Linux quotes short packets).
 */
size_t t_build_peer_icmp_error(void *buf, const void *sent, uint8_t type, uint8_t code, size_t qlen,
			       uint16_t id)
{
	static unsigned char msg[T_FRAME_MAX];
	const unsigned char *sip = (const unsigned char *)sent + ETH_HLEN;
	struct icmphdr *ih = (struct icmphdr *)msg;

	if (!qlen)
		qlen = ntohs(((const struct iphdr *)sip)->tot_len);
	ck_assert_uint_le(ICMP_HLEN + qlen, sizeof(msg));
	memset(ih, 0, ICMP_HLEN);
	ih->type = type;
	ih->code = code;
	memcpy(msg + ICMP_HLEN, sip, qlen);
	ih->checksum = csum_fold(csum_partial(msg, ICMP_HLEN + qlen, 0));
	return t_build_peer_ip(buf, IPPROTO_ICMP, id, msg, ICMP_HLEN + qlen);
}

/* An AF_INET socket of type and protocol on the test stack. */
struct socket *t_socket(int type, int protocol)
{
	struct socket *s = NULL;

	ck_assert_int_eq(nstack_socket(T.ns, AF_INET, type, protocol, &s), 0);
	return s;
}

/* An AF_INET address; port in host order. */
struct sockaddr_in t_sin(uint32_t addr, uint16_t port)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = addr;
	sin.sin_port = htons(port);
	return sin;
}

/* sendmsg(flags) to addr:port, or to the connected peer when both are 0. */
ssize_t t_send_flags(struct socket *s, const void *buf, size_t len, uint32_t addr, uint16_t port,
		     int flags)
{
	struct sockaddr_in sin = t_sin(addr, port);
	struct iovec iov = {(void *)buf, len};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};

	if (addr || port) {
		m.msg_name = &sin;
		m.msg_namelen = sizeof(sin);
	}
	return nstack_sendmsg(s, &m, flags);
}

/* sendmsg() to addr:port, or to the connected peer when both are 0. */
ssize_t t_send_to(struct socket *s, const void *buf, size_t len, uint32_t addr, uint16_t port)
{
	return t_send_flags(s, buf, len, addr, port, 0);
}

/* Non-blocking recvmsg() with the source address. */
ssize_t t_recv_from(struct socket *s, void *buf, size_t len, struct sockaddr_in *from)
{
	struct iovec iov = {buf, len};
	struct msghdr m = {.msg_name = from,
			   .msg_namelen = from ? sizeof(*from) : 0,
			   .msg_iov = &iov,
			   .msg_iovlen = 1};

	return nstack_recvmsg(s, &m, MSG_DONTWAIT);
}

/* An ICMP echo message (header and payload) with a correct checksum. */
size_t t_build_echo(void *buf, uint8_t type, uint16_t id, uint16_t seq, const void *payload,
		    size_t plen)
{
	struct icmphdr *ih = (struct icmphdr *)buf;

	memset(ih, 0, ICMP_HLEN);
	ih->type = type;
	ih->un.echo.id = htons(id);
	ih->un.echo.sequence = htons(seq);
	memcpy((unsigned char *)buf + ICMP_HLEN, payload, plen);
	ih->checksum = csum_fold(csum_partial(buf, ICMP_HLEN + plen, 0));
	return ICMP_HLEN + plen;
}

/* A counter by name. */
uint64_t t_stat(const char *name)
{
	int64_t v = nstack_stat(T.ns, name);

	ck_assert_msg(v >= 0, "unknown counter %s", name);
	return (uint64_t)v;
}

/* Prints a hex dump to stderr (diagnostics for frame mismatches). */
void t_hexdump(const char *title, const void *p, size_t len)
{
	const unsigned char *b = p;

	fprintf(stderr, "%s (%zu bytes):\n", title, len);
	for (size_t i = 0; i < len; i += 16) {
		fprintf(stderr, "  %04zx:", i);
		for (size_t j = i; j < i + 16 && j < len; j++)
			fprintf(stderr, " %02x", b[j]);
		fprintf(stderr, "\n");
	}
}

/* Registers prot as the handler of IP protocol proto on the test stack. */
void t_add_protocol(const struct inet_protocol *prot, uint8_t proto)
{
	nstack_lock(T.ns);
	ck_assert_int_eq(inet_add_protocol(T.ns, prot, proto), 0);
	nstack_unlock(T.ns);
}

/* Unregisters IP protocol proto, if the test stack still exists. */
void t_del_protocol(uint8_t proto)
{
	if (!T.ns)
		return;
	nstack_lock(T.ns);
	inet_del_protocol(T.ns, proto);
	nstack_unlock(T.ns);
}

/* An inet_protocol handler that drops every packet. */
int t_proto_drop(struct sk_buff *skb)
{
	kfree_skb(skb);
	return 0;
}

/* The IPv6 addresses of the IPv6 fixture; see harness.h. */
const struct in6_addr t_local6 = {.s6_addr = {0x20, 0x01, 0x00, 0x02, [15] = 0x02}};
const struct in6_addr t_peer6 = {.s6_addr = {0x20, 0x01, 0x00, 0x02, [15] = 0x01}};
const struct in6_addr t_local6_ll = {
    .s6_addr = {0xfe, 0x80, [11] = 0xff, [12] = 0xfe, [15] = 0x02}};
const struct in6_addr t_peer6_ll = {.s6_addr = {0xfe, 0x80, [15] = 0x01}};

static void t_tweak_v6(struct nstack_config *cfg)
{
	cfg->ipv6 = true;
	cfg->addr6 = t_local6;
	cfg->prefixlen6 = 64;
}

/* IPv6 fixture: 2001:2::2/64, the peer 2001:2::1 a permanent neighbour, DAD over. */
void t_setup_v6(void)
{
	static unsigned char junk[T_FRAME_MAX];
	struct t_opts o = {.tweak = t_tweak_v6};
	size_t n;

	t_setup_opts(&o);
	ck_assert_int_eq(ndisc_add_permanent(T.ns, &t_peer6, t_peer_mac), 0);
	/* DAD of our addresses (1 s each) runs out; what it sent is not under test. */
	for (int i = 0; i < 3; i++) {
		t_clock_advance(1000 * 1000);
		while (t_try_recv(junk, sizeof(junk), &n))
			;
	}
}

/* An AF_INET6 address (port in host order). */
struct sockaddr_in6 t_sin6(const struct in6_addr *a, uint16_t port)
{
	struct sockaddr_in6 s;

	memset(&s, 0, sizeof(s));
	s.sin6_family = AF_INET6;
	s.sin6_addr = *a;
	s.sin6_port = htons(port);
	return s;
}

/* An IPv6 header (version 6, no flow label) followed by payload; see harness.h. */
size_t t_build_ip6(void *buf, const struct in6_addr *src, const struct in6_addr *dst,
		   uint8_t nexthdr, uint8_t hlim, uint8_t tclass, const void *payload, size_t plen)
{
	unsigned char *p = buf;
	uint32_t vtc = htonl(6u << 28 | (uint32_t)tclass << 20);
	uint16_t pl = htons((uint16_t)plen);

	memmove(p + 40, payload, plen);
	memcpy(p, &vtc, 4);
	memcpy(p + 4, &pl, 2);
	p[6] = nexthdr;
	p[7] = hlim;
	memcpy(p + 8, src, 16);
	memcpy(p + 24, dst, 16);
	return 40 + plen;
}

/* The next frame sent that is IPv6 with next header nexthdr; see harness.h. */
size_t t_recv6(void *buf, uint8_t nexthdr)
{
	unsigned char *f = buf;
	size_t n;

	while (t_try_recv(f, T_FRAME_MAX, &n)) {
		if (n >= ETH_HLEN + 40 && f[12] == 0x86 && f[13] == 0xdd &&
		    f[ETH_HLEN + 6] == nexthdr)
			return n;
	}
	ck_abort_msg("expected an IPv6 packet with next header %u, got none", nexthdr);
	return 0;
}

/* One non-blocking recvmsg(); see harness.h. */
void t_recv6_msg(struct socket *s, struct t_rx6 *r, size_t cap, int flags)
{
	struct iovec iov = {r->data, cap < sizeof(r->data) ? cap : sizeof(r->data)};
	struct msghdr m = {.msg_name = &r->from,
			   .msg_namelen = sizeof(r->from),
			   .msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = r->ctl,
			   .msg_controllen = sizeof(r->ctl)};

	memset(r->ctl, 0, sizeof(r->ctl));
	memset(&r->from, 0, sizeof(r->from));
	r->n = nstack_recvmsg(s, &m, flags | MSG_DONTWAIT);
	r->fromlen = m.msg_namelen;
	r->ctllen = m.msg_controllen;
	r->flags = m.msg_flags;
}

/* A control message of r by level and type; see harness.h. */
const struct cmsghdr *t_find_cmsg(const struct t_rx6 *r, int level, int type)
{
	struct msghdr m = {.msg_control = (void *)r->ctl, .msg_controllen = r->ctllen};
	struct cmsghdr *c;

	for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == level && c->cmsg_type == type)
			return c;
	return NULL;
}
