/*
 * TCP at the packet level: the test plays the peer (198.18.0.1), the stack
 * is 198.18.0.2. Every test injects segments and asserts the exact frames
 * the stack sends back (the whole Ethernet/IPv4/TCP frame; only the IP ID,
 * which the IP layer picks, and values the stack chooses at random — ISN,
 * timestamp offset, ephemeral port — are taken from the frame first seen).
 */
#include <arpa/inet.h>
#include <linux/sock_diag.h>
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_main.h"
#include "checksum.h"
#include "harness.h"
#include "netdevice.h"
#include "wire.h"
#include "proto/ether.h"
#include "proto/icmp.h"
#include "proto/ip.h"
#include "shared.h"
#include "stack.h"
#include "tcp.h"

/* Segments are written as short positional literals; trailing fields default to zero. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define PEER_PORT 40000
#define SRV_PORT  80
#define PEER_ISN  0xfffffff0u /* wraps past 2^32 after 16 bytes */

/* One TCP segment, as sent or expected. */
struct seg {
	uint16_t sport, dport; /* host order */
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	const uint8_t *opt;
	size_t optlen;
	const void *data;
	size_t len;
	uint16_t urg; /* urgent pointer, with TH_URG */
};

static size_t build_tcp(unsigned char *buf, uint32_t src, uint32_t dst, const struct seg *s)
{
	const struct t_tcp_seg t = {s->sport, s->dport,	 s->seq,  s->ack, s->flags, s->win,
				    s->opt,   s->optlen, s->data, s->len, s->urg};

	return t_build_tcp(buf, src, dst, &t);
}

/* Peer -> wire only: several frames then reach the stack in one poll batch. */
static void queue_seg(const struct seg *s)
{
	static unsigned char tcp[T_FRAME_MAX], frame[T_FRAME_MAX];
	size_t n = build_tcp(tcp, T_PEER_IP, T_LOCAL_IP, s);

	n = t_build_peer_ip(frame, IPPROTO_TCP, 1, tcp, n);
	ck_assert_int_eq(wire_send(T.wire, 1, frame, n), 0);
}

/* Peer -> stack, handled at once. */
static void inject(const struct seg *s)
{
	queue_seg(s);
	nstack_process(T.ns);
}

/* The TCP header of the next frame the stack sent (stored in *got). */
static const struct tcphdr *recv_tcp(unsigned char *frame, size_t *len)
{
	const struct iphdr *ip;

	*len = t_recv(frame, T_FRAME_MAX);
	ck_assert_uint_ge(*len, ETH_HLEN + IP_HLEN_MIN + TCP_HLEN_MIN);
	ip = (const struct iphdr *)(frame + ETH_HLEN);
	ck_assert_uint_eq(ip->protocol, IPPROTO_TCP);
	return (const struct tcphdr *)(frame + ETH_HLEN + IP_IHL(ip) * 4);
}

/* Asserts the next frame is exactly s from the stack (whole frame compared). */
static void expect(const struct seg *s)
{
	static unsigned char got[T_FRAME_MAX], tcp[T_FRAME_MAX], ip[T_FRAME_MAX], want[T_FRAME_MAX];
	size_t glen, n;
	const struct iphdr *gip;

	recv_tcp(got, &glen);
	gip = (const struct iphdr *)(got + ETH_HLEN);
	n = build_tcp(tcp, T_LOCAL_IP, T_PEER_IP, s);
	n = t_build_ipv4(ip, T_LOCAL_IP, T_PEER_IP, IPPROTO_TCP, ntohs(gip->id), IP_DF, 64, tcp, n);
	n = t_build_eth(want, t_peer_mac, t_local_mac, ETH_P_IP, ip, n);
	if (n != glen || memcmp(want, got, n) != 0) {
		t_hexdump("expected", want, n);
		t_hexdump("got", got, glen);
		ck_abort_msg("segment mismatch");
	}
}

/* Ethernet frame length for a TCP segment of n bytes (padded to 60). */
static size_t frame_len(size_t n)
{
	size_t l = ETH_HLEN + IP_HLEN_MIN + n;

	return l < ETH_ZLEN ? ETH_ZLEN : l;
}

/* Runs every timer up to now + us, one deadline at a time, dropping what is sent. */
static void run_for(uint64_t us)
{
	uint64_t end = T.now + us;
	unsigned char f[T_FRAME_MAX];
	size_t l;

	for (int i = 0; i < 100000; i++) {
		uint64_t d = nstack_next_deadline(T.ns);

		while (t_try_recv(f, sizeof(f), &l))
			;
		if (d == UINT64_MAX || d > end)
			break;
		t_clock_set(d > T.now ? d : T.now);
	}
	if (end > T.now)
		t_clock_set(end);
	while (t_try_recv(f, sizeof(f), &l))
		;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static struct socket *tcp_socket(void)
{
	struct socket *s = NULL;

	ck_assert_int_eq(nstack_socket(T.ns, AF_INET, SOCK_STREAM, 0, &s), 0);
	nstack_set_nonblock(s, true);
	return s;
}

static struct socket *listener(uint16_t port, int backlog)
{
	struct socket *l = tcp_socket();
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};

	ck_assert_int_eq(nstack_bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(nstack_listen(l, backlog), 0);
	return l;
}

static ssize_t usend(struct socket *s, const void *buf, size_t len)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};

	return nstack_sendmsg(s, &m, 0);
}

static ssize_t urecv(struct socket *s, void *buf, size_t len)
{
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};

	return nstack_recvmsg(s, &m, 0);
}

static int sockopt(struct socket *s, int level, int name, int v)
{
	return nstack_setsockopt(s, level, name, &v, sizeof(v));
}

/* Peer SYN options: MSS 1460 only (no SACK, TS, WS): segments carry no options. */
static const uint8_t opt_mss[] = {2, 4, 0x05, 0xb4};
/* MSS 1460 and SACK-permitted. */
static const uint8_t opt_mss_sack[] = {2, 4, 0x05, 0xb4, 1, 1, 4, 2};

/* A connection accepted on SRV_PORT from PEER_PORT; returns our ISN. */
struct conn {
	struct socket *l, *s;
	uint32_t iss; /* ours */
	uint32_t snd; /* our next sequence number */
	uint32_t rcv; /* the peer's next sequence number */
};

static struct conn passive(const uint8_t *opt, size_t optlen, uint16_t synack_win,
			   const uint8_t *synack_opt, size_t synack_optlen)
{
	struct conn c;
	unsigned char f[T_FRAME_MAX];
	size_t len;
	const struct tcphdr *th;

	c.l = listener(SRV_PORT, 8);
	inject(&(struct seg){PEER_PORT, SRV_PORT, PEER_ISN, 0, TH_SYN, 65535, opt, optlen});
	th = recv_tcp(f, &len);
	c.iss = ntohl(th->seq);
	/* Put the frame back in shape for an exact comparison. */
	{
		struct seg want = {SRV_PORT,	    PEER_PORT,	c.iss,	    PEER_ISN + 1,
				   TH_SYN | TH_ACK, synack_win, synack_opt, synack_optlen};
		static unsigned char tcp[T_FRAME_MAX];
		size_t n = build_tcp(tcp, T_LOCAL_IP, T_PEER_IP, &want);

		ck_assert_uint_eq(len, frame_len(n));
		ck_assert_mem_eq((const unsigned char *)th, tcp, n);
	}
	c.snd = c.iss + 1;
	c.rcv = PEER_ISN + 1;
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, c.snd, TH_ACK, 65535});
	t_expect_no_tx();
	c.s = NULL;
	ck_assert_int_eq(nstack_accept(c.l, &c.s, NULL, NULL, SOCK_NONBLOCK), 0);
	return c;
}

static struct conn passive_plain(void)
{
	return passive(opt_mss, sizeof(opt_mss), 64240, opt_mss, sizeof(opt_mss));
}

static void conn_close(struct conn *c)
{
	if (c->s)
		nstack_close(c->s);
	if (c->l)
		nstack_close(c->l);
	/* Let FIN/RST go and every timer run out. */
	run_for(600ull * 1000000);
}

/* --- RST for segments that match no socket (RFC 9293 3.10.7.1) --- */

START_TEST(test_closed_syn_to_closed_port_sends_rst_ack)
{
	inject(&(struct seg){PEER_PORT, 9, PEER_ISN, 0, TH_SYN, 65535, opt_mss, 4});
	expect(&(struct seg){9, PEER_PORT, 0, PEER_ISN + 1, TH_RST | TH_ACK, 0});
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("TcpOutRsts"), 1);
}
END_TEST

START_TEST(test_closed_ack_to_closed_port_sends_rst_from_ack)
{
	inject(&(struct seg){PEER_PORT, 9, 1000, 0x12345678, TH_ACK, 65535, NULL, 0, "abc", 3});
	expect(&(struct seg){9, PEER_PORT, 0x12345678, 0, TH_RST, 0});
	inject(&(struct seg){PEER_PORT, 9, 1000, 0, TH_RST, 0});
	t_expect_no_tx();
}
END_TEST

START_TEST(test_closed_bad_checksum_dropped_silently)
{
	unsigned char tcp[64], frame[128];
	struct seg s = {PEER_PORT, 9, 1, 0, TH_SYN, 100};
	size_t n = build_tcp(tcp, T_PEER_IP, T_LOCAL_IP, &s);

	tcp[16] ^= 0x55;
	n = t_build_peer_ip(frame, IPPROTO_TCP, 1, tcp, n);
	t_inject(frame, n);
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("TcpInCsumErrors"), 1);
	/* A header shorter than its data offset claims. */
	s.optlen = 0;
	n = build_tcp(tcp, T_PEER_IP, T_LOCAL_IP, &s);
	tcp[12] = 0xf0;
	n = t_build_peer_ip(frame, IPPROTO_TCP, 1, tcp, n);
	t_inject(frame, n);
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("TcpInErrs"), 2);
}
END_TEST

/* --- Handshakes and option bytes --- */

START_TEST(test_listen_syn_with_all_options_synack_in_linux_order)
{
	static const uint8_t syn_opt[] = {2, 4,	  0x05, 0xb4, 4, 2, 8, 10, 0, 0,
					  0, 100, 0,	0,    0, 0, 1, 3,  3, 7};
	uint8_t want_opt[20] = {2, 4, 0x05, 0xb4, 4, 2,	  8, 10, 0, 0,
				0, 0, 0,    0,	  0, 100, 1, 3,	 3, 7};
	unsigned char f[T_FRAME_MAX];
	const struct tcphdr *th;
	struct socket *l = listener(SRV_PORT, 8), *s = NULL;
	size_t len;
	uint32_t iss, tsval;

	inject(&(struct seg){PEER_PORT, SRV_PORT, PEER_ISN, 0, TH_SYN, 65535, syn_opt,
			     sizeof(syn_opt)});
	th = recv_tcp(f, &len);
	iss = ntohl(th->seq);
	tsval = get32((const uint8_t *)(th + 1) + 8);
	put32(want_opt + 8, tsval);
	/* Rebuild the whole frame with those two values and compare it byte for byte. */
	{
		static unsigned char tcp[T_FRAME_MAX], ip[T_FRAME_MAX], want[T_FRAME_MAX];
		struct seg w = {SRV_PORT,	 PEER_PORT, iss,      PEER_ISN + 1,
				TH_SYN | TH_ACK, 65160,	    want_opt, 20};
		size_t n = build_tcp(tcp, T_LOCAL_IP, T_PEER_IP, &w);

		n = t_build_ipv4(ip, T_LOCAL_IP, T_PEER_IP, IPPROTO_TCP,
				 ntohs(((const struct iphdr *)(f + ETH_HLEN))->id), IP_DF, 64, tcp,
				 n);
		n = t_build_eth(want, t_peer_mac, t_local_mac, ETH_P_IP, ip, n);
		ck_assert_uint_eq(n, len);
		ck_assert_mem_eq(f, want, n);
	}
	t_expect_no_tx();
	/* The third segment completes it; the child is accepted with the options on. */
	{
		uint8_t ack_opt[12] = {1, 1, 8, 10, 0, 0, 0, 101};

		put32(ack_opt + 8, tsval);
		inject(&(struct seg){PEER_PORT, SRV_PORT, PEER_ISN + 1, iss + 1, TH_ACK, 502,
				     ack_opt, 12});
	}
	t_expect_no_tx();
	ck_assert_int_eq(nstack_accept(l, &s, NULL, NULL, SOCK_NONBLOCK), 0);
	{
		struct tcp_info_linux ti;
		socklen_t tl = sizeof(ti);

		ck_assert_int_eq(nstack_getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &tl), 0);
		ck_assert_uint_eq(ti.tcpi_state, TCP_ESTABLISHED);
		ck_assert_uint_eq(ti.tcpi_options,
				  TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE);
		ck_assert_uint_eq(ti.tcpi_snd_wscale, 7);
		ck_assert_uint_eq(ti.tcpi_rcv_wscale, 7);
		ck_assert_uint_eq(ti.tcpi_snd_wnd, 502u << 7);
		ck_assert_uint_eq(ti.tcpi_snd_mss, 1448);
	}
	ck_assert_uint_eq(t_stat("TcpPassiveOpens"), 1);
	nstack_close(s);
	nstack_close(l);
	run_for(600ull * 1000000);
}
END_TEST

static void active_syn_on(struct socket *sp, uint32_t *iss, uint16_t *port, uint32_t *tsval);

/* Connects to the peer; returns the SYN's sequence number and source port. */
static void active_syn(struct socket **sp, uint32_t *iss, uint16_t *port, uint32_t *tsval)
{
	*sp = tcp_socket();
	active_syn_on(*sp, iss, port, tsval);
}

/* active_syn() for a socket the caller prepared. */
static void active_syn_on(struct socket *sp, uint32_t *iss, uint16_t *port, uint32_t *tsval)
{
	struct sockaddr_in sa = {
	    .sin_family = AF_INET, .sin_port = htons(SRV_PORT), .sin_addr.s_addr = T_PEER_IP};
	uint8_t want_opt[20] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 3, 7};
	unsigned char f[T_FRAME_MAX];
	const struct tcphdr *th;
	size_t len;

	ck_assert_int_eq(nstack_connect(sp, (struct sockaddr *)&sa, sizeof(sa)), -EINPROGRESS);
	th = recv_tcp(f, &len);
	*iss = ntohl(th->seq);
	*port = ntohs(th->source);
	*tsval = get32((const uint8_t *)(th + 1) + 8);
	put32(want_opt + 8, *tsval);
	{
		static unsigned char tcp[T_FRAME_MAX];
		struct seg w = {*port, SRV_PORT, *iss, 0, TH_SYN, 64240, want_opt, 20};
		size_t n = build_tcp(tcp, T_LOCAL_IP, T_PEER_IP, &w);

		ck_assert_uint_eq(len, frame_len(n));
		ck_assert_mem_eq((const unsigned char *)th, tcp, n);
	}
	ck_assert_uint_ge(*port, 32768);
	ck_assert_uint_le(*port, 60999);
}

START_TEST(test_synsent_connect_sends_syn_in_linux_option_order_then_ack)
{
	struct socket *s;
	uint32_t iss, tsval;
	uint16_t port;
	uint8_t synack_opt[20] = {2,	4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0,
				  0x10, 0, 0,	 0,    0, 0, 1, 3,  3, 7};
	uint8_t ack_opt[12] = {1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0x10, 0};

	active_syn(&s, &iss, &port, &tsval);
	t_expect_no_tx();
	put32(synack_opt + 12, tsval);
	inject(&(struct seg){SRV_PORT, port, PEER_ISN, iss + 1, TH_SYN | TH_ACK, 65160, synack_opt,
			     20});
	/* Our window is 64240 rounded up to the scale, sent as 64256 >> 7 = 502. */
	put32(ack_opt + 4, tsval);
	expect(&(struct seg){port, SRV_PORT, iss + 1, PEER_ISN + 1, TH_ACK, 502, ack_opt, 12});
	t_expect_no_tx();
	ck_assert_int_eq(
	    nstack_connect(s,
			   (struct sockaddr *)&(struct sockaddr_in){.sin_family = AF_INET,
								    .sin_port = htons(SRV_PORT),
								    .sin_addr.s_addr = T_PEER_IP},
			   sizeof(struct sockaddr_in)),
	    0);
	ck_assert_uint_eq(nstack_poll(s), POLLOUT | POLLWRNORM);
	nstack_close(s);
	run_for(600ull * 1000000);
}
END_TEST

static ssize_t usend_fastopen(struct socket *s, const void *buf, size_t len)
{
	struct sockaddr_in sa = {
	    .sin_family = AF_INET, .sin_port = htons(SRV_PORT), .sin_addr.s_addr = T_PEER_IP};
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr m = {
	    .msg_name = &sa, .msg_namelen = sizeof(sa), .msg_iov = &iov, .msg_iovlen = 1};

	return nstack_sendmsg(s, &m, MSG_FASTOPEN);
}

