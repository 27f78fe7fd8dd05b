/*
 * Receive spread over processes (stack/fanout.c, pcap_live's rx_steer):
 * the table mirrors the kernel's group, the program picks the ring the
 * table says for every kind of frame, and a listener's new connection
 * stays with the process whose ring made it.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pcap/bpf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "netdevice.h"
#include "pcap_live.h"
#include "shared.h"
#include "stack.h"
#include "wire.h"

static const uint8_t mac[6] = {2, 0, 0, 0, 0, 2};
static struct wire *w;
static struct nstack *ns;

static void setup(void)
{
	struct nstack_config cfg;

	ck_assert_int_eq(wire_create(NULL, &w), 0);
	nstack_config_defaults(&cfg);
	cfg.log_level = NSTACK_LOG_ERROR;
	ck_assert_int_eq(nstack_create(&cfg, wire_netdev(w, 0, mac, 1500), NULL, NULL, &ns), 0);
}

static void teardown(void)
{
	nstack_destroy(ns);
	wire_destroy(w);
}

static void live(int slot, uint64_t wait_last)
{
	ns->procs->p[slot] =
	    (struct ns_proc){.pid = getpid(), .state = NS_PROC_LIVE, .wait_last = wait_last};
}

/*
 * Linux takes a socket out of a fanout group by moving the last member
 * into its place (__fanout_unlink): the program's indices must follow.
 */
START_TEST(test_fan_table_mirrors_kernel_compaction)
{
	struct ns_procs *pt = ns->procs;

	nstack_lock(ns);
	pt->fan_arg = 1; /* a group (the in-memory wire has none) */
	for (int s = 1; s <= 4; s++) {
		live(s, 1);
		ns_fan_add(ns, s);
	}
	ck_assert_int_eq(pt->fan_n, 4);
	ck_assert(ns_fan_remove(ns, 2));
	ck_assert_int_eq(pt->fan_n, 3);
	ck_assert_int_eq(pt->fan_slot[0], 1);
	ck_assert_int_eq(pt->fan_slot[1], 4);
	ck_assert_int_eq(pt->fan_slot[2], 3);
	ck_assert_int_eq(ns_fan_index(ns, 4), 1);
	ck_assert(!ns_fan_remove(ns, 2));
	ck_assert(ns_fan_remove(ns, 3)); /* the last: nothing moves */
	ck_assert_int_eq(pt->fan_n, 2);
	ck_assert_int_eq(pt->fan_slot[1], 4);
	/* A process that dies is reaped out of the table too. */
	ns_proc_reap(ns, 1);
	ck_assert_int_eq(pt->fan_n, 1);
	ck_assert_int_eq(pt->fan_slot[0], 4);
	nstack_unlock(ns);
}
END_TEST

/*
 * Buckets go to the rings whose processes wait on sockets (an nginx
 * master's ring takes none once a worker waits), none to a leaving one;
 * the rest of the frames to the driver's ring.
 */
START_TEST(test_fan_plan_gives_buckets_to_waiting_rings)
{
	struct ns_procs *pt = ns->procs;
	uint8_t member[NS_MAX_PROCS];
	int n, dflt;

	nstack_lock(ns);
	ns_fan_add(ns, 0); /* the driver, which never waited */
	live(1, 0);
	ns_fan_add(ns, 1);
	n = ns_fan_plan(ns, member, &dflt);
	ck_assert_int_eq(n, 2); /* nobody waits: every ring */
	ck_assert_int_eq(dflt, 0);

	pt->p[1].wait_last = 5;
	live(2, 7);
	ns_fan_add(ns, 2);
	n = ns_fan_plan(ns, member, &dflt);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(member[0], 1);
	ck_assert_int_eq(member[1], 2);
	ck_assert_int_eq(dflt, 0);

	pt->p[2].fan_leaving = true;
	pt->driver = 2; /* a leaving driver's ring takes nothing either */
	n = ns_fan_plan(ns, member, &dflt);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(member[0], 1);
	ck_assert_int_eq(dflt, 1);
	pt->driver = 0;
	nstack_unlock(ns);
}
END_TEST

/*
 * Just enough of the kernel's classic BPF to run the steering program on
 * a frame whose network header is at pkt[0] (SKF_NET_OFF), with the
 * frame's ethertype as skb->protocol (SKF_AD_PROTOCOL).
 */
