/*
 * Packet-level IPv4 tests: malformed input dropped and counted, the
 * destinations a host accepts, output fragmentation byte for byte, the
 * output errors, loopback, reassembly through the wire.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <string.h>

#include "check_main.h"
#include "checksum.h"
#include "harness.h"
#include "inet.h"
#include "ip.h"
#include "proto/ether.h"
#include "proto/ip.h"
#include "stack.h"

#define TEST_PROTO 253

static unsigned char frame[T_FRAME_MAX];
static unsigned char ipbuf[T_FRAME_MAX];

/* What the test protocol received. */
static struct {
	int calls;
	unsigned int len;
	uint32_t daddr;
	unsigned char data[70000];
} rx;

static int test_proto_rcv(struct sk_buff *skb)
{
	const struct iphdr *iph = (const struct iphdr *)skb_network_header(skb);

	rx.calls++;
	rx.len = skb->len;
	rx.daddr = iph->daddr;
	ck_assert_ptr_eq(skb->data, skb_transport_header(skb));
	if (skb->len <= sizeof(rx.data))
		memcpy(rx.data, skb->data, skb->len);
	kfree_skb(skb);
	return 0;
}

static const struct inet_protocol test_proto = {.handler = test_proto_rcv};

static void setup(void)
{
	t_setup();
	memset(&rx, 0, sizeof(rx));
	t_add_protocol(&test_proto, TEST_PROTO);
}

static void teardown(void)
{
	t_del_protocol(TEST_PROTO);
	t_teardown();
}

static size_t build_frame(void *buf, const uint8_t *dst_mac, uint32_t src, uint32_t dst,
			  uint16_t id, uint16_t frag_off, const void *payload, size_t plen)
{
	size_t n = t_build_ipv4(ipbuf, src, dst, TEST_PROTO, id, frag_off, 64, payload, plen);

	return t_build_eth(buf, dst_mac, t_peer_mac, ETH_P_IP, ipbuf, n);
}

/* Sends plen bytes of TEST_PROTO payload from the stack. */
static int send_ip(uint32_t daddr, const void *payload, size_t plen, const struct ip_tx_params *p)
{
	struct sk_buff *skb;
	int err;

	nstack_lock(T.ns);
	skb = alloc_skb_hdr(T.ns, (unsigned int)plen);
	ck_assert_ptr_nonnull(skb);
	memcpy(skb_put(skb, (unsigned int)plen), payload, plen);
	err = ip_build_and_send(T.ns, skb, 0, daddr, TEST_PROTO, p);
	nstack_unlock(T.ns);
	return err;
}

/* Re-checksums the header at ip after a test changed it. */
static void fix_csum(void *ip)
{
	struct iphdr *iph = ip;

	iph->check = 0;
	iph->check = ip_fast_csum(iph, IP_IHL(iph));
}

/* One malformed-frame case: inject, expect silence and one more count. */
static void expect_dropped(const void *f, size_t len, const char *counter)
{
	uint64_t before = t_stat(counter);

	t_inject(f, len);
	t_expect_no_tx();
	ck_assert_msg(t_stat(counter) == before + 1, "%s not counted", counter);
	ck_assert_int_eq(rx.calls, 0);
}

START_TEST(test_idle_truncated_ethernet_dropped_and_counted)
{
	size_t n = build_frame(frame, t_local_mac, T_PEER_IP, T_LOCAL_IP, 1, 0, "data", 4);

	(void)n;
	expect_dropped(frame, 10, "EthInRunts");
	ck_assert_uint_eq(t_stat("IpInReceives"), 0);
}
END_TEST

START_TEST(test_idle_truncated_ip_header_dropped_and_counted)
{
	build_frame(frame, t_local_mac, T_PEER_IP, T_LOCAL_IP, 1, 0, "data", 4);
	expect_dropped(frame, ETH_HLEN + 19, "IpInHdrErrors");
	ck_assert_uint_eq(t_stat("IpInReceives"), 1);
}
END_TEST

