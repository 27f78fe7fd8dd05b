/*
 * Timers on the stack clock.
 *
 * A hashed wheel with one-millisecond slots, like the kernel's timer wheel
 * without the cascading levels: a timer sits in the slot of its expiry
 * millisecond and carries the exact expiry, so a slot can hold timers of
 * later revolutions, which are skipped until their turn. Expiry times are in
 * microseconds of the stack clock; a timer fires at the first timers_run()
 * whose clock is >= its expiry. Callbacks run with the stack lock held and
 * may re-arm or delete any timer, including their own.
 */
#ifndef NSTACK_TIMER_H
#define NSTACK_TIMER_H

#include <bsd/sys/queue.h>
#include <stdbool.h>
#include <stdint.h>

#include "nsref.h"

struct nstack;

#define TIMER_WHEEL_SLOTS 4096 /* power of two, in milliseconds */

struct timer_list {
	LIST_ENTRY(timer_list) entry;
	uint64_t expires; /* microseconds on the stack clock */
	nsref_t function; /* void (*)(struct timer_list *), see nsref.h */
	bool pending;
	uint32_t gen; /* the wheel's run_gen when armed */
};

LIST_HEAD(timer_slot, timer_list);

struct timer_wheel {
	struct timer_slot slots[TIMER_WHEEL_SLOTS];
	uint64_t clk_ms;    /* first slot not yet fully processed */
	unsigned int count; /* pending timers */
	uint32_t run_gen;   /* bumped per run: timers armed during a run wait for the next */
};

void timer_wheel_init(struct timer_wheel *w, uint64_t now_us);
void timer_setup(struct timer_list *t, void (*fn)(struct timer_list *t));
/* (Re)arm t to fire at absolute time expires_us. */
void mod_timer(struct nstack *ns, struct timer_list *t, uint64_t expires_us);
/* Returns true if the timer was pending. */
bool del_timer(struct nstack *ns, struct timer_list *t);
void timers_run(struct nstack *ns);
/* Earliest pending expiry, or UINT64_MAX when none is pending. */
uint64_t timers_next(struct nstack *ns);

static inline bool timer_pending(const struct timer_list *t)
{
	return t->pending;
}

#ifndef container_of
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#endif

#endif
