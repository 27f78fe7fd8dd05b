/*
 * Packet-level tests of IPv6 fragments and path MTU: reassembly in and out
 * of order answered by an echo reply that itself goes back in fragments,
 * overlaps, bad lengths and the reassembly timeout with their exact ICMPv6
 * errors, atomic fragments, the memory bound, and Packet Too Big lowering
 * the path MTU (never below 1280) and reaching TCP.
 *
 * The stack is 2001:2::2/64 with the peer 2001:2::1 a permanent neighbour.
 * Frames are read by offset or copied out, never cast at offset 14.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <linux/errqueue.h>

#include "check_main.h"
#include "harness.h"
#include "icmpv6.h"
#include "ipv6.h"
#include "ndisc.h"
#include "proto/ether.h"
#include "proto/ipv6.h"
#include "stack.h"
#include "tcp.h"

static const struct in6_addr me6 = {.s6_addr = {0x20, 0x01, 0x00, 0x02, [15] = 0x02}};
static const struct in6_addr peer6 = {.s6_addr = {0x20, 0x01, 0x00, 0x02, [15] = 0x01}};
static const struct in6_addr far6 = {.s6_addr = {0x20, 0x01, 0x00, 0x02, [15] = 0x09}};

#define ECHO_ID 0x4242

static _Alignas(8) unsigned char fr[T_FRAME_MAX];
static _Alignas(8) unsigned char exp_fr[T_FRAME_MAX];
static _Alignas(8) unsigned char msg[T_FRAME_MAX];

static void tweak6(struct nstack_config *cfg)
{
	cfg->ipv6 = true;
	cfg->addr6 = me6;
	cfg->prefixlen6 = 64;
}

/* A stack with its addresses up and its router solicitations over. */
static void setup6(void)
{
	struct t_opts o = {.tweak = tweak6};
	size_t n;

	t_setup_opts(&o);
	ck_assert_int_eq(ndisc_add_permanent(T.ns, &peer6, t_peer_mac), 0);
	for (int i = 0; i < 15; i++) {
		t_clock_advance(1000 * 1000);
		while (t_try_recv(fr, sizeof(fr), &n))
			;
	}
}

/* An IPv6 header (hop limit 64) into p. */
static void put_ip6(unsigned char *p, const struct in6_addr *src, const struct in6_addr *dst,
		    uint8_t nexthdr, size_t plen)
{
	p[0] = 0x60;
	p[1] = p[2] = p[3] = 0;
	p[4] = (uint8_t)(plen >> 8);
	p[5] = (uint8_t)plen;
	p[6] = nexthdr;
	p[7] = 64;
	memcpy(p + 8, src, 16);
	memcpy(p + 24, dst, 16);
}

/* Ethernet + IPv6 + fragment header + len bytes of data, src -> dst. */
static size_t frag_frame(unsigned char *buf, const uint8_t dmac[6], const uint8_t smac[6],
			 const struct in6_addr *src, const struct in6_addr *dst, uint32_t id,
			 unsigned int off, bool more, const void *data, size_t len)
{
	static unsigned char p[T_FRAME_MAX];
	unsigned char *fh = p + IPV6_HLEN;

	put_ip6(p, src, dst, NEXTHDR_FRAGMENT, 8 + len);
	fh[0] = NEXTHDR_ICMP;
	fh[1] = 0;
	fh[2] = (uint8_t)((off | (more ? IP6_MF : 0)) >> 8);
	fh[3] = (uint8_t)(off | (more ? IP6_MF : 0));
	fh[4] = (uint8_t)(id >> 24);
	fh[5] = (uint8_t)(id >> 16);
	fh[6] = (uint8_t)(id >> 8);
	fh[7] = (uint8_t)id;
	if (len)
		memcpy(fh + 8, data, len);
	return t_build_eth(buf, dmac, smac, ETH_P_IPV6, p, IPV6_HLEN + 8 + len);
}

/* A fragment from the peer to us. */
static size_t peer_frag(uint32_t id, unsigned int off, bool more, const void *data, size_t len)
{
	return frag_frame(fr, t_local_mac, t_peer_mac, &peer6, &me6, id, off, more, data, len);
}

