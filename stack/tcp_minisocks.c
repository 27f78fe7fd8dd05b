/*
 * The listen path and the end of a connection's life: request socks in the
 * SYN queue with SYN-ACK retransmission, SYN cookies (RFC 4987) when that
 * queue overflows, creation of the child socket, and TIME_WAIT (RFC 9293
 * 3.10.7.4, RFC 6191 reuse rules as Linux applies them).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "ip.h"
#include "ipv6.h"
#include "stack.h"
#include "tcp.h"

/* Linux's syncookie MSS table (net/ipv4/syncookies.c). */
static const uint16_t tcp_cookie_msstab[] = {536, 1300, 1440, 1460};
#define COOKIEBITS	   24
#define COOKIEMASK	   ((1u << COOKIEBITS) - 1)
#define MAX_SYNCOOKIE_AGE  2
#define TSBITS		   6
#define TSMASK		   ((1u << TSBITS) - 1)
#define TS_OPT_WSCALE_MASK 0xf
#define TS_OPT_SACK	   0x10

static uint32_t mix32(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x7feb352du;
	h ^= h >> 15;
	h *= 0x846ca68bu;
	h ^= h >> 16;
	return h;
}

/* A keyed hash of the connection's addresses (the secret never leaves the stack). */
static uint32_t cookie_hash(const struct nstack *ns, uint32_t saddr, uint32_t daddr, uint16_t sport,
			    uint16_t dport, uint32_t count, int c)
{
	const uint32_t *k = ns->tcp->cookie_secret;
	uint32_t h = k[c * 2];

	h = mix32(h ^ saddr);
	h = mix32(h ^ daddr ^ k[c * 2 + 1]);
	h = mix32(h ^ ((uint32_t)sport << 16 | dport));
	h = mix32(h ^ count);
	return h;
}

static uint32_t tcp_cookie_time(const struct nstack *ns)
{
	return (uint32_t)(ns_now(ns) / (60ull * 1000000u));
}

/* The ISN of a SYN cookie (RFC 4987 3.6, Linux's secure_tcp_syn_cookie). */
uint32_t tcp_cookie_make(struct nstack *ns, uint32_t saddr, uint32_t daddr, uint16_t sport,
			 uint16_t dport, uint32_t sseq, uint16_t mss, uint16_t *mss_out)
{
	uint32_t count = tcp_cookie_time(ns), mssind = 0, i;

	for (i = 0; i < sizeof(tcp_cookie_msstab) / sizeof(tcp_cookie_msstab[0]); i++)
		if (mss >= tcp_cookie_msstab[i])
			mssind = i;
	*mss_out = tcp_cookie_msstab[mssind];
	return cookie_hash(ns, saddr, daddr, sport, dport, 0, 0) + sseq + (count << COOKIEBITS) +
	       ((cookie_hash(ns, saddr, daddr, sport, dport, count, 1) + mssind) & COOKIEMASK);
}

/* Decodes a cookie: the MSS index, or -1 when it is not ours or too old. */
static int tcp_cookie_decode(struct nstack *ns, uint32_t cookie, uint32_t saddr, uint32_t daddr,
			     uint16_t sport, uint16_t dport, uint32_t sseq)
{
	uint32_t count = tcp_cookie_time(ns), diff, mssind;

	cookie -= cookie_hash(ns, saddr, daddr, sport, dport, 0, 0) + sseq;
	diff = (count - (cookie >> COOKIEBITS)) & (0xffffffffu >> COOKIEBITS);
	if (diff >= MAX_SYNCOOKIE_AGE)
		return -1;
	mssind =
	    (cookie - cookie_hash(ns, saddr, daddr, sport, dport, count - diff, 1)) & COOKIEMASK;
	if (mssind >= sizeof(tcp_cookie_msstab) / sizeof(tcp_cookie_msstab[0]))
		return -1;
	return (int)mssind;
}

/* Linux's sk_acceptq_is_full(): backlog N holds N + 1 connections. */
static bool tcp_acceptq_is_full(const struct sock *sk)
{
	return sk->sk_ack_backlog > sk->sk_max_ack_backlog;
}

/* Finds the request for a peer in the listener's SYN queue. */
struct tcp_request_sock *tcp_find_req(struct sock *lsk, const struct tcp_addrs *a, uint16_t rport)
{
	uint16_t lport = inet_sk(lsk)->inet_sport;
	struct tcp_request_sock *req;
	unsigned int h = tcp_ehashfn(lsk->ns, a->daddr, lport, a->saddr, rport);

