/*
 * How a thread sleeps on private sockets, and what a signal does to it.
 *
 * Every thread that blocks on a private socket gets its own eventfd (its
 * wait token). The stack links the token to each socket it waits on and
 * signals it on every event (nstack_wait_ops); the thread sleeps in the real
 * ppoll() on it, alone (a blocking call) or with the kernel fds of a
 * poll/select. Nobody else ever drains a thread's eventfd, so two threads
 * waiting on one socket cannot steal each other's wake-up, and a signal
 * interrupts the sleep as it would interrupt the kernel's.
 *
 * signal(7): a blocking socket call interrupted by a handler fails with
 * EINTR, or restarts when the handler was installed with SA_RESTART, except
 * when the socket has a send/receive timeout (SO_SNDTIMEO/SO_RCVTIMEO): then
 * EINTR always. poll/select/epoll never restart. To know which signal
 * interrupted a sleep, handlers the program installs run through a
 * trampoline that notes the signal number in a thread-local variable; the
 * sleep then asks the kernel for that signal's SA_RESTART flag.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload.h"

struct nsp_thread_wait {
	atomic_int efd; /* moves if the program dup2()s over its number */
	bool restart;	/* the last interrupted sleep may restart its call */
};

static __thread struct nsp_thread_wait tw __attribute__((tls_model("initial-exec"))) = {.efd = -1};
static __thread volatile sig_atomic_t last_signal __attribute__((tls_model("initial-exec")));
/* Handlers run on this thread (the trampoline counts them). */
static __thread volatile sig_atomic_t signal_count __attribute__((tls_model("initial-exec")));
/* The count when the current interposed call (attempt) began; -1: none. */
static __thread long call_mark __attribute__((tls_model("initial-exec"))) = -1;
/* Sleeps of that call so far (sleep_on). */
static __thread int call_sleeps __attribute__((tls_model("initial-exec")));
static pthread_key_t tw_key;
static pthread_once_t tw_once = PTHREAD_ONCE_INIT;

/*
 * fds nstack opened for itself that the program does not know about: its
 * close()/close_range() must not take them (a daemon closing every fd, say),
 * or a wake-up would later be written into whatever file reuses the number.
 */
#define NSP_INTERNAL_FDS 65536
static _Atomic(struct nsp_thread_wait *) internal_fd[NSP_INTERNAL_FDS];

static void internal_set(int fd, struct nsp_thread_wait *t)
{
	if (fd >= 0 && fd < NSP_INTERNAL_FDS)
		atomic_store(&internal_fd[fd], t);
}

/*
 * Held while the stack opens an fd of its own until it is marked, and while
 * the program's close()/close_range() decide which fds they may close: a
 * number the stack just got must not be closed before it is marked.
 */
static pthread_mutex_t own_lock = PTHREAD_MUTEX_INITIALIZER;

void nsp_own_lock(void)
{
	pthread_mutex_lock(&own_lock);
}

void nsp_own_unlock(void)
{
	pthread_mutex_unlock(&own_lock);
}

/*
 * Moves an fd nstack opened for itself away from the low numbers the
 * program gets (the lowest free one): opened by a background thread, it
 * would otherwise take a number the program has just closed and expects
 * free (or to be its next). Returns the fd to use (fd itself if it cannot
 * move, say under a low RLIMIT_NOFILE). own_lock held.
 */
int nsp_own_fd_high(int fd)
{
	struct rlimit rl;
	long base = 900;
	int nfd;

	if (fd < 0 || getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return fd;
	if (rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur <= 1024)
		base = (long)rl.rlim_cur / 2;
	if (fd >= base)
		return fd;
	nfd = (int)nsp_syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, base);
	if (nfd < 0)
		return fd;
	nsp_syscall(SYS_close, fd);
	return nfd;
}

/* Any other fd nstack keeps for itself: protected, never moved. */
static struct nsp_thread_wait not_a_token;

void nsp_internal_fd_add(int fd)
{
	internal_set(fd, &not_a_token);
}

void nsp_internal_fd_del(int fd)
{
	internal_set(fd, NULL);
}

bool nsp_is_internal_fd(int fd)
{
	return fd >= 0 && fd < NSP_INTERNAL_FDS && atomic_load(&internal_fd[fd]) != NULL;
}

int nsp_next_internal_fd(int from, int to)
{
	for (int fd = from < 0 ? 0 : from; fd <= to && fd < NSP_INTERNAL_FDS; fd++) {
		if (atomic_load(&internal_fd[fd]))
			return fd;
	}
	return -1;
}

/*
 * The program is about to dup2() onto our fd: move the token to another
 * number first. The copy is the same eventfd, so a sleep already under way
 * on the old number is still woken through the new one.
 */
