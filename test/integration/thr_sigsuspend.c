/*
 * A daemon's signal loop under nstack: the main thread opens a private
 * socket (the stack thread starts), then waits in sigsuspend() for SIGUSR1
 * N times while the test sends them to the process. Each must wake the main
 * thread; one delivered to another thread (nstack's) would run the handler
 * there and leave sigsuspend() asleep.
 *
 *   thr_sigsuspend N    prints "ready", then "ok N" after N wake-ups
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

static volatile sig_atomic_t got;

static void on_usr1(int sig)
{
	(void)sig;
	got++;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 20, seen = 0;
	sigset_t block, empty;
	struct sigaction sa = {.sa_handler = on_usr1};
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0) {
		perror("socket");
		return 1;
	}
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&empty);
	printf("ready\n");
	fflush(stdout);
	while (seen < n) {
		sigsuspend(&empty);
		seen = got;
		/* Tell the sender this one arrived (it waits for the count). */
		printf("woke %d\n", seen);
		fflush(stdout);
		/*
		 * Busy with SIGUSR1 blocked, as a daemon between two waits: the
		 * next signal arrives now and must stay pending for this thread.
		 */
		usleep(300000);
	}
	printf("ok %d\n", seen);
	close(fd);
	return 0;
}
