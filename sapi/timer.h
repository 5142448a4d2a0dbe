/*
 * Per-thread max_execution_time (part of the SAPI core; sapi/thread.h).
 */
#ifndef TORUS_SAPI_TIMER_H
#define TORUS_SAPI_TIMER_H

#include <signal.h>

/* The signal its watchdog sends an executor whose time limit has passed. */
#define TORUS_TIMER_SIGNAL (SIGRTMIN + 2)

/* Per-thread max_execution_time; called when an executor thread starts and ends. */
void torus_sapi_timer_thread_start(void);
void torus_sapi_timer_thread_stop(void);

#endif
