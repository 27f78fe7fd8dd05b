/*
 * Packet-level ICMP tests: echo answered byte for byte (also when it comes
 * in fragments and the answer must be fragmented), errors we send (what,
 * how much is quoted, when not, how fast), errors we receive.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "check_main.h"
#include "checksum.h"
#include "harness.h"
#include "icmp.h"
#include "inet.h"
#include "ip.h"
#include "proto/ether.h"
#include "proto/icmp.h"
#include "proto/ip.h"
#include "stack.h"

#define TEST_PROTO    253
#define UNKNOWN_PROTO 254

static unsigned char frame[T_FRAME_MAX];
static unsigned char ipbuf[T_FRAME_MAX];

static struct {
	int calls;
	int type, code;
	uint32_t info;
	uint32_t quoted_daddr;
	unsigned int len;
} errs;

static void test_proto_err(struct sk_buff *skb, int type, int code, uint32_t info)
{
	const struct iphdr *iph = (const struct iphdr *)skb->data;

	errs.calls++;
	errs.type = type;
	errs.code = code;
	errs.info = info;
	errs.quoted_daddr = iph->daddr;
	errs.len = skb->len;
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

static void set_tos(void *ip, uint8_t tos)
{
	struct iphdr *iph = ip;

	iph->tos = tos;
	iph->check = 0;
	iph->check = ip_fast_csum(iph, IP_IHL(iph));
}

/*
 * Asserts the next frame equals want except for the IP ID, which comes
 * from the stack's counter; returns that ID.
 */
static uint16_t expect_ip_frame(void *want, size_t len)
{
	static unsigned char got[T_FRAME_MAX];
	size_t n = t_recv(got, sizeof(got));
	struct iphdr *w = (struct iphdr *)((unsigned char *)want + ETH_HLEN);
	const struct iphdr *g = (const struct iphdr *)(got + ETH_HLEN);

	ck_assert_uint_ge(n, ETH_HLEN + IP_HLEN_MIN);
	w->id = g->id;
	w->check = 0;
	w->check = ip_fast_csum(w, IP_IHL(w));
	if (n != len || memcmp(got, want, len) != 0) {
		t_hexdump("expected", want, len);
		t_hexdump("got", got, n);
		ck_abort_msg("frame mismatch (expected %zu bytes, got %zu)", len, n);
	}
	return ntohs(g->id);
}

/* An ICMP message with a correct checksum. */
static size_t build_icmp(void *buf, uint8_t type, uint8_t code, uint32_t rest, const void *data,
			 size_t dlen)
{
	struct icmphdr *ih = buf;

	ih->type = type;
	ih->code = code;
	ih->checksum = 0;
	ih->un.gateway = rest;
	memcpy(ih + 1, data, dlen);
	ih->checksum = csum_fold(csum_partial(buf, ICMP_HLEN + dlen, 0));
	return ICMP_HLEN + dlen;
}

/* Ethernet + IPv4 (any addresses, fragment fields) around payload. */
static size_t build_frame(void *buf, uint32_t src, uint32_t dst, uint8_t proto, uint16_t id,
			  uint16_t frag_off, const void *payload, size_t plen)
{
	size_t n = t_build_ipv4(ipbuf, src, dst, proto, id, frag_off, 64, payload, plen);
	const uint8_t *mac = t_local_mac;

	if (dst == T_IP(255, 255, 255, 255) || dst == T_IP(198, 18, 0, 255))
		mac = t_bcast_mac;
	return t_build_eth(buf, mac, t_peer_mac, ETH_P_IP, ipbuf, n);
}

START_TEST(test_idle_echo_request_sends_exact_reply)
{
	unsigned char req[128], rep[128];
	unsigned char data[56];
	size_t n;

	for (unsigned int i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(0x10 + i);
	n = t_build_echo(req, ICMP_ECHO, 0x1234, 1, data, sizeof(data));
	t_inject(frame, t_build_peer_ip(frame, IPPROTO_ICMP, 0x4242, req, n));

	n = t_build_echo(rep, ICMP_ECHOREPLY, 0x1234, 1, data, sizeof(data));
	n = t_build_ipv4(ipbuf, T_LOCAL_IP, T_PEER_IP, IPPROTO_ICMP, 0, 0, 64, rep, n);
	n = t_build_eth(frame, t_peer_mac, t_local_mac, ETH_P_IP, ipbuf, n);
	expect_ip_frame(frame, n);
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("IcmpInEchos"), 1);
	ck_assert_uint_eq(t_stat("IcmpOutEchoReps"), 1);
	ck_assert_uint_eq(t_stat("IpInDelivers"), 1);
}
END_TEST

