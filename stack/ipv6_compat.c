/*
 * TEMPORARY until the IPv6 fragmentation/PMTU branch lands: the link MTU
 * as the path MTU, and Linux's ICMPv6 errno table.
 */
#include <errno.h>

#include "icmpv6.h"
#include "ipv6.h"
#include "stack.h"

unsigned int ip6_dst_mtu(struct nstack *ns, const struct in6_addr *daddr)
{
	(void)daddr;
	return ip6_mtu(ns);
}

int icmpv6_err_convert(uint8_t type, uint8_t code, int *err)
{
	static const struct {
		int err;
		int fatal;
	} unreach[] = {
	    {EHOSTUNREACH, 0}, {EACCES, 1}, {EHOSTUNREACH, 0}, {EHOSTUNREACH, 1},
	    {ECONNREFUSED, 1}, {EACCES, 1}, {EACCES, 1},
	};

	*err = EPROTO;
	switch (type) {
	case ICMPV6_DEST_UNREACH:
		if (code < sizeof(unreach) / sizeof(unreach[0])) {
			*err = unreach[code].err;
			return unreach[code].fatal;
		}
		return 1;
	case ICMPV6_PKT_TOOBIG:
		*err = EMSGSIZE;
		return 1;
	case ICMPV6_PARAMPROB:
		return 1;
	case ICMPV6_TIME_EXCEED:
		*err = EHOSTUNREACH;
		return 0;
	}
	return 0;
}
