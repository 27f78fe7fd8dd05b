/*
 * Packet-level tests of ICMP echo ("ping") sockets: the request sent with
 * the socket's identifier and checksum, replies matched by identifier and
 * returned whole, argument checks, ICMP errors about our requests.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "check_main.h"
#include "checksum.h"
#include "harness.h"
#include "proto/ether.h"
#include "proto/icmp.h"
#include "proto/ip.h"

static unsigned char frame[T_FRAME_MAX];
static unsigned char want[T_FRAME_MAX];
static unsigned char ipb[T_FRAME_MAX];
static unsigned char l4[T_FRAME_MAX];

static uint16_t sock_ident(struct socket *s)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	ck_assert_int_eq(nstack_getsockname(s, (struct sockaddr *)&sin, &len), 0);
	return ntohs(sin.sin_port);
}

START_TEST(test_unbound_send_echo_request_exact_frame)
{
	struct socket *s = t_socket(SOCK_DGRAM, IPPROTO_ICMP);
	unsigned char user[ICMP_HLEN + 4];
	struct icmphdr *uh = (struct icmphdr *)user;
	uint16_t ident;
	size_t n;

	memset(user, 0, sizeof(user));
	uh->type = ICMP_ECHO;
	uh->un.echo.id = htons(0xdead); /* the stack overwrites it */
	uh->un.echo.sequence = htons(1);
	memcpy(user + ICMP_HLEN, "abcd", 4);
	ck_assert_int_eq(t_send_to(s, user, sizeof(user), T_PEER_IP, 0), (ssize_t)sizeof(user));
	ident = sock_ident(s);
	ck_assert_int_ne(ident, 0);
	ck_assert_int_ne(ident, 0xdead);
	n = t_build_echo(l4, ICMP_ECHO, ident, 1, "abcd", 4);
	n = t_build_ipv4(ipb, T_LOCAL_IP, T_PEER_IP, IPPROTO_ICMP, 0, IP_DF, 64, l4, n);
	n = t_build_eth(want, t_peer_mac, t_local_mac, ETH_P_IP, ipb, n);
	t_expect_frame(want, n);
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("IcmpOutEchos"), 1);
	nstack_close(s);
}
END_TEST

START_TEST(test_bound_ident_echo_reply_returned_whole)
{
	struct socket *s = t_socket(SOCK_DGRAM, IPPROTO_ICMP);
	struct sockaddr_in me = t_sin(htonl(INADDR_ANY), 0x4242), from;
	unsigned char buf[64];
	size_t n;
	ssize_t got;

	ck_assert_int_eq(nstack_bind(s, (struct sockaddr *)&me, sizeof(me)), 0);
	ck_assert_int_eq(sock_ident(s), 0x4242);
	n = t_build_echo(l4, ICMP_ECHOREPLY, 0x4242, 7, "pong", 4);
	t_inject(frame, t_build_peer_ip(frame, IPPROTO_ICMP, 3, l4, n));
	t_expect_no_tx();
	ck_assert_uint_eq(nstack_poll(s) & POLLIN, POLLIN);
	got = t_recv_from(s, buf, sizeof(buf), &from);
	ck_assert_int_eq(got, (ssize_t)n);
	ck_assert_mem_eq(buf, l4, n);
	ck_assert_int_eq(from.sin_addr.s_addr, T_PEER_IP);
	ck_assert_int_eq(from.sin_port, 0);
	nstack_close(s);
}
END_TEST

START_TEST(test_bound_ident_other_reply_not_delivered)
{
	struct socket *s = t_socket(SOCK_DGRAM, IPPROTO_ICMP);
	struct sockaddr_in me = t_sin(htonl(INADDR_ANY), 0x4242);
	unsigned char buf[64];
	size_t n;

	ck_assert_int_eq(nstack_bind(s, (struct sockaddr *)&me, sizeof(me)), 0);
	n = t_build_echo(l4, ICMP_ECHOREPLY, 0x4243, 7, "pong", 4);
	t_inject(frame, t_build_peer_ip(frame, IPPROTO_ICMP, 3, l4, n));
	ck_assert_int_eq(t_recv_from(s, buf, sizeof(buf), NULL), -EAGAIN);
	nstack_close(s);
}
END_TEST

