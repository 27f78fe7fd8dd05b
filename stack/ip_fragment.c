/*
 * IPv4 reassembly (RFC 791 section 3.2, RFC 815), with Linux's rules:
 * queues keyed by (saddr, daddr, id, protocol); exact or contained
 * duplicates are dropped and the queue kept; any other overlap discards
 * the whole datagram (RFC 5722 applied to IPv4, as Linux does since 4.19);
 * a queue lives IPFRAG_TIME_US from its first fragment; the memory of all
 * queues is bounded by IPFRAG_HIGH_THRESH, the oldest queues giving way.
 */
#include <errno.h>
#include <string.h>

#include <bsd/sys/queue.h>

#include "checksum.h"
#include "icmp.h"
#include "ip.h"
#include "ip_priv.h"
#include "stack.h"

/* Evict down to this after crossing the high threshold (ipfrag_low_thresh). */
#define IPFRAG_LOW_THRESH (IPFRAG_HIGH_THRESH / 4u * 3u)

#define IPFRAG_PEERS 64

#define IPQ_FIRST_IN 0x1
#define IPQ_LAST_IN  0x2

/* Kept in skb->cb while a fragment waits in a queue. */
struct ipfrag_cb {
	unsigned int offset; /* payload offset in the datagram */
	unsigned int end;    /* offset + payload length */
};

static struct ipfrag_cb *FRAG_CB(struct sk_buff *skb)
{
	_Static_assert(sizeof(struct ipfrag_cb) <= sizeof(skb->cb), "cb too small");
	return (struct ipfrag_cb *)skb->cb;
}

struct ipq {
	TAILQ_ENTRY(ipq) lru; /* oldest first */
	struct nstack *ns;
	uint32_t saddr, daddr;
	uint16_t id;
	uint8_t protocol;
	unsigned int flags;
	unsigned int len;  /* datagram payload length once known (or the highest end seen) */
	unsigned int meat; /* payload bytes held */
	size_t mem;	   /* truesize of the fragments held */
	struct sk_buff_head frags; /* sorted by offset, payload at skb->data */
	struct timer_list timer;
	unsigned int peer; /* slot in ipfrag_state.peers */
	uint32_t peer_gen; /* that slot's generation when last seen */
	uint32_t rid;	   /* the peer's fragment count at our last fragment */
};

TAILQ_HEAD(ipq_list, ipq);

/* ns->ip->frag */
struct ipfrag_state {
	struct ipq_list queues;
	unsigned int nqueues;
	size_t mem;
	/* Fragments seen per source, for IPFRAG_MAX_DIST (Linux's inet_peer rid). */
	struct ipfrag_peer {
		uint32_t addr;
		uint32_t rid;
		uint32_t gen; /* bumped when the slot changes hands */
		uint64_t last;
	} peers[IPFRAG_PEERS];
};

static size_t ipfrag_skb_mem(const struct sk_buff *skb)
{
	return skb->truesize ? skb->truesize : skb->len + sizeof(*skb);
}

/* Frees a queue and everything in it. */
static void ipq_destroy(struct ipq *q)
{
	struct nstack *ns = q->ns;
	struct ipfrag_state *fs = ns->ip->frag;

	del_timer(ns, &q->timer);
	skb_queue_purge(&q->frags);
	fs->mem -= q->mem;
	fs->nqueues--;
	TAILQ_REMOVE(&fs->queues, q, lru);
	ns_free(ns, q);
}

/* Gives up on a datagram (Linux's ipq_kill() + IpReasmFails). */
static void ipq_fail(struct ipq *q)
{
	NS_INC_STATS(q->ns, IpReasmFails);
	ipq_destroy(q);
}

/*
 * The reassembly timer (Linux's ip_expire()). RFC 792/1122 3.2.1.4: when
 * the first fragment arrived, tell the sender with ICMP time exceeded,
 * fragment reassembly time exceeded.
 */
static void ipq_expire(struct timer_list *t)
{
	struct ipq *q = container_of(t, struct ipq, timer);
	struct nstack *ns = q->ns;

	NS_INC_STATS(ns, IpReasmTimeout);
	if (q->flags & IPQ_FIRST_IN) {
		struct sk_buff *head = skb_peek(&q->frags);

		if (head && FRAG_CB(head)->offset == 0)
			icmp_send(head, ICMP_TIME_EXCEEDED, ICMP_EXC_FRAGTIME, 0);
	}
	ipq_fail(q);
}

