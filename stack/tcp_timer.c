/*
 * TCP timers: retransmission (RFC 6298), the SYN timer, the persist timer
 * (RFC 9293 3.8.6.1), delayed ACK, keepalive (RFC 9293 3.8.4), FIN_WAIT2 and
 * TIME_WAIT expiry. All times are absolute microseconds on the stack clock.
 */
#include <errno.h>

#include "stack.h"
#include "tcp.h"

static uint32_t tcp_ilog2(uint64_t v)
{
	return v ? 63u - (uint32_t)__builtin_clzll(v) : 0;
}

/* The RTO with the current exponential backoff, capped at rto_max. */
uint64_t tcp_rto_backed_off(const struct sock *sk)
{
	const struct tcp_sock *tp = tcp_sk(sk);
	uint64_t max = sk->ns->cfg.tcp.rto_max_us;
	uint64_t rto = tp->rto;

	if (tp->backoff >= 63 || (rto << tp->backoff) >> tp->backoff != rto)
		return max;
	rto <<= tp->backoff;
	return rto > max ? max : rto;
}

/* Arms the retransmit timer for one of its uses. */
void tcp_reset_xmit_timer(struct sock *sk, int what, uint64_t when_us)
{
	struct tcp_sock *tp = tcp_sk(sk);

	tp->pending = (uint8_t)what;
	mod_timer(sk->ns, &tp->retransmit_timer, when_us);
}

/* Stops the retransmit timer. */
void tcp_clear_retrans_timer(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);

	tp->pending = 0;
	del_timer(sk->ns, &tp->retransmit_timer);
}

/* Restarts the RTO from now when data is in flight, stops it otherwise (RFC 6298 5.2/5.3). */
void tcp_rearm_rto(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);

	if (!tp->packets_out) {
		if (tp->pending == ICSK_TIME_RETRANS || tp->pending == ICSK_TIME_LOSS_PROBE ||
		    tp->pending == ICSK_TIME_REO_TIMEOUT)
			tcp_clear_retrans_timer(sk);
		return;
	}
	tcp_reset_xmit_timer(sk, ICSK_TIME_RETRANS, ns_now(sk->ns) + tcp_rto_backed_off(sk));
}

/*
 * Linux's tcp_model_timeout(): how long `boundary` retransmissions take
 * with exponential backoff from rto_base up to rto_max, then linear.
 */
static uint64_t tcp_model_timeout(const struct sock *sk, unsigned int boundary, uint64_t rto_base)
{
	uint64_t rto_max = sk->ns->cfg.tcp.rto_max_us;
	unsigned int thresh = tcp_ilog2(rto_max / (rto_base ? rto_base : 1));

	if (boundary <= thresh)
		return ((2ull << boundary) - 1) * rto_base;
	return ((2ull << thresh) - 1) * rto_base + (uint64_t)(boundary - thresh) * rto_max;
}

/* Linux's retransmits_timed_out(). */
static bool tcp_retransmits_timed_out(struct sock *sk, unsigned int boundary, uint64_t rto_base)
{
	struct tcp_sock *tp = tcp_sk(sk);
	uint64_t timeout;

	if (!tp->retrans_stamp)
		return false;
	if (tp->user_timeout_ms && sk->sk_state != TCP_SYN_SENT)
		timeout = (uint64_t)tp->user_timeout_ms * 1000u;
	else
		timeout = tcp_model_timeout(sk, boundary, rto_base);
	return ns_now(sk->ns) - tp->retrans_stamp >= timeout;
}

/* Gives up on the connection: ETIMEDOUT or the last soft error (tcp_write_err). */
static void tcp_write_err(struct sock *sk)
{
	sk->sk_err = sk->sk_err_soft ? sk->sk_err_soft : ETIMEDOUT;
	SK_CB(sk, sk_error_report)(sk);
	NS_INC_STATS(sk->ns, TcpExtTCPAbortOnTimeout);
	tcp_done(sk);
}

/*
 * An orphan still holding send data while TCP is under memory pressure and
 * over tcp_mem's max is given up at its next timer, with a RST unless do_reset
 * is false (Linux's tcp_out_of_resources and tcp_out_of_memory; the
 * tcp_max_orphans half is not modelled). True when it was aborted.
 */
static bool tcp_out_of_resources(struct sock *sk, bool do_reset)
{
	if (!sock_flag(sk, SOCK_DEAD) || sk->sk_wmem_queued <= SOCK_MIN_SNDBUF ||
	    !sk_under_memory_pressure(sk) || !sk_mem_over_max(sk))
		return false;
	if (do_reset)
		tcp_send_active_reset(sk);
	tcp_done(sk);
	NS_INC_STATS(sk->ns, TcpExtTCPAbortOnMemory);
	return true;
}

