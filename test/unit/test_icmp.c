/*
 * Unit tests for ICMP: the error-to-errno table, and icmp_send() called
 * directly on crafted packets to check when it must stay silent and how it
 * fills the header.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <string.h>

#include "check_main.h"
#include "checksum.h"
#include "icmp.h"
#include "arp.h"
#include "proto/ether.h"
#include "proto/icmp.h"
#include "proto/ip.h"
#include "stack.h"
#include "wire/harness.h"

#define TEST_PROTO 253

static unsigned char got[T_FRAME_MAX];

static void setup(void)
{
	t_setup();
}

static void teardown(void)
{
	t_teardown();
}

START_TEST(test_err_convert_matches_linux_table)
{
	static const struct {
		int type, code, err, fatal;
	} cases[] = {
	    {ICMP_DEST_UNREACH, ICMP_NET_UNREACH, ENETUNREACH, 0},
	    {ICMP_DEST_UNREACH, ICMP_HOST_UNREACH, EHOSTUNREACH, 0},
	    {ICMP_DEST_UNREACH, ICMP_PROT_UNREACH, ENOPROTOOPT, 1},
	    {ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, ECONNREFUSED, 1},
	    {ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, EMSGSIZE, 0},
	    {ICMP_DEST_UNREACH, 5, EOPNOTSUPP, 0},
	    {ICMP_DEST_UNREACH, 6, ENETUNREACH, 1},
	    {ICMP_DEST_UNREACH, 7, EHOSTDOWN, 1},
	    {ICMP_DEST_UNREACH, 8, ENONET, 1},
	    {ICMP_DEST_UNREACH, 9, ENETUNREACH, 1},
	    {ICMP_DEST_UNREACH, 10, EHOSTUNREACH, 1},
	    {ICMP_DEST_UNREACH, 11, ENETUNREACH, 0},
	    {ICMP_DEST_UNREACH, 12, EHOSTUNREACH, 0},
	    {ICMP_DEST_UNREACH, 13, EHOSTUNREACH, 1},
	    {ICMP_DEST_UNREACH, 14, EHOSTUNREACH, 1},
	    {ICMP_DEST_UNREACH, 15, EHOSTUNREACH, 1},
	    {ICMP_DEST_UNREACH, 99, EHOSTUNREACH, 0},
	    {ICMP_TIME_EXCEEDED, ICMP_EXC_TTL, EHOSTUNREACH, 0},
	    {ICMP_TIME_EXCEEDED, ICMP_EXC_FRAGTIME, EHOSTUNREACH, 0},
	    {ICMP_PARAMETERPROB, 0, EPROTO, 1},
	    {ICMP_SOURCE_QUENCH, 0, 0, 0},
	};

	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int fatal = -1;

		ck_assert_msg(icmp_err_convert(cases[i].type, cases[i].code, &fatal) ==
				  cases[i].err,
			      "type %d code %d", cases[i].type, cases[i].code);
		ck_assert_msg(fatal == cases[i].fatal, "fatal for type %d code %d", cases[i].type,
			      cases[i].code);
	}
}
END_TEST

/* A received packet as the transport sees it: data past the IP header. */
static struct sk_buff *rx_skb(uint32_t src, uint32_t dst, uint8_t proto, uint16_t frag_off,
			      const void *payload, size_t plen, uint8_t pkt_type)
{
	struct sk_buff *skb = alloc_skb_hdr(T.ns, (unsigned int)(IP_HLEN_MIN + plen));

	t_build_ipv4(skb_put(skb, (unsigned int)(IP_HLEN_MIN + plen)), src, dst, proto, 0x77,
		     frag_off, 64, payload, plen);
	skb->pkt_type = pkt_type;
	skb_reset_network_header(skb);
	skb_pull(skb, IP_HLEN_MIN);
	skb_reset_transport_header(skb);
	return skb;
}

/* Runs icmp_send on a crafted packet; true if a frame went out. */
static bool sends(uint32_t src, uint32_t dst, uint8_t proto, uint16_t frag_off, const void *payload,
		  size_t plen, uint8_t pkt_type, int type, int code)
{
	struct sk_buff *skb = rx_skb(src, dst, proto, frag_off, payload, plen, pkt_type);
	size_t len;

	icmp_send(skb, type, code, 0);
	kfree_skb(skb);
	return t_try_recv(got, sizeof(got), &len);
}

