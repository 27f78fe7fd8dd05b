/*
 * What the IPv4 datagram protocols (UDP, ping, raw) share, as Linux's
 * net/core/datagram.c and the common parts of udp_sendmsg/recvmsg,
 * ping_v4_sendmsg/ping_recvmsg and raw_sendmsg/recvmsg. Sending: the
 * destination, its route and the size check. Receiving (also the IP_RECVERR
 * error queue): one queued packet per call, cut to the caller's buffer, its
 * source in msg_name, the IP_* control messages. The SIOCINQ/SIOCOUTQ
 * ioctls, and closing what is left at teardown.
 */
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/ioctl.h>

#include "inet.h"
#include "inet_dgram.h"
#include "ip.h"
#include "sock.h"
#include "udp.h"

/*
 * The destination of a datagram sendmsg(): msg_name, whose family must be
 * AF_INET (or AF_UNSPEC where unspec_ok, which Linux allows UDP and raw
 * for old programs), else the connected peer. Addresses in network order.
 */
int ip_dgram_daddr(const struct sock *sk, const struct msghdr *msg, bool unspec_ok, uint32_t *daddr,
		   uint16_t *dport)
{
	if (msg->msg_name) {
		struct sockaddr_in sin;

		if (msg->msg_namelen < sizeof(sin))
			return -EINVAL;
		memcpy(&sin, msg->msg_name, sizeof(sin));
		if (sin.sin_family != AF_INET && !(unspec_ok && sin.sin_family == AF_UNSPEC))
			return -EAFNOSUPPORT;
		*daddr = sin.sin_addr.s_addr;
		*dport = sin.sin_port;
		return 0;
	}
	if (sk->sk_state != SK_ST_ESTABLISHED)
		return -EDESTADDRREQ;
	*daddr = sk->sk_daddr;
	*dport = sk->sk_dport;
	return 0;
}

/*
 * The rest of a datagram sendmsg()'s preparation: control messages into
 * *ipc, the route to daddr (broadcast only with SO_BROADCAST, else
 * -EACCES), and the source address: IP_PKTINFO's, the bound one, or the
 * route's.
 */
int ip_dgram_route(struct sock *sk, const struct msghdr *msg, uint32_t daddr,
		   struct ipcm_cookie *ipc, struct rtable *rt, uint32_t *saddr)
{
	const struct inet_sock *inet = inet_sk(sk);
	int err;

	err = ip_cmsg_send(sk, msg, ipc);
	if (err)
		return err;
	err = ip_route_output(sk->ns, daddr, rt);
	if (err)
		return err;
	if (rt->rt_type == RTN_BROADCAST && !sock_flag(sk, SOCK_BROADCAST))
		return -EACCES;
	*saddr = ipc->addr ? ipc->addr : inet->inet_saddr ? inet->inet_saddr : rt->rt_src;
	return 0;
}

/*
 * -EMSGSIZE, with an IP_RECVERR entry for port, when tlen bytes after the
 * IP header are too many for one IPv4 datagram, or for the path when DF is
 * forced (IP_PMTUDISC_DO/PROBE; Linux's ip_append_data()); else 0.
 */
int ip_dgram_check_size(struct sock *sk, const struct rtable *rt, size_t tlen, uint16_t port)
{
	const struct inet_sock *inet = inet_sk(sk);

	if (tlen > IP_MAXPACKET - IP_HLEN_MIN ||
	    ((inet->pmtudisc == IP_PMTUDISC_DO || inet->pmtudisc == IP_PMTUDISC_PROBE) &&
	     tlen + IP_HLEN_MIN > rt->rt_mtu)) {
		ip_local_error(sk, EMSGSIZE, rt->rt_dst, port, rt->rt_mtu);
		return -EMSGSIZE;
	}
	return 0;
}

/*
 * A send buffer for a datagram sendmsg(): room for extra + len bytes
 * (sock_alloc_send_skb(), charged to sk), the len bytes of msg copied in.
 * NULL with *err set when the buffer could not be had or the copy faulted.
 */
struct sk_buff *ip_dgram_skb_from_msg(struct sock *sk, const struct msghdr *msg, size_t len,
				      size_t extra, int flags, int *err)
{
	struct sk_buff *skb;

	skb = sock_alloc_send_skb(sk, (unsigned int)(extra + len), flags & MSG_DONTWAIT, err);
	if (!skb)
		return NULL;
	if (memcpy_from_msg(skb_put(skb, (unsigned int)len), msg, 0, len)) {
		kfree_skb(skb);
		*err = -EFAULT;
		return NULL;
	}
	return skb;
}

/*
 * Copies the first len bytes of skb's data to msg, setting MSG_TRUNC when
 * the packet is longer, then the timestamp control message. Returns 0 and
 * the bytes copied in *copied, or -errno when the copy failed.
 */
int ip_dgram_copy_msg(struct sock *sk, const struct sk_buff *skb, struct msghdr *msg, size_t len,
		      size_t *copied)
{
	int err;

	*copied = skb->len;
	if (*copied > len) {
		msg->msg_flags |= MSG_TRUNC;
		*copied = len;
	}
	err = skb_copy_datagram_msg(skb, 0, msg, *copied);
	if (err)
		return err;
	sock_recv_timestamp(msg, sk, skb);
	return 0;
}

