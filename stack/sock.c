/*
 * struct sock: allocation and references, wait queues and wake-ups, buffer
 * accounting, the generic datagram receive path, the SOL_SOCKET options and
 * the sock_no_* stubs, as Linux's net/core/sock.c and datagram.c.
 */
#include <errno.h>
#include <limits.h>
#include <linux/net_tstamp.h>
#include <linux/sock_diag.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "inet.h"
#include "inet_dgram.h"
#include "sock.h"
#include "netdevice.h"
#include "stack.h"
#include "tcp.h"
#include "udp.h"

#ifndef SO_RCVTIMEO_OLD
#define SO_RCVTIMEO_OLD 20
#define SO_SNDTIMEO_OLD 21
#endif
#ifndef SO_RCVTIMEO_NEW
#define SO_RCVTIMEO_NEW 66
#define SO_SNDTIMEO_NEW 67
#endif
#ifndef SO_TIMESTAMP_OLD
#define SO_TIMESTAMP_OLD   29
#define SO_TIMESTAMPNS_OLD 35
#endif
#ifndef SO_TIMESTAMP_NEW
#define SO_TIMESTAMP_NEW   63
#define SO_TIMESTAMPNS_NEW 64
#endif

/* Linux's struct __kernel_sock_timeval for the _NEW timeout options. */
struct sock_timeval64 {
	int64_t tv_sec;
	int64_t tv_usec;
};

static int init_cond(pthread_cond_t *c)
{
	pthread_condattr_t a;
	int rc;

	pthread_condattr_init(&a);
	/* sk_wait() computes deadlines on CLOCK_MONOTONIC; shared for the future arena. */
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_condattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	rc = pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
	return rc;
}

/*
 * Allocates prot->obj_size zeroed bytes for a sock of family with one
 * reference; the queues and the condition variable are ready to use.
 */
struct sock *sk_alloc(struct nstack *ns, int family, const struct proto *prot)
{
	struct sock *sk;

	assert(prot->obj_size >= sizeof(struct sock));
	sk = ns_zalloc(ns, prot->obj_size);
	if (!sk)
		return NULL;
	if (init_cond(&sk->sk_wait) != 0) {
		ns_free(ns, sk);
		return NULL;
	}
	sk->ns = ns;
	sk->sk_prot_ref = ns_ref(prot);
	sk->sk_family = (uint16_t)family;
	sk->sk_refcnt = 1;
	skb_queue_head_init(&sk->sk_receive_queue);
	skb_queue_head_init(&sk->sk_error_queue);
	skb_queue_head_init(&sk->sk_write_queue);
	ns->sock_live++;
	return sk;
}

static void waiter_unlink(struct sk_waitent *w);

static void sk_free(struct sock *sk)
{
	struct nstack *ns = sk->ns;

	skb_queue_purge(&sk->sk_receive_queue);
	skb_queue_purge(&sk->sk_error_queue);
	skb_queue_purge(&sk->sk_write_queue);
	/* A poller still registered (it holds a reference on the file, not on sk). */
	while (sk->sk_waiters)
		waiter_unlink(sk->sk_waiters);
	pthread_cond_destroy(&sk->sk_wait);
	ns_free(ns, sk);
	ns->sock_live--;
}

/*
 * Sets the defaults every socket starts with (Linux's sock_init_data):
 * buffer sizes from net.core.[rw]mem_default, blocking forever, the default
 * wake-ups, and links sk and sock when sock is given.
 */
void sock_init_data(struct socket *sock, struct sock *sk)
{
	sk->sk_rcvbuf = SK_RMEM_DEFAULT;
	sk->sk_sndbuf = SK_WMEM_DEFAULT;
	sk->sk_state = SK_ST_CLOSE;
	sk->sk_rcvlowat = 1;
	sk->sk_sndlowat = 1;
	sk->sk_rcvtimeo = SK_TIMEO_INFINITE;
	sk->sk_sndtimeo = SK_TIMEO_INFINITE;
	sk->sk_state_change = ns_ref(sock_def_wakeup);
	sk->sk_data_ready = ns_ref(sock_def_readable);
	sk->sk_write_space = ns_ref(sock_def_write_space);
	sk->sk_error_report = ns_ref(sock_def_error_report);
	sock_set_flag(sk, SOCK_ZAPPED);
	if (sock) {
		sk->sk_type = (uint16_t)sock->type;
		sock_graft(sk, sock);
	}
}

/* Takes a reference on sk. */
void sock_hold(struct sock *sk)
{
	sk->sk_refcnt++;
}

/* Drops a reference; the last one runs prot->destroy and frees sk. */
void sock_put(struct sock *sk)
{
	if (sk->sk_refcnt == 0) {
		/* One put too many after a death inside: leaked, never freed twice. */
		NS_REPAIRING(sk->ns);
		return;
	}
	if (--sk->sk_refcnt)
		return;
	if (sk_prot(sk)->destroy)
		sk_prot(sk)->destroy(sk);
	sk_free(sk);
}

/* Cuts sk loose from its struct socket: the application has closed it. */
void sock_orphan(struct sock *sk)
{
	sock_set_flag(sk, SOCK_DEAD);
	if (sk->sk_socket)
		sk->sk_socket->sk = NULL;
	sk->sk_socket = NULL;
}

/* Links sk under parent (accept() hands a new sock to a new socket this way). */
void sock_graft(struct sock *sk, struct socket *parent)
{
	sk->sk_socket = parent;
	parent->sk = sk;
	sock_reset_flag(sk, SOCK_DEAD);
}

/* Wakes every thread sleeping on sk and mirrors readiness to the embedder. */
static void sock_wake(struct sock *sk)
{
	struct nstack *ns = sk->ns;
	struct nstack_local *l = ns_local(ns);

	pthread_cond_broadcast(&sk->sk_wait);
	/*
	 * Tokens first and regardless of release_pending: a thread blocked in
	 * a call on a socket another thread closed must still see its events.
	 */
	for (struct sk_waitent *w = sk->sk_waiters; w; w = w->next) {
		if (w->slot == l->slot) {
			if (l->wait_ops.wake)
				l->wait_ops.wake(l->wait_ops.ctx, (void *)w->token);
		} else {
			ns_mail_post(ns, w->slot, NS_MAIL_WAKE, w->token);
		}
	}
	/* A socket closed while a call is still inside is no longer the embedder's. */
	if (sk->sk_socket && !sk->sk_socket->release_pending)
		ns_sock_event(ns, sk->sk_socket);
}

