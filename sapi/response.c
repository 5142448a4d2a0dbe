/*
 * The PHP side of a response: what the script set and wrote, handed to the
 * I/O thread as a head (runtime/response_head.h) and raw body parts. The
 * framing (HTTP/1.1's status line, Content-Length or chunks, Connection;
 * HTTP/2's frames) is the session's, on the I/O thread.
 *
 * Memory layout of the reusable buffer:
 *
 *     0            headroom                      headroom + pending
 *     [ free room  | pending body bytes ........ |
 *
 * To emit the head, its encoding (the fixed struct and the script's header
 * lines) is written so that it ends exactly where the body starts: head and
 * body leave in one emit() without copying the body. The headroom grows
 * (moving the body once) only when a script sets more header bytes than
 * ever before.
 *
 * Decisions, all taken when the head is written:
 *   - buffered to the end: the body's length is known (or the script's own
 *     Content-Length, the body cut to it, the connection closed when shorter);
 *   - streaming: the script's Content-Length when set, else unknown (the
 *     session chooses chunks or a close for HTTP/1.1, DATA frames for HTTP/2);
 *   - HEAD gets the head a GET would get (its length counts the bytes the
 *     script wrote) and no body; 1xx, 204 and 304 carry no body at all.
 */
#include "sapi/response.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/header_value.h"
#include "runtime/log.h"
#include "runtime/response_head.h"

/* Room kept in front of the body for the head. It grows when a script sends more header bytes. */
#define INITIAL_HEADROOM 2048
/* A buffer grown past this by one large response is freed before the next response. */
#define KEEP_CAPACITY (4u << 20)

void torus_sapi_response_init(struct torus_sapi_response *r)
{
    memset(r, 0, sizeof(*r));
    r->declared_length = -1;
    r->status = 200;
    torus_sapi_encoding_init(&r->encoding);
}

void torus_sapi_response_free(struct torus_sapi_response *r)
{
    free(r->buffer);
    free(r->headers);
    torus_sapi_encoding_free(&r->encoding);
    torus_sapi_response_init(r);
}

void torus_sapi_response_begin(struct torus_sapi_response *r, struct torus_executor_port *port,
                               struct torus_request *request)
{
    if (slow_path(r->capacity > KEEP_CAPACITY)) {
        free(r->buffer);
        r->buffer = NULL;
        r->capacity = 0;
        r->headroom = 0;
    }
    r->port = port;
    r->request = request;
    r->pending = 0;
    r->headers_len = 0;
    r->status = 200;
    r->declared_length = -1;
    r->declared_in_lines = false;
    r->body_bytes = 0;
    r->body_sent = 0;
    r->state = TORUS_SAPI_RESPONSE_BUFFERING;
    r->framing = TORUS_SAPI_RESPONSE_LENGTH;
    r->head_only = request->head;
    r->close = !request->keep_alive;
    r->released = false;
    r->out_of_memory = false;
    r->refused = false;
    torus_sapi_encoding_reset(&r->encoding);
}

static bool status_forbids_body(int status)
{
    return status < 200 || status == 204 || status == 304;
}

/* True when the body bytes the script writes are never sent. */
static bool body_suppressed(const struct torus_sapi_response *r)
{
    return r->head_only || status_forbids_body(r->status);
}

/*
 * Makes room for at least `headroom` bytes in front of the body and `body`
 * body bytes. The pending body moves when the headroom grows.
 */
static int reserve(struct torus_sapi_response *r, size_t headroom, size_t body)
{
    if (headroom < r->headroom)
        headroom = r->headroom;
    if (headroom < INITIAL_HEADROOM)
        headroom = INITIAL_HEADROOM;
    size_t needed = headroom + body;
    if (fast_path(headroom == r->headroom && needed <= r->capacity))
        return TORUS_OK;

    size_t capacity = r->capacity ? r->capacity : 16384;
    while (capacity < needed)
        capacity *= 2;
    if (headroom == r->headroom || r->pending == 0) {
        char *grown = realloc(r->buffer, capacity);
        if (slow_path(!grown))
            return TORUS_ERROR;
        r->buffer = grown;
    } else {
        /* The headroom grows: the body moves to its new place once. */
        char *moved = malloc(capacity);
        if (slow_path(!moved))
            return TORUS_ERROR;
        memcpy(moved + headroom, r->buffer + r->headroom, r->pending);
        free(r->buffer);
        r->buffer = moved;
    }
    r->capacity = capacity;
    r->headroom = headroom;
    return TORUS_OK;
}

