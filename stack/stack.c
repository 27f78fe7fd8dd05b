/*
 * The stack object: creation and teardown of the modules in order, the
 * stack thread (the "softirq": RX batches and timers), the lock, logging,
 * the allocator and the counters.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <bsd/stdlib.h>

#include "arp.h"
#include "icmp.h"
#include "inet.h"
#include "ip.h"
#include "stack.h"

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
};

#define NMODULES (sizeof(modules) / sizeof(modules[0]))

static uint64_t default_now_us(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint32_t default_random32(void *ctx)
{
	(void)ctx;
	return arc4random();
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
	tcp_config_defaults(&cfg->tcp);
}

/* Zeroed memory for stack state; aborts never, returns NULL when out of memory. */
void *ns_zalloc(struct nstack *ns, size_t size)
{
	(void)ns;
	return calloc(1, size);
}

/* Frees memory from ns_zalloc (NULL is fine). */
void ns_free(struct nstack *ns, void *p)
{
	(void)ns;
	free(p);
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
	if (ns->hooks.log)
		ns->hooks.log(ns->hooks.ctx, level, line);
	else
		fprintf(stderr, "nstack: %s: %s\n", level_names[level], line);
}

static int init_lock(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;
	int rc;

	pthread_mutexattr_init(&a);
	/* Process-shared so the stack can one day live in a shared arena. */
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	rc = pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
	return -rc;
}

/* Builds a stack on dev; see nstack.h. */
int nstack_create(const struct nstack_config *cfg, struct net_device *dev,
		  const struct nstack_env *env, const struct nstack_hooks *hooks,
		  struct nstack **res)
{
	struct nstack *ns;
	size_t up = 0;
	int err;

