/*
 * For the tests that play the executor's port without a network: a part an
 * executor emits, copied into a chunk with the room the real port leaves
 * around it (runtime/response_head.h) and framed by the HTTP/1.1 session's
 * framing (net/http1_response.c), as a client would receive it.
 */
#ifndef TORUS_TEST_HTTP1_CAPTURE_H
#define TORUS_TEST_HTTP1_CAPTURE_H

#include <stdlib.h>
#include <string.h>

#include "net/http1_response.h"
#include "runtime/request.h"
#include "runtime/response_head.h"

/*
 * Frames one emitted part with f and appends the resulting bytes to *bytes
 * (*len of them, realloc'd, NUL-terminated). Returns false when the framing
 * failed. After an END part, f->keep_alive says whether the connection stays.
 */
static inline bool http1_capture(struct http1_response *f, const char *data, size_t len,
                                 unsigned flags, char **bytes, size_t *total)
{
    struct torus_chunk *chunk = NULL;
    if (len) {
        size_t front =
            (flags & TORUS_EMIT_HEAD) ? TORUS_RESPONSE_FRONT_ROOM : TORUS_RESPONSE_BODY_FRONT_ROOM;
        chunk = torus_chunk_new(front + len + TORUS_RESPONSE_TAIL_ROOM);
        if (!chunk)
            abort();
        memcpy(chunk->data + front, data, len);
        chunk->sent = (uint32_t)front;
        chunk->len = (uint32_t)(front + len);
    }
    bool ok = http1_response_frame(f, &chunk, flags) == TORUS_OK;
    size_t n = chunk ? chunk->len - chunk->sent : 0;
    char *grown = realloc(*bytes, *total + n + 1);
    if (!grown)
        abort();
    *bytes = grown;
    if (n)
        memcpy(grown + *total, chunk->data + chunk->sent, n);
    torus_chunk_free(chunk);
    *total += n;
    grown[*total] = '\0';
    return ok;
}

#endif
