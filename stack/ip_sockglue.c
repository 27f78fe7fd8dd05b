/*
 * IPPROTO_IP socket options, control messages in both directions and the
 * IP_RECVERR error queue (Linux's net/ipv4/ip_sockglue.c).
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "inet.h"
#include "inet_dgram.h"
#include "ip.h"
#include "sock.h"
#include "stack.h"

/* Linux's INET_ECN_MASK: the low two bits of the TOS byte. */
#define INET_ECN_MASK 3

/*
 * Appends the control messages flags ask for, in Linux's order
 * (ip_cmsg_recv_offset): IP_PKTINFO, IP_TTL, IP_TOS, IP_ORIGDSTADDR.
 * skb's network header is the IPv4 header of the packet.
 */
void ip_cmsg_recv_flags(struct msghdr *msg, const struct sk_buff *skb, unsigned int flags)
{
	const struct iphdr *iph;
	struct nstack *ns = skb->ns;

	if (!flags || skb->network_header == SKB_HDR_UNSET)
		return;
	iph = (const struct iphdr *)skb_network_header(skb);
	if (flags & IP_CMSG_PKTINFO) {
		struct in_pktinfo info;

		memset(&info, 0, sizeof(info));
		info.ipi_ifindex = inet_dev_index(ns);
		/* Linux's fib_compute_spec_dst(): our address unless the packet was for another of
		 * ours. */
		info.ipi_spec_dst.s_addr =
		    inet_addr_is_local(ns, iph->daddr) ? iph->daddr : ns->cfg.addr;
		info.ipi_addr.s_addr = iph->daddr;
		put_cmsg(msg, IPPROTO_IP, IP_PKTINFO, sizeof(info), &info);
	}
	if (flags & IP_CMSG_TTL) {
		int ttl = iph->ttl;

		put_cmsg(msg, IPPROTO_IP, IP_TTL, sizeof(ttl), &ttl);
	}
	if (flags & IP_CMSG_TOS) {
		unsigned char tos = iph->tos;

		put_cmsg(msg, IPPROTO_IP, IP_TOS, 1, &tos);
	}
	if ((flags & IP_CMSG_ORIGDSTADDR) && skb->transport_header != SKB_HDR_UNSET &&
	    skb->transport_header + 4u <= (unsigned int)(skb->tail - skb->head)) {
		const uint8_t *ports = skb_transport_header(skb);
		struct sockaddr_in sin;

		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = iph->daddr;
		memcpy(&sin.sin_port, ports + 2, 2);
		put_cmsg(msg, IPPROTO_IP, IP_ORIGDSTADDR, sizeof(sin), &sin);
	}
}

/* Adds the IP_* control messages the owning socket asked for (skb->sk). */
void ip_cmsg_recv(struct msghdr *msg, struct sk_buff *skb)
{
	if (skb->sk)
		ip_cmsg_recv_flags(msg, skb, inet_sk(skb->sk)->cmsg_flags);
}

/*
 * Parses the control messages of sendmsg() (Linux's ip_cmsg_send):
 * IP_PKTINFO (source address), IP_TTL, IP_TOS; malformed ones -EINVAL.
 */
int ip_cmsg_send(struct sock *sk, const struct msghdr *msg, struct ipcm_cookie *ipc)
{
	struct msghdr *m = (struct msghdr *)msg;
	struct cmsghdr *c;

	ipc->addr = 0;
	ipc->ttl = -1;
	ipc->tos = -1;
	if (!msg->msg_control || msg->msg_controllen < sizeof(struct cmsghdr))
		return 0;
	for (c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		size_t room = (size_t)((char *)msg->msg_control + msg->msg_controllen - (char *)c);
		int val;

		if (c->cmsg_len < sizeof(struct cmsghdr) || c->cmsg_len > room)
			return -EINVAL;
		if (c->cmsg_level == SOL_SOCKET) {
			/* __sock_cmsg_send(): credentials and rights are ignored here, the rest
			 * unknown. */
			if (c->cmsg_type == SCM_RIGHTS || c->cmsg_type == SCM_CREDENTIALS)
				continue;
			return -EINVAL;
		}
		if (c->cmsg_level != IPPROTO_IP)
			continue;
		switch (c->cmsg_type) {
		case IP_PKTINFO: {
			struct in_pktinfo info;

			if (c->cmsg_len != CMSG_LEN(sizeof(info)))
				return -EINVAL;
			memcpy(&info, CMSG_DATA(c), sizeof(info));
			ipc->addr = info.ipi_spec_dst.s_addr;
			break;
		}
		case IP_TTL:
			if (c->cmsg_len != CMSG_LEN(sizeof(int)))
				return -EINVAL;
			memcpy(&val, CMSG_DATA(c), sizeof(val));
			if (val < 1 || val > 255)
				return -EINVAL;
			ipc->ttl = val;
			break;
		case IP_TOS:
			if (c->cmsg_len == CMSG_LEN(sizeof(int))) {
				memcpy(&val, CMSG_DATA(c), sizeof(val));
			} else if (c->cmsg_len == CMSG_LEN(1)) {
				val = *(const unsigned char *)CMSG_DATA(c);
			} else {
				return -EINVAL;
			}
			if (val < 0 || val > 255)
				return -EINVAL;
			ipc->tos = val;
			break;
		case IP_RETOPTS:
			/* IP options are not supported on output: refuse rather than drop them. */
			return -EINVAL;
		default:
			return -EINVAL;
		}
	}
	(void)sk;
	return 0;
}

