/*
 * ICMPv4 (RFC 792, RFC 1122 3.2.2): echo replies, errors to our sockets,
 * errors we send with Linux's restrictions and per-destination rate limit,
 * and the error-to-errno table.
 */
#include <errno.h>
#include <string.h>

#include "checksum.h"
#include "icmp.h"
#include "ip.h"
#include "ip_priv.h"
#include "ping.h"
#include "raw.h"
#include "stack.h"

#define NR_ICMP_TYPES	  18
#define NR_ICMP_UNREACH	  15
#define ICMP_TIMESTAMP	  13
#define ICMP_ADDRESS	  17
#define ICMP_ADDRESSREPLY 18

/* RFC 1122 3.2.2: an error carries at most 576 bytes in all. */
#define ICMP_ERR_MAXLEN 576
/* IPTOS_PREC_INTERNETCONTROL and IPTOS_TOS_MASK, as Linux marks its errors. */
#define IPTOS_PREC_INTERNETCONTROL 0xc0
#define IPTOS_TOS_MASK		   0x1e

#define ICMP_PEERS 64

/* One destination's token bucket (Linux keeps it in the inet_peer). */
struct icmp_peer {
	uint32_t addr;
	uint64_t last;	 /* rate_last */
	uint64_t tokens; /* rate_tokens, microseconds of credit */
	bool used;
};

/* ns->icmp */
struct icmp_state {
	struct icmp_peer peers[ICMP_PEERS];
};

static bool icmp_is_error(int type)
{
	return type == ICMP_DEST_UNREACH || type == ICMP_SOURCE_QUENCH || type == ICMP_REDIRECT ||
	       type == ICMP_TIME_EXCEEDED || type == ICMP_PARAMETERPROB;
}

/* True for an address no error may be sent to (RFC 1122 3.2.2). */
static bool icmp_bad_dest(const struct nstack *ns, uint32_t addr)
{
	return ipv4_is_zeronet(addr) || ipv4_is_lbcast(addr) || ipv4_is_multicast(addr) ||
	       ipv4_is_loopback(addr) || ipv4_is_class_e(addr) || ip_addr_is_subnet_bcast(ns, addr);
}

static struct icmp_peer *icmp_peer_get(struct nstack *ns, uint32_t addr)
{
	struct icmp_state *st = ns->icmp;
	struct icmp_peer *victim = &st->peers[0];
	uint64_t now = ns_now(ns);

	for (unsigned int i = 0; i < ICMP_PEERS; i++) {
		struct icmp_peer *p = &st->peers[i];

		if (p->used && p->addr == addr)
			return p;
		if (!p->used || (victim->used && p->last < victim->last))
			victim = p;
	}
	/* A new peer starts with a full bucket, as inet_getpeer() dates
	 * rate_last a minute back. */
	victim->used = true;
	victim->addr = addr;
	victim->last = now;
	victim->tokens = (uint64_t)ICMP_RATE_BURST * ICMP_RATELIMIT_US;
	return victim;
}

/*
 * Linux's icmpv4_xrlim_allow() + inet_peer_xrlim_allow(): types in
 * ICMP_RATEMASK (but never "fragmentation needed", which path MTU
 * discovery depends on) are limited per destination to a burst of
 * ICMP_RATE_BURST and then one per ICMP_RATELIMIT_US. Errors to ourselves
 * are never limited.
 */
static bool icmp_xrlim_allow(struct nstack *ns, int type, int code, uint32_t daddr)
{
	struct icmp_peer *p;
	uint64_t now = ns_now(ns);
	uint64_t tokens;

	if (type > NR_ICMP_TYPES)
		return true;
	if (type == ICMP_DEST_UNREACH && code == ICMP_FRAG_NEEDED)
		return true;
	if (!((1u << type) & ICMP_RATEMASK))
		return true;
	if (inet_addr_is_local(ns, daddr))
		return true;
	p = icmp_peer_get(ns, daddr);
	tokens = p->tokens + (now - p->last);
	p->last = now;
	if (tokens > (uint64_t)ICMP_RATE_BURST * ICMP_RATELIMIT_US)
		tokens = (uint64_t)ICMP_RATE_BURST * ICMP_RATELIMIT_US;
	if (tokens >= ICMP_RATELIMIT_US) {
		p->tokens = tokens - ICMP_RATELIMIT_US;
		return true;
	}
	p->tokens = tokens;
	return false;
}

