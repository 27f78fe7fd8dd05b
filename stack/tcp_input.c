/*
 * TCP input: the segment arrival rules of RFC 9293 3.10.7 per state, with
 * RFC 7323 (PAWS), RFC 5961 (challenge ACKs), RFC 2018/6675 (SACK and
 * SACK-based recovery), RFC 6582 (NewReno), RFC 6298 (RTT), delayed ACKs
 * as Linux does them, and the out-of-order queue.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/errqueue.h>

#include "ip.h"
#include "stack.h"
#include "tcp.h"

#define TCP_INFINITE_SSTHRESH 0x7fffffffu

static void tcp_dsack_set(struct sock *sk, uint32_t seq, uint32_t end_seq);
#define TCP_INVALID_RATELIMIT_US 500000u
#define TCP_GRO_MAX_BYTES	 65536u

/* Parses the options of a received segment (RFC 9293 3.1, RFC 7323, RFC 2018). */
/* A Fast Open option of a SYN or SYN-ACK (tcp_parse_fastopen_option): odd lengths are ignored. */
static void tcp_parse_fastopen_option(int len, const unsigned char *cookie, bool syn,
				      struct tcp_fastopen_cookie *fo, bool exp)
{
	if (!syn || len < 0 || (len & 1))
		return;
	if (len >= TCP_FASTOPEN_COOKIE_MIN && len <= TCP_FASTOPEN_COOKIE_MAX)
		memcpy(fo->val, cookie, (size_t)len);
	else if (len != 0)
		len = -1;
	fo->len = (int8_t)len;
	fo->exp = exp;
}

void tcp_parse_options(const struct sk_buff *skb, const struct tcphdr *th,
		       struct tcp_options_received *opt, bool syn)
{
	const unsigned char *p = (const unsigned char *)(th + 1);
	int len = (int)(TCP_DOFF(th) * 4u) - TCP_HLEN_MIN;

	(void)skb;
	opt->saw_tstamp = false;
	opt->num_sacks = 0;
	opt->fo.len = -1;
	while (len > 0) {
		int kind = *p, olen;

		if (kind == TCPOPT_EOL)
			return;
		if (kind == TCPOPT_NOP) {
			p++;
			len--;
			continue;
		}
		if (len < 2)
			return;
		olen = p[1];
		if (olen < 2 || olen > len)
			return; /* malformed: ignore the rest */
		switch (kind) {
		case TCPOPT_MSS:
			if (olen == 4 && syn) {
				uint16_t mss = (uint16_t)(p[2] << 8 | p[3]);

				if (mss)
					opt->mss_clamp = mss;
			}
			break;
		case TCPOPT_WINDOW:
			if (olen == 3 && syn) {
				opt->wscale_ok = true;
				opt->snd_wscale = p[2] > TCP_MAX_WSCALE ? TCP_MAX_WSCALE : p[2];
			}
			break;
		case TCPOPT_SACK_PERM:
			if (olen == 2 && syn)
				opt->sack_ok = true;
			break;
		case TCPOPT_TIMESTAMP:
			if (olen == 10) {
				opt->saw_tstamp = true;
				opt->rcv_tsval =
				    (uint32_t)p[2] << 24 | p[3] << 16 | p[4] << 8 | p[5];
				opt->rcv_tsecr =
				    (uint32_t)p[6] << 24 | p[7] << 16 | p[8] << 8 | p[9];
			}
			break;
		case TCPOPT_FASTOPEN:
			tcp_parse_fastopen_option(olen - TCPOLEN_FASTOPEN_BASE, p + 2, syn,
						  &opt->fo, false);
			break;
		case TCPOPT_EXP:
			/* The experimental Fast Open option (RFC 6994 magic 0xF989). */
			if (olen >= TCPOLEN_EXP_FASTOPEN_BASE &&
			    (p[2] << 8 | p[3]) == TCPOPT_FASTOPEN_MAGIC)
				tcp_parse_fastopen_option(olen - TCPOLEN_EXP_FASTOPEN_BASE, p + 4,
							  syn, &opt->fo, true);
			break;
		case TCPOPT_SACK:
			if (!syn && olen >= 10 && (olen - 2) % 8 == 0) {
				int n = (olen - 2) / 8, i;

				if (n > TCP_MAX_SACKS)
					n = TCP_MAX_SACKS;
				for (i = 0; i < n; i++) {
					const unsigned char *b = p + 2 + i * 8;

					opt->sacks[i].start_seq =
					    (uint32_t)b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3];
					opt->sacks[i].end_seq =
					    (uint32_t)b[4] << 24 | b[5] << 16 | b[6] << 8 | b[7];
				}
				opt->num_sacks = n;
			}
			break;
		default:
			break;
		}
		p += olen;
		len -= olen;
	}
}

/* Linux's tcp_rtt_estimator(): RFC 6298 2.2/2.3 with the RTO floor in rttvar. */
void tcp_rtt_estimator(struct sock *sk, int64_t mrtt_us)
{
	struct tcp_sock *tp = tcp_sk(sk);
	uint32_t rto_min = (uint32_t)sk->ns->cfg.tcp.rto_min_us;
	int64_t m = mrtt_us > 0 ? mrtt_us : 1;
	uint32_t srtt = tp->srtt_us;

	if (!tp->min_rtt_us || (uint32_t)m < tp->min_rtt_us)
		tp->min_rtt_us = (uint32_t)m;
	if (srtt) {
		m -= srtt >> 3;
		srtt += (uint32_t)m;
		if (m < 0) {
			m = -m;
			m -= tp->mdev_us >> 2;
			if (m > 0)
				m >>= 3;
		} else {
			m -= tp->mdev_us >> 2;
		}
		tp->mdev_us += (uint32_t)m;
		if (tp->mdev_us > tp->mdev_max_us) {
			tp->mdev_max_us = tp->mdev_us;
			if (tp->mdev_max_us > tp->rttvar_us)
				tp->rttvar_us = tp->mdev_max_us;
		}
		if (after(tp->snd_una, tp->rtt_seq)) {
			if (tp->mdev_max_us < tp->rttvar_us)
				tp->rttvar_us -= (tp->rttvar_us - tp->mdev_max_us) >> 2;
			tp->rtt_seq = tp->snd_nxt;
			tp->mdev_max_us = rto_min;
		}
	} else {
		srtt = (uint32_t)m << 3;
		tp->mdev_us = (uint32_t)m << 1;
		tp->rttvar_us = tp->mdev_us > rto_min ? tp->mdev_us : rto_min;
		tp->mdev_max_us = tp->rttvar_us;
		tp->rtt_seq = tp->snd_nxt;
	}
	tp->srtt_us = srtt ? srtt : 1;
}

/* RTO = SRTT + max(4 RTTVAR, rto_min), in whole milliseconds as Linux's jiffies (HZ=1000). */
void tcp_set_rto(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	uint64_t rto = (tp->srtt_us >> 3) + tp->rttvar_us;

	rto = (rto + 999) / 1000 * 1000;
	if (rto > sk->ns->cfg.tcp.rto_max_us)
		rto = sk->ns->cfg.tcp.rto_max_us;
	tp->rto = (uint32_t)rto;
}

static void tcp_ack_update_rtt(struct sock *sk, int64_t rtt_us)
{
	struct tcp_sock *tp = tcp_sk(sk);

	if (rtt_us < 0)
		return;
	tcp_rtt_estimator(sk, rtt_us);
	tcp_set_rto(sk);
	/* RFC 6298 5.7: a valid measurement ends the backoff. */
	tp->backoff = 0;
}

/* Whether a challenge ACK may go out now (RFC 5961 7, Linux's limits). */
bool tcp_challenge_ack_allowed(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct tcp_state *st = sk->ns->tcp;
	uint64_t now = tcp_now(sk), sec = now / 1000000u;

	if (tp->last_oow_ack_time && now - tp->last_oow_ack_time < TCP_INVALID_RATELIMIT_US)
		return false;
	tp->last_oow_ack_time = now;
	if (sec != st->challenge_stamp) {
		st->challenge_stamp = sec;
		st->challenge_count = 0;
	}
	if (st->challenge_count >= (unsigned int)sk->ns->cfg.tcp.challenge_ack_limit)
		return false;
	st->challenge_count++;
	return true;
}

static void tcp_send_challenge_ack(struct sock *sk)
{
	if (!tcp_challenge_ack_allowed(sk))
		return;
	NS_INC_STATS(sk->ns, TcpExtTCPChallengeACK);
	tcp_send_ack(sk);
}

/* A duplicate ACK for an unacceptable segment, rate-limited like Linux. */
static void tcp_send_dupack(struct sock *sk, const struct sk_buff *skb)
{
	struct tcp_sock *tp = tcp_sk(sk);
	const struct tcp_skb_cb *cb = TCP_SKB_CB(skb);
	uint64_t now = tcp_now(sk);

	if (cb->end_seq != cb->seq && before(cb->seq, tp->rcv_nxt)) {
		/* A retransmission of data we have: ACK at once, with D-SACK. */
		tcp_dsack_set(sk, cb->seq,
			      after(cb->end_seq, tp->rcv_nxt) ? tp->rcv_nxt : cb->end_seq);
		tcp_send_ack(sk);
		return;
	}
	if (tp->last_oow_ack_time && now - tp->last_oow_ack_time < TCP_INVALID_RATELIMIT_US)
		return;
	tp->last_oow_ack_time = now;
	tcp_send_ack(sk);
}

