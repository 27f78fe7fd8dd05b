/*
 * The capture filter for nstack's link, as libpcap filter text: built by
 * the stack's own capture (pcap_live.c) and by nstack-opener, which locks
 * the same filter onto a packet socket it hands to an unprivileged program.
 */
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

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

/*
 * The same with IPv6 let in: our static address, all-nodes, the
 * solicited-node groups of the static address and of our interface
 * identifier, and any destination whose interface identifier is ours (the
 * modified EUI-64 from mac): the link-local address and every address SLAAC
 * may form, which the filter cannot know in advance.
 */
int pcap_live_filter6(char *buf, size_t len, uint32_t addr, unsigned int prefixlen,
		      const uint8_t mac[6], const struct in6_addr *addr6)
{
	char s6[INET6_ADDRSTRLEN + 32] = "", sol[INET6_ADDRSTRLEN + 32] = "";
	size_t used;
	int rc, n;

	rc = pcap_live_filter(buf, len, addr, prefixlen, mac);
	if (rc)
		return rc;
	used = strlen(buf);
	if (used < 2 || buf[used - 1] != ')')
		return -EINVAL;
	if (addr6) {
		char a6[INET6_ADDRSTRLEN];

		inet_ntop(AF_INET6, addr6, a6, sizeof(a6));
		snprintf(s6, sizeof(s6), "dst host %s or ", a6);
		snprintf(sol, sizeof(sol), "dst host ff02::1:ff%02x:%02x%02x or ",
			 addr6->s6_addr[13], addr6->s6_addr[14], addr6->s6_addr[15]);
	}
	/* Replace the final ')' of "(arp or (ip ...))" with the IPv6 alternative. */
	n = snprintf(buf + used - 1, len - used + 1,
		     " or (ip6 and (%s%sdst host ff02::1 or dst host ff02::1:ff%02x:%02x%02x or "
		     "(ip6[32:4] = 0x%02x%02x%02xff and ip6[36:4] = 0xfe%02x%02x%02x))))",
		     s6, sol, mac[3], mac[4], mac[5], mac[0] ^ 0x02, mac[1], mac[2], mac[3], mac[4],
		     mac[5]);
	return n > 0 && (size_t)n < len - used + 1 ? 0 : -ENAMETOOLONG;
}

/* See pcap_filter.h. */
int pcap_filter_text(char *buf, size_t len, uint32_t addr, unsigned int prefixlen,
		     const uint8_t mac[6], bool ipv6, const struct in6_addr *addr6, bool tx_only)
{
	int n;

	if (tx_only) {
		n = snprintf(buf, len, "%s", PCAP_FILTER_NOTHING);
		return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
	}
	return ipv6 ? pcap_live_filter6(buf, len, addr, prefixlen, mac, addr6)
		    : pcap_live_filter(buf, len, addr, prefixlen, mac);
}
