/*
 * An HTTP/2 stream's response (net/h2.h): its HEADERS frame built from
 * "Name: value" lines, its DATA fed by nghttp2's data provider from the
 * chunks queued on the stream (from the executor, the static cache or a file
 * read; net/h2_static.c), the server's own small pages, and the count and log
 * line of a finished response.
 */
#include "net/h2.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "net/http_response.h"
#include "runtime/log.h"
#include "runtime/response_head.h"

/* The response ended (or the stream went away): count it and write its log line. */
void h2_stream_observe(struct h2_stream *st, int status)
{
    struct torus_loop *loop = st->session->conn->loop;
    uint64_t duration = torus_monotonic_ns() - st->start_ns;
    torus_metrics_observe(loop->shard->metrics, status, duration);
    if (st->log) {
        torus_access_log_end(&loop->access_log, st->log, status, st->response_bytes, duration);
        st->log = NULL;
    }
}

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
    /* A file's next piece, while the queue holds less than one. */
    if (slow_path(h2_static_read_ahead(st) != TORUS_OK))
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets the stream */
    h2_stream_maybe_unthrottle(st);
    if (!st->out_first && !st->file && st->eof) {
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
void h2_stream_queue(struct h2_stream *st, struct torus_chunk *k)
{
    if (k->len == k->sent) {
        torus_chunk_free(k);
        return;
    }
    st->out_bytes += k->len - k->sent;
    st->response_bytes += k->len - k->sent;
    torus_chunk_append(&st->out_first, &st->out_last, k);
}

void h2_stream_resume(struct h2_stream *st)
{
    if (st->deferred) {
        st->deferred = false;
        nghttp2_session_resume_data(st->session->ng, st->id);
    }
}

/* Header lines a final HTTP/2 head does not take from the lines: connection-specific ones (RFC 9113
 * 8.2.2), and Server and Date, which h2_stream_submit_head() writes itself. */
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
int h2_stream_submit_head(struct h2_stream *st, int status, const char *lines, size_t lines_len,
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
void h2_stream_respond_simple(struct h2_stream *st, int status, const char *extra_lines)
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
            h2_stream_queue(st, k);
    }
    st->eof = true;
    if (h2_stream_submit_head(st, status, lines,
                              (size_t)TORUS_MIN((size_t)lines_len, sizeof(lines) - 1), body_len,
                              with_body, false) != TORUS_OK)
        nghttp2_submit_rst_stream(st->session->ng, NGHTTP2_FLAG_NONE, st->id,
                                  NGHTTP2_INTERNAL_ERROR);
    h2_stream_observe(st, status);
}