/* Our SYN: its options must end with fo (the Fast Open option and padding); returns it. */
static const struct tcphdr *fo_syn(unsigned char *f, const uint8_t *fo, size_t folen,
				   size_t payload)
{
	const struct tcphdr *th;
	size_t len;

	th = recv_tcp(f, &len);
	ck_assert_uint_eq(th->flags, TH_SYN);
	ck_assert_uint_eq(TCP_DOFF(th) * 4u, TCP_HLEN_MIN + 20 + folen);
	ck_assert_mem_eq((const uint8_t *)(th + 1) + 20, fo, folen);
	ck_assert_uint_eq(len, frame_len(TCP_HLEN_MIN + 20 + folen + payload));
	return th;
}

/*
 * TCP Fast Open, client (RFC 7413; packetdrill's fastopen/client scripts):
 * the first MSG_FASTOPEN asks for a cookie in a data-less SYN; with the
 * cookie cached the next carries data in the SYN (up to the server's MSS
 * less 40), and data the SYN-ACK does not cover goes again at once.
 */
START_TEST(test_synsent_fastopen_cookie_request_then_syn_data)
{
	static const uint8_t req[4] = {TCPOPT_FASTOPEN, 2, TCPOPT_NOP, TCPOPT_NOP};
	static const uint8_t cookie[12] = {
	    TCPOPT_FASTOPEN, 10,	0xab, 0xcd, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc,
	    TCPOPT_NOP,	     TCPOPT_NOP};
	uint8_t synack_opt[16] = {2, 4, 0x05, 0xb4};
	static char data[3000];
	unsigned char f[T_FRAME_MAX];
	const struct tcphdr *th;
	struct socket *s;
	struct tcp_info_linux ti;
	socklen_t tlen = sizeof(ti);
	uint32_t iss;
	uint16_t port;

	memcpy(synack_opt + 4, cookie, sizeof(cookie));
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)('a' + i % 26);
	/* No cookie yet: a cookie request, no data. */
	s = tcp_socket();
	ck_assert_int_eq(usend_fastopen(s, data, 1000), -EINPROGRESS);
	th = fo_syn(f, req, sizeof(req), 0);
	iss = ntohl(th->seq);
	port = ntohs(th->source);
	t_expect_no_tx();
	ck_assert_int_eq(usend_fastopen(s, data, 1000), -EALREADY);
	inject(&(struct seg){SRV_PORT, port, PEER_ISN, iss + 1, TH_SYN | TH_ACK, 65535, synack_opt,
			     16});
	th = recv_tcp(f, &(size_t){0});
	ck_assert_uint_eq(th->flags, TH_ACK);
	ck_assert_uint_eq(ntohl(th->seq), iss + 1);
	t_expect_no_tx();
	ck_assert_int_eq(nstack_getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &tlen), 0);
	ck_assert_uint_eq(ti.tcpi_options & TCPI_OPT_SYN_DATA, 0);
	nstack_close(s);
	run_for(600ull * 1000000);

	/* The cookie is cached: 1000 bytes ride on the SYN, and the SYN-ACK covers them. */
	s = tcp_socket();
	ck_assert_int_eq(usend_fastopen(s, data, 1000), 1000);
	th = fo_syn(f, cookie, sizeof(cookie), 1000);
	iss = ntohl(th->seq);
	port = ntohs(th->source);
	ck_assert_mem_eq((const uint8_t *)th + TCP_DOFF(th) * 4, data, 1000);
	inject(&(struct seg){SRV_PORT, port, PEER_ISN, iss + 1001, TH_SYN | TH_ACK, 65535,
			     synack_opt, 4});
	th = recv_tcp(f, &(size_t){0});
	ck_assert_uint_eq(th->flags, TH_ACK);
	ck_assert_uint_eq(ntohl(th->seq), iss + 1001);
	t_expect_no_tx();
	ck_assert_int_eq(nstack_getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &tlen), 0);
	ck_assert_uint_eq(ti.tcpi_options & TCPI_OPT_SYN_DATA, TCPI_OPT_SYN_DATA);
	ck_assert_uint_eq(t_stat("TcpExtTCPFastOpenActive"), 1);
	/* After the handshake MSG_FASTOPEN is an ordinary send. */
	ck_assert_int_eq(usend_fastopen(s, data, 10), 10);
	th = recv_tcp(f, &(size_t){0});
	ck_assert_uint_eq(ntohl(th->seq), iss + 1001);
	nstack_close(s);
	run_for(600ull * 1000000);

	/* 3000 bytes: 1420 in the SYN (MSS 1460 - 40); the SYN-ACK covers none: resent at once. */
	s = tcp_socket();
	ck_assert_int_eq(usend_fastopen(s, data, sizeof(data)), 1420);
	th = fo_syn(f, cookie, sizeof(cookie), 1420);
	iss = ntohl(th->seq);
	port = ntohs(th->source);
	inject(&(struct seg){SRV_PORT, port, PEER_ISN, iss + 1, TH_SYN | TH_ACK, 65535, synack_opt,
			     4});
	th = recv_tcp(f, &(size_t){0});
	ck_assert_uint_eq(th->flags, TH_ACK | TH_PSH);
	ck_assert_uint_eq(ntohl(th->seq), iss + 1);
	ck_assert_uint_eq(ntohl(th->ack_seq), PEER_ISN + 1);
	ck_assert_mem_eq((const uint8_t *)th + TCP_DOFF(th) * 4, data, 1420);
	ck_assert_uint_eq(t_stat("TcpExtTCPFastOpenActiveFail"), 1);
	nstack_close(s);
	run_for(600ull * 1000000);
}
END_TEST

