/*
 * TCP over IPv6 (Linux's net/ipv6/tcp_ipv6.c): the receive entry point,
 * active open to an IPv6 address, ICMPv6 errors, and the address helpers
 * that let the rest of TCP handle a segment of either family.
 *
 * An AF_INET6 socket is one tcp_sock whichever family it carries: once it
 * is bound to or connected with an IPv6 address proper, sk->sk_ipv6 is set
 * and its addresses are sk_v6_rcv_saddr/sk_v6_daddr; its connections live
 * in the same hash tables as IPv4's, keyed by tcp_v6_fold() of the
 * addresses and compared in full.
 */
#include <errno.h>
#include <string.h>

#include "icmpv6.h"
#include "ip.h"
#include "ipv6.h"
#include "stack.h"
#include "tcp.h"

/* See tcp.h: keyed by the stack's hash secret, so that peers cannot aim at one chain. */
uint32_t tcp_v6_fold(const struct nstack *ns, const struct in6_addr *a)
{
	uint32_t w[4], h = ns->tcp->hash_secret;

	memcpy(w, a->s6_addr, sizeof(w));
	for (int i = 0; i < 4; i++)
		h = tcp_mix32(h ^ w[i]);
	return h;
}

/* See tcp.h. */
void tcp_skb_addrs(const struct sk_buff *skb, struct tcp_addrs *a)
{
	if (skb->protocol == ETH_P_IPV6) {
		const struct ipv6hdr *ip6h = ipv6_hdr(skb);

		a->v6 = true;
		a->dsfield = (uint8_t)(ntohl(ip6h->vtc_flow) >> 20);
		a->saddr6 = ip6h->saddr;
		a->daddr6 = ip6h->daddr;
		a->saddr = tcp_v6_fold(skb->ns, &a->saddr6);
		a->daddr = tcp_v6_fold(skb->ns, &a->daddr6);
		return;
	}
	const struct iphdr *iph = (const struct iphdr *)skb_network_header(skb);

	a->v6 = false;
	a->dsfield = iph->tos;
	a->saddr = iph->saddr;
	a->daddr = iph->daddr;
}

/* See tcp.h. */
uint8_t tcp_skb_dsfield(const struct sk_buff *skb)
{
	if (skb->protocol == ETH_P_IPV6)
		return (uint8_t)(ntohl(ipv6_hdr(skb)->vtc_flow) >> 20);
	return ((const struct iphdr *)skb_network_header(skb))->tos;
}

/* See tcp.h; for IPv6 the folds are left 0 (nothing on the send path needs them). */
void tcp_sk_addrs(const struct sock *sk, struct tcp_addrs *a)
{
	a->v6 = sk->sk_ipv6;
	a->dsfield = 0;
	if (a->v6) {
		a->saddr = a->daddr = 0;
		a->saddr6 = sk->sk_v6_rcv_saddr;
		a->daddr6 = sk->sk_v6_daddr;
		return;
	}
	a->saddr = inet_sk(sk)->inet_saddr;
	a->daddr = sk->sk_daddr;
}

/* See tcp.h. */
void tcp_req_addrs(const struct tcp_request_sock *req, struct tcp_addrs *a)
{
	a->v6 = req->v6;
	a->dsfield = 0;
	a->saddr = req->loc_addr;
	a->daddr = req->rmt_addr;
	if (a->v6) {
		a->saddr6 = req->loc6;
		a->daddr6 = req->rmt6;
	}
}

/*
 * Active open to an IPv6 address (tcp_v6_connect): the next hop must
 * exist, the source comes from the bound address or RFC 6724's choice,
 * then the common part. "::" means the host itself, which is the
 * kernel's loopback, not nstack's.
 */
