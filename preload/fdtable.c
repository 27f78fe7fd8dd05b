/*
 * The fd table: fd number -> private socket file.
 *
 * Two levels of fixed size, so a lookup never sees a table being moved: a
 * static array of chunk pointers, chunks allocated on first use and never
 * freed. The lookup for fds that are not ours (the common case: files,
 * pipes, kernel sockets) is two atomic loads and no lock. Lookups that find
 * a file take its reference under a striped lock, so close() cannot free the
 * file between the load and the reference.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "preload.h"

#define FDT_CHUNK_SHIFT 10
#define FDT_CHUNK	(1 << FDT_CHUNK_SHIFT)
#define FDT_CHUNKS	4096 /* 4 Mi fds, above any RLIMIT_NOFILE Debian allows */
#define FDT_STRIPES	64

struct fdt_ent {
	_Atomic(struct nsp_file *) file;
	bool cloexec; /* FD_CLOEXEC as the program sees it */
};

static _Atomic(struct fdt_ent *) fdt_chunks[FDT_CHUNKS];
static pthread_mutex_t fdt_grow_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t fdt_stripe[FDT_STRIPES] = {
    [0 ... FDT_STRIPES - 1] = PTHREAD_MUTEX_INITIALIZER,
};

static struct fdt_ent *fdt_slot(int fd, bool create)
{
	struct fdt_ent *c;
	unsigned int i;

	if (fd < 0 || fd >= FDT_CHUNK * FDT_CHUNKS)
		return NULL;
	i = (unsigned int)fd >> FDT_CHUNK_SHIFT;
	c = atomic_load_explicit(&fdt_chunks[i], memory_order_acquire);
	if (!c && create) {
		pthread_mutex_lock(&fdt_grow_lock);
		c = atomic_load(&fdt_chunks[i]);
		if (!c) {
			c = calloc(FDT_CHUNK, sizeof(*c));
			if (c)
				atomic_store_explicit(&fdt_chunks[i], c, memory_order_release);
		}
		pthread_mutex_unlock(&fdt_grow_lock);
	}
	return c ? &c[fd & (FDT_CHUNK - 1)] : NULL;
}

/* Slots the table can address. */
int fdt_capacity(void)
{
	return FDT_CHUNK * FDT_CHUNKS;
}

/* A hint only: the answer may change as soon as it is returned. */
bool fdt_maybe_private(int fd)
{
	struct fdt_ent *e = fdt_slot(fd, false);

	return e && atomic_load_explicit(&e->file, memory_order_relaxed) != NULL;
}

/* The file behind fd, referenced; NULL when fd is not a private socket. */
struct nsp_file *fdt_get(int fd)
{
	struct fdt_ent *e = fdt_slot(fd, false);
	pthread_mutex_t *l;
	struct nsp_file *f;

	if (!e || !atomic_load_explicit(&e->file, memory_order_relaxed))
		return NULL;
	l = &fdt_stripe[fd % FDT_STRIPES];
	pthread_mutex_lock(l);
	f = atomic_load(&e->file);
	if (f)
		atomic_fetch_add(&f->refs, 1);
	pthread_mutex_unlock(l);
	return f;
}

/* Drops a reference; the last one releases the socket (nsp_file_release). */
void fdt_put(struct nsp_file *f)
{
	if (atomic_fetch_sub(&f->refs, 1) == 1)
		nsp_file_release(f);
}

/* Maps fd to f; the fd holds one reference. */
int fdt_install(int fd, struct nsp_file *f, bool cloexec)
{
	struct fdt_ent *e = fdt_slot(fd, true);
	pthread_mutex_t *l;

	if (!e)
		return fd < 0 ? -EBADF : -ENOMEM;
	l = &fdt_stripe[fd % FDT_STRIPES];
	pthread_mutex_lock(l);
	struct nsp_file *old;

	atomic_fetch_add(&f->refs, 1);
	atomic_fetch_add(&f->nfds, 1);
	e->cloexec = cloexec;
	old = atomic_exchange(&e->file, f);
	if (old)
		atomic_fetch_sub(&old->nfds, 1);
	pthread_mutex_unlock(l);
	return 0;
}

