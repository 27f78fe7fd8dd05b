/*
 * fuzz_frames: Ethernet frames from the fuzzer into a stack that already
 * has something to lose. Each execution builds stack A with, through a real
 * peer stack B on the wire: a TCP listener with connections waiting in its
 * accept queue, one with a half-open request (SYN_RECV), connections in
 * ESTABLISHED (with unread, urgent and unacknowledged data), SYN_SENT,
 * FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, LAST_ACK, CLOSING and TIME_WAIT (open
 * and orphaned), UDP, ping and raw sockets, a learnt and an unresolved
 * ARP entry, and IP fragments waiting for the rest. B then freezes, and the
 * input's frames are delivered to A; A's answers are thrown away.
 *
 * Input: records of [ctl u8][len u16 big-endian][frame]. ctl bit 0: repair
 * the IP and TCP/UDP/ICMP checksums; bits 1-3: how far the clock moves
 * after the frame (0, 1 ms, 10 ms, 200 ms, 1 s, 3 s, 30 s, 130 s). A short
 * last record takes what is left.
 *
 * Afterwards every socket is closed, both stacks run all their timers (B
 * thawed), and no socket or buffer may be left: abort() otherwise.
 *
 * Each input starts from a snapshot of the fixture (see fuzz_common.h);
 * NSTACK_FUZZ_FRESH=1 builds it and destroys it per input instead.
 * NSTACK_FUZZ_GEN=dir writes the seed corpus to dir and exits.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fuzz_common.h"
#include "proto/ip.h"
#include "sock.h"
#include "tcp.h"

#ifndef TCP_NODELAY
#define TCP_NODELAY 1
#endif

#define MAX_SOCKS 48

/* The fixture: every socket on either stack, and what seeds need to know. */
static struct {
	struct socket *sa[MAX_SOCKS], *sb[MAX_SOCKS];
	int na, nb;
	struct socket *b_listen7;
	struct socket *b_est80, *b_queued80, *b_est7, *b_closewait, *b_lastack, *b_timewait;
	struct socket *b_finwait2;
	uint16_t ping_id;
	/* A's end of each TCP connection, for seeds: ports (host order), next sequence numbers. */
	struct {
		uint16_t lport, rport;
		uint32_t snd_nxt, rcv_nxt;
		char name[16];
	} conn[24];
	int nconn;
	uint32_t synrecv_isn; /* A's ISN in the SYN-ACK to the half-open request */
} F;

static const uint64_t clock_steps[8] = {0,	 1000,	  10000,    200000,
					1000000, 3000000, 30000000, 130000000};

static struct socket *keep_a(struct socket *s)
{
	if (F.na < MAX_SOCKS)
		F.sa[F.na++] = s;
	return s;
}

static struct socket *keep_b(struct socket *s)
{
	if (F.nb < MAX_SOCKS)
		F.sb[F.nb++] = s;
	return s;
}

static void connect_to(struct socket *s, uint32_t addr, uint16_t port)
{
	struct sockaddr_in sin = fz_sin(addr, port);
	int err = nstack_connect(s, (struct sockaddr *)&sin, sizeof(sin));

	if (err != -EINPROGRESS && err != 0)
		fz_die("connect: %d", err);
}

static void bind_to(struct socket *s, uint16_t port)
{
	struct sockaddr_in sin = fz_sin(0, port);
	int one = 1;

	nstack_setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (nstack_bind(s, (struct sockaddr *)&sin, sizeof(sin)))
		fz_die("bind %u", port);
}

static struct socket *accept_one(struct socket *l)
{
	struct socket *n = NULL;
	int err = nstack_accept(l, &n, NULL, NULL, SOCK_NONBLOCK);

	if (err)
		fz_die("accept: %d", err);
	return n;
}

static void send_str(struct socket *s, const char *p, int flags)
{
	struct iovec iov = {(void *)p, strlen(p)};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};

	nstack_sendmsg(s, &m, flags | MSG_DONTWAIT);
}

