/*
 * A file as an HTTP/2 stream's answer (net/h2.h): a static route's, from the
 * static cache or as the file-system worker opened it (net/route_lookup.c),
 * and an X-Sendfile's (net/sendfile.c). The I/O thread makes no file-system
 * call here.
 *
 * A file too large for the cache is read in pieces of FILE_BUFFER_SIZE by
 * the shard's file-system workers (net/fs_worker.h), one read at a time per
 * stream, into a chunk queued on the stream as it comes back:
 *
 *   data provider (net/h2_output.c) takes queued bytes
 *     -> fewer than FILE_BUFFER_SIZE queued and none being read: the next
 *        piece goes to a worker (read ahead, so DATA need not wait)
 *     -> nothing queued: DEFERRED, resumed when the piece arrives
 *
 * So a stream holds at most two pieces, and only while the connection takes
 * DATA: HTTP/2's flow control and the connection's high mark
 * (TORUS_OUTPUT_HIGH_MARK: the session stops asking for DATA above it)
 * decide when the provider is called, hence when the next read starts.
 *
 * A stream that goes away while a read is at a worker leaves its file to
 * that read: the completion closes the descriptor and frees it (never while
 * the worker may still use them).
 */
#include "net/h2.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/log.h"

struct h2_file {
    struct torus_fs_job base; /* the read of the next piece */
    struct h2_stream *stream; /* NULL once the stream is gone: the read's completion frees this */
    int fd;
    uint64_t offset;           /* the next byte to read */
    uint64_t remaining;        /* bytes still to read */
    bool reading;              /* a read is at the workers (or in their backlog) */
    struct torus_chunk *chunk; /* the read's buffer */
    ssize_t got;               /* the read's result: bytes, or -1 with error set */
    int error;
};

static void file_free(struct h2_file *f)
{
    close(f->fd);
    torus_chunk_free(f->chunk);
    free(f);
}

/* Worker thread. */
static void file_read_run(struct torus_fs_job *base)
{
    struct h2_file *f = (struct h2_file *)base;
    size_t want = (size_t)TORUS_MIN(f->remaining, (uint64_t)FILE_BUFFER_SIZE);
    ssize_t got;
    do {
        got = pread(f->fd, f->chunk->data, want, (off_t)f->offset);
    } while (got < 0 && errno == EINTR);
    f->got = got;
    f->error = got < 0 ? errno : 0;
}

/* A piece came back: onto the stream's queue, and its DATA goes on. */
static void file_read_done(struct torus_fs_job *base, void *ctx)
{
    (void)ctx;
    struct h2_file *f = (struct h2_file *)base;
    struct h2_stream *st = f->stream;
    f->reading = false;
    if (!st) {
        file_free(f); /* the stream went away meanwhile */
        return;
    }
    struct torus_conn *c = st->session->conn;
    if (slow_path(f->got <= 0)) {
        /* Shrunk or failed under us: the announced length cannot be kept. */
        torus_log_warn("shard %d: reading a static file failed: %s", c->loop->shard->id,
                       f->got < 0 ? strerror(f->error) : "unexpected end of file");
        nghttp2_submit_rst_stream(st->session->ng, NGHTTP2_FLAG_NONE, st->id,
                                  NGHTTP2_INTERNAL_ERROR);
    } else {
        struct torus_chunk *k = f->chunk;
        f->chunk = NULL;
        k->len = (uint32_t)f->got;
        k->sent = 0;
        f->offset += (uint64_t)f->got;
        f->remaining -= (uint64_t)f->got;
        h2_stream_queue(st, k);
        if (!f->remaining) {
            st->file = NULL;
            file_free(f);
        }
        h2_stream_resume(st);
    }
    h2_session_pump(c);
}

int h2_static_read_ahead(struct h2_stream *st)
{
    struct h2_file *f = st->file;
    if (!f || f->reading || st->out_bytes >= FILE_BUFFER_SIZE)
        return TORUS_OK;
    if (!f->chunk) {
        f->chunk = torus_chunk_new(FILE_BUFFER_SIZE);
        if (slow_path(!f->chunk))
            return TORUS_ERROR;
    }
    f->reading = true;
    f->got = -1;
    f->error = ECANCELED; /* what a read the loop's end cancels says */
    fs_job_submit(st->session->conn->loop, &f->base);
    return TORUS_OK;
}

void h2_static_file_drop(struct h2_stream *st)
{
    struct h2_file *f = st->file;
    st->file = NULL;
    if (!f)
        return;
    if (f->reading)
        f->stream = NULL; /* freed by the read's completion */
    else
        file_free(f);
}

