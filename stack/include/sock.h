/*
 * BSD socket layer objects, as in Linux's include/net/sock.h and linux/net.h.
 *
 * struct socket is what the application holds (one per private fd);
 * struct sock is the protocol's connection state. proto_ops (per family and
 * type) sits between them; struct proto (per transport protocol) below.
 * Protocol socks embed struct sock first (struct inet_sock, struct udp_sock,
 * struct tcp_sock) and are allocated with proto->obj_size bytes.
 *
 * Locking: every function here runs with the stack lock held, except the
 * nstack_sock_* entry points in nstack.h, which take it.
 */
#ifndef NSTACK_SOCK_H
#define NSTACK_SOCK_H

#include <bsd/sys/queue.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "nsref.h"
#include "shared.h"
#include "skbuff.h"

struct nstack;
struct sock;
struct socket;

enum socket_state {
	SS_FREE = 0,
	SS_UNCONNECTED,
	SS_CONNECTING,
	SS_CONNECTED,
	SS_DISCONNECTING,
};

struct proto_ops {
	int family;
	int (*release)(struct socket *sock);
	int (*bind)(struct socket *sock, const struct sockaddr *addr, socklen_t len);
	/* flags: the file's O_NONBLOCK */
	int (*connect)(struct socket *sock, const struct sockaddr *addr, socklen_t len, int flags);
	/* newsock is allocated by the caller; flags: O_NONBLOCK of the listener */
	int (*accept)(struct socket *sock, struct socket *newsock, int flags);
	int (*getname)(struct socket *sock, struct sockaddr *addr, socklen_t *len, int peer);
	/* Returns a POLL* mask; never blocks. */
	unsigned int (*poll)(struct socket *sock);
	int (*ioctl)(struct socket *sock, unsigned long cmd, void *arg);
	int (*listen)(struct socket *sock, int backlog);
	int (*shutdown)(struct socket *sock, int how);
	int (*setsockopt)(struct socket *sock, int level, int optname, const void *optval,
			  socklen_t optlen);
	int (*getsockopt)(struct socket *sock, int level, int optname, void *optval,
			  socklen_t *optlen);
	/* Return bytes sent/received or -errno. */
	ssize_t (*sendmsg)(struct socket *sock, const struct msghdr *msg, int flags);
	ssize_t (*recvmsg)(struct socket *sock, struct msghdr *msg, int flags);
};

struct net_proto_family {
	int family;
	int (*create)(struct nstack *ns, struct socket *sock, int protocol);
};

struct proto {
	const char *name;
	size_t obj_size;
	int (*init)(struct sock *sk);
	void (*close)(struct sock *sk, int64_t timeout_us);
	int (*connect)(struct sock *sk, const struct sockaddr *addr, socklen_t len);
	int (*disconnect)(struct sock *sk, int flags);
	struct sock *(*accept)(struct sock *sk, int flags, int *err);
	int (*ioctl)(struct sock *sk, unsigned long cmd, void *arg);
	void (*destroy)(struct sock *sk);
	void (*shutdown)(struct sock *sk, int how);
	int (*setsockopt)(struct sock *sk, int level, int optname, const void *optval,
			  socklen_t optlen);
	int (*getsockopt)(struct sock *sk, int level, int optname, void *optval, socklen_t *optlen);
	ssize_t (*sendmsg)(struct sock *sk, const struct msghdr *msg, size_t len, int flags);
	/* flags include MSG_DONTWAIT when the file is non-blocking */
	ssize_t (*recvmsg)(struct sock *sk, struct msghdr *msg, size_t len, int flags);
	int (*bind)(struct sock *sk, const struct sockaddr *addr, socklen_t len);
	int (*backlog_rcv)(struct sock *sk, struct sk_buff *skb);
	int (*hash)(struct sock *sk);
	void (*unhash)(struct sock *sk);
	/* Binds sk to local port snum (host order), or picks one when 0. */
	int (*get_port)(struct sock *sk, uint16_t snum);
	unsigned int max_header;
	/* SO_KEEPALIVE changed (Linux's proto->keepalive); may be NULL. */
	void (*keepalive)(struct sock *sk, bool on);
};

