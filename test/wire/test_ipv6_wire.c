/*
 * Packet-level IPv6 tests: DAD and router solicitation at start, neighbour
 * solicitations answered byte for byte, our own resolution with a held
 * packet, NUD probes, SLAAC from a router advertisement, echo, and
 * malformed headers, extension headers and ND messages counted and dropped.
 *
 * The stack is 2001:2::2/64 (static) and fe80::ff:fe00:2 (from its MAC
 * 02:00:00:00:00:02); the peer 2001:2::1 and fe80::ff:fe00:1.
 */
#include <arpa/inet.h>
#include <check.h>
#include <string.h>

#include "check_main.h"
#include "harness.h"
#include "icmpv6.h"
#include "ipv6.h"
#include "ndisc.h"
#include "proto/ether.h"
#include "proto/ipv6.h"
#include "stack.h"

static const struct in6_addr ll_local = {
    .s6_addr = {0xfe, 0x80, [11] = 0xff, [12] = 0xfe, [15] = 0x02}};
static const struct in6_addr ll_peer = {
    .s6_addr = {0xfe, 0x80, [11] = 0xff, [12] = 0xfe, [15] = 0x01}};
static const struct in6_addr g_local = {.s6_addr = {0x20, 0x01, 0x00, 0x02, [15] = 0x02}};
static const struct in6_addr g_peer = {.s6_addr = {0x20, 0x01, 0x00, 0x02, [15] = 0x01}};
static const struct in6_addr any6;
static const struct in6_addr all_nodes = {.s6_addr = {0xff, 0x02, [15] = 0x01}};
static const struct in6_addr all_routers = {.s6_addr = {0xff, 0x02, [15] = 0x02}};
static const uint8_t other_mac[6] = {0x02, 0, 0, 0, 0, 0x99};

static _Alignas(8) unsigned char frame[T_FRAME_MAX];
static _Alignas(8) unsigned char want[T_FRAME_MAX];
static _Alignas(8) unsigned char pkt[T_FRAME_MAX];
static _Alignas(8) unsigned char body[T_FRAME_MAX];

static void tweak_static(struct nstack_config *cfg)
{
	cfg->ipv6 = true;
	cfg->addr6 = g_local;
	cfg->prefixlen6 = 64;
}

static void tweak_slaac(struct nstack_config *cfg)
{
	cfg->ipv6 = true;
}

/* An IPv6 header and payload. */
static size_t build_ip6(void *buf, const struct in6_addr *src, const struct in6_addr *dst,
			uint8_t nexthdr, uint8_t hops, const void *payload, size_t plen)
{
	struct ipv6hdr h = {
	    .vtc_flow = htonl(6u << 28),
	    .payload_len = htons((uint16_t)plen),
	    .nexthdr = nexthdr,
	    .hop_limit = hops,
	    .saddr = *src,
	    .daddr = *dst,
	};

	memmove((unsigned char *)buf + IPV6_HLEN, payload, plen);
	memcpy(buf, &h, sizeof(h));
	return IPV6_HLEN + plen;
}

/* An ICMPv6 message with a correct checksum; data32 in host order. */
static size_t build_icmp6(void *buf, const struct in6_addr *src, const struct in6_addr *dst,
			  uint8_t type, uint8_t code, uint32_t data32, const void *rest,
			  size_t rlen)
{
	struct icmp6hdr ih = {.icmp6_type = type, .icmp6_code = code};
	unsigned char *p = buf;

	ih.un.un_data32 = htonl(data32);
	memmove(p + ICMP6_HLEN, rest, rlen);
	memcpy(p, &ih, sizeof(ih));
	ih.icmp6_cksum = csum_ipv6_magic(src, dst, ICMP6_HLEN + rlen, NEXTHDR_ICMP, p);
	memcpy(p, &ih, sizeof(ih));
	return ICMP6_HLEN + rlen;
}

/* Ethernet + IPv6 + ICMPv6 in frame. */
static size_t build_icmp6_frame(void *buf, const uint8_t dmac[6], const uint8_t smac[6],
				const struct in6_addr *src, const struct in6_addr *dst,
				uint8_t hops, uint8_t type, uint8_t code, uint32_t data32,
				const void *rest, size_t rlen)
{
	size_t n = build_icmp6(body, src, dst, type, code, data32, rest, rlen);

	n = build_ip6(pkt, src, dst, NEXTHDR_ICMP, hops, body, n);
	return t_build_eth(buf, dmac, smac, ETH_P_IPV6, pkt, n);
}

/* A target address followed by an optional link-layer option (type 0: none). */
static size_t nd_rest(void *buf, const struct in6_addr *target, uint8_t opt, const uint8_t mac[6])
{
	unsigned char *p = buf;

	memcpy(p, target, 16);
	if (!opt)
		return 16;
	p[16] = opt;
	p[17] = 1;
	memcpy(p + 18, mac, 6);
	return 24;
}

static void sol_mac(const struct in6_addr *a, uint8_t mac[6])
{
	struct in6_addr sol;

	addrconf_addr_solict_mult(a, &sol);
	ipv6_eth_mc_map(&sol, mac);
}

static struct in6_addr sol_addr(const struct in6_addr *a)
{
	struct in6_addr sol;

	addrconf_addr_solict_mult(a, &sol);
	return sol;
}

/* The next frame that is not a router solicitation (those come every 4 s at start). */
static bool recv6(void *buf, size_t *len)
{
	const unsigned char *p = buf;

	while (t_try_recv(buf, T_FRAME_MAX, len)) {
		if (*len >= ETH_HLEN + IPV6_HLEN + 1 && p[12] == 0x86 && p[13] == 0xdd &&
		    p[ETH_HLEN + 6] == NEXTHDR_ICMP &&
		    p[ETH_HLEN + IPV6_HLEN] == NDISC_ROUTER_SOLICITATION)
			continue;
		return true;
	}
	return false;
}

