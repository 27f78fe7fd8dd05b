/*
 * TCP between two nstack stacks on one in-memory wire, both driven from
 * this thread with one manual clock: handshakes through the socket API,
 * data both ways, closes, socket options, and a bulk transfer through a
 * lossy, duplicating, reordering link checked byte for byte.
 *
 * NSTACK_TCP_BULK_MIB sets the bulk size (default 100 MiB; the ASan run
 * may lower it).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

#include "arp.h"
#include "check_main.h"
#include "netdevice.h"
#include "stack.h"
#include "tcp.h"
#include "wire.h"

#define IP_A htonl(0xc6120002u) /* 198.18.0.2 */
#define IP_B htonl(0xc6120001u) /* 198.18.0.1 */

static const uint8_t mac_a[6] = {2, 0, 0, 0, 0, 2};
static const uint8_t mac_b[6] = {2, 0, 0, 0, 0, 1};

struct pair {
	struct wire *w;
	struct nstack *a, *b;
	uint64_t now;
	uint32_t rng_a, rng_b;
};

static struct pair P;

static uint64_t p_now(void *ctx)
{
	(void)ctx;
	return P.now;
}

static uint32_t xs(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static uint32_t p_rand_a(void *ctx)
{
	(void)ctx;
	return xs(&P.rng_a);
}

static uint32_t p_rand_b(void *ctx)
{
	(void)ctx;
	return xs(&P.rng_b);
}

static const struct nstack_env env_a = {.now_us = p_now, .random32 = p_rand_a};
static const struct nstack_env env_b = {.now_us = p_now, .random32 = p_rand_b};

static struct nstack *p_stack(int end, const uint8_t *mac, uint32_t addr,
			      const struct nstack_env *env, uint32_t peer, const uint8_t *peer_mac)
{
	struct nstack_config cfg;
	struct nstack *ns;

	nstack_config_defaults(&cfg);
	cfg.addr = addr;
	cfg.prefixlen = 24;
	cfg.gateway = 0;
	cfg.gratuitous_arp = false;
	cfg.log_level = NSTACK_LOG_ERROR;
	ck_assert_int_eq(nstack_create(&cfg, wire_netdev(P.w, end, mac, 1500), env, NULL, &ns), 0);
	nstack_lock(ns);
	ck_assert_int_eq(neigh_add_permanent(ns, peer, peer_mac), 0);
	nstack_unlock(ns);
	return ns;
}

static void p_setup_opts(const struct wire_opts *o)
{
	memset(&P, 0, sizeof(P));
	P.now = 1000000;
	P.rng_a = 0x1234567u;
	P.rng_b = 0x7654321u;
	ck_assert_int_eq(wire_create(o, &P.w), 0);
	P.a = p_stack(0, mac_a, IP_A, &env_a, IP_B, mac_b);
	P.b = p_stack(1, mac_b, IP_B, &env_b, IP_A, mac_a);
}

static void p_setup(void)
{
	p_setup_opts(NULL);
}

static void p_teardown(void)
{
	long sa, sb, ka, kb;

	if (!P.a)
		return;
	/* Frees what the devices finished sending from the stacks' skbs (wire_opts.keep). */
	ck_assert_uint_eq(nstack_tx_pending(P.a), 0);
	ck_assert_uint_eq(nstack_tx_pending(P.b), 0);
	sa = nstack_live_socks(P.a);
	sb = nstack_live_socks(P.b);
	ka = nstack_live_skbs(P.a);
	kb = nstack_live_skbs(P.b);
	nstack_destroy(P.a);
	nstack_destroy(P.b);
	wire_destroy(P.w);
	P.a = P.b = NULL;
	ck_assert_msg(sa == 0 && sb == 0, "socks left: %ld %ld", sa, sb);
	ck_assert_msg(ka == 0 && kb == 0, "skbs left: %ld %ld", ka, kb);
}

/* One round: both stacks handle their frames and due timers. */
static void p_run(void)
{
	nstack_process(P.a);
	nstack_process(P.b);
}

/* Runs until both wires are quiet, then jumps the clock to the next timer (bounded). */
static void p_settle(uint64_t until)
{
	for (int i = 0; i < 100000; i++) {
		uint64_t da, db, d;

		p_run();
		if (wire_pending(P.w, 0) || wire_pending(P.w, 1))
			continue;
		da = nstack_next_deadline(P.a);
		db = nstack_next_deadline(P.b);
		d = da < db ? da : db;
		if (d == UINT64_MAX || d > until)
			break;
		if (d > P.now)
			P.now = d;
	}
}

static struct sockaddr_in sin_of(uint32_t addr, uint16_t port)
{
	struct sockaddr_in s;

	memset(&s, 0, sizeof(s));
	s.sin_family = AF_INET;
	s.sin_addr.s_addr = addr;
	s.sin_port = htons(port);
	return s;
}

static struct socket *p_socket(struct nstack *ns)
{
	struct socket *s = NULL;

	ck_assert_int_eq(nstack_socket(ns, AF_INET, SOCK_STREAM, 0, &s), 0);
	nstack_set_nonblock(s, true);
	return s;
}

static struct socket *p_listener(uint16_t port, int backlog)
{
	struct socket *l = p_socket(P.b);
	struct sockaddr_in sa = sin_of(0, port);
	int one = 1;

	ck_assert_int_eq(nstack_setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	ck_assert_int_eq(nstack_bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(nstack_listen(l, backlog), 0);
	return l;
}

/* Connects a socket of A to B:port and accepts it on l; returns both ends. */
static void p_connect(struct socket *l, uint16_t port, struct socket **ca, struct socket **cb)
{
	struct sockaddr_in sa = sin_of(IP_B, port);
	struct socket *c = p_socket(P.a), *n = NULL;

	ck_assert_int_eq(nstack_connect(c, (struct sockaddr *)&sa, sizeof(sa)), -EINPROGRESS);
	ck_assert_int_eq(nstack_connect(c, (struct sockaddr *)&sa, sizeof(sa)), -EALREADY);
	p_settle(P.now);
	ck_assert_int_eq(nstack_connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(nstack_connect(c, (struct sockaddr *)&sa, sizeof(sa)), -EISCONN);
	ck_assert_int_eq(nstack_accept(l, &n, NULL, NULL, SOCK_NONBLOCK), 0);
	*ca = c;
	*cb = n;
}

static ssize_t p_send(struct socket *s, const void *buf, size_t len, int flags)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};

	return nstack_sendmsg(s, &m, flags);
}

static ssize_t p_recv(struct socket *s, void *buf, size_t len, int flags)
{
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};

	return nstack_recvmsg(s, &m, flags);
}

static struct tcp_info_linux p_info(struct socket *s)
{
	struct tcp_info_linux ti;
	socklen_t len = sizeof(ti);

	ck_assert_int_eq(nstack_getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
	ck_assert_uint_eq(len, sizeof(ti));
	return ti;
}

START_TEST(test_closed_connect_accept_established_both_ends)
{
	struct socket *l = p_listener(5001, 8), *c, *n;
	struct tcp_info_linux ti;
	int v;
	socklen_t len = sizeof(v);

	p_connect(l, 5001, &c, &n);
	ti = p_info(c);
	ck_assert_uint_eq(ti.tcpi_state, TCP_ESTABLISHED);
	ck_assert_uint_eq(ti.tcpi_options, TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE);
	ck_assert_uint_eq(ti.tcpi_snd_wscale, 7);
	ck_assert_uint_eq(ti.tcpi_rcv_wscale, 7);
	ck_assert_uint_eq(ti.tcpi_snd_mss, 1448);
	ck_assert_uint_eq(ti.tcpi_advmss, 1460);
	ck_assert_uint_eq(ti.tcpi_snd_cwnd, 10);
	ck_assert_uint_eq(p_info(n).tcpi_state, TCP_ESTABLISHED);
	ck_assert_int_eq(nstack_getsockopt(c, IPPROTO_TCP, TCP_MAXSEG, &v, &len), 0);
	ck_assert_int_eq(v, 1448);
	ck_assert_uint_eq(nstack_poll(c), POLLOUT | POLLWRNORM);
	ck_assert_uint_eq(nstack_poll(l), 0);
	nstack_close(c);
	nstack_close(n);
	nstack_close(l);
	p_settle(P.now + 200ull * 1000000);
}
END_TEST

/*
 * Sysctls changed while the stack runs (nstack_set_tcp_config) apply to the
 * next connection, as Linux's: no SACK/timestamps offered, the window
 * scale from the new tcp_rmem, the new default congestion control.
 */
START_TEST(test_closed_new_tcp_config_applies_to_next_connection)
{
	struct socket *l = p_listener(5002, 8), *c, *n;
	struct tcp_config t = nstack_config(P.a)->tcp;
	struct tcp_info_linux ti;
	char ca[16] = "";
	socklen_t len = sizeof(ca);

	t.sack = false;
	t.timestamps = false;
	t.rmem[2] = 65535 * 4;
	strcpy(t.congestion_control, "reno");
	nstack_set_tcp_config(P.a, &t);
	p_connect(l, 5002, &c, &n);
	ti = p_info(c);
	ck_assert_uint_eq(ti.tcpi_options, TCPI_OPT_WSCALE);
	ck_assert_uint_eq(ti.tcpi_rcv_wscale, 2);
	ck_assert_int_eq(nstack_getsockopt(c, IPPROTO_TCP, TCP_CONGESTION, ca, &len), 0);
	ck_assert_str_eq(ca, "reno");
	nstack_close(c);
	nstack_close(n);
	nstack_close(l);
	p_settle(P.now + 200ull * 1000000);
}
END_TEST

/* Reads up to len bytes with TCP_INQ on; *inq gets the TCP_CM_INQ value (-1: none). */
static ssize_t p_recv_inq(struct socket *s, void *buf, size_t len, int *inq)
{
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct msghdr m = {.msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = ctl.buf,
			   .msg_controllen = sizeof(ctl)};
	struct cmsghdr *c;
	ssize_t n = nstack_recvmsg(s, &m, 0);

	*inq = -1;
	for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == IPPROTO_TCP && c->cmsg_type == TCP_CM_INQ)
			memcpy(inq, CMSG_DATA(c), sizeof(*inq));
	return n;
}

/* TCP_INQ: each read says how many bytes are left, and 1 once the FIN is in. */
START_TEST(test_established_tcp_inq_cmsg_counts_bytes_left)
{
	struct socket *l = p_listener(5003, 8), *c, *n;
	char buf[300] = {0};
	int one = 1, v = 0, inq;
	socklen_t len = sizeof(v);

	p_connect(l, 5003, &c, &n);
	ck_assert_int_eq(nstack_setsockopt(c, IPPROTO_TCP, TCP_INQ, &one, sizeof(one)), 0);
	ck_assert_int_eq(nstack_getsockopt(c, IPPROTO_TCP, TCP_INQ, &v, &len), 0);
	ck_assert_int_eq(v, 1);
	v = 2;
	ck_assert_int_eq(nstack_setsockopt(c, IPPROTO_TCP, TCP_INQ, &v, sizeof(v)), -EINVAL);
	ck_assert_int_eq(p_send(n, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	p_settle(P.now);
	ck_assert_int_eq(p_recv_inq(c, buf, 100, &inq), 100);
	ck_assert_int_eq(inq, 200);
	ck_assert_int_eq(p_recv_inq(c, buf, 200, &inq), 200);
	ck_assert_int_eq(inq, 0);
	nstack_close(n);
	p_settle(P.now);
	ck_assert_int_eq(p_recv_inq(c, buf, 100, &inq), 0);
	ck_assert_int_eq(inq, 1);
	nstack_close(c);
	nstack_close(l);
	p_settle(P.now + 200ull * 1000000);
}
END_TEST

/* MSG_EOR ends a record: corked data after it leaves in a segment of its own. */
START_TEST(test_established_msg_eor_keeps_records_apart)
{
	struct socket *l = p_listener(5004, 8), *c, *n;
	char buf[100] = {0}, in[400];
	int on = 1, off = 0;
	uint32_t segs;

	p_connect(l, 5004, &c, &n);
	segs = p_info(c).tcpi_segs_out;
	ck_assert_int_eq(nstack_setsockopt(c, IPPROTO_TCP, TCP_CORK, &on, sizeof(on)), 0);
	ck_assert_int_eq(p_send(c, buf, sizeof(buf), MSG_EOR), 100);
	ck_assert_int_eq(p_send(c, buf, sizeof(buf), 0), 100);
	ck_assert_int_eq(p_send(c, buf, sizeof(buf), 0), 100);
	ck_assert_int_eq(nstack_setsockopt(c, IPPROTO_TCP, TCP_CORK, &off, sizeof(off)), 0);
	p_settle(P.now);
	/* One segment of 100 bytes, one of 200: the second send did not join the first. */
	ck_assert_uint_eq(p_info(c).tcpi_segs_out - segs, 2);
	ck_assert_int_eq(p_recv(n, in, sizeof(in), 0), 300);
	nstack_close(c);
	nstack_close(n);
	nstack_close(l);
	p_settle(P.now + 200ull * 1000000);
}
END_TEST

/* Reads one zerocopy completion from the error queue: [*lo, *hi]; -EAGAIN when none. */
static int p_zc_read(struct socket *s, uint32_t *lo, uint32_t *hi)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct sock_extended_err) + sizeof(struct sockaddr_in))];
		struct cmsghdr align;
	} ctl;
	struct msghdr m = {.msg_control = ctl.buf, .msg_controllen = sizeof(ctl)};
	struct sock_extended_err ee;
	struct cmsghdr *c;
	ssize_t n = nstack_recvmsg(s, &m, MSG_ERRQUEUE);

	if (n < 0)
		return (int)n;
	ck_assert_int_eq(n, 0);
	ck_assert(m.msg_flags & MSG_ERRQUEUE);
	c = CMSG_FIRSTHDR(&m);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(c->cmsg_level, IPPROTO_IP);
	ck_assert_int_eq(c->cmsg_type, IP_RECVERR);
	memcpy(&ee, CMSG_DATA(c), sizeof(ee));
	ck_assert_uint_eq(ee.ee_errno, 0);
	ck_assert_uint_eq(ee.ee_origin, SO_EE_ORIGIN_ZEROCOPY);
	ck_assert_uint_eq(ee.ee_code, SO_EE_CODE_ZEROCOPY_COPIED);
	*lo = ee.ee_info;
	*hi = ee.ee_data;
	return 0;
}

