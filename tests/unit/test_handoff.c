/*
 * The SPSC handoff ring of runtime/handoff.h.
 *
 * Single-threaded: capacity rounding, FIFO order, full and empty answers
 * (TORUS_AGAIN, item untouched), items of odd sizes, and the 32-bit indexes
 * wrapping around 2^32 (the ring is started just below the wrap point, which
 * a long-running server reaches after four billion requests).
 *
 * Two threads: a producer pushes several million numbered items through a
 * small ring while a consumer pops them; the consumer checks that it sees
 * every number exactly once and in order, and that each item's payload
 * (derived from its number) arrived whole, which a missing memory barrier
 * would tear. A small ring makes both the full and the empty paths hot. The
 * run is also started across the index wrap. Under ThreadSanitizer the count
 * is smaller so the test stays within seconds; TSan then checks the
 * acquire/release pairs themselves. Each wait is bounded: a lost item makes
 * the test fail after a timeout instead of hanging.
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/handoff.h"
#include "tests/unit/check.h"

#if defined(TORUS_TSAN) || defined(__SANITIZE_THREAD__)
#define STRESS_ITEMS      1500000u
#define STRESS_WRAP_ITEMS 150000u
#else
#define STRESS_ITEMS      5000000u
#define STRESS_WRAP_ITEMS 1000000u
#endif
#define STRESS_SECONDS_MAX 120.0

/* Puts the ring's indexes at `start`, as if that many items had gone through. */
static void ring_start_at(struct torus_handoff *ring, uint32_t start)
{
    atomic_store(&ring->head, start);
    atomic_store(&ring->tail, start);
    ring->head_cache = start;
    ring->tail_cache = start;
}

static void test_capacity(void)
{
    struct torus_handoff ring;
    static const uint32_t asked[] = {0, 1, 2, 3, 5, 64, 100, 1024, 1025};
    static const uint32_t given[] = {1, 1, 2, 4, 8, 64, 128, 1024, 2048};
    for (size_t i = 0; i < TORUS_ARRAY_SIZE(asked); i++) {
        CHECK(torus_handoff_init(&ring, asked[i], 8) == TORUS_OK);
        CHECK(torus_handoff_capacity(&ring) == given[i]);
        torus_handoff_destroy(&ring);
        CHECK(ring.slots == NULL);
    }
}

/* Fills the ring, checks full and empty answers, drains it in order. */
static void fill_and_drain(uint32_t start)
{
    struct torus_handoff ring;
    CHECK(torus_handoff_init(&ring, 8, sizeof(uint64_t)) == TORUS_OK);
    ring_start_at(&ring, start);
    CHECK(torus_handoff_empty(&ring));

    uint64_t item = 0xdead;
    CHECK(torus_handoff_pop(&ring, &item) == TORUS_AGAIN);
    CHECK(item == 0xdead); /* untouched */

    for (uint64_t i = 0; i < 8; i++)
        CHECK(torus_handoff_push(&ring, &i) == TORUS_OK);
    CHECK(!torus_handoff_empty(&ring));
    uint64_t extra = 99;
    CHECK(torus_handoff_push(&ring, &extra) == TORUS_AGAIN);

    /* One out makes room for exactly one in. */
    CHECK(torus_handoff_pop(&ring, &item) == TORUS_OK && item == 0);
    CHECK(torus_handoff_push(&ring, &extra) == TORUS_OK);
    CHECK(torus_handoff_push(&ring, &extra) == TORUS_AGAIN);

    for (uint64_t i = 1; i < 8; i++) {
        CHECK(torus_handoff_pop(&ring, &item) == TORUS_OK);
        CHECK(item == i);
    }
    CHECK(torus_handoff_pop(&ring, &item) == TORUS_OK && item == 99);
    CHECK(torus_handoff_pop(&ring, &item) == TORUS_AGAIN);
    CHECK(torus_handoff_empty(&ring));

    /* Interleaved pushes and pops keep FIFO order through many laps. */
    uint64_t next_in = 1000, next_out = 1000;
    int in_order = 1;
    for (int round = 0; round < 1000; round++) {
        int pushes = round % 9, pops = (round * 5) % 9;
        for (int k = 0; k < pushes; k++) {
            if (torus_handoff_push(&ring, &next_in) == TORUS_OK)
                next_in++;
        }
        for (int k = 0; k < pops; k++) {
            if (torus_handoff_pop(&ring, &item) != TORUS_OK)
                break;
            in_order &= item == next_out++;
        }
        in_order &= next_in - next_out <= 8;
    }
    while (torus_handoff_pop(&ring, &item) == TORUS_OK)
        in_order &= item == next_out++;
    CHECK(in_order);
    CHECK(next_out == next_in);
    torus_handoff_destroy(&ring);
}

