/*
 * Memory bounds at the packet level, as Linux's: receive memory charged in
 * truesize, the out-of-order queue collapsed and pruned under a flood of
 * tiny segments, tcp_mem and udp_mem holding all sockets of the stack
 * together. The test plays the peer (198.18.0.1); the stack is 198.18.0.2.
 */
#include <arpa/inet.h>
#include <check.h>
#include <linux/sock_diag.h>
#include <string.h>
#include <sys/socket.h>

#include "check_main.h"
#include "checksum.h"
#include "harness.h"
#include "proto/ether.h"
#include "proto/ip.h"
#include "stack.h"
#include "tcp.h"

#define SRV_PORT  80
#define PEER_PORT 40000
#define PEER_ISN  0xffff0000u /* the flood wraps past 2^32 */

/* Peer -> stack: one TCP segment without options, handled at once. */
static void tcp_in(uint16_t sport, uint32_t seq, uint32_t ack, uint8_t flags, const void *data,
		   size_t len)
{
	static unsigned char tcp[T_FRAME_MAX], frame[T_FRAME_MAX];
	struct tcphdr *th = (struct tcphdr *)tcp;
	size_t n = TCP_HLEN_MIN + len, f;

	memset(th, 0, TCP_HLEN_MIN);
	th->source = htons(sport);
	th->dest = htons(SRV_PORT);
	th->seq = htonl(seq);
	th->ack_seq = htonl(ack);
	th->doff_res = (uint8_t)((TCP_HLEN_MIN / 4) << 4);
	th->flags = flags;
	th->window = htons(65535);
	if (len)
		memcpy(tcp + TCP_HLEN_MIN, data, len);
	th->check = csum_tcpudp_magic(T_PEER_IP, T_LOCAL_IP, (uint32_t)n, IPPROTO_TCP,
				      csum_partial(tcp, n, 0));
	f = t_build_peer_ip(frame, IPPROTO_TCP, 1, tcp, n);
	t_inject(frame, f);
}

/* Throws away what the stack sent (ACKs). */
static void drain(void)
{
	static unsigned char f[T_FRAME_MAX];
	size_t l;

	while (t_try_recv(f, sizeof(f), &l))
		;
}

/* Runs every timer for 600 s (FIN and TIME-WAIT ends), dropping what is sent. */
static void finish(void)
{
	uint64_t end = T.now + 600ull * 1000000;

	for (int i = 0; i < 100000; i++) {
		uint64_t d = nstack_next_deadline(T.ns);

		drain();
		if (d == UINT64_MAX || d > end)
			break;
		t_clock_set(d > T.now ? d : T.now);
	}
	if (end > T.now)
		t_clock_set(end);
	drain();
}

/* The stream byte at offset o: every position has its own value. */
static uint8_t pat(uint32_t o)
{
	return (uint8_t)(o * 7u + (o >> 8));
}

static void fill(uint8_t *buf, uint32_t off, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = pat(off + (uint32_t)i);
}

struct conn {
	struct socket *s;
	uint16_t port; /* the peer's */
	uint32_t rcv;  /* the peer's first data sequence number */
	uint32_t snd;  /* ours, what the peer acknowledges */
};

/* Opens a connection from the peer's port to listener l (MSS 1460, no other option). */
static struct conn open_conn(struct socket *l, uint16_t port)
{
	static const uint8_t opt_mss[] = {2, 4, 0x05, 0xb4};
	static unsigned char tcp[T_FRAME_MAX], frame[T_FRAME_MAX], got[T_FRAME_MAX];
	struct tcphdr *th = (struct tcphdr *)tcp;
	const struct iphdr *ip;
	const struct tcphdr *gth;
	struct conn c = {.port = port, .rcv = PEER_ISN + 1};
	size_t n = TCP_HLEN_MIN + sizeof(opt_mss), f;

