/*
 * Reassembly queues shared by IPv4 (ip_fragment.c) and IPv6
 * (reassembly.c), as Linux's net/ipv4/inet_fragment.c: queues keyed by
 * addresses and identification, the fragments of each kept sorted by
 * offset, duplicates and overlaps told apart (RFC 5722), the length fixed
 * by the last fragment, one timer per queue, and the memory of all queues
 * of a family bounded (high and low thresholds, the oldest queues giving
 * way). The families keep their own header checks, counters and
 * reassembled headers.
 */
#ifndef NSTACK_INET_FRAG_H
#define NSTACK_INET_FRAG_H

#include <bsd/sys/queue.h>
#include <stddef.h>
#include <stdint.h>

#include "skbuff.h"
#include "timer.h"

struct nstack;

#define INET_FRAG_FIRST_IN 0x1 /* the fragment at offset 0 is held */
#define INET_FRAG_LAST_IN  0x2 /* the fragment without "more fragments" is held */

/* A queue's key: zero-padded and compared whole (IPv4 uses the first 4 bytes of each address). */
struct inet_frag_key {
	uint8_t saddr[16];
	uint8_t daddr[16];
	uint32_t id;
	uint32_t protocol; /* IPv4 only; 0 for IPv6 */
};

/* Kept in skb->cb while a fragment waits in a queue. */
struct inet_frag_cb {
	unsigned int offset; /* payload offset in the datagram */
	unsigned int end;    /* offset + payload length */
};

static inline struct inet_frag_cb *INET_FRAG_CB(struct sk_buff *skb)
{
	_Static_assert(sizeof(struct inet_frag_cb) <= sizeof(skb->cb), "cb too small");
	return (struct inet_frag_cb *)skb->cb;
}

/* One datagram being reassembled; a family's queue embeds it first. */
struct inet_frag_queue {
	TAILQ_ENTRY(inet_frag_queue) lru; /* [S] oldest first */
	struct inet_frags *f;		  /* [I] */
	struct inet_frag_key key;	  /* [I] */
	unsigned int flags;		  /* [S] INET_FRAG_* */
	unsigned int len;	   /* [S] payload length once known (or the highest end seen) */
	unsigned int meat;	   /* [S] payload bytes held */
	size_t mem;		   /* [S] truesize of the fragments held */
	struct sk_buff_head frags; /* [S] sorted by offset, payload at skb->data */
	struct timer_list timer;   /* [S] the reassembly timeout */
};

TAILQ_HEAD(inet_frag_list, inet_frag_queue);

/* All queues of one family (Linux's fqdir). */
struct inet_frags {
	struct nstack *ns;		/* [I] */
	struct inet_frag_list queues;	/* [S] oldest first */
	unsigned int nqueues;		/* [S] */
	size_t mem;			/* [S] truesize held by all queues */
	size_t high_thresh, low_thresh; /* [S] as net.ipv{4,6}.ip{,6}frag_{high,low}_thresh */
	uint64_t timeout_us;		/* [S] as ipfrag_time / ip6frag_time */
};

/* What inet_frag_queue_add() did with a fragment. */
enum inet_frag_result {
	INET_FRAG_QUEUED,   /* held; the datagram is not complete yet */
	INET_FRAG_COMPLETE, /* held, and every byte of the datagram is there */
	INET_FRAG_DUP,	    /* a duplicate of what is held: not taken */
	INET_FRAG_OVERLAP,  /* overlaps what is held otherwise (RFC 5722): not taken */
	INET_FRAG_BAD,	    /* contradicts the length known, or empty: not taken */
};

void inet_frags_init(struct inet_frags *f, struct nstack *ns, size_t high_thresh,
		     uint64_t timeout_us);
/* Destroys every queue of f. */
void inet_frags_exit(struct inet_frags *f);
/*
 * The queue for key, or a new one of qsize bytes (a family's struct with
 * the inet_frag_queue first) whose timer runs expire after f->timeout_us;
 * NULL when out of memory.
 */
struct inet_frag_queue *inet_frag_find(struct inet_frags *f, const struct inet_frag_key *key,
				       size_t qsize, void (*expire)(struct timer_list *t));
/* Frees a queue and every fragment in it. */
void inet_frag_destroy(struct inet_frag_queue *q);
/* Empties q and restarts its timer (Linux's ip_frag_reinit()). */
void inet_frag_reinit(struct inet_frag_queue *q);
/*
 * Takes the fragment skb (skb->data at its payload) carrying datagram bytes
 * [offset, end) into q; more is the "more fragments" flag. On QUEUED and
 * COMPLETE the queue owns skb; otherwise the caller still does.
 */
enum inet_frag_result inet_frag_queue_add(struct inet_frag_queue *q, struct sk_buff *skb,
					  unsigned int offset, unsigned int end, bool more);
/* Copies the payload of a complete queue (q->len bytes) to dst. */
void inet_frag_copy_payload(struct inet_frag_queue *q, unsigned char *dst);
/* The held fragment at offset 0, or NULL. */
struct sk_buff *inet_frag_head(struct inet_frag_queue *q);
/*
 * Destroys the oldest queues but keep while f is over its high threshold,
 * down to the low one; returns how many went.
 */
unsigned int inet_frag_evict(struct inet_frags *f, struct inet_frag_queue *keep);

#endif
