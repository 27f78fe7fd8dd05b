/*
 * Raw IPv4 sockets (SOCK_RAW), as Linux's net/ipv4/raw.c: every socket of
 * protocol N receives a copy of each IP packet of protocol N addressed to
 * us, IP header included; sending builds the IP header unless IP_HDRINCL
 * (always on for IPPROTO_RAW) says the application wrote it. ICMP sockets
 * can filter message types with ICMP_FILTER.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "checksum.h"
#include "icmp.h"
#include "inet.h"
#include "inet_dgram.h"
#include "ip.h"
#include "raw.h"
#include "sock.h"
#include "stack.h"

#ifndef SOL_RAW
#define SOL_RAW 255
#endif

static inline struct raw_sock *raw_sk(const struct sock *sk)
{
	return (struct raw_sock *)sk;
}

/*
 * Puts sk on the raw list of its family (Linux's raw_hash_sk, which
 * rawv6_prot shares): IPv4 packets are offered to AF_INET sockets only,
 * IPv6 packets to AF_INET6 ones.
 */
int raw_hash_sk(struct sock *sk)
{
	struct raw_table *t = sk->ns->raw;

	LIST_INSERT_HEAD(sk->sk_family == AF_INET6 ? &t->v6 : &t->all, sk, sk_node);
	sock_reset_flag(sk, SOCK_ZAPPED);
	return 0;
}

/* Takes sk off its raw list (Linux's raw_unhash_sk). */
void raw_unhash_sk(struct sock *sk)
{
	if (sock_flag(sk, SOCK_ZAPPED))
		return;
	LIST_REMOVE(sk, sk_node);
	sock_set_flag(sk, SOCK_ZAPPED);
}

/* Linux's raw_v4_match(): protocol, then any address or device the socket is tied to. */
static bool raw_match(const struct sock *sk, uint8_t protocol, uint32_t raddr, uint32_t laddr,
		      int dif)
{
	return sk->sk_num == protocol && (!sk->sk_daddr || sk->sk_daddr == raddr) &&
	       (!sk->sk_rcv_saddr || sk->sk_rcv_saddr == laddr) &&
	       (!sk->sk_bound_dev_if || sk->sk_bound_dev_if == dif);
}

/* True when the ICMP_FILTER of sk drops this packet (skb->data at the IP header). */
static bool raw_icmp_filtered(const struct sock *sk, const struct sk_buff *skb)
{
	const struct iphdr *iph = (const struct iphdr *)skb->data;
	unsigned int hlen = IP_IHL(iph) * 4u;
	uint8_t type;

	if (skb->len <= hlen)
		return true;
	type = skb->data[hlen];
	/* Types past 31 are never filtered (Linux's icmp_filter()). */
	return type < 32 && ((1u << type) & raw_sk(sk)->icmp_filter);
}

/* Queues c on sk, stamped; see raw.h. */
void raw_rcv_skb(struct sock *sk, struct sk_buff *c)
{
	if (!c->tstamp_us)
		c->tstamp_us = ns_now(sk->ns);
	if (sock_queue_rcv_skb(sk, c)) {
		kfree_skb(c);
		return;
	}
	NS_INC_STATS(sk->ns, RawInDatagrams);
}

/*
 * See raw.h: each matching socket queues a clone, IP header first. A match
 * counts as delivered even when the socket filters the packet or its
 * buffer is full, as Linux's raw_v4_input() reports it.
 */
bool raw_local_deliver(struct nstack *ns, struct sk_buff *skb, uint8_t protocol)
{
	const struct iphdr *iph = (const struct iphdr *)skb->data;
	int dif = inet_dev_index(ns);
	bool delivered = false;
	struct sock *sk;

	if (!ns->raw || skb->len < IP_HLEN_MIN)
		return false;
	LIST_FOREACH(sk, &ns->raw->all, sk_node)
	{
		struct sk_buff *c;

		if (!raw_match(sk, protocol, iph->saddr, iph->daddr, dif))
			continue;
		delivered = true;
		if (protocol == IPPROTO_ICMP && raw_icmp_filtered(sk, skb))
			continue;
		c = skb_clone(skb);
		if (c)
			raw_rcv_skb(sk, c);
	}
	return delivered;
}

/*
 * See raw.h (Linux's raw_icmp_error/raw_err): skb->data at the quoted IP
 * header. Reported with IP_RECVERR, or on a connected socket when hard.
 */
