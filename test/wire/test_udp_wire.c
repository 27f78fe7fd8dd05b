/*
 * Packet-level UDP tests: exact frames sent, datagrams received through
 * recvmsg() with addresses and control messages, the input checks and
 * their counters, the demux, ICMP errors turned into socket errors.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "check_main.h"
#include "checksum.h"
#include "harness.h"
#include "sock.h"
#include "stack.h"
#include "proto/arp.h"
#include "proto/ether.h"
#include "proto/icmp.h"
#include "proto/ip.h"
#include "proto/udp.h"

static unsigned char frame[T_FRAME_MAX];
static unsigned char want[T_FRAME_MAX];
static unsigned char ipb[T_FRAME_MAX];
static unsigned char l4[T_FRAME_MAX];

static struct socket *udp_bound(uint16_t port)
{
	struct socket *s = t_socket(SOCK_DGRAM, 0);
	struct sockaddr_in sin = t_sin(htonl(INADDR_ANY), port);

	ck_assert_int_eq(nstack_bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return s;
}

/* A socket bound to port with SO_REUSEADDR, so that several can share it. */
static struct socket *udp_bound_reuse(uint16_t port)
{
	struct socket *s = t_socket(SOCK_DGRAM, 0);
	struct sockaddr_in sin = t_sin(htonl(INADDR_ANY), port);
	int on = 1;

	ck_assert_int_eq(nstack_setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)), 0);
	ck_assert_int_eq(nstack_bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return s;
}

static void udp_connect(struct socket *s, uint32_t addr, uint16_t port)
{
	struct sockaddr_in sin = t_sin(addr, port);

	ck_assert_int_eq(nstack_connect(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
}

/* Sends "hi" to addr:port (0, 0: the connected peer) and takes the frame into sent[128]. */
static void send_hi_capture(struct socket *s, uint32_t addr, uint16_t port, unsigned char *sent)
{
	ck_assert_int_eq(t_send_to(s, "hi", 2, addr, port), 2);
	t_recv(sent, 128);
}

struct rx {
	ssize_t n;
	char data[2048];
	struct sockaddr_in from;
	socklen_t fromlen;
	_Alignas(struct cmsghdr) unsigned char ctl[512];
	size_t ctllen;
	int flags;
};

static void recv_msg(struct socket *s, struct rx *r, size_t cap, int flags)
{
	struct iovec iov = {r->data, cap};
	struct msghdr m = {.msg_name = &r->from,
			   .msg_namelen = sizeof(r->from),
			   .msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = r->ctl,
			   .msg_controllen = sizeof(r->ctl)};

	memset(r->data, 0, sizeof(r->data));
	r->n = nstack_recvmsg(s, &m, flags | MSG_DONTWAIT);
	r->fromlen = m.msg_namelen;
	r->ctllen = m.msg_controllen;
	r->flags = m.msg_flags;
}

static struct cmsghdr *find_cmsg(struct rx *r, int level, int type)
{
	struct msghdr m = {.msg_control = r->ctl, .msg_controllen = r->ctllen};
	struct cmsghdr *c;

	for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == level && c->cmsg_type == type)
			return c;
	return NULL;
}

/* The frame the stack sends for a datagram from local:sport to peer:dport. */
static size_t want_udp_frame(uint16_t sport, uint16_t dport, const void *payload, size_t plen,
			     uint16_t ip_id, uint16_t frag_off, uint8_t ttl)
{
	size_t n = t_build_udp(l4, T_LOCAL_IP, T_PEER_IP, sport, dport, payload, plen);

	n = t_build_ipv4(ipb, T_LOCAL_IP, T_PEER_IP, IPPROTO_UDP, ip_id, frag_off, ttl, l4, n);
	return t_build_eth(want, t_peer_mac, t_local_mac, ETH_P_IP, ipb, n);
}

/* A datagram from peer:sport to local:dport as a frame in `frame`. */
static size_t peer_udp(uint16_t sport, uint16_t dport, const void *payload, size_t plen)
{
	size_t n = t_build_udp(l4, T_PEER_IP, T_LOCAL_IP, sport, dport, payload, plen);

	return t_build_peer_ip(frame, IPPROTO_UDP, 0x1111, l4, n);
}

/* A datagram from peer:sport to 255.255.255.255:dport, Ethernet broadcast, IP ID id. */
static size_t peer_udp_bcast(uint16_t sport, uint16_t dport, const void *payload, size_t plen,
			     uint16_t id)
{
	size_t n = t_build_udp(l4, T_PEER_IP, htonl(INADDR_BROADCAST), sport, dport, payload, plen);

	n = t_build_ipv4(ipb, T_PEER_IP, htonl(INADDR_BROADCAST), IPPROTO_UDP, id, 0, 64, l4, n);
	return t_build_eth(frame, t_bcast_mac, t_peer_mac, ETH_P_IP, ipb, n);
}

static uint16_t frame_ip_id(const unsigned char *f)
{
	const struct iphdr *iph = (const struct iphdr *)(f + ETH_HLEN);

	return ntohs(iph->id);
}

/*
 * The ICMP error the peer sends about the IP packet in sent (a frame the
 * stack transmitted).
 */
static size_t peer_icmp_error(const unsigned char *sent, uint8_t type, uint8_t code)
{
	/* Quote the whole packet, as Linux does for short ones. */
	return t_build_peer_icmp_error(frame, sent, type, code, 0, 0x2222);
}

START_TEST(test_bound_sendto_exact_frame)
{
	struct socket *s = udp_bound(5000);
	size_t n;

	ck_assert_int_eq(t_send_to(s, "hello", 5, T_PEER_IP, 7), 5);
	/* Linux: an unconnected socket's DF datagram carries IP ID 0. */
	n = want_udp_frame(5000, 7, "hello", 5, 0, IP_DF, 64);
	t_expect_frame(want, n);
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("UdpOutDatagrams"), 1);
	nstack_close(s);
}
END_TEST

START_TEST(test_bound_sendto_with_ttl_and_tos_options)
{
	struct socket *s = udp_bound(5000);
	int ttl = 9, tos = 0x10;
	size_t n, got;

	ck_assert_int_eq(nstack_setsockopt(s, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl)), 0);
	ck_assert_int_eq(nstack_setsockopt(s, IPPROTO_IP, IP_TOS, &tos, sizeof(tos)), 0);
	ck_assert_int_eq(t_send_to(s, "ab", 2, T_PEER_IP, 7), 2);
	n = want_udp_frame(5000, 7, "ab", 2, 0, IP_DF, 9);
	((struct iphdr *)(want + ETH_HLEN))->tos = 0x10;
	((struct iphdr *)(want + ETH_HLEN))->check = 0;
	((struct iphdr *)(want + ETH_HLEN))->check = ip_fast_csum(want + ETH_HLEN, 5);
	got = t_recv(frame, sizeof(frame));
	ck_assert_uint_eq(got, n);
	ck_assert_int_eq(memcmp(frame, want, n), 0);
	nstack_close(s);
}
END_TEST