START_TEST(test_idle_bad_ihl_dropped_and_counted)
{
	struct iphdr *iph = (struct iphdr *)(frame + ETH_HLEN);
	size_t n = build_frame(frame, t_local_mac, T_PEER_IP, T_LOCAL_IP, 1, 0, "data", 4);

	iph->ver_ihl = 0x44; /* IHL 4 < 5; checksummed over the real 20 bytes */
	iph->check = 0;
	iph->check = ip_fast_csum(iph, 5);
	expect_dropped(frame, n, "IpInHdrErrors");
	/* IHL 15 in a 24-byte packet: the options run past the data. */
	n = build_frame(frame, t_local_mac, T_PEER_IP, T_LOCAL_IP, 1, 0, "data", 4);
	iph->ver_ihl = 0x4f;
	expect_dropped(frame, ETH_HLEN + 24, "IpInHdrErrors");
	(void)n;
}
END_TEST

START_TEST(test_idle_bad_version_dropped_and_counted)
{
	struct iphdr *iph = (struct iphdr *)(frame + ETH_HLEN);
	size_t n = build_frame(frame, t_local_mac, T_PEER_IP, T_LOCAL_IP, 1, 0, "data", 4);

	iph->ver_ihl = 0x65;
	fix_csum(iph);
	expect_dropped(frame, n, "IpInHdrErrors");
}
END_TEST

START_TEST(test_idle_bad_checksum_dropped_and_counted)
{
	struct iphdr *iph = (struct iphdr *)(frame + ETH_HLEN);
	size_t n = build_frame(frame, t_local_mac, T_PEER_IP, T_LOCAL_IP, 1, 0, "data", 4);

	iph->check ^= htons(0x0100);
	expect_dropped(frame, n, "IpInCsumErrors");
	ck_assert_uint_eq(t_stat("IpInHdrErrors"), 1); /* Linux counts both */
}
END_TEST

START_TEST(test_idle_tot_len_past_frame_dropped_and_counted)
{
	struct iphdr *iph = (struct iphdr *)(frame + ETH_HLEN);
	size_t n = build_frame(frame, t_local_mac, T_PEER_IP, T_LOCAL_IP, 1, 0, "0123456789", 10);

	/* 100 claimed, 30 present (the frame has 46 bytes of IP incl. padding). */
	iph->tot_len = htons(100);
	fix_csum(iph);
	expect_dropped(frame, n, "IpInTruncatedPkts");
}
END_TEST

START_TEST(test_idle_tot_len_below_header_dropped_and_counted)
{
	struct iphdr *iph = (struct iphdr *)(frame + ETH_HLEN);
	size_t n = build_frame(frame, t_local_mac, T_PEER_IP, T_LOCAL_IP, 1, 0, "data", 4);

	iph->tot_len = htons(16);
	fix_csum(iph);
	expect_dropped(frame, n, "IpInHdrErrors");
}
END_TEST

START_TEST(test_idle_reserved_flag_dropped_and_counted)
{
	size_t n = build_frame(frame, t_local_mac, T_PEER_IP, T_LOCAL_IP, 1, IP_CE, "data", 4);

	expect_dropped(frame, n, "IpInHdrErrors");
}
END_TEST

START_TEST(test_idle_other_destination_dropped_and_counted)
{
	size_t n = build_frame(frame, t_local_mac, T_PEER_IP, T_IP(198, 18, 0, 99), 1, 0, "d", 1);

	expect_dropped(frame, n, "IpInAddrErrors");
	n = build_frame(frame, t_local_mac, T_PEER_IP, T_IP(224, 0, 0, 2), 1, 0, "d", 1);
	expect_dropped(frame, n, "IpInAddrErrors");
}
END_TEST

START_TEST(test_idle_martian_sources_dropped_and_counted)
{
	const uint32_t bad[] = {
	    T_IP(224, 1, 2, 3), T_IP(255, 255, 255, 255), T_IP(127, 0, 0, 1), T_IP(198, 18, 0, 255),
	    T_LOCAL_IP,		T_IP(240, 0, 0, 1),	  T_IP(0, 1, 2, 3)};

	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = build_frame(frame, t_local_mac, bad[i], T_LOCAL_IP, 1, 0, "d", 1);

		expect_dropped(frame, n, "IpInAddrErrors");
	}
}
END_TEST

