/*
 * TCP output: building segments with options in Linux's order, the send
 * path (cwnd, receive window, Nagle, SWS avoidance), retransmission, SYN,
 * SYN-ACK, FIN, ACK, RST and window probes.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <string.h>
#include <linux/errqueue.h>

#include "checksum.h"
#include "icmpv6.h"
#include "ip.h"
#include "ipv6.h"
#include "netdevice.h"
#include "stack.h"
#include "tcp.h"

/* Largest MSS for an MTU: IP and TCP headers without options (RFC 9293 3.7.1). */
uint16_t tcp_mss_for_mtu(unsigned int mtu, unsigned int nhlen)
{
	unsigned int hdrs = nhlen + TCP_HLEN_MIN;

	if (mtu < hdrs + TCP_MIN_MSS)
		return TCP_MIN_MSS;
	return (uint16_t)(mtu > 65535 ? 65535 - hdrs : mtu - hdrs);
}

/* Recomputes mss_cache (data bytes per segment) for a path MTU, as tcp_sync_mss(). */
void tcp_sync_mss(struct sock *sk, unsigned int pmtu)
{
	struct tcp_sock *tp = tcp_sk(sk);
	unsigned int mss;

	if (pmtu)
		tp->pmtu = pmtu;
	mss = tcp_mss_for_mtu(tp->pmtu ? tp->pmtu : 1500, tcp_net_hdr_len(sk));
	if (tp->mss_clamp && mss > tp->mss_clamp)
		mss = tp->mss_clamp;
	if (tp->user_mss && mss > tp->user_mss)
		mss = tp->user_mss;
	if (tp->tstamp_ok)
		mss -= TCPOLEN_TSTAMP_ALIGNED;
	if (mss < TCP_MIN_MSS - TCPOLEN_TSTAMP_ALIGNED)
		mss = TCP_MIN_MSS - TCPOLEN_TSTAMP_ALIGNED;
	tp->mss_cache = (uint16_t)mss;
}

/* The MSS for the next segment: SACK blocks we must report take room too. */
unsigned int tcp_current_mss(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	unsigned int mss = tp->mss_cache;

	int n = tp->num_sacks + tp->dsack;

	if (n > (tp->tstamp_ok ? 3 : TCP_MAX_SACKS))
		n = tp->tstamp_ok ? 3 : TCP_MAX_SACKS;
	if (n)
		mss -= TCPOLEN_SACK_BASE + 2 + n * TCPOLEN_SACK_PERBLOCK;
	return mss;
}

/* Bytes of option space, padded to 32 bits. */
unsigned int tcp_options_size(const struct tcp_out_options *o)
{
	unsigned int n = 0;

	if (o->options & OPTION_MSS)
		n += TCPOLEN_MSS;
	if (o->options & OPTION_TS)
		n += TCPOLEN_TSTAMP_ALIGNED;
	else if (o->options & OPTION_SACK_PERM)
		n += 4;
	if (o->options & OPTION_WSCALE)
		n += 4;
	if ((o->options & OPTION_SACK) && o->num_sacks)
		n += 4 + o->num_sacks * TCPOLEN_SACK_PERBLOCK;
	if (o->options & OPTION_FAST_OPEN)
		n += ((o->fo->exp ? TCPOLEN_EXP_FASTOPEN_BASE : TCPOLEN_FASTOPEN_BASE) +
		      (unsigned int)o->fo->len + 3) &
		     ~3u;
	return n;
}

static unsigned char *put32(unsigned char *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
	return p + 4;
}

/*
 * Writes options as Linux's tcp_options_write(): MSS; SACK-permitted packed
 * in front of the timestamps ("04 02 08 0a") or NOP NOP before them; NOP WS;
 * NOP NOP SACK blocks.
 */
static void tcp_options_write(unsigned char *p, const struct tcp_out_options *o)
{
	int i;

	if (o->options & OPTION_MSS) {
		*p++ = TCPOPT_MSS;
		*p++ = TCPOLEN_MSS;
		*p++ = (unsigned char)(o->mss >> 8);
		*p++ = (unsigned char)o->mss;
	}
	if (o->options & OPTION_TS) {
		if (o->options & OPTION_SACK_PERM) {
			*p++ = TCPOPT_SACK_PERM;
			*p++ = TCPOLEN_SACK_PERM;
		} else {
			*p++ = TCPOPT_NOP;
			*p++ = TCPOPT_NOP;
		}
		*p++ = TCPOPT_TIMESTAMP;
		*p++ = TCPOLEN_TIMESTAMP;
		p = put32(p, o->tsval);
		p = put32(p, o->tsecr);
	} else if (o->options & OPTION_SACK_PERM) {
		*p++ = TCPOPT_NOP;
		*p++ = TCPOPT_NOP;
		*p++ = TCPOPT_SACK_PERM;
		*p++ = TCPOLEN_SACK_PERM;
	}
	if (o->options & OPTION_WSCALE) {
		*p++ = TCPOPT_NOP;
		*p++ = TCPOPT_WINDOW;
		*p++ = TCPOLEN_WINDOW;
		*p++ = o->ws;
	}
	if ((o->options & OPTION_SACK) && o->num_sacks) {
		*p++ = TCPOPT_NOP;
		*p++ = TCPOPT_NOP;
		*p++ = TCPOPT_SACK;
		*p++ = (unsigned char)(TCPOLEN_SACK_BASE + o->num_sacks * TCPOLEN_SACK_PERBLOCK);
		for (i = 0; i < o->num_sacks; i++) {
			p = put32(p, o->sacks[i].start_seq);
			p = put32(p, o->sacks[i].end_seq);
		}
	}
	if (o->options & OPTION_FAST_OPEN) {
		/* Last, NOP-padded to 32 bits: "FO cookie,nop,nop" as Linux writes it. */
		unsigned int len, n = (unsigned int)o->fo->len;

		if (o->fo->exp) {
			len = TCPOLEN_EXP_FASTOPEN_BASE + n;
			*p++ = TCPOPT_EXP;
			*p++ = (unsigned char)len;
			*p++ = TCPOPT_FASTOPEN_MAGIC >> 8;
			*p++ = TCPOPT_FASTOPEN_MAGIC & 0xff;
		} else {
			len = TCPOLEN_FASTOPEN_BASE + n;
			*p++ = TCPOPT_FASTOPEN;
			*p++ = (unsigned char)len;
		}
		memcpy(p, o->fo->val, n);
		p += n;
		if ((len & 3) == 2) {
			*p++ = TCPOPT_NOP;
			*p++ = TCPOPT_NOP;
		}
	}
}

/* Pushes a header in front of the payload, checksums it and sends it; see tcp.h. */
int tcp_transmit_raw(struct nstack *ns, struct sk_buff *skb, const struct tcp_addrs *a,
		     uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
		     uint16_t window, const struct tcp_out_options *o, const struct ip_tx_params *p)
{
	unsigned int optlen = tcp_options_size(o);
	unsigned int hlen = TCP_HLEN_MIN + optlen;
	struct tcphdr *th;

	if (skb_headroom(skb) < hlen + (a->v6 ? IPV6_HLEN : IP_HLEN_MIN) + ETH_HLEN) {
		kfree_skb(skb);
		return -ENOBUFS;
	}
	th = (struct tcphdr *)skb_push(skb, hlen);
	skb_reset_transport_header(skb);
	th->source = sport;
	th->dest = dport;
	th->seq = htonl(seq);
	th->ack_seq = htonl(ack);
	th->doff_res = (uint8_t)((hlen / 4) << 4);
	th->flags = flags;
	th->window = htons(window);
	th->check = 0;
	th->urg_ptr = (flags & TH_URG) ? htons(o->urg_ptr) : 0;
	tcp_options_write((unsigned char *)(th + 1), o);
	NS_INC_STATS(ns, TcpOutSegs);
	/*
	 * The pseudo-header sum only: the device layer finishes the checksum
	 * of a segment that leaves alone, and one that leaves in a super-frame
	 * is checksummed by the kernel's segmentation, so summing every
	 * payload here (a third of a bulk sender's stack thread) was wasted.
	 */
	skb->ip_summed = CHECKSUM_PARTIAL;
	if (a->v6) {
		th->check = csum_ipv6_partial(&a->saddr6, &a->daddr6, skb->len, IPPROTO_TCP);
		/* TCP sizes its segments to the path: never fragmented. */
		return ip6_output_tclass(ns, skb, &a->saddr6, &a->daddr6, IPPROTO_TCP, p->ttl,
					 p->tos);
	}
	th->check = csum_tcpudp_partial(a->saddr, a->daddr, skb->len, IPPROTO_TCP);
	return ip_build_and_send(ns, skb, a->saddr, a->daddr, IPPROTO_TCP, p);
}