/*
 * Counts an ICMP message sent, by type (Linux's ICMP_MIB_OUTMSGS and
 * icmp_out_count()): the stack's own and those raw sockets send.
 */
void icmp_out_count(struct nstack *ns, int type)
{
	NS_INC_STATS(ns, IcmpOutMsgs);
	switch (type) {
	case ICMP_DEST_UNREACH:
		NS_INC_STATS(ns, IcmpOutDestUnreachs);
		break;
	case ICMP_TIME_EXCEEDED:
		NS_INC_STATS(ns, IcmpOutTimeExcds);
		break;
	case ICMP_ECHO:
		NS_INC_STATS(ns, IcmpOutEchos);
		break;
	case ICMP_ECHOREPLY:
		NS_INC_STATS(ns, IcmpOutEchoReps);
		break;
	}
}

/* Checksums an ICMP message in place (RFC 792: over the whole message). */
static void icmp_set_checksum(struct icmphdr *ih, unsigned int len)
{
	ih->checksum = 0;
	ih->checksum = csum_fold(csum_partial(ih, len, 0));
}

/*
 * Sends an ICMP error about skb_in (Linux's __icmp_send()). info is a host
 * order value: the next-hop MTU for FRAG_NEEDED, the octet pointer for
 * PARAMETERPROB, otherwise the 32-bit "unused/gateway" word.
 */
void icmp_send(struct sk_buff *skb_in, int type, int code, uint32_t info)
{
	struct nstack *ns = skb_in->ns;
	const struct iphdr *iph;
	const unsigned char *nh;
	struct ip_tx_params p = {0};
	struct sk_buff *skb;
	struct icmphdr *ih;
	unsigned int hlen, data_len, room = ICMP_ERR_MAXLEN;
	struct rtable rt;
	uint32_t saddr;
	int err;

	if (skb_in->network_header == SKB_HDR_UNSET)
		return;
	nh = skb_network_header(skb_in);
	if (nh < skb_in->head || nh + IP_HLEN_MIN > skb_in->tail)
		return;
	iph = (const struct iphdr *)nh;
	hlen = IP_IHL(iph) * 4u;
	if (hlen < IP_HLEN_MIN || nh + hlen > skb_in->tail)
		return;
	/* Only about packets sent to us at the link layer... */
	if (skb_in->pkt_type != PACKET_HOST && skb_in->pkt_type != PACKET_LOOPBACK)
		return;
	/* ...to one of our unicast addresses (RFC 1122 3.2.2)... */
	if (ipv4_is_lbcast(iph->daddr) || ipv4_is_multicast(iph->daddr) ||
	    ip_addr_is_subnet_bcast(ns, iph->daddr))
		return;
	/* ...only about the first fragment... */
	if (iph->frag_off & htons(IP_OFFMASK))
		return;
	/* ...from a source that names a single host... */
	if (icmp_bad_dest(ns, iph->saddr))
		return;
	/* ...and never about an ICMP error (RFC 1122 3.2.2). */
	if (icmp_is_error(type) && iph->protocol == IPPROTO_ICMP) {
		const unsigned char *inner = nh + hlen;

		if (inner + 1 > skb_in->tail)
			return;
		if (*inner > NR_ICMP_TYPES || icmp_is_error(*inner))
			return;
	}
	if (!icmp_xrlim_allow(ns, type, code, iph->saddr)) {
		NS_INC_STATS(ns, IcmpOutRateLimited);
		return;
	}
	/* Quote what fits in 576 bytes, or in the path MTU if smaller. */
	if (ip_route_output(ns, iph->saddr, &rt) == 0 && rt.rt_mtu < room)
		room = rt.rt_mtu;
	if (room < IP_HLEN_MIN + ICMP_HLEN + IP_HLEN_MIN)
		return;
	room -= IP_HLEN_MIN + ICMP_HLEN;
	data_len = (unsigned int)(skb_in->tail - nh);
	if (data_len > room)
		data_len = room;
	skb = alloc_skb_hdr(ns, ICMP_HLEN + data_len);
	if (!skb) {
		NS_INC_STATS(ns, IcmpOutErrors);
		return;
	}
	ih = (struct icmphdr *)skb_put(skb, ICMP_HLEN + data_len);
	ih->type = (uint8_t)type;
	ih->code = (uint8_t)code;
	if (type == ICMP_DEST_UNREACH && code == ICMP_FRAG_NEEDED) {
		ih->un.frag.unused = 0;
		ih->un.frag.mtu = htons((uint16_t)info);
	} else if (type == ICMP_PARAMETERPROB) {
		ih->un.gateway = htonl(info << 24);
	} else {
		ih->un.gateway = htonl(info);
	}
	memcpy(ih + 1, nh, data_len);
	icmp_set_checksum(ih, ICMP_HLEN + data_len);
	/* Errors travel as internetwork control (Linux's icmp_send()). */
	p.tos = (iph->tos & IPTOS_TOS_MASK) | IPTOS_PREC_INTERNETCONTROL;
	saddr = inet_addr_is_local(ns, iph->daddr) ? iph->daddr : ns->cfg.addr;
	err = ip_build_and_send(ns, skb, saddr, iph->saddr, IPPROTO_ICMP, &p);
	if (err)
		NS_INC_STATS(ns, IcmpOutErrors);
	else
		icmp_out_count(ns, type);
}