static void send_to(struct socket *s, const void *p, size_t len, uint32_t addr, uint16_t port)
{
	struct sockaddr_in sin = fz_sin(addr, port);
	struct iovec iov = {(void *)p, len};
	struct msghdr m = {
	    .msg_name = &sin, .msg_namelen = sizeof(sin), .msg_iov = &iov, .msg_iovlen = 1};

	nstack_sendmsg(s, &m, MSG_DONTWAIT);
}

/* A connection from A to B:7; returns B's end. */
static struct socket *a_to_b(struct socket **a_end)
{
	struct socket *c = keep_a(fz_socket(FZ.a, SOCK_STREAM, 0));

	connect_to(c, FZ_IP_B, 7);
	fz_settle();
	*a_end = c;
	return keep_b(accept_one(F.b_listen7));
}

/* Notes A's end of a connection (before close() for the orphans). */
static void note_conn(struct socket *s, const char *name)
{
	struct sockaddr_in me, peer;
	socklen_t ml = sizeof(me), pl = sizeof(peer);
	const struct tcp_sock *tp;

	if (F.nconn == 24 || !s->sk || s->sk->sk_family == AF_INET6 ||
	    nstack_getsockname(s, (struct sockaddr *)&me, &ml) ||
	    nstack_getpeername(s, (struct sockaddr *)&peer, &pl))
		return;
	tp = tcp_sk(s->sk);
	F.conn[F.nconn].lport = ntohs(me.sin_port);
	F.conn[F.nconn].rport = ntohs(peer.sin_port);
	F.conn[F.nconn].snd_nxt = tp->snd_nxt;
	F.conn[F.nconn].rcv_nxt = tp->rcv_nxt;
	snprintf(F.conn[F.nconn].name, sizeof(F.conn[0].name), "%s", name);
	F.nconn++;
}