/* Appends body bytes to the pending body; also the sink of the body's encoder. */
static int append_body(void *response, const char *data, size_t len)
{
    struct torus_sapi_response *r = response;
    if (slow_path(reserve(r, r->headroom, r->pending + len) != TORUS_OK))
        return TORUS_ERROR;
    memcpy(r->buffer + r->headroom + r->pending, data, len);
    r->pending += len;
    return TORUS_OK;
}

static int append_header_bytes(struct torus_sapi_response *r, const char *data, size_t len)
{
    if (r->headers_len + len > r->headers_capacity) {
        size_t capacity = r->headers_capacity ? r->headers_capacity : 1024;
        while (capacity < r->headers_len + len)
            capacity *= 2;
        char *grown = realloc(r->headers, capacity);
        if (slow_path(!grown))
            return TORUS_ERROR;
        r->headers = grown;
        r->headers_capacity = capacity;
    }
    memcpy(r->headers + r->headers_len, data, len);
    r->headers_len += len;
    return TORUS_OK;
}

void torus_sapi_response_set_status(struct torus_sapi_response *r, int status)
{
    if (r->state != TORUS_SAPI_RESPONSE_BUFFERING || slow_path(r->refused))
        return;
    if (status < 100 || status > 999)
        status = 500;
    r->status = status;
}

static bool name_is(const char *name, size_t len, const char *literal)
{
    return len == strlen(literal) && strncasecmp(name, literal, len) == 0;
}

