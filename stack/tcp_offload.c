/*
 * TCP segmentation offload, sending side (see gso.h): deciding which
 * frames TCP sent may travel as one super-frame, and writing its headers.
 * The device cuts it the way Linux's tcp4_gso_segment()/tcp6_gso_segment()
 * do: every piece gets the first segment's headers with its own sequence
 * number, IPv4 IDs counting up, PSH only on the last piece.
 */
#include <arpa/inet.h>
#include <string.h>

#include "checksum.h"
#include "gso.h"
#include "netdevice.h"
#include "proto/ether.h"
#include "proto/ip.h"
#include "proto/ipv6.h"
#include "proto/tcp.h"

/* The network header of a frame, if it is IPv4 without options or IPv6 straight to TCP. */
static bool gso_net_header(const uint8_t *frame, size_t len, unsigned int *nh_len, bool *v6)
{
	const struct ethhdr *eth = (const struct ethhdr *)frame;

	if (len < ETH_HLEN + IP_HLEN_MIN + TCP_HLEN_MIN)
		return false;
	if (eth->h_proto == htons(ETH_P_IP)) {
		const struct iphdr *iph = (const struct iphdr *)(frame + ETH_HLEN);

		*v6 = false;
		*nh_len = IP_HLEN_MIN;
		return IP_PLAIN_WHOLE(iph) && iph->protocol == IPPROTO_TCP &&
		       ntohs(iph->tot_len) == len - ETH_HLEN;
	}
	if (eth->h_proto == htons(ETH_P_IPV6)) {
		const uint8_t *ip6 = frame + ETH_HLEN;

		*v6 = true;
		*nh_len = IPV6_HLEN;
		/* Version 6, next header TCP, payload length what follows the header. */
		return len >= ETH_HLEN + IPV6_HLEN + TCP_HLEN_MIN && (ip6[0] >> 4) == 6 &&
		       ip6[6] == IPPROTO_TCP &&
		       (size_t)(ip6[4] << 8 | ip6[5]) == len - ETH_HLEN - IPV6_HLEN;
	}
	return false;
}

/* Headers of a plain data segment, or false: only ACK and PSH, no IP options. */
static bool gso_parse(const uint8_t *frame, size_t len, unsigned int *hdr_len, unsigned int *nh_len,
		      bool *v6, unsigned int *payload, uint32_t *seq, uint8_t *flags)
{
	const struct tcphdr *th;
	size_t hl;

	if (!gso_net_header(frame, len, nh_len, v6))
		return false;
	th = (const struct tcphdr *)(frame + ETH_HLEN + *nh_len);
	hl = ETH_HLEN + *nh_len + (size_t)TCP_DOFF(th) * 4;
	if (TCP_DOFF(th) < 5 || hl >= len || !TCP_FLAGS_PLAIN_DATA(th->flags))
		return false;
	*hdr_len = (unsigned int)hl;
	*payload = (unsigned int)(len - hl);
	*seq = ntohl(th->seq);
	*flags = th->flags;
	return true;
}

/*
 * Same headers but for the IP length, ID and checksum, TCP sequence,
 * checksum and PSH.
 */
static bool gso_same_headers(const uint8_t *a, const uint8_t *b, const struct tcp_gso_run *r)
{
	const unsigned int ip = ETH_HLEN, tcp = ETH_HLEN + (r->v6 ? IPV6_HLEN : IP_HLEN_MIN);
	bool net;

	if (r->v6)
		net =
		    memcmp(a + ip, b + ip, 4) == 0 && /* version, traffic class, flow label */
		    memcmp(a + ip + 6, b + ip + 6, 34) == 0; /* next header, hop limit, addresses */
	else
		net = a[ip + 1] == b[ip + 1] &&
		      memcmp(a + ip + 6, b + ip + 6, 4) == 0 && /* frag_off, ttl, protocol */
		      memcmp(a + ip + 12, b + ip + 12, 8) == 0; /* addresses */
	return net && memcmp(a, b, ETH_HLEN) == 0 && memcmp(a + tcp, b + tcp, 4) == 0 && /* ports */
	       memcmp(a + tcp + 8, b + tcp + 8, 5) == 0 &&   /* ack, data offset */
	       memcmp(a + tcp + 14, b + tcp + 14, 2) == 0 && /* window */
	       memcmp(a + tcp + 18, b + tcp + 18, r->hdr_len - tcp - 18) == 0; /* urg, options */
}

bool tcp_gso_add(struct tcp_gso_run *r, const uint8_t *first, const uint8_t *frame, size_t len)
{
	unsigned int hdr_len, nh_len, payload;
	uint32_t seq;
	uint8_t flags;
	bool v6;

	if (!gso_parse(frame, len, &hdr_len, &nh_len, &v6, &payload, &seq, &flags))
		return false;
	if (r->n == 0) {
		r->hdr_len = hdr_len;
		r->size = payload;
		r->v6 = v6;
	} else if (r->ended || r->n >= NETDEV_GSO_MAX_SEGS || v6 != r->v6 ||
		   hdr_len != r->hdr_len || seq != r->next_seq || payload > r->size ||
		   r->hdr_len - ETH_HLEN + r->payload + payload > IP_MAXPACKET ||
		   !gso_same_headers(first, frame, r)) {
		return false;
	}
	r->n++;
	r->payload += payload;
	r->next_seq = seq + payload;
	r->ended = payload < r->size || (flags & TH_PSH);
	return true;
}

void tcp_gso_build(const struct tcp_gso_run *r, const uint8_t *first, const uint8_t *last,
		   uint8_t *hdr, struct netdev_gso *g)
{
	unsigned int nh_len = r->v6 ? IPV6_HLEN : IP_HLEN_MIN;
	uint8_t *ip = hdr + ETH_HLEN;
	struct tcphdr *th = (struct tcphdr *)(ip + nh_len);
	const struct tcphdr *lth = (const struct tcphdr *)(last + ETH_HLEN + nh_len);
	unsigned int tcp_len = r->hdr_len - ETH_HLEN - nh_len + r->payload;

	memcpy(hdr, first, r->hdr_len);
	th->flags = (uint8_t)((th->flags & ~TH_PSH) | (lth->flags & TH_PSH));
	/* The pseudo-header sum, as for CHECKSUM_PARTIAL: the device adds the rest. */
	if (r->v6) {
		ip[4] = (uint8_t)(tcp_len >> 8);
		ip[5] = (uint8_t)tcp_len;
		th->check = csum_ipv6_partial(ip + 8, ip + 24, tcp_len, IPPROTO_TCP);
	} else {
		struct iphdr *iph = (struct iphdr *)ip;

		iph->tot_len = htons((uint16_t)(IP_HLEN_MIN + tcp_len));
		iph->check = 0;
		iph->check = ip_fast_csum(iph, 5);
		th->check = csum_tcpudp_partial(iph->saddr, iph->daddr, tcp_len, IPPROTO_TCP);
	}
	g->size = (uint16_t)r->size;
	g->hdr_len = (uint16_t)r->hdr_len;
	g->csum_start = (uint16_t)(ETH_HLEN + nh_len);
	g->csum_offset = 16; /* offsetof(struct tcphdr, check) */
	g->tcpv6 = r->v6;
}
