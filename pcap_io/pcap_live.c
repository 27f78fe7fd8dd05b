/*
 * The live pcap backend (see pcap_live.h).
 *
 * libpcap's Linux capture uses a memory-mapped ring; in immediate mode it is
 * TPACKET_V2 (strace: PACKET_VERSION 1), so every frame is visible as soon
 * as it arrives, in a slot of the snap length's size: the 32 MiB ring holds
 * ~16 000 frames at MTU 1500, the 64 MiB one for receive offload's 64 KiB
 * frames only ~1000 (TPACKET_V3 packs frames densely but shows them only
 * when a block is full or times out). TX goes through pcap_inject(), a
 * send() on the same packet socket.
 *
 * When the socket carries virtio_net_hdr (PACKET_VNET_HDR, see
 * pcap_live_socket_created()), every frame sent starts with that header, and
 * a TCP super-frame is segmented by the kernel (software GSO, checksums
 * included, as for the kernel's own TCP on a device without offloads): one
 * send() then carries up to 64 KiB instead of 1.5.
 */
#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "netdevice.h"
#include "opener.h"
#include "pcap_live.h"
#include "thread.h"

#define PCAP_LIVE_SNAPLEN 65535
/*
 * 32 MiB, about 20 000 MTU-sized slots: with 8 MiB, wrk -c200 under nstack
 * downloading 300 KiB files from a kernel nginx lost 15% of the segments in
 * the ring (kernel senders burst their whole window into 200 connections
 * at once) and stalled requests past wrk's 2 s timeout; with 32 MiB the
 * losses fall to a few hundredths of that.
 */
#define PCAP_LIVE_BUFSIZE (32u << 20)
/*
 * With receive offload the slots are sized for 64 KiB frames and 32 MiB
 * holds only ~500 of them, which a burst of unmergeable small frames (SYNs
 * of many clients, requests of many connections) fills: twice as many.
 * libpcap rounds each slot's block up to a power of two: a 65 616-byte slot
 * takes a 128 KiB block, so these 64 MiB map 127 MiB (/proc/PID/maps).
 */
#define PCAP_LIVE_BUFSIZE_GRO (64u << 20)
/*
 * GRO merges a flow's segments into an IP packet below the interface's
 * gro_max_size (65 536 by default). Capped at PCAP_LIVE_GRO_MAX, a merged
 * frame (plus the Ethernet header and a VLAN tag, behind the kernel's
 * 80-byte slot offset, 12 more than libpcap reckons with) fits a slot of
 * libpcap's under 64 KiB, so that the blocks are 64 KiB: 128 MiB then
 * holds twice the slots in the memory the 64 MiB took, ~2 000, for a SYN
 * flood's bursts. A merged packet is at most 44 full-sized segments
 * instead of 45.
 */
#define PCAP_LIVE_GRO_MAX	     65024u
#define PCAP_LIVE_GRO_SNAPLEN	     ((int)PCAP_LIVE_GRO_MAX + 18 + 12)
#define PCAP_LIVE_BUFSIZE_GRO_CAPPED (128u << 20)
/* From <linux/if_link.h> of Linux 6.3 (Debian 12's headers stop before it). */
#define LIVE_IFLA_GRO_IPV4_MAX_SIZE 64

/* From <linux/ethtool.h>, which clashes with our own Ethernet header. */
#define ETHTOOL_GFLAGS_CMD 0x00000025u
#define ETHTOOL_GGRO_CMD   0x0000002bu
#define ETHTOOL_SGRO_CMD   0x0000002cu
#define ETH_FLAG_LRO_BIT   (1u << 15)
struct ethtool_val {
	uint32_t cmd;
	uint32_t data;
};

/* struct virtio_net_hdr (little-endian fields; x86 and arm64 are). */
struct vnet_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
} __attribute__((packed));

#define VNET_HDR_F_NEEDS_CSUM 1
#define VNET_HDR_F_DATA_VALID 2
#define VNET_HDR_GSO_TCPV4    1
#define VNET_HDR_GSO_TCPV6    4

/* Room for the header and the largest super-frame. */
#define PCAP_LIVE_TXBUF (sizeof(struct vnet_hdr) + ETH_HLEN + 65535 + 64)

/* Frames the TX thread may have queued: 16 super-frames, 1 MiB. */
#define PCAP_LIVE_TXQ_SLOTS 16

struct tx_slot {
	uint8_t *buf;
	size_t len;
	/* Sent from the stack's memory (xmit_gso_keep), not from buf: iov[0] is h. */
	bool kept;
	/*
	 * Kept too: plain frames (xmit_batch_keep), nframes of them, iov
	 * holding a zero header and a frame for each; 0 for anything else.
	 */
	int nframes;
	int iovcnt;
	struct vnet_hdr h;
	struct iovec iov[NETDEV_GSO_MAX_SEGS + 2];
};

struct pcap_live {
	pcap_t *p;
	int fd;
	/* Receive stamps in ns (else us); the real time at this poll's first frame (ns). */
	bool stamp_ns;
	uint64_t poll_now_ns;
	bool vnet;    /* frames sent carry a struct vnet_hdr (GSO) */
	bool rx_vnet; /* frames received carry one */
	/*
	 * A packet socket of our own for sending, -1 = libpcap's: opened with
	 * the virtio-net header when libpcap's must go without it (see
	 * vnet_frame_fits()), so that sending keeps GSO.
	 */
	int tx_fd;
	uint8_t *txbuf; /* header + frame, assembled for one send() */

	/* The TX queue (see tx_thread()), all under q_lock. */
	bool q_thread_on;
	pthread_t q_thread;
	pthread_mutex_t q_lock;
	pthread_cond_t q_nonempty, q_space;
	unsigned int q_head, q_count; /* slots queued, the first one being sent */
	bool q_busy;		      /* a send() is under way (TX thread or caller) */
	/*
	 * q_busy is a caller's: it queued plain frames with the stack lock held
	 * and sends them (tx_push) once it has released it; pushing: it does.
	 */
	bool q_caller, q_pushing;
	/* A fork child's: its TX thread starts with its first deferred send. */
	bool q_lazy;
	bool q_stop;
	unsigned int q_waiters;	     /* producers waiting for room */
	unsigned long q_errors;	     /* queued frames the kernel refused */
	unsigned long q_errors_told; /* of which the stack was told (pcap_live_poll) */
	uint64_t q_kept_done;	     /* kept frames sent (tx_done), atomic */
	struct tx_slot slots[PCAP_LIVE_TXQ_SLOTS];

	/* A hand-over's window (pcap_live_rx_window), in receive stamps (ns). */
	uint64_t rx_from, rx_until;
	bool rx_past_until;
	bool filter_locked; /* nstack-opener locked the filter: rx_stop cannot */
	/* Opened deaf (pcap_live_opts.rx_deaf): its filter, to set once it joins (rx_join). */
	char *deaf_filter;
};

/* Set around pcap_activate(): the packet socket libpcap makes gets PACKET_VNET_HDR. */
static __thread bool want_vnet;
/* Set around pcap_activate(): nstack-opener's socket, for libpcap to use. */
static __thread int handed_fd = -1;

/* See pcap_live.h. */
int pcap_live_socket_handed(int type)
{
	int fd = handed_fd;

	if (fd < 0 || (type & 0xf) != SOCK_RAW)
		return -1;
	handed_fd = -1;
	return fd;
}

/*
 * libpcap has no call for PACKET_VNET_HDR, and the kernel takes it only
 * before the ring is mapped, which pcap_activate() does right after it
 * creates the socket. The preload's socket() tells us of each AF_PACKET
 * socket, so the one libpcap opens for us gets the option in between.
 */
void pcap_live_socket_created(int fd)
{
	int one = 1;

	if (!want_vnet)
		return;
	want_vnet = false;
	(void)setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one));
}

