/*
 * HTTP/1.1 framing of executor parts, in place.
 *
 * A part with a head arrives as [free room][encoded head: struct + lines][body]
 * in its chunk. The HTTP/1.1 head is longer than the encoding by its first
 * lines (status, Server, Date) and its last lines (Transfer-Encoding or
 * Content-Length, Connection, the blank line, and the first chunk-size
 * line): the script's lines move back by the length of the last lines, the
 * first lines go in front of them, and the whole head then ends exactly
 * where the body starts, so head and body still leave in one send. A head
 * that does not fit the room (it cannot: the room is sized for the longest
 * first and last lines) would be built in a new chunk instead.
 *
 * Framing, chosen at the final head: a known length gives Content-Length
 * (unless the script's own line is among the lines); an unknown one gives
 * chunks for HTTP/1.1 and a close for HTTP/1.0; 1xx, 204 and 304 get
 * neither. HEAD gets the same head and no body bytes (and no last chunk).
 */
#include "net/http1_response.h"

#include <stdio.h>
#include <string.h>

#include "net/http_response.h"
#include "runtime/request.h"
#include "runtime/response_head.h"

/* The longest first lines, last lines and chunk-size line a head needs. */
#define FIRST_LINES_MAX 128
#define LAST_LINES_MAX  128
#define CHUNK_LINE_MAX  20

void http1_response_begin(struct http1_response *f, uint8_t http_minor, bool keep_alive,
                          bool head_request)
{
    f->framing = HTTP1_FRAMING_UNSET;
    f->http_minor = http_minor;
    f->keep_alive = keep_alive;
    f->head_request = head_request;
}

static bool sends_body(const struct http1_response *f)
{
    return !f->head_request &&
           (f->framing == HTTP1_FRAMING_LENGTH || f->framing == HTTP1_FRAMING_CHUNKED ||
            f->framing == HTTP1_FRAMING_CLOSE);
}

/* The chunk-size line of a chunk of len bytes ("1a2\r\n") into out; its length. */
static size_t chunk_line(char *out, size_t len)
{
    return (size_t)snprintf(out, CHUNK_LINE_MAX, "%zx\r\n", len);
}

/*
 * Replaces the bytes [sent, to) of the chunk (the encoded head) by first,
 * lines, last: in place when the room in front allows, else in a new chunk
 * that also takes the body. TORUS_OK or TORUS_ERROR.
 */
static int put_head(struct torus_chunk **chunk, uint32_t to, const char *first, size_t first_len,
                    const char *lines, size_t lines_len, const char *last, size_t last_len)
{
    struct torus_chunk *k = *chunk;
    size_t total = first_len + lines_len + last_len;
    if (fast_path(total <= to)) {
        char *end = k->data + to;
        memmove(end - last_len - lines_len, lines, lines_len);
        memcpy(end - last_len, last, last_len);
        memcpy(end - total, first, first_len);
        k->sent = to - (uint32_t)total;
        return TORUS_OK;
    }
    size_t body_len = k->len - to;
    struct torus_chunk *n = torus_chunk_new(total + body_len + TORUS_RESPONSE_TAIL_ROOM);
    if (slow_path(!n))
        return TORUS_ERROR;
    memcpy(n->data, first, first_len);
    memcpy(n->data + first_len, lines, lines_len);
    memcpy(n->data + first_len + lines_len, last, last_len);
    memcpy(n->data + total, k->data + to, body_len);
    n->len = (uint32_t)(total + body_len);
    torus_chunk_free(k);
    *chunk = n;
    return TORUS_OK;
}

/* Appends n bytes to *chunk (a new chunk when NULL or full). TORUS_OK or TORUS_ERROR. */
static int append(struct torus_chunk **chunk, const char *data, size_t n)
{
    struct torus_chunk *k = *chunk;
    if (slow_path(!k || k->len + n > k->capacity)) {
        size_t have = k ? k->len - k->sent : 0;
        struct torus_chunk *grown = torus_chunk_new(have + n);
        if (slow_path(!grown))
            return TORUS_ERROR;
        if (k) {
            memcpy(grown->data, k->data + k->sent, have);
            grown->len = (uint32_t)have;
            torus_chunk_free(k);
        }
        *chunk = k = grown;
    }
    memcpy(k->data + k->len, data, n);
    k->len += (uint32_t)n;
    return TORUS_OK;
}

