/*
 * Packet-level ARP tests: requests answered byte for byte, resolution with
 * a held queue, retransmission timing, failure, the NUD life cycle.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "arp.h"
#include "check_main.h"
#include "harness.h"
#include "icmp.h"
#include "inet.h"
#include "ip.h"
#include "proto/arp.h"
#include "proto/ether.h"
#include "stack.h"

#define TEST_PROTO 253 /* RFC 3692 experimental protocol number */
#define HOST9_IP   T_IP(198, 18, 0, 9)

static const uint8_t host9_mac[6] = {0x02, 0, 0, 0, 0, 0x09};
static const uint8_t host9_mac2[6] = {0x02, 0, 0, 0, 0, 0x99};
static const uint8_t zero_mac[6];

/* Errors delivered to the test protocol's err_handler. */
static struct {
	int calls;
	int type, code;
	uint32_t quoted_daddr;
	uint16_t quoted_id[8];
	int resend_on_error; /* the handler sends this many new packets, one per error */
} errs;

static int send_ip_locked(uint32_t daddr, uint16_t id);

static void test_proto_err(struct sk_buff *skb, int type, int code, uint32_t info)
{
	const struct iphdr *iph = (const struct iphdr *)skb->data;

	(void)info;
	if (errs.calls < 8)
		errs.quoted_id[errs.calls] = ntohs(iph->id);
	errs.calls++;
	errs.type = type;
	errs.code = code;
	errs.quoted_daddr = iph->daddr;
	if (errs.resend_on_error > 0) {
		errs.resend_on_error--;
		send_ip_locked(iph->daddr, 900);
	}
}

static const struct inet_protocol test_proto = {
    .handler = t_proto_drop,
    .err_handler = test_proto_err,
};

static void setup(void)
{
	t_setup();
	memset(&errs, 0, sizeof(errs));
	t_add_protocol(&test_proto, TEST_PROTO);
}

static void teardown(void)
{
	t_del_protocol(TEST_PROTO);
	t_teardown();
}

/* Sends a TEST_PROTO packet with a fixed ID and 8-byte payload (lock held). */
static int send_ip_locked(uint32_t daddr, uint16_t id)
{
	struct ip_tx_params p = {.id_set = true, .id = id};
	struct sk_buff *skb = alloc_skb_hdr(T.ns, 8);

	ck_assert_ptr_nonnull(skb);
	memcpy(skb_put(skb, 8), "payload!", 8);
	return ip_build_and_send(T.ns, skb, 0, daddr, TEST_PROTO, &p);
}

/* Sends a TEST_PROTO packet with a fixed ID and 8-byte payload from the stack. */
static int send_ip(uint32_t daddr, uint16_t id)
{
	int err;

	nstack_lock(T.ns);
	err = send_ip_locked(daddr, id);
	nstack_unlock(T.ns);
	return err;
}

/* The frame send_ip() produces once the next hop's MAC is known. */
static size_t ip_frame(void *buf, const uint8_t dst_mac[6], uint32_t daddr, uint16_t id)
{
	unsigned char ip[64];
	size_t n = t_build_ipv4(ip, T_LOCAL_IP, daddr, TEST_PROTO, id, 0, 64, "payload!", 8);

	return t_build_eth(buf, dst_mac, t_local_mac, ETH_P_IP, ip, n);
}

static size_t arp_frame(void *buf, const uint8_t eth_dst[6], const uint8_t eth_src[6], uint16_t op,
			const uint8_t sha[6], uint32_t sip, const uint8_t tha[6], uint32_t tip)
{
	unsigned char a[ARP_HLEN];

	t_build_arp(a, op, sha, sip, tha, tip);
	return t_build_eth(buf, eth_dst, eth_src, ETH_P_ARP, a, sizeof(a));
}

/* The broadcast request the stack sends to resolve ip. */
static void expect_request(uint32_t ip)
{
	unsigned char want[64];
	size_t n = arp_frame(want, t_bcast_mac, t_local_mac, ARPOP_REQUEST, t_local_mac, T_LOCAL_IP,
			     zero_mac, ip);

	t_expect_frame(want, n);
}