START_TEST(test_idle_accepted_destinations_delivered)
{
	const uint32_t ok[] = {T_LOCAL_IP, T_IP(255, 255, 255, 255), T_IP(198, 18, 0, 255),
			       T_IP(224, 0, 0, 1)};

	for (unsigned int i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		size_t n = build_frame(frame, i == 0 ? t_local_mac : t_bcast_mac, T_PEER_IP, ok[i],
				       1, 0, "data", 4);

		t_inject(frame, n);
		ck_assert_int_eq(rx.calls, (int)i + 1);
		ck_assert_uint_eq(rx.daddr, ok[i]);
		/* Padding trimmed: exactly the 4 payload bytes. */
		ck_assert_uint_eq(rx.len, 4);
		ck_assert_mem_eq(rx.data, "data", 4);
	}
	ck_assert_uint_eq(t_stat("IpInDelivers"), 4);
	t_expect_no_tx();
}
END_TEST

START_TEST(test_idle_options_skipped)
{
	/* IHL 6: a NOP option padded with EOL. */
	unsigned char *ip = frame + ETH_HLEN;
	struct iphdr *iph = (struct iphdr *)ip;
	size_t n;

	build_frame(frame, t_local_mac, T_PEER_IP, T_LOCAL_IP, 1, 0, "data", 4);
	memmove(ip + 24, ip + 20, 4);
	ip[20] = 1;
	ip[21] = 1;
	ip[22] = 0;
	ip[23] = 0;
	iph->ver_ihl = 0x46;
	iph->tot_len = htons(28);
	fix_csum(iph);
	n = ETH_HLEN + 28;
	t_inject(frame, n < 60 ? 60 : n);
	ck_assert_int_eq(rx.calls, 1);
	ck_assert_uint_eq(rx.len, 4);
	ck_assert_mem_eq(rx.data, "data", 4);
}
END_TEST

START_TEST(test_idle_large_send_fragmented_exactly)
{
	static unsigned char payload[3000], want[2000];
	const struct ip_tx_params p = {.id_set = true, .id = 0x5151, .ttl = 33, .tos = 0x08};
	static const struct {
		unsigned int off, len;
		uint16_t fo;
	} frags[] = {{0, 1480, IP_MF | 0}, {1480, 1480, IP_MF | 185}, {2960, 40, 370}};

	for (unsigned int i = 0; i < sizeof(payload); i++)
		payload[i] = (unsigned char)(i ^ (i >> 8));
	ck_assert_int_eq(send_ip(T_PEER_IP, payload, sizeof(payload), &p), 0);
	for (unsigned int i = 0; i < 3; i++) {
		size_t n = t_build_ipv4(ipbuf, T_LOCAL_IP, T_PEER_IP, TEST_PROTO, 0x5151,
					frags[i].fo, 33, payload + frags[i].off, frags[i].len);

		ipbuf[1] = 0x08;
		fix_csum(ipbuf);
		n = t_build_eth(want, t_peer_mac, t_local_mac, ETH_P_IP, ipbuf, n);
		t_expect_frame(want, n);
	}
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("IpFragOKs"), 1);
	ck_assert_uint_eq(t_stat("IpFragCreates"), 3);
	ck_assert_uint_eq(t_stat("IpOutRequests"), 1);
}
END_TEST

START_TEST(test_idle_exactly_mtu_not_fragmented)
{
	static unsigned char payload[1480], want[1600];
	const struct ip_tx_params p = {.id_set = true, .id = 1, .df = true};
	size_t n;

	memset(payload, 0x5a, sizeof(payload));
	ck_assert_int_eq(send_ip(T_PEER_IP, payload, sizeof(payload), &p), 0);
	n = t_build_ipv4(ipbuf, T_LOCAL_IP, T_PEER_IP, TEST_PROTO, 1, IP_DF, 64, payload,
			 sizeof(payload));
	t_expect_frame(want, t_build_eth(want, t_peer_mac, t_local_mac, ETH_P_IP, ipbuf, n));
	ck_assert_uint_eq(t_stat("IpFragCreates"), 0);
}
END_TEST

