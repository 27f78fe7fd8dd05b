/*
 * TCP over IPv4: the receive entry point (tcp_v4_rcv), the lookup tables
 * (connections, listeners, bound ports), active open, resets for segments
 * that match no socket (RFC 9293 3.10.7.1), and ICMP errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "checksum.h"
#include "icmp.h"
#include "icmpv6.h"
#include "ipv6.h"
#include "ip.h"
#include "stack.h"
#include "tcp.h"
#include "udp.h"

/* Timestamp clock: milliseconds, as Linux's tcp_time_stamp_ms(). */
uint32_t tcp_ts_now(const struct nstack *ns)
{
	return (uint32_t)(ns_now(ns) / 1000u);
}

/* See tcp.h. */
uint64_t tcp_now(const struct sock *sk)
{
	uint64_t t = sk->ns->tcp->rx_now;

	return t ? t : ns_now_batch(sk->ns);
}

/* An initial sequence number (RFC 6528: unpredictable). */
uint32_t tcp_v4_init_seq(struct nstack *ns)
{
	return ns_random32(ns);
}

/*
 * The timestamp offset of our connections from saddr to daddr: a keyed hash
 * of the two addresses, as Linux's secure_tcp_ts_off() (RFC 7323, appendix
 * A: per host pair, not per connection). A random offset per connection
 * made our TSval to a peer jump backwards between connections; a peer still
 * holding the previous connection on the same ports in TIME_WAIT then
 * rejects our SYN by PAWS and answers with an ACK of the old connection
 * (Linux's tcp_timewait_state_process); we reset it and the SYN is retried
 * only after the 1 s initial RTO. wrk under nstack with "Connection: close"
 * against a kernel nginx stalled that way every few hundred connections.
 */
static uint32_t tcp_v4_ts_off(const struct nstack *ns, uint32_t saddr, uint32_t daddr)
{
	const struct tcp_state *st = ns->tcp;

	return tcp_mix32(tcp_mix32(st->open_secret[0] ^ saddr) ^ daddr) + st->open_secret[0];
}

/*
 * The ISN of an active open, RFC 6528: a 4 us clock plus a keyed hash of the
 * 4-tuple, as Linux's secure_tcp_seq(). A new connection on the same ports
 * then starts above the old one's sequence space, which a peer holding the
 * old one in TIME_WAIT checks when both TSvals fall in the same millisecond.
 */
static uint32_t tcp_v4_connect_isn(struct nstack *ns, uint32_t saddr, uint16_t sport,
				   uint32_t daddr, uint16_t dport)
{
	const struct tcp_state *st = ns->tcp;
	uint32_t f = tcp_mix32(tcp_mix32(tcp_mix32(st->open_secret[1] ^ saddr) ^ daddr) ^
			       ((uint32_t)sport << 16 | dport)) +
		     st->open_secret[1];

	return f + (uint32_t)(ns_now(ns) / 4u);
}

unsigned int tcp_ehashfn(const struct nstack *ns, uint32_t laddr, uint16_t lport, uint32_t faddr,
			 uint16_t fport)
{
	uint32_t h = ns->tcp->hash_secret;

	h ^= laddr * 0x9e3779b1u;
	h ^= faddr * 0x85ebca6bu;
	h ^= ((uint32_t)lport << 16 | fport) * 0xc2b2ae35u;
	h ^= h >> 15;
	h *= 0x27d4eb2du;
	h ^= h >> 13;
	return h & ns->tcp->ehash_mask;
}

static bool sk_hashed(const struct sock *sk)
{
	return sk->sk_node.le_prev != NULL;
}

/* Finds the IPv4 connection for a segment from saddr:sport to daddr:dport. */
struct sock *tcp_v4_lookup_established(struct nstack *ns, uint32_t saddr, uint16_t sport,
				       uint32_t daddr, uint16_t dport)
{
	unsigned int h = tcp_ehashfn(ns, daddr, dport, saddr, sport);
	struct sock *sk;

	LIST_FOREACH(sk, &ns->tcp->ehash[h], sk_node)
	{
		if (sk->sk_daddr == saddr && sk->sk_dport == sport && sk->sk_rcv_saddr == daddr &&
		    inet_sk(sk)->inet_sport == dport && !sk->sk_ipv6)
			return sk;
	}
	return NULL;
}