START_TEST(test_idle_echo_in_padded_frame_reply_ignores_padding)
{
	unsigned char req[32], rep[32];
	size_t n = t_build_echo(req, ICMP_ECHO, 7, 9, "ping", 4);

	n = t_build_peer_ip(frame, IPPROTO_ICMP, 1, req, n);
	ck_assert_uint_eq(n, 60);
	frame[n - 1] = 0xee; /* garbage in the padding */
	t_inject(frame, n);
	n = t_build_echo(rep, ICMP_ECHOREPLY, 7, 9, "ping", 4);
	n = t_build_ipv4(ipbuf, T_LOCAL_IP, T_PEER_IP, IPPROTO_ICMP, 0, 0, 64, rep, n);
	n = t_build_eth(frame, t_peer_mac, t_local_mac, ETH_P_IP, ipbuf, n);
	expect_ip_frame(frame, n);
	t_expect_no_tx();
}
END_TEST

START_TEST(test_idle_echo_keeps_tos_and_answers_from_address_asked)
{
	unsigned char req[32], rep[32];
	size_t n = t_build_echo(req, ICMP_ECHO, 7, 9, "tos!", 4);
	size_t m;

	n = t_build_ipv4(ipbuf, T_PEER_IP, T_LOCAL_IP, IPPROTO_ICMP, 5, 0, 64, req, n);
	set_tos(ipbuf, 0x10);
	t_inject(frame, t_build_eth(frame, t_local_mac, t_peer_mac, ETH_P_IP, ipbuf, n));
	m = t_build_echo(rep, ICMP_ECHOREPLY, 7, 9, "tos!", 4);
	m = t_build_ipv4(ipbuf, T_LOCAL_IP, T_PEER_IP, IPPROTO_ICMP, 0, 0, 64, rep, m);
	set_tos(ipbuf, 0x10);
	expect_ip_frame(frame, t_build_eth(frame, t_peer_mac, t_local_mac, ETH_P_IP, ipbuf, m));
}
END_TEST

START_TEST(test_idle_echo_bad_checksum_dropped_and_counted)
{
	unsigned char req[32];
	size_t n = t_build_echo(req, ICMP_ECHO, 7, 9, "ping", 4);

	req[2] ^= 0x40;
	t_inject(frame, t_build_peer_ip(frame, IPPROTO_ICMP, 1, req, n));
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("IcmpInCsumErrors"), 1);
	ck_assert_uint_eq(t_stat("IcmpInErrors"), 1);
	ck_assert_uint_eq(t_stat("IcmpInEchos"), 0);
}
END_TEST

START_TEST(test_idle_truncated_icmp_dropped_and_counted)
{
	unsigned char req[4] = {ICMP_ECHO, 0, 0xf7, 0xff};

	t_inject(frame, t_build_peer_ip(frame, IPPROTO_ICMP, 1, req, sizeof(req)));
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("IcmpInMsgs"), 1);
	ck_assert_uint_eq(t_stat("IcmpInErrors"), 1);
}
END_TEST

START_TEST(test_idle_broadcast_echo_ignored)
{
	unsigned char req[32];
	size_t n = t_build_echo(req, ICMP_ECHO, 7, 9, "ping", 4);

	t_inject(frame, build_frame(frame, T_PEER_IP, T_IP(255, 255, 255, 255), IPPROTO_ICMP, 1, 0,
				    req, n));
	t_inject(frame,
		 build_frame(frame, T_PEER_IP, T_IP(198, 18, 0, 255), IPPROTO_ICMP, 2, 0, req, n));
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("IcmpInEchos"), 0);
	ck_assert_uint_eq(t_stat("IcmpOutEchoReps"), 0);
}
END_TEST

