/*
 * The stack object: everything one private TCP/IP stack owns. Module state
 * hangs off it (each module defines its own struct), so tests can build as
 * many independent stacks as they like.
 */
#ifndef NSTACK_STACK_H
#define NSTACK_STACK_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "inet.h"
#include "mib.h"
#include "netdevice.h"
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

struct nstack {
	pthread_mutex_t lock; /* the stack lock: process-shared, held for short sections */
	struct nstack_config cfg;
	uint32_t netmask; /* from cfg.prefixlen, network order */
	struct nstack_env env;
	struct nstack_hooks hooks;
	struct nstack_wait_ops wait_ops; /* nstack_set_wait_ops(); token NULL = condvar */
	struct net_device *dev;
	struct timer_wheel timers;
	struct nstack_mib mib;

	/* Registries, as Linux's globals but per stack. */
	const struct packet_type *ptypes[NSTACK_MAX_PTYPES];
	const struct net_proto_family *families[AF_MAX];
	const struct inet_protosw *inetsw[NSTACK_SOCK_MAX][INETSW_PER_TYPE];
	const struct inet_protocol *inet_protos[256];

	/* Module state. */
	struct arp_table *arp;
	struct ipv4_state *ip;
	struct icmp_state *icmp;
	struct udp_table *udp;
	struct ping_table *ping;
	struct raw_table *raw;
	struct tcp_state *tcp;

	/* Packets looped back to ourselves, handled in the next RX round. */
	struct sk_buff_head backlog;

	/* The stack thread. */
	pthread_t thread;
	bool thread_running;
	volatile bool thread_stop;
	int wake_fd;		     /* eventfd that interrupts the thread's wait */
	uint64_t thread_sleep_until; /* the deadline the thread sleeps towards */

	/* skbuff.c's free lists of skb headers and data areas (lock held). */
	void *skb_cache;
	void *skb_data_cache;
	unsigned int skb_cache_n;
	unsigned int skb_data_cache_n;

	/* Live objects, for leak checks. */
	long skb_live;
	long sock_live;
	long socket_live;
};

static inline uint64_t ns_now(const struct nstack *ns)
{
	return ns->env.now_us(ns->env.ctx);
}

static inline uint32_t ns_random32(const struct nstack *ns)
{
	return ns->env.random32(ns->env.ctx);
}

/* The stack's allocator: zeroed memory; the only place stack state comes from. */
void *ns_zalloc(struct nstack *ns, size_t size);
void ns_free(struct nstack *ns, void *p);

void nstack_log(const struct nstack *ns, enum nstack_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define ns_err(ns, ...)	 nstack_log((ns), NSTACK_LOG_ERROR, __VA_ARGS__)
#define ns_warn(ns, ...) nstack_log((ns), NSTACK_LOG_WARN, __VA_ARGS__)
#define ns_info(ns, ...) nstack_log((ns), NSTACK_LOG_INFO, __VA_ARGS__)
#define ns_dbg(ns, ...)                                                                            \
	do {                                                                                       \
		if ((ns)->cfg.log_level >= NSTACK_LOG_DEBUG)                                       \
			nstack_log((ns), NSTACK_LOG_DEBUG, __VA_ARGS__);                           \
	} while (0)

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
