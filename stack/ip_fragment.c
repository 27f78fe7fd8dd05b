/*
 * IPv4 reassembly (RFC 791 section 3.2, RFC 815), with Linux's rules:
 * queues keyed by (saddr, daddr, id, protocol); exact or contained
 * duplicates are dropped and the queue kept; any other overlap discards
 * the whole datagram (RFC 5722 applied to IPv4, as Linux does since 4.19);
 * a queue lives IPFRAG_TIME_US from its first fragment; the memory of all
 * queues is bounded by IPFRAG_HIGH_THRESH, the oldest queues giving way.
 * The queues themselves are inet_fragment.c's, shared with IPv6.
 */
#include <errno.h>
#include <string.h>

#include "checksum.h"
#include "icmp.h"
#include "inet_frag.h"
#include "ip.h"
#include "ip_priv.h"
#include "stack.h"

#define IPFRAG_PEERS 64

struct ipq {
	struct inet_frag_queue q; /* first: inet_frag_find() allocates the whole */
	unsigned int peer;	  /* slot in ipfrag_state.peers */
	uint32_t peer_gen;	  /* that slot's generation when last seen */
	uint32_t rid;		  /* the peer's fragment count at our last fragment */
};

/* ns->ip->frag */
struct ipfrag_state {
	struct inet_frags frags;
	/* Fragments seen per source, for IPFRAG_MAX_DIST (Linux's inet_peer rid). */
	struct ipfrag_peer {
		uint32_t addr;
		uint32_t rid;
		uint32_t gen; /* bumped when the slot changes hands */
		uint64_t last;
	} peers[IPFRAG_PEERS];
};

static uint32_t ipq_saddr(const struct ipq *q)
{
	uint32_t a;

	memcpy(&a, q->q.key.saddr, sizeof(a));
	return a;
}

/* Gives up on a datagram (Linux's ipq_kill() + IpReasmFails). */
static void ipq_fail(struct ipq *q)
{
	NS_INC_STATS(q->q.f->ns, IpReasmFails);
	inet_frag_destroy(&q->q);
}

/*
 * The reassembly timer (Linux's ip_expire()). RFC 792/1122 3.2.1.4: when
 * the first fragment arrived, tell the sender with ICMP time exceeded,
 * fragment reassembly time exceeded.
 */
static void ipq_expire(struct timer_list *t)
{
	struct ipq *q = (struct ipq *)container_of(t, struct inet_frag_queue, timer);
	struct sk_buff *head = inet_frag_head(&q->q);

	NS_INC_STATS(q->q.f->ns, IpReasmTimeout);
	if (head)
		icmp_send(head, ICMP_TIME_EXCEEDED, ICMP_EXC_FRAGTIME, 0);
	ipq_fail(q);
}

static struct ipq *ipq_find(struct nstack *ns, const struct iphdr *iph)
{
	struct inet_frag_key key;

	memset(&key, 0, sizeof(key));
	memcpy(key.saddr, &iph->saddr, sizeof(iph->saddr));
	memcpy(key.daddr, &iph->daddr, sizeof(iph->daddr));
	key.id = iph->id;
	key.protocol = iph->protocol;
	return (struct ipq *)inet_frag_find(&ns->ip->frag->frags, &key, sizeof(struct ipq),
					    ipq_expire);
}

/* Builds the whole datagram from a complete queue (Linux's ip_frag_reasm()). */
static struct sk_buff *ipq_reasm(struct ipq *q)
{
	struct nstack *ns = q->q.f->ns;
	struct sk_buff *head = skb_peek(&q->q.frags);
	const struct iphdr *hiph = (const struct iphdr *)skb_network_header(head);
	unsigned int hlen = IP_IHL(hiph) * 4u;
	struct sk_buff *skb;
	struct iphdr *iph;
	unsigned char *p;

	if (hlen + q->q.len > IP_MAXPACKET) {
		ns_dbg(ns, "ipfrag: oversized reassembled packet dropped");
		return NULL;
	}
	skb = alloc_skb_hdr(ns, hlen + q->q.len);
	if (!skb)
		return NULL;
	p = skb_put(skb, hlen + q->q.len);
	memcpy(p, hiph, hlen);
	inet_frag_copy_payload(&q->q, p + hlen);
	iph = (struct iphdr *)p;
	iph->tot_len = htons((uint16_t)(hlen + q->q.len));
	iph->frag_off = 0;
	iph->check = 0;
	iph->check = ip_fast_csum(iph, hlen / 4u);
	skb->protocol = ETH_P_IP;
	skb->pkt_type = head->pkt_type;
	skb->tstamp_us = head->tstamp_us;
	skb_reset_network_header(skb);
	return skb;
}

