/*
 * Packet-level tests of TCP over IPv6: passive and active opens on AF_INET6
 * sockets with the exact segments (MSS for a 40-byte header, the IPv6
 * pseudo-header checksum), data both ways, a reset for a closed port,
 * getsockname/getpeername, and the port space shared with IPv4 (Linux's
 * bind conflicts between AF_INET, dual-stack and IPv6-only sockets).
 *
 * The stack is 2001:2::2/64 with the peer 2001:2::1 a permanent neighbour.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <string.h>

#include "check_main.h"
#include "checksum.h"
#include "harness.h"
#include "icmpv6.h"
#include "ipv6.h"
#include "ndisc.h"
#include "netdevice.h"
#include "proto/ether.h"
#include "proto/ip.h"
#include "proto/ipv6.h"
#include "stack.h"
#include "tcp.h"
#include "wire.h"

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define PEER_PORT 40000
#define SRV_PORT  80
#define PEER_ISN  1000u

/* The harness's sockaddr_in6 builder, under this file's name. */
#define sin6 t_sin6

static const struct in6_addr g_local = {.s6_addr = {0x20, 0x01, 0x00, 0x02, [15] = 0x02}};
static const struct in6_addr g_peer = {.s6_addr = {0x20, 0x01, 0x00, 0x02, [15] = 0x01}};

struct seg6 {
	uint16_t sport, dport; /* host order */
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	const uint8_t *opt;
	size_t optlen;
	const void *data;
	size_t len;
};

/* A plain IPv6 header: no traffic class or flow label. */
static void ip6_hdr(struct ipv6hdr *h, const struct in6_addr *src, const struct in6_addr *dst,
		    uint8_t nexthdr, uint8_t hops, size_t plen)
{
	memset(h, 0, sizeof(*h));
	h->vtc_flow = htonl(6u << 28);
	h->payload_len = htons((uint16_t)plen);
	h->nexthdr = nexthdr;
	h->hop_limit = hops;
	h->saddr = *src;
	h->daddr = *dst;
}

/* Ethernet + IPv6 + TCP, src -> dst, hop limit 64, checksum over the pseudo-header. */
static size_t build_tcp6_frame(unsigned char *buf, const uint8_t dmac[6], const uint8_t smac[6],
			       const struct in6_addr *src, const struct in6_addr *dst,
			       const struct seg6 *s)
{
	static unsigned char pkt[T_FRAME_MAX];
	struct ipv6hdr *h = (struct ipv6hdr *)pkt;
	struct tcphdr *th = (struct tcphdr *)(pkt + IPV6_HLEN);
	size_t hl = TCP_HLEN_MIN + s->optlen, n = hl + s->len;

	ip6_hdr(h, src, dst, IPPROTO_TCP, 64, n);
	memset(th, 0, sizeof(*th));
	th->source = htons(s->sport);
	th->dest = htons(s->dport);
	th->seq = htonl(s->seq);
	th->ack_seq = htonl(s->ack);
	th->doff_res = (uint8_t)((hl / 4) << 4);
	th->flags = s->flags;
	th->window = htons(s->win);
	if (s->optlen)
		memcpy((unsigned char *)(th + 1), s->opt, s->optlen);
	if (s->len)
		memcpy((unsigned char *)th + hl, s->data, s->len);
	th->check = csum_ipv6_magic(src, dst, (uint32_t)n, IPPROTO_TCP, th);
	return t_build_eth(buf, dmac, smac, ETH_P_IPV6, pkt, IPV6_HLEN + n);
}

static void inject6(const struct seg6 *s)
{
	static unsigned char f[T_FRAME_MAX];

	t_inject(f, build_tcp6_frame(f, t_local_mac, t_peer_mac, &g_peer, &g_local, s));
}

/* The next TCP-over-IPv6 frame sent (neighbour discovery and router solicitations skipped). */
static size_t recv_tcp6(unsigned char *f)
{
	size_t n;

	while (t_try_recv(f, T_FRAME_MAX, &n)) {
		if (n >= ETH_HLEN + IPV6_HLEN + TCP_HLEN_MIN && f[12] == 0x86 && f[13] == 0xdd &&
		    f[ETH_HLEN + 6] == IPPROTO_TCP)
			return n;
	}
	ck_abort_msg("expected a TCP segment over IPv6, got none");
	return 0;
}

