/*
 * The device layer: frames in from a backend, classified and dispatched on
 * EtherType to the registered packet_types; frames out through the backend.
 * Only this file transmits.
 */
#include <errno.h>
#include <string.h>

#include "netdevice.h"
#include "skbuff.h"
#include "stack.h"

/* The packet_type registered for EtherType type (host order), or NULL. */
static const struct packet_type *ptype_find(const struct nstack *ns, uint16_t type)
{
	for (int i = 0; i < NSTACK_MAX_PTYPES; i++) {
		const struct packet_type *pt = ns_unref(ns->ptypes[i]);

		if (pt && pt->type == type)
			return pt;
	}
	return NULL;
}

/* Registers pt for its EtherType; -EEXIST if taken, -ENOSPC if the table is full. */
int dev_add_pack(struct nstack *ns, const struct packet_type *pt)
{
	if (ptype_find(ns, pt->type))
		return -EEXIST;
	for (int i = 0; i < NSTACK_MAX_PTYPES; i++) {
		if (!ns->ptypes[i]) {
			ns->ptypes[i] = ns_ref(pt);
			return 0;
		}
	}
	return -ENOSPC;
}

/* Removes pt from the dispatch table. */
void dev_remove_pack(struct nstack *ns, const struct packet_type *pt)
{
	for (int i = 0; i < NSTACK_MAX_PTYPES; i++)
		if (ns->ptypes[i] == ns_ref(pt))
			ns->ptypes[i] = 0;
}

static bool is_multicast_ether(const uint8_t *a)
{
	return a[0] & 1;
}

static bool is_broadcast_ether(const uint8_t *a)
{
	return (a[0] & a[1] & a[2] & a[3] & a[4] & a[5]) == 0xff;
}

/* Copies one received frame into an skb and hands it up. */
void netdev_rx_frame(struct net_device *dev, const void *frame, size_t len)
{
	netdev_rx_frame_csum(dev, frame, len, false);
}

void netdev_rx_truncated(struct net_device *dev, size_t caplen, size_t len)
{
	struct nstack *ns = dev->ns;

	dev->stats.rx_oversize++;
	dev->stats.rx_dropped++;
	NS_INC_STATS(ns, EthInTruncated);
	if (dev->stats.rx_oversize == 1)
		nstack_log(ns, NSTACK_LOG_WARN,
			   "%s: received frames are cut (%zu of %zu bytes) and dropped: the "
			   "capture cannot hold frames of this size (MTU %u)",
			   dev->name, caplen, len, dev->mtu);
}

/* See netdevice.h: the old or the new driver processes it, exactly one of them. */
void netdev_rx_window_skip(struct net_device *dev)
{
	NS_INC_STATS(dev->ns, EthInHandoverSkips);
}

void netdev_rx_frame_csum(struct net_device *dev, const void *frame, size_t len, bool csum_ok)
{
	struct nstack *ns = dev->ns;
	uint64_t now = ns_now_batch(ns);
	struct sk_buff *skb;

	dev->stats.rx_packets++;
	dev->stats.rx_bytes += len;
	if (dev->tap.frame)
		dev->tap.frame(dev->tap.ctx, NETDEV_RX, now, frame, len);
	if (len < ETH_HLEN) {
		dev->stats.rx_runt++;
		dev->stats.rx_dropped++;
		NS_INC_STATS(ns, EthInRunts);
		return;
	}
	if (len > ETH_HLEN + 65535u) {
		dev->stats.rx_oversize++;
		dev->stats.rx_dropped++;
		return;
	}
	skb = alloc_skb(ns, (unsigned int)len + NET_IP_ALIGN);
	if (!skb) {
		dev->stats.rx_dropped++;
		return;
	}
	/* Two bytes of headroom align the IP header after the 14-byte Ethernet one. */
	skb_reserve(skb, NET_IP_ALIGN);
	memcpy(skb_put(skb, (unsigned int)len), frame, len);
	/* The link's receive time: the backend says how long the frame waited. */
	skb->tstamp_us = now > dev->rx_waited_us ? now - dev->rx_waited_us : now;
	if (csum_ok)
		skb->ip_summed = CHECKSUM_UNNECESSARY;
	if (!dev->rx_batching) {
		netif_receive_skb(skb);
		return;
	}
	if (dev->rx_batch_n == NETDEV_RX_BATCH_MAX) {
		dev_rx_batch_end(dev);
		dev->rx_batching = true;
	}
	dev->rx_batch[dev->rx_batch_n++] = skb;
}

