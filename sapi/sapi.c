/*
 * The PHP SAPI of Torus: the hooks PHP calls while it runs a request
 * (output, headers, request body, cookies, log), and classic mode. Start-up
 * is in startup.c, $_SERVER and getenv() in server_vars.c.
 *
 * Start-up, once, on the main thread: TSRM sized for the executors, Zend
 * signals, the SAPI module, then php_module_startup() with the "torus" module
 * of extra functions (functions.c). Settings come in three layers, lowest
 * first: our defaults (display_errors off, log_errors on: PHP-FPM's stance,
 * errors reach Torus' log through the log_message hook), php.ini
 * (--php-ini, else PHP's usual search), then INI text we build and PHP parses
 * last: zend_extension=opcache.so from the PHP build's extension folder and
 * every -d KEY=VALUE, quoted the way the php CLI quotes them.
 *
 * The SAPI name is "fpm-fcgi": opcache (PHP <= 8.4) switches itself off for
 * SAPI names outside its allow-list, every PHP version has had this one on
 * it, and it is what applications expect from a production web server.
 *
 * Executor threads (classic mode), per request:
 *     bind (SG(request_info), C strings, response) -> php_request_startup()
 *     -> php_execute_script(routed file) -> php_request_shutdown() -> unbind
 *     (the response's last emit, then RELEASE).
 * The thread's PHP context (ts_resource) is made once and kept; with
 * --max-requests it is freed and made anew every N requests.
 *
 * Output path: PHP calls send_headers once (status, header list) and then
 * ub_write with body bytes; both feed the thread's torus_sapi_response
 * (response.c), which frames and emits. flush() makes the response stream.
 * A client that went away (request->aborted, set by the I/O thread) is
 * noticed on the next write or flush, as PHP-FPM notices a failed write: the
 * connection status becomes ABORTED and the script bails out unless
 * ignore_user_abort() is on.
 */
#include "sapi/sapi.h"

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>
#include <errno.h>
#include <unistd.h>

#include <php.h>
#include <SAPI.h>
#include <php_main.h>
#include <php_output.h>
#include <php_variables.h>
#include <zend_extensions.h>

#include "runtime/log.h"
#include "sapi/response.h"
#include "sapi/thread.h"

extern zend_module_entry torus_sapi_module_entry; /* functions.c */
ZEND_FUNCTION(torus_sapi_opcache_reset_refused);  /* functions.c */

const char torus_sapi_name[] = "fpm-fcgi";

_Thread_local struct torus_sapi_thread *torus_sapi_current;

/* ------------------------------------------------------------------------ */
/* Headers of the request                                                    */
/* ------------------------------------------------------------------------ */

bool torus_sapi_header_name_is(const struct torus_header *header, const char *name, size_t len)
{
    return header->name.len == len && strncasecmp(header->name.data, name, len) == 0;
}

static bool same_header_name(const struct torus_header *a, const struct torus_header *b)
{
    return a->name.len == b->name.len && strncasecmp(a->name.data, b->name.data, a->name.len) == 0;
}

/* True when no earlier header of the request has the same name. */
bool torus_sapi_header_first_of_name(const struct torus_request *request, uint32_t index)
{
    for (uint32_t i = 0; i < index; i++) {
        if (same_header_name(&request->headers[i], &request->headers[index]))
            return false;
    }
    return true;
}

int torus_sapi_scratch_reserve(struct torus_sapi_thread *t, size_t size)
{
    if (size <= t->scratch_capacity)
        return TORUS_OK;
    size_t capacity = t->scratch_capacity ? t->scratch_capacity : 256;
    while (capacity < size)
        capacity *= 2;
    char *grown = realloc(t->scratch, capacity);
    if (slow_path(!grown))
        return TORUS_ERROR;
    t->scratch = grown;
    t->scratch_capacity = capacity;
    return TORUS_OK;
}

/*
 * The value of header `index` joined with the values of the later headers of
 * the same name (", ", or "; " for Cookie), as one field. Points into the
 * request when there is a single one, else into the thread's scratch buffer
 * (which keeps one spare byte for a NUL).
 */
