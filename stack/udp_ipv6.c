/*
 * UDP over IPv6 (Linux's net/ipv6/udp.c; the datagram helpers it shares
 * with ping are in datagram_ipv6.c): the receive handler in the IPv6 demux,
 * the IPv6 socket lookup over the one UDP port table, sendmsg/recvmsg and
 * connect() of AF_INET6 UDP sockets, and ICMPv6 errors.
 *
 * An AF_INET6 UDP socket is one udp_sock whichever family it carries, as
 * on Linux: once bound to or connected with an IPv6 address proper,
 * sk->sk_ipv6 is set and its addresses are sk_v6_rcv_saddr/sk_v6_daddr.
 * A dual-stack socket (not IPV6_V6ONLY, bound to "::") takes both
 * families; its IPv4 traffic (v4-mapped addresses) goes through udp.c's
 * functions, as Linux's udpv6_sendmsg hands v4-mapped destinations to
 * udp_sendmsg.
 *
 * Checksums are mandatory over IPv6 (RFC 8200 8.1): none is sent as 0
 * and a received 0 is an error.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "icmpv6.h"
#include "inet.h"
#include "inet_dgram.h"
#include "ipv6.h"
#include "sock.h"
#include "stack.h"
#include "udp.h"

/* The largest UDP payload in one IPv6 packet without a jumbogram: 65535 - 8. */
#define UDP6_MAX_PAYLOAD (IPV6_MAXPLEN - UDP_HLEN)

static inline struct udp_sock *udp_sk(const struct sock *sk)
{
	return (struct udp_sock *)sk;
}

/*
 * How well sk matches an IPv6 datagram (Linux's compute_score for IPv6):
 * every bound field must match, and each one that does counts. Only
 * sockets that may carry IPv6 take part: AF_INET6 ones not bound to or
 * connected with an IPv4 address. -1: no match.
 */
