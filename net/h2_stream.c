/*
 * An HTTP/2 stream (net/h2.h): its request collected from HEADERS and DATA
 * (header fields bounded by --max-header-size; the body in memory up to
 * --body-buffer-size, in an unlinked temporary file past it, bounded by
 * --max-body-size), then routed and answered here (a static file, read in
 * pieces into DATA frames, never whole; the server's own pages) or handed
 * to the shard's executors as an ordinary torus_request (net/dispatch.c).
 *
 * The executor's parts (runtime/response_head.h) come back through
 * h2_stream_on_part(): the head becomes a HEADERS frame (an interim one for
 * 103; lower-case names, no connection-specific fields), body parts are
 * queued on the stream and leave as DATA through a data provider that says
 * NGHTTP2_ERR_DEFERRED while nothing is queued and is resumed by the next
 * part. A stream's queue above TORUS_OUTPUT_HIGH_MARK throttles its executor
 * (runtime/request.h), as a slow HTTP/1.1 reader does; HTTP/2's flow control
 * is what makes a slow reader's queue fill.
 *
 * Known limits: a route the kernel's caches cannot answer without waiting,
 * and a static file the cache does not hold, are looked up (and the file
 * read) on the I/O thread (HTTP/1.1 uses the file-system workers and io_uring
 * reads), and a large body is written to its file with write().
 */
#include "net/h2.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "net/http_response.h"
#include "net/route_worker.h"
#include "net/sendfile_rules.h"
#include "runtime/log.h"
#include "runtime/response_head.h"

/* ------------------------------------------------------------------------ */
/* Streams                                                                  */

struct h2_stream *h2_stream_new(struct h2_session *s, int32_t id)
{
    struct h2_stream *st = calloc(1, sizeof(*st));
    if (slow_path(!st))
        return NULL;
    st->session = s;
    st->id = id;
    st->body_fd = -1;
    st->file_fd = -1;
    st->content_length = -1;
    st->start_ns = torus_monotonic_ns();
    st->next = s->streams;
    if (s->streams)
        s->streams->prev = st;
    s->streams = st;
    s->stream_count++;
    s->receiving++;
    return st;
}

void h2_stream_set_state(struct h2_stream *st, enum h2_stream_state state)
{
    if (st->state <= H2_STREAM_BODY && state > H2_STREAM_BODY)
        st->session->receiving--;
    st->state = state;
}

static void stream_drop_output(struct h2_stream *st)
{
    for (struct torus_chunk *k = st->out_first, *next; k; k = next) {
        next = k->next;
        torus_chunk_free(k);
    }
    st->out_first = st->out_last = NULL;
    st->out_bytes = 0;
    if (st->file_fd >= 0) {
        close(st->file_fd);
        st->file_fd = -1;
    }
}

/* The response ended (or the stream went away): count it and write its log line. */
static void stream_observe(struct h2_stream *st, int status)
{
    struct torus_loop *loop = st->session->conn->loop;
    uint64_t duration = torus_monotonic_ns() - st->start_ns;
    torus_metrics_observe(loop->shard->metrics, status, duration);
    if (st->log) {
        torus_access_log_end(&loop->access_log, st->log, status, st->response_bytes, duration);
        st->log = NULL;
    }
}

void h2_stream_free(struct h2_stream *st)
{
    struct h2_session *s = st->session;
    if (st->state <= H2_STREAM_BODY)
        s->receiving--;
    if (st->log)
        stream_observe(st, 499);
    struct torus_exchange *x = st->exchange;
    if (x) {
        x->stream = NULL;
        if (x->executor < 0) {
            /* Still in the shard's FIFO: nobody else holds it. */
            dispatch_dequeue(s->conn->loop, x);
            dispatch_exchange_free(x);
            s->conn->held--;
        } else {
            /* The executor goes on until it notices; its parts are dropped. */
            atomic_store_explicit(&x->request.aborted, true, memory_order_release);
            dispatch_flow_release(&x->request);
        }
    }
    stream_drop_output(st);
    free(st->fields);
    free(st->body);
    if (st->body_fd >= 0)
        close(st->body_fd);
    if (st->prev)
        st->prev->next = st->next;
    else
        s->streams = st->next;
    if (st->next)
        st->next->prev = st->prev;
    s->stream_count--;
    free(st);
}

