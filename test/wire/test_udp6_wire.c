/*
 * Packet-level tests of UDP over IPv6: echo through sockets bound to "::"
 * and to our global address with the exact frames, sendto() with the
 * IPv6 pseudo-header checksum, hop limit and traffic class, the input
 * checks and their Udp6* counters, the ICMPv6 port unreachable with its
 * quote, one port space with IPv4 (Linux's conflicts between AF_INET,
 * dual-stack and IPv6-only sockets), connect()/getpeername(), the size
 * limits, control messages, and ICMPv6 errors turned into socket errors.
 *
 * The stack is 2001:2::2/64 with the peer 2001:2::1 a permanent neighbour.
 * Frames received from the stack are read by offset or copied out, never
 * cast at offset 14 (UBSan: an IPv6 header there is misaligned).
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <string.h>

#include "check_main.h"
#include "checksum.h"
#include "harness.h"
#include "icmpv6.h"
#include "inet.h"
#include "ipv6.h"
#include "ndisc.h"
#include "skbuff.h"
#include "sock.h"
#include "stack.h"
#include "udp.h"
#include "proto/ether.h"
#include "proto/ip.h"
#include "proto/ipv6.h"
#include "proto/udp.h"

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define PEER_PORT 40000
#define SRV_PORT  7000

/* The harness's IPv6 fixture and helpers, under this file's names. */
#define setup_v6  t_setup_v6
#define sin6	  t_sin6
#define rx6	  t_rx6
#define recv6_msg t_recv6_msg
#define find_cmsg t_find_cmsg

static const struct in6_addr g_local = {.s6_addr = {0x20, 0x01, 0x00, 0x02, [15] = 0x02}};
static const struct in6_addr g_peer = {.s6_addr = {0x20, 0x01, 0x00, 0x02, [15] = 0x01}};
/* Our link-local address: fe80::ff:fe00:2 from 02:00:00:00:00:02 (modified EUI-64). */
static const struct in6_addr g_local_ll = {
    .s6_addr = {0xfe, 0x80, [11] = 0xff, [12] = 0xfe, [15] = 0x02}};
static const struct in6_addr g_peer_ll = {.s6_addr = {0xfe, 0x80, [15] = 0x01}};
static const struct in6_addr g_allnodes = {.s6_addr = {0xff, 0x02, [15] = 0x01}};

static unsigned char frame[T_FRAME_MAX];
static unsigned char want[T_FRAME_MAX];
static unsigned char pkt[T_FRAME_MAX];

/* What a UDP-over-IPv6 frame carries; check 0 computes the checksum, ulen 0 the length. */
struct dgram6 {
	const struct in6_addr *src, *dst;
	uint16_t sport, dport; /* host order */
	const void *data;
	size_t len;
	uint8_t hlim; /* 0: 64 */
	uint8_t tclass;
	uint16_t ulen;	/* 0: 8 + len */
	uint16_t check; /* 0: computed; else this value (network order) */
	bool zero_check;
};

/* Ethernet + IPv6 + UDP into buf. */
static size_t build_udp6(unsigned char *buf, const uint8_t dmac[6], const uint8_t smac[6],
			 const struct dgram6 *d)
{
	struct ipv6hdr h;
	struct udphdr uh;
	size_t n = UDP_HLEN + d->len;

	memset(&h, 0, sizeof(h));
	h.vtc_flow = htonl(6u << 28 | (uint32_t)d->tclass << 20);
	h.payload_len = htons((uint16_t)n);
	h.nexthdr = IPPROTO_UDP;
	h.hop_limit = d->hlim ? d->hlim : 64;
	h.saddr = *d->src;
	h.daddr = *d->dst;
	uh.source = htons(d->sport);
	uh.dest = htons(d->dport);
	uh.len = htons(d->ulen ? d->ulen : (uint16_t)n);
	uh.check = 0;
	memcpy(pkt, &h, sizeof(h));
	memcpy(pkt + IPV6_HLEN, &uh, sizeof(uh));
	if (d->len)
		memcpy(pkt + IPV6_HLEN + UDP_HLEN, d->data, d->len);
	if (d->check) {
		uh.check = d->check;
	} else if (!d->zero_check) {
		uint16_t c =
		    csum_ipv6_magic(d->src, d->dst, (uint32_t)n, IPPROTO_UDP, pkt + IPV6_HLEN);

		uh.check = c ? c : 0xffff;
	}
	memcpy(pkt + IPV6_HLEN + 6, &uh.check, 2);
	return t_build_eth(buf, dmac, smac, ETH_P_IPV6, pkt, IPV6_HLEN + n);
}

/* The peer sends d (addresses default to peer -> our global address). */
static void inject_udp6(struct dgram6 d)
{
	if (!d.src)
		d.src = &g_peer;
	if (!d.dst)
		d.dst = &g_local;
	t_inject(frame, build_udp6(frame, t_local_mac, t_peer_mac, &d));
}

/* The frame we should send: d from our global address to the peer unless given. */
static size_t want_udp6(struct dgram6 d)
{
	if (!d.src)
		d.src = &g_local;
	if (!d.dst)
		d.dst = &g_peer;
	return build_udp6(want, t_peer_mac, t_local_mac, &d);
}

/* The next frame sent that is IPv6 with next header nexthdr (ND and the like skipped). */
static size_t recv6(unsigned char *f, uint8_t nexthdr)
{
	size_t n;

	while (t_try_recv(f, T_FRAME_MAX, &n)) {
		if (n >= ETH_HLEN + IPV6_HLEN && f[12] == 0x86 && f[13] == 0xdd &&
		    f[ETH_HLEN + 6] == nexthdr)
			return n;
	}
	ck_abort_msg("expected an IPv6 packet with next header %u, got none", nexthdr);
	return 0;
}

/* Asserts that nothing but neighbour discovery goes out. */
static void expect_no_tx6(void)
{
	size_t n;

	while (t_try_recv(frame, sizeof(frame), &n)) {
		bool nd = n >= ETH_HLEN + IPV6_HLEN + 1 && frame[12] == 0x86 && frame[13] == 0xdd &&
			  frame[ETH_HLEN + 6] == NEXTHDR_ICMP &&
			  frame[ETH_HLEN + IPV6_HLEN] >= 133 && frame[ETH_HLEN + IPV6_HLEN] <= 137;

		if (!nd) {
			t_hexdump("unexpected", frame, n);
			ck_abort_msg("unexpected frame sent");
		}
	}
}

static void expect_frame6(size_t wlen)
{
	size_t glen = recv6(frame, IPPROTO_UDP);

	if (glen != wlen || memcmp(frame, want, wlen) != 0) {
		t_hexdump("expected", want, wlen);
		t_hexdump("got", frame, glen);
		ck_abort_msg("frame mismatch");
	}
}

static struct socket *sock6(void)
{
	struct socket *s = NULL;

	ck_assert_int_eq(nstack_socket(T.ns, AF_INET6, SOCK_DGRAM, 0, &s), 0);
	return s;
}

static struct in6_addr mapped(uint32_t v4)
{
	struct in6_addr a;

	memset(&a, 0, sizeof(a));
	a.s6_addr[10] = 0xff;
	a.s6_addr[11] = 0xff;
	memcpy(&a.s6_addr[12], &v4, 4);
	return a;
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

static int connect6(struct socket *s, const struct in6_addr *a, uint16_t port)
{
	struct sockaddr_in6 c = sin6(a, port);

	return nstack_connect(s, (struct sockaddr *)&c, sizeof(c));
}

static int set_v6only(struct socket *s)
{
	int one = 1;

	return nstack_setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
}

static ssize_t sendto6(struct socket *s, const void *buf, size_t len, const struct in6_addr *a,
		       uint16_t port, int flags)
{
	struct sockaddr_in6 to;
	struct iovec iov = {(void *)buf, len};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};

