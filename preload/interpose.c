/*
 * The interposed socket calls. Each one asks the fd table whether the fd is
 * a private socket; if not (or while nstack itself is running on this
 * thread), the call goes to libc untouched. Private sockets go to the
 * nstack_* API, whose -errno results become -1/errno here, once.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <linux/close_range.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/sockios.h>

#include "config.h"
#include "pcap_live.h"
#include "preload.h"

extern void __chk_fail(void) __attribute__((noreturn));

/* Private sockets of the parent are unusable in a fork child (for now). */
int nsp_forked_ebadf(struct nsp_file *f)
{
	static bool told;

	fdt_put(f);
	if (!told) {
		told = true;
		nsp_log("a private socket inherited through fork() cannot be used in the child");
	}
	errno = EBADF;
	return -1;
}

/* Linux raises SIGPIPE on a write to a shut-down stream unless MSG_NOSIGNAL. */
static ssize_t send_result(struct nsp_file *f, ssize_t rc, int flags)
{
	if (rc == -EPIPE && !(flags & MSG_NOSIGNAL) && nstack_sock_type(f->sock) == SOCK_STREAM)
		raise(SIGPIPE);
	fdt_put(f);
	return nsp_ret(rc);
}

static ssize_t put_ret(struct nsp_file *f, long rc)
{
	fdt_put(f);
	return nsp_ret(rc);
}

static const char *family_name(int family)
{
	switch (family) {
	case AF_UNIX:
		return "AF_UNIX";
	case AF_INET6:
		return "AF_INET6";
	case AF_NETLINK:
		return "AF_NETLINK";
	case AF_PACKET:
		return "AF_PACKET";
	default:
		return "family";
	}
}

/* Counts, and logs once per family (or AF_INET/AF_INET6 type), a socket left to the kernel. */
static void note_kernel_socket(int domain, int type, int protocol)
{
	static atomic_ulong seen_family[64], seen_inet_type[2][16];
	int t = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
	atomic_ulong *slot;

	if (domain == AF_INET || domain == AF_INET6)
		slot = &seen_inet_type[domain == AF_INET6][t & 15];
	else
		slot = &seen_family[domain & 63];
	if (atomic_fetch_add(slot, 1) != 0 || !nsp_explain())
		return;
	if (domain == AF_INET6 && atomic_load(&nsp_bindv6only))
		nsp_log("AF_INET6 sockets are IPv6-only (net.ipv6.bindv6only=1), which nstack "
			"does not carry: the kernel serves them");
	else if (domain == AF_INET || domain == AF_INET6)
		nsp_log("%s socket type %d protocol %d is not implemented by nstack: the "
			"kernel serves it",
			family_name(domain), t, protocol);
	else
		nsp_log("%s (%d) sockets are not nstack's: the kernel serves them",
			family_name(domain), domain);
}

NSP_EXPORT int socket(int domain, int type, int protocol)
{
	int flags = type & (SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct socket *sock;
	struct nstack *ns;
	int rc, fd;

	if (domain == AF_PACKET) {
		fd = pcap_live_socket_handed(type);
		if (fd < 0)
			fd = REAL(socket)(domain, type, protocol);
		if (fd >= 0)
			pcap_live_socket_created(fd);
		if (!nsp_inside)
			note_kernel_socket(domain, type, protocol);
		return fd;
	}
	if (nsp_inside)
		return REAL(socket)(domain, type, protocol);
	if (domain != AF_INET && domain != AF_INET6) {
		note_kernel_socket(domain, type, protocol);
		return REAL(socket)(domain, type, protocol);
	}
	rc = nsp_stack(&ns);
	if (rc)
		return (int)nsp_ret(rc);
	if ((type & 0xf) == SOCK_STREAM || domain == AF_INET6)
		nsp_sysctl_refresh(ns);
	if (domain == AF_INET6 && (atomic_load(&nsp_bindv6only) || (type & 0xf) == SOCK_RAW) &&
	    !nsp_ipv6_served(type, protocol)) {
		/*
		 * Born IPv6-only (net.ipv6.bindv6only=1, or a raw IPv6 socket, which
		 * never carries IPv4), which only the kernel carries here.
		 */
		note_kernel_socket(domain, type, protocol);
		return REAL(socket)(domain, type, protocol);
	}
	rc = nstack_socket(ns, domain, type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC), protocol, &sock);
	if (rc == -EAFNOSUPPORT || rc == -EPROTONOSUPPORT || rc == -ESOCKTNOSUPPORT) {
		note_kernel_socket(domain, type, protocol);
		return REAL(socket)(domain, type, protocol);
	}
	if (rc)
		return (int)nsp_ret(rc);
	if (domain == AF_INET6 && atomic_load(&nsp_bindv6only)) {
		int one = 1; /* net.ipv6.bindv6only=1: born IPv6-only, as Linux's inet6_create */

		(void)nstack_setsockopt(sock, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	}
	if (flags & SOCK_NONBLOCK)
		nstack_set_nonblock(sock, true);
	fd = nsp_file_create(ns, sock, flags & SOCK_CLOEXEC, type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC),
			     protocol);
	if (fd < 0) {
		nstack_close(sock);
		return (int)nsp_ret(fd);
	}
	return fd;
}

