/*
 * IPv6 (RFC 8200) on the stack's one link: the per-stack state (ns->ip6),
 * address helpers, input (ip6_input.c) and output (ip6_output.c).
 * Neighbour discovery is ndisc.h, ICMPv6 icmpv6.h, addresses addrconf.h.
 *
 * IPv6 runs only when the configuration asks for it (cfg.ipv6, or a
 * static address in cfg.addr6): then ns->ip6 is set, the stack has a
 * link-local address and takes ETH_P_IPV6 frames. Otherwise ns->ip6 is
 * NULL and IPv6 frames are unknown EtherTypes, as before.
 */
#ifndef NSTACK_IPV6_H
#define NSTACK_IPV6_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "nsref.h"
#include "skbuff.h"
#include "proto/ipv6.h"
#include "timer.h"

struct nstack;
struct sk_buff;
struct net_device;
struct nd_table;
struct icmpv6_state;
struct inet_frags;
struct rt6_pmtu_cache;

/* An address's DAD state (RFC 4862 section 5.4). */
enum ifa_state {
	IFA_UNUSED = 0,
	IFA_TENTATIVE,	/* DAD under way: not usable, but its solicited-node group is joined */
	IFA_OPTIMISTIC, /* DAD under way, usable meanwhile under RFC 4429's rules */
	IFA_PREFERRED,	/* ours */
	IFA_DUPLICATE,	/* DAD found another owner: never used */
};

/* DAD is still running on an address in this state (Linux: IFA_F_TENTATIVE). */
static inline bool ifa_state_dad(enum ifa_state st)
{
	return st == IFA_TENTATIVE || st == IFA_OPTIMISTIC;
}

/* An address in this state may be used as a source and receives traffic. */
static inline bool ifa_state_usable(enum ifa_state st)
{
	return st == IFA_PREFERRED || st == IFA_OPTIMISTIC;
}

/* RFC 2133's sockaddr_in6, without sin6_scope_id: the shortest Linux takes. */
#define SIN6_LEN_RFC2133 24

#define IPV6_MAX_ADDRS	  8
#define IPV6_MAX_PREFIXES 8

struct inet6_ifaddr {
	struct in6_addr addr;	 /* [S] */
	unsigned int prefixlen;	 /* [S] */
	enum ifa_state state;	 /* [S] */
	bool autoconf;		 /* [S] made by SLAAC from a router's prefix */
	unsigned int dad_probes; /* [S] solicitations still to send */
	uint64_t valid_until;	 /* [S] stack clock; UINT64_MAX: forever */
	uint64_t prefered_until; /* [S] */
	struct timer_list timer; /* [S] DAD */
	struct nstack *ns;	 /* [I] */
};

/* An on-link prefix (RFC 4861 5.1, Prefix List). */
struct ip6_prefix {
	struct in6_addr prefix;
	unsigned int plen;
	uint64_t expires; /* UINT64_MAX: forever; 0: slot free */
};

/* A transport on IPv6 (Linux's struct inet6_protocol). */
struct inet6_protocol {
	/* Consumes skb; skb->data at the upper-layer header, network header set. */
	int (*handler)(struct sk_buff *skb);
	/*
	 * An ICMPv6 error about a packet we sent: skb->data and the network
	 * header at the quoted IPv6 header, offset from there to the quoted
	 * upper-layer header (8 bytes of it present), info host order (MTU,
	 * pointer). Does not consume skb. May be NULL.
	 */
	void (*err_handler)(struct sk_buff *skb, uint8_t type, uint8_t code, int offset,
			    uint32_t info);
};

