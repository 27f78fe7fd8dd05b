/*
 * Send-queue memory at the packet level, in Linux's units: every send skb
 * Linux would hold costs its truesize, TCP_SKB_HEAD_TRUESIZE (832) plus
 * its payload, against SO_SNDBUF; what a write takes, when POLLOUT comes
 * back and SO_MEMINFO's wmem_queued follow from it. The test plays the
 * peer (198.18.0.1); the stack is 198.18.0.2.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <linux/sock_diag.h>
#include <linux/sockios.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "check_main.h"
#include "checksum.h"
#include "harness.h"
#include "proto/ether.h"
#include "proto/ip.h"
#include "stack.h"
#include "tcp.h"

#define SRV_PORT 80
#define PEER_ISN 0xfffffc00u

/* What the test knows of the connection. */
struct conn {
	struct socket *s;
	uint16_t port;	/* ours (the stack's) */
	uint32_t snd;	/* our first data sequence number */
	uint32_t rcv;	/* the peer's next sequence number */
	uint32_t tsval; /* our SYN's timestamp, echoed by the peer */
};

/* One segment from the stack: where it starts, how long, which flags. */
struct out {
	uint32_t seq;
	size_t len;
	uint8_t flags;
};

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Peer -> stack: one segment to our port with options opt, handled at once. */
static void tcp_in(const struct conn *c, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t win,
		   const uint8_t *opt, size_t optlen)
{
	static unsigned char tcp[T_FRAME_MAX], frame[T_FRAME_MAX];
	struct tcphdr *th = (struct tcphdr *)tcp;
	size_t n = TCP_HLEN_MIN + optlen, f;

	ck_assert_uint_eq(optlen % 4, 0);
	memset(th, 0, TCP_HLEN_MIN);
	th->source = htons(SRV_PORT);
	th->dest = htons(c->port);
	th->seq = htonl(seq);
	th->ack_seq = htonl(ack);
	th->doff_res = (uint8_t)((n / 4) << 4);
	th->flags = flags;
	th->window = htons(win);
	memcpy(tcp + TCP_HLEN_MIN, opt, optlen);
	th->check = csum_tcpudp_magic(T_PEER_IP, T_LOCAL_IP, (uint32_t)n, IPPROTO_TCP,
				      csum_partial(tcp, n, 0));
	f = t_build_peer_ip(frame, IPPROTO_TCP, 1, tcp, n);
	t_inject(frame, f);
}

/* The peer acknowledges our data up to offset off (timestamps on, as negotiated). */
static void ack_to(const struct conn *c, uint32_t off, uint16_t win)
{
	uint8_t ts[12] = {1, 1, 8, 10, 0, 0, 3, 0x20, 0, 0, 0, 0};

	put32(ts + 8, c->tsval);
	tcp_in(c, c->rcv, c->snd + off, TH_ACK, win, ts, sizeof(ts));
}

/* The next segment the stack sent; fails the test when none. */
static struct out seg_out(void)
{
	static unsigned char f[T_FRAME_MAX];
	size_t len = t_recv(f, sizeof(f));
	const struct iphdr *ip = (const struct iphdr *)(f + ETH_HLEN);
	const struct tcphdr *th = (const struct tcphdr *)(f + ETH_HLEN + IP_IHL(ip) * 4);

	ck_assert_uint_eq(ip->protocol, IPPROTO_TCP);
	ck_assert_uint_ge(len, ETH_HLEN + IP_HLEN_MIN + TCP_HLEN_MIN);
	return (struct out){ntohl(th->seq),
			    ntohs(ip->tot_len) - IP_IHL(ip) * 4u - TCP_DOFF(th) * 4u, th->flags};
}

static void expect_out(uint32_t seq, size_t len, uint8_t flags)
{
	struct out o = seg_out();

	ck_assert_uint_eq(o.seq, seq);
	ck_assert_uint_eq(o.len, len);
	ck_assert_uint_eq(o.flags, flags);
}

/*
 * partial.pkt's handshake: we connect, the peer answers rtt_us later with
 * MSS 1000, SACK, timestamps (so 988 bytes of data a segment) and window
 * scale 7, its window 2000.
 */
