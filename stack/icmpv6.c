/*
 * ICMPv6 (RFC 4443): input with checksum and per-type counters, echo
 * replies, neighbour discovery handed to ndisc.c, and errors out with the
 * restrictions of RFC 4443 2.4 and Linux's per-destination rate limit.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "checksum.h"
#include "icmpv6.h"
#include "ping.h"
#include "ipv6.h"
#include "rawv6.h"
#include "ndisc.h"
#include "stack.h"

#define ICMPV6_PEERS 64
/* RFC 4443 2.4(c): an error fits in the minimum MTU. */
#define ICMPV6_ERR_MAXLEN (IPV6_MIN_MTU - IPV6_HLEN)

/* One destination's token bucket (Linux keeps it in the inet_peer). */
struct icmpv6_peer {
	struct in6_addr addr;
	uint64_t last;	 /* rate_last */
	uint64_t tokens; /* microseconds of credit */
	bool used;
};

/* ns->ip6->icmp */
struct icmpv6_state {
	struct icmpv6_peer peers[ICMPV6_PEERS];
};

/* Pseudo-header sum and message sum, folded (RFC 8200 section 8.1). */
uint16_t csum_ipv6_magic(const struct in6_addr *saddr, const struct in6_addr *daddr, uint32_t len,
			 uint8_t proto, const void *msg)
{
	uint32_t sum = csum_partial(saddr, sizeof(*saddr), 0);
	uint32_t be[2] = {htonl(len), htonl(proto)};

	sum = csum_partial(daddr, sizeof(*daddr), sum);
	sum = csum_partial(be, sizeof(be), sum);
	return csum_fold(csum_partial(msg, len, sum));
}

static void icmpv6_in_count(struct nstack *ns, uint8_t type)
{
	switch (type) {
	case ICMPV6_DEST_UNREACH:
		NS_INC_STATS(ns, Icmp6InDestUnreachs);
		break;
	case ICMPV6_PKT_TOOBIG:
		NS_INC_STATS(ns, Icmp6InPktTooBigs);
		break;
	case ICMPV6_TIME_EXCEED:
		NS_INC_STATS(ns, Icmp6InTimeExcds);
		break;
	case ICMPV6_PARAMPROB:
		NS_INC_STATS(ns, Icmp6InParmProblems);
		break;
	case ICMPV6_ECHO_REQUEST:
		NS_INC_STATS(ns, Icmp6InEchos);
		break;
	case ICMPV6_ECHO_REPLY:
		NS_INC_STATS(ns, Icmp6InEchoReplies);
		break;
	case NDISC_ROUTER_SOLICITATION:
		NS_INC_STATS(ns, Icmp6InRouterSolicits);
		break;
	case NDISC_ROUTER_ADVERTISEMENT:
		NS_INC_STATS(ns, Icmp6InRouterAdvertisements);
		break;
	case NDISC_NEIGHBOUR_SOLICITATION:
		NS_INC_STATS(ns, Icmp6InNeighborSolicits);
		break;
	case NDISC_NEIGHBOUR_ADVERTISEMENT:
		NS_INC_STATS(ns, Icmp6InNeighborAdvertisements);
		break;
	case NDISC_REDIRECT:
		NS_INC_STATS(ns, Icmp6InRedirects);
		break;
	}
}

/* Counts an ICMPv6 message going out; see icmpv6.h. */
void icmpv6_out_count(struct nstack *ns, uint8_t type)
{
	NS_INC_STATS(ns, Icmp6OutMsgs);
	switch (type) {
	case ICMPV6_ECHO_REQUEST:
		NS_INC_STATS(ns, Icmp6OutEchos);
		break;
	case ICMPV6_DEST_UNREACH:
		NS_INC_STATS(ns, Icmp6OutDestUnreachs);
		break;
	case ICMPV6_TIME_EXCEED:
		NS_INC_STATS(ns, Icmp6OutTimeExcds);
		break;
	case ICMPV6_PARAMPROB:
		NS_INC_STATS(ns, Icmp6OutParmProblems);
		break;
	case ICMPV6_ECHO_REPLY:
		NS_INC_STATS(ns, Icmp6OutEchoReplies);
		break;
	case NDISC_ROUTER_SOLICITATION:
		NS_INC_STATS(ns, Icmp6OutRouterSolicits);
		break;
	case NDISC_NEIGHBOUR_SOLICITATION:
		NS_INC_STATS(ns, Icmp6OutNeighborSolicits);
		break;
	case NDISC_NEIGHBOUR_ADVERTISEMENT:
		NS_INC_STATS(ns, Icmp6OutNeighborAdvertisements);
		break;
	}
}

