/*
 * Neighbour discovery (RFC 4861) and the IPv6 neighbour cache.
 *
 * Entries live through the NUD states of the ARP table (arp.c, Linux's
 * neighbour subsystem): INCOMPLETE while multicast solicitations look for
 * the address (packets wait on the entry), REACHABLE after a solicited
 * advertisement, STALE after ReachableTime or an unsolicited sighting,
 * DELAY when STALE is used, PROBE with unicast solicitations when nothing
 * confirmed it, FAILED when those go unanswered.
 *
 * Messages are validated as RFC 4861 6.1 and 7.1 ask (hop limit 255, code
 * 0, lengths, options of non-zero length); a bad one is counted in
 * Icmp6InErrors and dropped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include <bsd/sys/queue.h>

#include "addrconf.h"
#include "icmpv6.h"
#include "ipv6.h"
#include "ndisc.h"
#include "stack.h"

#define ND_HASH_SIZE   64
#define ND_GC_THRESH   1024
#define ND_GC_INTERVAL (NDISC_BASE_REACHABLE_US / 2)
#define ND_LL_OPT_LEN  8 /* type, length, 6-byte MAC */

#define NUD_VALID(s)                                                                               \
	((s) == NUD_REACHABLE || (s) == NUD_STALE || (s) == NUD_DELAY || (s) == NUD_PROBE ||       \
	 (s) == NUD_PERMANENT)
#define NUD_CONNECTED(s) ((s) == NUD_REACHABLE || (s) == NUD_PERMANENT)

struct nd_neigh {
	LIST_ENTRY(nd_neigh) hash;
	struct nstack *ns;
	struct in6_addr addr;
	uint8_t ha[ETH_ALEN];
	enum neigh_state state;
	bool is_router;
	unsigned int probes;
	uint64_t confirmed;
	uint64_t updated;
	uint64_t used;
	struct timer_list timer;
	struct sk_buff_head queue; /* waiting for resolution, data at the IPv6 header */
};

LIST_HEAD(nd_bucket, nd_neigh);

/* ns->ip6->nd */
struct nd_table {
	struct nd_bucket buckets[ND_HASH_SIZE];
	unsigned int entries;
	uint64_t reachable_time; /* drawn from the base in [base/2, 3*base/2) */
	struct timer_list gc_timer;
	struct nstack *ns;
};

/* Options found in an ND message (Linux's struct ndisc_options, what we use of it). */
struct nd_opts {
	const uint8_t *src_lladdr; /* first of each kind wins, as Linux */
	const uint8_t *tgt_lladdr;
	const struct prefix_info *pi[IPV6_MAX_PREFIXES];
	unsigned int npi;
	const uint8_t *mtu;
};

static unsigned int nd_hash(const struct in6_addr *a)
{
	uint32_t h;

	memcpy(&h, &a->s6_addr[12], 4);
	h ^= h >> 16;
	h *= 0x45d9f3bu;
	h ^= h >> 16;
	return h & (ND_HASH_SIZE - 1);
}

static uint64_t nd_rand_reach_time(struct nstack *ns)
{
	uint64_t base = ns->ip6->base_reachable_us;

	return base / 2 + (uint64_t)ns_random32(ns) % base;
}

static struct nd_neigh *nd_find(struct nstack *ns, const struct in6_addr *addr)
{
	struct nd_neigh *n;

	LIST_FOREACH(n, &ns->ip6->nd->buckets[nd_hash(addr)], hash)
	if (ipv6_addr_equal(&n->addr, addr))
		return n;
	return NULL;
}

static void nd_timer_handler(struct timer_list *t);

static void nd_destroy(struct nd_neigh *n)
{
	struct nstack *ns = n->ns;

	del_timer(ns, &n->timer);
	skb_queue_purge(&n->queue);
	LIST_REMOVE(n, hash);
	ns->ip6->nd->entries--;
	ns_free(ns, n);
}

