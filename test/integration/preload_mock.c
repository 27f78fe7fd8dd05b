/*
 * preload_mock: the preload's own machinery (fd table, fcntl/ioctl, dup,
 * close, poll, select, epoll and their wake-ups) against a mock stack whose
 * sockets' readiness the test sets by hand, calling the readiness hook as
 * the real stack does. Built from the preload and pcap_io sources and this file;
 * run as root with NSTACK_IFACE=lo (the live backend opens it, the mock
 * stack never uses it). Prints one line per check; exit 0 when all pass.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "netdevice.h"
#include "arena.h"
#include "nstack.h"

/* ---- the mock stack ---- */
struct socket {
	int type;
	atomic_uint mask;
	bool nonblock;
	void *file;
};
struct nstack {
	pthread_mutex_t lock;
};
static struct nstack mock_ns = {PTHREAD_MUTEX_INITIALIZER};
static struct nstack_hooks mock_hooks;
static atomic_int mock_closed, mock_live;
const struct nstack_env nstack_env_default;

void tcp_config_defaults(struct tcp_config *c)
{
	memset(c, 0, sizeof(*c));
}
void nstack_config_defaults(struct nstack_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	strcpy(cfg->ifname, "nstack0");
	cfg->addr = htonl(0xc6120002);
	cfg->prefixlen = 24;
	cfg->gateway = htonl(0xc6120001);
}
void netdev_rx_frame(struct net_device *dev, const void *frame, size_t len)
{
}
void netdev_rx_frame_csum(struct net_device *dev, const void *frame, size_t len, bool csum_ok)
{
	(void)csum_ok;
	netdev_rx_frame(dev, frame, len);
}
void netdev_rx_window_skip(struct net_device *dev)
{
	(void)dev;
}
void netdev_rx_truncated(struct net_device *dev, size_t caplen, size_t len)
{
	(void)dev;
	(void)caplen;
	(void)len;
}
/* The stack's transmit-error count: nothing to count here. */
void netdev_tx_errors(struct net_device *dev, unsigned int n)
{
	(void)dev;
	(void)n;
}
static struct net_device *mock_dev;
int nstack_create(const struct nstack_config *cfg, struct net_device *dev,
		  const struct nstack_env *env, const struct nstack_hooks *hooks,
		  struct nstack **res)
{
	mock_hooks = *hooks;
	mock_dev = dev;
	*res = &mock_ns;
	return 0;
}
int nstack_create_in(const struct ns_arena_map *map, const struct nstack_config *cfg,
		     struct net_device *dev, const struct nstack_env *env,
		     const struct nstack_hooks *hooks, struct nstack **res)
{
	return nstack_create(cfg, dev, env, hooks, res);
}
/* The mock keeps its state in process memory: one process, no arena, no fork sharing. */
int ns_arena_create(int fd, size_t size, void *addr, struct ns_arena_map *map)
{
	memset(map, 0, sizeof(*map));
	return 0;
}
void ns_arena_unmap(struct ns_arena_map *map)
{
}
int nstack_fork_prepare(struct nstack *ns)
{
	return -EMFILE;
}
void nstack_fork_parent(struct nstack *ns, int slot, pid_t pid)
{
}
void nstack_fork_child(struct nstack *ns, int slot)
{
}
int nstack_proc_slot(const struct nstack *ns)
{
	return 0;
}
int nstack_proc_count(struct nstack *ns)
{
	return 1;
}
uint64_t nstack_shared_id(const struct nstack *ns)
{
	return (uint64_t)getpid();
}
void nstack_set_doorbell_fd(struct nstack *ns, int fd)
{
}
void nstack_set_dev(struct nstack *ns, struct net_device *dev)
{
}
void nstack_exec_prepare(struct nstack *ns)
{
}
int ns_arena_attach(int fd, void *addr, struct ns_arena_map *map)
{
	return -EINVAL;
}
int nstack_attach(const struct ns_arena_map *map, struct net_device *dev,
		  const struct nstack_env *env, const struct nstack_hooks *hooks, bool *after_exec,
		  struct nstack **res)
{
	return -EINVAL;
}
int nstack_exec_record(struct nstack *ns, const int *fds, struct socket *const *socks, int n)
{
	return 0;
}
int nstack_exec_fds(struct nstack *ns, int *fds, struct socket **socks, int max)
{
	return 0;
}
bool nstack_hand_over(struct nstack *ns)
{
	return false;
}
bool nstack_is_driver(struct nstack *ns)
{
	return true;
}
bool nstack_receives(struct nstack *ns)
{
	return true;
}
void nstack_fan_leave(struct nstack *ns)
{
}
bool nstack_fork_ring(struct nstack *ns)
{
	return false;
}
void nstack_epoll_waits(struct nstack *ns)
{
}
bool nstack_rx_catch_up(struct nstack *ns, bool lease_only)
{
	(void)ns;
	(void)lease_only;
	return false; /* the mock has no link */
}