/*
 * The window a receive buffer of space bytes (in truesize) holds, Linux
 * 6.x's tcp_win_from_space(): space times the payload/truesize ratio
 * measured on the connection's full-sized segments, half until one came.
 */
int tcp_win_from_space(const struct sock *sk, int space)
{
	if (space <= 0)
		return 0;
	return (int)(((int64_t)space * tcp_sk(sk)->scaling_ratio) >> TCP_RMEM_TO_WIN_SCALE);
}

/* The buffer (in truesize) a window of win bytes needs (tcp_space_from_win). */
int tcp_space_from_win(const struct sock *sk, int win)
{
	int64_t v = ((int64_t)win << TCP_RMEM_TO_WIN_SCALE) / tcp_sk(sk)->scaling_ratio;

	return v > INT32_MAX ? INT32_MAX : (int)v;
}

/* Free receive space, in window bytes. */
uint32_t tcp_space(const struct sock *sk)
{
	return (uint32_t)tcp_win_from_space(sk, sk->sk_rcvbuf - (int)sk->sk_rmem_alloc);
}

/* Linux's tcp_select_initial_window(): the SYN's window and our scale (RFC 7323 2.3). */
void tcp_select_initial_window(struct nstack *ns, int space, uint32_t mss, uint32_t *rcv_wnd,
			       uint32_t *clamp, bool wscale_ok, uint8_t *rcv_wscale)
{
	uint32_t sp;
	int ws = 0;

	if (*clamp == 0)
		*clamp = 65535u << TCP_MAX_WSCALE;
	sp = (uint32_t)(space < 0 ? 0 : space);
	if (sp > *clamp)
		sp = *clamp;
	if (sp > mss)
		sp = sp / mss * mss;
	*rcv_wnd = sp > 65535 ? 65535 : sp;
	*rcv_wscale = 0;
	if (wscale_ok) {
		uint32_t big = (uint32_t)ns->cfg.tcp.rmem[2];

		if (big < sp)
			big = sp;
		if (big < SK_RMEM_MAX)
			big = SK_RMEM_MAX;
		if (big > *clamp)
			big = *clamp;
		while (big >> (ws + 16))
			ws++;
		/* ilog2(space) - 15, clamped (Linux). */
		ws = ws > 0 ? ws : 0;
		{
			int lg = 31 - __builtin_clz(big | 1);

			ws = lg - 15;
			if (ws < 0)
				ws = 0;
			if (ws > TCP_MAX_WSCALE)
				ws = TCP_MAX_WSCALE;
		}
		*rcv_wscale = (uint8_t)ws;
	}
	if (*clamp > (65535u << *rcv_wscale))
		*clamp = 65535u << *rcv_wscale;
}

/* Grows rcv_ssthresh as in-order data arrives (Linux's tcp_grow_window). */
static uint32_t tcp_receive_window(const struct tcp_sock *tp)
{
	int32_t win = (int32_t)(tp->rcv_wup + tp->rcv_wnd - tp->rcv_nxt);

	return win < 0 ? 0 : (uint32_t)win;
}

/*
 * The window to advertise (Linux's __tcp_select_window with the receiver
 * side of silly-window avoidance, RFC 9293 3.8.6.2.2), never shrinking the
 * right edge already offered (RFC 7323 2.4).
 */
uint32_t tcp_select_window(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	uint32_t mss = tp->rcv_mss ? tp->rcv_mss : TCP_MSS_DEFAULT;
	uint32_t free_space = tcp_space(sk);
	uint32_t full_space = (uint32_t)tcp_win_from_space(sk, sk->sk_rcvbuf);
	uint32_t cur_win = tcp_receive_window(tp);
	uint32_t window;

	if (full_space > tp->window_clamp)
		full_space = tp->window_clamp;
	if (mss > full_space)
		mss = full_space ? full_space : 1;
	if (free_space < full_space / 2) {
		tp->quick = 0;
		/* Under memory pressure the window stays small (tcp_adjust_rcv_ssthresh). */
		if (sk_under_memory_pressure(sk) && tp->rcv_ssthresh > 4u * tp->advmss)
			tp->rcv_ssthresh = 4u * tp->advmss;
		if (free_space < mss) {
			window = 0;
			goto out;
		}
	}
	if (free_space > tp->rcv_ssthresh)
		free_space = tp->rcv_ssthresh;
	window = tp->rcv_wnd;
	if (tp->rcv_wscale) {
		window = free_space;
		if (((window >> tp->rcv_wscale) << tp->rcv_wscale) != window)
			window = ((window >> tp->rcv_wscale) + 1) << tp->rcv_wscale;
	} else if (window <= free_space - mss || window > free_space) {
		window = free_space / mss * mss;
	} else if (mss == full_space && free_space > window + (full_space >> 1)) {
		window = free_space;
	}
out:
	if (window < cur_win) {
		uint32_t a = 1u << tp->rcv_wscale;

		window = (cur_win + a - 1) & ~(a - 1);
	}
	if (window > (65535u << tp->rcv_wscale))
		window = 65535u << tp->rcv_wscale;
	tp->rcv_wnd = window;
	tp->rcv_wup = tp->rcv_nxt;
	return window >> tp->rcv_wscale;
}

/* Packets in flight: RFC 6675's "pipe". */
unsigned int tcp_packets_in_flight(const struct tcp_sock *tp)
{
	uint32_t left = tp->sacked_out + tp->lost_out;

	return tp->packets_out - (left > tp->packets_out ? tp->packets_out : left) +
	       tp->retrans_out;
}

/*
 * A buffer for outgoing stream data with room for every header below. Its
 * truesize is what Linux charges a send skb of its own once queued; a
 * segment that only continues one gives the head charge up.
 */
struct sk_buff *tcp_stream_alloc_skb(struct sock *sk, unsigned int size)
{
	struct sk_buff *skb = alloc_skb_hdr(sk->ns, size);

	if (!skb)
		return NULL;
	memset(skb->cb, 0, sizeof(skb->cb));
	TCP_SKB_CB(skb)->head_charged = true;
	skb->truesize = TCP_SKB_HEAD_TRUESIZE;
	return skb;
}

/* Frees a segment taken off the write queue, returning its space. */
void tcp_free_skb(struct sock *sk, struct sk_buff *skb)
{
	sk->sk_wmem_queued -= (int)skb->truesize;
	if (sk->sk_wmem_queued < 0)
		sk->sk_wmem_queued = 0;
	kfree_skb(skb);
}

/*
 * Adds bytes (fewer when negative) to a queued segment's charge. A segment
 * is charged its length; the one that begins a send skb also carries the
 * skb's head and what the skb's MSG_ZEROCOPY pages cost over their bytes,
 * which Linux keeps with the skb the pages first went into.
 */
void tcp_skb_charge(struct sock *sk, struct sk_buff *skb, int bytes)
{
	if (bytes < 0 && skb->truesize < (unsigned int)-bytes) {
		NS_REPAIRING(sk->ns);
		bytes = -(int)skb->truesize;
	}
	skb->truesize = (unsigned int)((int)skb->truesize + bytes);
	sk->sk_wmem_queued += bytes;
}

/*
 * From now on skb begins a send skb of its own, as the piece Linux's
 * tcp_fragment()/tso_fragment() cut off gets a fresh sk_buff and head.
 */
void tcp_skb_charge_head(struct sock *sk, struct sk_buff *skb)
{
	if (TCP_SKB_CB(skb)->head_charged)
		return;
	TCP_SKB_CB(skb)->head_charged = true;
	tcp_skb_charge(sk, skb, TCP_SKB_HEAD_TRUESIZE);
}

/* skb's data joined the send skb before it (tcp_grow_skb): the skb it emptied is freed. */
static void tcp_skb_drop_head(struct sock *sk, struct sk_buff *skb)
{
	if (!TCP_SKB_CB(skb)->head_charged)
		return;
	TCP_SKB_CB(skb)->head_charged = false;
	tcp_skb_charge(sk, skb, -(int)(skb->truesize - skb->len));
}

/*
 * skb, acknowledged, goes; if the send skb it began goes on in the next
 * segment, that one takes over the head and whatever else skb carried
 * beyond its length: Linux frees an skb only once all of it is acked and
 * before that trims acked bytes off it (tcp_trim_head), which returns
 * their length only.
 */
