/*
 * UDP (RFC 768, RFC 1122 4.1), with Linux's behaviour (net/ipv4/udp.c):
 * the port table, bind/connect through the generic inet code, send and
 * receive, the demux (connected sockets first, broadcast to every match),
 * ICMP errors, FIONREAD/SIOCOUTQ.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "checksum.h"
#include "icmp.h"
#include "inet.h"
#include "inet_dgram.h"
#include "ip.h"
#include "sock.h"
#include "stack.h"
#include "udp.h"

#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_CORK
#define UDP_CORK 1 /* netinet/udp.h, whose struct udphdr clashes with proto/udp.h */
#endif

/* The largest UDP payload in one IPv4 datagram: 65535 - 20 - 8. */
#define UDP_MAX_PAYLOAD (IP_MAXPACKET - IP_HLEN_MIN - UDP_HLEN)

static inline struct udp_sock *udp_sk(const struct sock *sk)
{
	return (struct udp_sock *)sk;
}

static struct sock_list *udp_slot(struct udp_table *t, uint16_t port)
{
	return udp_hslot(t, port);
}

/*
 * Whether binding sk to port would clash (Linux's udp_lib_lport_inuse):
 * another socket on the port with an overlapping address and device,
 * unless both set SO_REUSEADDR or both set SO_REUSEPORT. Addresses overlap
 * across the families as Linux's inet_rcv_saddr_equal() has it: 0.0.0.0
 * and a dual-stack "::" do, an IPv6-only socket and any IPv4 one do not.
 */
static bool udp_port_conflict(struct nstack *ns, const struct sock *sk, uint16_t port)
{
	struct sock *sk2;

	LIST_FOREACH(sk2, udp_slot(ns->udp, port), sk_node)
	{
		if (sk2 == sk || sk2->sk_num != port)
			continue;
		if (sk2->sk_reuse && sk->sk_reuse)
			continue;
		if (sk2->sk_bound_dev_if && sk->sk_bound_dev_if &&
		    sk2->sk_bound_dev_if != sk->sk_bound_dev_if)
			continue;
		if (!inet_rcv_saddr_overlap(sk, sk2))
			continue;
		if (sk2->sk_reuseport && sk->sk_reuseport)
			continue;
		return true;
	}
	return false;
}

static int udp_port_in_use(struct nstack *ns, uint16_t port, void *arg)
{
	return udp_port_conflict(ns, arg, port);
}

/* Binds sk to port snum, or to an ephemeral port when snum is 0. */
int udp_get_port(struct sock *sk, uint16_t snum)
{
	struct nstack *ns = sk->ns;
	int err;

	if (!snum) {
		err = inet_pick_ephemeral(ns, udp_port_in_use, sk, &snum);
		if (err)
			return -EADDRINUSE;
	} else if (udp_port_conflict(ns, sk, snum)) {
		return -EADDRINUSE;
	}
	sk->sk_num = snum;
	LIST_INSERT_HEAD(udp_slot(ns->udp, snum), sk, sk_node);
	sock_reset_flag(sk, SOCK_ZAPPED);
	return 0;
}

/* Releases sk's port. */
void udp_unhash(struct sock *sk)
{
	if (!sk->sk_num || sock_flag(sk, SOCK_ZAPPED))
		return;
	LIST_REMOVE(sk, sk_node);
	sk->sk_num = 0;
	sock_set_flag(sk, SOCK_ZAPPED);
}

/* Links a new UDP sock (either family) into the list of all of them. */
int udp_init_sock(struct sock *sk)
{
	LIST_INSERT_HEAD(&sk->ns->udp->all, sk, sk_bind_node);
	return 0;
}

/* Unlinks a UDP sock from the list of all of them, as its last reference goes. */
void udp_destroy(struct sock *sk)
{
	/* After udp_exit() the table is gone and the sock was unlinked there. */
	if (sk->ns->udp)
		LIST_REMOVE(sk, sk_bind_node);
}

