/* ARP for IPv4 over Ethernet (RFC 826). */
#ifndef NSTACK_PROTO_ARP_H
#define NSTACK_PROTO_ARP_H

#include <stdint.h>

#define ARPHRD_ETHER  1
#define ARPOP_REQUEST 1
#define ARPOP_REPLY   2

struct arphdr_eth {
	uint16_t ar_hrd;
	uint16_t ar_pro;
	uint8_t ar_hln;
	uint8_t ar_pln;
	uint16_t ar_op;
	uint8_t ar_sha[6];
	uint8_t ar_sip[4]; /* unaligned in the frame: byte array, use memcpy */
	uint8_t ar_tha[6];
	uint8_t ar_tip[4];
} __attribute__((packed));

#define ARP_HLEN 28

#endif
