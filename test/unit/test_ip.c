/*
 * Unit tests for IPv4: routing decisions, the ID counter, raw sends, and
 * reassembly called directly (ip_defrag) for the orderings, duplicates,
 * overlaps, limits and the timeout.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <string.h>

#include "check_main.h"
#include "checksum.h"
#include "wire/harness.h"
#include "inet.h"
#include "ip.h"
#include "proto/ether.h"
#include "proto/ip.h"
#include "stack.h"

#define TEST_PROTO 253

static unsigned char frame[T_FRAME_MAX];

static void setup(void)
{
	t_setup();
}

static void teardown(void)
{
	t_teardown();
}

/* A received fragment as ip_rcv hands it to ip_defrag. */
static struct sk_buff *frag_skb(uint16_t id, uint8_t proto, unsigned int off, unsigned int len,
				bool mf, unsigned char fill)
{
	unsigned char payload[2000];
	struct sk_buff *skb = alloc_skb_hdr(T.ns, IP_HLEN_MIN + len);
	size_t n;

	ck_assert_ptr_nonnull(skb);
	memset(payload, fill, len);
	n = t_build_ipv4(skb_put(skb, IP_HLEN_MIN + len), T_PEER_IP, T_LOCAL_IP, proto, id,
			 (uint16_t)(off / 8 | (mf ? IP_MF : 0)), 64, payload, len);
	ck_assert_uint_eq(n, IP_HLEN_MIN + len);
	skb->pkt_type = PACKET_HOST;
	skb->protocol = ETH_P_IP;
	skb_reset_network_header(skb);
	return skb;
}

/* Feeds one fragment; returns the reassembled datagram or NULL. */
static struct sk_buff *defrag(uint16_t id, unsigned int off, unsigned int len, bool mf,
			      unsigned char fill)
{
	struct sk_buff *skb, *out;

	nstack_lock(T.ns);
	skb = frag_skb(id, TEST_PROTO, off, len, mf, fill);
	out = ip_defrag(T.ns, skb);
	nstack_unlock(T.ns);
	return out;
}

static void check_datagram(struct sk_buff *skb, unsigned int len)
{
	const struct iphdr *iph;

	ck_assert_ptr_nonnull(skb);
	iph = (const struct iphdr *)skb->data;
	ck_assert_uint_eq(skb->len, IP_HLEN_MIN + len);
	ck_assert_uint_eq(ntohs(iph->tot_len), IP_HLEN_MIN + len);
	ck_assert_uint_eq(iph->frag_off, 0);
	ck_assert_uint_eq(ip_fast_csum(iph, 5), 0);
	ck_assert_ptr_eq(skb_network_header(skb), skb->data);
}

START_TEST(test_route_local_address_is_local_unfragmented)
{
	struct rtable rt;

	ck_assert_int_eq(ip_route_output(T.ns, T_LOCAL_IP, &rt), 0);
	ck_assert_int_eq(rt.rt_type, RTN_LOCAL);
	ck_assert_uint_eq(rt.rt_src, T_LOCAL_IP);
	ck_assert_uint_eq(rt.rt_mtu, IP_MAXPACKET);
	ck_assert(inet_addr_is_local(T.ns, T_LOCAL_IP));
	ck_assert(!inet_addr_is_local(T.ns, T_PEER_IP));
	ck_assert(!inet_addr_is_local(T.ns, 0));
}
END_TEST

START_TEST(test_route_broadcasts_and_multicast)
{
	struct rtable rt;

	ck_assert_int_eq(ip_route_output(T.ns, T_IP(255, 255, 255, 255), &rt), 0);
	ck_assert_int_eq(rt.rt_type, RTN_BROADCAST);
	ck_assert_int_eq(ip_route_output(T.ns, T_IP(198, 18, 0, 255), &rt), 0);
	ck_assert_int_eq(rt.rt_type, RTN_BROADCAST);
	ck_assert_uint_eq(rt.rt_mtu, 1500);
	ck_assert_int_eq(ip_route_output(T.ns, T_IP(224, 0, 0, 251), &rt), 0);
	ck_assert_int_eq(rt.rt_type, RTN_MULTICAST);
	ck_assert_int_eq(ip_route_output(T.ns, T_IP(239, 255, 255, 250), &rt), 0);
	ck_assert_int_eq(rt.rt_type, RTN_MULTICAST);
}
END_TEST

