/* GLib/GIO echo programs for the nstack lab (case_evlibs.sh), all async on a
 * GMainLoop.
 *
 *   ev_gio tcp-server PORT             GSocketService (g_socket_listener_add_
 *                                      inet_port, as most GIO servers do);
 *                                      serves one connection: read_async /
 *                                      write_all_async echo until EOF, then
 *                                      half-closes, closes and exits 0.
 *                                      Prints "ready".
 *   ev_gio tcp-client HOST PORT IN OUT GSocketClient connect_to_host_async;
 *                                      writes file IN with write_all_async
 *                                      while reading the echo into OUT;
 *                                      half-closes after the last byte, reads
 *                                      to EOF.
 *   ev_gio udp-server PORT             GSocket + g_socket_create_source echo;
 *                                      exits on "quit" or after 10 s idle.
 *   ev_gio udp-client HOST PORT N      N datagrams (8..1400 bytes), each waited
 *                                      for (1 s, 3 tries) and compared; "quit".
 *
 * Every mode is bounded by a 30 s timeout. Exit status 0 only on success.
 */
#include <gio/gio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static GMainLoop *loop;
static int status = 1;

static gboolean overall_timeout(gpointer p)
{
	(void)p;
	fprintf(stderr, "ev_gio: overall timeout\n");
	status = 2;
	g_main_loop_quit(loop);
	return G_SOURCE_REMOVE;
}

static void fail(const char *what, GError *err)
{
	fprintf(stderr, "ev_gio: %s: %s\n", what, err ? err->message : "failed");
	if (err)
		g_error_free(err);
	status = 1;
	g_main_loop_quit(loop);
}

/* ---- TCP server ---- */

struct conn {
	GSocketConnection *c;
	GInputStream *in;
	GOutputStream *out;
	char buf[65536];
};

static void srv_read_done(GObject *src, GAsyncResult *res, gpointer p);

static void srv_closed(GObject *src, GAsyncResult *res, gpointer p)
{
	struct conn *c = p;
	GError *err = NULL;
	if (!g_io_stream_close_finish(G_IO_STREAM(src), res, &err)) {
		fail("close", err);
		return;
	}
	g_object_unref(c->c);
	g_free(c);
	status = 0;
	g_main_loop_quit(loop);
}

static void srv_write_done(GObject *src, GAsyncResult *res, gpointer p)
{
	struct conn *c = p;
	GError *err = NULL;
	if (!g_output_stream_write_all_finish(G_OUTPUT_STREAM(src), res, NULL, &err)) {
		fail("server write", err);
		return;
	}
	g_input_stream_read_async(c->in, c->buf, sizeof c->buf, G_PRIORITY_DEFAULT, NULL,
				  srv_read_done, c);
}

static void srv_read_done(GObject *src, GAsyncResult *res, gpointer p)
{
	struct conn *c = p;
	GError *err = NULL;
	gssize n = g_input_stream_read_finish(G_INPUT_STREAM(src), res, &err);
	if (n < 0) {
		fail("server read", err);
		return;
	}
	if (n == 0) {
		GSocket *s = g_socket_connection_get_socket(c->c);
		if (!g_socket_shutdown(s, FALSE, TRUE, &err)) {
			fail("shutdown", err);
			return;
		}
		g_io_stream_close_async(G_IO_STREAM(c->c), G_PRIORITY_DEFAULT, NULL, srv_closed,
					c);
		return;
	}
	g_output_stream_write_all_async(c->out, c->buf, n, G_PRIORITY_DEFAULT, NULL,
					srv_write_done, c);
}

