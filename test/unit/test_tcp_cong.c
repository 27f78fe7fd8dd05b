/*
 * Congestion control: the registry, Reno (RFC 5681) and CUBIC (RFC 9438)
 * window arithmetic, driven directly on a TCP socket of a test stack with
 * the manual clock.
 */
#include <check.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "check_main.h"
#include "sock.h"
#include "stack.h"
#include "tcp.h"
#include "wire/harness.h"

static struct socket *S;

static struct tcp_sock *cong_sock(const char *ca)
{
	ck_assert_int_eq(nstack_socket(T.ns, AF_INET, SOCK_STREAM, 0, &S), 0);
	if (ca)
		ck_assert_int_eq(nstack_setsockopt(S, IPPROTO_TCP, TCP_CONGESTION, ca, strlen(ca)),
				 0);
	nstack_lock(T.ns);
	tcp_init_congestion_control(S->sk);
	nstack_unlock(T.ns);
	return tcp_sk(S->sk);
}

static void cong_setup(void)
{
	t_setup();
	S = NULL;
}

static void cong_teardown(void)
{
	if (S)
		nstack_close(S);
	t_teardown();
}

/* Acknowledges n segments, one ACK each, at the current time. */
static void ack_segments(struct tcp_sock *tp, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		tcp_ca(tp)->cong_avoid(tp, 0, 1);
}

START_TEST(test_registry_default_cubic_and_reno_selectable)
{
	struct tcp_sock *tp = cong_sock(NULL);

	ck_assert_str_eq(tcp_ca(tp)->name, "cubic");
	nstack_close(S);
	tp = cong_sock("reno");
	ck_assert_str_eq(tcp_ca(tp)->name, "reno");
	nstack_lock(T.ns);
	ck_assert_ptr_null(tcp_ca_find(T.ns, "vegas"));
	ck_assert_ptr_nonnull(tcp_ca_find(T.ns, "cubic"));
	nstack_unlock(T.ns);
}
END_TEST

START_TEST(test_reno_halves_then_grows_one_segment_per_window)
{
	struct tcp_sock *tp = cong_sock("reno");

	tp->snd_cwnd = 40;
	tp->snd_ssthresh = tcp_ca(tp)->ssthresh(tp);
	ck_assert_uint_eq(tp->snd_ssthresh, 20);
	tp->snd_cwnd = 20;
	/* Congestion avoidance: +1 segment per cwnd segments acknowledged (RFC 5681 3.1). */
	ack_segments(tp, 20);
	ck_assert_uint_eq(tp->snd_cwnd, 21);
	ack_segments(tp, 20);
	ck_assert_uint_eq(tp->snd_cwnd, 21);
	ack_segments(tp, 1);
	ck_assert_uint_eq(tp->snd_cwnd, 22);
	/* Slow start below ssthresh: +1 per segment. */
	tp->snd_cwnd = 10;
	tp->snd_ssthresh = 15;
	ack_segments(tp, 3);
	ck_assert_uint_eq(tp->snd_cwnd, 13);
}
END_TEST

START_TEST(test_cubic_beta_and_fast_convergence)
{
	struct tcp_sock *tp = cong_sock(NULL);

	/* RFC 9438 4.6: ssthresh = cwnd * 0.7. */
	tp->snd_cwnd = 100;
	ck_assert_uint_eq(tcp_ca(tp)->ssthresh(tp), 70);
	/* 4.7: a loss below the last W_max releases bandwidth: W_max = cwnd * (1 + 0.7) / 2. */
	tp->snd_cwnd = 80;
	ck_assert_uint_eq(tcp_ca(tp)->ssthresh(tp), 56);
	tp->snd_cwnd = 2;
	ck_assert_uint_eq(tcp_ca(tp)->ssthresh(tp), 2);
}
END_TEST

