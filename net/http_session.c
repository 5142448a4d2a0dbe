/*
 * HTTP/1.1 on a connection. Bytes are parsed by net/http.c straight from the
 * receive buffer; only an incomplete head is copied aside. At the end of a
 * head the request is routed (net/route.c) and its body given a fate
 * (buffered for PHP, discarded, or refused with 413 before it is read); at
 * the end of the message it is answered: a static file (net/static.c), a
 * response the server makes itself, or an exchange handed to PHP
 * (net/dispatch.c). Pipelined requests wait in the input buffer until the
 * response before them has been queued. Requests are parsed only in the
 * reading states (READING_HEAD, READING_BODY: net/conn_state.c).
 */
#include "net/conn.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "net/http_response.h"
#include "net/route_worker.h"
#include "net/trusted_proxy.h"
#include "runtime/log.h"

static size_t str_size(torus_str s)
{
    return s.len + 1;
}

char *session_put_str(char **cursor, const char *data, size_t len, torus_str *out)
{
    char *at = *cursor;
    if (len)
        memcpy(at, data, len);
    at[len] = '\0';
    out->data = at;
    out->len = len;
    *cursor = at + len + 1;
    return at;
}

static void sockaddr_text(const struct sockaddr_storage *ss, char *text, size_t size,
                          uint16_t *port)
{
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr))
            inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], text, (socklen_t)size);
        else
            inet_ntop(AF_INET6, &a->sin6_addr, text, (socklen_t)size);
        *port = ntohs(a->sin6_port);
    } else if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, text, (socklen_t)size);
        *port = ntohs(a->sin_port);
    } else {
        snprintf(text, size, "unknown");
        *port = 0;
    }
}

struct conn_addresses *session_addresses(struct torus_conn *c)
{
    if (fast_path(c->addresses != NULL))
        return c->addresses;
    c->addresses = calloc(1, sizeof(*c->addresses));
    if (slow_path(!c->addresses))
        return NULL;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getpeername(c->fd, (struct sockaddr *)&ss, &len) == 0)
        sockaddr_text(&ss, c->addresses->remote_addr, sizeof(c->addresses->remote_addr),
                      &c->addresses->remote_port);
    len = sizeof(ss);
    if (getsockname(c->fd, (struct sockaddr *)&ss, &len) == 0)
        sockaddr_text(&ss, c->addresses->server_addr, sizeof(c->addresses->server_addr),
                      &c->addresses->server_port);
    const struct torus_config *cfg = c->loop->config;
    c->addresses->trusted = torus_cidr_contains_text(cfg->trusted_proxies, cfg->trusted_proxy_count,
                                                     c->addresses->remote_addr);
    return c->addresses;
}

/* Resolves the forwarding headers collected in h, sent by a trusted peer. */
static void resolve_forwarded(const struct torus_conn *c, const struct torus_forwarded_headers *h,
                              struct torus_forwarded *out)
{
    const struct torus_config *cfg = c->loop->config;
    torus_forwarded_resolve(h, cfg->trusted_proxies, cfg->trusted_proxy_count, out);
}

/* Puts what a trusted proxy said about the client into r (REMOTE_ADDR, HTTPS, SERVER_NAME...). */
void session_apply_forwarded(struct torus_conn *c, struct torus_request *r)
{
    if (fast_path(!c->addresses->trusted))
        return;
    struct torus_forwarded_headers h;
    memset(&h, 0, sizeof(h));
    for (uint32_t i = 0; i < r->header_count; i++)
        torus_forwarded_add(&h, r->headers[i].name, r->headers[i].value);
    struct torus_forwarded f;
    resolve_forwarded(c, &h, &f);
    if (f.has_client) {
        memcpy(r->remote_addr, f.client_addr, sizeof(r->remote_addr));
        r->remote_port = f.client_port;
    }
    if (f.scheme != TORUS_SCHEME_UNSAID)
        r->tls = f.scheme == TORUS_SCHEME_HTTPS;
    r->forwarded_host = f.host;
    if (f.server_port)
        r->server_port = f.server_port;
}

