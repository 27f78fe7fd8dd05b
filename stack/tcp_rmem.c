/*
 * TCP receive memory, as Linux's net/ipv4/tcp_input.c bounds it: every
 * queued segment is charged its truesize to the socket (skb_set_owner_r)
 * and to the stack's TCP pool (tcp_mem). A segment that does not fit is
 * let in only after the queues were made smaller: first the window is
 * clamped, then runs of segments that waste their buffers are copied into
 * compact ones (tcp_collapse), then the out-of-order queue is pruned from
 * its far end (tcp_prune_ofo_queue); if that is not enough, the segment is
 * dropped and the sender retransmits it later.
 */
#include <string.h>

#include "stack.h"
#include "tcp.h"

/*
 * Data room of a compact skb made by collapsing: with its struct
 * skb_shared it fills one 8 KiB arena chunk.
 */
#define TCP_COLLAPSE_DATA (8192u - (unsigned int)sizeof(struct skb_shared))

/*
 * Learns the payload/truesize ratio from a full-sized in-order segment
 * (Linux 6.x's tcp_measure_rcv_mss): the advertised window is the free
 * buffer times this ratio, so a full window of such segments fits in
 * sk_rcvbuf. A better ratio lets the window clamp follow the buffer.
 */
void tcp_measure_scaling_ratio(struct sock *sk, const struct sk_buff *skb)
{
	struct tcp_sock *tp = tcp_sk(sk);
	uint64_t val;
	uint32_t clamp;

	if (!skb->len || skb->len < tp->rcv_mss || !skb->truesize)
		return;
	val = ((uint64_t)skb->len << TCP_RMEM_TO_WIN_SCALE) / skb->truesize;
	if (val > 255)
		val = 255;
	if (!val)
		val = 1;
	if (val == tp->scaling_ratio)
		return;
	tp->scaling_ratio = (uint8_t)val;
	clamp = (uint32_t)tcp_win_from_space(sk, sk->sk_rcvbuf);
	if (!sk->sk_userlocks_rcv && tp->window_clamp < clamp)
		tp->window_clamp = clamp;
}

/*
 * The receive queue is over its buffer: stop quick ACKs and, while memory
 * is plentiful, let the buffer grow to what it holds (up to tcp_rmem[2]);
 * otherwise keep the window small (Linux's tcp_clamp_window).
 */
static void tcp_clamp_window(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	const struct tcp_config *c = &sk->ns->cfg.tcp;

	tp->quick = 0;
	if (sk->sk_rcvbuf < c->rmem[2] && !sk->sk_userlocks_rcv && !sk_under_memory_pressure(sk) &&
	    sk_mem_under_min(sk)) {
		unsigned int want = sk->sk_rmem_alloc;

		sk->sk_rcvbuf = want < (unsigned int)c->rmem[2] ? (int)want : c->rmem[2];
	}
	if (sk->sk_rmem_alloc > (unsigned int)sk->sk_rcvbuf) {
		uint32_t two = 2u * tp->advmss;

		tp->rcv_ssthresh = tp->window_clamp < two ? tp->window_clamp : two;
	}
}

/* Does skb cost more buffer than its data earns in window (Linux's collapse test)? */
static bool tcp_collapse_wanted(const struct sock *sk, const struct sk_buff *skb, uint32_t start)
{
	const struct tcp_skb_cb *cb = TCP_SKB_CB(skb);

	return skb->len && !(cb->tcp_flags & TH_FIN) && after(cb->seq + skb->len, start) &&
	       (unsigned int)tcp_win_from_space(sk, (int)skb->truesize) > skb->len;
}

static void tcp_queue_before(struct sk_buff_head *q, struct sk_buff *next, struct sk_buff *skb)
{
	if (next)
		skb_insert_before(q, next, skb);
	else
		skb_queue_tail(q, skb);
}

/*
 * Copies the data of the contiguous segments first..end (end excluded),
 * bytes in all from sequence start on, into as few compact skbs as it
 * takes, in their place. Out of memory, it stops with the queue whole.
 */
static unsigned int tcp_collapse_run(struct sock *sk, struct sk_buff_head *q, struct sk_buff *first,
				     struct sk_buff *end, uint32_t start, uint32_t bytes)
{
	struct sk_buff *skb = first, *next, *cur = NULL;
	unsigned int done = 0;

	while (skb != end) {
		struct tcp_skb_cb *cb = TCP_SKB_CB(skb);

		next = TAILQ_NEXT(skb, list);
		skb_unlink(q, skb);
		if (before(cb->seq, start)) {
			skb_pull(skb, start - cb->seq);
			cb->seq = start;
		}
		while (skb->len) {
			unsigned int n;

			if (!cur || !skb_tailroom(cur)) {
				struct sk_buff *nskb = alloc_skb(
				    sk->ns, bytes < TCP_COLLAPSE_DATA ? bytes : TCP_COLLAPSE_DATA);

				if (!nskb)
					break;
				if (cur)
					tcp_queue_before(q, next, cur);
				memcpy(nskb->cb, skb->cb, sizeof(nskb->cb));
				TCP_SKB_CB(nskb)->end_seq = cb->seq;
				nskb->tstamp_us = skb->tstamp_us;
				skb_set_owner_r(nskb, sk);
				cur = nskb;
			}
			n = skb->len < skb_tailroom(cur) ? skb->len : skb_tailroom(cur);
			memcpy(skb_put(cur, n), skb->data, n);
			TCP_SKB_CB(cur)->end_seq += n;
			skb_pull(skb, n);
			cb->seq += n;
			bytes -= n;
		}
		if (skb->len) {
			/* No memory for a compact skb: leave the rest as it is. */
			if (cur)
				tcp_queue_before(q, next, cur);
			tcp_queue_before(q, next, skb);
			return done;
		}
		kfree_skb(skb);
		done++;
		skb = next;
	}
	if (cur)
		tcp_queue_before(q, end, cur);
	return done;
}