START_TEST(test_route_on_link_direct_off_link_via_gateway)
{
	struct rtable rt;

	ck_assert_int_eq(ip_route_output(T.ns, T_IP(198, 18, 0, 9), &rt), 0);
	ck_assert_int_eq(rt.rt_type, RTN_UNICAST);
	ck_assert_uint_eq(rt.rt_gateway, T_IP(198, 18, 0, 9));
	ck_assert_uint_eq(rt.rt_dst, T_IP(198, 18, 0, 9));
	ck_assert_uint_eq(rt.rt_src, T_LOCAL_IP);
	ck_assert_uint_eq(rt.rt_mtu, 1500);
	ck_assert_int_eq(ip_route_output(T.ns, T_OTHER_IP, &rt), 0);
	ck_assert_int_eq(rt.rt_type, RTN_UNICAST);
	ck_assert_uint_eq(rt.rt_gateway, T_PEER_IP);
	ck_assert_uint_eq(rt.rt_dst, T_OTHER_IP);
	ck_assert_int_eq(ip_route_output(T.ns, T_IP(127, 0, 0, 1), &rt), -ENETUNREACH);
}
END_TEST

static void prefix31(struct nstack_config *cfg)
{
	cfg->prefixlen = 31;
	cfg->gateway = 0;
}

START_TEST(test_route_slash31_has_no_broadcast_and_no_gateway)
{
	const struct t_opts o = {.tweak = prefix31, .no_peer_neigh = true};
	struct rtable rt;

	t_teardown();
	t_setup_opts(&o);
	/* 198.18.0.2/31 holds .2 and .3; .3 is a host (RFC 3021). */
	ck_assert_int_eq(ip_route_output(T.ns, T_IP(198, 18, 0, 3), &rt), 0);
	ck_assert_int_eq(rt.rt_type, RTN_UNICAST);
	ck_assert_int_eq(ip_route_output(T.ns, T_PEER_IP, &rt), -ENETUNREACH);
}
END_TEST

START_TEST(test_ident_counter_counts_up_and_wraps)
{
	uint16_t a = ip_select_ident(T.ns);
	uint16_t b = ip_select_ident(T.ns);

	ck_assert_uint_eq((uint16_t)(a + 1), b);
	for (int i = 0; i < 65535; i++)
		ip_select_ident(T.ns);
	ck_assert_uint_eq(ip_select_ident(T.ns), b); /* 65536 later */
}
END_TEST

START_TEST(test_send_raw_fills_length_checksum_id_source)
{
	struct sk_buff *skb;
	struct iphdr *iph;
	size_t n;
	const struct iphdr *g = (const struct iphdr *)(frame + ETH_HLEN);

	nstack_lock(T.ns);
	skb = alloc_skb_hdr(T.ns, 28);
	iph = (struct iphdr *)skb_put(skb, 28);
	memset(iph, 0, 28);
	iph->ver_ihl = 0x45;
	iph->ttl = 9;
	iph->protocol = TEST_PROTO;
	iph->daddr = T_PEER_IP;
	iph->tot_len = htons(9999); /* Linux overwrites it */
	ck_assert_int_eq(ip_send_raw(T.ns, skb), 0);
	nstack_unlock(T.ns);
	n = t_recv(frame, sizeof(frame));
	ck_assert_uint_eq(n, 60);
	ck_assert_uint_eq(ntohs(g->tot_len), 28);
	ck_assert_uint_eq(g->saddr, T_LOCAL_IP);
	ck_assert_uint_ne(g->id, 0);
	ck_assert_uint_eq(g->ttl, 9);
	ck_assert_uint_eq(ip_fast_csum(g, 5), 0);
}
END_TEST

