/*
 * UDP socket semantics that need no frame inspection: bind rules and
 * errnos, SO_REUSEADDR/SO_REUSEPORT, ephemeral ports (RFC 6056 algorithm
 * 3), connect/disconnect, send argument checks, receive timeouts.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

#include "check_main.h"
#include "inet.h"
#include "sock.h"
#include "stack.h"
#include "udp.h"
#include "wire/harness.h"

#define UDP_CORK_OPT 1 /* UDP_CORK: netinet/udp.h clashes with proto/udp.h */

static int t_bind(struct socket *s, uint32_t addr, uint16_t port)
{
	struct sockaddr_in sin = t_sin(addr, port);

	return nstack_bind(s, (struct sockaddr *)&sin, sizeof(sin));
}

static int t_connect(struct socket *s, uint32_t addr, uint16_t port)
{
	struct sockaddr_in sin = t_sin(addr, port);

	return nstack_connect(s, (struct sockaddr *)&sin, sizeof(sin));
}

static uint16_t t_local_port(struct socket *s)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	ck_assert_int_eq(nstack_getsockname(s, (struct sockaddr *)&sin, &len), 0);
	return ntohs(sin.sin_port);
}

static ssize_t t_sendto(struct socket *s, const void *buf, size_t len, const struct sockaddr_in *to,
			int flags)
{
	struct iovec iov = {(void *)buf, len};
	struct msghdr m = {.msg_name = (void *)to,
			   .msg_namelen = to ? sizeof(*to) : 0,
			   .msg_iov = &iov,
			   .msg_iovlen = 1};

	return nstack_sendmsg(s, &m, flags);
}

static ssize_t t_urecv(struct socket *s, void *buf, size_t len, int flags)
{
	struct iovec iov = {buf, len};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};

	return nstack_recvmsg(s, &m, flags);
}

static int t_setint(struct socket *s, int level, int name, int v)
{
	return nstack_setsockopt(s, level, name, &v, sizeof(v));
}

static void drain_tx(void)
{
	static unsigned char buf[T_FRAME_MAX];
	size_t len;

	while (t_try_recv(buf, sizeof(buf), &len))
		;
}

START_TEST(test_unbound_bind_any_our_and_broadcast_addresses)
{
	struct socket *a = t_socket(SOCK_DGRAM, 0), *b = t_socket(SOCK_DGRAM, 0),
		      *c = t_socket(SOCK_DGRAM, 0), *d = t_socket(SOCK_DGRAM, 0);

	ck_assert_int_eq(t_bind(a, htonl(INADDR_ANY), 5000), 0);
	ck_assert_int_eq(t_local_port(a), 5000);
	ck_assert_int_eq(t_bind(b, T_LOCAL_IP, 5001), 0);
	ck_assert_int_eq(t_bind(c, T_IP(198, 18, 0, 255), 5002), 0);
	ck_assert_int_eq(t_bind(d, htonl(INADDR_BROADCAST), 5003), 0);
	nstack_close(a);
	nstack_close(b);
	nstack_close(c);
	nstack_close(d);
}
END_TEST

