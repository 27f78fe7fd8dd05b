/*
 * poll, ppoll, select, pselect over private and kernel fds together.
 *
 * A waiter registers its thread's wait token on every private socket of the
 * set while reading their readiness (nstack_poll_wait: atomic with the
 * read, so an event after it signals the token), then, if nothing is ready,
 * sleeps in the real ppoll() on the kernel fds plus the token's eventfd.
 * Only this thread drains its token, so a poll and an epoll_wait (or two
 * polls) in other threads on the same socket cannot take its wake-up. A
 * signal handler interrupts the real ppoll(): EINTR, never restarted, as
 * Linux's poll and select.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload.h"

extern void __chk_fail(void) __attribute__((noreturn));

#define SMALL_SET 32

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Fills revents of the private entries; returns how many are ready. With
 * ws, also registers the token on each (ws[i] for entry i).
 */

/*
 * In a fork child the parent's private sockets are invalid: poll reports
 * POLLNVAL at once (select turns that into EBADF) instead of sleeping on the
 * eventfd standing in for them, which never becomes ready (socat's fork
 * child hung in select).
 */
static bool forked_nval(const struct pollfd *p)
{
	return nsp_forked && p->fd >= 0 && fdt_maybe_private(p->fd);
}

static int eval_private(struct pollfd *fds, nfds_t nfds, struct nsp_file **files,
			struct nstack_waiter *ws, void *token)
{
	int ready = 0;

	for (nfds_t i = 0; i < nfds; i++) {
		unsigned int mask;

		if (!files[i])
			continue;
		if (ws) {
			ws[i].token = token;
			mask = nstack_poll_wait(files[i]->sock, &ws[i]);
		} else {
			mask = nstack_poll(files[i]->sock);
		}
		fds[i].revents =
		    (short)(mask & ((unsigned int)fds[i].events | POLLERR | POLLHUP | POLLNVAL));
		if (fds[i].revents)
			ready++;
	}
	return ready;
}

static void end_waits(nfds_t nfds, struct nsp_file **files, struct nstack_waiter *ws)
{
	for (nfds_t i = 0; i < nfds; i++) {
		if (files[i])
			nstack_poll_end(&ws[i]);
	}
}

/* Moves the entries with an fd to the front; orig[k] says where entry k was. */
static nfds_t compact(struct pollfd *pfd, nfds_t n, nfds_t *orig)
{
	nfds_t k = 0;

	for (nfds_t i = 0; i < n; i++) {
		if (pfd[i].fd < 0)
			continue;
		orig[k] = i;
		pfd[k++] = pfd[i];
	}
	return k;
}

/* Undoes compact(): k entries back to their places among n, the others quiet. */
static void expand(struct pollfd *pfd, nfds_t k, nfds_t n, const nfds_t *orig)
{
	for (nfds_t j = k; j-- > 0;) {
		struct pollfd e = pfd[j];

		pfd[j].fd = -1;
		pfd[j].revents = 0;
		pfd[orig[j]] = e;
	}
	for (nfds_t i = 0; i < n; i++)
		if (pfd[i].fd < 0)
			pfd[i].revents = 0;
}

/*
 * The common wait. timeout NULL = forever. Returns like ppoll(2). The
 * caller has checked that at least one fd may be private.
 */
