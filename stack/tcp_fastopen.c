/*
 * TCP Fast Open (RFC 7413), as Linux's net/ipv4/tcp_fastopen.c: the
 * client's cookie cache (Linux keeps it in tcp_metrics, per destination),
 * the decision whether a SYN may carry data, deferred connects
 * (TCP_FASTOPEN_CONNECT), and what the SYN-ACK of a Fast Open teaches.
 */
#include <errno.h>
#include <string.h>

#include "stack.h"
#include "tcp.h"

static struct tcp_fastopen_metrics *fo_lookup(struct sock *sk, bool create)
{
	struct tcp_state *st = sk->ns->tcp;
	struct tcp_fastopen_metrics *m, *oldest = &st->fo_cache[0];

	for (int i = 0; i < TCP_FASTOPEN_CACHE; i++) {
		m = &st->fo_cache[i];
		if (m->daddr == sk->sk_daddr && m->daddr) {
			m->used = ns_now(sk->ns);
			return m;
		}
		if (m->used < oldest->used)
			oldest = m;
	}
	if (!create)
		return NULL;
	memset(oldest, 0, sizeof(*oldest));
	oldest->daddr = sk->sk_daddr;
	oldest->cookie.len = -1;
	oldest->used = ns_now(sk->ns);
	return oldest;
}

/* The cached MSS and cookie of this socket's destination (tcp_fastopen_cache_get). */
void tcp_fastopen_cache_get(struct sock *sk, uint16_t *mss, struct tcp_fastopen_cookie *cookie)
{
	struct tcp_fastopen_metrics *m = fo_lookup(sk, false);

	cookie->len = 0;
	cookie->exp = false;
	if (!m)
		return;
	if (m->mss)
		*mss = m->mss;
	if (m->cookie.len > 0)
		*cookie = m->cookie;
	if (cookie->len <= 0 && m->try_exp == 1)
		cookie->exp = true;
}

/* What a Fast Open SYN-ACK taught (tcp_fastopen_cache_set). */
void tcp_fastopen_cache_set(struct sock *sk, uint16_t mss, const struct tcp_fastopen_cookie *cookie,
			    uint8_t try_exp)
{
	struct tcp_fastopen_metrics *m = fo_lookup(sk, true);

	if (mss)
		m->mss = mss;
	if (cookie && cookie->len > 0)
		m->cookie = *cookie;
	else if (try_exp > m->try_exp && m->cookie.len <= 0 && !m->cookie.exp)
		m->try_exp = try_exp;
}

/*
 * Whether our SYN may carry data (tcp_fastopen_cookie_check): with a
 * cached cookie, or without one when cookies are not required
 * (TFO_CLIENT_NO_COOKIE, TCP_FASTOPEN_NO_COOKIE), in which case the SYN
 * carries no option at all. Otherwise cookie->len is 0: ask for one.
 */
bool tcp_fastopen_cookie_check(struct sock *sk, uint16_t *mss, struct tcp_fastopen_cookie *cookie)
{
	struct tcp_sock *tp = tcp_sk(sk);

	tcp_fastopen_cache_get(sk, mss, cookie);
	if ((sk->ns->cfg.tcp.fastopen & TFO_CLIENT_NO_COOKIE) || tp->fastopen_no_cookie) {
		cookie->len = -1;
		return true;
	}
	return cookie->len > 0;
}

/*
 * TCP_FASTOPEN_CONNECT (tcp_fastopen_defer_connect): with a cookie in hand
 * connect() sends nothing and returns at once, the SYN leaving with the
 * first write's data; without one the SYN leaves now, asking for a cookie.
 * True when the connect is deferred.
 */
bool tcp_fastopen_defer_connect(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct tcp_fastopen_cookie cookie;
	uint16_t mss = 0;

	if (!tp->fastopen_connect || tp->fo_req)
		return false;
	if (tcp_fastopen_cookie_check(sk, &mss, &cookie)) {
		tp->defer_connect = true;
		return true;
	}
	/* A data-less Fast Open connect: the SYN carries the cookie request. */
	tp->fo_req = true;
	tp->fo_msg = NULL;
	tp->fo_size = 0;
	return false;
}

/*
 * The SYN-ACK answering our Fast Open SYN (tcp_rcv_fastopen_synack), after
 * its ACK was processed: remember the server's MSS and cookie, and send
 * again at once the SYN data it did not acknowledge.
 */
bool tcp_rcv_fastopen_synack(struct sock *sk, const struct tcp_options_received *o)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct sk_buff *data = NULL;
	struct tcp_fastopen_cookie cookie = o->fo;
	uint8_t try_exp = 0;

	if (tp->syn_data) {
		data = skb_peek(&sk->sk_write_queue);
		if (data == tp->send_head)
			data = NULL;
	}
	if (!tp->syn_fastopen) {
		cookie.len = -1; /* an unsolicited cookie is ignored */
	} else if (cookie.len < 0 && !tp->syn_data) {
		/* We asked and got nothing: try the other option format next time. */
		try_exp = tp->syn_fastopen_exp ? 2 : 1;
	}
	tcp_fastopen_cache_set(sk, o->mss_clamp, &cookie, try_exp);
	if (data) {
		NS_INC_STATS(sk->ns, TcpExtTCPFastOpenActiveFail);
		tcp_retransmit_skb(sk, data);
		return true;
	}
	tp->syn_data_acked = tp->syn_data;
	if (tp->syn_data_acked)
		NS_INC_STATS(sk->ns, TcpExtTCPFastOpenActive);
	return false;
}