void tcp_skb_pass_head(struct sock *sk, struct sk_buff *skb)
{
	struct sk_buff *next = TAILQ_NEXT(skb, list);
	unsigned int extra = skb->truesize - skb->len;

	if (!TCP_SKB_CB(skb)->head_charged || !next || TCP_SKB_CB(next)->head_charged)
		return;
	TCP_SKB_CB(skb)->head_charged = false;
	skb->truesize -= extra;
	TCP_SKB_CB(next)->head_charged = true;
	next->truesize += extra;
}

/* The segment that begins the send skb skb is part of. */
struct sk_buff *tcp_skb_head_of(struct sock *sk, struct sk_buff *skb)
{
	struct sk_buff *prev;

	while (!TCP_SKB_CB(skb)->head_charged && (prev = TAILQ_PREV(skb, sk_buff_list, list)))
		skb = prev;
	return skb;
}

/* Appends skb to the write queue; it becomes the send head if nothing is unsent. */
void tcp_queue_skb(struct sock *sk, struct sk_buff *skb)
{
	struct tcp_sock *tp = tcp_sk(sk);

	skb_queue_tail(&sk->sk_write_queue, skb);
	skb->truesize += skb->len;
	sk->sk_wmem_queued += (int)skb->truesize;
	tp->write_seq = TCP_SKB_CB(skb)->end_seq;
	if (!tp->send_head) {
		tp->send_head = skb;
		/* Data (or FIN) to send; a SYN is not (Linux queues it apart). */
		if (!(TCP_SKB_CB(skb)->tcp_flags & TH_SYN))
			tcp_chrono_start(sk, TCP_CHRONO_BUSY);
	}
}

/* Splits skb at len bytes of data; the tail becomes a new skb after it. */
int tcp_fragment(struct sock *sk, struct sk_buff *skb, unsigned int len)
{
	struct tcp_skb_cb *cb = TCP_SKB_CB(skb), *ncb;
	unsigned int rest;
	struct sk_buff *nskb;

	if (len == 0 || len >= skb->len)
		return 0;
	rest = skb->len - len;
	nskb = tcp_stream_alloc_skb(sk, rest);
	if (!nskb)
		return -ENOMEM;
	memcpy(skb_put(nskb, rest), skb->data + len, rest);
	ncb = TCP_SKB_CB(nskb);
	*ncb = *cb;
	/*
	 * The payload's charge moves with it; whether the tail begins a send
	 * skb of its own is the caller's call (tcp_skb_charge_head).
	 */
	ncb->head_charged = false;
	nskb->truesize = rest;
	skb->truesize -= rest;
	ncb->seq = cb->seq + len;
	cb->end_seq = ncb->seq;
	cb->tcp_flags &= (uint8_t) ~(TH_FIN | TH_PSH);
	cb->eor = false;
	cb->zc_len = 0;
	/* The timestamp key's byte decides which piece reports (tcp_fragment_tstamp). */
	if (cb->txstamp && before(cb->tskey, ncb->seq))
		ncb->txstamp = 0;
	else
		cb->txstamp = 0;
	skb_trim(skb, len);
	sk->sk_write_queue.bytes -= rest; /* skb shrank inside the queue */
	skb_insert_after(&sk->sk_write_queue, skb, nskb);
	if (cb->sacked & TCPCB_LOST)
		tcp_sk(sk)->lost_out++;
	if (cb->sacked & TCPCB_SACKED_ACKED)
		tcp_sk(sk)->sacked_out++;
	if (cb->sacked & TCPCB_SACKED_RETRANS)
		tcp_sk(sk)->retrans_out++;
	/* A split of a segment already sent is one more packet out. */
	if (cb->when)
		tcp_sk(sk)->packets_out++;
	return 0;
}

/* Options for a segment of an established (or closing) connection. */
static void tcp_established_options(struct sock *sk, struct tcp_out_options *o)
{
	struct tcp_sock *tp = tcp_sk(sk);

	memset(o, 0, sizeof(*o));
	if (tp->tstamp_ok) {
		o->options |= OPTION_TS;
		o->tsval = (uint32_t)(tcp_now(sk) / 1000u) + tp->tsoffset;
		o->tsecr = tp->ts_recent;
	}
	if (tp->sack_ok && (tp->num_sacks || tp->dsack)) {
		int max = tp->tstamp_ok ? 3 : TCP_MAX_SACKS, n = 0, i;

		/* RFC 2883: the D-SACK block first, then the SACK blocks. */
		if (tp->dsack)
			tp->opt_sacks[n++] = tp->duplicate_sack;
		for (i = 0; i < tp->num_sacks && n < max; i++)
			tp->opt_sacks[n++] = tp->selective_acks[i];
		o->options |= OPTION_SACK;
		o->num_sacks = n;
		o->sacks = tp->opt_sacks;
	}
}

/* Options of our SYN (tcp_syn_options): everything the sysctls enable. */
static void tcp_syn_options(struct sock *sk, struct tcp_out_options *o)
{
	struct tcp_sock *tp = tcp_sk(sk);
	const struct tcp_config *c = &sk->ns->cfg.tcp;

	/*
	 * A Fast Open child's SYN-ACK sent again offers what was negotiated
	 * (Linux resends it from the request); a simultaneous open's SYN-ACK
	 * is our SYN again, with its options.
	 */
	bool synack = sk->sk_state == TCP_SYN_RECV && tp->fastopen_child;

	memset(o, 0, sizeof(*o));
	o->options = OPTION_MSS;
	o->mss = tp->advmss;
	if (synack ? tp->tstamp_ok : c->timestamps) {
		o->options |= OPTION_TS;
		o->tsval = (uint32_t)(tcp_now(sk) / 1000u) + tp->tsoffset;
		o->tsecr = 0;
	}
	if (synack ? tp->wscale_ok : c->window_scaling) {
		o->options |= OPTION_WSCALE;
		o->ws = tp->rcv_wscale;
	}
	if (synack ? tp->sack_ok : c->sack)
		o->options |= OPTION_SACK_PERM;
	/* A Fast Open cookie or cookie request, on the first SYN only. */
	if (tp->fo.len >= 0 &&
	    tcp_options_size(o) + (tp->fo.exp ? TCPOLEN_EXP_FASTOPEN_BASE : TCPOLEN_FASTOPEN_BASE) +
		    (unsigned int)tp->fo.len <=
		MAX_TCP_OPTION_SPACE) {
		o->options |= OPTION_FAST_OPEN;
		o->fo = &tp->fo;
		tp->syn_fastopen = true;
		tp->syn_fastopen_exp = tp->fo.exp;
	}
}

static void tcp_ip_params(struct sock *sk, struct ip_tx_params *p)
{
	struct inet_sock *inet = inet_sk(sk);

	memset(p, 0, sizeof(*p));
	p->df = true;
	if (sk->sk_ipv6) {
		/* IPV6_UNICAST_HOPS and IPV6_TCLASS in the IPv4 fields' place. */
		p->ttl = inet->v6.hop_limit > 0 ? (uint8_t)inet->v6.hop_limit : 0;
		p->tos = inet->v6.tclass > 0 ? (uint8_t)inet->v6.tclass : 0;
		return;
	}
	p->ttl = inet->uc_ttl > 0 ? (uint8_t)inet->uc_ttl : 0;
	p->tos = inet->tos;
}

/* ACK sent: no delayed ACK is owed any more (tcp_event_ack_sent). */
static void tcp_event_ack_sent(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);

	tp->ack_pending = false;
	tp->ack_now = false;
	tp->ack_batch = false;
	tp->dsack = false;
	del_timer(sk->ns, &tp->delack_timer);
}

/*
 * Sends skb of the write queue (a clone, so the original stays for
 * retransmission), or a private control segment when clone is false, with
 * the TCP flags given (the write path decides PSH per burst).
 */