/* Checksums and sends an ICMPv6 message; see icmpv6.h. */
int icmpv6_push_xmit(struct nstack *ns, struct sk_buff *skb, const struct in6_addr *saddr,
		     const struct in6_addr *daddr, uint8_t hop_limit)
{
	struct icmp6hdr *ih = (struct icmp6hdr *)skb->data;

	ih->icmp6_cksum = 0;
	ih->icmp6_cksum = csum_ipv6_magic(saddr, daddr, skb->len, NEXTHDR_ICMP, ih);
	icmpv6_out_count(ns, ih->icmp6_type);
	return ip6_output(ns, skb, saddr, daddr, NEXTHDR_ICMP, hop_limit);
}

static struct icmpv6_peer *icmpv6_peer_get(struct nstack *ns, const struct in6_addr *addr)
{
	struct icmpv6_state *st = ns->ip6->icmp;
	struct icmpv6_peer *victim = &st->peers[0];

	for (unsigned int i = 0; i < ICMPV6_PEERS; i++) {
		struct icmpv6_peer *p = &st->peers[i];

		if (p->used && ipv6_addr_equal(&p->addr, addr))
			return p;
		if (!p->used || (victim->used && p->last < victim->last))
			victim = p;
	}
	victim->used = true;
	victim->addr = *addr;
	victim->last = ns_now(ns);
	victim->tokens = (uint64_t)ICMPV6_RATE_BURST * ICMPV6_RATELIMIT_US;
	return victim;
}

/*
 * Linux's icmpv6_mask_allow() + icmpv6_xrlim_allow(): informational
 * messages and Packet Too Big (ratemask 0-1,3-127) are never limited, nor
 * errors to ourselves; the rest is limited per destination to a burst of
 * ICMPV6_RATE_BURST, then one per ratelimit, shortened for wide routes
 * (Linux shifts it right by (128 - route prefix length) / 32: a /64 gets a
 * quarter, the default route a sixteenth).
 */
static bool icmpv6_xrlim_allow(struct nstack *ns, uint8_t type, const struct in6_addr *daddr)
{
	struct icmpv6_peer *p;
	uint64_t tmo = ICMPV6_RATELIMIT_US, now = ns_now(ns), tokens;
	unsigned int plen = 0;

	if (type >= 128 || type == ICMPV6_PKT_TOOBIG)
		return true;
	if (ipv6_chk_addr(ns, daddr))
		return true;
	if (ipv6_addr_is_linklocal(daddr)) {
		plen = 64;
	} else {
		for (unsigned int i = 0; i < IPV6_MAX_PREFIXES; i++) {
			const struct ip6_prefix *pf = &ns->ip6->onlink[i];

			if (pf->expires > now && pf->plen > plen &&
			    ipv6_prefix_equal(&pf->prefix, daddr, pf->plen))
				plen = pf->plen;
		}
	}
	if (plen < 128)
		tmo >>= (128 - plen) >> 5;
	p = icmpv6_peer_get(ns, daddr);
	tokens = p->tokens + (now - p->last);
	p->last = now;
	if (tokens > ICMPV6_RATE_BURST * tmo)
		tokens = ICMPV6_RATE_BURST * tmo;
	if (tokens >= tmo) {
		p->tokens = tokens - tmo;
		return true;
	}
	p->tokens = tokens;
	return false;
}

/*
 * True when the offending packet is itself an ICMPv6 error (RFC 4443
 * 2.4(e.1)), found past its extension headers as Linux's is_ineligible().
 */
