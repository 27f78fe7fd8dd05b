/*
 * The live link: a struct netdev_ops backend on libpcap for a real (or veth)
 * Ethernet interface. Frames for nstack are picked out of the interface's
 * traffic by a BPF filter, so the kernel may keep using the same interface
 * and even the same MAC address.
 */
#ifndef NSTACK_PCAP_LIVE_H
#define NSTACK_PCAP_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pcap_filter.h"

struct net_device;

struct pcap_live_opts {
	const char *ifname;
	const uint8_t *mac;	/* our MAC; NULL = the interface's own */
	unsigned int mtu;	/* IP MTU; 0 = the interface's */
	uint32_t addr;		/* our IPv4 address, network order (the filter) */
	unsigned int prefixlen; /* for the subnet broadcast address */
	size_t buffer_size;	/* kernel capture buffer; 0 = 32 MiB */
	bool no_gso;		/* send every segment as its own frame (NSTACK_GSO=0) */
	bool no_tx_thread;	/* super-frames sent by the caller (NSTACK_TX_THREAD=0) */
	bool tx_only;		/* only sends: the filter takes nothing in, the ring is small */
	bool rx_deaf;		/* takes nothing in until rx_join (netdevice.h) */
	const char *opener;	/* nstack-opener to ask without CAP_NET_RAW; NULL = none */
	bool ipv6;		/* the filter lets IPv6 for us in too */
	const struct in6_addr *addr6; /* our static IPv6 address, or NULL */
	/*
	 * A packet socket made earlier (pcap_live_spare_socket()), used when
	 * the process may no longer make one; -1 = none. pcap_live_open()
	 * takes it over either way (closes it when it is not used).
	 */
	int spare_fd;
};

/*
 * Reads the interface's MAC and MTU from /sys/class/net/IFNAME (no socket
 * ioctls: inside the preload those would recurse into nstack). Returns 0,
 * -ENODEV when the interface does not exist, or -EINVAL for unreadable data.
 */
int pcap_live_read_mac(const char *ifname, uint8_t mac[6]);
int pcap_live_read_mtu(const char *ifname, unsigned int *mtu);

/*
 * Turns generic receive offload on for ifname (needs CAP_NET_ADMIN): the
 * kernel then hands the packet socket a TCP flow's consecutive segments
 * merged into one frame of up to 64 KiB, one packet-socket delivery where
 * there were dozens. 1 when it was turned on, 0 when it was on already,
 * -errno when it could not be (-EPERM, -EOPNOTSUPP, ...).
 */
int pcap_live_gro_on(const char *ifname);

/*
 * Caps ifname's gro_max_size (needs CAP_NET_ADMIN) so that a merged frame
 * fits a 64 KiB ring slot: twice the slots in the same memory. 1 when it
 * was lowered, 0 when it was low enough, -errno when it could not be.
 */
int pcap_live_gro_cap(const char *ifname);

/*
 * Opens ifname for nstack and returns a net_device that the stack then owns
 * (its ops->close frees everything, the net_device included). On failure
 * returns -ENODEV (no such interface), -EPERM (no CAP_NET_RAW), -ENETDOWN
 * or -EIO, with a one-line explanation in err.
 */
int pcap_live_open(const struct pcap_live_opts *opts, struct net_device **res, char *err,
		   size_t errlen);

/*
 * A packet socket that receives nothing yet (protocol 0: not hooked into
 * the interface), made while the process may (CAP_NET_RAW), for a later
 * pcap_live_open() after it dropped the privilege: an nginx worker forked
 * by a root master and then running as nobody can still take the link.
 * The fd, or -errno.
 */
int pcap_live_spare_socket(void);

/*
 * To be called with every AF_PACKET socket the process creates (the
 * preload's socket() does): during pcap_live_open() it turns on
 * PACKET_VNET_HDR on libpcap's socket, which enables TCP segmentation
 * offload. Elsewhere it does nothing.
 */
void pcap_live_socket_created(int fd);
/*
 * To be called by the preload's socket() for AF_PACKET before it creates
 * one: during pcap_live_open() with a socket from nstack-opener, returns
 * that socket (once) for libpcap to use instead of a new one; else -1.
 */
int pcap_live_socket_handed(int type);
/* The device's own send socket (see pcap_live.c's tx_fd), or -1: the embedder keeps it open. */
int pcap_live_tx_fd(const struct net_device *dev);
/*
 * In a child of fork(): the TX thread was the parent's (frames it had
 * queued are the parent's to send); the child's own starts with its first
 * send after a locked section. The device is never polled for input by
 * this process.
 */
void pcap_live_fork_child(struct net_device *dev);

/*
 * A fork child's device that was its parent's ring (in the stack's group):
 * it sends through a socket of its own from now on and lets go of the
 * ring's socket without touching it (it stays the parent's). 0 or -errno;
 * the device must not receive afterwards.
 */
int pcap_live_fork_detach(struct net_device *dev);

/*
 * The classic BPF program of rx_steer (netdevice.h) into f (max
 * instructions): its length, or -EINVAL (n 0 or above 64, f too small).
 */
struct bpf_insn;
int pcap_live_steer_prog(struct bpf_insn *f, unsigned int max, const uint8_t *member,
			 unsigned int n, unsigned int dflt);

#endif
