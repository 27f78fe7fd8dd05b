/*
 * nstack's embedding API: build a stack on a network device, drive it
 * (its own thread, or nstack_process() with a manual clock in tests), and
 * call into its sockets. Everything outside stack/ uses only this header
 * (plus netdevice.h for backends). Socket calls return 0/count or -errno.
 */
#ifndef NSTACK_NSTACK_H
#define NSTACK_NSTACK_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "tcp_config.h"

struct nstack;
struct socket;
struct net_device;

enum nstack_log_level { NSTACK_LOG_ERROR, NSTACK_LOG_WARN, NSTACK_LOG_INFO, NSTACK_LOG_DEBUG };

struct nstack_config {
	char ifname[IF_NAMESIZE];
	uint32_t addr;		/* our IPv4 address, network order */
	unsigned int prefixlen; /* subnet prefix length */
	uint32_t gateway;	/* default gateway, network order; 0 = none */
	unsigned int mtu;	/* 0 = the device's */
	bool gratuitous_arp;	/* announce the address when the stack starts */
	enum nstack_log_level log_level;
	unsigned int busy_poll_us; /* the stack thread polls this long before it sleeps */
	bool rx_direct;	   /* a thread sleeping for its socket receives frames itself (sk_wait) */
	bool move_driver;  /* the link moves to the process whose threads use sockets */
	bool rx_fanout;	   /* every process that waits on sockets receives its share (fanout.c) */
	size_t arena_size; /* bytes of shared memory for the stack's state; 0 = default */
	struct tcp_config tcp;
	/* IPv6 (ipv6.h): off unless ipv6 is set or addr6 is given. */
	bool ipv6;		  /* link-local address, router solicitation, SLAAC */
	struct in6_addr addr6;	  /* static global address (NSTACK_ADDR6); :: = none */
	unsigned int prefixlen6;  /* its prefix length, 1..128 */
	struct in6_addr gateway6; /* default router (NSTACK_GW6); :: = from advertisements */
	/*
	 * Optimistic DAD (RFC 4429, Linux's optimistic_dad): new addresses are
	 * usable while DAD runs, so a program that starts the stack can
	 * connect at once instead of failing for the 1-2 s DAD takes.
	 */
	bool optimistic_dad;
};

/* The clock and random source the stack uses; tests inject their own. */
struct nstack_env {
	uint64_t (*now_us)(void *ctx); /* monotonic microseconds */
	uint32_t (*random32)(void *ctx);
	void *ctx;
};

/* Callbacks into the embedder. Called with the stack lock held. */
struct nstack_hooks {
	/* Readiness of sock may have changed (data, space, state, error). */
	void (*sock_event)(void *ctx, struct socket *sock);
	/* One formatted log line (no newline); NULL writes to stderr. */
	void (*log)(void *ctx, enum nstack_log_level level, const char *line);
	/*
	 * Sharing between processes (all optional). ring: process `slot` of
	 * stack `id` has mail; make its doorbell fd readable. wake_token: a
	 * wait token of this process, posted by another one (it may be stale:
	 * check it). wake_all: mail was lost; wake every sleeper. take_over:
	 * the process that drove the link died; make this process's device
	 * able to receive (nstack_set_dev) and return 0, or -errno.
	 */
	void (*ring)(void *ctx, int slot, uint64_t id);
	void (*wake_token)(void *ctx, void *token);
	void (*wake_all)(void *ctx);
	int (*take_over)(void *ctx, struct nstack *ns);
	/*
	 * Optional, for moving the link here while the driver goes on (stack.c,
	 * "Moving the driver"): open_link, called WITHOUT the stack lock (a
	 * capture ring takes a while), opens a receiving device; install_link
	 * (lock held) makes it this process's device as take_over would;
	 * close_link discards one that is not wanted any more.
	 */
	int (*open_link)(void *ctx, struct net_device **dev);
	void (*install_link)(void *ctx, struct nstack *ns, struct net_device *dev);
	void (*close_link)(void *ctx, struct net_device *dev);
	/* Optional, without the lock: a device that only sends, for a former driver. */
	int (*open_tx_link)(void *ctx, struct net_device **dev);
	/*
	 * Optional (fanout.c), lock held or not: a receiving device opened deaf
	 * (pcap_live_opts.rx_deaf), to join the stack's group of rings.
	 */
	int (*open_rx_link)(void *ctx, struct net_device **dev);
	/* The stack thread's every round (lock held): work others left it (nstack_wake_thread). */
	void (*thread_tick)(void *ctx, struct nstack *ns);
	/* fd is one the stack opened (open) or is about to close for itself. */
	void (*own_fd)(void *ctx, int fd, bool open);
	/*
	 * Opens an fd of the stack's own: open(arg), with the program's
	 * close()/close_range() kept out until own_fd() has marked it (they
	 * could otherwise close it in between). NULL: open(arg) directly.
	 */
	int (*own_fd_open)(void *ctx, int (*open)(void *arg), void *arg);
	void *ctx;
};

