/*
 * Worker mode (sapi/thread.h): the worker script runs once and loops on
 * torus_handle_request() / frankenphp_handle_request().
 */
#ifndef TORUS_SAPI_WORKER_H
#define TORUS_SAPI_WORKER_H

#include <php.h>

#include "sapi/thread.h"

/* Worker mode's PHP functions (torus_handle_request and its alias), for torus_sapi_functions_add().
 */
extern const zend_function_entry torus_sapi_worker_functions[];

/* Worker mode's loop (restarts, back-off); TORUS_OK or TORUS_ERROR. */
int torus_sapi_worker_main(struct torus_sapi_thread *thread);

#endif