/* State changed (connected, closed): wake everyone. */
void sock_def_wakeup(struct sock *sk)
{
	sock_wake(sk);
}

/* Data arrived. */
void sock_def_readable(struct sock *sk)
{
	sock_wake(sk);
}

/* Send buffer space was freed; wake writers once half the buffer is free, as Linux. */
void sock_def_write_space(struct sock *sk)
{
	if (sock_writeable(sk))
		sock_wake(sk);
}

/* An error is pending (sk_err or the error queue). */
void sock_def_error_report(struct sock *sk)
{
	sock_wake(sk);
}

/*
 * Sleeps on sk->sk_wait with the stack lock for at most *timeo microseconds
 * of real time. The stack clock cannot be used: in tests it is manual and
 * would never advance while we sleep, and a condition variable can only
 * time out against a system clock (CLOCK_MONOTONIC, set in sk_alloc).
 */
static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static struct sk_waitent *waiter_link(struct sock *sk, void *token)
{
	struct sk_waitent *w = ns_zalloc(sk->ns, sizeof(*w));

	if (!w)
		return NULL;
	w->sk = sk;
	w->token = (uintptr_t)token;
	w->slot = ns_local(sk->ns)->slot;
	w->next = sk->sk_waiters;
	if (w->next)
		w->next->pprev = &w->next;
	w->pprev = &sk->sk_waiters;
	sk->sk_waiters = w;
	return w;
}

/* Takes w off its sock's list (it stays allocated: its owner frees it). */
static void waiter_unlink(struct sk_waitent *w)
{
	if (!w || !w->pprev)
		return;
	*w->pprev = w->next;
	if (w->next)
		w->next->pprev = w->pprev;
	w->next = NULL;
	w->pprev = NULL;
	w->sk = NULL;
}

/* Drops every registration of process slot (it died) from sk. */
void sk_waiters_drop_slot(struct sock *sk, int slot)
{
	struct sk_waitent *w = sk->sk_waiters, *next;

	for (; w; w = next) {
		next = w->next;
		if (w->slot == slot) {
			waiter_unlink(w);
			ns_free(sk->ns, w);
		}
	}
}

/*
 * sk_wait() through the embedder's wait ops: the token is linked before the
 * lock is dropped, so an event between the caller's check and the sleep
 * still wakes it (the token remembers it: no lost wake-up).
 */
static int sk_wait_ops(struct sock *sk, void *token, int64_t *timeo)
{
	struct nstack *ns = sk->ns;
	struct sk_waitent *w;
	int64_t start = mono_us(), slept;
	int rc;

	struct nstack_wait_ops ops = ns_local(ns)->wait_ops; /* read under the lock */
	int rx_fd;

	w = waiter_link(sk, token);
	if (!w)
		return -ENOMEM;
	rx_fd = ns_rx_direct_begin(ns);
	pthread_mutex_unlock(&ns->lock);
	if (rx_fd >= 0)
		rc = ns_rx_direct_spin(ns, rx_fd) ? 1 : ops.sleep_rx(ops.ctx, token, *timeo, rx_fd);
	else
		rc = ops.sleep(ops.ctx, token, *timeo);
	ns_lock(ns);
	/* sk outlives the sleep: the caller holds a reference on its socket. */
	waiter_unlink(w);
	ns_free(ns, w);
	/* Unlinked first: what the frames bring for sk need not ring our own token. */
	if (rx_fd >= 0)
		ns_rx_direct_end(ns, rc == 1);
	if (*timeo != SK_TIMEO_INFINITE) {
		slept = mono_us() - start;
		*timeo = slept >= *timeo ? 0 : *timeo - (slept > 0 ? slept : 0);
		if (!rc && !*timeo)
			return -EAGAIN;
	}
	return rc == -EINTR ? -EINTR : 0;
}

