/*
 * fuzz_conversation: the input is a little program run against two stacks
 * on one wire, as syzkaller drives a kernel: socket, bind, connect, listen,
 * accept, sendmsg/recvmsg with flags, names and control messages,
 * setsockopt/getsockopt with any level, name, value and length, shutdown,
 * ioctl, close, raw frames to either stack, clock steps, lost frames.
 * Every buffer handed to the stack is allocated to exactly the length the
 * call is told, so ASan sees a read or write past it.
 *
 * After the program every socket is closed, both stacks run all their
 * timers, and a socket or buffer left behind is a crash (abort()).
 *
 * Each input starts from the same two fresh stacks (a snapshot; with
 * NSTACK_FUZZ_FRESH=1 they are created and destroyed per input instead).
 * NSTACK_FUZZ_GEN=dir writes the seed corpus to dir and exits.
 */
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "fuzz_common.h"

#define NSLOTS	16
#define MAX_OPS 200

enum op {
	OP_SOCKET,
	OP_BIND,
	OP_CONNECT,
	OP_LISTEN,
	OP_ACCEPT,
	OP_SEND,
	OP_RECV,
	OP_SETSOCKOPT,
	OP_GETSOCKOPT,
	OP_SHUTDOWN,
	OP_CLOSE,
	OP_INJECT,
	OP_CLOCK,
	OP_NET,
	OP_IOCTL,
	OP_NAMES,
	OP_NONBLOCK,
	OP_MAX
};

static struct {
	struct socket *s;
} slots[NSLOTS];

/* FZ_TRACE=1: each call and its result on stderr (to check seeds and reproducers). */
static bool trace;
#define TR(...)                                                                                    \
	do {                                                                                       \
		if (trace)                                                                         \
			fprintf(stderr, __VA_ARGS__);                                              \
	} while (0)

/* The program's bytes; reads past the end give zeros. */
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

static uint32_t u32(void)
{
	return (uint32_t)u16() << 16 | u16();
}

static void bytes(void *dst, size_t len)
{
	size_t n = len < in_n ? len : in_n;

	memcpy(dst, in_p, n);
	memset((uint8_t *)dst + n, 0, len - n);
	in_p += n;
	in_n -= n;
}

/* Exactly len bytes from the heap (at least one, so malloc(0) is not NULL). */
static void *xmalloc(size_t len)
{
	void *p = malloc(len ? len : 1);

	if (!p)
		fz_die("out of memory");
	return p;
}

static struct socket *pick(void)
{
	return slots[u8() % NSLOTS].s;
}

static int free_slot(void)
{
	for (int i = 0; i < NSLOTS; i++)
		if (!slots[i].s)
			return i;
	return -1;
}

static uint32_t pick_ip(void)
{
	switch (u8() % 8) {
	case 0:
		return 0;
	case 1:
		return FZ_IP_A;
	case 2:
		return FZ_IP_B;
	case 3:
		return htonl(0x7f000001u);
	case 4:
		return htonl(0xc61200ffu); /* the subnet's broadcast */
	case 5:
		return htonl(0xffffffffu);
	case 6:
		return htonl(0xe0000001u); /* multicast */
	default: {
		uint32_t a;

		bytes(&a, 4);
		return a;
	}
	}
}

static uint16_t pick_port(void)
{
	static const uint16_t ports[] = {0, 80, 7, 53, 9, 1, 65535, 1024};
	uint8_t c = u8();

	if (c < 200)
		return htons(ports[c % 8]);
	return htons(u16());
}

/*
 * A socket address of the length the program chooses, in a buffer of
 * exactly that length: AF_INET, AF_INET6 (v4-mapped or not), AF_UNSPEC or
 * any family.
 */
static struct sockaddr *build_addr(socklen_t *lenp)
{
	struct sockaddr_storage ss;
	uint8_t kind = u8();
	socklen_t len;
	void *p;

