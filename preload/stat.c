/*
 * nstack stat: the stacks running on this machine, the processes attached
 * to each, their sockets (as ss -tanpi shows the kernel's) and their
 * non-zero counters (as nstat), read from the stacks' arenas.
 *
 * The wrapper (wrapper.c) loads this library and calls nstack_stat_main():
 * the library is what knows the layout of a stack, and only a stack laid
 * out by this very build can be read (the build id check of
 * ns_arena_map_ro; another build's is reported and skipped).
 *
 * A reader must not disturb the stack: each arena is mapped read-only at
 * its fixed address for as long as one snapshot takes, the stack lock is
 * never taken, no process slot is allocated and nothing is written. The
 * stack keeps running meanwhile, so every read may be torn: values are
 * copied out before they are looked at, every pointer followed must lie
 * inside the mapped arena (and be aligned), every list walk is bounded and
 * stops on a cycle, and a file truncated under us (a new stack started on a
 * stale file) ends that stack's snapshot instead of the program (SIGBUS).
 * The result is a snapshot, like ss's, not an atomic picture.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "preload.h"
#include "sock.h"
#include "stack.h"
#include "tcp.h"

/* Where every process maps a stack: start.c's NSP_ARENA_ADDR (keep them equal). */
#define STAT_ARENA_ADDR ((void *)0x6e5700000000ull)
#define STAT_SHM_DIR	"/dev/shm"
#define STAT_PREFIX	"nstack."
#define STAT_MAX_WALK	1000000u /* entries of one list, at most */

enum { SHOW_PROCS = 1, SHOW_SOCKETS = 2, SHOW_COUNTERS = 4, SHOW_ALL = 7 };

/* The shared part of the mapped arena: every pointer followed lies in [lo, hi). */
struct view {
	uintptr_t lo, hi;
};

/* True when [p, p + len) lies in the arena and p is aligned for the arena's objects. */
static bool in_view(const struct view *v, const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p;

	return a >= v->lo && a < v->hi && len <= v->hi - a && (a & 7u) == 0;
}

/*
 * Copies shared memory that other processes change as we read it; only the
 * copy is looked at (the barrier keeps the compiler from reading the
 * shared bytes again instead of the copy).
 */
static void snap(void *dst, const void *src, size_t len)
{
	memcpy(dst, src, len);
	__asm__ volatile("" : : "r"(dst) : "memory");
}

/* One scalar of shared memory, read once. */
#define RD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

struct stat_proc {
	int32_t pid;
	uint32_t state; /* enum ns_proc_state */
	int ring;	/* its ring's index in the stack's group (stack/fanout.c), -1: none */
	uint64_t rx_frames;
};

struct stat_row {
	char proto[8];
	uint8_t state;
	bool datagram;
	uint32_t rq, sq;
	/* IPv4 as v4-mapped; v6: show as ss does an AF_INET6 socket ([addr]:port) */
	struct in6_addr laddr, raddr;
	bool v6;
	uint16_t lport, rport; /* host order */
	uint64_t holders;
	char *info; /* ss -i's line, or NULL */
};

struct sock_copy;

/* What one stack's snapshot holds once its arena is unmapped again. */
struct stat_snap {
	struct ns_arena arena;
	struct nstack ns;
	bool have_ns;
	bool have_procs;
	int driver;
	uint64_t id; /* names the stack's doorbells */
	struct stat_proc procs[NS_MAX_PROCS];
	struct stat_row *rows;
	size_t n_rows, cap_rows;
	struct sock_copy *copy; /* scratch for the sock being read */
	bool sockets_cut;	/* a list was cut short (bound, cycle, bad pointer) */
	const char *cut;	/* why the snapshot ended early, NULL: it did not */
};

/* The fault guard: SIGBUS (file truncated) or SIGSEGV while reading an arena. */
static sigjmp_buf fault_jmp;
static volatile sig_atomic_t fault_armed;