/* An ICMPv6 echo (type) of len bytes in all, src -> dst, checksum set, into msg. */
static size_t echo_msg(uint8_t type, const struct in6_addr *src, const struct in6_addr *dst,
		       size_t len)
{
	struct icmp6hdr ih = {.icmp6_type = type};

	ih.un.un_data32 = htonl(ECHO_ID << 16 | 1);
	for (size_t i = ICMP6_HLEN; i < len; i++)
		msg[i] = (uint8_t)(i * 7);
	memcpy(msg, &ih, sizeof(ih));
	ih.icmp6_cksum = csum_ipv6_magic(src, dst, (uint32_t)len, NEXTHDR_ICMP, msg);
	memcpy(msg, &ih, sizeof(ih));
	return len;
}

static void expect_frame6(const void *want, size_t len)
{
	t_expect_frame(want, len);
}

/* The identification of the fragment frame f. */
static uint32_t frag_id(const unsigned char *f)
{
	const unsigned char *p = f + ETH_HLEN + IPV6_HLEN + 4;

	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * Asserts our echo reply to an echo request of len bytes comes back as the
 * exact fragments of a 1500-byte link: 1448 bytes each but the last.
 */
static void expect_fragmented_reply(size_t len)
{
	static unsigned char got[T_FRAME_MAX];
	size_t n = t_recv(got, sizeof(got)), pos = 0;
	uint32_t id;

	ck_assert_uint_ge(n, ETH_HLEN + IPV6_HLEN + 8);
	id = frag_id(got);
	ck_assert_uint_ne(id, 0);
	echo_msg(ICMPV6_ECHO_REPLY, &me6, &peer6, len);
	while (pos < len) {
		size_t piece = len - pos > 1448 ? 1448 : len - pos;
		size_t w = frag_frame(exp_fr, t_peer_mac, t_local_mac, &me6, &peer6, id,
				      (unsigned int)pos, pos + piece < len, msg + pos, piece);

		if (pos > 0)
			n = t_recv(got, sizeof(got));
		if (n != w || memcmp(got, exp_fr, w) != 0) {
			t_hexdump("expected", exp_fr, w);
			t_hexdump("got", got, n);
			ck_abort_msg("fragment at %zu differs", pos);
		}
		pos += piece;
	}
	t_expect_no_tx();
}

START_TEST(test_in_order_fragments_reassembled_reply_fragmented)
{
	size_t len = echo_msg(ICMPV6_ECHO_REQUEST, &peer6, &me6, 3000);
	uint64_t out = t_stat("Ip6OutRequests");

	t_inject(fr, peer_frag(7, 0, true, msg, 1232));
	t_expect_no_tx();
	t_inject(fr, peer_frag(7, 1232, true, msg + 1232, 1232));
	t_inject(fr, peer_frag(7, 2464, false, msg + 2464, len - 2464));
	expect_fragmented_reply(len);
	ck_assert_uint_eq(t_stat("Ip6ReasmReqds"), 3);
	ck_assert_uint_eq(t_stat("Ip6ReasmOKs"), 1);
	ck_assert_uint_eq(t_stat("Icmp6InEchos"), 1);
	ck_assert_uint_eq(t_stat("Ip6FragOKs"), 1);
	ck_assert_uint_eq(t_stat("Ip6FragCreates"), 3);
	ck_assert_uint_eq(t_stat("Ip6OutRequests"), out + 1);
}
END_TEST

START_TEST(test_out_of_order_fragments_reassembled)
{
	size_t len = echo_msg(ICMPV6_ECHO_REQUEST, &peer6, &me6, 2000);

	t_inject(fr, peer_frag(8, 1000, false, msg + 1000, len - 1000));
	t_inject(fr, peer_frag(8, 496, true, msg + 496, 504));
	t_expect_no_tx();
	t_inject(fr, peer_frag(8, 0, true, msg, 496));
	expect_fragmented_reply(len);
	ck_assert_uint_eq(t_stat("Ip6ReasmOKs"), 1);
	ck_assert_uint_eq(t_stat("Ip6ReasmFails"), 0);
}
END_TEST

START_TEST(test_overlapping_fragment_drops_datagram_counted)
{
	size_t len = echo_msg(ICMPV6_ECHO_REQUEST, &peer6, &me6, 1600);

	t_inject(fr, peer_frag(9, 0, true, msg, 1000));
	t_inject(fr, peer_frag(9, 992, false, msg + 992, len - 992));
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("Ip6ReasmOverlaps"), 1);
	ck_assert_uint_eq(t_stat("Ip6ReasmFails"), 1);
	/* The queue is gone: the right tail alone completes nothing, and nothing times out. */
	t_inject(fr, peer_frag(9, 1000, false, msg + 1000, len - 1000));
	t_clock_advance(IP6FRAG_TIME_US);
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("Ip6ReasmOKs"), 0);
	ck_assert_uint_eq(t_stat("Ip6ReasmTimeout"), 1);
}
END_TEST

