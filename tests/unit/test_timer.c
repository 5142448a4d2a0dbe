/*
 * The timer queues of net/timer.h: deadlines are now + the queue's duration,
 * a queue stays in arming order (which is deadline order), re-arming moves a
 * timer to the tail, disarming unlinks it from anywhere in the queue, and
 * only the queue's head is ever reported as expired. A randomised run checks
 * the queue against a simple model: the expiry sweep a shard performs must
 * return exactly the timers whose deadline has passed, earliest first.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/timer.h"
#include "runtime/common.h"
#include "tests/unit/check.h"

/* A connection-like object with an embedded timer. */
struct item {
    int id;
    struct torus_timer timer;
};

/* Writes the ids of queue's timers, first to last, into ids; returns how many. */
static int queue_ids(const struct torus_timer_queue *queue, int *ids, int max)
{
    int n = 0;
    const struct torus_timer *previous = NULL;
    for (const struct torus_timer *t = queue->first; t && n < max; t = t->next) {
        /* The links must agree both ways. */
        if (t->prev != previous || t->queue != queue) {
            fprintf(stderr, "queue links broken at position %d\n", n);
            failures++;
        }
        ids[n++] = torus_container_of(t, struct item, timer)->id;
        previous = t;
    }
    if (queue->last != previous) {
        fprintf(stderr, "queue->last is not the last timer\n");
        failures++;
    }
    return n;
}

/* True when the queue holds exactly the ids in expected, in order. */
static int queue_is(const struct torus_timer_queue *queue, const int *expected, int count)
{
    int ids[64];
    int n = queue_ids(queue, ids, 64);
    if (n != count)
        return 0;
    return memcmp(ids, expected, sizeof(int) * (size_t)count) == 0;
}

static void test_empty_queue(void)
{
    struct torus_timer_queue queue;
    torus_timer_queue_init(&queue, 1000);
    CHECK(queue.duration_ms == 1000);
    CHECK(torus_timer_next_deadline(&queue) == UINT64_MAX);
    CHECK(torus_timer_expired(&queue, 0) == NULL);
    CHECK(torus_timer_expired(&queue, UINT64_MAX) == NULL);

    /* Disarming a timer that was never armed changes nothing. */
    struct item a = {.id = 1};
    torus_timer_disarm(&a.timer);
    CHECK(!torus_timer_armed(&a.timer));
    CHECK(queue.first == NULL && queue.last == NULL);
}

static void test_arm_and_expire(void)
{
    struct torus_timer_queue queue;
    torus_timer_queue_init(&queue, 500);
    struct item a = {.id = 1}, b = {.id = 2}, c = {.id = 3};

    torus_timer_arm(&a.timer, &queue, 1000);
    CHECK(torus_timer_armed(&a.timer));
    CHECK(a.timer.deadline_ms == 1500);
    CHECK(torus_timer_next_deadline(&queue) == 1500);
    torus_timer_arm(&b.timer, &queue, 1100);
    torus_timer_arm(&c.timer, &queue, 1100);
    CHECK(queue_is(&queue, (int[]){1, 2, 3}, 3));

    /* Nothing has expired one millisecond early; the deadline itself is expiry. */
    CHECK(torus_timer_expired(&queue, 1499) == NULL);
    CHECK(torus_timer_expired(&queue, 1500) == &a.timer);
    /* expired() only looks: it does not remove. */
    CHECK(torus_timer_expired(&queue, 1500) == &a.timer);
    CHECK(torus_timer_armed(&a.timer));

    /* The sweep a shard does: take heads while they have expired. */
    int fired[8], n = 0;
    struct torus_timer *t;
    while ((t = torus_timer_expired(&queue, 1600)) != NULL) {
        torus_timer_disarm(t);
        fired[n++] = torus_container_of(t, struct item, timer)->id;
    }
    CHECK(n == 3);
    CHECK(n == 3 && fired[0] == 1 && fired[1] == 2 && fired[2] == 3);
    CHECK(queue.first == NULL && queue.last == NULL);
    CHECK(!torus_timer_armed(&a.timer) && !torus_timer_armed(&b.timer) &&
          !torus_timer_armed(&c.timer));
    CHECK(torus_timer_next_deadline(&queue) == UINT64_MAX);
}

