/* libevent echo programs for the nstack lab (case_evlibs.sh).
 *
 *   ev_libevent tcp-server PORT             evconnlistener + bufferevent echo;
 *                                           serves one connection: echoes
 *                                           until EOF, then flushes, half-closes
 *                                           and exits 0. Prints "ready".
 *   ev_libevent tcp-client HOST PORT IN OUT bufferevent client: sends file IN,
 *                                           half-closes once it is written,
 *                                           writes the echo to OUT until EOF.
 *   ev_libevent udp-server PORT             event + recvfrom/sendto echo;
 *                                           exits on a "quit" datagram or
 *                                           after 10 s idle. Prints "ready".
 *   ev_libevent udp-client HOST PORT N      N datagrams (8..1400 bytes), each
 *                                           waited for and compared (3 tries
 *                                           each, 1 s apart), then "quit".
 *
 * Every mode is bounded by a 30 s timer. Exit status 0 only on success.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static struct event_base *base;
static int status = 1;
static FILE *out;
static int got_eof;

static void die_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	fprintf(stderr, "ev_libevent: overall timeout\n");
	status = 2;
	event_base_loopbreak(base);
}

static struct sockaddr_in addr_of(const char *host, int port)
{
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	if (host && evutil_inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
		fprintf(stderr, "bad address %s\n", host);
		exit(2);
	}
	return sin;
}

/* ---- TCP server ---- */

static void srv_finish(struct bufferevent *bev)
{
	shutdown(bufferevent_getfd(bev), SHUT_WR);
	bufferevent_free(bev);
	status = 0;
	event_base_loopexit(base, NULL);
}

static void srv_read(struct bufferevent *bev, void *arg)
{
	(void)arg;
	evbuffer_add_buffer(bufferevent_get_output(bev), bufferevent_get_input(bev));
}

static void srv_write(struct bufferevent *bev, void *arg)
{
	(void)arg;
	if (got_eof && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		srv_finish(bev);
}

static void srv_event(struct bufferevent *bev, short what, void *arg)
{
	(void)arg;
	if (what & BEV_EVENT_EOF) {
		got_eof = 1;
		/* The read callback already moved everything; drained? */
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			srv_finish(bev);
		return;
	}
	fprintf(stderr, "server: bufferevent error 0x%x: %s\n", what,
		evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	bufferevent_free(bev);
	event_base_loopbreak(base);
}

static void srv_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
		       int len, void *arg)
{
	(void)sa, (void)len, (void)arg;
	struct bufferevent *bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(bev, srv_read, srv_write, srv_event, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	evconnlistener_disable(l); /* one connection */
}

static void srv_listen_err(struct evconnlistener *l, void *arg)
{
	(void)l, (void)arg;
	fprintf(stderr, "server: accept error: %s\n",
		evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	event_base_loopbreak(base);
}

static int tcp_server(int port)
{
	struct sockaddr_in sin = addr_of(NULL, port);
	struct evconnlistener *l = evconnlistener_new_bind(
		base, srv_accept, NULL, LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE, 16,
		(struct sockaddr *)&sin, sizeof sin);
	if (!l) {
		perror("evconnlistener_new_bind");
		return 1;
	}
	evconnlistener_set_error_cb(l, srv_listen_err);
	printf("ready\n");
	fflush(stdout);
	event_base_dispatch(base);
	evconnlistener_free(l);
	return status;
}

/* ---- TCP client ---- */

static int cli_shut;

static void cli_read(struct bufferevent *bev, void *arg)
{
	(void)arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n = evbuffer_get_length(in);
	unsigned char *p = evbuffer_pullup(in, n);
	if (n && fwrite(p, 1, n, out) != n) {
		perror("fwrite");
		event_base_loopbreak(base);
	}
	evbuffer_drain(in, n);
}

static void cli_write(struct bufferevent *bev, void *arg)
{
	(void)arg;
	if (!cli_shut && evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		cli_shut = 1;
		if (shutdown(bufferevent_getfd(bev), SHUT_WR) < 0)
			perror("shutdown");
	}
}

static void cli_event(struct bufferevent *bev, short what, void *arg)
{
	(void)arg;
	if (what & BEV_EVENT_CONNECTED)
		return;
	if (what & BEV_EVENT_EOF) {
		cli_read(bev, NULL);
		status = cli_shut ? 0 : 1;
		if (!cli_shut)
			fprintf(stderr, "client: EOF before all was sent\n");
	} else {
		fprintf(stderr, "client: bufferevent error 0x%x: %s\n", what,
			evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	}
	bufferevent_free(bev);
	event_base_loopexit(base, NULL);
}

static int tcp_client(const char *host, int port, const char *in_path, const char *out_path)
{
	struct sockaddr_in sin = addr_of(host, port);
	FILE *in = fopen(in_path, "rb");
	out = fopen(out_path, "wb");
	if (!in || !out) {
		perror("fopen");
		return 1;
	}
	struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(bev, cli_read, cli_write, cli_event, NULL);
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		bufferevent_write(bev, buf, n);
	fclose(in);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(bev, (struct sockaddr *)&sin, sizeof sin) < 0) {
		perror("bufferevent_socket_connect");
		return 1;
	}
	event_base_dispatch(base);
	if (fclose(out) != 0)
		status = 1;
	return status;
}

/* ---- UDP ---- */

static void udp_srv_read(evutil_socket_t fd, short what, void *arg)
{
	(void)arg;
	char buf[65536];
	struct sockaddr_in from;
	socklen_t flen = sizeof from;
	if (what & EV_TIMEOUT) {
		fprintf(stderr, "udp server: idle\n");
		event_base_loopexit(base, NULL);
		return;
	}
	ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		perror("recvfrom");
		event_base_loopbreak(base);
		return;
	}
	if (n == 4 && memcmp(buf, "quit", 4) == 0) {
		status = 0;
		event_base_loopexit(base, NULL);
		return;
	}
	if (sendto(fd, buf, n, 0, (struct sockaddr *)&from, flen) != n)
		perror("sendto");
}

static int udp_socket(void)
{
	evutil_socket_t fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || evutil_make_socket_nonblocking(fd) < 0) {
		perror("socket");
		exit(1);
	}
	return fd;
}

static int udp_server(int port)
{
	evutil_socket_t fd = udp_socket();
	struct sockaddr_in sin = addr_of(NULL, port);
	evutil_make_listen_socket_reuseable(fd);
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
		perror("bind");
		return 1;
	}
	struct event *ev = event_new(base, fd, EV_READ | EV_PERSIST, udp_srv_read, NULL);
	struct timeval ten = {10, 0};
	event_add(ev, &ten); /* persistent with timeout: idle timer re-armed per datagram */
	printf("ready\n");
	fflush(stdout);
	event_base_dispatch(base);
	event_free(ev);
	evutil_closesocket(fd);
	return status;
}

