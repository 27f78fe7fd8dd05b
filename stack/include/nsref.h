/*
 * References from shared memory to code and constant tables.
 *
 * The stack's state lives in an arena that several processes map at the
 * same address, but each process may have loaded libnstack at a different
 * address (an exec'd program, an unrelated one joining the stack). So no
 * function pointer and no pointer into the library's read-only tables may be
 * stored in the arena. Such a reference is stored instead as its distance
 * from an anchor symbol of the library image: the distance is the same in
 * every process that runs the same build (the arena checks the build when a
 * process maps it), and turning it back into a pointer costs one addition.
 * This is the per-process table of the design, with the image itself as the
 * table; 0 stands for NULL.
 */
#ifndef NSTACK_NSREF_H
#define NSTACK_NSREF_H

#include <stdint.h>

typedef intptr_t nsref_t;

/* A symbol of the image that nothing else refers to; its address is the origin. */
extern const char nstack_image_anchor[];

static inline nsref_t ns_ref(const void *p)
{
	return p ? (intptr_t)p - (intptr_t)nstack_image_anchor : 0;
}

static inline void *ns_unref(nsref_t r)
{
	return r ? (void *)((intptr_t)nstack_image_anchor + r) : (void *)0;
}

/* A function-pointer reference turned back into a callable pointer of type T. */
#define NS_FN(T, r) ((T)ns_unref(r))

#endif
