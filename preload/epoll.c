/*
 * epoll over private and kernel fds together.
 *
 * The epoll instance stays a real kernel epoll: kernel fds are registered in
 * it as the program asks. A private fd is registered too, but as its eventfd
 * with EPOLLIN and a tag in the data, and the program's mask and data are
 * kept here, per epoll fd. While a private socket is watched by an epoll set,
 * the stack's readiness hook signals its eventfd on every change, so the
 * kernel epoll wakes (edge-triggered: the eventfd is never drained, so no
 * set or thread can consume another's signal); epoll_wait then asks the
 * stack for the socket's readiness and reports it with the program's data.
 *
 * Level-triggered registrations that were reported stay on a ready list and
 * are looked at again on the next wait (as Linux's ep_send_events re-queues
 * them), since a socket with unread data raises no new event. EPOLLET reports
 * only after a new event, EPOLLONESHOT disables the registration until
 * EPOLL_CTL_MOD.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload.h"

/* Kernel-side data for a private fd's eventfd: far above any user pointer. */
#define EP_TAG	    (0xa5a5ull << 48)
#define EP_TAG_MASK (0xffffull << 48)
#define EP_BELL	    0xffffffffu /* the set's bell, not an fd */
#define EP_LINK	    0xfffffffeu /* the link's fd, for direct receive (ep_arm) */
#define EP_MAIL	    0xfffffffdu /* this process's doorbell, for direct mail (ep_arm) */

struct ep_reg {
	int fd;
	struct nsp_file *file; /* referenced while registered */
	uint32_t events;       /* the program's mask, EPOLLET/EPOLLONESHOT included */
	epoll_data_t data;
	bool on_ready;
	bool disabled;		/* EPOLLONESHOT fired */
	unsigned long reported; /* the wait call that last reported it */
};

struct ep_set {
	int epfd;
	pthread_mutex_t lock;
	struct ep_reg **byfd; /* indexed by private fd */
	int nbyfd;
	struct ep_reg **ready;
	int nready, capready;
	int nregs;
	unsigned long wait_seq; /* numbers epoll_wait calls: one report per call */
	/*
	 * The table's reference plus one per call using the set: close(epfd)
	 * while another thread waits in it must not free it under that thread
	 * (Linux's waiter holds the file; its wait goes on).
	 */
	atomic_int refs;
	/*
	 * Several threads in one set: level-triggered registrations left on the
	 * ready list after a wait returns must wake another waiting thread, as
	 * Linux wakes the next waiter while its ready list is not empty. The
	 * bell (an eventfd in the kernel set, edge-triggered, never drained) is
	 * rung for that; sleepers counts the threads that may be asleep.
	 */
	int bell;
	int sleepers;
	int linkfd; /* the link fd registered in the kernel set (ep_arm), -1 */
	int mailfd; /* the doorbell registered there, -1 */
	/* Their one-shot registrations are armed and have not fired (ep_arm). */
	atomic_bool link_armed, mail_armed;
	/*
	 * Made before fork(): the kernel set is the parent's too, which may
	 * take the events of what we would arm there (ep_arm) and not know
	 * whose they are. Such a set sleeps without direct receive or mail.
	 */
	bool inherited;
};

static pthread_mutex_t ep_sets_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ep_set **ep_sets;
static int ep_nsets, ep_capsets;
static atomic_int ep_any; /* sets exist: close() must look */

static void reg_free(struct ep_set *s, struct ep_reg *r);
static void ready_add(struct ep_set *s, struct ep_reg *r);

/*
 * Events the thread in ep_wait's direct section takes itself. It processes
 * the frames (or the mail) that make its sockets ready, so signalling their
 * eventfds, only for its own next epoll_pwait(0) to read the signals back,
 * costs two syscalls per event for nothing (a write per request in nginx).
 * A file with one epoll registration in this process is noted here instead,
 * with a reference, and goes straight onto the set's ready list when the
 * section ends (ep_catch_end).
 */
#define EP_CATCH_MAX 32
struct ep_caught {
	struct nsp_file *f;
	int fd; /* f->evfd when caught (read under the stack lock) */
};
static __thread struct {
	bool on;
	bool missed; /* an event was signalled after all: the kernel set has it */
	int n;
	struct ep_caught c[EP_CATCH_MAX];
} ep_catch __attribute__((tls_model("initial-exec")));