/* The peer reset the connection (RFC 9293 3.10.7.4 second check; tcp_reset). */
void tcp_reset(struct sock *sk)
{
	switch (sk->sk_state) {
	case TCP_SYN_SENT:
		sk->sk_err = ECONNREFUSED;
		break;
	case TCP_CLOSE_WAIT:
		sk->sk_err = EPIPE;
		break;
	case TCP_CLOSE:
		return;
	default:
		sk->sk_err = ECONNRESET;
	}
	SK_CB(sk, sk_error_report)(sk);
	tcp_done(sk);
}

/* Sets up congestion state and buffers when the connection opens (tcp_init_transfer). */
void tcp_init_cwnd_state(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	int iw = sk->ns->cfg.tcp.initial_cwnd;

	tcp_init_congestion_control(sk);
	tp->snd_ssthresh = TCP_INFINITE_SSTHRESH;
	tp->snd_cwnd_clamp = ~0u;
	tp->snd_cwnd = (uint32_t)(iw > 0 ? iw : 10);
	tp->snd_cwnd_cnt = 0;
	tp->ca_state = TCP_CA_Open;
	tp->reordering = TCP_FASTRETRANS_THRESH;
}

/* Marks a SYN-SENT connection established (tcp_finish_connect). */
void tcp_finish_connect(struct sock *sk, struct sk_buff *skb)
{
	(void)skb;
	tcp_set_state(sk, TCP_ESTABLISHED);
	tcp_init_transfer(sk);
}

/*
 * What one ACK's SACK and cumulative processing found (Linux's
 * tcp_sacktag_state and rate sample, the parts used here).
 */
struct tcp_ack_state {
	uint32_t reord;		  /* lowest never-retransmitted segment delivered out of order */
	uint32_t prior_delivered; /* tp->delivered when the newest delivered segment was sent */
	uint64_t prior_mstamp;	  /* that segment's send time, 0: none delivered */
	uint32_t prior_end_seq;
};

/* Notes a delivered segment for the DSACK rounds of RACK (tcp_rate_skb_delivered). */
static void tcp_ack_state_delivered(struct tcp_ack_state *st, const struct tcp_skb_cb *cb)
{
	if (!st->prior_mstamp || cb->when > st->prior_mstamp ||
	    (cb->when == st->prior_mstamp && after(cb->end_seq, st->prior_end_seq))) {
		st->prior_mstamp = cb->when;
		st->prior_end_seq = cb->end_seq;
		st->prior_delivered = cb->tx_delivered;
	}
}

/*
 * The end of the highest SACKed segment, or snd_una when none is
 * (Linux's tcp_highest_sack_seq). SACKs mostly cover the newest data, so
 * the walk from the tail is short.
 */
static uint32_t tcp_highest_sack_seq(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct sk_buff *skb;

	if (!tp->sacked_out)
		return tp->snd_una;
	skb = tp->send_head ? TAILQ_PREV(tp->send_head, sk_buff_list, list)
			    : skb_peek_tail(&sk->sk_write_queue);
	for (; skb; skb = TAILQ_PREV(skb, sk_buff_list, list))
		if (TCP_SKB_CB(skb)->sacked & TCPCB_SACKED_ACKED)
			return TCP_SKB_CB(skb)->end_seq;
	return tp->snd_una;
}

/*
 * A segment never retransmitted was delivered at low_seq, below others
 * delivered before it: the path reorders (Linux's tcp_check_sack_reordering).
 * tp->reordering grows to the distance seen, in segments, so dupthresh
 * and RACK's window stop taking such holes for losses.
 */
static void tcp_check_sack_reordering(struct sock *sk, uint32_t low_seq, uint32_t fack)
{
	struct tcp_sock *tp = tcp_sk(sk);
	uint32_t mss = tp->mss_cache, metric, max = (uint32_t)sk->ns->cfg.tcp.max_reordering;

	if (!before(low_seq, fack))
		return;
	metric = fack - low_seq;
	if (mss && metric > tp->reordering * mss) {
		uint32_t segs = (metric + mss - 1) / mss;

		tp->reordering = segs < max ? segs : max;
	}
	tp->reord_seen++;
	NS_INC_STATS(sk->ns, TcpExtTCPSACKReorder);
}

/* The ACK echoes a timestamp older than skb's retransmission: its first copy arrived. */
static bool tcp_skb_spurious_retrans(const struct sock *sk, const struct sk_buff *skb)
{
	const struct tcp_sock *tp = tcp_sk(sk);
	const struct tcp_skb_cb *cb = TCP_SKB_CB(skb);

	return (cb->sacked & TCPCB_RETRANS) && tp->rx_opt.saw_tstamp && tp->rx_opt.rcv_tsecr &&
	       before(tp->rx_opt.rcv_tsecr, (uint32_t)(cb->when / 1000u) + tp->tsoffset);
}

/* Frees acknowledged segments, samples the RTT, returns packets acked (tcp_clean_rtx_queue). */
static uint32_t tcp_clean_rtx_queue(struct sock *sk, uint32_t ack, uint32_t prior_fack,
				    struct tcp_ack_state *st, int64_t *rtt_us, bool *fin_acked)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct sk_buff *skb;
	uint64_t now = tcp_now(sk);
	uint64_t first_clean_tx = 0;
	bool retrans_acked = false;
	uint32_t acked = 0, reord = tp->snd_nxt;

	*rtt_us = -1;
	while ((skb = skb_peek(&sk->sk_write_queue)) && skb != tp->send_head) {
		struct tcp_skb_cb *cb = TCP_SKB_CB(skb);

		if (after(cb->end_seq, ack))
			break;
		if (cb->sacked & TCPCB_EVER_RETRANS) {
			retrans_acked = true;
		} else if (!(cb->sacked & TCPCB_SACKED_ACKED)) {
			if (!first_clean_tx)
				first_clean_tx = cb->when;
			if (before(cb->seq, reord))
				reord = cb->seq;
		}
		if (cb->sacked & TCPCB_SACKED_RETRANS)
			tp->retrans_out--;
		if (cb->sacked & TCPCB_SACKED_ACKED) {
			tp->sacked_out--;
		} else {
			tp->delivered++;
			tcp_ack_state_delivered(st, cb);
			if (tp->sack_ok && !tcp_skb_spurious_retrans(sk, skb))
				tcp_rack_advance(sk, cb->sacked, cb->end_seq, cb->when);
		}
		if (cb->sacked & TCPCB_LOST)
			tp->lost_out--;
		if (cb->tcp_flags & TH_FIN)
			*fin_acked = true;
		tp->packets_out--;
		acked++;
		if (cb->zc_len)
			sock_zerocopy_notify(sk, cb->zc_lo, cb->zc_len);
		if (cb->txstamp & TCP_TXSTAMP_ACK)
			sock_tx_timestamp(sk, skb, SCM_TSTAMP_ACK, cb->tskey - sk->sk_tskey);
		tcp_skb_pass_head(sk, skb);
		skb_unlink(&sk->sk_write_queue, skb);
		tcp_free_skb(sk, skb);
	}
	/* A hole never retransmitted was filled: that is reordering, not loss. */
	if (acked && tp->sack_ok && before(reord, prior_fack))
		tcp_check_sack_reordering(sk, reord, tcp_highest_sack_seq(sk));
	if (first_clean_tx && !retrans_acked) {
		*rtt_us = (int64_t)(now - first_clean_tx);
	} else if (tp->rx_opt.saw_tstamp && tp->rx_opt.rcv_tsecr && acked) {
		uint32_t d = (uint32_t)(tcp_now(sk) / 1000u) + tp->tsoffset - tp->rx_opt.rcv_tsecr;

		if (d < 0x7fffffff)
			*rtt_us = (int64_t)d * 1000;
	}
	if (tp->retrans_out == 0 || !tp->packets_out)
		tp->retrans_stamp = 0;
	return acked;
}

/*
 * A DSACK (RFC 2883): the first block lies below the cumulative ACK or
 * inside the second (Linux's tcp_check_dsack and tcp_dsack_seen). It is
 * believed only for as many duplicates as we retransmitted; with
 * reordering seen, and unless it answers a loss probe, it tells RACK its
 * window was too small.
 */
static void tcp_check_dsack(struct sock *sk, uint32_t ack)
{
	struct tcp_sock *tp = tcp_sk(sk);
	const struct tcp_options_received *o = &tp->rx_opt;
	uint32_t s = o->sacks[0].start_seq, e = o->sacks[0].end_seq, len, dup = 1;

	if (before(s, ack)) {
		NS_INC_STATS(sk->ns, TcpExtTCPDSACKRecv);
	} else if (o->num_sacks > 1 && !after(e, o->sacks[1].end_seq) &&
		   !before(s, o->sacks[1].start_seq)) {
		NS_INC_STATS(sk->ns, TcpExtTCPDSACKOfoRecv);
	} else {
		return;
	}
	if (!before(s, e))
		return;
	len = e - s;
	if (len > tp->max_window)
		return;
	if (len > tp->mss_cache && tp->mss_cache)
		dup = (len + tp->mss_cache - 1) / tp->mss_cache;
	tp->dsack_dups += dup;
	if (tp->dsack_dups > tp->total_retrans)
		return;
	if (tp->reord_seen && !(len <= tp->mss_cache && tp->tlp_high_seq == e))
		tp->rack.dsack_seen = true;
}