static struct conn connect_ts(uint64_t rtt_us)
{
	struct sockaddr_in sa = {
	    .sin_family = AF_INET, .sin_port = htons(SRV_PORT), .sin_addr.s_addr = T_PEER_IP};
	uint8_t opt[20] = {2, 4, 0x03, 0xe8, 4, 2, 8, 10, 0, 0, 2, 0xbc, 0, 0, 0, 0, 1, 3, 3, 7};
	static unsigned char f[T_FRAME_MAX];
	const struct tcphdr *th;
	const struct iphdr *ip;
	struct conn c = {.rcv = PEER_ISN + 1};
	size_t len;

	ck_assert_int_eq(nstack_socket(T.ns, AF_INET, SOCK_STREAM, 0, &c.s), 0);
	nstack_set_nonblock(c.s, true);
	ck_assert_int_eq(nstack_connect(c.s, (struct sockaddr *)&sa, sizeof(sa)), -EINPROGRESS);
	len = t_recv(f, sizeof(f));
	ck_assert_uint_ge(len, ETH_HLEN + IP_HLEN_MIN + TCP_HLEN_MIN + 20);
	ip = (const struct iphdr *)(f + ETH_HLEN);
	th = (const struct tcphdr *)(f + ETH_HLEN + IP_IHL(ip) * 4);
	ck_assert_uint_eq(th->flags, TH_SYN);
	c.port = ntohs(th->source);
	c.snd = ntohl(th->seq) + 1;
	/* Our SYN: MSS, SACK-permitted, then TSval at option byte 8. */
	memcpy(&c.tsval, (const uint8_t *)(th + 1) + 8, 4);
	c.tsval = ntohl(c.tsval);
	t_clock_advance(rtt_us);
	put32(opt + 12, c.tsval);
	tcp_in(&c, PEER_ISN, c.snd, TH_SYN | TH_ACK, 2000, opt, sizeof(opt));
	ck_assert_uint_eq(seg_out().flags, TH_ACK);
	t_expect_no_tx();
	return c;
}

static ssize_t usend(struct socket *s, const void *buf, size_t len)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};

	return nstack_sendmsg(s, &m, 0);
}

static int sndbuf_of(struct socket *s)
{
	int v = 0;
	socklen_t l = sizeof(v);

	ck_assert_int_eq(nstack_getsockopt(s, SOL_SOCKET, SO_SNDBUF, &v, &l), 0);
	return v;
}

/*
 * SO_MEMINFO's wmem_queued is want, and is what the write queue's
 * segments are charged, one by one.
 */
static void assert_wmem_queued(struct socket *s, uint32_t want)
{
	uint32_t mem[SK_MEMINFO_VARS], sum = 0;
	socklen_t ml = sizeof(mem);
	struct sk_buff *skb;

	ck_assert_int_eq(nstack_getsockopt(s, SOL_SOCKET, SO_MEMINFO, mem, &ml), 0);
	ck_assert_uint_eq(mem[SK_MEMINFO_WMEM_QUEUED], want);
	skb_queue_walk(&s->sk->sk_write_queue, skb) sum += skb->truesize;
	ck_assert_uint_eq(sum, want);
}

static int outq(struct socket *s, unsigned long req)
{
	int v = -1;

	ck_assert_int_eq(nstack_ioctl(s, req, &v), 0);
	return v;
}

static void close_conn(struct conn *c)
{
	uint64_t end;

	nstack_close(c->s);
	/* The peer is gone: FIN retransmits until the stack gives up, in 600 s. */
	end = T.now + 600ull * 1000000;
	for (int i = 0; i < 100000; i++) {
		uint64_t d = nstack_next_deadline(T.ns);
		static unsigned char f[T_FRAME_MAX];
		size_t l;

		while (t_try_recv(f, sizeof(f), &l))
			;
		if (d == UINT64_MAX || d > end)
			break;
		t_clock_set(d > T.now ? d : T.now);
	}
	t_clock_set(end);
}