static uint32_t run_bpf(const struct bpf_insn *f, int len, const uint8_t *pkt, size_t plen,
			uint16_t proto)
{
	uint32_t a = 0, x = 0, m[16] = {0};

	for (int pc = 0; pc < len; pc++) {
		const struct bpf_insn *i = &f[pc];
		int32_t k = (int32_t)i->k;
		size_t off;

		switch (i->code) {
		case BPF_LD | BPF_H | BPF_ABS:
			if (k == -0x1000) {
				a = proto;
				break;
			}
			/* fallthrough */
		case BPF_LD | BPF_H | BPF_IND:
			off = (size_t)(k + 0x100000 + (i->code & BPF_IND ? (int32_t)x : 0));
			ck_assert_uint_lt(off + 1, plen);
			a = (uint32_t)pkt[off] << 8 | pkt[off + 1];
			break;
		case BPF_LD | BPF_B | BPF_ABS:
			off = (size_t)(k + 0x100000);
			ck_assert_uint_lt(off, plen);
			a = pkt[off];
			break;
		case BPF_LDX | BPF_B | BPF_MSH:
			off = (size_t)(k + 0x100000);
			x = 4u * (pkt[off] & 0xf);
			break;
		case BPF_LDX | BPF_MEM:
			x = m[k];
			break;
		case BPF_ST:
			m[k] = a;
			break;
		case BPF_ALU | BPF_XOR | BPF_X:
			a ^= x;
			break;
		case BPF_ALU | BPF_MUL | BPF_K:
			a *= i->k;
			break;
		case BPF_ALU | BPF_RSH | BPF_K:
			a >>= i->k;
			break;
		case BPF_ALU | BPF_MOD | BPF_K:
			a %= i->k;
			break;
		case BPF_JMP | BPF_JA:
			pc += (int)i->k;
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
			pc += a == i->k ? i->jt : i->jf;
			break;
		case BPF_JMP | BPF_JSET | BPF_K:
			pc += (a & i->k) ? i->jt : i->jf;
			break;
		case BPF_RET | BPF_K:
			return i->k;
		default:
			ck_abort_msg("instruction %#x not expected", i->code);
		}
	}
	ck_abort_msg("fell off the program");
	return 0;
}

static size_t ip4(uint8_t *p, uint8_t proto, int ihl_words, uint16_t frag, uint16_t sp, uint16_t dp)
{
	size_t h = (size_t)ihl_words * 4;

	memset(p, 0, 128);
	p[0] = (uint8_t)(0x40 | ihl_words);
	p[6] = (uint8_t)(frag >> 8);
	p[7] = (uint8_t)frag;
	p[9] = proto;
	p[h] = (uint8_t)(sp >> 8);
	p[h + 1] = (uint8_t)sp;
	p[h + 2] = (uint8_t)(dp >> 8);
	p[h + 3] = (uint8_t)dp;
	return 128;
}

START_TEST(test_steer_prog_picks_the_tables_ring)
{
	const uint8_t member[5] = {3, 0, 4, 1, 2};
	struct bpf_insn f[28 + 2 * 64];
	uint8_t pkt[128];
	int len;

	ck_assert_int_eq(pcap_live_steer_prog(f, 10, member, 5, 0), -EINVAL);
	ck_assert_int_eq(pcap_live_steer_prog(f, 200, member, 0, 0), -EINVAL);
	len = pcap_live_steer_prog(f, sizeof(f) / sizeof(f[0]), member, 5, 2);
	ck_assert_int_gt(len, 0);
	srandom(7);
	for (int i = 0; i < 2000; i++) {
		/* Linux's connect() gives even ports: the mix must spread those too. */
		uint16_t sp = (uint16_t)(random() & 0xfffe), dp = (uint16_t)random();
		uint32_t want = member[ns_fan_bucket(sp, dp, 5)];

		ip4(pkt, IPPROTO_TCP, 5, 0x4000 /* DF */, sp, dp);
		ck_assert_uint_eq(run_bpf(f, len, pkt, sizeof(pkt), 0x0800), want);
		ip4(pkt, IPPROTO_UDP, 7, 0x2000 /* first fragment */, sp, dp);
		ck_assert_uint_eq(run_bpf(f, len, pkt, sizeof(pkt), 0x0800), want);
		/* IPv6: ports right after the fixed header. */
		memset(pkt, 0, sizeof(pkt));
		pkt[0] = 0x60;
		pkt[6] = IPPROTO_TCP;
		pkt[40] = (uint8_t)(sp >> 8);
		pkt[41] = (uint8_t)sp;
		pkt[42] = (uint8_t)(dp >> 8);
		pkt[43] = (uint8_t)dp;
		ck_assert_uint_eq(run_bpf(f, len, pkt, sizeof(pkt), 0x86dd), want);
	}
	/* No ports to go by: the default ring. */
	ip4(pkt, IPPROTO_UDP, 5, 0x0010 /* a later fragment */, 1, 2);
	ck_assert_uint_eq(run_bpf(f, len, pkt, sizeof(pkt), 0x0800), 2);
	ip4(pkt, IPPROTO_ICMP, 5, 0, 1, 2);
	ck_assert_uint_eq(run_bpf(f, len, pkt, sizeof(pkt), 0x0800), 2);
	memset(pkt, 0, sizeof(pkt));
	pkt[6] = 58; /* ICMPv6 */
	ck_assert_uint_eq(run_bpf(f, len, pkt, sizeof(pkt), 0x86dd), 2);
	ck_assert_uint_eq(run_bpf(f, len, pkt, sizeof(pkt), 0x0806), 2);
	/* Buckets spread: every ring of the five gets some of 2000 flows. */
	{
		int seen[5] = {0};

		for (uint16_t p = 32768; p < 32768 + 4000; p += 2)
			seen[ns_fan_bucket(p, 8080, 5)]++;
		for (int b = 0; b < 5; b++)
			ck_assert_int_gt(seen[b], 300);
	}
}
END_TEST