/*
 * SO_ZEROCOPY + MSG_ZEROCOPY (packetdrill's zerocopy/basic, batch): each
 * send's completion comes when its data is acked, ids count up, adjacent
 * completions merge in the queue, and sends into one unsent segment share
 * one range.
 */
START_TEST(test_established_msg_zerocopy_completions)
{
	struct socket *l = p_listener(5005, 8), *c, *n;
	static char buf[4000], in[20000];
	int one = 1, v = 0, off = 0;
	socklen_t len = sizeof(v);
	uint32_t lo, hi;

	p_connect(l, 5005, &c, &n);
	ck_assert_int_eq(nstack_setsockopt(c, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)), 0);
	ck_assert_int_eq(nstack_getsockopt(c, SOL_SOCKET, SO_ZEROCOPY, &v, &len), 0);
	ck_assert_int_eq(v, 1);
	v = 2;
	ck_assert_int_eq(nstack_setsockopt(c, SOL_SOCKET, SO_ZEROCOPY, &v, sizeof(v)), -EINVAL);
	ck_assert_int_eq(p_zc_read(c, &lo, &hi), -EAGAIN);

	ck_assert_int_eq(p_send(c, buf, sizeof(buf), MSG_ZEROCOPY), 4000);
	p_settle(P.now);
	ck_assert_uint_eq(nstack_poll(c) & POLLERR, POLLERR);
	ck_assert_int_eq(p_zc_read(c, &lo, &hi), 0);
	ck_assert_uint_eq(lo, 0);
	ck_assert_uint_eq(hi, 0);
	ck_assert_uint_eq(nstack_poll(c) & POLLERR, 0);

	/* Two sends, each acked: one merged completion [1, 2]; a plain send takes no id. */
	ck_assert_int_eq(p_send(c, buf, sizeof(buf), MSG_ZEROCOPY), 4000);
	p_settle(P.now);
	ck_assert_int_eq(p_send(c, buf, 10, 0), 10);
	ck_assert_int_eq(p_send(c, buf, sizeof(buf), MSG_ZEROCOPY), 4000);
	p_settle(P.now);
	ck_assert_int_eq(p_zc_read(c, &lo, &hi), 0);
	ck_assert_uint_eq(lo, 1);
	ck_assert_uint_eq(hi, 2);

	/* Corked: both sends sit in one unsent segment, one range [3, 4], only once acked. */
	ck_assert_int_eq(nstack_setsockopt(c, IPPROTO_TCP, TCP_CORK, &one, sizeof(one)), 0);
	ck_assert_int_eq(p_send(c, buf, 100, MSG_ZEROCOPY), 100);
	ck_assert_int_eq(p_send(c, buf, 100, MSG_ZEROCOPY), 100);
	p_settle(P.now);
	ck_assert_int_eq(p_zc_read(c, &lo, &hi), -EAGAIN);
	ck_assert_int_eq(nstack_setsockopt(c, IPPROTO_TCP, TCP_CORK, &off, sizeof(off)), 0);
	p_settle(P.now);
	ck_assert_int_eq(p_zc_read(c, &lo, &hi), 0);
	ck_assert_uint_eq(lo, 3);
	ck_assert_uint_eq(hi, 4);
	ck_assert_int_eq(p_zc_read(c, &lo, &hi), -EAGAIN);
	ck_assert_int_eq(p_recv(n, in, sizeof(in), 0), 4000 * 3 + 10 + 200);
	nstack_close(c);
	nstack_close(n);
	nstack_close(l);
	p_settle(P.now + 200ull * 1000000);
}
END_TEST