/* Our parameter problem (or other error) about the packet in frame f of n bytes. */
static size_t our_error(uint8_t type, uint8_t code, uint32_t info, const unsigned char *f, size_t n)
{
	static unsigned char p[T_FRAME_MAX];
	size_t qlen = n - ETH_HLEN, mlen;

	if (qlen > IPV6_MIN_MTU - IPV6_HLEN - ICMP6_HLEN)
		qlen = IPV6_MIN_MTU - IPV6_HLEN - ICMP6_HLEN;
	mlen = ICMP6_HLEN + qlen;
	memcpy(msg + ICMP6_HLEN, f + ETH_HLEN, qlen);
	msg[0] = type;
	msg[1] = code;
	msg[2] = msg[3] = 0;
	msg[4] = (uint8_t)(info >> 24);
	msg[5] = (uint8_t)(info >> 16);
	msg[6] = (uint8_t)(info >> 8);
	msg[7] = (uint8_t)info;
	{
		uint16_t c = csum_ipv6_magic(&me6, &peer6, (uint32_t)mlen, NEXTHDR_ICMP, msg);

		memcpy(msg + 2, &c, 2);
	}
	put_ip6(p, &me6, &peer6, NEXTHDR_ICMP, mlen);
	memcpy(p + IPV6_HLEN, msg, mlen);
	return t_build_eth(exp_fr, t_peer_mac, t_local_mac, ETH_P_IPV6, p, IPV6_HLEN + mlen);
}

START_TEST(test_bad_fragment_lengths_parameter_problems)
{
	static unsigned char sent[T_FRAME_MAX];
	static unsigned char data[1300];
	size_t n;

	data[0] = ICMPV6_ECHO_REQUEST; /* an ICMPv6 error would earn no error (RFC 4443 2.4) */
	/* Not the last, 12 bytes: pointer at the payload length. */
	n = peer_frag(10, 0, true, data, 12);
	memcpy(sent, fr, n);
	t_inject(fr, n);
	expect_frame6(exp_fr, our_error(ICMPV6_PARAMPROB, ICMPV6_HDR_FIELD, 4, sent, n));
	/* Offset 65528 + 16 bytes: past 65535, pointer at the fragment offset (40 + 2). */
	n = peer_frag(11, 65528, false, data, 16);
	memcpy(sent, fr, n);
	t_inject(fr, n);
	expect_frame6(exp_fr, our_error(ICMPV6_PARAMPROB, ICMPV6_HDR_FIELD, 42, sent, n));
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("Ip6InHdrErrors"), 2);
	ck_assert_uint_eq(t_stat("Icmp6OutParmProblems"), 2);
	/* No queue was left behind. */
	t_clock_advance(IP6FRAG_TIME_US);
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("Ip6ReasmTimeout"), 0);
}
END_TEST

START_TEST(test_reassembly_timeout_time_exceeded_after_60s)
{
	static unsigned char sent[T_FRAME_MAX];
	size_t n;
	uint64_t start = T.now;

	echo_msg(ICMPV6_ECHO_REQUEST, &peer6, &me6, 2000);
	n = peer_frag(12, 0, true, msg, 1000);
	memcpy(sent, fr, n);
	t_inject(fr, n);
	/* A datagram whose first fragment never came times out quietly. */
	t_inject(fr, peer_frag(13, 1000, false, msg + 1000, 8));
	t_clock_set(start + IP6FRAG_TIME_US - 1);
	t_expect_no_tx();
	t_clock_set(start + IP6FRAG_TIME_US);
	expect_frame6(exp_fr, our_error(ICMPV6_TIME_EXCEED, ICMPV6_EXC_FRAGTIME, 0, sent, n));
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("Ip6ReasmTimeout"), 2);
	ck_assert_uint_eq(t_stat("Ip6ReasmFails"), 2);
	ck_assert_uint_eq(t_stat("Icmp6OutTimeExcds"), 1);
}
END_TEST

