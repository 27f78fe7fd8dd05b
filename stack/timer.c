/* The timer wheel (see timer.h for the design). */
#include <stddef.h>
#include <string.h>

#include "stack.h"
#include "timer.h"

#define SLOT_MASK (TIMER_WHEEL_SLOTS - 1)
#define L1_MASK	  (TIMER_L1_SLOTS - 1)

/* The first level-1 slot (absolute) that reaches past the near horizon of clk_ms. */
static uint64_t l1_first(uint64_t clk_ms)
{
	return (clk_ms + TIMER_WHEEL_SLOTS) / TIMER_L1_MS;
}

/* The clock (us) at which the first level-1 slot not moved down becomes l. */
static uint64_t l1_reach_us(uint64_t l)
{
	uint64_t ms = l * TIMER_L1_MS;

	return ms > TIMER_WHEEL_SLOTS ? (ms - TIMER_WHEEL_SLOTS) * 1000 : 0;
}

static void bit_set(uint64_t *m, unsigned int i)
{
	m[i / 64] |= 1ull << (i % 64);
}

static void bit_clear(uint64_t *m, unsigned int i)
{
	m[i / 64] &= ~(1ull << (i % 64));
}

static bool bit_test(const uint64_t *m, unsigned int i)
{
	return (m[i / 64] >> (i % 64)) & 1;
}

/* The first set bit at or after start, going round nbits once; -1 when none. */
static int next_bit(const uint64_t *m, unsigned int nbits, unsigned int start)
{
	unsigned int nw = nbits / 64, w = start / 64;

	for (unsigned int i = 0; i <= nw; i++, w = (w + 1) % nw) {
		uint64_t cur = m[w];

		if (i == 0)
			cur &= ~0ull << (start % 64);
		else if (i == nw)
			cur &= start % 64 ? ~(~0ull << (start % 64)) : 0;
		if (cur)
			return (int)(w * 64 + (unsigned int)__builtin_ctzll(cur));
	}
	return -1;
}

/* Prepares an empty wheel whose clock starts at now_us. */
void timer_wheel_init(struct timer_wheel *w, uint64_t now_us)
{
	for (unsigned int i = 0; i < TIMER_WHEEL_SLOTS; i++)
		LIST_INIT(&w->slots[i]);
	for (unsigned int i = 0; i < TIMER_L1_SLOTS; i++)
		LIST_INIT(&w->l1[i]);
	LIST_INIT(&w->far);
	memset(w->busy, 0, sizeof(w->busy));
	memset(w->l1_busy, 0, sizeof(w->l1_busy));
	w->clk_ms = now_us / 1000;
	w->l1_clk = l1_first(w->clk_ms);
	w->far_min = UINT64_MAX;
	w->count = 0;
	w->run_gen = 0;
}

/* Initialises a timer that calls fn when it fires. */
void timer_setup(struct timer_list *t, void (*fn)(struct timer_list *t))
{
	t->function = ns_ref((const void *)fn);
	t->pending = false;
	t->expires = 0;
}

/* Puts t (not in any list) where its expiry belongs relative to the wheel's clock. */
static void wheel_insert(struct timer_wheel *w, struct timer_list *t)
{
	uint64_t ms = t->expires / 1000;

	/* An expiry in the past goes in the current slot: it fires next run. */
	if (ms < w->clk_ms)
		ms = w->clk_ms;
	if (ms - w->clk_ms < TIMER_WHEEL_SLOTS) {
		t->level = 0;
		t->slot = (uint16_t)(ms & SLOT_MASK);
		LIST_INSERT_HEAD(&w->slots[t->slot], t, entry);
		bit_set(w->busy, t->slot);
	} else if (ms / TIMER_L1_MS - w->l1_clk < TIMER_L1_SLOTS) {
		t->level = 1;
		t->slot = (uint16_t)((ms / TIMER_L1_MS) & L1_MASK);
		LIST_INSERT_HEAD(&w->l1[t->slot], t, entry);
		bit_set(w->l1_busy, t->slot);
	} else {
		t->level = 2;
		t->slot = 0;
		LIST_INSERT_HEAD(&w->far, t, entry);
		if (t->expires < w->far_min)
			w->far_min = t->expires;
	}
}

static void timer_detach(struct timer_wheel *w, struct timer_list *t)
{
	LIST_REMOVE(t, entry);
	if (t->level == 0 && LIST_EMPTY(&w->slots[t->slot]))
		bit_clear(w->busy, t->slot);
	else if (t->level == 1 && LIST_EMPTY(&w->l1[t->slot]))
		bit_clear(w->l1_busy, t->slot);
	t->pending = false;
	w->count--;
}

