/*
 * One stack, several processes (stack/shared.c), as the stack thread sees
 * it: who drives the link once the processes it watches are gone. Other
 * processes are played by entries in the process table with the pid of a
 * real child, alive or already waited for.
 */
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_main.h"
#include "shared.h"
#include "stack.h"
#include "wire.h"

static const uint8_t mac[6] = {2, 0, 0, 0, 0, 2};
static struct wire *w;
static struct nstack *ns;
static int take_overs;

/* The link opens at once; the test only counts. */
static int count_take_over(void *ctx, struct nstack *s)
{
	(void)ctx;
	(void)s;
	__atomic_add_fetch(&take_overs, 1, __ATOMIC_RELAXED);
	return 0;
}

static const struct nstack_hooks hooks = {.take_over = count_take_over};

static void setup(void)
{
	struct nstack_config cfg;

	take_overs = 0;
	ck_assert_int_eq(wire_create(NULL, &w), 0);
	nstack_config_defaults(&cfg);
	cfg.log_level = NSTACK_LOG_ERROR;
	/* The real clock: the stack thread sleeps on it. */
	ck_assert_int_eq(nstack_create(&cfg, wire_netdev(w, 0, mac, 1500), NULL, &hooks, &ns), 0);
}

static void teardown(void)
{
	nstack_destroy(ns);
	wire_destroy(w);
}

/* A child that waits to be killed. */
static pid_t live_child(void)
{
	pid_t pid = fork();

	if (pid == 0)
		for (;;)
			pause();
	ck_assert_int_gt(pid, 0);
	return pid;
}

/* The pid of a process that has exited and been waited for: no pidfd can be opened for it. */
static pid_t gone_pid(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	return pid;
}

/* We are slot 1, joined; slot 0 (pid driver) drives. */
static void join_as_slot_1(pid_t driver)
{
	nstack_lock(ns);
	ns->procs->p[0].pid = driver;
	ns->procs->p[1] = (struct ns_proc){.pid = getpid(), .state = NS_PROC_LIVE};
	ns_local(ns)->slot = 1;
	ck_assert_int_eq(ns->procs->driver, 0);
	nstack_unlock(ns);
}

/* Whether this process drives the link within 2 s. */
static bool drives_soon(void)
{
	for (int i = 0; i < 200; i++) {
		if (nstack_is_driver(ns))
			return true;
		usleep(10 * 1000);
	}
	return false;
}

START_TEST(test_joined_driver_dies_pidfd_fires_takes_the_link)
{
	pid_t pid = live_child();

	join_as_slot_1(pid);
	ck_assert_int_eq(nstack_start(ns), 0);
	usleep(50 * 1000); /* the thread watches the driver's pidfd */
	ck_assert(!nstack_is_driver(ns));
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	ck_assert(drives_soon());
	ck_assert_int_eq(__atomic_load_n(&take_overs, __ATOMIC_RELAXED), 1);
	ck_assert_int_eq(nstack_proc_count(ns), 1);
}
END_TEST

/*
 * The joiner's first look finds the driver already waited for (SIGKILLed
 * with everything else on the stack): no pidfd for it, its slot is reaped
 * on the spot, after the thread chose to sleep with no timeout. It slept
 * so for good, with nobody driving (lab
 * mp_joiner_of_a_killed_stack_takes_the_link).
 */
START_TEST(test_joined_driver_already_gone_takes_the_link)
{
	join_as_slot_1(gone_pid());
	ck_assert_int_eq(nstack_start(ns), 0);
	ck_assert(drives_soon());
	ck_assert_int_eq(__atomic_load_n(&take_overs, __ATOMIC_RELAXED), 1);
	ck_assert_int_eq(nstack_proc_count(ns), 1);
}
END_TEST

/* The driver's side: a process found gone is reaped; the driver stays. */
START_TEST(test_driver_finds_a_process_gone_reaps_it)
{
	nstack_lock(ns);
	ns->procs->p[1] = (struct ns_proc){.pid = gone_pid(), .state = NS_PROC_LIVE};
	nstack_unlock(ns);
	ck_assert_int_eq(nstack_proc_count(ns), 2);
	ck_assert_int_eq(nstack_start(ns), 0);
	for (int i = 0; i < 200 && nstack_proc_count(ns) > 1; i++)
		usleep(10 * 1000);
	ck_assert_int_eq(nstack_proc_count(ns), 1);
	ck_assert(nstack_is_driver(ns));
	ck_assert_int_eq(__atomic_load_n(&take_overs, __ATOMIC_RELAXED), 0);
}
END_TEST

/* Mail waiting in slot's box. */
static uint32_t mail_count(int slot)
{
	return ns->procs->p[slot].mb_tail - ns->procs->p[slot].mb_head;
}

/*
 * A readiness change goes by mail only to the holders that watch the socket
 * with epoll: a holder that never waits on it (nginx's master and its
 * listener) is not woken for each. A fork child watches what its parent
 * did; letting go of the socket ends the watch.
 */
START_TEST(test_sock_event_mails_only_holders_that_watch)
{
	struct socket *sock;
	int child;

	ck_assert_int_eq(nstack_socket(ns, AF_INET, SOCK_DGRAM, 0, &sock), 0);
	nstack_lock(ns);
	ns->procs->p[1] = (struct ns_proc){.pid = getpid(), .state = NS_PROC_LIVE};
	sock->holders |= 1ull << 1;
	ns_sock_event(ns, sock);
	ck_assert_uint_eq(mail_count(1), 0);
	nstack_unlock(ns);

	/* Slot 1 registers it (its own nstack_sock_watch sets its bit). */
	__atomic_fetch_or(&sock->watchers, 1ull << 1, __ATOMIC_SEQ_CST);
	nstack_lock(ns);
	ns_sock_event(ns, sock);
	ck_assert_uint_eq(mail_count(1), 1);
	ck_assert_uint_eq(ns->procs->p[1].mb[0].kind, NS_MAIL_EVENT);
	ck_assert_ptr_eq((void *)ns->procs->p[1].mb[0].arg, sock);
	nstack_unlock(ns);

	nstack_sock_watch(sock);
	ck_assert_uint_eq(sock->watchers, 3);
	child = nstack_fork_prepare(ns);
	ck_assert_int_gt(child, 1);
	ck_assert(sock->watchers & (1ull << child));
	nstack_fork_parent(ns, child, -1); /* failed: the child's holds and watch go */
	ck_assert_uint_eq(sock->watchers, 3);

	/* Slot 1 lets go (dies); its watch goes with its hold. */
	nstack_lock(ns);
	ns_proc_reap(ns, 1);
	ck_assert_uint_eq(sock->watchers, 1);
	nstack_unlock(ns);
	nstack_close(sock);
}
END_TEST

static Suite *shared_suite(void)
{
	Suite *s = suite_create("shared");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_joined_driver_dies_pidfd_fires_takes_the_link);
	tcase_add_test(tc, test_joined_driver_already_gone_takes_the_link);
	tcase_add_test(tc, test_driver_finds_a_process_gone_reaps_it);
	tcase_add_test(tc, test_sock_event_mails_only_holders_that_watch);
	suite_add_tcase(s, tc);
	return s;
}

NSTACK_SUITE(shared_suite)