	LIST_FOREACH(req, &lsk->ns->tcp->rhash[h], hash_link)
	{
		if (req->rmt_addr != a->saddr || req->rmt_port != rport ||
		    req->loc_addr != a->daddr || req->loc_port != lport || req->v6 != a->v6 ||
		    req->listener != lsk)
			continue;
		if (!a->v6 || (ipv6_addr_equal(&req->rmt6, &a->saddr6) &&
			       ipv6_addr_equal(&req->loc6, &a->daddr6)))
			return req;
	}
	return NULL;
}

/* Removes a request from its SYN queue and frees it. */
void tcp_reqsk_free(struct tcp_request_sock *req)
{
	struct sock *lsk = req->listener;

	del_timer(lsk->ns, &req->timer);
	LIST_REMOVE(req, link);
	LIST_REMOVE(req, hash_link);
	tcp_sk(lsk)->syn_qlen--;
	ns_free(lsk->ns, req);
}

/* SYN-ACK retransmission (RFC 6298 timings from 1 s; tcp_synack_retries). */
static void tcp_reqsk_timer(struct timer_list *t)
{
	struct tcp_request_sock *req = container_of(t, struct tcp_request_sock, timer);
	struct sock *lsk = req->listener;
	const struct tcp_config *c = &lsk->ns->cfg.tcp;
	uint64_t tmo;

	if (req->num_retrans >= c->synack_retries) {
		tcp_reqsk_free(req);
		return;
	}
	req->num_retrans++;
	tcp_send_synack(lsk, req, false, NULL);
	NS_INC_STATS(lsk->ns, TcpRetransSegs);
	tmo = (uint64_t)TCP_TIMEOUT_INIT_US << req->num_retrans;
	if (tmo > c->rto_max_us)
		tmo = c->rto_max_us;
	mod_timer(lsk->ns, &req->timer, ns_now(lsk->ns) + tmo);
}

static void tcp_req_fill(struct sock *sk, struct sk_buff *skb, struct tcp_request_sock *req,
			 const struct tcp_options_received *o)
{
	const struct tcphdr *th = (const struct tcphdr *)skb_transport_header(skb);
	const struct tcp_config *c = &sk->ns->cfg.tcp;
	struct tcp_addrs a;

	tcp_skb_addrs(skb, &a);
	req->listener = sk;
	req->v6 = a.v6;
	req->rmt_addr = a.saddr;
	req->loc_addr = a.daddr;
	if (a.v6) {
		req->rmt6 = a.saddr6;
		req->loc6 = a.daddr6;
	}
	req->rmt_port = th->source;
	req->loc_port = th->dest;
	req->rcv_isn = TCP_SKB_CB(skb)->seq;
	req->mss = o->mss_clamp ? o->mss_clamp : TCP_MSS_DEFAULT;
	req->wscale_ok = o->wscale_ok && c->window_scaling;
	req->snd_wscale = req->wscale_ok ? o->snd_wscale : 0;
	req->sack_ok = o->sack_ok && c->sack;
	req->tstamp_ok = o->saw_tstamp && c->timestamps;
	/* RFC 3168 6.1.1: a SYN with ECE and CWR, itself not ECN-capable, and tcp_ecn on. */
	req->ecn_ok = (TCP_SKB_CB(skb)->tcp_flags & (TH_ECE | TH_CWR)) == (TH_ECE | TH_CWR) &&
		      c->ecn && !(a.dsfield & INET_ECN_MASK);
	req->ts_recent = req->tstamp_ok ? o->rcv_tsval : 0;
	req->first_sent = ns_now(sk->ns);
}

static struct sock *tcp_create_openreq_child(struct sock *lsk, struct tcp_request_sock *req,
					     bool cookie, bool fastopen);

/*
 * The full socket of a Fast Open SYN (tcp_fastopen_create_child): in
 * SYN-RECEIVED, already in the accept queue, holding the SYN's data for
 * the program to read and our SYN-ACK for the retransmission timer; it
 * may send before the client's ACK arrives.
 */
static struct sock *tcp_fastopen_create_child(struct sock *sk, struct sk_buff *skb,
					      struct tcp_request_sock *req, unsigned int datalen)
{
	const struct tcphdr *th = (const struct tcphdr *)skb_transport_header(skb);
	struct nstack *ns = sk->ns;
	struct sk_buff *data = NULL;
	struct tcp_sock *tp;
	struct sock *child;
	uint32_t rcv_wnd;