START_TEST(test_send_raw_rejects_bad_header_and_oversize)
{
	struct sk_buff *skb;
	struct iphdr *iph;

	nstack_lock(T.ns);
	skb = alloc_skb_hdr(T.ns, 20);
	iph = (struct iphdr *)skb_put(skb, 20);
	memset(iph, 0, 20);
	iph->ver_ihl = 0x46; /* 24-byte header in 20 bytes */
	iph->daddr = T_PEER_IP;
	ck_assert_int_eq(ip_send_raw(T.ns, skb), -EINVAL);
	skb = alloc_skb_hdr(T.ns, 1600);
	iph = (struct iphdr *)skb_put(skb, 1600);
	memset(iph, 0, 1600);
	iph->ver_ihl = 0x45;
	iph->daddr = T_PEER_IP;
	ck_assert_int_eq(ip_send_raw(T.ns, skb), -EMSGSIZE);
	skb = alloc_skb_hdr(T.ns, 10);
	skb_put(skb, 10);
	ck_assert_int_eq(ip_send_raw(T.ns, skb), -EINVAL);
	nstack_unlock(T.ns);
	t_expect_no_tx();
}
END_TEST

START_TEST(test_defrag_in_order_reassembles)
{
	struct sk_buff *out;

	ck_assert_ptr_null(defrag(1, 0, 800, true, 'a'));
	ck_assert_ptr_null(defrag(1, 800, 800, true, 'b'));
	out = defrag(1, 1600, 5, false, 'c');
	check_datagram(out, 1605);
	ck_assert_uint_eq(out->data[20], 'a');
	ck_assert_uint_eq(out->data[20 + 799], 'a');
	ck_assert_uint_eq(out->data[20 + 800], 'b');
	ck_assert_uint_eq(out->data[20 + 1604], 'c');
	kfree_skb(out);
	ck_assert_uint_eq(t_stat("IpReasmReqds"), 3);
	ck_assert_uint_eq(t_stat("IpReasmOKs"), 1);
}
END_TEST

START_TEST(test_defrag_reverse_order_reassembles)
{
	struct sk_buff *out;

	ck_assert_ptr_null(defrag(2, 1600, 5, false, 'c'));
	ck_assert_ptr_null(defrag(2, 800, 800, true, 'b'));
	out = defrag(2, 0, 800, true, 'a');
	check_datagram(out, 1605);
	ck_assert_uint_eq(out->data[20 + 800], 'b');
	kfree_skb(out);
}
END_TEST

START_TEST(test_defrag_exact_duplicate_dropped_queue_kept)
{
	struct sk_buff *out;

	ck_assert_ptr_null(defrag(3, 0, 800, true, 'a'));
	ck_assert_ptr_null(defrag(3, 0, 800, true, 'a'));
	ck_assert_uint_eq(t_stat("IpReasmFails"), 0);
	out = defrag(3, 800, 8, false, 'z');
	check_datagram(out, 808);
	kfree_skb(out);
	ck_assert_uint_eq(t_stat("IpReasmOKs"), 1);
	ck_assert_uint_eq(t_stat("IpReasmFails"), 0);
	ck_assert_uint_eq(t_stat("IpReasmOverlaps"), 0);
	/* The queue is consumed: a late duplicate starts a new one. */
	ck_assert_ptr_null(defrag(3, 800, 8, false, 'z'));
	t_clock_advance(IPFRAG_TIME_US);
	ck_assert_uint_eq(t_stat("IpReasmTimeout"), 1);
}
END_TEST

START_TEST(test_defrag_duplicate_completes_on_missing_piece)
{
	struct sk_buff *out;

	ck_assert_ptr_null(defrag(4, 0, 800, true, 'a'));
	ck_assert_ptr_null(defrag(4, 1600, 8, false, 'c'));
	ck_assert_ptr_null(defrag(4, 1600, 8, false, 'c'));
	ck_assert_ptr_null(defrag(4, 0, 800, true, 'a'));
	out = defrag(4, 800, 800, true, 'b');
	check_datagram(out, 1608);
	kfree_skb(out);
	ck_assert_uint_eq(t_stat("IpReasmOverlaps"), 0);
}
END_TEST