	if (!cfg || !dev || cfg->prefixlen > 32 || cfg->addr == 0)
		return -EINVAL;
	ns = calloc(1, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	err = init_lock(&ns->lock);
	if (err)
		goto out_free;
	ns->cfg = *cfg;
	ns->netmask = cfg->prefixlen ? htonl(~0u << (32 - cfg->prefixlen)) : 0;
	ns->env = env ? *env : nstack_env_default;
	if (hooks)
		ns->hooks = *hooks;
	ns->dev = dev;
	dev->ns = ns;
	if (cfg->mtu)
		dev->mtu = cfg->mtu;
	if (dev->mtu < 68)
		dev->mtu = ETH_DATA_LEN;
	memset(dev->broadcast, 0xff, ETH_ALEN);
	ns->wake_fd = -1;
	ns->thread_sleep_until = UINT64_MAX;
	skb_queue_head_init(&ns->backlog);
	timer_wheel_init(&ns->timers, ns_now(ns));

	pthread_mutex_lock(&ns->lock);
	for (up = 0; up < NMODULES; up++) {
		err = modules[up].init(ns);
		if (err) {
			ns_err(ns, "cannot initialise %s: %s", modules[up].name, strerror(-err));
			break;
		}
	}
	if (!err && cfg->gratuitous_arp)
		arp_send_gratuitous(ns);
	pthread_mutex_unlock(&ns->lock);
	if (err)
		goto out_modules;
	*res = ns;
	return 0;

out_modules:
	pthread_mutex_lock(&ns->lock);
	while (up-- > 0)
		modules[up].exit(ns);
	skb_queue_purge(&ns->backlog);
	skb_cache_purge(ns);
	pthread_mutex_unlock(&ns->lock);
	pthread_mutex_destroy(&ns->lock);
out_free:
	free(ns);
	return err;
}

static void stop_thread(struct nstack *ns)
{
	if (!ns->thread_running)
		return;
	ns->thread_stop = true;
	nstack_kick(ns);
	pthread_join(ns->thread, NULL);
	ns->thread_running = false;
}

/* Tears the stack down; see nstack.h. */
void nstack_destroy(struct nstack *ns)
{
	size_t i = NMODULES;

	if (!ns)
		return;
	stop_thread(ns);
	pthread_mutex_lock(&ns->lock);
	while (i-- > 0)
		modules[i].exit(ns);
	skb_queue_purge(&ns->backlog);
	skb_cache_purge(ns);
	pthread_mutex_unlock(&ns->lock);
	if (ns->dev && ns->dev->ops->close)
		ns->dev->ops->close(ns->dev);
	if (ns->wake_fd >= 0)
		close(ns->wake_fd);
	pthread_mutex_destroy(&ns->lock);
	free(ns);
}

/* Wakes the stack thread so it re-reads its deadline and queues. */
void nstack_kick(struct nstack *ns)
{
	uint64_t one = 1;

	if (ns->wake_fd >= 0 && write(ns->wake_fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is already non-zero, the thread will wake. */
	}
}

/* One round of work with the lock held: RX batches, loopback, timers. */
static void process_locked(struct nstack *ns)
{
	struct sk_buff_head looped;
	struct sk_buff *skb;

	for (int round = 0; round < RX_ROUNDS; round++) {
		int n;

		dev_rx_batch_begin(ns->dev);
		n = ns->dev->ops->poll(ns->dev, RX_BUDGET);
		dev_rx_batch_end(ns->dev);

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

/* Handles pending frames and due timers once (tests, manual clock). */
void nstack_process(struct nstack *ns)
{
	pthread_mutex_lock(&ns->lock);
	process_locked(ns);
	/* Loopback and timers armed in the past may have produced more work. */
	for (int i = 0; i < 16 && (!skb_queue_empty(&ns->backlog) || timers_next(ns) <= ns_now(ns));
	     i++)
		process_locked(ns);
	pthread_mutex_unlock(&ns->lock);
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

static void *stack_thread(void *arg)
{
	struct nstack *ns = arg;
	struct pollfd pfd[2];
	int nfds = 0;
	int devfd = ns->dev->ops->get_fd ? ns->dev->ops->get_fd(ns->dev) : -1;

	pfd[nfds].fd = ns->wake_fd;
	pfd[nfds++].events = POLLIN;
	if (devfd >= 0) {
		pfd[nfds].fd = devfd;
		pfd[nfds++].events = POLLIN;
	}
	pthread_mutex_lock(&ns->lock);
	while (!ns->thread_stop) {
		uint64_t next, now;
		int timeout;

		process_locked(ns);
		next = timers_next(ns);
		now = ns_now(ns);
		if (!skb_queue_empty(&ns->backlog) || next <= now)
			continue;
		if (next == UINT64_MAX)
			timeout = devfd >= 0 ? -1 : 10;
		else
			/* Round up: waking early only costs a loop; late is wrong. */
			timeout = (int)((next - now + 999) / 1000);
		if (devfd < 0 && (timeout < 0 || timeout > 10))
			timeout = 10; /* backends without a selectable fd are polled */
		ns->thread_sleep_until = next;
		dev_xmit_release(ns);
		pthread_mutex_unlock(&ns->lock);
		busy_poll(ns, pfd, (nfds_t)nfds);
		if (poll(pfd, (nfds_t)nfds, timeout) > 0 && (pfd[0].revents & POLLIN)) {
			uint64_t v;

			if (read(ns->wake_fd, &v, sizeof(v)) < 0) {
				/* Spurious wake-up: nothing to drain. */
			}
		}
		pthread_mutex_lock(&ns->lock);
		/*
		 * Awake: the loop reads the timers again before it sleeps, so
		 * arming one needs no kick (mod_timer kicks only for a deadline
		 * before this). UINT64_MAX here made every RTO re-arm on an ACK
		 * write to our own eventfd: one syscall and a spurious wake-up
		 * per ACK, a quarter of the sender's CPU in iperf3.
		 */
		ns->thread_sleep_until = 0;
	}
	pthread_mutex_unlock(&ns->lock);
	return NULL;
}

/* Starts the stack thread. */
int nstack_start(struct nstack *ns)
{
	int rc;

	if (ns->thread_running)
		return -EALREADY;
	ns->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ns->wake_fd < 0)
		return -errno;
	ns->thread_stop = false;
	rc = pthread_create(&ns->thread, NULL, stack_thread, ns);
	if (rc) {
		close(ns->wake_fd);
		ns->wake_fd = -1;
		return -rc;
	}
	ns->thread_running = true;
	return 0;
}

/* The stack thread's wake-up eventfd, or -1. */
int nstack_wake_fd(const struct nstack *ns)
{
	return ns->wake_fd;
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

	pthread_mutex_lock(&ns->lock);
	next = timers_next(ns);
	pthread_mutex_unlock(&ns->lock);
	return next;
}

/* Takes the stack lock. */
void nstack_lock(struct nstack *ns)
{
	pthread_mutex_lock(&ns->lock);
}

/* Releases the stack lock. */
void nstack_unlock(struct nstack *ns)
{
	dev_xmit_release(ns);
	pthread_mutex_unlock(&ns->lock);
}

/* The configuration the stack runs with (MTU resolved). */
const struct nstack_config *nstack_config(const struct nstack *ns)
{
	return &ns->cfg;
}

/* The stack's device. */
struct net_device *nstack_dev(const struct nstack *ns)
{
	return ns->dev;
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
	struct net_device *dev = ns->dev;

	return dev && dev->ops->tx_pending ? dev->ops->tx_pending(dev) : 0;
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