START_TEST(test_atomic_fragment_processed_at_once)
{
	size_t len = echo_msg(ICMPV6_ECHO_REQUEST, &peer6, &me6, 16), n;
	static unsigned char want[T_FRAME_MAX];

	t_inject(fr, peer_frag(14, 0, false, msg, len));
	/* The reply is whole: no fragment header on it. */
	n = t_recv(want, sizeof(want));
	ck_assert_uint_eq(n, ETH_HLEN + IPV6_HLEN + len);
	ck_assert_uint_eq(want[ETH_HLEN + 6], NEXTHDR_ICMP);
	ck_assert_uint_eq(want[ETH_HLEN + IPV6_HLEN], ICMPV6_ECHO_REPLY);
	ck_assert_uint_eq(t_stat("Ip6ReasmOKs"), 1);
	ck_assert_uint_eq(t_stat("Ip6ReasmReqds"), 1);
}
END_TEST

START_TEST(test_fragment_memory_bound_evicts_oldest)
{
	static const unsigned char data[1400];
	unsigned int queues = 0;

	while (t_stat("Ip6ReasmFails") == 0) {
		t_inject(fr, peer_frag(1000 + queues, 0, true, data, 1400));
		queues++;
		ck_assert_uint_lt(queues, 20000);
	}
	ck_assert_uint_gt(queues, 1000);
	t_expect_no_tx();
	/* The newest survived: its last piece completes an (unanswered, bad checksum) datagram. */
	t_inject(fr, peer_frag(1000 + queues - 1, 1400, false, data, 8));
	ck_assert_uint_eq(t_stat("Ip6ReasmOKs"), 1);
	/* The oldest is gone. */
	t_inject(fr, peer_frag(1000, 1400, false, data, 8));
	ck_assert_uint_eq(t_stat("Ip6ReasmOKs"), 1);
	t_clock_advance(IP6FRAG_TIME_US);
}
END_TEST

/* A Packet Too Big from the peer about a packet of ours to dst: mtu, quoting qlen bytes. */
static void inject_ptb(uint32_t mtu, const void *quoted, size_t qlen)
{
	static unsigned char p[T_FRAME_MAX];
	size_t mlen = ICMP6_HLEN + qlen;
	uint16_t c;

	memset(msg, 0, ICMP6_HLEN);
	msg[0] = ICMPV6_PKT_TOOBIG;
	msg[4] = (uint8_t)(mtu >> 24);
	msg[5] = (uint8_t)(mtu >> 16);
	msg[6] = (uint8_t)(mtu >> 8);
	msg[7] = (uint8_t)mtu;
	memcpy(msg + ICMP6_HLEN, quoted, qlen);
	c = csum_ipv6_magic(&peer6, &me6, (uint32_t)mlen, NEXTHDR_ICMP, msg);
	memcpy(msg + 2, &c, 2);
	put_ip6(p, &peer6, &me6, NEXTHDR_ICMP, mlen);
	memcpy(p + IPV6_HLEN, msg, mlen);
	t_inject(fr, t_build_eth(fr, t_local_mac, t_peer_mac, ETH_P_IPV6, p, IPV6_HLEN + mlen));
}

START_TEST(test_packet_too_big_lowers_path_mtu_min_1280_expires)
{
	static unsigned char q[IPV6_HLEN + 8];

	/* Quoting a protocol no one handles: a UDP datagram without a socket
	 * would count Icmp6InErrors in udpv6_err, as Linux's does. */
	put_ip6(q, &me6, &far6, 253, 8);
	ck_assert_uint_eq(ip6_dst_mtu(T.ns, &far6), 1500);
	inject_ptb(1400, q, sizeof(q));
	ck_assert_uint_eq(ip6_dst_mtu(T.ns, &far6), 1400);
	ck_assert_uint_eq(ip6_dst_mtu(T.ns, &peer6), 1500);
	ck_assert_uint_eq(t_stat("Icmp6InPktTooBigs"), 1);
	ck_assert_uint_eq(t_stat("Icmp6InErrors"), 0);
	/* Never raised by a PTB; never below 1280. */
	inject_ptb(1450, q, sizeof(q));
	ck_assert_uint_eq(ip6_dst_mtu(T.ns, &far6), 1400);
	inject_ptb(600, q, sizeof(q));
	ck_assert_uint_eq(ip6_dst_mtu(T.ns, &far6), 1280);
	/* A PTB quoting less than a header is an error and teaches nothing. */
	put_ip6(q, &me6, &peer6, NEXTHDR_UDP, 8);
	inject_ptb(1300, q, IPV6_HLEN - 1);
	ck_assert_uint_eq(t_stat("Icmp6InErrors"), 1);
	ck_assert_uint_eq(ip6_dst_mtu(T.ns, &peer6), 1500);
	/* Ten minutes later the link MTU applies again. */
	t_clock_advance(IP6_RT_MTU_EXPIRES_US - 1);
	ck_assert_uint_eq(ip6_dst_mtu(T.ns, &far6), 1280);
	t_clock_advance(1);
	ck_assert_uint_eq(ip6_dst_mtu(T.ns, &far6), 1500);
	t_expect_no_tx();
}
END_TEST