/*
 * How well sk matches an IPv4 datagram (Linux's compute_score): every
 * bound field must match, and each one that does counts, so a connected
 * socket beats one bound to an address, which beats a wildcard one; an
 * AF_INET socket beats a dual-stack AF_INET6 one. Sockets that carry IPv6
 * only never match. -1: no match.
 */
static int udp_score(const struct sock *sk, const struct udp_flow *f, int dif)
{
	int score = sk->sk_family == AF_INET ? 2 : 1;

	if (sk->sk_num != ntohs(f->dport) || !sk_v4_ok(sk))
		return -1;
	if (sk->sk_rcv_saddr) {
		if (sk->sk_rcv_saddr != f->daddr)
			return -1;
		score += 4;
	}
	if (sk->sk_daddr) {
		if (sk->sk_daddr != f->saddr)
			return -1;
		score += 4;
	}
	if (sk->sk_dport) {
		if (sk->sk_dport != f->sport)
			return -1;
		score += 4;
	}
	if (sk->sk_bound_dev_if) {
		if (sk->sk_bound_dev_if != dif)
			return -1;
		score += 4;
	}
	return score;
}

/* See inet_dgram.h. */
struct sock *udp_lookup_scored(struct nstack *ns, const struct udp_flow *f, udp_score_fn score)
{
	struct sock *sk, *best = NULL;
	int best_score = -1, dif = inet_dev_index(ns);
	unsigned int matches = 0;
	uint32_t hash = f->saddr ^ ((uint32_t)f->sport << 16) ^ 0x5bd1e995u;

	if (f->v6) {
		uint32_t w[4];

		memcpy(w, f->saddr6->s6_addr, sizeof(w));
		hash ^= w[0] ^ w[1] ^ w[2] ^ w[3];
	}
	hash ^= hash >> 13;
	hash *= 0x5bd1e995u;
	hash ^= hash >> 15;
	LIST_FOREACH(sk, udp_slot(ns->udp, ntohs(f->dport)), sk_node)
	{
		int s = score(sk, f, dif);

		if (s < 0 || s < best_score)
			continue;
		if (s > best_score) {
			best = sk;
			best_score = s;
			matches = 1;
		} else if (sk->sk_reuseport && best->sk_reuseport) {
			/* Reservoir choice keyed by the flow hash: stable per source. */
			matches++;
			if ((hash % matches) == 0)
				best = sk;
		}
	}
	return best;
}

/* See inet_dgram.h. */
struct sock *udp4_lib_lookup(struct nstack *ns, uint32_t saddr, uint16_t sport, uint32_t daddr,
			     uint16_t dport)
{
	const struct udp_flow f = {.saddr = saddr, .daddr = daddr, .sport = sport, .dport = dport};

	return udp_lookup_scored(ns, &f, udp_score);
}

/* See inet_dgram.h. */
void udp_queue_rcv(struct sock *sk, struct sk_buff *skb, bool v6)
{
	struct nstack *ns = sk->ns;
	int rc;

	skb_pull(skb, UDP_HLEN);
	if (!skb->tstamp_us)
		skb->tstamp_us = ns_now(ns);
	rc = sock_queue_rcv_skb(sk, skb);
	if (!rc)
		return;
	if (v6) {
		if (rc == -ENOMEM)
			NS_INC_STATS(ns, Udp6RcvbufErrors);
		else if (rc == -ENOBUFS)
			NS_INC_STATS(ns, Udp6MemErrors);
		NS_INC_STATS(ns, Udp6InErrors);
	} else {
		if (rc == -ENOMEM)
			NS_INC_STATS(ns, UdpRcvbufErrors);
		else if (rc == -ENOBUFS)
			NS_INC_STATS(ns, UdpMemErrors);
		NS_INC_STATS(ns, UdpInErrors);
	}
	kfree_skb(skb);
}

static bool addr_is_multicast(uint32_t addr)
{
	return (ntohl(addr) & 0xf0000000u) == 0xe0000000u;
}