/* Drops FAILED entries and long-unused STALE ones (all STALE ones with force). */
static void nd_gc(struct nstack *ns, bool force)
{
	uint64_t now = ns_now(ns);

	for (unsigned int i = 0; i < ND_HASH_SIZE; i++) {
		struct nd_neigh *n, *tmp;

		LIST_FOREACH_SAFE(n, &ns->ip6->nd->buckets[i], hash, tmp)
		{
			if (n->state == NUD_PERMANENT || timer_pending(&n->timer))
				continue;
			if (n->state == NUD_FAILED || n->state == NUD_NONE ||
			    (n->state == NUD_STALE && (force || now > n->used + NDISC_GC_STALE_US)))
				nd_destroy(n);
		}
	}
}

static void nd_gc_timer(struct timer_list *t)
{
	struct nd_table *tbl = container_of(t, struct nd_table, gc_timer);

	nd_gc(tbl->ns, false);
	mod_timer(tbl->ns, &tbl->gc_timer, ns_now(tbl->ns) + ND_GC_INTERVAL);
}

static struct nd_neigh *nd_create(struct nstack *ns, const struct in6_addr *addr)
{
	struct nd_table *tbl = ns->ip6->nd;
	struct nd_neigh *n;

	if (tbl->entries >= ND_GC_THRESH) {
		nd_gc(ns, true);
		if (tbl->entries >= ND_GC_THRESH)
			return NULL;
	}
	n = ns_zalloc(ns, sizeof(*n));
	if (!n)
		return NULL;
	n->ns = ns;
	n->addr = *addr;
	n->state = NUD_NONE;
	n->updated = n->used = ns_now(ns);
	timer_setup(&n->timer, nd_timer_handler);
	skb_queue_head_init(&n->queue);
	LIST_INSERT_HEAD(&tbl->buckets[nd_hash(addr)], n, hash);
	tbl->entries++;
	return n;
}

/* Appends a link-layer address option (RFC 4861 4.6.1) with our MAC. */
static void nd_put_lladdr(struct sk_buff *skb, uint8_t type)
{
	uint8_t *opt = skb_put(skb, ND_LL_OPT_LEN);

	opt[0] = type;
	opt[1] = 1;
	memcpy(&opt[2], ns_dev(skb->ns)->dev_addr, ETH_ALEN);
}

static bool nd_addr_optimistic(struct nstack *ns, const struct in6_addr *addr)
{
	const struct inet6_ifaddr *ifa = ipv6_get_ifaddr(ns, addr);

	return ifa && ifa->state == IFA_OPTIMISTIC;
}

/* Sends a neighbour solicitation (RFC 4861 4.3); see ndisc.h. */
int ndisc_send_ns(struct nstack *ns, const struct in6_addr *target, const struct in6_addr *daddr,
		  const struct in6_addr *saddr)
{
	static const struct in6_addr any;
	struct sk_buff *skb = alloc_skb_hdr(ns, sizeof(struct nd_msg) + ND_LL_OPT_LEN);
	struct in6_addr mcaddr;
	struct nd_msg *msg;

	if (!skb)
		return -ENOBUFS;
	if (!daddr) {
		addrconf_addr_solict_mult(target, &mcaddr);
		daddr = &mcaddr;
	}
	if (!saddr)
		saddr = &any;
	msg = (struct nd_msg *)skb_put(skb, sizeof(*msg));
	memset(msg, 0, sizeof(*msg));
	msg->icmph.icmp6_type = NDISC_NEIGHBOUR_SOLICITATION;
	msg->target = *target;
	/*
	 * 7.2.2: the source link-layer option, except from the unspecified
	 * address (DAD) and, RFC 4429 3.3, from an optimistic one: should
	 * the address turn out to be another node's, our link-layer address
	 * must not have replaced that node's in the target's cache.
	 */
	if (!ipv6_addr_any(saddr) && !nd_addr_optimistic(ns, saddr))
		nd_put_lladdr(skb, ND_OPT_SOURCE_LL_ADDR);
	return icmpv6_push_xmit(ns, skb, saddr, daddr, NDISC_HOP_LIMIT);
}