void nsp_internal_fd_evict(int fd)
{
	struct nsp_thread_wait *t;
	int nfd;

	if (fd < 0 || fd >= NSP_INTERNAL_FDS || !(t = atomic_load(&internal_fd[fd])) ||
	    t == &not_a_token || !atomic_compare_exchange_strong(&internal_fd[fd], &t, NULL))
		return;
	nfd = (int)nsp_syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 64);
	if (nfd < 0)
		return; /* the token dies with the number; the next sleep makes a new one */
	internal_set(nfd, t);
	atomic_store(&t->efd, nfd);
}

/*
 * Tokens alive in this process: a wake-up posted by another process
 * (shared.c's mailbox) names a token that may have gone with its thread
 * since, so it is looked up here before use.
 */
#define NSP_MAX_TOKENS 4096
static struct nsp_thread_wait *live_tokens[NSP_MAX_TOKENS];
static int nlive_tokens;
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;

static void token_live(struct nsp_thread_wait *t, bool on)
{
	pthread_mutex_lock(&live_lock);
	for (int i = 0; i < nlive_tokens; i++) {
		if (live_tokens[i] == t) {
			if (!on)
				live_tokens[i] = live_tokens[--nlive_tokens];
			pthread_mutex_unlock(&live_lock);
			return;
		}
	}
	if (on && nlive_tokens < NSP_MAX_TOKENS)
		live_tokens[nlive_tokens++] = t;
	pthread_mutex_unlock(&live_lock);
}

/* A token of this process woken from another process: only if it still lives. */
void nsp_wake_remote(void *token)
{
	uint64_t one = 1;

	pthread_mutex_lock(&live_lock);
	for (int i = 0; i < nlive_tokens; i++) {
		if (live_tokens[i] == token) {
			if (nsp_syscall(SYS_write, atomic_load(&live_tokens[i]->efd), &one,
					sizeof(one)) < 0) {
				/* saturated: it wakes anyway */
			}
			break;
		}
	}
	pthread_mutex_unlock(&live_lock);
}

/* Mail was lost: every sleeping thread of this process looks again. */
void nsp_wake_all_tokens(void)
{
	uint64_t one = 1;

	pthread_mutex_lock(&live_lock);
	for (int i = 0; i < nlive_tokens; i++)
		if (nsp_syscall(SYS_write, atomic_load(&live_tokens[i]->efd), &one, sizeof(one)) <
		    0) {
			/* saturated: it wakes anyway */
		}
	pthread_mutex_unlock(&live_lock);
}

/*
 * In a fork child: the parent's threads are not here, and their eventfds
 * (inherited, the same kernel objects) must not be drained by the child, nor
 * this thread's: each gets closed, and this thread makes a new token when it
 * first sleeps.
 */
void nsp_wait_fork_child(void)
{
	pthread_mutex_init(&live_lock, NULL);
	nlive_tokens = 0;
	for (int fd = 0; fd < NSP_INTERNAL_FDS; fd++) {
		struct nsp_thread_wait *t = atomic_load(&internal_fd[fd]);

		if (t && t != &not_a_token) {
			internal_set(fd, NULL);
			nsp_syscall(SYS_close, fd);
		}
	}
	atomic_store(&tw.efd, -1);
}

/* Thread exit: the token's eventfd goes with the thread. */
static void tw_destroy(void *p)
{
	struct nsp_thread_wait *t = p;

	if (t)
		token_live(t, false);
	int fd = t ? atomic_exchange(&t->efd, -1) : -1;

	if (fd >= 0) {
		internal_set(fd, NULL);
		nsp_syscall(SYS_close, fd);
	}
}

static void tw_key_init(void)
{
	pthread_key_create(&tw_key, tw_destroy);
}

int nsp_thread_efd(void)
{
	int fd = atomic_load(&tw.efd);

	if (fd < 0) {
		fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (fd < 0)
			return -1;
		pthread_once(&tw_once, tw_key_init);
		pthread_setspecific(tw_key, &tw);
		internal_set(fd, &tw);
		atomic_store(&tw.efd, fd);
		token_live(&tw, true);
	}
	return fd;
}

/*
 * The token's fd is gone (closed by a raw system call we could not see):
 * forget it, so that the next sleep makes a new one instead of spinning on
 * POLLNVAL.
 */
void nsp_token_lost(void *token)
{
	struct nsp_thread_wait *t = token;
	int fd = atomic_exchange(&t->efd, -1);

	if (fd >= 0 && fd < NSP_INTERNAL_FDS)
		atomic_compare_exchange_strong(&internal_fd[fd], &t, NULL);
}

void *nsp_thread_token(void)
{
	return nsp_thread_efd() < 0 ? NULL : &tw;
}