/* The value of request header `name` (lower-case), or NULL. */
static const char *stream_field(const struct h2_stream *st, const char *name, size_t *len)
{
    const char *at = st->fields, *end = st->fields + st->fields_len;
    while (at < end) {
        size_t name_len = strlen(at);
        const char *value = at + name_len + 1;
        size_t value_len = strlen(value);
        if (strcmp(at, name) == 0) {
            if (len)
                *len = value_len;
            return value;
        }
        at = value + value_len + 1;
    }
    return NULL;
}

/* Makes room for `need` bytes in *buf (capacity *cap, doubling from `first`). TORUS_OK or
 * TORUS_ERROR. */
static int grow(char **buf, size_t *cap, size_t need, size_t first)
{
    if (need <= *cap)
        return TORUS_OK;
    size_t size = *cap ? *cap * 2 : first;
    while (size < need)
        size *= 2;
    char *grown = realloc(*buf, size);
    if (slow_path(!grown))
        return TORUS_ERROR;
    *buf = grown;
    *cap = size;
    return TORUS_OK;
}

int h2_stream_add_field(struct h2_stream *st, const uint8_t *name, size_t name_len,
                        const uint8_t *value, size_t value_len)
{
    size_t need = st->fields_len + name_len + value_len + 2;
    if (slow_path(grow(&st->fields, &st->fields_cap, need, 1024) != TORUS_OK))
        return TORUS_ERROR;
    memcpy(st->fields + st->fields_len, name, name_len);
    st->fields[st->fields_len + name_len] = '\0';
    memcpy(st->fields + st->fields_len + name_len + 1, value, value_len);
    st->fields[st->fields_len + name_len + 1 + value_len] = '\0';
    st->fields_len = need;
    st->field_count++;
    return TORUS_OK;
}

/* ------------------------------------------------------------------------ */
/* Output                                                                   */

/* Releases the executor of a stream's request when its queue and the connection's are low. */
void h2_stream_maybe_unthrottle(struct h2_stream *st)
{
    struct torus_exchange *x = st->exchange;
    if (!x || !atomic_load_explicit(&x->request.throttled, memory_order_relaxed))
        return;
    if (st->out_bytes < TORUS_OUTPUT_LOW_MARK &&
        st->session->conn->out_bytes < TORUS_OUTPUT_LOW_MARK) {
        atomic_store_explicit(&x->request.throttled, false, memory_order_release);
        dispatch_flow_release(&x->request);
    }
}

static ssize_t read_data(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length,
                         uint32_t *flags, nghttp2_data_source *source, void *user)
{
    (void)ng;
    (void)id;
    (void)user;
    struct h2_stream *st = source->ptr;
    size_t n = 0;
    while (n < length && st->out_first) {
        struct torus_chunk *k = st->out_first;
        size_t take = TORUS_MIN(length - n, (size_t)(k->len - k->sent));
        memcpy(buf + n, k->data + k->sent, take);
        k->sent += (uint32_t)take;
        n += take;
        st->out_bytes -= take;
        if (k->sent == k->len) {
            st->out_first = k->next;
            if (!st->out_first)
                st->out_last = NULL;
            torus_chunk_free(k);
        }
    }
    if (n < length && !st->out_first && st->file_fd >= 0 && st->file_remaining) {
        /* A file in pieces, never whole (page-cache reads on the I/O thread). */
        size_t want = (size_t)TORUS_MIN((uint64_t)(length - n), st->file_remaining);
        ssize_t got = pread(st->file_fd, buf + n, want, (off_t)st->file_offset);
        if (got <= 0) {
            torus_log_warn("shard %d: reading a static file failed: %s",
                           st->session->conn->loop->shard->id,
                           got < 0 ? strerror(errno) : "unexpected end of file");
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets the stream */
        }
        st->file_offset += (uint64_t)got;
        st->file_remaining -= (uint64_t)got;
        n += (size_t)got;
        if (!st->file_remaining) {
            close(st->file_fd);
            st->file_fd = -1;
        }
    }
    h2_stream_maybe_unthrottle(st);
    if (!st->out_first && st->file_fd < 0 && st->eof) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        return (ssize_t)n;
    }
    if (n == 0) {
        st->deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    return (ssize_t)n;
}