/*
 * Linux's packetdrill timestamping/partial.pkt: SO_SNDBUF 1000 makes the
 * buffer SOCK_MIN_SNDBUF (4608); each 988-byte send skb costs 832 + 988 =
 * 1820, so a third fits (3640 < 4608) and a fourth not: the write takes
 * 2964 bytes (payload alone would have let 4940 in). POLLOUT comes back
 * only when the free space is half what stays queued
 * (sk_stream_is_writeable): not after one segment is acked (968 free,
 * 3640 queued), after two (2788 free, 1820 queued). SIOCOUTQ stays payload.
 */
START_TEST(test_established_small_sndbuf_write_takes_linux_truesize)
{
	static char data[10000];
	struct conn c = connect_ts(10000);

	memset(data, 'x', sizeof(data));
	ck_assert_int_eq(nstack_setsockopt(c.s, SOL_SOCKET, SO_SNDBUF, &(int){1000}, sizeof(int)),
			 0);
	ck_assert_int_eq(sndbuf_of(c.s), SOCK_MIN_SNDBUF);
	ck_assert_int_eq(TCP_SKB_HEAD_TRUESIZE, 832);
	ck_assert_int_eq(usend(c.s, data, sizeof(data)), 2964);
	expect_out(c.snd, 988, TH_ACK);
	expect_out(c.snd + 988, 988, TH_ACK | TH_PSH);
	t_expect_no_tx();
	assert_wmem_queued(c.s, 3 * (832 + 988));
	ck_assert_int_eq(outq(c.s, SIOCOUTQ), 2964);
	ck_assert_int_eq(outq(c.s, SIOCOUTQNSD), 988);
	ck_assert_uint_eq(nstack_poll(c.s) & POLLOUT, 0);
	ck_assert_int_eq(usend(c.s, data, sizeof(data)), -EAGAIN);

	t_clock_advance(10000);
	ack_to(&c, 988, 92);
	expect_out(c.snd + 1976, 988, TH_ACK | TH_PSH);
	t_expect_no_tx();
	assert_wmem_queued(c.s, 2 * (832 + 988));
	ck_assert_uint_eq(nstack_poll(c.s) & POLLOUT, 0);

	ack_to(&c, 1976, 92);
	assert_wmem_queued(c.s, 832 + 988);
	ck_assert_uint_eq(nstack_poll(c.s) & POLLOUT, POLLOUT);

	ack_to(&c, 2964, 92);
	assert_wmem_queued(c.s, 0);
	ck_assert_int_eq(outq(c.s, SIOCOUTQ), 0);
	t_expect_no_tx();
	close_conn(&c);
}
END_TEST

/*
 * A write of 12 segments is one send skb in Linux (the size goal is half
 * the peer's 65535-byte window). The congestion window of 10 sends it in
 * units of 5 (tcp_cwnd_test), each cut off as an skb of its own
 * (tso_fragment): three heads once sent. An ACK of the first segment
 * trims it off its skb (tcp_trim_head), which returns the payload only;
 * the head goes when the skb is acked whole.
 */
START_TEST(test_established_partial_ack_returns_payload_head_stays)
{
	static char data[12 * 988];
	/* A short RTT: pacing does not make the units smaller than the window's. */
	struct conn c = connect_ts(100);

	memset(data, 'y', sizeof(data));
	/*
	 * tcp_sndbuf_expand(): twice 10 segments at Linux's worst case each,
	 * roundup_pow_of_two(1000 + 256 + 320) + 256 = 2304 (MSS 1000).
	 */
	ck_assert_int_eq(sndbuf_of(c.s), 2 * 10 * 2304);
	/* A wider window than partial.pkt's: 65535 bytes, so large send skbs. */
	ack_to(&c, 0, 512);
	ck_assert_int_eq(usend(c.s, data, sizeof(data)), (ssize_t)sizeof(data));
	for (int i = 0; i < 10; i++)
		expect_out(c.snd + 988u * i, 988, TH_ACK | (i == 4 || i == 9 ? TH_PSH : 0));
	t_expect_no_tx();
	assert_wmem_queued(c.s, 3 * 832 + sizeof(data));

	/* Well before the tail loss probe (10 ms at least), which would send one alone. */
	t_clock_advance(1000);
	ack_to(&c, 988, 512);
	/* The last two go now: the skb left unsent, whole, no new head. */
	expect_out(c.snd + 10 * 988, 988, TH_ACK);
	expect_out(c.snd + 11 * 988, 988, TH_ACK | TH_PSH);
	t_expect_no_tx();
	assert_wmem_queued(c.s, 3 * 832 + sizeof(data) - 988);

	/* The first unit acked whole: its head goes with its last bytes. */
	ack_to(&c, 5 * 988, 512);
	assert_wmem_queued(c.s, 2 * 832 + sizeof(data) - 5 * 988);
	ack_to(&c, 7 * 988, 512);
	assert_wmem_queued(c.s, 2 * 832 + sizeof(data) - 7 * 988);
	ack_to(&c, sizeof(data), 512);
	assert_wmem_queued(c.s, 0);
	close_conn(&c);
}
END_TEST

