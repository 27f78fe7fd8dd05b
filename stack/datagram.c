/*
 * The receive side the IPv4 datagram protocols share (UDP, ping, raw and
 * the IP_RECVERR error queue), as Linux's net/core/datagram.c and the
 * common part of udp_recvmsg(), ping_recvmsg() and raw_recvmsg(): one
 * queued packet per call, cut to the caller's buffer, its source in
 * msg_name, the IP_* control messages; and the SIOCINQ/SIOCOUTQ ioctls.
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
				nstack_log(ns, NSTACK_LOG_WARN, "%s: socket on port %u still open at exit",
					   proto, sk->sk_num);
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