/* Arms t to fire at expires_us (absolute), moving it if it was pending. */
void mod_timer(struct nstack *ns, struct timer_list *t, uint64_t expires_us)
{
	struct timer_wheel *w = &ns->timers;

	if (t->pending)
		timer_detach(w, t);
	t->expires = expires_us;
	t->pending = true;
	t->gen = w->run_gen;
	wheel_insert(w, t);
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

/*
 * The clock moved on to clk_ms: level-1 slots the near horizon now covers
 * move down, and overflow timers level 1 now covers move up to it.
 */
static void wheel_cascade(struct timer_wheel *w)
{
	uint64_t want = l1_first(w->clk_ms);
	struct timer_list *t;

	/* After a long sleep, one revolution visits every level-1 slot. */
	if (want - w->l1_clk > TIMER_L1_SLOTS)
		w->l1_clk = want - TIMER_L1_SLOTS;
	for (; w->l1_clk < want; w->l1_clk++) {
		unsigned int i = (unsigned int)(w->l1_clk & L1_MASK);

		if (!bit_test(w->l1_busy, i))
			continue;
		bit_clear(w->l1_busy, i);
		while ((t = LIST_FIRST(&w->l1[i])) != NULL) {
			LIST_REMOVE(t, entry);
			wheel_insert(w, t);
		}
	}
	/* (Also when far_min is already behind level 1: after a clock jump, say.) */
	if (w->far_min != UINT64_MAX &&
	    w->far_min / 1000 / TIMER_L1_MS < w->l1_clk + TIMER_L1_SLOTS) {
		struct timer_slot all = LIST_HEAD_INITIALIZER(all);

		/* Rare (keepalive-length timers): re-place them all, which also renews far_min. */
		while ((t = LIST_FIRST(&w->far)) != NULL) {
			LIST_REMOVE(t, entry);
			LIST_INSERT_HEAD(&all, t, entry);
		}
		w->far_min = UINT64_MAX;
		while ((t = LIST_FIRST(&all)) != NULL) {
			LIST_REMOVE(t, entry);
			wheel_insert(w, t);
		}
	}
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

	if (w->count == 0) {
		if (now_ms > w->clk_ms) {
			w->clk_ms = now_ms;
			w->l1_clk = l1_first(now_ms);
			w->far_min = UINT64_MAX;
		}
		return;
	}
	/*
	 * Timers armed by callbacks during this run carry the new generation
	 * and wait for the next run, so a callback that re-arms in the past
	 * cannot loop; they land in the current millisecond's slot, where the
	 * next run starts.
	 */
	w->run_gen++;
	if (now_ms > w->clk_ms) {
		w->clk_ms = now_ms;
		wheel_cascade(w);
	}
	/* After a jump longer than the wheel, one revolution visits every slot. */
	if (now_ms >= ms && now_ms - ms >= TIMER_WHEEL_SLOTS)
		ms = now_ms - (TIMER_WHEEL_SLOTS - 1);
	/* Busy slots only, by the bitmap: after a sleep of seconds that saves ~4000 steps. */
	for (; ms <= now_ms; ms++) {
		unsigned int start = (unsigned int)(ms & SLOT_MASK);
		int k = next_bit(w->busy, TIMER_WHEEL_SLOTS, start);

		if (k < 0)
			break;
		ms += ((unsigned int)k - start) & SLOT_MASK;
		if (ms > now_ms)
			break;
		while (run_one(ns, &w->slots[k], now))
			;
	}
}

/* The earliest pending expiry, or UINT64_MAX; for far timers, when they must be looked at. */
uint64_t timers_next(struct nstack *ns)
{
	struct timer_wheel *w = &ns->timers;
	int k;

	if (w->count == 0)
		return UINT64_MAX;
	k = next_bit(w->busy, TIMER_WHEEL_SLOTS, (unsigned int)(w->clk_ms & SLOT_MASK));
	if (k >= 0) {
		uint64_t best = UINT64_MAX;
		struct timer_list *t;

		/* The slot's timers all expire in one millisecond (or are overdue). */
		LIST_FOREACH(t, &w->slots[k], entry)
		if (t->expires < best)
			best = t->expires;
		return best;
	}
	k = next_bit(w->l1_busy, TIMER_L1_SLOTS, (unsigned int)(w->l1_clk & L1_MASK));
	if (k >= 0) {
		uint64_t l = w->l1_clk + (((unsigned int)k - (w->l1_clk & L1_MASK)) & L1_MASK);

		/* Before any of its timers: when the slot moves down to level 0. */
		return l1_reach_us(l + 1);
	}
	if (w->far_min != UINT64_MAX)
		return l1_reach_us(w->far_min / 1000 / TIMER_L1_MS - TIMER_L1_SLOTS + 1);
	return UINT64_MAX;
}
