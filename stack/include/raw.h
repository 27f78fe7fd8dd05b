/* Raw IPv4 sockets (SOCK_RAW), as Linux's raw_prot; the socket lists of both families. */
#ifndef NSTACK_RAW_H
#define NSTACK_RAW_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <stdint.h>

struct sk_buff;
struct nstack;
struct sock;

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
/* Queues c (a clone made for sk) on sk, stamped and counted (Linux's raw_rcv_skb); consumes c. */
void raw_rcv_skb(struct sock *sk, struct sk_buff *c);
/*
 * ICMP_FILTER and ICMP6_FILTER (size bytes at filter) as setsockopt and
 * getsockopt see them: 0 or -errno.
 */
int raw_set_filter(void *filter, size_t size, const void *optval, socklen_t optlen);
int raw_get_filter(const void *filter, size_t size, void *optval, socklen_t *optlen);
/* The raw socket lists, shared with rawv6_prot (Linux's raw_hash_sk/raw_unhash_sk). */
int raw_hash_sk(struct sock *sk);
void raw_unhash_sk(struct sock *sk);
int raw_init(struct nstack *ns);
void raw_exit(struct nstack *ns);

#endif