/* The fragment counter of source addr (a slot taken over from the idlest source). */
static unsigned int ipfrag_peer_slot(struct nstack *ns, uint32_t addr)
{
	struct ipfrag_state *fs = ns->ip->frag;
	unsigned int victim = 0;

	for (unsigned int i = 0; i < IPFRAG_PEERS; i++) {
		if (fs->peers[i].gen && fs->peers[i].addr == addr)
			return i;
		if (fs->peers[i].last < fs->peers[victim].last)
			victim = i;
	}
	fs->peers[victim].addr = addr;
	fs->peers[victim].rid = 0;
	fs->peers[victim].gen++;
	if (fs->peers[victim].gen == 0)
		fs->peers[victim].gen = 1;
	return victim;
}

/*
 * Linux's ip_frag_too_far(): when more than IPFRAG_MAX_DIST fragments from
 * the same source arrived between two fragments of this datagram, the
 * datagram is most likely lost and its ID may soon be reused (RFC 4963), so
 * the queue starts over rather than mixing two datagrams.
 */
static bool ipq_too_far(struct nstack *ns, struct ipq *q)
{
	struct ipfrag_state *fs = ns->ip->frag;
	unsigned int slot = ipfrag_peer_slot(ns, ipq_saddr(q));
	struct ipfrag_peer *p = &fs->peers[slot];
	bool known = q->peer == slot && q->peer_gen == p->gen;
	uint32_t start = q->rid;

	p->rid++;
	p->last = ns_now(ns);
	q->peer = slot;
	q->peer_gen = p->gen;
	q->rid = p->rid;
	return known && !skb_queue_empty(&q->q.frags) && p->rid - start > IPFRAG_MAX_DIST;
}

/*
 * Takes one fragment (skb->data at its IP header, already validated by
 * ip_rcv) and returns the reassembled datagram when it completes one.
 */
struct sk_buff *ip_defrag(struct nstack *ns, struct sk_buff *skb)
{
	struct inet_frags *f = &ns->ip->frag->frags;
	const struct iphdr *iph = (const struct iphdr *)skb->data;
	unsigned int hlen = IP_IHL(iph) * 4u;
	uint16_t fo = ntohs(iph->frag_off);
	unsigned int offset = (fo & IP_OFFMASK) * 8u;
	unsigned int end = offset + (skb->len - hlen);
	struct sk_buff *whole;
	struct ipq *q;

	NS_INC_STATS(ns, IpReasmReqds);
	q = ipq_find(ns, iph);
	if (!q) {
		NS_INC_STATS(ns, IpReasmFails);
		goto drop;
	}
	if (ipq_too_far(ns, q)) {
		NS_INC_STATS(ns, IpReasmFails);
		inet_frag_reinit(&q->q);
	}
	/* RFC 791: all but the last fragment carry multiples of 8 bytes. */
	if (fo & IP_MF)
		end &= ~7u;
	skb_reset_network_header(skb);
	skb_pull(skb, hlen);
	switch (inet_frag_queue_add(&q->q, skb, offset, end, fo & IP_MF)) {
	case INET_FRAG_DUP:
		goto drop;
	case INET_FRAG_OVERLAP:
		NS_INC_STATS(ns, IpReasmOverlaps);
		goto discard_q;
	case INET_FRAG_BAD:
		goto discard_q;
	case INET_FRAG_QUEUED:
		break;
	case INET_FRAG_COMPLETE:
		whole = ipq_reasm(q);
		if (!whole) {
			ipq_fail(q);
			return NULL;
		}
		NS_INC_STATS(ns, IpReasmOKs);
		inet_frag_destroy(&q->q);
		return whole;
	}
	NS_ADD_STATS(ns, IpReasmFails, inet_frag_evict(f, &q->q));
	if (f->mem > f->high_thresh)
		ipq_fail(q); /* one datagram alone over the limit */
	return NULL;

discard_q:
	ipq_fail(q);
drop:
	kfree_skb(skb);
	return NULL;
}

/* Creates the reassembly state under ns->ip. */
int ipfrag_init(struct nstack *ns)
{
	struct ipfrag_state *fs = ns_zalloc(ns, sizeof(*fs));

	if (!fs)
		return -ENOMEM;
	inet_frags_init(&fs->frags, ns, IPFRAG_HIGH_THRESH, IPFRAG_TIME_US);
	ns->ip->frag = fs;
	return 0;
}

/* Drops every queue still waiting. */
void ipfrag_exit(struct nstack *ns)
{
	struct ipfrag_state *fs = ns->ip ? ns->ip->frag : NULL;

	if (!fs)
		return;
	inet_frags_exit(&fs->frags);
	ns_free(ns, fs);
	ns->ip->frag = NULL;
}
