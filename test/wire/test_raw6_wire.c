/*
 * Packet-level tests of raw IPv6 sockets (SOCK_RAW over AF_INET6): copies
 * of matching packets from their upper-layer header on while the stack
 * still handles them (an echo request answered and seen), ICMP6_FILTER,
 * the ICMPv6 checksum the stack computes, IPV6_CHECKSUM for another
 * protocol (computed out, verified in), hop limits unicast and multicast,
 * control messages, IPV6_HDRINCL, ICMPv6 errors with IPV6_RECVERR,
 * fragmentation, and Linux's errnos for bind, connect and options.
 *
 * The stack is 2001:2::2/64 with the peer 2001:2::1 a permanent neighbour
 * (t_setup_v6). Frames are read by offset, never cast at offset 14.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <string.h>
#include <sys/socket.h>

#include "check_main.h"
#include "harness.h"
#include "icmpv6.h"
#include "ndisc.h"
#include "stack.h"
#include "proto/ether.h"

#define TEST_PROTO   253 /* RFC 3692 experimentation */
#define ICMP6_ECHO   128
#define ICMP6_REPLY  129
#define ICMP6_UNREAC 1
#define L3	     ETH_HLEN	     /* offset of the IPv6 header in a frame */
#define L4	     (ETH_HLEN + 40) /* offset of what follows it */
#define IFINDEX	     1		     /* the in-memory wire's end 0 */
#ifndef SOL_ICMPV6
#define SOL_ICMPV6 58
#endif
#ifndef SOL_RAW
#define SOL_RAW 255
#endif
#define ICMPV6_FILTER 1
#ifndef IPV6_HDRINCL
#define IPV6_HDRINCL 36
#endif

static const struct in6_addr g_other = {.s6_addr = {0x20, 0x01, 0x00, 0x02, [15] = 0x03}};
static const struct in6_addr g_allnodes = {.s6_addr = {0xff, 0x02, [15] = 0x01}};

static _Alignas(8) unsigned char frame[T_FRAME_MAX];
static _Alignas(8) unsigned char want[T_FRAME_MAX];
static _Alignas(8) unsigned char pkt[T_FRAME_MAX];
static _Alignas(8) unsigned char l4[T_FRAME_MAX];

static struct socket *raw6(int protocol)
{
	struct socket *s = NULL;

	ck_assert_int_eq(nstack_socket(T.ns, AF_INET6, SOCK_RAW, protocol, &s), 0);
	return s;
}

/* An ICMPv6 echo (type 128/129) from src to dst into buf, checksum computed. */
static size_t echo6(unsigned char *buf, uint8_t type, const struct in6_addr *src,
		    const struct in6_addr *dst, uint16_t id, const char *data, size_t len)
{
	uint16_t c;

	buf[0] = type;
	buf[1] = 0;
	memset(buf + 2, 0, 2);
	buf[4] = (uint8_t)(id >> 8);
	buf[5] = (uint8_t)id;
	buf[6] = 0;
	buf[7] = 1;
	memcpy(buf + 8, data, len);
	c = csum_ipv6_magic(src, dst, (uint32_t)(8 + len), IPPROTO_ICMPV6, buf);
	memcpy(buf + 2, &c, 2);
	return 8 + len;
}

/* The peer (or src) sends an IPv6 packet of nexthdr to dst. */
static void inject6(const struct in6_addr *src, const struct in6_addr *dst, uint8_t nexthdr,
		    const void *payload, size_t plen)
{
	size_t n = t_build_ip6(pkt, src ? src : &t_peer6, dst ? dst : &t_local6, nexthdr, 64, 0,
			       payload, plen);

	t_inject(frame, t_build_eth(frame, t_local_mac, t_peer_mac, ETH_P_IPV6, pkt, n));
}

/* The frame we should send: an IPv6 packet to the peer's MAC. */
static size_t want6(const uint8_t dmac[6], const struct in6_addr *src, const struct in6_addr *dst,
		    uint8_t nexthdr, uint8_t hlim, const void *payload, size_t plen)
{
	size_t n = t_build_ip6(pkt, src, dst, nexthdr, hlim, 0, payload, plen);

	return t_build_eth(want, dmac, t_local_mac, ETH_P_IPV6, pkt, n);
}

static void expect6(size_t wlen, uint8_t nexthdr)
{
	size_t glen = t_recv6(frame, nexthdr);

	if (glen != wlen || memcmp(frame, want, wlen) != 0) {
		t_hexdump("expected", want, wlen);
		t_hexdump("got", frame, glen);
		ck_abort_msg("frame mismatch");
	}
}

