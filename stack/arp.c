/*
 * ARP (RFC 826) and the IPv4 neighbour table.
 *
 * Entries move through Linux's NUD states:
 *
 *   NONE/FAILED --send--> INCOMPLETE --reply--> REACHABLE --timeout--> STALE
 *   STALE --send--> DELAY --no confirmation--> PROBE --no reply--> FAILED
 *   INCOMPLETE --no reply after NEIGH_MCAST_PROBES requests--> FAILED
 *
 * Packets for an INCOMPLETE entry wait on the entry (at most
 * NEIGH_UNRES_QLEN, oldest dropped first) and leave in order when the
 * address resolves. When resolution fails, each waiting packet we sent
 * ourselves reports EHOSTUNREACH to its socket, as Linux's
 * neigh_invalidate() -> arp_error_report() -> icmp_send() does.
 */
#include <errno.h>
#include <string.h>

#include <bsd/sys/queue.h>

#include "arp.h"
#include "icmp.h"
#include "ip_priv.h"
#include "proto/arp.h"
#include "stack.h"

#define NEIGH_HASH_SIZE		   64
#define NEIGH_GC_THRESH		   1024		    /* gc_thresh3: hard limit on entries */
#define NEIGH_LOCKTIME_US	   (1000ull * 1000) /* locktime: first reply wins for a second */
#define NEIGH_GC_INTERVAL_US	   (NEIGH_BASE_REACHABLE_US / 2)
#define NEIGH_REACHABLE_REFRESH_US (300ull * 1000 * 1000)

#define NUD_VALID(s)                                                                               \
	((s) == NUD_REACHABLE || (s) == NUD_STALE || (s) == NUD_DELAY || (s) == NUD_PROBE ||       \
	 (s) == NUD_PERMANENT)
#define NUD_CONNECTED(s) ((s) == NUD_REACHABLE || (s) == NUD_PERMANENT)

struct neighbour {
	LIST_ENTRY(neighbour) hash;
	struct nstack *ns;
	uint32_t ip; /* network order */
	uint8_t ha[ETH_ALEN];
	enum neigh_state state;
	unsigned int probes;
	uint64_t confirmed; /* last proof of reachability */
	uint64_t updated;   /* last state or address change */
	uint64_t used;	    /* last packet sent through the entry */
	struct timer_list timer;
	struct sk_buff_head arp_queue; /* packets waiting for resolution, data at the IP header */
};

LIST_HEAD(neigh_bucket, neighbour);

/* ns->arp */
struct arp_table {
	struct neigh_bucket buckets[NEIGH_HASH_SIZE];
	unsigned int entries;
	uint64_t reachable_time; /* randomised from NEIGH_BASE_REACHABLE_US */
	uint64_t reachable_set;	 /* when reachable_time was last drawn */
	struct timer_list gc_timer;
	struct nstack *ns;
	bool conflict_logged;
};

static const uint8_t zero_mac[ETH_ALEN];

static unsigned int neigh_hash(uint32_t ip)
{
	uint32_t h = ntohl(ip);

	h ^= h >> 16;
	h *= 0x45d9f3bu;
	h ^= h >> 16;
	return h & (NEIGH_HASH_SIZE - 1);
}

/* Linux's neigh_rand_reach_time(): uniform in [base/2, 3*base/2). */
static uint64_t neigh_rand_reach_time(struct nstack *ns)
{
	uint64_t base = NEIGH_BASE_REACHABLE_US;

	return base / 2 + (uint64_t)ns_random32(ns) % base;
}

static struct neighbour *neigh_find(struct nstack *ns, uint32_t ip)
{
	struct neighbour *n;

	LIST_FOREACH(n, &ns->arp->buckets[neigh_hash(ip)], hash)
	if (n->ip == ip)
		return n;
	return NULL;
}

static void neigh_timer_handler(struct timer_list *t);