static void build_fixture(void)
{
	static uint8_t fr[2048];
	static const uint8_t synopts[] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0,
					  0, 1, 0,    0,    0, 0, 1, 3,	 3, 7};
	struct socket *l80, *l81, *c, *a_end, *s;
	char big[300];
	size_t n;
	int one = 1;

	memset(&F, 0, sizeof(F));
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	fz_setup(true);

	/* Listeners: A:80 and A:81, B:7. */
	l80 = keep_a(fz_socket(FZ.a, SOCK_STREAM, 0));
	bind_to(l80, 80);
	nstack_listen(l80, 8);
	l81 = keep_a(fz_socket(FZ.a, SOCK_STREAM, 0));
	bind_to(l81, 81);
	nstack_listen(l81, 8);
	F.b_listen7 = keep_b(fz_socket(FZ.b, SOCK_STREAM, 0));
	bind_to(F.b_listen7, 7);
	nstack_listen(F.b_listen7, 64);

	/* B -> A:80, accepted, with unread and urgent data; another left in the queue. */
	c = F.b_est80 = keep_b(fz_socket(FZ.b, SOCK_STREAM, 0));
	nstack_setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	connect_to(c, FZ_IP_A, 80);
	fz_settle();
	s = keep_a(accept_one(l80));
	nstack_setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	send_str(c, "unread", 0);
	fz_settle();
	send_str(c, "!", MSG_OOB);
	fz_settle();
	c = F.b_queued80 = keep_b(fz_socket(FZ.b, SOCK_STREAM, 0));
	connect_to(c, FZ_IP_A, 80);
	fz_settle();

	/* A half-open request on A:81 (its SYN-ACK is lost). */
	fz_inject(fr, fz_build_tcp(fr, 4000, 81, 0x10000000u, 0, 0x02, 65535, synopts,
				   sizeof(synopts), NULL, 0));
	{
		uint8_t sa[256];
		ssize_t k = wire_recv(FZ.w, 1, sa, sizeof(sa));

		if (k >= 14 + 20 + 20)
			memcpy(&F.synrecv_isn, sa + 14 + 20 + 4, 4);
		F.synrecv_isn = ntohl(F.synrecv_isn);
	}
	fz_drop(1);

	/* ESTABLISHED with unacknowledged data in flight. */
	F.b_est7 = a_to_b(&a_end);
	send_str(a_end, "acked", 0);
	fz_settle();
	send_str(a_end, big, 0);
	fz_run_a();
	fz_drop(1);

	/* SYN_SENT: the SYN to B:9 is lost. */
	c = keep_a(fz_socket(FZ.a, SOCK_STREAM, 0));
	connect_to(c, FZ_IP_B, 9);
	fz_run_a();
	fz_drop(1);

	/* FIN_WAIT1: the FIN is lost. */
	a_to_b(&a_end);
	nstack_shutdown(a_end, SHUT_WR);
	fz_run_a();
	fz_drop(1);

	/* FIN_WAIT2, open; and an orphan in FIN_WAIT2. */
	F.b_finwait2 = a_to_b(&a_end);
	nstack_shutdown(a_end, SHUT_WR);
	fz_settle();
	a_to_b(&a_end);
	F.na--;
	note_conn(a_end, "orphan-fw2");
	nstack_close(a_end);
	fz_settle();

	/* CLOSE_WAIT. */
	F.b_closewait = a_to_b(&a_end);
	nstack_shutdown(F.b_closewait, SHUT_WR);
	fz_settle();

	/* LAST_ACK: the FIN is lost. */
	F.b_lastack = a_to_b(&a_end);
	nstack_shutdown(F.b_lastack, SHUT_WR);
	fz_settle();
	nstack_shutdown(a_end, SHUT_WR);
	fz_run_a();
	fz_drop(1);

	/* TIME_WAIT, open; and a closed one (a timewait minisock). */
	F.b_timewait = a_to_b(&a_end);
	nstack_shutdown(a_end, SHUT_WR);
	fz_settle();
	nstack_shutdown(F.b_timewait, SHUT_WR);
	fz_settle();
	s = a_to_b(&a_end);
	F.na--;
	note_conn(a_end, "orphan-tw");
	nstack_close(a_end);
	fz_settle();
	nstack_shutdown(s, SHUT_WR);
	fz_settle();

	/* CLOSING: A's FIN is held back while B's arrives. */
	s = a_to_b(&a_end);
	nstack_shutdown(a_end, SHUT_WR);
	fz_run_a();
	fz_drop(1);
	nstack_shutdown(s, SHUT_WR);
	nstack_process(FZ.b);
	fz_run_a();
	fz_drop(1);

	/* An orphan in FIN_WAIT1 with unsent data. */
	a_to_b(&a_end);
	send_str(a_end, big, 0);
	F.na--;
	note_conn(a_end, "orphan-fw1");
	nstack_close(a_end);
	fz_run_a();
	fz_drop(1);

	/* UDP: bound with a datagram waiting, and connected. */
	s = keep_a(fz_socket(FZ.a, SOCK_DGRAM, 0));
	bind_to(s, 53);
	c = keep_a(fz_socket(FZ.a, SOCK_DGRAM, 0));
	connect_to(c, FZ_IP_B, 5353);
	c = keep_b(fz_socket(FZ.b, SOCK_DGRAM, 0));
	send_to(c, "query", 5, FZ_IP_A, 53);
	fz_settle();

	/* Ping: an echo answered by B and waiting to be read. */
	s = keep_a(fz_socket(FZ.a, SOCK_DGRAM, IPPROTO_ICMP));
	{
		uint8_t echo[16] = {8, 0, 0, 0, 0, 0, 0, 1, 'p', 'i', 'n', 'g'};
		struct sockaddr_in me;
		socklen_t ml = sizeof(me);

		send_to(s, echo, 12, FZ_IP_B, 0);
		fz_settle();
		if (nstack_getsockname(s, (struct sockaddr *)&me, &ml) == 0)
			F.ping_id = ntohs(me.sin_port);
	}

	/* Raw: ICMP, a protocol of no one's, UDP, and IPPROTO_RAW. */
	keep_a(fz_socket(FZ.a, SOCK_RAW, IPPROTO_ICMP));
	keep_a(fz_socket(FZ.a, SOCK_RAW, 253));
	keep_a(fz_socket(FZ.a, SOCK_RAW, IPPROTO_UDP));
	keep_a(fz_socket(FZ.a, SOCK_RAW, IPPROTO_RAW));

	/* TCP over IPv6: B -> A's [2001:2::2]:82 (dual-stack listener), with unread data. */
	{
		struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(82)};
		struct socket *l82 = NULL, *c6 = NULL;
		int err;

		a6.sin6_addr.s6_addr[0] = 0x20;
		a6.sin6_addr.s6_addr[1] = 0x01;
		a6.sin6_addr.s6_addr[3] = 0x02;
		if (nstack_socket(FZ.a, AF_INET6, SOCK_STREAM, 0, &l82) ||
		    nstack_socket(FZ.b, AF_INET6, SOCK_STREAM, 0, &c6))
			fz_die("nstack_socket(AF_INET6)");
		keep_a(l82);
		keep_b(c6);
		nstack_set_nonblock(l82, true);
		nstack_set_nonblock(c6, true);
		{
			struct sockaddr_in6 any = {.sin6_family = AF_INET6, .sin6_port = htons(82)};

			if (nstack_bind(l82, (struct sockaddr *)&any, sizeof(any)))
				fz_die("bind [::]:82");
		}
		nstack_listen(l82, 8);
		a6.sin6_addr.s6_addr[15] = 2;
		err = nstack_connect(c6, (struct sockaddr *)&a6, sizeof(a6));
		if (err != -EINPROGRESS && err != 0)
			fz_die("connect [2001:2::2]:82: %d", err);
		fz_settle();
		keep_a(accept_one(l82));
		send_str(c6, "unread6", 0);
		fz_settle();
	}

	/* ARP: an unresolved neighbour with a datagram queued, and a learnt one. */
	c = keep_a(fz_socket(FZ.a, SOCK_DGRAM, 0));
	send_to(c, "who", 3, htonl(0xc6120032u), 9); /* 198.18.0.50 */
	fz_run_a();
	fz_drop(1);
	{
		static const uint8_t mac60[6] = {2, 0, 0, 0, 0, 0x60};

		fz_inject(fr, fz_build_arp(fr, 1, mac60, htonl(0xc612003cu), FZ_IP_A));
		fz_drop(1);
	}

	/* IP fragments: the first part of a UDP datagram to :53, and a middle part. */
	{
		uint8_t dg[32] = {0x13, 0x88, 0, 53, 0, 40, 0, 0, 'f', 'r', 'a', 'g'};

		n = fz_build_ip(fr, IPPROTO_UDP, 0x4242, 0x2000, dg, 24);
		fz_inject(fr, n);
		n = fz_build_ip(fr, IPPROTO_UDP, 0x4343, 0x2000 | 3, dg, 16);
		fz_inject(fr, n);
	}
	fz_settle();
	fz_drop(1);
	fz_drop(0);
	for (int i = 0; i < F.na; i++)
		if (F.sa[i]->sk && F.sa[i]->type == SOCK_STREAM)
			note_conn(F.sa[i], tcp_state_names[F.sa[i]->sk->sk_state]);
}

