/*
 * One stack, several processes.
 *
 * Every process that uses the stack has a slot in the process table (in the
 * arena). A slot carries a mailbox: notifications that only the owning
 * process can act on, because they name things of its own (a sleeping
 * thread's wait token, its file for a socket that became ready), or
 * because it drives the link (a timer armed earlier than it planned to
 * wake). Posting rings the process's doorbell through the embedder
 * (hooks.ring); the process's stack thread wakes and drains the box.
 *
 * Sockets are held like open file descriptions: bit `slot` of
 * socket->holders says process `slot` has descriptors for it. A fork child
 * starts with its parent's holds; nstack_close() drops the caller's; the
 * last one out releases the socket. When a process dies, whoever notices
 * (the driver, watching every other process's pidfd; the others, watching
 * the driver's) reaps its slot: its holds, its calls in progress and its
 * sleepers' registrations go, so its connections close as the kernel
 * closes a dead process's sockets.
 */
#include <string.h>
#include <unistd.h>

#include "sock.h"
#include "stack.h"
#include "tcp.h"

/* Allocates the process table and enters the creating process as its first slot. */
int ns_procs_init(struct nstack *ns)
{
	struct ns_procs *pt = ns_zalloc(ns, sizeof(*pt));
	struct nstack_local *l = ns_local(ns);

	if (!pt)
		return -ENOMEM;
	pt->id = ((uint64_t)ns_random32(ns) << 32) | ns_random32(ns);
	pt->p[0].pid = getpid();
	pt->p[0].state = NS_PROC_LIVE;
	ns_set_driver(pt, 0);
	pt->handoff = -1;
	pt->move_to = -1;
	pt->fan_installer = -1;
	ns->procs = pt;
	l->slot = 0;
	return 0;
}

void ns_procs_exit(struct nstack *ns)
{
	ns_free(ns, ns->procs);
	ns->procs = NULL;
}

/* Queues kind/arg for slot; see shared.h. */
void ns_mail_post(struct nstack *ns, int slot, enum ns_mail_kind kind, uintptr_t arg)
{
	struct nstack_local *l = ns_local(ns);
	struct ns_proc *p;
	bool was_empty;

	if (slot < 0 || slot >= NS_MAX_PROCS)
		return;
	p = &ns->procs->p[slot];
	if (p->state != NS_PROC_LIVE)
		return;
	was_empty = p->mb_head == p->mb_tail && !p->mb_overflow;
	if (p->mb_tail - p->mb_head >= NS_MAILBOX) {
		p->mb_overflow = true; /* the process will wake every sleeper it has */
	} else {
		p->mb[p->mb_tail % NS_MAILBOX] = (struct ns_mail){.kind = kind, .arg = arg};
		p->mb_tail++;
	}
	if (was_empty && l->hooks.ring)
		l->hooks.ring(l->hooks.ctx, slot, ns->procs->id);
}

/* Readiness of sock changed: this process's file now, the other holders by mail. */
void ns_sock_event(struct nstack *ns, struct socket *sock)
{
	struct nstack_local *l = ns_local(ns);
	uint64_t others =
	    sock->holders & __atomic_load_n(&sock->watchers, __ATOMIC_SEQ_CST) & ~(1ull << l->slot);

	if (l->hooks.sock_event && (sock->holders & (1ull << l->slot)))
		l->hooks.sock_event(l->hooks.ctx, sock);
	/*
	 * A listener's connection made from this process's own ring
	 * (fanout.c) is this process's to accept when it watches the listener
	 * too: the connection's frames come to that ring, and accepted
	 * elsewhere each would take a hop (SO_REUSEPORT steers the same way).
	 * Only while its threads call epoll_wait: a fork child that inherited
	 * the registration and never looks at it must not keep connections.
	 */
	if (others && l->rx_member && sock->sk && sock->sk->sk_state == TCP_LISTEN &&
	    (sock->holders & __atomic_load_n(&sock->watchers, __ATOMIC_RELAXED) &
	     (1ull << l->slot)) &&
	    !ns->procs->p[l->slot].fan_leaving && ns_epoll_active(ns))
		others = 0;
	while (others) {
		int slot = __builtin_ctzll(others);

		others &= others - 1;
		ns_mail_post(ns, slot, NS_MAIL_EVENT, (uintptr_t)sock);
	}
}