static int tcp_transmit_flags(struct sock *sk, struct sk_buff *skb, bool clone, uint8_t flags)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct tcp_skb_cb *cb = TCP_SKB_CB(skb);
	struct tcp_addrs a;
	struct tcp_out_options o;
	struct ip_tx_params p;
	struct sk_buff *out = skb;
	uint16_t window;
	uint64_t now = tcp_now(sk);

	if (clone) {
		/* A clone still in flight below shares our headroom: copy instead. */
		out = skb_cloned(skb) ? skb_copy(skb) : skb_clone(skb);
		if (!out)
			return -ENOBUFS;
	}
	if (flags & TH_SYN) {
		tcp_syn_options(sk, &o);
		o.tsecr = tp->ts_recent;
		window = (uint16_t)(tp->rcv_wnd > 65535 ? 65535 : tp->rcv_wnd);
	} else {
		tcp_established_options(sk, &o);
		window = (uint16_t)tcp_select_window(sk);
	}
	if (tp->rcv_wnd == 0 && !(flags & TH_SYN))
		tp->pingpong = false;
	tcp_ip_params(sk, &p);
	p.tos &= (uint8_t)~INET_ECN_MASK; /* TCP owns the ECN field */
	if ((tp->ecn_flags & TCP_ECN_OK) && !(flags & TH_SYN)) {
		/* New data is ECN-capable (ECT(0)); the first after a reduction says CWR. */
		if (out->len && !before(cb->seq, tp->snd_nxt)) {
			p.tos |= INET_ECN_ECT_0;
			if (tp->ecn_flags & TCP_ECN_QUEUE_CWR) {
				tp->ecn_flags &= (uint8_t)~TCP_ECN_QUEUE_CWR;
				flags |= TH_CWR;
			}
		}
		/* Echo congestion until the peer's CWR (RFC 3168 6.1.3). */
		if (tp->ecn_flags & TCP_ECN_DEMAND_CWR)
			flags |= TH_ECE;
	}
	/*
	 * Urgent mode: every segment before the urgent pointer says where it
	 * is; one too far ahead for 16 bits says 0xffff, as long as that
	 * does not point past what was sent (Linux's __tcp_transmit_skb).
	 */
	if (tp->urg_mode && before(cb->seq, tp->snd_up)) {
		if (before(tp->snd_up, cb->seq + 0x10000)) {
			o.urg_ptr = (uint16_t)(tp->snd_up - cb->seq);
			flags |= TH_URG;
		} else if (after(cb->seq + 0xffff, tp->snd_nxt)) {
			o.urg_ptr = 0xffff;
			flags |= TH_URG;
		}
	}
	cb->when = now;
	cb->tx_delivered = tp->delivered;
	if (!cb->first_tx)
		cb->first_tx = now;
	tp->segs_out++;
	if (out->len) {
		tp->lsnd_us = now;
		if (tp->ca_state == TCP_CA_Recovery)
			tp->prr_out++;
		tp->data_segs_out++;
		tp->bytes_sent += out->len;
		tp->last_data_sent = now;
		/* A reply within ato of the last data received: interactive. */
		if (now - tp->lrcvtime < tp->ato)
			tp->pingpong = true;
	}
	if (flags & TH_ACK)
		tcp_event_ack_sent(sk);
	/* SO_TIMESTAMPING: scheduled and sent are one moment here (no qdisc). */
	if (cb->txstamp & (TCP_TXSTAMP_SCHED | TCP_TXSTAMP_SND)) {
		if (cb->txstamp & TCP_TXSTAMP_SCHED)
			sock_tx_timestamp(sk, skb, SCM_TSTAMP_SCHED, cb->tskey - sk->sk_tskey);
		if (cb->txstamp & TCP_TXSTAMP_SND)
			sock_tx_timestamp(sk, skb, SCM_TSTAMP_SND, cb->tskey - sk->sk_tskey);
		cb->txstamp &= (uint8_t) ~(TCP_TXSTAMP_SCHED | TCP_TXSTAMP_SND);
	}
	tcp_sk_addrs(sk, &a);
	return tcp_transmit_raw(sk->ns, out, &a, inet_sk(sk)->inet_sport, sk->sk_dport, cb->seq,
				(flags & TH_ACK) ? tp->rcv_nxt : 0, flags, window, &o, &p);
}

/* Sends skb with the flags of its control block (tcp_transmit_flags). */
static int tcp_transmit_skb(struct sock *sk, struct sk_buff *skb, bool clone)
{
	return tcp_transmit_flags(sk, skb, clone, TCP_SKB_CB(skb)->tcp_flags);
}

/* The first queued skb that is not yet sent moves on. */
static void tcp_advance_send_head(struct sock *sk, struct sk_buff *skb)
{
	struct tcp_sock *tp = tcp_sk(sk);

	tp->send_head = TAILQ_NEXT(skb, list);
}

/* Linux's tcp_nagle_test() with Minshall's variant of Nagle (RFC 896). */
static bool tcp_nagle_test(const struct tcp_sock *tp, const struct sk_buff *skb, unsigned int mss,
			   int nonagle)
{
	bool partial = skb->len < mss;

	if (nonagle & TCP_NAGLE_PUSH)
		return true;
	/* Neither urgent data nor the FIN waits for Nagle. */
	if (tp->urg_mode || (TCP_SKB_CB(skb)->tcp_flags & TH_FIN))
		return true;
	if (!partial)
		return true;
	if (nonagle & TCP_NAGLE_CORK)
		return false;
	if (nonagle & TCP_NAGLE_OFF)
		return true;
	/* Minshall: at most one small segment unacknowledged. */
	if (tp->packets_out && after(tp->snd_sml, tp->snd_una) && !after(tp->snd_sml, tp->snd_nxt))
		return false;
	return true;
}

/* Arms the persist timer when data waits behind a closed window (RFC 9293 3.8.6.1). */
void tcp_check_probe_timer(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);

	if (!tp->packets_out && tp->send_head && !timer_pending(&tp->retransmit_timer)) {
		uint64_t when =
		    tp->rto > sk->ns->cfg.tcp.rto_min_us ? tp->rto : sk->ns->cfg.tcp.rto_min_us;

		tcp_reset_xmit_timer(sk, ICSK_TIME_PROBE0, tcp_now(sk) + when);
	}
}

/*
 * Linux's sk_gso_max_size on a GSO device: 64 KiB less room for the headers
 * (MAX_TCP_HEADER + 1). A send buffer and a burst unit never exceed it.
 */
#define TCP_GSO_MAX_SIZE (65536u - 321u)

/*
 * Linux's tcp_xmit_size_goal(): the send buffers tcp_sendmsg() fills hold
 * a GSO frame's worth of whole segments, or half the largest window the
 * peer offered if that is less, at least one segment.
 */
unsigned int tcp_size_goal(const struct sock *sk, unsigned int mss)
{
	const struct tcp_sock *tp = tcp_sk(sk);
	uint32_t goal = TCP_GSO_MAX_SIZE;
	/* Against a small window, half of it, so that two buffers are in flight. */
	uint32_t cutoff = tp->max_window > TCP_MSS_DEFAULT ? tp->max_window >> 1 : tp->max_window;

	if (cutoff && goal > cutoff)
		goal = cutoff;
	goal -= goal % mss;
	return goal > mss ? goal : mss;
}

/*
 * Linux's tcp_update_pacing_rate(): 200% of cwnd * mss / srtt well inside
 * slow start, 120% after; the larger of cwnd and what is out counts.
 */
void tcp_update_pacing_rate(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	const struct tcp_config *c = &sk->ns->cfg.tcp;
	/* srtt_us is RTT << 3: the numerator carries the same factor. */
	uint64_t rate = (uint64_t)tp->mss_cache * ((1000000u / 100) << 3);

	if (!tp->srtt_us)
		return;
	rate *= (uint64_t)(tp->snd_cwnd < tp->snd_ssthresh / 2 ? c->pacing_ss_ratio
							       : c->pacing_ca_ratio);
	rate *= tp->snd_cwnd > tp->packets_out ? tp->snd_cwnd : tp->packets_out;
	rate /= tp->srtt_us;
	tp->pacing_rate = rate ? rate : 1;
}

/*
 * Segments in one burst unit (Linux's tcp_tso_segs with tcp_tso_autosize):
 * a millisecond's worth at the pacing rate (sk_pacing_shift 10), more on
 * a short path (a bonus halving with every 2^tso_rtt_log us of minimum RTT),
 * at most a GSO frame, at least min_tso_segs.
 */
static unsigned int tcp_tso_segs(const struct sock *sk, unsigned int mss)
{
	const struct tcp_sock *tp = tcp_sk(sk);
	const struct tcp_config *c = &sk->ns->cfg.tcp;
	uint64_t bytes = tp->pacing_rate ? tp->pacing_rate >> 10 : TCP_GSO_MAX_SIZE;
	unsigned int segs, min;

	if (tp->min_rtt_us && c->tso_rtt_log >= 0 && c->tso_rtt_log < 32) {
		uint32_t r = tp->min_rtt_us >> c->tso_rtt_log;

		if (r < 32 && bytes < TCP_GSO_MAX_SIZE)
			bytes += TCP_GSO_MAX_SIZE >> r;
	}
	if (bytes > TCP_GSO_MAX_SIZE)
		bytes = TCP_GSO_MAX_SIZE;
	segs = (unsigned int)(bytes / mss);
	min = c->min_tso_segs > 0 ? (unsigned int)c->min_tso_segs : 1;
	return segs > min ? segs : min;
}