int nstack_rx_direct_begin(struct nstack *ns, bool *ready)
{
	(void)ns;
	*ready = false;
	return -1; /* no link to sleep on */
}

void nstack_rx_direct_end(struct nstack *ns, bool woken)
{
	(void)ns;
	(void)woken;
}

int nstack_mail_direct_begin(struct nstack *ns)
{
	(void)ns;
	return -1;
}

void nstack_mail_direct_end(struct nstack *ns, bool woken)
{
	(void)ns;
	(void)woken;
}

void nstack_wake_thread(struct nstack *ns)
{
}
struct net_device *nstack_dev(const struct nstack *ns)
{
	return mock_dev;
}
void nstack_exec_failed(struct nstack *ns)
{
}
void nstack_destroy(struct nstack *ns)
{
}
int nstack_start(struct nstack *ns)
{
	return 0;
}
bool nstack_ipv6_enabled(const struct nstack *ns)
{
	(void)ns;
	return false;
}
/* The running stack's settings (start.c compares a joiner's with them). */
const struct nstack_config *nstack_config(const struct nstack *ns)
{
	static struct nstack_config cfg;

	(void)ns;
	return &cfg;
}

int nstack_wake_fd(const struct nstack *ns)
{
	(void)ns;
	return -1;
}
void nstack_lock(struct nstack *ns)
{
	pthread_mutex_lock(&ns->lock);
}
void nstack_unlock(struct nstack *ns)
{
	pthread_mutex_unlock(&ns->lock);
}
long nstack_live_socks(struct nstack *ns)
{
	return 0;
}
long nstack_live_skbs(struct nstack *ns)
{
	return 0;
}
unsigned int nstack_tx_pending(struct nstack *ns)
{
	return 0;
}
void nstack_stats_foreach(struct nstack *ns, void (*fn)(void *arg, const char *name, uint64_t v),
			  void *arg)
{
}
int nstack_socket(struct nstack *ns, int family, int type, int protocol, struct socket **res)
{
	struct socket *s;

	if (family != AF_INET)
		return -EAFNOSUPPORT;
	if (type != SOCK_DGRAM)
		return -EPROTONOSUPPORT;
	s = calloc(1, sizeof(*s));
	s->type = type;
	atomic_store(&s->mask, POLLOUT);
	atomic_fetch_add(&mock_live, 1);
	*res = s;
	return 0;
}
void nstack_sock_set_file(struct socket *sock, void *file)
{
	sock->file = file;
}
void *nstack_sock_file(const struct socket *sock)
{
	return sock->file;
}
void nstack_sock_watch(struct socket *sock)
{
	(void)sock; /* one process: its events never go by mail */
}
void nstack_close_locked(struct socket *sock)
{
	atomic_fetch_add(&mock_closed, 1);
	atomic_fetch_sub(&mock_live, 1);
	free(sock);
}
int nstack_close(struct socket *sock)
{
	nstack_close_locked(sock);
	return 0;
}
int nstack_bind(struct socket *s, const struct sockaddr *a, socklen_t l)
{
	return 0;
}
int nstack_connect(struct socket *s, const struct sockaddr *a, socklen_t l)
{
	return 0;
}
int nstack_listen(struct socket *s, int b)
{
	return -EOPNOTSUPP;
}
int nstack_accept(struct socket *s, struct socket **n, struct sockaddr *a, socklen_t *l, int f)
{
	return -EOPNOTSUPP;
}
ssize_t nstack_sendmsg(struct socket *s, const struct msghdr *m, int f)
{
	return (ssize_t)m->msg_iov[0].iov_len;
}
ssize_t nstack_recvmsg(struct socket *s, struct msghdr *m, int f)
{
	if (!(atomic_load(&s->mask) & POLLIN))
		return -EAGAIN;
	atomic_fetch_and(&s->mask, ~(unsigned int)POLLIN);
	memcpy(m->msg_iov[0].iov_base, "mock", 4);
	return 4;
}
int nstack_shutdown(struct socket *s, int h)
{
	return 0;
}
int nstack_getsockname(struct socket *s, struct sockaddr *a, socklen_t *l)
{
	return -EINVAL;
}
int nstack_getpeername(struct socket *s, struct sockaddr *a, socklen_t *l)
{
	return -ENOTCONN;
}
int nstack_setsockopt(struct socket *s, int lv, int n, const void *v, socklen_t l)
{
	return 0;
}
int nstack_getsockopt(struct socket *s, int lv, int n, void *v, socklen_t *l)
{
	return -ENOPROTOOPT;
}
int nstack_ioctl(struct socket *s, unsigned long c, void *a)
{
	if (c == FIONREAD) {
		*(int *)a = (atomic_load(&s->mask) & POLLIN) ? 4 : 0;
		return 0;
	}
	return -ENOTTY;
}
unsigned int nstack_poll_locked(struct socket *s)
{
	return atomic_load(&s->mask);
}
unsigned int nstack_poll(struct socket *s)
{
	return nstack_poll_locked(s);
}