/*
 * When the kernel must serve addr, turns fd into a kernel socket; returns 1
 * when it did (the caller then makes the libc call), 0 when fd stays ours,
 * or -errno.
 */
static int maybe_handover(int fd, struct nsp_file *f, const struct sockaddr *addr, socklen_t len,
			  bool to_bind)
{
	int rc;

	if (!nsp_wants_kernel(addr, len, to_bind, f->type, f->protocol))
		return 0;
	rc = nsp_handover(fd, f, addr);
	return rc ? rc : 1;
}

NSP_EXPORT int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	int rc;

	LOOKUP_OR(fd, REAL(bind)(fd, addr, len));
	rc = maybe_handover(fd, f, addr, len, true);
	if (rc) {
		fdt_put(f);
		return rc > 0 ? REAL(bind)(fd, addr, len) : (int)nsp_ret(rc);
	}
	rc = nstack_bind(f->sock, addr, len);
	if (rc == 0 && len >= sizeof(struct sockaddr_in)) {
		f->bound_len = len < sizeof(f->bound_addr) ? len : sizeof(f->bound_addr);
		memcpy(&f->bound_addr, addr, f->bound_len);
		f->bound = true;
	}
	return (int)put_ret(f, rc);
}

NSP_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	int rc;

	LOOKUP_OR(fd, REAL(connect)(fd, addr, len));
	rc = maybe_handover(fd, f, addr, len, false);
	if (rc) {
		fdt_put(f);
		return rc > 0 ? REAL(connect)(fd, addr, len) : (int)nsp_ret(rc);
	}
	return (int)put_ret(f, NSP_RESTARTING(f->ns, nstack_connect(f->sock, addr, len)));
}

/*
 * A kernel socket listening on every address (0.0.0.0, or "::" IPv6-only)
 * while the program runs under nstack: on nstack's interface the kernel
 * has no address, so nobody reaching nstack's address gets to it. The user
 * almost certainly expected nstack to serve it; say so once.
 */
static void warn_kernel_listener(int fd)
{
	static atomic_bool told;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char a[INET6_ADDRSTRLEN] = "";
	const char *why;
	unsigned int port;

	if (nsp_inside || atomic_load(&told) || REAL(getsockname)(fd, (struct sockaddr *)&ss, &len))
		return;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)&ss;

		if (s->sin_addr.s_addr != htonl(INADDR_ANY))
			return;
		strcpy(a, "0.0.0.0");
		port = ntohs(s->sin_port);
		why = "a socket type nstack does not implement";
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)&ss;

		if (!IN6_IS_ADDR_UNSPECIFIED(&s->sin6_addr))
			return;
		strcpy(a, "[::]");
		port = ntohs(s->sin6_port);
		why = nsp_policy.ipv6 ? "IPv6-only (IPV6_V6ONLY), a socket type nstack carries "
					"over IPv4 only"
				      : "IPv6-only (IPV6_V6ONLY), and nstack runs no IPv6: "
					"see NSTACK_ADDR6";
	} else {
		return;
	}
	if (atomic_exchange(&told, true))
		return;
	nsp_log("fd %d listens on %s:%u through the kernel, not nstack (%s): clients of "
		"nstack's address will not reach it",
		fd, a, port, why);
}

static int kernel_listen(int fd, int backlog)
{
	int rc = REAL(listen)(fd, backlog);

	if (rc == 0)
		warn_kernel_listener(fd);
	return rc;
}

NSP_EXPORT int listen(int fd, int backlog)
{
	LOOKUP_OR(fd, kernel_listen(fd, backlog));
	return (int)put_ret(f, nstack_listen(f->sock, backlog));
}

