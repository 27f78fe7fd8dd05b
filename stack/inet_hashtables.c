/*
 * Ephemeral port selection shared by UDP and TCP (Linux's
 * inet_hashtables.c picks ports for connect(), udp_lib_get_port() for bind).
 */
#include <errno.h>

#include "inet_dgram.h"
#include "stack.h"
#include "udp.h"

/* A keyed mix of the secret (the F() of RFC 6056; we have no 4-tuple to hash). */
static uint32_t port_offset(uint32_t secret)
{
	uint32_t h = secret ^ 0x9e3779b9u;

	h ^= h >> 16;
	h *= 0x7feb352du;
	h ^= h >> 15;
	h *= 0x846ca68bu;
	h ^= h >> 16;
	return h;
}

/*
 * RFC 6056 section 3.3.3 (algorithm 3, "simple hash-based"):
 *   port = min + (next_ephemeral + F(secret)) % num_ephemeral
 * trying each port once, with next_ephemeral advancing on every attempt so
 * consecutive binds do not walk the same sequence. The secret and the
 * starting point of next_ephemeral come from the stack's random source
 * (udp_init), so tests with a seeded source get repeatable ports.
 * in_use(ns, port, arg) says whether a port is taken for the caller.
 * Returns 0 with *port set, or -EADDRNOTAVAIL when the range is full.
 */
int inet_pick_ephemeral(struct nstack *ns,
			int (*in_use)(struct nstack *ns, uint16_t port, void *arg), void *arg,
			uint16_t *port)
{
	const uint32_t low = IP_LOCAL_PORT_LOW, num = IP_LOCAL_PORT_HIGH - IP_LOCAL_PORT_LOW + 1;
	struct udp_table *t = ns->udp;
	uint32_t offset;

	assert(t);
	offset = port_offset(t->port_secret);
	for (uint32_t count = num; count > 0; count--) {
		uint16_t p = (uint16_t)(low + (t->next_ephemeral + offset) % num);

		t->next_ephemeral++;
		if (!in_use(ns, p, arg)) {
			*port = p;
			return 0;
		}
	}
	return -EADDRNOTAVAIL;
}
