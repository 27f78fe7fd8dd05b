/*
 * RACK loss detection (RFC 8985, Linux's tcp_recovery.c) and SACK
 * reordering detection at the packet level: the test plays a SACK peer
 * (198.18.0.1) with a 10 ms RTT, the stack (198.18.0.2) sends; SACKs are
 * injected and the exact frames sent back, tcpi_lost and tcpi_reordering
 * checked against what Linux does with net.ipv4.tcp_recovery=1, and with 0.
 */
#include <arpa/inet.h>
#include <check.h>
#include <string.h>

#include "check_main.h"
#include "checksum.h"
#include "harness.h"
#include "proto/ether.h"
#include "proto/ip.h"
#include "stack.h"
#include "tcp.h"
#include "wire.h"

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define PEER_PORT 40000
#define SRV_PORT  80
#define PEER_ISN  1000u
#define MSS	  1460u
#define RTT_US	  10000u
#define NSEGS	  10

struct seg {
	uint32_t seq, ack;
	uint8_t flags;
	const uint8_t *opt;
	size_t optlen;
	const void *data;
	size_t len;
};

/* MSS 1460 and SACK-permitted, the peer's SYN and our SYN-ACK alike. */
static const uint8_t opt_mss_sack[] = {2, 4, 0x05, 0xb4, 1, 1, 4, 2};
static char data[NSEGS * MSS];

static size_t build_tcp(unsigned char *buf, bool from_peer, uint16_t win, const struct seg *s)
{
	const struct t_tcp_seg t = {from_peer ? PEER_PORT : SRV_PORT,
				    from_peer ? SRV_PORT : PEER_PORT,
				    s->seq,
				    s->ack,
				    s->flags,
				    win,
				    s->opt,
				    s->optlen,
				    s->data,
				    s->len,
				    0};

	return t_build_tcp(buf, from_peer ? T_PEER_IP : T_LOCAL_IP,
			   from_peer ? T_LOCAL_IP : T_PEER_IP, &t);
}

static void inject(const struct seg *s)
{
	static unsigned char tcp[T_FRAME_MAX], frame[T_FRAME_MAX];
	size_t n = build_tcp(tcp, true, 65535, s);

	n = t_build_peer_ip(frame, IPPROTO_TCP, 1, tcp, n);
	t_inject(frame, n);
}

/*
 * Asserts the next frame is exactly s from the stack (window 64240, no
 * options), but for PSH: where bursts end is tcp_write_xmit's business,
 * tested elsewhere, not RACK's.
 */
static void expect(const struct seg *s)
{
	static unsigned char got[T_FRAME_MAX], tcp[T_FRAME_MAX], ip[T_FRAME_MAX], want[T_FRAME_MAX];
	const struct iphdr *gip = (const struct iphdr *)(got + ETH_HLEN);
	size_t glen = t_recv(got, sizeof(got)), n;
	const struct tcphdr *gth = (const struct tcphdr *)(got + ETH_HLEN + IP_HLEN_MIN);
	struct seg w = *s;

	w.flags = (uint8_t)((w.flags & ~TH_PSH) | (gth->flags & TH_PSH));
	n = build_tcp(tcp, false, 64240, &w);
	n = t_build_ipv4(ip, T_LOCAL_IP, T_PEER_IP, IPPROTO_TCP, ntohs(gip->id), IP_DF, 64, tcp, n);
	n = t_build_eth(want, t_peer_mac, t_local_mac, ETH_P_IP, ip, n);
	if (n != glen || memcmp(want, got, n) != 0) {
		t_hexdump("expected", want, n);
		t_hexdump("got", got, glen);
		ck_abort_msg("segment mismatch");
	}
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* A connection accepted from the peer whose handshake took RTT_US. */
struct conn {
	struct socket *l, *s;
	uint32_t snd; /* our first data byte */
	uint32_t rcv;
};

static struct conn passive_rtt(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(SRV_PORT)};
	unsigned char f[T_FRAME_MAX];
	const struct tcphdr *th;
	struct conn c = {0};
	int one = 1;

	ck_assert_int_eq(nstack_socket(T.ns, AF_INET, SOCK_STREAM, 0, &c.l), 0);
	ck_assert_int_eq(nstack_bind(c.l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(nstack_listen(c.l, 8), 0);
	inject(&(struct seg){PEER_ISN, 0, TH_SYN, opt_mss_sack, sizeof(opt_mss_sack)});
	t_recv(f, sizeof(f));
	th = (const struct tcphdr *)(f + ETH_HLEN + IP_HLEN_MIN);
	ck_assert_uint_eq(th->flags, TH_SYN | TH_ACK);
	c.snd = ntohl(th->seq) + 1;
	c.rcv = PEER_ISN + 1;
	t_clock_advance(RTT_US);
	inject(&(struct seg){c.rcv, c.snd, TH_ACK});
	t_expect_no_tx();
	ck_assert_int_eq(nstack_accept(c.l, &c.s, NULL, NULL, SOCK_NONBLOCK), 0);
	ck_assert_int_eq(nstack_setsockopt(c.s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), 0);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)('a' + i % 23);
	return c;
}

/* Closes both sockets and lets the FIN go and every timer run out, frames dropped. */
static void conn_close(struct conn *c)
{
	uint64_t end = T.now + 600ull * 1000000;
	unsigned char f[T_FRAME_MAX];
	size_t l;

	nstack_close(c->s);
	nstack_close(c->l);
	for (int i = 0; i < 100000; i++) {
		uint64_t d = nstack_next_deadline(T.ns);

		while (t_try_recv(f, sizeof(f), &l))
			;
		if (d == UINT64_MAX || d > end)
			break;
		t_clock_set(d > T.now ? d : T.now);
	}
	while (t_try_recv(f, sizeof(f), &l))
		;
}

/* Segment i of data, as sent (or sent again). */
static struct seg data_seg(const struct conn *c, unsigned int i)
{
	return (struct seg){c->snd + MSS * i, c->rcv, TH_ACK, NULL, 0, data + MSS * i, MSS};
}

/* Writes n segments and checks they all leave at once. */
static void send_segs(const struct conn *c, unsigned int n)
{
	struct iovec iov = {.iov_base = data, .iov_len = n * MSS};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};

	ck_assert_int_eq(nstack_sendmsg(c->s, &m, 0), (ssize_t)(n * MSS));
	for (unsigned int i = 0; i < n; i++) {
		struct seg s = data_seg(c, i);

		expect(&s);
	}
	t_expect_no_tx();
}