int nsp_ppoll(struct pollfd *fds, nfds_t nfds, const struct timespec *timeout,
	      const sigset_t *sigmask, bool use_ppoll)
{
	struct nsp_file *files_small[SMALL_SET], **files = files_small;
	struct pollfd pfd_small[SMALL_SET + 1], *pfd = pfd_small;
	struct nstack_waiter ws_small[SMALL_SET], *ws = ws_small;
	nfds_t orig_small[SMALL_SET + 1], *orig = orig_small;
	uint64_t deadline = 0;
	int result = 0, saved;
	void *token = NULL;
	long mark;
	int slept; /* sleeps of this call so far */

	(void)use_ppoll;
	if (nfds > SMALL_SET) {
		files = calloc(nfds, sizeof(*files));
		pfd = calloc(nfds + 1, sizeof(*pfd));
		ws = calloc(nfds, sizeof(*ws));
		orig = calloc(nfds + 1, sizeof(*orig));
		if (!files || !pfd || !ws || !orig) {
			free(files);
			free(pfd);
			free(ws);
			free(orig);
			errno = ENOMEM;
			return -1;
		}
	}
	for (nfds_t i = 0; i < nfds; i++) {
		files[i] = fds[i].fd >= 0 ? fdt_get(fds[i].fd) : NULL;
		if (files[i] && nsp_forked) {
			/* The parent's socket: the child sees it as invalid (one log line). */
			nsp_forked_ebadf(files[i]);
			files[i] = NULL;
		}
		if (files[i]) {
			nsp_wait_attach(files[i]->ns);
			if (!token)
				token = nsp_thread_token();
		}
	}
	if (!token) {
		/* No private fd after all (closed meanwhile), or no eventfd left. */
		bool any = false;

		for (nfds_t i = 0; i < nfds; i++)
			any |= files[i] != NULL;
		if (any) {
			result = -1;
			errno = ENOMEM;
			goto out;
		}
	}
	if (timeout) {
		if (timeout->tv_sec < 0 || timeout->tv_nsec < 0 || timeout->tv_nsec >= 1000000000) {
			result = -1;
			errno = EINVAL;
			goto out;
		}
		deadline = mono_ns() + (uint64_t)timeout->tv_sec * 1000000000u +
			   (uint64_t)timeout->tv_nsec;
	}

	mark = nsp_signal_mark();
	slept = 0;
	/* Frames already on the link count (nstack_rx_catch_up), once per call. */
	if (nsp_stack_running())
		nstack_rx_catch_up(nsp_stack_running(),
				   !timeout || timeout->tv_sec || timeout->tv_nsec);
	for (;;) {
		struct timespec left, *tp = NULL;
		nfds_t np = nfds;
		int n, ready;

		ready = eval_private(fds, nfds, files, ws, token);
		for (nfds_t i = 0; i < nfds; i++) {
			/* A negative fd is ignored by ppoll: private entries are ours. */
			pfd[i].fd = files[i] || forked_nval(&fds[i]) ? -1 : fds[i].fd;
			ready += forked_nval(&fds[i]);
			pfd[i].events = fds[i].events;
			pfd[i].revents = 0;
		}
		if (token) {
			pfd[np].fd = nsp_thread_efd();
			pfd[np].events = POLLIN;
			pfd[np].revents = 0;
			np++;
		}
		if (ready) {
			left = (struct timespec){0, 0};
			tp = &left;
		} else if (timeout) {
			uint64_t now = mono_ns();
			uint64_t rem = now < deadline ? deadline - now : 0;

			left.tv_sec = (time_t)(rem / 1000000000u);
			left.tv_nsec = (long)(rem % 1000000000u);
			tp = &left;
		}
		/*
		 * Only the kernel's entries and the token go to ppoll: it counts
		 * ignored (negative) entries against RLIMIT_NOFILE too, and a
		 * sandbox may have lowered that to 1 (sshd's pre-auth child).
		 */
		np = compact(pfd, np, orig);
		if (ready) {
			n = REAL(ppoll)(pfd, np, tp, sigmask);
		} else {
			struct nsp_sleep_mask m;
			const sigset_t *sleep_mask = nsp_sleep_begin(&m, ++slept, sigmask);

			if (nsp_signal_since(mark)) {
				/* A handler ran between our sleeps: Linux's poll would be asleep.
				 */
				n = -1;
				errno = EINTR;
			} else {
				n = REAL(ppoll)(pfd, np, tp, sleep_mask);
			}
			nsp_sleep_end(&m);
		}
		saved = errno;
		expand(pfd, np, nfds + (token != NULL), orig);
		end_waits(nfds, files, ws);
		if (token && n > 0 && (pfd[nfds].revents & POLLNVAL))
			nsp_token_lost(token);
		else if (token && n > 0 && pfd[nfds].revents)
			nsp_token_drain(token);
		if (n < 0) {
			result = -1;
			errno = saved;
			goto out;
		}
		result = 0;
		for (nfds_t i = 0; i < nfds; i++) {
			if (!files[i]) {
				fds[i].revents = forked_nval(&fds[i]) ? POLLNVAL : pfd[i].revents;
				result += fds[i].revents != 0;
			}
		}
		/* Private readiness may have changed while we slept: look again. */
		if (n > 0 || ready)
			result += eval_private(fds, nfds, files, NULL, NULL);
		if (result > 0 || (timeout && mono_ns() >= deadline))
			break;
	}
out:
	for (nfds_t i = 0; i < nfds; i++) {
		if (files[i])
			fdt_put(files[i]);
	}
	if (files != files_small) {
		free(files);
		free(pfd);
		free(ws);
		free(orig);
	}
	return result;
}