	memset(th, 0, TCP_HLEN_MIN);
	th->source = htons(port);
	th->dest = htons(SRV_PORT);
	th->seq = htonl(PEER_ISN);
	th->doff_res = (uint8_t)((n / 4) << 4);
	th->flags = TH_SYN;
	th->window = htons(65535);
	memcpy(tcp + TCP_HLEN_MIN, opt_mss, sizeof(opt_mss));
	th->check = csum_tcpudp_magic(T_PEER_IP, T_LOCAL_IP, (uint32_t)n, IPPROTO_TCP,
				      csum_partial(tcp, n, 0));
	f = t_build_peer_ip(frame, IPPROTO_TCP, 1, tcp, n);
	t_inject(frame, f);
	f = t_recv(got, sizeof(got));
	ck_assert_uint_ge(f, ETH_HLEN + IP_HLEN_MIN + TCP_HLEN_MIN);
	ip = (const struct iphdr *)(got + ETH_HLEN);
	gth = (const struct tcphdr *)(got + ETH_HLEN + IP_IHL(ip) * 4);
	ck_assert_uint_eq(gth->flags, TH_SYN | TH_ACK);
	c.snd = ntohl(gth->seq) + 1;
	tcp_in(port, c.rcv, c.snd, TH_ACK, NULL, 0);
	drain();
	ck_assert_int_eq(nstack_accept(l, &c.s, NULL, NULL, SOCK_NONBLOCK), 0);
	return c;
}

static struct socket *tcp_listener(void)
{
	struct socket *l = NULL;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(SRV_PORT)};

	ck_assert_int_eq(nstack_socket(T.ns, AF_INET, SOCK_STREAM, 0, &l), 0);
	nstack_set_nonblock(l, true);
	ck_assert_int_eq(nstack_bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(nstack_listen(l, 64), 0);
	return l;
}

/* The stream offset the stack expects next (its rcv_nxt). */
static uint32_t next_off(const struct conn *c)
{
	return tcp_sk(c->s->sk)->rcv_nxt - c->rcv;
}

static unsigned int rmem_of(struct socket *s)
{
	uint32_t mem[SK_MEMINFO_VARS];
	socklen_t ml = sizeof(mem);

	ck_assert_int_eq(nstack_getsockopt(s, SOL_SOCKET, SO_MEMINFO, mem, &ml), 0);
	return mem[SK_MEMINFO_RMEM_ALLOC];
}

/* Reads what is there into out at *got (at most cap bytes in all). */
static void read_some(struct socket *s, uint8_t *out, size_t cap, size_t *got)
{
	for (int i = 0; i < 1000 && *got < cap; i++) {
		struct iovec iov = {.iov_base = out + *got, .iov_len = cap - *got};
		struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
		ssize_t r = nstack_recvmsg(s, &m, 0);

		if (r <= 0)
			break;
		*got += (size_t)r;
	}
}

#define RMEM_MAX  262144
#define RMEM_DEF  65536
#define LEGIT_SEG 1000
#define LEGIT_LEN 300000

static void small_rmem(struct nstack_config *cfg)
{
	cfg->tcp.rmem[0] = 4096;
	cfg->tcp.rmem[1] = RMEM_DEF;
	cfg->tcp.rmem[2] = RMEM_MAX;
}

static void setup_small_rmem(void)
{
	t_setup_opts(&(struct t_opts){.tweak = small_rmem});
}

/*
 * A legitimate stream of LEGIT_LEN bytes in 1000-byte segments, read at
 * once, while every legitimate segment is followed by `flood` 1-byte
 * segments ahead of it (each step bytes apart: 1 contiguous, 2 with holes)
 * and one far out of the window. Segments the stack drops are sent again,
 * as a sender would. Asserts the socket never holds more than its largest
 * buffer (tcp_rmem[2]) plus a segment or two, and the stream arrives exact.
 */
