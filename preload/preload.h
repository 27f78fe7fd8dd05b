/*
 * Private declarations shared by the preload's files: the real libc symbols,
 * the "inside nstack" guard, the fd table and the stack's lazy start.
 */
#ifndef NSTACK_PRELOAD_H
#define NSTACK_PRELOAD_H

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include <netinet/in.h>

#include "nstack.h"

#define NSP_EXPORT __attribute__((visibility("default")))

/* The libc functions we interpose, bound lazily with dlsym(RTLD_NEXT). */
struct nsp_real {
	int (*socket)(int, int, int);
	int (*bind)(int, const struct sockaddr *, socklen_t);
	int (*connect)(int, const struct sockaddr *, socklen_t);
	int (*listen)(int, int);
	int (*accept)(int, struct sockaddr *, socklen_t *);
	int (*accept4)(int, struct sockaddr *, socklen_t *, int);
	ssize_t (*sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
	ssize_t (*sendmsg)(int, const struct msghdr *, int);
	ssize_t (*send)(int, const void *, size_t, int);
	ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
	ssize_t (*recvmsg)(int, struct msghdr *, int);
	ssize_t (*recv)(int, void *, size_t, int);
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*write)(int, const void *, size_t);
	ssize_t (*readv)(int, const struct iovec *, int);
	ssize_t (*writev)(int, const struct iovec *, int);
	int (*close)(int);
	int (*shutdown)(int, int);
	int (*getsockname)(int, struct sockaddr *, socklen_t *);
	int (*getpeername)(int, struct sockaddr *, socklen_t *);
	int (*setsockopt)(int, int, int, const void *, socklen_t);
	int (*getsockopt)(int, int, int, void *, socklen_t *);
	int (*fcntl)(int, int, ...);
	int (*fcntl64)(int, int, ...);
	int (*ioctl)(int, unsigned long, ...);
	int (*dup)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*poll)(struct pollfd *, nfds_t, int);
	int (*ppoll)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
	int (*select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
	int (*pselect)(int, fd_set *, fd_set *, fd_set *, const struct timespec *,
		       const sigset_t *);
	ssize_t (*__recv_chk)(int, void *, size_t, size_t, int);
	ssize_t (*__recvfrom_chk)(int, void *, size_t, size_t, int, struct sockaddr *, socklen_t *);
	ssize_t (*__read_chk)(int, void *, size_t, size_t);
	int (*__poll_chk)(struct pollfd *, nfds_t, int, size_t);
	int (*__ppoll_chk)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *,
			   size_t);
	long (*__fdelt_chk)(long);
	int (*sendmmsg)(int, struct mmsghdr *, unsigned int, int);
	int (*recvmmsg)(int, struct mmsghdr *, unsigned int, int, struct timespec *);
	ssize_t (*sendfile)(int, int, off_t *, size_t);
	ssize_t (*splice)(int, loff_t *, int, loff_t *, size_t, unsigned int);
	int (*close_range)(unsigned int, unsigned int, int);
	pid_t (*fork)(void);
	int (*execve)(const char *, char *const[], char *const[]);
	int (*execv)(const char *, char *const[]);
	int (*execvp)(const char *, char *const[]);
	int (*execvpe)(const char *, char *const[], char *const[]);
	int (*fexecve)(int, char *const[], char *const[]);
	int (*prctl)(int, ...);
	int (*epoll_ctl)(int, int, int, struct epoll_event *);
	int (*epoll_wait)(int, struct epoll_event *, int, int);
	int (*epoll_pwait)(int, struct epoll_event *, int, int, const sigset_t *);
	int (*epoll_pwait2)(int, struct epoll_event *, int, const struct timespec *,
			    const sigset_t *);
	long (*syscall)(long, ...);
};

extern struct nsp_real nsp_real;
/* stdio on private fds 0..2 (stdio.c). */
void nsp_stdio_attach(int fd);
void nsp_stdio_detach(int fd);
void nsp_stdio_flush(void);
/* A system call that never goes through the interposers (syscall.c). */
long nsp_syscall(long nr, ...);
void *nsp_dlsym(const char *name);