static void neigh_destroy(struct neighbour *n)
{
	struct nstack *ns = n->ns;

	del_timer(ns, &n->timer);
	skb_queue_purge(&n->arp_queue);
	LIST_REMOVE(n, hash);
	ns->arp->entries--;
	ns_free(ns, n);
}

/*
 * Drops FAILED entries and entries unused for NEIGH_GC_STALE_US that are
 * not in a timer-driven state (Linux's neigh_periodic_work()). With force,
 * also reclaims any STALE entry, as neigh_forced_gc() does when full.
 */
static void neigh_gc(struct nstack *ns, bool force)
{
	uint64_t now = ns_now(ns);

	for (unsigned int i = 0; i < NEIGH_HASH_SIZE; i++) {
		struct neighbour *n, *tmp;

		LIST_FOREACH_SAFE(n, &ns->arp->buckets[i], hash, tmp)
		{
			if (n->state == NUD_PERMANENT || timer_pending(&n->timer))
				continue;
			if (n->state == NUD_FAILED || n->state == NUD_NONE ||
			    (n->state == NUD_STALE && (force || now > n->used + NEIGH_GC_STALE_US)))
				neigh_destroy(n);
		}
	}
}

static void neigh_gc_timer(struct timer_list *t)
{
	struct arp_table *tbl = container_of(t, struct arp_table, gc_timer);
	struct nstack *ns = tbl->ns;
	uint64_t now = ns_now(ns);

	/* Linux redraws reachable_time every 300 seconds. */
	if (now >= tbl->reachable_set + NEIGH_REACHABLE_REFRESH_US) {
		tbl->reachable_time = neigh_rand_reach_time(ns);
		tbl->reachable_set = now;
	}
	neigh_gc(ns, false);
	mod_timer(ns, &tbl->gc_timer, now + NEIGH_GC_INTERVAL_US);
}

static struct neighbour *neigh_create(struct nstack *ns, uint32_t ip)
{
	struct neighbour *n;

	if (ns->arp->entries >= NEIGH_GC_THRESH) {
		neigh_gc(ns, true);
		if (ns->arp->entries >= NEIGH_GC_THRESH)
			return NULL;
	}
	n = ns_zalloc(ns, sizeof(*n));
	if (!n)
		return NULL;
	n->ns = ns;
	n->ip = ip;
	n->state = NUD_NONE;
	n->updated = n->used = ns_now(ns);
	timer_setup(&n->timer, neigh_timer_handler);
	skb_queue_head_init(&n->arp_queue);
	LIST_INSERT_HEAD(&ns->arp->buckets[neigh_hash(ip)], n, hash);
	ns->arp->entries++;
	return n;
}

/*
 * Builds and sends one ARP packet (RFC 826 "Packet format"). dest_hw is
 * the Ethernet destination (NULL: broadcast), target_hw the ar_tha field
 * (NULL: zeros, as Linux sends in requests).
 */
static int arp_xmit(struct nstack *ns, uint16_t op, uint32_t dest_ip, uint32_t src_ip,
		    const uint8_t *dest_hw, const uint8_t *target_hw)
{
	struct net_device *dev = ns_dev(ns);
	struct sk_buff *skb = alloc_skb_hdr(ns, ARP_HLEN);
	struct arphdr_eth *arp;
	int err;

	if (!skb)
		return -ENOBUFS;
	arp = (struct arphdr_eth *)skb_put(skb, ARP_HLEN);
	skb_reset_network_header(skb);
	arp->ar_hrd = htons(ARPHRD_ETHER);
	arp->ar_pro = htons(ETH_P_IP);
	arp->ar_hln = ETH_ALEN;
	arp->ar_pln = 4;
	arp->ar_op = htons(op);
	memcpy(arp->ar_sha, dev->dev_addr, ETH_ALEN);
	memcpy(arp->ar_sip, &src_ip, 4);
	memcpy(arp->ar_tha, target_hw ? target_hw : zero_mac, ETH_ALEN);
	memcpy(arp->ar_tip, &dest_ip, 4);
	skb->protocol = ETH_P_ARP;
	err = dev_hard_header(skb, dest_hw ? dest_hw : dev->broadcast, ETH_P_ARP);
	if (err) {
		kfree_skb(skb);
		return err;
	}
	if (op == ARPOP_REQUEST)
		NS_INC_STATS(ns, ArpOutRequests);
	else
		NS_INC_STATS(ns, ArpOutReplies);
	return dev_queue_xmit(skb);
}