START_TEST(test_idle_fragmented_8000_byte_echo_answered_in_fragments)
{
	static unsigned char req[8008], rep[8008], data[8000];
	static const int order[] = {5, 2, 0, 4, 1, 3};
	const unsigned int chunk = 1480;
	size_t n, m;
	uint16_t id = 0;

	for (unsigned int i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 7 + 3);
	n = t_build_echo(req, ICMP_ECHO, 0xbeef, 42, data, sizeof(data));
	m = t_build_echo(rep, ICMP_ECHOREPLY, 0xbeef, 42, data, sizeof(data));
	ck_assert_uint_eq(n, 8008);
	for (unsigned int k = 0; k < 6; k++) {
		unsigned int i = (unsigned int)order[k];
		unsigned int off = i * chunk;
		unsigned int len = off + chunk < n ? chunk : (unsigned int)n - off;
		uint16_t fo = (uint16_t)(off / 8) | (i < 5 ? IP_MF : 0);

		t_inject(frame, build_frame(frame, T_PEER_IP, T_LOCAL_IP, IPPROTO_ICMP, 0x7777, fo,
					    req + off, len));
		if (k < 5)
			t_expect_no_tx();
	}
	ck_assert_uint_eq(t_stat("IpReasmReqds"), 6);
	ck_assert_uint_eq(t_stat("IpReasmOKs"), 1);
	/* The 8028-byte reply leaves as 5 x 1480 + 608 bytes of payload, in order. */
	for (unsigned int i = 0; i < 6; i++) {
		unsigned int off = i * chunk;
		unsigned int len = off + chunk < m ? chunk : (unsigned int)m - off;
		uint16_t fo = (uint16_t)(off / 8) | (i < 5 ? IP_MF : 0);
		uint16_t got;

		n = t_build_ipv4(ipbuf, T_LOCAL_IP, T_PEER_IP, IPPROTO_ICMP, 0, fo, 64, rep + off,
				 len);
		n = t_build_eth(frame, t_peer_mac, t_local_mac, ETH_P_IP, ipbuf, n);
		got = expect_ip_frame(frame, n);
		if (i == 0)
			id = got;
		ck_assert_uint_eq(got, id); /* one ID for all fragments */
	}
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("IpFragOKs"), 1);
	ck_assert_uint_eq(t_stat("IpFragCreates"), 6);
	ck_assert_uint_eq(t_stat("IcmpOutEchoReps"), 1);
}
END_TEST

/* The ICMP error frame the stack sends about the IP packet `orig` (olen bytes). */
static size_t error_frame(void *buf, uint8_t type, uint8_t code, uint32_t rest, const void *orig,
			  size_t olen)
{
	static unsigned char icmp[600];
	size_t n = build_icmp(icmp, type, code, rest, orig, olen);

	n = t_build_ipv4(ipbuf, T_LOCAL_IP, T_PEER_IP, IPPROTO_ICMP, 0, 0, 64, icmp, n);
	set_tos(ipbuf, 0xc0);
	return t_build_eth(buf, t_peer_mac, t_local_mac, ETH_P_IP, ipbuf, n);
}

START_TEST(test_fragment_reassembly_timeout_sends_time_exceeded)
{
	unsigned char req[64], orig[64], want[256];
	size_t n = t_build_echo(req, ICMP_ECHO, 1, 1, "0123456789abcdef0123456789abcdef", 32);
	size_t olen;

	/* First 24 bytes, then the last 16 of a 40-byte echo; the middle never comes. */
	t_inject(frame,
		 build_frame(frame, T_PEER_IP, T_LOCAL_IP, IPPROTO_ICMP, 0x99, IP_MF, req, 24));
	t_inject(frame, build_frame(frame, T_PEER_IP, T_LOCAL_IP, IPPROTO_ICMP, 0x99, 4, req + 32,
				    n - 32));
	t_clock_set(T_CLOCK_START + IPFRAG_TIME_US - 1);
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("IpReasmTimeout"), 0);
	t_clock_set(T_CLOCK_START + IPFRAG_TIME_US);
	/* RFC 792: time exceeded, code 1, quoting the first fragment. */
	olen = t_build_ipv4(orig, T_PEER_IP, T_LOCAL_IP, IPPROTO_ICMP, 0x99, IP_MF, 64, req, 24);
	expect_ip_frame(want,
			error_frame(want, ICMP_TIME_EXCEEDED, ICMP_EXC_FRAGTIME, 0, orig, olen));
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("IpReasmTimeout"), 1);
	ck_assert_uint_eq(t_stat("IpReasmFails"), 1);
	ck_assert_uint_eq(t_stat("IcmpOutTimeExcds"), 1);
}
END_TEST

