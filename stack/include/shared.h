/*
 * Sharing one stack between processes: the process table, each process's
 * mailbox, per-process references on sockets, who drives the link, and
 * what happens when a process dies. See shared.c.
 */
#ifndef NSTACK_SHARED_H
#define NSTACK_SHARED_H

#include <stdbool.h>
#include <stdint.h>

struct nstack;
struct socket;

#define NS_MAX_PROCS 64	  /* processes attached to one stack at once */
#define NS_MAILBOX   2048 /* pending cross-process notifications per process */

enum ns_mail_kind {
	NS_MAIL_WAKE = 1, /* arg: a wait token of the receiving process */
	NS_MAIL_EVENT,	  /* arg: struct socket * whose readiness changed */
	NS_MAIL_KICK,	  /* the driver must look at its timers and backlog again */
};

enum ns_proc_state { NS_PROC_FREE = 0, NS_PROC_LIVE, NS_PROC_FORKING };

struct ns_mail {
	uint32_t kind;
	uintptr_t arg;
};

/* A private descriptor that survives exec(): its number and its socket. */
struct ns_execfd {
	int fd;
	struct socket *sock;
};

struct ns_proc {
	int32_t pid;		    /* [S] */
	struct ns_execfd *exec_fds; /* [S] set by exec(), taken by the new image */
	uint32_t n_exec_fds;	    /* [S] */
	bool exec_pending;	    /* [S] exec() under way: the new image may attach */
	uint32_t state;		    /* [S] enum ns_proc_state */
	uint32_t mb_head;	    /* [S] next entry to take */
	uint32_t mb_tail;	    /* [S] next entry to fill */
	bool mb_overflow;	    /* [S] entries were lost: the process wakes everything */
	/* Its threads' waits on sockets (ns_proc_waits), for moving the driver (ns_now). */
	uint64_t wait_since; /* [S] start of the current run of waits */
	uint64_t wait_last;  /* [S] */
	bool no_move;	     /* [S] it could not or would not take the link: never asked again */
	bool no_fan;	     /* [S] its ring could not join the group (fanout.c): never again */
	bool fan_leaving;    /* [S] its ring is on its way out of the group: steer nothing to it */
	uint64_t rx_frames;  /* [S] frames it took from its device (nstack stat) */
	struct ns_mail mb[NS_MAILBOX]; /* [S] */
};

struct ns_procs {
	/* [S] slot of the process that receives frames and runs timers, -1: none; set */
	/* with ns_set_driver (nstack_is_driver reads it without the lock) */
	int driver;
	int handoff; /* [S] the driver's slot while it asks another process to take over, else -1 */
	int move_to; /* [S] slot the driver is moving to (stack.c, "Moving the driver"), else -1 */
	uint64_t move_stamp; /* [S] its device's first stamp (rx_clock); 0 until it is open */
	uint32_t gen;	     /* [S] bumped whenever a process attaches or goes */
	uint64_t id;	     /* [I] random: names this stack's doorbells */
	/* Receive spread over the processes' rings (fanout.c). */
	uint32_t fan_arg;	       /* [S] PACKET_FANOUT argument of the group; 0: no group */
	int fan_n;		       /* [S] rings in it */
	int8_t fan_slot[NS_MAX_PROCS]; /* [S] process slot of each ring, in the kernel's order */
	uint32_t fan_gen;	       /* [S] bumped when the rings or who waits change */
	uint32_t fan_steered;	       /* [S] the fan_gen the group's program was made for */
	int fan_installer;	       /* [S] slot setting the program now, else -1 */
	/* The program the group has (ns_fan_plan's answer); fan_prog_n 0: none. */
	int fan_prog_n, fan_prog_dflt;	/* [S] */
	uint8_t fan_prog[NS_MAX_PROCS]; /* [S] */
	struct ns_proc p[NS_MAX_PROCS];
};

/* Makes slot (-1: nobody) the driver (stack lock held; atomic for nstack_is_driver). */
static inline void ns_set_driver(struct ns_procs *pt, int slot)
{
	__atomic_store_n(&pt->driver, slot, __ATOMIC_RELEASE);
}

int ns_procs_init(struct nstack *ns);
void ns_procs_exit(struct nstack *ns);
/* Queues a notification for process slot and rings its doorbell when the box was empty. */
void ns_mail_post(struct nstack *ns, int slot, enum ns_mail_kind kind, uintptr_t arg);
/* sock's readiness changed: tell every process that holds it. */
void ns_sock_event(struct nstack *ns, struct socket *sock);
/* Drops everything process slot held (it exited or died) and frees the slot. */
void ns_proc_reap(struct nstack *ns, int slot);
/* Receive spread over the processes' rings (fanout.c); stack lock held. */
struct net_device;
int ns_fan_enter(struct nstack *ns, struct net_device *dev);
void ns_fan_add(struct nstack *ns, int slot);
bool ns_fan_remove(struct nstack *ns, int slot);
int ns_fan_index(const struct nstack *ns, int slot);
int ns_fan_plan(const struct nstack *ns, uint8_t *member, int *dflt);
void ns_fan_sync(struct nstack *ns);
void ns_fan_kick(struct nstack *ns);
uint64_t ns_fan_mine(const struct nstack *ns, unsigned int *n);

/* Handles this process's mailbox (stack lock held). */
void ns_mail_drain(struct nstack *ns);

/*
 * This process's handle for sock (nstack_sock_set_file), found by the
 * socket's address alone: sock may already be freed (a mailbox entry about
 * a socket another process closed). Stack lock held.
 */
void *ns_sock_file(struct nstack *ns, const struct socket *sock);

#endif