static int udp6_score(const struct sock *sk, const struct udp_flow *f, int dif)
{
	int score = 1;

	if (sk->sk_num != ntohs(f->dport) || !sk_v6_ok(sk))
		return -1;
	if (!ipv6_addr_any(&sk->sk_v6_rcv_saddr)) {
		if (!ipv6_addr_equal(&sk->sk_v6_rcv_saddr, f->daddr6))
			return -1;
		score += 4;
	}
	if (!ipv6_addr_any(&sk->sk_v6_daddr)) {
		if (!ipv6_addr_equal(&sk->sk_v6_daddr, f->saddr6))
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

/* The socket a unicast IPv6 datagram belongs to (Linux's __udp6_lib_lookup); see inet_dgram.h. */
struct sock *udp6_lib_lookup(struct nstack *ns, const struct in6_addr *saddr, uint16_t sport,
			     const struct in6_addr *daddr, uint16_t dport)
{
	const struct udp_flow f = {
	    .v6 = true, .saddr6 = saddr, .daddr6 = daddr, .sport = sport, .dport = dport};

	return udp_lookup_scored(ns, &f, udp6_score);
}

/*
 * The UDP handler in the IPv6 demux (Linux's __udp6_lib_rcv); skb->data at
 * the UDP header, network header set; consumes skb. The length field must
 * cover the header and fit the IPv6 payload (anything after it is cut
 * off). Linux reads a length of 0 as a jumbogram's "the rest of the
 * packet" (RFC 2675); ipv6_rcv() refuses jumbograms, which Ethernet cannot
 * carry, so here 0 is as short as any other length below 8. The checksum
 * is mandatory (RFC 8200 8.1): 0 is counted as a checksum error, as
 * Linux does for a socket without UDP_NO_CHECK6_RX. Then the datagram
 * goes to its socket, or earns an ICMPv6 port unreachable.
 */
static int udpv6_rcv(struct sk_buff *skb)
{
	struct nstack *ns = skb->ns;
	const struct ipv6hdr *ip6h = ipv6_hdr(skb);
	struct udphdr uh;
	unsigned int ulen;
	struct sock *sk;

	if (!pskb_may_pull(skb, UDP_HLEN))
		goto drop;
	memcpy(&uh, skb->data, sizeof(uh));
	ulen = ntohs(uh.len);
	if (ulen < UDP_HLEN || ulen > skb->len)
		goto drop;
	skb_trim(skb, ulen);
	if (!uh.check)
		goto csum_error;
	if (skb->ip_summed != CHECKSUM_UNNECESSARY &&
	    csum_ipv6_magic(&ip6h->saddr, &ip6h->daddr, ulen, IPPROTO_UDP, skb->data) != 0)
		goto csum_error;
	if (ipv6_addr_is_multicast(&ip6h->daddr)) {
		const struct udp_flow f = {.v6 = true,
					   .saddr6 = &ip6h->saddr,
					   .daddr6 = &ip6h->daddr,
					   .sport = uh.source,
					   .dport = uh.dest};

		udp_deliver_all(ns, skb, &f, udp6_score);
		return 0;
	}
	sk = udp6_lib_lookup(ns, &ip6h->saddr, uh.source, &ip6h->daddr, uh.dest);
	if (sk) {
		udp_queue_rcv(sk, skb, true);
		return 0;
	}
	NS_INC_STATS(ns, Udp6NoPorts);
	icmpv6_send(skb, ICMPV6_DEST_UNREACH, ICMPV6_PORT_UNREACH, 0);
	kfree_skb(skb);
	return 0;
csum_error:
	NS_INC_STATS(ns, Udp6InCsumErrors);
drop:
	NS_INC_STATS(ns, Udp6InErrors);
	kfree_skb(skb);
	return 0;
}

/*
 * An ICMPv6 error about a datagram we sent (Linux's __udp6_lib_err);
 * skb->data at the quoted IPv6 header, the UDP header at offset. As for
 * IPv4 (udp_err), without IPV6_RECVERR only hard errors on connected
 * sockets become sk_err; with it every error does, and is queued for
 * recvmsg(MSG_ERRQUEUE). Packet Too Big is hard unless
 * IPV6_PMTUDISC_DONT, and ignored by sockets that use the interface MTU
 * (IPV6_PMTUDISC_INTERFACE/OMIT); the path MTU itself was learnt by
 * ICMPv6.
 */
static void udpv6_err(struct sk_buff *skb, uint8_t type, uint8_t code, int offset, uint32_t info)
{
	struct nstack *ns = skb->ns;
	struct ipv6hdr ip6h;
	struct udphdr uh;
	struct sock *sk;
	const struct inet6_opts *o;
	bool harderr;
	int err;

	if (offset < (int)sizeof(ip6h) || skb->len < (unsigned int)offset + UDP_HLEN)
		return;
	memcpy(&ip6h, skb->data, sizeof(ip6h));
	memcpy(&uh, skb->data + offset, sizeof(uh));
	/* The quoted datagram is ours: its destination is the peer. */
	sk = udp6_lib_lookup(ns, &ip6h.daddr, uh.dest, &ip6h.saddr, uh.source);
	if (!sk) {
		NS_INC_STATS(ns, Icmp6InErrors);
		return;
	}
	o = &inet_sk(sk)->v6;
	harderr = icmpv6_err_convert(type, code, &err);
	if (type == ICMPV6_PKT_TOOBIG) {
		if (o->pmtudisc == IPV6_PMTUDISC_INTERFACE || o->pmtudisc == IPV6_PMTUDISC_OMIT)
			return;
		if (o->pmtudisc != IPV6_PMTUDISC_DONT)
			harderr = true;
	}
	ip6_dgram_icmp_report(sk, skb, err, harderr, type, code, uh.dest, info,
			      skb->data + offset + UDP_HLEN);
}

/*
 * -EMSGSIZE when len bytes of payload do not fit an IPv6 datagram at all;
 * above the path MTU ip6_output_frag() sends fragments (RFC 8200 4.5), as
 * Linux's ip6_append_data does without IPV6_DONTFRAG.
 */
static int udpv6_check_size(struct sock *sk, const struct in6_addr *daddr, size_t len)
{
	(void)sk;
	(void)daddr;
	return len > UDP6_MAX_PAYLOAD ? -EMSGSIZE : 0;
}

/*
 * Builds the UDP header in front of skb (skb->data at the payload) and
 * hands the packet to IPv6 (Linux's udp_v6_send_skb): the checksum over
 * the IPv6 pseudo-header, 0 sent as 0xffff (RFC 768, RFC 8200 8.1).
 */
static int udpv6_send_skb(struct sock *sk, struct sk_buff *skb, const struct in6_addr *saddr,
			  const struct in6_addr *daddr, uint16_t dport,
			  const struct ip6_tx_params *tp)
{
	struct nstack *ns = sk->ns;
	uint16_t ulen = (uint16_t)(UDP_HLEN + skb->len), csum;
	struct udphdr *uh;
	int err;

	uh = (struct udphdr *)skb_push(skb, UDP_HLEN);
	uh->source = inet_sk(sk)->inet_sport;
	uh->dest = dport;
	uh->len = htons(ulen);
	uh->check = 0;
	csum = csum_ipv6_magic(saddr, daddr, ulen, IPPROTO_UDP, uh);
	uh->check = csum ? csum : 0xffff;
	skb_reset_transport_header(skb);
	skb->tstamp_us = ns_now(ns);
	err = ip6_output_frag(ns, skb, saddr, daddr, IPPROTO_UDP, tp);
	if (err) {
		if (err == -ENOBUFS)
			NS_INC_STATS(ns, Udp6SndbufErrors);
		return err;
	}
	NS_INC_STATS(ns, Udp6OutDatagrams);
	return 0;
}

/* Sends the corked IPv6 datagram as one; see udp.h. */
int udpv6_push_pending_frames(struct sock *sk)
{
	struct udp_sock *up = udp_sk(sk);
	struct in6_addr saddr = up->cork_saddr6, daddr = up->cork_daddr6;
	uint16_t dport = up->cork_dport;
	const struct ip6_tx_params tp = {.hop_limit = up->cork_hlim,
					 .tclass = up->cork_tclass,
					 .dontfrag = up->cork_dontfrag,
					 .mtu = up->cork_mtu};
	struct sk_buff *skb, *part;
	int err;

	if (!up->pending)
		return 0;
	err = udpv6_check_size(sk, &daddr, up->cork_len);
	if (err)
		goto out;
	skb = alloc_skb_hdr(sk->ns, (unsigned int)up->cork_len);
	if (!skb) {
		NS_INC_STATS(sk->ns, Udp6SndbufErrors);
		err = -ENOBUFS;
		goto out;
	}
	skb_set_owner_w(skb, sk);
	skb_queue_walk(&sk->sk_write_queue, part)
	    memcpy(skb_put(skb, part->len), part->data, part->len);
	udp_flush_pending_frames(sk);
	return udpv6_send_skb(sk, skb, &saddr, &daddr, dport, &tp);
out:
	udp_flush_pending_frames(sk);
	return err;
}

/*
 * sendmsg() to an IPv4 destination (AF_INET, as af_inet6.c hands on a
 * v4-mapped one): udp_sendmsg's, unless sk carries IPv6 only (IPV6_V6ONLY,
 * or bound to or connected with an IPv6 address proper): -ENETUNREACH, as
 * Linux's udpv6_sendmsg.
 */
static ssize_t udpv6_sendmsg_v4(struct sock *sk, const struct msghdr *msg, size_t len, int flags)
{
	if (!sk_v4_ok(sk))
		return -ENETUNREACH;
	return udp_sendmsg(sk, msg, len, flags);
}

/*
 * The IPv6 destination of a sendmsg(): 1 when msg_name is AF_INET6 with an
 * address that is IPv6 proper (*to filled in), 0 when it names IPv4 (AF_INET
 * or v4-mapped) or is absent, -errno when it is malformed.
 */
static int udpv6_msg_name(const struct msghdr *msg, struct sockaddr_in6 *to)
{
	sa_family_t family;

	if (!msg->msg_name)
		return 0;
	if (msg->msg_namelen < sizeof(family))
		return -EINVAL;
	memcpy(&family, msg->msg_name, sizeof(family));
	if (family == AF_INET)
		return 0;
	if (family != AF_INET6)
		return -EINVAL;
	if (msg->msg_namelen < SIN6_LEN_RFC2133)
		return -EINVAL;
	memset(to, 0, sizeof(*to));
	memcpy(to, msg->msg_name, msg->msg_namelen < sizeof(*to) ? msg->msg_namelen : sizeof(*to));
	if (ipv6_addr_v4mapped(&to->sin6_addr))
		return -ENETUNREACH; /* af_inet6.c hands these on as AF_INET */
	return 1;
}

/*
 * sendmsg() of an AF_INET6 UDP socket (Linux's udpv6_sendmsg): IPv4
 * destinations through udp_sendmsg; an IPv6 one from msg_name or the
 * connected peer, from the source IPV6_PKTINFO names or the bound or
 * chosen one, with the hop limit and traffic class of IPV6_HOPLIMIT and
 * IPV6_TCLASS control messages or of the socket (IPV6_UNICAST_HOPS,
 * IPV6_MULTICAST_HOPS for a group, IPV6_TCLASS). UDP_CORK and MSG_MORE collect one datagram
 * as for IPv4.
 */
static ssize_t udpv6_sendmsg(struct sock *sk, const struct msghdr *msg, size_t len, int flags)
{
	struct nstack *ns = sk->ns;
	struct udp_sock *up = udp_sk(sk);
	struct ip6_tx_params tp;
	bool corkreq = up->corkflag || (flags & MSG_MORE);
	struct sockaddr_in6 to;
	struct in6_addr daddr, saddr;
	struct sk_buff *skb;
	uint16_t dport;
	int named, err;

	if (flags & MSG_OOB)
		return -EOPNOTSUPP;
	named = udpv6_msg_name(msg, &to);
	if (named < 0)
		return named;
	if (!named && msg->msg_name)
		return udpv6_sendmsg_v4(sk, msg, len, flags);
	if (up->pending) {
		if (!up->cork_v6)
			return udp_sendmsg(sk, msg, len, flags);
		goto append;
	}
	if (!named) {
		/* Unaddressed: the connected peer, IPv6 or (udp_sendmsg) IPv4. */
		if (!sk->sk_ipv6 || sk->sk_state != SK_ST_ESTABLISHED)
			return udp_sendmsg(sk, msg, len, flags);
		to.sin6_addr = sk->sk_v6_daddr;
		to.sin6_port = sk->sk_dport;
	}
	if (len > UDP6_MAX_PAYLOAD)
		return -EMSGSIZE;
	daddr = to.sin6_addr;
	dport = to.sin6_port;
	if (!dport)
		return -EINVAL;
	err = ip6_datagram_send_prepare(sk, msg, &daddr, &saddr, &tp);
	if (err)
		return err;

	if (corkreq) {
		up->pending = true;
		up->cork_v6 = true;
		up->cork_daddr6 = daddr;
		up->cork_saddr6 = saddr;
		up->cork_dport = dport;
		up->cork_hlim = tp.hop_limit;
		up->cork_tclass = tp.tclass;
		up->cork_dontfrag = tp.dontfrag;
		up->cork_mtu = tp.mtu;
		up->cork_len = 0;
		goto append;
	}
	err = udpv6_check_size(sk, &daddr, len);
	if (!err)
		err = ip6_datagram_check_mtu(sk, &daddr, dport, &tp, UDP_HLEN + len);
	if (err)
		return err;
	skb = ip_dgram_skb_from_msg(sk, msg, len, UDP_HLEN, flags, &err);
	if (!skb) {
		if (err == -ENOBUFS || err == -EAGAIN)
			NS_INC_STATS(ns, Udp6SndbufErrors);
		return err;
	}
	err = udpv6_send_skb(sk, skb, &saddr, &daddr, dport, &tp);
	if (err)
		return err;
	udp_zerocopy_done(sk, len, flags);
	return (ssize_t)len;

append:
	if (up->cork_len + len > UDP6_MAX_PAYLOAD) {
		udp_flush_pending_frames(sk);
		return -EMSGSIZE;
	}
	tp = (struct ip6_tx_params){.dontfrag = up->cork_dontfrag, .mtu = up->cork_mtu};
	err = ip6_datagram_check_mtu(sk, &up->cork_daddr6, up->cork_dport, &tp,
				     UDP_HLEN + up->cork_len + len);
	if (err) {
		udp_flush_pending_frames(sk);
		return err;
	}
	skb = ip_dgram_skb_from_msg(sk, msg, len, 0, flags, &err);
	if (!skb) {
		udp_flush_pending_frames(sk);
		return err;
	}
	skb_queue_tail(&sk->sk_write_queue, skb);
	up->cork_len += len;
	if (!corkreq) {
		err = udpv6_push_pending_frames(sk);
		if (err)
			return err;
	}
	udp_zerocopy_done(sk, len, flags);
	return (ssize_t)len;
}

/* Fills msg_name, if given, with the source of skb as an AF_INET6 address (v4-mapped for IPv4). */
static void udpv6_put_name(struct sock *sk, struct msghdr *msg, const struct sk_buff *skb, bool v4)
{
	struct in6_addr a;
	struct udphdr uh;

	memcpy(&uh, skb_transport_header(skb), sizeof(uh));
	if (v4) {
		const struct iphdr *iph = (const struct iphdr *)skb_network_header(skb);

		memset(&a, 0, sizeof(a));
		a.s6_addr[10] = 0xff;
		a.s6_addr[11] = 0xff;
		memcpy(&a.s6_addr[12], &iph->saddr, 4);
	} else {
		memcpy(&a, &ipv6_hdr(skb)->saddr, sizeof(a));
	}
	ip6_dgram_put_name(sk, msg, &a, uh.source);
}

/*
 * recvmsg() of an AF_INET6 UDP socket (Linux's udpv6_recvmsg): one
 * datagram of either family, cut to the buffer with MSG_TRUNC set (its real
 * length returned when the caller passed MSG_TRUNC), its source as a
 * sockaddr_in6 (v4-mapped for IPv4), IPV6_* control messages, and for
 * IPv4 the IP_* ones too.
 */
static ssize_t udpv6_recvmsg(struct sock *sk, struct msghdr *msg, size_t len, int flags)
{
	const struct inet_sock *inet = inet_sk(sk);
	struct sk_buff *skb;
	size_t copied;
	ssize_t ret;
	bool v4;

	skb = ip6_dgram_recv_skb(sk, msg, len, flags, &copied, &ret);
	if (!skb)
		return ret;
	v4 = skb->protocol != ETH_P_IPV6;
	udpv6_put_name(sk, msg, skb, v4);
	if (inet->v6.rxopt)
		ip6_datagram_recv_common_ctl(sk, msg, skb);
	if (v4)
		ip_cmsg_recv_flags(msg, skb, inet->cmsg_flags);
	else if (inet->v6.rxopt)
		ip6_datagram_recv_specific_ctl(sk, msg, skb);
	ret = (ssize_t)((flags & MSG_TRUNC) ? skb->len : copied);
	if (!(flags & MSG_PEEK)) {
		if (v4)
			NS_INC_STATS(sk->ns, UdpInDatagrams);
		else
			NS_INC_STATS(sk->ns, Udp6InDatagrams);
	}
	kfree_skb(skb);
	return ret;
}

/*
 * connect() of an AF_INET6 UDP socket (Linux's ip6_datagram_connect): an
 * IPv4 peer (AF_INET, as af_inet6.c hands on a v4-mapped one) through
 * ip4_datagram_connect, unless the socket carries IPv6 only (IPV6_V6ONLY,
 * or bound to an IPv6 address: -ENETUNREACH); an IPv6 one here.
 */
static int udpv6_connect(struct sock *sk, const struct sockaddr *uaddr, socklen_t len)
{
	if (len >= sizeof(sa_family_t) && uaddr->sa_family == AF_INET) {
		struct in6_addr daddr6 = sk->sk_v6_daddr, saddr6 = sk->sk_v6_rcv_saddr;
		bool was_v6 = sk->sk_ipv6;
		int err;

		if (inet_sk(sk)->v6.ipv6only || (sk->sk_ipv6 && sk->sk_userlocks_bindaddr))
			return -ENETUNREACH;
		/* Connected to an IPv6 peer before: that goes. */
		ip6_datagram_forget(sk);
		err = ip4_datagram_connect(sk, uaddr, len);
		if (err) {
			sk->sk_ipv6 = was_v6;
			sk->sk_v6_daddr = daddr6;
			sk->sk_v6_rcv_saddr = saddr6;
		}
		return err;
	}
	return ip6_datagram_connect(sk, uaddr, len);
}

/* Linux's udpv6_prot: the port table, options and teardown are UDP's. */
const struct proto udpv6_prot = {
    .name = "UDPv6",
    .obj_size = sizeof(struct udp_sock),
    .init = udp_init_sock,
    .close = ip4_datagram_close,
    .connect = udpv6_connect,
    .disconnect = ip6_datagram_disconnect,
    .ioctl = ip_dgram_ioctl,
    .destroy = udp_destroy,
    .setsockopt = udp_setsockopt,
    .getsockopt = udp_getsockopt,
    .sendmsg = udpv6_sendmsg,
    .recvmsg = udpv6_recvmsg,
    .unhash = udp_unhash,
    .get_port = udp_get_port,
    .max_header = MAX_HEADER,
};

static const struct inet6_protocol udpv6_protocol = {
    .handler = udpv6_rcv,
    .err_handler = udpv6_err,
};

/* Registers UDP in the IPv6 demux when the stack runs IPv6. */
int udpv6_init(struct nstack *ns)
{
	if (!ns->ip6)
		return 0;
	return inet6_add_protocol(ns, &udpv6_protocol, IPPROTO_UDP);
}

/* Takes UDP out of the IPv6 demux; the sockets are udp_exit()'s. */
void udpv6_exit(struct nstack *ns)
{
	if (ns->ip6)
		inet6_del_protocol(ns, IPPROTO_UDP);
}
