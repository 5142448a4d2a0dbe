/*
 * HTTP/1.1 request parsing: llhttp (no lenient flag), plus the
 * checks llhttp leaves to the server — size limits, Host, Transfer-Encoding,
 * Expect — each mapped to the status nginx answers with.
 *
 * The parser works on whatever bytes the caller has; it stops (pauses) at two
 * points of every request so the caller can act:
 *   TORUS_HTTP_HEAD     the head is complete: route it, decide what to do with
 *                       the body (buffer it for PHP, discard it, or reject);
 *   TORUS_HTTP_MESSAGE  the whole request, body included, has been read.
 * Between the start of a head and TORUS_HTTP_HEAD the head's bytes must stay
 * contiguous in the caller's memory: a caller that moves them (to keep a
 * partial head across two reads) calls torus_http_rebase().
 */
#ifndef TORUS_HTTP_H
#define TORUS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <llhttp.h>

#include "runtime/common.h"

#define TORUS_HTTP_MAX_HEADERS 100

/* Results of torus_http_execute() besides TORUS_AGAIN (all input used, need more). */
#define TORUS_HTTP_HEAD    1
#define TORUS_HTTP_MESSAGE 2
#define TORUS_HTTP_FAILED  3 /* error_status says what to answer before closing */

enum torus_http_body_mode {
    TORUS_BODY_DISCARD, /* read and drop (static files, errors) */
    TORUS_BODY_BUFFER,  /* keep in `body` (PHP) */
};

struct torus_http_limits {
    uint32_t max_uri_size;
    uint32_t max_header_size;
    uint64_t max_body_size;
    /* A buffered body is allocated up front up to this size at most (0: up to the limit); past
     * it the buffer grows as bytes come, for a caller that takes them (torus_http_take_body). */
    uint64_t body_preallocate;
};

struct torus_http_header {
    torus_str name;
    torus_str value;
};

struct torus_http_parser {
    llhttp_t llhttp;
    const struct torus_http_limits *limits;

    /* The head of the request being parsed: pointers into the caller's input. */
    const char *head_start; /* first byte of the request line; NULL between requests */
    const char *input_end;  /* end of the bytes given to the current torus_http_execute() */
    size_t head_bytes;      /* bytes of head seen so far */
    torus_str url;
    struct torus_http_header
        *headers; /* TORUS_HTTP_MAX_HEADERS entries while a request is parsed */
    uint32_t header_count;
    bool in_header_value;

    /* What the head said. */
    bool has_host;
    bool expect_continue;
    bool has_body; /* Content-Length > 0 or chunked */

    /* The body. */
    enum torus_http_body_mode body_mode;
    char *body;
    size_t body_len; /* bytes in `body`: what has not been taken yet */
    size_t body_cap;
    uint64_t body_seen; /* the request's body bytes so far, taken or not: the limit counts these */
    uint64_t framing_bytes;   /* chunk extensions and trailer fields so far, bounded like a head */
    uint8_t chunk_crlf_left;  /* bytes of the CRLF after a chunk's data still to check */
    bool cr_pending;          /* the last byte checked was a CR: the next must be LF */
    const char *framing_from; /* chunked body: first byte of this input not yet checked */

    int error_status; /* 400, 413, 414, 417, 431, 501, 505 when TORUS_HTTP_FAILED */
    const char *error_reason;
};

/* Prepares a parser for a new connection. */
void torus_http_init(struct torus_http_parser *parser, const struct torus_http_limits *limits);

/* Frees what the parser holds (header table, body buffer); it stays usable. */
void torus_http_release(struct torus_http_parser *parser);

/*
 * After TORUS_HTTP_HEAD, once the head's fields have been used: frees the
 * header table, so only connections in the middle of a head hold one.
 */
void torus_http_head_done(struct torus_http_parser *parser);

/*
 * Between requests: frees the header table so an idle keep-alive connection
 * holds no parsing memory. A no-op while a request is being parsed.
 */
void torus_http_idle(struct torus_http_parser *parser);

/*
 * Parses up to len bytes. *consumed is set to the bytes used: all of them for
 * TORUS_AGAIN, up to the pause point for TORUS_HTTP_HEAD and
 * TORUS_HTTP_MESSAGE (call again with the rest). Returns TORUS_AGAIN,
 * TORUS_HTTP_HEAD, TORUS_HTTP_MESSAGE or TORUS_HTTP_FAILED.
 */
int torus_http_execute(struct torus_http_parser *parser, const char *data, size_t len,
                       size_t *consumed);

/* True while a request has begun and not yet reached TORUS_HTTP_MESSAGE. */
bool torus_http_in_request(const struct torus_http_parser *parser);

/* True while the head of a request is being parsed (before TORUS_HTTP_HEAD). */
bool torus_http_in_head(const struct torus_http_parser *parser);

/*
 * Tells the parser the head's bytes moved by `delta` bytes (new address - old
 * address): while the head is parsed, and after TORUS_HTTP_HEAD for a caller
 * that keeps them until it has used the head (a request waiting for its route).
 */
void torus_http_rebase(struct torus_http_parser *parser, ptrdiff_t delta);

/*
 * After TORUS_HTTP_HEAD: sets what to do with the body. Returns TORUS_OK, or
 * TORUS_ERROR when the declared Content-Length is over the limit (413, with
 * error_status set): answer without reading the body.
 */
int torus_http_set_body_mode(struct torus_http_parser *parser, enum torus_http_body_mode mode);

/*
 * Takes ownership of the buffered body bytes (may be NULL when empty); the
 * parser forgets them. May be called while the body is still arriving: the
 * next bytes start a new buffer, and the limit still counts every byte.
 */
char *torus_http_take_body(struct torus_http_parser *parser, size_t *len);

/* After TORUS_HTTP_HEAD: the method's name ("GET"). */
const char *torus_http_method(const struct torus_http_parser *parser);

/* After TORUS_HTTP_HEAD: 0 for HTTP/1.0, 1 for HTTP/1.1. */
uint8_t torus_http_minor(const struct torus_http_parser *parser);

/* After TORUS_HTTP_HEAD: whether the connection may stay open after this request. */
bool torus_http_keep_alive(const struct torus_http_parser *parser);

/* After TORUS_HTTP_HEAD: the value of the first header called `name` (lower-case), or NULL. */
const torus_str *torus_http_header(const struct torus_http_parser *parser, const char *name);

#endif