START_TEST(test_dontfrag_over_path_mtu_emsgsize)
{
	struct sk_buff *skb;

	nstack_lock(T.ns);
	skb = alloc_skb_hdr(T.ns, 1500);
	skb_put(skb, 1500);
	memset(skb->data, 0, 1500);
	ck_assert_int_eq(ip6_output_frag(T.ns, skb, &me6, &peer6, NEXTHDR_UDP,
					 &(const struct ip6_tx_params){.dontfrag = true}),
			 -EMSGSIZE);
	nstack_unlock(T.ns);
	ck_assert_uint_eq(t_stat("Ip6FragFails"), 1);
	t_expect_no_tx();
}
END_TEST

/* sendmsg() of len bytes to [peer6]:9 on s; dontfrag >= 0 adds an IPV6_DONTFRAG cmsg. */
static ssize_t udp6_send(struct socket *s, size_t len, int dontfrag)
{
	static unsigned char data[4000];
	struct sockaddr_in6 to = {
	    .sin6_family = AF_INET6, .sin6_port = htons(9), .sin6_addr = peer6};
	struct iovec iov = {data, len};
	_Alignas(struct cmsghdr) unsigned char ctl[CMSG_SPACE(sizeof(int))];
	struct msghdr m = {
	    .msg_name = &to, .msg_namelen = sizeof(to), .msg_iov = &iov, .msg_iovlen = 1};

	if (dontfrag >= 0) {
		struct cmsghdr *c;

		memset(ctl, 0, sizeof(ctl));
		m.msg_control = ctl;
		m.msg_controllen = sizeof(ctl);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_DONTFRAG;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &dontfrag, sizeof(int));
	}
	return nstack_sendmsg(s, &m, MSG_DONTWAIT);
}

/* The lengths of the frames sent since the last call, into lens; their number. */
static int sent_lengths(size_t *lens, int max)
{
	size_t n;
	int k = 0;

	while (k < max && t_try_recv(fr, sizeof(fr), &n))
		lens[k++] = n;
	return k;
}

static int set_int6(struct socket *s, int name, int val)
{
	return nstack_setsockopt(s, IPPROTO_IPV6, name, &val, sizeof(val));
}

/*
 * RFC 3542 11: IPV6_DONTFRAG (socket option and control message) turns a
 * datagram over the path MTU into -EMSGSIZE instead of fragments, and
 * with IPV6_RECVPATHMTU the next recvmsg() reports that MTU (no data, the
 * destination, an IPV6_PATHMTU message); IPV6_MTU cuts fragments smaller;
 * IPV6_PMTUDISC_PROBE ignores a learnt path MTU; IPV6_PATHMTU reads a
 * connected socket's. Linux's errnos and frame sizes throughout.
 */