/*
 * sk_state numbering: Linux's include/net/tcp_states.h, so that TCP_INFO and
 * ss-like dumps show the same numbers. enum tcp_state must use these values;
 * datagram sockets use SK_ST_CLOSE and SK_ST_ESTABLISHED, and the generic
 * socket code (SO_ACCEPTCONN, getpeername) reads SK_ST_LISTEN/SK_ST_SYN_SENT.
 */
#define SK_ST_ESTABLISHED 1
#define SK_ST_SYN_SENT	  2
#define SK_ST_CLOSE	  7
#define SK_ST_LISTEN	  10

/* sk_shutdown bits */
#define RCV_SHUTDOWN  1
#define SEND_SHUTDOWN 2
#define SHUTDOWN_MASK 3

/* sk_flags bits */
enum sock_flags {
	SOCK_DEAD,	/* no struct socket any more */
	SOCK_DONE,	/* peer finished sending (TCP FIN seen) */
	SOCK_BROADCAST, /* SO_BROADCAST */
	SOCK_KEEPOPEN,	/* SO_KEEPALIVE */
	SOCK_LINGER,	/* SO_LINGER on */
	SOCK_RCVTSTAMP, /* SO_TIMESTAMP */
	SOCK_ZAPPED,	/* not hashed / port released */
	SOCK_URGINLINE, /* SO_OOBINLINE */
	SOCK_DBG,	/* SO_DEBUG */
	SOCK_PASSCRED,
	SOCK_LOCALROUTE,  /* SO_DONTROUTE */
	SOCK_RCVTSTAMPNS, /* SO_TIMESTAMPNS */
	SOCK_TSTAMP_NEW,  /* SO_TIMESTAMP(NS)_NEW chose the 64-bit layout */
	SOCK_ZEROCOPY,	  /* SO_ZEROCOPY: MSG_ZEROCOPY sends are reported when done */
};

/* Linux's default send and receive buffer sizes (net.core.[rw]mem_default). */
#define SK_WMEM_DEFAULT 212992
#define SK_RMEM_DEFAULT 212992
#define SK_WMEM_MAX	212992
#define SK_RMEM_MAX	212992
#define SOCK_MIN_SNDBUF 4608
#define SOCK_MIN_RCVBUF 2304

/* Timeouts in microseconds: 0 means do not block, this means forever. */
#define SK_TIMEO_INFINITE INT64_MAX

