/*
 * AF_INET6 (Linux's net/ipv6/af_inet6.c, with the v4-mapped halves of
 * tcp_ipv6.c and ipv6/udp.c): the family, its protocol switch inetsw6 and
 * the proto_ops of its stream and datagram sockets.
 *
 * An AF_INET6 socket bound to or connected with an IPv6 address proper
 * carries IPv6 (sk_ipv6; tcp_ipv6.c, udp_ipv6.c). Otherwise it is an IPv4
 * sock of the same protocol underneath, whose addresses the program sees
 * as v4-mapped (::ffff:a.b.c.d) and the wildcard as "::" — what Linux does
 * for a dual-stack socket (IPV6_V6ONLY off, net.ipv6.bindv6only = 0) when
 * the traffic is IPv4; a dual-stack socket on "::" takes IPv6 as well. Both
 * families share one port space, as on Linux. Without IPv6 in the stack an
 * address that is IPv6 proper has no route (-ENETUNREACH, or
 * -EADDRNOTAVAIL to bind).
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "inet.h"
#include "inet_dgram.h"
#include "ipv6.h"
#include "ping.h"
#include "rawv6.h"
#include "sock.h"
#include "stack.h"
#include "tcp.h"
#include "udp.h"

static void v6_map(struct in6_addr *a, uint32_t v4)
{
	memset(a, 0, sizeof(*a));
	a->s6_addr[10] = 0xff;
	a->s6_addr[11] = 0xff;
	memcpy(&a->s6_addr[12], &v4, 4);
}

/* An IPv4 sockaddr_in as this socket's program sees it. */
static void sin_to_sin6(const struct sockaddr_in *sin, struct sockaddr_in6 *sin6, bool any_is_v6)
{
	memset(sin6, 0, sizeof(*sin6));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = sin->sin_port;
	if (sin->sin_addr.s_addr || !any_is_v6)
		v6_map(&sin6->sin6_addr, sin->sin_addr.s_addr);
}

/*
 * The IPv4 address a program's sockaddr_in6 names on this socket:
 * 0 when it is a v4-mapped (or, if any_ok, the wildcard) address; for an
 * IPv6 address proper -ENETUNREACH, which callers turn into their errno.
 * AF_INET is taken as well, as Linux's udpv6_sendmsg and
 * ip6_datagram_connect do.
 */
static int sin6_to_sin(const struct sock *sk, const struct sockaddr *uaddr, socklen_t len,
		       bool any_ok, struct sockaddr_in *sin)
{
	struct sockaddr_in6 sin6;

	memset(sin, 0, sizeof(*sin));
	if (len >= sizeof(sa_family_t) && uaddr->sa_family == AF_INET) {
		if (len < sizeof(*sin))
			return -EINVAL;
		if (inet_sk(sk)->v6.ipv6only)
			return -ENETUNREACH;
		memcpy(sin, uaddr, sizeof(*sin));
		return 0;
	}
	if (len < SIN6_LEN_RFC2133)
		return -EINVAL;
	memset(&sin6, 0, sizeof(sin6));
	memcpy(&sin6, uaddr, len < sizeof(sin6) ? len : sizeof(sin6));
	if (sin6.sin6_family != AF_INET6)
		return -EAFNOSUPPORT;
	sin->sin_family = AF_INET;
	sin->sin_port = sin6.sin6_port;
	if (IN6_IS_ADDR_V4MAPPED(&sin6.sin6_addr) && !inet_sk(sk)->v6.ipv6only) {
		memcpy(&sin->sin_addr, &sin6.sin6_addr.s6_addr[12], 4);
		return 0;
	}
	if (any_ok && IN6_IS_ADDR_UNSPECIFIED(&sin6.sin6_addr) && !inet_sk(sk)->v6.ipv6only)
		return 0;
	return -ENETUNREACH;
}

/* A Fast Open sendto()'s destination on an AF_INET6 socket, as connect() takes it. */
int inet6_addr_to_v4(const struct sock *sk, const struct sockaddr *uaddr, socklen_t len,
		     struct sockaddr_in *sin)
{
	return sin6_to_sin(sk, uaddr, len, false, sin);
}

/* Whether a is an IPv6 address proper: not v4-mapped, not "::". */
static bool sin6_is_v6(const struct sockaddr *uaddr, socklen_t len)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)uaddr;

	return len >= SIN6_LEN_RFC2133 && uaddr->sa_family == AF_INET6 &&
	       !IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) && !IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr);
}

