/*
 * AF_INET: the protocol switch (inetsw), the receive demux (inet_protos)
 * and the fields every IPv4 socket shares (struct inet_sock).
 */
#ifndef NSTACK_INET_H
#define NSTACK_INET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "netdevice.h"
#include "sock.h"

struct nstack;
struct sk_buff;

/* Socket types that inetsw is indexed by (SOCK_STREAM=1 ... SOCK_PACKET=10). */
#define NSTACK_SOCK_MAX 11
#define INETSW_PER_TYPE 4

struct inet_protosw {
	unsigned short type;
	unsigned short protocol; /* IPPROTO_IP is the wildcard */
	const struct proto *prot;
	const struct proto_ops *ops;
	unsigned int flags;
};

#define INET_PROTOSW_REUSE     0x01
#define INET_PROTOSW_PERMANENT 0x02
#define INET_PROTOSW_ICSK      0x04

/* Transport receive handlers, indexed by the IP protocol number. */
struct inet_protocol {
	/* skb->data at the transport header, network header set; consumes skb. */
	int (*handler)(struct sk_buff *skb);
	/*
	 * An ICMP error about a packet we sent: skb->data at the quoted IP
	 * header, type/code from the ICMP header, info the ICMP "rest of header"
	 * (next-hop MTU for FRAG_NEEDED). Does not consume skb.
	 */
	void (*err_handler)(struct sk_buff *skb, int type, int code, uint32_t info);
	/*
	 * Optional (see packet_type.rx_order_key): th points at the transport
	 * header, len bytes up to the end of the IP payload; fills key->ports
	 * and key->seq of a data segment whose delivery order may change.
	 */
	bool (*rx_order_key)(const uint8_t *th, size_t len, struct rx_order_key *key);
};

/* Fields of every AF_INET socket. */
/*
 * What an AF_INET6 socket keeps of its own (Linux's ipv6_pinfo, in part):
 * the IPPROTO_IPV6 options, which govern its IPv6 traffic proper (its IPv4
 * traffic through v4-mapped addresses follows the IPPROTO_IP ones).
 */
struct inet6_opts {
	bool ipv6only;	   /* IPV6_V6ONLY */
	bool mc_loop;	   /* IPV6_MULTICAST_LOOP */
	bool recverr;	   /* IPV6_RECVERR */
	uint8_t pmtudisc;  /* IPV6_MTU_DISCOVER */
	uint8_t rxopt;	   /* IPV6_RECVPKTINFO, _RECVHOPLIMIT, _RECVTCLASS bits */
	int16_t hop_limit; /* IPV6_UNICAST_HOPS, -1 = default */
	int16_t mcast_hops;
	int16_t tclass; /* IPV6_TCLASS */
	int mcast_oif;	/* IPV6_MULTICAST_IF */
	int mtu;	/* IPV6_MTU, 0 = path's */
	bool dontfrag;	/* IPV6_DONTFRAG */
	bool rxpmtu;	/* IPV6_RECVPATHMTU */
	/*
	 * The path MTU a send refused with IPV6_DONTFRAG, for the next
	 * recvmsg() (IPV6_PATHMTU, RFC 3542 11.3); 0 = none. One slot: a
	 * newer refusal replaces it, as Linux's np->rxpmtu.
	 */
	uint32_t pmtu_pending;
	struct in6_addr pmtu_addr;
};

struct inet_sock {
	struct sock sk;
	uint32_t inet_saddr; /* source address used for sending, network order */
	uint16_t inet_sport; /* network order */
	uint16_t inet_id;    /* IP ID counter for connected DF traffic */
	int uc_ttl;	     /* IP_TTL, -1 = default */
	uint8_t tos;	     /* IP_TOS */
	uint8_t mc_ttl;
	bool mc_loop;
	uint8_t pmtudisc; /* IP_PMTUDISC_* */
	bool recverr;	  /* IP_RECVERR */
	bool hdrincl;	  /* IP_HDRINCL (raw) */
	bool freebind;
	bool transparent;
	bool bind_address_no_port;
	unsigned int cmsg_flags; /* IP_CMSG_* for IP_PKTINFO, IP_RECVTTL, IP_RECVTOS */
	uint32_t mc_addr;	 /* IP_MULTICAST_IF */
	struct inet6_opts v6;	 /* AF_INET6 sockets: the IPPROTO_IPV6 options */
};

/* inet6_opts.rxopt bits (Linux's ipv6_pinfo.rxopt). */
#define IPV6_RXOPT_PKTINFO  0x01 /* IPV6_RECVPKTINFO */
#define IPV6_RXOPT_HOPLIMIT 0x02 /* IPV6_RECVHOPLIMIT */
#define IPV6_RXOPT_TCLASS   0x04 /* IPV6_RECVTCLASS */

#define IP_CMSG_PKTINFO	    0x01
#define IP_CMSG_TTL	    0x02
#define IP_CMSG_TOS	    0x04
#define IP_CMSG_RECVOPTS    0x08
#define IP_CMSG_ORIGDSTADDR 0x10

static inline struct inet_sock *inet_sk(const struct sock *sk)
{
	return (struct inet_sock *)sk;
}