static int do_accept(struct nsp_file *f, struct sockaddr *addr, socklen_t *len, int flags)
{
	struct socket *ns;
	int rc, fd;

	if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC))
		return (int)put_ret(f, -EINVAL);
	rc = NSP_RESTARTING(f->ns, nstack_accept(f->sock, &ns, addr, len, flags & SOCK_NONBLOCK));
	if (rc)
		return (int)put_ret(f, rc);
	fd = nsp_file_create(f->ns, ns, flags & SOCK_CLOEXEC, f->type, f->protocol);
	if (fd < 0)
		nstack_close(ns);
	return (int)put_ret(f, fd);
}

NSP_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	LOOKUP_OR(fd, REAL(accept)(fd, addr, len));
	return do_accept(f, addr, len, 0);
}

NSP_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	LOOKUP_OR(fd, REAL(accept4)(fd, addr, len, flags));
	return do_accept(f, addr, len, flags);
}

static ssize_t do_send(struct nsp_file *f, const void *buf, size_t len, int flags,
		       const struct sockaddr *to, socklen_t tolen)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr msg = {
	    .msg_name = (void *)to,
	    .msg_namelen = to ? tolen : 0,
	    .msg_iov = &iov,
	    .msg_iovlen = 1,
	};

	return send_result(f, NSP_RESTARTING(f->ns, nstack_sendmsg(f->sock, &msg, flags)), flags);
}

static ssize_t do_recv(struct nsp_file *f, void *buf, size_t len, int flags, struct sockaddr *from,
		       socklen_t *fromlen)
{
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct msghdr msg = {
	    .msg_name = from,
	    .msg_namelen = from && fromlen ? *fromlen : 0,
	    .msg_iov = &iov,
	    .msg_iovlen = 1,
	};
	ssize_t rc;

	if (!fromlen)
		msg.msg_name = NULL;
	rc = NSP_RESTARTING(f->ns, nstack_recvmsg(f->sock, &msg, flags));
	if (rc >= 0 && msg.msg_name && fromlen)
		*fromlen = msg.msg_namelen;
	return put_ret(f, rc);
}

NSP_EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to,
			  socklen_t tolen)
{
	int rc;

	LOOKUP_OR(fd, REAL(sendto)(fd, buf, len, flags, to, tolen));
	rc = to ? maybe_handover(fd, f, to, tolen, false) : 0;
	if (rc) {
		fdt_put(f);
		return rc > 0 ? REAL(sendto)(fd, buf, len, flags, to, tolen) : nsp_ret(rc);
	}
	return do_send(f, buf, len, flags, to, tolen);
}

NSP_EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	LOOKUP_OR(fd, REAL(send)(fd, buf, len, flags));
	return do_send(f, buf, len, flags, NULL, 0);
}

NSP_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	int rc;

	LOOKUP_OR(fd, REAL(sendmsg)(fd, msg, flags));
	rc = msg && msg->msg_name ? maybe_handover(fd, f, msg->msg_name, msg->msg_namelen, false)
				  : 0;
	if (rc) {
		fdt_put(f);
		return rc > 0 ? REAL(sendmsg)(fd, msg, flags) : nsp_ret(rc);
	}
	return send_result(f, NSP_RESTARTING(f->ns, nstack_sendmsg(f->sock, msg, flags)), flags);
}

NSP_EXPORT ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from,
			    socklen_t *fromlen)
{
	LOOKUP_OR(fd, REAL(recvfrom)(fd, buf, len, flags, from, fromlen));
	return do_recv(f, buf, len, flags, from, fromlen);
}

NSP_EXPORT ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	LOOKUP_OR(fd, REAL(recv)(fd, buf, len, flags));
	return do_recv(f, buf, len, flags, NULL, NULL);
}

NSP_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	LOOKUP_OR(fd, REAL(recvmsg)(fd, msg, flags));
	return put_ret(f, NSP_RESTARTING(f->ns, nstack_recvmsg(f->sock, msg, flags)));
}

NSP_EXPORT ssize_t read(int fd, void *buf, size_t len)
{
	LOOKUP_OR(fd, REAL(read)(fd, buf, len));
	return do_recv(f, buf, len, 0, NULL, NULL);
}

NSP_EXPORT ssize_t write(int fd, const void *buf, size_t len)
{
	LOOKUP_OR(fd, REAL(write)(fd, buf, len));
	return do_send(f, buf, len, 0, NULL, 0);
}