void torus_sapi_header_value(struct torus_sapi_thread *t, const struct torus_request *request,
                             uint32_t index, const char **value, size_t *len)
{
    const struct torus_header *header = &request->headers[index];
    size_t total = header->value.len;
    bool joined = false;
    for (uint32_t i = index + 1; i < request->header_count; i++) {
        if (same_header_name(&request->headers[i], header)) {
            total += 2 + request->headers[i].value.len;
            joined = true;
        }
    }
    *value = header->value.data;
    *len = header->value.len;
    if (fast_path(!joined) || slow_path(torus_sapi_scratch_reserve(t, total + 1) != TORUS_OK))
        return;
    const char *separator = torus_sapi_header_name_is(header, "Cookie", 6) ? "; " : ", ";
    memcpy(t->scratch, header->value.data, header->value.len);
    size_t n = header->value.len;
    for (uint32_t i = index + 1; i < request->header_count; i++) {
        if (same_header_name(&request->headers[i], header)) {
            memcpy(t->scratch + n, separator, 2);
            memcpy(t->scratch + n + 2, request->headers[i].value.data,
                   request->headers[i].value.len);
            n += 2 + request->headers[i].value.len;
        }
    }
    *value = t->scratch;
    *len = n;
}

/* ------------------------------------------------------------------------ */
/* Binding a request to PHP's globals                                        */
/* ------------------------------------------------------------------------ */

static const char *put_string(char **cursor, const char *data, size_t len)
{
    char *start = *cursor;
    if (len)
        memcpy(start, data, len);
    start[len] = '\0';
    *cursor = start + len + 1;
    return start;
}

static int strings_reserve(struct torus_sapi_thread *t, size_t size)
{
    if (size <= t->strings_capacity)
        return TORUS_OK;
    size_t capacity = t->strings_capacity ? t->strings_capacity : 1024;
    while (capacity < size)
        capacity *= 2;
    char *grown = realloc(t->strings, capacity);
    if (slow_path(!grown))
        return TORUS_ERROR;
    t->strings = grown;
    t->strings_capacity = capacity;
    return TORUS_OK;
}

/* The worker script's URI path: its path under --root, else "/" + its file name. */
static torus_str worker_script_name(const struct torus_config *config)
{
    const char *worker = config->worker;
    size_t root_len = config->root ? strlen(config->root) : 0;
    while (root_len && config->root[root_len - 1] == '/')
        root_len--;
    if (root_len && strncmp(worker, config->root, root_len) == 0 && worker[root_len] == '/')
        return (torus_str){worker + root_len, strlen(worker + root_len)};
    const char *slash = strrchr(worker, '/');
    return slash ? (torus_str){slash, strlen(slash)} : (torus_str){worker, strlen(worker)};
}