void h2_static_answer(struct h2_stream *st, struct torus_static_response *resp,
                      torus_str extra_lines)
{
    /* The head's lines, without its status line and blank line (HTTP/1.1's, re-read here). */
    const char *lines = memchr(resp->head, '\n', resp->head_len);
    lines = lines ? lines + 1 : resp->head + resp->head_len;
    size_t lines_len = (size_t)(resp->head + resp->head_len - lines);
    if (lines_len >= 2)
        lines_len -= 2;
    char *joined = NULL;
    if (extra_lines.len) {
        joined = malloc(lines_len + extra_lines.len);
        if (slow_path(!joined)) {
            h2_stream_respond_simple(st, 500, NULL);
            return;
        }
        memcpy(joined, lines, lines_len);
        memcpy(joined + lines_len, extra_lines.data, extra_lines.len);
        lines = joined;
        lines_len += extra_lines.len;
    }
    bool body = !st->head_request && resp->status != 304 &&
                ((resp->body && resp->body_len) || (resp->fd >= 0 && resp->length));
    if (body && resp->body) {
        struct torus_chunk *k = out_chunk(resp->body, resp->body_len, 0);
        if (k)
            h2_stream_queue(st, k);
    } else if (body) {
        struct h2_file *f = calloc(1, sizeof(*f));
        if (slow_path(!f)) {
            free(joined);
            h2_stream_respond_simple(st, 500, NULL);
            return;
        }
        f->base.run = file_read_run;
        f->base.complete = file_read_done;
        f->stream = st;
        f->fd = resp->fd;
        f->offset = resp->offset;
        f->remaining = resp->length;
        resp->fd = -1;                     /* the stream's now */
        st->response_bytes = resp->length; /* logged now, before the pieces are read */
        st->file = f; /* its first read starts when the HEADERS go out (the data provider) */
    }
    st->eof = true;
    if (h2_stream_submit_head(st, resp->status, lines, lines_len, -1, body, false) != TORUS_OK)
        nghttp2_submit_rst_stream(st->session->ng, NGHTTP2_FLAG_NONE, st->id,
                                  NGHTTP2_INTERNAL_ERROR);
    free(joined);
    h2_stream_observe(st, resp->status);
}

void h2_static_respond(struct h2_stream *st, const struct torus_route *route,
                       struct torus_static_file *file)
{
    struct torus_loop *loop = st->session->conn->loop;
    struct torus_static_request sreq;
    memset(&sreq, 0, sizeof(sreq));
    sreq.head = st->head_request;
    sreq.http_minor = 1;
    sreq.keep_alive = true;
    sreq.now = loop->now_s;
    sreq.st = file ? &file->st : &route->st;
    static const char *const names[] = {"if-none-match", "if-modified-since", "range", "if-range"};
    torus_str *fields[] = {&sreq.if_none_match, &sreq.if_modified_since, &sreq.range,
                           &sreq.if_range};
    for (size_t i = 0; i < TORUS_ARRAY_SIZE(names); i++) {
        size_t len;
        const char *v = h2_stream_field(st, names[i], &len);
        if (v)
            *fields[i] = (torus_str){v, len};
    }
    struct torus_static_response resp;
    /* From the cache (route_lookup_begin() saw it there), or with what the worker opened. */
    int rc = file ? torus_static_respond_opened(loop->static_cache, route->filename,
                                                route->filename_len, &sreq, file, &resp)
                  : torus_static_respond_cached(loop->static_cache, route->filename,
                                                route->filename_len, &sreq, &resp);
    if (rc != TORUS_OK) {
        /* TORUS_AGAIN cannot happen (the cache was just seen to hold it): a 500 if it did. */
        h2_stream_respond_simple(st, rc == TORUS_ERROR && resp.status ? resp.status : 500, NULL);
        return;
    }
    h2_static_answer(st, &resp, (torus_str){NULL, 0});
    torus_static_response_release(loop->static_cache, &resp);
}

void h2_stream_sendfile_answer(struct h2_stream *st, int status, struct torus_static_response *resp,
                               torus_str kept)
{
    st->sendfile = NULL;
    if (slow_path(st->state != H2_STREAM_WAITING))
        return; /* cannot happen: nothing of the script's answer went out */
    if (resp)
        h2_static_answer(st, resp, kept);
    else
        h2_stream_respond_simple(st, status, NULL);
}