/*
 * Whether a request header reaches PHP. As nginx (underscores_in_headers
 * off), a name with '_' is dropped: PHP turns '-' into '_', so a client's
 * X-Forwarded_For would otherwise overwrite the X-Forwarded-For a proxy in
 * front of Torus set. --allow-underscores-in-headers keeps them.
 */
static bool header_passes(const struct torus_conn *c, const struct torus_http_header *h)
{
    if (fast_path(!memchr(h->name.data, '_', h->name.len)) ||
        c->loop->config->allow_underscores_in_headers)
        return true;
    torus_log_debug("shard %d: dropped a request header whose name holds '_': %.*s",
                    c->loop->shard->id, (int)TORUS_MIN(h->name.len, 64), h->name.data);
    return false;
}

struct torus_exchange *session_exchange_new(uint32_t header_count, size_t header_bytes,
                                            torus_str method, torus_str target, torus_str path,
                                            torus_str query, const struct torus_route *route,
                                            bool worker_script, char **cursor)
{
    size_t size = sizeof(struct torus_exchange) + sizeof(struct torus_header) * header_count;
    size += method.len + 1 + target.len + 1 + path.len + 1 + query.len + 1;
    size += route->filename_len + 1 + route->script_name_len + 1 + route->path_info_len + 1;
    size += header_bytes;
    struct torus_exchange *x = malloc(size);
    if (slow_path(!x))
        return NULL;
    memset(x, 0, sizeof(*x));
    struct torus_request *r = &x->request;
    r->headers = (struct torus_header *)(x + 1);
    *cursor = (char *)(r->headers + header_count);
    session_put_str(cursor, method.data, method.len, &r->method);
    session_put_str(cursor, target.data, target.len, &r->target);
    session_put_str(cursor, path.data, path.len, &r->path);
    session_put_str(cursor, query.data, query.len, &r->query);
    session_put_str(cursor, route->filename, worker_script ? 0 : route->filename_len,
                    &r->script_filename);
    session_put_str(cursor, route->script_name, worker_script ? 0 : route->script_name_len,
                    &r->script_name);
    session_put_str(cursor, route->path_info ? route->path_info : "", route->path_info_len,
                    &r->path_info);
    return x;
}

/*
 * Copies what the executor needs of a parsed head into one allocation: the
 * request, its header table and every string; the head's bytes may then be
 * reused by the connection for pipelined requests. worker_script: the worker
 * runs its own script, not route's file (net/route_worker.h).
 */
static struct torus_exchange *build_exchange(struct torus_conn *c, const struct torus_route *route,
                                             bool worker_script, const char *path, size_t path_len,
                                             const char *query, size_t query_len)
{
    struct torus_http_parser *p = &c->parser;
    const char *method = torus_http_method(p);
    size_t header_bytes = 0;
    for (uint32_t i = 0; i < p->header_count; i++)
        header_bytes += str_size(p->headers[i].name) + str_size(p->headers[i].value);
    char *cursor;
    struct torus_exchange *x = session_exchange_new(
        p->header_count, header_bytes, (torus_str){method, strlen(method)}, p->url,
        (torus_str){path, path_len}, (torus_str){query, query_len}, route, worker_script, &cursor);

    if (slow_path(!x))
        return NULL;
    struct torus_request *r = &x->request;
    for (uint32_t i = 0; i < p->header_count; i++) {
        if (slow_path(!header_passes(c, &p->headers[i])))
            continue;
        struct torus_header *h = &r->headers[r->header_count++];
        session_put_str(&cursor, p->headers[i].name.data, p->headers[i].name.len, &h->name);
        session_put_str(&cursor, p->headers[i].value.data, p->headers[i].value.len, &h->value);
    }
    r->http_minor = torus_http_minor(p);
    r->keep_alive = c->keep_alive;
    r->head = c->head_request;
    r->tls = c->transport->secure;
    r->document_root = c->loop->router.root;

    if (slow_path(!session_addresses(c))) {
        free(x);
        return NULL;
    }
    memcpy(r->remote_addr, c->addresses->remote_addr, sizeof(r->remote_addr));
    memcpy(r->server_addr, c->addresses->server_addr, sizeof(r->server_addr));
    r->remote_port = c->addresses->remote_port;
    r->server_port = c->addresses->server_port;
    session_apply_forwarded(c, r);

    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    r->start_time = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
    atomic_init(&r->aborted, false);
    r->emitted = 0;
    atomic_init(&r->taken, 0);
    atomic_init(&r->throttled, false);
    atomic_init(&r->flow_wait, 0);
    r->status = 200;
    x->conn = c;
    x->executor = -1;
    http1_response_begin(&x->h1, r->http_minor, r->keep_alive, r->head);
    return x;
}