/* See inet_dgram.h (RFC 1122 3.2.2: never an ICMP error about a broadcast). */
void udp_deliver_all(struct nstack *ns, struct sk_buff *skb, const struct udp_flow *f,
		     udp_score_fn score)
{
	struct sock *sk, *last = NULL;
	int dif = inet_dev_index(ns);

	LIST_FOREACH(sk, udp_slot(ns->udp, ntohs(f->dport)), sk_node)
	{
		if (score(sk, f, dif) < 0)
			continue;
		if (last) {
			struct sk_buff *c = skb_clone(skb);

			if (c)
				udp_queue_rcv(last, c, f->v6);
			else if (f->v6)
				NS_INC_STATS(ns, Udp6InErrors);
			else
				NS_INC_STATS(ns, UdpInErrors);
		}
		last = sk;
	}
	if (last) {
		udp_queue_rcv(last, skb, f->v6);
		return;
	}
	if (f->v6)
		NS_INC_STATS(ns, Udp6IgnoredMulti);
	else
		NS_INC_STATS(ns, UdpIgnoredMulti);
	kfree_skb(skb);
}

/*
 * The UDP receive handler (Linux's __udp4_lib_rcv); skb->data at the UDP
 * header, network header set; consumes skb. The length field must fit the
 * IP payload (padding after it is trimmed), a non-zero checksum must
 * verify (zero means "not computed", RFC 768), then the datagram goes to
 * its socket or earns an ICMP port unreachable.
 */
int udp_rcv(struct sk_buff *skb)
{
	struct nstack *ns = skb->ns;
	const struct iphdr *iph = (const struct iphdr *)skb_network_header(skb);
	const struct udphdr *uh;
	unsigned int ulen;
	struct sock *sk;

	if (!pskb_may_pull(skb, UDP_HLEN))
		goto drop;
	uh = (const struct udphdr *)skb->data;
	ulen = ntohs(uh->len);
	if (ulen > skb->len || ulen < UDP_HLEN)
		goto drop;
	skb_trim(skb, ulen);
	if (uh->check && csum_tcpudp_magic(iph->saddr, iph->daddr, ulen, IPPROTO_UDP,
					   csum_partial(skb->data, ulen, 0)) != 0) {
		NS_INC_STATS(ns, UdpInCsumErrors);
		goto drop;
	}
	if (skb->pkt_type == PACKET_BROADCAST || skb->pkt_type == PACKET_MULTICAST ||
	    inet_addr_is_broadcast(ns, iph->daddr) || addr_is_multicast(iph->daddr)) {
		const struct udp_flow f = {.saddr = iph->saddr,
					   .daddr = iph->daddr,
					   .sport = uh->source,
					   .dport = uh->dest};

		udp_deliver_all(ns, skb, &f, udp_score);
		return 0;
	}
	sk = udp4_lib_lookup(ns, iph->saddr, uh->source, iph->daddr, uh->dest);
	if (sk) {
		udp_queue_rcv(sk, skb, false);
		return 0;
	}
	NS_INC_STATS(ns, UdpNoPorts);
	icmp_send(skb, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0);
	kfree_skb(skb);
	return 0;
drop:
	NS_INC_STATS(ns, UdpInErrors);
	kfree_skb(skb);
	return 0;
}

/*
 * An ICMP error about a datagram we sent (Linux's __udp4_lib_err); skb->data
 * at the quoted IP header with 8 bytes of UDP after it. Without IP_RECVERR
 * only hard errors on connected sockets are reported (RFC 1122 4.1.3.3
 * leaves it to the application; Linux reports them on the next call).
 */