START_TEST(test_connected_send_ip_id_from_socket_counter)
{
	struct socket *s = udp_bound(5000);
	uint16_t id;
	size_t n;

	udp_connect(s, T_PEER_IP, 53);
	ck_assert_int_eq(t_send_to(s, "q1", 2, 0, 0), 2);
	n = t_recv(frame, sizeof(frame));
	id = frame_ip_id(frame);
	ck_assert_uint_eq(n, want_udp_frame(5000, 53, "q1", 2, id, IP_DF, 64));
	ck_assert_int_eq(memcmp(frame, want, n), 0);
	ck_assert_int_eq(t_send_to(s, "q2", 2, 0, 0), 2);
	n = want_udp_frame(5000, 53, "q2", 2, (uint16_t)(id + 1), IP_DF, 64);
	t_expect_frame(want, n);
	nstack_close(s);
}
END_TEST

START_TEST(test_checksum_zero_goes_out_as_ffff)
{
	struct socket *s = udp_bound(5000);
	unsigned char payload[2];
	const struct udphdr *uh;
	uint32_t x;

	/* Find a payload whose checksum computes to 0 (RFC 768: send all ones). */
	for (x = 0; x < 65536; x++) {
		unsigned char d[UDP_HLEN + 2];
		struct udphdr *h = (struct udphdr *)d;

		h->source = htons(5000);
		h->dest = htons(7);
		h->len = htons(sizeof(d));
		h->check = 0;
		d[8] = (unsigned char)(x >> 8);
		d[9] = (unsigned char)x;
		if (csum_tcpudp_magic(T_LOCAL_IP, T_PEER_IP, sizeof(d), IPPROTO_UDP,
				      csum_partial(d, sizeof(d), 0)) == 0)
			break;
	}
	ck_assert_uint_lt(x, 65536);
	payload[0] = (unsigned char)(x >> 8);
	payload[1] = (unsigned char)x;
	ck_assert_int_eq(t_send_to(s, payload, 2, T_PEER_IP, 7), 2);
	t_recv(frame, sizeof(frame));
	uh = (const struct udphdr *)(frame + ETH_HLEN + IP_HLEN_MIN);
	ck_assert_uint_eq(uh->check, 0xffff);
	nstack_close(s);
}
END_TEST

START_TEST(test_bound_datagram_in_recvmsg_payload_and_source)
{
	struct socket *s = udp_bound(5000);
	struct rx r;

	t_inject(frame, peer_udp(4321, 5000, "ping!", 5));
	t_expect_no_tx();
	ck_assert_uint_eq(nstack_poll(s) & POLLIN, POLLIN);
	{
		int n = -1;

		ck_assert_int_eq(nstack_ioctl(s, FIONREAD, &n), 0);
		ck_assert_int_eq(n, 5);
	}
	ck_assert_uint_eq(t_stat("UdpInDatagrams"), 0);
	recv_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, 5);
	ck_assert_mem_eq(r.data, "ping!", 5);
	ck_assert_uint_eq(r.fromlen, sizeof(struct sockaddr_in));
	ck_assert_int_eq(r.from.sin_family, AF_INET);
	ck_assert_int_eq(r.from.sin_addr.s_addr, T_PEER_IP);
	ck_assert_int_eq(ntohs(r.from.sin_port), 4321);
	ck_assert_int_eq(r.ctllen, 0);
	/* Linux counts InDatagrams when the application reads. */
	ck_assert_uint_eq(t_stat("UdpInDatagrams"), 1);
	ck_assert_uint_eq(nstack_poll(s) & POLLIN, 0);
	recv_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, -EAGAIN);
	nstack_close(s);
}
END_TEST

START_TEST(test_datagram_peek_then_trunc)
{
	struct socket *s = udp_bound(5000);
	struct rx r;

	t_inject(frame, peer_udp(4321, 5000, "0123456789", 10));
	recv_msg(s, &r, 4, MSG_PEEK);
	ck_assert_int_eq(r.n, 4);
	ck_assert(r.flags & MSG_TRUNC);
	ck_assert_mem_eq(r.data, "0123", 4);
	/* MSG_TRUNC asks for the real length of the datagram. */
	recv_msg(s, &r, 4, MSG_TRUNC);
	ck_assert_int_eq(r.n, 10);
	ck_assert(r.flags & MSG_TRUNC);
	ck_assert_mem_eq(r.data, "0123", 4);
	recv_msg(s, &r, 4, 0);
	ck_assert_int_eq(r.n, -EAGAIN);
	ck_assert_uint_eq(t_stat("UdpInDatagrams"), 1);
	nstack_close(s);
}
END_TEST

START_TEST(test_datagram_in_control_messages)
{
	struct socket *s = udp_bound(5000);
	int on = 1;
	struct cmsghdr *c;
	struct in_pktinfo pi;
	struct rx r;
	int ttl;

	ck_assert_int_eq(nstack_setsockopt(s, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on)), 0);
	ck_assert_int_eq(nstack_setsockopt(s, IPPROTO_IP, IP_RECVTTL, &on, sizeof(on)), 0);
	ck_assert_int_eq(nstack_setsockopt(s, IPPROTO_IP, IP_RECVTOS, &on, sizeof(on)), 0);
	ck_assert_int_eq(nstack_setsockopt(s, SOL_SOCKET, SO_TIMESTAMP, &on, sizeof(on)), 0);
	t_inject(frame, peer_udp(4321, 5000, "x", 1));
	recv_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, 1);
	c = find_cmsg(&r, IPPROTO_IP, IP_PKTINFO);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->cmsg_len, CMSG_LEN(sizeof(pi)));
	memcpy(&pi, CMSG_DATA(c), sizeof(pi));
	ck_assert_int_eq(pi.ipi_addr.s_addr, T_LOCAL_IP);
	ck_assert_int_eq(pi.ipi_spec_dst.s_addr, T_LOCAL_IP);
	ck_assert_int_ne(pi.ipi_ifindex, 0);
	c = find_cmsg(&r, IPPROTO_IP, IP_TTL);
	ck_assert_ptr_nonnull(c);
	memcpy(&ttl, CMSG_DATA(c), sizeof(ttl));
	ck_assert_int_eq(ttl, 64);
	c = find_cmsg(&r, IPPROTO_IP, IP_TOS);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->cmsg_len, CMSG_LEN(1));
	ck_assert_int_eq(*CMSG_DATA(c), 0);
	ck_assert_ptr_nonnull(find_cmsg(&r, SOL_SOCKET, SO_TIMESTAMP));
	nstack_close(s);
}
END_TEST

