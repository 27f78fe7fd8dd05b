/*
 * Handover: a private socket whose peer only the kernel can reach (the
 * loopback network, 0.0.0.0 meaning "this host", NSTACK_BYPASS networks)
 * becomes a kernel socket under the same fd number, as OpenOnload does.
 * Decided when the destination becomes known (connect, sendto, sendmsg,
 * bind), with the options set so far replayed on the kernel socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "preload.h"

struct nsp_policy nsp_policy = {.handover_loopback = true};

/* Whether the kernel must serve the IPv4 address a (network order). */
static bool wants_kernel_v4(uint32_t a)
{
	for (int i = 0; i < nsp_policy.nbypass; i++) {
		if ((a & nsp_policy.bypass_mask[i]) == nsp_policy.bypass_net[i])
			return true;
	}
	return nsp_policy.handover_loopback && (ntohl(a) >> 24) == 127;
}

/* Whether the kernel must serve the IPv6 address a: ::1, "::" as a peer, NSTACK_BYPASS. */
static bool wants_kernel_v6(const struct in6_addr *a, bool to_bind, int type, int protocol)
{
	if (IN6_IS_ADDR_UNSPECIFIED(a))
		return !to_bind; /* connect("::") is the host's loopback */
	if (!nsp_ipv6_served(type, protocol))
		return true; /* the stack carries no IPv6 for this kind of socket */
	for (int i = 0; i < nsp_policy.nbypass6; i++) {
		unsigned int plen = nsp_policy.bypass6_plen[i], full = plen / 8, rest = plen % 8;
		const uint8_t *n = nsp_policy.bypass6_net[i].s6_addr;

		if (memcmp(a->s6_addr, n, full) == 0 &&
		    (!rest || ((a->s6_addr[full] ^ n[full]) & (0xff00 >> rest)) == 0))
			return true;
	}
	return nsp_policy.handover_loopback && IN6_IS_ADDR_LOOPBACK(a);
}

/*
 * Whether the kernel, not nstack, must serve traffic to or bound at sa
 * (to_bind: sa is a bind() address) for a socket of the given type. A
 * v4-mapped address is judged as its IPv4 address; an IPv6 one is nstack's
 * when the stack carries IPv6 for that type.
 */
bool nsp_wants_kernel(const struct sockaddr *sa, socklen_t len, bool to_bind, int type,
		      int protocol)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

	if (!sa || len < sizeof(sa_family_t))
		return false;
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in))
		return wants_kernel_v4(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
	if (sa->sa_family != AF_INET6 || len < 24) /* shorter: the stack's -EINVAL */
		return false;
	if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		uint32_t a;

		memcpy(&a, &s6->sin6_addr.s6_addr[12], 4);
		return wants_kernel_v4(a);
	}
	return wants_kernel_v6(&s6->sin6_addr, to_bind, type, protocol);
}

/* Remembers the last value of each option, for replay on a kernel socket. */
void nsp_record_sockopt(struct nsp_file *f, int level, int name, const void *val, socklen_t len)
{
	struct nsp_sockopt *o = NULL;

	if (!val || len > sizeof(o->val))
		return;
	pthread_mutex_lock(&f->wait_lock);
	for (int i = 0; i < f->nopts; i++) {
		if (f->opts[i].level == level && f->opts[i].name == name) {
			o = &f->opts[i];
			break;
		}
	}
	if (!o) {
		struct nsp_sockopt *n = realloc(f->opts, (size_t)(f->nopts + 1) * sizeof(*n));

		if (n) {
			f->opts = n;
			o = &f->opts[f->nopts++];
		}
	}
	if (o) {
		o->level = level;
		o->name = name;
		o->len = len;
		memcpy(o->val, val, len);
	}
	pthread_mutex_unlock(&f->wait_lock);
}

/* Builds the kernel twin of f: same type, options, O_NONBLOCK and binding. */
static int kernel_twin(struct nsp_file *f)
{
	int k = REAL(socket)(nstack_sock_family(f->sock), f->type | SOCK_CLOEXEC, f->protocol);

	if (k < 0)
		return -errno;
	pthread_mutex_lock(&f->wait_lock);
	for (int i = 0; i < f->nopts; i++) {
		const struct nsp_sockopt *o = &f->opts[i];

		/* An option the kernel refuses here is not worth failing the call for. */
		(void)REAL(setsockopt)(k, o->level, o->name, o->val, o->len);
	}
	pthread_mutex_unlock(&f->wait_lock);
	if (nstack_get_nonblock(f->sock))
		REAL(fcntl)(k, F_SETFL, O_RDWR | O_NONBLOCK);
	if (f->bound) {
		struct sockaddr_storage b = f->bound_addr;

		/* nstack's own address means nothing to the kernel: keep the port. */
		if (!nsp_wants_kernel((struct sockaddr *)&b, f->bound_len, true, f->type,
				      f->protocol)) {
			if (b.ss_family == AF_INET6)
				((struct sockaddr_in6 *)&b)->sin6_addr = in6addr_any;
			else
				((struct sockaddr_in *)&b)->sin_addr.s_addr = htonl(INADDR_ANY);
		}
		if (REAL(bind)(k, (struct sockaddr *)&b, f->bound_len) < 0) {
			int e = errno;

			REAL(close)(k);
			return -e;
		}
	}
	return k;
}

/* Replaces private fd by a kernel socket; see preload.h. */
int nsp_handover(int fd, struct nsp_file *f, const struct sockaddr *why)
{
	struct nsp_epoll_saved saved[16];
	struct nsp_file *mapped;
	int k, nsaved, cloexec;

	if (nsp_forked)
		return -EBADF;
	k = kernel_twin(f);
	if (k < 0)
		return k;
	cloexec = fdt_get_cloexec(fd) ? O_CLOEXEC : 0;
	nsaved = nsp_epoll_detach(fd, f, saved, 16);
	mapped = fdt_remove(fd);
	if (mapped && mapped->evfd == fd) {
		nstack_lock(mapped->ns);
		mapped->evfd = fdt_find_other(mapped, fd);
		nstack_unlock(mapped->ns);
	}
	/* Atomically: the number never becomes free for another open() to take. */
	if (REAL(dup3)(k, fd, cloexec) < 0) {
		int e = errno;

		if (mapped)
			fdt_install(fd, mapped, cloexec), fdt_put(mapped);
		REAL(close)(k);
		return -e;
	}
	REAL(close)(k);
	for (int i = 0; i < nsaved; i++)
		(void)REAL(epoll_ctl)(saved[i].epfd, EPOLL_CTL_ADD, fd, &saved[i].ev);
	if (mapped)
		fdt_put(mapped);
	if (why && (why->sa_family == AF_INET || why->sa_family == AF_INET6)) {
		char a[INET6_ADDRSTRLEN];

		if (why->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)why)->sin_addr, a,
				  sizeof(a));
		else
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)why)->sin6_addr, a,
				  sizeof(a));
		nsp_log_info("fd %d handed over to the kernel (%s is the kernel's)", fd, a);
	}
	return 0;
}