	memset(&ss, 0, sizeof(ss));
	switch (kind % 5) {
	case 0:
	case 1: {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = pick_ip();
		sin->sin_port = pick_port();
		len = sizeof(*sin);
		break;
	}
	case 2: {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		uint32_t v4 = pick_ip();

		s6->sin6_family = AF_INET6;
		s6->sin6_port = pick_port();
		switch (u8() % 4) {
		case 0: /* ::ffff:a.b.c.d */
			s6->sin6_addr.s6_addr[10] = s6->sin6_addr.s6_addr[11] = 0xff;
			memcpy(&s6->sin6_addr.s6_addr[12], &v4, 4);
			break;
		case 1: /* :: */
			break;
		case 2: /* ::1 */
			s6->sin6_addr.s6_addr[15] = 1;
			break;
		default:
			bytes(&s6->sin6_addr, 16);
		}
		s6->sin6_scope_id = u8() < 16 ? u32() : 0;
		len = sizeof(*s6);
		break;
	}
	case 3: {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_UNSPEC;
		sin->sin_addr.s_addr = pick_ip();
		len = sizeof(*sin);
		break;
	}
	default:
		bytes(&ss, sizeof(struct sockaddr_in6));
		len = sizeof(struct sockaddr_in6);
	}
	/* Mostly the right length; sometimes any length up to sockaddr_storage. */
	if (kind >= 0xc0)
		len = u8() % (sizeof(ss) + 1);
	p = xmalloc(len);
	memcpy(p, &ss, len);
	*lenp = len;
	return p;
}

static int pick_flags(bool send)
{
	static const int sflags[] = {MSG_OOB,	   MSG_DONTROUTE, MSG_DONTWAIT, MSG_EOR,
				     MSG_MORE,	   MSG_NOSIGNAL,  MSG_CONFIRM,	MSG_ZEROCOPY,
				     MSG_FASTOPEN, 0x10 /* MSG_PROBE */};
	static const int rflags[] = {MSG_OOB,	   MSG_PEEK,	 MSG_TRUNC,	   MSG_DONTWAIT,
				     MSG_WAITALL,  MSG_ERRQUEUE, MSG_CMSG_CLOEXEC, MSG_CTRUNC,
				     MSG_NOSIGNAL, MSG_EOR};
	uint16_t bits = u16();
	int f = 0;

	for (int i = 0; i < 10; i++)
		if (bits & (1u << i))
			f |= send ? sflags[i] : rflags[i];
	if (bits & 0x8000)
		f |= (int)u32();
	return f;
}

static void op_socket(void)
{
	static const int types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_SEQPACKET};
	static const int protos[] = {0,		  IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP,
				     IPPROTO_RAW, 253,	       IPPROTO_IP,  -1};
	uint8_t a = u8(), b = u8();
	int slot = free_slot();
	int family = (a & 0x30) == 0x30 ? AF_INET6 : AF_INET;
	int type = types[a % 4], proto = protos[b % 8];
	struct socket *s = NULL;

	if (proto < 0)
		proto = u8();
	if (a & 0x40)
		type |= SOCK_NONBLOCK;
	if (slot < 0)
		return;
	TR("socket(%c, %d, %#x, %d) -> slot %d\n", (a & 0x80) ? 'B' : 'A', family, type, proto,
	   slot);
	if (nstack_socket((a & 0x80) ? FZ.b : FZ.a, family, type, proto, &s) == 0) {
		nstack_set_nonblock(s, (a & 0x08) != 0);
		slots[slot].s = s;
	}
}

static void op_bind_connect(bool bind)
{
	struct socket *s = pick();
	socklen_t len;
	struct sockaddr *sa = build_addr(&len);

	if (s) {
		int rc = bind ? nstack_bind(s, sa, len) : nstack_connect(s, sa, len);

		TR("%s(family %d, len %u) = %d\n", bind ? "bind" : "connect",
		   len >= 2 ? sa->sa_family : -1, (unsigned int)len, rc);
	}
	free(sa);
}

static void op_accept(void)
{
	struct socket *s = pick(), *n = NULL;
	uint8_t how = u8();
	int slot = free_slot();
	socklen_t len = how % 40, len0;
	void *addr = (how & 0x40) ? xmalloc(len) : NULL;

	len0 = len;
	if (s &&
	    nstack_accept(s, &n, addr, addr ? &len : NULL, (how & 0x80) ? SOCK_NONBLOCK : 0) == 0) {
		TR("accept -> slot %d\n", slot);
		if (addr && len > 128)
			fz_die("accept: name length %u", (unsigned int)len);
		if (slot >= 0)
			slots[slot].s = n;
		else
			nstack_close(n);
	}
	(void)len0;
	free(addr);
}

