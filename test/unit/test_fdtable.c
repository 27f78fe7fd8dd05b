/*
 * The preload's fd table (preload/fdtable.c, compiled in here): mapping,
 * references, growth to high fd numbers, dup bookkeeping, and lookups racing
 * with install/remove from other threads.
 */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>

#include "../../preload/fdtable.c"
#include "check_main.h"

static atomic_int released;

/* Stands in for start.c: counts releases instead of closing a socket. */
void nsp_file_release(struct nsp_file *f)
{
	released++;
	free(f);
}

static struct nsp_file *t_file(void)
{
	struct nsp_file *f = calloc(1, sizeof(*f));

	ck_assert_ptr_nonnull(f);
	return f;
}

START_TEST(test_empty_lookup_not_private)
{
	struct nsp_file *f = t_file();

	ck_assert_ptr_null(fdt_get(0));
	ck_assert_ptr_null(fdt_get(-1));
	ck_assert_ptr_null(fdt_get(fdt_capacity()));
	ck_assert(!fdt_maybe_private(5));
	ck_assert_ptr_null(fdt_remove(5));
	ck_assert_int_eq(fdt_install(-1, f, false), -EBADF);
	free(f);
}
END_TEST

START_TEST(test_installed_fd_found_until_last_put_releases)
{
	struct nsp_file *f = t_file(), *g;

	released = 0;
	ck_assert_int_eq(fdt_install(7, f, true), 0);
	ck_assert(fdt_maybe_private(7));
	ck_assert(fdt_get_cloexec(7));
	fdt_set_cloexec(7, false);
	ck_assert(!fdt_get_cloexec(7));
	g = fdt_get(7);
	ck_assert_ptr_eq(g, f);
	ck_assert_int_eq(atomic_load(&f->refs), 2);
	ck_assert_ptr_eq(fdt_remove(7), f); /* the fd's reference moves to us */
	ck_assert_ptr_null(fdt_get(7));
	fdt_put(f);
	ck_assert_int_eq(released, 0); /* a call still holds it */
	fdt_put(g);
	ck_assert_int_eq(released, 1);
}
END_TEST

START_TEST(test_high_fd_grows_table)
{
	struct nsp_file *f = t_file();
	int fd = 1000000;

	released = 0;
	ck_assert_int_eq(fdt_install(fd, f, false), 0);
	ck_assert_ptr_eq(fdt_get(fd), f);
	fdt_put(f);
	ck_assert_ptr_null(fdt_get(fd - 1));
	ck_assert_ptr_eq(fdt_remove(fd), f);
	fdt_put(f);
	ck_assert_int_eq(released, 1);
}
END_TEST

START_TEST(test_dup_shares_file_and_find_other_sees_it)
{
	struct nsp_file *f = t_file();

	released = 0;
	ck_assert_int_eq(fdt_install(10, f, false), 0);
	ck_assert_int_eq(fdt_install(4000, f, false), 0);
	ck_assert_int_eq(fdt_find_other(f, 10), 4000);
	ck_assert_int_eq(fdt_find_other(f, 4000), 10);
	ck_assert_int_eq(atomic_load(&f->nfds), 2);
	fdt_put(fdt_remove(10));
	ck_assert_int_eq(released, 0);
	/* As close() asks, the fd already unmapped: the count alone answers. */
	ck_assert_int_eq(atomic_load(&f->nfds), 1);
	ck_assert_int_eq(fdt_find_other(f, 10), 4000);
	ck_assert_int_eq(fdt_find_other(f, 4000), -1);
	fdt_put(fdt_remove(4000));
	ck_assert_int_eq(released, 1);
}
END_TEST

static atomic_bool t_stop;

static void *t_lookup_loop(void *arg)
{
	long hits = 0;

	(void)arg;
	while (!atomic_load(&t_stop)) {
		struct nsp_file *f = fdt_get(33);

		if (f) {
			hits++;
			fdt_put(f);
		}
	}
	return (void *)hits;
}

/* Lookups from other threads never see a freed file (ASan would catch it). */
START_TEST(test_concurrent_lookups_during_install_remove_safe)
{
	pthread_t th[2];

	released = 0;
	atomic_store(&t_stop, false);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, t_lookup_loop, NULL), 0);
	for (int i = 0; i < 20000; i++) {
		struct nsp_file *f = t_file();

		ck_assert_int_eq(fdt_install(33, f, false), 0);
		fdt_put(fdt_remove(33));
	}
	atomic_store(&t_stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	/* Whoever dropped the last reference released it: all 20000 were released. */
	ck_assert_int_eq(released, 20000);
}
END_TEST

static Suite *fdtable_suite(void)
{
	Suite *s = suite_create("fdtable");
	TCase *tc = tcase_create("fdtable");

	tcase_add_test(tc, test_empty_lookup_not_private);
	tcase_add_test(tc, test_installed_fd_found_until_last_put_releases);
	tcase_add_test(tc, test_high_fd_grows_table);
	tcase_add_test(tc, test_dup_shares_file_and_find_other_sees_it);
	tcase_add_test(tc, test_concurrent_lookups_during_install_remove_safe);
	suite_add_tcase(s, tc);
	return s;
}

NSTACK_SUITE(fdtable_suite)
