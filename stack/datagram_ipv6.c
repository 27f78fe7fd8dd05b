/*
 * The datagram-socket helpers of IPv6 that UDP and ping share (Linux's
 * net/ipv6/datagram.c): source and route of a datagram, connect(), the
 * control messages of sendmsg and recvmsg, and the error queue.
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

/*
 * Queues an IPV6_RECVERR entry for an ICMPv6 error (Linux's
 * ipv6_icmp_error): a clone of the error whose data is the payload of the
 * datagram it quotes (payload points into skb, past the quoted transport header),
 * with the extended error in cb. skb->data is at the quoted IPv6 header.
 * The offender is the ICMPv6 packet's source (icmpv6_notify() keeps it).
 */
void ipv6_icmp_error(struct sock *sk, struct sk_buff *skb, int err, uint8_t type, uint8_t code,
		     uint16_t port, uint32_t info, const unsigned char *payload)
{
	struct sock_exterr_skb *serr;
	struct sk_buff *c;
	unsigned int off;

	c = skb_clone(skb);
	if (!c)
		return;
	serr = skb_exterr(c);
	memset(serr, 0, sizeof(*serr));
	serr->ee.ee_errno = (uint32_t)err;
	serr->ee.ee_origin = SO_EE_ORIGIN_ICMP6;
	serr->ee.ee_type = type;
	serr->ee.ee_code = code;
	serr->ee.ee_info = info;
	serr->addr_offset =
	    (uint16_t)(skb->data + offsetof(struct ipv6hdr, daddr) - skb_network_header(skb));
	serr->port = port;
	serr->offender6 = IP6CB(skb)->icmp_src;
	off = payload >= skb->data ? (unsigned int)(payload - skb->data) : 0;
	if (off > c->len)
		off = c->len;
	skb_pull(c, off);
	skb_reset_transport_header(c);
	if (sock_queue_err_skb(sk, c))
		kfree_skb(c);
}

/* See inet_dgram.h. */
void ip6_dgram_icmp_report(struct sock *sk, struct sk_buff *skb, int err, bool harderr,
			   uint8_t type, uint8_t code, uint16_t port, uint32_t info,
			   const unsigned char *payload)
{
	if (!inet_sk(sk)->v6.recverr) {
		if (!harderr || sk->sk_state != SK_ST_ESTABLISHED)
			return;
	} else {
		ipv6_icmp_error(sk, skb, err, type, code, port, info, payload);
	}
	sk->sk_err = err;
	SK_CB(sk, sk_error_report)(sk);
}

/* The control message of recvmsg(MSG_ERRQUEUE) on IPv6 (Linux's sock_extended_err + sin6). */
struct ip6_errhdr {
	struct sock_extended_err ee;
	struct sockaddr_in6 offender;
};

/*
 * recvmsg(MSG_ERRQUEUE) (Linux's ipv6_recv_error): an ICMPv6 error gives
 * the quoted payload as data, the original destination as msg_name and an
 * IPV6_RECVERR control message (a local IPv6 error the same, without data
 * or offender); the other entries (IPv4 errors of a
 * dual-stack socket, timestamps, zerocopy) are ip_recv_error()'s, whose
 * names af_inet6.c shows v4-mapped.
 */
