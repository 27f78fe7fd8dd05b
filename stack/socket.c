/*
 * The BSD socket layer (Linux's net/socket.c): the family registry,
 * sock_create(), struct socket lifetime, and the nstack_* socket entry
 * points of nstack.h. Each entry point takes the stack lock, calls the
 * socket's proto_ops and returns 0/count or -errno.
 */
#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>

#include "sock.h"
#include "stack.h"

/* Registers a protocol family; -EEXIST when one is there already. */
int sock_register(struct nstack *ns, const struct net_proto_family *ops)
{
	if (ops->family < 0 || ops->family >= AF_MAX)
		return -ENOBUFS;
	if (ns->families[ops->family])
		return -EEXIST;
	ns->families[ops->family] = ns_ref(ops);
	return 0;
}

/* Removes a protocol family; existing sockets keep their ops. */
void sock_unregister(struct nstack *ns, int family)
{
	if (family >= 0 && family < AF_MAX)
		ns->families[family] = 0;
}

/* A new, unconnected struct socket with no ops yet. */
struct socket *sock_alloc(struct nstack *ns)
{
	struct socket *sock = ns_zalloc(ns, sizeof(*sock));

	if (!sock)
		return NULL;
	sock->ns = ns;
	sock->state = SS_UNCONNECTED;
	sock->holders = 1ull << ns_local(ns)->slot;
	LIST_INSERT_HEAD(&ns->sockets, sock, all);
	ns->socket_live++;
	return sock;
}

/* Releases the protocol side (ops->release) and frees sock. */
void sock_release(struct socket *sock)
{
	struct nstack *ns = sock->ns;

	if (sock->ops_ref)
		sock_ops(sock)->release(sock);
	assert(!sock->sk);
	LIST_REMOVE(sock, all);
	ns_free(ns, sock);
	ns->socket_live--;
}

/*
 * No process holds sock any more (its last close, or the death of its last
 * holder): released now, or by the last call still inside it.
 */
void sock_release_unheld(struct socket *sock)
{
	if (sock->holders)
		return;
	if (sock->users)
		sock->release_pending = true;
	else
		sock_release(sock);
}

/* A call that may sleep starts on sock: it must outlive a close() meanwhile. */
static void sock_enter(struct socket *sock)
{
	sock->users++;
	sock->users_by_slot[ns_local(sock->ns)->slot]++;
}

/* The call is over; the last one out of a closed socket releases it. */
static void sock_leave(struct socket *sock)
{
	if (sock->users == 0) {
		NS_REPAIRING(sock->ns);
		return;
	}
	sock->users_by_slot[ns_local(sock->ns)->slot]--;
	if (--sock->users == 0 && sock->release_pending)
		sock_release(sock);
}

/*
 * Creates a socket as Linux's __sock_create(): -EAFNOSUPPORT for a family
 * nobody registered (the embedder then hands the call to the kernel),
 * -EINVAL for an impossible type; the family's create() decides the rest.
 */
int sock_create(struct nstack *ns, int family, int type, int protocol, struct socket **res)
{
	const struct net_proto_family *pf;
	struct socket *sock;
	int err;

	*res = NULL;
	if (family < 0 || family >= AF_MAX)
		return -EAFNOSUPPORT;
	if (type < 0 || type >= NSTACK_SOCK_MAX)
		return -EINVAL;
	/* Linux turns the obsolete SOCK_PACKET on AF_INET into AF_PACKET. */
	if (family == AF_INET && type == SOCK_PACKET)
		family = AF_PACKET;
	pf = ns_unref(ns->families[family]);
	if (!pf)
		return -EAFNOSUPPORT;
	sock = sock_alloc(ns);
	if (!sock)
		return -ENFILE;
	sock->type = (short)type;
	err = pf->create(ns, sock, protocol);
	if (err) {
		/* create() failed: whatever it attached is released by its own error path. */
		sock->ops_ref = 0;
		sock->sk = NULL;
		sock_release(sock);
		return err;
	}
	*res = sock;
	return 0;
}

/*
 * socket(2): type may carry SOCK_NONBLOCK and SOCK_CLOEXEC (the latter is
 * the embedder's business); any other flag is -EINVAL as in __sys_socket().
 */