/* Books the running chronograph's time and starts type's (tcp_chrono_set). */
static void tcp_chrono_set(struct tcp_sock *tp, enum tcp_chrono type, uint64_t now)
{
	if (tp->chrono_type > TCP_CHRONO_UNSPEC)
		tp->chrono_stat[tp->chrono_type - 1] += now - tp->chrono_start;
	tp->chrono_start = now;
	tp->chrono_type = (uint8_t)type;
}

/* A condition began; the most interesting one running is the one timed. */
void tcp_chrono_start(struct sock *sk, enum tcp_chrono type)
{
	struct tcp_sock *tp = tcp_sk(sk);

	if (type > tp->chrono_type)
		tcp_chrono_set(tp, type, tcp_now(sk));
}

/*
 * A condition ended: with nothing left to send or acknowledge the clock
 * stops; if it was the one timed, plain busy time runs on.
 */
void tcp_chrono_stop(struct sock *sk, enum tcp_chrono type)
{
	struct tcp_sock *tp = tcp_sk(sk);

	if (!tp->send_head && !tp->packets_out)
		tcp_chrono_set(tp, TCP_CHRONO_UNSPEC, tcp_now(sk));
	else if (type == tp->chrono_type)
		tcp_chrono_set(tp, TCP_CHRONO_BUSY, tcp_now(sk));
}

/*
 * May cwnd grow (Linux's tcp_is_cwnd_limited)? Only if the window was the
 * limit during the last window of data: growing it otherwise would grant
 * room never tested.
 */
bool tcp_is_cwnd_limited(const struct tcp_sock *tp)
{
	if (tp->is_cwnd_limited)
		return true;
	/* In slow start, let cwnd reach twice what an application-limited flight was. */
	if (tp->snd_cwnd < tp->snd_ssthresh)
		return tp->snd_cwnd < 2 * tp->max_packets_out;
	return false;
}

/*
 * After sending (Linux's tcp_cwnd_validate): remember how far the window was
 * used, for one window's worth of data; if it was not the limit, the
 * writer's lack of send buffer may be.
 */
static void tcp_cwnd_validate(struct sock *sk, bool cwnd_limited)
{
	struct tcp_sock *tp = tcp_sk(sk);

	if (!before(tp->snd_una, tp->cwnd_usage_seq) || cwnd_limited ||
	    (!tp->is_cwnd_limited && tp->packets_out > tp->max_packets_out)) {
		tp->is_cwnd_limited = cwnd_limited;
		tp->max_packets_out = tp->packets_out;
		tp->cwnd_usage_seq = tp->snd_nxt;
	}
	/* All sent, the window not the limit, and the writer found no room. */
	if (!tcp_is_cwnd_limited(tp) && !tp->send_head && tp->nospace &&
	    ((1u << sk->sk_state) & (TCPF_ESTABLISHED | TCPF_CLOSE_WAIT)))
		tcp_chrono_start(sk, TCP_CHRONO_SNDBUF_LIMITED);
}

/* Linux's tcp_nagle_check(): hold back a partial last segment? */
static bool tcp_nagle_check(bool partial, const struct tcp_sock *tp, int nonagle)
{
	return partial && ((nonagle & TCP_NAGLE_CORK) ||
			   (!nonagle && tp->packets_out && after(tp->snd_sml, tp->snd_una) &&
			    !after(tp->snd_sml, tp->snd_nxt)));
}

/*
 * Where the unit Linux's tcp_write_xmit() sends from skb (the send head)
 * ends: Linux sends a send buffer at a time, first topped up from the next
 * buffer to quota segments (tcp_grow_skb), then cut to quota segments, to
 * the window and, for Nagle, before a partial last segment
 * (tcp_mss_split_point, tso_fragment). Every unit of more than one segment
 * leaves as one GSO frame with PSH on its last segment (__tcp_transmit_skb
 * sets it to hurry the receiver's GRO); a unit of one segment carries PSH
 * only when the buffer it ends was pushed.
 */
static uint32_t tcp_xmit_unit_end(struct sock *sk, struct sk_buff *skb, unsigned int mss,
				  unsigned int quota, int nonagle)
{
	struct tcp_sock *tp = tcp_sk(sk);
	uint32_t seq = TCP_SKB_CB(skb)->seq, wnd_end = tp->snd_una + tp->snd_wnd;
	uint32_t max_len = mss * quota, len = 0, window, needed, limit;
	struct sk_buff *s = skb, *last = skb;

	/* Past quota segments the rest of the buffer no longer matters. */
	for (; s; s = TAILQ_NEXT(s, list)) {
		len += s->len;
		last = s;
		if (tcp_skb_ends_buffer(s) || len >= max_len)
			break;
	}
	/* Topped up from the next buffer only (one tcp_grow_skb()), never across a record. */
	if (len < max_len && !TCP_SKB_CB(last)->eor && !(TCP_SKB_CB(last)->tcp_flags & TH_FIN)) {
		for (s = TAILQ_NEXT(last, list); s && len < max_len; s = TAILQ_NEXT(s, list)) {
			len += s->len;
			last = s;
			if (tcp_skb_ends_buffer(s))
				break;
		}
	}
	window = after(wnd_end, seq) ? wnd_end - seq : 0;
	if (max_len <= window && TAILQ_NEXT(last, list)) {
		limit = max_len;
	} else {
		needed = len < window ? len : window;
		if (max_len <= needed)
			limit = max_len;
		else if (tcp_nagle_check(needed % mss != 0, tp, nonagle))
			limit = needed - needed % mss;
		else
			limit = needed;
	}
	return seq + (limit < len ? limit : len);
}

/*
 * Linux's tcp_tso_should_defer(): the windows let out only part of a unit
 * from skb, the send head, while an ACK that lets out more is due: wait for
 * it, so that the data leaves in fewer, larger bursts. Not when a full unit
 * or a tso_win_divisor-th of the window may go, nor when the oldest segment
 * out left less than half an RTT ago (the next ACK is that far away), nor
 * after a pause in sending (a jiffy in Linux: 1 ms), nor in loss recovery.
 * Against a receiver that acknowledges every tenth segment, sending at
 * each ACK keeps the bursts at ten segments and the ACKs at one per ten;
 * Linux's own sender makes them a third of the window and gets one per
 * seventeen on the same veth. Sets *cwnd_limited or *rwnd_limited when the
 * window that holds the unit back is the congestion or the peer's one.
 */
static bool tcp_tso_should_defer(struct sock *sk, struct sk_buff *skb, unsigned int mss,
				 unsigned int max_segs, bool *cwnd_limited, bool *rwnd_limited)
{
	struct tcp_sock *tp = tcp_sk(sk);
	uint32_t in_flight = tcp_packets_in_flight(tp), seq = TCP_SKB_CB(skb)->seq;
	uint32_t wnd_end = tp->snd_una + tp->snd_wnd, len = 0;
	uint64_t send_win, cong_win, limit, chunk;
	int divisor = sk->ns->cfg.tcp.tso_win_divisor;
	struct sk_buff *head, *s, *last = skb;
	uint64_t now;

	if (tp->ca_state >= TCP_CA_Recovery || tp->snd_cwnd <= in_flight)
		return false;
	send_win = after(wnd_end, seq) ? wnd_end - seq : 0;
	cong_win = (uint64_t)(tp->snd_cwnd - in_flight) * mss;
	limit = send_win < cong_win ? send_win : cong_win;
	if (limit >= (uint64_t)max_segs * mss)
		return false;
	if (divisor > 0) {
		chunk = (uint64_t)tp->snd_cwnd * mss;
		if (tp->snd_wnd < chunk)
			chunk = tp->snd_wnd;
		if (limit >= chunk / (uint64_t)divisor)
			return false;
	} else if (limit > 3 * mss) {
		/* Linux without a divisor: never wait past what one ACK opens (3 segments). */
		return false;
	}
	/* The oldest segment out: its ACK is what is waited for. */
	head = skb_peek(&sk->sk_write_queue);
	if (!head || head == skb)
		return false;
	/* The clock only now: most calls (a full unit may go) end above. The burst's reading. */
	now = ns_now_batch(sk->ns);
	if (now - tp->lsnd_us >= 1000 || now - TCP_SKB_CB(head)->when < tp->srtt_us >> 4)
		return false;
	/* The send buffer skb begins (Linux's skb): one segment goes as Nagle says. */
	for (s = skb; s; s = TAILQ_NEXT(s, list)) {
		len += s->len;
		last = s;
		if (tcp_skb_ends_buffer(s))
			break;
	}
	if (len <= mss)
		return false;
	/* A buffer that will not grow and may go whole goes now. */
	if (TAILQ_NEXT(last, list) && limit >= len)
		return false;
	if ((TCP_SKB_CB(last)->tcp_flags & TH_FIN) || TCP_SKB_CB(last)->eor)
		return false;
	if (cong_win < send_win) {
		if (cong_win <= len)
			*cwnd_limited = true;
	} else if (send_win <= len) {
		*rwnd_limited = true;
	}
	return true;
}

