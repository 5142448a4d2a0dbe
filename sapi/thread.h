/*
 * What one executor thread's PHP side holds, shared by the files of the SAPI,
 * and the thread's PHP context. Internal to sapi/: the rest of Torus only sees
 * sapi/sapi.h.
 *
 * The files of sapi/, bottom (core) to top; a file includes only headers of
 * files at its level or below:
 *   core     thread.c       this state, the thread's PHP context, counting events
 *            request_bind.c a request as PHP's request globals and C strings
 *            server_vars.c  $_SERVER and getenv()
 *            response.c     response framing
 *            hooks.c        the sapi_module_struct callbacks (output, headers, body...)
 *            functions.c    the "torus" PHP module and the functions it adds
 *            timer.c        per-thread max_execution_time
 *            startup.c      PHP's process start-up and shutdown
 *   modes    classic.c      classic execution: one PHP request per HTTP request
 *            worker.c       worker mode: the script's loop, torus_handle_request()
 *   entry    sapi.c         torus_sapi_startup(), torus_sapi_executor_main(): picks a mode
 * The core never calls into a mode: worker.c hands its PHP functions to the
 * module through torus_sapi_functions_add() (functions.h), called by sapi.c.
 */
#ifndef TORUS_SAPI_THREAD_H
#define TORUS_SAPI_THREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <php.h>

#include "runtime/common.h"
#include "runtime/config.h"
#include "runtime/config_worker.h"
#include "runtime/request.h"
#include "sapi/response.h"

/* Where a worker script is in its life (worker mode only). */
enum torus_sapi_worker_phase {
    TORUS_SAPI_WORKER_BOOTING,    /* running its start-up code, before torus_handle_request() */
    TORUS_SAPI_WORKER_BETWEEN,    /* between two requests: no request bound */
    TORUS_SAPI_WORKER_IN_REQUEST, /* inside the callback of torus_handle_request() */
};

/* The thread's $_SERVER template (sapi/server_template.h). */
enum torus_sapi_template_state {
    TORUS_SAPI_TEMPLATE_UNMADE,   /* not made yet: made by the first request that needs it */
    TORUS_SAPI_TEMPLATE_READY,    /* made: copied into each request's $_SERVER */
    TORUS_SAPI_TEMPLATE_UNUSABLE, /* the environment has names PHP does not keep as strings */
};

struct torus_sapi_thread {
    const struct torus_config *config;
    /* The worker script this executor runs (runtime/config_worker.h); NULL: classic. */
    const struct torus_worker_config *worker;
    struct torus_executor_port *port;

    /* The request being served; NULL outside requests (and while a worker boots). */
    struct torus_request *request;
    struct torus_sapi_response response;
    size_t body_offset; /* bytes of request->body already handed to PHP's read_post */
    bool finished;      /* fastcgi_finish_request() ended the response; output is dropped */

    /*
     * NUL-terminated copies of what PHP wants as C strings, rebuilt for each
     * request into one buffer kept from request to request. NULL when absent.
     */
    char *strings;
    size_t strings_capacity;
    const char *method;
    const char *request_uri;
    const char *query_string;
    const char *content_type;
    const char *cookies; /* every Cookie header, joined with "; " */
    const char *script_filename;
    const char *script_name;
    const char *php_self;        /* script_name + path_info */
    const char *path_translated; /* document_root + path_info, when there is a path_info */
    const char *authorization;
    torus_str server_name; /* Host without its port, or the server address */
    bool has_content_length;
    bool filter_server_copied; /* ext/filter's INPUT_SERVER copy is made (request_bind.c,
                                  server_vars.c) */

    /* Joined header values and getenv() answers. */
    char *scratch;
    size_t scratch_capacity;

    uint64_t requests_served; /* since the thread's interpreter context was (re)created */

    /* Worker mode. */
    enum torus_sapi_worker_phase worker_phase;
    bool worker_entered_loop; /* this run of the script called torus_handle_request() */
    bool port_closed;         /* wait_request() returned NULL: stop */
    bool reload;              /* wait_request() returned NULL for a SIGHUP: run the script again */
    bool exited;              /* exit() in the handler ended this run */
    /*
     * The process environment as $_SERVER entries, imported once per thread
     * and copied into each request's $_SERVER (sapi/server_template.h).
     */
    HashTable *server_template;
    enum torus_sapi_template_state server_template_state;
    uint64_t worker_served; /* requests handled by this run of the worker script */
};

/* The calling thread's SAPI state; NULL on threads that are not executors. */
extern _Thread_local struct torus_sapi_thread *torus_sapi_current;

/*
 * Gives the calling thread its PHP context (ZTS: its own; NTS: the process's)
 * with Torus' per-thread set-up: Zend signals' reset switched off, opcache_reset()
 * refused, the filter functions wrapped.
 */
void torus_sapi_thread_context_acquire(void);

/* Frees the calling thread's PHP context (ZTS); an NTS PHP has one, the process's, kept. */
void torus_sapi_thread_context_release(void);

/* Runs the script file `filename` in the current PHP request, surviving bail-outs. */
void torus_sapi_execute_file(const char *filename);

/*
 * Counts, for /metrics, a request that PHP ended with a fatal error (by
 * reason: timeout, memory, uncaught exception, other). Returns true when
 * there was one.
 */
bool torus_sapi_note_failure(struct torus_sapi_thread *thread);

/* Counts an event for /metrics through the port. */
void torus_sapi_note(struct torus_sapi_thread *thread, enum torus_executor_event event);

#endif