/* Asserts that nothing but neighbour discovery goes out. */
static void expect_no_tx6(void)
{
	size_t n;

	while (t_try_recv(frame, sizeof(frame), &n)) {
		bool nd = n > L4 && frame[L3 + 6] == IPPROTO_ICMPV6 && frame[L4] >= 133 &&
			  frame[L4] <= 137;

		if (!nd) {
			t_hexdump("unexpected", frame, n);
			ck_abort_msg("unexpected frame sent");
		}
	}
}

static ssize_t sendto6(struct socket *s, const void *buf, size_t len, const struct sockaddr_in6 *to,
		       const void *ctl, size_t ctllen)
{
	struct iovec iov = {(void *)buf, len};
	struct msghdr m = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = (void *)ctl, .msg_controllen = ctllen};

	if (to) {
		m.msg_name = (void *)to;
		m.msg_namelen = sizeof(*to);
	}
	return nstack_sendmsg(s, &m, MSG_DONTWAIT);
}

static ssize_t send_peer(struct socket *s, const void *buf, size_t len)
{
	struct sockaddr_in6 to = t_sin6(&t_peer6, 0);

	return sendto6(s, buf, len, &to, NULL, 0);
}

static int setint(struct socket *s, int level, int name, int v)
{
	return nstack_setsockopt(s, level, name, &v, sizeof(v));
}

static int getint(struct socket *s, int level, int name)
{
	int v = -12345;
	socklen_t len = sizeof(v);

	ck_assert_int_eq(nstack_getsockopt(s, level, name, &v, &len), 0);
	ck_assert_uint_eq(len, sizeof(v));
	return v;
}

/*
 * An echo request to us is answered by the stack AND seen by a raw ICMPv6
 * socket, from the ICMPv6 header on (no IPv6 header, unlike IPv4), with
 * the peer as a sockaddr_in6 whose port is 0.
 */
START_TEST(test_echo_request_answered_and_copied_without_ipv6_header)
{
	struct socket *s = raw6(IPPROTO_ICMPV6);
	size_t n = echo6(l4, ICMP6_ECHO, &t_peer6, &t_local6, 0x4242, "data", 4), w;
	unsigned char reply[64];
	struct t_rx6 r;

	inject6(NULL, NULL, IPPROTO_ICMPV6, l4, n);
	echo6(reply, ICMP6_REPLY, &t_local6, &t_peer6, 0x4242, "data", 4);
	w = want6(t_peer_mac, &t_local6, &t_peer6, IPPROTO_ICMPV6, 64, reply, n);
	expect6(w, IPPROTO_ICMPV6);
	t_recv6_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, (ssize_t)n);
	ck_assert_mem_eq(r.data, l4, n);
	ck_assert_uint_eq(r.fromlen, sizeof(struct sockaddr_in6));
	ck_assert_int_eq(r.from.sin6_family, AF_INET6);
	ck_assert_mem_eq(&r.from.sin6_addr, &t_peer6, 16);
	ck_assert_uint_eq(r.from.sin6_port, 0);
	ck_assert_uint_eq(r.from.sin6_scope_id, 0);
	ck_assert_uint_eq(t_stat("RawInDatagrams"), 1);
	t_recv6_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, -EAGAIN);
	nstack_close(s);
}
END_TEST

/* The stack computes the ICMPv6 checksum (offset 2) over whatever the application left there. */
START_TEST(test_icmp6_send_checksum_computed_exact_frame)
{
	struct socket *s = raw6(IPPROTO_ICMPV6);
	unsigned char req[12];
	size_t n = echo6(req, ICMP6_ECHO, &t_local6, &t_peer6, 7, "abcd", 4), w;

	w = want6(t_peer_mac, &t_local6, &t_peer6, IPPROTO_ICMPV6, 64, req, n);
	req[2] = 0xde; /* garbage in the checksum field */
	req[3] = 0xad;
	ck_assert_int_eq(send_peer(s, req, n), (ssize_t)n);
	expect6(w, IPPROTO_ICMPV6);
	ck_assert_uint_eq(t_stat("Icmp6OutEchos"), 1);
	ck_assert_uint_eq(t_stat("RawOutDatagrams"), 1);
	/* IPV6_CHECKSUM: not settable at IPPROTO_IPV6 on ICMPv6 (RFC 3542 3.1), but readable. */
	ck_assert_int_eq(setint(s, IPPROTO_IPV6, IPV6_CHECKSUM, 4), -EINVAL);
	ck_assert_int_eq(getint(s, IPPROTO_IPV6, IPV6_CHECKSUM), 2);
	ck_assert_int_eq(getint(s, SOL_RAW, IPV6_CHECKSUM), 2);
	/* A one-byte message has no room for it. */
	ck_assert_int_eq(send_peer(s, req, 1), -EINVAL);
	expect_no_tx6();
	nstack_close(s);
}
END_TEST

