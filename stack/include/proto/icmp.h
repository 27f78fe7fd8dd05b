/* ICMPv4 header (RFC 792). */
#ifndef NSTACK_PROTO_ICMP_H
#define NSTACK_PROTO_ICMP_H

#include <stdint.h>

#define ICMP_ECHOREPLY	   0
#define ICMP_DEST_UNREACH  3
#define ICMP_SOURCE_QUENCH 4
#define ICMP_REDIRECT	   5
#define ICMP_ECHO	   8
#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAMETERPROB 12

/* Codes for ICMP_DEST_UNREACH. */
#define ICMP_NET_UNREACH  0
#define ICMP_HOST_UNREACH 1
#define ICMP_PROT_UNREACH 2
#define ICMP_PORT_UNREACH 3
#define ICMP_FRAG_NEEDED  4
/* Codes for ICMP_TIME_EXCEEDED. */
#define ICMP_EXC_TTL	  0
#define ICMP_EXC_FRAGTIME 1

struct icmphdr {
	uint8_t type;
	uint8_t code;
	uint16_t checksum;
	union {
		struct {
			uint16_t id;
			uint16_t sequence;
		} echo;
		uint32_t gateway;
		struct {
			uint16_t unused;
			uint16_t mtu;
		} frag;
	} un;
} __attribute__((packed));

#define ICMP_HLEN 8

#endif
