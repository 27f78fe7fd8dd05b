/*
 * Packet-level tests of raw IPv4 sockets: copies of matching packets with
 * their IP header, ICMP_FILTER, sending with a stack-built header and with
 * IP_HDRINCL/IPPROTO_RAW.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
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

#define SOL_RAW_LEVEL	255
#define ICMP_FILTER_OPT 1
#define TEST_PROTO	253

static unsigned char frame[T_FRAME_MAX];
static unsigned char want[T_FRAME_MAX];
static unsigned char ipb[T_FRAME_MAX];
static unsigned char l4[T_FRAME_MAX];

START_TEST(test_icmp_raw_sees_echo_request_with_ip_header)
{
	struct socket *s = t_socket(SOCK_RAW, IPPROTO_ICMP);
	struct sockaddr_in from;
	unsigned char buf[256];
	size_t n = t_build_echo(l4, ICMP_ECHO, 1, 1, "data", 4);

	t_inject(frame, t_build_peer_ip(frame, IPPROTO_ICMP, 0x3333, l4, n));
	/* The stack still answers the echo itself. */
	t_recv(want, sizeof(want));
	ck_assert_int_eq(t_recv_from(s, buf, sizeof(buf), &from), (ssize_t)(IP_HLEN_MIN + n));
	ck_assert_mem_eq(buf, frame + ETH_HLEN, IP_HLEN_MIN + n);
	ck_assert_int_eq(from.sin_addr.s_addr, T_PEER_IP);
	ck_assert_uint_eq(t_stat("RawInDatagrams"), 1);
	ck_assert_int_eq(t_recv_from(s, buf, sizeof(buf), NULL), -EAGAIN);
	nstack_close(s);
}
END_TEST

START_TEST(test_icmp_filter_drops_filtered_types)
{
	struct socket *s = t_socket(SOCK_RAW, IPPROTO_ICMP);
	uint32_t filt = 1u << ICMP_ECHO, got = 0;
	socklen_t len = sizeof(got);
	unsigned char buf[256];
	size_t n;

	ck_assert_int_eq(nstack_setsockopt(s, SOL_RAW_LEVEL, ICMP_FILTER_OPT, &filt, sizeof(filt)),
			 0);
	ck_assert_int_eq(nstack_getsockopt(s, SOL_RAW_LEVEL, ICMP_FILTER_OPT, &got, &len), 0);
	ck_assert_uint_eq(got, filt);
	n = t_build_echo(l4, ICMP_ECHO, 1, 1, "data", 4);
	t_inject(frame, t_build_peer_ip(frame, IPPROTO_ICMP, 1, l4, n));
	t_recv(want, sizeof(want));
	ck_assert_int_eq(t_recv_from(s, buf, sizeof(buf), NULL), -EAGAIN);
	n = t_build_echo(l4, ICMP_ECHOREPLY, 1, 1, "data", 4);
	t_inject(frame, t_build_peer_ip(frame, IPPROTO_ICMP, 2, l4, n));
	ck_assert_int_eq(t_recv_from(s, buf, sizeof(buf), NULL), (ssize_t)(IP_HLEN_MIN + n));
	nstack_close(s);
}
END_TEST

START_TEST(test_icmp_filter_only_on_icmp_sockets)
{
	struct socket *s = t_socket(SOCK_RAW, TEST_PROTO);
	uint32_t filt = 1;

	ck_assert_int_eq(nstack_setsockopt(s, SOL_RAW_LEVEL, ICMP_FILTER_OPT, &filt, sizeof(filt)),
			 -EOPNOTSUPP);
	ck_assert_int_eq(nstack_setsockopt(s, SOL_RAW_LEVEL, 99, &filt, sizeof(filt)),
			 -ENOPROTOOPT);
	nstack_close(s);
}
END_TEST

START_TEST(test_proto_raw_receives_only_its_protocol)
{
	struct socket *s = t_socket(SOCK_RAW, TEST_PROTO), *udp = t_socket(SOCK_RAW, IPPROTO_UDP);
	unsigned char buf[256];

	t_inject(frame, t_build_peer_ip(frame, TEST_PROTO, 9, "hello", 5));
	/* A raw socket took it: no protocol unreachable. */
	t_expect_no_tx();
	ck_assert_int_eq(t_recv_from(s, buf, sizeof(buf), NULL), IP_HLEN_MIN + 5);
	ck_assert_mem_eq(buf + IP_HLEN_MIN, "hello", 5);
	ck_assert_int_eq(t_recv_from(udp, buf, sizeof(buf), NULL), -EAGAIN);
	nstack_close(s);
	nstack_close(udp);
}
END_TEST

START_TEST(test_raw_send_stack_builds_header)
{
	struct socket *s = t_socket(SOCK_RAW, TEST_PROTO);
	size_t n;

	ck_assert_int_eq(t_send_to(s, "payload", 7, T_PEER_IP, 0), 7);
	n = t_build_ipv4(ipb, T_LOCAL_IP, T_PEER_IP, TEST_PROTO, 0, IP_DF, 64, "payload", 7);
	n = t_build_eth(want, t_peer_mac, t_local_mac, ETH_P_IP, ipb, n);
	t_expect_frame(want, n);
	ck_assert_uint_eq(t_stat("RawOutDatagrams"), 1);
	nstack_close(s);
}
END_TEST