static gboolean srv_incoming(GSocketService *svc, GSocketConnection *conn, GObject *src,
			     gpointer p)
{
	(void)src, (void)p;
	struct conn *c = g_new0(struct conn, 1);
	c->c = g_object_ref(conn);
	c->in = g_io_stream_get_input_stream(G_IO_STREAM(conn));
	c->out = g_io_stream_get_output_stream(G_IO_STREAM(conn));
	GError *err = NULL;
	GSocketAddress *ra = g_socket_connection_get_remote_address(conn, &err);
	if (!ra) {
		fail("remote address", err);
		return TRUE;
	}
	gchar *s = g_inet_address_to_string(
		g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(ra)));
	fprintf(stderr, "connection from %s:%u\n", s,
		g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(ra)));
	g_free(s);
	g_object_unref(ra);
	g_socket_service_stop(svc); /* one connection */
	g_input_stream_read_async(c->in, c->buf, sizeof c->buf, G_PRIORITY_DEFAULT, NULL,
				  srv_read_done, c);
	return TRUE;
}

static int tcp_server(int port)
{
	GSocketService *svc = g_socket_service_new();
	GError *err = NULL;
	if (!g_socket_listener_add_inet_port(G_SOCKET_LISTENER(svc), port, NULL, &err)) {
		fprintf(stderr, "add_inet_port: %s\n", err->message);
		return 1;
	}
	g_signal_connect(svc, "incoming", G_CALLBACK(srv_incoming), NULL);
	g_socket_service_start(svc);
	printf("ready\n");
	fflush(stdout);
	g_main_loop_run(loop);
	g_socket_listener_close(G_SOCKET_LISTENER(svc));
	g_object_unref(svc);
	return status;
}

/* ---- TCP client ---- */

struct cli {
	GSocketConnection *c;
	GBytes *data;
	FILE *out;
	int sent, eof;
	char buf[65536];
};

static void cli_maybe_done(struct cli *c)
{
	if (c->sent && c->eof) {
		status = 0;
		g_main_loop_quit(loop);
	}
}

static void cli_read_done(GObject *src, GAsyncResult *res, gpointer p)
{
	struct cli *c = p;
	GError *err = NULL;
	gssize n = g_input_stream_read_finish(G_INPUT_STREAM(src), res, &err);
	if (n < 0) {
		fail("client read", err);
		return;
	}
	if (n == 0) {
		if (!c->sent) {
			fail("EOF before everything was sent", NULL);
			return;
		}
		c->eof = 1;
		cli_maybe_done(c);
		return;
	}
	if (fwrite(c->buf, 1, n, c->out) != (size_t)n) {
		fail("fwrite", NULL);
		return;
	}
	g_input_stream_read_async(G_INPUT_STREAM(src), c->buf, sizeof c->buf,
				  G_PRIORITY_DEFAULT, NULL, cli_read_done, c);
}

static void cli_write_done(GObject *src, GAsyncResult *res, gpointer p)
{
	struct cli *c = p;
	GError *err = NULL;
	gsize n = 0;
	if (!g_output_stream_write_all_finish(G_OUTPUT_STREAM(src), res, &n, &err)) {
		fail("client write", err);
		return;
	}
	if (!g_socket_shutdown(g_socket_connection_get_socket(c->c), FALSE, TRUE, &err)) {
		fail("shutdown", err);
		return;
	}
	c->sent = 1;
	cli_maybe_done(c);
}

static void cli_connected(GObject *src, GAsyncResult *res, gpointer p)
{
	struct cli *c = p;
	GError *err = NULL;
	c->c = g_socket_client_connect_to_host_finish(G_SOCKET_CLIENT(src), res, &err);
	if (!c->c) {
		fail("connect", err);
		return;
	}
	gsize len;
	const void *d = g_bytes_get_data(c->data, &len);
	g_output_stream_write_all_async(g_io_stream_get_output_stream(G_IO_STREAM(c->c)), d,
					len, G_PRIORITY_DEFAULT, NULL, cli_write_done, c);
	g_input_stream_read_async(g_io_stream_get_input_stream(G_IO_STREAM(c->c)), c->buf,
				  sizeof c->buf, G_PRIORITY_DEFAULT, NULL, cli_read_done, c);
}

