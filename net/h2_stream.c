/*
 * An HTTP/2 stream (net/h2.h): its request collected from HEADERS and DATA
 * (header fields bounded by --max-header-size; the body in memory up to
 * --body-buffer-size, in an unlinked temporary file past it, bounded by
 * --max-body-size), then routed and answered (a static file by
 * net/h2_static.c, the server's own pages by net/h2_output.c) or handed to
 * the shard's executors as an ordinary torus_request (net/dispatch.c).
 *
 * The executor's parts (runtime/response_head.h) come back through
 * h2_stream_on_part(): the head becomes a HEADERS frame (an interim one for
 * 103; lower-case names, no connection-specific fields), body parts are
 * queued on the stream and leave as DATA through a data provider that says
 * NGHTTP2_ERR_DEFERRED while nothing is queued and is resumed by the next
 * part (net/h2_output.c). A stream's queue above TORUS_OUTPUT_HIGH_MARK
 * throttles its executor (runtime/request.h), as a slow HTTP/1.1 reader
 * does; HTTP/2's flow control is what makes a slow reader's queue fill.
 *
 * Routing never waits on the file system: when the memo and the kernel's
 * caches cannot answer (or a static file is not in the cache), the stream
 * waits in ROUTING on the file-system workers' lookup (net/route_lookup.c)
 * and goes on in stream_routed(); a reset meanwhile cancels its wait
 * (h2_stream_free). An X-Sendfile head from the executor hands the stream
 * to net/sendfile.c, which answers it once the file is open and the script
 * has ended.
 *
 * Known limit: a large body is written to its file with write() (HTTP/1.1
 * uses io_uring writes).
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
    h2_static_file_drop(st);
}

void h2_stream_free(struct h2_stream *st)
{
    struct h2_session *s = st->session;
    if (st->state <= H2_STREAM_BODY)
        s->receiving--;
    route_lookup_cancel(&st->route_wait); /* reset while its route is looked up */
    if (st->sendfile)
        sendfile_stream_gone(st->sendfile); /* reset while its X-Sendfile file is opened */
    if (st->log)
        h2_stream_observe(st, 499);
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
const char *h2_stream_field(const struct h2_stream *st, const char *name, size_t *len)
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

