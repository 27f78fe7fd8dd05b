/*
 * Raw IPv6 sockets (SOCK_RAW over AF_INET6), as Linux's net/ipv6/raw.c:
 * every socket of next header N receives a copy of each IPv6 packet whose
 * upper-layer header is N and that is addressed to us, from that header on
 * (unlike IPv4, never the IPv6 header: RFC 3542 section 3). Sending builds
 * the IPv6 header unless IPV6_HDRINCL (always on for IPPROTO_RAW) says the
 * application wrote it. IPV6_CHECKSUM has the stack compute an
 * upper-layer checksum on output and verify it on input; ICMPv6 sockets
 * always have it at offset 2 (RFC 3542 3.1) and may filter message types
 * with ICMP6_FILTER.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "icmpv6.h"
#include "inet.h"
#include "inet_dgram.h"
#include "ipv6.h"
#include "raw.h"
#include "rawv6.h"
#include "sock.h"
#include "stack.h"

#ifndef SOL_RAW
#define SOL_RAW 255
#endif
#ifndef SOL_ICMPV6
#define SOL_ICMPV6 58
#endif
/* Linux's ICMPV6_FILTER (netinet/icmp6.h's ICMP6_FILTER, which clashes with proto/ipv6.h). */
#define ICMPV6_FILTER 1
#ifndef IPV6_HDRINCL
#define IPV6_HDRINCL 36
#endif
#ifndef IPPROTO_MH
#define IPPROTO_MH 135
#endif
/* The part of the ICMPv6 header a filter needs (Linux's ICMPV6_HDRLEN). */
#define ICMPV6_FILTER_HLEN 4

static inline struct raw_sock *raw6_sk(const struct sock *sk)
{
	return (struct raw_sock *)sk;
}

/*
 * Protocols whose checksum RFC 3542 3.1 (ICMPv6) and RFC 6275 6.1.1
 * (Mobility Header) make the kernel's; Linux's rawv6_init_sk.
 */
static int rawv6_init_sk(struct sock *sk)
{
	struct raw_sock *rp = raw6_sk(sk);

	switch (sk->sk_num) {
	case IPPROTO_ICMPV6:
		rp->checksum = true;
		rp->offset = 2;
		break;
	case IPPROTO_MH:
		rp->checksum = true;
		rp->offset = 4;
		break;
	}
	return 0;
}

/* Whether a names no place without its link (Linux's __ipv6_addr_needs_scope_id). */
static bool rawv6_needs_scope(const struct in6_addr *a)
{
	return ipv6_addr_is_linklocal(a) ||
	       (ipv6_addr_is_multicast(a) && ipv6_addr_mc_scope(a) <= 2);
}

/*
 * Linux's raw_v6_match(): the protocol, the peer a connected socket names,
 * the device it is bound to, then its local address, which a multicast
 * destination passes (IPV6_MULTICAST_ALL is on: no per-socket filter).
 */
static bool raw_v6_match(const struct sock *sk, uint8_t num, const struct in6_addr *loc,
			 const struct in6_addr *rmt, int dif)
{
	if (sk->sk_num != num ||
	    (!ipv6_addr_any(&sk->sk_v6_daddr) && !ipv6_addr_equal(&sk->sk_v6_daddr, rmt)) ||
	    (sk->sk_bound_dev_if && sk->sk_bound_dev_if != dif))
		return false;
	return ipv6_addr_any(&sk->sk_v6_rcv_saddr) || ipv6_addr_equal(&sk->sk_v6_rcv_saddr, loc) ||
	       ipv6_addr_is_multicast(loc);
}

/*
 * True when sk's ICMP6_FILTER drops skb (data at the ICMPv6 header); a
 * message too short to have a type is dropped, as Linux's icmpv6_filter().
 */
static bool rawv6_icmp_filtered(const struct sock *sk, const struct sk_buff *skb)
{
	uint8_t type;

	if (skb->len < ICMPV6_FILTER_HLEN)
		return true;
	type = skb->data[0];
	return (raw6_sk(sk)->icmp6_filter[type >> 5] & (1u << (type & 31))) != 0;
}