/* Hop limits: IPV6_UNICAST_HOPS for unicast, IPV6_MULTICAST_HOPS (1 by default) for groups. */
START_TEST(test_hop_limits_unicast_and_multicast_exact_frames)
{
	struct socket *s = raw6(TEST_PROTO);
	struct sockaddr_in6 to = t_sin6(&g_allnodes, 0);
	const uint8_t mmac[6] = {0x33, 0x33, 0, 0, 0, 1};
	size_t w;

	to.sin6_scope_id = IFINDEX;
	ck_assert_int_eq(sendto6(s, "mc", 2, &to, NULL, 0), 2);
	w = want6(mmac, &t_local6_ll, &g_allnodes, TEST_PROTO, 1, "mc", 2);
	expect6(w, TEST_PROTO);
	/* IPV6_MULTICAST_LOOP (on): our own sockets get a copy, as on Linux. */
	nstack_process(T.ns);
	{
		struct t_rx6 r;

		t_recv6_msg(s, &r, sizeof(r.data), 0);
		ck_assert_int_eq(r.n, 2);
		ck_assert_mem_eq(r.data, "mc", 2);
		ck_assert_mem_eq(&r.from.sin6_addr, &t_local6_ll, 16);
	}
	ck_assert_int_eq(setint(s, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 255), 0);
	ck_assert_int_eq(setint(s, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 7), 0);
	ck_assert_int_eq(setint(s, IPPROTO_IPV6, IPV6_MULTICAST_IF, IFINDEX), 0);
	ck_assert_int_eq(setint(s, IPPROTO_IPV6, IPV6_MULTICAST_IF, 99), -ENODEV);
	ck_assert_int_eq(setint(s, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0), 0);
	ck_assert_int_eq(sendto6(s, "mc", 2, &to, NULL, 0), 2);
	w = want6(mmac, &t_local6_ll, &g_allnodes, TEST_PROTO, 255, "mc", 2);
	expect6(w, TEST_PROTO);
	nstack_process(T.ns);
	{
		struct t_rx6 r;

		t_recv6_msg(s, &r, sizeof(r.data), 0);
		ck_assert_int_eq(r.n, -EAGAIN); /* IPV6_MULTICAST_LOOP 0: no copy */
	}
	ck_assert_int_eq(send_peer(s, "uc", 2), 2);
	w = want6(t_peer_mac, &t_local6, &t_peer6, TEST_PROTO, 7, "uc", 2);
	expect6(w, TEST_PROTO);
	nstack_close(s);
}
END_TEST

/* A link-local destination goes out on our link; a scope naming another link has no route. */
START_TEST(test_link_local_destination_and_scope_id)
{
	struct socket *s = raw6(TEST_PROTO);
	struct sockaddr_in6 to = t_sin6(&t_peer6_ll, 0);
	size_t w;

	ck_assert_int_eq(ndisc_add_permanent(T.ns, &t_peer6_ll, t_peer_mac), 0);
	to.sin6_scope_id = IFINDEX;
	ck_assert_int_eq(sendto6(s, "ll", 2, &to, NULL, 0), 2);
	w = want6(t_peer_mac, &t_local6_ll, &t_peer6_ll, TEST_PROTO, 64, "ll", 2);
	expect6(w, TEST_PROTO);
	to.sin6_scope_id = 42;
	ck_assert_int_eq(sendto6(s, "ll", 2, &to, NULL, 0), -ENETUNREACH);
	/* The port may only repeat the protocol. */
	to = t_sin6(&t_peer6, TEST_PROTO + 1);
	ck_assert_int_eq(sendto6(s, "x", 1, &to, NULL, 0), -EINVAL);
	to = t_sin6(&t_peer6, TEST_PROTO);
	ck_assert_int_eq(sendto6(s, "x", 1, &to, NULL, 0), 1);
	ck_assert_uint_gt(t_recv6(frame, TEST_PROTO), 0);
	expect_no_tx6();
	nstack_close(s);
}
END_TEST

