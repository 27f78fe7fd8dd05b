/*
 * AF_INET (Linux's net/ipv4/af_inet.c and datagram.c): the protocol switch
 * inetsw[type] that socket() searches, the receive demux inet_protos[], the
 * family's create(), and the proto_ops pieces every IPv4 socket shares.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>

#include "icmp.h"
#include "inet.h"
#include "inet_dgram.h"
#include "ip.h"
#include "ping.h"
#include "raw.h"
#include "sock.h"
#include "stack.h"
#include "udp.h"

/*
 * Adds a (type, protocol) entry to the switch. As Linux's
 * inet_register_protosw(), permanent entries stay in front and cannot be
 * overridden (-EPERM); a new entry goes after the last permanent one, so it
 * wins a wildcard lookup over older non-permanent ones.
 */
int inet_protosw_add(nsref_t (*table)[INETSW_PER_TYPE], const struct inet_protosw *p)
{
	nsref_t *sw;
	int pos = 0, n = 0;

	if (p->type >= NSTACK_SOCK_MAX)
		return -EINVAL;
	sw = table[p->type];
	for (int i = 0; i < INETSW_PER_TYPE && sw[i]; i++, n++) {
		const struct inet_protosw *q = ns_unref(sw[i]);

		if (q == p)
			return -EEXIST;
		if (q->flags & INET_PROTOSW_PERMANENT) {
			if (q->protocol == p->protocol)
				return -EPERM;
			pos = i + 1;
		}
	}
	if (n == INETSW_PER_TYPE)
		return -ENOSPC;
	memmove(&sw[pos + 1], &sw[pos], (size_t)(n - pos) * sizeof(sw[0]));
	sw[pos] = ns_ref(p);
	return 0;
}

int inet_register_protosw(struct nstack *ns, const struct inet_protosw *p)
{
	return inet_protosw_add(ns->inetsw, p);
}

/* Removes an entry; permanent ones stay, as in Linux, unless force (the stack is going away). */
void inet_protosw_del(nsref_t (*table)[INETSW_PER_TYPE], const struct inet_protosw *p, bool force)
{
	nsref_t *sw;

	if (p->type >= NSTACK_SOCK_MAX || ((p->flags & INET_PROTOSW_PERMANENT) && !force))
		return;
	sw = table[p->type];
	for (int i = 0; i < INETSW_PER_TYPE; i++) {
		if (sw[i] != ns_ref(p))
			continue;
		memmove(&sw[i], &sw[i + 1], (size_t)(INETSW_PER_TYPE - 1 - i) * sizeof(sw[0]));
		sw[INETSW_PER_TYPE - 1] = 0;
		return;
	}
}

void inet_unregister_protosw(struct nstack *ns, const struct inet_protosw *p)
{
	inet_protosw_del(ns->inetsw, p, false);
}

/* Installs the receive handler for an IP protocol; -EEXIST when taken. */
int inet_add_protocol(struct nstack *ns, const struct inet_protocol *prot, uint8_t protocol)
{
	if (ns->inet_protos[protocol])
		return -EEXIST;
	ns->inet_protos[protocol] = ns_ref(prot);
	return 0;
}

/* Removes the receive handler for protocol. */
void inet_del_protocol(struct nstack *ns, uint8_t protocol)
{
	ns->inet_protos[protocol] = 0;
}

/* The receive handler for protocol, or NULL. */
const struct inet_protocol *inet_protocol_get(const struct nstack *ns, uint8_t protocol)
{
	return ns_unref(ns->inet_protos[protocol]);
}

/* True for 255.255.255.255 and our subnet's directed broadcast address. */
bool inet_addr_is_broadcast(const struct nstack *ns, uint32_t addr)
{
	uint32_t mask = ns->netmask;

	if (addr == INADDR_BROADCAST)
		return true;
	if (mask == INADDR_BROADCAST)
		return false;
	return (addr & mask) == (ns->cfg.addr & mask) && (addr & ~mask) == ~mask;
}

