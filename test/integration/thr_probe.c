/*
 * thr_probe: threads and signals on private sockets, run under nstack
 * against thr_peer.py in the kernel peer namespace (case_threads.sh).
 *
 *   thr_probe PEER_ADDR SELF_ADDR
 *
 * One line per check ("ok" / "FAIL"); exit 0 when all pass. The expected
 * results are Linux's (signal(7), socket(7), epoll(7)).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *peer, *self;
static int fails;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		bool ok_ = (cond);                                                                 \
		printf("%s ", ok_ ? "ok  " : "FAIL");                                              \
		printf(__VA_ARGS__);                                                               \
		printf("\n");                                                                      \
		fflush(stdout);                                                                    \
		fails += !ok_;                                                                     \
	} while (0)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of the whole process (the stack thread included). */
static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static struct sockaddr_in sin_of(const char *a, int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};

	inet_pton(AF_INET, a, &sa.sin_addr);
	return sa;
}

static int conn(int port)
{
	struct sockaddr_in sa = sin_of(peer, port);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		printf("FAIL connect to port %d: %s\n", port, strerror(errno));
		exit(1);
	}
	return fd;
}

static atomic_int handler_runs;
static void on_sig(int sig)
{
	(void)sig;
	atomic_fetch_add(&handler_runs, 1);
}

static void set_handler(bool restart)
{
	struct sigaction sa = {.sa_handler = on_sig, .sa_flags = restart ? SA_RESTART : 0};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	atomic_store(&handler_runs, 0);
}

/* A thread that sends SIGUSR1 to target after ms milliseconds. */
struct kick {
	pthread_t target, self;
	int ms;
};
static void *kicker(void *arg)
{
	struct kick *k = arg;

	sleep_ms(k->ms);
	pthread_kill(k->target, SIGUSR1);
	return NULL;
}
static struct kick *kick_after(int ms)
{
	struct kick *k = calloc(1, sizeof(*k));

	k->target = pthread_self();
	k->ms = ms;
	pthread_create(&k->self, NULL, kicker, k);
	return k;
}
static void kick_join(struct kick *k)
{
	pthread_join(k->self, NULL);
	free(k);
}

static int so_error(int fd)
{
	int e = -1;
	socklen_t l = sizeof(e);

	getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l);
	return e;
}

/* Fills the send path of fd (peer not reading) until no room for 300 ms. */
static void fill(int fd)
{
	static char junk[65536];
	int fl = fcntl(fd, F_GETFL);
	long total = 0;
	double t0 = now_s();

	int sndbuf = 16384;

	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	while (total < (64l << 20) && now_s() - t0 < 15) {
		ssize_t n = send(fd, junk, sizeof(junk), MSG_NOSIGNAL);

		if (n > 0) {
			total += n;
			continue;
		}
		struct pollfd p = {.fd = fd, .events = POLLOUT};

		if (poll(&p, 1, 300) == 0) {
			/* Not "writable" is half the buffer: top it up until EAGAIN. */
			while (send(fd, junk, 1000, MSG_NOSIGNAL) > 0)
				;
			break;
		}
		if (p.revents & (POLLERR | POLLHUP)) {
			printf("     fill: connection failed after %ld bytes, %.2f s: %s\n", total,
			       now_s() - t0, strerror(so_error(fd)));
			break;
		}
	}
	fcntl(fd, F_SETFL, fl);
}

/* ---- signals ---- */

static void *shut_rd_later(void *arg)
{
	sleep_ms(200);
	shutdown(*(int *)arg, SHUT_RD);
	return NULL;
}

static void *shut_later(void *arg)
{
	sleep_ms(700);
	shutdown(*(int *)arg, SHUT_WR);
	return NULL;
}

