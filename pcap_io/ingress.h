/*
 * The ingress drop: frames for the stack's addresses end at the interface's
 * ingress hook, after the packet socket saw them.
 *
 * The kernel hands every frame to the packet sockets (the taps) first and to
 * its own IP layer after. With no address of its own for them, it looks up
 * a route for each one only to discard it, on the core that received it (on
 * a veth the sender's). An nftables netdev table with one ingress rule per
 * address ends them right after the taps.
 */
#ifndef NSTACK_INGRESS_H
#define NSTACK_INGRESS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What ingress_drop_open() has to say (NSTACK_INGRESS_DROP). */
struct ingress_drop {
	int fd;		/* the netlink socket that owns the table; -1 = none */
	char table[32]; /* its name */
	char why[96];	/* when not installed by choice: the reason, for the log; "" */
};

/*
 * Installs the table for ifname: IPv4 frames for addr (network order) and,
 * when addr6 is not NULL, IPv6 frames for addr6 are dropped at ingress.
 * The table is owned by a netlink socket (NFT_TABLE_F_OWNER) that d->fd
 * keeps open: the kernel deletes the table when the last copy of that fd
 * closes, also when the process dies, so no rule outlives the processes
 * that hold it. Not installed (returns 0, d->fd = -1, d->why said) when the
 * kernel holds one of the addresses itself (the frames are its own then),
 * or -errno (-EPERM without CAP_NET_ADMIN, the netlink socket's or the
 * batch's error otherwise).
 */
int ingress_drop_open(struct ingress_drop *d, const char *ifname, uint32_t addr,
		      const struct in6_addr *addr6);

/*
 * The netlink batch ingress_drop_open() sends, written into buf (for the
 * tests): its length, or -EMSGSIZE. seq numbers the messages from seq on.
 */
int ingress_drop_batch(uint8_t *buf, size_t len, const char *table, const char *ifname,
		       uint32_t addr, const struct in6_addr *addr6, uint32_t seq);

#endif
