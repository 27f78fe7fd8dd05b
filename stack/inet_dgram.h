/*
 * Private to the socket layer and the datagram transports (af_inet.c,
 * af_inet6.c, ip_sockglue.c, udp.c, udp_ipv6.c, ping.c, raw.c,
 * raw_ipv6.c, inet_hashtables.c): the per-stack tables of UDP, ping and raw sockets
 * and the helpers they share, as Linux's net/ipv4/datagram.c and
 * ip_sockglue.c provide them.
 */
#ifndef NSTACK_INET_DGRAM_H
#define NSTACK_INET_DGRAM_H

#include <bsd/sys/queue.h>
#include <time.h> /* linux/errqueue.h needs struct timespec */
#include <linux/errqueue.h>
#include <stdbool.h>
#include <stdint.h>

#include "inet.h"
#include "ip.h"
#include "sock.h"
#include "stack.h"

struct nstack;
struct sk_buff;
struct ip6_tx_params;

LIST_HEAD(sock_list, sock);

/* UDP: sockets hashed by local port (sk_node), and all of them (sk_bind_node). */
#define UDP_HTABLE_SIZE 256
struct udp_table {
	struct sock_list hash[UDP_HTABLE_SIZE];
	struct sock_list all;
	/* RFC 6056 algorithm 3 state for inet_pick_ephemeral(). */
	uint32_t port_secret;
	uint32_t next_ephemeral;
};

/* The chain of UDP sockets on local port (host order), both families. */
static inline struct sock_list *udp_hslot(struct udp_table *t, uint16_t port)
{
	return &t->hash[port & (UDP_HTABLE_SIZE - 1)];
}

/*
 * A received datagram's addresses and ports as the UDP lookups of both
 * families see them (ports network order): saddr/daddr for IPv4,
 * saddr6/daddr6 for IPv6.
 */
struct udp_flow {
	bool v6;
	uint32_t saddr, daddr;
	const struct in6_addr *saddr6, *daddr6;
	uint16_t sport, dport;
};

/* How well sk matches flow f arriving on interface dif; -1: not at all. */
typedef int (*udp_score_fn)(const struct sock *sk, const struct udp_flow *f, int dif);

/*
 * The socket a unicast datagram belongs to: the best score on its port's
 * chain; among equally good SO_REUSEPORT sockets one chosen by a hash of
 * the source, so that a flow sticks to one socket.
 */
struct sock *udp_lookup_scored(struct nstack *ns, const struct udp_flow *f, udp_score_fn score);
/*
 * A multicast or broadcast datagram (skb->data at the UDP header) to every
 * socket that matches (Linux's __udp4/6_lib_mcast_deliver); nobody
 * listening is counted as UdpIgnoredMulti, never answered. Consumes skb.
 */
void udp_deliver_all(struct nstack *ns, struct sk_buff *skb, const struct udp_flow *f,
		     udp_score_fn score);
/* Queues a datagram (skb->data at the UDP header) to sk, counted by f's family; consumes skb. */
void udp_queue_rcv(struct sock *sk, struct sk_buff *skb, bool v6);

/* Ping sockets by echo identifier (sk_num); ident_rover as Linux's ping_port_rover. */
struct ping_table {
	struct sock_list hash[UDP_HTABLE_SIZE];
	struct sock_list all;
	uint16_t ident_rover;
};

/* Raw sockets (sk_node): AF_INET ones on all, AF_INET6 ones on v6; matched by protocol. */
struct raw_table {
	struct sock_list all;
	struct sock_list v6;
};

struct raw_sock {
	struct inet_sock inet;
	uint32_t icmp_filter; /* ICMP_FILTER: bit n set drops ICMP type n */
	/* AF_INET6 (raw_ipv6.c, Linux's raw6_sock): */
	bool checksum;		  /* IPV6_CHECKSUM on: computed out, verified in */
	int offset;		  /* IPV6_CHECKSUM: where the checksum field is */
	uint32_t icmp6_filter[8]; /* ICMP6_FILTER: bit n set drops ICMPv6 type n */
};

