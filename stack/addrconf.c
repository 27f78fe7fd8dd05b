/*
 * IPv6 addresses of the link (RFC 4862, RFC 4291), as Linux's addrconf.c
 * does them for one interface:
 *
 *   add --(random delay < 1 s)--> NS from :: to the solicited-node group
 *       --(RetransTimer, no answer)--> PREFERRED
 *   an NA for it, or an NS for it from :: --> DUPLICATE (never used)
 *
 * The link-local address comes from the MAC (modified EUI-64); a static
 * global address from the configuration; SLAAC makes one from each /64
 * prefix a router advertises with the A flag. Once the link-local address
 * is ours we solicit routers. Lifetimes of addresses, prefixes and the
 * default router run out on one timer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "addrconf.h"
#include "ipv6.h"
#include "ndisc.h"
#include "stack.h"

/* RFC 4862 5.5.3(e): a lifetime an advertisement may not cut below. */
#define ADDRCONF_TWO_HOURS_US (2ull * 3600 * 1000 * 1000)

const struct in6_addr in6addr_linklocal_allnodes_ns = {.s6_addr = {0xff, 0x02, [15] = 0x01}};
const struct in6_addr in6addr_linklocal_allrouters_ns = {.s6_addr = {0xff, 0x02, [15] = 0x02}};

/* True when a and b agree in their first plen bits. */
bool ipv6_prefix_equal(const struct in6_addr *a, const struct in6_addr *b, unsigned int plen)
{
	unsigned int bytes = plen / 8, bits = plen % 8;

	if (plen > 128)
		return false;
	if (memcmp(a->s6_addr, b->s6_addr, bytes) != 0)
		return false;
	if (bits) {
		uint8_t mask = (uint8_t)(0xff << (8 - bits));

		return ((a->s6_addr[bytes] ^ b->s6_addr[bytes]) & mask) == 0;
	}
	return true;
}

/* Our entry for addr in any used state, or NULL. */
struct inet6_ifaddr *ipv6_get_ifaddr(struct nstack *ns, const struct in6_addr *addr)
{
	if (!ns->ip6)
		return NULL;
	for (unsigned int i = 0; i < IPV6_MAX_ADDRS; i++) {
		struct inet6_ifaddr *ifa = &ns->ip6->addrs[i];

		if (ifa->state != IFA_UNUSED && ipv6_addr_equal(&ifa->addr, addr))
			return ifa;
	}
	return NULL;
}

/* True when addr is one of our usable addresses (preferred or optimistic, as Linux's). */
bool ipv6_chk_addr(struct nstack *ns, const struct in6_addr *addr)
{
	const struct inet6_ifaddr *ifa = ipv6_get_ifaddr(ns, addr);

	return ifa && ifa_state_usable(ifa->state);
}

/*
 * The groups a host joins (RFC 4861 7.2.1, RFC 4862 5.4.2): all-nodes and
 * the solicited-node group of each address, tentative ones included (DAD
 * must hear the other claimant), duplicate ones not.
 */
bool ipv6_chk_mcast_addr(struct nstack *ns, const struct in6_addr *addr)
{
	if (ipv6_addr_is_ll_all_nodes(addr))
		return true;
	if (!ipv6_addr_is_solict_mult(addr))
		return false;
	for (unsigned int i = 0; i < IPV6_MAX_ADDRS; i++) {
		const struct inet6_ifaddr *ifa = &ns->ip6->addrs[i];
		struct in6_addr sol;

		if (!ifa_state_usable(ifa->state) && !ifa_state_dad(ifa->state))
			continue;
		addrconf_addr_solict_mult(&ifa->addr, &sol);
		if (ipv6_addr_equal(&sol, addr))
			return true;
	}
	return false;
}

/*
 * Source address selection (RFC 6724 section 5) reduced to what one link
 * needs: link-local and link-scope multicast destinations get the
 * link-local address (rule 2, scope); others the preferred global address
 * sharing the longest prefix with daddr (rule 8), else the link-local one.
 */