/* The TCP header (and what follows) of a received frame, copied out: in the frame it
 * sits 2 bytes off a 4-byte boundary behind the 14-byte Ethernet header. */
static const struct tcphdr *tcp_of(const unsigned char *f)
{
	static union {
		struct tcphdr th;
		unsigned char b[T_FRAME_MAX];
	} u;

	memcpy(u.b, f + ETH_HLEN + IPV6_HLEN, sizeof(u.b) - ETH_HLEN - IPV6_HLEN);
	return &u.th;
}

/* Asserts the next segment is exactly s from us to the peer. */
static void expect6(const struct seg6 *s)
{
	static unsigned char got[T_FRAME_MAX], want[T_FRAME_MAX];
	size_t glen = recv_tcp6(got);
	size_t n = build_tcp6_frame(want, t_peer_mac, t_local_mac, &g_local, &g_peer, s);

	if (n != glen || memcmp(want, got, n) != 0) {
		t_hexdump("expected", want, n);
		t_hexdump("got", got, glen);
		ck_abort_msg("segment mismatch");
	}
}

static void tweak_v6(struct nstack_config *cfg)
{
	cfg->ipv6 = true;
	cfg->addr6 = g_local;
	cfg->prefixlen6 = 64;
}

static void setup_v6(void)
{
	struct t_opts o = {.tweak = tweak_v6};
	unsigned char f[T_FRAME_MAX];
	size_t n;

	t_setup_opts(&o);
	ck_assert_int_eq(ndisc_add_permanent(T.ns, &g_peer, t_peer_mac), 0);
	/* DAD of our addresses (1 s each) runs out; what it sent is not under test. */
	for (int i = 0; i < 3; i++) {
		t_clock_advance(1000 * 1000);
		while (t_try_recv(f, sizeof(f), &n))
			;
	}
}

static struct socket *sock6(int type)
{
	struct socket *s = NULL;

	ck_assert_int_eq(nstack_socket(T.ns, AF_INET6, type, 0, &s), 0);
	return s;
}

static int bind6(struct socket *s, const struct in6_addr *a, uint16_t port)
{
	struct sockaddr_in6 b = sin6(a, port);

	return nstack_bind(s, (struct sockaddr *)&b, sizeof(b));
}

static int bind4(struct socket *s, uint32_t a, uint16_t port)
{
	struct sockaddr_in b = t_sin(a, port);

	return nstack_bind(s, (struct sockaddr *)&b, sizeof(b));
}

/* MSS 1440 (1500 less 40 + 20), as a peer on this link offers it. */
static const uint8_t opt_mss6[] = {2, 4, 0x05, 0xa0};

/* close() with SO_LINGER 0: a reset, and the socket is gone at once. */
static void abort_close(struct socket *s)
{
	struct linger lg = {1, 0};

	ck_assert_int_eq(nstack_setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	nstack_close(s);
}

static ssize_t usend(struct socket *s, const void *buf, size_t len)
{
	struct iovec iov = {(void *)buf, len};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};

	return nstack_sendmsg(s, &m, MSG_DONTWAIT);
}

static ssize_t urecv(struct socket *s, void *buf, size_t len)
{
	struct iovec iov = {buf, len};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};

	return nstack_recvmsg(s, &m, MSG_DONTWAIT);
}