START_TEST(test_udp_dontfrag_recvpathmtu_ipv6_mtu)
{
	static unsigned char q[IPV6_HLEN + 8];
	struct socket *s = NULL;
	_Alignas(struct cmsghdr) unsigned char ctl[256];
	struct sockaddr_in6 from;
	char buf[64];
	struct iovec iov = {buf, sizeof(buf)};
	struct msghdr m;
	struct ip6_mtuinfo mi;
	socklen_t ml = sizeof(mi);
	size_t lens[8];
	int v = 0;
	socklen_t vl = sizeof(v);

	ck_assert_int_eq(nstack_socket(T.ns, AF_INET6, SOCK_DGRAM, 0, &s), 0);
	ck_assert_int_eq(set_int6(s, IPV6_DONTFRAG, 1), 0);
	ck_assert_int_eq(set_int6(s, IPV6_RECVPATHMTU, 1), 0);
	ck_assert_int_eq(nstack_getsockopt(s, IPPROTO_IPV6, IPV6_DONTFRAG, &v, &vl), 0);
	ck_assert_int_eq(v, 1);
	/* 1452 + 8 + 40 = 1500 fits; one byte more does not. */
	ck_assert_int_eq(udp6_send(s, 1452, -1), 1452);
	ck_assert_int_eq(sent_lengths(lens, 8), 1);
	ck_assert_uint_eq(lens[0], ETH_HLEN + 1500);
	ck_assert_int_eq(udp6_send(s, 1453, -1), -EMSGSIZE);
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("Ip6FragFails"), 0);
	memset(&m, 0, sizeof(m));
	m.msg_name = &from;
	m.msg_namelen = sizeof(from);
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = ctl;
	m.msg_controllen = sizeof(ctl);
	ck_assert_int_eq(nstack_recvmsg(s, &m, MSG_DONTWAIT), 0);
	ck_assert_uint_eq(m.msg_namelen, sizeof(from));
	ck_assert_mem_eq(&from.sin6_addr, &peer6, 16);
	ck_assert_uint_eq(from.sin6_port, 0);
	{
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		struct ip6_mtuinfo got;

		ck_assert_ptr_nonnull(c);
		ck_assert_int_eq(c->cmsg_level, IPPROTO_IPV6);
		ck_assert_int_eq(c->cmsg_type, IPV6_PATHMTU);
		ck_assert_uint_eq(c->cmsg_len, CMSG_LEN(sizeof(got)));
		memcpy(&got, CMSG_DATA(c), sizeof(got));
		ck_assert_uint_eq(got.ip6m_mtu, 1500);
		ck_assert_int_eq(got.ip6m_addr.sin6_family, AF_INET6);
		ck_assert_mem_eq(&got.ip6m_addr.sin6_addr, &peer6, 16);
	}
	m.msg_controllen = sizeof(ctl);
	ck_assert_int_eq(nstack_recvmsg(s, &m, MSG_DONTWAIT), -EAGAIN);
	/* The control message overrides the socket: fragments (1448 + 5). */
	ck_assert_int_eq(udp6_send(s, 1453, 0), 1453);
	ck_assert_int_eq(sent_lengths(lens, 8), 2);
	ck_assert_uint_eq(lens[0], ETH_HLEN + IPV6_HLEN + 8 + 1448);
	ck_assert_uint_eq(lens[1], ETH_HLEN + IPV6_HLEN + 8 + 13);
	/* IPV6_MTU 1280: fragments of 1232 bytes, whatever the path carries. */
	ck_assert_int_eq(set_int6(s, IPV6_DONTFRAG, 0), 0);
	ck_assert_int_eq(set_int6(s, IPV6_MTU, 1279), -EINVAL);
	ck_assert_int_eq(set_int6(s, IPV6_MTU, 1280), 0);
	ck_assert_int_eq(udp6_send(s, 1400, -1), 1400);
	ck_assert_int_eq(sent_lengths(lens, 8), 2);
	ck_assert_uint_eq(lens[0], ETH_HLEN + 1280);
	ck_assert_uint_eq(lens[1], ETH_HLEN + IPV6_HLEN + 8 + 1408 - 1232);
	ck_assert_int_eq(set_int6(s, IPV6_MTU, 0), 0);
	/* A Packet Too Big of 1400 lowers the path; PROBE uses the link's 1500 anyway. */
	put_ip6(q, &me6, &peer6, 253, 8);
	inject_ptb(1400, q, sizeof(q));
	ck_assert_int_eq(set_int6(s, IPV6_DONTFRAG, 1), 0);
	ck_assert_int_eq(udp6_send(s, 1452, -1), -EMSGSIZE);
	ck_assert_int_eq(set_int6(s, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_PROBE), 0);
	ck_assert_int_eq(udp6_send(s, 1452, -1), 1452);
	ck_assert_int_eq(sent_lengths(lens, 8), 1);
	ck_assert_uint_eq(lens[0], ETH_HLEN + 1500);
	/* The refusal above left 1400 to report. */
	m.msg_controllen = sizeof(ctl);
	ck_assert_int_eq(nstack_recvmsg(s, &m, MSG_DONTWAIT), 0);
	memcpy(&mi, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof(mi));
	ck_assert_uint_eq(mi.ip6m_mtu, 1400);
	/*
	 * IPV6_MTU_DISCOVER DO: no fragments from this socket even without
	 * IPV6_DONTFRAG; with IPV6_RECVERR a local error (EMSGSIZE, the MTU as
	 * info, the destination as name) is queued, as ping -M do shows.
	 */
	ck_assert_int_eq(set_int6(s, IPV6_DONTFRAG, 0), 0);
	ck_assert_int_eq(set_int6(s, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DO), 0);
	ck_assert_int_eq(set_int6(s, IPV6_RECVERR, 1), 0);
	ck_assert_int_eq(udp6_send(s, 1400, -1), -EMSGSIZE);
	t_expect_no_tx();
	m.msg_controllen = sizeof(ctl);
	ck_assert_int_eq(nstack_recvmsg(s, &m, MSG_DONTWAIT), -EAGAIN); /* no path MTU kept */
	m.msg_controllen = sizeof(ctl);
	m.msg_namelen = sizeof(from);
	ck_assert_int_eq(nstack_recvmsg(s, &m, MSG_DONTWAIT | MSG_ERRQUEUE), 0);
	ck_assert(m.msg_flags & MSG_ERRQUEUE);
	ck_assert_mem_eq(&from.sin6_addr, &peer6, 16);
	ck_assert_uint_eq(ntohs(from.sin6_port), 9);
	{
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		struct sock_extended_err ee;

		ck_assert_ptr_nonnull(c);
		ck_assert_int_eq(c->cmsg_type, IPV6_RECVERR);
		memcpy(&ee, CMSG_DATA(c), sizeof(ee));
		ck_assert_uint_eq(ee.ee_errno, EMSGSIZE);
		ck_assert_uint_eq(ee.ee_origin, SO_EE_ORIGIN_LOCAL);
		ck_assert_uint_eq(ee.ee_info, 1400);
	}
	ck_assert_int_eq(set_int6(s, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_WANT), 0);
	ck_assert_int_eq(udp6_send(s, 1400, -1), 1400);
	ck_assert_int_eq(sent_lengths(lens, 8), 2);
	/* IPV6_PATHMTU: a connected socket's path, else ENOTCONN. */
	ck_assert_int_eq(nstack_getsockopt(s, IPPROTO_IPV6, IPV6_PATHMTU, &mi, &ml), -ENOTCONN);
	{
		struct sockaddr_in6 to = {
		    .sin6_family = AF_INET6, .sin6_port = htons(9), .sin6_addr = peer6};

		ck_assert_int_eq(nstack_connect(s, (struct sockaddr *)&to, sizeof(to)), 0);
	}
	ml = sizeof(mi) - 1;
	ck_assert_int_eq(nstack_getsockopt(s, IPPROTO_IPV6, IPV6_PATHMTU, &mi, &ml), -EINVAL);
	ml = sizeof(mi);
	ck_assert_int_eq(nstack_getsockopt(s, IPPROTO_IPV6, IPV6_PATHMTU, &mi, &ml), 0);
	ck_assert_uint_eq(ml, sizeof(mi));
	ck_assert_uint_eq(mi.ip6m_mtu, 1400);
	nstack_close(s);
}
END_TEST