/* TCP_FASTOPEN_CONNECT with a cookie: connect() returns 0 at once, the write sends SYN+data. */
START_TEST(test_synsent_fastopen_connect_deferred_until_write)
{
	static const uint8_t cookie[12] = {TCPOPT_FASTOPEN, 10,	       1, 2, 3, 4, 5, 6, 7, 8,
					   TCPOPT_NOP,	    TCPOPT_NOP};
	static const uint8_t req[4] = {TCPOPT_FASTOPEN, 2, TCPOPT_NOP, TCPOPT_NOP};
	uint8_t synack_opt[16] = {2, 4, 0x05, 0xb4};
	struct sockaddr_in sa = {
	    .sin_family = AF_INET, .sin_port = htons(SRV_PORT), .sin_addr.s_addr = T_PEER_IP};
	unsigned char f[T_FRAME_MAX];
	const struct tcphdr *th;
	struct socket *s;
	uint32_t iss;
	uint16_t port;

	memcpy(synack_opt + 4, cookie, sizeof(cookie));
	/* No cookie: connect() sends a SYN asking for one. */
	s = tcp_socket();
	ck_assert_int_eq(sockopt(s, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, 1), 0);
	ck_assert_int_eq(nstack_connect(s, (struct sockaddr *)&sa, sizeof(sa)), -EINPROGRESS);
	th = fo_syn(f, req, sizeof(req), 0);
	iss = ntohl(th->seq);
	port = ntohs(th->source);
	inject(&(struct seg){SRV_PORT, port, PEER_ISN, iss + 1, TH_SYN | TH_ACK, 65535, synack_opt,
			     16});
	th = recv_tcp(f, &(size_t){0});
	ck_assert_uint_eq(th->flags, TH_ACK);
	nstack_close(s);
	run_for(600ull * 1000000);

	s = tcp_socket();
	ck_assert_int_eq(sockopt(s, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, 1), 0);
	ck_assert_int_eq(nstack_connect(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	t_expect_no_tx();
	ck_assert_uint_eq(nstack_poll(s), POLLOUT | POLLWRNORM);
	ck_assert_int_eq(usend(s, "GET / HTTP/1.0\r\n\r\n", 18), 18);
	th = fo_syn(f, cookie, sizeof(cookie), 18);
	iss = ntohl(th->seq);
	port = ntohs(th->source);
	inject(&(struct seg){SRV_PORT, port, PEER_ISN, iss + 19, TH_SYN | TH_ACK, 65535, synack_opt,
			     4});
	th = recv_tcp(f, &(size_t){0});
	ck_assert_uint_eq(th->flags, TH_ACK);
	ck_assert_uint_eq(ntohl(th->seq), iss + 19);
	/* As for any non-blocking connect: 0 once it completed, then -EISCONN. */
	ck_assert_int_eq(nstack_connect(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(nstack_connect(s, (struct sockaddr *)&sa, sizeof(sa)), -EISCONN);
	nstack_close(s);
	run_for(600ull * 1000000);
}
END_TEST

static void fastopen_server_on(struct nstack_config *cfg)
{
	cfg->tcp.fastopen = TFO_CLIENT_ENABLE | TFO_SERVER_ENABLE;
	/* packetdrill's defaults.sh key: a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4, words stored LE */
	cfg->tcp.fastopen_key[0] = 0xb2b2b2b2a1a1a1a1ull;
	cfg->tcp.fastopen_key[1] = 0xd4d4d4d4c3c3c3c3ull;
	cfg->tcp.fastopen_key_set = true;
}

/*
 * TCP Fast Open, server (packetdrill's fastopen/server scripts): a cookie
 * request gets Linux's cookie for the address pair (the same SipHash value
 * a Linux server computes under the same key); SYN data with that cookie is
 * accepted at once (SYN-ACK acks it, accept() returns, read() gets it, the
 * child may write before the client's ACK); a bad cookie gets the data
 * refused and the right cookie offered.
 */
START_TEST(test_listen_fastopen_server_cookie_then_syn_data_accepted)
{
	static const uint8_t req_opt[8] = {2, 4, 0x05, 0xb4, TCPOPT_FASTOPEN, 2, 1, 1};
	static const uint8_t linux_cookie[8] = {0xa7, 0x80, 0x26, 0x17, 0x22, 0x9e, 0xf8, 0x23};
	struct t_opts o = {.tweak = fastopen_server_on};
	struct tcp_fastopen_cookie foc;
	uint8_t syn_opt[16] = {2, 4, 0x05, 0xb4, TCPOPT_FASTOPEN, 10};
	unsigned char f[T_FRAME_MAX];
	const struct tcphdr *th;
	struct socket *l, *c = NULL;
	uint32_t iss;
	size_t len;
	char buf[64];
	int v = 0;
	socklen_t vl = sizeof(v);

	t_teardown();
	t_setup_opts(&o);
	l = listener(SRV_PORT, 8);
	ck_assert_int_eq(sockopt(l, IPPROTO_TCP, TCP_FASTOPEN, 5), 0);
	ck_assert_int_eq(nstack_getsockopt(l, IPPROTO_TCP, TCP_FASTOPEN, &v, &vl), 0);
	ck_assert_int_eq(v, 5);
	/* Kernel-compatible: Linux computes this cookie for 198.19.2.1 -> 198.18.0.1. */
	nstack_lock(T.ns);
	tcp_fastopen_cookie_gen(l->sk, T_IP(198, 19, 2, 1), T_IP(198, 18, 0, 1), &foc);
	nstack_unlock(T.ns);
	ck_assert_int_eq(foc.len, 8);
	ck_assert_mem_eq(foc.val, linux_cookie, 8);

	/* A cookie request: the SYN-ACK carries our cookie for the peer. */
	inject(&(struct seg){PEER_PORT, SRV_PORT, PEER_ISN, 0, TH_SYN, 65535, req_opt, 8});
	th = recv_tcp(f, &len);
	ck_assert_uint_eq(th->flags, TH_SYN | TH_ACK);
	ck_assert_uint_eq(ntohl(th->ack_seq), PEER_ISN + 1);
	ck_assert_uint_eq(TCP_DOFF(th) * 4u, TCP_HLEN_MIN + 4 + 12);
	ck_assert_uint_eq(((const uint8_t *)(th + 1))[4], TCPOPT_FASTOPEN);
	ck_assert_uint_eq(((const uint8_t *)(th + 1))[5], 10);
	memcpy(syn_opt + 6, (const uint8_t *)(th + 1) + 6, 8);
	syn_opt[14] = syn_opt[15] = TCPOPT_NOP;
	inject(&(struct seg){PEER_PORT, SRV_PORT, PEER_ISN + 1, ntohl(th->seq) + 1, TH_RST, 0});
	run_for(10000);
	ck_assert_uint_eq(t_stat("TcpExtTCPFastOpenCookieReqd"), 1);

	/* The cookie and 10 bytes: a child at once, its SYN-ACK acks the data. */
	inject(&(struct seg){PEER_PORT + 1, SRV_PORT, PEER_ISN, 0, TH_SYN, 65535, syn_opt, 16,
			     "0123456789", 10});
	th = recv_tcp(f, &len);
	ck_assert_uint_eq(th->flags, TH_SYN | TH_ACK);
	ck_assert_uint_eq(ntohl(th->ack_seq), PEER_ISN + 11);
	ck_assert_uint_eq(TCP_DOFF(th) * 4u, TCP_HLEN_MIN + 4); /* MSS only: no cookie */
	iss = ntohl(th->seq);
	t_expect_no_tx();
	ck_assert_int_eq(nstack_accept(l, &c, NULL, NULL, SOCK_NONBLOCK), 0);
	ck_assert_uint_eq(nstack_poll(c) & (POLLIN | POLLOUT), POLLIN | POLLOUT);
	{
		uint32_t mem[SK_MEMINFO_VARS];
		socklen_t ml = sizeof(mem);
		struct tcp_info_linux ti;
		socklen_t tl = sizeof(ti);

		ck_assert_int_eq(nstack_getsockopt(c, SOL_SOCKET, SO_MEMINFO, mem, &ml), 0);
		ck_assert_uint_eq(ml, sizeof(mem));
		/* Charged in truesize, as Linux: the 10 bytes and their skb. */
		ck_assert_uint_gt(mem[SK_MEMINFO_RMEM_ALLOC], 10);
		ck_assert_int_eq(nstack_getsockopt(c, IPPROTO_TCP, TCP_INFO, &ti, &tl), 0);
		ck_assert_uint_eq(ti.tcpi_options & TCPI_OPT_SYN_DATA, TCPI_OPT_SYN_DATA);
	}
	ck_assert_int_eq(urecv(c, buf, sizeof(buf)), 10);
	ck_assert_mem_eq(buf, "0123456789", 10);
	ck_assert_uint_eq(t_stat("TcpExtTCPFastOpenPassive"), 1);
	/* It writes before the client's ACK arrived. */
	ck_assert_int_eq(usend(c, "hello", 5), 5);
	expect(&(struct seg){SRV_PORT, PEER_PORT + 1, iss + 1, PEER_ISN + 11, TH_ACK | TH_PSH,
			     64240, NULL, 0, "hello", 5});
	inject(&(struct seg){PEER_PORT + 1, SRV_PORT, PEER_ISN + 11, iss + 6, TH_ACK, 65535});
	t_expect_no_tx();
	{
		struct tcp_info_linux ti;
		socklen_t tl = sizeof(ti);

		ck_assert_int_eq(nstack_getsockopt(c, IPPROTO_TCP, TCP_INFO, &ti, &tl), 0);
		ck_assert_uint_eq(ti.tcpi_state, TCP_ESTABLISHED);
	}

	/* A wrong cookie: the data is not taken, the right cookie is offered. */
	syn_opt[6] ^= 0xff;
	inject(&(struct seg){PEER_PORT + 2, SRV_PORT, PEER_ISN, 0, TH_SYN, 65535, syn_opt, 16,
			     "0123456789", 10});
	th = recv_tcp(f, &len);
	ck_assert_uint_eq(ntohl(th->ack_seq), PEER_ISN + 1);
	ck_assert_uint_eq(TCP_DOFF(th) * 4u, TCP_HLEN_MIN + 4 + 12);
	ck_assert_uint_eq(t_stat("TcpExtTCPFastOpenPassiveFail"), 1);
	nstack_close(c);

	/* Reset before accept(): accept() still returns it, the data reads, then ECONNRESET. */
	syn_opt[6] ^= 0xff;
	inject(&(struct seg){PEER_PORT + 3, SRV_PORT, PEER_ISN, 0, TH_SYN, 65535, syn_opt, 16,
			     "abcdefghij", 10});
	th = recv_tcp(f, &len);
	ck_assert_uint_eq(ntohl(th->ack_seq), PEER_ISN + 11);
	inject(&(struct seg){PEER_PORT + 3, SRV_PORT, PEER_ISN + 11, 0, TH_RST | TH_ACK, 257});
	c = NULL;
	ck_assert_int_eq(nstack_accept(l, &c, (struct sockaddr *)&(struct sockaddr_in){0},
				       &(socklen_t){sizeof(struct sockaddr_in)}, SOCK_NONBLOCK),
			 0);
	ck_assert_int_eq(urecv(c, buf, sizeof(buf)), 10);
	ck_assert_int_eq(urecv(c, buf, sizeof(buf)), -ECONNRESET);
	nstack_close(c);
	nstack_close(l);
	run_for(600ull * 1000000);
}
END_TEST

/* The peer's ICMP error about our SYN-ACK in frame synack, quoting sequence number seq. */
static void inject_icmp_about_synack(unsigned char *synack, uint8_t code, uint32_t seq)
{
	unsigned char frame[T_FRAME_MAX];
	struct tcphdr *th = (struct tcphdr *)(synack + ETH_HLEN + 20);
	uint32_t saved = th->seq;
	size_t n;

	th->seq = htonl(seq);
	n = t_build_peer_icmp_error(frame, synack, ICMP_DEST_UNREACH, code, 28, 7);
	th->seq = saved;
	t_inject(frame, n);
}

/*
 * ICMP errors about a connection still being opened (Linux's tcp_req_err,
 * packetdrill's fastopen/server/icmp-baseline and icmp-before-accept): one
 * quoting a sequence number we never sent is counted (OutOfWindowIcmps)
 * and ignored; host unreachable for a request in the SYN queue drops it,
 * so the peer's late ACK gets a reset; for a Fast Open child already in
 * the accept queue it ends the connection there: accept() still returns
 * it, the SYN's data reads, then EHOSTUNREACH, and a write gets EPIPE.
 */
START_TEST(test_listen_icmp_unreachable_drops_request_and_ends_fastopen_child)
{
	static const uint8_t mss_opt[4] = {2, 4, 0x05, 0xb4};
	uint8_t syn_opt[16] = {2, 4, 0x05, 0xb4, TCPOPT_FASTOPEN, 10};
	struct t_opts o = {.tweak = fastopen_server_on};
	struct tcp_fastopen_cookie foc;
	unsigned char f[T_FRAME_MAX];
	const struct tcphdr *th;
	struct socket *l, *c = NULL;
	uint32_t iss;
	size_t len;
	char buf[64];

	t_teardown();
	t_setup_opts(&o);
	l = listener(SRV_PORT, 8);
	ck_assert_int_eq(sockopt(l, IPPROTO_TCP, TCP_FASTOPEN, 5), 0);

	/* A plain request: out of window first, then a real one. */
	inject(&(struct seg){PEER_PORT, SRV_PORT, PEER_ISN, 0, TH_SYN, 65535, mss_opt, 4});
	th = recv_tcp(f, &len);
	ck_assert_uint_eq(th->flags, TH_SYN | TH_ACK);
	iss = ntohl(th->seq);
	inject_icmp_about_synack(f, ICMP_HOST_UNREACH, iss + 5000);
	ck_assert_uint_eq(t_stat("TcpExtOutOfWindowIcmps"), 1);
	inject_icmp_about_synack(f, ICMP_HOST_UNREACH, iss);
	ck_assert_uint_eq(t_stat("TcpExtListenDrops"), 1);
	inject(&(struct seg){PEER_PORT, SRV_PORT, PEER_ISN + 1, iss + 1, TH_ACK, 65535});
	expect(&(struct seg){SRV_PORT, PEER_PORT, iss + 1, 0, TH_RST, 0});
	ck_assert_int_eq(nstack_accept(l, &c, NULL, NULL, SOCK_NONBLOCK), -EAGAIN);

	/* A Fast Open child. */
	nstack_lock(T.ns);
	tcp_fastopen_cookie_gen(l->sk, T_PEER_IP, T_LOCAL_IP, &foc);
	nstack_unlock(T.ns);
	memcpy(syn_opt + 6, foc.val, 8);
	syn_opt[14] = syn_opt[15] = TCPOPT_NOP;
	inject(&(struct seg){PEER_PORT + 1, SRV_PORT, PEER_ISN, 0, TH_SYN, 65535, syn_opt, 16,
			     "0123456789", 10});
	th = recv_tcp(f, &len);
	ck_assert_uint_eq(ntohl(th->ack_seq), PEER_ISN + 11);
	iss = ntohl(th->seq);
	inject_icmp_about_synack(f, ICMP_HOST_UNREACH, iss + 5000);
	ck_assert_uint_eq(t_stat("TcpExtOutOfWindowIcmps"), 2);
	inject_icmp_about_synack(f, ICMP_HOST_UNREACH, iss);
	ck_assert_int_eq(nstack_accept(l, &c, NULL, NULL, SOCK_NONBLOCK), 0);
	ck_assert_int_eq(urecv(c, buf, sizeof(buf)), 10);
	ck_assert_int_eq(urecv(c, buf, sizeof(buf)), -EHOSTUNREACH);
	ck_assert_int_eq(usend(c, "x", 1), -EPIPE);
	inject(&(struct seg){PEER_PORT + 1, SRV_PORT, PEER_ISN + 11, iss + 1, TH_ACK, 65535});
	expect(&(struct seg){SRV_PORT, PEER_PORT + 1, iss + 1, 0, TH_RST, 0});
	nstack_close(c);
	nstack_close(l);
	run_for(600ull * 1000000);
}
END_TEST

/* inject() with the IP ECN field set to ecn. */
static void inject_ecn(const struct seg *s, uint8_t ecn)
{
	static unsigned char tcp[T_FRAME_MAX], frame[T_FRAME_MAX];
	size_t n = build_tcp(tcp, T_PEER_IP, T_LOCAL_IP, s);
	struct iphdr *ip = (struct iphdr *)(frame + ETH_HLEN);

	n = t_build_peer_ip(frame, IPPROTO_TCP, 1, tcp, n);
	ip->tos = (uint8_t)((ip->tos & ~3) | ecn);
	ip->check = 0;
	ip->check = ip_fast_csum(ip, 5);
	ck_assert_int_eq(wire_send(T.wire, 1, frame, n), 0);
	nstack_process(T.ns);
}

static void ecn_on(struct nstack_config *cfg)
{
	cfg->tcp.ecn = 1;
}

/*
 * ECN (RFC 3168), net.ipv4.tcp_ecn=1: the SYN asks (ECE|CWR), a SYN-ACK with
 * ECE agrees; new data goes ECT(0), pure ACKs and retransmissions not; a CE
 * mark is echoed with ECE until the peer's CWR; an ECE from the peer cuts
 * the window once (CWR state) and the next new data carries CWR.
 */
START_TEST(test_synsent_ecn_negotiated_ect0_ce_echo_and_cwr)
{
	struct t_opts o = {.tweak = ecn_on};
	struct sockaddr_in sa = {
	    .sin_family = AF_INET, .sin_port = htons(SRV_PORT), .sin_addr.s_addr = T_PEER_IP};
	static const uint8_t synack_opt[4] = {2, 4, 0x05, 0xb4};
	unsigned char f[T_FRAME_MAX];
	const struct tcphdr *th;
	const struct iphdr *ip = (const struct iphdr *)(f + ETH_HLEN);
	struct tcp_info_linux ti;
	socklen_t tl = sizeof(ti);
	struct socket *s;
	uint32_t iss;
	uint16_t port;
	size_t len;
	static char data[4000];

	t_teardown();
	t_setup_opts(&o);
	s = tcp_socket();
	ck_assert_int_eq(nstack_connect(s, (struct sockaddr *)&sa, sizeof(sa)), -EINPROGRESS);
	th = recv_tcp(f, &len);
	ck_assert_uint_eq(th->flags, TH_SYN | TH_ECE | TH_CWR);
	ck_assert_uint_eq(ip->tos & 3, 0);
	iss = ntohl(th->seq);
	port = ntohs(th->source);
	inject(&(struct seg){SRV_PORT, port, PEER_ISN, iss + 1, TH_SYN | TH_ACK | TH_ECE, 65535,
			     synack_opt, 4});
	th = recv_tcp(f, &len);
	ck_assert_uint_eq(th->flags, TH_ACK);
	ck_assert_uint_eq(ip->tos & 3, 0); /* a pure ACK is not ECN-capable */
	/* New data: ECT(0). */
	ck_assert_int_eq(usend(s, data, 1000), 1000);
	th = recv_tcp(f, &len);
	ck_assert_uint_eq(ip->tos & 3, 2);
	ck_assert_uint_eq(th->flags, TH_ACK | TH_PSH);
	inject(&(struct seg){SRV_PORT, port, PEER_ISN + 1, iss + 1001, TH_ACK, 65535});
	/* Data marked CE: our ACK echoes ECE at once, and keeps echoing. */
	inject_ecn(
	    &(struct seg){SRV_PORT, port, PEER_ISN + 1, iss + 1001, TH_ACK, 65535, NULL, 0, "x", 1},
	    3);
	th = recv_tcp(f, &len);
	ck_assert_uint_eq(th->flags, TH_ACK | TH_ECE);
	inject_ecn(
	    &(struct seg){SRV_PORT, port, PEER_ISN + 2, iss + 1001, TH_ACK, 65535, NULL, 0, "y", 1},
	    2);
	th = recv_tcp(f, &len);
	ck_assert_uint_eq(th->flags & TH_ECE, TH_ECE);
	/* Its CWR ends the echo. */
	inject(&(struct seg){SRV_PORT, port, PEER_ISN + 3, iss + 1001, TH_ACK | TH_CWR, 65535, NULL,
			     0, "z", 1});
	th = recv_tcp(f, &len);
	ck_assert_uint_eq(th->flags & TH_ECE, 0);
	/* An ECE for our data: one reduction, CWR on the next new data. */
	ck_assert_int_eq(usend(s, data, 2000), 2000);
	th = recv_tcp(f, &len);
	th = recv_tcp(f, &len);
	inject(&(struct seg){SRV_PORT, port, PEER_ISN + 4, iss + 2001, TH_ACK | TH_ECE, 65535});
	ck_assert_int_eq(nstack_getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &tl), 0);
	ck_assert_uint_eq(ti.tcpi_ca_state, TCP_CA_CWR);
	ck_assert_uint_lt(ti.tcpi_snd_ssthresh, 10);
	while (t_try_recv(f, sizeof(f), &len))
		;
	ck_assert_int_eq(sockopt(s, IPPROTO_TCP, TCP_NODELAY, 1), 0);
	ck_assert_int_eq(usend(s, data, 100), 100);
	th = recv_tcp(f, &len);
	ck_assert_uint_eq(th->flags & TH_CWR, TH_CWR);
	ck_assert_uint_eq(ip->tos & 3, 2);
	nstack_close(s);
	run_for(600ull * 1000000);
}
END_TEST

/*
 * A connection reset while in the accept queue (packetdrill's
 * fastopen/server/reset-non-tfo-socket): accept() returns it, closed; the
 * first write reports ECONNRESET, then the data that came before the reset
 * reads, then EOF.
 */
START_TEST(test_listen_reset_before_accept_write_econnreset_then_data_then_eof)
{
	struct socket *l = listener(SRV_PORT, 8), *c = NULL;
	unsigned char f[T_FRAME_MAX];
	const struct tcphdr *th;
	size_t len;
	uint32_t iss;
	char buf[64];

	inject(&(struct seg){PEER_PORT, SRV_PORT, PEER_ISN, 0, TH_SYN, 65535, opt_mss, 4});
	th = recv_tcp(f, &len);
	iss = ntohl(th->seq);
	inject(&(struct seg){PEER_PORT, SRV_PORT, PEER_ISN + 1, iss + 1, TH_ACK, 65535});
	inject(&(struct seg){PEER_PORT, SRV_PORT, PEER_ISN + 1, iss + 1, TH_ACK, 65535, NULL, 0,
			     "0123456789", 10});
	while (t_try_recv(f, sizeof(f), &len))
		;
	inject(&(struct seg){PEER_PORT, SRV_PORT, PEER_ISN + 11, 0, TH_RST | TH_ACK, 65535});
	ck_assert_int_eq(nstack_accept(l, &c, NULL, NULL, SOCK_NONBLOCK), 0);
	ck_assert_int_eq(usend(c, "x", 1), -ECONNRESET);
	ck_assert_int_eq(urecv(c, buf, sizeof(buf)), 10);
	ck_assert_int_eq(urecv(c, buf, sizeof(buf)), 0);
	nstack_close(c);
	nstack_close(l);
	run_for(600ull * 1000000);
}
END_TEST

START_TEST(test_synsent_syn_retransmits_with_backoff_then_etimedout)
{
	struct socket *s;
	uint32_t iss, tsval;
	uint16_t port;
	uint64_t t0 = T.now, at = 0;
	int err = 0;
	socklen_t el = sizeof(err);

	ck_assert_int_eq(nstack_socket(T.ns, AF_INET, SOCK_STREAM, 0, &s), 0);
	nstack_close(s);
	active_syn(&s, &iss, &port, &tsval);
	/* Linux: 1, 2, 4, 8, 16, 32 s later (tcp_syn_retries 6), then give up at 127 s. */
	for (int i = 0; i < 6; i++) {
		unsigned char f[T_FRAME_MAX];
		const struct tcphdr *th;
		size_t len;

		at += 1000000ull << i;
		t_clock_set(t0 + at - 1);
		t_expect_no_tx();
		t_clock_set(t0 + at);
		th = recv_tcp(f, &len);
		ck_assert_uint_eq(th->flags, TH_SYN);
		ck_assert_uint_eq(ntohl(th->seq), iss);
		t_expect_no_tx();
	}
	t_clock_set(t0 + 127000000 - 1);
	ck_assert_int_eq(nstack_getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el), 0);
	ck_assert_int_eq(err, 0);
	t_clock_set(t0 + 127000000);
	t_expect_no_tx();
	ck_assert_int_eq(nstack_getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el), 0);
	ck_assert_int_eq(err, ETIMEDOUT);
	nstack_close(s);
}
END_TEST

START_TEST(test_synsent_rst_ack_refuses_connection)
{
	struct socket *s;
	uint32_t iss, tsval;
	uint16_t port;
	struct sockaddr_in sa = {
	    .sin_family = AF_INET, .sin_port = htons(SRV_PORT), .sin_addr.s_addr = T_PEER_IP};

	active_syn(&s, &iss, &port, &tsval);
	/* An RST whose ACK does not cover the SYN is ignored (RFC 9293 3.10.7.3). */
	inject(&(struct seg){SRV_PORT, port, 0, iss, TH_RST | TH_ACK, 0});
	t_expect_no_tx();
	ck_assert_uint_eq(nstack_poll(s) & POLLERR, 0);
	inject(&(struct seg){SRV_PORT, port, 0, iss + 1, TH_RST | TH_ACK, 0});
	t_expect_no_tx();
	ck_assert_int_eq(nstack_connect(s, (struct sockaddr *)&sa, sizeof(sa)), -ECONNREFUSED);
	nstack_close(s);
}
END_TEST

/*
 * A host unreachable about our SYN ends the connect() at once, although
 * the error is a soft one for an open connection (Linux's tcp_v4_err for
 * SYN-SENT; "connect: No route to host" from a router's error).
 */
START_TEST(test_synsent_icmp_host_unreachable_fails_connect)
{
	struct socket *s = tcp_socket();
	struct sockaddr_in sa = {
	    .sin_family = AF_INET, .sin_port = htons(SRV_PORT), .sin_addr.s_addr = T_PEER_IP};
	unsigned char f[T_FRAME_MAX], frame[T_FRAME_MAX];
	size_t len, n;

	ck_assert_int_eq(nstack_connect(s, (struct sockaddr *)&sa, sizeof(sa)), -EINPROGRESS);
	recv_tcp(f, &len);
	n = t_build_peer_icmp_error(frame, f, ICMP_DEST_UNREACH, ICMP_HOST_UNREACH, 28, 9);
	t_inject(frame, n);
	t_expect_no_tx();
	ck_assert_uint_eq(nstack_poll(s) & POLLERR, POLLERR);
	ck_assert_int_eq(nstack_connect(s, (struct sockaddr *)&sa, sizeof(sa)), -EHOSTUNREACH);
	nstack_close(s);
}
END_TEST

START_TEST(test_synsent_syn_simultaneous_open_synack_then_established)
{
	struct socket *s;
	uint32_t iss, tsval;
	uint16_t port;

	active_syn(&s, &iss, &port, &tsval);
	/*
	 * The peer's own SYN crosses ours: answer SYN-ACK from our ISN (RFC 9293
	 * figure 8) with our SYN's options, as Linux's tcp_syn_options(); the
	 * scale drops to 0 because the peer offered none.
	 */
	inject(&(struct seg){SRV_PORT, port, PEER_ISN, 0, TH_SYN, 65535, opt_mss, 4});
	{
		uint8_t o[20] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 3, 0};

		put32(o + 8, tsval);
		expect(&(struct seg){port, SRV_PORT, iss, PEER_ISN + 1, TH_SYN | TH_ACK, 64240, o,
				     20});
	}
	t_expect_no_tx();
	/* Its SYN-ACK for ours completes it. */
	inject(&(struct seg){SRV_PORT, port, PEER_ISN + 1, iss + 1, TH_ACK, 65535});
	t_expect_no_tx();
	{
		struct tcp_info_linux ti;
		socklen_t tl = sizeof(ti);

		ck_assert_int_eq(nstack_getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &tl), 0);
		ck_assert_uint_eq(ti.tcpi_state, TCP_ESTABLISHED);
		ck_assert_uint_eq(ti.tcpi_options, 0);
	}
	ck_assert_int_eq(usend(s, "hi", 2), 2);
	expect(&(struct seg){port, SRV_PORT, iss + 1, PEER_ISN + 1, TH_ACK | TH_PSH, 64240, NULL, 0,
			     "hi", 2});
	nstack_close(s);
	run_for(600ull * 1000000);
}
END_TEST