/*
 * Answers a GET or HEAD for a static file: from the static cache (file NULL:
 * route_lookup_begin() saw the cache hold it), or with what the file-system
 * worker opened (file).
 */
static void respond_static(struct torus_conn *c, const struct torus_route *route,
                           struct torus_static_file *file)
{
    struct torus_http_parser *p = &c->parser;
    struct torus_static_request sreq;
    memset(&sreq, 0, sizeof(sreq));
    sreq.head = c->head_request;
    sreq.http_minor = torus_http_minor(p);
    sreq.keep_alive = c->keep_alive;
    sreq.now = c->loop->now_s;
    sreq.st = file ? &file->st : &route->st;
    const torus_str *v;
    if ((v = torus_http_header(p, "if-none-match")))
        sreq.if_none_match = *v;
    if ((v = torus_http_header(p, "if-modified-since")))
        sreq.if_modified_since = *v;
    if ((v = torus_http_header(p, "range")))
        sreq.range = *v;
    if ((v = torus_http_header(p, "if-range")))
        sreq.if_range = *v;
    if (c->loop->config->compression.enabled && (v = torus_http_header(p, "accept-encoding")))
        sreq.accept_encoding = *v;

    struct torus_static_response resp;
    int rc = file ? torus_static_respond_opened(c->loop->static_cache, route->filename,
                                                route->filename_len, &sreq, file, &resp)
                  : torus_static_respond_cached(c->loop->static_cache, route->filename,
                                                route->filename_len, &sreq, &resp);
    if (rc != TORUS_OK) {
        /* TORUS_AGAIN cannot happen (the cache was just seen to hold it): a 500 if it did. */
        out_respond_simple(c, rc == TORUS_ERROR && resp.status ? resp.status : 500, NULL, true);
        return;
    }
    struct torus_chunk *chunk = out_chunk(resp.head, resp.head_len, resp.body ? resp.body_len : 0);
    if (slow_path(!chunk)) {
        torus_static_response_release(c->loop->static_cache, &resp);
        conn_close(c);
        return;
    }
    if (resp.body && resp.body_len && !c->head_request) {
        memcpy(chunk->data + chunk->len, resp.body, resp.body_len);
        chunk->len += (uint32_t)resp.body_len;
    }
    chunk->next = c->pending;
    c->pending = chunk;
    c->pending_status = resp.status;
    if (resp.fd >= 0 && resp.length > 0 && !c->head_request) {
        c->file_fd = resp.fd;
        c->file_offset = resp.offset;
        c->file_remaining = resp.length;
        resp.fd = -1; /* the connection owns it now, held with the response */
    }
    torus_static_response_release(c->loop->static_cache, &resp);
}

/*
 * The request's path, normalised (path_size bytes of room), and its raw
 * query. An absolute-form target ("http://host/path", RFC 9112 3.2.2) gives
 * its path. TORUS_ERROR when the target cannot be normalised (400).
 */
