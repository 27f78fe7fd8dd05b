/*
 * The in-memory wire (see wire.h). Each direction is a FIFO of frames; the
 * impairments are applied when a frame is sent, with a seeded xorshift so a
 * failing run can be repeated exactly.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/sys/queue.h>

#include "checksum.h"
#include "netdevice.h"
#include "proto/ip.h"
#include "proto/ipv6.h"
#include "proto/tcp.h"
#include "wire.h"

struct wire_frame {
	STAILQ_ENTRY(wire_frame) link;
	size_t len;
	unsigned char data[];
};

STAILQ_HEAD(wire_fifo, wire_frame);

/* A super-frame the end sends from the stack's memory, cut only later (wire_opts.keep). */
struct wire_kept {
	struct iovec iov[NETDEV_GSO_MAX_SEGS + 1];
	int iovcnt;
	struct netdev_gso gso;
	int nframes;  /* plain frames, one per iov (xmit_batch_keep); 0: a super-frame */
	uint32_t sum; /* of the bytes when given: they must be the same when cut */
};

struct wire_end {
	struct wire_fifo rxq; /* frames arriving at this end */
	/* Kept super-frames, oldest first, and how many were cut (tx_done). */
	struct wire_kept kept[NETDEV_TX_KEEP_MAX];
	unsigned int kept_head, kept_n;
	uint64_t kept_done;
	unsigned int qlen;
	struct wire_frame *held; /* a frame held back for reordering, sent from this end */
	struct net_device dev;
	struct wire *wire;
	int idx;
	bool attached;
	bool deleted; /* wire_delete_end(): the interface is gone */
};

struct wire {
	struct wire_opts opts;
	uint64_t rng;
	struct wire_end end[2];
	unsigned char rxbuf[ETH_FRAME_MAX];
	unsigned char gsobuf[ETH_FRAME_MAX]; /* a super-frame being cut */
	unsigned long gso_bad;		     /* super-frames that broke the contract */
	unsigned long batches;		     /* xmit_batch calls */
	unsigned long kept_total;	     /* super-frames sent from the stack's memory */
	unsigned long pushed;		     /* batches of plain frames sent so */
	unsigned long kept_changed;	     /* of which the bytes changed before the cut */
};

