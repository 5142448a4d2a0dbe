/*
 * A shard's file-system worker threads (net/fs_worker.h says what and why).
 *
 * The worker's loop: pop a job, run it, push it to the done ring; when the
 * jobs ring is empty, wake the I/O thread if it produced anything since it
 * last did, then park (runtime/park.h: the handshake that loses no wake-up,
 * weakly ordered CPUs included) until the I/O thread hands it more.
 */
#include "net/fs_worker.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "runtime/log.h"
#include "runtime/park.h"

/* Whether a parking worker must look again (runtime/park.h): a job, or a stop. */
static bool worker_has_work(void *arg)
{
    struct torus_fs_worker *w = arg;
    return !torus_handoff_empty(&w->jobs) ||
           atomic_load_explicit(&w->stopping, memory_order_seq_cst);
}

static void *worker_main(void *arg)
{
    struct torus_fs_worker *w = arg;
    /* Process-directed signals belong to the shard's main thread (runtime/shard_process.c). */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);

    bool produced = false;
    for (;;) {
        struct torus_fs_job *job;
        if (torus_handoff_pop(&w->jobs, &job) == TORUS_OK) {
            job->run(job);
            /* Cannot be full: no more than the ring's capacity is ever in flight. */
            (void)torus_handoff_push(&w->done, &job);
            produced = true;
            continue;
        }
        if (produced) {
            produced = false;
            torus_io_waker_wake(w->waker);
        }
        if (atomic_load_explicit(&w->stopping, memory_order_acquire))
            break;
        torus_park(&w->sleeping, worker_has_work, w);
    }
    return NULL;
}

int torus_fs_worker_start(struct torus_fs_worker *worker, struct torus_io_waker *waker, int cpu)
{
    memset(worker, 0, sizeof(*worker));
    worker->waker = waker;
    worker->cpu = cpu;
    atomic_init(&worker->sleeping, 0);
    atomic_init(&worker->stopping, false);
    if (torus_handoff_init(&worker->jobs, TORUS_FS_WORKER_RING_SIZE,
                           sizeof(struct torus_fs_job *)) != TORUS_OK)
        return TORUS_ERROR;
    if (torus_handoff_init(&worker->done, TORUS_FS_WORKER_RING_SIZE,
                           sizeof(struct torus_fs_job *)) != TORUS_OK) {
        torus_handoff_destroy(&worker->jobs);
        return TORUS_ERROR;
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    /* stat, realpath and open need little stack; PATH_MAX buffers live in the jobs. */
    pthread_attr_setstacksize(&attr, 256 * 1024);
    if (cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
    }
    int rc = pthread_create(&worker->thread, &attr, worker_main, worker);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        torus_log_error("cannot start the file-system worker thread: %s", strerror(rc));
        torus_handoff_destroy(&worker->jobs);
        torus_handoff_destroy(&worker->done);
        return TORUS_ERROR;
    }
    worker->started = true;
    return TORUS_OK;
}

int torus_fs_worker_submit(struct torus_fs_worker *worker, struct torus_fs_job *job)
{
    if (slow_path(worker->in_flight >= TORUS_FS_WORKER_RING_SIZE))
        return TORUS_AGAIN;
    if (slow_path(torus_handoff_push(&worker->jobs, &job) != TORUS_OK))
        return TORUS_AGAIN;
    worker->in_flight++;
    worker->needs_wake = true;
    return TORUS_OK;
}

void torus_fs_worker_wake(struct torus_fs_worker *worker)
{
    if (!worker->needs_wake)
        return;
    worker->needs_wake = false;
    torus_unpark(&worker->sleeping);
}

struct torus_fs_job *torus_fs_worker_pop(struct torus_fs_worker *worker)
{
    struct torus_fs_job *job;
    if (torus_handoff_pop(&worker->done, &job) != TORUS_OK)
        return NULL;
    worker->in_flight--;
    return job;
}

bool torus_fs_worker_has_done(struct torus_fs_worker *worker)
{
    return !torus_handoff_empty(&worker->done);
}

int torus_fs_worker_stop(struct torus_fs_worker *worker)
{
    if (!worker->started)
        return TORUS_OK;
    atomic_store_explicit(&worker->stopping, true, memory_order_seq_cst);
    torus_unpark_always(&worker->sleeping);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += TORUS_FS_WORKER_STOP_WAIT_S;
    if (pthread_timedjoin_np(worker->thread, NULL, &until) != 0) {
        pthread_detach(worker->thread);
        worker->started = false;
        worker->abandoned = true;
        return TORUS_ERROR;
    }
    worker->started = false;
    return TORUS_OK;
}

void torus_fs_worker_free(struct torus_fs_worker *worker)
{
    if (torus_fs_worker_stop(worker) != TORUS_OK || worker->abandoned)
        return; /* the thread may still use the rings */
    torus_handoff_destroy(&worker->jobs);
    torus_handoff_destroy(&worker->done);
}

/* ------------------------------------------------------------------------ */
/* The pool                                                                 */

int torus_fs_pool_start(struct torus_fs_pool *pool, struct torus_io_waker *waker, int cpu)
{
    memset(pool, 0, sizeof(*pool));
    pool->waker = waker;
    pool->cpu = cpu;
    if (torus_fs_worker_start(&pool->workers[0], waker, cpu) != TORUS_OK)
        return TORUS_ERROR;
    pool->started = 1;
    return TORUS_OK;
}

int torus_fs_pool_submit(struct torus_fs_pool *pool, struct torus_fs_job *job)
{
    if (slow_path(pool->stopped))
        return TORUS_AGAIN;
    struct torus_fs_worker *best = NULL;
    for (int i = 0; i < pool->started; i++) {
        struct torus_fs_worker *w = &pool->workers[i];
        if (!best || w->in_flight < best->in_flight)
            best = w;
    }
    if (best && best->in_flight > 0 && pool->started < TORUS_FS_POOL_MAX &&
        torus_fs_worker_start(&pool->workers[pool->started], pool->waker, pool->cpu) == TORUS_OK)
        best = &pool->workers[pool->started++]; /* all busy: one more */
    if (!best || torus_fs_worker_submit(best, job) != TORUS_OK)
        return TORUS_AGAIN;
    pool->in_flight++;
    return TORUS_OK;
}

void torus_fs_pool_wake(struct torus_fs_pool *pool)
{
    for (int i = 0; i < pool->started; i++)
        torus_fs_worker_wake(&pool->workers[i]);
}

struct torus_fs_job *torus_fs_pool_pop(struct torus_fs_pool *pool)
{
    if (pool->in_flight == 0)
        return NULL;
    for (int i = 0; i < pool->started; i++) {
        struct torus_fs_job *job = torus_fs_worker_pop(&pool->workers[i]);
        if (job) {
            pool->in_flight--;
            return job;
        }
    }
    return NULL;
}

bool torus_fs_pool_has_done(struct torus_fs_pool *pool)
{
    if (pool->in_flight == 0)
        return false;
    for (int i = 0; i < pool->started; i++) {
        if (torus_fs_worker_has_done(&pool->workers[i]))
            return true;
    }
    return false;
}

int torus_fs_pool_stop(struct torus_fs_pool *pool)
{
    pool->stopped = true;
    int result = TORUS_OK;
    for (int i = 0; i < pool->started; i++) {
        if (torus_fs_worker_stop(&pool->workers[i]) != TORUS_OK)
            result = TORUS_ERROR;
    }
    return result;
}

void torus_fs_pool_free(struct torus_fs_pool *pool)
{
    for (int i = 0; i < pool->started; i++)
        torus_fs_worker_free(&pool->workers[i]);
    pool->started = 0;
}