/* Queues body bytes for the stream's DATA (the chunk is taken). */
static void stream_queue(struct h2_stream *st, struct torus_chunk *k)
{
    if (k->len == k->sent) {
        torus_chunk_free(k);
        return;
    }
    st->out_bytes += k->len - k->sent;
    st->response_bytes += k->len - k->sent;
    torus_chunk_append(&st->out_first, &st->out_last, k);
}

static void stream_resume(struct h2_stream *st)
{
    if (st->deferred) {
        st->deferred = false;
        nghttp2_session_resume_data(st->session->ng, st->id);
    }
}

/* Header lines a final HTTP/2 head does not take from the lines: connection-specific ones (RFC 9113
 * 8.2.2), and Server and Date, which submit_head() writes itself. */
static bool is_connection_header(const char *name, size_t len)
{
    static const char *const names[] = {
        "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade",
        "server",     "date"};
    for (size_t i = 0; i < TORUS_ARRAY_SIZE(names); i++) {
        if (len == strlen(names[i]) && strncasecmp(name, names[i], len) == 0)
            return true;
    }
    return false;
}

/*
 * Submits a response head: status and "Name: value\r\n" lines (lower-cased
 * here, connection-specific ones left out), plus content-length when >= 0.
 * With a body the stream's data provider follows. TORUS_OK or TORUS_ERROR.
 */