static bool addr_is_multicast(uint32_t addr)
{
	return (ntohl(addr) & 0xf0000000u) == 0xe0000000u;
}

/*
 * bind() address check (Linux's inet_addr_valid_or_nonlocal): the wildcard,
 * our address, a broadcast or multicast address, or anything with
 * IP_FREEBIND/IP_TRANSPARENT; -EADDRNOTAVAIL otherwise.
 */
int inet_bind_addr_check(struct sock *sk, uint32_t addr, bool *bcast)
{
	struct inet_sock *inet = inet_sk(sk);

	*bcast = false;
	if (addr == INADDR_ANY || inet_addr_is_local(sk->ns, addr))
		return 0;
	if (inet_addr_is_broadcast(sk->ns, addr) || addr_is_multicast(addr)) {
		*bcast = true;
		return 0;
	}
	if (inet->freebind || inet->transparent)
		return 0;
	return -EADDRNOTAVAIL;
}

/*
 * socket(AF_INET, type, protocol): searches inetsw[type] as Linux's
 * inet_create(). An exact protocol match wins; IPPROTO_IP asks for the
 * type's first entry; an entry registered as IPPROTO_IP (raw) takes any
 * protocol but not IPPROTO_IP itself. No entry for the type at all is
 * -ESOCKTNOSUPPORT, no matching protocol -EPROTONOSUPPORT.
 */
int inet_create_from(struct nstack *ns, struct socket *sock, int protocol,
		     nsref_t (*table)[INETSW_PER_TYPE], int family)
{
	const struct inet_protosw *answer = NULL;
	const struct proto *prot;
	struct inet_sock *inet;
	struct sock *sk;
	int err = -ESOCKTNOSUPPORT;

	if (protocol < 0 || protocol >= 256)
		return -EINVAL;
	sock->state = SS_UNCONNECTED;
	for (int i = 0; i < INETSW_PER_TYPE; i++) {
		const struct inet_protosw *p = ns_unref(table[sock->type][i]);

		if (!p)
			break;
		err = 0;
		if (protocol == p->protocol) {
			if (protocol != IPPROTO_IP) {
				answer = p;
				break;
			}
		} else {
			if (protocol == IPPROTO_IP) {
				protocol = p->protocol;
				answer = p;
				break;
			}
			if (p->protocol == IPPROTO_IP) {
				answer = p;
				break;
			}
		}
		err = -EPROTONOSUPPORT;
	}
	if (!answer)
		return err ? err : -EPROTONOSUPPORT;

	prot = answer->prot;
	sock_set_ops(sock, answer->ops);
	sk = sk_alloc(ns, family, prot);
	if (!sk)
		return -ENOBUFS;
	inet = inet_sk(sk);
	inet->v6.hop_limit = -1;
	inet->v6.mcast_hops = -1;
	inet->v6.mc_loop = true;
	inet->v6.pmtudisc = IPV6_PMTUDISC_WANT; /* Linux's inet6_create() */
	/* Raw and ping sockets may share their "port" (Linux's SK_CAN_REUSE). */
	sk->sk_reuse = answer->flags & INET_PROTOSW_REUSE;
	if (sock->type == SOCK_RAW) {
		sk->sk_num = (uint16_t)protocol;
		if (protocol == IPPROTO_RAW)
			inet->hdrincl = true;
	}
	inet->pmtudisc = INET_PMTUDISC_DEFAULT;
	sock_init_data(sock, sk);
	sk->sk_protocol = (uint16_t)protocol;
	inet->uc_ttl = -1;
	inet->mc_loop = true;
	inet->mc_ttl = 1;
	if (sk->sk_num) {
		inet->inet_sport = htons(sk->sk_num);
		err = prot->hash ? prot->hash(sk) : 0;
		if (err)
			goto out_release;
	}
	if (prot->init) {
		err = prot->init(sk);
		if (err)
			goto out_release;
	}
	return 0;
out_release:
	if (prot->unhash)
		prot->unhash(sk);
	sock_orphan(sk);
	sock_put(sk);
	return err;
}