/* Answers an echo request from the address it was sent to (RFC 792, RFC 1122 3.2.2.6). */
static void icmp_echo(struct nstack *ns, struct sk_buff *skb)
{
	const struct iphdr *iph = (const struct iphdr *)skb_network_header(skb);
	struct ip_tx_params p = {0};
	struct sk_buff *reply;
	struct icmphdr *ih;
	int err;

	reply = alloc_skb_hdr(ns, skb->len);
	if (!reply) {
		NS_INC_STATS(ns, IcmpOutErrors);
		return;
	}
	ih = (struct icmphdr *)skb_put(reply, skb->len);
	memcpy(ih, skb->data, skb->len);
	ih->type = ICMP_ECHOREPLY;
	ih->code = 0;
	icmp_set_checksum(ih, skb->len);
	p.tos = iph->tos;
	err = ip_build_and_send(ns, reply, iph->daddr, iph->saddr, IPPROTO_ICMP, &p);
	if (err)
		NS_INC_STATS(ns, IcmpOutErrors);
	else
		icmp_out_count(ns, ICMP_ECHOREPLY);
}

/*
 * Hands an error about one of our packets (skb->data at the quoted IP
 * header, at least its header plus 8 bytes present) to raw sockets and to
 * the quoted protocol (Linux's icmp_socket_deliver()).
 */
static void icmp_socket_deliver(struct nstack *ns, struct sk_buff *skb, int type, int code,
				uint32_t info)
{
	const struct iphdr *iph = (const struct iphdr *)skb->data;
	uint8_t protocol = iph->protocol;
	const struct inet_protocol *prot;

	raw_icmp_error(ns, skb, protocol, type, code, info);
	prot = inet_protocol_get(ns, protocol);
	if (prot && prot->err_handler)
		prot->err_handler(skb, type, code, info);
}

/* An error from the network (Linux's icmp_unreach()); skb->data at the ICMP header. */
static void icmp_unreach(struct nstack *ns, struct sk_buff *skb)
{
	const struct icmphdr *ih = (const struct icmphdr *)skb->data;
	const struct iphdr *qiph;
	int type = ih->type, code = ih->code;
	uint32_t info = 0;

	if (!pskb_may_pull(skb, ICMP_HLEN + IP_HLEN_MIN))
		goto err;
	qiph = (const struct iphdr *)(skb->data + ICMP_HLEN);
	if (IP_IHL(qiph) < 5)
		goto err;
	switch (type) {
	case ICMP_DEST_UNREACH:
		if (code > NR_ICMP_UNREACH)
			return;
		if (code == ICMP_FRAG_NEEDED)
			info = ntohs(ih->un.frag.mtu);
		break;
	case ICMP_PARAMETERPROB:
		info = ntohl(ih->un.gateway) >> 24;
		break;
	default:
		break;
	}
	/* The handlers may read the quoted IP header and 8 bytes after it. */
	if (!pskb_may_pull(skb, ICMP_HLEN + IP_IHL(qiph) * 4u + 8u))
		goto err;
	skb_pull(skb, ICMP_HLEN);
	icmp_socket_deliver(ns, skb, type, code, info);
	return;
err:
	NS_INC_STATS(ns, IcmpInErrors);
}