/* Reads the first line of /sys/class/net/ifname/attr into buf. */
static int sysfs_read(const char *ifname, const char *attr, char *buf, size_t len)
{
	char path[128];
	ssize_t n;
	int fd;

	if (!ifname[0] || strchr(ifname, '/') || strlen(ifname) >= IF_NAMESIZE)
		return -ENODEV;
	snprintf(path, sizeof(path), "/sys/class/net/%s/%s", ifname, attr);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ENODEV : -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return -EINVAL;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* Reads the interface's MAC address from sysfs. */
int pcap_live_read_mac(const char *ifname, uint8_t mac[6])
{
	unsigned int b[6];
	char buf[64];
	char end;
	int err;

	err = sysfs_read(ifname, "address", buf, sizeof(buf));
	if (err)
		return err;
	if (sscanf(buf, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &end) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		if (b[i] > 0xff)
			return -EINVAL;
		mac[i] = (uint8_t)b[i];
	}
	return 0;
}

/* Reads the interface's MTU from sysfs. */
int pcap_live_read_mtu(const char *ifname, unsigned int *mtu)
{
	char buf[32];
	char *end;
	unsigned long v;
	int err;

	err = sysfs_read(ifname, "mtu", buf, sizeof(buf));
	if (err)
		return err;
	errno = 0;
	v = strtoul(buf, &end, 10);
	if (errno || end == buf || *end || v < 68 || v > (1ul << 20))
		return -EINVAL;
	/* An IPv4 packet cannot exceed 65535 bytes, whatever the link allows (lo). */
	*mtu = v > 65535 ? 65535 : (unsigned int)v;
	return 0;
}

/*
 * With PACKET_VNET_HDR the kernel writes a virtio_net_hdr right before each
 * frame in the ring slot. It says whether the kernel checked the frame's
 * checksum (DATA_VALID), or holds it as a receive-offloaded (GRO) frame
 * whose TCP checksum field is only the pseudo-header's (NEEDS_CSUM, with a
 * gso_type): either way the payload was verified when the segments came
 * in. Only plain IPv4 and IPv6 frames are looked at: for a VLAN frame
 * libpcap moves the MAC header back over the slot to put the tag in, and
 * what lies before it is then not the header.
 */
static bool rx_csum_ok(const struct net_device *dev, const u_char *bytes, size_t len)
{
	const struct pcap_live *pl = dev->priv;
	struct vnet_hdr h;

	if (len < ETH_HLEN ||
	    !((bytes[12] == 0x08 && bytes[13] == 0x00) || (bytes[12] == 0x86 && bytes[13] == 0xdd)))
		return false;
	/*
	 * Without the header (NSTACK_GSO=0, or jumbo slots too small for it),
	 * a frame longer than the link carries (with a VLAN tag) was merged by
	 * the kernel's GRO (or the NIC's LRO), which only merges segments whose
	 * checksums it verified; the TCP checksum field of the merged frame
	 * covers none of them. Taken as corrupt, every one was dropped
	 * (TcpInCsumErrors) and a download stalled on an interface a previous
	 * nstack left with GRO on.
	 */
	if (!pl->rx_vnet)
		return len > (size_t)dev->mtu + ETH_HLEN + 4;
	memcpy(&h, bytes - sizeof(h), sizeof(h));
	return (h.flags & (VNET_HDR_F_NEEDS_CSUM | VNET_HDR_F_DATA_VALID)) != 0;
}

/* A stamp more than this far before the window is taken as from another clock. */
#define RX_STAMP_PLAUSIBLE_NS 1000000000ull
/*
 * A frame stamped this long after the window's start: the ring, in arrival
 * order (stamps differ from it only by jitter between CPUs), holds nothing
 * from before the start any more, and the window ends.
 */
#define RX_FROM_DONE_NS 100000000ull

/* A frame's receive stamp in ns (with nanosecond precision, tv_usec holds ns). */
static uint64_t rx_stamp_ns(const struct pcap_live *pl, const struct timeval *ts)
{
	return (uint64_t)ts->tv_sec * 1000000000ull +
	       (uint64_t)ts->tv_usec * (pl->stamp_ns ? 1u : 1000u);
}

/* The receive stamps' clock: the kernel stamps frames with real time (ns). */
static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Whether a hand-over's window keeps the frame stamped t (ns) from this device. */
static bool rx_in_window(struct pcap_live *pl, uint64_t t)
{
	if (pl->rx_until && t >= pl->rx_until) {
		pl->rx_past_until = true;
		return false;
	}
	if (pl->rx_from && t >= pl->rx_from + RX_FROM_DONE_NS &&
	    t - pl->rx_from < RX_STAMP_PLAUSIBLE_NS) {
		pl->rx_from = 0; /* no stamp to compute for every frame from now on */
		return true;
	}
	/*
	 * A stamp far before the window cannot be from the other device's
	 * time: kept rather than lost (at worst a duplicate, which TCP
	 * tolerates where it does not tolerate a hole).
	 */
	return !pl->rx_from || t >= pl->rx_from || pl->rx_from - t > RX_STAMP_PLAUSIBLE_NS;
}

/* A stamp further back than this is from another clock: the wait is unknown. */
#define RX_WAIT_PLAUSIBLE_NS 10000000000ull

/*
 * How long the frame stamped t (ns) waited in the ring (us), so that the
 * stack can see a backlog: under a SYN flood, a SYN that waited long is
 * dropped (tcp_conn_request) rather than answered after its sender gave up.
 */
static uint32_t rx_waited_us(struct pcap_live *pl, uint64_t t)
{
	/* Read at the poll's first frame: most polls of an idle link find none. */
	if (!pl->poll_now_ns)
		pl->poll_now_ns = real_ns();
	if (t >= pl->poll_now_ns || pl->poll_now_ns - t > RX_WAIT_PLAUSIBLE_NS)
		return 0;
	return (uint32_t)((pl->poll_now_ns - t) / 1000u);
}

static void pcap_live_rx_one(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	struct net_device *dev = (struct net_device *)user;
	struct pcap_live *pl = dev->priv;
	uint64_t t = rx_stamp_ns(pl, &h->ts);

	dev->rx_waited_us = rx_waited_us(pl, t);
	if ((pl->rx_from || pl->rx_until) && !rx_in_window(pl, t)) {
		netdev_rx_window_skip(dev);
		return;
	}
	if (h->caplen < h->len) {
		/* Cut by the snap length: a partial frame is useless to the stack. */
		netdev_rx_truncated(dev, h->caplen, h->len);
		return;
	}
	netdev_rx_frame_csum(dev, bytes, h->caplen, rx_csum_ok(dev, bytes, h->caplen));
}

/* A failed send's errno as the stack takes it: a full queue is -ENOBUFS. */
static int send_errno(int e)
{
	if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS)
		return -ENOBUFS;
	return e ? -e : -EIO;
}

/* One send() on libpcap's socket; -errno. */
static int inject_errno(struct pcap_live *pl, const void *frame, size_t len)
{
	if (pl->tx_fd >= 0 ? send(pl->tx_fd, frame, len, 0) < 0
			   : pcap_inject(pl->p, frame, len) < 0)
		return send_errno(errno);
	return 0;
}

/* The socket frames leave by: ours when we made one, else libpcap's. */
static int tx_sock(const struct pcap_live *pl)
{
	return pl->tx_fd >= 0 ? pl->tx_fd : pcap_fileno(pl->p);
}

/* One sendmsg() of a gathered frame (v[0] the vnet header when the socket takes one); -errno. */
static int sendv_errno(struct pcap_live *pl, struct iovec *v, int n)
{
	struct msghdr m = {.msg_iov = v, .msg_iovlen = (size_t)n};

	return sendmsg(tx_sock(pl), &m, 0) < 0 ? send_errno(errno) : 0;
}

/* Writes [vnet header] + the gathered frame into buf; its length or -EMSGSIZE. */
static ssize_t tx_build(const struct pcap_live *pl, uint8_t *buf, const struct vnet_hdr *h,
			const struct iovec *iov, int iovcnt)
{
	size_t len = 0;

	if (pl->vnet) {
		memcpy(buf, h, sizeof(*h));
		len = sizeof(*h);
	}
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > PCAP_LIVE_TXBUF - len)
			return -EMSGSIZE;
		memcpy(buf + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	return (ssize_t)len;
}

/* A zero header: a complete frame, checksums done. */
static const struct vnet_hdr vnet_zero;

/* Sends a batch slot's frames in one sendmmsg() (more if it stops short); how many failed. */
static int tx_send_batch(struct pcap_live *pl, struct tx_slot *slot)
{
	struct mmsghdr m[NETDEV_TX_KEEP_BATCH];
	int fd = tx_sock(pl), n = slot->nframes, done = 0, failed = 0;

	memset(m, 0, sizeof(m[0]) * (size_t)n);
	for (int i = 0; i < n; i++) {
		m[i].msg_hdr.msg_iov = &slot->iov[2 * i];
		m[i].msg_hdr.msg_iovlen = 2;
	}
	while (done < n) {
		int r = sendmmsg(fd, m + done, (unsigned int)(n - done), 0);

		if (r <= 0) {
			/* The first one failed: counted, and the rest go on. */
			failed++;
			done++;
			continue;
		}
		done += r;
	}
	return failed;
}

