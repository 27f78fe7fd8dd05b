/* ICMPv4 (RFC 792, RFC 1122 3.2.2): echo, errors in and out. */
#ifndef NSTACK_ICMP_H
#define NSTACK_ICMP_H

#include <stdint.h>

#include "proto/icmp.h"

struct nstack;
struct sk_buff;

/*
 * Sends an ICMP error about skb_in (its network header set), unless the
 * rules forbid it (error about an error, broadcast, non-first fragment) or
 * the rate limit does. info goes into the "rest of header" (MTU for
 * FRAG_NEEDED, pointer for PARAMETERPROB). Does not consume skb_in.
 */
void icmp_send(struct sk_buff *skb_in, int type, int code, uint32_t info);
/* Receive handler registered in inet_protos[IPPROTO_ICMP]. */
int icmp_rcv(struct sk_buff *skb);
/* Maps an ICMP error to the errno a socket reports; *fatal for hard errors. */
int icmp_err_convert(int type, int code, int *fatal);

/* Counts one ICMP message sent, by type, in the Icmp* MIB counters. */
void icmp_out_count(struct nstack *ns, int type);

/* Linux's net.ipv4.icmp_ratelimit (ms) and icmp_ratemask defaults. */
#define ICMP_RATELIMIT_US (1000ull * 1000)
#define ICMP_RATEMASK	  0x1818
#define ICMP_RATE_BURST	  6

int icmp_init(struct nstack *ns);
void icmp_exit(struct nstack *ns);

#endif