/* Evicts the oldest queues while memory is over the high threshold. */
static void ipfrag_evict(struct nstack *ns, struct ipq *keep)
{
	struct ipfrag_state *fs = ns->ip->frag;
	struct ipq *q, *tmp;

	if (fs->mem <= IPFRAG_HIGH_THRESH)
		return;
	TAILQ_FOREACH_SAFE(q, &fs->queues, lru, tmp)
	{
		if (fs->mem <= IPFRAG_LOW_THRESH)
			break;
		if (q != keep)
			ipq_fail(q);
	}
}

static struct ipq *ipq_find(struct nstack *ns, const struct iphdr *iph)
{
	struct ipfrag_state *fs = ns->ip->frag;
	struct ipq *q;

	TAILQ_FOREACH(q, &fs->queues, lru)
	if (q->id == iph->id && q->saddr == iph->saddr && q->daddr == iph->daddr &&
	    q->protocol == iph->protocol)
		return q;
	q = ns_zalloc(ns, sizeof(*q));
	if (!q)
		return NULL;
	q->ns = ns;
	q->saddr = iph->saddr;
	q->daddr = iph->daddr;
	q->id = iph->id;
	q->protocol = iph->protocol;
	skb_queue_head_init(&q->frags);
	timer_setup(&q->timer, ipq_expire);
	mod_timer(ns, &q->timer, ns_now(ns) + IPFRAG_TIME_US);
	TAILQ_INSERT_TAIL(&fs->queues, q, lru);
	fs->nqueues++;
	return q;
}

enum frag_insert { FRAG_OK, FRAG_DUP, FRAG_OVERLAP };

/*
 * Places [offset, end) among the held fragments. A piece lying entirely
 * inside a run of contiguous fragments is a duplicate; a piece that
 * overlaps in any other way is an overlap (Linux's
 * inet_frag_queue_insert()).
 */
static enum frag_insert ipq_insert(struct ipq *q, struct sk_buff *skb, unsigned int offset,
				   unsigned int end)
{
	struct sk_buff *cur, *after = NULL;
	unsigned int run_start = 0, run_end = 0;
	bool in_run = false;

	/* First the runs: contiguous fragments merged. */
	skb_queue_walk(&q->frags, cur)
	{
		const struct ipfrag_cb *cb = FRAG_CB(cur);

		if (!in_run || cb->offset != run_end) {
			if (in_run && offset >= run_start && end <= run_end)
				return FRAG_DUP;
			run_start = cb->offset;
			in_run = true;
		}
		run_end = cb->end;
	}
	if (in_run && offset >= run_start && end <= run_end)
		return FRAG_DUP;
	/* Then any intersection with a single fragment. */
	skb_queue_walk(&q->frags, cur)
	{
		const struct ipfrag_cb *cb = FRAG_CB(cur);

		if (offset < cb->end && end > cb->offset)
			return FRAG_OVERLAP;
		if (cb->offset < offset)
			after = cur;
	}
	if (after)
		skb_insert_after(&q->frags, after, skb);
	else
		skb_queue_head(&q->frags, skb);
	return FRAG_OK;
}

/* Builds the whole datagram from a complete queue (Linux's ip_frag_reasm()). */
static struct sk_buff *ipq_reasm(struct ipq *q)
{
	struct nstack *ns = q->ns;
	struct sk_buff *head = skb_peek(&q->frags);
	const struct iphdr *hiph = (const struct iphdr *)skb_network_header(head);
	unsigned int hlen = IP_IHL(hiph) * 4u;
	struct sk_buff *skb, *frag;
	struct iphdr *iph;
	unsigned char *p;

	if (hlen + q->len > IP_MAXPACKET) {
		ns_dbg(ns, "ipfrag: oversized reassembled packet dropped");
		return NULL;
	}
	skb = alloc_skb_hdr(ns, hlen + q->len);
	if (!skb)
		return NULL;
	p = skb_put(skb, hlen + q->len);
	memcpy(p, hiph, hlen);
	skb_queue_walk(&q->frags, frag)
	    memcpy(p + hlen + FRAG_CB(frag)->offset, frag->data, frag->len);
	iph = (struct iphdr *)p;
	iph->tot_len = htons((uint16_t)(hlen + q->len));
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
	unsigned int slot = ipfrag_peer_slot(ns, q->saddr);
	struct ipfrag_peer *p = &fs->peers[slot];
	bool known = q->peer == slot && q->peer_gen == p->gen;
	uint32_t start = q->rid;