/*
 * A tail loss probe resends the last segment sent; Linux cuts it off the
 * end of its skb first (tcp_send_loss_probe, tcp_fragment), which gives it
 * a head of its own until it is acked.
 */
START_TEST(test_established_loss_probe_cut_off_its_skb_charged_a_head)
{
	static char data[3 * 988];
	struct conn c = connect_ts(100);

	memset(data, 'z', sizeof(data));
	ack_to(&c, 0, 512);
	ck_assert_int_eq(usend(c.s, data, sizeof(data)), (ssize_t)sizeof(data));
	for (int i = 0; i < 3; i++)
		expect_out(c.snd + 988u * i, 988, TH_ACK | (i == 2 ? TH_PSH : 0));
	t_expect_no_tx();
	assert_wmem_queued(c.s, 832 + sizeof(data));
	/* The probe timer is the next one due. */
	t_clock_set(nstack_next_deadline(T.ns));
	expect_out(c.snd + 2 * 988, 988, TH_ACK | TH_PSH);
	t_expect_no_tx();
	assert_wmem_queued(c.s, 2 * 832 + sizeof(data));
	ack_to(&c, 2 * 988, 512);
	assert_wmem_queued(c.s, 832 + 988);
	ack_to(&c, sizeof(data), 512);
	assert_wmem_queued(c.s, 0);
	close_conn(&c);
}
END_TEST

/*
 * MSG_ZEROCOPY: Linux charges the user pages a send pins, not its bytes
 * (__zerocopy_sg_from_iter): 4000 bytes from offset 100 of a page span two
 * pages, 8192 bytes, plus the send skb's head. A second send joins that
 * skb with two iovecs in one page: Linux pins each apart, so that page
 * counts twice more. Sent against a window of 5 segments, the skb is cut
 * after them (tso_fragment): one more head until the cut is acked.
 */
START_TEST(test_established_zerocopy_charges_pinned_pages)
{
	static _Alignas(4096) char pages[4 * 4096];
	struct iovec iov[2] = {{pages + 100, 4000}, {NULL, 0}};
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = 1};
	struct conn c = connect_ts(100);

	ck_assert_int_eq(nstack_setsockopt(c.s, SOL_SOCKET, SO_ZEROCOPY, &(int){1}, sizeof(int)),
			 0);
	/*
	 * The peer's largest window sets the size goal (half of it): 65536
	 * makes it one send skb; then 4864 bytes let 4 segments out.
	 */
	ack_to(&c, 0, 512);
	ack_to(&c, 0, 38);
	ck_assert_int_eq(nstack_sendmsg(c.s, &m, MSG_ZEROCOPY | MSG_MORE), 4000);
	for (int i = 0; i < 4; i++)
		expect_out(c.snd + 988u * i, 988, TH_ACK | (i == 3 ? TH_PSH : 0));
	t_expect_no_tx();
	/* 48 bytes held back (MSG_MORE) in an skb of their own, charged a page. */
	assert_wmem_queued(c.s, 832 + 8192 + 832);
	/*
	 * The first skb acked whole goes with its pages; the cut-off one keeps
	 * its 48 bytes' share of them, as the tail tso_fragment() moves.
	 */
	ack_to(&c, 3952, 0);
	assert_wmem_queued(c.s, 832 + 48);
	iov[0] = (struct iovec){pages + 8192 + 100, 500};
	iov[1] = (struct iovec){pages + 8192 + 600, 500};
	m.msg_iovlen = 2;
	ck_assert_int_eq(nstack_sendmsg(c.s, &m, MSG_ZEROCOPY), 1000);
	assert_wmem_queued(c.s, 832 + 48 + 2 * 4096);
	ck_assert_int_eq(outq(c.s, SIOCOUTQ), 1048);
	ack_to(&c, 3952, 512);
	expect_out(c.snd + 3952, 988, TH_ACK);
	expect_out(c.snd + 4940, 60, TH_ACK | TH_PSH);
	t_expect_no_tx();
	ack_to(&c, 5000, 512);
	assert_wmem_queued(c.s, 0);
	close_conn(&c);
}
END_TEST