void dev_rx_batch_begin(struct net_device *dev)
{
	dev->rx_batching = (dev->flags & NETDEV_F_RX_ORDER) != 0;
}

/* The key of a held frame, or false when its place in the batch is fixed. */
static bool rx_frame_key(struct nstack *ns, const struct sk_buff *skb, struct rx_order_key *key)
{
	const struct ethhdr *eth = (const struct ethhdr *)skb->data;
	const struct packet_type *pt;

	if (skb->len < ETH_HLEN)
		return false;
	pt = ptype_find(ns, ntohs(eth->h_proto));
	return pt && pt->rx_order_key &&
	       pt->rx_order_key(ns, skb->data + ETH_HLEN, skb->len - ETH_HLEN, key);
}

static bool same_flow(const struct rx_order_key *a, const struct rx_order_key *b)
{
	return a->saddr == b->saddr && a->daddr == b->daddr && a->ports == b->ports &&
	       a->proto == b->proto;
}

/*
 * Copies the n frames of in to out in delivery order. A veth peer transmits one flow from several
 * CPUs (the sending process and the softirq that handles our ACKs), each
 * feeding its own backlog, so a packet socket sees a few segments swapped;
 * each swap made us send duplicate ACKs and the Linux sender retransmit
 * needlessly, halving throughput. Within one poll batch a data segment is
 * therefore moved before the segments of its flow that carry later
 * sequence numbers, as if the link had kept them in order. Anything else
 * (pure ACKs, SYN, FIN, RST, other protocols) keeps its place and nothing
 * moves across it.
 */
static void rx_batch_order(struct nstack *ns, struct sk_buff *const *in, unsigned int n,
			   struct sk_buff **out)
{
	struct rx_order_key keys[NETDEV_RX_BATCH_MAX];
	bool keyed[NETDEV_RX_BATCH_MAX];

	for (unsigned int i = 0; i < n; i++) {
		struct rx_order_key k = {0};
		bool has = rx_frame_key(ns, in[i], &k);
		unsigned int pos = i;

		/* Back past other flows, before this flow's later sequence numbers. */
		for (unsigned int j = i; has && j-- > 0 && keyed[j];) {
			if (!same_flow(&keys[j], &k))
				continue;
			if ((int32_t)(keys[j].seq - k.seq) <= 0)
				break;
			pos = j;
		}
		if (pos < i) {
			NS_INC_STATS(ns, EthInReordered);
			memmove(&out[pos + 1], &out[pos], (i - pos) * sizeof(out[0]));
			memmove(&keys[pos + 1], &keys[pos], (i - pos) * sizeof(keys[0]));
			memmove(&keyed[pos + 1], &keyed[pos], (i - pos) * sizeof(keyed[0]));
		}
		out[pos] = in[i];
		keys[pos] = k;
		keyed[pos] = has;
	}
}

/* A received frame this long carries data whose ACK should not wait for the batch's end. */
#define RX_BULK_FRAME 1000

static void dev_tx_flush_plain(struct net_device *dev);

/* Delivers the frames held since dev_rx_batch_begin(). */
void dev_rx_batch_end(struct net_device *dev)
{
	struct nstack *ns = dev->ns;
	struct sk_buff *out[NETDEV_RX_BATCH_MAX];
	unsigned int n = dev->rx_batch_n;

	dev->rx_batching = false;
	dev->rx_batch_n = 0;
	if (n == 0)
		return;
	/* One frame has no order to fix: spare it the header parsing. */
	if (n == 1)
		out[0] = dev->rx_batch[0];
	else
		rx_batch_order(ns, dev->rx_batch, n, out);
	/* What the batch makes TCP send (ACK clocking) may leave as super-frames. */
	dev_xmit_plug(ns);
	for (unsigned int i = 0; i < n; i++) {
		unsigned int len = out[i]->len;

		netif_receive_skb(out[i]);
		/*
		 * Answers to small frames (SYNs, ACKs, requests) leave together
		 * at the end; what a data frame made us send (its ACK) goes now:
		 * it clocks the sender, and a batch of 64 merged frames is 4 MiB
		 * (iperf3 receive fell from 15 to 7.5 Gbit/s with its ACKs held).
		 */
		if (len > RX_BULK_FRAME && dev->tx_plain_n)
			dev_tx_flush_plain(dev);
	}
	dev_xmit_unplug(ns);
}