/* The request of a stream, for an executor; NULL when out of memory. */
static struct torus_exchange *build_exchange(struct h2_stream *st, const struct torus_route *route,
                                             bool worker_script, const char *path, size_t path_len,
                                             const char *query, size_t query_len)
{
    struct torus_conn *c = st->session->conn;
    size_t method_len = 0, target_len = 0, authority_len = 0;
    const char *method = h2_stream_field(st, ":method", &method_len);
    const char *target = h2_stream_field(st, ":path", &target_len);
    const char *authority = h2_stream_field(st, ":authority", &authority_len);
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
 * The request, routed: answered here (a static file, a redirect, an error)
 * or handed to an executor. file: what the file-system worker opened for a
 * static route, or NULL when the static cache holds it.
 */
static void stream_on_route(struct h2_stream *st, const char *path, size_t path_len,
                            const char *query, size_t query_len, const struct torus_route *route,
                            struct torus_static_file *file, int matched_worker)
{
    struct torus_conn *c = st->session->conn;
    struct torus_loop *loop = c->loop;
    const char *method = h2_stream_field(st, ":method", NULL);
    bool get = strcmp(method, "GET") == 0 || st->head_request;
    switch (route->kind) {
    case TORUS_ROUTE_PHP:
        break;
    case TORUS_ROUTE_STATIC:
        if (get)
            h2_static_respond(st, route, file);
        else
            h2_stream_respond_simple(st, 405, "Allow: GET, HEAD\r\n");
        return;
    case TORUS_ROUTE_REDIRECT: {
        char location[PATH_MAX + 64];
        snprintf(location, sizeof(location), "Location: %.*s%s%.*s\r\n", (int)route->location_len,
                 route->location, query_len ? "?" : "",
                 (int)TORUS_MIN(query_len, (size_t)PATH_MAX / 2), query);
        h2_stream_respond_simple(st, 301, location);
        return;
    }
    case TORUS_ROUTE_FORBIDDEN:
        h2_stream_respond_simple(st, 403, NULL);
        return;
    default:
        h2_stream_respond_simple(st, 404, NULL);
        return;
    }

    int pool = matched_worker >= 0 ? 1 + matched_worker : torus_route_pool(loop->config, route);
    struct torus_exchange *x =
        build_exchange(st, route, torus_route_worker_replaces(loop->config, pool, route), path,
                       path_len, query, query_len);
    if (slow_path(!x)) {
        h2_stream_respond_simple(st, 500, NULL);
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

/* The file-system workers answered the route a stream waited for (ROUTING). */
static void stream_routed(struct route_waiter *w, const char *path, size_t path_len,
                          const struct torus_route *route, struct torus_static_file *file)
{
    struct h2_stream *st = torus_container_of(w, struct h2_stream, route_wait);
    struct torus_conn *c = st->session->conn;
    h2_stream_set_state(st, H2_STREAM_WAITING);
    if (slow_path(!route)) {
        h2_stream_respond_simple(st, 503, NULL); /* given up: the loop stops */
    } else {
        /* The query again, from :path (the path is the one routed). */
        size_t target_len = 0, scratch_len, query_len = 0;
        const char *target = h2_stream_field(st, ":path", &target_len), *query = NULL;
        char scratch[PATH_MAX];
        if (torus_path_normalize(target, target_len, scratch, sizeof(scratch), &scratch_len, &query,
                                 &query_len) != TORUS_OK)
            query_len = 0; /* cannot happen: it was normalised before */
        stream_on_route(st, path, path_len, query, query_len, route, file, -1);
    }
    if (!conn_closed(c))
        h2_session_pump(c);
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
    const char *method = h2_stream_field(st, ":method", &method_len);
    const char *target = h2_stream_field(st, ":path", &target_len);
    if (loop->logging) {
        struct conn_addresses *a = session_addresses(c);
        size_t len;
        const char *referer = h2_stream_field(st, "referer", &len);
        torus_str ref = {referer, referer ? len : 0};
        const char *agent = h2_stream_field(st, "user-agent", &len);
        torus_str ua = {agent, agent ? len : 0};
        st->log = torus_access_log_begin(&loop->access_log, a ? a->remote_addr : "-",
                                         method ? method : "-",
                                         (torus_str){target ? target : "", target_len}, 20,
                                         referer ? &ref : NULL, agent ? &ua : NULL);
    }
    if (st->error_status) {
        h2_stream_respond_simple(st, st->error_status, NULL);
        return;
    }
    if (!method || !target || target[0] != '/') {
        h2_stream_respond_simple(st, 400, NULL);
        return;
    }
    char path[PATH_MAX];
    size_t path_len;
    const char *query;
    size_t query_len;
    if (torus_path_normalize(target, target_len, path, sizeof(path), &path_len, &query,
                             &query_len) != TORUS_OK) {
        h2_stream_respond_simple(st, 400, NULL);
        return;
    }
    struct torus_route route;
    /* A worker's match= pattern takes the request before any file is looked at. */
    int matched_worker = torus_route_worker_matched(loop->config, path, path_len);
    if (matched_worker >= 0) {
        torus_route_to_worker(&route);
    } else {
        /* Without waiting on the file system, else the stream waits for the workers. */
        bool get = strcmp(method, "GET") == 0 || st->head_request;
        st->route_wait.routed = stream_routed;
        int rc = route_lookup_begin(loop, &st->route_wait, path, path_len, get, &route);
        if (rc == TORUS_AGAIN) {
            h2_stream_set_state(st, H2_STREAM_ROUTING);
            return;
        }
        if (slow_path(rc != TORUS_OK)) {
            h2_stream_respond_simple(st, 500, NULL);
            return;
        }
    }
    stream_on_route(st, path, path_len, query, query_len, &route, NULL, matched_worker);
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
    if (slow_path(st->sendfile || (x && x->sendfile))) {
        torus_chunk_free(k); /* X-Sendfile: the script's response is replaced (see below) */
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
        if (slow_path(!interim && x && sendfile_begin(st->session->conn->loop, x, k))) {
            /* X-Sendfile (net/sendfile.c): neither the header (a path on the server) nor the
             * script's stand-in body goes out; the file's answer comes when it is open and
             * the script has ended (h2_stream_sendfile_answer()). */
            st->sendfile = x->sendfile;
            torus_chunk_free(k);
            return;
        }
        bool body = !interim && !st->head_request && head.body != TORUS_HEAD_BODY_NONE;
        int64_t length =
            head.body == TORUS_HEAD_BODY_LENGTH && !(head.flags & TORUS_HEAD_LENGTH_IN_LINES)
                ? head.length
                : -1;
        int rc = h2_stream_submit_head(st, head.status, lines, lines_len, length, body, interim);
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
            h2_stream_queue(st, k);
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
        h2_stream_observe(st, x ? x->request.status : 500);
    }
    h2_stream_resume(st);
    if (x && !(flags & TORUS_EMIT_END) &&
        (st->out_bytes > TORUS_OUTPUT_HIGH_MARK ||
         st->session->conn->out_bytes > TORUS_OUTPUT_HIGH_MARK))
        atomic_store_explicit(&x->request.throttled, true, memory_order_release);
}