struct sock {
	struct nstack *ns;
	struct socket *sk_socket;
	nsref_t sk_prot_ref; /* [I] const struct proto *: sk_prot(sk) */
	/* The identity Linux keeps in sock_common; addresses and dport in network order. */
	uint32_t sk_daddr;
	uint32_t sk_rcv_saddr;
	uint16_t sk_dport;
	uint16_t sk_num; /* local port, host order; 0 while unbound */
	/*
	 * AF_INET6 sockets whose traffic is IPv6 proper (sk_ipv6): the peer and
	 * the local address, as Linux's sk_v6_daddr/sk_v6_rcv_saddr. IPv4
	 * traffic of an AF_INET6 socket (v4-mapped) uses the fields above.
	 */
	struct in6_addr sk_v6_daddr;
	struct in6_addr sk_v6_rcv_saddr;
	bool sk_ipv6; /* bound to or connected with an IPv6 address proper */
	uint16_t sk_family;
	uint16_t sk_type;
	uint16_t sk_protocol;
	uint8_t sk_state;      /* enum tcp_state values, UDP uses CLOSE/ESTABLISHED too */
	uint8_t sk_shutdown;   /* RCV_SHUTDOWN | SEND_SHUTDOWN */
	bool sk_reuse;	       /* SO_REUSEADDR */
	bool sk_reuseport;     /* SO_REUSEPORT */
	bool sk_userlocks_snd; /* SO_SNDBUF set by the user: no auto-tuning */
	bool sk_userlocks_rcv;
	bool sk_userlocks_bindaddr; /* bind() gave an address: keep it on disconnect */
	bool sk_userlocks_bindport; /* bind() gave a port: keep it on disconnect */
	unsigned long sk_flags;	    /* 1 << enum sock_flags */
	int sk_err;		    /* pending error reported once (SO_ERROR, next call) */
	int sk_err_soft;	    /* last soft error, reported when nothing better */
	int sk_rcvbuf;
	int sk_sndbuf;
	unsigned int sk_rmem_alloc; /* bytes charged to the receive side */
	unsigned int sk_wmem_alloc; /* bytes in flight below the socket */
	int sk_wmem_queued;	    /* bytes queued by the protocol (TCP) */
	int sk_rcvlowat;
	int sk_sndlowat;
	int64_t sk_rcvtimeo; /* SO_RCVTIMEO, microseconds, SK_TIMEO_INFINITE */
	int64_t sk_sndtimeo;
	int sk_lingertime; /* seconds */
	int sk_priority;
	uint32_t sk_mark;
	uint32_t sk_zckey;   /* the next MSG_ZEROCOPY send's notification id */
	uint32_t sk_tsflags; /* SO_TIMESTAMPING: SOF_TIMESTAMPING_* */
	uint32_t sk_tskey;   /* SOF_TIMESTAMPING_OPT_ID: where the ids count from */
	int sk_bound_dev_if;
	int sk_max_ack_backlog;
	int sk_ack_backlog;
	struct sk_buff_head sk_receive_queue;
	struct sk_buff_head sk_error_queue; /* IP_RECVERR */
	struct sk_buff_head sk_write_queue;
	pthread_cond_t sk_wait;	       /* waiters sleep here with the stack lock */
	struct sk_waitent *sk_waiters; /* tokens woken on every event (nstack_wait_ops) */
	unsigned int sk_refcnt;
	/* void (*)(struct sock *): called through SK_CB(sk, name)(sk) */
	nsref_t sk_state_change;
	nsref_t sk_data_ready;
	nsref_t sk_write_space;
	nsref_t sk_error_report;
	/* Lookup-table linkage, owned by the protocol (UDP port hash, TCP tables). */
	LIST_ENTRY(sock) sk_node;
	LIST_ENTRY(sock) sk_bind_node;
	void *sk_user_data;
};

/*
 * A sleeper's registration on a sock: a thread of process `slot` waits with
 * `token` (a value meaningful only in that process). Lives in the arena, so
 * a wake-up from any process finds it; tokens of other processes go through
 * their mailbox (shared.c).
 */
struct sk_waitent {
	struct sk_waitent *next, **pprev; /* [S] */
	struct sock *sk;		  /* [S] */
	uintptr_t token;		  /* [I] */
	int slot;			  /* [I] */
};

struct socket {
	enum socket_state state;
	short type;
	int f_flags;	 /* the file's flags: O_NONBLOCK */
	nsref_t ops_ref; /* [I] const struct proto_ops *: sock_ops(sock) */
	struct sock *sk;
	struct nstack *ns;
	/*
	 * Calls in progress (a thread may sleep in one); close() while some
	 * are only marks the socket, and the last call out releases it, as a
	 * file reference keeps a Linux socket alive.
	 */
	unsigned int users;
	bool release_pending;
	/*
	 * Sharing (shared.c): a socket is held, like an open file description,
	 * by every process that has a descriptor for it; it is released when
	 * the last one lets go (nstack_close) or dies.
	 */
	uint64_t holders; /* [S] bit per process slot */
	/*
	 * Holders that watch it with epoll (nstack_sock_watch): only they act
	 * on a readiness change, so only they get mail for one (an nginx
	 * master holds the listener but never waits on it, and its stack
	 * thread woke 2 500 times a second for nothing). Set with an atomic
	 * OR by its own process without the lock; cleared with the holder bit.
	 */
	uint64_t watchers;		      /* [S] */
	uint16_t users_by_slot[NS_MAX_PROCS]; /* [S] the calls in `users` per process */
	LIST_ENTRY(socket) all;		      /* [S] ns->sockets */
};

static inline const struct proto *sk_prot(const struct sock *sk)
{
	return ns_unref(sk->sk_prot_ref);
}

static inline const struct proto_ops *sock_ops(const struct socket *sock)
{
	return ns_unref(sock->ops_ref);
}