bool nsp_epoll_catch(struct nsp_file *f)
{
	int refs, watchers;

	if (!ep_catch.on)
		return false;
	watchers = atomic_load(&f->watchers);
	if (watchers == 0)
		return true; /* nobody to tell */
	if (watchers != 1 || f->evfd < 0)
		goto miss;
	for (int i = 0; i < ep_catch.n; i++)
		if (ep_catch.c[i].f == f)
			return true;
	if (ep_catch.n == EP_CATCH_MAX)
		goto miss;
	/* A file whose last reference went is being closed: not revived. */
	refs = atomic_load(&f->refs);
	do {
		if (refs <= 0)
			goto miss;
	} while (!atomic_compare_exchange_weak(&f->refs, &refs, refs + 1));
	ep_catch.c[ep_catch.n++] = (struct ep_caught){f, f->evfd};
	return true;
miss:
	ep_catch.missed = true;
	return false;
}

static void ep_catch_begin(void)
{
	ep_catch.on = true;
	ep_catch.missed = false;
	ep_catch.n = 0;
}

/*
 * Ends the direct section: caught files registered in s go on its ready
 * list; one registered elsewhere (another set, under another fd) gets the
 * signal it missed. True if the kernel set may hold events the section made.
 */
static bool ep_catch_end(struct ep_set *s, struct nstack *ns)
{
	int n = ep_catch.n;
	bool late = false;

	ep_catch.on = false;
	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < n; i++) {
		struct ep_caught *c = &ep_catch.c[i];
		struct ep_reg *r = c->fd < s->nbyfd ? s->byfd[c->fd] : NULL;

		if (r && r->file == c->f) {
			ready_add(s, r);
			c->fd = -1;
		}
	}
	pthread_mutex_unlock(&s->lock);
	for (int i = 0; i < n; i++) {
		if (ep_catch.c[i].fd < 0)
			continue;
		if (!late)
			nstack_lock(ns);
		nsp_file_signal(ep_catch.c[i].f);
		late = true;
	}
	if (late)
		nstack_unlock(ns);
	for (int i = 0; i < n; i++)
		fdt_put(ep_catch.c[i].f);
	ep_catch.n = 0;
	return ep_catch.missed || late;
}

/*
 * In the child of fork(), after fdt_fork_child() counted one reference per
 * fd: each registration holds one more on its file (taken at
 * EPOLL_CTL_ADD), which that count left out, so the first close() of a
 * watched socket in the child (redis's bgsave child closing its listeners)
 * freed the file under the fd's own reference. The sets' locks may have
 * been held by the parent's other threads, and calls in progress were
 * theirs.
 */
void nsp_epoll_fork_child(void)
{
	pthread_mutex_init(&ep_sets_lock, NULL);
	for (int i = 0; i < ep_nsets; i++) {
		struct ep_set *s = ep_sets[i];

		pthread_mutex_init(&s->lock, NULL);
		atomic_store(&s->refs, 1);
		s->sleepers = 0;
		s->inherited = true;
		for (int fd = 0; fd < s->nbyfd; fd++)
			if (s->byfd[fd])
				atomic_fetch_add(&s->byfd[fd]->file->refs, 1);
	}
}

/* The set of epfd with a reference taken (ep_put), created if asked; NULL if none. */
static struct ep_set *ep_find(int epfd, bool create)
{
	struct ep_set *s = NULL;

	pthread_mutex_lock(&ep_sets_lock);
	for (int i = 0; i < ep_nsets; i++) {
		if (ep_sets[i]->epfd == epfd) {
			s = ep_sets[i];
			break;
		}
	}
	if (!s && create) {
		if (ep_nsets == ep_capsets) {
			int cap = ep_capsets ? 2 * ep_capsets : 8;
			struct ep_set **n = realloc(ep_sets, (size_t)cap * sizeof(*n));

			if (!n)
				goto out;
			ep_sets = n;
			ep_capsets = cap;
		}
		s = calloc(1, sizeof(*s));
		if (!s)
			goto out;
		s->epfd = epfd;
		s->bell = -1;
		s->linkfd = -1;
		s->mailfd = -1;
		atomic_init(&s->refs, 1);
		pthread_mutex_init(&s->lock, NULL);
		ep_sets[ep_nsets++] = s;
		atomic_store(&ep_any, 1);
	}
out:
	if (s)
		atomic_fetch_add(&s->refs, 1);
	pthread_mutex_unlock(&ep_sets_lock);
	return s;
}

