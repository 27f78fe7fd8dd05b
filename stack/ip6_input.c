/*
 * IPv6 input (RFC 8200): header checks in the order of Linux's ipv6_rcv(),
 * the destination check of a host, the extension header walk (hop-by-hop
 * first only, destination options, routing, fragment) and delivery to the
 * registered transports. Also the module's set-up (ipv6_init).
 */
#include <errno.h>
#include <string.h>

#include "addrconf.h"
#include "icmpv6.h"
#include "ipv6.h"
#include "ndisc.h"
#include "rawv6.h"
#include "stack.h"

/* Linux's net.ipv6.max_{hbh,dst}_opts_number: non-padding options per header. */
#define IP6_MAX_OPTS_CNT 8

#define IPV6_TLV_ROUTERALERT 5
#define IPV6_SRCRT_TYPE_0    0
#define IPV6_SRCRT_TYPE_3    3 /* RPL: off by default in Linux (rpl_seg_enabled) */
#define IPV6_SRCRT_TYPE_4    4 /* segment routing: off by default (seg6_enabled) */

/* Registers a transport for next header value proto. */
int inet6_add_protocol(struct nstack *ns, const struct inet6_protocol *prot, uint8_t proto)
{
	if (ns->ip6->protos[proto])
		return -EEXIST;
	ns->ip6->protos[proto] = ns_ref(prot);
	return 0;
}

/* Removes the transport of proto. */
void inet6_del_protocol(struct nstack *ns, uint8_t proto)
{
	ns->ip6->protos[proto] = 0;
}

/*
 * Walks the TLV options of a hop-by-hop or destination options header at
 * off (RFC 8200 4.2), as Linux's ip6_parse_tlv(): padding may not exceed
 * seven bytes in a row nor carry data (RFC 4942 2.1.9.5), an option may
 * not run past its header, and an unknown option is handled by the two
 * high bits of its type. Returns true to go on; false when the packet was
 * dropped (an ICMPv6 error sent where the option asks for one).
 */
static bool ip6_parse_tlv(struct sk_buff *skb, unsigned int off, bool hbh)
{
	const uint8_t *nh = skb->data;
	unsigned int len = IPV6_OPTLEN((const struct ipv6_opt_hdr *)(nh + off));
	unsigned int i = 2, padlen = 0, count = 0;

	while (i < len) {
		unsigned int optlen;
		uint8_t type = nh[off + i];

		if (type == IPV6_TLV_PAD1) {
			if (++padlen > 7)
				return false;
			i++;
			continue;
		}
		if (len - i < 2)
			return false;
		optlen = nh[off + i + 1] + 2u;
		if (optlen > len - i)
			return false;
		if (type == IPV6_TLV_PADN) {
			padlen += optlen;
			if (padlen > 7)
				return false;
			for (unsigned int k = 2; k < optlen; k++)
				if (nh[off + i + k] != 0)
					return false;
		} else {
			padlen = 0;
			if (++count > IP6_MAX_OPTS_CNT)
				return false;
			if (!(hbh && type == IPV6_TLV_ROUTERALERT)) {
				/* Unknown: RFC 8200 4.2, the action in the two high bits. */
				switch (type >> 6) {
				case 0: /* skip it */
					break;
				case 3: /* discard; an error only for a unicast destination */
					if (ipv6_addr_is_multicast(&ipv6_hdr(skb)->daddr))
						return false;
					/* fall through */
				case 2: /* discard with a parameter problem at the option */
					icmpv6_param_prob(skb, ICMPV6_UNK_OPTION, off + i);
					return false;
				default: /* 1: discard quietly */
					return false;
				}
			}
		}
		i += optlen;
	}
	return true;
}

/*
 * The routing header at off (Linux's ipv6_rthdr_rcv() with
 * accept_source_route 0 and no segment routing): with no segments left it
 * is ignored; type 0 is deprecated (RFC 5095) and, like any type we do not
 * process, answered with a parameter problem at its type field.
 */