/*
 * Sends what the congestion window, the peer's window and Nagle allow
 * (tcp_write_xmit), in Linux's units (tcp_xmit_unit_end). Returns true
 * when nothing could be sent but data waits. push_one: the tail loss
 * probe's send, which never waits for an ACK (Linux's push_one).
 */
static bool write_xmit_burst(struct sock *sk, int nonagle, bool push_one)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct sk_buff *skb;
	unsigned int mss = tcp_current_mss(sk);
	unsigned int max_segs = tcp_tso_segs(sk, mss);
	uint32_t unit_end = 0;
	bool in_unit = false, unit_multi = false, rwnd_limited = false, cwnd_limited = false;
	int sent = 0;

	/* The burst may leave as one super-frame (dev.c); unplugged below. */
	dev_xmit_plug(sk->ns);
	while ((skb = tp->send_head)) {
		struct tcp_skb_cb *cb = TCP_SKB_CB(skb);
		uint32_t wnd_end = tp->snd_una + tp->snd_wnd;
		bool is_last = TAILQ_NEXT(skb, list) == NULL, unit_start = !in_unit;
		uint8_t flags;

		if (tcp_packets_in_flight(tp) >= tp->snd_cwnd) {
			cwnd_limited = true;
			break;
		}
		if (skb->len > mss && tcp_fragment(sk, skb, mss))
			break;
		if (!in_unit) {
			/*
			 * Linux's tcp_cwnd_test(): at most half the window in one
			 * unit, so that at least two are in flight.
			 */
			unsigned int half = tp->snd_cwnd > 1 ? tp->snd_cwnd / 2 : 1;
			unsigned int quota = tp->snd_cwnd - tcp_packets_in_flight(tp);

			if (quota > half)
				quota = half;
			if (quota > max_segs)
				quota = max_segs;
			if (!push_one && tcp_tso_should_defer(sk, skb, mss, max_segs, &cwnd_limited,
							      &rwnd_limited))
				break;
			unit_end = tcp_xmit_unit_end(sk, skb, mss, quota, nonagle);
			unit_multi = after(unit_end, cb->seq + mss);
			in_unit = true;
		}
		if (after(cb->end_seq, wnd_end)) {
			uint32_t limit = before(cb->seq, wnd_end) ? wnd_end - cb->seq : 0;

			/*
			 * Sender SWS avoidance (RFC 9293 3.8.6.2.1): send part of a
			 * segment only when it is a full MSS or half the largest
			 * window the peer ever offered.
			 */
			if (limit == 0 || (limit < mss && limit < tp->max_window / 2) ||
			    skb->len == 0) {
				rwnd_limited = true;
				break;
			}
			if (tcp_fragment(sk, skb, limit))
				break;
		}
		/* A unit of several segments passed Nagle as a whole. */
		if (!unit_multi &&
		    !tcp_nagle_test(tp, skb, mss, is_last ? nonagle : TCP_NAGLE_PUSH))
			break;
		flags = cb->tcp_flags;
		if (before(cb->end_seq, unit_end)) {
			flags &= (uint8_t)~TH_PSH;
		} else {
			if (unit_multi)
				flags |= TH_PSH;
			in_unit = false;
		}
		if (tcp_transmit_flags(sk, skb, true, flags) == -ENOBUFS)
			break;
		/*
		 * A unit leaves as one send skb in Linux: cut off the rest of
		 * its buffer (tso_fragment) or topped up from the next one
		 * (tcp_grow_skb, which frees the skb it empties).
		 */
		if (unit_start)
			tcp_skb_charge_head(sk, skb);
		else
			tcp_skb_drop_head(sk, skb);
		tcp_advance_send_head(sk, skb);
		tp->snd_nxt = cb->end_seq;
		if (skb->len < mss)
			tp->snd_sml = cb->end_seq;
		tp->packets_out++;
		if (!timer_pending(&tp->retransmit_timer) || tp->pending == ICSK_TIME_PROBE0)
			tcp_rearm_rto(sk);
		sent++;
	}
	dev_xmit_unplug(sk->ns);
	/* What is left unsent is an skb apart from what went (Linux's write queue). */
	if (tp->send_head)
		tcp_skb_charge_head(sk, tp->send_head);
	if (rwnd_limited)
		tcp_chrono_start(sk, TCP_CHRONO_RWND_LIMITED);
	else
		tcp_chrono_stop(sk, TCP_CHRONO_RWND_LIMITED);
	if (sent || cwnd_limited || tcp_packets_in_flight(tp) >= tp->snd_cwnd)
		tcp_cwnd_validate(sk, cwnd_limited || tcp_packets_in_flight(tp) >= tp->snd_cwnd);
	/* New data went out: the tail loss probe moves behind it (tcp_write_xmit). */
	if (sent && tp->pending != ICSK_TIME_PROBE0)
		tcp_schedule_loss_probe(sk);
	/* TCP_NOTSENT_LOWAT: writers wait for unsent bytes to drain below it. */
	if (sent && tcp_notsent_lowat(tp) != UINT32_MAX)
		tcp_check_space(sk);
	if (!sent && tp->send_head && !tp->packets_out) {
		tcp_check_probe_timer(sk);
		return true;
	}
	return false;
}

/* write_xmit_burst with one clock reading for the burst's stamps (ns_now_batch). */
static bool write_xmit(struct sock *sk, int nonagle, bool push_one)
{
	uint64_t outer = ns_clock_batch_begin(sk->ns);
	bool r = write_xmit_burst(sk, nonagle, push_one);

	ns_clock_batch_end(sk->ns, outer);
	return r;
}

bool tcp_write_xmit(struct sock *sk, int nonagle)
{
	return write_xmit(sk, nonagle, false);
}

bool tcp_write_xmit_probe(struct sock *sk)
{
	return write_xmit(sk, TCP_NAGLE_OFF | TCP_NAGLE_PUSH, true);
}

/* Pushes pending data (tcp_push_pending_frames). */
void tcp_push(struct sock *sk, int nonagle)
{
	if ((1u << sk->sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV | TCPF_CLOSE | TCPF_LISTEN) &&
	    !(sk->sk_state == TCP_SYN_RECV && tcp_sk(sk)->fastopen_child))
		return;
	tcp_write_xmit(sk, nonagle);
}

/* Retransmits one segment of the write queue (tcp_retransmit_skb). */
int tcp_retransmit_skb(struct sock *sk, struct sk_buff *skb)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct tcp_skb_cb *cb = TCP_SKB_CB(skb);
	unsigned int mss = tcp_current_mss(sk);
	int err;

	if (before(cb->seq, tp->snd_una)) {
		/* Partly acknowledged: send only the rest. */
		uint32_t trim = tp->snd_una - cb->seq;

		if (!(cb->tcp_flags & TH_SYN) && trim <= skb->len) {
			skb_pull(skb, trim);
			sk->sk_write_queue.bytes -= trim;
			/* Linux's tcp_trim_head(): the bytes' charge only. */
			tcp_skb_charge(sk, skb, -(int)trim);
			cb->seq = tp->snd_una;
		}
	}
	if (skb->len > mss && tcp_fragment(sk, skb, mss))
		return -ENOMEM;
	/* A SYN sent again drops ECE/CWR: a middlebox may have eaten the first (RFC 3168 6.1.1.1).
	 */
	if ((cb->tcp_flags & (TH_SYN | TH_ACK)) == TH_SYN)
		cb->tcp_flags &= (uint8_t) ~(TH_ECE | TH_CWR);
	err = tcp_transmit_skb(sk, skb, true);
	if (err == -ENOBUFS)
		return err;
	if (!(cb->sacked & TCPCB_SACKED_RETRANS))
		tp->retrans_out++;
	cb->sacked |= TCPCB_SACKED_RETRANS | TCPCB_EVER_RETRANS;
	cb->retrans++;
	tp->total_retrans++;
	tp->bytes_retrans += skb->len;
	NS_INC_STATS(sk->ns, TcpRetransSegs);
	if (!tp->retrans_stamp)
		tp->retrans_stamp = cb->first_tx ? cb->first_tx : tcp_now(sk);
	return 0;
}