/* A dual-stack listener on [::]:80 takes an IPv6 SYN: SYN-ACK with MSS 1440, then data. */
START_TEST(test_passive_open_over_ipv6_exact_segments_and_data)
{
	struct socket *l = sock6(SOCK_STREAM), *c = NULL;
	static unsigned char f[T_FRAME_MAX];
	struct sockaddr_in6 peer;
	socklen_t plen = sizeof(peer);
	const struct tcphdr *th;
	uint32_t iss;
	uint16_t win;
	char buf[16];

	ck_assert_int_eq(bind6(l, &in6addr_any, SRV_PORT), 0);
	ck_assert_int_eq(nstack_listen(l, 8), 0);
	inject6(&(struct seg6){PEER_PORT, SRV_PORT, PEER_ISN, 0, TH_SYN, 65535, opt_mss6, 4});
	recv_tcp6(f);
	th = tcp_of(f);
	iss = ntohl(th->seq);
	win = ntohs(th->window);
	ck_assert_uint_gt(win, 0);
	/* The peer repeats its SYN: the SYN-ACK again, checked whole (MSS 1440 offered back). */
	inject6(&(struct seg6){PEER_PORT, SRV_PORT, PEER_ISN, 0, TH_SYN, 65535, opt_mss6, 4});
	expect6(&(struct seg6){SRV_PORT, PEER_PORT, iss, PEER_ISN + 1, TH_SYN | TH_ACK, win,
			       opt_mss6, 4});
	inject6(&(struct seg6){PEER_PORT, SRV_PORT, PEER_ISN + 1, iss + 1, TH_ACK, 65535});
	ck_assert_int_eq(nstack_accept(l, &c, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK), 0);
	ck_assert_int_eq(peer.sin6_family, AF_INET6);
	ck_assert_mem_eq(&peer.sin6_addr, &g_peer, 16);
	ck_assert_uint_eq(ntohs(peer.sin6_port), PEER_PORT);
	plen = sizeof(peer);
	ck_assert_int_eq(nstack_getsockname(c, (struct sockaddr *)&peer, &plen), 0);
	ck_assert_mem_eq(&peer.sin6_addr, &g_local, 16);
	ck_assert_uint_eq(ntohs(peer.sin6_port), SRV_PORT);

	inject6(&(struct seg6){PEER_PORT, SRV_PORT, PEER_ISN + 1, iss + 1, TH_ACK | TH_PSH, 65535,
			       NULL, 0, "ping", 4});
	ck_assert_int_eq(urecv(c, buf, sizeof(buf)), 4);
	ck_assert_mem_eq(buf, "ping", 4);
	/* Quick-ACK mode after the handshake: the data is acknowledged at once. */
	expect6(&(struct seg6){SRV_PORT, PEER_PORT, iss + 1, PEER_ISN + 5, TH_ACK, 64800});
	ck_assert_int_eq(usend(c, "pong!", 5), 5);
	recv_tcp6(f);
	th = tcp_of(f);
	ck_assert_uint_eq(ntohl(th->seq), iss + 1);
	ck_assert_uint_eq(ntohl(th->ack_seq), PEER_ISN + 5);
	ck_assert_mem_eq((const unsigned char *)th + TCP_DOFF(th) * 4u, "pong!", 5);
	/* The pseudo-header checksum of what we sent verifies. */
	ck_assert_uint_eq(
	    csum_ipv6_magic(&g_local, &g_peer, (uint32_t)(TCP_DOFF(th) * 4u + 5), IPPROTO_TCP, th),
	    0);
	ck_assert_uint_eq(t_stat("TcpPassiveOpens"), 1);
	abort_close(c);
	nstack_close(l);
}
END_TEST

/* The same dual-stack listener still takes IPv4 clients, named v4-mapped. */
START_TEST(test_dual_stack_listener_takes_ipv4_too)
{
	struct socket *l = sock6(SOCK_STREAM);
	static unsigned char f[T_FRAME_MAX], tcp[64];
	struct tcphdr *th = (struct tcphdr *)tcp;
	size_t n;

	ck_assert_int_eq(bind6(l, &in6addr_any, SRV_PORT), 0);
	ck_assert_int_eq(nstack_listen(l, 8), 0);
	memset(tcp, 0, sizeof(tcp));
	th->source = htons(PEER_PORT);
	th->dest = htons(SRV_PORT);
	th->seq = htonl(PEER_ISN);
	th->doff_res = 5 << 4;
	th->flags = TH_SYN;
	th->window = htons(65535);
	th->check =
	    csum_tcpudp_magic(T_PEER_IP, T_LOCAL_IP, 20, IPPROTO_TCP, csum_partial(tcp, 20, 0));
	n = t_build_peer_ip(f, IPPROTO_TCP, 1, tcp, 20);
	t_inject(f, n);
	n = t_recv(f, sizeof(f));
	ck_assert_uint_eq(f[12], 0x08); /* an IPv4 SYN-ACK */
	ck_assert_uint_eq(f[ETH_HLEN + IP_HLEN_MIN + 13], TH_SYN | TH_ACK);
	nstack_close(l);
}
END_TEST

