/*
 * IPv6 reassembly (RFC 8200 section 4.5), with the rules of Linux's
 * net/ipv6/reassembly.c: queues keyed by (saddr, daddr, identification);
 * an atomic fragment (offset 0, M clear) is the whole packet at once (RFC
 * 6946); a non-last fragment whose length is not a multiple of 8, or one
 * reaching past 65535 bytes, earns a parameter problem; a first fragment
 * without the whole header chain earns one too (RFC 8200 4.5); any overlap
 * discards the whole datagram (RFC 5722) and is counted; a datagram not
 * complete IP6FRAG_TIME_US after its first fragment is dropped, with ICMPv6
 * time exceeded (fragment reassembly time exceeded) when its first
 * fragment came; the memory of all queues is bounded by
 * IP6FRAG_HIGH_THRESH. The queues are inet_fragment.c's, shared with IPv4.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "icmpv6.h"
#include "inet_frag.h"
#include "ipv6.h"
#include "stack.h"

struct frag6_queue {
	struct inet_frag_queue q; /* first: inet_frag_find() allocates the whole */
	/* From the first fragment, once it came: */
	unsigned int nhoffset; /* the next header field naming the fragment header */
	unsigned int fhoff;    /* the fragment header, i.e. the unfragmentable part's length */
	uint8_t
	    nexthdr; /* the fragment header's next header (RFC 8200 4.5: only this one counts) */
};

/* Gives up on a datagram (Linux's inet_frag_kill() + Ip6ReasmFails). */
static void frag6_fail(struct inet_frag_queue *q)
{
	NS_INC_STATS(q->f->ns, Ip6ReasmFails);
	inet_frag_destroy(q);
}

/*
 * The reassembly timer (Linux's ip6frag_expire_frag_queue()): RFC 8200
 * 4.5, time exceeded code 1 to the source, only when the first fragment
 * arrived, quoting it.
 */
static void frag6_expire(struct timer_list *t)
{
	struct inet_frag_queue *q = container_of(t, struct inet_frag_queue, timer);
	struct sk_buff *head = inet_frag_head(q);

	NS_INC_STATS(q->f->ns, Ip6ReasmTimeout);
	if (head)
		icmpv6_send(head, ICMPV6_TIME_EXCEED, ICMPV6_EXC_FRAGTIME, 0);
	frag6_fail(q);
}

/*
 * RFC 8200 4.5: a first fragment must hold every header up to and
 * including the upper-layer header (Linux's ipv6frag_thdr_truncated(), with
 * its sizes of the upper-layer headers it knows).
 */
static bool frag6_thdr_truncated(const struct sk_buff *skb)
{
	uint8_t nexthdr = skb->data[6];
	uint16_t frag_off;
	int off = ipv6_skip_exthdr(skb->data, skb->len, IPV6_HLEN, &nexthdr, &frag_off);

	if (off < 0 || (frag_off & htons(IP6_OFFSET)))
		return false;
	switch (nexthdr) {
	case NEXTHDR_TCP:
		off += 20;
		break;
	case NEXTHDR_UDP:
		off += 8;
		break;
	case NEXTHDR_ICMP:
		off += ICMP6_HLEN;
		break;
	default:
		off += 1;
		break;
	}
	return (unsigned int)off > skb->len;
}

static struct frag6_queue *frag6_find(struct nstack *ns, const struct sk_buff *skb, uint32_t id)
{
	const struct ipv6hdr *hdr = ipv6_hdr(skb);
	struct inet_frag_key key;

	memset(&key, 0, sizeof(key));
	memcpy(key.saddr, &hdr->saddr, 16);
	memcpy(key.daddr, &hdr->daddr, 16);
	key.id = id;
	return (struct frag6_queue *)inet_frag_find(ns->ip6->frags, &key,
						    sizeof(struct frag6_queue), frag6_expire);
}

/*
 * Builds the datagram of a complete queue (Linux's ip6_frag_reasm()): the
 * first fragment's unfragmentable part with its next header field set to
 * the fragmentable part's first header, then the payloads in order.
 */
static struct sk_buff *frag6_reasm(struct frag6_queue *fq)
{
	struct nstack *ns = fq->q.f->ns;
	struct sk_buff *head = inet_frag_head(&fq->q), *skb;
	unsigned int hlen = fq->fhoff, plen = hlen - IPV6_HLEN + fq->q.len;
	unsigned char *p;

	if (!head || plen > IPV6_MAXPLEN || fq->nhoffset >= hlen) {
		ns_dbg(ns, "ip6frag: oversized reassembled packet dropped");
		return NULL;
	}
	skb = alloc_skb_hdr(ns, hlen + fq->q.len);
	if (!skb)
		return NULL;
	p = skb_put(skb, hlen + fq->q.len);
	memcpy(p, skb_network_header(head), hlen);
	inet_frag_copy_payload(&fq->q, p + hlen);
	p[fq->nhoffset] = fq->nexthdr;
	p[4] = (uint8_t)(plen >> 8);
	p[5] = (uint8_t)plen;
	skb->protocol = ETH_P_IPV6;
	skb->pkt_type = head->pkt_type;
	skb->tstamp_us = head->tstamp_us;
	skb_reset_network_header(skb);
	return skb;
}