/* Unmaps fd and hands its reference to the caller. */
struct nsp_file *fdt_remove(int fd)
{
	struct fdt_ent *e = fdt_slot(fd, false);
	pthread_mutex_t *l;
	struct nsp_file *f;

	if (!e)
		return NULL;
	l = &fdt_stripe[fd % FDT_STRIPES];
	pthread_mutex_lock(l);
	f = atomic_exchange(&e->file, NULL);
	if (f)
		atomic_fetch_sub(&f->nfds, 1);
	pthread_mutex_unlock(l);
	return f;
}

bool fdt_get_cloexec(int fd)
{
	struct fdt_ent *e = fdt_slot(fd, false);

	return e && e->cloexec;
}

void fdt_set_cloexec(int fd, bool on)
{
	struct fdt_ent *e = fdt_slot(fd, false);

	if (e)
		e->cloexec = on;
}

/*
 * Another fd of f than not_fd, or -1. Every close of a socket asks (nginx:
 * once per connection), and the answer is nearly always that there is
 * none: the count of f's fd numbers says so without the scan, which
 * walked the whole table (4% of a server's CPU at 7000 connections a
 * second). Only after a dup() is the table scanned.
 */
int fdt_find_other(struct nsp_file *f, int not_fd)
{
	struct fdt_ent *self = not_fd >= 0 ? fdt_slot(not_fd, false) : NULL;
	int others = atomic_load(&f->nfds) - (self && atomic_load(&self->file) == f);

	if (others <= 0)
		return -1;
	for (int i = 0; i < FDT_CHUNKS; i++) {
		struct fdt_ent *c = atomic_load(&fdt_chunks[i]);

		if (!c)
			continue;
		for (int j = 0; j < FDT_CHUNK; j++) {
			int fd = i * FDT_CHUNK + j;

			if (fd != not_fd && atomic_load(&c[j].file) == f)
				return fd;
		}
	}
	return -1;
}

/* The first fd >= from that maps to a private file, or -1. */
int fdt_next_private(int from)
{
	for (int fd = from < 0 ? 0 : from; fd < FDT_CHUNK * FDT_CHUNKS;) {
		struct fdt_ent *c = atomic_load(&fdt_chunks[fd >> FDT_CHUNK_SHIFT]);

		if (!c) {
			fd = (fd | (FDT_CHUNK - 1)) + 1;
			continue;
		}
		if (atomic_load(&c[fd & (FDT_CHUNK - 1)].file))
			return fd;
		fd++;
	}
	return -1;
}

/* fork(): no fd may change between the stack's count of holds and the fork. */
void fdt_fork_lock(void)
{
	pthread_mutex_lock(&fdt_grow_lock);
	for (int i = 0; i < FDT_STRIPES; i++)
		pthread_mutex_lock(&fdt_stripe[i]);
}

void fdt_fork_unlock(void)
{
	for (int i = FDT_STRIPES - 1; i >= 0; i--)
		pthread_mutex_unlock(&fdt_stripe[i]);
	pthread_mutex_unlock(&fdt_grow_lock);
}

/*
 * In the child of fork(): the locks are fresh again, and each file's
 * reference count becomes the number of fds that map to it (the parent's
 * calls in progress, counted in it, are not the child's). The child's
 * threads are gone, so nobody sleeps on any file.
 */
void fdt_fork_child(void)
{
	pthread_mutex_init(&fdt_grow_lock, NULL);
	for (int i = 0; i < FDT_STRIPES; i++)
		pthread_mutex_init(&fdt_stripe[i], NULL);
	for (int pass = 0; pass < 2; pass++) {
		for (int fd = fdt_next_private(0); fd >= 0; fd = fdt_next_private(fd + 1)) {
			struct nsp_file *f = atomic_load(&fdt_slot(fd, false)->file);

			if (pass == 0) {
				atomic_store(&f->refs, 0);
				pthread_mutex_init(&f->wait_lock, NULL);
			} else {
				atomic_fetch_add(&f->refs, 1);
			}
		}
	}
}
