/*
 * ICMP echo ("ping") sockets: socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP),
 * as Linux's net/ipv4/ping.c. The socket's "port" is the echo identifier:
 * the application writes an echo request header and payload, the stack
 * puts in the identifier and the checksum; replies carrying the identifier
 * are returned whole (ICMP header and data).
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "checksum.h"
#include "icmp.h"
#include "inet.h"
#include "inet_dgram.h"
#include "ip.h"
#include "icmpv6.h"
#include "ipv6.h"
#include "ping.h"
#include "sock.h"
#include "stack.h"

static struct sock_list *ping_slot(struct ping_table *t, uint16_t ident)
{
	return &t->hash[ident & (UDP_HTABLE_SIZE - 1)];
}

/* The ping socket that owns echo identifier ident for packets to daddr (Linux's ping_lookup). */
struct sock *ping_lookup(struct nstack *ns, uint16_t ident, uint32_t daddr)
{
	int dif = inet_dev_index(ns);
	struct sock *sk;

	if (!ns->ping)
		return NULL;
	LIST_FOREACH(sk, ping_slot(ns->ping, ident), sk_node)
	{
		if (sk->sk_num != ident || sk->sk_family != AF_INET)
			continue;
		if (sk->sk_rcv_saddr && sk->sk_rcv_saddr != daddr)
			continue;
		if (sk->sk_bound_dev_if && sk->sk_bound_dev_if != dif)
			continue;
		return sk;
	}
	return NULL;
}

/* The same for an echo reply over IPv6: AF_INET6 ping sockets only (Linux's ping_lookup). */
static struct sock *ping_lookup6(struct nstack *ns, uint16_t ident, const struct in6_addr *daddr)
{
	int dif = inet_dev_index(ns);
	struct sock *sk;

	if (!ns->ping)
		return NULL;
	LIST_FOREACH(sk, ping_slot(ns->ping, ident), sk_node)
	{
		if (sk->sk_num != ident || sk->sk_family != AF_INET6)
			continue;
		if (sk->sk_ipv6 ? !ipv6_addr_any(&sk->sk_v6_rcv_saddr) &&
				      !ipv6_addr_equal(&sk->sk_v6_rcv_saddr, daddr)
				: sk->sk_rcv_saddr != 0)
			continue;
		if (sk->sk_bound_dev_if && sk->sk_bound_dev_if != dif)
			continue;
		return sk;
	}
	return NULL;
}

static bool ping_ident_conflict(struct ping_table *t, const struct sock *sk, uint16_t ident)
{
	struct sock *sk2;

	LIST_FOREACH(sk2, ping_slot(t, ident), sk_node)
	{
		if (sk2 != sk && sk2->sk_num == ident && (!sk2->sk_reuse || !sk->sk_reuse))
			return true;
	}
	return false;
}

/*
 * Takes identifier ident, or the next free one after the rover when 0
 * (Linux's ping_get_port; identifier 0 is never handed out). The rover
 * starts at a random point: several processes each running their own stack
 * on one address would otherwise all start at identifier 1.
 */
static int ping_get_port(struct sock *sk, uint16_t ident)
{
	struct ping_table *t = sk->ns->ping;
	struct sock *sk2;

	if (!ident) {
		uint16_t cand = (uint16_t)(t->ident_rover + 1);
		uint32_t i;

		for (i = 0; i < 65536; i++, cand++) {
			bool used = false;

			if (!cand)
				cand++;
			LIST_FOREACH(sk2, ping_slot(t, cand), sk_node)
			{
				if (sk2->sk_num == cand) {
					used = true;
					break;
				}
			}
			if (!used)
				break;
		}
		if (i == 65536)
			return -EADDRINUSE;
		t->ident_rover = cand;
		ident = cand;
	} else if (ping_ident_conflict(t, sk, ident)) {
		return -EADDRINUSE;
	}
	sk->sk_num = ident;
	inet_sk(sk)->inet_sport = htons(ident);
	LIST_INSERT_HEAD(ping_slot(t, ident), sk, sk_node);
	sock_reset_flag(sk, SOCK_ZAPPED);
	return 0;
}

static void ping_unhash(struct sock *sk)
{
	if (sock_flag(sk, SOCK_ZAPPED))
		return;
	LIST_REMOVE(sk, sk_node);
	sk->sk_num = 0;
	inet_sk(sk)->inet_sport = 0;
	sock_set_flag(sk, SOCK_ZAPPED);
}

static int ping_init_sock(struct sock *sk)
{
	/* Linux checks net.ipv4.ping_group_range here; the process owns this stack. */
	LIST_INSERT_HEAD(&sk->ns->ping->all, sk, sk_bind_node);
	return 0;
}