/* A SYN to a port nobody listens on earns the exact RST|ACK over IPv6. */
START_TEST(test_closed_port_reset_over_ipv6)
{
	inject6(&(struct seg6){PEER_PORT, 81, PEER_ISN, 0, TH_SYN, 65535, opt_mss6, 4});
	expect6(&(struct seg6){81, PEER_PORT, 0, PEER_ISN + 1, TH_RST | TH_ACK, 0});
	ck_assert_uint_eq(t_stat("TcpOutRsts"), 1);
}
END_TEST

/* connect() to [2001:2::1]:80: SYN from our global address, MSS 1440; getsockname after. */
START_TEST(test_active_open_over_ipv6)
{
	struct socket *s = sock6(SOCK_STREAM);
	struct sockaddr_in6 to = sin6(&g_peer, SRV_PORT), me;
	socklen_t mlen = sizeof(me);
	static unsigned char f[T_FRAME_MAX];
	const struct tcphdr *th;
	uint32_t iss;
	uint16_t sport;

	nstack_set_nonblock(s, true);
	ck_assert_int_eq(nstack_connect(s, (struct sockaddr *)&to, sizeof(to)), -EINPROGRESS);
	recv_tcp6(f);
	ck_assert_mem_eq(f + ETH_HLEN + offsetof(struct ipv6hdr, saddr), &g_local, 16);
	ck_assert_mem_eq(f + ETH_HLEN + offsetof(struct ipv6hdr, daddr), &g_peer, 16);
	th = tcp_of(f);
	ck_assert_uint_eq(th->flags, TH_SYN);
	ck_assert_uint_eq(ntohs(th->dest), SRV_PORT);
	/* MSS option first: 1440 for a 1500-byte link under IPv6. */
	ck_assert_uint_eq(((const uint8_t *)(th + 1))[0], 2);
	ck_assert_uint_eq(((const uint8_t *)(th + 1))[2] << 8 | ((const uint8_t *)(th + 1))[3],
			  1440);
	iss = ntohl(th->seq);
	sport = ntohs(th->source);
	inject6(&(struct seg6){SRV_PORT, sport, PEER_ISN, iss + 1, TH_SYN | TH_ACK, 65535, opt_mss6,
			       4});
	expect6(&(struct seg6){sport, SRV_PORT, iss + 1, PEER_ISN + 1, TH_ACK, 64800});
	ck_assert_int_eq(nstack_getsockname(s, (struct sockaddr *)&me, &mlen), 0);
	ck_assert_int_eq(me.sin6_family, AF_INET6);
	ck_assert_mem_eq(&me.sin6_addr, &g_local, 16);
	ck_assert_uint_eq(ntohs(me.sin6_port), sport);
	ck_assert_int_eq(usend(s, "GET", 3), 3);
	expect6(&(struct seg6){sport, SRV_PORT, iss + 1, PEER_ISN + 1, TH_ACK | TH_PSH, 64800, NULL,
			       0, "GET", 3});
	abort_close(s);
}
END_TEST