static bool any_private(const struct pollfd *fds, nfds_t nfds)
{
	if (nsp_inside)
		return false;
	for (nfds_t i = 0; i < nfds; i++) {
		if (fdt_maybe_private(fds[i].fd))
			return true;
	}
	return false;
}

/*
 * glibc declares poll's array write-only (__attr_access), which is true of
 * revents only; reading fd and events here is what poll does too.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
NSP_EXPORT int poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	struct timespec ts;

	if (!any_private(fds, nfds))
		return REAL(poll)(fds, nfds, timeout);
	if (timeout < 0)
		return nsp_ppoll(fds, nfds, NULL, NULL, false);
	ts.tv_sec = timeout / 1000;
	ts.tv_nsec = (long)(timeout % 1000) * 1000000;
	return nsp_ppoll(fds, nfds, &ts, NULL, false);
}

NSP_EXPORT int ppoll(struct pollfd *fds, nfds_t nfds, const struct timespec *timeout,
		     const sigset_t *sigmask)
{
	if (!any_private(fds, nfds))
		return REAL(ppoll)(fds, nfds, timeout, sigmask);
	return nsp_ppoll(fds, nfds, timeout, sigmask, true);
}

#pragma GCC diagnostic pop

NSP_EXPORT int __poll_chk(struct pollfd *fds, nfds_t nfds, int timeout, size_t fdslen)
{
	if (fdslen / sizeof(*fds) < nfds)
		__chk_fail();
	return poll(fds, nfds, timeout);
}

NSP_EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t nfds, const struct timespec *timeout,
			   const sigset_t *sigmask, size_t fdslen)
{
	if (fdslen / sizeof(*fds) < nfds)
		__chk_fail();
	return ppoll(fds, nfds, timeout, sigmask);
}

NSP_EXPORT long __fdelt_chk(long d)
{
	if (d < 0 || d >= FD_SETSIZE)
		__chk_fail();
	return d / __NFDBITS;
}

/*
 * A program's fd_set holds nfds bits rounded up to whole longs, no more
 * (libevent allocates just that; Linux's core_sys_select touches no more):
 * the sets are read and written with these, never with FD_ZERO/FD_SET, which
 * assume FD_SETSIZE bits.
 */
static bool set_has(const fd_set *s, int fd)
{
	const unsigned long *w = (const unsigned long *)s;

	return (w[fd / (8 * sizeof(long))] >> (fd % (8 * sizeof(long)))) & 1;
}

static void set_add(fd_set *s, int fd)
{
	((unsigned long *)s)[fd / (8 * sizeof(long))] |= 1ul << (fd % (8 * sizeof(long)));
}

static void set_clear(fd_set *s, int nfds)
{
	memset(s, 0, (size_t)(nfds + 8 * sizeof(long) - 1) / (8 * sizeof(long)) * sizeof(long));
}

/*
 * Linux reads no further than the fd table reaches: nfds past the fd limit
 * means the limit. The table holds at least 64 (NR_OPEN_DEFAULT), so below
 * that nothing is cut, and no getrlimit() runs per select() (iperf3 calls
 * select() for every read: two system calls per read otherwise).
 */
static int clamp_nfds(int nfds)
{
	long max;

	if (nfds <= 64)
		return nfds;
	max = sysconf(_SC_OPEN_MAX);

	return max > 0 && nfds > max ? (int)max : nfds;
}

static bool sets_have_private(int nfds, fd_set *r, fd_set *w, fd_set *e)
{
	if (nsp_inside)
		return false;
	nfds = clamp_nfds(nfds);
	for (int fd = 0; fd < nfds; fd++) {
		if (((r && set_has(r, fd)) || (w && set_has(w, fd)) || (e && set_has(e, fd))) &&
		    fdt_maybe_private(fd))
			return true;
	}
	return false;
}

