/*
 * The capture filter for nstack's link, as libpcap filter text: built by
 * the stack's own capture (pcap_live.c) and by nstack-opener, which locks
 * the same filter onto a packet socket it hands to an unprivileged program.
 */
#include <errno.h>
#include <stdio.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "pcap_filter.h"

/*
 * Builds the capture filter: frames addressed to our MAC (or broadcast and
 * multicast), carrying ARP, or IPv4 for our address, the subnet and limited
 * broadcast, or all-hosts multicast. Anything else is the kernel's business
 * and must not cost the stack a wake-up.
 */
int pcap_live_filter(char *buf, size_t len, uint32_t addr, unsigned int prefixlen,
		     const uint8_t mac[6])
{
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
	uint32_t mask = prefixlen ? htonl(~0u << (32 - (prefixlen > 32 ? 32 : prefixlen))) : 0;
	uint32_t bcast = addr | ~mask;
	int n;

	inet_ntop(AF_INET, &addr, a, sizeof(a));
	inet_ntop(AF_INET, &bcast, b, sizeof(b));
	n = snprintf(buf, len,
		     "(ether dst %02x:%02x:%02x:%02x:%02x:%02x or ether multicast) and "
		     "(arp or (ip and (dst host %s or dst host %s or dst host 255.255.255.255 "
		     "or dst host 224.0.0.1)))",
		     mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], a, b);
	return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}
