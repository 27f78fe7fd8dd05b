/*
 * syscall(2), the generic wrapper. Some libraries make the socket calls
 * through it rather than through libc's named functions: libuv sends and
 * receives UDP with syscall(__NR_sendmmsg/__NR_recvmmsg) (bind9's dig and
 * every libuv program), and other runtimes do the same for calls older libc
 * versions lacked. The kernel has never seen a private socket, so such a
 * call on one fails with ENOTSOCK or acts on the fd's placeholder instead.
 *
 * The calls nstack interposes are routed here to the interposed function
 * of the same name when they concern a private fd (or, for socket, poll,
 * select, epoll and exec, always); the rest go to the kernel as a raw
 * system call. Raw-call argument conventions that differ from the libc
 * wrappers (ppoll's and epoll_pwait's sigset size, pselect6's packed
 * sigmask) are translated.
 *
 * The pass-through must not look anything up: allocators call syscall()
 * while they initialise (jemalloc reads /proc with SYS_open/SYS_read under
 * its init lock, in bind9's dig), and dlsym() would allocate and deadlock
 * on that lock. So on x86-64 it is the system call instruction itself; the
 * interposed functions are reached only for private fds, which exist only
 * once the allocator is up.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "preload.h"

/* pselect6's sixth argument: the mask and its size, in one struct. */
struct pselect6_mask {
	const sigset_t *ss;
	size_t len;
};

/* Whether a libc wrapper must see a signal mask that the raw call passed with a size. */
static int mask_size_ok(long size)
{
	/* The kernel's sigset is 8 bytes; libc's wrappers pass exactly that. */
	if (size != 8) {
		errno = EINVAL;
		return 0;
	}
	return 1;
}

static long raw(long nr, const long a[6])
{
#if defined(__x86_64__)
	register long r10 __asm__("r10") = a[3];
	register long r8 __asm__("r8") = a[4];
	register long r9 __asm__("r9") = a[5];
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a[0]), "S"(a[1]), "d"(a[2]), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	if (ret < 0 && ret > -4096) {
		errno = (int)-ret;
		return -1;
	}
	return ret;
#else
	return REAL(syscall)(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
#endif
}

/*
 * nstack's own raw calls (an eventfd poked from a signal handler, a write
 * to stderr that must not reach a private fd 2): never routed.
 */
/*
 * Six arguments are read whatever the call takes, as libc's syscall() does
 * (the sixth may lie past the caller's frame): not for ASan to check.
 */
#define SIX_ARGS __attribute__((no_sanitize_address))

static SIX_ARGS void six_args(va_list ap, long a[6])
{
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
}

SIX_ARGS long nsp_syscall(long nr, ...)
{
	long a[6];
	va_list ap;

	va_start(ap, nr);
	six_args(ap, a);
	va_end(ap);
	return raw(nr, a);
}

/* Calls that act on the fd in their first argument: ours only if it is private. */
static bool on_first_fd(long nr)
{
	switch (nr) {
	case SYS_bind:
	case SYS_connect:
	case SYS_listen:
	case SYS_accept:
	case SYS_accept4:
	case SYS_sendto:
	case SYS_recvfrom:
	case SYS_sendmsg:
	case SYS_recvmsg:
	case SYS_sendmmsg:
	case SYS_recvmmsg:
	case SYS_shutdown:
	case SYS_getsockname:
	case SYS_getpeername:
	case SYS_setsockopt:
	case SYS_getsockopt:
	case SYS_read:
	case SYS_write:
	case SYS_readv:
	case SYS_writev:
	case SYS_close:
	case SYS_dup:
	case SYS_fcntl:
	case SYS_ioctl:
		return true;
	default:
		return false;
	}
}

