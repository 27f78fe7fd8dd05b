/* UDP header (RFC 768). */
#ifndef NSTACK_PROTO_UDP_H
#define NSTACK_PROTO_UDP_H

#include <stdint.h>

struct udphdr {
	uint16_t source;
	uint16_t dest;
	uint16_t len;
	uint16_t check;
} __attribute__((packed));

#define UDP_HLEN 8

#endif