ssize_t ipv6_recv_error(struct sock *sk, struct msghdr *msg, size_t len)
{
	struct sk_buff *skb = skb_peek(&sk->sk_error_queue), *next;
	struct sock_exterr_skb *serr;
	struct ip6_errhdr errhdr;
	struct in6_addr addr;
	size_t copied;
	int err;

	if (!skb ||
	    (skb_exterr(skb)->ee.ee_origin != SO_EE_ORIGIN_ICMP6 &&
	     !(skb_exterr(skb)->ee.ee_origin == SO_EE_ORIGIN_LOCAL && skb->protocol == ETH_P_IPV6)))
		return ip_recv_error(sk, msg, len);
	skb = skb_dequeue(&sk->sk_error_queue);
	next = skb_peek(&sk->sk_error_queue);
	serr = skb_exterr(skb);
	if (next && (skb_exterr(next)->ee.ee_origin == SO_EE_ORIGIN_ICMP ||
		     skb_exterr(next)->ee.ee_origin == SO_EE_ORIGIN_ICMP6))
		sk->sk_err = (int)skb_exterr(next)->ee.ee_errno;
	else
		sk->sk_err = 0;
	err = ip_dgram_copy_msg(sk, skb, msg, len, &copied);
	if (err)
		goto out;
	memcpy(&addr, skb_network_header(skb) + serr->addr_offset, sizeof(addr));
	ip6_dgram_put_name(sk, msg, &addr, serr->port);
	memset(&errhdr, 0, sizeof(errhdr));
	errhdr.ee = serr->ee;
	if (serr->ee.ee_origin == SO_EE_ORIGIN_ICMP6) {
		errhdr.offender.sin6_family = AF_INET6;
		errhdr.offender.sin6_addr = serr->offender6;
	}
	put_cmsg(msg, IPPROTO_IPV6, IPV6_RECVERR, sizeof(errhdr), &errhdr);
	msg->msg_flags |= MSG_ERRQUEUE;
	err = (int)copied;
out:
	kfree_skb(skb);
	return err;
}

/*
 * recvmsg() of the IPv6 datagram sockets that queue the packet whole past
 * its IPv6 header, ping and raw (Linux's rawv6_recvmsg, which ping_v6
 * shares): the data cut to len (MSG_TRUNC returns the full length), the
 * sender as a sockaddr_in6 with no port, the IPv6 control messages asked
 * for; MSG_ERRQUEUE reads the error queue.
 */
ssize_t ip6_datagram_recvmsg(struct sock *sk, struct msghdr *msg, size_t len, int flags)
{
	struct sk_buff *skb;
	size_t copied;
	ssize_t ret;

	if (flags & MSG_OOB)
		return -EOPNOTSUPP;
	skb = ip6_dgram_recv_skb(sk, msg, len, flags, &copied, &ret);
	if (!skb)
		return ret;
	ip6_dgram_put_name(sk, msg, &ipv6_hdr(skb)->saddr, 0);
	if (inet_sk(sk)->v6.rxopt) {
		ip6_datagram_recv_common_ctl(sk, msg, skb);
		ip6_datagram_recv_specific_ctl(sk, msg, skb);
	}
	ret = (ssize_t)((flags & MSG_TRUNC) ? skb->len : copied);
	kfree_skb(skb);
	return ret;
}

/*
 * The source address of a datagram from sk to daddr: the bound (or
 * connected) one, else RFC 6724's choice; a group sk is bound to is no
 * source.
 */
int ip6_datagram_saddr(struct sock *sk, const struct in6_addr *daddr, struct in6_addr *saddr)
{
	if (!ipv6_addr_any(&sk->sk_v6_rcv_saddr) && !ipv6_addr_is_multicast(&sk->sk_v6_rcv_saddr)) {
		*saddr = sk->sk_v6_rcv_saddr;
		return 0;
	}
	return ipv6_dev_get_saddr(sk->ns, daddr, saddr);
}

/*
 * Whether IPv6 can carry a datagram from sk to daddr at all: "::" and ::1
 * are the host's own (the kernel's loopback, not nstack's), and a
 * destination needs a next hop (-ENETUNREACH). A socket bound to or
 * connected with an IPv4 address (v4-mapped) sends no IPv6: Linux's
 * ip6_dst_lookup_tail() refuses a v4-mapped source with -EAFNOSUPPORT.
 */
int ip6_datagram_route(struct sock *sk, const struct in6_addr *daddr)
{
	struct in6_addr nexthop;

	if (!sk_v6_ok(sk))
		return -EAFNOSUPPORT;
	if (!sk->ns->ip6 || ipv6_addr_any(daddr) || ipv6_addr_loopback(daddr) ||
	    ipv6_addr_v4mapped(daddr))
		return -ENETUNREACH;
	return ip6_route_nexthop(sk->ns, daddr, &nexthop);
}