/*
 * With IPV6_CHECKSUM on, a packet whose checksum (over the IPv6
 * pseudo-header with the socket's protocol) is wrong never reaches the
 * socket (Linux's rawv6_rcv_skb()).
 */
static bool rawv6_csum_ok(const struct sock *sk, const struct sk_buff *skb)
{
	const struct ipv6hdr *ip6h = ipv6_hdr(skb);

	if (!raw6_sk(sk)->checksum || skb->ip_summed == CHECKSUM_UNNECESSARY)
		return true;
	return csum_ipv6_magic(&ip6h->saddr, &ip6h->daddr, skb->len, (uint8_t)sk->sk_num,
			       skb->data) == 0;
}

/* See rawv6.h (Linux's ipv6_raw_deliver): a match counts even when filtered out. */
bool raw6_local_deliver(struct sk_buff *skb, unsigned int off, uint8_t nexthdr)
{
	struct nstack *ns = skb->ns;
	struct in6_addr saddr, daddr;
	int dif = inet_dev_index(ns);
	bool delivered = false;
	struct sock *sk;

	if (!ns->raw || LIST_EMPTY(&ns->raw->v6) || off > skb->len)
		return false;
	saddr = ipv6_hdr(skb)->saddr;
	daddr = ipv6_hdr(skb)->daddr;
	LIST_FOREACH(sk, &ns->raw->v6, sk_node)
	{
		struct sk_buff *c;

		if (!raw_v6_match(sk, nexthdr, &daddr, &saddr, dif))
			continue;
		delivered = true;
		c = skb_clone(skb);
		if (!c)
			continue;
		skb_pull(c, off);
		skb_reset_transport_header(c);
		if ((nexthdr == IPPROTO_ICMPV6 && rawv6_icmp_filtered(sk, c)) ||
		    !rawv6_csum_ok(sk, c)) {
			kfree_skb(c);
			continue;
		}
		raw_rcv_skb(sk, c);
	}
	return delivered;
}

/*
 * An ICMPv6 error for sk (Linux's rawv6_err): reported with IPV6_RECVERR
 * (queued, the quoted payload past the upper-layer header, or from the
 * IPv6 header with IPV6_HDRINCL), else only on a connected socket and
 * only when hard. Packet Too Big is hard with IPV6_PMTUDISC_DO alone.
 */
static void rawv6_err(struct sock *sk, struct sk_buff *skb, uint8_t type, uint8_t code, int offset,
		      uint32_t info)
{
	const struct inet6_opts *o = &inet_sk(sk)->v6;
	bool harderr;
	int err;

	if (!o->recverr && sk->sk_state != SK_ST_ESTABLISHED)
		return;
	harderr = icmpv6_err_convert(type, code, &err);
	if (type == ICMPV6_PKT_TOOBIG)
		harderr = o->pmtudisc == IPV6_PMTUDISC_DO;
	if (o->recverr)
		ipv6_icmp_error(sk, skb, err, type, code, 0, info,
				inet_sk(sk)->hdrincl ? skb->data : skb->data + offset);
	if (o->recverr || harderr) {
		sk->sk_err = err;
		SK_CB(sk, sk_error_report)(sk);
	}
}

/* See rawv6.h: the quoted packet was ours, so its source is our side. */
void raw6_icmp_error(struct sk_buff *skb, uint8_t nexthdr, uint8_t type, uint8_t code, int offset,
		     uint32_t info)
{
	struct nstack *ns = skb->ns;
	struct ipv6hdr ip6h;
	int dif = inet_dev_index(ns);
	struct sock *sk;

	if (!ns->raw || skb->len < IPV6_HLEN || offset < IPV6_HLEN ||
	    (unsigned int)offset > skb->len)
		return;
	memcpy(&ip6h, skb->data, sizeof(ip6h));
	LIST_FOREACH(sk, &ns->raw->v6, sk_node)
	{
		if (raw_v6_match(sk, nexthdr, &ip6h.saddr, &ip6h.daddr, dif))
			rawv6_err(sk, skb, type, code, offset, info);
	}
}

/*
 * bind() (Linux's rawv6_bind): an address of ours, any with
 * IP_FREEBIND/IP_TRANSPARENT, or a group; a link-local or link-scope
 * group address needs its link, which sin6_scope_id may name. IPv4
 * (v4-mapped) is not for raw IPv6 sockets.
 */