/* Fills the C strings of t from request (NULL: the worker script's own run). */
static int strings_build(struct torus_sapi_thread *t, const struct torus_request *request)
{
    torus_str content_type = {NULL, 0}, authorization = {NULL, 0}, host = {NULL, 0};
    size_t cookies_len = 0;
    bool has_cookies = false;
    t->has_content_length = false;

    torus_str method = {NULL, 0}, target = {NULL, 0}, query = {NULL, 0}, path_info = {NULL, 0};
    torus_str script_filename, script_name;
    const char *document_root = "";
    if (request) {
        for (uint32_t i = 0; i < request->header_count; i++) {
            const struct torus_header *h = &request->headers[i];
            switch (h->name.len) {
            case 4:
                if (!host.data && torus_sapi_header_name_is(h, "Host", 4))
                    host = h->value;
                break;
            case 6:
                if (torus_sapi_header_name_is(h, "Cookie", 6)) {
                    cookies_len += (has_cookies ? 2 : 0) + h->value.len;
                    has_cookies = true;
                }
                break;
            case 12:
                if (!content_type.data && torus_sapi_header_name_is(h, "Content-Type", 12))
                    content_type = h->value;
                break;
            case 13:
                if (!authorization.data && torus_sapi_header_name_is(h, "Authorization", 13))
                    authorization = h->value;
                break;
            case 14:
                if (torus_sapi_header_name_is(h, "Content-Length", 14))
                    t->has_content_length = true;
                break;
            default:
                break;
            }
        }
        method = request->method;
        target = request->target;
        query = request->query;
        path_info = request->path_info;
        script_filename = request->script_filename;
        script_name = request->script_name;
        if (request->document_root)
            document_root = request->document_root;
        if (script_filename.len == 0 && t->config->worker)
            script_filename = (torus_str){t->config->worker, strlen(t->config->worker)};
        if (script_name.len == 0 && t->config->worker)
            script_name = worker_script_name(t->config);
    } else {
        script_filename = (torus_str){t->config->worker, strlen(t->config->worker)};
        script_name = worker_script_name(t->config);
        if (t->config->root)
            document_root = t->config->root;
    }
    size_t document_root_len = strlen(document_root);

    size_t size = method.len + target.len + query.len + content_type.len + cookies_len +
                  script_filename.len + 2 * script_name.len + 2 * path_info.len +
                  document_root_len + authorization.len + 16;
    if (slow_path(strings_reserve(t, size) != TORUS_OK))
        return TORUS_ERROR;

    char *cursor = t->strings;
    t->method = request ? put_string(&cursor, method.data, method.len) : NULL;
    t->request_uri = request ? put_string(&cursor, target.data, target.len) : NULL;
    t->query_string = request ? put_string(&cursor, query.data, query.len) : NULL;
    t->content_type =
        content_type.data ? put_string(&cursor, content_type.data, content_type.len) : NULL;
    t->cookies = NULL;
    if (has_cookies) {
        char *cookies = cursor;
        size_t n = 0;
        for (uint32_t i = 0; i < request->header_count; i++) {
            const struct torus_header *h = &request->headers[i];
            if (!torus_sapi_header_name_is(h, "Cookie", 6))
                continue;
            if (n) {
                memcpy(cookies + n, "; ", 2);
                n += 2;
            }
            memcpy(cookies + n, h->value.data, h->value.len);
            n += h->value.len;
        }
        cookies[n] = '\0';
        cursor += n + 1;
        t->cookies = cookies;
    }
    t->script_filename = put_string(&cursor, script_filename.data, script_filename.len);
    t->script_name = put_string(&cursor, script_name.data, script_name.len);
    /* PHP_SELF = SCRIPT_NAME + PATH_INFO, PATH_TRANSLATED = DOCUMENT_ROOT + PATH_INFO. */
    t->php_self = cursor;
    if (script_name.len)
        memcpy(cursor, script_name.data, script_name.len);
    cursor += script_name.len;
    put_string(&cursor, path_info.data, path_info.len);
    t->path_translated = NULL;
    if (path_info.len) {
        t->path_translated = cursor;
        memcpy(cursor, document_root, document_root_len);
        cursor += document_root_len;
        put_string(&cursor, path_info.data, path_info.len);
    }
    t->authorization =
        authorization.data ? put_string(&cursor, authorization.data, authorization.len) : NULL;

    /* SERVER_NAME: the Host header without its port, else the address the request came to. */
    t->server_name = (torus_str){NULL, 0};
    if (host.len) {
        size_t len = host.len;
        if (host.data[0] == '[') {
            const char *end = memchr(host.data, ']', host.len);
            if (end)
                len = (size_t)(end - host.data) + 1;
        } else {
            const char *colon = memchr(host.data, ':', host.len);
            if (colon)
                len = (size_t)(colon - host.data);
        }
        t->server_name = (torus_str){host.data, len};
    }
    if (!t->server_name.len && request)
        t->server_name = (torus_str){request->server_addr, strlen(request->server_addr)};
    return TORUS_OK;
}

/* Points SG(request_info) at t's strings; PHP reads them in php_request_startup(). */
static void request_info_fill(struct torus_sapi_thread *t, const struct torus_request *request)
{
    sapi_request_info *info = &SG(request_info);
    info->request_method = t->method;
    info->query_string = (char *)t->query_string;
    info->request_uri = (char *)(request ? t->request_uri : t->script_name);
    info->path_translated = (char *)t->script_filename;
    info->content_type = t->content_type;
    info->content_length = request ? (zend_long)request->body.len : 0;
    info->cookie_data = NULL;
    info->content_type_dup = NULL;
    info->auth_user = info->auth_password = info->auth_digest = NULL;
    info->current_user = NULL;
    info->argc = 0;
    info->argv = NULL;
    info->argv0 = NULL;
    info->headers_only = request && request->head;
    info->proto_num = request ? (request->http2 ? 2000 : 1000 + request->http_minor) : 1000;
    SG(server_context) = t;
    SG(sapi_headers).http_response_code = 200;
    if (t->authorization)
        php_handle_auth_data(t->authorization); /* PHP_AUTH_USER, PHP_AUTH_PW, PHP_AUTH_DIGEST */
}