int ipv6_dev_get_saddr(struct nstack *ns, const struct in6_addr *daddr, struct in6_addr *saddr)
{
	const struct inet6_ifaddr *best = NULL, *ll = NULL;
	unsigned int best_len = 0;
	bool link_scope = ipv6_addr_is_linklocal(daddr) ||
			  (ipv6_addr_is_multicast(daddr) && ipv6_addr_mc_scope(daddr) <= 2);

	for (unsigned int i = 0; i < IPV6_MAX_ADDRS; i++) {
		const struct inet6_ifaddr *ifa = &ns->ip6->addrs[i];
		unsigned int len = 0;

		if (!ifa_state_usable(ifa->state))
			continue;
		if (ipv6_addr_is_linklocal(&ifa->addr)) {
			if (!ll || (ll->state == IFA_OPTIMISTIC && ifa->state == IFA_PREFERRED))
				ll = ifa;
			continue;
		}
		if (link_scope)
			continue;
		while (len < 128 && ipv6_prefix_equal(&ifa->addr, daddr, len + 1))
			len++;
		/* Rule 3 (as Linux): a preferred address beats an optimistic one. */
		if (best && best->state != ifa->state) {
			if (ifa->state == IFA_PREFERRED) {
				best = ifa;
				best_len = len;
			}
			continue;
		}
		if (!best || len > best_len) {
			best = ifa;
			best_len = len;
		}
	}
	if (!best)
		best = ll;
	if (!best)
		return -EADDRNOTAVAIL;
	*saddr = best->addr;
	return 0;
}

/* Modified EUI-64 from a MAC (RFC 4291 appendix A): U/L bit flipped, ff:fe in the middle. */
void addrconf_ifid_eui48(struct in6_addr *addr, const uint8_t mac[6])
{
	addr->s6_addr[8] = mac[0] ^ 0x02;
	addr->s6_addr[9] = mac[1];
	addr->s6_addr[10] = mac[2];
	addr->s6_addr[11] = 0xff;
	addr->s6_addr[12] = 0xfe;
	addr->s6_addr[13] = mac[3];
	addr->s6_addr[14] = mac[4];
	addr->s6_addr[15] = mac[5];
}

static void addrconf_verify(struct nstack *ns);

static void addrconf_rs_timer(struct timer_list *t)
{
	struct ipv6_state *ip6 = container_of(t, struct ipv6_state, rs_timer);
	struct nstack *ns = ip6->ns;

	if (ip6->rs_sent >= NDISC_RTR_SOLICITS)
		return;
	ndisc_send_rs(ns);
	ip6->rs_sent++;
	if (ip6->rs_sent < NDISC_RTR_SOLICITS)
		mod_timer(ns, &ip6->rs_timer, ns_now(ns) + NDISC_RTR_SOLICIT_INTERVAL);
}

/*
 * DAD is over without a claimant (RFC 4862 5.4): the address is ours. The
 * first link-local one starts router solicitation at once, as Linux's
 * addrconf_dad_completed() (RFC 4861 6.3.7: the delay before the first
 * solicitation was the DAD delay).
 */
static void addrconf_dad_completed(struct nstack *ns, struct inet6_ifaddr *ifa)
{
	struct ipv6_state *ip6 = ns->ip6;

	ifa->state = IFA_PREFERRED;
	ns_info(ns, "ipv6: address %s ready",
		inet_ntop(AF_INET6, &ifa->addr, (char[INET6_ADDRSTRLEN]){0}, INET6_ADDRSTRLEN));
	if (ipv6_addr_is_linklocal(&ifa->addr) && ip6->rs_sent == 0 &&
	    !timer_pending(&ip6->rs_timer))
		addrconf_rs_timer(&ip6->rs_timer);
}

/* The DAD timer: the next solicitation, or the verdict (Linux's addrconf_dad_work()). */
static void addrconf_dad_timer(struct timer_list *t)
{
	struct inet6_ifaddr *ifa = container_of(t, struct inet6_ifaddr, timer);
	struct nstack *ns = ifa->ns;

	if (!ifa_state_dad(ifa->state))
		return;
	if (ifa->dad_probes == 0) {
		addrconf_dad_completed(ns, ifa);
		return;
	}
	ifa->dad_probes--;
	mod_timer(ns, &ifa->timer, ns_now(ns) + ns->ip6->retrans_us);
	ndisc_send_ns(ns, &ifa->addr, NULL, NULL);
}

