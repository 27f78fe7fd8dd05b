/* UDP (RFC 768) and the port table shared with ping sockets' ident space. */
#ifndef NSTACK_UDP_H
#define NSTACK_UDP_H

#include <stdint.h>

#include "inet.h"
#include "proto/udp.h"

struct udp_sock {
	struct inet_sock inet;
	bool no_check_tx; /* SO_NO_CHECK */
	int corkflag;	  /* UDP_CORK */
	/* One datagram being assembled under UDP_CORK or MSG_MORE (sk_write_queue). */
	bool pending;
	uint32_t cork_daddr, cork_saddr; /* network order */
	uint16_t cork_dport;		 /* network order */
	int cork_ttl, cork_tos;		 /* from control messages, -1 = socket's */
	size_t cork_len;		 /* payload bytes so far */
};

extern const struct proto udp_prot;

int udp_rcv(struct sk_buff *skb);
void udp_err(struct sk_buff *skb, int type, int code, uint32_t info);
/*
 * Picks an ephemeral port as RFC 6056 algorithm 3 describes, using the
 * stack's random source, within the range of ip_local_port_range.
 */
int inet_pick_ephemeral(struct nstack *ns,
			int (*in_use)(struct nstack *ns, uint16_t port, void *arg), void *arg,
			uint16_t *port);

#define IP_LOCAL_PORT_LOW  32768
#define IP_LOCAL_PORT_HIGH 60999

int udp_init(struct nstack *ns);
void udp_exit(struct nstack *ns);

#endif