/* Drops a reference from ep_find(); the last one frees the set. */
static void ep_put(struct ep_set *s)
{
	if (atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	for (int j = 0; j < s->nbyfd; j++) {
		if (s->byfd[j])
			reg_free(s, s->byfd[j]);
	}
	if (s->bell >= 0) {
		nsp_internal_fd_del(s->bell);
		nsp_syscall(SYS_close, s->bell);
	}
	pthread_mutex_destroy(&s->lock);
	free(s->byfd);
	free(s->ready);
	free(s);
}

static void ready_add(struct ep_set *s, struct ep_reg *r)
{
	if (r->on_ready)
		return;
	if (s->nready == s->capready) {
		int cap = s->capready ? 2 * s->capready : 16;
		struct ep_reg **n = realloc(s->ready, (size_t)cap * sizeof(*n));

		if (!n)
			return; /* the next kernel event will bring it back */
		s->ready = n;
		s->capready = cap;
	}
	s->ready[s->nready++] = r;
	r->on_ready = true;
}

static void ready_del(struct ep_set *s, struct ep_reg *r)
{
	if (!r->on_ready)
		return;
	for (int i = 0; i < s->nready; i++) {
		if (s->ready[i] == r) {
			s->ready[i] = s->ready[--s->nready];
			break;
		}
	}
	r->on_ready = false;
}

static void reg_free(struct ep_set *s, struct ep_reg *r)
{
	ready_del(s, r);
	s->byfd[r->fd] = NULL;
	s->nregs--;
	atomic_fetch_sub(&r->file->watchers, 1);
	fdt_put(r->file);
	free(r);
}

static int ep_ctl_private(int epfd, int op, int fd, struct epoll_event *ev, struct nsp_file *f)
{
	/*
	 * Edge-triggered on an eventfd nobody drains: every signal from the
	 * stack is a new edge for each set that watches the socket, and no
	 * reader (another set, another thread) can consume it for the others.
	 */
	struct epoll_event kev = {.events = EPOLLIN | EPOLLET, .data.u64 = EP_TAG | (uint64_t)fd};
	struct ep_set *s;
	struct ep_reg *r;
	int rc;

	if (op != EPOLL_CTL_DEL && !ev)
		return -EFAULT;
	if (op != EPOLL_CTL_DEL && (ev->events & EPOLLEXCLUSIVE)) {
		/* As ep_ctl: not on MOD, and only with these bits (no RDHUP, no ONESHOT). */
		const uint32_t ok = EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP |
				    EPOLLET | EPOLLEXCLUSIVE;

		if (op == EPOLL_CTL_MOD || (ev->events & ~ok))
			return -EINVAL;
		/* Only one of the sets waiting on the socket is woken per event. */
		kev.events |= EPOLLEXCLUSIVE;
	}
	/* The kernel checks epfd, EEXIST and ENOENT for us. */
	if (REAL(epoll_ctl)(epfd, op, fd, &kev) < 0)
		return -errno;
	s = ep_find(epfd, op == EPOLL_CTL_ADD);
	if (!s)
		return op == EPOLL_CTL_ADD ? -ENOMEM : -ENOENT;
	pthread_mutex_lock(&s->lock);
	r = fd < s->nbyfd ? s->byfd[fd] : NULL;
	switch (op) {
	case EPOLL_CTL_ADD:
		if (fd >= s->nbyfd) {
			int n = s->nbyfd ? s->nbyfd : 64;
			struct ep_reg **nb;

			while (n <= fd)
				n *= 2;
			nb = realloc(s->byfd, (size_t)n * sizeof(*nb));
			if (!nb) {
				rc = -ENOMEM;
				goto out_undo;
			}
			memset(nb + s->nbyfd, 0, (size_t)(n - s->nbyfd) * sizeof(*nb));
			s->byfd = nb;
			s->nbyfd = n;
		}
		if (r) /* stale: an fd closed behind our back */
			reg_free(s, r);
		r = calloc(1, sizeof(*r));
		if (!r) {
			rc = -ENOMEM;
			goto out_undo;
		}
		r->fd = fd;
		r->file = f;
		atomic_fetch_add(&f->refs, 1);
		atomic_fetch_add(&f->watchers, 1);
		nstack_sock_watch(f->sock);
		r->events = ev->events;
		r->data = ev->data;
		s->byfd[fd] = r;
		s->nregs++;
		if (s->bell < 0) {
			struct epoll_event bev = {.events = EPOLLIN | EPOLLET,
						  .data.u64 = EP_TAG | EP_BELL};
			int b = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

			if (b >= 0 && REAL(epoll_ctl)(epfd, EPOLL_CTL_ADD, b, &bev) == 0) {
				nsp_internal_fd_add(b);
				s->bell = b;
			} else if (b >= 0) {
				nsp_syscall(SYS_close,
					    b); /* no bell: only the cross-thread wake is lost */
			}
		}
		ready_add(s, r); /* already ready: reported at once, as Linux does */
		break;
	case EPOLL_CTL_MOD:
		if (!r)
			break;
		r->events = ev->events;
		r->data = ev->data;
		r->disabled = false;
		ready_add(s, r);
		break;
	case EPOLL_CTL_DEL:
		if (r)
			reg_free(s, r);
		break;
	}
	/*
	 * A registration added or changed while another thread sleeps in
	 * epoll_wait() may be ready already (its socket's wake-up came before
	 * anyone watched it): wake the sleeper to look, as Linux's epoll_ctl
	 * does for a ready file. Otherwise apache's event MPM, which hands a
	 * socket that hit EAGAIN to its listener thread's epoll, could wait
	 * for good on a connection whose space was freed in between.
	 */
	if (op != EPOLL_CTL_DEL && s->nready && s->sleepers && s->bell >= 0) {
		uint64_t one = 1;

		if (nsp_syscall(SYS_write, s->bell, &one, sizeof(one)) < 0) {
			/* saturated: the sleepers wake anyway */
		}
	}
	pthread_mutex_unlock(&s->lock);
	ep_put(s);
	return 0;

out_undo:
	pthread_mutex_unlock(&s->lock);
	ep_put(s);
	REAL(epoll_ctl)(epfd, EPOLL_CTL_DEL, fd, NULL);
	return rc;
}

NSP_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	int rc;

	LOOKUP_OR(fd, REAL(epoll_ctl)(epfd, op, fd, ev));
	rc = ep_ctl_private(epfd, op, fd, ev, f);
	fdt_put(f);
	return (int)nsp_ret(rc);
}