/* ns->ip6 */
struct ipv6_state {
	struct nstack *ns;			     /* [I] */
	struct inet6_ifaddr addrs[IPV6_MAX_ADDRS];   /* [S] [0] is link-local */
	struct ip6_prefix onlink[IPV6_MAX_PREFIXES]; /* [S] */
	struct in6_addr defrtr;			     /* [S] default router, :: = none */
	uint64_t defrtr_expires;		     /* [S] UINT64_MAX: static */
	uint8_t hop_limit;			     /* [S] cur_hop_limit (RA) */
	unsigned int mtu;			     /* [S] link MTU (RA MTU option) */
	uint64_t base_reachable_us;		     /* [S] BaseReachableTime */
	uint64_t retrans_us;			     /* [S] RetransTimer */
	unsigned int rs_sent;			     /* [S] router solicitations sent */
	struct timer_list rs_timer;		     /* [S] */
	struct timer_list addr_timer;		     /* [S] lifetimes */
	bool dad_logged;			     /* [S] said once */
	nsref_t protos[256];			     /* [S] const struct inet6_protocol * */
	struct nd_table *nd;			     /* [S] ndisc.c */
	struct icmpv6_state *icmp;		     /* [S] icmpv6.c */
	struct inet_frags *frags;		     /* [S] reassembly queues (reassembly.c) */
	struct rt6_pmtu_cache *pmtu;		     /* [S] path MTUs (route6.c) */
};

/*
 * The skb->cb of an IPv6 packet on input: where the headers were found
 * (offsets from the network header), as Linux's inet6_skb_parm.
 */
struct inet6_skb_parm {
	uint16_t nhoff;	  /* offset of the next-header field naming the current header */
	uint16_t srcrt;	  /* routing header, 0 = none */
	uint16_t lastopt; /* end of the last extension header */
	uint8_t nexthdr;  /* the upper-layer protocol */
	/*
	 * While icmpv6_notify() dispatches an ICMPv6 error: its sender, the
	 * offender IPV6_RECVERR reports (the network header has moved to the
	 * quoted packet by then).
	 */
	struct in6_addr icmp_src;
};

#define IP6CB(skb) ((struct inet6_skb_parm *)(skb)->cb)

/* The IPv6 header of a packet whose network header is set. */
static inline struct ipv6hdr *ipv6_hdr(const struct sk_buff *skb)
{
	return (struct ipv6hdr *)skb_network_header(skb);
}