/*
 * Sends a neighbour advertisement for our address target (RFC 4861 4.4,
 * 7.2.4) from target itself, as Linux's ndisc_send_na().
 */
static int ndisc_send_na(struct nstack *ns, const struct in6_addr *daddr,
			 const struct in6_addr *target, bool solicited, bool override, bool inc_opt)
{
	struct sk_buff *skb = alloc_skb_hdr(ns, sizeof(struct nd_msg) + ND_LL_OPT_LEN);
	struct nd_msg *msg;
	uint32_t flags = 0;

	if (!skb)
		return -ENOBUFS;
	msg = (struct nd_msg *)skb_put(skb, sizeof(*msg));
	memset(msg, 0, sizeof(*msg));
	msg->icmph.icmp6_type = NDISC_NEIGHBOUR_ADVERTISEMENT;
	if (solicited)
		flags |= ND_NA_FLAG_SOLICITED;
	if (override)
		flags |= ND_NA_FLAG_OVERRIDE;
	msg->icmph.un.un_data32 = htonl(flags);
	msg->target = *target;
	if (inc_opt)
		nd_put_lladdr(skb, ND_OPT_TARGET_LL_ADDR);
	return icmpv6_push_xmit(ns, skb, target, daddr, NDISC_HOP_LIMIT);
}

/*
 * Sends a router solicitation (RFC 4861 4.1, 6.3.7) from our link-local
 * address with our link-layer address, or from :: without it while we
 * have none.
 */
int ndisc_send_rs(struct nstack *ns)
{
	static const struct in6_addr any;
	struct sk_buff *skb = alloc_skb_hdr(ns, ICMP6_HLEN + ND_LL_OPT_LEN);
	const struct in6_addr *saddr = &any;
	struct icmp6hdr *ih;

	if (!skb)
		return -ENOBUFS;
	ih = (struct icmp6hdr *)skb_put(skb, ICMP6_HLEN);
	memset(ih, 0, sizeof(*ih));
	ih->icmp6_type = NDISC_ROUTER_SOLICITATION;
	if (ns->ip6->addrs[0].state == IFA_PREFERRED) {
		saddr = &ns->ip6->addrs[0].addr;
		nd_put_lladdr(skb, ND_OPT_SOURCE_LL_ADDR);
	}
	return icmpv6_push_xmit(ns, skb, saddr, &in6addr_linklocal_allrouters_ns, NDISC_HOP_LIMIT);
}

/*
 * The next solicitation for n (Linux's ndisc_solicit()): to the
 * solicited-node group while INCOMPLETE, to the cached address while
 * PROBE, from the source of the packet waiting when it is ours.
 */
static void nd_probe(struct nd_neigh *n)
{
	struct nstack *ns = n->ns;
	const struct sk_buff *skb = skb_peek(&n->queue);
	struct in6_addr saddr;
	const struct in6_addr *daddr = NULL;

	if (skb && skb->len >= IPV6_HLEN &&
	    ipv6_chk_addr(ns, &((const struct ipv6hdr *)skb->data)->saddr))
		saddr = ((const struct ipv6hdr *)skb->data)->saddr;
	else if (ipv6_dev_get_saddr(ns, &n->addr, &saddr))
		return;
	if (n->state == NUD_PROBE)
		daddr = &n->addr;
	n->probes++;
	ndisc_send_ns(ns, &n->addr, daddr, &saddr);
}

/* Sends a packet (data at the IPv6 header) to n's link-layer address. Consumes skb. */
static int nd_xmit(struct nd_neigh *n, struct sk_buff *skb)
{
	int err = dev_hard_header(skb, n->ha, ETH_P_IPV6);

	if (err) {
		kfree_skb(skb);
		return err;
	}
	return dev_queue_xmit(skb);
}