	p->rid++;
	p->last = ns_now(ns);
	q->peer = slot;
	q->peer_gen = p->gen;
	q->rid = p->rid;
	return known && !skb_queue_empty(&q->frags) && p->rid - start > IPFRAG_MAX_DIST;
}

/* Empties q to start it over (Linux's ip_frag_reinit()). */
static void ipq_reinit(struct ipq *q)
{
	struct nstack *ns = q->ns;

	NS_INC_STATS(ns, IpReasmFails);
	skb_queue_purge(&q->frags);
	ns->ip->frag->mem -= q->mem;
	q->mem = 0;
	q->flags = 0;
	q->len = 0;
	q->meat = 0;
	mod_timer(ns, &q->timer, ns_now(ns) + IPFRAG_TIME_US);
}

/*
 * Takes one fragment (skb->data at its IP header, already validated by
 * ip_rcv) and returns the reassembled datagram when it completes one.
 */
struct sk_buff *ip_defrag(struct nstack *ns, struct sk_buff *skb)
{
	struct ipfrag_state *fs = ns->ip->frag;
	const struct iphdr *iph = (const struct iphdr *)skb->data;
	unsigned int hlen = IP_IHL(iph) * 4u;
	uint16_t fo = ntohs(iph->frag_off);
	unsigned int offset = (fo & IP_OFFMASK) * 8u;
	unsigned int end = offset + (skb->len - hlen);
	struct sk_buff *whole;
	struct ipq *q;
	size_t mem;

	NS_INC_STATS(ns, IpReasmReqds);
	q = ipq_find(ns, iph);
	if (!q) {
		NS_INC_STATS(ns, IpReasmFails);
		goto drop;
	}
	if (ipq_too_far(ns, q))
		ipq_reinit(q);
	if (!(fo & IP_MF)) {
		/* The last fragment fixes the length; nothing may lie past it. */
		if (end < q->len || ((q->flags & IPQ_LAST_IN) && end != q->len))
			goto discard_q;
		q->flags |= IPQ_LAST_IN;
		q->len = end;
	} else {
		/* RFC 791: all but the last fragment carry multiples of 8 bytes. */
		end &= ~7u;
		if (end > q->len) {
			if (q->flags & IPQ_LAST_IN)
				goto discard_q;
			q->len = end;
		}
	}
	if (end == offset)
		goto discard_q;
	skb_reset_network_header(skb);
	skb_pull(skb, hlen);
	skb_trim(skb, end - offset);
	FRAG_CB(skb)->offset = offset;
	FRAG_CB(skb)->end = end;
	switch (ipq_insert(q, skb, offset, end)) {
	case FRAG_DUP:
		goto drop;
	case FRAG_OVERLAP:
		NS_INC_STATS(ns, IpReasmOverlaps);
		goto discard_q;
	case FRAG_OK:
		break;
	}
	if (offset == 0)
		q->flags |= IPQ_FIRST_IN;
	q->meat += end - offset;
	mem = ipfrag_skb_mem(skb);
	q->mem += mem;
	fs->mem += mem;

	if (q->flags == (IPQ_FIRST_IN | IPQ_LAST_IN) && q->meat == q->len) {
		whole = ipq_reasm(q);
		if (!whole) {
			ipq_fail(q);
			return NULL;
		}
		NS_INC_STATS(ns, IpReasmOKs);
		ipq_destroy(q);
		return whole;
	}
	ipfrag_evict(ns, q);
	if (fs->mem > IPFRAG_HIGH_THRESH)
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
	TAILQ_INIT(&fs->queues);
	ns->ip->frag = fs;
	return 0;
}

/* Drops every queue still waiting. */
void ipfrag_exit(struct nstack *ns)
{
	struct ipfrag_state *fs = ns->ip ? ns->ip->frag : NULL;

	if (!fs)
		return;
	while (!TAILQ_EMPTY(&fs->queues))
		ipq_destroy(TAILQ_FIRST(&fs->queues));
	ns_free(ns, fs);
	ns->ip->frag = NULL;
}