/*
 * Reports ready private registrations into out (up to max); keeps
 * level-triggered ones on the ready list. Called with s->lock held.
 */
static int ep_collect(struct ep_set *s, struct epoll_event *out, int max, unsigned long seq)
{
	struct nstack *locked = NULL;
	int n = 0;

	for (int i = 0; i < s->nready && n < max;) {
		struct ep_reg *r = s->ready[i];
		uint32_t rev = 0;

		if (r->reported == seq) {
			i++; /* already in this call's answer; stays for the next call */
			continue;
		}
		if (!r->disabled) {
			/* One stack section for the whole answer, not one per socket. */
			if (r->file->ns != locked) {
				if (locked)
					nstack_unlock(locked);
				locked = r->file->ns;
				nstack_lock(locked);
			}
			rev = nstack_poll_locked(r->file->sock) & (r->events | EPOLLERR | EPOLLHUP);
		}
		if (!rev) {
			ready_del(s, r); /* swaps the last entry into i */
			continue;
		}
		out[n].events = rev;
		out[n].data = r->data;
		r->reported = seq;
		n++;
		if (r->events & EPOLLONESHOT)
			r->disabled = true;
		if (r->events & (EPOLLET | EPOLLONESHOT)) {
			ready_del(s, r);
			continue;
		}
		i++;
	}
	if (locked)
		nstack_unlock(locked);
	return n;
}

/*
 * Adds the set's ready private registrations to the out events already in
 * events (up to max) as one wait call's answer, and rings the bell when some
 * are left for another sleeper (or ring asks for it). s->lock held.
 */
static int ep_report(struct ep_set *s, struct epoll_event *events, int out, int max, bool ring)
{
	unsigned long seq = ++s->wait_seq;

	if (out < max)
		out += ep_collect(s, events + out, max - out, seq);
	if ((ring || s->nready) && s->sleepers && s->bell >= 0) {
		uint64_t one = 1;

		if (nsp_syscall(SYS_write, s->bell, &one, sizeof(one)) < 0) {
			/* saturated: the sleepers wake anyway */
		}
	}
	return out;
}