/* Enters state, arming what the state needs. */
static void nd_set_state(struct nd_neigh *n, enum neigh_state state)
{
	struct nstack *ns = n->ns;
	uint64_t now = ns_now(ns);

	if (n->state == state)
		return;
	del_timer(ns, &n->timer);
	if (state == NUD_PROBE)
		n->probes = 0;
	if (state == NUD_REACHABLE)
		mod_timer(ns, &n->timer, now + ns->ip6->nd->reachable_time);
	n->state = state;
	n->updated = now;
}

/* The queue of a newly valid entry leaves in order. */
static void nd_flush_queue(struct nd_neigh *n)
{
	struct sk_buff *skb;

	while (NUD_VALID(n->state) && (skb = skb_dequeue(&n->queue)) != NULL)
		nd_xmit(n, skb);
}

/* Timer of one entry: Linux's neigh_timer_handler() transitions. */
static void nd_timer_handler(struct timer_list *t)
{
	struct nd_neigh *n = container_of(t, struct nd_neigh, timer);
	struct nstack *ns = n->ns;
	uint64_t now = ns_now(ns), reach = ns->ip6->nd->reachable_time;
	uint64_t next = now + ns->ip6->retrans_us;
	unsigned int max_probes;

	switch (n->state) {
	case NUD_REACHABLE:
		if (now < n->confirmed + reach) {
			next = n->confirmed + reach;
		} else if (now <= n->used + NDISC_DELAY_PROBE_US) {
			n->state = NUD_DELAY;
			n->updated = now;
			next = now + NDISC_DELAY_PROBE_US;
		} else {
			n->state = NUD_STALE;
			n->updated = now;
			return;
		}
		break;
	case NUD_DELAY:
		if (now < n->confirmed + NDISC_DELAY_PROBE_US) {
			n->state = NUD_REACHABLE;
			n->updated = now;
			next = n->confirmed + reach;
		} else {
			n->state = NUD_PROBE;
			n->updated = now;
			n->probes = 0;
		}
		break;
	case NUD_INCOMPLETE:
	case NUD_PROBE:
		break;
	default:
		return;
	}
	if (n->state == NUD_INCOMPLETE || n->state == NUD_PROBE) {
		max_probes = n->state == NUD_INCOMPLETE ? NDISC_MCAST_PROBES : NDISC_UCAST_PROBES;
		if (n->probes >= max_probes) {
			/*
			 * Unreachable (RFC 4861 7.3.3): waiting packets are
			 * dropped. There are no IPv6 sockets yet to tell.
			 */
			n->state = NUD_FAILED;
			n->updated = now;
			NS_ADD_STATS(ns, Ip6OutDiscards, n->queue.qlen);
			skb_queue_purge(&n->queue);
			return;
		}
	}
	mod_timer(ns, &n->timer, next);
	if (n->state == NUD_INCOMPLETE || n->state == NUD_PROBE)
		nd_probe(n);
}

/* Sends skb to the on-link nexthop, resolving it first when needed; see ndisc.h. */
int ndisc_output(struct nstack *ns, struct sk_buff *skb, const struct in6_addr *nexthop)
{
	struct nd_neigh *n = nd_find(ns, nexthop);
	uint64_t now = ns_now_batch(ns);

	if (!n) {
		n = nd_create(ns, nexthop);
		if (!n) {
			NS_INC_STATS(ns, Ip6OutDiscards);
			kfree_skb(skb);
			return -ENOBUFS;
		}
	}
	n->used = now;
	switch (n->state) {
	case NUD_REACHABLE:
	case NUD_PERMANENT:
	case NUD_DELAY:
	case NUD_PROBE:
		return nd_xmit(n, skb);
	case NUD_STALE:
		/* RFC 4861 7.3.3: use it, and confirm within DELAY_FIRST_PROBE_TIME. */
		n->state = NUD_DELAY;
		n->updated = now;
		mod_timer(ns, &n->timer, now + NDISC_DELAY_PROBE_US);
		return nd_xmit(n, skb);
	case NUD_NONE:
	case NUD_FAILED:
		n->state = NUD_INCOMPLETE;
		n->updated = now;
		n->probes = 0;
		mod_timer(ns, &n->timer, now + ns->ip6->retrans_us);
		skb_queue_tail(&n->queue, skb);
		nd_probe(n);
		return 0;
	case NUD_INCOMPLETE:
		break;
	}
	/* RFC 4861 7.2.2: a small queue per entry; the oldest gives way. */
	while (n->queue.qlen >= NDISC_UNRES_QLEN) {
		kfree_skb(skb_dequeue(&n->queue));
		NS_INC_STATS(ns, Ip6OutDiscards);
	}
	skb_queue_tail(&n->queue, skb);
	return 0;
}