static void flood_run(uint32_t step, unsigned int flood)
{
	static uint8_t out[LEGIT_LEN], seg[LEGIT_SEG];
	struct socket *l = tcp_listener();
	struct conn c = open_conn(l, PEER_PORT);
	size_t got = 0;
	unsigned int max_rmem = 0, j = 0;

	for (int iter = 0; iter < 3000 && got < LEGIT_LEN; iter++) {
		uint32_t off = (uint32_t)got,
			 n = LEGIT_LEN - off < LEGIT_SEG ? LEGIT_LEN - off : LEGIT_SEG;
		unsigned int rm;

		fill(seg, off, n);
		tcp_in(c.port, c.rcv + off, c.snd, TH_ACK, seg, n);
		for (unsigned int k = 0; k < flood; k++, j++) {
			/*
			 * A byte 1500..25500 bytes ahead of the reader (the right
			 * one), sweeping the window: runs of flood bytes in a row
			 * (step 1) or one byte in two (step 2).
			 */
			uint32_t o = off + 1500u + (j * step) % 24000u;
			uint8_t b = pat(o);

			tcp_in(c.port, c.rcv + o, c.snd, TH_ACK, &b, 1);
			rm = rmem_of(c.s);
			if (rm > max_rmem)
				max_rmem = rm;
		}
		/* Out of the window: refused before any memory is spent. */
		{
			uint8_t junk[100];

			memset(junk, 'X', sizeof(junk));
			tcp_in(c.port, c.rcv + off + 10000000u, c.snd, TH_ACK, junk, sizeof(junk));
		}
		drain();
		rm = rmem_of(c.s);
		if (rm > max_rmem)
			max_rmem = rm;
		read_some(c.s, out, sizeof(out), &got);
	}
	ck_assert_uint_eq(got, LEGIT_LEN);
	for (uint32_t i = 0; i < LEGIT_LEN; i++)
		ck_assert_msg(out[i] == pat(i), "byte %u differs", i);
	/* tcp_rmem[2] and at most two segments over it (the last one let in). */
	ck_assert_uint_le(max_rmem, RMEM_MAX + 4096);
	ck_assert_uint_gt(t_stat("TcpExtPruneCalled"), 0);
	nstack_close(c.s);
	nstack_close(l);
	finish();
}

START_TEST(test_established_ofo_flood_with_holes_pruned_stream_exact)
{
	flood_run(2, 200);
	ck_assert_uint_gt(t_stat("TcpExtOfoPruned"), 0);
	ck_assert_uint_gt(t_stat("TcpExtTCPOFOQueue"), 0);
}
END_TEST

START_TEST(test_established_ofo_flood_contiguous_collapsed_stream_exact)
{
	flood_run(1, 200);
	ck_assert_uint_gt(t_stat("TcpExtTCPRcvCollapsed"), 0);
}
END_TEST