static void inject_reply_from_host9(const uint8_t mac[6])
{
	unsigned char f[64];
	size_t n =
	    arp_frame(f, t_local_mac, mac, ARPOP_REPLY, mac, HOST9_IP, t_local_mac, T_LOCAL_IP);

	t_inject(f, n);
}

static enum neigh_state state_of(uint32_t ip, uint8_t mac[6])
{
	enum neigh_state s;

	nstack_lock(T.ns);
	s = neigh_lookup_state(T.ns, ip, mac);
	nstack_unlock(T.ns);
	return s;
}

/* Resolves host9 (request, reply) and drains the flushed packet. */
static void resolve_host9(void)
{
	unsigned char want[128];

	ck_assert_int_eq(send_ip(HOST9_IP, 1), 0);
	expect_request(HOST9_IP);
	inject_reply_from_host9(host9_mac);
	t_expect_frame(want, ip_frame(want, host9_mac, HOST9_IP, 1));
	ck_assert_int_eq(state_of(HOST9_IP, NULL), NUD_REACHABLE);
}

START_TEST(test_idle_request_for_us_sends_exact_reply)
{
	unsigned char f[64], want[64];
	uint8_t mac[6];
	size_t n = arp_frame(f, t_bcast_mac, host9_mac, ARPOP_REQUEST, host9_mac, HOST9_IP,
			     zero_mac, T_LOCAL_IP);

	t_inject(f, n);
	n = arp_frame(want, host9_mac, t_local_mac, ARPOP_REPLY, t_local_mac, T_LOCAL_IP, host9_mac,
		      HOST9_IP);
	ck_assert_uint_eq(n, 60); /* padded by the device layer */
	t_expect_frame(want, n);
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("ArpInRequests"), 1);
	ck_assert_uint_eq(t_stat("ArpOutReplies"), 1);
	/* The asker is learnt, unconfirmed, as Linux's neigh_event_ns(). */
	ck_assert_int_eq(state_of(HOST9_IP, mac), NUD_STALE);
	ck_assert_mem_eq(mac, host9_mac, 6);
}
END_TEST

START_TEST(test_idle_request_for_other_ip_ignored)
{
	unsigned char f[64];
	size_t n = arp_frame(f, t_bcast_mac, host9_mac, ARPOP_REQUEST, host9_mac, HOST9_IP,
			     zero_mac, T_IP(198, 18, 0, 77));

	t_inject(f, n);
	t_expect_no_tx();
	ck_assert_int_eq(state_of(HOST9_IP, NULL), NUD_NONE);
	ck_assert_uint_eq(t_stat("ArpInRequests"), 1);
	ck_assert_uint_eq(t_stat("ArpInErrors"), 0);
}
END_TEST

START_TEST(test_idle_address_probe_answered_with_zero_target)
{
	/* RFC 5227 probe: sender IP 0.0.0.0. We answer, learning nothing. */
	unsigned char f[64], want[64];
	size_t n =
	    arp_frame(f, t_bcast_mac, host9_mac, ARPOP_REQUEST, host9_mac, 0, zero_mac, T_LOCAL_IP);

	t_inject(f, n);
	n = arp_frame(want, host9_mac, t_local_mac, ARPOP_REPLY, t_local_mac, T_LOCAL_IP, host9_mac,
		      0);
	t_expect_frame(want, n);
	t_expect_no_tx();
	ck_assert_int_eq(state_of(0, NULL), NUD_NONE);
}
END_TEST

