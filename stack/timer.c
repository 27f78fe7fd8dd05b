/* The timer wheel (see timer.h for the design). */
#include <stddef.h>

#include "stack.h"
#include "timer.h"

#define SLOT_MASK (TIMER_WHEEL_SLOTS - 1)

/* Prepares an empty wheel whose clock starts at now_us. */
void timer_wheel_init(struct timer_wheel *w, uint64_t now_us)
{
	for (unsigned int i = 0; i < TIMER_WHEEL_SLOTS; i++)
		LIST_INIT(&w->slots[i]);
	w->clk_ms = now_us / 1000;
	w->count = 0;
}

/* Initialises a timer that calls fn when it fires. */
void timer_setup(struct timer_list *t, void (*fn)(struct timer_list *t))
{
	t->function = ns_ref((const void *)fn);
	t->pending = false;
	t->expires = 0;
}

static void timer_detach(struct timer_wheel *w, struct timer_list *t)
{
	LIST_REMOVE(t, entry);
	t->pending = false;
	w->count--;
}

/* Arms t to fire at expires_us (absolute), moving it if it was pending. */
void mod_timer(struct nstack *ns, struct timer_list *t, uint64_t expires_us)
{
	struct timer_wheel *w = &ns->timers;
	uint64_t ms = expires_us / 1000;

	if (t->pending)
		timer_detach(w, t);
	/* An expiry in the past goes in the current slot: it fires next run. */
	if (ms < w->clk_ms)
		ms = w->clk_ms;
	t->expires = expires_us;
	t->pending = true;
	t->gen = w->run_gen;
	LIST_INSERT_HEAD(&w->slots[ms & SLOT_MASK], t, entry);
	w->count++;
	if (expires_us < ns->thread_sleep_until) {
		/*
		 * One kick until the thread has re-read its deadline: it may be
		 * waiting for the lock we hold, while a sender re-arms a timer
		 * per segment (20 000 eventfd writes a second in iperf3).
		 */
		ns->thread_sleep_until = 0;
		nstack_kick(ns);
	}
}

/* Disarms t; true if it was pending. */
bool del_timer(struct nstack *ns, struct timer_list *t)
{
	if (!t->pending)
		return false;
	timer_detach(&ns->timers, t);
	return true;
}

/* Fires the first due timer in slot; false when none is due. */
static bool run_one(struct nstack *ns, struct timer_slot *slot, uint64_t now)
{
	struct timer_list *t, *due = NULL;

	/* Earliest first, so timers of one millisecond fire in expiry order. */
	LIST_FOREACH(t, slot, entry)
	if (t->expires <= now && t->gen != ns->timers.run_gen &&
	    (!due || t->expires < due->expires))
		due = t;
	if (!due)
		return false;
	timer_detach(&ns->timers, due);
	NS_FN(void (*)(struct timer_list *), due->function)(due);
	return true;
}

/* Fires every timer whose expiry is at or before the stack clock. */
void timers_run(struct nstack *ns)
{
	struct timer_wheel *w = &ns->timers;
	uint64_t now = ns_now(ns);
	uint64_t now_ms = now / 1000;
	uint64_t ms = w->clk_ms;
	uint64_t last = now_ms;

	if (w->count == 0) {
		if (now_ms > w->clk_ms)
			w->clk_ms = now_ms;
		return;
	}
	/*
	 * Timers armed by callbacks during this run carry the new generation
	 * and wait for the next run, so a callback that re-arms in the past
	 * cannot loop; they land in the current millisecond's slot, where the
	 * next run starts.
	 */
	w->run_gen++;
	w->clk_ms = now_ms;
	/* After a jump longer than the wheel, one revolution visits every slot. */
	if (now_ms - ms >= TIMER_WHEEL_SLOTS)
		ms = now_ms - (TIMER_WHEEL_SLOTS - 1);
	for (; ms <= last; ms++) {
		while (run_one(ns, &w->slots[ms & SLOT_MASK], now))
			;
	}
}

/* The earliest pending expiry, or UINT64_MAX. */
uint64_t timers_next(struct nstack *ns)
{
	struct timer_wheel *w = &ns->timers;
	uint64_t best = UINT64_MAX;

	if (w->count == 0)
		return UINT64_MAX;
	for (uint64_t k = 0; k < TIMER_WHEEL_SLOTS; k++) {
		struct timer_list *t;
		uint64_t ms = w->clk_ms + k;

		LIST_FOREACH(t, &w->slots[ms & SLOT_MASK], entry)
		{
			/* Overdue timers sit in the current slot; later rounds are skipped. */
			if (t->expires / 1000 <= ms && t->expires < best)
				best = t->expires;
		}
		if (best != UINT64_MAX)
			return best;
	}
	/* Everything is more than one revolution away: wake at the wheel's end. */
	return (w->clk_ms + TIMER_WHEEL_SLOTS) * 1000;
}