static void on_fault(int sig)
{
	if (fault_armed) {
		fault_armed = 0;
		siglongjmp(fault_jmp, sig);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static const char *const tcp_names[TCP_MAX_STATES] = {
    [TCP_ESTABLISHED] = "ESTABLISHED",
    [TCP_SYN_SENT] = "SYN-SENT",
    [TCP_SYN_RECV] = "SYN-RECV",
    [TCP_FIN_WAIT1] = "FIN-WAIT-1",
    [TCP_FIN_WAIT2] = "FIN-WAIT-2",
    [TCP_TIME_WAIT] = "TIME-WAIT",
    [TCP_CLOSE] = "CLOSE",
    [TCP_CLOSE_WAIT] = "CLOSE-WAIT",
    [TCP_LAST_ACK] = "LAST-ACK",
    [TCP_LISTEN] = "LISTEN",
    [TCP_CLOSING] = "CLOSING",
};

static const char *state_name(const struct stat_row *r, char *buf, size_t len)
{
	if (r->datagram) {
		if (r->state == SK_ST_CLOSE)
			return "UNCONN";
		if (r->state == SK_ST_ESTABLISHED)
			return "ESTABLISHED";
	} else if (r->state < TCP_MAX_STATES && tcp_names[r->state]) {
		return tcp_names[r->state];
	}
	snprintf(buf, len, "UNKNOWN(%u)", r->state);
	return buf;
}

static struct stat_row *add_row(struct stat_snap *s)
{
	if (s->n_rows == s->cap_rows) {
		size_t cap = s->cap_rows ? s->cap_rows * 2 : 32;
		struct stat_row *n = realloc(s->rows, cap * sizeof(*n));

		if (!n)
			return NULL;
		s->rows = n;
		s->cap_rows = cap;
	}
	memset(&s->rows[s->n_rows], 0, sizeof(s->rows[0]));
	return &s->rows[s->n_rows++];
}

/* ss -i's line for a TCP connection, from the copy tp. */
static char *tcp_info_line(const struct tcp_sock *tp)
{
	char buf[512];
	size_t n = 0;

#define APPEND(...)                                                                                \
	do {                                                                                       \
		if (n < sizeof(buf))                                                               \
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, __VA_ARGS__);              \
	} while (0)
	if (tp->wscale_ok)
		APPEND(" wscale:%u,%u", tp->snd_wscale, tp->rcv_wscale);
	APPEND(" rto:%g rtt:%g/%g", tp->rto / 1000.0, (tp->srtt_us >> 3) / 1000.0,
	       (tp->mdev_us >> 2) / 1000.0);
	APPEND(" mss:%u advmss:%u rcvmss:%u cwnd:%u", tp->mss_cache, tp->advmss, tp->rcv_mss,
	       tp->snd_cwnd);
	if (tp->snd_ssthresh < 0x7fffffffu)
		APPEND(" ssthresh:%u", tp->snd_ssthresh);
	APPEND(" bytes_sent:%" PRIu64 " bytes_acked:%" PRIu64 " bytes_received:%" PRIu64,
	       tp->bytes_sent, tp->bytes_acked, tp->bytes_received);
	if (tp->bytes_retrans)
		APPEND(" bytes_retrans:%" PRIu64, tp->bytes_retrans);
	APPEND(" segs_out:%u segs_in:%u data_segs_out:%u data_segs_in:%u", tp->segs_out,
	       tp->segs_in, tp->data_segs_out, tp->data_segs_in);
	if (tp->packets_out)
		APPEND(" unacked:%u", tp->packets_out);
	if (tp->retrans_out || tp->total_retrans)
		APPEND(" retrans:%u/%u", tp->retrans_out, tp->total_retrans);
	APPEND(" snd_wnd:%u rcv_wnd:%u", tp->snd_wnd, tp->rcv_wnd);
	if (tp->min_rtt_us && tp->min_rtt_us != UINT32_MAX)
		APPEND(" minrtt:%g", tp->min_rtt_us / 1000.0);
#undef APPEND
	return strdup(buf[0] == ' ' ? buf + 1 : buf);
}

/* a as an IPv6 address: v4-mapped, except the wildcard of an AF_INET6 socket ("::"). */
static void map_v4(struct in6_addr *out, uint32_t a, bool v6)
{
	memset(out, 0, sizeof(*out));
	if (v6 && a == 0)
		return;
	out->s6_addr[10] = 0xff;
	out->s6_addr[11] = 0xff;
	memcpy(&out->s6_addr[12], &a, 4);
}

/*
 * One row from the copy sk (whose first bytes are a struct tcp_sock when
 * it is TCP and tcp_ok says the whole of it was copied).
 */
static void add_sock(struct stat_snap *s, const struct sock *sk, bool tcp_ok, uint64_t holders)
{
	struct stat_row *r = add_row(s);

	if (!r)
		return;
	r->state = sk->sk_state;
	r->v6 = sk->sk_family == AF_INET6;
	if (sk->sk_ipv6) {
		r->laddr = sk->sk_v6_rcv_saddr;
		r->raddr = sk->sk_v6_daddr;
	} else {
		map_v4(&r->laddr, sk->sk_rcv_saddr, r->v6);
		map_v4(&r->raddr, sk->sk_daddr, r->v6);
	}
	r->lport = sk->sk_num;
	r->rport = ntohs(sk->sk_dport);
	r->holders = holders;
	if (sk->sk_type == SOCK_STREAM) {
		snprintf(r->proto, sizeof(r->proto), "tcp");
	} else if (sk->sk_type == SOCK_RAW) {
		snprintf(r->proto, sizeof(r->proto), "raw");
		r->datagram = true;
	} else if (sk->sk_type == SOCK_DGRAM && sk->sk_protocol == IPPROTO_ICMP) {
		snprintf(r->proto, sizeof(r->proto), "ping");
		r->datagram = true;
	} else if (sk->sk_type == SOCK_DGRAM) {
		snprintf(r->proto, sizeof(r->proto), "udp");
		r->datagram = true;
	} else {
		snprintf(r->proto, sizeof(r->proto), "?%u", sk->sk_type);
		r->datagram = true;
	}
	if (r->datagram || !tcp_ok) {
		r->rq = sk->sk_receive_queue.bytes;
		r->sq = r->datagram ? sk->sk_wmem_alloc : sk->sk_write_queue.bytes;
		return;
	}
	/* As Linux's tcp_diag: the accept queue of a listener, else unread and unacked bytes. */
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;

	if (sk->sk_state == TCP_LISTEN) {
		r->rq = (uint32_t)sk->sk_ack_backlog;
		r->sq = (uint32_t)sk->sk_max_ack_backlog;
		return;
	}
	r->rq = tp->rcv_nxt - tp->copied_seq;
	if (r->rq && (sk->sk_flags & (1ul << SOCK_DONE)))
		r->rq--; /* the FIN's sequence number */
	if (sk->sk_state != TCP_SYN_SENT && sk->sk_state != TCP_SYN_RECV &&
	    sk->sk_state != TCP_CLOSE)
		r->sq = tp->write_seq - tp->snd_una;
	r->info = tcp_info_line(tp);
}

/*
 * Follows next pointers from first: fn gets each entry (its address, already
 * checked to hold len bytes) and returns the next one. Stops at NULL, at
 * a pointer outside the arena, after STAT_MAX_WALK entries, or on a cycle
 * (Brent's), which the copy may show when the list changed as we walked.
 */
static void walk(struct stat_snap *s, const struct view *v, const void *first, size_t len,
		 const void *(*fn)(struct stat_snap *, const struct view *, const void *, void *),
		 void *arg)
{
	const void *p = first, *mark = NULL;
	unsigned int n = 0, power = 1, lam = 0;

	while (p) {
		if (!in_view(v, p, len) || n++ >= STAT_MAX_WALK) {
			s->sockets_cut = true;
			return;
		}
		p = fn(s, v, p, arg);
		if (p && p == mark) {
			s->sockets_cut = true;
			return;
		}
		if (++lam == power) {
			mark = p;
			power *= 2;
			lam = 0;
		}
	}
}

/* Scratch for one struct tcp_sock (or any sock), 8-aligned. */
struct sock_copy {
	union {
		struct tcp_sock tp;
		struct sock sk;
	};
};

/* ns->sockets: every struct socket, with the processes holding it. */
static const void *visit_socket(struct stat_snap *s, const struct view *v, const void *p, void *arg)
{
	struct sock_copy *c = arg;
	struct socket sock;

	snap(&sock, p, sizeof(sock));
	if (in_view(v, sock.sk, sizeof(struct sock))) {
		snap(&c->sk, sock.sk, sizeof(c->sk));
		if (c->sk.sk_type == SOCK_STREAM && in_view(v, sock.sk, sizeof(c->tp))) {
			snap(&c->tp, sock.sk, sizeof(c->tp));
			add_sock(s, &c->sk, true, sock.holders);
		} else {
			add_sock(s, &c->sk, false, sock.holders);
		}
	}
	return sock.all.le_next;
}

/* ns->tcp->all: TCP socks without a struct socket (orphans, not yet accepted). */
static const void *visit_tcp(struct stat_snap *s, const struct view *v, const void *p, void *arg)
{
	struct sock_copy *c = arg;

	(void)v;
	snap(&c->tp, p, sizeof(c->tp));
	if (!c->tp.inet.sk.sk_socket)
		add_sock(s, &c->sk, true, 0);
	return c->tp.all_link.le_next;
}

/* Copies what stat prints out of the mapped arena a; see the top of the file. */
static void collect(struct stat_snap *s, const struct ns_arena *a, size_t size)
{
	struct view v = {.lo = (uintptr_t)a, .hi = (uintptr_t)a + size};
	const struct nstack *ns;

	snap(&s->arena, a, sizeof(s->arena));
	ns = s->arena.root;
	if (!in_view(&v, ns, sizeof(*ns)))
		return;
	snap(&s->ns, ns, sizeof(s->ns));
	if (s->ns.arena != a)
		return; /* not (yet, or any more) a stack's root */
	s->ns.cfg.ifname[sizeof(s->ns.cfg.ifname) - 1] = '\0';
	s->have_ns = true;
	if (in_view(&v, s->ns.procs, sizeof(struct ns_procs))) {
		const struct ns_procs *pt = s->ns.procs;

		int rings = RD(pt->fan_n);

		s->driver = RD(pt->driver);
		s->id = RD(pt->id);
		for (int i = 0; i < NS_MAX_PROCS; i++) {
			s->procs[i].pid = RD(pt->p[i].pid);
			s->procs[i].state = RD(pt->p[i].state);
			s->procs[i].ring = -1;
			s->procs[i].rx_frames = RD(pt->p[i].rx_frames);
		}
		/* Read without the lock: a torn table shows a wrong index, nothing worse. */
		for (int i = 0; i < rings && i < NS_MAX_PROCS; i++) {
			int slot = RD(pt->fan_slot[i]);

			if (slot >= 0 && slot < NS_MAX_PROCS)
				s->procs[slot].ring = i;
		}
		s->have_procs = true;
	}
	s->copy = aligned_alloc(64, (sizeof(*s->copy) + 63) & ~(size_t)63);
	if (!s->copy)
		return;
	walk(s, &v, s->ns.sockets.lh_first, sizeof(struct socket), visit_socket, s->copy);
	if (in_view(&v, s->ns.tcp, sizeof(struct tcp_state)))
		walk(s, &v, RD(s->ns.tcp->all.lh_first), sizeof(struct tcp_sock), visit_tcp,
		     s->copy);
}

/* What a stack file's name says: nstack.<netns inode>.u<uid>.<interface>.<a.b.c.d>. */
struct stat_name {
	unsigned long netns;
	unsigned long uid;
	char ifname[64];
	char addr[INET_ADDRSTRLEN];
	bool ok;
};

static struct stat_name parse_name(const char *name)
{
	struct stat_name n = {0};
	const char *p = name + strlen(STAT_PREFIX), *dot, *end = name + strlen(name);
	char *num_end;
	int dots = 0;

	n.netns = strtoul(p, &num_end, 10);
	if (num_end == p || *num_end != '.' || num_end[1] != 'u')
		return n;
	p = num_end + 2;
	n.uid = strtoul(p, &num_end, 10);
	if (num_end == p || *num_end != '.')
		return n;
	p = num_end + 1;
	/* The address is the last four fields; an interface name may have dots. */
	for (dot = end; dot > p; dot--)
		if (dot[-1] == '.' && ++dots == 4)
			break;
	if (dots != 4 || dot - 1 <= p || (size_t)(end - dot) >= sizeof(n.addr) ||
	    (size_t)(dot - 1 - p) >= sizeof(n.ifname))
		return n;
	memcpy(n.ifname, p, (size_t)(dot - 1 - p));
	memcpy(n.addr, dot, (size_t)(end - dot));
	n.ok = true;
	return n;
}

/* "(this one)" or the name ip-netns(8) gave it, for the netns of inode ino. */
static void netns_label(unsigned long ino, char *buf, size_t len)
{
	struct stat st;
	DIR *d;
	struct dirent *e;

	buf[0] = '\0';
	if (stat("/proc/self/ns/net", &st) == 0 && st.st_ino == ino) {
		snprintf(buf, len, " (this one)");
		return;
	}
	d = opendir("/run/netns");
	if (!d)
		return;
	while ((e = readdir(d))) {
		char path[PATH_MAX];

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/run/netns/%s", e->d_name);
		if (stat(path, &st) == 0 && st.st_ino == ino) {
			snprintf(buf, len, " (%s)", e->d_name);
			break;
		}
	}
	closedir(d);
}

/* Whether a process holds its read lock on the file: start.c's stack_in_use(). */
static bool file_in_use(int fd)
{
	struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};

	return fcntl(fd, F_OFD_GETLK, &l) == 0 && l.l_type != F_UNLCK;
}

