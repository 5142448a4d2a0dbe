/*
 * One streaming encoder over zstd, brotli and gzip (zlib), for response
 * bodies: begin(coding, level), write, flush, end, its output handed to the
 * caller's sink in pieces as it is produced.
 *
 * An encoder is meant to live as long as its thread (one per PHP executor)
 * and encode one body after another: zlib's stream and zstd's context are
 * reset between bodies, not freed, and brotli (which has no reset) gets its
 * memory from a small cache of the blocks its previous instance freed, so
 * that encoding a body allocates nothing once the first one of its coding
 * and level has been encoded.
 *
 * zstd and brotli use a 256 KB window, so that what an encoder keeps
 * between bodies stays under 2 MB per coding.
 *
 * flush() ends the current block so that a client can decode everything
 * written so far (Z_SYNC_FLUSH, BROTLI_OPERATION_FLUSH, ZSTD_e_flush):
 * a streamed response stays streaming. Not thread-safe: one thread per
 * encoder.
 */
#ifndef TORUS_CONTENT_CODING_H
#define TORUS_CONTENT_CODING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/accept_encoding.h"

/* Levels each library accepts. */
#define TORUS_ZSTD_LEVEL_MIN 1
#define TORUS_ZSTD_LEVEL_MAX 19
#define TORUS_BR_LEVEL_MIN   0
#define TORUS_BR_LEVEL_MAX   11
#define TORUS_GZIP_LEVEL_MIN 1
#define TORUS_GZIP_LEVEL_MAX 9

/* Receives encoded bytes; returns TORUS_OK, or TORUS_ERROR to stop the encoder (out of memory). */
typedef int (*torus_coding_sink)(void *ctx, const char *data, size_t len);

enum torus_encoder_state {
    TORUS_ENCODER_IDLE,   /* between bodies */
    TORUS_ENCODER_ACTIVE, /* begun: write/flush/end accepted */
    TORUS_ENCODER_FAILED, /* a library or the sink failed: only end() or begin() again */
};

/* Blocks brotli freed, kept for its next instance. */
#define TORUS_ENCODER_SPARE_BLOCKS 32

struct torus_encoder {
    enum torus_coding coding;
    enum torus_encoder_state state;
    int level;
    void *zlib;     /* z_stream *, made on first use */
    int zlib_level; /* the level zlib's stream was set up with */
    void *zstd;     /* ZSTD_CCtx *, made on first use */
    void *brotli;   /* BrotliEncoderState *, one per body */
    char *out;      /* output staging buffer, TORUS_ENCODER_OUT bytes */
    struct {
        void *block;
        size_t size;
    } spare[TORUS_ENCODER_SPARE_BLOCKS];
    uint64_t fresh_blocks; /* blocks brotli got from malloc, not from the spares (a statistic) */
};

/* Output is handed to the sink in pieces of at most this many bytes. */
#define TORUS_ENCODER_OUT (32u << 10)

/* A growing buffer of encoded bytes, for a whole body. */
struct torus_coding_buffer {
    char *data; /* malloc'd; the owner frees it */
    size_t len;
    size_t capacity;
};

/* A sink (ctx: struct torus_coding_buffer *) appending to the buffer, grown as needed. */
int torus_coding_buffer_append(void *buffer, const char *data, size_t len);

/* Zeroes an encoder; nothing is allocated before the first begin(). */
void torus_encoder_init(struct torus_encoder *encoder);

/* Frees what the encoder holds; it may be initialised again. */
void torus_encoder_free(struct torus_encoder *encoder);

/*
 * Starts a body in `coding` (not identity) at `level` (within the library's
 * bounds above). `size_hint` is the body's length when known, else 0.
 * TORUS_OK, or TORUS_ERROR when out of memory.
 */
int torus_encoder_begin(struct torus_encoder *encoder, enum torus_coding coding, int level,
                        uint64_t size_hint);

/* Encodes len bytes; whatever output is ready goes to sink. TORUS_OK or TORUS_ERROR. */
int torus_encoder_write(struct torus_encoder *encoder, const void *data, size_t len,
                        torus_coding_sink sink, void *ctx);

/* Emits everything written so far in a decodable form (the stream goes on). */
int torus_encoder_flush(struct torus_encoder *encoder, torus_coding_sink sink, void *ctx);

/*
 * Ends the body: the last bytes (and the format's trailer) go to sink and
 * the encoder is IDLE again. With sink NULL the body is abandoned. TORUS_OK
 * or TORUS_ERROR.
 */
int torus_encoder_end(struct torus_encoder *encoder, torus_coding_sink sink, void *ctx);

#endif
