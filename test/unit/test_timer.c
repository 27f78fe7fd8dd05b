/* The timer wheel on a manual clock. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check_main.h"
#include "arena.h"
#include "stack.h"
#include "timer.h"

static struct nstack *ns;
static uint64_t now;

static uint64_t manual_now(void *ctx)
{
	(void)ctx;
	return now;
}

static struct ns_arena_map map;

static void setup(void)
{
	ns = t_bare_stack(&map);
	now = 5000000;
	ns_local(ns)->env.now_us = manual_now;
	ns_local(ns)->wake_fd = -1;
	ns->thread_sleep_until = UINT64_MAX;
	timer_wheel_init(&ns->timers, now);
}

static void teardown(void)
{
	ns_arena_unmap(&map);
}

struct probe {
	struct timer_list t;
	int fired;
	uint64_t fired_at;
	int order;
	uint64_t rearm_delta; /* re-arm relative to now when fired, 0 = no */
};

static int order_counter;

static void probe_fn(struct timer_list *t)
{
	struct probe *p = container_of(t, struct probe, t);

	p->fired++;
	p->fired_at = now;
	p->order = ++order_counter;
	if (p->rearm_delta)
		mod_timer(ns, &p->t, now + p->rearm_delta);
}

static void run_at(uint64_t t)
{
	now = t;
	timers_run(ns);
}

START_TEST(test_armed_timer_fires_at_deadline_not_before)
{
	struct probe p = {0};

	timer_setup(&p.t, probe_fn);
	mod_timer(ns, &p.t, now + 200000);
	ck_assert(timer_pending(&p.t));
	ck_assert_uint_eq(timers_next(ns), 5200000);
	run_at(5199999);
	ck_assert_int_eq(p.fired, 0);
	run_at(5200000);
	ck_assert_int_eq(p.fired, 1);
	ck_assert(!timer_pending(&p.t));
	ck_assert_uint_eq(timers_next(ns), UINT64_MAX);
}
END_TEST

START_TEST(test_timers_fire_in_expiry_order_within_and_across_slots)
{
	struct probe a = {0}, b = {0}, c = {0};

	order_counter = 0;
	timer_setup(&a.t, probe_fn);
	timer_setup(&b.t, probe_fn);
	timer_setup(&c.t, probe_fn);
	mod_timer(ns, &a.t, now + 3900); /* same millisecond as b, later */
	mod_timer(ns, &b.t, now + 3100);
	mod_timer(ns, &c.t, now + 1000);
	run_at(now + 10000);
	ck_assert_int_eq(c.order, 1);
	ck_assert_int_eq(b.order, 2);
	ck_assert_int_eq(a.order, 3);
}
END_TEST

START_TEST(test_del_and_mod_move_timers)
{
	struct probe a = {0};

	timer_setup(&a.t, probe_fn);
	mod_timer(ns, &a.t, now + 1000);
	ck_assert(del_timer(ns, &a.t));
	ck_assert(!del_timer(ns, &a.t));
	run_at(now + 5000);
	ck_assert_int_eq(a.fired, 0);
	mod_timer(ns, &a.t, now + 1000);
	mod_timer(ns, &a.t, now + 9000); /* moved later */
	run_at(now + 1000);
	ck_assert_int_eq(a.fired, 0);
	run_at(now + 8000);
	ck_assert_int_eq(a.fired, 1);
}
END_TEST

START_TEST(test_far_timer_survives_wheel_revolutions)
{
	struct probe a = {0};
	uint64_t t0 = now;

	timer_setup(&a.t, probe_fn);
	/* 10 s: more than two revolutions of a 4096-slot wheel. */
	mod_timer(ns, &a.t, t0 + 10000000);
	for (uint64_t t = t0 + 500000; t < t0 + 10000000; t += 500000) {
		run_at(t);
		ck_assert_int_eq(a.fired, 0);
	}
	ck_assert_uint_eq(timers_next(ns), t0 + 10000000);
	run_at(t0 + 10000000);
	ck_assert_int_eq(a.fired, 1);
}
END_TEST