/* The peer acknowledges up to segment `ack_segs` and SACKs segments [lo[k], hi[k]). */
static void sack(const struct conn *c, unsigned int ack_segs, int n, const unsigned int *lo,
		 const unsigned int *hi)
{
	uint8_t o[4 + 8 * 3] = {1, 1, 5, (uint8_t)(2 + 8 * n)};

	for (int k = 0; k < n; k++) {
		put32(o + 4 + 8 * k, c->snd + MSS * lo[k]);
		put32(o + 8 + 8 * k, c->snd + MSS * hi[k]);
	}
	inject(&(struct seg){c->rcv, c->snd + MSS * ack_segs, TH_ACK, o, (size_t)(4 + 8 * n)});
}

static struct tcp_info_linux info(const struct conn *c)
{
	struct tcp_info_linux ti;
	socklen_t tl = sizeof(ti);

	ck_assert_int_eq(nstack_getsockopt(c->s, IPPROTO_TCP, TCP_INFO, &ti, &tl), 0);
	return ti;
}

/* Peer SACKs 2, 2+6, 2+6+8 of ten segments (the order of Linux's sack-shift-sacked-2-6-8 test). */
static void sack_2_6_8(const struct conn *c)
{
	static const unsigned int lo[] = {2, 6, 8}, hi[] = {3, 7, 9};

	for (int n = 1; n <= 3; n++) {
		sack(c, 0, n, lo, hi);
		if (n < 3)
			t_expect_no_tx();
	}
}

/*
 * Ten segments out, an RTT later the peer SACKs 2, 6 and 8: recovery starts
 * and the first segment goes again, alone. Returns tcp_info then.
 */
static struct tcp_info_linux recovery_after_2_6_8(const struct conn *c)
{
	struct tcp_info_linux ti;
	struct seg s = data_seg(c, 0);

	send_segs(c, NSEGS);
	t_clock_advance(RTT_US);
	sack_2_6_8(c);
	expect(&s);
	t_expect_no_tx();
	ti = info(c);
	ck_assert_uint_eq(ti.tcpi_ca_state, TCP_CA_Recovery);
	return ti;
}

/*
 * Three segments SACKed, reordering never seen: RACK's window is zero, and
 * every segment sent before the newest SACKed one is lost (1, 2, 4, 5, 6, 8
 * counting from one: six, where dupthresh finds only the two with three
 * SACKed above). PRR lets the first retransmission go.
 */