static void t_signals(void)
{
	char buf[64];
	struct kick *k;
	double t0;
	ssize_t r;
	int fd, e;

	set_handler(false);
	fd = conn(7002);
	k = kick_after(200);
	t0 = now_s();
	r = recv(fd, buf, sizeof(buf), 0);
	e = errno;
	kick_join(k);
	CHECK(r == -1 && e == EINTR && handler_runs == 1 && now_s() - t0 < 2,
	      "recv blocked, handler without SA_RESTART: EINTR (r=%zd %s, %d runs)", r, strerror(e),
	      handler_runs);
	close(fd);

	set_handler(true);
	fd = conn(7004);
	k = kick_after(200);
	t0 = now_s();
	double c0 = cpu_s();
	r = recv(fd, buf, sizeof(buf), 0);
	e = errno;
	kick_join(k);
	CHECK(r == 4 && !memcmp(buf, "late", 4) && handler_runs == 1 && now_s() - t0 > 0.45 &&
		  cpu_s() - c0 < 0.2,
	      "recv blocked, SA_RESTART: restarted, gets the later data, no busy wait (r=%zd %s, "
	      "%.2f s, %.3f s CPU)",
	      r, r < 0 ? strerror(e) : "", now_s() - t0, cpu_s() - c0);
	close(fd);

	set_handler(true);
	fd = conn(7002);
	struct timeval tv = {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	k = kick_after(200);
	t0 = now_s();
	r = read(fd, buf, sizeof(buf));
	e = errno;
	kick_join(k);
	CHECK(r == -1 && e == EINTR && now_s() - t0 < 2,
	      "read with SO_RCVTIMEO, SA_RESTART: EINTR all the same (r=%zd %s)", r, strerror(e));
	close(fd);

	set_handler(false);
	fd = conn(7002);
	fill(fd);
	k = kick_after(200);
	t0 = now_s();
	static char big[65536];
	r = send(fd, big, sizeof(big), MSG_NOSIGNAL);
	e = errno;
	kick_join(k);
	CHECK(r == -1 && e == EINTR && now_s() - t0 < 2,
	      "send blocked on a full window, no SA_RESTART: EINTR (r=%zd %s)", r, strerror(e));
	close(fd);

	set_handler(true);
	fd = conn(7002);
	fill(fd);
	k = kick_after(200);
	pthread_t t;
	pthread_create(&t, NULL, shut_later, &fd);
	t0 = now_s();
	r = send(fd, big, sizeof(big), MSG_NOSIGNAL);
	e = errno;
	kick_join(k);
	pthread_join(t, NULL);
	CHECK(r == -1 && e == EPIPE && handler_runs == 1 && now_s() - t0 > 0.6,
	      "send blocked, SA_RESTART: restarted; shutdown(SHUT_WR) from another thread "
	      "ends it with EPIPE (r=%zd %s, %.2f s)",
	      r, strerror(e), now_s() - t0);
	close(fd);

	set_handler(true);
	fd = conn(7002);
	fill(fd);
	tv = (struct timeval){5, 0};
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	k = kick_after(200);
	t0 = now_s();
	r = send(fd, big, sizeof(big), MSG_NOSIGNAL);
	e = errno;
	kick_join(k);
	CHECK(r == -1 && e == EINTR && now_s() - t0 < 2,
	      "send with SO_SNDTIMEO, SA_RESTART: EINTR all the same (r=%zd %s)", r, strerror(e));
	close(fd);

	/* signal() has BSD semantics in glibc: SA_RESTART. */
	signal(SIGUSR1, on_sig);
	atomic_store(&handler_runs, 0);
	struct sigaction cur;
	sigaction(SIGUSR1, NULL, &cur);
	CHECK(cur.sa_handler == on_sig && (cur.sa_flags & SA_RESTART) &&
		  !(cur.sa_flags & SA_SIGINFO),
	      "sigaction() reads back the program's own handler and flags (%#x)",
	      (unsigned)cur.sa_flags);
	fd = conn(7004);
	k = kick_after(200);
	r = recv(fd, buf, sizeof(buf), 0);
	e = errno;
	kick_join(k);
	CHECK(r == 4 && handler_runs == 1, "recv, handler from signal(): restarted (r=%zd %s)", r,
	      r < 0 ? strerror(e) : "");
	close(fd);

	/* SA_RESETHAND: one delivery, then the default disposition is what reads back. */
	struct sigaction once = {.sa_handler = on_sig, .sa_flags = SA_RESETHAND};
	sigemptyset(&once.sa_mask);
	sigaction(SIGUSR2, &once, NULL);
	raise(SIGUSR2);
	sigaction(SIGUSR2, NULL, &cur);
	CHECK(cur.sa_handler == SIG_DFL, "SA_RESETHAND: SIG_DFL after one delivery");

	/* accept */
	struct sockaddr_in me = sin_of(self, 0);
	socklen_t ml = sizeof(me);
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	bind(ls, (struct sockaddr *)&me, sizeof(me));
	listen(ls, 8);
	getsockname(ls, (struct sockaddr *)&me, &ml);
	set_handler(false);
	k = kick_after(200);
	r = accept(ls, NULL, NULL);
	e = errno;
	kick_join(k);
	CHECK(r == -1 && e == EINTR, "accept blocked, no SA_RESTART: EINTR (r=%zd %s)", r,
	      strerror(e));

	set_handler(true);
	fd = conn(7005);
	snprintf(buf, sizeof(buf), "%d\n", ntohs(me.sin_port));
	send(fd, buf, strlen(buf), 0);
	k = kick_after(200);
	t0 = now_s();
	r = accept(ls, NULL, NULL);
	e = errno;
	kick_join(k);
	if (r >= 0) {
		ssize_t n = recv((int)r, buf, sizeof(buf), MSG_WAITALL);

		CHECK(n == 2 && !memcmp(buf, "hi", 2) && handler_runs == 1 && now_s() - t0 > 0.45,
		      "accept blocked, SA_RESTART: restarted, takes the later connection (%.2f s)",
		      now_s() - t0);
		close((int)r);
	} else {
		CHECK(false, "accept blocked, SA_RESTART: restarted (got %s)", strerror(e));
	}
	close(fd);

	/* shutdown() of the listener from another thread wakes a blocked accept: EINVAL. */
	set_handler(false);
	pthread_create(&t, NULL, shut_rd_later, &ls);
	t0 = now_s();
	r = accept(ls, NULL, NULL);
	e = errno;
	pthread_join(t, NULL);
	CHECK(r == -1 && e == EINVAL && now_s() - t0 < 2,
	      "shutdown(SHUT_RD) of the listener from another thread: blocked accept gets "
	      "EINVAL (r=%zd %s)",
	      r, strerror(e));
	close(ls);

	/* connect to an address nobody answers (no ARP reply): blocks in SYN_SENT */
	set_handler(false);
	struct sockaddr_in hole = sin_of(peer, 9);
	hole.sin_addr.s_addr = htonl(ntohl(hole.sin_addr.s_addr) + 76); /* .77 in the lab /24 */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	k = kick_after(200);
	r = connect(fd, (struct sockaddr *)&hole, sizeof(hole));
	e = errno;
	kick_join(k);
	CHECK(r == -1 && e == EINTR, "connect blocked, no SA_RESTART: EINTR (r=%zd %s)", r,
	      strerror(e));
	fcntl(fd, F_SETFL, O_NONBLOCK);
	r = connect(fd, (struct sockaddr *)&hole, sizeof(hole));
	e = errno;
	CHECK(r == -1 && e == EALREADY,
	      "the interrupted connect goes on: connect again (non-blocking) gives EALREADY (%s)",
	      strerror(e));
	close(fd);

	/* poll, select, epoll_wait: EINTR even with SA_RESTART */
	set_handler(true);
	fd = conn(7002);
	struct pollfd p = {.fd = fd, .events = POLLIN};
	k = kick_after(200);
	r = poll(&p, 1, -1);
	e = errno;
	kick_join(k);
	CHECK(r == -1 && e == EINTR, "poll, SA_RESTART: EINTR (r=%zd %s)", r, strerror(e));
	fd_set rs;
	FD_ZERO(&rs);
	FD_SET(fd, &rs);
	k = kick_after(200);
	r = select(fd + 1, &rs, NULL, NULL, NULL);
	e = errno;
	kick_join(k);
	CHECK(r == -1 && e == EINTR, "select, SA_RESTART: EINTR (r=%zd %s)", r, strerror(e));
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	k = kick_after(200);
	r = epoll_wait(ep, &ev, 1, -1);
	e = errno;
	kick_join(k);
	CHECK(r == -1 && e == EINTR, "epoll_wait, SA_RESTART: EINTR (r=%zd %s)", r, strerror(e));
	close(ep);
	close(fd);
	signal(SIGUSR1, SIG_IGN);
}

/* ---- threads ---- */

struct rcv {
	int fd;
	ssize_t r;
	int err;
	char buf[64];
	atomic_bool done;
	double t;
};
static void *rcv_main(void *arg)
{
	struct rcv *a = arg;

	a->r = recv(a->fd, a->buf, sizeof(a->buf), 0);
	a->err = errno;
	a->t = now_s();
	atomic_store(&a->done, true);
	return NULL;
}

static void t_threads(void)
{
	struct rcv a;
	pthread_t t;
	double t0;
	int fd;

	memset(&a, 0, sizeof(a));
	a.fd = fd = conn(7001);
	pthread_create(&t, NULL, rcv_main, &a);
	sleep_ms(200);
	send(fd, "ping", 4, 0);
	pthread_join(t, NULL);
	CHECK(a.r == 4 && !memcmp(a.buf, "ping", 4),
	      "recv in one thread, send on the same socket in another: the echo arrives");
	close(fd);

	memset(&a, 0, sizeof(a));
	a.fd = fd = conn(7002);
	pthread_create(&t, NULL, rcv_main, &a);
	sleep_ms(200);
	t0 = now_s();
	shutdown(fd, SHUT_RD);
	pthread_join(t, NULL);
	CHECK(a.r == 0 && a.t - t0 < 1, "shutdown(SHUT_RD) wakes a blocked recv with 0 (r=%zd)",
	      a.r);
	close(fd);

	/*
	 * Linux: close() of an fd another thread is blocked on does not wake
	 * it (the call holds the file); it returns when the socket has news.
	 */
	memset(&a, 0, sizeof(a));
	a.fd = fd = conn(7004);
	pthread_create(&t, NULL, rcv_main, &a);
	sleep_ms(200);
	close(fd);
	sleep_ms(200);
	bool still = !atomic_load(&a.done);
	pthread_join(t, NULL);
	CHECK(still && a.r == 4 && !memcmp(a.buf, "late", 4),
	      "close() from another thread: the blocked recv goes on and gets the later data "
	      "(still blocked %d, r=%zd)",
	      still, a.r);
}

/* Several threads on one epoll set, one-shot registrations. */
static int shared_ep;
static atomic_int shared_total, shared_per[8];
static int shared_fd[8];
static void *ep_worker(void *arg)
{
	double t0 = now_s();

	(void)arg;
	while (atomic_load(&shared_total) < 8 && now_s() - t0 < 5) {
		struct epoll_event ev;
		char c;

		if (epoll_wait(shared_ep, &ev, 1, 100) == 1 &&
		    recv(shared_fd[ev.data.u32], &c, 1, MSG_DONTWAIT) == 1) {
			atomic_fetch_add(&shared_per[ev.data.u32], 1);
			atomic_fetch_add(&shared_total, 1);
		}
	}
	return NULL;
}

static void t_epoll(void)
{
	pthread_t w[4];
	bool once = true;

	shared_ep = epoll_create1(0);
	for (int i = 0; i < 8; i++) {
		struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.u32 = (uint32_t)i};

		shared_fd[i] = conn(7001);
		epoll_ctl(shared_ep, EPOLL_CTL_ADD, shared_fd[i], &ev);
	}
	for (int i = 0; i < 4; i++)
		pthread_create(&w[i], NULL, ep_worker, NULL);
	sleep_ms(100);
	for (int i = 0; i < 8; i++)
		send(shared_fd[i], "x", 1, 0);
	for (int i = 0; i < 4; i++)
		pthread_join(w[i], NULL);
	for (int i = 0; i < 8; i++)
		once &= shared_per[i] == 1;
	CHECK(shared_total == 8 && once,
	      "one epoll set, 4 threads, 8 one-shot sockets: each event handled once (%d)",
	      shared_total);
	for (int i = 0; i < 8; i++)
		close(shared_fd[i]);
	close(shared_ep);

	/* EPOLLEXCLUSIVE: the same rules as for a kernel socket. */
	int sv[2], fd = conn(7002), e1 = epoll_create1(0), e2 = epoll_create1(0);
	int kr[4], pr[4];
	struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE};

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	kr[0] = epoll_ctl(e1, EPOLL_CTL_ADD, sv[0], &ev);
	pr[0] = epoll_ctl(e1, EPOLL_CTL_ADD, fd, &ev);
	ev.events = EPOLLIN;
	kr[1] = epoll_ctl(e1, EPOLL_CTL_MOD, sv[0], &ev) < 0 ? errno : 0;
	pr[1] = epoll_ctl(e1, EPOLL_CTL_MOD, fd, &ev) < 0 ? errno : 0;
	ev.events = EPOLLIN | EPOLLEXCLUSIVE | EPOLLRDHUP;
	kr[2] = epoll_ctl(e2, EPOLL_CTL_ADD, sv[0], &ev) < 0 ? errno : 0;
	pr[2] = epoll_ctl(e2, EPOLL_CTL_ADD, fd, &ev) < 0 ? errno : 0;
	ev.events = EPOLLIN | EPOLLEXCLUSIVE | EPOLLET;
	kr[3] = epoll_ctl(e2, EPOLL_CTL_ADD, sv[0], &ev) < 0 ? errno : 0;
	pr[3] = epoll_ctl(e2, EPOLL_CTL_ADD, fd, &ev) < 0 ? errno : 0;
	CHECK(!memcmp(kr, pr, sizeof(kr)) && pr[0] == 0 && pr[1] == EINVAL && pr[2] == EINVAL,
	      "EPOLLEXCLUSIVE accepted on ADD, refused on MOD and with EPOLLRDHUP, as for a "
	      "kernel socket (%d %d %d %d / %d %d %d %d)",
	      kr[0], kr[1], kr[2], kr[3], pr[0], pr[1], pr[2], pr[3]);
	close(sv[0]);
	close(sv[1]);
	close(fd);
	close(e1);
	close(e2);

	/* EPOLLRDHUP and POLLRDHUP on the peer's FIN. */
	fd = conn(7003);
	int ep = epoll_create1(0);
	ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	uint32_t got = 0;
	double t0 = now_s();
	while (!(got & EPOLLRDHUP) && now_s() - t0 < 3) {
		struct epoll_event out;

		if (epoll_wait(ep, &out, 1, 3000) == 1)
			got |= out.events;
	}
	struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};
	int pr1 = poll(&p, 1, 0);
	char buf[16];
	ssize_t n1 = read(fd, buf, sizeof(buf)), n2 = read(fd, buf, sizeof(buf));
	CHECK((got & (EPOLLIN | EPOLLRDHUP)) == (EPOLLIN | EPOLLRDHUP) && pr1 == 1 &&
		  (p.revents & (POLLIN | POLLRDHUP)) == (POLLIN | POLLRDHUP) && n1 == 3 && n2 == 0,
	      "peer FIN: EPOLLRDHUP and POLLRDHUP reported (epoll %#x, poll %#x)", got,
	      (unsigned)p.revents);
	close(fd);
	close(ep);

	/* A closed fd leaves the set; with a dup() open it stays (the file lives). */
	ep = epoll_create1(0);
	fd = conn(7004);
	ev.events = EPOLLIN;
	ev.data.u64 = 1;
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	close(fd);
	struct epoll_event out;
	int k = epoll_wait(ep, &out, 1, 1200);
	CHECK(k == 0, "closed private fd: no more events from the set (%d)", k);
	fd = conn(7004);
	int d = dup(fd);
	ev.data.u64 = 2;
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	close(fd);
	k = epoll_wait(ep, &out, 1, 2000);
	CHECK(k == 1 && out.data.u64 == 2 && (out.events & EPOLLIN),
	      "closed fd with a dup() open: still reported, as Linux (%d)", k);
	close(d);
	close(ep);
}