/* An int-valued IPV6_HOPLIMIT/IPV6_TCLASS control message in -1..255, else -EINVAL. */
static int ip6_cmsg_int(const struct cmsghdr *c, int *val)
{
	int v;

	if (c->cmsg_len != CMSG_LEN(sizeof(int)))
		return -EINVAL;
	memcpy(&v, CMSG_DATA(c), sizeof(v));
	if (v < -1 || v > 0xff)
		return -EINVAL;
	*val = v;
	return 0;
}

/*
 * The control messages of an IPv6 sendmsg() (Linux's
 * ip6_datagram_send_ctl): IPV6_PKTINFO (a source address of ours; an
 * interface index other than ours is -ENODEV), IPV6_HOPLIMIT,
 * IPV6_TCLASS; other IPv6 ones and malformed ones -EINVAL. SOL_SOCKET
 * credentials and rights are ignored, as ip_cmsg_send() does.
 */
int ip6_datagram_send_ctl(struct sock *sk, const struct msghdr *msg, struct ipcm6_cookie *ipc6)
{
	struct msghdr *m = (struct msghdr *)msg;
	struct cmsghdr *c;
	int err;

	ipc6->saddr = in6addr_any;
	ipc6->hlim = -1;
	ipc6->tclass = -1;
	ipc6->dontfrag = -1;
	if (!msg->msg_control || msg->msg_controllen < sizeof(struct cmsghdr))
		return 0;
	for (c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		size_t room = (size_t)((char *)msg->msg_control + msg->msg_controllen - (char *)c);

		if (c->cmsg_len < sizeof(struct cmsghdr) || c->cmsg_len > room)
			return -EINVAL;
		if (c->cmsg_level == SOL_SOCKET) {
			if (c->cmsg_type == SCM_RIGHTS || c->cmsg_type == SCM_CREDENTIALS)
				continue;
			return -EINVAL;
		}
		if (c->cmsg_level != IPPROTO_IPV6)
			continue;
		switch (c->cmsg_type) {
		case IPV6_PKTINFO: {
			struct in6_pktinfo pi;

			if (c->cmsg_len != CMSG_LEN(sizeof(pi)))
				return -EINVAL;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			if (pi.ipi6_ifindex && (int)pi.ipi6_ifindex != inet_dev_index(sk->ns))
				return -ENODEV;
			if (!ipv6_addr_any(&pi.ipi6_addr)) {
				if (!sk->ns->ip6 ||
				    (!ipv6_chk_addr(sk->ns, &pi.ipi6_addr) &&
				     !inet_sk(sk)->freebind && !inet_sk(sk)->transparent))
					return -EINVAL;
				ipc6->saddr = pi.ipi6_addr;
			}
			break;
		}
		case IPV6_HOPLIMIT:
			err = ip6_cmsg_int(c, &ipc6->hlim);
			if (err)
				return err;
			break;
		case IPV6_TCLASS:
			err = ip6_cmsg_int(c, &ipc6->tclass);
			if (err)
				return err;
			break;
		case IPV6_DONTFRAG: {
			int v;

			if (c->cmsg_len != CMSG_LEN(sizeof(int)))
				return -EINVAL;
			memcpy(&v, CMSG_DATA(c), sizeof(v));
			ipc6->dontfrag = v != 0;
			break;
		}
		default:
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * The part of an IPv6 datagram's sendmsg() that UDP, ping and raw share
 * (Linux's ip6_datagram_send_ctl, the route and source lookup of
 * ip6_dst_lookup_flow, ip6_sk_dst_hoplimit): the control messages, a route
 * to daddr, the source (IPV6_PKTINFO's, else the bound or chosen one), and
 * the hop limit and traffic class to send with.
 */
int ip6_datagram_send_prepare(struct sock *sk, const struct msghdr *msg,
			      const struct in6_addr *daddr, struct in6_addr *saddr,
			      struct ip6_tx_params *tp)
{
	struct ipcm6_cookie ipc6;
	int err;

	err = ip6_datagram_send_ctl(sk, msg, &ipc6);
	if (err)
		return err;
	err = ip6_datagram_route(sk, daddr);
	if (err)
		return err;
	if (!ipv6_addr_any(&ipc6.saddr))
		*saddr = ipc6.saddr;
	else if ((err = ip6_datagram_saddr(sk, daddr, saddr)) != 0)
		return err;
	ip6_datagram_tx_params(sk, daddr, &ipc6, tp);
	return 0;
}

/*
 * The control messages every packet may carry on an AF_INET6 socket
 * (Linux's ip6_datagram_recv_common_ctl): IPV6_PKTINFO, the destination
 * (v4-mapped for IPv4) and our interface's index.
 */
void ip6_datagram_recv_common_ctl(struct sock *sk, struct msghdr *msg, const struct sk_buff *skb)
{
	const struct inet6_opts *o = &inet_sk(sk)->v6;

	if (o->rxopt & IPV6_RXOPT_PKTINFO) {
		struct in6_pktinfo pi;

		memset(&pi, 0, sizeof(pi));
		if (skb->protocol == ETH_P_IPV6) {
			pi.ipi6_addr = ipv6_hdr(skb)->daddr;
		} else {
			const struct iphdr *iph = (const struct iphdr *)skb_network_header(skb);

			pi.ipi6_addr.s6_addr[10] = 0xff;
			pi.ipi6_addr.s6_addr[11] = 0xff;
			memcpy(&pi.ipi6_addr.s6_addr[12], &iph->daddr, 4);
		}
		pi.ipi6_ifindex = (unsigned int)inet_dev_index(sk->ns);
		put_cmsg(msg, IPPROTO_IPV6, IPV6_PKTINFO, sizeof(pi), &pi);
	}
}

/*
 * The control messages of an IPv6 packet proper (Linux's
 * ip6_datagram_recv_specific_ctl): IPV6_HOPLIMIT and IPV6_TCLASS.
 */
void ip6_datagram_recv_specific_ctl(struct sock *sk, struct msghdr *msg, const struct sk_buff *skb)
{
	const struct inet6_opts *o = &inet_sk(sk)->v6;
	const struct ipv6hdr *ip6h = ipv6_hdr(skb);

	if (o->rxopt & IPV6_RXOPT_HOPLIMIT) {
		int hlim = ip6h->hop_limit;

		put_cmsg(msg, IPPROTO_IPV6, IPV6_HOPLIMIT, sizeof(hlim), &hlim);
	}
	if (o->rxopt & IPV6_RXOPT_TCLASS) {
		int tclass = (int)((ntohl(ip6h->vtc_flow) >> 20) & 0xff);

		put_cmsg(msg, IPPROTO_IPV6, IPV6_TCLASS, sizeof(tclass), &tclass);
	}
}

/*
 * connect() to an IPv6 address proper (Linux's __ip6_datagram_connect):
 * the peer needs a next hop, a link-local one its link named; the source
 * is the bound address or RFC 6724's choice. A socket bound to or
 * connected with an IPv4 address cannot (-EAFNOSUPPORT, as Linux's route
 * lookup refuses a v4-mapped source).
 */
int ip6_datagram_connect(struct sock *sk, const struct sockaddr *uaddr, socklen_t len)
{
	struct sockaddr_in6 usin;
	struct in6_addr saddr;
	int err;

	if (len < SIN6_LEN_RFC2133)
		return -EINVAL;
	memset(&usin, 0, sizeof(usin));
	memcpy(&usin, uaddr, len < sizeof(usin) ? len : sizeof(usin));
	if (usin.sin6_family != AF_INET6)
		return -EAFNOSUPPORT;
	if ((ipv6_addr_is_linklocal(&usin.sin6_addr) ||
	     (ipv6_addr_is_multicast(&usin.sin6_addr) &&
	      ipv6_addr_mc_scope(&usin.sin6_addr) <= 2)) &&
	    !usin.sin6_scope_id && !sk->sk_bound_dev_if)
		return -EINVAL;
	err = ip6_datagram_route(sk, &usin.sin6_addr);
	if (err)
		return err;
	err = ip6_datagram_saddr(sk, &usin.sin6_addr, &saddr);
	if (err)
		return err;
	sk->sk_ipv6 = true;
	if (ipv6_addr_any(&sk->sk_v6_rcv_saddr))
		sk->sk_v6_rcv_saddr = saddr;
	sk->sk_v6_daddr = usin.sin6_addr;
	sk->sk_dport = usin.sin6_port;
	sk->sk_state = SK_ST_ESTABLISHED;
	if (sk->sk_socket)
		sk->sk_socket->state = SS_CONNECTED;
	return 0;
}

/* Forgets an IPv6 peer, and the source it chose unless bind() gave it. */
void ip6_datagram_forget(struct sock *sk)
{
	sk->sk_v6_daddr = in6addr_any;
	if (!sk->sk_userlocks_bindaddr) {
		sk->sk_v6_rcv_saddr = in6addr_any;
		sk->sk_ipv6 = false;
	}
}

/* connect(AF_UNSPEC): forgets the peer of either family (Linux's __udp_disconnect). */
int ip6_datagram_disconnect(struct sock *sk, int flags)
{
	int err = ip4_datagram_disconnect(sk, flags);

	ip6_datagram_forget(sk);
	return err;
}

/*
 * The hop limit and traffic class of a datagram to daddr: the control
 * message's, else the socket's (IPV6_MULTICAST_HOPS for a group, 1 when
 * unset; IPV6_UNICAST_HOPS otherwise, 0 = the link's default).
 */
void ip6_datagram_tx_params(const struct sock *sk, const struct in6_addr *daddr,
			    const struct ipcm6_cookie *ipc6, struct ip6_tx_params *p)
{
	const struct inet6_opts *o = &inet_sk(sk)->v6;

	memset(p, 0, sizeof(*p));
	if (ipc6->hlim >= 0)
		p->hop_limit = (uint8_t)ipc6->hlim;
	else if (ipv6_addr_is_multicast(daddr))
		p->hop_limit = o->mcast_hops < 0 ? 1 : (uint8_t)o->mcast_hops;
	else
		p->hop_limit = o->hop_limit < 0 ? 0 : (uint8_t)o->hop_limit;
	p->tclass = ipc6->tclass >= 0 ? (uint8_t)ipc6->tclass : (uint8_t)o->tclass;
	p->dontfrag = ipc6->dontfrag >= 0 ? ipc6->dontfrag : o->dontfrag;
	/*
	 * Linux's ip6_setup_cork(): PROBE and the modes above it ignore the
	 * learnt path MTU for the link's; IPV6_MTU lowers either.
	 */
	p->mtu = o->pmtudisc >= IPV6_PMTUDISC_PROBE ? ip6_mtu(sk->ns) : ip6_dst_mtu(sk->ns, daddr);
	if (o->mtu > 0 && (unsigned int)o->mtu < p->mtu)
		p->mtu = (unsigned int)o->mtu;
}

/* See inet_dgram.h. */
int ip6_datagram_check_mtu(struct sock *sk, const struct in6_addr *daddr, uint16_t dport,
			   const struct ip6_tx_params *p, size_t len)
{
	struct inet6_opts *o = &inet_sk(sk)->v6;
	/* DONT and WANT let the source fragment, and OMIT ignores the path: Linux's
	 * ip6_sk_ignore_df(). */
	bool may_frag = o->pmtudisc < IPV6_PMTUDISC_DO || o->pmtudisc == IPV6_PMTUDISC_OMIT;

	if (len + IPV6_HLEN <= p->mtu)
		return 0;
	if (may_frag) {
		if (!p->dontfrag)
			return 0;
		if (o->rxpmtu) {
			o->pmtu_pending = p->mtu;
			o->pmtu_addr = *daddr;
		}
	}
	ipv6_local_error(sk, EMSGSIZE, daddr, dport, p->mtu);
	return -EMSGSIZE;
}

/* See inet_dgram.h. */
void ipv6_local_error(struct sock *sk, int err, const struct in6_addr *daddr, uint16_t dport,
		      uint32_t info)
{
	struct sock_exterr_skb *serr;
	struct sk_buff *skb;
	struct ipv6hdr *h;

	if (!inet_sk(sk)->v6.recverr)
		return;
	/* An IPv6 header naming the destination, for ipv6_recv_error()'s msg_name; no data. */
	skb = alloc_skb(sk->ns, IPV6_HLEN);
	if (!skb)
		return;
	skb->protocol = ETH_P_IPV6;
	skb_reset_network_header(skb);
	h = (struct ipv6hdr *)skb_put(skb, IPV6_HLEN);
	memset(h, 0, IPV6_HLEN);
	memcpy(&h->daddr, daddr, sizeof(*daddr));
	serr = skb_exterr(skb);
	memset(serr, 0, sizeof(*serr));
	serr->ee.ee_errno = (uint32_t)err;
	serr->ee.ee_origin = SO_EE_ORIGIN_LOCAL;
	serr->ee.ee_info = info;
	serr->addr_offset = offsetof(struct ipv6hdr, daddr);
	serr->port = dport;
	skb_pull(skb, IPV6_HLEN);
	skb_reset_transport_header(skb);
	if (sock_queue_err_skb(sk, skb))
		kfree_skb(skb);
}

/* See inet_dgram.h. */
void ip6_dgram_put_name(struct sock *sk, struct msghdr *msg, const struct in6_addr *addr,
			uint16_t port)
{
	struct sockaddr_in6 sin6;

	if (!msg->msg_name)
		return;
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = port;
	memcpy(&sin6.sin6_addr, addr, sizeof(sin6.sin6_addr)); /* addr may sit in a packet */
	if (ipv6_addr_is_linklocal(&sin6.sin6_addr))
		sin6.sin6_scope_id = (uint32_t)inet_dev_index(sk->ns);
	memcpy(msg->msg_name, &sin6, sizeof(sin6));
	msg->msg_namelen = sizeof(sin6);
}

/* See inet_dgram.h. */
struct sk_buff *ip6_dgram_recv_skb(struct sock *sk, struct msghdr *msg, size_t len, int flags,
				   size_t *copied, ssize_t *ret)
{
	struct sk_buff *skb;
	int err;

	if (flags & MSG_ERRQUEUE) {
		*ret = ipv6_recv_error(sk, msg, len);
		return NULL;
	}
	if (ipv6_rxpmtu_pending(sk)) {
		*ret = ipv6_recv_rxpmtu(sk, msg);
		return NULL;
	}
	skb = skb_recv_datagram(sk, flags, &err);
	if (!skb) {
		*ret = err;
		return NULL;
	}
	err = ip_dgram_copy_msg(sk, skb, msg, len, copied);
	if (err) {
		kfree_skb(skb);
		*ret = err;
		return NULL;
	}
	return skb;
}

/* See inet_dgram.h. */
ssize_t ipv6_recv_rxpmtu(struct sock *sk, struct msghdr *msg)
{
	struct inet6_opts *o = &inet_sk(sk)->v6;
	struct ip6_mtuinfo mi;

	if (!o->pmtu_pending)
		return -EAGAIN;
	memset(&mi, 0, sizeof(mi));
	mi.ip6m_mtu = o->pmtu_pending;
	mi.ip6m_addr.sin6_family = AF_INET6;
	mi.ip6m_addr.sin6_addr = o->pmtu_addr;
	if (ipv6_addr_is_linklocal(&o->pmtu_addr))
		mi.ip6m_addr.sin6_scope_id = (uint32_t)inet_dev_index(sk->ns);
	o->pmtu_pending = 0;
	ip6_dgram_put_name(sk, msg, &mi.ip6m_addr.sin6_addr, 0);
	put_cmsg(msg, IPPROTO_IPV6, IPV6_PATHMTU, sizeof(mi), &mi);
	return 0;
}