/* ICMP6_FILTER: bit n set blocks type n (glibc's ICMP6_FILTER_SETBLOCK); read back whole. */
START_TEST(test_icmp6_filter_blocks_and_passes)
{
	struct socket *s = raw6(IPPROTO_ICMPV6), *other = raw6(TEST_PROTO);
	uint32_t filt[8], got[8];
	socklen_t len = sizeof(got);
	size_t n;
	struct t_rx6 r;

	memset(filt, 0xff, sizeof(filt));
	filt[ICMP6_REPLY >> 5] &= ~(1u << (ICMP6_REPLY & 31)); /* pass echo replies only */
	ck_assert_int_eq(nstack_setsockopt(s, SOL_ICMPV6, ICMPV6_FILTER, filt, sizeof(filt)), 0);
	ck_assert_int_eq(nstack_getsockopt(s, SOL_ICMPV6, ICMPV6_FILTER, got, &len), 0);
	ck_assert_uint_eq(len, sizeof(got));
	ck_assert_mem_eq(got, filt, sizeof(filt));
	len = 4;
	ck_assert_int_eq(nstack_getsockopt(s, SOL_ICMPV6, ICMPV6_FILTER, got, &len), 0);
	ck_assert_uint_eq(len, 4);
	n = echo6(l4, ICMP6_ECHO, &t_peer6, &t_local6, 1, "req", 3);
	inject6(NULL, NULL, IPPROTO_ICMPV6, l4, n);
	ck_assert_uint_gt(t_recv6(frame, IPPROTO_ICMPV6), 0); /* still answered */
	t_recv6_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, -EAGAIN);
	n = echo6(l4, ICMP6_REPLY, &t_peer6, &t_local6, 1, "rep", 3);
	inject6(NULL, NULL, IPPROTO_ICMPV6, l4, n);
	t_recv6_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, (ssize_t)n);
	ck_assert_mem_eq(r.data, l4, n);
	/* Only ICMPv6 sockets have the option; other names are unknown. */
	ck_assert_int_eq(nstack_setsockopt(other, SOL_ICMPV6, ICMPV6_FILTER, filt, sizeof(filt)),
			 -EOPNOTSUPP);
	ck_assert_int_eq(nstack_setsockopt(s, SOL_ICMPV6, 2, filt, sizeof(filt)), -ENOPROTOOPT);
	expect_no_tx6();
	nstack_close(s);
	nstack_close(other);
}
END_TEST

/* A bad ICMPv6 checksum never reaches a raw socket (nor the stack's echo). */
START_TEST(test_icmp6_bad_checksum_not_delivered)
{
	struct socket *s = raw6(IPPROTO_ICMPV6);
	size_t n = echo6(l4, ICMP6_ECHO, &t_peer6, &t_local6, 1, "req", 3);
	struct t_rx6 r;

	l4[2] ^= 0x55;
	inject6(NULL, NULL, IPPROTO_ICMPV6, l4, n);
	expect_no_tx6();
	t_recv6_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, -EAGAIN);
	nstack_close(s);
}
END_TEST

/*
 * IPV6_CHECKSUM on another protocol: off (-1) by default; at an even
 * offset the stack fills it out (pseudo-header with this protocol) and
 * drops packets in whose sum is wrong. A raw socket of an unknown next
 * header spares the packet its parameter problem.
 */
START_TEST(test_ipv6_checksum_option_for_other_protocol)
{
	struct socket *s = raw6(TEST_PROTO);
	unsigned char msg[8] = {'h', 'i', 0, 0, 'x', 'y', 'z', 'w'};
	uint16_t c;
	size_t w;
	struct t_rx6 r;

	ck_assert_int_eq(getint(s, IPPROTO_IPV6, IPV6_CHECKSUM), -1);
	ck_assert_int_eq(setint(s, IPPROTO_IPV6, IPV6_CHECKSUM, 3), -EINVAL);
	ck_assert_int_eq(setint(s, IPPROTO_IPV6, IPV6_CHECKSUM, 2), 0);
	ck_assert_int_eq(getint(s, IPPROTO_IPV6, IPV6_CHECKSUM), 2);
	ck_assert_int_eq(send_peer(s, msg, sizeof(msg)), (ssize_t)sizeof(msg));
	c = csum_ipv6_magic(&t_local6, &t_peer6, sizeof(msg), TEST_PROTO, msg);
	memcpy(msg + 2, &c, 2);
	w = want6(t_peer_mac, &t_local6, &t_peer6, TEST_PROTO, 64, msg, sizeof(msg));
	expect6(w, TEST_PROTO);
	/* The field must lie inside the datagram. */
	ck_assert_int_eq(setint(s, SOL_RAW, IPV6_CHECKSUM, 8), 0);
	ck_assert_int_eq(send_peer(s, msg, sizeof(msg)), -EINVAL);
	ck_assert_int_eq(setint(s, SOL_RAW, IPV6_CHECKSUM, 2), 0);
	/* In: a right sum is delivered, a wrong one dropped; no parameter problem either way. */
	memset(msg + 2, 0, 2);
	c = csum_ipv6_magic(&t_peer6, &t_local6, sizeof(msg), TEST_PROTO, msg);
	memcpy(msg + 2, &c, 2);
	inject6(NULL, NULL, TEST_PROTO, msg, sizeof(msg));
	t_recv6_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, (ssize_t)sizeof(msg));
	ck_assert_mem_eq(r.data, msg, sizeof(msg));
	msg[7] ^= 1;
	inject6(NULL, NULL, TEST_PROTO, msg, sizeof(msg));
	t_recv6_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, -EAGAIN);
	expect_no_tx6();
	/* Off again: anything is delivered. */
	ck_assert_int_eq(setint(s, IPPROTO_IPV6, IPV6_CHECKSUM, -1), 0);
	inject6(NULL, NULL, TEST_PROTO, msg, sizeof(msg));
	t_recv6_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, (ssize_t)sizeof(msg));
	nstack_close(s);
	/* With no raw socket the same packet is an unknown next header. */
	inject6(NULL, NULL, TEST_PROTO, msg, sizeof(msg));
	ck_assert_uint_gt(t_recv6(frame, IPPROTO_ICMPV6), 0);
	ck_assert_uint_eq(frame[L4], 4);     /* parameter problem */
	ck_assert_uint_eq(frame[L4 + 1], 1); /* unrecognized next header */
}
END_TEST