static struct sockaddr_in6 sin6_mapped(uint32_t addr, uint16_t port)
{
	struct sockaddr_in6 s;

	memset(&s, 0, sizeof(s));
	s.sin6_family = AF_INET6;
	s.sin6_port = htons(port);
	if (addr) {
		s.sin6_addr.s6_addr[10] = 0xff;
		s.sin6_addr.s6_addr[11] = 0xff;
		memcpy(&s.sin6_addr.s6_addr[12], &addr, 4);
	}
	return s;
}

static struct socket *p_socket6(struct nstack *ns, int type)
{
	struct socket *s = NULL;

	ck_assert_int_eq(nstack_socket(ns, AF_INET6, type, 0, &s), 0);
	nstack_set_nonblock(s, true);
	return s;
}

/*
 * Dual stack: an AF_INET6 listener on "::" takes IPv4 connections and
 * names them ::ffff:a.b.c.d; an AF_INET6 client reaches ::ffff:a.b.c.d
 * over IPv4; the port space is IPv4's; IPv6 proper has no route yet.
 */
START_TEST(test_closed_inet6_dual_stack_tcp_v4_mapped)
{
	struct socket *l = p_socket6(P.b, SOCK_STREAM), *c = p_socket6(P.a, SOCK_STREAM), *n = NULL;
	struct socket *c4 = p_socket(P.b);
	struct sockaddr_in6 any = sin6_mapped(0, 5006), dst = sin6_mapped(IP_B, 5006), got;
	struct sockaddr_in6 v6 = sin6_mapped(0, 5006), want;
	struct sockaddr_in b4 = sin_of(0, 5006);
	socklen_t len = sizeof(got);
	int v = 0, one = 1;
	char buf[8];

	v6.sin6_addr.s6_addr[0] = 0x20;
	v6.sin6_addr.s6_addr[1] = 0x01;
	v6.sin6_addr.s6_addr[3] = 0x02;
	v6.sin6_addr.s6_addr[15] = 0x01;
	ck_assert_int_eq(nstack_getsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &v, &len), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(nstack_bind(l, (struct sockaddr *)&any, 23), -EINVAL);
	ck_assert_int_eq(nstack_bind(l, (struct sockaddr *)&v6, sizeof(v6)), -EADDRNOTAVAIL);
	ck_assert_int_eq(nstack_bind(l, (struct sockaddr *)&any, sizeof(any)), 0);
	ck_assert_int_eq(nstack_setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)),
			 -EINVAL);
	/* One port space: 0.0.0.0 on the same port is taken. */
	ck_assert_int_eq(nstack_bind(c4, (struct sockaddr *)&b4, sizeof(b4)), -EADDRINUSE);
	nstack_close(c4);
	len = sizeof(got);
	ck_assert_int_eq(nstack_getsockname(l, (struct sockaddr *)&got, &len), 0);
	ck_assert_uint_eq(len, sizeof(got));
	want = sin6_mapped(0, 5006);
	ck_assert_mem_eq(&got, &want, sizeof(got));
	ck_assert_int_eq(nstack_listen(l, 8), 0);

	ck_assert_int_eq(nstack_connect(c, (struct sockaddr *)&v6, sizeof(v6)), -ENETUNREACH);
	ck_assert_int_eq(nstack_connect(c, (struct sockaddr *)&dst, sizeof(dst)), -EINPROGRESS);
	p_settle(P.now);
	ck_assert_int_eq(nstack_connect(c, (struct sockaddr *)&dst, sizeof(dst)), 0);
	len = sizeof(got);
	ck_assert_int_eq(nstack_accept(l, &n, (struct sockaddr *)&got, &len, SOCK_NONBLOCK), 0);
	ck_assert_uint_eq(len, sizeof(got));
	ck_assert_int_eq(got.sin6_family, AF_INET6);
	want = sin6_mapped(IP_A, 0);
	ck_assert_mem_eq(&got.sin6_addr, &want.sin6_addr, 16);
	len = sizeof(got);
	ck_assert_int_eq(nstack_getsockname(n, (struct sockaddr *)&got, &len), 0);
	want = sin6_mapped(IP_B, 5006);
	ck_assert_mem_eq(&got, &want, sizeof(got));
	len = sizeof(got);
	ck_assert_int_eq(nstack_getpeername(c, (struct sockaddr *)&got, &len), 0);
	ck_assert_mem_eq(&got, &dst, sizeof(got));
	len = sizeof(v);
	ck_assert_int_eq(nstack_getsockopt(n, SOL_SOCKET, SO_DOMAIN, &v, &len), 0);
	ck_assert_int_eq(v, AF_INET6);
	ck_assert_int_eq(p_send(c, "hello", 5, 0), 5);
	p_settle(P.now);
	ck_assert_int_eq(p_recv(n, buf, sizeof(buf), 0), 5);
	ck_assert_mem_eq(buf, "hello", 5);
	nstack_close(c);
	nstack_close(n);
	nstack_close(l);
	p_settle(P.now + 200ull * 1000000);
}
END_TEST