/*
 * How a blocking call sleeps, when the embedder wants to choose (optional,
 * set with nstack_set_wait_ops()). Without it, calls sleep on the socket's
 * condition variable, which no signal interrupts. With it, a call that
 * must wait registers the calling thread's token on the socket (token()
 * with the stack lock held; NULL means "use the condition variable"),
 * releases the lock and calls sleep(); every readiness change of a socket
 * calls wake() for each token registered on it, with the lock held.
 * sleep() returns 0 (woken, timed out or spurious: the caller looks again)
 * or -EINTR (a signal handler ran: the call gives up with EINTR unless it
 * made progress). timeo_us is INT64_MAX for "no timeout".
 */
struct nstack_wait_ops {
	void *(*token)(void *ctx);
	int (*sleep)(void *ctx, void *token, int64_t timeo_us);
	/*
	 * Optional: sleep() that also ends when fd (the link's receive fd)
	 * turns readable, for direct receive (nstack_config.rx_direct); then
	 * it returns 1.
	 */
	int (*sleep_rx)(void *ctx, void *token, int64_t timeo_us, int fd);
	void (*wake)(void *ctx, void *token);
	void *ctx;
};

/*
 * A poller's registration on one socket (poll/select over several sockets):
 * the caller sets token; the rest is the stack's.
 */
struct nstack_waiter {
	void *token;
	struct sk_waitent *ent; /* the registration, in the stack's shared memory */
	struct nstack *ns;
};

/* CLOCK_MONOTONIC and arc4random. */
extern const struct nstack_env nstack_env_default;

void nstack_config_defaults(struct nstack_config *cfg);
/*
 * Builds a stack on dev (which the stack then owns and closes). hooks may be
 * NULL. Returns 0 or -errno.
 */
int nstack_create(const struct nstack_config *cfg, struct net_device *dev,
		  const struct nstack_env *env, const struct nstack_hooks *hooks,
		  struct nstack **res);
struct ns_arena_map;
/* The same in an arena the caller created and mapped (ns_arena_create, arena.h). */
int nstack_create_in(const struct ns_arena_map *map, const struct nstack_config *cfg,
		     struct net_device *dev, const struct nstack_env *env,
		     const struct nstack_hooks *hooks, struct nstack **res);
/*
 * Joins the stack that lives in an arena this process mapped with
 * ns_arena_attach() (another program runs it, or this process ran it before
 * exec): a slot of its own in the process table, or, after exec, the slot
 * the old image left (*after_exec; then nstack_exec_fds()). dev is this
 * process's handle on the link (sending only, unless it takes over).
 * Returns 0, -EMFILE (table full) or -EINVAL.
 */
int nstack_attach(const struct ns_arena_map *map, struct net_device *dev,
		  const struct nstack_env *env, const struct nstack_hooks *hooks, bool *after_exec,
		  struct nstack **res);
/* exec(): see shared.c. */
int nstack_exec_record(struct nstack *ns, const int *fds, struct socket *const *socks, int n);
int nstack_exec_fds(struct nstack *ns, int *fds, struct socket **socks, int max);
/* The stack an arena holds (its root), or NULL. */
struct nstack *nstack_from_arena(const struct ns_arena_map *map);
/* Stops the thread if running, frees every socket and buffer, closes dev. */
void nstack_destroy(struct nstack *ns);
/* Starts the stack thread (RX batches and timers). */
int nstack_start(struct nstack *ns);
/*
 * This process is about to exec(): its stack thread stops (so no thread of
 * it holds the stack lock when exec ends them all) and, if it drove the
 * link, another process takes over. nstack_exec_failed() undoes it.
 */