static int rawv6_bind(struct sock *sk, const struct sockaddr *uaddr, socklen_t len)
{
	struct inet_sock *inet = inet_sk(sk);
	struct sockaddr_in6 a;

	if (len < SIN6_LEN_RFC2133)
		return -EINVAL;
	memset(&a, 0, sizeof(a));
	memcpy(&a, uaddr, len < sizeof(a) ? len : sizeof(a));
	if (a.sin6_family != AF_INET6)
		return -EINVAL;
	if (ipv6_addr_v4mapped(&a.sin6_addr))
		return -EADDRNOTAVAIL;
	if (sk->sk_state != SK_ST_CLOSE)
		return -EINVAL;
	if (!ipv6_addr_any(&a.sin6_addr)) {
		if (rawv6_needs_scope(&a.sin6_addr)) {
			/* As Linux: the scope given replaces SO_BINDTODEVICE's. */
			if (len >= sizeof(a) && a.sin6_scope_id)
				sk->sk_bound_dev_if = (int)a.sin6_scope_id;
			if (!sk->sk_bound_dev_if)
				return -EINVAL;
		}
		if (sk->sk_bound_dev_if && sk->sk_bound_dev_if != inet_dev_index(sk->ns))
			return -ENODEV;
		if (!ipv6_addr_is_multicast(&a.sin6_addr) && !inet->freebind &&
		    !inet->transparent && (!sk->ns->ip6 || !ipv6_chk_addr(sk->ns, &a.sin6_addr)))
			return -EADDRNOTAVAIL;
		sk->sk_ipv6 = true;
		sk->sk_userlocks_bindaddr = true;
	}
	sk->sk_v6_rcv_saddr = a.sin6_addr;
	return 0;
}

/*
 * sendmsg()'s destination and next header (Linux's rawv6_sendmsg): from
 * msg_name, whose port may repeat the socket's protocol (any protocol on
 * an IPPROTO_RAW socket), or the connected peer. A link-scope destination
 * goes out on our link unless sin6_scope_id names another.
 */
static int rawv6_daddr(const struct sock *sk, const struct msghdr *msg, struct in6_addr *daddr,
		       uint8_t *proto)
{
	struct sockaddr_in6 u;
	unsigned int p;

	if (!msg->msg_name) {
		if (sk->sk_state != SK_ST_ESTABLISHED)
			return -EDESTADDRREQ;
		*daddr = sk->sk_v6_daddr;
		*proto = (uint8_t)sk->sk_num;
		return 0;
	}
	if (msg->msg_namelen < SIN6_LEN_RFC2133)
		return -EINVAL;
	memset(&u, 0, sizeof(u));
	memcpy(&u, msg->msg_name, msg->msg_namelen < sizeof(u) ? msg->msg_namelen : sizeof(u));
	if (u.sin6_family != AF_UNSPEC && u.sin6_family != AF_INET6)
		return -EAFNOSUPPORT;
	p = ntohs(u.sin6_port);
	if (!p)
		p = sk->sk_num;
	else if (p != sk->sk_num && sk->sk_num != IPPROTO_RAW)
		return -EINVAL;
	if (p > 255)
		return -EINVAL;
	if (u.sin6_scope_id && rawv6_needs_scope(&u.sin6_addr) &&
	    (int)u.sin6_scope_id != inet_dev_index(sk->ns))
		return -ENETUNREACH; /* no route on a link that is not ours */
	*daddr = u.sin6_addr;
	*proto = (uint8_t)p;
	return 0;
}

/*
 * IPV6_HDRINCL (Linux's rawv6_send_hdrinc): the application's IPv6 header
 * and all goes out exactly as written, to the next hop of daddr; unlike
 * IPv4 nothing is filled in, and nothing is fragmented.
 */
