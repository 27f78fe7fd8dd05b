/*
 * IPv4 routing for a single interface: our own address (looped back), the
 * limited and directed broadcasts, multicast, the on-link subnet and the
 * default gateway. Linux's fib lookup reduced to what one address and one
 * device need.
 */
#include <errno.h>
#include <string.h>

#include "ip.h"
#include "ip_priv.h"
#include "stack.h"

/* True for the directed broadcast address of our subnet. */
bool ip_addr_is_subnet_bcast(const struct nstack *ns, uint32_t addr)
{
	/* A /31 or /32 has no directed broadcast (RFC 3021). */
	if (ns->cfg.prefixlen >= 31)
		return false;
	return addr == (ns->cfg.addr | ~ns->netmask);
}

/* The MTU IP uses on the device: the configured one when smaller. */
static unsigned int route_mtu(const struct nstack *ns)
{
	unsigned int mtu = ns_dev(ns) ? ns_dev(ns)->mtu : ETH_DATA_LEN;

	if (ns->cfg.mtu && ns->cfg.mtu < mtu)
		mtu = ns->cfg.mtu;
	if (mtu == 0)
		mtu = ETH_DATA_LEN;
	return mtu;
}

/*
 * True when addr is one of our addresses. Like Linux's inet_addr_type()
 * == RTN_LOCAL for our single address; 127/8 is not ours, since nstack
 * leaves loopback traffic to the kernel.
 */
bool inet_addr_is_local(const struct nstack *ns, uint32_t addr)
{
	return addr != 0 && addr == ns->cfg.addr;
}

/*
 * Fills rt with the route to daddr (network order). The order of checks
 * follows Linux's ip_route_output_key: local, broadcast and multicast
 * first, then the connected subnet, then the default route.
 */
int ip_route_output(struct nstack *ns, uint32_t daddr, struct rtable *rt)
{
	memset(rt, 0, sizeof(*rt));
	rt->rt_dst = daddr;
	rt->rt_src = ns->cfg.addr;
	rt->rt_mtu = route_mtu(ns);
	rt->rt_gateway = daddr;

	if (daddr == 0) {
		/* Linux treats INADDR_ANY as "send to myself". */
		rt->rt_dst = ns->cfg.addr;
		rt->rt_gateway = ns->cfg.addr;
		rt->rt_type = RTN_LOCAL;
		rt->rt_mtu = IP_MAXPACKET;
		return 0;
	}
	if (inet_addr_is_local(ns, daddr)) {
		/* Looped back inside the stack: Linux's lo has a 64 KiB MTU,
		 * so local traffic is never fragmented. */
		rt->rt_type = RTN_LOCAL;
		rt->rt_mtu = IP_MAXPACKET;
		return 0;
	}
	if (ns->link_gone)
		return -ENETDOWN; /* the interface was deleted (nstack_link_gone) */
	if (ipv4_is_lbcast(daddr) || ip_addr_is_subnet_bcast(ns, daddr)) {
		rt->rt_type = RTN_BROADCAST;
		return 0;
	}
	if (ipv4_is_multicast(daddr)) {
		rt->rt_type = RTN_MULTICAST;
		return 0;
	}
	if (ipv4_is_loopback(daddr)) {
		/* Loopback belongs to the kernel; it never goes on the wire. */
		NS_INC_STATS(ns, IpOutNoRoutes);
		return -ENETUNREACH;
	}
	rt->rt_type = RTN_UNICAST;
	if (((daddr ^ ns->cfg.addr) & ns->netmask) == 0)
		return 0;
	if (ns->cfg.gateway == 0) {
		NS_INC_STATS(ns, IpOutNoRoutes);
		return -ENETUNREACH;
	}
	rt->rt_gateway = ns->cfg.gateway;
	return 0;
}