static inline void sock_set_ops(struct socket *sock, const struct proto_ops *ops)
{
	sock->ops_ref = ns_ref(ops);
}

/* A socket callback (sk_data_ready, ...) as a callable pointer. */
#define SK_CB(sk, name) NS_FN(void (*)(struct sock *), (sk)->name)

static inline bool sock_flag(const struct sock *sk, enum sock_flags f)
{
	return (sk->sk_flags >> f) & 1u;
}

static inline void sock_set_flag(struct sock *sk, enum sock_flags f)
{
	sk->sk_flags |= 1ul << f;
}

static inline void sock_reset_flag(struct sock *sk, enum sock_flags f)
{
	sk->sk_flags &= ~(1ul << f);
}

static inline void sock_valbool_flag(struct sock *sk, enum sock_flags f, bool v)
{
	if (v)
		sock_set_flag(sk, f);
	else
		sock_reset_flag(sk, f);
}

/* Allocation and references (sock.c). */
struct sock *sk_alloc(struct nstack *ns, int family, const struct proto *prot);
/* Initialises the generic fields and links sk to sock (may be NULL). */
void sock_init_data(struct socket *sock, struct sock *sk);
void sock_hold(struct sock *sk);
/* Drops a reference; the last one calls prot->destroy and frees. */
void sock_put(struct sock *sk);
/* Detaches sk from its struct socket and marks it dead. */
void sock_orphan(struct sock *sk);
void sock_graft(struct sock *sk, struct socket *parent);

/* Default wake-ups: broadcast the condvar and tell the embedder. */
void sock_def_wakeup(struct sock *sk);
void sock_def_readable(struct sock *sk);
void sock_def_write_space(struct sock *sk);
void sock_def_error_report(struct sock *sk);

/*
 * Sleep once on sk until woken or *timeo runs out (stack lock held and
 * released while asleep). Returns 0 when woken, -EAGAIN when *timeo is 0 or
 * ran out, -EINTR when interrupted. *timeo is decreased by the time slept.
 */
int sk_wait(struct sock *sk, int64_t *timeo);
/* Drops the sleepers' registrations of process slot (it died) from sk. */
void sk_waiters_drop_slot(struct sock *sk, int slot);

/* Waits until cond holds; evaluates to 0 or the -errno from sk_wait(). */
#define sk_wait_event(sk, timeo, cond)                                                             \
	({                                                                                         \
		int __rc = 0;                                                                      \
		while (!(cond)) {                                                                  \
			__rc = sk_wait((sk), (timeo));                                             \
			if (__rc)                                                                  \
				break;                                                             \
		}                                                                                  \
		__rc;                                                                              \
	})

static inline int64_t sock_rcvtimeo(const struct sock *sk, bool noblock)
{
	return noblock ? 0 : sk->sk_rcvtimeo;
}

static inline int64_t sock_sndtimeo(const struct sock *sk, bool noblock)
{
	return noblock ? 0 : sk->sk_sndtimeo;
}

/* Returns -sk_err and clears it, or 0. */
int sock_error(struct sock *sk);

/* Receive-side accounting and queueing (datagram protocols). */
void skb_set_owner_r(struct sk_buff *skb, struct sock *sk);
/* Linux's page: the unit of tcp_mem and udp_mem. */
#define SK_MEM_PAGE 4096u
/* May sk take size more bytes of receive memory under tcp_mem/udp_mem? */
bool sk_rmem_schedule(struct sock *sk, unsigned int size);
/* True while sk's protocol (TCP) is under memory pressure. */
bool sk_under_memory_pressure(const struct sock *sk);
/* True while sk's protocol holds less than its min mark (tcp_mem[0]). */
bool sk_mem_under_min(const struct sock *sk);
/* True while sk's protocol holds more than its max mark (tcp_mem[2]). */
bool sk_mem_over_max(const struct sock *sk);
void skb_set_owner_w(struct sk_buff *skb, struct sock *sk);
/* Queues to sk_receive_queue if sk_rcvbuf allows (-ENOMEM otherwise), wakes readers. */
int sock_queue_rcv_skb(struct sock *sk, struct sk_buff *skb);
int sock_queue_err_skb(struct sock *sk, struct sk_buff *skb);
bool sock_writeable(const struct sock *sk);
/* Waits for a datagram per flags/timeouts; NULL with *err set otherwise. */
struct sk_buff *skb_recv_datagram(struct sock *sk, int flags, int *err);
/* The datagram_poll() of Linux: readiness of a datagram socket. */
unsigned int datagram_poll(struct socket *sock);