/*
 * bind() to an IPv6 address proper (the rest of Linux's __inet6_bind): one
 * of ours (or any with IP_FREEBIND/IP_TRANSPARENT, or a group for a
 * datagram socket); a link-local one needs its link named.
 */
static int inet6_bind_v6(struct sock *sk, const struct sockaddr_in6 *s6, socklen_t len)
{
	/* RFC 2133's 24-byte sockaddr_in6 has no scope id (Linux reads it only when given). */
	uint32_t scope_id = len >= sizeof(*s6) ? s6->sin6_scope_id : 0;
	struct inet_sock *inet = inet_sk(sk);
	uint16_t snum = ntohs(s6->sin6_port);
	bool mcast = IN6_IS_ADDR_MULTICAST(&s6->sin6_addr);

	if (mcast && sk->sk_type != SOCK_DGRAM)
		return -EINVAL;
	if (!sk->ns->ip6 || (!mcast && !ipv6_chk_addr(sk->ns, &s6->sin6_addr) && !inet->freebind &&
			     !inet->transparent))
		return -EADDRNOTAVAIL;
	if (IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr) && !scope_id && !sk->sk_bound_dev_if)
		return -EINVAL;
	if (sk->sk_state != SK_ST_CLOSE || sk->sk_num)
		return -EINVAL;
	sk->sk_ipv6 = true;
	sk->sk_v6_rcv_saddr = s6->sin6_addr;
	if ((snum || !inet->bind_address_no_port) && sk_prot(sk)->get_port(sk, snum)) {
		sk->sk_ipv6 = false;
		sk->sk_v6_rcv_saddr = in6addr_any;
		return -EADDRINUSE;
	}
	sk->sk_userlocks_bindaddr = true;
	if (snum)
		sk->sk_userlocks_bindport = true;
	inet->inet_sport = htons(sk->sk_num);
	sk->sk_v6_daddr = in6addr_any;
	sk->sk_dport = 0;
	return 0;
}

/* bind() (Linux's inet6_bind): "::" and ::ffff:a.b.c.d are IPv4's wildcard and a.b.c.d. */
static int inet6_bind(struct socket *sock, const struct sockaddr *uaddr, socklen_t len)
{
	struct sockaddr_in sin;
	int err;

	if (len >= sizeof(sa_family_t) && uaddr->sa_family == AF_INET)
		return -EAFNOSUPPORT; /* bind() is stricter than connect()/sendto() */
	err = sin6_to_sin(sock->sk, uaddr, len, true, &sin);
	if (err == -ENETUNREACH) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)uaddr;

		/* A mapped address on a v6-only socket is a contradiction. */
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			return -EINVAL;
		if (!IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr))
			return inet6_bind_v6(sock->sk, s6, len);
		/* "::" on a v6-only socket: the wildcard, which sk_v4_ok() then refuses IPv4. */
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = s6->sin6_port;
	} else if (err) {
		return err;
	}
	return inet_bind(sock, (const struct sockaddr *)&sin, sizeof(sin));
}

/* getsockname()/getpeername() of a socket with IPv6 addresses proper. */
static int inet6_getname_v6(struct sock *sk, struct sockaddr_in6 *sin6, int peer)
{
	memset(sin6, 0, sizeof(*sin6));
	sin6->sin6_family = AF_INET6;
	if (peer) {
		if (!sk->sk_dport ||
		    ((sk->sk_state == SK_ST_CLOSE || sk->sk_state == SK_ST_SYN_SENT) && peer == 1))
			return -ENOTCONN;
		sin6->sin6_port = sk->sk_dport;
		sin6->sin6_addr = sk->sk_v6_daddr;
	} else {
		sin6->sin6_port = inet_sk(sk)->inet_sport;
		sin6->sin6_addr = sk->sk_v6_rcv_saddr;
	}
	/* A link-local address is only meaningful with its link. */
	if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr))
		sin6->sin6_scope_id = (uint32_t)inet_dev_index(sk->ns);
	return 0;
}

/* getsockname()/getpeername(): IPv6 names, or the IPv4 names mapped. */
static int inet6_getname(struct socket *sock, struct sockaddr *uaddr, socklen_t *len, int peer)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	socklen_t l = sizeof(sin);
	int err;

	if (sock->sk->sk_ipv6) {
		err = inet6_getname_v6(sock->sk, &sin6, peer);
		if (err)
			return err;
		memcpy(uaddr, &sin6, sizeof(sin6));
		*len = sizeof(sin6);
		return 0;
	}
	err = inet_getname(sock, (struct sockaddr *)&sin, &l, peer);
	if (err)
		return err;
	/* An unbound or wildcard-bound socket shows "::", as Linux's. */
	sin_to_sin6(&sin, &sin6, !peer);
	memcpy(uaddr, &sin6, sizeof(sin6));
	*len = sizeof(sin6);
	return 0;
}