/* A control buffer of exactly the length chosen: raw bytes or well-formed headers. */
static void *build_control(size_t *lenp)
{
	uint8_t kind = u8();
	size_t len;
	uint8_t *p;

	if (!(kind & 1)) {
		*lenp = 0;
		return NULL;
	}
	len = u8() % 97;
	p = xmalloc(len);
	bytes(p, len);
	if ((kind & 2) && len >= sizeof(struct cmsghdr)) {
		static const int levels[] = {SOL_SOCKET, IPPROTO_IP, IPPROTO_UDP, IPPROTO_TCP,
					     IPPROTO_IPV6};
		struct cmsghdr c;

		memset(&c, 0, sizeof(c));
		c.cmsg_level = levels[(kind >> 2) % 5];
		c.cmsg_type = (kind >> 5) + (kind & 0x80 ? 0 : 1);
		c.cmsg_len = (kind & 4) ? len : CMSG_LEN(4);
		memcpy(p, &c, sizeof(c));
	}
	*lenp = len;
	return p;
}

static void op_send(void)
{
	struct socket *s = pick();
	int flags = pick_flags(true);
	uint8_t shape = u8();
	size_t len = u16();
	size_t dlen = u8() % 65;
	struct iovec iov[3];
	struct msghdr m;
	socklen_t nlen = 0;
	int niov = 1 + shape % 3;
	uint8_t *data = xmalloc(len);

	memset(&m, 0, sizeof(m));
	memset(data, (int)shape, len);
	bytes(data, len < dlen ? len : dlen);
	for (int i = 0; i < niov; i++) {
		size_t part = len / (size_t)niov;

		iov[i].iov_base = data + part * (size_t)i;
		iov[i].iov_len = i == niov - 1 ? len - part * (size_t)i : part;
	}
	m.msg_iov = iov;
	m.msg_iovlen = (size_t)niov;
	if (shape & 0x10)
		m.msg_name = build_addr(&nlen);
	m.msg_namelen = nlen;
	m.msg_control = build_control(&m.msg_controllen);
	if (s)
		TR("sendmsg(%zu bytes, flags %#x, name %u, control %zu) = %zd\n", len, flags,
		   (unsigned int)nlen, (size_t)m.msg_controllen, nstack_sendmsg(s, &m, flags));
	free(m.msg_name);
	free(m.msg_control);
	free(data);
}

static void op_recv(void)
{
	struct socket *s = pick();
	int flags = pick_flags(false);
	uint8_t shape = u8();
	size_t len = u16();
	size_t clen = (shape & 1) ? u8() : 0;
	socklen_t nlen = (shape & 2) ? u8() % 40 : 0;
	struct iovec iov[2];
	struct msghdr m;
	uint8_t *buf = xmalloc(len);
	ssize_t n;

	memset(&m, 0, sizeof(m));
	iov[0].iov_base = buf;
	iov[0].iov_len = (shape & 4) ? len / 2 : len;
	iov[1].iov_base = buf + iov[0].iov_len;
	iov[1].iov_len = len - iov[0].iov_len;
	m.msg_iov = iov;
	m.msg_iovlen = (shape & 4) ? 2 : 1;
	m.msg_name = nlen ? xmalloc(nlen) : NULL;
	m.msg_namelen = nlen;
	m.msg_control = clen ? xmalloc(clen) : NULL;
	m.msg_controllen = clen;
	if (s) {
		n = nstack_recvmsg(s, &m, flags);
		TR("recvmsg(%zu bytes, flags %#x, name %u, control %zu) = %zd\n", len, flags,
		   (unsigned int)nlen, clen, n);
		if (n > 0 && !(flags & MSG_TRUNC) && (size_t)n > len)
			fz_die("recvmsg returned %zd for a %zu-byte buffer", n, len);
		if (m.msg_controllen > clen)
			fz_die("recvmsg control length %zu > %zu", (size_t)m.msg_controllen, clen);
	}
	free(m.msg_name);
	free(m.msg_control);
	free(buf);
}

static int pick_level(void)
{
	static const int levels[] = {SOL_SOCKET,   IPPROTO_IP,	      IPPROTO_TCP,  IPPROTO_UDP,
				     IPPROTO_IPV6, 255 /* SOL_RAW */, IPPROTO_ICMP, -1};
	int l = levels[u8() % 8];

	return l < 0 ? (int)u32() : l;
}