/* Wait tokens as the real stack keeps them: one list, lock held. */
static struct nstack_wait_ops mock_wait;
struct sk_waitent;
static struct sk_waitent *mock_waiters;
void nstack_set_wait_ops(struct nstack *ns, const struct nstack_wait_ops *ops)
{
	pthread_mutex_lock(&ns->lock);
	mock_wait = *ops;
	pthread_mutex_unlock(&ns->lock);
}
/* The mock's own registration (the real stack keeps these in its arena). */
struct sk_waitent {
	struct sk_waitent *next, **pprev;
	struct socket *sock;
	void *token;
};
unsigned int nstack_poll_wait(struct socket *s, struct nstack_waiter *w)
{
	struct sk_waitent *e = calloc(1, sizeof(*e));
	unsigned int mask;

	pthread_mutex_lock(&mock_ns.lock);
	mask = atomic_load(&s->mask);
	w->ns = &mock_ns;
	w->ent = e;
	e->sock = s;
	e->token = w->token;
	e->next = mock_waiters;
	if (e->next)
		e->next->pprev = &e->next;
	e->pprev = &mock_waiters;
	mock_waiters = e;
	pthread_mutex_unlock(&mock_ns.lock);
	return mask;
}
void nstack_poll_end(struct nstack_waiter *w)
{
	struct sk_waitent *e = w->ent;

	if (!e)
		return;
	pthread_mutex_lock(&mock_ns.lock);
	*e->pprev = e->next;
	if (e->next)
		e->next->pprev = e->pprev;
	w->ent = NULL;
	pthread_mutex_unlock(&mock_ns.lock);
	free(e);
}
/* Readiness of s changed (lock held): wake its pollers, tell the embedder. */
static void mock_event(struct socket *s)
{
	for (struct sk_waitent *e = mock_waiters; e; e = e->next) {
		if (e->sock == s)
			mock_wait.wake(mock_wait.ctx, e->token);
	}
	mock_hooks.sock_event(mock_hooks.ctx, s);
}
void nstack_set_nonblock(struct socket *s, bool on)
{
	s->nonblock = on;
}
bool nstack_get_nonblock(const struct socket *s)
{
	return s->nonblock;
}
int nstack_sock_type(const struct socket *s)
{
	return s->type;
}
int nstack_sock_family(const struct socket *s)
{
	return AF_INET;
}
void nstack_set_tcp_config(struct nstack *ns, const struct tcp_config *t)
{
}