static void test_rearm_moves_to_tail(void)
{
    struct torus_timer_queue queue;
    torus_timer_queue_init(&queue, 100);
    struct item items[4];
    for (int i = 0; i < 4; i++) {
        items[i] = (struct item){.id = i};
        torus_timer_arm(&items[i].timer, &queue, (uint64_t)i);
    }
    CHECK(queue_is(&queue, (int[]){0, 1, 2, 3}, 4));

    /* Activity on the first connection pushes its deadline back. */
    torus_timer_arm(&items[0].timer, &queue, 50);
    CHECK(items[0].timer.deadline_ms == 150);
    CHECK(queue_is(&queue, (int[]){1, 2, 3, 0}, 4));
    CHECK(torus_timer_next_deadline(&queue) == 101);

    /* Re-arming the last one keeps it last, with its new deadline. */
    torus_timer_arm(&items[0].timer, &queue, 60);
    CHECK(queue_is(&queue, (int[]){1, 2, 3, 0}, 4));
    CHECK(items[0].timer.deadline_ms == 160);

    /* A middle one. */
    torus_timer_arm(&items[2].timer, &queue, 70);
    CHECK(queue_is(&queue, (int[]){1, 3, 0, 2}, 4));
}

static void test_disarm_anywhere(void)
{
    struct torus_timer_queue queue;
    torus_timer_queue_init(&queue, 10);
    struct item items[5];
    for (int i = 0; i < 5; i++) {
        items[i] = (struct item){.id = i};
        torus_timer_arm(&items[i].timer, &queue, 0);
    }
    torus_timer_disarm(&items[2].timer); /* middle */
    CHECK(queue_is(&queue, (int[]){0, 1, 3, 4}, 4));
    CHECK(!torus_timer_armed(&items[2].timer));
    CHECK(items[2].timer.prev == NULL && items[2].timer.next == NULL);
    torus_timer_disarm(&items[0].timer); /* first */
    CHECK(queue_is(&queue, (int[]){1, 3, 4}, 3));
    torus_timer_disarm(&items[4].timer); /* last */
    CHECK(queue_is(&queue, (int[]){1, 3}, 2));
    torus_timer_disarm(&items[4].timer); /* again: a no-op */
    CHECK(queue_is(&queue, (int[]){1, 3}, 2));
    torus_timer_disarm(&items[1].timer);
    torus_timer_disarm(&items[3].timer);
    CHECK(queue.first == NULL && queue.last == NULL);

    /* A disarmed timer can be armed again. */
    torus_timer_arm(&items[3].timer, &queue, 5);
    CHECK(queue_is(&queue, (int[]){3}, 1));
    CHECK(items[3].timer.deadline_ms == 15);
}

static void test_move_between_queues(void)
{
    struct torus_timer_queue header, idle;
    torus_timer_queue_init(&header, 60000);
    torus_timer_queue_init(&idle, 75000);
    struct item a = {.id = 1}, b = {.id = 2};
    torus_timer_arm(&a.timer, &header, 0);
    torus_timer_arm(&b.timer, &header, 0);

    /* The request completed: the connection now waits in the idle queue. */
    torus_timer_arm(&a.timer, &idle, 10);
    CHECK(a.timer.queue == &idle);
    CHECK(a.timer.deadline_ms == 75010);
    CHECK(queue_is(&header, (int[]){2}, 1));
    CHECK(queue_is(&idle, (int[]){1}, 1));
    CHECK(torus_timer_next_deadline(&header) == 60000);
    CHECK(torus_timer_next_deadline(&idle) == 75010);

    torus_timer_disarm(&a.timer);
    CHECK(idle.first == NULL && idle.last == NULL);
    CHECK(queue_is(&header, (int[]){2}, 1));
}