/* select(2) as poll: Linux's POLLIN_SET/POLLOUT_SET/POLLEX_SET mapping. */
static int select_via_poll(int nfds, fd_set *r, fd_set *w, fd_set *e,
			   const struct timespec *timeout, const sigset_t *sigmask)
{
	struct pollfd stack_pfd[256], *pfd = stack_pfd;
	nfds_t n = 0, cap = sizeof(stack_pfd) / sizeof(stack_pfd[0]);
	int rc, count = 0;

	if (nfds < 0) {
		errno = EINVAL;
		return -1;
	}
	nfds = clamp_nfds(nfds);
	for (int fd = 0; fd < nfds; fd++) {
		short ev = 0;

		if (r && set_has(r, fd))
			ev |= POLLIN;
		if (w && set_has(w, fd))
			ev |= POLLOUT;
		if (e && set_has(e, fd))
			ev |= POLLPRI;
		if (!ev)
			continue;
		if (n == cap) {
			struct pollfd *g = malloc(2 * cap * sizeof(*g));

			if (!g) {
				if (pfd != stack_pfd)
					free(pfd);
				errno = ENOMEM;
				return -1;
			}
			memcpy(g, pfd, n * sizeof(*g));
			if (pfd != stack_pfd)
				free(pfd);
			pfd = g;
			cap *= 2;
		}
		pfd[n++] = (struct pollfd){.fd = fd, .events = ev};
	}
	rc = nsp_ppoll(pfd, n, timeout, sigmask, true);
	for (nfds_t i = 0; rc >= 0 && i < n; i++) {
		if (pfd[i].revents & POLLNVAL) {
			errno = EBADF;
			rc = -1;
		}
	}
	if (rc < 0) {
		if (pfd != stack_pfd)
			free(pfd);
		return -1;
	}
	if (r)
		set_clear(r, nfds);
	if (w)
		set_clear(w, nfds);
	if (e)
		set_clear(e, nfds);
	for (nfds_t i = 0; i < n; i++) {
		short rev = pfd[i].revents;

		if (r && (pfd[i].events & POLLIN) && (rev & (POLLIN | POLLHUP | POLLERR))) {
			set_add(r, pfd[i].fd);
			count++;
		}
		if (w && (pfd[i].events & POLLOUT) && (rev & (POLLOUT | POLLERR))) {
			set_add(w, pfd[i].fd);
			count++;
		}
		if (e && (pfd[i].events & POLLPRI) && (rev & POLLPRI)) {
			set_add(e, pfd[i].fd);
			count++;
		}
	}
	if (pfd != stack_pfd)
		free(pfd);
	return count;
}

NSP_EXPORT int select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
	struct timespec ts;
	uint64_t start;
	int rc;

	if (!sets_have_private(nfds, r, w, e))
		return REAL(select)(nfds, r, w, e, tv);
	if (tv && (tv->tv_sec < 0 || tv->tv_usec < 0)) {
		errno = EINVAL;
		return -1;
	}
	if (tv) {
		/* Linux normalises tv_usec >= 1e6 instead of failing. */
		ts.tv_sec = tv->tv_sec + tv->tv_usec / 1000000;
		ts.tv_nsec = (tv->tv_usec % 1000000) * 1000;
	}
	start = mono_ns();
	rc = select_via_poll(nfds, r, w, e, tv ? &ts : NULL, NULL);
	if (tv) {
		/* Linux writes back the time left. */
		uint64_t used = mono_ns() - start;
		uint64_t total = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
		uint64_t left = used < total ? total - used : 0;

		tv->tv_sec = (time_t)(left / 1000000000u);
		tv->tv_usec = (suseconds_t)(left % 1000000000u / 1000);
	}
	return rc;
}

NSP_EXPORT int pselect(int nfds, fd_set *r, fd_set *w, fd_set *e, const struct timespec *ts,
		       const sigset_t *sigmask)
{
	if (!sets_have_private(nfds, r, w, e))
		return REAL(pselect)(nfds, r, w, e, ts, sigmask);
	return select_via_poll(nfds, r, w, e, ts, sigmask);
}
