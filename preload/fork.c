/*
 * fork(): parent and child share every private socket, as with the kernel.
 *
 * The stack lives in an arena both map (MAP_SHARED survives fork), so the
 * child sees the same sockets at the same addresses. What fork copies
 * instead of sharing is repaired here: the child gets its own slot in the
 * stack's process table (holding every socket the parent holds, counted
 * with the fd table and the stack locked across the system call, so no fd
 * changes in between), its own stack thread and doorbell, fresh wait
 * tokens, and a device that only transmits (the parent keeps receiving).
 *
 * Doorbells: each process binds an abstract unix datagram socket named
 * after the stack and its slot; another process that posts mail for it
 * (shared.c) sends one byte there, and the process's stack thread, which
 * polls it, drains its mailbox.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

extern char **environ;

#include "preload.h"
#include "shared.h"

static int doorbell_fd = -1; /* ours, bound to our slot's name */
static int ring_fd = -1;     /* unbound: sends to other processes' doorbells */
/* Set around the real fork() so the atfork child handler knows it is ours. */
static __thread bool in_our_fork;

static socklen_t doorbell_name(struct sockaddr_un *a, uint64_t id, int slot)
{
	int n;

	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	n = snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1, "nstack.%016llx.%d",
		     (unsigned long long)id, slot);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

/* Binds this process's doorbell and gives it to the stack thread. */
int nsp_doorbell_open(struct nstack *ns)
{
	struct sockaddr_un a;
	socklen_t len = doorbell_name(&a, nstack_shared_id(ns), nstack_proc_slot(ns));
	int fd;

	nsp_inside++;
	fd = REAL(socket)(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0 && REAL(bind)(fd, (struct sockaddr *)&a, len) < 0) {
		int e = errno;

		REAL(close)(fd);
		fd = -1;
		errno = e;
	}
	nsp_inside--;
	if (fd < 0) {
		nsp_log("cannot make this process's doorbell: %s", strerror(errno));
		return -errno;
	}
	nsp_internal_fd_add(fd);
	doorbell_fd = fd;
	nstack_set_doorbell_fd(ns, fd);
	return 0;
}

