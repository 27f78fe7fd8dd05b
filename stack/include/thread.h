/*
 * The threads nstack starts in a program's process (the stack thread, the
 * device's TX thread, the helper that opens a device for a move, the
 * preload's flush thread): see thread.c.
 */
#ifndef NSTACK_THREAD_H
#define NSTACK_THREAD_H

#include <pthread.h>

int ns_thread_start(pthread_t *t, const char *name, void *(*fn)(void *), void *arg);

#endif
