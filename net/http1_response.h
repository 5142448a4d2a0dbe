/*
 * HTTP/1.1 framing of the response parts an executor emits
 * (runtime/response_head.h): the head becomes the status line, Server, Date,
 * the script's lines, Content-Length or Transfer-Encoding: chunked, and
 * Connection; body parts become chunks when the length is unknown; the END
 * adds the last chunk. The rules of HEAD, 1xx, 204 and 304 apply here.
 *
 * No socket and no connection: the session (net/dispatch.c) queues what
 * comes out, and the unit tests drive it directly.
 */
#ifndef TORUS_HTTP1_RESPONSE_H
#define TORUS_HTTP1_RESPONSE_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/chunk.h"

enum http1_framing {
    HTTP1_FRAMING_UNSET,   /* no final head yet */
    HTTP1_FRAMING_LENGTH,  /* Content-Length (the script's or the server's) delimits the body */
    HTTP1_FRAMING_CHUNKED, /* Transfer-Encoding: chunked */
    HTTP1_FRAMING_CLOSE,   /* the body ends when the connection closes (HTTP/1.0 streaming) */
    HTTP1_FRAMING_NO_BODY, /* 1xx, 204, 304: no body */
};

/* One response's framing state, on the I/O thread. */
struct http1_response {
    enum http1_framing framing;
    uint8_t http_minor; /* the request's */
    bool head_request;  /* HEAD: the head a GET would get, no body bytes */
    bool keep_alive;    /* whether the connection may carry another request after this one */
};

/* Starts framing the response to a request of HTTP/1.<http_minor>. */
void http1_response_begin(struct http1_response *f, uint8_t http_minor, bool keep_alive,
                          bool head_request);

/*
 * Frames one part in place. *chunk holds the part's bytes from chunk->sent
 * on, with the room of runtime/response_head.h around them, or is NULL when
 * the part carried no bytes; flags are the part's TORUS_EMIT_*. On return
 * *chunk is what to queue (the same chunk, a new one, or NULL for nothing).
 * f->keep_alive is false once the connection must close after the
 * response. TORUS_OK, or TORUS_ERROR (no memory, a malformed head): the
 * response cannot be completed, the connection must close.
 */
int http1_response_frame(struct http1_response *f, struct torus_chunk **chunk, unsigned flags);

#endif