/*
 * TTL, TOS, DF and IP ID for a datagram socket's packet of iplen bytes, as
 * Linux chooses them: DF with IP_PMTUDISC_DO/PROBE, or with WANT when the
 * packet fits the route's MTU; the ID from the connected socket's own
 * counter, 0 for other unfragmentable packets, else the stack's counter
 * (ip_select_ident_segs()).
 */
void ip_dgram_tx_params(struct sock *sk, const struct ipcm_cookie *ipc, const struct rtable *rt,
			size_t iplen, struct ip_tx_params *p)
{
	struct inet_sock *inet = inet_sk(sk);

	memset(p, 0, sizeof(*p));
	if (ipc && ipc->ttl >= 0)
		p->ttl = (uint8_t)ipc->ttl;
	else if (rt->rt_type == RTN_MULTICAST)
		p->ttl = inet->mc_ttl;
	else if (inet->uc_ttl >= 0)
		p->ttl = (uint8_t)inet->uc_ttl;
	p->tos = ipc && ipc->tos >= 0 ? (uint8_t)ipc->tos : inet->tos;
	switch (inet->pmtudisc) {
	case IP_PMTUDISC_DO:
	case IP_PMTUDISC_PROBE:
		p->df = true;
		break;
	case IP_PMTUDISC_WANT:
		p->df = iplen <= rt->rt_mtu;
		break;
	default:
		p->df = false;
		break;
	}
	p->broadcast_ok = sock_flag(sk, SOCK_BROADCAST);
	if (sk->sk_daddr) {
		p->id_set = true;
		p->id = ++inet->inet_id;
	} else if (p->df) {
		p->id_set = true;
		p->id = 0;
	}
}

/*
 * Queues an IP_RECVERR entry (Linux's ip_icmp_error): a clone of the ICMP
 * packet whose data is the payload of the datagram it quotes, with the
 * extended error in cb. skb->data is at the quoted IP header and its
 * network header is the ICMP packet's IP header.
 */
void ip_icmp_error(struct sock *sk, struct sk_buff *skb, int err, int type, int code, uint16_t port,
		   uint32_t info, const unsigned char *payload)
{
	struct sock_exterr_skb *serr;
	struct sk_buff *c;
	unsigned int off;

	if (!inet_sk(sk)->recverr)
		return;
	c = skb_clone(skb);
	if (!c)
		return;
	serr = skb_exterr(c);
	memset(serr, 0, sizeof(*serr));
	serr->ee.ee_errno = (uint32_t)err;
	serr->ee.ee_origin = SO_EE_ORIGIN_ICMP;
	serr->ee.ee_type = (uint8_t)type;
	serr->ee.ee_code = (uint8_t)code;
	serr->ee.ee_info = info;
	serr->addr_offset =
	    (uint16_t)(skb->data + offsetof(struct iphdr, daddr) - skb_network_header(skb));
	serr->port = port;
	off = payload >= skb->data ? (unsigned int)(payload - skb->data) : 0;
	if (off > c->len)
		off = c->len;
	skb_pull(c, off);
	skb_reset_transport_header(c);
	if (sock_queue_err_skb(sk, c))
		kfree_skb(c);
}