/* Linux's tcp_v6_connect() for v4-mapped peers: "::" is loopback, not ours. */
static int inet6_stream_connect(struct socket *sock, const struct sockaddr *uaddr, socklen_t len,
				int flags)
{
	struct sockaddr_in sin;
	int err;

	if (len >= sizeof(sa_family_t) && uaddr->sa_family == AF_UNSPEC)
		return inet_stream_connect(sock, uaddr, len, flags);
	if (len >= sizeof(sa_family_t) && uaddr->sa_family == AF_INET)
		return -EAFNOSUPPORT; /* tcp_v6_connect() takes AF_INET6 only */
	/* An IPv6 peer: tcp_v4_connect hands it to tcp_v6_connect. */
	if (sin6_is_v6(uaddr, len))
		return inet_stream_connect(sock, uaddr, len, flags);
	err = sin6_to_sin(sock->sk, uaddr, len, false, &sin);
	if (err)
		return err;
	return inet_stream_connect(sock, (const struct sockaddr *)&sin, sizeof(sin), flags);
}

/*
 * connect() of a datagram socket: an IPv6 peer proper as given (udpv6_prot's
 * connect takes it), a v4-mapped one as AF_INET.
 */
static int inet6_dgram_connect(struct socket *sock, const struct sockaddr *uaddr, socklen_t len,
			       int flags)
{
	struct sockaddr_in sin;
	int err;

	if (len >= sizeof(sa_family_t) && uaddr->sa_family == AF_UNSPEC)
		return inet_dgram_connect(sock, uaddr, len, flags);
	if (sin6_is_v6(uaddr, len))
		return inet_dgram_connect(sock, uaddr, len, flags);
	err = sin6_to_sin(sock->sk, uaddr, len, false, &sin);
	if (err)
		return err;
	return inet_dgram_connect(sock, (const struct sockaddr *)&sin, sizeof(sin), flags);
}

/*
 * sendto()/sendmsg() with a destination: a datagram socket's protocol
 * (udpv6_prot) takes an IPv6 address proper as given, and sees a
 * v4-mapped one in its IPv4 form.
 */
static ssize_t inet6_sendmsg(struct socket *sock, const struct msghdr *msg, int flags)
{
	struct sockaddr_in sin;
	struct msghdr m;
	int err;

	if (!msg->msg_name || sock->type == SOCK_STREAM ||
	    sin6_is_v6(msg->msg_name, msg->msg_namelen))
		return sock->type == SOCK_STREAM ? inet_stream_sendmsg(sock, msg, flags)
						 : inet_sendmsg(sock, msg, flags);
	err = sin6_to_sin(sock->sk, msg->msg_name, msg->msg_namelen, false, &sin);
	if (err)
		return err;
	m = *msg;
	m.msg_name = &sin;
	m.msg_namelen = sizeof(sin);
	return inet_sendmsg(sock, &m, flags);
}

/* recvfrom()/recvmsg(): the sender's address, mapped (msg_name is the socket layer's buffer). */
static ssize_t inet6_recvmsg(struct socket *sock, struct msghdr *msg, int flags)
{
	ssize_t ret = sock->type == SOCK_STREAM ? inet_stream_recvmsg(sock, msg, flags)
						: inet_recvmsg(sock, msg, flags);

	if (ret >= 0 && msg->msg_name && msg->msg_namelen == sizeof(struct sockaddr_in)) {
		struct sockaddr_in sin;
		struct sockaddr_in6 sin6;

		memcpy(&sin, msg->msg_name, sizeof(sin));
		if (sin.sin_family == AF_INET) {
			sin_to_sin6(&sin, &sin6, false);
			memcpy(msg->msg_name, &sin6, sizeof(sin6));
			msg->msg_namelen = sizeof(sin6);
		}
	}
	return ret;
}

static int inet6_setsockopt(struct socket *sock, int level, int optname, const void *optval,
			    socklen_t optlen)
{
	if (level == IPPROTO_IPV6)
		return ipv6_setsockopt(sock->sk, optname, optval, optlen);
	return inet_setsockopt(sock, level, optname, optval, optlen);
}