int nstack_socket(struct nstack *ns, int family, int type, int protocol, struct socket **res)
{
	int flags = type & ~0xf;
	int err;

	*res = NULL;
	if (flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK))
		return -EINVAL;
	nstack_lock(ns);
	err = sock_create(ns, family, type & 0xf, protocol, res);
	if (!err && (flags & SOCK_NONBLOCK))
		(*res)->f_flags |= O_NONBLOCK;
	nstack_unlock(ns);
	return err;
}

/*
 * The embedder's per-process handle of each socket (the preload's file):
 * a socket is shared by every process that has it, and each of them has
 * its own handle at its own address, so the map lives in the process's
 * private state, not in the socket. Open addressing on the socket's
 * address, under the stack lock; a fork child inherits a copy, which is
 * right: it inherits the handles too.
 */
struct nstack_filemap {
	size_t cap, n, tomb;
	struct filemap_ent {
		const struct socket *sock; /* NULL: free, FILEMAP_TOMB: deleted */
		void *file;
	} * e;
};

#define FILEMAP_TOMB ((const struct socket *)1)

static size_t filemap_hash(const struct socket *sock, size_t cap)
{
	uint64_t h = (uint64_t)(uintptr_t)sock * 0x9e3779b97f4a7c15ull;

	return (size_t)(h >> 20) & (cap - 1);
}

static struct filemap_ent *filemap_slot(struct nstack_filemap *m, const struct socket *sock,
					bool insert)
{
	struct filemap_ent *tomb = NULL;

	if (!m || !m->cap)
		return NULL;
	for (size_t i = filemap_hash(sock, m->cap), k = 0; k < m->cap;
	     k++, i = (i + 1) & (m->cap - 1)) {
		struct filemap_ent *e = &m->e[i];

		if (e->sock == sock)
			return e;
		if (e->sock == FILEMAP_TOMB && !tomb)
			tomb = e;
		if (!e->sock)
			return insert ? (tomb ? tomb : e) : NULL;
	}
	return insert ? tomb : NULL;
}

static void filemap_del(struct nstack_filemap *m, const struct socket *sock)
{
	struct filemap_ent *e = filemap_slot(m, sock, false);

	if (e) {
		e->sock = FILEMAP_TOMB;
		e->file = NULL;
		m->n--;
		m->tomb++;
	}
}

static int filemap_grow(struct nstack_filemap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	struct filemap_ent *old = m->e;
	size_t oldcap = m->cap;

	if ((m->n + 1) * 2 < m->cap && (m->n + m->tomb + 1) * 4 < m->cap * 3)
		return 0;
	if ((m->n + 1) * 2 < m->cap)
		cap = m->cap; /* only tombstones to sweep */
	m->e = calloc(cap, sizeof(*m->e));
	if (!m->e) {
		m->e = old;
		return -ENOMEM;
	}
	m->cap = cap;
	m->n = 0;
	m->tomb = 0;
	for (size_t i = 0; i < oldcap; i++) {
		if (old[i].sock && old[i].sock != FILEMAP_TOMB) {
			struct filemap_ent *e = filemap_slot(m, old[i].sock, true);

			*e = old[i];
			m->n++;
		}
	}
	free(old);
	return 0;
}

void nstack_sock_watch(struct socket *sock)
{
	int slot = ns_local(sock->ns)->slot;
	uint64_t bit = slot >= 0 ? 1ull << slot : 0;

	/* Seq-cst: ordered before the readiness check that follows, as the lock would. */
	if (bit && !(__atomic_load_n(&sock->watchers, __ATOMIC_RELAXED) & bit))
		__atomic_fetch_or(&sock->watchers, bit, __ATOMIC_SEQ_CST);
}

/* Remembers this process's handle for sock (NULL forgets it). */
void nstack_sock_set_file(struct socket *sock, void *file)
{
	struct nstack *ns = sock->ns;
	struct nstack_local *l = ns_local(ns);
	struct filemap_ent *e;

	ns_lock(ns);
	if (!l->files)
		l->files = calloc(1, sizeof(*l->files));
	if (!file) {
		filemap_del(l->files, sock);
	} else if (l->files && filemap_grow(l->files) == 0) {
		e = filemap_slot(l->files, sock, true);
		if (e->sock != sock) {
			if (e->sock == FILEMAP_TOMB)
				l->files->tomb--;
			l->files->n++;
			e->sock = sock;
		}
		e->file = file;
	}
	pthread_mutex_unlock(&ns->lock);
}

/* This process's handle set by nstack_sock_set_file() (stack lock held). */
void *nstack_sock_file(const struct socket *sock)
{
	return ns_sock_file(sock->ns, sock);
}