/* A dual-stack UDP socket: sendto a mapped address (or AF_INET), recvfrom names the peer mapped. */
START_TEST(test_closed_inet6_dual_stack_udp_v4_mapped)
{
	struct socket *u = p_socket6(P.b, SOCK_DGRAM), *a = p_socket6(P.a, SOCK_DGRAM);
	struct sockaddr_in6 any = sin6_mapped(0, 5007), dst = sin6_mapped(IP_B, 5007), from, want;
	struct sockaddr_in dst4 = sin_of(IP_B, 5007);
	struct iovec iov;
	struct msghdr m;
	char buf[16];
	int hops = 0;
	socklen_t len = sizeof(hops);

	ck_assert_int_eq(nstack_bind(u, (struct sockaddr *)&any, sizeof(any)), 0);
	iov.iov_base = "ping";
	iov.iov_len = 4;
	memset(&m, 0, sizeof(m));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_name = &dst;
	m.msg_namelen = sizeof(dst);
	ck_assert_int_eq(nstack_sendmsg(a, &m, 0), 4);
	m.msg_name = &dst4;
	m.msg_namelen = sizeof(dst4);
	ck_assert_int_eq(nstack_sendmsg(a, &m, 0), 4);
	p_settle(P.now);
	for (int i = 0; i < 2; i++) {
		iov.iov_base = buf;
		iov.iov_len = sizeof(buf);
		m.msg_name = &from;
		m.msg_namelen = sizeof(from);
		ck_assert_int_eq(nstack_recvmsg(u, &m, 0), 4);
		ck_assert_uint_eq(m.msg_namelen, sizeof(from));
		want = sin6_mapped(IP_A, 0);
		ck_assert_int_eq(from.sin6_family, AF_INET6);
		ck_assert_mem_eq(&from.sin6_addr, &want.sin6_addr, 16);
	}
	ck_assert_int_eq(nstack_getsockopt(u, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, &len), 0);
	ck_assert_int_eq(hops, 64);
	hops = 300;
	ck_assert_int_eq(nstack_setsockopt(u, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof(hops)),
			 -EINVAL);
	ck_assert_int_eq(nstack_setsockopt(u, IPPROTO_IPV6, 9999, &hops, sizeof(hops)),
			 -ENOPROTOOPT);
	nstack_close(u);
	nstack_close(a);
	p_settle(P.now + 1000000);
}
END_TEST

/* One SO_TIMESTAMPING report from the error queue: its type and key; -EAGAIN when none. */
static int p_ts_read(struct socket *s, uint32_t *type, uint32_t *key)
{
	union {
		char buf[512];
		struct cmsghdr align;
	} ctl;
	char data[64];
	struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
	struct msghdr m = {.msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = ctl.buf,
			   .msg_controllen = sizeof(ctl)};
	struct sock_extended_err ee;
	struct timespec ts[3];
	struct cmsghdr *c;
	bool have_ts = false, have_ee = false;
	ssize_t n = nstack_recvmsg(s, &m, MSG_ERRQUEUE);

	if (n < 0)
		return (int)n;
	for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPING_OLD) {
			memcpy(ts, CMSG_DATA(c), sizeof(ts));
			ck_assert(ts[0].tv_sec > 0);
			ck_assert(!have_ee); /* before IP_RECVERR, as Linux */
			have_ts = true;
		} else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) {
			memcpy(&ee, CMSG_DATA(c), sizeof(ee));
			have_ee = true;
		}
	}
	ck_assert(have_ts && have_ee);
	ck_assert_uint_eq(ee.ee_errno, ENOMSG);
	ck_assert_uint_eq(ee.ee_origin, SO_EE_ORIGIN_TIMESTAMPING);
	*type = ee.ee_info;
	*key = ee.ee_data;
	return 0;
}

/*
 * SO_TIMESTAMPING with software stamps and OPT_ID (packetdrill's
 * timestamping/server): each write's last byte is reported when sent
 * (SCHED, SND) and when acked (ACK), keyed by its offset in the stream.
 */
START_TEST(test_established_so_timestamping_tx_sched_snd_ack)
{
	struct socket *l = p_listener(5008, 8), *c, *n;
	static char buf[2000], in[8000];
	int f = SOF_TIMESTAMPING_TX_SCHED | SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_TX_ACK |
		SOF_TIMESTAMPING_SOFTWARE | SOF_TIMESTAMPING_OPT_ID,
	    v = 0;
	static const uint32_t want[6][2] = {{SCM_TSTAMP_SCHED, 1999}, {SCM_TSTAMP_SND, 1999},
					    {SCM_TSTAMP_SCHED, 3999}, {SCM_TSTAMP_SND, 3999},
					    {SCM_TSTAMP_ACK, 1999},   {SCM_TSTAMP_ACK, 3999}};
	socklen_t len = sizeof(v);
	uint32_t type, key;

	ck_assert_int_eq(nstack_setsockopt(l, SOL_SOCKET, SO_TIMESTAMPING_OLD, &f, sizeof(f)),
			 -EINVAL); /* OPT_ID on a listener */
	p_connect(l, 5008, &c, &n);
	ck_assert_int_eq(nstack_setsockopt(c, SOL_SOCKET, SO_TIMESTAMPING_OLD, &f, sizeof(f)), 0);
	v = 1;
	ck_assert_int_eq(nstack_setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v)), 0);
	ck_assert_int_eq(nstack_getsockopt(c, SOL_SOCKET, SO_TIMESTAMPING_OLD, &v, &len), 0);
	ck_assert_int_eq(v, f);
	ck_assert_int_eq(p_send(c, buf, sizeof(buf), 0), 2000);
	ck_assert_int_eq(p_send(c, buf, sizeof(buf), 0), 2000);
	p_settle(P.now);
	for (int i = 0; i < 6; i++) {
		ck_assert_int_eq(p_ts_read(c, &type, &key), 0);
		ck_assert_uint_eq(type, want[i][0]);
		ck_assert_uint_eq(key, want[i][1]);
	}
	ck_assert_int_eq(p_ts_read(c, &type, &key), -EAGAIN);
	ck_assert_int_eq(p_recv(n, in, sizeof(in), 0), 4000);
	nstack_close(c);
	nstack_close(n);
	nstack_close(l);
	p_settle(P.now + 200ull * 1000000);
}
END_TEST

/* net.ipv4.tcp_notsent_lowat applies to sockets without TCP_NOTSENT_LOWAT, as Linux's. */
START_TEST(test_established_notsent_lowat_sysctl_limits_unsent_bytes)
{
	struct socket *l = p_listener(5009, 8), *c, *n;
	struct tcp_config t = nstack_config(P.a)->tcp;
	static char buf[100000];
	int v = -1;
	socklen_t len = sizeof(v);
	ssize_t r;

	t.notsent_lowat = 3000;
	nstack_set_tcp_config(P.a, &t);
	p_connect(l, 5009, &c, &n);
	ck_assert_int_eq(nstack_getsockopt(c, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, &len), 0);
	ck_assert_int_eq(v, 0);
	/*
	 * The limit is checked per send buffer, as Linux checks it per skb: the
	 * first buffer fills to size_goal (22 segments: half the largest
	 * window the peer offered, so far its SYN-ACK's, unscaled), the initial
	 * window takes 10 of them, the rest tops up to 22 again, and only the
	 * next buffer finds 22 segments unsent, over lowat.
	 */
	r = p_send(c, buf, sizeof(buf), 0);
	ck_assert_int_eq(r, (10 + 22) * 1448);
	ck_assert_uint_eq(nstack_poll(c) & POLLOUT, 0);
	nstack_close(c);
	nstack_close(n);
	nstack_close(l);
	p_settle(P.now + 200ull * 1000000);
}
END_TEST

START_TEST(test_established_data_both_ways_arrives_in_order)
{
	struct socket *l = p_listener(5002, 8), *c, *n;
	char buf[64];
	int v = 0;

	p_connect(l, 5002, &c, &n);
	ck_assert_int_eq(p_send(c, "hello", 5, 0), 5);
	ck_assert_int_eq(p_send(c, " world", 6, 0), 6);
	p_settle(P.now + 1000000);
	ck_assert_int_eq(nstack_ioctl(n, FIONREAD, &v), 0);
	ck_assert_int_eq(v, 11);
	ck_assert_uint_eq(nstack_poll(n) & POLLIN, POLLIN);
	ck_assert_int_eq(p_recv(n, buf, 5, MSG_PEEK), 5);
	ck_assert_mem_eq(buf, "hello", 5);
	ck_assert_int_eq(p_recv(n, buf, sizeof(buf), 0), 11);
	ck_assert_mem_eq(buf, "hello world", 11);
	ck_assert_int_eq(p_recv(n, buf, sizeof(buf), 0), -EAGAIN);
	ck_assert_int_eq(p_send(n, "pong", 4, 0), 4);
	p_settle(P.now + 1000000);
	ck_assert_int_eq(p_recv(c, buf, sizeof(buf), 0), 4);
	ck_assert_mem_eq(buf, "pong", 4);
	ck_assert_int_eq(nstack_ioctl(c, SIOCOUTQ, &v), 0);
	ck_assert_int_eq(v, 0);
	nstack_close(c);
	p_settle(P.now + 1000000);
	/* The peer's FIN: EOF after the data, POLLRDHUP. */
	ck_assert_int_eq(p_recv(n, buf, sizeof(buf), 0), 0);
	ck_assert_uint_eq(nstack_poll(n) & (POLLIN | POLLRDHUP), POLLIN | POLLRDHUP);
	ck_assert_uint_eq(p_info(n).tcpi_state, TCP_CLOSE_WAIT);
	nstack_close(n);
	nstack_close(l);
	p_settle(P.now + 200ull * 1000000);
}
END_TEST