static int submit_head(struct h2_stream *st, int status, const char *lines, size_t lines_len,
                       int64_t content_length, bool body, bool interim)
{
    size_t count = 4;
    for (size_t i = 0; i < lines_len; i++)
        count += lines[i] == '\n';
    nghttp2_nv *nv = malloc(count * sizeof(*nv));
    char *lower = malloc(lines_len + 64);
    if (slow_path(!nv || !lower)) {
        free(nv);
        free(lower);
        return TORUS_ERROR;
    }
    char status_text[4];
    snprintf(status_text, sizeof(status_text), "%03d", status);
    size_t n = 0;
    nv[n++] =
        (nghttp2_nv){(uint8_t *)":status", (uint8_t *)status_text, 7, 3, NGHTTP2_NV_FLAG_NONE};
    if (!interim) {
        nv[n++] = (nghttp2_nv){(uint8_t *)"server", (uint8_t *)TORUS_SERVER_NAME, 6,
                               sizeof(TORUS_SERVER_NAME) - 1, NGHTTP2_NV_FLAG_NONE};
        nv[n++] = (nghttp2_nv){(uint8_t *)"date", (uint8_t *)torus_http_date_now(), 4,
                               TORUS_HTTP_DATE_LEN, NGHTTP2_NV_FLAG_NONE};
    }
    const char *cursor = lines, *end = lines + lines_len;
    torus_str name, value;
    char *out = lower;
    while (n < count - 1 && torus_response_head_next(&cursor, end, &name, &value) == TORUS_OK) {
        if (is_connection_header(name.data, name.len))
            continue;
        for (size_t i = 0; i < name.len; i++) {
            char ch = name.data[i];
            out[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
        }
        nv[n++] = (nghttp2_nv){(uint8_t *)out, (uint8_t *)value.data, name.len, value.len,
                               NGHTTP2_NV_FLAG_NONE}; /* copied at submission */
        out += name.len;
    }
    char length_text[24];
    if (content_length >= 0 && n < count) {
        int len = snprintf(length_text, sizeof(length_text), "%lld", (long long)content_length);
        nv[n++] = (nghttp2_nv){(uint8_t *)"content-length", (uint8_t *)length_text, 14, (size_t)len,
                               NGHTTP2_NV_FLAG_NONE};
    }
    int rv;
    if (interim) {
        rv = nghttp2_submit_headers(st->session->ng, NGHTTP2_FLAG_NONE, st->id, NULL, nv, n, NULL);
    } else {
        nghttp2_data_provider provider = {.source.ptr = st, .read_callback = read_data};
        rv = nghttp2_submit_response(st->session->ng, st->id, nv, n, body ? &provider : NULL);
        st->status = status;
        h2_stream_set_state(st, body ? H2_STREAM_RESPONDING : H2_STREAM_DONE);
    }
    free(nv);
    free(lower);
    return rv == 0 ? TORUS_OK : TORUS_ERROR;
}

/* A response the server makes itself: a short HTML page like nginx's (none for HEAD). */
static void respond_simple(struct h2_stream *st, int status, const char *extra_lines)
{
    char body[256];
    int body_len = (int)torus_http_error_page(body, sizeof(body), status);
    char lines[512 + PATH_MAX];
    int lines_len = snprintf(lines, sizeof(lines), "Content-Type: text/html\r\n%s",
                             extra_lines ? extra_lines : "");
    bool with_body = !st->head_request && status >= 200 && status != 304;
    if (with_body) {
        struct torus_chunk *k = out_chunk(body, (size_t)body_len, 0);
        if (k)
            stream_queue(st, k);
    }
    st->eof = true;
    if (submit_head(st, status, lines, (size_t)TORUS_MIN((size_t)lines_len, sizeof(lines) - 1),
                    body_len, with_body, false) != TORUS_OK)
        nghttp2_submit_rst_stream(st->session->ng, NGHTTP2_FLAG_NONE, st->id,
                                  NGHTTP2_INTERNAL_ERROR);
    stream_observe(st, status);
}

/* ------------------------------------------------------------------------ */
/* Requests                                                                 */

static void respond_static(struct h2_stream *st, const struct torus_route *route)
{
    struct torus_loop *loop = st->session->conn->loop;
    struct torus_static_request sreq;
    memset(&sreq, 0, sizeof(sreq));
    sreq.head = st->head_request;
    sreq.http_minor = 1;
    sreq.keep_alive = true;
    sreq.now = loop->now_s;
    sreq.st = &route->st;
    static const char *const names[] = {"if-none-match", "if-modified-since", "range", "if-range"};
    torus_str *fields[] = {&sreq.if_none_match, &sreq.if_modified_since, &sreq.range,
                           &sreq.if_range};
    for (size_t i = 0; i < TORUS_ARRAY_SIZE(names); i++) {
        size_t len;
        const char *v = stream_field(st, names[i], &len);
        if (v)
            *fields[i] = (torus_str){v, len};
    }
    struct torus_static_response resp;
    /* The cache answers without a system call; else the file is opened here (see the top). */
    int rc = torus_static_respond_cached(loop->static_cache, route->filename, route->filename_len,
                                         &sreq, &resp);
    if (rc == TORUS_AGAIN)
        rc = torus_static_respond(loop->static_cache, route->filename, route->filename_len, &sreq,
                                  &resp);
    if (rc != TORUS_OK) {
        respond_simple(st, resp.status ? resp.status : 500, NULL);
        return;
    }
    /* The head's lines, without its status line and blank line (HTTP/1.1's, re-read here). */
    const char *lines = memchr(resp.head, '\n', resp.head_len);
    lines = lines ? lines + 1 : resp.head + resp.head_len;
    size_t lines_len = (size_t)(resp.head + resp.head_len - lines);
    if (lines_len >= 2)
        lines_len -= 2;
    bool body = !st->head_request && resp.status != 304 &&
                ((resp.body && resp.body_len) || (resp.fd >= 0 && resp.length));
    if (body && resp.body) {
        struct torus_chunk *k = out_chunk(resp.body, resp.body_len, 0);
        if (k)
            stream_queue(st, k);
    } else if (body) {
        st->response_bytes = resp.length;
        st->file_fd = resp.fd;
        st->file_offset = resp.offset;
        st->file_remaining = resp.length;
        resp.fd = -1;
    }
    st->eof = true;
    if (submit_head(st, resp.status, lines, lines_len, -1, body, false) != TORUS_OK)
        nghttp2_submit_rst_stream(st->session->ng, NGHTTP2_FLAG_NONE, st->id,
                                  NGHTTP2_INTERNAL_ERROR);
    int status = resp.status;
    torus_static_response_release(loop->static_cache, &resp);
    stream_observe(st, status);
}

/* The request of a stream, for an executor; NULL when out of memory. */
static struct torus_exchange *build_exchange(struct h2_stream *st, const struct torus_route *route,
                                             bool worker_script, const char *path, size_t path_len,
                                             const char *query, size_t query_len)
{
    struct torus_conn *c = st->session->conn;
    size_t method_len = 0, target_len = 0, authority_len = 0;
    const char *method = stream_field(st, ":method", &method_len);
    const char *target = stream_field(st, ":path", &target_len);
    const char *authority = stream_field(st, ":authority", &authority_len);
    char *cursor;
    struct torus_exchange *x = session_exchange_new(
        st->field_count + 1, st->fields_len + 8 + authority_len, (torus_str){method, method_len},
        (torus_str){target, target_len}, (torus_str){path, path_len}, (torus_str){query, query_len},
        route, worker_script, &cursor);
    if (slow_path(!x))
        return NULL;
    struct torus_request *r = &x->request;
    bool have_host = false;
    const char *at = st->fields, *end = st->fields + st->fields_len;
    while (at < end) {
        size_t name_len = strlen(at);
        const char *value = at + name_len + 1;
        size_t value_len = strlen(value);
        bool underscore =
            memchr(at, '_', name_len) && !c->loop->config->allow_underscores_in_headers;
        if (at[0] != ':' && !underscore) {
            struct torus_header *h = &r->headers[r->header_count++];
            session_put_str(&cursor, at, name_len, &h->name);
            session_put_str(&cursor, value, value_len, &h->value);
            have_host |= name_len == 4 && memcmp(at, "host", 4) == 0;
        }
        at = value + value_len + 1;
    }
    if (authority && !have_host) {
        /* :authority is the Host of HTTP/2 (RFC 9113 8.3.1). */
        struct torus_header *h = &r->headers[r->header_count++];
        session_put_str(&cursor, "host", 4, &h->name);
        session_put_str(&cursor, authority, authority_len, &h->value);
    }
    r->http_minor = 1;
    r->http2 = true;
    r->keep_alive = true;
    r->head = st->head_request;
    r->tls = c->transport->secure;
    r->document_root = c->loop->router.root;
    struct conn_addresses *a = session_addresses(c);
    if (slow_path(!a)) {
        free(x);
        return NULL;
    }
    memcpy(r->remote_addr, a->remote_addr, sizeof(r->remote_addr));
    memcpy(r->server_addr, a->server_addr, sizeof(r->server_addr));
    r->remote_port = a->remote_port;
    r->server_port = a->server_port;
    session_apply_forwarded(c, r);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    r->start_time = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
    atomic_init(&r->aborted, false);
    atomic_init(&r->taken, 0);
    atomic_init(&r->throttled, false);
    atomic_init(&r->flow_wait, 0);
    r->status = 200;
    r->body_fd = -1;
    x->conn = c;
    x->executor = -1;
    x->stream = st;
    x->http2 = true;
    return x;
}

/*
 * The route of path: from the loop's memo, else from the kernel's caches
 * without waiting (as HTTP/1.1 does), and only when they cannot answer with a
 * stat() on the I/O thread (HTTP/1.1 hands that case to the file-system
 * workers: see the top).
 */
static int stream_route(struct torus_loop *loop, const char *path, size_t len,
                        struct torus_route *route)
{
    if (torus_route_memo_find(&loop->route_memo, path, len, route))
        return TORUS_OK;
    int rc = torus_route_try_resolve(&loop->router, path, len, route, NULL);
    if (rc == TORUS_AGAIN)
        rc = torus_route_resolve(&loop->router, path, len, route);
    if (rc == TORUS_OK)
        torus_route_memo_store(&loop->route_memo, path, len, route);
    return rc;
}

/* The request (head and body) is complete: route it, answer it or hand it to PHP. */
void h2_stream_request_done(struct h2_stream *st)
{
    struct h2_session *s = st->session;
    struct torus_conn *c = s->conn;
    struct torus_loop *loop = c->loop;
    h2_stream_set_state(st, H2_STREAM_WAITING);
    torus_metric_add(&loop->shard->metrics->requests, 1);
    size_t method_len = 0, target_len = 0;
    const char *method = stream_field(st, ":method", &method_len);
    const char *target = stream_field(st, ":path", &target_len);
    if (loop->logging) {
        struct conn_addresses *a = session_addresses(c);
        size_t len;
        const char *referer = stream_field(st, "referer", &len);
        torus_str ref = {referer, referer ? len : 0};
        const char *agent = stream_field(st, "user-agent", &len);
        torus_str ua = {agent, agent ? len : 0};
        st->log = torus_access_log_begin(&loop->access_log, a ? a->remote_addr : "-",
                                         method ? method : "-",
                                         (torus_str){target ? target : "", target_len}, 20,
                                         referer ? &ref : NULL, agent ? &ua : NULL);
    }
    if (st->error_status) {
        respond_simple(st, st->error_status, NULL);
        return;
    }
    if (!method || !target || target[0] != '/') {
        respond_simple(st, 400, NULL);
        return;
    }
    char path[PATH_MAX];
    size_t path_len;
    const char *query;
    size_t query_len;
    if (torus_path_normalize(target, target_len, path, sizeof(path), &path_len, &query,
                             &query_len) != TORUS_OK) {
        respond_simple(st, 400, NULL);
        return;
    }
    struct torus_route route;
    /* A worker's match= pattern takes the request before any file is looked at. */
    int matched_worker = torus_route_worker_matched(loop->config, path, path_len);
    if (matched_worker >= 0) {
        torus_route_to_worker(&route);
    } else if (stream_route(loop, path, path_len, &route) != TORUS_OK) {
        respond_simple(st, 500, NULL);
        return;
    }
    bool get = strcmp(method, "GET") == 0 || st->head_request;
    switch (route.kind) {
    case TORUS_ROUTE_PHP:
        break;
    case TORUS_ROUTE_STATIC:
        if (get)
            respond_static(st, &route);
        else
            respond_simple(st, 405, "Allow: GET, HEAD\r\n");
        return;
    case TORUS_ROUTE_REDIRECT: {
        char location[PATH_MAX + 64];
        snprintf(location, sizeof(location), "Location: %.*s%s%.*s\r\n", (int)route.location_len,
                 route.location, query_len ? "?" : "",
                 (int)TORUS_MIN(query_len, (size_t)PATH_MAX / 2), query);
        respond_simple(st, 301, location);
        return;
    }
    case TORUS_ROUTE_FORBIDDEN:
        respond_simple(st, 403, NULL);
        return;
    default:
        respond_simple(st, 404, NULL);
        return;
    }

    int pool = matched_worker >= 0 ? 1 + matched_worker : torus_route_pool(loop->config, &route);
    struct torus_exchange *x =
        build_exchange(st, &route, torus_route_worker_replaces(loop->config, pool, &route), path,
                       path_len, query, query_len);
    if (slow_path(!x)) {
        respond_simple(st, 500, NULL);
        return;
    }
    x->pool = pool;
    if (st->body_fd >= 0) {
        x->request.body_in_file = true;
        x->request.body_fd = st->body_fd;
        x->request.body.len = st->body_size;
        st->body_fd = -1;
    } else {
        x->request.body.data = st->body;
        x->request.body.len = st->body_len;
        st->body = NULL;
    }
    st->exchange = x;
    c->held++;
    if (dispatch_request(loop, x) != TORUS_OK)
        dispatch_enqueue(loop, x);
}

/* Body bytes of a stream: memory up to --body-buffer-size, then the stream's temporary file. */
int h2_stream_body(struct h2_stream *st, const uint8_t *data, size_t len)
{
    const struct torus_config *config = st->session->conn->loop->config;
    if (st->body_size + len > config->max_body_size)
        return TORUS_AGAIN; /* 413 */
    st->body_size += len;
    if (st->body_fd < 0 && st->body_len + len <= config->body_buffer_size) {
        if (slow_path(grow(&st->body, &st->body_cap, st->body_len + len, 16384) != TORUS_OK))
            return TORUS_ERROR;
        memcpy(st->body + st->body_len, data, len);
        st->body_len += len;
        return TORUS_OK;
    }
    if (st->body_fd < 0) {
        /* Past the buffer: the file takes what memory held, then every byte after. */
        st->body_fd = spool_open();
        if (st->body_fd < 0 ||
            (st->body_len && write(st->body_fd, st->body, st->body_len) != (ssize_t)st->body_len))
            return TORUS_ERROR;
        free(st->body);
        st->body = NULL;
        st->body_len = st->body_cap = 0;
    }
    while (len) {
        ssize_t n = write(st->body_fd, data, len);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            return TORUS_ERROR;
        }
        data += n;
        len -= (size_t)n;
    }
    return TORUS_OK;
}