START_TEST(test_closed_port_icmp_port_unreachable_frame)
{
	unsigned char icmp[ICMP_HLEN + IP_HLEN_MIN + UDP_HLEN + 4];
	struct icmphdr *ih = (struct icmphdr *)icmp;
	size_t in, n, got;
	const struct iphdr *giph;

	in = peer_udp(4321, 9999, "data", 4);
	t_inject(frame, in);
	/* The error quotes the whole (short) datagram (RFC 1812 4.3.2.3, as Linux). */
	memset(icmp, 0, sizeof(icmp));
	ih->type = ICMP_DEST_UNREACH;
	ih->code = ICMP_PORT_UNREACH;
	memcpy(icmp + ICMP_HLEN, frame + ETH_HLEN, IP_HLEN_MIN + UDP_HLEN + 4);
	ih->checksum = csum_fold(csum_partial(icmp, sizeof(icmp), 0));
	got = t_recv(frame, sizeof(frame));
	giph = (const struct iphdr *)(frame + ETH_HLEN);
	n = t_build_ipv4(ipb, T_LOCAL_IP, T_PEER_IP, IPPROTO_ICMP, ntohs(giph->id), 0, 64, icmp,
			 sizeof(icmp));
	((struct iphdr *)ipb)->tos = 0xc0;
	((struct iphdr *)ipb)->check = 0;
	((struct iphdr *)ipb)->check = ip_fast_csum(ipb, 5);
	n = t_build_eth(want, t_peer_mac, t_local_mac, ETH_P_IP, ipb, n);
	if (got != n || memcmp(frame, want, n) != 0) {
		t_hexdump("expected", want, n);
		t_hexdump("got", frame, got);
		ck_abort_msg("ICMP port unreachable mismatch");
	}
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("UdpNoPorts"), 1);
	ck_assert_uint_eq(t_stat("UdpInErrors"), 0);
}
END_TEST

START_TEST(test_connected_port_unreachable_econnrefused_on_next_recv)
{
	struct socket *s = udp_bound(5000);
	unsigned char sent[128];
	struct rx r;

	udp_connect(s, T_PEER_IP, 7);
	send_hi_capture(s, 0, 0, sent);
	t_inject(frame, peer_icmp_error(sent, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH));
	ck_assert_uint_eq(nstack_poll(s) & POLLERR, POLLERR);
	recv_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, -ECONNREFUSED);
	/* Reported once. */
	recv_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, -EAGAIN);
	ck_assert_uint_eq(nstack_poll(s) & POLLERR, 0);
	nstack_close(s);
}
END_TEST

START_TEST(test_connected_port_unreachable_econnrefused_on_next_send)
{
	struct socket *s = udp_bound(5000);
	unsigned char sent[128];

	udp_connect(s, T_PEER_IP, 7);
	send_hi_capture(s, 0, 0, sent);
	t_inject(frame, peer_icmp_error(sent, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH));
	ck_assert_int_eq(t_send_to(s, "hi", 2, 0, 0), -ECONNREFUSED);
	t_expect_no_tx();
	send_hi_capture(s, 0, 0, sent);
	nstack_close(s);
}
END_TEST

START_TEST(test_connected_port_unreachable_so_error_once)
{
	struct socket *s = udp_bound(5000);
	unsigned char sent[128];
	int v = -1;
	socklen_t len = sizeof(v);

	udp_connect(s, T_PEER_IP, 7);
	send_hi_capture(s, 0, 0, sent);
	t_inject(frame, peer_icmp_error(sent, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH));
	ck_assert_int_eq(nstack_getsockopt(s, SOL_SOCKET, SO_ERROR, &v, &len), 0);
	ck_assert_int_eq(v, ECONNREFUSED);
	ck_assert_int_eq(nstack_getsockopt(s, SOL_SOCKET, SO_ERROR, &v, &len), 0);
	ck_assert_int_eq(v, 0);
	nstack_close(s);
}
END_TEST

START_TEST(test_connected_host_unreachable_soft_filtered_hard)
{
	struct socket *s = udp_bound(5000);
	unsigned char sent[128];
	struct rx r;

	udp_connect(s, T_PEER_IP, 7);
	send_hi_capture(s, 0, 0, sent);
	/* Host unreachable is a soft error (Linux's icmp_err_convert): not reported. */
	t_inject(frame, peer_icmp_error(sent, ICMP_DEST_UNREACH, ICMP_HOST_UNREACH));
	recv_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, -EAGAIN);
	/* Communication administratively prohibited (code 13) is hard. */
	t_inject(frame, peer_icmp_error(sent, ICMP_DEST_UNREACH, 13));
	recv_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, -EHOSTUNREACH);
	nstack_close(s);
}
END_TEST

START_TEST(test_unconnected_port_unreachable_not_reported)
{
	struct socket *s = udp_bound(5000);
	unsigned char sent[128];
	struct rx r;

	send_hi_capture(s, T_PEER_IP, 7, sent);
	t_inject(frame, peer_icmp_error(sent, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH));
	recv_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, -EAGAIN);
	ck_assert_uint_eq(nstack_poll(s) & POLLERR, 0);
	nstack_close(s);
}
END_TEST