/* Extension headers are walked: the copy starts at the upper-layer header. */
START_TEST(test_copy_starts_after_extension_headers)
{
	struct socket *s = raw6(TEST_PROTO);
	unsigned char msg[8 + 5] = {TEST_PROTO, 0, 1, 4, 0, 0, 0, 0, 'h', 'e', 'l', 'l', 'o'};
	struct t_rx6 r;

	inject6(NULL, NULL, 60 /* destination options, PadN */, msg, sizeof(msg));
	t_recv6_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, 5);
	ck_assert_mem_eq(r.data, "hello", 5);
	expect_no_tx6();
	nstack_close(s);
}
END_TEST

/* Linux's rawv6_bind errnos; a bound socket sees only packets to its address. */
START_TEST(test_bind_errors_and_local_address_match)
{
	struct socket *s = raw6(TEST_PROTO);
	struct sockaddr_in6 a = t_sin6(&g_other, 0);
	struct sockaddr_in v4 = t_sin(T_LOCAL_IP, 0);
	socklen_t alen;
	struct in6_addr m;
	struct t_rx6 r;

	ck_assert_int_eq(nstack_bind(s, (struct sockaddr *)&a, sizeof(a)), -EADDRNOTAVAIL);
	ck_assert_int_eq(nstack_bind(s, (struct sockaddr *)&a, 20), -EINVAL);
	ck_assert_int_eq(nstack_bind(s, (struct sockaddr *)&v4, sizeof(v4)), -EINVAL);
	memset(&m, 0, sizeof(m));
	m.s6_addr[10] = m.s6_addr[11] = 0xff;
	memcpy(&m.s6_addr[12], &v4.sin_addr, 4);
	a = t_sin6(&m, 0);
	ck_assert_int_eq(nstack_bind(s, (struct sockaddr *)&a, sizeof(a)), -EADDRNOTAVAIL);
	a = t_sin6(&t_local6_ll, 0);
	ck_assert_int_eq(nstack_bind(s, (struct sockaddr *)&a, sizeof(a)), -EINVAL);
	a.sin6_scope_id = 42;
	ck_assert_int_eq(nstack_bind(s, (struct sockaddr *)&a, sizeof(a)), -ENODEV);
	nstack_close(s);
	s = raw6(TEST_PROTO);
	a = t_sin6(&t_local6, 0);
	ck_assert_int_eq(nstack_bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	/* getsockname(): the address, and the protocol as the port (Linux's inet_sport). */
	memset(&a, 0, sizeof(a));
	alen = sizeof(a);
	ck_assert_int_eq(nstack_getsockname(s, (struct sockaddr *)&a, &alen), 0);
	ck_assert_uint_eq(alen, sizeof(a));
	ck_assert_mem_eq(&a.sin6_addr, &t_local6, 16);
	ck_assert_uint_eq(ntohs(a.sin6_port), TEST_PROTO);
	inject6(NULL, &t_local6_ll, TEST_PROTO, "ll", 2);
	t_recv6_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, -EAGAIN);
	inject6(NULL, &t_local6, TEST_PROTO, "gl", 2);
	t_recv6_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, 2);
	nstack_close(s);
}
END_TEST