/* SipHash-2-4 (Aumasson and Bernstein), the PRF Linux's Fast Open cookies use. */
#define SIP_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIP_ROUND                                                                                  \
	do {                                                                                       \
		v0 += v1;                                                                          \
		v1 = SIP_ROTL(v1, 13);                                                             \
		v1 ^= v0;                                                                          \
		v0 = SIP_ROTL(v0, 32);                                                             \
		v2 += v3;                                                                          \
		v3 = SIP_ROTL(v3, 16);                                                             \
		v3 ^= v2;                                                                          \
		v0 += v3;                                                                          \
		v3 = SIP_ROTL(v3, 21);                                                             \
		v3 ^= v0;                                                                          \
		v2 += v1;                                                                          \
		v1 = SIP_ROTL(v1, 17);                                                             \
		v1 ^= v2;                                                                          \
		v2 = SIP_ROTL(v2, 32);                                                             \
	} while (0)

static uint64_t siphash24(const uint8_t *in, size_t len, const uint64_t key[2])
{
	uint64_t v0 = 0x736f6d6570736575ull ^ key[0], v1 = 0x646f72616e646f6dull ^ key[1];
	uint64_t v2 = 0x6c7967656e657261ull ^ key[0], v3 = 0x7465646279746573ull ^ key[1];
	uint64_t m, last = (uint64_t)len << 56;
	size_t i, whole = len & ~(size_t)7;

	for (i = 0; i < whole; i += 8) {
		m = 0;
		for (int j = 7; j >= 0; j--)
			m = m << 8 | in[i + (size_t)j];
		v3 ^= m;
		SIP_ROUND;
		SIP_ROUND;
		v0 ^= m;
	}
	for (i = 0; i < (len & 7); i++)
		last |= (uint64_t)in[whole + i] << (8 * i);
	v3 ^= last;
	SIP_ROUND;
	SIP_ROUND;
	v0 ^= last;
	v2 ^= 0xff;
	SIP_ROUND;
	SIP_ROUND;
	SIP_ROUND;
	SIP_ROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/*
 * Linux's __tcp_fastopen_cookie_gen_cipher() for IPv4: SipHash of the SYN's
 * source and destination addresses, as they sit in the IP header, under
 * the listener's TCP_FASTOPEN_KEY, else net.ipv4.tcp_fastopen_key, else a
 * random key; the value little-endian. The same key gives the same cookie
 * as a Linux server would.
 */
void tcp_fastopen_cookie_gen(struct sock *lsk, uint32_t saddr, uint32_t daddr,
			     struct tcp_fastopen_cookie *foc)
{
	struct tcp_state *st = lsk->ns->tcp;
	const struct tcp_config *c = &lsk->ns->cfg.tcp;
	const uint64_t *key;
	uint8_t in[8];
	uint64_t h;

	if (tcp_sk(lsk)->fo_key_set) {
		key = tcp_sk(lsk)->fo_key;
	} else if (c->fastopen_key_set) {
		key = c->fastopen_key;
	} else {
		if (!st->fo_key_drawn) {
			st->fo_key[0] = (uint64_t)ns_random32(lsk->ns) << 32 | ns_random32(lsk->ns);
			st->fo_key[1] = (uint64_t)ns_random32(lsk->ns) << 32 | ns_random32(lsk->ns);
			st->fo_key_drawn = true;
		}
		key = st->fo_key;
	}
	memcpy(in, &saddr, 4);
	memcpy(in + 4, &daddr, 4);
	h = siphash24(in, sizeof(in), key);
	for (int i = 0; i < TCP_FASTOPEN_COOKIE_SIZE; i++)
		foc->val[i] = (uint8_t)(h >> (8 * i));
	foc->len = TCP_FASTOPEN_COOKIE_SIZE;
	foc->exp = false;
}

/*
 * Fast Open children still in SYN-RECEIVED are limited to the listener's
 * TCP_FASTOPEN queue length. nstack counts those in the accept queue; one
 * accepted before the client's ACK no longer counts (Linux's does).
 */
bool tcp_fastopen_queue_check(struct sock *sk)
{
	struct tcp_sock *lp = tcp_sk(sk), *child;
	int n = 0;

	if (lp->fo_max_qlen <= 0)
		return false;
	TAILQ_FOREACH(child, &lp->accept_queue, accept_link)
	{
		if (child->fastopen_child && tp_sk(child)->sk_state == TCP_SYN_RECV)
			n++;
	}
	if (n >= lp->fo_max_qlen) {
		NS_INC_STATS(sk->ns, TcpExtTCPFastOpenListenOverflow);
		return false;
	}
	return true;
}
