/* ASan poisoning of the stack's arena for the fuzz targets (see fuzz_arena.c). */
#ifndef NSTACK_FUZZ_ARENA_H
#define NSTACK_FUZZ_ARENA_H

struct ns_arena;

/* Call around nstack_destroy() of a stack in arena a. */
void fz_arena_destroy_begin(struct ns_arena *a);
void fz_arena_destroy_end(void);
/* Returns a's quarantined chunks to its free lists (before a snapshot). */
void fz_arena_flush(struct ns_arena *a);
/*
 * The arena's bytes were put back (a snapshot): forget its quarantine,
 * unpoison [a, a + len) and poison the chunks on its free lists.
 */
void fz_arena_reset(struct ns_arena *a, size_t len);

#endif