int tcp_v6_connect(struct sock *sk, const struct sockaddr *uaddr, socklen_t len)
{
	struct sockaddr_in6 usin;
	struct nstack *ns = sk->ns;
	struct in6_addr nexthop, saddr;
	bool was_v6 = sk->sk_ipv6;
	int err;

	if (len < SIN6_LEN_RFC2133)
		return -EINVAL;
	memset(&usin, 0, sizeof(usin));
	memcpy(&usin, uaddr, len < sizeof(usin) ? len : sizeof(usin));
	if (usin.sin6_family != AF_INET6)
		return -EAFNOSUPPORT;
	if (!ns->ip6 || ipv6_addr_any(&usin.sin6_addr) || ipv6_addr_loopback(&usin.sin6_addr) ||
	    ipv6_addr_is_multicast(&usin.sin6_addr))
		return -ENETUNREACH;
	/* A link-local peer needs its link named (Linux: -EINVAL). */
	if (ipv6_addr_is_linklocal(&usin.sin6_addr) && !usin.sin6_scope_id && !sk->sk_bound_dev_if)
		return -EINVAL;
	err = ip6_route_nexthop(ns, &usin.sin6_addr, &nexthop);
	if (err)
		return err;
	if (ipv6_addr_any(&sk->sk_v6_rcv_saddr)) {
		err = ipv6_dev_get_saddr(ns, &usin.sin6_addr, &saddr);
		if (err)
			return err;
	} else {
		saddr = sk->sk_v6_rcv_saddr;
	}
	sk->sk_ipv6 = true;
	sk->sk_v6_rcv_saddr = saddr;
	sk->sk_v6_daddr = usin.sin6_addr;
	sk->sk_dport = usin.sin6_port;
	err = tcp_connect_finish(sk, ip6_dst_mtu(ns, &usin.sin6_addr), tcp_v6_fold(ns, &saddr),
				 tcp_v6_fold(ns, &usin.sin6_addr));
	if (err) {
		sk->sk_ipv6 = was_v6;
		if (!sk->sk_userlocks_bindaddr)
			sk->sk_v6_rcv_saddr = in6addr_any;
		sk->sk_v6_daddr = in6addr_any;
		sk->sk_dport = 0;
	}
	return err;
}

/* The handler in the IPv6 demux (tcp_v6_rcv). */
static int tcp_v6_rcv(struct sk_buff *skb)
{
	struct tcp_addrs a;

	/* RFC 8200 2.7 and 4291: never to or from multicast, never from ours looped weirdly. */
	if (ipv6_addr_is_multicast(&ipv6_hdr(skb)->daddr) ||
	    ipv6_addr_is_multicast(&ipv6_hdr(skb)->saddr)) {
		NS_INC_STATS(skb->ns, TcpInErrs);
		kfree_skb(skb);
		return 0;
	}
	tcp_skb_addrs(skb, &a);
	return tcp_rcv(skb, &a);
}

/*
 * ICMPv6 errors about a segment we sent (tcp_v6_err): Packet Too Big
 * lowers the MSS (the PMTU cache was updated by ICMPv6) and resends what
 * no longer fits; the rest are reported as tcp_v4_err does.
 */
static void tcp_v6_err(struct sk_buff *skb, uint8_t type, uint8_t code, int offset, uint32_t info)
{
	struct nstack *ns = skb->ns;
	const struct ipv6hdr *ip6h = (const struct ipv6hdr *)skb->data;
	const struct tcphdr *th;
	struct tcp_addrs a;
	struct sock *sk;
	int err;
	bool fatal;

	if (offset < (int)sizeof(*ip6h) || skb->len < (unsigned int)offset + 8)
		return;
	th = (const struct tcphdr *)(skb->data + offset);
	/* The quoted segment is ours: its destination is the peer. */
	memset(&a, 0, sizeof(a));
	a.v6 = true;
	a.saddr6 = ip6h->daddr;
	a.daddr6 = ip6h->saddr;
	a.saddr = tcp_v6_fold(ns, &a.saddr6);
	a.daddr = tcp_v6_fold(ns, &a.daddr6);
	fatal = icmpv6_err_convert(type, code, &err);
	sk = tcp_err_lookup(ns, &a, th, fatal);
	if (!sk)
		return;
	if (type == ICMPV6_PKT_TOOBIG) {
		unsigned int mtu = ip6_dst_mtu(ns, &sk->sk_v6_daddr);

		if (mtu < tcp_sk(sk)->pmtu) {
			tcp_sync_mss(sk, mtu);
			tcp_simple_retransmit(sk);
		}
		return;
	}
	if (err)
		tcp_err_report(sk, err);
}

static const struct inet6_protocol tcpv6_protocol = {
    .handler = tcp_v6_rcv,
    .err_handler = tcp_v6_err,
};

/* Registers TCP in the IPv6 demux when the stack runs IPv6. */
int tcp_v6_init(struct nstack *ns)
{
	if (!ns->ip6)
		return 0;
	return inet6_add_protocol(ns, &tcpv6_protocol, IPPROTO_TCP);
}

void tcp_v6_exit(struct nstack *ns)
{
	if (ns->ip6)
		inet6_del_protocol(ns, IPPROTO_TCP);
}