/* poll in one thread, epoll in another, same socket: every round seen by both. */
static atomic_int round_no, p_seen, e_seen;
static int pe_fd, pe_ep;
static void *poller(void *arg __attribute__((unused)))
{
	for (int r = 1; r <= 100; r++) {
		struct pollfd p = {.fd = pe_fd, .events = POLLIN};

		while (atomic_load(&round_no) < r)
			sleep_ms(1);
		if (poll(&p, 1, 3000) != 1)
			return NULL;
		atomic_store(&p_seen, r);
	}
	return NULL;
}
static void *epoller(void *arg __attribute__((unused)))
{
	for (int r = 1; r <= 100; r++) {
		struct epoll_event ev;

		while (atomic_load(&round_no) < r)
			sleep_ms(1);
		if (atomic_load(&e_seen) >= r)
			continue;
		if (epoll_wait(pe_ep, &ev, 1, 3000) != 1)
			return NULL;
		atomic_store(&e_seen, r);
	}
	return NULL;
}

static void t_poll_epoll(void)
{
	pthread_t a, b;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLET};
	double t0 = now_s();
	int r;

	pe_fd = conn(7001);
	pe_ep = epoll_create1(0);
	epoll_ctl(pe_ep, EPOLL_CTL_ADD, pe_fd, &ev);
	pthread_create(&a, NULL, poller, NULL);
	pthread_create(&b, NULL, epoller, NULL);
	for (r = 1; r <= 100; r++) {
		char c;

		send(pe_fd, "x", 1, 0);
		atomic_store(&round_no, r);
		while ((p_seen < r || e_seen < r) && now_s() - t0 < 20)
			sleep_ms(1);
		if (p_seen < r || e_seen < r)
			break;
		if (recv(pe_fd, &c, 1, 0) != 1)
			break;
	}
	atomic_store(&round_no, 1000);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	CHECK(r == 101,
	      "poll and epoll (ET) on one socket in two threads: 100 rounds, no lost "
	      "wake-up (%d rounds, %.2f s)",
	      r - 1, now_s() - t0);
	close(pe_fd);
	close(pe_ep);
}