START_TEST(test_recverr_port_unreachable_error_queue_entry)
{
	struct socket *s = udp_bound(5000);
	unsigned char sent[128];
	struct sock_extended_err ee;
	struct sockaddr_in off;
	struct cmsghdr *c;
	struct rx r;
	int on = 1;

	ck_assert_int_eq(nstack_setsockopt(s, IPPROTO_IP, IP_RECVERR, &on, sizeof(on)), 0);
	send_hi_capture(s, T_PEER_IP, 7, sent);
	t_inject(frame, peer_icmp_error(sent, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH));
	ck_assert_uint_eq(nstack_poll(s) & POLLERR, POLLERR);
	recv_msg(s, &r, sizeof(r.data), MSG_ERRQUEUE);
	/* The data is the quoted payload of our datagram. */
	ck_assert_int_eq(r.n, 2);
	ck_assert_mem_eq(r.data, "hi", 2);
	ck_assert(r.flags & MSG_ERRQUEUE);
	ck_assert_int_eq(r.from.sin_addr.s_addr, T_PEER_IP);
	ck_assert_int_eq(ntohs(r.from.sin_port), 7);
	c = find_cmsg(&r, IPPROTO_IP, IP_RECVERR);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->cmsg_len, CMSG_LEN(sizeof(ee) + sizeof(off)));
	memcpy(&ee, CMSG_DATA(c), sizeof(ee));
	memcpy(&off, CMSG_DATA(c) + sizeof(ee), sizeof(off));
	ck_assert_uint_eq(ee.ee_errno, ECONNREFUSED);
	ck_assert_uint_eq(ee.ee_origin, SO_EE_ORIGIN_ICMP);
	ck_assert_uint_eq(ee.ee_type, ICMP_DEST_UNREACH);
	ck_assert_uint_eq(ee.ee_code, ICMP_PORT_UNREACH);
	ck_assert_int_eq(off.sin_family, AF_INET);
	ck_assert_int_eq(off.sin_addr.s_addr, T_PEER_IP);
	/* Reading the queue cleared the pending error. */
	ck_assert_uint_eq(nstack_poll(s) & POLLERR, 0);
	recv_msg(s, &r, sizeof(r.data), MSG_ERRQUEUE);
	ck_assert_int_eq(r.n, -EAGAIN);
	recv_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, -EAGAIN);
	nstack_close(s);
}
END_TEST

START_TEST(test_bad_checksum_dropped_counted)
{
	struct socket *s = udp_bound(5000);
	struct udphdr *uh;
	size_t n;
	struct rx r;

	n = t_build_udp(l4, T_PEER_IP, T_LOCAL_IP, 4321, 5000, "data", 4);
	uh = (struct udphdr *)l4;
	uh->check ^= htons(0x0100);
	n = t_build_peer_ip(frame, IPPROTO_UDP, 1, l4, n);
	t_inject(frame, n);
	t_expect_no_tx();
	recv_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, -EAGAIN);
	ck_assert_uint_eq(t_stat("UdpInCsumErrors"), 1);
	ck_assert_uint_eq(t_stat("UdpInErrors"), 1);
	nstack_close(s);
}
END_TEST

START_TEST(test_bad_checksum_closed_port_no_icmp)
{
	struct udphdr *uh;
	size_t n;

	n = t_build_udp(l4, T_PEER_IP, T_LOCAL_IP, 4321, 9999, "data", 4);
	uh = (struct udphdr *)l4;
	uh->check ^= htons(0x0100);
	t_inject(frame, t_build_peer_ip(frame, IPPROTO_UDP, 1, l4, n));
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("UdpInCsumErrors"), 1);
	ck_assert_uint_eq(t_stat("UdpNoPorts"), 0);
}
END_TEST

START_TEST(test_truncated_header_dropped_counted)
{
	unsigned char half[4] = {0x10, 0xe1, 0x13, 0x88};

	t_inject(frame, t_build_peer_ip(frame, IPPROTO_UDP, 1, half, sizeof(half)));
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("UdpInErrors"), 1);
	ck_assert_uint_eq(t_stat("UdpNoPorts"), 0);
}
END_TEST

START_TEST(test_length_field_over_payload_dropped_counted)
{
	struct socket *s = udp_bound(5000);
	struct udphdr *uh;
	size_t n;
	struct rx r;

	n = t_build_udp(l4, T_PEER_IP, T_LOCAL_IP, 4321, 5000, "data", 4);
	uh = (struct udphdr *)l4;
	uh->len = htons(13);
	t_inject(frame, t_build_peer_ip(frame, IPPROTO_UDP, 1, l4, n));
	/* Shorter than the header itself; no checksum, so only the length check can catch it. */
	uh->len = htons(7);
	uh->check = 0;
	t_inject(frame, t_build_peer_ip(frame, IPPROTO_UDP, 2, l4, n));
	t_expect_no_tx();
	recv_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, -EAGAIN);
	ck_assert_uint_eq(t_stat("UdpInErrors"), 2);
	ck_assert_uint_eq(t_stat("UdpInCsumErrors"), 0);
	nstack_close(s);
}
END_TEST

START_TEST(test_length_field_under_payload_trimmed)
{
	struct socket *s = udp_bound(5000);
	size_t n;
	struct rx r;

	/* A 4-byte datagram followed by 3 bytes of IP payload padding. */
	n = t_build_udp(l4, T_PEER_IP, T_LOCAL_IP, 4321, 5000, "data", 4);
	memcpy(l4 + n, "PAD", 3);
	t_inject(frame, t_build_peer_ip(frame, IPPROTO_UDP, 1, l4, n + 3));
	recv_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, 4);
	ck_assert_mem_eq(r.data, "data", 4);
	ck_assert_uint_eq(t_stat("UdpInErrors"), 0);
	nstack_close(s);
}
END_TEST

START_TEST(test_zero_checksum_accepted)
{
	struct socket *s = udp_bound(5000);
	size_t n;
	struct rx r;

	n = t_build_udp(l4, T_PEER_IP, T_LOCAL_IP, 4321, 5000, "nock", 4);
	((struct udphdr *)l4)->check = 0;
	t_inject(frame, t_build_peer_ip(frame, IPPROTO_UDP, 1, l4, n));
	recv_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, 4);
	ck_assert_uint_eq(t_stat("UdpInCsumErrors"), 0);
	nstack_close(s);
}
END_TEST

START_TEST(test_broadcast_send_needs_so_broadcast)
{
	struct socket *s = udp_bound(5000);
	int on = 1;
	size_t n;
	const struct iphdr *iph;

	ck_assert_int_eq(t_send_to(s, "b", 1, htonl(INADDR_BROADCAST), 67), -EACCES);
	ck_assert_int_eq(t_send_to(s, "b", 1, T_IP(198, 18, 0, 255), 67), -EACCES);
	t_expect_no_tx();
	ck_assert_int_eq(nstack_setsockopt(s, SOL_SOCKET, SO_BROADCAST, &on, sizeof(on)), 0);
	ck_assert_int_eq(t_send_to(s, "b", 1, htonl(INADDR_BROADCAST), 67), 1);
	n = t_recv(frame, sizeof(frame));
	ck_assert_uint_ge(n, ETH_HLEN + IP_HLEN_MIN + UDP_HLEN + 1);
	ck_assert_mem_eq(frame, t_bcast_mac, 6);
	iph = (const struct iphdr *)(frame + ETH_HLEN);
	ck_assert_int_eq(iph->daddr, htonl(INADDR_BROADCAST));
	ck_assert_int_eq(iph->saddr, T_LOCAL_IP);
	nstack_close(s);
}
END_TEST

