/*
 * fuzz_config: what programs hand nstack besides frames. The input's first
 * byte picks one of:
 *
 *  - even: the NSTACK_* environment. The rest is lines NAME=VALUE (NAME a
 *    variable's name, or one byte 0x01..0x3f standing for the n-th known
 *    name); nsp_config_load() reads them through its getenv callback, which
 *    returns exactly the value's bytes (a fresh allocation of that length
 *    plus the terminator, so ASan sees a read past it).
 *
 *  - odd: socket calls with hostile lengths against sockets of every kind
 *    (TCP unbound, listening, connected with data waiting; UDP bound with
 *    datagrams waiting, with an error queued; ping; raw; AF_INET6):
 *    sockaddrs of any family and length to bind/connect, msghdrs with names,
 *    iovecs and cmsg buffers to sendmsg/recvmsg, setsockopt/getsockopt
 *    values of any length, each in a heap buffer of exactly that length.
 *    Afterwards every socket is closed and no socket or buffer may be left.
 *
 * NSTACK_FUZZ_GEN=dir writes the seed corpus to dir and exits.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"
#include "fuzz_common.h"

static const char *const env_names[] = {
    "NSTACK_IFACE",
    "NSTACK_ADDR",
    "NSTACK_GW",
    "NSTACK_MAC",
    "NSTACK_MTU",
    "NSTACK_PCAP",
    "NSTACK_HANDOVER",
    "NSTACK_GSO",
    "NSTACK_GRO",
    "NSTACK_TX_THREAD",
    "NSTACK_STATS",
    "NSTACK_BYPASS",
    "NSTACK_EXIT_LINGER",
    "NSTACK_ARENA_MB",
    "NSTACK_BUSY_POLL",
    "NSTACK_LOG",
    "NSTACK_TCP_RMEM",
    "NSTACK_TCP_WMEM",
    "NSTACK_TCP_SACK",
    "NSTACK_TCP_TIMESTAMPS",
    "NSTACK_TCP_WINDOW_SCALING",
    "NSTACK_TCP_SYNCOOKIES",
    "NSTACK_TCP_CONGESTION_CONTROL",
    "NSTACK_TCP_SYN_RETRIES",
    "NSTACK_TCP_SYNACK_RETRIES",
    "NSTACK_TCP_RETRIES1",
    "NSTACK_TCP_RETRIES2",
    "NSTACK_TCP_ORPHAN_RETRIES",
    "NSTACK_TCP_FIN_TIMEOUT",
    "NSTACK_TCP_KEEPALIVE_TIME",
    "NSTACK_TCP_KEEPALIVE_INTVL",
    "NSTACK_TCP_KEEPALIVE_PROBES",
    "NSTACK_TCP_MAX_SYN_BACKLOG",
    "NSTACK_TCP_SOMAXCONN",
    "NSTACK_TCP_TW_REUSE",
    "NSTACK_TCP_CHALLENGE_ACK_LIMIT",
    "NSTACK_TCP_NO_METRICS_SAVE",
    "NSTACK_TCP_MSL_MS",
    "NSTACK_TCP_RTO_MIN_MS",
    "NSTACK_TCP_RTO_MAX_MS",
    "NSTACK_TCP_RTO_INIT_MS",
    "NSTACK_TCP_INITIAL_CWND",
};
#define NNAMES (sizeof(env_names) / sizeof(env_names[0]))

#define MAX_VARS 48

static struct {
	int n;
	const char *name[MAX_VARS];
	char *value[MAX_VARS];
} env;

static const char *env_get(void *ctx, const char *name)
{
	(void)ctx;
	for (int i = env.n - 1; i >= 0; i--)
		if (!strcmp(env.name[i], name))
			return env.value[i];
	return NULL;
}

static void run_env(const uint8_t *p, size_t n)
{
	static char names[MAX_VARS][64];
	struct nsp_config *c = malloc(sizeof(*c));
	char err[256];

	env.n = 0;
	while (n && env.n < MAX_VARS) {
		const uint8_t *nl = memchr(p, '\n', n);
		size_t line = nl ? (size_t)(nl - p) : n;
		const uint8_t *eq = memchr(p, '=', line);

		if (eq) {
			size_t nlen = (size_t)(eq - p), vlen = line - nlen - 1;

			if (nlen == 1 && p[0] >= 1 && p[0] <= NNAMES) {
				env.name[env.n] = env_names[p[0] - 1];
			} else {
				if (nlen >= sizeof(names[0]))
					nlen = sizeof(names[0]) - 1;
				memcpy(names[env.n], p, nlen);
				names[env.n][nlen] = '\0';
				env.name[env.n] = names[env.n];
			}
			env.value[env.n] = malloc(vlen + 1);
			memcpy(env.value[env.n], eq + 1, vlen);
			env.value[env.n][vlen] = '\0';
			env.n++;
		}
		p += line + (nl ? 1 : 0);
		n -= line + (nl ? 1 : 0);
	}
	if (nsp_config_load(c, env_get, NULL, NULL, err, sizeof(err)) != 0 &&
	    !memchr(err, '\0', sizeof(err)))
		fz_die("error message not terminated");
	for (int i = 0; i < env.n; i++)
		free(env.value[i]);
	free(c);
}

/* The socket-call half. */