START_TEST(test_unresolved_send_queues_then_reply_flushes_in_order)
{
	unsigned char want[128];
	uint8_t mac[6];

	ck_assert_int_eq(send_ip(HOST9_IP, 100), 0);
	expect_request(HOST9_IP);
	t_expect_no_tx();
	ck_assert_int_eq(state_of(HOST9_IP, NULL), NUD_INCOMPLETE);
	ck_assert_int_eq(send_ip(HOST9_IP, 101), 0);
	ck_assert_int_eq(send_ip(HOST9_IP, 102), 0);
	t_expect_no_tx(); /* held, and no extra requests */
	ck_assert_uint_eq(t_stat("ArpOutRequests"), 1);

	inject_reply_from_host9(host9_mac);
	for (uint16_t id = 100; id <= 102; id++)
		t_expect_frame(want, ip_frame(want, host9_mac, HOST9_IP, id));
	t_expect_no_tx();
	ck_assert_int_eq(state_of(HOST9_IP, mac), NUD_REACHABLE);
	ck_assert_mem_eq(mac, host9_mac, 6);
	ck_assert_uint_eq(t_stat("ArpInReplies"), 1);
	/* Later packets go straight out. */
	ck_assert_int_eq(send_ip(HOST9_IP, 103), 0);
	t_expect_frame(want, ip_frame(want, host9_mac, HOST9_IP, 103));
}
END_TEST

START_TEST(test_incomplete_retransmits_every_retrans_time_then_fails)
{
	ck_assert_int_eq(send_ip(HOST9_IP, 1), 0);
	ck_assert_int_eq(send_ip(HOST9_IP, 2), 0);
	expect_request(HOST9_IP);
	for (int i = 1; i < NEIGH_MCAST_PROBES; i++) {
		t_clock_set(T_CLOCK_START + i * NEIGH_RETRANS_US - 1);
		t_expect_no_tx();
		t_clock_set(T_CLOCK_START + i * NEIGH_RETRANS_US);
		expect_request(HOST9_IP);
		t_expect_no_tx();
	}
	t_clock_set(T_CLOCK_START + NEIGH_MCAST_PROBES * NEIGH_RETRANS_US - 1);
	t_expect_no_tx();
	ck_assert_int_eq(state_of(HOST9_IP, NULL), NUD_INCOMPLETE);
	ck_assert_int_eq(errs.calls, 0);

	t_clock_set(T_CLOCK_START + NEIGH_MCAST_PROBES * NEIGH_RETRANS_US);
	t_expect_no_tx(); /* three requests, no fourth */
	ck_assert_int_eq(state_of(HOST9_IP, NULL), NUD_FAILED);
	ck_assert_uint_eq(t_stat("ArpOutRequests"), NEIGH_MCAST_PROBES);
	ck_assert_uint_eq(t_stat("ArpResolveFailed"), 1);
	/* Each held packet told its sender: host unreachable. */
	ck_assert_int_eq(errs.calls, 2);
	ck_assert_int_eq(errs.type, ICMP_DEST_UNREACH);
	ck_assert_int_eq(errs.code, ICMP_HOST_UNREACH);
	ck_assert_uint_eq(errs.quoted_daddr, HOST9_IP);
	ck_assert_uint_eq(errs.quoted_id[0], 1);
	ck_assert_uint_eq(errs.quoted_id[1], 2);
	{
		int fatal;

		ck_assert_int_eq(icmp_err_convert(errs.type, errs.code, &fatal), EHOSTUNREACH);
	}
	/* A reply now finds nothing to send. */
	inject_reply_from_host9(host9_mac);
	t_expect_no_tx();
}
END_TEST

START_TEST(test_failed_send_restarts_resolution)
{
	ck_assert_int_eq(send_ip(HOST9_IP, 1), 0);
	expect_request(HOST9_IP);
	t_clock_advance(NEIGH_RETRANS_US);
	expect_request(HOST9_IP);
	t_clock_advance(NEIGH_RETRANS_US);
	expect_request(HOST9_IP);
	t_clock_advance(NEIGH_RETRANS_US);
	ck_assert_int_eq(state_of(HOST9_IP, NULL), NUD_FAILED);
	ck_assert_int_eq(send_ip(HOST9_IP, 2), 0);
	expect_request(HOST9_IP);
	ck_assert_int_eq(state_of(HOST9_IP, NULL), NUD_INCOMPLETE);
	inject_reply_from_host9(host9_mac);
	{
		unsigned char want[128];

		t_expect_frame(want, ip_frame(want, host9_mac, HOST9_IP, 2));
	}
}
END_TEST

