/* Internet checksum (RFC 1071) helpers, as Linux names them. */
#ifndef NSTACK_CHECKSUM_H
#define NSTACK_CHECKSUM_H

#include <stddef.h>
#include <arpa/inet.h>
#include <stdint.h>

/* One's complement sum of buf added to sum, not folded. */
uint32_t csum_partial(const void *buf, size_t len, uint32_t sum);

static inline uint16_t csum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Checksum of an IPv4 header of ihl 32-bit words; 0 means valid. */
static inline uint16_t ip_fast_csum(const void *iph, unsigned int ihl)
{
	return csum_fold(csum_partial(iph, ihl * 4u, 0));
}

/* Pseudo-header sum for TCP/UDP; addresses in network order. */
static inline uint32_t csum_tcpudp_nofold(uint32_t saddr, uint32_t daddr, uint32_t len,
					  uint8_t proto, uint32_t sum)
{
	uint64_t s = sum;

	s += (saddr & 0xffff) + (saddr >> 16);
	s += (daddr & 0xffff) + (daddr >> 16);
	/* The pseudo header carries proto and length in network order. */
	s += htons((uint16_t)proto) + htons((uint16_t)len);
	while (s >> 32)
		s = (s & 0xffffffffu) + (s >> 32);
	return (uint32_t)s;
}

/* Final TCP/UDP checksum over pseudo header + data sum, ready to store. */
static inline uint16_t csum_tcpudp_magic(uint32_t saddr, uint32_t daddr, uint32_t len,
					 uint8_t proto, uint32_t sum)
{
	return csum_fold(csum_tcpudp_nofold(saddr, daddr, len, proto, sum));
}

/*
 * The pseudo-header sum alone, as a TCP/UDP checksum field holds it while
 * the rest is left to a device (Linux's CHECKSUM_PARTIAL convention).
 */
static inline uint16_t csum_tcpudp_partial(uint32_t saddr, uint32_t daddr, uint32_t len,
					   uint8_t proto)
{
	return (uint16_t)~csum_tcpudp_magic(saddr, daddr, len, proto, 0);
}

/* The IPv6 pseudo-header (RFC 8200 8.1) added to sum; saddr and daddr are 16 bytes each. */
static inline uint32_t csum_ipv6_nofold(const void *saddr, const void *daddr, uint32_t len,
					uint8_t proto, uint32_t sum)
{
	uint32_t be[2] = {htonl(len), htonl(proto)};

	sum = csum_partial(saddr, 16, sum);
	sum = csum_partial(daddr, 16, sum);
	return csum_partial(be, sizeof(be), sum);
}

/* csum_tcpudp_partial() for IPv6. */
static inline uint16_t csum_ipv6_partial(const void *saddr, const void *daddr, uint32_t len,
					 uint8_t proto)
{
	return (uint16_t)~csum_fold(csum_ipv6_nofold(saddr, daddr, len, proto, 0));
}

#endif