void nstack_exec_prepare(struct nstack *ns);
void nstack_exec_failed(struct nstack *ns);
/* Leaving: the link passes to another process (see shared.c). */
bool nstack_hand_over(struct nstack *ns);
bool nstack_is_driver(struct nstack *ns);
/* Whether this process's device receives frames (the driver's, or its ring in the group). */
bool nstack_receives(struct nstack *ns);
/*
 * Leaving (exit, exec; no lock held): no frame is steered to this
 * process's ring any more and what it holds is processed. Not for a driver
 * that nobody took over from.
 */
void nstack_fan_leave(struct nstack *ns);
/*
 * In a fork child: whether its device is its parent's ring in the group
 * (once; the embedder then gives the child a device of its own).
 */
bool nstack_fork_ring(struct nstack *ns);
/* A thread of this process calls epoll_wait (no lock needed). */
void nstack_epoll_waits(struct nstack *ns);
/* Wakes this process's stack thread (its hooks.thread_tick runs). */
void nstack_wake_thread(struct nstack *ns);
/*
 * A poll/epoll_wait call begins: processes the frames already on the link
 * if this process drives it, when the call has no time to wait (the stack
 * thread may not have reached them yet; Linux's softirq would have) or,
 * lease_only, when a direct receive lease keeps the stack thread away from
 * the link. True when there were some.
 */
bool nstack_rx_catch_up(struct nstack *ns, bool lease_only);
/*
 * Direct receive for poll/epoll (sk_wait does the same for blocking socket
 * calls): a program thread about to sleep gets the link's fd to sleep on
 * as well, when this process drives the link and no other thread receives
 * directly; else -1. After a spin of NSTACK_BUSY_POLL, *ready says frames
 * came already (then do not sleep). A thread that got an fd calls
 * nstack_rx_direct_end() when it wakes, woken saying whether the link's fd
 * woke it; the frames are processed there.
 */
int nstack_rx_direct_begin(struct nstack *ns, bool *ready);
void nstack_rx_direct_end(struct nstack *ns, bool woken);
/*
 * The same for a process that does not drive the link: the fd of its
 * mailbox's doorbell to sleep on as well, or -1; nstack_mail_direct_end()
 * drains the mailbox (the events other processes posted for its sockets).
 */
int nstack_mail_direct_begin(struct nstack *ns);
void nstack_mail_direct_end(struct nstack *ns, bool woken);
/* The eventfd the stack thread sleeps on (-1 before nstack_start), for embedders that guard fds. */
int nstack_wake_fd(const struct nstack *ns);
/* True when the stack carries IPv6 (NSTACK_IPV6 on): AF_INET6 sockets then stay in it. */
bool nstack_ipv6_enabled(const struct nstack *ns);
/* Without a thread: handles pending frames, then due timers. */
void nstack_process(struct nstack *ns);
uint64_t nstack_now(const struct nstack *ns);
/* Earliest timer deadline, UINT64_MAX when none. */
uint64_t nstack_next_deadline(struct nstack *ns);
void nstack_lock(struct nstack *ns);
void nstack_unlock(struct nstack *ns);
const struct nstack_config *nstack_config(const struct nstack *ns);
/*
 * New TCP settings (the host's sysctls changed): as Linux, they apply to
 * sockets created from now on and to decisions made from now on (a new
 * default congestion control, SACK/timestamps offered in the next SYN).
 */
void nstack_set_tcp_config(struct nstack *ns, const struct tcp_config *t);
struct net_device *nstack_dev(const struct nstack *ns);

/* Counters by their netstat name (e.g. "IpInHdrErrors"); -1 if unknown. */
int64_t nstack_stat(struct nstack *ns, const char *name);
/* Frames the device accepted but has not yet put on the link (its own TX queue). */
unsigned int nstack_tx_pending(struct nstack *ns);
/* Calls fn for each counter that is not zero. */
void nstack_stats_foreach(struct nstack *ns, void (*fn)(void *arg, const char *name, uint64_t v),
			  void *arg);
/*
 * Sharing one stack between processes (shared.c). A fork: prepare() in the
 * parent before the system call (returns the child's slot, holds the
 * stack lock), then parent() with fork's result, or child() in the child,
 * which then starts its own stack thread (nstack_start).
 */
