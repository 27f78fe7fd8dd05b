/*
 * IPv6 wire formats: the fixed header and extension headers (RFC 8200),
 * ICMPv6 (RFC 4443) and the neighbour discovery messages and options
 * (RFC 4861).
 *
 * The structures holding a struct in6_addr are not packed: their layout
 * has no padding anyway (asserted below), and the stack keeps IPv6
 * headers 4-byte aligned (NET_IP_ALIGN on input, MAX_HEADER on output;
 * extension headers and ND options are multiples of 8 bytes), so their
 * addresses may be passed by pointer.
 */
#ifndef NSTACK_PROTO_IPV6_H
#define NSTACK_PROTO_IPV6_H

#include <netinet/in.h>
#include <stdint.h>

#define IPV6_HLEN	  40
#define IPV6_MIN_MTU	  1280 /* RFC 8200 section 5 */
#define IPV6_MAXPLEN	  65535
#define IPV6_DEFAULT_HOPS 64

/* Next header values (RFC 8200 section 4, IANA protocol numbers). */
#define NEXTHDR_HOP	 0
#define NEXTHDR_TCP	 6
#define NEXTHDR_UDP	 17
#define NEXTHDR_ROUTING	 43
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_ESP	 50
#define NEXTHDR_AUTH	 51
#define NEXTHDR_ICMP	 58
#define NEXTHDR_NONE	 59
#define NEXTHDR_DEST	 60

struct ipv6hdr {
	uint32_t vtc_flow; /* version 4 bits, traffic class 8, flow label 20; network order */
	uint16_t payload_len;
	uint8_t nexthdr;
	uint8_t hop_limit;
	struct in6_addr saddr;
	struct in6_addr daddr;
};

#define IPV6_VERSION(h) ((((const uint8_t *)(h))[0]) >> 4)

/* The common start of hop-by-hop, destination options and routing headers. */
struct ipv6_opt_hdr {
	uint8_t nexthdr;
	uint8_t hdrlen; /* in 8-octet units, not counting the first 8 */
} __attribute__((packed));

#define IPV6_OPTLEN(h) (((unsigned int)(h)->hdrlen + 1) * 8u)

struct ipv6_rt_hdr {
	uint8_t nexthdr;
	uint8_t hdrlen;
	uint8_t type;
	uint8_t segments_left;
} __attribute__((packed));

struct frag_hdr {
	uint8_t nexthdr;
	uint8_t reserved;
	uint16_t frag_off; /* offset in 8-octet units << 3, M flag in bit 0 */
	uint32_t identification;
} __attribute__((packed));

#define IP6_MF	   0x0001
#define IP6_OFFSET 0xfff8

/* Option types in hop-by-hop and destination options (RFC 8200 4.2). */
#define IPV6_TLV_PAD1 0
#define IPV6_TLV_PADN 1

/* ICMPv6 (RFC 4443). */
struct icmp6hdr {
	uint8_t icmp6_type;
	uint8_t icmp6_code;
	uint16_t icmp6_cksum;
	union {
		uint32_t un_data32;
		uint16_t un_data16[2];
		uint8_t un_data8[4];
	} un;
} __attribute__((packed));

#define ICMP6_HLEN 8

#define ICMPV6_DEST_UNREACH 1
#define ICMPV6_PKT_TOOBIG   2
#define ICMPV6_TIME_EXCEED  3
#define ICMPV6_PARAMPROB    4
#define ICMPV6_ECHO_REQUEST 128
#define ICMPV6_ECHO_REPLY   129
#define ICMPV6_MSG_MAX	    255

/* Codes for ICMPV6_DEST_UNREACH. */
#define ICMPV6_NOROUTE	    0
#define ICMPV6_ADM_PROHIB   1
#define ICMPV6_ADDR_UNREACH 3
#define ICMPV6_PORT_UNREACH 4
/* Codes for ICMPV6_TIME_EXCEED. */
#define ICMPV6_EXC_HOPLIMIT 0
#define ICMPV6_EXC_FRAGTIME 1
/* Codes for ICMPV6_PARAMPROB. */
#define ICMPV6_HDR_FIELD   0
#define ICMPV6_UNK_NEXTHDR 1
#define ICMPV6_UNK_OPTION  2
#define ICMPV6_HDR_INCOMP  3 /* first fragment without the whole header chain (RFC 8200 4.5) */

/* Neighbour discovery (RFC 4861 section 4). */
#define NDISC_ROUTER_SOLICITATION     133
#define NDISC_ROUTER_ADVERTISEMENT    134
#define NDISC_NEIGHBOUR_SOLICITATION  135
#define NDISC_NEIGHBOUR_ADVERTISEMENT 136
#define NDISC_REDIRECT		      137

/* NS, NA: the ICMPv6 header then the target. */
struct nd_msg {
	struct icmp6hdr icmph;
	struct in6_addr target;
	uint8_t opt[];
};

/* RA: the ICMPv6 header (hop limit, flags, router lifetime) then two timers. */
struct ra_msg {
	struct icmp6hdr icmph;
	uint32_t reachable_time; /* milliseconds */
	uint32_t retrans_timer;	 /* milliseconds */
} __attribute__((packed));

#define ND_NA_FLAG_ROUTER    0x80000000u /* host order of un_data32 */
#define ND_NA_FLAG_SOLICITED 0x40000000u
#define ND_NA_FLAG_OVERRIDE  0x20000000u

/* Options (RFC 4861 4.6). */
#define ND_OPT_SOURCE_LL_ADDR 1
#define ND_OPT_TARGET_LL_ADDR 2
#define ND_OPT_PREFIX_INFO    3
#define ND_OPT_REDIRECT_HDR   4
#define ND_OPT_MTU	      5

struct nd_opt_hdr {
	uint8_t nd_opt_type;
	uint8_t nd_opt_len; /* in 8-octet units */
} __attribute__((packed));

struct prefix_info {
	uint8_t type;
	uint8_t length;
	uint8_t prefix_len;
	uint8_t flags; /* ND_PREFIX_FLAG_* */
	uint32_t valid;
	uint32_t prefered;
	uint32_t reserved2;
	struct in6_addr prefix;
};

_Static_assert(sizeof(struct ipv6hdr) == 40, "ipv6hdr layout");
_Static_assert(sizeof(struct nd_msg) == 24, "nd_msg layout");
_Static_assert(sizeof(struct prefix_info) == 32, "prefix_info layout");

#define ND_PREFIX_FLAG_ONLINK 0x80
#define ND_PREFIX_FLAG_AUTO   0x40

#endif
