/*
 * A pool of fixed-size objects owned by one thread (a shard's connections).
 *
 * Objects are carved from slabs of `per_slab` objects allocated from the
 * owning thread's arena; freed objects go on an intrusive free list and are
 * handed out again last-in first-out, so a busy shard reuses warm memory and
 * never calls the allocator on its hot path. Slabs are returned only when the
 * pool is destroyed.
 */
#ifndef TORUS_POOL_H
#define TORUS_POOL_H

#include <stddef.h>
#include <stdint.h>

struct torus_pool {
    size_t object_size;
    uint32_t per_slab;
    void *free_list; /* singly linked through the first word of each free object */
    void **slabs;    /* every slab, for destruction */
    uint32_t slab_count;
    uint32_t slab_capacity;
    uint64_t in_use; /* objects handed out and not yet returned */
};

/* Prepares an empty pool of objects of object_size bytes (at least a pointer's size). */
void torus_pool_init(struct torus_pool *pool, size_t object_size, uint32_t per_slab);

/* Returns a zeroed object, or NULL when memory is exhausted. */
void *torus_pool_get(struct torus_pool *pool);

/* Gives an object back to the pool it came from. */
void torus_pool_put(struct torus_pool *pool, void *object);

/* Frees every slab; objects still in use become invalid. */
void torus_pool_destroy(struct torus_pool *pool);

#endif