/* --- Data and ACKs --- */

START_TEST(test_established_data_both_ways_acked)
{
	struct conn c = passive_plain();
	char buf[32];

	ck_assert_int_eq(usend(c.s, "abcdef", 6), 6);
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd, c.rcv, TH_ACK | TH_PSH, 64240, NULL, 0,
			     "abcdef", 6});
	c.snd += 6;
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, c.snd, TH_ACK, 65535});
	t_expect_no_tx();
	/* Data from the peer wraps the sequence space; the first is ACKed at once (quick-ACK). */
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, c.snd, TH_ACK | TH_PSH, 65535, NULL, 0,
			     "0123456789abcdefXYZ", 19});
	c.rcv += 19;
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd, c.rcv, TH_ACK, 64240});
	ck_assert_int_eq(urecv(c.s, buf, sizeof(buf)), 19);
	ck_assert_mem_eq(buf, "0123456789abcdefXYZ", 19);
	t_expect_no_tx();
	conn_close(&c);
}
END_TEST

/*
 * On a device that segments TCP (NETDEV_F_TX_GSO), one write of three
 * segments leaves as a single super-frame; the segments the device cuts
 * from it are exactly those TCP would have sent one by one.
 */
START_TEST(test_established_burst_leaves_as_one_super_frame)
{
	struct conn c = passive_plain();
	static char data[4000];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)('a' + i % 26);
	ns_dev(T.ns)->flags |= NETDEV_F_TX_GSO;
	ck_assert_int_eq(usend(c.s, data, sizeof(data)), (ssize_t)sizeof(data));
	expect(
	    &(struct seg){SRV_PORT, PEER_PORT, c.snd, c.rcv, TH_ACK, 64240, NULL, 0, data, 1460});
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd + 1460, c.rcv, TH_ACK, 64240, NULL, 0,
			     data + 1460, 1460});
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd + 2920, c.rcv, TH_ACK | TH_PSH, 64240, NULL,
			     0, data + 2920, 1080});
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("EthOutGsoFrames"), 1);
	ck_assert_uint_eq(t_stat("EthOutFrames"), 3 + 1); /* and the SYN-ACK */
	ck_assert_uint_eq(wire_gso_errors(T.wire), 0);
	c.snd += sizeof(data);
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, c.snd, TH_ACK, 65535});
	/* A lone segment stays a plain frame. */
	ck_assert_int_eq(usend(c.s, "xyz", 3), 3);
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd, c.rcv, TH_ACK | TH_PSH, 64240, NULL, 0,
			     "xyz", 3});
	ck_assert_uint_eq(t_stat("EthOutGsoFrames"), 1);
	ck_assert_uint_eq(t_stat("EthOutPlugLeaks"), 0);
	conn_close(&c);
}
END_TEST

/* passive_plain() with the handshake's ACK arriving rtt_us after the SYN-ACK. */
static struct conn passive_rtt(uint64_t rtt_us)
{
	struct conn c;
	unsigned char f[T_FRAME_MAX];
	size_t len;

	c.l = listener(SRV_PORT, 8);
	inject(&(struct seg){PEER_PORT, SRV_PORT, PEER_ISN, 0, TH_SYN, 65535, opt_mss,
			     sizeof(opt_mss)});
	c.iss = ntohl(recv_tcp(f, &len)->seq);
	c.snd = c.iss + 1;
	c.rcv = PEER_ISN + 1;
	t_clock_advance(rtt_us);
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, c.snd, TH_ACK, 65535});
	t_expect_no_tx();
	c.s = NULL;
	ck_assert_int_eq(nstack_accept(c.l, &c.s, NULL, NULL, SOCK_NONBLOCK), 0);
	return c;
}

/*
 * Linux sends a burst in units of tcp_tso_segs() segments, a millisecond at
 * the pacing rate but at least tcp_min_tso_segs (2): 100 ms of handshake RTT
 * makes it 200% of 10 * 1460 bytes per 100 ms, 285 bytes a millisecond, so
 * two segments. Each unit of two is one GSO frame with PSH on its last
 * segment; the lone fifth segment ends the write, which pushed it.
 */
START_TEST(test_established_long_rtt_burst_psh_ends_each_unit_of_two)
{
	struct conn c = passive_rtt(100000);
	static char data[5 * 1460];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)('a' + i % 26);
	ns_dev(T.ns)->flags |= NETDEV_F_TX_GSO;
	ck_assert_int_eq(sockopt(c.s, IPPROTO_TCP, TCP_NODELAY, 1), 0);
	ck_assert_int_eq(usend(c.s, data, sizeof(data)), (ssize_t)sizeof(data));
	for (int i = 0; i < 5; i++)
		expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd + 1460u * i, c.rcv,
				     (uint8_t)(TH_ACK | (i % 2 || i == 4 ? TH_PSH : 0)), 64240,
				     NULL, 0, data + 1460 * i, 1460});
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("EthOutGsoFrames"), 2);
	ck_assert_uint_eq(wire_gso_errors(T.wire), 0);
	c.snd += sizeof(data);
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, c.snd, TH_ACK, 65535});
	conn_close(&c);
}
END_TEST

/*
 * The congestion window cuts a write: the ten segments it lets out go as
 * two units of five (Linux's tcp_cwnd_test() gives a unit at most half the
 * window), and Linux marks PSH on the last segment of every unit of
 * several, though the write goes on. The rest follows the ACK, the write's
 * end pushed.
 */
START_TEST(test_established_cwnd_limited_burst_ends_with_psh)
{
	struct conn c = passive_plain();
	static char data[12 * 1460];
	uint32_t s0 = c.snd;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)('A' + i % 26);
	ck_assert_int_eq(usend(c.s, data, sizeof(data)), (ssize_t)sizeof(data));
	for (int i = 0; i < 10; i++)
		expect(&(struct seg){SRV_PORT, PEER_PORT, s0 + 1460u * i, c.rcv,
				     (uint8_t)(TH_ACK | (i == 4 || i == 9 ? TH_PSH : 0)), 64240,
				     NULL, 0, data + 1460 * i, 1460});
	t_expect_no_tx();
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, s0 + 10 * 1460, TH_ACK, 65535});
	for (int i = 10; i < 12; i++)
		expect(&(struct seg){SRV_PORT, PEER_PORT, s0 + 1460u * i, c.rcv,
				     (uint8_t)(TH_ACK | (i == 11 ? TH_PSH : 0)), 64240, NULL, 0,
				     data + 1460 * i, 1460});
	t_expect_no_tx();
	c.snd += sizeof(data);
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, c.snd, TH_ACK, 65535});
	conn_close(&c);
}
END_TEST

/*
 * One burst, one stamp (ns_now_batch): with a clock that moves a
 * millisecond at every reading, the ten segments a write lets out all carry
 * the TSval of the burst's start, as Linux's do (one tcp_mstamp per
 * tcp_write_xmit). Read per segment, the clock gave them ten.
 */
START_TEST(test_established_burst_segments_share_one_timestamp)
{
	static const uint8_t syn_opt[] = {2, 4, 0x05, 0xb4, 1, 1, 8, 10, 0, 0, 0, 100, 0, 0, 0, 0};
	uint8_t ack_opt[12] = {1, 1, 8, 10, 0, 0, 0, 101};
	static char data[10 * 1448];
	unsigned char f[T_FRAME_MAX];
	struct conn c = {.l = listener(SRV_PORT, 8)};
	const struct tcphdr *th;
	uint32_t tsval;
	size_t len;

	inject(&(struct seg){PEER_PORT, SRV_PORT, PEER_ISN, 0, TH_SYN, 65535, syn_opt,
			     sizeof(syn_opt)});
	th = recv_tcp(f, &len);
	c.iss = ntohl(th->seq);
	c.snd = c.iss + 1;
	c.rcv = PEER_ISN + 1;
	put32(ack_opt + 8, get32((const uint8_t *)(th + 1) + 8));
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, c.snd, TH_ACK, 65535, ack_opt, 12});
	ck_assert_int_eq(nstack_accept(c.l, &c.s, NULL, NULL, SOCK_NONBLOCK), 0);
	memset(data, 'b', sizeof(data));
	T.tick_us = 1000;
	ck_assert_int_eq(usend(c.s, data, sizeof(data)), (ssize_t)sizeof(data));
	T.tick_us = 0;
	for (int i = 0; i < 10; i++) {
		th = recv_tcp(f, &len);
		ck_assert_uint_eq(ntohl(th->seq), c.snd + 1448u * (uint32_t)i);
		ck_assert_uint_eq(len, frame_len(TCP_HLEN_MIN + 12 + 1448));
		if (i == 0)
			tsval = get32((const uint8_t *)(th + 1) + 4);
		ck_assert_uint_eq(get32((const uint8_t *)(th + 1) + 4), tsval);
	}
	t_expect_no_tx();
	conn_close(&c);
}
END_TEST

/* The next n frames are full data segments, the from-th to the (from + n - 1)-th after s0. */
static void expect_full_segs(uint32_t s0, int from, int n)
{
	unsigned char f[T_FRAME_MAX];
	size_t len;

	for (int i = from; i < from + n; i++) {
		const struct tcphdr *th = recv_tcp(f, &len);

		ck_assert_uint_eq(ntohl(th->seq), s0 + 1460u * (uint32_t)i);
		ck_assert_uint_eq(len, frame_len(TCP_HLEN_MIN + 1460));
	}
}

/*
 * A 30-segment write on a path of 1 ms: the initial window lets out iw
 * segments, then after wait_us the peer acknowledges the first of them.
 */
static struct conn defer_setup(uint32_t *s0, int iw, uint64_t wait_us)
{
	struct conn c = passive_rtt(1000);
	static char data[30 * 1460];

	memset(data, 'd', sizeof(data));
	*s0 = c.snd;
	ck_assert_int_eq(usend(c.s, data, sizeof(data)), (ssize_t)sizeof(data));
	expect_full_segs(*s0, 0, iw);
	t_expect_no_tx();
	t_clock_advance(wait_us);
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, *s0 + 1460, TH_ACK, 65535});
	return c;
}

/*
 * Linux's tcp_tso_should_defer(): the ACK of one segment lets out two (cwnd
 * 11, nine out), less than a third of the window, and the oldest segment out
 * left 600 us ago, more than half the RTT: the next ACK is due, so nothing
 * goes until it comes. The ACK of two more lets out six, over the third:
 * they go as one unit.
 */
START_TEST(test_established_small_window_opening_waits_for_next_ack)
{
	uint32_t s0;
	struct conn c = defer_setup(&s0, 10, 600);

	t_expect_no_tx();
	t_clock_advance(100);
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, s0 + 3 * 1460, TH_ACK, 65535});
	expect_full_segs(s0, 10, 6);
	t_expect_no_tx();
	conn_close(&c);
}
END_TEST

/*
 * The same ACK 200 us after the burst, less than half the RTT: the next ACK
 * is too far away to wait for, and the two segments go at once.
 */
START_TEST(test_established_small_window_opening_sent_when_next_ack_is_far)
{
	uint32_t s0;
	struct conn c = defer_setup(&s0, 10, 200);

	expect_full_segs(s0, 10, 2);
	t_expect_no_tx();
	conn_close(&c);
}
END_TEST

/*
 * tcp_tso_win_divisor 0: Linux's other rule, wait only while what may go is
 * three segments or less. With an initial window of 20, the ACK of two
 * segments lets out four: less than a third of the window (the default
 * rule would wait), more than three (this one sends).
 */
START_TEST(test_established_no_win_divisor_waits_for_three_segments_at_most)
{
	struct tcp_config t = nstack_config(T.ns)->tcp;
	uint32_t s0;
	struct conn c;

	t.tso_win_divisor = 0;
	t.initial_cwnd = 20;
	nstack_set_tcp_config(T.ns, &t);
	c = defer_setup(&s0, 20, 600);
	t_expect_no_tx();
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, s0 + 2 * 1460, TH_ACK, 65535});
	expect_full_segs(s0, 20, 4);
	t_expect_no_tx();
	conn_close(&c);
}
END_TEST

START_TEST(test_established_unacked_data_retransmits_at_rto_with_backoff)
{
	struct conn c = passive_plain();
	const struct seg want = {SRV_PORT, PEER_PORT, c.snd, c.rcv,    TH_ACK | TH_PSH,
				 64240,	   NULL,      0,     "abcdef", 6};
	uint64_t t0;
	/* The handshake's RTT sample was 0: RTO = max(200 ms) + 1 us, in whole ms (Linux: 201). */
	const uint64_t rto = 201000;

	t0 = T.now;
	ck_assert_int_eq(usend(c.s, "abcdef", 6), 6);
	expect(&want);
	t_expect_no_tx();
	t_clock_set(t0 + rto - 1);
	t_expect_no_tx();
	t_clock_set(t0 + rto);
	expect(&want);
	t_expect_no_tx();
	t_clock_set(t0 + rto + 2 * rto - 1);
	t_expect_no_tx();
	t_clock_set(t0 + rto + 2 * rto);
	expect(&want);
	t_clock_set(t0 + 3 * rto + 4 * rto);
	expect(&want);
	ck_assert_uint_eq(t_stat("TcpRetransSegs"), 3);
	ck_assert_uint_eq(t_stat("TcpExtTCPTimeouts"), 1);
	/* The ACK ends it; no more retransmissions. */
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, c.snd + 6, TH_ACK, 65535});
	t_clock_advance(10ull * 1000000);
	t_expect_no_tx();
	conn_close(&c);
}
END_TEST

START_TEST(test_established_three_dupacks_fast_retransmit_newreno)
{
	struct conn c = passive_plain();
	static char data[5 * 1460];
	uint32_t s0 = c.snd;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)('a' + i % 26);
	/*
	 * Five full segments; the write's last carries PSH, as Linux's (its one
	 * GSO skb is marked by tcp_push() and the mark goes to the last piece).
	 */
	ck_assert_int_eq(sockopt(c.s, IPPROTO_TCP, TCP_NODELAY, 1), 0);
	ck_assert_int_eq(usend(c.s, data, sizeof(data)), (ssize_t)sizeof(data));
	for (int i = 0; i < 5; i++)
		expect(&(struct seg){SRV_PORT, PEER_PORT, s0 + 1460u * i, c.rcv,
				     (uint8_t)(TH_ACK | (i == 4 ? TH_PSH : 0)), 64240, NULL, 0,
				     data + 1460 * i, 1460});
	t_expect_no_tx();
	/* The first segment is lost: three duplicate ACKs for s0. */
	for (int i = 0; i < 2; i++) {
		inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, s0, TH_ACK, 65535});
		t_expect_no_tx();
	}
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, s0, TH_ACK, 65535});
	expect(&(struct seg){SRV_PORT, PEER_PORT, s0, c.rcv, TH_ACK, 64240, NULL, 0, data, 1460});
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("TcpExtTCPRenoRecovery"), 1);
	/* A partial ACK (the third one was lost too) retransmits the next hole (RFC 6582). */
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, s0 + 2 * 1460, TH_ACK, 65535});
	expect(&(struct seg){SRV_PORT, PEER_PORT, s0 + 2 * 1460, c.rcv, TH_ACK, 64240, NULL, 0,
			     data + 2 * 1460, 1460});
	t_expect_no_tx();
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, s0 + 5 * 1460, TH_ACK, 65535});
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("TcpRetransSegs"), 2);
	conn_close(&c);
}
END_TEST

static uint8_t *sack_opt(uint8_t *o, uint32_t s, uint32_t e)
{
	o[0] = 1;
	o[1] = 1;
	o[2] = 5;
	o[3] = 10;
	put32(o + 4, s);
	put32(o + 8, e);
	return o;
}

static void recovery_dupthresh(struct nstack_config *cfg)
{
	cfg->tcp.recovery = 0;
}

/*
 * RFC 6675 loss marking, Linux's net.ipv4.tcp_recovery=0 (RACK, the
 * default, is tested in test_tcp_rack_wire.c with a real RTT: here every
 * segment is sent and SACKed in the same microsecond).
 */