static int request_path(struct torus_conn *c, char *path, size_t path_size, size_t *path_len,
                        const char **query, size_t *query_len)
{
    torus_str target = c->parser.url;
    if (target.len && target.data[0] != '/') {
        const char *scheme_end = memchr(target.data, ':', target.len);
        size_t rest = scheme_end ? target.len - (size_t)(scheme_end - target.data) : 0;
        if (rest >= 3 && memcmp(scheme_end, "://", 3) == 0) {
            const char *authority = scheme_end + 3;
            const char *slash =
                memchr(authority, '/', target.len - (size_t)(authority - target.data));
            if (slash) {
                target.len -= (size_t)(slash - target.data);
                target.data = slash;
            } else {
                target = TORUS_STR("/");
            }
        }
    }
    return torus_path_normalize(target.data, target.len, path, path_size, path_len, query,
                                query_len);
}

/*
 * The request's route is known: decide what its body is for and answer it
 * (a static file, the server's own response) or prepare its exchange for
 * PHP. file: what the file-system worker opened for a static route, or NULL;
 * matched_worker: the worker whose match= pattern took the request, or -1.
 */
static int on_route(struct torus_conn *c, const char *path, size_t path_len, const char *query,
                    size_t query_len, const struct torus_route *route,
                    struct torus_static_file *file, int matched_worker)
{
    struct torus_http_parser *p = &c->parser;
    if (route->kind == TORUS_ROUTE_PHP) {
        if (torus_http_set_body_mode(p, TORUS_BODY_BUFFER) != TORUS_OK) {
            out_respond_error_and_close(c, p->error_status);
            return TORUS_ERROR;
        }
        const struct torus_config *cfg = c->loop->config;
        int pool = matched_worker >= 0 ? 1 + matched_worker : torus_route_pool(cfg, route);
        c->exchange = build_exchange(c, route, torus_route_worker_replaces(cfg, pool, route), path,
                                     path_len, query, query_len);
        if (slow_path(!c->exchange)) {
            out_respond_error_and_close(c, 500);
            return TORUS_ERROR;
        }
        c->exchange->pool = pool;
        c->held++;
    } else {
        if (torus_http_set_body_mode(p, TORUS_BODY_DISCARD) != TORUS_OK) {
            out_respond_error_and_close(c, p->error_status);
            return TORUS_ERROR;
        }
        const char *method = torus_http_method(p);
        bool get = strcmp(method, "GET") == 0 || c->head_request;
        switch (route->kind) {
        case TORUS_ROUTE_STATIC:
            if (get)
                respond_static(c, route, file);
            else
                out_respond_simple(c, 405, "Allow: GET, HEAD\r\n", true);
            break;
        case TORUS_ROUTE_REDIRECT: {
            /* As long as the target it came from, whatever its query (within --max-uri-size). */
            size_t size = route->location_len + query_len + 32;
            char *location = malloc(size);
            if (slow_path(!location)) {
                out_respond_simple(c, 500, NULL, true);
                break;
            }
            snprintf(location, size, "Location: %.*s%s%.*s\r\n", (int)route->location_len,
                     route->location, query_len ? "?" : "", (int)query_len, query);
            out_respond_simple(c, 301, location, true);
            free(location);
            break;
        }
        case TORUS_ROUTE_FORBIDDEN:
            out_respond_simple(c, 403, NULL, true);
            break;
        default:
            out_respond_simple(c, 404, NULL, true);
            break;
        }
    }

    if (slow_path(conn_closed(c)))
        return TORUS_ERROR; /* no memory for the response */
    conn_set_state(c, CONN_READING_BODY);

    /* Expect: 100-continue — ask for the body only when it is wanted and not already on its way. */
    if (p->expect_continue && p->has_body && torus_http_minor(p) == 1) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        struct torus_chunk *chunk = out_chunk(cont, sizeof(cont) - 1, 0);
        if (chunk) {
            out_append(c, chunk);
            conn_flush(c);
        }
    }
    return TORUS_OK;
}

