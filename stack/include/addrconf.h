/*
 * IPv6 addresses of the link (RFC 4862): the link-local address from the
 * MAC (modified EUI-64, RFC 4291 appendix A), the static global address
 * of the configuration, SLAAC from router advertisements, duplicate
 * address detection, and the default router.
 */
#ifndef NSTACK_ADDRCONF_H
#define NSTACK_ADDRCONF_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

struct nstack;
struct inet6_ifaddr;
struct prefix_info;

/* RFC 4862 section 5.1: DupAddrDetectTransmits (Linux's conf.dad_transmits). */
#define ADDRCONF_DAD_TRANSMITS 1

/* The interface identifier from a MAC (modified EUI-64) into the low 64 bits of addr. */
void addrconf_ifid_eui48(struct in6_addr *addr, const uint8_t mac[6]);
/*
 * Adds addr/plen and starts DAD on it; returns the entry or NULL when the
 * table is full or addr is already there.
 */
struct inet6_ifaddr *addrconf_add_ifaddr(struct nstack *ns, const struct in6_addr *addr,
					 unsigned int plen, bool autoconf, uint64_t valid_us,
					 uint64_t prefered_us);
/*
 * Another node claims ifa's address (an NA for it, or an NS for it from
 * :: during our DAD): it is duplicate and never used; said once.
 */
void addrconf_dad_failure(struct nstack *ns, struct inet6_ifaddr *ifa);
/* A prefix information option of a valid router advertisement (RFC 4862 5.5.3). */
void addrconf_prefix_rcv(struct nstack *ns, const struct prefix_info *pinfo);
/* The router lifetime of an advertisement from saddr (RFC 4861 6.3.4). */
void addrconf_router_rcv(struct nstack *ns, const struct in6_addr *saddr, uint16_t lifetime_s);
/* A neighbour is no longer a router (NA with R clear): forget it as default router. */
void addrconf_router_gone(struct nstack *ns, const struct in6_addr *addr);
/* Adds an on-link prefix (lifetime in microseconds, UINT64_MAX forever). */
void addrconf_onlink_add(struct nstack *ns, const struct in6_addr *prefix, unsigned int plen,
			 uint64_t lifetime_us);

int addrconf_init(struct nstack *ns);
void addrconf_exit(struct nstack *ns);

#endif
