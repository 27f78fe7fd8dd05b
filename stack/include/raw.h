/* Raw IPv4 sockets (SOCK_RAW), as Linux's raw_prot. */
#ifndef NSTACK_RAW_H
#define NSTACK_RAW_H

#include <stdbool.h>
#include <stdint.h>

struct sk_buff;
struct nstack;

extern const struct proto raw_prot;

/*
 * Gives every matching raw socket a clone of skb (skb->data at the IP
 * header) before the protocol handler runs; does not consume skb. True
 * when a raw socket matched, which spares an unhandled protocol its ICMP
 * protocol unreachable.
 */
bool raw_local_deliver(struct nstack *ns, struct sk_buff *skb, uint8_t protocol);
/* Offers an ICMP error to raw sockets of the quoted protocol. */
void raw_icmp_error(struct nstack *ns, struct sk_buff *skb, uint8_t protocol, int type, int code,
		    uint32_t info);
int raw_init(struct nstack *ns);
void raw_exit(struct nstack *ns);

#endif
