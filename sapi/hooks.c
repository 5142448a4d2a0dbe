/*
 * The SAPI hooks (sapi/hooks.h): what PHP calls while it runs a request.
 *
 * Output path: PHP calls send_headers once (status, header list) and then
 * ub_write with body bytes; both feed the thread's torus_sapi_response
 * (response.c), which frames and emits. flush() makes the response stream.
 * A client that went away (request->aborted, set by the I/O thread) is
 * noticed on the next write or flush, as PHP-FPM notices a failed write: the
 * connection status becomes ABORTED and the script bails out unless
 * ignore_user_abort() is on.
 *
 * The SAPI name is "fpm-fcgi": opcache (PHP <= 8.4) switches itself off for
 * SAPI names outside its allow-list, every PHP version has had this one on
 * it, and it is what applications expect from a production web server.
 */
#include "sapi/hooks.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#include <php_main.h>
#include <php_output.h>

#include "runtime/log.h"
#include "sapi/functions.h"
#include "sapi/response.h"
#include "sapi/server_vars.h"
#include "sapi/thread.h"

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

/*
 * The client went away: what PHP does when a write to the client fails. A
 * worker's request runs to its end as if ignore_user_abort() were on (as in
 * FrankenPHP): a bail-out would end the worker script itself, and its state
 * with it, for a client that merely left.
 */
static void connection_aborted(const struct torus_sapi_thread *t)
{
    if (PG(connection_status) & PHP_CONNECTION_ABORTED)
        return;
    PG(connection_status) |= PHP_CONNECTION_ABORTED;
    php_output_set_status(PHP_OUTPUT_DISABLED);
    if (!PG(ignore_user_abort) && !t->worker)
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
        connection_aborted(t);
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
        connection_aborted(t);
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