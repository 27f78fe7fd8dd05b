/*
 * The arena: the shared mapping all stack state is allocated from (see
 * arena.h for the layout and why).
 */
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arena.h"
#include "nsref.h"

/* The origin of every nsref_t; see nsref.h. Never read. */
__attribute__((used, visibility("hidden"))) const char nstack_image_anchor[16] = "nstack-anchor";

/* Every chunk starts with this; 16 bytes keep payloads 16-byte aligned. */
struct chunk_hdr {
	uint32_t magic;
	uint32_t cls; /* size class: payload is 1 << cls bytes */
	uint64_t pad;
};

#define CHUNK_MAGIC 0x6e73636bu

struct build_id_search {
	uintptr_t addr;
	uint8_t *out;
	size_t max, len;
};

static int find_build_id(struct dl_phdr_info *info, size_t sz, void *arg)
{
	struct build_id_search *s = arg;
	bool mine = false;

	(void)sz;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t start = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type == PT_LOAD && s->addr >= start && s->addr < start + ph->p_memsz)
			mine = true;
	}
	if (!mine)
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		const uint8_t *p, *end;

		if (ph->p_type != PT_NOTE)
			continue;
		p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
		end = p + ph->p_memsz;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)p;
			const uint8_t *name = p + sizeof(*n);
			const uint8_t *desc = name + ((n->n_namesz + 3) & ~3u);

			if (desc + n->n_descsz > end)
				break;
			if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 &&
			    memcmp(name, "GNU", 4) == 0) {
				s->len = n->n_descsz < s->max ? n->n_descsz : s->max;
				memcpy(s->out, desc, s->len);
				return 1;
			}
			p = desc + ((n->n_descsz + 3) & ~3u);
		}
	}
	return 1;
}

/*
 * The build id of the image this code is in: two processes may share an
 * arena only when they run the same build, since the arena holds offsets
 * into the image (nsref.h) and the build's structure layouts. Without a
 * build-id note, the anchor's offset from a function stands in.
 */
size_t ns_build_id(uint8_t *out, size_t max)
{
	struct build_id_search s = {.addr = (uintptr_t)nstack_image_anchor, .out = out, .max = max};
	intptr_t d = (intptr_t)nstack_image_anchor - (intptr_t)(void *)ns_build_id;

	dl_iterate_phdr(find_build_id, &s);
	if (s.len)
		return s.len;
	s.len = sizeof(d) < max ? sizeof(d) : max;
	memcpy(out, &d, s.len);
	return s.len;
}

/* A process-shared, robust mutex (the arena's and the stack's locks); 0 or -errno. */
int ns_mutex_init_robust(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;
	int rc;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	rc = pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
	return -rc;
}