START_TEST(test_established_rack_third_sack_marks_all_earlier_holes_lost)
{
	struct conn c = passive_rtt();
	struct tcp_info_linux ti;

	ti = recovery_after_2_6_8(&c);
	ck_assert_uint_eq(ti.tcpi_lost, 6);
	ck_assert_uint_eq(ti.tcpi_sacked, 3);
	ck_assert_uint_eq(ti.tcpi_retrans, 1);
	ck_assert_uint_eq(ti.tcpi_reordering, 3);
	ck_assert_uint_eq(t_stat("TcpExtTCPSackRecovery"), 1);
	/* Everything arrives: recovery ends, nothing is left lost. */
	t_clock_advance(RTT_US);
	inject(&(struct seg){c.rcv, c.snd + NSEGS * MSS, TH_ACK});
	ti = info(&c);
	ck_assert_uint_eq(ti.tcpi_ca_state, TCP_CA_Open);
	ck_assert_uint_eq(ti.tcpi_lost, 0);
	ck_assert_uint_eq(ti.tcpi_unacked, 0);
	conn_close(&c);
}
END_TEST

/*
 * One SACK above a hole: the hole gets RTT + reo_wnd (min_rtt / 4) from its
 * transmission, 12.5 ms; the reordering timer is armed for the 2.5 ms
 * left, in whole ms plus Linux's TCP_TIMEOUT_MIN of 2, and fires at 15 ms:
 * the segment is lost, recovery starts and it goes again.
 */
START_TEST(test_established_rack_reorder_timer_fires_at_rtt_plus_reo_wnd)
{
	static const unsigned int lo[] = {1}, hi[] = {2};
	struct conn c = passive_rtt();
	struct tcp_info_linux ti;
	uint64_t t0 = T.now;
	struct seg s;

	send_segs(&c, 4);
	t_clock_set(t0 + RTT_US);
	sack(&c, 0, 1, lo, hi);
	t_expect_no_tx();
	ti = info(&c);
	ck_assert_uint_eq(ti.tcpi_lost, 0);
	ck_assert_uint_eq(ti.tcpi_ca_state, TCP_CA_Disorder);
	t_clock_set(t0 + RTT_US + 5000 - 1);
	t_expect_no_tx();
	t_clock_set(t0 + RTT_US + 5000);
	s = data_seg(&c, 0);
	expect(&s);
	t_expect_no_tx();
	ti = info(&c);
	ck_assert_uint_eq(ti.tcpi_ca_state, TCP_CA_Recovery);
	ck_assert_uint_eq(ti.tcpi_lost, 1);
	ck_assert_uint_eq(ti.tcpi_retrans, 1);
	ck_assert_uint_eq(t_stat("TcpExtTCPSackRecovery"), 1);
	ck_assert_uint_eq(t_stat("TcpRetransSegs"), 1);
	/* Then the RTO watches the retransmission. */
	inject(&(struct seg){c.rcv, c.snd + 4 * MSS, TH_ACK});
	t_expect_no_tx();
	conn_close(&c);
}
END_TEST

/*
 * Two holes filled late by a cumulative ACK: segments sent once arrived
 * behind ones sent after them, four segments out of order. tcpi_reordering
 * becomes 4 (tcp_check_sack_reordering) and RACK keeps a min_rtt / 4
 * window from then on, even in recovery or past dupthresh: four SACKs above
 * the next hole leave it alone, and when it arrives a little late nothing
 * was sent again. Without the reordering seen the third SACK would have
 * retransmitted it at once.
 */
START_TEST(test_established_reordering_seen_widens_rack_window_no_spurious_retransmit)
{
	static const unsigned int lo[] = {2, 1}, hi[] = {4, 5};
	struct conn c = passive_rtt();
	struct tcp_info_linux ti;
	uint64_t t1;

	send_segs(&c, 4);
	t_clock_advance(RTT_US);
	sack(&c, 0, 1, lo, (const unsigned int[]){3});
	sack(&c, 0, 1, lo, hi);
	t_expect_no_tx();
	ck_assert_uint_eq(info(&c).tcpi_reordering, 3);
	t_clock_advance(1000);
	inject(&(struct seg){c.rcv, c.snd + 4 * MSS, TH_ACK});
	t_expect_no_tx();
	ti = info(&c);
	ck_assert_uint_eq(ti.tcpi_reordering, 4);
	ck_assert_uint_eq(ti.tcpi_reord_seen, 1);
	ck_assert_uint_eq(t_stat("TcpExtTCPSACKReorder"), 1);
	ck_assert_uint_eq(t_stat("TcpRetransSegs"), 0);

	/* Next flight: 6 segments; the first is late, the peer SACKs the next four. */
	c.snd += 4 * MSS;
	send_segs(&c, 6);
	t1 = T.now;
	t_clock_advance(RTT_US);
	for (unsigned int n = 2; n <= 5; n++) {
		sack(&c, 0, 1, &lo[1], &n);
		t_expect_no_tx();
	}
	ti = info(&c);
	ck_assert_uint_eq(ti.tcpi_sacked, 4);
	ck_assert_uint_eq(ti.tcpi_lost, 0);
	ck_assert_uint_eq(ti.tcpi_ca_state, TCP_CA_Disorder);
	/* 1 ms later, within the window, it arrives: no spurious retransmission. */
	t_clock_set(t1 + RTT_US + 1000);
	inject(&(struct seg){c.rcv, c.snd + 6 * MSS, TH_ACK});
	t_expect_no_tx();
	t_clock_set(t1 + RTT_US + 300000);
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("TcpRetransSegs"), 0);
	ck_assert_uint_eq(t_stat("TcpExtTCPSackRecovery"), 0);
	ck_assert_uint_eq(info(&c).tcpi_ca_state, TCP_CA_Open);
	conn_close(&c);
}
END_TEST