/* The connection for a received segment with addresses a, either family. */
struct sock *tcp_lookup_established(struct nstack *ns, const struct tcp_addrs *a, uint16_t sport,
				    uint16_t dport)
{
	unsigned int h;
	struct sock *sk;

	if (!a->v6)
		return tcp_v4_lookup_established(ns, a->saddr, sport, a->daddr, dport);
	h = tcp_ehashfn(ns, a->daddr, dport, a->saddr, sport);
	LIST_FOREACH(sk, &ns->tcp->ehash[h], sk_node)
	{
		if (sk->sk_ipv6 && sk->sk_dport == sport && inet_sk(sk)->inet_sport == dport &&
		    ipv6_addr_equal(&sk->sk_v6_daddr, &a->saddr6) &&
		    ipv6_addr_equal(&sk->sk_v6_rcv_saddr, &a->daddr6))
			return sk;
	}
	return NULL;
}

/*
 * Whether listener sk takes a segment to a->daddr: 2 for its exact
 * address, 1 for the wildcard, 0 not at all. A dual-stack AF_INET6
 * listener on "::" takes IPv4 too (Linux's compute_score, inet6 too).
 */
static int tcp_listener_score(const struct sock *sk, const struct tcp_addrs *a)
{
	if (!a->v6) {
		if (!sk_v4_ok(sk))
			return 0;
		return sk->sk_rcv_saddr == a->daddr ? 2 : !sk->sk_rcv_saddr;
	}
	if (!sk_v6_ok(sk))
		return 0;
	if (ipv6_addr_equal(&sk->sk_v6_rcv_saddr, &a->daddr6))
		return 2;
	return ipv6_addr_any(&sk->sk_v6_rcv_saddr) && !sk->sk_ipv6;
}

/* Finds the listener for a->daddr:dport, preferring an exact address over the wildcard. */
struct sock *tcp_lookup_listener(struct nstack *ns, const struct tcp_addrs *a, uint16_t dport)
{
	uint16_t port = ntohs(dport);
	struct sock *sk, *wild = NULL;

	LIST_FOREACH(sk, &ns->tcp->lhash[port % TCP_LHASH_SIZE], sk_node)
	{
		int score;

		if (sk->sk_num != port)
			continue;
		score = tcp_listener_score(sk, a);
		if (score == 2)
			return sk;
		if (score == 1 && !wild)
			wild = sk;
	}
	return wild;
}

/* Inserts a connection into the established hash (takes a reference). */
void tcp_ehash_insert(struct sock *sk)
{
	struct nstack *ns = sk->ns;
	unsigned int h;

	if (sk_hashed(sk))
		return;
	if (sk->sk_ipv6)
		h = tcp_ehashfn(ns, tcp_v6_fold(ns, &sk->sk_v6_rcv_saddr), inet_sk(sk)->inet_sport,
				tcp_v6_fold(ns, &sk->sk_v6_daddr), sk->sk_dport);
	else
		h = tcp_ehashfn(ns, sk->sk_rcv_saddr, inet_sk(sk)->inet_sport, sk->sk_daddr,
				sk->sk_dport);
	LIST_INSERT_HEAD(&ns->tcp->ehash[h], sk, sk_node);
	sock_hold(sk);
}

/* proto->hash: listeners go to the listening hash, everything else to ehash. */
int tcp_v4_hash(struct sock *sk)
{
	if (sk_hashed(sk))
		return 0;
	if (sk->sk_state == TCP_LISTEN) {
		LIST_INSERT_HEAD(&sk->ns->tcp->lhash[sk->sk_num % TCP_LHASH_SIZE], sk, sk_node);
		sock_hold(sk);
		return 0;
	}
	tcp_ehash_insert(sk);
	return 0;
}

/* proto->unhash: drops the table's reference (the caller holds its own). */
void tcp_v4_unhash(struct sock *sk)
{
	if (!sk_hashed(sk))
		return;
	LIST_REMOVE(sk, sk_node);
	sk->sk_node.le_prev = NULL;
	sk->sk_node.le_next = NULL;
	sock_put(sk);
}

bool tcp_sk_bound(const struct sock *sk)
{
	return sk->sk_bind_node.le_prev != NULL;
}

