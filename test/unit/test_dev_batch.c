/* dev.c transmit batching: frames held between dev_tx_begin/end, in order. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "netdevice.h"
#include "skbuff.h"
#include "stack.h"

static struct nstack *ns;
static struct net_device *dev;
static int single_calls, many_calls;
static unsigned int many_sizes[8];
static unsigned char sent_tags[64];
static unsigned int nsent;

static int rec_xmit(struct net_device *d, const void *frame, size_t len)
{
	(void)d;
	(void)len;
	single_calls++;
	sent_tags[nsent++] = ((const unsigned char *)frame)[0];
	return 0;
}

static int rec_xmit_many(struct net_device *d, const struct iovec *frames, unsigned int n)
{
	(void)d;
	if (many_calls < 8)
		many_sizes[many_calls] = n;
	many_calls++;
	for (unsigned int i = 0; i < n; i++)
		sent_tags[nsent++] = ((const unsigned char *)frames[i].iov_base)[0];
	return (int)n;
}

static const struct netdev_ops rec_ops = {.xmit = rec_xmit, .xmit_many = rec_xmit_many};

static void setup(void)
{
	ns = calloc(1, sizeof(*ns));
	dev = calloc(1, sizeof(*dev));
	dev->ops = &rec_ops;
	dev->ns = ns;
	ns->dev = dev;
	single_calls = many_calls = 0;
	nsent = 0;
	memset(many_sizes, 0, sizeof(many_sizes));
}

static void teardown(void)
{
	ck_assert_int_eq(ns->skb_live, 0);
	skb_cache_purge(ns);
	free(dev);
	free(ns);
}

static void send_tagged(unsigned char tag)
{
	struct sk_buff *skb = alloc_skb(ns, ETH_ZLEN);

	memset(skb_put(skb, ETH_ZLEN), tag, ETH_ZLEN);
	ck_assert_int_eq(dev_queue_xmit(skb), 0);
}

START_TEST(test_batch_frames_held_until_end_sent_in_order)
{
	dev_tx_begin(ns);
	send_tagged(1);
	send_tagged(2);
	dev_tx_begin(ns); /* nested: the inner end does not flush */
	send_tagged(3);
	dev_tx_end(ns);
	ck_assert_int_eq(many_calls, 0);
	ck_assert_int_eq(single_calls, 0);
	ck_assert_int_eq(ns->skb_live, 3);
	dev_tx_end(ns);
	ck_assert_int_eq(many_calls, 1);
	ck_assert_uint_eq(many_sizes[0], 3);
	ck_assert_uint_eq(nsent, 3);
	ck_assert_mem_eq(sent_tags, "\x01\x02\x03", 3);
	ck_assert_uint_eq(dev->stats.tx_packets, 3);
	ck_assert_uint_eq(ns->mib.EthOutFrames, 3);
}
END_TEST

START_TEST(test_batch_full_flushes_then_rest_at_end)
{
	dev_tx_begin(ns);
	for (unsigned int i = 0; i < NETDEV_TX_BATCH + 1; i++)
		send_tagged((unsigned char)(i + 1));
	ck_assert_int_eq(many_calls, 1);
	ck_assert_uint_eq(many_sizes[0], NETDEV_TX_BATCH);
	dev_tx_end(ns);
	ck_assert_int_eq(many_calls, 2);
	ck_assert_uint_eq(many_sizes[1], 1);
	for (unsigned int i = 0; i < NETDEV_TX_BATCH + 1; i++)
		ck_assert_uint_eq(sent_tags[i], i + 1);
}
END_TEST

START_TEST(test_no_batch_sends_each_frame_at_once)
{
	send_tagged(7);
	ck_assert_int_eq(single_calls, 1);
	ck_assert_int_eq(many_calls, 0);
	ck_assert_uint_eq(sent_tags[0], 7);
}
END_TEST

START_TEST(test_flush_sends_held_frames_inside_batch)
{
	dev_tx_begin(ns);
	send_tagged(5);
	dev_tx_flush(ns); /* what sk_wait does before it lets the lock go */
	ck_assert_int_eq(many_calls, 1);
	ck_assert_uint_eq(sent_tags[0], 5);
	dev_tx_end(ns);
	ck_assert_int_eq(many_calls, 1);
}
END_TEST

static Suite *dev_batch_suite(void)
{
	Suite *s = suite_create("dev_batch");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_batch_frames_held_until_end_sent_in_order);
	tcase_add_test(tc, test_batch_full_flushes_then_rest_at_end);
	tcase_add_test(tc, test_no_batch_sends_each_frame_at_once);
	tcase_add_test(tc, test_flush_sends_held_frames_inside_batch);
	suite_add_tcase(s, tc);
	return s;
}

NSTACK_SUITE(dev_batch_suite)