/* RFC 9110's token: what a header name is made of. */
static bool is_token_char(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/*
 * Defence in depth: PHP's header() already refuses CR, LF and NUL, but an
 * extension or a worker framework may hand over anything. A header line
 * whose name is not a token, or whose value holds CR, LF or NUL, could split
 * the response (inject headers or a second response), so it is never
 * written: the response becomes a 500 without the script's headers or body,
 * and one line is logged.
 */
static bool header_is_safe(const char *name, size_t name_len, const char *value, size_t value_len)
{
    for (size_t i = 0; i < name_len; i++) {
        if (!is_token_char((unsigned char)name[i]))
            return false;
    }
    for (size_t i = 0; i < value_len; i++) {
        if (value[i] == '\r' || value[i] == '\n' || value[i] == '\0')
            return false;
    }
    return true;
}

static void refuse(struct torus_sapi_response *r, const char *name, size_t name_len)
{
    const struct torus_request *q = r->request;
    torus_log_error("refused a response header with CR, LF or NUL, or a name that is not a token "
                    "(%.*s...) from %.*s: answering 500",
                    (int)TORUS_MIN(name_len, 40), name, (int)TORUS_MIN(q->path.len, 200),
                    q->path.data ? q->path.data : "");
    r->refused = true;
    r->status = 500;
    r->headers_len = 0;
    r->pending = 0;
    r->body_bytes = 0;
    r->declared_length = -1;
    r->declared_in_lines = false;
}

int torus_sapi_response_add_header(struct torus_sapi_response *r, const char *line, size_t len)
{
    if (r->state != TORUS_SAPI_RESPONSE_BUFFERING || slow_path(r->refused))
        return TORUS_OK;
    const char *colon = memchr(line, ':', len);
    if (slow_path(!colon))
        return TORUS_OK;
    size_t name_len = (size_t)(colon - line);
    while (name_len && (line[name_len - 1] == ' ' || line[name_len - 1] == '\t'))
        name_len--;
    if (slow_path(name_len == 0))
        return TORUS_OK;
    const char *value = colon + 1;
    size_t value_len = len - (size_t)(value - line);
    while (value_len && (*value == ' ' || *value == '\t')) {
        value++;
        value_len--;
    }
    while (value_len && (value[value_len - 1] == ' ' || value[value_len - 1] == '\t'))
        value_len--;
    if (slow_path(!header_is_safe(line, name_len, value, value_len))) {
        refuse(r, line, name_len);
        return TORUS_OK;
    }

    switch (name_len) {
    case 4:
        if (name_is(line, name_len, "Date"))
            return TORUS_OK; /* the server's Date is the one sent */
        break;
    case 6:
        if (name_is(line, name_len, "Server"))
            return TORUS_OK;
        if (name_is(line, name_len, "Status")) {
            /* CGI style "Status: 404 Not Found", as PHP-FPM's web server reads it. */
            if (r->status == 200 && value_len >= 3 && value[0] >= '1' && value[0] <= '9' &&
                value[1] >= '0' && value[1] <= '9' && value[2] >= '0' && value[2] <= '9')
                r->status = (value[0] - '0') * 100 + (value[1] - '0') * 10 + (value[2] - '0');
            return TORUS_OK;
        }
        break;
    case 10:
        if (name_is(line, name_len, "Connection")) {
            if (torus_http_has_token(value, value_len, "close"))
                r->close = true;
            return TORUS_OK; /* the head carries the server's own Connection header */
        }
        break;
    case 14:
        if (name_is(line, name_len, "Content-Length")) {
            if (value_len == 0 || value_len > 18)
                return TORUS_OK;
            int64_t length = 0;
            for (size_t i = 0; i < value_len; i++) {
                if (value[i] < '0' || value[i] > '9')
                    return TORUS_OK; /* not a length: dropped */
                length = length * 10 + (value[i] - '0');
            }
            r->declared_length = length;
            r->declared_in_lines = true;
        }
        break;
    case 17:
        if (name_is(line, name_len, "Transfer-Encoding"))
            return TORUS_OK; /* framing is the server's business */
        break;
    default:
        break;
    }
    if (slow_path(append_header_bytes(r, line, name_len) != TORUS_OK ||
                  append_header_bytes(r, ": ", 2) != TORUS_OK ||
                  append_header_bytes(r, value, value_len) != TORUS_OK ||
                  append_header_bytes(r, "\r\n", 2) != TORUS_OK)) {
        r->out_of_memory = true;
        return TORUS_ERROR;
    }
    return TORUS_OK;
}

static void emit(struct torus_sapi_response *r, const char *data, size_t len, unsigned flags)
{
    if (len == 0 && flags == 0)
        return;
    r->port->emit(r->port, r->request, data, len, flags);
}

/*
 * Writes the head's encoding so that it ends where the body starts, and
 * returns its length (0 when memory is exhausted). `body` says what the
 * session is told of the body; `length` is its length for
 * TORUS_HEAD_BODY_LENGTH.
 */
static size_t write_head(struct torus_sapi_response *r, enum torus_head_kind kind,
                         enum torus_head_body body, int64_t length)
{
    size_t size = sizeof(struct torus_response_head) + r->headers_len;
    if (slow_path(size > UINT32_MAX || reserve(r, size, r->pending) != TORUS_OK))
        return 0;
    struct torus_response_head head = {
        .size = (uint32_t)size,
        .status = (uint16_t)r->status,
        .kind = (uint8_t)kind,
        .body = (uint8_t)body,
        .flags = (uint8_t)((r->close ? TORUS_HEAD_CLOSE : 0) |
                           (body == TORUS_HEAD_BODY_LENGTH && r->declared_in_lines
                                ? TORUS_HEAD_LENGTH_IN_LINES
                                : 0)),
        .length = body == TORUS_HEAD_BODY_LENGTH ? length : -1,
    };
    char *at = r->buffer + r->headroom - size;
    torus_response_head_put(at, &head);
    memcpy(at + sizeof(head), r->headers, r->headers_len);
    return size;
}

/*
 * Emits the head (head_len bytes right before the body, may be 0) followed
 * by the pending body, cut to what the response may carry; `last` ends the
 * response.
 */
static void emit_part(struct torus_sapi_response *r, size_t head_len, bool last, bool release)
{
    size_t body_len = r->pending;
    if (body_suppressed(r) || r->framing == TORUS_SAPI_RESPONSE_NO_BODY) {
        body_len = 0;
    } else if (r->framing == TORUS_SAPI_RESPONSE_LENGTH && r->declared_length >= 0) {
        uint64_t allowed = (uint64_t)r->declared_length > r->body_sent
                               ? (uint64_t)r->declared_length - r->body_sent
                               : 0;
        if (body_len > allowed)
            body_len = (size_t)allowed;
    }
    char *start = r->buffer + r->headroom - head_len;
    r->body_sent += body_len;
    r->pending = 0;

    unsigned flags = head_len ? TORUS_EMIT_HEAD : 0;
    if (last) {
        flags |= TORUS_EMIT_END;
        if (r->framing == TORUS_SAPI_RESPONSE_LENGTH && r->declared_length >= 0 &&
            !body_suppressed(r) && r->body_sent < (uint64_t)r->declared_length)
            r->close = true; /* the client waits for bytes that will never come */
        if (r->close || r->out_of_memory)
            flags |= TORUS_EMIT_CLOSE;
        if (release)
            flags |= TORUS_EMIT_RELEASE;
    }
    emit(r, start, head_len + body_len, flags);
}

/* Sends the head of a response whose body has not ended yet, choosing its framing. */
static int start_streaming(struct torus_sapi_response *r)
{
    enum torus_head_body body;
    torus_sapi_encoding_decide(r, true, append_body); /* when encoded: no Content-Length */
    if (status_forbids_body(r->status)) {
        r->framing = TORUS_SAPI_RESPONSE_NO_BODY;
        body = TORUS_HEAD_BODY_NONE;
    } else if (r->declared_length >= 0) {
        r->framing = TORUS_SAPI_RESPONSE_LENGTH;
        body = TORUS_HEAD_BODY_LENGTH;
    } else {
        r->framing = TORUS_SAPI_RESPONSE_STREAM;
        body = TORUS_HEAD_BODY_STREAM;
    }
    size_t head_len = write_head(r, TORUS_HEAD_FINAL, body, r->declared_length);
    if (slow_path(head_len == 0)) {
        r->out_of_memory = true;
        return TORUS_ERROR;
    }
    r->state = TORUS_SAPI_RESPONSE_STREAMING;
    emit_part(r, head_len, false, false);
    return TORUS_OK;
}

int torus_sapi_response_write(struct torus_sapi_response *r, const char *data, size_t len)
{
    if (slow_path(r->refused))
        return TORUS_OK; /* a bare 500: the script's body is not sent */
    r->body_bytes += len;
    if (r->state == TORUS_SAPI_RESPONSE_ENDED || body_suppressed(r) || len == 0)
        return TORUS_OK;
    if (r->state == TORUS_SAPI_RESPONSE_STREAMING) {
        if (r->framing == TORUS_SAPI_RESPONSE_NO_BODY)
            return TORUS_OK;
        if (r->framing == TORUS_SAPI_RESPONSE_LENGTH) {
            uint64_t queued = r->body_sent + r->pending;
            uint64_t allowed =
                (uint64_t)r->declared_length > queued ? (uint64_t)r->declared_length - queued : 0;
            if (len > allowed)
                len = (size_t)allowed; /* beyond the script's Content-Length: dropped */
            if (len == 0)
                return TORUS_OK;
        }
    }
    int rc = torus_sapi_encoding_streaming(&r->encoding)
                 ? torus_sapi_encoding_write(r, data, len, append_body)
                 : append_body(r, data, len);
    if (slow_path(rc != TORUS_OK)) {
        r->out_of_memory = true;
        return TORUS_ERROR;
    }

    if (r->state == TORUS_SAPI_RESPONSE_BUFFERING) {
        if (slow_path(r->pending > TORUS_SAPI_RESPONSE_BUFFER_LIMIT))
            return start_streaming(r);
    } else if (r->pending >= TORUS_SAPI_RESPONSE_STREAM_PART) {
        emit_part(r, 0, false, false);
    }
    return TORUS_OK;
}

int torus_sapi_response_flush(struct torus_sapi_response *r)
{
    switch (r->state) {
    case TORUS_SAPI_RESPONSE_BUFFERING:
        return start_streaming(r);
    case TORUS_SAPI_RESPONSE_STREAMING:
        if (torus_sapi_encoding_streaming(&r->encoding) &&
            torus_sapi_encoding_flush(r, append_body) != TORUS_OK)
            r->out_of_memory = true;
        if (r->pending)
            emit_part(r, 0, false, false);
        return TORUS_OK;
    default:
        return TORUS_OK;
    }
}

int torus_sapi_response_interim(struct torus_sapi_response *r, int status, const char *lines,
                                size_t len)
{
    if (r->state != TORUS_SAPI_RESPONSE_BUFFERING ||
        (r->request->http_minor < 1 && !r->request->http2) || status < 100 || status > 199)
        return TORUS_ERROR;
    size_t size = sizeof(struct torus_response_head) + len;
    char *encoded = malloc(size);
    if (slow_path(!encoded))
        return TORUS_ERROR;
    struct torus_response_head head = {
        .size = (uint32_t)size,
        .status = (uint16_t)status,
        .kind = TORUS_HEAD_INTERIM,
        .body = TORUS_HEAD_BODY_NONE,
        .length = -1,
    };
    torus_response_head_put(encoded, &head);
    memcpy(encoded + sizeof(head), lines, len);
    emit(r, encoded, size, TORUS_EMIT_HEAD);
    free(encoded);
    return TORUS_OK;
}

void torus_sapi_response_end(struct torus_sapi_response *r, bool release)
{
    if (r->state == TORUS_SAPI_RESPONSE_ENDED) {
        if (release && !r->released) {
            r->released = true;
            emit(r, NULL, 0, TORUS_EMIT_RELEASE);
        }
        return;
    }
    r->request->status = r->status;

    if (r->state == TORUS_SAPI_RESPONSE_BUFFERING) {
        enum torus_head_body body = TORUS_HEAD_BODY_LENGTH;
        int64_t length;
        if (status_forbids_body(r->status)) {
            r->framing = TORUS_SAPI_RESPONSE_NO_BODY;
            body = TORUS_HEAD_BODY_NONE;
            length = -1;
        } else {
            r->framing = TORUS_SAPI_RESPONSE_LENGTH;
            if (torus_sapi_encoding_decide(r, false, append_body)) {
                /* HEAD: the compressed length is not known (none is sent) */
                length = r->head_only ? -1 : (int64_t)r->pending;
                r->declared_length = length;
            } else if (r->declared_length >= 0) {
                length = r->declared_length; /* the script's own header line is among r->headers */
                if (!r->head_only && r->pending < (uint64_t)r->declared_length)
                    r->close = true;
            } else {
                length = (int64_t)(r->head_only ? r->body_bytes : r->pending);
                r->declared_length = length;
                r->declared_in_lines = false;
            }
        }
        size_t head_len = write_head(r, TORUS_HEAD_FINAL, body, length);
        if (slow_path(head_len == 0)) {
            /* Not even a head could be built: give the connection up. */
            r->state = TORUS_SAPI_RESPONSE_ENDED;
            r->released = release;
            emit(r, NULL, 0,
                 TORUS_EMIT_END | TORUS_EMIT_CLOSE | (release ? TORUS_EMIT_RELEASE : 0));
            return;
        }
        emit_part(r, head_len, true, release);
    } else {
        if (torus_sapi_encoding_streaming(&r->encoding) &&
            torus_sapi_encoding_end(r, append_body) != TORUS_OK)
            r->out_of_memory = true;
        emit_part(r, 0, true, release);
    }
    r->state = TORUS_SAPI_RESPONSE_ENDED;
    r->released = release;
}