START_TEST(test_broadcast_in_delivered_to_every_socket)
{
	struct socket *a = udp_bound_reuse(5000), *b = udp_bound_reuse(5000), *c = udp_bound(5001);
	struct rx r;

	t_inject(frame, peer_udp_bcast(68, 5000, "all", 3, 1));
	recv_msg(a, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, 3);
	recv_msg(b, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, 3);
	recv_msg(c, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, -EAGAIN);
	/* Nobody on the port: dropped quietly, no ICMP about a broadcast. */
	t_inject(frame, peer_udp_bcast(68, 5999, "all", 3, 2));
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("UdpNoPorts"), 0);
	ck_assert_uint_eq(t_stat("UdpIgnoredMulti"), 1);
	nstack_close(a);
	nstack_close(b);
	nstack_close(c);
}
END_TEST

START_TEST(test_demux_connected_socket_preferred)
{
	struct socket *wild = udp_bound_reuse(5000), *conn = udp_bound_reuse(5000);
	struct rx r;

	udp_connect(conn, T_PEER_IP, 7);
	t_inject(frame, peer_udp(7, 5000, "c", 1));
	t_inject(frame, peer_udp(8, 5000, "w", 1));
	recv_msg(conn, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, 1);
	ck_assert_int_eq(r.data[0], 'c');
	recv_msg(conn, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, -EAGAIN);
	recv_msg(wild, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, 1);
	ck_assert_int_eq(r.data[0], 'w');
	nstack_close(wild);
	nstack_close(conn);
}
END_TEST

START_TEST(test_full_rcvbuf_drops_counted)
{
	struct socket *s = udp_bound(5000);
	int small = 1, queued = 0;
	struct rx r;

	/* The minimum buffer (2304 bytes) holds only a few small datagrams. */
	ck_assert_int_eq(nstack_setsockopt(s, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	for (int i = 0; i < 20; i++)
		t_inject(frame, peer_udp(4321, 5000, "0123456789", 10));
	for (;;) {
		recv_msg(s, &r, sizeof(r.data), 0);
		if (r.n < 0)
			break;
		queued++;
	}
	ck_assert_int_ge(queued, 1);
	ck_assert_int_lt(queued, 20);
	ck_assert_uint_eq(t_stat("UdpRcvbufErrors"), (uint64_t)(20 - queued));
	ck_assert_uint_eq(t_stat("UdpInErrors"), (uint64_t)(20 - queued));
	/* Reading gave the space back. */
	ck_assert_uint_eq(s->sk->sk_rmem_alloc, 0);
	t_inject(frame, peer_udp(4321, 5000, "0123456789", 10));
	recv_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, 10);
	nstack_close(s);
}
END_TEST

START_TEST(test_pktinfo_source_on_send)
{
	struct socket *s = udp_bound(5000);
	unsigned char ctl[CMSG_SPACE(sizeof(struct in_pktinfo))];
	struct sockaddr_in to = t_sin(T_PEER_IP, 7);
	struct iovec iov = {"z", 1};
	struct msghdr m = {.msg_name = &to,
			   .msg_namelen = sizeof(to),
			   .msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = ctl,
			   .msg_controllen = sizeof(ctl)};
	struct cmsghdr *c = (struct cmsghdr *)ctl;
	struct in_pktinfo pi = {0};
	size_t n;

	memset(ctl, 0, sizeof(ctl));
	c->cmsg_level = IPPROTO_IP;
	c->cmsg_type = IP_PKTINFO;
	c->cmsg_len = CMSG_LEN(sizeof(pi));
	pi.ipi_spec_dst.s_addr = T_LOCAL_IP;
	memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	ck_assert_int_eq(nstack_sendmsg(s, &m, 0), 1);
	n = want_udp_frame(5000, 7, "z", 1, 0, IP_DF, 64);
	t_expect_frame(want, n);
	/* A malformed control message is refused. */
	c->cmsg_len = CMSG_LEN(3);
	ck_assert_int_eq(nstack_sendmsg(s, &m, 0), -EINVAL);
	t_expect_no_tx();
	nstack_close(s);
}
END_TEST

struct reader {
	struct socket *s;
	ssize_t n;
	char buf[16];
};

static void *blocking_reader(void *arg)
{
	struct reader *rd = arg;
	struct iovec iov = {rd->buf, sizeof(rd->buf)};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};

	rd->n = nstack_recvmsg(rd->s, &m, 0);
	return NULL;
}

/*
 * Starts a thread blocked in recvmsg() on s and gives it time to block. The
 * 5 s SO_RCVTIMEO only bounds a broken test.
 */