/* Classifies skb (data at the Ethernet header) and gives it to its packet_type. */
int netif_receive_skb(struct sk_buff *skb)
{
	struct nstack *ns = skb->ns;
	struct net_device *dev = ns_dev(ns);
	const struct packet_type *pt;
	const struct ethhdr *eth;
	uint16_t type;

	NS_INC_STATS(ns, EthInFrames);
	if (skb->len < ETH_HLEN) {
		NS_INC_STATS(ns, EthInRunts);
		goto drop;
	}
	skb_reset_mac_header(skb);
	eth = (const struct ethhdr *)skb->data;
	type = ntohs(eth->h_proto);
	if (is_broadcast_ether(eth->h_dest))
		skb->pkt_type = PACKET_BROADCAST;
	else if (is_multicast_ether(eth->h_dest))
		skb->pkt_type = PACKET_MULTICAST;
	else if (memcmp(eth->h_dest, dev->dev_addr, ETH_ALEN) == 0)
		skb->pkt_type = PACKET_HOST;
	else {
		/* Promiscuous capture sees other hosts' unicast: not ours. */
		NS_INC_STATS(ns, EthInOtherHost);
		dev->stats.rx_otherhost++;
		goto drop;
	}
	skb->protocol = type;
	skb_pull(skb, ETH_HLEN);
	skb_reset_network_header(skb);
	pt = ptype_find(ns, type);
	if (pt)
		return pt->func(skb, dev);
	NS_INC_STATS(ns, EthInUnknownProtos);
	dev->stats.rx_nohandler++;
drop:
	dev->stats.rx_dropped++;
	kfree_skb(skb);
	return -EINVAL;
}

/* Pushes an Ethernet header for dst with the device's address as source. */
int dev_hard_header(struct sk_buff *skb, const uint8_t dst[ETH_ALEN], uint16_t type)
{
	struct ethhdr *eth;

	if (skb_headroom(skb) < ETH_HLEN)
		return -ENOBUFS;
	eth = (struct ethhdr *)skb_push(skb, ETH_HLEN);
	memcpy(eth->h_dest, dst, ETH_ALEN);
	memcpy(eth->h_source, ns_dev(skb->ns)->dev_addr, ETH_ALEN);
	eth->h_proto = htons(type);
	skb_reset_mac_header(skb);
	return 0;
}

static void dev_xmit_account(struct net_device *dev, int err, unsigned int frames, size_t bytes)
{
	struct nstack *ns = dev->ns;

	if (err) {
		dev->stats.tx_errors += frames;
		NS_ADD_STATS(ns, EthOutErrors, frames);
	} else {
		dev->stats.tx_packets += frames;
		dev->stats.tx_bytes += bytes;
		NS_ADD_STATS(ns, EthOutFrames, frames);
	}
}

/* One plain frame through the backend, counted; consumes skb. */
void netdev_tx_errors(struct net_device *dev, unsigned int n)
{
	dev_xmit_account(dev, -EIO, n, 0);
}

static int dev_xmit_one(struct net_device *dev, struct sk_buff *skb)
{
	int err;

	skb_checksum_help(skb);
	err = dev->ops->xmit(dev, skb->data, skb->len);

	dev_xmit_account(dev, err, 1, skb->len);
	kfree_skb(skb);
	return err;
}

static struct netdev_tx_kept *dev_tx_keep_slot(struct net_device *dev);
static void dev_tx_flush(struct net_device *dev);

/*
 * Hands the plug's frames v[0, n) to xmit_batch_keep, as many as it takes:
 * they stay the device's to send once the lock is released, their skbs
 * ours to free when it has (dev_tx_reap). Returns how many it took.
 */
static unsigned int dev_tx_keep_plain(struct net_device *dev, const struct iovec *v, unsigned int n)
{
	unsigned int done = 0;

	while (done < n) {
		unsigned int k = n - done < NETDEV_TX_KEEP_BATCH ? n - done : NETDEV_TX_KEEP_BATCH;
		struct netdev_tx_kept *rec = dev_tx_keep_slot(dev);
		size_t bytes = 0;

		if (!rec || dev->ops->xmit_batch_keep(dev, v + done, (int)k) != 1)
			break;
		rec->n = k;
		memcpy(rec->skb, dev->tx_plain + done, k * sizeof(rec->skb[0]));
		dev->tx_kept_n++;
		for (unsigned int i = 0; i < k; i++)
			bytes += v[done + i].iov_len;
		dev_xmit_account(dev, 0, k, bytes);
		done += k;
		dev->tx_push = true;
	}
	return done;
}