/* Sends one queued slot (q_lock not held); how many of its frames failed. */
static int tx_slot_send(struct pcap_live *pl, struct tx_slot *slot)
{
	if (slot->nframes)
		return tx_send_batch(pl, slot);
	return (slot->kept ? sendv_errno(pl, slot->iov, slot->iovcnt)
			   : inject_errno(pl, slot->buf, slot->len)) != 0;
}

/* The head slot is sent (q_lock held): it leaves the queue. */
static void tx_slot_done(struct pcap_live *pl, struct tx_slot *slot, int failed)
{
	if (failed)
		__atomic_add_fetch(&pl->q_errors, (unsigned long)failed, __ATOMIC_RELAXED);
	/* Released: the stack frees the memory it was sent from once it reads this. */
	if (slot->kept)
		__atomic_add_fetch(&pl->q_kept_done, 1, __ATOMIC_RELEASE);
	pl->q_head = (pl->q_head + 1) % PCAP_LIVE_TXQ_SLOTS;
	pl->q_count--;
	/* A waiting producer resumes at half full: one wake-up per 8 frames. */
	if (pl->q_waiters && pl->q_count <= PCAP_LIVE_TXQ_SLOTS / 2)
		pthread_cond_broadcast(&pl->q_space);
}

/*
 * The TX thread: sends queued super-frames in order. Each send() runs the
 * kernel's segmentation and, on a veth, the receiving side's whole stack, so
 * a bulk sender that also copied and built its segments would do all of it
 * on one core; queued, the two halves run on two.
 */
static void *tx_thread(void *arg)
{
	struct pcap_live *pl = arg;

	/* Started with every signal blocked (ns_thread_start). */
	pthread_mutex_lock(&pl->q_lock);
	for (;;) {
		struct tx_slot *slot;
		int err;

		if (!pl->q_count || pl->q_busy) {
			if (pl->q_stop && !pl->q_count)
				break;
			pthread_cond_wait(&pl->q_nonempty, &pl->q_lock);
			continue;
		}
		/* The slot stays counted until sent: producers cannot reuse it. */
		slot = &pl->slots[pl->q_head];
		pl->q_busy = true;
		pthread_mutex_unlock(&pl->q_lock);
		err = tx_slot_send(pl, slot);
		pthread_mutex_lock(&pl->q_lock);
		tx_slot_done(pl, slot, err);
		pl->q_busy = false;
	}
	pthread_mutex_unlock(&pl->q_lock);
	return NULL;
}

/*
 * The next free slot for the TX thread, q_lock held. A full queue waits
 * for the TX thread, which needs no lock of the stack's.
 */
static struct tx_slot *tx_claim(struct pcap_live *pl)
{
	if (pl->q_count == PCAP_LIVE_TXQ_SLOTS) {
		/*
		 * Full of frames a caller queued for its tx_push: a claim not yet
		 * pushing is this thread's own (it holds the stack lock), and it
		 * cannot wait for itself. The TX thread takes them over.
		 */
		if (pl->q_caller && !pl->q_pushing) {
			pl->q_caller = pl->q_busy = false;
			pthread_cond_signal(&pl->q_nonempty);
		}
		pl->q_waiters++;
		while (pl->q_count > PCAP_LIVE_TXQ_SLOTS / 2)
			pthread_cond_wait(&pl->q_space, &pl->q_lock);
		pl->q_waiters--;
	}
	return &pl->slots[(pl->q_head + pl->q_count) % PCAP_LIVE_TXQ_SLOTS];
}

/* The claimed slot is filled: the TX thread's now. Releases q_lock. */
static void tx_commit(struct pcap_live *pl)
{
	if (pl->q_count++ == 0)
		pthread_cond_signal(&pl->q_nonempty);
	pthread_mutex_unlock(&pl->q_lock);
}

/* Copies the frame into a slot for the TX thread; q_lock held, released on return. */
static int tx_enqueue(struct pcap_live *pl, const struct vnet_hdr *h, const struct iovec *iov,
		      int iovcnt)
{
	struct tx_slot *slot = tx_claim(pl);
	ssize_t len = tx_build(pl, slot->buf, h, iov, iovcnt);

	if (len < 0) {
		pthread_mutex_unlock(&pl->q_lock);
		return (int)len;
	}
	slot->len = (size_t)len;
	slot->kept = false;
	slot->nframes = 0;
	tx_commit(pl);
	return 0;
}

/* A caller's send is over: the TX thread may go on with what queued meanwhile. */
static void tx_release(struct pcap_live *pl)
{
	if (!pl->q_thread_on)
		return;
	pthread_mutex_lock(&pl->q_lock);
	pl->q_busy = false;
	if (pl->q_count)
		pthread_cond_signal(&pl->q_nonempty);
	pthread_mutex_unlock(&pl->q_lock);
}

/*
 * Sends a frame, or queues it for the TX thread: bulk frames (super-frames)
 * always go to the queue, anything else only when the queue is not idle,
 * so that frames leave in the order they were given. A lone small frame
 * (an ACK, a request) is sent at once by the caller, with no hand-off.
 * Queueing super-frames only when the queue is busy was measured too: bulk
 * send fell from 9.0 to 5.6 Gbit/s (bench/run.sh), for 10-40 us less per
 * 8-60 KB request/response exchange; NSTACK_TX_THREAD=0 gives that latency.
 */
static int pcap_live_send(struct net_device *dev, const struct vnet_hdr *h, const struct iovec *iov,
			  int iovcnt, bool bulk)
{
	struct pcap_live *pl = dev->priv;
	ssize_t len;
	int err;

	if (pl->q_thread_on) {
		pthread_mutex_lock(&pl->q_lock);
		if (bulk || pl->q_count || pl->q_busy)
			return tx_enqueue(pl, h, iov, iovcnt); /* unlocks */
		pl->q_busy = true;			       /* ours to send: the thread waits */
		pthread_mutex_unlock(&pl->q_lock);
	}
	if (!pl->vnet && iovcnt == 1) {
		err = inject_errno(pl, iov[0].iov_base, iov[0].iov_len);
	} else if (iovcnt <= NETDEV_GSO_MAX_SEGS + 1) {
		/* Gathered by the kernel: no copy of ours. */
		struct iovec v[NETDEV_GSO_MAX_SEGS + 2];
		int k = 0;

		if (pl->vnet)
			v[k++] = (struct iovec){(void *)h, sizeof(*h)};
		memcpy(v + k, iov, (size_t)iovcnt * sizeof(*iov));
		err = sendv_errno(pl, v, k + iovcnt);
	} else {
		len = tx_build(pl, pl->txbuf, h, iov, iovcnt);
		err = len < 0 ? (int)len : inject_errno(pl, pl->txbuf, (size_t)len);
	}
	tx_release(pl);
	return err;
}

static int pcap_live_xmit(struct net_device *dev, const void *frame, size_t len)
{
	struct iovec iov = {.iov_base = (void *)frame, .iov_len = len};

	return pcap_live_send(dev, &vnet_zero, &iov, 1, false);
}

/*
 * Plain frames in one sendmmsg() (libpcap's pcap_inject() is a send() on
 * the same socket); behind a busy TX queue they join it one by one, so
 * that frames still leave in order.
 */
static int pcap_live_xmit_batch(struct net_device *dev, const struct iovec *frames, int n)
{
	struct pcap_live *pl = dev->priv;
	struct mmsghdr msgs[NETDEV_TX_BATCH_MAX];
	struct iovec iov[NETDEV_TX_BATCH_MAX][2];
	int fd = tx_sock(pl), sent, e = 0;

	if (n > NETDEV_TX_BATCH_MAX)
		n = NETDEV_TX_BATCH_MAX;
	if (pl->q_thread_on) {
		pthread_mutex_lock(&pl->q_lock);
		if (pl->q_count || pl->q_busy) {
			for (int i = 0; i < n; i++) {
				int err;

				if (i)
					pthread_mutex_lock(&pl->q_lock);
				err = tx_enqueue(pl, &vnet_zero, &frames[i], 1); /* unlocks */
				if (err)
					return i ? i : err;
			}
			return n;
		}
		pl->q_busy = true; /* ours to send: the thread waits */
		pthread_mutex_unlock(&pl->q_lock);
	}
	memset(msgs, 0, sizeof(msgs[0]) * (size_t)n);
	for (int i = 0; i < n; i++) {
		int k = 0;

		if (pl->vnet)
			iov[i][k++] = (struct iovec){(void *)&vnet_zero, sizeof(vnet_zero)};
		iov[i][k++] = frames[i];
		msgs[i].msg_hdr.msg_iov = iov[i];
		msgs[i].msg_hdr.msg_iovlen = (size_t)k;
	}
	sent = sendmmsg(fd, msgs, (unsigned int)n, 0);
	if (sent < 0)
		e = errno;
	tx_release(pl);
	return sent >= 0 ? sent : send_errno(e);
}