	if (datalen && !(data = alloc_skb(ns, datalen)))
		return NULL;
	tcp_synack_window(sk, req, &rcv_wnd);
	child = tcp_create_openreq_child(sk, req, false, true);
	if (!child) {
		kfree_skb(data);
		return NULL;
	}
	tp = tcp_sk(child);
	tp->fastopen_child = true;
	/* RFC 7323: the window of a SYN is never scaled. */
	tp->snd_wnd = ntohs(th->window);
	tp->max_window = tp->snd_wnd;
	/*
	 * As Linux's child, it starts after its SYN-ACK (snd_una = ISS + 1),
	 * so neither Nagle nor the congestion window count the SYN-ACK; the
	 * retransmission timer resends it until the client's ACK.
	 */
	tcp_init_transfer(child);
	tcp_reset_xmit_timer(child, ICSK_TIME_RETRANS, ns_now(ns) + TCP_TIMEOUT_INIT_US);
	if (data) {
		memcpy(skb_put(data, datalen), (const uint8_t *)th + TCP_DOFF(th) * 4u, datalen);
		TCP_SKB_CB(data)->seq = tp->rcv_nxt;
		TCP_SKB_CB(data)->end_seq = tp->rcv_nxt + datalen;
		skb_set_owner_r(data, child);
		skb_queue_tail(&child->sk_receive_queue, data);
		tp->rcv_nxt += datalen;
		tp->rcv_wup = tp->rcv_nxt;
		tp->syn_data_acked = true; /* TCPI_OPT_SYN_DATA on the server side too */
	}
	return child;
}

/*
 * A SYN asking for or offering a Fast Open cookie, or carrying data
 * (Linux's tcp_try_fastopen). A valid cookie (or none needed) creates the
 * child at once and foc becomes "no option"; otherwise foc becomes the
 * cookie to offer in the SYN-ACK (or none) and NULL is returned.
 */
static struct sock *tcp_try_fastopen(struct sock *sk, struct sk_buff *skb,
				     struct tcp_request_sock *req, struct tcp_fastopen_cookie *foc)
{
	const struct tcp_skb_cb *cb = TCP_SKB_CB(skb);
	struct tcp_fastopen_cookie valid = {.len = -1};
	struct tcp_addrs a;
	int tfo = sk->ns->cfg.tcp.fastopen;
	unsigned int datalen = cb->end_seq - cb->seq - 1 - !!(cb->tcp_flags & TH_FIN);
	struct sock *child;

	if (foc->len == 0)
		NS_INC_STATS(sk->ns, TcpExtTCPFastOpenCookieReqd);
	if (!((tfo & TFO_SERVER_ENABLE) && (datalen || foc->len >= 0) &&
	      tcp_fastopen_queue_check(sk))) {
		foc->len = -1;
		return NULL;
	}
	if (!(tfo & TFO_SERVER_COOKIE_NOT_REQD) && !tcp_sk(sk)->fastopen_no_cookie) {
		if (foc->len < 0)
			goto no_child;
		/* IPv6: the folded addresses (Linux hashes all 32 bytes). */
		tcp_skb_addrs(skb, &a);
		tcp_fastopen_cookie_gen(sk, a.saddr, a.daddr, &valid);
		if (foc->len == 0)
			goto no_child; /* a request: offer it */
		if (foc->len != valid.len || memcmp(foc->val, valid.val, (size_t)valid.len)) {
			NS_INC_STATS(sk->ns, TcpExtTCPFastOpenPassiveFail);
			goto no_child;
		}
	}
	/* Data in a FIN-carrying SYN stays unread: the FIN is left to a retransmission. */
	if (cb->tcp_flags & TH_FIN)
		datalen = 0;
	req->syn_data_len = datalen;
	child = tcp_fastopen_create_child(sk, skb, req, datalen);
	if (child) {
		foc->len = -1;
		NS_INC_STATS(sk->ns, TcpExtTCPFastOpenPassive);
		return child;
	}
	req->syn_data_len = 0;
	NS_INC_STATS(sk->ns, TcpExtTCPFastOpenPassiveFail);
no_child:
	valid.exp = foc->exp;
	*foc = valid;
	return NULL;
}

