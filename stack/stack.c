/*
 * The stack object: creation and teardown of the modules in order, the
 * stack thread (the "softirq": RX batches and timers), the lock, logging,
 * the allocator and the counters.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bsd/stdlib.h>

#include "arp.h"
#include "icmp.h"
#include "inet.h"
#include "ip.h"
#include "ipv6.h"
#include "sock.h"
#include "stack.h"
#include "tcp.h"
#include "thread.h"
#include "udp.h"

/* RX frames handled per round before timers get their turn. */
#define RX_BUDGET 64
#define RX_ROUNDS 8

struct nstack_module {
	const char *name;
	int (*init)(struct nstack *ns);
	void (*exit)(struct nstack *ns);
};

/* Bottom to top; torn down in reverse. */
static const struct nstack_module modules[] = {
    {"arp", arp_init, arp_exit},	  {"ip", ip_init, ip_exit},
    {"ipfrag", ipfrag_init, ipfrag_exit}, {"icmp", icmp_init, icmp_exit},
    {"inet", inet_init, inet_exit},	  {"tcp", tcp_init, tcp_exit},
    {"inet6", inet6_init, inet6_exit},	  {"ipv6", ipv6_init, ipv6_exit},
    {"tcpv6", tcp_v6_init, tcp_v6_exit},  {"udpv6", udpv6_init, udpv6_exit},
};

#define NMODULES (sizeof(modules) / sizeof(modules[0]))

