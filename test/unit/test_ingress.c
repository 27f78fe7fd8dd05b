/*
 * The ingress drop's netlink batch (pcap_io/ingress.c), read back the way
 * the kernel parses it: every length must add up, and each rule must load
 * the right bytes of the network header and compare them with our address.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <string.h>

#include "check_main.h"
#include "ingress.h"

/* Attributes of [p, p + len): each nested one must fill its parent exactly. */
static bool attrs_valid(const uint8_t *p, size_t len)
{
	while (len > 0) {
		const struct nlattr *a = (const void *)p;
		size_t step;

		if (len < NLA_HDRLEN || a->nla_len < NLA_HDRLEN || a->nla_len > len)
			return false;
		if ((a->nla_type & NLA_F_NESTED) &&
		    !attrs_valid(p + NLA_HDRLEN, a->nla_len - NLA_HDRLEN))
			return false;
		step = (size_t)NLA_ALIGN(a->nla_len);
		if (step > len)
			return false;
		p += step;
		len -= step;
	}
	return true;
}

/* The attribute of type within [p, p + len), or NULL. */
static const struct nlattr *attr_find(const uint8_t *p, size_t len, uint16_t type)
{
	while (len >= NLA_HDRLEN) {
		const struct nlattr *a = (const void *)p;

		if ((a->nla_type & NLA_TYPE_MASK) == type)
			return a;
		if ((size_t)NLA_ALIGN(a->nla_len) >= len)
			break;
		len -= NLA_ALIGN(a->nla_len);
		p += NLA_ALIGN(a->nla_len);
	}
	return NULL;
}

#define ATTR_DATA(a) ((const uint8_t *)(a) + NLA_HDRLEN)
#define ATTR_LEN(a)  ((size_t)(a)->nla_len - NLA_HDRLEN)

static uint32_t attr_be32(const struct nlattr *a)
{
	uint32_t v;

	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(ATTR_LEN(a), 4);
	memcpy(&v, ATTR_DATA(a), 4);
	return ntohl(v);
}

/* The data of the rule's i-th expression, which must be called name. */
static const struct nlattr *rule_expr(const struct nlmsghdr *h, int i, const char *name)
{
	const uint8_t *body = (const uint8_t *)NLMSG_DATA(h) + sizeof(struct nfgenmsg);
	size_t len = h->nlmsg_len - NLMSG_LENGTH(sizeof(struct nfgenmsg));
	const struct nlattr *list = attr_find(body, len, NFTA_RULE_EXPRESSIONS), *e, *n;
	const uint8_t *p;
	size_t left;

	ck_assert_ptr_nonnull(list);
	p = ATTR_DATA(list);
	left = ATTR_LEN(list);
	for (;; i--) {
		e = (const void *)p;
		ck_assert_uint_ge(left, NLA_HDRLEN);
		if (i == 0)
			break;
		left -= NLA_ALIGN(e->nla_len);
		p += NLA_ALIGN(e->nla_len);
	}
	n = attr_find(ATTR_DATA(e), ATTR_LEN(e), NFTA_EXPR_NAME);
	ck_assert_ptr_nonnull(n);
	ck_assert_str_eq((const char *)ATTR_DATA(n), name);
	n = attr_find(ATTR_DATA(e), ATTR_LEN(e), NFTA_EXPR_DATA);
	ck_assert_ptr_nonnull(n);
	return n;
}

/* The value a cmp expression compares register 1 with (equality). */
static const struct nlattr *cmp_value(const struct nlattr *data)
{
	const struct nlattr *d = attr_find(ATTR_DATA(data), ATTR_LEN(data), NFTA_CMP_DATA);

	ck_assert_uint_eq(attr_be32(attr_find(ATTR_DATA(data), ATTR_LEN(data), NFTA_CMP_OP)),
			  NFT_CMP_EQ);
	ck_assert_ptr_nonnull(d);
	d = attr_find(ATTR_DATA(d), ATTR_LEN(d), NFTA_DATA_VALUE);
	ck_assert_ptr_nonnull(d);
	return d;
}

static void check_rule(const struct nlmsghdr *h, uint16_t proto, uint32_t off, const void *addr,
		       size_t len)
{
	const struct nlattr *d, *v;
	uint16_t proto_be = htons(proto);

	d = rule_expr(h, 0, "meta");
	ck_assert_uint_eq(attr_be32(attr_find(ATTR_DATA(d), ATTR_LEN(d), NFTA_META_KEY)),
			  NFT_META_PROTOCOL);
	v = cmp_value(rule_expr(h, 1, "cmp"));
	ck_assert_uint_eq(ATTR_LEN(v), 2);
	ck_assert_mem_eq(ATTR_DATA(v), &proto_be, 2);
	d = rule_expr(h, 2, "payload");
	ck_assert_uint_eq(attr_be32(attr_find(ATTR_DATA(d), ATTR_LEN(d), NFTA_PAYLOAD_BASE)),
			  NFT_PAYLOAD_NETWORK_HEADER);
	ck_assert_uint_eq(attr_be32(attr_find(ATTR_DATA(d), ATTR_LEN(d), NFTA_PAYLOAD_OFFSET)),
			  off);
	ck_assert_uint_eq(attr_be32(attr_find(ATTR_DATA(d), ATTR_LEN(d), NFTA_PAYLOAD_LEN)), len);
	v = cmp_value(rule_expr(h, 3, "cmp"));
	ck_assert_uint_eq(ATTR_LEN(v), len);
	ck_assert_mem_eq(ATTR_DATA(v), addr, len);
	d = rule_expr(h, 4, "immediate");
	ck_assert_uint_eq(attr_be32(attr_find(ATTR_DATA(d), ATTR_LEN(d), NFTA_IMMEDIATE_DREG)),
			  NFT_REG_VERDICT);
	d = attr_find(ATTR_DATA(d), ATTR_LEN(d), NFTA_IMMEDIATE_DATA);
	ck_assert_ptr_nonnull(d);
	d = attr_find(ATTR_DATA(d), ATTR_LEN(d), NFTA_DATA_VERDICT);
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(attr_be32(attr_find(ATTR_DATA(d), ATTR_LEN(d), NFTA_VERDICT_CODE)),
			  NF_DROP);
}