NSP_EXPORT ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
	struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};

	LOOKUP_OR(fd, REAL(readv)(fd, iov, iovcnt));
	if (iovcnt < 0 || iovcnt > IOV_MAX)
		return put_ret(f, -EINVAL);
	return put_ret(f, NSP_RESTARTING(f->ns, nstack_recvmsg(f->sock, &msg, 0)));
}

NSP_EXPORT ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};

	LOOKUP_OR(fd, REAL(writev)(fd, iov, iovcnt));
	if (iovcnt < 0 || iovcnt > IOV_MAX)
		return put_ret(f, -EINVAL);
	return send_result(f, NSP_RESTARTING(f->ns, nstack_sendmsg(f->sock, &msg, 0)), 0);
}

NSP_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags)
{
	if (len > buflen)
		__chk_fail();
	return recv(fd, buf, len, flags);
}

NSP_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
				  struct sockaddr *from, socklen_t *fromlen)
{
	if (len > buflen)
		__chk_fail();
	return recvfrom(fd, buf, len, flags, from, fromlen);
}

NSP_EXPORT ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen)
{
	if (len > buflen)
		__chk_fail();
	return read(fd, buf, len);
}

/*
 * fd is going away (stack lock held): if it was the number the readiness
 * hook signals, the hook moves to another dup of the file, under the lock
 * so that it never writes to a reused number.
 */
static void evfd_let_go(struct nsp_file *f, int fd)
{
	if (f->evfd == fd)
		f->evfd = fdt_find_other(f, fd);
}

/* Unmaps fd from its file before the kernel fd goes away (evfd_let_go). */
static void unmap_evfd(struct nsp_file *f, int fd)
{
	if (f && !nsp_forked && f->evfd == fd) {
		nstack_lock(f->ns);
		evfd_let_go(f, fd);
		nstack_unlock(f->ns);
	}
}

/*
 * close() of fd, the last fd of f (the caller took fd's reference from the
 * table): in one stack section the readiness hook lets go of fd and, when
 * nothing else references f (no call in progress on another thread, no
 * epoll registration, no descriptor passed in flight), the socket is
 * released. That was two sections (unmap_evfd, then nsp_file_release), and
 * close was where nginx's workers most often slept on the stack lock. True
 * if the socket was released: the caller frees f after closing fd.
 */
static bool close_last_fd(struct nsp_file *f, int fd)
{
	int one = 1;
	bool last;

	/* The stack may transmit (a FIN, say): no interposition inside it. */
	nsp_inside++;
	nstack_lock(f->ns);
	evfd_let_go(f, fd);
	/* Under the lock: epoll's direct section takes references under it too. */
	last = atomic_compare_exchange_strong(&f->refs, &one, 0);
	if (last)
		nstack_close_locked(f->sock);
	nstack_unlock(f->ns);
	nsp_inside--;
	return last;
}

static struct nsp_file *unmap_fd(int fd)
{
	struct nsp_file *f = fdt_remove(fd);

	unmap_evfd(f, fd);
	return f;
}

NSP_EXPORT int close(int fd)
{
	struct nsp_file *f;
	bool released = false;
	int rc;

	if (nsp_inside)
		return REAL(close)(fd);
	if (fd <= 2 && fdt_maybe_private(fd))
		nsp_stdio_detach(fd);
	nsp_own_lock();
	if (nsp_is_internal_fd(fd)) {
		nsp_own_unlock();
		/* Not the program's: as far as it knows, fd is not open. */
		errno = EBADF;
		return -1;
	}
	if (!fdt_maybe_private(fd) || !(f = fdt_remove(fd))) {
		nsp_epoll_close(fd, NULL);
		rc = REAL(close)(fd);
		nsp_own_unlock();
		return rc;
	}
	/*
	 * own_lock is never held while the stack lock is taken: the stack
	 * thread opens its fds (pidfds, the ring socket) under the stack lock
	 * and then takes own_lock, so the other order deadlocked a forking
	 * server (socat fork) in close(). fd stays open until REAL(close)
	 * below, so no fd of the stack's can take its number meanwhile.
	 */
	nsp_own_unlock();
	if (!nsp_forked && atomic_load(&f->nfds) == 0) {
		/* Registrations go first: theirs are references too. */
		nsp_epoll_close(fd, f);
		released = close_last_fd(f, fd);
	} else {
		unmap_evfd(f, fd);
		nsp_epoll_close(fd, f);
	}
	rc = REAL(close)(fd);
	if (released)
		nsp_file_free(f);
	else
		fdt_put(f);
	return rc;
}