/*
 * Sends the next probe for n (Linux's arp_solicit()): broadcast while
 * INCOMPLETE, unicast to the cached address while PROBE, so the first
 * NEIGH_UCAST_PROBES probes of a known entry go to the host itself.
 */
static void neigh_probe(struct neighbour *n)
{
	struct nstack *ns = n->ns;
	const uint8_t *dst = NULL;

	if (n->state == NUD_PROBE && n->probes < NEIGH_UCAST_PROBES)
		dst = n->ha;
	n->probes++;
	arp_xmit(ns, ARPOP_REQUEST, n->ip, ns->cfg.addr, dst, NULL);
}

/* Sends a queued packet (data at the IP header) to n's address. Consumes skb. */
static int neigh_xmit(struct neighbour *n, struct sk_buff *skb)
{
	int err = dev_hard_header(skb, n->ha, ETH_P_IP);

	if (err) {
		kfree_skb(skb);
		return err;
	}
	return dev_queue_xmit(skb);
}

/*
 * Resolution failed: drop every waiting packet, telling the local sender
 * of each that the host is unreachable (Linux's neigh_invalidate()).
 */
static void neigh_invalidate(struct neighbour *n)
{
	struct nstack *ns = n->ns;
	struct sk_buff *skb;

	NS_INC_STATS(ns, ArpResolveFailed);
	/*
	 * A socket told of the failure may send again right away, restarting
	 * resolution on this very entry: stop once the state moves on, so
	 * the new packets wait for their own attempt.
	 */
	while (n->state == NUD_FAILED && (skb = skb_dequeue(&n->arp_queue)) != NULL) {
		const struct iphdr *iph = (const struct iphdr *)skb->data;

		if (skb->len >= IP_HLEN_MIN && inet_addr_is_local(ns, iph->saddr))
			icmp_local_error(ns, skb, ICMP_DEST_UNREACH, ICMP_HOST_UNREACH, 0);
		kfree_skb(skb);
	}
}

/* Enters state, arming the timer the state needs (Linux's neigh_update() tail). */
static void neigh_set_state(struct neighbour *n, enum neigh_state state)
{
	struct nstack *ns = n->ns;
	uint64_t now = ns_now(ns);

	if (n->state == state)
		return;
	del_timer(ns, &n->timer);
	if (state == NUD_PROBE)
		n->probes = 0;
	if (state == NUD_REACHABLE)
		mod_timer(ns, &n->timer, now + ns->arp->reachable_time);
	n->state = state;
	n->updated = now;
}

/*
 * Applies what an ARP packet taught us about n (Linux's neigh_update()):
 * a new address is taken when override allows, a first valid address
 * releases the waiting packets in order.
 */