START_TEST(test_defrag_piece_inside_contiguous_run_is_duplicate)
{
	struct sk_buff *out;

	/* [0,800) and [800,1600) form one run; [400,1200) lies inside it. */
	ck_assert_ptr_null(defrag(5, 0, 800, true, 'a'));
	ck_assert_ptr_null(defrag(5, 800, 800, true, 'b'));
	ck_assert_ptr_null(defrag(5, 400, 800, true, 'x'));
	ck_assert_uint_eq(t_stat("IpReasmOverlaps"), 0);
	out = defrag(5, 1600, 8, false, 'c');
	check_datagram(out, 1608);
	ck_assert_uint_eq(out->data[20 + 400], 'a'); /* the first copy wins */
	kfree_skb(out);
}
END_TEST

START_TEST(test_defrag_partial_overlap_kills_queue)
{
	ck_assert_ptr_null(defrag(6, 0, 800, true, 'a'));
	ck_assert_ptr_null(defrag(6, 1600, 8, false, 'c'));
	ck_assert_ptr_null(defrag(6, 400, 800, true, 'x'));
	ck_assert_uint_eq(t_stat("IpReasmOverlaps"), 1);
	ck_assert_uint_eq(t_stat("IpReasmFails"), 1);
	/* The missing middle no longer completes anything. */
	ck_assert_ptr_null(defrag(6, 800, 800, true, 'b'));
	ck_assert_uint_eq(t_stat("IpReasmOKs"), 0);
	t_clock_advance(IPFRAG_TIME_US); /* let the new queue expire */
}
END_TEST

START_TEST(test_defrag_conflicting_last_fragments_fail)
{
	ck_assert_ptr_null(defrag(7, 0, 800, true, 'a'));
	ck_assert_ptr_null(defrag(7, 1600, 8, false, 'c'));
	ck_assert_ptr_null(defrag(7, 1600, 16, false, 'c'));
	ck_assert_uint_eq(t_stat("IpReasmFails"), 1);
	/* Data past a known end is as bad. */
	ck_assert_ptr_null(defrag(8, 800, 8, false, 'c'));
	ck_assert_ptr_null(defrag(8, 1600, 8, true, 'c'));
	ck_assert_uint_eq(t_stat("IpReasmFails"), 2);
}
END_TEST

START_TEST(test_defrag_zero_length_fragment_fails)
{
	ck_assert_ptr_null(defrag(9, 0, 800, true, 'a'));
	ck_assert_ptr_null(defrag(9, 800, 4, true, 'x')); /* 4 rounds down to 0 */
	ck_assert_uint_eq(t_stat("IpReasmFails"), 1);
}
END_TEST

START_TEST(test_defrag_keys_keep_datagrams_apart)
{
	struct sk_buff *skb, *out;

	ck_assert_ptr_null(defrag(10, 0, 800, true, 'a'));
	nstack_lock(T.ns);
	/* Same ID, other protocol: another datagram. */
	skb = frag_skb(10, TEST_PROTO - 1, 800, 8, false, 'q');
	ck_assert_ptr_null(ip_defrag(T.ns, skb));
	nstack_unlock(T.ns);
	out = defrag(10, 800, 8, false, 'b');
	check_datagram(out, 808);
	ck_assert_uint_eq(out->data[20 + 800], 'b');
	kfree_skb(out);
	t_clock_advance(IPFRAG_TIME_US);
	ck_assert_uint_eq(t_stat("IpReasmTimeout"), 1);
}
END_TEST

START_TEST(test_defrag_timeout_at_deadline)
{
	ck_assert_ptr_null(defrag(11, 800, 8, false, 'b'));
	t_clock_advance(1000);
	ck_assert_ptr_null(defrag(11, 0, 8, true, 'a')); /* does not restart the timer */
	t_clock_set(T_CLOCK_START + IPFRAG_TIME_US - 1);
	ck_assert_uint_eq(t_stat("IpReasmTimeout"), 0);
	t_clock_set(T_CLOCK_START + IPFRAG_TIME_US);
	ck_assert_uint_eq(t_stat("IpReasmTimeout"), 1);
	ck_assert_uint_eq(t_stat("IpReasmFails"), 1);
	/* The ICMP time exceeded about it is checked in test_icmp_wire. */
	t_recv(frame, sizeof(frame));
	/* After expiry the missing piece starts a new queue. */
	ck_assert_ptr_null(defrag(11, 8, 792, true, 'm'));
	t_clock_advance(IPFRAG_TIME_US);
	ck_assert_uint_eq(t_stat("IpReasmTimeout"), 2);
}
END_TEST

