/*
 * Timeouts of a shard's connections.
 *
 * Every timeout of one kind has the same duration (--header-timeout,
 * --idle-timeout, ...), so arming a timer means appending to the tail of that
 * kind's queue, and each queue stays sorted by deadline by construction. Arm,
 * re-arm and disarm are O(1) list operations; finding what expired looks only
 * at queue heads. This is the "timer queue of uniform durations" that servers
 * with fixed timeouts use instead of a heap or a wheel.
 */
#ifndef TORUS_TIMER_H
#define TORUS_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A timer, embedded in the object it times. */
struct torus_timer {
    struct torus_timer *prev, *next;
    struct torus_timer_queue *queue; /* NULL when not armed */
    uint64_t deadline_ms;
};

struct torus_timer_queue {
    struct torus_timer *first, *last;
    uint64_t duration_ms;
    uint32_t count; /* timers armed in it */
};

/* Prepares an empty queue whose timers fire duration_ms after they are armed. */
static inline void torus_timer_queue_init(struct torus_timer_queue *queue, uint64_t duration_ms)
{
    queue->first = queue->last = NULL;
    queue->duration_ms = duration_ms;
    queue->count = 0;
}

/* Disarms the timer if it is armed. */
static inline void torus_timer_disarm(struct torus_timer *timer)
{
    struct torus_timer_queue *queue = timer->queue;
    if (!queue)
        return;
    if (timer->prev)
        timer->prev->next = timer->next;
    else
        queue->first = timer->next;
    if (timer->next)
        timer->next->prev = timer->prev;
    else
        queue->last = timer->prev;
    timer->prev = timer->next = NULL;
    timer->queue = NULL;
    queue->count--;
}

/* (Re-)arms the timer in queue to fire at now_ms + the queue's duration. */
static inline void torus_timer_arm(struct torus_timer *timer, struct torus_timer_queue *queue,
                                   uint64_t now_ms)
{
    torus_timer_disarm(timer);
    timer->deadline_ms = now_ms + queue->duration_ms;
    timer->queue = queue;
    timer->next = NULL;
    timer->prev = queue->last;
    if (queue->last)
        queue->last->next = timer;
    else
        queue->first = timer;
    queue->last = timer;
    queue->count++;
}

/* True when the timer is armed in some queue. */
static inline bool torus_timer_armed(const struct torus_timer *timer)
{
    return timer->queue != NULL;
}

/* The queue's first timer if it has expired at now_ms, else NULL. */
static inline struct torus_timer *torus_timer_expired(struct torus_timer_queue *queue,
                                                      uint64_t now_ms)
{
    struct torus_timer *first = queue->first;
    return (first && first->deadline_ms <= now_ms) ? first : NULL;
}

/* The earliest deadline in queue, or UINT64_MAX when it is empty. */
static inline uint64_t torus_timer_next_deadline(const struct torus_timer_queue *queue)
{
    return queue->first ? queue->first->deadline_ms : UINT64_MAX;
}

#endif