static bool icmpv6_is_ineligible(const struct sk_buff *skb)
{
	const uint8_t *nh = skb_network_header(skb);
	unsigned int len = (unsigned int)(skb->tail - nh);
	uint8_t nexthdr = ((const struct ipv6hdr *)nh)->nexthdr;
	uint16_t frag_off;
	int off = ipv6_skip_exthdr(nh, len, IPV6_HLEN, &nexthdr, &frag_off);

	if (off < 0 || nexthdr != NEXTHDR_ICMP)
		return false;
	if ((unsigned int)off >= len)
		return frag_off == 0; /* a truncated ICMPv6 header is not worth an answer */
	return nh[off] < 128;
}

/* Sends an ICMPv6 error about skb_in; see icmpv6.h. */
void icmpv6_send(struct sk_buff *skb_in, uint8_t type, uint8_t code, uint32_t info)
{
	struct nstack *ns = skb_in->ns;
	const struct ipv6hdr *hdr = ipv6_hdr(skb_in);
	const uint8_t *nh = (const uint8_t *)hdr;
	unsigned int qlen = (unsigned int)(skb_in->tail - nh);
	struct in6_addr saddr, daddr = hdr->saddr;
	struct icmp6hdr *ih;
	struct sk_buff *skb;
	bool unk_opt_mc = false;

	if (qlen < IPV6_HLEN)
		return;
	/*
	 * RFC 4443 2.4(e.3): nothing about a packet to a multicast address
	 * or one that came as a link-layer multicast, except Packet Too Big
	 * and a parameter problem for an option whose type asks for one.
	 */
	if (type == ICMPV6_PARAMPROB && code == ICMPV6_UNK_OPTION && info < qlen &&
	    (nh[info] & 0xc0) == 0x80)
		unk_opt_mc = true;
	if ((ipv6_addr_is_multicast(&hdr->daddr) || skb_in->pkt_type != PACKET_HOST) &&
	    type != ICMPV6_PKT_TOOBIG && !unk_opt_mc)
		return;
	/* RFC 4443 2.4(e.4,5): the source must identify a single node. */
	if (ipv6_addr_any(&hdr->saddr) || ipv6_addr_is_multicast(&hdr->saddr))
		return;
	if (type < 128 && icmpv6_is_ineligible(skb_in))
		return;
	if (ipv6_chk_addr(ns, &hdr->daddr))
		saddr = hdr->daddr;
	else if (ipv6_dev_get_saddr(ns, &daddr, &saddr))
		return;
	if (!icmpv6_xrlim_allow(ns, type, &daddr)) {
		NS_INC_STATS(ns, Icmp6OutRateLimited);
		return;
	}
	if (qlen > ICMPV6_ERR_MAXLEN - ICMP6_HLEN)
		qlen = ICMPV6_ERR_MAXLEN - ICMP6_HLEN;
	skb = alloc_skb_hdr(ns, ICMP6_HLEN + qlen);
	if (!skb)
		return;
	ih = (struct icmp6hdr *)skb_put(skb, ICMP6_HLEN + qlen);
	ih->icmp6_type = type;
	ih->icmp6_code = code;
	ih->un.un_data32 = htonl(info);
	memcpy(ih + 1, nh, qlen);
	if (icmpv6_push_xmit(ns, skb, &saddr, &daddr, 0))
		NS_INC_STATS(ns, Icmp6OutErrors);
}

/* A parameter problem pointing at offset pos of the offending packet (RFC 4443 3.4). */
void icmpv6_param_prob(struct sk_buff *skb_in, uint8_t code, unsigned int pos)
{
	icmpv6_send(skb_in, ICMPV6_PARAMPROB, code, pos);
}

/*
 * Answers an echo request (RFC 4443 4.2): the same identifier, sequence
 * and data, from the address it was sent to (or, for a group, from our
 * address for the asker), with its traffic class, as Linux's
 * icmpv6_echo_reply(); the flow label is not reflected (Linux's
 * flowlabel_reflect is 0 by default).
 */