/* The virtio-net header that has the kernel cut a super-frame as gso says. */
static struct vnet_hdr gso_vnet_hdr(const struct netdev_gso *gso)
{
	return (struct vnet_hdr){
	    .flags = VNET_HDR_F_NEEDS_CSUM,
	    .gso_type = gso->tcpv6 ? VNET_HDR_GSO_TCPV6 : VNET_HDR_GSO_TCPV4,
	    .hdr_len = gso->hdr_len,
	    .gso_size = gso->size,
	    .csum_start = gso->csum_start,
	    .csum_offset = gso->csum_offset,
	};
}

static int pcap_live_xmit_gso(struct net_device *dev, const struct iovec *iov, int iovcnt,
			      const struct netdev_gso *gso)
{
	struct pcap_live *pl = dev->priv;
	struct vnet_hdr h = gso_vnet_hdr(gso);

	if (!pl->vnet)
		return -EOPNOTSUPP;
	return pcap_live_send(dev, &h, iov, iovcnt, true);
}

/*
 * The TX thread sends the super-frame from the stack's skbs: the sending
 * thread, which holds the stack lock, copies nothing (at MTU 9000 that
 * copy was a fifth of its time). Without the thread the send is inline.
 */
static int pcap_live_xmit_gso_keep(struct net_device *dev, const struct iovec *iov, int iovcnt,
				   const struct netdev_gso *gso)
{
	struct pcap_live *pl = dev->priv;
	struct tx_slot *slot;

	if (!pl->vnet)
		return -EOPNOTSUPP;
	if (!pl->q_thread_on || iovcnt > NETDEV_GSO_MAX_SEGS + 1)
		return pcap_live_xmit_gso(dev, iov, iovcnt, gso);
	pthread_mutex_lock(&pl->q_lock);
	slot = tx_claim(pl);
	slot->h = gso_vnet_hdr(gso);
	slot->iov[0] = (struct iovec){&slot->h, sizeof(slot->h)};
	memcpy(slot->iov + 1, iov, (size_t)iovcnt * sizeof(*iov));
	slot->iovcnt = iovcnt + 1;
	slot->kept = true;
	slot->nframes = 0;
	tx_commit(pl);
	return 1;
}

static bool tx_queue_start(struct pcap_live *pl);
static void tx_queue_stop(struct pcap_live *pl);

/*
 * Plain frames queued from the stack's skbs as the stack lock is released.
 * With the queue idle they are this thread's: it sends them in tx_push()
 * once the lock is released, with no hand-off to the TX thread (which
 * would cost a wake-up per answer). Behind a busy queue they wait their
 * turn like any frame.
 */
static int pcap_live_xmit_batch_keep(struct net_device *dev, const struct iovec *frames, int n)
{
	struct pcap_live *pl = dev->priv;
	struct tx_slot *slot;

	if (n > NETDEV_TX_KEEP_BATCH || n <= 0)
		return 0;
	if (!pl->q_thread_on && pl->q_lazy) {
		pl->q_lazy = false;
		if (!tx_queue_start(pl)) {
			tx_queue_stop(pl);
			dev->flags &= ~NETDEV_F_TX_DEFER; /* sends inline from now on */
		}
	}
	if (!pl->q_thread_on)
		return 0;
	pthread_mutex_lock(&pl->q_lock);
	slot = tx_claim(pl);
	for (int i = 0; i < n; i++) {
		slot->iov[2 * i] = (struct iovec){(void *)&vnet_zero, sizeof(vnet_zero)};
		slot->iov[2 * i + 1] = frames[i];
	}
	slot->nframes = n;
	slot->kept = true;
	if (!pl->q_busy) {
		/* Idle: ours to push, and the TX thread is not woken for it. */
		pl->q_busy = pl->q_caller = true;
		pl->q_count++;
		pthread_mutex_unlock(&pl->q_lock);
		return 1;
	}
	tx_commit(pl);
	return 1;
}

/* See netdev_ops.tx_push: what pcap_live_xmit_batch_keep claimed, sent. */
static void pcap_live_tx_push(struct net_device *dev)
{
	struct pcap_live *pl = dev->priv;

	if (!pl->q_thread_on)
		return;
	pthread_mutex_lock(&pl->q_lock);
	/*
	 * Not claimed (the TX thread took over), or another thread pushes: it
	 * sends what this one queued behind its own. A claim not yet pushing
	 * may be another thread's too (it released the lock first but is not
	 * here yet): this thread sends both, in the order they were queued.
	 */
	if (!pl->q_caller || pl->q_pushing) {
		pthread_mutex_unlock(&pl->q_lock);
		return;
	}
	pl->q_pushing = true;
	/* What others queued meanwhile goes too, up to a super-frame: the TX thread's work. */
	while (pl->q_count) {
		struct tx_slot *slot = &pl->slots[pl->q_head];
		int failed;

		if (slot->kept && !slot->nframes)
			break;
		pthread_mutex_unlock(&pl->q_lock);
		failed = tx_slot_send(pl, slot);
		pthread_mutex_lock(&pl->q_lock);
		tx_slot_done(pl, slot, failed);
	}
	pl->q_pushing = pl->q_caller = pl->q_busy = false;
	if (pl->q_count || pl->q_stop)
		pthread_cond_signal(&pl->q_nonempty);
	if (pl->q_waiters)
		pthread_cond_broadcast(&pl->q_space);
	pthread_mutex_unlock(&pl->q_lock);
}

static uint64_t pcap_live_tx_done(struct net_device *dev)
{
	struct pcap_live *pl = dev->priv;

	return __atomic_load_n(&pl->q_kept_done, __ATOMIC_ACQUIRE);
}

/* Waits until the TX thread has sent all it holds; a second at most (a stuck send()). */
static void pcap_live_tx_drain(struct net_device *dev)
{
	struct pcap_live *pl = dev->priv;
	struct timespec until;

	if (!pl->q_thread_on)
		return;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec++;
	pthread_mutex_lock(&pl->q_lock);
	pl->q_waiters++;
	while (pl->q_count && pthread_cond_timedwait(&pl->q_space, &pl->q_lock, &until) == 0)
		;
	pl->q_waiters--;
	pthread_mutex_unlock(&pl->q_lock);
}

/* Frames queued or being sent by the TX thread. */
static unsigned int pcap_live_tx_pending(struct net_device *dev)
{
	struct pcap_live *pl = dev->priv;
	unsigned int n;

	if (!pl->q_thread_on)
		return 0;
	pthread_mutex_lock(&pl->q_lock);
	n = pl->q_count;
	pthread_mutex_unlock(&pl->q_lock);
	return n;
}

/* Starts the TX thread and its queue; false (and sends stay inline) on failure. */
static bool tx_queue_start(struct pcap_live *pl)
{
	for (int i = 0; i < PCAP_LIVE_TXQ_SLOTS; i++) {
		pl->slots[i].buf = malloc(PCAP_LIVE_TXBUF);
		if (!pl->slots[i].buf)
			return false;
	}
	if (pthread_mutex_init(&pl->q_lock, NULL))
		return false;
	pthread_cond_init(&pl->q_nonempty, NULL);
	pthread_cond_init(&pl->q_space, NULL);
	/* Running when this returns: the program may fork at once (thread.c). */
	if (ns_thread_start(&pl->q_thread, "nstack-tx", tx_thread, pl)) {
		pthread_cond_destroy(&pl->q_nonempty);
		pthread_cond_destroy(&pl->q_space);
		pthread_mutex_destroy(&pl->q_lock);
		return false;
	}
	pl->q_thread_on = true;
	return true;
}

/* See pcap_live.h. */
void pcap_live_fork_child(struct net_device *dev)
{
	struct pcap_live *pl = dev->priv;

	if (!pl || !pl->q_thread_on)
		return;
	/*
	 * The TX thread was the parent's. The child's starts when it first
	 * sends after a locked section (pcap_live_xmit_batch_keep): a child
	 * that only execs (a shell's) never pays for it, and a worker (nginx's)
	 * sends with the lock released as its parent does.
	 */
	pl->q_lazy = true;
	pl->q_thread_on = false;
	pl->q_head = pl->q_count = 0;
	pl->q_busy = pl->q_stop = pl->q_caller = pl->q_pushing = false;
	pl->q_waiters = 0;
	for (int i = 0; i < PCAP_LIVE_TXQ_SLOTS; i++) {
		free(pl->slots[i].buf);
		pl->slots[i].buf = NULL;
	}
}