static void op_setsockopt(void)
{
	struct socket *s = pick();
	int level = pick_level();
	int name = u8();
	uint8_t lc = u8();
	socklen_t len = lc < 200 ? lc % 33 : (lc < 250 ? lc : u16() % 1024);
	uint8_t *val = xmalloc(len);

	bytes(val, len);
	if (s)
		TR("setsockopt(%d, %d, len %u) = %d\n", level, name, (unsigned int)len,
		   nstack_setsockopt(s, level, name, val, len));
	free(val);
}

static void op_getsockopt(void)
{
	struct socket *s = pick();
	int level = pick_level();
	int name = u8();
	uint8_t lc = u8();
	socklen_t len = lc < 200 ? lc % 33 : (lc < 250 ? lc : u16() % 1024), len0 = len;
	uint8_t *val = xmalloc(len);

	if (s && nstack_getsockopt(s, level, name, val, &len) == 0 && len > len0)
		fz_die("getsockopt(%d, %d): length %u > %u", level, name, (unsigned int)len,
		       (unsigned int)len0);
	free(val);
}

static void op_close(void)
{
	int i = u8() % NSLOTS;

	if (slots[i].s) {
		nstack_close(slots[i].s);
		slots[i].s = NULL;
	}
}

static void op_inject(void)
{
	static uint8_t frame[FZ_FRAME_MAX];
	uint8_t ctl = u8();
	size_t len = u16() % 2048;
	int to = (ctl & 2) ? 0 : 1; /* 1: to A (sent from end 1) */

	bytes(frame, len);
	if (ctl & 1)
		fz_fix_checksums(frame, len);
	if (wire_send(FZ.w, to, frame, len) == 0)
		nstack_process(to ? FZ.a : FZ.b);
}

static void op_clock(void)
{
	static const uint64_t steps[8] = {1000,	   10000,    200000,	1000000,
					  3000000, 30000000, 130000000, 0};
	uint8_t c = u8();
	uint64_t d = steps[c % 8];

	if (d == 0)
		d = u32();
	fz_advance(d);
}

static void op_net(void)
{
	switch (u8() % 5) {
	case 0:
		fz_settle();
		break;
	case 1: /* what A sent is lost */
		nstack_process(FZ.a);
		fz_drop(1);
		break;
	case 2: /* what B sent is lost */
		nstack_process(FZ.b);
		fz_drop(0);
		break;
	case 3:
		nstack_process(FZ.a);
		break;
	default:
		nstack_process(FZ.b);
	}
}

static void op_ioctl(void)
{
	static const unsigned long cmds[] = {SIOCINQ, SIOCOUTQ, SIOCOUTQNSD, SIOCATMARK, FIONBIO};
	struct socket *s = pick();
	uint8_t c = u8();
	unsigned long cmd = c < 250 ? cmds[c % 5] : u32();
	int arg[16];

	bytes(arg, sizeof(arg));
	if (s)
		nstack_ioctl(s, cmd, arg);
}

static void op_names(void)
{
	struct socket *s = pick();
	uint8_t c = u8();
	socklen_t len = c % 40, len0 = len;
	void *buf = xmalloc(len);

	if (s) {
		switch ((c >> 6) & 3) {
		case 0:
			if (nstack_getsockname(s, buf, &len) == 0 && len > 128)
				fz_die("getsockname length %u", (unsigned int)len);
			break;
		case 1:
			if (nstack_getpeername(s, buf, &len) == 0 && len > 128)
				fz_die("getpeername length %u", (unsigned int)len);
			break;
		default:
			nstack_poll(s);
		}
	}
	(void)len0;
	free(buf);
}

static void op_shutdown(void)
{
	struct socket *s = pick();
	uint8_t how = u8();

	if (s)
		nstack_shutdown(s, how < 240 ? how % 3 : how);
}

