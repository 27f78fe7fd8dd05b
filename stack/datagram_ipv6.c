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
 * The offender is the source of the ICMPv6 packet when its network header
 * is still the outer one, else unknown ("::").
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
	if (skb_network_header(skb) < skb->data)
		memcpy(&serr->offender6, skb_network_header(skb) + offsetof(struct ipv6hdr, saddr),
		       sizeof(serr->offender6));
	off = payload >= skb->data ? (unsigned int)(payload - skb->data) : 0;
	if (off > c->len)
		off = c->len;
	skb_pull(c, off);
	skb_reset_transport_header(c);
	if (sock_queue_err_skb(sk, c))
		kfree_skb(c);
}

/* The control message of recvmsg(MSG_ERRQUEUE) on IPv6 (Linux's sock_extended_err + sin6). */
struct ip6_errhdr {
	struct sock_extended_err ee;
	struct sockaddr_in6 offender;
};

/*
 * recvmsg(MSG_ERRQUEUE) (Linux's ipv6_recv_error): an ICMPv6 error gives
 * the quoted payload as data, the original destination as msg_name and an
 * IPV6_RECVERR control message; the other entries (IPv4 errors of a
 * dual-stack socket, timestamps, zerocopy) are ip_recv_error()'s, whose
 * names af_inet6.c shows v4-mapped.
 */
ssize_t ipv6_recv_error(struct sock *sk, struct msghdr *msg, size_t len)
{
	struct sk_buff *skb = skb_peek(&sk->sk_error_queue), *next;
	struct sock_exterr_skb *serr;
	struct ip6_errhdr errhdr;
	struct sockaddr_in6 sin6;
	size_t copied;
	int err;

	if (!skb || skb_exterr(skb)->ee.ee_origin != SO_EE_ORIGIN_ICMP6)
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
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = serr->port;
	memcpy(&sin6.sin6_addr, skb_network_header(skb) + serr->addr_offset,
	       sizeof(sin6.sin6_addr));
	if (ipv6_addr_is_linklocal(&sin6.sin6_addr))
		sin6.sin6_scope_id = (uint32_t)inet_dev_index(sk->ns);
	if (msg->msg_name) {
		memcpy(msg->msg_name, &sin6, sizeof(sin6));
		msg->msg_namelen = sizeof(sin6);
	}
	memset(&errhdr, 0, sizeof(errhdr));
	errhdr.ee = serr->ee;
	errhdr.offender.sin6_family = AF_INET6;
	errhdr.offender.sin6_addr = serr->offender6;
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
	const struct inet_sock *inet = inet_sk(sk);
	struct sk_buff *skb;
	size_t copied;
	ssize_t ret;
	int err;

	if (flags & MSG_OOB)
		return -EOPNOTSUPP;
	if (flags & MSG_ERRQUEUE)
		return ipv6_recv_error(sk, msg, len);
	skb = skb_recv_datagram(sk, flags, &err);
	if (!skb)
		return err;
	err = ip_dgram_copy_msg(sk, skb, msg, len, &copied);
	if (err) {
		ret = err;
		goto out;
	}
	if (msg->msg_name) {
		struct sockaddr_in6 sin6;

		memset(&sin6, 0, sizeof(sin6));
		sin6.sin6_family = AF_INET6;
		sin6.sin6_addr = ipv6_hdr(skb)->saddr;
		if (ipv6_addr_is_linklocal(&sin6.sin6_addr))
			sin6.sin6_scope_id = (uint32_t)inet_dev_index(sk->ns);
		memcpy(msg->msg_name, &sin6, sizeof(sin6));
		msg->msg_namelen = sizeof(sin6);
	}
	if (inet->v6.rxopt) {
		ip6_datagram_recv_common_ctl(sk, msg, skb);
		ip6_datagram_recv_specific_ctl(sk, msg, skb);
	}
	ret = (ssize_t)((flags & MSG_TRUNC) ? skb->len : copied);
out:
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
}