/* Sends what is queued, then ends the TX thread. */
static void tx_queue_stop(struct pcap_live *pl)
{
	if (pl->q_thread_on) {
		pthread_mutex_lock(&pl->q_lock);
		pl->q_stop = true;
		pthread_cond_signal(&pl->q_nonempty);
		pthread_mutex_unlock(&pl->q_lock);
		pthread_join(pl->q_thread, NULL);
		pthread_cond_destroy(&pl->q_nonempty);
		pthread_cond_destroy(&pl->q_space);
		pthread_mutex_destroy(&pl->q_lock);
		pl->q_thread_on = false;
	}
	for (int i = 0; i < PCAP_LIVE_TXQ_SLOTS; i++) {
		free(pl->slots[i].buf);
		pl->slots[i].buf = NULL;
	}
}

static int pcap_live_poll(struct net_device *dev, int budget)
{
	struct pcap_live *pl = dev->priv;
	int n;

	if (budget <= 0)
		return 0;
	if (pl->q_thread_on) {
		unsigned long e = __atomic_load_n(&pl->q_errors, __ATOMIC_RELAXED);

		if (e != pl->q_errors_told) {
			netdev_tx_errors(dev, (unsigned int)(e - pl->q_errors_told));
			pl->q_errors_told = e;
		}
	}
	pl->poll_now_ns = 0;
	n = pcap_dispatch(pl->p, budget, pcap_live_rx_one, (u_char *)dev);
	dev->rx_waited_us = 0;
	if (n >= 0)
		return n;
	if (n == PCAP_ERROR_BREAK)
		return 0;
	if (n == PCAP_ERROR_IFACE_NOT_UP)
		return -ENETDOWN;
	/* libpcap says "The interface disappeared" as a plain PCAP_ERROR. */
	{
		unsigned int mtu;

		return pcap_live_read_mtu(dev->name, &mtu) == -ENODEV ? -ENODEV : -EIO;
	}
}

/* See pcap_live.h. */
int pcap_live_spare_socket(void)
{
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);

	return fd < 0 ? -errno : fd;
}

/* See pcap_live.h. */
int pcap_live_tx_fd(const struct net_device *dev)
{
	const struct pcap_live *pl = dev->priv;

	return pl ? pl->tx_fd : -1;
}

static int pcap_live_get_fd(struct net_device *dev)
{
	struct pcap_live *pl = dev->priv;

	return pl->fd;
}

/*
 * After the interface went down libpcap must be called now and then to
 * learn whether it came back or was deleted: the socket says nothing more.
 */
static bool pcap_live_needs_polling(struct net_device *dev)
{
	struct pcap_live *pl = dev->priv;

	return pcap_get_required_select_timeout(pl->p) != NULL;
}

static void pcap_live_close(struct net_device *dev)
{
	struct pcap_live *pl = dev->priv;

	if (pl) {
		tx_queue_stop(pl);
		if (pl->tx_fd >= 0)
			close(pl->tx_fd);
		pcap_close(pl->p);
		free(pl->txbuf);
		free(pl->deaf_filter);
		free(pl);
	}
	free(dev);
}

/* Frames the capture ring lost (libpcap keeps the kernel's counts summed). */
static uint64_t pcap_live_rx_lost(struct net_device *dev)
{
	struct pcap_live *pl = dev->priv;
	struct pcap_stat st;

	if (pcap_stats(pl->p, &st) < 0)
		return 0;
	return st.ps_drop;
}

static uint64_t pcap_live_rx_clock(struct net_device *dev)
{
	(void)dev;
	return real_ns();
}

static bool pcap_live_rx_window(struct net_device *dev, uint64_t from, uint64_t until)
{
	struct pcap_live *pl = dev->priv;

	if (until != pl->rx_until)
		pl->rx_past_until = false;
	pl->rx_from = from;
	pl->rx_until = until;
	return pl->rx_past_until;
}

/*
 * struct sock_fprog's layout; pcap's bpf_insn is the kernel's sock_filter
 * (linux/filter.h and pcap/bpf.h define the same macros, differently).
 */
struct kfprog {
	unsigned short len;
	struct bpf_insn *filter;
};
#define SKF_AD_OFF	(-0x1000)
#define SKF_AD_PROTOCOL 0
#define SKF_NET_OFF	(-0x100000)

/* A filter that takes nothing (its socket stays, for sending or to join a group later). */
static int live_set_none(int fd)
{
	struct bpf_insn none = BPF_STMT(BPF_RET | BPF_K, 0);
	struct kfprog prog = {.len = 1, .filter = &none};

	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0)
		return -errno;
	return 0;
}

/*
 * The socket stays for sending: a filter that takes nothing stops the
 * kernel from copying every frame into a ring nobody reads any more.
 */
static int pcap_live_rx_stop(struct net_device *dev)
{
	struct pcap_live *pl = dev->priv;

	if (pl->filter_locked)
		return -EPERM;
	return live_set_none(pcap_fileno(pl->p));
}

static int live_set_filter_text(pcap_t *p, const char *filter, char *err, size_t errlen);
static int tx_socket(const char *ifname, bool vnet);

static void rx_discard(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	(void)user;
	(void)h;
	(void)bytes;
}

/*
 * PACKET_FANOUT's argument: CBPF (our program picks the member), outgoing
 * frames left out as PACKET_IGNORE_OUTGOING does for a lone socket (the
 * group's flag, not the socket's, counts once it is in one).
 */
#ifndef PACKET_FANOUT_FLAG_IGNORE_OUTGOING
#define PACKET_FANOUT_FLAG_IGNORE_OUTGOING 0x4000
#endif
#define FANOUT_ARG_BASE ((PACKET_FANOUT_CBPF | PACKET_FANOUT_FLAG_IGNORE_OUTGOING) << 16)

static int pcap_live_rx_join(struct net_device *dev, uint32_t *arg)
{
	struct pcap_live *pl = dev->priv;
	int fd = pcap_fileno(pl->p);
	/* A new group: the kernel picks an id no other group of this namespace has. */
	int v = *arg ? (int)*arg : FANOUT_ARG_BASE | (PACKET_FANOUT_FLAG_UNIQUEID << 16);
	socklen_t len = sizeof(v);

	/* nstack-opener locked the filter: the kernel would refuse our program too. */
	if (pl->filter_locked)
		return -EPERM;
	if (setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &v, sizeof(v)) < 0)
		return -errno;
	if (!*arg) {
		if (getsockopt(fd, SOL_PACKET, PACKET_FANOUT, &v, &len) < 0)
			return -errno;
		*arg = (uint32_t)v & ~((uint32_t)PACKET_FANOUT_FLAG_UNIQUEID << 16);
	}
	if (pl->deaf_filter) {
		char err[PCAP_ERRBUF_SIZE + 32];
		int rc;

		/*
		 * What the ring took before its filter took nothing was every
		 * frame, which another ring has too; since, nothing: the group's
		 * program sends no frame to a member it does not know yet.
		 */
		while (pcap_dispatch(pl->p, -1, rx_discard, NULL) > 0)
			;
		rc = live_set_filter_text(pl->p, pl->deaf_filter, err, sizeof(err));
		if (rc)
			return rc;
		free(pl->deaf_filter);
		pl->deaf_filter = NULL;
	}
	return 0;
}

/*
 * The group's program (classic BPF; loads relative to the network header,
 * where the kernel has the frame when it picks a member, whichever way it
 * goes): the ports of an unfragmented IPv4 or a plain IPv6 TCP or UDP
 * frame, mixed as ns_fan_bucket mixes them, pick member[]; anything else
 * goes to dflt.
 */