	if (a) {
		to = sin6(a, port);
		m.msg_name = &to;
		m.msg_namelen = sizeof(to);
	}
	return nstack_sendmsg(s, &m, flags | MSG_DONTWAIT);
}

/* Receives one datagram and echoes it to its source (recvfrom + sendto). */
static void echo_once(struct socket *s, const char *want_data, size_t len)
{
	struct rx6 r;
	struct iovec iov;
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};

	recv6_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, (ssize_t)len);
	ck_assert_mem_eq(r.data, want_data, len);
	ck_assert_uint_eq(r.fromlen, sizeof(struct sockaddr_in6));
	ck_assert_int_eq(r.from.sin6_family, AF_INET6);
	ck_assert_mem_eq(&r.from.sin6_addr, &g_peer, 16);
	ck_assert_uint_eq(ntohs(r.from.sin6_port), PEER_PORT);
	ck_assert_uint_eq(r.from.sin6_scope_id, 0);
	iov.iov_base = r.data;
	iov.iov_len = len;
	m.msg_name = &r.from;
	m.msg_namelen = r.fromlen;
	ck_assert_int_eq(nstack_sendmsg(s, &m, MSG_DONTWAIT), (ssize_t)len);
}

/* A dual-stack socket on [::]:7000 echoes an IPv6 datagram: the exact reply frame. */
START_TEST(test_dual_stack_wildcard_echo_exact_frames)
{
	struct socket *s = sock6();

	ck_assert_int_eq(bind6(s, &in6addr_any, SRV_PORT), 0);
	inject_udp6(
	    (struct dgram6){.sport = PEER_PORT, .dport = SRV_PORT, .data = "ping", .len = 4});
	echo_once(s, "ping", 4);
	expect_frame6(want_udp6(
	    (struct dgram6){.sport = SRV_PORT, .dport = PEER_PORT, .data = "ping", .len = 4}));
	expect_no_tx6();
	ck_assert_uint_eq(t_stat("Udp6InDatagrams"), 1);
	ck_assert_uint_eq(t_stat("Udp6OutDatagrams"), 1);
	ck_assert_uint_eq(t_stat("UdpInDatagrams"), 0);
	nstack_close(s);
}
END_TEST

/*
 * A socket bound to [2001:2::2]:7000 echoes what comes to that address; a
 * datagram to our link-local address on the same port is not its business
 * and earns a port unreachable.
 */
START_TEST(test_global_address_echo_and_other_address_unreachable)
{
	struct socket *s = sock6();
	struct rx6 r;
	size_t n;

	ck_assert_int_eq(bind6(s, &g_local, SRV_PORT), 0);
	inject_udp6(
	    (struct dgram6){.sport = PEER_PORT, .dport = SRV_PORT, .data = "abc", .len = 3});
	echo_once(s, "abc", 3);
	expect_frame6(want_udp6(
	    (struct dgram6){.sport = SRV_PORT, .dport = PEER_PORT, .data = "abc", .len = 3}));
	inject_udp6((struct dgram6){
	    .dst = &g_local_ll, .sport = PEER_PORT, .dport = SRV_PORT, .data = "x", .len = 1});
	n = recv6(frame, NEXTHDR_ICMP);
	ck_assert_uint_ge(n, ETH_HLEN + IPV6_HLEN + 8);
	ck_assert_uint_eq(frame[ETH_HLEN + IPV6_HLEN], ICMPV6_DEST_UNREACH);
	ck_assert_uint_eq(frame[ETH_HLEN + IPV6_HLEN + 1], ICMPV6_PORT_UNREACH);
	recv6_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, -EAGAIN);
	ck_assert_uint_eq(t_stat("Udp6NoPorts"), 1);
	nstack_close(s);
}
END_TEST

/* sendto() from an unbound socket: an ephemeral port, our global address, hop limit 64. */
START_TEST(test_unbound_sendto_exact_frame)
{
	struct socket *s = sock6();
	struct sockaddr_in6 me;
	socklen_t mlen = sizeof(me);
	uint16_t sport;
	size_t n;

	ck_assert_int_eq(sendto6(s, "hello", 5, &g_peer, 53, 0), 5);
	n = recv6(frame, IPPROTO_UDP);
	ck_assert_uint_eq(n, ETH_HLEN + IPV6_HLEN + UDP_HLEN + 5);
	ck_assert_uint_eq(frame[ETH_HLEN + 7], 64); /* hop limit */
	ck_assert_mem_eq(frame + ETH_HLEN + 8, &g_local, 16);
	ck_assert_mem_eq(frame + ETH_HLEN + 24, &g_peer, 16);
	/* The checksum verifies over the pseudo-header (copied out: misaligned in the frame). */
	memcpy(pkt, frame + ETH_HLEN + IPV6_HLEN, UDP_HLEN + 5);
	ck_assert_uint_eq(csum_ipv6_magic(&g_local, &g_peer, UDP_HLEN + 5, IPPROTO_UDP, pkt), 0);
	ck_assert_uint_ne(pkt[6] << 8 | pkt[7], 0);
	sport = (uint16_t)(pkt[0] << 8 | pkt[1]);
	ck_assert_uint_ge(sport, IP_LOCAL_PORT_LOW);
	ck_assert_uint_le(sport, IP_LOCAL_PORT_HIGH);
	n = want_udp6((struct dgram6){.sport = sport, .dport = 53, .data = "hello", .len = 5});
	ck_assert_int_eq(memcmp(frame, want, n), 0);
	/* getsockname(): the port, and "::" (the socket is not bound to an address). */
	ck_assert_int_eq(nstack_getsockname(s, (struct sockaddr *)&me, &mlen), 0);
	ck_assert_int_eq(me.sin6_family, AF_INET6);
	ck_assert_uint_eq(ntohs(me.sin6_port), sport);
	ck_assert_mem_eq(&me.sin6_addr, &in6addr_any, 16);
	expect_no_tx6();
	nstack_close(s);
}
END_TEST

/* IPV6_UNICAST_HOPS and IPV6_TCLASS go into the header. */
START_TEST(test_hop_limit_and_tclass_from_socket)
{
	struct socket *s = sock6();
	int hops = 9, tclass = 0x28;

	ck_assert_int_eq(bind6(s, &in6addr_any, SRV_PORT), 0);
	ck_assert_int_eq(nstack_setsockopt(s, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof(hops)),
			 0);
	ck_assert_int_eq(nstack_setsockopt(s, IPPROTO_IPV6, IPV6_TCLASS, &tclass, sizeof(tclass)),
			 0);
	ck_assert_int_eq(sendto6(s, "ab", 2, &g_peer, PEER_PORT, 0), 2);
	expect_frame6(want_udp6((struct dgram6){.sport = SRV_PORT,
						.dport = PEER_PORT,
						.data = "ab",
						.len = 2,
						.hlim = 9,
						.tclass = 0x28}));
	nstack_close(s);
}
END_TEST

