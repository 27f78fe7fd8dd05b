/* sk_buff: pointer arithmetic, clones, copies and queues. */
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_main.h"
#include "arena.h"
#include "skbuff.h"
#include "stack.h"

static struct nstack *ns;
static struct ns_arena_map map;

static void setup(void)
{
	ns = t_bare_stack(&map);
}

static void teardown(void)
{
	ck_assert_int_eq(ns->skb_live, 0);
	skb_cache_purge(ns);
	ck_assert_uint_eq(map.arena->chunks_in_use, 1); /* the struct nstack alone */
	ns_arena_unmap(&map);
}

START_TEST(test_alloc_reserve_put_push_pull_track_pointers)
{
	struct sk_buff *skb = alloc_skb(ns, 256);

	ck_assert_ptr_nonnull(skb);
	ck_assert_int_eq(ns->skb_live, 1);
	skb_reserve(skb, 64);
	ck_assert_uint_eq(skb_headroom(skb), 64);
	ck_assert_uint_eq(skb_tailroom(skb), 192);
	memcpy(skb_put(skb, 5), "hello", 5);
	ck_assert_uint_eq(skb->len, 5);
	memcpy(skb_push(skb, 3), "abc", 3);
	ck_assert_uint_eq(skb->len, 8);
	ck_assert_mem_eq(skb->data, "abchello", 8);
	skb_reset_network_header(skb);
	ck_assert_ptr_eq(skb_pull(skb, 3), skb->data);
	ck_assert_mem_eq(skb->data, "hello", 5);
	ck_assert_mem_eq(skb_network_header(skb), "abc", 3);
	ck_assert_ptr_null(skb_pull(skb, 6)); /* too short: unchanged */
	ck_assert_uint_eq(skb->len, 5);
	skb_trim(skb, 2);
	ck_assert_uint_eq(skb->len, 2);
	ck_assert_ptr_eq(skb->tail, skb->data + 2);
	kfree_skb(skb);
}
END_TEST

START_TEST(test_clone_shares_data_until_unshared)
{
	struct sk_buff *skb = alloc_skb_hdr(ns, 100);
	struct sk_buff *c;

	memcpy(skb_put(skb, 4), "data", 4);
	c = skb_clone(skb);
	ck_assert_ptr_nonnull(c);
	ck_assert(skb_cloned(skb) && skb_cloned(c));
	ck_assert_ptr_eq(c->data, skb->data);
	ck_assert_int_eq(ns->skb_live, 2);
	ck_assert_int_eq(skb_unshare_data(c), 0);
	ck_assert(!skb_cloned(c) && !skb_cloned(skb));
	ck_assert_ptr_ne(c->data, skb->data);
	ck_assert_mem_eq(c->data, "data", 4);
	c->data[0] = 'D';
	ck_assert_mem_eq(skb->data, "data", 4);
	ck_assert_uint_eq(skb_headroom(c), MAX_HEADER);
	kfree_skb(skb);
	kfree_skb(c);
}
END_TEST

START_TEST(test_copy_keeps_offsets_and_contents)
{
	struct sk_buff *skb = alloc_skb_hdr(ns, 10), *c;

	memcpy(skb_put(skb, 6), "abcdef", 6);
	skb_reset_transport_header(skb);
	skb->protocol = 0x0800;
	c = skb_copy(skb);
	ck_assert_uint_eq(c->len, 6);
	ck_assert_mem_eq(c->data, "abcdef", 6);
	ck_assert_uint_eq(c->transport_header, skb->transport_header);
	ck_assert_uint_eq(c->protocol, 0x0800);
	ck_assert(!skb_cloned(skb));
	kfree_skb(skb);
	kfree_skb(c);
}
END_TEST

static int destructed;

static void count_destructor(struct sk_buff *skb)
{
	(void)skb;
	destructed++;
}

START_TEST(test_queue_fifo_order_lengths_and_purge)
{
	struct sk_buff_head q;
	struct sk_buff *a = alloc_skb(ns, 8), *b = alloc_skb(ns, 8), *c = alloc_skb(ns, 8);

	skb_queue_head_init(&q);
	skb_put(a, 1);
	skb_put(b, 2);
	skb_put(c, 3);
	skb_queue_tail(&q, b);
	skb_queue_head(&q, a);
	skb_insert_after(&q, b, c);
	ck_assert_uint_eq(q.qlen, 3);
	ck_assert_uint_eq(q.bytes, 6);
	ck_assert_ptr_eq(skb_peek(&q), a);
	ck_assert_ptr_eq(skb_peek_tail(&q), c);
	skb_unlink(&q, b);
	ck_assert_uint_eq(q.bytes, 4);
	ck_assert_ptr_eq(skb_dequeue(&q), a);
	kfree_skb(a);
	kfree_skb(b);
	skb_set_destructor(c, count_destructor);
	destructed = 0;
	skb_queue_purge(&q);
	ck_assert_int_eq(destructed, 1);
	ck_assert(skb_queue_empty(&q));
	ck_assert_ptr_null(skb_dequeue(&q));
}
END_TEST