/*
 * Whether sk may carry IPv4 traffic: an AF_INET socket, or an AF_INET6 one
 * that is neither IPV6_V6ONLY nor bound to or connected with an IPv6
 * address proper (then it serves IPv4 through v4-mapped addresses).
 */
static inline bool sk_v4_ok(const struct sock *sk)
{
	return !sk->sk_ipv6 && !(sk->sk_family == AF_INET6 && inet_sk(sk)->v6.ipv6only);
}

/* Whether sk may carry IPv6 traffic: AF_INET6, not bound or connected to an IPv4 address. */
static inline bool sk_v6_ok(const struct sock *sk)
{
	return sk->sk_family == AF_INET6 && (sk->sk_ipv6 || (!sk->sk_rcv_saddr && !sk->sk_daddr));
}

/*
 * Whether two sockets' local addresses overlap, so that they may not share
 * a port without SO_REUSEADDR/SO_REUSEPORT (Linux's inet_rcv_saddr_equal
 * with wildcards matching, for any mix of AF_INET and AF_INET6).
 */
bool inet_rcv_saddr_overlap(const struct sock *sk, const struct sock *sk2);

int inet_register_protosw(struct nstack *ns, const struct inet_protosw *p);
/* The switch operations on a given table (inetsw or inetsw6). */
int inet_protosw_add(nsref_t (*table)[INETSW_PER_TYPE], const struct inet_protosw *p);
void inet_protosw_del(nsref_t (*table)[INETSW_PER_TYPE], const struct inet_protosw *p, bool force);
/* socket() for a family whose switch is table (inet_create, inet6_create). */
int inet_create_from(struct nstack *ns, struct socket *sock, int protocol,
		     nsref_t (*table)[INETSW_PER_TYPE], int family);
void inet_unregister_protosw(struct nstack *ns, const struct inet_protosw *p);
int inet_add_protocol(struct nstack *ns, const struct inet_protocol *prot, uint8_t protocol);
void inet_del_protocol(struct nstack *ns, uint8_t protocol);
const struct inet_protocol *inet_protocol_get(const struct nstack *ns, uint8_t protocol);

/* Registers AF_INET, the protocol switch and every transport (af_inet.c). */
int inet_init(struct nstack *ns);
void inet_exit(struct nstack *ns);
/* TCP is a stack module of its own, initialised after inet (tcp_ipv4.c). */
int tcp_init(struct nstack *ns);
void tcp_exit(struct nstack *ns);

/* Generic AF_INET proto_ops pieces other families' ops may reuse. */
int inet_release(struct socket *sock);
int inet_bind(struct socket *sock, const struct sockaddr *addr, socklen_t len);
int inet_dgram_connect(struct socket *sock, const struct sockaddr *addr, socklen_t len, int flags);
int inet_getname(struct socket *sock, struct sockaddr *addr, socklen_t *len, int peer);
int inet_ioctl(struct socket *sock, unsigned long cmd, void *arg);
int inet_shutdown(struct socket *sock, int how);
ssize_t inet_sendmsg(struct socket *sock, const struct msghdr *msg, int flags);
ssize_t inet_recvmsg(struct socket *sock, struct msghdr *msg, int flags);
int inet_setsockopt(struct socket *sock, int level, int optname, const void *optval,
		    socklen_t optlen);
int inet_getsockopt(struct socket *sock, int level, int optname, void *optval, socklen_t *optlen);
/* IPPROTO_IP level options shared by UDP, raw, ping and TCP (ip_sockglue). */
int ip_setsockopt(struct sock *sk, int level, int optname, const void *optval, socklen_t optlen);
int ip_getsockopt(struct sock *sk, int level, int optname, void *optval, socklen_t *optlen);
/* Adds IP_PKTINFO/IP_TTL/IP_TOS control messages for a received skb. */
void ip_cmsg_recv(struct msghdr *msg, struct sk_buff *skb);
/* recvmsg(MSG_ERRQUEUE) for IPv4 sockets (TCP's zerocopy completions too). */
ssize_t ip_recv_error(struct sock *sk, struct msghdr *msg, size_t len);

/* Address checks against the stack's configuration (in route.c). */
bool inet_addr_is_local(const struct nstack *ns, uint32_t addr);

extern const struct proto_ops inet_dgram_ops;
extern const struct proto_ops inet_sockraw_ops;
extern const struct proto_ops inet_stream_ops;

/* AF_INET6 (af_inet6.c, ipv6_sockglue.c). */
int inet6_init(struct nstack *ns);
void inet6_exit(struct nstack *ns);
int ipv6_setsockopt(struct sock *sk, int optname, const void *optval, socklen_t optlen);
int inet6_addr_to_v4(const struct sock *sk, const struct sockaddr *uaddr, socklen_t len,
		     struct sockaddr_in *sin);
int ipv6_getsockopt(struct sock *sk, int optname, void *optval, socklen_t *optlen);
extern const struct proto_ops inet6_stream_ops;
extern const struct proto_ops inet6_dgram_ops;
extern const struct proto_ops inet6_sockraw_ops;

#endif