/* connect() to addresses nstack cannot reach over IPv6. */
START_TEST(test_connect_errors_over_ipv6)
{
	struct socket *s = sock6(SOCK_STREAM);
	struct in6_addr lo = IN6ADDR_LOOPBACK_INIT, ll = {.s6_addr = {0xfe, 0x80, [15] = 9}};
	struct sockaddr_in6 to = sin6(&lo, SRV_PORT);

	ck_assert_int_eq(nstack_connect(s, (struct sockaddr *)&to, sizeof(to)), -ENETUNREACH);
	to = sin6(&ll, SRV_PORT);
	ck_assert_int_eq(nstack_connect(s, (struct sockaddr *)&to, sizeof(to)), -EINVAL);
	ck_assert_int_eq(nstack_connect(s, (struct sockaddr *)&to, 20), -EINVAL);
	nstack_close(s);
}
END_TEST

/* One port space: Linux's conflicts between AF_INET, dual-stack and v6-only sockets. */
START_TEST(test_bind_conflicts_shared_with_ipv4)
{
	struct socket *a = t_socket(SOCK_STREAM, 0), *b = sock6(SOCK_STREAM);
	struct socket *c = sock6(SOCK_STREAM), *d = t_socket(SOCK_STREAM, 0);
	struct socket *e = sock6(SOCK_STREAM), *f = t_socket(SOCK_STREAM, 0);
	struct socket *g = sock6(SOCK_STREAM);
	struct in6_addr other = {.s6_addr = {0x20, 0x01, 0x00, 0x02, [15] = 0x77}};
	int one = 1;

	ck_assert_int_eq(bind4(a, 0, 8000), 0);
	ck_assert_int_eq(bind6(b, &in6addr_any, 8000), -EADDRINUSE); /* dual stack overlaps */
	ck_assert_int_eq(nstack_setsockopt(c, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)), 0);
	ck_assert_int_eq(bind6(c, &in6addr_any, 8000), 0); /* v6-only does not */
	ck_assert_int_eq(bind6(e, &g_local, 8001), 0);
	ck_assert_int_eq(bind4(d, 0, 8001), 0); /* an IPv6 address leaves IPv4 free */
	ck_assert_int_eq(bind6(g, &in6addr_any, 8001), -EADDRINUSE);
	ck_assert_int_eq(bind6(g, &other, 8002), -EADDRNOTAVAIL); /* not ours */
	ck_assert_int_eq(bind4(f, 0, 8002), 0);
	nstack_close(a);
	nstack_close(b);
	nstack_close(c);
	nstack_close(d);
	nstack_close(e);
	nstack_close(f);
	nstack_close(g);
}
END_TEST

/*
 * On a device that segments TCP (NETDEV_F_TX_GSO), a write of three
 * segments over IPv6 leaves as one super-frame, and the segments the
 * device cuts from it are exactly those TCP would have sent one by one.
 */
START_TEST(test_burst_over_ipv6_leaves_as_one_super_frame)
{
	struct socket *l = sock6(SOCK_STREAM), *c = NULL;
	static unsigned char f[T_FRAME_MAX];
	static char data[3500];
	uint32_t iss;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)('a' + i % 26);
	ck_assert_int_eq(bind6(l, &in6addr_any, SRV_PORT), 0);
	ck_assert_int_eq(nstack_listen(l, 8), 0);
	inject6(&(struct seg6){PEER_PORT, SRV_PORT, PEER_ISN, 0, TH_SYN, 65535, opt_mss6, 4});
	recv_tcp6(f);
	iss = ntohl(tcp_of(f)->seq);
	inject6(&(struct seg6){PEER_PORT, SRV_PORT, PEER_ISN + 1, iss + 1, TH_ACK, 65535});
	ck_assert_int_eq(nstack_accept(l, &c, NULL, NULL, SOCK_NONBLOCK), 0);
	ns_dev(T.ns)->flags |= NETDEV_F_TX_GSO;
	ck_assert_int_eq(usend(c, data, sizeof(data)), (ssize_t)sizeof(data));
	expect6(&(struct seg6){SRV_PORT, PEER_PORT, iss + 1, PEER_ISN + 1, TH_ACK, 64800, NULL, 0,
			       data, 1440});
	expect6(&(struct seg6){SRV_PORT, PEER_PORT, iss + 1441, PEER_ISN + 1, TH_ACK, 64800, NULL,
			       0, data + 1440, 1440});
	expect6(&(struct seg6){SRV_PORT, PEER_PORT, iss + 2881, PEER_ISN + 1, TH_ACK | TH_PSH,
			       64800, NULL, 0, data + 2880, 620});
	ck_assert_uint_eq(t_stat("EthOutGsoFrames"), 1);
	ck_assert_uint_eq(wire_gso_errors(T.wire), 0);
	abort_close(c);
	nstack_close(l);
}
END_TEST

