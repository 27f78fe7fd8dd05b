/*
 * TCP segmentation offload, the sending half: consecutive segments that
 * TCP's write loop produced for one flow are joined into one super-frame
 * for a device that segments (a packet socket with virtio_net_hdr makes the
 * kernel do it, as it does for its own TCP). The segments the device cuts
 * from it are the ones TCP made, except the IP IDs, which count up from the
 * first one's (IP_DF is set: nobody reads them). IPv6 segments have no ID.
 */
#ifndef NSTACK_GSO_H
#define NSTACK_GSO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct netdev_gso;

struct tcp_gso_run {
	unsigned int n;	      /* segments joined */
	unsigned int hdr_len; /* Ethernet + IP + TCP headers, the same in each */
	unsigned int size;    /* payload of the first: every one but the last has it */
	unsigned int payload; /* payload of all of them */
	uint32_t next_seq;    /* where a following segment must start */
	bool ended;	      /* the last one was short or pushed: nothing may follow */
	bool v6;	      /* TCP over IPv6: a 40-byte network header, no IP ID */
};

/*
 * Adds the frame to r (r->n == 0: starts a run with it; first is then
 * ignored). False, with r unchanged, when it cannot be part of it: not a
 * plain TCP data segment over IPv4 (no options) or IPv6 (no extension
 * headers), headers other than first's, not contiguous, or the
 * super-frame would pass 64 KiB.
 */
bool tcp_gso_add(struct tcp_gso_run *r, const uint8_t *first, const uint8_t *frame, size_t len);
/*
 * Writes the super-frame's headers (r->hdr_len bytes) into hdr from first's,
 * with last's PSH, and describes the cut in g.
 */
void tcp_gso_build(const struct tcp_gso_run *r, const uint8_t *first, const uint8_t *last,
		   uint8_t *hdr, struct netdev_gso *g);

#endif