static void expect6(const void *w, size_t len)
{
	static unsigned char got[T_FRAME_MAX];
	size_t n = 0;

	ck_assert_msg(recv6(got, &n), "expected a frame from the stack, got none");
	if (n != len || memcmp(got, w, len) != 0) {
		t_hexdump("expected", w, len);
		t_hexdump("got", got, n);
		ck_abort_msg("frame mismatch (expected %zu bytes, got %zu)", len, n);
	}
}

static void expect_no_tx6(void)
{
	static unsigned char got[T_FRAME_MAX];
	size_t n;

	if (recv6(got, &n)) {
		t_hexdump("unexpected", got, n);
		ck_abort_msg("unexpected frame of %zu bytes", n);
	}
}

/* Our DAD solicitation for a: from ::, to its solicited-node group, no option. */
static size_t dad_ns(void *buf, const struct in6_addr *a)
{
	uint8_t mac[6];
	struct in6_addr sol = sol_addr(a);
	unsigned char rest[32];
	size_t r = nd_rest(rest, a, 0, NULL);

	sol_mac(a, mac);
	return build_icmp6_frame(buf, mac, t_local_mac, &any6, &sol, 255,
				 NDISC_NEIGHBOUR_SOLICITATION, 0, 0, rest, r);
}

/* Lets DAD of the configured addresses finish; returns with no frame pending. */
static void bring_up(void)
{
	size_t n;

	t_clock_advance(1000 * 1000);
	while (t_try_recv(frame, sizeof(frame), &n))
		;
	t_clock_advance(1000 * 1000);
	while (t_try_recv(frame, sizeof(frame), &n))
		;
}

static void setup_static(void)
{
	struct t_opts o = {.tweak = tweak_static};

	t_setup_opts(&o);
}

static void setup_static_up(void)
{
	setup_static();
	bring_up();
}

static void setup_slaac(void)
{
	struct t_opts o = {.tweak = tweak_slaac};

	t_setup_opts(&o);
}

/* An echo request from the peer's global address to ours, hop limit 64. */
static size_t peer_echo(void *buf, const uint8_t dmac[6], const struct in6_addr *src,
			const struct in6_addr *dst, uint16_t seq)
{
	uint32_t idseq = (0x4242u << 16) | seq;

	return build_icmp6_frame(buf, dmac, t_peer_mac, src, dst, 64, ICMPV6_ECHO_REQUEST, 0, idseq,
				 "abcdefgh", 8);
}

START_TEST(test_start_dad_from_unspecified_then_router_solicitation)
{
	size_t n, a, b;
	unsigned char rest[32];
	size_t r;

	expect_no_tx6();
	t_clock_advance(1000 * 1000 - 1);
	/* Both addresses solicit once from ::, in the order of their random delays. */
	n = t_recv(frame, sizeof(frame));
	a = dad_ns(want, &ll_local);
	if (n != a || memcmp(frame, want, a) != 0) {
		b = dad_ns(want, &g_local);
		ck_assert_uint_eq(n, b);
		ck_assert_mem_eq(frame, want, b);
		t_expect_frame(want, dad_ns(want, &ll_local));
	} else {
		t_expect_frame(want, dad_ns(want, &g_local));
	}
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("Icmp6OutNeighborSolicits"), 2);
	/* Not yet ours: an echo to the tentative address is not answered. */
	t_inject(frame, peer_echo(frame, t_local_mac, &g_peer, &g_local, 1));
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("Ip6InAddrErrors"), 1);
	/* RetransTimer later DAD is over: a router solicitation from the link-local address. */
	t_clock_advance(1000 * 1000 + 1);
	r = 0;
	rest[r++] = ND_OPT_SOURCE_LL_ADDR;
	rest[r++] = 1;
	memcpy(rest + r, t_local_mac, 6);
	r += 6;
	n = build_icmp6_frame(want, (const uint8_t[6]){0x33, 0x33, 0, 0, 0, 2}, t_local_mac,
			      &ll_local, &all_routers, 255, NDISC_ROUTER_SOLICITATION, 0, 0, rest,
			      r);
	t_expect_frame(want, n);
	t_expect_no_tx();
	/* Then every RTR_SOLICITATION_INTERVAL, three in all. */
	t_clock_advance(NDISC_RTR_SOLICIT_INTERVAL - 1);
	t_expect_no_tx();
	t_clock_advance(1);
	t_expect_frame(want, n);
	t_clock_advance(NDISC_RTR_SOLICIT_INTERVAL);
	t_expect_frame(want, n);
	t_clock_advance(NDISC_RTR_SOLICIT_INTERVAL * 3);
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("Icmp6OutRouterSolicits"), 3);
}
END_TEST

/* The NA we send for target to dst: S and O as given, our MAC as option when opt. */
static size_t our_na(void *buf, const uint8_t dmac[6], const struct in6_addr *target,
		     const struct in6_addr *dst, uint32_t flags, bool opt)
{
	unsigned char rest[32];
	size_t r = nd_rest(rest, target, opt ? ND_OPT_TARGET_LL_ADDR : 0, t_local_mac);

	return build_icmp6_frame(buf, dmac, t_local_mac, target, dst, 255,
				 NDISC_NEIGHBOUR_ADVERTISEMENT, 0, flags, rest, r);
}

/* A peer's multicast NS for target from src with its MAC as source option. */
static size_t peer_ns(void *buf, const struct in6_addr *src, const struct in6_addr *target)
{
	unsigned char rest[32];
	size_t r = nd_rest(rest, target, ND_OPT_SOURCE_LL_ADDR, t_peer_mac);
	struct in6_addr sol = sol_addr(target);
	uint8_t mac[6];

	sol_mac(target, mac);
	return build_icmp6_frame(buf, mac, t_peer_mac, src, &sol, 255, NDISC_NEIGHBOUR_SOLICITATION,
				 0, 0, rest, r);
}