/* The file-system workers answered the route a connection waited for (CONN_ROUTING). */
static void conn_routed(struct route_waiter *w, const char *path, size_t path_len,
                        const struct torus_route *route, struct torus_static_file *file)
{
    struct torus_conn *c = torus_container_of(w, struct torus_conn, route_wait);
    c->held--;
    if (!route)
        conn_close(c); /* given up: the loop stops */
    if (c->state != CONN_ROUTING) {
        /* Closed, or given up on (its request dropped) meanwhile: only released. */
        if (conn_closed(c))
            conn_maybe_free(c);
        return;
    }
    session_on_routed(c, path, path_len, route, file);
}

/*
 * The head of a request is complete: route it (TORUS_AGAIN when the route
 * needs the file-system worker: the connection waits in CONN_ROUTING, its
 * head kept, until session_on_routed()).
 */
static int on_head(struct torus_conn *c)
{
    struct torus_loop *loop = c->loop;
    struct torus_http_parser *p = &c->parser;
    torus_metric_add(&loop->shard->metrics->requests, 1);
    c->request_start_ns = torus_monotonic_ns();
    const char *method = torus_http_method(p);
    c->head_request = strcmp(method, "HEAD") == 0;
    c->keep_alive = torus_http_keep_alive(p) && !loop->draining;
    c->response_bytes = 0;
    if (loop->logging) {
        struct conn_addresses *a = session_addresses(c);
        const char *client = a ? a->remote_addr : "-";
        struct torus_forwarded f;
        if (a && a->trusted) {
            struct torus_forwarded_headers h;
            memset(&h, 0, sizeof(h));
            for (uint32_t i = 0; i < p->header_count; i++)
                torus_forwarded_add(&h, p->headers[i].name, p->headers[i].value);
            resolve_forwarded(c, &h, &f);
            if (f.has_client)
                client = f.client_addr;
        }
        c->log_pending = torus_access_log_begin(
            &loop->access_log, client, method, p->url, 10 + torus_http_minor(p),
            torus_http_header(p, "referer"), torus_http_header(p, "user-agent"));
    }

    char path[PATH_MAX];
    size_t path_len;
    const char *query;
    size_t query_len;
    if (request_path(c, path, sizeof(path), &path_len, &query, &query_len) != TORUS_OK) {
        out_respond_error_and_close(c, 400);
        return TORUS_ERROR;
    }
    bool get = strcmp(method, "GET") == 0 || c->head_request;
    struct torus_route route;
    int worker = torus_route_worker_matched(loop->config, path, path_len);
    if (worker >= 0) {
        /* A worker's match= pattern: no file is looked at. */
        torus_route_to_worker(&route);
        return on_route(c, path, path_len, query, query_len, &route, NULL, worker);
    }
    c->route_wait.routed = conn_routed;
    int rc = route_lookup_begin(loop, &c->route_wait, path, path_len, get, &route);
    if (rc == TORUS_AGAIN) {
        c->held++; /* not freed under the job */
        conn_set_state(c, CONN_ROUTING);
        return TORUS_AGAIN;
    }
    if (slow_path(rc != TORUS_OK)) {
        out_respond_error_and_close(c, 500);
        return TORUS_ERROR;
    }
    return on_route(c, path, path_len, query, query_len, &route, NULL, -1);
}

void session_on_routed(struct torus_conn *c, const char *path, size_t path_len,
                       const struct torus_route *route, struct torus_static_file *file)
{
    char scratch[PATH_MAX];
    size_t scratch_len;
    const char *query;
    size_t query_len;
    /* The query again, from the head kept meanwhile (the path is the one routed). */
    if (request_path(c, scratch, sizeof(scratch), &scratch_len, &query, &query_len) != TORUS_OK)
        query_len = 0; /* cannot happen: it was normalised before */
    if (on_route(c, path, path_len, query, query_len, route, file, -1) != TORUS_OK)
        return;
    torus_http_head_done(&c->parser);
    session_parse(c);
}

