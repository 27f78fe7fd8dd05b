/*
 * Congestion control as a registry (Linux's tcp_cong.c): Reno (RFC 5681)
 * and CUBIC (RFC 9438), CUBIC the default as on Linux. Windows are counted
 * in segments; snd_cwnd_cnt accumulates fractional growth.
 */
#include <errno.h>
#include <string.h>

#include "stack.h"
#include "tcp.h"

/* Registers ca by name; -EEXIST when the name is taken. */
int tcp_register_congestion_control(struct nstack *ns, const struct tcp_congestion_ops *ca)
{
	if (tcp_ca_find(ns, ca->name))
		return -EEXIST;
	for (int i = 0; i < TCP_CA_MAX; i++) {
		if (!ns->tcp->cong[i]) {
			ns->tcp->cong[i] = ns_ref(ca);
			return 0;
		}
	}
	return -ENOSPC;
}

/* Finds a registered algorithm by name. */
const struct tcp_congestion_ops *tcp_ca_find(struct nstack *ns, const char *name)
{
	for (int i = 0; i < TCP_CA_MAX; i++) {
		const struct tcp_congestion_ops *ca = ns_unref(ns->tcp->cong[i]);

		if (ca && strcmp(ca->name, name) == 0)
			return ca;
	}
	return NULL;
}

/* Starts the socket's algorithm with fresh private state. */
void tcp_init_congestion_control(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);

	memset(tp->ca_priv, 0, sizeof(tp->ca_priv));
	if (tcp_ca(tp)->init)
		tcp_ca(tp)->init(tp);
}

/* TCP_CONGESTION: -ENOENT for an unknown name, as Linux. */
int tcp_set_congestion_control(struct sock *sk, const char *name)
{
	struct tcp_sock *tp = tcp_sk(sk);
	const struct tcp_congestion_ops *ca = tcp_ca_find(sk->ns, name);

	if (!ca)
		return -ENOENT;
	tp->ca_ops_ref = ns_ref(ca);
	tp->user_ca = true;
	if (sk->sk_state != TCP_CLOSE && sk->sk_state != TCP_LISTEN)
		tcp_init_congestion_control(sk);
	return 0;
}

/* Slow start (RFC 5681 3.1): one segment per segment acked, up to ssthresh. */
uint32_t tcp_slow_start(struct tcp_sock *tp, uint32_t acked)
{
	uint32_t cwnd = tp->snd_cwnd + acked;

	if (cwnd > tp->snd_ssthresh)
		cwnd = tp->snd_ssthresh;
	acked -= cwnd - tp->snd_cwnd;
	tp->snd_cwnd = cwnd < tp->snd_cwnd_clamp ? cwnd : tp->snd_cwnd_clamp;
	return acked;
}

/* Additive increase: one segment per w segments acked. */
void tcp_cong_avoid_ai(struct tcp_sock *tp, uint32_t w, uint32_t acked)
{
	if (w == 0)
		w = 1;
	if (tp->snd_cwnd_cnt >= w) {
		tp->snd_cwnd_cnt = 0;
		tp->snd_cwnd++;
	}
	tp->snd_cwnd_cnt += acked;
	if (tp->snd_cwnd_cnt >= w) {
		uint32_t delta = tp->snd_cwnd_cnt / w;

		tp->snd_cwnd_cnt -= delta * w;
		tp->snd_cwnd += delta;
	}
	if (tp->snd_cwnd > tp->snd_cwnd_clamp)
		tp->snd_cwnd = tp->snd_cwnd_clamp;
}

/* Reno's multiplicative decrease (RFC 5681 eq. 4). */
uint32_t tcp_reno_ssthresh(struct tcp_sock *tp)
{
	uint32_t half = tp->snd_cwnd >> 1;

	return half > 2 ? half : 2;
}

static void tcp_reno_cong_avoid(struct tcp_sock *tp, uint32_t ack, uint32_t acked)
{
	(void)ack;
	if (tp->snd_cwnd < tp->snd_ssthresh) {
		acked = tcp_slow_start(tp, acked);
		if (!acked)
			return;
	}
	tcp_cong_avoid_ai(tp, tp->snd_cwnd, acked);
}

static uint32_t tcp_reno_undo_cwnd(struct tcp_sock *tp)
{
	return tp->snd_cwnd > tp->prior_cwnd ? tp->snd_cwnd : tp->prior_cwnd;
}

