/*
 * IPv4 input (RFC 791, RFC 1122 3.2.1): header validation as Linux's
 * ip_rcv_core(), the destination check of a host that does not forward,
 * reassembly, and delivery to raw sockets and inet_protos[].
 */
#include <errno.h>
#include <string.h>

#include "checksum.h"
#include "icmp.h"
#include "ip.h"
#include "ip_priv.h"
#include "raw.h"
#include "stack.h"

#define IP_ALLHOSTS_GROUP 0xe0000001u /* 224.0.0.1, host order */

#define IPOPT_END  0
#define IPOPT_NOOP 1
#define IPOPT_LSRR 0x83
#define IPOPT_SSRR 0x89

/*
 * Walks the options of iph (RFC 791 section 3.1, "Options") the way Linux's
 * ip_options_compile() checks their framing. Returns the offset from the
 * header start of the first bad octet, or 0 when the options are sound;
 * *srr tells whether a source route is present.
 */
static unsigned int ip_options_check(const uint8_t *iph, unsigned int hlen, bool *srr)
{
	unsigned int i = IP_HLEN_MIN;

	*srr = false;
	while (i < hlen) {
		unsigned int olen;

		if (iph[i] == IPOPT_END)
			break;
		if (iph[i] == IPOPT_NOOP) {
			i++;
			continue;
		}
		if (hlen - i < 2)
			return i;
		olen = iph[i + 1];
		if (olen < 2 || olen > hlen - i)
			return i;
		if (iph[i] == IPOPT_LSRR || iph[i] == IPOPT_SSRR) {
			if (olen < 3)
				return i + 1;
			if (iph[i + 2] < 4)
				return i + 2;
			if (*srr) /* RFC 1812 5.2.4.1: one source route at most */
				return i;
			*srr = true;
		}
		i += olen;
	}
	return 0;
}

/* True for a frame we sent to ourselves (both MACs are ours). */
static bool ip_skb_is_loopback(const struct sk_buff *skb)
{
	const struct ethhdr *eth;

	if (skb->pkt_type == PACKET_LOOPBACK)
		return true;
	if (skb->mac_header == SKB_HDR_UNSET)
		return false;
	eth = (const struct ethhdr *)skb_mac_header(skb);
	return memcmp(eth->h_source, ns_dev(skb->ns)->dev_addr, ETH_ALEN) == 0;
}

/*
 * A source address no single host can own (RFC 1122 3.2.1.3, Linux's
 * martian source): multicast, limited broadcast, 0/8, 127/8, class E, our
 * subnet's broadcast, or our own address arriving from another host.
 */
static bool ip_martian_source(const struct nstack *ns, const struct sk_buff *skb, uint32_t saddr,
			      uint32_t daddr)
{
	if (ipv4_is_multicast(saddr) || ipv4_is_lbcast(saddr) || ipv4_is_loopback(saddr) ||
	    ipv4_is_class_e(saddr) || ip_addr_is_subnet_bcast(ns, saddr))
		return true;
	/* 0.0.0.0 is a legal source only for a host learning its address
	 * (DHCP), which only sends to broadcast. */
	if (ipv4_is_zeronet(saddr))
		return !(saddr == 0 && ipv4_is_lbcast(daddr));
	if (saddr == ns->cfg.addr && !ip_skb_is_loopback(skb))
		return true;
	return false;
}

/* Destinations a host without forwarding accepts (RFC 1122 3.2.1.3, 3.3.6). */
static bool ip_dest_accepted(const struct nstack *ns, uint32_t daddr)
{
	return inet_addr_is_local(ns, daddr) || ipv4_is_lbcast(daddr) ||
	       ip_addr_is_subnet_bcast(ns, daddr) || daddr == htonl(IP_ALLHOSTS_GROUP);
}

/*
 * Delivers a whole datagram (skb->data at its IP header) to raw sockets and
 * the transport handler (Linux's ip_local_deliver_finish()). A protocol
 * nobody handles earns an ICMP protocol unreachable (RFC 1122 3.2.2.1).
 */
int ip_local_deliver(struct sk_buff *skb)
{
	struct nstack *ns = skb->ns;
	const struct iphdr *iph = (const struct iphdr *)skb->data;
	const struct inet_protocol *prot;
	uint8_t protocol = iph->protocol;
	bool raw_took;

	skb_reset_network_header(skb);
	raw_took = raw_local_deliver(ns, skb, protocol);
	if (!skb_pull(skb, IP_IHL(iph) * 4u)) {
		NS_INC_STATS(ns, IpInHdrErrors);
		kfree_skb(skb);
		return -EINVAL;
	}
	skb_reset_transport_header(skb);
	prot = inet_protocol_get(ns, protocol);
	if (prot && prot->handler) {
		NS_INC_STATS(ns, IpInDelivers);
		return prot->handler(skb);
	}
	if (raw_took) {
		NS_INC_STATS(ns, IpInDelivers);
	} else {
		NS_INC_STATS(ns, IpInUnknownProtos);
		icmp_send(skb, ICMP_DEST_UNREACH, ICMP_PROT_UNREACH, 0);
	}
	kfree_skb(skb);
	return 0;
}