START_TEST(test_up_ns_for_link_local_answered_solicited_override)
{
	t_inject(frame, peer_ns(frame, &ll_peer, &ll_local));
	expect6(want, our_na(want, t_peer_mac, &ll_local, &ll_peer,
			     ND_NA_FLAG_SOLICITED | ND_NA_FLAG_OVERRIDE, true));
	expect_no_tx6();
	ck_assert_uint_eq(t_stat("Icmp6InNeighborSolicits"), 1);
	ck_assert_uint_eq(t_stat("Icmp6OutNeighborAdvertisements"), 1);
	/* The asker was learnt from its option. */
	ck_assert_int_eq(ndisc_lookup_state(T.ns, &ll_peer, NULL), NUD_DELAY);
}
END_TEST

START_TEST(test_up_ns_for_global_answered_solicited_override)
{
	t_inject(frame, peer_ns(frame, &g_peer, &g_local));
	expect6(want, our_na(want, t_peer_mac, &g_local, &g_peer,
			     ND_NA_FLAG_SOLICITED | ND_NA_FLAG_OVERRIDE, true));
	expect_no_tx6();
}
END_TEST

START_TEST(test_up_unicast_ns_answered_without_option_nor_override)
{
	unsigned char rest[32];
	size_t r = nd_rest(rest, &g_local, 0, NULL);

	/* A NUD probe from a peer we know. */
	nstack_lock(T.ns);
	ndisc_add_permanent(T.ns, &g_peer, t_peer_mac);
	nstack_unlock(T.ns);
	t_inject(frame, build_icmp6_frame(frame, t_local_mac, t_peer_mac, &g_peer, &g_local, 255,
					  NDISC_NEIGHBOUR_SOLICITATION, 0, 0, rest, r));
	expect6(want, our_na(want, t_peer_mac, &g_local, &g_peer, ND_NA_FLAG_SOLICITED, false));
	expect_no_tx6();
}
END_TEST

START_TEST(test_up_ns_for_other_address_ignored)
{
	static const struct in6_addr other = {.s6_addr = {0x20, 0x01, 0, 2, [15] = 0x77}};

	t_inject(frame, peer_ns(frame, &g_peer, &other));
	expect_no_tx6();
	ck_assert_uint_eq(t_stat("Icmp6InErrors"), 0);
}
END_TEST

/* Our echo reply to the peer's echo (peer_echo with seq), from src to dst. */
static size_t our_echo_reply(void *buf, const uint8_t dmac[6], const struct in6_addr *src,
			     const struct in6_addr *dst, uint16_t seq)
{
	return build_icmp6_frame(buf, dmac, t_local_mac, src, dst, 64, ICMPV6_ECHO_REPLY, 0,
				 (0x4242u << 16) | seq, "abcdefgh", 8);
}

START_TEST(test_up_echo_request_sends_exact_reply)
{
	nstack_lock(T.ns);
	ndisc_add_permanent(T.ns, &g_peer, t_peer_mac);
	nstack_unlock(T.ns);
	t_inject(frame, peer_echo(frame, t_local_mac, &g_peer, &g_local, 7));
	expect6(want, our_echo_reply(want, t_peer_mac, &g_local, &g_peer, 7));
	expect_no_tx6();
	ck_assert_uint_eq(t_stat("Icmp6InEchos"), 1);
	ck_assert_uint_eq(t_stat("Icmp6OutEchoReplies"), 1);
	ck_assert_uint_eq(t_stat("Ip6InDelivers"), 1);
}
END_TEST

START_TEST(test_up_echo_keeps_traffic_class)
{
	size_t n;

	nstack_lock(T.ns);
	ndisc_add_permanent(T.ns, &g_peer, t_peer_mac);
	nstack_unlock(T.ns);
	n = peer_echo(frame, t_local_mac, &g_peer, &g_local, 8);
	frame[ETH_HLEN] = 0x6b; /* traffic class 0xb8 (EF), flow label 0x12345 */
	frame[ETH_HLEN + 1] = 0x81;
	frame[ETH_HLEN + 2] = 0x23;
	frame[ETH_HLEN + 3] = 0x45;
	t_inject(frame, n);
	n = our_echo_reply(want, t_peer_mac, &g_local, &g_peer, 8);
	want[ETH_HLEN] = 0x6b;
	want[ETH_HLEN + 1] = 0x80;
	expect6(want, n);
}
END_TEST

/* The NS we send to resolve target from src: multicast, our MAC as option. */
static size_t our_ns(void *buf, const struct in6_addr *src, const struct in6_addr *target)
{
	unsigned char rest[32];
	size_t r = nd_rest(rest, target, ND_OPT_SOURCE_LL_ADDR, t_local_mac);
	struct in6_addr sol = sol_addr(target);
	uint8_t mac[6];

	sol_mac(target, mac);
	return build_icmp6_frame(buf, mac, t_local_mac, src, &sol, 255,
				 NDISC_NEIGHBOUR_SOLICITATION, 0, 0, rest, r);
}

/* The peer's NA for its address target: flags, its MAC as option. */
static size_t peer_na(void *buf, const struct in6_addr *target, const struct in6_addr *dst,
		      uint32_t flags, const uint8_t mac[6])
{
	unsigned char rest[32];
	size_t r = nd_rest(rest, target, ND_OPT_TARGET_LL_ADDR, mac);

	return build_icmp6_frame(buf, t_local_mac, mac, target, dst, 255,
				 NDISC_NEIGHBOUR_ADVERTISEMENT, 0, flags, rest, r);
}

