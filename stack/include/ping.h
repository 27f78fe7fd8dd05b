/* Unprivileged ICMP echo sockets (SOCK_DGRAM, IPPROTO_ICMP), as Linux's ping_prot. */
#ifndef NSTACK_PING_H
#define NSTACK_PING_H

#include <stdbool.h>
#include <stdint.h>

struct sk_buff;
struct nstack;

extern const struct proto ping_prot;
extern const struct proto pingv6_prot; /* AF_INET6, IPPROTO_ICMPV6 */

/* Offers an ICMP echo reply (skb->data at the ICMP header); true if a socket took it. */
bool ping_rcv(struct sk_buff *skb);
/* The same for an ICMPv6 echo reply. */
bool ping_rcv6(struct sk_buff *skb);
void ping_err(struct sk_buff *skb, int type, int code, uint32_t info);
/*
 * An ICMPv6 error quoting one of our echo requests: skb->data at the
 * quoted IPv6 header, offset from there to the quoted ICMPv6 header.
 */
void ping_err6(struct sk_buff *skb, uint8_t type, uint8_t code, int offset, uint32_t info);
int ping_init(struct nstack *ns);
void ping_exit(struct nstack *ns);

#endif