int pcap_live_steer_prog(struct bpf_insn *f, unsigned int max, const uint8_t *member,
			 unsigned int n, unsigned int dflt)
{
	unsigned int i = 0, def, v6, hash;

	if (!n || n > 64 || max < 28 + 2 * n)
		return -EINVAL;
	/* Layout: header 0..1, IPv4 2..11, IPv6 12..18, hash 19..23, table, def. */
	v6 = 12;
	hash = 19;
	def = hash + 5 + 2 * n;
#define J(code, k, t, e) (struct bpf_insn) BPF_JUMP(code, k, (uint8_t)(t), (uint8_t)(e))
	f[i++] = (struct bpf_insn)BPF_STMT(BPF_LD | BPF_H | BPF_ABS, SKF_AD_OFF + SKF_AD_PROTOCOL);
	f[i++] = J(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 0, v6 - 2);
	f[i++] = (struct bpf_insn)BPF_STMT(BPF_LD | BPF_B | BPF_ABS, SKF_NET_OFF + 9);
	f[i++] = J(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_TCP, 1, 0);
	f[i++] = J(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, def - 5);
	f[i++] = (struct bpf_insn)BPF_STMT(BPF_LD | BPF_H | BPF_ABS, SKF_NET_OFF + 6);
	f[i++] = J(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, def - 7, 0);
	f[i++] = (struct bpf_insn)BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, SKF_NET_OFF);
	f[i++] = (struct bpf_insn)BPF_STMT(BPF_LD | BPF_H | BPF_IND, SKF_NET_OFF);
	f[i++] = (struct bpf_insn)BPF_STMT(BPF_ST, 0);
	f[i++] = (struct bpf_insn)BPF_STMT(BPF_LD | BPF_H | BPF_IND, SKF_NET_OFF + 2);
	f[i++] = (struct bpf_insn)BPF_STMT(BPF_JMP | BPF_JA, hash - 12);
	/* 12: IPv6, the protocol still in A. */
	f[i++] = J(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IPV6, 0, def - 13);
	f[i++] = (struct bpf_insn)BPF_STMT(BPF_LD | BPF_B | BPF_ABS, SKF_NET_OFF + 6);
	f[i++] = J(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_TCP, 1, 0);
	f[i++] = J(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, def - 16);
	f[i++] = (struct bpf_insn)BPF_STMT(BPF_LD | BPF_H | BPF_ABS, SKF_NET_OFF + 40);
	f[i++] = (struct bpf_insn)BPF_STMT(BPF_ST, 0);
	f[i++] = (struct bpf_insn)BPF_STMT(BPF_LD | BPF_H | BPF_ABS, SKF_NET_OFF + 42);
	/* 19: A = dport, M[0] = sport. */
	f[i++] = (struct bpf_insn)BPF_STMT(BPF_LDX | BPF_MEM, 0);
	f[i++] = (struct bpf_insn)BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0);
	f[i++] = (struct bpf_insn)BPF_STMT(BPF_ALU | BPF_MUL | BPF_K, NS_FAN_MIX);
	f[i++] = (struct bpf_insn)BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 16);
	f[i++] = (struct bpf_insn)BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, n);
	for (unsigned int k = 0; k < n; k++) {
		f[i++] = J(BPF_JMP | BPF_JEQ | BPF_K, k, 0, 1);
		f[i++] = (struct bpf_insn)BPF_STMT(BPF_RET | BPF_K, member[k]);
	}
#undef J
	f[i++] = (struct bpf_insn)BPF_STMT(BPF_RET | BPF_K, dflt);
	return (int)i;
}

static int pcap_live_rx_steer(struct net_device *dev, const uint8_t *member, unsigned int n,
			      unsigned int dflt)
{
	struct pcap_live *pl = dev->priv;
	struct bpf_insn f[28 + 2 * 64];
	struct kfprog prog;
	int len = pcap_live_steer_prog(f, sizeof(f) / sizeof(f[0]), member, n, dflt);

	if (len < 0)
		return len;
	prog.len = (unsigned short)len;
	prog.filter = f;
	if (setsockopt(pcap_fileno(pl->p), SOL_PACKET, PACKET_FANOUT_DATA, &prog, sizeof(prog)) < 0)
		return -errno;
	return 0;
}

/* See pcap_live.h. */
int pcap_live_fork_detach(struct net_device *dev)
{
	struct pcap_live *pl = dev->priv;
	int fd, null;

	if (pl->tx_fd < 0) {
		fd = tx_socket(dev->name, pl->vnet);
		if (fd < 0)
			return -errno;
		pl->tx_fd = fd;
	}
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null < 0)
		return -errno;
	/*
	 * The number stays ours (libpcap closes it with the handle), the
	 * socket goes: pcap_close() would have told the kernel to drop the
	 * ring, which takes the socket out of its group and puts it back last,
	 * moving the other members under the parent that reads it.
	 */
	dup2(null, pcap_fileno(pl->p));
	close(null);
	return 0;
}

static const struct netdev_ops pcap_live_ops = {
    .rx_clock = pcap_live_rx_clock,
    .rx_window = pcap_live_rx_window,
    .rx_stop = pcap_live_rx_stop,
    .rx_join = pcap_live_rx_join,
    .rx_steer = pcap_live_rx_steer,
    .xmit = pcap_live_xmit,
    .xmit_gso = pcap_live_xmit_gso,
    .xmit_gso_keep = pcap_live_xmit_gso_keep,
    .xmit_batch_keep = pcap_live_xmit_batch_keep,
    .tx_push = pcap_live_tx_push,
    .tx_done = pcap_live_tx_done,
    .tx_drain = pcap_live_tx_drain,
    .xmit_batch = pcap_live_xmit_batch,
    .tx_pending = pcap_live_tx_pending,
    .poll = pcap_live_poll,
    .get_fd = pcap_live_get_fd,
    .rx_lost = pcap_live_rx_lost,
    .needs_polling = pcap_live_needs_polling,
    .close = pcap_live_close,
};

/* Maps a pcap_activate() result to an errno and a message naming the fix. */
static int activate_error(pcap_t *p, int rc, const char *ifname, char *err, size_t errlen)
{
	switch (rc) {
	case PCAP_ERROR_NO_SUCH_DEVICE:
		snprintf(err, errlen, "no such interface '%s' (set NSTACK_IFACE)", ifname);
		return -ENODEV;
	case PCAP_ERROR_PERM_DENIED:
	case PCAP_ERROR_PROMISC_PERM_DENIED:
		snprintf(err, errlen,
			 "no permission to capture on '%s': run as root or grant CAP_NET_RAW "
			 "(setcap cap_net_raw+ep)",
			 ifname);
		return -EPERM;
	case PCAP_ERROR_IFACE_NOT_UP:
		snprintf(err, errlen, "interface '%s' is down (ip link set %s up)", ifname, ifname);
		return -ENETDOWN;
	default:
		snprintf(err, errlen, "cannot capture on '%s': %s", ifname, pcap_geterr(p));
		return -EIO;
	}
}

/* An ethtool get/set of one value on ifname; 0 or -errno. */
static int ethtool_val(const char *ifname, struct ethtool_val *v)
{
	struct ifreq ifr;
	int fd, rc = 0;

	if (strlen(ifname) >= sizeof(ifr.ifr_name))
		return -ENODEV;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	ifr.ifr_data = (char *)v;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* See pcap_live.h. */
int pcap_live_gro_on(const char *ifname)
{
	struct ethtool_val get = {.cmd = ETHTOOL_GGRO_CMD},
			   set = {.cmd = ETHTOOL_SGRO_CMD, .data = 1};
	int rc = ethtool_val(ifname, &get);

	if (rc)
		return rc;
	if (get.data)
		return 0;
	rc = ethtool_val(ifname, &set);
	if (rc)
		return rc;
	/* Some drivers accept the request and keep the feature off (fixed features). */
	get.data = 0;
	rc = ethtool_val(ifname, &get);
	return rc ? rc : get.data ? 1 : -EOPNOTSUPP;
}

/*
 * One rtnetlink request about ifname's link: RTM_GETLINK fills *gro with
 * the largest packet GRO may merge (gro_max_size, and gro_ipv4_max_size
 * where the kernel has it); RTM_NEWLINK sets gro_max_size to *gro (which
 * sets the IPv4 one too when it is 64 KiB or less). 0 or -errno.
 */
static int live_gro_size(const char *ifname, int type, unsigned int *gro)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
		struct rtattr rta;
		uint32_t val;
	} req = {0};
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	union {
		struct nlmsghdr nh;
		char buf[16384];
	} ans;
	unsigned int ifindex = if_nametoindex(ifname), found = 0;
	ssize_t n;
	int fd, len, rc = -EIO;

	if (!ifindex)
		return -ENODEV;
	req.nh.nlmsg_len = type == RTM_NEWLINK ? sizeof(req) : NLMSG_LENGTH(sizeof(req.ifi));
	req.nh.nlmsg_type = (uint16_t)type;
	req.nh.nlmsg_flags = NLM_F_REQUEST | (type == RTM_NEWLINK ? NLM_F_ACK : 0);
	req.nh.nlmsg_seq = 1;
	req.ifi.ifi_family = AF_UNSPEC;
	req.ifi.ifi_index = (int)ifindex;
	req.rta.rta_type = IFLA_GRO_MAX_SIZE;
	req.rta.rta_len = RTA_LENGTH(sizeof(uint32_t));
	req.val = *gro;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (sendto(fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		goto out;
	}
	n = recv(fd, &ans, sizeof(ans), 0);
	if (n < 0) {
		rc = -errno;
		goto out;
	}
	len = (int)n;
	for (struct nlmsghdr *h = &ans.nh; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
		struct rtattr *a;
		int alen;

		if (h->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = NLMSG_DATA(h);

			rc = h->nlmsg_len >= NLMSG_LENGTH(sizeof(*e)) ? e->error : -EIO;
			break;
		}
		if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof(req.ifi)))
			continue;
		a = IFLA_RTA(NLMSG_DATA(h));
		alen = (int)IFLA_PAYLOAD(h);
		for (; RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
			uint32_t v;

			if ((a->rta_type != IFLA_GRO_MAX_SIZE &&
			     a->rta_type != LIVE_IFLA_GRO_IPV4_MAX_SIZE) ||
			    RTA_PAYLOAD(a) < sizeof(v))
				continue;
			memcpy(&v, RTA_DATA(a), sizeof(v));
			found = v > found ? v : found;
		}
		rc = found ? 0 : -EOPNOTSUPP; /* a kernel without the attributes (before 5.19) */
		*gro = found;
		break;
	}