/* The test's side: change readiness and tell the embedder, lock held. */
static void mock_set(struct socket *s, unsigned int mask)
{
	pthread_mutex_lock(&mock_ns.lock);
	atomic_store(&s->mask, mask);
	mock_event(s);
	pthread_mutex_unlock(&mock_ns.lock);
}

/* The mock socket behind a private fd, found through fcntl's view: we keep a map. */
static struct socket *last_sock(int fd);

/* ---- checks ---- */
static int failures;
#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (cond) {                                                                        \
			printf("ok   ");                                                           \
		} else {                                                                           \
			printf("FAIL ");                                                           \
			failures++;                                                                \
		}                                                                                  \
		printf(__VA_ARGS__);                                                               \
		printf("\n");                                                                      \
	} while (0)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct delayed {
	struct socket *sock;
	unsigned int mask;
	int pipefd;
	int ms;
};

static void *delayed_fn(void *arg)
{
	struct delayed *d = arg;
	struct timespec ts = {d->ms / 1000, (long)(d->ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
	if (d->sock)
		mock_set(d->sock, d->mask);
	else
		(void)!write(d->pipefd, "p", 1);
	return NULL;
}

static pthread_t later(struct delayed *d)
{
	pthread_t t;

	pthread_create(&t, NULL, delayed_fn, d);
	return t;
}

/* struct nsp_file starts with the socket pointer (preload.h); reach it from an fd. */
#include "preload.h"
static struct socket *last_sock(int fd)
{
	struct nsp_file *f = fdt_get(fd);
	struct socket *s = f ? f->sock : NULL;

	if (f)
		fdt_put(f);
	return s;
}

static void check_fd_basics(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int ufd = socket(AF_UNIX, SOCK_DGRAM, 0);
	int raw = socket(AF_INET, SOCK_STREAM, 0); /* the mock refuses: the kernel takes it */
	int on = 0, n = -1;
	socklen_t len;

	CHECK(fd >= 0 && last_sock(fd), "private socket created (fd %d)", fd);
	CHECK(ufd >= 0 && !last_sock(ufd), "AF_UNIX socket left to the kernel");
	CHECK(raw >= 0 && !last_sock(raw), "a type the stack refuses goes to the kernel");
	len = sizeof(n);
	CHECK(getsockopt(raw, SOL_SOCKET, SO_TYPE, &n, &len) == 0 && n == SOCK_STREAM,
	      "the kernel socket answers getsockopt itself");
	CHECK(fcntl(fd, F_GETFL) == (O_RDWR | O_NONBLOCK), "SOCK_NONBLOCK shows in F_GETFL");
	CHECK(fcntl(fd, F_GETFD) == FD_CLOEXEC, "SOCK_CLOEXEC shows in F_GETFD");
	CHECK(fcntl(fd, F_SETFL, O_RDWR) == 0 && fcntl(fd, F_GETFL) == O_RDWR,
	      "F_SETFL clears O_NONBLOCK");
	on = 1;
	CHECK(ioctl(fd, FIONBIO, &on) == 0 && fcntl(fd, F_GETFL) == (O_RDWR | O_NONBLOCK),
	      "FIONBIO sets O_NONBLOCK");
	CHECK(fcntl(fd, F_SETFD, 0) == 0 && fcntl(fd, F_GETFD) == 0, "F_SETFD clears FD_CLOEXEC");
	mock_set(last_sock(fd), POLLIN | POLLOUT);
	CHECK(ioctl(fd, FIONREAD, &n) == 0 && n == 4, "FIONREAD from the stack");
	char buf[8];
	CHECK(read(fd, buf, sizeof(buf)) == 4 && !memcmp(buf, "mock", 4), "read() reaches recvmsg");
	CHECK(read(fd, buf, sizeof(buf)) == -1 && errno == EAGAIN, "then EAGAIN");
	CHECK(write(fd, "abc", 3) == 3, "write() reaches sendmsg");
	CHECK(getpeername(fd, NULL, &len) == -1 && errno == ENOTCONN, "errno from -errno");
	int before = atomic_load(&mock_closed);
	CHECK(close(fd) == 0 && atomic_load(&mock_closed) == before + 1, "close() releases");
	CHECK(fcntl(fd, F_GETFD) == -1 && errno == EBADF, "and closes the reserved fd");
	close(ufd);
	close(raw);
}

static void check_poll(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct socket *s = last_sock(fd);
	int p[2];
	struct pollfd pf[2];
	struct delayed d;
	pthread_t t;
	double t0;
	int n;

	(void)!pipe(p);
	mock_set(s, 0);
	pf[0] = (struct pollfd){.fd = p[0], .events = POLLIN};
	pf[1] = (struct pollfd){.fd = fd, .events = POLLIN};
	t0 = now_s();
	n = poll(pf, 2, 200);
	CHECK(n == 0 && now_s() - t0 >= 0.19, "poll: nothing ready times out (%.3f s)",
	      now_s() - t0);

	d = (struct delayed){.sock = s, .mask = POLLIN | POLLOUT, .ms = 100};
	t = later(&d);
	t0 = now_s();
	n = poll(pf, 2, 5000);
	CHECK(n == 1 && pf[1].revents == POLLIN && pf[0].revents == 0 && now_s() - t0 < 1,
	      "poll: private readiness wakes a mixed poll (%.3f s)", now_s() - t0);
	pthread_join(t, NULL);
	mock_set(s, 0);

	d = (struct delayed){.pipefd = p[1], .ms = 100};
	t = later(&d);
	t0 = now_s();
	n = poll(pf, 2, 5000);
	CHECK(n == 1 && pf[0].revents == POLLIN && pf[1].revents == 0 && now_s() - t0 < 1,
	      "poll: kernel readiness wakes a mixed poll (%.3f s)", now_s() - t0);
	pthread_join(t, NULL);
	char c;
	(void)!read(p[0], &c, 1);

	/* select: writable at once, readable after an event. */
	mock_set(s, POLLOUT);
	fd_set r, w;
	struct timeval tv = {2, 0};
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(fd, &r);
	FD_SET(p[0], &r);
	FD_SET(fd, &w);
	n = select((fd > p[0] ? fd : p[0]) + 1, &r, &w, NULL, &tv);
	CHECK(n == 1 && FD_ISSET(fd, &w) && !FD_ISSET(fd, &r), "select: private writable");
	mock_set(s, 0);
	d = (struct delayed){.sock = s, .mask = POLLIN, .ms = 100};
	t = later(&d);
	FD_ZERO(&r);
	FD_SET(fd, &r);
	FD_SET(p[0], &r);
	tv = (struct timeval){3, 0};
	t0 = now_s();
	n = select((fd > p[0] ? fd : p[0]) + 1, &r, NULL, NULL, &tv);
	CHECK(n == 1 && FD_ISSET(fd, &r) && !FD_ISSET(p[0], &r) && now_s() - t0 < 1 &&
		  tv.tv_sec < 3,
	      "select: private readable wakes it, time left written back");
	pthread_join(t, NULL);

	/* dup: the copy sees the same socket; after closing the original the
	 * hook must signal through the copy. */
	int d2 = dup(fd);
	CHECK(d2 >= 0 && last_sock(d2) == s, "dup() shares the private socket");
	close(fd);
	CHECK(atomic_load(&mock_live) >= 1 && last_sock(d2) == s, "closing the original keeps it");
	mock_set(s, 0);
	d = (struct delayed){.sock = s, .mask = POLLIN, .ms = 100};
	t = later(&d);
	pf[0] = (struct pollfd){.fd = d2, .events = POLLIN};
	t0 = now_s();
	n = poll(pf, 1, 3000);
	CHECK(n == 1 && now_s() - t0 < 1, "poll on the dup wakes after the original closed");
	pthread_join(t, NULL);
	int d3 = fcntl(d2, F_DUPFD_CLOEXEC, 100);
	CHECK(d3 >= 100 && last_sock(d3) == s && fcntl(d3, F_GETFD) == FD_CLOEXEC,
	      "F_DUPFD_CLOEXEC");
	int before = atomic_load(&mock_closed);
	close(d2);
	CHECK(atomic_load(&mock_closed) == before, "socket lives while a dup is open");
	CHECK(dup2(p[0], d3) == d3 && !last_sock(d3) && atomic_load(&mock_closed) == before + 1,
	      "dup2 over the last fd releases the socket");
	close(d3);
	close(p[0]);
	close(p[1]);
}

static void check_epoll(void)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct socket *s = last_sock(fd);
	int p[2];
	struct epoll_event ev, out[4];
	struct delayed d;
	pthread_t t;
	double t0;
	int n;

	(void)!pipe(p);
	mock_set(s, 0);
	ev = (struct epoll_event){.events = EPOLLIN, .data.u64 = 0x1234};
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0, "epoll_ctl ADD private");
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1 && errno == EEXIST, "ADD twice: EEXIST");
	ev = (struct epoll_event){.events = EPOLLIN, .data.u64 = 0x5678};
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0, "epoll_ctl ADD pipe");
	t0 = now_s();
	n = epoll_wait(ep, out, 4, 200);
	CHECK(n == 0 && now_s() - t0 >= 0.19, "epoll_wait: nothing ready times out");
	d = (struct delayed){.sock = s, .mask = POLLIN | POLLOUT, .ms = 100};
	t = later(&d);
	t0 = now_s();
	n = epoll_wait(ep, out, 4, 5000);
	CHECK(n == 1 && out[0].data.u64 == 0x1234 && out[0].events == EPOLLIN && now_s() - t0 < 1,
	      "epoll_wait: private readiness wakes it with the program's data");
	pthread_join(t, NULL);
	n = epoll_wait(ep, out, 4, 0);
	CHECK(n == 1 && out[0].data.u64 == 0x1234, "level-triggered: reported again");
	mock_set(s, 0);
	n = epoll_wait(ep, out, 4, 0);
	CHECK(n == 0, "not ready any more: not reported");
	(void)!write(p[1], "x", 1);
	n = epoll_wait(ep, out, 4, 1000);
	CHECK(n == 1 && out[0].data.u64 == 0x5678, "kernel fd events pass through");
	char c;
	(void)!read(p[0], &c, 1);

	ev = (struct epoll_event){.events = EPOLLIN | EPOLLET, .data.u64 = 0x1234};
	CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) == 0, "MOD to edge-triggered");
	mock_set(s, POLLIN);
	n = epoll_wait(ep, out, 4, 1000);
	CHECK(n == 1, "edge-triggered: reported once");
	n = epoll_wait(ep, out, 4, 100);
	CHECK(n == 0, "edge-triggered: not again without a new event");
	mock_set(s, POLLIN);
	n = epoll_wait(ep, out, 4, 1000);
	CHECK(n == 1, "edge-triggered: a new event reports again");

	ev = (struct epoll_event){.events = EPOLLIN | EPOLLONESHOT, .data.u64 = 0x1234};
	CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) == 0, "MOD to one-shot");
	n = epoll_wait(ep, out, 4, 1000);
	CHECK(n == 1, "one-shot: reported");
	mock_set(s, POLLIN);
	n = epoll_wait(ep, out, 4, 100);
	CHECK(n == 0, "one-shot: disabled until MOD");
	CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) == 0 && epoll_wait(ep, out, 4, 1000) == 1,
	      "one-shot: MOD re-arms");
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL) == 0 && epoll_wait(ep, out, 4, 100) == 0,
	      "DEL: not reported any more");
	ev = (struct epoll_event){.events = EPOLLIN, .data.u64 = 0x1234};
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	int before = atomic_load(&mock_closed);
	close(fd);
	CHECK(atomic_load(&mock_closed) == before + 1, "close() of a watched fd releases it");
	CHECK(epoll_wait(ep, out, 4, 100) == 0, "and it leaves the set");
	close(ep);
	close(p[0]);
	close(p[1]);
}