static void run_program(const uint8_t *data, size_t size)
{
	in_p = data;
	in_n = size;
	for (int k = 0; k < MAX_OPS && in_n; k++) {
		switch (u8() % OP_MAX) {
		case OP_SOCKET:
			op_socket();
			break;
		case OP_BIND:
			op_bind_connect(true);
			break;
		case OP_CONNECT:
			op_bind_connect(false);
			break;
		case OP_LISTEN: {
			struct socket *s = pick();
			int backlog = (int8_t)u8();

			if (s)
				TR("listen(%d) = %d\n", backlog, nstack_listen(s, backlog));
			break;
		}
		case OP_ACCEPT:
			op_accept();
			break;
		case OP_SEND:
			op_send();
			break;
		case OP_RECV:
			op_recv();
			break;
		case OP_SETSOCKOPT:
			op_setsockopt();
			break;
		case OP_GETSOCKOPT:
			op_getsockopt();
			break;
		case OP_SHUTDOWN:
			op_shutdown();
			break;
		case OP_CLOSE:
			op_close();
			break;
		case OP_INJECT:
			op_inject();
			break;
		case OP_CLOCK:
			op_clock();
			break;
		case OP_NET:
			op_net();
			break;
		case OP_IOCTL:
			op_ioctl();
			break;
		case OP_NAMES:
			op_names();
			break;
		case OP_NONBLOCK: {
			struct socket *s = pick();

			if (s)
				nstack_set_nonblock(s, u8() & 1);
			break;
		}
		}
	}
}