NSP_EXPORT int shutdown(int fd, int how)
{
	LOOKUP_OR(fd, REAL(shutdown)(fd, how));
	return (int)put_ret(f, nstack_shutdown(f->sock, how));
}

NSP_EXPORT int getsockname(int fd, struct sockaddr *addr, socklen_t *len)
{
	LOOKUP_OR(fd, REAL(getsockname)(fd, addr, len));
	return (int)put_ret(f, nstack_getsockname(f->sock, addr, len));
}

NSP_EXPORT int getpeername(int fd, struct sockaddr *addr, socklen_t *len)
{
	LOOKUP_OR(fd, REAL(getpeername)(fd, addr, len));
	return (int)put_ret(f, nstack_getpeername(f->sock, addr, len));
}

NSP_EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	int rc;

	LOOKUP_OR(fd, REAL(setsockopt)(fd, level, name, val, len));
	if (level == IPPROTO_IPV6 && name == IPV6_V6ONLY && val && len >= sizeof(int) &&
	    *(const int *)val && nstack_sock_family(f->sock) == AF_INET6 &&
	    !nsp_ipv6_served(f->type, f->protocol)) {
		/* IPv6 only: nstack carries no IPv6 for this socket, the kernel does. */
		rc = nsp_handover(fd, f, NULL);
		if (rc == 0) {
			nsp_log_info("fd %d is IPV6_V6ONLY: handed over to the kernel (nstack "
				     "carries no IPv6 for it)",
				     fd);
			fdt_put(f);
			return REAL(setsockopt)(fd, level, name, val, len);
		}
		return (int)put_ret(f, rc);
	}
	rc = nstack_setsockopt(f->sock, level, name, val, len);
	if (rc == 0)
		nsp_record_sockopt(f, level, name, val, len);
	return (int)put_ret(f, rc);
}

NSP_EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	LOOKUP_OR(fd, REAL(getsockopt)(fd, level, name, val, len));
	return (int)put_ret(f, nstack_getsockopt(f->sock, level, name, val, len));
}

/* Maps newfd to f after the kernel duplicated f's eventfd to it. */
static int dup_install(struct nsp_file *f, int newfd, bool cloexec)
{
	int rc;

	if (newfd < 0)
		return (int)put_ret(f, -errno);
	rc = fdt_install(newfd, f, cloexec);
	if (rc) {
		REAL(close)(newfd);
		return (int)put_ret(f, rc);
	}
	fdt_put(f);
	if (newfd <= 2)
		nsp_stdio_attach(newfd);
	return newfd;
}

static int do_fcntl(int fd, int cmd, void *arg, bool is64)
{
	int (*real)(int, int, ...) = is64 ? REAL(fcntl64) : REAL(fcntl);
	bool on;

	LOOKUP_OR(fd, real(fd, cmd, arg));
	switch (cmd) {
	case F_GETFL:
		on = nstack_get_nonblock(f->sock);
		fdt_put(f);
		return O_RDWR | (on ? O_NONBLOCK : 0);
	case F_SETFL:
		nstack_set_nonblock(f->sock, ((long)arg & O_NONBLOCK) != 0);
		fdt_put(f);
		return 0;
	case F_GETFD:
		on = fdt_get_cloexec(fd);
		fdt_put(f);
		return on ? FD_CLOEXEC : 0;
	case F_SETFD:
		fdt_set_cloexec(fd, ((long)arg & FD_CLOEXEC) != 0);
		fdt_put(f);
		return 0;
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		/* The eventfd itself stays close-on-exec: the stack does not survive exec. */
		return dup_install(f, real(fd, F_DUPFD_CLOEXEC, arg), cmd == F_DUPFD_CLOEXEC);
	default:
		/* Locks, owners, signals: the kernel answers for the reserved fd. */
		fdt_put(f);
		return real(fd, cmd, arg);
	}
}

NSP_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return do_fcntl(fd, cmd, arg, false);
}

NSP_EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return do_fcntl(fd, cmd, arg, true);
}