static int inet_create(struct nstack *ns, struct socket *sock, int protocol)
{
	return inet_create_from(ns, sock, protocol, ns->inetsw, AF_INET);
}

static const struct net_proto_family inet_family_ops = {
    .family = AF_INET,
    .create = inet_create,
};

/*
 * close(): detaches the sock and hands it to the protocol's close, with
 * the SO_LINGER time when lingering is on.
 */
int inet_release(struct socket *sock)
{
	struct sock *sk = sock->sk;
	int64_t timeout = 0;

	if (!sk)
		return 0;
	if (sock_flag(sk, SOCK_LINGER))
		timeout = (int64_t)sk->sk_lingertime * 1000000;
	sock->sk = NULL;
	sk_prot(sk)->close(sk, timeout);
	return 0;
}

/* bind() for IPv4 (Linux's __inet_bind); protocols with their own bind() get it instead. */
int inet_bind(struct socket *sock, const struct sockaddr *uaddr, socklen_t len)
{
	struct sock *sk = sock->sk;
	struct inet_sock *inet = inet_sk(sk);
	struct sockaddr_in sin;
	uint16_t snum;
	bool bcast;
	int err;

	if (sk_prot(sk)->bind)
		return sk_prot(sk)->bind(sk, uaddr, len);
	if (len < sizeof(sin))
		return -EINVAL;
	memcpy(&sin, uaddr, sizeof(sin));
	if (sin.sin_family != AF_INET) {
		/* Compatibility with old programs: AF_UNSPEC with INADDR_ANY is accepted. */
		if (sin.sin_family != AF_UNSPEC || sin.sin_addr.s_addr != htonl(INADDR_ANY))
			return -EAFNOSUPPORT;
	}
	err = inet_bind_addr_check(sk, sin.sin_addr.s_addr, &bcast);
	if (err)
		return err;
	snum = ntohs(sin.sin_port);
	if (sk->sk_state != SK_ST_CLOSE || sk->sk_num)
		return -EINVAL;
	sk->sk_rcv_saddr = sin.sin_addr.s_addr;
	inet->inet_saddr = bcast ? 0 : sin.sin_addr.s_addr;
	if ((snum || !inet->bind_address_no_port) && sk_prot(sk)->get_port(sk, snum)) {
		sk->sk_rcv_saddr = 0;
		inet->inet_saddr = 0;
		return -EADDRINUSE;
	}
	if (sk->sk_rcv_saddr)
		sk->sk_userlocks_bindaddr = true;
	if (snum)
		sk->sk_userlocks_bindport = true;
	inet->inet_sport = htons(sk->sk_num);
	sk->sk_daddr = 0;
	sk->sk_dport = 0;
	return 0;
}

/* See inet.h. */
bool inet_rcv_saddr_overlap(const struct sock *sk, const struct sock *sk2)
{
	if (sk_v4_ok(sk) && sk_v4_ok(sk2) &&
	    (!sk->sk_rcv_saddr || !sk2->sk_rcv_saddr || sk->sk_rcv_saddr == sk2->sk_rcv_saddr))
		return true;
	if (sk_v6_ok(sk) && sk_v6_ok(sk2)) {
		static const struct in6_addr any;
		const struct in6_addr *a = &sk->sk_v6_rcv_saddr, *b = &sk2->sk_v6_rcv_saddr;

		return !memcmp(a, &any, sizeof(any)) || !memcmp(b, &any, sizeof(any)) ||
		       !memcmp(a, b, sizeof(*a));
	}
	return false;
}

/* Binds an ephemeral port (Linux's inet_autobind); -EAGAIN when none is free. */
static int inet_autobind(struct sock *sk)
{
	if (!sk->sk_num) {
		if (!sk_prot(sk)->get_port || sk_prot(sk)->get_port(sk, 0))
			return -EAGAIN;
		inet_sk(sk)->inet_sport = htons(sk->sk_num);
	}
	return 0;
}

/*
 * connect() for datagram sockets (Linux's ip4_datagram_connect): routes to
 * the peer, fills the source address, and makes the socket "established"
 * so that only the peer's datagrams are received.
 */