out:
	close(fd);
	return rc;
}

/* See pcap_live.h. */
int pcap_live_gro_cap(const char *ifname)
{
	unsigned int gro = 0;
	int rc = live_gro_size(ifname, RTM_GETLINK, &gro);

	if (rc)
		return rc;
	if (gro <= PCAP_LIVE_GRO_MAX)
		return 0;
	gro = PCAP_LIVE_GRO_MAX;
	rc = live_gro_size(ifname, RTM_NEWLINK, &gro);
	return rc ? rc : 1;
}

/*
 * The snap length the interface's merged frames need: 0 when it hands us
 * none larger than its MTU (GRO and LRO off), PCAP_LIVE_GRO_SNAPLEN when
 * only GRO merges and no further than PCAP_LIVE_GRO_MAX, else (LRO, whose
 * NIC knows no gro_max_size, or when we cannot tell) PCAP_LIVE_SNAPLEN.
 */
static int live_rx_merge_snaplen(const char *ifname)
{
	struct ethtool_val gro = {.cmd = ETHTOOL_GGRO_CMD}, flags = {.cmd = ETHTOOL_GFLAGS_CMD};
	unsigned int max = 0;

	if (ethtool_val(ifname, &gro) || ethtool_val(ifname, &flags) ||
	    (flags.data & ETH_FLAG_LRO_BIT))
		return PCAP_LIVE_SNAPLEN;
	if (!gro.data)
		return 0;
	return live_gro_size(ifname, RTM_GETLINK, &max) == 0 && max <= PCAP_LIVE_GRO_MAX
		   ? PCAP_LIVE_GRO_SNAPLEN
		   : PCAP_LIVE_SNAPLEN;
}

/*
 * The snap length to capture with. libpcap sizes every slot of its ring by
 * the snap length when the interface reports any offload (a veth has GSO on
 * even with TX checksums off), so 65535 left an 8 MiB ring with about 128
 * slots: a burst of 200 SYNs (wrk -c200 against nginx) lost some, each
 * costing the client a 1 s SYN retransmission. When the interface cannot
 * hand us frames larger than its MTU (no GRO, no LRO), the MTU plus the
 * Ethernet header, a VLAN tag and the FCS is enough, and the ring holds
 * thousands of frames. Otherwise (or when we cannot tell) keep 65535.
 */
static int live_snaplen(const char *ifname)
{
	unsigned int mtu;
	int merged = live_rx_merge_snaplen(ifname);

	if (merged)
		return merged;
	if (pcap_live_read_mtu(ifname, &mtu))
		return PCAP_LIVE_SNAPLEN;
	return mtu + 22 < PCAP_LIVE_SNAPLEN ? (int)mtu + 22 : PCAP_LIVE_SNAPLEN;
}

/*
 * Whether a frame of an interface with this MTU still fits a slot of
 * libpcap's receive ring when the kernel puts a virtio-net header before
 * it. libpcap 1.10 sizes TPACKET_V2 slots for MTU + 18 bytes of frame
 * behind its own estimate of the headers (a 68-byte offset, rounded to
 * 16); the kernel's offset with a 10-byte virtio-net header is 80 bytes,
 * so what is left is 16-byte rounding luck: 1520 bytes at MTU 1500 (a
 * 1514-byte frame fits), 9008 at MTU 9000 (a 9014-byte frame does not).
 */
static bool vnet_frame_fits(unsigned int mtu)
{
	unsigned int slot = (68 + mtu + 18 + 15) & ~15u;

	return slot - 80 >= mtu + ETH_HLEN;
}

/*
 * A send-only packet socket on ifname with the virtio-net header, for GSO
 * when libpcap's socket must go without it; -1 when it cannot be had (no
 * CAP_NET_RAW here: the opener hands out only libpcap's socket).
 */
static int tx_socket(const char *ifname, bool vnet)
{
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = 0};
	int one = 1, fd;

	sll.sll_ifindex = (int)if_nametoindex(ifname);
	if (!sll.sll_ifindex)
		return -1;
	/* Protocol 0: the socket receives nothing. */
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if ((vnet && setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0) ||
	    bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The filter text for o, compiled and attached; 0 or -errno. */
static int live_set_filter_text(pcap_t *p, const char *filter, char *err, size_t errlen)
{
	struct bpf_program prog;
	int rc;

	if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
		snprintf(err, errlen, "pcap_compile: %s", pcap_geterr(p));
		return -EINVAL;
	}
	rc = pcap_setfilter(p, &prog);
	pcap_freecode(&prog);
	if (rc < 0) {
		snprintf(err, errlen, "pcap_setfilter: %s", pcap_geterr(p));
		return -EIO;
	}
	return 0;
}

static int live_set_filter(pcap_t *p, const struct pcap_live_opts *o, const uint8_t ifmac[6],
			   char **deaf, char *err, size_t errlen)
{
	char filter[1024];
	int rc;

	/* A tx_only handle takes nothing in: another process of the stack receives. */
	rc = pcap_filter_text(filter, sizeof(filter), o->addr, o->prefixlen,
			      o->mac ? o->mac : ifmac, o->ipv6, o->addr6, o->tx_only);
	if (rc)
		return rc;
	if (o->rx_deaf) {
		/* Set when it joins its group (pcap_live_rx_join); nothing until then. */
		*deaf = strdup(filter);
		if (!*deaf) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		return live_set_none(pcap_fileno(p));
	}
	return live_set_filter_text(p, filter, err, errlen);
}

/*
 * Creates and activates the capture for o; handed >= 0 is a packet socket
 * nstack-opener opened, which libpcap then takes instead of its own (see
 * pcap_live_socket_handed()). The pcap_activate() result; *res is NULL only
 * when the handle could not be created (err says why).
 */
static int live_activate(const struct pcap_live_opts *o, const uint8_t ifmac[6], int handed,
			 pcap_t **res, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	int rc, snaplen;
	size_t bufsize;
	pcap_t *p;

	*res = p = pcap_create(o->ifname, ebuf);
	if (!p) {
		snprintf(err, errlen, "pcap_create(%s): %s", o->ifname, ebuf);
		if (handed >= 0)
			close(handed);
		return PCAP_ERROR;
	}
	/* The kernel puts a virtio_net_hdr before each frame in the ring slot. */
	snaplen = live_snaplen(o->ifname);
	pcap_set_snaplen(p, snaplen + (o->no_gso ? 0 : (int)sizeof(struct vnet_hdr)));
	pcap_set_immediate_mode(p, 1);
	bufsize = o->tx_only			     ? 256 * 1024
		  : o->buffer_size		     ? o->buffer_size
		  : snaplen == PCAP_LIVE_SNAPLEN     ? PCAP_LIVE_BUFSIZE_GRO
		  : snaplen == PCAP_LIVE_GRO_SNAPLEN ? PCAP_LIVE_BUFSIZE_GRO_CAPPED
						     : PCAP_LIVE_BUFSIZE;
	/*
	 * A ring that joins a group takes a share of the frames, and every
	 * process that waits on sockets has one: a quarter of the default
	 * (pinned kernel memory, and set up in proportion to its size).
	 */
	if (o->rx_deaf && !o->buffer_size)
		bufsize /= 4;
	pcap_set_buffer_size(p, (int)bufsize);
	/* Frames to a MAC other than the interface's need promiscuous mode. */
	pcap_set_promisc(p, o->mac && memcmp(o->mac, ifmac, 6) != 0);
	pcap_set_timeout(p, 1);
	/* Stamps to the nanosecond tell which device's frames a hand-over leaves (rx_window). */
	(void)pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);
	want_vnet = !o->no_gso;
	handed_fd = handed;
	rc = pcap_activate(p);
	want_vnet = false;
	if (handed_fd >= 0) {
		/* libpcap failed before it asked for a socket. */
		close(handed_fd);
		handed_fd = -1;
	}
	return rc;
}

