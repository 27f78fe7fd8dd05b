/* ICMPv6 (RFC 4443): echo, errors out with Linux's rate limit, counters. */
#ifndef NSTACK_ICMPV6_H
#define NSTACK_ICMPV6_H

#include <netinet/in.h>
#include <stdint.h>

struct nstack;
struct sk_buff;

/* net.ipv6.icmp.ratelimit (ms, as microseconds) and ratemask 0-1,3-127. */
#define ICMPV6_RATELIMIT_US (1000ull * 1000)
#define ICMPV6_RATE_BURST   6 /* inet_peer_xrlim_allow()'s XRLIM_BURST_FACTOR */

/*
 * The ICMPv6 checksum of len bytes at msg (its checksum field included)
 * with the IPv6 pseudo-header (RFC 8200 section 8.1); 0 when valid.
 */
uint16_t csum_ipv6_magic(const struct in6_addr *saddr, const struct in6_addr *daddr, uint32_t len,
			 uint8_t proto, const void *msg);
/*
 * Sends an ICMPv6 error about skb_in (its network header at the offending
 * packet's IPv6 header) as RFC 4443 2.4 allows: never about an ICMPv6
 * error or a packet to or from an address no error may go to, at most the
 * minimum MTU in all, rate limited per destination as Linux's
 * icmpv6_xrlim_allow(). Does not consume skb_in.
 */
void icmpv6_send(struct sk_buff *skb_in, uint8_t type, uint8_t code, uint32_t info);
/* icmpv6_send() of a parameter problem pointing at offset pos of the packet. */
void icmpv6_param_prob(struct sk_buff *skb_in, uint8_t code, unsigned int pos);
/*
 * Sends an ICMPv6 message built by the caller (skb->data at the ICMPv6
 * header, checksum filled in here) and counts it. Consumes skb.
 */
int icmpv6_push_xmit(struct nstack *ns, struct sk_buff *skb, const struct in6_addr *saddr,
		     const struct in6_addr *daddr, uint8_t hop_limit);

/* Counts an ICMPv6 message of type going out (Icmp6OutMsgs and the type's counter). */
void icmpv6_out_count(struct nstack *ns, uint8_t type);

/* The errno of an ICMPv6 error (Linux's tab_unreach); returns whether it is fatal. */
int icmpv6_err_convert(uint8_t type, uint8_t code, int *err);

int icmpv6_init(struct nstack *ns);
void icmpv6_exit(struct nstack *ns);

#endif