int ip4_datagram_connect(struct sock *sk, const struct sockaddr *uaddr, socklen_t len)
{
	struct inet_sock *inet = inet_sk(sk);
	struct sockaddr_in sin;
	struct rtable rt;
	int err;

	if (len < sizeof(sin))
		return -EINVAL;
	memcpy(&sin, uaddr, sizeof(sin));
	if (sin.sin_family != AF_INET)
		return -EAFNOSUPPORT;
	err = ip_route_output(sk->ns, sin.sin_addr.s_addr, &rt);
	if (err)
		return err;
	if (rt.rt_type == RTN_BROADCAST && !sock_flag(sk, SOCK_BROADCAST))
		return -EACCES;
	if (!inet->inet_saddr)
		inet->inet_saddr = rt.rt_src;
	if (!sk->sk_rcv_saddr)
		sk->sk_rcv_saddr = rt.rt_src;
	/* The route's destination: connect(0.0.0.0) means ourselves, as on Linux. */
	sk->sk_daddr = rt.rt_dst;
	sk->sk_dport = sin.sin_port;
	sk->sk_state = SK_ST_ESTABLISHED;
	inet->inet_id = (uint16_t)ns_random32(sk->ns);
	if (sk->sk_socket)
		sk->sk_socket->state = SS_CONNECTED;
	return 0;
}

/*
 * connect(AF_UNSPEC) (Linux's __udp_disconnect): forgets the peer, the
 * source address unless bind() chose it, and an automatically bound port.
 */
int ip4_datagram_disconnect(struct sock *sk, int flags)
{
	struct inet_sock *inet = inet_sk(sk);

	sk->sk_state = SK_ST_CLOSE;
	sk->sk_daddr = 0;
	sk->sk_dport = 0;
	if (sk->sk_socket)
		sk->sk_socket->state = SS_UNCONNECTED;
	if (!sk->sk_userlocks_bindaddr) {
		sk->sk_rcv_saddr = 0;
		inet->inet_saddr = 0;
	}
	/* Raw sockets are keyed by protocol, not by a port they could lose. */
	if (!sk->sk_userlocks_bindport && sk->sk_type != SOCK_RAW && sk->sk_num) {
		if (sk_prot(sk)->unhash)
			sk_prot(sk)->unhash(sk);
		inet->inet_sport = 0;
	}
	return 0;
}

/* close() for datagram protocols (Linux's sk_common_release). */
void ip4_datagram_close(struct sock *sk, int64_t timeout_us)
{
	if (sk_prot(sk)->unhash)
		sk_prot(sk)->unhash(sk);
	sock_orphan(sk);
	skb_queue_purge(&sk->sk_receive_queue);
	skb_queue_purge(&sk->sk_error_queue);
	/* Corked data holds references on sk through the send buffer. */
	skb_queue_purge(&sk->sk_write_queue);
	sock_put(sk);
}

/*
 * connect() for datagram sockets at the proto_ops level: AF_UNSPEC
 * disconnects, otherwise bind a port first if needed.
 */
int inet_dgram_connect(struct socket *sock, const struct sockaddr *uaddr, socklen_t len, int flags)
{
	struct sock *sk = sock->sk;

	if (len < sizeof(uaddr->sa_family))
		return -EINVAL;
	if (uaddr->sa_family == AF_UNSPEC)
		return sk_prot(sk)->disconnect(sk, flags);
	if (!sk->sk_num && inet_autobind(sk))
		return -EAGAIN;
	return sk_prot(sk)->connect(sk, uaddr, len);
}

