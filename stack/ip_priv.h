/*
 * State and helpers shared by the IPv4 files (arp.c, route.c, ip_input.c,
 * ip_output.c, ip_fragment.c, icmp.c). Not a contract for other modules:
 * those use ip.h, arp.h and icmp.h.
 */
#ifndef NSTACK_IP_PRIV_H
#define NSTACK_IP_PRIV_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>

#include "ip.h"

struct nstack;
struct sk_buff;
struct ipfrag_state;

/* ns->ip */
struct ipv4_state {
	uint16_t ident;		   /* next IP ID, host order */
	struct ipfrag_state *frag; /* reassembly queues (ip_fragment.c) */
};

static inline bool ipv4_is_multicast(uint32_t addr)
{
	return (ntohl(addr) & 0xf0000000u) == 0xe0000000u;
}

static inline bool ipv4_is_lbcast(uint32_t addr)
{
	return addr == 0xffffffffu;
}

static inline bool ipv4_is_zeronet(uint32_t addr)
{
	return (ntohl(addr) & 0xff000000u) == 0;
}

static inline bool ipv4_is_loopback(uint32_t addr)
{
	return (ntohl(addr) & 0xff000000u) == 0x7f000000u;
}

/* Class E (240/4): reserved, never a valid host (RFC 1122 3.2.1.3). */
static inline bool ipv4_is_class_e(uint32_t addr)
{
	return (ntohl(addr) & 0xf0000000u) == 0xf0000000u && addr != 0xffffffffu;
}

/* The directed broadcast of our subnet (route.c). */
bool ip_addr_is_subnet_bcast(const struct nstack *ns, uint32_t addr);

/*
 * Transmits a finished IP packet (skb->data at its header, checksum set)
 * along rt: loopback, broadcast, multicast or through the neighbour table,
 * fragmenting when it exceeds rt->rt_mtu. Consumes skb.
 */
int ip_finish_output(struct nstack *ns, struct sk_buff *skb, const struct rtable *rt);

/*
 * Delivers an ICMP error about skb (skb->data at an IP header we sent) to
 * the local socket that sent it, as if the error had come back from the
 * network: Linux's dst_link_failure() -> icmp_send() to ourselves. Does not
 * consume skb.
 */
void icmp_local_error(struct nstack *ns, const struct sk_buff *skb, int type, int code,
		      uint32_t info);

/* Detaches skb from its owning socket (Linux's skb_orphan). */
void ip_skb_orphan(struct sk_buff *skb);

#endif