void udp_err(struct sk_buff *skb, int type, int code, uint32_t info)
{
	struct nstack *ns = skb->ns;
	const struct iphdr *iph = (const struct iphdr *)skb->data;
	const struct udphdr *uh = (const struct udphdr *)(skb->data + IP_IHL(iph) * 4u);
	struct sock *sk;
	bool harderr = false;
	int err, fatal = 0;

	sk = udp4_lib_lookup(ns, iph->daddr, uh->dest, iph->saddr, uh->source);
	if (!sk) {
		NS_INC_STATS(ns, IcmpInErrors);
		return;
	}
	switch (type) {
	case ICMP_SOURCE_QUENCH:
	case ICMP_REDIRECT:
		return;
	case ICMP_DEST_UNREACH:
		if (code == ICMP_FRAG_NEEDED) {
			if (inet_sk(sk)->pmtudisc == IP_PMTUDISC_DONT)
				return;
			err = EMSGSIZE;
			harderr = true;
			break;
		}
		/* fall through */
	default:
		err = icmp_err_convert(type, code, &fatal);
		harderr = fatal;
		break;
	}
	ip_dgram_icmp_report(sk, skb, err, harderr, type, code, uh->dest, info,
			     (const unsigned char *)(uh + 1));
}

/* Drops a datagram being assembled, either family (Linux's udp_flush_pending_frames). */
void udp_flush_pending_frames(struct sock *sk)
{
	struct udp_sock *up = udp_sk(sk);

	skb_queue_purge(&sk->sk_write_queue);
	up->pending = false;
	up->cork_v6 = false;
	up->cork_len = 0;
}

/*
 * Builds the UDP header in front of skb (skb->data at the payload) and
 * hands the datagram to IP: checksum over the pseudo header, 0 sent as
 * 0xffff (RFC 768), Linux's choice of DF and IP ID.
 */
static int udp_send_skb(struct sock *sk, struct sk_buff *skb, uint32_t saddr, uint32_t daddr,
			uint16_t dport, const struct ipcm_cookie *ipc, const struct rtable *rt)
{
	struct nstack *ns = sk->ns;
	struct ip_tx_params p;
	uint16_t ulen = (uint16_t)(UDP_HLEN + skb->len);
	struct udphdr *uh;
	int err;

	uh = (struct udphdr *)skb_push(skb, UDP_HLEN);
	uh->source = inet_sk(sk)->inet_sport;
	uh->dest = dport;
	uh->len = htons(ulen);
	uh->check = 0;
	if (!udp_sk(sk)->no_check_tx) {
		uint16_t csum =
		    csum_tcpudp_magic(saddr, daddr, ulen, IPPROTO_UDP, csum_partial(uh, ulen, 0));

		uh->check = csum ? csum : 0xffff;
	}
	skb_reset_transport_header(skb);
	skb->tstamp_us = ns_now(ns);
	ip_dgram_tx_params(sk, ipc, rt, (size_t)ulen + IP_HLEN_MIN, &p);
	err = ip_build_and_send(ns, skb, saddr, daddr, IPPROTO_UDP, &p);
	if (err) {
		if (err == -ENOBUFS)
			NS_INC_STATS(ns, UdpSndbufErrors);
		return err;
	}
	NS_INC_STATS(ns, UdpOutDatagrams);
	return 0;
}

/* Sends the corked datagram as one (Linux's udp_push_pending_frames). */
static int udp_push_pending(struct sock *sk)
{
	struct udp_sock *up = udp_sk(sk);
	struct ipcm_cookie ipc = {.addr = 0, .ttl = up->cork_ttl, .tos = up->cork_tos};
	struct sk_buff *skb, *part;
	struct rtable rt;
	int err;

	if (!up->pending)
		return 0;
	if (up->cork_v6)
		return udpv6_push_pending_frames(sk);
	err = ip_route_output(sk->ns, up->cork_daddr, &rt);
	if (err)
		goto out;
	skb = alloc_skb_hdr(sk->ns, (unsigned int)up->cork_len);
	if (!skb) {
		err = -ENOBUFS;
		goto out;
	}
	skb_set_owner_w(skb, sk);
	skb_queue_walk(&sk->sk_write_queue, part)
	    memcpy(skb_put(skb, part->len), part->data, part->len);
	udp_flush_pending_frames(sk);
	return udp_send_skb(sk, skb, up->cork_saddr, up->cork_daddr, up->cork_dport, &ipc, &rt);
out:
	udp_flush_pending_frames(sk);
	return err;
}