/* Orders SACK blocks by their start, as Linux walks them. */
static int tcp_sack_block_cmp(const void *a, const void *b)
{
	const struct tcp_sack_block *x = a, *y = b;

	return before(x->start_seq, y->start_seq) ? -1 : x->start_seq != y->start_seq;
}

/*
 * Tags one segment newly covered by a SACK block (Linux's tcp_sacktag_one).
 * A retransmission SACKed while not marked lost may still be in flight, so
 * it keeps counting as one.
 */
static void tcp_sacktag_one(struct sock *sk, struct sk_buff *skb, uint32_t *fack,
			    struct tcp_ack_state *st)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct tcp_skb_cb *cb = TCP_SKB_CB(skb);

	tcp_rack_advance(sk, cb->sacked, cb->end_seq, cb->when);
	if (cb->sacked & TCPCB_SACKED_RETRANS) {
		if (cb->sacked & TCPCB_LOST) {
			cb->sacked &= (uint8_t) ~(TCPCB_LOST | TCPCB_SACKED_RETRANS);
			tp->lost_out--;
			tp->retrans_out--;
		}
	} else {
		/* A segment sent once, SACKed below one SACKed before it: reordering. */
		if (!(cb->sacked & TCPCB_EVER_RETRANS) && before(cb->seq, *fack) &&
		    before(cb->seq, st->reord))
			st->reord = cb->seq;
		if (cb->sacked & TCPCB_LOST) {
			cb->sacked &= (uint8_t)~TCPCB_LOST;
			tp->lost_out--;
		}
	}
	cb->sacked |= TCPCB_SACKED_ACKED;
	tp->sacked_out++;
	tp->delivered++;
	tcp_ack_state_delivered(st, cb);
	if (after(cb->end_seq, *fack))
		*fack = cb->end_seq;
}

/* Marks segments covered by the peer's SACK blocks (RFC 2018, tcp_sacktag_write_queue). */
static void tcp_sacktag_write_queue(struct sock *sk, uint32_t ack, struct tcp_ack_state *st)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct tcp_options_received *o = &tp->rx_opt;
	struct tcp_sack_block blocks[TCP_MAX_SACKS];
	uint32_t fack = tcp_highest_sack_seq(sk);
	struct sk_buff *skb;
	int i, n = o->num_sacks;

	tcp_check_dsack(sk, ack);
	memcpy(blocks, o->sacks, sizeof(blocks[0]) * (size_t)n);
	qsort(blocks, (size_t)n, sizeof(blocks[0]), tcp_sack_block_cmp);
	st->reord = tp->snd_nxt;
	for (i = 0; i < n; i++) {
		uint32_t s = blocks[i].start_seq, e = blocks[i].end_seq;

		/* Ignore blocks below the ACK (D-SACK) or beyond what we sent. */
		if (!after(e, s) || !after(e, ack) || after(e, tp->snd_nxt) ||
		    before(s, tp->snd_una))
			continue;
		skb_queue_walk(&sk->sk_write_queue, skb)
		{
			struct tcp_skb_cb *cb = TCP_SKB_CB(skb);

			if (skb == tp->send_head)
				break;
			if (!after(cb->end_seq, s))
				continue;
			if (!before(cb->seq, e))
				break;
			if (before(cb->seq, s) || after(cb->end_seq, e))
				continue; /* partly covered: leave it */
			if (cb->sacked & TCPCB_SACKED_ACKED)
				continue;
			tcp_sacktag_one(sk, skb, &fack, st);
		}
	}
	if (before(st->reord, tp->snd_nxt))
		tcp_check_sack_reordering(sk, st->reord, fack);
}

/*
 * RFC 6675 IsLost(): a segment not SACKed with at least DupThresh SACKed
 * segments above it is lost. Marks them; returns how many were marked.
 */
static uint32_t tcp_mark_lost_sack(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct sk_buff *skb;
	uint32_t sacked_above = tp->sacked_out, marked = 0;

	skb_queue_walk(&sk->sk_write_queue, skb)
	{
		struct tcp_skb_cb *cb = TCP_SKB_CB(skb);

		if (skb == tp->send_head || sacked_above < tp->reordering)
			break;
		if (cb->sacked & TCPCB_SACKED_ACKED) {
			sacked_above--;
			continue;
		}
		if (!(cb->sacked & TCPCB_LOST) && !(cb->sacked & TCPCB_SACKED_RETRANS)) {
			cb->sacked |= TCPCB_LOST;
			tp->lost_out++;
			marked++;
		}
	}
	return marked;
}

/* Marks the first unacknowledged segment lost (NewReno, RFC 6582 3.2 step 4). */
static void tcp_mark_head_lost(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct sk_buff *skb = skb_peek(&sk->sk_write_queue);

	if (!skb || skb == tp->send_head)
		return;
	if (TCP_SKB_CB(skb)->sacked & (TCPCB_LOST | TCPCB_SACKED_ACKED))
		return;
	if (TCP_SKB_CB(skb)->sacked & TCPCB_SACKED_RETRANS) {
		TCP_SKB_CB(skb)->sacked &= (uint8_t)~TCPCB_SACKED_RETRANS;
		tp->retrans_out--;
	}
	TCP_SKB_CB(skb)->sacked |= TCPCB_LOST;
	tp->lost_out++;
}

static void tcp_set_ca_state(struct sock *sk, uint8_t state)
{
	struct tcp_sock *tp = tcp_sk(sk);

	if (tp->ca_ops_ref && tcp_ca(tp)->set_state)
		tcp_ca(tp)->set_state(tp, state);
	tp->ca_state = state;
}

/*
 * Enters fast recovery (RFC 6675 5 step 4.2, RFC 6582 3.2 step 2); the
 * window then comes down by Proportional Rate Reduction (RFC 6937).
 */
void tcp_enter_recovery(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);

	NS_INC_STATS(sk->ns, TcpExtTCPFastRetrans);
	if (tp->sack_ok)
		NS_INC_STATS(sk->ns, TcpExtTCPSackRecovery);
	else
		NS_INC_STATS(sk->ns, TcpExtTCPRenoRecovery);
	tp->prior_ssthresh = tp->snd_ssthresh;
	tp->prior_cwnd = tp->snd_cwnd;
	tp->snd_ssthresh = tcp_ca(tp)->ssthresh(tp);
	tp->snd_cwnd_cnt = 0;
	tp->prr_delivered = 0;
	tp->prr_out = 0;
	tp->high_seq = tp->snd_nxt;
	if (tp->ecn_flags & TCP_ECN_OK)
		tp->ecn_flags |= TCP_ECN_QUEUE_CWR;
	tcp_set_ca_state(sk, TCP_CA_Recovery);
}

/* The RTO fired: everything outstanding is presumed lost (tcp_enter_loss, RFC 5681 3.1). */
void tcp_enter_loss(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	bool rack = tp->sack_ok && tcp_is_rack(sk);
	struct sk_buff *skb;

	if (tp->ca_state != TCP_CA_Loss || tp->retransmits == 0) {
		tp->prior_ssthresh = tp->snd_ssthresh;
		tp->prior_cwnd = tp->snd_cwnd;
		tp->snd_ssthresh = tcp_ca(tp)->ssthresh(tp);
	}
	tp->snd_cwnd = 1;
	tp->snd_cwnd_cnt = 0;
	/* Many SACKs then a timeout: the reordering estimate was too high. */
	if (tp->ca_state <= TCP_CA_Disorder && tp->sacked_out >= TCP_FASTRETRANS_THRESH &&
	    tp->reordering > TCP_FASTRETRANS_THRESH)
		tp->reordering = TCP_FASTRETRANS_THRESH;
	tp->retrans_out = 0;
	tp->lost_out = 0;
	tp->dup_acks = 0;
	if (!tp->sack_ok)
		tp->sacked_out = 0;
	skb_queue_walk(&sk->sk_write_queue, skb)
	{
		struct tcp_skb_cb *cb = TCP_SKB_CB(skb);

		if (skb == tp->send_head)
			break;
		cb->sacked &= (uint8_t)~TCPCB_SACKED_RETRANS;
		if (!tp->sack_ok)
			cb->sacked &= (uint8_t)~TCPCB_SACKED_ACKED;
		if (cb->sacked & TCPCB_SACKED_ACKED)
			continue;
		/*
		 * RACK leaves segments sent within the last RTT alone, the head
		 * apart (Linux's tcp_timeout_mark_lost): they may yet arrive.
		 */
		if (rack && skb != skb_peek(&sk->sk_write_queue) &&
		    tcp_rack_skb_timeout(sk, skb, 0) > 0) {
			if (cb->sacked & TCPCB_LOST)
				tp->lost_out++;
			continue;
		}
		cb->sacked |= TCPCB_LOST;
		tp->lost_out++;
	}
	tp->high_seq = tp->snd_nxt;
	tp->tlp_high_seq = 0;
	tcp_set_ca_state(sk, TCP_CA_Loss);
}

