/*
 * Unit tests for the neighbour table: entries added and looked up, output
 * through a known entry, input validation on an skb handed straight to
 * arp_rcv(), and the randomised reachable time.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <string.h>

#include "arp.h"
#include "check_main.h"
#include "proto/arp.h"
#include "proto/ether.h"
#include "proto/ip.h"
#include "stack.h"
#include "wire/harness.h"

#define HOST_IP T_IP(198, 18, 0, 20)

static const uint8_t host_mac[6] = {0x02, 0, 0, 0, 0, 0x20};
static const uint8_t zero_mac[6];

static void setup(void)
{
	t_setup();
}

static void teardown(void)
{
	t_teardown();
}

START_TEST(test_empty_lookup_returns_none)
{
	uint8_t mac[6] = {1, 2, 3, 4, 5, 6};

	ck_assert_int_eq(neigh_lookup_state(T.ns, HOST_IP, mac), NUD_NONE);
	ck_assert_uint_eq(mac[0], 1); /* untouched */
}
END_TEST

START_TEST(test_permanent_added_then_found_and_replaced)
{
	const uint8_t other[6] = {0x02, 0, 0, 0, 0, 0x21};
	uint8_t mac[6];

	ck_assert_int_eq(neigh_add_permanent(T.ns, HOST_IP, host_mac), 0);
	ck_assert_int_eq(neigh_lookup_state(T.ns, HOST_IP, mac), NUD_PERMANENT);
	ck_assert_mem_eq(mac, host_mac, 6);
	ck_assert_int_eq(neigh_add_permanent(T.ns, HOST_IP, other), 0);
	ck_assert_int_eq(neigh_lookup_state(T.ns, HOST_IP, mac), NUD_PERMANENT);
	ck_assert_mem_eq(mac, other, 6);
	ck_assert_int_eq(neigh_lookup_state(T.ns, T_PEER_IP, mac), NUD_PERMANENT);
	ck_assert_mem_eq(mac, t_peer_mac, 6);
}
END_TEST

START_TEST(test_permanent_output_sends_at_once)
{
	unsigned char got[64];
	struct sk_buff *skb;
	size_t n;

	ck_assert_int_eq(neigh_add_permanent(T.ns, HOST_IP, host_mac), 0);
	skb = alloc_skb_hdr(T.ns, 20);
	memset(skb_put(skb, 20), 0x45, 20);
	ck_assert_int_eq(neigh_output(T.ns, skb, HOST_IP), 0);
	n = t_recv(got, sizeof(got));
	ck_assert_uint_eq(n, 60);
	ck_assert_mem_eq(got, host_mac, 6);
	ck_assert_mem_eq(got + 6, t_local_mac, 6);
	ck_assert_uint_eq(got[12], 0x08);
	ck_assert_uint_eq(got[13], 0x00);
	ck_assert_uint_eq(got[14], 0x45);
	t_expect_no_tx();
}
END_TEST

START_TEST(test_permanent_added_while_incomplete_flushes_queue)
{
	unsigned char got[64];
	struct sk_buff *skb = alloc_skb_hdr(T.ns, 20);

	memset(skb_put(skb, 20), 0x45, 20);
	ck_assert_int_eq(neigh_output(T.ns, skb, HOST_IP), 0);
	ck_assert_uint_eq(t_recv(got, sizeof(got)), 60); /* the request */
	ck_assert_uint_eq(got[13], 0x06);
	ck_assert_int_eq(neigh_add_permanent(T.ns, HOST_IP, host_mac), 0);
	ck_assert_uint_eq(t_recv(got, sizeof(got)), 60);
	ck_assert_mem_eq(got, host_mac, 6);
	t_clock_advance(10 * NEIGH_RETRANS_US);
	t_expect_no_tx(); /* no retransmissions for a permanent entry */
}
END_TEST

/* Calls arp_rcv() directly with len bytes of an ARP body. */
static int rcv(const void *arp, size_t len, uint8_t pkt_type)
{
	struct sk_buff *skb = alloc_skb(T.ns, (unsigned int)len + 16);

	skb_reserve(skb, 16);
	memcpy(skb_put(skb, (unsigned int)len), arp, len);
	skb->pkt_type = pkt_type;
	skb->protocol = ETH_P_ARP;
	skb_reset_network_header(skb);
	return arp_rcv(skb, ns_dev(T.ns));
}