START_TEST(test_established_sack_blocks_mark_hole_and_retransmit_it)
{
	struct t_opts opts = {.tweak = recovery_dupthresh};
	struct conn c;
	static char data[6 * 1460];
	uint32_t s0;
	uint8_t o[12];

	t_teardown();
	t_setup_opts(&opts);
	c = passive(opt_mss_sack, sizeof(opt_mss_sack), 64240, opt_mss_sack, 8);
	s0 = c.snd;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)('A' + i % 26);
	ck_assert_int_eq(sockopt(c.s, IPPROTO_TCP, TCP_NODELAY, 1), 0);
	ck_assert_int_eq(usend(c.s, data, sizeof(data)), (ssize_t)sizeof(data));
	/*
	 * A unit of five (half the initial window, as Linux's tcp_cwnd_test()
	 * allows) ends with PSH; so does the sixth, the write's pushed end.
	 */
	for (int i = 0; i < 6; i++)
		expect(&(struct seg){SRV_PORT, PEER_PORT, s0 + 1460u * i, c.rcv,
				     (uint8_t)(TH_ACK | (i >= 4 ? TH_PSH : 0)), 64240, NULL, 0,
				     data + 1460 * i, 1460});
	/* Segments 2 and 4 are lost; SACKs report 3, then 3 and 5-6 (RFC 6675 IsLost). */
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, s0 + 1460, TH_ACK, 65535,
			     sack_opt(o, s0 + 2 * 1460, s0 + 3 * 1460), 12});
	t_expect_no_tx();
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, s0 + 1460, TH_ACK, 65535,
			     sack_opt(o, s0 + 4 * 1460, s0 + 5 * 1460), 12});
	t_expect_no_tx();
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, s0 + 1460, TH_ACK, 65535,
			     sack_opt(o, s0 + 4 * 1460, s0 + 6 * 1460), 12});
	/* Three segments SACKed above the hole at 1: it is lost, retransmit it. */
	expect(&(struct seg){SRV_PORT, PEER_PORT, s0 + 1460, c.rcv, TH_ACK, 64240, NULL, 0,
			     data + 1460, 1460});
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("TcpExtTCPSackRecovery"), 1);
	/* A partial ACK to 3: the new first hole (segment 3) is lost too (RFC 6582 3.2 step 4). */
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, s0 + 3 * 1460, TH_ACK, 65535,
			     sack_opt(o, s0 + 4 * 1460, s0 + 6 * 1460), 12});
	expect(&(struct seg){SRV_PORT, PEER_PORT, s0 + 3 * 1460, c.rcv, TH_ACK, 64240, NULL, 0,
			     data + 3 * 1460, 1460});
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, s0 + 6 * 1460, TH_ACK, 65535});
	t_expect_no_tx();
	conn_close(&c);
}
END_TEST

START_TEST(test_established_out_of_order_segment_sack_then_reassembled)
{
	struct conn c = passive(opt_mss_sack, sizeof(opt_mss_sack), 64240, opt_mss_sack, 8);
	uint8_t o[12];
	char buf[64];

	/* The second half first: an immediate duplicate ACK with its SACK block. */
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv + 10, c.snd, TH_ACK, 65535, NULL, 0,
			     "klmnopqrst", 10});
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd, c.rcv, TH_ACK, 64240,
			     sack_opt(o, c.rcv + 10, c.rcv + 20), 12});
	ck_assert_int_eq(urecv(c.s, buf, sizeof(buf)), -EAGAIN);
	/* A duplicate of part of it: reported as D-SACK before the SACK block (RFC 2883). */
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv + 12, c.snd, TH_ACK, 65535, NULL, 0, "mnop",
			     4});
	{
		uint8_t o2[20] = {1, 1, 5, 18};

		put32(o2 + 4, c.rcv + 12);
		put32(o2 + 8, c.rcv + 16);
		put32(o2 + 12, c.rcv + 10);
		put32(o2 + 16, c.rcv + 20);
		expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd, c.rcv, TH_ACK, 64240, o2, 20});
	}
	/* The hole filled: everything is ACKed at once. */
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, c.snd, TH_ACK, 65535, NULL, 0,
			     "abcdefghij", 10});
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd, c.rcv + 20, TH_ACK, 64240});
	ck_assert_int_eq(urecv(c.s, buf, sizeof(buf)), 20);
	ck_assert_mem_eq(buf, "abcdefghijklmnopqrst", 20);
	ck_assert_uint_eq(t_stat("TcpExtTCPOFOQueue"), 2);
	/* An old segment again: ACKed at once with its D-SACK block. */
	inject(
	    &(struct seg){PEER_PORT, SRV_PORT, c.rcv, c.snd, TH_ACK, 65535, NULL, 0, "abcde", 5});
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd, c.rcv + 20, TH_ACK, 64240,
			     sack_opt(o, c.rcv, c.rcv + 5), 12});
	t_expect_no_tx();
	conn_close(&c);
}
END_TEST

START_TEST(test_established_swapped_pair_in_one_batch_delivered_in_order)
{
	struct conn c = passive(opt_mss_sack, sizeof(opt_mss_sack), 64240, opt_mss_sack, 8);
	char buf[64];

	/* A link that reorders within a flow (a veth fed by two CPUs). */
	ns_dev(T.ns)->flags |= NETDEV_F_RX_ORDER;
	queue_seg(&(struct seg){PEER_PORT, SRV_PORT, c.rcv + 10, c.snd, TH_ACK, 65535, NULL, 0,
				"klmnopqrst", 10});
	queue_seg(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, c.snd, TH_ACK, 65535, NULL, 0,
				"abcdefghij", 10});
	nstack_process(T.ns);
	/* In order, as if the link had kept it: no duplicate ACK, no SACK block. */
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd, c.rcv + 10, TH_ACK, 64240});
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd, c.rcv + 20, TH_ACK, 64240});
	t_expect_no_tx();
	ck_assert_int_eq(urecv(c.s, buf, sizeof(buf)), 20);
	ck_assert_mem_eq(buf, "abcdefghijklmnopqrst", 20);
	ck_assert_uint_eq(t_stat("TcpExtTCPOFOQueue"), 0);
	ck_assert_uint_eq(t_stat("EthInReordered"), 1);
	conn_close(&c);
}
END_TEST

START_TEST(test_established_fin_keeps_its_place_in_a_batch)
{
	struct conn c = passive(opt_mss_sack, sizeof(opt_mss_sack), 64240, opt_mss_sack, 8);
	uint8_t o[12];

	ns_dev(T.ns)->flags |= NETDEV_F_RX_ORDER;
	/* Data after a FIN-carrying segment does not move across it. */
	queue_seg(&(struct seg){PEER_PORT, SRV_PORT, c.rcv + 10, c.snd, TH_ACK | TH_FIN, 65535,
				NULL, 0, "klmnopqrst", 10});
	queue_seg(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, c.snd, TH_ACK, 65535, NULL, 0,
				"abcdefghij", 10});
	nstack_process(T.ns);
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd, c.rcv, TH_ACK, 64240,
			     sack_opt(o, c.rcv + 10, c.rcv + 21), 12});
	ck_assert_uint_eq(t_stat("EthInReordered"), 0);
	conn_close(&c);
}
END_TEST

START_TEST(test_established_zero_window_probed_with_backoff)
{
	struct conn c = passive_plain();
	uint64_t t0;

	/* The peer closes its window. */
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, c.snd, TH_ACK, 0});
	t0 = T.now;
	ck_assert_int_eq(usend(c.s, "data", 4), 4);
	t_expect_no_tx();
	/* Persist timer: probe at RTO (201 ms), then 402 ms later: seq snd_una - 1, no data. */
	t_clock_set(t0 + 201000 - 1);
	t_expect_no_tx();
	t_clock_set(t0 + 201000);
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd - 1, c.rcv, TH_ACK, 64240});
	t_expect_no_tx();
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, c.snd, TH_ACK, 0});
	t_clock_set(t0 + 201000 + 402000 - 1);
	t_expect_no_tx();
	t_clock_set(t0 + 201000 + 402000);
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd - 1, c.rcv, TH_ACK, 64240});
	/* The window opens: the data goes. */
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, c.snd, TH_ACK, 1000});
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd, c.rcv, TH_ACK | TH_PSH, 64240, NULL, 0,
			     "data", 4});
	t_expect_no_tx();
	conn_close(&c);
}
END_TEST

START_TEST(test_established_idle_keepalive_probes_then_reset)
{
	struct conn c = passive_plain();
	uint64_t t0 = T.now;
	char b;

	ck_assert_int_eq(sockopt(c.s, IPPROTO_TCP, TCP_KEEPIDLE, 10), 0);
	ck_assert_int_eq(sockopt(c.s, IPPROTO_TCP, TCP_KEEPINTVL, 3), 0);
	ck_assert_int_eq(sockopt(c.s, IPPROTO_TCP, TCP_KEEPCNT, 2), 0);
	ck_assert_int_eq(sockopt(c.s, SOL_SOCKET, SO_KEEPALIVE, 1), 0);
	t_clock_set(t0 + 10000000 - 1);
	t_expect_no_tx();
	t_clock_set(t0 + 10000000);
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd - 1, c.rcv, TH_ACK, 64240});
	/* Answered: the next probe waits a full idle time again. */
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, c.snd, TH_ACK, 65535});
	t0 = T.now;
	t_clock_set(t0 + 3000000);
	t_expect_no_tx();
	t_clock_set(t0 + 10000000);
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd - 1, c.rcv, TH_ACK, 64240});
	t_clock_set(t0 + 13000000 - 1);
	t_expect_no_tx();
	t_clock_set(t0 + 13000000);
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd - 1, c.rcv, TH_ACK, 64240});
	/* Two unanswered probes: reset and ETIMEDOUT. */
	t_clock_set(t0 + 16000000);
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd, c.rcv, TH_ACK | TH_RST, 64240});
	ck_assert_int_eq(urecv(c.s, &b, 1), -ETIMEDOUT);
	ck_assert_uint_eq(t_stat("TcpExtTCPKeepAlive"), 3);
	conn_close(&c);
}
END_TEST

START_TEST(test_established_delayed_ack_after_40ms_in_interactive_mode)
{
	struct conn c = passive_plain();
	uint64_t t0;

	ck_assert_int_eq(sockopt(c.s, IPPROTO_TCP, TCP_QUICKACK, 0), 0);
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, c.snd, TH_ACK | TH_PSH, 65535, NULL, 0,
			     "x", 1});
	t0 = T.now;
	c.rcv++;
	t_expect_no_tx();
	t_clock_set(t0 + 40000 - 1);
	t_expect_no_tx();
	t_clock_set(t0 + 40000);
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd, c.rcv, TH_ACK, 64240});
	ck_assert_uint_eq(t_stat("TcpExtDelayedACKs"), 1);
	conn_close(&c);
}
END_TEST

START_TEST(test_established_quickack_first_segments_acked_at_once)
{
	struct conn c = passive_plain();

	for (int i = 0; i < 3; i++) {
		inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, c.snd, TH_ACK | TH_PSH, 65535,
				     NULL, 0, "y", 1});
		c.rcv++;
		expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd, c.rcv, TH_ACK, 64240});
	}
	conn_close(&c);
}
END_TEST

/* --- RFC 5961 --- */

START_TEST(test_established_rst_in_window_not_exact_gets_challenge_ack)
{
	struct conn c = passive_plain();
	char b;

	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv + 100, 0, TH_RST, 0});
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd, c.rcv, TH_ACK, 64240});
	/* Rate-limited: a second one within 500 ms is not answered. */
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv + 200, 0, TH_RST, 0});
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("TcpExtTCPChallengeACK"), 1);
	/* A SYN on an established connection gets one too (RFC 5961 4.2). */
	t_clock_advance(500000);
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv + 5, 0, TH_SYN, 65535, opt_mss, 4});
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd, c.rcv, TH_ACK, 64240});
	ck_assert_int_eq(urecv(c.s, &b, 1), -EAGAIN);
	/* The exact RST resets. */
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, 0, TH_RST, 0});
	t_expect_no_tx();
	ck_assert_int_eq(urecv(c.s, &b, 1), -ECONNRESET);
	conn_close(&c);
}
END_TEST

/* --- Listen path: SYN cookies --- */

START_TEST(test_listen_syn_flood_cookies_legitimate_connection_completes)
{
	struct socket *l = listener(SRV_PORT, 4), *s = NULL;
	unsigned char f[T_FRAME_MAX];
	const struct tcphdr *th;
	size_t len;
	uint32_t cookie;

	/* The flood fills the SYN queue (4), then every SYN is answered with a cookie. */
	for (int i = 0; i < 50; i++) {
		inject(&(struct seg){(uint16_t)(1000 + i), SRV_PORT, 777u * i, 0, TH_SYN, 65535,
				     opt_mss, 4});
		th = recv_tcp(f, &len);
		ck_assert_uint_eq(th->flags, TH_SYN | TH_ACK);
	}
	ck_assert_uint_eq(t_stat("TcpExtSyncookiesSent"), 46);
	inject(&(struct seg){PEER_PORT, SRV_PORT, PEER_ISN, 0, TH_SYN, 65535, opt_mss, 4});
	th = recv_tcp(f, &len);
	cookie = ntohl(th->seq);
	/* The cookie SYN-ACK carries the MSS from Linux's table entry that fits: 1460. */
	ck_assert_mem_eq((const uint8_t *)(th + 1), opt_mss, 4);
	inject(&(struct seg){PEER_PORT, SRV_PORT, PEER_ISN + 1, cookie + 1, TH_ACK, 65535});
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("TcpExtSyncookiesRecv"), 1);
	ck_assert_int_eq(nstack_accept(l, &s, NULL, NULL, SOCK_NONBLOCK), 0);
	ck_assert_int_eq(usend(s, "ok", 2), 2);
	expect(&(struct seg){SRV_PORT, PEER_PORT, cookie + 1, PEER_ISN + 1, TH_ACK | TH_PSH, 64240,
			     NULL, 0, "ok", 2});
	/* A forged cookie is refused with RST. */
	inject(&(struct seg){PEER_PORT + 1, SRV_PORT, 5, 0xdeadbeef, TH_ACK, 65535});
	expect(&(struct seg){SRV_PORT, PEER_PORT + 1, 0xdeadbeef, 0, TH_RST, 0});
	ck_assert_uint_eq(t_stat("TcpExtSyncookiesFailed"), 1);
	nstack_close(s);
	nstack_close(l);
	run_for(600ull * 1000000); /* the requests' timers run out; run_for drops what they send */
}
END_TEST

/*
 * Under a SYN flood (the SYN queue full), a SYN that waited longer than
 * 20 ms between the link and the stack (a capture ring's backlog) is
 * dropped unanswered, so the backlog drains to that age instead of every
 * SYN, a real client's too, being answered hundreds of milliseconds late.
 * Without a flood a late SYN is answered as any.
 */
START_TEST(test_listen_stale_syn_dropped_only_under_flood)
{
	struct socket *l = listener(SRV_PORT, 2);
	unsigned char f[T_FRAME_MAX];
	const struct tcphdr *th;
	size_t len;

	t_clock_advance(1000000); /* waits are taken from the stack's clock */
	ns_dev(T.ns)->rx_waited_us = 30000;
	/* The queue has room: answered (a request is queued). */
	inject(&(struct seg){1000, SRV_PORT, 1, 0, TH_SYN, 65535, opt_mss, 4});
	th = recv_tcp(f, &len);
	ck_assert_uint_eq(th->flags, TH_SYN | TH_ACK);
	inject(&(struct seg){1001, SRV_PORT, 2, 0, TH_SYN, 65535, opt_mss, 4});
	th = recv_tcp(f, &len);
	ck_assert_uint_eq(th->flags, TH_SYN | TH_ACK);
	/* Full: the late SYN is dropped, one 20 ms late or less gets a cookie. */
	inject(&(struct seg){1002, SRV_PORT, 3, 0, TH_SYN, 65535, opt_mss, 4});
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("TcpSynStaleDrops"), 1);
	ck_assert_uint_eq(t_stat("TcpExtListenDrops"), 1);
	ns_dev(T.ns)->rx_waited_us = 20000;
	inject(&(struct seg){1003, SRV_PORT, 4, 0, TH_SYN, 65535, opt_mss, 4});
	th = recv_tcp(f, &len);
	ck_assert_uint_eq(th->flags, TH_SYN | TH_ACK);
	ck_assert_uint_eq(t_stat("TcpExtSyncookiesSent"), 1);
	ck_assert_uint_eq(t_stat("TcpSynStaleDrops"), 1);
	ns_dev(T.ns)->rx_waited_us = 0;
	nstack_close(l);
	run_for(600ull * 1000000);
}
END_TEST

/*
 * Requests are found by their 4-tuple among many (the stack hashes them as
 * Linux's ehash does): with 100 requests queued on one listener and the
 * same peer port opening to two listeners, each ACK completes its own
 * request and no other.
 */