/*
 * Proportional Rate Reduction (RFC 6937, Linux's tcp_cwnd_reduction): while
 * the pipe is above ssthresh send in proportion to what was delivered
 * (ssthresh / prior_cwnd of it); below, grow back by slow start (PRR-SSRB);
 * the first ACK of the recovery always lets the fast retransmission out.
 */
void tcp_cwnd_reduction(struct sock *sk, uint32_t newly_acked_sacked, bool newly_lost,
			bool una_advanced)
{
	struct tcp_sock *tp = tcp_sk(sk);
	int64_t delta = (int64_t)tp->snd_ssthresh - tcp_packets_in_flight(tp);
	int64_t sndcnt;

	if (!newly_acked_sacked || !tp->prior_cwnd)
		return;
	tp->prr_delivered += newly_acked_sacked;
	if (delta < 0) {
		uint64_t dividend =
		    (uint64_t)tp->snd_ssthresh * tp->prr_delivered + tp->prior_cwnd - 1;

		sndcnt = (int64_t)(dividend / tp->prior_cwnd) - tp->prr_out;
	} else {
		sndcnt = (int64_t)tp->prr_delivered - tp->prr_out;
		if (sndcnt < newly_acked_sacked)
			sndcnt = newly_acked_sacked;
		/* PRR-SSRB: an ACK that advances snd_una with no new loss grows by one. */
		if (una_advanced && !newly_lost)
			sndcnt++;
		if (sndcnt > delta)
			sndcnt = delta;
	}
	if (sndcnt < (tp->prr_out ? 0 : 1))
		sndcnt = tp->prr_out ? 0 : 1;
	tp->snd_cwnd = tcp_packets_in_flight(tp) + (uint32_t)(sndcnt > 0 ? sndcnt : 0);
}

/*
 * No loss to repair (Linux's tcp_try_to_open): an ECN echo starts one
 * window reduction (CWR, by PRR as Linux's tcp_enter_cwr), which holds
 * until data sent after it is acked; otherwise Open or Disorder.
 */
static void tcp_try_to_open(struct sock *sk, uint8_t state, bool ece, uint32_t newly_delivered,
			    bool acked_new)
{
	struct tcp_sock *tp = tcp_sk(sk);

	if (ece && tp->ca_state < TCP_CA_CWR) {
		tp->prior_ssthresh = 0;
		tp->prior_cwnd = tp->snd_cwnd;
		tp->snd_ssthresh = tcp_ca(tp)->ssthresh(tp);
		tp->snd_cwnd_cnt = 0;
		tp->prr_delivered = 0;
		tp->prr_out = 0;
		tp->high_seq = tp->snd_nxt;
		tp->ecn_flags |= TCP_ECN_QUEUE_CWR;
		tcp_set_ca_state(sk, TCP_CA_CWR);
	}
	if (tp->ca_state == TCP_CA_CWR) {
		tcp_cwnd_reduction(sk, newly_delivered, false, acked_new);
		return;
	}
	tcp_set_ca_state(sk, state);
}

/*
 * Loss detection and recovery on an incoming ACK (Linux's
 * tcp_fastretrans_alert, reduced to RFC 6675, RFC 6582 and RFC 8985).
 * With SACK, RACK finds the losses where Linux calls
 * tcp_identify_packet_loss() (net.ipv4.tcp_recovery bit 0), else RFC 6675
 * IsLost with dupthresh. Returns true when RACK armed its reordering
 * timer, which then replaces the RTO and loss probe this ACK would set.
 */
static bool tcp_fastretrans_alert(struct sock *sk, bool is_dupack, bool acked_new,
				  uint32_t prior_delivered, bool ece)
{
	struct tcp_sock *tp = tcp_sk(sk);
	uint32_t prior_lost = tp->lost_out;
	bool rack = tcp_is_rack(sk), reo_armed = false, recover;

	/* CWR ends once data sent after the reduction is acknowledged (Linux: above high_seq). */
	if (tp->ca_state == TCP_CA_CWR && after(tp->snd_una, tp->high_seq)) {
		if (tp->snd_ssthresh < TCP_INFINITE_SSTHRESH)
			tp->snd_cwnd = tp->snd_ssthresh;
		tcp_set_ca_state(sk, TCP_CA_Open);
	}

	if (!tp->packets_out) {
		if (tp->ca_state != TCP_CA_Open)
			tcp_set_ca_state(sk, TCP_CA_Open);
		tp->dup_acks = 0;
		tp->sacked_out = tp->sack_ok ? tp->sacked_out : 0;
		return false;
	}
	switch (tp->ca_state) {
	case TCP_CA_Recovery:
	case TCP_CA_Loss:
		if (!before(tp->snd_una, tp->high_seq)) {
			/* The recovery point is acknowledged (RFC 6582 3.2 step 3; RFC 6937). */
			if (tp->ca_state == TCP_CA_Recovery)
				tp->snd_cwnd = tp->snd_ssthresh;
			/* One more recovery the widened RACK window lasted (tcp_try_undo_recovery).
			 */
			if (tp->rack.reo_wnd_persist)
				tp->rack.reo_wnd_persist--;
			tp->dup_acks = 0;
			if (!tp->sack_ok)
				tp->sacked_out = 0;
			tcp_set_ca_state(sk, TCP_CA_Open);
			break;
		}
		if (tp->sack_ok && rack) {
			reo_armed = tcp_rack_mark_lost(sk);
		} else if (tp->sack_ok) {
			tcp_mark_lost_sack(sk);
			/*
			 * A partial ACK shows the new first hole is lost too
			 * (RFC 6582 3.2 step 4, as Linux's tcp_update_scoreboard).
			 */
			if (acked_new && tp->ca_state == TCP_CA_Recovery)
				tcp_mark_head_lost(sk);
		} else if (acked_new) {
			/* NewReno partial ACK: the next hole is lost too. */
			tp->sacked_out = 0;
			tp->dup_acks = 0;
			tcp_mark_head_lost(sk);
		} else if (is_dupack && tp->sacked_out + 1 < tp->packets_out) {
			tp->sacked_out++;
			tp->delivered++;
		}
		if (tp->ca_state == TCP_CA_Recovery)
			tcp_cwnd_reduction(sk, tp->delivered - prior_delivered,
					   tp->lost_out > prior_lost, acked_new);
		tcp_xmit_retransmit_queue(sk);
		return reo_armed;
	default:
		break;
	}
	/* Open, Disorder or CWR. */
	if (tp->sack_ok) {
		/* Linux's tcp_time_to_recover(): with RACK only a proven loss counts. */
		if (rack) {
			reo_armed = tcp_rack_mark_lost(sk);
			recover = tp->lost_out > 0;
		} else {
			tcp_mark_lost_sack(sk);
			recover = tp->lost_out || tp->sacked_out >= tp->reordering;
		}
		if (recover) {
			if (!tp->lost_out)
				tcp_mark_head_lost(sk);
			tcp_enter_recovery(sk);
			tcp_cwnd_reduction(sk, tp->delivered - prior_delivered, true, acked_new);
			tcp_xmit_retransmit_queue(sk);
			return reo_armed;
		}
		tcp_try_to_open(sk, tp->sacked_out ? TCP_CA_Disorder : TCP_CA_Open, ece,
				tp->delivered - prior_delivered, acked_new);
		return reo_armed;
	}
	if (acked_new) {
		tp->dup_acks = 0;
		tp->sacked_out = 0;
	}
	if (is_dupack) {
		tp->dup_acks++;
		/* Count duplicate ACKs as SACKed segments for the pipe (tcp_add_reno_sack). */
		if (tp->sacked_out + 1 < tp->packets_out)
			tp->sacked_out++;
		tp->delivered++;
		if (tp->dup_acks >= TCP_FASTRETRANS_THRESH) {
			tcp_mark_head_lost(sk);
			tcp_enter_recovery(sk);
			tcp_cwnd_reduction(sk, tp->delivered - prior_delivered, true, acked_new);
			tcp_xmit_retransmit_queue(sk);
			return false;
		}
	}
	tcp_try_to_open(sk, tp->dup_acks ? TCP_CA_Disorder : TCP_CA_Open, ece,
			tp->delivered - prior_delivered, acked_new);
	return false;
}

/*
 * Whether the window update rule of RFC 9293 3.10.7.4 (SND.WL1/WL2) applies;
 * as Linux, a window closing to zero is always taken.
 */
static bool tcp_may_update_window(const struct tcp_sock *tp, uint32_t ack, uint32_t seq,
				  uint32_t nwin)
{
	return after(ack, tp->snd_una) || after(seq, tp->snd_wl1) ||
	       (seq == tp->snd_wl1 && (nwin > tp->snd_wnd || !nwin));
}