/* connect(): the peer filters input, sends need no address, AF_UNSPEC forgets it. */
START_TEST(test_connect_filters_input_and_disconnect)
{
	struct socket *s = raw6(TEST_PROTO);
	struct sockaddr_in6 c = t_sin6(&t_peer6, 0);
	struct sockaddr unspec = {.sa_family = AF_UNSPEC};
	size_t w;
	struct t_rx6 r;

	ck_assert_int_eq(sendto6(s, "x", 1, NULL, NULL, 0), -EDESTADDRREQ);
	ck_assert_int_eq(nstack_connect(s, (struct sockaddr *)&c, sizeof(c)), 0);
	ck_assert_int_eq(sendto6(s, "cn", 2, NULL, NULL, 0), 2);
	w = want6(t_peer_mac, &t_local6, &t_peer6, TEST_PROTO, 64, "cn", 2);
	expect6(w, TEST_PROTO);
	/* Not from the peer: no raw socket takes it, so it is an unknown next header. */
	ck_assert_int_eq(ndisc_add_permanent(T.ns, &g_other, t_peer_mac), 0);
	inject6(&g_other, NULL, TEST_PROTO, "no", 2);
	t_recv6_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, -EAGAIN);
	ck_assert_uint_gt(t_recv6(frame, IPPROTO_ICMPV6), 0);
	ck_assert_uint_eq(frame[L4], 4);
	inject6(NULL, NULL, TEST_PROTO, "ok", 2);
	t_recv6_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, 2);
	ck_assert_int_eq(nstack_connect(s, &unspec, sizeof(unspec)), 0);
	inject6(&g_other, NULL, TEST_PROTO, "any", 3);
	t_recv6_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, 3);
	c.sin6_family = AF_INET;
	ck_assert_int_eq(nstack_connect(s, (struct sockaddr *)&c, sizeof(c)), -EAFNOSUPPORT);
	expect_no_tx6();
	nstack_close(s);
}
END_TEST

/* IPV6_RECVPKTINFO/HOPLIMIT/TCLASS, MSG_PEEK, MSG_TRUNC. */
START_TEST(test_ancillary_data_peek_and_trunc)
{
	struct socket *s = raw6(TEST_PROTO);
	const struct cmsghdr *c;
	struct in6_pktinfo pi;
	struct t_rx6 r;
	int v;

	ck_assert_int_eq(setint(s, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1), 0);
	ck_assert_int_eq(setint(s, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1), 0);
	ck_assert_int_eq(setint(s, IPPROTO_IPV6, IPV6_RECVTCLASS, 1), 0);
	inject6(NULL, NULL, TEST_PROTO, "0123456789", 10);
	t_recv6_msg(s, &r, 4, MSG_PEEK);
	ck_assert_int_eq(r.n, 4);
	ck_assert(r.flags & MSG_TRUNC);
	t_recv6_msg(s, &r, 4, MSG_TRUNC);
	ck_assert_int_eq(r.n, 10);
	ck_assert_mem_eq(r.data, "0123", 4);
	c = t_find_cmsg(&r, IPPROTO_IPV6, IPV6_PKTINFO);
	ck_assert_ptr_nonnull(c);
	memcpy(&pi, CMSG_DATA(c), sizeof(pi));
	ck_assert_mem_eq(&pi.ipi6_addr, &t_local6, 16);
	ck_assert_uint_eq(pi.ipi6_ifindex, IFINDEX);
	c = t_find_cmsg(&r, IPPROTO_IPV6, IPV6_HOPLIMIT);
	ck_assert_ptr_nonnull(c);
	memcpy(&v, CMSG_DATA(c), sizeof(v));
	ck_assert_int_eq(v, 64);
	ck_assert_ptr_nonnull(t_find_cmsg(&r, IPPROTO_IPV6, IPV6_TCLASS));
	t_recv6_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, -EAGAIN);
	nstack_close(s);
}
END_TEST

/* sendmsg() control messages: IPV6_HOPLIMIT and IPV6_PKTINFO's source, bad ones refused. */
START_TEST(test_sendmsg_hoplimit_and_pktinfo)
{
	struct socket *s = raw6(TEST_PROTO);
	struct sockaddr_in6 to = t_sin6(&t_peer6, 0);
	_Alignas(struct cmsghdr) unsigned char
	    ctl[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct in6_pktinfo))];
	struct msghdr m = {.msg_control = ctl, .msg_controllen = sizeof(ctl)};
	struct cmsghdr *c;
	struct in6_pktinfo pi;
	int hl = 9;
	size_t w;

	memset(ctl, 0, sizeof(ctl));
	c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = IPPROTO_IPV6;
	c->cmsg_type = IPV6_HOPLIMIT;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &hl, sizeof(hl));
	c = CMSG_NXTHDR(&m, c);
	c->cmsg_level = IPPROTO_IPV6;
	c->cmsg_type = IPV6_PKTINFO;
	c->cmsg_len = CMSG_LEN(sizeof(pi));
	memset(&pi, 0, sizeof(pi));
	pi.ipi6_addr = t_local6;
	memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	ck_assert_int_eq(sendto6(s, "cm", 2, &to, ctl, sizeof(ctl)), 2);
	w = want6(t_peer_mac, &t_local6, &t_peer6, TEST_PROTO, 9, "cm", 2);
	expect6(w, TEST_PROTO);
	pi.ipi6_ifindex = 42;
	memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	ck_assert_int_eq(sendto6(s, "cm", 2, &to, ctl, sizeof(ctl)), -ENODEV);
	pi.ipi6_ifindex = 0;
	pi.ipi6_addr = g_other;
	memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	ck_assert_int_eq(sendto6(s, "cm", 2, &to, ctl, sizeof(ctl)), -EINVAL);
	expect_no_tx6();
	nstack_close(s);
}
END_TEST