NSP_EXPORT int ioctl(int fd, unsigned long cmd, ...)
{
	va_list ap;
	void *arg;
	int rc;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	LOOKUP_OR(fd, REAL(ioctl)(fd, cmd, arg));
	if (cmd == FIONBIO) {
		if (!arg)
			return (int)put_ret(f, -EFAULT);
		nstack_set_nonblock(f->sock, *(int *)arg != 0);
		return (int)put_ret(f, 0);
	}
	rc = nstack_ioctl(f->sock, cmd, arg);
	if (rc == -ENOTTY && cmd >= SIOCGIFNAME && cmd <= SIOCSIFMAP && arg &&
	    nsp_ifreq_answer(cmd, arg) == 0)
		rc = 0;
	else if (rc == -ENOTTY && cmd >= SIOCGIFNAME && cmd <= SIOCSIFMAP) {
		/*
		 * Other interface queries (SIOCGIF*) on an AF_INET socket are about
		 * the host's interfaces: a throwaway kernel socket answers them.
		 */
		int kfd = REAL(socket)(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		if (kfd >= 0) {
			rc = REAL(ioctl)(kfd, cmd, arg) < 0 ? -errno : 0;
			REAL(close)(kfd);
		}
	}
	return (int)put_ret(f, rc);
}

NSP_EXPORT int dup(int fd)
{
	LOOKUP_OR(fd, REAL(dup)(fd));
	return dup_install(f, REAL(fcntl)(fd, F_DUPFD_CLOEXEC, 0), false);
}

/* dup2/dup3: newfd's old meaning (maybe a private socket) goes away first. */
static int do_dup3(int oldfd, int newfd, int flags, bool is_dup2)
{
	struct nsp_file *f, *old;
	int rc;

	if (!nsp_inside && oldfd != newfd && nsp_is_internal_fd(newfd))
		nsp_internal_fd_evict(newfd);
	if (nsp_inside || (!fdt_maybe_private(oldfd) && !fdt_maybe_private(newfd)))
		return is_dup2 ? REAL(dup2)(oldfd, newfd) : REAL(dup3)(oldfd, newfd, flags);
	if (oldfd == newfd) {
		if (!is_dup2) {
			errno = EINVAL;
			return -1;
		}
		return REAL(fcntl)(oldfd, F_GETFD) < 0 ? -1 : newfd;
	}
	f = fdt_get(oldfd);
	if (!f && REAL(fcntl)(oldfd, F_GETFD) < 0)
		return -1; /* EBADF, and newfd stays as it was */
	if (f && nsp_forked)
		return nsp_forked_ebadf(f);
	if (newfd <= 2 && fdt_maybe_private(newfd))
		nsp_stdio_detach(newfd);
	old = unmap_fd(newfd);
	if (f)
		rc = REAL(dup3)(oldfd, newfd, O_CLOEXEC);
	else
		rc = is_dup2 ? REAL(dup2)(oldfd, newfd) : REAL(dup3)(oldfd, newfd, flags);
	if (old)
		fdt_put(old);
	if (!f)
		return rc;
	return dup_install(f, rc, flags & O_CLOEXEC);
}

NSP_EXPORT int dup2(int oldfd, int newfd)
{
	return do_dup3(oldfd, newfd, 0, true);
}

NSP_EXPORT int dup3(int oldfd, int newfd, int flags)
{
	return do_dup3(oldfd, newfd, flags, false);
}

NSP_EXPORT int sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags)
{
	unsigned int i;
	ssize_t rc = 0;

	LOOKUP_OR(fd, REAL(sendmmsg)(fd, vec, vlen, flags));
	if (vlen > UIO_MAXIOV)
		vlen = UIO_MAXIOV;
	/* As Linux: stop at the first error, which is reported only if nothing was sent. */
	for (i = 0; i < vlen; i++) {
		/* Linux restarts only a call that sent nothing yet. */
		rc = i ? nstack_sendmsg(f->sock, &vec[i].msg_hdr, flags)
		       : NSP_RESTARTING(f->ns, nstack_sendmsg(f->sock, &vec[i].msg_hdr, flags));
		if (rc < 0)
			break;
		vec[i].msg_len = (unsigned int)rc;
	}
	if (i > 0) {
		fdt_put(f);
		return (int)i;
	}
	return (int)send_result(f, rc, flags);
}

NSP_EXPORT int recvmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags,
			struct timespec *timeout)
{
	unsigned int i;
	ssize_t rc = 0;