START_TEST(test_unbound_bind_bad_arguments_errnos)
{
	struct socket *s = t_socket(SOCK_DGRAM, 0);
	struct sockaddr_in sin = t_sin(T_LOCAL_IP, 5000);

	ck_assert_int_eq(t_bind(s, T_IP(198, 18, 0, 99), 5000), -EADDRNOTAVAIL);
	ck_assert_int_eq(t_bind(s, T_IP(10, 0, 0, 1), 5000), -EADDRNOTAVAIL);
	ck_assert_int_eq(nstack_bind(s, (struct sockaddr *)&sin, sizeof(sin) - 1), -EINVAL);
	sin.sin_family = AF_INET6;
	ck_assert_int_eq(nstack_bind(s, (struct sockaddr *)&sin, sizeof(sin)), -EAFNOSUPPORT);
	/* AF_UNSPEC is accepted for INADDR_ANY only (old programs). */
	sin.sin_family = AF_UNSPEC;
	ck_assert_int_eq(nstack_bind(s, (struct sockaddr *)&sin, sizeof(sin)), -EAFNOSUPPORT);
	sin.sin_addr.s_addr = htonl(INADDR_ANY);
	ck_assert_int_eq(nstack_bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	/* Already bound. */
	ck_assert_int_eq(t_bind(s, htonl(INADDR_ANY), 5001), -EINVAL);
	nstack_close(s);
}
END_TEST

START_TEST(test_bound_port_second_bind_eaddrinuse)
{
	struct socket *a = t_socket(SOCK_DGRAM, 0), *b = t_socket(SOCK_DGRAM, 0),
		      *c = t_socket(SOCK_DGRAM, 0);

	ck_assert_int_eq(t_bind(a, htonl(INADDR_ANY), 6000), 0);
	ck_assert_int_eq(t_bind(b, htonl(INADDR_ANY), 6000), -EADDRINUSE);
	ck_assert_int_eq(t_bind(b, T_LOCAL_IP, 6000), -EADDRINUSE);
	/* A failed bind leaves the socket unbound. */
	ck_assert_int_eq(t_local_port(b), 0);
	ck_assert_int_eq(t_bind(b, T_LOCAL_IP, 6001), 0);
	/* The wildcard clashes with every address; different specific ones do not. */
	ck_assert_int_eq(t_bind(c, htonl(INADDR_ANY), 6001), -EADDRINUSE);
	ck_assert_int_eq(t_bind(c, T_IP(198, 18, 0, 255), 6001), 0);
	nstack_close(a);
	nstack_close(b);
	nstack_close(c);
	/* Closing releases the port. */
	a = t_socket(SOCK_DGRAM, 0);
	ck_assert_int_eq(t_bind(a, htonl(INADDR_ANY), 6000), 0);
	nstack_close(a);
}
END_TEST

START_TEST(test_reuseaddr_needed_on_both)
{
	struct socket *a = t_socket(SOCK_DGRAM, 0), *b = t_socket(SOCK_DGRAM, 0),
		      *c = t_socket(SOCK_DGRAM, 0);

	ck_assert_int_eq(t_setint(a, SOL_SOCKET, SO_REUSEADDR, 1), 0);
	ck_assert_int_eq(t_bind(a, htonl(INADDR_ANY), 6100), 0);
	ck_assert_int_eq(t_bind(b, htonl(INADDR_ANY), 6100), -EADDRINUSE);
	ck_assert_int_eq(t_setint(b, SOL_SOCKET, SO_REUSEADDR, 1), 0);
	ck_assert_int_eq(t_bind(b, htonl(INADDR_ANY), 6100), 0);
	ck_assert_int_eq(t_setint(c, SOL_SOCKET, SO_REUSEPORT, 1), 0);
	ck_assert_int_eq(t_bind(c, htonl(INADDR_ANY), 6100), -EADDRINUSE);
	nstack_close(a);
	nstack_close(b);
	nstack_close(c);
}
END_TEST

START_TEST(test_reuseport_needed_on_both)
{
	struct socket *a = t_socket(SOCK_DGRAM, 0), *b = t_socket(SOCK_DGRAM, 0),
		      *c = t_socket(SOCK_DGRAM, 0);

	ck_assert_int_eq(t_setint(a, SOL_SOCKET, SO_REUSEPORT, 1), 0);
	ck_assert_int_eq(t_setint(b, SOL_SOCKET, SO_REUSEPORT, 1), 0);
	ck_assert_int_eq(t_bind(a, htonl(INADDR_ANY), 6200), 0);
	ck_assert_int_eq(t_bind(b, htonl(INADDR_ANY), 6200), 0);
	ck_assert_int_eq(t_bind(c, htonl(INADDR_ANY), 6200), -EADDRINUSE);
	nstack_close(a);
	nstack_close(b);
	nstack_close(c);
}
END_TEST

START_TEST(test_bind_port_zero_picks_ephemeral_in_range)
{
	struct socket *s[8];

	for (int i = 0; i < 8; i++) {
		uint16_t p;

		s[i] = t_socket(SOCK_DGRAM, 0);
		ck_assert_int_eq(t_bind(s[i], htonl(INADDR_ANY), 0), 0);
		p = t_local_port(s[i]);
		ck_assert_int_ge(p, IP_LOCAL_PORT_LOW);
		ck_assert_int_le(p, IP_LOCAL_PORT_HIGH);
		for (int j = 0; j < i; j++)
			ck_assert_int_ne(p, t_local_port(s[j]));
	}
	for (int i = 0; i < 8; i++)
		nstack_close(s[i]);
}
END_TEST

static unsigned int in_use_calls;
static uint16_t free_port;

static int all_but_one(struct nstack *ns, uint16_t port, void *arg)
{
	(void)ns;
	(void)arg;
	in_use_calls++;
	ck_assert_int_ge(port, IP_LOCAL_PORT_LOW);
	ck_assert_int_le(port, IP_LOCAL_PORT_HIGH);
	return port != free_port;
}

START_TEST(test_ephemeral_every_port_tried_once)
{
	uint16_t port = 0;

	nstack_lock(T.ns);
	free_port = 0;
	in_use_calls = 0;
	ck_assert_int_eq(inet_pick_ephemeral(T.ns, all_but_one, NULL, &port), -EADDRNOTAVAIL);
	ck_assert_uint_eq(in_use_calls, IP_LOCAL_PORT_HIGH - IP_LOCAL_PORT_LOW + 1);
	free_port = IP_LOCAL_PORT_HIGH;
	in_use_calls = 0;
	ck_assert_int_eq(inet_pick_ephemeral(T.ns, all_but_one, NULL, &port), 0);
	ck_assert_int_eq(port, IP_LOCAL_PORT_HIGH);
	ck_assert_uint_le(in_use_calls, IP_LOCAL_PORT_HIGH - IP_LOCAL_PORT_LOW + 1);
	nstack_unlock(T.ns);
}
END_TEST

static int none_in_use(struct nstack *ns, uint16_t port, void *arg)
{
	(void)ns;
	(void)port;
	(void)arg;
	return 0;
}

START_TEST(test_ephemeral_algorithm3_sequence_advances)
{
	uint16_t p1, p2;

	/* Algorithm 3: the same secret offset, next_ephemeral one further. */
	nstack_lock(T.ns);
	ck_assert_int_eq(inet_pick_ephemeral(T.ns, none_in_use, NULL, &p1), 0);
	ck_assert_int_eq(inet_pick_ephemeral(T.ns, none_in_use, NULL, &p2), 0);
	nstack_unlock(T.ns);
	ck_assert_int_eq(p2, p1 == IP_LOCAL_PORT_HIGH ? IP_LOCAL_PORT_LOW : p1 + 1);
}
END_TEST

START_TEST(test_unbound_sendto_autobinds)
{
	struct socket *s = t_socket(SOCK_DGRAM, 0);
	struct sockaddr_in to = t_sin(T_PEER_IP, 9);

	ck_assert_int_eq(t_local_port(s), 0);
	ck_assert_int_eq(t_sendto(s, "x", 1, &to, 0), 1);
	ck_assert_int_ge(t_local_port(s), IP_LOCAL_PORT_LOW);
	drain_tx();
	nstack_close(s);
}
END_TEST

START_TEST(test_connected_disconnect_forgets_peer_and_autobound_port)
{
	struct socket *s = t_socket(SOCK_DGRAM, 0), *b = t_socket(SOCK_DGRAM, 0), *c;
	struct sockaddr_in sin, unspec = {.sin_family = AF_UNSPEC};
	uint16_t port;
	socklen_t len = sizeof(sin);

	ck_assert_int_eq(t_connect(s, T_PEER_IP, 53), 0);
	ck_assert_int_eq(nstack_getpeername(s, (struct sockaddr *)&sin, &len), 0);
	ck_assert_int_eq(sin.sin_addr.s_addr, T_PEER_IP);
	ck_assert_int_eq(ntohs(sin.sin_port), 53);
	len = sizeof(sin);
	ck_assert_int_eq(nstack_getsockname(s, (struct sockaddr *)&sin, &len), 0);
	ck_assert_int_eq(sin.sin_addr.s_addr, T_LOCAL_IP);
	ck_assert_int_ge(ntohs(sin.sin_port), IP_LOCAL_PORT_LOW);

	port = ntohs(sin.sin_port);
	ck_assert_int_eq(nstack_connect(s, (struct sockaddr *)&unspec, sizeof(unspec)), 0);
	len = sizeof(sin);
	ck_assert_int_eq(nstack_getpeername(s, (struct sockaddr *)&sin, &len), -ENOTCONN);
	ck_assert_int_eq(nstack_getsockname(s, (struct sockaddr *)&sin, &len), 0);
	ck_assert_int_eq(sin.sin_addr.s_addr, 0);
	ck_assert_int_eq(sin.sin_port, 0);
	/* The automatically bound port is free again. */
	c = t_socket(SOCK_DGRAM, 0);
	ck_assert_int_eq(t_bind(c, htonl(INADDR_ANY), port), 0);
	nstack_close(c);

	/* A port chosen by bind() survives the disconnect. */
	ck_assert_int_eq(t_bind(b, htonl(INADDR_ANY), 7000), 0);
	ck_assert_int_eq(t_connect(b, T_PEER_IP, 53), 0);
	ck_assert_int_eq(nstack_connect(b, (struct sockaddr *)&unspec, sizeof(unspec)), 0);
	ck_assert_int_eq(t_local_port(b), 7000);
	nstack_close(s);
	nstack_close(b);
}
END_TEST

START_TEST(test_connect_bad_arguments_errnos)
{
	struct socket *s = t_socket(SOCK_DGRAM, 0);
	struct sockaddr_in sin = t_sin(T_PEER_IP, 53);

	ck_assert_int_eq(nstack_connect(s, (struct sockaddr *)&sin, sizeof(sin) - 1), -EINVAL);
	sin.sin_family = AF_INET6;
	ck_assert_int_eq(nstack_connect(s, (struct sockaddr *)&sin, sizeof(sin)), -EAFNOSUPPORT);
	ck_assert_int_eq(t_connect(s, htonl(INADDR_BROADCAST), 53), -EACCES);
	ck_assert_int_eq(t_setint(s, SOL_SOCKET, SO_BROADCAST, 1), 0);
	ck_assert_int_eq(t_connect(s, htonl(INADDR_BROADCAST), 53), 0);
	nstack_close(s);
}
END_TEST

START_TEST(test_unconnected_send_errnos)
{
	struct socket *s = t_socket(SOCK_DGRAM, 0);
	static char big[65508];
	struct sockaddr_in to = t_sin(T_PEER_IP, 9), zero = t_sin(T_PEER_IP, 0);
	struct sockaddr_in6 six = {.sin6_family = AF_INET6};

	ck_assert_int_eq(t_sendto(s, "x", 1, NULL, 0), -EDESTADDRREQ);
	ck_assert_int_eq(t_sendto(s, big, sizeof(big), &to, 0), -EMSGSIZE);
	ck_assert_int_eq(t_sendto(s, "x", 1, &zero, 0), -EINVAL);
	ck_assert_int_eq(t_sendto(s, "x", 1, (struct sockaddr_in *)&six, 0), -EAFNOSUPPORT);
	ck_assert_int_eq(t_sendto(s, "x", 1, &to, MSG_OOB), -EOPNOTSUPP);
	{
		struct iovec iov = {"x", 1};
		struct msghdr m = {.msg_name = &to,
				   .msg_namelen = sizeof(to) - 2,
				   .msg_iov = &iov,
				   .msg_iovlen = 1};

		ck_assert_int_eq(nstack_sendmsg(s, &m, 0), -EINVAL);
	}
	t_expect_no_tx();
	nstack_close(s);
}
END_TEST

START_TEST(test_empty_recv_dontwait_eagain)
{
	struct socket *s = t_socket(SOCK_DGRAM, 0);
	char buf[8];
	int n = -1;

	ck_assert_int_eq(t_bind(s, htonl(INADDR_ANY), 5000), 0);
	ck_assert_int_eq(t_urecv(s, buf, sizeof(buf), MSG_DONTWAIT), -EAGAIN);
	nstack_set_nonblock(s, true);
	ck_assert_int_eq(t_urecv(s, buf, sizeof(buf), 0), -EAGAIN);
	ck_assert_int_eq(nstack_ioctl(s, FIONREAD, &n), 0);
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(nstack_ioctl(s, SIOCOUTQ, &n), 0);
	ck_assert_int_eq(n, 0);
	ck_assert_uint_eq(nstack_poll(s), POLLOUT | POLLWRNORM | POLLWRBAND);
	nstack_close(s);
}
END_TEST

START_TEST(test_empty_recv_rcvtimeo_eagain_after_timeout)
{
	struct socket *s = t_socket(SOCK_DGRAM, 0);
	struct timeval tv = {0, 20000};
	struct timespec a, b;
	char buf[8];
	long us;

	ck_assert_int_eq(t_bind(s, htonl(INADDR_ANY), 5000), 0);
	ck_assert_int_eq(nstack_setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	clock_gettime(CLOCK_MONOTONIC, &a);
	ck_assert_int_eq(t_urecv(s, buf, sizeof(buf), 0), -EAGAIN);
	clock_gettime(CLOCK_MONOTONIC, &b);
	us = (b.tv_sec - a.tv_sec) * 1000000L + (b.tv_nsec - a.tv_nsec) / 1000;
	ck_assert_int_ge(us, 19000);
	ck_assert_int_lt(us, 2000000);
	nstack_close(s);
}
END_TEST

START_TEST(test_udp_sockopts_cork_and_ip_level)
{
	struct socket *s = t_socket(SOCK_DGRAM, 0);
	int v = -1;
	unsigned char c = 0;
	socklen_t len = sizeof(v);

	ck_assert_int_eq(t_setint(s, IPPROTO_UDP, UDP_CORK_OPT, 1), 0);
	ck_assert_int_eq(nstack_getsockopt(s, IPPROTO_UDP, UDP_CORK_OPT, &v, &len), 0);
	ck_assert_int_eq(v, 1);
	ck_assert_int_eq(t_setint(s, IPPROTO_UDP, 9999, 1), -ENOPROTOOPT);
	/* IP level: TTL range, one-byte values, defaults. */
	len = sizeof(v);
	ck_assert_int_eq(nstack_getsockopt(s, IPPROTO_IP, IP_TTL, &v, &len), 0);
	ck_assert_int_eq(v, 64);
	ck_assert_int_eq(t_setint(s, IPPROTO_IP, IP_TTL, 0), -EINVAL);
	ck_assert_int_eq(t_setint(s, IPPROTO_IP, IP_TTL, 256), -EINVAL);
	ck_assert_int_eq(t_setint(s, IPPROTO_IP, IP_TTL, 17), 0);
	len = 1;
	ck_assert_int_eq(nstack_getsockopt(s, IPPROTO_IP, IP_TTL, &c, &len), 0);
	ck_assert_uint_eq(len, 1);
	ck_assert_int_eq(c, 17);
	c = 0x10;
	ck_assert_int_eq(nstack_setsockopt(s, IPPROTO_IP, IP_TOS, &c, 1), 0);
	len = sizeof(v);
	ck_assert_int_eq(nstack_getsockopt(s, IPPROTO_IP, IP_TOS, &v, &len), 0);
	ck_assert_int_eq(v, 0x10);
	len = sizeof(v);
	ck_assert_int_eq(nstack_getsockopt(s, IPPROTO_IP, IP_MTU_DISCOVER, &v, &len), 0);
	ck_assert_int_eq(v, IP_PMTUDISC_WANT);
	ck_assert_int_eq(t_setint(s, IPPROTO_IP, IP_MTU_DISCOVER, 99), -EINVAL);
	len = sizeof(v);
	ck_assert_int_eq(nstack_getsockopt(s, IPPROTO_IP, IP_MTU, &v, &len), -ENOTCONN);
	ck_assert_int_eq(t_connect(s, T_PEER_IP, 53), 0);
	len = sizeof(v);
	ck_assert_int_eq(nstack_getsockopt(s, IPPROTO_IP, IP_MTU, &v, &len), 0);
	ck_assert_int_eq(v, 1500);
	ck_assert_int_eq(t_setint(s, IPPROTO_IP, 9999, 1), -ENOPROTOOPT);
	nstack_close(s);
}
END_TEST

static Suite *udp_suite(void)
{
	Suite *s = suite_create("udp");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, t_setup, t_teardown);
	tcase_add_test(tc, test_unbound_bind_any_our_and_broadcast_addresses);
	tcase_add_test(tc, test_unbound_bind_bad_arguments_errnos);
	tcase_add_test(tc, test_bound_port_second_bind_eaddrinuse);
	tcase_add_test(tc, test_reuseaddr_needed_on_both);
	tcase_add_test(tc, test_reuseport_needed_on_both);
	tcase_add_test(tc, test_bind_port_zero_picks_ephemeral_in_range);
	tcase_add_test(tc, test_ephemeral_every_port_tried_once);
	tcase_add_test(tc, test_ephemeral_algorithm3_sequence_advances);
	tcase_add_test(tc, test_unbound_sendto_autobinds);
	tcase_add_test(tc, test_connected_disconnect_forgets_peer_and_autobound_port);
	tcase_add_test(tc, test_connect_bad_arguments_errnos);
	tcase_add_test(tc, test_unconnected_send_errnos);
	tcase_add_test(tc, test_empty_recv_dontwait_eagain);
	tcase_add_test(tc, test_empty_recv_rcvtimeo_eagain_after_timeout);
	tcase_add_test(tc, test_udp_sockopts_cork_and_ip_level);
	suite_add_tcase(s, tc);
	return s;
}

NSTACK_SUITE(udp_suite)
