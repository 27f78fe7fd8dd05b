/*
 * sk_buff allocation, cloning and queues. The data area is a refcounted
 * struct skb_shared so clones can share it; the skb header is separate.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "skbuff.h"
#include "stack.h"

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
	skb = calloc(1, sizeof(*skb));
	if (!skb)
		return NULL;
	sh = malloc(sizeof(*sh) + size);
	if (!sh) {
		free(skb);
		return NULL;
	}
	sh->dataref = 1;
	sh->size = size;
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
		skb->destructor(skb);
	if (--skb->shinfo->dataref == 0)
		free(skb->shinfo);
	skb->ns->skb_live--;
	free(skb);
}

/* A new skb header sharing skb's data; it has no owner and no destructor. */
struct sk_buff *skb_clone(struct sk_buff *skb)
{
	struct sk_buff *n = malloc(sizeof(*n));

	if (!n)
		return NULL;
	memcpy(n, skb, sizeof(*n));
	memset(&n->list, 0, sizeof(n->list));
	n->sk = NULL;
	n->destructor = NULL;
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
	sh = malloc(sizeof(*sh) + skb->shinfo->size);
	if (!sh)
		return -ENOMEM;
	sh->dataref = 1;
	sh->size = skb->shinfo->size;
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
	assert(h->qlen > 0 && h->bytes >= skb->len);
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
