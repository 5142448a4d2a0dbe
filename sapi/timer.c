/*
 * max_execution_time, one clock per executor thread, without a system call
 * per request.
 *
 * A PHP built with ZEND_MAX_EXECUTION_TIMERS (ZTS on Linux, configured with
 * --enable-zend-max-execution-timers and a Linux --host) already gives every
 * thread its own POSIX timer: nothing to do here but let its signal through.
 *
 * Without it, PHP arms the time limit with setitimer(ITIMER_PROF): a single
 * timer for the whole process, counting the CPU time of all its threads, and
 * its SIGPROF lands on any thread. With several executors one request's
 * limit would overwrite another's, and the signal could interrupt the wrong
 * script (or an I/O thread, which has no PHP context at all). So this file
 * defines setitimer() itself; the libphp linked into the executable resolves
 * to it. Any call from a thread that is not an executor, or for another
 * timer, goes to the kernel unchanged.
 *
 * On an executor thread, ITIMER_PROF becomes a deadline in that thread's
 * slot (CLOCK_MONOTONIC: the limit is wall-clock time, as with PHP's own
 * per-thread timers). PHP sets the limit at the start of every request and
 * clears it at the end; arming a kernel timer each time cost two system calls
 * per request (about a tenth of a worker-mode `hello`). Here both are a store.
 *
 * One watchdog thread (started with the first executor) sleeps until the
 * earliest deadline of all slots. When one has passed it sends the
 * executor's thread TORUS_TIMER_SIGNAL; that thread's handler reads its own
 * deadline and clock again, so a request that ended meanwhile is left alone,
 * and only then raises SIGPROF on itself, where PHP's handler
 * (zend_timeout_handler, through zend_signal) marks the script as timed out
 * and, past the hard timeout, ends it, exactly as before.
 *
 * Waking the watchdog, without a lost wake-up: it publishes `planned` (when
 * it means to wake up; 0 while it scans) and sleeps on the futex word `wake`
 * with the value it read before scanning. An executor that stores a deadline
 * earlier than `planned` (or sees 0) bumps `wake` and wakes it. A new request
 * normally sets a deadline later than the one the watchdog waits for, so this
 * is rare: set_time_limit() shortening the limit, or the first request.
 */
#include <php.h>

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "runtime/log.h"
#include "sapi/timer.h"

#include "sapi/sapi.h"
#include "sapi/thread.h"

#ifndef ZEND_MAX_EXECUTION_TIMERS

#define SLOT_COUNT 1024 /* executor threads of one process, at most */

struct timer_slot {
    _Atomic uint64_t deadline_ns; /* CLOCK_MONOTONIC; 0: no limit armed */
    _Atomic pid_t tid;            /* 0: slot free */
    uint64_t signalled_ns;        /* watchdog only: the deadline it last signalled */
};

static struct timer_slot slots[SLOT_COUNT];
static _Atomic int slots_used; /* slots[0 .. slots_used) have been handed out */
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER; /* taking and freeing slots */
static _Atomic uint64_t planned = 0; /* when the watchdog wakes up; 0 while it scans */
static _Atomic uint32_t wake;        /* futex word of the watchdog */
static pthread_once_t watchdog_once = PTHREAD_ONCE_INIT;
static bool watchdog_running;

static _Thread_local struct timer_slot *thread_slot;

/* Executor thread, TORUS_TIMER_SIGNAL: the watchdog saw our deadline pass. Check, then time out. */
static void on_timer_signal(int signo)
{
    (void)signo;
    int saved_errno = errno;
    struct timer_slot *slot = thread_slot;
    if (slot) {
        uint64_t deadline = atomic_load_explicit(&slot->deadline_ns, memory_order_relaxed);
        if (deadline && torus_monotonic_ns() >= deadline) {
            atomic_store_explicit(&slot->deadline_ns, 0, memory_order_relaxed);
            /* PHP's handler may arm the hard timeout: that is a new deadline, set from here. */
            syscall(SYS_tgkill, getpid(), atomic_load_explicit(&slot->tid, memory_order_relaxed),
                    SIGPROF);
        }
    }
    errno = saved_errno;
}

