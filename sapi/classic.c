/*
 * Classic mode (sapi/classic.h), per request:
 *     bind (SG(request_info), C strings, response) -> php_request_startup()
 *     -> php_execute_script(routed file) -> php_request_shutdown() -> unbind
 *     (the response's last emit, then RELEASE).
 * The thread's PHP context (ts_resource) is made once and kept; with
 * --max-requests it is freed and made anew every N requests.
 */
#include "sapi/classic.h"

#include <string.h>

#include <php.h>
#include <SAPI.h>
#include <php_main.h>

#include "sapi/request_bind.h"
#include "sapi/response.h"

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
void torus_sapi_classic_serve(struct torus_sapi_thread *t, struct torus_request *request)
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
int torus_sapi_classic_main(struct torus_sapi_thread *t)
{
    struct torus_request *request;
    while ((request = t->port->wait_request(t->port)) != NULL) {
        torus_sapi_classic_serve(t, request);
        if (t->config->max_requests && ++t->requests_served >= t->config->max_requests) {
            torus_sapi_note(t, TORUS_EVENT_RESTART_MAX_REQUESTS);
            /*
             * --max-requests: a fresh interpreter context for this thread
             * (ZTS). An NTS PHP has only the process's, which each request
             * already leaves as php_request_shutdown() found it.
             */
            torus_sapi_thread_context_release();
            torus_sapi_thread_context_acquire();
            SG(server_context) = t;
            t->requests_served = 0;
        }
    }
    return TORUS_OK;
}