START_TEST(test_up_resolution_holds_reply_until_advertisement)
{
	uint64_t start = T.now;

	t_inject(frame, peer_echo(frame, t_local_mac, &g_peer, &g_local, 1));
	t_inject(frame, peer_echo(frame, t_local_mac, &g_peer, &g_local, 2));
	/* One solicitation, from the source of the waiting reply; the replies wait. */
	expect6(want, our_ns(want, &g_local, &g_peer));
	expect_no_tx6();
	ck_assert_int_eq(ndisc_lookup_state(T.ns, &g_peer, NULL), NUD_INCOMPLETE);
	t_clock_set(start + NDISC_RETRANS_US - 1);
	expect_no_tx6();
	t_clock_set(start + NDISC_RETRANS_US);
	expect6(want, our_ns(want, &g_local, &g_peer));
	t_inject(frame, peer_na(frame, &g_peer, &g_local,
				ND_NA_FLAG_SOLICITED | ND_NA_FLAG_OVERRIDE, t_peer_mac));
	expect6(want, our_echo_reply(want, t_peer_mac, &g_local, &g_peer, 1));
	expect6(want, our_echo_reply(want, t_peer_mac, &g_local, &g_peer, 2));
	expect_no_tx6();
	ck_assert_int_eq(ndisc_lookup_state(T.ns, &g_peer, NULL), NUD_REACHABLE);
}
END_TEST

START_TEST(test_up_resolution_fails_after_three_solicitations)
{
	uint64_t start = T.now;

	t_inject(frame, peer_echo(frame, t_local_mac, &g_peer, &g_local, 1));
	for (int i = 0; i < NDISC_MCAST_PROBES; i++) {
		t_clock_set(start + (uint64_t)i * NDISC_RETRANS_US);
		expect6(want, our_ns(want, &g_local, &g_peer));
		expect_no_tx6();
	}
	t_clock_set(start + NDISC_MCAST_PROBES * NDISC_RETRANS_US);
	expect_no_tx6();
	ck_assert_int_eq(ndisc_lookup_state(T.ns, &g_peer, NULL), NUD_FAILED);
	ck_assert_uint_eq(t_stat("Ip6OutDiscards"), 1);
}
END_TEST

START_TEST(test_reachable_peer_probed_by_unicast_after_delay)
{
	unsigned char rest[32];
	size_t r;

	t_inject(frame, peer_echo(frame, t_local_mac, &g_peer, &g_local, 1));
	expect6(want, our_ns(want, &g_local, &g_peer));
	t_inject(frame, peer_na(frame, &g_peer, &g_local, ND_NA_FLAG_SOLICITED, t_peer_mac));
	expect6(want, our_echo_reply(want, t_peer_mac, &g_local, &g_peer, 1));
	/* ReachableTime is at most 1.5 * 30 s: STALE after it without traffic. */
	t_clock_advance(NDISC_BASE_REACHABLE_US * 3 / 2);
	expect_no_tx6();
	ck_assert_int_eq(ndisc_lookup_state(T.ns, &g_peer, NULL), NUD_STALE);
	/* Used while STALE: sent at once (DELAY), confirmed by a probe 5 s later. */
	t_inject(frame, peer_echo(frame, t_local_mac, &g_peer, &g_local, 2));
	expect6(want, our_echo_reply(want, t_peer_mac, &g_local, &g_peer, 2));
	ck_assert_int_eq(ndisc_lookup_state(T.ns, &g_peer, NULL), NUD_DELAY);
	t_clock_advance(NDISC_DELAY_PROBE_US - 1);
	expect_no_tx6();
	t_clock_advance(1);
	r = nd_rest(rest, &g_peer, ND_OPT_SOURCE_LL_ADDR, t_local_mac);
	expect6(want, build_icmp6_frame(want, t_peer_mac, t_local_mac, &g_local, &g_peer, 255,
					NDISC_NEIGHBOUR_SOLICITATION, 0, 0, rest, r));
	expect_no_tx6();
	ck_assert_int_eq(ndisc_lookup_state(T.ns, &g_peer, NULL), NUD_PROBE);
	/* A solicited answer makes it REACHABLE again; no more probes. */
	t_inject(frame, peer_na(frame, &g_peer, &g_local, ND_NA_FLAG_SOLICITED, t_peer_mac));
	ck_assert_int_eq(ndisc_lookup_state(T.ns, &g_peer, NULL), NUD_REACHABLE);
	t_clock_advance(NDISC_RETRANS_US * 4);
	expect_no_tx6();
}
END_TEST

START_TEST(test_dad_conflicting_na_marks_duplicate)
{
	t_clock_advance(1000 * 1000 - 1);
	/* Another node answers for our global address while it is tentative. */
	t_inject(frame, peer_na(frame, &g_local, &all_nodes, ND_NA_FLAG_OVERRIDE, other_mac));
	t_clock_advance(2 * 1000 * 1000);
	while (recv6(frame, &(size_t){0}))
		;
	ck_assert_ptr_nonnull(ipv6_get_ifaddr(T.ns, &g_local));
	ck_assert_int_eq(ipv6_get_ifaddr(T.ns, &g_local)->state, IFA_DUPLICATE);
	ck_assert_int_eq(ipv6_get_ifaddr(T.ns, &ll_local)->state, IFA_PREFERRED);
	/* Never used: an echo to it is not for us. */
	t_inject(frame, peer_echo(frame, t_local_mac, &g_peer, &g_local, 1));
	expect_no_tx6();
	ck_assert_uint_eq(t_stat("Ip6InAddrErrors"), 1);
}
END_TEST

START_TEST(test_dad_solicitation_from_other_node_marks_duplicate)
{
	unsigned char rest[32];
	size_t r = nd_rest(rest, &ll_local, 0, NULL);
	struct in6_addr sol = sol_addr(&ll_local);
	uint8_t mac[6];

	sol_mac(&ll_local, mac);
	t_inject(frame, build_icmp6_frame(frame, mac, other_mac, &any6, &sol, 255,
					  NDISC_NEIGHBOUR_SOLICITATION, 0, 0, rest, r));
	ck_assert_int_eq(ipv6_get_ifaddr(T.ns, &ll_local)->state, IFA_DUPLICATE);
	/* Our own solicitation looped back by the link is not a claim. */
	r = nd_rest(rest, &g_local, 0, NULL);
	sol = sol_addr(&g_local);
	sol_mac(&g_local, mac);
	t_inject(frame, build_icmp6_frame(frame, mac, t_local_mac, &any6, &sol, 255,
					  NDISC_NEIGHBOUR_SOLICITATION, 0, 0, rest, r));
	ck_assert_int_eq(ipv6_get_ifaddr(T.ns, &g_local)->state, IFA_TENTATIVE);
}
END_TEST

