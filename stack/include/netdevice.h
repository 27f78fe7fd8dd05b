/*
 * The device layer: one Ethernet device per stack, a backend behind
 * struct netdev_ops (live pcap, the in-memory test wire), receive dispatch
 * on EtherType through registered packet_types, and dev_queue_xmit().
 */
#ifndef NSTACK_NETDEVICE_H
#define NSTACK_NETDEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "gso.h"
#include "proto/ether.h"

struct nstack;
struct net_device;
struct sk_buff;

/* Frames handed to or taken from a backend, for taps such as a pcap dump. */
enum netdev_dir { NETDEV_RX, NETDEV_TX };

/*
 * How the device is to cut a TCP/IPv4 super-frame into segments, as in a
 * virtio_net_hdr: hdr_len bytes of Ethernet, IP and TCP headers are repeated
 * in front of every size bytes of payload; the TCP checksum field (at
 * csum_start + csum_offset) holds the pseudo-header sum, which the device
 * completes per segment along with the IP total length, ID and checksum.
 */
struct netdev_gso {
	uint16_t size, hdr_len, csum_start, csum_offset;
	bool tcpv6; /* TCP over IPv6 (else IPv4) */
};

struct netdev_ops {
	/* Transmit one complete Ethernet frame; 0 or -errno (-ENOBUFS when full). */
	int (*xmit)(struct net_device *dev, const void *frame, size_t len);
	/*
	 * Optional (NETDEV_F_TX_GSO): transmit the frame gathered from iov as
	 * the segments gso describes; 0 or -errno like xmit.
	 */
	int (*xmit_gso)(struct net_device *dev, const struct iovec *iov, int iovcnt,
			const struct netdev_gso *gso);
	/*
	 * Optional, with tx_done: xmit_gso that may go on reading iov's memory
	 * after it returns (a send from the caller's buffers, no copy). 1: it
	 * did, until tx_done() has counted the frame; 0: it is done with it
	 * already; -errno as xmit_gso.
	 */
	int (*xmit_gso_keep)(struct net_device *dev, const struct iovec *iov, int iovcnt,
			     const struct netdev_gso *gso);
	/*
	 * Frames xmit_gso_keep kept and has finished with since the device
	 * opened, cumulative; they finish in the order they were given. No
	 * system call, no lock: read after every send.
	 */
	uint64_t (*tx_done)(struct net_device *dev);
	/* Optional, with tx_done: returns when all that was kept is sent (bounded). */
	void (*tx_drain)(struct net_device *dev);
	/*
	 * Optional: transmit n complete frames in this order, as n xmit calls
	 * would but in one system call; returns how many were accepted, or
	 * the first one's -errno when none was.
	 */
	int (*xmit_batch)(struct net_device *dev, const struct iovec *frames, int n);
	/*
	 * Optional, with tx_done and tx_push: xmit_batch of at most
	 * NETDEV_TX_KEEP_BATCH frames that may go on reading their memory, as
	 * xmit_gso_keep does (1: kept, counted once by tx_done when all are
	 * sent; 0: not taken, send them otherwise). Called as the stack lock is
	 * about to be released: the device may leave them for tx_push.
	 */
	int (*xmit_batch_keep)(struct net_device *dev, const struct iovec *frames, int n);
	/*
	 * Optional: sends what xmit_batch_keep left for the caller. Called by
	 * the thread that released the stack lock, without it, at once.
	 */
	void (*tx_push)(struct net_device *dev);
	/*
	 * Optional: frames accepted by xmit/xmit_gso but not yet handed to the
	 * link (a backend's own TX queue); exit waits for it to reach zero.
	 */
	unsigned int (*tx_pending)(struct net_device *dev);
	/*
	 * Hand up to budget pending frames to netdev_rx_frame() without
	 * blocking; returns how many were delivered or -errno (-ENODEV: the
	 * interface is gone for good, see nstack_link_gone()).
	 */
	int (*poll)(struct net_device *dev, int budget);
	/* A file descriptor that polls readable when frames wait, or -1. */
	int (*get_fd)(struct net_device *dev);
	/*
	 * Optional: frames the backend's receive queue lost so far because it
	 * was full (a capture ring overrun), cumulative; may cost a syscall.
	 */
	uint64_t (*rx_lost)(struct net_device *dev);
	/* Optional: true while get_fd's descriptor cannot be relied on to wake us. */
	bool (*needs_polling)(struct net_device *dev);
	/*
	 * Optional (NETDEV_F_RX_HANDOFF), for moving the receiving role to
	 * another process's device without losing or repeating a frame (see
	 * stack.c, "Moving the driver"): rx_clock reads the clock the
	 * device's receive stamps come from (ns); rx_window makes poll skip
	 * frames stamped before from or at/after until (0: no bound) and
	 * returns whether one at/after until has been skipped since until was
	 * last set; rx_stop ends reception for good (sending goes on).
	 */
	uint64_t (*rx_clock)(struct net_device *dev);
	bool (*rx_window)(struct net_device *dev, uint64_t from, uint64_t until);
	int (*rx_stop)(struct net_device *dev);
	/*
	 * Optional, receive spread over processes (stack/fanout.c): rx_join
	 * puts the device's ring in the group *arg names (0: a new group, whose
	 * argument is returned in *arg) behind the rings already in it; a
	 * device opened deaf (it takes nothing in until then) drops what it
	 * had and starts taking its share. rx_steer sets, for the whole group,
	 * where a TCP or UDP frame goes: to member member[ns_fan_bucket(its
	 * ports, n)] (an index in join order, as the kernel keeps it), any
	 * other frame to member dflt.
	 */
	int (*rx_join)(struct net_device *dev, uint32_t *arg);
	int (*rx_steer)(struct net_device *dev, const uint8_t *member, unsigned int n,
			unsigned int dflt);
	void (*close)(struct net_device *dev);
};