START_TEST(test_idle_df_too_big_fails_emsgsize)
{
	static unsigned char payload[1481];
	const struct ip_tx_params p = {.df = true};

	ck_assert_int_eq(send_ip(T_PEER_IP, payload, sizeof(payload), &p), -EMSGSIZE);
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("IpFragFails"), 1);
}
END_TEST

START_TEST(test_idle_over_65535_fails_emsgsize)
{
	static unsigned char payload[65516];

	ck_assert_int_eq(send_ip(T_PEER_IP, payload, sizeof(payload), NULL), -EMSGSIZE);
	t_expect_no_tx();
	/* 65515 bytes is the largest payload: 45 fragments. */
	ck_assert_int_eq(send_ip(T_PEER_IP, payload, sizeof(payload) - 1, NULL), 0);
	ck_assert_uint_eq(t_stat("IpFragCreates"), 45);
	for (int i = 0; i < 45; i++)
		t_recv(frame, sizeof(frame));
	t_expect_no_tx();
}
END_TEST

START_TEST(test_idle_broadcast_needs_broadcast_ok)
{
	const struct ip_tx_params ok = {.broadcast_ok = true, .id_set = true, .id = 3};
	unsigned char want[64];
	size_t n;

	ck_assert_int_eq(send_ip(T_IP(255, 255, 255, 255), "b", 1, NULL), -EACCES);
	ck_assert_int_eq(send_ip(T_IP(198, 18, 0, 255), "b", 1, NULL), -EACCES);
	t_expect_no_tx();
	ck_assert_int_eq(send_ip(T_IP(198, 18, 0, 255), "b", 1, &ok), 0);
	n = t_build_ipv4(ipbuf, T_LOCAL_IP, T_IP(198, 18, 0, 255), TEST_PROTO, 3, 0, 64, "b", 1);
	t_expect_frame(want, t_build_eth(want, t_bcast_mac, t_local_mac, ETH_P_IP, ipbuf, n));
}
END_TEST

START_TEST(test_idle_multicast_mapped_to_group_mac)
{
	const struct ip_tx_params p = {.id_set = true, .id = 4, .ttl = 1};
	const uint8_t mac[6] = {0x01, 0x00, 0x5e, 0x01, 0x02, 0x03};
	unsigned char want[64];
	size_t n;

	/* 239.129.2.3: the 24th bit from the end is dropped (RFC 1112 6.4). */
	ck_assert_int_eq(send_ip(T_IP(239, 129, 2, 3), "m", 1, &p), 0);
	n = t_build_ipv4(ipbuf, T_LOCAL_IP, T_IP(239, 129, 2, 3), TEST_PROTO, 4, 0, 1, "m", 1);
	t_expect_frame(want, t_build_eth(want, mac, t_local_mac, ETH_P_IP, ipbuf, n));
}
END_TEST

START_TEST(test_idle_send_to_self_loops_back)
{
	static unsigned char payload[5000];

	memset(payload, 0x77, sizeof(payload));
	ck_assert_int_eq(send_ip(T_LOCAL_IP, payload, sizeof(payload), NULL), 0);
	t_expect_no_tx();
	ck_assert_int_eq(rx.calls, 0); /* next RX round, no recursion */
	t_clock_advance(0);
	ck_assert_int_eq(rx.calls, 1);
	ck_assert_uint_eq(rx.len, sizeof(payload));
	ck_assert_mem_eq(rx.data, payload, sizeof(payload));
	t_expect_no_tx();
}
END_TEST

static void no_gateway(struct nstack_config *cfg)
{
	cfg->gateway = 0;
}

START_TEST(test_no_gateway_off_link_fails_enetunreach)
{
	const struct t_opts o = {.tweak = no_gateway};

	teardown();
	t_setup_opts(&o);
	t_add_protocol(&test_proto, TEST_PROTO);
	ck_assert_int_eq(send_ip(T_OTHER_IP, "x", 1, NULL), -ENETUNREACH);
	ck_assert_int_eq(send_ip(T_IP(127, 0, 0, 1), "x", 1, NULL), -ENETUNREACH);
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("IpOutNoRoutes"), 2);
}
END_TEST