static bool ip6_rthdr_rcv(struct sk_buff *skb, unsigned int off)
{
	struct nstack *ns = skb->ns;
	const struct ipv6_rt_hdr *rt = (const struct ipv6_rt_hdr *)(skb->data + off);

	if (ipv6_addr_is_multicast(&ipv6_hdr(skb)->daddr) || skb->pkt_type != PACKET_HOST) {
		NS_INC_STATS(ns, Ip6InAddrErrors);
		return false;
	}
	if (rt->segments_left == 0)
		return true;
	if (rt->type == IPV6_SRCRT_TYPE_3 || rt->type == IPV6_SRCRT_TYPE_4)
		return false; /* not enabled: dropped quietly, as Linux */
	NS_INC_STATS(ns, Ip6InHdrErrors);
	icmpv6_param_prob(skb, ICMPV6_HDR_FIELD, off + 2);
	return false;
}

/*
 * Walks the extension headers after the fixed header (and a hop-by-hop
 * header already parsed) and hands the packet to its transport (Linux's
 * ip6_input_finish() and ip6_protocol_deliver_rcu()). skb->data is at the
 * IPv6 header; off is the first header after what was parsed, nhoff the
 * offset of the next header field naming it.
 */
static int ip6_input_finish(struct sk_buff *skb, unsigned int off, unsigned int nhoff)
{
	struct nstack *ns = skb->ns;
	const struct inet6_protocol *prot;
	uint8_t nexthdr;
	bool raw;

	for (;;) {
		nexthdr = skb->data[nhoff];
		switch (nexthdr) {
		case NEXTHDR_DEST:
		case NEXTHDR_ROUTING: {
			const struct ipv6_opt_hdr *oh = (const void *)(skb->data + off);

			/* The first 8 bytes hold the length; then the whole header must be there.
			 */
			if (skb->len < off + 8 || skb->len < off + IPV6_OPTLEN(oh)) {
				NS_INC_STATS(ns, Ip6InHdrErrors);
				goto drop;
			}
			if (nexthdr == NEXTHDR_DEST && !ip6_parse_tlv(skb, off, false)) {
				NS_INC_STATS(ns, Ip6InHdrErrors);
				goto drop;
			}
			if (nexthdr == NEXTHDR_ROUTING) {
				if (!ip6_rthdr_rcv(skb, off))
					goto drop;
				IP6CB(skb)->srcrt = (uint16_t)off;
			}
			nhoff = off;
			off += IPV6_OPTLEN(oh);
			IP6CB(skb)->lastopt = (uint16_t)off;
			continue;
		}
		case NEXTHDR_FRAGMENT: {
			struct inet6_skb_parm parm = *IP6CB(skb);

			skb = ipv6_frag_rcv(skb, &off, &nhoff);
			if (!skb)
				return 0;
			*IP6CB(skb) = parm;
			IP6CB(skb)->lastopt = (uint16_t)off;
			continue;
		}
		default:
			break;
		}
		break;
	}
	IP6CB(skb)->nhoff = (uint16_t)nhoff;
	IP6CB(skb)->nexthdr = nexthdr;
	/* Raw sockets get their copy first, whatever the transport then does. */
	raw = raw6_local_deliver(skb, off, nexthdr);
	prot = ns_unref(ns->ip6->protos[nexthdr]);
	if (nexthdr == NEXTHDR_NONE) {
		/* No next header: nothing to deliver (Linux's nodata handler). */
		NS_INC_STATS(ns, Ip6InDelivers);
		goto drop;
	}
	if ((!prot || !prot->handler) && raw) {
		/* A raw socket took it: no parameter problem (Linux's ip6_protocol_deliver_rcu). */
		NS_INC_STATS(ns, Ip6InDelivers);
		goto drop;
	}
	if (!prot || !prot->handler) {
		/* RFC 8200 4: unrecognised next header (or a late hop-by-hop). */
		NS_INC_STATS(ns, Ip6InUnknownProtos);
		icmpv6_param_prob(skb, ICMPV6_UNK_NEXTHDR, nhoff);
		goto drop;
	}
	NS_INC_STATS(ns, Ip6InDelivers);
	skb_pull(skb, off);
	skb_reset_transport_header(skb);
	return prot->handler(skb);
drop:
	kfree_skb(skb);
	return 0;
}