int nstack_fork_prepare(struct nstack *ns);
void nstack_fork_parent(struct nstack *ns, int slot, pid_t pid);
void nstack_fork_child(struct nstack *ns, int slot);
int nstack_proc_slot(const struct nstack *ns);
int nstack_proc_count(struct nstack *ns);
uint64_t nstack_shared_id(const struct nstack *ns);
void nstack_set_doorbell_fd(struct nstack *ns, int fd);
/* Replaces this process's device (the old one is the caller's to close). */
void nstack_set_dev(struct nstack *ns, struct net_device *dev);
/* Where the stack lives: the arena this process maps (for nstack stat and tests). */
void *nstack_arena_base(const struct nstack *ns);

/* Live object counts, for leak checks in tests. */
long nstack_live_skbs(struct nstack *ns);
long nstack_live_socks(struct nstack *ns);

/* Sockets. -EAFNOSUPPORT/-EPROTONOSUPPORT mean "not ours: use the kernel". */
int nstack_socket(struct nstack *ns, int family, int type, int protocol, struct socket **res);
void nstack_sock_set_file(struct socket *sock, void *file);
void *nstack_sock_file(const struct socket *sock);
/*
 * This process waits for sock's readiness changes through the embedder's
 * file (hooks.sock_event): other processes' changes reach it by mail from
 * now on, until it lets go of the socket. Before the first readiness check
 * of that wait; no lock needed.
 */
void nstack_sock_watch(struct socket *sock);
int nstack_close(struct socket *sock);
/* nstack_close() inside a section the caller holds (nstack_lock). */
void nstack_close_locked(struct socket *sock);
int nstack_bind(struct socket *sock, const struct sockaddr *addr, socklen_t len);
int nstack_connect(struct socket *sock, const struct sockaddr *addr, socklen_t len);
int nstack_listen(struct socket *sock, int backlog);
/* flags: SOCK_NONBLOCK for the new socket; addr may be NULL. */
int nstack_accept(struct socket *sock, struct socket **newsock, struct sockaddr *addr,
		  socklen_t *len, int flags);
ssize_t nstack_sendmsg(struct socket *sock, const struct msghdr *msg, int flags);
ssize_t nstack_recvmsg(struct socket *sock, struct msghdr *msg, int flags);
int nstack_shutdown(struct socket *sock, int how);
int nstack_getsockname(struct socket *sock, struct sockaddr *addr, socklen_t *len);
int nstack_getpeername(struct socket *sock, struct sockaddr *addr, socklen_t *len);
int nstack_setsockopt(struct socket *sock, int level, int name, const void *val, socklen_t len);
int nstack_getsockopt(struct socket *sock, int level, int name, void *val, socklen_t *len);
int nstack_ioctl(struct socket *sock, unsigned long cmd, void *arg);
/* POLLIN/POLLOUT/POLLERR/POLLHUP/POLLRDHUP/POLLPRI readiness now. */
unsigned int nstack_poll(struct socket *sock);
/* The same inside a section the caller holds (nstack_lock). */
unsigned int nstack_poll_locked(struct socket *sock);
/*
 * Installs (ops) or removes (NULL) the sleep/wake operations; ops is copied.
 * Safe while threads sleep: those on the condition variable are still woken.
 */
void nstack_set_wait_ops(struct nstack *ns, const struct nstack_wait_ops *ops);
/*
 * nstack_poll() and, atomically with it, registers w (w->token set) so that
 * any later change of sock's readiness calls wait_ops.wake(w->token) until
 * nstack_poll_end(w). A socket without a sock (released) only reports.
 */
unsigned int nstack_poll_wait(struct socket *sock, struct nstack_waiter *w);
/* Unregisters w (no-op when nstack_poll_wait() did not register it). */
void nstack_poll_end(struct nstack_waiter *w);
/* O_NONBLOCK as set by fcntl(F_SETFL)/FIONBIO. */
void nstack_set_nonblock(struct socket *sock, bool on);
bool nstack_get_nonblock(const struct socket *sock);
int nstack_sock_type(const struct socket *sock);
/* AF_INET or AF_INET6: the family the program created the socket with. */
int nstack_sock_family(const struct socket *sock);

#endif