struct udp_cli {
	evutil_socket_t fd;
	struct sockaddr_in to;
	struct event *ev;
	int i, n, tries;
	size_t len;
	char msg[1500];
};

static void udp_cli_send(struct udp_cli *c)
{
	static const struct timeval one = {1, 0};
	c->len = 8 + (size_t)(c->i * 97) % 1393;
	for (size_t k = 0; k < c->len; k++)
		c->msg[k] = (char)(c->i * 31 + k * 7);
	memcpy(c->msg, &c->i, sizeof c->i);
	if (sendto(c->fd, c->msg, c->len, 0, (struct sockaddr *)&c->to, sizeof c->to) !=
	    (ssize_t)c->len)
		perror("sendto");
	event_add(c->ev, &one);
}

static void udp_cli_read(evutil_socket_t fd, short what, void *arg)
{
	struct udp_cli *c = arg;
	char buf[65536];
	if (what & EV_TIMEOUT) {
		if (++c->tries >= 3) {
			fprintf(stderr, "udp client: no echo for datagram %d\n", c->i);
			event_base_loopbreak(base);
			return;
		}
		udp_cli_send(c);
		return;
	}
	struct sockaddr_in from;
	socklen_t flen = sizeof from;
	ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR) {
			perror("recvfrom");
			event_base_loopbreak(base);
		}
		return;
	}
	if (from.sin_addr.s_addr != c->to.sin_addr.s_addr || from.sin_port != c->to.sin_port) {
		fprintf(stderr, "udp client: datagram from %s:%d\n", inet_ntoa(from.sin_addr),
			ntohs(from.sin_port));
		event_base_loopbreak(base);
		return;
	}
	int seq;
	memcpy(&seq, buf, sizeof seq);
	if (n >= (ssize_t)sizeof seq && seq < c->i)
		return; /* late echo of a retried datagram */
	if ((size_t)n != c->len || memcmp(buf, c->msg, c->len) != 0) {
		fprintf(stderr, "udp client: datagram %d: bad echo (%zd bytes, want %zu)\n", c->i,
			n, c->len);
		event_base_loopbreak(base);
		return;
	}
	if (++c->i == c->n) {
		sendto(c->fd, "quit", 4, 0, (struct sockaddr *)&c->to, sizeof c->to);
		printf("udp ok %d\n", c->n);
		status = 0;
		event_base_loopexit(base, NULL);
		return;
	}
	c->tries = 0;
	udp_cli_send(c);
}

static int udp_client(const char *host, int port, int n)
{
	static struct udp_cli c;
	c.fd = udp_socket();
	c.to = addr_of(host, port);
	c.n = n;
	c.ev = event_new(base, c.fd, EV_READ, udp_cli_read, &c);
	/* EV_READ without EV_PERSIST: re-added with a fresh timeout per send. */
	udp_cli_send(&c);
	event_base_dispatch(base);
	event_free(c.ev);
	evutil_closesocket(c.fd);
	return status;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		goto usage;
	base = event_base_new();
	if (!base) {
		fprintf(stderr, "event_base_new failed\n");
		return 1;
	}
	fprintf(stderr, "libevent %s, backend %s\n", event_get_version(),
		event_base_get_method(base));
	struct timeval lim = {30, 0};
	struct event *die = evtimer_new(base, die_cb, NULL);
	evtimer_add(die, &lim);
	int rc;
	if (!strcmp(argv[1], "tcp-server"))
		rc = tcp_server(atoi(argv[2]));
	else if (!strcmp(argv[1], "tcp-client") && argc == 6)
		rc = tcp_client(argv[2], atoi(argv[3]), argv[4], argv[5]);
	else if (!strcmp(argv[1], "udp-server"))
		rc = udp_server(atoi(argv[2]));
	else if (!strcmp(argv[1], "udp-client") && argc == 5)
		rc = udp_client(argv[2], atoi(argv[3]), atoi(argv[4]));
	else
		goto usage;
	event_free(die);
	event_base_free(base);
	return rc;
usage:
	fprintf(stderr, "usage: see the comment at the top of ev_libevent.c\n");
	return 2;
}