/* Returns true when the connection was aborted (tcp_write_timeout). */
static bool tcp_write_timeout(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	const struct tcp_config *c = &sk->ns->cfg.tcp;
	unsigned int retry_until;
	uint64_t base;

	if ((1u << sk->sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV)) {
		retry_until = tp->syn_retries ? tp->syn_retries : (unsigned int)c->syn_retries;
		base = TCP_TIMEOUT_INIT_US;
	} else {
		retry_until = (unsigned int)c->retries2;
		base = c->rto_min_us;
		if (sock_flag(sk, SOCK_DEAD)) {
			retry_until = c->orphan_retries ? (unsigned int)c->orphan_retries : 8;
			if (tcp_out_of_resources(sk,
						 !tcp_retransmits_timed_out(sk, retry_until, base)))
				return true;
		}
	}
	if (tcp_retransmits_timed_out(sk, retry_until, base)) {
		tcp_write_err(sk);
		return true;
	}
	return false;
}

/*
 * A Fast Open child's SYN-ACK is not acknowledged yet (Linux's
 * tcp_fastopen_synack_timer): send it again, 1 s doubling, up to
 * tcp_synack_retries, then give the connection up.
 */
static void tcp_fastopen_synack_timer(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);

	if (tp->retransmits >= (unsigned int)sk->ns->cfg.tcp.synack_retries) {
		tcp_write_err(sk);
		return;
	}
	tcp_send_synack_again(sk);
	tp->retransmits++;
	if (tp->backoff < 63)
		tp->backoff++;
	tcp_reset_xmit_timer(sk, ICSK_TIME_RETRANS,
			     ns_now(sk->ns) + (TCP_TIMEOUT_INIT_US << tp->retransmits));
}

/* RTO expiry (tcp_retransmit_timer, RFC 6298 5.4-5.6). */
static void tcp_retransmit_timer(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct sk_buff *head = skb_peek(&sk->sk_write_queue);

	if (sk->sk_state == TCP_SYN_RECV && tp->fastopen_child) {
		tcp_fastopen_synack_timer(sk);
		return;
	}
	if (!tp->packets_out || !head)
		return;
	if (tcp_write_timeout(sk))
		return;
	if (sk->sk_state == TCP_SYN_SENT || sk->sk_state == TCP_SYN_RECV) {
		tcp_retransmit_skb(sk, head);
	} else {
		if (tp->retransmits == 0)
			NS_INC_STATS(sk->ns, TcpExtTCPTimeouts);
		tcp_enter_loss(sk);
		tcp_retransmit_skb(sk, head);
	}
	if (tp->backoff < 63)
		tp->backoff++;
	tp->retransmits++;
	tcp_reset_xmit_timer(sk, ICSK_TIME_RETRANS, ns_now(sk->ns) + tcp_rto_backed_off(sk));
}

/* Persist timer (tcp_probe_timer): probes a zero window, never giving up while answered. */
static void tcp_probe_timer(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	const struct tcp_config *c = &sk->ns->cfg.tcp;
	int max_probes = c->retries2;

	if (tp->packets_out || !tp->send_head) {
		tp->probes_out = 0;
		return;
	}
	if (sock_flag(sk, SOCK_DEAD)) {
		max_probes = c->orphan_retries ? c->orphan_retries : 8;
		if (tcp_out_of_resources(sk, true))
			return;
	}
	if (tp->user_timeout_ms && tp->probes_out &&
	    ns_now(sk->ns) - tp->last_ack_recv >= (uint64_t)tp->user_timeout_ms * 1000u) {
		tcp_write_err(sk);
		return;
	}
	if (tp->probes_out >= max_probes) {
		tcp_write_err(sk);
		return;
	}
	tcp_send_probe0(sk);
}

/*
 * Arms the tail loss probe instead of the RTO (RFC 8985 7.2, Linux's
 * tcp_schedule_loss_probe): PTO = 2 SRTT, plus 200 ms for a lone segment
 * (its ACK may be delayed) or 2 ms otherwise, never later than the RTO.
 * Only with SACK and outside recovery, one probe per episode.
 */