static ssize_t rawv6_send_hdrinc(struct sock *sk, const struct msghdr *msg, size_t len, int flags,
				 const struct in6_addr *daddr)
{
	struct nstack *ns = sk->ns;
	struct sk_buff *skb;
	int err;

	if (len > ip6_mtu(ns)) {
		ipv6_local_error(sk, EMSGSIZE, daddr, 0, ip6_mtu(ns));
		return -EMSGSIZE;
	}
	if (len < IPV6_HLEN)
		return -EINVAL;
	skb = ip_dgram_skb_from_msg(sk, msg, len, 0, flags, &err);
	if (!skb)
		return err;
	skb->tstamp_us = ns_now(ns);
	err = ip6_send_raw(ns, skb, daddr);
	if (err)
		return err;
	NS_INC_STATS(ns, RawOutDatagrams);
	return (ssize_t)len;
}

/*
 * Fills the IPV6_CHECKSUM field of a datagram (Linux's
 * rawv6_push_pending_frames): the field must lie inside it; whatever the
 * application left there counts as 0; a UDP checksum of 0 goes as 0xffff.
 */
static int rawv6_fill_csum(const struct sock *sk, struct sk_buff *skb, const struct in6_addr *saddr,
			   const struct in6_addr *daddr, uint8_t proto)
{
	unsigned int off = (unsigned int)raw6_sk(sk)->offset;
	uint16_t csum;

	if (skb->len < 2 || off > skb->len - 2)
		return -EINVAL;
	memset(skb->data + off, 0, 2);
	csum = csum_ipv6_magic(saddr, daddr, skb->len, proto, skb->data);
	if (!csum && proto == IPPROTO_UDP)
		csum = 0xffff;
	memcpy(skb->data + off, &csum, sizeof(csum));
	return 0;
}

/*
 * sendmsg() (Linux's rawv6_sendmsg): to daddr with the source, hop limit
 * and traffic class UDP over IPv6 would use (control messages, then the
 * socket's options), the checksum filled in when IPV6_CHECKSUM asks,
 * fragmented above the path MTU unless the socket forbids it.
 */
static ssize_t rawv6_sendmsg(struct sock *sk, const struct msghdr *msg, size_t len, int flags)
{
	struct nstack *ns = sk->ns;
	struct in6_addr daddr, saddr;
	struct ip6_tx_params tp;
	struct sk_buff *skb;
	uint8_t proto;
	int err;

	if (flags & MSG_OOB)
		return -EOPNOTSUPP;
	err = rawv6_daddr(sk, msg, &daddr, &proto);
	if (err)
		return err;
	err = ip6_datagram_send_prepare(sk, msg, &daddr, &saddr, &tp);
	if (err)
		return err;
	if (inet_sk(sk)->hdrincl)
		return rawv6_send_hdrinc(sk, msg, len, flags, &daddr);
	if (len > IPV6_MAXPLEN)
		return -EMSGSIZE;
	/* IPV6_DONTFRAG and IPV6_MTU_DISCOVER DO/PROBE hold for raw sockets too. */
	err = ip6_datagram_check_mtu(sk, &daddr, 0, &tp, len);
	if (err)
		return err;
	skb = ip_dgram_skb_from_msg(sk, msg, len, 0, flags, &err);
	if (!skb)
		return err;
	if (raw6_sk(sk)->checksum) {
		err = rawv6_fill_csum(sk, skb, &saddr, &daddr, proto);
		if (err) {
			kfree_skb(skb);
			return err;
		}
	}
	if (proto == IPPROTO_ICMPV6 && len >= 1)
		icmpv6_out_count(ns, skb->data[0]);
	skb_reset_transport_header(skb);
	skb->tstamp_us = ns_now(ns);
	err = ip6_output_frag(ns, skb, &saddr, &daddr, proto, &tp);
	if (err)
		return err;
	NS_INC_STATS(ns, RawOutDatagrams);
	return (ssize_t)len;
}