START_TEST(test_fragment_timeout_without_first_fragment_sends_nothing)
{
	unsigned char req[64];
	size_t n = t_build_echo(req, ICMP_ECHO, 1, 1, "0123456789abcdef0123456789abcdef", 32);

	t_inject(frame, build_frame(frame, T_PEER_IP, T_LOCAL_IP, IPPROTO_ICMP, 0x99, 4, req + 32,
				    n - 32));
	t_clock_set(T_CLOCK_START + IPFRAG_TIME_US);
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("IpReasmTimeout"), 1);
}
END_TEST

START_TEST(test_fragment_timeout_of_icmp_error_sends_nothing)
{
	/* No ICMP error about an ICMP error (RFC 1122 3.2.2). */
	unsigned char err[64];
	unsigned char quoted[28] = {0x45};
	size_t n = build_icmp(err, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0, quoted, sizeof(quoted));

	t_inject(frame,
		 build_frame(frame, T_PEER_IP, T_LOCAL_IP, IPPROTO_ICMP, 0x55, IP_MF, err, 16));
	(void)n;
	t_clock_set(T_CLOCK_START + IPFRAG_TIME_US);
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("IpReasmTimeout"), 1);
	ck_assert_uint_eq(t_stat("IcmpOutMsgs"), 0);
}
END_TEST

START_TEST(test_unknown_protocol_sends_exact_protocol_unreachable)
{
	unsigned char want[256];
	size_t olen;

	t_inject(frame, t_build_peer_ip(frame, UNKNOWN_PROTO, 0x321, "0123456789", 10));
	olen = t_build_ipv4(ipbuf, T_PEER_IP, T_LOCAL_IP, UNKNOWN_PROTO, 0x321, 0, 64, "0123456789",
			    10);
	{
		unsigned char orig[64];

		memcpy(orig, ipbuf, olen);
		expect_ip_frame(
		    want, error_frame(want, ICMP_DEST_UNREACH, ICMP_PROT_UNREACH, 0, orig, olen));
	}
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("IpInUnknownProtos"), 1);
	ck_assert_uint_eq(t_stat("IcmpOutDestUnreachs"), 1);
}
END_TEST

START_TEST(test_unknown_protocol_long_packet_quote_fits_576)
{
	static unsigned char payload[1000], orig[1100], want[1200];
	size_t olen, n;

	memset(payload, 0xab, sizeof(payload));
	t_inject(frame, t_build_peer_ip(frame, UNKNOWN_PROTO, 0x321, payload, sizeof(payload)));
	olen = t_build_ipv4(orig, T_PEER_IP, T_LOCAL_IP, UNKNOWN_PROTO, 0x321, 0, 64, payload,
			    sizeof(payload));
	ck_assert_uint_eq(olen, 1020);
	n = error_frame(want, ICMP_DEST_UNREACH, ICMP_PROT_UNREACH, 0, orig, 576 - 28);
	ck_assert_uint_eq(n, ETH_HLEN + 576);
	expect_ip_frame(want, n);
}
END_TEST

START_TEST(test_unknown_protocol_to_broadcast_no_error)
{
	t_inject(frame, build_frame(frame, T_PEER_IP, T_IP(255, 255, 255, 255), UNKNOWN_PROTO, 1, 0,
				    "x", 1));
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("IpInUnknownProtos"), 1);
	ck_assert_uint_eq(t_stat("IcmpOutMsgs"), 0);
}
END_TEST

