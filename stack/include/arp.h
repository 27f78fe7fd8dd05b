/*
 * ARP and the IPv4 neighbour table (RFC 826; states and timers as Linux's
 * neighbour subsystem: INCOMPLETE, REACHABLE, STALE, DELAY, PROBE, FAILED).
 */
#ifndef NSTACK_ARP_H
#define NSTACK_ARP_H

#include <stdbool.h>
#include <stdint.h>

struct nstack;
struct sk_buff;
struct net_device;

enum neigh_state {
	NUD_NONE = 0,
	NUD_INCOMPLETE,
	NUD_REACHABLE,
	NUD_STALE,
	NUD_DELAY,
	NUD_PROBE,
	NUD_FAILED,
	NUD_PERMANENT,
};

/* Linux's defaults (net.ipv4.neigh.default.*). */
#define NEIGH_RETRANS_US	(1000ull * 1000)  /* retrans_time_ms */
#define NEIGH_BASE_REACHABLE_US (30000ull * 1000) /* base_reachable_time_ms */
#define NEIGH_DELAY_PROBE_US	(5000ull * 1000)  /* delay_first_probe_time */
#define NEIGH_GC_STALE_US	(60000ull * 1000) /* gc_stale_time */
#define NEIGH_MCAST_PROBES	3
#define NEIGH_UCAST_PROBES	3
#define NEIGH_UNRES_QLEN	101 /* packets held while resolving */

/*
 * Sends skb (skb->data at the IP header) to the on-link next hop, filling
 * the Ethernet header; holds it while ARP resolves. Consumes skb.
 */
int neigh_output(struct nstack *ns, struct sk_buff *skb, uint32_t nexthop);
/* The packet_type handler for ETH_P_ARP. */
int arp_rcv(struct sk_buff *skb, struct net_device *dev);
/* Announces our address (gratuitous ARP request). */
int arp_send_gratuitous(struct nstack *ns);
/* Looks up a neighbour; returns its state and copies the MAC when known. */
enum neigh_state neigh_lookup_state(struct nstack *ns, uint32_t ip, uint8_t mac[6]);
/* Adds a permanent entry (tests, static configuration). */
int neigh_add_permanent(struct nstack *ns, uint32_t ip, const uint8_t mac[6]);

int arp_init(struct nstack *ns);
void arp_exit(struct nstack *ns);

#endif
