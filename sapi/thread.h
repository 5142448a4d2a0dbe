/*
 * What one executor thread's PHP side holds, shared by the files of the SAPI
 * (sapi.c: SAPI hooks, classic mode; startup.c: start-up; server_vars.c: $_SERVER and
 * getenv(); worker.c: worker mode;
 * functions.c: the PHP functions Torus adds; timer.c: max_execution_time).
 * Internal to sapi/: the rest of Torus only sees sapi/sapi.h.
 */
#ifndef TORUS_SAPI_THREAD_H
#define TORUS_SAPI_THREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/common.h"
#include "runtime/config.h"
#include "runtime/request.h"
#include "sapi/response.h"

/* Where a worker script is in its life (worker mode only). */
enum torus_sapi_worker_phase {
    TORUS_SAPI_WORKER_BOOTING,    /* running its start-up code, before torus_handle_request() */
    TORUS_SAPI_WORKER_BETWEEN,    /* between two requests: no request bound */
    TORUS_SAPI_WORKER_IN_REQUEST, /* inside the callback of torus_handle_request() */
};

struct torus_sapi_thread {
    const struct torus_config *config;
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
    bool filter_server_copied; /* ext/filter's INPUT_SERVER copy is made (sapi.c) */

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
     * The process environment as $_SERVER entries, imported once per run of the
     * worker script and copied into each request's $_SERVER (importing it
     * anew per request costs as much as all the request's own variables).
     */
    zval environment;
    uint64_t worker_served; /* requests handled by this run of the worker script */
};

/* The calling thread's SAPI state; NULL on threads that are not executors. */
extern _Thread_local struct torus_sapi_thread *torus_sapi_current;

/*
 * sapi.c: binds `request` to PHP's request globals (SG(request_info), the
 * response, the C strings) before php_request_startup() or sapi_activate().
 * Returns TORUS_OK, or TORUS_ERROR when memory is exhausted.
 */
int torus_sapi_request_bind(struct torus_sapi_thread *thread, struct torus_request *request);

/*
 * sapi.c: binds the worker script's own start-up "request" (no HTTP request:
 * $_SERVER holds the environment and the script's names).
 */
int torus_sapi_bootstrap_bind(struct torus_sapi_thread *thread);

/*
 * sapi.c: after PHP has deactivated the request: clears the pointers PHP
 * kept, ends the response (END, then RELEASE) and forgets the request.
 */
void torus_sapi_request_unbind(struct torus_sapi_thread *thread);

/* sapi.c: true when no earlier header of `request` has the same name as header `index`. */
bool torus_sapi_header_first_of_name(const struct torus_request *request, uint32_t index);

/*
 * sapi.c: the value of header `index` joined with the later headers of the
 * same name (", ", or "; " for Cookie). Points into the request, or into the
 * thread's scratch buffer (valid until its next use).
 */
void torus_sapi_header_value(struct torus_sapi_thread *thread, const struct torus_request *request,
                             uint32_t index, const char **value, size_t *len);

/* $_SERVER['SERVER_SOFTWARE']. */
#define SERVER_SOFTWARE "Torus/" TORUS_VERSION

/* sapi.c: whether a request header is called `name` (len bytes), in any case. */
bool torus_sapi_header_name_is(const struct torus_header *header, const char *name, size_t len);

/* sapi.c: makes the thread's scratch buffer hold at least size bytes. TORUS_OK or TORUS_ERROR. */
int torus_sapi_scratch_reserve(struct torus_sapi_thread *thread, size_t size);

/* server_vars.c: after PHP's start-up, the permanent $_SERVER keys and the direct way. */
void torus_sapi_server_startup(void);

/* server_vars.c: before PHP's shutdown, releases what torus_sapi_server_startup() made. */
void torus_sapi_server_shutdown(void);

/* server_vars.c: on each executor thread, wraps the filter functions that read INPUT_SERVER. */
void torus_sapi_filter_functions_wrap(void);

/* server_vars.c: the SAPI's register_server_variables hook: fills $_SERVER. */
void torus_sapi_register_variables(zval *array);

/* server_vars.c: the SAPI's getenv hook: the request's variables, then the environment. */
char *torus_sapi_getenv(const char *name, size_t name_len);

/* startup.c: whether PHP's modules have been started (torus_sapi_startup()). */
bool torus_sapi_php_started(void);

/* sapi.c: runs the script file `filename` in the current PHP request, surviving bail-outs. */
void torus_sapi_execute_file(const char *filename);

/*
 * sapi.c: counts, for /metrics, a request that PHP ended with a fatal error
 * (by reason: timeout, memory, uncaught exception, other). Returns true when
 * there was one.
 */
bool torus_sapi_note_failure(struct torus_sapi_thread *thread);

/* sapi.c: counts an event for /metrics through the port. */
void torus_sapi_note(struct torus_sapi_thread *thread, enum torus_executor_event event);

/* worker.c: worker mode's loop (restarts, back-off); TORUS_OK or TORUS_ERROR. */
int torus_sapi_worker_main(struct torus_sapi_thread *thread);

/* timer.c: the signal its watchdog sends an executor whose time limit has passed. */
#define TORUS_TIMER_SIGNAL (SIGRTMIN + 2)

/* timer.c: per-thread max_execution_time; called when an executor thread starts and ends. */
void torus_sapi_timer_thread_start(void);
void torus_sapi_timer_thread_stop(void);

#endif