/* Adds an address and starts DAD on it; see addrconf.h. */
struct inet6_ifaddr *addrconf_add_ifaddr(struct nstack *ns, const struct in6_addr *addr,
					 unsigned int plen, bool autoconf, uint64_t valid_us,
					 uint64_t prefered_us)
{
	struct inet6_ifaddr *ifa = NULL;
	uint64_t now = ns_now(ns);

	if (ipv6_get_ifaddr(ns, addr))
		return NULL;
	for (unsigned int i = 0; i < IPV6_MAX_ADDRS && !ifa; i++)
		if (ns->ip6->addrs[i].state == IFA_UNUSED)
			ifa = &ns->ip6->addrs[i];
	if (!ifa)
		return NULL;
	memset(ifa, 0, sizeof(*ifa));
	ifa->ns = ns;
	ifa->addr = *addr;
	ifa->prefixlen = plen;
	ifa->autoconf = autoconf;
	ifa->state = ns->cfg.optimistic_dad ? IFA_OPTIMISTIC : IFA_TENTATIVE;
	ifa->valid_until = valid_us == UINT64_MAX ? UINT64_MAX : now + valid_us;
	ifa->prefered_until = prefered_us == UINT64_MAX ? UINT64_MAX : now + prefered_us;
	ifa->dad_probes = ADDRCONF_DAD_TRANSMITS;
	timer_setup(&ifa->timer, addrconf_dad_timer);
	/*
	 * RFC 4862 5.4.2: the first solicitation waits a random delay up to
	 * MAX_RTR_SOLICITATION_DELAY, so hosts started together do not
	 * collide (Linux's addrconf_dad_kick()).
	 */
	mod_timer(ns, &ifa->timer, now + ns_random32(ns) % NDISC_RTR_SOLICIT_DELAY);
	addrconf_verify(ns);
	return ifa;
}

/* Another node claims ifa's address; see addrconf.h. */
void addrconf_dad_failure(struct nstack *ns, struct inet6_ifaddr *ifa)
{
	char buf[INET6_ADDRSTRLEN];

	if (!ifa_state_dad(ifa->state))
		return;
	ifa->state = IFA_DUPLICATE;
	del_timer(ns, &ifa->timer);
	if (!ns->ip6->dad_logged) {
		ns_warn(ns,
			"ipv6: duplicate address detected: %s is in use on the link; not using it",
			inet_ntop(AF_INET6, &ifa->addr, buf, sizeof(buf)));
		ns->ip6->dad_logged = true;
	}
}

/* Adds or refreshes an on-link prefix; lifetime 0 removes it. */
void addrconf_onlink_add(struct nstack *ns, const struct in6_addr *prefix, unsigned int plen,
			 uint64_t lifetime_us)
{
	struct ip6_prefix *slot = NULL;
	uint64_t now = ns_now(ns);

	for (unsigned int i = 0; i < IPV6_MAX_PREFIXES; i++) {
		struct ip6_prefix *p = &ns->ip6->onlink[i];

		if (p->expires && p->plen == plen && ipv6_prefix_equal(&p->prefix, prefix, plen)) {
			slot = p;
			break;
		}
		if (!p->expires && !slot)
			slot = p;
	}
	if (!slot)
		return;
	if (slot->expires == UINT64_MAX)
		return; /* a static prefix stays */
	if (lifetime_us == 0) {
		slot->expires = 0;
		return;
	}
	slot->prefix = *prefix;
	slot->plen = plen;
	slot->expires = lifetime_us == UINT64_MAX ? UINT64_MAX : now + lifetime_us;
	addrconf_verify(ns);
}

/* Seconds of an advertised lifetime as stack microseconds; all ones is infinity. */
static uint64_t lifetime_us(uint32_t seconds)
{
	return seconds == 0xffffffffu ? UINT64_MAX : (uint64_t)seconds * 1000000u;
}