/* Reserves local + size bytes at addr and maps both parts; 0 or -errno. */
static int map_parts(int fd, size_t size, void *addr, struct ns_arena_map *map)
{
	size_t total = NS_LOCAL_SIZE + size;
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
	void *base, *p;

	if (addr)
		flags |= MAP_FIXED_NOREPLACE;
	base = mmap(addr, total, PROT_NONE, flags, -1, 0);
	if (base == MAP_FAILED)
		return -errno;
	if (addr && base != addr) {
		/* A kernel without MAP_FIXED_NOREPLACE took it as a hint. */
		munmap(base, total);
		return -EEXIST;
	}
	p = mmap(base, NS_LOCAL_SIZE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (p == MAP_FAILED)
		goto fail;
	p = mmap((char *)base + NS_LOCAL_SIZE, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	map->base = base;
	map->size = size;
	map->arena = p;
	return 0;
fail:;
	int err = -errno;

	munmap(base, total);
	return err;
}

/* Creates a fresh arena; see arena.h. */
int ns_arena_create(int fd, size_t size, void *addr, struct ns_arena_map *map)
{
	struct ns_arena *a;
	int err;

	size &= ~(size_t)4095;
	if (size < (1u << 20))
		return -EINVAL;
	if (ftruncate(fd, 0) < 0 || ftruncate(fd, (off_t)size) < 0)
		return -errno;
	err = map_parts(fd, size, addr, map);
	if (err)
		return err;
	a = map->arena;
	memset(a, 0, sizeof(*a));
	err = ns_mutex_init_robust(&a->lock);
	if (err) {
		ns_arena_unmap(map);
		return err;
	}
	a->version = NS_ARENA_VERSION;
	a->build_id_len = (uint32_t)ns_build_id(a->build_id, sizeof(a->build_id));
	a->size = size;
	a->brk = (sizeof(*a) + 63) & ~(uint64_t)63;
	__atomic_store_n(&a->magic, NS_ARENA_MAGIC, __ATOMIC_RELEASE);
	return 0;
}

/* Reads an arena's header from fd: -EINVAL if it is none, -EPROTO if another build laid it out. */
static int read_header(int fd, struct ns_arena *hdr)
{
	uint8_t id[NS_BUILD_ID_MAX];
	size_t idlen;

	if (pread(fd, hdr, sizeof(*hdr), 0) != (ssize_t)sizeof(*hdr))
		return -EINVAL;
	if (hdr->magic != NS_ARENA_MAGIC || hdr->size < (1u << 20))
		return -EINVAL;
	idlen = ns_build_id(id, sizeof(id));
	if (hdr->version != NS_ARENA_VERSION || hdr->build_id_len != idlen ||
	    memcmp(hdr->build_id, id, idlen) != 0)
		return -EPROTO;
	return 0;
}

/* Maps an existing arena; see arena.h. */
int ns_arena_attach(int fd, void *addr, struct ns_arena_map *map)
{
	struct ns_arena hdr;
	int err;

	err = read_header(fd, &hdr);
	if (err)
		return err;
	err = map_parts(fd, hdr.size, addr, map);
	if (err)
		return err;
	return 0;
}

/* Unmaps an arena mapping. */
void ns_arena_unmap(struct ns_arena_map *map)
{
	if (map->base)
		munmap(map->base, NS_LOCAL_SIZE + map->size);
	map->base = NULL;
	map->arena = NULL;
}

/* Takes the allocator lock; a holder that died left no partial state. */
void ns_arena_lock(struct ns_arena *a)
{
	if (pthread_mutex_lock(&a->lock) == EOWNERDEAD)
		pthread_mutex_consistent(&a->lock);
}

void ns_arena_unlock(struct ns_arena *a)
{
	pthread_mutex_unlock(&a->lock);
}

static unsigned int size_class(size_t size)
{
	unsigned int c = NS_ARENA_MIN_CLASS;

	while (c <= NS_ARENA_MAX_CLASS && ((size_t)1 << c) < size)
		c++;
	return c;
}

/* size bytes from the arena (16-byte aligned), or NULL. */
void *ns_arena_alloc(struct ns_arena *a, size_t size)
{
	unsigned int c = size_class(size);
	struct chunk_hdr *h;
	void **slot;

	if (c > NS_ARENA_MAX_CLASS)
		return NULL;
	slot = &a->free_list[c - NS_ARENA_MIN_CLASS];
	ns_arena_lock(a);
	if (*slot) {
		void *p = *slot;

		*slot = *(void **)p;
		h = (struct chunk_hdr *)p - 1;
	} else {
		uint64_t need = sizeof(*h) + ((uint64_t)1 << c);

		if (a->brk + need > a->size) {
			ns_arena_unlock(a);
			return NULL;
		}
		h = (struct chunk_hdr *)((char *)a + a->brk);
		a->brk += need;
		h->magic = CHUNK_MAGIC;
		h->cls = c;
	}
	a->bytes_in_use += (uint64_t)1 << c;
	a->chunks_in_use++;
	ns_arena_unlock(a);
	return h + 1;
}

/* Returns p (from ns_arena_alloc, or NULL) to its class's free list. */
void ns_arena_free(struct ns_arena *a, void *p)
{
	struct chunk_hdr *h;

	if (!p)
		return;
	h = (struct chunk_hdr *)p - 1;
	if (h->magic != CHUNK_MAGIC || h->cls < NS_ARENA_MIN_CLASS || h->cls > NS_ARENA_MAX_CLASS)
		__builtin_trap(); /* a broken contract: freeing something that is not ours */
	ns_arena_lock(a);
	*(void **)p = a->free_list[h->cls - NS_ARENA_MIN_CLASS];
	a->free_list[h->cls - NS_ARENA_MIN_CLASS] = p;
	a->bytes_in_use -= (uint64_t)1 << h->cls;
	a->chunks_in_use--;
	ns_arena_unlock(a);
}

size_t ns_arena_usable(const void *p)
{
	return (size_t)1 << ((const struct chunk_hdr *)p - 1)->cls;
}

bool ns_arena_contains(const struct ns_arena *a, const void *p)
{
	return (const char *)p >= (const char *)a && (const char *)p < (const char *)a + a->size;
}

/*
 * Maps an existing arena read-only, for a reader that must not disturb it
 * (nstack stat); see arena.h.
 */
int ns_arena_map_ro(int fd, void *addr, struct ns_arena_map *map)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
	struct ns_arena hdr;
	size_t total;
	off_t end;
	void *base, *p;
	int err;

	err = read_header(fd, &hdr);
	if (err)
		return err;
	/* Pages past the end of the file would fault (SIGBUS) when read. */
	end = lseek(fd, 0, SEEK_END);
	if (end < 0 || (uint64_t)end < hdr.size || hdr.size > SIZE_MAX - NS_LOCAL_SIZE)
		return -EINVAL;
	total = NS_LOCAL_SIZE + hdr.size;
	if (addr)
		flags |= MAP_FIXED_NOREPLACE;
	/* The per-process part stays reserved and inaccessible: a reader has none. */
	base = mmap(addr, total, PROT_NONE, flags, -1, 0);
	if (base == MAP_FAILED)
		return -errno;
	if (addr && base != addr) {
		munmap(base, total);
		return -EEXIST;
	}
	p = mmap((char *)base + NS_LOCAL_SIZE, hdr.size, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0);
	if (p == MAP_FAILED) {
		err = -errno;
		munmap(base, total);
		return err;
	}
	map->base = base;
	map->size = hdr.size;
	map->arena = p;
	return 0;
}