/* Processes the acknowledgement field (RFC 9293 3.10.7.4 fifth check; tcp_ack). */
static int tcp_ack(struct sock *sk, const struct sk_buff *skb, const struct tcphdr *th)
{
	struct tcp_sock *tp = tcp_sk(sk);
	const struct tcp_skb_cb *cb = TCP_SKB_CB(skb);
	uint32_t ack = cb->ack_seq, prior_una = tp->snd_una;
	/* RFC 7323 2.2: the window of a SYN is never scaled. */
	uint32_t nwin = (uint32_t)ntohs(th->window) << ((th->flags & TH_SYN) ? 0 : tp->snd_wscale);
	uint32_t prior_wnd = tp->snd_wnd;
	uint32_t prior_delivered = tp->delivered;
	uint32_t prior_packets = tp->packets_out;
	struct tcp_ack_state st = {.reord = tp->snd_nxt};
	bool fin_acked = false, is_dupack, reo_armed;
	uint32_t acked = 0, prior_fack;
	int64_t rtt = -1;

	if (after(ack, tp->snd_nxt))
		return -1; /* acknowledges data never sent: drop (Linux) */
	if (before(ack, prior_una - tp->max_window)) {
		/* RFC 5961 5.2: an ACK far too old. */
		tcp_send_challenge_ack(sk);
		return -1;
	}
	if (before(ack, prior_una)) {
		/*
		 * An old ACK, overtaken by a later one: its SACK blocks still
		 * tell what arrived (Linux's old_ack), no more.
		 */
		if (tp->sack_ok && tp->rx_opt.num_sacks && tp->packets_out) {
			tcp_sacktag_write_queue(sk, ack, &st);
			tcp_fastretrans_alert(sk, false, false, tp->delivered, false);
		}
		return 0;
	}

	tp->last_ack_recv = tcp_now(sk);
	tp->probes_out = 0;
	if (tcp_may_update_window(tp, ack, cb->seq, nwin)) {
		tp->snd_wnd = nwin;
		tp->snd_wl1 = cb->seq;
		if (nwin > tp->max_window)
			tp->max_window = nwin;
	}
	prior_fack = tp->sack_ok ? tcp_highest_sack_seq(sk) : prior_una;
	if (tp->sack_ok && tp->rx_opt.num_sacks)
		tcp_sacktag_write_queue(sk, ack, &st);
	if (after(ack, prior_una)) {
		tp->bytes_acked += ack - prior_una;
		tp->snd_una = ack;
		/* The urgent data is acknowledged: urgent mode ends (tcp_clean_rtx_queue). */
		if (tp->urg_mode && !before(ack, tp->snd_up))
			tp->urg_mode = false;
		acked = tcp_clean_rtx_queue(sk, ack, prior_fack, &st, &rtt, &fin_acked);
		/* Everything sent is acknowledged: busy only if more waits. */
		if (!tp->packets_out)
			tcp_chrono_stop(sk, TCP_CHRONO_BUSY);
		tp->retransmits = 0;
		tcp_ack_update_rtt(sk, rtt);
		if (tcp_ca(tp)->pkts_acked)
			tcp_ca(tp)->pkts_acked(tp, acked, rtt);
	}
	if (prior_packets)
		tcp_rack_update_reo_wnd(sk, st.prior_mstamp ? st.prior_delivered : 0);
	is_dupack = ack == prior_una && !(cb->end_seq != cb->seq) && nwin == prior_wnd &&
		    tp->packets_out > 0 && !after(ack, prior_una);
	reo_armed = tcp_fastretrans_alert(
	    sk, is_dupack || (tp->sack_ok && tp->rx_opt.num_sacks && !acked), acked > 0,
	    prior_delivered, (th->flags & TH_ECE) && (tp->ecn_flags & TCP_ECN_OK));

	/* Congestion avoidance only while the window limits us and no recovery runs. */
	if (acked && tp->ca_state == TCP_CA_Open && tcp_is_cwnd_limited(tp)) {
		tcp_ca(tp)->cong_avoid(tp, ack, acked);
		tcp_sndbuf_expand(sk);
	}
	/* A tail loss probe's episode ends with its ACK (RFC 8985 7.4). */
	if (tp->tlp_high_seq && !before(ack, tp->tlp_high_seq)) {
		if (tp->tlp_retrans && tp->ca_state == TCP_CA_Open) {
			/* The probe repaired a loss: reduce as for one (Linux's CWR). */
			tp->snd_ssthresh = tcp_ca(tp)->ssthresh(tp);
			if (tp->snd_cwnd > tp->snd_ssthresh)
				tp->snd_cwnd = tp->snd_ssthresh;
			NS_INC_STATS(sk->ns, TcpExtTCPLossProbeRecovery);
		}
		tp->tlp_high_seq = 0;
	}
	if (!reo_armed &&
	    (acked || tp->pending == ICSK_TIME_RETRANS || tp->pending == ICSK_TIME_LOSS_PROBE)) {
		tcp_rearm_rto(sk);
		tcp_schedule_loss_probe(sk);
	}
	if (tp->pending == ICSK_TIME_PROBE0 &&
	    (tp->packets_out || !tp->send_head ||
	     after(tp->snd_una + tp->snd_wnd, TCP_SKB_CB(tp->send_head)->seq))) {
		tcp_clear_retrans_timer(sk);
		tp->backoff = 0;
	}
	/* Linux sets the pacing rate in tcp_cong_control(), not reached with nothing out. */
	if (prior_packets)
		tcp_update_pacing_rate(sk);
	if (acked)
		tcp_check_space(sk);
	return fin_acked ? 1 : 0;
}

/* Asks for an ACK right away or within the delayed-ACK time (__tcp_ack_snd_check). */
static void tcp_ack_snd_check(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);

	if (!tp->ack_pending)
		return;
	if (tp->ack_now || (tp->quick && !tp->pingpong) ||
	    !skb_queue_empty(&tp->out_of_order_queue) ||
	    tp->rcv_nxt - tp->rcv_wup >= TCP_GRO_MAX_BYTES) {
		if (tp->quick)
			tp->quick--;
		tcp_send_ack(sk);
		return;
	}
	if ((tp->rcv_nxt - tp->rcv_wup) > tp->rcv_mss) {
		/*
		 * More than one full segment unacknowledged: ACK, but at the end
		 * of this receive batch, so segments arriving together get one
		 * ACK as Linux's GRO gives them (timers run after each batch),
		 * and at the latest every 64 KiB, GRO's largest packet.
		 */
		tp->ack_batch = true;
		if (!timer_pending(&tp->delack_timer) || tp->delack_timer.expires > tcp_now(sk))
			mod_timer(sk->ns, &tp->delack_timer, tcp_now(sk));
		return;
	}
	tcp_send_delayed_ack(sk);
}

/* Quick-ACK mode: ACK the next segments at once (tcp_incr_quickack). */
static void tcp_incr_quickack(struct tcp_sock *tp)
{
	uint32_t q = tp->rcv_wnd / (2u * (tp->rcv_mss ? tp->rcv_mss : TCP_MSS_DEFAULT));

	if (q == 0)
		q = 2;
	if (q > TCP_MAX_QUICKACKS)
		q = TCP_MAX_QUICKACKS;
	if (q > tp->quick)
		tp->quick = (uint8_t)q;
}

/* Bookkeeping for in-order data (tcp_event_data_recv and tcp_measure_rcv_mss). */
static void tcp_event_data_recv(struct sock *sk, unsigned int len)
{
	struct tcp_sock *tp = tcp_sk(sk);
	uint64_t now = tcp_now(sk);

	tp->ack_pending = true;
	if (len > tp->rcv_mss)
		tp->rcv_mss = (uint16_t)(len > tp->advmss ? tp->advmss : len);
	if (!tp->ato) {
		tcp_incr_quickack(tp);
		tp->ato = TCP_DELACK_MIN_US;
	} else {
		uint64_t m = now - tp->lrcvtime;

		if (m <= TCP_DELACK_MIN_US / 2) {
			tp->ato = (tp->ato >> 1) + TCP_DELACK_MIN_US / 2;
		} else if (m < tp->ato) {
			tp->ato = (tp->ato >> 1) + (uint32_t)m;
			if (tp->ato > tp->rto)
				tp->ato = tp->rto;
		} else if (m > tp->rto) {
			tcp_incr_quickack(tp);
		}
	}
	tp->lrcvtime = now;
	/*
	 * The receiver's RTT from the timestamp our data carried out and the
	 * peer echoed (Linux's tcp_rcv_rtt_measure_ts): a 7/8 moving average.
	 */
	if (tp->rx_opt.saw_tstamp && tp->rx_opt.rcv_tsecr) {
		uint32_t delta = (uint32_t)(now / 1000u) + tp->tsoffset - tp->rx_opt.rcv_tsecr;

		if (delta > 0 && delta < 0x7fffffff) {
			uint32_t m = delta * 1000u;

			tp->rcv_rtt_us =
			    tp->rcv_rtt_us ? tp->rcv_rtt_us - (tp->rcv_rtt_us >> 3) + (m >> 3) : m;
		}
	}
	/*
	 * Open the window as the stream proves itself (tcp_grow_window): only
	 * for segments that use their buffer well, as Linux's truesize test.
	 */
	if (len >= tp->advmss / 2u && tp->rcv_ssthresh < tp->window_clamp &&
	    tp->rcv_ssthresh < tcp_space(sk) && !sk_under_memory_pressure(sk)) {
		uint32_t grow = tp->rcv_ssthresh + 2u * tp->advmss;

		tp->rcv_ssthresh = grow < tp->window_clamp ? grow : tp->window_clamp;
	}
}

