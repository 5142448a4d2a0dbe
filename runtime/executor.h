/*
 * PHP executors: the threads of a shard that run PHP, and the two handoff
 * rings each one shares with its shard's I/O thread.
 *
 *   I/O thread --[requests ring: torus_request *]--> executor
 *   I/O thread <--[responses ring: torus_response_part]-- executor
 *
 * An executor with nothing to do sleeps on a futex (its `sleeping` word); the
 * I/O thread wakes it with FUTEX_WAKE only when it announced that sleep. In
 * the other direction the executor writes the shard's eventfd, whose read is
 * armed in the shard's io_uring, only when the I/O thread announced that it
 * is about to block; under load neither side makes a system call to hand
 * work over. Only the I/O thread ever touches its io_uring.
 */
#ifndef TORUS_EXECUTOR_H
#define TORUS_EXECUTOR_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

#include "runtime/config.h"
#include "runtime/config_worker.h"
#include "runtime/handoff.h"
#include "runtime/request.h"
#include "runtime/scoreboard.h"

struct torus_chunk;

/* One message of the responses ring. */
struct torus_response_part {
    struct torus_request *request;
    struct torus_chunk *chunk; /* response bytes, NULL when none */
    unsigned flags;            /* TORUS_EMIT_* */
};

/* What wakes a shard's I/O thread: shared by its executors and its file-system worker. */
struct torus_io_waker {
    _Atomic uint32_t sleeping; /* 1 while the I/O thread is about to block or blocked */
    int event_fd;
};

/*
 * A thread that handed the I/O thread something (pushed to a ring) wakes it
 * if it announced a sleep: the fence orders that push before the look at
 * `sleeping` (runtime/executor.c explains the handshake). One eventfd write,
 * and only when the I/O thread is about to block or blocked.
 */
static inline void torus_io_waker_wake(struct torus_io_waker *waker)
{
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&waker->sleeping, memory_order_relaxed) &&
        atomic_exchange_explicit(&waker->sleeping, 0, memory_order_relaxed)) {
        uint64_t one = 1;
        ssize_t rc = write(waker->event_fd, &one, sizeof(one));
        (void)rc;
    }
}

struct torus_executor {
    struct torus_handoff requests;  /* I/O thread -> executor: struct torus_request * */
    struct torus_handoff responses; /* executor -> I/O thread: struct torus_response_part */
    _Atomic uint32_t sleeping;      /* futex word: 1 while waiting for a request */
    _Atomic bool stopping;          /* wait_request() returns NULL once the ring is empty */

    /* Owned by the I/O thread. */
    uint32_t inflight;    /* requests pushed and not yet released */
    uint64_t progress_ms; /* when it last finished a request (or got one while idle) */
    bool demoted;         /* running a long request at a lower CPU priority */
    bool needs_wake;      /* pushed to since the last torus_executor_wake() */

    /* Owned by the executor thread. */
    uint32_t unsignaled;    /* response parts pushed since the I/O thread was last woken */
    sigset_t fatal_signals; /* taken only while it runs requests (torus_executor_fatal_signals) */
    bool fatal_taken;       /* they are unblocked now */

    /*
     * Written by the executor, read by the I/O thread to decide whether
     * requests may queue at one executor (net/dispatch.c): when the request
     * it runs began (CLOCK_MONOTONIC ns, 0 while it waits), and when it last
     * finished a request that ran TORUS_EXECUTOR_SLOW_NS or longer.
     */
    _Atomic uint64_t running_since_ns;
    _Atomic uint64_t slow_seen_ns;

    /* Read-only after start. */
    struct torus_executor_port port;
    struct torus_io_waker *waker;
    const struct torus_config *config;
    const struct torus_worker_config *worker; /* the worker script it runs; NULL: classic */
    int pool; /* which requests it takes: 1 + its worker's index in config->workers, 0: classic */
    int shard_id;
    int index;
    int cpu; /* -1: not pinned */
    pthread_t thread;
    bool started;
    _Atomic int result; /* what torus_sapi_executor_main() returned */
    _Atomic bool finished;
    _Atomic int tid;         /* the thread's id, for setpriority() */
    _Atomic uint32_t reload; /* SIGHUP: restart the worker script between two requests */
    /* Ready, busy, events and the current request, in the scoreboard the supervisor reads;
     * written by the executor thread only. */
    struct torus_executor_slot *slot;
};

/*
 * The signals that end a process when they are sent to it (SIGSEGV, SIGBUS,
 * SIGABRT, ...): the executor threads unblock them, every other thread of a
 * shard process blocks them, so a script that sends one to its own process
 * dies on its own thread, at once.
 */
void torus_executor_fatal_signals(sigset_t *set);

/* Capacity of each ring, in items. */
#define TORUS_EXECUTOR_RING_SIZE 1024

/* A request that runs this long is slow: requests stop queueing behind busy executors. Longer
 * than a time slice of a shared core, so that a quick request the scheduler paused once is not
 * taken for slow (at 2 ms, template and sqlite-read lost 10-20 % with four executors). */
#define TORUS_EXECUTOR_SLOW_NS (10u * 1000 * 1000)

/*
 * Prepares an executor: its rings and state (before its shard's I/O thread
 * starts, so other threads may read its state at any time). `slot` is its
 * place in the scoreboard, where it publishes whether it is ready or busy.
 * Returns TORUS_OK or TORUS_ERROR.
 */
int torus_executor_init(struct torus_executor *executor, const struct torus_config *config,
                        struct torus_io_waker *waker, struct torus_executor_slot *slot,
                        int shard_id, int index, int cpu);

/* Starts the executor's thread (pinned to its CPU unless cpu < 0). TORUS_OK or TORUS_ERROR. */
int torus_executor_start(struct torus_executor *executor);

/*
 * I/O thread: hands a request over. Returns TORUS_OK, or TORUS_AGAIN when the
 * ring is full (nothing was taken). The executor is not woken yet: the I/O
 * thread calls torus_executor_wake() once, before it blocks, so an executor
 * on the same CPU is handed a batch instead of being switched to per request.
 */
int torus_executor_push(struct torus_executor *executor, struct torus_request *request);

/* I/O thread: wakes the executor if it sleeps and was pushed to since the last call. */
void torus_executor_wake(struct torus_executor *executor);

/* I/O thread: takes the next response part; TORUS_OK or TORUS_AGAIN (none). */
static inline int torus_executor_pop(struct torus_executor *executor,
                                     struct torus_response_part *part)
{
    return torus_handoff_pop(&executor->responses, part);
}

/* The Prometheus label of an event ("max_requests", "fatal_error", ...). */
const char *torus_executor_event_name(int event);

/* True for events that ended a request with a PHP failure (crashes), false for restarts. */
bool torus_executor_event_is_crash(int event);

/* Asks the executor to restart its worker script between two requests (SIGHUP), and wakes it. */
void torus_executor_reload(struct torus_executor *executor);

/*
 * I/O thread: gives an executor busy with a long request a lower CPU
 * priority (nice +10), so on the shared CPU the short requests of the other
 * executors and the I/O thread come first; `demote` false restores it. Needs
 * CAP_SYS_NICE to restore: without it, the first failure turns this off.
 */
void torus_executor_set_demoted(struct torus_executor *executor, bool demote);

/* Asks the executor to stop once its ring is empty, and wakes it. */
void torus_executor_stop(struct torus_executor *executor);

/* Waits for the executor's thread to end and frees its rings. */
void torus_executor_join(struct torus_executor *executor);

#endif
