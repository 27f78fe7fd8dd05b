/*
 * IPPROTO_IPV6 socket options (Linux's net/ipv6/ipv6_sockglue.c), with
 * Linux's checks and errnos. They are kept per socket (struct inet6_opts)
 * and govern its IPv6 traffic proper (TCP and UDP over IPv6); the IPv4
 * traffic of an AF_INET6 socket (v4-mapped) follows the IPPROTO_IP
 * options, as on Linux.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "inet.h"
#include "ipv6.h"
#include "netdevice.h"
#include "sock.h"
#include "stack.h"

/* net.ipv6.conf.default.hop_limit. */
#define IPV6_DEFAULT_HOPLIMIT 64
#define IPV6_MIN_MTU	      1280

static void set_rxopt(struct inet6_opts *o, uint8_t bit, int on)
{
	if (on)
		o->rxopt |= bit;
	else
		o->rxopt &= (uint8_t)~bit;
}

int ipv6_setsockopt(struct sock *sk, int optname, const void *optval, socklen_t optlen)
{
	struct inet6_opts *o = &inet_sk(sk)->v6;
	int val;

	if (!optval || optlen < sizeof(int))
		return -EINVAL;
	memcpy(&val, optval, sizeof(val));
	switch (optname) {
	case IPV6_V6ONLY:
		/* Decided before the port is taken: it chooses the port space. */
		if (sk->sk_num)
			return -EINVAL;
		o->ipv6only = val != 0;
		return 0;
	case IPV6_UNICAST_HOPS:
		if (val > 255 || val < -1)
			return -EINVAL;
		o->hop_limit = (int16_t)val;
		return 0;
	case IPV6_MULTICAST_HOPS:
		if (sk->sk_type == SOCK_STREAM)
			return -ENOPROTOOPT;
		if (val > 255 || val < -1)
			return -EINVAL;
		o->mcast_hops = (int16_t)val;
		return 0;
	case IPV6_MULTICAST_LOOP:
		if (val != 0 && val != 1)
			return -EINVAL;
		o->mc_loop = val;
		return 0;
	case IPV6_MULTICAST_IF:
		if (sk->sk_type == SOCK_STREAM)
			return -ENOPROTOOPT;
		if (val && (!ns_dev(sk->ns) || val != ns_dev(sk->ns)->ifindex))
			return -ENODEV;
		o->mcast_oif = val;
		return 0;
	case IPV6_TCLASS:
		if (val < -1 || val > 0xff)
			return -EINVAL;
		o->tclass = (int16_t)(val < 0 ? 0 : val);
		return 0;
	case IPV6_RECVPKTINFO:
		set_rxopt(o, IPV6_RXOPT_PKTINFO, val);
		return 0;
	case IPV6_RECVHOPLIMIT:
		set_rxopt(o, IPV6_RXOPT_HOPLIMIT, val);
		return 0;
	case IPV6_RECVTCLASS:
		set_rxopt(o, IPV6_RXOPT_TCLASS, val);
		return 0;
	case IPV6_RECVERR:
		o->recverr = val != 0;
		if (!val)
			skb_queue_purge(&sk->sk_error_queue);
		return 0;
	case IPV6_MTU_DISCOVER:
		if (val < IPV6_PMTUDISC_DONT || val > IPV6_PMTUDISC_OMIT)
			return -EINVAL;
		o->pmtudisc = (uint8_t)val;
		return 0;
	case IPV6_MTU:
		if (val && val < IPV6_MIN_MTU)
			return -EINVAL;
		o->mtu = val;
		return 0;
	case IPV6_DONTFRAG:
		o->dontfrag = val != 0;
		return 0;
	case IPV6_RECVPATHMTU:
		o->rxpmtu = val != 0;
		return 0;
	default:
		return -ENOPROTOOPT;
	}
}

int ipv6_getsockopt(struct sock *sk, int optname, void *optval, socklen_t *optlen)
{
	const struct inet6_opts *o = &inet_sk(sk)->v6;
	int val;

	switch (optname) {
	case IPV6_PATHMTU: {
		/* A connected socket's path MTU, as Linux: the address is left zero. */
		struct ip6_mtuinfo mi;

		if (*optlen < sizeof(mi))
			return -EINVAL;
		if (!sk->sk_dport || !sk->sk_ipv6 || !sk->ns->ip6)
			return -ENOTCONN;
		memset(&mi, 0, sizeof(mi));
		mi.ip6m_mtu = ip6_dst_mtu(sk->ns, &sk->sk_v6_daddr);
		return sock_put_opt(optval, optlen, &mi, sizeof(mi));
	}
	case IPV6_DONTFRAG:
		val = o->dontfrag;
		break;
	case IPV6_RECVPATHMTU:
		val = o->rxpmtu;
		break;
	case IPV6_V6ONLY:
		val = o->ipv6only;
		break;
	case IPV6_UNICAST_HOPS:
		val = o->hop_limit < 0 ? IPV6_DEFAULT_HOPLIMIT : o->hop_limit;
		break;
	case IPV6_MULTICAST_HOPS:
		val = o->mcast_hops < 0 ? 1 : o->mcast_hops;
		break;
	case IPV6_MULTICAST_LOOP:
		val = o->mc_loop;
		break;
	case IPV6_MULTICAST_IF:
		val = o->mcast_oif;
		break;
	case IPV6_TCLASS:
		val = o->tclass;
		break;
	case IPV6_RECVPKTINFO:
		val = !!(o->rxopt & IPV6_RXOPT_PKTINFO);
		break;
	case IPV6_RECVHOPLIMIT:
		val = !!(o->rxopt & IPV6_RXOPT_HOPLIMIT);
		break;
	case IPV6_RECVTCLASS:
		val = !!(o->rxopt & IPV6_RXOPT_TCLASS);
		break;
	case IPV6_RECVERR:
		val = o->recverr;
		break;
	case IPV6_MTU_DISCOVER:
		val = o->pmtudisc;
		break;
	case IPV6_MTU:
		/* The path MTU of a connected socket: its IPv6 path, or its IPv4 one. */
		if (!sk->sk_dport || !ns_dev(sk->ns))
			return -ENOTCONN;
		if (sk->sk_ipv6 && sk->ns->ip6)
			val = (int)ip6_dst_mtu(sk->ns, &sk->sk_v6_daddr);
		else
			val = (int)ns_dev(sk->ns)->mtu;
		break;
	default:
		return -ENOPROTOOPT;
	}
	return sock_put_opt(optval, optlen, &val, sizeof(val));
}