/* The peer's FIN arrived in order (RFC 9293 3.10.7.4 eighth check; tcp_fin). */
void tcp_fin_received(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);

	sk->sk_shutdown |= RCV_SHUTDOWN;
	sock_set_flag(sk, SOCK_DONE);
	tp->ack_now = true;
	tp->ack_pending = true;
	switch (sk->sk_state) {
	case TCP_SYN_RECV:
	case TCP_ESTABLISHED:
		tcp_set_state(sk, TCP_CLOSE_WAIT);
		tp->pingpong = true;
		break;
	case TCP_FIN_WAIT1:
		/* Simultaneous close. */
		tcp_send_ack(sk);
		tcp_set_state(sk, TCP_CLOSING);
		break;
	case TCP_FIN_WAIT2:
		tcp_send_ack(sk);
		tcp_time_wait(sk, TCP_TIME_WAIT, 0);
		break;
	default:
		break;
	}
	skb_queue_purge(&tp->out_of_order_queue);
	tp->num_sacks = 0;
	if (!sock_flag(sk, SOCK_DEAD))
		SK_CB(sk, sk_data_ready)(sk);
}

/* Charges a queued segment's truesize to sk and to tcp_mem until it is freed. */
static void tcp_rmem_charge(struct sock *sk, struct sk_buff *skb)
{
	skb->sk = NULL;
	skb_set_owner_r(skb, sk);
}

/* Rebuilds the SACK blocks from the out-of-order queue, the newest block first. */
static void tcp_update_sack_blocks(struct sock *sk, uint32_t newest)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct tcp_sack_block blocks[64];
	int n = 0, i, max = tp->tstamp_ok ? 3 : 4, out = 0;
	struct sk_buff *skb;

	skb_queue_walk(&tp->out_of_order_queue, skb)
	{
		uint32_t s = TCP_SKB_CB(skb)->seq, e = TCP_SKB_CB(skb)->end_seq;

		if (n && blocks[n - 1].end_seq == s) {
			blocks[n - 1].end_seq = e;
		} else if (n < 64) {
			blocks[n].start_seq = s;
			blocks[n].end_seq = e;
			n++;
		}
	}
	for (i = 0; i < n; i++) {
		if (!before(newest, blocks[i].start_seq) && before(newest, blocks[i].end_seq)) {
			tp->selective_acks[out++] = blocks[i];
			blocks[i].end_seq = blocks[i].start_seq;
			break;
		}
	}
	for (i = n - 1; i >= 0 && out < max; i--) {
		if (blocks[i].end_seq != blocks[i].start_seq)
			tp->selective_acks[out++] = blocks[i];
	}
	tp->num_sacks = tp->sack_ok ? out : 0;
}

/* Remembers a duplicate to report as D-SACK (RFC 2883, Linux's tcp_dsack_set). */
static void tcp_dsack_set(struct sock *sk, uint32_t seq, uint32_t end_seq)
{
	struct tcp_sock *tp = tcp_sk(sk);

	if (!tp->sack_ok || !after(end_seq, seq))
		return;
	tp->duplicate_sack.start_seq = seq;
	tp->duplicate_sack.end_seq = end_seq;
	tp->dsack = true;
}

/* Inserts an out-of-order segment, trimming overlaps (tcp_data_queue_ofo). */
static void tcp_data_queue_ofo(struct sock *sk, struct sk_buff *skb)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct sk_buff_head *q = &tp->out_of_order_queue;
	uint32_t seq = TCP_SKB_CB(skb)->seq, end = seq + skb->len;
	struct sk_buff *cur, *tmp, *prev = NULL;

	NS_INC_STATS(sk->ns, TcpExtTCPOFOQueue);
	tp->rcv_ooopack++;
	tp->ack_now = true;
	tp->ack_pending = true;
	skb_queue_walk(q, cur)
	{
		if (after(TCP_SKB_CB(cur)->seq, seq))
			break;
		prev = cur;
	}
	if (prev) {
		uint32_t pend = TCP_SKB_CB(prev)->seq + prev->len;

		if (!after(end, pend)) {
			tcp_dsack_set(sk, seq, end);
			kfree_skb(skb); /* fully covered: a duplicate */
			goto out;
		}
		if (after(pend, seq)) {
			skb_pull(skb, pend - seq);
			seq = pend;
			TCP_SKB_CB(skb)->seq = seq;
		}
	}
	/* Drop or trim the segments the new one covers. */
	cur = prev ? TAILQ_NEXT(prev, list) : skb_peek(q);
	while (cur) {
		uint32_t cs = TCP_SKB_CB(cur)->seq, ce = cs + cur->len;

		tmp = TAILQ_NEXT(cur, list);
		if (!after(end, cs))
			break;
		if (!after(ce, end) && !(TCP_SKB_CB(cur)->tcp_flags & TH_FIN)) {
			skb_unlink(q, cur);
			kfree_skb(cur);
		} else {
			skb_trim(skb, cs - seq);
			end = cs;
			break;
		}
		cur = tmp;
	}
	TCP_SKB_CB(skb)->end_seq = end + !!(TCP_SKB_CB(skb)->tcp_flags & TH_FIN);
	if (end != TCP_SKB_CB(skb)->seq + skb->len)
		TCP_SKB_CB(skb)->tcp_flags &= (uint8_t)~TH_FIN;
	tcp_rmem_charge(sk, skb);
	if (prev)
		skb_insert_after(q, prev, skb);
	else
		skb_queue_head(q, skb);
out:
	tcp_update_sack_blocks(sk, seq);
}

/* Moves segments that became in order from the out-of-order queue (tcp_ofo_queue). */
static void tcp_ofo_queue(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct sk_buff *skb;

	while ((skb = skb_peek(&tp->out_of_order_queue))) {
		struct tcp_skb_cb *cb = TCP_SKB_CB(skb);
		bool fin;

		if (after(cb->seq, tp->rcv_nxt))
			break;
		skb_unlink(&tp->out_of_order_queue, skb);
		/* Read before a FIN-only skb is freed below (found by fuzz_frames). */
		fin = (cb->tcp_flags & TH_FIN) != 0;
		if (!after(cb->end_seq, tp->rcv_nxt)) {
			kfree_skb(skb);
			continue;
		}
		if (before(cb->seq, tp->rcv_nxt)) {
			skb_pull(skb, tp->rcv_nxt - cb->seq);
			cb->seq = tp->rcv_nxt;
		}
		tp->rcv_nxt = cb->end_seq;
		if (skb->len)
			skb_queue_tail(&sk->sk_receive_queue, skb);
		else
			kfree_skb(skb);
		if (fin) {
			tcp_fin_received(sk);
			break;
		}
	}
	if (skb_queue_empty(&tp->out_of_order_queue))
		tp->num_sacks = 0;
	else
		tcp_update_sack_blocks(sk, tp->selective_acks[0].start_seq);
}

static uint32_t tcp_rcv_wnd_now(const struct tcp_sock *tp)
{
	int32_t w = (int32_t)(tp->rcv_wup + tp->rcv_wnd - tp->rcv_nxt);

	return w < 0 ? 0 : (uint32_t)w;
}

/* Queues the segment's data (RFC 9293 3.10.7.4 seventh check; tcp_data_queue). */
static void tcp_data_queue(struct sock *sk, struct sk_buff *in)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct tcp_skb_cb *cb = TCP_SKB_CB(in);
	bool fin = cb->tcp_flags & TH_FIN;
	struct sk_buff *skb;

	if (tp->ecn_flags & TCP_ECN_OK) {
		uint8_t dsfield = tcp_skb_dsfield(in);

		/* The peer reduced its window: stop echoing (tcp_ecn_accept_cwr). */
		if (cb->tcp_flags & TH_CWR) {
			tp->ecn_flags &= (uint8_t)~TCP_ECN_DEMAND_CWR;
			if (in->len)
				tp->ack_now = true;
		}
		/* Congestion Experienced: echo ECE until its CWR, and ACK at once (RFC 3168 6.1.3).
		 */
		if (in->len && (dsfield & INET_ECN_MASK) == INET_ECN_CE) {
			tp->ecn_flags |= TCP_ECN_DEMAND_CWR;
			tp->ack_now = true;
		}
	}
	if (in->len == 0 && !fin)
		return;
	if (in->len)
		tp->data_segs_in++;
	if (!after(cb->end_seq, tp->rcv_nxt)) {
		/* All old: a retransmission. ACK at once (Linux enters quick-ACK). */
		tcp_dsack_set(sk, cb->seq, cb->seq + in->len);
		tp->ack_now = true;
		tp->ack_pending = true;
		return;
	}
	if (!before(cb->seq, tp->rcv_nxt + tcp_rcv_wnd_now(tp)) && in->len) {
		if (!tcp_rcv_wnd_now(tp))
			NS_INC_STATS(sk->ns, TcpExtTCPZeroWindowDrop);
		tp->ack_now = true;
		tp->ack_pending = true;
		return;
	}
	/*
	 * Receive memory (Linux's tcp_data_queue): in-order data into an empty
	 * receive queue is always taken, so the connection moves on; otherwise
	 * the segment must fit in sk_rcvbuf and tcp_mem, after pruning.
	 */
	if (in->len && !after(cb->seq, tp->rcv_nxt)) {
		if (!skb_queue_empty(&sk->sk_receive_queue) &&
		    tcp_try_rmem_schedule(sk, in, in->truesize)) {
			NS_INC_STATS(sk->ns, TcpExtTCPRcvQDrop);
			goto drop_mem;
		}
	} else if (in->len && tcp_try_rmem_schedule(sk, in, in->truesize)) {
		NS_INC_STATS(sk->ns, TcpExtTCPOFODrop);
		goto drop_mem;
	}
	/* Keep the segment itself: tcp_v4_rcv learns it must not free it. */
	skb = in;
	sk->ns->tcp->rx_stolen = true;
	if (before(cb->seq, tp->rcv_nxt)) {
		/* Partly old: keep only the new part, report the old one. */
		uint32_t d = tp->rcv_nxt - cb->seq;

		tcp_dsack_set(sk, cb->seq, tp->rcv_nxt);
		tp->ack_now = true;

		skb_pull(skb, d);
		TCP_SKB_CB(skb)->seq = tp->rcv_nxt;
	}
	if (TCP_SKB_CB(skb)->seq == tp->rcv_nxt) {
		unsigned int len = skb->len;

		tp->rcv_nxt = TCP_SKB_CB(skb)->end_seq;
		tp->bytes_received += len;
		tp->last_data_recv = tcp_now(sk);
		if (len) {
			tcp_measure_scaling_ratio(sk, skb);
			tcp_rmem_charge(sk, skb);
			skb_queue_tail(&sk->sk_receive_queue, skb);
			tcp_event_data_recv(sk, len);
		} else {
			kfree_skb(skb);
		}
		if (fin)
			tcp_fin_received(sk);
		if (!skb_queue_empty(&tp->out_of_order_queue)) {
			tcp_ofo_queue(sk);
			/* Filling a hole: ACK at once (RFC 5681 4.2). */
			tp->ack_now = true;
		}
		if (len && !sock_flag(sk, SOCK_DEAD))
			SK_CB(sk, sk_data_ready)(sk);
		return;
	}
	tcp_data_queue_ofo(sk, skb);
	return;

