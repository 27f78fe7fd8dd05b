/*
 * How blocking calls sleep (nstack_wait_ops) and how pollers register
 * (nstack_poll_wait): the embedder's token is linked before the lock is
 * dropped, every event wakes it, an interrupted sleep gives EINTR, a
 * socket timeout is passed down, and without a token the condition
 * variable is used. UDP sockets on the packet-level harness.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "check_main.h"
#include "harness.h"

static unsigned char frame[256], l4[128];

static struct fake {
	int token_calls, sleeps, wakes;
	int sleep_rc;	      /* what sleep() returns */
	bool inject_on_sleep; /* a datagram arrives while the caller sleeps */
	bool null_token;
	int64_t last_timeo;
	bool sleep_real; /* really sleep for the timeout */
} F;
static int the_token;

static void *f_token(void *ctx)
{
	(void)ctx;
	F.token_calls++;
	return F.null_token ? NULL : &the_token;
}

static size_t peer_udp(uint16_t sport, uint16_t dport, const void *payload, size_t plen)
{
	size_t n = t_build_udp(l4, T_PEER_IP, T_LOCAL_IP, sport, dport, payload, plen);

	return t_build_peer_ip(frame, IPPROTO_UDP, 0x1111, l4, n);
}

static int f_sleep(void *ctx, void *token, int64_t timeo_us)
{
	(void)ctx;
	ck_assert_ptr_eq(token, &the_token);
	F.sleeps++;
	F.last_timeo = timeo_us;
	if (F.inject_on_sleep) {
		/* Without the stack lock, as a packet arriving on the stack thread. */
		F.inject_on_sleep = false;
		t_inject(frame, peer_udp(4321, 5000, "z", 1));
	}
	if (F.sleep_real && timeo_us != INT64_MAX) {
		struct timespec ts = {(time_t)(timeo_us / 1000000),
				      (long)(timeo_us % 1000000) * 1000};

		nanosleep(&ts, NULL);
	}
	return F.sleep_rc;
}

static void f_wake(void *ctx, void *token)
{
	(void)ctx;
	ck_assert_ptr_eq(token, &the_token);
	F.wakes++;
}

static const struct nstack_wait_ops ops = {.token = f_token, .sleep = f_sleep, .wake = f_wake};

static struct socket *udp_bound(uint16_t port)
{
	struct socket *s;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};

	ck_assert_int_eq(nstack_socket(T.ns, AF_INET, SOCK_DGRAM, 0, &s), 0);
	ck_assert_int_eq(nstack_bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return s;
}

static ssize_t recv1(struct socket *s, char *buf, size_t len)
{
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

	return nstack_recvmsg(s, &msg, 0);
}

static void setup(void)
{
	t_setup();
	memset(&F, 0, sizeof(F));
	nstack_set_wait_ops(T.ns, &ops);
}

START_TEST(test_blocked_recv_event_while_asleep_wakes_token_and_returns_data)
{
	struct socket *s = udp_bound(5000);
	char buf[8];

	F.inject_on_sleep = true;
	ck_assert_int_eq(recv1(s, buf, sizeof(buf)), 1);
	ck_assert_int_eq(buf[0], 'z');
	ck_assert_int_eq(F.sleeps, 1);
	ck_assert_int_eq(F.wakes, 1); /* the token was linked while asleep */
	ck_assert_int_eq(F.last_timeo, INT64_MAX);
	nstack_close(s);
}
END_TEST

START_TEST(test_blocked_recv_sleep_interrupted_returns_eintr_and_unlinks)
{
	struct socket *s = udp_bound(5000);
	char buf[8];

	F.sleep_rc = -EINTR;
	ck_assert_int_eq(recv1(s, buf, sizeof(buf)), -EINTR);
	ck_assert_int_eq(F.sleeps, 1);
	/* A datagram after the call: nobody is linked any more. */
	t_inject(frame, peer_udp(4321, 5000, "a", 1));
	ck_assert_int_eq(F.wakes, 0);
	ck_assert_int_eq(recv1(s, buf, sizeof(buf)), 1);
	nstack_close(s);
}
END_TEST