START_TEST(test_incomplete_queue_full_drops_oldest)
{
	unsigned char want[128];

	for (int i = 0; i < NEIGH_UNRES_QLEN + 5; i++)
		ck_assert_int_eq(send_ip(HOST9_IP, (uint16_t)(1000 + i)), 0);
	expect_request(HOST9_IP);
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("ArpUnresDiscards"), 5);
	inject_reply_from_host9(host9_mac);
	for (int i = 5; i < NEIGH_UNRES_QLEN + 5; i++)
		t_expect_frame(want, ip_frame(want, host9_mac, HOST9_IP, (uint16_t)(1000 + i)));
	t_expect_no_tx();
}
END_TEST

START_TEST(test_incomplete_request_from_target_resolves_and_flushes)
{
	unsigned char f[64], want[128];
	size_t n;

	ck_assert_int_eq(send_ip(HOST9_IP, 7), 0);
	expect_request(HOST9_IP);
	n = arp_frame(f, t_bcast_mac, host9_mac, ARPOP_REQUEST, host9_mac, HOST9_IP, zero_mac,
		      T_LOCAL_IP);
	t_inject(f, n);
	/* The held packet leaves first (the entry update), then our reply. */
	t_expect_frame(want, ip_frame(want, host9_mac, HOST9_IP, 7));
	n = arp_frame(want, host9_mac, t_local_mac, ARPOP_REPLY, t_local_mac, T_LOCAL_IP, host9_mac,
		      HOST9_IP);
	t_expect_frame(want, n);
	t_expect_no_tx();
	ck_assert_int_eq(state_of(HOST9_IP, NULL), NUD_STALE);
}
END_TEST

START_TEST(test_reachable_second_reply_within_locktime_ignored)
{
	uint8_t mac[6];

	resolve_host9();
	inject_reply_from_host9(host9_mac2);
	ck_assert_int_eq(state_of(HOST9_IP, mac), NUD_REACHABLE);
	ck_assert_mem_eq(mac, host9_mac, 6);
	/* A confirmation of the same address does not extend locktime. */
	t_clock_advance(500 * 1000);
	inject_reply_from_host9(host9_mac);
	/* Locktime is up only strictly after one second, as time_after(). */
	t_clock_advance(500 * 1000);
	inject_reply_from_host9(host9_mac2);
	ck_assert_int_eq(state_of(HOST9_IP, mac), NUD_REACHABLE);
	ck_assert_mem_eq(mac, host9_mac, 6);
	t_clock_advance(1);
	inject_reply_from_host9(host9_mac2);
	ck_assert_int_eq(state_of(HOST9_IP, mac), NUD_REACHABLE);
	ck_assert_mem_eq(mac, host9_mac2, 6);
}
END_TEST

START_TEST(test_reachable_times_out_to_stale_within_random_bounds)
{
	resolve_host9();
	/* reachable_time is drawn from [base/2, 3*base/2). */
	t_clock_set(T_CLOCK_START + NEIGH_BASE_REACHABLE_US / 2 - 1);
	ck_assert_int_eq(state_of(HOST9_IP, NULL), NUD_REACHABLE);
	t_clock_set(T_CLOCK_START + NEIGH_BASE_REACHABLE_US * 3 / 2);
	ck_assert_int_eq(state_of(HOST9_IP, NULL), NUD_STALE);
	t_expect_no_tx();
}
END_TEST