/*
 * PRR's slow-start part as Linux's (tcp_cwnd_reduction, packetdrill's
 * prr-ss-ack-below-snd_una-cubic): segments 2-3 and 9 SACKed (counting from
 * one), the first hole goes again; then an ACK that advances snd_una over a
 * hole that was never retransmitted (reordering: RACK's window opens, so
 * segment 10 is not taken for lost) and loses nothing new lets one more than
 * was delivered out: segments 5, 6 and 7, where two went before.
 */
START_TEST(test_established_prr_ssrb_grows_by_one_on_snd_una_advance)
{
	static const unsigned int lo1[] = {1}, hi1[] = {2}, hi2[] = {3};
	static const unsigned int lo3[] = {1, 8}, hi3[] = {3, 9}, lo4[] = {8}, hi4[] = {9};
	struct conn c = passive_rtt();
	struct seg s;

	send_segs(&c, NSEGS);
	t_clock_advance(RTT_US);
	sack(&c, 0, 1, lo1, hi1);
	sack(&c, 0, 1, lo1, hi2);
	t_expect_no_tx();
	sack(&c, 0, 2, lo3, hi3);
	s = data_seg(&c, 0);
	expect(&s);
	t_expect_no_tx();
	t_clock_advance(12000);
	sack(&c, 4, 1, lo4, hi4);
	for (unsigned int i = 4; i < 7; i++) {
		s = data_seg(&c, i);
		expect(&s);
	}
	t_expect_no_tx();
	ck_assert_uint_ge(info(&c).tcpi_reord_seen, 1);
	conn_close(&c);
}
END_TEST

static void recovery_off(struct nstack_config *cfg)
{
	cfg->tcp.recovery = 0;
}

/*
 * net.ipv4.tcp_recovery=0: RFC 6675 IsLost with dupthresh, as before RACK.
 * After SACKs 2, 6, 8 only the segments with three SACKed above are lost,
 * and one SACK above a hole never arms a reordering timer.
 */
START_TEST(test_established_recovery_0_keeps_dupthresh_marking)
{
	static const unsigned int lo[] = {1}, hi[] = {2};
	struct t_opts o = {.tweak = recovery_off};
	struct tcp_info_linux ti;
	struct conn c;
	uint64_t t0;

	t_teardown();
	t_setup_opts(&o);
	c = passive_rtt();
	ti = recovery_after_2_6_8(&c);
	ck_assert_uint_eq(ti.tcpi_lost, 2);
	inject(&(struct seg){c.rcv, c.snd + NSEGS * MSS, TH_ACK});
	c.snd += NSEGS * MSS;
	t_clock_advance(RTT_US);

	send_segs(&c, 4);
	t0 = T.now;
	t_clock_set(t0 + RTT_US);
	sack(&c, 0, 1, lo, hi);
	t_clock_set(t0 + RTT_US + 50000);
	t_expect_no_tx();
	ck_assert_uint_eq(info(&c).tcpi_lost, 0);
	inject(&(struct seg){c.rcv, c.snd + 4 * MSS, TH_ACK});
	conn_close(&c);
}
END_TEST

static Suite *tcp_rack_wire_suite(void)
{
	Suite *s = suite_create("tcp_rack_wire");
	TCase *tc = tcase_create("rack");

	tcase_add_checked_fixture(tc, t_setup, t_teardown);
	tcase_add_test(tc, test_established_rack_third_sack_marks_all_earlier_holes_lost);
	tcase_add_test(tc, test_established_prr_ssrb_grows_by_one_on_snd_una_advance);
	tcase_add_test(tc, test_established_rack_reorder_timer_fires_at_rtt_plus_reo_wnd);
	tcase_add_test(tc,
		       test_established_reordering_seen_widens_rack_window_no_spurious_retransmit);
	tcase_add_test(tc, test_established_recovery_0_keeps_dupthresh_marking);
	suite_add_tcase(s, tc);
	return s;
}

NSTACK_SUITE(tcp_rack_wire_suite)