static void start_blocked_reader(struct socket *s, struct reader *rd, pthread_t *th)
{
	struct timeval tv = {5, 0};
	struct timespec nap = {0, 30 * 1000 * 1000};

	rd->s = s;
	rd->n = -999;
	ck_assert_int_eq(nstack_setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	ck_assert_int_eq(pthread_create(th, NULL, blocking_reader, rd), 0);
	nanosleep(&nap, NULL);
}

START_TEST(test_blocked_reader_woken_by_datagram)
{
	struct socket *s = udp_bound(5000);
	struct reader rd;
	pthread_t th;

	start_blocked_reader(s, &rd, &th);
	t_inject(frame, peer_udp(4321, 5000, "wake", 4));
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_int_eq(rd.n, 4);
	ck_assert_mem_eq(rd.buf, "wake", 4);
	nstack_close(s);
}
END_TEST

static int events;
static struct socket *event_sock;

static void count_event(void *ctx, struct socket *sock)
{
	(void)ctx;
	if (sock == event_sock)
		events++;
}

START_TEST(test_data_and_error_call_sock_event_hook)
{
	struct socket *s = udp_bound(5000);
	unsigned char sent[128];

	events = 0;
	event_sock = s;
	ns_local(T.ns)->hooks.sock_event = count_event;
	t_inject(frame, peer_udp(4321, 5000, "e", 1));
	ck_assert_int_eq(events, 1);
	udp_connect(s, T_PEER_IP, 7);
	send_hi_capture(s, 0, 0, sent);
	events = 0;
	t_inject(frame, peer_icmp_error(sent, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH));
	ck_assert_int_eq(events, 1);
	ns_local(T.ns)->hooks.sock_event = NULL;
	nstack_close(s);
}
END_TEST

START_TEST(test_send_to_own_address_looped_back)
{
	struct socket *a = udp_bound(5000), *b = udp_bound(5001);
	struct rx r;

	ck_assert_int_eq(t_send_to(b, "loop", 4, T_LOCAL_IP, 5000), 4);
	nstack_process(T.ns);
	t_expect_no_tx();
	recv_msg(a, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, 4);
	ck_assert_mem_eq(r.data, "loop", 4);
	ck_assert_int_eq(r.from.sin_addr.s_addr, T_LOCAL_IP);
	ck_assert_int_eq(ntohs(r.from.sin_port), 5001);
	nstack_close(a);
	nstack_close(b);
}
END_TEST

START_TEST(test_corked_sends_collected_into_one_datagram)
{
	struct socket *s = udp_bound(5000);
	int on = 1, off = 0;
	size_t n;

	ck_assert_int_eq(nstack_setsockopt(s, IPPROTO_UDP, 1 /* UDP_CORK */, &on, sizeof(on)), 0);
	ck_assert_int_eq(t_send_to(s, "ab", 2, T_PEER_IP, 7), 2);
	/* Later parts go to the first part's destination, whatever they name. */
	ck_assert_int_eq(t_send_to(s, "cd", 2, T_PEER_IP, 9), 2);
	t_expect_no_tx();
	ck_assert_int_eq(nstack_setsockopt(s, IPPROTO_UDP, 1, &off, sizeof(off)), 0);
	n = want_udp_frame(5000, 7, "abcd", 4, 0, IP_DF, 64);
	t_expect_frame(want, n);
	t_expect_no_tx();
	ck_assert_uint_eq(t_stat("UdpOutDatagrams"), 1);
	nstack_close(s);
}
END_TEST

START_TEST(test_msg_more_then_last_part_sends_one_datagram)
{
	struct socket *s = udp_bound(5000);
	static char big[65000];
	size_t n;

	ck_assert_int_eq(t_send_flags(s, "12", 2, T_PEER_IP, 7, MSG_MORE), 2);
	ck_assert_int_eq(t_send_flags(s, "34", 2, 0, 0, MSG_MORE), 2);
	t_expect_no_tx();
	ck_assert_int_eq(t_send_flags(s, "5", 1, 0, 0, 0), 1);
	n = want_udp_frame(5000, 7, "12345", 5, 0, IP_DF, 64);
	t_expect_frame(want, n);
	/* Too much in total: the whole datagram is dropped with EMSGSIZE. */
	ck_assert_int_eq(t_send_flags(s, big, 1000, T_PEER_IP, 7, MSG_MORE), 1000);
	ck_assert_int_eq(t_send_flags(s, big, sizeof(big), 0, 0, 0), -EMSGSIZE);
	t_expect_no_tx();
	ck_assert_int_eq(t_send_flags(s, "x", 1, 0, 0, 0), -EDESTADDRREQ);
	nstack_close(s);
}
END_TEST

START_TEST(test_corked_data_dropped_at_close)
{
	struct socket *s = udp_bound(5000);

	ck_assert_int_eq(t_send_flags(s, "12", 2, T_PEER_IP, 7, MSG_MORE), 2);
	nstack_close(s);
	t_expect_no_tx();
}
END_TEST

START_TEST(test_shutdown_write_then_send_epipe)
{
	struct socket *s = udp_bound(5000);

	udp_connect(s, T_PEER_IP, 7);
	ck_assert_int_eq(nstack_shutdown(s, SHUT_WR), 0);
	ck_assert_int_eq(t_send_to(s, "x", 1, 0, 0), -EPIPE);
	t_expect_no_tx();
	nstack_close(s);
}
END_TEST

START_TEST(test_connect_any_address_means_ourselves)
{
	struct socket *a = udp_bound(5000), *b = t_socket(SOCK_DGRAM, 0);
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);
	struct rx r;

	udp_connect(b, htonl(INADDR_ANY), 5000);
	ck_assert_int_eq(nstack_getpeername(b, (struct sockaddr *)&peer, &len), 0);
	ck_assert_int_eq(peer.sin_addr.s_addr, T_LOCAL_IP);
	ck_assert_int_eq(t_send_to(b, "me", 2, 0, 0), 2);
	nstack_process(T.ns);
	t_expect_no_tx();
	recv_msg(a, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, 2);
	nstack_close(a);
	nstack_close(b);
}
END_TEST

static void setup_no_neigh(void)
{
	struct t_opts o = {.no_peer_neigh = true};

	t_setup_opts(&o);
}

static size_t peer_arp_reply(void)
{
	size_t n = t_build_arp(l4, ARPOP_REPLY, t_peer_mac, T_PEER_IP, t_local_mac, T_LOCAL_IP);

	return t_build_eth(frame, t_local_mac, t_peer_mac, ETH_P_ARP, l4, n);
}

static void drain(void)
{
	size_t n;

	while (t_try_recv(want, sizeof(want), &n))
		;
}