/*
 * connect() picks a local port whose replies the program sends to this
 * process's ring (ns_fan_mine), so that it is the one to process them.
 */
START_TEST(test_connect_picks_a_port_that_comes_back_here)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(8080)};
	struct ns_procs *pt = ns->procs;
	unsigned int n = 0;
	uint64_t mine;

	nstack_lock(ns);
	pt->fan_arg = 1;
	pt->p[0].wait_last = 1;
	for (int s = 1; s <= 2; s++) {
		live(s, 1);
		ns_fan_add(ns, s);
	}
	ns_fan_add(ns, 0);			   /* our ring is the group's third: index 2 */
	ck_assert_uint_eq(ns_fan_mine(ns, &n), 0); /* not a member of ours yet */
	ns_local(ns)->rx_member = true;
	mine = ns_fan_mine(ns, &n);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(mine, 1ull << 2);
	nstack_unlock(ns);

	a.sin_addr.s_addr = htonl(0xc6120001);
	for (int i = 0; i < 32; i++) {
		struct sockaddr_in me;
		socklen_t len = sizeof(me);
		struct socket *sock;

		ck_assert_int_eq(nstack_socket(ns, AF_INET, SOCK_STREAM, 0, &sock), 0);
		nstack_set_nonblock(sock, true);
		ck_assert_int_eq(nstack_connect(sock, (struct sockaddr *)&a, sizeof(a)),
				 -EINPROGRESS);
		ck_assert_int_eq(nstack_getsockname(sock, (struct sockaddr *)&me, &len), 0);
		ck_assert_uint_eq(ns_fan_bucket(8080, ntohs(me.sin_port), 3), 2);
		nstack_close(sock);
	}
	nstack_lock(ns);
	ns_local(ns)->rx_member = false;
	nstack_unlock(ns);
}
END_TEST

static uint32_t mail_count(int slot)
{
	return ns->procs->p[slot].mb_tail - ns->procs->p[slot].mb_head;
}

/*
 * The connection a process's ring completed waits in the listener for that
 * process when it watches the listener: no other watcher is woken for it
 * (its frames would all hop to the accepting process). Without a ring of
 * its own, every watcher is told, as before.
 */
START_TEST(test_listener_event_stays_with_the_ring_that_made_it)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(8080)};
	struct socket *sock;

	a.sin_addr.s_addr = htonl(0xc6120002);
	ck_assert_int_eq(nstack_socket(ns, AF_INET, SOCK_STREAM, 0, &sock), 0);
	ck_assert_int_eq(nstack_bind(sock, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(nstack_listen(sock, 16), 0);
	nstack_sock_watch(sock);
	nstack_lock(ns);
	live(1, 1);
	sock->holders |= 1ull << 1;
	__atomic_fetch_or(&sock->watchers, 1ull << 1, __ATOMIC_SEQ_CST);
	ns_sock_event(ns, sock);
	ck_assert_uint_eq(mail_count(1), 1);
	ns_local(ns)->rx_member = true;
	/* A process whose threads do not call epoll_wait does not keep it. */
	ns_sock_event(ns, sock);
	ck_assert_uint_eq(mail_count(1), 2);
	nstack_epoll_waits(ns);
	ns_sock_event(ns, sock);
	ck_assert_uint_eq(mail_count(1), 2);
	/* Leaving, its ring takes no new flows: the others hear of it. */
	ns->procs->p[0].fan_leaving = true;
	ns_sock_event(ns, sock);
	ck_assert_uint_eq(mail_count(1), 3);
	ns->procs->p[0].fan_leaving = false;
	ns_local(ns)->rx_member = false;
	ns_proc_reap(ns, 1);
	nstack_unlock(ns);
	nstack_close(sock);
}
END_TEST

static Suite *fanout_suite(void)
{
	Suite *s = suite_create("fanout");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_fan_table_mirrors_kernel_compaction);
	tcase_add_test(tc, test_fan_plan_gives_buckets_to_waiting_rings);
	tcase_add_test(tc, test_steer_prog_picks_the_tables_ring);
	tcase_add_test(tc, test_listener_event_stays_with_the_ring_that_made_it);
	tcase_add_test(tc, test_connect_picks_a_port_that_comes_back_here);
	suite_add_tcase(s, tc);
	return s;
}

NSTACK_SUITE(fanout_suite)