int torus_sapi_request_bind(struct torus_sapi_thread *t, struct torus_request *request)
{
    t->request = request;
    t->body_offset = 0;
    t->finished = false;
    t->filter_server_copied = true; /* nothing to copy until $_SERVER is made */
    torus_sapi_response_begin(&t->response, t->port, request);
    if (slow_path(strings_build(t, request) != TORUS_OK))
        return TORUS_ERROR;
    request_info_fill(t, request);
    return TORUS_OK;
}

int torus_sapi_bootstrap_bind(struct torus_sapi_thread *t)
{
    t->request = NULL;
    t->body_offset = 0;
    t->finished = false;
    t->filter_server_copied = true;
    if (slow_path(strings_build(t, NULL) != TORUS_OK))
        return TORUS_ERROR;
    request_info_fill(t, NULL);
    return TORUS_OK;
}

void torus_sapi_request_unbind(struct torus_sapi_thread *t)
{
    /* PHP has freed these (sapi_deactivate) without always clearing them. */
    sapi_request_info *info = &SG(request_info);
    info->request_method = NULL;
    info->query_string = NULL;
    info->request_uri = NULL;
    info->path_translated = NULL;
    info->content_type = NULL;
    info->content_length = 0;
    info->cookie_data = NULL;
    info->content_type_dup = NULL;
    info->auth_user = info->auth_password = info->auth_digest = NULL;
    info->current_user = NULL;
    SG(rfc1867_uploaded_files) = NULL;
    if (t->request) {
        torus_sapi_response_end(&t->response, true);
        t->request = NULL;
    }
    t->finished = false;
}

void torus_sapi_execute_file(const char *filename)
{
    zend_file_handle file;
    zend_stream_init_filename(&file, filename);
    file.primary_script = 1;
    zend_first_try
    {
        php_execute_script(&file);
    }
    zend_end_try();
    zend_destroy_file_handle(&file);
}

/* ------------------------------------------------------------------------ */
/* The SAPI hooks                                                            */
/* ------------------------------------------------------------------------ */

static int on_module_startup(sapi_module_struct *module)
{
    return php_module_startup(module, &torus_sapi_module_entry);
}

static int on_activate(void)
{
    struct torus_sapi_thread *t = torus_sapi_current;
    if (t && t->request) {
        /* sapi_activate() has just reset both. */
        SG(request_info).proto_num = t->request->http2 ? 2000 : 1000 + t->request->http_minor;
        /* HEAD runs the script's output through: the response counts it for Content-Length. */
        SG(request_info).headers_only = 0;
    }
    return SUCCESS;
}

/* The client went away: what PHP does when a write to the client fails. */
static void connection_aborted(void)
{
    if (PG(connection_status) & PHP_CONNECTION_ABORTED)
        return;
    PG(connection_status) |= PHP_CONNECTION_ABORTED;
    php_output_set_status(PHP_OUTPUT_DISABLED);
    if (!PG(ignore_user_abort))
        zend_bailout();
}

static bool client_gone(const struct torus_request *request)
{
    return atomic_load_explicit(&((struct torus_request *)request)->aborted, memory_order_relaxed);
}

