/*
 * The preload's configuration parsing (preload/config.c, compiled in here
 * because the test binary links only stack/ and pcap_io/) and the live
 * backend's pure helpers (filter text, sysfs parsing).
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "../../preload/config.c"
#include "check_main.h"
#include "pcap_live.h"
#include <pcap/pcap.h>

struct t_env {
	const char *kv[16][2];
};

static const char *t_get(void *ctx, const char *name)
{
	struct t_env *e = ctx;

	for (int i = 0; i < 16 && e->kv[i][0]; i++) {
		if (!strcmp(e->kv[i][0], name))
			return e->kv[i][1];
	}
	return NULL;
}

static uint32_t ip(const char *s)
{
	struct in_addr a;

	ck_assert_int_eq(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

START_TEST(test_empty_env_defaults_match_lab)
{
	struct t_env e = {{{NULL}}};
	struct nsp_config c;
	char err[256] = "";

	ck_assert_int_eq(nsp_config_load(&c, t_get, &e, NULL, err, sizeof(err)), 0);
	ck_assert_str_eq(c.cfg.ifname, "nstack0");
	ck_assert_uint_eq(c.cfg.addr, ip("198.18.0.2"));
	ck_assert_uint_eq(c.cfg.prefixlen, 24);
	ck_assert_uint_eq(c.cfg.gateway, ip("198.18.0.1"));
	ck_assert_uint_eq(c.cfg.mtu, 0);
	ck_assert(!c.have_mac);
	ck_assert_str_eq(c.pcap_path, "");
	ck_assert_int_eq(c.cfg.tcp.initial_cwnd, 10);
}
END_TEST

START_TEST(test_full_env_parsed)
{
	struct t_env e = {{{"NSTACK_IFACE", "veth7"},
			   {"NSTACK_ADDR", "198.19.5.9/16"},
			   {"NSTACK_GW", "198.19.0.1"},
			   {"NSTACK_MAC", "02:AA:bb:cc:dd:0e"},
			   {"NSTACK_MTU", "9000"},
			   {"NSTACK_PCAP", "/tmp/x.pcap"},
			   {"NSTACK_LOG", "debug"},
			   {"NSTACK_TCP_RMEM", "1000 2000 3000"},
			   {"NSTACK_TCP_SACK", "0"},
			   {"NSTACK_TCP_CONGESTION_CONTROL", "reno"},
			   {"NSTACK_TCP_RTO_MIN_MS", "50"},
			   {"NSTACK_TCP_TSO_WIN_DIVISOR", "0"},
			   {NULL}}};
	static const uint8_t mac[6] = {0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x0e};
	struct nsp_config c;
	char err[256] = "";

	ck_assert_int_eq(nsp_config_load(&c, t_get, &e, NULL, err, sizeof(err)), 0);
	ck_assert_str_eq(c.cfg.ifname, "veth7");
	ck_assert_uint_eq(c.cfg.addr, ip("198.19.5.9"));
	ck_assert_uint_eq(c.cfg.prefixlen, 16);
	ck_assert_uint_eq(c.cfg.gateway, ip("198.19.0.1"));
	ck_assert(c.have_mac);
	ck_assert_mem_eq(c.mac, mac, 6);
	ck_assert_uint_eq(c.cfg.mtu, 9000);
	ck_assert_str_eq(c.pcap_path, "/tmp/x.pcap");
	ck_assert_int_eq(c.cfg.log_level, NSTACK_LOG_DEBUG);
	ck_assert_int_eq(c.cfg.tcp.rmem[0], 1000);
	ck_assert_int_eq(c.cfg.tcp.rmem[2], 3000);
	ck_assert(!c.cfg.tcp.sack);
	ck_assert_str_eq(c.cfg.tcp.congestion_control, "reno");
	ck_assert_uint_eq(c.cfg.tcp.rto_min_us, 50000);
	ck_assert_int_eq(c.cfg.tcp.tso_win_divisor, 0); /* default 3 */
}
END_TEST