START_TEST(test_fragments_out_of_order_with_duplicate_reassembled)
{
	static unsigned char payload[4000];
	static const unsigned int order[] = {2, 0, 2, 1};
	size_t n;

	for (unsigned int i = 0; i < sizeof(payload); i++)
		payload[i] = (unsigned char)(i * 13);
	for (unsigned int k = 0; k < 4; k++) {
		unsigned int i = order[k];
		unsigned int off = i * 1480, len = i < 2 ? 1480 : 4000 - 2960;

		n = build_frame(frame, t_local_mac, T_PEER_IP, T_LOCAL_IP, 0x1111,
				(uint16_t)((off / 8) | (i < 2 ? IP_MF : 0)), payload + off, len);
		t_inject(frame, n);
		ck_assert_int_eq(rx.calls, k < 3 ? 0 : 1);
	}
	ck_assert_uint_eq(rx.len, sizeof(payload));
	ck_assert_mem_eq(rx.data, payload, sizeof(payload));
	ck_assert_uint_eq(t_stat("IpReasmOKs"), 1);
	ck_assert_uint_eq(t_stat("IpReasmFails"), 0);
	t_expect_no_tx();
}
END_TEST

START_TEST(test_fragments_overlapping_discard_datagram)
{
	static unsigned char payload[64];
	size_t n;

	memset(payload, 0x31, sizeof(payload));
	n = build_frame(frame, t_local_mac, T_PEER_IP, T_LOCAL_IP, 0x2222, IP_MF, payload, 24);
	t_inject(frame, n);
	/* Bytes 16..40 overlap the first piece differently. */
	n = build_frame(frame, t_local_mac, T_PEER_IP, T_LOCAL_IP, 0x2222, 2, payload, 24);
	t_inject(frame, n);
	ck_assert_uint_eq(t_stat("IpReasmOverlaps"), 1);
	ck_assert_uint_eq(t_stat("IpReasmFails"), 1);
	/* The missing tail now starts a new queue that cannot complete. */
	n = build_frame(frame, t_local_mac, T_PEER_IP, T_LOCAL_IP, 0x2222, 3, payload, 8);
	t_inject(frame, n);
	ck_assert_int_eq(rx.calls, 0);
	t_clock_advance(IPFRAG_TIME_US);
	ck_assert_uint_eq(t_stat("IpReasmTimeout"), 1);
	t_expect_no_tx(); /* that queue never saw a first fragment */
}
END_TEST

START_TEST(test_fragments_reassembled_over_65535_dropped)
{
	static unsigned char payload[1480];
	unsigned int off = 0;

	memset(payload, 0x42, sizeof(payload));
	/* 65520 bytes of payload + 20 of header = 65540 > 65535. */
	while (off < 65520) {
		unsigned int len = 65520 - off > 1480 ? 1480 : 65520 - off;
		bool last = off + len == 65520;
		size_t n = build_frame(frame, t_local_mac, T_PEER_IP, T_LOCAL_IP, 0x3333,
				       (uint16_t)((off / 8) | (last ? 0 : IP_MF)), payload, len);

		t_inject(frame, n);
		off += len;
	}
	ck_assert_int_eq(rx.calls, 0);
	ck_assert_uint_eq(t_stat("IpReasmFails"), 1);
	ck_assert_uint_eq(t_stat("IpReasmOKs"), 0);
	t_expect_no_tx();
}
END_TEST

/* A 28-byte packet with a 4-byte option area holding opt, in frame. */
static size_t build_with_options(const uint8_t opt[4])
{
	unsigned char *ip = frame + ETH_HLEN;
	struct iphdr *iph = (struct iphdr *)ip;

	build_frame(frame, t_local_mac, T_PEER_IP, T_LOCAL_IP, 0x66, 0, "data", 4);
	memmove(ip + 24, ip + 20, 4);
	memcpy(ip + 20, opt, 4);
	iph->ver_ihl = 0x46;
	iph->tot_len = htons(28);
	fix_csum(iph);
	return 60;
}