#define NS 12
static struct socket *socks[NS];
static struct socket *peer_socks[8];
static int npeer;

static const uint8_t *in_p;
static size_t in_n;

static uint8_t u8(void)
{
	if (!in_n)
		return 0;
	in_n--;
	return *in_p++;
}

static uint16_t u16(void)
{
	return (uint16_t)(u8() << 8 | u8());
}

static void bytes(void *dst, size_t len)
{
	size_t n = len < in_n ? len : in_n;

	memcpy(dst, in_p, n);
	memset((uint8_t *)dst + n, 0, len - n);
	in_p += n;
	in_n -= n;
}

static void *xmalloc(size_t len)
{
	void *p = malloc(len ? len : 1);

	if (!p)
		fz_die("out of memory");
	return p;
}

static struct socket *keep_peer(struct socket *s)
{
	if (npeer < 8)
		peer_socks[npeer++] = s;
	return s;
}

static void sock_to(struct socket *s, uint32_t ip, uint16_t port, bool bind)
{
	struct sockaddr_in sin = fz_sin(ip, port);

	if (bind)
		nstack_bind(s, (struct sockaddr *)&sin, sizeof(sin));
	else
		nstack_connect(s, (struct sockaddr *)&sin, sizeof(sin));
}

static void send_to(struct socket *s, const void *p, size_t len, uint32_t ip, uint16_t port)
{
	struct sockaddr_in sin = fz_sin(ip, port);
	struct iovec iov = {(void *)p, len};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};

	if (ip) {
		m.msg_name = &sin;
		m.msg_namelen = sizeof(sin);
	}
	nstack_sendmsg(s, &m, MSG_DONTWAIT);
}

