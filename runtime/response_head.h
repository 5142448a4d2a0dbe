/*
 * A response head as it crosses from an executor to its shard's I/O thread:
 * what the PHP side knows of the response (status, the script's header
 * lines, what it knows of the body), without any protocol's framing. The
 * session on the I/O thread (HTTP/1.1: net/http1_response.c; HTTP/2:
 * net/h2_session.c) turns it into its own wire format.
 *
 * A part emitted with TORUS_EMIT_HEAD (runtime/request.h) starts with the
 * encoding: a fixed struct torus_response_head, then `size - sizeof(struct)`
 * bytes of header lines, each "Name: value\r\n" (names are RFC 9110 tokens,
 * values hold no CR, LF or NUL: the SAPI checked them). Raw body bytes may
 * follow in the same part, so the common buffered response crosses the ring
 * as one part. The struct is copied in and out with memcpy() (the encoding
 * may start at any address).
 *
 * Room for the session: the executor's port copies every part into a chunk
 * (runtime/chunk.h) with TORUS_RESPONSE_FRONT_ROOM free bytes before it
 * (chunk->sent is where the part starts) and TORUS_RESPONSE_TAIL_ROOM after
 * it, so that HTTP/1.1 can write its head (longer than the encoding by the
 * status line, Server, Date, Content-Length, Connection) and its chunk
 * framing in place, and the part still leaves in one send.
 */
#ifndef TORUS_RESPONSE_HEAD_H
#define TORUS_RESPONSE_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "runtime/common.h"

/* Free bytes in front of a part carrying a head, and in front of a body-only part. */
#define TORUS_RESPONSE_FRONT_ROOM      256u
#define TORUS_RESPONSE_BODY_FRONT_ROOM 24u
/* Free bytes after every part (a chunk's "\r\n" and the last chunk "0\r\n\r\n"). */
#define TORUS_RESPONSE_TAIL_ROOM 8u

enum torus_head_kind {
    TORUS_HEAD_FINAL,   /* the response's own head */
    TORUS_HEAD_INTERIM, /* a 1xx before it (103 Early Hints); never carries a body */
};

enum torus_head_body {
    TORUS_HEAD_BODY_NONE,   /* 1xx, 204, 304: the response has no body at all */
    TORUS_HEAD_BODY_LENGTH, /* `length` bytes (for HEAD: what a GET would get, none sent) */
    TORUS_HEAD_BODY_STREAM, /* unknown: body parts follow until the END */
};

/* flags of struct torus_response_head */
#define TORUS_HEAD_LENGTH_IN_LINES                                                                 \
    1u                      /* the script's own Content-Length line is among the lines             \
                             */
#define TORUS_HEAD_CLOSE 2u /* the connection must close after this response */

struct torus_response_head {
    uint32_t size;   /* bytes of the encoding: this struct and the lines after it */
    uint16_t status; /* 100..999 */
    uint8_t kind;    /* enum torus_head_kind */
    uint8_t body;    /* enum torus_head_body */
    uint8_t flags;   /* TORUS_HEAD_* */
    uint8_t unused[7];
    int64_t length; /* TORUS_HEAD_BODY_LENGTH: the body's length; -1 otherwise */
};

/* Writes the fixed part of a head at out (the lines follow it: head->size counts them). */
static inline void torus_response_head_put(char *out, const struct torus_response_head *head)
{
    memcpy(out, head, sizeof(*head));
}

/*
 * Reads the head at the start of a part of `len` bytes: TORUS_OK with *head
 * filled and *lines / *lines_len the header lines, or TORUS_ERROR when the
 * part is too short to hold what it announces.
 */
static inline int torus_response_head_get(const char *data, size_t len,
                                          struct torus_response_head *head, const char **lines,
                                          size_t *lines_len)
{
    if (slow_path(len < sizeof(*head)))
        return TORUS_ERROR;
    memcpy(head, data, sizeof(*head));
    if (slow_path(head->size < sizeof(*head) || head->size > len))
        return TORUS_ERROR;
    *lines = data + sizeof(*head);
    *lines_len = head->size - sizeof(*head);
    return TORUS_OK;
}

/*
 * The next "Name: value\r\n" line at *cursor (before end): TORUS_OK with
 * name and value set and *cursor past the line, or TORUS_AGAIN when no line
 * is left (a malformed rest is skipped).
 */
static inline int torus_response_head_next(const char **cursor, const char *end, torus_str *name,
                                           torus_str *value)
{
    const char *at = *cursor;
    if (at >= end)
        return TORUS_AGAIN;
    const char *colon = memchr(at, ':', (size_t)(end - at));
    const char *eol = colon ? memchr(colon, '\r', (size_t)(end - colon)) : NULL;
    if (slow_path(!eol || eol + 2 > end)) {
        *cursor = end;
        return TORUS_AGAIN;
    }
    name->data = at;
    name->len = (size_t)(colon - at);
    const char *v = colon + 1;
    if (v < eol && *v == ' ')
        v++;
    value->data = v;
    value->len = (size_t)(eol - v);
    *cursor = eol + 2;
    return TORUS_OK;
}

#endif
