/*
 * The three encoders behind one interface.
 *
 * Each library is driven the same way: input is offered, and output is
 * drained through the staging buffer `out` into the sink until the library
 * has taken all the input (write), emitted a complete block (flush), or
 * finished its frame (end).
 *
 * Brotli's allocation cache: brotli takes its memory through our
 * allocator, which puts the block's capacity in a 16-byte prefix. A block
 * freed (by one instance, or by the same one as it goes) is kept, up to
 * TORUS_ENCODER_SPARE_BLOCKS of them, and given back for the next request
 * it can hold (the smallest such block): bodies of one level ask for the
 * same sizes again, so the steady state allocates nothing.
 */
#include "net/content_coding.h"

#include <brotli/encode.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "runtime/common.h"

/*
 * zstd's and brotli's window: 256 KB (2^18). Their defaults (2 and 4 MB at
 * the levels Torus uses) compress response bodies of up to 256 KB to the
 * same bytes but make each executor keep 3.7 MB (zstd) and 9.3 MB (brotli)
 * after one large body; with this window it keeps 1.8 and 1.5 MB.
 */
#define WINDOW_LOG 18

/* Bytes in front of each brotli block: its size, keeping 16-byte alignment. */
#define BLOCK_PREFIX 16

void torus_encoder_init(struct torus_encoder *e)
{
    memset(e, 0, sizeof(*e));
    e->state = TORUS_ENCODER_IDLE;
}

