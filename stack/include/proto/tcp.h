/* TCP header (RFC 9293) and option kinds. */
#ifndef NSTACK_PROTO_TCP_H
#define NSTACK_PROTO_TCP_H

#include <stdint.h>

struct tcphdr {
	uint16_t source;
	uint16_t dest;
	uint32_t seq;
	uint32_t ack_seq;
	uint8_t doff_res; /* data offset << 4 */
	uint8_t flags;
	uint16_t window;
	uint16_t check;
	uint16_t urg_ptr;
} __attribute__((packed));

#define TCP_HLEN_MIN 20
#define TCP_HLEN_MAX 60
#define TCP_DOFF(th) ((th)->doff_res >> 4)

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10
#define TH_URG 0x20
#define TH_ECE 0x40
#define TH_CWR 0x80

/* A plain data segment's flags: ACK, maybe PSH, nothing else (GSO, batch ordering). */
#define TCP_FLAGS_PLAIN_DATA(f) (((f) & ~(TH_ACK | TH_PSH)) == 0 && ((f)&TH_ACK))

#define TCPOPT_EOL	 0
#define TCPOPT_NOP	 1
#define TCPOPT_MSS	 2
#define TCPOPT_WINDOW	 3
#define TCPOPT_SACK_PERM 4
#define TCPOPT_SACK	 5
#define TCPOPT_TIMESTAMP 8
#define TCPOPT_FASTOPEN	 34  /* RFC 7413 */
#define TCPOPT_EXP	 254 /* RFC 6994 experimental, with a 16-bit magic */
#define TCPOPT_FASTOPEN_MAGIC 0xF989

#endif