START_TEST(test_listen_requests_found_by_tuple_among_many_and_two_listeners)
{
	struct socket *l1 = listener(SRV_PORT, 128), *l2 = listener(SRV_PORT + 1, 128), *s = NULL,
		      *a[3];
	uint32_t isn[100], isn1, isn2;
	unsigned char f[T_FRAME_MAX];
	const struct tcphdr *th;
	size_t len;

	for (int i = 0; i < 100; i++) {
		inject(&(struct seg){(uint16_t)(2000 + i), SRV_PORT, 1000u * i, 0, TH_SYN, 65535,
				     opt_mss, 4});
		th = recv_tcp(f, &len);
		isn[i] = ntohl(th->seq);
	}
	inject(&(struct seg){PEER_PORT, SRV_PORT, PEER_ISN, 0, TH_SYN, 65535, opt_mss, 4});
	th = recv_tcp(f, &len);
	isn1 = ntohl(th->seq);
	inject(&(struct seg){PEER_PORT, SRV_PORT + 1, PEER_ISN, 0, TH_SYN, 65535, opt_mss, 4});
	th = recv_tcp(f, &len);
	isn2 = ntohl(th->seq);
	ck_assert_uint_eq(t_stat("TcpExtSyncookiesSent"), 0);
	/* The second listener's request completes; the first's, same peer port, stays. */
	inject(&(struct seg){PEER_PORT, SRV_PORT + 1, PEER_ISN + 1, isn2 + 1, TH_ACK, 65535});
	t_expect_no_tx();
	ck_assert_int_eq(nstack_accept(l2, &a[0], NULL, NULL, SOCK_NONBLOCK), 0);
	ck_assert_int_eq(nstack_accept(l1, &s, NULL, NULL, SOCK_NONBLOCK), -EAGAIN);
	/* One from the middle of the queue, then the first listener's own. */
	inject(&(struct seg){2050, SRV_PORT, 1000u * 50 + 1, isn[50] + 1, TH_ACK, 65535});
	t_expect_no_tx();
	ck_assert_int_eq(nstack_accept(l1, &a[1], NULL, NULL, SOCK_NONBLOCK), 0);
	inject(&(struct seg){PEER_PORT, SRV_PORT, PEER_ISN + 1, isn1 + 1, TH_ACK, 65535});
	t_expect_no_tx();
	ck_assert_int_eq(nstack_accept(l1, &a[2], NULL, NULL, SOCK_NONBLOCK), 0);
	ck_assert_int_eq(nstack_accept(l1, &s, NULL, NULL, SOCK_NONBLOCK), -EAGAIN);
	for (int i = 0; i < 3; i++)
		nstack_close(a[i]);
	ck_assert_uint_eq(t_stat("TcpPassiveOpens"), 3);
	nstack_close(l1);
	nstack_close(l2);
	run_for(600ull * 1000000); /* the requests' timers run out; run_for drops what they send */
}
END_TEST

/*
 * On a device that takes frames in batches, the SYN-ACKs answering one
 * poll batch of SYNs (a flood's, say) leave in one batch, in the order of
 * the SYNs, each the frame it would have been alone.
 */
START_TEST(test_listen_synacks_of_one_poll_batch_leave_in_one_batch_in_order)
{
	struct socket *l = listener(SRV_PORT, 128);
	unsigned long b0 = wire_tx_batches(T.wire);
	unsigned char f[T_FRAME_MAX];
	const struct tcphdr *th;
	size_t len;

	/* As the live backend: receive batches held for ordering, sends segmented. */
	ns_dev(T.ns)->flags |= NETDEV_F_TX_GSO | NETDEV_F_RX_ORDER;
	for (int i = 0; i < 20; i++)
		queue_seg(&(struct seg){(uint16_t)(3000 + i), SRV_PORT, 500u * i, 0, TH_SYN, 65535,
					opt_mss, 4});
	nstack_process(T.ns);
	ck_assert_uint_eq(wire_tx_batches(T.wire) - b0, 1);
	for (int i = 0; i < 20; i++) {
		th = recv_tcp(f, &len);
		ck_assert_uint_eq(th->flags, TH_SYN | TH_ACK);
		ck_assert_uint_eq(ntohs(th->dest), 3000 + i);
		ck_assert_uint_eq(ntohl(th->ack_seq), 500u * i + 1);
	}
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("EthOutFrames"), 20);
	nstack_close(l);
	run_for(600ull * 1000000); /* the requests' timers run out; run_for drops what they send */
}
END_TEST

START_TEST(test_listen_synack_retransmitted_at_1s_then_2s)
{
	struct socket *l = listener(SRV_PORT, 8);
	unsigned char f[T_FRAME_MAX];
	const struct tcphdr *th;
	size_t len;
	uint64_t t0 = T.now;
	uint32_t iss;

	inject(&(struct seg){PEER_PORT, SRV_PORT, PEER_ISN, 0, TH_SYN, 65535, opt_mss, 4});
	th = recv_tcp(f, &len);
	iss = ntohl(th->seq);
	t_clock_set(t0 + 1000000 - 1);
	t_expect_no_tx();
	t_clock_set(t0 + 1000000);
	expect(&(struct seg){SRV_PORT, PEER_PORT, iss, PEER_ISN + 1, TH_SYN | TH_ACK, 64240,
			     opt_mss, 4});
	t_clock_set(t0 + 3000000 - 1);
	t_expect_no_tx();
	t_clock_set(t0 + 3000000);
	expect(&(struct seg){SRV_PORT, PEER_PORT, iss, PEER_ISN + 1, TH_SYN | TH_ACK, 64240,
			     opt_mss, 4});
	nstack_close(l);
}
END_TEST

/* --- Closing --- */

START_TEST(test_established_active_close_fin_handshake_time_wait_expires)
{
	struct conn c = passive_plain();
	uint64_t t0;

	nstack_close(c.s);
	c.s = NULL;
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd, c.rcv, TH_ACK | TH_FIN, 64240});
	c.snd++;
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, c.snd, TH_ACK, 65535});
	t_expect_no_tx();
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, c.snd, TH_ACK | TH_FIN, 65535});
	c.rcv++;
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd, c.rcv, TH_ACK, 64240});
	t0 = T.now;
	/* TIME_WAIT answers a retransmitted FIN and restarts 2 MSL (60 s). */
	t_clock_set(t0 + 1000000);
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv - 1, c.snd, TH_ACK | TH_FIN, 65535});
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd, c.rcv, TH_ACK, 64240});
	t0 = T.now;
	t_clock_set(t0 + 60000000 - 1);
	ck_assert_int_eq(nstack_live_socks(T.ns), 2);
	t_clock_set(t0 + 60000000);
	ck_assert_int_eq(nstack_live_socks(T.ns), 1); /* the listener */
	/* Gone: the pair now answers with RST. */
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, c.snd, TH_ACK, 65535});
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd, 0, TH_RST, 0});
	conn_close(&c);
}
END_TEST

START_TEST(test_established_peer_fin_close_wait_then_last_ack)
{
	struct conn c = passive_plain();
	char b;

	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, c.snd, TH_ACK | TH_FIN, 65535});
	c.rcv++;
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd, c.rcv, TH_ACK, 64240});
	ck_assert_int_eq(urecv(c.s, &b, 1), 0);
	/* Half-closed: we may still send. */
	ck_assert_int_eq(usend(c.s, "z", 1), 1);
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd, c.rcv, TH_ACK | TH_PSH, 64240, NULL, 0,
			     "z", 1});
	c.snd++;
	nstack_close(c.s);
	c.s = NULL;
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd, c.rcv, TH_ACK | TH_FIN, 64240});
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, c.snd + 1, TH_ACK, 65535});
	t_expect_no_tx();
	ck_assert_int_eq(nstack_live_socks(T.ns), 1);
	conn_close(&c);
}
END_TEST

START_TEST(test_established_simultaneous_close_closing_then_time_wait)
{
	struct conn c = passive_plain();

	ck_assert_int_eq(nstack_shutdown(c.s, SHUT_WR), 0);
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd, c.rcv, TH_ACK | TH_FIN, 64240});
	/* The peer's FIN crosses ours. */
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, c.snd, TH_ACK | TH_FIN, 65535});
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd + 1, c.rcv + 1, TH_ACK, 64240});
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv + 1, c.snd + 1, TH_ACK, 65535});
	t_expect_no_tx();
	{
		struct tcp_info_linux ti;
		socklen_t tl = sizeof(ti);

		ck_assert_int_eq(nstack_getsockopt(c.s, IPPROTO_TCP, TCP_INFO, &ti, &tl), 0);
		ck_assert_uint_eq(ti.tcpi_state, TCP_TIME_WAIT);
	}
	conn_close(&c);
}
END_TEST

START_TEST(test_established_close_with_unread_data_sends_rst)
{
	struct conn c = passive_plain();

	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, c.snd, TH_ACK | TH_PSH, 65535, NULL, 0,
			     "unread", 6});
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd, c.rcv + 6, TH_ACK, 64240});
	nstack_close(c.s);
	c.s = NULL;
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd, c.rcv + 6, TH_ACK | TH_RST, 64240});
	ck_assert_uint_eq(t_stat("TcpExtTCPAbortOnClose"), 1);
	conn_close(&c);
}
END_TEST

/* --- one connection held by two processes (fork), shared.c --- */

/* Forks a process that shares the stack and holds every socket we hold; it waits to be killed. */
static pid_t fork_holder(int *slot)
{
	pid_t pid;

	*slot = nstack_fork_prepare(T.ns);
	ck_assert_int_ge(*slot, 1);
	pid = fork();
	if (pid == 0) {
		nstack_fork_child(T.ns, *slot);
		for (;;)
			pause();
	}
	nstack_fork_parent(T.ns, *slot, pid);
	ck_assert_int_gt(pid, 0);
	return pid;
}

/* What the driver does when the pidfd of a process it watches says it died. */
static void reap(pid_t pid, int slot)
{
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	nstack_lock(T.ns);
	ns_proc_reap(T.ns, slot);
	nstack_unlock(T.ns);
	nstack_process(T.ns);
}

START_TEST(test_shared_parent_close_keeps_connection_child_death_sends_fin)
{
	struct conn c = passive_plain();
	int slot;
	pid_t pid = fork_holder(&slot);

	ck_assert_int_eq(nstack_proc_count(T.ns), 2);
	/* The child still has it: our close() is not the connection's. */
	nstack_close(c.s);
	c.s = NULL;
	t_expect_no_tx();
	ck_assert_int_eq(nstack_live_socks(T.ns), 2);
	/* The child dies with the last reference: closed as the kernel closes it. */
	reap(pid, slot);
	ck_assert_int_eq(nstack_proc_count(T.ns), 1);
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd, c.rcv, TH_ACK | TH_FIN, 64240});
	conn_close(&c);
}
END_TEST

START_TEST(test_shared_child_death_with_unread_data_parent_still_reads)
{
	struct conn c = passive_plain();
	char buf[8];
	int slot;
	pid_t pid = fork_holder(&slot);

	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, c.snd, TH_ACK | TH_PSH, 65535, NULL, 0,
			     "unread", 6});
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd, c.rcv + 6, TH_ACK, 64240});
	c.rcv += 6;
	/* The child goes while data waits: we hold the socket, so no RST. */
	reap(pid, slot);
	t_expect_no_tx();
	ck_assert_int_eq(urecv(c.s, buf, sizeof(buf)), 6);
	ck_assert_mem_eq(buf, "unread", 6);
	nstack_close(c.s);
	c.s = NULL;
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd, c.rcv, TH_ACK | TH_FIN, 64240});
	conn_close(&c);
}
END_TEST

START_TEST(test_shared_both_close_last_close_sends_rst_for_unread_data)
{
	struct conn c = passive_plain();
	int slot;
	pid_t pid = fork_holder(&slot);

	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, c.snd, TH_ACK | TH_PSH, 65535, NULL, 0,
			     "unread", 6});
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd, c.rcv + 6, TH_ACK, 64240});
	nstack_close(c.s);
	c.s = NULL;
	t_expect_no_tx();
	/* Unread data at the last reference's end: RST, as Linux's tcp_close(). */
	reap(pid, slot);
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd, c.rcv + 6, TH_ACK | TH_RST, 64240});
	conn_close(&c);
}
END_TEST

START_TEST(test_shared_failed_fork_gives_the_holds_back)
{
	struct conn c = passive_plain();
	int slot = nstack_fork_prepare(T.ns);

	ck_assert_int_ge(slot, 1);
	nstack_fork_parent(T.ns, slot, -1);
	ck_assert_int_eq(nstack_proc_count(T.ns), 1);
	nstack_close(c.s);
	c.s = NULL;
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd, c.rcv, TH_ACK | TH_FIN, 64240});
	conn_close(&c);
}
END_TEST

START_TEST(test_established_old_timestamp_rejected_by_paws)
{
	static const uint8_t syn_opt[] = {2, 4, 0x05, 0xb4, 1, 1, 8, 10, 0, 0, 0x10, 0, 0, 0, 0, 0};
	uint8_t o[12] = {1, 1, 8, 10}, synack_opt[16] = {2, 4, 0x05, 0xb4, 1, 1, 8, 10};
	unsigned char f[T_FRAME_MAX];
	const struct tcphdr *th;
	struct socket *l = listener(SRV_PORT, 8), *s = NULL;
	uint32_t iss, tsval;
	size_t len;
	char b[8];

	inject(&(struct seg){PEER_PORT, SRV_PORT, PEER_ISN, 0, TH_SYN, 65535, syn_opt,
			     sizeof(syn_opt)});
	th = recv_tcp(f, &len);
	iss = ntohl(th->seq);
	tsval = get32((const uint8_t *)(th + 1) + 8);
	put32(synack_opt + 8, tsval);
	put32(synack_opt + 12, 0x1000);
	ck_assert_mem_eq((const uint8_t *)(th + 1), synack_opt, 16);
	put32(o + 4, 0x1001);
	put32(o + 8, tsval);
	inject(&(struct seg){PEER_PORT, SRV_PORT, PEER_ISN + 1, iss + 1, TH_ACK, 65535, o, 12});
	ck_assert_int_eq(nstack_accept(l, &s, NULL, NULL, SOCK_NONBLOCK), 0);
	/* Data with TS.Val older than TS.Recent: dropped, answered with a duplicate ACK (RFC
	 * 7323 5.3). */
	put32(o + 4, 0x0fff);
	inject(&(struct seg){PEER_PORT, SRV_PORT, PEER_ISN + 1, iss + 1, TH_ACK | TH_PSH, 65535, o,
			     12, "old", 3});
	th = recv_tcp(f, &len);
	ck_assert_uint_eq(th->flags, TH_ACK);
	ck_assert_uint_eq(ntohl(th->ack_seq), PEER_ISN + 1);
	ck_assert_uint_eq(get32((const uint8_t *)(th + 1) + 8), 0x1001); /* echoes TS.Recent */
	ck_assert_uint_eq(t_stat("TcpExtPAWSEstabRejected"), 1);
	ck_assert_int_eq(urecv(s, b, sizeof(b)), -EAGAIN);
	/* A newer one is taken. */
	put32(o + 4, 0x1002);
	inject(&(struct seg){PEER_PORT, SRV_PORT, PEER_ISN + 1, iss + 1, TH_ACK | TH_PSH, 65535, o,
			     12, "new", 3});
	ck_assert_int_eq(urecv(s, b, sizeof(b)), 3);
	ck_assert_mem_eq(b, "new", 3);
	nstack_close(s);
	nstack_close(l);
	run_for(600ull * 1000000);
}
END_TEST

START_TEST(test_established_unanswered_rto_gives_up_after_retries2_etimedout)
{
	struct conn c = passive_plain();
	uint64_t t0 = T.now;
	int err = 0, n = 0;
	socklen_t el = sizeof(err);
	unsigned char f[T_FRAME_MAX];
	size_t len;

	ck_assert_int_eq(usend(c.s, "lost", 4), 4);
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd, c.rcv, TH_ACK | TH_PSH, 64240, NULL, 0,
			     "lost", 4});
	/*
	 * tcp_retries2 = 15: Linux's model timeout from a 200 ms base is
	 * (2^10 - 1) * 0.2 s + 6 * 120 s = 924.6 s; with RTO 201 ms the RTO that
	 * expires at or after it (925.6 s) gives up instead of retransmitting.
	 */
	for (int i = 0; i < 100000; i++) {
		uint64_t d = nstack_next_deadline(T.ns);

		if (d == UINT64_MAX || d > t0 + 2000ull * 1000000)
			break;
		t_clock_set(d);
		while (t_try_recv(f, sizeof(f), &len))
			n++;
		ck_assert_int_eq(nstack_getsockopt(c.s, SOL_SOCKET, SO_ERROR, &err, &el), 0);
		if (err)
			break;
	}
	ck_assert_int_eq(err, ETIMEDOUT);
	ck_assert_int_eq(n, 15);
	ck_assert_uint_ge(T.now - t0, 924600000ull);
	ck_assert_uint_lt(T.now - t0, 926000000ull);
	ck_assert_uint_eq(t_stat("TcpExtTCPAbortOnTimeout"), 1);
	conn_close(&c);
}
END_TEST

