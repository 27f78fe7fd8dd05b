/*
 * Timers on the stack clock.
 *
 * A hashed wheel of two levels and an overflow list, after the kernel's
 * timer wheel. Level 0 has one-millisecond slots covering the next
 * TIMER_WHEEL_SLOTS ms; a timer there sits in the slot of its expiry
 * millisecond and carries the exact expiry. Level 1 has TIMER_L1_SLOTS
 * slots of TIMER_L1_MS each for timers further out (TIME_WAIT's 60 s,
 * keepalive probes); a level-1 slot moves down to level 0 as a whole when
 * the near wheel's horizon reaches its end, and timers beyond level 1 wait
 * in the overflow list until level 1 reaches them. A bitmap of non-empty
 * near slots makes the next expiry a few word operations away: a wheel
 * that also held the far timers in its slots was walked, far timers and
 * all, each time the stack thread went to sleep (44% of its time at 6000
 * connections a second, with their TIME_WAIT timers queued). Expiry times
 * are in microseconds of the stack clock; a timer fires at the first
 * timers_run() whose clock is >= its expiry. Callbacks run with the stack
 * lock held and may re-arm or delete any timer, including their own.
 */
#ifndef NSTACK_TIMER_H
#define NSTACK_TIMER_H

#include <bsd/sys/queue.h>
#include <stdbool.h>
#include <stdint.h>

#include "nsref.h"

struct nstack;

#define TIMER_WHEEL_SLOTS 4096 /* level 0: power of two, in milliseconds */
#define TIMER_L1_SLOTS	  1024 /* level 1: power of two */
#define TIMER_L1_MS	  256  /* the span of a level-1 slot, a power of two */

struct timer_list {
	LIST_ENTRY(timer_list) entry;
	uint64_t expires; /* microseconds on the stack clock */
	nsref_t function; /* void (*)(struct timer_list *), see nsref.h */
	bool pending;
	uint8_t level; /* 0, 1, or 2 (the overflow list) while pending */
	uint16_t slot; /* in its level */
	uint32_t gen;  /* the wheel's run_gen when armed */
};

LIST_HEAD(timer_slot, timer_list);

struct timer_wheel {
	struct timer_slot slots[TIMER_WHEEL_SLOTS];
	struct timer_slot l1[TIMER_L1_SLOTS];
	struct timer_slot far;
	uint64_t busy[TIMER_WHEEL_SLOTS / 64]; /* level-0 slots that hold timers */
	uint64_t l1_busy[TIMER_L1_SLOTS / 64];
	uint64_t clk_ms;    /* first slot not yet fully processed */
	uint64_t l1_clk;    /* first level-1 slot (absolute, ms / TIMER_L1_MS) not moved down */
	uint64_t far_min;   /* no overflow timer expires before this (us); UINT64_MAX: none */
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