/* TCP over IPv6 with the peer as client: returns the accepted socket; *iss our ISN. */
static struct socket *tcp6_established(uint32_t *iss)
{
	struct socket *l = NULL, *c = NULL;
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(80)};
	static unsigned char p[T_FRAME_MAX];
	unsigned char *th = p + IPV6_HLEN;
	size_t n;
	uint16_t ck;
	static const uint8_t mss[4] = {2, 4, 0x05, 0xa0};

	ck_assert_int_eq(nstack_socket(T.ns, AF_INET6, SOCK_STREAM, 0, &l), 0);
	ck_assert_int_eq(nstack_bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(nstack_listen(l, 4), 0);
	for (int step = 0; step < 2; step++) {
		memset(th, 0, 24);
		th[0] = 40000 >> 8;
		th[1] = 40000 & 0xff;
		th[3] = 80;
		th[7] = step == 0 ? 0 : 1; /* seq 0, then 1 */
		if (step) {
			th[8] = (uint8_t)((*iss + 1) >> 24);
			th[9] = (uint8_t)((*iss + 1) >> 16);
			th[10] = (uint8_t)((*iss + 1) >> 8);
			th[11] = (uint8_t)(*iss + 1);
		}
		th[12] = step == 0 ? 6 << 4 : 5 << 4;
		th[13] = step == 0 ? 0x02 : 0x10;
		th[14] = 0xff;
		th[15] = 0xff;
		n = step == 0 ? 24 : 20;
		if (step == 0)
			memcpy(th + 20, mss, 4);
		ck = csum_ipv6_magic(&peer6, &me6, (uint32_t)n, IPPROTO_TCP, th);
		memcpy(th + 16, &ck, 2);
		put_ip6(p, &peer6, &me6, IPPROTO_TCP, n);
		t_inject(fr,
			 t_build_eth(fr, t_local_mac, t_peer_mac, ETH_P_IPV6, p, IPV6_HLEN + n));
		if (step == 0) {
			n = t_recv(fr, sizeof(fr));
			ck_assert_uint_eq(fr[ETH_HLEN + IPV6_HLEN + 13], 0x12);
			*iss = (uint32_t)fr[ETH_HLEN + 44] << 24 |
			       (uint32_t)fr[ETH_HLEN + 45] << 16 |
			       (uint32_t)fr[ETH_HLEN + 46] << 8 | fr[ETH_HLEN + 47];
		}
	}
	ck_assert_int_eq(nstack_accept(l, &c, NULL, NULL, SOCK_NONBLOCK), 0);
	nstack_close(l);
	return c;
}

