/*
 * sk_buff: one packet and the buffer it lives in.
 *
 * The layout follows Linux: head <= data <= tail <= end. Headers are added
 * with skb_push() in front of data (so allocate with headroom, skb_reserve()),
 * payload with skb_put() at tail, and input layers skb_pull() their header
 * off as they hand the packet up. Offsets of the network and transport
 * headers are remembered so an upper layer can still reach the lower header.
 *
 * A clone shares the data buffer (refcounted) and has its own pointers; the
 * shared bytes must then be treated as read-only (TCP keeps the original on
 * its retransmit queue and sends clones).
 */
#ifndef NSTACK_SKBUFF_H
#define NSTACK_SKBUFF_H

#include <assert.h>
#include <bsd/sys/queue.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nsref.h"

struct nstack;
struct sock;

/* Room every skb built by the stack keeps for Ethernet + IP + TCP headers. */
#define MAX_HEADER 128
/* Receive headroom so the IP header after Ethernet is 4-byte aligned. */
#define NET_IP_ALIGN 2

struct skb_shared {
	unsigned int dataref;
	unsigned int size;
	unsigned char buf[];
};

struct sk_buff {
	TAILQ_ENTRY(sk_buff) list;
	struct nstack *ns;
	struct sock *sk; /* owner for send/receive buffer accounting, or NULL */
	struct skb_shared *shinfo;
	unsigned char *head;
	unsigned char *data;
	unsigned char *tail;
	unsigned char *end;
	unsigned int len;      /* tail - data */
	unsigned int truesize; /* what this skb costs against a socket buffer */
	uint16_t protocol;     /* EtherType, host order */
	uint16_t mac_header;   /* offsets from head; 0xffff when unset */
	uint16_t network_header;
	uint16_t transport_header;
	uint8_t pkt_type;   /* PACKET_HOST, PACKET_BROADCAST, ... */
	uint8_t ip_summed;  /* CHECKSUM_* as in Linux: NONE/UNNECESSARY in, NONE/PARTIAL out */
	uint64_t tstamp_us; /* stack clock at receive or send */
	nsref_t destructor; /* void (*)(struct sk_buff *): skb_set_destructor() */
	/* Per-layer scratch space, owned by whichever layer holds the skb. */
	_Alignas(8) unsigned char cb[48];
};

TAILQ_HEAD(sk_buff_list, sk_buff);

struct sk_buff_head {
	struct sk_buff_list q;
	unsigned int qlen;
	unsigned int bytes; /* sum of skb->len */
};

#define PACKET_HOST	 0
#define PACKET_BROADCAST 1
#define PACKET_MULTICAST 2
#define PACKET_OTHERHOST 3
#define PACKET_OUTGOING	 4
#define PACKET_LOOPBACK	 5

#define CHECKSUM_NONE	     0
#define CHECKSUM_UNNECESSARY 1
/*
 * Sent TCP: the checksum field at the transport header holds only the
 * pseudo-header sum; the device layer adds the rest (skb_checksum_help)
 * unless the segment leaves in a super-frame the kernel checksums anyway.
 */
#define CHECKSUM_PARTIAL 3

#define SKB_HDR_UNSET 0xffff

static inline void skb_set_destructor(struct sk_buff *skb, void (*fn)(struct sk_buff *))
{
	skb->destructor = ns_ref((const void *)fn);
}

static inline void skb_run_destructor(struct sk_buff *skb)
{
	NS_FN(void (*)(struct sk_buff *), skb->destructor)(skb);
}

struct sk_buff *alloc_skb(struct nstack *ns, unsigned int size);
/* alloc_skb() plus MAX_HEADER bytes of headroom already reserved. */
struct sk_buff *alloc_skb_hdr(struct nstack *ns, unsigned int payload);
void kfree_skb(struct sk_buff *skb);
/* Completes a CHECKSUM_PARTIAL TCP checksum in software (the data at or before the header). */
void skb_checksum_help(struct sk_buff *skb);
/* Frees the stack's cached skb headers and data areas (nstack_destroy). */
void skb_cache_purge(struct nstack *ns);
struct sk_buff *skb_clone(struct sk_buff *skb);
struct sk_buff *skb_copy(const struct sk_buff *skb);
/* Make the data private (copy if cloned) so it may be written. */
int skb_unshare_data(struct sk_buff *skb);