/* The state of the entry for addr; see ndisc.h. */
enum neigh_state ndisc_lookup_state(struct nstack *ns, const struct in6_addr *addr, uint8_t mac[6])
{
	struct nd_neigh *n = nd_find(ns, addr);

	if (!n)
		return NUD_NONE;
	if (mac && NUD_VALID(n->state))
		memcpy(mac, n->ha, ETH_ALEN);
	return n->state;
}

/* Adds or overwrites a permanent entry. */
int ndisc_add_permanent(struct nstack *ns, const struct in6_addr *addr, const uint8_t mac[6])
{
	struct nd_neigh *n = nd_find(ns, addr);

	if (!n && !(n = nd_create(ns, addr)))
		return -ENOBUFS;
	del_timer(ns, &n->timer);
	memcpy(n->ha, mac, ETH_ALEN);
	n->state = NUD_PERMANENT;
	n->updated = n->confirmed = ns_now(ns);
	nd_flush_queue(n);
	return 0;
}

/*
 * A sighting of lladdr for addr in an NS or RA (RFC 4861 7.2.3, 6.3.4):
 * a new entry or a changed address becomes STALE; the same address
 * changes nothing.
 */
static void nd_update_stale(struct nstack *ns, const struct in6_addr *addr, const uint8_t *lladdr,
			    bool is_router)
{
	struct nd_neigh *n = nd_find(ns, addr);

	if (!n && !(n = nd_create(ns, addr)))
		return;
	if (is_router)
		n->is_router = true;
	if (n->state == NUD_PERMANENT)
		return;
	if (NUD_VALID(n->state) && memcmp(n->ha, lladdr, ETH_ALEN) == 0)
		return;
	memcpy(n->ha, lladdr, ETH_ALEN);
	nd_set_state(n, NUD_STALE);
	nd_flush_queue(n);
}

/*
 * Collects the options of an ND message (RFC 4861 4.6): false when one has
 * length zero or runs past the message (7.1: such a message is invalid),
 * or a link-layer address option is not the size of a MAC.
 */
static bool nd_parse_options(const uint8_t *opt, unsigned int len, struct nd_opts *o)
{
	memset(o, 0, sizeof(*o));
	while (len > 0) {
		unsigned int olen;

		if (len < 2)
			return false;
		olen = opt[1] * 8u;
		if (olen == 0 || olen > len)
			return false;
		switch (opt[0]) {
		case ND_OPT_SOURCE_LL_ADDR:
		case ND_OPT_TARGET_LL_ADDR:
			if (olen != ND_LL_OPT_LEN)
				return false;
			if (opt[0] == ND_OPT_SOURCE_LL_ADDR && !o->src_lladdr)
				o->src_lladdr = opt + 2;
			else if (opt[0] == ND_OPT_TARGET_LL_ADDR && !o->tgt_lladdr)
				o->tgt_lladdr = opt + 2;
			break;
		case ND_OPT_PREFIX_INFO:
			/* 4.6.2: length 4; a wrong one is skipped, as Linux. */
			if (olen == sizeof(struct prefix_info) && o->npi < IPV6_MAX_PREFIXES)
				o->pi[o->npi++] = (const struct prefix_info *)opt;
			break;
		case ND_OPT_MTU:
			if (olen == 8 && !o->mtu)
				o->mtu = opt;
			break;
		default:
			break; /* 4.6: unknown options are ignored */
		}
		opt += olen;
		len -= olen;
	}
	return true;
}