START_TEST(test_big_clock_jump_fires_everything_due)
{
	struct probe a = {0}, b = {0}, far = {0};

	timer_setup(&a.t, probe_fn);
	timer_setup(&b.t, probe_fn);
	timer_setup(&far.t, probe_fn);
	mod_timer(ns, &a.t, now + 7000000);
	mod_timer(ns, &b.t, now + 100);
	mod_timer(ns, &far.t, now + 3000ull * 1000000); /* beyond level 1 */
	run_at(now + 3600ull * 1000000);
	ck_assert_int_eq(a.fired, 1);
	ck_assert_int_eq(b.fired, 1);
	ck_assert_int_eq(far.fired, 1);
	ck_assert_uint_eq(timers_next(ns), UINT64_MAX);
}
END_TEST

START_TEST(test_rearm_in_callback_waits_for_next_run)
{
	struct probe a = {0};

	timer_setup(&a.t, probe_fn);
	a.rearm_delta = 1; /* re-arms 1 us later, already due by the next ms */
	mod_timer(ns, &a.t, now + 1000);
	run_at(now + 1000);
	ck_assert_int_eq(a.fired, 1);
	ck_assert(timer_pending(&a.t));
	run_at(now + 1);
	ck_assert_int_eq(a.fired, 2);
	a.rearm_delta = 0;
}
END_TEST

START_TEST(test_past_expiry_fires_on_next_run)
{
	struct probe a = {0};

	timer_setup(&a.t, probe_fn);
	run_at(now + 5000);
	mod_timer(ns, &a.t, now - 3000);
	ck_assert_uint_le(timers_next(ns), now);
	run_at(now);
	ck_assert_int_eq(a.fired, 1);
}
END_TEST

/*
 * A sleeper that wakes at timers_next() and runs the timers: timers of all
 * three levels (near, 60 s as TIME_WAIT, 3 h as keepalive) fire exactly at
 * their expiry, in order, with few wake-ups in between; a deleted far
 * timer leaves nothing to wait for.
 */
START_TEST(test_timers_follow_next_fire_exactly_from_every_level)
{
	static struct probe p[300];
	struct probe far = {0}, gone = {0};
	uint64_t t0 = now, next;
	unsigned int wakes = 0, seed = 7;

	order_counter = 0;
	for (int i = 0; i < 300; i++) {
		timer_setup(&p[i].t, probe_fn);
		seed = seed * 1103515245u + 12345u;
		/* Up to 300 s, to the microsecond; some share milliseconds. */
		mod_timer(ns, &p[i].t, t0 + 1000 + (uint64_t)(seed % 300000) * 1000 + seed % 7);
	}
	timer_setup(&far.t, probe_fn);
	mod_timer(ns, &far.t, t0 + 3ull * 3600 * 1000000);
	timer_setup(&gone.t, probe_fn);
	mod_timer(ns, &gone.t, t0 + 5ull * 3600 * 1000000);
	ck_assert(del_timer(ns, &gone.t));
	while ((next = timers_next(ns)) != UINT64_MAX) {
		ck_assert_uint_gt(next, now);
		run_at(next);
		wakes++;
		ck_assert_uint_lt(wakes, 2000);
	}
	for (int i = 0; i < 300; i++) {
		ck_assert_int_eq(p[i].fired, 1);
		ck_assert_uint_eq(p[i].fired_at, p[i].t.expires);
		for (int j = 0; j < 300; j++)
			if (p[j].t.expires < p[i].t.expires)
				ck_assert_int_lt(p[j].order, p[i].order);
	}
	ck_assert_int_eq(far.fired, 1);
	ck_assert_uint_eq(far.fired_at, t0 + 3ull * 3600 * 1000000);
	ck_assert_int_eq(gone.fired, 0);
	/* 301 expiries, plus a few moves between levels. */
	ck_assert_uint_lt(wakes, 301 + 40);
}
END_TEST

static Suite *timer_suite(void)
{
	Suite *s = suite_create("timer");
	TCase *tc = tcase_create("wheel");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_armed_timer_fires_at_deadline_not_before);
	tcase_add_test(tc, test_timers_fire_in_expiry_order_within_and_across_slots);
	tcase_add_test(tc, test_del_and_mod_move_timers);
	tcase_add_test(tc, test_far_timer_survives_wheel_revolutions);
	tcase_add_test(tc, test_big_clock_jump_fires_everything_due);
	tcase_add_test(tc, test_rearm_in_callback_waits_for_next_run);
	tcase_add_test(tc, test_past_expiry_fires_on_next_run);
	tcase_add_test(tc, test_timers_follow_next_fire_exactly_from_every_level);
	suite_add_tcase(s, tc);
	return s;
}

NSTACK_SUITE(timer_suite)