START_TEST(test_errors_rate_limited_per_destination)
{
	unsigned char buf[T_FRAME_MAX];
	uint64_t t0 = T.now;

	for (int i = 0; i < ICMP_RATE_BURST; i++) {
		t_inject(frame, t_build_peer_ip(frame, UNKNOWN_PROTO, (uint16_t)i, "x", 1));
		t_recv(buf, sizeof(buf));
	}
	t_inject(frame, t_build_peer_ip(frame, UNKNOWN_PROTO, 100, "x", 1));
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("IcmpOutRateLimited"), 1);
	t_clock_set(t0 + ICMP_RATELIMIT_US - 1);
	t_inject(frame, t_build_peer_ip(frame, UNKNOWN_PROTO, 101, "x", 1));
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("IcmpOutRateLimited"), 2);
	t_clock_set(t0 + ICMP_RATELIMIT_US);
	t_inject(frame, t_build_peer_ip(frame, UNKNOWN_PROTO, 102, "x", 1));
	t_recv(buf, sizeof(buf));
	t_inject(frame, t_build_peer_ip(frame, UNKNOWN_PROTO, 103, "x", 1));
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("IcmpOutDestUnreachs"), ICMP_RATE_BURST + 1);
	/* Echo replies are not limited. */
	for (int i = 0; i < 10; i++) {
		unsigned char req[32];
		size_t n = t_build_echo(req, ICMP_ECHO, 7, (uint16_t)i, "ping", 4);

		t_inject(frame, t_build_peer_ip(frame, IPPROTO_ICMP, 1, req, n));
		t_recv(buf, sizeof(buf));
	}
}
END_TEST

/* An ICMP error from the peer about a TEST_PROTO packet we sent. */
static void inject_error(uint8_t type, uint8_t code, uint32_t rest, size_t quote_extra)
{
	unsigned char orig[64], icmp[128];
	size_t olen =
	    t_build_ipv4(orig, T_LOCAL_IP, T_OTHER_IP, TEST_PROTO, 77, 0, 64, "abcdefgh", 8);
	size_t n = build_icmp(icmp, type, code, rest, orig, IP_HLEN_MIN + quote_extra);

	(void)olen;
	t_inject(frame, t_build_peer_ip(frame, IPPROTO_ICMP, 1, icmp, n));
}

START_TEST(test_frag_needed_delivered_with_mtu)
{
	inject_error(ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, htonl(1400), 8);
	t_expect_no_tx();
	ck_assert_int_eq(errs.calls, 1);
	ck_assert_int_eq(errs.type, ICMP_DEST_UNREACH);
	ck_assert_int_eq(errs.code, ICMP_FRAG_NEEDED);
	ck_assert_uint_eq(errs.info, 1400);
	ck_assert_uint_eq(errs.quoted_daddr, T_OTHER_IP);
	ck_assert_uint_eq(errs.len, 28);
	ck_assert_uint_eq(t_stat("IcmpInDestUnreachs"), 1);
}
END_TEST

START_TEST(test_errors_of_each_kind_delivered)
{
	inject_error(ICMP_TIME_EXCEEDED, ICMP_EXC_TTL, 0, 8);
	ck_assert_int_eq(errs.calls, 1);
	ck_assert_int_eq(errs.type, ICMP_TIME_EXCEEDED);
	ck_assert_uint_eq(t_stat("IcmpInTimeExcds"), 1);
	inject_error(ICMP_PARAMETERPROB, 0, htonl(12u << 24), 8);
	ck_assert_int_eq(errs.calls, 2);
	ck_assert_int_eq(errs.type, ICMP_PARAMETERPROB);
	ck_assert_uint_eq(errs.info, 12);
	inject_error(ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0, 8);
	ck_assert_int_eq(errs.calls, 3);
	ck_assert_int_eq(errs.code, ICMP_PORT_UNREACH);
	t_expect_no_tx();
}
END_TEST

START_TEST(test_error_quoting_too_little_dropped_and_counted)
{
	inject_error(ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0, 4);
	ck_assert_int_eq(errs.calls, 0);
	ck_assert_uint_eq(t_stat("IcmpInErrors"), 1);
	inject_error(ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0, 0);
	ck_assert_int_eq(errs.calls, 0);
	ck_assert_uint_eq(t_stat("IcmpInErrors"), 2);
	t_expect_no_tx();
}
END_TEST

START_TEST(test_echo_reply_counted_not_answered)
{
	unsigned char rep[32];
	size_t n = t_build_echo(rep, ICMP_ECHOREPLY, 7, 9, "pong", 4);

	t_inject(frame, t_build_peer_ip(frame, IPPROTO_ICMP, 1, rep, n));
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("IcmpInEchoReps"), 1);
}
END_TEST

/* Socket helpers over the embedding API (they take the stack lock). */
static ssize_t sock_sendto(struct socket *s, uint32_t daddr, uint16_t port, const void *buf,
			   size_t len)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr m = {
	    .msg_name = &sin, .msg_namelen = sizeof(sin), .msg_iov = &iov, .msg_iovlen = 1};

	sin.sin_addr.s_addr = daddr;
	return nstack_sendmsg(s, &m, 0);
}