/*
 * The same for a socket that may be gone (a pointer another process
 * posted): looked up by its address only, never dereferenced, so a freed
 * or reused socket is simply not found. See shared.h.
 */
void *ns_sock_file(struct nstack *ns, const struct socket *sock)
{
	struct filemap_ent *e = filemap_slot(ns_local(ns)->files, sock, false);

	return e ? e->file : NULL;
}

/* Frees this process's handle map (stack teardown). */
void nstack_filemap_free(struct nstack *ns)
{
	struct nstack_local *l = ns_local(ns);

	if (l->files) {
		free(l->files->e);
		free(l->files);
		l->files = NULL;
	}
}

/*
 * close(2): releases the socket (a lingering TCP close may block here). If
 * another thread is inside a call on it, the release waits for that call
 * to return, as Linux's file reference makes it; a blocked recv() is not
 * woken (shutdown() does that).
 */
void nstack_close_locked(struct socket *sock)
{
	struct nstack *ns = sock->ns;

	/* This process's handle goes now; the socket may outlive it elsewhere. */
	filemap_del(ns_local(ns)->files, sock);
	/* Other processes may still hold it (fork): only the last one closes. */
	sock->holders &= ~(1ull << ns_local(ns)->slot);
	__atomic_fetch_and(&sock->watchers, sock->holders, __ATOMIC_RELAXED);
	sock_release_unheld(sock);
}

int nstack_close(struct socket *sock)
{
	struct nstack *ns = sock->ns;

	nstack_lock(ns);
	nstack_close_locked(sock);
	nstack_unlock(ns);
	return 0;
}

/* bind(2). */
int nstack_bind(struct socket *sock, const struct sockaddr *addr, socklen_t len)
{
	int err;

	if (!addr || (int)len < 0)
		return addr ? -EINVAL : -EFAULT;
	if (len > sizeof(struct sockaddr_storage))
		return -EINVAL;
	nstack_lock(sock->ns);
	err = sock_ops(sock)->bind(sock, addr, len);
	nstack_unlock(sock->ns);
	return err;
}

/* connect(2); O_NONBLOCK of the socket decides whether it waits. */
int nstack_connect(struct socket *sock, const struct sockaddr *addr, socklen_t len)
{
	struct nstack *ns;
	int err;

	if (!addr || (int)len < 0)
		return addr ? -EINVAL : -EFAULT;
	if (len > sizeof(struct sockaddr_storage))
		return -EINVAL;
	ns = sock->ns;
	nstack_lock(ns);
	sock_enter(sock);
	err = sock_ops(sock)->connect(sock, addr, len, sock->f_flags);
	sock_leave(sock);
	nstack_unlock(ns);
	return err;
}

/* listen(2): the backlog is capped at somaxconn, as __sys_listen() does. */
int nstack_listen(struct socket *sock, int backlog)
{
	struct nstack *ns = sock->ns;
	int err;

	nstack_lock(ns);
	if ((unsigned int)backlog > (unsigned int)ns->cfg.tcp.somaxconn &&
	    ns->cfg.tcp.somaxconn > 0)
		backlog = ns->cfg.tcp.somaxconn;
	err = sock_ops(sock)->listen(sock, backlog);
	nstack_unlock(ns);
	return err;
}

/* Copies a kernel-side address out as Linux's move_addr_to_user(): truncated, full length reported.
 */
static void move_addr_out(const struct sockaddr_storage *ss, socklen_t klen, struct sockaddr *addr,
			  socklen_t *len)
{
	socklen_t n = klen < *len ? klen : *len;

	if (addr && n)
		memcpy(addr, ss, n);
	*len = klen;
}