/*
 * Linux's inet_csk_bind_conflict(): two sockets may share a port when their
 * specific local addresses differ, or both set SO_REUSEADDR and the other
 * is not listening, or both set SO_REUSEPORT.
 */
static bool tcp_bind_conflict(const struct sock *sk, uint16_t port)
{
	struct nstack *ns = sk->ns;
	const struct sock *sk2;

	LIST_FOREACH(sk2, &ns->tcp->bhash[port % TCP_BHASH_SIZE], sk_bind_node)
	{
		if (sk2 == sk || sk2->sk_num != port)
			continue;
		if (!inet_rcv_saddr_overlap(sk, sk2))
			continue;
		if (sk->sk_reuse && sk2->sk_reuse && sk2->sk_state != TCP_LISTEN)
			continue;
		if (sk->sk_reuseport && sk2->sk_reuseport && sk2->sk_state != TCP_TIME_WAIT)
			continue;
		return true;
	}
	return false;
}

static bool tcp_port_used(struct nstack *ns, uint16_t port)
{
	const struct sock *sk2;

	LIST_FOREACH(sk2, &ns->tcp->bhash[port % TCP_BHASH_SIZE], sk_bind_node)
	if (sk2->sk_num == port)
		return true;
	return false;
}

static void tcp_bind_insert(struct sock *sk, uint16_t port)
{
	sk->sk_num = port;
	inet_sk(sk)->inet_sport = htons(port);
	LIST_INSERT_HEAD(&sk->ns->tcp->bhash[port % TCP_BHASH_SIZE], sk, sk_bind_node);
}

static int tcp_v4_pick_port(struct sock *sk, uint16_t rport);

/*
 * proto->get_port: binds sk to snum, or to a free ephemeral port when snum
 * is 0 (random start, as RFC 6056 suggests). Returns 0, -EADDRINUSE or
 * -EADDRNOTAVAIL when no ephemeral port is left.
 */
int tcp_v4_get_port(struct sock *sk, uint16_t snum)
{
	if (tcp_sk_bound(sk))
		return -EINVAL;
	if (snum) {
		if (tcp_bind_conflict(sk, snum))
			return -EADDRINUSE;
		tcp_bind_insert(sk, snum);
		return 0;
	}
	return tcp_v4_pick_port(sk, 0);
}

/*
 * A free ephemeral port for sk (random start, as RFC 6056 suggests). For
 * a connection to rport, first one whose replies the stack's group of
 * rings steers to this process's own (stack/fanout.c): it is the one that
 * waits for them, as RFS would have the kernel take them on its CPU.
 */
static int tcp_v4_pick_port(struct sock *sk, uint16_t rport)
{
	struct nstack *ns = sk->ns;
	unsigned int range = IP_LOCAL_PORT_HIGH - IP_LOCAL_PORT_LOW + 1;
	unsigned int off = ns_random32(ns) % range, n = 0;
	uint64_t mine = rport ? ns_fan_mine(ns, &n) : 0;

	for (int pass = mine ? 0 : 1; pass < 2; pass++) {
		for (unsigned int i = 0; i < range; i++) {
			uint16_t port = (uint16_t)(IP_LOCAL_PORT_LOW + (off + i) % range);

			if (!pass && !(mine >> ns_fan_bucket(rport, port, n) & 1))
				continue;
			if (!tcp_port_used(ns, port)) {
				tcp_bind_insert(sk, port);
				return 0;
			}
		}
	}
	return -EADDRNOTAVAIL;
}

/* Releases sk's port (close, or a failed connect of an autobound socket). */
void tcp_put_port(struct sock *sk)
{
	if (!tcp_sk_bound(sk))
		return;
	LIST_REMOVE(sk, sk_bind_node);
	sk->sk_bind_node.le_prev = NULL;
	sk->sk_bind_node.le_next = NULL;
}

/* Shares the listener's port with a child connection (Linux's __inet_inherit_port). */
void tcp_inherit_port(struct sock *child, uint16_t port)
{
	tcp_bind_insert(child, port);
}

/*
 * Active open (tcp_v4_connect): routes, picks the source address and an
 * ephemeral port, hashes the connection and sends the SYN.
 */