/*
 * Queues an error found while sending (Linux's ip_local_error), such as
 * EMSGSIZE with the path MTU in ee_info, for IP_RECVERR sockets: tracepath
 * learns the MTU this way. The entry carries an IP header holding the
 * destination, and no data.
 */
void ip_local_error(struct sock *sk, int err, uint32_t daddr, uint16_t port, uint32_t info)
{
	struct sock_exterr_skb *serr;
	struct sk_buff *skb;
	struct iphdr *iph;

	if (!inet_sk(sk)->recverr)
		return;
	skb = alloc_skb(sk->ns, sizeof(*iph));
	if (!skb)
		return;
	iph = (struct iphdr *)skb_put(skb, sizeof(*iph));
	memset(iph, 0, sizeof(*iph));
	iph->daddr = daddr;
	skb_reset_network_header(skb);
	skb->tstamp_us = ns_now(sk->ns);
	serr = skb_exterr(skb);
	memset(serr, 0, sizeof(*serr));
	serr->ee.ee_errno = (uint32_t)err;
	serr->ee.ee_origin = SO_EE_ORIGIN_LOCAL;
	serr->ee.ee_info = info;
	serr->addr_offset = offsetof(struct iphdr, daddr);
	serr->port = port;
	skb_pull(skb, sizeof(*iph));
	if (sock_queue_err_skb(sk, skb))
		kfree_skb(skb);
}

/* The cmsg of MSG_ERRQUEUE: the extended error and the offender's address. */
struct ip_errhdr {
	struct sock_extended_err ee;
	struct sockaddr_in offender;
};

/*
 * recvmsg(MSG_ERRQUEUE) (Linux's ip_recv_error): the quoted payload as
 * data, the original destination as msg_name, an IP_RECVERR control
 * message; sk_err then follows what is left in the queue.
 */
ssize_t ip_recv_error(struct sock *sk, struct msghdr *msg, size_t len)
{
	struct sock_exterr_skb *serr;
	struct ip_errhdr errhdr;
	struct sk_buff *skb, *next;
	size_t copied;
	int err;

	skb = skb_dequeue(&sk->sk_error_queue);
	if (!skb)
		return -EAGAIN;
	next = skb_peek(&sk->sk_error_queue);
	serr = skb_exterr(skb);
	if (next && skb_exterr(next)->ee.ee_origin == SO_EE_ORIGIN_ICMP)
		sk->sk_err = (int)skb_exterr(next)->ee.ee_errno;
	else if (serr->ee.ee_origin == SO_EE_ORIGIN_ICMP)
		sk->sk_err = 0;

	err = ip_dgram_copy_msg(sk, skb, msg, len, &copied);
	if (err)
		goto out;
	/* Linux's ipv4_datagram_support_addr(): local errors name the peer only with a port. */
	if (serr->ee.ee_origin == SO_EE_ORIGIN_ICMP ||
	    (serr->ee.ee_origin == SO_EE_ORIGIN_LOCAL && serr->port)) {
		uint32_t addr;

		memcpy(&addr, skb_network_header(skb) + serr->addr_offset, 4);
		ip_dgram_put_name(msg, addr, serr->port);
	}
	memset(&errhdr, 0, sizeof(errhdr));
	errhdr.ee = serr->ee;
	if (serr->ee.ee_origin == SO_EE_ORIGIN_ICMP) {
		const struct iphdr *iph = (const struct iphdr *)skb_network_header(skb);

		errhdr.offender.sin_family = AF_INET;
		errhdr.offender.sin_addr.s_addr = iph->saddr;
		ip_cmsg_recv_flags(msg, skb, inet_sk(sk)->cmsg_flags);
	}
	if (serr->ee.ee_origin == SO_EE_ORIGIN_TIMESTAMPING)
		sock_put_tx_timestamp(msg, sk, skb);
	put_cmsg(msg, IPPROTO_IP, IP_RECVERR, sizeof(errhdr), &errhdr);
	msg->msg_flags |= MSG_ERRQUEUE;
	err = (int)copied;
out:
	kfree_skb(skb);
	return err;
}

/*
 * Options whose value Linux reads as an int, or as one byte when optlen is
 * shorter (ip_setsockopt's int-or-char list); optlen 0 means 0.
 */
