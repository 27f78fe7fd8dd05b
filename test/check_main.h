/* Suites register themselves; one runner (test/unit/runner.c) runs them all. */
#ifndef NSTACK_TEST_CHECK_MAIN_H
#define NSTACK_TEST_CHECK_MAIN_H

#include <check.h>

void nstack_add_suite(Suite *(*fn)(void));

struct nstack;
struct ns_arena_map;
struct nstack *t_bare_stack(struct ns_arena_map *map);

#define NSTACK_SUITE(fn)                                                                           \
	static void __attribute__((constructor)) nstack_register_##fn(void)                        \
	{                                                                                          \
		nstack_add_suite(fn);                                                              \
	}

#endif