static void ping_destroy(struct sock *sk)
{
	if (sk->ns->ping)
		LIST_REMOVE(sk, sk_bind_node);
}

/* bind(): a local address (not broadcast) and an identifier (Linux's ping_bind). */
static int ping_bind(struct sock *sk, const struct sockaddr *uaddr, socklen_t len)
{
	struct inet_sock *inet = inet_sk(sk);
	struct sockaddr_in sin;
	uint16_t ident;
	bool bcast;
	int err;

	if (len < sizeof(sin))
		return -EINVAL;
	memcpy(&sin, uaddr, sizeof(sin));
	if (sin.sin_family != AF_INET &&
	    !(sin.sin_family == AF_UNSPEC && sin.sin_addr.s_addr == htonl(INADDR_ANY)))
		return -EAFNOSUPPORT;
	err = inet_bind_addr_check(sk, sin.sin_addr.s_addr, &bcast);
	if (err || bcast)
		return -EADDRNOTAVAIL;
	ident = ntohs(sin.sin_port);
	if (sk->sk_num)
		return -EINVAL;
	sk->sk_rcv_saddr = sin.sin_addr.s_addr;
	inet->inet_saddr = sin.sin_addr.s_addr;
	if (ping_get_port(sk, ident)) {
		sk->sk_rcv_saddr = 0;
		inet->inet_saddr = 0;
		return -EADDRINUSE;
	}
	if (sk->sk_rcv_saddr)
		sk->sk_userlocks_bindaddr = true;
	if (ident)
		sk->sk_userlocks_bindport = true;
	sk->sk_daddr = 0;
	sk->sk_dport = 0;
	return 0;
}

/*
 * sendmsg() (Linux's ping_v4_sendmsg): the buffer must start with an echo
 * request header (type 8, code 0), else -EINVAL; the identifier and the
 * checksum are the stack's.
 */
static ssize_t ping_sendmsg(struct sock *sk, const struct msghdr *msg, size_t len, int flags)
{
	struct nstack *ns = sk->ns;
	struct inet_sock *inet = inet_sk(sk);
	struct icmphdr user;
	struct ipcm_cookie ipc;
	struct ip_tx_params p;
	struct rtable rt;
	struct sk_buff *skb;
	struct icmphdr *ih;
	uint32_t daddr, saddr;
	uint16_t dport;
	int err;

	if (len > 0xffff)
		return -EMSGSIZE;
	if (len < ICMP_HLEN)
		return -EINVAL;
	if (flags & MSG_OOB)
		return -EOPNOTSUPP;
	if (memcpy_from_msg(&user, msg, 0, sizeof(user)))
		return -EFAULT;
	if (user.type != ICMP_ECHO || user.code != 0)
		return -EINVAL;
	err = ip_dgram_daddr(sk, msg, false, &daddr, &dport);
	if (err)
		return err;
	err = ip_dgram_route(sk, msg, daddr, &ipc, &rt, &saddr);
	if (err)
		return err;
	err = ip_dgram_check_size(sk, &rt, len, 0);
	if (err)
		return err;

	skb = ip_dgram_skb_from_msg(sk, msg, len, 0, flags, &err);
	if (!skb)
		return err;
	ih = (struct icmphdr *)skb->data;
	ih->un.echo.id = inet->inet_sport;
	ih->checksum = 0;
	ih->checksum = csum_fold(csum_partial(ih, len, 0));
	skb_reset_transport_header(skb);
	skb->tstamp_us = ns_now(ns);
	ip_dgram_tx_params(sk, &ipc, &rt, len + IP_HLEN_MIN, &p);
	err = ip_build_and_send(ns, skb, saddr, daddr, IPPROTO_ICMP, &p);
	if (err)
		return err;
	icmp_out_count(ns, ICMP_ECHO);
	return (ssize_t)len;
}

/* recvmsg(): the whole echo reply, ICMP header first, and who sent it. */
static ssize_t ping_recvmsg(struct sock *sk, struct msghdr *msg, size_t len, int flags)
{
	return ip_dgram_recvmsg(sk, msg, len, flags, IP_DGRAM_OOB_EOPNOTSUPP);
}

/* Gives sk a clone of the echo reply skb, stamped; false when it could not take it. */
static bool ping_queue_rcv(struct sock *sk, const struct sk_buff *skb)
{
	struct sk_buff *c = skb_clone((struct sk_buff *)skb);

	if (!c)
		return false;
	if (!c->tstamp_us)
		c->tstamp_us = ns_now(sk->ns);
	if (sock_queue_rcv_skb(sk, c)) {
		kfree_skb(c);
		return false;
	}
	return true;
}

