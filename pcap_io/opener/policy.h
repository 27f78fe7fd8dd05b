/*
 * nstack-opener's policy: which users may open which interface for which
 * addresses. One rule per line, '#' starts a comment:
 *
 *     WHO        INTERFACE   ADDRESSES
 *     alice      veth1       198.18.0.2/32
 *     @netlab    *           198.18.0.0/15
 *     1001       lab0        198.18.7.0/24,198.19.7.0/24
 *
 * WHO is a user name, a numeric uid, @group (name or gid: any of the
 * caller's groups) or * (anyone); INTERFACE a name or *; ADDRESSES a
 * comma-separated list of IPv4 and IPv6 prefixes: the requested IPv4
 * address must lie in one, and with IPv6 on the requested IPv6 address
 * too (without a static one, its link-local address fe80::/64).
 * A request is granted when any line matches all three. Root needs no line.
 */
#ifndef NSTACK_OPENER_POLICY_H
#define NSTACK_OPENER_POLICY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define POLICY_MAX_GROUPS 64

/* Who is asking; names may be NULL when the system has none for the id. */
struct policy_who {
	uid_t uid;
	const char *user;
	int ngroups;
	gid_t gids[POLICY_MAX_GROUPS];
	const char *groups[POLICY_MAX_GROUPS];
};

/*
 * Checks text (the whole policy file) for who using ifname with addr
 * (network order) and, when not NULL, the IPv6 address addr6. 0 when a line grants it, -EPERM when
 * none does, -EINVAL for a malformed line (its number in *bad_line; such a file grants nothing, so
 * that a typo cannot widen access).
 */
int policy_check(const char *text, const struct policy_who *who, const char *ifname, uint32_t addr,
		 const uint8_t *addr6, unsigned int *bad_line);

#endif