/* Non-blocking connect: writable when done, the result in SO_ERROR. */
static int nb_connect(int port)
{
	struct sockaddr_in sa = sin_of(peer, port);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));

	if (!(r == -1 && errno == EINPROGRESS))
		printf("FAIL non-blocking connect: %d %s\n", r, strerror(errno));
	return fd;
}
static void t_nbconnect(void)
{
	int fd = nb_connect(7001);
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	int r = poll(&p, 1, 3000);

	CHECK(r == 1 && (p.revents & POLLOUT) && so_error(fd) == 0,
	      "non-blocking connect: poll POLLOUT, SO_ERROR 0 (%#x)", (unsigned)p.revents);
	close(fd);

	fd = nb_connect(7001);
	fd_set ws;
	FD_ZERO(&ws);
	FD_SET(fd, &ws);
	struct timeval tv = {3, 0};
	r = select(fd + 1, NULL, &ws, NULL, &tv);
	CHECK(r == 1 && FD_ISSET(fd, &ws) && so_error(fd) == 0,
	      "non-blocking connect: select writable, SO_ERROR 0");
	close(fd);

	fd = nb_connect(7001);
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLOUT | EPOLLET}, out;
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	r = epoll_wait(ep, &out, 1, 3000);
	CHECK(r == 1 && (out.events & EPOLLOUT) && so_error(fd) == 0,
	      "non-blocking connect: epoll EPOLLOUT, SO_ERROR 0");
	close(fd);
	close(ep);

	fd = nb_connect(7999);
	p = (struct pollfd){.fd = fd, .events = POLLOUT};
	r = poll(&p, 1, 3000);
	int e = so_error(fd);
	CHECK(r == 1 && (p.revents & POLLERR) && e == ECONNREFUSED && so_error(fd) == 0,
	      "non-blocking connect to a closed port: POLLERR (%#x), SO_ERROR ECONNREFUSED once",
	      (unsigned)p.revents);
	close(fd);
}

