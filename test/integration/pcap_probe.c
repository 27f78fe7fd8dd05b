/*
 * pcap_probe: exercises the live pcap backend alone, without the stack.
 * Opens IFACE as nstack would for ADDR, sends an ARP request for PEER with
 * pcap_inject, and waits (bounded) for the reply through the BPF filter and
 * the non-blocking poll. Also checks that a frame not meant for us (an ARP
 * reply is fine, an IPv4 packet to another address is not) is filtered out.
 *
 * Then the hand-over ops (stack.c, "Moving the driver"): a reply stamped
 * after the window's end is skipped and reported, one stamped after its
 * start is kept, and after rx_stop nothing more comes in.
 *
 *   pcap_probe IFACE ADDR/LEN PEER      exit 0 when the peer's ARP reply came back
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "netdevice.h"
#include "pcap_live.h"

static int got_reply, got_other, skipped;
static uint32_t peer_ip;

/* Stands in for the stack's device layer. */
void netdev_rx_frame(struct net_device *dev, const void *frame, size_t len)
{
	const uint8_t *f = frame;

	(void)dev;
	if (len >= 42 && f[12] == 0x08 && f[13] == 0x06 && f[21] == 2 &&
	    !memcmp(f + 28, &peer_ip, 4))
		got_reply++;
	else if (len >= 34 && f[12] == 0x08 && f[13] == 0x00)
		got_other++; /* IPv4: the filter let it through, so it is for us */
}
void netdev_rx_frame_csum(struct net_device *dev, const void *frame, size_t len, bool csum_ok)
{
	(void)csum_ok;
	netdev_rx_frame(dev, frame, len);
}
void netdev_rx_window_skip(struct net_device *dev)
{
	(void)dev;
	skipped++;
}
/* A frame the capture cut: the probe sees none of the ARP it waits for. */
void netdev_rx_truncated(struct net_device *dev, size_t caplen, size_t len)
{
	(void)dev;
	(void)caplen;
	(void)len;
}

/* The stack's transmit-error count: nothing to count here. */
void netdev_tx_errors(struct net_device *dev, unsigned int n)
{
	(void)dev;
	(void)n;
}

/* Sends the ARP request and polls for 300 ms; the replies counted so far. */
static int arp_round(struct net_device *dev, const uint8_t *frame, size_t len)
{
	struct pollfd p = {.fd = dev->ops->get_fd(dev), .events = POLLIN};

	if (dev->ops->xmit(dev, frame, len))
		return -1;
	for (int i = 0; i < 3; i++) {
		poll(&p, 1, 100);
		if (dev->ops->poll(dev, 64) < 0)
			return -1;
	}
	return got_reply;
}

static int check_handover_ops(struct net_device *dev, const uint8_t *frame, size_t len)
{
	uint64_t t;
	int before;

	if (!(dev->flags & NETDEV_F_RX_HANDOFF)) {
		fprintf(stderr, "pcap_probe: no NETDEV_F_RX_HANDOFF (nanosecond stamps?)\n");
		return 1;
	}
	/* Until now: the reply comes later, so it is the other device's. */
	t = dev->ops->rx_clock(dev);
	dev->ops->rx_window(dev, 0, t);
	before = got_reply;
	if (arp_round(dev, frame, len) != before || !skipped || !dev->ops->rx_window(dev, 0, t)) {
		fprintf(stderr, "pcap_probe: window end: replies %d -> %d, skipped %d\n", before,
			got_reply, skipped);
		return 1;
	}
	/* From now: ours. */
	dev->ops->rx_window(dev, dev->ops->rx_clock(dev), 0);
	before = got_reply;
	if (arp_round(dev, frame, len) <= before) {
		fprintf(stderr, "pcap_probe: window start: no reply kept\n");
		return 1;
	}
	dev->ops->rx_window(dev, 0, 0);
	if (dev->ops->rx_stop(dev)) {
		fprintf(stderr, "pcap_probe: rx_stop failed\n");
		return 1;
	}
	before = got_reply;
	t = (uint64_t)skipped;
	if (arp_round(dev, frame, len) != before || (uint64_t)skipped != t) {
		fprintf(stderr, "pcap_probe: a frame came in after rx_stop\n");
		return 1;
	}
	printf("hand-over ops: window end skips, window start keeps, rx_stop stops\n");
	return 0;
}

int main(int argc, char **argv)
{
	struct pcap_live_opts o = {.spare_fd = -1};
	struct net_device *dev;
	uint8_t frame[60] = {0};
	char err[256];
	uint32_t addr;
	unsigned int plen;
	char *slash;
	int rc;

	if (argc != 4 || !(slash = strchr(argv[2], '/'))) {
		fprintf(stderr, "usage: pcap_probe IFACE ADDR/LEN PEER\n");
		return 2;
	}
	*slash = '\0';
	plen = (unsigned int)atoi(slash + 1);
	if (inet_pton(AF_INET, argv[2], &addr) != 1 || inet_pton(AF_INET, argv[3], &peer_ip) != 1)
		return 2;
	o.ifname = argv[1];
	o.addr = addr;
	o.prefixlen = plen;
	rc = pcap_live_open(&o, &dev, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "pcap_probe: %s (%s)\n", err, strerror(-rc));
		return rc == -ENODEV ? 3 : rc == -EPERM ? 4 : 1;
	}
	printf("opened %s mac %02x:%02x:%02x:%02x:%02x:%02x mtu %u fd %d\n", dev->name,
	       dev->dev_addr[0], dev->dev_addr[1], dev->dev_addr[2], dev->dev_addr[3],
	       dev->dev_addr[4], dev->dev_addr[5], dev->mtu, dev->ops->get_fd(dev));
	/* ARP request (RFC 826): who-has PEER tell ADDR. */
	memset(frame, 0xff, 6);
	memcpy(frame + 6, dev->dev_addr, 6);
	frame[12] = 0x08, frame[13] = 0x06;
	frame[14] = 0, frame[15] = 1, frame[16] = 8, frame[17] = 0, frame[18] = 6, frame[19] = 4;
	frame[20] = 0, frame[21] = 1;
	memcpy(frame + 22, dev->dev_addr, 6);
	memcpy(frame + 28, &addr, 4);
	memcpy(frame + 38, &peer_ip, 4);
	for (int attempt = 0; attempt < 3 && !got_reply; attempt++) {
		struct pollfd p = {.fd = dev->ops->get_fd(dev), .events = POLLIN};

		rc = dev->ops->xmit(dev, frame, sizeof(frame));
		if (rc) {
			fprintf(stderr, "pcap_probe: xmit: %s\n", strerror(-rc));
			return 1;
		}
		for (int i = 0; i < 10 && !got_reply; i++) {
			poll(&p, 1, 100);
			if (dev->ops->poll(dev, 64) < 0)
				return 1;
		}
	}
	printf("arp reply %s, other ipv4 frames %d, tx %s\n", got_reply ? "received" : "MISSING",
	       got_other, "ok");
	rc = got_reply ? check_handover_ops(dev, frame, sizeof(frame)) : 1;
	dev->ops->close(dev);
	return rc;
}