/* IPV6_HDRINCL (implied by IPPROTO_RAW): the packet goes out exactly as written. */
START_TEST(test_hdrincl_sends_packet_as_written)
{
	struct socket *s = raw6(IPPROTO_RAW), *t = raw6(TEST_PROTO);
	unsigned char p[40 + 4];
	size_t n = t_build_ip6(p, &t_local6, &t_peer6, TEST_PROTO, 33, 0x2e, "hdr!", 4), w;

	ck_assert_int_eq(getint(s, IPPROTO_IPV6, IPV6_HDRINCL), 1);
	ck_assert_int_eq(getint(t, IPPROTO_IPV6, IPV6_HDRINCL), 0);
	ck_assert_int_eq(send_peer(s, p, n), (ssize_t)n);
	w = t_build_eth(want, t_peer_mac, t_local_mac, ETH_P_IPV6, p, n);
	expect6(w, TEST_PROTO);
	ck_assert_int_eq(send_peer(s, p, 39), -EINVAL);
	ck_assert_int_eq(setint(t, IPPROTO_IPV6, IPV6_HDRINCL, 1), 0);
	ck_assert_int_eq(send_peer(t, p, n), (ssize_t)n);
	expect6(w, TEST_PROTO);
	/* Options of the IPv4 levels are not for raw IPv6 sockets. */
	ck_assert_int_eq(setint(t, IPPROTO_IP, IP_HDRINCL, 1), -ENOPROTOOPT);
	ck_assert_int_eq(setint(t, SOL_RAW, 99, 1), -ENOPROTOOPT);
	ck_assert_int_eq(nstack_setsockopt(t, SOL_RAW, IPV6_CHECKSUM, "ab", 2), -EINVAL);
	expect_no_tx6();
	nstack_close(s);
	nstack_close(t);
}
END_TEST

/*
 * An ICMPv6 error quoting our echo request: seen as a message by the
 * socket, and with IPV6_RECVERR queued (the quoted ICMPv6 message, an
 * IPV6_RECVERR control message) and reported as SO_ERROR first.
 */
START_TEST(test_icmpv6_error_queued_with_recverr)
{
	struct socket *s = raw6(IPPROTO_ICMPV6);
	unsigned char req[16], err[8 + 40 + 16];
	size_t n = echo6(req, ICMP6_ECHO, &t_local6, &t_peer6, 9, "payload!", 8);
	struct sock_extended_err ee;
	const struct cmsghdr *c;
	socklen_t len = sizeof(int);
	int soerr = 0;
	uint16_t ck;
	struct t_rx6 r;

	ck_assert_int_eq(setint(s, IPPROTO_IPV6, IPV6_RECVERR, 1), 0);
	ck_assert_int_eq(send_peer(s, req, n), (ssize_t)n);
	ck_assert_uint_gt(t_recv6(frame, IPPROTO_ICMPV6), 0);
	memset(err, 0, 8);
	err[0] = ICMP6_UNREAC;
	err[1] = 3; /* address unreachable */
	memcpy(err + 8, frame + L3, 40 + n);
	ck = csum_ipv6_magic(&t_peer6, &t_local6, sizeof(err), IPPROTO_ICMPV6, err);
	memcpy(err + 2, &ck, 2);
	inject6(NULL, NULL, IPPROTO_ICMPV6, err, sizeof(err));
	/* The pending error comes first, as Linux's skb_recv_datagram() reports it. */
	ck_assert_int_eq(nstack_getsockopt(s, SOL_SOCKET, SO_ERROR, &soerr, &len), 0);
	ck_assert_int_eq(soerr, EHOSTUNREACH);
	t_recv6_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, (ssize_t)sizeof(err));
	ck_assert_uint_eq(r.data[0], ICMP6_UNREAC);
	/* Unlike UDP's, the quote starts at the upper-layer header the application wrote. */
	t_recv6_msg(s, &r, sizeof(r.data), MSG_ERRQUEUE);
	ck_assert_int_eq(r.n, (ssize_t)n);
	ck_assert_mem_eq(r.data, req, n);
	ck_assert(r.flags & MSG_ERRQUEUE);
	ck_assert_mem_eq(&r.from.sin6_addr, &t_peer6, 16);
	c = t_find_cmsg(&r, IPPROTO_IPV6, IPV6_RECVERR);
	ck_assert_ptr_nonnull(c);
	memcpy(&ee, CMSG_DATA(c), sizeof(ee));
	ck_assert_uint_eq(ee.ee_origin, SO_EE_ORIGIN_ICMP6);
	ck_assert_uint_eq(ee.ee_type, ICMP6_UNREAC);
	ck_assert_uint_eq(ee.ee_code, 3);
	ck_assert_int_eq(ee.ee_errno, EHOSTUNREACH);
	expect_no_tx6();
	nstack_close(s);
}
END_TEST