/* Kernel events read per epoll_pwait (more wait for the next call, as epoll allows). */
#define EP_KERNEL_BATCH 256

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * Direct receive and direct mail (nstack_rx_direct_begin,
 * nstack_mail_direct_begin): the link's fd or the doorbell joins the
 * kernel set (tag what), one-shot, re-armed for each sleep of the thread
 * that has it, so that it wakes that thread and stays silent otherwise;
 * *reg remembers the number. A device replaced since (the link taken over)
 * was closed, which removed its registration: the new fd is added, never
 * an old number deleted (it may be the program's file by now).
 */
static bool ep_arm(int epfd, int fd, uint32_t what, int *reg, atomic_bool *armed)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.u64 = EP_TAG | what};

	/*
	 * Still armed from the last sleep (it has not fired: nothing came on
	 * the fd since it was armed, when its readiness was looked at): one
	 * epoll_ctl per sleep saved. Should another thread's wait take the
	 * event in between, that thread rings the bell (ring in ep_wait).
	 */
	if (*reg == fd && atomic_load(armed))
		return true;
	if ((*reg == fd && REAL(epoll_ctl)(epfd, EPOLL_CTL_MOD, fd, &ev) == 0) ||
	    REAL(epoll_ctl)(epfd, EPOLL_CTL_ADD, fd, &ev) == 0 ||
	    (errno == EEXIST && REAL(epoll_ctl)(epfd, EPOLL_CTL_MOD, fd, &ev) == 0)) {
		*reg = fd;
		atomic_store(armed, true);
		return true;
	}
	return false;
}

/*
 * The kernel epoll is asked first (private fds' signals drained onto the
 * ready list), then the ready list is read: a signal seen after that read
 * belongs to a later event, which is what EPOLLET needs.
 */