static inline bool skb_cloned(const struct sk_buff *skb)
{
	return skb->shinfo->dataref > 1;
}

static inline unsigned int skb_headroom(const struct sk_buff *skb)
{
	return (unsigned int)(skb->data - skb->head);
}

static inline unsigned int skb_tailroom(const struct sk_buff *skb)
{
	return (unsigned int)(skb->end - skb->tail);
}

static inline void skb_reserve(struct sk_buff *skb, unsigned int len)
{
	assert(skb->len == 0 && len <= skb_tailroom(skb));
	skb->data += len;
	skb->tail += len;
}

static inline unsigned char *skb_put(struct sk_buff *skb, unsigned int len)
{
	unsigned char *p = skb->tail;

	assert(len <= skb_tailroom(skb));
	skb->tail += len;
	skb->len += len;
	return p;
}

static inline unsigned char *skb_push(struct sk_buff *skb, unsigned int len)
{
	assert(len <= skb_headroom(skb));
	skb->data -= len;
	skb->len += len;
	return skb->data;
}

/* Returns the new data pointer, or NULL (and changes nothing) if too short. */
static inline unsigned char *skb_pull(struct sk_buff *skb, unsigned int len)
{
	if (len > skb->len)
		return NULL;
	skb->data += len;
	skb->len -= len;
	return skb->data;
}

static inline bool pskb_may_pull(const struct sk_buff *skb, unsigned int len)
{
	return len <= skb->len;
}

static inline void skb_trim(struct sk_buff *skb, unsigned int len)
{
	if (len < skb->len) {
		skb->len = len;
		skb->tail = skb->data + len;
	}
}

static inline void skb_reset_network_header(struct sk_buff *skb)
{
	skb->network_header = (uint16_t)(skb->data - skb->head);
}

static inline void skb_reset_transport_header(struct sk_buff *skb)
{
	skb->transport_header = (uint16_t)(skb->data - skb->head);
}

static inline void skb_reset_mac_header(struct sk_buff *skb)
{
	skb->mac_header = (uint16_t)(skb->data - skb->head);
}

static inline unsigned char *skb_network_header(const struct sk_buff *skb)
{
	assert(skb->network_header != SKB_HDR_UNSET);
	return skb->head + skb->network_header;
}

static inline unsigned char *skb_transport_header(const struct sk_buff *skb)
{
	assert(skb->transport_header != SKB_HDR_UNSET);
	return skb->head + skb->transport_header;
}

static inline unsigned char *skb_mac_header(const struct sk_buff *skb)
{
	assert(skb->mac_header != SKB_HDR_UNSET);
	return skb->head + skb->mac_header;
}

/* Queues. The caller holds the stack lock; there is no per-queue lock. */
void skb_queue_head_init(struct sk_buff_head *h);
void skb_queue_tail(struct sk_buff_head *h, struct sk_buff *skb);
void skb_queue_head(struct sk_buff_head *h, struct sk_buff *skb);
void skb_insert_before(struct sk_buff_head *h, struct sk_buff *next, struct sk_buff *skb);
void skb_insert_after(struct sk_buff_head *h, struct sk_buff *prev, struct sk_buff *skb);
struct sk_buff *skb_dequeue(struct sk_buff_head *h);
void skb_unlink(struct sk_buff_head *h, struct sk_buff *skb);
void skb_queue_purge(struct sk_buff_head *h);

static inline struct sk_buff *skb_peek(const struct sk_buff_head *h)
{
	return TAILQ_FIRST(&h->q);
}

static inline struct sk_buff *skb_peek_tail(const struct sk_buff_head *h)
{
	return TAILQ_LAST(&h->q, sk_buff_list);
}

static inline bool skb_queue_empty(const struct sk_buff_head *h)
{
	return h->qlen == 0;
}

#define skb_queue_walk(h, skb)		 TAILQ_FOREACH(skb, &(h)->q, list)
#define skb_queue_walk_safe(h, skb, tmp) TAILQ_FOREACH_SAFE(skb, &(h)->q, list, tmp)

#endif