/*
 * The ICMP receive handler (Linux's icmp_rcv()); skb->data at the ICMP
 * header, the network header set. Consumes skb.
 */
int icmp_rcv(struct sk_buff *skb)
{
	struct nstack *ns = skb->ns;
	const struct iphdr *iph = (const struct iphdr *)skb_network_header(skb);
	const struct icmphdr *ih;

	NS_INC_STATS(ns, IcmpInMsgs);
	if (skb->len < ICMP_HLEN)
		goto error;
	if (csum_fold(csum_partial(skb->data, skb->len, 0)) != 0) {
		NS_INC_STATS(ns, IcmpInCsumErrors);
		goto error;
	}
	ih = (const struct icmphdr *)skb->data;
	if (ipv4_is_lbcast(iph->daddr) || ipv4_is_multicast(iph->daddr) ||
	    ip_addr_is_subnet_bcast(ns, iph->daddr)) {
		/*
		 * RFC 1122 3.2.2.6 lets a host ignore broadcast echo; Linux
		 * does (icmp_echo_ignore_broadcasts=1) and takes no other
		 * type but the query ones from a group address.
		 */
		if (ih->type == ICMP_ECHO || ih->type == ICMP_TIMESTAMP)
			goto error;
		if (ih->type != ICMP_ADDRESS && ih->type != ICMP_ADDRESSREPLY)
			goto error;
	}
	if (ih->type > NR_ICMP_TYPES)
		goto error;
	switch (ih->type) {
	case ICMP_ECHOREPLY:
		NS_INC_STATS(ns, IcmpInEchoReps);
		ping_rcv(skb);
		break;
	case ICMP_ECHO:
		NS_INC_STATS(ns, IcmpInEchos);
		icmp_echo(ns, skb);
		break;
	case ICMP_DEST_UNREACH:
		NS_INC_STATS(ns, IcmpInDestUnreachs);
		icmp_unreach(ns, skb);
		break;
	case ICMP_TIME_EXCEEDED:
		NS_INC_STATS(ns, IcmpInTimeExcds);
		icmp_unreach(ns, skb);
		break;
	case ICMP_SOURCE_QUENCH:
	case ICMP_PARAMETERPROB:
		icmp_unreach(ns, skb);
		break;
	default:
		/* Redirects (a host with one route ignores them), timestamps
		 * and the obsolete types. */
		break;
	}
	kfree_skb(skb);
	return 0;
error:
	NS_INC_STATS(ns, IcmpInErrors);
	kfree_skb(skb);
	return 0;
}

/*
 * Errors quoting an ICMP message we sent (Linux's icmp_err()): those about
 * our echo requests belong to the ping socket that sent them.
 */
static void icmp_err(struct sk_buff *skb, int type, int code, uint32_t info)
{
	const struct iphdr *iph = (const struct iphdr *)skb->data;
	const uint8_t *qtype = skb->data + IP_IHL(iph) * 4u;

	if (*qtype != ICMP_ECHOREPLY)
		ping_err(skb, type, code, info);
}

/*
 * An error about a packet we sent, produced locally (neighbour resolution
 * failed): built as the ICMP message Linux would loop back to itself and
 * delivered through the same path as an error from the network.
 */
void icmp_local_error(struct nstack *ns, const struct sk_buff *orig, int type, int code,
		      uint32_t info)
{
	const struct iphdr *oiph = (const struct iphdr *)orig->data;
	unsigned int qlen = orig->len;
	struct sk_buff *skb;
	struct iphdr *iph;
	struct icmphdr *ih;

	if (qlen < IP_HLEN_MIN || qlen < IP_IHL(oiph) * 4u + 8u)
		return;
	if (qlen > ICMP_ERR_MAXLEN - IP_HLEN_MIN - ICMP_HLEN)
		qlen = ICMP_ERR_MAXLEN - IP_HLEN_MIN - ICMP_HLEN;
	skb = alloc_skb_hdr(ns, IP_HLEN_MIN + ICMP_HLEN + qlen);
	if (!skb)
		return;
	iph = (struct iphdr *)skb_put(skb, IP_HLEN_MIN + ICMP_HLEN + qlen);
	memset(iph, 0, IP_HLEN_MIN + ICMP_HLEN);
	iph->ver_ihl = 0x45;
	iph->tos = IPTOS_PREC_INTERNETCONTROL;
	iph->tot_len = htons((uint16_t)(IP_HLEN_MIN + ICMP_HLEN + qlen));
	iph->ttl = IPDEFTTL;
	iph->protocol = IPPROTO_ICMP;
	iph->saddr = ns->cfg.addr;
	iph->daddr = oiph->saddr;
	iph->check = ip_fast_csum(iph, 5);
	ih = (struct icmphdr *)(iph + 1);
	ih->type = (uint8_t)type;
	ih->code = (uint8_t)code;
	memcpy(ih + 1, orig->data, qlen);
	icmp_set_checksum(ih, ICMP_HLEN + qlen);
	skb->protocol = ETH_P_IP;
	skb->pkt_type = PACKET_HOST;
	skb_reset_network_header(skb);
	skb_pull(skb, IP_HLEN_MIN);
	skb_reset_transport_header(skb);
	skb_pull(skb, ICMP_HLEN);
	icmp_socket_deliver(ns, skb, type, code, info);
	kfree_skb(skb);
}

