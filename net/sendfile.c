/*
 * X-Sendfile / X-Accel-Redirect on the I/O thread (--sendfile-root).
 *
 * When the final head of a PHP response names a file (net/sendfile_rules.h),
 * that response is replaced: the script's body parts are dropped as they
 * come, the file is resolved, checked and opened on the file-system worker
 * (realpath, the allowed directories, torus_static_open()), and the answer
 * is the static path's for that file (Range, If-None-Match,
 * If-Modified-Since, its Content-Type, ETag, Last-Modified) with the script's
 * other header lines (Content-Disposition, Cache-Control, Set-Cookie...)
 * added to it. The X-Sendfile line itself never reaches the client.
 *
 * Over HTTP/2 the same happens for a stream: the answer goes to the stream
 * (net/h2_static.c) instead of the connection's output, and a stream that
 * goes away meanwhile leaves the job to finish without it
 * (sendfile_stream_gone).
 *
 * Two things must happen before the answer goes out, in either order: the
 * worker is done with the file, and the script's response has ended (END:
 * until then the connection is the script's). The job's state says which
 * one it still waits for; it waits for both even when the connection closed
 * meanwhile (the executor's END or RELEASE always comes, and refers to the
 * job). The job holds the connection (held) until then;
 * it needs nothing of the exchange after sendfile_begin(), which copies
 * what the answer needs (the kept lines, the request's conditional headers),
 * since the executor's RELEASE frees the exchange, possibly first.
 */
#include "net/conn.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/sendfile_rules.h"
#include "runtime/log.h"
#include "runtime/response_head.h"

enum sendfile_state {
    SENDFILE_WAITING_BOTH, /* the worker has the file, the script's response runs */
    SENDFILE_FILE_READY,   /* the worker is done: waiting for the response's END */
    SENDFILE_ENDED,        /* END came: waiting for the worker */
};

/* The request headers a static answer looks at. */
enum sendfile_condition {
    COND_IF_NONE_MATCH,
    COND_IF_MODIFIED_SINCE,
    COND_RANGE,
    COND_IF_RANGE,
    COND_COUNT
};
static const char *const condition_names[COND_COUNT] = {"If-None-Match", "If-Modified-Since",
                                                        "Range", "If-Range"};

struct sendfile_job {
    struct torus_fs_job base;
    struct torus_conn *conn;
    struct h2_stream *stream; /* HTTP/2: the stream answered, NULL once it is gone */
    bool http2;
    enum sendfile_state state;

    /* Worker input (read-only there). */
    const struct torus_sendfile_root *roots;
    int root_count;
    size_t read_max;
    char path[PATH_MAX]; /* mapped from the header's value; empty: the value was refused */

    /* Worker output. */
    int status;   /* 0: opened; else what to answer (403, 404) */
    bool outside; /* refused: not under any --sendfile-root */
    char resolved[PATH_MAX];
    struct torus_static_file file;

    /* I/O thread: the answer's parts, copied from the exchange. */
    bool keep_alive; /* decided at END */
    bool head;
    uint8_t http_minor;
    const char *header; /* "X-Sendfile" or "X-Accel-Redirect", for the log */
    torus_str value;    /* the header's value, for the log */
    torus_str kept;     /* the script's lines the answer keeps */
    torus_str conditions[COND_COUNT];
    char data[]; /* what value, kept and conditions point into */
};

static void sendfile_run(struct torus_fs_job *base)
{
    struct sendfile_job *job = (struct sendfile_job *)base;
    if (!job->path[0]) {
        job->status = 403;
        job->outside = true;
        return;
    }
    char *real = realpath(job->path, NULL);
    if (!real) {
        job->status = errno == EACCES ? 403 : 404;
        return;
    }
    size_t n = strlen(real);
    bool fits = n < sizeof(job->resolved);
    if (fits)
        memcpy(job->resolved, real, n + 1);
    free(real);
    if (!fits || !torus_sendfile_allowed(job->resolved, job->roots, job->root_count)) {
        job->status = 403;
        job->outside = true;
        return;
    }
    if (torus_static_open(job->resolved, job->read_max, &job->file) != TORUS_OK)
        job->status = job->file.error == EACCES ? 403 : 404;
}