START_TEST(test_stale_send_goes_out_then_delay_probe_unicast)
{
	unsigned char want[128];
	uint64_t t0;
	size_t n;

	resolve_host9();
	t_clock_set(T_CLOCK_START + NEIGH_BASE_REACHABLE_US * 3 / 2);
	ck_assert_int_eq(state_of(HOST9_IP, NULL), NUD_STALE);
	t0 = T.now;
	ck_assert_int_eq(send_ip(HOST9_IP, 5), 0);
	t_expect_frame(want, ip_frame(want, host9_mac, HOST9_IP, 5));
	ck_assert_int_eq(state_of(HOST9_IP, NULL), NUD_DELAY);
	t_clock_set(t0 + NEIGH_DELAY_PROBE_US - 1);
	t_expect_no_tx();
	t_clock_set(t0 + NEIGH_DELAY_PROBE_US);
	/* PROBE: unicast requests to the cached address. */
	n = arp_frame(want, host9_mac, t_local_mac, ARPOP_REQUEST, t_local_mac, T_LOCAL_IP,
		      zero_mac, HOST9_IP);
	t_expect_frame(want, n);
	ck_assert_int_eq(state_of(HOST9_IP, NULL), NUD_PROBE);
	for (int i = 1; i < NEIGH_UCAST_PROBES; i++) {
		t_clock_set(t0 + NEIGH_DELAY_PROBE_US + i * NEIGH_RETRANS_US - 1);
		t_expect_no_tx();
		t_clock_set(t0 + NEIGH_DELAY_PROBE_US + i * NEIGH_RETRANS_US);
		t_expect_frame(want, n);
	}
	t_clock_set(t0 + NEIGH_DELAY_PROBE_US + NEIGH_UCAST_PROBES * NEIGH_RETRANS_US);
	t_expect_no_tx();
	ck_assert_int_eq(state_of(HOST9_IP, NULL), NUD_FAILED);
}
END_TEST

START_TEST(test_probe_reply_makes_reachable)
{
	unsigned char want[128];

	resolve_host9();
	t_clock_set(T_CLOCK_START + NEIGH_BASE_REACHABLE_US * 3 / 2);
	ck_assert_int_eq(send_ip(HOST9_IP, 5), 0);
	t_expect_frame(want, ip_frame(want, host9_mac, HOST9_IP, 5));
	t_clock_advance(NEIGH_DELAY_PROBE_US);
	ck_assert_int_eq(t_recv(want, sizeof(want)), 60);
	ck_assert_int_eq(state_of(HOST9_IP, NULL), NUD_PROBE);
	inject_reply_from_host9(host9_mac);
	ck_assert_int_eq(state_of(HOST9_IP, NULL), NUD_REACHABLE);
	t_clock_advance(NEIGH_RETRANS_US * 5);
	t_expect_no_tx();
}
END_TEST

START_TEST(test_stale_unused_entry_garbage_collected)
{
	unsigned char f[64];
	size_t n = arp_frame(f, t_bcast_mac, host9_mac, ARPOP_REQUEST, host9_mac, HOST9_IP,
			     zero_mac, T_LOCAL_IP);

	t_inject(f, n);
	t_recv(f, sizeof(f));
	ck_assert_int_eq(state_of(HOST9_IP, NULL), NUD_STALE);
	t_clock_advance(NEIGH_GC_STALE_US + NEIGH_BASE_REACHABLE_US);
	ck_assert_int_eq(state_of(HOST9_IP, NULL), NUD_NONE);
	/* Permanent entries stay. */
	ck_assert_int_eq(state_of(T_PEER_IP, NULL), NUD_PERMANENT);
}
END_TEST

START_TEST(test_permanent_entry_not_changed_by_arp)
{
	unsigned char f[64];
	uint8_t mac[6];
	size_t n = arp_frame(f, t_local_mac, host9_mac, ARPOP_REPLY, host9_mac, T_PEER_IP,
			     t_local_mac, T_LOCAL_IP);

	t_inject(f, n);
	ck_assert_int_eq(state_of(T_PEER_IP, mac), NUD_PERMANENT);
	ck_assert_mem_eq(mac, t_peer_mac, 6);
}
END_TEST

