/*
 * IPv6 output (RFC 8200): the header, the next hop of a host (RFC 4861
 * 5.2: on-link prefixes, else the default router), multicast to its
 * Ethernet group (RFC 2464), loopback to our own addresses, and the
 * neighbour cache for the rest. No fragmentation on output yet: a packet
 * above the link MTU is refused with -EMSGSIZE.
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
	uint64_t now = ns_now(ns);

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

/* Builds the IPv6 header and sends skb on its way; see ipv6.h. */
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
	struct ipv6hdr *hdr;
	struct in6_addr nexthop;
	uint8_t mac[ETH_ALEN];
	unsigned int plen = skb->len;
	int err;

	if (!ns->ip6) {
		kfree_skb(skb);
		return -ENETUNREACH;
	}
	if (plen + IPV6_HLEN > ip6_mtu(ns)) {
		NS_INC_STATS(ns, Ip6FragFails);
		kfree_skb(skb);
		return -EMSGSIZE;
	}
	if (skb_headroom(skb) < IPV6_HLEN + ETH_HLEN) {
		NS_INC_STATS(ns, Ip6OutDiscards);
		kfree_skb(skb);
		return -ENOBUFS;
	}
	hdr = (struct ipv6hdr *)skb_push(skb, IPV6_HLEN);
	skb_reset_network_header(skb);
	hdr->vtc_flow = htonl(6u << 28 | (uint32_t)tclass << 20);
	hdr->payload_len = htons((uint16_t)plen);
	hdr->nexthdr = proto;
	hdr->hop_limit = hop_limit ? hop_limit : ns->ip6->hop_limit;
	hdr->saddr = *saddr;
	hdr->daddr = *daddr;
	skb->protocol = ETH_P_IPV6;
	NS_INC_STATS(ns, Ip6OutRequests);

	if (ipv6_addr_is_multicast(daddr)) {
		NS_INC_STATS(ns, Ip6OutMcastPkts);
		ipv6_eth_mc_map(daddr, mac);
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