/* The static answer for the opened file (Range, conditions). TORUS_OK, else *status says what. */
static int respond_file(struct torus_loop *loop, struct sendfile_job *job,
                        struct torus_static_response *resp, int *status)
{
    struct torus_static_request sreq;
    memset(&sreq, 0, sizeof(sreq));
    sreq.head = job->head;
    sreq.http_minor = job->http_minor;
    sreq.keep_alive = job->keep_alive;
    sreq.now = loop->now_s;
    sreq.st = &job->file.st;
    sreq.if_none_match = job->conditions[COND_IF_NONE_MATCH];
    sreq.if_modified_since = job->conditions[COND_IF_MODIFIED_SINCE];
    sreq.range = job->conditions[COND_RANGE];
    sreq.if_range = job->conditions[COND_IF_RANGE];
    if (torus_static_respond_opened(loop->static_cache, job->resolved, strlen(job->resolved), &sreq,
                                    &job->file, resp) != TORUS_OK) {
        *status = resp->status ? resp->status : 500;
        return TORUS_ERROR;
    }
    *status = resp->status;
    return TORUS_OK;
}

/* Queues the answer built from the opened file: the static head, the kept lines, the body. */
static int queue_file(struct torus_conn *c, struct sendfile_job *job, int *status, uint64_t *bytes)
{
    struct torus_loop *loop = c->loop;
    struct torus_static_response resp;
    if (respond_file(loop, job, &resp, status) != TORUS_OK)
        return TORUS_ERROR;
    /* The head ends with its blank line: the kept lines go before it. */
    size_t head_len = resp.head_len - 2;
    size_t body_len = resp.body && !job->head ? resp.body_len : 0;
    struct torus_chunk *chunk = out_chunk(resp.head, head_len, job->kept.len + 2 + body_len);
    if (slow_path(!chunk)) {
        torus_static_response_release(loop->static_cache, &resp);
        *status = 500;
        return TORUS_ERROR;
    }
    memcpy(chunk->data + chunk->len, job->kept.data, job->kept.len);
    memcpy(chunk->data + chunk->len + job->kept.len, "\r\n", 2);
    chunk->len += (uint32_t)(job->kept.len + 2);
    if (body_len) {
        memcpy(chunk->data + chunk->len, resp.body, body_len);
        chunk->len += (uint32_t)body_len;
    }
    *status = resp.status;
    *bytes = chunk->len;
    out_append(c, chunk);
    if (resp.fd >= 0 && resp.length > 0 && !job->head) {
        c->file_fd = resp.fd;
        c->file_offset = resp.offset;
        c->file_remaining = resp.length;
        *bytes += resp.length;
        resp.fd = -1; /* the connection streams it */
    }
    torus_static_response_release(loop->static_cache, &resp);
    return TORUS_OK;
}

static void job_free(struct sendfile_job *job)
{
    torus_static_file_release(&job->file);
    free(job);
}

static void warn_outside(const struct torus_conn *c, const struct sendfile_job *job)
{
    if (job->outside)
        torus_log_warn("shard %d: %s %.*s names a file outside every --sendfile-root: 403",
                       c->loop->shard->id, job->header, (int)TORUS_MIN(job->value.len, 512),
                       job->value.data);
}

/* HTTP/2: the answer goes to the stream, if it is still there. */
static void finish_stream(struct sendfile_job *job)
{
    struct torus_conn *c = job->conn;
    if (!conn_closed(c) && job->stream) {
        warn_outside(c, job);
        int status = job->status;
        struct torus_static_response resp;
        if (!status && respond_file(c->loop, job, &resp, &status) == TORUS_OK) {
            h2_stream_sendfile_answer(job->stream, status, &resp, job->kept);
            torus_static_response_release(c->loop->static_cache, &resp);
        } else {
            h2_stream_sendfile_answer(job->stream, status, NULL, job->kept);
        }
        if (!conn_closed(c))
            h2_session_pump(c);
    }
    job_free(job);
    if (conn_closed(c))
        conn_maybe_free(c);
}

/* Both halves are there: the answer goes out and the connection moves on. */
static void finish(struct sendfile_job *job)
{
    struct torus_conn *c = job->conn;
    c->held--;
    if (job->http2) {
        finish_stream(job);
        return;
    }
    if (conn_closed(c)) {
        job_free(job);
        conn_maybe_free(c);
        return;
    }
    c->keep_alive = job->keep_alive;
    int status = job->status;
    uint64_t bytes = 0;
    warn_outside(c, job);
    if (!status && queue_file(c, job, &status, &bytes) == TORUS_OK) {
        conn_observe(c, status, bytes);
    } else {
        out_respond_simple(c, status, NULL, false);
        conn_observe(c, status, 0);
    }
    job_free(job);
    if (conn_closed(c))
        return;
    conn_response_queued(c);
    if (c->reading_paused && conn_reading(c)) {
        c->reading_paused = false;
        conn_arm_recv(c);
    }
    conn_flush(c);
    if (conn_reading(c))
        session_parse(c);
}