/* IPV6_CHECKSUM and IPV6_HDRINCL, at SOL_RAW or IPPROTO_IPV6 (Linux's do_rawv6_setsockopt). */
static int rawv6_set_raw_opt(struct sock *sk, int level, int optname, const void *optval,
			     socklen_t optlen)
{
	struct raw_sock *rp = raw6_sk(sk);
	int val;

	if (optlen < sizeof(val))
		return -EINVAL;
	if (!optval)
		return -EFAULT;
	memcpy(&val, optval, sizeof(val));
	switch (optname) {
	case IPV6_HDRINCL:
		inet_sk(sk)->hdrincl = val != 0;
		return 0;
	case IPV6_CHECKSUM:
		/* RFC 3542 3.1: not at IPPROTO_IPV6 on ICMPv6 sockets (SOL_RAW is Linux's way). */
		if (sk->sk_num == IPPROTO_ICMPV6 && level == IPPROTO_IPV6)
			return -EINVAL;
		/* An odd offset cannot hold a 16-bit field in place. */
		if (val > 0 && (val & 1))
			return -EINVAL;
		rp->checksum = val >= 0;
		if (val >= 0)
			rp->offset = val;
		return 0;
	default:
		return -ENOPROTOOPT;
	}
}

/*
 * setsockopt() (Linux's rawv6_setsockopt): ICMP6_FILTER at SOL_ICMPV6 on
 * ICMPv6 sockets (a shorter value sets the first words), IPV6_CHECKSUM
 * and IPV6_HDRINCL, the rest of IPPROTO_IPV6; IPv4 levels are not for
 * raw IPv6 sockets.
 */
static int rawv6_setsockopt(struct sock *sk, int level, int optname, const void *optval,
			    socklen_t optlen)
{
	switch (level) {
	case SOL_RAW:
		return rawv6_set_raw_opt(sk, level, optname, optval, optlen);
	case SOL_ICMPV6:
		if (sk->sk_num != IPPROTO_ICMPV6)
			return -EOPNOTSUPP;
		if (optname != ICMPV6_FILTER)
			return -ENOPROTOOPT;
		return raw_set_filter(raw6_sk(sk)->icmp6_filter, sizeof(raw6_sk(sk)->icmp6_filter),
				      optval, optlen);
	case IPPROTO_IPV6:
		if (optname == IPV6_CHECKSUM || optname == IPV6_HDRINCL)
			return rawv6_set_raw_opt(sk, level, optname, optval, optlen);
		return ipv6_setsockopt(sk, optname, optval, optlen);
	default:
		return -ENOPROTOOPT;
	}
}

/* getsockopt(): the same levels (Linux's rawv6_getsockopt); IPV6_CHECKSUM -1 when off. */
static int rawv6_getsockopt(struct sock *sk, int level, int optname, void *optval,
			    socklen_t *optlen)
{
	const struct raw_sock *rp = raw6_sk(sk);
	int val;

	switch (level) {
	case SOL_RAW:
		break;
	case SOL_ICMPV6:
		if (sk->sk_num != IPPROTO_ICMPV6)
			return -EOPNOTSUPP;
		if (optname != ICMPV6_FILTER)
			return -ENOPROTOOPT;
		return raw_get_filter(rp->icmp6_filter, sizeof(rp->icmp6_filter), optval, optlen);
	case IPPROTO_IPV6:
		if (optname == IPV6_CHECKSUM || optname == IPV6_HDRINCL)
			break;
		return ipv6_getsockopt(sk, optname, optval, optlen);
	default:
		return -ENOPROTOOPT;
	}
	switch (optname) {
	case IPV6_HDRINCL:
		val = inet_sk(sk)->hdrincl;
		break;
	case IPV6_CHECKSUM:
		val = rp->checksum ? rp->offset : -1;
		break;
	default:
		return -ENOPROTOOPT;
	}
	return sock_put_opt(optval, optlen, &val, sizeof(val));
}

/* Linux's rawv6_prot: the socket lists and teardown are raw.c's. */
const struct proto rawv6_prot = {
    .name = "RAWv6",
    .obj_size = sizeof(struct raw_sock),
    .init = rawv6_init_sk,
    .close = ip4_datagram_close,
    .connect = ip6_datagram_connect,
    .disconnect = ip6_datagram_disconnect,
    .ioctl = ip_dgram_ioctl,
    .setsockopt = rawv6_setsockopt,
    .getsockopt = rawv6_getsockopt,
    .sendmsg = rawv6_sendmsg,
    .recvmsg = ip6_datagram_recvmsg,
    .bind = rawv6_bind,
    .hash = raw_hash_sk,
    .unhash = raw_unhash_sk,
    .max_header = MAX_HEADER,
};