struct netdev_tap {
	void (*frame)(void *ctx, enum netdev_dir dir, uint64_t now_us, const void *frame,
		      size_t len);
	void *ctx;
};

struct netdev_stats {
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
	uint64_t rx_dropped; /* malformed or unwanted frames */
	uint64_t rx_runt;    /* shorter than an Ethernet header */
	uint64_t rx_oversize;
	uint64_t rx_nohandler; /* EtherType nobody registered */
	uint64_t rx_otherhost; /* unicast to another MAC (promiscuous capture) */
	uint64_t tx_errors;
};

/*
 * What identifies a received segment for batch ordering: the flow (protocol
 * and both endpoints) and the sequence number of its first byte.
 */
struct rx_order_key {
	uint32_t saddr, daddr, ports;
	uint8_t proto;
	uint32_t seq;
};

/* Device flags. */
#define NETDEV_F_RX_ORDER 0x1u /* the link may reorder within a flow: order each poll batch */

#define NETDEV_F_TX_GSO 0x2u /* ops->xmit_gso segments TCP/IPv4 super-frames */

#define NETDEV_F_RX_HANDOFF 0x4u /* rx_clock, rx_window and rx_stop work */

/*
 * With NETDEV_F_TX_GSO: frames leave after the stack lock's release, by
 * xmit_batch_keep and tx_push (a device sets it only with both ops).
 */
#define NETDEV_F_TX_DEFER 0x8u

#define NETDEV_RX_BATCH_MAX 64
/* Plain frames held under a plug for one xmit_batch. */
#define NETDEV_TX_BATCH_MAX 64
/* Segments one super-frame may hold: 64 KiB of IP packet at most anyway. */
#define NETDEV_GSO_MAX_SEGS 64
/* Super-frames a device may be sending from the stack's own skbs (xmit_gso_keep). */
#define NETDEV_TX_KEEP_MAX 16
/* Plain frames one xmit_batch_keep call takes. */
#define NETDEV_TX_KEEP_BATCH 32

/* A super-frame sent from its skbs: they stay ours until the device has sent it. */
struct netdev_tx_kept {
	unsigned int n;
	struct sk_buff *skb[NETDEV_GSO_MAX_SEGS];
	uint8_t hdr[ETH_HLEN + 60 + 60]; /* the headers in front, built for it */
};

struct net_device {
	char name[16];
	uint8_t dev_addr[ETH_ALEN];
	uint8_t broadcast[ETH_ALEN];
	unsigned int mtu; /* IP MTU: largest L3 packet */
	int ifindex;
	const struct netdev_ops *ops;
	void *priv; /* backend state */
	struct nstack *ns;
	struct netdev_tap tap;
	struct netdev_stats stats;
	unsigned int flags; /* NETDEV_F_* */
	/*
	 * How long the frame being handed in (netdev_rx_frame*) waited in the
	 * backend since the link received it, in us; 0 when unknown. Set by
	 * the backend: the skb's receive time is then the link's.
	 */
	uint32_t rx_waited_us;
	/* Frames of one poll() call while NETDEV_F_RX_ORDER holds them. */
	bool rx_batching;
	unsigned int rx_batch_n;
	struct sk_buff *rx_batch[NETDEV_RX_BATCH_MAX];
	/* dev_xmit_plug() depth, and the TCP segments held for one super-frame. */
	unsigned int tx_plug;
	/* dev_xmit_release_defer() is flushing: plain frames go by xmit_batch_keep. */
	bool tx_defer;
	bool tx_push; /* and the device has some for tx_push */
	unsigned int tx_hold_n;
	struct sk_buff *tx_hold[NETDEV_GSO_MAX_SEGS];
	/* Plain frames held under a plug, all older than the held segments. */
	unsigned int tx_plain_n;
	struct sk_buff *tx_plain[NETDEV_TX_BATCH_MAX];
	struct tcp_gso_run tx_run;
	/* Super-frames the device still reads from (a ring), and of its tx_done() count, reaped. */
	unsigned int tx_kept_head, tx_kept_n;
	uint64_t tx_kept_reaped;
	struct netdev_tx_kept tx_kept[NETDEV_TX_KEEP_MAX];
};