/* Above the path MTU a datagram goes in fragments (no IPV6_DONTFRAG). */
START_TEST(test_large_send_fragmented)
{
	struct socket *s = raw6(TEST_PROTO);
	static unsigned char big[3000];
	size_t n;

	memset(big, 0x5a, sizeof(big));
	ck_assert_int_eq(send_peer(s, big, sizeof(big)), (ssize_t)sizeof(big));
	for (int i = 0; i < 3; i++) {
		n = t_recv6(frame, 44 /* fragment */);
		ck_assert_uint_le(n, ETH_HLEN + 1500);
		ck_assert_uint_eq(frame[L4], TEST_PROTO);
	}
	expect_no_tx6();
	ck_assert_uint_eq(t_stat("Ip6FragCreates"), 3);
	ck_assert_int_eq(send_peer(s, big, 65536), -EMSGSIZE);
	nstack_close(s);
}
END_TEST

/* Raw IPv4 and raw IPv6 sockets see their own family only, even for one protocol number. */
START_TEST(test_families_do_not_mix)
{
	struct socket *v4 = t_socket(SOCK_RAW, IPPROTO_ICMP), *v6 = raw6(IPPROTO_ICMPV6);
	struct socket *v6icmp4 = raw6(IPPROTO_ICMP);
	unsigned char buf[256];
	size_t n = t_build_echo(l4, 8 /* echo request */, 1, 1, "four", 4);
	struct t_rx6 r;

	t_inject(frame, t_build_peer_ip(frame, IPPROTO_ICMP, 0x77, l4, n));
	ck_assert_uint_gt(t_recv(want, sizeof(want)), 0); /* answered */
	ck_assert_int_eq(t_recv_from(v4, buf, sizeof(buf), NULL), (ssize_t)(20 + n));
	t_recv6_msg(v6, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, -EAGAIN);
	t_recv6_msg(v6icmp4, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, -EAGAIN);
	n = echo6(l4, ICMP6_ECHO, &t_peer6, &t_local6, 1, "six", 3);
	inject6(NULL, NULL, IPPROTO_ICMPV6, l4, n);
	ck_assert_uint_gt(t_recv6(frame, IPPROTO_ICMPV6), 0);
	t_recv6_msg(v6, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, (ssize_t)n);
	ck_assert_int_eq(t_recv_from(v4, buf, sizeof(buf), NULL), -EAGAIN);
	nstack_close(v4);
	nstack_close(v6);
	nstack_close(v6icmp4);
}
END_TEST

static Suite *raw6_wire_suite(void)
{
	Suite *s = suite_create("raw6_wire");
	TCase *tc = tcase_create("raw6");

	tcase_add_checked_fixture(tc, t_setup_v6, t_teardown);
	tcase_add_test(tc, test_echo_request_answered_and_copied_without_ipv6_header);
	tcase_add_test(tc, test_icmp6_send_checksum_computed_exact_frame);
	tcase_add_test(tc, test_hop_limits_unicast_and_multicast_exact_frames);
	tcase_add_test(tc, test_link_local_destination_and_scope_id);
	tcase_add_test(tc, test_icmp6_filter_blocks_and_passes);
	tcase_add_test(tc, test_icmp6_bad_checksum_not_delivered);
	tcase_add_test(tc, test_ipv6_checksum_option_for_other_protocol);
	tcase_add_test(tc, test_copy_starts_after_extension_headers);
	tcase_add_test(tc, test_bind_errors_and_local_address_match);
	tcase_add_test(tc, test_connect_filters_input_and_disconnect);
	tcase_add_test(tc, test_ancillary_data_peek_and_trunc);
	tcase_add_test(tc, test_sendmsg_hoplimit_and_pktinfo);
	tcase_add_test(tc, test_hdrincl_sends_packet_as_written);
	tcase_add_test(tc, test_icmpv6_error_queued_with_recverr);
	tcase_add_test(tc, test_large_send_fragmented);
	tcase_add_test(tc, test_families_do_not_mix);
	suite_add_tcase(s, tc);
	return s;
}

NSTACK_SUITE(raw6_wire_suite)