static int tcp_client(const char *host, int port, const char *in, const char *out)
{
	static struct cli c;
	gchar *d;
	gsize len;
	GError *err = NULL;
	if (!g_file_get_contents(in, &d, &len, &err)) {
		fprintf(stderr, "%s\n", err->message);
		return 1;
	}
	c.data = g_bytes_new_take(d, len);
	c.out = fopen(out, "wb");
	if (!c.out) {
		perror(out);
		return 1;
	}
	GSocketClient *sc = g_socket_client_new();
	g_socket_client_connect_to_host_async(sc, host, port, NULL, cli_connected, &c);
	g_main_loop_run(loop);
	if (c.c) {
		g_io_stream_close(G_IO_STREAM(c.c), NULL, NULL);
		g_object_unref(c.c);
	}
	g_object_unref(sc);
	if (fclose(c.out) != 0)
		status = 1;
	return status;
}

/* ---- UDP ---- */

static GSocket *udp_socket(int port)
{
	GError *err = NULL;
	GSocket *s = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
				  G_SOCKET_PROTOCOL_UDP, &err);
	if (!s) {
		fprintf(stderr, "g_socket_new: %s\n", err->message);
		exit(1);
	}
	g_socket_set_blocking(s, FALSE);
	if (port) {
		GInetAddress *any = g_inet_address_new_any(G_SOCKET_FAMILY_IPV4);
		GSocketAddress *sa = g_inet_socket_address_new(any, port);
		if (!g_socket_bind(s, sa, TRUE, &err)) {
			fprintf(stderr, "bind: %s\n", err->message);
			exit(1);
		}
		g_object_unref(sa);
		g_object_unref(any);
	}
	return s;
}

static guint idle_id;

static gboolean udp_idle(gpointer p)
{
	(void)p;
	fprintf(stderr, "udp server: idle\n");
	idle_id = 0;
	g_main_loop_quit(loop);
	return G_SOURCE_REMOVE;
}

static gboolean udp_srv_ready(GSocket *s, GIOCondition cond, gpointer p)
{
	(void)cond, (void)p;
	char buf[65536];
	GSocketAddress *from = NULL;
	GError *err = NULL;
	gssize n = g_socket_receive_from(s, &from, buf, sizeof buf, NULL, &err);
	if (n < 0) {
		if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
			g_error_free(err);
			return G_SOURCE_CONTINUE;
		}
		fail("receive_from", err);
		return G_SOURCE_REMOVE;
	}
	if (idle_id)
		g_source_remove(idle_id);
	idle_id = g_timeout_add_seconds(10, udp_idle, NULL);
	if (n == 4 && !memcmp(buf, "quit", 4)) {
		g_object_unref(from);
		status = 0;
		g_main_loop_quit(loop);
		return G_SOURCE_REMOVE;
	}
	if (g_socket_send_to(s, from, buf, n, NULL, &err) != n)
		fail("send_to", err);
	g_object_unref(from);
	return G_SOURCE_CONTINUE;
}

static int udp_server(int port)
{
	GSocket *s = udp_socket(port);
	GSource *src = g_socket_create_source(s, G_IO_IN, NULL);
	g_source_set_callback(src, (GSourceFunc)(void (*)(void))udp_srv_ready, NULL, NULL);
	g_source_attach(src, NULL);
	idle_id = g_timeout_add_seconds(10, udp_idle, NULL);
	printf("ready\n");
	fflush(stdout);
	g_main_loop_run(loop);
	g_source_destroy(src);
	g_source_unref(src);
	g_object_unref(s);
	return status;
}

struct ucli {
	GSocket *s;
	GSocketAddress *to;
	int i, n, tries;
	guint timer;
	gsize len;
	char msg[1500];
};

static gboolean ucli_timeout(gpointer p);

static void ucli_send(struct ucli *c)
{
	GError *err = NULL;
	c->len = 8 + (gsize)(c->i * 97) % 1393;
	for (gsize k = 0; k < c->len; k++)
		c->msg[k] = (char)(c->i * 31 + k * 7);
	memcpy(c->msg, &c->i, sizeof c->i);
	if (g_socket_send_to(c->s, c->to, c->msg, c->len, NULL, &err) != (gssize)c->len)
		fail("send_to", err);
	if (c->timer)
		g_source_remove(c->timer);
	c->timer = g_timeout_add(1000, ucli_timeout, c);
}

