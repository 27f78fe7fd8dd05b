/*
 * AddressSanitizer for the arena. The stack allocates everything from its
 * own shared-memory arena (arena.c), which ASan cannot see into: a read past
 * an object or of a freed one would go unnoticed. The fuzz targets link with
 * -Wl,--wrap=ns_arena_alloc,--wrap=ns_arena_free, and these wrappers poison
 * the slack of every chunk (the size class rounds up) and every freed chunk
 * but its first 16 bytes (the allocator's free-list link), and keep freed
 * chunks in a quarantine for a while before they can be reused, as ASan's
 * own allocator does.
 */
#include <sanitizer/asan_interface.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "fuzz_arena.h"

void *__real_ns_arena_alloc(struct ns_arena *a, size_t size);
void __real_ns_arena_free(struct ns_arena *a, void *p);
void *__wrap_ns_arena_alloc(struct ns_arena *a, size_t size);
void __wrap_ns_arena_free(struct ns_arena *a, void *p);

#define QUARANTINE 4096
#define LINK_BYTES 16

static struct {
	struct ns_arena *a;
	void *p;
} quarantine[QUARANTINE];
static unsigned int q_head, q_len;
static struct ns_arena *dying;
static uint64_t dying_brk;

void *__wrap_ns_arena_alloc(struct ns_arena *a, size_t size)
{
	void *p = __real_ns_arena_alloc(a, size);

	if (p) {
		size_t cap = ns_arena_usable(p);

		ASAN_UNPOISON_MEMORY_REGION(p, size);
		if (cap > size)
			ASAN_POISON_MEMORY_REGION((char *)p + size, cap - size);
	}
	return p;
}

void __wrap_ns_arena_free(struct ns_arena *a, void *p)
{
	size_t cap;

	if (!p)
		return;
	if (a == dying) {
		__real_ns_arena_free(a, p);
		return;
	}
	cap = ns_arena_usable(p);
	ASAN_UNPOISON_MEMORY_REGION(p, LINK_BYTES);
	if (cap > LINK_BYTES)
		ASAN_POISON_MEMORY_REGION((char *)p + LINK_BYTES, cap - LINK_BYTES);
	if (q_len == QUARANTINE) {
		unsigned int old = q_head;

		__real_ns_arena_free(quarantine[old].a, quarantine[old].p);
		q_head = (q_head + 1) % QUARANTINE;
		q_len--;
	}
	quarantine[(q_head + q_len) % QUARANTINE].a = a;
	quarantine[(q_head + q_len) % QUARANTINE].p = p;
	q_len++;
}

/*
 * Around nstack_destroy(): the arena's quarantined chunks go back to it
 * while it is still mapped, and what the teardown frees goes straight
 * back; once unmapped, the arena's memory is unpoisoned for whatever is
 * mapped there next.
 */
void fz_arena_destroy_begin(struct ns_arena *a)
{
	unsigned int keep = 0;

	for (unsigned int i = 0; i < q_len; i++) {
		unsigned int k = (q_head + i) % QUARANTINE;

		if (quarantine[k].a == a)
			__real_ns_arena_free(a, quarantine[k].p);
		else
			quarantine[(q_head + keep++) % QUARANTINE] = quarantine[k];
	}
	q_len = keep;
	dying = a;
	dying_brk = a->brk;
}

void fz_arena_destroy_end(void)
{
	if (dying)
		ASAN_UNPOISON_MEMORY_REGION(dying, dying_brk);
	dying = NULL;
}

/* Hands a's quarantined chunks back to it (before a snapshot of it). */
void fz_arena_flush(struct ns_arena *a)
{
	unsigned int keep = 0;

	for (unsigned int i = 0; i < q_len; i++) {
		unsigned int k = (q_head + i) % QUARANTINE;

		if (quarantine[k].a == a)
			__real_ns_arena_free(a, quarantine[k].p);
		else
			quarantine[(q_head + keep++) % QUARANTINE] = quarantine[k];
	}
	q_len = keep;
}

/* After a snapshot of the arena was copied back over it. */
void fz_arena_reset(struct ns_arena *a, size_t len)
{
	unsigned int keep = 0;

	for (unsigned int i = 0; i < q_len; i++) {
		unsigned int k = (q_head + i) % QUARANTINE;

		if (quarantine[k].a != a)
			quarantine[(q_head + keep++) % QUARANTINE] = quarantine[k];
	}
	q_len = keep;
	ASAN_UNPOISON_MEMORY_REGION(a, len);
	for (unsigned int c = 0; c < NS_ARENA_CLASSES; c++) {
		for (void *p = a->free_list[c]; p; p = *(void **)p) {
			size_t cap = ns_arena_usable(p);

			if (cap > LINK_BYTES)
				ASAN_POISON_MEMORY_REGION((char *)p + LINK_BYTES, cap - LINK_BYTES);
		}
	}
}