/* Asks nstack-opener for a packet socket with o's filter locked on. */
static int opener_ask(const struct pcap_live_opts *o, const uint8_t ifmac[6], int *fd, char *err,
		      size_t errlen)
{
	struct opener_req req = {
	    .magic = OPENER_MAGIC,
	    .version = OPENER_VERSION,
	    .addr = o->addr,
	    .prefixlen = o->prefixlen,
	    .tx_only = o->tx_only,
	    .ipv6 = o->ipv6,
	};

	snprintf(req.ifname, sizeof(req.ifname), "%s", o->ifname);
	memcpy(req.mac, o->mac ? o->mac : ifmac, 6);
	if (o->addr6) {
		req.has_addr6 = 1;
		memcpy(req.addr6, o->addr6, 16);
	}
	return opener_open(o->opener, &req, fd, err, errlen);
}

/* Opens the interface with libpcap and wraps it in a net_device. */
int pcap_live_open(const struct pcap_live_opts *o, struct net_device **res, char *err,
		   size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct net_device *dev = NULL;
	struct pcap_live *pl = NULL;
	bool locked = false;
	uint8_t ifmac[6];
	unsigned int mtu;
	struct pcap_live_opts noghdr;
	bool origin_no_gso = o->no_gso;
	char *deaf = NULL;
	int spare = o->spare_fd;
	pcap_t *p;
	int rc;

	rc = pcap_live_read_mac(o->ifname, ifmac);
	if (rc && spare >= 0)
		close(spare);
	if (rc == -ENODEV) {
		snprintf(err, errlen, "no such interface '%s' (set NSTACK_IFACE)", o->ifname);
		return rc;
	}
	if (rc) {
		snprintf(err, errlen, "cannot read the MAC address of '%s' (set NSTACK_MAC)",
			 o->ifname);
		return rc;
	}
	mtu = o->mtu;
	if (!mtu && pcap_live_read_mtu(o->ifname, &mtu)) {
		if (spare >= 0)
			close(spare);
		snprintf(err, errlen, "cannot read the MTU of '%s' (set NSTACK_MTU)", o->ifname);
		return -EINVAL;
	}
	if (!o->no_gso && !o->tx_only) {
		unsigned int ifmtu = mtu;

		/* The interface's own MTU sizes libpcap's slots, whatever NSTACK_MTU says. */
		if (o->mtu)
			(void)pcap_live_read_mtu(o->ifname, &ifmtu);
		/* With GRO or LRO on the slots are sized for 64 KiB whatever the MTU. */
		if (!vnet_frame_fits(ifmtu) && !live_rx_merge_snaplen(o->ifname)) {
			/* Full-size frames would be cut: receive them without the header (and send
			 * without GSO). */
			noghdr = *o;
			noghdr.no_gso = true;
			o = &noghdr;
		}
	}

	rc = live_activate(o, ifmac, -1, &p, err, errlen);
	if (rc == PCAP_ERROR_PERM_DENIED && spare >= 0) {
		/* Made while the process could; libpcap binds and rings it without privilege. */
		pcap_close(p);
		rc = live_activate(o, ifmac, spare, &p, err, errlen);
		spare = -1;
	}
	if (spare >= 0)
		close(spare);
	if (rc == PCAP_ERROR_PERM_DENIED && o->opener && o->opener[0]) {
		/* No CAP_NET_RAW here: nstack-opener may open the socket for us. */
		char oerr[256] = "";
		int fd;

		pcap_close(p);
		rc = opener_ask(o, ifmac, &fd, oerr, sizeof(oerr));
		if (rc == -ENOENT) {
			snprintf(err, errlen,
				 "no permission to capture on '%s': run as root, grant CAP_NET_RAW "
				 "(setcap cap_net_raw+ep), or install nstack-opener (%s)",
				 o->ifname, o->opener);
			return -EPERM;
		}
		if (rc) {
			snprintf(err, errlen, "%s", oerr);
			return rc;
		}
		locked = true;
		rc = live_activate(o, ifmac, fd, &p, err, errlen);
	}
	if (rc < 0) {
		if (!p)
			return rc == PCAP_ERROR ? -ENOMEM : rc;
		rc = activate_error(p, rc, o->ifname, err, errlen);
		goto out_close;
	}
	if (pcap_datalink(p) != DLT_EN10MB) {
		snprintf(err, errlen, "'%s' is not an Ethernet interface (set NSTACK_IFACE)",
			 o->ifname);
		rc = -EINVAL;
		goto out_close;
	}
	/* Our own transmissions must not come back as input. */
	(void)pcap_setdirection(p, PCAP_D_IN);
	{
		/*
		 * libpcap 1.10 drops outgoing frames in user space, after the
		 * kernel cloned each one for the socket and ran the filter on it
		 * (2.5% of the TX thread: 45 clones per super-frame). The kernel
		 * can skip them (Linux 4.20).
		 */
		int one = 1;

		(void)setsockopt(pcap_fileno(p), SOL_PACKET, PACKET_IGNORE_OUTGOING, &one,
				 sizeof(one));
	}
	/* The opener locked this very filter on: another attach would fail. */
	if (locked && o->rx_deaf) {
		snprintf(err, errlen, "the opener's socket has its filter locked: it cannot join");
		rc = -EPERM;
		goto out_close;
	}
	if (!locked && (rc = live_set_filter(p, o, ifmac, &deaf, err, errlen)))
		goto out_close;
	/* Each process opens its own ring: one inherited through exec would sit unread. */
	(void)fcntl(pcap_fileno(p), F_SETFD, FD_CLOEXEC);
	if (pcap_setnonblock(p, 1, ebuf) < 0) {
		snprintf(err, errlen, "pcap_setnonblock: %s", ebuf);
		rc = -EIO;
		goto out_close;
	}

	dev = calloc(1, sizeof(*dev));
	pl = calloc(1, sizeof(*pl));
	if (!dev || !pl) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out_free;
	}
	pl->p = p;
	pl->fd = pcap_get_selectable_fd(p);
	{
		int on = 0;
		socklen_t olen = sizeof(on);

		pl->rx_vnet =
		    getsockopt(pcap_fileno(p), SOL_PACKET, PACKET_VNET_HDR, &on, &olen) == 0 && on;
		pl->vnet = pl->rx_vnet;
	}
	pl->tx_fd = -1;
	if (o == &noghdr && !origin_no_gso)
		pl->tx_fd = tx_socket(o->ifname, true);
	if (pl->tx_fd >= 0)
		pl->vnet = true;
	if (!(pl->txbuf = malloc(PCAP_LIVE_TXBUF))) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out_free;
	}
	/* Super-frames go through the TX thread; without one they are sent inline. */
	if (pl->vnet && !o->no_tx_thread && !tx_queue_start(pl))
		tx_queue_stop(pl);
	snprintf(dev->name, sizeof(dev->name), "%s", o->ifname);
	memcpy(dev->dev_addr, o->mac ? o->mac : ifmac, 6);
	memset(dev->broadcast, 0xff, 6);
	dev->mtu = mtu;
	/*
	 * The kernel's index of the interface: programs name our link by it
	 * (sin6_scope_id, IPV6_MULTICAST_IF, IPV6_PKTINFO), as if_nametoindex()
	 * tells them. 0 when unknown: the stack then says 1.
	 */
	dev->ifindex = (int)if_nametoindex(o->ifname);
	dev->ops = &pcap_live_ops;
	dev->priv = pl;
	/* A veth peer feeds one flow from several CPUs' backlogs (see dev.c). */
	dev->flags = NETDEV_F_RX_ORDER | (pl->vnet ? NETDEV_F_TX_GSO : 0);
	/* With the TX queue, frames leave after the stack lock is released (dev_xmit_push). */
	if (pl->q_thread_on)
		dev->flags |= NETDEV_F_TX_DEFER;
	pl->filter_locked = locked;
	pl->deaf_filter = deaf;
	pl->stamp_ns = pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO;
	if (!locked && pl->stamp_ns)
		dev->flags |= NETDEV_F_RX_HANDOFF;
	*res = dev;
	return 0;

out_free:
	free(dev);
	if (pl) {
		tx_queue_stop(pl);
		free(pl->txbuf);
	}
	free(pl);
out_close:
	free(deaf);
	pcap_close(p);
	return rc;
}
