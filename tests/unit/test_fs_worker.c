/*
 * The file-system worker of net/fs_worker.c, driven as the I/O thread drives
 * it, with a real thread and the shard's real eventfd handshake:
 *
 *   - jobs run on the worker thread (not the caller's) and come back, each
 *     exactly once, in the order they were handed over;
 *   - a done job wakes a caller that announced its sleep (waker.sleeping =
 *     1), through the eventfd: the wait below would time out otherwise;
 *   - the jobs ring refuses a job past TORUS_FS_WORKER_RING_SIZE in flight,
 *     and takes jobs again once done ones are popped;
 *   - a pool whose only worker is stuck on a slow job starts another one,
 *     which runs the next job at once;
 *   - a job stuck in a system call (here: a sleep far longer than the stop's
 *     patience) makes stop give up after TORUS_FS_WORKER_STOP_WAIT_S instead
 *     of hanging the shard's exit.
 *
 * Every wait is bounded: a lost wake-up fails the test, it does not hang it.
 */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "net/fs_worker.h"
#include "tests/unit/check.h"

struct counted_job {
    struct torus_fs_job base;
    int number;
    pthread_t ran_on;
    _Atomic int runs;
    unsigned sleep_ms;
};

static void counted_run(struct torus_fs_job *base)
{
    struct counted_job *job = (struct counted_job *)base;
    job->ran_on = pthread_self();
    atomic_fetch_add(&job->runs, 1);
    if (job->sleep_ms) {
        struct timespec pause = {job->sleep_ms / 1000, (long)(job->sleep_ms % 1000) * 1000000};
        nanosleep(&pause, NULL);
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * The I/O thread's wait: announce the sleep, look at the done ring once more,
 * then block on the eventfd (here with poll, bounded). True when woken or
 * already done.
 */
static bool wait_for_done(struct torus_fs_worker *w, struct torus_io_waker *waker, int timeout_ms)
{
    atomic_store_explicit(&waker->sleeping, 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst);
    if (torus_fs_worker_has_done(w)) {
        atomic_store(&waker->sleeping, 0);
        return true;
    }
    struct pollfd pfd = {.fd = waker->event_fd, .events = POLLIN};
    int n = poll(&pfd, 1, timeout_ms);
    atomic_store(&waker->sleeping, 0);
    if (n == 1) {
        uint64_t value;
        ssize_t got = read(waker->event_fd, &value, sizeof(value));
        (void)got;
    }
    return n == 1 || torus_fs_worker_has_done(w);
}

static void test_jobs_come_back_in_order(void)
{
    struct torus_io_waker waker;
    atomic_init(&waker.sleeping, 0);
    waker.event_fd = eventfd(0, EFD_CLOEXEC);
    CHECK(waker.event_fd >= 0);
    struct torus_fs_worker w;
    CHECK(torus_fs_worker_start(&w, &waker, -1) == TORUS_OK);

    enum { ROUNDS = 50, PER_ROUND = 40 };
    static struct counted_job jobs[ROUNDS * PER_ROUND];
    int next_expected = 0;
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < PER_ROUND; i++) {
            struct counted_job *job = &jobs[round * PER_ROUND + i];
            job->base.run = counted_run;
            job->number = round * PER_ROUND + i;
            CHECK(torus_fs_worker_submit(&w, &job->base) == TORUS_OK);
        }
        torus_fs_worker_wake(&w);
        double give_up = now_s() + 10;
        while (next_expected < (round + 1) * PER_ROUND && now_s() < give_up) {
            struct torus_fs_job *done = torus_fs_worker_pop(&w);
            if (!done) {
                /* Nothing yet: sleep as the I/O thread does; the worker must wake us. */
                CHECK(wait_for_done(&w, &waker, 5000));
                continue;
            }
            struct counted_job *job = (struct counted_job *)done;
            CHECK(job->number == next_expected);
            CHECK(!pthread_equal(job->ran_on, pthread_self()));
            next_expected++;
        }
    }
    CHECK(next_expected == ROUNDS * PER_ROUND);
    CHECK(w.in_flight == 0);
    for (int i = 0; i < ROUNDS * PER_ROUND; i++)
        CHECK(atomic_load(&jobs[i].runs) == 1);
    CHECK(torus_fs_worker_stop(&w) == TORUS_OK);
    torus_fs_worker_free(&w);
    close(waker.event_fd);
}

