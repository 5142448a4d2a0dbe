/*
 * Compression of PHP responses: the part of the response path
 * (sapi/response.c) that decides a body's content coding when the head is
 * decided, edits the head for it and routes the body through the encoder.
 * It runs on the executor's thread, before any byte reaches the I/O thread.
 *
 * A response is compressed when all of these hold:
 *   - compression is on (--compress) and the request's Accept-Encoding
 *     chooses zstd, br or gzip (net/accept_encoding.h);
 *   - the status allows a body and is not 206;
 *   - the Content-Type is in --compress-types;
 *   - the script set no Content-Encoding (its own, or PHP's
 *     zlib.output_compression) and no "Cache-Control: no-transform";
 *   - the body is at least --compress-min-size bytes, or is streamed
 *     without a Content-Length of the script's (its size is unknown).
 * A response of a compressible type that passes every check but the
 * client's gets "Vary: Accept-Encoding" all the same.
 *
 * Compressing adds Content-Encoding and Vary, drops the script's
 * Content-Length (a buffered response gets the compressed size instead, a
 * streamed one has none) and makes a strong ETag weak. A HEAD gets the
 * head a GET would get, without Content-Length (its compressed size is not
 * known without compressing). A buffered body is compressed in one go at
 * the end; a streamed one as it is written, the encoder flushed at each
 * flush() of the script so that the client can show what it has.
 */
#ifndef TORUS_SAPI_RESPONSE_ENCODING_H
#define TORUS_SAPI_RESPONSE_ENCODING_H

#include <stdbool.h>
#include <stddef.h>

#include "net/content_coding.h"
#include "runtime/config.h"

struct torus_sapi_response;

enum torus_sapi_encoding_state {
    TORUS_SAPI_ENCODING_NONE,      /* the body is sent as the script wrote it */
    TORUS_SAPI_ENCODING_HEAD_ONLY, /* HEAD: the head says compressed; there is no body */
    TORUS_SAPI_ENCODING_BUFFERED,  /* the whole body is compressed at the end */
    TORUS_SAPI_ENCODING_STREAMING, /* the body goes through the encoder as it is written */
};

struct torus_sapi_encoding {
    const struct torus_compression *settings; /* NULL: never compress */
    enum torus_sapi_encoding_state state;
    enum torus_coding coding;
    struct torus_encoder encoder;       /* kept from one response to the next */
    struct torus_coding_buffer scratch; /* the body on its way through the encoder */
};

/* Appends encoded body bytes to the response's pending body (response.c's). */
typedef int (*torus_sapi_body_sink)(void *response, const char *data, size_t len);

/* Zeroes the state; compression stays off until settings are given. */
void torus_sapi_encoding_init(struct torus_sapi_encoding *encoding);

/* Frees the encoder and the scratch buffer. */
void torus_sapi_encoding_free(struct torus_sapi_encoding *encoding);

/* Makes the next response start uncompressed and undecided. */
void torus_sapi_encoding_reset(struct torus_sapi_encoding *encoding);

/*
 * Decides the response's coding as its head is about to be written
 * (`streaming`: the body has not ended) and edits its header list for it.
 * A buffered body is compressed at once: the pending body is replaced by
 * its encoding through `sink` (response->pending is then its size). A
 * streamed body's pending bytes go into the encoder and are flushed
 * through `sink`. True when the body is encoded (or, for HEAD, would be);
 * on a failure (out of memory) the response goes out uncompressed, or with
 * response->out_of_memory set when its body is already lost.
 */
bool torus_sapi_encoding_decide(struct torus_sapi_response *response, bool streaming,
                                torus_sapi_body_sink sink);

/* Encodes streamed body bytes into `sink`. TORUS_OK or TORUS_ERROR. */
int torus_sapi_encoding_write(struct torus_sapi_response *response, const char *data, size_t len,
                              torus_sapi_body_sink sink);

/* The script flushed: everything it wrote so far goes to `sink`, decodable. */
int torus_sapi_encoding_flush(struct torus_sapi_response *response, torus_sapi_body_sink sink);

/* The streamed body ends: the encoder's last bytes go to `sink`. */
int torus_sapi_encoding_end(struct torus_sapi_response *response, torus_sapi_body_sink sink);

/* True while the body goes through the encoder as it is written. */
static inline bool torus_sapi_encoding_streaming(const struct torus_sapi_encoding *encoding)
{
    return encoding->state == TORUS_SAPI_ENCODING_STREAMING;
}

#endif
