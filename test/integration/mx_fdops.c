/*
 * Targeted checks for the program matrix (case_matrix.sh), run under nstack
 * against kernel servers in the peer namespace (mx_srv.py):
 *
 *   mx_fdops refused    ADDR PORT   non-blocking connect to a closed port:
 *                                   EINPROGRESS, POLLOUT|POLLERR, SO_ERROR
 *                                   ECONNREFUSED once, then 0
 *   mx_fdops dup2       ADDR PORT   dup2 of a private socket to a new number
 *                                   and of a file over a private socket
 *   mx_fdops closerange ADDR PORT   close_range over private fds (and the
 *                                   CLOSE_RANGE_CLOEXEC flag)
 *   mx_fdops threads    ADDR PORT   8 threads x 100 connections, each reply
 *                                   checked
 *   mx_fdops signals    ADDR PORT   a blocked recv and signals: EINTR without
 *                                   SA_RESTART, restarted with it (another
 *                                   thread sends meanwhile), EINTR with
 *                                   SO_RCVTIMEO even with SA_RESTART, EAGAIN
 *                                   at SO_RCVTIMEO, shutdown from another
 *                                   thread wakes the blocked recv
 *   mx_fdops rawsys     ADDR PORT   the socket calls made through syscall(2),
 *                                   as libuv makes them: UDP socket,
 *                                   sendmmsg/recvmmsg and ppoll against a UDP
 *                                   echo on PORT; TCP connect, write, read,
 *                                   fcntl and close against a TCP echo on PORT
 *   mx_fdops stdio      ADDR PORT   stdio on private sockets (TCP echo on
 *                                   PORT): fdopen + fprintf/fgets/fileno/
 *                                   fclose; printf to stdout dup2()ed onto a
 *                                   socket, then stdout put back
 *
 * dup2/closerange talk to mx_srv.py's "ctl" mode: the first connection is a
 * control channel on which the server reports "eof ID BYTES" when one of the
 * later connections (which announce "id ID\n") reaches end of file. So the
 * program sees from the far side that a private socket really closed when
 * it should, not merely at exit. Exit 0 when every check held; the first
 * failed check is printed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static struct sockaddr_in peer;

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "mx_fdops: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " (errno %d: %s)\n", errno, strerror(errno));
	va_end(ap);
	exit(1);
}

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond))                                                                       \
			die(__VA_ARGS__);                                                          \
	} while (0)

static int tcp_connect(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);

	CHECK(s >= 0, "socket");
	CHECK(connect(s, (struct sockaddr *)&peer, sizeof(peer)) == 0, "connect");
	return s;
}

static void send_all(int s, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(s, buf, len, MSG_NOSIGNAL);

		CHECK(n > 0, "send on %d", s);
		buf += n;
		len -= (size_t)n;
	}
}

static void sendf(int s, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	send_all(s, buf, (size_t)n);
}

/* Reads one line (bounded by 10 s) from the control channel. */
static void read_line(int s, char *line, size_t cap)
{
	size_t n = 0;

	while (n + 1 < cap) {
		struct pollfd p = {.fd = s, .events = POLLIN};
		ssize_t r;

		CHECK(poll(&p, 1, 10000) == 1, "control channel: no line in 10 s (got '%.*s')",
		      (int)n, line);
		r = recv(s, line + n, 1, 0);
		CHECK(r == 1, "control channel recv");
		if (line[n] == '\n')
			break;
		n++;
	}
	line[n] = '\0';
}

/* Waits for the server to report end of file on connection ID after BYTES. */
static void expect_eof(int ctl, int id, long bytes)
{
	char line[128], want[64];

	read_line(ctl, line, sizeof(line));
	snprintf(want, sizeof(want), "eof %d %ld", id, bytes);
	CHECK(strcmp(line, want) == 0, "control channel: want '%s', got '%s'", want, line);
}

/* A connection that says who it is, so the server can report on it. */
static int open_conn(int id)
{
	int s = tcp_connect();

	sendf(s, "id %d\n", id);
	return s;
}

