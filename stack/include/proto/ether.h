/* Ethernet II header as it appears on the wire. */
#ifndef NSTACK_PROTO_ETHER_H
#define NSTACK_PROTO_ETHER_H

#include <stdint.h>

#define ETH_ALEN      6
#define ETH_HLEN      14
#define ETH_ZLEN      60 /* minimum frame without FCS */
#define ETH_DATA_LEN  1500
#define ETH_FRAME_MAX 65550 /* largest frame the stack accepts from a backend */

#define ETH_P_IP   0x0800
#define ETH_P_ARP  0x0806
#define ETH_P_IPV6 0x86dd

struct ethhdr {
	uint8_t h_dest[ETH_ALEN];
	uint8_t h_source[ETH_ALEN];
	uint16_t h_proto; /* network order */
} __attribute__((packed));

#endif