/* accept4(2): flags may hold SOCK_NONBLOCK (SOCK_CLOEXEC is the embedder's). */
int nstack_accept(struct socket *sock, struct socket **newsock, struct sockaddr *addr,
		  socklen_t *len, int flags)
{
	struct nstack *ns = sock->ns;
	struct socket *nsock;
	int err;

	*newsock = NULL;
	if (flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK))
		return -EINVAL;
	if (addr && (!len || (int)*len < 0))
		return -EINVAL;
	nstack_lock(ns);
	nsock = sock_alloc(ns);
	if (!nsock) {
		err = -ENFILE;
		goto out;
	}
	nsock->type = sock->type;
	nsock->ops_ref = sock->ops_ref;
	sock_enter(sock);
	err = sock_ops(sock)->accept(sock, nsock, sock->f_flags);
	if (err == -EAGAIN && ns_rx_lease_catch_up(ns))
		err = sock_ops(sock)->accept(sock, nsock, sock->f_flags);
	sock_leave(sock);
	if (err)
		goto out_release;
	if (addr) {
		struct sockaddr_storage ss;
		socklen_t klen = sizeof(ss);

		memset(&ss, 0, sizeof(ss));
		/* As Linux (peer 2): a connection reset before accept() still names its peer. */
		err = sock_ops(nsock)->getname(nsock, (struct sockaddr *)&ss, &klen, 2);
		if (err) {
			err = -ECONNABORTED;
			goto out_release;
		}
		move_addr_out(&ss, klen, addr, len);
	}
	if (flags & SOCK_NONBLOCK)
		nsock->f_flags |= O_NONBLOCK;
	*newsock = nsock;
	goto out;
out_release:
	if (!nsock->sk)
		nsock->ops_ref = 0;
	sock_release(nsock);
out:
	nstack_unlock(ns);
	return err;
}

/*
 * sendmsg(2): msg_name is checked as ___sys_sendmsg() does, and a
 * non-blocking socket sends with MSG_DONTWAIT.
 */
ssize_t nstack_sendmsg(struct socket *sock, const struct msghdr *msg, int flags)
{
	struct nstack *ns;
	struct msghdr kmsg;
	ssize_t ret;

	if (!msg)
		return -EFAULT;
	if (msg->msg_namelen > sizeof(struct sockaddr_storage))
		return -EINVAL;
	if (msg->msg_iovlen > 1024)
		return -EMSGSIZE;
	if (msg->msg_iovlen && !msg->msg_iov)
		return -EFAULT;
	kmsg = *msg;
	if (!kmsg.msg_name)
		kmsg.msg_namelen = 0;
	if (!kmsg.msg_control)
		kmsg.msg_controllen = 0;
	if (sock->f_flags & O_NONBLOCK)
		flags |= MSG_DONTWAIT;
	kmsg.msg_flags = flags;
	ns = sock->ns;
	nstack_lock(ns);
	sock_enter(sock);
	ret = sock_ops(sock)->sendmsg(sock, &kmsg, flags);
	if (ret == -EAGAIN && ns_rx_lease_catch_up(ns))
		ret = sock_ops(sock)->sendmsg(sock, &kmsg, flags);
	sock_leave(sock);
	nstack_unlock(ns);
	return ret;
}

/*
 * recvmsg(2): the protocol fills a private address buffer and appends
 * control messages; the address is then copied out truncated with its full
 * length, and msg_controllen becomes the length used, as ___sys_recvmsg().
 */
ssize_t nstack_recvmsg(struct socket *sock, struct msghdr *msg, int flags)
{
	struct nstack *ns;
	struct sockaddr_storage ss;
	struct msghdr kmsg;
	ssize_t ret;

	if (!msg)
		return -EFAULT;
	if (msg->msg_iovlen > 1024)
		return -EMSGSIZE;
	if (msg->msg_iovlen && !msg->msg_iov)
		return -EFAULT;
	if (msg->msg_name && (int)msg->msg_namelen < 0)
		return -EINVAL;
	memset(&ss, 0, sizeof(ss));
	kmsg = *msg;
	kmsg.msg_name = &ss;
	kmsg.msg_namelen = 0;
	if (!kmsg.msg_control)
		kmsg.msg_controllen = 0;
	kmsg.msg_flags = flags & MSG_CMSG_CLOEXEC;
	if (sock->f_flags & O_NONBLOCK)
		flags |= MSG_DONTWAIT;
	ns = sock->ns;
	nstack_lock(ns);
	sock_enter(sock);
	ret = sock_ops(sock)->recvmsg(sock, &kmsg, flags);
	if (ret == -EAGAIN && ns_rx_lease_catch_up(ns))
		ret = sock_ops(sock)->recvmsg(sock, &kmsg, flags);
	sock_leave(sock);
	nstack_unlock(ns);
	if (ret < 0)
		return ret;
	if (msg->msg_name)
		move_addr_out(&ss, kmsg.msg_namelen, msg->msg_name, &msg->msg_namelen);
	else
		msg->msg_namelen = 0;
	if (msg->msg_control)
		msg->msg_controllen = (size_t)((char *)kmsg.msg_control - (char *)msg->msg_control);
	else
		msg->msg_controllen = 0;
	msg->msg_flags = kmsg.msg_flags;
	return ret;
}