/* See ping.h. Does not consume skb: the socket gets a clone. */
bool ping_rcv(struct sk_buff *skb)
{
	struct nstack *ns = skb->ns;
	const struct iphdr *iph = (const struct iphdr *)skb_network_header(skb);
	const struct icmphdr *ih = (const struct icmphdr *)skb->data;
	struct sock *sk;

	if (skb->len < ICMP_HLEN)
		return false;
	sk = ping_lookup(ns, ntohs(ih->un.echo.id), iph->daddr);
	if (!sk)
		return false;
	return ping_queue_rcv(sk, skb);
}

/*
 * An ICMP error quoting one of our echo requests (Linux's ping_err);
 * skb->data at the quoted IP header, 8 bytes of ICMP after it.
 */
void ping_err(struct sk_buff *skb, int type, int code, uint32_t info)
{
	struct nstack *ns = skb->ns;
	const struct iphdr *oiph = (const struct iphdr *)skb_network_header(skb);
	const struct iphdr *iph = (const struct iphdr *)skb->data;
	const struct icmphdr *qih = (const struct icmphdr *)(skb->data + IP_IHL(iph) * 4u);
	struct sock *sk;
	bool harderr = false;
	int err, fatal = 0;

	if (qih->type != ICMP_ECHO || qih->code != 0)
		return;
	sk = ping_lookup(ns, ntohs(qih->un.echo.id), oiph->daddr);
	if (!sk)
		return;
	switch (type) {
	case ICMP_SOURCE_QUENCH:
	case ICMP_REDIRECT:
		/* Not errors, but ping wants to see them (Linux reports EREMOTEIO). */
		err = EREMOTEIO;
		break;
	case ICMP_DEST_UNREACH:
		if (code == ICMP_FRAG_NEEDED) {
			if (inet_sk(sk)->pmtudisc == IP_PMTUDISC_DONT)
				return;
			err = EMSGSIZE;
			harderr = true;
			break;
		}
		/* fall through */
	default:
		err = icmp_err_convert(type, code, &fatal);
		harderr = fatal;
		break;
	}
	ip_dgram_icmp_report(sk, skb, err, harderr, type, code, 0, info,
			     (const unsigned char *)qih);
}

/* See ping.h (Linux's ping_err for AF_INET6). */
void ping_err6(struct sk_buff *skb, uint8_t type, uint8_t code, int offset, uint32_t info)
{
	struct icmp6hdr qih;
	struct in6_addr saddr;
	struct sock *sk;
	bool harderr;
	int err;

	memcpy(&qih, skb->data + offset, sizeof(qih));
	if (qih.icmp6_code != 0)
		return;
	/* The echo request went from the address the socket is bound to. */
	memcpy(&saddr, skb->data + offsetof(struct ipv6hdr, saddr), sizeof(saddr));
	sk = ping_lookup6(skb->ns, ntohs(qih.un.un_data16[0]), &saddr);
	if (!sk)
		return;
	harderr = icmpv6_err_convert(type, code, &err);
	ip6_dgram_icmp_report(sk, skb, err, harderr, type, code, 0, info, skb->data + offset);
}

/*
 * sendmsg() of an IPv6 ping socket (Linux's ping_v6_sendmsg): an echo
 * request header (type 128, code 0) and payload to an IPv6 address
 * proper (v4-mapped: -EINVAL), the identifier and checksum the stack's;
 * hop limit, traffic class and source as for UDP over IPv6.
 */