START_TEST(test_hdrincl_send_fills_len_checksum_and_source)
{
	struct socket *s = t_socket(SOCK_RAW, IPPROTO_RAW);
	unsigned char pkt[IP_HLEN_MIN + 4];
	struct iphdr *iph = (struct iphdr *)pkt;
	size_t n;

	memset(pkt, 0, sizeof(pkt));
	iph->ver_ihl = 0x45;
	iph->id = htons(0x1234);
	iph->ttl = 33;
	iph->protocol = TEST_PROTO;
	iph->daddr = T_PEER_IP;
	memcpy(pkt + IP_HLEN_MIN, "abcd", 4);
	ck_assert_int_eq(t_send_to(s, pkt, sizeof(pkt), T_PEER_IP, 0), (ssize_t)sizeof(pkt));
	n = t_build_ipv4(ipb, T_LOCAL_IP, T_PEER_IP, TEST_PROTO, 0x1234, 0, 33, "abcd", 4);
	n = t_build_eth(want, t_peer_mac, t_local_mac, ETH_P_IP, ipb, n);
	t_expect_frame(want, n);
	/* Too short for an IP header. */
	ck_assert_int_eq(t_send_to(s, pkt, 10, T_PEER_IP, 0), -EINVAL);
	t_expect_no_tx();
	nstack_close(s);
}
END_TEST

START_TEST(test_raw_errnos)
{
	struct socket *s = t_socket(SOCK_RAW, TEST_PROTO);
	struct iovec iov = {"x", 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};

	ck_assert_int_eq(nstack_sendmsg(s, &m, 0), -EDESTADDRREQ);
	ck_assert_int_eq(t_send_to(s, "x", 1, htonl(INADDR_BROADCAST), 0), -EACCES);
	ck_assert_int_eq(nstack_recvmsg(s, &m, MSG_OOB), -EOPNOTSUPP);
	t_expect_no_tx();
	nstack_close(s);
}
END_TEST

START_TEST(test_connected_raw_filters_by_peer)
{
	struct socket *s = t_socket(SOCK_RAW, TEST_PROTO);
	struct sockaddr_in other = {.sin_family = AF_INET, .sin_addr.s_addr = T_OTHER_IP};
	unsigned char buf[64];

	ck_assert_int_eq(nstack_connect(s, (struct sockaddr *)&other, sizeof(other)), 0);
	t_inject(frame, t_build_peer_ip(frame, TEST_PROTO, 9, "hello", 5));
	ck_assert_int_eq(t_recv_from(s, buf, sizeof(buf), NULL), -EAGAIN);
	/* No raw socket took it: the IP layer answers protocol unreachable. */
	t_recv(want, sizeof(want));
	ck_assert_int_eq(want[ETH_HLEN + IP_HLEN_MIN], ICMP_DEST_UNREACH);
	ck_assert_int_eq(want[ETH_HLEN + IP_HLEN_MIN + 1], ICMP_PROT_UNREACH);
	nstack_close(s);
}
END_TEST

START_TEST(test_connected_raw_protocol_unreachable_reported)
{
	struct socket *s = t_socket(SOCK_RAW, TEST_PROTO);
	struct sockaddr_in peer = {.sin_family = AF_INET, .sin_addr.s_addr = T_PEER_IP};
	struct iovec iov = {"probe-12", 8};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	unsigned char sent[128], buf[64];
	size_t qlen = IP_HLEN_MIN + 8; /* the IP header and 8 bytes: the least ICMP quotes */

	ck_assert_int_eq(nstack_connect(s, (struct sockaddr *)&peer, sizeof(peer)), 0);
	ck_assert_int_eq(nstack_sendmsg(s, &m, 0), 8);
	t_recv(sent, sizeof(sent));
	t_inject(frame, t_build_peer_icmp_error(frame, sent, ICMP_DEST_UNREACH, ICMP_PROT_UNREACH,
						qlen, 5));
	ck_assert_uint_eq(nstack_poll(s) & POLLERR, POLLERR);
	ck_assert_int_eq(t_recv_from(s, buf, sizeof(buf), NULL), -ENOPROTOOPT);
	ck_assert_int_eq(t_recv_from(s, buf, sizeof(buf), NULL), -EAGAIN);
	nstack_close(s);
}
END_TEST

static Suite *raw_wire_suite(void)
{
	Suite *s = suite_create("raw_wire");
	TCase *tc = tcase_create("wire");

	tcase_add_checked_fixture(tc, t_setup, t_teardown);
	tcase_add_test(tc, test_icmp_raw_sees_echo_request_with_ip_header);
	tcase_add_test(tc, test_icmp_filter_drops_filtered_types);
	tcase_add_test(tc, test_icmp_filter_only_on_icmp_sockets);
	tcase_add_test(tc, test_proto_raw_receives_only_its_protocol);
	tcase_add_test(tc, test_raw_send_stack_builds_header);
	tcase_add_test(tc, test_hdrincl_send_fills_len_checksum_and_source);
	tcase_add_test(tc, test_raw_errnos);
	tcase_add_test(tc, test_connected_raw_filters_by_peer);
	tcase_add_test(tc, test_connected_raw_protocol_unreachable_reported);
	suite_add_tcase(s, tc);
	return s;
}

NSTACK_SUITE(raw_wire_suite)