void session_dispatch(struct torus_conn *c)
{
    if (dispatch_request(c->loop, c->exchange) == TORUS_OK)
        conn_set_state(c, CONN_EXECUTING);
    else
        dispatch_park(c->loop, c);
    conn_update_timer(c);
}

/* The whole request is read: send the held static response, or hand the request to PHP. */
static void on_message(struct torus_conn *c)
{
    if (c->exchange) {
        /* The connection leaves the reading states here (EXECUTING, PARKED, SPOOLING_BODY, or
         * WRITING_LAST when its body could not be kept); whether it closes after the response
         * waits for the response's END (dispatch_on_response()). */
        int rc = spool_finish(c);
        if (rc == TORUS_OK) {
            if (!c->exchange->request.body_in_file) {
                size_t len;
                char *body = torus_http_take_body(&c->parser, &len);
                c->exchange->request.body.data = body;
                c->exchange->request.body.len = len;
            }
            session_dispatch(c);
        } else if (rc == TORUS_AGAIN) {
            conn_update_timer(c); /* the last writes of its body are in flight */
        }
        return;
    }
    /* The held response goes out now, in request order; a held file after it. */
    conn_observe(c, c->pending_status,
                 (c->pending ? c->pending->len : 0) + (c->file_fd >= 0 ? c->file_remaining : 0));
    struct torus_chunk *k = c->pending;
    c->pending = NULL;
    conn_response_queued(c);
    while (k) { /* pending is a stack of one; keep order anyway */
        struct torus_chunk *next = k->next;
        out_append(c, k);
        k = next;
    }
    conn_flush(c);
}

/*
 * Parses the bytes at data: requests are handled as they complete. Stops at
 * a request that must wait (PHP, a streamed file) or at an error. Returns the
 * bytes used.
 */
/*
 * A client that pipelines requests without reading the answers: once more
 * than TORUS_OUTPUT_HIGH_MARK bytes wait to be sent to it, the next request
 * is not parsed and the connection stops reading; conn_on_send() goes on
 * below the low mark. Memory per client is the mark, not the pipeline.
 */
static void pause_for_output(struct torus_conn *c)
{
    conn_set_state(c, CONN_OUTPUT_FULL);
    if (c->recv_armed && !c->reading_paused) {
        c->reading_paused = true;
        struct io_uring_sqe *sqe = get_sqe(c->loop);
        io_uring_prep_cancel64(sqe, user_data(c, TAG_RECV), 0);
        io_uring_sqe_set_data64(sqe, user_data(NULL, TAG_IGNORE));
    }
}

static size_t parse_bytes(struct torus_conn *c, const char *data, size_t len)
{
    size_t done = 0;
    while (conn_reading(c)) {
        if (slow_path(c->out_bytes > TORUS_OUTPUT_HIGH_MARK) &&
            !torus_http_in_request(&c->parser)) {
            pause_for_output(c);
            break;
        }
        /* Out of bytes: stop, unless a request paused after its head may now complete. */
        if (done == len && !(torus_http_in_request(&c->parser) && !torus_http_in_head(&c->parser)))
            break;
        size_t used;
        bool was_idle = !torus_http_in_request(&c->parser);
        int rc = torus_http_execute(&c->parser, data + done, len - done, &used);
        done += used;
        if (was_idle && torus_http_in_request(&c->parser)) {
            /* The first byte of a request: its header timeout starts now. */
            torus_timer_disarm(&c->timer);
        }
        if (rc == TORUS_AGAIN) {
            /* A large body is on its way: what the parser holds goes to the temporary file. */
            if (c->exchange && slow_path(spool_take(c) != TORUS_OK))
                return len;
            break;
        }
        switch (rc) {
        case TORUS_HTTP_HEAD: {
            int head = on_head(c);
            if (head == TORUS_AGAIN)
                return done; /* waiting for its route: the head stays (head_held) */
            if (head != TORUS_OK)
                return done;
            /* Everything the head said has been copied or acted on: drop its table. */
            torus_http_head_done(&c->parser);
            continue;
        }
        case TORUS_HTTP_MESSAGE:
            on_message(c);
            continue;
        case TORUS_HTTP_FAILED:
        default:
            torus_log_debug("shard %d: bad request: %s", c->loop->shard->id,
                            c->parser.error_reason ? c->parser.error_reason : "?");
            out_respond_error_and_close(c, c->parser.error_status ? c->parser.error_status : 400);
            return len;
        }
    }
    return done;
}