int tcp_v4_connect(struct sock *sk, const struct sockaddr *uaddr, socklen_t len)
{
	const struct sockaddr_in *usin = (const struct sockaddr_in *)uaddr;
	struct nstack *ns = sk->ns;
	struct rtable rt;
	int err;

	/* An AF_INET6 socket's IPv6 peer (v4-mapped ones arrive as AF_INET). */
	if (len >= sizeof(sa_family_t) && uaddr->sa_family == AF_INET6 && sk->sk_family == AF_INET6)
		return tcp_v6_connect(sk, uaddr, len);
	if (len < sizeof(struct sockaddr_in))
		return -EINVAL;
	if (usin->sin_family != AF_INET)
		return -EAFNOSUPPORT;
	err = ip_route_output(ns, usin->sin_addr.s_addr, &rt);
	if (err)
		return err;
	if (rt.rt_type == RTN_BROADCAST || rt.rt_type == RTN_MULTICAST)
		return -ENETUNREACH;
	if (!sk->sk_rcv_saddr)
		sk->sk_rcv_saddr = rt.rt_src;
	inet_sk(sk)->inet_saddr = sk->sk_rcv_saddr;
	sk->sk_daddr = usin->sin_addr.s_addr;
	sk->sk_dport = usin->sin_port;
	err = tcp_connect_finish(sk, rt.rt_mtu, sk->sk_rcv_saddr, sk->sk_daddr);
	if (err) {
		sk->sk_dport = 0;
		sk->sk_daddr = 0;
	}
	return err;
}

/*
 * The rest of an active open once the addresses are set (both families):
 * a port, the pair unique, the ISN and timestamp offset from the keyed
 * hashes of the addresses given, the MSS for mtu, the SYN.
 */
int tcp_connect_finish(struct sock *sk, unsigned int mtu, uint32_t isn_saddr, uint32_t isn_daddr)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct nstack *ns = sk->ns;
	bool autobound = false;
	int err;

	if (!tcp_sk_bound(sk)) {
		err = tcp_v4_pick_port(sk, ntohs(sk->sk_dport));
		if (err)
			goto failure;
		autobound = true;
	} else {
		struct tcp_addrs a;
		struct sock *old;

		/* The pair as a segment from the peer would name it. */
		tcp_sk_addrs(sk, &a);
		a.saddr6 = sk->sk_v6_daddr;
		a.daddr6 = sk->sk_v6_rcv_saddr;
		a.saddr = a.v6 ? tcp_v6_fold(ns, &a.saddr6) : sk->sk_daddr;
		a.daddr = a.v6 ? tcp_v6_fold(ns, &a.daddr6) : sk->sk_rcv_saddr;
		old = tcp_lookup_established(ns, &a, sk->sk_dport, inet_sk(sk)->inet_sport);

		if (old && !(old->sk_state == TCP_TIME_WAIT && tcp_twsk_unique(sk, old))) {
			err = -EADDRNOTAVAIL;
			goto failure;
		}
	}
	if (!ns->tcp->open_secret[0] && !ns->tcp->open_secret[1]) {
		ns->tcp->open_secret[0] = ns_random32(ns);
		ns->tcp->open_secret[1] = ns_random32(ns);
	}
	if (!tp->write_seq)
		tp->write_seq = tcp_v4_connect_isn(ns, isn_saddr, inet_sk(sk)->inet_sport,
						   isn_daddr, sk->sk_dport);
	tp->tsoffset = tcp_v4_ts_off(ns, isn_saddr, isn_daddr);
	tcp_sync_mss(sk, mtu);
	tcp_set_state(sk, TCP_SYN_SENT);
	tcp_ehash_insert(sk);
	if (tcp_fastopen_defer_connect(sk))
		return 0;
	err = tcp_connect(sk);
	if (err)
		goto failure_hashed;
	NS_INC_STATS(ns, TcpActiveOpens);
	return 0;

failure_hashed:
	tcp_set_state(sk, TCP_CLOSE);
	tcp_v4_unhash(sk);
failure:
	if (autobound)
		tcp_put_port(sk);
	return err;
}

/* The reply direction of received addresses a. */
static void tcp_addrs_reverse(const struct tcp_addrs *a, struct tcp_addrs *r)
{
	*r = *a;
	r->saddr = a->daddr;
	r->daddr = a->saddr;
	r->saddr6 = a->daddr6;
	r->daddr6 = a->saddr6;
}