static void neigh_update(struct neighbour *n, const uint8_t *lladdr, enum neigh_state new,
			 bool override)
{
	struct nstack *ns = n->ns;
	enum neigh_state old = n->state;
	bool changed;
	uint64_t now = ns_now(ns);

	if (old == NUD_PERMANENT)
		return;
	changed = memcmp(lladdr, n->ha, ETH_ALEN) != 0;
	if (NUD_VALID(old)) {
		if (changed && !override) {
			/* A different answer inside locktime: the first one wins. */
			return;
		} else if (!changed && new == NUD_STALE) {
			/* A sighting of the same address is no news. */
			new = old;
		}
	}
	if (NUD_CONNECTED(new))
		n->confirmed = now;
	/* Only a real change restarts locktime (Linux: no-op updates must
	 * not keep moving the window). */
	if (new != old || changed)
		n->updated = now;
	if (changed) {
		memcpy(n->ha, lladdr, ETH_ALEN);
		if (!NUD_CONNECTED(new))
			n->confirmed =
			    now -
			    (now > 2 * NEIGH_BASE_REACHABLE_US ? 2 * NEIGH_BASE_REACHABLE_US : now);
	}
	if (new != old) {
		neigh_set_state(n, new);
		if (new == NUD_REACHABLE)
			mod_timer(ns, &n->timer, n->confirmed + ns->arp->reachable_time);
	}
	if (!NUD_VALID(old)) {
		struct sk_buff *skb;

		while ((skb = skb_dequeue(&n->arp_queue)) != NULL)
			neigh_xmit(n, skb);
	}
}