/* A prefix information option (RFC 4862 5.5.3, RFC 4861 6.3.4); see addrconf.h. */
void addrconf_prefix_rcv(struct nstack *ns, const struct prefix_info *pinfo)
{
	uint32_t valid = ntohl(pinfo->valid), prefered = ntohl(pinfo->prefered);
	uint64_t now = ns_now(ns), valid_us = lifetime_us(valid);
	struct in6_addr addr;

	/* 5.5.3(b), (c): never for link-local; preferred may not exceed valid. */
	if (ipv6_addr_is_linklocal(&pinfo->prefix) || ipv6_addr_is_multicast(&pinfo->prefix) ||
	    prefered > valid || pinfo->prefix_len > 128)
		return;
	if (pinfo->flags & ND_PREFIX_FLAG_ONLINK)
		addrconf_onlink_add(ns, &pinfo->prefix, pinfo->prefix_len, valid_us);
	if (!(pinfo->flags & ND_PREFIX_FLAG_AUTO))
		return;
	/* Our interface identifier is 64 bits (RFC 4291 2.5.1): other lengths are ignored. */
	if (pinfo->prefix_len != 64) {
		ns_info(ns, "ipv6: ignoring an advertised prefix of length %u for SLAAC",
			pinfo->prefix_len);
		return;
	}
	memset(&addr, 0, sizeof(addr));
	memcpy(&addr, &pinfo->prefix, 8);
	addrconf_ifid_eui48(&addr, ns_dev(ns)->dev_addr);
	for (unsigned int i = 0; i < IPV6_MAX_ADDRS; i++) {
		struct inet6_ifaddr *ifa = &ns->ip6->addrs[i];
		uint64_t remaining;

		if (ifa->state == IFA_UNUSED || !ipv6_addr_equal(&ifa->addr, &addr))
			continue;
		if (!ifa->autoconf)
			return; /* a static address: its lifetimes are ours */
		/*
		 * 5.5.3(e): a refresh may lengthen the valid lifetime at will
		 * but cut it only to two hours (so a forged advertisement
		 * cannot kill the address).
		 */
		remaining = ifa->valid_until > now ? ifa->valid_until - now : 0;
		if (valid_us > ADDRCONF_TWO_HOURS_US || valid_us > remaining)
			ifa->valid_until = valid_us == UINT64_MAX ? UINT64_MAX : now + valid_us;
		else if (remaining > ADDRCONF_TWO_HOURS_US)
			ifa->valid_until = now + ADDRCONF_TWO_HOURS_US;
		ifa->prefered_until =
		    lifetime_us(prefered) == UINT64_MAX ? UINT64_MAX : now + lifetime_us(prefered);
		addrconf_verify(ns);
		return;
	}
	if (valid == 0)
		return; /* 5.5.3(d): no new address with a zero lifetime */
	addrconf_add_ifaddr(ns, &addr, 64, true, valid_us, lifetime_us(prefered));
}

/* The router lifetime of an advertisement (RFC 4861 6.3.4); see addrconf.h. */
void addrconf_router_rcv(struct nstack *ns, const struct in6_addr *saddr, uint16_t lifetime_s)
{
	struct ipv6_state *ip6 = ns->ip6;

	/* Advertisements stop our solicitations (RFC 4861 6.3.7). */
	ip6->rs_sent = NDISC_RTR_SOLICITS;
	del_timer(ns, &ip6->rs_timer);
	if (ip6->defrtr_expires == UINT64_MAX)
		return; /* a configured gateway (NSTACK_GW6) wins */
	if (lifetime_s == 0) {
		if (ipv6_addr_equal(&ip6->defrtr, saddr))
			memset(&ip6->defrtr, 0, sizeof(ip6->defrtr));
		return;
	}
	if (!ipv6_addr_any(&ip6->defrtr) && !ipv6_addr_equal(&ip6->defrtr, saddr) &&
	    ip6->defrtr_expires > ns_now(ns))
		return; /* one default router is enough: keep the one we have */
	ip6->defrtr = *saddr;
	ip6->defrtr_expires = ns_now(ns) + (uint64_t)lifetime_s * 1000000u;
	addrconf_verify(ns);
}

