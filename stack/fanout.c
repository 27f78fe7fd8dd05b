/*
 * Receive spread over processes.
 *
 * One packet ring for a stack shared by several processes means that the
 * frames of every process's connections wake the ring's reader first and
 * reach their owner by mail: two wake-ups where the kernel has one, and a
 * second worker of a server that adds nothing. So every process whose
 * threads keep waiting on sockets (100 ms: stack.c, FAN_JOIN_AFTER_US)
 * opens a ring of its own, and all the stack's
 * rings are in one PACKET_FANOUT group: the kernel gives each frame to
 * exactly one of them, the one our classic BPF program picks (rx_steer),
 * by the frame's ports (ns_fan_bucket): both directions of a flow land
 * in the same ring, so a connection's frames are processed by the process
 * whose ring its SYN reached, which is then the one woken for it. Any
 * process can process any frame (the state is shared, under the stack
 * lock): a frame in the "wrong" ring costs a hop, never correctness.
 *
 * The program names members by their index in the kernel's group, which
 * is the order they joined, and when one leaves (its socket is closed)
 * the last one takes its place. The table here mirrors that: a ring joins
 * under the stack lock (ns_fan_add, as it enters the group) and a slot is
 * taken out when its process goes (ns_fan_remove, the same compaction).
 * Only processes that wait get frames (ns_fan_plan): an nginx master keeps
 * the ring it started the stack with, and its workers take the traffic.
 * Setting the program costs the kernel an RCU grace period (~10 ms here):
 * it is done without the lock, by one process at a time (fan_installer),
 * and again when the table changed meanwhile (fan_gen, fan_steered).
 */
#include <string.h>

#include "netdevice.h"
#include "stack.h"

/* Ring `slot` is now the group's last member (lock held). */
void ns_fan_add(struct nstack *ns, int slot)
{
	struct ns_procs *pt = ns->procs;

	pt->fan_slot[pt->fan_n++] = (int8_t)slot;
	pt->p[slot].fan_leaving = false;
	pt->fan_gen++;
}

/*
 * dev, this process's device, joins the stack's group as its last ring (a
 * new group when no ring is left in the old one); lock held. 0 or -errno.
 */
int ns_fan_enter(struct nstack *ns, struct net_device *dev)
{
	struct nstack_local *l = ns_local(ns);
	struct ns_procs *pt = ns->procs;
	uint32_t arg = pt->fan_n ? pt->fan_arg : 0;
	int err = dev->ops->rx_join ? dev->ops->rx_join(dev, &arg) : -EOPNOTSUPP;

	if (err)
		return err;
	if (!pt->fan_n)
		pt->fan_prog_n = 0; /* a new group: no program yet */
	pt->fan_arg = arg;
	ns_fan_add(ns, l->slot);
	l->rx_member = true;
	return 0;
}

/* The member index of slot's ring, or -1. */
int ns_fan_index(const struct nstack *ns, int slot)
{
	const struct ns_procs *pt = ns->procs;

	for (int i = 0; i < pt->fan_n; i++)
		if (pt->fan_slot[i] == slot)
			return i;
	return -1;
}

/* slot's ring left the group (its socket closed): the kernel's last member takes its index. */
bool ns_fan_remove(struct nstack *ns, int slot)
{
	struct ns_procs *pt = ns->procs;
	int i = ns_fan_index(ns, slot);

	if (i < 0)
		return false;
	pt->fan_slot[i] = pt->fan_slot[--pt->fan_n];
	pt->p[slot].fan_leaving = false;
	pt->fan_gen++;
	return true;
}

static bool fan_usable(const struct ns_procs *pt, int i)
{
	const struct ns_proc *p = &pt->p[pt->fan_slot[i]];

	return p->state == NS_PROC_LIVE && !p->fan_leaving;
}

/*
 * The program's table: member[k] for bucket k, one bucket per ring whose
 * process waits on sockets (every usable ring when none does); *dflt
 * takes the rest (ARP, ICMP, fragments): the driver's ring when it has
 * one. Returns the number of buckets (0: no usable ring).
 */
