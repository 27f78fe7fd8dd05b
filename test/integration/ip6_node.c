/*
 * ip6_node: an nstack stack with IPv6 on a live interface, embedded
 * directly (no preload), for the IPv6 lab case until the preload parses
 * NSTACK_ADDR6 and the capture filter lets IPv6 in. Its link is a small
 * libpcap backend of its own whose filter takes IPv6 frames for our MAC or
 * any group; the stack does the rest (DAD, neighbour discovery, echo).
 *
 *   ip6_node IFACE ADDR6/LEN SECONDS    prints the Ip6/Icmp6 counters at the end
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netdevice.h"
#include "nstack.h"

static pcap_t *cap;

static int lnk_xmit(struct net_device *dev, const void *frame, size_t len)
{
	(void)dev;
	return pcap_inject(cap, frame, len) < 0 ? -EIO : 0;
}

static void lnk_frame(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	netdev_rx_frame((struct net_device *)user, bytes, h->caplen);
}

static int lnk_poll(struct net_device *dev, int budget)
{
	int n = pcap_dispatch(cap, budget, lnk_frame, (u_char *)dev);

	return n < 0 ? -EIO : n;
}

static int lnk_get_fd(struct net_device *dev)
{
	(void)dev;
	return pcap_get_selectable_fd(cap);
}

static void lnk_close(struct net_device *dev)
{
	pcap_close(cap);
	free(dev);
}

static const struct netdev_ops lnk_ops = {
    .xmit = lnk_xmit,
    .poll = lnk_poll,
    .get_fd = lnk_get_fd,
    .close = lnk_close,
};

static void print_stat(void *arg, const char *name, uint64_t v)
{
	(void)arg;
	if (!strncmp(name, "Ip6", 3) || !strncmp(name, "Icmp6", 5))
		printf("%s %llu\n", name, (unsigned long long)v);
}

int main(int argc, char **argv)
{
	char errbuf[PCAP_ERRBUF_SIZE], path[128], filter[256], *slash;
	struct nstack_config cfg;
	struct bpf_program prog;
	struct net_device *dev;
	struct nstack *ns;
	unsigned int m[6];
	FILE *f;
	int err;

	if (argc != 4 || !(slash = strchr(argv[2], '/'))) {
		fprintf(stderr, "usage: ip6_node IFACE ADDR6/LEN SECONDS\n");
		return 2;
	}
	*slash = 0;
	dev = calloc(1, sizeof(*dev));
	snprintf(path, sizeof(path), "/sys/class/net/%s/address", argv[1]);
	f = fopen(path, "r");
	if (!dev || !f ||
	    fscanf(f, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6)
		return 1;
	fclose(f);
	for (int i = 0; i < 6; i++)
		dev->dev_addr[i] = (uint8_t)m[i];
	snprintf(dev->name, sizeof(dev->name), "%s", argv[1]);
	dev->mtu = 1500;
	dev->ops = &lnk_ops;

	cap = pcap_create(argv[1], errbuf);
	if (!cap || pcap_set_immediate_mode(cap, 1) || pcap_set_snaplen(cap, 65535) ||
	    pcap_activate(cap) < 0 || pcap_setnonblock(cap, 1, errbuf) ||
	    pcap_setdirection(cap, PCAP_D_IN)) {
		fprintf(stderr, "ip6_node: pcap: %s\n", cap ? pcap_geterr(cap) : errbuf);
		return 1;
	}
	snprintf(filter, sizeof(filter),
		 "(ether dst %02x:%02x:%02x:%02x:%02x:%02x or ether multicast) and ip6", m[0], m[1],
		 m[2], m[3], m[4], m[5]);
	if (pcap_compile(cap, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) ||
	    pcap_setfilter(cap, &prog)) {
		fprintf(stderr, "ip6_node: filter: %s\n", pcap_geterr(cap));
		return 1;
	}
	pcap_freecode(&prog);

	nstack_config_defaults(&cfg);
	snprintf(cfg.ifname, sizeof(cfg.ifname), "%s", argv[1]);
	cfg.gratuitous_arp = false;
	cfg.log_level = NSTACK_LOG_INFO;
	cfg.ipv6 = true;
	cfg.prefixlen6 = (unsigned int)atoi(slash + 1);
	if (inet_pton(AF_INET6, argv[2], &cfg.addr6) != 1)
		return 2;
	err = nstack_create(&cfg, dev, NULL, NULL, &ns);
	if (!err)
		err = nstack_start(ns);
	if (err) {
		fprintf(stderr, "ip6_node: %s\n", strerror(-err));
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	sleep((unsigned int)atoi(argv[3]));
	nstack_lock(ns);
	nstack_stats_foreach(ns, print_stat, NULL);
	nstack_unlock(ns);
	nstack_destroy(ns);
	return 0;
}
