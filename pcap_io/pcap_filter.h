/*
 * The BPF filter text that selects nstack's frames from an interface's
 * traffic (shared by the capture and by nstack-opener).
 */
#ifndef NSTACK_PCAP_FILTER_H
#define NSTACK_PCAP_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Frames to mac (or broadcast/multicast) carrying ARP, or IPv4 for addr,
 * its subnet's broadcast, limited broadcast or all-hosts. 0 or -ENAMETOOLONG.
 */
int pcap_live_filter(char *buf, size_t len, uint32_t addr, unsigned int prefixlen,
		     const uint8_t mac[6]);

/*
 * With IPv6 as well: addr6 (the static address, or NULL), all-nodes, the
 * solicited-node groups and every destination with our EUI-64 interface
 * identifier (link-local, SLAAC). 0, -ENAMETOOLONG or -EINVAL.
 */
struct in6_addr;
int pcap_live_filter6(char *buf, size_t len, uint32_t addr, unsigned int prefixlen,
		      const uint8_t mac[6], const struct in6_addr *addr6);

/* A filter that takes nothing in: for handles that only send. */
#define PCAP_FILTER_NOTHING "less 0"

/*
 * The filter a handle gets: nothing for a send-only one, else the above
 * with or without IPv6. The stack installs it and nstack-opener locks it,
 * from the same arguments. 0 or -errno.
 */
int pcap_filter_text(char *buf, size_t len, uint32_t addr, unsigned int prefixlen,
		     const uint8_t mac[6], bool ipv6, const struct in6_addr *addr6, bool tx_only);

#endif