/* Takes what other processes posted to us; stack lock held. */
void ns_mail_drain(struct nstack *ns)
{
	struct nstack_local *l = ns_local(ns);
	struct ns_proc *p;

	if (l->slot < 0)
		return;
	p = &ns->procs->p[l->slot];
	while (p->mb_head != p->mb_tail) {
		struct ns_mail m = p->mb[p->mb_head % NS_MAILBOX];

		p->mb_head++;
		switch (m.kind) {
		case NS_MAIL_WAKE:
			if (l->hooks.wake_token)
				l->hooks.wake_token(l->hooks.ctx, (void *)m.arg);
			break;
		case NS_MAIL_EVENT: {
			struct socket *sock = (struct socket *)m.arg;

			/*
			 * Only sockets this process still has a file for: it may
			 * be gone, its memory reused, so it is not dereferenced
			 * to find out (nstack_sock_file() would read sock->ns).
			 */
			if (l->hooks.sock_event && ns_sock_file(ns, sock))
				l->hooks.sock_event(l->hooks.ctx, sock);
			break;
		}
		case NS_MAIL_KICK:
		default:
			break;
		}
	}
	p->mb_head = p->mb_tail = 0;
	if (p->mb_overflow) {
		p->mb_overflow = false;
		if (l->hooks.wake_all)
			l->hooks.wake_all(l->hooks.ctx);
	}
}

/* Everything slot held goes; see shared.h. */
void ns_proc_reap(struct nstack *ns, int slot)
{
	struct ns_proc *p = &ns->procs->p[slot];
	uint64_t bit = 1ull << slot;
	struct socket *sock, *next;
	int pid = p->pid;

	if (p->state == NS_PROC_FREE)
		return;
	ns_free(ns, p->exec_fds);
	p->exec_fds = NULL;
	p->n_exec_fds = 0;
	p->exec_pending = false;
	p->state = NS_PROC_FREE;
	p->pid = 0;
	p->mb_head = p->mb_tail = 0;
	p->mb_overflow = false;
	ns->procs->gen++;
	if (ns->procs->driver == slot)
		ns_set_driver(ns->procs, -1);
	if (ns->procs->handoff == slot)
		ns->procs->handoff = -1;
	if (ns->procs->move_to == slot) {
		ns->procs->move_to = -1;
		ns->procs->move_stamp = 0;
	}
	if (ns->procs->fan_installer == slot)
		ns->procs->fan_installer = -1;
	if (ns->procs->fan_arg && ns_fan_remove(ns, slot))
		ns_fan_kick(ns);
	for (sock = LIST_FIRST(&ns->sockets); sock; sock = next) {
		next = LIST_NEXT(sock, all);
		if (sock->sk)
			sk_waiters_drop_slot(sock->sk, slot);
		sock->users -= sock->users_by_slot[slot];
		sock->users_by_slot[slot] = 0;
		if (sock->holders & bit) {
			sock->holders &= ~bit;
			__atomic_fetch_and(&sock->watchers, ~bit, __ATOMIC_RELAXED);
			sock_release_unheld(sock);
		} else if (!sock->holders && sock->release_pending && !sock->users) {
			sock_release(sock);
		}
	}
	ns_info(ns, "process %d left the stack", pid);
}

/*
 * fork(), in the parent before the system call: reserves the child's slot
 * and gives it every hold the parent has, with the stack lock held across
 * the fork so nothing changes in between. Returns the slot, or -errno (lock
 * not held then).
 */