/*
 * Under a SYN flood (the SYN queue full), a SYN that waited this long
 * between the link and us is dropped unanswered (us).
 *
 * Linux answers a flood in the softirq of the CPU the frames arrive on, with
 * at most netdev_max_backlog (1000) frames waiting per CPU: no SYN waits
 * more than a few milliseconds, and the flood's sender pays for its own
 * frames. Ours wait in the capture ring (16 000 frames at MTU 1500 without
 * receive offload), which a flood fills: every SYN, a real client's too,
 * was answered only after the ring's 20-370 ms of backlog (hping3 --flood
 * on nginx). Dropping costs a fraction of answering (the SYN-ACK's send,
 * with the peer's handling of it, was 85% of a flooded stack thread), so
 * the backlog drains to this age and stays there: fetches during the flood
 * took 2-20 ms to connect, and 36 of 39 succeeded instead of 15 of 18.
 */
#define TCP_SYN_STALE_US 20000

/* A SYN for a listener (tcp_conn_request): queue a request or answer with a cookie. */
int tcp_v4_conn_request(struct sock *sk, struct sk_buff *skb)
{
	struct nstack *ns = sk->ns;
	struct tcp_sock *lp = tcp_sk(sk);
	const struct tcphdr *th = (const struct tcphdr *)skb_transport_header(skb);
	const struct tcp_config *c = &ns->cfg.tcp;
	struct tcp_options_received o;
	struct tcp_request_sock *req, tmp;
	bool want_cookie = c->syncookies == 2;

	if (tcp_acceptq_is_full(sk)) {
		/* The accept queue is full: drop the SYN (Linux). */
		NS_INC_STATS(ns, TcpExtListenOverflows);
		NS_INC_STATS(ns, TcpExtListenDrops);
		return 0;
	}
	if (lp->syn_qlen >= (sk->sk_max_ack_backlog > 0 ? sk->sk_max_ack_backlog : 1)) {
		if (!c->syncookies) {
			NS_INC_STATS(ns, TcpExtListenDrops);
			return 0;
		}
		if (ns_now(ns) - skb->tstamp_us > TCP_SYN_STALE_US) {
			NS_INC_STATS(ns, TcpSynStaleDrops);
			NS_INC_STATS(ns, TcpExtListenDrops);
			return 0;
		}
		want_cookie = true;
	}
	/*
	 * Without cookies, keep the last quarter of tcp_max_syn_backlog for
	 * peers already proven (Linux; we know none, so that quarter stays free).
	 */
	if (!c->syncookies && c->max_syn_backlog - lp->syn_qlen < (c->max_syn_backlog >> 2)) {
		NS_INC_STATS(ns, TcpExtListenDrops);
		return 0;
	}
	memset(&o, 0, sizeof(o));
	tcp_parse_options(skb, th, &o, true);

	if (want_cookie) {
		uint16_t mss;

		memset(&tmp, 0, sizeof(tmp));
		tcp_req_fill(sk, skb, &tmp, &o);
		tmp.snt_isn = tcp_cookie_make(ns, tmp.rmt_addr, tmp.loc_addr, tmp.rmt_port,
					      tmp.loc_port, tmp.rcv_isn, tmp.mss, &mss);
		if (tmp.tstamp_ok) {
			/* Window scale and SACK ride in the low bits of our timestamp. */
			uint32_t now = tcp_ts_now(ns), ts, opts;

			opts = tmp.wscale_ok ? tmp.snd_wscale : TS_OPT_WSCALE_MASK;
			if (tmp.sack_ok)
				opts |= TS_OPT_SACK;
			ts = (now & ~TSMASK) | opts;
			if (after(ts, now))
				ts -= 1u << TSBITS;
			tmp.ts_off = ts;
		} else {
			tmp.wscale_ok = false;
			tmp.sack_ok = false;
		}
		tmp.ecn_ok = false; /* the cookie cannot remember it */
		NS_INC_STATS(ns, TcpExtSyncookiesSent);
		tcp_send_synack(sk, &tmp, true, NULL);
		return 0;
	}

	{
		struct tcp_fastopen_cookie foc = o.fo;
		struct sock *child;

		memset(&tmp, 0, sizeof(tmp));
		tcp_req_fill(sk, skb, &tmp, &o);
		tmp.snt_isn = tcp_v4_init_seq(ns);
		tmp.ts_off = ns_random32(ns);
		child = tcp_try_fastopen(sk, skb, &tmp, &foc);
		if (child) {
			tcp_send_synack(sk, &tmp, false, NULL);
			SK_CB(sk, sk_data_ready)(sk);
			return 0;
		}
		req = ns_zalloc(ns, sizeof(*req));
		if (!req)
			return 0;
		*req = tmp;
		timer_setup(&req->timer, tcp_reqsk_timer);
		LIST_INSERT_HEAD(&lp->syn_queue, req, link);
		LIST_INSERT_HEAD(&ns->tcp->rhash[tcp_ehashfn(ns, req->loc_addr, req->loc_port,
							     req->rmt_addr, req->rmt_port)],
				 req, hash_link);
		lp->syn_qlen++;
		tcp_send_synack(sk, req, false, &foc);
	}
	mod_timer(ns, &req->timer, ns_now(ns) + TCP_TIMEOUT_INIT_US);
	return 0;
}