struct packet_type {
	uint16_t type; /* EtherType, host order */
	/* Consumes skb; skb->data is at the network header. */
	int (*func)(struct sk_buff *skb, struct net_device *dev);
	/*
	 * Optional, for NETDEV_F_RX_ORDER: fills key for a data segment that may
	 * be delivered before earlier arrivals of its flow; false for anything
	 * whose order must be kept. nh points at the network header, len bytes.
	 */
	bool (*rx_order_key)(struct nstack *ns, const uint8_t *nh, size_t len,
			     struct rx_order_key *key);
};

#define NSTACK_MAX_PTYPES 8

/* Registers pt in ns's EtherType dispatch table. */
int dev_add_pack(struct nstack *ns, const struct packet_type *pt);
void dev_remove_pack(struct nstack *ns, const struct packet_type *pt);
/* Called by backends for each received frame; copies it into an skb. */
void netdev_rx_frame(struct net_device *dev, const void *frame, size_t len);
/*
 * A backend that sends on a thread of its own reports frames the link
 * refused after the stack let go of them: counted as transmit errors
 * (EthOutErrors); TCP recovers them as losses. Stack lock held.
 */
void netdev_tx_errors(struct net_device *dev, unsigned int n);
/*
 * The same for a frame whose transport checksum the link already verified
 * (csum_ok): a receive-offloaded (GRO) frame holds many segments behind one
 * header, whose checksum field no longer covers them.
 */
void netdev_rx_frame_csum(struct net_device *dev, const void *frame, size_t len, bool csum_ok);
/*
 * The bucket of a TCP or UDP frame with these ports (host order, either
 * direction: the same for a flow's frames both ways) among n (rx_steer).
 * Multiplied and shifted before the modulo: Linux gives connect() even
 * ports only, so the low bits of the ports alone would not spread.
 */
#define NS_FAN_MIX 0x9e3779b1u
static inline unsigned int ns_fan_bucket(uint16_t sport, uint16_t dport, unsigned int n)
{
	return n ? (((uint32_t)(sport ^ dport) * NS_FAN_MIX) >> 16) % n : 0;
}

/* A frame the device skipped for a hand-over's window (ops->rx_window): counted. */
void netdev_rx_window_skip(struct net_device *dev);
/*
 * The backend got only caplen of a len-byte frame (its capture cut it):
 * counted as EthInTruncated and dropped, and said once, since every such
 * frame is lost to the stack.
 */
void netdev_rx_truncated(struct net_device *dev, size_t caplen, size_t len);
/*
 * The stack brackets each poll() with these: with NETDEV_F_RX_ORDER the frames
 * in between are held and delivered at dev_rx_batch_end(), data segments of
 * a flow in sequence order (see dev.c).
 */
void dev_rx_batch_begin(struct net_device *dev);
void dev_rx_batch_end(struct net_device *dev);
/* Classifies and dispatches a received frame; consumes skb. */
int netif_receive_skb(struct sk_buff *skb);
/* Pushes an Ethernet header (source: the device's MAC) in front of skb->data. */
int dev_hard_header(struct sk_buff *skb, const uint8_t dst[ETH_ALEN], uint16_t type);
/* Sends a complete frame (skb->data at the Ethernet header); consumes skb. */
int dev_queue_xmit(struct sk_buff *skb);
/*
 * Brackets a burst of transmissions (TCP's write loop): on a NETDEV_F_TX_GSO
 * device, consecutive full-sized segments of one TCP flow sent in between
 * leave as one super-frame at the latest when the outermost unplug returns,
 * so a frame is never held past the call that plugged.
 */
void dev_xmit_plug(struct nstack *ns);
void dev_xmit_unplug(struct nstack *ns);
/* Sends anything held and drops any plug; called before the stack lock is released. */
void dev_xmit_release(struct nstack *ns);
/*
 * dev_xmit_release() that may leave the frames to be sent once the lock is
 * released: returns the device to pass to dev_xmit_push() right after
 * unlocking, or NULL. On a device with xmit_batch_keep every frame is held
 * until then, plugged or not (see dev_queue_xmit()).
 */
struct net_device *dev_xmit_release_defer(struct nstack *ns);
void dev_xmit_push(struct net_device *dev);
/*
 * Frees the skbs of super-frames the device has finished sending
 * (xmit_gso_keep); cheap when there are none. Stack lock held.
 */
void dev_tx_reap(struct net_device *dev);
/*
 * The device stops being the stack's (replaced or closed): has it send
 * what it kept (ops->tx_drain) and frees it. Stack lock held.
 */
void dev_tx_detach(struct net_device *dev);
/* In a fork child: what the device kept is the parent's to free. */
void dev_tx_fork_child(struct net_device *dev);

#endif