static double wire_rand(struct wire *w)
{
	/* xorshift64*: plenty for test impairments. */
	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	return (double)((w->rng * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

/* Creates a wire; opts may be NULL for a perfect link. */
int wire_create(const struct wire_opts *opts, struct wire **res)
{
	struct wire *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	if (opts)
		w->opts = *opts;
	if (!w->opts.max_queue)
		w->opts.max_queue = 65536;
	w->rng = w->opts.seed ? w->opts.seed : 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < 2; i++)
		STAILQ_INIT(&w->end[i].rxq);
	*res = w;
	return 0;
}

static void fifo_free(struct wire_fifo *q)
{
	struct wire_frame *f;

	while ((f = STAILQ_FIRST(q)) != NULL) {
		STAILQ_REMOVE_HEAD(q, link);
		free(f);
	}
}

/* Frees the wire and any frames still on it. */
void wire_destroy(struct wire *w)
{
	if (!w)
		return;
	for (int i = 0; i < 2; i++) {
		fifo_free(&w->end[i].rxq);
		free(w->end[i].held);
	}
	free(w);
}

static int enqueue(struct wire *w, int to, const void *frame, size_t len)
{
	struct wire_end *e = &w->end[to];
	struct wire_frame *f;

	if (e->qlen >= w->opts.max_queue)
		return 0; /* tail drop, as a full queue on a real link */
	f = malloc(sizeof(*f) + len);
	if (!f)
		return -ENOMEM;
	f->len = len;
	memcpy(f->data, frame, len);
	STAILQ_INSERT_TAIL(&e->rxq, f, link);
	e->qlen++;
	return 0;
}

/* Sends a frame from endpoint end to the other one, applying the impairments. */
int wire_send(struct wire *w, int end, const void *frame, size_t len)
{
	struct wire_end *from = &w->end[end];
	int to = !end;
	int err;

	if (w->opts.loss > 0 && wire_rand(w) < w->opts.loss)
		return 0;
	if (w->opts.reorder > 0 && !from->held && wire_rand(w) < w->opts.reorder) {
		from->held = malloc(sizeof(*from->held) + len);
		if (!from->held)
			return -ENOMEM;
		from->held->len = len;
		memcpy(from->held->data, frame, len);
		return 0;
	}
	err = enqueue(w, to, frame, len);
	if (!err && w->opts.dup > 0 && wire_rand(w) < w->opts.dup)
		err = enqueue(w, to, frame, len);
	if (!err && from->held) {
		/* The held frame now goes out behind the one that overtook it. */
		err = enqueue(w, to, from->held->data, from->held->len);
		free(from->held);
		from->held = NULL;
	}
	return err;
}

/* Takes the next frame that arrived at endpoint end. */
ssize_t wire_recv(struct wire *w, int end, void *buf, size_t cap)
{
	struct wire_end *e = &w->end[end];
	struct wire_frame *f = STAILQ_FIRST(&e->rxq);
	size_t n;

	if (!f) {
		/* A frame held for reordering must not wait forever on an idle link. */
		struct wire_end *peer = &w->end[!end];

		if (!peer->held)
			return -EAGAIN;
		f = peer->held;
		peer->held = NULL;
		n = f->len < cap ? f->len : cap;
		memcpy(buf, f->data, n);
		free(f);
		return (ssize_t)n;
	}
	STAILQ_REMOVE_HEAD(&e->rxq, link);
	e->qlen--;
	n = f->len < cap ? f->len : cap;
	memcpy(buf, f->data, n);
	free(f);
	return (ssize_t)n;
}

/* Frames waiting for endpoint end (including one held back for it). */
unsigned int wire_pending(const struct wire *w, int end)
{
	return w->end[end].qlen + (w->end[!end].held ? 1u : 0u);
}

static int wire_xmit_gso(struct net_device *dev, const struct iovec *iov, int iovcnt,
			 const struct netdev_gso *gso);

static uint32_t iov_sum(const struct iovec *iov, int iovcnt)
{
	uint32_t sum = 0;

	/* Position-dependent (a checksum would not see two bytes swapped between pieces). */
	for (int i = 0; i < iovcnt; i++)
		for (size_t j = 0; j < iov[i].iov_len; j++)
			sum = sum * 31 + ((const uint8_t *)iov[i].iov_base)[j];
	return sum;
}

/*
 * Cuts the super-frames end e kept, oldest first, reading the stack's
 * memory only now, as a TX thread that lags would: a byte the stack changed
 * or reused meanwhile arrives changed. Refused ones count in gso_bad.
 */
static void wire_kept_flush(struct wire_end *e, unsigned int max)
{
	while (e->kept_n && max--) {
		struct wire_kept *k = &e->kept[e->kept_head];

		if (iov_sum(k->iov, k->iovcnt) != k->sum)
			e->wire->kept_changed++;
		for (int i = 0; i < k->nframes; i++)
			if (!e->deleted)
				(void)wire_send(e->wire, e->idx, k->iov[i].iov_base,
						k->iov[i].iov_len);
		if (!k->nframes)
			(void)wire_xmit_gso(&e->dev, k->iov, k->iovcnt, &k->gso);
		e->kept_head = (e->kept_head + 1) % NETDEV_TX_KEEP_MAX;
		e->kept_n--;
		e->kept_done++;
	}
}

static int wire_xmit(struct net_device *dev, const void *frame, size_t len)
{
	struct wire_end *e = dev->priv;
	struct wire *w = e->wire;

	wire_kept_flush(e, NETDEV_TX_KEEP_MAX); /* frames leave in the order given */
	if (e->deleted)
		return -ENXIO; /* what send() on a deleted interface's packet socket says */
	if (w->opts.enobufs > 0 && wire_rand(w) < w->opts.enobufs)
		return -ENOBUFS;
	return wire_send(w, e->idx, frame, len);
}

/* Frames one after the other, as sendmmsg() sends them: up to the first failure. */
static int wire_xmit_batch(struct net_device *dev, const struct iovec *frames, int n)
{
	struct wire_end *e = dev->priv;

	e->wire->batches++;
	for (int i = 0; i < n; i++) {
		int rc = wire_xmit(dev, frames[i].iov_base, frames[i].iov_len);

		if (rc)
			return i ? i : rc;
	}
	return n;
}

/*
 * Cuts a TCP super-frame as the kernel's software GSO does for a packet
 * socket with virtio_net_hdr: each piece gets the headers with its own IP
 * length (IPv4: also its ID, counting up, and header checksum), sequence
 * number and a full TCP checksum; PSH stays on the last piece only. A
 * super-frame whose TCP checksum field is not the pseudo-header sum of the
 * whole, or whose offsets are not the plain Ethernet/IPv4/TCP or
 * Ethernet/IPv6/TCP ones, is refused (-EINVAL), as a device would drop it.
 */
static int wire_xmit_gso(struct net_device *dev, const struct iovec *iov, int iovcnt,
			 const struct netdev_gso *gso)
{
	struct wire_end *e = dev->priv;
	struct wire *w = e->wire;
	unsigned char *f = w->gsobuf, piece[ETH_FRAME_MAX];
	size_t len = 0, hl = gso->hdr_len, ipoff = ETH_HLEN;
	size_t tcpoff = ETH_HLEN + (gso->tcpv6 ? IPV6_HLEN : IP_HLEN_MIN);
	const struct iphdr *iph = (const struct iphdr *)(f + ipoff);
	const struct tcphdr *th = (const struct tcphdr *)(f + tcpoff);
	uint16_t id0, pseudo;
	uint32_t seq0;
	bool net_ok;

	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > sizeof(w->gsobuf) - len)
			return -EMSGSIZE;
		memcpy(f + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	if (len < tcpoff + TCP_HLEN_MIN) {
		w->gso_bad++;
		return -EINVAL;
	}
	if (gso->tcpv6) {
		pseudo = csum_ipv6_partial(f + ipoff + 8, f + ipoff + 24, (uint32_t)(len - tcpoff),
					   IPPROTO_TCP);
		net_ok = (f[ipoff] >> 4) == 6 && f[ipoff + 6] == IPPROTO_TCP &&
			 (size_t)(f[ipoff + 4] << 8 | f[ipoff + 5]) == len - tcpoff;
	} else {
		pseudo = csum_tcpudp_partial(iph->saddr, iph->daddr, (uint32_t)(len - tcpoff),
					     IPPROTO_TCP);
		net_ok = iph->ver_ihl == 0x45 && ntohs(iph->tot_len) == len - ipoff;
	}
	if (!net_ok || hl < tcpoff + TCP_HLEN_MIN || hl >= len || gso->size == 0 ||
	    gso->csum_start != tcpoff || gso->csum_offset != 16 ||
	    hl != tcpoff + (size_t)TCP_DOFF(th) * 4 || th->check != pseudo) {
		w->gso_bad++;
		return -EINVAL;
	}
	id0 = gso->tcpv6 ? 0 : ntohs(iph->id);
	seq0 = ntohl(th->seq);
	for (size_t off = hl, i = 0; off < len; off += gso->size, i++) {
		size_t n = len - off < gso->size ? len - off : gso->size;
		struct tcphdr *pth = (struct tcphdr *)(piece + tcpoff);
		uint32_t sum;
		int err;

		memcpy(piece, f, hl);
		memcpy(piece + hl, f + off, n);
		if (gso->tcpv6) {
			piece[ipoff + 4] = (uint8_t)((hl - tcpoff + n) >> 8);
			piece[ipoff + 5] = (uint8_t)(hl - tcpoff + n);
		} else {
			struct iphdr *pip = (struct iphdr *)(piece + ipoff);

			pip->tot_len = htons((uint16_t)(hl - ipoff + n));
			pip->id = htons((uint16_t)(id0 + i));
			pip->check = 0;
			pip->check = ip_fast_csum(pip, 5);
		}
		pth->seq = htonl(seq0 + (uint32_t)(off - hl));
		if (off + n < len)
			pth->flags &= (uint8_t) ~(TH_PSH | TH_FIN);
		pth->check = 0;
		sum = csum_partial(pth, hl - tcpoff + n, 0);
		if (gso->tcpv6) {
			pth->check = csum_fold(
			    csum_ipv6_nofold(piece + ipoff + 8, piece + ipoff + 24,
					     (uint32_t)(hl - tcpoff + n), IPPROTO_TCP, sum));
		} else {
			const struct iphdr *pip = (const struct iphdr *)(piece + ipoff);

			pth->check = csum_tcpudp_magic(
			    pip->saddr, pip->daddr, (uint32_t)(hl - tcpoff + n), IPPROTO_TCP, sum);
		}
		err = wire_send(w, e->idx, piece, hl + n);
		if (err)
			return err;
	}
	return 0;
}

/*
 * The next kept entry of end e, holding iov (not its bytes) and their sum:
 * the oldest is sent first when limit (at most NETDEV_TX_KEEP_MAX) wait.
 */
static struct wire_kept *wire_kept_add(struct wire_end *e, unsigned int limit,
				       const struct iovec *iov, int iovcnt)
{
	struct wire_kept *k;

	if (e->kept_n >= limit || e->kept_n == NETDEV_TX_KEEP_MAX)
		wire_kept_flush(e, 1);
	k = &e->kept[(e->kept_head + e->kept_n) % NETDEV_TX_KEEP_MAX];
	memcpy(k->iov, iov, (size_t)iovcnt * sizeof(*iov));
	k->iovcnt = iovcnt;
	k->sum = iov_sum(iov, iovcnt);
	e->kept_n++;
	return k;
}

/* With wire_opts.keep, holds the super-frame's iov (not its bytes) to cut it later. */
static int wire_xmit_gso_keep(struct net_device *dev, const struct iovec *iov, int iovcnt,
			      const struct netdev_gso *gso)
{
	struct wire_end *e = dev->priv;
	struct wire *w = e->wire;
	struct wire_kept *k;

	if (!w->opts.keep || iovcnt > NETDEV_GSO_MAX_SEGS + 1)
		return wire_xmit_gso(dev, iov, iovcnt, gso);
	k = wire_kept_add(e, w->opts.keep, iov, iovcnt);
	k->gso = *gso;
	k->nframes = 0;
	w->kept_total++;
	return 1;
}

/* With wire_opts.push, holds plain frames (their iov) until the stack releases its lock. */
static int wire_xmit_batch_keep(struct net_device *dev, const struct iovec *frames, int n)
{
	struct wire_end *e = dev->priv;
	struct wire *w = e->wire;
	struct wire_kept *k;

	if (!w->opts.push || n > NETDEV_TX_KEEP_BATCH)
		return 0;
	k = wire_kept_add(e, NETDEV_TX_KEEP_MAX, frames, n);
	k->nframes = n;
	w->pushed++;
	return 1;
}

/* The stack released its lock: what it left (and any super-frame before) leaves now. */
static void wire_tx_push(struct net_device *dev)
{
	wire_kept_flush(dev->priv, NETDEV_TX_KEEP_MAX);
}

unsigned long wire_tx_pushed(const struct wire *w)
{
	return w->pushed;
}

static uint64_t wire_tx_done(struct net_device *dev)
{
	return ((struct wire_end *)dev->priv)->kept_done;
}

static void wire_tx_drain(struct net_device *dev)
{
	wire_kept_flush(dev->priv, NETDEV_TX_KEEP_MAX);
}

/* Super-frames sent from a stack's memory so far (either end). */
unsigned long wire_tx_kept(const struct wire *w)
{
	return w->kept_total;
}

/* Of those, the ones whose bytes the stack changed before they were cut. */
unsigned long wire_tx_kept_changed(const struct wire *w)
{
	return w->kept_changed;
}

void wire_delete_end(struct wire *w, int end)
{
	w->end[end].deleted = true;
}

/* Super-frames refused by wire_xmit_gso(). */
unsigned long wire_gso_errors(const struct wire *w)
{
	return w->gso_bad;
}

/* xmit_batch calls so far (either end). */
unsigned long wire_tx_batches(const struct wire *w)
{
	return w->batches;
}

static int wire_poll(struct net_device *dev, int budget)
{
	struct wire_end *e = dev->priv;
	int n = 0;

	/* What the other end kept arrives now: the lag a TX thread has. */
	wire_kept_flush(&e->wire->end[!e->idx], NETDEV_TX_KEEP_MAX);
	if (e->deleted)
		return -ENODEV;
	while (n < budget) {
		ssize_t len = wire_recv(e->wire, e->idx, e->wire->rxbuf, sizeof(e->wire->rxbuf));

		if (len < 0)
			break;
		netdev_rx_frame(dev, e->wire->rxbuf, (size_t)len);
		n++;
	}
	return n;
}

static int wire_get_fd(struct net_device *dev)
{
	(void)dev;
	return -1;
}

static void wire_close(struct net_device *dev)
{
	struct wire_end *e = dev->priv;

	e->attached = false;
}

static const struct netdev_ops wire_netdev_ops = {
    .xmit = wire_xmit,
    .xmit_gso = wire_xmit_gso,		     /* used when a test sets NETDEV_F_TX_GSO */
    .xmit_batch = wire_xmit_batch,	     /* likewise (plain frames held under a plug) */
    .xmit_gso_keep = wire_xmit_gso_keep,     /* sends late with wire_opts.keep */
    .xmit_batch_keep = wire_xmit_batch_keep, /* and with wire_opts.push (NETDEV_F_TX_DEFER) */
    .tx_push = wire_tx_push,
    .tx_done = wire_tx_done,
    .tx_drain = wire_tx_drain,
    .poll = wire_poll,
    .get_fd = wire_get_fd,
    .close = wire_close,
};

/* The netdev of endpoint end, for a stack to own. */
struct net_device *wire_netdev(struct wire *w, int end, const uint8_t mac[6], unsigned int mtu)
{
	struct wire_end *e = &w->end[end];

	memset(&e->dev, 0, sizeof(e->dev));
	snprintf(e->dev.name, sizeof(e->dev.name), "wire%d", end);
	memcpy(e->dev.dev_addr, mac, ETH_ALEN);
	e->dev.mtu = mtu ? mtu : ETH_DATA_LEN;
	e->dev.ifindex = end + 1;
	e->dev.ops = &wire_netdev_ops;
	/* Frames leave when the stack has released its lock (with NETDEV_F_TX_GSO). */
	e->dev.flags = w->opts.push ? NETDEV_F_TX_DEFER : 0;
	e->dev.priv = e;
	e->wire = w;
	e->idx = end;
	e->attached = true;
	return &e->dev;
}