/* Builds the full socket for a completed handshake (tcp_create_openreq_child). */
static struct sock *tcp_create_openreq_child(struct sock *lsk, struct tcp_request_sock *req,
					     bool cookie, bool fastopen)
{
	struct nstack *ns = lsk->ns;
	struct tcp_sock *lp = tcp_sk(lsk), *tp;
	struct sock *sk;
	uint32_t rcv_wnd;

	/* An AF_INET6 listener's children are AF_INET6 (v4-mapped) sockets too. */
	sk = sk_alloc(ns, lsk->sk_family, sk_prot(lsk));
	if (!sk)
		return NULL;
	inet_sk(sk)->v6 = inet_sk(lsk)->v6;
	sock_init_data(NULL, sk);
	sk->sk_type = SOCK_STREAM;
	sk->sk_protocol = IPPROTO_TCP;
	tcp_init_sock(sk);
	tp = tcp_sk(sk);

	/* Inherit what the listener's user set. */
	sk->sk_reuse = lsk->sk_reuse;
	sk->sk_flags = lsk->sk_flags & ~(1ul << SOCK_DEAD | 1ul << SOCK_DONE);
	sk->sk_lingertime = lsk->sk_lingertime;
	sk->sk_userlocks_rcv = lsk->sk_userlocks_rcv;
	sk->sk_userlocks_snd = lsk->sk_userlocks_snd;
	if (lsk->sk_userlocks_rcv)
		sk->sk_rcvbuf = lsk->sk_rcvbuf;
	if (lsk->sk_userlocks_snd)
		sk->sk_sndbuf = lsk->sk_sndbuf;
	sk->sk_rcvtimeo = lsk->sk_rcvtimeo;
	sk->sk_sndtimeo = lsk->sk_sndtimeo;
	sk->sk_priority = lsk->sk_priority;
	sk->sk_mark = lsk->sk_mark;
	inet_sk(sk)->tos = inet_sk(lsk)->tos;
	inet_sk(sk)->uc_ttl = inet_sk(lsk)->uc_ttl;
	tp->nonagle = lp->nonagle;
	tp->keepalive_time_s = lp->keepalive_time_s;
	tp->keepalive_intvl_s = lp->keepalive_intvl_s;
	tp->keepalive_probes = lp->keepalive_probes;
	tp->linger2_s = lp->linger2_s;
	tp->user_timeout_ms = lp->user_timeout_ms;
	tp->user_mss = lp->user_mss;
	tp->window_clamp = lp->window_clamp;
	if (lp->user_ca) {
		tp->ca_ops_ref = lp->ca_ops_ref;
		tp->user_ca = true;
	}

	if (req->v6) {
		sk->sk_ipv6 = true;
		sk->sk_v6_rcv_saddr = req->loc6;
		sk->sk_v6_daddr = req->rmt6;
	} else {
		sk->sk_rcv_saddr = req->loc_addr;
		inet_sk(sk)->inet_saddr = req->loc_addr;
		sk->sk_daddr = req->rmt_addr;
	}
	sk->sk_dport = req->rmt_port;
	tcp_inherit_port(sk, lsk->sk_num);

	tp->iss = req->snt_isn;
	tp->snd_una = tp->snd_nxt = tp->write_seq = tp->snd_sml = req->snt_isn + 1;
	tp->pushed_seq = tp->write_seq;
	tp->irs = req->rcv_isn;
	tp->rcv_nxt = tp->rcv_wup = tp->copied_seq = req->rcv_isn + 1;
	tp->snd_wl1 = req->rcv_isn;
	tp->wscale_ok = req->wscale_ok;
	tp->snd_wscale = req->snd_wscale;
	tp->sack_ok = req->sack_ok;
	tp->tstamp_ok = req->tstamp_ok;
	tp->ecn_flags = req->ecn_ok ? TCP_ECN_OK : 0;
	tp->ts_recent = req->ts_recent;
	tp->ts_recent_stamp = ns_now(ns);
	tp->tsoffset = cookie ? 0 : req->ts_off;
	tp->mss_clamp = req->mss;
	if (req->v6)
		tp->pmtu = ip6_dst_mtu(ns, &req->rmt6);
	else
		tp->pmtu = lp->pmtu ? lp->pmtu : (ns_dev(ns) ? ns_dev(ns)->mtu : 1500);
	tp->advmss = tcp_mss_for_mtu(tp->pmtu, tcp_net_hdr_len(sk));
	if (tp->user_mss && tp->advmss > tp->user_mss)
		tp->advmss = tp->user_mss;
	tcp_sync_mss(sk, 0);
	tcp_select_initial_window(ns, (sk->sk_rcvbuf - (sk->sk_rcvbuf >> 1)),
				  tp->advmss - (tp->tstamp_ok ? TCPOLEN_TSTAMP_ALIGNED : 0),
				  &rcv_wnd, &tp->window_clamp, tp->wscale_ok, &tp->rcv_wscale);
	tp->rcv_wscale = tp->wscale_ok ? req->rcv_wscale : 0;
	tp->rcv_wnd = rcv_wnd;
	tp->rcv_ssthresh = rcv_wnd;
	tp->rcv_mss = (uint16_t)(tp->advmss < TCP_MSS_DEFAULT ? tp->advmss : TCP_MSS_DEFAULT);
	if (!req->num_retrans && !cookie && !fastopen) {
		tcp_rtt_estimator(sk, (int64_t)(ns_now(ns) - req->first_sent));
		tcp_set_rto(sk);
	}
	tcp_set_state(sk, TCP_SYN_RECV);
	tcp_ehash_insert(sk);
	tp->parent = lsk;
	TAILQ_INSERT_TAIL(&lp->accept_queue, tp, accept_link);
	lsk->sk_ack_backlog++;
	NS_INC_STATS(ns, TcpPassiveOpens);
	return sk;
}