static ssize_t ping_v6_sendmsg(struct sock *sk, const struct msghdr *msg, size_t len, int flags)
{
	struct nstack *ns = sk->ns;
	struct in6_addr daddr, saddr;
	struct icmp6hdr user, *ih;
	struct sk_buff *skb;
	struct ip6_tx_params tp;
	int err;

	if (len > IPV6_MAXPLEN)
		return -EMSGSIZE;
	if (flags & MSG_OOB)
		return -EOPNOTSUPP;
	if (msg->msg_name) {
		const struct sockaddr *sa = msg->msg_name;
		struct sockaddr_in6 u;

		/* af_inet6.c hands a v4-mapped destination on as AF_INET. */
		if (msg->msg_namelen >= sizeof(sa_family_t) && sa->sa_family == AF_INET)
			return -EINVAL;
		if (msg->msg_namelen < SIN6_LEN_RFC2133)
			return -EINVAL;
		memset(&u, 0, sizeof(u));
		memcpy(&u, sa, msg->msg_namelen < sizeof(u) ? msg->msg_namelen : sizeof(u));
		if (u.sin6_family != AF_INET6)
			return -EAFNOSUPPORT;
		if (ipv6_addr_is_linklocal(&u.sin6_addr) && !u.sin6_scope_id &&
		    !sk->sk_bound_dev_if)
			return -EINVAL;
		daddr = u.sin6_addr;
	} else {
		if (sk->sk_state != SK_ST_ESTABLISHED || !sk->sk_ipv6)
			return -EDESTADDRREQ;
		daddr = sk->sk_v6_daddr;
	}
	if (ipv6_addr_v4mapped(&daddr))
		return -EINVAL;
	if (len < ICMP6_HLEN)
		return -EINVAL;
	if (memcpy_from_msg(&user, msg, 0, sizeof(user)))
		return -EFAULT;
	if (user.icmp6_type != ICMPV6_ECHO_REQUEST || user.icmp6_code != 0)
		return -EINVAL;
	err = ip6_datagram_send_prepare(sk, msg, &daddr, &saddr, &tp);
	if (err)
		return err;
	err = ip6_datagram_check_mtu(sk, &daddr, 0, &tp, len);
	if (err)
		return err;
	skb = ip_dgram_skb_from_msg(sk, msg, len, 0, flags, &err);
	if (!skb)
		return err;
	ih = (struct icmp6hdr *)skb->data;
	ih->un.un_data16[0] = inet_sk(sk)->inet_sport;
	ih->icmp6_cksum = 0;
	ih->icmp6_cksum = csum_ipv6_magic(&saddr, &daddr, (uint32_t)len, NEXTHDR_ICMP, ih);
	skb_reset_transport_header(skb);
	skb->tstamp_us = ns_now(ns);
	err = ip6_output_frag(ns, skb, &saddr, &daddr, NEXTHDR_ICMP, &tp);
	if (err)
		return err;
	icmpv6_out_count(ns, ICMPV6_ECHO_REQUEST);
	return (ssize_t)len;
}

/* See ping.h. Does not consume skb: the socket gets a clone. */
bool ping_rcv6(struct sk_buff *skb)
{
	struct nstack *ns = skb->ns;
	struct icmp6hdr ih;
	struct sock *sk;

	if (skb->len < ICMP6_HLEN)
		return false;
	memcpy(&ih, skb->data, sizeof(ih));
	sk = ping_lookup6(ns, ntohs(ih.un.un_data16[0]), &ipv6_hdr(skb)->daddr);
	if (!sk)
		return false;
	return ping_queue_rcv(sk, skb);
}

/* Linux's pingv6_prot: the identifier table and teardown are ping's. */
const struct proto pingv6_prot = {
    .name = "PINGv6",
    .obj_size = sizeof(struct inet_sock),
    .init = ping_init_sock,
    .close = ip4_datagram_close,
    .connect = ip6_datagram_connect,
    .disconnect = ip6_datagram_disconnect,
    .destroy = ping_destroy,
    .setsockopt = ip_setsockopt,
    .getsockopt = ip_getsockopt,
    .sendmsg = ping_v6_sendmsg,
    .recvmsg = ip6_datagram_recvmsg,
    .bind = ping_bind,
    .unhash = ping_unhash,
    .get_port = ping_get_port,
    .max_header = MAX_HEADER,
};

const struct proto ping_prot = {
    .name = "PING",
    .obj_size = sizeof(struct inet_sock),
    .init = ping_init_sock,
    .close = ip4_datagram_close,
    .connect = ip4_datagram_connect,
    .disconnect = ip4_datagram_disconnect,
    .destroy = ping_destroy,
    .setsockopt = ip_setsockopt,
    .getsockopt = ip_getsockopt,
    .sendmsg = ping_sendmsg,
    .recvmsg = ping_recvmsg,
    .bind = ping_bind,
    .unhash = ping_unhash,
    .get_port = ping_get_port,
    .max_header = MAX_HEADER,
};

/* Sets up the identifier table. */
int ping_init(struct nstack *ns)
{
	struct ping_table *t = ns_zalloc(ns, sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (int i = 0; i < UDP_HTABLE_SIZE; i++)
		LIST_INIT(&t->hash[i]);
	LIST_INIT(&t->all);
	t->ident_rover = (uint16_t)ns_random32(ns);
	ns->ping = t;
	return 0;
}

/* Closes what the embedder left open and frees the table (as udp_exit()). */
void ping_exit(struct nstack *ns)
{
	struct ping_table *t = ns->ping;

	if (!t)
		return;
	ip4_datagram_close_all(ns, &t->all, NULL);
	ns->ping = NULL;
	ns_free(ns, t);
}