	LOOKUP_OR(fd, REAL(recvmmsg)(fd, vec, vlen, flags, timeout));
	if (vlen > UIO_MAXIOV)
		vlen = UIO_MAXIOV;
	/*
	 * The first datagram may block (unless MSG_DONTWAIT); the rest are taken
	 * only if already queued. MSG_WAITFORONE is that behaviour from the start.
	 */
	for (i = 0; i < vlen; i++) {
		int fl = flags & ~MSG_WAITFORONE;

		if (i > 0 && (flags & MSG_WAITFORONE))
			fl |= MSG_DONTWAIT;
		else if (i > 0 && timeout && timeout->tv_sec == 0 && timeout->tv_nsec == 0)
			fl |= MSG_DONTWAIT;
		rc = i ? nstack_recvmsg(f->sock, &vec[i].msg_hdr, fl)
		       : NSP_RESTARTING(f->ns, nstack_recvmsg(f->sock, &vec[i].msg_hdr, fl));
		if (rc < 0)
			break;
		vec[i].msg_len = (unsigned int)rc;
		if (i == 0 && !(flags & MSG_WAITFORONE))
			flags |= MSG_WAITFORONE; /* no timeout support: never wait for more */
	}
	if (i > 0) {
		fdt_put(f);
		return (int)i;
	}
	return (int)put_ret(f, rc);
}

/* sendfile(2) into a private socket: read the file, send what it gave. */
NSP_EXPORT ssize_t sendfile(int out_fd, int in_fd, off_t *offset, size_t count)
{
	char buf[65536];
	size_t done = 0;
	off_t pos;
	ssize_t rc = 0;

	LOOKUP_OR(out_fd, REAL(sendfile)(out_fd, in_fd, offset, count));
	pos = offset ? *offset : lseek(in_fd, 0, SEEK_CUR);
	if (pos < 0)
		return put_ret(f, -errno);
	while (done < count) {
		size_t want = count - done < sizeof(buf) ? count - done : sizeof(buf);
		struct iovec iov = {.iov_base = buf};
		struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
		ssize_t got = pread(in_fd, buf, want, pos + (off_t)done);

		if (got < 0) {
			rc = -errno;
			break;
		}
		if (got == 0)
			break;
		iov.iov_len = (size_t)got;
		rc = done ? nstack_sendmsg(f->sock, &msg, MSG_DONTWAIT)
			  : NSP_RESTARTING(f->ns, nstack_sendmsg(f->sock, &msg, 0));
		if (rc < 0)
			break;
		done += (size_t)rc;
		if (rc < got)
			break;
	}
	if (offset)
		*offset = pos + (off_t)done;
	else
		lseek(in_fd, pos + (off_t)done, SEEK_SET);
	if (done > 0) {
		fdt_put(f);
		return (ssize_t)done;
	}
	return send_result(f, rc, 0);
}

