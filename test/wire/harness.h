/*
 * Packet-level test harness, after smoltcp's tests: one stack on end 0 of an
 * in-memory wire, the test playing the peer on end 1, a manual clock and a
 * seeded random source. Inject one frame, assert the exact frames sent back,
 * assert nothing more.
 *
 * Addresses: the stack is 198.18.0.2/24 (T_LOCAL_IP) with MAC
 * 02:00:00:00:00:02, the peer 198.18.0.1 (T_PEER_IP, also the gateway) with
 * MAC 02:00:00:00:00:01. All in network order.
 */
#ifndef NSTACK_TEST_HARNESS_H
#define NSTACK_TEST_HARNESS_H

#include <check.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "nstack.h"
#include "wire.h"

#define T_IP(a, b, c, d) ((uint32_t)htonl(((uint32_t)(a) << 24) | ((b) << 16) | ((c) << 8) | (d)))
#define T_LOCAL_IP	 T_IP(198, 18, 0, 2)
#define T_PEER_IP	 T_IP(198, 18, 0, 1)
#define T_OTHER_IP	 T_IP(198, 18, 1, 7) /* off-link: routed via the gateway */
#define T_CLOCK_START	 1000000ull	     /* the manual clock starts at 1 s */
#define T_FRAME_MAX	 65600

extern const uint8_t t_local_mac[6];
extern const uint8_t t_peer_mac[6];
extern const uint8_t t_bcast_mac[6];

struct t_opts {
	unsigned int mtu;    /* 0 = 1500 */
	bool gratuitous_arp; /* default false in tests */
	bool no_peer_neigh;  /* by default the peer's MAC is a permanent neighbour */
	uint32_t seed;	     /* random source seed; 0 = fixed default */
	void (*tweak)(struct nstack_config *cfg); /* last word on the config */
};

struct t_ctx {
	struct nstack *ns;
	struct wire *wire;
	uint64_t now;
	uint64_t
	    tick_us; /* the clock also moves this much at every reading of it (0: it does not) */
	uint32_t rng;
};

/* The fixture of the running test (Check forks per test, so one is enough). */
extern struct t_ctx T;

void t_setup(void);
void t_setup_opts(const struct t_opts *o);
/* Destroys the stack and asserts no skb or sock is left behind. */
void t_teardown(void);

/* Moves the manual clock (absolute or relative) and runs due timers. */
void t_clock_set(uint64_t now_us);
void t_clock_advance(uint64_t delta_us);
/* Peer -> stack: delivers the frame and lets the stack process it. */
void t_inject(const void *frame, size_t len);
/* Stack -> peer: next frame sent; false when none. */
bool t_try_recv(void *buf, size_t cap, size_t *len);
/* Like t_try_recv() but fails the test when nothing was sent. */
size_t t_recv(void *buf, size_t cap);
void t_expect_no_tx(void);
/* Asserts the next frame sent equals want byte for byte (hex dump on mismatch). */
void t_expect_frame(const void *want, size_t len);

/* Frame builders; each returns the number of bytes written to buf. */
size_t t_build_eth(void *buf, const uint8_t dst[6], const uint8_t src[6], uint16_t type,
		   const void *payload, size_t plen);
/* An IPv4 header (IHL 5, checksum computed) followed by payload. */
size_t t_build_ipv4(void *buf, uint32_t src, uint32_t dst, uint8_t proto, uint16_t id,
		    uint16_t frag_off, uint8_t ttl, const void *payload, size_t plen);
/* UDP header with a correct checksum followed by payload. */
size_t t_build_udp(void *buf, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
		   const void *payload, size_t plen);
/* A TCP segment's fields, host order; urg goes with TH_URG. */
struct t_tcp_seg {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	const uint8_t *opt; /* a multiple of 4 bytes */
	size_t optlen;
	const void *data;
	size_t len;
	uint16_t urg;
};
/* TCP header (options, checksum for src -> dst) followed by the segment's data. */
size_t t_build_tcp(void *buf, uint32_t src, uint32_t dst, const struct t_tcp_seg *s);
size_t t_build_arp(void *buf, uint16_t op, const uint8_t sha[6], uint32_t sip, const uint8_t tha[6],
		   uint32_t tip);