START_TEST(test_blocked_recv_rcvtimeo_passed_down_then_eagain)
{
	struct socket *s = udp_bound(5000);
	struct timeval tv = {0, 30000};
	char buf[8];

	ck_assert_int_eq(nstack_setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	F.sleep_real = true;
	ck_assert_int_eq(recv1(s, buf, sizeof(buf)), -EAGAIN);
	ck_assert_int_eq(F.sleeps, 1);
	ck_assert_int_eq(F.last_timeo, 30000);
	nstack_close(s);
}
END_TEST

START_TEST(test_null_token_recv_uses_condvar_and_times_out)
{
	struct socket *s = udp_bound(5000);
	struct timeval tv = {0, 20000};
	char buf[8];

	F.null_token = true;
	ck_assert_int_eq(nstack_setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	ck_assert_int_eq(recv1(s, buf, sizeof(buf)), -EAGAIN);
	ck_assert_int_ge(F.token_calls, 1);
	ck_assert_int_eq(F.sleeps, 0);
	nstack_close(s);
}
END_TEST

START_TEST(test_poll_wait_registered_event_wakes_until_end)
{
	struct socket *s = udp_bound(5000);
	struct nstack_waiter w = {.token = &the_token};
	char buf[8];

	ck_assert_uint_eq(nstack_poll_wait(s, &w) & POLLIN, 0);
	t_inject(frame, peer_udp(4321, 5000, "a", 1));
	ck_assert_int_eq(F.wakes, 1);
	nstack_poll_end(&w);
	t_inject(frame, peer_udp(4321, 5000, "b", 1));
	ck_assert_int_eq(F.wakes, 1);
	/* Ending twice is harmless. */
	nstack_poll_end(&w);
	ck_assert_int_eq(recv1(s, buf, sizeof(buf)), 1);
	nstack_close(s);
}
END_TEST

START_TEST(test_poll_wait_socket_closed_while_registered_unlinks)
{
	struct socket *s = udp_bound(5000);
	struct nstack_waiter w = {.token = &the_token};

	nstack_poll_wait(s, &w);
	nstack_close(s); /* frees the sock: the link must not dangle */
	nstack_poll_end(&w);
	ck_assert_int_eq(F.wakes, 0);
}
END_TEST

START_TEST(test_wait_ops_cleared_poll_wait_only_reports)
{
	struct socket *s = udp_bound(5000);
	struct nstack_waiter w = {.token = &the_token};

	nstack_set_wait_ops(T.ns, NULL);
	nstack_poll_wait(s, &w);
	t_inject(frame, peer_udp(4321, 5000, "a", 1));
	ck_assert_int_eq(F.wakes, 0);
	nstack_poll_end(&w);
	nstack_close(s);
}
END_TEST

static Suite *wait_wire_suite(void)
{
	Suite *s = suite_create("wait_wire");
	TCase *tc = tcase_create("wait_ops");

	tcase_add_checked_fixture(tc, setup, t_teardown);
	tcase_add_test(tc, test_blocked_recv_event_while_asleep_wakes_token_and_returns_data);
	tcase_add_test(tc, test_blocked_recv_sleep_interrupted_returns_eintr_and_unlinks);
	tcase_add_test(tc, test_blocked_recv_rcvtimeo_passed_down_then_eagain);
	tcase_add_test(tc, test_null_token_recv_uses_condvar_and_times_out);
	tcase_add_test(tc, test_poll_wait_registered_event_wakes_until_end);
	tcase_add_test(tc, test_poll_wait_socket_closed_while_registered_unlinks);
	tcase_add_test(tc, test_wait_ops_cleared_poll_wait_only_reports);
	suite_add_tcase(s, tc);
	return s;
}

NSTACK_SUITE(wait_wire_suite)
