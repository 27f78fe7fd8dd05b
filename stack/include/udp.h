/* UDP (RFC 768) and the port table shared with ping sockets' ident space. */
#ifndef NSTACK_UDP_H
#define NSTACK_UDP_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/types.h>

#include "inet.h"
#include "proto/udp.h"

struct udp_sock {
	struct inet_sock inet;
	bool no_check_tx; /* SO_NO_CHECK */
	int corkflag;	  /* UDP_CORK */
	/* One datagram being assembled under UDP_CORK or MSG_MORE (sk_write_queue). */
	bool pending;
	bool cork_v6; /* the pending datagram is IPv6 (Linux: pending == AF_INET6) */
	uint32_t cork_daddr, cork_saddr; /* network order */
	uint16_t cork_dport;		 /* network order */
	int cork_ttl, cork_tos;		 /* from control messages, -1 = socket's */
	size_t cork_len;		 /* payload bytes so far */
	/* An IPv6 pending datagram's addresses, hop limit (0 = link's) and traffic class. */
	struct in6_addr cork_daddr6, cork_saddr6;
	uint8_t cork_hlim, cork_tclass;
	bool cork_dontfrag;    /* IPV6_DONTFRAG of the pending datagram */
	unsigned int cork_mtu; /* and the MTU it is cut at */
};

extern const struct proto udp_prot;
/* AF_INET6 UDP sockets (udp_ipv6.c): IPv6 proper, and IPv4 through udp_prot's functions. */
extern const struct proto udpv6_prot;

int udp_rcv(struct sk_buff *skb);
void udp_err(struct sk_buff *skb, int type, int code, uint32_t info);

/* What udp_ipv6.c shares with udp.c (Linux's net/udp.h). */
int udp_init_sock(struct sock *sk);
void udp_destroy(struct sock *sk);
void udp_unhash(struct sock *sk);
int udp_get_port(struct sock *sk, uint16_t snum);
ssize_t udp_sendmsg(struct sock *sk, const struct msghdr *msg, size_t len, int flags);
ssize_t udp_recvmsg(struct sock *sk, struct msghdr *msg, size_t len, int flags);
int udp_setsockopt(struct sock *sk, int level, int optname, const void *optval, socklen_t optlen);
int udp_getsockopt(struct sock *sk, int level, int optname, void *optval, socklen_t *optlen);
/* Drops the datagram being assembled (Linux's udp_flush_pending_frames). */
void udp_flush_pending_frames(struct sock *sk);
/* Queues the MSG_ZEROCOPY completion of a datagram sendmsg() that copied len bytes. */
void udp_zerocopy_done(struct sock *sk, size_t len, int flags);

/* udp_ipv6.c */
/* Sends the pending IPv6 datagram (udp_push_pending() of an IPv6 cork). */
int udpv6_push_pending_frames(struct sock *sk);
int udpv6_init(struct nstack *ns);
void udpv6_exit(struct nstack *ns);
/*
 * Picks an ephemeral port as RFC 6056 algorithm 3 describes, using the
 * stack's random source, within the range of ip_local_port_range.
 */
int inet_pick_ephemeral(struct nstack *ns,
			int (*in_use)(struct nstack *ns, uint16_t port, void *arg), void *arg,
			uint16_t *port);

#define IP_LOCAL_PORT_LOW  32768
#define IP_LOCAL_PORT_HIGH 60999

int udp_init(struct nstack *ns);
void udp_exit(struct nstack *ns);

#endif
