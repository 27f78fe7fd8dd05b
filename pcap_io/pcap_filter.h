/*
 * The BPF filter text that selects nstack's frames from an interface's
 * traffic (shared by the capture and by nstack-opener).
 */
#ifndef NSTACK_PCAP_FILTER_H
#define NSTACK_PCAP_FILTER_H

#include <stddef.h>
#include <stdint.h>

/*
 * Frames to mac (or broadcast/multicast) carrying ARP, or IPv4 for addr,
 * its subnet's broadcast, limited broadcast or all-hosts. 0 or -ENAMETOOLONG.
 */
int pcap_live_filter(char *buf, size_t len, uint32_t addr, unsigned int prefixlen,
		     const uint8_t mac[6]);

/* A filter that takes nothing in: for handles that only send. */
#define PCAP_FILTER_NOTHING "less 0"

#endif