START_TEST(test_idle_malformed_option_sends_parameter_problem)
{
	/* A timestamp option claiming 9 bytes where 4 remain. */
	const uint8_t opt[4] = {0x44, 9, 5, 0};
	unsigned char orig[28], icmp[64], want[128];
	struct iphdr *iph = (struct iphdr *)ipbuf;
	size_t n = build_with_options(opt);
	uint16_t csum;

	memcpy(orig, frame + ETH_HLEN, sizeof(orig));
	t_inject(frame, n);
	ck_assert_int_eq(rx.calls, 0);
	ck_assert_uint_eq(t_stat("IpInHdrErrors"), 1);
	/* RFC 792 parameter problem, pointer 20: the option's first octet. */
	memset(icmp, 0, 8);
	icmp[0] = 12;
	icmp[4] = 20;
	memcpy(icmp + 8, orig, sizeof(orig));
	csum = csum_fold(csum_partial(icmp, 8 + sizeof(orig), 0));
	memcpy(icmp + 2, &csum, 2);
	n = t_build_ipv4(ipbuf, T_LOCAL_IP, T_PEER_IP, IPPROTO_ICMP, 0, 0, 64, icmp,
			 8 + sizeof(orig));
	iph->tos = 0xc0;
	n = t_build_eth(want, t_peer_mac, t_local_mac, ETH_P_IP, ipbuf, n);
	{
		unsigned char got[128];
		size_t len = t_recv(got, sizeof(got));
		struct iphdr *w = (struct iphdr *)(want + ETH_HLEN);

		ck_assert_uint_ge(len, ETH_HLEN + IP_HLEN_MIN);
		w->id = ((struct iphdr *)(got + ETH_HLEN))->id;
		fix_csum(w);
		ck_assert_uint_eq(len, n);
		ck_assert_mem_eq(got, want, n);
	}
	t_expect_no_tx();
}
END_TEST

START_TEST(test_idle_source_routed_packet_dropped)
{
	/* Loose source route, length 3, pointer 4: framed right, still refused. */
	const uint8_t opt[4] = {0x83, 3, 4, 0};

	t_inject(frame, build_with_options(opt));
	ck_assert_int_eq(rx.calls, 0);
	ck_assert_uint_eq(t_stat("IpInDiscards"), 1);
	ck_assert_uint_eq(t_stat("IpInHdrErrors"), 0);
	t_expect_no_tx();
}
END_TEST

START_TEST(test_idle_truncated_option_length_octet_rejected)
{
	/* Three NOPs, then an option type with no room for its length. */
	const uint8_t opt[4] = {1, 1, 1, 0x44};

	t_inject(frame, build_with_options(opt));
	ck_assert_int_eq(rx.calls, 0);
	ck_assert_uint_eq(t_stat("IpInHdrErrors"), 1);
	ck_assert_uint_eq(t_recv(ipbuf, sizeof(ipbuf)), ETH_HLEN + 20 + 8 + 28);
	ck_assert_uint_eq(ipbuf[ETH_HLEN + 20], 12);
	ck_assert_uint_eq(ipbuf[ETH_HLEN + 24], 23); /* pointer at the lone octet */
}
END_TEST