/* Timer of one entry: the state transitions of Linux's neigh_timer_handler(). */
static void neigh_timer_handler(struct timer_list *t)
{
	struct neighbour *n = container_of(t, struct neighbour, timer);
	struct nstack *ns = n->ns;
	uint64_t now = ns_now(ns);
	uint64_t next = now + NEIGH_RETRANS_US;
	unsigned int max_probes;

	switch (n->state) {
	case NUD_REACHABLE:
		if (now < n->confirmed + ns->arp->reachable_time) {
			next = n->confirmed + ns->arp->reachable_time;
		} else if (now <= n->used + NEIGH_DELAY_PROBE_US) {
			n->state = NUD_DELAY;
			n->updated = now;
			next = now + NEIGH_DELAY_PROBE_US;
		} else {
			n->state = NUD_STALE;
			n->updated = now;
			return; /* STALE waits for traffic or garbage collection */
		}
		break;
	case NUD_DELAY:
		if (now < n->confirmed + NEIGH_DELAY_PROBE_US) {
			n->state = NUD_REACHABLE;
			n->updated = now;
			next = n->confirmed + ns->arp->reachable_time;
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
		max_probes = n->state == NUD_INCOMPLETE ? NEIGH_MCAST_PROBES : NEIGH_UCAST_PROBES;
		if (n->probes >= max_probes) {
			n->state = NUD_FAILED;
			n->updated = now;
			neigh_invalidate(n);
			return;
		}
	}
	mod_timer(ns, &n->timer, next);
	if (n->state == NUD_INCOMPLETE || n->state == NUD_PROBE)
		neigh_probe(n);
}

/*
 * Sends skb (data at the IP header) to the on-link host nexthop, resolving
 * its address first when needed (Linux's neigh_resolve_output() and
 * __neigh_event_send()). Consumes skb.
 */
int neigh_output(struct nstack *ns, struct sk_buff *skb, uint32_t nexthop)
{
	struct neighbour *n = neigh_find(ns, nexthop);
	uint64_t now = ns_now_batch(ns);

	if (!n) {
		n = neigh_create(ns, nexthop);
		if (!n) {
			NS_INC_STATS(ns, IpOutDiscards);
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
		return neigh_xmit(n, skb);
	case NUD_STALE:
		/* Use the old address now; confirm it within delay_first_probe_time. */
		n->state = NUD_DELAY;
		n->updated = now;
		mod_timer(ns, &n->timer, now + NEIGH_DELAY_PROBE_US);
		return neigh_xmit(n, skb);
	case NUD_NONE:
	case NUD_FAILED:
		/* Start resolving: first request now, then one per NEIGH_RETRANS_US. */
		n->state = NUD_INCOMPLETE;
		n->updated = now;
		n->probes = 0;
		mod_timer(ns, &n->timer, now + NEIGH_RETRANS_US);
		neigh_probe(n);
		break;
	case NUD_INCOMPLETE:
		break;
	}
	/* Hold the packet; the oldest one gives way when the queue is full. */
	while (n->arp_queue.qlen >= NEIGH_UNRES_QLEN) {
		kfree_skb(skb_dequeue(&n->arp_queue));
		NS_INC_STATS(ns, ArpUnresDiscards);
	}
	skb_queue_tail(&n->arp_queue, skb);
	return 0;
}

/* Returns the state of the entry for ip and copies its address when valid. */
enum neigh_state neigh_lookup_state(struct nstack *ns, uint32_t ip, uint8_t mac[6])
{
	struct neighbour *n = neigh_find(ns, ip);

	if (!n)
		return NUD_NONE;
	if (mac && NUD_VALID(n->state))
		memcpy(mac, n->ha, ETH_ALEN);
	return n->state;
}

/* Adds or overwrites a permanent entry (ip neigh replace ... nud permanent). */
int neigh_add_permanent(struct nstack *ns, uint32_t ip, const uint8_t mac[6])
{
	struct neighbour *n = neigh_find(ns, ip);
	struct sk_buff *skb;

	if (!n) {
		n = neigh_create(ns, ip);
		if (!n)
			return -ENOBUFS;
	}
	del_timer(ns, &n->timer);
	memcpy(n->ha, mac, ETH_ALEN);
	n->state = NUD_PERMANENT;
	n->updated = n->confirmed = ns_now(ns);
	while ((skb = skb_dequeue(&n->arp_queue)) != NULL)
		neigh_xmit(n, skb);
	return 0;
}

/* Announces our address: a broadcast request with sip == tip (RFC 5227 2.3). */
int arp_send_gratuitous(struct nstack *ns)
{
	return arp_xmit(ns, ARPOP_REQUEST, ns->cfg.addr, ns->cfg.addr, NULL, NULL);
}

static bool ether_addr_is_multicast(const uint8_t *a)
{
	return a[0] & 1;
}

static bool ether_addr_is_zero(const uint8_t *a)
{
	return memcmp(a, zero_mac, ETH_ALEN) == 0;
}

/*
 * The packet_type handler for ETH_P_ARP (Linux's arp_rcv()/arp_process()):
 * validates, answers requests for our address and learns from the rest.
 */
int arp_rcv(struct sk_buff *skb, struct net_device *dev)
{
	struct nstack *ns = skb->ns;
	const struct arphdr_eth *arp;
	uint32_t sip, tip;
	uint16_t op;
	struct neighbour *n;
	bool for_us;

	if (!pskb_may_pull(skb, ARP_HLEN))
		goto bad;
	arp = (const struct arphdr_eth *)skb->data;
	if (arp->ar_hrd != htons(ARPHRD_ETHER) || arp->ar_pro != htons(ETH_P_IP) ||
	    arp->ar_hln != ETH_ALEN || arp->ar_pln != 4)
		goto bad;
	op = ntohs(arp->ar_op);
	if (op != ARPOP_REQUEST && op != ARPOP_REPLY)
		goto bad;
	/* A group address cannot own an IP address. */
	if (ether_addr_is_multicast(arp->ar_sha) || ether_addr_is_zero(arp->ar_sha))
		goto bad;
	memcpy(&sip, arp->ar_sip, 4);
	memcpy(&tip, arp->ar_tip, 4);
	if (ipv4_is_multicast(tip) || ipv4_is_loopback(tip) || ipv4_is_multicast(sip) ||
	    ipv4_is_lbcast(sip) || ipv4_is_loopback(sip))
		goto bad;
	if (op == ARPOP_REQUEST)
		NS_INC_STATS(ns, ArpInRequests);
	else
		NS_INC_STATS(ns, ArpInReplies);

	/* Our own frame reflected back by the link: nothing to learn. */
	if (memcmp(arp->ar_sha, dev->dev_addr, ETH_ALEN) == 0)
		goto out;
	if (sip == ns->cfg.addr && sip != 0) {
		/*
		 * Another host claims our address (RFC 5227 2.4): keep ours,
		 * learn nothing, tell the operator once.
		 */
		if (!ns->arp->conflict_logged) {
			char ip[INET_ADDRSTRLEN];

			inet_ntop(AF_INET, &sip, ip, sizeof(ip));
			ns_warn(ns,
				"arp: address conflict: %s claimed by "
				"%02x:%02x:%02x:%02x:%02x:%02x",
				ip, arp->ar_sha[0], arp->ar_sha[1], arp->ar_sha[2], arp->ar_sha[3],
				arp->ar_sha[4], arp->ar_sha[5]);
			ns->arp->conflict_logged = true;
		}
		goto out;
	}
	for_us = tip == ns->cfg.addr && tip != 0;

	if (sip == 0) {
		/* An address probe (RFC 5227 2.1.1): answer if it asks for ours. */
		if (op == ARPOP_REQUEST && for_us)
			arp_xmit(ns, ARPOP_REPLY, sip, tip, arp->ar_sha, arp->ar_sha);
		goto out;
	}
	if (op == ARPOP_REQUEST && for_us) {
		/*
		 * The asker will talk to us next: learn it (STALE, as
		 * neigh_event_ns()), then answer to its address.
		 */
		n = neigh_find(ns, sip);
		if (!n)
			n = neigh_create(ns, sip);
		if (n)
			neigh_update(n, arp->ar_sha, NUD_STALE, true);
		arp_xmit(ns, ARPOP_REPLY, sip, tip, arp->ar_sha, arp->ar_sha);
		goto out;
	}
	n = neigh_find(ns, sip);
	if (n) {
		/*
		 * Only a unicast reply proves two-way reachability; anything
		 * else is a sighting. Within locktime of the last change only
		 * a gratuitous announcement may change the address.
		 */
		bool garp = sip == tip;
		bool override =
		    garp || ns_now(ns) > n->updated + NEIGH_LOCKTIME_US || !NUD_VALID(n->state);
		enum neigh_state state = NUD_REACHABLE;

		if (op != ARPOP_REPLY || skb->pkt_type != PACKET_HOST)
			state = NUD_STALE;
		neigh_update(n, arp->ar_sha, state, override);
	}
out:
	kfree_skb(skb);
	return 0;
bad:
	NS_INC_STATS(ns, ArpInErrors);
	kfree_skb(skb);
	return -EINVAL;
}

static const struct packet_type arp_packet_type = {
    .type = ETH_P_ARP,
    .func = arp_rcv,
};

/* Creates the neighbour table and registers ETH_P_ARP. */
int arp_init(struct nstack *ns)
{
	struct arp_table *tbl = ns_zalloc(ns, sizeof(*tbl));
	int err;

	if (!tbl)
		return -ENOMEM;
	for (unsigned int i = 0; i < NEIGH_HASH_SIZE; i++)
		LIST_INIT(&tbl->buckets[i]);
	tbl->ns = ns;
	ns->arp = tbl;
	tbl->reachable_time = neigh_rand_reach_time(ns);
	tbl->reachable_set = ns_now(ns);
	timer_setup(&tbl->gc_timer, neigh_gc_timer);
	mod_timer(ns, &tbl->gc_timer, ns_now(ns) + NEIGH_GC_INTERVAL_US);
	err = dev_add_pack(ns, &arp_packet_type);
	if (err) {
		del_timer(ns, &tbl->gc_timer);
		ns_free(ns, tbl);
		ns->arp = NULL;
	}
	return err;
}

/* Frees every entry and the packets waiting on them. */
void arp_exit(struct nstack *ns)
{
	struct arp_table *tbl = ns->arp;

	if (!tbl)
		return;
	dev_remove_pack(ns, &arp_packet_type);
	for (unsigned int i = 0; i < NEIGH_HASH_SIZE; i++)
		while (!LIST_EMPTY(&tbl->buckets[i]))
			neigh_destroy(LIST_FIRST(&tbl->buckets[i]));
	del_timer(ns, &tbl->gc_timer);
	ns_free(ns, tbl);
	ns->arp = NULL;
}