static void close_all(void)
{
	for (int i = 0; i < NSLOTS; i++) {
		if (slots[i].s)
			nstack_close(slots[i].s);
		slots[i].s = NULL;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	bool fresh = getenv("NSTACK_FUZZ_FRESH") != NULL;

	trace = getenv("FZ_TRACE") != NULL;

	if (fresh) {
		fz_setup(true);
	} else if (!ready) {
		fz_setup(true);
		fz_snap_take();
		ready = true;
	} else {
		fz_snap_restore();
	}
	run_program(data, size);
	close_all();
	if (fresh)
		fz_teardown();
	else
		fz_check_drained();
	return 0;
}

/* Seed programs: each a normal use of one kind of socket. */

static uint8_t prog[4096];
static size_t prog_len;

static void emit(const void *p, size_t n)
{
	if (prog_len + n <= sizeof(prog)) {
		memcpy(prog + prog_len, p, n);
		prog_len += n;
	}
}

#define E(...)                                                                                     \
	do {                                                                                       \
		const uint8_t b_[] = {__VA_ARGS__};                                                \
		emit(b_, sizeof(b_));                                                              \
	} while (0)

/* Encoders mirroring the parsers above. IP choices: 0 any, 1 A, 2 B; ports: 1 = 80, 2 = 7, 3 = 53,
 * 4 = 9. */
enum { T_STREAM, T_DGRAM, T_RAW };
enum { P_0, P_TCP, P_UDP, P_ICMP, P_RAW, P_253 };
enum { L_SOCKET, L_IP, L_TCP, L_UDP, L_IPV6, L_RAW, L_ICMP };

static void s_socket(bool on_b, int type, int proto, bool v6)
{
	E(OP_SOCKET, (uint8_t)((on_b ? 0x80 : 0) | (v6 ? 0x30 : 0) | 0x08 | type), (uint8_t)proto);
}

static void s_addr4(uint8_t ip, uint8_t port)
{
	E(0, ip, port);
}

static void s_addr6_mapped(uint8_t ip, uint8_t port)
{
	E(2, ip, port, 0, 0xff);
}

static void s_bind4(int slot, uint8_t ip, uint8_t port)
{
	E(OP_BIND, (uint8_t)slot);
	s_addr4(ip, port);
}

static void s_connect4(int slot, uint8_t ip, uint8_t port)
{
	E(OP_CONNECT, (uint8_t)slot);
	s_addr4(ip, port);
}

static void s_sockopt(int slot, int level, int name, uint32_t v)
{
	E(OP_SETSOCKOPT, (uint8_t)slot, (uint8_t)level, (uint8_t)name, 4);
	emit(&v, 4);
}

/* sendmsg of len bytes (the first up to 64 given), flags as pick_flags() bits. */
static void s_sendn(int slot, uint16_t fbits, size_t len, const char *data, size_t dl, int addr_ip,
		    uint8_t addr_port)
{
	E(OP_SEND, (uint8_t)slot, (uint8_t)(fbits >> 8), (uint8_t)fbits,
	  (uint8_t)(addr_ip >= 0 ? 0x10 : 0), (uint8_t)(len >> 8), (uint8_t)len, (uint8_t)dl);
	emit(data, dl);
	if (addr_ip >= 0)
		s_addr4((uint8_t)addr_ip, addr_port);
	E(0); /* no control */
}

static void s_send(int slot, uint16_t fbits, size_t len, const char *data, int addr_ip,
		   uint8_t addr_port)
{
	s_sendn(slot, fbits, len, data, data ? strlen(data) : 0, addr_ip, addr_port);
}

static void s_recv(int slot, uint16_t fbits, size_t len, uint8_t clen, uint8_t nlen)
{
	E(OP_RECV, (uint8_t)slot, (uint8_t)(fbits >> 8), (uint8_t)fbits,
	  (uint8_t)((clen ? 1 : 0) | (nlen ? 2 : 0)), (uint8_t)(len >> 8), (uint8_t)len);
	if (clen)
		E(clen);
	if (nlen)
		E(nlen);
}

static void flush_prog(const char *dir, const char *name)
{
	fz_write_file(dir, name, prog, prog_len);
	prog_len = 0;
}

static void gen_seeds(const char *dir)
{
	/* TCP: B listens on :80, A connects, data both ways, half-close, close. */
	s_socket(true, T_STREAM, P_0, false); /* slot 0 */
	s_sockopt(0, L_SOCKET, SO_REUSEADDR, 1);
	s_bind4(0, 0, 1);
	E(OP_LISTEN, 0, 8);
	s_socket(false, T_STREAM, P_0, false); /* slot 1 */
	s_sockopt(1, L_TCP, TCP_NODELAY, 1);
	s_connect4(1, 2, 1);
	E(OP_NET, 0);
	E(OP_ACCEPT, 0, 0x80); /* slot 2 */
	s_send(1, 0, 100, "hello", -1, 0);
	E(OP_NET, 0);
	s_recv(2, 0, 200, 0, 0);
	s_send(2, 0, 20000, "x", -1, 0);
	E(OP_CLOCK, 1);
	s_recv(1, 0x10 /* MSG_WAITALL */, 65535, 40, 0);
	E(OP_GETSOCKOPT, 1, L_TCP, TCP_INFO, 250);
	E(OP_SHUTDOWN, 1, 1);
	E(OP_NET, 0);
	E(OP_CLOSE, 2);
	E(OP_CLOCK, 4);
	flush_prog(dir, "tcp-basic");

	/* TCP: urgent data, MSG_PEEK, then an abortive close (SO_LINGER 0). */
	s_socket(true, T_STREAM, P_0, false);
	s_bind4(0, 0, 2);
	E(OP_LISTEN, 0, 1);
	s_socket(false, T_STREAM, P_TCP, false);
	s_connect4(1, 2, 2);
	E(OP_NET, 0);
	E(OP_ACCEPT, 0, 0x80);
	s_send(1, 0x1 /* MSG_OOB */, 1, "!", -1, 0);
	s_send(1, 0, 10, "data", -1, 0);
	E(OP_NET, 0);
	s_recv(2, 0x1 /* MSG_OOB */, 8, 0, 0);
	s_recv(2, 0x2 /* MSG_PEEK */, 8, 0, 0);
	E(OP_IOCTL, 2, 3 /* SIOCATMARK */);
	emit("\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
	E(OP_SETSOCKOPT, 2, L_SOCKET, SO_LINGER, 8, 1, 0, 0, 0, 0, 0, 0, 0);
	E(OP_CLOSE, 2);
	E(OP_NET, 0);
	flush_prog(dir, "tcp-oob-linger");

	/* TCP: a connect that is never answered, then the clock; SO_ERROR. */
	s_socket(false, T_STREAM, P_0, false);
	s_connect4(0, 2, 4);
	E(OP_NET, 1);
	E(OP_CLOCK, 3, OP_CLOCK, 4, OP_CLOCK, 5, OP_CLOCK, 6);
	E(OP_GETSOCKOPT, 0, L_SOCKET, SO_ERROR, 4);
	flush_prog(dir, "tcp-syn-lost");

	/* TCP: a connection refused (RST), and data lost then retransmitted. */
	s_socket(false, T_STREAM, P_0, false);
	s_connect4(0, 2, 4);
	E(OP_NET, 0);
	s_socket(true, T_STREAM, P_0, false);
	s_bind4(1, 0, 1);
	E(OP_LISTEN, 1, 2);
	s_socket(false, T_STREAM, P_0, false);
	s_connect4(2, 2, 1);
	E(OP_NET, 0);
	E(OP_ACCEPT, 1, 0x80);
	s_send(2, 0, 3000, "lost", -1, 0);
	E(OP_NET, 1);
	E(OP_CLOCK, 3, OP_NET, 0);
	s_recv(3, 0, 4000, 0, 0);
	flush_prog(dir, "tcp-refused-retransmit");

	/* UDP: bind, sendto, recvfrom with a name and IP_PKTINFO control. */
	s_socket(true, T_DGRAM, P_0, false);
	s_bind4(0, 0, 3);
	s_socket(false, T_DGRAM, P_0, false);
	s_sockopt(1, L_IP, IP_PKTINFO, 1);
	s_send(1, 0, 5, "query", 2, 3);
	E(OP_NET, 0);
	s_recv(0, 0, 64, 64, 16);
	s_send(0, 0, 3, "ans", 1, 0);
	E(OP_NET, 0);
	s_recv(1, 0, 64, 64, 16);
	E(OP_CONNECT, 1, 3, 0); /* AF_UNSPEC: disconnect */
	flush_prog(dir, "udp-basic");

	/* UDP: port unreachable back, read from the error queue. */
	s_socket(false, T_DGRAM, P_0, false);
	s_sockopt(0, L_IP, IP_RECVERR, 1);
	s_connect4(0, 2, 4);
	s_send(0, 0, 4, "ping", -1, 0);
	E(OP_NET, 0);
	s_recv(0, 0x20 /* MSG_ERRQUEUE */, 64, 128, 16);
	s_recv(0, 0, 64, 0, 0);
	flush_prog(dir, "udp-icmp-error");

	/* Ping socket: an echo to B and its reply. */
	s_socket(false, T_DGRAM, P_ICMP, false);
	s_sendn(0, 0, 12, "\x08\x00\x00\x00\x00\x00\x00\x01ping", 12, 2, 0);
	E(OP_NET, 0);
	s_recv(0, 0, 64, 64, 16);
	flush_prog(dir, "ping");

	/* Raw: ICMP raw with a filter on A; IPPROTO_RAW on B sends A an echo. */
	s_socket(false, T_RAW, P_ICMP, false);
	s_sockopt(0, L_RAW, 1, 0);
	s_socket(true, T_RAW, P_RAW, false);
	s_sendn(1, 0, 28,
		"\x45\x00\x00\x1c\x00\x01\x00\x00\x40\x01\x00\x00\xc6\x12\x00\x01"
		"\xc6\x12\x00\x02\x08\x00\xf7\xfe\x00\x00\x00\x01",
		28, 1, 0);
	E(OP_NET, 0);
	s_recv(0, 0, 128, 0, 16);
	flush_prog(dir, "raw");

	/* AF_INET6 dual stack: v4-mapped bind, connect and names. */
	s_socket(true, T_STREAM, P_0, true);
	E(OP_BIND, 0);
	E(2, 0, 1, 1, 0xff); /* [::]:80 */
	E(OP_LISTEN, 0, 4);
	s_socket(false, T_STREAM, P_0, true);
	E(OP_CONNECT, 1);
	s_addr6_mapped(2, 1);
	E(OP_NET, 0);
	E(OP_ACCEPT, 0, 0x80 | 0x40 | 28);
	E(OP_NAMES, 2, 28, OP_NAMES, 2, 0x40 | 28);
	flush_prog(dir, "tcp-v6-mapped");

	/* A raw SYN to a listener on A, answered, then time passes. */
	{
		static uint8_t fr[256];
		size_t n;

		s_socket(false, T_STREAM, P_0, false);
		s_bind4(0, 0, 1);
		E(OP_LISTEN, 0, 4);
		n = fz_build_tcp(fr, 4000, 80, 1000, 0, 0x02, 8192, "\x02\x04\x05\xb4", 4, NULL, 0);
		E(OP_INJECT, 1, (uint8_t)(n >> 8), (uint8_t)n);
		emit(fr, n);
		E(OP_NET, 1);
		E(OP_CLOCK, 3);
		flush_prog(dir, "inject-syn");
	}
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