struct stat_proc_view {
	char comm[32];
	bool gone;
};

static void proc_view(int32_t pid, struct stat_proc_view *pv)
{
	char path[64];
	FILE *f;

	snprintf(pv->comm, sizeof(pv->comm), "?");
	pv->gone = false;
	if (pid <= 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "re");
	if (!f) {
		pv->gone = errno == ENOENT;
		return;
	}
	if (fgets(pv->comm, sizeof(pv->comm), f))
		pv->comm[strcspn(pv->comm, "\n")] = '\0';
	fclose(f);
	/* A zombie has exited too: its state, after the last ')' of stat. */
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (f) {
		char line[512], *p = NULL;

		if (fgets(line, sizeof(line), f))
			p = strrchr(line, ')');
		pv->gone = p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
		fclose(f);
	}
}

static void print_counter(void *arg, const char *name, uint64_t v)
{
	(*(unsigned int *)arg)++;
	printf("    %-28s %" PRIu64 "\n", name, v);
}

static void fmt_addr(char *buf, size_t len, const struct in6_addr *addr, bool v6, uint16_t port)
{
	char a[INET6_ADDRSTRLEN + 2], p[8] = "*";

	if (v6) {
		a[0] = '[';
		inet_ntop(AF_INET6, addr, a + 1, INET6_ADDRSTRLEN);
		strcat(a, "]");
	} else {
		inet_ntop(AF_INET, &addr->s6_addr[12], a, sizeof(a));
	}
	if (port)
		snprintf(p, sizeof(p), "%u", port);
	snprintf(buf, len, "%s:%s", a, p);
}

