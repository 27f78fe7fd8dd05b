/* IPv4 header (RFC 791). Multi-byte fields are in network order. */
#ifndef NSTACK_PROTO_IP_H
#define NSTACK_PROTO_IP_H

#include <arpa/inet.h>
#include <stdint.h>

struct iphdr {
	uint8_t ver_ihl; /* version << 4 | header length in 32-bit words */
	uint8_t tos;
	uint16_t tot_len;
	uint16_t id;
	uint16_t frag_off; /* flags in the top three bits */
	uint8_t ttl;
	uint8_t protocol;
	uint16_t check;
	uint32_t saddr;
	uint32_t daddr;
} __attribute__((packed));

#define IP_HLEN_MIN  20
#define IP_HLEN_MAX  60
#define IP_MAXPACKET 65535
#define IP_CE	     0x8000 /* reserved, must be zero */
#define IP_DF	     0x4000
#define IP_MF	     0x2000
#define IP_OFFMASK   0x1fff

#define IP_VERSION(iph) ((iph)->ver_ihl >> 4)
#define IP_IHL(iph)	((iph)->ver_ihl & 0x0f)

/* IPv4 without options and not a fragment: what GSO and batch ordering handle. */
#define IP_PLAIN_WHOLE(iph)                                                                        \
	((iph)->ver_ihl == 0x45 && !((iph)->frag_off & htons(IP_MF | IP_OFFMASK)))

#endif
