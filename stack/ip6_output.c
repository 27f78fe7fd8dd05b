/*
 * IPv6 output (RFC 8200): the header, the next hop of a host (RFC 4861
 * 5.2: on-link prefixes, else the default router), multicast to its
 * Ethernet group (RFC 2464), loopback to our own addresses, and the
 * neighbour cache for the rest; fragmentation (RFC 8200 4.5) of a packet
 * above the path MTU when its sender allows it (ip6_output_frag).
 */
#include <errno.h>
#include <string.h>

#include "ip_priv.h"
#include "ipv6.h"
#include "ndisc.h"
#include "stack.h"

/* The group address of an IPv6 multicast address: 33:33 and its low 32 bits (RFC 2464 7). */
void ipv6_eth_mc_map(const struct in6_addr *addr, uint8_t mac[6])
{
	mac[0] = 0x33;
	mac[1] = 0x33;
	memcpy(&mac[2], &addr->s6_addr[12], 4);
}

/* The link MTU for IPv6: the device's, or less when a router said so (RA MTU option). */
unsigned int ip6_mtu(const struct nstack *ns)
{
	unsigned int mtu = ns_dev(ns)->mtu;

	if (ns->ip6->mtu && ns->ip6->mtu < mtu)
		mtu = ns->ip6->mtu;
	return mtu;
}

/*
 * The next hop for daddr (RFC 4861 5.2, next-hop determination of a
 * host): link-local and on-link destinations directly, the rest through
 * the default router.
 */
int ip6_route_nexthop(struct nstack *ns, const struct in6_addr *daddr, struct in6_addr *nexthop)
{
	struct ipv6_state *ip6 = ns->ip6;
	uint64_t now = ns_now_batch(ns);

	if (ipv6_addr_is_linklocal(daddr) || ipv6_addr_is_multicast(daddr))
		goto onlink;
	for (unsigned int i = 0; i < IPV6_MAX_PREFIXES; i++) {
		const struct ip6_prefix *p = &ip6->onlink[i];

		if (p->expires > now && ipv6_prefix_equal(&p->prefix, daddr, p->plen))
			goto onlink;
	}
	if (ipv6_addr_any(&ip6->defrtr) || ip6->defrtr_expires <= now)
		return -ENETUNREACH;
	*nexthop = ip6->defrtr;
	return 0;
onlink:
	*nexthop = *daddr;
	return 0;
}

/* Sends skb (data at the IPv6 header) to an Ethernet address. Consumes skb. */
static int ip6_output_mac(struct sk_buff *skb, const uint8_t mac[ETH_ALEN])
{
	int err = dev_hard_header(skb, mac, ETH_P_IPV6);

	if (err) {
		kfree_skb(skb);
		return err;
	}
	return dev_queue_xmit(skb);
}

/*
 * Prepends the IPv6 header (Linux's ip6_xmit() part) to skb, whose data is
 * at the payload of plen bytes, nexthdr naming its first header.
 */
static void ip6_push_hdr(struct nstack *ns, struct sk_buff *skb, const struct in6_addr *saddr,
			 const struct in6_addr *daddr, uint8_t nexthdr,
			 const struct ip6_tx_params *p)
{
	unsigned int plen = skb->len;
	struct ipv6hdr *hdr = (struct ipv6hdr *)skb_push(skb, IPV6_HLEN);

	skb_reset_network_header(skb);
	hdr->vtc_flow = htonl(6u << 28 | (uint32_t)p->tclass << 20);
	hdr->payload_len = htons((uint16_t)plen);
	hdr->nexthdr = nexthdr;
	hdr->hop_limit = p->hop_limit ? p->hop_limit : ns->ip6->hop_limit;
	hdr->saddr = *saddr;
	hdr->daddr = *daddr;
	skb->protocol = ETH_P_IPV6;
}

/*
 * Sends a finished IPv6 packet (skb->data at its header) to daddr:
 * multicast to its group, and a copy back in for our own sockets when the
 * sending socket asks (IPV6_MULTICAST_LOOP, on by default, as Linux's
 * ip6_finish_output2); our own addresses looped back, the rest to the next
 * hop through neighbour discovery. Consumes skb.
 */
static int ip6_finish_output(struct nstack *ns, struct sk_buff *skb, const struct in6_addr *daddr)
{
	struct in6_addr nexthop;
	uint8_t mac[ETH_ALEN];
	int err;

	if (ipv6_addr_is_multicast(daddr)) {
		NS_INC_STATS(ns, Ip6OutMcastPkts);
		ipv6_eth_mc_map(daddr, mac);
		/* Only a socket's own packets: the stack's (neighbour discovery) never come back.
		 */
		if (skb->sk && inet_sk(skb->sk)->v6.mc_loop && ipv6_chk_mcast_addr(ns, daddr)) {
			struct sk_buff *c = skb_copy(skb);

			if (c && dev_hard_header(c, mac, ETH_P_IPV6) == 0)
				netif_rx(c);
			else if (c)
				kfree_skb(c);
		}
		return ip6_output_mac(skb, mac);
	}
	if (ipv6_chk_addr(ns, daddr)) {
		/* Our own address: back in through the receive path, as ip_output's loopback. */
		ip_skb_orphan(skb);
		err = dev_hard_header(skb, ns_dev(ns)->dev_addr, ETH_P_IPV6);
		if (err) {
			kfree_skb(skb);
			return err;
		}
		netif_rx(skb);
		return 0;
	}
	err = ip6_route_nexthop(ns, daddr, &nexthop);
	if (err) {
		NS_INC_STATS(ns, Ip6OutNoRoutes);
		kfree_skb(skb);
		return err;
	}
	return ndisc_output(ns, skb, &nexthop);
}