/* ss's order: by protocol, listeners first, then by local and peer address and port. */
static int row_cmp(const void *x, const void *y)
{
	const struct stat_row *a = x, *b = y;
	int c = strcmp(a->proto, b->proto);

	if (c)
		return c;
	if ((a->state == TCP_LISTEN) != (b->state == TCP_LISTEN) && !a->datagram && !b->datagram)
		return a->state == TCP_LISTEN ? -1 : 1;
#define CMP(f)                                                                                     \
	if (a->f != b->f)                                                                          \
		return a->f < b->f ? -1 : 1;
	CMP(lport);
	c = memcmp(&a->laddr, &b->laddr, sizeof(a->laddr));
	if (c)
		return c;
	c = memcmp(&a->raddr, &b->raddr, sizeof(a->raddr));
	if (c)
		return c;
	CMP(rport);
#undef CMP
	return 0;
}

static void print_sockets(struct stat_snap *s, const struct stat_proc_view *pv)
{
	int wl = (int)strlen("Local Address:Port"), wp = (int)strlen("Peer Address:Port");
	int ws = (int)strlen("State");
	char st[24], l[64], p[64];

	if (s->n_rows > 1)
		qsort(s->rows, s->n_rows, sizeof(s->rows[0]), row_cmp);
	for (size_t i = 0; i < s->n_rows; i++) {
		const struct stat_row *r = &s->rows[i];
		int n;

		fmt_addr(l, sizeof(l), &r->laddr, r->v6, r->lport);
		fmt_addr(p, sizeof(p), &r->raddr, r->v6, r->rport);
		n = (int)strlen(l);
		wl = n > wl ? n : wl;
		n = (int)strlen(p);
		wp = n > wp ? n : wp;
		n = (int)strlen(state_name(r, st, sizeof(st)));
		ws = n > ws ? n : ws;
	}
	printf("  sockets: %zu%s\n", s->n_rows,
	       s->sockets_cut ? " (a list changed while it was read: cut short)" : "");
	if (!s->n_rows)
		return;
	printf("    %-5s %-*s %6s %6s %-*s %-*s %s\n", "Netid", ws, "State", "Recv-Q", "Send-Q", wl,
	       "Local Address:Port", wp, "Peer Address:Port", "Process");
	for (size_t i = 0; i < s->n_rows; i++) {
		const struct stat_row *r = &s->rows[i];
		uint64_t h = r->holders;
		bool first = true;
		char line[4096];
		size_t n;

		fmt_addr(l, sizeof(l), &r->laddr, r->v6, r->lport);
		fmt_addr(p, sizeof(p), &r->raddr, r->v6, r->rport);
		n = (size_t)snprintf(line, sizeof(line), "    %-5s %-*s %6u %6u %-*s %-*s ",
				     r->proto, ws, state_name(r, st, sizeof(st)), r->rq, r->sq, wl,
				     l, wp, p);
		if (h)
			n += (size_t)snprintf(line + n, sizeof(line) - n, "users:(");
		while (h && n < sizeof(line)) {
			int slot = __builtin_ctzll(h);

			h &= h - 1;
			if (s->have_procs && s->procs[slot].state != NS_PROC_FREE)
				n += (size_t)snprintf(line + n, sizeof(line) - n,
						      "%s(\"%s\",pid=%d)", first ? "" : ",",
						      pv[slot].comm, (int)s->procs[slot].pid);
			else
				n += (size_t)snprintf(line + n, sizeof(line) - n,
						      "%s(\"?\",slot=%d)", first ? "" : ",", slot);
			first = false;
		}
		if (r->holders && n < sizeof(line))
			snprintf(line + n, sizeof(line) - n, ")");
		n = strlen(line);
		while (n && line[n - 1] == ' ')
			line[--n] = '\0';
		printf("%s\n", line);
		if (r->info)
			printf("          %s\n", r->info);
	}
}