/* Each bad value must fail with -EINVAL and a message naming its variable. */
static void expect_bad(const char *name, const char *value)
{
	struct t_env e = {{{name, value}, {NULL}}};
	struct nsp_config c;
	char err[256] = "";

	ck_assert_msg(nsp_config_load(&c, t_get, &e, NULL, err, sizeof(err)) == -EINVAL,
		      "%s=%s accepted", name, value);
	ck_assert_msg(strstr(err, name) != NULL, "message '%s' does not name %s", err, name);
}

START_TEST(test_bad_values_rejected_naming_variable)
{
	expect_bad("NSTACK_ADDR", "bogus");
	expect_bad("NSTACK_ADDR", "198.18.0.2");
	expect_bad("NSTACK_ADDR", "198.18.0.2/33");
	expect_bad("NSTACK_ADDR", "198.18.0.2/0");
	expect_bad("NSTACK_ADDR", "198.18.0.2/24x");
	expect_bad("NSTACK_ADDR", "198.18.0.0/24");   /* network address */
	expect_bad("NSTACK_ADDR", "198.18.0.255/24"); /* broadcast address */
	expect_bad("NSTACK_ADDR", "127.0.0.5/8");
	expect_bad("NSTACK_ADDR", "224.0.0.5/24");
	expect_bad("NSTACK_GW", "1.2.3");
	expect_bad("NSTACK_GW", "198.19.0.1");	       /* outside 198.18.0.0/24 */
	expect_bad("NSTACK_GW", "198.18.0.2");	       /* ourselves */
	expect_bad("NSTACK_MAC", "01:00:5e:00:00:01"); /* multicast */
	expect_bad("NSTACK_MAC", "00:00:00:00:00:00");
	expect_bad("NSTACK_MAC", "02:00:00:00:00");
	expect_bad("NSTACK_MAC", "02:00:00:00:00:0g");
	expect_bad("NSTACK_MTU", "100");
	expect_bad("NSTACK_MTU", "70000");
	expect_bad("NSTACK_MTU", "15oo");
	expect_bad("NSTACK_LOG", "loud");
	expect_bad("NSTACK_IFACE", "a-name-far-too-long");
	expect_bad("NSTACK_TCP_RMEM", "3 2 1");
	expect_bad("NSTACK_TCP_RMEM", "1 2");
	expect_bad("NSTACK_TCP_SYN_RETRIES", "-1");
	expect_bad("NSTACK_TCP_CONGESTION_CONTROL", "a b");
	expect_bad("NSTACK_ADDR6", "2001:2::2");
	expect_bad("NSTACK_ADDR6", "2001:2::2/129");
	expect_bad("NSTACK_ADDR6", "ff02::1/64");
	expect_bad("NSTACK_ADDR6", "fe80::2/64"); /* link-local comes from the MAC */
	expect_bad("NSTACK_ADDR6", "::ffff:198.18.0.2/96");
	expect_bad("NSTACK_GW6", "fe80::1"); /* without IPv6 on */
	expect_bad("NSTACK_IPV6", "yes please");
}
END_TEST

START_TEST(test_ipv6_env_parsed)
{
	struct t_env e = {{{"NSTACK_ADDR6", "2001:2::2/64"}, {"NSTACK_GW6", "fe80::1"}}};
	struct nsp_config c;
	struct in6_addr want;
	char err[256] = "";

	ck_assert_int_eq(nsp_config_load(&c, t_get, &e, NULL, err, sizeof(err)), 0);
	ck_assert(c.cfg.ipv6);
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:2::2", &want), 1);
	ck_assert_mem_eq(&c.cfg.addr6, &want, 16);
	ck_assert_uint_eq(c.cfg.prefixlen6, 64);
	ck_assert_int_eq(inet_pton(AF_INET6, "fe80::1", &want), 1);
	ck_assert_mem_eq(&c.cfg.gateway6, &want, 16);
	ck_assert(c.cfg.optimistic_dad); /* on unless NSTACK_OPTIMISTIC_DAD=0 */
	/* IPv6 stays off unless asked for. */
	{
		struct t_env none = {{{NULL, NULL}}};

		ck_assert_int_eq(nsp_config_load(&c, t_get, &none, NULL, err, sizeof(err)), 0);
		ck_assert(!c.cfg.ipv6);
	}
	{
		struct t_env off = {{{"NSTACK_IPV6", "1"}, {"NSTACK_OPTIMISTIC_DAD", "0"}}};

		ck_assert_int_eq(nsp_config_load(&c, t_get, &off, NULL, err, sizeof(err)), 0);
		ck_assert(c.cfg.ipv6 && !c.cfg.optimistic_dad);
	}
	expect_bad("NSTACK_OPTIMISTIC_DAD", "sometimes");
}
END_TEST