/* Copy helpers between skb data and user iovecs. */
int skb_copy_datagram_msg(const struct sk_buff *skb, unsigned int offset, struct msghdr *msg,
			  size_t len);
int memcpy_from_msg(void *to, const struct msghdr *msg, size_t offset, size_t len);
/* Copies len bytes to the iovecs of msg starting offset bytes into them. */
int memcpy_to_msg(struct msghdr *msg, size_t offset, const void *from, size_t len);
/* Adds SO_TIMESTAMP/SO_TIMESTAMPNS control messages for skb when asked for. */
void sock_recv_timestamp(struct msghdr *msg, const struct sock *sk, const struct sk_buff *skb);
/*
 * Allocates an skb of size bytes (plus MAX_HEADER headroom) charged to sk's
 * send buffer, waiting for room as the send timeout allows. Reports a
 * pending socket error (once) and -EPIPE after shutdown(SHUT_WR).
 */
struct sk_buff *sock_alloc_send_skb(struct sock *sk, unsigned int size, bool noblock, int *err);
size_t msg_data_len(const struct msghdr *msg);
/* Appends a control message if it fits; sets MSG_CTRUNC otherwise. */
int put_cmsg(struct msghdr *msg, int level, int type, size_t len, const void *data);
/*
 * MSG_ZEROCOPY sends lo..lo+len-1 are done with the caller's buffer: queue
 * the completion on the error queue, merged into the last one when the
 * ranges meet (Linux's __msg_zerocopy_callback). nstack always copies, so
 * the code is SO_EE_CODE_ZEROCOPY_COPIED, as Linux's when it had to copy.
 */
void sock_zerocopy_notify(struct sock *sk, uint32_t lo, uint32_t len);
/*
 * SO_TIMESTAMPING, transmit side (Linux's __skb_tstamp_tx, software
 * stamps): queues a SCM_TSTAMP_* report on the error queue, stamped now,
 * with key (already relative to sk_tskey) when OPT_ID is on, carrying
 * data's bytes unless OPT_TSONLY.
 */
void sock_tx_timestamp(struct sock *sk, const struct sk_buff *data, int tstype, uint32_t key);
/* The SCM_TIMESTAMPING control message of an error-queue timestamp report. */
void sock_put_tx_timestamp(struct msghdr *msg, const struct sock *sk, const struct sk_buff *skb);

/* SOL_SOCKET options shared by every protocol. */
int sock_setsockopt(struct socket *sock, int level, int optname, const void *optval,
		    socklen_t optlen);
int sock_getsockopt(struct socket *sock, int level, int optname, void *optval, socklen_t *optlen);
/* Copies lv bytes of an option value out, cut to *optlen, which is set to what was copied. */
int sock_put_opt(void *optval, socklen_t *optlen, const void *v, size_t lv);

/* proto_ops slots a family does not support. */
int sock_no_bind(struct socket *sock, const struct sockaddr *addr, socklen_t len);
int sock_no_connect(struct socket *sock, const struct sockaddr *addr, socklen_t len, int flags);
int sock_no_accept(struct socket *sock, struct socket *newsock, int flags);
int sock_no_listen(struct socket *sock, int backlog);
int sock_no_shutdown(struct socket *sock, int how);
int sock_no_ioctl(struct socket *sock, unsigned long cmd, void *arg);

/* Socket-level registry (socket.c). */
int sock_register(struct nstack *ns, const struct net_proto_family *ops);
void sock_unregister(struct nstack *ns, int family);
/* -EAFNOSUPPORT for an unregistered family (the embedder passes it to the kernel). */
int sock_create(struct nstack *ns, int family, int type, int protocol, struct socket **res);
struct socket *sock_alloc(struct nstack *ns);
void sock_release(struct socket *sock);
void sock_release_unheld(struct socket *sock);

#endif