/* Whether the connection must keep the bytes of the head it parsed (in it, or waiting for a route).
 */
static bool head_held(const struct torus_conn *c)
{
    return torus_http_in_head(&c->parser) || c->state == CONN_ROUTING;
}

static int in_reserve(struct torus_conn *c, size_t need)
{
    if (need <= c->in_cap)
        return TORUS_OK;
    size_t cap = c->in_cap ? c->in_cap : 2048;
    while (cap < need)
        cap *= 2;
    uintptr_t old = (uintptr_t)c->in;
    /* The head being parsed moves with the buffer only if it lives there (it may still be in
     * the receive buffer the bytes came from). */
    uintptr_t head = (uintptr_t)c->parser.head_start;
    bool head_inside = old && head_held(c) && head >= old && head < old + c->in_len;
    char *grown = realloc(c->in, cap);
    if (slow_path(!grown))
        return TORUS_ERROR;
    if (head_inside && (uintptr_t)grown != old)
        torus_http_rebase(&c->parser, (ptrdiff_t)((uintptr_t)grown - old));
    c->in = grown;
    c->in_cap = (uint32_t)cap;
    return TORUS_OK;
}

/*
 * Keeps what must survive the buffer the bytes came from: the parsed part of
 * an incomplete head (its fields point into it) and any unparsed bytes.
 * [data, data + len) is the buffer; `done` bytes of it were parsed.
 */
static int keep_rest(struct torus_conn *c, const char *data, size_t len, size_t done)
{
    const char *from = data + done;
    if (head_held(c) && c->parser.head_start >= data && c->parser.head_start < data + len)
        from = c->parser.head_start;
    size_t keep = (size_t)(data + len - from);
    size_t parsed = (size_t)(data + done - from);
    if (keep == 0) {
        c->in_len = c->in_parsed = 0;
        return TORUS_OK;
    }
    if (data == c->in) {
        /* Already in our buffer: slide it to the front. */
        if (from != c->in) {
            ptrdiff_t delta = c->in - from;
            memmove(c->in, from, keep);
            if (head_held(c))
                torus_http_rebase(&c->parser, delta);
        }
    } else {
        if (in_reserve(c, keep) != TORUS_OK)
            return TORUS_ERROR;
        memcpy(c->in, from, keep);
        if (head_held(c) && from == c->parser.head_start)
            torus_http_rebase(&c->parser, c->in - from);
    }
    c->in_len = (uint32_t)keep;
    c->in_parsed = (uint32_t)parsed;
    return TORUS_OK;
}