/* Writes the RST that answers skb (RFC 9293 3.10.7.1 "If the state is CLOSED"). */
void tcp_send_reset_reply(struct nstack *ns, const struct sk_buff *skb)
{
	const struct tcphdr *th = (const struct tcphdr *)skb_transport_header(skb);
	const struct tcp_skb_cb *cb = TCP_SKB_CB(skb);
	struct tcp_addrs a, r;
	struct tcp_out_options o = {0};
	struct ip_tx_params p = {.df = true};
	struct sk_buff *nskb;
	uint32_t seq = 0, ack = 0;
	uint8_t flags = TH_RST;

	if (th->flags & TH_RST)
		return;
	if (th->flags & TH_ACK) {
		seq = cb->ack_seq;
	} else {
		ack = cb->end_seq;
		flags |= TH_ACK;
	}
	nskb = alloc_skb_hdr(ns, 0);
	if (!nskb)
		return;
	NS_INC_STATS(ns, TcpOutRsts);
	tcp_skb_addrs(skb, &a);
	tcp_addrs_reverse(&a, &r);
	tcp_transmit_raw(ns, nskb, &r, th->dest, th->source, seq, ack, flags, 0, &o, &p);
}

/* An ACK outside any full socket (TIME_WAIT, SYN_RECV, challenge). */
void tcp_send_ack_reply(struct nstack *ns, const struct tcp_addrs *a, uint16_t sport,
			uint16_t dport, uint32_t seq, uint32_t ack, uint32_t win, uint32_t tsval,
			uint32_t tsecr, bool ts, uint8_t flags)
{
	struct tcp_out_options o = {0};
	struct ip_tx_params p = {.df = true};
	struct sk_buff *skb = alloc_skb_hdr(ns, 0);

	if (!skb)
		return;
	if (ts) {
		o.options |= OPTION_TS;
		o.tsval = tsval;
		o.tsecr = tsecr;
	}
	if (flags & TH_RST)
		NS_INC_STATS(ns, TcpOutRsts);
	tcp_transmit_raw(ns, skb, a, sport, dport, seq, ack, flags | TH_ACK,
			 (uint16_t)(win > 65535 ? 65535 : win), &o, &p);
}

/* Validates a segment's header and checksum and fills its control block. */
static int tcp_check(struct nstack *ns, struct sk_buff *skb, const struct tcp_addrs *a)
{
	struct tcphdr *th;
	struct tcp_skb_cb *cb;
	unsigned int doff;

	if (!pskb_may_pull(skb, TCP_HLEN_MIN))
		return -EINVAL;
	th = (struct tcphdr *)skb->data;
	doff = TCP_DOFF(th) * 4u;
	if (doff < TCP_HLEN_MIN || doff > skb->len)
		return -EINVAL;
	if (skb->ip_summed != CHECKSUM_UNNECESSARY &&
	    (a->v6 ? csum_ipv6_magic(&a->saddr6, &a->daddr6, skb->len, IPPROTO_TCP, skb->data)
		   : csum_tcpudp_magic(a->saddr, a->daddr, skb->len, IPPROTO_TCP,
				       csum_partial(skb->data, skb->len, 0))) != 0) {
		NS_INC_STATS(ns, TcpInCsumErrors);
		return -EBADMSG;
	}
	skb_reset_transport_header(skb);
	cb = TCP_SKB_CB(skb);
	memset(cb, 0, sizeof(*cb));
	cb->seq = ntohl(th->seq);
	cb->ack_seq = ntohl(th->ack_seq);
	cb->tcp_flags = th->flags;
	cb->end_seq = cb->seq + (skb->len - doff) + !!(th->flags & TH_SYN) + !!(th->flags & TH_FIN);
	return 0;
}

/*
 * The receive handler in inet_protos[IPPROTO_TCP]: checks the segment,
 * finds its socket (connection, then listener) and hands it on; answers
 * with RST when nothing matches. Consumes skb.
 */
int tcp_v4_rcv(struct sk_buff *skb)
{
	struct tcp_addrs a;

	tcp_skb_addrs(skb, &a);
	return tcp_rcv(skb, &a);
}