/* Two pollers on one socket, events in quick succession: nobody sleeps through one. */
struct racer {
	int fd;
	atomic_int got;
};

static atomic_int race_round;

static void *racer_fn(void *arg)
{
	struct racer *r = arg;

	for (int i = 0; i < 200; i++) {
		struct pollfd pf = {.fd = r->fd, .events = POLLIN};
		int want = i + 1;

		while (atomic_load(&race_round) < want) {
			if (poll(&pf, 1, 2000) == 0)
				return NULL; /* a lost wake-up: 2 s without seeing the event */
		}
		r->got++;
	}
	return NULL;
}

static void check_no_lost_wakeups(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct socket *s = last_sock(fd);
	struct racer a = {fd, 0}, b = {fd, 0};
	pthread_t ta, tb;
	double t0 = now_s();

	mock_set(s, 0);
	pthread_create(&ta, NULL, racer_fn, &a);
	pthread_create(&tb, NULL, racer_fn, &b);
	for (int i = 0; i < 200; i++) {
		struct timespec ts = {0, 1000000};

		nanosleep(&ts, NULL);
		/* Ready for one moment, then not: the pollers must see the flag. */
		pthread_mutex_lock(&mock_ns.lock);
		atomic_store(&race_round, i + 1);
		atomic_store(&s->mask, POLLIN);
		mock_event(s);
		pthread_mutex_unlock(&mock_ns.lock);
		while ((a.got < i + 1 || b.got < i + 1) && now_s() - t0 < 30)
			nanosleep(&ts, NULL);
		mock_set(s, 0);
	}
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	CHECK(a.got == 200 && b.got == 200, "two pollers saw all 200 events (%d, %d) in %.2f s",
	      a.got, b.got, now_s() - t0);
	close(fd);
}