drop_mem:
	/* Dropped for memory: ACK what we have, and wake the reader to drain. */
	tp->ack_now = true;
	tp->ack_pending = true;
	if (!sock_flag(sk, SOCK_DEAD))
		SK_CB(sk, sk_data_ready)(sk);
}

/*
 * What a SYN from the peer settles for the whole connection, in SYN-SENT
 * (its SYN-ACK or a simultaneous open): its window, SACK and timestamps
 * where we offer them too, and the MSS it announced (RFC 9293 3.7.1).
 */
static void tcp_adopt_syn_options(struct sock *sk, const struct tcphdr *th,
				  const struct tcp_options_received *o)
{
	struct tcp_sock *tp = tcp_sk(sk);

	tp->snd_wnd = ntohs(th->window);
	tp->max_window = tp->snd_wnd;
	tp->sack_ok = o->sack_ok && sk->ns->cfg.tcp.sack;
	tp->tstamp_ok = o->saw_tstamp && sk->ns->cfg.tcp.timestamps;
	if (tp->tstamp_ok) {
		tp->ts_recent = o->rcv_tsval;
		tp->ts_recent_stamp = tcp_now(sk);
	}
	tp->mss_clamp = o->mss_clamp ? o->mss_clamp : TCP_MSS_DEFAULT;
	tcp_sync_mss(sk, 0);
}

/* Initial state of an active open after the SYN-ACK (RFC 9293 3.10.7.3). */
static int tcp_rcv_synsent_state_process(struct sock *sk, struct sk_buff *skb,
					 const struct tcphdr *th)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct tcp_skb_cb *cb = TCP_SKB_CB(skb);
	struct tcp_options_received *o = &tp->rx_opt;
	uint8_t flags = cb->tcp_flags;

	memset(o, 0, sizeof(*o));
	tcp_parse_options(skb, th, o, true);
	if (flags & TH_ACK) {
		/* First check: the ACK must cover our SYN and nothing more. */
		if (!after(cb->ack_seq, tp->iss) || after(cb->ack_seq, tp->snd_nxt))
			return (flags & TH_RST) ? 0 : -1;
		if (flags & TH_RST) {
			tcp_reset(sk);
			return 0;
		}
		if (!(flags & TH_SYN))
			return 0;
		/* SYN-ACK: the connection is established. ECN only if it says ECE, not CWR. */
		if ((tp->ecn_flags & TCP_ECN_OK) && (!(flags & TH_ECE) || (flags & TH_CWR)))
			tp->ecn_flags = 0;
		tp->irs = cb->seq;
		tp->rcv_nxt = cb->seq + 1;
		tp->rcv_wup = tp->rcv_nxt;
		tp->copied_seq = tp->rcv_nxt;
		tp->snd_wl1 = cb->seq;
		tp->wscale_ok = o->wscale_ok && sk->ns->cfg.tcp.window_scaling;
		if (tp->wscale_ok) {
			tp->snd_wscale = o->snd_wscale;
		} else {
			tp->snd_wscale = 0;
			tp->rcv_wscale = 0;
			if (tp->window_clamp > 65535)
				tp->window_clamp = 65535;
		}
		tcp_adopt_syn_options(sk, th, o);
		tp->rcv_mss =
		    (uint16_t)(tp->advmss < TCP_MSS_DEFAULT ? tp->advmss : TCP_MSS_DEFAULT);
		tcp_ack(sk, skb, th);
		tcp_finish_connect(sk, skb);
		/* SYN data not covered goes again at once, carrying the ACK. */
		if ((tp->syn_fastopen || tp->syn_data) && tcp_rcv_fastopen_synack(sk, o)) {
			tcp_push(sk, tp->nonagle);
			return 0;
		}
		tcp_send_ack(sk);
		tcp_push(sk, tp->nonagle);
		return 0;
	}
	if (flags & TH_RST)
		return 0;
	if (flags & TH_SYN) {
		/* Simultaneous open (RFC 9293 3.10.7.3 fourth check, figure 8); no ECN. */
		tp->ecn_flags = 0;
		tp->irs = cb->seq;
		tp->rcv_nxt = cb->seq + 1;
		tp->rcv_wup = tp->rcv_nxt;
		tp->copied_seq = tp->rcv_nxt;
		tp->snd_wl1 = cb->seq;
		tp->wscale_ok = o->wscale_ok && sk->ns->cfg.tcp.window_scaling;
		tp->snd_wscale = tp->wscale_ok ? o->snd_wscale : 0;
		if (!tp->wscale_ok)
			tp->rcv_wscale = 0;
		tcp_adopt_syn_options(sk, th, o);
		tcp_set_state(sk, TCP_SYN_RECV);
		{
			struct sk_buff *syn = skb_peek(&sk->sk_write_queue);

			if (syn) {
				TCP_SKB_CB(syn)->tcp_flags = TH_SYN | TH_ACK;
				tcp_retransmit_skb(sk, syn);
				tp->retrans_out = 0;
				TCP_SKB_CB(syn)->sacked = 0;
				tp->total_retrans--;
				NS_ADD_STATS(sk->ns, TcpRetransSegs, (uint64_t)-1);
			}
		}
	}
	return 0;
}

/* RFC 7323 5.3 / Linux's tcp_paws_discard(). */
static bool tcp_paws_reject(const struct sock *sk, const struct sk_buff *skb)
{
	const struct tcp_sock *tp = tcp_sk(sk);
	const struct tcp_options_received *o = &tp->rx_opt;

	if (!o->saw_tstamp || !tp->ts_recent_stamp)
		return false;
	if ((int32_t)(o->rcv_tsval - tp->ts_recent) >= -TCP_PAWS_WINDOW)
		return false;
	if (tcp_now(sk) - tp->ts_recent_stamp > (uint64_t)TCP_PAWS_24DAYS_S * 1000000u)
		return false;
	/* An RST is not subject to PAWS (Linux: tcp_disordered_ack aside). */
	return !(TCP_SKB_CB(skb)->tcp_flags & TH_RST);
}

/* RFC 9293 3.10.7.4 first check: is any of the segment inside the window? */
static bool tcp_sequence_ok(const struct tcp_sock *tp, uint32_t seq, uint32_t end_seq)
{
	uint32_t wnd = tp->rcv_wup + tp->rcv_wnd - tp->rcv_nxt;

	if ((int32_t)wnd < 0)
		wnd = 0;
	return !before(end_seq, tp->rcv_wup) && !after(seq, tp->rcv_nxt + wnd);
}

/*
 * A segment for a listener (RFC 9293 3.10.7.2): it completes a request of
 * the SYN queue or a SYN cookie (then the new child handles it), or it is
 * a new SYN. Returns -1 when it deserves a reset.
 */