/*
 * Deferred (tx_defer or dev_tx_defers), a run of one held segment (an ACK,
 * a FIN, a short answer) joins the plain frames, after them as it came
 * after them, instead of being sent alone: false when it cannot.
 */
static bool dev_tx_hold_to_plain(struct net_device *dev)
{
	if (dev->tx_hold_n != 1 || dev->tx_plain_n >= NETDEV_TX_BATCH_MAX)
		return false;
	dev->tx_plain[dev->tx_plain_n++] = dev->tx_hold[0];
	dev->tx_hold_n = 0;
	memset(&dev->tx_run, 0, sizeof(dev->tx_run));
	return true;
}

/*
 * Sends the plain frames held under a plug in one batch: what one poll
 * batch of received frames makes the stack answer (SYN-ACKs to a flood of
 * SYNs, ACKs, resets) leaves in one system call instead of one each. As
 * the lock is released (tx_defer) the device keeps them to send after.
 */
static void dev_tx_flush_plain(struct net_device *dev)
{
	unsigned int n = dev->tx_plain_n, done = 0;
	struct iovec v[NETDEV_TX_BATCH_MAX];

	if (!n)
		return;
	dev->tx_plain_n = 0;
	for (unsigned int i = 0; i < n; i++) {
		skb_checksum_help(dev->tx_plain[i]);
		v[i].iov_base = dev->tx_plain[i]->data;
		v[i].iov_len = dev->tx_plain[i]->len;
	}
	if (dev->tx_defer) {
		done = dev_tx_keep_plain(dev, v, n);
		if (done == n)
			return;
		/*
		 * What the device would not keep goes now (its queue keeps these
		 * behind the kept ones); freed below, the kept ones when sent.
		 */
		for (unsigned int i = 0; i < done; i++)
			dev->tx_plain[i] = NULL;
	}
	while (done < n) {
		int rc = dev->ops->xmit_batch(dev, v + done, (int)(n - done));
		size_t bytes = 0;

		if (rc <= 0) {
			/* The first one failed: counted, and the rest go on. */
			dev_xmit_account(dev, rc ? rc : -EIO, 1, 0);
			done++;
			continue;
		}
		for (int k = 0; k < rc; k++)
			bytes += v[done + (unsigned int)k].iov_len;
		dev_xmit_account(dev, 0, (unsigned int)rc, bytes);
		done += (unsigned int)rc;
	}
	for (unsigned int i = 0; i < n; i++)
		if (dev->tx_plain[i])
			kfree_skb(dev->tx_plain[i]);
}

/* See netdevice.h. */
void dev_tx_reap(struct net_device *dev)
{
	uint64_t done;

	if (!dev->tx_kept_n)
		return;
	done = dev->ops->tx_done(dev);
	while (dev->tx_kept_n && dev->tx_kept_reaped != done) {
		struct netdev_tx_kept *k = &dev->tx_kept[dev->tx_kept_head];

		for (unsigned int i = 0; i < k->n; i++)
			kfree_skb(k->skb[i]);
		k->n = 0;
		dev->tx_kept_head = (dev->tx_kept_head + 1) % NETDEV_TX_KEEP_MAX;
		dev->tx_kept_n--;
		dev->tx_kept_reaped++;
	}
}

/* See netdevice.h. */
void dev_tx_detach(struct net_device *dev)
{
	/* Held for the lock's release (dev_tx_defers): they leave by this device still. */
	dev_tx_flush(dev);
	if (!dev->tx_kept_n)
		return;
	if (dev->ops->tx_drain)
		dev->ops->tx_drain(dev);
	dev_tx_reap(dev);
	if (dev->tx_kept_n)
		/* Left allocated: freed, their memory could be reused while still being sent. */
		ns_warn(dev->ns,
			"%s: %u super-frames still being sent at close: their memory is kept",
			dev->name, dev->tx_kept_n);
	dev->tx_kept_n = 0;
}

/* See netdevice.h. */
void dev_tx_fork_child(struct net_device *dev)
{
	dev->tx_kept_n = 0;
	dev->tx_kept_head = 0;
	if (dev->ops->tx_done)
		dev->tx_kept_reaped = dev->ops->tx_done(dev);
}

/*
 * The record for a super-frame sent without a copy, or NULL: the device
 * cannot, or already reads from as many as it may.
 */
