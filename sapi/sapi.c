/*
 * The PHP SAPI of Torus, its entry (sapi/sapi.h): start-up with every mode's
 * PHP functions, and the executor thread's life, which picks classic or
 * worker mode. The layers below are described in sapi/thread.h.
 */
#include "sapi/sapi.h"

#include <signal.h>
#include <stdlib.h>

#include <php.h>
#include <SAPI.h>

#include "sapi/classic.h"
#include "sapi/functions.h"
#include "sapi/response.h"
#include "sapi/server_template.h"
#include "sapi/startup.h"
#include "sapi/thread.h"
#include "sapi/timer.h"
#include "sapi/worker.h"

const char torus_sapi_name[] = "fpm-fcgi";

int torus_sapi_startup(const struct torus_config *cfg, int max_threads, char *err, size_t err_size)
{
    static bool functions_added;
    if (!functions_added) {
        torus_sapi_functions_add(torus_sapi_worker_functions);
        functions_added = true;
    }
    return torus_sapi_php_startup(cfg, max_threads, err, err_size);
}

int torus_sapi_executor_main(const struct torus_config *cfg,
                             const struct torus_worker_config *worker,
                             struct torus_executor_port *port)
{
    /* A configuration made without config_worker.c (the unit tests): cfg->worker, defaults. */
    struct torus_worker_config plain = {0};
    if (!worker && cfg->worker && cfg->worker_count == 0) {
        plain.script = cfg->worker;
        plain.name = cfg->worker;
        plain.num = 1;
        plain.max_requests = cfg->max_requests;
        worker = &plain;
    }

    if (slow_path(!torus_sapi_php_started()))
        return TORUS_ERROR;

    /* max_execution_time arrives as SIGPROF (or SIGRTMIN with PHP's own timers) on this thread. */
    sigset_t timer_signals;
    sigemptyset(&timer_signals);
    sigaddset(&timer_signals, SIGPROF);
#ifdef SIGRTMIN
    sigaddset(&timer_signals, SIGRTMIN);
    sigaddset(&timer_signals, TORUS_TIMER_SIGNAL);
#endif
    pthread_sigmask(SIG_UNBLOCK, &timer_signals, NULL);
    torus_sapi_thread_context_acquire();

    struct torus_sapi_thread *t = calloc(1, sizeof(*t));
    if (slow_path(!t)) {
        torus_sapi_thread_context_release();
        return TORUS_ERROR;
    }
    t->config = cfg;
    t->worker = worker;
    t->port = port;
    torus_sapi_response_init(&t->response);
    t->response.encoding.settings = &cfg->compression;
    torus_sapi_current = t;
    torus_sapi_timer_thread_start();
    SG(server_context) = t;

    int result = worker ? torus_sapi_worker_main(t) : torus_sapi_classic_main(t);

    SG(server_context) = NULL;
    torus_sapi_timer_thread_stop();
    torus_sapi_current = NULL;
    torus_sapi_response_free(&t->response);
    torus_sapi_server_template_free(t);
    free(t->strings);
    free(t->scratch);
    free(t);
    torus_sapi_thread_context_release();
    return result;
}