/*
 * The keeper: a small process that joins every stack its creator starts and
 * outlives the program's processes, as the kernel outlives a process that
 * owned sockets. While programs run it only stands by (its stack thread
 * watches the driver). When the last of them exits, or is killed with
 * SIGKILL, it takes the link over: it reaps the dead (their connections are
 * closed as the kernel closes them, FIN or RST), delivers what was still
 * queued, and ends once the stack holds no more data or NSTACK_EXIT_LINGER
 * has passed, removing the stack's file. So a program's exit is never
 * delayed by the data it wrote.
 *
 * It is /bin/true run with LD_PRELOAD of this library and NSTACK_KEEPER_RUN
 * set: the constructor below takes over before main(). It detaches itself
 * (a second fork) so that the program never has it as a child to wait for.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "preload.h"

extern char **environ;

static const char *const true_paths[] = {"/bin/true", "/usr/bin/true"};

/* Starts the keeper for the stack this process just created. */
void nsp_keeper_spawn(void)
{
	const char *k = getenv("NSTACK_KEEPER");
	char **env, pre[4200];
	size_t n = 0, j = 0;
	Dl_info info;
	pid_t pid = -1;

	if ((k && strcmp(k, "0") == 0) || !dladdr((void *)nsp_keeper_spawn, &info) ||
	    !info.dli_fname || !strstr(info.dli_fname, ".so"))
		return;
	snprintf(pre, sizeof(pre), "LD_PRELOAD=%s", info.dli_fname);
	/* NULL after clearenv(). */
	while (environ && environ[n])
		n++;
	env = calloc(n + 3, sizeof(*env));
	if (!env)
		return;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0 &&
		    strncmp(environ[i], "NSTACK_EXEC=", 12) != 0)
			env[j++] = environ[i];
	env[j++] = pre;
	env[j++] = (char *)"NSTACK_KEEPER_RUN=1";
	nsp_inside++;
	for (size_t i = 0; i < sizeof(true_paths) / sizeof(true_paths[0]) && pid < 0; i++) {
		char *argv[] = {(char *)"nstack-keeper", NULL};

		if (access(true_paths[i], X_OK) == 0 &&
		    posix_spawn(&pid, true_paths[i], NULL, NULL, argv, env) != 0)
			pid = -1;
	}
	/* It forks the keeper and exits at once: reap it here (or the program's handler will). */
	if (pid > 0)
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	nsp_inside--;
	free(env);
	if (pid < 0)
		nsp_log_info("no keeper process (cannot run /bin/true)");
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The keeper's life: stand by while others run, then finish their work and go. */
static void __attribute__((noreturn)) keeper_run(void)
{
	struct nstack *ns;
	uint64_t alone_since = 0;
	unsigned int linger;

	nsp_is_keeper = true;
	if (nsp_stack(&ns) != 0)
		nsp_syscall(SYS_exit_group, 1);
	linger = nsp_exit_linger_ms();
	for (;;) {
		nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
		if (nstack_proc_count(ns) > 1) {
			alone_since = 0;
			continue;
		}
		if (!alone_since)
			alone_since = now_ms();
		if (nstack_live_skbs(ns) != 0 && now_ms() - alone_since < linger)
			continue;
		/*
		 * A program that joined since the count above keeps us: we
		 * drive the link, and an exit here would leave it to the
		 * dead-driver path at its very start.
		 */
		if (nsp_forget_stack_file(ns))
			break;
		alone_since = 0;
	}
	nsp_log_info("keeper: done (%ld buffers left)", nstack_live_skbs(ns));
	/* Not _exit(): ours would run the exit flush, which has nothing left to do. */
	nsp_syscall(SYS_exit_group, 0);
	__builtin_unreachable();
}

__attribute__((constructor)) static void keeper_ctor(void)
{
	pid_t pid;
	int fd;

	if (!getenv("NSTACK_KEEPER_RUN"))
		return;
	unsetenv("NSTACK_KEEPER_RUN");
	unsetenv("LD_PRELOAD");
	pid = fork();
	if (pid != 0)
		nsp_syscall(SYS_exit_group, pid < 0);
	setsid();
	/* Hold no terminal and no pipe of the program's: its readers see EOF when it ends. */
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		if (!getenv("NSTACK_KEEPER_LOG"))
			dup2(fd, 2);
		close(fd);
	}
	keeper_run();
}