/*
 * A segment for a request in the SYN queue (tcp_check_req, RFC 9293
 * 3.10.7.4 in SYN-RECEIVED). Returns the new child when the ACK completes
 * the handshake, NULL otherwise.
 */
struct sock *tcp_check_req(struct sock *sk, struct sk_buff *skb, struct tcp_request_sock *req)
{
	struct nstack *ns = sk->ns;
	const struct tcp_skb_cb *cb = TCP_SKB_CB(skb);
	const struct tcphdr *th = (const struct tcphdr *)skb->data;
	struct tcp_options_received o;
	uint8_t flags = cb->tcp_flags;
	struct sock *child;

	memset(&o, 0, sizeof(o));
	tcp_parse_options(skb, th, &o, false);
	if (cb->seq == req->rcv_isn && (flags & TH_SYN) && !(flags & TH_RST)) {
		/* The peer retransmitted its SYN: so do we. */
		tcp_send_synack(sk, req, false, NULL);
		return NULL;
	}
	if ((flags & TH_ACK) && cb->ack_seq != req->snt_isn + 1) {
		tcp_send_reset_reply(ns, skb);
		return NULL;
	}
	if (flags & TH_RST) {
		if (cb->seq == req->rcv_isn + 1)
			tcp_reqsk_free(req);
		return NULL;
	}
	if (flags & TH_SYN) {
		tcp_send_reset_reply(ns, skb);
		tcp_reqsk_free(req);
		return NULL;
	}
	if (!(flags & TH_ACK))
		return NULL;
	if (cb->seq != req->rcv_isn + 1 && !after(cb->seq, req->rcv_isn + 1)) {
		struct tcp_addrs a;

		tcp_req_addrs(req, &a);
		tcp_send_ack_reply(ns, &a, req->loc_port, req->rmt_port, req->snt_isn + 1,
				   req->rcv_isn + 1, 0, tcp_ts_now(ns) + req->ts_off,
				   req->ts_recent, req->tstamp_ok, 0);
		return NULL;
	}
	if (tcp_sk(sk)->defer_accept_s && cb->end_seq == req->rcv_isn + 1 &&
	    req->num_retrans < tcp_sk(sk)->defer_accept_s)
		return NULL;
	if (tcp_acceptq_is_full(sk)) {
		NS_INC_STATS(ns, TcpExtListenOverflows);
		NS_INC_STATS(ns, TcpExtListenDrops);
		return NULL;
	}
	child = tcp_create_openreq_child(sk, req, false, false);
	tcp_reqsk_free(req);
	return child;
}