START_TEST(test_up_dad_probe_for_our_address_answered_to_all_nodes)
{
	unsigned char rest[32];
	size_t r = nd_rest(rest, &g_local, 0, NULL);
	struct in6_addr sol = sol_addr(&g_local);
	uint8_t mac[6];

	sol_mac(&g_local, mac);
	t_inject(frame, build_icmp6_frame(frame, mac, other_mac, &any6, &sol, 255,
					  NDISC_NEIGHBOUR_SOLICITATION, 0, 0, rest, r));
	expect6(want, our_na(want, (const uint8_t[6]){0x33, 0x33, 0, 0, 0, 1}, &g_local, &all_nodes,
			     ND_NA_FLAG_OVERRIDE, true));
	expect_no_tx6();
	ck_assert_int_eq(ipv6_get_ifaddr(T.ns, &g_local)->state, IFA_PREFERRED);
}
END_TEST

/* A router advertisement from fe80::1 (MAC other_mac) with a prefix option. */
static size_t router_adv(void *buf, uint16_t lifetime, const struct in6_addr *prefix, uint8_t plen,
			 uint8_t flags, uint32_t valid, uint32_t prefered)
{
	static const struct in6_addr rtr = {.s6_addr = {0xfe, 0x80, [15] = 1}};
	unsigned char rest[128];
	struct prefix_info pi = {
	    .type = ND_OPT_PREFIX_INFO,
	    .length = 4,
	    .prefix_len = plen,
	    .flags = flags,
	    .valid = htonl(valid),
	    .prefered = htonl(prefered),
	    .prefix = *prefix,
	};
	size_t r = 8;

	memset(rest, 0, 8); /* reachable time, retrans timer: unspecified */
	rest[r++] = ND_OPT_SOURCE_LL_ADDR;
	rest[r++] = 1;
	memcpy(rest + r, other_mac, 6);
	r += 6;
	memcpy(rest + r, &pi, sizeof(pi));
	r += sizeof(pi);
	return build_icmp6_frame(buf, (const uint8_t[6]){0x33, 0x33, 0, 0, 0, 1}, other_mac, &rtr,
				 &all_nodes, 255, NDISC_ROUTER_ADVERTISEMENT, 0,
				 (64u << 24) | lifetime, rest, r);
}

START_TEST(test_router_advertisement_slaac_address_dad_and_default_router)
{
	static const struct in6_addr prefix = {.s6_addr = {0x20, 0x01, 0, 2, 0, 0, 0, 1}};
	static const struct in6_addr slaac = {
	    .s6_addr = {0x20, 0x01, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0xff, 0xfe, 0, 0, 2}};
	static const struct in6_addr far = {.s6_addr = {0x20, 0x01, 0, 2, 0, 9, [15] = 9}};
	static const struct in6_addr rtr = {.s6_addr = {0xfe, 0x80, [15] = 1}};
	size_t n;

	bring_up();
	t_inject(frame, router_adv(frame, 1800, &prefix, 64,
				   ND_PREFIX_FLAG_ONLINK | ND_PREFIX_FLAG_AUTO, 86400, 14400));
	ck_assert_uint_eq(t_stat("Icmp6InRouterAdvertisements"), 1);
	ck_assert_uint_eq(t_stat("Icmp6InErrors"), 0);
	ck_assert_int_eq(ipv6_get_ifaddr(T.ns, &slaac)->state, IFA_TENTATIVE);
	t_clock_advance(1000 * 1000 - 1);
	n = t_recv(frame, sizeof(frame));
	ck_assert_uint_eq(n, dad_ns(want, &slaac));
	ck_assert_mem_eq(frame, want, n);
	/* The advertisement ended our solicitations. */
	t_clock_advance(3 * NDISC_RTR_SOLICIT_INTERVAL);
	t_expect_no_tx();
	ck_assert_int_eq(ipv6_get_ifaddr(T.ns, &slaac)->state, IFA_PREFERRED);
	/* An off-link host reaches the new address; the answer goes by the router. */
	n = build_icmp6_frame(frame, t_local_mac, other_mac, &far, &slaac, 60, ICMPV6_ECHO_REQUEST,
			      0, 0x00010001u, "xy", 2);
	t_inject(frame, n);
	n = build_icmp6_frame(want, other_mac, t_local_mac, &slaac, &far, 64, ICMPV6_ECHO_REPLY, 0,
			      0x00010001u, "xy", 2);
	t_expect_frame(want, n);
	t_expect_no_tx();
	ck_assert_int_eq(ndisc_lookup_state(T.ns, &rtr, NULL), NUD_DELAY);
	/* Router lifetime 0 withdraws the default router. */
	t_inject(frame, router_adv(frame, 0, &prefix, 64, ND_PREFIX_FLAG_AUTO, 86400, 14400));
	t_inject(frame, n = build_icmp6_frame(frame, t_local_mac, other_mac, &far, &slaac, 60,
					      ICMPV6_ECHO_REQUEST, 0, 0x00010002u, "xy", 2));
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("Ip6OutNoRoutes"), 1);
}
END_TEST

START_TEST(test_router_advertisement_other_prefix_lengths_not_autoconfigured)
{
	static const struct in6_addr prefix = {.s6_addr = {0x20, 0x01, 0, 2, 0, 0, 0, 1}};

	bring_up();
	t_inject(frame, router_adv(frame, 1800, &prefix, 48, ND_PREFIX_FLAG_AUTO, 86400, 14400));
	t_clock_advance(2 * 1000 * 1000);
	t_expect_no_tx();
	/* Preferred lifetime over valid: the option is ignored. */
	t_inject(frame, router_adv(frame, 1800, &prefix, 64, ND_PREFIX_FLAG_AUTO, 100, 200));
	t_clock_advance(2 * 1000 * 1000);
	t_expect_no_tx();
}
END_TEST