/* Retransmits segments marked lost while the pipe allows (RFC 6675 NextSeg rule 1). */
void tcp_xmit_retransmit_queue(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct sk_buff *skb;

	/* Not the _safe walk: a retransmission may split skb and insert its tail next. */
	skb_queue_walk(&sk->sk_write_queue, skb)
	{
		struct tcp_skb_cb *cb = TCP_SKB_CB(skb);

		if (skb == tp->send_head)
			break;
		if (tcp_packets_in_flight(tp) >= tp->snd_cwnd)
			break;
		if (!(cb->sacked & TCPCB_LOST) ||
		    (cb->sacked & (TCPCB_SACKED_ACKED | TCPCB_SACKED_RETRANS)))
			continue;
		if (tcp_retransmit_skb(sk, skb))
			break;
		/* RACK's reordering timer, when set, already watches the head. */
		if (skb == skb_peek(&sk->sk_write_queue) && tp->pending != ICSK_TIME_REO_TIMEOUT)
			tcp_rearm_rto(sk);
	}
}

/* Sends a bare ACK now. */
void tcp_send_ack(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct sk_buff *skb;

	if (sk->sk_state == TCP_CLOSE || sk->sk_state == TCP_LISTEN)
		return;
	skb = tcp_stream_alloc_skb(sk, 0);
	if (!skb)
		return;
	TCP_SKB_CB(skb)->seq = tp->snd_nxt;
	TCP_SKB_CB(skb)->end_seq = tp->snd_nxt;
	TCP_SKB_CB(skb)->tcp_flags = TH_ACK;
	tcp_transmit_skb(sk, skb, false);
}

/* Schedules an ACK within the delayed-ACK time (RFC 9293 3.8.6.3, Linux's ato). */
void tcp_send_delayed_ack(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	uint64_t when = tcp_now(sk) + tp->ato;

	tp->ack_pending = true;
	if (timer_pending(&tp->delack_timer) && tp->delack_timer.expires <= when)
		return;
	tp->ack_batch = false;
	mod_timer(sk->ns, &tp->delack_timer, when);
}

/* Announces a window that opened after the user read data (tcp_cleanup_rbuf). */
void tcp_send_window_update(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	uint32_t rcv_window_now, new_window;

	if (!((1u << sk->sk_state) & (TCPF_ESTABLISHED | TCPF_FIN_WAIT1 | TCPF_FIN_WAIT2)))
		return;
	if (tp->ack_pending && (tp->rcv_nxt - tp->rcv_wup) > tp->rcv_mss) {
		tcp_send_ack(sk);
		return;
	}
	rcv_window_now = tcp_receive_window(tp);
	/* Only when the window at least doubles and makes a difference (Linux). */
	if (2 * rcv_window_now <= tp->window_clamp) {
		uint32_t space = tcp_space(sk);

		if (space > tp->rcv_ssthresh)
			space = tp->rcv_ssthresh;
		new_window = space;
		if (new_window && new_window >= 2 * rcv_window_now)
			tcp_send_ack(sk);
	}
}

/* Queues a FIN after the data (RFC 9293 3.10.4 CLOSE/SHUTDOWN). */
void tcp_send_fin(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct sk_buff *tail = skb_peek_tail(&sk->sk_write_queue);

	if (tail && tp->send_head) {
		/* Piggyback on the last unsent segment. */
		TCP_SKB_CB(tail)->tcp_flags |= TH_FIN;
		TCP_SKB_CB(tail)->end_seq++;
		tp->write_seq++;
	} else {
		struct sk_buff *skb = tcp_stream_alloc_skb(sk, 0);

		if (!skb)
			return;
		TCP_SKB_CB(skb)->seq = tp->write_seq;
		TCP_SKB_CB(skb)->end_seq = tp->write_seq + 1;
		TCP_SKB_CB(skb)->tcp_flags = TH_ACK | TH_FIN;
		tcp_queue_skb(sk, skb);
	}
	tcp_push(sk, TCP_NAGLE_OFF);
}

/* Aborts the connection towards the peer with RST (RFC 9293 3.10.7 ABORT). */
void tcp_send_active_reset(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct sk_buff *skb = tcp_stream_alloc_skb(sk, 0);

	if (!skb)
		return;
	TCP_SKB_CB(skb)->seq = tp->snd_nxt;
	TCP_SKB_CB(skb)->end_seq = tp->snd_nxt;
	TCP_SKB_CB(skb)->tcp_flags = TH_ACK | TH_RST;
	NS_INC_STATS(sk->ns, TcpOutRsts);
	tcp_transmit_skb(sk, skb, false);
}

/* Sets up the sequence space, MSS and windows before the SYN (tcp_connect_init). */
void tcp_connect_init(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	const struct tcp_config *c = &sk->ns->cfg.tcp;
	uint32_t rcv_wnd;

	tp->advmss = tcp_mss_for_mtu(tp->pmtu ? tp->pmtu : 1500, tcp_net_hdr_len(sk));
	if (tp->user_mss && tp->advmss > tp->user_mss)
		tp->advmss = tp->user_mss;
	tcp_sync_mss(sk, 0);
	if (!tp->window_clamp && sk->sk_userlocks_rcv)
		tp->window_clamp = (uint32_t)tcp_win_from_space(sk, sk->sk_rcvbuf);
	tcp_select_initial_window(sk->ns, tcp_win_from_space(sk, sk->sk_rcvbuf), tp->advmss,
				  &rcv_wnd, &tp->window_clamp, c->window_scaling, &tp->rcv_wscale);
	tp->rcv_wnd = rcv_wnd;
	tp->rcv_ssthresh = rcv_wnd;
	tp->rcv_wup = 0;
	tp->rcv_nxt = 0;
	tp->copied_seq = 0;
	tp->iss = tp->write_seq;
	tp->snd_una = tp->write_seq;
	tp->snd_nxt = tp->write_seq;
	tp->snd_sml = tp->write_seq;
	tp->pushed_seq = tp->write_seq;
	tp->snd_wnd = 0;
	tp->retransmits = 0;
	tp->backoff = 0;
	sock_reset_flag(sk, SOCK_DONE);
}

/* Sends the SYN of an active open and arms its retransmission (tcp_connect). */
int tcp_connect(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct sk_buff *skb;

	tcp_connect_init(sk);
	skb = tcp_stream_alloc_skb(sk, 0);
	if (!skb)
		return -ENOBUFS;
	TCP_SKB_CB(skb)->seq = tp->write_seq;
	TCP_SKB_CB(skb)->end_seq = tp->write_seq + 1;
	TCP_SKB_CB(skb)->tcp_flags = TH_SYN;
	/* net.ipv4.tcp_ecn=1: ask for ECN (RFC 3168 6.1.1), a SYN with ECE and CWR. */
	tp->ecn_flags = 0;
	if (sk->ns->cfg.tcp.ecn == 1) {
		TCP_SKB_CB(skb)->tcp_flags |= TH_ECE | TH_CWR;
		tp->ecn_flags = TCP_ECN_OK;
	}
	tcp_queue_skb(sk, skb);
	tp->send_head = NULL;
	tp->snd_nxt = tp->write_seq;
	tp->packets_out++;
	tp->retrans_stamp = tcp_now(sk);
	tp->rto_base_us = tp->rto;
	if (tp->fo_req)
		tcp_send_syn_data(sk, skb);
	else
		tcp_transmit_skb(sk, skb, true);
	tp->fo.len = -1; /* retransmitted SYNs carry no Fast Open option */
	tcp_reset_xmit_timer(sk, ICSK_TIME_RETRANS, tcp_now(sk) + tp->rto);
	return 0;
}

/*
 * The SYN of a Fast Open connect (Linux's tcp_send_syn_data). With a cookie
 * (or none needed) it carries as much of the pending write as fits the
 * server's cached MSS less 40 bytes of option room: on the wire one
 * segment, SYN plus data; in the write queue the SYN and, after it, the
 * data as a segment already sent, so that a SYN-ACK not covering the data
 * makes it a plain retransmission. Without a cookie the SYN asks for one.
 */