START_TEST(test_gw_none_and_log_numbers_accepted)
{
	struct t_env e = {{{"NSTACK_GW", "none"}, {"NSTACK_LOG", "2"}, {NULL}}};
	struct nsp_config c;
	char err[256] = "";

	ck_assert_int_eq(nsp_config_load(&c, t_get, &e, NULL, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.cfg.gateway, 0);
	ck_assert_int_eq(c.cfg.log_level, NSTACK_LOG_INFO);
}
END_TEST

START_TEST(test_addr_outside_default_subnet_drops_default_gw)
{
	struct t_env e = {{{"NSTACK_ADDR", "198.19.1.2/24"}, {NULL}}};
	struct nsp_config c;
	char err[256] = "";

	ck_assert_int_eq(nsp_config_load(&c, t_get, &e, NULL, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.cfg.gateway, 0);
}
END_TEST

START_TEST(test_handover_bypass_linger_parsed)
{
	struct t_env e = {{{"NSTACK_HANDOVER", "0"},
			   {"NSTACK_BYPASS", "198.19.0.0/16, 198.18.7.7"},
			   {"NSTACK_EXIT_LINGER", "250"},
			   {"NSTACK_BUSY_POLL", "50"},
			   {NULL}}};
	struct nsp_config c;
	char err[256] = "";

	ck_assert_int_eq(nsp_config_load(&c, t_get, &e, NULL, err, sizeof(err)), 0);
	ck_assert(!c.handover_loopback);
	ck_assert_int_eq(c.nbypass, 2);
	ck_assert_uint_eq(c.bypass_net[0], ip("198.19.0.0"));
	ck_assert_uint_eq(c.bypass_mask[0], ip("255.255.0.0"));
	ck_assert_uint_eq(c.bypass_net[1], ip("198.18.7.7"));
	ck_assert_uint_eq(c.bypass_mask[1], ip("255.255.255.255"));
	ck_assert_int_eq(c.nbypass6, 0);
	ck_assert_uint_eq(c.exit_linger_ms, 250);
	ck_assert_uint_eq(c.cfg.busy_poll_us, 50);
	expect_bad("NSTACK_BUSY_POLL", "-1");
	expect_bad("NSTACK_BUSY_POLL", "100001");
	expect_bad("NSTACK_HANDOVER", "maybe");
	expect_bad("NSTACK_BYPASS", "198.19.0.0/40");
	expect_bad("NSTACK_BYPASS", "198.19.0.1/24,nope");
	expect_bad("NSTACK_BYPASS", "2001:2::/129");
	expect_bad("NSTACK_BYPASS", "2001:2::zz/64");
	expect_bad("NSTACK_EXIT_LINGER", "-5");
}
END_TEST

START_TEST(test_bypass_takes_ipv6_prefixes)
{
	struct t_env e = {{{"NSTACK_BYPASS", "198.19.0.0/16,2001:2:0:9::/64, 2001:2::7"}, {NULL}}};
	struct nsp_config c;
	struct in6_addr want;
	char err[256] = "";

	ck_assert_int_eq(nsp_config_load(&c, t_get, &e, NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(c.nbypass, 1);
	ck_assert_int_eq(c.nbypass6, 2);
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:2:0:9::", &want), 1);
	ck_assert_mem_eq(&c.bypass6_net[0], &want, 16);
	ck_assert_uint_eq(c.bypass6_plen[0], 64);
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:2::7", &want), 1);
	ck_assert_mem_eq(&c.bypass6_net[1], &want, 16);
	ck_assert_uint_eq(c.bypass6_plen[1], 128);
}
END_TEST

START_TEST(test_defaults_handover_on_linger_5s)
{
	struct t_env e = {{{NULL}}};
	struct nsp_config c;
	char err[256] = "";

	ck_assert_int_eq(nsp_config_load(&c, t_get, &e, NULL, err, sizeof(err)), 0);
	ck_assert(c.handover_loopback);
	ck_assert_int_eq(c.nbypass, 0);
	ck_assert_uint_eq(c.exit_linger_ms, 5000);
	ck_assert_uint_eq(c.cfg.busy_poll_us, 0);
	ck_assert(c.gro);
	ck_assert(c.ingress_drop);
}
END_TEST

START_TEST(test_gro_flag_parsed)
{
	struct t_env e = {{{"NSTACK_GRO", "0"}, {NULL}}};
	struct nsp_config c;
	char err[256] = "";

	ck_assert_int_eq(nsp_config_load(&c, t_get, &e, NULL, err, sizeof(err)), 0);
	ck_assert(!c.gro);
	expect_bad("NSTACK_GRO", "sometimes");
}
END_TEST

START_TEST(test_ingress_drop_flag_parsed)
{
	struct t_env e = {{{"NSTACK_INGRESS_DROP", "0"}, {NULL}}};
	struct nsp_config c;
	char err[256] = "";

	ck_assert_int_eq(nsp_config_load(&c, t_get, &e, NULL, err, sizeof(err)), 0);
	ck_assert(!c.ingress_drop);
	expect_bad("NSTACK_INGRESS_DROP", "yes please");
}
END_TEST

START_TEST(test_move_driver_on_by_default_and_parsed)
{
	struct t_env on = {{{NULL}}};
	struct t_env off = {{{"NSTACK_MOVE_DRIVER", "0"}, {NULL}}};
	struct nsp_config c;
	char err[256] = "";

	ck_assert_int_eq(nsp_config_load(&c, t_get, &on, NULL, err, sizeof(err)), 0);
	ck_assert(c.cfg.move_driver);
	ck_assert_int_eq(nsp_config_load(&c, t_get, &off, NULL, err, sizeof(err)), 0);
	ck_assert(!c.cfg.move_driver);
	expect_bad("NSTACK_MOVE_DRIVER", "sometimes");
	expect_bad("NSTACK_RX_DIRECT", "2");
}
END_TEST

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

START_TEST(test_proc_sysctls_read_then_env_overrides)
{
	char dir[] = "/tmp/nstack-proc-XXXXXX";
	char sub[600];
	struct t_env e = {{{"NSTACK_TCP_SYN_RETRIES", "2"}, {NULL}}};
	struct nsp_config c;
	char err[256] = "";

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/ipv4", dir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	snprintf(sub, sizeof(sub), "%s/core", dir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	write_file(dir, "ipv4/tcp_wmem", "4096\t32768\t8388608\n");
	write_file(dir, "ipv4/tcp_timestamps", "2\n");
	write_file(dir, "ipv4/tcp_syn_retries", "4\n");
	write_file(dir, "ipv4/tcp_keepalive_time", "junk\n");
	write_file(dir, "core/somaxconn", "128\n");
	ck_assert_int_eq(nsp_config_load(&c, t_get, &e, dir, err, sizeof(err)), 0);
	ck_assert_int_eq(c.cfg.tcp.wmem[1], 32768);
	ck_assert_int_eq(c.cfg.tcp.wmem[2], 8388608);
	ck_assert(c.cfg.tcp.timestamps);
	ck_assert_int_eq(c.cfg.tcp.syn_retries, 2);	    /* env wins over proc */
	ck_assert_int_eq(c.cfg.tcp.keepalive_time_s, 7200); /* junk keeps the default */
	ck_assert_int_eq(c.cfg.tcp.somaxconn, 128);
	snprintf(sub, sizeof(sub), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(sub), 0);
}
END_TEST

START_TEST(test_filter_text_names_our_address_and_mac)
{
	static const uint8_t mac[6] = {0x02, 0, 0, 0, 0, 0x42};
	char buf[512];

	ck_assert_int_eq(pcap_live_filter(buf, sizeof(buf), ip("198.18.0.2"), 24, mac), 0);
	ck_assert_str_eq(buf, "(ether dst 02:00:00:00:00:42 or ether multicast) and "
			      "(arp or (ip and (dst host 198.18.0.2 or dst host 198.18.0.255 or "
			      "dst host 255.255.255.255 or dst host 224.0.0.1)))");
	ck_assert_int_eq(pcap_live_filter(buf, 20, ip("198.18.0.2"), 24, mac), -ENAMETOOLONG);
	{
		struct in6_addr a6;

		ck_assert_int_eq(inet_pton(AF_INET6, "2001:2::2", &a6), 1);
		ck_assert_int_eq(
		    pcap_live_filter6(buf, sizeof(buf), ip("198.18.0.2"), 24, mac, &a6), 0);
		ck_assert_str_eq(
		    buf,
		    "(ether dst 02:00:00:00:00:42 or ether multicast) and "
		    "(arp or (ip and (dst host 198.18.0.2 or dst host 198.18.0.255 or "
		    "dst host 255.255.255.255 or dst host 224.0.0.1)) or (ip6 and (dst host "
		    "2001:2::2 or dst host ff02::1:ff00:0002 or dst host ff02::1 or dst host "
		    "ff02::1:ff00:0042 or (ip6[32:4] = 0x000000ff and ip6[36:4] = 0xfe000042))))");
		/* libpcap takes it (nstack-opener compiles it the same way). */
		{
			pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
			struct bpf_program prog;

			ck_assert_ptr_nonnull(dead);
			ck_assert_int_eq(pcap_compile(dead, &prog, buf, 1, PCAP_NETMASK_UNKNOWN),
					 0);
			pcap_freecode(&prog);
			ck_assert_int_eq(
			    pcap_live_filter6(buf, sizeof(buf), ip("198.18.0.2"), 24, mac, NULL),
			    0);
			ck_assert_int_eq(pcap_compile(dead, &prog, buf, 1, PCAP_NETMASK_UNKNOWN),
					 0);
			pcap_freecode(&prog);
			pcap_close(dead);
		}
	}
}
END_TEST

START_TEST(test_missing_interface_gives_enodev)
{
	uint8_t mac[6];
	unsigned int mtu;

	ck_assert_int_eq(pcap_live_read_mac("nstack-nope0", mac), -ENODEV);
	ck_assert_int_eq(pcap_live_read_mtu("nstack-nope0", &mtu), -ENODEV);
	ck_assert_int_eq(pcap_live_read_mac("../lo", mac), -ENODEV);
	ck_assert_int_eq(pcap_live_read_mtu("lo", &mtu), 0);
	ck_assert_uint_ge(mtu, 1500);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, test_empty_env_defaults_match_lab);
	tcase_add_test(tc, test_full_env_parsed);
	tcase_add_test(tc, test_bad_values_rejected_naming_variable);
	tcase_add_test(tc, test_gw_none_and_log_numbers_accepted);
	tcase_add_test(tc, test_ipv6_env_parsed);
	tcase_add_test(tc, test_addr_outside_default_subnet_drops_default_gw);
	tcase_add_test(tc, test_proc_sysctls_read_then_env_overrides);
	tcase_add_test(tc, test_handover_bypass_linger_parsed);
	tcase_add_test(tc, test_bypass_takes_ipv6_prefixes);
	tcase_add_test(tc, test_defaults_handover_on_linger_5s);
	tcase_add_test(tc, test_gro_flag_parsed);
	tcase_add_test(tc, test_ingress_drop_flag_parsed);
	tcase_add_test(tc, test_move_driver_on_by_default_and_parsed);
	tcase_add_test(tc, test_filter_text_names_our_address_and_mac);
	tcase_add_test(tc, test_missing_interface_gives_enodev);
	suite_add_tcase(s, tc);
	return s;
}

NSTACK_SUITE(config_suite)
