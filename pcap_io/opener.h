/*
 * nstack-opener: a small privileged program (file capability cap_net_raw,
 * or run by root) that opens the packet socket for a program that has no
 * CAP_NET_RAW itself. It checks who asked against its policy file, locks
 * nstack's capture filter onto the socket (SO_LOCK_FILTER: the program sees
 * only its own addresses' frames and cannot widen that) and passes the
 * descriptor back over a Unix socket (SCM_RIGHTS).
 *
 * The library starts it with posix_spawn(), an empty environment and the
 * caller's end of a SOCK_SEQPACKET socketpair as descriptor 3. One request,
 * one reply (with the descriptor when err is 0), then the opener exits.
 */
#ifndef NSTACK_OPENER_H
#define NSTACK_OPENER_H

#include <stddef.h>
#include <stdint.h>

#define OPENER_MAGIC   0x6e736f70u /* "nsop" */
#define OPENER_VERSION 2
#define OPENER_FD      3 /* the opener's end of the socketpair */

struct opener_req {
	uint32_t magic;
	uint32_t version;
	char ifname[16];    /* NUL-terminated, IFNAMSIZ */
	uint32_t addr;	    /* IPv4 address the filter admits, network order */
	uint32_t prefixlen; /* for its subnet broadcast */
	uint8_t mac[6];	    /* destination MAC the filter admits */
	uint8_t tx_only;    /* the filter admits nothing: a send-only handle */
	uint8_t ipv6;	    /* the filter admits IPv6 for us too (link-local, SLAAC) */
	uint8_t has_addr6;  /* addr6 is our static IPv6 address */
	uint8_t pad[3];
	uint8_t addr6[16];
};

struct opener_reply {
	uint32_t magic;
	int32_t err;   /* 0, or a positive errno */
	char msg[240]; /* why not, one line, when err != 0 */
};

/*
 * Runs the opener at path and returns in *fd the packet socket it opened
 * for req: 0, -ENOENT when there is no opener at path (the caller keeps its
 * own error), or another -errno with a one-line explanation in err.
 */
int opener_open(const char *path, const struct opener_req *req, int *fd, char *err, size_t errlen);

#endif
