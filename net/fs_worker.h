/*
 * A shard's file-system workers: threads, beside the I/O thread and the
 * executors, that make the file-system calls which may block (stat,
 * realpath, open, read of a small file) so that the I/O thread never does.
 * A slow or hung disk then delays the requests that need it, not every
 * connection of the core.
 *
 *   I/O thread --[jobs ring: struct torus_fs_job *]--> worker: job->run(job)
 *   I/O thread <--[done ring: struct torus_fs_job *]-- worker
 *
 * A pool (struct torus_fs_pool) has one worker to begin with and starts
 * more, up to TORUS_FS_POOL_MAX, when every running one has a job: a lookup
 * stuck on a slow mount then leaves the others free for the rest. A job goes
 * to an idle worker, else to the least loaded one.
 *
 * A job is any struct that embeds struct torus_fs_job; the worker only calls
 * its run function, which must touch nothing but the job (the I/O thread
 * owns everything else). The I/O thread owns a job again once it pops it
 * from the done ring.
 *
 * Waking, without a system call per job under load: the worker sleeps on a
 * futex after announcing it (the executors' protocol, runtime/executor.c);
 * the I/O thread wakes it once per loop iteration (torus_fs_worker_wake),
 * after pushing that iteration's jobs. Done jobs wake the I/O thread through
 * the shard's waker (its eventfd), only when the I/O thread announced that
 * it is about to block.
 */
#ifndef TORUS_FS_WORKER_H
#define TORUS_FS_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime/executor.h"
#include "runtime/handoff.h"

struct torus_fs_job {
    /* Runs on the worker thread. */
    void (*run)(struct torus_fs_job *job);
    /* Runs on the I/O thread once the job is popped back (ctx: the caller's, e.g. its loop). */
    void (*complete)(struct torus_fs_job *job, void *ctx);
    /* The I/O thread's: the next job waiting for room in the rings (net/route_lookup.c). */
    struct torus_fs_job *backlog_next;
};

/* Jobs in flight at most (each ring's capacity); past it, torus_fs_worker_submit says TORUS_AGAIN.
 */
#define TORUS_FS_WORKER_RING_SIZE 1024

struct torus_fs_worker {
    struct torus_handoff jobs; /* I/O thread -> worker */
    struct torus_handoff done; /* worker -> I/O thread */
    _Atomic uint32_t sleeping; /* futex word: 1 while the worker waits for a job */
    _Atomic bool stopping;     /* the worker ends once the jobs ring is empty */
    struct torus_io_waker *waker;

    /* Owned by the I/O thread. */
    uint32_t in_flight; /* submitted and not yet popped back */
    bool needs_wake;    /* submitted to since the last torus_fs_worker_wake() */

    int cpu; /* -1: not pinned */
    pthread_t thread;
    bool started;
    bool abandoned; /* a stop gave up waiting for it */
};

/*
 * Starts the worker thread, pinned to `cpu` unless it is negative; done jobs
 * wake the I/O thread through `waker`. Returns TORUS_OK or TORUS_ERROR (the
 * reason is logged).
 */
int torus_fs_worker_start(struct torus_fs_worker *worker, struct torus_io_waker *waker, int cpu);

/*
 * I/O thread: hands a job over. TORUS_OK, or TORUS_AGAIN when TORUS_FS_WORKER_RING_SIZE jobs
 * are in flight (the job is not taken; submit it again after popping some).
 */
int torus_fs_worker_submit(struct torus_fs_worker *worker, struct torus_fs_job *job);

/* I/O thread: wakes the worker if it sleeps and was handed jobs since the last call. */
void torus_fs_worker_wake(struct torus_fs_worker *worker);

/* I/O thread: the next done job, or NULL. */
struct torus_fs_job *torus_fs_worker_pop(struct torus_fs_worker *worker);

/* I/O thread: whether done jobs wait to be popped (after announcing a sleep: a fresh look). */
bool torus_fs_worker_has_done(struct torus_fs_worker *worker);

/* How long torus_fs_worker_stop() waits for a worker inside a system call. */
#define TORUS_FS_WORKER_STOP_WAIT_S 2

/*
 * Stops the worker once it has run every job handed to it, and joins it:
 * TORUS_OK, after which done jobs can still be popped (they are the
 * caller's to free). TORUS_ERROR when the worker is still inside a job after
 * TORUS_FS_WORKER_STOP_WAIT_S (a hung disk): it is left to finish on its own
 * and its jobs must not be touched. A worker that is not running: TORUS_OK.
 */
int torus_fs_worker_stop(struct torus_fs_worker *worker);

/* Stops the worker if it runs, then frees its rings (pop what is done first); not after an
 * abandoned stop. */
void torus_fs_worker_free(struct torus_fs_worker *worker);

/* ------------------------------------------------------------------------ */
/* A shard's pool of workers (what the I/O loop uses)                       */

#define TORUS_FS_POOL_MAX 4

struct torus_fs_pool {
    struct torus_fs_worker workers[TORUS_FS_POOL_MAX];
    int started; /* workers[0 .. started) run */
    struct torus_io_waker *waker;
    int cpu;
    uint32_t in_flight; /* jobs in all of them */
    bool stopped;       /* torus_fs_pool_stop() ran: no job is taken any more */
};

/* Starts the pool's first worker. TORUS_OK or TORUS_ERROR. */
int torus_fs_pool_start(struct torus_fs_pool *pool, struct torus_io_waker *waker, int cpu);

/* I/O thread: hands a job to an idle worker (started if need be), else the least loaded one.
 * TORUS_OK, or TORUS_AGAIN when every ring is full or the pool is stopped. */
int torus_fs_pool_submit(struct torus_fs_pool *pool, struct torus_fs_job *job);

/* I/O thread: wakes the workers handed jobs since the last call. */
void torus_fs_pool_wake(struct torus_fs_pool *pool);

/* I/O thread: the next done job of any worker, or NULL. */
struct torus_fs_job *torus_fs_pool_pop(struct torus_fs_pool *pool);

/* I/O thread: whether a worker has done jobs to pop. */
bool torus_fs_pool_has_done(struct torus_fs_pool *pool);

/*
 * Stops every worker (see torus_fs_worker_stop): TORUS_OK when all ended, and
 * their done jobs can be popped; TORUS_ERROR when one is stuck in a job.
 */
int torus_fs_pool_stop(struct torus_fs_pool *pool);

/* Frees the rings of the workers that ended (after popping what they did). */
void torus_fs_pool_free(struct torus_fs_pool *pool);

#endif