START_TEST(test_rcv_short_or_foreign_counted_as_errors)
{
	unsigned char a[ARP_HLEN];

	t_build_arp(a, ARPOP_REQUEST, host_mac, HOST_IP, zero_mac, T_LOCAL_IP);
	ck_assert_int_eq(rcv(a, 0, PACKET_BROADCAST), -EINVAL);
	ck_assert_int_eq(rcv(a, ARP_HLEN - 1, PACKET_BROADCAST), -EINVAL);
	a[4] = 8; /* hln */
	ck_assert_int_eq(rcv(a, ARP_HLEN, PACKET_BROADCAST), -EINVAL);
	ck_assert_uint_eq(t_stat("ArpInErrors"), 3);
	t_expect_no_tx();
}
END_TEST

START_TEST(test_rcv_multicast_target_or_source_ignored)
{
	unsigned char a[ARP_HLEN];

	t_build_arp(a, ARPOP_REQUEST, host_mac, T_IP(224, 0, 0, 1), zero_mac, T_LOCAL_IP);
	ck_assert_int_eq(rcv(a, ARP_HLEN, PACKET_BROADCAST), -EINVAL);
	t_build_arp(a, ARPOP_REQUEST, host_mac, HOST_IP, zero_mac, T_IP(127, 0, 0, 1));
	ck_assert_int_eq(rcv(a, ARP_HLEN, PACKET_BROADCAST), -EINVAL);
	ck_assert_int_eq(neigh_lookup_state(T.ns, T_IP(224, 0, 0, 1), NULL), NUD_NONE);
	t_expect_no_tx();
}
END_TEST

START_TEST(test_rcv_request_longer_than_28_bytes_accepted)
{
	unsigned char a[46] = {0};
	unsigned char got[64];

	/* Ethernet padding follows the ARP body; it is not an error. */
	t_build_arp(a, ARPOP_REQUEST, host_mac, HOST_IP, zero_mac, T_LOCAL_IP);
	ck_assert_int_eq(rcv(a, sizeof(a), PACKET_BROADCAST), 0);
	ck_assert_uint_eq(t_recv(got, sizeof(got)), 60);
	ck_assert_int_eq(neigh_lookup_state(T.ns, HOST_IP, NULL), NUD_STALE);
}
END_TEST

/* Seconds until a fresh REACHABLE entry turns STALE under a given seed. */
static unsigned int reachable_seconds(uint32_t seed)
{
	const struct t_opts o = {.seed = seed};
	unsigned char a[ARP_HLEN], f[64];
	struct sk_buff *skb;
	unsigned int s;

	t_teardown();
	t_setup_opts(&o);
	nstack_lock(T.ns);
	skb = alloc_skb_hdr(T.ns, 20);
	memset(skb_put(skb, 20), 0x45, 20);
	ck_assert_int_eq(neigh_output(T.ns, skb, HOST_IP), 0);
	nstack_unlock(T.ns);
	t_recv(f, sizeof(f));
	t_build_arp(a, ARPOP_REPLY, host_mac, HOST_IP, t_local_mac, T_LOCAL_IP);
	t_inject(f, t_build_eth(f, t_local_mac, host_mac, ETH_P_ARP, a, sizeof(a)));
	t_recv(f, sizeof(f));
	for (s = 0; s < 100; s++) {
		enum neigh_state st;

		nstack_lock(T.ns);
		st = neigh_lookup_state(T.ns, HOST_IP, NULL);
		nstack_unlock(T.ns);
		if (st != NUD_REACHABLE)
			break;
		t_clock_advance(1000 * 1000);
	}
	return s;
}

START_TEST(test_reachable_time_random_within_linux_bounds)
{
	unsigned int lo = 1000, hi = 0;

	for (uint32_t seed = 1; seed <= 8; seed++) {
		unsigned int s = reachable_seconds(seed * 2654435761u);

		ck_assert_uint_ge(s, NEIGH_BASE_REACHABLE_US / 2 / 1000000);
		ck_assert_uint_le(s, NEIGH_BASE_REACHABLE_US * 3 / 2 / 1000000);
		if (s < lo)
			lo = s;
		if (s > hi)
			hi = s;
	}
	ck_assert_uint_gt(hi, lo); /* really drawn, not fixed */
}
END_TEST

static Suite *arp_suite(void)
{
	Suite *s = suite_create("arp");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_empty_lookup_returns_none);
	tcase_add_test(tc, test_permanent_added_then_found_and_replaced);
	tcase_add_test(tc, test_permanent_output_sends_at_once);
	tcase_add_test(tc, test_permanent_added_while_incomplete_flushes_queue);
	tcase_add_test(tc, test_rcv_short_or_foreign_counted_as_errors);
	tcase_add_test(tc, test_rcv_multicast_target_or_source_ignored);
	tcase_add_test(tc, test_rcv_request_longer_than_28_bytes_accepted);
	tcase_add_test(tc, test_reachable_time_random_within_linux_bounds);
	suite_add_tcase(s, tc);
	return s;
}

NSTACK_SUITE(arp_suite)