/*
 * A MSG_ZEROCOPY datagram was copied before sendmsg returned: its buffer is
 * free at once, so its completion is queued at once (Linux's comes when the
 * skb is freed after transmission).
 */
void udp_zerocopy_done(struct sock *sk, size_t len, int flags)
{
	if ((flags & MSG_ZEROCOPY) && len && sock_flag(sk, SOCK_ZEROCOPY))
		sock_zerocopy_notify(sk, sk->sk_zckey++, 1);
}

/*
 * sendmsg() (Linux's udp_sendmsg): the destination from msg_name or the
 * connected peer, the source from IP_PKTINFO, the bound or the route's
 * address. With UDP_CORK or MSG_MORE the data is collected into one
 * datagram, addressed by the first call, and sent when the cork is pulled
 * or a call comes without MSG_MORE.
 */
ssize_t udp_sendmsg(struct sock *sk, const struct msghdr *msg, size_t len, int flags)
{
	struct nstack *ns = sk->ns;
	struct udp_sock *up = udp_sk(sk);
	bool corkreq = up->corkflag || (flags & MSG_MORE);
	struct ipcm_cookie ipc;
	struct rtable rt;
	struct sk_buff *skb;
	uint32_t daddr, saddr;
	uint16_t dport;
	int err;

	if (len > 0xffff)
		return -EMSGSIZE;
	if (flags & MSG_OOB)
		return -EOPNOTSUPP;
	if (up->pending) {
		/* An IPv6 datagram is being assembled: no IPv4 data into it (Linux: -EINVAL). */
		if (up->cork_v6)
			return -EINVAL;
		goto append;
	}
	err = ip_dgram_daddr(sk, msg, true, &daddr, &dport);
	if (err)
		return err;
	if (msg->msg_name && !dport)
		return -EINVAL;
	err = ip_dgram_route(sk, msg, daddr, &ipc, &rt, &saddr);
	if (err)
		return err;
	/* Too big for IP, or for the path with DF forced. */
	err = ip_dgram_check_size(sk, &rt, UDP_HLEN + len, sk->sk_dport);
	if (err)
		return err;

	if (corkreq) {
		up->pending = true;
		up->cork_daddr = daddr;
		up->cork_saddr = saddr;
		up->cork_dport = dport;
		up->cork_ttl = ipc.ttl;
		up->cork_tos = ipc.tos;
		up->cork_len = 0;
		goto append;
	}
	skb = ip_dgram_skb_from_msg(sk, msg, len, UDP_HLEN, flags, &err);
	if (!skb) {
		if (err == -ENOBUFS || err == -EAGAIN)
			NS_INC_STATS(ns, UdpSndbufErrors);
		return err;
	}
	err = udp_send_skb(sk, skb, saddr, daddr, dport, &ipc, &rt);
	if (err)
		return err;
	udp_zerocopy_done(sk, len, flags);
	return (ssize_t)len;

append:
	if (up->cork_len + len > UDP_MAX_PAYLOAD) {
		udp_flush_pending_frames(sk);
		return -EMSGSIZE;
	}
	skb = ip_dgram_skb_from_msg(sk, msg, len, 0, flags, &err);
	if (!skb) {
		udp_flush_pending_frames(sk);
		return err;
	}
	skb_queue_tail(&sk->sk_write_queue, skb);
	up->cork_len += len;
	if (!corkreq) {
		err = udp_push_pending(sk);
		if (err)
			return err;
	}
	udp_zerocopy_done(sk, len, flags);
	return (ssize_t)len;
}