START_TEST(test_unresolved_neighbour_send_buffer_fills_then_drains)
{
	struct socket *s = udp_bound(5000);
	static char payload[1000];
	int small = 1, sent = 0, outq = -1;
	ssize_t rc;

	events = 0;
	event_sock = s;
	ns_local(T.ns)->hooks.sock_event = count_event;
	ck_assert_int_eq(nstack_setsockopt(s, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	nstack_set_nonblock(s, true);
	/* Datagrams wait for ARP and stay charged to the 4608-byte send buffer. */
	for (int i = 0; i < 20; i++) {
		rc = t_send_to(s, payload, sizeof(payload), T_PEER_IP, 7);
		if (rc < 0)
			break;
		sent++;
	}
	ck_assert_int_eq(rc, -EAGAIN);
	ck_assert_int_ge(sent, 2);
	ck_assert_int_lt(sent, 20);
	ck_assert_uint_eq(nstack_poll(s) & POLLOUT, 0);
	ck_assert_int_eq(nstack_ioctl(s, SIOCOUTQ, &outq), 0);
	ck_assert_int_ge(outq, sent * (int)sizeof(payload));
	drain();
	events = 0;
	t_inject(frame, peer_arp_reply());
	/* The held datagrams went out and gave their buffer space back. */
	ck_assert_uint_eq(wire_pending(T.wire, 1), (unsigned int)sent);
	ck_assert_uint_eq(nstack_poll(s) & POLLOUT, POLLOUT);
	ck_assert_int_ge(events, 1);
	ck_assert_int_eq(nstack_ioctl(s, SIOCOUTQ, &outq), 0);
	ck_assert_int_eq(outq, 0);
	drain();
	ns_local(T.ns)->hooks.sock_event = NULL;
	nstack_close(s);
}
END_TEST

START_TEST(test_closed_with_datagrams_waiting_for_arp)
{
	struct socket *s = udp_bound(5000);

	ck_assert_int_eq(t_send_to(s, "late", 4, T_PEER_IP, 7), 4);
	nstack_close(s);
	/* The sock lives on while its datagram waits for the neighbour. */
	ck_assert_int_eq(nstack_live_socks(T.ns), 1);
	drain();
	t_inject(frame, peer_arp_reply());
	ck_assert_uint_eq(wire_pending(T.wire, 1), 1);
	ck_assert_int_eq(nstack_live_socks(T.ns), 0);
	drain();
}
END_TEST

START_TEST(test_timestampns_origdstaddr_and_peername)
{
	struct socket *s = udp_bound(5000);
	struct sockaddr_in dst, pn;
	socklen_t len = sizeof(pn);
	struct cmsghdr *c;
	struct rx r;
	int on = 1;

	ck_assert_int_eq(nstack_setsockopt(s, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on)), 0);
	ck_assert_int_eq(nstack_setsockopt(s, IPPROTO_IP, IP_RECVORIGDSTADDR, &on, sizeof(on)), 0);
	t_inject(frame, peer_udp(4321, 5000, "t", 1));
	recv_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, 1);
	c = find_cmsg(&r, SOL_SOCKET, SO_TIMESTAMPNS);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->cmsg_len, CMSG_LEN(sizeof(struct timespec)));
	ck_assert_ptr_null(find_cmsg(&r, SOL_SOCKET, SO_TIMESTAMP));
	c = find_cmsg(&r, IPPROTO_IP, IP_ORIGDSTADDR);
	ck_assert_ptr_nonnull(c);
	memcpy(&dst, CMSG_DATA(c), sizeof(dst));
	ck_assert_int_eq(dst.sin_addr.s_addr, T_LOCAL_IP);
	ck_assert_int_eq(ntohs(dst.sin_port), 5000);
	ck_assert_int_eq(nstack_getsockopt(s, SOL_SOCKET, SO_PEERNAME, &pn, &len), -ENOTCONN);
	udp_connect(s, T_PEER_IP, 7);
	len = sizeof(pn);
	ck_assert_int_eq(nstack_getsockopt(s, SOL_SOCKET, SO_PEERNAME, &pn, &len), 0);
	ck_assert_int_eq(pn.sin_addr.s_addr, T_PEER_IP);
	ck_assert_int_eq(ntohs(pn.sin_port), 7);
	nstack_close(s);
}
END_TEST

START_TEST(test_small_control_buffer_ctrunc)
{
	struct socket *s = udp_bound(5000);
	int on = 1;
	_Alignas(struct cmsghdr) unsigned char ctl[CMSG_SPACE(sizeof(int))];
	char buf[8];
	struct iovec iov = {buf, sizeof(buf)};
	struct msghdr m = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)};

	ck_assert_int_eq(nstack_setsockopt(s, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on)), 0);
	ck_assert_int_eq(nstack_setsockopt(s, IPPROTO_IP, IP_RECVTTL, &on, sizeof(on)), 0);
	t_inject(frame, peer_udp(4321, 5000, "t", 1));
	ck_assert_int_eq(nstack_recvmsg(s, &m, MSG_DONTWAIT), 1);
	/* in_pktinfo does not fit: cut, flagged, and nothing else fits after it. */
	ck_assert(m.msg_flags & MSG_CTRUNC);
	ck_assert_uint_eq(m.msg_controllen, sizeof(ctl));
	nstack_close(s);
}
END_TEST

START_TEST(test_reuseport_group_spreads_flows_and_keeps_each_on_one_socket)
{
	struct socket *a = t_socket(SOCK_DGRAM, 0), *b = t_socket(SOCK_DGRAM, 0);
	struct sockaddr_in any = t_sin(htonl(INADDR_ANY), 5000);
	int on = 1, got_a = 0, got_b = 0;
	struct rx r;

	ck_assert_int_eq(nstack_setsockopt(a, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)), 0);
	ck_assert_int_eq(nstack_setsockopt(b, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)), 0);
	ck_assert_int_eq(nstack_bind(a, (struct sockaddr *)&any, sizeof(any)), 0);
	ck_assert_int_eq(nstack_bind(b, (struct sockaddr *)&any, sizeof(any)), 0);
	for (uint16_t sport = 1000; sport < 1032; sport++) {
		struct socket *first = NULL;

		for (int rep = 0; rep < 2; rep++) {
			struct socket *which;

			t_inject(frame, peer_udp(sport, 5000, "f", 1));
			recv_msg(a, &r, sizeof(r.data), 0);
			which = r.n == 1 ? a : b;
			if (which == b) {
				recv_msg(b, &r, sizeof(r.data), 0);
				ck_assert_int_eq(r.n, 1);
			}
			if (!first)
				first = which;
			ck_assert_ptr_eq(which, first); /* one flow, one socket */
		}
		if (first == a)
			got_a++;
		else
			got_b++;
	}
	ck_assert_int_gt(got_a, 0);
	ck_assert_int_gt(got_b, 0);
	nstack_close(a);
	nstack_close(b);
}
END_TEST

START_TEST(test_bound_to_device_still_receives)
{
	struct socket *s = udp_bound(5000);
	const char *ifname =
	    ns_dev(T.ns)->name[0] ? ns_dev(T.ns)->name : nstack_config(T.ns)->ifname;
	struct rx r;

	ck_assert_int_eq(
	    nstack_setsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname)),
	    0);
	t_inject(frame, peer_udp(4321, 5000, "dev", 3));
	recv_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, 3);
	nstack_close(s);
}
END_TEST

START_TEST(test_close_during_blocked_recv_deferred_until_it_returns)
{
	struct socket *s = udp_bound(5000);
	struct reader rd;
	pthread_t th;

	start_blocked_reader(s, &rd, &th);
	/* As on Linux, close() from another thread does not end the blocked call. */
	ck_assert_int_eq(nstack_close(s), 0);
	ck_assert_int_eq(T.ns->socket_live, 1);
	t_inject(frame, peer_udp(4321, 5000, "late", 4));
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_int_eq(rd.n, 4);
	ck_assert_int_eq(T.ns->socket_live, 0);
	ck_assert_int_eq(nstack_live_socks(T.ns), 0);
}
END_TEST

START_TEST(test_shutdown_wakes_blocked_recv)
{
	struct socket *s = udp_bound(5000);
	struct reader rd;
	pthread_t th;

	start_blocked_reader(s, &rd, &th);
	ck_assert_int_eq(nstack_shutdown(s, SHUT_RD), -ENOTCONN);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_int_eq(rd.n, 0);
	nstack_close(s);
}
END_TEST