static struct netdev_tx_kept *dev_tx_keep_slot(struct net_device *dev)
{
	if (!dev->ops->xmit_gso_keep)
		return NULL;
	dev_tx_reap(dev);
	if (dev->tx_kept_n == NETDEV_TX_KEEP_MAX)
		return NULL;
	return &dev->tx_kept[(dev->tx_kept_head + dev->tx_kept_n) % NETDEV_TX_KEEP_MAX];
}

/* Sends what dev_queue_xmit() held back: plain frames, then one super-frame or one frame. */
static void dev_tx_flush(struct net_device *dev)
{
	struct tcp_gso_run *r = &dev->tx_run;
	unsigned int n = dev->tx_hold_n;
	struct iovec iov[NETDEV_GSO_MAX_SEGS + 1];
	uint8_t own_hdr[sizeof(dev->tx_kept[0].hdr)];
	struct netdev_tx_kept *k;
	struct netdev_gso g;
	size_t bytes = 0;
	int err;

	/* Deferred, a lone segment leaves with the plain frames, in one batch after them. */
	if (dev->tx_defer && dev_tx_hold_to_plain(dev))
		n = 0;
	dev_tx_flush_plain(dev);
	if (!n)
		return;
	dev->tx_hold_n = 0;
	if (n == 1) {
		dev_xmit_one(dev, dev->tx_hold[0]);
		memset(r, 0, sizeof(*r));
		return;
	}
	/*
	 * The device may send straight from the segments' skbs (clones: TCP's
	 * retransmit copies one still shared, as it does for any in flight),
	 * which saves copying every byte into its queue on the sending thread.
	 */
	k = dev_tx_keep_slot(dev);
	iov[0].iov_base = k ? k->hdr : own_hdr;
	tcp_gso_build(r, dev->tx_hold[0]->data, dev->tx_hold[n - 1]->data, iov[0].iov_base, &g);
	iov[0].iov_len = r->hdr_len;
	for (unsigned int i = 0; i < n; i++) {
		struct sk_buff *skb = dev->tx_hold[i];

		iov[i + 1].iov_base = skb->data + r->hdr_len;
		iov[i + 1].iov_len = skb->len - r->hdr_len;
		bytes += skb->len;
	}
	err = k ? dev->ops->xmit_gso_keep(dev, iov, (int)n + 1, &g)
		: dev->ops->xmit_gso(dev, iov, (int)n + 1, &g);
	dev_xmit_account(dev, err < 0 ? err : 0, n, bytes);
	if (err < 0)
		NS_INC_STATS(dev->ns, EthOutGsoErrors);
	else
		NS_INC_STATS(dev->ns, EthOutGsoFrames);
	if (err == 1) {
		k->n = n;
		memcpy(k->skb, dev->tx_hold, n * sizeof(k->skb[0]));
		dev->tx_kept_n++;
	} else {
		for (unsigned int i = 0; i < n; i++)
			kfree_skb(dev->tx_hold[i]);
	}
	memset(r, 0, sizeof(*r));
}

/* Holds skb as the next segment of the super-frame being built, if it fits. */
static bool dev_tx_hold(struct net_device *dev, struct sk_buff *skb)
{
	const uint8_t *first = dev->tx_hold_n ? dev->tx_hold[0]->data : NULL;

	if (!tcp_gso_add(&dev->tx_run, first, skb->data, skb->len))
		return false;
	dev->tx_hold[dev->tx_hold_n++] = skb;
	return true;
}

void dev_xmit_plug(struct nstack *ns)
{
	ns_dev(ns)->tx_plug++;
}

/*
 * Whether frames wait for the stack lock's release on this device, plugged
 * or not: it sends them after the lock is released (xmit_batch_keep, then
 * tx_push by the releasing thread), so that the kernel's work for each
 * frame (on a veth, the receiving side's whole stack) is not done with
 * the stack lock held. nginx with two workers and "Connection: close"
 * spent half its locked time in sendmmsg() and left a fifth of both
 * cores idle waiting for the lock.
 */
static bool dev_tx_defers(const struct net_device *dev)
{
	return (dev->flags & (NETDEV_F_TX_DEFER | NETDEV_F_TX_GSO)) ==
	       (NETDEV_F_TX_DEFER | NETDEV_F_TX_GSO);
}

void dev_xmit_unplug(struct nstack *ns)
{
	struct net_device *dev = ns_dev(ns);

	if (dev->tx_plug && --dev->tx_plug == 0 && !dev_tx_defers(dev))
		dev_tx_flush(dev);
}