/* The same with one poll thread and one epoll (edge-triggered) thread on the socket. */
static int race_ep;
static void *ep_racer_fn(void *arg)
{
	struct racer *r = arg;

	for (int i = 0; i < 200; i++) {
		struct epoll_event ev;
		int want = i + 1;

		while (atomic_load(&race_round) < want) {
			if (epoll_wait(race_ep, &ev, 1, 2000) == 0)
				return NULL;
		}
		r->got++;
	}
	return NULL;
}

static void check_poll_and_epoll_no_lost_wakeups(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct socket *s = last_sock(fd);
	struct racer a = {fd, 0}, b = {fd, 0};
	struct epoll_event ev = {.events = EPOLLIN | EPOLLET};
	pthread_t ta, tb;
	double t0 = now_s();

	race_ep = epoll_create1(0);
	epoll_ctl(race_ep, EPOLL_CTL_ADD, fd, &ev);
	atomic_store(&race_round, 0);
	mock_set(s, 0);
	pthread_create(&ta, NULL, racer_fn, &a);
	pthread_create(&tb, NULL, ep_racer_fn, &b);
	for (int i = 0; i < 200; i++) {
		struct timespec ts = {0, 1000000};

		nanosleep(&ts, NULL);
		pthread_mutex_lock(&mock_ns.lock);
		atomic_store(&race_round, i + 1);
		atomic_store(&s->mask, POLLIN);
		mock_event(s);
		pthread_mutex_unlock(&mock_ns.lock);
		while ((a.got < i + 1 || b.got < i + 1) && now_s() - t0 < 30)
			nanosleep(&ts, NULL);
		mock_set(s, 0);
	}
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	CHECK(a.got == 200 && b.got == 200,
	      "poll and epoll threads on one socket saw all 200 events (%d, %d) in %.2f s", a.got,
	      b.got, now_s() - t0);
	close(race_ep);
	close(fd);
}