/* See tcp.h; a are skb's addresses. */
int tcp_rcv(struct sk_buff *skb, const struct tcp_addrs *a)
{
	struct nstack *ns = skb->ns;
	const struct tcphdr *th;
	struct sock *sk;
	int err;

	if (skb->pkt_type != PACKET_HOST && skb->pkt_type != PACKET_LOOPBACK)
		goto discard;
	NS_INC_STATS(ns, TcpInSegs);
	err = tcp_check(ns, skb, a);
	if (err) {
		NS_INC_STATS(ns, TcpInErrs);
		goto discard;
	}
	th = (const struct tcphdr *)skb->data;

	ns->tcp->rx_now = skb->tstamp_us ? skb->tstamp_us : ns_now(ns);
	sk = tcp_lookup_established(ns, a, th->source, th->dest);
	if (sk && sk->sk_state == TCP_TIME_WAIT) {
		sock_hold(sk);
		err = tcp_timewait_state_process(sk, skb);
		sock_put(sk);
		if (err <= 0) {
			/* Handled (or dropped) by the TIME_WAIT socket. */
			if (err < 0)
				goto no_socket;
			goto discard;
		}
		/* A new SYN killed the TIME_WAIT socket: give it to the listener. */
		sk = NULL;
	}
	if (!sk)
		sk = tcp_lookup_listener(ns, a, th->dest);
	if (!sk)
		goto no_socket;

	sock_hold(sk);
	ns->tcp->rx_stolen = false;
	err = tcp_rcv_state_process(sk, skb);
	if (ns->tcp->rx_stolen) {
		/* Queued as received data (or already freed as a duplicate). */
		sock_put(sk);
		ns->tcp->rx_now = 0;
		return 0;
	}
	if (err < 0) {
		/* The state machine asked for a reset (RFC 9293 3.10.7.2). */
		tcp_send_reset_reply(ns, skb);
	}
	sock_put(sk);
	ns->tcp->rx_now = 0;
	kfree_skb(skb);
	return 0;

no_socket:
	tcp_send_reset_reply(ns, skb);
discard:
	ns->tcp->rx_now = 0;
	kfree_skb(skb);
	return 0;
}

/*
 * The path MTU shrank (RFC 1191): segments in flight that no longer fit are
 * lost; resend them at the new size (Linux's tcp_simple_retransmit).
 */
void tcp_simple_retransmit(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	unsigned int mss = tcp_current_mss(sk);
	struct sk_buff *skb;

	skb_queue_walk(&sk->sk_write_queue, skb)
	{
		struct tcp_skb_cb *cb = TCP_SKB_CB(skb);

		if (skb == tp->send_head)
			break;
		if (skb->len > mss && !(cb->sacked & (TCPCB_SACKED_ACKED | TCPCB_LOST))) {
			if (cb->sacked & TCPCB_SACKED_RETRANS) {
				cb->sacked &= (uint8_t)~TCPCB_SACKED_RETRANS;
				tp->retrans_out--;
			}
			cb->sacked |= TCPCB_LOST;
			tp->lost_out++;
		}
	}
	tcp_xmit_retransmit_queue(sk);
}

/* ICMP errors about a segment we sent (RFC 1122 4.2.3.9, RFC 5927). */
/*
 * The connection an ICMP or ICMPv6 error quoting our segment th is about
 * (a: the addresses as the quoted header has them, reversed: saddr is the
 * peer), or NULL when the error ends here. Errors quoting a sequence number
 * not in flight are counted and ignored (RFC 5927). A request still in a
 * listener's SYN queue is dropped when req_abort says the peer cannot be
 * reached, so the SYN-ACK is not retransmitted into nothing and the peer's
 * late ACK is answered by a reset (Linux's tcp_req_err).
 */