/* Sockets of every kind on A, most with something to read. */
static void build_fixture(void)
{
	struct socket *l, *c, *n = NULL;
	int one = 1;

	fz_setup(true);
	npeer = 0;
	socks[0] = fz_socket(FZ.a, SOCK_STREAM, 0);
	socks[1] = fz_socket(FZ.a, SOCK_STREAM, 0);
	sock_to(socks[1], 0, 80, true);
	nstack_listen(socks[1], 4);
	c = keep_peer(fz_socket(FZ.b, SOCK_STREAM, 0)); /* waits in the accept queue */
	sock_to(c, FZ_IP_A, 80, false);
	l = keep_peer(fz_socket(FZ.b, SOCK_STREAM, 0));
	sock_to(l, 0, 7, true);
	nstack_listen(l, 4);
	socks[2] = fz_socket(FZ.a, SOCK_STREAM, 0);
	sock_to(socks[2], FZ_IP_B, 7, false);
	fz_settle();
	if (nstack_accept(l, &n, NULL, NULL, SOCK_NONBLOCK) == 0) {
		keep_peer(n);
		send_to(n, "stream data", 11, 0, 0);
		send_to(n, "!", 1, 0, 0);
	}
	socks[3] = fz_socket(FZ.a, SOCK_DGRAM, 0);
	nstack_setsockopt(socks[3], IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	nstack_setsockopt(socks[3], SOL_SOCKET, SO_TIMESTAMP, &one, sizeof(one));
	sock_to(socks[3], 0, 53, true);
	c = keep_peer(fz_socket(FZ.b, SOCK_DGRAM, 0));
	send_to(c, "datagram one", 12, FZ_IP_A, 53);
	send_to(c, "datagram two", 12, FZ_IP_A, 53);
	socks[4] = fz_socket(FZ.a, SOCK_DGRAM, 0);
	nstack_setsockopt(socks[4], IPPROTO_IP, IP_RECVERR, &one, sizeof(one));
	sock_to(socks[4], FZ_IP_B, 9, false);
	send_to(socks[4], "unreachable", 11, 0, 0);
	socks[5] = fz_socket(FZ.a, SOCK_DGRAM, IPPROTO_ICMP);
	send_to(socks[5], "\x08\0\0\0\0\0\0\x01ping", 12, FZ_IP_B, 0);
	socks[6] = fz_socket(FZ.a, SOCK_RAW, IPPROTO_ICMP);
	socks[7] = fz_socket(FZ.a, SOCK_RAW, IPPROTO_RAW);
	if (nstack_socket(FZ.a, AF_INET6, SOCK_STREAM, 0, &socks[8]) == 0)
		nstack_set_nonblock(socks[8], true);
	if (nstack_socket(FZ.a, AF_INET6, SOCK_DGRAM, 0, &socks[9]) == 0)
		nstack_set_nonblock(socks[9], true);
	socks[10] = fz_socket(FZ.a, SOCK_DGRAM, 0);
	socks[11] = fz_socket(FZ.a, SOCK_STREAM, 0);
	fz_settle();
}

static struct sockaddr *build_addr(socklen_t *lenp)
{
	static const int fams[] = {AF_INET, AF_INET6, AF_UNSPEC, -1};
	uint8_t c = u8();
	socklen_t len = u8() % 129;
	uint8_t *p = xmalloc(len);
	int fam = fams[c % 4];

	bytes(p, len);
	if (fam >= 0 && len >= 2) {
		sa_family_t f = (sa_family_t)fam;

		memcpy(p, &f, 2);
	}
	if ((c & 4) && len >= 8) { /* a usable address: B's, or A's own */
		uint32_t ip = (c & 8) ? FZ_IP_B : FZ_IP_A;

		if (fam == AF_INET)
			memcpy(p + 4, &ip, 4);
		else if (fam == AF_INET6 && len >= 24) {
			memset(p + 8, 0, 10);
			p[18] = p[19] = 0xff;
			memcpy(p + 20, &ip, 4);
		}
	}
	*lenp = len;
	return (struct sockaddr *)p;
}

/* Up to three cmsgs with lengths that may lie, in a buffer of exactly the total. */
static void *build_control(size_t *lenp)
{
	static const int levels[] = {SOL_SOCKET, IPPROTO_IP, IPPROTO_UDP, IPPROTO_IPV6,
				     IPPROTO_TCP};
	static const int types[] = {IP_PKTINFO,
				    IP_TTL,
				    IP_TOS,
				    IP_RETOPTS,
				    103 /* UDP_SEGMENT */,
				    50 /* IPV6_PKTINFO */,
				    52 /* IPV6_HOPLIMIT */,
				    67 /* IPV6_TCLASS */,
				    SCM_RIGHTS,
				    SCM_CREDENTIALS,
				    37 /* SO_TIMESTAMPING */,
				    SO_MARK,
				    1 /* IP_TOS/SCM_RIGHTS */};
	uint8_t buf[512];
	size_t len = 0;
	int n = u8() % 4;

	for (int i = 0; i < n; i++) {
		struct cmsghdr c;
		uint8_t d = u8();
		size_t dlen = d % 24;

		if (len + CMSG_SPACE(dlen) > sizeof(buf))
			break;
		memset(&c, 0, sizeof(c));
		c.cmsg_level = levels[d % 5];
		c.cmsg_type = types[u8() % 13];
		c.cmsg_len = CMSG_LEN(dlen);
		if (d >= 0xf0)
			c.cmsg_len = u16();
		memcpy(buf + len, &c, sizeof(c));
		bytes(buf + len + sizeof(c), CMSG_SPACE(dlen) - sizeof(c));
		len += CMSG_SPACE(dlen);
	}
	if (u8() & 1 && len) /* cut the last one short */
		len -= u8() % (len + 1);
	*lenp = len;
	if (!len)
		return NULL;
	return memcpy(xmalloc(len), buf, len);
}

static int pick_level(void)
{
	static const int levels[] = {SOL_SOCKET,   IPPROTO_IP, IPPROTO_TCP,  IPPROTO_UDP,
				     IPPROTO_IPV6, 255,	       IPPROTO_ICMP, IPPROTO_RAW};

	return levels[u8() % 8];
}

static void call_sendmsg(struct socket *s)
{
	struct iovec iov[4];
	struct msghdr m;
	uint8_t shape = u8();
	int flags = (int)((uint32_t)u16() << 8) | MSG_DONTWAIT;
	uint8_t *data[4] = {NULL};
	socklen_t nlen = 0;

	memset(&m, 0, sizeof(m));
	m.msg_iovlen = shape % 5;
	for (size_t i = 0; i < m.msg_iovlen; i++) {
		size_t l = u8() * (size_t)((shape & 0x80) ? 64 : 1);

		data[i] = xmalloc(l);
		memset(data[i], 'd', l);
		iov[i].iov_base = data[i];
		iov[i].iov_len = l;
	}
	m.msg_iov = m.msg_iovlen ? iov : NULL;
	if (shape & 0x10)
		m.msg_name = build_addr(&nlen);
	m.msg_namelen = nlen;
	if (shape & 0x20)
		m.msg_control = build_control(&m.msg_controllen);
	nstack_sendmsg(s, &m, flags);
	free(m.msg_name);
	free(m.msg_control);
	for (int i = 0; i < 4; i++)
		free(data[i]);
}

static void call_recvmsg(struct socket *s)
{
	static const int rflags[] = {MSG_PEEK,	   MSG_TRUNC,	MSG_OOB,
				     MSG_ERRQUEUE, MSG_WAITALL, MSG_CMSG_CLOEXEC};
	struct iovec iov[2];
	struct msghdr m;
	uint8_t shape = u8(), fb = u8();
	int flags = MSG_DONTWAIT;
	size_t l0 = u8(), l1 = (shape & 1) ? u8() : 0;
	size_t clen = (shape & 2) ? u8() % 200 : 0;
	socklen_t nlen = (shape & 4) ? u8() % 64 : 0;
	ssize_t r;

	for (int i = 0; i < 6; i++)
		if (fb & (1u << i))
			flags |= rflags[i];
	memset(&m, 0, sizeof(m));
	iov[0].iov_base = xmalloc(l0);
	iov[0].iov_len = l0;
	iov[1].iov_base = xmalloc(l1);
	iov[1].iov_len = l1;
	m.msg_iov = iov;
	m.msg_iovlen = (shape & 1) ? 2 : 1;
	m.msg_name = nlen ? xmalloc(nlen) : NULL;
	m.msg_namelen = nlen;
	m.msg_control = clen ? xmalloc(clen) : NULL;
	m.msg_controllen = clen;
	r = nstack_recvmsg(s, &m, flags);
	if (r > 0 && !(flags & MSG_TRUNC) && (size_t)r > l0 + l1)
		fz_die("recvmsg: %zd bytes into %zu", r, l0 + l1);
	if (m.msg_controllen > clen)
		fz_die("recvmsg: control length %zu > %zu", (size_t)m.msg_controllen, clen);
	free(iov[0].iov_base);
	free(iov[1].iov_base);
	free(m.msg_name);
	free(m.msg_control);
}

static void run_calls(void)
{
	for (int k = 0; k < 64 && in_n; k++) {
		uint8_t op = u8();
		struct socket *s = socks[u8() % NS];

		if (!s)
			continue;
		switch (op % 8) {
		case 0:
		case 1: {
			socklen_t len;
			struct sockaddr *sa = build_addr(&len);

			if (op % 8 == 0)
				nstack_bind(s, sa, len);
			else
				nstack_connect(s, sa, len);
			free(sa);
			break;
		}
		case 2:
			call_sendmsg(s);
			break;
		case 3:
			call_recvmsg(s);
			break;
		case 4: {
			int level = pick_level(), name = u8();
			socklen_t len = u8() % 72;
			void *v = xmalloc(len);

			bytes(v, len);
			nstack_setsockopt(s, level, name, v, len);
			free(v);
			break;
		}
		case 5: {
			int level = pick_level(), name = u8();
			socklen_t len = u8() % 300, len0 = len;
			void *v = xmalloc(len);

			if (nstack_getsockopt(s, level, name, v, &len) == 0 && len > len0)
				fz_die("getsockopt(%d, %d): length %u > %u", level, name,
				       (unsigned int)len, (unsigned int)len0);
			free(v);
			break;
		}
		case 6: {
			socklen_t len = u8() % 40, len0 = len;
			void *v = xmalloc(len);
			int rc = (op & 0x80) ? nstack_getpeername(s, v, &len)
					     : nstack_getsockname(s, v, &len);

			if (rc == 0 && len > 128)
				fz_die("name length %u (buffer %u)", (unsigned int)len,
				       (unsigned int)len0);
			free(v);
			break;
		}
		default:
			fz_advance((uint64_t)u8() * 10000);
		}
	}
}

static void close_all(void)
{
	for (int i = 0; i < NS; i++)
		if (socks[i])
			nstack_close(socks[i]);
	for (int i = 0; i < npeer; i++)
		nstack_close(peer_socks[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;

	if (size < 1)
		return 0;
	if (!(data[0] & 1)) {
		run_env(data + 1, size - 1);
		return 0;
	}
	if (!ready) {
		build_fixture();
		fz_snap_take();
		ready = true;
	} else {
		fz_snap_restore();
	}
	in_p = data + 1;
	in_n = size - 1;
	run_calls();
	close_all();
	fz_check_drained();
	return 0;
}

static void gen_seeds(const char *dir)
{
	static const char *const envs[] = {
	    "\0NSTACK_IFACE=veth7\nNSTACK_ADDR=198.19.5.9/16\nNSTACK_GW=198.19.0.1\n"
	    "NSTACK_MAC=02:aa:bb:cc:dd:0e\nNSTACK_MTU=9000\nNSTACK_LOG=debug",
	    "\0NSTACK_BYPASS=10.0.0.0/8, 192.168.1.1,172.16.0.0/12\nNSTACK_GW=none\n"
	    "NSTACK_ARENA_MB=64\nNSTACK_BUSY_POLL=50\nNSTACK_EXIT_LINGER=100",
	    "\0NSTACK_TCP_RMEM=4096 131072 6291456\nNSTACK_TCP_WMEM=4096 16384 4194304\n"
	    "NSTACK_TCP_SACK=1\nNSTACK_TCP_CONGESTION_CONTROL=cubic\nNSTACK_TCP_RTO_MIN_MS=200\n"
	    "NSTACK_TCP_INITIAL_CWND=10\nNSTACK_TCP_MSL_MS=60000",
	    "\0NSTACK_HANDOVER=off\nNSTACK_GSO=no\nNSTACK_TX_THREAD=1\nNSTACK_STATS=yes\n"
	    "NSTACK_PCAP=/tmp/x.pcap",
	};
	/*
	 * Calls: op, socket, then the op's bytes. bind/connect: family choice,
	 * length, bytes. sendmsg: shape, flags u16, iov lengths, name, cmsgs.
	 */
	static const uint8_t c_connect[] = {1, 1, 4, 16, 0, 0, 0, 7, 0, 0,  0, 0,
					    0, 0, 0, 0,	 0, 0, 0, 0, 3, 11, 0};
	static const uint8_t c_bind6[] = {1, 0, 9, 1, 28, 0, 0, 0, 80, 0, 0, 0, 0, 0, 0, 0, 0,
					  0, 0, 0, 0, 0,  0, 0, 0, 0,  0, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t c_udp_send[] = {1, 2, 10, 0x31, 0, 0, 20, 0x0c, 16,   0, 0, 0, 9, 0,
					     0, 0, 0,  0,    0, 0, 0,  2,    0x01, 0, 0, 0, 0, 0,
					     0, 0, 0,  0,    0, 0, 0,  0,    0,	   0, 0, 0, 0};
	static const uint8_t c_recv[] = {1, 3,	  3,   7, 0,   100, 100, 150, 32, 3,	4,
					 6, 0x08, 200, 0, 100, 32,  3,	 2,   7,  0x04, 100,
					 0, 100,  32,  3, 5,   7,   0,	 100, 0,  100,	32};
	static const uint8_t c_opts[] = {1,	      4,  2, 2, TCP_NODELAY, 4,	       1, 0, 0,
					 0,	      5,  2, 2, TCP_INFO,    255,      4, 3, 1,
					 IP_OPTIONS,  8,  1, 1, 0,	     0,	       0, 0, 0,
					 0,	      5,  3, 1, IP_OPTIONS,  40,       5, 0, 0,
					 SO_PEERNAME, 16, 6, 2, 16,	     6 | 0x80, 2, 16};

	for (size_t i = 0; i < sizeof(envs) / sizeof(envs[0]); i++) {
		char name[32];

		snprintf(name, sizeof(name), "env-%zu", i);
		fz_write_file(dir, name, envs[i], 1 + strlen(envs[i] + 1));
	}
	fz_write_file(dir, "call-connect", c_connect, sizeof(c_connect));
	fz_write_file(dir, "call-bind6", c_bind6, sizeof(c_bind6));
	fz_write_file(dir, "call-udp-send", c_udp_send, sizeof(c_udp_send));
	fz_write_file(dir, "call-recv", c_recv, sizeof(c_recv));
	fz_write_file(dir, "call-opts", c_opts, sizeof(c_opts));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("NSTACK_FUZZ_GEN");

	(void)argc;
	(void)argv;
	if (dir && dir[0]) {
		gen_seeds(dir);
		exit(0);
	}
	return 0;
}