/* Injects a frame that must be dropped silently. */
static void inject_dropped(size_t n)
{
	t_inject(frame, n);
	expect_no_tx6();
}

START_TEST(test_up_malformed_headers_counted_and_dropped)
{
	size_t n;
	static const struct in6_addr mc_src = {.s6_addr = {0xff, 0x02, [15] = 1}};
	static const struct in6_addr not_ours = {.s6_addr = {0x20, 0x01, 0, 2, [15] = 0x77}};

	nstack_lock(T.ns);
	ndisc_add_permanent(T.ns, &g_peer, t_peer_mac);
	nstack_unlock(T.ns);
	/* Version 4 in an IPv6 EtherType. */
	n = peer_echo(frame, t_local_mac, &g_peer, &g_local, 1);
	frame[ETH_HLEN] = 0x40;
	inject_dropped(n);
	ck_assert_uint_eq(t_stat("Ip6InHdrErrors"), 1);
	/* Shorter than its header. */
	inject_dropped(t_build_eth(frame, t_local_mac, t_peer_mac, ETH_P_IPV6, "\x60\0\0\0", 4) +
		       0 * n);
	ck_assert_uint_eq(t_stat("Ip6InHdrErrors"), 2);
	/* Payload length past the frame. */
	n = peer_echo(frame, t_local_mac, &g_peer, &g_local, 1);
	frame[ETH_HLEN + 5] += 1;
	inject_dropped(n);
	ck_assert_uint_eq(t_stat("Ip6InTruncatedPkts"), 1);
	/* Multicast source. */
	inject_dropped(peer_echo(frame, t_local_mac, &mc_src, &g_local, 1));
	ck_assert_uint_eq(t_stat("Ip6InHdrErrors"), 3);
	/* Someone else's address. */
	inject_dropped(peer_echo(frame, t_local_mac, &g_peer, &not_ours, 1));
	ck_assert_uint_eq(t_stat("Ip6InAddrErrors"), 1);
	/* Bad ICMPv6 checksum. */
	n = peer_echo(frame, t_local_mac, &g_peer, &g_local, 1);
	frame[n - 1] ^= 1;
	inject_dropped(n);
	ck_assert_uint_eq(t_stat("Icmp6InCsumErrors"), 1);
	ck_assert_uint_eq(t_stat("Icmp6InErrors"), 1);
	ck_assert_uint_eq(t_stat("Ip6InReceives"), 6);
	/* The good one still works. */
	t_inject(frame, peer_echo(frame, t_local_mac, &g_peer, &g_local, 1));
	expect6(want, our_echo_reply(want, t_peer_mac, &g_local, &g_peer, 1));
}
END_TEST

/*
 * A frame from the peer whose packet carries the extension headers ext
 * (elen bytes, first one's type first_nh) before an echo request.
 */
static size_t peer_ext(void *buf, uint8_t first_nh, const void *ext, size_t elen)
{
	size_t n = build_icmp6(body + elen, &g_peer, &g_local, ICMPV6_ECHO_REQUEST, 0, 0x00050005u,
			       "ext!", 4);

	memcpy(body, ext, elen);
	n = build_ip6(pkt, &g_peer, &g_local, first_nh, 64, body, elen + n);
	return t_build_eth(buf, t_local_mac, t_peer_mac, ETH_P_IPV6, pkt, n);
}

/* Our parameter problem about the IPv6 packet at pkt (len bytes): code and pointer. */
static size_t our_param_prob(void *buf, uint8_t code, uint32_t ptr, const void *quoted, size_t qlen)
{
	static unsigned char q[T_FRAME_MAX];

	memcpy(q, quoted, qlen);
	return build_icmp6_frame(buf, t_peer_mac, t_local_mac, &g_local, &g_peer, 64,
				 ICMPV6_PARAMPROB, code, ptr, q, qlen);
}

