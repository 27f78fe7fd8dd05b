/*
 * RACK loss detection (RFC 8985, Linux's tcp_recovery.c): a segment is lost
 * once a segment sent after it has been delivered and more than the RTT of
 * that delivery plus a reordering window has passed since it was sent.
 * Time, not a count of segments SACKed above, decides, so lost
 * retransmissions and tail losses are found as well; the reordering window
 * keeps a path that reorders from looking lossy.
 */
#include "stack.h"
#include "tcp.h"

/* Whether net.ipv4.tcp_recovery asks for RACK (Linux's tcp_is_rack). */
bool tcp_is_rack(const struct sock *sk)
{
	return sk->ns->cfg.tcp.recovery & TCP_RACK_LOSS_DETECTION;
}

/* Sets up a new connection's RACK state (Linux's tcp_init_sock part). */
void tcp_rack_init(struct tcp_sock *tp)
{
	tp->rack = (struct tcp_rack){.reo_wnd_steps = 1};
	tp->reord_seen = 0;
	tp->dsack_dups = 0;
}

/*
 * Marks skb lost (Linux's tcp_mark_skb_lost). A segment already lost and
 * sent again has lost its retransmission: that copy no longer counts as in
 * flight, and the segment becomes due for another one.
 */
void tcp_mark_skb_lost(struct sock *sk, struct sk_buff *skb)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct tcp_skb_cb *cb = TCP_SKB_CB(skb);

	if (cb->sacked & TCPCB_SACKED_ACKED)
		return;
	if (cb->sacked & TCPCB_LOST) {
		if (cb->sacked & TCPCB_SACKED_RETRANS) {
			cb->sacked &= (uint8_t)~TCPCB_SACKED_RETRANS;
			tp->retrans_out--;
			NS_INC_STATS(sk->ns, TcpExtTCPLostRetransmit);
		}
		return;
	}
	cb->sacked |= TCPCB_LOST;
	tp->lost_out++;
}

/* Ties in send time (one burst) are broken by sequence: the later end was sent later. */
static bool tcp_rack_sent_after(uint64_t t1, uint64_t t2, uint32_t seq1, uint32_t seq2)
{
	return t1 > t2 || (t1 == t2 && after(seq1, seq2));
}

/*
 * The reordering window (Linux's tcp_rack_reo_wnd, RFC 8985 6.2 step 4).
 * Until reordering has been seen, none is allowed in recovery or once
 * the classic three-segment threshold is met: then RACK acts as fast as
 * dupthresh would. Otherwise a quarter of min_rtt per step, as reordering
 * belongs to the path more than to queueing, and never beyond the SRTT.
 */
static uint32_t tcp_rack_reo_wnd(const struct sock *sk)
{
	const struct tcp_sock *tp = tcp_sk(sk);
	uint64_t wnd;

	if (!tp->reord_seen) {
		if (tp->ca_state >= TCP_CA_Recovery)
			return 0;
		if (tp->sacked_out >= tp->reordering &&
		    !(sk->ns->cfg.tcp.recovery & TCP_RACK_NO_DUPTHRESH))
			return 0;
	}
	wnd = (uint64_t)(tp->min_rtt_us ? tp->min_rtt_us : ~0u) / 4 * tp->rack.reo_wnd_steps;
	return (uint32_t)(wnd < (tp->srtt_us >> 3) ? wnd : tp->srtt_us >> 3);
}

/* Microseconds skb still has before RACK declares it lost; <= 0: it is lost. */
int64_t tcp_rack_skb_timeout(struct sock *sk, const struct sk_buff *skb, uint32_t reo_wnd)
{
	struct tcp_sock *tp = tcp_sk(sk);

	return (int64_t)tp->rack.rtt_us + reo_wnd - (int64_t)(tcp_now(sk) - TCP_SKB_CB(skb)->when);
}

/*
 * Marks lost what RACK finds lost (Linux's tcp_rack_detect_loss); returns the
 * longest wait of those not yet due, 0 when none. Linux walks a list kept in
 * send order; the write queue is in sequence order instead, where segments
 * never retransmitted are also in send order, so the walk can stop at the
 * first of them sent after the RACK segment: everything past it that could
 * still be older is a retransmission, and those were sent later still.
 */
static uint64_t tcp_rack_detect_loss(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	uint32_t reo_wnd = tcp_rack_reo_wnd(sk);
	uint64_t reo_timeout = 0;
	struct sk_buff *skb;

	skb_queue_walk(&sk->sk_write_queue, skb)
	{
		struct tcp_skb_cb *cb = TCP_SKB_CB(skb);
		int64_t remaining;

		if (skb == tp->send_head)
			break;
		if (cb->sacked & TCPCB_SACKED_ACKED)
			continue;
		/* Already waiting for its retransmission. */
		if ((cb->sacked & TCPCB_LOST) && !(cb->sacked & TCPCB_SACKED_RETRANS))
			continue;
		if (!tcp_rack_sent_after(tp->rack.mstamp, cb->when, tp->rack.end_seq,
					 cb->end_seq)) {
			if (!(cb->sacked & TCPCB_EVER_RETRANS))
				break;
			continue;
		}
		remaining = tcp_rack_skb_timeout(sk, skb, reo_wnd);
		if (remaining <= 0)
			tcp_mark_skb_lost(sk, skb);
		else if ((uint64_t)remaining > reo_timeout)
			reo_timeout = (uint64_t)remaining;
	}
	return reo_timeout;
}