/* shutdown(2). */
int nstack_shutdown(struct socket *sock, int how)
{
	int err;

	nstack_lock(sock->ns);
	err = sock_ops(sock)->shutdown(sock, how);
	nstack_unlock(sock->ns);
	return err;
}

static int getname(struct socket *sock, struct sockaddr *addr, socklen_t *len, int peer)
{
	struct sockaddr_storage ss;
	socklen_t klen = sizeof(ss);
	int err;

	if (!len)
		return -EFAULT;
	if ((int)*len < 0)
		return -EINVAL;
	memset(&ss, 0, sizeof(ss));
	nstack_lock(sock->ns);
	err = sock_ops(sock)->getname(sock, (struct sockaddr *)&ss, &klen, peer);
	nstack_unlock(sock->ns);
	if (err)
		return err;
	move_addr_out(&ss, klen, addr, len);
	return 0;
}

/* getsockname(2): the address is truncated to *len, the full length reported. */
int nstack_getsockname(struct socket *sock, struct sockaddr *addr, socklen_t *len)
{
	return getname(sock, addr, len, 0);
}

/* getpeername(2); -ENOTCONN without a peer. */
int nstack_getpeername(struct socket *sock, struct sockaddr *addr, socklen_t *len)
{
	return getname(sock, addr, len, 1);
}

/* setsockopt(2): SOL_SOCKET goes to the generic code, other levels to the protocol. */
int nstack_setsockopt(struct socket *sock, int level, int name, const void *val, socklen_t len)
{
	int err;

	if ((int)len < 0)
		return -EINVAL;
	nstack_lock(sock->ns);
	if (level == SOL_SOCKET)
		err = sock_setsockopt(sock, level, name, val, len);
	else
		err = sock_ops(sock)->setsockopt(sock, level, name, val, len);
	nstack_unlock(sock->ns);
	return err;
}

/* getsockopt(2); *len is updated to the length written. */
int nstack_getsockopt(struct socket *sock, int level, int name, void *val, socklen_t *len)
{
	int err;

	if (!len)
		return -EFAULT;
	nstack_lock(sock->ns);
	if (level == SOL_SOCKET)
		err = sock_getsockopt(sock, level, name, val, len);
	else
		err = sock_ops(sock)->getsockopt(sock, level, name, val, len);
	nstack_unlock(sock->ns);
	return err;
}

/* ioctl(2): FIONBIO here (it is a file flag), the rest to the protocol. */
int nstack_ioctl(struct socket *sock, unsigned long cmd, void *arg)
{
	int err;

	nstack_lock(sock->ns);
	if (cmd == FIONBIO) {
		if (!arg) {
			err = -EFAULT;
		} else {
			int on;

			memcpy(&on, arg, sizeof(on));
			if (on)
				sock->f_flags |= O_NONBLOCK;
			else
				sock->f_flags &= ~O_NONBLOCK;
			err = 0;
		}
	} else {
		err = sock_ops(sock)->ioctl(sock, cmd, arg);
	}
	nstack_unlock(sock->ns);
	return err;
}

/* Current readiness mask. */
unsigned int nstack_poll_locked(struct socket *sock)
{
	return sock_ops(sock)->poll(sock);
}

unsigned int nstack_poll(struct socket *sock)
{
	unsigned int mask;

	nstack_lock(sock->ns);
	mask = nstack_poll_locked(sock);
	nstack_unlock(sock->ns);
	return mask;
}

/* O_NONBLOCK from fcntl(F_SETFL) or FIONBIO. */
void nstack_set_nonblock(struct socket *sock, bool on)
{
	nstack_lock(sock->ns);
	if (on)
		sock->f_flags |= O_NONBLOCK;
	else
		sock->f_flags &= ~O_NONBLOCK;
	nstack_unlock(sock->ns);
}

/* Whether the socket is non-blocking. */
bool nstack_get_nonblock(const struct socket *sock)
{
	return sock->f_flags & O_NONBLOCK;
}

/* SOCK_STREAM, SOCK_DGRAM or SOCK_RAW. */
int nstack_sock_type(const struct socket *sock)
{
	return sock->type;
}

int nstack_sock_family(const struct socket *sock)
{
	return sock_ops(sock)->family;
}