/* A part of the executor's response for stream st (the chunk is taken). */
void h2_stream_on_part(struct h2_stream *st, struct torus_chunk *k, unsigned flags)
{
    struct torus_exchange *x = st->exchange;
    if (slow_path(st->sendfile_refused)) {
        torus_chunk_free(k); /* the rest of a refused X-Sendfile response (see below) */
        return;
    }
    if (k && (flags & TORUS_EMIT_HEAD)) {
        struct torus_response_head head;
        const char *lines;
        size_t lines_len;
        if (torus_response_head_get(k->data + k->sent, k->len - k->sent, &head, &lines,
                                    &lines_len) != TORUS_OK ||
            st->state != H2_STREAM_WAITING) {
            torus_chunk_free(k);
            nghttp2_submit_rst_stream(st->session->ng, NGHTTP2_FLAG_NONE, st->id,
                                      NGHTTP2_INTERNAL_ERROR);
            return;
        }
        bool interim = head.kind == TORUS_HEAD_INTERIM;
        torus_str named;
        if (slow_path(!interim && st->session->conn->loop->config->sendfile_root_count &&
                      torus_sendfile_detect(lines, lines_len, &named, NULL, NULL) !=
                          TORUS_SENDFILE_NONE)) {
            /* X-Sendfile is served by the HTTP/1.1 session only (net/sendfile.c): never let
             * the header (a path on the server) or the script's stand-in body out. */
            torus_log_warn("shard %d: X-Sendfile/X-Accel-Redirect over HTTP/2 is not served yet "
                           "(501); the client may use HTTP/1.1",
                           st->session->conn->loop->shard->id);
            torus_chunk_free(k);
            respond_simple(st, 501, NULL);
            st->sendfile_refused = true;
            return;
        }
        bool body = !interim && !st->head_request && head.body != TORUS_HEAD_BODY_NONE;
        int64_t length =
            head.body == TORUS_HEAD_BODY_LENGTH && !(head.flags & TORUS_HEAD_LENGTH_IN_LINES)
                ? head.length
                : -1;
        int rc = submit_head(st, head.status, lines, lines_len, length, body, interim);
        k->sent += head.size;
        if (rc != TORUS_OK)
            nghttp2_submit_rst_stream(st->session->ng, NGHTTP2_FLAG_NONE, st->id,
                                      NGHTTP2_INTERNAL_ERROR);
        if (!interim && !body) {
            torus_chunk_free(k);
            k = NULL;
        }
    }
    if (k) {
        if (st->state == H2_STREAM_RESPONDING)
            stream_queue(st, k);
        else
            torus_chunk_free(k);
    }
    if (flags & TORUS_EMIT_END) {
        if (st->state == H2_STREAM_WAITING) {
            /* No head came (no memory on the executor's side): the stream cannot be answered. */
            nghttp2_submit_rst_stream(st->session->ng, NGHTTP2_FLAG_NONE, st->id,
                                      NGHTTP2_INTERNAL_ERROR);
        }
        st->eof = true;
        if (st->state == H2_STREAM_RESPONDING)
            h2_stream_set_state(st, H2_STREAM_DONE);
        stream_observe(st, x ? x->request.status : 500);
    }
    stream_resume(st);
    if (x && !(flags & TORUS_EMIT_END) &&
        (st->out_bytes > TORUS_OUTPUT_HIGH_MARK ||
         st->session->conn->out_bytes > TORUS_OUTPUT_HIGH_MARK))
        atomic_store_explicit(&x->request.throttled, true, memory_order_release);
}