bool tcp_schedule_loss_probe(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct sk_buff *head = skb_peek(&sk->sk_write_queue);
	uint64_t now = tcp_now(sk), timeout, rto_at;

	if (!tp->sack_ok || !tp->packets_out || !head || tp->tlp_high_seq ||
	    (tp->ca_state != TCP_CA_Open && tp->ca_state != TCP_CA_CWR))
		return false;
	if (!((1u << sk->sk_state) &
	      (TCPF_ESTABLISHED | TCPF_CLOSE_WAIT | TCPF_FIN_WAIT1 | TCPF_CLOSING | TCPF_LAST_ACK)))
		return false;
	if (tp->srtt_us) {
		timeout = tp->srtt_us >> 2;
		timeout += tp->packets_out == 1 ? sk->ns->cfg.tcp.rto_min_us : 2000u;
		timeout = (timeout + 999) / 1000 * 1000; /* jiffies, as Linux */
	} else {
		timeout = TCP_TIMEOUT_INIT_US;
	}
	rto_at = TCP_SKB_CB(head)->when + tcp_rto_backed_off(sk);
	if (rto_at > now && rto_at - now < timeout)
		timeout = rto_at - now;
	tcp_reset_xmit_timer(sk, ICSK_TIME_LOSS_PROBE, now + timeout);
	return true;
}

/* The PTO fired: new data if allowed, else the last segment again (RFC 8985 7.3). */
static void tcp_send_loss_probe(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct sk_buff *last;
	unsigned int mss = tcp_current_mss(sk);

	if (tp->tlp_high_seq)
		goto rearm;
	if (tp->send_head && before(TCP_SKB_CB(tp->send_head)->seq, tp->snd_una + tp->snd_wnd)) {
		uint32_t before_out = tp->packets_out;

		/* One segment past the congestion window, as Linux's push_one = 2. */
		tp->snd_cwnd++;
		tcp_write_xmit_probe(sk);
		tp->snd_cwnd--;
		if (tp->packets_out > before_out) {
			tp->tlp_retrans = false;
			goto probe_sent;
		}
	}
	last = tp->send_head ? TAILQ_PREV(tp->send_head, sk_buff_list, list)
			     : skb_peek_tail(&sk->sk_write_queue);
	if (!last || (TCP_SKB_CB(last)->tcp_flags & TH_SYN))
		goto rearm;
	if (last->len > mss) {
		if (tcp_fragment(sk, last, last->len - mss))
			goto rearm;
		last = TAILQ_NEXT(last, list);
	}
	/* Linux cuts the probe's segment off the end of its skb (tcp_fragment). */
	tcp_skb_charge_head(sk, last);
	if (tcp_retransmit_skb(sk, last))
		goto rearm;
	tp->tlp_retrans = true;
probe_sent:
	tp->tlp_high_seq = tp->snd_nxt;
	NS_INC_STATS(sk->ns, TcpExtTCPLossProbes);
rearm:
	tcp_rearm_rto(sk);
}

static void tcp_write_timer(struct timer_list *t)
{
	struct tcp_sock *tp = container_of(t, struct tcp_sock, retransmit_timer);
	struct sock *sk = tp_sk(tp);
	int what = tp->pending;

	if (sk->sk_state == TCP_CLOSE || sk->sk_state == TCP_LISTEN)
		return;
	sock_hold(sk);
	tp->pending = 0;
	if (what == ICSK_TIME_PROBE0)
		tcp_probe_timer(sk);
	else if (what == ICSK_TIME_RETRANS)
		tcp_retransmit_timer(sk);
	else if (what == ICSK_TIME_LOSS_PROBE)
		tcp_send_loss_probe(sk);
	else if (what == ICSK_TIME_REO_TIMEOUT)
		tcp_rack_reo_timeout(sk);
	sock_put(sk);
}

/* Delayed ACK timer (tcp_delack_timer_handler). */
static void tcp_delack_timer(struct timer_list *t)
{
	struct tcp_sock *tp = container_of(t, struct tcp_sock, delack_timer);
	struct sock *sk = tp_sk(tp);

	if (!tp->ack_pending || sk->sk_state == TCP_CLOSE || sk->sk_state == TCP_LISTEN)
		return;
	sock_hold(sk);
	if (tp->ack_batch) {
		/* The end of a receive batch, not a delayed ACK. */
		tcp_send_ack(sk);
		sock_put(sk);
		return;
	}
	if (!tp->pingpong) {
		/* Delayed ACK missed: the peer is slow, wait longer next time. */
		tp->ato <<= 1;
		if (tp->ato > tp->rto)
			tp->ato = tp->rto;
		if (tp->ato < TCP_DELACK_MIN_US)
			tp->ato = TCP_DELACK_MIN_US;
	} else {
		tp->pingpong = false;
		tp->ato = TCP_DELACK_MIN_US;
	}
	NS_INC_STATS(sk->ns, TcpExtDelayedACKs);
	tcp_send_ack(sk);
	sock_put(sk);
}