int tcp_send_syn_data(struct sock *sk, struct sk_buff *syn)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct sk_buff *data, *wire;
	uint16_t mss = tp->advmss;
	unsigned int space, pmss;
	int err;

	if (!tcp_fastopen_cookie_check(sk, &mss, &tp->fo))
		goto fallback;
	pmss = tcp_mss_for_mtu(tp->pmtu ? tp->pmtu : 1500, tcp_net_hdr_len(sk));
	if (pmss > mss)
		pmss = mss;
	if (tp->user_mss && pmss > tp->user_mss)
		pmss = tp->user_mss;
	space = pmss > MAX_TCP_OPTION_SPACE ? pmss - MAX_TCP_OPTION_SPACE : 0;
	if (space > tp->fo_size)
		space = (unsigned int)tp->fo_size;
	if (!space)
		return tcp_transmit_skb(sk, syn, true); /* nothing to send: the cookie alone */
	data = tcp_stream_alloc_skb(sk, space);
	wire = alloc_skb_hdr(sk->ns, space);
	if (!data || !wire) {
		kfree_skb(data);
		kfree_skb(wire);
		goto fallback;
	}
	if (memcpy_from_msg(skb_put(data, space), tp->fo_msg, 0, space)) {
		kfree_skb(data);
		kfree_skb(wire);
		return -EFAULT;
	}
	memcpy(skb_put(wire, space), data->data, space);
	*TCP_SKB_CB(wire) = *TCP_SKB_CB(syn);
	err = tcp_transmit_skb(sk, wire, false);
	if (err) {
		kfree_skb(data);
		goto fallback;
	}
	TCP_SKB_CB(data)->seq = TCP_SKB_CB(syn)->end_seq;
	TCP_SKB_CB(data)->end_seq = TCP_SKB_CB(data)->seq + space;
	TCP_SKB_CB(data)->tcp_flags = TH_ACK | TH_PSH;
	TCP_SKB_CB(data)->when = TCP_SKB_CB(wire)->when;
	TCP_SKB_CB(data)->first_tx = TCP_SKB_CB(data)->when;
	tcp_queue_skb(sk, data);
	tp->send_head = NULL;
	tp->snd_nxt = tp->write_seq;
	tp->pushed_seq = tp->write_seq;
	tp->packets_out++;
	tp->fo_copied = space;
	tp->syn_data = true;
	return 0;
fallback:
	/* A SYN with the cookie request (len 0), or with no option (len -1). */
	if (tp->fo.len > 0)
		tp->fo.len = 0;
	return tcp_transmit_skb(sk, syn, true);
}

/* A Fast Open child's SYN-ACK again: ISS, acking what it received, negotiated options. */
void tcp_send_synack_again(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct sk_buff *skb = alloc_skb_hdr(sk->ns, 0);

	if (!skb)
		return;
	TCP_SKB_CB(skb)->seq = tp->iss;
	TCP_SKB_CB(skb)->end_seq = tp->iss + 1;
	TCP_SKB_CB(skb)->tcp_flags = TH_SYN | TH_ACK;
	tcp_transmit_skb(sk, skb, false);
	tp->total_retrans++;
	NS_INC_STATS(sk->ns, TcpRetransSegs);
}

/* The MSS and window our SYN-ACK offers for req; sets req->rcv_wscale. */
unsigned int tcp_synack_window(struct sock *sk, struct tcp_request_sock *req, uint32_t *rcv_wnd)
{
	struct nstack *ns = sk->ns;
	struct tcp_sock *lp = tcp_sk(sk);
	uint32_t clamp = lp->window_clamp;
	uint8_t ws;
	unsigned int mss =
	    req->v6
		? tcp_mss_for_mtu(ip6_dst_mtu(ns, &req->rmt6), 40)
		: tcp_mss_for_mtu(lp->pmtu ? lp->pmtu : (ns_dev(ns) ? ns_dev(ns)->mtu : 1500), 20);

	if (lp->user_mss && mss > lp->user_mss)
		mss = lp->user_mss;
	tcp_select_initial_window(ns, tcp_win_from_space(sk, sk->sk_rcvbuf),
				  mss - (req->tstamp_ok ? TCPOLEN_TSTAMP_ALIGNED : 0), rcv_wnd,
				  &clamp, req->wscale_ok, &ws);
	req->rcv_wscale = ws;
	return mss;
}

/* Our SYN-ACK answering a request (tcp_v4_send_synack). */
int tcp_send_synack(struct sock *sk, struct tcp_request_sock *req, bool cookie,
		    const struct tcp_fastopen_cookie *foc)
{
	struct nstack *ns = sk->ns;
	struct tcp_out_options o = {0};
	struct ip_tx_params p;
	struct tcp_addrs a;
	struct sk_buff *skb;
	uint32_t rcv_wnd;
	unsigned int mss = tcp_synack_window(sk, req, &rcv_wnd);
	uint8_t ws = req->rcv_wscale;
	o.options = OPTION_MSS;
	o.mss = (uint16_t)mss;
	if (req->tstamp_ok) {
		o.options |= OPTION_TS;
		o.tsval = cookie ? req->ts_off : tcp_ts_now(ns) + req->ts_off;
		o.tsecr = req->ts_recent;
	}
	if (req->sack_ok)
		o.options |= OPTION_SACK_PERM;
	if (req->wscale_ok) {
		o.options |= OPTION_WSCALE;
		o.ws = ws;
	}
	if (foc && foc->len >= 0) {
		o.options |= OPTION_FAST_OPEN;
		o.fo = foc;
	}
	skb = alloc_skb_hdr(ns, 0);
	if (!skb)
		return -ENOBUFS;
	tcp_ip_params(sk, &p);
	if (req->v6) {
		p.ttl = inet_sk(sk)->v6.hop_limit > 0 ? (uint8_t)inet_sk(sk)->v6.hop_limit : 0;
		p.tos = inet_sk(sk)->v6.tclass > 0 ? (uint8_t)inet_sk(sk)->v6.tclass : 0;
	}
	tcp_req_addrs(req, &a);
	return tcp_transmit_raw(ns, skb, &a, req->loc_port, req->rmt_port, req->snt_isn,
				req->rcv_isn + 1 + req->syn_data_len,
				(uint8_t)(TH_SYN | TH_ACK | (req->ecn_ok ? TH_ECE : 0)),
				(uint16_t)(rcv_wnd > 65535 ? 65535 : rcv_wnd), &o, &p);
}

/* A zero-window probe: an old sequence number with no data (tcp_xmit_probe_skb). */
static void tcp_xmit_probe_skb(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct sk_buff *skb = tcp_stream_alloc_skb(sk, 0);

	if (!skb)
		return;
	TCP_SKB_CB(skb)->seq = tp->snd_una - 1;
	TCP_SKB_CB(skb)->end_seq = tp->snd_una - 1;
	TCP_SKB_CB(skb)->tcp_flags = TH_ACK;
	tcp_transmit_skb(sk, skb, false);
}

/*
 * Window probe or keepalive (tcp_write_wakeup): new data if the window
 * opened meanwhile, else a segment the peer must answer with an ACK.
 * Returns 0 when something was sent, -1 when nothing could be.
 */
int tcp_write_wakeup(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct sk_buff *skb = tp->send_head;

	if (sk->sk_state == TCP_CLOSE)
		return -1;
	if (skb && before(TCP_SKB_CB(skb)->seq, tp->snd_una + tp->snd_wnd)) {
		uint32_t seg = tp->snd_una + tp->snd_wnd - TCP_SKB_CB(skb)->seq;
		unsigned int mss = tcp_current_mss(sk);

		if (seg > mss)
			seg = mss;
		if (skb->len > seg && tcp_fragment(sk, skb, seg))
			return -1;
		TCP_SKB_CB(skb)->tcp_flags |= TH_PSH;
		if (tcp_transmit_skb(sk, skb, true))
			return -1;
		tcp_advance_send_head(sk, skb);
		if (tp->send_head)
			tcp_skb_charge_head(sk, tp->send_head);
		tp->snd_nxt = TCP_SKB_CB(skb)->end_seq;
		tp->packets_out++;
		return 0;
	}
	tcp_xmit_probe_skb(sk);
	return 0;
}

/* The persist timer fired: probe and back off (tcp_send_probe0). */
void tcp_send_probe0(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	const struct tcp_config *c = &sk->ns->cfg.tcp;
	uint64_t base, when;
	int err;

	err = tcp_write_wakeup(sk);
	if (tp->packets_out || !tp->send_head) {
		/* The window opened: the RTO covers what was sent. */
		tp->probes_out = 0;
		tp->backoff = 0;
		if (tp->packets_out)
			tcp_rearm_rto(sk);
		return;
	}
	if (err <= 0) {
		if (tp->backoff < 15)
			tp->backoff++;
		tp->probes_out++;
	}
	base = tp->rto > c->rto_min_us ? tp->rto : c->rto_min_us;
	when = base << tp->backoff;
	if (when > c->rto_max_us)
		when = c->rto_max_us;
	tcp_reset_xmit_timer(sk, ICSK_TIME_PROBE0, tcp_now(sk) + when);
}