/* Whether the packet came from our own MAC: our own multicast looped by the link. */
static bool nd_from_us(const struct sk_buff *skb)
{
	const struct ethhdr *eth;

	if (skb->mac_header == SKB_HDR_UNSET)
		return false;
	eth = (const struct ethhdr *)skb_mac_header(skb);
	return memcmp(eth->h_source, ns_dev(skb->ns)->dev_addr, ETH_ALEN) == 0;
}

/* A neighbour solicitation (RFC 4861 7.1.1 checks, 7.2.3 handling, RFC 4862 5.4.3). */
static bool ndisc_recv_ns(struct sk_buff *skb)
{
	struct nstack *ns = skb->ns;
	const struct ipv6hdr *hdr = ipv6_hdr(skb);
	const struct nd_msg *msg = (const struct nd_msg *)skb->data;
	struct inet6_ifaddr *ifa;
	struct nd_opts o;
	bool dad = ipv6_addr_any(&hdr->saddr), inc = ipv6_addr_is_multicast(&hdr->daddr);

	if (skb->len < sizeof(*msg) || ipv6_addr_is_multicast(&msg->target))
		return false;
	if (!nd_parse_options(msg->opt, skb->len - sizeof(*msg), &o))
		return false;
	/* 7.1.1: from ::, only to a solicited-node group and without our link address. */
	if (dad && (!ipv6_addr_is_solict_mult(&hdr->daddr) || o.src_lladdr))
		return false;
	ifa = ipv6_get_ifaddr(ns, &msg->target);
	if (!ifa || ifa->state == IFA_DUPLICATE)
		return true; /* not ours: nothing to say */
	if (ifa_state_dad(ifa->state)) {
		/*
		 * RFC 4862 5.4.3: another node doing DAD for the same
		 * address means neither may use it; any other solicitation
		 * for a tentative address is ignored, but an optimistic one
		 * is answered, without override (RFC 4429 3.3).
		 */
		if (dad && !nd_from_us(skb))
			addrconf_dad_failure(ns, ifa);
		if (dad || ifa->state == IFA_TENTATIVE)
			return true;
	}
	if (dad) {
		/* 7.2.4: the DAD asker has no address: answer all nodes, not solicited. */
		ndisc_send_na(ns, &in6addr_linklocal_allnodes_ns, &msg->target, false, true, true);
		return true;
	}
	if (o.src_lladdr)
		nd_update_stale(ns, &hdr->saddr, o.src_lladdr, false);
	/*
	 * As Linux: a unicast solicitation (a NUD probe) gets an answer
	 * without our link-layer address and without override; a multicast
	 * one both.
	 */
	ndisc_send_na(ns, &hdr->saddr, &msg->target, true, inc && ifa->state == IFA_PREFERRED, inc);
	return true;
}