static void tweak_v6_optimistic(struct nstack_config *cfg)
{
	tweak_v6(cfg);
	cfg->optimistic_dad = true;
}

/* The stack just started with optimistic DAD: nothing sent so far is under test. */
static void setup_v6_optimistic(void)
{
	struct t_opts o = {.tweak = tweak_v6_optimistic};

	t_setup_opts(&o);
}

/* The next ICMPv6 frame of the given type sent (others skipped); its length in *len. */
static void recv_icmp6(unsigned char *f, uint8_t type, size_t *len)
{
	while (t_try_recv(f, T_FRAME_MAX, len)) {
		if (*len >= ETH_HLEN + IPV6_HLEN + 4 && f[12] == 0x86 && f[13] == 0xdd &&
		    f[ETH_HLEN + 6] == IPPROTO_ICMPV6 && f[ETH_HLEN + IPV6_HLEN] == type)
			return;
	}
	ck_abort_msg("expected ICMPv6 type %u, got none", type);
}

/* An ICMPv6 neighbour message from the peer (src) to dst; opt: a link-layer option type or 0. */
static void inject_nd(uint8_t type, uint32_t flags, const struct in6_addr *src,
		      const struct in6_addr *dst, const uint8_t dmac[6],
		      const struct in6_addr *target, uint8_t opt)
{
	static unsigned char f[T_FRAME_MAX];
	_Alignas(8) unsigned char pkt[IPV6_HLEN + 32];
	struct ipv6hdr *h = (struct ipv6hdr *)pkt;
	unsigned char *m = pkt + IPV6_HLEN;
	size_t n = 24 + (opt ? 8 : 0);
	uint16_t ck;

	memset(pkt, 0, sizeof(pkt));
	ip6_hdr(h, src, dst, IPPROTO_ICMPV6, 255, n);
	m[0] = type;
	flags = htonl(flags);
	memcpy(m + 4, &flags, 4);
	memcpy(m + 8, target, 16);
	if (opt) {
		m[24] = opt;
		m[25] = 1;
		memcpy(m + 26, t_peer_mac, 6);
	}
	ck = csum_ipv6_magic(src, dst, (uint32_t)n, IPPROTO_ICMPV6, m);
	memcpy(m + 2, &ck, 2);
	t_inject(f, t_build_eth(f, dmac, t_peer_mac, ETH_P_IPV6, pkt, IPV6_HLEN + n));
}

/*
 * RFC 4429: right after start the global address is optimistic, and
 * connect() uses it at once. The solicitation for the peer comes from it
 * without our link-layer address; the SYN follows the peer's answer.
 */
START_TEST(test_optimistic_address_connects_at_once)
{
	struct socket *s = sock6(SOCK_STREAM);
	struct sockaddr_in6 to = sin6(&g_peer, SRV_PORT);
	static unsigned char f[T_FRAME_MAX];
	size_t n;

	ck_assert_int_eq(ipv6_get_ifaddr(T.ns, &g_local)->state, IFA_OPTIMISTIC);
	nstack_set_nonblock(s, true);
	ck_assert_int_eq(nstack_connect(s, (struct sockaddr *)&to, sizeof(to)), -EINPROGRESS);
	recv_icmp6(f, NDISC_NEIGHBOUR_SOLICITATION, &n);
	ck_assert_mem_eq(f + ETH_HLEN + offsetof(struct ipv6hdr, saddr), &g_local, 16);
	ck_assert_mem_eq(f + ETH_HLEN + IPV6_HLEN + 8, &g_peer, 16);
	ck_assert_uint_eq(n, ETH_HLEN + IPV6_HLEN + 24); /* no source link-layer option */
	inject_nd(NDISC_NEIGHBOUR_ADVERTISEMENT, ND_NA_FLAG_SOLICITED | ND_NA_FLAG_OVERRIDE,
		  &g_peer, &g_local, t_local_mac, &g_peer, ND_OPT_TARGET_LL_ADDR);
	n = recv_tcp6(f);
	ck_assert_mem_eq(f + ETH_HLEN + offsetof(struct ipv6hdr, saddr), &g_local, 16);
	ck_assert_uint_eq(tcp_of(f)->flags, TH_SYN);
	/* DAD runs out meanwhile: the address is preferred. */
	for (int i = 0; i < 3; i++)
		t_clock_advance(1000 * 1000);
	ck_assert_int_eq(ipv6_get_ifaddr(T.ns, &g_local)->state, IFA_PREFERRED);
	abort_close(s);
}
END_TEST