/*
 * The packet_type handler for ETH_P_IP: Linux's ip_rcv_core() checks in
 * its order, then the route decision of a non-forwarding host.
 */
int ip_rcv(struct sk_buff *skb, struct net_device *dev)
{
	struct nstack *ns = skb->ns;
	const struct iphdr *iph;
	unsigned int hlen, tot_len;

	(void)dev;
	if (skb->pkt_type == PACKET_OTHERHOST)
		goto drop;
	NS_INC_STATS(ns, IpInReceives);
	if (!pskb_may_pull(skb, IP_HLEN_MIN))
		goto inhdr_error;
	iph = (const struct iphdr *)skb->data;
	hlen = IP_IHL(iph) * 4u;
	if (IP_VERSION(iph) != 4 || hlen < IP_HLEN_MIN)
		goto inhdr_error;
	if (!pskb_may_pull(skb, hlen))
		goto inhdr_error;
	if (ip_fast_csum(iph, hlen / 4u) != 0)
		goto csum_error;
	tot_len = ntohs(iph->tot_len);
	if (skb->len < tot_len) {
		NS_INC_STATS(ns, IpInTruncatedPkts);
		goto drop;
	}
	if (tot_len < hlen)
		goto inhdr_error;
	/* Ethernet pads short frames; the padding is not ours to deliver. */
	skb_trim(skb, tot_len);
	skb_reset_network_header(skb);
	/* RFC 791: the reserved flag must be zero. */
	if (iph->frag_off & htons(IP_CE))
		goto inhdr_error;
	if (ip_martian_source(ns, skb, iph->saddr, iph->daddr) ||
	    !ip_dest_accepted(ns, iph->daddr)) {
		NS_INC_STATS(ns, IpInAddrErrors);
		goto drop;
	}
	if (hlen > IP_HLEN_MIN) {
		/*
		 * Options: malformed framing earns a parameter problem
		 * pointing at the bad octet; a source route is dropped, as
		 * Linux does with accept_source_route=0. The rest (record
		 * route, timestamps, security) is ignored, as a host that does
		 * not forward may.
		 */
		bool srr;
		unsigned int bad = ip_options_check(skb->data, hlen, &srr);

		if (bad) {
			icmp_send(skb, ICMP_PARAMETERPROB, 0, bad);
			goto inhdr_error;
		}
		if (srr) {
			NS_INC_STATS(ns, IpInDiscards);
			goto drop;
		}
	}
	if (iph->frag_off & htons(IP_MF | IP_OFFMASK)) {
		skb = ip_defrag(ns, skb);
		if (!skb)
			return 0;
	}
	return ip_local_deliver(skb);

csum_error:
	NS_INC_STATS(ns, IpInCsumErrors);
inhdr_error:
	NS_INC_STATS(ns, IpInHdrErrors);
drop:
	kfree_skb(skb);
	return -EINVAL;
}

/* A whole, option-free datagram's flow and sequence, from its transport protocol. */
static bool ip_rx_order_key(struct nstack *ns, const uint8_t *nh, size_t len,
			    struct rx_order_key *key)
{
	const struct iphdr *iph = (const struct iphdr *)nh;
	const struct inet_protocol *ipprot;
	size_t tot;

	if (len < sizeof(*iph) || !IP_PLAIN_WHOLE(iph))
		return false;
	tot = ntohs(iph->tot_len);
	if (tot < sizeof(*iph) || tot > len)
		return false;
	ipprot = ns_unref(ns->inet_protos[iph->protocol]);
	if (!ipprot || !ipprot->rx_order_key)
		return false;
	key->saddr = iph->saddr;
	key->daddr = iph->daddr;
	key->proto = iph->protocol;
	return ipprot->rx_order_key(nh + sizeof(*iph), tot - sizeof(*iph), key);
}

static const struct packet_type ip_packet_type = {
    .type = ETH_P_IP,
    .func = ip_rcv,
    .rx_order_key = ip_rx_order_key,
};

/* Creates the IPv4 state (ID counter seeded at random) and registers ETH_P_IP. */
int ip_init(struct nstack *ns)
{
	struct ipv4_state *ip = ns_zalloc(ns, sizeof(*ip));
	int err;

	if (!ip)
		return -ENOMEM;
	ip->ident = (uint16_t)ns_random32(ns);
	ns->ip = ip;
	err = dev_add_pack(ns, &ip_packet_type);
	if (err) {
		ns_free(ns, ip);
		ns->ip = NULL;
	}
	return err;
}

/* Unregisters ETH_P_IP and frees the IPv4 state. */
void ip_exit(struct nstack *ns)
{
	if (!ns->ip)
		return;
	dev_remove_pack(ns, &ip_packet_type);
	ns_free(ns, ns->ip);
	ns->ip = NULL;
}