static bool is_pipe(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

/*
 * splice(2) from a private socket into a pipe (Linux's tcp_splice_read):
 * the bytes are peeked, written to the pipe, and only what the pipe took
 * is consumed, so a full pipe loses nothing. Like Linux's tcp_read_sock()
 * it stops at the urgent mark: the peek ends there, and at the mark with
 * the urgent byte queued it returns 0.
 */
static ssize_t splice_from_socket(struct nsp_file *f, int pipe_fd, size_t len, unsigned int flags)
{
	char buf[65536];
	size_t want = len < sizeof(buf) ? len : sizeof(buf);
	int nb = (flags & SPLICE_F_NONBLOCK) ? MSG_DONTWAIT : 0;
	ssize_t got, put, rc;
	struct iovec iov = {.iov_base = buf, .iov_len = want};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	int atmark = 0, inq = 0;

	if (nstack_ioctl(f->sock, SIOCATMARK, &atmark) == 0 && atmark &&
	    nstack_ioctl(f->sock, SIOCINQ, &inq) == 0 && inq > 0)
		return 0;
	got = NSP_RESTARTING(f->ns, nstack_recvmsg(f->sock, &msg, MSG_PEEK | nb));
	if (got <= 0)
		return got;
	put = REAL(write)(pipe_fd, buf, (size_t)got);
	if (put < 0)
		return -errno;
	iov.iov_len = (size_t)put;
	rc = nstack_recvmsg(f->sock, &msg, MSG_DONTWAIT);
	return rc < 0 ? rc : put;
}

/*
 * splice(2) from a pipe into a private socket: the pipe's bytes are copied
 * (tee(2) into a scratch pipe) and sent, and only what the socket took is
 * drained from the pipe, so a full send buffer loses nothing.
 */
static ssize_t splice_to_socket(struct nsp_file *f, int pipe_fd, size_t len, unsigned int flags)
{
	char buf[65536];
	size_t want = len < sizeof(buf) ? len : sizeof(buf);
	int nb = (flags & SPLICE_F_NONBLOCK) ? MSG_DONTWAIT : 0, scratch[2];
	struct iovec iov = {.iov_base = buf};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t got, sent, drained = 0;

	if (pipe2(scratch, O_CLOEXEC) < 0)
		return -errno;
	/* tee() waits for data unless SPLICE_F_NONBLOCK, as splice() would. */
	got = tee(pipe_fd, scratch[1], want, flags & SPLICE_F_NONBLOCK);
	if (got > 0)
		got = REAL(read)(scratch[0], buf, (size_t)got);
	REAL(close)(scratch[0]);
	REAL(close)(scratch[1]);
	if (got <= 0)
		return got < 0 ? -errno : 0;
	iov.iov_len = (size_t)got;
	sent = NSP_RESTARTING(f->ns, nstack_sendmsg(f->sock, &msg, nb));
	while (sent > 0 && drained < sent) {
		ssize_t n = REAL(read)(pipe_fd, buf, (size_t)(sent - drained));

		if (n <= 0)
			break;
		drained += n;
	}
	return sent;
}

NSP_EXPORT ssize_t splice(int fd_in, loff_t *off_in, int fd_out, loff_t *off_out, size_t len,
			  unsigned int flags)
{
	struct nsp_file *f;
	ssize_t rc;

	if (nsp_inside)
		return REAL(splice)(fd_in, off_in, fd_out, off_out, len, flags);
	if ((f = fdt_get(fd_in)) != NULL) {
		if (nsp_forked)
			return nsp_forked_ebadf(f);
		if (off_in)
			return put_ret(f, -ESPIPE);
		if (!is_pipe(fd_out))
			return put_ret(f, -EINVAL);
		rc = len ? splice_from_socket(f, fd_out, len, flags) : 0;
		return put_ret(f, rc);
	}
	if ((f = fdt_get(fd_out)) != NULL) {
		if (nsp_forked)
			return nsp_forked_ebadf(f);
		if (off_out)
			return put_ret(f, -ESPIPE);
		if (!is_pipe(fd_in))
			return put_ret(f, -EINVAL);
		rc = len ? splice_to_socket(f, fd_in, len, flags) : 0;
		return send_result(f, rc, 0);
	}
	return REAL(splice)(fd_in, off_in, fd_out, off_out, len, flags);
}

/*
 * sendfile64: what programs built with _FILE_OFFSET_BITS=64 call (nginx).
 * On LP64 off64_t is off_t and both symbols are the same system call.
 */
_Static_assert(sizeof(off64_t) == sizeof(off_t), "sendfile64 assumes LP64");
NSP_EXPORT ssize_t sendfile64(int out_fd, int in_fd, off64_t *offset, size_t count)
{
	return sendfile(out_fd, in_fd, (off_t *)offset, count);
}

static int close_range_outside(unsigned int first, unsigned int last, int flags);

/* close_range(2): private fds in the range are closed (or marked) one by one first. */
NSP_EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	unsigned int cap = (unsigned int)fdt_capacity();
	int rc;

	if (!nsp_inside && first <= last) {
		for (unsigned int fd = first; fd <= last && fd < cap; fd++) {
			if (!fdt_maybe_private((int)fd))
				continue;
			if (flags & CLOSE_RANGE_CLOEXEC)
				fdt_set_cloexec((int)fd, true);
			else if (!(flags & CLOSE_RANGE_UNSHARE))
				close((int)fd);
		}
	}
	if (nsp_inside)
		return REAL(close_range)(first, last, flags);
	nsp_own_lock();
	rc = close_range_outside(first, last, flags);
	nsp_own_unlock();
	return rc;
}

/* The range minus nstack's own fds, in pieces (own_lock held). */
static int close_range_outside(unsigned int first, unsigned int last, int flags)
{
	while (first <= last) {
		int in = nsp_next_internal_fd((int)(first > INT32_MAX ? INT32_MAX : first),
					      (int)(last > INT32_MAX ? INT32_MAX : last));
		int rc;

		if (in < 0)
			return REAL(close_range)(first, last, flags);
		if ((unsigned int)in > first &&
		    (rc = REAL(close_range)(first, (unsigned int)in - 1, flags)))
			return rc;
		if ((unsigned int)in == last)
			return 0;
		first = (unsigned int)in + 1;
	}
	return REAL(close_range)(first, last, flags);
}