/* getsockname()/getpeername() (peer 1; 2 for SO_PEERNAME, which ignores the state). */
int inet_getname(struct socket *sock, struct sockaddr *uaddr, socklen_t *len, int peer)
{
	struct sock *sk = sock->sk;
	struct inet_sock *inet = inet_sk(sk);
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	if (peer) {
		if (!sk->sk_dport ||
		    ((sk->sk_state == SK_ST_CLOSE || sk->sk_state == SK_ST_SYN_SENT) && peer == 1))
			return -ENOTCONN;
		sin.sin_port = sk->sk_dport;
		sin.sin_addr.s_addr = sk->sk_daddr;
	} else {
		sin.sin_port = inet->inet_sport;
		sin.sin_addr.s_addr = sk->sk_rcv_saddr ? sk->sk_rcv_saddr : inet->inet_saddr;
	}
	memcpy(uaddr, &sin, sizeof(sin));
	*len = sizeof(sin);
	return 0;
}

/* ioctl(): the protocol's, else -ENOTTY (Linux's -ENOIOCTLCMD as user space sees it). */
int inet_ioctl(struct socket *sock, unsigned long cmd, void *arg)
{
	struct sock *sk = sock->sk;

	if (sk_prot(sk)->ioctl)
		return sk_prot(sk)->ioctl(sk, cmd, arg);
	return -ENOTTY;
}

/*
 * shutdown() (Linux's inet_shutdown): SHUT_RD/WR/RDWR become the
 * RCV/SEND_SHUTDOWN bits. An unconnected socket reports -ENOTCONN but
 * still records the shutdown, so poll() shows the hang-up as on Linux.
 */
int inet_shutdown(struct socket *sock, int how)
{
	struct sock *sk = sock->sk;
	int err = 0;

	how++;
	if ((how & ~SHUTDOWN_MASK) || !how)
		return -EINVAL;
	if (sock->state == SS_CONNECTING) {
		if (sk->sk_state == SK_ST_SYN_SENT || sk->sk_state == SK_ST_CLOSE)
			sock->state = SS_DISCONNECTING;
		else
			sock->state = SS_CONNECTED;
	}
	switch (sk->sk_state) {
	case SK_ST_LISTEN:
		if (!(how & RCV_SHUTDOWN))
			break;
		/* fallthrough */
	case SK_ST_SYN_SENT:
		err = sk_prot(sk)->disconnect(sk, O_NONBLOCK);
		sock->state = err ? SS_DISCONNECTING : SS_UNCONNECTED;
		break;
	case SK_ST_CLOSE:
		err = -ENOTCONN;
		/* fallthrough */
	default:
		sk->sk_shutdown |= (uint8_t)how;
		if (sk_prot(sk)->shutdown)
			sk_prot(sk)->shutdown(sk, how);
		break;
	}
	SK_CB(sk, sk_state_change)(sk);
	return err;
}

/* sendmsg(): binds an ephemeral port first for datagram sockets, as inet_send_prepare(). */
ssize_t inet_sendmsg(struct socket *sock, const struct msghdr *msg, int flags)
{
	struct sock *sk = sock->sk;

	if (sock->type != SOCK_STREAM && !sk->sk_num && inet_autobind(sk))
		return -EAGAIN;
	return sk_prot(sk)->sendmsg(sk, msg, msg_data_len(msg), flags);
}

/* recvmsg(). */
ssize_t inet_recvmsg(struct socket *sock, struct msghdr *msg, int flags)
{
	struct sock *sk = sock->sk;

	return sk_prot(sk)->recvmsg(sk, msg, msg_data_len(msg), flags);
}

/* setsockopt() below SOL_SOCKET: the protocol's, else the IP level's. */
int inet_setsockopt(struct socket *sock, int level, int optname, const void *optval,
		    socklen_t optlen)
{
	struct sock *sk = sock->sk;

	if (sk_prot(sk)->setsockopt)
		return sk_prot(sk)->setsockopt(sk, level, optname, optval, optlen);
	return ip_setsockopt(sk, level, optname, optval, optlen);
}

/* getsockopt() below SOL_SOCKET. */
int inet_getsockopt(struct socket *sock, int level, int optname, void *optval, socklen_t *optlen)
{
	struct sock *sk = sock->sk;

	if (sk_prot(sk)->getsockopt)
		return sk_prot(sk)->getsockopt(sk, level, optname, optval, optlen);
	return ip_getsockopt(sk, level, optname, optval, optlen);
}

