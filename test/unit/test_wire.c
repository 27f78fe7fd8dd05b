/* The in-memory wire: FIFO delivery and seeded impairments. */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "check_main.h"
#include "wire.h"

START_TEST(test_frames_arrive_in_order_at_other_end)
{
	struct wire *w;
	char buf[16];

	ck_assert_int_eq(wire_create(NULL, &w), 0);
	ck_assert_int_eq(wire_send(w, 0, "one", 3), 0);
	ck_assert_int_eq(wire_send(w, 0, "two", 3), 0);
	ck_assert_uint_eq(wire_pending(w, 1), 2);
	ck_assert_uint_eq(wire_pending(w, 0), 0);
	ck_assert_int_eq(wire_recv(w, 1, buf, sizeof(buf)), 3);
	ck_assert_mem_eq(buf, "one", 3);
	ck_assert_int_eq(wire_recv(w, 1, buf, sizeof(buf)), 3);
	ck_assert_mem_eq(buf, "two", 3);
	ck_assert_int_eq(wire_recv(w, 1, buf, sizeof(buf)), -EAGAIN);
	ck_assert_int_eq(wire_recv(w, 0, buf, sizeof(buf)), -EAGAIN);
	wire_destroy(w);
}
END_TEST

static int deliver_count(const struct wire_opts *o, int n, int *reordered)
{
	struct wire *w;
	int got = 0, last = -1;
	unsigned char buf[8];

	ck_assert_int_eq(wire_create(o, &w), 0);
	for (int i = 0; i < n; i++) {
		uint32_t v = (uint32_t)i;

		ck_assert_int_eq(wire_send(w, 0, &v, sizeof(v)), 0);
	}
	*reordered = 0;
	while (wire_recv(w, 1, buf, sizeof(buf)) == 4) {
		int v;

		memcpy(&v, buf, 4);
		if (v < last)
			(*reordered)++;
		last = v;
		got++;
	}
	wire_destroy(w);
	return got;
}

START_TEST(test_impairments_follow_their_rates)
{
	struct wire_opts loss = {.loss = 0.05, .seed = 7};
	struct wire_opts dup = {.dup = 0.10, .seed = 7};
	struct wire_opts reo = {.reorder = 0.10, .seed = 7};
	int r, got;

	got = deliver_count(&loss, 10000, &r);
	ck_assert_int_gt(got, 9300);
	ck_assert_int_lt(got, 9700);
	got = deliver_count(&dup, 10000, &r);
	ck_assert_int_gt(got, 10800);
	ck_assert_int_lt(got, 11200);
	got = deliver_count(&reo, 10000, &r);
	ck_assert_int_eq(got, 10000);
	ck_assert_int_gt(r, 700);
}
END_TEST

static Suite *wire_suite(void)
{
	Suite *s = suite_create("wire");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_frames_arrive_in_order_at_other_end);
	tcase_add_test(tc, test_impairments_follow_their_rates);
	suite_add_tcase(s, tc);
	return s;
}

NSTACK_SUITE(wire_suite)