static void *watchdog_main(void *arg)
{
    (void)arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    pthread_setname_np(pthread_self(), "torus-timer");
    for (;;) {
        atomic_store_explicit(&planned, 0, memory_order_seq_cst);
        uint32_t seen = atomic_load_explicit(&wake, memory_order_seq_cst);
        uint64_t now = torus_monotonic_ns();
        uint64_t next = UINT64_MAX;
        int used = atomic_load_explicit(&slots_used, memory_order_acquire);
        for (int i = 0; i < used; i++) {
            struct timer_slot *slot = &slots[i];
            pid_t tid = atomic_load_explicit(&slot->tid, memory_order_acquire);
            uint64_t deadline = atomic_load_explicit(&slot->deadline_ns, memory_order_seq_cst);
            if (!tid || !deadline)
                continue;
            if (deadline > now) {
                next = deadline < next ? deadline : next;
            } else if (slot->signalled_ns != deadline) {
                slot->signalled_ns = deadline;
                syscall(SYS_tgkill, getpid(), tid, TORUS_TIMER_SIGNAL);
            } else {
                /* Signalled, not handled yet (the thread is in a system call): look again soon. */
                next = TORUS_MIN(next, now + 10000000u);
            }
        }
        atomic_store_explicit(&planned, next, memory_order_seq_cst);
        if (next == UINT64_MAX) {
            syscall(SYS_futex, (uint32_t *)&wake, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
        } else {
            uint64_t wait = next - now;
            struct timespec ts = {(time_t)(wait / 1000000000u), (long)(wait % 1000000000u)};
            syscall(SYS_futex, (uint32_t *)&wake, FUTEX_WAIT_PRIVATE, seen, &ts, NULL, 0);
        }
    }
    return NULL;
}

static void watchdog_start(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_timer_signal;
    sa.sa_flags = SA_RESTART | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(TORUS_TIMER_SIGNAL, &sa, NULL) != 0)
        return;
    /* The default stack: a small one cannot hold the static thread-local storage of ZTS PHP. */
    pthread_t thread;
    int rc = pthread_create(&thread, NULL, watchdog_main, NULL);
    if (rc != 0) {
        torus_log_error("max_execution_time: cannot start the watchdog thread: %s", strerror(rc));
        return;
    }
    watchdog_running = true;
    pthread_detach(thread);
}

void torus_sapi_timer_thread_start(void)
{
    pthread_once(&watchdog_once, watchdog_start);
    if (!watchdog_running)
        return; /* without its watchdog, the thread falls back to the process timer */
    pid_t tid = (pid_t)syscall(SYS_gettid);
    pthread_mutex_lock(&slots_lock);
    int used = atomic_load_explicit(&slots_used, memory_order_relaxed);
    int index = 0;
    while (index < used && atomic_load_explicit(&slots[index].tid, memory_order_relaxed))
        index++;
    if (index < SLOT_COUNT) {
        atomic_store_explicit(&slots[index].deadline_ns, 0, memory_order_relaxed);
        atomic_store_explicit(&slots[index].tid, tid, memory_order_release);
        if (index == used)
            atomic_store_explicit(&slots_used, used + 1, memory_order_release);
        thread_slot = &slots[index];
    }
    pthread_mutex_unlock(&slots_lock);
}

void torus_sapi_timer_thread_stop(void)
{
    struct timer_slot *slot = thread_slot;
    if (!slot)
        return;
    thread_slot = NULL;
    pthread_mutex_lock(&slots_lock);
    atomic_store_explicit(&slot->deadline_ns, 0, memory_order_seq_cst);
    atomic_store_explicit(&slot->tid, 0, memory_order_release);
    pthread_mutex_unlock(&slots_lock);
}

/* Sets this thread's deadline (0: none), waking the watchdog when it must look sooner. */
static void deadline_set(struct timer_slot *slot, uint64_t deadline)
{
    atomic_store_explicit(&slot->deadline_ns, deadline, memory_order_seq_cst);
    if (!deadline)
        return;
    uint64_t when = atomic_load_explicit(&planned, memory_order_seq_cst);
    if (when == 0 || deadline < when) {
        atomic_fetch_add_explicit(&wake, 1, memory_order_seq_cst);
        syscall(SYS_futex, (uint32_t *)&wake, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    }
}

void torus_sapi_time_limit_extend(uint64_t ns)
{
    struct timer_slot *slot = thread_slot;
    if (!slot)
        return;
    uint64_t deadline = atomic_load_explicit(&slot->deadline_ns, memory_order_relaxed);
    if (deadline)
        deadline_set(slot, deadline + ns);
}

int setitimer(__itimer_which_t which, const struct itimerval *restrict value,
              struct itimerval *restrict old_value)
{
    struct timer_slot *slot = thread_slot;
    if (which != ITIMER_PROF || !slot)
        return (int)syscall(SYS_setitimer, which, value, old_value);

    uint64_t now = torus_monotonic_ns();
    if (old_value) {
        uint64_t deadline = atomic_load_explicit(&slot->deadline_ns, memory_order_relaxed);
        uint64_t left = deadline > now ? deadline - now : (deadline ? 1000 : 0);
        old_value->it_interval = (struct timeval){0, 0};
        old_value->it_value = (struct timeval){(time_t)(left / 1000000000u),
                                               (suseconds_t)(left % 1000000000u / 1000u)};
    }
    if (!value)
        return 0;
    if (value->it_value.tv_sec < 0 || value->it_value.tv_usec < 0 ||
        value->it_value.tv_usec >= 1000000) {
        errno = EINVAL;
        return -1;
    }
    uint64_t limit =
        (uint64_t)value->it_value.tv_sec * 1000000000u + (uint64_t)value->it_value.tv_usec * 1000u;
    deadline_set(slot, limit ? now + limit : 0);
    return 0;
}

#else /* ZEND_MAX_EXECUTION_TIMERS: PHP keeps one timer per thread itself. */

void torus_sapi_time_limit_extend(uint64_t ns)
{
    (void)ns;
}

void torus_sapi_timer_thread_start(void)
{
}

void torus_sapi_timer_thread_stop(void)
{
}

#endif