static unsigned int inet_dgram_poll(struct socket *sock)
{
	return datagram_poll(sock);
}

const struct proto_ops inet_dgram_ops = {
    .family = AF_INET,
    .release = inet_release,
    .bind = inet_bind,
    .connect = inet_dgram_connect,
    .accept = sock_no_accept,
    .getname = inet_getname,
    .poll = inet_dgram_poll,
    .ioctl = inet_ioctl,
    .listen = sock_no_listen,
    .shutdown = inet_shutdown,
    .setsockopt = inet_setsockopt,
    .getsockopt = inet_getsockopt,
    .sendmsg = inet_sendmsg,
    .recvmsg = inet_recvmsg,
};

const struct proto_ops inet_sockraw_ops = {
    .family = AF_INET,
    .release = inet_release,
    .bind = inet_bind,
    .connect = inet_dgram_connect,
    .accept = sock_no_accept,
    .getname = inet_getname,
    .poll = datagram_poll,
    .ioctl = inet_ioctl,
    .listen = sock_no_listen,
    .shutdown = inet_shutdown,
    .setsockopt = inet_setsockopt,
    .getsockopt = inet_getsockopt,
    .sendmsg = inet_sendmsg,
    .recvmsg = inet_recvmsg,
};

/* The datagram entries of Linux's inetsw_array; TCP registers its own in tcp_init(). */
static const struct inet_protosw inetsw_dgram[] = {
    {
	.type = SOCK_DGRAM,
	.protocol = IPPROTO_UDP,
	.prot = &udp_prot,
	.ops = &inet_dgram_ops,
	.flags = INET_PROTOSW_PERMANENT,
    },
    {
	.type = SOCK_DGRAM,
	.protocol = IPPROTO_ICMP,
	.prot = &ping_prot,
	.ops = &inet_dgram_ops,
	.flags = INET_PROTOSW_REUSE,
    },
    {
	.type = SOCK_RAW,
	.protocol = IPPROTO_IP, /* wildcard */
	.prot = &raw_prot,
	.ops = &inet_sockraw_ops,
	.flags = INET_PROTOSW_REUSE,
    },
};

#define NINETSW (sizeof(inetsw_dgram) / sizeof(inetsw_dgram[0]))

/* Registers AF_INET and the datagram transports; TCP comes later from tcp_init(). */
int inet_init(struct nstack *ns)
{
	int err;

	err = sock_register(ns, &inet_family_ops);
	if (err)
		return err;
	for (size_t i = 0; i < NINETSW; i++) {
		err = inet_register_protosw(ns, &inetsw_dgram[i]);
		if (err)
			goto out_sw;
	}
	err = udp_init(ns);
	if (err)
		goto out_sw;
	err = ping_init(ns);
	if (err)
		goto out_udp;
	err = raw_init(ns);
	if (err)
		goto out_ping;
	return 0;
out_ping:
	ping_exit(ns);
out_udp:
	udp_exit(ns);
out_sw:
	for (int t = 0; t < NSTACK_SOCK_MAX; t++)
		for (int i = 0; i < INETSW_PER_TYPE; i++)
			for (size_t j = 0; j < NINETSW; j++)
				if (ns->inetsw[t][i] == ns_ref(&inetsw_dgram[j]))
					ns->inetsw[t][i] = 0;
	sock_unregister(ns, AF_INET);
	return err;
}

/* Undoes inet_init(); sockets still open are freed by the transports' exits. */
void inet_exit(struct nstack *ns)
{
	raw_exit(ns);
	ping_exit(ns);
	udp_exit(ns);
	/* Permanent entries too: the stack is going away. */
	for (int t = 0; t < NSTACK_SOCK_MAX; t++)
		for (int i = 0; i < INETSW_PER_TYPE; i++)
			for (size_t j = 0; j < NINETSW; j++)
				if (ns->inetsw[t][i] == ns_ref(&inetsw_dgram[j]))
					ns->inetsw[t][i] = 0;
	sock_unregister(ns, AF_INET);
}