/*
 * Random arms, re-arms and disarms over two queues with a clock that only
 * moves forward, checked against a model that knows each item's deadline.
 */
static void test_random_against_model(void)
{
    enum { ITEMS = 48, STEPS = 200000 };
    struct torus_timer_queue queues[2];
    torus_timer_queue_init(&queues[0], 30);
    torus_timer_queue_init(&queues[1], 70);
    struct item items[ITEMS];
    uint64_t model_deadline[ITEMS]; /* UINT64_MAX when not armed */
    int model_queue[ITEMS];
    for (int i = 0; i < ITEMS; i++) {
        items[i] = (struct item){.id = i};
        model_deadline[i] = UINT64_MAX;
        model_queue[i] = -1;
    }
    uint64_t now = 0;
    uint32_t seed = 12345;
    int bad = 0;
    for (int step = 0; step < STEPS && !bad; step++) {
        seed = seed * 1103515245u + 12345u;
        uint32_t r = seed >> 8;
        int i = (int)(r % ITEMS);
        switch ((r >> 8) % 4) {
        case 0:
        case 1: {
            int q = (int)((r >> 12) & 1);
            torus_timer_arm(&items[i].timer, &queues[q], now);
            model_deadline[i] = now + queues[q].duration_ms;
            model_queue[i] = q;
            break;
        }
        case 2:
            torus_timer_disarm(&items[i].timer);
            model_deadline[i] = UINT64_MAX;
            model_queue[i] = -1;
            break;
        default:
            now += (r >> 16) % 9;
            break;
        }
        /* Sweep both queues the way the shard loop does. */
        for (int q = 0; q < 2; q++) {
            struct torus_timer *t;
            uint64_t last_fired = 0;
            while ((t = torus_timer_expired(&queues[q], now)) != NULL) {
                int id = torus_container_of(t, struct item, timer)->id;
                if (model_queue[id] != q || model_deadline[id] > now ||
                    model_deadline[id] < last_fired)
                    bad = 1;
                last_fired = model_deadline[id];
                torus_timer_disarm(t);
                model_deadline[id] = UINT64_MAX;
                model_queue[id] = -1;
            }
        }
        /* After a sweep nothing the model says has expired may remain, and every
         * armed item is in the queue the model says, with its deadline. */
        for (int k = 0; k < ITEMS; k++) {
            if (model_deadline[k] != UINT64_MAX && model_deadline[k] <= now)
                bad = 1;
            if (torus_timer_armed(&items[k].timer) != (model_queue[k] >= 0))
                bad = 1;
            if (model_queue[k] >= 0 && (items[k].timer.queue != &queues[model_queue[k]] ||
                                        items[k].timer.deadline_ms != model_deadline[k]))
                bad = 1;
        }
        for (int q = 0; q < 2; q++) {
            uint64_t earliest = UINT64_MAX, previous = 0;
            int count = 0;
            for (struct torus_timer *t = queues[q].first; t; t = t->next) {
                if (t->deadline_ms < previous)
                    bad = 1; /* not sorted */
                previous = t->deadline_ms;
                count++;
            }
            int expected = 0;
            for (int k = 0; k < ITEMS; k++) {
                if (model_queue[k] == q) {
                    expected++;
                    earliest = model_deadline[k] < earliest ? model_deadline[k] : earliest;
                }
            }
            if (count != expected || torus_timer_next_deadline(&queues[q]) != earliest)
                bad = 1;
        }
        if (bad)
            fprintf(stderr, "model mismatch at step %d\n", step);
    }
    CHECK(!bad);
}

int main(void)
{
    test_empty_queue();
    test_arm_and_expire();
    test_rearm_moves_to_tail();
    test_disarm_anywhere();
    test_move_between_queues();
    test_random_against_model();
    printf("test_timer: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