static uint64_t default_now_us(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/*
 * Random words drawn a buffer at a time: libbsd's arc4random() makes a
 * getpid() system call on every call to notice a fork, two per accepted
 * connection (ISN and SYN-ACK). A fork child must not reuse its parent's
 * words (the same ISNs and ports in both), so the buffer is emptied in the
 * child of every fork.
 */
#define RANDOM_WORDS 64
static __thread uint32_t random_buf[RANDOM_WORDS];
static __thread unsigned int random_left;
static pthread_once_t random_once = PTHREAD_ONCE_INIT;

static void random_forget(void)
{
	random_left = 0; /* the forking thread is the child's only one */
}

static void random_init(void)
{
	pthread_atfork(NULL, NULL, random_forget);
}

static uint32_t default_random32(void *ctx)
{
	(void)ctx;
	if (!random_left) {
		pthread_once(&random_once, random_init);
		arc4random_buf(random_buf, sizeof(random_buf));
		random_left = RANDOM_WORDS;
	}
	return random_buf[--random_left];
}

const struct nstack_env nstack_env_default = {
    .now_us = default_now_us,
    .random32 = default_random32,
    .ctx = NULL,
};

/* Fills cfg with nstack's documented defaults (198.18.0.2/24 via 198.18.0.1 on nstack0). */
void nstack_config_defaults(struct nstack_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	strcpy(cfg->ifname, "nstack0");
	cfg->addr = htonl(0xc6120002); /* 198.18.0.2 */
	cfg->prefixlen = 24;
	cfg->gateway = htonl(0xc6120001); /* 198.18.0.1 */
	cfg->gratuitous_arp = true;
	cfg->log_level = NSTACK_LOG_WARN;
	cfg->rx_direct = true;
	cfg->move_driver = true;
	cfg->rx_fanout = true;
	tcp_config_defaults(&cfg->tcp);
}

/* Zeroed memory for stack state, from the arena; NULL when it is full. */
void *ns_zalloc(struct nstack *ns, size_t size)
{
	void *p = ns_arena_alloc(ns->arena, size);

	if (p)
		memset(p, 0, size);
	return p;
}

/* Frees memory from ns_zalloc (NULL is fine). */
void ns_free(struct nstack *ns, void *p)
{
	ns_arena_free(ns->arena, p);
}

/*
 * A process died holding the stack lock. Its section was cut short; the
 * stack's sections are short and mostly leave lists consistent between
 * statements, so the state is taken as it is (with one line in the log)
 * rather than leaving every other process deadlocked.
 */
void ns_lock_recovered(struct nstack *ns)
{
	pthread_mutex_consistent(&ns->lock);
	NS_INC_STATS(ns, StackDeathsInside);
	ns_warn(ns, "a process died inside the stack; continuing with the state it left");
}

static const char *const level_names[] = {"error", "warn", "info", "debug"};

/* Formats one log line and hands it to the embedder's hook or stderr. */
void nstack_log(const struct nstack *ns, enum nstack_log_level level, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (level > ns->cfg.log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (ns_local(ns)->hooks.log)
		ns_local(ns)->hooks.log(ns_local(ns)->hooks.ctx, level, line);
	else
		fprintf(stderr, "nstack: %s: %s\n", level_names[level], line);
}

/* Default arena size for stacks created without one (tests, embedders). */
#define NS_ARENA_DEFAULT (256u << 20)

static void local_init(struct nstack_local *l)
{
	memset(l, 0, sizeof(*l));
	l->slot = -1;
	l->wake_fd = -1;
	l->doorbell_fd = -1;
	l->map_fd = -1;
	l->epfd = -1;
	for (int i = 0; i < NS_MAX_PROCS; i++)
		l->pidfd[i] = -1;
}

/* Builds a stack on dev in a fresh arena; see nstack.h. */
int nstack_create(const struct nstack_config *cfg, struct net_device *dev,
		  const struct nstack_env *env, const struct nstack_hooks *hooks,
		  struct nstack **res)
{
	struct ns_arena_map map;
	int fd, err;

	if (!cfg || !dev || cfg->prefixlen > 32 || cfg->addr == 0)
		return -EINVAL;
	fd = memfd_create("nstack", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = ns_arena_create(fd, cfg->arena_size ? cfg->arena_size : NS_ARENA_DEFAULT, NULL, &map);
	close(fd);
	if (err)
		return err;
	err = nstack_create_in(&map, cfg, dev, env, hooks, res);
	if (err) {
		ns_arena_unmap(&map);
		return err;
	}
	ns_local(*res)->owns_map = true;
	return 0;
}

/* Builds a stack in an arena the caller mapped (ns_arena_create); see nstack.h. */
int nstack_create_in(const struct ns_arena_map *map, const struct nstack_config *cfg,
		     struct net_device *dev, const struct nstack_env *env,
		     const struct nstack_hooks *hooks, struct nstack **res)
{
	struct nstack_local *l = map->base;
	struct nstack *ns;
	size_t up = 0;
	int err;

	if (!cfg || !dev || cfg->prefixlen > 32 || cfg->addr == 0)
		return -EINVAL;
	local_init(l);
	l->map = *map;
	ns = ns_arena_alloc(map->arena, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	memset(ns, 0, sizeof(*ns));
	ns->arena = map->arena;
	err = ns_mutex_init_robust(&ns->lock);
	if (err)
		goto out_free;
	ns->cfg = *cfg;
	ns->netmask = cfg->prefixlen ? htonl(~0u << (32 - cfg->prefixlen)) : 0;
	l->env = env ? *env : nstack_env_default;
	if (hooks)
		l->hooks = *hooks;
	l->dev = dev;
	dev->ns = ns;
	if (cfg->mtu)
		dev->mtu = cfg->mtu;
	if (dev->mtu < 68)
		dev->mtu = ETH_DATA_LEN;
	memset(dev->broadcast, 0xff, ETH_ALEN);
	ns->thread_sleep_until = UINT64_MAX;
	LIST_INIT(&ns->sockets);
	skb_queue_head_init(&ns->backlog);
	timer_wheel_init(&ns->timers, ns_now(ns));

	ns_lock(ns);
	err = ns_procs_init(ns);
	if (!err && cfg->rx_fanout && dev->ops->rx_join) {
		int ferr = ns_fan_enter(ns, dev);

		/* Without a group every process but the driver only sends (stack.c). */
		if (ferr)
			ns_info(ns, "the link's frames go to one process: %s", strerror(-ferr));
	}
	for (up = 0; !err && up < NMODULES; up++) {
		err = modules[up].init(ns);
		if (err) {
			ns_err(ns, "cannot initialise %s: %s", modules[up].name, strerror(-err));
			break;
		}
	}
	if (!err && cfg->gratuitous_arp)
		arp_send_gratuitous(ns);
	ns_unlock(ns);
	if (err)
		goto out_modules;
	map->arena->root = ns;
	*res = ns;
	return 0;

out_modules:
	ns_lock(ns);
	while (up-- > 0)
		modules[up].exit(ns);
	skb_queue_purge(&ns->backlog);
	skb_cache_purge(ns);
	if (ns->procs)
		ns_procs_exit(ns);
	pthread_mutex_unlock(&ns->lock);
	pthread_mutex_destroy(&ns->lock);
out_free:
	ns_arena_free(map->arena, ns);
	return err;
}

/* Joins a running stack from an arena this process mapped; see nstack.h. */
int nstack_attach(const struct ns_arena_map *map, struct net_device *dev,
		  const struct nstack_env *env, const struct nstack_hooks *hooks, bool *after_exec,
		  struct nstack **res)
{
	struct nstack_local *l = map->base;
	struct nstack *ns = map->arena->root;
	int32_t pid = getpid();
	int slot = -1;

	if (!ns || ns->arena != map->arena || !dev)
		return -EINVAL;
	local_init(l);
	l->map = *map;
	l->env = env ? *env : nstack_env_default;
	if (hooks)
		l->hooks = *hooks;
	l->dev = dev;
	dev->ns = ns;
	if (ns->cfg.mtu)
		dev->mtu = ns->cfg.mtu;
	if (dev->mtu < 68)
		dev->mtu = ETH_DATA_LEN;
	memset(dev->broadcast, 0xff, ETH_ALEN);
	*after_exec = false;
	ns_lock(ns);
	/* An exec'd image takes its old slot back (same pid, exec under way). */
	for (int i = 0; i < NS_MAX_PROCS && slot < 0; i++) {
		struct ns_proc *p = &ns->procs->p[i];

		if (p->state == NS_PROC_LIVE && p->pid == pid && p->exec_pending) {
			slot = i;
			*after_exec = true;
		}
	}
	for (int i = 0; i < NS_MAX_PROCS && slot < 0; i++) {
		if (ns->procs->p[i].state == NS_PROC_FREE) {
			slot = i;
			ns->procs->p[i] = (struct ns_proc){.pid = pid, .state = NS_PROC_LIVE};
			ns->procs->gen++;
		}
	}
	l->slot = slot;
	pthread_mutex_unlock(&ns->lock);
	if (slot < 0)
		return -EMFILE;
	*res = ns;
	return 0;
}

static void stop_thread(struct nstack *ns)
{
	uint64_t one = 1;

	if (!ns_local(ns)->thread_running)
		return;
	__atomic_store_n(&ns_local(ns)->thread_stop, true, __ATOMIC_RELEASE);
	if (write(ns_local(ns)->wake_fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: already signalled. */
	}
	pthread_join(ns_local(ns)->thread, NULL);
	ns_local(ns)->thread_running = false;
	ns_close_own(ns, ns_local(ns)->wake_fd);
	ns_local(ns)->wake_fd = -1;
}

/* See nstack.h. */
void nstack_exec_prepare(struct nstack *ns)
{
	struct nstack_local *l = ns_local(ns);

	stop_thread(ns);
	ns_lock(ns);
	/*
	 * Its ring closes with the exec (close-on-exec): the driver's part goes
	 * to another ring first if there is one, then its share (a driver
	 * nobody took over from keeps its frames to the last), and the table
	 * loses it as the kernel's group will.
	 */
	if (ns->procs->fan_arg && l->rx_member) {
		if (ns_is_driver(ns))
			ns_fan_hand_over(ns);
		if (!ns_is_driver(ns)) {
			nstack_unlock(ns);
			nstack_fan_leave(ns);
			ns_lock(ns);
		}
		if (ns_fan_remove(ns, l->slot))
			ns_fan_kick(ns);
		l->rx_member = false;
		l->fan_exec_ring = true;
	}
	if (ns->procs->driver == l->slot) {
		ns_set_driver(ns->procs, -1);
		/* The others sleep on our pidfd, which an exec does not signal. */
		for (int i = 0; i < NS_MAX_PROCS; i++)
			if (i != l->slot && ns->procs->p[i].state == NS_PROC_LIVE)
				ns_mail_post(ns, i, NS_MAIL_KICK, 0);
	}
	nstack_unlock(ns);
}

/* See nstack.h. */
void nstack_exec_failed(struct nstack *ns)
{
	struct nstack_local *l = ns_local(ns);
	struct net_device *dev;

	/*
	 * Its ring, out of the table since nstack_exec_prepare, is still in the
	 * kernel's group: closed now, so that both lose it the same way.
	 */
	if (l->fan_exec_ring && l->hooks.open_tx_link &&
	    l->hooks.open_tx_link(l->hooks.ctx, &dev) == 0) {
		ns_lock(ns);
		l->hooks.install_link(l->hooks.ctx, ns, dev);
		nstack_unlock(ns);
	}
	l->fan_exec_ring = false;
	if (nstack_start(ns) != 0)
		ns_err(ns, "exec failed and the stack thread could not be restarted");
}

/* See nstack.h. */
void nstack_wake_thread(struct nstack *ns)
{
	uint64_t one = 1;

	if (ns_local(ns)->wake_fd >= 0 && write(ns_local(ns)->wake_fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: already signalled. */
	}
}

/* An fd the stack opened for itself: the embedder keeps the program off it. */
void ns_own_fd(struct nstack *ns, int fd)
{
	struct nstack_local *l = ns_local(ns);

	if (l->hooks.own_fd)
		l->hooks.own_fd(l->hooks.ctx, fd, true);
}

/* Opens an fd of the stack's own (see nstack_hooks.own_fd_open); -1 with errno on failure. */
int ns_open_own(struct nstack *ns, int (*open)(void *arg), void *arg)
{
	struct nstack_local *l = ns_local(ns);
	int fd;

	if (l->hooks.own_fd_open)
		return l->hooks.own_fd_open(l->hooks.ctx, open, arg);
	fd = open(arg);
	if (fd >= 0)
		ns_own_fd(ns, fd);
	return fd;
}

static int open_pidfd(void *arg)
{
	return (int)syscall(SYS_pidfd_open, (pid_t)(intptr_t)arg, 0);
}

static int open_eventfd(void *arg)
{
	(void)arg;
	return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

static int open_epoll(void *arg)
{
	(void)arg;
	return epoll_create1(EPOLL_CLOEXEC);
}

/* Closes an fd of the stack's own. */
void ns_close_own(struct nstack *ns, int fd)
{
	struct nstack_local *l = ns_local(ns);

	if (l->hooks.own_fd)
		l->hooks.own_fd(l->hooks.ctx, fd, false);
	close(fd);
}

/* Tears the stack down; see nstack.h. */
void nstack_destroy(struct nstack *ns)
{
	size_t i = NMODULES;
	struct nstack_local *l;

	if (!ns)
		return;
	l = ns_local(ns);
	stop_thread(ns);
	ns_lock(ns);
	if (l->dev)
		dev_tx_detach(l->dev);
	while (i-- > 0)
		modules[i].exit(ns);
	skb_queue_purge(&ns->backlog);
	skb_cache_purge(ns);
	ns_procs_exit(ns);
	pthread_mutex_unlock(&ns->lock);
	if (l->dev && l->dev->ops->close)
		l->dev->ops->close(l->dev);
	if (l->wake_fd >= 0)
		ns_close_own(ns, l->wake_fd);
	if (l->epfd >= 0)
		ns_close_own(ns, l->epfd);
	for (int p = 0; p < NS_MAX_PROCS; p++)
		if (l->pidfd[p] >= 0)
			ns_close_own(ns, l->pidfd[p]);
	nstack_filemap_free(ns);
	pthread_mutex_destroy(&ns->lock);
	ns_arena_free(ns->arena, ns);
	if (l->owns_map) {
		struct ns_arena_map map = l->map;

		ns_arena_unmap(&map);
	}
}

/* Wakes the stack thread so it re-reads its deadline and queues. */
void nstack_kick(struct nstack *ns)
{
	uint64_t one = 1;

	if (!ns_is_driver(ns)) {
		/* The thread that sleeps on the timers is another process's. */
		ns_mail_post(ns, ns->procs->driver, NS_MAIL_KICK, 0);
		return;
	}
	if (ns_local(ns)->wake_fd >= 0 && write(ns_local(ns)->wake_fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is already non-zero, the thread will wake. */
	}
}

/* One round of work with the lock held: RX batches, loopback, timers. */
static void process_locked_rx(struct nstack *ns, bool rx)
{
	struct sk_buff_head looped;
	struct sk_buff *skb;

	for (int round = 0; rx && round < RX_ROUNDS && !ns->link_gone; round++) {
		/* The round's frames are stamped from one reading (ns_now_batch). */
		uint64_t outer = ns_clock_batch_begin(ns);
		int n;

		dev_rx_batch_begin(ns_dev(ns));
		n = ns_dev(ns)->ops->poll(ns_dev(ns), RX_BUDGET);
		dev_rx_batch_end(ns_dev(ns));
		ns_clock_batch_end(ns, outer);
		if (n > 0 && ns->procs && ns_local(ns)->slot >= 0)
			ns->procs->p[ns_local(ns)->slot].rx_frames += (uint64_t)n;

		if (n == -ENODEV)
			nstack_link_gone(ns);
		if (n < RX_BUDGET)
			break;
	}
	/* Frames looped back now may loop more; those wait for the next round. */
	skb_queue_head_init(&looped);
	while ((skb = skb_dequeue(&ns->backlog)) != NULL)
		skb_queue_tail(&looped, skb);
	while ((skb = skb_dequeue(&looped)) != NULL)
		netif_receive_skb(skb);
	timers_run(ns);
}

/* How often the stack thread asks the backend what its receive ring lost (us). */
#define RX_LOST_EVERY_US 100000

/*
 * Folds the frames the backend's ring lost since the last look into
 * EthInRingDrops, at most every RX_LOST_EVERY_US (it costs a syscall).
 * Drops happen only while frames come, so a look after processing some
 * sees them soon enough.
 */
static void rx_lost_update(struct nstack *ns, uint64_t now)
{
	struct nstack_local *l = ns_local(ns);
	struct net_device *dev = l->dev;
	uint64_t lost;

	if (!dev->ops->rx_lost || now - l->rx_lost_at < RX_LOST_EVERY_US)
		return;
	l->rx_lost_at = now;
	lost = dev->ops->rx_lost(dev);
	if (lost > l->rx_lost)
		NS_ADD_STATS(ns, EthInRingDrops, lost - l->rx_lost);
	l->rx_lost = lost;
}

static void process_locked(struct nstack *ns)
{
	process_locked_rx(ns, true);
}

/* How long the device stays with the program threads after a direct receive (us). */
#define RX_LEASE_US 1000

/* Whether frames wait on the link's receive fd (a poll that does not block). */
static bool dev_rx_ready(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 0) > 0;
}

/* The device's receive fd when the stack thread can sleep on it, else -1. */
static int dev_rx_fd(struct nstack *ns)
{
	struct net_device *dev = ns_local(ns)->dev;
	int fd;

	/* A deleted interface's socket has nothing more to say. */
	if (!dev->ops->get_fd || ns->link_gone)
		return -1;
	fd = dev->ops->get_fd(dev);
	if (fd >= 0 && dev->ops->needs_polling && dev->ops->needs_polling(dev))
		return -1; /* down: polled until it is back or gone */
	return fd;
}

/* Waits apart by more than this start a new run (ns_proc_waits). */
#define WAIT_RUN_GAP_US 200000

/* Whether p's threads are in a run of waits (since p->wait_since). */
static bool wait_run_on(const struct ns_proc *p, uint64_t now)
{
	return p->wait_last && now - p->wait_last < WAIT_RUN_GAP_US;
}

/*
 * A thread of this process is about to wait on its sockets (lock held):
 * what tells the driver which process the program's work is in.
 */
void ns_proc_waits(struct nstack *ns)
{
	struct nstack_local *l = ns_local(ns);
	struct ns_proc *p;
	uint64_t now;

	if (!ns->procs || l->slot < 0)
		return;
	p = &ns->procs->p[l->slot];
	now = ns_now(ns);
	if (!p->wait_last && ns->procs->fan_arg && l->rx_member) {
		/* Its ring gets frames now (fanout.c, ns_fan_plan). */
		ns->procs->fan_gen++;
		nstack_wake_thread(ns);
	}
	if (!wait_run_on(p, now)) {
		p->wait_since = now;
		/*
		 * A process that may open a ring: its stack thread, perhaps
		 * asleep without a deadline, plans its look at this run
		 * (fan_step). Without this wake-up a worker that sleeps in one
		 * long epoll_wait was looked at only if something else woke the
		 * thread in time, and took no share of the link.
		 */
		if (ns->procs->fan_arg && !l->rx_member && !p->no_fan && !l->fan_join_at)
			nstack_wake_thread(ns);
	}
	p->wait_last = now;
}

/* See nstack.h. */
bool nstack_receives(struct nstack *ns)
{
	return ns_receives(ns);
}

/* See nstack.h. */
void nstack_epoll_waits(struct nstack *ns)
{
	/* Only a ring's process keeps listener connections (shared.c): no clock read for others. */
	if (ns_local(ns)->rx_member)
		__atomic_store_n(&ns_local(ns)->epoll_last, ns_now(ns), __ATOMIC_RELAXED);
}

/* How long after an epoll_wait its process counts as looking at its sets (us). */
#define EPOLL_ACTIVE_US 200000

bool ns_epoll_active(const struct nstack *ns)
{
	uint64_t last = __atomic_load_n(&ns_local(ns)->epoll_last, __ATOMIC_RELAXED);

	return last && ns_now(ns) - last < EPOLL_ACTIVE_US;
}

/* See nstack.h. */
bool nstack_fork_ring(struct nstack *ns)
{
	bool r = ns_local(ns)->fork_ring;

	ns_local(ns)->fork_ring = false;
	return r;
}

/*
 * Direct receive. A thread of the driving process about to sleep for its
 * socket sleeps on the device as well and, woken by frames, processes them
 * itself: one wake-up on its own core where the stack thread's wake-up
 * would be followed by the program's (two hops, each costing tens of
 * microseconds on a VM whose idle vCPU halts), and no lock handed between
 * threads. One thread at a time. The device is then leased to the program
 * threads for RX_LEASE_US past each such sleep: a request/response program
 * is back in its next call well within that, and meanwhile the stack
 * thread neither polls the device (it would wake with the program for the
 * same frames and contend for the lock) nor needs a kick per exchange; it
 * only wakes when the lease runs out. Called with the lock held; returns
 * the fd to sleep on, or -1.
 */
int ns_rx_direct_begin(struct nstack *ns)
{
	struct nstack_local *l = ns_local(ns);
	int fd;

	ns_proc_waits(ns);
	if (!ns->cfg.rx_direct || !l->wait_ops.sleep_rx || l->rx_direct || !ns_receives(ns) ||
	    !l->thread_running)
		return -1;
	fd = dev_rx_fd(ns);
	if (fd < 0)
		return -1;
	l->rx_direct = true;
	l->rx_lease_until = ns_now(ns) + RX_LEASE_US;
	return fd;
}

/*
 * NSTACK_BUSY_POLL for a direct receiver (without the lock): before it
 * sleeps, it looks at the device for busy_poll_us, as Linux's sk_busy_loop
 * does from a blocking receive. True when frames came.
 */
bool ns_rx_direct_spin(struct nstack *ns, int fd)
{
	uint64_t start;

	if (!ns->cfg.busy_poll_us)
		return false;
	start = ns_now(ns);
	do {
		if (dev_rx_ready(fd))
			return true;
	} while (ns_now(ns) - start < ns->cfg.busy_poll_us);
	return false;
}

/* Processes the frames waiting on the link now, if this process drives it (lock held). */
static bool rx_catch_up(struct nstack *ns)
{
	int fd;

	if (ns_local(ns)->rx_direct || !ns_receives(ns))
		return false;
	fd = dev_rx_fd(ns);
	if (fd < 0 || !dev_rx_ready(fd))
		return false;
	process_locked(ns);
	return true;
}

/*
 * A call is about to report nothing (EAGAIN, no readiness; lock held).
 * Under a direct receive lease nobody watches the link while no program
 * thread sleeps on it, so frames that came meanwhile (the ACK that
 * completes a MSG_ZEROCOPY send, say) are processed now rather than when
 * the lease runs out. True when there were some: the call looks again.
 */
bool ns_rx_lease_catch_up(struct nstack *ns)
{
	struct nstack_local *l = ns_local(ns);

	if (!l->rx_lease_until || ns_now(ns) >= l->rx_lease_until)
		return false;
	return rx_catch_up(ns);
}

/* See nstack.h. */
bool nstack_rx_catch_up(struct nstack *ns, bool lease_only)
{
	bool done;

	nstack_lock(ns);
	ns_proc_waits(ns);
	done = lease_only ? ns_rx_lease_catch_up(ns) : rx_catch_up(ns);
	nstack_unlock(ns);
	return done;
}

static void drain_fd(int fd)
{
	char buf[64];

	for (int i = 0; i < 64; i++)
		if (read(fd, buf, sizeof(buf)) <= 0)
			break;
}

/*
 * Direct mail, the same for a process that does not drive: the stack
 * thread that drains its mailbox would wake first and then wake the
 * program's thread (an nginx worker whose frames the other worker
 * receives). A thread about to sleep in epoll_wait sleeps on the doorbell
 * instead and drains the box itself when it rings; the stack thread keeps
 * off the doorbell meanwhile and for RX_LEASE_US after, as for the link.
 */
int nstack_mail_direct_begin(struct nstack *ns)
{
	struct nstack_local *l = ns_local(ns);
	int fd = -1;

	nstack_lock(ns);
	ns_proc_waits(ns);
	if (ns->cfg.rx_direct && !ns_is_driver(ns) && l->thread_running && !l->mail_direct &&
	    l->doorbell_fd >= 0) {
		l->mail_direct = true;
		l->mail_lease_until = ns_now(ns) + RX_LEASE_US;
		fd = l->doorbell_fd;
	}
	nstack_unlock(ns);
	return fd;
}

/* See nstack.h. */
void nstack_mail_direct_end(struct nstack *ns, bool woken)
{
	struct nstack_local *l = ns_local(ns);

	nstack_lock(ns);
	l->mail_direct = false;
	l->mail_lease_until = ns_now(ns) + RX_LEASE_US;
	/* Read before the box: a ring after this is for mail not yet seen. */
	if (woken && l->doorbell_fd >= 0)
		drain_fd(l->doorbell_fd);
	ns_mail_drain(ns);
	/* It sleeps without the doorbell and without a deadline: it must look again. */
	if (l->mail_untimed) {
		l->mail_untimed = false;
		nstack_wake_thread(ns);
	}
	nstack_unlock(ns);
}

/* See nstack.h. */
int nstack_rx_direct_begin(struct nstack *ns, bool *ready)
{
	int fd;

	*ready = false;
	nstack_lock(ns);
	fd = ns_rx_direct_begin(ns);
	nstack_unlock(ns);
	if (fd >= 0)
		*ready = ns_rx_direct_spin(ns, fd);
	return fd;
}

/* See nstack.h. */
void nstack_rx_direct_end(struct nstack *ns, bool woken)
{
	nstack_lock(ns);
	ns_rx_direct_end(ns, woken);
	nstack_unlock(ns);
}

/* The direct receiver is awake (lock held; woken: by frames): they are its to process. */
void ns_rx_direct_end(struct nstack *ns, bool woken)
{
	struct nstack_local *l = ns_local(ns);

	l->rx_direct = false;
	l->rx_lease_until = ns_now(ns) + RX_LEASE_US;
	if (woken)
		NS_INC_STATS(ns, EthRxDirectWakes);
	if (ns_receives(ns))
		process_locked(ns);
	/* After a long sleep the stack thread waits for no deadline: it must look again. */
	if (l->thread_untimed) {
		l->thread_untimed = false;
		nstack_wake_thread(ns);
	}
}

/*
 * The interface is gone for good (a later one of the same name is another
 * device). Linux would leave connections to time out over 15 minutes of
 * retransmissions into nothing; a program here cannot get its link back,
 * so it hears now: each connection ends with ENETDOWN as a local abort
 * (tcp_abort), and datagram sockets get it as a pending error.
 */
void nstack_link_gone(struct nstack *ns)
{
	unsigned int aborted = 0;
	struct socket *sock;

	if (ns->link_gone)
		return;
	ns->link_gone = true;
	LIST_FOREACH(sock, &ns->sockets, all)
	{
		struct sock *sk = sock->sk;

		if (!sk)
			continue;
		if (sk->sk_type == SOCK_STREAM &&
		    (sk->sk_state == TCP_LISTEN || sk->sk_state == TCP_CLOSE)) {
			continue; /* nothing will come; accept() keeps waiting, as on Linux */
		} else if (sk->sk_type == SOCK_STREAM) {
			sk->sk_err = ENETDOWN;
			SK_CB(sk, sk_error_report)(sk);
			tcp_done(sk);
			aborted++;
		} else {
			sk->sk_err = ENETDOWN;
			SK_CB(sk, sk_error_report)(sk);
		}
	}
	ns_err(ns,
	       "interface %s is gone: %u connection%s ended with ENETDOWN, and every call that "
	       "needs the link fails so",
	       ns_dev(ns)->name, aborted, aborted == 1 ? "" : "s");
}

/* Handles pending frames and due timers once (tests, manual clock). */
void nstack_process(struct nstack *ns)
{
	ns_lock(ns);
	process_locked(ns);
	/* Loopback and timers armed in the past may have produced more work. */
	for (int i = 0; i < 16 && (!skb_queue_empty(&ns->backlog) || timers_next(ns) <= ns_now(ns));
	     i++)
		process_locked(ns);
	ns_unlock(ns);
}

/*
 * NSTACK_BUSY_POLL: before sleeping, keep looking for frames a while. An
 * idle vCPU halts, and each wake-up of a halted one (the packet socket
 * waking us, then us waking the program) costs tens of microseconds: a
 * 100-byte TCP ping-pong took 90 us per round trip here against 36 us with
 * 50 us of polling. The price is that CPU time, also in bulk transfers
 * (iperf3 send 9.3 -> 8.1 Gbit/s on two cores), hence off by default, as
 * Linux's net.core.busy_poll.
 */
static void busy_poll(struct nstack *ns, struct pollfd *pfd, nfds_t nfds)
{
	uint64_t start;

	if (!ns->cfg.busy_poll_us)
		return;
	start = ns_now(ns);
	while (poll(pfd, nfds, 0) == 0 && ns_now(ns) - start < ns->cfg.busy_poll_us)
		;
}

/* A pidfd for process pid of slot, cached; -1 when it is gone (or pidfds are not there). */
static int pidfd_of(struct nstack *ns, int slot, int32_t pid)
{
	struct nstack_local *l = ns_local(ns);

	if (l->pidfd[slot] >= 0 && l->pidfd_pid[slot] == pid)
		return l->pidfd[slot];
	if (l->pidfd[slot] >= 0)
		ns_close_own(ns, l->pidfd[slot]);
	l->pidfd[slot] = ns_open_own(ns, open_pidfd, (void *)(intptr_t)pid);
	l->pidfd_pid[slot] = pid;
	return l->pidfd[slot];
}

static int fan_take_over(struct nstack *ns);

/* Nobody drives the link: this process takes it, if its device can receive. */
static void try_take_over(struct nstack *ns)
{
	struct nstack_local *l = ns_local(ns);
	int err;

	if (l->slot < 0 || l->no_drive)
		return;
	/* A driver that leaves asks for a successor while it still drives. */
	if (ns->procs->driver >= 0 &&
	    (ns->procs->handoff != ns->procs->driver || ns->procs->driver == l->slot))
		return;
	/* A device opened for a move the old driver did not live to finish receives already. */
	if (ns->procs->move_to == l->slot && ns->procs->move_stamp)
		err = 0;
	else if (ns->procs->fan_arg)
		err = fan_take_over(ns);
	else
		err = l->hooks.take_over ? l->hooks.take_over(l->hooks.ctx, ns) : 0;
	if (err) {
		/*
		 * During a hand-over the driver still drives: another process
		 * may succeed. Without a driver it is retried (stack_thread):
		 * said loud once.
		 */
		bool loud = ns->procs->driver < 0 && !l->take_over_told;

		l->take_over_told |= loud;
		nstack_log(ns, loud ? NSTACK_LOG_ERROR : NSTACK_LOG_INFO,
			   "process %d cannot take over the link: %s", (int)getpid(),
			   strerror(-err));
		return;
	}
	ns_set_driver(ns->procs, l->slot);
	ns->procs->handoff = -1;
	ns->procs->move_to = -1;
	ns->procs->move_stamp = 0;
	ns->thread_sleep_until = 0;
	ns_info(ns, "process %d drives the link now", (int)getpid());
}

/*
 * Process slot died: if it drove the link, this process takes it first, so
 * that the FIN/RST of its connections go out (the keeper's own device
 * sends nothing); then its slot is reaped.
 */
static void proc_gone(struct nstack *ns, int slot)
{
	/* Its ring closed with it: the group is one smaller (before a take-over joins it). */
	if (ns->procs->fan_arg && ns_fan_remove(ns, slot))
		ns_fan_kick(ns);
	if (slot == ns->procs->driver) {
		ns_set_driver(ns->procs, -1);
		try_take_over(ns);
	}
	ns_proc_reap(ns, slot);
}

/*
 * The processes this one keeps an eye on: the driver watches every other
 * one (to reap those that die), the others watch the driver (to take its
 * place). One already gone is reaped at once, and *gone says so: the
 * caller chose its sleep before, on a table that has changed since.
 * Returns the pollfds added.
 */
static int watch_procs(struct nstack *ns, struct pollfd *pfd, int *slots, bool *gone)
{
	struct nstack_local *l = ns_local(ns);
	bool driving = ns_is_driver(ns);
	int n = 0;

	for (int i = 0; i < NS_MAX_PROCS; i++) {
		struct ns_proc *p = &ns->procs->p[i];
		int fd;

		if (i == l->slot || p->state != NS_PROC_LIVE || p->pid <= 0 ||
		    (!driving && i != ns->procs->driver)) {
			if (l->pidfd[i] >= 0) {
				ns_close_own(ns, l->pidfd[i]);
				l->pidfd[i] = -1;
			}
			continue;
		}
		fd = pidfd_of(ns, i, p->pid);
		if (fd < 0) {
			if (errno == ESRCH) {
				proc_gone(ns, i);
				*gone = true;
			}
			continue;
		}
		pfd[n].fd = fd;
		pfd[n].events = POLLIN;
		pfd[n].revents = 0;
		slots[n++] = i;
	}
	return n;
}

/*
 * Moving the driver. The process that started the stack drives the link
 * (receives every frame, runs the timers) until it exits; in a server it
 * is often not where the work is: an nginx master forks its workers and
 * then only waits for signals. Each frame then costs a wake-up of the
 * master's stack thread, a mailbox hop to the worker's stack thread and a
 * wake-up of the worker's own thread (measured: 27k keep-alive requests/s
 * with 1 worker against 37k with nginx in one process, kernel 46k). So
 * when the driver's threads have not waited on a socket for DRIVE_IDLE_US
 * while another process's have kept doing so for as long, the role moves
 * there, in three steps, each under the lock:
 *  1. the driver names the process (procs->move_to) and kicks it;
 *  2. that process opens a receiving device (hooks.open_link, in a helper
 *     thread without the lock, then install_link), reads the
 *     device clock S once the socket is in place, so that every frame
 *     stamped from S on is in its ring, skips the frames stamped before S,
 *     publishes S (procs->move_stamp) and kicks the driver;
 *  3. the driver lets DRIVE_SETTLE_NS pass after S (a frame stamped before
 *     S reaches its ring microseconds later), processes its ring up to the
 *     frames stamped before S, stops its own reception and hands over.
 * Every frame is processed once, by one of the two, in order.
 */
#define DRIVE_IDLE_US	     1000000
#define DRIVE_CHECK_EVERY_US 100000
#define DRIVE_SETTLE_NS	     500000ull
#define DRIVE_DRAIN_ROUNDS   1000

/* Processes what the device's ring holds now, all of it but bounded (lock held). */
static void rx_drain(struct nstack *ns)
{
	for (int i = 0; i < DRIVE_DRAIN_ROUNDS; i++) {
		int fd = dev_rx_fd(ns);

		process_locked_rx(ns, true);
		if (fd < 0 || !dev_rx_ready(fd))
			break;
	}
}

enum { MOVE_IDLE, MOVE_OPENING, MOVE_OPENED };

static bool dev_can_hand_off(const struct net_device *dev)
{
	return dev && (dev->flags & NETDEV_F_RX_HANDOFF) && dev->ops->rx_clock &&
	       dev->ops->rx_window && dev->ops->rx_stop;
}

/* Step 1 (driver): the process to move to, or -1. */
static int move_pick(struct nstack *ns, uint64_t now, uint64_t idle_us)
{
	struct nstack_local *l = ns_local(ns);
	const struct ns_proc *self = &ns->procs->p[l->slot];

	if (self->wait_last && now - self->wait_last < idle_us)
		return -1;
	for (int i = 0; i < NS_MAX_PROCS; i++) {
		const struct ns_proc *p = &ns->procs->p[i];

		if (i == l->slot || p->state != NS_PROC_LIVE || p->no_move || !p->wait_last)
			continue;
		if (wait_run_on(p, now) && now - p->wait_since >= idle_us)
			return i;
	}
	return -1;
}

/*
 * The driver leaving asks the live process whose threads waited on sockets
 * last (fan: one whose ring may join the group; else one that may take the
 * link) to take its place. False when there is none.
 */
static bool move_ask_last_waiter(struct nstack *ns, bool fan)
{
	struct ns_procs *pt = ns->procs;
	int best = -1;

	for (int i = 0; i < NS_MAX_PROCS; i++) {
		const struct ns_proc *p = &pt->p[i];

		if (i == ns_local(ns)->slot || p->state != NS_PROC_LIVE ||
		    (fan ? p->no_fan : p->no_move))
			continue;
		if (best < 0 || p->wait_last > pt->p[best].wait_last)
			best = i;
	}
	if (best < 0)
		return false;
	pt->move_to = best;
	ns_mail_post(ns, best, NS_MAIL_KICK, 0);
	return true;
}

/*
 * The driver is leaving (exit; lock held): the link moves as from an idle
 * driver, so that no frame is lost or processed twice on the way, to the
 * process whose threads waited on sockets last (the keeper, if it is the
 * only one left). True when one was asked: the exit waits for the move.
 */
bool ns_move_for_exit(struct nstack *ns)
{
	if (ns->procs->move_to >= 0)
		return true;
	if (!ns->cfg.move_driver || !dev_can_hand_off(ns_local(ns)->dev))
		return false;
	return move_ask_last_waiter(ns, false);
}

/*
 * Step 2 (the process moved to), in a thread of its own: a capture ring
 * of 64 MiB took 200 ms to set up. Under the lock the whole stack would
 * wait for it; in the stack thread, this process's mailbox would (a
 * program thread asleep in recv() missed its wake-ups and its socket's
 * buffer overflowed: measured, 130 of 20000 datagrams).
 */
static void *move_open_main(void *arg)
{
	struct nstack *ns = arg;
	struct nstack_local *l = ns_local(ns);
	struct net_device *dev = NULL;
	int err = l->move_fan  ? l->hooks.open_rx_link(l->hooks.ctx, &dev)
		  : l->move_tx ? l->hooks.open_tx_link(l->hooks.ctx, &dev)
			       : l->hooks.open_link(l->hooks.ctx, &dev);

	l->move_dev = dev;
	__atomic_store_n(&l->move_err, err, __ATOMIC_RELAXED);
	__atomic_store_n(&l->move_state, MOVE_OPENED, __ATOMIC_RELEASE);
	nstack_wake_thread(ns);
	return NULL;
}

/* Starts the thread that opens a device (tx: one that only sends); false if it cannot. */
static bool move_open_start(struct nstack *ns, bool tx)
{
	struct nstack_local *l = ns_local(ns);
	bool ok;

	l->move_tx = tx;
	l->move_state = MOVE_OPENING;
	ok = ns_thread_start(&l->move_thread, NULL, move_open_main, ns) == 0;
	if (!ok)
		l->move_state = MOVE_IDLE;
	return ok;
}

/* The thread is done: its device (NULL on failure, *err says why). */
static struct net_device *move_open_join(struct nstack *ns, int *err)
{
	struct nstack_local *l = ns_local(ns);
	struct net_device *dev = l->move_dev;

	pthread_join(l->move_thread, NULL);
	l->move_state = MOVE_IDLE;
	*err = l->move_err;
	l->move_dev = NULL;
	return *err ? NULL : dev;
}

/*
 * A former driver keeps its packet socket for sending, but its 64 MiB
 * capture ring (pinned kernel memory) serves nobody now: the socket is
 * replaced by one that only sends, opened as for a joining process.
 */
static void move_shrink(struct nstack *ns)
{
	struct nstack_local *l = ns_local(ns);
	struct net_device *dev;
	int err;

	if (!l->shrink_pending || !l->hooks.open_tx_link)
		return;
	if (l->move_state == MOVE_IDLE) {
		if (!move_open_start(ns, true))
			l->shrink_pending = false;
		return;
	}
	if (!l->move_tx || __atomic_load_n(&l->move_state, __ATOMIC_ACQUIRE) != MOVE_OPENED)
		return;
	l->shrink_pending = false;
	dev = move_open_join(ns, &err);
	if (!dev)
		return; /* said by the embedder; the old device goes on sending */
	if (ns_is_driver(ns) || ns->procs->move_to == l->slot) {
		/* It drives (again) meanwhile: its device must receive. */
		l->hooks.close_link(l->hooks.ctx, dev);
		return;
	}
	l->hooks.install_link(l->hooks.ctx, ns, dev);
	ns_info(ns, "process %d closed its capture ring: it only sends now", (int)getpid());
}

/* Step 2, in the stack thread: the device is open (or failed); it waits to be driven. */
static void move_open(struct nstack *ns)
{
	struct nstack_local *l = ns_local(ns);
	struct net_device *dev = NULL;
	int err = -EOPNOTSUPP;

	if (l->move_tx) {
		/* A send-only device was on its way: not what is needed now. */
		if (__atomic_load_n(&l->move_state, __ATOMIC_ACQUIRE) == MOVE_OPENING)
			return;
		if (l->move_state == MOVE_OPENED && (dev = move_open_join(ns, &err)))
			l->hooks.close_link(l->hooks.ctx, dev);
		l->move_tx = false;
		l->shrink_pending = false;
		err = -EOPNOTSUPP;
	}

	if (l->move_state == MOVE_IDLE && !l->no_drive && l->hooks.open_link &&
	    l->hooks.install_link && l->hooks.close_link) {
		if (move_open_start(ns, false))
			return;
		err = -EAGAIN;
	}
	if (__atomic_load_n(&l->move_state, __ATOMIC_ACQUIRE) == MOVE_OPENING)
		return;
	if (l->move_state == MOVE_OPENED) {
		dev = move_open_join(ns, &err);
		if (!err && !dev_can_hand_off(dev)) {
			l->hooks.close_link(l->hooks.ctx, dev);
			err = -EOPNOTSUPP;
		}
	}
	if (err) {
		nstack_log(ns, NSTACK_LOG_INFO, "process %d does not take the link over: %s",
			   (int)getpid(), strerror(-err));
		ns->procs->p[l->slot].no_move = true;
		ns->procs->move_to = -1;
		return;
	}
	l->hooks.install_link(l->hooks.ctx, ns, dev);
	/* Its socket has been in place since before this: every frame from now on is in its ring.
	 */
	{
		uint64_t stamp = dev->ops->rx_clock(dev);

		dev->ops->rx_window(dev, stamp, 0);
		ns->procs->move_stamp = stamp;
		ns_mail_post(ns, ns->procs->driver, NS_MAIL_KICK, 0);
	}
}

/* The move was called off while a device was being opened for it: that device goes. */
static void move_open_abandon(struct nstack *ns)
{
	struct nstack_local *l = ns_local(ns);

	struct net_device *dev;
	int err;

	if (l->move_tx || __atomic_load_n(&l->move_state, __ATOMIC_ACQUIRE) != MOVE_OPENED)
		return;
	dev = move_open_join(ns, &err);
	if (dev)
		l->hooks.close_link(l->hooks.ctx, dev);
}

/* Step 3 (driver): the frames stamped before the new device's first are ours; then it drives. */
static void move_finish(struct nstack *ns)
{
	struct nstack_local *l = ns_local(ns);
	struct net_device *dev = l->dev;
	uint64_t stamp = ns->procs->move_stamp;
	int to = ns->procs->move_to, err;

	while (dev->ops->rx_clock(dev) < stamp + DRIVE_SETTLE_NS)
		sched_yield();
	dev->ops->rx_window(dev, 0, stamp);
	/*
	 * All of it: the ring filled while the other process opened its
	 * device (one round is a few budgets). Bounded, as frames stamped
	 * after the moment keep coming until rx_stop; those are skipped.
	 */
	rx_drain(ns);
	err = dev->ops->rx_stop(dev);
	if (err)
		/* Harmless but for the kernel's copying: the ring just fills. */
		nstack_log(ns, NSTACK_LOG_INFO, "cannot stop receiving on the old device: %s",
			   strerror(-err));
	dev->ops->rx_window(dev, 0, 0);
	l->rx_lease_until = 0;
	ns_set_driver(ns->procs, to);
	ns->procs->move_to = -1;
	ns->procs->move_stamp = 0;
	ns->thread_sleep_until = 0;
	NS_INC_STATS(ns, EthDriverMoves);
	l->shrink_pending = !l->no_drive; /* leaving: the ring goes with the process */
	ns_mail_post(ns, to, NS_MAIL_KICK, 0);
	if (l->no_drive)
		ns_info(ns, "process %d drives the link now: process %d is leaving",
			(int)ns->procs->p[to].pid, (int)getpid());
	else
		ns_info(
		    ns,
		    "process %d drives the link now: its threads use sockets, process %d's do not",
		    (int)ns->procs->p[to].pid, (int)getpid());
}

/* The stack thread's part in moving the driver (lock held). */
static void move_step(struct nstack *ns)
{
	struct nstack_local *l = ns_local(ns);
	struct ns_procs *pt = ns->procs;
	uint64_t now;

	if (!pt || l->slot < 0)
		return;
	if (pt->move_to == l->slot && !pt->move_stamp && !ns_is_driver(ns)) {
		move_open(ns);
		return;
	}
	move_open_abandon(ns);
	if (!ns_is_driver(ns)) {
		move_shrink(ns);
		return;
	}
	if (pt->move_to >= 0) {
		if (pt->move_stamp)
			move_finish(ns);
		return;
	}
	if (l->no_drive) {
		/* Leaving, and the process asked could not take the link: the next, or anyone. */
		if (pt->handoff < 0 && !ns_move_for_exit(ns))
			ns_ask_take_over(ns);
		return;
	}
	now = ns_now(ns);
	if (!ns->cfg.move_driver || pt->handoff >= 0 || l->no_drive ||
	    now - l->move_check_at < DRIVE_CHECK_EVERY_US || !dev_can_hand_off(l->dev))
		return;
	l->move_check_at = now;
	pt->move_to = move_pick(ns, now, DRIVE_IDLE_US);
	if (pt->move_to >= 0)
		ns_mail_post(ns, pt->move_to, NS_MAIL_KICK, 0);
}

/*
 * Receive spread over processes (fanout.c): dev, opened deaf, joins the
 * stack's group as its last ring and becomes this process's device (lock
 * held). A new group when no ring is left in the old one.
 */
static int fan_join(struct nstack *ns, struct net_device *dev)
{
	int err = ns_fan_enter(ns, dev);

	if (err)
		return err;
	ns_local(ns)->hooks.install_link(ns_local(ns)->hooks.ctx, ns, dev);
	NS_INC_STATS(ns, EthRxRingsJoined);
	ns_info(ns, "process %d receives its share of the link", (int)getpid());
	return 0;
}

/* try_take_over in a stack with a group: a ring of its own, then the driver's part. */
static int fan_take_over(struct nstack *ns)
{
	struct nstack_local *l = ns_local(ns);
	struct net_device *dev;
	int err;

	if (l->rx_member)
		return 0;
	if (!l->hooks.open_rx_link || !l->hooks.install_link || !l->hooks.close_link)
		return -EOPNOTSUPP;
	err = l->hooks.open_rx_link(l->hooks.ctx, &dev);
	if (err)
		return err;
	err = fan_join(ns, dev);
	if (err)
		l->hooks.close_link(l->hooks.ctx, dev);
	return err;
}

/* The driver's part goes to slot, whose ring is in the group already (lock held). */
static void fan_drive_to(struct nstack *ns, int slot)
{
	struct nstack_local *l = ns_local(ns);
	struct ns_procs *pt = ns->procs;

	ns_set_driver(pt, slot);
	pt->move_to = -1;
	pt->handoff = -1;
	l->rx_lease_until = 0;
	ns->thread_sleep_until = 0;
	NS_INC_STATS(ns, EthDriverMoves);
	ns_mail_post(ns, slot, NS_MAIL_KICK, 0);
	ns_info(ns, "process %d runs the timers now", (int)pt->p[slot].pid);
}

/*
 * With rings per process the driver's part is only the timers' and moving
 * it costs a mail: it follows the work ten times sooner than the link does
 * (a server's first second of load would otherwise have its master wake
 * for every timer its workers arm earlier than it planned to wake).
 */
#define FAN_DRIVE_IDLE_US 100000

/*
 * A process opens a ring once its threads have kept waiting on sockets
 * for this long: a child that serves one short connection (socat fork,
 * sshd's per-connection processes) is done before a ring would be ready,
 * and each join changes the group's program. Its frames reach it by mail
 * meanwhile.
 */
#define FAN_JOIN_AFTER_US 100000

/*
 * The stack thread's part in a stack with a group (in place of move_step;
 * lock held): a process whose threads wait on sockets opens a ring (in a
 * thread of its own, as for a move) and joins; a member sets the group's
 * program when the table changed; the driver's part (timers, reaping)
 * moves to a ring whose process works when the driver's does not, as the
 * link did (move_pick), at once: the ring is there already.
 */
static void fan_step(struct nstack *ns)
{
	struct nstack_local *l = ns_local(ns);
	struct ns_procs *pt = ns->procs;
	struct ns_proc *p = &pt->p[l->slot];
	struct net_device *dev;
	uint64_t now;
	int err, to;
	bool planned;

	if (l->rx_member) {
		if (pt->move_to == l->slot && !ns_is_driver(ns) && pt->driver >= 0)
			fan_drive_to(ns, l->slot); /* asked by a leaving driver */
		ns_fan_sync(ns);
		now = ns_now(ns);
		if (!ns_is_driver(ns) || l->no_drive || pt->move_to >= 0 || !ns->cfg.move_driver ||
		    now - l->move_check_at < DRIVE_CHECK_EVERY_US)
			return;
		l->move_check_at = now;
		to = move_pick(ns, now, FAN_DRIVE_IDLE_US);
		if (to >= 0 && ns_fan_index(ns, to) >= 0)
			fan_drive_to(ns, to);
		return;
	}
	if (l->no_drive || p->no_fan || !l->hooks.open_rx_link || !l->hooks.install_link ||
	    !l->hooks.close_link)
		return;
	now = ns_now(ns);
	/*
	 * The look planned for this run counts even if it comes late: a
	 * thread in one long wait calls nothing that would extend the run,
	 * which would seem over by the time a busy machine ran us.
	 */
	planned = l->fan_join_at && l->fan_join_at == p->wait_since + FAN_JOIN_AFTER_US &&
		  now >= l->fan_join_at;
	l->fan_join_at = 0;
	if (pt->move_to != l->slot && !planned && !l->move_fan &&
	    (!wait_run_on(p, now) || now - p->wait_since < FAN_JOIN_AFTER_US)) {
		/* Not yet: a look when the run of waits is long enough. */
		if (wait_run_on(p, now))
			l->fan_join_at = p->wait_since + FAN_JOIN_AFTER_US;
		return;
	}
	if (l->move_state == MOVE_IDLE) {
		l->move_fan = true;
		if (!move_open_start(ns, false))
			l->move_fan = false;
		return;
	}
	if (__atomic_load_n(&l->move_state, __ATOMIC_ACQUIRE) != MOVE_OPENED)
		return;
	l->move_fan = false;
	dev = move_open_join(ns, &err);
	if (dev && (err = fan_join(ns, dev)) != 0)
		l->hooks.close_link(l->hooks.ctx, dev);
	if (err) {
		nstack_log(ns, NSTACK_LOG_INFO, "process %d receives no share of the link: %s",
			   (int)getpid(), strerror(-err));
		p->no_fan = true;
		if (pt->move_to == l->slot)
			pt->move_to = -1;
		return;
	}
	if (pt->move_to == l->slot)
		fan_drive_to(ns, l->slot);
}

/*
 * The driver is leaving (lock held): its part goes to another ring at once,
 * or a process is asked to open one and take it (fan_step). True when
 * somebody has it or was asked.
 */
bool ns_fan_hand_over(struct nstack *ns)
{
	struct nstack_local *l = ns_local(ns);
	struct ns_procs *pt = ns->procs;
	int best = -1;

	if (pt->move_to >= 0)
		return true;
	for (int i = 0; i < pt->fan_n; i++) {
		int s = pt->fan_slot[i];

		if (s != l->slot && pt->p[s].state == NS_PROC_LIVE && !pt->p[s].fan_leaving &&
		    (best < 0 || pt->p[s].wait_last > pt->p[best].wait_last))
			best = s;
	}
	if (best >= 0) {
		fan_drive_to(ns, best);
		return true;
	}
	return move_ask_last_waiter(ns, true);
}

/* See nstack.h. */
void nstack_fan_leave(struct nstack *ns)
{
	struct nstack_local *l = ns_local(ns);
	struct ns_procs *pt = ns->procs;

	ns_lock(ns);
	if (!l->rx_member || ns_is_driver(ns) || l->slot < 0) {
		/* A driver nobody took over from keeps its ring: frames must go somewhere. */
		nstack_unlock(ns);
		return;
	}
	pt->p[l->slot].fan_leaving = true;
	pt->fan_gen++;
	/* Another process (or our stack thread) may be setting the program: after it. */
	for (int i = 0; i < 1000 && pt->fan_installer >= 0; i++) {
		nstack_unlock(ns);
		nanosleep(&(struct timespec){0, 1000 * 1000}, NULL);
		ns_lock(ns);
	}
	ns_fan_sync(ns);
	/* No frame is sent to this ring any more: what it holds is processed here. */
	rx_drain(ns);
	nstack_unlock(ns);
}

#define MAX_POLLFDS (3 + NS_MAX_PROCS)

/*
 * poll() refuses more fds than RLIMIT_NOFILE allows, and sandboxes lower it
 * under what the thread watches (OpenSSH's pre-authentication child: 1).
 * epoll_wait() has no such check, so then the same set goes through the
 * epoll instance the thread made when it started.
 */
static int wait_fds(struct nstack_local *l, struct pollfd *pfd, int nfds, int timeout)
{
	struct epoll_event ev[MAX_POLLFDS];
	int n;

	n = poll(pfd, (nfds_t)nfds, timeout);
	if (n >= 0 || errno != EINVAL)
		return n;
	if (l->epfd < 0) {
		poll(NULL, 0, 10);
		return 0;
	}
	for (int i = 0; i < nfds; i++) {
		struct epoll_event e = {.events = (uint32_t)pfd[i].events, .data.u32 = (uint32_t)i};

		pfd[i].revents = 0;
		if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, pfd[i].fd, &e) < 0 && errno == EEXIST)
			epoll_ctl(l->epfd, EPOLL_CTL_MOD, pfd[i].fd, &e);
	}
	n = epoll_wait(l->epfd, ev, nfds, timeout);
	for (int i = 0; i < n; i++)
		pfd[ev[i].data.u32].revents = (short)ev[i].events;
	for (int i = 0; i < nfds; i++)
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, pfd[i].fd, NULL);
	return n;
}

/*
 * The poll() timeout *timeout (ms, -1: none) shortened to wake at until
 * (ns_now). Rounded up: waking early only costs a loop; late is wrong.
 */
static void sleep_until(int *timeout, uint64_t until, uint64_t now)
{
	int t = until > now ? (int)((until - now + 999) / 1000) : 0;

	if (*timeout < 0 || t < *timeout)
		*timeout = t;
}

/* How often a process retries taking a link nobody drives (ms). */
#define NO_DRIVER_RETRY_MS 100

/*
 * Every process sharing the stack runs one of these. In the driver it is
 * the "softirq": RX batches and timers. In the others it only drains the
 * mailbox and watches the driver, ready to take its place.
 */
static void *stack_thread(void *arg)
{
	struct nstack *ns = arg;
	struct nstack_local *l = ns_local(ns);
	struct pollfd pfd[MAX_POLLFDS];
	int slots[MAX_POLLFDS];

	ns_lock(ns);
	while (!__atomic_load_n(&l->thread_stop, __ATOMIC_ACQUIRE)) {
		uint64_t next = UINT64_MAX, now;
		int timeout = -1, nfds = 0, nbase, devfd = -1, bell = -1;
		bool driving, receiving, leased, mail_leased = false, gone = false;

		ns_mail_drain(ns);
		if (l->hooks.thread_tick)
			l->hooks.thread_tick(l->hooks.ctx, ns);
		try_take_over(ns);
		if (ns->procs->fan_arg && l->slot >= 0)
			fan_step(ns);
		else
			move_step(ns);
		driving = ns_is_driver(ns);
		/* A ring of the group that is not the driver's: frames, no timers to sleep on. */
		receiving = driving || l->rx_member;
		if (receiving) {
			/* Under a direct receive lease the frames are the program's to take. */
			now = ns_now(ns);
			leased = l->rx_direct || now < l->rx_lease_until;
			process_locked_rx(ns, !leased);
			next = driving ? timers_next(ns) : UINT64_MAX;
			now = ns_now(ns);
			rx_lost_update(ns, now);
			if (!skb_queue_empty(&ns->backlog) || next <= now)
				continue;
			devfd = dev_rx_fd(ns);
			if (next != UINT64_MAX)
				/* Round up: waking early only costs a loop; late is wrong. */
				timeout = (int)((next - now + 999) / 1000);
			if (devfd < 0 && !ns->link_gone && (timeout < 0 || timeout > 10))
				timeout = 10; /* backends without a selectable fd are polled */
			/* A direct receiver has the device; it wakes us when it leaves. */
			l->thread_untimed = false;
			if (leased && devfd >= 0) {
				devfd = -1;
				if (now < l->rx_lease_until) {
					sleep_until(&timeout, l->rx_lease_until, now);
					/* Timers due after it need no kick (mod_timer). */
					if (l->rx_lease_until < next)
						next = l->rx_lease_until;
				} else {
					l->thread_untimed =
					    true; /* the receiver kicks us when it wakes */
				}
			}
		}
		if (!driving) {
			/* A program thread sleeping on the doorbell drains the mailbox
			 * (mail_direct). */
			now = ns_now(ns);
			mail_leased =
			    l->doorbell_fd >= 0 && (l->mail_direct || now < l->mail_lease_until);
			l->mail_untimed = mail_leased && now >= l->mail_lease_until;
			if (mail_leased && !l->mail_untimed)
				sleep_until(&timeout, l->mail_lease_until, now);
			/*
			 * Nobody drives (the process that reaped the last driver
			 * died itself before it took the link): try again soon,
			 * as nothing else would wake us for it. A ping that joined
			 * a stack whose processes were being killed slept here
			 * for good and never received.
			 */
			if (ns->procs->driver < 0 && !l->no_drive && l->slot >= 0 &&
			    (timeout < 0 || timeout > NO_DRIVER_RETRY_MS))
				timeout = NO_DRIVER_RETRY_MS;
		}
		/* fan_step: time to look again whether to open a ring. */
		if (l->fan_join_at)
			sleep_until(&timeout, l->fan_join_at, ns_now(ns));
		pfd[nfds++] = (struct pollfd){.fd = l->wake_fd, .events = POLLIN};
		if (l->doorbell_fd >= 0 && !mail_leased) {
			bell = nfds;
			pfd[nfds++] = (struct pollfd){.fd = l->doorbell_fd, .events = POLLIN};
		}
		if (devfd >= 0)
			pfd[nfds++] = (struct pollfd){.fd = devfd, .events = POLLIN};
		nbase = nfds;
		nfds += watch_procs(ns, pfd + nbase, slots + nbase, &gone);
		/*
		 * A process found gone was reaped just now, after the timeout
		 * above was chosen: the driver it was (a joiner of a stack
		 * whose processes were all killed then slept in poll() with
		 * no driver and no timeout, for good), or sockets it released
		 * that armed timers. Round again on the table as it is.
		 */
		if (gone)
			continue;
		if (driving)
			ns->thread_sleep_until = next;
		ns_unlock(ns);
		if (receiving)
			busy_poll(ns, pfd, (nfds_t)nbase);
		if (wait_fds(l, pfd, nfds, timeout) > 0) {
			uint64_t kicks;

			/* An eventfd: one read empties it (a second would only say EAGAIN). */
			if ((pfd[0].revents & POLLIN) &&
			    read(l->wake_fd, &kicks, sizeof(kicks)) < 0) {
				/* EAGAIN: another reader was first. */
			}
			if (bell >= 0 && (pfd[bell].revents & POLLIN))
				drain_fd(pfd[bell].fd);
		}
		ns_lock(ns);
		/*
		 * Awake: the loop reads the timers again before it sleeps, so
		 * arming one needs no kick (mod_timer kicks only for a deadline
		 * before this). UINT64_MAX here made every RTO re-arm on an ACK
		 * write to our own eventfd: one syscall and a spurious wake-up
		 * per ACK, a quarter of the sender's CPU in iperf3.
		 */
		if (driving)
			ns->thread_sleep_until = 0;
		if (bell >= 0 && (pfd[bell].revents & POLLNVAL)) {
			ns_err(ns, "process %d: its doorbell fd was closed behind our back",
			       (int)getpid());
			l->doorbell_fd = -1;
		}
		for (int i = nbase; i < nfds; i++) {
			int slot = slots[i];

			if (pfd[i].revents & POLLNVAL) {
				/* Closed behind our back: the number is not ours; open it again. */
				if (l->hooks.own_fd)
					l->hooks.own_fd(l->hooks.ctx, l->pidfd[slot], false);
				l->pidfd[slot] = -1;
				continue;
			}
			if ((pfd[i].revents & (POLLIN | POLLHUP)) &&
			    ns->procs->p[slot].state == NS_PROC_LIVE &&
			    ns->procs->p[slot].pid == l->pidfd_pid[slot])
				proc_gone(ns, slot);
		}
	}
	ns_unlock(ns);
	return NULL;
}

/* Starts the stack thread. */
int nstack_start(struct nstack *ns)
{
	int rc;

	if (ns_local(ns)->thread_running)
		return -EALREADY;
	ns_local(ns)->wake_fd = ns_open_own(ns, open_eventfd, NULL);
	if (ns_local(ns)->wake_fd < 0)
		return -errno;
	if (ns_local(ns)->epfd < 0)
		ns_local(ns)->epfd = ns_open_own(ns, open_epoll, NULL);
	ns_local(ns)->thread_stop = false;
	/*
	 * The program's signals are never delivered to the stack thread (an
	 * nginx master missed its workers' SIGCHLD on it and never exited),
	 * and the thread runs before the program can fork (thread.c).
	 */
	rc = ns_thread_start(&ns_local(ns)->thread, "nstack-stack", stack_thread, ns);
	if (rc) {
		ns_close_own(ns, ns_local(ns)->wake_fd);
		ns_local(ns)->wake_fd = -1;
		return rc;
	}
	ns_local(ns)->thread_running = true;
	return 0;
}

/* The stack thread's wake-up eventfd, or -1. */
bool nstack_ipv6_enabled(const struct nstack *ns)
{
	return ns->ip6 != NULL;
}

int nstack_wake_fd(const struct nstack *ns)
{
	return ns_local(ns)->wake_fd;
}

/* The stack clock now, in microseconds. */
uint64_t nstack_now(const struct nstack *ns)
{
	return ns_now(ns);
}

/* The earliest timer deadline. */
uint64_t nstack_next_deadline(struct nstack *ns)
{
	uint64_t next;

	ns_lock(ns);
	next = timers_next(ns);
	pthread_mutex_unlock(&ns->lock);
	return next;
}

/* Takes the stack lock. */
void nstack_lock(struct nstack *ns)
{
	ns_lock(ns);
}

/* Releases the stack lock. */
void nstack_unlock(struct nstack *ns)
{
	ns_unlock(ns);
}

/* See stack.h. */
void ns_unlock(struct nstack *ns)
{
	struct net_device *push = dev_xmit_release_defer(ns);

	pthread_mutex_unlock(&ns->lock);
	/* The frames the section made leave now, while others may use the stack. */
	dev_xmit_push(push);
}

/* The configuration the stack runs with (MTU resolved). */
const struct nstack_config *nstack_config(const struct nstack *ns)
{
	return &ns->cfg;
}

void nstack_set_tcp_config(struct nstack *ns, const struct tcp_config *t)
{
	const struct tcp_congestion_ops *ca;

	nstack_lock(ns);
	if (memcmp(&ns->cfg.tcp, t, sizeof(*t))) {
		if (strcmp(ns->cfg.tcp.congestion_control, t->congestion_control) &&
		    (ca = tcp_ca_find(ns, t->congestion_control)) != NULL)
			ns->tcp->default_ca = ns_ref(ca);
		ns->cfg.tcp = *t;
	}
	nstack_unlock(ns);
}

/* The stack's device. */
struct net_device *nstack_dev(const struct nstack *ns)
{
	return ns_dev(ns);
}

static const struct {
	const char *name;
	size_t off;
} mib_names[] = {
#define NSTACK_MIB_NAME(n) {#n, offsetof(struct nstack_mib, n)},
    NSTACK_MIB_LIST(NSTACK_MIB_NAME)
#undef NSTACK_MIB_NAME
};

/* A counter by its netstat name, or -1. */
int64_t nstack_stat(struct nstack *ns, const char *name)
{
	for (size_t i = 0; i < sizeof(mib_names) / sizeof(mib_names[0]); i++) {
		if (strcmp(mib_names[i].name, name) == 0) {
			uint64_t v;

			memcpy(&v, (const char *)&ns->mib + mib_names[i].off, sizeof(v));
			return (int64_t)v;
		}
	}
	return -1;
}

/* Calls fn for each non-zero counter, in list order. */
void nstack_stats_foreach(struct nstack *ns, void (*fn)(void *arg, const char *name, uint64_t v),
			  void *arg)
{
	for (size_t i = 0; i < sizeof(mib_names) / sizeof(mib_names[0]); i++) {
		uint64_t v;

		memcpy(&v, (const char *)&ns->mib + mib_names[i].off, sizeof(v));
		if (v)
			fn(arg, mib_names[i].name, v);
	}
}

unsigned int nstack_tx_pending(struct nstack *ns)
{
	struct net_device *dev;
	unsigned int n = 0;

	/* Under the lock: the stack thread may replace and close the device (a move). */
	nstack_lock(ns);
	dev = ns_dev(ns);
	if (dev) {
		/* What the device sent from kept skbs is freed now: the caller counts skbs next. */
		dev_tx_reap(dev);
		n = dev->tx_kept_n + (dev->ops->tx_pending ? dev->ops->tx_pending(dev) : 0);
	}
	nstack_unlock(ns);
	return n;
}

/* skbs allocated and not freed. */
long nstack_live_skbs(struct nstack *ns)
{
	return ns->skb_live;
}

/* socks allocated and not freed. */
long nstack_live_socks(struct nstack *ns)
{
	return ns->sock_live;
}

/* Replaces this process's device; see nstack.h. */
void nstack_set_dev(struct nstack *ns, struct net_device *dev)
{
	if (ns_local(ns)->dev)
		dev_tx_detach(ns_local(ns)->dev);
	ns_local(ns)->dev = dev;
	dev->ns = ns;
}

/* The start of this process's mapping of the stack's arena. */
void *nstack_arena_base(const struct nstack *ns)
{
	return ns_local(ns)->map.base;
}

/* The stack in an arena, or NULL when none was built there. */
struct nstack *nstack_from_arena(const struct ns_arena_map *map)
{
	return map->arena ? map->arena->root : NULL;
}