void raw_icmp_error(struct nstack *ns, struct sk_buff *skb, uint8_t protocol, int type, int code,
		    uint32_t info)
{
	const struct iphdr *iph = (const struct iphdr *)skb->data;
	int dif = inet_dev_index(ns);
	struct sock *sk;

	if (!ns->raw)
		return;
	LIST_FOREACH(sk, &ns->raw->all, sk_node)
	{
		struct inet_sock *inet = inet_sk(sk);
		bool harderr = false;
		int err, fatal = 0;

		if (!raw_match(sk, protocol, iph->daddr, iph->saddr, dif))
			continue;
		if (type == ICMP_REDIRECT || type == ICMP_SOURCE_QUENCH)
			continue;
		if (type == ICMP_DEST_UNREACH && code == ICMP_FRAG_NEEDED) {
			/* Unlike UDP: a soft error with IP_PMTUDISC_DONT (raw_err()). */
			harderr = inet->pmtudisc != IP_PMTUDISC_DONT;
			err = EMSGSIZE;
		} else {
			err = icmp_err_convert(type, code, &fatal);
			harderr = fatal;
		}
		/* With IP_HDRINCL the application sees the quoted IP header too. */
		ip_dgram_icmp_report(sk, skb, err, harderr, type, code, 0, info,
				     inet->hdrincl ? skb->data : skb->data + IP_IHL(iph) * 4u);
	}
}

/* bind(): only the local address matters (Linux's raw_bind). */
static int raw_bind(struct sock *sk, const struct sockaddr *uaddr, socklen_t len)
{
	struct inet_sock *inet = inet_sk(sk);
	struct sockaddr_in sin;
	bool bcast;
	int err;

	if (sk->sk_state != SK_ST_CLOSE || len < sizeof(sin))
		return -EINVAL;
	memcpy(&sin, uaddr, sizeof(sin));
	err = inet_bind_addr_check(sk, sin.sin_addr.s_addr, &bcast);
	if (err)
		return err;
	sk->sk_rcv_saddr = sin.sin_addr.s_addr;
	inet->inet_saddr = bcast ? 0 : sin.sin_addr.s_addr;
	if (sk->sk_rcv_saddr)
		sk->sk_userlocks_bindaddr = true;
	return 0;
}

/*
 * IP_HDRINCL (Linux's raw_send_hdrinc): the application's header goes out
 * as written, except that the stack fills the total length, the checksum,
 * a zero source address and a zero ID.
 */
static ssize_t raw_send_hdrinc(struct sock *sk, const struct msghdr *msg, size_t len, int flags,
			       const struct rtable *rt)
{
	struct nstack *ns = sk->ns;
	struct sk_buff *skb;
	struct iphdr *iph;
	int err;

	if (len > rt->rt_mtu) {
		ip_local_error(sk, EMSGSIZE, rt->rt_dst, 0, rt->rt_mtu);
		return -EMSGSIZE;
	}
	if (len < IP_HLEN_MIN)
		return -EINVAL;
	skb = ip_dgram_skb_from_msg(sk, msg, len, 0, flags, &err);
	if (!skb)
		return err;
	iph = (struct iphdr *)skb->data;
	if (IP_IHL(iph) * 4u > len || IP_IHL(iph) < 5) {
		kfree_skb(skb);
		return -EINVAL;
	}
	if (iph->protocol == IPPROTO_ICMP && len >= IP_IHL(iph) * 4u + ICMP_HLEN)
		icmp_out_count(ns, skb->data[IP_IHL(iph) * 4u]);
	skb->tstamp_us = ns_now(ns);
	err = ip_send_raw(ns, skb);
	if (err)
		return err;
	NS_INC_STATS(ns, RawOutDatagrams);
	return (ssize_t)len;
}

/* sendmsg() (Linux's raw_sendmsg). */
static ssize_t raw_sendmsg(struct sock *sk, const struct msghdr *msg, size_t len, int flags)
{
	struct nstack *ns = sk->ns;
	struct ipcm_cookie ipc;
	struct ip_tx_params p;
	struct rtable rt;
	struct sk_buff *skb;
	uint32_t daddr, saddr;
	uint16_t dport;
	int err;

	if (len > 0xffff)
		return -EMSGSIZE;
	if (flags & MSG_OOB)
		return -EOPNOTSUPP;
	err = ip_dgram_daddr(sk, msg, true, &daddr, &dport);
	if (err)
		return err;
	err = ip_dgram_route(sk, msg, daddr, &ipc, &rt, &saddr);
	if (err)
		return err;
	if (inet_sk(sk)->hdrincl)
		return raw_send_hdrinc(sk, msg, len, flags, &rt);
	err = ip_dgram_check_size(sk, &rt, len, 0);
	if (err)
		return err;
	skb = ip_dgram_skb_from_msg(sk, msg, len, 0, flags, &err);
	if (!skb)
		return err;
	if (sk->sk_num == IPPROTO_ICMP && len >= 1)
		icmp_out_count(ns, skb->data[0]);
	skb_reset_transport_header(skb);
	skb->tstamp_us = ns_now(ns);
	ip_dgram_tx_params(sk, &ipc, &rt, len + IP_HLEN_MIN, &p);
	err = ip_build_and_send(ns, skb, saddr, daddr, (uint8_t)sk->sk_num, &p);
	if (err)
		return err;
	NS_INC_STATS(ns, RawOutDatagrams);
	return (ssize_t)len;
}