/* nstack_hooks.ring (stack lock held): one byte to process slot's doorbell. */
void nsp_hook_ring(void *ctx, int slot, uint64_t id)
{
	struct sockaddr_un a;
	socklen_t len = doorbell_name(&a, id, slot);

	if (nsp_sandboxed) {
		nsp_defer_ring(nsp_stack_running(), slot, id);
		return;
	}
	nsp_inside++;
	if (ring_fd < 0) {
		/* Marked before the program's close_range() can see the number. */
		nsp_own_lock();
		ring_fd = nsp_own_fd_high(
		    REAL(socket)(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
		if (ring_fd >= 0)
			nsp_internal_fd_add(ring_fd);
		nsp_own_unlock();
	}
	/* EAGAIN: its queue is full, so it is awake already; ECONNREFUSED: it is gone. */
	if (ring_fd >= 0)
		REAL(sendto)(ring_fd, "", 1, MSG_DONTWAIT, (struct sockaddr *)&a, len);
	nsp_inside--;
}

void nsp_hook_wake_token(void *ctx, void *token)
{
	(void)ctx;
	nsp_wake_remote(token);
}

/* Mail was lost: every sleeper and every watched private fd of ours is signalled. */
void nsp_hook_wake_all(void *ctx)
{
	uint64_t one = 1;

	(void)ctx;
	nsp_wake_all_tokens();
	for (int fd = fdt_next_private(0); fd >= 0; fd = fdt_next_private(fd + 1)) {
		struct nsp_file *f = fdt_get(fd);

		if (!f)
			continue;
		if (f->evfd >= 0 && REAL(write)(f->evfd, &one, sizeof(one)) < 0) {
			/* saturated: it is readable anyway */
		}
		atomic_fetch_sub(&f->refs, 1); /* never the last: the fd holds one */
	}
}

static void atfork_child(void)
{
	/*
	 * A child made without our fork() (vfork+exec, posix_spawn,
	 * daemon(3), raw clone) has no slot in the stack: its private fds are
	 * dead (the stack lock may even have been held at that moment).
	 */
	if (!in_our_fork)
		nsp_forked = true;
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void atfork_register(void)
{
	pthread_atfork(NULL, NULL, atfork_child);
}

/* Called once the stack runs: children made behind our back are recognised. */
void nsp_fork_init(void)
{
	pthread_once(&atfork_once, atfork_register);
}

NSP_EXPORT pid_t fork(void)
{
	struct nstack *ns = nsp_inside || nsp_forked ? NULL : nsp_stack_running();
	pid_t pid;
	int slot;

	if (!ns)
		return REAL(fork)();
	fdt_fork_lock();
	slot = nstack_fork_prepare(ns);
	if (slot < 0) {
		fdt_fork_unlock();
		nsp_log("fork: %d processes share the stack already; the child's private sockets "
			"are not usable",
			NS_MAX_PROCS);
		return REAL(fork)();
	}
	in_our_fork = true;
	pid = REAL(fork)();
	in_our_fork = false;
	if (pid != 0) {
		int e = errno;

		nstack_fork_parent(ns, slot, pid);
		fdt_fork_unlock();
		errno = e;
		return pid;
	}
	/* The child. The stack lock is still the parent's until it returns from fork. */
	fdt_fork_child();
	nsp_epoll_fork_child();
	nsp_wait_fork_child();
	nstack_fork_child(ns, slot);
	if (doorbell_fd >= 0) {
		nsp_internal_fd_del(doorbell_fd);
		REAL(close)(doorbell_fd);
		doorbell_fd = -1;
	}
	nsp_start_fork_child(ns);
	return 0;
}

/*
 * vfork(): the child would share our memory, fd table and stack state, and
 * every interposed call it makes before exec (dup2 of a private fd onto
 * stdin, say, as Python's subprocess does) would change ours. POSIX allows
 * vfork() to be fork(), so with a stack running it is.
 */
NSP_EXPORT pid_t vfork(void)
{
	return fork();
}

/*
 * exec(): no thread of ours may be inside the stack when exec ends them all,
 * and if we drove the link another process takes it. The private fds that
 * survive exec (not close-on-exec) are recorded in our slot, their
 * eventfds made to survive too, and the new image is told (NSTACK_EXEC=1 in
 * its environment) to map the stack at once and take them over, with their
 * numbers, before its main() runs. If exec fails, we carry on as before.
 */
struct exec_state {
	struct nstack *ns;
	char **envp; /* ours to free: the program's, plus the marker */
	int nfds;
	int fds[256];
};

static void before_exec(struct exec_state *x, char *const envp[])
{
	struct socket *socks[256];
	size_t n = 0, j = 0;

	x->ns = nsp_inside || nsp_forked ? NULL : nsp_stack_running();
	x->envp = NULL;
	x->nfds = 0;
	if (!x->ns)
		return;
	for (int fd = fdt_next_private(0); fd >= 0 && x->nfds < 256;
	     fd = fdt_next_private(fd + 1)) {
		struct nsp_file *f;

		if (fdt_get_cloexec(fd) || !(f = fdt_get(fd)))
			continue;
		socks[x->nfds] = f->sock;
		x->fds[x->nfds++] = fd;
		atomic_fetch_sub(&f->refs, 1); /* the fd still holds one */
		REAL(fcntl)(fd, F_SETFD, 0);
	}
	nsp_inside++;
	nstack_exec_record(x->ns, x->fds, socks, x->nfds);
	nsp_inside--;
	if (x->nfds && envp) {
		while (envp[n])
			n++;
		x->envp = malloc((n + 2) * sizeof(char *));
		if (x->envp) {
			for (size_t i = 0; i < n; i++)
				if (strncmp(envp[i], "NSTACK_EXEC=", 12) != 0)
					x->envp[j++] = envp[i];
			x->envp[j++] = (char *)"NSTACK_EXEC=1";
			x->envp[j] = NULL;
		}
	}
	{
		int wfd = nstack_wake_fd(x->ns);

		nsp_inside++;
		nstack_exec_prepare(x->ns);
		nsp_inside--;
		nsp_internal_fd_del(wfd);
	}
}

static char *const *exec_env(struct exec_state *x, char *const envp[])
{
	return x->envp ? x->envp : envp;
}

static void exec_failed(struct exec_state *x)
{
	int e = errno;

	if (x->ns) {
		for (int i = 0; i < x->nfds; i++)
			REAL(fcntl)(x->fds[i], F_SETFD, FD_CLOEXEC);
		nsp_inside++;
		nstack_exec_failed(x->ns);
		nsp_inside--;
		nsp_internal_fd_add(nstack_wake_fd(x->ns));
	}
	free(x->envp);
	errno = e;
}

NSP_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	struct exec_state x;
	int rc;

	before_exec(&x, envp);
	rc = REAL(execve)(path, argv, exec_env(&x, envp));
	exec_failed(&x);
	return rc;
}

NSP_EXPORT int execv(const char *path, char *const argv[])
{
	struct exec_state x;
	int rc;

	before_exec(&x, environ);
	rc = REAL(execve)(path, argv, exec_env(&x, environ));
	exec_failed(&x);
	return rc;
}

NSP_EXPORT int execvp(const char *file, char *const argv[])
{
	struct exec_state x;
	int rc;

	before_exec(&x, environ);
	rc = REAL(execvpe)(file, argv, exec_env(&x, environ));
	exec_failed(&x);
	return rc;
}

NSP_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	struct exec_state x;
	int rc;

	before_exec(&x, envp);
	rc = REAL(execvpe)(file, argv, exec_env(&x, envp));
	exec_failed(&x);
	return rc;
}

NSP_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	struct exec_state x;
	int rc;

	before_exec(&x, envp);
	rc = REAL(fexecve)(fd, argv, exec_env(&x, envp));
	exec_failed(&x);
	return rc;
}