NSP_EXPORT SIX_ARGS long syscall(long nr, ...)
{
	long a[6];
	va_list ap;

	va_start(ap, nr);
	six_args(ap, a);
	va_end(ap);
	if (nsp_inside)
		return raw(nr, a);
	if (on_first_fd(nr) && !fdt_maybe_private((int)a[0]))
		return raw(nr, a);
	if ((nr == SYS_dup2 || nr == SYS_dup3) && !fdt_maybe_private((int)a[0]) &&
	    !fdt_maybe_private((int)a[1]))
		return raw(nr, a);
	if (nr == SYS_sendfile && !fdt_maybe_private((int)a[0]) && !fdt_maybe_private((int)a[1]))
		return raw(nr, a);
#define P(i) ((void *)a[i])
#define I(i) ((int)a[i])
	switch (nr) {
	case SYS_socket:
		return socket(I(0), I(1), I(2));
	case SYS_bind:
		return bind(I(0), P(1), (socklen_t)a[2]);
	case SYS_connect:
		return connect(I(0), P(1), (socklen_t)a[2]);
	case SYS_listen:
		return listen(I(0), I(1));
	case SYS_accept:
		return accept(I(0), P(1), P(2));
	case SYS_accept4:
		return accept4(I(0), P(1), P(2), I(3));
	case SYS_sendto:
		return sendto(I(0), P(1), (size_t)a[2], I(3), P(4), (socklen_t)a[5]);
	case SYS_recvfrom:
		return recvfrom(I(0), P(1), (size_t)a[2], I(3), P(4), P(5));
	case SYS_sendmsg:
		return sendmsg(I(0), P(1), I(2));
	case SYS_recvmsg:
		return recvmsg(I(0), P(1), I(2));
	case SYS_sendmmsg:
		return sendmmsg(I(0), P(1), (unsigned int)a[2], I(3));
	case SYS_recvmmsg:
		return recvmmsg(I(0), P(1), (unsigned int)a[2], I(3), P(4));
	case SYS_shutdown:
		return shutdown(I(0), I(1));
	case SYS_getsockname:
		return getsockname(I(0), P(1), P(2));
	case SYS_getpeername:
		return getpeername(I(0), P(1), P(2));
	case SYS_setsockopt:
		return setsockopt(I(0), I(1), I(2), P(3), (socklen_t)a[4]);
	case SYS_getsockopt:
		return getsockopt(I(0), I(1), I(2), P(3), P(4));
	case SYS_read:
		return read(I(0), P(1), (size_t)a[2]);
	case SYS_write:
		return write(I(0), P(1), (size_t)a[2]);
	case SYS_readv:
		return readv(I(0), P(1), I(2));
	case SYS_writev:
		return writev(I(0), P(1), I(2));
	case SYS_close:
		return close(I(0));
	case SYS_close_range:
		return close_range((unsigned int)a[0], (unsigned int)a[1], I(2));
	case SYS_dup:
		return dup(I(0));
	case SYS_dup2:
		return dup2(I(0), I(1));
	case SYS_dup3:
		return dup3(I(0), I(1), I(2));
	case SYS_fcntl:
		return fcntl(I(0), I(1), a[2]);
	case SYS_ioctl:
		return ioctl(I(0), (unsigned long)a[1], a[2]);
	case SYS_sendfile:
		return sendfile(I(0), I(1), P(2), (size_t)a[3]);
	case SYS_poll:
		return poll(P(0), (nfds_t)a[1], I(2));
	case SYS_ppoll:
		if (a[3] && !mask_size_ok(a[4]))
			return -1;
		return ppoll(P(0), (nfds_t)a[1], P(2), P(3));
	case SYS_select:
		return select(I(0), P(1), P(2), P(3), P(4));
	case SYS_pselect6: {
		const struct pselect6_mask *m = P(5);

		if (m && m->ss && !mask_size_ok((long)m->len))
			return -1;
		return pselect(I(0), P(1), P(2), P(3), P(4), m ? m->ss : NULL);
	}
	case SYS_epoll_ctl:
		return epoll_ctl(I(0), I(1), I(2), P(3));
	case SYS_epoll_wait:
		return epoll_wait(I(0), P(1), I(2), I(3));
	case SYS_epoll_pwait:
		if (a[4] && !mask_size_ok(a[5]))
			return -1;
		return epoll_pwait(I(0), P(1), I(2), I(3), P(4));
	case SYS_epoll_pwait2:
		if (a[4] && !mask_size_ok(a[5]))
			return -1;
		return epoll_pwait2(I(0), P(1), I(2), P(3), P(4));
	case SYS_execve:
		return execve(P(0), P(1), P(2));
	default:
		break;
	}
#undef P
#undef I
	return raw(nr, a);
}