static void print_procs(const struct stat_snap *s, const struct stat_proc_view *pv)
{
	int n = 0;

	if (!s->have_procs) {
		printf("  processes: ? (no process table)\n");
		return;
	}
	for (int i = 0; i < NS_MAX_PROCS; i++)
		n += s->procs[i].state != NS_PROC_FREE;
	printf("  processes: %d", n);
	if (s->driver < 0 || s->driver >= NS_MAX_PROCS)
		printf(", no driver");
	printf("\n");
	if (!n)
		return;
	printf("    %-4s %-8s %-8s %-4s %-10s %s\n", "SLOT", "PID", "ROLE", "RING", "RX-FRAMES",
	       "COMMAND");
	for (int i = 0; i < NS_MAX_PROCS; i++) {
		const char *role = "";

		if (s->procs[i].state == NS_PROC_FREE)
			continue;
		if (i == s->driver)
			role = "driver";
		else if (s->procs[i].state == NS_PROC_FORKING)
			role = "forking";
		char ring[12] = "-";

		if (s->procs[i].ring >= 0)
			snprintf(ring, sizeof(ring), "%d", s->procs[i].ring);
		printf("    %-4d %-8d %-8s %-4s %-10llu %s%s\n", i, (int)s->procs[i].pid, role,
		       ring, (unsigned long long)s->procs[i].rx_frames, pv[i].comm,
		       pv[i].gone ? " (gone)" : "");
	}
}