/* A solicitation for an optimistic address is answered, but without override (RFC 4429 3.3). */
START_TEST(test_optimistic_address_answers_without_override)
{
	static const struct in6_addr sol = {
	    .s6_addr = {0xff, 0x02, [11] = 1, [12] = 0xff, [15] = 0x02}};
	static unsigned char f[T_FRAME_MAX];
	uint32_t flags;
	size_t n;

	while (t_try_recv(f, sizeof(f), &n))
		;
	inject_nd(NDISC_NEIGHBOUR_SOLICITATION, 0, &g_peer, &sol,
		  (const uint8_t[6]){0x33, 0x33, 0xff, 0, 0, 0x02}, &g_local,
		  ND_OPT_SOURCE_LL_ADDR);
	recv_icmp6(f, NDISC_NEIGHBOUR_ADVERTISEMENT, &n);
	memcpy(&flags, f + ETH_HLEN + IPV6_HLEN + 4, 4);
	ck_assert_uint_eq(ntohl(flags), ND_NA_FLAG_SOLICITED);
	ck_assert_mem_eq(f + ETH_HLEN + IPV6_HLEN + 8, &g_local, 16);
	ck_assert_uint_eq(n, ETH_HLEN + IPV6_HLEN + 32); /* with our link-layer address */
	/* Another node's DAD for it: the address is not ours after all. */
	inject_nd(NDISC_NEIGHBOUR_SOLICITATION, 0, &in6addr_any, &sol,
		  (const uint8_t[6]){0x33, 0x33, 0xff, 0, 0, 0x02}, &g_local, 0);
	ck_assert_int_eq(ipv6_get_ifaddr(T.ns, &g_local)->state, IFA_DUPLICATE);
	for (int i = 0; i < 3; i++)
		t_clock_advance(1000 * 1000);
	ck_assert_int_eq(ipv6_get_ifaddr(T.ns, &g_local)->state, IFA_DUPLICATE);
}
END_TEST

static Suite *tcp6_wire_suite(void)
{
	Suite *s = suite_create("tcp6_wire");
	TCase *tc = tcase_create("tcp6");

	tcase_add_checked_fixture(tc, setup_v6, t_teardown);
	tcase_add_test(tc, test_passive_open_over_ipv6_exact_segments_and_data);
	tcase_add_test(tc, test_dual_stack_listener_takes_ipv4_too);
	tcase_add_test(tc, test_closed_port_reset_over_ipv6);
	tcase_add_test(tc, test_active_open_over_ipv6);
	tcase_add_test(tc, test_connect_errors_over_ipv6);
	tcase_add_test(tc, test_bind_conflicts_shared_with_ipv4);
	tcase_add_test(tc, test_burst_over_ipv6_leaves_as_one_super_frame);
	suite_add_tcase(s, tc);
	tc = tcase_create("optimistic_dad");
	tcase_add_checked_fixture(tc, setup_v6_optimistic, t_teardown);
	tcase_add_test(tc, test_optimistic_address_connects_at_once);
	tcase_add_test(tc, test_optimistic_address_answers_without_override);
	suite_add_tcase(s, tc);
	return s;
}

NSTACK_SUITE(tcp6_wire_suite)