/* Idle time before keepalive probes: TCP_KEEPIDLE or the sysctl. */
int tcp_keepalive_time_s(const struct tcp_sock *tp)
{
	return tp->keepalive_time_s ? tp->keepalive_time_s
				    : tp->inet.sk.ns->cfg.tcp.keepalive_time_s;
}

static int tcp_keepalive_intvl_s(const struct tcp_sock *tp)
{
	return tp->keepalive_intvl_s ? tp->keepalive_intvl_s
				     : tp->inet.sk.ns->cfg.tcp.keepalive_intvl_s;
}

static int tcp_keepalive_probes(const struct tcp_sock *tp)
{
	return tp->keepalive_probes ? tp->keepalive_probes
				    : tp->inet.sk.ns->cfg.tcp.keepalive_probes;
}

/* Arms the keepalive/FIN_WAIT2/TIME_WAIT timer delay_us from now. */
void tcp_reset_keepalive_timer(struct sock *sk, uint64_t delay_us)
{
	mod_timer(sk->ns, &tcp_sk(sk)->keepalive_timer, ns_now(sk->ns) + delay_us);
}

/* SO_KEEPALIVE turned on or off (tcp_set_keepalive). */
void tcp_set_keepalive(struct sock *sk, bool on)
{
	struct tcp_sock *tp = tcp_sk(sk);

	if ((1u << sk->sk_state) & (TCPF_CLOSE | TCPF_LISTEN | TCPF_TIME_WAIT | TCPF_FIN_WAIT2))
		return;
	if (on)
		tcp_reset_keepalive_timer(sk, (uint64_t)tcp_keepalive_time_s(tp) * 1000000u);
	else
		del_timer(sk->ns, &tp->keepalive_timer);
}

static void tcp_keepalive_timer(struct timer_list *t)
{
	struct tcp_sock *tp = container_of(t, struct tcp_sock, keepalive_timer);
	struct sock *sk = tp_sk(tp);
	uint64_t now = ns_now(sk->ns), last, elapsed, idle;

	sock_hold(sk);
	switch (sk->sk_state) {
	case TCP_TIME_WAIT:
		/* 2*MSL are over (RFC 9293 3.10.8 "Timeout"). */
		tcp_done(sk);
		goto out;
	case TCP_FIN_WAIT2:
		if (sock_flag(sk, SOCK_DEAD)) {
			/* An orphan waited tcp_fin_timeout for the peer's FIN. */
			tcp_done(sk);
			goto out;
		}
		break;
	case TCP_CLOSE:
	case TCP_LISTEN:
	case TCP_SYN_SENT:
	case TCP_SYN_RECV:
		goto out;
	default:
		break;
	}
	if (!sock_flag(sk, SOCK_KEEPOPEN))
		goto out;
	idle = (uint64_t)tcp_keepalive_time_s(tp) * 1000000u;
	/* Data in flight is watched by the RTO and the persist timer. */
	if (tp->packets_out || tp->send_head) {
		tcp_reset_keepalive_timer(sk, idle);
		goto out;
	}
	last = tp->lrcvtime > tp->last_ack_recv ? tp->lrcvtime : tp->last_ack_recv;
	elapsed = now - last;
	if (elapsed >= idle) {
		if ((tp->user_timeout_ms && elapsed >= (uint64_t)tp->user_timeout_ms * 1000u &&
		     tp->probes_out > 0) ||
		    (!tp->user_timeout_ms && tp->probes_out >= tcp_keepalive_probes(tp))) {
			tcp_send_active_reset(sk);
			tcp_write_err(sk);
			goto out;
		}
		if (tcp_write_wakeup(sk) <= 0) {
			tp->probes_out++;
			NS_INC_STATS(sk->ns, TcpExtTCPKeepAlive);
			elapsed = (uint64_t)tcp_keepalive_intvl_s(tp) * 1000000u;
		} else {
			elapsed = TCP_RESOURCE_PROBE_US;
		}
	} else {
		elapsed = idle - elapsed;
	}
	tcp_reset_keepalive_timer(sk, elapsed);
out:
	sock_put(sk);
}

/* Sets up the three per-connection timers. */
void tcp_init_xmit_timers(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);

	timer_setup(&tp->retransmit_timer, tcp_write_timer);
	timer_setup(&tp->delack_timer, tcp_delack_timer);
	timer_setup(&tp->keepalive_timer, tcp_keepalive_timer);
}

/* Stops every timer of the connection. */
void tcp_clear_xmit_timers(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);

	tp->pending = 0;
	tp->ack_pending = false;
	del_timer(sk->ns, &tp->retransmit_timer);
	del_timer(sk->ns, &tp->delack_timer);
	del_timer(sk->ns, &tp->keepalive_timer);
}