static int opt_int_or_char(const void *optval, socklen_t optlen, int *val)
{
	*val = 0;
	if (optlen >= sizeof(int)) {
		if (!optval)
			return -EFAULT;
		memcpy(val, optval, sizeof(int));
	} else if (optlen >= 1) {
		if (!optval)
			return -EFAULT;
		*val = *(const unsigned char *)optval;
	}
	return 0;
}

static void set_cmsg_flag(struct inet_sock *inet, unsigned int flag, int val)
{
	if (val)
		inet->cmsg_flags |= flag;
	else
		inet->cmsg_flags &= ~flag;
}

/*
 * setsockopt(IPPROTO_IP), as Linux's do_ip_setsockopt(). Multicast group
 * membership is not implemented (-ENOPROTOOPT, as for unknown options).
 */
int ip_setsockopt(struct sock *sk, int level, int optname, const void *optval, socklen_t optlen)
{
	struct inet_sock *inet = inet_sk(sk);
	int val, err;

	if (level != IPPROTO_IP)
		return -ENOPROTOOPT;
	switch (optname) {
	case IP_PKTINFO:
	case IP_RECVTTL:
	case IP_RECVOPTS:
	case IP_RECVTOS:
	case IP_RETOPTS:
	case IP_TOS:
	case IP_TTL:
	case IP_HDRINCL:
	case IP_MTU_DISCOVER:
	case IP_RECVERR:
	case IP_ROUTER_ALERT:
	case IP_FREEBIND:
	case IP_PASSSEC:
	case IP_TRANSPARENT:
	case IP_MINTTL:
	case IP_NODEFRAG:
	case IP_BIND_ADDRESS_NO_PORT:
	case IP_UNICAST_IF:
	case IP_MULTICAST_TTL:
	case IP_MULTICAST_ALL:
	case IP_MULTICAST_LOOP:
	case IP_RECVORIGDSTADDR:
	case IP_CHECKSUM:
	case IP_RECVFRAGSIZE:
		err = opt_int_or_char(optval, optlen, &val);
		if (err)
			return err;
		break;
	default:
		val = 0;
		break;
	}

	switch (optname) {
	case IP_OPTIONS:
		/* Clearing the options is all we support. */
		return optlen == 0 ? 0 : -EINVAL;
	case IP_PKTINFO:
		set_cmsg_flag(inet, IP_CMSG_PKTINFO, val);
		return 0;
	case IP_RECVTTL:
		set_cmsg_flag(inet, IP_CMSG_TTL, val);
		return 0;
	case IP_RECVTOS:
		set_cmsg_flag(inet, IP_CMSG_TOS, val);
		return 0;
	case IP_RECVOPTS:
		set_cmsg_flag(inet, IP_CMSG_RECVOPTS, val);
		return 0;
	case IP_RECVORIGDSTADDR:
		set_cmsg_flag(inet, IP_CMSG_ORIGDSTADDR, val);
		return 0;
	case IP_RETOPTS:
		return 0;
	case IP_TOS:
		/* TCP owns the ECN bits of its TOS byte. */
		if (sk->sk_type == SOCK_STREAM) {
			val &= ~INET_ECN_MASK;
			val |= inet->tos & INET_ECN_MASK;
		}
		inet->tos = (uint8_t)val;
		return 0;
	case IP_TTL:
		if (optlen < 1)
			return -EINVAL;
		if (val != -1 && (val < 1 || val > 255))
			return -EINVAL;
		inet->uc_ttl = val;
		return 0;
	case IP_HDRINCL:
		if (sk->sk_type != SOCK_RAW)
			return -ENOPROTOOPT;
		inet->hdrincl = val != 0;
		return 0;
	case IP_MTU_DISCOVER:
		if (val < IP_PMTUDISC_DONT || val > IP_PMTUDISC_OMIT)
			return -EINVAL;
		inet->pmtudisc = (uint8_t)val;
		return 0;
	case IP_RECVERR:
		inet->recverr = val != 0;
		if (!val)
			skb_queue_purge(&sk->sk_error_queue);
		return 0;
	case IP_FREEBIND:
		if (optlen < 1)
			return -EINVAL;
		inet->freebind = val != 0;
		return 0;
	case IP_TRANSPARENT:
		if (optlen < 1)
			return -EINVAL;
		inet->transparent = val != 0;
		return 0;
	case IP_BIND_ADDRESS_NO_PORT:
		inet->bind_address_no_port = val != 0;
		return 0;
	case IP_MULTICAST_TTL:
		if (sk->sk_type == SOCK_STREAM || optlen < 1)
			return -EINVAL;
		if (val == -1)
			val = 1;
		if (val < 0 || val > 255)
			return -EINVAL;
		inet->mc_ttl = (uint8_t)val;
		return 0;
	case IP_MULTICAST_LOOP:
		if (optlen < 1)
			return -EINVAL;
		inet->mc_loop = val != 0;
		return 0;
	case IP_MULTICAST_IF: {
		struct ip_mreqn mreq;

		if (sk->sk_type == SOCK_STREAM)
			return -EINVAL;
		memset(&mreq, 0, sizeof(mreq));
		if (optlen >= sizeof(struct ip_mreqn))
			memcpy(&mreq, optval, sizeof(mreq));
		else if (optlen >= sizeof(struct ip_mreq))
			memcpy(&mreq, optval, sizeof(struct ip_mreq));
		else if (optlen >= sizeof(struct in_addr))
			memcpy(&mreq.imr_address, optval, sizeof(struct in_addr));
		else
			return -EINVAL;
		if (mreq.imr_address.s_addr && !inet_addr_is_local(sk->ns, mreq.imr_address.s_addr))
			return -EADDRNOTAVAIL;
		inet->mc_addr = mreq.imr_address.s_addr;
		return 0;
	}
	default:
		return -ENOPROTOOPT;
	}
}