static int tcp_listen_rcv(struct sock *sk, struct sk_buff *skb)
{
	const struct tcphdr *th = (const struct tcphdr *)skb->data;
	uint8_t flags = TCP_SKB_CB(skb)->tcp_flags;
	struct tcp_request_sock *req;
	struct sock *child = NULL;
	struct tcp_addrs a;

	tcp_skb_addrs(skb, &a);
	req = tcp_find_req(sk, &a, th->source);
	if (req) {
		child = tcp_check_req(sk, skb, req);
		if (!child)
			return 0;
	} else if (flags & TH_RST) {
		return 0;
	} else if ((flags & TH_ACK) && !(flags & TH_SYN)) {
		child = tcp_cookie_check(sk, skb);
		if (!child)
			return -1;
	}
	if (child) {
		int ret;

		sock_hold(child);
		ret = tcp_rcv_state_process(child, skb);
		if (ret < 0 && !sk->ns->tcp->rx_stolen)
			tcp_send_reset_reply(sk->ns, skb);
		sock_put(child);
		return 0;
	}
	if (flags & TH_ACK)
		return -1;
	if (flags & TH_SYN)
		tcp_v4_conn_request(sk, skb);
	return 0;
}

/*
 * Our FIN is acknowledged (RFC 9293 3.10.7.4 fifth check, FIN-WAIT-1,
 * CLOSING, LAST-ACK). Returns true when the segment needs no more work.
 */
static bool tcp_fin_acked(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);

	switch (sk->sk_state) {
	case TCP_FIN_WAIT1: {
		int tmo_s = tp->linger2_s ? tp->linger2_s : sk->ns->cfg.tcp.fin_timeout_s;

		tcp_set_state(sk, TCP_FIN_WAIT2);
		sk->sk_shutdown |= SEND_SHUTDOWN;
		if (sock_flag(sk, SOCK_DEAD)) {
			if (tp->linger2_s < 0) {
				tcp_done(sk);
				return true;
			}
			tcp_reset_keepalive_timer(sk, (uint64_t)tmo_s * 1000000u);
		}
		return false;
	}
	case TCP_CLOSING:
		tcp_time_wait(sk, TCP_TIME_WAIT, 0);
		return true;
	case TCP_LAST_ACK:
		tcp_done(sk);
		return true;
	default:
		return false;
	}
}

/*
 * A segment with URG set (Linux's tcp_check_urg()): the urgent pointer
 * names the byte after the urgent one (BSD's reading, RFC 6093 and Linux's
 * default tcp_stdurg 0). A new pointer ahead of what we have replaces it;
 * one already read or passed is old news. When the reader sits exactly at
 * an old urgent byte that was not read inline, that byte is consumed now,
 * or it would come back as data once the mark moves on.
 */
static void tcp_check_urg(struct sock *sk, const struct tcphdr *th)
{
	struct tcp_sock *tp = tcp_sk(sk);
	uint32_t ptr = ntohs(th->urg_ptr);

	if (ptr)
		ptr--;
	ptr += ntohl(th->seq);
	if (after(tp->copied_seq, ptr) || before(ptr, tp->rcv_nxt))
		return;
	if (tp->urg_data && !after(ptr, tp->urg_seq))
		return;
	if (tp->urg_seq == tp->copied_seq && tp->urg_data && !sock_flag(sk, SOCK_URGINLINE) &&
	    tp->copied_seq != tp->rcv_nxt) {
		struct sk_buff *skb = skb_peek(&sk->sk_receive_queue);

		tp->copied_seq++;
		if (skb && !before(tp->copied_seq, TCP_SKB_CB(skb)->seq + skb->len)) {
			skb_unlink(&sk->sk_receive_queue, skb);
			kfree_skb(skb);
		}
	}
	tp->urg_data = TCP_URG_NOTYET;
	tp->urg_seq = ptr;
}

/*
 * The URG step of segment processing (Linux's tcp_urg()): a new urgent
 * pointer is noted, and once the segment holding the urgent byte is here
 * the byte is kept aside for recv(MSG_OOB) and readers are told (POLLPRI).
 * skb->data is at the payload, which starts at sequence number seq.
 */
static void tcp_urg(struct sock *sk, const struct sk_buff *skb, const struct tcphdr *th)
{
	struct tcp_sock *tp = tcp_sk(sk);

	if (th->flags & TH_URG)
		tcp_check_urg(sk, th);
	if (tp->urg_data == TCP_URG_NOTYET) {
		uint32_t off = tp->urg_seq - TCP_SKB_CB(skb)->seq;

		if (off < skb->len) {
			tp->urg_data = (uint16_t)(TCP_URG_VALID | skb->data[off]);
			if (!sock_flag(sk, SOCK_DEAD))
				SK_CB(sk, sk_data_ready)(sk);
		}
	}
}

/* The state machine for every state but LISTEN's SYN handling and TIME_WAIT; see tcp.h. */
int tcp_rcv_state_process(struct sock *sk, struct sk_buff *skb)
{
	struct tcp_sock *tp = tcp_sk(sk);
	const struct tcphdr *th = (const struct tcphdr *)skb->data;
	struct tcp_skb_cb *cb = TCP_SKB_CB(skb);
	uint8_t flags = cb->tcp_flags;
	unsigned int doff = TCP_DOFF(th) * 4u;
	bool opened = false;
	int ret;

	switch (sk->sk_state) {
	case TCP_CLOSE:
		return -1;

	case TCP_LISTEN:
		return tcp_listen_rcv(sk, skb);

	case TCP_SYN_SENT:
		tp->segs_in++;
		ret = tcp_rcv_synsent_state_process(sk, skb, th);
		return ret;
	default:
		break;
	}

	tp->segs_in++;
	tcp_parse_options(skb, th, &tp->rx_opt, false);
	skb_pull(skb, doff);

	/* RFC 7323 5.3 (PAWS) before the sequence check. */
	if (tcp_paws_reject(sk, skb)) {
		NS_INC_STATS(sk->ns, TcpExtPAWSEstabRejected);
		tcp_send_dupack(sk, skb);
		return 0;
	}
	/* First check: sequence number. */
	if (!tcp_sequence_ok(tp, cb->seq, cb->end_seq)) {
		if (flags & TH_RST)
			return 0;
		if (flags & TH_SYN)
			goto syn_challenge;
		tcp_send_dupack(sk, skb);
		return 0;
	}
	/* Second check: RST (RFC 5961 3.2). */
	if (flags & TH_RST) {
		if (cb->seq == tp->rcv_nxt) {
			if (sk->sk_state == TCP_ESTABLISHED || sk->sk_state == TCP_CLOSE_WAIT)
				NS_INC_STATS(sk->ns, TcpEstabResets);
			tcp_reset(sk);
		} else {
			tcp_send_challenge_ack(sk);
		}
		return 0;
	}
	/* RFC 7323 4.3: remember the timestamp to echo. */
	if (tp->rx_opt.saw_tstamp && !after(cb->seq, tp->rcv_wup)) {
		tp->ts_recent = tp->rx_opt.rcv_tsval;
		tp->ts_recent_stamp = tcp_now(sk);
	}
	/* Fourth check: SYN in a synchronized state (RFC 5961 4.2). */
	if (flags & TH_SYN) {
	syn_challenge:
		tcp_send_challenge_ack(sk);
		return 0;
	}
	/* Fifth check: ACK. */
	if (!(flags & TH_ACK))
		return 0;
	if (sk->sk_state == TCP_SYN_RECV) {
		if (!after(cb->ack_seq, tp->iss) || after(cb->ack_seq, tp->snd_nxt))
			return -1;
		tp->snd_wnd = (uint32_t)ntohs(th->window) << tp->snd_wscale;
		tp->max_window = tp->snd_wnd;
		tp->snd_wl1 = cb->seq;
		tcp_set_state(sk, TCP_ESTABLISHED);
		/* A Fast Open child was set up for transfer when it was created. */
		if (tp->fastopen_child) {
			tp->fastopen_child = false;
			tp->retrans_stamp = 0;
			tp->retransmits = 0;
			tp->backoff = 0;
		} else {
			tcp_init_transfer(sk);
		}
		if (tp->parent)
			SK_CB(tp->parent, sk_data_ready)(tp->parent);
		opened = true;
	}
	ret = tcp_ack(sk, skb, th);
	if (ret < 0)
		return 0;
	/* The handshake's RTT sets the first pacing rate (tcp_rcv_state_process). */
	if (opened)
		tcp_update_pacing_rate(sk);
	if (ret > 0 && tcp_fin_acked(sk))
		return 0;

	/* Sixth check: URG. */
	tcp_urg(sk, skb, th);

	/* Seventh check: data. */
	switch (sk->sk_state) {
	case TCP_CLOSE_WAIT:
	case TCP_CLOSING:
	case TCP_LAST_ACK:
		if (!before(cb->seq, tp->rcv_nxt))
			break;
		/* fall through */
	case TCP_FIN_WAIT1:
	case TCP_FIN_WAIT2:
		/* Data after the user closed for reading: reset (RFC 9293 3.10.7.4, Linux). */
		if ((sk->sk_shutdown & RCV_SHUTDOWN) && sock_flag(sk, SOCK_DEAD) && skb->len &&
		    after(cb->end_seq - !!(flags & TH_FIN), tp->rcv_nxt)) {
			NS_INC_STATS(sk->ns, TcpExtTCPAbortOnData);
			tcp_reset(sk);
			return -1;
		}
		/* fall through */
	case TCP_ESTABLISHED:
		if (sk->sk_state == TCP_CLOSE)
			return 0;
		tcp_data_queue(sk, skb);
		break;
	default:
		break;
	}
	if (sk->sk_state != TCP_CLOSE) {
		tcp_push(sk, tp->nonagle);
		tcp_ack_snd_check(sk);
	}
	return 0;
}
