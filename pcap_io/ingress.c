/*
 * The ingress drop (ingress.h): one nftables netdev table per process,
 * written as raw nfnetlink messages (the batch `nft` would send for
 * "table netdev T { flags owner; chain ingress { type filter hook ingress
 * device IF priority 0; ip daddr A drop; ip6 daddr A6 drop } }").
 */
#include "ingress.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* A message being written; over when something did not fit. */
struct nlbuf {
	uint8_t *b;
	size_t len, off;
	bool over;
};

static void *nl_reserve(struct nlbuf *nb, size_t n)
{
	size_t padded = NLMSG_ALIGN(n);
	void *p;

	if (nb->over || nb->len - nb->off < padded) {
		nb->over = true;
		return NULL;
	}
	p = nb->b + nb->off;
	memset(p, 0, padded);
	nb->off += padded;
	return p;
}

/* Starts a message with its nfgenmsg; its offset (for nl_msg_end). */
static size_t nl_msg_begin(struct nlbuf *nb, uint16_t type, uint16_t flags, uint8_t family,
			   uint16_t res_id, uint32_t seq)
{
	size_t at = nb->off;
	struct nlmsghdr *h = nl_reserve(nb, sizeof(*h));
	struct nfgenmsg *g = nl_reserve(nb, sizeof(*g));

	if (h && g) {
		h->nlmsg_type = type;
		h->nlmsg_flags = NLM_F_REQUEST | flags;
		h->nlmsg_seq = seq;
		g->nfgen_family = family;
		g->version = NFNETLINK_V0;
		g->res_id = htons(res_id);
	}
	return at;
}

static void nl_msg_end(struct nlbuf *nb, size_t at)
{
	if (!nb->over)
		((struct nlmsghdr *)(nb->b + at))->nlmsg_len = (uint32_t)(nb->off - at);
}

static void nl_attr(struct nlbuf *nb, uint16_t type, const void *data, size_t n)
{
	struct nlattr *a = nl_reserve(nb, NLA_HDRLEN + n);

	if (!a)
		return;
	a->nla_len = (uint16_t)(NLA_HDRLEN + n);
	a->nla_type = type;
	memcpy((uint8_t *)a + NLA_HDRLEN, data, n);
}

static void nl_u32(struct nlbuf *nb, uint16_t type, uint32_t host)
{
	uint32_t be = htonl(host);

	nl_attr(nb, type, &be, sizeof(be));
}

static void nl_str(struct nlbuf *nb, uint16_t type, const char *s)
{
	nl_attr(nb, type, s, strlen(s) + 1);
}

static size_t nl_nest_begin(struct nlbuf *nb, uint16_t type)
{
	size_t at = nb->off;
	struct nlattr *a = nl_reserve(nb, NLA_HDRLEN);

	if (a)
		a->nla_type = NLA_F_NESTED | type;
	return at;
}

static void nl_nest_end(struct nlbuf *nb, size_t at)
{
	if (!nb->over)
		((struct nlattr *)(nb->b + at))->nla_len = (uint16_t)(nb->off - at);
}

/* One expression of a rule: its list element and, inside, its data. */
struct expr {
	size_t elem, data;
};

static struct expr expr_begin(struct nlbuf *nb, const char *name)
{
	struct expr e;

	e.elem = nl_nest_begin(nb, NFTA_LIST_ELEM);
	nl_str(nb, NFTA_EXPR_NAME, name);
	e.data = nl_nest_begin(nb, NFTA_EXPR_DATA);
	return e;
}

static void expr_end(struct nlbuf *nb, struct expr e)
{
	nl_nest_end(nb, e.data);
	nl_nest_end(nb, e.elem);
}

/* "register 1 == val" */
static void expr_cmp_eq(struct nlbuf *nb, const void *val, size_t len)
{
	struct expr e = expr_begin(nb, "cmp");
	size_t v;

	nl_u32(nb, NFTA_CMP_SREG, NFT_REG_1);
	nl_u32(nb, NFTA_CMP_OP, NFT_CMP_EQ);
	v = nl_nest_begin(nb, NFTA_CMP_DATA);
	nl_attr(nb, NFTA_DATA_VALUE, val, len);
	nl_nest_end(nb, v);
	expr_end(nb, e);
}

/* "meta protocol == proto; payload nh[off, len) == val; drop". */
static void rule_daddr(struct nlbuf *nb, const char *table, uint16_t proto, uint32_t off,
		       const void *val, size_t len, uint32_t seq)
{
	size_t msg = nl_msg_begin(nb, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE,
				  NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK, NFPROTO_NETDEV, 0, seq);
	size_t exprs, v, verdict;
	struct expr e;
	uint16_t proto_be = htons(proto);

	nl_str(nb, NFTA_RULE_TABLE, table);
	nl_str(nb, NFTA_RULE_CHAIN, "ingress");
	exprs = nl_nest_begin(nb, NFTA_RULE_EXPRESSIONS);

	e = expr_begin(nb, "meta");
	nl_u32(nb, NFTA_META_DREG, NFT_REG_1);
	nl_u32(nb, NFTA_META_KEY, NFT_META_PROTOCOL);
	expr_end(nb, e);
	expr_cmp_eq(nb, &proto_be, sizeof(proto_be));

	e = expr_begin(nb, "payload");
	nl_u32(nb, NFTA_PAYLOAD_DREG, NFT_REG_1);
	nl_u32(nb, NFTA_PAYLOAD_BASE, NFT_PAYLOAD_NETWORK_HEADER);
	nl_u32(nb, NFTA_PAYLOAD_OFFSET, off);
	nl_u32(nb, NFTA_PAYLOAD_LEN, (uint32_t)len);
	expr_end(nb, e);
	expr_cmp_eq(nb, val, len);

	e = expr_begin(nb, "immediate");
	nl_u32(nb, NFTA_IMMEDIATE_DREG, NFT_REG_VERDICT);
	v = nl_nest_begin(nb, NFTA_IMMEDIATE_DATA);
	verdict = nl_nest_begin(nb, NFTA_DATA_VERDICT);
	nl_u32(nb, NFTA_VERDICT_CODE, NF_DROP);
	nl_nest_end(nb, verdict);
	nl_nest_end(nb, v);
	expr_end(nb, e);

	nl_nest_end(nb, exprs);
	nl_msg_end(nb, msg);
}