START_TEST(test_batch_is_owned_table_chain_and_a_drop_per_address)
{
	static const uint16_t want[] = {
	    NFNL_MSG_BATCH_BEGIN,
	    (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWTABLE,
	    (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWCHAIN,
	    (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE,
	    (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE,
	    NFNL_MSG_BATCH_END,
	};
	uint8_t buf[2048] __attribute__((aligned(4)));
	const struct nlmsghdr *msgs[6];
	struct in6_addr a6;
	uint32_t a = htonl(0xc6120002); /* 198.18.0.2 */
	int len, n = 0;
	size_t left;

	inet_pton(AF_INET6, "2001:2::2", &a6);
	len = ingress_drop_batch(buf, sizeof(buf), "nstack_42", "nstack0", a, &a6, 7);
	ck_assert_int_gt(len, 0);
	left = (size_t)len;
	for (const struct nlmsghdr *h = (const void *)buf; left; h = NLMSG_NEXT(h, left)) {
		const struct nfgenmsg *g = NLMSG_DATA(h);

		ck_assert(NLMSG_OK(h, left));
		ck_assert_int_lt(n, 6);
		ck_assert_uint_eq(h->nlmsg_type, want[n]);
		ck_assert_uint_eq(h->nlmsg_seq, 7 + (uint32_t)n);
		ck_assert(h->nlmsg_flags & NLM_F_REQUEST);
		ck_assert_uint_eq(g->nfgen_family, n == 0 || n == 5 ? AF_UNSPEC : NFPROTO_NETDEV);
		ck_assert(attrs_valid((const uint8_t *)g + sizeof(*g),
				      h->nlmsg_len - NLMSG_LENGTH(sizeof(*g))));
		/* The kernel acks each change: ingress_drop_open() counts them. */
		ck_assert_int_eq(!!(h->nlmsg_flags & NLM_F_ACK), n > 0 && n < 5);
		msgs[n++] = h;
	}
	ck_assert_int_eq(n, 6);
	{
		const struct nlmsghdr *t = msgs[1];
		const uint8_t *body = (const uint8_t *)NLMSG_DATA(t) + sizeof(struct nfgenmsg);
		size_t blen = t->nlmsg_len - NLMSG_LENGTH(sizeof(struct nfgenmsg));

		ck_assert_str_eq((const char *)ATTR_DATA(attr_find(body, blen, NFTA_TABLE_NAME)),
				 "nstack_42");
		/* Owned: the kernel deletes it with the socket, also when we crash. */
		ck_assert_uint_eq(attr_be32(attr_find(body, blen, NFTA_TABLE_FLAGS)),
				  NFT_TABLE_F_OWNER);
	}
	{
		const struct nlmsghdr *c = msgs[2];
		const uint8_t *body = (const uint8_t *)NLMSG_DATA(c) + sizeof(struct nfgenmsg);
		size_t blen = c->nlmsg_len - NLMSG_LENGTH(sizeof(struct nfgenmsg));
		const struct nlattr *hook = attr_find(body, blen, NFTA_CHAIN_HOOK);

		ck_assert_ptr_nonnull(hook);
		ck_assert_uint_eq(
		    attr_be32(attr_find(ATTR_DATA(hook), ATTR_LEN(hook), NFTA_HOOK_HOOKNUM)),
		    NF_NETDEV_INGRESS);
		ck_assert_str_eq((const char *)ATTR_DATA(
				     attr_find(ATTR_DATA(hook), ATTR_LEN(hook), NFTA_HOOK_DEV)),
				 "nstack0");
	}
	check_rule(msgs[3], 0x0800, 16, &a, 4);	  /* IPv4 daddr */
	check_rule(msgs[4], 0x86dd, 24, &a6, 16); /* IPv6 daddr */
}
END_TEST

START_TEST(test_batch_without_ipv6_and_too_small_a_buffer)
{
	uint8_t buf[2048] __attribute__((aligned(4)));
	int with6, without6;
	struct in6_addr a6 = IN6ADDR_LOOPBACK_INIT;

	without6 = ingress_drop_batch(buf, sizeof(buf), "t", "eth0", htonl(0xc6120002), NULL, 1);
	with6 = ingress_drop_batch(buf, sizeof(buf), "t", "eth0", htonl(0xc6120002), &a6, 1);
	ck_assert_int_gt(without6, 0);
	ck_assert_int_gt(with6, without6);
	ck_assert_int_eq(
	    ingress_drop_batch(buf, (size_t)without6 - 4, "t", "eth0", htonl(0xc6120002), NULL, 1),
	    -EMSGSIZE);
}
END_TEST

static Suite *ingress_suite(void)
{
	Suite *s = suite_create("ingress");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_batch_is_owned_table_chain_and_a_drop_per_address);
	tcase_add_test(tc, test_batch_without_ipv6_and_too_small_a_buffer);
	suite_add_tcase(s, tc);
	return s;
}

NSTACK_SUITE(ingress_suite)
