/*
 * Worker mode: the --worker script runs once per executor and serves the
 * requests itself, looping on torus_handle_request($callback) (the same
 * function as FrankenPHP's frankenphp_handle_request), so its start-up work
 * (autoloading, container, connections) is paid once.
 *
 * The script's own run is one ordinary PHP request: php_request_startup(),
 * php_execute_script(), php_request_shutdown(). Each HTTP request is a
 * lighter cycle nested inside it, which resets what a fresh request would
 * see and FrankenPHP resets: the output layer and the SAPI headers (status
 * back to 200), superglobals re-imported ($_GET, $_POST, $_COOKIE, $_FILES,
 * $_SERVER, then $_REQUEST; $_SESSION dropped), uploaded temp files deleted,
 * the session, zlib and filter modules shut down and started again (so
 * zlib.output_compression follows this request's Accept-Encoding), temporary
 * streams released, putenv() changes undone, the last error cleared, and
 * max_execution_time and memory_limit put back to what they were when the
 * worker entered its loop, then re-armed. Statics and globals persist, and
 * so does a session save handler the script set (sapi/worker_session.h).
 *
 * A client that goes away never ends a worker's request early: it runs to
 * its end as under ignore_user_abort(true), connection_aborted() telling
 * (sapi/hooks.c), as FrankenPHP does.
 *
 * Phases of one run:  BOOTING --first torus_handle_request()--> BETWEEN
 *                     BETWEEN --request arrives--> IN_REQUEST --callback done--> BETWEEN
 * Invariant: PHP's output layer is always active (the request's own, or one
 * whose output goes to the log); the SAPI layer is active while BOOTING and
 * IN_REQUEST only. So php_request_shutdown() at the end of the run, however
 * the script ends, tears down exactly what is active, and a request still
 * bound then (fatal error, timeout, memory exhaustion inside the callback:
 * PHP bailed out of it) is answered with what PHP set, a 500.
 *
 * Ends of a run: the port says stop (wait_request() returned NULL:
 * torus_handle_request() returns false and the executor returns once the
 * script ends); exit() in the callback (the script's shutdown functions run
 * and the response is completed, then the exit unwinds the script); a fatal error; the script
 * returning on its own;
 * --max-requests requests served (torus_handle_request() returns false).
 * The script is then run again. A run that never reached
 * torus_handle_request() is a start-up failure: logged with file:line,
 * retried after min(failures² × 100 ms, 1 s); after
 * --max-consecutive-failures of them in a row, the executor gives up.
 */
#include <SAPI.h>
#include <ext/spl/spl_exceptions.h>
#include <ext/standard/basic_functions.h>
#include <php_main.h>
#include <php_memory_streams.h>
#include <php_output.h>
#include <php_streams.h>
#include <zend_exceptions.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/log.h"
#include "sapi/response.h"
#include "sapi/worker.h"

#include "sapi/request_bind.h"
#include "sapi/thread.h"
#include "sapi/worker_session.h"

/* Modules whose per-request state must be reset between two requests of a worker. */
static const char *const modules_to_reset[] = {"session", "zlib", "filter"};

/* max_execution_time and memory_limit as the worker's loop started, restored for each request. */
static _Thread_local char loop_max_execution_time[32];
static _Thread_local char loop_memory_limit[32];

/* The modules of modules_to_reset, looked up once per thread (the registry is fixed after
 * start-up); NULL where PHP has no such module. */
static _Thread_local zend_module_entry *reset_modules[TORUS_ARRAY_SIZE(modules_to_reset)];
static _Thread_local bool reset_modules_found;

static zend_module_entry *const *modules_found(void)
{
    if (slow_path(!reset_modules_found)) {
        for (size_t i = 0; i < TORUS_ARRAY_SIZE(modules_to_reset); i++)
            reset_modules[i] = zend_hash_str_find_ptr(&module_registry, modules_to_reset[i],
                                                      strlen(modules_to_reset[i]));
        reset_modules_found = true;
    }
    return reset_modules;
}

static void module_request_shutdown(zend_module_entry *module)
{
    zend_try
    {
        module->request_shutdown_func(module->type, module->module_number);
    }
    zend_end_try();
}

static void modules_request_shutdown(void)
{
    zend_module_entry *const *modules = modules_found();
    for (size_t i = 0; i < TORUS_ARRAY_SIZE(modules_to_reset); i++) {
        if (modules[i] && modules[i]->request_shutdown_func)
            module_request_shutdown(modules[i]);
    }
}

static void modules_request_startup(void)
{
    zend_module_entry *const *modules = modules_found();
    for (size_t i = 0; i < TORUS_ARRAY_SIZE(modules_to_reset); i++) {
        if (modules[i] && modules[i]->request_startup_func)
            modules[i]->request_startup_func(modules[i]->type, modules[i]->module_number);
    }
}