START_TEST(test_send_roundtrip_reply_to_sender)
{
	struct socket *s = t_socket(SOCK_DGRAM, IPPROTO_ICMP);
	unsigned char user[ICMP_HLEN + 3] = {ICMP_ECHO, 0, 0, 0, 0, 0, 0, 9, 'x', 'y', 'z'};
	unsigned char buf[64];
	size_t n;

	ck_assert_int_eq(t_send_to(s, user, sizeof(user), T_PEER_IP, 0), (ssize_t)sizeof(user));
	t_recv(frame, sizeof(frame));
	n = t_build_echo(l4, ICMP_ECHOREPLY, sock_ident(s), 9, "xyz", 3);
	t_inject(frame, t_build_peer_ip(frame, IPPROTO_ICMP, 3, l4, n));
	ck_assert_int_eq(t_recv_from(s, buf, sizeof(buf), NULL), (ssize_t)n);
	ck_assert_mem_eq(buf, l4, n);
	/* A shorter buffer truncates. */
	t_inject(frame, t_build_peer_ip(frame, IPPROTO_ICMP, 4, l4, n));
	ck_assert_int_eq(t_recv_from(s, buf, 4, NULL), 4);
	nstack_close(s);
}
END_TEST

START_TEST(test_send_bad_arguments_errnos)
{
	struct socket *s = t_socket(SOCK_DGRAM, IPPROTO_ICMP);
	unsigned char reply[ICMP_HLEN] = {ICMP_ECHOREPLY};
	unsigned char code1[ICMP_HLEN] = {ICMP_ECHO, 1};
	unsigned char ok[ICMP_HLEN] = {ICMP_ECHO};

	ck_assert_int_eq(t_send_to(s, reply, sizeof(reply), T_PEER_IP, 0), -EINVAL);
	ck_assert_int_eq(t_send_to(s, code1, sizeof(code1), T_PEER_IP, 0), -EINVAL);
	ck_assert_int_eq(t_send_to(s, ok, 7, T_PEER_IP, 0), -EINVAL);
	ck_assert_int_eq(t_send_to(s, ok, sizeof(ok), 0, 0), -EDESTADDRREQ);
	ck_assert_int_eq(t_send_to(s, ok, sizeof(ok), htonl(INADDR_BROADCAST), 0), -EACCES);
	t_expect_no_tx();
	nstack_close(s);
}
END_TEST

START_TEST(test_two_sockets_distinct_idents)
{
	struct socket *a = t_socket(SOCK_DGRAM, IPPROTO_ICMP),
		      *b = t_socket(SOCK_DGRAM, IPPROTO_ICMP);
	unsigned char ok[ICMP_HLEN] = {ICMP_ECHO};

	ck_assert_int_eq(t_send_to(a, ok, sizeof(ok), T_PEER_IP, 0), ICMP_HLEN);
	ck_assert_int_eq(t_send_to(b, ok, sizeof(ok), T_PEER_IP, 0), ICMP_HLEN);
	ck_assert_int_ne(sock_ident(a), sock_ident(b));
	t_recv(frame, sizeof(frame));
	t_recv(frame, sizeof(frame));
	nstack_close(a);
	nstack_close(b);
}
END_TEST

START_TEST(test_connected_unreachable_error_reported)
{
	struct socket *s = t_socket(SOCK_DGRAM, IPPROTO_ICMP);
	struct sockaddr_in peer = t_sin(T_PEER_IP, 0);
	unsigned char ok[ICMP_HLEN + 4] = {ICMP_ECHO, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4};
	unsigned char sent[128], buf[64];
	size_t qlen;

	ck_assert_int_eq(nstack_connect(s, (struct sockaddr *)&peer, sizeof(peer)), 0);
	ck_assert_int_eq(t_send_to(s, ok, sizeof(ok), 0, 0), (ssize_t)sizeof(ok));
	t_recv(sent, sizeof(sent));
	/* Protocol unreachable is a hard error: ENOPROTOOPT, as Linux maps it. */
	qlen = IP_HLEN_MIN + 8;
	t_inject(frame, t_build_peer_icmp_error(frame, sent, ICMP_DEST_UNREACH, ICMP_PROT_UNREACH,
						qlen, 5));
	ck_assert_uint_eq(nstack_poll(s) & POLLERR, POLLERR);
	ck_assert_int_eq(t_recv_from(s, buf, sizeof(buf), NULL), -ENOPROTOOPT);
	ck_assert_int_eq(t_recv_from(s, buf, sizeof(buf), NULL), -EAGAIN);
	nstack_close(s);
}
END_TEST

