/*
 * Reassembly queues common to IPv4 and IPv6 (Linux's
 * net/ipv4/inet_fragment.c); see inet_frag.h.
 */
#include <string.h>

#include "inet_frag.h"
#include "stack.h"

/* Sets up the queues of one family. */
void inet_frags_init(struct inet_frags *f, struct nstack *ns, size_t high_thresh,
		     uint64_t timeout_us)
{
	f->ns = ns;
	TAILQ_INIT(&f->queues);
	f->nqueues = 0;
	f->mem = 0;
	f->high_thresh = high_thresh;
	/* Linux's default low threshold is three quarters of the high one. */
	f->low_thresh = high_thresh / 4u * 3u;
	f->timeout_us = timeout_us;
}

/* Drops every queue still waiting. */
void inet_frags_exit(struct inet_frags *f)
{
	while (!TAILQ_EMPTY(&f->queues))
		inet_frag_destroy(TAILQ_FIRST(&f->queues));
}

static size_t inet_frag_skb_mem(const struct sk_buff *skb)
{
	return skb->truesize ? skb->truesize : skb->len + sizeof(*skb);
}

/* Frees a queue and everything in it. */
void inet_frag_destroy(struct inet_frag_queue *q)
{
	struct inet_frags *f = q->f;
	struct nstack *ns = f->ns;

	del_timer(ns, &q->timer);
	skb_queue_purge(&q->frags);
	f->mem -= q->mem;
	f->nqueues--;
	TAILQ_REMOVE(&f->queues, q, lru);
	ns_free(ns, q);
}

/* Finds or creates the queue of key; see inet_frag.h. */
struct inet_frag_queue *inet_frag_find(struct inet_frags *f, const struct inet_frag_key *key,
				       size_t qsize, void (*expire)(struct timer_list *t))
{
	struct nstack *ns = f->ns;
	struct inet_frag_queue *q;

	TAILQ_FOREACH(q, &f->queues, lru)
	if (memcmp(&q->key, key, sizeof(*key)) == 0)
		return q;
	q = ns_zalloc(ns, qsize);
	if (!q)
		return NULL;
	q->f = f;
	q->key = *key;
	skb_queue_head_init(&q->frags);
	timer_setup(&q->timer, expire);
	mod_timer(ns, &q->timer, ns_now(ns) + f->timeout_us);
	TAILQ_INSERT_TAIL(&f->queues, q, lru);
	f->nqueues++;
	return q;
}

/* Empties q to start it over. */
void inet_frag_reinit(struct inet_frag_queue *q)
{
	struct nstack *ns = q->f->ns;

	skb_queue_purge(&q->frags);
	q->f->mem -= q->mem;
	q->mem = 0;
	q->flags = 0;
	q->len = 0;
	q->meat = 0;
	mod_timer(ns, &q->timer, ns_now(ns) + q->f->timeout_us);
}

/*
 * Places [offset, end) among the held fragments. A piece lying entirely
 * inside a run of contiguous fragments is a duplicate; a piece that
 * overlaps in any other way is an overlap (Linux's
 * inet_frag_queue_insert()).
 */
static enum inet_frag_result inet_frag_insert(struct inet_frag_queue *q, struct sk_buff *skb,
					      unsigned int offset, unsigned int end)
{
	struct sk_buff *cur, *after = NULL;
	unsigned int run_start = 0, run_end = 0;
	bool in_run = false;

	/* First the runs: contiguous fragments merged. */
	skb_queue_walk(&q->frags, cur)
	{
		const struct inet_frag_cb *cb = INET_FRAG_CB(cur);

		if (!in_run || cb->offset != run_end) {
			if (in_run && offset >= run_start && end <= run_end)
				return INET_FRAG_DUP;
			run_start = cb->offset;
			in_run = true;
		}
		run_end = cb->end;
	}
	if (in_run && offset >= run_start && end <= run_end)
		return INET_FRAG_DUP;
	/* Then any intersection with a single fragment. */
	skb_queue_walk(&q->frags, cur)
	{
		const struct inet_frag_cb *cb = INET_FRAG_CB(cur);

		if (offset < cb->end && end > cb->offset)
			return INET_FRAG_OVERLAP;
		if (cb->offset < offset)
			after = cur;
	}
	if (after)
		skb_insert_after(&q->frags, after, skb);
	else
		skb_queue_head(&q->frags, skb);
	return INET_FRAG_QUEUED;
}

/*
 * Takes one fragment into q (the common part of Linux's ip_frag_queue()
 * and ip6_frag_queue()): the last fragment fixes the length and nothing
 * may lie past it, then the piece is placed.
 */
enum inet_frag_result inet_frag_queue_add(struct inet_frag_queue *q, struct sk_buff *skb,
					  unsigned int offset, unsigned int end, bool more)
{
	enum inet_frag_result res;
	size_t mem;

	if (!more) {
		if (end < q->len || ((q->flags & INET_FRAG_LAST_IN) && end != q->len))
			return INET_FRAG_BAD;
		q->flags |= INET_FRAG_LAST_IN;
		q->len = end;
	} else if (end > q->len) {
		if (q->flags & INET_FRAG_LAST_IN)
			return INET_FRAG_BAD;
		q->len = end;
	}
	if (end == offset)
		return INET_FRAG_BAD;
	skb_trim(skb, end - offset);
	INET_FRAG_CB(skb)->offset = offset;
	INET_FRAG_CB(skb)->end = end;
	res = inet_frag_insert(q, skb, offset, end);
	if (res != INET_FRAG_QUEUED)
		return res;
	if (offset == 0)
		q->flags |= INET_FRAG_FIRST_IN;
	q->meat += end - offset;
	mem = inet_frag_skb_mem(skb);
	q->mem += mem;
	q->f->mem += mem;
	if (q->flags == (INET_FRAG_FIRST_IN | INET_FRAG_LAST_IN) && q->meat == q->len)
		return INET_FRAG_COMPLETE;
	return INET_FRAG_QUEUED;
}

/* Copies the payload of a complete queue to dst. */
void inet_frag_copy_payload(struct inet_frag_queue *q, unsigned char *dst)
{
	struct sk_buff *frag;

	skb_queue_walk(&q->frags, frag)
	    memcpy(dst + INET_FRAG_CB(frag)->offset, frag->data, frag->len);
}

/* The fragment at offset 0, when held. */
struct sk_buff *inet_frag_head(struct inet_frag_queue *q)
{
	struct sk_buff *head = skb_peek(&q->frags);

	if (!(q->flags & INET_FRAG_FIRST_IN) || !head || INET_FRAG_CB(head)->offset != 0)
		return NULL;
	return head;
}

/* Evicts the oldest queues while memory is over the high threshold. */
unsigned int inet_frag_evict(struct inet_frags *f, struct inet_frag_queue *keep)
{
	struct inet_frag_queue *q, *tmp;
	unsigned int n = 0;

	if (f->mem <= f->high_thresh)
		return 0;
	TAILQ_FOREACH_SAFE(q, &f->queues, lru, tmp)
	{
		if (f->mem <= f->low_thresh)
			break;
		if (q != keep) {
			inet_frag_destroy(q);
			n++;
		}
	}
	return n;
}
