/*
 * The stack object: everything one private TCP/IP stack owns. Module state
 * hangs off it (each module defines its own struct), so tests can build as
 * many independent stacks as they like.
 */
#ifndef NSTACK_STACK_H
#define NSTACK_STACK_H

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "arena.h"
#include "inet.h"
#include "mib.h"
#include "netdevice.h"
#include "nsref.h"
#include "shared.h"
#include "nstack.h"
#include "skbuff.h"
#include "timer.h"

struct arp_table;
struct ipv4_state;
struct icmp_state;
struct udp_table;
struct ping_table;
struct raw_table;
struct tcp_state;
struct ipv6_state;
struct nstack_filemap;
struct ns_procs;

/*
 * Per-process state of a stack: what a process has of its own even when the
 * stack is shared (arena.h): the embedder's clock, hooks and sleep
 * operations (function pointers into this process's image), its device
 * handle, its stack thread. It lives in the private page(s) before the
 * arena, found from any shared pointer with ns_local(). A fork child
 * inherits a copy, which nstack_after_fork_child() repairs.
 */
struct nstack_local {
	struct nstack_env env;		 /* [P] */
	struct nstack_hooks hooks;	 /* [P] */
	struct nstack_wait_ops wait_ops; /* [P] nstack_set_wait_ops(); token NULL = condvar */
	struct net_device *dev;		 /* [P] this process's handle on the link */
	int slot; /* [P] this process's entry in the process table, -1 none */
	/* The stack thread. */
	pthread_t thread;
	bool thread_running;
	bool thread_stop;     /* atomic: stop_thread sets it without the lock */
	int wake_fd;	      /* eventfd that interrupts the thread's wait */
	uint64_t clock_batch; /* ns_now_batch(): the time the batch began, 0 none */
	/* Direct receive (ns_rx_direct_begin). */
	bool rx_direct;		 /* a program thread sleeps on the device now */
	uint64_t rx_lease_until; /* the device is the program threads' until then (ns_now) */
	bool thread_untimed;	 /* the stack thread sleeps without device and lease deadline */
	uint64_t rx_lost_at;	 /* when EthInRingDrops last took the backend's count (ns_now) */
	uint64_t rx_lost;	 /* that count */
	uint64_t move_check_at;	 /* when the driver last looked for a process to move to */
	/* The device being opened to move the driver here (stack.c, move_open). */
	int move_state;
	pthread_t move_thread;
	struct net_device *move_dev;
	int move_err;
	bool move_tx;	     /* what is being opened only sends (move_shrink) */
	bool shrink_pending; /* no longer the driver: its capture ring is to go */
	/* Direct mail (nstack_mail_direct_begin), as rx_direct for the doorbell. */
	bool mail_direct;
	uint64_t mail_lease_until;
	bool mail_untimed;
	/* socket -> embedder's per-process handle (nstack_sock_set_file) */
	struct nstack_filemap *files;
	struct ns_arena_map map; /* how this process maps the arena */
	bool owns_map;		 /* nstack_destroy unmaps (anonymous arenas) */
	int map_fd;		 /* the arena file, -1 when not kept */
	bool no_drive;		 /* [P] leaving: never take the link (nstack_hand_over) */
	/* Receive spread over processes (fanout.c). */
	bool rx_member;	      /* [P] this process's device is a ring in the stack's group */
	bool move_fan;	      /* [P] the device being opened (move_state) is to join it */
	bool fan_steer_told;  /* [P] a failure to set it was logged */
	bool fork_ring;	      /* [P] a fork child's device is its parent's ring: to forget */
	bool fan_exec_ring;   /* [P] out of the group's table for an exec that may fail */
	uint64_t epoll_last;  /* [P] when a thread of ours last called epoll_wait (ns_now) */
	uint64_t fan_join_at; /* [P] when fan_step looks again whether to open a ring, 0: not */
	bool take_over_told;  /* [P] a failed take-over was logged at error level */
	int epfd;	      /* the stack thread's epoll, when poll() is not allowed enough fds */
	int doorbell_fd;      /* readable when another process posted to our mailbox, -1 */
	/* pidfds of the processes this one watches (all others when driving). */
	int pidfd[NS_MAX_PROCS];
	int32_t pidfd_pid[NS_MAX_PROCS];
};

/*
 * What one protocol's sockets hold in receive buffers, across the stack
 * (Linux's tcp_memory_allocated, tcp_sockets_allocated, tcp_memory_pressure),
 * checked against tcp_mem or udp_mem by sk_rmem_schedule().
 */
struct proto_mem {
	uint64_t allocated; /* [S] truesize bytes charged by skb_set_owner_r() */
	uint32_t sockets;   /* [S] open sockets of the protocol */
	bool pressure;	    /* [S] entered above the pressure mark, left below min */
};