/*
 * Level-triggered, two threads in one set: a socket that stays ready is
 * reported to the second waiter too (Linux wakes the next waiter while the
 * ready list is not empty).
 */
static int lt_ep;
static atomic_int lt_got;
static void *lt_waiter(void *arg)
{
	struct epoll_event ev;

	(void)arg;
	if (epoll_wait(lt_ep, &ev, 1, 1500) == 1)
		atomic_fetch_add(&lt_got, 1);
	return NULL;
}

static void check_epoll_lt_wakes_second_thread(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct socket *s = last_sock(fd);
	struct epoll_event ev = {.events = EPOLLIN};
	struct timespec ts = {0, 100 * 1000000};
	pthread_t a, b;

	lt_ep = epoll_create1(0);
	mock_set(s, 0);
	epoll_ctl(lt_ep, EPOLL_CTL_ADD, fd, &ev);
	pthread_create(&a, NULL, lt_waiter, NULL);
	pthread_create(&b, NULL, lt_waiter, NULL);
	nanosleep(&ts, NULL);
	mock_set(s, POLLIN);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	CHECK(atomic_load(&lt_got) == 2,
	      "level-triggered socket left ready: both waiting threads get it (%d)", lt_got);
	close(lt_ep);
	close(fd);
}

/* close(epfd) while another thread waits in it: the wait goes on (Linux holds the file). */
static void *ep_closed_waiter(void *arg)
{
	struct epoll_event ev;
	int *ep = arg;

	ep[1] = epoll_wait(ep[0], &ev, 1, 500);
	return NULL;
}

