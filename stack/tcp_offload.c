/*
 * TCP/IPv4 segmentation offload, sending side (see gso.h): deciding which
 * frames TCP sent may travel as one super-frame, and writing its headers.
 * The device cuts it the way Linux's tcp4_gso_segment() does: every piece
 * gets the first segment's headers with its own sequence number, IP ID
 * counting up, PSH only on the last piece.
 */
#include <arpa/inet.h>
#include <string.h>

#include "checksum.h"
#include "gso.h"
#include "netdevice.h"
#include "proto/ether.h"
#include "proto/ip.h"
#include "proto/tcp.h"

/* Headers of a plain data segment, or false: only ACK and PSH, no IP options. */
static bool gso_parse(const uint8_t *frame, size_t len, unsigned int *hdr_len,
		      unsigned int *payload, uint32_t *seq, uint8_t *flags)
{
	const struct ethhdr *eth = (const struct ethhdr *)frame;
	const struct iphdr *iph = (const struct iphdr *)(frame + ETH_HLEN);
	const struct tcphdr *th = (const struct tcphdr *)(frame + ETH_HLEN + IP_HLEN_MIN);
	size_t hl;

	if (len < ETH_HLEN + IP_HLEN_MIN + TCP_HLEN_MIN || eth->h_proto != htons(ETH_P_IP) ||
	    !IP_PLAIN_WHOLE(iph) || iph->protocol != IPPROTO_TCP ||
	    ntohs(iph->tot_len) != len - ETH_HLEN)
		return false;
	hl = ETH_HLEN + IP_HLEN_MIN + (size_t)TCP_DOFF(th) * 4;
	if (TCP_DOFF(th) < 5 || hl >= len || !TCP_FLAGS_PLAIN_DATA(th->flags))
		return false;
	*hdr_len = (unsigned int)hl;
	*payload = (unsigned int)(len - hl);
	*seq = ntohl(th->seq);
	*flags = th->flags;
	return true;
}

/* Same headers but for the IP total length, ID, checksums, sequence and PSH. */
static bool gso_same_headers(const uint8_t *a, const uint8_t *b, unsigned int hdr_len)
{
	const unsigned int ip = ETH_HLEN, tcp = ETH_HLEN + IP_HLEN_MIN;

	return memcmp(a, b, ETH_HLEN) == 0 && a[ip + 1] == b[ip + 1] &&
	       memcmp(a + ip + 6, b + ip + 6, 4) == 0 &&     /* frag_off, ttl, protocol */
	       memcmp(a + ip + 12, b + ip + 12, 8) == 0 &&   /* addresses */
	       memcmp(a + tcp, b + tcp, 4) == 0 &&	     /* ports */
	       memcmp(a + tcp + 8, b + tcp + 8, 5) == 0 &&   /* ack, data offset */
	       memcmp(a + tcp + 14, b + tcp + 14, 2) == 0 && /* window */
	       memcmp(a + tcp + 18, b + tcp + 18, hdr_len - tcp - 18) == 0; /* urg, options */
}

bool tcp4_gso_add(struct tcp_gso_run *r, const uint8_t *first, const uint8_t *frame, size_t len)
{
	unsigned int hdr_len, payload;
	uint32_t seq;
	uint8_t flags;

	if (!gso_parse(frame, len, &hdr_len, &payload, &seq, &flags))
		return false;
	if (r->n == 0) {
		r->hdr_len = hdr_len;
		r->size = payload;
	} else if (r->ended || r->n >= NETDEV_GSO_MAX_SEGS || hdr_len != r->hdr_len ||
		   seq != r->next_seq || payload > r->size ||
		   r->hdr_len - ETH_HLEN + r->payload + payload > IP_MAXPACKET ||
		   !gso_same_headers(first, frame, hdr_len)) {
		return false;
	}
	r->n++;
	r->payload += payload;
	r->next_seq = seq + payload;
	r->ended = payload < r->size || (flags & TH_PSH);
	return true;
}

void tcp4_gso_build(const struct tcp_gso_run *r, const uint8_t *first, const uint8_t *last,
		    uint8_t *hdr, struct netdev_gso *g)
{
	struct iphdr *iph = (struct iphdr *)(hdr + ETH_HLEN);
	struct tcphdr *th = (struct tcphdr *)(hdr + ETH_HLEN + IP_HLEN_MIN);
	const struct tcphdr *lth = (const struct tcphdr *)(last + ETH_HLEN + IP_HLEN_MIN);
	unsigned int tcp_len = r->hdr_len - ETH_HLEN - IP_HLEN_MIN + r->payload;

	memcpy(hdr, first, r->hdr_len);
	iph->tot_len = htons((uint16_t)(IP_HLEN_MIN + tcp_len));
	iph->check = 0;
	iph->check = ip_fast_csum(iph, 5);
	th->flags = (uint8_t)((th->flags & ~TH_PSH) | (lth->flags & TH_PSH));
	/* The pseudo-header sum, as for CHECKSUM_PARTIAL: the device adds the rest. */
	th->check = csum_tcpudp_partial(iph->saddr, iph->daddr, tcp_len, IPPROTO_TCP);
	g->size = (uint16_t)r->size;
	g->hdr_len = (uint16_t)r->hdr_len;
	g->csum_start = ETH_HLEN + IP_HLEN_MIN;
	g->csum_offset = 16; /* offsetof(struct tcphdr, check) */
}