START_TEST(test_unsolicited_reply_creates_no_entry)
{
	inject_reply_from_host9(host9_mac);
	t_expect_no_tx();
	ck_assert_int_eq(state_of(HOST9_IP, NULL), NUD_NONE);
	ck_assert_uint_eq(t_stat("ArpInReplies"), 1);
}
END_TEST

START_TEST(test_broadcast_reply_to_incomplete_gives_stale)
{
	unsigned char f[64], want[128];
	size_t n;

	ck_assert_int_eq(send_ip(HOST9_IP, 3), 0);
	expect_request(HOST9_IP);
	n = arp_frame(f, t_bcast_mac, host9_mac, ARPOP_REPLY, host9_mac, HOST9_IP, t_local_mac,
		      T_LOCAL_IP);
	t_inject(f, n);
	t_expect_frame(want, ip_frame(want, host9_mac, HOST9_IP, 3));
	ck_assert_int_eq(state_of(HOST9_IP, NULL), NUD_STALE);
}
END_TEST

START_TEST(test_conflicting_claim_of_our_address_ignored)
{
	unsigned char f[64];
	/* Someone else announces 198.18.0.2 (gratuitous request). */
	size_t n = arp_frame(f, t_bcast_mac, host9_mac, ARPOP_REQUEST, host9_mac, T_LOCAL_IP,
			     zero_mac, T_LOCAL_IP);

	t_inject(f, n);
	t_inject(f, n);
	t_expect_no_tx();
	ck_assert_int_eq(state_of(T_LOCAL_IP, NULL), NUD_NONE);
	ck_assert_uint_eq(t_stat("ArpInErrors"), 0);
}
END_TEST

START_TEST(test_gratuitous_announcement_updates_known_entry)
{
	unsigned char f[64];
	uint8_t mac[6];
	size_t n = arp_frame(f, t_bcast_mac, host9_mac2, ARPOP_REQUEST, host9_mac2, HOST9_IP,
			     zero_mac, HOST9_IP);

	resolve_host9();
	/* Within locktime, yet a gratuitous ARP overrides (Linux's is_garp). */
	t_inject(f, n);
	t_expect_no_tx();
	ck_assert_int_eq(state_of(HOST9_IP, mac), NUD_STALE);
	ck_assert_mem_eq(mac, host9_mac2, 6);
}
END_TEST

/* Builds an ARP request for us and lets the caller corrupt it. */
static void inject_bad_arp(void (*corrupt)(struct arphdr_eth *a), size_t arp_len)
{
	unsigned char a[ARP_HLEN], f[64];
	size_t n;

	t_build_arp(a, ARPOP_REQUEST, host9_mac, HOST9_IP, zero_mac, T_LOCAL_IP);
	if (corrupt)
		corrupt((struct arphdr_eth *)a);
	memcpy(f, t_bcast_mac, 6);
	memcpy(f + 6, host9_mac, 6);
	f[12] = 0x08;
	f[13] = 0x06;
	memcpy(f + ETH_HLEN, a, arp_len);
	n = ETH_HLEN + arp_len;
	t_inject(f, n);
}

static void bad_hln(struct arphdr_eth *a)
{
	a->ar_hln = 8;
}
static void bad_pln(struct arphdr_eth *a)
{
	a->ar_pln = 16;
}
static void bad_hrd(struct arphdr_eth *a)
{
	a->ar_hrd = htons(6);
}
static void bad_pro(struct arphdr_eth *a)
{
	a->ar_pro = htons(0x86dd);
}
static void bad_op(struct arphdr_eth *a)
{
	a->ar_op = htons(3);
}
static void bad_sha(struct arphdr_eth *a)
{
	memset(a->ar_sha, 0xff, 6);
}

