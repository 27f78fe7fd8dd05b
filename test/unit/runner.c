/*
 * Runs every registered Check suite. CK_RUN_SUITE / CK_RUN_CASE (Check's own
 * variables) select a subset.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arena.h"
#include "check_main.h"
#include "stack.h"

#define MAX_SUITES 128

static Suite *(*suites[MAX_SUITES])(void);
static int nsuites;

void nstack_add_suite(Suite *(*fn)(void))
{
	if (nsuites == MAX_SUITES) {
		fprintf(stderr, "too many test suites\n");
		abort();
	}
	suites[nsuites++] = fn;
}

int main(void)
{
	SRunner *sr;
	int failed;

	if (nsuites == 0) {
		fprintf(stderr, "no test suites registered\n");
		return 1;
	}
	sr = srunner_create(suites[0]());
	for (int i = 1; i < nsuites; i++)
		srunner_add_suite(sr, suites[i]());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}

/*
 * A bare struct nstack with no modules, where the stack keeps it: in an
 * arena of its own (unit tests of the timer wheel and sk_buffs).
 */
struct nstack *t_bare_stack(struct ns_arena_map *map)
{
	int fd = memfd_create("t", MFD_CLOEXEC);
	struct nstack *ns;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ns_arena_create(fd, 1 << 24, NULL, map), 0);
	close(fd);
	ns = ns_arena_alloc(map->arena, sizeof(*ns));
	memset(ns, 0, sizeof(*ns));
	ns->arena = map->arena;
	return ns;
}