static void sendfile_complete(struct torus_fs_job *base, void *ctx)
{
    (void)ctx;
    struct sendfile_job *job = (struct sendfile_job *)base;
    if (job->state == SENDFILE_ENDED)
        finish(job);
    else
        job->state = SENDFILE_FILE_READY;
}

/* The value of a request header (the first of that name), or an empty string. */
static torus_str request_header(const struct torus_request *r, const char *name)
{
    size_t n = strlen(name);
    for (uint32_t i = 0; i < r->header_count; i++) {
        if (r->headers[i].name.len == n && strncasecmp(r->headers[i].name.data, name, n) == 0)
            return r->headers[i].value;
    }
    return (torus_str){NULL, 0};
}

/* Copies s into job->data at *used; the copy. */
static torus_str keep(struct sendfile_job *job, size_t *used, torus_str s)
{
    if (!s.data)
        return s;
    char *at = job->data + *used;
    memcpy(at, s.data, s.len);
    *used += s.len;
    return (torus_str){at, s.len};
}

bool sendfile_begin(struct torus_loop *loop, struct torus_exchange *x,
                    const struct torus_chunk *chunk)
{
    const struct torus_config *cfg = loop->config;
    if (fast_path(!cfg->sendfile_root_count || !chunk))
        return false;
    struct torus_response_head head;
    const char *lines;
    size_t lines_len;
    if (torus_response_head_get(chunk->data + chunk->sent, chunk->len - chunk->sent, &head, &lines,
                                &lines_len) != TORUS_OK ||
        head.kind != TORUS_HEAD_FINAL)
        return false;
    torus_str value;
    if (fast_path(torus_sendfile_detect(lines, lines_len, &value, NULL, NULL) ==
                  TORUS_SENDFILE_NONE))
        return false; /* most heads name no file */

    const struct torus_request *r = &x->request;
    torus_str conditions[COND_COUNT];
    size_t extra = 0;
    for (int i = 0; i < COND_COUNT; i++) {
        conditions[i] = request_header(r, condition_names[i]);
        extra += conditions[i].len;
    }
    struct sendfile_job *job = malloc(sizeof(*job) + lines_len + value.len + extra);
    if (slow_path(!job))
        return false; /* the script's own response goes out */
    memset(job, 0, sizeof(*job));
    size_t kept_len = 0;
    enum torus_sendfile_kind kind =
        torus_sendfile_detect(lines, lines_len, &value, job->data, &kept_len);
    size_t used = kept_len;
    job->kept = (torus_str){job->data, kept_len};
    job->header = kind == TORUS_SENDFILE_PATH ? "X-Sendfile" : "X-Accel-Redirect";
    job->value = keep(job, &used, value);
    for (int i = 0; i < COND_COUNT; i++)
        job->conditions[i] = keep(job, &used, conditions[i]);
    job->base.run = sendfile_run;
    job->base.complete = sendfile_complete;
    job->conn = x->conn;
    job->http2 = x->http2;
    job->stream = x->stream;
    job->roots = cfg->sendfile_roots;
    job->root_count = cfg->sendfile_root_count;
    job->read_max = torus_static_cache_max_entry(loop->static_cache);
    job->head = r->head;
    job->http_minor = r->http_minor;
    job->file.fd = -1;
    if (torus_sendfile_map(kind, value, r->document_root, cfg->sendfile_roots,
                           cfg->sendfile_root_count, job->path, sizeof(job->path)) != TORUS_OK)
        job->path[0] = '\0'; /* refused by the worker: 403 */
    x->conn->held++;
    x->sendfile = job;
    if (torus_fs_pool_submit(&loop->fs, &job->base) != TORUS_OK) {
        job->status = 503; /* every worker's ring is full */
        job->state = SENDFILE_FILE_READY;
    }
    return true;
}

void sendfile_end(struct torus_exchange *x, unsigned flags)
{
    struct sendfile_job *job = x->sendfile;
    struct torus_conn *c = x->conn;
    x->sendfile = NULL;
    if (c->exchange == x)
        c->exchange = NULL;
    job->keep_alive =
        !job->http2 && c->keep_alive && x->h1.keep_alive && !(flags & TORUS_EMIT_CLOSE);
    if (job->state == SENDFILE_FILE_READY)
        finish(job);
    else
        job->state = SENDFILE_ENDED;
}

void sendfile_stream_gone(struct sendfile_job *job)
{
    job->stream = NULL;
}