static void icmpv6_echo_reply(struct sk_buff *skb)
{
	struct nstack *ns = skb->ns;
	const struct ipv6hdr *hdr = ipv6_hdr(skb);
	struct in6_addr saddr = hdr->daddr, daddr = hdr->saddr;
	uint8_t tclass = (uint8_t)(ntohl(hdr->vtc_flow) >> 20);
	struct sk_buff *rep;
	struct icmp6hdr *ih;

	if (ipv6_addr_any(&daddr))
		return;
	if (ipv6_addr_is_multicast(&saddr) && ipv6_dev_get_saddr(ns, &daddr, &saddr))
		return;
	rep = alloc_skb_hdr(ns, skb->len);
	if (!rep)
		return;
	ih = (struct icmp6hdr *)skb_put(rep, skb->len);
	memcpy(ih, skb->data, skb->len);
	ih->icmp6_type = ICMPV6_ECHO_REPLY;
	ih->icmp6_code = 0;
	ih->icmp6_cksum = 0;
	ih->icmp6_cksum = csum_ipv6_magic(&saddr, &daddr, rep->len, NEXTHDR_ICMP, ih);
	icmpv6_out_count(ns, ICMPV6_ECHO_REPLY);
	/* A reply over the path MTU goes in fragments, as Linux's (ip6_append_data()). */
	ip6_output_frag(ns, rep, &saddr, &daddr, NEXTHDR_ICMP,
			&(const struct ip6_tx_params){.tclass = tclass});
}

/*
 * An ICMPv6 error about a packet we sent (Linux's icmpv6_notify()): the
 * quoted IPv6 header (RFC 4443 2.4(d): there must be one), its extension
 * headers walked to the upper-layer header, of which 8 bytes must be
 * there, then that transport's err_handler, with skb->data and the
 * network header at the quoted IPv6 header (the contract in ipv6.h). A
 * Packet Too Big about a packet from one of our addresses first updates
 * the path MTU cache (RFC 8201 section 4), which the transports read.
 * Returns false for a malformed error. Does not consume skb.
 */
static bool icmpv6_notify(struct sk_buff *skb, uint8_t type, uint8_t code, uint32_t info)
{
	struct nstack *ns = skb->ns;
	const struct inet6_protocol *prot;
	struct in6_addr qsaddr, qdaddr;
	uint16_t frag_off;
	uint8_t nexthdr;
	int off;

	if (!skb_pull(skb, ICMP6_HLEN) || skb->len < IPV6_HLEN)
		return false;
	memcpy(&IP6CB(skb)->icmp_src, skb_network_header(skb) + offsetof(struct ipv6hdr, saddr),
	       sizeof(struct in6_addr));
	skb_reset_network_header(skb);
	memcpy(&qsaddr, skb->data + offsetof(struct ipv6hdr, saddr), sizeof(qsaddr));
	memcpy(&qdaddr, skb->data + offsetof(struct ipv6hdr, daddr), sizeof(qdaddr));
	if (type == ICMPV6_PKT_TOOBIG && ipv6_chk_addr(ns, &qsaddr))
		ip6_pmtu_update(ns, &qdaddr, info);
	nexthdr = skb->data[offsetof(struct ipv6hdr, nexthdr)];
	off = ipv6_skip_exthdr(skb->data, skb->len, IPV6_HLEN, &nexthdr, &frag_off);
	if (off < 0 || skb->len < (unsigned int)off + 8)
		return false;
	prot = ns_unref(ns->ip6->protos[nexthdr]);
	if (prot && prot->err_handler)
		prot->err_handler(skb, type, code, off, info);
	raw6_icmp_error(skb, nexthdr, type, code, off, info);
	return true;
}

/*
 * The ICMPv6 transport (next header 58): checksum, counters, then by type.
 * skb->data is at the ICMPv6 header.
 */