/*
 * A program closing fd numbers it believes unused (clean-up before a
 * fork, say) while another thread waits: that thread's own wait object
 * (nstack's, above the socket's number here) must survive, and the wait
 * must still sleep rather than spin.
 */
static atomic_int ca_stage;
static int ca_fd;
static ssize_t ca_r;
static void *ca_thread(void *arg __attribute__((unused)))
{
	struct pollfd p = {.fd = ca_fd, .events = POLLIN};
	char buf[16];

	poll(&p, 1, 50); /* the first wait of this thread */
	atomic_store(&ca_stage, 1);
	while (atomic_load(&ca_stage) < 2)
		sleep_ms(1);
	ca_r = recv(ca_fd, buf, sizeof(buf), 0);
	return NULL;
}

static void t_close_unknown(void)
{
	pthread_t t;
	int ebadf = 0;

	ca_fd = conn(7004);
	pthread_create(&t, NULL, ca_thread, NULL);
	while (atomic_load(&ca_stage) < 1)
		sleep_ms(1);
	for (int i = ca_fd + 1; i < ca_fd + 64; i++)
		ebadf += close(i) < 0 && errno == EBADF;
	double c0 = cpu_s();
	atomic_store(&ca_stage, 2);
	pthread_join(t, NULL);
	double cpu = cpu_s() - c0;
	CHECK(ca_r == 4 && cpu < 0.2,
	      "closing fd numbers the program never opened: a waiting thread still sleeps "
	      "and gets its data (%zd, %.3f s CPU, %d of 63 closes EBADF)",
	      ca_r, cpu, ebadf);
	close(ca_fd);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: thr_probe PEER SELF\n");
		return 2;
	}
	peer = argv[1];
	self = argv[2];
	signal(SIGPIPE, SIG_IGN);
	t_signals();
	t_threads();
	t_epoll();
	t_poll_epoll();
	t_nbconnect();
	t_close_unknown();
	printf("%s: %d failure(s)\n", fails ? "FAIL" : "PASS", fails);
	return fails ? 1 : 0;
}