static void close_all(void)
{
	for (int i = 0; i < F.na; i++)
		nstack_close(F.sa[i]);
	for (int i = 0; i < F.nb; i++)
		nstack_close(F.sb[i]);
}

static void run_input(const uint8_t *data, size_t size)
{
	static uint8_t frame[FZ_FRAME_MAX];

	while (size >= 1) {
		uint8_t ctl = data[0];
		size_t len;

		if (size >= 3) {
			len = (size_t)data[1] << 8 | data[2];
			data += 3;
			size -= 3;
		} else {
			len = 0;
			data += size;
			size = 0;
		}
		if (len > size)
			len = size;
		memcpy(frame, data, len);
		data += len;
		size -= len;
		if (ctl & 1)
			fz_fix_checksums(frame, len);
		if (len && wire_send(FZ.w, 1, frame, len) == 0)
			nstack_process(FZ.a);
		FZ.now += clock_steps[(ctl >> 1) & 7];
		nstack_process(FZ.a);
		fz_drop(1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool built;

	if (getenv("NSTACK_FUZZ_FRESH")) {
		build_fixture();
		run_input(data, size);
		close_all();
		fz_teardown();
		return 0;
	}
	if (!built) {
		build_fixture();
		fz_snap_take();
		built = true;
	} else {
		fz_snap_restore();
	}
	run_input(data, size);
	close_all();
	fz_check_drained();
	return 0;
}

/* Seed generation. */

static uint8_t seed[1 << 16];
static size_t seed_len;

static void seed_add(uint8_t ctl, const void *frame, size_t len)
{
	if (seed_len + 3 + len > sizeof(seed))
		return;
	seed[seed_len++] = ctl;
	seed[seed_len++] = (uint8_t)(len >> 8);
	seed[seed_len++] = (uint8_t)len;
	memcpy(seed + seed_len, frame, len);
	seed_len += len;
}

static void seed_write(const char *dir, const char *name)
{
	if (seed_len)
		fz_write_file(dir, name, seed, seed_len);
	seed_len = 0;
	close_all();
	fz_teardown();
}

static void gen_seeds(const char *dir)
{
	static uint8_t fr[2048];
	static const uint8_t tsopt[] = {1, 1, 8, 10, 0, 0, 1, 0, 0, 0, 0, 1};
	static const uint8_t sackopt[] = {1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 9};
	int nconn;

	/*
	 * For each connection of A, the segments its peer could send next:
	 * data, a FIN, a RST, and an ACK with a SACK block and timestamps.
	 */
	build_fixture();
	nconn = F.nconn;
	close_all();
	fz_teardown();
	for (int i = 0; i < nconn; i++) {
		uint8_t sack[12] = {1, 1, 5, 10};
		uint32_t l, r;
		char name[64];

		build_fixture();
		l = F.conn[i].rcv_nxt + 100;
		r = l + 50;
		sack[4] = (uint8_t)(l >> 24), sack[5] = (uint8_t)(l >> 16),
		sack[6] = (uint8_t)(l >> 8);
		sack[7] = (uint8_t)l;
		sack[8] = (uint8_t)(r >> 24), sack[9] = (uint8_t)(r >> 16),
		sack[10] = (uint8_t)(r >> 8);
		sack[11] = (uint8_t)r;
		seed_add(1, fr,
			 fz_build_tcp(fr, F.conn[i].rport, F.conn[i].lport, F.conn[i].rcv_nxt,
				      F.conn[i].snd_nxt, 0x18, 8192, NULL, 0, "peer data", 9));
		seed_add(1 | 2 << 1, fr,
			 fz_build_tcp(fr, F.conn[i].rport, F.conn[i].lport, F.conn[i].rcv_nxt + 9,
				      F.conn[i].snd_nxt, 0x11, 8192, sack, sizeof(sack), NULL, 0));
		seed_add(1 | 4 << 1, fr,
			 fz_build_tcp(fr, F.conn[i].rport, F.conn[i].lport, F.conn[i].rcv_nxt + 10,
				      F.conn[i].snd_nxt + 1, 0x10, 8192, tsopt, sizeof(tsopt), NULL,
				      0));
		snprintf(name, sizeof(name), "tcp-%02d-%s", i, F.conn[i].name);
		seed_write(dir, name);

		build_fixture();
		seed_add(1, fr,
			 fz_build_tcp(fr, F.conn[i].rport, F.conn[i].lport, F.conn[i].rcv_nxt,
				      F.conn[i].snd_nxt, 0x04, 0, NULL, 0, NULL, 0));
		seed_add(1, fr,
			 fz_build_tcp(fr, F.conn[i].rport, F.conn[i].lport, F.conn[i].rcv_nxt,
				      F.conn[i].snd_nxt, 0x02, 0, NULL, 0, NULL, 0));
		snprintf(name, sizeof(name), "tcp-%02d-%s-rst", i, F.conn[i].name);
		seed_write(dir, name);
	}

	/* A new connection to the listener, with every option. */
	build_fixture();
	{
		static const uint8_t o[] = {2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0,
					    0, 7, 0, 0,	   0, 0, 1, 3,	3, 7};

		seed_add(
		    1, fr,
		    fz_build_tcp(fr, 5000, 80, 0xfffffff0u, 0, 0x02, 65535, o, sizeof(o), NULL, 0));
		seed_add(1 | 1 << 1, fr,
			 fz_build_tcp(fr, 5000, 80, 0xfffffff1u, 0, 0x10, 1024, NULL, 0, NULL, 0));
	}
	seed_write(dir, "tcp-syn80");

	/* The handshake's last ACK for the half-open request, then data and a FIN. */
	build_fixture();
	seed_add(1, fr,
		 fz_build_tcp(fr, 4000, 81, 0x10000001u, F.synrecv_isn + 1, 0x10, 4096, tsopt,
			      sizeof(tsopt), NULL, 0));
	seed_add(1, fr,
		 fz_build_tcp(fr, 4000, 81, 0x10000001u, F.synrecv_isn + 1, 0x18, 4096, tsopt,
			      sizeof(tsopt), "hello", 5));
	seed_add(1 | 3 << 1, fr,
		 fz_build_tcp(fr, 4000, 81, 0x10000006u, F.synrecv_isn + 1, 0x11, 4096, sackopt,
			      sizeof(sackopt), NULL, 0));
	seed_write(dir, "tcp-synrecv-ack");

	/* A SYN to the SYN_SENT connection's port pair is unknown; a stray RST and ACK. */
	build_fixture();
	seed_add(1, fr, fz_build_tcp(fr, 9, 40000, 1, 1, 0x12, 100, NULL, 0, NULL, 0));
	seed_add(1, fr, fz_build_tcp(fr, 7, 40000, 1, 1, 0x04, 0, NULL, 0, NULL, 0));
	seed_write(dir, "tcp-stray");

	/* UDP: a datagram to :53, the rest of the pending fragment, a bad-length one. */
	build_fixture();
	seed_add(1, fr, fz_build_udp(fr, 5000, 53, "hello", 5));
	{
		uint8_t tail[16] = {'m', 'e', 'n', 't', 's', '!', '!', '!',
				    '1', '2', '3', '4', '5', '6', '7', '8'};

		seed_add(0, fr, fz_build_ip(fr, IPPROTO_UDP, 0x4242, 3, tail, 16));
		seed_add(0 | 7 << 1, fr, fz_build_ip(fr, IPPROTO_UDP, 0x4343, 0, tail, 16));
	}
	seed_write(dir, "udp-frag");

	/* ICMP: an echo request, an echo reply for the ping socket, errors about sockets. */
	build_fixture();
	{
		uint8_t icmp[128] = {8, 0, 0, 0, 0, 9, 0, 1, 'a', 'b', 'c', 'd'};
		uint8_t q[64];
		size_t qn;

		seed_add(1, fr, fz_build_ip(fr, IPPROTO_ICMP, 5, 0, icmp, 12));
		icmp[0] = 0;
		icmp[4] = (uint8_t)(F.ping_id >> 8);
		icmp[5] = (uint8_t)F.ping_id;
		icmp[7] = 2;
		seed_add(1, fr, fz_build_ip(fr, IPPROTO_ICMP, 6, 0, icmp, 12));
		/* Fragmentation needed (MTU 576) quoting a segment of A:xxxx -> B:7. */
		qn = fz_build_tcp(q, 7, 80, 1, 1, 0x10, 100, NULL, 0, NULL, 0);
		memset(icmp, 0, sizeof(icmp));
		icmp[0] = 3;
		icmp[1] = 4;
		icmp[6] = 0x02;
		icmp[7] = 0x40;
		{
			/* Quote A -> B (swap the quoted addresses). */
			struct iphdr *ip = (struct iphdr *)(q + 14);
			uint32_t t = ip->saddr;

			ip->saddr = ip->daddr;
			ip->daddr = t;
			memcpy(icmp + 8, q + 14, 28);
		}
		seed_add(1, fr, fz_build_ip(fr, IPPROTO_ICMP, 7, 0, icmp, 36));
		icmp[1] = 3; /* port unreachable for the connected UDP socket */
		icmp[8 + 9] = IPPROTO_UDP;
		icmp[8 + 20] = 0x9c;
		icmp[8 + 22] = 0x14;
		icmp[8 + 23] = 0xe9;
		seed_add(1, fr, fz_build_ip(fr, IPPROTO_ICMP, 8, 0, icmp, 36));
		(void)qn;
	}
	seed_write(dir, "icmp");

	/* ARP: the reply the unresolved neighbour waits for; a conflicting request. */
	build_fixture();
	{
		static const uint8_t mac50[6] = {2, 0, 0, 0, 0, 0x50};
		size_t n = fz_build_arp(fr, 2, mac50, htonl(0xc6120032u), FZ_IP_A);

		seed_add(0, fr, n);
		n = fz_build_arp(fr, 1, mac50, FZ_IP_A, FZ_IP_A);
		seed_add(0 | 5 << 1, fr, n);
	}
	seed_write(dir, "arp");

	/* A protocol no one handles, for the raw socket; an IP header with options. */
	build_fixture();
	seed_add(1, fr, fz_build_ip(fr, 253, 9, 0, "raw payload", 11));
	{
		size_t n = fz_build_udp(fr, 1, 53, "opt", 3);
		uint8_t tmp[128];

		/* Insert a 4-byte NOP/EOL option block after the IP header. */
		memcpy(tmp, fr, n);
		memcpy(fr + 34, "\x01\x01\x01\x00", 4);
		memcpy(fr + 38, tmp + 34, n - 34);
		fr[14] = 0x46;
		fr[16] = 0;
		fr[17] = (uint8_t)(tmp[17] + 4);
		seed_add(1, fr, n + 4);
	}
	seed_write(dir, "ip-raw-opts");
}

/* An IPv6 frame from B's MAC; its ICMPv6 checksum is fixed by ctl bit 0. */
static size_t build6(uint8_t *fr, const uint8_t dmac[6], uint8_t nh, uint8_t hop,
		     const uint8_t src[16], const uint8_t dst[16], const void *pl, size_t plen)
{
	memcpy(fr, dmac, 6);
	memcpy(fr + 6, fz_mac_b, 6);
	fr[12] = 0x86;
	fr[13] = 0xdd;
	memset(fr + 14, 0, 40);
	fr[14] = 0x60;
	fr[18] = (uint8_t)(plen >> 8);
	fr[19] = (uint8_t)plen;
	fr[20] = nh;
	fr[21] = hop;
	memcpy(fr + 22, src, 16);
	memcpy(fr + 38, dst, 16);
	memcpy(fr + 54, pl, plen);
	return 54 + plen;
}

static void gen_seeds6(const char *dir)
{
	static const uint8_t a[16] = {0x20, 0x01, 0, 2, [15] = 2};
	static const uint8_t b[16] = {0x20, 0x01, 0, 2, [15] = 1};
	static const uint8_t llb[16] = {0xfe, 0x80, [8] = 0, [11] = 0xff, [12] = 0xfe, [15] = 1};
	static const uint8_t all[16] = {0xff, 0x02, [15] = 1};
	static const uint8_t sol[16] = {0xff, 0x02, [11] = 1, [12] = 0xff, [15] = 2};
	static const uint8_t m_all[6] = {0x33, 0x33, 0, 0, 0, 1};
	static const uint8_t m_sol[6] = {0x33, 0x33, 0xff, 0, 0, 2};
	static uint8_t fr[2048];
	uint8_t pl[256];

	/* Echo request, then with hop-by-hop and destination options in front. */
	build_fixture();
	memset(pl, 0, sizeof(pl));
	pl[0] = 128;
	memcpy(pl + 8, "ping6", 5);
	seed_add(1, fr, build6(fr, fz_mac_a, 58, 64, b, a, pl, 13));
	memset(pl, 0, sizeof(pl));
	pl[0] = 60; /* hop-by-hop: next is destination options; PadN */
	pl[2] = 1;
	pl[3] = 4;
	pl[8] = 58; /* destination options: next is ICMPv6; PadN */
	pl[10] = 1;
	pl[11] = 4;
	pl[16] = 128;
	seed_add(1, fr, build6(fr, fz_mac_a, 0, 64, b, a, pl, 24));
	seed_write(dir, "ip6-echo");

	/* Neighbour solicitation for A's address; an unsolicited advertisement for B's. */
	build_fixture();
	memset(pl, 0, sizeof(pl));
	pl[0] = 135;
	memcpy(pl + 8, a, 16);
	pl[24] = 1; /* source link-layer address */
	pl[25] = 1;
	memcpy(pl + 26, fz_mac_b, 6);
	seed_add(1, fr, build6(fr, m_sol, 58, 255, b, sol, pl, 32));
	memset(pl, 0, sizeof(pl));
	pl[0] = 136;
	pl[4] = 0x20; /* override */
	memcpy(pl + 8, b, 16);
	pl[24] = 2; /* target link-layer address */
	pl[25] = 1;
	memcpy(pl + 26, fz_mac_b, 6);
	seed_add(1, fr, build6(fr, m_all, 58, 255, b, all, pl, 32));
	seed_write(dir, "ip6-nd");

	/* Router advertisement with a /64 for SLAAC, an MTU and a source link-layer option. */
	build_fixture();
	memset(pl, 0, sizeof(pl));
	pl[0] = 134;
	pl[4] = 64;		    /* cur hop limit */
	pl[6] = 0x07, pl[7] = 0x08; /* router lifetime 1800 s */
	pl[16] = 3;		    /* prefix information */
	pl[17] = 4;
	pl[18] = 64;
	pl[19] = 0xc0;				  /* on-link, autonomous */
	pl[20] = 0, pl[21] = 0x27, pl[22] = 0x8d; /* valid lifetime 2592000 */
	pl[24] = 0, pl[25] = 0x09, pl[26] = 0x3a, pl[27] = 0x80;
	pl[32] = 0x20, pl[33] = 0x01, pl[35] = 2, pl[37] = 7;
	pl[48] = 5; /* MTU 1400 */
	pl[49] = 1;
	pl[54] = 0x05, pl[55] = 0x78;
	pl[56] = 1; /* source link-layer address */
	pl[57] = 1;
	memcpy(pl + 58, fz_mac_b, 6);
	seed_add(1, fr, build6(fr, m_all, 58, 255, llb, all, pl, 64));
	seed_write(dir, "ip6-ra");

	/* An atomic fragment, and a routing header type 0 with segments left. */
	build_fixture();
	memset(pl, 0, sizeof(pl));
	pl[0] = 58;
	pl[4] = 0x12, pl[5] = 0x34;
	pl[8] = 128;
	seed_add(1, fr, build6(fr, fz_mac_a, 44, 64, b, a, pl, 16));
	memset(pl, 0, sizeof(pl));
	pl[0] = 58;
	pl[1] = 2;
	pl[2] = 0; /* type 0 */
	pl[3] = 1; /* segments left */
	memcpy(pl + 8, b, 16);
	pl[24] = 128;
	seed_add(1, fr, build6(fr, fz_mac_a, 43, 64, b, a, pl, 32));
	seed_write(dir, "ip6-ext");

	/*
	 * TCP over IPv6 to the dual-stack listener A:82: a SYN with MSS,
	 * window scale, SACK-permitted and timestamps; a stray ACK with data
	 * (answered with a reset); a SYN to a closed port.
	 */
	build_fixture();
	{
		static const uint8_t syn[40] = {0x0f, 0xa1, 0,	  82,	0x10, 0,    0, 0,  0, 0,
						0,    0,    0xa0, 0x02, 0xff, 0xff, 0, 0,  0, 0,
						2,    4,    0x05, 0xa0, 4,    2,    8, 10, 0, 0,
						0,    1,    0,	  0,	0,    0,    1, 3,  3, 7};

		memcpy(pl, syn, sizeof(syn));
		seed_add(1, fr, build6(fr, fz_mac_a, 6, 64, b, a, pl, sizeof(syn)));
		memset(pl, 0, 28);
		pl[0] = 0x0f, pl[1] = 0xa2, pl[3] = 82, pl[4] = 0x20, pl[11] = 1;
		pl[12] = 0x50, pl[13] = 0x18, pl[14] = 0x10;
		memcpy(pl + 20, "payload!", 8);
		seed_add(3, fr, build6(fr, fz_mac_a, 6, 64, b, a, pl, 28));
		memcpy(pl, syn, 20);
		pl[3] = 83;
		pl[12] = 0x50;
		seed_add(1, fr, build6(fr, fz_mac_a, 6, 64, b, a, pl, 20));
	}
	seed_write(dir, "ip6-tcp");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("NSTACK_FUZZ_GEN");

	(void)argc;
	(void)argv;
	if (dir && dir[0]) {
		gen_seeds(dir);
		gen_seeds6(dir);
		exit(0);
	}
	return 0;
}