/*
 * Checks a fragment's lengths before it is queued (RFC 8200 4.5, as
 * Linux's ip6_frag_queue() and ipv6_frag_rcv()); sends the parameter
 * problem and returns false when one is wrong. Unlike Linux, no empty
 * queue is left behind by such a fragment.
 */
static bool frag6_check(struct sk_buff *skb, unsigned int fhoff, uint16_t fo, unsigned int end)
{
	struct nstack *ns = skb->ns;

	if ((fo & IP6_OFFSET) == 0 && frag6_thdr_truncated(skb)) {
		NS_INC_STATS(ns, Ip6InHdrErrors);
		icmpv6_param_prob(skb, ICMPV6_HDR_INCOMP, 0);
		return false;
	}
	if (end > IPV6_MAXPLEN) {
		NS_INC_STATS(ns, Ip6InHdrErrors);
		icmpv6_param_prob(skb, ICMPV6_HDR_FIELD,
				  fhoff + (unsigned int)offsetof(struct frag_hdr, frag_off));
		return false;
	}
	if ((fo & IP6_MF) && (end & 7u)) {
		/* "always send parameter problem in this case" (RFC 8200 4.5). */
		NS_INC_STATS(ns, Ip6InHdrErrors);
		icmpv6_param_prob(skb, ICMPV6_HDR_FIELD,
				  (unsigned int)offsetof(struct ipv6hdr, payload_len));
		return false;
	}
	return true;
}

/* Takes one fragment; see ipv6.h. */
struct sk_buff *ipv6_frag_rcv(struct sk_buff *skb, unsigned int *off, unsigned int *nhoff)
{
	struct nstack *ns = skb->ns;
	struct inet_frags *f = ns->ip6->frags;
	unsigned int fhoff = *off, offset, end;
	struct frag6_queue *fq;
	struct sk_buff *whole;
	struct frag_hdr fh;
	uint16_t fo;

	NS_INC_STATS(ns, Ip6ReasmReqds);
	if (skb->len < fhoff + sizeof(fh)) {
		NS_INC_STATS(ns, Ip6InHdrErrors);
		icmpv6_param_prob(skb, ICMPV6_HDR_FIELD, fhoff);
		goto drop;
	}
	memcpy(&fh, skb->data + fhoff, sizeof(fh));
	fo = ntohs(fh.frag_off);
	if (!(fo & (IP6_OFFSET | IP6_MF))) {
		/* An atomic fragment: the whole packet (RFC 6946 section 4). */
		NS_INC_STATS(ns, Ip6ReasmOKs);
		*nhoff = fhoff;
		*off = fhoff + sizeof(fh);
		return skb;
	}
	offset = fo & IP6_OFFSET;
	end = offset + (skb->len - fhoff - (unsigned int)sizeof(fh));
	if (!frag6_check(skb, fhoff, fo, end))
		goto drop;
	fq = frag6_find(ns, skb, fh.identification);
	if (!fq) {
		NS_INC_STATS(ns, Ip6ReasmFails);
		goto drop;
	}
	skb_pull(skb, fhoff + (unsigned int)sizeof(fh));
	switch (inet_frag_queue_add(&fq->q, skb, offset, end, fo & IP6_MF)) {
	case INET_FRAG_DUP:
		NS_INC_STATS(ns, Ip6ReasmFails);
		goto drop;
	case INET_FRAG_OVERLAP:
		NS_INC_STATS(ns, Ip6ReasmOverlaps);
		goto discard_q;
	case INET_FRAG_BAD:
		goto discard_q;
	case INET_FRAG_QUEUED:
	case INET_FRAG_COMPLETE:
		break;
	}
	if (offset == 0) {
		fq->nhoffset = *nhoff;
		fq->fhoff = fhoff;
		fq->nexthdr = fh.nexthdr;
	}
	if (fq->q.flags == (INET_FRAG_FIRST_IN | INET_FRAG_LAST_IN) && fq->q.meat == fq->q.len) {
		whole = frag6_reasm(fq);
		if (!whole) {
			frag6_fail(&fq->q);
			return NULL;
		}
		*off = fq->fhoff;
		*nhoff = fq->nhoffset;
		NS_INC_STATS(ns, Ip6ReasmOKs);
		inet_frag_destroy(&fq->q);
		return whole;
	}
	NS_ADD_STATS(ns, Ip6ReasmFails, inet_frag_evict(f, &fq->q));
	if (f->mem > f->high_thresh)
		frag6_fail(&fq->q); /* one datagram alone over the limit */
	return NULL;

discard_q:
	frag6_fail(&fq->q);
drop:
	kfree_skb(skb);
	return NULL;
}

/* Creates the reassembly queues under ns->ip6. */
int ipv6_frag_init(struct nstack *ns)
{
	struct inet_frags *f = ns_zalloc(ns, sizeof(*f));

	if (!f)
		return -ENOMEM;
	inet_frags_init(f, ns, IP6FRAG_HIGH_THRESH, IP6FRAG_TIME_US);
	ns->ip6->frags = f;
	return 0;
}

/* Drops every queue still waiting. */
void ipv6_frag_exit(struct nstack *ns)
{
	if (!ns->ip6->frags)
		return;
	inet_frags_exit(ns->ip6->frags);
	ns_free(ns, ns->ip6->frags);
	ns->ip6->frags = NULL;
}