/* Output outside any request (a worker script's start-up code): it goes to the log. */
static void output_outside_request(const char *data, size_t len)
{
    while (len && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        len--;
    if (len)
        torus_log_info("PHP output outside a request: %.*s", (int)TORUS_MIN(len, 1000), data);
}

static size_t on_ub_write(const char *data, size_t len)
{
    struct torus_sapi_thread *t = torus_sapi_current;
    if (slow_path(!t || !t->request)) {
        output_outside_request(data, len);
        return len;
    }
    if (slow_path(t->finished))
        return len; /* after fastcgi_finish_request(): nobody listens */
    if (slow_path(client_gone(t->request))) {
        connection_aborted();
        return len;
    }
    torus_sapi_response_write(&t->response, data, len);
    return len;
}

static void on_flush(void *server_context)
{
    (void)server_context;
    struct torus_sapi_thread *t = torus_sapi_current;
    if (!t || !t->request || t->finished)
        return;
    if (slow_path(client_gone(t->request))) {
        connection_aborted();
        return;
    }
    if (!SG(headers_sent))
        sapi_send_headers();
    torus_sapi_response_flush(&t->response);
}

static int on_send_headers(sapi_headers_struct *headers)
{
    struct torus_sapi_thread *t = torus_sapi_current;
    if (!t || !t->request || t->finished || !torus_sapi_response_buffering(&t->response))
        return SAPI_HEADER_SENT_SUCCESSFULLY;
    int status = headers->http_response_code ? headers->http_response_code : 200;
    torus_sapi_response_set_status(&t->response, status);
    zend_llist_position position;
    for (sapi_header_struct *h = zend_llist_get_first_ex(&headers->headers, &position); h;
         h = zend_llist_get_next_ex(&headers->headers, &position)) {
        /* A 304 describes a body it does not carry: no Content-Type (as PHP-FPM). */
        if (status == 304 && h->header_len > 13 && strncasecmp(h->header, "Content-Type:", 13) == 0)
            continue;
        torus_sapi_response_add_header(&t->response, h->header, h->header_len);
    }
    return SAPI_HEADER_SENT_SUCCESSFULLY;
}

static size_t on_read_post(char *buffer, size_t count)
{
    struct torus_sapi_thread *t = torus_sapi_current;
    if (!t || !t->request)
        return 0;
    const torus_str *body = &t->request->body;
    size_t left = body->len - t->body_offset;
    if (count > left)
        count = left;
    if (count && t->request->body_in_file) {
        /* A large body waits in its temporary file (net/body_spool.c). */
        size_t done = 0;
        while (done < count) {
            ssize_t n = pread(t->request->body_fd, buffer + done, count - done,
                              (off_t)(t->body_offset + done));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            done += (size_t)n;
        }
        count = done;
    } else if (count) {
        memcpy(buffer, body->data + t->body_offset, count);
    }
    t->body_offset += count;
    return count;
}

static char *on_read_cookies(void)
{
    struct torus_sapi_thread *t = torus_sapi_current;
    return t && t->request ? (char *)t->cookies : NULL;
}

static zend_result on_request_time(double *request_time)
{
    struct torus_sapi_thread *t = torus_sapi_current;
    if (!t || !t->request || t->request->start_time <= 0)
        return FAILURE;
    *request_time = t->request->start_time;
    return SUCCESS;
}

static void on_log_message(const char *message, int syslog_type)
{
    enum torus_log_level level = TORUS_LOG_INFO;
    if (syslog_type <= LOG_ERR)
        level = TORUS_LOG_ERROR;
    else if (syslog_type == LOG_WARNING)
        level = TORUS_LOG_WARN;
    else if (syslog_type >= LOG_DEBUG)
        level = TORUS_LOG_DEBUG;
    /* Name the request the message is about, as nginx's error log does. */
    const struct torus_sapi_thread *t = torus_sapi_current;
    if (t && t->request)
        torus_log(level, "%s (request: %.*s %.*s)", message, (int)t->request->method.len,
                  t->request->method.data, (int)TORUS_MIN(t->request->target.len, 512),
                  t->request->target.data);
    else
        torus_log(level, "%s", message);
}

sapi_module_struct torus_sapi_module = {
    "fpm-fcgi", /* name: see torus_sapi_name */
    "Torus",    /* pretty name */
    on_module_startup,
    php_module_shutdown_wrapper,
    on_activate,
    NULL, /* deactivate */
    on_ub_write,
    on_flush,
    NULL, /* get_stat: stat() of path_translated */
    torus_sapi_getenv,
    php_error,
    NULL, /* header_handler */
    on_send_headers,
    NULL, /* send_header: send_headers does it all */
    on_read_post,
    on_read_cookies,
    torus_sapi_register_variables,
    on_log_message,
    on_request_time,
    NULL, /* terminate_process */
    STANDARD_SAPI_MODULE_PROPERTIES,
};

/* ------------------------------------------------------------------------ */
/* Executor threads and classic mode                                         */
/* ------------------------------------------------------------------------ */

/* Answers without running PHP (no script routed, no memory to bind the request). */
static void respond_plain(struct torus_sapi_thread *t, struct torus_request *request, int status,
                          const char *body)
{
    torus_sapi_response_begin(&t->response, t->port, request);
    torus_sapi_response_set_status(&t->response, status);
    torus_sapi_response_add_header(&t->response, "Content-Type: text/plain; charset=UTF-8", 39);
    torus_sapi_response_write(&t->response, body, strlen(body));
    torus_sapi_response_end(&t->response, true);
}

void torus_sapi_note(struct torus_sapi_thread *t, enum torus_executor_event event)
{
    if (t->port->note)
        t->port->note(t->port, event);
}

bool torus_sapi_note_failure(struct torus_sapi_thread *t)
{
    const int fatal = E_ERROR | E_CORE_ERROR | E_COMPILE_ERROR | E_USER_ERROR | E_PARSE;
    if (!PG(last_error_message) || !(PG(last_error_type) & fatal))
        return false;
    const char *message = ZSTR_VAL(PG(last_error_message));
    enum torus_executor_event event = TORUS_EVENT_CRASH_FATAL_ERROR;
    if (strstr(message, "Maximum execution time"))
        event = TORUS_EVENT_CRASH_TIMEOUT;
    else if (strstr(message, "Allowed memory size"))
        event = TORUS_EVENT_CRASH_MEMORY;
    else if (strncmp(message, "Uncaught ", 9) == 0)
        event = TORUS_EVENT_CRASH_EXCEPTION;
    torus_sapi_note(t, event);
    return true;
}

static void serve_classic(struct torus_sapi_thread *t, struct torus_request *request)
{
    if (slow_path(request->script_filename.len == 0)) {
        respond_plain(t, request, 404, "File not found.\n");
        return;
    }
    if (slow_path(torus_sapi_request_bind(t, request) != TORUS_OK)) {
        t->request = NULL;
        respond_plain(t, request, 500, "Out of memory.\n");
        return;
    }
    if (fast_path(php_request_startup() == SUCCESS)) {
        torus_sapi_execute_file(t->script_filename);
        torus_sapi_note_failure(t);
    } else {
        SG(sapi_headers).http_response_code = 500;
    }
    php_request_shutdown(NULL);
    torus_sapi_request_unbind(t);
}

/*
 * Gives the calling thread its PHP context. Zend signals would otherwise
 * install their own handler for SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and
 * SIGUSR2 at every request, process-wide, replacing Torus' own and running
 * on threads that have no PHP context: signal "reset" is switched off, so
 * only the signals PHP arms itself (the time limit's SIGPROF, pcntl_signal())
 * get its handler.
 */
static void thread_context_acquire(void)
{
#ifdef ZTS
    (void)ts_resource(0);
    ZEND_TSRMLS_CACHE_UPDATE();
#endif
#ifdef ZEND_SIGNALS
    SIGG(reset) = 0;
#endif
    /*
     * opcache_reset() would empty the shared cache under the scripts the
     * other executors are running (opcache's "nobody is using it" check
     * looks at processes, not threads). Each thread holds its own copy of
     * the internal function, so its handler is swapped here, per thread.
     */
    zend_function *reset =
        zend_hash_str_find_ptr(CG(function_table), "opcache_reset", sizeof("opcache_reset") - 1);
    if (reset && reset->type == ZEND_INTERNAL_FUNCTION)
        reset->internal_function.handler = ZEND_FN(torus_sapi_opcache_reset_refused);
    torus_sapi_filter_functions_wrap();
}

/* Frees the calling thread's PHP context (ZTS); an NTS PHP has one, the process's, kept. */
static void thread_context_release(void)
{
#ifdef ZTS
    ts_free_thread();
#endif
}

static int classic_main(struct torus_sapi_thread *t)
{
    struct torus_request *request;
    while ((request = t->port->wait_request(t->port)) != NULL) {
        serve_classic(t, request);
        if (t->config->max_requests && ++t->requests_served >= t->config->max_requests) {
            torus_sapi_note(t, TORUS_EVENT_RESTART_MAX_REQUESTS);
            /*
             * --max-requests: a fresh interpreter context for this thread
             * (ZTS). An NTS PHP has only the process's, which each request
             * already leaves as php_request_shutdown() found it.
             */
            thread_context_release();
            thread_context_acquire();
            SG(server_context) = t;
            t->requests_served = 0;
        }
    }
    return TORUS_OK;
}

int torus_sapi_executor_main(const struct torus_config *cfg, struct torus_executor_port *port)
{
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
    thread_context_acquire();

    struct torus_sapi_thread *t = calloc(1, sizeof(*t));
    if (slow_path(!t)) {
        thread_context_release();
        return TORUS_ERROR;
    }
    t->config = cfg;
    t->port = port;
    torus_sapi_response_init(&t->response);
    torus_sapi_current = t;
    torus_sapi_timer_thread_start();
    SG(server_context) = t;

    int result = cfg->worker ? torus_sapi_worker_main(t) : classic_main(t);

    SG(server_context) = NULL;
    torus_sapi_timer_thread_stop();
    torus_sapi_current = NULL;
    torus_sapi_response_free(&t->response);
    free(t->strings);
    free(t->scratch);
    free(t);
    thread_context_release();
    return result;
}
