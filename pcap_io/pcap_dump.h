/*
 * NSTACK_PCAP: a netdev_tap that writes every frame the device sends and
 * receives to a classic .pcap file (LINKTYPE_ETHERNET), flushed after each
 * frame so the file is complete even when the process ends abruptly.
 */
#ifndef NSTACK_PCAP_DUMP_H
#define NSTACK_PCAP_DUMP_H

#include <stddef.h>

struct net_device;
struct pcap_dumpfile;

/* Creates path (truncating it). 0 or -errno with a message in err. */
int pcap_dump_create(const char *path, struct pcap_dumpfile **res, char *err, size_t errlen);
/* Installs d as dev's tap; frames are then written as they pass. */
void pcap_dump_attach(struct pcap_dumpfile *d, struct net_device *dev);
/* Flushes and closes the file. */
void pcap_dump_destroy(struct pcap_dumpfile *d);
/* Frames written so far. */
unsigned long pcap_dump_count(const struct pcap_dumpfile *d);

#endif