struct nstack {
	pthread_mutex_t
	    lock; /* [S] the stack lock: process-shared, robust, held for short sections */
	struct ns_arena *arena;	   /* [I] where every object of this stack comes from */
	struct nstack_config cfg;  /* [I] but cfg.tcp: [S] (nstack_set_tcp_config) */
	uint32_t netmask;	   /* [I] from cfg.prefixlen, network order */
	struct timer_wheel timers; /* [S] */
	struct nstack_mib mib;	   /* [S] */

	/* Registries, as Linux's globals but per stack; entries are nsref_t (nsref.h). [S] */
	nsref_t ptypes[NSTACK_MAX_PTYPES];		   /* const struct packet_type * */
	nsref_t families[AF_MAX];			   /* const struct net_proto_family * */
	nsref_t inetsw[NSTACK_SOCK_MAX][INETSW_PER_TYPE];  /* const struct inet_protosw * */
	nsref_t inetsw6[NSTACK_SOCK_MAX][INETSW_PER_TYPE]; /* AF_INET6's (af_inet6.c) */
	nsref_t inet_protos[256];			   /* const struct inet_protocol * */

	/* Module state. [S] */
	struct arp_table *arp;
	struct ipv4_state *ip;
	struct icmp_state *icmp;
	struct udp_table *udp;
	struct ping_table *ping;
	struct raw_table *raw;
	struct tcp_state *tcp;
	struct ipv6_state *ip6;

	/* Packets looped back to ourselves, handled in the next RX round. [S] */
	struct sk_buff_head backlog;

	struct proto_mem tcp_mem; /* [S] */
	struct proto_mem udp_mem; /* [S] */

	uint64_t thread_sleep_until; /* [S] the deadline the driving thread sleeps towards */
	bool link_gone;		     /* [S] the interface was deleted (nstack_link_gone) */

	/* Processes sharing the stack (shared.c). */
	struct ns_procs *procs;
	LIST_HEAD(, socket) sockets; /* [S] every struct socket, for reaping */

	/* skbuff.c's free lists of skb headers and data areas. [S] */
	void *skb_cache;
	void *skb_data_cache;
	unsigned int skb_cache_n;
	unsigned int skb_data_cache_n;

	/* Live objects, for leak checks. [S] */
	long skb_live;
	long sock_live;
	long socket_live;
};

static inline struct nstack_local *ns_local(const struct nstack *ns)
{
	return (struct nstack_local *)((char *)ns->arena - NS_LOCAL_SIZE);
}

/* True when this process drives the link: it receives frames and runs the timers. */
static inline bool ns_is_driver(const struct nstack *ns)
{
	return !ns->procs || ns->procs->driver == ns_local(ns)->slot;
}

/* True when this process's device receives frames (the driver's, or a ring in the group). */
static inline bool ns_receives(const struct nstack *ns)
{
	return ns_is_driver(ns) || ns_local(ns)->rx_member;
}

/* Whether a thread of this process called epoll_wait lately (nstack_epoll_waits). */
bool ns_epoll_active(const struct nstack *ns);

/* Direct receive around a blocking call's sleep (stack.c). */
int ns_rx_direct_begin(struct nstack *ns);
void ns_proc_waits(struct nstack *ns);
/* The driver leaves: a move to another process (true), or every process asked (ns_ask_take_over).
 */
bool ns_move_for_exit(struct nstack *ns);
bool ns_ask_take_over(struct nstack *ns);
bool ns_fan_hand_over(struct nstack *ns);
void ns_rx_direct_end(struct nstack *ns, bool woken);
bool ns_rx_direct_spin(struct nstack *ns, int fd);
bool ns_rx_lease_catch_up(struct nstack *ns);

/* Takes the stack lock; a holder that died is reported and its state taken as it is. */
void ns_lock_recovered(struct nstack *ns);

/*
 * A process died holding the stack lock (ns_lock_recovered), so a count it
 * was updating may disagree with what it counts by the step it left undone:
 * checks that would stop every process for such a count repair it instead
 * (StackRepairs) once this is true, and still stop a stack nobody died in.
 */
static inline bool ns_died_inside(const struct nstack *ns)
{
	return ns && ns->mib.StackDeathsInside;
}

/* A count found short is repaired by the caller: only after a death inside. */
#define NS_REPAIRING(ns)                                                                           \
	do {                                                                                       \
		assert(ns_died_inside(ns));                                                        \
		NS_INC_STATS((ns), StackRepairs);                                                  \
	} while (0)

/*
 * Tries of a held stack lock before sleeping on it (ns_lock), ~0.1 us each
 * (a pause and a trylock): about a context switch's worth. 300 (~30 us) had
 * the stack thread spin a quarter of its time behind nginx's workers on two
 * cores, taking the core from the holder: nginx with Connection: close made
 * 16.7k connections/s against 18.4k with 50 (A/B, in turn), bulk send equal.
 * -DNS_LOCK_SPINS=N builds another count for such measurements.
 */