START_TEST(test_freed_large_area_reused_keeps_requested_size)
{
	struct sk_buff *skb = alloc_skb(ns, 2000);
	struct sk_buff *c;
	unsigned int fresh_truesize;

	ck_assert_ptr_nonnull(skb);
	kfree_skb(skb);
	/* A recycled area (2048 bytes of room) still shows only what was asked. */
	skb = alloc_skb(ns, 100);
	ck_assert_ptr_nonnull(skb);
	ck_assert_uint_eq(skb_tailroom(skb), 100);
	ck_assert_uint_eq(skb->len, 0);
	ck_assert_uint_eq(skb->shinfo->dataref, 1);
	ck_assert_ptr_null(skb->sk);
	ck_assert_int_eq(skb->destructor, 0);
	fresh_truesize = skb->truesize;
	memset(skb_put(skb, 100), 0xab, 100);
	c = skb_clone(skb);
	ck_assert_ptr_nonnull(c);
	kfree_skb(skb);
	kfree_skb(c);
	skb = alloc_skb(ns, 100);
	ck_assert_uint_eq(skb->truesize, fresh_truesize);
	ck_assert_uint_eq(skb_tailroom(skb), 100);
	kfree_skb(skb);
}
END_TEST

/*
 * A queue in the arena with skb linked onto it but not counted: what a
 * process killed between the two steps of skb_queue_tail() leaves. With
 * die_holding_lock, that process (a child) also held the stack lock.
 */
static struct sk_buff_head *queue_linked_not_counted(struct sk_buff *skb, bool die_holding_lock)
{
	struct sk_buff_head *q = ns_zalloc(ns, sizeof(*q));
	pid_t pid;
	int status;

	skb_queue_head_init(q);
	skb_put(skb, 10);
	ck_assert_int_eq(ns_mutex_init_robust(&ns->lock), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (die_holding_lock)
			pthread_mutex_lock(&ns->lock);
		TAILQ_INSERT_TAIL(&q->q, skb, list);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ns_lock(ns);
	return q;
}

/*
 * SIGKILL can stop a process anywhere inside the stack. The next holder
 * of the lock repairs the count instead of stopping every process of the
 * stack on an assertion (an echo server's parent aborted in skb_unlink
 * after a child was killed: lab mp_kill9_child_others_carry_on).
 */
START_TEST(test_queue_count_left_short_by_a_death_inside_is_repaired)
{
	struct sk_buff *skb = alloc_skb(ns, 64);
	struct sk_buff_head *q = queue_linked_not_counted(skb, true);

	ck_assert_uint_eq(ns->mib.StackDeathsInside, 1);
	ck_assert_uint_eq(q->qlen, 0);
	skb_queue_purge(q);
	ck_assert(skb_queue_empty(q));
	ck_assert_uint_eq(q->qlen, 0);
	ck_assert_uint_eq(q->bytes, 0);
	ck_assert_uint_eq(ns->mib.StackRepairs, 1);
	pthread_mutex_unlock(&ns->lock);
	ns_free(ns, q);
}
END_TEST

/* Where nobody died, the same disagreement is a bug and still stops the program. */
START_TEST(test_queue_count_short_without_a_death_aborts)
{
	struct sk_buff *skb = alloc_skb(ns, 64);
	struct sk_buff_head *q = queue_linked_not_counted(skb, false);

	ck_assert_uint_eq(ns->mib.StackDeathsInside, 0);
	skb_queue_purge(q);
}
END_TEST

static Suite *skbuff_suite(void)
{
	Suite *s = suite_create("skbuff");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_alloc_reserve_put_push_pull_track_pointers);
	tcase_add_test(tc, test_clone_shares_data_until_unshared);
	tcase_add_test(tc, test_copy_keeps_offsets_and_contents);
	tcase_add_test(tc, test_queue_fifo_order_lengths_and_purge);
	tcase_add_test(tc, test_freed_large_area_reused_keeps_requested_size);
	tcase_add_test(tc, test_queue_count_left_short_by_a_death_inside_is_repaired);
	tcase_add_test_raise_signal(tc, test_queue_count_short_without_a_death_aborts, SIGABRT);
	suite_add_tcase(s, tc);
	return s;
}

NSTACK_SUITE(skbuff_suite)