static void __attribute__((unused)) check_epoll_closed_while_waiting(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	int ep[2] = {epoll_create1(0), -2};
	struct epoll_event ev = {.events = EPOLLIN};
	struct timespec ts = {0, 100 * 1000000};
	pthread_t t;
	double t0 = now_s();

	mock_set(last_sock(fd), 0);
	epoll_ctl(ep[0], EPOLL_CTL_ADD, fd, &ev);
	pthread_create(&t, NULL, ep_closed_waiter, ep);
	nanosleep(&ts, NULL);
	close(ep[0]);
	pthread_join(t, NULL);
	CHECK(ep[1] == 0 && now_s() - t0 > 0.45,
	      "close(epfd) while a thread waits in it: the wait times out normally (%d)", ep[1]);
	close(fd);
}

int main(void)
{
	setenv("NSTACK_IFACE", "lo", 0);
	setenv("NSTACK_ADDR", "198.18.0.2/24", 0);
	check_fd_basics();
	check_poll();
	check_epoll();
	check_no_lost_wakeups();
	check_poll_and_epoll_no_lost_wakeups();
	check_epoll_lt_wakes_second_thread();
#ifndef __SANITIZE_THREAD__
	/* A close racing a wait on the fd on purpose: TSan reports the fd race itself. */
	check_epoll_closed_while_waiting();
#endif
	printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
	return failures ? 1 : 0;
}
