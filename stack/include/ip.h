/*
 * IPv4: routing (one interface: local subnet, default gateway, broadcast,
 * multicast, our own address looped back), output with fragmentation, input
 * with validation and reassembly, and the demux up to inet_protos[].
 */
#ifndef NSTACK_IP_H
#define NSTACK_IP_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/ip.h"

struct nstack;
struct sk_buff;
struct net_device;
struct sock;

#define IPDEFTTL 64

enum rtn_type {
	RTN_UNICAST = 1,
	RTN_LOCAL,     /* one of our addresses: looped back inside the stack */
	RTN_BROADCAST, /* limited or directed subnet broadcast */
	RTN_MULTICAST,
};

struct rtable {
	uint32_t rt_dst;     /* destination, network order */
	uint32_t rt_gateway; /* next hop on the link, network order */
	uint32_t rt_src;     /* preferred source address */
	enum rtn_type rt_type;
	unsigned int rt_mtu;
};

/* Finds the route to daddr; -ENETUNREACH when there is none. */
int ip_route_output(struct nstack *ns, uint32_t daddr, struct rtable *rt);

/* Per-packet IP parameters for ip_build_and_send(). */
struct ip_tx_params {
	uint8_t ttl; /* 0 = default (IPDEFTTL) */
	uint8_t tos;
	bool df;	   /* set DF; a packet over the MTU then fails with -EMSGSIZE */
	bool id_set;	   /* use id below rather than the stack's counter */
	uint16_t id;	   /* host order */
	bool broadcast_ok; /* SO_BROADCAST: else -EACCES for broadcast routes */
};

/*
 * Prepends an IPv4 header to skb (skb->data at the transport header, with
 * headroom) and sends it: fragments when it exceeds the MTU, resolves the
 * next hop through ARP, or loops it back when it is for us. Always consumes
 * skb. Returns 0 or -errno (-ENETUNREACH, -EMSGSIZE, -EACCES, -ENOBUFS).
 */
int ip_build_and_send(struct nstack *ns, struct sk_buff *skb, uint32_t saddr, uint32_t daddr,
		      uint8_t protocol, const struct ip_tx_params *p);
/* Sends an already built IP packet (skb->data at its header, e.g. IP_HDRINCL). */
int ip_send_raw(struct nstack *ns, struct sk_buff *skb);
/* Next IP ID from the stack's counter, host order. */
uint16_t ip_select_ident(struct nstack *ns);

/* The packet_type handler for ETH_P_IP. */
int ip_rcv(struct sk_buff *skb, struct net_device *dev);
/* Delivers a local packet (skb->data at the IP header) after reassembly. */
int ip_local_deliver(struct sk_buff *skb);

/*
 * Reassembly (ip_fragment.c): takes a fragment (skb->data at the IP header).
 * Returns the whole datagram as a new skb when the last piece arrives,
 * otherwise NULL (the fragment is kept or dropped and counted).
 */
struct sk_buff *ip_defrag(struct nstack *ns, struct sk_buff *skb);
/* Limits, as net.ipv4.ipfrag_* */
#define IPFRAG_HIGH_THRESH (4u << 20)
#define IPFRAG_TIME_US	   (30ull * 1000 * 1000)
#define IPFRAG_MAX_DIST	   64

int ip_init(struct nstack *ns);
void ip_exit(struct nstack *ns);
int ipfrag_init(struct nstack *ns);
void ipfrag_exit(struct nstack *ns);

#endif