/* Maps, copies, unmaps, then prints one stack; false when the file cannot be opened. */
static bool stat_one(const char *name, int what, bool first)
{
	struct stat_name n = parse_name(name);
	struct stat_proc_view pv[NS_MAX_PROCS];
	struct ns_arena_map map = {0};
	struct stat_snap *s;
	char path[PATH_MAX], label[NAME_MAX + 16] = "";
	struct sigaction sa = {.sa_handler = on_fault}, old_bus, old_segv;
	bool live;
	int fd, rc, sig;

	snprintf(path, sizeof(path), "%s/%s", STAT_SHM_DIR, name);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return false; /* another user's (or gone since the listing) */
	live = file_in_use(fd);
	if (!first)
		printf("\n");
	if (n.ok)
		netns_label(n.netns, label, sizeof(label));
	printf("stack %s: %s\n", path, live ? "live" : "stale (no process uses it)");
	if (n.ok)
		printf("  netns %lu%s, user %lu, interface %s, address %s\n", n.netns, label, n.uid,
		       n.ifname, n.addr);
	rc = ns_arena_map_ro(fd, STAT_ARENA_ADDR, &map);
	close(fd);
	if (rc) {
		if (rc == -EPROTO)
			printf("  other build: laid out by another build of nstack, not read\n");
		else if (rc == -EINVAL)
			printf("  not read: not (yet) a stack, or a truncated one\n");
		else if (rc == -EEXIST)
			printf("  not read: its address %p is taken in this process\n",
			       STAT_ARENA_ADDR);
		else
			printf("  not read: %s\n", strerror(-rc));
		return true;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		ns_arena_unmap(&map);
		printf("  not read: out of memory\n");
		return true;
	}
	s->driver = -1;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old_bus);
	sigaction(SIGSEGV, &sa, &old_segv);
	sig = sigsetjmp(fault_jmp, 1);
	if (sig == 0) {
		fault_armed = 1;
		collect(s, map.arena, map.size);
		fault_armed = 0;
	} else {
		s->cut = sig == SIGBUS ? "the file was truncated while it was read"
				       : "an inconsistent pointer was met";
	}
	sigaction(SIGBUS, &old_bus, NULL);
	sigaction(SIGSEGV, &old_segv, NULL);
	ns_arena_unmap(&map);

	printf("  arena %" PRIu64 " MiB, %" PRIu64 " KiB in use in %" PRIu64
	       " chunks, generation %" PRIu64 "\n",
	       s->arena.size >> 20, s->arena.bytes_in_use >> 10, s->arena.chunks_in_use,
	       s->arena.generation);
	if (s->cut)
		printf("  snapshot cut short: %s\n", s->cut);
	if (!s->have_ns) {
		printf("  no stack in it (being created, or torn down)\n");
		goto out;
	}
	{
		char a[INET_ADDRSTRLEN], gw[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &s->ns.cfg.addr, a, sizeof(a));
		inet_ntop(AF_INET, &s->ns.cfg.gateway, gw, sizeof(gw));
		printf("  stack on %s, %s/%u, gateway %s", s->ns.cfg.ifname, a, s->ns.cfg.prefixlen,
		       s->ns.cfg.gateway ? gw : "none");
		if (!IN6_IS_ADDR_UNSPECIFIED(&s->ns.cfg.addr6)) {
			char a6[INET6_ADDRSTRLEN];

			inet_ntop(AF_INET6, &s->ns.cfg.addr6, a6, sizeof(a6));
			printf(", %s/%u", a6, s->ns.cfg.prefixlen6);
		} else if (s->ns.cfg.ipv6) {
			printf(", IPv6 from router advertisements");
		}
		if (s->ns.cfg.mtu)
			printf(", mtu %u", s->ns.cfg.mtu);
		printf(", id %016" PRIx64 "\n", s->id);
	}
	for (int i = 0; i < NS_MAX_PROCS; i++)
		proc_view(s->have_procs && s->procs[i].state != NS_PROC_FREE ? s->procs[i].pid : 0,
			  &pv[i]);
	if (what & SHOW_PROCS)
		print_procs(s, pv);
	if (what & SHOW_SOCKETS)
		print_sockets(s, pv);
	if (what & SHOW_COUNTERS) {
		unsigned int count = 0;

		printf("  counters:\n");
		nstack_stats_foreach(&s->ns, print_counter, &count);
		if (!count)
			printf("    (all zero)\n");
	}