/* An ACK that may carry a SYN cookie (cookie_v4_check). */
struct sock *tcp_cookie_check(struct sock *sk, struct sk_buff *skb)
{
	struct nstack *ns = sk->ns;
	const struct tcphdr *th = (const struct tcphdr *)skb->data;
	const struct tcp_skb_cb *cb = TCP_SKB_CB(skb);
	struct tcp_options_received o;
	struct tcp_request_sock req;
	struct tcp_addrs a;
	int mssind;

	if (!ns->cfg.tcp.syncookies || (cb->tcp_flags & (TH_RST | TH_SYN)))
		return NULL;
	tcp_skb_addrs(skb, &a);
	mssind = tcp_cookie_decode(ns, cb->ack_seq - 1, a.saddr, a.daddr, th->source, th->dest,
				   cb->seq - 1);
	if (mssind < 0) {
		NS_INC_STATS(ns, TcpExtSyncookiesFailed);
		return NULL;
	}
	if (tcp_acceptq_is_full(sk)) {
		NS_INC_STATS(ns, TcpExtListenOverflows);
		return NULL;
	}
	NS_INC_STATS(ns, TcpExtSyncookiesRecv);
	memset(&o, 0, sizeof(o));
	tcp_parse_options(skb, th, &o, false);
	memset(&req, 0, sizeof(req));
	req.listener = sk;
	req.v6 = a.v6;
	req.rmt_addr = a.saddr;
	req.loc_addr = a.daddr;
	req.rmt6 = a.saddr6;
	req.loc6 = a.daddr6;
	req.rmt_port = th->source;
	req.loc_port = th->dest;
	req.rcv_isn = cb->seq - 1;
	req.snt_isn = cb->ack_seq - 1;
	req.mss = tcp_cookie_msstab[mssind];
	if (o.saw_tstamp && o.rcv_tsecr && ns->cfg.tcp.timestamps) {
		uint32_t opts = o.rcv_tsecr & TSMASK;

		req.tstamp_ok = true;
		req.ts_recent = o.rcv_tsval;
		req.wscale_ok = (opts & TS_OPT_WSCALE_MASK) != TS_OPT_WSCALE_MASK;
		req.snd_wscale = (uint8_t)(opts & TS_OPT_WSCALE_MASK);
		req.sack_ok = (opts & TS_OPT_SACK) != 0;
		if (req.wscale_ok) {
			uint32_t wnd, clamp = tcp_sk(sk)->window_clamp;

			tcp_select_initial_window(ns, sk->sk_rcvbuf - (sk->sk_rcvbuf >> 1), req.mss,
						  &wnd, &clamp, true, &req.rcv_wscale);
		}
	}
	return tcp_create_openreq_child(sk, &req, true, false);
}

/* Drops the SYN queue and resets children nobody accepted (inet_csk_listen_stop). */
void tcp_listen_purge(struct sock *sk)
{
	struct tcp_sock *lp = tcp_sk(sk), *child;
	struct tcp_request_sock *req;

	while ((req = LIST_FIRST(&lp->syn_queue)))
		tcp_reqsk_free(req);
	while ((child = TAILQ_FIRST(&lp->accept_queue))) {
		struct sock *csk = tp_sk(child);

		TAILQ_REMOVE(&lp->accept_queue, child, accept_link);
		sk->sk_ack_backlog--;
		child->parent = NULL;
		sock_set_flag(csk, SOCK_DEAD);
		if ((1u << csk->sk_state) & (TCPF_ESTABLISHED | TCPF_CLOSE_WAIT | TCPF_SYN_RECV))
			tcp_send_active_reset(csk);
		tcp_done(csk);
		sock_put(csk); /* the reference accept() would have taken over */
	}
}

/*
 * TIME_WAIT sockets the stack holds at most: tcp_max_tw_buckets, and no
 * more than an eighth of the arena. Here a TIME_WAIT connection keeps its
 * whole socket (Linux keeps a small timewait sock): a server closing first
 * at 15 000 connections a second would otherwise hold 900 000 of them,
 * past the arena's size.
 */
static unsigned int tcp_tw_limit(const struct nstack *ns)
{
	uint64_t cap = ns->arena->size / 8 / sizeof(struct tcp_sock);
	int v = ns->cfg.tcp.max_tw_buckets;
	uint64_t lim = v > 0 ? (uint64_t)v : 0;

	return (unsigned int)(lim < cap ? lim : cap);
}