START_TEST(test_probe_pmtu_too_big_local_error_with_mtu)
{
	struct socket *s = udp_bound(5000);
	static char big[1500];
	int on = 1, probe = IP_PMTUDISC_PROBE;
	struct sock_extended_err ee;
	struct cmsghdr *c;
	struct rx r;

	ck_assert_int_eq(nstack_setsockopt(s, IPPROTO_IP, IP_RECVERR, &on, sizeof(on)), 0);
	ck_assert_int_eq(nstack_setsockopt(s, IPPROTO_IP, IP_MTU_DISCOVER, &probe, sizeof(probe)),
			 0);
	/* 1500 + 28 bytes of headers do not fit a 1500-byte MTU with DF. */
	ck_assert_int_eq(t_send_to(s, big, sizeof(big), T_PEER_IP, 7), -EMSGSIZE);
	ck_assert_int_eq(t_send_to(s, big, 1472, T_PEER_IP, 7), 1472);
	t_recv(frame, sizeof(frame));
	recv_msg(s, &r, sizeof(r.data), MSG_ERRQUEUE);
	ck_assert_int_eq(r.n, 0);
	/* Unconnected: no port, so no address (Linux's ipv4_datagram_support_addr). */
	ck_assert_uint_eq(r.fromlen, 0);
	c = find_cmsg(&r, IPPROTO_IP, IP_RECVERR);
	ck_assert_ptr_nonnull(c);
	memcpy(&ee, CMSG_DATA(c), sizeof(ee));
	ck_assert_uint_eq(ee.ee_errno, EMSGSIZE);
	ck_assert_uint_eq(ee.ee_origin, SO_EE_ORIGIN_LOCAL);
	ck_assert_uint_eq(ee.ee_info, 1500);
	/* A local error is not a pending socket error. */
	recv_msg(s, &r, sizeof(r.data), 0);
	ck_assert_int_eq(r.n, -EAGAIN);
	/* Connected, the entry names the peer. */
	udp_connect(s, T_PEER_IP, 7);
	ck_assert_int_eq(t_send_to(s, big, sizeof(big), 0, 0), -EMSGSIZE);
	recv_msg(s, &r, sizeof(r.data), MSG_ERRQUEUE);
	ck_assert_int_eq(r.n, 0);
	ck_assert_uint_eq(r.fromlen, sizeof(struct sockaddr_in));
	ck_assert_int_eq(r.from.sin_addr.s_addr, T_PEER_IP);
	ck_assert_int_eq(ntohs(r.from.sin_port), 7);
	nstack_close(s);
}
END_TEST

static Suite *udp_wire_suite(void)
{
	Suite *s = suite_create("udp_wire");
	TCase *tc = tcase_create("wire");

	tcase_add_checked_fixture(tc, t_setup, t_teardown);
	tcase_add_test(tc, test_bound_sendto_exact_frame);
	tcase_add_test(tc, test_bound_sendto_with_ttl_and_tos_options);
	tcase_add_test(tc, test_connected_send_ip_id_from_socket_counter);
	tcase_add_test(tc, test_checksum_zero_goes_out_as_ffff);
	tcase_add_test(tc, test_bound_datagram_in_recvmsg_payload_and_source);
	tcase_add_test(tc, test_datagram_peek_then_trunc);
	tcase_add_test(tc, test_datagram_in_control_messages);
	tcase_add_test(tc, test_closed_port_icmp_port_unreachable_frame);
	tcase_add_test(tc, test_connected_port_unreachable_econnrefused_on_next_recv);
	tcase_add_test(tc, test_connected_port_unreachable_econnrefused_on_next_send);
	tcase_add_test(tc, test_connected_port_unreachable_so_error_once);
	tcase_add_test(tc, test_connected_host_unreachable_soft_filtered_hard);
	tcase_add_test(tc, test_unconnected_port_unreachable_not_reported);
	tcase_add_test(tc, test_recverr_port_unreachable_error_queue_entry);
	tcase_add_test(tc, test_bad_checksum_dropped_counted);
	tcase_add_test(tc, test_bad_checksum_closed_port_no_icmp);
	tcase_add_test(tc, test_truncated_header_dropped_counted);
	tcase_add_test(tc, test_length_field_over_payload_dropped_counted);
	tcase_add_test(tc, test_length_field_under_payload_trimmed);
	tcase_add_test(tc, test_zero_checksum_accepted);
	tcase_add_test(tc, test_broadcast_send_needs_so_broadcast);
	tcase_add_test(tc, test_broadcast_in_delivered_to_every_socket);
	tcase_add_test(tc, test_demux_connected_socket_preferred);
	tcase_add_test(tc, test_full_rcvbuf_drops_counted);
	tcase_add_test(tc, test_pktinfo_source_on_send);
	tcase_add_test(tc, test_blocked_reader_woken_by_datagram);
	tcase_add_test(tc, test_data_and_error_call_sock_event_hook);
	tcase_add_test(tc, test_send_to_own_address_looped_back);
	tcase_add_test(tc, test_corked_sends_collected_into_one_datagram);
	tcase_add_test(tc, test_msg_more_then_last_part_sends_one_datagram);
	tcase_add_test(tc, test_corked_data_dropped_at_close);
	tcase_add_test(tc, test_shutdown_write_then_send_epipe);
	tcase_add_test(tc, test_connect_any_address_means_ourselves);
	tcase_add_test(tc, test_timestampns_origdstaddr_and_peername);
	tcase_add_test(tc, test_small_control_buffer_ctrunc);
	tcase_add_test(tc, test_bound_to_device_still_receives);
	tcase_add_test(tc, test_close_during_blocked_recv_deferred_until_it_returns);
	tcase_add_test(tc, test_shutdown_wakes_blocked_recv);
	tcase_add_test(tc, test_probe_pmtu_too_big_local_error_with_mtu);
	tcase_add_test(tc, test_reuseport_group_spreads_flows_and_keeps_each_on_one_socket);
	suite_add_tcase(s, tc);
	tc = tcase_create("arp");
	tcase_add_checked_fixture(tc, setup_no_neigh, t_teardown);
	tcase_add_test(tc, test_unresolved_neighbour_send_buffer_fills_then_drains);
	tcase_add_test(tc, test_closed_with_datagrams_waiting_for_arp);
	suite_add_tcase(s, tc);
	return s;
}

NSTACK_SUITE(udp_wire_suite)