START_TEST(test_send_ordinary_packet_answered)
{
	ck_assert(sends(T_PEER_IP, T_LOCAL_IP, TEST_PROTO, 0, "12345678", 8, PACKET_HOST,
			ICMP_DEST_UNREACH, ICMP_PORT_UNREACH));
	ck_assert_uint_eq(t_stat("IcmpOutMsgs"), 1);
}
END_TEST

START_TEST(test_send_not_about_group_or_bad_addresses)
{
	/* Destination broadcast or multicast, or a link-layer broadcast. */
	ck_assert(!sends(T_PEER_IP, T_IP(255, 255, 255, 255), TEST_PROTO, 0, "x", 1, PACKET_HOST,
			 ICMP_DEST_UNREACH, 3));
	ck_assert(!sends(T_PEER_IP, T_IP(198, 18, 0, 255), TEST_PROTO, 0, "x", 1, PACKET_HOST,
			 ICMP_DEST_UNREACH, 3));
	ck_assert(!sends(T_PEER_IP, T_IP(224, 0, 0, 1), TEST_PROTO, 0, "x", 1, PACKET_HOST,
			 ICMP_DEST_UNREACH, 3));
	ck_assert(!sends(T_PEER_IP, T_LOCAL_IP, TEST_PROTO, 0, "x", 1, PACKET_BROADCAST,
			 ICMP_DEST_UNREACH, 3));
	ck_assert(!sends(T_PEER_IP, T_LOCAL_IP, TEST_PROTO, 0, "x", 1, PACKET_MULTICAST,
			 ICMP_DEST_UNREACH, 3));
	/* A source that is no single host. */
	ck_assert(!sends(T_IP(224, 1, 1, 1), T_LOCAL_IP, TEST_PROTO, 0, "x", 1, PACKET_HOST,
			 ICMP_DEST_UNREACH, 3));
	ck_assert(!sends(0, T_LOCAL_IP, TEST_PROTO, 0, "x", 1, PACKET_HOST, ICMP_DEST_UNREACH, 3));
	ck_assert(!sends(T_IP(198, 18, 0, 255), T_LOCAL_IP, TEST_PROTO, 0, "x", 1, PACKET_HOST,
			 ICMP_DEST_UNREACH, 3));
	ck_assert(!sends(T_IP(127, 0, 0, 1), T_LOCAL_IP, TEST_PROTO, 0, "x", 1, PACKET_HOST,
			 ICMP_DEST_UNREACH, 3));
	ck_assert_uint_eq(t_stat("IcmpOutMsgs"), 0);
}
END_TEST

START_TEST(test_send_not_about_later_fragment)
{
	ck_assert(!sends(T_PEER_IP, T_LOCAL_IP, TEST_PROTO, 185, "x", 1, PACKET_HOST,
			 ICMP_DEST_UNREACH, 3));
	/* The first fragment (offset 0, MF) is fine. */
	ck_assert(sends(T_PEER_IP, T_LOCAL_IP, TEST_PROTO, IP_MF, "x", 1, PACKET_HOST,
			ICMP_DEST_UNREACH, 3));
}
END_TEST

START_TEST(test_send_not_about_icmp_error_but_about_query)
{
	unsigned char err[8] = {ICMP_DEST_UNREACH, 3, 0, 0};
	unsigned char tex[8] = {ICMP_TIME_EXCEEDED, 0, 0, 0};
	unsigned char echo[8] = {ICMP_ECHO, 0, 0, 0};
	unsigned char bogus[8] = {200, 0, 0, 0};

	ck_assert(!sends(T_PEER_IP, T_LOCAL_IP, IPPROTO_ICMP, 0, err, 8, PACKET_HOST,
			 ICMP_DEST_UNREACH, 3));
	ck_assert(!sends(T_PEER_IP, T_LOCAL_IP, IPPROTO_ICMP, 0, tex, 8, PACKET_HOST,
			 ICMP_PARAMETERPROB, 0));
	ck_assert(!sends(T_PEER_IP, T_LOCAL_IP, IPPROTO_ICMP, 0, bogus, 8, PACKET_HOST,
			 ICMP_DEST_UNREACH, 3));
	ck_assert(sends(T_PEER_IP, T_LOCAL_IP, IPPROTO_ICMP, 0, echo, 8, PACKET_HOST,
			ICMP_DEST_UNREACH, 3));
}
END_TEST