static int ep_wait(struct ep_set *s, int epfd, struct epoll_event *events, int maxevents,
		   int timeout, const sigset_t *sigmask)
{
	uint64_t deadline = timeout > 0 ? mono_ms() + (uint64_t)timeout : 0;
	long mark = nsp_signal_mark();
	bool caught_up = false; /* timeout 0: the link looked at once (nstack_rx_catch_up) */
	bool again = false;	/* frames were processed: look once more without sleeping */
	int slept = 0;		/* sleeps in the kernel so far */
	struct nstack *ns = nsp_stack_running();
	/*
	 * The kernel's answer goes to a buffer of our own: it holds the tags
	 * of private registrations, which must not land in the program's
	 * array (Linux writes only the events it returns).
	 */
	struct epoll_event kev[EP_KERNEL_BATCH];
	int kmax = maxevents < EP_KERNEL_BATCH ? maxevents : EP_KERNEL_BATCH;
	int saved;

	if (maxevents <= 0 || !events) {
		errno = EINVAL;
		return -1;
	}
	if (ns)
		nstack_epoll_waits(ns);
	/* Frames a direct receive lease left on the link count (nstack_rx_catch_up). */
	if (timeout != 0 && ns) {
		ep_catch_begin();
		nstack_rx_catch_up(ns, true);
		ep_catch_end(s, ns);
	}
	for (;;) {
		int k, out = 0, wait_ms, linkfd = -1, mailfd = -1;
		bool sleeping, alone, link_woke = false, mail_woke = false, ring = false;

		pthread_mutex_lock(&s->lock);
		wait_ms = s->nready || again ? 0 : timeout;
		if (wait_ms > 0) {
			uint64_t now = mono_ms();

			wait_ms = now < deadline ? (int)(deadline - now) : 0;
		}
		again = false;
		sleeping = wait_ms != 0;
		alone = !s->sleepers;
		s->sleepers += sleeping;
		pthread_mutex_unlock(&s->lock);
		if (sleeping) {
			struct nsp_sleep_mask m;
			const sigset_t *sleep_mask;
			bool ready = false;

			/*
			 * The set's only sleeper: another might take the link's event.
			 * A process with a ring that does not drive sleeps on both.
			 */
			if (ns && alone && !s->inherited && nstack_receives(ns))
				linkfd = nstack_rx_direct_begin(ns, &ready);
			if (ns && alone && !s->inherited && !nstack_is_driver(ns))
				mailfd = nstack_mail_direct_begin(ns);
			if (linkfd >= 0 &&
			    (ready || !ep_arm(epfd, linkfd, EP_LINK, &s->linkfd, &s->link_armed)))
				wait_ms = 0;
			if (mailfd >= 0 &&
			    !ep_arm(epfd, mailfd, EP_MAIL, &s->mailfd, &s->mail_armed))
				wait_ms = 0;
			/* Signals blocked for the call's later sleeps only (nsp_sleep_begin). */
			sleep_mask = nsp_sleep_begin(&m, ++slept, sigmask);
			if (nsp_signal_since(mark)) {
				/* A handler ran between our sleeps: Linux's epoll_wait would be
				 * asleep. */
				k = -1;
				errno = EINTR;
			} else {
				k = REAL(epoll_pwait)(epfd, kev, kmax, wait_ms, sleep_mask);
			}
			nsp_sleep_end(&m);
			link_woke = ready;
		} else {
			k = REAL(epoll_pwait)(epfd, kev, kmax, 0, sigmask);
		}
		saved = errno;
		pthread_mutex_lock(&s->lock);
		s->sleepers -= sleeping;
		if (k < 0) {
			pthread_mutex_unlock(&s->lock);
			if (linkfd >= 0)
				nstack_rx_direct_end(ns, false);
			if (mailfd >= 0)
				nstack_mail_direct_end(ns, false);
			errno = saved;
			return -1;
		}
		/* Kernel events pass through; tagged ones wake private registrations. */
		for (int i = 0; i < k; i++) {
			uint64_t tag = kev[i].data.u64;

			if (tag == (EP_TAG | EP_LINK)) {
				atomic_store(&s->link_armed, false);
				/* Armed by another thread of the set: it must wake to receive. */
				link_woke |= linkfd >= 0;
				ring |= linkfd < 0;
				continue;
			}
			if (tag == (EP_TAG | EP_MAIL)) {
				atomic_store(&s->mail_armed, false);
				mail_woke |= mailfd >= 0;
				ring |= mailfd < 0;
				continue;
			}
			if ((tag & EP_TAG_MASK) == EP_TAG) {
				int fd = (int)(tag & 0xffffffffu);
				struct ep_reg *r = fd >= 0 && fd < s->nbyfd ? s->byfd[fd] : NULL;

				/* Not drained: see ep_ctl_private. */
				if (r)
					ready_add(s, r);
				continue;
			}
			events[out++] = kev[i];
		}
		out = ep_report(s, events, out, maxevents, ring);
		pthread_mutex_unlock(&s->lock);
		if (linkfd >= 0 || mailfd >= 0) {
			bool signalled;

			ep_catch_begin();
			if (linkfd >= 0)
				nstack_rx_direct_end(ns, link_woke);
			if (mailfd >= 0)
				nstack_mail_direct_end(ns, mail_woke);
			signalled = ep_catch_end(s, ns);
			if (out == 0) {
				pthread_mutex_lock(&s->lock);
				if (s->nready)
					out = ep_report(s, events, 0, maxevents, false);
				pthread_mutex_unlock(&s->lock);
			}
			/* What the frames made ready and was signalled: one more look. */
			again = (link_woke || mail_woke) && out == 0 && signalled;
		}
		if (out > 0)
			return out;
		if (again)
			continue;
		if (timeout == 0 && !caught_up && ns) {
			/*
			 * Once more after the link was looked at: also when the
			 * stack thread was processing the frames as we came (the
			 * catch-up waits for its lock, then finds nothing).
			 */
			caught_up = true;
			nstack_rx_catch_up(ns, false);
			continue;
		}
		if (timeout == 0 || (timeout > 0 && mono_ms() >= deadline))
			return 0;
	}
}

NSP_EXPORT int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout)
{
	struct ep_set *s;
	int rc;

	if (nsp_inside || !atomic_load(&ep_any) || !(s = ep_find(epfd, false)))
		return REAL(epoll_wait)(epfd, events, maxevents, timeout);
	rc = ep_wait(s, epfd, events, maxevents, timeout, NULL);
	ep_put(s);
	return rc;
}