/*
 * The index of our one device as sockets see it (SO_BINDTODEVICE,
 * IP_PKTINFO): 1 when the backend gave none, because 0 means "any".
 */
static inline int inet_dev_index(const struct nstack *ns)
{
	return ns_dev(ns) && ns_dev(ns)->ifindex ? ns_dev(ns)->ifindex : 1;
}

/* Linux's SOL_RAW/ICMP_FILTER (linux/icmp.h, which clashes with proto/icmp.h). */
#ifndef ICMP_FILTER
#define ICMP_FILTER 1
#endif

/* IP_PMTUDISC_* default, as net.ipv4.ip_no_pmtu_disc = 0 gives. */
#define INET_PMTUDISC_DEFAULT IP_PMTUDISC_WANT

/* What an error-queue skb carries in skb->cb (Linux's sock_exterr_skb). */
struct sock_exterr_skb {
	struct sock_extended_err ee;
	uint16_t addr_offset; /* offset of the original destination from the network header */
	uint16_t port;	      /* original destination port, network order */
	/* SO_EE_ORIGIN_ICMP6: the node that sent the error ("::" when unknown). */
	struct in6_addr offender6;
};

static inline struct sock_exterr_skb *skb_exterr(struct sk_buff *skb)
{
	_Static_assert(sizeof(struct sock_exterr_skb) <= sizeof(((struct sk_buff *)0)->cb),
		       "cb too small");
	return (struct sock_exterr_skb *)skb->cb;
}

/* Per-call IP parameters from control messages (IP_PKTINFO, IP_TTL, IP_TOS). */
struct ipcm_cookie {
	uint32_t addr; /* source address asked for, 0 = none */
	int ttl;       /* -1 = socket's */
	int tos;       /* -1 = socket's */
};

/* ip_sockglue.c */
int ip_cmsg_send(struct sock *sk, const struct msghdr *msg, struct ipcm_cookie *ipc);
/* Queues an error-queue entry for an ICMP error (IP_RECVERR); payload points into skb. */
void ip_icmp_error(struct sock *sk, struct sk_buff *skb, int err, int type, int code, uint16_t port,
		   uint32_t info, const unsigned char *payload);
/* ip_cmsg_recv() for the IP_CMSG_* flags given (the skb may have no owner). */
void ip_cmsg_recv_flags(struct msghdr *msg, const struct sk_buff *skb, unsigned int flags);
/* Queues a send-side error (EMSGSIZE with the MTU) for IP_RECVERR sockets. */
void ip_local_error(struct sock *sk, int err, uint32_t daddr, uint16_t port, uint32_t info);
/* The ip_tx_params a datagram socket sends with (TTL, TOS, DF and IP ID as Linux chooses). */
void ip_dgram_tx_params(struct sock *sk, const struct ipcm_cookie *ipc, const struct rtable *rt,
			size_t iplen, struct ip_tx_params *p);

/* datagram.c: what UDP, ping and raw share. */
/* sendmsg()'s destination: msg_name (AF_UNSPEC too when unspec_ok) or the connected peer. */
int ip_dgram_daddr(const struct sock *sk, const struct msghdr *msg, bool unspec_ok, uint32_t *daddr,
		   uint16_t *dport);
/* sendmsg()'s control messages, route (SO_BROADCAST check) and source address. */
int ip_dgram_route(struct sock *sk, const struct msghdr *msg, uint32_t daddr,
		   struct ipcm_cookie *ipc, struct rtable *rt, uint32_t *saddr);
/* A send skb with len bytes of msg in it (room for extra more); NULL with *err. */
struct sk_buff *ip_dgram_skb_from_msg(struct sock *sk, const struct msghdr *msg, size_t len,
				      size_t extra, int flags, int *err);