/*
 * Rebuilds the superglobals from the request now bound. $_FILES is emptied
 * first so that parsing the POST body fills it anew; $_ENV stays (the
 * environment is the process's); $_SERVER and $_REQUEST are built now, since
 * the already compiled callback would never trigger their just-in-time
 * creation.
 */
static void superglobals_reimport(void)
{
    zval *files = &PG(http_globals)[TRACK_VARS_FILES];
    zval_ptr_dtor_nogc(files);
    ZVAL_UNDEF(files);

    zend_auto_global *auto_global;
    ZEND_HASH_MAP_FOREACH_PTR(CG(auto_globals), auto_global)
    {
        if (zend_string_equals_literal(auto_global->name, "_ENV") ||
            zend_string_equals_literal(auto_global->name, "GLOBALS"))
            continue;
        if (auto_global->auto_global_callback)
            auto_global->armed = auto_global->auto_global_callback(auto_global->name);
        else
            auto_global->armed = 0;
    }
    ZEND_HASH_FOREACH_END();
    /* No session is started yet: $_SESSION must not show the previous request's. */
    zend_hash_str_del(&EG(symbol_table), "_SESSION", sizeof("_SESSION") - 1);
}

/* Frees the temporary streams (the request body) nobody else holds. */
static void temporary_streams_release(void)
{
    int stream_type = php_file_le_stream();
    zend_resource *resource;
    ZEND_HASH_FOREACH_PTR(&EG(regular_list), resource)
    {
        if (resource->type != stream_type)
            continue;
        php_stream *stream = resource->ptr;
        if (stream && stream->ops == &php_stream_temp_ops && !stream->__exposed &&
            GC_REFCOUNT(resource) == 1)
            zend_list_delete(resource);
    }
    ZEND_HASH_FOREACH_END();
}

static void last_error_clear(void)
{
    if (PG(last_error_message)) {
        zend_string_release(PG(last_error_message));
        PG(last_error_message) = NULL;
    }
    if (PG(last_error_file)) {
        zend_string_release(PG(last_error_file));
        PG(last_error_file) = NULL;
    }
    PG(last_error_type) = 0;
    PG(last_error_lineno) = 0;
}

static void ini_restore(const char *name, const char *value)
{
    if (!value[0])
        return;
    const char *current = zend_ini_string(name, strlen(name), 0);
    if (current && strcmp(current, value) == 0)
        return;
    zend_string *key = zend_string_init(name, strlen(name), 0);
    zend_alter_ini_entry_chars(key, value, strlen(value), PHP_INI_USER, PHP_INI_STAGE_RUNTIME);
    zend_string_release(key);
}

/*
 * Ends the active context (the script's start-up, or a request): flushes and
 * closes the output layer (which sends the headers), shuts the per-request
 * modules down, deactivates the SAPI layer (uploaded files are deleted here)
 * and undoes what must not leak into the next request. Leaves a fresh output
 * layer active, whose output goes to the log, and the SAPI layer inactive.
 */
static void context_end(struct torus_sapi_thread *t)
{
    zend_try
    {
        php_output_end_all();
    }
    zend_end_try();
    zend_try
    {
        zend_unset_timeout();
    }
    zend_end_try();
    torus_sapi_session_handler_keep();
    modules_request_shutdown();
    zend_try
    {
        php_output_deactivate();
    }
    zend_end_try();
    zend_try
    {
        sapi_deactivate();
    }
    zend_end_try();

    temporary_streams_release();
    zend_hash_clean(&BG(putenv_ht)); /* restores the environment putenv() changed */
    zend_hash_str_del(&EG(symbol_table), "_SESSION", sizeof("_SESSION") - 1);
    last_error_clear();

    torus_sapi_request_unbind(t); /* with a request bound: its last emit and RELEASE */
    zend_set_memory_limit(PG(memory_limit));

    /* Between requests no header can be sent, and output goes to the log. */
    SG(headers_sent) = 1;
    SG(request_info).no_headers = 1;
    php_output_activate();
    t->worker_phase = TORUS_SAPI_WORKER_BETWEEN;
}