/* A neighbour advertisement (RFC 4861 7.1.2 checks, 7.2.5 handling). */
static bool ndisc_recv_na(struct sk_buff *skb)
{
	struct nstack *ns = skb->ns;
	const struct ipv6hdr *hdr = ipv6_hdr(skb);
	const struct nd_msg *msg = (const struct nd_msg *)skb->data;
	uint32_t flags;
	bool solicited, override, router, changed;
	struct inet6_ifaddr *ifa;
	struct nd_neigh *n;
	struct nd_opts o;

	if (skb->len < sizeof(*msg) || ipv6_addr_is_multicast(&msg->target))
		return false;
	flags = ntohl(msg->icmph.un.un_data32);
	solicited = flags & ND_NA_FLAG_SOLICITED;
	override = flags & ND_NA_FLAG_OVERRIDE;
	router = flags & ND_NA_FLAG_ROUTER;
	/* 7.1.2: an answer to a group cannot be solicited. */
	if (ipv6_addr_is_multicast(&hdr->daddr) && solicited)
		return false;
	if (!nd_parse_options(msg->opt, skb->len - sizeof(*msg), &o))
		return false;
	ifa = ipv6_get_ifaddr(ns, &msg->target);
	if (ifa) {
		/* Someone else has our address (RFC 4862 5.4.4). */
		if (nd_from_us(skb))
			return true;
		if (ifa_state_dad(ifa->state)) {
			addrconf_dad_failure(ns, ifa);
		} else if (!ns->ip6->dad_logged) {
			char buf[INET6_ADDRSTRLEN];

			ns_warn(ns, "ipv6: another node advertises our address %s",
				inet_ntop(AF_INET6, &msg->target, buf, sizeof(buf)));
			ns->ip6->dad_logged = true;
		}
		return true;
	}
	n = nd_find(ns, &msg->target);
	if (!n || n->state == NUD_PERMANENT || n->state == NUD_NONE || n->state == NUD_FAILED)
		return true; /* 7.2.5: no entry, nothing to update */
	if (n->state == NUD_INCOMPLETE) {
		if (!o.tgt_lladdr)
			return true;
		memcpy(n->ha, o.tgt_lladdr, ETH_ALEN);
		n->is_router = router;
		if (solicited)
			n->confirmed = ns_now(ns);
		nd_set_state(n, solicited ? NUD_REACHABLE : NUD_STALE);
		nd_flush_queue(n);
		return true;
	}
	changed = o.tgt_lladdr && memcmp(o.tgt_lladdr, n->ha, ETH_ALEN) != 0;
	if (!override && changed) {
		/* 7.2.5: keep the address we have, but doubt it. */
		if (n->state == NUD_REACHABLE)
			nd_set_state(n, NUD_STALE);
		return true;
	}
	if (changed)
		memcpy(n->ha, o.tgt_lladdr, ETH_ALEN);
	if (solicited) {
		n->confirmed = ns_now(ns);
		if (n->state == NUD_REACHABLE)
			mod_timer(ns, &n->timer, n->confirmed + ns->ip6->nd->reachable_time);
		else
			nd_set_state(n, NUD_REACHABLE);
	} else if (changed) {
		nd_set_state(n, NUD_STALE);
	}
	if (n->is_router && !router)
		addrconf_router_gone(ns, &n->addr);
	n->is_router = router;
	return true;
}

/* A router advertisement (RFC 4861 6.1.2 checks, 6.3.4 handling). */
static bool ndisc_router_discovery(struct sk_buff *skb)
{
	struct nstack *ns = skb->ns;
	struct ipv6_state *ip6 = ns->ip6;
	const struct ipv6hdr *hdr = ipv6_hdr(skb);
	const struct ra_msg *ra = (const struct ra_msg *)skb->data;
	struct nd_opts o;

	/* 6.1.2: from a link-local address, at least 16 bytes. */
	if (!ipv6_addr_is_linklocal(&hdr->saddr) || skb->len < sizeof(*ra))
		return false;
	if (!nd_parse_options((const uint8_t *)(ra + 1), skb->len - sizeof(*ra), &o))
		return false;
	if (ra->icmph.un.un_data8[0])
		ip6->hop_limit = ra->icmph.un.un_data8[0];
	if (ra->reachable_time) {
		uint64_t base = (uint64_t)ntohl(ra->reachable_time) * 1000u;

		if (base != ip6->base_reachable_us) {
			ip6->base_reachable_us = base;
			ip6->nd->reachable_time = nd_rand_reach_time(ns);
		}
	}
	if (ra->retrans_timer)
		ip6->retrans_us = (uint64_t)ntohl(ra->retrans_timer) * 1000u;
	if (o.src_lladdr)
		nd_update_stale(ns, &hdr->saddr, o.src_lladdr, true);
	addrconf_router_rcv(ns, &hdr->saddr, ntohs(ra->icmph.un.un_data16[1]));
	if (o.mtu) {
		uint32_t mtu;

		memcpy(&mtu, o.mtu + 4, 4);
		mtu = ntohl(mtu);
		/* 6.3.4: a value outside [IPv6 minimum, link MTU] is ignored. */
		if (mtu >= IPV6_MIN_MTU && mtu <= ns_dev(ns)->mtu)
			ip6->mtu = mtu;
	}
	for (unsigned int i = 0; i < o.npi; i++)
		addrconf_prefix_rcv(ns, o.pi[i]);
	return true;
}

