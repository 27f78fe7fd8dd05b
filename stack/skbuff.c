/*
 * sk_buff allocation, cloning and queues. The data area is a refcounted
 * struct skb_shared so clones can share it; the skb header is separate.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "checksum.h"
#include "skbuff.h"
#include "stack.h"

/*
 * Free lists of skb headers and of data areas of one size class, per stack
 * and under its lock: a bulk transfer allocates and frees two or three of
 * each per segment, and malloc/calloc/free were ~7% of a sending iperf3.
 * Data areas up to SKB_CACHE_DATA bytes (an MTU-1500 frame or segment plus
 * headroom) are all allocated with that capacity so any cached one fits;
 * sh->size stays the size asked for, so tailroom and truesize do not
 * change. Under AddressSanitizer the lists are off so use-after-free is
 * still caught.
 */
#define SKB_CACHE_DATA 2048u
#define SKB_CACHE_MAX  4096u
#if defined(__SANITIZE_ADDRESS__)
#define SKB_CACHE_ON 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SKB_CACHE_ON 0
#endif
#endif
#ifndef SKB_CACHE_ON
#define SKB_CACHE_ON 1
#endif

struct skb_free_node {
	struct skb_free_node *next;
};

static struct sk_buff *skb_head_alloc(struct nstack *ns)
{
	struct skb_free_node *n = ns->skb_cache;

	if (SKB_CACHE_ON && n) {
		ns->skb_cache = n->next;
		ns->skb_cache_n--;
		return (struct sk_buff *)n;
	}
	return ns_arena_alloc(ns->arena, sizeof(struct sk_buff));
}

static void skb_head_free(struct nstack *ns, struct sk_buff *skb)
{
	if (SKB_CACHE_ON && ns->skb_cache_n < SKB_CACHE_MAX) {
		struct skb_free_node *n = (struct skb_free_node *)skb;

		n->next = ns->skb_cache;
		ns->skb_cache = n;
		ns->skb_cache_n++;
		return;
	}
	ns_arena_free(ns->arena, skb);
}

/* A data area for size bytes with dataref 1. */
static struct skb_shared *skb_data_alloc(struct nstack *ns, unsigned int size)
{
	struct skb_shared *sh;

	if (SKB_CACHE_ON && size <= SKB_CACHE_DATA) {
		struct skb_free_node *n = ns->skb_data_cache;

		if (n) {
			ns->skb_data_cache = n->next;
			ns->skb_data_cache_n--;
			sh = (struct skb_shared *)n;
		} else {
			sh = ns_arena_alloc(ns->arena, sizeof(*sh) + SKB_CACHE_DATA);
		}
	} else {
		sh = ns_arena_alloc(ns->arena, sizeof(*sh) + size);
	}
	if (sh) {
		sh->dataref = 1;
		sh->size = size;
	}
	return sh;
}

static void skb_data_free(struct nstack *ns, struct skb_shared *sh)
{
	if (SKB_CACHE_ON && sh->size <= SKB_CACHE_DATA && ns->skb_data_cache_n < SKB_CACHE_MAX) {
		struct skb_free_node *n = (struct skb_free_node *)sh;

		n->next = ns->skb_data_cache;
		ns->skb_data_cache = n;
		ns->skb_data_cache_n++;
		return;
	}
	ns_arena_free(ns->arena, sh);
}

/* Frees the cached skb headers and data areas (stack teardown). */
void skb_cache_purge(struct nstack *ns)
{
	struct skb_free_node *n;

	while ((n = ns->skb_cache) != NULL) {
		ns->skb_cache = n->next;
		ns_arena_free(ns->arena, n);
	}
	while ((n = ns->skb_data_cache) != NULL) {
		ns->skb_data_cache = n->next;
		ns_arena_free(ns->arena, n);
	}
	ns->skb_cache_n = 0;
	ns->skb_data_cache_n = 0;
}

static void skb_init_fields(struct sk_buff *skb, struct nstack *ns, struct skb_shared *sh)
{
	skb->ns = ns;
	skb->shinfo = sh;
	skb->head = sh->buf;
	skb->data = sh->buf;
	skb->tail = sh->buf;
	skb->end = sh->buf + sh->size;
	skb->mac_header = SKB_HDR_UNSET;
	skb->network_header = SKB_HDR_UNSET;
	skb->transport_header = SKB_HDR_UNSET;
	skb->truesize = (unsigned int)(sizeof(*skb) + sizeof(*sh) + sh->size);
}

/* Allocates an empty skb with size bytes of room; NULL when out of memory. */
struct sk_buff *alloc_skb(struct nstack *ns, unsigned int size)
{
	struct sk_buff *skb;
	struct skb_shared *sh;

	/* Header offsets are 16 bits; anything bigger is a caller bug. */
	assert(size <= 65535u + MAX_HEADER);
	skb = skb_head_alloc(ns);
	if (!skb)
		return NULL;
	sh = skb_data_alloc(ns, size);
	if (!sh) {
		skb_head_free(ns, skb);
		return NULL;
	}
	memset(skb, 0, sizeof(*skb));
	skb_init_fields(skb, ns, sh);
	ns->skb_live++;
	return skb;
}

/* Allocates an skb for payload bytes with MAX_HEADER bytes of headroom reserved. */
struct sk_buff *alloc_skb_hdr(struct nstack *ns, unsigned int payload)
{
	struct sk_buff *skb = alloc_skb(ns, payload + MAX_HEADER);

	if (skb)
		skb_reserve(skb, MAX_HEADER);
	return skb;
}