int nstack_fork_prepare(struct nstack *ns)
{
	struct nstack_local *l = ns_local(ns);
	uint64_t pbit = 1ull << l->slot;
	struct socket *sock;
	int slot;

	ns_lock(ns);
	for (slot = 0; slot < NS_MAX_PROCS; slot++)
		if (ns->procs->p[slot].state == NS_PROC_FREE)
			break;
	if (slot == NS_MAX_PROCS) {
		nstack_unlock(ns);
		return -EMFILE;
	}
	ns->procs->p[slot] = (struct ns_proc){.state = NS_PROC_FORKING};
	ns->procs->gen++;
	LIST_FOREACH(sock, &ns->sockets, all)
	if (sock->holders & pbit) {
		sock->holders |= 1ull << slot;
		/* Its copies of our epoll sets watch what ours do. */
		if (__atomic_load_n(&sock->watchers, __ATOMIC_RELAXED) & pbit)
			__atomic_fetch_or(&sock->watchers, 1ull << slot, __ATOMIC_RELAXED);
	}
	return slot;
}

/* fork() returned pid in the parent (-1: it failed and the holds go back). */
void nstack_fork_parent(struct nstack *ns, int slot, pid_t pid)
{
	if (pid > 0) {
		ns->procs->p[slot].pid = pid;
		ns->procs->p[slot].state = NS_PROC_LIVE;
	} else {
		ns->procs->p[slot].state = NS_PROC_LIVE; /* so that reaping undoes it */
		ns_proc_reap(ns, slot);
	}
	nstack_unlock(ns);
}

/*
 * The child's side: it is process `slot` now. The lock is still the
 * parent's (it releases it); nothing here takes it. The per-process state
 * inherited from the parent is repaired: no stack thread, no wake-up fd,
 * no pidfds (the embedder closes the inherited descriptors it knows).
 */
void nstack_fork_child(struct nstack *ns, int slot)
{
	struct nstack_local *l = ns_local(ns);

	__atomic_store_n(&ns->procs->p[slot].pid, getpid(), __ATOMIC_RELAXED);
	l->slot = slot;
	l->thread_running = false;
	l->thread_stop = false;
	/* The parent's direct receiver, if one slept, is not ours. */
	l->rx_direct = false;
	l->mail_direct = false;
	l->mail_lease_until = 0;
	l->mail_untimed = false;
	/* Super-frames the parent's device still sends from are the parent's to free. */
	if (l->dev)
		dev_tx_fork_child(l->dev);
	/* The parent's ring in the group stays the parent's: the embedder forgets it. */
	l->fork_ring = l->rx_member;
	l->rx_member = false;
	l->move_fan = false;
	l->fan_exec_ring = false;
	l->epoll_last = 0;
	l->fan_join_at = 0;
	/* A device the parent's thread was opening for a move is the parent's. */
	l->move_state = 0;
	l->move_dev = NULL;
	l->move_tx = false;
	l->shrink_pending = false;
	l->rx_lease_until = 0;
	l->thread_untimed = false;
	if (l->wake_fd >= 0)
		ns_close_own(ns, l->wake_fd);
	l->wake_fd = -1;
	l->doorbell_fd = -1;
	if (l->epfd >= 0)
		ns_close_own(ns, l->epfd);
	l->epfd = -1;
	for (int i = 0; i < NS_MAX_PROCS; i++) {
		if (l->pidfd[i] >= 0)
			ns_close_own(ns, l->pidfd[i]);
		l->pidfd[i] = -1;
		l->pidfd_pid[i] = 0;
	}
}

/* This process's slot in the process table. */
int nstack_proc_slot(const struct nstack *ns)
{
	return ns_local(ns)->slot;
}

/* The random id of the stack (names its doorbells). */
uint64_t nstack_shared_id(const struct nstack *ns)
{
	return ns->procs->id;
}

/* Sets the fd the stack thread watches for its mailbox's doorbell. */
void nstack_set_doorbell_fd(struct nstack *ns, int fd)
{
	ns_local(ns)->doorbell_fd = fd;
}

/* Number of processes attached. */
int nstack_proc_count(struct nstack *ns)
{
	int n = 0;

	nstack_lock(ns);
	for (int i = 0; i < NS_MAX_PROCS; i++)
		n += ns->procs->p[i].state != NS_PROC_FREE;
	nstack_unlock(ns);
	return n;
}

/*
 * exec(): the descriptors the new image inherits (non-close-on-exec private
 * fds), for it to find when it maps the stack again. Replaces an earlier
 * record. 0 or -ENOMEM.
 */
