/*
 * A request as PHP sees it (sapi/request_bind.h): header look-ups, the C
 * strings PHP keeps pointers to (rebuilt per request into one buffer kept
 * from request to request), and SG(request_info).
 */
#include "sapi/request_bind.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <php.h>
#include <SAPI.h>
#include <php_main.h>
#include <php_variables.h>

#include "sapi/response.h"

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
static torus_str worker_script_name(const struct torus_config *config,
                                    const struct torus_worker_config *w)
{
    const char *worker = w->script;
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
        if (script_filename.len == 0 && t->worker)
            script_filename = (torus_str){t->worker->script, strlen(t->worker->script)};
        if (script_name.len == 0 && t->worker)
            script_name = worker_script_name(t->config, t->worker);
    } else {
        script_filename = (torus_str){t->worker->script, strlen(t->worker->script)};
        script_name = worker_script_name(t->config, t->worker);
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