/*
 * The part's head, framed in place; *body_len is set to the body bytes that
 * follow it and are sent. TORUS_OK or TORUS_ERROR.
 */
static int frame_head(struct http1_response *f, struct torus_chunk **chunk, size_t *body_len)
{
    struct torus_chunk *k = *chunk;
    struct torus_response_head head;
    const char *lines;
    size_t lines_len;
    *body_len = 0;
    if (slow_path(torus_response_head_get(k->data + k->sent, k->len - k->sent, &head, &lines,
                                          &lines_len) != TORUS_OK))
        return TORUS_ERROR;
    uint32_t body_at = k->sent + head.size;
    char first[FIRST_LINES_MAX];
    size_t first_len;
    char last[LAST_LINES_MAX + CHUNK_LINE_MAX];
    size_t last_len;

    if (head.kind == TORUS_HEAD_INTERIM) {
        /* An interim head is the status line and the lines only. */
        first_len = (size_t)snprintf(first, sizeof(first), "HTTP/1.1 %u %s\r\n", head.status,
                                     torus_http_reason(head.status));
        memcpy(last, "\r\n", 2);
        k->len = body_at;
        return put_head(chunk, body_at, first, first_len, lines, lines_len, last, 2);
    }

    int64_t content_length = -1;
    switch (head.body) {
    case TORUS_HEAD_BODY_NONE:
        f->framing = HTTP1_FRAMING_NO_BODY;
        break;
    case TORUS_HEAD_BODY_LENGTH:
        f->framing = HTTP1_FRAMING_LENGTH;
        if (!(head.flags & TORUS_HEAD_LENGTH_IN_LINES))
            content_length = head.length;
        break;
    default:
        if (f->http_minor >= 1) {
            f->framing = HTTP1_FRAMING_CHUNKED;
        } else {
            f->framing = HTTP1_FRAMING_CLOSE;
            f->keep_alive = false;
        }
        break;
    }
    if (head.flags & TORUS_HEAD_CLOSE)
        f->keep_alive = false;
    first_len = torus_http_head_first_lines(first, sizeof(first), head.status);
    last_len = torus_http_head_last_lines(last, LAST_LINES_MAX, f->http_minor, f->keep_alive,
                                          content_length, f->framing == HTTP1_FRAMING_CHUNKED);
    if (slow_path(!first_len || !last_len))
        return TORUS_ERROR;
    if (sends_body(f))
        *body_len = k->len - body_at;
    else
        k->len = body_at;
    if (f->framing == HTTP1_FRAMING_CHUNKED && *body_len)
        last_len += chunk_line(last + last_len, *body_len);
    return put_head(chunk, body_at, first, first_len, lines, lines_len, last, last_len);
}

int http1_response_frame(struct http1_response *f, struct torus_chunk **chunk, unsigned flags)
{
    size_t body_len = 0;
    if (*chunk && (flags & TORUS_EMIT_HEAD)) {
        bool was_final = f->framing != HTTP1_FRAMING_UNSET;
        if (slow_path(was_final || frame_head(f, chunk, &body_len) != TORUS_OK))
            return TORUS_ERROR;
    } else if (*chunk) {
        struct torus_chunk *k = *chunk;
        body_len = k->len - k->sent;
        if (!sends_body(f) || body_len == 0) {
            torus_chunk_free(k);
            *chunk = NULL;
            body_len = 0;
        } else if (f->framing == HTTP1_FRAMING_CHUNKED) {
            char line[CHUNK_LINE_MAX];
            size_t n = chunk_line(line, body_len);
            if (slow_path(n > k->sent))
                return TORUS_ERROR; /* a part without the promised room */
            k->sent -= (uint32_t)n;
            memcpy(k->data + k->sent, line, n);
        }
    }
    bool chunked = f->framing == HTTP1_FRAMING_CHUNKED && !f->head_request;
    if (chunked && body_len && slow_path(append(chunk, "\r\n", 2) != TORUS_OK))
        return TORUS_ERROR;
    if ((flags & TORUS_EMIT_END) && chunked && slow_path(append(chunk, "0\r\n\r\n", 5) != TORUS_OK))
        return TORUS_ERROR;
    return TORUS_OK;
}
