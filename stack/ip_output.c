/*
 * IPv4 output (RFC 791, RFC 1122 3.3): header construction, the IP ID
 * counter, fragmentation to the route MTU and hand-off to the link:
 * loopback, broadcast, multicast or the neighbour table (arp.c).
 */
#include <errno.h>
#include <string.h>

#include "arp.h"
#include "checksum.h"
#include "ip.h"
#include "ip_priv.h"
#include "stack.h"

/* IP option types carry a "copied" flag: set means copy into every fragment. */
#define IPOPT_COPY 0x80
#define IPOPT_END  0
#define IPOPT_NOOP 1

/*
 * Next IP identification from the stack's counter (seeded at random in
 * ip_init). Linux hashes IDs per destination; one counter is enough for a
 * single-address host and keeps the sequence predictable for tests.
 */
uint16_t ip_select_ident(struct nstack *ns)
{
	return ns->ip->ident++;
}

/* Detaches skb from its owning socket, running the owner's destructor. */
void ip_skb_orphan(struct sk_buff *skb)
{
	if (skb->destructor) {
		skb_run_destructor(skb);
		skb->destructor = 0;
	}
	skb->sk = NULL;
}

/* Pushes the Ethernet header for a broadcast or multicast destination and sends. */
static int ip_output_mac(struct sk_buff *skb, const uint8_t mac[ETH_ALEN])
{
	int err = dev_hard_header(skb, mac, ETH_P_IP);

	if (err) {
		kfree_skb(skb);
		return err;
	}
	return dev_queue_xmit(skb);
}

/* Sends one packet of at most the MTU to the link. Consumes skb. */
static int ip_output_link(struct nstack *ns, struct sk_buff *skb, const struct rtable *rt)
{
	const struct iphdr *iph = (const struct iphdr *)skb->data;
	uint8_t mac[ETH_ALEN];
	int err;

	switch (rt->rt_type) {
	case RTN_LOCAL:
		/*
		 * Our own address: the packet re-enters through the receive
		 * path on the next RX round, as Linux's loopback device
		 * does. It leaves its socket's send accounting here.
		 */
		ip_skb_orphan(skb);
		err = dev_hard_header(skb, ns_dev(ns)->dev_addr, ETH_P_IP);
		if (err) {
			kfree_skb(skb);
			return err;
		}
		memcpy(skb->data, ns_dev(ns)->dev_addr, ETH_ALEN);
		netif_rx(skb);
		return 0;
	case RTN_BROADCAST:
		return ip_output_mac(skb, ns_dev(ns)->broadcast);
	case RTN_MULTICAST:
		/* RFC 1112 6.4: 01:00:5e followed by the low 23 bits of the group. */
		mac[0] = 0x01;
		mac[1] = 0x00;
		mac[2] = 0x5e;
		memcpy(&mac[3], (const uint8_t *)&iph->daddr + 1, 3);
		mac[3] &= 0x7f;
		return ip_output_mac(skb, mac);
	case RTN_UNICAST:
	default:
		return neigh_output(ns, skb, rt->rt_gateway);
	}
}

/*
 * Neutralises the options a non-first fragment must not carry: options
 * without the copied flag become NOPs, as Linux's ip_options_fragment().
 */
static void ip_options_fragment(uint8_t *opt, unsigned int len)
{
	unsigned int i = 0;

	while (i < len) {
		unsigned int olen;

		if (opt[i] == IPOPT_END)
			break;
		if (opt[i] == IPOPT_NOOP) {
			i++;
			continue;
		}
		if (i + 1 >= len || opt[i + 1] < 2 || opt[i + 1] > len - i)
			break; /* malformed: leave the rest as is */
		olen = opt[i + 1];
		if (!(opt[i] & IPOPT_COPY))
			memset(&opt[i], IPOPT_NOOP, olen);
		i += olen;
	}
}

/*
 * Splits skb (a whole IP packet, data at its header) into fragments of at
 * most mtu bytes (RFC 791 section 3.2, "Fragmentation"), sends them in
 * order and frees skb.
 */
