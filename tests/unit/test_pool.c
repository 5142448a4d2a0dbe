/*
 * The object pool of alloc/pool.c: objects come back zeroed, 16-byte
 * aligned, distinct and non-overlapping; a returned object is the next one
 * handed out (LIFO, warm memory); the pool grows slab by slab past its first
 * slab; in_use follows gets and puts. Overlap is checked by filling every
 * live object with its own pattern and reading all of them back, so a pool
 * that handed out the same memory twice fails here even without ASan.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/pool.h"
#include "tests/unit/check.h"

static int all_bytes_are(const void *object, size_t size, unsigned char value)
{
    const unsigned char *bytes = object;
    for (size_t i = 0; i < size; i++) {
        if (bytes[i] != value)
            return 0;
    }
    return 1;
}

static void test_sizes(void)
{
    struct torus_pool pool;
    torus_pool_init(&pool, 1, 8);
    CHECK(pool.object_size >= sizeof(void *));
    CHECK(pool.object_size % 16 == 0);
    CHECK(pool.per_slab == 8);
    CHECK(pool.in_use == 0 && pool.slab_count == 0);
    torus_pool_destroy(&pool);

    torus_pool_init(&pool, 17, 0);
    CHECK(pool.object_size == 32);
    CHECK(pool.per_slab > 0); /* 0 picks a default */
    torus_pool_destroy(&pool);

    torus_pool_init(&pool, 48, 4);
    CHECK(pool.object_size == 48);
    torus_pool_destroy(&pool);
}

static void test_get_put(void)
{
    struct torus_pool pool;
    torus_pool_init(&pool, 40, 4);
    char *a = torus_pool_get(&pool);
    CHECK(a != NULL);
    if (!a)
        return;
    CHECK(((uintptr_t)a & 15) == 0);
    CHECK(all_bytes_are(a, 40, 0));
    CHECK(pool.in_use == 1);

    /* Dirty it, give it back: the next get is the same memory, zeroed again. */
    memset(a, 0xAB, 40);
    torus_pool_put(&pool, a);
    CHECK(pool.in_use == 0);
    char *b = torus_pool_get(&pool);
    CHECK(b == a);
    CHECK(all_bytes_are(b, 40, 0));

    /* LIFO across several puts. */
    char *c = torus_pool_get(&pool);
    char *d = torus_pool_get(&pool);
    CHECK(c != b && d != b && c != d);
    CHECK(pool.in_use == 3);
    torus_pool_put(&pool, c);
    torus_pool_put(&pool, d);
    CHECK(torus_pool_get(&pool) == d);
    CHECK(torus_pool_get(&pool) == c);
    CHECK(pool.in_use == 3);
    torus_pool_destroy(&pool);
    CHECK(pool.slab_count == 0 && pool.slabs == NULL && pool.free_list == NULL);
}

/* Many live objects across many slabs, each filled with its own byte. */
static void test_growth_and_overlap(void)
{
    enum { COUNT = 1000, SIZE = 72 };
    struct torus_pool pool;
    torus_pool_init(&pool, SIZE, 7); /* an odd slab size: slabs end mid-way */
    unsigned char *objects[COUNT];
    int zeroed = 1, aligned = 1;
    for (int i = 0; i < COUNT; i++) {
        objects[i] = torus_pool_get(&pool);
        if (!objects[i]) {
            CHECK(objects[i] != NULL);
            torus_pool_destroy(&pool);
            return;
        }
        zeroed &= all_bytes_are(objects[i], SIZE, 0);
        aligned &= ((uintptr_t)objects[i] & 15) == 0;
        memset(objects[i], (unsigned char)(i * 7 + 1), SIZE);
    }
    CHECK(zeroed);
    CHECK(aligned);
    CHECK(pool.in_use == COUNT);
    CHECK(pool.slab_count == (COUNT + 6) / 7);
    int intact = 1;
    for (int i = 0; i < COUNT; i++)
        intact &= all_bytes_are(objects[i], SIZE, (unsigned char)(i * 7 + 1));
    CHECK(intact);

    /* Return every other object, take as many again: no new slab is needed,
     * and the objects handed out are exactly the returned ones. */
    uint32_t slabs_before = pool.slab_count;
    unsigned char *returned[COUNT / 2];
    for (int i = 0; i < COUNT; i += 2) {
        returned[i / 2] = objects[i];
        torus_pool_put(&pool, objects[i]);
    }
    CHECK(pool.in_use == COUNT / 2);
    int reused = 1;
    for (int i = 0; i < COUNT; i += 2) {
        unsigned char *again = torus_pool_get(&pool);
        int found = 0;
        for (int k = 0; k < COUNT / 2; k++)
            found |= again == returned[k];
        reused &= found && all_bytes_are(again, SIZE, 0);
        objects[i] = again;
        memset(again, (unsigned char)(i * 7 + 1), SIZE);
    }
    CHECK(reused);
    CHECK(pool.slab_count == slabs_before);
    CHECK(pool.in_use == COUNT);
    intact = 1;
    for (int i = 0; i < COUNT; i++)
        intact &= all_bytes_are(objects[i], SIZE, (unsigned char)(i * 7 + 1));
    CHECK(intact);
    torus_pool_destroy(&pool);
}

/* A pool can be used again after destroy (init is memset-based). */
static void test_reuse_after_destroy(void)
{
    struct torus_pool pool;
    torus_pool_init(&pool, 24, 2);
    for (int round = 0; round < 3; round++) {
        void *objects[5];
        for (int i = 0; i < 5; i++)
            objects[i] = torus_pool_get(&pool);
        CHECK(objects[4] != NULL);
        CHECK(pool.slab_count == 3);
        for (int i = 0; i < 5; i++)
            torus_pool_put(&pool, objects[i]);
        CHECK(pool.in_use == 0);
        torus_pool_destroy(&pool);
        torus_pool_init(&pool, 24, 2);
    }
    torus_pool_destroy(&pool);
}

int main(void)
{
    test_sizes();
    test_get_put();
    test_growth_and_overlap();
    test_reuse_after_destroy();
    printf("test_pool: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