/* recvmsg(): the whole IP packet and its source address. */
static ssize_t raw_recvmsg(struct sock *sk, struct msghdr *msg, size_t len, int flags)
{
	return ip_dgram_recvmsg(sk, msg, len, flags, IP_DGRAM_OOB_EOPNOTSUPP);
}

/*
 * Sets an ICMP_FILTER or ICMP6_FILTER of size bytes; see raw.h. Linux
 * copies at most the filter and takes a shorter value, which sets its
 * first bytes.
 */
int raw_set_filter(void *filter, size_t size, const void *optval, socklen_t optlen)
{
	if (optlen > size)
		optlen = (socklen_t)size;
	if (optlen && !optval)
		return -EFAULT;
	memcpy(filter, optval, optlen);
	return 0;
}

/* Reads a filter back, cut to *optlen; see raw.h. */
int raw_get_filter(const void *filter, size_t size, void *optval, socklen_t *optlen)
{
	if ((int)*optlen < 0)
		return -EINVAL;
	return sock_put_opt(optval, optlen, filter, size);
}

/* SOL_RAW/ICMP_FILTER for ICMP sockets, else the IP level. */
static int raw_setsockopt(struct sock *sk, int level, int optname, const void *optval,
			  socklen_t optlen)
{
	if (level != SOL_RAW)
		return ip_setsockopt(sk, level, optname, optval, optlen);
	if (optname != ICMP_FILTER)
		return -ENOPROTOOPT;
	if (sk->sk_num != IPPROTO_ICMP)
		return -EOPNOTSUPP;
	return raw_set_filter(&raw_sk(sk)->icmp_filter, sizeof(uint32_t), optval, optlen);
}

static int raw_getsockopt(struct sock *sk, int level, int optname, void *optval, socklen_t *optlen)
{
	if (level != SOL_RAW)
		return ip_getsockopt(sk, level, optname, optval, optlen);
	if (optname != ICMP_FILTER)
		return -ENOPROTOOPT;
	if (sk->sk_num != IPPROTO_ICMP)
		return -EOPNOTSUPP;
	return raw_get_filter(&raw_sk(sk)->icmp_filter, sizeof(uint32_t), optval, optlen);
}

const struct proto raw_prot = {
    .name = "RAW",
    .obj_size = sizeof(struct raw_sock),
    .close = ip4_datagram_close,
    .connect = ip4_datagram_connect,
    .disconnect = ip4_datagram_disconnect,
    .ioctl = ip_dgram_ioctl, /* SIOCINQ counts the IP header */
    .setsockopt = raw_setsockopt,
    .getsockopt = raw_getsockopt,
    .sendmsg = raw_sendmsg,
    .recvmsg = raw_recvmsg,
    .bind = raw_bind,
    .hash = raw_hash_sk,
    .unhash = raw_unhash_sk,
    .max_header = MAX_HEADER,
};

/* Sets up the raw socket list. */
int raw_init(struct nstack *ns)
{
	struct raw_table *t = ns_zalloc(ns, sizeof(*t));

	if (!t)
		return -ENOMEM;
	LIST_INIT(&t->all);
	LIST_INIT(&t->v6);
	ns->raw = t;
	return 0;
}

static void raw_close_list(struct sock_list *l)
{
	struct sock *sk, *tmp;

	LIST_FOREACH_SAFE(sk, l, sk_node, tmp)
	{
		if (sk->sk_socket) {
			sk->sk_socket->sk = NULL;
			sk->sk_socket = NULL;
		}
		/* Unhashes it; a reference held by a packet in flight frees it later. */
		ip4_datagram_close(sk, 0);
	}
}

/* Closes what the embedder left open, of both families, and frees the lists. */
void raw_exit(struct nstack *ns)
{
	struct raw_table *t = ns->raw;

	if (!t)
		return;
	raw_close_list(&t->all);
	raw_close_list(&t->v6);
	ns->raw = NULL;
	ns_free(ns, t);
}