static int ip_fragment(struct nstack *ns, struct sk_buff *skb, const struct rtable *rt,
		       unsigned int mtu)
{
	const struct iphdr *iph = (const struct iphdr *)skb->data;
	unsigned int hlen = IP_IHL(iph) * 4u;
	unsigned int left = skb->len - hlen;
	unsigned int pos = 0;
	uint16_t orig_off = ntohs(iph->frag_off);
	unsigned int base = (orig_off & IP_OFFMASK) * 8u;
	unsigned int chunk;
	int err = 0;

	if (iph->frag_off & htons(IP_DF)) {
		NS_INC_STATS(ns, IpFragFails);
		kfree_skb(skb);
		return -EMSGSIZE;
	}
	/* Every fragment but the last carries a multiple of 8 bytes. */
	chunk = (mtu - hlen) & ~7u;
	if (mtu <= hlen || chunk == 0) {
		NS_INC_STATS(ns, IpFragFails);
		kfree_skb(skb);
		return -EMSGSIZE;
	}
	while (left > 0) {
		unsigned int n = left > chunk ? chunk : left;
		struct sk_buff *frag = alloc_skb_hdr(ns, hlen + n);
		struct iphdr *fh;
		uint16_t off;

		if (!frag) {
			err = -ENOBUFS;
			break;
		}
		fh = (struct iphdr *)skb_put(frag, hlen + n);
		memcpy(fh, iph, hlen);
		memcpy((uint8_t *)fh + hlen, skb->data + hlen + pos, n);
		if (pos > 0 && hlen > IP_HLEN_MIN)
			ip_options_fragment((uint8_t *)(fh + 1), hlen - IP_HLEN_MIN);
		off = (uint16_t)((base + pos) / 8u);
		/* The last piece keeps the original MF (a fragment being refragmented). */
		if (n < left || (orig_off & IP_MF))
			off |= IP_MF;
		fh->frag_off = htons(off);
		fh->tot_len = htons((uint16_t)(hlen + n));
		fh->check = 0;
		fh->check = ip_fast_csum(fh, hlen / 4u);
		frag->protocol = ETH_P_IP;
		skb_reset_network_header(frag);
		frag->tstamp_us = skb->tstamp_us;
		NS_INC_STATS(ns, IpFragCreates);
		err = ip_output_link(ns, frag, rt);
		if (err)
			break;
		pos += n;
		left -= n;
	}
	if (err)
		NS_INC_STATS(ns, IpFragFails);
	else
		NS_INC_STATS(ns, IpFragOKs);
	kfree_skb(skb);
	return err;
}

/*
 * Transmits a finished IP packet along rt, fragmenting it when it exceeds
 * the route MTU (Linux's ip_finish_output). Consumes skb.
 */
int ip_finish_output(struct nstack *ns, struct sk_buff *skb, const struct rtable *rt)
{
	if (skb->len > rt->rt_mtu) {
		/* Fragments carry pieces of the segment: its checksum must be whole first. */
		skb_checksum_help(skb);
		return ip_fragment(ns, skb, rt, rt->rt_mtu);
	}
	return ip_output_link(ns, skb, rt);
}

/*
 * Makes sure skb has need bytes of headroom, and with private_data that
 * its data may be written, copying it otherwise. The headroom of a clone
 * belongs to whoever holds the clone: TCP sends a clone of its queued
 * segment and never has two in flight (Linux's skb_header_release()
 * convention), so headers are pushed into it without a copy.
 */
static struct sk_buff *ip_ensure_headroom(struct nstack *ns, struct sk_buff *skb, unsigned int need,
					  bool private_data)
{
	struct sk_buff *n;

	if (skb_headroom(skb) >= need && !(private_data && skb_cloned(skb)))
		return skb;
	n = alloc_skb_hdr(ns, skb->len);
	if (!n) {
		kfree_skb(skb);
		return NULL;
	}
	memcpy(skb_put(n, skb->len), skb->data, skb->len);
	n->tstamp_us = skb->tstamp_us;
	kfree_skb(skb);
	return n;
}

/*
 * Prepends the IPv4 header and sends (see ip.h). The header follows
 * RFC 791 section 3.1; the checks and errnos follow Linux's
 * ip_queue_xmit()/ip_append_data(): -EACCES for a broadcast without
 * SO_BROADCAST, -EMSGSIZE past 65535 bytes or over the MTU with DF.
 */
