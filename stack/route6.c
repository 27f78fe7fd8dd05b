/*
 * Path MTU discovery for IPv6 (RFC 8201), the part of Linux's
 * net/ipv6/route.c a host needs: a small per-destination cache of the
 * MTUs that Packet Too Big messages taught us. An entry only ever lowers
 * the MTU, never below IPV6_MIN_MTU, and expires IP6_RT_MTU_EXPIRES_US
 * after it was learnt (net.ipv6.route.mtu_expires), when the link MTU
 * applies again and a larger PMTU may be discovered (RFC 8201 section 4).
 */
#include <errno.h>
#include <string.h>

#include "ipv6.h"
#include "stack.h"

struct rt6_pmtu {
	struct in6_addr daddr; /* [S] */
	unsigned int mtu;      /* [S] */
	uint64_t expires;      /* [S] stack clock; 0: slot free */
};

/* ns->ip6->pmtu */
struct rt6_pmtu_cache {
	struct rt6_pmtu e[IP6_PMTU_CACHE_SIZE]; /* [S] */
};

static struct rt6_pmtu *rt6_pmtu_lookup(struct nstack *ns, const struct in6_addr *daddr)
{
	struct rt6_pmtu_cache *c = ns->ip6->pmtu;
	uint64_t now = ns_now(ns);

	for (unsigned int i = 0; i < IP6_PMTU_CACHE_SIZE; i++) {
		struct rt6_pmtu *p = &c->e[i];

		if (p->expires > now && ipv6_addr_equal(&p->daddr, daddr))
			return p;
	}
	return NULL;
}

/* The path MTU to daddr; see ipv6.h. */
unsigned int ip6_dst_mtu(struct nstack *ns, const struct in6_addr *daddr)
{
	unsigned int mtu = ip6_mtu(ns);
	const struct rt6_pmtu *p;

	/* Our own addresses are looped back inside the stack, as Linux's lo (64 KiB). */
	if (ipv6_chk_addr(ns, daddr))
		return IPV6_MAXPLEN + IPV6_HLEN;
	if (ipv6_addr_is_multicast(daddr))
		return mtu;
	p = rt6_pmtu_lookup(ns, daddr);
	if (p && p->mtu < mtu)
		mtu = p->mtu;
	return mtu;
}

/* Learns a path MTU from a Packet Too Big; see ipv6.h. */
bool ip6_pmtu_update(struct nstack *ns, const struct in6_addr *daddr, uint32_t mtu)
{
	struct rt6_pmtu_cache *c = ns->ip6->pmtu;
	struct rt6_pmtu *p, *victim = &c->e[0];
	uint64_t now = ns_now(ns);

	if (ipv6_addr_is_multicast(daddr) || ipv6_addr_any(daddr) || ipv6_chk_addr(ns, daddr))
		return false;
	/* RFC 8201 section 4: never below the IPv6 minimum link MTU. */
	if (mtu < IPV6_MIN_MTU)
		mtu = IPV6_MIN_MTU;
	/* Only ever lowered (Linux's rt6_do_update_pmtu(): "mtu >= dst_mtu" is ignored). */
	if (mtu >= ip6_dst_mtu(ns, daddr))
		return false;
	p = rt6_pmtu_lookup(ns, daddr);
	if (!p) {
		/* A free or expired slot, else the one closest to expiry. */
		for (unsigned int i = 0; i < IP6_PMTU_CACHE_SIZE; i++) {
			if (c->e[i].expires <= now) {
				victim = &c->e[i];
				break;
			}
			if (c->e[i].expires < victim->expires)
				victim = &c->e[i];
		}
		p = victim;
		p->daddr = *daddr;
	}
	p->mtu = mtu;
	p->expires = now + IP6_RT_MTU_EXPIRES_US;
	return true;
}

/* Creates the path MTU cache. */
int ip6_route_init(struct nstack *ns)
{
	ns->ip6->pmtu = ns_zalloc(ns, sizeof(struct rt6_pmtu_cache));
	return ns->ip6->pmtu ? 0 : -ENOMEM;
}

void ip6_route_exit(struct nstack *ns)
{
	ns_free(ns, ns->ip6->pmtu);
	ns->ip6->pmtu = NULL;
}
