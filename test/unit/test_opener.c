/*
 * nstack-opener's policy rules (pcap_io/opener/policy.c) and the library's
 * side of the exchange when there is no usable opener.
 */
#include <check.h>
#include <errno.h>
#include <string.h>

#include <arpa/inet.h>

#include "check_main.h"
#include "opener.h"
#include "opener/policy.h"

static uint32_t ip(const char *s)
{
	struct in_addr a;

	ck_assert_int_eq(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

/* uid 1001 "alice", groups 1001 "alice" and 2000 "netlab". */
static const struct policy_who alice = {
    .uid = 1001,
    .user = "alice",
    .ngroups = 2,
    .gids = {1001, 2000},
    .groups = {"alice", "netlab"},
};

static int check(const char *text, const struct policy_who *w, const char *ifname, const char *addr)
{
	unsigned int line = 0;

	return policy_check(text, w, ifname, ip(addr), NULL, &line);
}

START_TEST(test_user_interface_and_prefix_must_all_match)
{
	const char *p = "# comment\n\nalice  veth1  198.18.0.2/32   # trailing comment\n";

	ck_assert_int_eq(check(p, &alice, "veth1", "198.18.0.2"), 0);
	ck_assert_int_eq(check(p, &alice, "veth2", "198.18.0.2"), -EPERM);
	ck_assert_int_eq(check(p, &alice, "veth1", "198.18.0.3"), -EPERM);
	struct policy_who bob = alice;
	bob.uid = 1002;
	bob.user = "bob";
	ck_assert_int_eq(check(p, &bob, "veth1", "198.18.0.2"), -EPERM);
}
END_TEST

START_TEST(test_uid_group_gid_and_wildcards)
{
	ck_assert_int_eq(check("1001 * 198.18.0.0/15\n", &alice, "x0", "198.19.4.4"), 0);
	ck_assert_int_eq(check("1002 * 198.18.0.0/15\n", &alice, "x0", "198.19.4.4"), -EPERM);
	ck_assert_int_eq(check("@netlab lab0 198.18.0.0/24\n", &alice, "lab0", "198.18.0.9"), 0);
	ck_assert_int_eq(check("@2000 lab0 198.18.0.0/24\n", &alice, "lab0", "198.18.0.9"), 0);
	ck_assert_int_eq(check("@wheel lab0 198.18.0.0/24\n", &alice, "lab0", "198.18.0.9"),
			 -EPERM);
	ck_assert_int_eq(check("* lab0 198.18.7.0/24,198.19.7.0/24", &alice, "lab0", "198.19.7.1"),
			 0);
	ck_assert_int_eq(check("* lab0 0.0.0.0/0\n", &alice, "lab0", "203.0.113.1"), 0);
	/* A user name that looks like no one's does not match a numeric uid. */
	ck_assert_int_eq(check("root * 0.0.0.0/0\n", &alice, "lab0", "198.18.0.1"), -EPERM);
}
END_TEST

START_TEST(test_malformed_file_grants_nothing_and_names_line)
{
	unsigned int line = 0;
	/* The granting line comes first; the broken third still voids the file. */
	const char *p = "alice * 198.18.0.0/15\n\nalice veth1\n";

	ck_assert_int_eq(policy_check(p, &alice, "veth1", ip("198.18.0.2"), NULL, &line), -EINVAL);
	ck_assert_uint_eq(line, 3);
	ck_assert_int_eq(check("alice * 198.18.0.2\n", &alice, "a", "198.18.0.2"), -EINVAL);
	ck_assert_int_eq(check("alice * 198.18.0.2/33\n", &alice, "a", "198.18.0.2"), -EINVAL);
	/* Host bits set in a prefix: probably a mistake, refused rather than guessed. */
	ck_assert_int_eq(check("alice * 198.18.0.2/24\n", &alice, "a", "198.18.0.2"), -EINVAL);
	ck_assert_int_eq(check("alice * 198.18.0.0/24 extra\n", &alice, "a", "198.18.0.2"),
			 -EINVAL);
	ck_assert_int_eq(check("@ * 198.18.0.0/24\n", &alice, "a", "198.18.0.2"), -EINVAL);
	ck_assert_int_eq(check("alice * 198.18.0.0/24,,\n", &alice, "a", "198.18.0.2"), 0);
	ck_assert_int_eq(check("", &alice, "a", "198.18.0.2"), -EPERM);
}
END_TEST

/* With IPv6 the same line must hold the IPv6 address (or fe80:: for link-local only). */
START_TEST(test_ipv6_needs_an_ipv6_prefix_on_the_line)
{
	struct in6_addr g, ll;
	unsigned int line = 0;
	const char *v4only = "alice * 198.18.0.0/15\n";
	const char *both = "alice * 198.18.0.0/15,2001:2::/48,fe80::/64\n";

	ck_assert_int_eq(inet_pton(AF_INET6, "2001:2::2", &g), 1);
	ck_assert_int_eq(inet_pton(AF_INET6, "fe80::", &ll), 1);
	ck_assert_int_eq(policy_check(v4only, &alice, "a", ip("198.18.0.2"), g.s6_addr, &line),
			 -EPERM);
	ck_assert_int_eq(policy_check(both, &alice, "a", ip("198.18.0.2"), g.s6_addr, &line), 0);
	ck_assert_int_eq(policy_check(both, &alice, "a", ip("198.18.0.2"), ll.s6_addr, &line), 0);
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:3::2", &g), 1);
	ck_assert_int_eq(policy_check(both, &alice, "a", ip("198.18.0.2"), g.s6_addr, &line),
			 -EPERM);
	/* Host bits in an IPv6 prefix are refused like IPv4's. */
	ck_assert_int_eq(
	    policy_check("alice * 2001:2::1/48\n", &alice, "a", ip("198.18.0.2"), NULL, &line),
	    -EINVAL);
}
END_TEST

START_TEST(test_client_without_opener)
{
	struct opener_req req = {.magic = OPENER_MAGIC, .version = OPENER_VERSION};
	char err[256] = "";
	int fd = 7;

	ck_assert_int_eq(opener_open("/nonexistent/nstack-opener", &req, &fd, err, sizeof(err)),
			 -ENOENT);
	ck_assert_int_eq(fd, -1);
	/* A program that is not the opener: no answer, said so, no descriptor. */
	ck_assert_int_eq(opener_open("/bin/true", &req, &fd, err, sizeof(err)), -EPROTO);
	ck_assert_int_eq(fd, -1);
	ck_assert_ptr_nonnull(strstr(err, "without an answer"));
}
END_TEST

static Suite *opener_suite(void)
{
	Suite *s = suite_create("opener");
	TCase *tc = tcase_create("policy");

	tcase_add_test(tc, test_user_interface_and_prefix_must_all_match);
	tcase_add_test(tc, test_uid_group_gid_and_wildcards);
	tcase_add_test(tc, test_malformed_file_grants_nothing_and_names_line);
	tcase_add_test(tc, test_ipv6_needs_an_ipv6_prefix_on_the_line);
	tcase_add_test(tc, test_client_without_opener);
	suite_add_tcase(s, tc);
	return s;
}

NSTACK_SUITE(opener_suite)