int ip_build_and_send(struct nstack *ns, struct sk_buff *skb, uint32_t saddr, uint32_t daddr,
		      uint8_t protocol, const struct ip_tx_params *p)
{
	static const struct ip_tx_params defaults;
	struct rtable rt;
	struct iphdr *iph;
	unsigned int tot_len;
	int err;

	if (!p)
		p = &defaults;
	err = ip_route_output(ns, daddr, &rt);
	if (err) {
		kfree_skb(skb); /* counted as IpOutNoRoutes */
		return err;
	}
	if (rt.rt_type == RTN_BROADCAST && !p->broadcast_ok) {
		err = -EACCES;
		goto drop;
	}
	tot_len = skb->len + IP_HLEN_MIN;
	if (tot_len > IP_MAXPACKET) {
		err = -EMSGSIZE;
		goto drop;
	}
	if (p->df && tot_len > rt.rt_mtu) {
		NS_INC_STATS(ns, IpFragFails);
		err = -EMSGSIZE;
		goto drop;
	}
	skb = ip_ensure_headroom(ns, skb, IP_HLEN_MIN + ETH_HLEN, false);
	if (!skb) {
		NS_INC_STATS(ns, IpOutDiscards);
		return -ENOBUFS;
	}
	skb_reset_transport_header(skb);
	iph = (struct iphdr *)skb_push(skb, IP_HLEN_MIN);
	skb_reset_network_header(skb);
	skb->protocol = ETH_P_IP;
	iph->ver_ihl = 0x45;
	iph->tos = p->tos;
	iph->tot_len = htons((uint16_t)tot_len);
	iph->id = htons(p->id_set ? p->id : ip_select_ident(ns));
	iph->frag_off = p->df ? htons(IP_DF) : 0;
	iph->ttl = p->ttl ? p->ttl : IPDEFTTL;
	iph->protocol = protocol;
	iph->saddr = saddr ? saddr : rt.rt_src;
	iph->daddr = rt.rt_dst;
	iph->check = 0;
	iph->check = ip_fast_csum(iph, 5);
	skb->tstamp_us = ns_now_batch(ns);
	NS_INC_STATS(ns, IpOutRequests);
	return ip_finish_output(ns, skb, &rt);

drop:
	NS_INC_STATS(ns, IpOutDiscards);
	kfree_skb(skb);
	return err;
}

/*
 * Sends a packet whose IP header the caller built (IP_HDRINCL). As Linux's
 * raw_send_hdrinc(): tot_len and the checksum are always filled in, a zero
 * source or ID is filled in, and a packet over the MTU fails with -EMSGSIZE
 * rather than being fragmented.
 */
int ip_send_raw(struct nstack *ns, struct sk_buff *skb)
{
	struct iphdr *iph = (struct iphdr *)skb->data;
	struct rtable rt;
	unsigned int hlen;
	int err;

	if (skb->len < IP_HLEN_MIN || skb->len > IP_MAXPACKET) {
		err = skb->len < IP_HLEN_MIN ? -EINVAL : -EMSGSIZE;
		goto drop;
	}
	hlen = IP_IHL(iph) * 4u;
	if (hlen < IP_HLEN_MIN || hlen > skb->len) {
		err = -EINVAL;
		goto drop;
	}
	err = ip_route_output(ns, iph->daddr, &rt);
	if (err) {
		kfree_skb(skb); /* counted as IpOutNoRoutes */
		return err;
	}
	if (skb->len > rt.rt_mtu) {
		err = -EMSGSIZE;
		goto drop;
	}
	if (skb_headroom(skb) < ETH_HLEN || skb_cloned(skb)) {
		skb = ip_ensure_headroom(ns, skb, ETH_HLEN, true);
		if (!skb) {
			NS_INC_STATS(ns, IpOutDiscards);
			return -ENOBUFS;
		}
		iph = (struct iphdr *)skb->data;
	}
	skb_reset_network_header(skb);
	skb->protocol = ETH_P_IP;
	if (iph->saddr == 0)
		iph->saddr = rt.rt_src;
	if (iph->id == 0)
		iph->id = htons(ip_select_ident(ns));
	iph->tot_len = htons((uint16_t)skb->len);
	iph->check = 0;
	iph->check = ip_fast_csum(iph, hlen / 4u);
	skb->tstamp_us = ns_now_batch(ns);
	NS_INC_STATS(ns, IpOutRequests);
	return ip_output_link(ns, skb, &rt);

drop:
	NS_INC_STATS(ns, IpOutDiscards);
	kfree_skb(skb);
	return err;
}