static ssize_t sock_recv(struct socket *s, void *buf, size_t len)
{
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};

	return nstack_recvmsg(s, &m, MSG_DONTWAIT);
}

START_TEST(test_ping_socket_gets_echo_reply)
{
	unsigned char got[128], rep[64], buf[64];
	struct icmphdr *ih = (struct icmphdr *)buf;
	const struct icmphdr *sent = (const struct icmphdr *)(got + ETH_HLEN + IP_HLEN_MIN);
	struct socket *s;
	size_t n;

	ck_assert_int_eq(nstack_socket(T.ns, AF_INET, SOCK_DGRAM, IPPROTO_ICMP, &s), 0);
	memset(buf, 0, sizeof(buf));
	ih->type = ICMP_ECHO;
	ih->un.echo.sequence = htons(1);
	memcpy(ih + 1, "hello", 5);
	ck_assert_int_eq(sock_sendto(s, T_PEER_IP, 0, buf, ICMP_HLEN + 5), ICMP_HLEN + 5);
	n = t_recv(got, sizeof(got));
	ck_assert_uint_eq(n, 60);
	ck_assert_uint_eq(sent->type, ICMP_ECHO);
	/* The peer answers with the identifier the ping socket chose. */
	n = t_build_echo(rep, ICMP_ECHOREPLY, ntohs(sent->un.echo.id), 1, "hello", 5);
	t_inject(frame, t_build_peer_ip(frame, IPPROTO_ICMP, 1, rep, n));
	ck_assert_int_eq(sock_recv(s, buf, sizeof(buf)), (ssize_t)n);
	ck_assert_uint_eq(ih->type, ICMP_ECHOREPLY);
	ck_assert_mem_eq(ih + 1, "hello", 5);
	ck_assert_int_eq(nstack_close(s), 0);
}
END_TEST

START_TEST(test_udp_connected_gets_port_unreachable_as_econnrefused)
{
	unsigned char got[128], icmp[128];
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(9)};
	struct socket *s;
	unsigned char buf[16];
	size_t n;

	sin.sin_addr.s_addr = T_PEER_IP;
	ck_assert_int_eq(nstack_socket(T.ns, AF_INET, SOCK_DGRAM, IPPROTO_UDP, &s), 0);
	ck_assert_int_eq(nstack_connect(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(sock_sendto(s, T_PEER_IP, 9, "x", 1), 1);
	n = t_recv(got, sizeof(got));
	/* The peer's port unreachable quotes our IP header and UDP header. */
	n = build_icmp(icmp, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0, got + ETH_HLEN,
		       IP_HLEN_MIN + 8 + 1);
	t_inject(frame, t_build_peer_ip(frame, IPPROTO_ICMP, 1, icmp, n));
	ck_assert_int_eq(sock_recv(s, buf, sizeof(buf)), -ECONNREFUSED);
	ck_assert_int_eq(nstack_close(s), 0);
}
END_TEST

START_TEST(test_ping_socket_to_own_address_answered_by_loopback)
{
	unsigned char buf[64];
	struct icmphdr *ih = (struct icmphdr *)buf;
	struct socket *s;

	ck_assert_int_eq(nstack_socket(T.ns, AF_INET, SOCK_DGRAM, IPPROTO_ICMP, &s), 0);
	memset(buf, 0, sizeof(buf));
	ih->type = ICMP_ECHO;
	ih->un.echo.sequence = htons(3);
	memcpy(ih + 1, "self", 4);
	ck_assert_int_eq(sock_sendto(s, T_LOCAL_IP, 0, buf, ICMP_HLEN + 4), ICMP_HLEN + 4);
	t_clock_advance(0); /* the request comes round, the reply is looped back */
	t_clock_advance(0);
	t_expect_no_tx();
	ck_assert_int_eq(sock_recv(s, buf, sizeof(buf)), ICMP_HLEN + 4);
	ck_assert_uint_eq(ih->type, ICMP_ECHOREPLY);
	ck_assert_uint_eq(ntohs(ih->un.echo.sequence), 3);
	ck_assert_mem_eq(ih + 1, "self", 4);
	ck_assert_uint_eq(t_stat("IcmpInEchos"), 1);
	ck_assert_uint_eq(t_stat("IcmpInEchoReps"), 1);
	ck_assert_int_eq(nstack_close(s), 0);
}
END_TEST

START_TEST(test_unknown_protocol_taken_by_raw_socket_no_error)
{
	unsigned char buf[64];
	struct socket *s;

	ck_assert_int_eq(nstack_socket(T.ns, AF_INET, SOCK_RAW, UNKNOWN_PROTO, &s), 0);
	t_inject(frame, t_build_peer_ip(frame, UNKNOWN_PROTO, 0x321, "0123456789", 10));
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("IpInUnknownProtos"), 0);
	ck_assert_uint_eq(t_stat("IpInDelivers"), 1);
	/* The raw socket reads the datagram from its IP header on. */
	ck_assert_int_eq(sock_recv(s, buf, sizeof(buf)), IP_HLEN_MIN + 10);
	ck_assert_mem_eq(buf + IP_HLEN_MIN, "0123456789", 10);
	ck_assert_int_eq(nstack_close(s), 0);
}
END_TEST