static int inet6_getsockopt(struct socket *sock, int level, int optname, void *optval,
			    socklen_t *optlen)
{
	if (level == IPPROTO_IPV6)
		return ipv6_getsockopt(sock->sk, optname, optval, optlen);
	return inet_getsockopt(sock, level, optname, optval, optlen);
}

const struct proto_ops inet6_stream_ops = {
    .family = AF_INET6,
    .release = inet_release,
    .bind = inet6_bind,
    .connect = inet6_stream_connect,
    .accept = inet_accept,
    .getname = inet6_getname,
    .poll = tcp_poll,
    .ioctl = inet_ioctl,
    .listen = inet_listen,
    .shutdown = inet_shutdown,
    .setsockopt = inet6_setsockopt,
    .getsockopt = inet6_getsockopt,
    .sendmsg = inet6_sendmsg,
    .recvmsg = inet6_recvmsg,
};

const struct proto_ops inet6_dgram_ops = {
    .family = AF_INET6,
    .release = inet_release,
    .bind = inet6_bind,
    .connect = inet6_dgram_connect,
    .accept = sock_no_accept,
    .getname = inet6_getname,
    .poll = datagram_poll,
    .ioctl = inet_ioctl,
    .listen = sock_no_listen,
    .shutdown = inet_shutdown,
    .setsockopt = inet6_setsockopt,
    .getsockopt = inet6_getsockopt,
    .sendmsg = inet6_sendmsg,
    .recvmsg = inet6_recvmsg,
};

/*
 * Raw IPv6 sockets (Linux's inet6_sockraw_ops): IPv6 only, so addresses go
 * to rawv6_prot as the program gave them, never turned into IPv4.
 */
const struct proto_ops inet6_sockraw_ops = {
    .family = AF_INET6,
    .release = inet_release,
    .bind = inet_bind, /* rawv6_prot's bind */
    .connect = inet_dgram_connect,
    .accept = sock_no_accept,
    .getname = inet6_getname,
    .poll = datagram_poll,
    .ioctl = inet_ioctl,
    .listen = sock_no_listen,
    .shutdown = inet_shutdown,
    .setsockopt = inet_setsockopt, /* rawv6_prot sees every level, IPPROTO_IPV6 too */
    .getsockopt = inet_getsockopt,
    .sendmsg = inet_sendmsg,
    .recvmsg = inet_recvmsg,
};

/* Linux's tcpv6_protosw, udpv6_protosw, pingv6_protosw and rawv6_protosw. */
static const struct inet_protosw inetsw6_array[] = {
    {
	.type = SOCK_STREAM,
	.protocol = IPPROTO_TCP,
	.prot = &tcp_prot,
	.ops = &inet6_stream_ops,
	.flags = INET_PROTOSW_PERMANENT | INET_PROTOSW_ICSK,
    },
    {
	.type = SOCK_DGRAM,
	.protocol = IPPROTO_UDP,
	.prot = &udpv6_prot,
	.ops = &inet6_dgram_ops,
	.flags = INET_PROTOSW_PERMANENT,
    },
    {
	.type = SOCK_DGRAM,
	.protocol = IPPROTO_ICMPV6,
	.prot = &pingv6_prot,
	.ops = &inet6_dgram_ops,
	.flags = 0,
    },
    {
	.type = SOCK_RAW,
	.protocol = IPPROTO_IP, /* wildcard */
	.prot = &rawv6_prot,
	.ops = &inet6_sockraw_ops,
	.flags = INET_PROTOSW_REUSE,
    },
};

#define NINETSW6 (sizeof(inetsw6_array) / sizeof(inetsw6_array[0]))

static int inet6_create(struct nstack *ns, struct socket *sock, int protocol)
{
	return inet_create_from(ns, sock, protocol, ns->inetsw6, AF_INET6);
}

static const struct net_proto_family inet6_family_ops = {
    .family = AF_INET6,
    .create = inet6_create,
};

int inet6_init(struct nstack *ns)
{
	int err = sock_register(ns, &inet6_family_ops);

	if (err)
		return err;
	for (size_t i = 0; i < NINETSW6; i++) {
		err = inet_protosw_add(ns->inetsw6, &inetsw6_array[i]);
		if (err) {
			inet6_exit(ns);
			return err;
		}
	}
	return 0;
}

void inet6_exit(struct nstack *ns)
{
	for (size_t i = 0; i < NINETSW6; i++)
		inet_protosw_del(ns->inetsw6, &inetsw6_array[i], true);
	sock_unregister(ns, AF_INET6);
}