NSP_EXPORT int epoll_pwait(int epfd, struct epoll_event *events, int maxevents, int timeout,
			   const sigset_t *sigmask)
{
	struct ep_set *s;
	int rc;

	if (nsp_inside || !atomic_load(&ep_any) || !(s = ep_find(epfd, false)))
		return REAL(epoll_pwait)(epfd, events, maxevents, timeout, sigmask);
	rc = ep_wait(s, epfd, events, maxevents, timeout, sigmask);
	ep_put(s);
	return rc;
}

NSP_EXPORT int epoll_pwait2(int epfd, struct epoll_event *events, int maxevents,
			    const struct timespec *ts, const sigset_t *sigmask)
{
	struct ep_set *s;
	int ms = -1, rc;

	if (nsp_inside || !atomic_load(&ep_any) || !(s = ep_find(epfd, false)))
		return REAL(epoll_pwait2)(epfd, events, maxevents, ts, sigmask);
	if (ts) {
		if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000) {
			ep_put(s);
			errno = EINVAL;
			return -1;
		}
		/* Rounded up to whole milliseconds: never return before the time. */
		ms = ts->tv_sec > INT32_MAX / 1000 - 1
			 ? INT32_MAX
			 : (int)(ts->tv_sec * 1000 + (ts->tv_nsec + 999999) / 1000000);
	}
	rc = ep_wait(s, epfd, events, maxevents, ms, sigmask);
	ep_put(s);
	return rc;
}

/*
 * close(fd) hook: an epoll fd going away drops its set; a private fd going
 * away leaves every set (Linux removes a closed file from epoll sets).
 */
void nsp_epoll_close(int fd, struct nsp_file *f)
{
	if (!atomic_load(&ep_any))
		return;
	pthread_mutex_lock(&ep_sets_lock);
	for (int i = 0; i < ep_nsets; i++) {
		struct ep_set *s = ep_sets[i];

		if (!f && s->epfd == fd) {
			ep_sets[i] = ep_sets[--ep_nsets];
			pthread_mutex_unlock(&ep_sets_lock);
			/*
			 * Registrations go now (their sockets' references with
			 * them); a thread still waiting in the set keeps the
			 * set itself until it returns.
			 */
			pthread_mutex_lock(&s->lock);
			for (int j = 0; j < s->nbyfd; j++) {
				if (s->byfd[j])
					reg_free(s, s->byfd[j]);
			}
			pthread_mutex_unlock(&s->lock);
			ep_put(s);
			return;
		}
		if (f && atomic_load(&f->watchers) > 0 && fdt_find_other(f, fd) < 0) {
			/*
			 * Linux drops a registration when its file is released, not
			 * when one fd of it closes: with a dup() still open, events
			 * keep coming (the kernel keeps the eventfd's entry too). The
			 * last fd going: every registration of the file, under any
			 * fd number it had, leaves the set.
			 */
			pthread_mutex_lock(&s->lock);
			for (int j = 0; j < s->nbyfd; j++) {
				if (s->byfd[j] && s->byfd[j]->file == f)
					reg_free(s, s->byfd[j]);
			}
			pthread_mutex_unlock(&s->lock);
		}
	}
	pthread_mutex_unlock(&ep_sets_lock);
}

/*
 * Handover: takes fd's registrations out of every set (kernel side too) and
 * returns the program's masks and data so they can be put back on the kernel
 * socket that replaces it.
 */
int nsp_epoll_detach(int fd, struct nsp_file *f, struct nsp_epoll_saved *out, int max)
{
	int n = 0;

	if (!atomic_load(&ep_any))
		return 0;
	pthread_mutex_lock(&ep_sets_lock);
	for (int i = 0; i < ep_nsets; i++) {
		struct ep_set *s = ep_sets[i];
		struct ep_reg *r;

		pthread_mutex_lock(&s->lock);
		r = fd < s->nbyfd ? s->byfd[fd] : NULL;
		if (r && r->file == f) {
			if (n < max) {
				out[n].epfd = s->epfd;
				out[n].ev.events = r->events;
				out[n].ev.data = r->data;
				n++;
			}
			(void)REAL(epoll_ctl)(s->epfd, EPOLL_CTL_DEL, fd, NULL);
			reg_free(s, r);
		}
		pthread_mutex_unlock(&s->lock);
	}
	pthread_mutex_unlock(&ep_sets_lock);
	return n;
}
