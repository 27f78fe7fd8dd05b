/*
 * Neighbour discovery (RFC 4861): the IPv6 neighbour cache with Linux's NUD
 * states (the same life cycle as the ARP table's, arp.h), NS/NA both ways,
 * router solicitation and advertisement.
 */
#ifndef NSTACK_NDISC_H
#define NSTACK_NDISC_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "arp.h" /* enum neigh_state */

struct nstack;
struct sk_buff;

/* RFC 4861 section 10 constants, as Linux's net.ipv6.neigh.default.* and conf.*. */
#define NDISC_RETRANS_US	   (1000ull * 1000)  /* RETRANS_TIMER */
#define NDISC_BASE_REACHABLE_US	   (30000ull * 1000) /* REACHABLE_TIME */
#define NDISC_DELAY_PROBE_US	   (5000ull * 1000)  /* DELAY_FIRST_PROBE_TIME */
#define NDISC_GC_STALE_US	   (60000ull * 1000)
#define NDISC_MCAST_PROBES	   3 /* MAX_MULTICAST_SOLICIT */
#define NDISC_UCAST_PROBES	   3 /* MAX_UNICAST_SOLICIT */
#define NDISC_UNRES_QLEN	   101
#define NDISC_RTR_SOLICITS	   3		    /* conf.router_solicitations (RFC 4861: 3) */
#define NDISC_RTR_SOLICIT_INTERVAL (4000ull * 1000) /* RTR_SOLICITATION_INTERVAL */
#define NDISC_RTR_SOLICIT_DELAY	   (1000ull * 1000) /* MAX_RTR_SOLICITATION_DELAY */
#define NDISC_HOP_LIMIT		   255

/*
 * Sends skb (skb->data at the IPv6 header) to the on-link next hop,
 * resolving its link-layer address first when needed. Consumes skb.
 */
int ndisc_output(struct nstack *ns, struct sk_buff *skb, const struct in6_addr *nexthop);
/* ICMPv6 types 133-137: validates (RFC 4861 6.1, 7.1) and handles. Consumes skb. */
int ndisc_rcv(struct sk_buff *skb);
/*
 * Sends a neighbour solicitation for target to daddr (NULL: target's
 * solicited-node group) from saddr (NULL or :: for DAD: no source
 * link-layer option then).
 */
int ndisc_send_ns(struct nstack *ns, const struct in6_addr *target, const struct in6_addr *daddr,
		  const struct in6_addr *saddr);
/* Sends a router solicitation to all-routers. */
int ndisc_send_rs(struct nstack *ns);
/* The state of the cache entry for addr; its MAC into mac when valid. */
enum neigh_state ndisc_lookup_state(struct nstack *ns, const struct in6_addr *addr, uint8_t mac[6]);
/* Adds a permanent entry (tests, static configuration). */
int ndisc_add_permanent(struct nstack *ns, const struct in6_addr *addr, const uint8_t mac[6]);

int ndisc_init(struct nstack *ns);
void ndisc_exit(struct nstack *ns);

#endif