START_TEST(test_unknown_protocol_raw_socket_full_no_error)
{
	struct socket *s;
	int small = 1;

	ck_assert_int_eq(nstack_socket(T.ns, AF_INET, SOCK_RAW, UNKNOWN_PROTO, &s), 0);
	/* The minimum buffer (2304 bytes) holds only a few datagrams. */
	ck_assert_int_eq(nstack_setsockopt(s, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	for (int i = 0; i < 20; i++)
		t_inject(frame, t_build_peer_ip(frame, UNKNOWN_PROTO, (uint16_t)(0x400 + i),
						"0123456789", 10));
	/* A matching raw socket is a taker even when it drops (Linux's raw_v4_input). */
	ck_assert_uint_lt(t_stat("RawInDatagrams"), 20);
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("IpInUnknownProtos"), 0);
	ck_assert_uint_eq(t_stat("IpInDelivers"), 20);
	ck_assert_int_eq(nstack_close(s), 0);
}
END_TEST

static Suite *icmp_wire_suite(void)
{
	Suite *s = suite_create("icmp_wire");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_idle_echo_request_sends_exact_reply);
	tcase_add_test(tc, test_idle_echo_in_padded_frame_reply_ignores_padding);
	tcase_add_test(tc, test_idle_echo_keeps_tos_and_answers_from_address_asked);
	tcase_add_test(tc, test_idle_echo_bad_checksum_dropped_and_counted);
	tcase_add_test(tc, test_idle_truncated_icmp_dropped_and_counted);
	tcase_add_test(tc, test_idle_broadcast_echo_ignored);
	tcase_add_test(tc, test_idle_fragmented_8000_byte_echo_answered_in_fragments);
	tcase_add_test(tc, test_fragment_reassembly_timeout_sends_time_exceeded);
	tcase_add_test(tc, test_fragment_timeout_without_first_fragment_sends_nothing);
	tcase_add_test(tc, test_fragment_timeout_of_icmp_error_sends_nothing);
	tcase_add_test(tc, test_unknown_protocol_sends_exact_protocol_unreachable);
	tcase_add_test(tc, test_unknown_protocol_long_packet_quote_fits_576);
	tcase_add_test(tc, test_unknown_protocol_to_broadcast_no_error);
	tcase_add_test(tc, test_errors_rate_limited_per_destination);
	tcase_add_test(tc, test_frag_needed_delivered_with_mtu);
	tcase_add_test(tc, test_errors_of_each_kind_delivered);
	tcase_add_test(tc, test_error_quoting_too_little_dropped_and_counted);
	tcase_add_test(tc, test_echo_reply_counted_not_answered);
	tcase_add_test(tc, test_ping_socket_gets_echo_reply);
	tcase_add_test(tc, test_unknown_protocol_taken_by_raw_socket_no_error);
	tcase_add_test(tc, test_unknown_protocol_raw_socket_full_no_error);
	tcase_add_test(tc, test_ping_socket_to_own_address_answered_by_loopback);
	tcase_add_test(tc, test_udp_connected_gets_port_unreachable_as_econnrefused);
	suite_add_tcase(s, tc);
	return s;
}

NSTACK_SUITE(icmp_wire_suite)