static int icmpv6_rcv(struct sk_buff *skb)
{
	struct nstack *ns = skb->ns;
	const struct ipv6hdr *hdr = ipv6_hdr(skb);
	const struct icmp6hdr *ih;

	NS_INC_STATS(ns, Icmp6InMsgs);
	if (skb->len < ICMP6_HLEN)
		goto error;
	if (skb->ip_summed != CHECKSUM_UNNECESSARY &&
	    csum_ipv6_magic(&hdr->saddr, &hdr->daddr, skb->len, NEXTHDR_ICMP, skb->data) != 0) {
		NS_INC_STATS(ns, Icmp6InCsumErrors);
		goto error;
	}
	ih = (const struct icmp6hdr *)skb->data;
	icmpv6_in_count(ns, ih->icmp6_type);
	switch (ih->icmp6_type) {
	case ICMPV6_ECHO_REQUEST:
		icmpv6_echo_reply(skb);
		break;
	case ICMPV6_ECHO_REPLY:
		ping_rcv6(skb);
		break;
	case NDISC_ROUTER_SOLICITATION:
	case NDISC_ROUTER_ADVERTISEMENT:
	case NDISC_NEIGHBOUR_SOLICITATION:
	case NDISC_NEIGHBOUR_ADVERTISEMENT:
	case NDISC_REDIRECT:
		return ndisc_rcv(skb);
	case ICMPV6_DEST_UNREACH:
	case ICMPV6_PKT_TOOBIG:
	case ICMPV6_TIME_EXCEED:
	case ICMPV6_PARAMPROB:
		if (!icmpv6_notify(skb, ih->icmp6_type, ih->icmp6_code, ntohl(ih->un.un_data32)))
			goto error;
		break;
	default:
		/* Unknown informational messages are dropped (RFC 4443 2.4(b)). */
		break;
	}
	kfree_skb(skb);
	return 0;
error:
	NS_INC_STATS(ns, Icmp6InErrors);
	kfree_skb(skb);
	return -EINVAL;
}

/* The errno of an ICMPv6 error and whether it is fatal (Linux's icmpv6_err_convert()). */
int icmpv6_err_convert(uint8_t type, uint8_t code, int *err)
{
	static const struct {
		int err;
		int fatal;
	} unreach[] = {
	    /* NOROUTE, ADM_PROHIBITED, BEYOND_SCOPE, ADDR_UNREACH, PORT_UNREACH, POLICY_FAIL,
	       REJECT_ROUTE: Linux's tab_unreach */
	    {EHOSTUNREACH, 0}, {EACCES, 1}, {EHOSTUNREACH, 0}, {EHOSTUNREACH, 1},
	    {ECONNREFUSED, 1}, {EACCES, 1}, {EACCES, 1},
	};

	*err = EPROTO;
	switch (type) {
	case ICMPV6_DEST_UNREACH:
		if (code < sizeof(unreach) / sizeof(unreach[0])) {
			*err = unreach[code].err;
			return unreach[code].fatal;
		}
		return 1;
	case ICMPV6_PKT_TOOBIG:
		*err = EMSGSIZE;
		return 1;
	case ICMPV6_PARAMPROB:
		return 1;
	case ICMPV6_TIME_EXCEED:
		*err = EHOSTUNREACH;
		return 0;
	}
	return 0;
}

/*
 * An ICMPv6 error quoting an ICMPv6 packet we sent (Linux's icmpv6_err):
 * only our echo requests have a socket to tell, a ping one.
 */
static void icmpv6_err(struct sk_buff *skb, uint8_t type, uint8_t code, int offset, uint32_t info)
{
	if (skb->data[offset] == ICMPV6_ECHO_REQUEST)
		ping_err6(skb, type, code, offset, info);
}

static const struct inet6_protocol icmpv6_protocol = {
    .handler = icmpv6_rcv,
    .err_handler = icmpv6_err,
};

/* Creates the rate-limit table and registers next header 58. */
int icmpv6_init(struct nstack *ns)
{
	ns->ip6->icmp = ns_zalloc(ns, sizeof(struct icmpv6_state));
	if (!ns->ip6->icmp)
		return -ENOMEM;
	return inet6_add_protocol(ns, &icmpv6_protocol, NEXTHDR_ICMP);
}

void icmpv6_exit(struct nstack *ns)
{
	inet6_del_protocol(ns, NEXTHDR_ICMP);
	ns_free(ns, ns->ip6->icmp);
	ns->ip6->icmp = NULL;
}