int sk_wait(struct sock *sk, int64_t *timeo)
{
	struct nstack *ns = sk->ns;
	struct timespec start, end, dl;
	int64_t slept;
	void *token;
	int rc;

	if (*timeo <= 0)
		return -EAGAIN;
	dev_xmit_release(ns);
	if (ns_local(ns)->wait_ops.token &&
	    (token = ns_local(ns)->wait_ops.token(ns_local(ns)->wait_ops.ctx)))
		return sk_wait_ops(sk, token, timeo);
	if (*timeo == SK_TIMEO_INFINITE) {
		if (pthread_cond_wait(&sk->sk_wait, &ns->lock) == EOWNERDEAD)
			ns_lock_recovered(ns);
		return 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	dl.tv_sec = start.tv_sec + (time_t)(*timeo / 1000000);
	dl.tv_nsec = start.tv_nsec + (long)(*timeo % 1000000) * 1000;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	rc = pthread_cond_timedwait(&sk->sk_wait, &ns->lock, &dl);
	if (rc == EOWNERDEAD) {
		ns_lock_recovered(ns);
		rc = 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	slept =
	    (int64_t)(end.tv_sec - start.tv_sec) * 1000000 + (end.tv_nsec - start.tv_nsec) / 1000;
	if (rc == ETIMEDOUT || slept >= *timeo) {
		*timeo = 0;
		return rc == ETIMEDOUT ? -EAGAIN : 0;
	}
	*timeo -= slept > 0 ? slept : 0;
	return 0;
}

/* Returns the pending error as -errno and clears it, or 0. */
int sock_error(struct sock *sk)
{
	int err = sk->sk_err;

	if (!err)
		return 0;
	sk->sk_err = 0;
	return -err;
}

/* The pool sk's receive memory counts against, or NULL for the protocols Linux does not account. */
static struct proto_mem *sk_mem_pool(const struct sock *sk)
{
	struct nstack *ns = sk->ns;

	if (sk->sk_type == SOCK_STREAM && sk->sk_protocol == IPPROTO_TCP)
		return &ns->tcp_mem;
	if (sk->sk_type == SOCK_DGRAM && sk->sk_protocol == IPPROTO_UDP)
		return &ns->udp_mem;
	return NULL;
}

/*
 * The pool's limits in pages: tcp_mem or udp_mem, each mark at most 3/16,
 * 1/4 and 3/8 of the arena. The host's sysctls are sized for its RAM; the
 * stack's RAM is its arena, and a bound past it would never bind.
 */
static void sk_mem_limits(const struct sock *sk, const struct proto_mem *pool, uint64_t lim[3])
{
	const struct nstack *ns = sk->ns;
	const int *cfg = pool == &ns->tcp_mem ? ns->cfg.tcp.mem : ns->cfg.tcp.udp_mem;
	uint64_t arena = ns->arena->size / SK_MEM_PAGE;
	const uint64_t cap[3] = {arena * 3 / 16, arena / 4, arena * 3 / 8};

	for (int i = 0; i < 3; i++) {
		uint64_t v = cfg[i] > 0 ? (uint64_t)cfg[i] : 0;

		lim[i] = v < cap[i] ? v : cap[i];
	}
}

static uint64_t sk_mem_pages(uint64_t bytes)
{
	return (bytes + SK_MEM_PAGE - 1) / SK_MEM_PAGE;
}

/* True while sk's protocol holds less than its min mark (tcp_mem[0]). */
bool sk_mem_under_min(const struct sock *sk)
{
	const struct proto_mem *pool = sk_mem_pool(sk);
	uint64_t lim[3];

	if (!pool)
		return true;
	sk_mem_limits(sk, pool, lim);
	return pool->allocated < lim[0] * SK_MEM_PAGE;
}

/* True while sk's protocol holds more than its max mark (tcp_mem[2]). */
bool sk_mem_over_max(const struct sock *sk)
{
	const struct proto_mem *pool = sk_mem_pool(sk);
	uint64_t lim[3];

	if (!pool)
		return false;
	sk_mem_limits(sk, pool, lim);
	return sk_mem_pages(pool->allocated) > lim[2];
}

/* True while TCP is under memory pressure (tcp_under_memory_pressure). */
bool sk_under_memory_pressure(const struct sock *sk)
{
	const struct proto_mem *pool = sk_mem_pool(sk);

	return pool && pool->pressure;
}

/*
 * May sk take size more bytes of receive memory? Linux's
 * __sk_mem_raise_allocated() for SK_MEM_RECV: always below the protocol's
 * min; above max never; in between only a socket holding less than its
 * minimum buffer (tcp_rmem[0], udp_rmem_min), or, for TCP, one not above its
 * fair share while under pressure (or any while not yet under pressure).
 * UDP has no pressure state, so above min it is held to its minimum.
 */
bool sk_rmem_schedule(struct sock *sk, unsigned int size)
{
	struct proto_mem *pool = sk_mem_pool(sk);
	bool tcp = pool == &sk->ns->tcp_mem;
	uint64_t pages, rmem0, lim[3];

	if (!pool)
		return true;
	sk_mem_limits(sk, pool, lim);
	pages = sk_mem_pages(pool->allocated + size);
	if (pages <= lim[0]) {
		pool->pressure = false;
		return true;
	}
	if (tcp && pages > lim[1] && !pool->pressure) {
		pool->pressure = true;
		NS_INC_STATS(sk->ns, TcpExtTCPMemoryPressures);
	}
	if (pages > lim[2])
		return false;
	rmem0 = tcp ? (uint64_t)sk->ns->cfg.tcp.rmem[0] : SK_MEM_PAGE;
	if (sk->sk_rmem_alloc < rmem0)
		return true;
	if (tcp) {
		uint64_t mine = sk_mem_pages((uint64_t)sk->sk_rmem_alloc + size);

		if (!pool->pressure || lim[2] > pool->sockets * mine)
			return true;
	}
	return false;
}

static void sock_rfree(struct sk_buff *skb)
{
	struct sock *sk = skb->sk;
	struct proto_mem *pool = sk_mem_pool(sk);

	if (sk->sk_rmem_alloc < skb->truesize) {
		/* Charged by a process that died before it counted. */
		NS_REPAIRING(sk->ns);
		sk->sk_rmem_alloc = skb->truesize;
	}
	sk->sk_rmem_alloc -= skb->truesize;
	if (pool) {
		if (pool->allocated < skb->truesize) {
			NS_REPAIRING(sk->ns);
			pool->allocated = skb->truesize;
		}
		pool->allocated -= skb->truesize;
		if (pool->pressure) {
			uint64_t lim[3];

			sk_mem_limits(sk, pool, lim);
			if (sk_mem_pages(pool->allocated) < lim[0])
				pool->pressure = false;
		}
	}
}

static void sock_wfree(struct sk_buff *skb)
{
	struct sock *sk = skb->sk;

	if (sk->sk_wmem_alloc < skb->truesize) {
		NS_REPAIRING(sk->ns);
		sk->sk_wmem_alloc = skb->truesize;
	}
	sk->sk_wmem_alloc -= skb->truesize;
	if (!sock_flag(sk, SOCK_DEAD))
		SK_CB(sk, sk_write_space)(sk);
	/* The send buffer holds a reference so a packet waiting for ARP outlives close(). */
	sock_put(sk);
}

/* Charges skb to sk's receive buffer until it is freed. */
void skb_set_owner_r(struct sk_buff *skb, struct sock *sk)
{
	struct proto_mem *pool;

	assert(!skb->destructor);
	skb->sk = sk;
	skb_set_destructor(skb, sock_rfree);
	sk->sk_rmem_alloc += skb->truesize;
	if ((pool = sk_mem_pool(sk)))
		pool->allocated += skb->truesize;
}

/* Charges skb to sk's send buffer until it is freed (holds a reference on sk). */
void skb_set_owner_w(struct sk_buff *skb, struct sock *sk)
{
	assert(!skb->destructor);
	sock_hold(sk);
	skb->sk = sk;
	skb_set_destructor(skb, sock_wfree);
	sk->sk_wmem_alloc += skb->truesize;
}

/*
 * Queues skb for the reader. As Linux's __udp_enqueue_schedule_skb, one
 * datagram is always let in while the buffer is not over its limit, so a
 * tiny SO_RCVBUF still receives; past the limit -ENOMEM; refused by the
 * protocol's global limit (udp_mem) -ENOBUFS (caller counts and frees).
 */
int sock_queue_rcv_skb(struct sock *sk, struct sk_buff *skb)
{
	if (sk->sk_rmem_alloc > (unsigned int)sk->sk_rcvbuf ||
	    (sk->sk_rmem_alloc && sk->sk_rmem_alloc + skb->truesize > (unsigned int)sk->sk_rcvbuf))
		return -ENOMEM;
	if (!sk_rmem_schedule(sk, skb->truesize))
		return -ENOBUFS;
	skb_set_owner_r(skb, sk);
	skb_queue_tail(&sk->sk_receive_queue, skb);
	if (!sock_flag(sk, SOCK_DEAD))
		SK_CB(sk, sk_data_ready)(sk);
	return 0;
}

/* Queues an IP_RECVERR entry (Linux's sock_queue_err_skb); -ENOMEM when full. */
int sock_queue_err_skb(struct sock *sk, struct sk_buff *skb)
{
	if (sk->sk_rmem_alloc + skb->truesize >= (unsigned int)sk->sk_rcvbuf)
		return -ENOMEM;
	skb_set_owner_r(skb, sk);
	skb_queue_tail(&sk->sk_error_queue, skb);
	if (!sock_flag(sk, SOCK_DEAD))
		SK_CB(sk, sk_error_report)(sk);
	return 0;
}

void sock_zerocopy_notify(struct sock *sk, uint32_t lo, uint32_t len)
{
	struct sk_buff *tail = skb_peek_tail(&sk->sk_error_queue), *skb;
	struct sock_exterr_skb *serr;

	if (tail && skb_exterr(tail)->ee.ee_origin == SO_EE_ORIGIN_ZEROCOPY) {
		serr = skb_exterr(tail);
		if (lo == serr->ee.ee_data + 1 &&
		    (uint64_t)serr->ee.ee_data - serr->ee.ee_info + 1 + len < (1ull << 32)) {
			serr->ee.ee_data += len;
			/*
			 * Reported even when merged into the queued notification,
			 * as Linux's __msg_zerocopy_callback: an edge-triggered
			 * epoll (EPOLLERR) sees the new completion.
			 */
			SK_CB(sk, sk_error_report)(sk);
			return;
		}
	}
	skb = alloc_skb(sk->ns, 0);
	if (!skb)
		return;
	serr = skb_exterr(skb);
	memset(serr, 0, sizeof(*serr));
	serr->ee.ee_origin = SO_EE_ORIGIN_ZEROCOPY;
	serr->ee.ee_code = SO_EE_CODE_ZEROCOPY_COPIED;
	serr->ee.ee_info = lo;
	serr->ee.ee_data = lo + len - 1;
	if (sock_queue_err_skb(sk, skb))
		kfree_skb(skb); /* over the receive buffer: lost, as on Linux */
}

/* Wall-clock time of a stack-clock instant (the stack clock is monotonic). */
static struct timespec stack_to_wall(const struct nstack *ns, uint64_t at_us)
{
	struct timespec now, t;
	int64_t age = at_us ? (int64_t)(ns_now(ns) - at_us) : 0, wall;

	if (age < 0)
		age = 0;
	clock_gettime(CLOCK_REALTIME, &now);
	wall = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec - age * 1000;
	t.tv_sec = wall / 1000000000;
	t.tv_nsec = wall % 1000000000;
	return t;
}

void sock_tx_timestamp(struct sock *sk, const struct sk_buff *data, int tstype, uint32_t key)
{
	bool tsonly = sk->sk_tsflags & SOF_TIMESTAMPING_OPT_TSONLY;
	unsigned int len = data && !tsonly ? data->len : 0;
	struct sock_exterr_skb *serr;
	struct sk_buff *skb = alloc_skb(sk->ns, len);

	if (!skb)
		return;
	if (len)
		memcpy(skb_put(skb, len), data->data, len);
	skb->tstamp_us = ns_now(sk->ns);
	serr = skb_exterr(skb);
	memset(serr, 0, sizeof(*serr));
	serr->ee.ee_errno = ENOMSG;
	serr->ee.ee_origin = SO_EE_ORIGIN_TIMESTAMPING;
	serr->ee.ee_info = (uint32_t)tstype;
	if (sk->sk_tsflags & SOF_TIMESTAMPING_OPT_ID)
		serr->ee.ee_data = key;
	if (sock_queue_err_skb(sk, skb))
		kfree_skb(skb);
}

void sock_put_tx_timestamp(struct msghdr *msg, const struct sock *sk, const struct sk_buff *skb)
{
	struct timespec ts[3];

	memset(ts, 0, sizeof(ts));
	if (sk->sk_tsflags & SOF_TIMESTAMPING_SOFTWARE)
		ts[0] = stack_to_wall(sk->ns, skb->tstamp_us);
	put_cmsg(msg, SOL_SOCKET, SO_TIMESTAMPING_OLD, sizeof(ts), ts);
}

/* Writable while less than half the send buffer is in flight (Linux's sock_writeable). */
bool sock_writeable(const struct sock *sk)
{
	return sk->sk_wmem_alloc < (unsigned int)(sk->sk_sndbuf >> 1);
}

/* See sock.h. */
struct sk_buff *sock_alloc_send_skb(struct sock *sk, unsigned int size, bool noblock, int *err)
{
	int64_t timeo = sock_sndtimeo(sk, noblock);
	struct sk_buff *skb;
	int rc;

	for (;;) {
		rc = sock_error(sk);
		if (rc)
			goto fail;
		if (sk->sk_shutdown & SEND_SHUTDOWN) {
			rc = -EPIPE;
			goto fail;
		}
		if (sk->sk_wmem_alloc < (unsigned int)sk->sk_sndbuf)
			break;
		rc = sk_wait(sk, &timeo);
		if (rc)
			goto fail;
	}
	skb = alloc_skb_hdr(sk->ns, size);
	if (!skb) {
		rc = -ENOBUFS;
		goto fail;
	}
	skb_set_owner_w(skb, sk);
	return skb;
fail:
	*err = rc;
	return NULL;
}

/*
 * Takes the next datagram (Linux's skb_recv_datagram): a pending error
 * first, then the queue; waits as flags and SO_RCVTIMEO allow. With
 * MSG_PEEK the datagram stays queued and a clone is returned. NULL with
 * *err = 0 means end of file (shutdown for reading).
 */
struct sk_buff *skb_recv_datagram(struct sock *sk, int flags, int *err)
{
	int64_t timeo = sock_rcvtimeo(sk, flags & MSG_DONTWAIT);
	struct sk_buff *skb;
	int rc;

	for (;;) {
		rc = sock_error(sk);
		if (rc)
			goto fail;
		skb = skb_peek(&sk->sk_receive_queue);
		if (skb) {
			if (flags & MSG_PEEK) {
				skb = skb_clone(skb);
				if (!skb) {
					rc = -ENOMEM;
					goto fail;
				}
				return skb;
			}
			skb_unlink(&sk->sk_receive_queue, skb);
			return skb;
		}
		if (sk->sk_shutdown & RCV_SHUTDOWN) {
			rc = 0;
			goto fail;
		}
		rc = sk_wait(sk, &timeo);
		if (rc)
			goto fail;
	}
fail:
	*err = rc;
	return NULL;
}

/* Readiness of a datagram socket, as Linux's datagram_poll(). */
unsigned int datagram_poll(struct socket *sock)
{
	struct sock *sk = sock->sk;
	unsigned int mask = 0;

	if (!sk)
		return POLLNVAL;
	if (sk->sk_err || !skb_queue_empty(&sk->sk_error_queue))
		mask |= POLLERR;
	if (sk->sk_shutdown & RCV_SHUTDOWN)
		mask |= POLLRDHUP | POLLIN | POLLRDNORM;
	if (sk->sk_shutdown == SHUTDOWN_MASK)
		mask |= POLLHUP;
	if (!skb_queue_empty(&sk->sk_receive_queue))
		mask |= POLLIN | POLLRDNORM;
	if (sock->type == SOCK_STREAM || sock->type == SOCK_SEQPACKET) {
		if (sk->sk_state == SK_ST_CLOSE)
			mask |= POLLHUP;
		if (sk->sk_state == SK_ST_SYN_SENT)
			return mask;
	}
	if (sock_writeable(sk))
		mask |= POLLOUT | POLLWRNORM | POLLWRBAND;
	return mask;
}

/* Total bytes the iovecs of msg can hold. */
size_t msg_data_len(const struct msghdr *msg)
{
	size_t n = 0;

	for (size_t i = 0; i < msg->msg_iovlen; i++) {
		if (msg->msg_iov[i].iov_len > SSIZE_MAX - n)
			return SSIZE_MAX;
		n += msg->msg_iov[i].iov_len;
	}
	return n;
}

/*
 * Walks the iovecs of msg from byte offset for len bytes, copying to or
 * from buf. -EFAULT when the iovecs are too short or a base is NULL.
 */
static int msg_iov_copy(const struct msghdr *msg, size_t offset, void *buf, size_t len, bool to_msg)
{
	unsigned char *p = buf;

	for (size_t i = 0; i < msg->msg_iovlen && len; i++) {
		const struct iovec *iov = &msg->msg_iov[i];
		size_t n;

		if (offset >= iov->iov_len) {
			offset -= iov->iov_len;
			continue;
		}
		n = iov->iov_len - offset;
		if (n > len)
			n = len;
		if (!iov->iov_base)
			return -EFAULT;
		if (to_msg)
			memcpy((unsigned char *)iov->iov_base + offset, p, n);
		else
			memcpy(p, (unsigned char *)iov->iov_base + offset, n);
		p += n;
		len -= n;
		offset = 0;
	}
	return len ? -EFAULT : 0;
}

/* Copies len bytes of skb data from offset into the start of msg's iovecs. */
int skb_copy_datagram_msg(const struct sk_buff *skb, unsigned int offset, struct msghdr *msg,
			  size_t len)
{
	if (offset > skb->len || len > skb->len - offset)
		return -EFAULT;
	return msg_iov_copy(msg, 0, skb->data + offset, len, true);
}

/* Copies len bytes from msg's iovecs, starting offset bytes in, to to. */
int memcpy_from_msg(void *to, const struct msghdr *msg, size_t offset, size_t len)
{
	return msg_iov_copy(msg, offset, to, len, false);
}

/* Copies len bytes from from into msg's iovecs, starting offset bytes in. */
int memcpy_to_msg(struct msghdr *msg, size_t offset, const void *from, size_t len)
{
	return msg_iov_copy(msg, offset, (void *)from, len, true);
}

/*
 * Appends a control message, as Linux's put_cmsg(): msg_control advances
 * and msg_controllen shrinks (the API entry point turns that back into the
 * length used); a message that does not fit is cut and MSG_CTRUNC set.
 */
int put_cmsg(struct msghdr *msg, int level, int type, size_t len, const void *data)
{
	struct cmsghdr h;
	size_t cmlen = CMSG_LEN(len);
	size_t space;

	_Static_assert(CMSG_LEN(0) == sizeof(struct cmsghdr), "cmsg data follows the header");
	if (!msg->msg_control || msg->msg_controllen < sizeof(struct cmsghdr)) {
		msg->msg_flags |= MSG_CTRUNC;
		return 0;
	}
	if (msg->msg_controllen < cmlen) {
		msg->msg_flags |= MSG_CTRUNC;
		cmlen = msg->msg_controllen;
	}
	memset(&h, 0, sizeof(h));
	h.cmsg_level = level;
	h.cmsg_type = type;
	h.cmsg_len = cmlen;
	memcpy(msg->msg_control, &h, sizeof(h));
	/* No struct cmsghdr * cast: a caller's buffer need not be aligned. */
	memcpy((char *)msg->msg_control + CMSG_LEN(0), data, cmlen - CMSG_LEN(0));
	space = CMSG_SPACE(len);
	if (space > msg->msg_controllen)
		space = msg->msg_controllen;
	msg->msg_control = (char *)msg->msg_control + space;
	msg->msg_controllen -= space;
	return 0;
}

/*
 * SO_TIMESTAMP(NS): the stack stamps packets with its monotonic clock, but
 * the option promises wall-clock time, so the age of the packet on the
 * stack clock is subtracted from CLOCK_REALTIME now.
 */
void sock_recv_timestamp(struct msghdr *msg, const struct sock *sk, const struct sk_buff *skb)
{
	bool ts = sock_flag(sk, SOCK_RCVTSTAMP), tsns = sock_flag(sk, SOCK_RCVTSTAMPNS);
	struct timespec wall;

	if (!ts && !tsns)
		return;
	wall = stack_to_wall(sk->ns, skb->tstamp_us);
	if (tsns) {
		put_cmsg(msg, SOL_SOCKET,
			 sock_flag(sk, SOCK_TSTAMP_NEW) ? SO_TIMESTAMPNS_NEW : SO_TIMESTAMPNS_OLD,
			 sizeof(wall), &wall);
	} else {
		struct timeval t = {.tv_sec = wall.tv_sec, .tv_usec = wall.tv_nsec / 1000};

		put_cmsg(msg, SOL_SOCKET,
			 sock_flag(sk, SOCK_TSTAMP_NEW) ? SO_TIMESTAMP_NEW : SO_TIMESTAMP_OLD,
			 sizeof(t), &t);
	}
}

/* Linux's sock_set_timeout(): {0,0} is forever, a negative time means do not block. */
static int sock_set_timeout(int64_t *timeo, const void *optval, socklen_t optlen)
{
	struct sock_timeval64 tv;

	_Static_assert(sizeof(struct timeval) == sizeof(tv), "64-bit timeval assumed");
	if (optlen < sizeof(tv))
		return -EINVAL;
	memcpy(&tv, optval, sizeof(tv));
	if (tv.tv_usec < 0 || tv.tv_usec >= 1000000)
		return -EDOM;
	if (tv.tv_sec < 0) {
		*timeo = 0;
		return 0;
	}
	if (tv.tv_sec == 0 && tv.tv_usec == 0) {
		*timeo = SK_TIMEO_INFINITE;
		return 0;
	}
	if (tv.tv_sec >= (SK_TIMEO_INFINITE - 1000000) / 1000000)
		*timeo = SK_TIMEO_INFINITE;
	else
		*timeo = tv.tv_sec * 1000000 + tv.tv_usec;
	return 0;
}

/* SO_BINDTODEVICE: our device by name, or "" to unbind (Linux's sock_setbindtodevice). */
static int sock_setbindtodevice(struct sock *sk, const void *optval, socklen_t optlen)
{
	struct nstack *ns = sk->ns;
	char name[IF_NAMESIZE];

	if ((int)optlen < 0)
		return -EINVAL;
	memset(name, 0, sizeof(name));
	if (optlen > IF_NAMESIZE - 1)
		optlen = IF_NAMESIZE - 1;
	if (optlen)
		memcpy(name, optval, optlen);
	if (!name[0]) {
		sk->sk_bound_dev_if = 0;
		return 0;
	}
	if (strcmp(name, ns->cfg.ifname) != 0 &&
	    (!ns_dev(ns) || strcmp(name, ns_dev(ns)->name) != 0))
		return -ENODEV;
	sk->sk_bound_dev_if = inet_dev_index(ns);
	return 0;
}

static void sock_set_sndbuf(struct sock *sk, unsigned int val)
{
	if (val > INT_MAX / 2)
		val = INT_MAX / 2;
	sk->sk_userlocks_snd = true;
	sk->sk_sndbuf = (int)val * 2 < SOCK_MIN_SNDBUF ? SOCK_MIN_SNDBUF : (int)val * 2;
	SK_CB(sk, sk_write_space)(sk);
}

static void sock_set_rcvbuf(struct sock *sk, unsigned int val)
{
	if (val > INT_MAX / 2)
		val = INT_MAX / 2;
	sk->sk_userlocks_rcv = true;
	sk->sk_rcvbuf = (int)val * 2 < SOCK_MIN_RCVBUF ? SOCK_MIN_RCVBUF : (int)val * 2;
}

/*
 * setsockopt(SOL_SOCKET), as Linux's sk_setsockopt(): int options need a
 * full int (-EINVAL otherwise), unknown options are -ENOPROTOOPT. We run as
 * the process and have no capability model, so the options Linux reserves
 * to CAP_NET_ADMIN (SO_MARK, SO_*BUFFORCE, SO_PRIORITY > 6) are allowed.
 */
int sock_setsockopt(struct socket *sock, int level, int optname, const void *optval,
		    socklen_t optlen)
{
	struct sock *sk = sock->sk;
	int val;
	bool valbool;

	if (level != SOL_SOCKET)
		return -ENOPROTOOPT;
	if (!sk)
		return -EBADF;
	if (optname == SO_BINDTODEVICE)
		return sock_setbindtodevice(sk, optval, optlen);
	if (optlen < sizeof(int))
		return -EINVAL;
	if (!optval)
		return -EFAULT;
	memcpy(&val, optval, sizeof(val));
	valbool = val != 0;

	switch (optname) {
	case SO_DEBUG:
		sock_valbool_flag(sk, SOCK_DBG, valbool);
		return 0;
	case SO_REUSEADDR:
		sk->sk_reuse = valbool;
		return 0;
	case SO_REUSEPORT:
		sk->sk_reuseport = valbool;
		return 0;
	case SO_DONTROUTE:
		sock_valbool_flag(sk, SOCK_LOCALROUTE, valbool);
		return 0;
	case SO_BROADCAST:
		sock_valbool_flag(sk, SOCK_BROADCAST, valbool);
		return 0;
	case SO_SNDBUF:
		/* Linux compares as u32, so a negative value means wmem_max. */
		sock_set_sndbuf(sk,
				(unsigned int)val > SK_WMEM_MAX ? SK_WMEM_MAX : (unsigned int)val);
		return 0;
	case SO_SNDBUFFORCE:
		sock_set_sndbuf(sk, val < 0 ? 0 : (unsigned int)val);
		return 0;
	case SO_RCVBUF:
		sock_set_rcvbuf(sk,
				(unsigned int)val > SK_RMEM_MAX ? SK_RMEM_MAX : (unsigned int)val);
		return 0;
	case SO_RCVBUFFORCE:
		sock_set_rcvbuf(sk, val < 0 ? 0 : (unsigned int)val);
		return 0;
	case SO_KEEPALIVE:
		if (sk_prot(sk)->keepalive)
			sk_prot(sk)->keepalive(sk, valbool);
		sock_valbool_flag(sk, SOCK_KEEPOPEN, valbool);
		return 0;
	case SO_OOBINLINE:
		sock_valbool_flag(sk, SOCK_URGINLINE, valbool);
		return 0;
	case SO_NO_CHECK:
		if (sk->sk_family == AF_INET && sk->sk_type == SOCK_DGRAM &&
		    sk->sk_protocol == IPPROTO_UDP)
			((struct udp_sock *)sk)->no_check_tx = valbool;
		return 0;
	case SO_PRIORITY:
		sk->sk_priority = val;
		return 0;
	case SO_LINGER: {
		struct linger l;

		if (optlen < sizeof(l))
			return -EINVAL;
		memcpy(&l, optval, sizeof(l));
		if (!l.l_onoff) {
			sock_reset_flag(sk, SOCK_LINGER);
		} else {
			sk->sk_lingertime = l.l_linger < 0 ? INT_MAX : l.l_linger;
			sock_set_flag(sk, SOCK_LINGER);
		}
		return 0;
	}
	case SO_PASSCRED:
		sock_valbool_flag(sk, SOCK_PASSCRED, valbool);
		return 0;
	case SO_TIMESTAMP_OLD:
	case SO_TIMESTAMP_NEW:
	case SO_TIMESTAMPNS_OLD:
	case SO_TIMESTAMPNS_NEW:
		/* As Linux's sock_set_timestamp(): the last choice of layout and resolution wins.
		 */
		if (valbool) {
			sock_valbool_flag(sk, SOCK_TSTAMP_NEW,
					  optname == SO_TIMESTAMP_NEW ||
					      optname == SO_TIMESTAMPNS_NEW);
			sock_valbool_flag(sk, SOCK_RCVTSTAMPNS,
					  optname == SO_TIMESTAMPNS_OLD ||
					      optname == SO_TIMESTAMPNS_NEW);
			sock_set_flag(sk, SOCK_RCVTSTAMP);
		} else {
			sock_reset_flag(sk, SOCK_RCVTSTAMP);
			sock_reset_flag(sk, SOCK_RCVTSTAMPNS);
		}
		return 0;
	case SO_RCVLOWAT:
		sk->sk_rcvlowat = val < 0 ? INT_MAX : (val ? val : 1);
		SK_CB(sk, sk_data_ready)(sk);
		return 0;
	case SO_RCVTIMEO_OLD:
	case SO_RCVTIMEO_NEW:
		return sock_set_timeout(&sk->sk_rcvtimeo, optval, optlen);
	case SO_SNDTIMEO_OLD:
	case SO_SNDTIMEO_NEW:
		return sock_set_timeout(&sk->sk_sndtimeo, optval, optlen);
	case SO_MARK:
		sk->sk_mark = (uint32_t)val;
		return 0;
	case SO_TIMESTAMPING_OLD:
	case SO_TIMESTAMPING_NEW:
		/* Software stamps only (no PHC); Linux's sock_set_timestamping() checks. */
		if ((unsigned int)val & ~(unsigned int)SOF_TIMESTAMPING_MASK)
			return -EINVAL;
		if ((unsigned int)val & SOF_TIMESTAMPING_BIND_PHC)
			return -EINVAL;
		if ((val & SOF_TIMESTAMPING_OPT_ID) &&
		    !(sk->sk_tsflags & SOF_TIMESTAMPING_OPT_ID)) {
			if (sk->sk_type == SOCK_STREAM && sk->sk_protocol == IPPROTO_TCP) {
				if ((1u << sk->sk_state) & (TCPF_CLOSE | TCPF_LISTEN))
					return -EINVAL;
				sk->sk_tskey = tcp_sk(sk)->snd_una;
			} else {
				sk->sk_tskey = 0;
			}
		}
		sk->sk_tsflags = (uint32_t)val;
		return 0;
	case SO_ZEROCOPY:
		/* Linux's sk_setsockopt: TCP and UDP only, a boolean 0 or 1. */
		if (!(sk->sk_type == SOCK_STREAM && sk->sk_protocol == IPPROTO_TCP) &&
		    !(sk->sk_type == SOCK_DGRAM && sk->sk_protocol == IPPROTO_UDP))
			return -EOPNOTSUPP;
		if (val < 0 || val > 1)
			return -EINVAL;
		sock_valbool_flag(sk, SOCK_ZEROCOPY, val);
		return 0;
	default:
		/* SO_SNDLOWAT is not changeable on Linux either (socket(7)). */
		return -ENOPROTOOPT;
	}
}

/*
 * Copies an option value of lv bytes out as Linux does: truncated to the
 * caller's length, which becomes the length copied; -EFAULT without a
 * buffer.
 */
int sock_put_opt(void *optval, socklen_t *optlen, const void *v, size_t lv)
{
	size_t len = *optlen;

	if (len > lv)
		len = lv;
	if (len && !optval)
		return -EFAULT;
	memcpy(optval, v, len);
	*optlen = (socklen_t)len;
	return 0;
}

static void timeo_to_tv(int64_t timeo, struct sock_timeval64 *tv)
{
	if (timeo == SK_TIMEO_INFINITE) {
		tv->tv_sec = 0;
		tv->tv_usec = 0;
	} else {
		tv->tv_sec = timeo / 1000000;
		tv->tv_usec = timeo % 1000000;
	}
}

/* getsockopt(SOL_SOCKET), as Linux's sk_getsockopt(). */
int sock_getsockopt(struct socket *sock, int level, int optname, void *optval, socklen_t *optlen)
{
	struct sock *sk = sock->sk;
	int v = 0;

	if (level != SOL_SOCKET)
		return -ENOPROTOOPT;
	if (!sk)
		return -EBADF;
	if ((int)*optlen < 0)
		return -EINVAL;

	switch (optname) {
	case SO_DEBUG:
		v = sock_flag(sk, SOCK_DBG);
		break;
	case SO_DONTROUTE:
		v = sock_flag(sk, SOCK_LOCALROUTE);
		break;
	case SO_BROADCAST:
		v = sock_flag(sk, SOCK_BROADCAST);
		break;
	case SO_SNDBUF:
		v = sk->sk_sndbuf;
		break;
	case SO_RCVBUF:
		v = sk->sk_rcvbuf;
		break;
	case SO_REUSEADDR:
		v = sk->sk_reuse;
		break;
	case SO_REUSEPORT:
		v = sk->sk_reuseport;
		break;
	case SO_KEEPALIVE:
		v = sock_flag(sk, SOCK_KEEPOPEN);
		break;
	case SO_TYPE:
		v = sk->sk_type;
		break;
	case SO_PROTOCOL:
		v = sk->sk_protocol;
		break;
	case SO_DOMAIN:
		v = sk->sk_family;
		break;
	case SO_ERROR:
		v = -sock_error(sk);
		if (!v) {
			v = sk->sk_err_soft;
			sk->sk_err_soft = 0;
		}
		break;
	case SO_OOBINLINE:
		v = sock_flag(sk, SOCK_URGINLINE);
		break;
	case SO_NO_CHECK:
		if (sk->sk_family == AF_INET && sk->sk_type == SOCK_DGRAM &&
		    sk->sk_protocol == IPPROTO_UDP)
			v = ((struct udp_sock *)sk)->no_check_tx;
		break;
	case SO_PRIORITY:
		v = sk->sk_priority;
		break;
	case SO_LINGER: {
		struct linger l = {.l_onoff = sock_flag(sk, SOCK_LINGER),
				   .l_linger = sk->sk_lingertime};

		return sock_put_opt(optval, optlen, &l, sizeof(l));
	}
	case SO_TIMESTAMP_OLD:
		v = sock_flag(sk, SOCK_RCVTSTAMP) && !sock_flag(sk, SOCK_TSTAMP_NEW) &&
		    !sock_flag(sk, SOCK_RCVTSTAMPNS);
		break;
	case SO_TIMESTAMPNS_OLD:
		v = sock_flag(sk, SOCK_RCVTSTAMPNS) && !sock_flag(sk, SOCK_TSTAMP_NEW);
		break;
	case SO_TIMESTAMP_NEW:
		v = sock_flag(sk, SOCK_RCVTSTAMP) && sock_flag(sk, SOCK_TSTAMP_NEW) &&
		    !sock_flag(sk, SOCK_RCVTSTAMPNS);
		break;
	case SO_TIMESTAMPNS_NEW:
		v = sock_flag(sk, SOCK_RCVTSTAMPNS) && sock_flag(sk, SOCK_TSTAMP_NEW);
		break;
	case SO_RCVTIMEO_OLD:
	case SO_RCVTIMEO_NEW:
	case SO_SNDTIMEO_OLD:
	case SO_SNDTIMEO_NEW: {
		struct sock_timeval64 tv;
		bool rcv = optname == SO_RCVTIMEO_OLD || optname == SO_RCVTIMEO_NEW;

		timeo_to_tv(rcv ? sk->sk_rcvtimeo : sk->sk_sndtimeo, &tv);
		return sock_put_opt(optval, optlen, &tv, sizeof(tv));
	}
	case SO_RCVLOWAT:
		v = sk->sk_rcvlowat;
		break;
	case SO_SNDLOWAT:
		v = 1;
		break;
	case SO_PASSCRED:
		v = sock_flag(sk, SOCK_PASSCRED);
		break;
	case SO_ACCEPTCONN:
		v = sk->sk_state == SK_ST_LISTEN;
		break;
	case SO_MARK:
		v = (int)sk->sk_mark;
		break;
	case SO_ZEROCOPY:
		v = sock_flag(sk, SOCK_ZEROCOPY);
		break;
	case SO_TIMESTAMPING_OLD:
	case SO_TIMESTAMPING_NEW:
		v = (int)sk->sk_tsflags;
		break;
	case SO_BINDTODEVICE: {
		const char *name = ns_dev(sk->ns) ? ns_dev(sk->ns)->name : sk->ns->cfg.ifname;
		size_t n;

		if (!sk->sk_bound_dev_if) {
			*optlen = 0;
			return 0;
		}
		if (*optlen < IF_NAMESIZE)
			return -EINVAL;
		n = strnlen(name, IF_NAMESIZE - 1) + 1;
		if (!optval)
			return -EFAULT;
		memcpy(optval, name, n - 1);
		((char *)optval)[n - 1] = '\0';
		*optlen = (socklen_t)n;
		return 0;
	}
	case SO_MEMINFO: {
		/* Linux's sk_get_meminfo(): the SK_MEMINFO_* words, as much as fits. */
		uint32_t mem[SK_MEMINFO_VARS] = {0};

		if ((int)*optlen < 0)
			return -EINVAL;
		mem[SK_MEMINFO_RMEM_ALLOC] = sk->sk_rmem_alloc;
		mem[SK_MEMINFO_RCVBUF] = (uint32_t)sk->sk_rcvbuf;
		mem[SK_MEMINFO_WMEM_ALLOC] = sk->sk_wmem_alloc;
		mem[SK_MEMINFO_SNDBUF] = (uint32_t)sk->sk_sndbuf;
		mem[SK_MEMINFO_WMEM_QUEUED] = (uint32_t)sk->sk_wmem_queued;
		return sock_put_opt(optval, optlen, mem, sizeof(mem));
	}
	case SO_PEERNAME: {
		struct sockaddr_storage ss;
		socklen_t lv = sizeof(ss);
		int err;

		memset(&ss, 0, sizeof(ss));
		err = sock_ops(sock)->getname(sock, (struct sockaddr *)&ss, &lv, 2);
		if (err)
			return -ENOTCONN;
		/* Linux refuses a buffer longer than the address, and copies optlen bytes. */
		if (lv < *optlen)
			return -EINVAL;
		return sock_put_opt(optval, optlen, &ss, *optlen);
	}
	default:
		return -ENOPROTOOPT;
	}
	return sock_put_opt(optval, optlen, &v, sizeof(v));
}

/* proto_ops slot for families without bind(). */
int sock_no_bind(struct socket *sock, const struct sockaddr *addr, socklen_t len)
{
	return -EOPNOTSUPP;
}

/* proto_ops slot for families without connect(). */
int sock_no_connect(struct socket *sock, const struct sockaddr *addr, socklen_t len, int flags)
{
	return -EOPNOTSUPP;
}

/* proto_ops slot for connectionless sockets: accept() is -EOPNOTSUPP as on Linux. */
int sock_no_accept(struct socket *sock, struct socket *newsock, int flags)
{
	return -EOPNOTSUPP;
}

/* proto_ops slot for connectionless sockets: listen() is -EOPNOTSUPP as on Linux. */
int sock_no_listen(struct socket *sock, int backlog)
{
	return -EOPNOTSUPP;
}

/* proto_ops slot for families without shutdown(). */
int sock_no_shutdown(struct socket *sock, int how)
{
	return -EOPNOTSUPP;
}

/* proto_ops slot for families without ioctls. */
int sock_no_ioctl(struct socket *sock, unsigned long cmd, void *arg)
{
	return -ENOTTY;
}

/* Sets or clears the embedder's sleep/wake operations (see nstack.h). */
void nstack_set_wait_ops(struct nstack *ns, const struct nstack_wait_ops *ops)
{
	nstack_lock(ns);
	if (ops && ops->token && ops->sleep && ops->wake)
		ns_local(ns)->wait_ops = *ops;
	else
		memset(&ns_local(ns)->wait_ops, 0, sizeof(ns_local(ns)->wait_ops));
	nstack_unlock(ns);
}

/* Readiness now, with w registered for the changes after it (see nstack.h). */
unsigned int nstack_poll_wait(struct socket *sock, struct nstack_waiter *w)
{
	struct nstack *ns = sock->ns;
	unsigned int mask;

	w->ent = NULL;
	w->ns = ns;
	nstack_lock(ns);
	mask = sock->ops_ref && sock->sk ? sock_ops(sock)->poll(sock) : POLLNVAL;
	if (sock->sk && ns_local(ns)->wait_ops.wake)
		w->ent = waiter_link(sock->sk, w->token);
	nstack_unlock(ns);
	return mask;
}

void nstack_poll_end(struct nstack_waiter *w)
{
	if (!w->ns || !w->ent)
		return;
	nstack_lock(w->ns);
	/* The sock may have been freed since; sk_free() unlinked us then. */
	waiter_unlink(w->ent);
	ns_free(w->ns, w->ent);
	w->ent = NULL;
	nstack_unlock(w->ns);
}
