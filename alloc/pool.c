/*
 * Fixed-size object pool: slabs plus an intrusive LIFO free list. See pool.h.
 */
#include "alloc/pool.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/common.h"

void torus_pool_init(struct torus_pool *pool, size_t object_size, uint32_t per_slab)
{
    memset(pool, 0, sizeof(*pool));
    /* Keep every object 16-byte aligned, and big enough to hold the free-list link. */
    object_size = TORUS_MAX(object_size, sizeof(void *));
    pool->object_size = (object_size + 15) & ~(size_t)15;
    pool->per_slab = per_slab ? per_slab : 64;
}

static int pool_grow(struct torus_pool *pool)
{
    if (pool->slab_count == pool->slab_capacity) {
        uint32_t cap = pool->slab_capacity ? pool->slab_capacity * 2 : 16;
        void **slabs = realloc(pool->slabs, sizeof(void *) * cap);
        if (slow_path(!slabs))
            return TORUS_ERROR;
        pool->slabs = slabs;
        pool->slab_capacity = cap;
    }
    char *slab = aligned_alloc(16, pool->object_size * pool->per_slab);
    if (slow_path(!slab))
        return TORUS_ERROR;
    pool->slabs[pool->slab_count++] = slab;
    /* Thread the new objects onto the free list, first object on top. */
    for (uint32_t i = pool->per_slab; i-- > 0;) {
        void *object = slab + (size_t)i * pool->object_size;
        *(void **)object = pool->free_list;
        pool->free_list = object;
    }
    return TORUS_OK;
}

void *torus_pool_get(struct torus_pool *pool)
{
    if (slow_path(!pool->free_list) && pool_grow(pool) != TORUS_OK)
        return NULL;
    void *object = pool->free_list;
    pool->free_list = *(void **)object;
    memset(object, 0, pool->object_size);
    pool->in_use++;
    return object;
}

void torus_pool_put(struct torus_pool *pool, void *object)
{
    *(void **)object = pool->free_list;
    pool->free_list = object;
    pool->in_use--;
}

void torus_pool_destroy(struct torus_pool *pool)
{
    for (uint32_t i = 0; i < pool->slab_count; i++)
        free(pool->slabs[i]);
    free(pool->slabs);
    memset(pool, 0, sizeof(*pool));
}