/*
 * The new image after exec(): NSTACK_EXEC=1 says private fds were handed
 * over; map the stack now, before main() touches them. The marker goes,
 * so that the program's own children do not see it.
 */
__attribute__((constructor)) static void exec_attach(void)
{
	struct nstack *ns;

	if (!getenv("NSTACK_EXEC"))
		return;
	unsetenv("NSTACK_EXEC");
	nsp_stack(&ns);
}

/* execl*(): the arguments as an array, as glibc does, then the v-form above. */
#define NSP_EXECL_ARGV(first, ap, argv)                                                            \
	size_t n_ = 1;                                                                             \
	va_start(ap, first);                                                                       \
	while (va_arg(ap, const char *))                                                           \
		n_++;                                                                              \
	va_end(ap);                                                                                \
	char *argv[n_ + 1];                                                                        \
	va_start(ap, first);                                                                       \
	argv[0] = (char *)(first);                                                                 \
	for (size_t i_ = 1; i_ <= n_; i_++)                                                        \
	argv[i_] = va_arg(ap, char *)

NSP_EXPORT int execl(const char *path, const char *arg, ...)
{
	va_list ap;

	NSP_EXECL_ARGV(arg, ap, argv);
	va_end(ap);
	return execv(path, argv);
}

NSP_EXPORT int execlp(const char *file, const char *arg, ...)
{
	va_list ap;

	NSP_EXECL_ARGV(arg, ap, argv);
	va_end(ap);
	return execvp(file, argv);
}

NSP_EXPORT int execle(const char *path, const char *arg, ...)
{
	va_list ap;
	char *const *envp;

	NSP_EXECL_ARGV(arg, ap, argv);
	envp = va_arg(ap, char *const *);
	va_end(ap);
	return execve(path, argv, envp);
}