static const struct tcp_congestion_ops tcp_reno = {
    .name = "reno",
    .ssthresh = tcp_reno_ssthresh,
    .cong_avoid = tcp_reno_cong_avoid,
    .undo_cwnd = tcp_reno_undo_cwnd,
};

/*
 * CUBIC (RFC 9438). W(t) = C (t - K)^3 + W_max with C = 0.4 and
 * beta_cubic = 0.7, fast convergence (4.7), the Reno-friendly region (4.3)
 * and the target clamped to [cwnd, 1.5 cwnd] (4.2); slow start ends early
 * on HyStart's delay signal, as Linux's cubic does by default.
 */
#define CUBIC_C	   0.4
#define CUBIC_BETA 0.7

struct cubic_priv {
	double w_max; /* segments */
	double w_last_max;
	double k;     /* seconds */
	double w_est; /* Reno-friendly estimate, segments */
	double cwnd_epoch;
	uint64_t epoch_start; /* us, 0 = no epoch */
	uint32_t min_rtt_us;  /* delay_min: the smallest RTT seen */
	/* HyStart, delay detection (Linux's HYSTART_DELAY). */
	uint32_t end_seq;  /* the current round ends when this is acked */
	uint32_t curr_rtt; /* smallest RTT of the round's first samples */
	uint8_t sample_cnt;
	bool found;
};

#define HYSTART_LOW_WINDOW   16
#define HYSTART_MIN_SAMPLES  8
#define HYSTART_DELAY_MIN_US 4000u
#define HYSTART_DELAY_MAX_US 16000u

_Static_assert(sizeof(struct cubic_priv) <= TCP_CA_PRIV_SIZE, "cubic priv");

static struct cubic_priv *cubic(struct tcp_sock *tp)
{
	return (struct cubic_priv *)(void *)tp->ca_priv;
}

/* Cube root by Newton's method (no libm in the stack). */
static double cubic_cbrt(double x)
{
	double r = 1.0;
	int i;
	bool neg = x < 0;

	if (neg)
		x = -x;
	if (x == 0)
		return 0;
	while (r * r * r < x)
		r *= 2;
	for (i = 0; i < 60; i++) {
		double n = r - (r * r * r - x) / (3 * r * r);

		if (n == r)
			break;
		r = n;
	}
	return neg ? -r : r;
}

static void cubic_reset(struct tcp_sock *tp)
{
	struct cubic_priv *c = cubic(tp);

	c->epoch_start = 0;
	c->found = false;
	c->end_seq = tp->snd_nxt;
	c->curr_rtt = ~0u;
	c->sample_cnt = 0;
}

static void cubic_init(struct tcp_sock *tp)
{
	memset(cubic(tp), 0, sizeof(struct cubic_priv));
	cubic_reset(tp);
}

/* RFC 9438 4.6 and 4.7: the window after a congestion event. */
static uint32_t cubic_ssthresh(struct tcp_sock *tp)
{
	struct cubic_priv *c = cubic(tp);
	double cwnd = tp->snd_cwnd;
	double s;

	c->epoch_start = 0;
	if (cwnd < c->w_last_max)
		c->w_last_max = cwnd * (1.0 + CUBIC_BETA) / 2.0;
	else
		c->w_last_max = cwnd;
	c->w_max = c->w_last_max;
	s = cwnd * CUBIC_BETA;
	return s > 2 ? (uint32_t)s : 2;
}

