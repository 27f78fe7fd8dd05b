/*
 * Starting the private stack on the first AF_INET socket, and the hooks the
 * stack calls back: readiness changes are mirrored into each socket's
 * eventfd so poll/select can sleep on private and kernel fds together.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <linux/sockios.h>
#include <poll.h>
#include <semaphore.h>
#include <sys/ioctl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "arena.h"
#include "config.h"
#include "netdevice.h"
#include "pcap_dump.h"
#include "pcap_live.h"
#include "ingress.h"
#include "preload.h"
#include "thread.h"

struct nsp_real nsp_real;
__thread int nsp_inside __attribute__((tls_model("initial-exec")));
bool nsp_forked;

static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;
static int start_state; /* 0 not tried, 1 running, -errno failed */
static struct nstack *the_stack;
static struct pcap_dumpfile *the_dump;
static struct netdev_ops guarded_ops;
static unsigned int exit_linger_ms;
static bool print_stats; /* NSTACK_STATS */
static pid_t stack_pid;	 /* the process that started the stack */
/* nstack's interface as it presents it (SIOCGIF* answers). */
static struct {
	char name[IF_NAMESIZE];
	uint32_t addr, mask;
	uint8_t mac[6];
	unsigned int mtu;
} the_if;
static const struct netdev_ops *backend_ops;

/*
 * Marks this library, so that a second copy (LD_PRELOAD naming it twice, a
 * child that adds it again) can be recognised and skipped.
 */
NSP_EXPORT const int nstack_preload_marker = 1;

/* True when p lies in another loaded copy of libnstack.so. */
static bool in_other_copy(void *p)
{
	Dl_info mine, theirs;
	void *h;
	bool other = false;

	if (!dladdr((void *)&nstack_preload_marker, &mine) || !dladdr(p, &theirs) ||
	    mine.dli_fbase == theirs.dli_fbase || !theirs.dli_fname)
		return false;
	h = dlopen(theirs.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
	if (h) {
		other = dlsym(h, "nstack_preload_marker") != NULL;
		dlclose(h);
	}
	return other;
}

/*
 * Resolves the next definition of name after ours: libc's, or another
 * preload's (they chain), but never a second copy of ourselves.
 */
void *nsp_dlsym(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);

	if (p && in_other_copy(p)) {
		void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);

		p = libc ? dlsym(libc, name) : NULL;
	}
	if (!p) {
		static const char msg[] = "nstack: cannot find a libc symbol\n";

		nsp_syscall(SYS_write, 2, msg, sizeof(msg) - 1);
		abort();
	}
	return p;
}