/* RFC 8200 8.1: a zero checksum is an error over IPv6; a wrong one too. Neither answered. */
START_TEST(test_zero_and_bad_checksum_dropped_and_counted)
{
	struct socket *s = sock6();
	struct rx6 r;

	ck_assert_int_eq(bind6(s, &in6addr_any, SRV_PORT), 0);
	inject_udp6((struct dgram6){
	    .sport = PEER_PORT, .dport = SRV_PORT, .data = "z", .len = 1, .zero_check = true});
	ck_assert_uint_eq(t_stat("Udp6InErrors"), 1);
	ck_assert_uint_eq(t_stat("Udp6InCsumErrors"), 1);
	inject_udp6((struct dgram6){
	    .sport = PEER_PORT, .dport = SRV_PORT, .data = "z", .len = 1, .check = htons(0x1234)});
	ck_assert_uint_eq(t_stat("Udp6InErrors"), 2);
	ck_assert_uint_eq(t_stat("Udp6InCsumErrors"), 2);
	/* Nor to a closed port: no port unreachable for a datagram that fails its checksum. */
	inject_udp6((struct dgram6){
	    .sport = PEER_PORT, .dport = 9, .data = "z", .len = 1, .zero_check = true});
	ck_assert_uint_eq(t_stat("Udp6InErrors"), 3);
	ck_assert_uint_eq(t_stat("Udp6NoPorts"), 0);
	expect_no_tx6();
	recv6_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, -EAGAIN);
	ck_assert_uint_eq(t_stat("Udp6InDatagrams"), 0);
	nstack_close(s);
}
END_TEST

/*
 * The UDP length must cover the header and fit the IPv6 payload; a length
 * shorter than the payload cuts the datagram there.
 */
START_TEST(test_bad_length_dropped_short_length_trims)
{
	struct socket *s = sock6();
	struct rx6 r;

	ck_assert_int_eq(bind6(s, &in6addr_any, SRV_PORT), 0);
	/* Longer than the payload. */
	inject_udp6((struct dgram6){
	    .sport = PEER_PORT, .dport = SRV_PORT, .data = "abcd", .len = 4, .ulen = 13});
	ck_assert_uint_eq(t_stat("Udp6InErrors"), 1);
	/* Shorter than the header, and 0 (a jumbogram's, which Ethernet does not carry). */
	inject_udp6((struct dgram6){
	    .sport = PEER_PORT, .dport = SRV_PORT, .data = "abcd", .len = 4, .ulen = 7});
	ck_assert_uint_eq(t_stat("Udp6InErrors"), 2);
	inject_udp6((struct dgram6){.sport = PEER_PORT,
				    .dport = SRV_PORT,
				    .data = "abcd",
				    .len = 4,
				    .ulen = 0xffff}); /* > payload */
	ck_assert_uint_eq(t_stat("Udp6InErrors"), 3);
	expect_no_tx6();
	recv6_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, -EAGAIN);
	/* Length 10 of a 12-byte payload: two bytes of data (the checksum covers those). */
	{
		struct dgram6 d = {.src = &g_peer,
				   .dst = &g_local,
				   .sport = PEER_PORT,
				   .dport = SRV_PORT,
				   .data = "ab",
				   .len = 2};
		size_t n = build_udp6(frame, t_local_mac, t_peer_mac, &d);

		/* Two bytes of trailing junk in the IPv6 payload, after the UDP datagram. */
		frame[n] = 0xee;
		frame[n + 1] = 0xee;
		frame[ETH_HLEN + 5] = (uint8_t)(frame[ETH_HLEN + 5] + 2); /* payload length */
		t_inject(frame, n + 2);
	}
	recv6_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, 2);
	ck_assert_mem_eq(r.data, "ab", 2);
	ck_assert_uint_eq(t_stat("Udp6InErrors"), 3);
	nstack_close(s);
}
END_TEST

/*
 * An ICMPv6 error (type, code, a zero word) from src to dst quoting qlen
 * bytes of packet q, as a whole frame from smac to dmac into buf.
 */
static size_t build_icmp6_err(unsigned char *buf, const uint8_t dmac[6], const uint8_t smac[6],
			      const struct in6_addr *src, const struct in6_addr *dst, uint8_t type,
			      uint8_t code, const unsigned char *q, size_t qlen)
{
	static unsigned char icmp[T_FRAME_MAX], ip[T_FRAME_MAX];
	struct ipv6hdr h;
	uint16_t c;

	memset(icmp, 0, 8);
	icmp[0] = type;
	icmp[1] = code;
	memmove(icmp + 8, q, qlen);
	c = csum_ipv6_magic(src, dst, (uint32_t)(8 + qlen), NEXTHDR_ICMP, icmp);
	memcpy(icmp + 2, &c, 2);
	memset(&h, 0, sizeof(h));
	h.vtc_flow = htonl(6u << 28);
	h.payload_len = htons((uint16_t)(8 + qlen));
	h.nexthdr = NEXTHDR_ICMP;
	h.hop_limit = 64;
	h.saddr = *src;
	h.daddr = *dst;
	memcpy(ip, &h, sizeof(h));
	memcpy(ip + IPV6_HLEN, icmp, 8 + qlen);
	return t_build_eth(buf, dmac, smac, ETH_P_IPV6, ip, IPV6_HLEN + 8 + qlen);
}

/*
 * Nobody on the port: the exact ICMPv6 destination unreachable (code 4,
 * port unreachable) from the address the datagram went to, quoting the
 * whole packet (RFC 4443 3.1). To a multicast group: nothing (2.4(e.3)).
 */
START_TEST(test_closed_port_icmpv6_unreachable_exact_frame)
{
	struct dgram6 d = {.src = &g_peer,
			   .dst = &g_local,
			   .sport = PEER_PORT,
			   .dport = 9999,
			   .data = "knock",
			   .len = 5};
	size_t qlen = IPV6_HLEN + UDP_HLEN + 5, n, wlen;

	n = build_udp6(frame, t_local_mac, t_peer_mac, &d);
	t_inject(frame, n);
	/* The quoted packet is what was sent: pkt still holds its IPv6 packet. */
	wlen = build_icmp6_err(want, t_peer_mac, t_local_mac, &g_local, &g_peer,
			       ICMPV6_DEST_UNREACH, ICMPV6_PORT_UNREACH, pkt, qlen);
	n = recv6(frame, NEXTHDR_ICMP);
	if (n != wlen || memcmp(frame, want, n) != 0) {
		t_hexdump("expected", want, wlen);
		t_hexdump("got", frame, n);
		ck_abort_msg("ICMPv6 mismatch");
	}
	ck_assert_uint_eq(t_stat("Udp6NoPorts"), 1);
	ck_assert_uint_eq(t_stat("Icmp6OutDestUnreachs"), 1);
	expect_no_tx6();

	/* ff02::1, port 9999: counted as ignored, never answered. */
	{
		static const uint8_t mc_mac[6] = {0x33, 0x33, 0, 0, 0, 1};
		struct dgram6 m = {.src = &g_peer,
				   .dst = &g_allnodes,
				   .sport = PEER_PORT,
				   .dport = 9999,
				   .data = "all",
				   .len = 3};

		t_inject(frame, build_udp6(frame, mc_mac, t_peer_mac, &m));
	}
	expect_no_tx6();
	ck_assert_uint_eq(t_stat("Udp6NoPorts"), 1);
	ck_assert_uint_eq(t_stat("Udp6IgnoredMulti"), 1);
}
END_TEST

/*
 * A datagram a socket sends to ff02::1 comes back to the sockets of the
 * port on this host too (IPV6_MULTICAST_LOOP, default on, as Linux), the
 * sender's own included; with IPV6_MULTICAST_LOOP 0 only the wire gets it.
 */
