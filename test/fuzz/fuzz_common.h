/*
 * Shared pieces of the libFuzzer targets: two stacks on one in-memory wire
 * with a manual clock and seeded random sources (so every input replays
 * exactly), frame builders, checksum repair for mutated frames, and the
 * leak check that ends every input.
 *
 * Stack A (end 0, 198.18.0.2, MAC ..:02) is the one under test. Stack B
 * (end 1, 198.18.0.1, MAC ..:01) is a real peer used to build connections;
 * frames from the fuzzer are sent from end 1, so they look like B's.
 */
#ifndef NSTACK_FUZZ_COMMON_H
#define NSTACK_FUZZ_COMMON_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "nstack.h"
#include "wire.h"

#define FZ_IP_A	     htonl(0xc6120002u) /* 198.18.0.2 */
#define FZ_IP_B	     htonl(0xc6120001u) /* 198.18.0.1 */
#define FZ_FRAME_MAX 65600
#define FZ_CLOCK0    1000000ull

extern const uint8_t fz_mac_a[6];
extern const uint8_t fz_mac_b[6];

struct fz {
	struct wire *w;
	struct nstack *a, *b;
	uint64_t now;
	uint32_t rng_a, rng_b;
	/* Seed generation: frames sent to A during setup are copied here (see fz_record). */
	void (*record)(const void *frame, size_t len);
};

extern struct fz FZ;

/* Prints the message and aborts, so libFuzzer reports the input. */
void fz_die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
#define FZ_CHECK(cond)                                                                             \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fz_die("%s:%d: check failed: %s", __FILE__, __LINE__, #cond);              \
	} while (0)

/* Builds the wire and stack A; with_b also builds stack B (else end 1 is the fuzzer's). */
void fz_setup(bool with_b);
/*
 * Runs every timer of both stacks for up to a simulated day (the caller
 * closed its sockets) and aborts unless no socket or buffer is left.
 */
void fz_check_drained(void);
/*
 * Closes nothing (the caller closes its sockets first), runs every timer of
 * both stacks for up to a simulated day, asserts no socket or buffer is
 * left on either stack, and destroys everything.
 */
void fz_teardown(void);

/* Moves the clock by delta microseconds and lets both stacks run. */
void fz_advance(uint64_t delta);
/* Runs both stacks (A, then B) until the wire is quiet; the clock stays. */
void fz_settle(void);
/* Throws away frames waiting at end (0: for A, 1: for B). */
void fz_drop(int end);
/* Sends frame from end 1 to A and processes it (B untouched). */
void fz_inject(const void *frame, size_t len);
/* Lets only A run; what it sends stays queued for B. */
void fz_run_a(void);

/*
 * A socket on ns with a blocking-call safety net: every would-be sleep
 * (a socket the input left blocking) returns EINTR at once instead of
 * hanging the fuzzer. Installed on both stacks by fz_setup.
 */
struct socket *fz_socket(struct nstack *ns, int type, int protocol);
struct sockaddr_in fz_sin(uint32_t addr, uint16_t port);

/* Repairs the IPv4 header checksum and, for unfragmented TCP/UDP/ICMP, the L4 checksum. */
void fz_fix_checksums(uint8_t *frame, size_t len);

/* Frame builders (Ethernet B -> A + IPv4 B -> A); return the frame length. */
size_t fz_build_ip(uint8_t *buf, uint8_t proto, uint16_t id, uint16_t frag, const void *l4,
		   size_t l4len);
size_t fz_build_tcp(uint8_t *buf, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
		    uint8_t flags, uint16_t win, const void *opts, size_t optlen, const void *data,
		    size_t dlen);
size_t fz_build_udp(uint8_t *buf, uint16_t sport, uint16_t dport, const void *data, size_t dlen);
size_t fz_build_arp(uint8_t *buf, uint16_t op, const uint8_t sha[6], uint32_t sip, uint32_t tip);

/* Writes data to dir/name (seed generation). */
void fz_write_file(const char *dir, const char *name, const void *data, size_t len);

#endif

/*
 * Snapshots: the state of both stacks (their arenas, per-process parts and
 * devices), the clock and the random sources, taken once and put back
 * before each input. Creating a stack zeroes megabytes of fresh shared
 * memory and building a fixture takes dozens of handshakes; putting the
 * bytes back takes a fraction of that, and every input starts from exactly
 * the same state. Both wire queues must be empty when taking one.
 */
void fz_snap_take(void);
void fz_snap_restore(void);