int torus_coding_buffer_append(void *ctx, const char *data, size_t len)
{
    struct torus_coding_buffer *b = ctx;
    if (b->len + len > b->capacity) {
        size_t capacity = b->capacity ? b->capacity : 16384;
        while (capacity < b->len + len)
            capacity *= 2;
        char *grown = realloc(b->data, capacity);
        if (slow_path(!grown))
            return TORUS_ERROR;
        b->data = grown;
        b->capacity = capacity;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return TORUS_OK;
}

static void *brotli_alloc(void *opaque, size_t size)
{
    struct torus_encoder *e = opaque;
    /* Best fit among the spare blocks: the smallest that holds `size`. */
    int best = -1;
    for (int i = 0; i < TORUS_ENCODER_SPARE_BLOCKS; i++) {
        if (e->spare[i].block && e->spare[i].size >= size &&
            (best < 0 || e->spare[i].size < e->spare[best].size))
            best = i;
    }
    if (best >= 0) {
        char *block = e->spare[best].block;
        e->spare[best].block = NULL;
        return block + BLOCK_PREFIX;
    }
    char *block = malloc(size + BLOCK_PREFIX);
    if (slow_path(!block))
        return NULL;
    memcpy(block, &size, sizeof(size)); /* its capacity, for brotli_free */
    e->fresh_blocks++;
    return block + BLOCK_PREFIX;
}

static void brotli_free(void *opaque, void *address)
{
    struct torus_encoder *e = opaque;
    if (!address)
        return;
    char *block = (char *)address - BLOCK_PREFIX;
    size_t size;
    memcpy(&size, block, sizeof(size));
    /* Kept in a free slot, or in place of a smaller spare block (which is freed). */
    int slot = -1;
    for (int i = 0; i < TORUS_ENCODER_SPARE_BLOCKS && (slot < 0 || e->spare[slot].block); i++) {
        if (!e->spare[i].block ||
            (e->spare[i].size < size && (slot < 0 || e->spare[i].size < e->spare[slot].size)))
            slot = i;
    }
    if (slot < 0) {
        free(block);
        return;
    }
    free(e->spare[slot].block);
    e->spare[slot].block = block;
    e->spare[slot].size = size;
}

static void brotli_drop(struct torus_encoder *e)
{
    if (e->brotli)
        BrotliEncoderDestroyInstance(e->brotli);
    e->brotli = NULL;
}

void torus_encoder_free(struct torus_encoder *e)
{
    brotli_drop(e);
    if (e->zlib) {
        deflateEnd(e->zlib);
        free(e->zlib);
    }
    if (e->zstd)
        ZSTD_freeCCtx(e->zstd);
    for (int i = 0; i < TORUS_ENCODER_SPARE_BLOCKS; i++)
        free(e->spare[i].block);
    free(e->out);
    torus_encoder_init(e);
}

static int zlib_begin(struct torus_encoder *e, int level)
{
    z_stream *z = e->zlib;
    if (z && e->zlib_level == level)
        return deflateReset(z) == Z_OK ? TORUS_OK : TORUS_ERROR;
    if (z) {
        deflateEnd(z);
    } else {
        z = malloc(sizeof(*z));
        if (slow_path(!z))
            return TORUS_ERROR;
        e->zlib = z;
    }
    memset(z, 0, sizeof(*z));
    /* windowBits 15 + 16: a gzip header and trailer around the deflate stream. */
    if (slow_path(deflateInit2(z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)) {
        free(z);
        e->zlib = NULL;
        return TORUS_ERROR;
    }
    e->zlib_level = level;
    return TORUS_OK;
}

static int zstd_begin(struct torus_encoder *e, int level)
{
    if (!e->zstd) {
        e->zstd = ZSTD_createCCtx();
        if (slow_path(!e->zstd))
            return TORUS_ERROR;
    }
    if (ZSTD_isError(ZSTD_CCtx_reset(e->zstd, ZSTD_reset_session_only)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(e->zstd, ZSTD_c_compressionLevel, level)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(e->zstd, ZSTD_c_windowLog, WINDOW_LOG)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(e->zstd, ZSTD_c_checksumFlag, 0)))
        return TORUS_ERROR;
    return TORUS_OK;
}

static int brotli_begin(struct torus_encoder *e, int level, uint64_t size_hint)
{
    brotli_drop(e);
    e->brotli = BrotliEncoderCreateInstance(brotli_alloc, brotli_free, e);
    if (slow_path(!e->brotli))
        return TORUS_ERROR;
    BrotliEncoderSetParameter(e->brotli, BROTLI_PARAM_QUALITY, (uint32_t)level);
    BrotliEncoderSetParameter(e->brotli, BROTLI_PARAM_LGWIN, WINDOW_LOG);
    if (size_hint)
        BrotliEncoderSetParameter(e->brotli, BROTLI_PARAM_SIZE_HINT,
                                  (uint32_t)TORUS_MIN(size_hint, (uint64_t)1 << 30));
    return TORUS_OK;
}

int torus_encoder_begin(struct torus_encoder *e, enum torus_coding coding, int level,
                        uint64_t size_hint)
{
    e->state = TORUS_ENCODER_FAILED;
    e->coding = coding;
    e->level = level;
    if (!e->out) {
        e->out = malloc(TORUS_ENCODER_OUT);
        if (slow_path(!e->out))
            return TORUS_ERROR;
    }
    int rc;
    switch (coding) {
    case TORUS_CODING_GZIP:
        rc = zlib_begin(e, level);
        break;
    case TORUS_CODING_ZSTD:
        rc = zstd_begin(e, level);
        break;
    case TORUS_CODING_BR:
        rc = brotli_begin(e, level, size_hint);
        break;
    default:
        rc = TORUS_ERROR;
        break;
    }
    if (rc == TORUS_OK)
        e->state = TORUS_ENCODER_ACTIVE;
    return rc;
}

/* Hands `produced` bytes of the staging buffer to the sink (none when it is NULL). */
static int deliver(struct torus_encoder *e, size_t produced, torus_coding_sink sink, void *ctx)
{
    if (produced == 0 || !sink)
        return TORUS_OK;
    return sink(ctx, e->out, produced);
}

/* What the libraries are asked to do with the input. */
enum encode_mode { MODE_CONTINUE, MODE_FLUSH, MODE_FINISH };

static int zlib_run(struct torus_encoder *e, const void *data, size_t len, enum encode_mode mode,
                    torus_coding_sink sink, void *ctx)
{
    z_stream *z = e->zlib;
    int flush = mode == MODE_CONTINUE ? Z_NO_FLUSH : mode == MODE_FLUSH ? Z_SYNC_FLUSH : Z_FINISH;
    z->next_in = (Bytef *)data;
    z->avail_in = (uInt)len;
    for (;;) {
        z->next_out = (Bytef *)e->out;
        z->avail_out = TORUS_ENCODER_OUT;
        int rc = deflate(z, flush);
        if (slow_path(rc == Z_STREAM_ERROR))
            return TORUS_ERROR;
        if (deliver(e, TORUS_ENCODER_OUT - z->avail_out, sink, ctx) != TORUS_OK)
            return TORUS_ERROR;
        if (mode == MODE_FINISH ? rc == Z_STREAM_END : z->avail_in == 0 && z->avail_out != 0)
            return TORUS_OK;
    }
}

static int brotli_run(struct torus_encoder *e, const void *data, size_t len, enum encode_mode mode,
                      torus_coding_sink sink, void *ctx)
{
    BrotliEncoderOperation op = mode == MODE_CONTINUE ? BROTLI_OPERATION_PROCESS
                                : mode == MODE_FLUSH  ? BROTLI_OPERATION_FLUSH
                                                      : BROTLI_OPERATION_FINISH;
    const uint8_t *next_in = data;
    size_t avail_in = len;
    for (;;) {
        uint8_t *next_out = (uint8_t *)e->out;
        size_t avail_out = TORUS_ENCODER_OUT;
        if (slow_path(!BrotliEncoderCompressStream(e->brotli, op, &avail_in, &next_in, &avail_out,
                                                   &next_out, NULL)))
            return TORUS_ERROR;
        if (deliver(e, TORUS_ENCODER_OUT - avail_out, sink, ctx) != TORUS_OK)
            return TORUS_ERROR;
        if (mode == MODE_FINISH ? BrotliEncoderIsFinished(e->brotli)
                                : avail_in == 0 && !BrotliEncoderHasMoreOutput(e->brotli))
            return TORUS_OK;
    }
}

static int zstd_run(struct torus_encoder *e, const void *data, size_t len, enum encode_mode mode,
                    torus_coding_sink sink, void *ctx)
{
    ZSTD_EndDirective directive = mode == MODE_CONTINUE ? ZSTD_e_continue
                                  : mode == MODE_FLUSH  ? ZSTD_e_flush
                                                        : ZSTD_e_end;
    ZSTD_inBuffer in = {data, len, 0};
    for (;;) {
        ZSTD_outBuffer out = {e->out, TORUS_ENCODER_OUT, 0};
        size_t remaining = ZSTD_compressStream2(e->zstd, &out, &in, directive);
        if (slow_path(ZSTD_isError(remaining)))
            return TORUS_ERROR;
        if (deliver(e, out.pos, sink, ctx) != TORUS_OK)
            return TORUS_ERROR;
        if (mode == MODE_CONTINUE ? in.pos == in.size : remaining == 0)
            return TORUS_OK;
    }
}

static int run(struct torus_encoder *e, const void *data, size_t len, enum encode_mode mode,
               torus_coding_sink sink, void *ctx)
{
    if (slow_path(e->state != TORUS_ENCODER_ACTIVE))
        return TORUS_ERROR;
    int rc;
    switch (e->coding) {
    case TORUS_CODING_GZIP:
        rc = zlib_run(e, data, len, mode, sink, ctx);
        break;
    case TORUS_CODING_BR:
        rc = brotli_run(e, data, len, mode, sink, ctx);
        break;
    case TORUS_CODING_ZSTD:
        rc = zstd_run(e, data, len, mode, sink, ctx);
        break;
    default:
        rc = TORUS_ERROR;
        break;
    }
    if (slow_path(rc != TORUS_OK))
        e->state = TORUS_ENCODER_FAILED;
    return rc;
}

int torus_encoder_write(struct torus_encoder *e, const void *data, size_t len,
                        torus_coding_sink sink, void *ctx)
{
    if (len == 0)
        return e->state == TORUS_ENCODER_ACTIVE ? TORUS_OK : TORUS_ERROR;
    return run(e, data, len, MODE_CONTINUE, sink, ctx);
}

int torus_encoder_flush(struct torus_encoder *e, torus_coding_sink sink, void *ctx)
{
    return run(e, NULL, 0, MODE_FLUSH, sink, ctx);
}

int torus_encoder_end(struct torus_encoder *e, torus_coding_sink sink, void *ctx)
{
    int rc = TORUS_OK;
    if (sink && e->state == TORUS_ENCODER_ACTIVE)
        rc = run(e, NULL, 0, MODE_FINISH, sink, ctx);
    else if (sink)
        rc = TORUS_ERROR;
    if (e->coding == TORUS_CODING_BR)
        brotli_drop(e); /* its blocks go to the spare list for the next body */
    e->state = TORUS_ENCODER_IDLE;
    return rc;
}