/* One line to stderr, written with one system call so lines never mix. */
void nsp_log(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	memcpy(line, "nstack: ", 8);
	va_start(ap, fmt);
	n = vsnprintf(line + 8, sizeof(line) - 9, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	n += 8;
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	nsp_syscall(SYS_write, 2, line, (size_t)n);
}

/* NSTACK_LOG at info or debug, read once. */
bool nsp_explain(void)
{
	static int level = -1;

	if (level < 0) {
		const char *v = getenv("NSTACK_LOG");
		enum nstack_log_level l = NSTACK_LOG_WARN;

		if (v && nsp_parse_log(v, &l))
			l = NSTACK_LOG_WARN;
		level = (int)l;
	}
	return level >= NSTACK_LOG_INFO;
}

/* nsp_log() at info level. */
void nsp_log_info(const char *fmt, ...)
{
	char line[480];
	va_list ap;

	if (!nsp_explain())
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	nsp_log("%s", line);
}

void nsp_file_signal(struct nsp_file *f)
{
	uint64_t one = 1;

	/* Only epoll sets need the kernel object signalled (poll waits by token). */
	if (f->evfd < 0 || atomic_load(&f->watchers) == 0)
		return;
	if (nsp_syscall(SYS_write, f->evfd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, pollers wake anyway. */
	}
}

static void hook_sock_event(void *ctx, struct socket *sock)
{
	struct nsp_file *f = nstack_sock_file(sock);

	(void)ctx;
	if (f && !nsp_epoll_catch(f))
		nsp_file_signal(f);
}

static void hook_log(void *ctx, enum nstack_log_level level, const char *line)
{
	(void)ctx;
	(void)level;
	nsp_log("%s", line);
}

/*
 * The device calls run in the stack thread and in senders; libpcap inside
 * them may call socket functions, which must reach libc.
 */
static int guarded_xmit(struct net_device *dev, const void *frame, size_t len)
{
	int rc;

	if (nsp_sandboxed) {
		struct iovec iov = {(void *)frame, len};

		return nsp_defer_xmit(dev->ns, &iov, 1, NULL);
	}
	nsp_inside++;
	rc = backend_ops->xmit(dev, frame, len);
	nsp_inside--;
	return rc;
}

static int guarded_xmit_gso(struct net_device *dev, const struct iovec *iov, int iovcnt,
			    const struct netdev_gso *gso)
{
	int rc;

	if (nsp_sandboxed)
		return nsp_defer_xmit(dev->ns, iov, iovcnt, gso);
	nsp_inside++;
	rc = backend_ops->xmit_gso(dev, iov, iovcnt, gso);
	nsp_inside--;
	return rc;
}

static int guarded_xmit_gso_keep(struct net_device *dev, const struct iovec *iov, int iovcnt,
				 const struct netdev_gso *gso)
{
	int rc;

	if (nsp_sandboxed) /* the deferral copies: nothing kept */
		return nsp_defer_xmit(dev->ns, iov, iovcnt, gso);
	nsp_inside++;
	rc = backend_ops->xmit_gso_keep(dev, iov, iovcnt, gso);
	nsp_inside--;
	return rc;
}

static int guarded_xmit_batch(struct net_device *dev, const struct iovec *frames, int n)
{
	int rc;

	if (nsp_sandboxed) {
		/* One by one into the sandbox's deferral, as guarded_xmit does. */
		for (int i = 0; i < n; i++) {
			rc = nsp_defer_xmit(dev->ns, &frames[i], 1, NULL);
			if (rc)
				return i ? i : rc;
		}
		return n;
	}
	nsp_inside++;
	rc = backend_ops->xmit_batch(dev, frames, n);
	nsp_inside--;
	return rc;
}

static int guarded_xmit_batch_keep(struct net_device *dev, const struct iovec *frames, int n)
{
	int rc;

	if (nsp_sandboxed) /* it could not send them after: guarded_xmit_batch defers */
		return 0;
	nsp_inside++;
	rc = backend_ops->xmit_batch_keep(dev, frames, n);
	nsp_inside--;
	return rc;
}

static void guarded_tx_push(struct net_device *dev)
{
	nsp_inside++;
	backend_ops->tx_push(dev);
	nsp_inside--;
}

static unsigned int guarded_tx_pending(struct net_device *dev)
{
	return backend_ops->tx_pending(dev);
}

static int guarded_poll(struct net_device *dev, int budget)
{
	int rc;

	nsp_inside++;
	rc = backend_ops->poll(dev, budget);
	nsp_inside--;
	return rc;
}

static int guarded_get_fd(struct net_device *dev)
{
	return backend_ops->get_fd(dev);
}

static uint64_t guarded_rx_lost(struct net_device *dev)
{
	uint64_t n;

	nsp_inside++;
	n = backend_ops->rx_lost(dev);
	nsp_inside--;
	return n;
}

static int guarded_rx_stop(struct net_device *dev)
{
	int rc;

	nsp_inside++;
	rc = backend_ops->rx_stop(dev);
	nsp_inside--;
	return rc;
}

static int guarded_rx_join(struct net_device *dev, uint32_t *arg)
{
	int rc;

	nsp_inside++;
	rc = backend_ops->rx_join(dev, arg);
	nsp_inside--;
	return rc;
}

static int guarded_rx_steer(struct net_device *dev, const uint8_t *member, unsigned int n,
			    unsigned int dflt)
{
	int rc;

	nsp_inside++;
	rc = backend_ops->rx_steer(dev, member, n, dflt);
	nsp_inside--;
	return rc;
}

static bool guarded_needs_polling(struct net_device *dev)
{
	return backend_ops->needs_polling(dev);
}

static void guarded_close(struct net_device *dev)
{
	nsp_inside++;
	backend_ops->close(dev);
	nsp_inside--;
}

static const char *env_get(void *ctx, const char *name)
{
	(void)ctx;
	return getenv(name);
}

/* Milliseconds on the monotonic clock. */
static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* NSTACK_STATS: one line per non-zero counter. */
static void print_stat(void *arg, const char *name, uint64_t v)
{
	(void)arg;
	nsp_log("stat %s %llu", name, (unsigned long long)v);
}

static char shm_path[160];

/*
 * The last process of a stack is leaving: its file goes, so that the next
 * program starts afresh instead of finding a stack about to die. Under the
 * file's lock, so a program joining right now either got in first (and
 * then we are not the last: false, the file stays) or starts a new stack.
 */
static int stack_fd;
bool nsp_forget_stack_file(struct nstack *ns)
{
	bool last;

	if (stack_fd < 0 || !shm_path[0])
		return true;
	flock(stack_fd, LOCK_EX);
	last = nstack_proc_count(ns) == 1;
	if (last)
		unlink(shm_path);
	flock(stack_fd, LOCK_UN);
	return last;
}

/*
 * At exit() (or return from main) the kernel would still deliver what the
 * program wrote, also on sockets it closed just before; our stack dies with
 * the process. So every private socket still open is closed now (TCP queues
 * its FIN behind the data and lives on as an orphan, as in Linux), and we
 * wait, up to NSTACK_EXIT_LINGER, until the stack holds no packet any more:
 * no datagram waiting for ARP, no unacknowledged TCP data or FIN (a TCP
 * socket in TIME_WAIT holds none, so nobody waits for TIME_WAIT, as with the
 * kernel).
 */
static void exit_flush(void)
{
	struct nstack *ns = the_stack;
	uint64_t deadline;
	int fd;

	if (!ns || nsp_forked)
		return;
	/* libc flushes stdio after this, when the private fds are gone. */
	nsp_stdio_flush();
	nsp_inside++;
	for (fd = fdt_next_private(0); fd >= 0; fd = fdt_next_private(fd + 1)) {
		struct nsp_file *f = fdt_remove(fd);

		if (!f)
			continue;
		nsp_epoll_close(fd, f);
		nstack_lock(ns);
		if (f->evfd == fd)
			f->evfd = fdt_find_other(f, fd);
		nstack_unlock(ns);
		REAL(close)(fd);
		fdt_put(f);
	}
	nsp_inside--;
	/*
	 * Other processes still share the stack (the keeper at least): they
	 * deliver what we wrote and reap us when we are gone, so nothing keeps
	 * us, unless NSTACK_STATS wants the final counters.
	 */
	deadline = mono_ms() + exit_linger_ms;
	if (nstack_proc_count(ns) > 1 && !print_stats) {
		/* A successor takes the link while we still drive it (bounded: ~ its pcap open). */
		uint64_t handoff = mono_ms() + 1000;

		if (nstack_hand_over(ns))
			while (nstack_is_driver(ns) && mono_ms() < handoff)
				nanosleep(&(struct timespec){0, 1000 * 1000}, NULL);
		/* Its ring's share goes to the others (stack/fanout.c). */
		nstack_fan_leave(ns);
		/* Only frames our own device still queues (its TX thread) are ours to wait for. */
		while (nstack_tx_pending(ns) > 0 && mono_ms() < deadline)
			nanosleep(&(struct timespec){0, 1000 * 1000}, NULL);
		return;
	}
	while ((nstack_live_skbs(ns) > 0 || nstack_tx_pending(ns) > 0) && mono_ms() < deadline)
		nanosleep(&(struct timespec){0, 1000 * 1000}, NULL);
	nsp_forget_stack_file(ns);
	/* Also where the stack holds no more packets: the counters are final. */
	if (print_stats) {
		nstack_lock(ns);
		nstack_stats_foreach(ns, print_stat, NULL);
		nstack_unlock(ns);
	}
}

static void *exit_flush_main(void *arg)
{
	exit_flush();
	sem_post(arg);
	return NULL;
}

/*
 * _exit(2) and _Exit(3) skip atexit handlers, yet the kernel would still
 * deliver what the program wrote (Python's os._exit right after sendall).
 * So they flush too, on a helper thread waited for at most the linger limit
 * plus 2 s: _exit may be called from a signal handler that interrupted this
 * very thread inside the stack, with the stack lock held. Only the process
 * that started the stack flushes: a vfork child shares our memory and must
 * not close the parent's sockets (a fork child has nsp_forked set).
 */
NSP_EXPORT void _exit(int status)
{
	/* A sandboxed thread may not make the flush thread: its process is reaped instead. */
	if (the_stack && !nsp_forked && !nsp_inside && !nsp_sandboxed && exit_linger_ms &&
	    getpid() == stack_pid) {
		sem_t done;
		pthread_t t;

		sem_init(&done, 0, 0);
		if (pthread_create(&t, NULL, exit_flush_main, &done) == 0) {
			struct timespec until;

			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += (exit_linger_ms + 2000) / 1000;
			while (sem_timedwait(&done, &until) != 0 && errno == EINTR)
				;
		}
	}
	nsp_syscall(SYS_exit_group, status);
	__builtin_unreachable();
}

NSP_EXPORT void _Exit(int status)
{
	_exit(status);
}

/*
 * A terminating signal with the default action would end the process before
 * the stack sent what the program wrote. For SIGTERM, SIGINT and SIGHUP left
 * at SIG_DFL, a handler (async-signal-safe: it only writes to a pipe) wakes a
 * thread that does the exit flush and then delivers the signal again with
 * the default action, so the process ends as it would have, status included.
 * A program that installs its own handler replaces ours, as it should.
 */
static const int flush_signals[] = {SIGTERM, SIGINT, SIGHUP};
static int flush_pipe[2] = {-1, -1};

static void flush_on_signal(int sig)
{
	unsigned char b = (unsigned char)sig;

	signal(sig, SIG_DFL); /* a second one ends the process at once */
	if (nsp_syscall(SYS_write, flush_pipe[1], &b, 1) < 0) {
		raise(sig);
		return;
	}
	/*
	 * Returning would hand the program an EINTR it never asked for (nc
	 * reports "polling error"), so wait here until the flush thread
	 * re-raises the signal, which SA_NODEFER lets end us at once. Bounded:
	 * if this thread was interrupted inside the stack holding its lock, the
	 * flush can only finish once we return.
	 */
	for (long i = 0; i < (exit_linger_ms + 2000) / 10; i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};

		nsp_syscall(SYS_nanosleep, &ts, NULL);
	}
}

static void *flush_thread(void *arg)
{
	unsigned char sig;

	(void)arg;
	nsp_inside++;
	while (nsp_syscall(SYS_read, flush_pipe[0], &sig, 1) != 1) {
		if (errno != EINTR)
			return NULL;
	}
	nsp_inside--;
	exit_flush();
	kill(getpid(), sig);
	return NULL;
}

static void install_flush_signals(void)
{
	pthread_t t;

	if (pipe2(flush_pipe, O_CLOEXEC) < 0)
		return;
	nsp_internal_fd_add(flush_pipe[0]);
	nsp_internal_fd_add(flush_pipe[1]);
	/*
	 * The helper thread must never be the one the signal lands on, and it
	 * runs before the program can fork (thread.c).
	 */
	if (ns_thread_start(&t, NULL, flush_thread, NULL) == 0)
		pthread_detach(t);
	for (size_t i = 0; i < sizeof(flush_signals) / sizeof(flush_signals[0]); i++) {
		struct sigaction sa, cur;

		if (sigaction(flush_signals[i], NULL, &cur) != 0 || cur.sa_handler != SIG_DFL)
			continue;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = flush_on_signal;
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = SA_RESTART | SA_NODEFER;
		sigaction(flush_signals[i], &sa, NULL);
	}
}

/*
 * Every segment is a malloc'd buffer, allocated by one thread and freed by
 * another once acknowledged or read. With glibc's default trim threshold the
 * heap top is handed back to the kernel and faulted in again, one page fault
 * per two or three segments: a fifth of a bulk sender's CPU. Keep up to
 * 64 MiB of freed memory instead, unless the user tuned trimming already.
 */
static void tune_malloc(void)
{
	const char *t = getenv("GLIBC_TUNABLES");

	if (getenv("MALLOC_TRIM_THRESHOLD_") || (t && strstr(t, "trim_threshold")))
		return;
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

/* The device options, kept for a process that has to open the link again. */
static struct pcap_live_opts live_opts;
static char live_ifname[IF_NAMESIZE];
static uint8_t live_mac[6];
static char live_opener[PATH_MAX];
static struct in6_addr live_addr6;

/* Wraps a live device's ops so that libpcap's own socket calls reach libc. */
static void guard_dev(struct net_device *dev)
{
	backend_ops = dev->ops;
	guarded_ops = (struct netdev_ops){
	    .xmit = guarded_xmit,
	    .xmit_gso = backend_ops->xmit_gso ? guarded_xmit_gso : NULL,
	    .xmit_gso_keep = backend_ops->xmit_gso_keep ? guarded_xmit_gso_keep : NULL,
	    /* An atomic load, no system call; and a wait for the TX thread. */
	    .tx_done = backend_ops->tx_done,
	    .tx_drain = backend_ops->tx_drain,
	    .xmit_batch = backend_ops->xmit_batch ? guarded_xmit_batch : NULL,
	    .xmit_batch_keep = backend_ops->xmit_batch_keep ? guarded_xmit_batch_keep : NULL,
	    .tx_push = backend_ops->tx_push ? guarded_tx_push : NULL,
	    .tx_pending = backend_ops->tx_pending ? guarded_tx_pending : NULL,
	    .poll = guarded_poll,
	    .get_fd = backend_ops->get_fd ? guarded_get_fd : NULL,
	    .rx_lost = backend_ops->rx_lost ? guarded_rx_lost : NULL,
	    .needs_polling = backend_ops->needs_polling ? guarded_needs_polling : NULL,
	    /* No system call in these two but clock_gettime. */
	    .rx_clock = backend_ops->rx_clock,
	    .rx_window = backend_ops->rx_window,
	    .rx_stop = backend_ops->rx_stop ? guarded_rx_stop : NULL,
	    .rx_join = backend_ops->rx_join ? guarded_rx_join : NULL,
	    .rx_steer = backend_ops->rx_steer ? guarded_rx_steer : NULL,
	    .close = guarded_close,
	};
	dev->ops = &guarded_ops;
}

/* A packet socket made at fork for taking the link later (pcap_live_spare_socket()), or -1. */
static int spare_fd = -1;

/*
 * nstack_hooks.take_over (stack lock held): the process that received the
 * link's frames is gone and this one takes its place. The packet socket
 * inherited through fork() cannot be used for that (libpcap's read position
 * in its ring was the other process's), so the link is opened afresh; the
 * old handle, used for sending until now, is closed.
 */
/*
 * Opens the link with o, guarded, its fds kept from the program; a failure
 * is said at error level (loud: the process needed it) or info.
 */
static int open_guarded(struct pcap_live_opts *o, struct net_device **res, bool loud)
{
	char err[512] = "";
	struct net_device *dev;
	int rc;

	nsp_inside++;
	rc = pcap_live_open(o, &dev, err, sizeof(err));
	if (rc == 0) {
		guard_dev(dev);
		if (backend_ops->get_fd)
			nsp_internal_fd_add(backend_ops->get_fd(dev));
		if (pcap_live_tx_fd(dev) >= 0)
			nsp_internal_fd_add(pcap_live_tx_fd(dev));
		*res = dev;
	} else if (loud) {
		nsp_log("%s", err);
	} else {
		nsp_log_info("%s", err);
	}
	nsp_inside--;
	return rc;
}

/* A receiving device (deaf: one that takes nothing in until it joins the stack's group). */
static int open_rx(struct net_device **res, bool deaf)
{
	struct pcap_live_opts o = live_opts;

	o.rx_deaf = deaf;
	o.spare_fd = spare_fd;
	if (spare_fd >= 0) {
		/* pcap_live_open() has it now, used or closed. */
		nsp_internal_fd_del(spare_fd);
		spare_fd = -1;
	}
	return open_guarded(&o, res, true);
}

static int hook_open_link(void *ctx, struct net_device **res)
{
	(void)ctx;
	return open_rx(res, false);
}

static int hook_open_rx_link(void *ctx, struct net_device **res)
{
	(void)ctx;
	return open_rx(res, true);
}

/* A device that only sends (as a joining process has), for a former driver. */
static int hook_open_tx_link(void *ctx, struct net_device **res)
{
	struct pcap_live_opts o = live_opts;

	(void)ctx;
	o.tx_only = true;
	o.no_tx_thread = true;
	o.spare_fd = -1;
	return open_guarded(&o, res, false);
}

static void hook_close_link(void *ctx, struct net_device *dev)
{
	(void)ctx;
	nsp_inside++;
	if (dev->ops == &guarded_ops) {
		if (backend_ops->get_fd)
			nsp_internal_fd_del(backend_ops->get_fd(dev));
		if (pcap_live_tx_fd(dev) >= 0)
			nsp_internal_fd_del(pcap_live_tx_fd(dev));
	}
	dev->ops->close(dev);
	nsp_inside--;
}

static void hook_install_link(void *ctx, struct nstack *ns, struct net_device *dev)
{
	struct net_device *old = nstack_dev(ns);

	nstack_set_dev(ns, dev);
	if (old)
		hook_close_link(ctx, old);
}

static int hook_take_over(void *ctx, struct nstack *ns)
{
	struct net_device *dev;
	int rc = hook_open_link(ctx, &dev);

	if (rc == 0)
		hook_install_link(ctx, ns, dev);
	return rc;
}

/* The stack, if this process has started it; never starts it. */
struct nstack *nsp_stack_running(void)
{
	return __atomic_load_n(&start_state, __ATOMIC_ACQUIRE) == 1 ? the_stack : NULL;
}

/*
 * The child's half of fork() (fork.c), after the stack's own repairs: the
 * inherited device only transmits now, the child gets a doorbell and a
 * stack thread of its own, and its exit flushes like its parent's.
 */
void nsp_start_fork_child(struct nstack *ns)
{
	struct net_device *dev = nstack_dev(ns);
	int rc;

	nsp_inside++;
	if (dev)
		pcap_live_fork_child(dev);
	if (dev && nstack_fork_ring(ns) && dev->ops == &guarded_ops) {
		/*
		 * Its parent's ring: kept open here, it would stay in the group
		 * after the parent is gone, taking frames nobody reads. The
		 * child opens a ring of its own when its threads wait
		 * (stack/fanout.c).
		 */
		rc = pcap_live_fork_detach(dev);
		if (rc)
			nsp_log("fork: the child keeps its parent's ring open: %s", strerror(-rc));
		else if (pcap_live_tx_fd(dev) >= 0)
			nsp_internal_fd_add(pcap_live_tx_fd(dev));
	}
	/*
	 * The child may become the driver (stack.c, "Moving the driver"; its
	 * parent's exit): a socket made now, while it may, serves then even
	 * if it dropped the privilege since (an nginx worker runs as nobody).
	 * One inherited from the parent is the parent's: each needs its own.
	 */
	if (spare_fd >= 0) {
		nsp_internal_fd_del(spare_fd);
		close(spare_fd);
		spare_fd = -1;
	}
	if (dev && dev->ops == &guarded_ops) {
		spare_fd = pcap_live_spare_socket();
		if (spare_fd >= 0)
			nsp_internal_fd_add(spare_fd);
	}
	stack_pid = getpid();
	nsp_doorbell_open(ns);
	/* This thread's wait token now: a sandbox may forbid making fds later (sshd). */
	nsp_thread_efd();
	rc = nstack_start(ns);
	if (rc)
		nsp_log("fork: cannot start the child's stack thread: %s", strerror(-rc));
	else
		nsp_internal_fd_add(nstack_wake_fd(ns));
	nsp_inside--;
}

/*
 * The arena's address in every process: fixed, so that pointers inside it
 * hold in programs exec'd or started later that map it too. Well away from
 * where Linux puts heaps, libraries and stacks, and from ASan's shadow.
 */
#define NSP_ARENA_ADDR ((void *)0x6e5700000000ull)

/*
 * Where a stack is found: one per network namespace, user, interface and
 * address, a file on /dev/shm (tmpfs, like a memfd, but with a name that
 * programs started separately can find), mode 0600: only its user (and
 * root) can map it or even open it. The user is part of the name, so that a
 * program of another user on the interface gets its own stack (and the
 * errors of its own: no permission to capture) rather than EACCES here.
 */
static void stack_path(const struct nsp_config *c, char *buf, size_t len)
{
	char a[INET_ADDRSTRLEN];
	struct stat st;

	if (stat("/proc/self/ns/net", &st) < 0)
		st.st_ino = 0;
	inet_ntop(AF_INET, &c->cfg.addr, a, sizeof(a));
	snprintf(buf, len, "/dev/shm/nstack.%lu.u%u.%s.%s", (unsigned long)st.st_ino,
		 (unsigned int)geteuid(), c->cfg.ifname, a);
}

/* The stack's own fds (its eventfd, pidfds): the program's close() must not take them. */
static void hook_own_fd(void *ctx, int fd, bool open)
{
	(void)ctx;
	if (open)
		nsp_internal_fd_add(fd);
	else
		nsp_internal_fd_del(fd);
}

static int hook_own_fd_open(void *ctx, int (*open)(void *arg), void *arg)
{
	int fd;

	(void)ctx;
	nsp_own_lock();
	fd = nsp_own_fd_high(open(arg));
	if (fd >= 0)
		nsp_internal_fd_add(fd);
	nsp_own_unlock();
	return fd;
}

static const struct nstack_hooks the_hooks = {
    .sock_event = hook_sock_event,
    .log = hook_log,
    .ring = nsp_hook_ring,
    .wake_token = nsp_hook_wake_token,
    .wake_all = nsp_hook_wake_all,
    .take_over = hook_take_over,
    .open_link = hook_open_link,
    .install_link = hook_install_link,
    .close_link = hook_close_link,
    .open_tx_link = hook_open_tx_link,
    .open_rx_link = hook_open_rx_link,
    .thread_tick = nsp_hook_thread_tick,
    .own_fd = hook_own_fd,
    .own_fd_open = hook_own_fd_open,
};

/* A new stack in the file fd: this process opens the link and drives it. */
static int create_stack(int fd, struct nsp_config *c, struct pcap_live_opts *o, struct nstack **res,
			char *err, size_t errlen)
{
	struct ns_arena_map map;
	struct net_device *dev;
	int rc;

	rc = pcap_live_open(o, &dev, err, errlen);
	if (rc)
		return rc;
	guard_dev(dev);
	if (c->pcap_path[0]) {
		rc = pcap_dump_create(c->pcap_path, &the_dump, err, errlen);
		if (rc)
			goto out_dev;
		pcap_dump_attach(the_dump, dev);
	}
	rc = ns_arena_create(fd, c->cfg.arena_size, NSP_ARENA_ADDR, &map);
	if (rc) {
		snprintf(err, errlen, "cannot map %zu MiB of shared memory for the stack at %p: %s",
			 c->cfg.arena_size >> 20, NSP_ARENA_ADDR, strerror(-rc));
		goto out_dev;
	}
	rc = nstack_create_in(&map, &c->cfg, dev, &nstack_env_default, &the_hooks, res);
	if (rc) {
		snprintf(err, errlen, "cannot create the stack on %s: %s", c->cfg.ifname,
			 strerror(-rc));
		ns_arena_unmap(&map);
		goto out_dev;
	}
	return 0;
out_dev:
	guarded_close(dev);
	return rc;
}

/*
 * Another program's stack (or ours, before exec) is running in map: this
 * process joins it with a device that only sends; the driver receives.
 */
/*
 * The keeper's device until it takes the link over: none. A packet socket
 * of its own would cost every frame on the interface a clone and a filter
 * run in the kernel (measured: a 200-connection download under wrk timed
 * out with one), for a process that sends nothing while it stands by.
 */
static int null_xmit(struct net_device *dev, const void *frame, size_t len)
{
	return -ENETDOWN;
}

static int null_poll(struct net_device *dev, int budget)
{
	return 0;
}

static void null_close(struct net_device *dev)
{
	free(dev);
}

static const struct netdev_ops null_ops = {
    .xmit = null_xmit,
    .poll = null_poll,
    .close = null_close,
};

/* True in the keeper process (keeper.c). */
bool nsp_is_keeper;

static int join_stack(struct ns_arena_map *map, struct pcap_live_opts *o, struct nstack **res,
		      bool *after_exec, char *err, size_t errlen)
{
	struct pcap_live_opts tx = *o;
	struct net_device *dev;
	int rc;

	tx.tx_only = true;
	tx.no_tx_thread = true;
	if (nsp_is_keeper) {
		dev = calloc(1, sizeof(*dev));
		if (!dev)
			return -ENOMEM;
		dev->ops = &null_ops;
		dev->mtu = ETH_DATA_LEN;
		snprintf(dev->name, sizeof(dev->name), "%s", o->ifname);
	} else {
		rc = pcap_live_open(&tx, &dev, err, errlen);
		if (rc)
			return rc;
		guard_dev(dev);
	}
	rc = nstack_attach(map, dev, &nstack_env_default, &the_hooks, after_exec, res);
	if (rc) {
		snprintf(err, errlen, "cannot join the stack on %s: %s", o->ifname,
			 rc == -EMFILE ? "too many processes share it" : strerror(-rc));
		dev->ops->close(dev);
	}
	return rc;
}

/*
 * Whether some process uses the stack in the file: each one holds a read
 * lock on its first byte for as long as it lives (an open-file-description
 * lock: fork children share it, exec and death drop it), whatever build of
 * nstack it runs.
 */
static bool stack_in_use(int fd)
{
	struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};

	return fcntl(fd, F_OFD_GETLK, &l) == 0 && l.l_type != F_UNLCK;
}

/* The stack's file, kept open for its lock (and nsp_forget_stack_file). */
static int stack_fd = -1;

/*
 * A joining process's settings that the running stack does not share are
 * not applied: the stack is configured once, by the process that starts
 * it, as a kernel's interface is. Say so once, or the program's traffic
 * goes out with settings its user did not ask for (a default router given
 * to the joiner, e.g., silently missing).
 */
static void warn_config_differs(const struct nstack_config *mine, const struct nstack_config *run)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
	const char *what = NULL;

	if (mine->gateway && mine->gateway != run->gateway)
		what = "NSTACK_GW";
	else if (mine->prefixlen != run->prefixlen)
		what = "the NSTACK_ADDR prefix length";
	else if ((mine->ipv6 || !IN6_IS_ADDR_UNSPECIFIED(&mine->addr6)) && !run->ipv6)
		what = "IPv6 (NSTACK_ADDR6/NSTACK_IPV6)";
	else if (!IN6_IS_ADDR_UNSPECIFIED(&mine->addr6) &&
		 (!IN6_ARE_ADDR_EQUAL(&mine->addr6, &run->addr6) ||
		  mine->prefixlen6 != run->prefixlen6))
		what = "NSTACK_ADDR6";
	else if (!IN6_IS_ADDR_UNSPECIFIED(&mine->gateway6) &&
		 !IN6_ARE_ADDR_EQUAL(&mine->gateway6, &run->gateway6))
		what = "NSTACK_GW6";
	if (!what)
		return;
	inet_ntop(AF_INET6, &run->addr6, a, sizeof(a));
	inet_ntop(AF_INET6, &run->gateway6, b, sizeof(b));
	nsp_log("%s ignored: the stack already running on %s keeps its own settings (IPv6 %s, "
		"address %s/%u, router %s); they change when all its programs have exited",
		what, run->ifname, run->ipv6 ? "on" : "off", a, run->prefixlen6, b);
}