static void test_ring_full_then_room_again(void)
{
    struct torus_io_waker waker;
    atomic_init(&waker.sleeping, 0);
    waker.event_fd = eventfd(0, EFD_CLOEXEC);
    struct torus_fs_worker w;
    CHECK(torus_fs_worker_start(&w, &waker, -1) == TORUS_OK);
    static struct counted_job jobs[TORUS_FS_WORKER_RING_SIZE + 1];
    /* Not woken: the worker may take some on its own, but none is popped, so all stay in flight. */
    for (int i = 0; i < TORUS_FS_WORKER_RING_SIZE; i++) {
        jobs[i].base.run = counted_run;
        CHECK(torus_fs_worker_submit(&w, &jobs[i].base) == TORUS_OK);
    }
    jobs[TORUS_FS_WORKER_RING_SIZE].base.run = counted_run;
    CHECK(torus_fs_worker_submit(&w, &jobs[TORUS_FS_WORKER_RING_SIZE].base) == TORUS_AGAIN);
    CHECK(atomic_load(&jobs[TORUS_FS_WORKER_RING_SIZE].runs) == 0);
    torus_fs_worker_wake(&w);
    int popped = 0;
    double give_up = now_s() + 10;
    while (popped == 0 && now_s() < give_up) {
        if (torus_fs_worker_pop(&w))
            popped++;
        else
            wait_for_done(&w, &waker, 1000);
    }
    CHECK(popped == 1);
    CHECK(torus_fs_worker_submit(&w, &jobs[TORUS_FS_WORKER_RING_SIZE].base) == TORUS_OK);
    torus_fs_worker_wake(&w);
    while (w.in_flight > 0 && now_s() < give_up) {
        if (!torus_fs_worker_pop(&w))
            wait_for_done(&w, &waker, 1000);
    }
    CHECK(w.in_flight == 0);
    CHECK(atomic_load(&jobs[TORUS_FS_WORKER_RING_SIZE].runs) == 1);
    torus_fs_worker_free(&w);
    close(waker.event_fd);
}

static void test_stop_gives_up_on_a_stuck_job(void)
{
    struct torus_io_waker waker;
    atomic_init(&waker.sleeping, 0);
    waker.event_fd = eventfd(0, EFD_CLOEXEC);
    static struct torus_fs_worker stuck_worker; /* left to the stuck thread */
    struct torus_fs_worker *w = &stuck_worker;
    CHECK(torus_fs_worker_start(w, &waker, -1) == TORUS_OK);
    static struct counted_job stuck = {.sleep_ms = (TORUS_FS_WORKER_STOP_WAIT_S + 3) * 1000};
    stuck.base.run = counted_run;
    CHECK(torus_fs_worker_submit(w, &stuck.base) == TORUS_OK);
    torus_fs_worker_wake(w);
    double give_up = now_s() + 5;
    while (atomic_load(&stuck.runs) == 0 && now_s() < give_up)
        usleep(1000);
    double started = now_s();
    CHECK(torus_fs_worker_stop(w) == TORUS_ERROR);
    double took = now_s() - started;
    CHECK(took >= TORUS_FS_WORKER_STOP_WAIT_S - 0.5 && took < TORUS_FS_WORKER_STOP_WAIT_S + 2.5);
    CHECK(w->abandoned);
    torus_fs_worker_free(w); /* must not free the rings the thread still uses */
}

static void test_pool_starts_a_worker_when_all_are_busy(void)
{
    struct torus_io_waker waker;
    atomic_init(&waker.sleeping, 0);
    waker.event_fd = eventfd(0, EFD_CLOEXEC);
    struct torus_fs_pool pool;
    CHECK(torus_fs_pool_start(&pool, &waker, -1) == TORUS_OK);
    CHECK(pool.started == 1);
    static struct counted_job slow = {.sleep_ms = 1500}, quick;
    slow.base.run = counted_run;
    quick.base.run = counted_run;
    CHECK(torus_fs_pool_submit(&pool, &slow.base) == TORUS_OK);
    torus_fs_pool_wake(&pool);
    CHECK(torus_fs_pool_submit(&pool, &quick.base) == TORUS_OK);
    CHECK(pool.started == 2);
    torus_fs_pool_wake(&pool);
    double started = now_s();
    struct torus_fs_job *first = NULL;
    while (!first && now_s() < started + 10) {
        first = torus_fs_pool_pop(&pool);
        if (!first)
            wait_for_done(&pool.workers[1], &waker, 100);
    }
    CHECK(first == &quick.base);
    CHECK(now_s() - started < 1.0); /* not behind the slow one */
    struct torus_fs_job *second = NULL;
    while (!second && now_s() < started + 10) {
        second = torus_fs_pool_pop(&pool);
        if (!second)
            wait_for_done(&pool.workers[0], &waker, 100);
    }
    CHECK(second == &slow.base);
    CHECK(pool.in_flight == 0);
    CHECK(torus_fs_pool_stop(&pool) == TORUS_OK);
    CHECK(torus_fs_pool_submit(&pool, &quick.base) == TORUS_AGAIN); /* stopped: nothing taken */
    CHECK(pool.in_flight == 0);
    torus_fs_pool_free(&pool);
    close(waker.event_fd);
}

int main(void)
{
    test_jobs_come_back_in_order();
    test_ring_full_then_room_again();
    test_pool_starts_a_worker_when_all_are_busy();
    test_stop_gives_up_on_a_stuck_job();
    printf("test_fs_worker: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
