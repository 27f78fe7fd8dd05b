/*
 * The arena: one shared mapping that holds all of a stack's state, so that
 * every process mapping it (fork children, exec'd programs, unrelated
 * programs on the same interface) sees the same sockets, buffers and timers.
 *
 * Layout of the reservation, at the same address in every process:
 *
 *   base                      base + NS_LOCAL_SIZE
 *   | per-process page(s)     | shared: struct ns_arena, then the heap ...
 *     (MAP_PRIVATE, anonymous)   (MAP_SHARED over the arena file)
 *
 * The per-process part sits at a fixed distance before the shared header, so
 * code holding a shared pointer finds its own process's state without any
 * global (ns_local() in stack.h). A fork child inherits a copy of it, an
 * exec'd or joining process builds its own.
 *
 * The heap is a power-of-two size-class allocator: a bump pointer over the
 * file (pages are only backed once touched) and one free list per class.
 * Allocation and freeing take the arena's own robust, process-shared lock.
 */
#ifndef NSTACK_ARENA_H
#define NSTACK_ARENA_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NS_LOCAL_SIZE	   (256u * 1024u)
#define NS_ARENA_MAGIC	   0x414e45524b43534eull /* "NSCKRENA" */
#define NS_ARENA_VERSION   1u
#define NS_ARENA_MIN_CLASS 5  /* 32 bytes */
#define NS_ARENA_MAX_CLASS 26 /* 64 MiB */
#define NS_ARENA_CLASSES   (NS_ARENA_MAX_CLASS - NS_ARENA_MIN_CLASS + 1)
#define NS_BUILD_ID_MAX	   32

struct ns_arena {
	uint64_t magic;	  /* [I] NS_ARENA_MAGIC once initialised */
	uint32_t version; /* [I] NS_ARENA_VERSION */
	uint32_t build_id_len;
	uint8_t build_id[NS_BUILD_ID_MAX]; /* [I] the library build that laid it out */
	uint64_t size;			   /* [I] bytes of the shared part */
	pthread_mutex_t lock;		   /* robust, process-shared: the allocator */
	uint64_t brk;			   /* [lock] offset of the first never-used byte */
	void *free_list[NS_ARENA_CLASSES]; /* [lock] */
	uint64_t bytes_in_use;		   /* [lock] sum of chunk sizes handed out */
	uint64_t chunks_in_use;		   /* [lock] */
	void *root;			   /* [I] the embedder's root object (struct nstack) */
	uint64_t generation;		   /* [A] bumped by each new arena on one file */
};

/* How a process maps an arena. */
struct ns_arena_map {
	void *base;		/* start of the reservation (the per-process part) */
	size_t size;		/* shared bytes */
	struct ns_arena *arena; /* base + NS_LOCAL_SIZE */
};

/*
 * Creates a fresh arena of size bytes over fd (a memfd or a tmpfs file,
 * truncated to size here), mapped at addr (NULL: anywhere; else exactly
 * there, failing with -EEXIST when something else is mapped there).
 */
int ns_arena_create(int fd, size_t size, void *addr, struct ns_arena_map *map);
/*
 * Maps an existing arena from fd at addr (the address it was created at).
 * -EPROTO when it was laid out by another build of the library, -EINVAL when
 * it is not an arena.
 */
int ns_arena_attach(int fd, void *addr, struct ns_arena_map *map);
/* Unmaps both parts (the file itself is the caller's). */
void ns_arena_unmap(struct ns_arena_map *map);

/* size bytes from the arena, not zeroed; NULL when it is full. */
void *ns_arena_alloc(struct ns_arena *a, size_t size);
void ns_arena_free(struct ns_arena *a, void *p);
/* The usable size of an allocation. */
size_t ns_arena_usable(const void *p);
/* True when p lies inside the arena's shared part. */
bool ns_arena_contains(const struct ns_arena *a, const void *p);
/* Takes the allocator's lock, repairing nothing: its sections never leave partial state. */
void ns_arena_lock(struct ns_arena *a);
void ns_arena_unlock(struct ns_arena *a);

/* A process-shared, robust mutex; 0 or -errno. */
int ns_mutex_init_robust(pthread_mutex_t *m);

/* The running library's build id (ELF NT_GNU_BUILD_ID), or a fallback. */
size_t ns_build_id(uint8_t *out, size_t max);

/*
 * Maps an existing arena from fd (which may be read-only) at addr, only to
 * read it: the shared part PROT_READ and MAP_SHARED, the per-process part
 * reserved but inaccessible (ns_local() must not be used). The same errors
 * as ns_arena_attach, and -EINVAL when the file is shorter than the arena.
 * Nothing in the arena is written or locked. Undone by ns_arena_unmap().
 */
int ns_arena_map_ro(int fd, void *addr, struct ns_arena_map *map);

#endif