/* Address helpers (RFC 4291). */
static inline bool ipv6_addr_equal(const struct in6_addr *a, const struct in6_addr *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

static inline bool ipv6_addr_any(const struct in6_addr *a)
{
	static const struct in6_addr any;

	return ipv6_addr_equal(a, &any);
}

static inline bool ipv6_addr_is_multicast(const struct in6_addr *a)
{
	return a->s6_addr[0] == 0xff;
}

static inline unsigned int ipv6_addr_mc_scope(const struct in6_addr *a)
{
	return a->s6_addr[1] & 0x0f;
}

static inline bool ipv6_addr_is_linklocal(const struct in6_addr *a)
{
	return a->s6_addr[0] == 0xfe && (a->s6_addr[1] & 0xc0) == 0x80;
}

static inline bool ipv6_addr_loopback(const struct in6_addr *a)
{
	static const struct in6_addr lo = {.s6_addr = {[15] = 1}};

	return ipv6_addr_equal(a, &lo);
}

static inline bool ipv6_addr_v4mapped(const struct in6_addr *a)
{
	static const uint8_t pfx[12] = {[10] = 0xff, [11] = 0xff};

	return memcmp(a->s6_addr, pfx, sizeof(pfx)) == 0;
}

/* ff02::1:ffXX:XXXX for addr (RFC 4291 2.7.1). */
static inline void addrconf_addr_solict_mult(const struct in6_addr *addr, struct in6_addr *sol)
{
	memset(sol, 0, sizeof(*sol));
	sol->s6_addr[0] = 0xff;
	sol->s6_addr[1] = 0x02;
	sol->s6_addr[11] = 0x01;
	sol->s6_addr[12] = 0xff;
	memcpy(&sol->s6_addr[13], &addr->s6_addr[13], 3);
}

static inline bool ipv6_addr_is_solict_mult(const struct in6_addr *a)
{
	static const uint8_t pfx[13] = {0xff, 0x02, [11] = 0x01, [12] = 0xff};

	return memcmp(a->s6_addr, pfx, sizeof(pfx)) == 0;
}

/* ff02::1 (all nodes) and ff02::2 (all routers). */
extern const struct in6_addr in6addr_linklocal_allnodes_ns;
extern const struct in6_addr in6addr_linklocal_allrouters_ns;

static inline bool ipv6_addr_is_ll_all_nodes(const struct in6_addr *a)
{
	return ipv6_addr_equal(a, &in6addr_linklocal_allnodes_ns);
}

/* True when a and b agree in their first plen bits. */
bool ipv6_prefix_equal(const struct in6_addr *a, const struct in6_addr *b, unsigned int plen);
/* The Ethernet group address of an IPv6 multicast address (RFC 2464 section 7). */
void ipv6_eth_mc_map(const struct in6_addr *addr, uint8_t mac[6]);

/*
 * Our address entry for addr in any state but unused, or NULL. Only a
 * preferred address is ours to send from or to receive for.
 */
struct inet6_ifaddr *ipv6_get_ifaddr(struct nstack *ns, const struct in6_addr *addr);
/* True when addr is one of our preferred unicast addresses. */
bool ipv6_chk_addr(struct nstack *ns, const struct in6_addr *addr);
/* True when we listen to multicast group addr: all-nodes, or a solicited-node group of ours. */
bool ipv6_chk_mcast_addr(struct nstack *ns, const struct in6_addr *addr);
/*
 * The source address for daddr (RFC 6724, as far as a host with one
 * link-local and a few global addresses needs it): 0, or -EADDRNOTAVAIL
 * when no preferred address fits.
 */
int ipv6_dev_get_saddr(struct nstack *ns, const struct in6_addr *daddr, struct in6_addr *saddr);

/* Registers a transport for next header value proto. */
int inet6_add_protocol(struct nstack *ns, const struct inet6_protocol *prot, uint8_t proto);
void inet6_del_protocol(struct nstack *ns, uint8_t proto);

/* The packet_type handler for ETH_P_IPV6. */
int ipv6_rcv(struct sk_buff *skb, struct net_device *dev);
/*
 * Walks the extension headers of the IPv6 packet at nh (len bytes) from
 * offset start, where a header of type *nexthdrp begins (Linux's
 * ipv6_skip_exthdr()): returns the offset of the first header that is not
 * an extension header, or of the fragment header of a fragment other than
 * the first; its type in *nexthdrp; the last fragment offset field seen in
 * *frag_offp (network order, 0 when none). -1 when a header does not fit
 * in len or there is no next header. Only the headers' first bytes are
 * checked to be present: the caller checks the length it needs past the
 * offset returned.
 */
int ipv6_skip_exthdr(const uint8_t *nh, unsigned int len, unsigned int start, uint8_t *nexthdrp,
		     uint16_t *frag_offp);

/*
 * Reassembly (reassembly.c, RFC 8200 4.5 with Linux's rules). skb->data is
 * at the IPv6 header, its fragment header at *off and the next header
 * field naming it at offset *nhoff. Returns the packet to go on with: skb
 * itself when it is an atomic fragment (RFC 6946: *off moved past the
 * fragment header, *nhoff to it), the reassembled datagram (a new skb,
 * data and network header at its IPv6 header, the fragment header taken
 * out: *off and *nhoff are those of its first fragment, where the
 * fragmentable part begins), or NULL when skb was queued or dropped
 * (counted; ICMPv6 errors sent where RFC 8200 asks for them).
 */
struct sk_buff *ipv6_frag_rcv(struct sk_buff *skb, unsigned int *off, unsigned int *nhoff);
/* Limits, as Linux's net.ipv6.ip6frag_high_thresh and ip6frag_time. */
#define IP6FRAG_HIGH_THRESH (4u << 20)
#define IP6FRAG_TIME_US	    (60ull * 1000 * 1000)
int ipv6_frag_init(struct nstack *ns);
void ipv6_frag_exit(struct nstack *ns);

/* Per-packet parameters of ip6_output_frag(). */
struct ip6_tx_params {
	uint8_t hop_limit; /* 0: the link's (cur_hop_limit) */
	uint8_t tclass;	   /* traffic class: DSCP and ECN bits */
	bool dontfrag;	   /* IPV6_DONTFRAG, TCP: -EMSGSIZE above the path MTU, no fragments */
	unsigned int mtu;  /* the MTU to cut at (IPV6_MTU, IPV6_PMTUDISC_PROBE); 0: the path's */
};

/*
 * Sends a datagram from a local socket: skb->data at the upper-layer
 * header (its checksum already computed over the whole datagram, next
 * header proto), from saddr to daddr. When the packet is larger than
 * p->mtu, or ip6_dst_mtu(daddr) without one, it is sent in fragments (RFC 8200 4.5: fragment
 * header, pieces of multiples of 8 bytes, one random identification per
 * datagram; Ip6FragOKs, Ip6FragCreates), unless p->dontfrag: then
 * -EMSGSIZE (Ip6FragFails) and the caller reports the path MTU as it
 * wishes. p NULL: default hop limit, traffic class 0, fragmenting allowed.
 * Consumes skb, whatever happens. Returns 0 (sent, or queued for
 * neighbour resolution), -EMSGSIZE (payload over 65535 bytes, or over the
 * path MTU with dontfrag), -ENETUNREACH (no route or no IPv6), -ENOBUFS.
 * skb needs MAX_HEADER of headroom (alloc_skb_hdr()).
 */
int ip6_output_frag(struct nstack *ns, struct sk_buff *skb, const struct in6_addr *saddr,
		    const struct in6_addr *daddr, uint8_t proto, const struct ip6_tx_params *p);
/*
 * Sends skb (data at an IPv6 header the caller wrote whole, as
 * IPV6_HDRINCL asks) to the next hop of daddr, which need not be the
 * header's destination; nothing is filled in or fragmented. Consumes skb.
 */
int ip6_send_raw(struct nstack *ns, struct sk_buff *skb, const struct in6_addr *daddr);
/*
 * ip6_output_frag() that never fragments (TCP, neighbour discovery,
 * ICMPv6 errors): -EMSGSIZE above the path MTU. hop_limit 0 is the link's
 * default.
 */
int ip6_output(struct nstack *ns, struct sk_buff *skb, const struct in6_addr *saddr,
	       const struct in6_addr *daddr, uint8_t proto, uint8_t hop_limit);
/* The same with a traffic class (DSCP and ECN bits). */
int ip6_output_tclass(struct nstack *ns, struct sk_buff *skb, const struct in6_addr *saddr,
		      const struct in6_addr *daddr, uint8_t proto, uint8_t hop_limit,
		      uint8_t tclass);
/* The next hop for daddr: daddr itself on-link, the default router, or -ENETUNREACH. */
int ip6_route_nexthop(struct nstack *ns, const struct in6_addr *daddr, struct in6_addr *nexthop);

/* The link MTU for IPv6. */
unsigned int ip6_mtu(const struct nstack *ns);

/* Path MTU discovery (route6.c, RFC 8201). */
#define IP6_PMTU_CACHE_SIZE   64		     /* destinations remembered */
#define IP6_RT_MTU_EXPIRES_US (600ull * 1000 * 1000) /* net.ipv6.route.mtu_expires */
/*
 * The path MTU to daddr: the link MTU, or less when a Packet Too Big
 * said so in the last IP6_RT_MTU_EXPIRES_US (never below 1280); 65575 for
 * our own addresses (looped back inside the stack).
 */
unsigned int ip6_dst_mtu(struct nstack *ns, const struct in6_addr *daddr);
/*
 * A Packet Too Big said the path to daddr carries mtu bytes: remembers it
 * (raised to IPV6_MIN_MTU) when that lowers ip6_dst_mtu(daddr). Returns
 * whether it did.
 */
bool ip6_pmtu_update(struct nstack *ns, const struct in6_addr *daddr, uint32_t mtu);
int ip6_route_init(struct nstack *ns);
void ip6_route_exit(struct nstack *ns);

int ipv6_init(struct nstack *ns);
void ipv6_exit(struct nstack *ns);

#endif