/* Frees skb (NULL is fine), running its destructor and dropping its data reference. */
void kfree_skb(struct sk_buff *skb)
{
	if (!skb)
		return;
	if (skb->destructor)
		skb_run_destructor(skb);
	if (--skb->shinfo->dataref == 0)
		skb_data_free(skb->ns, skb->shinfo);
	skb->ns->skb_live--;
	skb_head_free(skb->ns, skb);
}

/* A new skb header sharing skb's data; it has no owner and no destructor. */
struct sk_buff *skb_clone(struct sk_buff *skb)
{
	struct sk_buff *n = skb_head_alloc(skb->ns);

	if (!n)
		return NULL;
	memcpy(n, skb, sizeof(*n));
	memset(&n->list, 0, sizeof(n->list));
	n->sk = NULL;
	n->destructor = 0;
	skb->shinfo->dataref++;
	skb->ns->skb_live++;
	return n;
}

/* A full private copy of skb: header fields, headroom and data. */
struct sk_buff *skb_copy(const struct sk_buff *skb)
{
	struct sk_buff *n = alloc_skb(skb->ns, skb->shinfo->size);
	size_t off;

	if (!n)
		return NULL;
	memcpy(n->head, skb->head, skb->shinfo->size);
	off = (size_t)(skb->data - skb->head);
	n->data = n->head + off;
	n->tail = n->data + skb->len;
	n->len = skb->len;
	n->protocol = skb->protocol;
	n->mac_header = skb->mac_header;
	n->network_header = skb->network_header;
	n->transport_header = skb->transport_header;
	n->pkt_type = skb->pkt_type;
	n->ip_summed = skb->ip_summed;
	n->tstamp_us = skb->tstamp_us;
	memcpy(n->cb, skb->cb, sizeof(n->cb));
	return n;
}

/* Gives skb its own copy of the data if it shares it with clones. */
int skb_unshare_data(struct sk_buff *skb)
{
	struct skb_shared *sh;
	size_t data_off, tail_off;

	if (!skb_cloned(skb))
		return 0;
	sh = skb_data_alloc(skb->ns, skb->shinfo->size);
	if (!sh)
		return -ENOMEM;
	memcpy(sh->buf, skb->shinfo->buf, sh->size);
	data_off = (size_t)(skb->data - skb->head);
	tail_off = (size_t)(skb->tail - skb->head);
	skb->shinfo->dataref--;
	skb->shinfo = sh;
	skb->head = sh->buf;
	skb->data = sh->buf + data_off;
	skb->tail = sh->buf + tail_off;
	skb->end = sh->buf + sh->size;
	return 0;
}

/* Initialises an empty queue. */
void skb_queue_head_init(struct sk_buff_head *h)
{
	TAILQ_INIT(&h->q);
	h->qlen = 0;
	h->bytes = 0;
}

/* Appends skb to h. */
void skb_queue_tail(struct sk_buff_head *h, struct sk_buff *skb)
{
	TAILQ_INSERT_TAIL(&h->q, skb, list);
	h->qlen++;
	h->bytes += skb->len;
}

/* Prepends skb to h. */
void skb_queue_head(struct sk_buff_head *h, struct sk_buff *skb)
{
	TAILQ_INSERT_HEAD(&h->q, skb, list);
	h->qlen++;
	h->bytes += skb->len;
}

/* Inserts skb in front of next, which is on h. */
void skb_insert_before(struct sk_buff_head *h, struct sk_buff *next, struct sk_buff *skb)
{
	TAILQ_INSERT_BEFORE(next, skb, list);
	h->qlen++;
	h->bytes += skb->len;
}

/* Inserts skb behind prev, which is on h. */
void skb_insert_after(struct sk_buff_head *h, struct sk_buff *prev, struct sk_buff *skb)
{
	TAILQ_INSERT_AFTER(&h->q, prev, skb, list);
	h->qlen++;
	h->bytes += skb->len;
}

/* Removes and returns the first skb of h, or NULL. */
struct sk_buff *skb_dequeue(struct sk_buff_head *h)
{
	struct sk_buff *skb = TAILQ_FIRST(&h->q);

	if (skb)
		skb_unlink(h, skb);
	return skb;
}

/* Removes skb from h. skb->len must not have changed while queued. */
void skb_unlink(struct sk_buff_head *h, struct sk_buff *skb)
{
	if (h->qlen == 0 || h->bytes < skb->len) {
		/* Linked by a process that died before it counted. */
		NS_REPAIRING(skb->ns);
		if (!h->qlen)
			h->qlen = 1;
		if (h->bytes < skb->len)
			h->bytes = skb->len;
	}
	TAILQ_REMOVE(&h->q, skb, list);
	h->qlen--;
	h->bytes -= skb->len;
}

/* Frees every skb on h. */
void skb_queue_purge(struct sk_buff_head *h)
{
	struct sk_buff *skb;

	while ((skb = skb_dequeue(h)) != NULL)
		kfree_skb(skb);
}

/* See skbuff.h: sums the TCP header and payload over the pseudo-header sum already there. */
void skb_checksum_help(struct sk_buff *skb)
{
	unsigned char *th;
	uint16_t check;

	if (skb->ip_summed != CHECKSUM_PARTIAL)
		return;
	th = skb_transport_header(skb);
	check = csum_fold(csum_partial(th, (size_t)(skb->data + skb->len - th), 0));
	memcpy(th + 16, &check, sizeof(check)); /* offsetof(struct tcphdr, check) */
	skb->ip_summed = CHECKSUM_NONE;
}