START_TEST(test_bind_errnos)
{
	struct socket *a = t_socket(SOCK_DGRAM, IPPROTO_ICMP),
		      *b = t_socket(SOCK_DGRAM, IPPROTO_ICMP);
	struct sockaddr_in me = t_sin(T_LOCAL_IP, 77);
	struct sockaddr_in bad = t_sin(T_IP(198, 18, 0, 99), 77);
	struct sockaddr_in bc = t_sin(htonl(INADDR_BROADCAST), 77);

	ck_assert_int_eq(nstack_bind(a, (struct sockaddr *)&bad, sizeof(bad)), -EADDRNOTAVAIL);
	ck_assert_int_eq(nstack_bind(a, (struct sockaddr *)&bc, sizeof(bc)), -EADDRNOTAVAIL);
	ck_assert_int_eq(nstack_bind(a, (struct sockaddr *)&me, sizeof(me) - 1), -EINVAL);
	ck_assert_int_eq(nstack_bind(a, (struct sockaddr *)&me, sizeof(me)), 0);
	ck_assert_int_eq(nstack_bind(a, (struct sockaddr *)&me, sizeof(me)), -EINVAL);
	/* Ping sockets may share an identifier (Linux creates them with SO_REUSEADDR). */
	ck_assert_int_eq(nstack_bind(b, (struct sockaddr *)&me, sizeof(me)), 0);
	nstack_close(a);
	nstack_close(b);
}
END_TEST

START_TEST(test_recverr_unreachable_in_error_queue)
{
	struct socket *s = t_socket(SOCK_DGRAM, IPPROTO_ICMP);
	unsigned char ok[ICMP_HLEN + 4] = {ICMP_ECHO, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4};
	unsigned char sent[128], buf[64];
	_Alignas(struct cmsghdr) unsigned char ctl[256];
	struct sockaddr_in from;
	struct iovec iov = {buf, sizeof(buf)};
	struct msghdr m = {.msg_name = &from,
			   .msg_namelen = sizeof(from),
			   .msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = ctl,
			   .msg_controllen = sizeof(ctl)};
	struct sock_extended_err ee;
	struct cmsghdr *c;
	size_t qlen;
	int on = 1;

	ck_assert_int_eq(nstack_setsockopt(s, IPPROTO_IP, IP_RECVERR, &on, sizeof(on)), 0);
	ck_assert_int_eq(t_send_to(s, ok, sizeof(ok), T_PEER_IP, 0), (ssize_t)sizeof(ok));
	t_recv(sent, sizeof(sent));
	qlen = IP_HLEN_MIN + sizeof(ok);
	t_inject(frame, t_build_peer_icmp_error(frame, sent, ICMP_DEST_UNREACH, ICMP_HOST_UNREACH,
						qlen, 5));
	ck_assert_int_eq(nstack_recvmsg(s, &m, MSG_ERRQUEUE | MSG_DONTWAIT), (ssize_t)sizeof(ok));
	/* The quoted echo request, as sent (identifier and checksum filled in). */
	ck_assert_mem_eq(buf, sent + ETH_HLEN + IP_HLEN_MIN, sizeof(ok));
	ck_assert_int_eq(from.sin_addr.s_addr, T_PEER_IP);
	c = CMSG_FIRSTHDR(&m);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(c->cmsg_level, IPPROTO_IP);
	ck_assert_int_eq(c->cmsg_type, IP_RECVERR);
	memcpy(&ee, CMSG_DATA(c), sizeof(ee));
	ck_assert_uint_eq(ee.ee_errno, EHOSTUNREACH);
	ck_assert_uint_eq(ee.ee_origin, SO_EE_ORIGIN_ICMP);
	ck_assert_uint_eq(ee.ee_type, ICMP_DEST_UNREACH);
	ck_assert_uint_eq(ee.ee_code, ICMP_HOST_UNREACH);
	nstack_close(s);
}
END_TEST

static Suite *ping_wire_suite(void)
{
	Suite *s = suite_create("ping_wire");
	TCase *tc = tcase_create("wire");

	tcase_add_checked_fixture(tc, t_setup, t_teardown);
	tcase_add_test(tc, test_unbound_send_echo_request_exact_frame);
	tcase_add_test(tc, test_bound_ident_echo_reply_returned_whole);
	tcase_add_test(tc, test_bound_ident_other_reply_not_delivered);
	tcase_add_test(tc, test_send_roundtrip_reply_to_sender);
	tcase_add_test(tc, test_send_bad_arguments_errnos);
	tcase_add_test(tc, test_two_sockets_distinct_idents);
	tcase_add_test(tc, test_connected_unreachable_error_reported);
	tcase_add_test(tc, test_bind_errnos);
	tcase_add_test(tc, test_recverr_unreachable_in_error_queue);
	suite_add_tcase(s, tc);
	return s;
}

NSTACK_SUITE(ping_wire_suite)