static int cmd_refused(void)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct pollfd p;
	int err = -1;
	socklen_t len = sizeof(err);
	int rc;

	CHECK(s >= 0, "socket");
	rc = connect(s, (struct sockaddr *)&peer, sizeof(peer));
	CHECK(rc == -1 && errno == EINPROGRESS, "non-blocking connect: want EINPROGRESS");
	p = (struct pollfd){.fd = s, .events = POLLOUT};
	CHECK(poll(&p, 1, 5000) == 1, "poll: connect did not complete in 5 s");
	/* Linux: a refused connect is POLLOUT|POLLERR|POLLHUP. */
	CHECK((p.revents & (POLLOUT | POLLERR)) == (POLLOUT | POLLERR),
	      "poll revents %#x: want POLLOUT|POLLERR", p.revents);
	CHECK(getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) == 0, "getsockopt SO_ERROR");
	CHECK(err == ECONNREFUSED, "SO_ERROR %d: want ECONNREFUSED", err);
	/* Reading SO_ERROR clears it. */
	CHECK(getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0,
	      "second SO_ERROR %d: want 0", err);
	close(s);

	/* The blocking form fails at once with the same errno. */
	s = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(s >= 0, "socket");
	rc = connect(s, (struct sockaddr *)&peer, sizeof(peer));
	CHECK(rc == -1 && errno == ECONNREFUSED, "blocking connect: want ECONNREFUSED");
	close(s);
	printf("refused: ok\n");
	return 0;
}

static int cmd_dup2(void)
{
	int ctl = tcp_connect();
	int a, b, f, hi = 200, type;
	socklen_t len = sizeof(type);
	char buf[8];

	sendf(ctl, "ctl\n");
	/* A private socket duplicated to a high number outlives its original. */
	a = open_conn(1);
	CHECK(dup2(a, hi) == hi, "dup2(%d, %d)", a, hi);
	CHECK(close(a) == 0, "close original");
	sendf(hi, "12345");
	CHECK(getsockopt(hi, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM,
	      "SO_TYPE on the duplicate");
	CHECK(close(hi) == 0, "close duplicate");
	expect_eof(ctl, 1, 5);

	/* dup2 of a file over a private socket closes the socket (its last
	 * reference) and the number now names the file. */
	b = open_conn(2);
	sendf(b, "abc");
	f = open("/dev/zero", O_RDONLY);
	CHECK(f >= 0, "open /dev/zero");
	CHECK(dup2(f, b) == b, "dup2(file, private %d)", b);
	expect_eof(ctl, 2, 3);
	CHECK(read(b, buf, sizeof(buf)) == (ssize_t)sizeof(buf) && buf[0] == 0,
	      "read /dev/zero through the reused number");
	errno = 0;
	CHECK(getsockopt(b, SOL_SOCKET, SO_TYPE, &type, &len) == -1 && errno == ENOTSOCK,
	      "getsockopt on the file: want ENOTSOCK");
	close(b);
	close(f);

	/* dup2 of a private socket over another private socket. */
	a = open_conn(3);
	b = open_conn(4);
	sendf(a, "xy");
	CHECK(dup2(a, b) == b, "dup2(private, private)");
	expect_eof(ctl, 4, 0);
	sendf(b, "z"); /* reaches connection 3 */
	close(a);
	close(b);
	expect_eof(ctl, 3, 3);

	/* dup2 onto itself is a no-op that checks the fd. */
	a = open_conn(5);
	CHECK(dup2(a, a) == a, "dup2(fd, fd)");
	sendf(a, "q");
	close(a);
	expect_eof(ctl, 5, 1);
	close(ctl);
	printf("dup2: ok\n");
	return 0;
}

static int cmd_closerange(void)
{
	enum { N = 6 };
	int ctl = tcp_connect();
	int fds[N], i, lo = 1 << 30, hi = -1, s;
	char line[128];

	sendf(ctl, "ctl\n");
	for (i = 0; i < N; i++) {
		fds[i] = open_conn(10 + i);
		sendf(fds[i], "%d", i);
		lo = fds[i] < lo ? fds[i] : lo;
		hi = fds[i] > hi ? fds[i] : hi;
	}
	CHECK(lo > ctl, "control fd %d must be below the range %d..%d", ctl, lo, hi);

	/* CLOSE_RANGE_CLOEXEC marks and keeps them. */
	CHECK(close_range((unsigned)lo, (unsigned)hi, CLOSE_RANGE_CLOEXEC) == 0,
	      "close_range CLOEXEC");
	for (i = 0; i < N; i++)
		CHECK(fcntl(fds[i], F_GETFD) == FD_CLOEXEC, "fd %d: want FD_CLOEXEC", fds[i]);

	/* Close everything from the first socket up: all of them end. */
	CHECK(close_range((unsigned)lo, ~0U, 0) == 0, "close_range");
	for (i = 0; i < N; i++) {
		errno = 0;
		CHECK(fcntl(fds[i], F_GETFD) == -1 && errno == EBADF, "fd %d still open", fds[i]);
	}
	/* The reports come in any order; each connection exactly once. */
	{
		int seen[N] = {0};

		for (i = 0; i < N; i++) {
			int id;
			long bytes;

			read_line(ctl, line, sizeof(line));
			CHECK(sscanf(line, "eof %d %ld", &id, &bytes) == 2 && id >= 10 &&
				  id < 10 + N && !seen[id - 10] && bytes == 1,
			      "unexpected report '%s'", line);
			seen[id - 10] = 1;
		}
	}
	/* The numbers are free again and a new private socket works. */
	s = open_conn(99);
	CHECK(s <= hi, "new socket got %d, want a reused number <= %d", s, hi);
	sendf(s, "ok");
	close(s);
	expect_eof(ctl, 99, 2);
	close(ctl);
	printf("closerange: ok\n");
	return 0;
}

enum { THREADS = 8, CONNS = 100 };
static int thread_fail;

static void *client_thread(void *arg)
{
	long t = (long)arg;
	int c;

	for (c = 0; c < CONNS; c++) {
		char msg[128], got[128];
		int s = socket(AF_INET, SOCK_STREAM, 0), n, off = 0;

		if (s < 0 || connect(s, (struct sockaddr *)&peer, sizeof(peer)) != 0) {
			fprintf(stderr, "thread %ld conn %d: connect: %s\n", t, c, strerror(errno));
			goto fail;
		}
		n = snprintf(msg, sizeof(msg), "echo thread %ld connection %d %08x\n", t, c,
			     (unsigned)rand_r(&(unsigned){(unsigned)(t * 1000 + c)}));
		send_all(s, msg, (size_t)n);
		while (off < n) {
			ssize_t r = recv(s, got + off, (size_t)(n - off), 0);

			if (r <= 0) {
				fprintf(stderr, "thread %ld conn %d: recv %zd: %s\n", t, c, r,
					strerror(errno));
				goto fail;
			}
			off += (int)r;
		}
		if (memcmp(msg, got, (size_t)n) != 0) {
			fprintf(stderr, "thread %ld conn %d: reply differs\n", t, c);
			goto fail;
		}
		close(s);
		continue;
	fail:
		__atomic_store_n(&thread_fail, 1, __ATOMIC_SEQ_CST);
		if (s >= 0)
			close(s);
		return NULL;
	}
	return NULL;
}

static int cmd_threads(void)
{
	pthread_t th[THREADS];
	long t;

	for (t = 0; t < THREADS; t++)
		CHECK(pthread_create(&th[t], NULL, client_thread, (void *)t) == 0,
		      "pthread_create");
	for (t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	CHECK(!thread_fail, "a client thread failed");
	printf("threads: %d connections ok\n", THREADS * CONNS);
	return 0;
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

static void arm_alarm(int restart, long ms)
{
	struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = restart ? SA_RESTART : 0};
	struct itimerval it = {.it_value = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000}};

	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGALRM, &sa, NULL) == 0, "sigaction");
	CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0, "setitimer");
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct delayed {
	int fd, ms, shut;
};