START_TEST(test_defrag_memory_bound_evicts_oldest)
{
	unsigned int queues = 0;
	struct sk_buff *out;

	/* One 1480-byte first fragment per datagram until the bound bites. */
	while (t_stat("IpReasmFails") == 0) {
		ck_assert_ptr_null(defrag((uint16_t)(1000 + queues), 0, 1480, true, 'a'));
		queues++;
		ck_assert_uint_lt(queues, 20000);
	}
	ck_assert_uint_gt(queues, 1000);
	/* The oldest is gone: its tail alone completes nothing. */
	ck_assert_ptr_null(defrag(1000, 1480, 8, false, 'z'));
	ck_assert_uint_eq(t_stat("IpReasmOKs"), 0);
	/* The newest survived. */
	out = defrag((uint16_t)(1000 + queues - 1), 1480, 8, false, 'z');
	check_datagram(out, 1488);
	kfree_skb(out);
	t_clock_advance(IPFRAG_TIME_US);
}
END_TEST

START_TEST(test_defrag_too_far_apart_starts_over)
{
	struct sk_buff *out;

	/* 64 other fragments from the source in between: still one datagram. */
	ck_assert_ptr_null(defrag(20, 0, 800, true, 'a'));
	for (int i = 0; i < IPFRAG_MAX_DIST - 1; i++)
		ck_assert_ptr_null(defrag((uint16_t)(100 + i), 0, 8, true, 'o'));
	out = defrag(20, 800, 8, false, 'b');
	check_datagram(out, 808);
	kfree_skb(out);
	/* 65 in between: the first piece is presumed lost with its datagram. */
	ck_assert_ptr_null(defrag(21, 0, 800, true, 'a'));
	for (int i = 0; i < IPFRAG_MAX_DIST; i++)
		ck_assert_ptr_null(defrag((uint16_t)(200 + i), 0, 8, true, 'o'));
	ck_assert_uint_eq(t_stat("IpReasmFails"), 0);
	ck_assert_ptr_null(defrag(21, 800, 8, false, 'b'));
	ck_assert_uint_eq(t_stat("IpReasmFails"), 1);
	/* The queue lives on with the new piece and completes with a fresh head. */
	out = defrag(21, 0, 800, true, 'c');
	check_datagram(out, 808);
	ck_assert_uint_eq(out->data[20], 'c');
	kfree_skb(out);
	t_clock_advance(IPFRAG_TIME_US);
}
END_TEST

static Suite *ip_suite(void)
{
	Suite *s = suite_create("ip");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_route_local_address_is_local_unfragmented);
	tcase_add_test(tc, test_route_broadcasts_and_multicast);
	tcase_add_test(tc, test_route_on_link_direct_off_link_via_gateway);
	tcase_add_test(tc, test_route_slash31_has_no_broadcast_and_no_gateway);
	tcase_add_test(tc, test_ident_counter_counts_up_and_wraps);
	tcase_add_test(tc, test_send_raw_fills_length_checksum_id_source);
	tcase_add_test(tc, test_send_raw_rejects_bad_header_and_oversize);
	tcase_add_test(tc, test_defrag_in_order_reassembles);
	tcase_add_test(tc, test_defrag_reverse_order_reassembles);
	tcase_add_test(tc, test_defrag_exact_duplicate_dropped_queue_kept);
	tcase_add_test(tc, test_defrag_duplicate_completes_on_missing_piece);
	tcase_add_test(tc, test_defrag_piece_inside_contiguous_run_is_duplicate);
	tcase_add_test(tc, test_defrag_partial_overlap_kills_queue);
	tcase_add_test(tc, test_defrag_conflicting_last_fragments_fail);
	tcase_add_test(tc, test_defrag_zero_length_fragment_fails);
	tcase_add_test(tc, test_defrag_keys_keep_datagrams_apart);
	tcase_add_test(tc, test_defrag_timeout_at_deadline);
	tcase_add_test(tc, test_defrag_memory_bound_evicts_oldest);
	tcase_add_test(tc, test_defrag_too_far_apart_starts_over);
	suite_add_tcase(s, tc);
	return s;
}

NSTACK_SUITE(ip_suite)