/*
 * The stack for this process: the one running on the interface and address
 * (in this network namespace) if there is one, else a new one. The file's
 * flock orders two programs starting at once.
 */
static int open_stack(struct nsp_config *c, struct pcap_live_opts *o, struct nstack **res,
		      bool *after_exec, bool *joined, char *err, size_t errlen)
{
	struct flock rd = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
	struct ns_arena_map map;
	int fd, rc;

	stack_path(c, shm_path, sizeof(shm_path));
	for (int tries = 0;; tries++) {
		struct stat at, held;

		fd = open(shm_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0) {
			rc = -errno;
			snprintf(err, errlen, "cannot open the stack's shared memory %s: %s%s",
				 shm_path, strerror(errno),
				 errno == EACCES
				     ? " (a stack of another user runs on this interface)"
				     : "");
			return rc;
		}
		flock(fd, LOCK_EX);
		/*
		 * A start that failed removes the file it made (below); one that
		 * waited for its lock meanwhile holds a file nobody else will
		 * find, and opens the name again.
		 */
		if (tries >= 8 || (fstat(fd, &held) == 0 && stat(shm_path, &at) == 0 &&
				   at.st_ino == held.st_ino && at.st_dev == held.st_dev))
			break;
		flock(fd, LOCK_UN);
		close(fd);
	}
	*joined = false;
	if (stack_in_use(fd)) {
		rc = ns_arena_attach(fd, NSP_ARENA_ADDR, &map);
		if (rc == -EPROTO)
			snprintf(err, errlen,
				 "the stack on %s is run by programs of another build of nstack; "
				 "stop them or use another NSTACK_ADDR",
				 c->cfg.ifname);
		else if (rc)
			snprintf(err, errlen, "cannot map the stack's shared memory %s: %s",
				 shm_path, strerror(-rc));
		if (rc)
			goto out;
		*joined = true;
		rc = join_stack(&map, o, res, after_exec, err, errlen);
		if (rc)
			ns_arena_unmap(&map);
		else if (!*after_exec)
			warn_config_differs(&c->cfg, nstack_config(*res));
	} else {
		/* Nobody uses it (new, or left by processes that all died): start afresh. */
		rc = create_stack(fd, c, o, res, err, errlen);
		/* A start that failed (no such interface, no permission) leaves no file behind. */
		if (rc)
			unlink(shm_path);
	}
	if (rc == 0 && fcntl(fd, F_OFD_SETLK, &rd) < 0)
		nsp_log("cannot lock %s: %s", shm_path, strerror(errno));
out:
	flock(fd, LOCK_UN);
	if (rc == 0) {
		stack_fd = fd;
		nsp_internal_fd_add(fd);
	} else {
		close(fd);
	}
	return rc;
}