#ifndef NS_LOCK_SPINS
#define NS_LOCK_SPINS 50
#endif

static inline void ns_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/*
 * The stack lock is held for microseconds at a time, mostly by a thread
 * running on another core: a few microseconds of trying before sleeping
 * saves the futex sleep and wake-up (a syscall on each side, and on a VM
 * whose idle vCPU halts, tens of microseconds to wake). An nginx worker
 * made 5 futex calls per keep-alive request; with 300 tries, nginx with
 * two workers served 29.5-31.6k requests/s instead of 25.7-27.4k. Much
 * longer spinning (5000) took CPU from bulk receive on two cores.
 */
static inline void ns_lock(struct nstack *ns)
{
	int rc = pthread_mutex_trylock(&ns->lock);

	for (int i = 0; rc == EBUSY && i < NS_LOCK_SPINS; i++) {
		ns_cpu_relax();
		rc = pthread_mutex_trylock(&ns->lock);
	}
	if (rc == EBUSY)
		rc = pthread_mutex_lock(&ns->lock);
	if (__builtin_expect(rc == EOWNERDEAD, 0))
		ns_lock_recovered(ns);
}

/*
 * Releases the stack lock after sending what the section held; on a device
 * that can (dev_xmit_release_defer), after releasing it.
 */
void ns_unlock(struct nstack *ns);

static inline struct net_device *ns_dev(const struct nstack *ns)
{
	return ns_local(ns)->dev;
}

static inline uint64_t ns_now(const struct nstack *ns)
{
	return ns_local(ns)->env.now_us(ns_local(ns)->env.ctx);
}

/*
 * The stack clock for stamps taken per packet (a frame's arrival, a sent
 * segment's or packet's stamp, a neighbour's last use): inside a batch (one
 * poll of the link, one burst of TCP output) the time the batch began, as
 * Linux stamps a burst with one tcp_mstamp. Reading the clock costs tens of
 * nanoseconds on a VM: in bulk send it was a tenth of the stack thread's
 * time, twice per segment. Whatever waits for time to pass or measures inside a
 * batch reads ns_now().
 */
static inline uint64_t ns_now_batch(const struct nstack *ns)
{
	uint64_t t = ns_local(ns)->clock_batch;

	return t ? t : ns_now(ns);
}

/* Starts a batch (lock held); returns what ns_clock_batch_end() restores (an outer batch). */
static inline uint64_t ns_clock_batch_begin(struct nstack *ns)
{
	struct nstack_local *l = ns_local(ns);
	uint64_t outer = l->clock_batch;

	if (!outer)
		l->clock_batch = ns_now(ns);
	return outer;
}

static inline void ns_clock_batch_end(struct nstack *ns, uint64_t outer)
{
	ns_local(ns)->clock_batch = outer;
}

static inline uint32_t ns_random32(const struct nstack *ns)
{
	return ns_local(ns)->env.random32(ns_local(ns)->env.ctx);
}

/* The stack's allocator: zeroed memory; the only place stack state comes from. */
void *ns_zalloc(struct nstack *ns, size_t size);
void ns_free(struct nstack *ns, void *p);

void nstack_log(const struct nstack *ns, enum nstack_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/*
 * The interface was deleted (the device's poll said -ENODEV): connections
 * end with ENETDOWN, other sockets get it as an error, routes off the stack
 * fail with ENETDOWN from now on; said once in the log.
 */
void nstack_link_gone(struct nstack *ns);

#define ns_err(ns, ...)	 nstack_log((ns), NSTACK_LOG_ERROR, __VA_ARGS__)
#define ns_warn(ns, ...) nstack_log((ns), NSTACK_LOG_WARN, __VA_ARGS__)
#define ns_info(ns, ...) nstack_log((ns), NSTACK_LOG_INFO, __VA_ARGS__)
#define ns_dbg(ns, ...)                                                                            \
	do {                                                                                       \
		if ((ns)->cfg.log_level >= NSTACK_LOG_DEBUG)                                       \
			nstack_log((ns), NSTACK_LOG_DEBUG, __VA_ARGS__);                           \
	} while (0)

/* fds the stack opens for itself (eventfd, pidfds), reported to the embedder. */
void ns_own_fd(struct nstack *ns, int fd);
int ns_open_own(struct nstack *ns, int (*open)(void *arg), void *arg);
void ns_close_own(struct nstack *ns, int fd);

/* Frees this process's socket -> file map (socket.c). */
void nstack_filemap_free(struct nstack *ns);

/* Tells the stack thread to recompute its sleep (a timer moved earlier). */
void nstack_kick(struct nstack *ns);
/*
 * Queues skb (skb->data at its Ethernet header) for input in the next RX
 * round: loopback to our own address, without recursion.
 */
void netif_rx(struct sk_buff *skb);

static inline void sk_assert_locked(struct nstack *ns)
{
	(void)ns; /* Documentation only: pthread has no portable "owned" query. */
}

#endif