struct sock *tcp_err_lookup(struct nstack *ns, const struct tcp_addrs *a, const struct tcphdr *th,
			    bool req_abort)
{
	uint32_t seq = ntohl(th->seq);
	struct tcp_request_sock *req;
	struct sock *sk, *lsk;

	sk = tcp_lookup_established(ns, a, th->dest, th->source);
	if (sk) {
		if (sk->sk_state == TCP_TIME_WAIT)
			return NULL;
		const struct tcp_sock *tp = tcp_sk(sk);
		/* A Fast Open child starts past its SYN-ACK, which is still unacked. */
		uint32_t una = tp->snd_una - (tp->fastopen_child && sk->sk_state == TCP_SYN_RECV);

		if (sk->sk_state != TCP_LISTEN && !between(seq, una, tp->snd_nxt)) {
			NS_INC_STATS(ns, TcpExtOutOfWindowIcmps);
			return NULL;
		}
		return sk;
	}
	lsk = tcp_lookup_listener(ns, a, th->source);
	req = lsk ? tcp_find_req(lsk, a, th->dest) : NULL;
	if (!req)
		return NULL;
	if (seq != req->snt_isn)
		NS_INC_STATS(ns, TcpExtOutOfWindowIcmps);
	else if (req_abort) {
		NS_INC_STATS(ns, TcpExtListenDrops);
		tcp_reqsk_free(req);
	}
	return NULL;
}

void tcp_v4_err(struct sk_buff *skb, int type, int code, uint32_t info)
{
	struct nstack *ns = skb->ns;
	const struct iphdr *iph = (const struct iphdr *)skb->data;
	const struct tcphdr *th;
	struct tcp_addrs a;
	struct sock *sk;
	unsigned int ihl;
	int err, fatal = 0;

	if (skb->len < IP_HLEN_MIN)
		return;
	ihl = IP_IHL(iph) * 4u;
	if (ihl < IP_HLEN_MIN || skb->len < ihl + 8)
		return;
	th = (const struct tcphdr *)(skb->data + ihl);
	memset(&a, 0, sizeof(a));
	a.saddr = iph->daddr;
	a.daddr = iph->saddr;
	/* Linux drops a request only for these; others (a PMTU note) leave it be. */
	sk = tcp_err_lookup(ns, &a, th,
			    type == ICMP_PARAMETERPROB || type == ICMP_TIME_EXCEEDED ||
				(type == ICMP_DEST_UNREACH &&
				 (code == ICMP_NET_UNREACH || code == ICMP_HOST_UNREACH)));
	if (!sk)
		return;

	if (type == ICMP_DEST_UNREACH && code == ICMP_FRAG_NEEDED) {
		unsigned int mtu = info & 0xffff;

		if (mtu >= 68 && mtu < 65536 && mtu < tcp_sk(sk)->pmtu) {
			tcp_sync_mss(sk, mtu);
			tcp_simple_retransmit(sk);
		}
		return;
	}
	err = icmp_err_convert(type, code, &fatal);
	if (err)
		tcp_err_report(sk, err);
}

/*
 * A believed ICMP or ICMPv6 error err about sk's traffic. While the
 * connection is being opened any such error ends it, hard or soft (Linux's
 * tcp_v4_err: connect() fails with EHOSTUNREACH on a host unreachable);
 * an accepted Fast Open child counts as open. Otherwise it is soft unless
 * IP_RECVERR asks.
 */
void tcp_err_report(struct sock *sk, int err)
{
	const struct tcp_sock *tp = tcp_sk(sk);

	sock_hold(sk);
	if (sk->sk_state == TCP_SYN_SENT ||
	    (sk->sk_state == TCP_SYN_RECV && !(tp->fastopen_child && !tp->parent))) {
		sk->sk_err = err;
		SK_CB(sk, sk_error_report)(sk);
		tcp_done(sk);
	} else if (sk->sk_ipv6 ? inet_sk(sk)->v6.recverr : inet_sk(sk)->recverr) {
		sk->sk_err = err;
		SK_CB(sk, sk_error_report)(sk);
	} else {
		sk->sk_err_soft = err;
	}
	sock_put(sk);
}

/* Only plain data segments (ACK, maybe PSH) may be delivered out of arrival order. */
static bool tcp_v4_rx_order_key(const uint8_t *th, size_t len, struct rx_order_key *key)
{
	const struct tcphdr *t = (const struct tcphdr *)th;
	size_t doff;

	if (len < sizeof(*t))
		return false;
	doff = (size_t)TCP_DOFF(t) * 4;
	if (doff < TCP_HLEN_MIN || doff >= len || !TCP_FLAGS_PLAIN_DATA(t->flags))
		return false;
	key->ports = (uint32_t)t->source << 16 | t->dest;
	key->seq = ntohl(t->seq);
	return true;
}

static const struct inet_protocol tcp_protocol = {
    .handler = tcp_v4_rcv,
    .err_handler = tcp_v4_err,
    .rx_order_key = tcp_v4_rx_order_key,
};