/* Makes `request` the active context, as php_request_startup() would. TORUS_OK or TORUS_ERROR. */
static int request_begin(struct torus_sapi_thread *t, struct torus_request *request)
{
    zend_try
    {
        php_output_end_all();
    }
    zend_end_try();
    php_output_deactivate();

    if (slow_path(torus_sapi_request_bind(t, request) != TORUS_OK))
        return TORUS_ERROR;
    t->worker_phase = TORUS_SAPI_WORKER_IN_REQUEST;

    volatile int result = TORUS_OK;
    zend_try
    {
        php_output_activate();
        PG(header_is_being_sent) = 0;
        PG(connection_status) = PHP_CONNECTION_NORMAL;
        sapi_activate();

        ini_restore("max_execution_time", loop_max_execution_time);
        ini_restore("memory_limit", loop_memory_limit);
        zend_set_memory_limit(PG(memory_limit));

        if (PG(expose_php))
            sapi_add_header(SAPI_PHP_VERSION_HEADER, sizeof(SAPI_PHP_VERSION_HEADER) - 1, 1);
        if (PG(output_handler) && PG(output_handler)[0]) {
            zval handler;
            ZVAL_STRING(&handler, PG(output_handler));
            php_output_start_user(&handler, 0, PHP_OUTPUT_HANDLER_STDFLAGS);
            zval_ptr_dtor(&handler);
        } else if (PG(output_buffering)) {
            php_output_start_user(NULL, PG(output_buffering) > 1 ? PG(output_buffering) : 0,
                                  PHP_OUTPUT_HANDLER_STDFLAGS);
        } else if (PG(implicit_flush)) {
            php_output_set_implicit_flush(1);
        }
        superglobals_reimport();
        modules_request_startup();
        torus_sapi_session_handler_restore();
        /* The SIGPROF handler is the one php_request_startup() installed for the worker script's
         * run: only the limit is re-armed (without a sigaction() per request). */
        zend_set_timeout(EG(timeout_seconds), 0); /* max_execution_time, as just restored */
    }
    zend_catch
    {
        result = TORUS_ERROR;
    }
    zend_end_try();
    return result;
}

/* The first torus_handle_request() call: the script's start-up is over. */
static void bootstrap_end(struct torus_sapi_thread *t)
{
    context_end(t);
    const char *max_execution_time = zend_ini_string("max_execution_time", 18, 0);
    const char *memory_limit = zend_ini_string("memory_limit", 12, 0);
    snprintf(loop_max_execution_time, sizeof(loop_max_execution_time), "%s",
             max_execution_time ? max_execution_time : "");
    snprintf(loop_memory_limit, sizeof(loop_memory_limit), "%s", memory_limit ? memory_limit : "");
}

ZEND_FUNCTION(torus_handle_request)
{
    zend_fcall_info callback;
    zend_fcall_info_cache callback_cache;
    ZEND_PARSE_PARAMETERS_START(1, 1)
    Z_PARAM_FUNC(callback, callback_cache)
    ZEND_PARSE_PARAMETERS_END();

    struct torus_sapi_thread *t = torus_sapi_current;
    if (!t || !t->worker) {
        zend_throw_exception(spl_ce_RuntimeException,
                             "torus_handle_request() called while not in worker mode", 0);
        RETURN_THROWS();
    }
    if (t->worker_phase == TORUS_SAPI_WORKER_IN_REQUEST) {
        zend_throw_error(NULL, "torus_handle_request() cannot be called while handling a request");
        RETURN_THROWS();
    }
    t->worker_entered_loop = true;
    if (t->worker_phase == TORUS_SAPI_WORKER_BOOTING)
        bootstrap_end(t);
    if (t->port_closed || (t->worker->max_requests && t->worker_served >= t->worker->max_requests))
        RETURN_FALSE;

    struct torus_request *request = t->port->wait_request(t->port);
    if (!request) {
        /* SIGHUP: this run ends and the script starts again; otherwise the executor stops. */
        if (t->port->reload_requested && t->port->reload_requested(t->port))
            t->reload = true;
        else
            t->port_closed = true;
        RETURN_FALSE;
    }

    if (slow_path(request_begin(t, request) != TORUS_OK)) {
        SG(sapi_headers).http_response_code = 500;
        context_end(t);
        t->worker_served++;
        RETURN_TRUE;
    }

    zval result;
    ZVAL_UNDEF(&result);
    callback.retval = &result;
    callback.params = NULL;
    callback.param_count = 0;
    callback.named_params = NULL;
    zend_call_function(&callback, &callback_cache);
    zval_ptr_dtor(&result);

    /*
     * exit() in the callback arrives as an "unwind exit" exception: the
     * response is completed first (with the exception set aside, so output
     * handlers and session writers still run), then it unwinds the script,
     * which the executor runs again. Any other exception is reported as
     * uncaught (logged, 500) and the worker goes on.
     */
    zend_object *exit_in_progress = NULL;
    if (EG(exception)) {
        if (zend_is_unwind_exit(EG(exception)) || zend_is_graceful_exit(EG(exception))) {
            exit_in_progress = EG(exception);
            EG(exception) = NULL;
            t->exited = true;
        } else {
            zend_exception_error(EG(exception), E_ERROR);
            torus_sapi_note(t, TORUS_EVENT_CRASH_EXCEPTION);
        }
    }
    if (exit_in_progress) {
        /*
         * The script ends after this request: its shutdown functions run now,
         * inside the request, so what they print reaches this client as under
         * PHP-FPM (the run's end would send it to the log).
         */
        zend_try
        {
            php_call_shutdown_functions();
        }
        zend_end_try();
        php_free_shutdown_functions();
    }
    context_end(t);
    t->worker_served++;
    if (exit_in_progress) {
        if (EG(exception))
            zend_clear_exception();
        EG(exception) = exit_in_progress;
        RETURN_THROWS();
    }
    RETURN_TRUE;
}

