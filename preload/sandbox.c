/*
 * Threads under a seccomp filter (OpenSSH's pre-authentication child, for
 * one) may only make the system calls their filter allows: read, write,
 * ppoll, futex and a few more, but not sendto() on the packet socket nor on
 * a doorbell, nor eventfd(). A thread that installs a filter through
 * prctl(PR_SET_SECCOMP) is marked here first, and gets its wait token made
 * while it still may. From then on, what it would send (frames, doorbell
 * rings) is queued in this process and handed to the process's own stack
 * thread, which has no filter (filters bind the calling thread only), by a
 * write() to that thread's eventfd.
 */
#include <errno.h>
#include <linux/seccomp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/queue.h>

#include "netdevice.h"
#include "preload.h"

__thread int nsp_sandboxed __attribute__((tls_model("initial-exec")));

struct deferred {
	STAILQ_ENTRY(deferred) next;
	bool gso;
	struct netdev_gso g;
	size_t hdr_len, len; /* buf: hdr_len bytes of headers, then the rest */
	unsigned char buf[];
};

/* Under the stack lock (device calls and hooks run with it). */
static STAILQ_HEAD(, deferred) queue = STAILQ_HEAD_INITIALIZER(queue);
static struct {
	int slot;
	uint64_t id;
} rings[64];
static int nrings;

NSP_EXPORT int prctl(int option, ...)
{
	unsigned long a[4];
	va_list ap;

	va_start(ap, option);
	for (int i = 0; i < 4; i++)
		a[i] = va_arg(ap, unsigned long);
	va_end(ap);
	if (option == PR_SET_SECCOMP && a[0] == SECCOMP_MODE_FILTER && !nsp_inside &&
	    nsp_stack_running()) {
		nsp_thread_efd(); /* eventfd() may be forbidden from now on */
		nsp_sandboxed = 1;
	}
	return REAL(prctl)(option, a[0], a[1], a[2], a[3]);
}

/* Queues a frame (or a super-frame: gso) for the stack thread; 0 or -ENOBUFS. */
int nsp_defer_xmit(struct nstack *ns, const struct iovec *iov, int iovcnt,
		   const struct netdev_gso *gso)
{
	size_t len = 0, off = 0;
	struct deferred *d;

	for (int i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	d = malloc(sizeof(*d) + len);
	if (!d)
		return -ENOBUFS;
	for (int i = 0; i < iovcnt; i++) {
		memcpy(d->buf + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	d->len = len;
	d->gso = gso != NULL;
	d->hdr_len = gso ? iov[0].iov_len : 0;
	if (gso)
		d->g = *gso;
	STAILQ_INSERT_TAIL(&queue, d, next);
	nstack_wake_thread(ns);
	return 0;
}

/* A doorbell ring a sandboxed thread could not send. */
void nsp_defer_ring(struct nstack *ns, int slot, uint64_t id)
{
	for (int i = 0; i < nrings; i++)
		if (rings[i].slot == slot && rings[i].id == id)
			return;
	if (nrings < (int)(sizeof(rings) / sizeof(rings[0]))) {
		rings[nrings].slot = slot;
		rings[nrings++].id = id;
	}
	nstack_wake_thread(ns);
}

/* nstack_hooks.thread_tick: the stack thread sends what was deferred (lock held). */
void nsp_hook_thread_tick(void *ctx, struct nstack *ns)
{
	struct net_device *dev = nstack_dev(ns);
	struct deferred *d;

	(void)ctx;
	while ((d = STAILQ_FIRST(&queue)) != NULL) {
		STAILQ_REMOVE_HEAD(&queue, next);
		if (d->gso) {
			struct iovec iov[2] = {{d->buf, d->hdr_len},
					       {d->buf + d->hdr_len, d->len - d->hdr_len}};

			dev->ops->xmit_gso(dev, iov, 2, &d->g);
		} else {
			dev->ops->xmit(dev, d->buf, d->len);
		}
		free(d);
	}
	while (nrings > 0) {
		nrings--;
		nsp_hook_ring(NULL, rings[nrings].slot, rings[nrings].id);
	}
}