START_TEST(test_idle_malformed_arp_dropped_and_counted)
{
	void (*corrupt[])(struct arphdr_eth *) = {bad_hln, bad_pln, bad_hrd,
						  bad_pro, bad_op,  bad_sha};
	unsigned int i;

	for (i = 0; i < sizeof(corrupt) / sizeof(corrupt[0]); i++) {
		inject_bad_arp(corrupt[i], ARP_HLEN);
		t_expect_no_tx();
		ck_assert_uint_eq(t_stat("ArpInErrors"), i + 1);
	}
	/* Truncated: 27 bytes of ARP in an unpadded frame. */
	inject_bad_arp(NULL, ARP_HLEN - 1);
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("ArpInErrors"), i + 1);
	ck_assert_uint_eq(t_stat("ArpInRequests"), 0);
	ck_assert_int_eq(state_of(HOST9_IP, NULL), NUD_NONE);
}
END_TEST

START_TEST(test_gratuitous_sends_request_for_own_address)
{
	unsigned char want[64];
	size_t n;

	nstack_lock(T.ns);
	ck_assert_int_eq(arp_send_gratuitous(T.ns), 0);
	nstack_unlock(T.ns);
	n = arp_frame(want, t_bcast_mac, t_local_mac, ARPOP_REQUEST, t_local_mac, T_LOCAL_IP,
		      zero_mac, T_LOCAL_IP);
	t_expect_frame(want, n);
	t_expect_no_tx();
}
END_TEST

START_TEST(test_startup_with_gratuitous_option_announces)
{
	const struct t_opts o = {.gratuitous_arp = true};
	unsigned char want[64];
	size_t n;

	t_teardown();
	t_setup_opts(&o);
	n = arp_frame(want, t_bcast_mac, t_local_mac, ARPOP_REQUEST, t_local_mac, T_LOCAL_IP,
		      zero_mac, T_LOCAL_IP);
	t_expect_frame(want, n);
	t_expect_no_tx();
}
END_TEST

START_TEST(test_off_link_destination_resolves_gateway)
{
	const struct t_opts o = {.no_peer_neigh = true};
	unsigned char want[128], ip[64];
	size_t n;

	teardown();
	t_setup_opts(&o);
	t_add_protocol(&test_proto, TEST_PROTO);
	ck_assert_int_eq(send_ip(T_OTHER_IP, 9), 0);
	expect_request(T_PEER_IP);
	n = arp_frame(want, t_local_mac, t_peer_mac, ARPOP_REPLY, t_peer_mac, T_PEER_IP,
		      t_local_mac, T_LOCAL_IP);
	t_inject(want, n);
	n = t_build_ipv4(ip, T_LOCAL_IP, T_OTHER_IP, TEST_PROTO, 9, 0, 64, "payload!", 8);
	n = t_build_eth(want, t_peer_mac, t_local_mac, ETH_P_IP, ip, n);
	t_expect_frame(want, n);
	t_expect_no_tx();
}
END_TEST

START_TEST(test_failed_sender_resending_from_error_starts_new_attempt)
{
	unsigned char want[128];

	errs.resend_on_error = 1;
	ck_assert_int_eq(send_ip(HOST9_IP, 1), 0);
	ck_assert_int_eq(send_ip(HOST9_IP, 2), 0);
	expect_request(HOST9_IP);
	t_clock_advance(NEIGH_RETRANS_US);
	expect_request(HOST9_IP);
	t_clock_advance(NEIGH_RETRANS_US);
	expect_request(HOST9_IP);
	t_clock_advance(NEIGH_RETRANS_US);
	/*
	 * The first error makes its sender try again at once: a new attempt
	 * starts and the second packet, not yet reported, waits for it.
	 */
	ck_assert_int_eq(errs.calls, 1);
	expect_request(HOST9_IP);
	t_expect_no_tx();
	ck_assert_int_eq(state_of(HOST9_IP, NULL), NUD_INCOMPLETE);
	inject_reply_from_host9(host9_mac);
	t_expect_frame(want, ip_frame(want, host9_mac, HOST9_IP, 2));
	t_expect_frame(want, ip_frame(want, host9_mac, HOST9_IP, 900));
	t_expect_no_tx();
}
END_TEST