void session_parse(struct torus_conn *c)
{
    if (conn_closed(c))
        return;
    if (c->h2) {
        h2_session_pump(c);
        return;
    }
    /* Bytes to parse, or a request whose head was routed late and may complete without more. */
    bool past_head = torus_http_in_request(&c->parser) && !torus_http_in_head(&c->parser);
    if ((c->in_len > c->in_parsed || past_head) && conn_reading(c)) {
        size_t done = c->in_parsed + parse_bytes(c, c->in + c->in_parsed, c->in_len - c->in_parsed);
        if (conn_closed(c))
            return;
        if (keep_rest(c, c->in, c->in_len, done) != TORUS_OK) {
            conn_close(c);
            return;
        }
    }
    if (conn_reading(c) && c->peer_closed && !c->out_first && !c->send_inflight && c->file_fd < 0) {
        /* The client sent its last byte and every request it completed has been answered; an
         * incomplete one never will be (while reading, an exchange is a PHP request whose body
         * is still incomplete). */
        conn_close(c);
        return;
    }
    if ((conn_reading(c) || c->state == CONN_OUTPUT_FULL) && !torus_http_in_request(&c->parser) &&
        c->in_len == 0) {
        /* Idle between requests: hold no parsing memory. */
        torus_http_idle(&c->parser);
        free(c->in);
        c->in = NULL;
        c->in_cap = c->in_len = c->in_parsed = 0;
    }
    conn_update_timer(c);
}

/* The client preface of HTTP/2 (RFC 9113 3.4). */
static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/*
 * The first bytes decide what the connection speaks: HTTP/2 when ALPN chose
 * h2, or on a plain listener with --h2c when they start the client preface
 * (at least "PRI ", which no HTTP/1.1 method is); HTTP/1.1 otherwise, where
 * a preface gets 400 as before.
 */
static enum conn_protocol choose_protocol(struct torus_conn *c, const char *data, size_t len)
{
    if (c->tls)
        return torus_tls_alpn_h2(c->tls) ? CONN_PROTOCOL_H2 : CONN_PROTOCOL_HTTP1;
    size_t n = TORUS_MIN(len, sizeof(h2_preface) - 1);
    if (c->loop->config->h2c && n >= 4 && memcmp(data, h2_preface, n) == 0)
        return CONN_PROTOCOL_H2;
    return CONN_PROTOCOL_HTTP1;
}

void session_on_data(struct torus_conn *c, const char *data, size_t len)
{
    struct torus_loop *loop = c->loop;
    torus_metric_add(&loop->shard->metrics->bytes_in, len);
    if (c->state == CONN_LINGERING)
        return; /* discarded */
    if (slow_path(c->protocol != CONN_PROTOCOL_HTTP1)) {
        if (c->protocol == CONN_PROTOCOL_UNDECIDED) {
            c->protocol = choose_protocol(c, data, len);
            if (c->protocol == CONN_PROTOCOL_H2 && h2_session_start(c) != TORUS_OK) {
                conn_close(c);
                return;
            }
        }
        if (c->h2) {
            h2_session_on_data(c, data, len);
            return;
        }
    }

    if (conn_reading(c) && c->in_len == c->in_parsed && c->in_len == 0) {
        /* The common case: parse straight from the receive buffer, copy nothing. */
        size_t done = parse_bytes(c, data, len);
        if (conn_closed(c))
            return;
        if (keep_rest(c, data, len, done) != TORUS_OK) {
            conn_close(c);
            return;
        }
    } else {
        if (in_reserve(c, (size_t)c->in_len + len) != TORUS_OK) {
            conn_close(c);
            return;
        }
        memcpy(c->in + c->in_len, data, len);
        c->in_len += (uint32_t)len;
        if (conn_reading(c)) {
            session_parse(c);
            if (conn_closed(c))
                return;
        } else if (c->in_len > PENDING_INPUT_CAP && c->recv_armed && !c->reading_paused) {
            /* Pipelined bytes pile up behind a slow request: stop reading until it is done. */
            c->reading_paused = true;
            struct io_uring_sqe *sqe = get_sqe(loop);
            io_uring_prep_cancel64(sqe, user_data(c, TAG_RECV), 0);
            io_uring_sqe_set_data64(sqe, user_data(NULL, TAG_IGNORE));
        }
    }
    /* A body that keeps coming re-arms its timeout. */
    if (c->timer.queue == &loop->body_timers)
        torus_timer_disarm(&c->timer);
    conn_update_timer(c);
}