/* -EMSGSIZE (and an IP_RECVERR entry) when tlen bytes past the IP header cannot go out. */
int ip_dgram_check_size(struct sock *sk, const struct rtable *rt, size_t tlen, uint16_t port);
/* ip_dgram_recvmsg() options: */
#define IP_DGRAM_OOB_EOPNOTSUPP 0x1 /* MSG_OOB fails (ping, raw); UDP ignores it, as Linux */
#define IP_DGRAM_NAME_PORT	0x2 /* msg_name carries the UDP source port */
ssize_t ip_dgram_recvmsg(struct sock *sk, struct msghdr *msg, size_t len, int flags,
			 unsigned int opts);
/* Copies skb's data to msg cut to len (MSG_TRUNC), then the timestamp cmsg; *copied set. */
int ip_dgram_copy_msg(struct sock *sk, const struct sk_buff *skb, struct msghdr *msg, size_t len,
		      size_t *copied);
/* Fills msg_name, if given, with an AF_INET address and port (network order). */
void ip_dgram_put_name(struct msghdr *msg, uint32_t addr, uint16_t port);
/* SIOCINQ/SIOCOUTQ for datagram sockets. */
int ip_dgram_ioctl(struct sock *sk, unsigned long cmd, void *arg);
/* Queues (IP_RECVERR) and reports an ICMP error as sk_err; without IP_RECVERR only hard
 * errors on connected sockets. */
void ip_dgram_icmp_report(struct sock *sk, struct sk_buff *skb, int err, bool harderr, int type,
			  int code, uint16_t port, uint32_t info, const unsigned char *payload);
/* Teardown: closes the sockets left on a table's all-list (sk_bind_node); logs when proto. */
void ip4_datagram_close_all(struct nstack *ns, struct sock_list *all, const char *proto);

/* af_inet.c: connect() for datagram sockets (Linux's ip4_datagram_connect). */
int ip4_datagram_connect(struct sock *sk, const struct sockaddr *uaddr, socklen_t len);
/* Clears the peer of a datagram socket (connect(AF_UNSPEC)). */
int ip4_datagram_disconnect(struct sock *sk, int flags);
/* Common close for datagram protocols: unhash, orphan, drop the reference. */
void ip4_datagram_close(struct sock *sk, int64_t timeout_us);
/* Classifies a local address for bind(): 0 ok, -EADDRNOTAVAIL otherwise; *bcast for broadcast. */
int inet_bind_addr_check(struct sock *sk, uint32_t addr, bool *bcast);
/* True for 255.255.255.255 and our subnet's directed broadcast. */
bool inet_addr_is_broadcast(const struct nstack *ns, uint32_t addr);

/* udp.c: the socket lookup udp_err() and tests share. */
struct sock *udp4_lib_lookup(struct nstack *ns, uint32_t saddr, uint16_t sport, uint32_t daddr,
			     uint16_t dport);
/* udp_ipv6.c: the IPv6 socket lookup (ports in network order). */
struct sock *udp6_lib_lookup(struct nstack *ns, const struct in6_addr *saddr, uint16_t sport,
			     const struct in6_addr *daddr, uint16_t dport);
/* ping.c */
struct sock *ping_lookup(struct nstack *ns, uint16_t ident, uint32_t daddr);

/* Per-call IPv6 parameters from control messages; unset: the socket's. */
struct ipcm6_cookie {
	struct in6_addr saddr; /* IPV6_PKTINFO's source, "::" = none */
	int hlim;	       /* IPV6_HOPLIMIT, -1 = socket's */
	int tclass;	       /* IPV6_TCLASS, -1 = socket's */
	int dontfrag;	       /* IPV6_DONTFRAG, -1 = socket's */
};

/* datagram_ipv6.c (Linux's net/ipv6/datagram.c), for udp_ipv6.c, ping.c and raw_ipv6.c. */
int ip6_datagram_saddr(struct sock *sk, const struct in6_addr *daddr, struct in6_addr *saddr);
int ip6_datagram_route(struct sock *sk, const struct in6_addr *daddr);
int ip6_datagram_connect(struct sock *sk, const struct sockaddr *uaddr, socklen_t len);
int ip6_datagram_send_ctl(struct sock *sk, const struct msghdr *msg, struct ipcm6_cookie *ipc6);
void ip6_datagram_recv_common_ctl(struct sock *sk, struct msghdr *msg, const struct sk_buff *skb);
void ip6_datagram_recv_specific_ctl(struct sock *sk, struct msghdr *msg, const struct sk_buff *skb);
void ipv6_icmp_error(struct sock *sk, struct sk_buff *skb, int err, uint8_t type, uint8_t code,
		     uint16_t port, uint32_t info, const unsigned char *payload);