void nsp_token_drain(void *token)
{
	struct nsp_thread_wait *t = token;
	uint64_t v;

	if (nsp_syscall(SYS_read, atomic_load(&t->efd), &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing to drain. */
	}
}

/* wait_ops.token: NULL (the condition variable) for nstack's own threads. */
static void *op_token(void *ctx)
{
	(void)ctx;
	if (nsp_inside)
		return NULL;
	return nsp_thread_token();
}

/* wait_ops.wake, stack lock held. */
static void op_wake(void *ctx, void *token)
{
	struct nsp_thread_wait *t = token;
	uint64_t one = 1;

	(void)ctx;
	if (nsp_syscall(SYS_write, atomic_load(&t->efd), &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, the sleeper wakes anyway. */
	}
}

static bool signal_restarts(int sig)
{
	struct sigaction sa;

	if (sig <= 0 || sig >= NSIG || nsp_real_sigaction(sig, NULL, &sa) != 0)
		return false;
	return (sa.sa_flags & SA_RESTART) != 0;
}

/*
 * wait_ops.sleep and sleep_rx, without the stack lock: on the thread's
 * token, and on the link's receive fd rx_fd when it is not -1 (direct
 * receive: frames wake this thread, which then processes them itself).
 */
static int sleep_on(struct nsp_thread_wait *t, int64_t timeo_us, int rx_fd)
{
	struct pollfd p[2] = {{.fd = nsp_thread_efd(), .events = POLLIN},
			      {.fd = rx_fd, .events = POLLIN}};
	struct timespec ts, *tsp = NULL;
	struct nsp_sleep_mask mask;
	const sigset_t *sleep_mask;
	int n;

	if (timeo_us != INT64_MAX) {
		ts.tv_sec = (time_t)(timeo_us / 1000000);
		ts.tv_nsec = (long)(timeo_us % 1000000) * 1000;
		tsp = &ts;
	}
	t->restart = false;
	sleep_mask = nsp_sleep_begin(&mask, call_mark >= 0 ? ++call_sleeps : 0, NULL);
	if (call_mark >= 0 && signal_count != call_mark) {
		/*
		 * A handler ran during this call before it came to sleep: Linux
		 * would have seen the signal pending and not slept.
		 */
		n = -1;
		errno = EINTR;
	} else {
		last_signal = 0;
		n = REAL(ppoll)(p, rx_fd >= 0 ? 2 : 1, tsp, sleep_mask);
	}
	nsp_sleep_end(&mask);
	if (n > 0) {
		if (p[0].revents & POLLNVAL)
			nsp_token_lost(t);
		else if (p[0].revents)
			nsp_token_drain(t);
		return p[0].revents ? 0 : 1;
	}
	if (n < 0 && errno == EINTR) {
		/* -ERESTARTSYS in Linux only without a timeout (sock_intr_errno). */
		t->restart = timeo_us == INT64_MAX && signal_restarts(last_signal);
		return -EINTR;
	}
	return 0;
}

static int op_sleep(void *ctx, void *token, int64_t timeo_us)
{
	(void)ctx;
	return sleep_on(token, timeo_us, -1);
}

static int op_sleep_rx(void *ctx, void *token, int64_t timeo_us, int rx_fd)
{
	(void)ctx;
	return sleep_on(token, timeo_us, rx_fd);
}

/*
 * Every signal blocked from here until the sleep, which unblocks them
 * atomically (the mask given to ppoll/epoll_pwait): a signal that comes
 * after the "did a handler run?" check stays pending and interrupts the
 * sleep instead of slipping in before it. Not for a call's first sleep:
 * before it the call did nothing the program can see, so a handler that
 * runs between the check and the sleep ran, as far as the program can
 * tell, before the call (the window it has before any poll or recv). A
 * later sleep must not let one slip in after our own wake-up. Two
 * syscalls saved per call that sleeps once. errno is kept across the end.
 */
const sigset_t *nsp_sleep_begin(struct nsp_sleep_mask *m, int nth, const sigset_t *program)
{
	sigset_t all;

	m->blocked = nth != 1;
	if (!m->blocked)
		return program;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &m->old);
	return program ? program : &m->old;
}

void nsp_sleep_end(const struct nsp_sleep_mask *m)
{
	int e = errno;

	if (!m->blocked)
		return;
	pthread_sigmask(SIG_SETMASK, &m->old, NULL);
	errno = e;
}

void nsp_call_begin(void)
{
	call_mark = signal_count;
	call_sleeps = 0;
}

void nsp_call_end(void)
{
	call_mark = -1;
}

bool nsp_signal_since(long mark)
{
	return signal_count != mark;
}

long nsp_signal_mark(void)
{
	return signal_count;
}

bool nsp_take_restart(void)
{
	bool r = tw.restart;

	tw.restart = false;
	return r;
}

static const struct nstack_wait_ops wait_ops = {
    .token = op_token,
    .sleep = op_sleep,
    .sleep_rx = op_sleep_rx,
    .wake = op_wake,
};

void nsp_wait_attach(struct nstack *ns)
{
	static atomic_int done;
	static pthread_mutex_t once = PTHREAD_MUTEX_INITIALIZER;

	if (atomic_load_explicit(&done, memory_order_acquire))
		return;
	/* Nobody may go on before the ops are in: a poller would not be linked. */
	pthread_mutex_lock(&once);
	if (!atomic_load_explicit(&done, memory_order_relaxed)) {
		nstack_set_wait_ops(ns, &wait_ops);
		atomic_store_explicit(&done, 1, memory_order_release);
	}
	pthread_mutex_unlock(&once);
}

/* ---- signal handlers through a trampoline ---- */

struct prog_handler {
	_Atomic(void *) fn; /* the program's sa_handler / sa_sigaction */
	atomic_int flags;   /* the program's sa_flags */
};
static struct prog_handler prog[NSIG];

int nsp_real_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	static int (*real)(int, const struct sigaction *, struct sigaction *);

	if (!real)
		real = (int (*)(int, const struct sigaction *, struct sigaction *))nsp_dlsym(
		    "sigaction");
	return real(sig, act, old);
}