/* A router solicitation: a host ignores it (RFC 4861 6.2.6), after the 6.1.1 checks. */
static bool ndisc_recv_rs(struct sk_buff *skb)
{
	struct nd_opts o;

	if (skb->len < ICMP6_HLEN)
		return false;
	if (!nd_parse_options(skb->data + ICMP6_HLEN, skb->len - ICMP6_HLEN, &o))
		return false;
	return !(ipv6_addr_any(&ipv6_hdr(skb)->saddr) && o.src_lladdr);
}

/* ICMPv6 types 133-137; see ndisc.h. */
int ndisc_rcv(struct sk_buff *skb)
{
	struct nstack *ns = skb->ns;
	const struct icmp6hdr *ih = (const struct icmp6hdr *)skb->data;
	bool ok = false;

	/*
	 * RFC 4861 6.1, 7.1: hop limit 255 proves the message was not
	 * forwarded by a router, i.e. comes from the link; code 0.
	 */
	if (ipv6_hdr(skb)->hop_limit != NDISC_HOP_LIMIT || ih->icmp6_code != 0)
		goto bad;
	switch (ih->icmp6_type) {
	case NDISC_NEIGHBOUR_SOLICITATION:
		ok = ndisc_recv_ns(skb);
		break;
	case NDISC_NEIGHBOUR_ADVERTISEMENT:
		ok = ndisc_recv_na(skb);
		break;
	case NDISC_ROUTER_ADVERTISEMENT:
		ok = ndisc_router_discovery(skb);
		break;
	case NDISC_ROUTER_SOLICITATION:
		ok = ndisc_recv_rs(skb);
		break;
	case NDISC_REDIRECT:
		ok = true; /* not followed: one link, one router */
		break;
	}
	if (!ok)
		goto bad;
	kfree_skb(skb);
	return 0;
bad:
	NS_INC_STATS(ns, Icmp6InErrors);
	kfree_skb(skb);
	return -EINVAL;
}

/* Creates the neighbour cache. */
int ndisc_init(struct nstack *ns)
{
	struct nd_table *tbl = ns_zalloc(ns, sizeof(*tbl));

	if (!tbl)
		return -ENOMEM;
	for (unsigned int i = 0; i < ND_HASH_SIZE; i++)
		LIST_INIT(&tbl->buckets[i]);
	tbl->ns = ns;
	ns->ip6->nd = tbl;
	tbl->reachable_time = nd_rand_reach_time(ns);
	timer_setup(&tbl->gc_timer, nd_gc_timer);
	mod_timer(ns, &tbl->gc_timer, ns_now(ns) + ND_GC_INTERVAL);
	return 0;
}

/* Frees every entry and the packets waiting on them. */
void ndisc_exit(struct nstack *ns)
{
	struct nd_table *tbl = ns->ip6->nd;

	if (!tbl)
		return;
	for (unsigned int i = 0; i < ND_HASH_SIZE; i++)
		while (!LIST_EMPTY(&tbl->buckets[i]))
			nd_destroy(LIST_FIRST(&tbl->buckets[i]));
	del_timer(ns, &tbl->gc_timer);
	ns_free(ns, tbl);
	ns->ip6->nd = NULL;
}
