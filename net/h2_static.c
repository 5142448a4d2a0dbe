/*
 * A static file as an HTTP/2 stream's answer (net/h2.h): from the static
 * cache, or from the file opened for it, its DATA read in pieces.
 */
#include "net/h2.h"

#include <string.h>

void h2_static_respond(struct h2_stream *st, const struct torus_route *route)
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
        const char *v = h2_stream_field(st, names[i], &len);
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
        h2_stream_respond_simple(st, resp.status ? resp.status : 500, NULL);
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
            h2_stream_queue(st, k);
    } else if (body) {
        st->response_bytes = resp.length;
        st->file_fd = resp.fd;
        st->file_offset = resp.offset;
        st->file_remaining = resp.length;
        resp.fd = -1;
    }
    st->eof = true;
    if (h2_stream_submit_head(st, resp.status, lines, lines_len, -1, body, false) != TORUS_OK)
        nghttp2_submit_rst_stream(st->session->ng, NGHTTP2_FLAG_NONE, st->id,
                                  NGHTTP2_INTERNAL_ERROR);
    int status = resp.status;
    torus_static_response_release(loop->static_cache, &resp);
    h2_stream_observe(st, status);
}