START_TEST(test_multicast_loop_delivers_own_copy)
{
	struct socket *s = sock6();
	struct rx6 r;
	size_t n;
	int zero = 0;

	ck_assert_int_eq(bind6(s, &in6addr_any, SRV_PORT), 0);
	ck_assert_int_eq(sendto6(s, "loop", 4, &g_allnodes, SRV_PORT, 0), 4);
	ck_assert(t_try_recv(frame, sizeof(frame), &n)); /* the wire's copy */
	nstack_process(T.ns);
	recv6_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, 4);
	ck_assert_mem_eq(r.data, "loop", 4);
	ck_assert_uint_eq(ntohs(r.from.sin6_port), SRV_PORT);
	ck_assert_int_eq(
	    nstack_setsockopt(s, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &zero, sizeof(zero)), 0);
	ck_assert_int_eq(sendto6(s, "wire", 4, &g_allnodes, SRV_PORT, 0), 4);
	ck_assert(t_try_recv(frame, sizeof(frame), &n));
	nstack_process(T.ns);
	recv6_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, -EAGAIN);
	nstack_close(s);
}
END_TEST

/* A socket on [::]:P also takes a datagram to ff02::1:P. */
START_TEST(test_wildcard_socket_takes_all_nodes_multicast)
{
	static const uint8_t mc_mac[6] = {0x33, 0x33, 0, 0, 0, 1};
	struct socket *s = sock6();
	struct dgram6 m = {.src = &g_peer,
			   .dst = &g_allnodes,
			   .sport = PEER_PORT,
			   .dport = SRV_PORT,
			   .data = "all",
			   .len = 3};
	struct rx6 r;

	ck_assert_int_eq(bind6(s, &in6addr_any, SRV_PORT), 0);
	t_inject(frame, build_udp6(frame, mc_mac, t_peer_mac, &m));
	recv6_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, 3);
	ck_assert_mem_eq(&r.from.sin6_addr, &g_peer, 16);
	nstack_close(s);
}
END_TEST

/*
 * A dual-stack socket on "::" still takes IPv4 (source v4-mapped); an
 * IPv6-only one does not, and the IPv4 sender hears port unreachable.
 */
START_TEST(test_dual_stack_takes_ipv4_v6only_does_not)
{
	struct socket *s = sock6(), *o = sock6();
	static unsigned char l4[64];
	struct in6_addr peer4 = mapped(T_PEER_IP);
	struct rx6 r;
	size_t n;

	ck_assert_int_eq(bind6(s, &in6addr_any, SRV_PORT), 0);
	n = t_build_udp(l4, T_PEER_IP, T_LOCAL_IP, PEER_PORT, SRV_PORT, "v4", 2);
	t_inject(frame, t_build_peer_ip(frame, IPPROTO_UDP, 1, l4, n));
	recv6_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, 2);
	ck_assert_uint_eq(r.fromlen, sizeof(struct sockaddr_in6));
	ck_assert_int_eq(r.from.sin6_family, AF_INET6);
	ck_assert_mem_eq(&r.from.sin6_addr, &peer4, 16);
	ck_assert_uint_eq(ntohs(r.from.sin6_port), PEER_PORT);
	ck_assert_uint_eq(t_stat("UdpInDatagrams"), 1);
	ck_assert_uint_eq(t_stat("Udp6InDatagrams"), 0);
	/* The reply to the v4-mapped source goes out as IPv4. */
	ck_assert_int_eq(sendto6(s, "ok", 2, &peer4, PEER_PORT, 0), 2);
	n = t_recv(frame, sizeof(frame));
	ck_assert_uint_eq(frame[12], 0x08);
	ck_assert_uint_eq(frame[13], 0x00);
	nstack_close(s);

	ck_assert_int_eq(set_v6only(o), 0);
	ck_assert_int_eq(bind6(o, &in6addr_any, SRV_PORT), 0);
	n = t_build_udp(l4, T_PEER_IP, T_LOCAL_IP, PEER_PORT, SRV_PORT, "v4", 2);
	t_inject(frame, t_build_peer_ip(frame, IPPROTO_UDP, 2, l4, n));
	recv6_msg(o, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, -EAGAIN);
	ck_assert_uint_eq(t_stat("UdpNoPorts"), 1);
	n = t_recv(frame, sizeof(frame));
	ck_assert_uint_eq(frame[ETH_HLEN + 9], IPPROTO_ICMP);
	/* And it sends no IPv4. */
	ck_assert_int_eq(sendto6(o, "no", 2, &peer4, PEER_PORT, 0), -ENETUNREACH);
	nstack_close(o);
}
END_TEST

/*
 * An AF_INET socket and an IPv6-only one share a port: each family's
 * datagrams go to its own. With SO_REUSEADDR an AF_INET socket and a
 * dual-stack one share it too, and IPv4 prefers the AF_INET socket (Linux's
 * compute_score).
 */