/* Fills msg_name, when the caller gave one, with an AF_INET address (network order). */
void ip_dgram_put_name(struct msghdr *msg, uint32_t addr, uint16_t port)
{
	struct sockaddr_in sin;

	if (!msg->msg_name)
		return;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = port;
	sin.sin_addr.s_addr = addr;
	memcpy(msg->msg_name, &sin, sizeof(sin));
	msg->msg_namelen = sizeof(sin);
}

/*
 * recvmsg() for datagram sockets: MSG_ERRQUEUE reads the error queue,
 * otherwise one packet (from the data pointer on: the UDP payload, the ICMP
 * message, the whole IP packet for raw) is copied, cut to len with
 * MSG_TRUNC set, and its length returned in full when the caller passed
 * MSG_TRUNC. opts: IP_DGRAM_OOB_EOPNOTSUPP, IP_DGRAM_NAME_PORT.
 */
ssize_t ip_dgram_recvmsg(struct sock *sk, struct msghdr *msg, size_t len, int flags,
			 unsigned int opts)
{
	const struct iphdr *iph;
	struct sk_buff *skb;
	uint16_t sport = 0;
	size_t copied;
	ssize_t ret;
	int err;

	if ((opts & IP_DGRAM_OOB_EOPNOTSUPP) && (flags & MSG_OOB))
		return -EOPNOTSUPP;
	if (flags & MSG_ERRQUEUE)
		return ip_recv_error(sk, msg, len);
	skb = skb_recv_datagram(sk, flags, &err);
	if (!skb)
		return err;
	err = ip_dgram_copy_msg(sk, skb, msg, len, &copied);
	if (err) {
		ret = err;
		goto out;
	}
	iph = (const struct iphdr *)skb_network_header(skb);
	if (opts & IP_DGRAM_NAME_PORT)
		sport = ((const struct udphdr *)skb_transport_header(skb))->source;
	ip_dgram_put_name(msg, iph->saddr, sport);
	ip_cmsg_recv_flags(msg, skb, inet_sk(sk)->cmsg_flags);
	ret = (ssize_t)((flags & MSG_TRUNC) ? skb->len : copied);
out:
	kfree_skb(skb);
	return ret;
}

/* SIOCINQ/FIONREAD: the size of the next packet; SIOCOUTQ: bytes not yet sent. */
int ip_dgram_ioctl(struct sock *sk, unsigned long cmd, void *arg)
{
	int v;

	switch (cmd) {
	case SIOCOUTQ:
		v = (int)sk->sk_wmem_alloc;
		break;
	case SIOCINQ: {
		const struct sk_buff *skb = skb_peek(&sk->sk_receive_queue);

		v = skb ? (int)skb->len : 0;
		break;
	}
	default:
		return -ENOTTY;
	}
	if (!arg)
		return -EFAULT;
	memcpy(arg, &v, sizeof(v));
	return 0;
}

/*
 * Reports an ICMP error about a datagram sk sent, as Linux's datagram
 * protocols do: with IP_RECVERR it is queued on the error queue (payload
 * points at the quoted transport header in skb) and always becomes sk_err;
 * without, only a hard error on a connected socket does (RFC 1122 4.1.3.3
 * leaves it to the application).
 */
void ip_dgram_icmp_report(struct sock *sk, struct sk_buff *skb, int err, bool harderr, int type,
			  int code, uint16_t port, uint32_t info, const unsigned char *payload)
{
	if (!inet_sk(sk)->recverr) {
		if (!harderr || sk->sk_state != SK_ST_ESTABLISHED)
			return;
	} else {
		ip_icmp_error(sk, skb, err, type, code, port, info, payload);
	}
	sk->sk_err = err;
	SK_CB(sk, sk_error_report)(sk);
}

/*
 * At stack teardown, closes the sockets on a table's list of all its
 * sockets (linked by sk_bind_node) that the embedder left open, logging
 * each when proto is given. One still referenced by a packet in flight is
 * unlinked here and freed when that packet is.
 */
void ip4_datagram_close_all(struct nstack *ns, struct sock_list *all, const char *proto)
{
	struct sock *sk, *tmp;

	LIST_FOREACH_SAFE(sk, all, sk_bind_node, tmp)
	{
		if (sk->sk_socket) {
			if (proto)
				nstack_log(ns, NSTACK_LOG_WARN,
					   "%s: socket on port %u still open at exit", proto,
					   sk->sk_num);
			sk->sk_socket->sk = NULL;
			sk->sk_socket = NULL;
		}
		if (!sock_flag(sk, SOCK_DEAD)) {
			sock_hold(sk);
			ip4_datagram_close(sk, 0);
			if (sk->sk_refcnt == 1) {
				/* The last reference: destroy unlinks it from the list. */
				sock_put(sk);
				continue;
			}
			sock_put(sk);
		}
		LIST_REMOVE(sk, sk_bind_node);
	}
}