/* Items of an odd size must not spill into their neighbours. */
static void test_odd_item_size(void)
{
    enum { SIZE = 13 };
    struct torus_handoff ring;
    CHECK(torus_handoff_init(&ring, 4, SIZE) == TORUS_OK);
    unsigned char in[SIZE], out[SIZE];
    for (int i = 0; i < 4; i++) {
        memset(in, 'a' + i, SIZE);
        CHECK(torus_handoff_push(&ring, in) == TORUS_OK);
    }
    for (int i = 0; i < 4; i++) {
        memset(out, 0, SIZE);
        CHECK(torus_handoff_pop(&ring, out) == TORUS_OK);
        memset(in, 'a' + i, SIZE);
        CHECK(memcmp(in, out, SIZE) == 0);
    }
    torus_handoff_destroy(&ring);

    /* A ring of one. */
    CHECK(torus_handoff_init(&ring, 1, SIZE) == TORUS_OK);
    memset(in, 'z', SIZE);
    CHECK(torus_handoff_push(&ring, in) == TORUS_OK);
    CHECK(torus_handoff_push(&ring, in) == TORUS_AGAIN);
    CHECK(torus_handoff_pop(&ring, out) == TORUS_OK && memcmp(in, out, SIZE) == 0);
    CHECK(torus_handoff_pop(&ring, out) == TORUS_AGAIN);
    torus_handoff_destroy(&ring);
}

/* ------------------------------------------------------------------------ */
/* Two threads                                                              */
/* ------------------------------------------------------------------------ */

struct stress_item {
    uint64_t sequence;
    uint64_t payload[2]; /* derived from sequence: a torn copy shows */
};

struct stress {
    struct torus_handoff ring;
    uint64_t count;
    /* Results, written by the consumer before it exits. */
    uint64_t received;
    uint64_t out_of_order;
    uint64_t torn;
    int timed_out_consumer;
    int timed_out_producer;
};

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t payload_of(uint64_t sequence, int k)
{
    uint64_t x = sequence * 0x9E3779B97F4A7C15ull + (uint64_t)k;
    return x ^ (x >> 29);
}

/* Backs off after a while of spinning, and gives up after STRESS_SECONDS_MAX. */
static int wait_a_little(unsigned *spins, double started)
{
    if (++*spins % 64 == 0) {
        sched_yield();
        if (*spins % 65536 == 0 && seconds_now() - started > STRESS_SECONDS_MAX)
            return -1;
    }
    return 0;
}

static void *producer_main(void *arg)
{
    struct stress *s = arg;
    double started = seconds_now();
    unsigned spins = 0;
    for (uint64_t i = 0; i < s->count; i++) {
        struct stress_item item = {.sequence = i, .payload = {payload_of(i, 0), payload_of(i, 1)}};
        while (torus_handoff_push(&s->ring, &item) != TORUS_OK) {
            if (wait_a_little(&spins, started) != 0) {
                s->timed_out_producer = 1;
                return NULL;
            }
        }
    }
    return NULL;
}

static void *consumer_main(void *arg)
{
    struct stress *s = arg;
    double started = seconds_now();
    unsigned spins = 0;
    uint64_t expected = 0;
    while (expected < s->count) {
        struct stress_item item;
        if (torus_handoff_pop(&s->ring, &item) != TORUS_OK) {
            if (wait_a_little(&spins, started) != 0) {
                s->timed_out_consumer = 1;
                break;
            }
            continue;
        }
        if (item.sequence != expected)
            s->out_of_order++;
        if (item.payload[0] != payload_of(item.sequence, 0) ||
            item.payload[1] != payload_of(item.sequence, 1))
            s->torn++;
        s->received++;
        /* Resynchronise on what arrived so one fault is not counted a million times. */
        expected = item.sequence + 1;
    }
    return NULL;
}

static void stress(uint32_t capacity, uint32_t start, uint64_t count)
{
    struct stress s;
    memset(&s, 0, sizeof(s));
    s.count = count;
    CHECK(torus_handoff_init(&s.ring, capacity, sizeof(struct stress_item)) == TORUS_OK);
    ring_start_at(&s.ring, start);
    double started = seconds_now();
    pthread_t producer, consumer;
    CHECK(pthread_create(&consumer, NULL, consumer_main, &s) == 0);
    CHECK(pthread_create(&producer, NULL, producer_main, &s) == 0);
    pthread_join(producer, NULL);
    pthread_join(consumer, NULL);
    double took = seconds_now() - started;

    CHECK(!s.timed_out_producer);
    CHECK(!s.timed_out_consumer);
    CHECK(s.received == count);
    CHECK(s.out_of_order == 0);
    CHECK(s.torn == 0);
    /* Nothing left behind, nothing extra. */
    struct stress_item item;
    CHECK(torus_handoff_pop(&s.ring, &item) == TORUS_AGAIN);
    CHECK(torus_handoff_empty(&s.ring));
    CHECK((uint32_t)(atomic_load(&s.ring.tail) - start) == (uint32_t)count);
    printf("stress: %llu items through a ring of %u from index %u in %.2f s "
           "(%llu received, %llu out of order, %llu torn)\n",
           (unsigned long long)count, capacity, start, took, (unsigned long long)s.received,
           (unsigned long long)s.out_of_order, (unsigned long long)s.torn);
    torus_handoff_destroy(&s.ring);
}

int main(void)
{
    test_capacity();
    fill_and_drain(0);
    fill_and_drain(UINT32_MAX - 3); /* the indexes wrap while the ring is full */
    test_odd_item_size();

    stress(64, 0, STRESS_ITEMS);
    stress(4, UINT32_MAX - STRESS_WRAP_ITEMS / 2, STRESS_WRAP_ITEMS);
    printf("test_handoff: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