int ingress_drop_batch(uint8_t *buf, size_t len, const char *table, const char *ifname,
		       uint32_t addr, const struct in6_addr *addr6, uint32_t seq)
{
	struct nlbuf nb = {.b = buf, .len = len};
	size_t m, hook;

	m = nl_msg_begin(&nb, NFNL_MSG_BATCH_BEGIN, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES, seq++);
	nl_msg_end(&nb, m);

	m = nl_msg_begin(&nb, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWTABLE,
			 NLM_F_CREATE | NLM_F_ACK, NFPROTO_NETDEV, 0, seq++);
	nl_str(&nb, NFTA_TABLE_NAME, table);
	nl_u32(&nb, NFTA_TABLE_FLAGS, NFT_TABLE_F_OWNER);
	nl_msg_end(&nb, m);

	m = nl_msg_begin(&nb, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWCHAIN,
			 NLM_F_CREATE | NLM_F_ACK, NFPROTO_NETDEV, 0, seq++);
	nl_str(&nb, NFTA_CHAIN_TABLE, table);
	nl_str(&nb, NFTA_CHAIN_NAME, "ingress");
	hook = nl_nest_begin(&nb, NFTA_CHAIN_HOOK);
	nl_u32(&nb, NFTA_HOOK_HOOKNUM, NF_NETDEV_INGRESS);
	nl_u32(&nb, NFTA_HOOK_PRIORITY, 0);
	nl_str(&nb, NFTA_HOOK_DEV, ifname);
	nl_nest_end(&nb, hook);
	nl_str(&nb, NFTA_CHAIN_TYPE, "filter");
	nl_msg_end(&nb, m);

	rule_daddr(&nb, table, 0x0800, 16, &addr, sizeof(addr), seq++);
	if (addr6)
		rule_daddr(&nb, table, 0x86dd, 24, addr6, sizeof(*addr6), seq++);

	m = nl_msg_begin(&nb, NFNL_MSG_BATCH_END, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES, seq);
	nl_msg_end(&nb, m);
	return nb.over ? -EMSGSIZE : (int)nb.off;
}

/* Whether the kernel itself holds addr or addr6 (said in why). */
static bool kernel_holds(uint32_t addr, const struct in6_addr *addr6, char *why, size_t n)
{
	struct ifaddrs *all, *i;
	bool held = false;

	if (getifaddrs(&all) < 0)
		return false; /* cannot tell: the rule only covers our own addresses */
	for (i = all; i && !held; i = i->ifa_next) {
		char a[INET6_ADDRSTRLEN];

		if (!i->ifa_addr)
			continue;
		if (i->ifa_addr->sa_family == AF_INET &&
		    ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr == addr) {
			inet_ntop(AF_INET, &addr, a, sizeof(a));
		} else if (i->ifa_addr->sa_family == AF_INET6 && addr6 &&
			   IN6_ARE_ADDR_EQUAL(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr,
					      addr6)) {
			inet_ntop(AF_INET6, addr6, a, sizeof(a));
		} else {
			continue;
		}
		snprintf(why, n, "the kernel holds %s on %s", a, i->ifa_name);
		held = true;
	}
	freeifaddrs(all);
	return held;
}

/* How many messages of the batch in [buf, buf + len) ask for an ack. */
static int acks_asked(const uint8_t *buf, size_t len)
{
	int n = 0;

	for (const struct nlmsghdr *h = (const void *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len))
		n += (h->nlmsg_flags & NLM_F_ACK) != 0;
	return n;
}

/* Reads the acks of expect messages; 0 or the first error (-errno). */
static int read_acks(int fd, int expect)
{
	uint8_t buf[4096] __attribute__((aligned(4)));

	while (expect > 0) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h;
		size_t left;

		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		left = (size_t)n;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
			struct nlmsgerr *e = NLMSG_DATA(h);

			if (h->nlmsg_type != NLMSG_ERROR)
				continue;
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
				return -EBADMSG;
			/* The batch is all or nothing: its first error is the answer. */
			if (e->error)
				return e->error;
			expect--;
		}
	}
	return 0;
}

int ingress_drop_open(struct ingress_drop *d, const char *ifname, uint32_t addr,
		      const struct in6_addr *addr6)
{
	uint8_t buf[2048] __attribute__((aligned(4)));
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	struct timeval tv = {.tv_sec = 1};
	int fd, len, rc;

	d->fd = -1;
	d->why[0] = '\0';
	snprintf(d->table, sizeof(d->table), "nstack_%d", (int)getpid());
	if (kernel_holds(addr, addr6, d->why, sizeof(d->why)))
		return 0;
	len = ingress_drop_batch(buf, sizeof(buf), d->table, ifname, addr, addr6, 1);
	if (len < 0)
		return len;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (sendto(fd, buf, (size_t)len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		rc = -errno;
		goto fail;
	}
	rc = read_acks(fd, acks_asked(buf, (size_t)len));
	if (rc)
		goto fail;
	d->fd = fd;
	return 0;
fail:
	close(fd);
	return rc;
}