START_TEST(test_up_extension_headers_walked_and_errors_sent)
{
	static unsigned char quoted[T_FRAME_MAX];
	size_t n;
	/* Hop-by-hop (PadN 4) then destination options (PadN 4) then ICMPv6. */
	const uint8_t hbh_dst[16] = {NEXTHDR_DEST, 0, 1, 4, 0, 0, 0, 0,
				     NEXTHDR_ICMP, 0, 1, 4, 0, 0, 0, 0};
	/* Destination options then a late hop-by-hop: not allowed there. */
	const uint8_t dst_hbh[16] = {NEXTHDR_HOP,  0, 1, 4, 0, 0, 0, 0,
				     NEXTHDR_ICMP, 0, 1, 4, 0, 0, 0, 0};
	/* Destination option type 0x85 (action 10: discard + parameter problem). */
	const uint8_t dst_unk[8] = {NEXTHDR_ICMP, 0, 0x85, 2, 0, 0, 1, 0};
	/* Unknown type 0x05 (action 00: skip) is fine. */
	const uint8_t dst_skip[8] = {NEXTHDR_ICMP, 0, 0x05, 2, 0, 0, 1, 0};
	/* PadN with data in it (RFC 4942). */
	const uint8_t dst_badpad[8] = {NEXTHDR_ICMP, 0, 1, 4, 0, 1, 0, 0};
	/* Routing header type 0 with one segment left, and with none. */
	const uint8_t rh0[24] = {NEXTHDR_ICMP, 2, 0, 1};
	const uint8_t rh0_done[24] = {NEXTHDR_ICMP, 2, 0, 0};

	nstack_lock(T.ns);
	ndisc_add_permanent(T.ns, &g_peer, t_peer_mac);
	nstack_unlock(T.ns);

	t_inject(frame, peer_ext(frame, NEXTHDR_HOP, hbh_dst, sizeof(hbh_dst)));
	ck_assert_uint_eq(t_stat("Icmp6OutEchoReplies"), 1);
	(void)recv6(want, &n);

	t_inject(frame, peer_ext(frame, NEXTHDR_DEST, dst_skip, sizeof(dst_skip)));
	ck_assert_uint_eq(t_stat("Icmp6OutEchoReplies"), 2);
	(void)recv6(want, &n);

	n = peer_ext(frame, NEXTHDR_DEST, dst_hbh, sizeof(dst_hbh));
	memcpy(quoted, frame + ETH_HLEN, n - ETH_HLEN);
	t_inject(frame, n);
	expect6(want, our_param_prob(want, ICMPV6_UNK_NEXTHDR, 40, quoted, n - ETH_HLEN));
	ck_assert_uint_eq(t_stat("Ip6InUnknownProtos"), 1);

	n = peer_ext(frame, NEXTHDR_DEST, dst_unk, sizeof(dst_unk));
	memcpy(quoted, frame + ETH_HLEN, n - ETH_HLEN);
	t_inject(frame, n);
	expect6(want, our_param_prob(want, ICMPV6_UNK_OPTION, 42, quoted, n - ETH_HLEN));
	ck_assert_uint_eq(t_stat("Ip6InHdrErrors"), 1);

	inject_dropped(peer_ext(frame, NEXTHDR_DEST, dst_badpad, sizeof(dst_badpad)));
	ck_assert_uint_eq(t_stat("Ip6InHdrErrors"), 2);

	n = peer_ext(frame, NEXTHDR_ROUTING, rh0, sizeof(rh0));
	memcpy(quoted, frame + ETH_HLEN, n - ETH_HLEN);
	t_inject(frame, n);
	expect6(want, our_param_prob(want, ICMPV6_HDR_FIELD, 42, quoted, n - ETH_HLEN));
	ck_assert_uint_eq(t_stat("Ip6InHdrErrors"), 3);

	t_inject(frame, peer_ext(frame, NEXTHDR_ROUTING, rh0_done, sizeof(rh0_done)));
	ck_assert_uint_eq(t_stat("Icmp6OutEchoReplies"), 3);
	(void)recv6(want, &n);
	/* An extension header running past the packet. */
	inject_dropped(peer_ext(frame, NEXTHDR_DEST, (const uint8_t[8]){NEXTHDR_ICMP, 9}, 8));
	ck_assert_uint_eq(t_stat("Ip6InHdrErrors"), 4);
	ck_assert_uint_eq(t_stat("Icmp6OutParmProblems"), 3);
}
END_TEST

START_TEST(test_up_unknown_next_header_parameter_problem_rate_limited)
{
	static unsigned char quoted[T_FRAME_MAX];
	size_t n = build_ip6(pkt, &g_peer, &g_local, 253, 64, "payload!", 8);

	nstack_lock(T.ns);
	ndisc_add_permanent(T.ns, &g_peer, t_peer_mac);
	nstack_unlock(T.ns);
	memcpy(quoted, pkt, n);
	n = t_build_eth(frame, t_local_mac, t_peer_mac, ETH_P_IPV6, pkt, n);
	/* A burst of six, then one per 250 ms for a destination in a /64. */
	for (int i = 0; i < 8; i++)
		t_inject(frame, n);
	for (int i = 0; i < 6; i++)
		expect6(want, our_param_prob(want, ICMPV6_UNK_NEXTHDR, 6, quoted, n - ETH_HLEN));
	expect_no_tx6();
	ck_assert_uint_eq(t_stat("Icmp6OutRateLimited"), 2);
	ck_assert_uint_eq(t_stat("Ip6InUnknownProtos"), 8);
	t_clock_advance(250 * 1000 - 1);
	t_inject(frame, n);
	expect_no_tx6();
	t_clock_advance(1);
	t_inject(frame, n);
	expect6(want, our_param_prob(want, ICMPV6_UNK_NEXTHDR, 6, quoted, n - ETH_HLEN));
}
END_TEST

START_TEST(test_up_fragments_counted_atomic_fragment_accepted)
{
	const uint8_t atomic[8] = {NEXTHDR_ICMP, 0, 0, 0, 0, 0, 0, 1};
	const uint8_t first[8] = {NEXTHDR_ICMP, 0, 0, 1, 0, 0, 0, 2};
	size_t n;

	nstack_lock(T.ns);
	ndisc_add_permanent(T.ns, &g_peer, t_peer_mac);
	nstack_unlock(T.ns);
	t_inject(frame, peer_ext(frame, NEXTHDR_FRAGMENT, atomic, sizeof(atomic)));
	ck_assert_uint_eq(t_stat("Icmp6OutEchoReplies"), 1);
	(void)recv6(want, &n);
	ck_assert_uint_eq(t_stat("Ip6ReasmOKs"), 1);
	/* A first fragment of 12 bytes: not a multiple of 8, a parameter problem at payload_len. */
	n = peer_ext(frame, NEXTHDR_FRAGMENT, first, sizeof(first));
	memcpy(pkt, frame + ETH_HLEN, n - ETH_HLEN);
	t_inject(frame, n);
	expect6(want, our_param_prob(want, ICMPV6_HDR_FIELD, 4, pkt, n - ETH_HLEN));
	expect_no_tx6();
	ck_assert_uint_eq(t_stat("Ip6InHdrErrors"), 1);
	ck_assert_uint_eq(t_stat("Ip6ReasmReqds"), 2);
}
END_TEST