int ns_fan_plan(const struct nstack *ns, uint8_t *member, int *dflt)
{
	const struct ns_procs *pt = ns->procs;
	int n = 0;

	for (int i = 0; i < pt->fan_n; i++)
		if (fan_usable(pt, i) && pt->p[pt->fan_slot[i]].wait_last)
			member[n++] = (uint8_t)i;
	if (!n)
		for (int i = 0; i < pt->fan_n; i++)
			if (fan_usable(pt, i))
				member[n++] = (uint8_t)i;
	*dflt = n ? member[0] : 0;
	for (int i = 0; i < pt->fan_n; i++)
		if (pt->fan_slot[i] == pt->driver && fan_usable(pt, i))
			*dflt = i;
	return n;
}

/*
 * Sets the group's program for the table as it is, if it changed and no
 * other process is at it (lock held; released around the system call).
 * This process must have a ring in the group.
 */
void ns_fan_sync(struct nstack *ns)
{
	struct nstack_local *l = ns_local(ns);
	struct ns_procs *pt = ns->procs;
	struct net_device *dev = l->dev;
	uint8_t member[NS_MAX_PROCS];
	uint32_t gen = pt->fan_gen;
	int n, dflt, err = 0;

	if (pt->fan_steered == gen || pt->fan_installer >= 0 || !l->rx_member ||
	    !dev->ops->rx_steer)
		return;
	n = ns_fan_plan(ns, member, &dflt);
	/*
	 * Nobody to steer to: what is set stays. The same program as the
	 * group has: nothing to do (a process that only started to wait, a
	 * driver that moved, a ring that left from the end).
	 */
	if (!n || (n == pt->fan_prog_n && dflt == pt->fan_prog_dflt &&
		   !memcmp(member, pt->fan_prog, (size_t)n))) {
		pt->fan_steered = gen;
		return;
	}
	pt->fan_installer = l->slot;
	ns_unlock(ns);
	err = dev->ops->rx_steer(dev, member, (unsigned int)n, (unsigned int)dflt);
	ns_lock(ns);
	if (pt->fan_installer == l->slot)
		pt->fan_installer = -1;
	if (err) {
		if (!l->fan_steer_told)
			ns_err(ns, "cannot steer the link's frames between processes: %s",
			       strerror(-err));
		l->fan_steer_told = true;
		return;
	}
	pt->fan_steered = gen;
	pt->fan_prog_n = n;
	pt->fan_prog_dflt = dflt;
	memcpy(pt->fan_prog, member, (size_t)n);
	NS_INC_STATS(ns, EthRxSteerings);
	/* Changed while the system call ran: once more, on the next round. */
	if (pt->fan_steered != pt->fan_gen)
		nstack_wake_thread(ns);
}

/*
 * The buckets (of *n) whose frames the group's program sends to this
 * process's ring, as a mask (bit k: bucket k), for connect() to pick a
 * local port whose replies come back here; 0: no preference.
 */
uint64_t ns_fan_mine(const struct nstack *ns, unsigned int *n)
{
	const struct nstack_local *l = ns_local(ns);
	uint8_t member[NS_MAX_PROCS];
	uint64_t mask = 0;
	int idx, k, dflt;

	if (!ns->procs || !ns->procs->fan_arg || !l->rx_member)
		return 0;
	idx = ns_fan_index(ns, l->slot);
	k = ns_fan_plan(ns, member, &dflt);
	if (idx < 0 || k < 2)
		return 0;
	for (int i = 0; i < k; i++)
		if (member[i] == idx)
			mask |= 1ull << i;
	*n = (unsigned int)k;
	return mask;
}

/* Someone with a ring must set the program again: the first usable member's process. */
void ns_fan_kick(struct nstack *ns)
{
	struct ns_procs *pt = ns->procs;
	struct nstack_local *l = ns_local(ns);

	for (int i = 0; i < pt->fan_n; i++) {
		if (!fan_usable(pt, i))
			continue;
		if (pt->fan_slot[i] == l->slot)
			nstack_wake_thread(ns);
		else
			ns_mail_post(ns, pt->fan_slot[i], NS_MAIL_KICK, 0);
		return;
	}
}