START_TEST(test_resolution_failure_reports_ehostunreach_to_udp_socket)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(9)};
	struct iovec iov = {.iov_base = "x", .iov_len = 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	char buf[16];
	struct iovec riov = {.iov_base = buf, .iov_len = sizeof(buf)};
	struct msghdr rm = {.msg_iov = &riov, .msg_iovlen = 1};
	struct socket *s;
	int one = 1;

	sin.sin_addr.s_addr = HOST9_IP;
	ck_assert_int_eq(nstack_socket(T.ns, AF_INET, SOCK_DGRAM, IPPROTO_UDP, &s), 0);
	ck_assert_int_eq(nstack_setsockopt(s, IPPROTO_IP, IP_RECVERR, &one, sizeof(one)), 0);
	ck_assert_int_eq(nstack_connect(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(nstack_sendmsg(s, &m, 0), 1);
	expect_request(HOST9_IP);
	ck_assert_int_eq(nstack_recvmsg(s, &rm, MSG_DONTWAIT), -EAGAIN);
	t_clock_advance(NEIGH_RETRANS_US);
	expect_request(HOST9_IP);
	t_clock_advance(NEIGH_RETRANS_US);
	expect_request(HOST9_IP);
	t_clock_advance(NEIGH_RETRANS_US - 1);
	ck_assert_int_eq(nstack_recvmsg(s, &rm, MSG_DONTWAIT), -EAGAIN);
	t_clock_advance(1);
	/* As Linux: dst_link_failure() -> ICMP host unreachable -> udp_err(). */
	ck_assert_int_eq(nstack_recvmsg(s, &rm, MSG_DONTWAIT), -EHOSTUNREACH);
	t_expect_no_tx();
	ck_assert_int_eq(nstack_close(s), 0);
}
END_TEST

static Suite *arp_wire_suite(void)
{
	Suite *s = suite_create("arp_wire");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_idle_request_for_us_sends_exact_reply);
	tcase_add_test(tc, test_idle_request_for_other_ip_ignored);
	tcase_add_test(tc, test_idle_address_probe_answered_with_zero_target);
	tcase_add_test(tc, test_unresolved_send_queues_then_reply_flushes_in_order);
	tcase_add_test(tc, test_incomplete_retransmits_every_retrans_time_then_fails);
	tcase_add_test(tc, test_failed_send_restarts_resolution);
	tcase_add_test(tc, test_failed_sender_resending_from_error_starts_new_attempt);
	tcase_add_test(tc, test_incomplete_queue_full_drops_oldest);
	tcase_add_test(tc, test_incomplete_request_from_target_resolves_and_flushes);
	tcase_add_test(tc, test_reachable_second_reply_within_locktime_ignored);
	tcase_add_test(tc, test_reachable_times_out_to_stale_within_random_bounds);
	tcase_add_test(tc, test_stale_send_goes_out_then_delay_probe_unicast);
	tcase_add_test(tc, test_probe_reply_makes_reachable);
	tcase_add_test(tc, test_stale_unused_entry_garbage_collected);
	tcase_add_test(tc, test_permanent_entry_not_changed_by_arp);
	tcase_add_test(tc, test_unsolicited_reply_creates_no_entry);
	tcase_add_test(tc, test_broadcast_reply_to_incomplete_gives_stale);
	tcase_add_test(tc, test_conflicting_claim_of_our_address_ignored);
	tcase_add_test(tc, test_gratuitous_announcement_updates_known_entry);
	tcase_add_test(tc, test_idle_malformed_arp_dropped_and_counted);
	tcase_add_test(tc, test_gratuitous_sends_request_for_own_address);
	tcase_add_test(tc, test_startup_with_gratuitous_option_announces);
	tcase_add_test(tc, test_off_link_destination_resolves_gateway);
	tcase_add_test(tc, test_resolution_failure_reports_ehostunreach_to_udp_socket);
	suite_add_tcase(s, tc);
	return s;
}

NSTACK_SUITE(arp_wire_suite)