/* Walks extension headers as Linux's ipv6_skip_exthdr(); see ipv6.h. */
int ipv6_skip_exthdr(const uint8_t *nh, unsigned int len, unsigned int start, uint8_t *nexthdrp,
		     uint16_t *frag_offp)
{
	uint8_t nexthdr = *nexthdrp;

	*frag_offp = 0;
	for (;;) {
		unsigned int hdrlen;

		switch (nexthdr) {
		case NEXTHDR_HOP:
		case NEXTHDR_ROUTING:
		case NEXTHDR_DEST:
		case NEXTHDR_FRAGMENT:
		case NEXTHDR_AUTH:
			break;
		case NEXTHDR_NONE:
			return -1;
		default:
			*nexthdrp = nexthdr;
			return (int)start;
		}
		if (len < 2 || start > len - 2)
			return -1;
		if (nexthdr == NEXTHDR_FRAGMENT) {
			if (len < 4 || start > len - 4)
				return -1;
			memcpy(frag_offp, nh + start + 2, sizeof(*frag_offp));
			if (*frag_offp & htons(IP6_OFFSET)) {
				/* Not the first fragment: nothing past this header. */
				*nexthdrp = nexthdr;
				return (int)start;
			}
			hdrlen = 8;
		} else if (nexthdr == NEXTHDR_AUTH) {
			hdrlen = (nh[start + 1] + 2u) * 4u; /* RFC 4302: in 4-octet units, less 2 */
		} else {
			hdrlen = (nh[start + 1] + 1u) * 8u;
		}
		nexthdr = nh[start];
		start += hdrlen;
	}
}

/*
 * The packet_type handler for ETH_P_IPV6: the checks of Linux's
 * ipv6_rcv() in its order, the hop-by-hop header, then the destination
 * check of a host that does not forward.
 */
int ipv6_rcv(struct sk_buff *skb, struct net_device *dev)
{
	struct nstack *ns = skb->ns;
	const struct ipv6hdr *hdr;
	unsigned int pkt_len, off = IPV6_HLEN, nhoff = 6;

	(void)dev;
	if (!ns->ip6 || skb->pkt_type == PACKET_OTHERHOST)
		goto drop;
	NS_INC_STATS(ns, Ip6InReceives);
	memset(IP6CB(skb), 0, sizeof(struct inet6_skb_parm));
	if (!pskb_may_pull(skb, IPV6_HLEN))
		goto err;
	skb_reset_network_header(skb);
	hdr = ipv6_hdr(skb);
	if (IPV6_VERSION(hdr) != 6)
		goto err;
	/*
	 * RFC 4291 2.7: a multicast source is never legal; loopback never
	 * comes from a wire (RFC 4291 2.5.3); nor a v4-mapped address (RFC
	 * 4291 2.5.5.2); multicast scopes 0 (reserved) and 1 (interface-
	 * local) cannot arrive from a link.
	 */
	if (ipv6_addr_is_multicast(&hdr->saddr) || ipv6_addr_loopback(&hdr->saddr) ||
	    ipv6_addr_loopback(&hdr->daddr) || ipv6_addr_v4mapped(&hdr->saddr))
		goto err;
	if (ipv6_addr_is_multicast(&hdr->daddr) && ipv6_addr_mc_scope(&hdr->daddr) <= 1)
		goto err;
	pkt_len = ntohs(hdr->payload_len);
	if (pkt_len == 0 && hdr->nexthdr == NEXTHDR_HOP)
		goto err; /* a jumbogram (RFC 2675): Ethernet cannot carry one */
	if (pkt_len + IPV6_HLEN > skb->len) {
		NS_INC_STATS(ns, Ip6InTruncatedPkts);
		goto drop;
	}
	/* Ethernet pads short frames; the padding is not ours. */
	skb_trim(skb, pkt_len + IPV6_HLEN);
	if (hdr->nexthdr == NEXTHDR_HOP) {
		/* RFC 8200 4.1: only directly after the IPv6 header. */
		const struct ipv6_opt_hdr *oh = (const void *)(skb->data + off);

		if (skb->len < off + 8 || skb->len < off + IPV6_OPTLEN(oh) ||
		    !ip6_parse_tlv(skb, off, true))
			goto err;
		nhoff = off;
		off += IPV6_OPTLEN(oh);
	}
	if (ipv6_addr_is_multicast(&hdr->daddr)) {
		NS_INC_STATS(ns, Ip6InMcastPkts);
		/* Groups we have not joined are not for us (Linux's ip6_mc_input()). */
		if (!ipv6_chk_mcast_addr(ns, &hdr->daddr))
			goto drop;
	} else if (!ipv6_chk_addr(ns, &hdr->daddr)) {
		/* A host does not forward (RFC 8200 section 4, RFC 4862 5.4: nor to a tentative
		 * address). */
		NS_INC_STATS(ns, Ip6InAddrErrors);
		goto drop;
	}
	return ip6_input_finish(skb, off, nhoff);

err:
	NS_INC_STATS(ns, Ip6InHdrErrors);
drop:
	kfree_skb(skb);
	return -EINVAL;
}