START_TEST(test_cubic_window_concave_to_w_max_at_k_then_convex)
{
	struct tcp_sock *tp = cong_sock(NULL);
	uint32_t at_k, later;

	/*
	 * A loss at 100 segments; RTT 100 ms, long enough for the cubic region
	 * to beat the Reno-friendly estimate (RFC 9438 4.3).
	 * K = cbrt(100 * 0.3 / 0.4) = 4.217 s.
	 */
	tp->srtt_us = 100000 << 3;
	tp->snd_cwnd = 100;
	tp->snd_ssthresh = tcp_ca(tp)->ssthresh(tp);
	tp->snd_cwnd = tp->snd_ssthresh;
	/* Fast growth first (concave region): after 1 s well above 70 but below W_max. */
	for (int ms = 0; ms < 1000; ms += 100) {
		t_clock_advance(100000);
		ack_segments(tp, tp->snd_cwnd);
	}
	ck_assert_uint_gt(tp->snd_cwnd, 80);
	ck_assert_uint_lt(tp->snd_cwnd, 100);
	/* Plateau around W_max near t = K. */
	for (int ms = 1000; ms < 4200; ms += 100) {
		t_clock_advance(100000);
		ack_segments(tp, tp->snd_cwnd);
	}
	at_k = tp->snd_cwnd;
	ck_assert_uint_ge(at_k, 98);
	ck_assert_uint_le(at_k, 103);
	/* Convex region: probing beyond W_max accelerates. */
	for (int ms = 4200; ms < 7200; ms += 100) {
		t_clock_advance(100000);
		ack_segments(tp, tp->snd_cwnd);
	}
	later = tp->snd_cwnd;
	/* W(7.3 s) = 0.4 * (7.3 - 4.217)^3 + 100 = 111.7 (one RTT of look-ahead). */
	ck_assert_uint_ge(later, 109);
	ck_assert_uint_le(later, 116);
}
END_TEST

START_TEST(test_cubic_hystart_leaves_slow_start_when_rtt_grows)
{
	struct tcp_sock *tp = cong_sock(NULL);

	nstack_lock(T.ns);
	tp->snd_cwnd = 20;
	tp->snd_ssthresh = 0x7fffffff;
	tp->snd_una = 1000;
	tp->snd_nxt = 1000 + 20 * 1448;
	/* Round 1: 10 ms RTTs set delay_min; nothing happens. */
	for (int i = 0; i < 12; i++)
		tcp_ca(tp)->pkts_acked(tp, 1, 10000);
	ck_assert_uint_eq(tp->snd_ssthresh, 0x7fffffff);
	/* Round 2: RTT 13.9 ms is below 10 + max(10/8, 4) = 14 ms. */
	tp->snd_una = tp->snd_nxt + 1;
	tp->snd_nxt += 40 * 1448;
	for (int i = 0; i < 12; i++)
		tcp_ca(tp)->pkts_acked(tp, 1, 13900);
	ck_assert_uint_eq(tp->snd_ssthresh, 0x7fffffff);
	/* Round 3: 14.1 ms after 8 samples: slow start ends at the current window. */
	tp->snd_una = tp->snd_nxt + 1;
	tp->snd_nxt += 40 * 1448;
	tp->snd_cwnd = 60;
	for (int i = 0; i < 8; i++)
		tcp_ca(tp)->pkts_acked(tp, 1, 14100);
	ck_assert_uint_eq(tp->snd_ssthresh, 0x7fffffff);
	tcp_ca(tp)->pkts_acked(tp, 1, 14100);
	ck_assert_uint_eq(tp->snd_ssthresh, 60);
	nstack_unlock(T.ns);
}
END_TEST

static Suite *tcp_cong_suite(void)
{
	Suite *s = suite_create("tcp_cong");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, cong_setup, cong_teardown);
	tcase_add_test(tc, test_registry_default_cubic_and_reno_selectable);
	tcase_add_test(tc, test_reno_halves_then_grows_one_segment_per_window);
	tcase_add_test(tc, test_cubic_beta_and_fast_convergence);
	tcase_add_test(tc, test_cubic_window_concave_to_w_max_at_k_then_convex);
	tcase_add_test(tc, test_cubic_hystart_leaves_slow_start_when_rtt_grows);
	suite_add_tcase(s, tc);
	return s;
}

NSTACK_SUITE(tcp_cong_suite)
