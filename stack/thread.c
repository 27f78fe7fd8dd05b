/*
 * Starting a thread of nstack's own in a program's process.
 *
 * The program knows nothing of these threads and may fork() the moment the
 * call that started one returns (Python: bind(), then os.fork(); the bind
 * started the stack). A thread that has not reached its start routine yet
 * may still be in its runtime's set-up, and a lock taken there that fork()
 * does not take is inherited locked by the child. GCC 12's ASan is such a
 * runtime: a new thread's set-up frees memory (pthread_getattr_np) into a
 * quarantine whose first batch it allocates under the allocator's lock for
 * that size class, and nothing takes that lock around fork(). A child
 * forked meanwhile hung for ever in the first thread it started, its own
 * stack thread, set up the same way: its mailbox was never drained, so its
 * program thread slept through every wake-up (20 000 datagrams sent, 1024
 * queued, none read). With glibc's malloc, fork() takes the allocator's
 * locks itself; the runtime is not ours to fix, so a thread is only handed
 * back running.
 */
#include <errno.h>
#include <semaphore.h>
#include <signal.h>

#include "thread.h"

struct thread_start {
	void *(*fn)(void *);
	void *arg;
	sem_t running;
};

static void *thread_main(void *p)
{
	struct thread_start *s = p;
	void *(*fn)(void *) = s->fn;
	void *arg = s->arg;

	/* The starter's frame, s, is gone after this. */
	sem_post(&s->running);
	return fn(arg);
}

/*
 * Starts fn(arg) in a thread named name (NULL: unnamed) and returns once
 * it runs fn: past its runtime's set-up, so that a fork() from now on
 * cannot catch it there. The program's signals are blocked in it: one
 * delivered there would run the program's handler on our thread and not on
 * the one that waits for it. 0 or -errno (pthread_create's).
 */
int ns_thread_start(pthread_t *t, const char *name, void *(*fn)(void *), void *arg)
{
	struct thread_start s = {.fn = fn, .arg = arg};
	sigset_t all, old;
	int rc;

	if (sem_init(&s.running, 0, 0) != 0)
		return -errno;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(t, NULL, thread_main, &s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc == 0) {
		/* A handler of the program may interrupt the wait, not end it. */
		while (sem_wait(&s.running) != 0 && errno == EINTR)
			;
		/* Named so that top -H and perf tell it from the program's threads. */
		if (name)
			(void)pthread_setname_np(*t, name);
	}
	sem_destroy(&s.running);
	return -rc;
}