/* An unread socket with a small SO_RCVBUF: in-order data past it is dropped and counted. */
START_TEST(test_established_unread_over_rcvbuf_inorder_dropped_counted)
{
	static uint8_t out[200000], seg[LEGIT_SEG];
	struct socket *l = tcp_listener();
	int small = 16384;
	struct conn c;
	size_t got = 0;
	uint32_t off = 0;

	ck_assert_int_eq(nstack_setsockopt(l, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	c = open_conn(l, PEER_PORT);
	for (int i = 0; i < 200; i++) {
		fill(seg, off, sizeof(seg));
		tcp_in(c.port, c.rcv + off, c.snd, TH_ACK, seg, sizeof(seg));
		off = next_off(&c);
		drain();
		/* SO_RCVBUF doubles 16384 (Linux); one segment may overshoot it. */
		ck_assert_uint_le(rmem_of(c.s), 2u * (unsigned int)small + 2048);
	}
	ck_assert_uint_gt(t_stat("TcpExtTCPRcvQDrop") + t_stat("TcpExtTCPZeroWindowDrop"), 0);
	read_some(c.s, out, sizeof(out), &got);
	ck_assert_uint_eq(got, off);
	for (uint32_t i = 0; i < got; i++)
		ck_assert_msg(out[i] == pat(i), "byte %u differs", i);
	ck_assert_uint_eq(rmem_of(c.s), 0);
	nstack_close(c.s);
	nstack_close(l);
	finish();
}
END_TEST

#define NCONN	      24
#define TCP_MEM_MAX_P 32 /* pages: 128 KiB for all sockets */

static void tiny_tcp_mem(struct nstack_config *cfg)
{
	cfg->tcp.rmem[0] = 4096;
	cfg->tcp.rmem[1] = 131072;
	cfg->tcp.rmem[2] = 1048576;
	cfg->tcp.mem[0] = 8;
	cfg->tcp.mem[1] = 16;
	cfg->tcp.mem[2] = TCP_MEM_MAX_P;
}

static void setup_tiny_tcp_mem(void)
{
	t_setup_opts(&(struct t_opts){.tweak = tiny_tcp_mem});
}

/*
 * Many connections, none read, under a tcp_mem whose max is far below what
 * their windows allow: the stack enters memory pressure, stops taking data
 * above max (only in-order data into an empty queue is always taken), and
 * counts the drops. Once read, the memory is given back, the pressure
 * ends and what was dropped is taken when sent again.
 */
START_TEST(test_tcp_mem_max_many_sockets_bounded_then_recovered)
{
	static uint8_t out[NCONN][40000], seg[LEGIT_SEG];
	struct socket *l = tcp_listener();
	struct conn c[NCONN];
	uint32_t off[NCONN] = {0};
	size_t got[NCONN] = {0};
	uint64_t max_pool = 0;

	for (int i = 0; i < NCONN; i++)
		c[i] = open_conn(l, (uint16_t)(PEER_PORT + i));
	for (int round = 0; round < 30; round++) {
		for (int i = 0; i < NCONN; i++) {
			fill(seg, off[i], sizeof(seg));
			tcp_in(c[i].port, c[i].rcv + off[i], c[i].snd, TH_ACK, seg, sizeof(seg));
			off[i] = next_off(&c[i]);
			/* And an out-of-order one, which waits for nothing but memory. */
			fill(seg, off[i] + 5000, sizeof(seg));
			tcp_in(c[i].port, c[i].rcv + off[i] + 5000, c[i].snd, TH_ACK, seg,
			       sizeof(seg));
			drain();
			if (T.ns->tcp_mem.allocated > max_pool)
				max_pool = T.ns->tcp_mem.allocated;
		}
	}
	/* max, plus the one segment per socket forced into an empty queue. */
	ck_assert_uint_le(max_pool, (uint64_t)TCP_MEM_MAX_P * 4096 + NCONN * 2048u);
	ck_assert_uint_ge(t_stat("TcpExtTCPMemoryPressures"), 1);
	ck_assert_uint_gt(t_stat("TcpExtTCPRcvQDrop"), 0);
	ck_assert_uint_gt(t_stat("TcpExtTCPOFODrop"), 0);
	ck_assert(T.ns->tcp_mem.pressure);
	/*
	 * The readers drain, the peers send again what was dropped and fill
	 * the holes: every stream arrives exact, the memory is all given back
	 * and the pressure ends.
	 */
	for (int i = 0; i < NCONN; i++) {
		uint32_t want = off[i] + 6000;

		read_some(c[i].s, out[i], sizeof(out[i]), &got[i]);
		ck_assert_uint_eq(got[i], off[i]);
		for (int k = 0; k < 100 && got[i] < want; k++) {
			uint32_t o = (uint32_t)got[i];

			fill(seg, o, sizeof(seg));
			tcp_in(c[i].port, c[i].rcv + o, c[i].snd, TH_ACK, seg, sizeof(seg));
			drain();
			read_some(c[i].s, out[i], want, &got[i]);
		}
		ck_assert_uint_eq(got[i], want);
		for (uint32_t k = 0; k < got[i]; k++)
			ck_assert_msg(out[i][k] == pat(k), "conn %d byte %u differs", i, k);
	}
	ck_assert_uint_eq(T.ns->tcp_mem.allocated, 0);
	ck_assert(!T.ns->tcp_mem.pressure);
	for (int i = 0; i < NCONN; i++)
		nstack_close(c[i].s);
	nstack_close(l);
	finish();
}
END_TEST

static void tiny_tcp_mem_abort(struct nstack_config *cfg)
{
	cfg->tcp.mem[0] = 2;
	cfg->tcp.mem[1] = 3;
	cfg->tcp.mem[2] = 4;
}

static void setup_tiny_tcp_mem_abort(void)
{
	t_setup_opts(&(struct t_opts){.tweak = tiny_tcp_mem_abort});
}

/*
 * An orphan with unacknowledged data while TCP is under pressure and over
 * tcp_mem's max: its retransmission timer gives it up with a RST and counts
 * TCPAbortOnMemory (Linux's tcp_out_of_resources), instead of retrying
 * tcp_orphan_retries times.
 */
START_TEST(test_orphan_over_tcp_mem_max_aborted_at_rto)
{
	static uint8_t data[20000], out[4096];
	struct socket *l = tcp_listener();
	struct conn o = open_conn(l, PEER_PORT + 100), c[NCONN];
	struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	unsigned char f[T_FRAME_MAX];
	size_t len;
	bool rst = false;

	ck_assert_int_eq(nstack_sendmsg(o.s, &m, 0), (ssize_t)sizeof(data));
	drain();
	nstack_close(o.s);
	drain();
	ck_assert_uint_eq(t_stat("TcpExtTCPAbortOnMemory"), 0);
	/* Unread sockets take TCP over its max: one forced segment each, then a refused one. */
	for (int i = 0; i < NCONN; i++) {
		c[i] = open_conn(l, (uint16_t)(PEER_PORT + i));
		for (uint32_t k = 0; k < 2; k++) {
			fill(out, k * 1000, 1000);
			tcp_in(c[i].port, c[i].rcv + k * 1000, c[i].snd, TH_ACK, out, 1000);
		}
		drain();
	}
	ck_assert(T.ns->tcp_mem.pressure);
	ck_assert_uint_gt(T.ns->tcp_mem.allocated, 4u * 4096);
	/* The orphan's RTO (initial 1 s): aborted, with a RST. */
	for (int i = 0; i < 300 && !rst; i++) {
		t_clock_advance(10000);
		while (t_try_recv(f, sizeof(f), &len)) {
			const struct iphdr *ip = (const struct iphdr *)(f + ETH_HLEN);
			const struct tcphdr *th =
			    (const struct tcphdr *)(f + ETH_HLEN + IP_IHL(ip) * 4);

			if (ntohs(th->dest) == o.port && (th->flags & TH_RST))
				rst = true;
		}
	}
	ck_assert(rst);
	ck_assert_uint_eq(t_stat("TcpExtTCPAbortOnMemory"), 1);
	for (int i = 0; i < NCONN; i++)
		nstack_close(c[i].s);
	nstack_close(l);
	finish();
}
END_TEST

/* --- UDP --- */

static struct socket *udp_bound(uint16_t port)
{
	struct socket *s = t_socket(SOCK_DGRAM, 0);
	struct sockaddr_in sa = t_sin(0, port);

	ck_assert_int_eq(nstack_bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	nstack_set_nonblock(s, true);
	return s;
}

static void udp_in(uint16_t dport, const void *data, size_t len)
{
	static unsigned char udp[T_FRAME_MAX], frame[T_FRAME_MAX];
	size_t n = t_build_udp(udp, T_PEER_IP, T_LOCAL_IP, 4321, dport, data, len);

	n = t_build_peer_ip(frame, IPPROTO_UDP, 1, udp, n);
	t_inject(frame, n);
}

/* Datagrams read until none is left; returns how many. */
static int udp_drain(struct socket *s)
{
	uint8_t buf[2048];
	int n = 0;

	for (int i = 0; i < 100000; i++) {
		if (t_recv_from(s, buf, sizeof(buf), NULL) < 0)
			break;
		n++;
	}
	return n;
}

/*
 * A flood of small datagrams against SO_RCVBUF: the buffer is charged in
 * truesize, so it holds far fewer than rcvbuf / payload datagrams, and
 * never more than one over it (Linux's __udp_enqueue_schedule_skb).
 */
START_TEST(test_udp_flood_rcvbuf_in_truesize)
{
	struct socket *s = udp_bound(5000);
	int rcvbuf = 8192, queued;
	unsigned int max_rmem = 0;

	ck_assert_int_eq(nstack_setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
	for (int i = 0; i < 2000; i++) {
		udp_in(5000, "0123456789", 10);
		if (rmem_of(s) > max_rmem)
			max_rmem = rmem_of(s);
	}
	/* SO_RCVBUF 8192 is 16384 (doubled, as Linux); 10 bytes cost a whole skb. */
	ck_assert_uint_le(max_rmem, 16384u + 2048u);
	queued = udp_drain(s);
	ck_assert_int_ge(queued, 1);
	ck_assert_int_lt(queued, 16384 / 100);
	ck_assert_uint_eq(t_stat("UdpRcvbufErrors"), (uint64_t)(2000 - queued));
	ck_assert_uint_eq(rmem_of(s), 0);
	nstack_close(s);
}
END_TEST

#define UDP_MEM_MAX_P 16

static void tiny_udp_mem(struct nstack_config *cfg)
{
	cfg->tcp.udp_mem[0] = 4;
	cfg->tcp.udp_mem[1] = 8;
	cfg->tcp.udp_mem[2] = UDP_MEM_MAX_P;
}

static void setup_tiny_udp_mem(void)
{
	t_setup_opts(&(struct t_opts){.tweak = tiny_udp_mem});
}

/*
 * udp_mem across sockets: above min, a socket holding its minimum (one
 * page) takes no more, so eight flooded sockets together stay near min
 * and far under max; the drops are UdpMemErrors.
 */
START_TEST(test_udp_mem_many_sockets_bounded_counted)
{
	struct socket *s[8];
	uint64_t max_pool = 0;
	int queued = 0;

	for (int i = 0; i < 8; i++)
		s[i] = udp_bound((uint16_t)(5000 + i));
	for (int round = 0; round < 200; round++) {
		for (int i = 0; i < 8; i++) {
			udp_in((uint16_t)(5000 + i), "0123456789", 10);
			if (T.ns->udp_mem.allocated > max_pool)
				max_pool = T.ns->udp_mem.allocated;
		}
	}
	ck_assert_uint_le(max_pool, (uint64_t)UDP_MEM_MAX_P * 4096);
	ck_assert_uint_gt(t_stat("UdpMemErrors"), 0);
	for (int i = 0; i < 8; i++)
		queued += udp_drain(s[i]);
	ck_assert_uint_eq(t_stat("UdpMemErrors") + t_stat("UdpRcvbufErrors"),
			  (uint64_t)(8 * 200 - queued));
	ck_assert_uint_eq(T.ns->udp_mem.allocated, 0);
	for (int i = 0; i < 8; i++)
		nstack_close(s[i]);
}
END_TEST

static Suite *mem_wire_suite(void)
{
	Suite *s = suite_create("mem_wire");
	TCase *tc = tcase_create("rmem");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup_small_rmem, t_teardown);
	tcase_add_test(tc, test_established_ofo_flood_with_holes_pruned_stream_exact);
	tcase_add_test(tc, test_established_ofo_flood_contiguous_collapsed_stream_exact);
	tcase_add_test(tc, test_established_unread_over_rcvbuf_inorder_dropped_counted);
	tcase_add_test(tc, test_udp_flood_rcvbuf_in_truesize);
	suite_add_tcase(s, tc);
	tc = tcase_create("tcp_mem");
	tcase_add_checked_fixture(tc, setup_tiny_tcp_mem, t_teardown);
	tcase_add_test(tc, test_tcp_mem_max_many_sockets_bounded_then_recovered);
	suite_add_tcase(s, tc);
	tc = tcase_create("abort");
	tcase_add_checked_fixture(tc, setup_tiny_tcp_mem_abort, t_teardown);
	tcase_add_test(tc, test_orphan_over_tcp_mem_max_aborted_at_rto);
	suite_add_tcase(s, tc);
	tc = tcase_create("udp_mem");
	tcase_add_checked_fixture(tc, setup_tiny_udp_mem, t_teardown);
	tcase_add_test(tc, test_udp_mem_many_sockets_bounded_counted);
	suite_add_tcase(s, tc);
	return s;
}

NSTACK_SUITE(mem_wire_suite)
