/*
 * The handoff ring: a single-producer/single-consumer lock-free queue of
 * fixed-size items, the only channel between a shard's I/O thread and each of
 * its PHP executors (one ring each way per executor).
 *
 * Algorithm: capacity is a power of two; `tail` counts items ever produced and
 * `head` items ever consumed (both wrap at 2^32, and tail - head is the fill
 * level). Only the producer writes tail and only the consumer writes head. The
 * producer fills a slot, then publishes it with a release store of tail; the
 * consumer's acquire load of tail makes the slot's contents visible before it
 * reads them, and symmetrically for head when a slot is given back. Each side
 * keeps a private copy of the other side's index and reloads it only when the
 * ring looks full (producer) or empty (consumer), so in the common case a
 * push or pop touches no cache line the other thread writes. head and tail
 * live on separate cache lines to avoid false sharing.
 */
#ifndef TORUS_HANDOFF_H
#define TORUS_HANDOFF_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/common.h"

struct torus_handoff {
    /* Consumer side. */
    _Alignas(TORUS_CACHE_LINE) _Atomic uint32_t head;
    uint32_t tail_cache; /* the consumer's last view of tail */

    /* Producer side. */
    _Alignas(TORUS_CACHE_LINE) _Atomic uint32_t tail;
    uint32_t head_cache; /* the producer's last view of head */

    /* Read-only after init. */
    _Alignas(TORUS_CACHE_LINE) uint32_t mask;
    uint32_t item_size;
    unsigned char *slots;
};

/*
 * Prepares a ring of `capacity` items (rounded up to a power of two) of
 * item_size bytes each. Returns TORUS_OK or TORUS_ERROR (out of memory).
 */
static inline int torus_handoff_init(struct torus_handoff *ring, uint32_t capacity,
                                     uint32_t item_size)
{
    uint32_t cap = 1;
    while (cap < capacity)
        cap <<= 1;
    memset(ring, 0, sizeof(*ring));
    ring->slots = calloc(cap, item_size);
    if (slow_path(!ring->slots))
        return TORUS_ERROR;
    ring->mask = cap - 1;
    ring->item_size = item_size;
    atomic_init(&ring->head, 0);
    atomic_init(&ring->tail, 0);
    return TORUS_OK;
}

/* Frees the ring's slots; no thread may use the ring any more. */
static inline void torus_handoff_destroy(struct torus_handoff *ring)
{
    free(ring->slots);
    ring->slots = NULL;
}

/* The ring's capacity in items. */
static inline uint32_t torus_handoff_capacity(const struct torus_handoff *ring)
{
    return ring->mask + 1;
}

/*
 * Producer: copies one item into the ring. Returns TORUS_OK, or TORUS_AGAIN
 * when the ring is full (the item is not taken).
 */
static inline int torus_handoff_push(struct torus_handoff *ring, const void *item)
{
    uint32_t tail = atomic_load_explicit(&ring->tail, memory_order_relaxed);
    if (slow_path(tail - ring->head_cache > ring->mask)) {
        ring->head_cache = atomic_load_explicit(&ring->head, memory_order_acquire);
        if (tail - ring->head_cache > ring->mask)
            return TORUS_AGAIN;
    }
    memcpy(ring->slots + (size_t)(tail & ring->mask) * ring->item_size, item, ring->item_size);
    atomic_store_explicit(&ring->tail, tail + 1, memory_order_release);
    return TORUS_OK;
}

/*
 * Consumer: copies the oldest item out of the ring. Returns TORUS_OK, or
 * TORUS_AGAIN when the ring is empty.
 */
static inline int torus_handoff_pop(struct torus_handoff *ring, void *item)
{
    uint32_t head = atomic_load_explicit(&ring->head, memory_order_relaxed);
    if (head == ring->tail_cache) {
        ring->tail_cache = atomic_load_explicit(&ring->tail, memory_order_acquire);
        if (head == ring->tail_cache)
            return TORUS_AGAIN;
    }
    memcpy(item, ring->slots + (size_t)(head & ring->mask) * ring->item_size, ring->item_size);
    atomic_store_explicit(&ring->head, head + 1, memory_order_release);
    return TORUS_OK;
}

/*
 * Either side: true when the ring holds no item, as of a fresh look at both
 * indexes (acquire). Used before sleeping, after announcing the sleep.
 */
static inline bool torus_handoff_empty(struct torus_handoff *ring)
{
    return atomic_load_explicit(&ring->head, memory_order_acquire) ==
           atomic_load_explicit(&ring->tail, memory_order_acquire);
}

#endif