/*
 * Splits skb (data at the upper-layer header, proto) into fragments that
 * fit mtu (RFC 8200 section 4.5; Linux's ip6_fragment()): each is the IPv6
 * header, a fragment header with one identification for the datagram,
 * random and never 0 as Linux's ipv6_select_ident(), and a piece of the
 * payload, a multiple of 8 bytes but for the last. We put no extension
 * headers in the unfragmentable part. Sends them in order; consumes skb.
 */
static int ip6_fragment(struct nstack *ns, struct sk_buff *skb, const struct in6_addr *saddr,
			const struct in6_addr *daddr, uint8_t proto, const struct ip6_tx_params *p,
			unsigned int mtu)
{
	unsigned int left = skb->len, pos = 0;
	unsigned int chunk = (mtu - IPV6_HLEN - (unsigned int)sizeof(struct frag_hdr)) & ~7u;
	uint32_t id;
	int err = 0;

	do
		id = ns_random32(ns);
	while (id == 0);
	NS_INC_STATS(ns, Ip6OutRequests);
	while (left > 0) {
		unsigned int n = left > chunk ? chunk : left;
		struct sk_buff *frag = alloc_skb_hdr(ns, (unsigned int)sizeof(struct frag_hdr) + n);
		struct frag_hdr fh = {
		    .nexthdr = proto,
		    .frag_off = htons((uint16_t)(pos | (n < left ? IP6_MF : 0))),
		    .identification = htonl(id),
		};

		if (!frag) {
			err = -ENOBUFS;
			break;
		}
		memcpy(skb_put(frag, sizeof(fh)), &fh, sizeof(fh));
		memcpy(skb_put(frag, n), skb->data + pos, n);
		frag->tstamp_us = skb->tstamp_us;
		ip6_push_hdr(ns, frag, saddr, daddr, NEXTHDR_FRAGMENT, p);
		NS_INC_STATS(ns, Ip6FragCreates);
		err = ip6_finish_output(ns, frag, daddr);
		if (err)
			break;
		pos += n;
		left -= n;
	}
	if (err)
		NS_INC_STATS(ns, Ip6FragFails);
	else
		NS_INC_STATS(ns, Ip6FragOKs);
	kfree_skb(skb);
	return err;
}

/* Sends a datagram, fragmenting it when allowed; see ipv6.h. */
int ip6_output_frag(struct nstack *ns, struct sk_buff *skb, const struct in6_addr *saddr,
		    const struct in6_addr *daddr, uint8_t proto, const struct ip6_tx_params *p)
{
	static const struct ip6_tx_params defaults;
	unsigned int mtu;

	if (!p)
		p = &defaults;
	if (!ns->ip6) {
		kfree_skb(skb);
		return -ENETUNREACH;
	}
	if (skb->len > IPV6_MAXPLEN) {
		NS_INC_STATS(ns, Ip6OutDiscards);
		kfree_skb(skb);
		return -EMSGSIZE;
	}
	mtu = p->mtu ? p->mtu : ip6_dst_mtu(ns, daddr);
	if (skb->len + IPV6_HLEN > mtu) {
		if (!p->dontfrag)
			return ip6_fragment(ns, skb, saddr, daddr, proto, p, mtu);
		NS_INC_STATS(ns, Ip6FragFails);
		kfree_skb(skb);
		return -EMSGSIZE;
	}
	if (skb_headroom(skb) < IPV6_HLEN + ETH_HLEN) {
		NS_INC_STATS(ns, Ip6OutDiscards);
		kfree_skb(skb);
		return -ENOBUFS;
	}
	ip6_push_hdr(ns, skb, saddr, daddr, proto, p);
	NS_INC_STATS(ns, Ip6OutRequests);
	return ip6_finish_output(ns, skb, daddr);
}

/* Sends a packet whose IPv6 header the caller wrote; see ipv6.h. */
int ip6_send_raw(struct nstack *ns, struct sk_buff *skb, const struct in6_addr *daddr)
{
	if (!ns->ip6) {
		kfree_skb(skb);
		return -ENETUNREACH;
	}
	if (skb_headroom(skb) < ETH_HLEN) {
		NS_INC_STATS(ns, Ip6OutDiscards);
		kfree_skb(skb);
		return -ENOBUFS;
	}
	skb_reset_network_header(skb);
	skb->protocol = ETH_P_IPV6;
	NS_INC_STATS(ns, Ip6OutRequests);
	return ip6_finish_output(ns, skb, daddr);
}

/* Builds the IPv6 header and sends skb on its way, never fragmenting; see ipv6.h. */
int ip6_output(struct nstack *ns, struct sk_buff *skb, const struct in6_addr *saddr,
	       const struct in6_addr *daddr, uint8_t proto, uint8_t hop_limit)
{
	return ip6_output_tclass(ns, skb, saddr, daddr, proto, hop_limit, 0);
}

/* ip6_output() with a traffic class; see ipv6.h. */
int ip6_output_tclass(struct nstack *ns, struct sk_buff *skb, const struct in6_addr *saddr,
		      const struct in6_addr *daddr, uint8_t proto, uint8_t hop_limit,
		      uint8_t tclass)
{
	const struct ip6_tx_params p = {.hop_limit = hop_limit, .tclass = tclass, .dontfrag = true};

	return ip6_output_frag(ns, skb, saddr, daddr, proto, &p);
}