/* xorshift32 for the fuzz test: a fixed sequence, so a failure repeats. */
static uint32_t fuzz_next(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

START_TEST(test_idle_random_frames_never_crash_or_leak)
{
	uint32_t x = 0x9e3779b9;
	unsigned char *ip = frame + ETH_HLEN;
	size_t len;

	for (int i = 0; i < 3000; i++) {
		unsigned int kind = fuzz_next(&x) % 4;

		len = ETH_HLEN + fuzz_next(&x) % 120;
		for (size_t j = 0; j < len; j++)
			frame[j] = (unsigned char)fuzz_next(&x);
		memcpy(frame, (fuzz_next(&x) & 1) ? t_local_mac : t_bcast_mac, 6);
		frame[12] = 0x08;
		frame[13] = kind == 0 ? 0x06 : 0x00;
		if (kind >= 2 && len >= ETH_HLEN + IP_HLEN_MIN) {
			/* A plausible header so the upper layers see the junk too. */
			struct iphdr *iph = (struct iphdr *)ip;
			const uint8_t protos[] = {IPPROTO_ICMP, IPPROTO_UDP, TEST_PROTO, 254};

			iph->ver_ihl = 0x45;
			iph->tot_len = htons((uint16_t)(len - ETH_HLEN));
			/* A quarter are fragments with small offsets. */
			if (fuzz_next(&x) % 4)
				iph->frag_off = 0;
			else
				iph->frag_off &= htons(IP_MF | 0x0007);
			iph->protocol = protos[fuzz_next(&x) % 4];
			iph->saddr = T_IP(198, 18, 0, 1 + fuzz_next(&x) % 8);
			iph->daddr = (fuzz_next(&x) & 3) ? T_LOCAL_IP : T_IP(255, 255, 255, 255);
			fix_csum(iph);
			if (kind == 3 && iph->protocol == IPPROTO_ICMP && len >= ETH_HLEN + 28) {
				struct icmphdr_like {
					uint8_t type, code;
					uint16_t check;
				} *ih = (struct icmphdr_like *)(ip + IP_HLEN_MIN);

				ih->type = (uint8_t)(fuzz_next(&x) % 16);
				ih->check = 0;
				ih->check =
				    csum_fold(csum_partial(ih, len - ETH_HLEN - IP_HLEN_MIN, 0));
			}
		}
		t_inject(frame, len);
		while (t_try_recv(ipbuf, sizeof(ipbuf), &len))
			;
	}
	/* Let every reassembly queue and ARP resolution run out. */
	for (int i = 0; i < 70; i++) {
		t_clock_advance(1000 * 1000);
		while (t_try_recv(ipbuf, sizeof(ipbuf), &len))
			;
	}
	ck_assert_uint_gt(t_stat("IpInReceives"), 1000);
	ck_assert_uint_gt(t_stat("IpInHdrErrors") + t_stat("IpInCsumErrors"), 0);
}
END_TEST

static Suite *ip_wire_suite(void)
{
	Suite *s = suite_create("ip_wire");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_idle_truncated_ethernet_dropped_and_counted);
	tcase_add_test(tc, test_idle_truncated_ip_header_dropped_and_counted);
	tcase_add_test(tc, test_idle_bad_ihl_dropped_and_counted);
	tcase_add_test(tc, test_idle_bad_version_dropped_and_counted);
	tcase_add_test(tc, test_idle_bad_checksum_dropped_and_counted);
	tcase_add_test(tc, test_idle_tot_len_past_frame_dropped_and_counted);
	tcase_add_test(tc, test_idle_tot_len_below_header_dropped_and_counted);
	tcase_add_test(tc, test_idle_reserved_flag_dropped_and_counted);
	tcase_add_test(tc, test_idle_other_destination_dropped_and_counted);
	tcase_add_test(tc, test_idle_martian_sources_dropped_and_counted);
	tcase_add_test(tc, test_idle_accepted_destinations_delivered);
	tcase_add_test(tc, test_idle_options_skipped);
	tcase_add_test(tc, test_idle_malformed_option_sends_parameter_problem);
	tcase_add_test(tc, test_idle_source_routed_packet_dropped);
	tcase_add_test(tc, test_idle_truncated_option_length_octet_rejected);
	tcase_add_test(tc, test_idle_large_send_fragmented_exactly);
	tcase_add_test(tc, test_idle_exactly_mtu_not_fragmented);
	tcase_add_test(tc, test_idle_df_too_big_fails_emsgsize);
	tcase_add_test(tc, test_idle_over_65535_fails_emsgsize);
	tcase_add_test(tc, test_idle_broadcast_needs_broadcast_ok);
	tcase_add_test(tc, test_idle_multicast_mapped_to_group_mac);
	tcase_add_test(tc, test_idle_send_to_self_loops_back);
	tcase_add_test(tc, test_no_gateway_off_link_fails_enetunreach);
	tcase_add_test(tc, test_fragments_out_of_order_with_duplicate_reassembled);
	tcase_add_test(tc, test_fragments_overlapping_discard_datagram);
	tcase_add_test(tc, test_fragments_reassembled_over_65535_dropped);
	tcase_add_test(tc, test_idle_random_frames_never_crash_or_leak);
	suite_add_tcase(s, tc);
	return s;
}

NSTACK_SUITE(ip_wire_suite)