START_TEST(test_up_malformed_nd_messages_counted_and_dropped)
{
	unsigned char rest[40];
	size_t r = nd_rest(rest, &g_local, ND_OPT_SOURCE_LL_ADDR, t_peer_mac);
	struct in6_addr sol = sol_addr(&g_local);
	static const struct in6_addr rtr_global = {.s6_addr = {0x20, 0x01, 0, 2, [15] = 9}};
	uint8_t mac[6];
	uint64_t errs = 0;

	sol_mac(&g_local, mac);
	/* Hop limit not 255: forwarded, so not from the link. */
	inject_dropped(build_icmp6_frame(frame, mac, t_peer_mac, &g_peer, &sol, 254,
					 NDISC_NEIGHBOUR_SOLICITATION, 0, 0, rest, r));
	ck_assert_uint_eq(t_stat("Icmp6InErrors"), ++errs);
	/* Code not 0. */
	inject_dropped(build_icmp6_frame(frame, mac, t_peer_mac, &g_peer, &sol, 255,
					 NDISC_NEIGHBOUR_SOLICITATION, 1, 0, rest, r));
	ck_assert_uint_eq(t_stat("Icmp6InErrors"), ++errs);
	/* Shorter than an NS. */
	inject_dropped(build_icmp6_frame(frame, mac, t_peer_mac, &g_peer, &sol, 255,
					 NDISC_NEIGHBOUR_SOLICITATION, 0, 0, rest, 12));
	ck_assert_uint_eq(t_stat("Icmp6InErrors"), ++errs);
	/* An option of length zero. */
	rest[17] = 0;
	inject_dropped(build_icmp6_frame(frame, mac, t_peer_mac, &g_peer, &sol, 255,
					 NDISC_NEIGHBOUR_SOLICITATION, 0, 0, rest, r));
	ck_assert_uint_eq(t_stat("Icmp6InErrors"), ++errs);
	rest[17] = 1;
	/* From :: with a source link-layer option. */
	inject_dropped(build_icmp6_frame(frame, mac, t_peer_mac, &any6, &sol, 255,
					 NDISC_NEIGHBOUR_SOLICITATION, 0, 0, rest, r));
	ck_assert_uint_eq(t_stat("Icmp6InErrors"), ++errs);
	/* A multicast target. */
	r = nd_rest(rest, &all_nodes, ND_OPT_SOURCE_LL_ADDR, t_peer_mac);
	inject_dropped(build_icmp6_frame(frame, mac, t_peer_mac, &g_peer, &sol, 255,
					 NDISC_NEIGHBOUR_SOLICITATION, 0, 0, rest, r));
	ck_assert_uint_eq(t_stat("Icmp6InErrors"), ++errs);
	/* A solicited NA to a group. */
	r = nd_rest(rest, &g_peer, ND_OPT_TARGET_LL_ADDR, t_peer_mac);
	inject_dropped(build_icmp6_frame(frame, mac, t_peer_mac, &g_peer, &all_nodes, 255,
					 NDISC_NEIGHBOUR_ADVERTISEMENT, 0, ND_NA_FLAG_SOLICITED,
					 rest, r));
	ck_assert_uint_eq(t_stat("Icmp6InErrors"), ++errs);
	/* An RA from a global address. */
	memset(rest, 0, 8);
	inject_dropped(build_icmp6_frame(frame, mac, t_peer_mac, &rtr_global, &all_nodes, 255,
					 NDISC_ROUTER_ADVERTISEMENT, 0, 1800, rest, 8));
	ck_assert_uint_eq(t_stat("Icmp6InErrors"), ++errs);
	/* An RA with hop limit 64. */
	inject_dropped(build_icmp6_frame(frame, mac, t_peer_mac, &ll_peer, &all_nodes, 64,
					 NDISC_ROUTER_ADVERTISEMENT, 0, 1800, rest, 8));
	ck_assert_uint_eq(t_stat("Icmp6InErrors"), ++errs);
	/* None taught us anything. */
	ck_assert_int_eq(ndisc_lookup_state(T.ns, &g_peer, NULL), NUD_NONE);
	ck_assert_int_eq(ndisc_lookup_state(T.ns, &ll_peer, NULL), NUD_NONE);
}
END_TEST

static Suite *ipv6_wire_suite(void)
{
	Suite *s = suite_create("ipv6_wire");
	TCase *start = tcase_create("start");
	TCase *up = tcase_create("up");

	tcase_add_checked_fixture(start, setup_static, t_teardown);
	tcase_add_test(start, test_start_dad_from_unspecified_then_router_solicitation);
	tcase_add_test(start, test_dad_conflicting_na_marks_duplicate);
	tcase_add_test(start, test_dad_solicitation_from_other_node_marks_duplicate);
	suite_add_tcase(s, start);

	tcase_add_checked_fixture(up, setup_static_up, t_teardown);
	tcase_add_test(up, test_up_ns_for_link_local_answered_solicited_override);
	tcase_add_test(up, test_up_ns_for_global_answered_solicited_override);
	tcase_add_test(up, test_up_unicast_ns_answered_without_option_nor_override);
	tcase_add_test(up, test_up_ns_for_other_address_ignored);
	tcase_add_test(up, test_up_echo_request_sends_exact_reply);
	tcase_add_test(up, test_up_echo_keeps_traffic_class);
	tcase_add_test(up, test_up_resolution_holds_reply_until_advertisement);
	tcase_add_test(up, test_up_resolution_fails_after_three_solicitations);
	tcase_add_test(up, test_reachable_peer_probed_by_unicast_after_delay);
	tcase_add_test(up, test_up_dad_probe_for_our_address_answered_to_all_nodes);
	tcase_add_test(up, test_up_malformed_headers_counted_and_dropped);
	tcase_add_test(up, test_up_extension_headers_walked_and_errors_sent);
	tcase_add_test(up, test_up_unknown_next_header_parameter_problem_rate_limited);
	tcase_add_test(up, test_up_fragments_counted_atomic_fragment_accepted);
	tcase_add_test(up, test_up_malformed_nd_messages_counted_and_dropped);
	suite_add_tcase(s, up);

	TCase *slaac = tcase_create("slaac");

	tcase_add_checked_fixture(slaac, setup_slaac, t_teardown);
	tcase_add_test(slaac, test_router_advertisement_slaac_address_dad_and_default_router);
	tcase_add_test(slaac, test_router_advertisement_other_prefix_lengths_not_autoconfigured);
	suite_add_tcase(s, slaac);
	return s;
}

NSTACK_SUITE(ipv6_wire_suite)
