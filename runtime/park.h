/*
 * Parking a thread that ran out of work, and waking it, without a lost
 * wake-up and without a system call while both sides are busy: the
 * handshake between a shard's I/O thread and the threads it feeds (its PHP
 * executors, its file-system workers).
 *
 * Algorithm (Dekker's pattern):
 *   the sleeper, when its work queue looks empty:
 *       word = 1; full fence; look at the queue again; if still empty,
 *       futex_wait(&word, 1), which returns at once if the waker has already
 *       reset word to 0.
 *   the waker, after publishing work (the queue's tail store):
 *       full fence; if word == 1: word = 0, futex_wake(&word).
 * Each side stores one location and then loads the other's. Acquire and
 * release alone do not order a store before a later load of another location
 * (x86 keeps them in order only with a locked instruction or mfence, AArch64
 * may let a load-acquire pass an earlier store-release under RCpc), so both
 * sides put a sequentially consistent fence between their store and their
 * load. Two SC fences are totally ordered: whichever comes second, its load
 * sees the other side's store, so either the sleeper's second look sees the
 * new work or the waker sees word == 1.
 */
#ifndef TORUS_PARK_H
#define TORUS_PARK_H

#include <linux/futex.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline long torus_futex(_Atomic uint32_t *word, int op, uint32_t value)
{
    return syscall(SYS_futex, (uint32_t *)word, op, value, NULL, NULL, 0);
}

/*
 * Sleeper: sleeps on word unless has_work(arg), looked at after announcing
 * the sleep, says there is work. Returns when woken (or at once); the caller
 * looks at its queue again either way.
 */
static inline void torus_park(_Atomic uint32_t *word, bool (*has_work)(void *arg), void *arg)
{
    atomic_store_explicit(word, 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst); /* the store above before the loads below */
    if (!has_work(arg))
        torus_futex(word, FUTEX_WAIT_PRIVATE, 1);
    atomic_store_explicit(word, 0, memory_order_relaxed);
}

/* Waker, after publishing work: wakes the sleeper if it announced a sleep. */
static inline void torus_unpark(_Atomic uint32_t *word)
{
    atomic_thread_fence(memory_order_seq_cst); /* the work published before the look at word */
    if (atomic_load_explicit(word, memory_order_relaxed) &&
        atomic_exchange_explicit(word, 0, memory_order_relaxed))
        torus_futex(word, FUTEX_WAKE_PRIVATE, 1);
}

/* Waker of a flag the sleeper's has_work() reads (stop, reload): wakes it unconditionally. */
static inline void torus_unpark_always(_Atomic uint32_t *word)
{
    atomic_store_explicit(word, 0, memory_order_seq_cst);
    torus_futex(word, FUTEX_WAKE_PRIVATE, 1);
}

#endif