/*
 * recvmsg() (Linux's udp_recvmsg): one datagram per call, cut to the
 * buffer with MSG_TRUNC set (and its real length returned when the caller
 * passed MSG_TRUNC), its source in msg_name, IP_* control messages.
 */
ssize_t udp_recvmsg(struct sock *sk, struct msghdr *msg, size_t len, int flags)
{
	ssize_t ret = ip_dgram_recvmsg(sk, msg, len, flags, IP_DGRAM_NAME_PORT);

	if (ret >= 0 && !(flags & (MSG_ERRQUEUE | MSG_PEEK)))
		NS_INC_STATS(sk->ns, UdpInDatagrams);
	return ret;
}

/* setsockopt(SOL_UDP): UDP_CORK; the GSO/GRO/encapsulation options are not supported. */
int udp_setsockopt(struct sock *sk, int level, int optname, const void *optval, socklen_t optlen)
{
	int val;

	if (level != SOL_UDP)
		return ip_setsockopt(sk, level, optname, optval, optlen);
	if (optlen < sizeof(int))
		return -EINVAL;
	memcpy(&val, optval, sizeof(val));
	switch (optname) {
	case UDP_CORK:
		udp_sk(sk)->corkflag = val != 0;
		/* Pulling the cork sends what was collected. */
		return val ? 0 : udp_push_pending(sk);
	default:
		return -ENOPROTOOPT;
	}
}

/* getsockopt(SOL_UDP): UDP_CORK. */
int udp_getsockopt(struct sock *sk, int level, int optname, void *optval, socklen_t *optlen)
{
	int val;

	if (level != SOL_UDP)
		return ip_getsockopt(sk, level, optname, optval, optlen);
	if ((int)*optlen < 0)
		return -EINVAL;
	switch (optname) {
	case UDP_CORK:
		val = udp_sk(sk)->corkflag;
		break;
	default:
		return -ENOPROTOOPT;
	}
	return sock_put_opt(optval, optlen, &val, sizeof(val));
}

const struct proto udp_prot = {
    .name = "UDP",
    .obj_size = sizeof(struct udp_sock),
    .init = udp_init_sock,
    .close = ip4_datagram_close,
    .connect = ip4_datagram_connect,
    .disconnect = ip4_datagram_disconnect,
    .ioctl = ip_dgram_ioctl,
    .destroy = udp_destroy,
    .setsockopt = udp_setsockopt,
    .getsockopt = udp_getsockopt,
    .sendmsg = udp_sendmsg,
    .recvmsg = udp_recvmsg,
    .unhash = udp_unhash,
    .get_port = udp_get_port,
    .max_header = MAX_HEADER,
};

static const struct inet_protocol udp_protocol = {
    .handler = udp_rcv,
    .err_handler = udp_err,
};

/* Sets up the port table and the receive handler. */
int udp_init(struct nstack *ns)
{
	struct udp_table *t = ns_zalloc(ns, sizeof(*t));
	int err;

	if (!t)
		return -ENOMEM;
	for (int i = 0; i < UDP_HTABLE_SIZE; i++)
		LIST_INIT(&t->hash[i]);
	LIST_INIT(&t->all);
	t->port_secret = ns_random32(ns);
	t->next_ephemeral = ns_random32(ns);
	ns->udp = t;
	err = inet_add_protocol(ns, &udp_protocol, IPPROTO_UDP);
	if (err) {
		ns->udp = NULL;
		ns_free(ns, t);
	}
	return err;
}

/*
 * Tears the table down. Sockets the embedder never closed are closed here;
 * one still referenced by a packet in flight is unlinked and freed when
 * that packet is.
 */
void udp_exit(struct nstack *ns)
{
	struct udp_table *t = ns->udp;

	if (!t)
		return;
	inet_del_protocol(ns, IPPROTO_UDP);
	ip4_datagram_close_all(ns, &t->all, "udp");
	LIST_INIT(&t->all);
	ns->udp = NULL;
	ns_free(ns, t);
}
