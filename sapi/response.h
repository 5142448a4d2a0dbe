/*
 * The response a PHP script produces, handed to the executor port as a head
 * (runtime/response_head.h: status, the script's header lines, what is known
 * of the body) and raw body parts; the session on the I/O thread frames them
 * for its protocol (HTTP/1.1 or HTTP/2).
 *
 * The common case costs one allocation-free copy and one emit(): the body is
 * buffered after a reserved headroom, and when the script ends the head's
 * encoding is written into that headroom, right before the body, so head and
 * body leave in a single emit(HEAD | END). A script that flushes, or whose
 * body outgrows TORUS_SAPI_RESPONSE_BUFFER_LIMIT, switches the response to
 * streaming: the head goes out at once (its body's length unknown, or the
 * script's own Content-Length), and the body follows in parts.
 *
 * Nothing here knows PHP: the SAPI feeds header lines and body bytes in, and
 * the unit tests drive it directly.
 */
#ifndef TORUS_SAPI_RESPONSE_H
#define TORUS_SAPI_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/common.h"
#include "runtime/request.h"
#include "sapi/response_encoding.h"

/* A buffered body larger than this is streamed instead (the head leaves without Content-Length). */
#define TORUS_SAPI_RESPONSE_BUFFER_LIMIT (1u << 20)

/* While streaming, body bytes are gathered into parts of about this size before each emit(). */
#define TORUS_SAPI_RESPONSE_STREAM_PART (64u << 10)

enum torus_sapi_response_state {
    TORUS_SAPI_RESPONSE_BUFFERING, /* nothing sent yet: the body accumulates */
    TORUS_SAPI_RESPONSE_STREAMING, /* the head is sent; body parts follow */
    TORUS_SAPI_RESPONSE_ENDED,     /* the last part is sent (END); bytes written now are dropped */
};

enum torus_sapi_response_framing {
    TORUS_SAPI_RESPONSE_LENGTH, /* the length is known (the script's Content-Length, or buffered) */
    TORUS_SAPI_RESPONSE_STREAM, /* streamed, length unknown: the session frames it */
    TORUS_SAPI_RESPONSE_NO_BODY, /* 1xx, 204, 304: no body bytes are ever sent */
};

struct torus_sapi_response {
    struct torus_executor_port *port;
    struct torus_request *request;

    /* [headroom][pending body]; kept from one request to the next. */
    char *buffer;
    size_t capacity;
    size_t headroom;
    size_t pending; /* body bytes waiting at buffer + headroom */

    /* The script's header lines, each "Name: value\r\n", in the order PHP gave them. */
    char *headers;
    size_t headers_len;
    size_t headers_capacity;

    int status;
    int64_t declared_length; /* the script's Content-Length; -1 when it set none */
    bool declared_in_lines;  /* that Content-Length is a line among `headers` */
    uint64_t body_bytes;     /* body bytes the script wrote (counted even when not sent) */
    uint64_t body_sent;      /* body bytes handed to emit(), the head excluded */
    enum torus_sapi_response_state state;
    enum torus_sapi_response_framing framing;
    bool head_only; /* HEAD: the head is the one a GET would get, without the body */
    bool close;     /* close the connection after this response */
    bool released;  /* TORUS_EMIT_RELEASE has been emitted */
    bool out_of_memory;
    bool refused; /* a header could have split the response: it is a bare 500 */

    /* Compression (sapi/response_encoding.h); its settings are set once per executor. */
    struct torus_sapi_encoding encoding;
};

/* Zeroes a response; no memory is taken until the first request. */
void torus_sapi_response_init(struct torus_sapi_response *response);

/* Frees the response's buffers. */
void torus_sapi_response_free(struct torus_sapi_response *response);

/*
 * Starts the response to `request`, which will be emitted through `port`:
 * status 200, no headers, nothing buffered, the connection kept open when the
 * request allows it.
 */
void torus_sapi_response_begin(struct torus_sapi_response *response,
                               struct torus_executor_port *port, struct torus_request *request);

/* Sets the status code. Ignored once the head is sent. */
void torus_sapi_response_set_status(struct torus_sapi_response *response, int status);

/*
 * Adds one header line "Name: value" (without CRLF) from the script. A name
 * that is not a token, or a value holding CR, LF or NUL, is never written:
 * the whole response becomes a 500 without the script's headers and body
 * (and one line is logged). Framing
 * is the server's: Transfer-Encoding, Date and Server lines are dropped,
 * Connection is read ("close" closes the connection) and dropped, a CGI
 * "Status: 404" line sets the status while it is still 200, and a valid
 * Content-Length is kept and honoured. Ignored once the head is sent.
 * Returns TORUS_OK, or TORUS_ERROR when memory is exhausted.
 */
int torus_sapi_response_add_header(struct torus_sapi_response *response, const char *line,
                                   size_t len);

/* Appends body bytes; they may be emitted at once when streaming. Dropped once ENDED. */
int torus_sapi_response_write(struct torus_sapi_response *response, const char *data, size_t len);

/*
 * Sends everything now: the head when it has not left yet (the response then
 * streams), and the pending body bytes. TORUS_OK or TORUS_ERROR (no memory).
 */
int torus_sapi_response_flush(struct torus_sapi_response *response);

/*
 * Sends an interim response (e.g. 103 Early Hints) made of `lines` (complete
 * "Name: value\r\n" lines, may be empty) before the final one. Only while the
 * head has not left, and only to HTTP/1.1 and HTTP/2 clients. TORUS_OK, or TORUS_ERROR
 * when it was not sent.
 */
int torus_sapi_response_interim(struct torus_sapi_response *response, int status, const char *lines,
                                size_t len);

/*
 * Ends the response: writes request->status, emits the last part with
 * TORUS_EMIT_END (plus TORUS_EMIT_CLOSE when the connection must close, plus
 * TORUS_EMIT_RELEASE when `release`). When the response has already ended,
 * only releases the request (if asked and not done yet).
 */
void torus_sapi_response_end(struct torus_sapi_response *response, bool release);

/* True while the head has not been sent. */
static inline bool torus_sapi_response_buffering(const struct torus_sapi_response *response)
{
    return response->state == TORUS_SAPI_RESPONSE_BUFFERING;
}

#endif