START_TEST(test_established_nagle_holds_second_small_segment_until_ack)
{
	struct conn c = passive_plain();

	ck_assert_int_eq(usend(c.s, "a", 1), 1);
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd, c.rcv, TH_ACK | TH_PSH, 64240, NULL, 0,
			     "a", 1});
	/* A small segment is unacknowledged: Nagle (RFC 896, Minshall) holds the next. */
	ck_assert_int_eq(usend(c.s, "b", 1), 1);
	ck_assert_int_eq(usend(c.s, "c", 1), 1);
	t_expect_no_tx();
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, c.snd + 1, TH_ACK, 65535});
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd + 1, c.rcv, TH_ACK | TH_PSH, 64240, NULL, 0,
			     "bc", 2});
	/* TCP_NODELAY sends at once. */
	ck_assert_int_eq(sockopt(c.s, IPPROTO_TCP, TCP_NODELAY, 1), 0);
	ck_assert_int_eq(usend(c.s, "d", 1), 1);
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd + 3, c.rcv, TH_ACK | TH_PSH, 64240, NULL, 0,
			     "d", 1});
	conn_close(&c);
}
END_TEST

START_TEST(test_established_cork_holds_partial_until_uncorked)
{
	struct conn c = passive_plain();

	ck_assert_int_eq(sockopt(c.s, IPPROTO_TCP, TCP_CORK, 1), 0);
	ck_assert_int_eq(usend(c.s, "head", 4), 4);
	ck_assert_int_eq(usend(c.s, "er", 2), 2);
	t_expect_no_tx();
	ck_assert_int_eq(sockopt(c.s, IPPROTO_TCP, TCP_CORK, 0), 0);
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd, c.rcv, TH_ACK | TH_PSH, 64240, NULL, 0,
			     "header", 6});
	t_expect_no_tx();
	conn_close(&c);
}
END_TEST

/* Linux's 200 ms ceiling: corked data forgotten by the program leaves anyway. */
START_TEST(test_established_cork_ceiling_sends_partial_after_200ms)
{
	struct conn c = passive_plain();

	ck_assert_int_eq(sockopt(c.s, IPPROTO_TCP, TCP_CORK, 1), 0);
	ck_assert_int_eq(usend(c.s, "forgot", 6), 6);
	t_clock_advance(199000);
	t_expect_no_tx();
	/* The persist timer (RTO, 200 ms at least) on the 1 ms wheel: due by 201 ms. */
	t_clock_advance(2000);
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd, c.rcv, TH_ACK | TH_PSH, 64240, NULL, 0,
			     "forgot", 6});
	t_expect_no_tx();
	c.snd += 6;
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, c.snd, TH_ACK, 65535});
	t_expect_no_tx();
	conn_close(&c);
}
END_TEST

START_TEST(test_time_wait_new_syn_with_higher_seq_reaches_listener)
{
	struct conn c = passive_plain();
	unsigned char f[T_FRAME_MAX];
	const struct tcphdr *th;
	size_t len;

	nstack_close(c.s);
	c.s = NULL;
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd, c.rcv, TH_ACK | TH_FIN, 64240});
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, c.snd + 1, TH_ACK | TH_FIN, 65535});
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd + 1, c.rcv + 1, TH_ACK, 64240});
	/* A SYN for the same pair, above the old sequence space: a new connection (RFC 6191). */
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv + 100000, 0, TH_SYN, 65535, opt_mss, 4});
	th = recv_tcp(f, &len);
	ck_assert_uint_eq(th->flags, TH_SYN | TH_ACK);
	ck_assert_uint_eq(ntohl(th->ack_seq), c.rcv + 100001);
	conn_close(&c);
}
END_TEST

START_TEST(test_listen_close_resets_unaccepted_children)
{
	struct socket *l = listener(SRV_PORT, 8);
	unsigned char f[T_FRAME_MAX];
	const struct tcphdr *th;
	size_t len;
	uint32_t iss;

	inject(&(struct seg){PEER_PORT, SRV_PORT, PEER_ISN, 0, TH_SYN, 65535, opt_mss, 4});
	th = recv_tcp(f, &len);
	iss = ntohl(th->seq);
	inject(&(struct seg){PEER_PORT, SRV_PORT, PEER_ISN + 1, iss + 1, TH_ACK, 65535});
	ck_assert_uint_eq(nstack_poll(l), POLLIN | POLLRDNORM);
	nstack_close(l);
	expect(&(struct seg){SRV_PORT, PEER_PORT, iss + 1, PEER_ISN + 1, TH_ACK | TH_RST, 64240});
	t_expect_no_tx();
	ck_assert_int_eq(nstack_live_socks(T.ns), 0);
}
END_TEST

START_TEST(test_listen_ack_without_request_gets_rst)
{
	struct socket *l = listener(SRV_PORT, 8);

	inject(&(struct seg){PEER_PORT, SRV_PORT, 1234, 5678, TH_ACK, 65535});
	expect(&(struct seg){SRV_PORT, PEER_PORT, 5678, 0, TH_RST, 0});
	nstack_close(l);
}
END_TEST

START_TEST(test_established_icmp_frag_needed_resends_at_smaller_mss)
{
	struct conn c = passive_plain();
	static char data[2 * 1460];
	unsigned char f[T_FRAME_MAX], icmp[8 + 60], frame[T_FRAME_MAX];
	const struct tcphdr *th;
	size_t len, n;
	uint32_t s0 = c.snd;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)('0' + i % 10);
	ck_assert_int_eq(usend(c.s, data, sizeof(data)), (ssize_t)sizeof(data));
	th = recv_tcp(f, &len);
	ck_assert_uint_eq(len, 1514);
	ck_assert_uint_eq(ntohl(th->seq), s0);
	/* A router reports MTU 1000, quoting the first segment's IP header and 8 bytes of TCP. */
	memset(icmp, 0, sizeof(icmp));
	icmp[0] = ICMP_DEST_UNREACH;
	icmp[1] = ICMP_FRAG_NEEDED;
	icmp[6] = 1000 >> 8;
	icmp[7] = 1000 & 0xff;
	memcpy(icmp + 8, f + ETH_HLEN, 28);
	{
		uint16_t ck = csum_fold(csum_partial(icmp, 36, 0));

		memcpy(icmp + 2, &ck, 2);
	}
	while (t_try_recv(f, sizeof(f), &len))
		;
	n = t_build_peer_ip(frame, IPPROTO_ICMP, 9, icmp, 36);
	t_inject(frame, n);
	/* Both segments go again, cut to 960 bytes (1000 - 40). */
	expect(&(struct seg){SRV_PORT, PEER_PORT, s0, c.rcv, TH_ACK, 64240, NULL, 0, data, 960});
	expect(&(struct seg){SRV_PORT, PEER_PORT, s0 + 960, c.rcv, TH_ACK, 64240, NULL, 0,
			     data + 960, 500});
	expect(&(struct seg){SRV_PORT, PEER_PORT, s0 + 1460, c.rcv, TH_ACK, 64240, NULL, 0,
			     data + 1460, 960});
	/* The write's PSH stays on its last byte's piece. */
	expect(&(struct seg){SRV_PORT, PEER_PORT, s0 + 2420, c.rcv, TH_ACK | TH_PSH, 64240, NULL, 0,
			     data + 2420, 500});
	t_expect_no_tx();
	conn_close(&c);
}
END_TEST

START_TEST(test_listen_peer_mss_536_and_window_scale_applied)
{
	/* MSS 536 and window scale 2: our segments are cut to 536, its window counts x4. */
	static const uint8_t syn_opt[] = {2, 4, 0x02, 0x18, 1, 3, 3, 2};
	static const uint8_t synack_opt[] = {2, 4, 0x05, 0xb4, 1, 3, 3, 7};
	struct conn c = passive(syn_opt, sizeof(syn_opt), 64240, synack_opt, sizeof(synack_opt));
	static char data[1000];
	struct tcp_info_linux ti;
	socklen_t tl = sizeof(ti);

	/* The ACK of the handshake said 65535 << 2. */
	ck_assert_int_eq(nstack_getsockopt(c.s, IPPROTO_TCP, TCP_INFO, &ti, &tl), 0);
	ck_assert_uint_eq(ti.tcpi_snd_mss, 536);
	ck_assert_uint_eq(ti.tcpi_snd_wnd, 65535u << 2);
	ck_assert_uint_eq(ti.tcpi_snd_wscale, 2);
	ck_assert_uint_eq(ti.tcpi_rcv_wscale, 7);
	memset(data, 'm', sizeof(data));
	ck_assert_int_eq(usend(c.s, data, sizeof(data)), (ssize_t)sizeof(data));
	/* Our window field is scaled by 7: 64240 rounded up to 128 is 502 << 7. */
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd, c.rcv, TH_ACK, 502, NULL, 0, data, 536});
	expect(&(struct seg){SRV_PORT, PEER_PORT, c.snd + 536, c.rcv, TH_ACK | TH_PSH, 502, NULL, 0,
			     data + 536, 464});
	/* A window of 100 << 2 = 400 bytes lets exactly that much out. */
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, c.snd + 1000, TH_ACK, 100});
	ck_assert_int_eq(usend(c.s, data, 536), 536);
	t_expect_no_tx(); /* 400 < MSS and < half the largest window: sender SWS avoidance */
	conn_close(&c);
}
END_TEST

START_TEST(test_synrecv_rst_from_peer_drops_request)
{
	struct socket *l = listener(SRV_PORT, 8), *s = NULL;
	unsigned char f[T_FRAME_MAX];
	const struct tcphdr *th;
	size_t len;
	uint32_t iss;

	inject(&(struct seg){PEER_PORT, SRV_PORT, PEER_ISN, 0, TH_SYN, 65535, opt_mss, 4});
	th = recv_tcp(f, &len);
	iss = ntohl(th->seq);
	inject(&(struct seg){PEER_PORT, SRV_PORT, PEER_ISN + 1, 0, TH_RST, 0});
	t_expect_no_tx();
	/* The request is gone: its ACK now meets no request and the cookie check fails. */
	inject(&(struct seg){PEER_PORT, SRV_PORT, PEER_ISN + 1, iss + 1, TH_ACK, 65535});
	expect(&(struct seg){SRV_PORT, PEER_PORT, iss + 1, 0, TH_RST, 0});
	ck_assert_int_eq(nstack_accept(l, &s, NULL, NULL, SOCK_NONBLOCK), -EAGAIN);
	run_for(10ull * 1000000);
	nstack_close(l);
}
END_TEST

START_TEST(test_closed_small_so_rcvbuf_syn_window_and_scale_zero)
{
	struct sockaddr_in sa = {
	    .sin_family = AF_INET, .sin_port = htons(SRV_PORT), .sin_addr.s_addr = T_PEER_IP};
	uint8_t want_opt[20] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 3, 0};
	struct socket *s = tcp_socket();
	unsigned char f[T_FRAME_MAX];
	const struct tcphdr *th;
	size_t len;

	/* SO_RCVBUF 8192 (doubled to 16384): window from half of it, no scaling needed (Linux). */
	ck_assert_int_eq(sockopt(s, SOL_SOCKET, SO_RCVBUF, 8192), 0);
	ck_assert_int_eq(nstack_connect(s, (struct sockaddr *)&sa, sizeof(sa)), -EINPROGRESS);
	th = recv_tcp(f, &len);
	put32(want_opt + 8, get32((const uint8_t *)(th + 1) + 8));
	ck_assert_uint_eq(ntohs(th->window), 7300); /* 8192 rounded down to 5 x 1460 */
	ck_assert_mem_eq((const uint8_t *)(th + 1), want_opt, 20);
	nstack_close(s);
	run_for(300ull * 1000000);
}
END_TEST

static void tw_reuse_on(struct nstack_config *cfg)
{
	cfg->tcp.tw_reuse = 1;
}

/* Linux's tcp_tw_reuse = 1: connect() may take over its own TIME_WAIT pair after 1 s. */
START_TEST(test_time_wait_connect_reuses_pair_after_one_second)
{
	struct t_opts o = {.tweak = tw_reuse_on};
	struct socket *s, *s2;
	uint32_t iss, tsval, tw_nxt;
	uint16_t port;
	uint8_t synack_opt[20] = {2,	4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0,
				  0x10, 0, 0,	 0,    0, 0, 1, 3,  3, 7};
	uint8_t ts[12] = {1, 1, 8, 10, 0, 0, 0x10, 1};
	struct sockaddr_in sa = {
	    .sin_family = AF_INET, .sin_port = htons(SRV_PORT), .sin_addr.s_addr = T_PEER_IP};
	struct sockaddr_in me = {.sin_family = AF_INET};
	unsigned char f[T_FRAME_MAX];
	const struct tcphdr *th;
	size_t len;

	t_teardown();
	t_setup_opts(&o);
	s = tcp_socket();
	ck_assert_int_eq(sockopt(s, SOL_SOCKET, SO_REUSEADDR, 1), 0);
	active_syn_on(s, &iss, &port, &tsval);
	put32(synack_opt + 12, tsval);
	inject(&(struct seg){SRV_PORT, port, PEER_ISN, iss + 1, TH_SYN | TH_ACK, 65160, synack_opt,
			     20});
	th = recv_tcp(f, &len); /* the ACK */
	nstack_close(s);
	th = recv_tcp(f, &len); /* our FIN */
	ck_assert_uint_eq(th->flags, TH_ACK | TH_FIN);
	tw_nxt = ntohl(th->seq) + 1;
	put32(ts + 8, get32((const uint8_t *)(th + 1) + 4));
	inject(&(struct seg){SRV_PORT, port, PEER_ISN + 1, tw_nxt, TH_ACK | TH_FIN, 502, ts, 12});
	th = recv_tcp(f, &len); /* ACK of its FIN: TIME_WAIT */
	/* Within a second the pair is not reusable. */
	s2 = tcp_socket();
	ck_assert_int_eq(sockopt(s2, SOL_SOCKET, SO_REUSEADDR, 1), 0);
	me.sin_port = htons(port);
	ck_assert_int_eq(nstack_bind(s2, (struct sockaddr *)&me, sizeof(me)), 0);
	ck_assert_int_eq(nstack_connect(s2, (struct sockaddr *)&sa, sizeof(sa)), -EADDRNOTAVAIL);
	nstack_close(s2);
	t_clock_advance(1000001);
	s2 = tcp_socket();
	ck_assert_int_eq(sockopt(s2, SOL_SOCKET, SO_REUSEADDR, 1), 0);
	ck_assert_int_eq(nstack_bind(s2, (struct sockaddr *)&me, sizeof(me)), 0);
	ck_assert_int_eq(nstack_connect(s2, (struct sockaddr *)&sa, sizeof(sa)), -EINPROGRESS);
	th = recv_tcp(f, &len);
	ck_assert_uint_eq(th->flags, TH_SYN);
	ck_assert_uint_eq(ntohs(th->source), port);
	/* The new ISN starts past the old connection's space (tw_snd_nxt + 65535 + 2). */
	ck_assert_uint_eq(ntohl(th->seq), tw_nxt + 65535 + 2);
	nstack_close(s2);
	run_for(300ull * 1000000);
}
END_TEST

START_TEST(test_established_tail_loss_probe_resends_last_segment_at_pto)
{
	struct conn c = passive(opt_mss_sack, sizeof(opt_mss_sack), 64240, opt_mss_sack, 8);
	static char data[3 * 1460];
	uint32_t s0 = c.snd;
	uint64_t t0;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)('k' + i % 7);
	t0 = T.now;
	ck_assert_int_eq(usend(c.s, data, sizeof(data)), (ssize_t)sizeof(data));
	for (int i = 0; i < 3; i++)
		expect(&(struct seg){SRV_PORT, PEER_PORT, s0 + 1460u * i, c.rcv,
				     (uint8_t)(TH_ACK | (i == 2 ? TH_PSH : 0)), 64240, NULL, 0,
				     data + 1460 * i, 1460});
	/* PTO = 2 SRTT + 2 ms, in whole ms (RFC 8985 7.2; Linux: 3 jiffies here). */
	t_clock_set(t0 + 3000 - 1);
	t_expect_no_tx();
	t_clock_set(t0 + 3000);
	expect(&(struct seg){SRV_PORT, PEER_PORT, s0 + 2 * 1460, c.rcv, TH_ACK | TH_PSH, 64240,
			     NULL, 0, data + 2 * 1460, 1460});
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("TcpExtTCPLossProbes"), 1);
	/* One probe per episode: next comes the RTO, 201 ms after the probe. */
	t_clock_set(t0 + 3000 + 201000 - 1);
	t_expect_no_tx();
	t_clock_set(t0 + 3000 + 201000);
	expect(&(struct seg){SRV_PORT, PEER_PORT, s0, c.rcv, TH_ACK, 64240, NULL, 0, data, 1460});
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, s0 + sizeof(data), TH_ACK, 65535});
	conn_close(&c);
}
END_TEST