/*
 * Runs RACK's loss detection when a delivery moved it on (Linux's
 * tcp_rack_mark_lost). Segments not yet due get the reordering timer,
 * in whole milliseconds plus two as Linux's jiffies and TCP_TIMEOUT_MIN.
 * Returns true when that timer was armed: it then stands in for the RTO.
 */
bool tcp_rack_mark_lost(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	uint64_t timeout;

	if (!tp->rack.advanced)
		return false;
	tp->rack.advanced = false;
	timeout = tcp_rack_detect_loss(sk);
	if (!timeout)
		return false;
	timeout = (timeout + 999) / 1000 * 1000 + 2000;
	if (timeout > tcp_rto_backed_off(sk))
		timeout = tcp_rto_backed_off(sk);
	tcp_reset_xmit_timer(sk, ICSK_TIME_REO_TIMEOUT, tcp_now(sk) + timeout);
	return true;
}

/*
 * A segment sent at xmit_time and ending at end_seq was delivered, SACKed
 * or cumulatively acknowledged for the first time (Linux's
 * tcp_rack_advance, RFC 8985 6.2 step 2). Its RTT becomes RACK's, whether
 * or not it was the most recently sent: the last call of an ACK decides.
 */
void tcp_rack_advance(struct sock *sk, uint8_t sacked, uint32_t end_seq, uint64_t xmit_time)
{
	struct tcp_sock *tp = tcp_sk(sk);
	uint64_t rtt_us = tcp_now(sk) - xmit_time;

	/*
	 * A retransmitted segment acknowledged sooner than the path's minimum
	 * RTT was most likely delivered by its earlier copy: no sample.
	 */
	if ((sacked & TCPCB_RETRANS) && rtt_us < tp->min_rtt_us)
		return;
	tp->rack.advanced = true;
	tp->rack.rtt_us = rtt_us > UINT32_MAX ? UINT32_MAX : (uint32_t)rtt_us;
	if (tcp_rack_sent_after(xmit_time, tp->rack.mstamp, end_seq, tp->rack.end_seq)) {
		tp->rack.mstamp = xmit_time;
		tp->rack.end_seq = end_seq;
	}
}

/*
 * The reordering timer fired (Linux's tcp_rack_reo_timeout): what waited
 * out the window is lost. Finding new losses starts recovery if it is not
 * running, with one PRR step so that a retransmission can go.
 */
void tcp_rack_reo_timeout(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	uint32_t prior_inflight = tcp_packets_in_flight(tp), prior_lost = tp->lost_out;
	struct sk_buff *head;

	tcp_rack_detect_loss(sk);
	if (prior_inflight != tcp_packets_in_flight(tp)) {
		if (tp->ca_state != TCP_CA_Recovery) {
			tcp_enter_recovery(sk);
			tcp_cwnd_reduction(sk, 1, tp->lost_out > prior_lost, false);
		}
		tcp_xmit_retransmit_queue(sk);
	}
	if (tp->pending == ICSK_TIME_RETRANS)
		return;
	/* The RTO counts from the oldest outstanding transmission (tcp_rto_delta_us). */
	head = skb_peek(&sk->sk_write_queue);
	if (!tp->packets_out || !head || head == tp->send_head) {
		tcp_rearm_rto(sk);
	} else {
		uint64_t at = TCP_SKB_CB(head)->when + tcp_rto_backed_off(sk), now = tcp_now(sk);

		tcp_reset_xmit_timer(sk, ICSK_TIME_RETRANS, at > now ? at : now + 1);
	}
}

/*
 * Widens the reordering window by a step per round trip in which DSACKs
 * showed a retransmission was spurious, and keeps it wide for 16
 * recoveries (Linux's tcp_rack_update_reo_wnd). prior_delivered is
 * tp->delivered when the most recently sent segment this ACK delivered
 * was sent, 0 when it delivered none.
 */
void tcp_rack_update_reo_wnd(struct sock *sk, uint32_t prior_delivered)
{
	struct tcp_sock *tp = tcp_sk(sk);

	if ((sk->ns->cfg.tcp.recovery & TCP_RACK_STATIC_REO_WND) || !prior_delivered)
		return;
	/* A DSACK for data sent before the last widening says nothing new. */
	if (before(prior_delivered, tp->rack.last_delivered))
		tp->rack.dsack_seen = false;
	if (tp->rack.dsack_seen) {
		if (tp->rack.reo_wnd_steps < 0xff)
			tp->rack.reo_wnd_steps++;
		tp->rack.dsack_seen = false;
		tp->rack.last_delivered = tp->delivered;
		tp->rack.reo_wnd_persist = TCP_RACK_RECOVERY_THRESH;
	} else if (!tp->rack.reo_wnd_persist) {
		tp->rack.reo_wnd_steps = 1;
	}
}