out:
	for (size_t i = 0; i < s->n_rows; i++)
		free(s->rows[i].info);
	free(s->rows);
	free(s->copy);
	free(s);
	return true;
}

static int is_stack_file(const struct dirent *e)
{
	return strncmp(e->d_name, STAT_PREFIX, strlen(STAT_PREFIX)) == 0;
}

static void stat_usage(FILE *out)
{
	fprintf(out, "usage: nstack stat [-p] [-s] [-c]\n"
		     "Lists the stacks on this machine (" STAT_SHM_DIR "/" STAT_PREFIX
		     "*), their processes, sockets and counters.\n"
		     "  -p          processes only\n"
		     "  -s          sockets only\n"
		     "  -c          counters only (the non-zero ones)\n"
		     "  -h, --help  this help\n"
		     "Without options, all three; they combine (-ps: processes and sockets).\n"
		     "See nstack(1).\n");
}

NSP_EXPORT int nstack_stat_main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct dirent **names;
	int what = 0, shown = 0, n, c;

	optind = 0; /* a full reset: getopt's state is libc's, shared with the caller */
	opterr = 0; /* our messages, named "nstack stat" */
	while ((c = getopt_long(argc, argv, "scph", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			what |= SHOW_SOCKETS;
			break;
		case 'c':
			what |= SHOW_COUNTERS;
			break;
		case 'p':
			what |= SHOW_PROCS;
			break;
		case 'h':
			stat_usage(stdout);
			return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
		default:
			if (optopt)
				fprintf(stderr, "nstack stat: invalid option -- '%c'\n", optopt);
			else
				fprintf(stderr, "nstack stat: invalid option '%s'\n",
					argv[optind - 1]);
			stat_usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "nstack stat: unexpected argument '%s'\n", argv[optind]);
		stat_usage(stderr);
		return 2;
	}
	if (!what)
		what = SHOW_ALL;
	n = scandir(STAT_SHM_DIR, &names, is_stack_file, alphasort);
	if (n < 0) {
		fprintf(stderr, "nstack stat: cannot list %s: %s\n", STAT_SHM_DIR, strerror(errno));
		n = 0;
		names = NULL;
	}
	for (int i = 0; i < n; i++) {
		shown += stat_one(names[i]->d_name, what, shown == 0);
		free(names[i]);
	}
	free(names);
	if (!shown)
		printf("no stacks\n");
	return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}
