/* Raw IPv6 sockets (SOCK_RAW over AF_INET6), as Linux's rawv6_prot (include/net/rawv6.h). */
#ifndef NSTACK_RAWV6_H
#define NSTACK_RAWV6_H

#include <stdbool.h>
#include <stdint.h>

struct sk_buff;

extern const struct proto rawv6_prot;

/*
 * Gives every matching raw IPv6 socket of next header nexthdr a clone of
 * skb (skb->data at the IPv6 header, the upper-layer header at off), its
 * data at that header as Linux's ipv6_raw_deliver() hands it on; does not
 * consume skb. True when a socket matched, which spares an unknown next
 * header its parameter problem.
 */
bool raw6_local_deliver(struct sk_buff *skb, unsigned int off, uint8_t nexthdr);
/*
 * Offers an ICMPv6 error to the raw sockets of the quoted next header
 * (Linux's raw6_icmp_error): skb->data at the quoted IPv6 header, its
 * upper-layer header at offset.
 */
void raw6_icmp_error(struct sk_buff *skb, uint8_t nexthdr, uint8_t type, uint8_t code, int offset,
		     uint32_t info);

#endif