/* Takes over the descriptors the image before exec() left us (sshd -R, bash's children). */
static void adopt_exec_fds(struct nstack *ns)
{
	int fds[256];
	struct socket *socks[256];
	int n = nstack_exec_fds(ns, fds, socks, 256);

	nsp_log_info("exec: %d private fd(s) handed over", n);

	for (int i = 0; i < n; i++) {
		int rc = nsp_file_adopt(ns, socks[i], fds[i]);

		if (rc)
			nsp_log("exec: cannot take over private fd %d: %s", fds[i], strerror(-rc));
	}
}

/* net.ipv6.bindv6only: new AF_INET6 sockets are IPv6-only (then the kernel's). */
atomic_bool nsp_bindv6only;

static bool read_bindv6only(void)
{
	char c = '0';
	int fd = open("/proc/sys/net/ipv6/bindv6only", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	if (read(fd, &c, 1) != 1)
		c = '0';
	close(fd);
	return c == '1';
}

/* The coarse clock's tick when the TCP sysctls were last read. */
static _Atomic uint64_t sysctl_read_tick;

static uint64_t coarse_tick(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* This process's ingress drop table (ingress.h): goes when the process does. */
static struct ingress_drop ingress = {.fd = -1};

/*
 * Frames for the stack's addresses end at the interface's ingress hook
 * once our packet sockets have them, so the kernel (which has no address
 * for them) does not route each one to discard it (iperf3 receiving at
 * MTU 1500, in turn: 7.3 Gbit/s on average without, 8.1 with). Needs
 * CAP_NET_ADMIN; without it the interface is left as it is.
 */
static void ingress_drop_start(const struct nsp_config *c)
{
	int rc;

	if (ingress.fd >= 0)
		return;
	nsp_inside++; /* its netlink socket is ours, not the program's */
	rc = ingress_drop_open(
	    &ingress, c->cfg.ifname, c->cfg.addr,
	    c->cfg.ipv6 && !IN6_IS_ADDR_UNSPECIFIED(&c->cfg.addr6) ? &c->cfg.addr6 : NULL);
	nsp_inside--;
	if (ingress.fd >= 0) {
		nsp_internal_fd_add(ingress.fd);
		nsp_log_info("frames for our addresses end at %s's ingress hook (nftables table "
			     "netdev %s; NSTACK_INGRESS_DROP=0 to leave the interface alone)",
			     c->cfg.ifname, ingress.table);
	} else if (ingress.why[0]) {
		nsp_log_info("no ingress drop on %s: %s", c->cfg.ifname, ingress.why);
	} else if (rc != -EPERM) {
		nsp_log_info("no ingress drop on %s: %s", c->cfg.ifname, strerror(-rc));
	}
}

static int start_locked(void)
{
	struct pcap_live_opts o = {.spare_fd = -1};
	struct nsp_config c;
	char err[512] = "";
	struct net_device *dev;
	bool after_exec = false, joined = false;
	struct nstack *ns;
	int rc;

	rc = nsp_config_load(&c, env_get, NULL, "/proc/sys/net", err, sizeof(err));
	if (rc)
		goto fail;
	atomic_store(&sysctl_read_tick, coarse_tick());
	atomic_store(&nsp_bindv6only, read_bindv6only());
	tune_malloc();
	o.ifname = c.cfg.ifname;
	o.mac = c.have_mac ? c.mac : NULL;
	o.mtu = c.cfg.mtu;
	o.addr = c.cfg.addr;
	o.prefixlen = c.cfg.prefixlen;
	o.no_gso = !c.gso;
	o.no_tx_thread = !c.tx_thread;
	o.opener = c.opener[0] ? c.opener : NULL;
	o.ipv6 = c.cfg.ipv6;
	o.addr6 = IN6_IS_ADDR_UNSPECIFIED(&c.cfg.addr6) ? NULL : &live_addr6;
	live_addr6 = c.cfg.addr6;
	print_stats = c.stats;
	live_opts = o;
	snprintf(live_ifname, sizeof(live_ifname), "%s", c.cfg.ifname);
	live_opts.ifname = live_ifname;
	snprintf(live_opener, sizeof(live_opener), "%s", c.opener);
	live_opts.opener = live_opener[0] ? live_opener : NULL;
	if (o.mac) {
		memcpy(live_mac, o.mac, 6);
		live_opts.mac = live_mac;
	}
	/*
	 * Merged frames need the virtio-net header (it says their checksums
	 * were verified), which comes with GSO. Without CAP_NET_ADMIN (through
	 * nstack-opener, say) the interface stays as it is.
	 */
	if (c.gro && c.gso) {
		int g = pcap_live_gro_on(c.cfg.ifname);

		if (g == 1)
			nsp_log_info("turned generic receive offload on for %s (NSTACK_GRO=0 to "
				     "leave it)",
				     c.cfg.ifname);
		if (g >= 0 && pcap_live_gro_cap(c.cfg.ifname) == 1)
			nsp_log_info("set gro_max_size of %s to fit a ring slot", c.cfg.ifname);
	}
	rc = open_stack(&c, &o, &ns, &after_exec, &joined, err, sizeof(err));
	if (rc)
		goto fail;
	dev = nstack_dev(ns);
	/*
	 * The doorbell before the thread: the thread polls the doorbell fd it
	 * sees when it goes to sleep, and its first loop drains what was
	 * posted before the name was bound (a ring to an unbound name is
	 * lost, and the next post into a non-empty box does not ring). The
	 * other order left a process that joined a driven stack asleep
	 * forever on its first wake-up mail (wrk's blocking connect).
	 */
	nsp_doorbell_open(ns);
	rc = nstack_start(ns);
	if (rc) {
		snprintf(err, sizeof(err), "cannot start the stack thread: %s", strerror(-rc));
		if (!joined)
			nstack_destroy(ns);
		goto fail;
	}
	if (c.cfg.log_level >= NSTACK_LOG_INFO) {
		char a[INET_ADDRSTRLEN];
		const uint8_t *m = dev->dev_addr;

		inet_ntop(AF_INET, &c.cfg.addr, a, sizeof(a));
		nsp_log("%s on %s, %s/%u, MAC %02x:%02x:%02x:%02x:%02x:%02x, MTU %u%s%s",
			after_exec ? "re-attached after exec"
			: joined   ? "joined the stack"
				   : "started",
			c.cfg.ifname, a, c.cfg.prefixlen, m[0], m[1], m[2], m[3], m[4], m[5],
			dev->mtu, c.pcap_path[0] ? ", dump " : "", c.pcap_path);
	}
	if (c.ingress_drop)
		ingress_drop_start(&c);
	/* A program that closes fds it does not know must not close the stack's. */
	nsp_internal_fd_add(nstack_wake_fd(ns));
	if (dev->ops == &guarded_ops && backend_ops->get_fd)
		nsp_internal_fd_add(backend_ops->get_fd(dev));
	if (dev->ops == &guarded_ops && pcap_live_tx_fd(dev) >= 0)
		nsp_internal_fd_add(pcap_live_tx_fd(dev));
	nsp_fork_init();
	nsp_thread_efd();
	exit_linger_ms = c.exit_linger_ms;
	snprintf(the_if.name, sizeof(the_if.name), "%s", c.cfg.ifname);
	the_if.addr = c.cfg.addr;
	the_if.mask = htonl(~0u << (32 - c.cfg.prefixlen));
	memcpy(the_if.mac, dev->dev_addr, 6);
	the_if.mtu = dev->mtu;
	nsp_policy.handover_loopback = c.handover_loopback;
	nsp_policy.nbypass = c.nbypass;
	memcpy(nsp_policy.bypass_net, c.bypass_net, sizeof(c.bypass_net));
	memcpy(nsp_policy.bypass_mask, c.bypass_mask, sizeof(c.bypass_mask));
	nsp_policy.nbypass6 = c.nbypass6;
	memcpy(nsp_policy.bypass6_net, c.bypass6_net, sizeof(c.bypass6_net));
	memcpy(nsp_policy.bypass6_plen, c.bypass6_plen, sizeof(c.bypass6_plen));
	nsp_policy.ipv6 = nstack_ipv6_enabled(ns);
	stack_pid = getpid();
	the_stack = ns;
	if (after_exec)
		adopt_exec_fds(ns);
	if (!joined)
		nsp_keeper_spawn();
	atexit(exit_flush);
	if (exit_linger_ms)
		install_flush_signals();
	return 1;

fail:
	nsp_log("%s", err);
	return rc < 0 ? rc : -EIO;
}

/*
 * Linux applies net.ipv4.tcp_* to each socket created after a change
 * (packetdrill's scripts set them just before socket()). /proc/sys files
 * carry no change time, so they are read again, at most once per tick of
 * the coarse clock (a few ms): a program opening thousands of sockets pays
 * for one read per tick, not per socket. NSTACK_TCP_* still override.
 */
void nsp_sysctl_refresh(struct nstack *ns)
{
	uint64_t tick = coarse_tick(), last = atomic_load(&sysctl_read_tick);
	struct tcp_config t;
	char err[256];

	if (tick == last || !atomic_compare_exchange_strong(&sysctl_read_tick, &last, tick))
		return;
	tcp_config_defaults(&t);
	nsp_inside++;
	nsp_tcp_from_proc(&t, "/proc/sys/net");
	atomic_store(&nsp_bindv6only, read_bindv6only());
	nsp_inside--;
	if (nsp_tcp_from_env(&t, env_get, NULL, err, sizeof(err)))
		return; /* reported when the stack started */
	nstack_set_tcp_config(ns, &t);
}

/* The process's stack, started on first use. */
int nsp_stack(struct nstack **res)
{
	int st = __atomic_load_n(&start_state, __ATOMIC_ACQUIRE);

	if (st == 0) {
		pthread_mutex_lock(&start_lock);
		st = start_state;
		if (st == 0) {
			nsp_inside++;
			st = start_locked();
			nsp_inside--;
			__atomic_store_n(&start_state, st, __ATOMIC_RELEASE);
		}
		pthread_mutex_unlock(&start_lock);
	}
	if (st < 0)
		return st;
	if (nsp_forked) {
		static bool told;

		if (!told) {
			told = true;
			nsp_log("private sockets are not available in a forked child yet");
		}
		return -ENETDOWN;
	}
	*res = the_stack;
	return 0;
}

void nsp_file_free(struct nsp_file *f)
{
	pthread_mutex_destroy(&f->wait_lock);
	free(f->opts);
	free(f);
}

/* The last reference to f is gone: close the private socket. */
void nsp_file_release(struct nsp_file *f)
{
	if (!nsp_forked) {
		/* The stack may transmit (a FIN, say): no interposition inside it. */
		nsp_inside++;
		nstack_close(f->sock);
		nsp_inside--;
	}
	nsp_file_free(f);
}

/* SIOCGIF* for nstack's interface; see preload.h. */
int nsp_ifreq_answer(unsigned long cmd, void *arg)
{
	struct ifreq *ifr = arg;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr->ifr_addr;

	if (!the_stack || strncmp(ifr->ifr_name, the_if.name, IFNAMSIZ) != 0)
		return -ENOTTY;
	switch (cmd) {
	case SIOCGIFADDR:
	case SIOCGIFNETMASK:
	case SIOCGIFBRDADDR:
		memset(sin, 0, sizeof(*sin));
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = cmd == SIOCGIFADDR      ? the_if.addr
				       : cmd == SIOCGIFNETMASK ? the_if.mask
							       : (the_if.addr | ~the_if.mask);
		return 0;
	case SIOCGIFHWADDR:
		memset(&ifr->ifr_hwaddr, 0, sizeof(ifr->ifr_hwaddr));
		ifr->ifr_hwaddr.sa_family = ARPHRD_ETHER;
		memcpy(ifr->ifr_hwaddr.sa_data, the_if.mac, 6);
		return 0;
	case SIOCGIFMTU:
		ifr->ifr_mtu = (int)the_if.mtu;
		return 0;
	case SIOCGIFFLAGS:
		ifr->ifr_flags = IFF_UP | IFF_RUNNING | IFF_BROADCAST | IFF_MULTICAST;
		return 0;
	default:
		return -ENOTTY;
	}
}

/* Reserves an fd number with an eventfd and maps it to sock. */
int nsp_file_create(struct nstack *ns, struct socket *sock, bool cloexec, int type, int protocol)
{
	struct nsp_file *f = calloc(1, sizeof(*f));
	int fd, rc;

	if (!f)
		return -ENOMEM;
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0) {
		rc = -errno;
		free(f);
		return rc;
	}
	f->sock = sock;
	f->ns = ns;
	f->type = type;
	f->protocol = protocol;
	f->evfd = fd;
	pthread_mutex_init(&f->wait_lock, NULL);
	rc = fdt_install(fd, f, cloexec);
	if (rc) {
		REAL(close)(fd);
		pthread_mutex_destroy(&f->wait_lock);
		free(f);
		return rc;
	}
	nstack_sock_set_file(sock, f);
	if (fd <= 2)
		nsp_stdio_attach(fd);
	return fd;
}

/*
 * After exec(): fd is an eventfd the old image kept for sock (not
 * close-on-exec); it becomes this image's file for sock again. Several fds
 * of one socket (dup2 onto 0 and 1, say) share one file, as before exec.
 */
int nsp_file_adopt(struct nstack *ns, struct socket *sock, int fd)
{
	struct nsp_file *f;
	int rc;

	nstack_lock(ns);
	f = nstack_sock_file(sock);
	nstack_unlock(ns);
	if (!f) {
		f = calloc(1, sizeof(*f));
		if (!f)
			return -ENOMEM;
		f->sock = sock;
		f->ns = ns;
		f->type = nstack_sock_type(sock);
		f->evfd = fd;
		pthread_mutex_init(&f->wait_lock, NULL);
		nstack_sock_set_file(sock, f);
	}
	rc = fdt_install(fd, f, false);
	if (!rc && fd <= 2)
		nsp_stdio_attach(fd);
	return rc;
}

/* NSTACK_EXIT_LINGER as configured (the keeper's bound too). */
unsigned int nsp_exit_linger_ms(void)
{
	return exit_linger_ms;
}