START_TEST(test_established_shutdown_wr_half_close_peer_still_sends)
{
	struct socket *l = p_listener(5003, 8), *c, *n;
	char buf[16];

	p_connect(l, 5003, &c, &n);
	ck_assert_int_eq(nstack_shutdown(c, SHUT_WR), 0);
	p_settle(P.now + 1000000);
	ck_assert_uint_eq(p_info(c).tcpi_state, TCP_FIN_WAIT2);
	ck_assert_int_eq(p_recv(n, buf, sizeof(buf), 0), 0);
	ck_assert_int_eq(p_send(c, "x", 1, MSG_NOSIGNAL), -EPIPE);
	ck_assert_int_eq(p_send(n, "late", 4, 0), 4);
	p_settle(P.now + 1000000);
	ck_assert_int_eq(p_recv(c, buf, sizeof(buf), 0), 4);
	ck_assert_mem_eq(buf, "late", 4);
	nstack_close(n);
	p_settle(P.now + 1000000);
	ck_assert_uint_eq(p_info(c).tcpi_state, TCP_TIME_WAIT);
	ck_assert_int_eq(p_recv(c, buf, sizeof(buf), 0), 0);
	nstack_close(c);
	nstack_close(l);
	p_settle(P.now + 200ull * 1000000);
}
END_TEST

START_TEST(test_closed_port_connect_refused)
{
	struct socket *c = p_socket(P.a);
	struct sockaddr_in sa = sin_of(IP_B, 9);
	int err = 0;
	socklen_t len = sizeof(err);

	ck_assert_int_eq(nstack_connect(c, (struct sockaddr *)&sa, sizeof(sa)), -EINPROGRESS);
	p_settle(P.now);
	ck_assert_uint_eq(nstack_poll(c) & (POLLERR | POLLHUP), POLLERR | POLLHUP);
	ck_assert_int_eq(nstack_getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len), 0);
	ck_assert_int_eq(err, ECONNREFUSED);
	nstack_close(c);
}
END_TEST

/*
 * The interface under stack A is deleted: its connection ends with
 * ENETDOWN at once (not after 15 minutes of retransmissions), a UDP socket
 * gets it as its error, and new connections and sends fail with it.
 */