/* Why a run ended before its loop: PHP's last error with file:line, if any. */
static void failure_describe(char *out, size_t size)
{
    if (PG(last_error_message))
        snprintf(out, size, "%s in %s:%d", ZSTR_VAL(PG(last_error_message)),
                 PG(last_error_file) ? ZSTR_VAL(PG(last_error_file)) : "unknown",
                 PG(last_error_lineno));
    else
        snprintf(out, size, "the script ended without calling torus_handle_request()");
}

/*
 * One run of the worker script; failures: the start-up failures in a row
 * before it (for the log). Returns true when it reached torus_handle_request().
 */
static bool worker_run(struct torus_sapi_thread *t, int failures)
{
    int exit_status = 0;
    char failure[1024] = "";
    t->worker_phase = TORUS_SAPI_WORKER_BOOTING;
    t->worker_entered_loop = false;
    t->worker_served = 0;
    t->reload = false;
    t->exited = false;

    if (slow_path(torus_sapi_bootstrap_bind(t) != TORUS_OK)) {
        torus_log_error("worker %s (%s): out of memory", t->worker->name, t->worker->script);
        return false;
    }
    if (fast_path(php_request_startup() == SUCCESS)) {
        torus_sapi_execute_file(t->worker->script);
        if (!t->worker_entered_loop)
            failure_describe(failure, sizeof(failure));
        exit_status = EG(exit_status);
    } else {
        snprintf(failure, sizeof(failure), "PHP request start-up failed");
    }
    /* A request still bound here was cut short by a bail-out (fatal error, timeout, memory). */
    bool cut_short = t->worker_entered_loop && t->request != NULL;
    if (cut_short)
        torus_sapi_note_failure(t);
    torus_sapi_session_handler_release(); /* it lives in this run's request memory */
    php_request_shutdown(NULL);
    /* ...and it gets what PHP set (500). */
    torus_sapi_request_unbind(t);
    t->worker_phase = TORUS_SAPI_WORKER_BOOTING;

    if (!t->worker_entered_loop) {
        torus_log_error("worker %s (%s) failed before torus_handle_request(), exit code %d: %s; "
                        "start-up failure %d in a row (the server gives up at %d)",
                        t->worker->name, t->worker->script, exit_status, failure, failures + 1,
                        t->config->max_consecutive_failures);
        torus_sapi_note(t, TORUS_EVENT_RESTART_BOOT_FAILURE);
    } else if (!t->port_closed) {
        /* Why this run ends (the script is started again). */
        enum torus_executor_event why = TORUS_EVENT_RESTART_SCRIPT_END;
        if (t->reload)
            why = TORUS_EVENT_RESTART_RELOAD;
        else if (cut_short)
            why = TORUS_EVENT_RESTART_FATAL;
        else if (t->exited)
            why = TORUS_EVENT_RESTART_EXIT;
        else if (t->worker->max_requests && t->worker_served >= t->worker->max_requests)
            why = TORUS_EVENT_RESTART_MAX_REQUESTS;
        torus_sapi_note(t, why);
    }
    return t->worker_entered_loop;
}

int torus_sapi_worker_main(struct torus_sapi_thread *t)
{
    int limit = t->config->max_consecutive_failures > 0 ? t->config->max_consecutive_failures : 1;
    int failures = 0;
    while (!t->port_closed) {
        if (worker_run(t, failures)) {
            failures = 0;
            continue;
        }
        if (++failures >= limit) {
            torus_log_error("worker %s (%s) failed to start %d times in a row: giving up",
                            t->worker->name, t->worker->script, failures);
            return TORUS_ERROR;
        }
        long delay_ms = TORUS_MIN(100L * failures * failures, 1000L);
        struct timespec delay = {delay_ms / 1000, (delay_ms % 1000) * 1000000L};
        while (nanosleep(&delay, &delay) != 0)
            ;
    }
    return TORUS_OK;
}

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_torus_handle_request, 0, 1, _IS_BOOL, 0)
ZEND_ARG_TYPE_INFO(0, callback, IS_CALLABLE, 0)
ZEND_END_ARG_INFO()

// clang-format off
const zend_function_entry torus_sapi_worker_functions[] = {
    ZEND_FE(torus_handle_request, arginfo_torus_handle_request)
    ZEND_FALIAS(frankenphp_handle_request, torus_handle_request, arginfo_torus_handle_request)
    ZEND_FE_END
};
// clang-format on