static void trampoline(int sig, siginfo_t *si, void *uc)
{
	void *fn;
	int flags;

	last_signal = sig;
	signal_count = signal_count + 1;
	if (sig <= 0 || sig >= NSIG)
		return;
	fn = atomic_load(&prog[sig].fn);
	flags = atomic_load(&prog[sig].flags);
	if (flags & SA_SIGINFO)
		((void (*)(int, siginfo_t *, void *))fn)(sig, si, uc);
	else if (fn != (void *)SIG_DFL && fn != (void *)SIG_IGN && fn)
		((void (*)(int))fn)(sig);
}

/*
 * sigaction(2) with a handler installs the trampoline in its place (same
 * mask and flags, plus SA_SIGINFO to pass everything on); reading the
 * disposition back shows the program's own handler and flags.
 * Async-signal-safe, like sigaction: atomics only, no lock.
 */
NSP_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	struct sigaction k, kold;
	void *pfn = NULL;
	int pflags = 0, rc;

	if (sig <= 0 || sig >= NSIG)
		return nsp_real_sigaction(sig, act, old);
	pfn = atomic_load(&prog[sig].fn);
	pflags = atomic_load(&prog[sig].flags);
	if (act && act->sa_handler != SIG_DFL && act->sa_handler != SIG_IGN) {
		k = *act;
		atomic_store(&prog[sig].flags, act->sa_flags);
		atomic_store(&prog[sig].fn, (act->sa_flags & SA_SIGINFO) ? (void *)act->sa_sigaction
									 : (void *)act->sa_handler);
		k.sa_sigaction = trampoline;
		k.sa_flags |= SA_SIGINFO;
		rc = nsp_real_sigaction(sig, &k, &kold);
		if (rc != 0) {
			atomic_store(&prog[sig].fn, pfn);
			atomic_store(&prog[sig].flags, pflags);
		}
	} else {
		rc = nsp_real_sigaction(sig, act, &kold);
	}
	if (rc == 0 && old) {
		*old = kold;
		if ((kold.sa_flags & SA_SIGINFO) && kold.sa_sigaction == trampoline) {
			old->sa_flags = pflags;
			if (pflags & SA_SIGINFO)
				old->sa_sigaction = (void (*)(int, siginfo_t *, void *))pfn;
			else
				old->sa_handler = (void (*)(int))pfn;
		}
	}
	return rc;
}

NSP_EXPORT int __sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	return sigaction(sig, act, old);
}

/* glibc's signal() and bsd_signal(): BSD semantics, SA_RESTART, handler kept. */
static sighandler_t signal_flags(int sig, sighandler_t h, int flags)
{
	struct sigaction sa, old;

	if (h == SIG_ERR || sig <= 0 || sig >= NSIG) {
		errno = EINVAL;
		return SIG_ERR;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = h;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	if (!(flags & SA_NODEFER))
		sigaddset(&sa.sa_mask, sig);
	if (sigaction(sig, &sa, &old) < 0)
		return SIG_ERR;
	return old.sa_handler;
}

NSP_EXPORT sighandler_t signal(int sig, sighandler_t h)
{
	return signal_flags(sig, h, SA_RESTART);
}

NSP_EXPORT sighandler_t bsd_signal(int sig, sighandler_t h)
{
	return signal_flags(sig, h, SA_RESTART);
}

/* System V semantics: one-shot, no restart, no mask. */
NSP_EXPORT sighandler_t sysv_signal(int sig, sighandler_t h)
{
	return signal_flags(sig, h, SA_RESETHAND | SA_NODEFER);
}

NSP_EXPORT sighandler_t __sysv_signal(int sig, sighandler_t h)
{
	return sysv_signal(sig, h);
}