static gboolean ucli_timeout(gpointer p)
{
	struct ucli *c = p;
	c->timer = 0;
	if (++c->tries >= 3) {
		fprintf(stderr, "udp client: no echo for datagram %d\n", c->i);
		g_main_loop_quit(loop);
		return G_SOURCE_REMOVE;
	}
	ucli_send(c);
	return G_SOURCE_REMOVE;
}

static gboolean ucli_ready(GSocket *s, GIOCondition cond, gpointer p)
{
	(void)cond;
	struct ucli *c = p;
	char buf[65536];
	GSocketAddress *from = NULL;
	GError *err = NULL;
	gssize n = g_socket_receive_from(s, &from, buf, sizeof buf, NULL, &err);
	if (n < 0) {
		if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
			g_error_free(err);
			return G_SOURCE_CONTINUE;
		}
		fail("receive_from", err);
		return G_SOURCE_REMOVE;
	}
	GInetSocketAddress *f = G_INET_SOCKET_ADDRESS(from), *t = G_INET_SOCKET_ADDRESS(c->to);
	if (g_inet_socket_address_get_port(f) != g_inet_socket_address_get_port(t) ||
	    !g_inet_address_equal(g_inet_socket_address_get_address(f),
				  g_inet_socket_address_get_address(t))) {
		fail("datagram from an unexpected address", NULL);
		return G_SOURCE_REMOVE;
	}
	g_object_unref(from);
	int seq;
	memcpy(&seq, buf, sizeof seq);
	if (n >= (gssize)sizeof seq && seq < c->i)
		return G_SOURCE_CONTINUE; /* late echo of a retried datagram */
	if ((gsize)n != c->len || memcmp(buf, c->msg, c->len) != 0) {
		fprintf(stderr, "udp client: datagram %d: bad echo (%zd bytes, want %zu)\n", c->i,
			n, c->len);
		g_main_loop_quit(loop);
		return G_SOURCE_REMOVE;
	}
	if (++c->i == c->n) {
		g_socket_send_to(c->s, c->to, "quit", 4, NULL, NULL);
		printf("udp ok %d\n", c->n);
		status = 0;
		g_main_loop_quit(loop);
		return G_SOURCE_REMOVE;
	}
	c->tries = 0;
	ucli_send(c);
	return G_SOURCE_CONTINUE;
}

static int udp_client(const char *host, int port, int n)
{
	static struct ucli c;
	c.s = udp_socket(0);
	c.to = g_inet_socket_address_new_from_string(host, port);
	if (!c.to) {
		fprintf(stderr, "bad address %s\n", host);
		return 2;
	}
	c.n = n;
	GSource *src = g_socket_create_source(c.s, G_IO_IN, NULL);
	g_source_set_callback(src, (GSourceFunc)(void (*)(void))ucli_ready, &c, NULL);
	g_source_attach(src, NULL);
	ucli_send(&c);
	g_main_loop_run(loop);
	g_source_destroy(src);
	g_source_unref(src);
	g_object_unref(c.s);
	return status;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		goto usage;
	loop = g_main_loop_new(NULL, FALSE);
	g_timeout_add_seconds(30, overall_timeout, NULL);
	fprintf(stderr, "glib %u.%u.%u\n", glib_major_version, glib_minor_version,
		glib_micro_version);
	if (!strcmp(argv[1], "tcp-server"))
		return tcp_server(atoi(argv[2]));
	if (!strcmp(argv[1], "tcp-client") && argc == 6)
		return tcp_client(argv[2], atoi(argv[3]), argv[4], argv[5]);
	if (!strcmp(argv[1], "udp-server"))
		return udp_server(atoi(argv[2]));
	if (!strcmp(argv[1], "udp-client") && argc == 5)
		return udp_client(argv[2], atoi(argv[3]), atoi(argv[4]));
usage:
	fprintf(stderr, "usage: see the comment at the top of ev_gio.c\n");
	return 2;
}