START_TEST(test_packet_too_big_for_tcp_resends_smaller_segments)
{
	static unsigned char data[3000], sent[T_FRAME_MAX];
	struct iovec iov = {data, sizeof(data)};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	struct socket *c;
	uint32_t iss = 0;
	size_t n, first;
	struct linger lg = {1, 0};

	c = tcp6_established(&iss);
	ck_assert_int_eq(nstack_sendmsg(c, &m, MSG_DONTWAIT), (ssize_t)sizeof(data));
	/* 1440-byte segments on a 1500-byte path. */
	first = t_recv(sent, sizeof(sent));
	ck_assert_uint_eq(first, ETH_HLEN + IPV6_HLEN + 20 + 1440);
	while (t_try_recv(fr, sizeof(fr), &n))
		;
	/* The router says 1280: PTB quoting our first segment. */
	inject_ptb(1280, sent + ETH_HLEN, IPV6_MIN_MTU - IPV6_HLEN - ICMP6_HLEN);
	ck_assert_uint_eq(ip6_dst_mtu(T.ns, &peer6), 1280);
	/* Resent at once in 1220-byte segments (1280 - 40 - 20), from the first byte. */
	n = t_recv(fr, sizeof(fr));
	ck_assert_uint_eq(n, ETH_HLEN + IPV6_MIN_MTU);
	ck_assert_mem_eq(fr + ETH_HLEN + IPV6_HLEN + 4, sent + ETH_HLEN + IPV6_HLEN + 4, 4);
	while (t_try_recv(fr, sizeof(fr), &n))
		ck_assert_uint_le(n, ETH_HLEN + IPV6_MIN_MTU);
	ck_assert_int_eq(nstack_setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	nstack_close(c);
}
END_TEST

static Suite *ipv6_frag_wire_suite(void)
{
	Suite *s = suite_create("ipv6_frag_wire");
	TCase *tc = tcase_create("frag");

	tcase_add_checked_fixture(tc, setup6, t_teardown);
	tcase_add_test(tc, test_in_order_fragments_reassembled_reply_fragmented);
	tcase_add_test(tc, test_out_of_order_fragments_reassembled);
	tcase_add_test(tc, test_overlapping_fragment_drops_datagram_counted);
	tcase_add_test(tc, test_bad_fragment_lengths_parameter_problems);
	tcase_add_test(tc, test_reassembly_timeout_time_exceeded_after_60s);
	tcase_add_test(tc, test_atomic_fragment_processed_at_once);
	tcase_add_test(tc, test_fragment_memory_bound_evicts_oldest);
	tcase_add_test(tc, test_packet_too_big_lowers_path_mtu_min_1280_expires);
	tcase_add_test(tc, test_dontfrag_over_path_mtu_emsgsize);
	tcase_add_test(tc, test_udp_dontfrag_recvpathmtu_ipv6_mtu);
	tcase_add_test(tc, test_packet_too_big_for_tcp_resends_smaller_segments);
	suite_add_tcase(s, tc);
	return s;
}

NSTACK_SUITE(ipv6_frag_wire_suite)