int nstack_exec_record(struct nstack *ns, const int *fds, struct socket *const *socks, int n)
{
	struct ns_proc *p;
	struct ns_execfd *e = NULL;

	ns_lock(ns);
	p = &ns->procs->p[ns_local(ns)->slot];
	if (n > 0 && !(e = ns_zalloc(ns, (size_t)n * sizeof(*e)))) {
		nstack_unlock(ns);
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++)
		e[i] = (struct ns_execfd){.fd = fds[i], .sock = socks[i]};
	ns_free(ns, p->exec_fds);
	p->exec_fds = e;
	p->n_exec_fds = (uint32_t)n;
	p->exec_pending = true;
	nstack_unlock(ns);
	return 0;
}

/*
 * The new image, attached to its slot: the descriptors it inherited, up to
 * max. Sockets the old image held but did not pass on (close-on-exec ones,
 * closed by exec) are let go now, as exec would have closed them.
 */
int nstack_exec_fds(struct nstack *ns, int *fds, struct socket **socks, int max)
{
	struct nstack_local *l = ns_local(ns);
	struct ns_proc *p;
	struct socket *sock, *next;
	uint64_t bit = 1ull << l->slot;
	int n = 0;

	ns_lock(ns);
	p = &ns->procs->p[l->slot];
	for (sock = LIST_FIRST(&ns->sockets); sock; sock = next) {
		bool kept = false;

		next = LIST_NEXT(sock, all);
		if (!(sock->holders & bit))
			continue;
		for (uint32_t i = 0; i < p->n_exec_fds; i++)
			kept |= p->exec_fds[i].sock == sock;
		if (!kept) {
			sock->holders &= ~bit;
			__atomic_fetch_and(&sock->watchers, ~bit, __ATOMIC_RELAXED);
			sock_release_unheld(sock);
		}
	}
	for (uint32_t i = 0; i < p->n_exec_fds && n < max; i++, n++) {
		fds[n] = p->exec_fds[i].fd;
		socks[n] = p->exec_fds[i].sock;
	}
	ns_free(ns, p->exec_fds);
	p->exec_fds = NULL;
	p->n_exec_fds = 0;
	p->exec_pending = false;
	nstack_unlock(ns);
	return n;
}

/*
 * This process is leaving (exit): if it drives the link, another process
 * is asked to take over while it still drives, so that no frame falls in
 * between. Returns whether somebody was asked (then wait for
 * nstack_is_driver() to turn false).
 */
bool nstack_hand_over(struct nstack *ns)
{
	struct nstack_local *l = ns_local(ns);
	bool asked = false;

	ns_lock(ns);
	l->no_drive = true;
	/* With a group, the driver's part goes to another ring (stack.c, ns_fan_hand_over). */
	if (ns->procs->driver == l->slot && ns->procs->fan_arg && l->rx_member)
		asked = ns_fan_hand_over(ns) || ns_ask_take_over(ns);
	/* The move protocol first (stack.c): it loses no frame between the two rings. */
	else if (ns->procs->driver == l->slot)
		asked = ns_move_for_exit(ns) || ns_ask_take_over(ns);
	nstack_unlock(ns);
	return asked;
}

/*
 * The driver leaves without a move: every other process is asked, and the
 * first to open the link takes it (try_take_over). Lock held; false when
 * nobody is left to ask.
 */
bool ns_ask_take_over(struct nstack *ns)
{
	struct nstack_local *l = ns_local(ns);
	bool asked = false;

	for (int i = 0; i < NS_MAX_PROCS; i++) {
		if (i != l->slot && ns->procs->p[i].state == NS_PROC_LIVE) {
			ns_mail_post(ns, i, NS_MAIL_KICK, 0);
			asked = true;
		}
	}
	if (asked)
		ns->procs->handoff = l->slot;
	return asked;
}

/* Whether this process drives the link now. */
bool nstack_is_driver(struct nstack *ns)
{
	return __atomic_load_n(&ns->procs->driver, __ATOMIC_ACQUIRE) == ns_local(ns)->slot;
}