/* Writes an int option as Linux's do_ip_getsockopt(): one byte when asked for less than an int. */
static int put_int_opt(int val, void *optval, socklen_t *optlen)
{
	socklen_t len = *optlen;

	if (len < sizeof(int) && len > 0 && val >= 0 && val <= 255) {
		if (!optval)
			return -EFAULT;
		*(unsigned char *)optval = (unsigned char)val;
		*optlen = 1;
		return 0;
	}
	return sock_put_opt(optval, optlen, &val, sizeof(val));
}

/* getsockopt(IPPROTO_IP). */
int ip_getsockopt(struct sock *sk, int level, int optname, void *optval, socklen_t *optlen)
{
	struct inet_sock *inet = inet_sk(sk);
	int val;

	if (level != IPPROTO_IP)
		return -EOPNOTSUPP;
	if ((int)*optlen < 0)
		return -EINVAL;
	switch (optname) {
	case IP_OPTIONS:
		*optlen = 0;
		return 0;
	case IP_PKTINFO:
		val = !!(inet->cmsg_flags & IP_CMSG_PKTINFO);
		break;
	case IP_RECVTTL:
		val = !!(inet->cmsg_flags & IP_CMSG_TTL);
		break;
	case IP_RECVTOS:
		val = !!(inet->cmsg_flags & IP_CMSG_TOS);
		break;
	case IP_RECVOPTS:
		val = !!(inet->cmsg_flags & IP_CMSG_RECVOPTS);
		break;
	case IP_RECVORIGDSTADDR:
		val = !!(inet->cmsg_flags & IP_CMSG_ORIGDSTADDR);
		break;
	case IP_TOS:
		val = inet->tos;
		break;
	case IP_TTL:
		val = inet->uc_ttl >= 0 ? inet->uc_ttl : IPDEFTTL;
		break;
	case IP_HDRINCL:
		val = inet->hdrincl;
		break;
	case IP_MTU_DISCOVER:
		val = inet->pmtudisc;
		break;
	case IP_MTU: {
		struct rtable rt;

		if (!sk->sk_daddr || sk->sk_state == SK_ST_CLOSE)
			return -ENOTCONN;
		if (ip_route_output(sk->ns, sk->sk_daddr, &rt))
			return -ENOTCONN;
		val = (int)rt.rt_mtu;
		break;
	}
	case IP_RECVERR:
		val = inet->recverr;
		break;
	case IP_FREEBIND:
		val = inet->freebind;
		break;
	case IP_TRANSPARENT:
		val = inet->transparent;
		break;
	case IP_BIND_ADDRESS_NO_PORT:
		val = inet->bind_address_no_port;
		break;
	case IP_MULTICAST_TTL:
		val = inet->mc_ttl;
		break;
	case IP_MULTICAST_LOOP:
		val = inet->mc_loop;
		break;
	case IP_MULTICAST_IF:
		return sock_put_opt(optval, optlen, &inet->mc_addr, sizeof(struct in_addr));
	default:
		return -ENOPROTOOPT;
	}
	return put_int_opt(val, optval, optlen);
}