START_TEST(test_families_demuxed_on_a_shared_port)
{
	struct socket *a = t_socket(SOCK_DGRAM, 0), *b = sock6();
	struct socket *c = t_socket(SOCK_DGRAM, 0), *d = sock6();
	static unsigned char l4[64];
	struct rx6 r;
	int one = 1;
	size_t n;

	ck_assert_int_eq(bind4(a, 0, 8100), 0);
	ck_assert_int_eq(set_v6only(b), 0);
	ck_assert_int_eq(bind6(b, &in6addr_any, 8100), 0);
	n = t_build_udp(l4, T_PEER_IP, T_LOCAL_IP, PEER_PORT, 8100, "4", 1);
	t_inject(frame, t_build_peer_ip(frame, IPPROTO_UDP, 1, l4, n));
	inject_udp6((struct dgram6){.sport = PEER_PORT, .dport = 8100, .data = "66", .len = 2});
	recv6_msg(a, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, 1);
	recv6_msg(b, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, 2);
	ck_assert_mem_eq(&r.from.sin6_addr, &g_peer, 16);

	ck_assert_int_eq(nstack_setsockopt(c, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	ck_assert_int_eq(nstack_setsockopt(d, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	ck_assert_int_eq(bind6(d, &in6addr_any, 8101), 0);
	ck_assert_int_eq(bind4(c, 0, 8101), 0);
	n = t_build_udp(l4, T_PEER_IP, T_LOCAL_IP, PEER_PORT, 8101, "4", 1);
	t_inject(frame, t_build_peer_ip(frame, IPPROTO_UDP, 2, l4, n));
	inject_udp6((struct dgram6){.sport = PEER_PORT, .dport = 8101, .data = "66", .len = 2});
	recv6_msg(c, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, 1);
	recv6_msg(d, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, 2);
	recv6_msg(d, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, -EAGAIN);
	expect_no_tx6();
	nstack_close(a);
	nstack_close(b);
	nstack_close(c);
	nstack_close(d);
}
END_TEST

/* One port space: Linux's conflicts between AF_INET, dual-stack and IPv6-only UDP sockets. */
START_TEST(test_bind_conflicts_shared_with_ipv4)
{
	struct socket *a = t_socket(SOCK_DGRAM, 0), *b = sock6(), *c = sock6();
	struct socket *d = t_socket(SOCK_DGRAM, 0), *e = sock6(), *f = t_socket(SOCK_DGRAM, 0);
	struct socket *g = sock6(), *h = sock6(), *i = sock6();
	struct in6_addr other = {.s6_addr = {0x20, 0x01, 0x00, 0x02, [15] = 0x77}};
	int one = 1;

	ck_assert_int_eq(bind4(a, 0, 8000), 0);
	ck_assert_int_eq(bind6(b, &in6addr_any, 8000), -EADDRINUSE); /* dual stack overlaps */
	ck_assert_int_eq(set_v6only(c), 0);
	ck_assert_int_eq(bind6(c, &in6addr_any, 8000), 0);	 /* IPv6-only does not */
	ck_assert_int_eq(bind6(h, &g_local, 8000), -EADDRINUSE); /* c has all of IPv6 */
	/* The other order: "::" dual first, then 0.0.0.0. */
	ck_assert_int_eq(bind6(e, &in6addr_any, 8001), 0);
	ck_assert_int_eq(bind4(d, 0, 8001), -EADDRINUSE);
	ck_assert_int_eq(bind4(d, T_LOCAL_IP, 8001), -EADDRINUSE);
	/* An IPv6 address proper leaves IPv4 free. */
	ck_assert_int_eq(bind6(g, &g_local, 8002), 0);
	ck_assert_int_eq(bind4(f, 0, 8002), 0);
	ck_assert_int_eq(bind6(i, &other, 8003), -EADDRNOTAVAIL); /* not ours */
	/* SO_REUSEADDR on both: they may share. */
	ck_assert_int_eq(nstack_setsockopt(e, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	ck_assert_int_eq(nstack_setsockopt(d, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	ck_assert_int_eq(bind4(d, 0, 8001), 0);
	nstack_close(a);
	nstack_close(b);
	nstack_close(c);
	nstack_close(d);
	nstack_close(e);
	nstack_close(f);
	nstack_close(g);
	nstack_close(h);
	nstack_close(i);
}
END_TEST

/*
 * connect() to [2001:2::1]:53: the source is chosen, names follow, send()
 * needs no address, only the peer's datagrams come in; AF_UNSPEC forgets.
 */
START_TEST(test_connect_send_getpeername_and_disconnect)
{
	struct socket *s = sock6();
	struct sockaddr_in6 name;
	struct sockaddr_in6 un = {.sin6_family = AF_UNSPEC};
	socklen_t nlen = sizeof(name);
	struct rx6 r;
	uint16_t sport;

	ck_assert_int_eq(connect6(s, &g_peer, 53), 0);
	ck_assert_int_eq(nstack_getsockname(s, (struct sockaddr *)&name, &nlen), 0);
	ck_assert_uint_eq(nlen, sizeof(name));
	ck_assert_int_eq(name.sin6_family, AF_INET6);
	ck_assert_mem_eq(&name.sin6_addr, &g_local, 16);
	sport = ntohs(name.sin6_port);
	ck_assert_uint_ne(sport, 0);
	nlen = sizeof(name);
	ck_assert_int_eq(nstack_getpeername(s, (struct sockaddr *)&name, &nlen), 0);
	ck_assert_mem_eq(&name.sin6_addr, &g_peer, 16);
	ck_assert_uint_eq(ntohs(name.sin6_port), 53);

	ck_assert_int_eq(sendto6(s, "q", 1, NULL, 0, 0), 1);
	expect_frame6(
	    want_udp6((struct dgram6){.sport = sport, .dport = 53, .data = "q", .len = 1}));
	/* From the peer's port 53: ours. From another port: not the connected socket's. */
	inject_udp6((struct dgram6){.sport = 54, .dport = sport, .data = "no", .len = 2});
	(void)recv6(frame, NEXTHDR_ICMP); /* port unreachable */
	inject_udp6((struct dgram6){.sport = 53, .dport = sport, .data = "yes", .len = 3});
	recv6_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, 3);
	ck_assert_mem_eq(r.data, "yes", 3);
	recv6_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, -EAGAIN);

	ck_assert_int_eq(nstack_connect(s, (struct sockaddr *)&un, sizeof(un)), 0);
	nlen = sizeof(name);
	ck_assert_int_eq(nstack_getpeername(s, (struct sockaddr *)&name, &nlen), -ENOTCONN);
	ck_assert_int_eq(sendto6(s, "q", 1, NULL, 0, 0), -EDESTADDRREQ);
	nstack_close(s);
}
END_TEST

/* connect() to what IPv6 cannot reach here. */
START_TEST(test_connect_errors)
{
	struct socket *s = sock6(), *m = sock6();
	struct in6_addr lo = IN6ADDR_LOOPBACK_INIT,
			off = {.s6_addr = {0x20, 0x01, 0x0d, 0xb8, [15] = 1}};
	struct in6_addr me4 = mapped(T_LOCAL_IP);
	struct sockaddr_in6 to = sin6(&lo, 53);

	ck_assert_int_eq(nstack_connect(s, (struct sockaddr *)&to, sizeof(to)), -ENETUNREACH);
	/* Off-link without a default router. */
	ck_assert_int_eq(connect6(s, &off, 53), -ENETUNREACH);
	/* A link-local peer needs its link. */
	ck_assert_int_eq(connect6(s, &g_peer_ll, 53), -EINVAL);
	ck_assert_int_eq(nstack_connect(s, (struct sockaddr *)&to, 20), -EINVAL);
	/* Bound to a v4-mapped address: no IPv6 (Linux's route lookup: -EAFNOSUPPORT). */
	ck_assert_int_eq(bind6(m, &me4, 0), 0);
	ck_assert_int_eq(connect6(m, &g_peer, 53), -EAFNOSUPPORT);
	ck_assert_int_eq(sendto6(m, "x", 1, &g_peer, 53, 0), -EAFNOSUPPORT);
	nstack_close(s);
	nstack_close(m);
}
END_TEST

/* A socket bound to or connected with an IPv6 address refuses v4-mapped destinations. */
START_TEST(test_ipv6_socket_refuses_v4_mapped_destination)
{
	struct socket *s = sock6(), *c = sock6();
	struct in6_addr peer4 = mapped(T_PEER_IP);
	struct sockaddr_in6 to = sin6(&peer4, 53);

	ck_assert_int_eq(bind6(s, &g_local, 0), 0);
	ck_assert_int_eq(sendto6(s, "x", 1, &peer4, 53, 0), -ENETUNREACH);
	ck_assert_int_eq(nstack_connect(s, (struct sockaddr *)&to, sizeof(to)), -ENETUNREACH);
	ck_assert_int_eq(connect6(c, &g_peer, 53), 0);
	ck_assert_int_eq(sendto6(c, "x", 1, &peer4, 53, 0), -ENETUNREACH);
	expect_no_tx6();
	nstack_close(s);
	nstack_close(c);
}
END_TEST

/* Above the path MTU (1500 - 40 - 8 = 1452 bytes of payload) and above 65527: EMSGSIZE. */
START_TEST(test_oversize_emsgsize)
{
	static char big[70000];
	struct socket *s = sock6();
	size_t n;

	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(sendto6(s, big, 65528, &g_peer, 53, 0), -EMSGSIZE);
	ck_assert_int_eq(sendto6(s, big, 1452, &g_peer, 53, 0), 1452);
	n = recv6(frame, IPPROTO_UDP);
	ck_assert_uint_eq(n, 1514);
	/* One byte more: two fragments (fragment header, next header UDP in it). */
	ck_assert_int_eq(sendto6(s, big, 1453, &g_peer, 53, 0), 1453);
	n = recv6(frame, NEXTHDR_FRAGMENT);
	ck_assert_uint_eq(frame[ETH_HLEN + IPV6_HLEN], IPPROTO_UDP);
	n = recv6(frame, NEXTHDR_FRAGMENT);
	ck_assert_uint_eq(t_stat("Udp6OutDatagrams"), 2);
	ck_assert_uint_eq(t_stat("Ip6FragCreates"), 2);
	expect_no_tx6();
	nstack_close(s);
}
END_TEST

/* IPV6_RECVPKTINFO and IPV6_RECVHOPLIMIT; a link-local source comes with its link. */
START_TEST(test_recv_pktinfo_hoplimit_and_link_local_scope)
{
	struct socket *s = sock6();
	const struct cmsghdr *c;
	struct in6_pktinfo pi;
	int one = 1, hl;
	struct rx6 r;

	ck_assert_int_eq(bind6(s, &in6addr_any, SRV_PORT), 0);
	ck_assert_int_eq(nstack_setsockopt(s, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)),
			 0);
	ck_assert_int_eq(nstack_setsockopt(s, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof(one)),
			 0);
	inject_udp6((struct dgram6){.src = &g_peer_ll,
				    .dst = &g_local_ll,
				    .sport = PEER_PORT,
				    .dport = SRV_PORT,
				    .data = "ll",
				    .len = 2,
				    .hlim = 255});
	recv6_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, 2);
	ck_assert_mem_eq(&r.from.sin6_addr, &g_peer_ll, 16);
	ck_assert_uint_eq(r.from.sin6_scope_id, 1);
	c = find_cmsg(&r, IPPROTO_IPV6, IPV6_PKTINFO);
	ck_assert_ptr_nonnull(c);
	memcpy(&pi, CMSG_DATA(c), sizeof(pi));
	ck_assert_mem_eq(&pi.ipi6_addr, &g_local_ll, 16);
	ck_assert_uint_eq(pi.ipi6_ifindex, 1);
	c = find_cmsg(&r, IPPROTO_IPV6, IPV6_HOPLIMIT);
	ck_assert_ptr_nonnull(c);
	memcpy(&hl, CMSG_DATA(c), sizeof(hl));
	ck_assert_int_eq(hl, 255);
	nstack_close(s);
}
END_TEST

/* IPV6_PKTINFO, IPV6_HOPLIMIT and IPV6_TCLASS control messages on sendmsg(). */
START_TEST(test_sendmsg_ipv6_control_messages)
{
	struct socket *s = sock6();
	struct sockaddr_in6 to = sin6(&g_peer, PEER_PORT);
	struct in6_addr other = {.s6_addr = {0x20, 0x01, 0x00, 0x02, [15] = 0x77}};
	struct iovec iov = {"cm", 2};
	_Alignas(struct cmsghdr) unsigned char
	    ctl[CMSG_SPACE(sizeof(struct in6_pktinfo)) + 2 * CMSG_SPACE(sizeof(int))];
	struct msghdr m = {.msg_name = &to,
			   .msg_namelen = sizeof(to),
			   .msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = ctl,
			   .msg_controllen = sizeof(ctl)};
	struct in6_pktinfo pi;
	struct cmsghdr *c;
	int v;

	ck_assert_int_eq(bind6(s, &in6addr_any, SRV_PORT), 0);
	memset(ctl, 0, sizeof(ctl));
	memset(&pi, 0, sizeof(pi));
	pi.ipi6_addr = g_local_ll;
	c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = IPPROTO_IPV6;
	c->cmsg_type = IPV6_PKTINFO;
	c->cmsg_len = CMSG_LEN(sizeof(pi));
	memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	c = CMSG_NXTHDR(&m, c);
	c->cmsg_level = IPPROTO_IPV6;
	c->cmsg_type = IPV6_HOPLIMIT;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	v = 5;
	memcpy(CMSG_DATA(c), &v, sizeof(v));
	c = CMSG_NXTHDR(&m, c);
	c->cmsg_level = IPPROTO_IPV6;
	c->cmsg_type = IPV6_TCLASS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	v = 0x10;
	memcpy(CMSG_DATA(c), &v, sizeof(v));
	ck_assert_int_eq(nstack_sendmsg(s, &m, MSG_DONTWAIT), 2);
	expect_frame6(want_udp6((struct dgram6){.src = &g_local_ll,
						.sport = SRV_PORT,
						.dport = PEER_PORT,
						.data = "cm",
						.len = 2,
						.hlim = 5,
						.tclass = 0x10}));
	/* A source that is not ours. */
	pi.ipi6_addr = other;
	memcpy(CMSG_DATA(CMSG_FIRSTHDR(&m)), &pi, sizeof(pi));
	ck_assert_int_eq(nstack_sendmsg(s, &m, MSG_DONTWAIT), -EINVAL);
	expect_no_tx6();
	nstack_close(s);
}
END_TEST

/* MSG_PEEK leaves the datagram; MSG_TRUNC reports its real length. */
START_TEST(test_peek_and_trunc)
{
	struct socket *s = sock6();
	struct rx6 r;

	ck_assert_int_eq(bind6(s, &in6addr_any, SRV_PORT), 0);
	inject_udp6(
	    (struct dgram6){.sport = PEER_PORT, .dport = SRV_PORT, .data = "abcdef", .len = 6});
	recv6_msg(s, &r, 3, MSG_PEEK);
	ck_assert_int_eq(r.n, 3);
	ck_assert(r.flags & MSG_TRUNC);
	ck_assert_uint_eq(t_stat("Udp6InDatagrams"), 0);
	recv6_msg(s, &r, 3, MSG_TRUNC);
	ck_assert_int_eq(r.n, 6);
	ck_assert_mem_eq(r.data, "abc", 3);
	ck_assert(r.flags & MSG_TRUNC);
	ck_assert_uint_eq(t_stat("Udp6InDatagrams"), 1);
	nstack_close(s);
}
END_TEST

/* MSG_MORE collects one IPv6 datagram, sent by the call without it. */
START_TEST(test_msg_more_corks_one_datagram)
{
	struct socket *s = sock6();

	ck_assert_int_eq(bind6(s, &in6addr_any, SRV_PORT), 0);
	ck_assert_int_eq(sendto6(s, "ab", 2, &g_peer, PEER_PORT, MSG_MORE), 2);
	expect_no_tx6();
	ck_assert_int_eq(sendto6(s, "cd", 2, NULL, 0, MSG_MORE), 2);
	ck_assert_int_eq(sendto6(s, "e", 1, NULL, 0, 0), 1);
	expect_frame6(want_udp6(
	    (struct dgram6){.sport = SRV_PORT, .dport = PEER_PORT, .data = "abcde", .len = 5}));
	expect_no_tx6();
	nstack_close(s);
}
END_TEST

/* Calls the registered ICMPv6 error handler of UDP about a datagram to dport. */
static void icmp6_error_to_udp(uint8_t type, uint8_t code, uint16_t sport, uint16_t dport)
{
	const struct inet6_protocol *p;
	struct sk_buff *skb;
	struct ipv6hdr h;
	struct udphdr uh;

	nstack_lock(T.ns);
	p = ns_unref(T.ns->ip6->protos[IPPROTO_UDP]);
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(p->err_handler);
	skb = alloc_skb_hdr(T.ns, IPV6_HLEN + UDP_HLEN);
	ck_assert_ptr_nonnull(skb);
	memset(&h, 0, sizeof(h));
	h.vtc_flow = htonl(6u << 28);
	h.payload_len = htons(UDP_HLEN);
	h.nexthdr = IPPROTO_UDP;
	h.hop_limit = 64;
	h.saddr = g_local;
	h.daddr = g_peer;
	uh.source = htons(sport);
	uh.dest = htons(dport);
	uh.len = htons(UDP_HLEN);
	uh.check = 0;
	memcpy(skb_put(skb, IPV6_HLEN), &h, sizeof(h));
	memcpy(skb_put(skb, UDP_HLEN), &uh, sizeof(uh));
	skb_reset_network_header(skb);
	p->err_handler(skb, type, code, IPV6_HLEN, 0);
	kfree_skb(skb);
	nstack_unlock(T.ns);
}

/*
 * ICMPv6 port unreachable about a datagram of a connected socket: the next
 * call reports ECONNREFUSED. An unconnected socket is not told, unless it
 * asked with IPV6_RECVERR: then also through recvmsg(MSG_ERRQUEUE).
 */
START_TEST(test_icmpv6_error_reported_to_connected_socket)
{
	struct socket *c = sock6(), *u = sock6();
	struct sockaddr_in6 name;
	socklen_t nlen = sizeof(name);
	int one = 1;
	struct rx6 r;

	ck_assert_int_eq(connect6(c, &g_peer, 53), 0);
	ck_assert_int_eq(nstack_getsockname(c, (struct sockaddr *)&name, &nlen), 0);
	icmp6_error_to_udp(ICMPV6_DEST_UNREACH, ICMPV6_PORT_UNREACH, ntohs(name.sin6_port), 53);
	recv6_msg(c, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, -ECONNREFUSED);
	recv6_msg(c, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, -EAGAIN);

	ck_assert_int_eq(bind6(u, &in6addr_any, SRV_PORT), 0);
	icmp6_error_to_udp(ICMPV6_DEST_UNREACH, ICMPV6_PORT_UNREACH, SRV_PORT, 53);
	recv6_msg(u, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, -EAGAIN);
	ck_assert_int_eq(nstack_setsockopt(u, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof(one)), 0);
	icmp6_error_to_udp(ICMPV6_DEST_UNREACH, ICMPV6_PORT_UNREACH, SRV_PORT, 53);
	recv6_msg(u, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, -ECONNREFUSED);
	/* And it is queued: the original destination and the extended error. */
	recv6_msg(u, &r, sizeof(r.data), MSG_ERRQUEUE);
	ck_assert_int_eq(r.n, 0);
	ck_assert(r.flags & MSG_ERRQUEUE);
	ck_assert_uint_eq(r.fromlen, sizeof(struct sockaddr_in6));
	ck_assert_mem_eq(&r.from.sin6_addr, &g_peer, 16);
	ck_assert_uint_eq(ntohs(r.from.sin6_port), 53);
	{
		const struct cmsghdr *c = find_cmsg(&r, IPPROTO_IPV6, IPV6_RECVERR);
		struct sock_extended_err ee;

		ck_assert_ptr_nonnull(c);
		memcpy(&ee, CMSG_DATA(c), sizeof(ee));
		ck_assert_uint_eq(ee.ee_errno, ECONNREFUSED);
		ck_assert_uint_eq(ee.ee_origin, SO_EE_ORIGIN_ICMP6);
		ck_assert_uint_eq(ee.ee_type, ICMPV6_DEST_UNREACH);
		ck_assert_uint_eq(ee.ee_code, ICMPV6_PORT_UNREACH);
	}
	recv6_msg(u, &r, sizeof(r.data), MSG_ERRQUEUE);
	ck_assert_int_eq(r.n, -EAGAIN);
	/* About a port nobody has: counted. */
	icmp6_error_to_udp(ICMPV6_DEST_UNREACH, ICMPV6_PORT_UNREACH, 1, 53);
	ck_assert_uint_eq(t_stat("Icmp6InErrors"), 1);
	nstack_close(c);
	nstack_close(u);
}
END_TEST

/* --- ping over IPv6 (SOCK_DGRAM, IPPROTO_ICMPV6) --- */

/* An ICMPv6 echo message (type, identifier, sequence, data) from src to dst, whole frame. */
static size_t build_echo6(unsigned char *buf, const uint8_t dmac[6], const uint8_t smac[6],
			  const struct in6_addr *src, const struct in6_addr *dst, uint8_t type,
			  uint16_t id, uint16_t seq, const char *data, uint8_t hlim)
{
	struct ipv6hdr h;
	size_t dl = strlen(data), n = ICMP6_HLEN + dl;
	unsigned char *m = pkt + IPV6_HLEN;
	uint16_t c;

	memset(&h, 0, sizeof(h));
	h.vtc_flow = htonl(6u << 28);
	h.payload_len = htons((uint16_t)n);
	h.nexthdr = NEXTHDR_ICMP;
	h.hop_limit = hlim;
	h.saddr = *src;
	h.daddr = *dst;
	memcpy(pkt, &h, sizeof(h));
	memset(m, 0, ICMP6_HLEN);
	m[0] = type;
	m[4] = (uint8_t)(id >> 8), m[5] = (uint8_t)id;
	m[6] = (uint8_t)(seq >> 8), m[7] = (uint8_t)seq;
	memcpy(m + ICMP6_HLEN, data, dl);
	c = csum_ipv6_magic(src, dst, (uint32_t)n, NEXTHDR_ICMP, m);
	memcpy(m + 2, &c, 2);
	return t_build_eth(buf, dmac, smac, ETH_P_IPV6, pkt, IPV6_HLEN + n);
}

/*
 * ping -6: sendto() of an echo request gets the socket's identifier and
 * the checksum (exact frame); the reply comes back whole with the sender
 * as a sockaddr_in6; a reply for another identifier, or an IPv4 echo
 * reply, is not this socket's.
 */
START_TEST(test_ping6_echo_exact_frame_and_reply)
{
	struct socket *s = NULL;
	struct sockaddr_in6 me;
	socklen_t ml = sizeof(me);
	unsigned char req[ICMP6_HLEN + 4] = {
	    ICMPV6_ECHO_REQUEST, 0, 0, 0, 0, 0, 0, 7, 'p', 'i', 'n', 'g'};
	struct rx6 r;
	uint16_t id;
	size_t wl;

	ck_assert_int_eq(nstack_socket(T.ns, AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6, &s), 0);
	ck_assert_int_eq(sendto6(s, req, sizeof(req), &g_peer, 0, 0), (ssize_t)sizeof(req));
	ck_assert_int_eq(nstack_getsockname(s, (struct sockaddr *)&me, &ml), 0);
	ck_assert_int_eq(me.sin6_family, AF_INET6);
	id = ntohs(me.sin6_port);
	ck_assert_uint_ne(id, 0);
	wl = build_echo6(want, t_peer_mac, t_local_mac, &g_local, &g_peer, ICMPV6_ECHO_REQUEST, id,
			 7, "ping", 64);
	{
		size_t glen = recv6(frame, NEXTHDR_ICMP);

		if (glen != wl || memcmp(frame, want, wl) != 0) {
			t_hexdump("expected", want, wl);
			t_hexdump("got", frame, glen);
			ck_abort_msg("echo request mismatch");
		}
	}
	ck_assert_uint_eq(t_stat("Icmp6OutEchos"), 1);
	/* Someone else's reply first: not ours. */
	t_inject(frame, build_echo6(frame, t_local_mac, t_peer_mac, &g_peer, &g_local,
				    ICMPV6_ECHO_REPLY, (uint16_t)(id + 1), 7, "ping", 64));
	recv6_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, -EAGAIN);
	t_inject(frame, build_echo6(frame, t_local_mac, t_peer_mac, &g_peer, &g_local,
				    ICMPV6_ECHO_REPLY, id, 7, "ping", 64));
	recv6_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, ICMP6_HLEN + 4);
	ck_assert_uint_eq((uint8_t)r.data[0], ICMPV6_ECHO_REPLY);
	ck_assert_mem_eq(r.data + ICMP6_HLEN, "ping", 4);
	ck_assert_uint_eq(r.fromlen, sizeof(struct sockaddr_in6));
	ck_assert_int_eq(r.from.sin6_family, AF_INET6);
	ck_assert_mem_eq(&r.from.sin6_addr, &g_peer, 16);
	ck_assert_uint_eq(t_stat("Icmp6InEchoReplies"), 2);
	nstack_close(s);
}
END_TEST

/* What ping6 refuses as Linux does: not an echo request, a v4-mapped destination, no destination.
 */
START_TEST(test_ping6_refusals)
{
	struct socket *s = NULL;
	unsigned char req[ICMP6_HLEN] = {ICMPV6_ECHO_REQUEST};
	unsigned char bad[ICMP6_HLEN] = {ICMPV6_ECHO_REPLY};
	struct in6_addr m = mapped(T_PEER_IP);

	ck_assert_int_eq(nstack_socket(T.ns, AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6, &s), 0);
	ck_assert_int_eq(sendto6(s, bad, sizeof(bad), &g_peer, 0, 0), -EINVAL);
	ck_assert_int_eq(sendto6(s, req, 4, &g_peer, 0, 0), -EINVAL);
	ck_assert_int_eq(sendto6(s, req, sizeof(req), &m, 0, 0), -EINVAL);
	ck_assert_int_eq(sendto6(s, req, sizeof(req), NULL, 0, 0), -EDESTADDRREQ);
	expect_no_tx6();
	/* Connected, it needs no destination. */
	ck_assert_int_eq(connect6(s, &g_peer, 0), 0);
	ck_assert_int_eq(sendto6(s, req, sizeof(req), NULL, 0, 0), (ssize_t)sizeof(req));
	ck_assert_uint_gt(recv6(frame, NEXTHDR_ICMP), 0);
	nstack_close(s);
}
END_TEST

/*
 * An ICMPv6 error from a router quoting our echo request reaches the ping
 * socket as Linux's ping_err: nothing for an unconnected socket without
 * IPV6_RECVERR; with it, the error (EHOSTUNREACH for address unreachable)
 * and an error-queue entry whose data is the quoted echo request, whose
 * name is the original destination and whose offender is the router.
 */
START_TEST(test_ping6_icmpv6_error_reported)
{
	static const struct in6_addr router = {.s6_addr = {0x20, 0x01, 0x00, 0x02, [15] = 0xfe}};
	unsigned char req[ICMP6_HLEN + 4] = {
	    ICMPV6_ECHO_REQUEST, 0, 0, 0, 0, 0, 0, 9, 'e', 'r', 'r', '!'};
	static unsigned char quoted[T_FRAME_MAX];
	struct socket *s = NULL;
	struct rx6 r;
	size_t qlen;
	int one = 1, pass;

	ck_assert_int_eq(nstack_socket(T.ns, AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6, &s), 0);
	for (pass = 0; pass < 2; pass++) {
		ck_assert_int_eq(sendto6(s, req, sizeof(req), &g_peer, 0, 0), (ssize_t)sizeof(req));
		qlen = recv6(frame, NEXTHDR_ICMP);
		ck_assert_uint_gt(qlen, ETH_HLEN + IPV6_HLEN);
		qlen -= ETH_HLEN;
		memcpy(quoted, frame + ETH_HLEN, qlen);
		t_inject(frame,
			 build_icmp6_err(frame, t_local_mac, t_peer_mac, &router, &g_local,
					 ICMPV6_DEST_UNREACH, ICMPV6_ADDR_UNREACH, quoted, qlen));
		recv6_msg(s, &r, sizeof(r.data), 0);
		if (pass == 0) {
			/* Unconnected, no IPV6_RECVERR: not told (RFC 4443 leaves it to the
			 * socket). */
			ck_assert_int_eq(r.n, -EAGAIN);
			ck_assert_int_eq(
			    nstack_setsockopt(s, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof(one)), 0);
			continue;
		}
		ck_assert_int_eq(r.n, -EHOSTUNREACH);
	}
	recv6_msg(s, &r, sizeof(r.data), MSG_ERRQUEUE);
	ck_assert_int_eq(r.n, (int)sizeof(req));
	ck_assert(r.flags & MSG_ERRQUEUE);
	ck_assert_uint_eq((uint8_t)r.data[0], ICMPV6_ECHO_REQUEST);
	ck_assert_mem_eq(r.data + ICMP6_HLEN, "err!", 4);
	ck_assert_uint_eq(r.fromlen, sizeof(struct sockaddr_in6));
	ck_assert_mem_eq(&r.from.sin6_addr, &g_peer, 16);
	ck_assert_uint_eq(r.from.sin6_port, 0);
	{
		const struct cmsghdr *cm = find_cmsg(&r, IPPROTO_IPV6, IPV6_RECVERR);
		struct sock_extended_err ee;
		struct sockaddr_in6 off;

		ck_assert_ptr_nonnull(cm);
		memcpy(&ee, CMSG_DATA(cm), sizeof(ee));
		memcpy(&off, CMSG_DATA(cm) + sizeof(ee), sizeof(off));
		ck_assert_uint_eq(ee.ee_errno, EHOSTUNREACH);
		ck_assert_uint_eq(ee.ee_origin, SO_EE_ORIGIN_ICMP6);
		ck_assert_uint_eq(ee.ee_type, ICMPV6_DEST_UNREACH);
		ck_assert_uint_eq(ee.ee_code, ICMPV6_ADDR_UNREACH);
		ck_assert_int_eq(off.sin6_family, AF_INET6);
		ck_assert_mem_eq(&off.sin6_addr, &router, 16);
	}
	recv6_msg(s, &r, sizeof(r.data), MSG_ERRQUEUE);
	ck_assert_int_eq(r.n, -EAGAIN);
	nstack_close(s);
}
END_TEST

static Suite *udp6_wire_suite(void)
{
	Suite *s = suite_create("udp6_wire");
	TCase *tc = tcase_create("udp6");

	tcase_add_checked_fixture(tc, setup_v6, t_teardown);
	tcase_add_test(tc, test_dual_stack_wildcard_echo_exact_frames);
	tcase_add_test(tc, test_ping6_echo_exact_frame_and_reply);
	tcase_add_test(tc, test_ping6_refusals);
	tcase_add_test(tc, test_ping6_icmpv6_error_reported);
	tcase_add_test(tc, test_multicast_loop_delivers_own_copy);
	tcase_add_test(tc, test_global_address_echo_and_other_address_unreachable);
	tcase_add_test(tc, test_unbound_sendto_exact_frame);
	tcase_add_test(tc, test_hop_limit_and_tclass_from_socket);
	tcase_add_test(tc, test_zero_and_bad_checksum_dropped_and_counted);
	tcase_add_test(tc, test_bad_length_dropped_short_length_trims);
	tcase_add_test(tc, test_closed_port_icmpv6_unreachable_exact_frame);
	tcase_add_test(tc, test_wildcard_socket_takes_all_nodes_multicast);
	tcase_add_test(tc, test_dual_stack_takes_ipv4_v6only_does_not);
	tcase_add_test(tc, test_families_demuxed_on_a_shared_port);
	tcase_add_test(tc, test_bind_conflicts_shared_with_ipv4);
	tcase_add_test(tc, test_connect_send_getpeername_and_disconnect);
	tcase_add_test(tc, test_connect_errors);
	tcase_add_test(tc, test_ipv6_socket_refuses_v4_mapped_destination);
	tcase_add_test(tc, test_oversize_emsgsize);
	tcase_add_test(tc, test_recv_pktinfo_hoplimit_and_link_local_scope);
	tcase_add_test(tc, test_sendmsg_ipv6_control_messages);
	tcase_add_test(tc, test_peek_and_trunc);
	tcase_add_test(tc, test_msg_more_corks_one_datagram);
	tcase_add_test(tc, test_icmpv6_error_reported_to_connected_socket);
	suite_add_tcase(s, tc);
	return s;
}

NSTACK_SUITE(udp6_wire_suite)