/*
 * The errno a socket reports for an ICMP error, and whether it is fatal
 * (a "hard" error that aborts a connection), as Linux's icmp_err_convert[]
 * and the switch its transports share. Returns a positive errno for
 * sk_err, 0 for errors to ignore (source quench, RFC 6633).
 */
int icmp_err_convert(int type, int code, int *fatal)
{
	static const struct {
		int err;
		int fatal;
	} unreach[NR_ICMP_UNREACH + 1] = {
	    {ENETUNREACH, 0},  /* NET_UNREACH */
	    {EHOSTUNREACH, 0}, /* HOST_UNREACH */
	    {ENOPROTOOPT, 1},  /* PROT_UNREACH */
	    {ECONNREFUSED, 1}, /* PORT_UNREACH */
	    {EMSGSIZE, 0},     /* FRAG_NEEDED */
	    {EOPNOTSUPP, 0},   /* SR_FAILED */
	    {ENETUNREACH, 1},  /* NET_UNKNOWN */
	    {EHOSTDOWN, 1},    /* HOST_UNKNOWN */
	    {ENONET, 1},       /* HOST_ISOLATED */
	    {ENETUNREACH, 1},  /* NET_ANO */
	    {EHOSTUNREACH, 1}, /* HOST_ANO */
	    {ENETUNREACH, 0},  /* NET_UNR_TOS */
	    {EHOSTUNREACH, 0}, /* HOST_UNR_TOS */
	    {EHOSTUNREACH, 1}, /* PKT_FILTERED */
	    {EHOSTUNREACH, 1}, /* PREC_VIOLATION */
	    {EHOSTUNREACH, 1}, /* PREC_CUTOFF */
	};
	int f = 0, err;

	switch (type) {
	case ICMP_DEST_UNREACH:
		if (code >= 0 && code <= NR_ICMP_UNREACH) {
			err = unreach[code].err;
			f = unreach[code].fatal;
		} else {
			err = EHOSTUNREACH;
		}
		break;
	case ICMP_SOURCE_QUENCH:
		err = 0;
		break;
	case ICMP_PARAMETERPROB:
		err = EPROTO;
		f = 1;
		break;
	case ICMP_TIME_EXCEEDED:
	default:
		err = EHOSTUNREACH;
		break;
	}
	if (fatal)
		*fatal = f;
	return err;
}

static const struct inet_protocol icmp_protocol = {
    .handler = icmp_rcv,
    .err_handler = icmp_err,
};

/* Creates the rate-limit state and registers IPPROTO_ICMP. */
int icmp_init(struct nstack *ns)
{
	struct icmp_state *st = ns_zalloc(ns, sizeof(*st));
	int err;

	if (!st)
		return -ENOMEM;
	ns->icmp = st;
	err = inet_add_protocol(ns, &icmp_protocol, IPPROTO_ICMP);
	if (err) {
		ns_free(ns, st);
		ns->icmp = NULL;
	}
	return err;
}

/* Unregisters IPPROTO_ICMP and frees the state. */
void icmp_exit(struct nstack *ns)
{
	if (!ns->icmp)
		return;
	inet_del_protocol(ns, IPPROTO_ICMP);
	ns_free(ns, ns->icmp);
	ns->icmp = NULL;
}