static void cookies_off(struct nstack_config *cfg)
{
	cfg->tcp.syncookies = 0;
}

/* tcp_syncookies = 0: once the SYN queue holds backlog requests, SYNs are dropped. */
START_TEST(test_listen_syn_queue_full_without_cookies_drops_syn)
{
	struct t_opts o = {.tweak = cookies_off};
	struct socket *l;
	unsigned char f[T_FRAME_MAX];
	size_t len;

	t_teardown();
	t_setup_opts(&o);
	l = listener(SRV_PORT, 2);
	for (int i = 0; i < 2; i++) {
		inject(&(struct seg){(uint16_t)(2000 + i), SRV_PORT, 100u * i, 0, TH_SYN, 65535,
				     opt_mss, 4});
		ck_assert_uint_eq(recv_tcp(f, &len)->flags, TH_SYN | TH_ACK);
	}
	inject(&(struct seg){2002, SRV_PORT, 300, 0, TH_SYN, 65535, opt_mss, 4});
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("TcpExtListenDrops"), 1);
	ck_assert_uint_eq(t_stat("TcpExtSyncookiesSent"), 0);
	nstack_close(l);
}
END_TEST

static uint32_t fuzz_rng = 0x9e3779b9u;

static uint32_t fuzz32(void)
{
	fuzz_rng ^= fuzz_rng << 13;
	fuzz_rng ^= fuzz_rng >> 17;
	fuzz_rng ^= fuzz_rng << 5;
	return fuzz_rng;
}

/* Random headers, options and lengths at a listener and a connection: no crash, no leak. */
START_TEST(test_any_state_random_segments_never_crash)
{
	struct conn c = passive(opt_mss_sack, sizeof(opt_mss_sack), 64240, opt_mss_sack, 8);
	unsigned char seg[200], frame[T_FRAME_MAX], f[T_FRAME_MAX];
	size_t len;
	char buf[256];

	for (int i = 0; i < 3000; i++) {
		struct tcphdr *th = (struct tcphdr *)seg;
		size_t n = 20 + fuzz32() % 160, doff;

		for (size_t j = 0; j < n; j++)
			seg[j] = (unsigned char)fuzz32();
		th->source = htons(fuzz32() % 4 ? PEER_PORT : (uint16_t)fuzz32());
		th->dest = htons(fuzz32() % 8 ? SRV_PORT : (uint16_t)fuzz32());
		if (fuzz32() % 2) {
			/* Near the real sequence space, so some get past the window checks. */
			th->seq = htonl(c.rcv + fuzz32() % 70000 - 5000);
			th->ack_seq = htonl(c.snd + fuzz32() % 3 - 1);
		}
		doff = 5 + fuzz32() % 11;
		th->doff_res = (uint8_t)(doff << 4);
		th->check = 0;
		if (fuzz32() % 8) {
			uint16_t ck = csum_tcpudp_magic(T_PEER_IP, T_LOCAL_IP, (uint32_t)n,
							IPPROTO_TCP, csum_partial(seg, n, 0));

			memcpy(&th->check, &ck, 2);
		}
		len = t_build_peer_ip(frame, IPPROTO_TCP, (uint16_t)i, seg, n);
		t_inject(frame, len);
		while (t_try_recv(f, sizeof(f), &len))
			;
		if (i % 100 == 0) {
			t_clock_advance(fuzz32() % 3000000);
			urecv(c.s, buf, sizeof(buf));
		}
	}
	conn_close(&c);
}
END_TEST

/* recv() with flags into buf (NUL-terminated); msg_flags into *mflags. */
static ssize_t urecv_flags(struct socket *s, char *buf, size_t len, int flags, int *mflags)
{
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n = nstack_recvmsg(s, &m, flags | MSG_DONTWAIT);

	buf[n > 0 ? n : 0] = 0;
	if (mflags)
		*mflags = m.msg_flags;
	return n;
}

static int atmark(struct socket *s)
{
	int v = -1;

	ck_assert_int_eq(nstack_ioctl(s, SIOCATMARK, &v), 0);
	return v;
}

/*
 * Urgent data received as Linux does (tcp_check_urg/tcp_urg/tcp_recv_urg,
 * RFC 6093: the pointer names the byte after the urgent one): POLLPRI, a
 * read that stops at the mark, sockatmark(), the byte by MSG_OOB once (then
 * EINVAL), stepped over in the stream; an urgent pointer ahead of the data
 * (EAGAIN until the byte comes); SO_OOBINLINE leaves it in the stream.
 */
START_TEST(test_established_urgent_data_received_like_linux)
{
	struct conn c = passive_plain();
	char buf[64];
	int mf = 0;
	size_t n;

	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, c.snd, TH_ACK | TH_PSH | TH_URG, 65535,
			     NULL, 0, "abcdefghij", 10, 10});
	c.rcv += 10;
	while (t_try_recv(buf, sizeof(buf), &n))
		;
	ck_assert_uint_eq(nstack_poll(c.s) & (POLLIN | POLLPRI), POLLIN | POLLPRI);
	ck_assert_int_eq(atmark(c.s), 0);
	ck_assert_int_eq(urecv_flags(c.s, buf, 60, 0, NULL), 9);
	ck_assert_str_eq(buf, "abcdefghi");
	ck_assert_int_eq(atmark(c.s), 1);
	/* Only the urgent byte left: not readable as data, readable as OOB. */
	ck_assert_uint_eq(nstack_poll(c.s) & (POLLIN | POLLPRI), POLLPRI);
	ck_assert_int_eq(urecv_flags(c.s, buf, 60, MSG_OOB | MSG_PEEK, &mf), 1);
	ck_assert_int_eq(urecv_flags(c.s, buf, 60, MSG_OOB, &mf), 1);
	ck_assert_str_eq(buf, "j");
	ck_assert(mf & MSG_OOB);
	ck_assert_int_eq(urecv_flags(c.s, buf, 60, MSG_OOB, NULL), -EINVAL);
	ck_assert_int_eq(urecv_flags(c.s, buf, 60, 0, NULL), -EAGAIN);
	ck_assert_int_eq(atmark(c.s), 0);
	/* An urgent pointer ahead of the data: the byte is due, not here. */
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, c.snd, TH_ACK | TH_URG, 65535, NULL, 0,
			     "12", 2, 5});
	c.rcv += 2;
	ck_assert_int_eq(urecv_flags(c.s, buf, 60, MSG_OOB, NULL), -EAGAIN);
	ck_assert_uint_eq(nstack_poll(c.s) & POLLPRI, 0);
	ck_assert_int_eq(urecv_flags(c.s, buf, 60, 0, NULL), 2);
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, c.snd, TH_ACK, 65535, NULL, 0, "3456", 4});
	c.rcv += 4;
	ck_assert_uint_eq(nstack_poll(c.s) & POLLPRI, POLLPRI);
	ck_assert_int_eq(urecv_flags(c.s, buf, 60, 0, NULL), 2);
	ck_assert_str_eq(buf, "34");
	ck_assert_int_eq(urecv_flags(c.s, buf, 60, MSG_OOB, NULL), 1);
	ck_assert_str_eq(buf, "5");
	ck_assert_int_eq(urecv_flags(c.s, buf, 60, 0, NULL), 1); /* '5' stepped over */
	ck_assert_str_eq(buf, "6");
	/* SO_OOBINLINE: the urgent byte stays in the stream; MSG_OOB is EINVAL. */
	ck_assert_int_eq(sockopt(c.s, SOL_SOCKET, SO_OOBINLINE, 1), 0);
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, c.snd, TH_ACK | TH_URG, 65535, NULL, 0,
			     "xyz", 3, 3});
	c.rcv += 3;
	ck_assert_int_eq(urecv_flags(c.s, buf, 60, MSG_OOB, NULL), -EINVAL);
	ck_assert_int_eq(urecv_flags(c.s, buf, 60, 0, NULL), 2);
	ck_assert_int_eq(atmark(c.s), 1);
	ck_assert_int_eq(urecv_flags(c.s, buf, 60, 0, NULL), 1);
	ck_assert_str_eq(buf, "z");
	while (t_try_recv(buf, sizeof(buf), &n))
		;
	conn_close(&c);
}
END_TEST

static ssize_t usend_flags(struct socket *s, const void *buf, size_t len, int flags)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};

	return nstack_sendmsg(s, &m, flags);
}

/*
 * Urgent data sent as Linux does (send(MSG_OOB), tcp_mark_urg and
 * __tcp_transmit_skb): URG with the pointer naming the byte after the
 * write's last one, on every segment before it; Nagle does not hold data
 * back while urgent data is unacknowledged; the peer's ACK of the urgent
 * byte ends urgent mode.
 */
START_TEST(test_established_urgent_data_sent_like_linux)
{
	struct conn c = passive_plain();
	uint32_t s0 = c.snd;

	ck_assert_int_eq(usend_flags(c.s, "abc", 3, MSG_OOB), 3);
	expect(&(struct seg){SRV_PORT, PEER_PORT, s0, c.rcv, TH_ACK | TH_PSH | TH_URG, 64240, NULL,
			     0, "abc", 3, 3});
	/* Not held by Nagle behind the unacknowledged small segment: urgent mode. */
	ck_assert_int_eq(usend(c.s, "x", 1), 1);
	expect(&(struct seg){SRV_PORT, PEER_PORT, s0 + 3, c.rcv, TH_ACK | TH_PSH, 64240, NULL, 0,
			     "x", 1});
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, s0 + 4, TH_ACK, 65535});
	t_expect_no_tx();
	/* Urgent mode over: Nagle holds "z" behind "y" until "!" comes urgent. */
	ck_assert_int_eq(usend(c.s, "y", 1), 1);
	expect(&(struct seg){SRV_PORT, PEER_PORT, s0 + 4, c.rcv, TH_ACK | TH_PSH, 64240, NULL, 0,
			     "y", 1});
	ck_assert_int_eq(usend(c.s, "z", 1), 1);
	t_expect_no_tx();
	ck_assert_int_eq(usend_flags(c.s, "!", 1, MSG_OOB), 1);
	expect(&(struct seg){SRV_PORT, PEER_PORT, s0 + 5, c.rcv, TH_ACK | TH_PSH | TH_URG, 64240,
			     NULL, 0, "z!", 2, 2});
	inject(&(struct seg){PEER_PORT, SRV_PORT, c.rcv, s0 + 7, TH_ACK, 65535});
	t_expect_no_tx();
	c.snd = s0 + 7;
	conn_close(&c);
}
END_TEST

static Suite *tcp_wire_suite(void)
{
	Suite *s = suite_create("tcp_wire");
	TCase *tc = tcase_create("segments");

	tcase_add_checked_fixture(tc, t_setup, t_teardown);
	tcase_add_test(tc, test_closed_syn_to_closed_port_sends_rst_ack);
	tcase_add_test(tc, test_closed_ack_to_closed_port_sends_rst_from_ack);
	tcase_add_test(tc, test_closed_bad_checksum_dropped_silently);
	tcase_add_test(tc, test_listen_syn_with_all_options_synack_in_linux_order);
	tcase_add_test(tc, test_synsent_connect_sends_syn_in_linux_option_order_then_ack);
	tcase_add_test(tc, test_synsent_syn_retransmits_with_backoff_then_etimedout);
	tcase_add_test(tc, test_synsent_rst_ack_refuses_connection);
	tcase_add_test(tc, test_synsent_icmp_host_unreachable_fails_connect);
	tcase_add_test(tc, test_synsent_fastopen_cookie_request_then_syn_data);
	tcase_add_test(tc, test_synsent_fastopen_connect_deferred_until_write);
	tcase_add_test(tc, test_listen_fastopen_server_cookie_then_syn_data_accepted);
	tcase_add_test(tc, test_listen_icmp_unreachable_drops_request_and_ends_fastopen_child);
	tcase_add_test(tc, test_synsent_ecn_negotiated_ect0_ce_echo_and_cwr);
	tcase_add_test(tc, test_listen_reset_before_accept_write_econnreset_then_data_then_eof);
	tcase_add_test(tc, test_synsent_syn_simultaneous_open_synack_then_established);
	tcase_add_test(tc, test_established_data_both_ways_acked);
	tcase_add_test(tc, test_established_burst_leaves_as_one_super_frame);
	tcase_add_test(tc, test_established_long_rtt_burst_psh_ends_each_unit_of_two);
	tcase_add_test(tc, test_established_cwnd_limited_burst_ends_with_psh);
	tcase_add_test(tc, test_established_small_window_opening_waits_for_next_ack);
	tcase_add_test(tc, test_established_small_window_opening_sent_when_next_ack_is_far);
	tcase_add_test(tc, test_established_no_win_divisor_waits_for_three_segments_at_most);
	tcase_add_test(tc, test_established_burst_segments_share_one_timestamp);
	tcase_add_test(tc, test_established_unacked_data_retransmits_at_rto_with_backoff);
	tcase_add_test(tc, test_established_three_dupacks_fast_retransmit_newreno);
	tcase_add_test(tc, test_established_sack_blocks_mark_hole_and_retransmit_it);
	tcase_add_test(tc, test_established_out_of_order_segment_sack_then_reassembled);
	tcase_add_test(tc, test_established_swapped_pair_in_one_batch_delivered_in_order);
	tcase_add_test(tc, test_established_fin_keeps_its_place_in_a_batch);
	tcase_add_test(tc, test_established_zero_window_probed_with_backoff);
	tcase_add_test(tc, test_established_idle_keepalive_probes_then_reset);
	tcase_add_test(tc, test_established_delayed_ack_after_40ms_in_interactive_mode);
	tcase_add_test(tc, test_established_quickack_first_segments_acked_at_once);
	tcase_add_test(tc, test_established_rst_in_window_not_exact_gets_challenge_ack);
	tcase_add_test(tc, test_listen_syn_flood_cookies_legitimate_connection_completes);
	tcase_add_test(tc, test_listen_stale_syn_dropped_only_under_flood);
	tcase_add_test(tc, test_listen_requests_found_by_tuple_among_many_and_two_listeners);
	tcase_add_test(tc, test_listen_synacks_of_one_poll_batch_leave_in_one_batch_in_order);
	tcase_add_test(tc, test_listen_synack_retransmitted_at_1s_then_2s);
	tcase_add_test(tc, test_established_active_close_fin_handshake_time_wait_expires);
	tcase_add_test(tc, test_established_peer_fin_close_wait_then_last_ack);
	tcase_add_test(tc, test_established_simultaneous_close_closing_then_time_wait);
	tcase_add_test(tc, test_established_close_with_unread_data_sends_rst);
	tcase_add_test(tc, test_shared_parent_close_keeps_connection_child_death_sends_fin);
	tcase_add_test(tc, test_shared_child_death_with_unread_data_parent_still_reads);
	tcase_add_test(tc, test_shared_both_close_last_close_sends_rst_for_unread_data);
	tcase_add_test(tc, test_shared_failed_fork_gives_the_holds_back);
	tcase_add_test(tc, test_established_old_timestamp_rejected_by_paws);
	tcase_add_test(tc, test_established_unanswered_rto_gives_up_after_retries2_etimedout);
	tcase_add_test(tc, test_established_nagle_holds_second_small_segment_until_ack);
	tcase_add_test(tc, test_established_cork_holds_partial_until_uncorked);
	tcase_add_test(tc, test_established_cork_ceiling_sends_partial_after_200ms);
	tcase_add_test(tc, test_time_wait_new_syn_with_higher_seq_reaches_listener);
	tcase_add_test(tc, test_listen_close_resets_unaccepted_children);
	tcase_add_test(tc, test_listen_ack_without_request_gets_rst);
	tcase_add_test(tc, test_established_icmp_frag_needed_resends_at_smaller_mss);
	tcase_add_test(tc, test_any_state_random_segments_never_crash);
	tcase_add_test(tc, test_listen_peer_mss_536_and_window_scale_applied);
	tcase_add_test(tc, test_synrecv_rst_from_peer_drops_request);
	tcase_add_test(tc, test_closed_small_so_rcvbuf_syn_window_and_scale_zero);
	tcase_add_test(tc, test_time_wait_connect_reuses_pair_after_one_second);
	tcase_add_test(tc, test_established_tail_loss_probe_resends_last_segment_at_pto);
	tcase_add_test(tc, test_listen_syn_queue_full_without_cookies_drops_syn);
	tcase_add_test(tc, test_established_urgent_data_received_like_linux);
	tcase_add_test(tc, test_established_urgent_data_sent_like_linux);
	suite_add_tcase(s, tc);
	return s;
}

NSTACK_SUITE(tcp_wire_suite)