START_TEST(test_established_interface_deleted_enetdown)
{
	struct socket *l = p_listener(5010, 8), *c, *n, *u, *c2;
	struct sockaddr_in sa = sin_of(IP_B, 5010);
	int err = 0;
	socklen_t len = sizeof(err);
	char buf[8];

	p_connect(l, 5010, &c, &n);
	ck_assert_int_eq(nstack_socket(P.a, AF_INET, SOCK_DGRAM, 0, &u), 0);
	wire_delete_end(P.w, 0);
	p_settle(P.now + 1000);
	ck_assert_int_eq(p_recv(c, buf, sizeof(buf), MSG_DONTWAIT), -ENETDOWN);
	ck_assert_uint_eq(nstack_poll(c) & (POLLERR | POLLHUP), POLLHUP);
	ck_assert_int_eq(p_send(c, "x", 1, MSG_NOSIGNAL), -EPIPE);
	ck_assert_int_eq(nstack_getsockopt(u, SOL_SOCKET, SO_ERROR, &err, &len), 0);
	ck_assert_int_eq(err, ENETDOWN);
	{
		struct iovec iov = {.iov_base = "x", .iov_len = 1};
		struct msghdr m = {
		    .msg_name = &sa, .msg_namelen = sizeof(sa), .msg_iov = &iov, .msg_iovlen = 1};

		ck_assert_int_eq(nstack_sendmsg(u, &m, 0), -ENETDOWN);
	}
	c2 = p_socket(P.a);
	ck_assert_int_eq(nstack_connect(c2, (struct sockaddr *)&sa, sizeof(sa)), -ENETDOWN);
	nstack_close(c2);
	nstack_close(u);
	nstack_close(c);
	/* B never hears of it: its end is reset so that nothing lingers. */
	{
		struct linger lg = {.l_onoff = 1, .l_linger = 0};

		ck_assert_int_eq(nstack_setsockopt(n, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	}
	nstack_close(n);
	nstack_close(l);
}
END_TEST

START_TEST(test_established_zero_linger_close_resets_peer)
{
	struct socket *l = p_listener(5004, 8), *c, *n;
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	char buf[8];

	p_connect(l, 5004, &c, &n);
	ck_assert_int_eq(nstack_setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	nstack_close(c);
	p_settle(P.now + 1000000);
	ck_assert_int_eq(p_recv(n, buf, sizeof(buf), 0), -ECONNRESET);
	ck_assert_int_eq(p_send(n, "x", 1, MSG_NOSIGNAL), -EPIPE);
	nstack_close(n);
	nstack_close(l);
}
END_TEST

START_TEST(test_sockopts_tcp_level_values)
{
	struct socket *s = p_socket(P.a);
	char name[16];
	socklen_t len;
	int v;

	v = 1;
	ck_assert_int_eq(nstack_setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v)), 0);
	len = sizeof(v);
	ck_assert_int_eq(nstack_getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
	ck_assert_int_eq(v, 1);
	len = sizeof(name);
	ck_assert_int_eq(nstack_getsockopt(s, IPPROTO_TCP, TCP_CONGESTION, name, &len), 0);
	ck_assert_str_eq(name, "cubic");
	ck_assert_int_eq(nstack_setsockopt(s, IPPROTO_TCP, TCP_CONGESTION, "reno", 4), 0);
	len = sizeof(name);
	ck_assert_int_eq(nstack_getsockopt(s, IPPROTO_TCP, TCP_CONGESTION, name, &len), 0);
	ck_assert_str_eq(name, "reno");
	ck_assert_int_eq(nstack_setsockopt(s, IPPROTO_TCP, TCP_CONGESTION, "bbr9", 4), -ENOENT);
	v = 0;
	ck_assert_int_eq(nstack_setsockopt(s, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof(v)), -EINVAL);
	v = 30;
	ck_assert_int_eq(nstack_setsockopt(s, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof(v)), 0);
	len = sizeof(v);
	ck_assert_int_eq(nstack_getsockopt(s, IPPROTO_TCP, TCP_KEEPINTVL, &v, &len), 0);
	ck_assert_int_eq(v, 75);
	len = sizeof(v);
	ck_assert_int_eq(nstack_getsockopt(s, IPPROTO_TCP, TCP_MAXSEG, &v, &len), 0);
	ck_assert_int_eq(v, 536);
	v = 10;
	ck_assert_int_eq(nstack_setsockopt(s, IPPROTO_TCP, TCP_MAXSEG, &v, sizeof(v)), -EINVAL);
	v = 5;
	ck_assert_int_eq(nstack_setsockopt(s, IPPROTO_TCP, TCP_DEFER_ACCEPT, &v, sizeof(v)), 0);
	len = sizeof(v);
	ck_assert_int_eq(nstack_getsockopt(s, IPPROTO_TCP, TCP_DEFER_ACCEPT, &v, &len), 0);
	ck_assert_int_eq(v, 7); /* rounded up to whole SYN-ACK retransmissions, as Linux */
	ck_assert_int_eq(nstack_ioctl(s, FIONREAD, &v), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_uint_eq(nstack_poll(s), POLLOUT | POLLWRNORM | POLLHUP);
	nstack_close(s);
}
END_TEST

START_TEST(test_listen_backlog_full_second_connect_waits)
{
	struct socket *l = p_listener(5005, 1), *c1, *n1, *c2;
	struct sockaddr_in sa = sin_of(IP_B, 5005);
	struct socket *n2 = NULL;

	p_connect(l, 5005, &c1, &n1);
	c2 = p_socket(P.a);
	ck_assert_int_eq(nstack_connect(c2, (struct sockaddr *)&sa, sizeof(sa)), -EINPROGRESS);
	p_settle(P.now);
	ck_assert_uint_eq(p_info(c2).tcpi_state, TCP_ESTABLISHED);
	ck_assert_int_eq(nstack_stat(P.b, "TcpExtListenDrops"), 0);
	ck_assert_int_eq(nstack_accept(l, &n2, NULL, NULL, SOCK_NONBLOCK), 0);
	nstack_close(n2);
	nstack_close(c1);
	nstack_close(n1);
	nstack_close(c2);
	nstack_close(l);
	p_settle(P.now + 300ull * 1000000);
}
END_TEST

static uint8_t pattern(uint64_t i)
{
	uint64_t x = i * 0x9e3779b97f4a7c15ull;

	return (uint8_t)(x >> 56) ^ (uint8_t)i;
}

START_TEST(test_established_receiver_not_reading_window_closes_then_reopens)
{
	struct socket *l = p_listener(5006, 8), *c, *n;
	static uint8_t buf[1 << 20];
	uint64_t sent = 0, got = 0;
	int inq = 0, sndbuf = 0;
	socklen_t len = sizeof(sndbuf);
	ssize_t r;

	p_connect(l, 5006, &c, &n);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = pattern(i);
	/* Fill until the sender's buffer is full and the wire is quiet. */
	for (int round = 0; round < 2000; round++) {
		r = p_send(c, buf + sent % sizeof(buf), sizeof(buf) - sent % sizeof(buf), 0);
		if (r > 0)
			sent += (uint64_t)r;
		P.now += 100;
		p_run();
	}
	p_settle(P.now + 5000000);
	/* Bytes that fit the unsent tail segment are still taken (Linux); then EAGAIN. */
	for (int i = 0; i < 2000 && (r = p_send(c, buf + sent % sizeof(buf), 1, 0)) == 1; i++)
		sent++;
	ck_assert_int_eq(r, -EAGAIN);
	ck_assert_uint_eq(nstack_poll(c) & POLLOUT, 0);
	ck_assert_int_eq(nstack_ioctl(n, FIONREAD, &inq), 0);
	ck_assert_int_gt(inq, 0);
	ck_assert_uint_lt(inq, sent);
	/* The sender probes the closed window and backs off (tcpi_backoff grows). */
	ck_assert_uint_gt(p_info(c).tcpi_backoff, 0);
	ck_assert_uint_eq(p_info(c).tcpi_snd_wnd, 0);
	ck_assert_int_eq(nstack_getsockopt(c, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len), 0);
	ck_assert_int_gt(sndbuf, 16384); /* grew from tcp_wmem[1] with the window */
	/* Reading reopens the window; everything arrives in order. */
	for (int round = 0; round < 200000 && got < sent; round++) {
		static uint8_t in[65536];

		while ((r = p_recv(n, in, sizeof(in), 0)) > 0) {
			for (ssize_t i = 0; i < r; i++)
				if (in[i] != pattern((got + (uint64_t)i) % sizeof(buf)))
					ck_abort_msg("byte %lu differs",
						     (unsigned long)(got + (uint64_t)i));
			got += (uint64_t)r;
		}
		P.now += 100;
		p_run();
		if (!wire_pending(P.w, 0) && !wire_pending(P.w, 1) && got < sent) {
			uint64_t d = nstack_next_deadline(P.a);

			if (d != UINT64_MAX && d > P.now && d - P.now > 1000 && round % 64 == 63)
				P.now = d;
		}
	}
	ck_assert_uint_eq(got, sent);
	ck_assert_uint_eq(nstack_poll(c) & POLLOUT, POLLOUT);
	nstack_close(c);
	nstack_close(n);
	nstack_close(l);
	p_settle(P.now + 300ull * 1000000);
}
END_TEST

START_TEST(test_established_msg_waitall_peek_and_readv)
{
	struct socket *l = p_listener(5007, 8), *c, *n;
	char a[4] = {0}, b[8] = {0};
	struct iovec iov[2] = {{a, sizeof(a)}, {b, sizeof(b)}};
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};

	p_connect(l, 5007, &c, &n);
	ck_assert_int_eq(p_send(c, "0123456789", 10, 0), 10);
	p_settle(P.now + 1000000);
	/* Scatter over two iovecs. */
	ck_assert_int_eq(nstack_recvmsg(n, &m, MSG_PEEK), 10);
	ck_assert_mem_eq(a, "0123", 4);
	ck_assert_mem_eq(b, "456789", 6);
	ck_assert_int_eq(nstack_recvmsg(n, &m, 0), 10);
	/* MSG_WAITALL with MSG_DONTWAIT and too little data returns what is there (Linux). */
	ck_assert_int_eq(p_send(c, "xy", 2, 0), 2);
	p_settle(P.now + 1000000);
	ck_assert_int_eq(p_recv(n, b, sizeof(b), MSG_WAITALL | MSG_DONTWAIT), 2);
	nstack_close(c);
	nstack_close(n);
	nstack_close(l);
	p_settle(P.now + 300ull * 1000000);
}
END_TEST

START_TEST(test_bound_port_in_use_eaddrinuse_and_reuseaddr_rules)
{
	struct socket *l = p_listener(5008, 8), *x = p_socket(P.b), *c, *n;
	struct sockaddr_in sa = sin_of(0, 5008);
	int one = 1;

	/* Without SO_REUSEADDR, a listener's port is taken. */
	ck_assert_int_eq(nstack_bind(x, (struct sockaddr *)&sa, sizeof(sa)), -EADDRINUSE);
	/* With it, still taken: the other socket listens (Linux). */
	ck_assert_int_eq(nstack_setsockopt(x, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	ck_assert_int_eq(nstack_bind(x, (struct sockaddr *)&sa, sizeof(sa)), -EADDRINUSE);
	p_connect(l, 5008, &c, &n);
	/* The server closes first: its side of the connection waits in TIME_WAIT. */
	nstack_close(n);
	p_settle(P.now + 1000000);
	nstack_close(c);
	p_settle(P.now + 1000000);
	nstack_close(l);
	/* A restarted server with SO_REUSEADDR binds over the TIME_WAIT socket. */
	ck_assert_int_eq(nstack_bind(x, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(nstack_listen(x, 8), 0);
	nstack_close(x);
	p_settle(P.now + 300ull * 1000000);
}
END_TEST

START_TEST(test_established_notsent_lowat_gates_pollout_and_send)
{
	struct socket *l = p_listener(5009, 8), *c, *n;
	int v = 0;
	socklen_t len = sizeof(v);

	p_connect(l, 5009, &c, &n);
	ck_assert_int_eq(
	    nstack_setsockopt(c, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &(int){4}, sizeof(int)), 0);
	ck_assert_int_eq(nstack_getsockopt(c, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, &len), 0);
	ck_assert_int_eq(v, 4);
	ck_assert_int_eq(nstack_setsockopt(c, IPPROTO_TCP, TCP_CORK, &(int){1}, sizeof(int)), 0);
	ck_assert_int_eq(p_send(c, "abc", 3, 0), 3);
	ck_assert_uint_eq(nstack_poll(c) & POLLOUT, POLLOUT); /* 3 unsent < 4 */
	ck_assert_int_eq(p_send(c, "d", 1, 0), 1);
	ck_assert_uint_eq(nstack_poll(c) & POLLOUT, 0); /* 4 unsent */
	/* As Linux, bytes that fit the unsent tail segment are still taken. */
	ck_assert_int_eq(p_send(c, "e", 1, 0), 1);
	ck_assert_int_eq(nstack_ioctl(c, SIOCOUTQNSD, &v), 0);
	ck_assert_int_eq(v, 5);
	ck_assert_int_eq(nstack_setsockopt(c, IPPROTO_TCP, TCP_CORK, &(int){0}, sizeof(int)), 0);
	ck_assert_uint_eq(nstack_poll(c) & POLLOUT, POLLOUT);
	ck_assert_int_eq(nstack_ioctl(c, SIOCATMARK, &v), 0);
	ck_assert_int_eq(v, 0);
	p_settle(P.now + 1000000);
	nstack_close(c);
	nstack_close(n);
	nstack_close(l);
	p_settle(P.now + 300ull * 1000000);
}
END_TEST

/* Moves n bytes from a to b, checking every byte; returns loop rounds used. */
static long p_bulk(struct socket *tx, struct socket *rx, uint64_t n)
{
	static uint8_t out[65536], in[65536];
	uint64_t sent = 0, got = 0, out_base = 0;
	bool out_valid = false;
	long rounds = 0;

	while (got < n) {
		/* Plain tests in the hot loop: every ck_assert writes to Check's log file. */
		if (++rounds >= 20000000)
			ck_abort_msg("bulk transfer stuck at %lu/%lu", (unsigned long)got,
				     (unsigned long)n);
		while (sent < n) {
			size_t chunk = n - sent < sizeof(out) ? (size_t)(n - sent) : sizeof(out);
			ssize_t r;

			/* out holds the pattern from out_base on; refill only when consumed. */
			if (sent != out_base || !out_valid) {
				for (size_t i = 0; i < chunk; i++)
					out[i] = pattern(sent + i);
				out_base = sent;
				out_valid = true;
			}
			r = p_send(tx, out, chunk, 0);
			if (r == -EAGAIN)
				break;
			if (r <= 0)
				ck_abort_msg("send: %zd", r);
			sent += (uint64_t)r;
		}
		for (;;) {
			ssize_t r = p_recv(rx, in, sizeof(in), 0);

			if (r == -EAGAIN)
				break;
			if (r <= 0)
				ck_abort_msg("recv: %zd at %lu", r, (unsigned long)got);
			for (ssize_t i = 0; i < r; i++)
				if (in[i] != pattern(got + (uint64_t)i))
					ck_abort_msg("byte %lu differs",
						     (unsigned long)(got + (uint64_t)i));
			got += (uint64_t)r;
		}
		/* 20 us per round: the link runs at a few Gbit/s of simulated time. */
		P.now += 20;
		p_run();
		if (!wire_pending(P.w, 0) && !wire_pending(P.w, 1)) {
			uint64_t da = nstack_next_deadline(P.a), db = nstack_next_deadline(P.b);
			uint64_t d = da < db ? da : db;

			if (d != UINT64_MAX && d > P.now && got < n && sent == n)
				P.now = d;
		}
	}
	return rounds;
}

static uint64_t bulk_bytes(void)
{
	const char *e = getenv("NSTACK_TCP_BULK_MIB");
	long mib = e ? atol(e) : 100;

	return (uint64_t)(mib > 0 ? mib : 1) << 20;
}

/* Device flags for both stacks in bulk_case(): offloads as pcap_live uses them. */
static unsigned int bulk_dev_flags;

static void bulk_case(const struct wire_opts *o, uint64_t n)
{
	struct socket *l, *c, *n2;

	p_setup_opts(o);
	ns_dev(P.a)->flags |= bulk_dev_flags;
	ns_dev(P.b)->flags |= bulk_dev_flags;
	l = p_listener(6000, 8);
	p_connect(l, 6000, &c, &n2);
	{
		uint64_t t0 = P.now;
		long rounds = p_bulk(c, n2, n);
		struct tcp_info_linux ti = p_info(c);
		double secs = (double)(P.now - t0) / 1e6;

		/* One line for the notes: simulated goodput and recovery work. */
		fprintf(
		    stderr,
		    "tcp bulk: %lu MiB loss %.2f dup %.2f reorder %.2f: %.3f s simulated "
		    "(%.0f Mbit/s), %ld rounds, %u retransmitted segments, cwnd %u, rto %u us\n",
		    (unsigned long)(n >> 20), o->loss, o->dup, o->reorder, secs,
		    secs > 0 ? (double)n * 8 / secs / 1e6 : 0.0, rounds, ti.tcpi_total_retrans,
		    ti.tcpi_snd_cwnd, ti.tcpi_rto);
	}
	/* Then the other way, on the same connection. */
	p_bulk(n2, c, n / 8);
	if (bulk_dev_flags & NETDEV_F_TX_GSO) {
		/* Super-frames were sent both ways and the wire cut every one. */
		ck_assert_int_gt(nstack_stat(P.a, "EthOutGsoFrames"), 0);
		ck_assert_int_gt(nstack_stat(P.b, "EthOutGsoFrames"), 0);
		ck_assert_uint_eq(wire_gso_errors(P.w), 0);
	}
	if (o->keep) {
		ck_assert_uint_gt(wire_tx_kept(P.w), 0);
		ck_assert_uint_eq(wire_tx_kept_changed(P.w), 0);
	}
	if (o->push)
		ck_assert_uint_gt(wire_tx_pushed(P.w), 0);
	ck_assert_int_eq(nstack_stat(P.a, "EthOutPlugLeaks"), 0);
	ck_assert_int_eq(nstack_stat(P.b, "EthOutPlugLeaks"), 0);
	if (o->enobufs > 0) {
		/* Refused sends are counted, never taken for sent. */
		ck_assert_int_gt(nstack_stat(P.a, "EthOutErrors"), 0);
		ck_assert_int_gt(nstack_stat(P.b, "EthOutErrors"), 0);
	}
	nstack_close(c);
	nstack_close(n2);
	nstack_close(l);
	p_settle(P.now + 400ull * 1000000);
	p_teardown();
}

START_TEST(test_established_bulk_clean_link_byte_exact)
{
	struct wire_opts o = {.seed = 1};

	bulk_case(&o, 8u << 20);
}
END_TEST

/*
 * The link refuses one send in ten (a packet socket's ENOBUFS): the refused
 * segments are sent again, counted, and the stream arrives whole.
 */
START_TEST(test_established_bulk_link_refusing_sends_byte_exact)
{
	struct wire_opts o = {.enobufs = 0.10, .seed = 11};

	bulk_case(&o, 2u << 20);
}
END_TEST

START_TEST(test_established_bulk_lossy_link_byte_exact)
{
	struct wire_opts o = {.loss = 0.05, .dup = 0.05, .reorder = 0.05, .seed = 42};

	bulk_case(&o, bulk_bytes());
}
END_TEST

/*
 * The same with both devices segmenting super-frames (TCP segmentation
 * offload, as a packet socket with virtio_net_hdr) and ordering receive
 * batches, as the live backend runs: still byte for byte.
 */
START_TEST(test_established_bulk_offloads_lossy_link_byte_exact)
{
	struct wire_opts o = {.loss = 0.05, .dup = 0.05, .reorder = 0.05, .seed = 7};

	bulk_dev_flags = NETDEV_F_TX_GSO | NETDEV_F_RX_ORDER;
	bulk_case(&o, bulk_bytes() / 4);
	bulk_dev_flags = 0;
}
END_TEST

START_TEST(test_established_bulk_offloads_clean_link_byte_exact)
{
	struct wire_opts o = {.seed = 3};

	bulk_dev_flags = NETDEV_F_TX_GSO | NETDEV_F_RX_ORDER;
	bulk_case(&o, 8u << 20);
	bulk_dev_flags = 0;
}
END_TEST

/*
 * The devices send super-frames from the stacks' skbs and read them only
 * later, as the live backend's TX thread does (wire_opts.keep): TCP neither
 * changes nor frees those bytes meanwhile, also when it retransmits a
 * segment still being sent (the lossy link), and every skb is freed once
 * sent (the teardown counts them).
 */
START_TEST(test_established_bulk_superframes_sent_late_from_skbs_byte_exact)
{
	struct wire_opts o = {.loss = 0.02, .dup = 0.02, .reorder = 0.02, .seed = 5, .keep = 8};

	bulk_dev_flags = NETDEV_F_TX_GSO | NETDEV_F_RX_ORDER;
	bulk_case(&o, 8u << 20);
	bulk_dev_flags = 0;
}
END_TEST

/*
 * Every frame waits for the stack lock's release and leaves only after it
 * (wire_opts.push, as on the live backend with its TX queue): plain
 * frames and super-frames keep their order, their bytes do not change
 * before they are read, and every skb is freed once sent, through loss,
 * duplicates and reordering.
 */
START_TEST(test_established_bulk_frames_pushed_after_unlock_byte_exact)
{
	struct wire_opts o = {
	    .loss = 0.02, .dup = 0.02, .reorder = 0.02, .seed = 11, .keep = 8, .push = true};

	bulk_dev_flags = NETDEV_F_TX_GSO | NETDEV_F_RX_ORDER;
	bulk_case(&o, 4u << 20);
	bulk_dev_flags = 0;
}
END_TEST

/*
 * tcp_max_tw_buckets: past it a connection that would wait in TIME_WAIT
 * ends at once (TcpExtTCPTimeWaitOverflow), as on Linux, so that a server
 * closing first cannot fill the arena with them; the count goes down as
 * TIME_WAIT ends, and the next one waits again.
 */
START_TEST(test_time_wait_past_max_tw_buckets_closes_at_once)
{
	struct tcp_config t;
	struct socket *l, *c[3], *n[3];

	p_setup();
	t = nstack_config(P.a)->tcp;
	t.max_tw_buckets = 1;
	nstack_set_tcp_config(P.a, &t);
	l = p_listener(7000, 8);
	for (int i = 0; i < 2; i++) {
		p_connect(l, 7000, &c[i], &n[i]);
		nstack_close(c[i]); /* A closes first: A holds the TIME_WAIT */
		p_settle(P.now + 100000);
		nstack_close(n[i]);
		p_settle(P.now + 100000);
	}
	ck_assert_int_eq(nstack_stat(P.a, "TcpExtTW"), 1);
	ck_assert_int_eq(nstack_stat(P.a, "TcpExtTCPTimeWaitOverflow"), 1);
	/* 2 MSL later the first TIME_WAIT is over: the next close waits again. */
	p_settle(P.now + 2 * nstack_config(P.a)->tcp.msl_us + 1000000);
	p_connect(l, 7000, &c[2], &n[2]);
	nstack_close(c[2]);
	p_settle(P.now + 100000);
	nstack_close(n[2]);
	p_settle(P.now + 100000);
	ck_assert_int_eq(nstack_stat(P.a, "TcpExtTW"), 2);
	ck_assert_int_eq(nstack_stat(P.a, "TcpExtTCPTimeWaitOverflow"), 1);
	nstack_close(l);
	p_settle(P.now + 2 * nstack_config(P.a)->tcp.msl_us + 1000000);
}
END_TEST

/*
 * Connections still alive below closed sockets (TIME_WAIT, orphans waiting
 * for ACKs with timers armed, a listener's unaccepted child) are freed by
 * nstack_destroy: leaks or use-after-free show under ASan/LSan.
 */
START_TEST(test_destroy_with_orphans_and_time_wait_frees_everything)
{
	struct socket *l, *c, *n, *c2, *c3, *n3;
	struct sockaddr_in to = sin_of(IP_B, 7000);

	p_setup();
	l = p_listener(7000, 8);
	/* A TIME_WAIT on A. */
	p_connect(l, 7000, &c, &n);
	nstack_close(c);
	p_settle(P.now + 1000000);
	nstack_close(n);
	p_settle(P.now + 1000000);
	/* An orphan in FIN_WAIT1 with unacknowledged data on A: B is gone below. */
	p_connect(l, 7000, &c3, &n3);
	/* A child nobody accepted. */
	c2 = p_socket(P.a);
	ck_assert_int_eq(nstack_connect(c2, (struct sockaddr *)&to, sizeof(to)), -EINPROGRESS);
	p_settle(P.now + 1000000);
	nstack_close(l);
	nstack_close(c2);
	nstack_close(n3);
	ck_assert_int_eq(p_send(c3, "pending", 7, 0), 7);
	nstack_close(c3);
	ck_assert_int_gt(nstack_live_socks(P.a), 0);
	nstack_destroy(P.a);
	nstack_destroy(P.b);
	wire_destroy(P.w);
	P.a = P.b = NULL;
}
END_TEST

static Suite *tcp_suite(void)
{
	Suite *s = suite_create("tcp");
	TCase *tc = tcase_create("pair");
	TCase *bulk = tcase_create("bulk");

	tcase_add_checked_fixture(tc, p_setup, p_teardown);
	tcase_add_test(tc, test_closed_connect_accept_established_both_ends);
	tcase_add_test(tc, test_closed_new_tcp_config_applies_to_next_connection);
	tcase_add_test(tc, test_established_tcp_inq_cmsg_counts_bytes_left);
	tcase_add_test(tc, test_established_msg_eor_keeps_records_apart);
	tcase_add_test(tc, test_established_msg_zerocopy_completions);
	tcase_add_test(tc, test_closed_inet6_dual_stack_tcp_v4_mapped);
	tcase_add_test(tc, test_closed_inet6_dual_stack_udp_v4_mapped);
	tcase_add_test(tc, test_established_so_timestamping_tx_sched_snd_ack);
	tcase_add_test(tc, test_established_notsent_lowat_sysctl_limits_unsent_bytes);
	tcase_add_test(tc, test_established_data_both_ways_arrives_in_order);
	tcase_add_test(tc, test_established_shutdown_wr_half_close_peer_still_sends);
	tcase_add_test(tc, test_closed_port_connect_refused);
	tcase_add_test(tc, test_established_zero_linger_close_resets_peer);
	tcase_add_test(tc, test_established_interface_deleted_enetdown);
	tcase_add_test(tc, test_sockopts_tcp_level_values);
	tcase_add_test(tc, test_listen_backlog_full_second_connect_waits);
	tcase_add_test(tc, test_established_receiver_not_reading_window_closes_then_reopens);
	tcase_add_test(tc, test_established_msg_waitall_peek_and_readv);
	tcase_add_test(tc, test_bound_port_in_use_eaddrinuse_and_reuseaddr_rules);
	tcase_add_test(tc, test_established_notsent_lowat_gates_pollout_and_send);
	suite_add_tcase(s, tc);
	{
		TCase *td = tcase_create("teardown");

		tcase_add_test(td, test_destroy_with_orphans_and_time_wait_frees_everything);
		tcase_add_test(td, test_time_wait_past_max_tw_buckets_closes_at_once);
		suite_add_tcase(s, td);
	}
	tcase_set_timeout(bulk, 300);
	tcase_add_test(bulk, test_established_bulk_clean_link_byte_exact);
	tcase_add_test(bulk, test_established_bulk_lossy_link_byte_exact);
	tcase_add_test(bulk, test_established_bulk_link_refusing_sends_byte_exact);
	tcase_add_test(bulk, test_established_bulk_offloads_lossy_link_byte_exact);
	tcase_add_test(bulk, test_established_bulk_offloads_clean_link_byte_exact);
	tcase_add_test(bulk, test_established_bulk_superframes_sent_late_from_skbs_byte_exact);
	tcase_add_test(bulk, test_established_bulk_frames_pushed_after_unlock_byte_exact);
	suite_add_tcase(s, bulk);
	return s;
}

NSTACK_SUITE(tcp_suite)