/*
 * Collapses, from sequence start on, each run of two or more contiguous
 * segments that waste their buffers into compact skbs (Linux's
 * tcp_collapse and tcp_collapse_ofo_queue): a flood of tiny segments then
 * costs its data, not a frame buffer per byte or two.
 */
static void tcp_collapse(struct sock *sk, struct sk_buff_head *q, uint32_t start)
{
	struct sk_buff *skb = skb_peek(q);

	while (skb) {
		struct sk_buff *n;
		uint32_t expect = 0, bytes = 0;
		unsigned int count = 0;

		for (n = skb; n && tcp_collapse_wanted(sk, n, start); n = TAILQ_NEXT(n, list)) {
			uint32_t seq = TCP_SKB_CB(n)->seq, from = before(seq, start) ? start : seq;

			if (count && from != expect)
				break;
			bytes += seq + n->len - from;
			expect = seq + n->len;
			count++;
		}
		if (count >= 2)
			NS_ADD_STATS(sk->ns, TcpExtTCPRcvCollapsed,
				     tcp_collapse_run(sk, q, skb, n, start, bytes));
		skb = count ? n : TAILQ_NEXT(skb, list);
	}
}

/*
 * Drops out-of-order segments from the far end, an eighth of the buffer at
 * a time, until the socket is under its buffer and TCP is not under
 * memory pressure, keeping those before in_seq: a segment that would land
 * last in the queue is not worth more than those already there (Linux's
 * tcp_prune_ofo_queue). True if something was dropped.
 */
static bool tcp_prune_ofo_queue(struct sock *sk, uint32_t in_seq)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct sk_buff_head *q = &tp->out_of_order_queue;
	struct sk_buff *skb = skb_peek_tail(q), *prev;
	bool pruned = false;
	int goal = sk->sk_rcvbuf >> 3;

	while (skb) {
		if (after(in_seq, TCP_SKB_CB(skb)->seq))
			break;
		pruned = true;
		prev = TAILQ_PREV(skb, sk_buff_list, list);
		skb_unlink(q, skb);
		goal -= (int)skb->truesize;
		kfree_skb(skb);
		if (!prev || goal <= 0) {
			if (sk->sk_rmem_alloc <= (unsigned int)sk->sk_rcvbuf &&
			    !sk_under_memory_pressure(sk))
				break;
			goal = sk->sk_rcvbuf >> 3;
		}
		skb = prev;
	}
	if (pruned) {
		NS_INC_STATS(sk->ns, TcpExtOfoPruned);
		/* The SACK blocks described what is gone (tcp_sack_reset). */
		tp->num_sacks = 0;
	}
	return pruned;
}

/*
 * Makes room when the socket is over its buffer (Linux's tcp_prune_queue):
 * clamp the window, collapse both queues, then prune the out-of-order
 * queue. -1 when the socket stays over its buffer: drop the new segment.
 */
static int tcp_prune_queue(struct sock *sk, uint32_t in_seq)
{
	struct tcp_sock *tp = tcp_sk(sk);

	NS_INC_STATS(sk->ns, TcpExtPruneCalled);
	if (sk->sk_rmem_alloc >= (unsigned int)sk->sk_rcvbuf)
		tcp_clamp_window(sk);
	else if (sk_under_memory_pressure(sk) && tp->rcv_ssthresh > 4u * tp->advmss)
		tp->rcv_ssthresh = 4u * tp->advmss;
	if (sk->sk_rmem_alloc <= (unsigned int)sk->sk_rcvbuf)
		return 0;
	tcp_collapse(sk, &tp->out_of_order_queue, tp->rcv_nxt);
	tcp_collapse(sk, &sk->sk_receive_queue, tp->copied_seq);
	if (sk->sk_rmem_alloc <= (unsigned int)sk->sk_rcvbuf)
		return 0;
	tcp_prune_ofo_queue(sk, in_seq);
	if (sk->sk_rmem_alloc <= (unsigned int)sk->sk_rcvbuf)
		return 0;
	NS_INC_STATS(sk->ns, TcpExtRcvPruned);
	return -1;
}

/*
 * May skb (size bytes of truesize) be queued? Over the socket's buffer or
 * refused by tcp_mem, the queues are pruned first (Linux's
 * tcp_try_rmem_schedule). 0 yes, -1 drop it.
 */
int tcp_try_rmem_schedule(struct sock *sk, const struct sk_buff *skb, unsigned int size)
{
	uint32_t seq = TCP_SKB_CB(skb)->seq;

	if (sk->sk_rmem_alloc <= (unsigned int)sk->sk_rcvbuf && sk_rmem_schedule(sk, size))
		return 0;
	if (tcp_prune_queue(sk, seq) < 0)
		return -1;
	while (!sk_rmem_schedule(sk, size)) {
		if (!tcp_prune_ofo_queue(sk, seq))
			return -1;
	}
	return 0;
}
