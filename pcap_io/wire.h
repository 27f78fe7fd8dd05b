/*
 * The in-memory wire: a point-to-point Ethernet link between two endpoints,
 * for tests. Either endpoint can be a stack (wire_netdev()) or the test
 * itself (wire_send()/wire_recv()). Frames are queued, never lost unless the
 * options ask for loss, duplication or reordering (seeded, so runs repeat).
 * Not thread-safe: tests drive both stacks from one thread.
 */
#ifndef NSTACK_WIRE_H
#define NSTACK_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct net_device;
struct wire;

struct wire_opts {
	double loss;	/* probability a frame is dropped */
	double dup;	/* probability a frame is delivered twice */
	double reorder; /* probability a frame is held back behind the next one */
	uint32_t seed;
	unsigned int max_queue; /* frames per direction before tail drop; 0 = 65536 */
	double enobufs;		/* probability a stack's send is refused (-ENOBUFS), as a full
				 * packet socket refuses one: not sent, the stack must retry */
	/*
	 * Super-frames (NETDEV_F_TX_GSO) an end sends from the stack's memory
	 * (xmit_gso_keep) and cuts only later, as a TX thread does: when the
	 * other end polls, when this end sends a plain frame, or when more than
	 * keep (at most NETDEV_TX_KEEP_MAX) wait. 0: cut at once, nothing kept.
	 */
	unsigned int keep;
	/*
	 * An end takes plain frames from the stack's memory too (xmit_batch_keep)
	 * and sends them only when told to push (tx_push, after the stack lock
	 * is released), as the live backend does; needs keep.
	 */
	bool push;
};

int wire_create(const struct wire_opts *opts, struct wire **res);
/* Frees the wire; endpoints' netdevs must be closed (their stacks destroyed) first. */
void wire_destroy(struct wire *w);
/* A netdev for endpoint end (0 or 1); the stack given it owns it. */
struct net_device *wire_netdev(struct wire *w, int end, const uint8_t mac[6], unsigned int mtu);
/* Sends a frame from endpoint end to the other end. 0 or -errno. */
int wire_send(struct wire *w, int end, const void *frame, size_t len);
/* Takes the next frame that arrived at endpoint end; -EAGAIN when none. */
ssize_t wire_recv(struct wire *w, int end, void *buf, size_t cap);
/*
 * Super-frames the wire refused: a netdev of the wire segments TCP like a
 * packet socket with virtio_net_hdr once a test sets NETDEV_F_TX_GSO on it.
 */
unsigned long wire_gso_errors(const struct wire *w);
/* xmit_batch calls so far (either end). */
unsigned long wire_tx_batches(const struct wire *w);
/* Super-frames sent from a stack's memory (wire_opts.keep) so far (either end). */
unsigned long wire_tx_kept(const struct wire *w);
/* Batches of plain frames sent from a stack's memory (wire_opts.push) so far (either end). */
unsigned long wire_tx_pushed(const struct wire *w);
/* Of those and the super-frames, the ones whose bytes changed meanwhile (must be none). */
unsigned long wire_tx_kept_changed(const struct wire *w);
/* The interface of endpoint end is deleted: its poll says -ENODEV, sends -ENXIO. */
void wire_delete_end(struct wire *w, int end);
/* Frames waiting for endpoint end. */
unsigned int wire_pending(const struct wire *w, int end);

#endif