static const struct inet_protosw tcp_protosw = {
    .type = SOCK_STREAM,
    .protocol = IPPROTO_TCP,
    .prot = &tcp_prot,
    .ops = &inet_stream_ops,
    .flags = INET_PROTOSW_PERMANENT | INET_PROTOSW_ICSK,
};

/*
 * Frees every TCP socket still alive at stack teardown: connections
 * closing on their own, TIME_WAIT, and sockets the embedder never closed
 * (detached from their struct socket, as udp_exit does).
 */
static void tcp_purge_all(struct nstack *ns)
{
	struct tcp_state *st = ns->tcp;
	struct tcp_sock *tp;

	st->exiting = true;
	while ((tp = LIST_FIRST(&st->all))) {
		struct sock *sk = tp_sk(tp);
		bool user_ref = false;

		sock_hold(sk);
		if (sk->sk_socket) {
			ns_warn(ns, "tcp: socket on port %u still open at exit", sk->sk_num);
			sk->sk_socket->sk = NULL;
			sk->sk_socket = NULL;
			user_ref = true;
		}
		if (tp->parent) {
			/* Never accepted: the accept queue held the reference. */
			struct tcp_sock *lp = tcp_sk(tp->parent);

			TAILQ_REMOVE(&lp->accept_queue, tp, accept_link);
			tp->parent->sk_ack_backlog--;
			tp->parent = NULL;
			user_ref = true;
		}
		sock_set_flag(sk, SOCK_DEAD);
		if (sk->sk_state == TCP_LISTEN)
			tcp_listen_purge(sk);
		if (sk->sk_state != TCP_CLOSE)
			tcp_done(sk);
		tcp_v4_unhash(sk);
		tcp_put_port(sk);
		tcp_clear_xmit_timers(sk);
		if (tp->in_all) {
			LIST_REMOVE(tp, all_link);
			tp->in_all = false;
		}
		if (user_ref)
			sock_put(sk);
		sock_put(sk);
	}
}

/* Registers TCP in the protocol switch and the receive demux. */
int tcp_init(struct nstack *ns)
{
	struct tcp_state *st;
	unsigned int buckets;
	int err, i;

	st = ns_zalloc(ns, sizeof(*st));
	if (!st)
		return -ENOMEM;
	buckets = TCP_EHASH_MIN;
	while (buckets < TCP_EHASH_MAX &&
	       (size_t)buckets * 2 * TCP_EHASH_ARENA_BYTES <= ns->arena->size)
		buckets *= 2;
	st->ehash = ns_zalloc(ns, buckets * sizeof(*st->ehash));
	st->rhash = ns_zalloc(ns, buckets * sizeof(*st->rhash));
	if (!st->ehash || !st->rhash) {
		err = -ENOMEM;
		goto out_free;
	}
	st->ehash_mask = buckets - 1;
	ns->tcp = st;
	LIST_INIT(&st->all);
	st->hash_secret = ns_random32(ns);
	for (i = 0; i < 4; i++)
		st->cookie_secret[i] = ns_random32(ns);
	err = tcp_cong_init(ns);
	if (err)
		goto out_free;
	err = inet_add_protocol(ns, &tcp_protocol, IPPROTO_TCP);
	if (err)
		goto out_cong;
	err = inet_register_protosw(ns, &tcp_protosw);
	if (err)
		goto out_proto;
	return 0;

out_proto:
	inet_del_protocol(ns, IPPROTO_TCP);
out_cong:
	tcp_cong_exit(ns);
out_free:
	ns_free(ns, st->ehash);
	ns_free(ns, st->rhash);
	ns_free(ns, st);
	ns->tcp = NULL;
	return err;
}

/* Unregisters TCP and frees what is left of its sockets. */
void tcp_exit(struct nstack *ns)
{
	if (!ns->tcp)
		return;
	inet_unregister_protosw(ns, &tcp_protosw);
	inet_del_protocol(ns, IPPROTO_TCP);
	tcp_purge_all(ns);
	tcp_cong_exit(ns);
	ns_free(ns, ns->tcp->ehash);
	ns_free(ns, ns->tcp->rhash);
	ns_free(ns, ns->tcp);
	ns->tcp = NULL;
}