/* After ms, sends "late\n" on fd (the echo server returns it) or shuts it down. */
static void *delayed_main(void *arg)
{
	struct delayed *d = arg;

	nanosleep(&(struct timespec){d->ms / 1000, (d->ms % 1000) * 1000000L}, NULL);
	if (d->shut)
		CHECK(shutdown(d->fd, SHUT_RDWR) == 0, "shutdown from another thread");
	else
		sendf(d->fd, "late\n");
	return NULL;
}

static int cmd_signals(void)
{
	int s = tcp_connect();
	struct timeval tv = {.tv_sec = 0, .tv_usec = 300000};
	struct delayed d = {.fd = s, .ms = 500};
	pthread_t t;
	char buf[64];
	ssize_t n;
	double t0;

	/* The server echoes: prime it so later lines are echoed line by line. */
	sendf(s, "first\n");
	CHECK(recv(s, buf, 6, MSG_WAITALL) == 6 && !memcmp(buf, "first\n", 6), "first echo");

	fprintf(stderr, "step: EINTR without SA_RESTART\n");
	/* No SA_RESTART: the blocked recv fails with EINTR. */
	alarms = 0;
	arm_alarm(0, 200);
	errno = 0;
	n = recv(s, buf, sizeof(buf), 0);
	CHECK(n == -1 && errno == EINTR && alarms == 1, "recv without SA_RESTART: %zd, want EINTR",
	      n);

	fprintf(stderr, "step: SA_RESTART\n");
	/* SA_RESTART: the handler runs, recv goes on and gets the line another
	 * thread sends on the same socket meanwhile. */
	alarms = 0;
	arm_alarm(1, 200);
	CHECK(pthread_create(&t, NULL, delayed_main, &d) == 0, "pthread_create");
	n = recv(s, buf, sizeof(buf), 0);
	pthread_join(t, NULL);
	CHECK(n == 5 && !memcmp(buf, "late\n", 5) && alarms == 1,
	      "recv with SA_RESTART: %zd (alarms %d), want the echoed line", n, (int)alarms);

	fprintf(stderr, "step: SO_RCVTIMEO\n");
	/* SO_RCVTIMEO: EAGAIN after the timeout. */
	CHECK(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0, "SO_RCVTIMEO");
	t0 = now_s();
	errno = 0;
	n = recv(s, buf, sizeof(buf), 0);
	CHECK(n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK), "recv with SO_RCVTIMEO: %zd",
	      n);
	CHECK(now_s() - t0 >= 0.25 && now_s() - t0 < 3, "SO_RCVTIMEO waited %.3f s", now_s() - t0);

	fprintf(stderr, "step: SO_RCVTIMEO and SA_RESTART\n");
	/* With a timeout set, even SA_RESTART gives EINTR (socket(7)). */
	tv.tv_sec = 5;
	CHECK(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0, "SO_RCVTIMEO");
	alarms = 0;
	arm_alarm(1, 200);
	errno = 0;
	n = recv(s, buf, sizeof(buf), 0);
	CHECK(n == -1 && errno == EINTR && alarms == 1,
	      "recv with SO_RCVTIMEO and SA_RESTART: %zd, want EINTR", n);

	fprintf(stderr, "step: shutdown from another thread\n");
	/* shutdown from another thread wakes the blocked recv with end of file. */
	d.shut = 1;
	d.ms = 300;
	CHECK(pthread_create(&t, NULL, delayed_main, &d) == 0, "pthread_create");
	t0 = now_s();
	n = recv(s, buf, sizeof(buf), 0);
	pthread_join(t, NULL);
	CHECK(n == 0 && now_s() - t0 < 3, "recv after shutdown from another thread: %zd", n);
	close(s);
	printf("signals: ok\n");
	return 0;
}

