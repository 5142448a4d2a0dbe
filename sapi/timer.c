/*
 * max_execution_time, one clock per executor thread.
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
 * to it. On an executor thread, ITIMER_PROF becomes that thread's own timer
 * (timer_create: CLOCK_MONOTONIC, SIGEV_THREAD_ID) delivering SIGPROF to that
 * thread only, where PHP's handler (zend_timeout_handler, through zend_signal)
 * marks the script as timed out. The limit is wall-clock time, as with PHP's
 * own per-thread timers. Any other call (another thread, another timer) goes
 * to the kernel unchanged.
 */
#include <php.h>

#include <signal.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "sapi/thread.h"

#ifndef ZEND_MAX_EXECUTION_TIMERS

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

static _Thread_local bool thread_is_executor;
static _Thread_local bool timer_created;
static _Thread_local timer_t thread_timer;

void torus_sapi_timer_thread_start(void)
{
    thread_is_executor = true;
}

void torus_sapi_timer_thread_stop(void)
{
    if (timer_created)
        timer_delete(thread_timer);
    timer_created = false;
    thread_is_executor = false;
}

static struct timespec to_timespec(struct timeval tv)
{
    return (struct timespec){tv.tv_sec, tv.tv_usec * 1000};
}

static struct timeval to_timeval(struct timespec ts)
{
    return (struct timeval){ts.tv_sec, ts.tv_nsec / 1000};
}

int setitimer(__itimer_which_t which, const struct itimerval *restrict value,
              struct itimerval *restrict old_value)
{
    if (which != ITIMER_PROF || !thread_is_executor)
        return (int)syscall(SYS_setitimer, which, value, old_value);

    if (!timer_created) {
        struct sigevent event = {0};
        event.sigev_notify = SIGEV_THREAD_ID;
        event.sigev_signo = SIGPROF;
        event.sigev_notify_thread_id = (pid_t)syscall(SYS_gettid);
        if (timer_create(CLOCK_MONOTONIC, &event, &thread_timer) != 0)
            return -1;
        timer_created = true;
    }
    struct itimerspec spec = {.it_interval = to_timespec(value->it_interval),
                              .it_value = to_timespec(value->it_value)};
    struct itimerspec old_spec;
    if (timer_settime(thread_timer, 0, &spec, old_value ? &old_spec : NULL) != 0)
        return -1;
    if (old_value) {
        old_value->it_interval = to_timeval(old_spec.it_interval);
        old_value->it_value = to_timeval(old_spec.it_value);
    }
    return 0;
}

#else /* ZEND_MAX_EXECUTION_TIMERS: PHP keeps one timer per thread itself. */

void torus_sapi_timer_thread_start(void)
{
}

void torus_sapi_timer_thread_stop(void)
{
}

#endif