/* A neighbour said it is no router (RFC 4861 7.2.5: IsRouter cleared). */
void addrconf_router_gone(struct nstack *ns, const struct in6_addr *addr)
{
	struct ipv6_state *ip6 = ns->ip6;

	if (ip6->defrtr_expires != UINT64_MAX && ipv6_addr_equal(&ip6->defrtr, addr))
		memset(&ip6->defrtr, 0, sizeof(ip6->defrtr));
}

/*
 * Ends what has outlived its lifetime (Linux's addrconf_verify_rtnl()):
 * addresses, on-link prefixes, the default router; deprecated addresses
 * (preferred lifetime over) are still used here, there being no other
 * choice of source on one link. Re-arms itself for the next expiry.
 */
static void addrconf_verify(struct nstack *ns)
{
	struct ipv6_state *ip6 = ns->ip6;
	uint64_t now = ns_now(ns), next = UINT64_MAX;

	for (unsigned int i = 0; i < IPV6_MAX_ADDRS; i++) {
		struct inet6_ifaddr *ifa = &ip6->addrs[i];

		if (ifa->state == IFA_UNUSED || ifa->valid_until == UINT64_MAX)
			continue;
		if (ifa->valid_until <= now) {
			del_timer(ns, &ifa->timer);
			ifa->state = IFA_UNUSED;
		} else if (ifa->valid_until < next) {
			next = ifa->valid_until;
		}
	}
	for (unsigned int i = 0; i < IPV6_MAX_PREFIXES; i++) {
		struct ip6_prefix *p = &ip6->onlink[i];

		if (!p->expires || p->expires == UINT64_MAX)
			continue;
		if (p->expires <= now)
			p->expires = 0;
		else if (p->expires < next)
			next = p->expires;
	}
	if (!ipv6_addr_any(&ip6->defrtr) && ip6->defrtr_expires != UINT64_MAX) {
		if (ip6->defrtr_expires <= now)
			memset(&ip6->defrtr, 0, sizeof(ip6->defrtr));
		else if (ip6->defrtr_expires < next)
			next = ip6->defrtr_expires;
	}
	if (next != UINT64_MAX)
		mod_timer(ns, &ip6->addr_timer, next);
	else
		del_timer(ns, &ip6->addr_timer);
}

static void addrconf_verify_timer(struct timer_list *t)
{
	struct ipv6_state *ip6 = container_of(t, struct ipv6_state, addr_timer);

	addrconf_verify(ip6->ns);
}

/*
 * The link-local address from the MAC and the configured global address,
 * both through DAD; the configured gateway as default router.
 */
int addrconf_init(struct nstack *ns)
{
	struct ipv6_state *ip6 = ns->ip6;
	const struct nstack_config *cfg = &ns->cfg;
	struct in6_addr ll = {.s6_addr = {0xfe, 0x80}};

	timer_setup(&ip6->rs_timer, addrconf_rs_timer);
	timer_setup(&ip6->addr_timer, addrconf_verify_timer);
	addrconf_ifid_eui48(&ll, ns_dev(ns)->dev_addr);
	if (!addrconf_add_ifaddr(ns, &ll, 64, false, UINT64_MAX, UINT64_MAX))
		return -ENOMEM;
	if (!ipv6_addr_any(&cfg->addr6)) {
		if (!addrconf_add_ifaddr(ns, &cfg->addr6, cfg->prefixlen6, false, UINT64_MAX,
					 UINT64_MAX))
			return -EINVAL;
		if (cfg->prefixlen6 < 128)
			addrconf_onlink_add(ns, &cfg->addr6, cfg->prefixlen6, UINT64_MAX);
	}
	if (!ipv6_addr_any(&cfg->gateway6)) {
		ip6->defrtr = cfg->gateway6;
		ip6->defrtr_expires = UINT64_MAX;
	}
	return 0;
}

/* Stops every timer of the module. */
void addrconf_exit(struct nstack *ns)
{
	struct ipv6_state *ip6 = ns->ip6;

	for (unsigned int i = 0; i < IPV6_MAX_ADDRS; i++)
		if (ip6->addrs[i].state != IFA_UNUSED)
			del_timer(ns, &ip6->addrs[i].timer);
	del_timer(ns, &ip6->rs_timer);
	del_timer(ns, &ip6->addr_timer);
}