static int zc_wakes;

static void *zc_token(void *ctx)
{
	(void)ctx;
	return &zc_wakes;
}

static int zc_sleep(void *ctx, void *token, int64_t timeo_us)
{
	(void)ctx;
	(void)token;
	(void)timeo_us;
	return 0;
}

static void zc_wake(void *ctx, void *token)
{
	(void)ctx;
	(void)token;
	zc_wakes++;
}

/*
 * A MSG_ZEROCOPY completion that extends the notification already queued
 * (not read yet) still reports an error event, as Linux's
 * __msg_zerocopy_callback calls sk_error_report either way: an
 * edge-triggered EPOLLERR waiter hears of it (packetdrill's
 * zerocopy/epoll_edge).
 */
START_TEST(test_established_zerocopy_merged_completion_still_wakes)
{
	static const struct nstack_wait_ops ops = {
	    .token = zc_token, .sleep = zc_sleep, .wake = zc_wake};
	static _Alignas(4096) char pages[4096];
	struct iovec iov = {pages, 900};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	struct nstack_waiter w = {.token = &zc_wakes};
	struct conn c = connect_ts(100);

	nstack_set_wait_ops(T.ns, &ops);
	ck_assert_int_eq(nstack_setsockopt(c.s, SOL_SOCKET, SO_ZEROCOPY, &(int){1}, sizeof(int)),
			 0);
	ack_to(&c, 0, 512);
	ck_assert_int_eq(nstack_sendmsg(c.s, &m, MSG_ZEROCOPY), 900);
	expect_out(c.snd, 900, TH_ACK | TH_PSH);
	ack_to(&c, 900, 512);
	/* Notification 0 queued; the waiter registers, then send 1 completes. */
	ck_assert_uint_eq(nstack_poll_wait(c.s, &w) & POLLERR, POLLERR);
	zc_wakes = 0;
	ck_assert_int_eq(nstack_sendmsg(c.s, &m, MSG_ZEROCOPY), 900);
	expect_out(c.snd + 900, 900, TH_ACK | TH_PSH);
	ack_to(&c, 1800, 512);
	ck_assert_int_eq(zc_wakes, 1);
	nstack_poll_end(&w);
	close_conn(&c);
}
END_TEST

static Suite *wmem_wire_suite(void)
{
	Suite *s = suite_create("wmem_wire");
	TCase *tc = tcase_create("send_queue");

	tcase_add_checked_fixture(tc, t_setup, t_teardown);
	tcase_add_test(tc, test_established_small_sndbuf_write_takes_linux_truesize);
	tcase_add_test(tc, test_established_partial_ack_returns_payload_head_stays);
	tcase_add_test(tc, test_established_loss_probe_cut_off_its_skb_charged_a_head);
	tcase_add_test(tc, test_established_zerocopy_charges_pinned_pages);
	tcase_add_test(tc, test_established_zerocopy_merged_completion_still_wakes);
	suite_add_tcase(s, tc);
	return s;
}

NSTACK_SUITE(wmem_wire_suite)
