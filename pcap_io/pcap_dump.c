/*
 * The .pcap dump tap (see pcap_dump.h). libpcap writes the file format; we
 * only convert the stack's monotonic timestamps to wall-clock time so the
 * capture lines up with a tcpdump taken on the peer.
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "netdevice.h"
#include "pcap_dump.h"

struct pcap_dumpfile {
	pcap_t *dead;
	pcap_dumper_t *dumper;
	pthread_mutex_t lock; /* TX runs on application threads, RX on the stack thread */
	int64_t mono_to_real_us;
	unsigned long count;
};

static int64_t clock_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Opens path for writing a LINKTYPE_ETHERNET capture. */
int pcap_dump_create(const char *path, struct pcap_dumpfile **res, char *err, size_t errlen)
{
	struct pcap_dumpfile *d = calloc(1, sizeof(*d));

	if (!d) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	d->dead = pcap_open_dead(DLT_EN10MB, 65535);
	if (!d->dead) {
		free(d);
		snprintf(err, errlen, "pcap_open_dead failed");
		return -ENOMEM;
	}
	d->dumper = pcap_dump_open(d->dead, path);
	if (!d->dumper) {
		int e = errno ? errno : EIO;

		snprintf(err, errlen, "cannot write '%s' (set NSTACK_PCAP): %s", path,
			 pcap_geterr(d->dead));
		pcap_close(d->dead);
		free(d);
		return -e;
	}
	pcap_dump_flush(d->dumper); /* the file header, even if no frame ever passes */
	pthread_mutex_init(&d->lock, NULL);
	d->mono_to_real_us = clock_us(CLOCK_REALTIME) - clock_us(CLOCK_MONOTONIC);
	*res = d;
	return 0;
}

static void pcap_dump_frame(void *ctx, enum netdev_dir dir, uint64_t now_us, const void *frame,
			    size_t len)
{
	struct pcap_dumpfile *d = ctx;
	struct pcap_pkthdr h;
	int64_t t = (int64_t)now_us + d->mono_to_real_us;

	(void)dir;
	if (t < 0)
		t = 0;
	h.ts.tv_sec = t / 1000000;
	h.ts.tv_usec = t % 1000000;
	h.caplen = h.len = (bpf_u_int32)len;
	pthread_mutex_lock(&d->lock);
	pcap_dump((u_char *)d->dumper, &h, frame);
	/* Flushed per frame: the program under nstack may end at any moment. */
	pcap_dump_flush(d->dumper);
	d->count++;
	pthread_mutex_unlock(&d->lock);
}

/* Makes d the tap of dev. */
void pcap_dump_attach(struct pcap_dumpfile *d, struct net_device *dev)
{
	dev->tap.frame = pcap_dump_frame;
	dev->tap.ctx = d;
}

/* Frames written so far. */
unsigned long pcap_dump_count(const struct pcap_dumpfile *d)
{
	return d->count;
}

/* Flushes and closes the dump. */
void pcap_dump_destroy(struct pcap_dumpfile *d)
{
	if (!d)
		return;
	pcap_dump_close(d->dumper);
	pcap_close(d->dead);
	pthread_mutex_destroy(&d->lock);
	free(d);
}