START_TEST(test_send_fills_mtu_and_pointer_fields)
{
	const struct icmphdr *ih = (const struct icmphdr *)(got + ETH_HLEN + IP_HLEN_MIN);
	struct sk_buff *skb =
	    rx_skb(T_PEER_IP, T_LOCAL_IP, TEST_PROTO, 0, "12345678", 8, PACKET_HOST);
	size_t len;

	icmp_send(skb, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, 1280);
	ck_assert(t_try_recv(got, sizeof(got), &len));
	ck_assert_uint_eq(ih->type, ICMP_DEST_UNREACH);
	ck_assert_uint_eq(ih->code, ICMP_FRAG_NEEDED);
	ck_assert_uint_eq(ih->un.frag.unused, 0);
	ck_assert_uint_eq(ntohs(ih->un.frag.mtu), 1280);
	ck_assert_uint_eq(csum_fold(csum_partial(ih, len - ETH_HLEN - IP_HLEN_MIN, 0)), 0);
	icmp_send(skb, ICMP_PARAMETERPROB, 0, 9);
	ck_assert(t_try_recv(got, sizeof(got), &len));
	ck_assert_uint_eq(ih->type, ICMP_PARAMETERPROB);
	ck_assert_uint_eq(got[ETH_HLEN + IP_HLEN_MIN + 4], 9);
	ck_assert_uint_eq(got[ETH_HLEN + IP_HLEN_MIN + 5], 0);
	kfree_skb(skb);
}
END_TEST

START_TEST(test_send_frag_needed_never_rate_limited)
{
	struct sk_buff *skb =
	    rx_skb(T_PEER_IP, T_LOCAL_IP, TEST_PROTO, 0, "12345678", 8, PACKET_HOST);
	size_t len;

	for (int i = 0; i < 3 * ICMP_RATE_BURST; i++) {
		icmp_send(skb, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, 1400);
		ck_assert(t_try_recv(got, sizeof(got), &len));
	}
	/* Port unreachables have their own budget: the burst, then silence. */
	for (int i = 0; i < ICMP_RATE_BURST; i++) {
		icmp_send(skb, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0);
		ck_assert(t_try_recv(got, sizeof(got), &len));
	}
	icmp_send(skb, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0);
	t_expect_no_tx();
	/* Another destination has its own bucket. */
	kfree_skb(skb);
	skb = rx_skb(T_IP(198, 18, 0, 30), T_LOCAL_IP, TEST_PROTO, 0, "12345678", 8, PACKET_HOST);
	nstack_lock(T.ns);
	ck_assert_int_eq(neigh_add_permanent(T.ns, T_IP(198, 18, 0, 30), t_peer_mac), 0);
	nstack_unlock(T.ns);
	icmp_send(skb, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0);
	ck_assert(t_try_recv(got, sizeof(got), &len));
	kfree_skb(skb);
}
END_TEST

START_TEST(test_send_quote_limited_by_small_mtu)
{
	const struct t_opts o = {.mtu = 400};
	static unsigned char payload[600];
	struct sk_buff *skb;
	size_t len;

	t_teardown();
	t_setup_opts(&o);
	skb = rx_skb(T_PEER_IP, T_LOCAL_IP, TEST_PROTO, 0, payload, sizeof(payload), PACKET_HOST);
	icmp_send(skb, ICMP_DEST_UNREACH, ICMP_PROT_UNREACH, 0);
	kfree_skb(skb);
	ck_assert(t_try_recv(got, sizeof(got), &len));
	/* One unfragmented packet of exactly the MTU. */
	ck_assert_uint_eq(len, ETH_HLEN + 400);
	ck_assert_uint_eq(got[ETH_HLEN + 6] & 0x3f, 0); /* no MF, offset 0 */
	t_expect_no_tx();
}
END_TEST

static Suite *icmp_suite(void)
{
	Suite *s = suite_create("icmp");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_err_convert_matches_linux_table);
	tcase_add_test(tc, test_send_ordinary_packet_answered);
	tcase_add_test(tc, test_send_not_about_group_or_bad_addresses);
	tcase_add_test(tc, test_send_not_about_later_fragment);
	tcase_add_test(tc, test_send_not_about_icmp_error_but_about_query);
	tcase_add_test(tc, test_send_fills_mtu_and_pointer_fields);
	tcase_add_test(tc, test_send_frag_needed_never_rate_limited);
	tcase_add_test(tc, test_send_quote_limited_by_small_mtu);
	suite_add_tcase(s, tc);
	return s;
}

NSTACK_SUITE(icmp_suite)