/* The real libc function, looked up on first use. */
#define REAL(fn)                                                                                   \
	(__builtin_expect(__atomic_load_n(&nsp_real.fn, __ATOMIC_RELAXED) != NULL, 1)              \
	     ? nsp_real.fn                                                                         \
	     : (__atomic_store_n(&nsp_real.fn, (__typeof__(nsp_real.fn))nsp_dlsym(#fn),            \
				 __ATOMIC_RELAXED),                                                \
		nsp_real.fn))

/*
 * Non-zero while this thread runs nstack or libpcap code (start-up, the
 * stack thread's device calls, hooks): every interposed call then goes
 * straight to libc, since libpcap itself opens sockets.
 */
extern __thread int nsp_inside __attribute__((tls_model("initial-exec")));

/* One private socket, shared by every fd number dup()ed from it. */
struct nsp_file {
	struct socket *sock;
	struct nstack *ns;
	/*
	 * A live fd of this file (an eventfd) the readiness hook signals;
	 * changed only with the stack lock held.
	 */
	int evfd;
	atomic_int refs;	   /* fd numbers + calls in progress */
	atomic_int nfds;	   /* fd numbers mapped to it (fdtable) */
	atomic_int watchers;	   /* epoll registrations: signal every change */
	pthread_mutex_t wait_lock; /* guards opts */
	/* What a handover to the kernel needs to rebuild the socket there. */
	int type, protocol;
	bool bound; /* the program called bind() */
	struct sockaddr_storage bound_addr;
	socklen_t bound_len;
	struct nsp_sockopt *opts; /* setsockopt() calls that succeeded, last value each */
	int nopts;
};

struct nsp_sockopt {
	int level, name;
	socklen_t len;
	unsigned char val[64];
};

/* The handover policy (NSTACK_HANDOVER, NSTACK_BYPASS), set at start-up. */
#define NSP_MAX_BYPASS 16
struct nsp_policy {
	bool handover_loopback;
	int nbypass;
	uint32_t bypass_net[NSP_MAX_BYPASS], bypass_mask[NSP_MAX_BYPASS]; /* network order */
	int nbypass6;
	struct in6_addr bypass6_net[NSP_MAX_BYPASS];
	unsigned int bypass6_plen[NSP_MAX_BYPASS];
	bool ipv6; /* the stack carries IPv6: IPv6 sockets are nstack's */
};
extern struct nsp_policy nsp_policy;

/* fd table (fdtable.c). */
/* The file behind fd with a reference taken, or NULL when fd is not ours. */
struct nsp_file *fdt_get(int fd);
/* Drops a reference from fdt_get(); the last one closes the socket. */
void fdt_put(struct nsp_file *f);
/* Cheap check, no reference: may race with close, use only as a hint. */
bool fdt_maybe_private(int fd);
/* Maps fd to f (taking a reference for the fd). 0 or -errno. */
int fdt_install(int fd, struct nsp_file *f, bool cloexec);
/* Unmaps fd; returns the file (the fd's reference moves to the caller). */
struct nsp_file *fdt_remove(int fd);
bool fdt_get_cloexec(int fd);
void fdt_set_cloexec(int fd, bool on);
/* Another fd number that maps to f, or -1. */
int fdt_find_other(struct nsp_file *f, int not_fd);
/* The first private fd >= from, or -1. */
int fdt_next_private(int from);
/* Number of fd slots the table can hold. */
int fdt_capacity(void);

/* The stack (start.c). */
/* Starts the stack on first use; 0 with *res, or -errno (message printed once). */
int nsp_stack(struct nstack **res);
/* Applies TCP sysctls changed since the last read to sockets created from now on. */
void nsp_sysctl_refresh(struct nstack *ns);
extern atomic_bool nsp_bindv6only;
/*
 * True in a child made without our fork() (vfork, clone, posix_spawn,
 * daemon(3)): it shares nothing with the stack, so its private fds are dead.
 */
extern bool nsp_forked;
/* The stack if it runs in this process already (no start), else NULL. */
struct nstack *nsp_stack_running(void);
/* Makes a file for sock with a fresh eventfd; returns the fd or -errno. */
int nsp_file_create(struct nstack *ns, struct socket *sock, bool cloexec, int type, int protocol);
/* After exec: fd (inherited) is sock's again; 0 or -errno. */
int nsp_file_adopt(struct nstack *ns, struct socket *sock, int fd);
/* Closes the socket of a file nobody references any more and frees it. */
void nsp_file_release(struct nsp_file *f);
/* Frees a file whose socket the caller closed (nstack_close_locked). */
void nsp_file_free(struct nsp_file *f);
/* Writes one line "nstack: ..." to stderr. */
void nsp_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same, only at NSTACK_LOG=info or debug. */
void nsp_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
bool nsp_explain(void);

/* fdtable.c: fork() support (see fork.c). */
void fdt_fork_lock(void);
void fdt_fork_unlock(void);
void fdt_fork_child(void);

/* fork.c: sharing the stack with children. */
/* This process's doorbell (stack mail from other processes); 0 or -errno. */
int nsp_doorbell_open(struct nstack *ns);
/* nstack_hooks: ring, wake_token, wake_all. */
void nsp_hook_ring(void *ctx, int slot, uint64_t id);
void nsp_hook_wake_token(void *ctx, void *token);
void nsp_hook_wake_all(void *ctx);
/* start.c: the child's device and bookkeeping after fork(). */
void nsp_start_fork_child(struct nstack *ns);
void nsp_fork_init(void);

/* sandbox.c: threads under a seccomp filter send through the stack thread. */
extern __thread int nsp_sandboxed __attribute__((tls_model("initial-exec")));
struct netdev_gso;
int nsp_defer_xmit(struct nstack *ns, const struct iovec *iov, int iovcnt,
		   const struct netdev_gso *gso);
void nsp_defer_ring(struct nstack *ns, int slot, uint64_t id);
void nsp_hook_thread_tick(void *ctx, struct nstack *ns);

/* keeper.c and start.c: the process that outlives the program's. */
void nsp_keeper_spawn(void);
extern bool nsp_is_keeper;
bool nsp_forget_stack_file(struct nstack *ns);
unsigned int nsp_exit_linger_ms(void);

/* wait.c */
void nsp_wake_remote(void *token);
void nsp_wake_all_tokens(void);
void nsp_wait_fork_child(void);

/* epoll.c: drops epoll state for fd (f: the private file it was, or NULL). */
void nsp_epoll_close(int fd, struct nsp_file *f);
/* In a fork() child: the sets' locks afresh, and their files' references counted. */
void nsp_epoll_fork_child(void);
/*
 * Readiness hook (stack lock held): true if the waiter running the hook
 * takes f's event itself (ep_wait's direct section), so no signal is needed.
 */
bool nsp_epoll_catch(struct nsp_file *f);
/* start.c: signals f's eventfd for its pollers and epoll sets; stack lock held. */
void nsp_file_signal(struct nsp_file *f);

/* Private sockets of the parent are unusable in a fork child (for now). */
int nsp_forked_ebadf(struct nsp_file *f);

/*
 * Looks fd up; when it is not private, returns `passthru` (the libc call).
 * Otherwise leaves a referenced `f` for the body, which must fdt_put() it.
 */
#define LOOKUP_OR(fd, passthru)                                                                    \
	struct nsp_file *f;                                                                        \
	if (nsp_inside || !(f = fdt_get(fd)))                                                      \
		return passthru;                                                                   \
	if (nsp_forked)                                                                            \
	return nsp_forked_ebadf(f)

/*
 * start.c: answers SIOCGIF{ADDR,NETMASK,BRDADDR,HWADDR,MTU,FLAGS} for
 * nstack's own interface from nstack's view (the kernel's view of it has no
 * IPv4 address); 0, or -ENOTTY when the query is not for it.
 */
int nsp_ifreq_answer(unsigned long cmd, void *arg);

/* handover.c */
/* True when a socket sending to / binding to sa must become a kernel socket. */
bool nsp_wants_kernel(const struct sockaddr *sa, socklen_t len, bool to_bind, int type,
		      int protocol);
/*
 * Whether nstack carries IPv6 proper for sockets of this type and protocol:
 * TCP, UDP, ICMPv6 ping and raw sockets of any protocol.
 */
static inline bool nsp_ipv6_served(int type, int protocol)
{
	type &= 0xf;
	return nsp_policy.ipv6 &&
	       ((type == SOCK_STREAM && (protocol == 0 || protocol == IPPROTO_TCP)) ||
		(type == SOCK_DGRAM &&
		 (protocol == 0 || protocol == IPPROTO_UDP || protocol == IPPROTO_ICMPV6)) ||
		type == SOCK_RAW);
}
/*
 * Turns private fd (file f, referenced by the caller) into a kernel socket
 * with the same number, options, binding and epoll registrations. 0 or -errno.
 */
int nsp_handover(int fd, struct nsp_file *f, const struct sockaddr *why);
/* Remembers a successful setsockopt() for a later handover. */
void nsp_record_sockopt(struct nsp_file *f, int level, int name, const void *val, socklen_t len);
/* epoll.c: takes fd's registrations out of every set before a handover. */
struct nsp_epoll_saved {
	int epfd;
	struct epoll_event ev;
};
int nsp_epoll_detach(int fd, struct nsp_file *f, struct nsp_epoll_saved *out, int max);

/* poll.c */
int nsp_ppoll(struct pollfd *fds, nfds_t nfds, const struct timespec *timeout,
	      const sigset_t *sigmask, bool use_ppoll);

/* wait.c: per-thread wait tokens, the stack's sleep/wake ops, signals. */
/*
 * fds nstack keeps for itself (thread wait tokens): the program's close()
 * gets EBADF for them (it never opened them) and close_range() skips them.
 */
bool nsp_is_internal_fd(int fd);
/* Orders the stack's opening of its fds against the program's close()s. */
void nsp_own_lock(void);
void nsp_own_unlock(void);
int nsp_own_fd_high(int fd);
/* Registers / unregisters another fd nstack keeps for itself (pcap, pipes). */
void nsp_internal_fd_add(int fd);
void nsp_internal_fd_del(int fd);
/* Moves our fd out of the way of the program's dup2()/dup3() onto fd. */
void nsp_internal_fd_evict(int fd);
/* A token whose fd reported POLLNVAL: made again on the next use. */
void nsp_token_lost(void *token);
/* The first internal fd in [from, to], or -1. */
int nsp_next_internal_fd(int from, int to);
/* Installs the sleep/wake operations on ns once (idempotent, cheap). */
void nsp_wait_attach(struct nstack *ns);
/* This thread's token (NULL if no eventfd could be made) and its eventfd. */
void *nsp_thread_token(void);
int nsp_thread_efd(void);
void nsp_token_drain(void *token);
/*
 * After a private call returned -EINTR: whether Linux would have restarted
 * it (-ERESTARTSYS: SA_RESTART handler, no socket timeout). Clears the note.
 */
bool nsp_take_restart(void);
int nsp_real_sigaction(int sig, const struct sigaction *act, struct sigaction *old);

/*
 * Brackets an interposed call: a signal handled on this thread after
 * nsp_call_begin() makes the call's next sleep fail with EINTR at once.
 */
void nsp_call_begin(void);
void nsp_call_end(void);
/* Signals blocked between the last check and a sleep (see wait.c). */
struct nsp_sleep_mask {
	sigset_t old; /* the thread's mask: what the sleep runs with */
	bool blocked; /* nsp_sleep_begin blocked signals (not the call's first sleep) */
};
/*
 * Before the nth sleep of a call (1: the first; 0: outside a call), with
 * program the mask the program gave ppoll/epoll_pwait or NULL: returns the
 * mask the sleep passes to the kernel. nsp_sleep_end() after it.
 */
const sigset_t *nsp_sleep_begin(struct nsp_sleep_mask *m, int nth, const sigset_t *program);
void nsp_sleep_end(const struct nsp_sleep_mask *m);
/* Handler count of this thread, and whether one ran since a mark. */
long nsp_signal_mark(void);
bool nsp_signal_since(long mark);

/* Runs a blocking private call, again when a signal interrupted it and Linux restarts. */
#define NSP_RESTARTING(ns, expr)                                                                   \
	({                                                                                         \
		__typeof__(expr) __r;                                                              \
		nsp_wait_attach(ns);                                                               \
		do {                                                                               \
			nsp_call_begin();                                                          \
			__r = (expr);                                                              \
			nsp_call_end();                                                            \
		} while (__r == -EINTR && nsp_take_restart());                                     \
		__r;                                                                               \
	})

static inline long nsp_ret(long r)
{
	extern int *__errno_location(void);

	if (r < 0) {
		*__errno_location() = (int)-r;
		return -1;
	}
	return r;
}

#endif