static const struct packet_type ipv6_packet_type = {
    .type = ETH_P_IPV6,
    .func = ipv6_rcv,
};

/*
 * Creates the IPv6 state when the configuration asks for IPv6 and
 * registers ETH_P_IPV6: addresses (and their DAD), neighbour discovery,
 * ICMPv6, reassembly, the path MTU cache.
 */
int ipv6_init(struct nstack *ns)
{
	struct ipv6_state *ip6;
	int err;

	if (!ns->cfg.ipv6 && ipv6_addr_any(&ns->cfg.addr6))
		return 0;
	if (!ipv6_addr_any(&ns->cfg.addr6) &&
	    (ns->cfg.prefixlen6 == 0 || ns->cfg.prefixlen6 > 128 ||
	     ipv6_addr_is_multicast(&ns->cfg.addr6)))
		return -EINVAL;
	ip6 = ns_zalloc(ns, sizeof(*ip6));
	if (!ip6)
		return -ENOMEM;
	ip6->ns = ns;
	ip6->hop_limit = IPV6_DEFAULT_HOPS;
	ip6->base_reachable_us = NDISC_BASE_REACHABLE_US;
	ip6->retrans_us = NDISC_RETRANS_US;
	ns->ip6 = ip6;
	err = icmpv6_init(ns);
	if (err)
		goto out_free;
	err = ndisc_init(ns);
	if (err)
		goto out_icmp;
	err = dev_add_pack(ns, &ipv6_packet_type);
	if (err)
		goto out_ndisc;
	err = ipv6_frag_init(ns);
	if (err)
		goto out_pack;
	err = ip6_route_init(ns);
	if (err)
		goto out_frag;
	err = addrconf_init(ns);
	if (err)
		goto out_route;
	return 0;

out_route:
	ip6_route_exit(ns);
out_frag:
	ipv6_frag_exit(ns);
out_pack:
	dev_remove_pack(ns, &ipv6_packet_type);
out_ndisc:
	ndisc_exit(ns);
out_icmp:
	icmpv6_exit(ns);
out_free:
	ns_free(ns, ip6);
	ns->ip6 = NULL;
	return err;
}

/* Stops DAD and solicitation, frees the neighbour cache and the IPv6 state. */
void ipv6_exit(struct nstack *ns)
{
	if (!ns->ip6)
		return;
	dev_remove_pack(ns, &ipv6_packet_type);
	addrconf_exit(ns);
	ip6_route_exit(ns);
	ipv6_frag_exit(ns);
	ndisc_exit(ns);
	icmpv6_exit(ns);
	ns_free(ns, ns->ip6);
	ns->ip6 = NULL;
}