/*
 * The stack lock is about to be released: a plug must not outlive it, or
 * another thread's frames would queue behind it with nobody to send them.
 * Plugs are paired within one locked section; this is the safety net.
 */
void dev_xmit_release(struct nstack *ns)
{
	struct net_device *dev = ns_dev(ns);

	if (!dev)
		return;
	/* Every lock release, so that sent super-frames do not wait long for their free. */
	dev_tx_reap(dev);
	if (!dev->tx_plug && !dev->tx_hold_n && !dev->tx_plain_n)
		return;
	if (dev->tx_plug)
		NS_INC_STATS(ns, EthOutPlugLeaks);
	dev->tx_plug = 0;
	dev_tx_flush(dev);
}

/* See netdevice.h. */
struct net_device *dev_xmit_release_defer(struct nstack *ns)
{
	struct net_device *dev = ns_dev(ns);

	if (!dev || !dev_tx_defers(dev)) {
		dev_xmit_release(ns);
		return NULL;
	}
	dev->tx_defer = true;
	dev_xmit_release(ns);
	dev->tx_defer = false;
	if (!dev->tx_push)
		return NULL;
	dev->tx_push = false;
	return dev;
}

/* See netdevice.h. */
void dev_xmit_push(struct net_device *dev)
{
	if (dev)
		dev->ops->tx_push(dev);
}

/*
 * Transmits skb (data at the Ethernet header) through the backend; consumes
 * it. Under a plug on a GSO device, TCP data segments are held to leave
 * together (dev_tx_flush()); anything else first sends what is held, so
 * frames never overtake each other.
 */
int dev_queue_xmit(struct sk_buff *skb)
{
	struct nstack *ns = skb->ns;
	struct net_device *dev = ns_dev(ns);
	bool defers;

	/* Ethernet needs 60 bytes before the FCS; backends send what we give them. */
	if (skb->len < ETH_ZLEN) {
		unsigned int pad = ETH_ZLEN - skb->len;

		/* Too short to go as a super-frame's piece anyway; a copy would lose the mark. */
		skb_checksum_help(skb);
		if (skb_cloned(skb) || skb_tailroom(skb) < pad) {
			struct sk_buff *n = alloc_skb(ns, ETH_ZLEN);

			if (!n) {
				kfree_skb(skb);
				NS_INC_STATS(ns, EthOutErrors);
				return -ENOBUFS;
			}
			memcpy(skb_put(n, skb->len), skb->data, skb->len);
			kfree_skb(skb);
			skb = n;
		}
		memset(skb_put(skb, pad), 0, pad);
	}
	if (dev->tap.frame) {
		/* A capture shows the frame as the wire will carry it. */
		skb_checksum_help(skb);
		dev->tap.frame(dev->tap.ctx, NETDEV_TX, ns_now(ns), skb->data, skb->len);
	}
	defers = dev_tx_defers(dev);
	if ((dev->tx_plug || defers) && (dev->flags & NETDEV_F_TX_GSO)) {
		/* Joins the held run, or else starts a new one after sending it. */
		if (dev_tx_hold(dev, skb))
			return 0;
		if (dev->tx_hold_n) {
			/*
			 * Deferred, a lone held segment is not sent with the lock
			 * held: it was most of what still was (an ACK, then the
			 * next connection's SYN-ACK). One slot stays for skb.
			 */
			if (!(defers && dev->tx_plain_n < NETDEV_TX_BATCH_MAX - 1 &&
			      dev_tx_hold_to_plain(dev)))
				dev_tx_flush(dev);
			if (dev_tx_hold(dev, skb))
				return 0;
		}
		/* Held plain frames stay older than any held run: a run flushes them first. */
		if (dev->ops->xmit_batch) {
			dev->tx_plain[dev->tx_plain_n++] = skb;
			if (dev->tx_plain_n == NETDEV_TX_BATCH_MAX)
				dev_tx_flush_plain(dev);
			return 0;
		}
	} else {
		dev_tx_flush(dev);
	}
	return dev_xmit_one(dev, skb);
}

/* Queues a looped-back frame for the next RX round. */
void netif_rx(struct sk_buff *skb)
{
	/* Looped back, never on a wire: as good as checked (Linux's loopback too). */
	if (skb->ip_summed == CHECKSUM_PARTIAL)
		skb->ip_summed = CHECKSUM_UNNECESSARY;
	skb_queue_tail(&skb->ns->backlog, skb);
	nstack_kick(skb->ns);
}