/* Moves a connection to TIME_WAIT for 2*MSL (tcp_time_wait). */
void tcp_time_wait(struct sock *sk, int state, uint64_t timeo_us)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct sk_buff *skb;

	if (state == TCP_TIME_WAIT && sk->ns->tcp->tw_count >= tcp_tw_limit(sk->ns)) {
		/* Linux: "time wait bucket table overflow"; the connection just ends. */
		if (!sk->ns->mib.TcpExtTCPTimeWaitOverflow)
			ns_warn(sk->ns,
				"TIME_WAIT table full (%u, tcp_max_tw_buckets): closing without it",
				sk->ns->tcp->tw_count);
		NS_INC_STATS(sk->ns, TcpExtTCPTimeWaitOverflow);
		tcp_done(sk);
		return;
	}
	tcp_set_state(sk, state);
	tcp_clear_retrans_timer(sk);
	del_timer(sk->ns, &tp->delack_timer);
	tp->ack_pending = false;
	while ((skb = skb_dequeue(&sk->sk_write_queue)))
		tcp_free_skb(sk, skb);
	tp->send_head = NULL;
	tp->packets_out = tp->sacked_out = tp->lost_out = tp->retrans_out = 0;
	skb_queue_purge(&tp->out_of_order_queue);
	if (!timeo_us)
		timeo_us = TCP_TIMEWAIT_LEN_US(sk->ns);
	tcp_reset_keepalive_timer(sk, timeo_us);
	NS_INC_STATS(sk->ns, TcpExtTW);
}

/*
 * A segment for a TIME_WAIT connection (tcp_timewait_state_process).
 * Returns 0 when handled, -1 when it deserves a reset, 1 when a new SYN
 * may reuse the pair (the TIME_WAIT socket is then gone).
 */
int tcp_timewait_state_process(struct sock *sk, struct sk_buff *skb)
{
	struct tcp_sock *tp = tcp_sk(sk);
	const struct tcphdr *th = (const struct tcphdr *)skb->data;
	const struct tcp_skb_cb *cb = TCP_SKB_CB(skb);
	struct tcp_options_received o;
	uint8_t flags = cb->tcp_flags;

	memset(&o, 0, sizeof(o));
	tcp_parse_options(skb, th, &o, false);
	if (flags & TH_RST) {
		/* Linux without tcp_rfc1337: a reset ends TIME_WAIT early. */
		if (cb->seq == tp->rcv_nxt)
			tcp_done(sk);
		return 0;
	}
	if ((flags & TH_SYN) && !(flags & TH_ACK) &&
	    (after(cb->seq, tp->rcv_nxt) ||
	     (tp->tstamp_ok && o.saw_tstamp && (int32_t)(o.rcv_tsval - tp->ts_recent) > 0))) {
		/* RFC 6191: a new incarnation may take over the pair. */
		tcp_done(sk);
		return 1;
	}
	if (tp->tstamp_ok && o.saw_tstamp && (int32_t)(o.rcv_tsval - tp->ts_recent) < 0) {
		tcp_send_ack(sk);
		return 0;
	}
	if (flags & TH_FIN) {
		/* A retransmitted FIN: ACK it and restart the 2 MSL timer (RFC 9293 3.10.7.4). */
		tcp_send_ack(sk);
		tcp_reset_keepalive_timer(sk, TCP_TIMEWAIT_LEN_US(sk->ns));
		return 0;
	}
	if (!(flags & TH_ACK))
		return 0;
	if (cb->end_seq != cb->seq || cb->seq != tp->rcv_nxt)
		tcp_send_ack(sk);
	return 0;
}

/*
 * Whether a connect() may take over the pair of TIME_WAIT socket tw
 * (Linux's tcp_twsk_unique with tcp_tw_reuse: 1 always, 2 for loopback).
 */
bool tcp_twsk_unique(struct sock *sk, struct sock *tw)
{
	struct tcp_sock *ttp = tcp_sk(tw), *tp = tcp_sk(sk);
	int reuse = sk->ns->cfg.tcp.tw_reuse;
	bool loopback = inet_addr_is_local(sk->ns, sk->sk_daddr);

	if (!ttp->ts_recent_stamp || !(reuse == 1 || (reuse == 2 && loopback)))
		return false;
	if (ns_now(sk->ns) - ttp->ts_recent_stamp <= 1000000u)
		return false;
	tp->write_seq = ttp->snd_nxt + 65535 + 2;
	if (!tp->write_seq)
		tp->write_seq = 1;
	sock_hold(tw);
	tcp_done(tw);
	sock_put(tw);
	return true;
}