static void cubic_cong_avoid(struct tcp_sock *tp, uint32_t ack, uint32_t acked)
{
	struct cubic_priv *c = cubic(tp);
	uint64_t now = ns_now(tp->inet.sk.ns);
	double cwnd, t, target, rtt, alpha;
	uint32_t cnt;

	(void)ack;
	if (tp->snd_cwnd < tp->snd_ssthresh) {
		acked = tcp_slow_start(tp, acked);
		if (!acked)
			return;
	}
	cwnd = tp->snd_cwnd;
	if (!c->epoch_start) {
		c->epoch_start = now;
		c->cwnd_epoch = cwnd;
		if (c->w_max <= cwnd) {
			c->k = 0;
			c->w_max = cwnd;
		} else {
			c->k = cubic_cbrt((c->w_max - cwnd) / CUBIC_C);
		}
		c->w_est = cwnd;
	}
	rtt = (tp->srtt_us >> 3) / 1e6;
	t = (double)(now - c->epoch_start) / 1e6;
	target = CUBIC_C * (t + rtt - c->k) * (t + rtt - c->k) * (t + rtt - c->k) + c->w_max;
	if (target < cwnd)
		target = cwnd;
	if (target > 1.5 * cwnd)
		target = 1.5 * cwnd;

	/* RFC 9438 4.3: Reno-friendly estimate with alpha_cubic. */
	alpha = c->w_est >= c->w_max ? 1.0 : 3.0 * (1.0 - CUBIC_BETA) / (1.0 + CUBIC_BETA);
	c->w_est += alpha * acked / cwnd;
	if (c->w_est > target)
		target = c->w_est;

	if (target > cwnd + 0.0001) {
		double d = cwnd / (target - cwnd);

		cnt = d < 1 ? 1 : (uint32_t)d;
	} else {
		cnt = 100 * tp->snd_cwnd; /* essentially flat in the plateau */
	}
	tcp_cong_avoid_ai(tp, cnt, acked);
}

static uint32_t cubic_undo_cwnd(struct tcp_sock *tp)
{
	return tcp_reno_undo_cwnd(tp);
}

static void cubic_set_state(struct tcp_sock *tp, uint8_t state)
{
	if (state == TCP_CA_Loss)
		cubic_reset(tp);
}

/*
 * HyStart's delay signal (Linux's hystart_update with HYSTART_DELAY, as
 * RFC 9406 describes): in slow start, once per round take the smallest of
 * the first 8 RTT samples; if it exceeds the smallest RTT ever by an eighth
 * (4 to 16 ms), queues are building: leave slow start here.
 */
static void cubic_hystart_update(struct tcp_sock *tp, uint32_t delay)
{
	struct cubic_priv *c = cubic(tp);
	uint32_t thresh = c->min_rtt_us >> 3;

	if (after(tp->snd_una, c->end_seq)) {
		/* A new round. */
		c->end_seq = tp->snd_nxt;
		c->curr_rtt = ~0u;
		c->sample_cnt = 0;
	}
	if (c->curr_rtt > delay)
		c->curr_rtt = delay;
	if (c->sample_cnt < HYSTART_MIN_SAMPLES) {
		c->sample_cnt++;
		return;
	}
	if (thresh < HYSTART_DELAY_MIN_US)
		thresh = HYSTART_DELAY_MIN_US;
	if (thresh > HYSTART_DELAY_MAX_US)
		thresh = HYSTART_DELAY_MAX_US;
	if (c->curr_rtt > c->min_rtt_us + thresh) {
		c->found = true;
		tp->snd_ssthresh = tp->snd_cwnd;
	}
}

static void cubic_pkts_acked(struct tcp_sock *tp, uint32_t acked, int64_t rtt_us)
{
	struct cubic_priv *c = cubic(tp);

	(void)acked;
	if (rtt_us <= 0)
		return;
	if (!c->min_rtt_us || rtt_us < c->min_rtt_us)
		c->min_rtt_us = (uint32_t)rtt_us;
	if (!c->found && tp->snd_cwnd < tp->snd_ssthresh && tp->snd_cwnd >= HYSTART_LOW_WINDOW)
		cubic_hystart_update(tp, (uint32_t)rtt_us);
}

static const struct tcp_congestion_ops tcp_cubic = {
    .name = "cubic",
    .init = cubic_init,
    .ssthresh = cubic_ssthresh,
    .cong_avoid = cubic_cong_avoid,
    .set_state = cubic_set_state,
    .pkts_acked = cubic_pkts_acked,
    .undo_cwnd = cubic_undo_cwnd,
};

/* Registers reno and cubic and picks the default from tcp_congestion_control. */
int tcp_cong_init(struct nstack *ns)
{
	struct tcp_state *st = ns->tcp;

	const struct tcp_congestion_ops *def;

	memset(st->cong, 0, sizeof(st->cong));
	tcp_register_congestion_control(ns, &tcp_reno);
	tcp_register_congestion_control(ns, &tcp_cubic);
	def = tcp_ca_find(ns, ns->cfg.tcp.congestion_control);
	st->default_ca = ns_ref(def ? def : &tcp_cubic);
	return 0;
}

/* Frees the registry. */
void tcp_cong_exit(struct nstack *ns)
{
	memset(ns->tcp->cong, 0, sizeof(ns->tcp->cong));
}