/* Ethernet(peer -> local) + IPv4(peer -> local) + payload, in one go. */
size_t t_build_peer_ip(void *buf, uint8_t proto, uint16_t id, const void *payload, size_t plen);
/* Ethernet + IPv4 from the peer: ICMP type/code quoting qlen bytes (0: all) of the IP packet
 * in the frame sent. */
size_t t_build_peer_icmp_error(void *buf, const void *sent, uint8_t type, uint8_t code, size_t qlen,
			       uint16_t id);

/*
 * A test transport: prot handles IP protocol proto on the test stack until
 * t_del_protocol() (call it before t_teardown(); nothing once the stack is
 * gone). t_proto_drop() is a handler that frees what it gets.
 */
struct inet_protocol;
struct sk_buff;
void t_add_protocol(const struct inet_protocol *prot, uint8_t proto);
void t_del_protocol(uint8_t proto);
int t_proto_drop(struct sk_buff *skb);

/* An AF_INET socket of type and protocol on the test stack; fails the test on error. */
struct socket *t_socket(int type, int protocol);
/* An AF_INET address (addr in network order, port in host order). */
struct sockaddr_in t_sin(uint32_t addr, uint16_t port);

/* sendmsg() of buf to addr:port (port in host order); no msg_name when both are 0. */
ssize_t t_send_to(struct socket *s, const void *buf, size_t len, uint32_t addr, uint16_t port);
/* The same with sendmsg() flags. */
ssize_t t_send_flags(struct socket *s, const void *buf, size_t len, uint32_t addr, uint16_t port,
		     int flags);
/* Non-blocking recvmsg() into buf; the source into *from when from is given. */
ssize_t t_recv_from(struct socket *s, void *buf, size_t len, struct sockaddr_in *from);
/* An ICMP echo or echo reply (id and seq in host order) with payload, checksum computed. */
size_t t_build_echo(void *buf, uint8_t type, uint16_t id, uint16_t seq, const void *payload,
		    size_t plen);

/*
 * IPv6: the fixture t_setup_v6() gives the stack 2001:2::2/64 (t_local6,
 * link-local t_local6_ll from its MAC) with the peer t_peer6 (link-local
 * t_peer6_ll) a permanent neighbour, duplicate address detection over.
 */
extern const struct in6_addr t_local6, t_peer6, t_local6_ll, t_peer6_ll;
void t_setup_v6(void);
struct sockaddr_in6 t_sin6(const struct in6_addr *a, uint16_t port);
/* An IPv6 header (payload length plen) followed by payload (which may overlap buf + 40). */
size_t t_build_ip6(void *buf, const struct in6_addr *src, const struct in6_addr *dst,
		   uint8_t nexthdr, uint8_t hlim, uint8_t tclass, const void *payload, size_t plen);
/* The next frame sent that is IPv6 with next header nexthdr (others skipped); fails when none. */
size_t t_recv6(void *buf, uint8_t nexthdr);
/* One recvmsg() of an IPv6 datagram socket: data, source, control messages, flags. */
struct t_rx6 {
	ssize_t n;
	unsigned char data[4096];
	struct sockaddr_in6 from;
	socklen_t fromlen;
	_Alignas(struct cmsghdr) unsigned char ctl[256];
	size_t ctllen;
	int flags;
};
/* Non-blocking recvmsg() of at most cap bytes into r (flags added to MSG_DONTWAIT). */
void t_recv6_msg(struct socket *s, struct t_rx6 *r, size_t cap, int flags);
/* The control message level/type that r carries, or NULL. */
const struct cmsghdr *t_find_cmsg(const struct t_rx6 *r, int level, int type);

/* A counter by name; fails the test for an unknown name. */
uint64_t t_stat(const char *name);
void t_hexdump(const char *title, const void *p, size_t len);

#endif