static int cmd_rawsys(void)
{
	char out[2][64], in[2][64];
	struct iovec oiov[2], iiov[2];
	struct mmsghdr om[2], im[2];
	struct pollfd p;
	struct timespec ts = {.tv_sec = 3};
	int u, t, got = 0;
	long n;

	u = (int)syscall(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHECK(u >= 0, "syscall(SYS_socket, UDP)");
	CHECK(syscall(SYS_connect, u, &peer, sizeof(peer)) == 0, "syscall(SYS_connect, UDP)");
	/* libuv's probe: an empty sendmmsg on an unconnected-to-anything fd must not be ENOTSOCK. */
	CHECK(syscall(SYS_sendmmsg, u, NULL, 0, 0) == 0, "syscall(SYS_sendmmsg, empty)");
	memset(om, 0, sizeof(om));
	for (int i = 0; i < 2; i++) {
		snprintf(out[i], sizeof(out[i]), "rawsys datagram %d", i);
		oiov[i] = (struct iovec){out[i], strlen(out[i])};
		om[i].msg_hdr.msg_iov = &oiov[i];
		om[i].msg_hdr.msg_iovlen = 1;
	}
	n = syscall(SYS_sendmmsg, u, om, 2, 0);
	CHECK(n == 2, "syscall(SYS_sendmmsg) sent %ld", n);
	while (got < 2) {
		p = (struct pollfd){.fd = u, .events = POLLIN};
		n = syscall(SYS_ppoll, &p, 1, &ts, NULL, 8);
		CHECK(n == 1 && (p.revents & POLLIN), "syscall(SYS_ppoll) for the echo: %ld", n);
		memset(im, 0, sizeof(im));
		for (int i = 0; i < 2; i++) {
			iiov[i] = (struct iovec){in[i], sizeof(in[i])};
			im[i].msg_hdr.msg_iov = &iiov[i];
			im[i].msg_hdr.msg_iovlen = 1;
		}
		n = syscall(SYS_recvmmsg, u, im, 2 - got, MSG_DONTWAIT, NULL);
		CHECK(n >= 1, "syscall(SYS_recvmmsg): %ld", n);
		for (int i = 0; i < n; i++)
			CHECK(im[i].msg_len == strlen(out[got + i]) &&
				  !memcmp(in[i], out[got + i], im[i].msg_len),
			      "echo %d differs", got + i);
		got += (int)n;
	}
	CHECK(syscall(SYS_close, u) == 0, "syscall(SYS_close, UDP)");

	t = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
	CHECK(t >= 0, "syscall(SYS_socket, TCP)");
	CHECK(syscall(SYS_connect, t, &peer, sizeof(peer)) == 0, "syscall(SYS_connect, TCP)");
	CHECK(syscall(SYS_fcntl, t, F_GETFL, 0) >= 0, "syscall(SYS_fcntl)");
	CHECK(syscall(SYS_write, t, "rawsys stream\n", 14) == 14, "syscall(SYS_write)");
	for (got = 0; got < 14; got += (int)n) {
		n = syscall(SYS_read, t, in[0] + got, 14 - got);
		CHECK(n > 0, "syscall(SYS_read): %ld", n);
	}
	CHECK(!memcmp(in[0], "rawsys stream\n", 14), "stream echo differs");
	CHECK(syscall(SYS_close, t) == 0, "syscall(SYS_close, TCP)");
	/* The kernel never saw these sockets: closing again is EBADF, as for any closed fd. */
	CHECK(syscall(SYS_close, t) == -1 && errno == EBADF, "second close");
	printf("rawsys: ok\n");
	return 0;
}

static int cmd_stdio(void)
{
	char line[128];
	FILE *w, *r;
	int s, saved;

	s = tcp_connect();
	w = fdopen(s, "w");
	CHECK(w != NULL, "fdopen(w)");
	r = fdopen(dup(s), "r");
	CHECK(r != NULL, "fdopen(r) of a dup");
	CHECK(fileno(w) == s, "fileno of the fdopen stream: %d, want %d", fileno(w), s);
	CHECK(fprintf(w, "stdio %d %s\n", 42, "fdopen") > 0 && fflush(w) == 0, "fprintf+fflush");
	CHECK(fgets(line, sizeof(line), r) && !strcmp(line, "stdio 42 fdopen\n"), "fgets: '%s'", line);

	/* bash's `printf ... >&3`: stdout moved onto the socket, written, moved back. */
	fflush(stdout);
	saved = dup(1);
	CHECK(saved >= 0 && dup2(s, 1) == 1, "dup2 onto stdout");
	printf("via stdout %d\n", 7);
	fputs("second line\n", stdout);
	CHECK(fflush(stdout) == 0 && !ferror(stdout), "fflush(stdout) on the socket");
	CHECK(dup2(saved, 1) == 1, "dup2 stdout back");
	close(saved);
	CHECK(fgets(line, sizeof(line), r) && !strcmp(line, "via stdout 7\n"), "echo 1: '%s'", line);
	CHECK(fgets(line, sizeof(line), r) && !strcmp(line, "second line\n"), "echo 2: '%s'", line);
	CHECK(fclose(w) == 0, "fclose(w)");
	CHECK(fclose(r) == 0, "fclose(r)");
	printf("stdio: ok\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr,
			"usage: mx_fdops refused|dup2|closerange|threads|signals|rawsys|stdio ADDR PORT\n");
		return 2;
	}
	peer.sin_family = AF_INET;
	peer.sin_port = htons((unsigned short)atoi(argv[3]));
	if (inet_pton(AF_INET, argv[2], &peer.sin_addr) != 1)
		return 2;
	if (!strcmp(argv[1], "refused"))
		return cmd_refused();
	if (!strcmp(argv[1], "dup2"))
		return cmd_dup2();
	if (!strcmp(argv[1], "closerange"))
		return cmd_closerange();
	if (!strcmp(argv[1], "threads"))
		return cmd_threads();
	if (!strcmp(argv[1], "signals"))
		return cmd_signals();
	if (!strcmp(argv[1], "rawsys"))
		return cmd_rawsys();
	if (!strcmp(argv[1], "stdio"))
		return cmd_stdio();
	return 2;
}