ssize_t ipv6_recv_error(struct sock *sk, struct msghdr *msg, size_t len);
/*
 * -EMSGSIZE when len bytes of upper-layer packet to daddr would need
 * fragments the socket forbids (Linux's checks in __ip6_append_data):
 * IPV6_MTU_DISCOVER DO or PROBE, or IPV6_DONTFRAG (then the MTU is kept
 * for IPV6_RECVPATHMTU); a local error is queued with IPV6_RECVERR. Else 0.
 */
int ip6_datagram_check_mtu(struct sock *sk, const struct in6_addr *daddr, uint16_t dport,
			   const struct ip6_tx_params *p, size_t len);
/*
 * Queues a local error about a datagram to daddr/dport on an IPV6_RECVERR
 * socket (Linux's ipv6_local_error): origin SO_EE_ORIGIN_LOCAL, info e.g.
 * the MTU that refused it.
 */
void ipv6_local_error(struct sock *sk, int err, const struct in6_addr *daddr, uint16_t dport,
		      uint32_t info);
/*
 * Fills msg_name, if given, with addr/port (network order) as a
 * sockaddr_in6, the interface as scope of a link-local address (RFC 4007
 * 11.7: only meaningful with its link).
 */
void ip6_dgram_put_name(struct sock *sk, struct msghdr *msg, const struct in6_addr *addr,
			uint16_t port);
/*
 * The common start of an AF_INET6 datagram recvmsg(): MSG_ERRQUEUE reads
 * the error queue and a pending IPV6_RECVPATHMTU report comes first (both
 * returned in *ret, NULL returned); else the next datagram, copied into
 * msg (*copied bytes), which the caller names, annotates and frees; NULL
 * with *ret = -errno when there is none.
 */
struct sk_buff *ip6_dgram_recv_skb(struct sock *sk, struct msghdr *msg, size_t len, int flags,
				   size_t *copied, ssize_t *ret);
/* Whether recvmsg() has a path MTU to report first (ipv6_recv_rxpmtu()). */
static inline bool ipv6_rxpmtu_pending(const struct sock *sk)
{
	const struct inet6_opts *o = &((const struct inet_sock *)sk)->v6;

	return o->rxpmtu && o->pmtu_pending;
}
/*
 * recvmsg() of the path MTU kept by ip6_datagram_check_mtu() (Linux's
 * ipv6_recv_rxpmtu): no data, the destination as msg_name, an
 * IPV6_PATHMTU control message with struct ip6_mtuinfo.
 */
ssize_t ipv6_recv_rxpmtu(struct sock *sk, struct msghdr *msg);
/*
 * Tells sk of an ICMPv6 error as Linux's datagram sockets do: queued with
 * IPV6_RECVERR, and then (or, without it, when hard and sk is connected)
 * as sk_err.
 */
void ip6_dgram_icmp_report(struct sock *sk, struct sk_buff *skb, int err, bool harderr,
			   uint8_t type, uint8_t code, uint16_t port, uint32_t info,
			   const unsigned char *payload);
ssize_t ip6_datagram_recvmsg(struct sock *sk, struct msghdr *msg, size_t len, int flags);
void ip6_datagram_forget(struct sock *sk);
int ip6_datagram_disconnect(struct sock *sk, int flags);
void ip6_datagram_tx_params(const struct sock *sk, const struct in6_addr *daddr,
			    const struct ipcm6_cookie *ipc6, struct ip6_tx_params *p);
int ip6_datagram_send_prepare(struct sock *sk, const struct msghdr *msg,
			      const struct in6_addr *daddr, struct in6_addr *saddr,
			      struct ip6_tx_params *tp);

#endif
