/*
 * The encoder (net/content_coding.c): for each coding, a body written in
 * pieces with flushes between them decodes to the same bytes with the
 * libraries' own decoders; what a flush emitted decodes on its own to
 * everything written before it; one encoder serves several bodies in turn.
 */
#include "net/content_coding.c"

#include <brotli/decode.h>
#include <stdio.h>

#include "check.h"

/* Decodes what an encoder produced so far (a complete body or up to a flush). */
static int decode(enum torus_coding coding, const char *in, size_t in_len,
                  struct torus_coding_buffer *out)
{
    char buf[16384];
    out->len = 0;
    if (coding == TORUS_CODING_GZIP) {
        z_stream z;
        memset(&z, 0, sizeof(z));
        if (inflateInit2(&z, 15 + 16) != Z_OK)
            return -1;
        z.next_in = (Bytef *)in;
        z.avail_in = (uInt)in_len;
        int rc;
        do {
            z.next_out = (Bytef *)buf;
            z.avail_out = sizeof(buf);
            rc = inflate(&z, Z_SYNC_FLUSH);
            torus_coding_buffer_append(out, buf, sizeof(buf) - z.avail_out);
        } while (rc == Z_OK && (z.avail_in > 0 || z.avail_out == 0));
        inflateEnd(&z);
        return rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR ? 0 : -1;
    }
    if (coding == TORUS_CODING_BR) {
        BrotliDecoderState *s = BrotliDecoderCreateInstance(NULL, NULL, NULL);
        const uint8_t *next_in = (const uint8_t *)in;
        size_t avail_in = in_len;
        BrotliDecoderResult r;
        do {
            uint8_t *next_out = (uint8_t *)buf;
            size_t avail_out = sizeof(buf);
            r = BrotliDecoderDecompressStream(s, &avail_in, &next_in, &avail_out, &next_out, NULL);
            torus_coding_buffer_append(out, buf, sizeof(buf) - avail_out);
        } while (r == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT);
        BrotliDecoderDestroyInstance(s);
        return r == BROTLI_DECODER_RESULT_ERROR ? -1 : 0;
    }
    ZSTD_DStream *d = ZSTD_createDStream();
    ZSTD_inBuffer zin = {in, in_len, 0};
    size_t rc;
    do {
        ZSTD_outBuffer zout = {buf, sizeof(buf), 0};
        rc = ZSTD_decompressStream(d, &zout, &zin);
        if (ZSTD_isError(rc))
            break;
        torus_coding_buffer_append(out, buf, zout.pos);
        if (zout.pos < sizeof(buf) && zin.pos == zin.size)
            break;
    } while (1);
    ZSTD_freeDStream(d);
    return ZSTD_isError(rc) ? -1 : 0;
}

/* A body that compresses, but not trivially. */
static void make_body(char *body, size_t len, unsigned seed)
{
    static const char *const words[] = {"<div class=\"item\">",
                                        "torus ",
                                        "compress ",
                                        "</div>\n",
                                        "lorem ",
                                        "ipsum ",
                                        "<span>",
                                        "</span>"};
    size_t i = 0;
    while (i < len) {
        seed = seed * 1103515245u + 12345u;
        const char *w = words[(seed >> 16) % 8];
        for (; *w && i < len; w++)
            body[i++] = *w;
        if (i < len && (seed & 0x100))
            body[i++] = (char)('a' + (seed >> 20) % 26);
    }
}

static void round_trip(enum torus_coding coding, int level, struct torus_encoder *e)
{
    size_t len = 300000;
    char *body = malloc(len);
    make_body(body, len, (unsigned)coding * 7u + (unsigned)level);
    struct torus_coding_buffer encoded = {0}, decoded = {0};

    CHECK(torus_encoder_begin(e, coding, level, 0) == TORUS_OK);
    /* A first part, flushed: it decodes alone to exactly what was written. */
    CHECK(torus_encoder_write(e, body, 1000, torus_coding_buffer_append, &encoded) == TORUS_OK);
    CHECK(torus_encoder_flush(e, torus_coding_buffer_append, &encoded) == TORUS_OK);
    CHECK(encoded.len > 0 && encoded.len < 1000);
    CHECK(decode(coding, encoded.data, encoded.len, &decoded) == 0);
    CHECK(decoded.len == 1000 && memcmp(decoded.data, body, 1000) == 0);
    /* Two flushes in a row, then the rest in odd pieces. */
    CHECK(torus_encoder_flush(e, torus_coding_buffer_append, &encoded) == TORUS_OK);
    size_t at = 1000;
    for (size_t piece = 1; at < len; piece = piece * 3 + 7) {
        size_t n = TORUS_MIN(piece, len - at);
        CHECK(torus_encoder_write(e, body + at, n, torus_coding_buffer_append, &encoded) ==
              TORUS_OK);
        at += n;
        if (piece % 2)
            CHECK(torus_encoder_flush(e, torus_coding_buffer_append, &encoded) == TORUS_OK);
    }
    CHECK(torus_encoder_end(e, torus_coding_buffer_append, &encoded) == TORUS_OK);
    CHECK(e->state == TORUS_ENCODER_IDLE);
    CHECK(encoded.len < len / 2);
    CHECK(decode(coding, encoded.data, encoded.len, &decoded) == 0);
    CHECK(decoded.len == len && memcmp(decoded.data, body, len) == 0);

    /* An empty body is a valid, empty stream. */
    encoded.len = 0;
    CHECK(torus_encoder_begin(e, coding, level, 0) == TORUS_OK);
    CHECK(torus_encoder_end(e, torus_coding_buffer_append, &encoded) == TORUS_OK);
    CHECK(encoded.len > 0);
    CHECK(decode(coding, encoded.data, encoded.len, &decoded) == 0 && decoded.len == 0);

    /* An abandoned body leaves the encoder ready for the next. */
    CHECK(torus_encoder_begin(e, coding, level, len) == TORUS_OK);
    CHECK(torus_encoder_write(e, body, 5000, torus_coding_buffer_append, &encoded) == TORUS_OK);
    CHECK(torus_encoder_end(e, NULL, NULL) == TORUS_OK);
    encoded.len = 0;
    CHECK(torus_encoder_begin(e, coding, level, 5000) == TORUS_OK);
    CHECK(torus_encoder_write(e, body, 5000, torus_coding_buffer_append, &encoded) == TORUS_OK);
    CHECK(torus_encoder_end(e, torus_coding_buffer_append, &encoded) == TORUS_OK);
    CHECK(decode(coding, encoded.data, encoded.len, &decoded) == 0);
    CHECK(decoded.len == 5000 && memcmp(decoded.data, body, 5000) == 0);

    free(body);
    free(encoded.data);
    free(decoded.data);
}

static int failing_sink(void *ctx, const char *data, size_t len)
{
    (void)ctx;
    (void)data;
    (void)len;
    return TORUS_ERROR;
}

int main(void)
{
    struct torus_encoder e;
    torus_encoder_init(&e);
    round_trip(TORUS_CODING_GZIP, 5, &e);
    round_trip(TORUS_CODING_GZIP, 1, &e); /* another level: the stream is set up again */
    round_trip(TORUS_CODING_BR, 4, &e);
    round_trip(TORUS_CODING_BR, 4, &e); /* brotli's blocks come from the spare list */
    round_trip(TORUS_CODING_BR, 11, &e);
    round_trip(TORUS_CODING_ZSTD, 3, &e);
    round_trip(TORUS_CODING_ZSTD, 19, &e);

    /* Brotli in the steady state: its blocks all come from the spares. */
    struct torus_coding_buffer out = {0};
    for (int level = 3; level <= 5; level++) {
        uint64_t fresh = 0;
        for (int round = 0; round < 3; round++) {
            fresh = e.fresh_blocks;
            char text[8000];
            make_body(text, sizeof(text), (unsigned)round);
            out.len = 0;
            CHECK(torus_encoder_begin(&e, TORUS_CODING_BR, level, sizeof(text)) == TORUS_OK);
            CHECK(torus_encoder_write(&e, text, sizeof(text), torus_coding_buffer_append, &out) ==
                  TORUS_OK);
            CHECK(torus_encoder_end(&e, torus_coding_buffer_append, &out) == TORUS_OK);
        }
        CHECK(e.fresh_blocks == fresh);
    }
    free(out.data);

    /* A sink that fails stops the encoder; it can begin again. */
    char body[4096];
    make_body(body, sizeof(body), 1);
    CHECK(torus_encoder_begin(&e, TORUS_CODING_GZIP, 5, 0) == TORUS_OK);
    int wrote = torus_encoder_write(&e, body, sizeof(body), failing_sink, NULL);
    int ended = torus_encoder_end(&e, failing_sink, NULL);
    CHECK(wrote == TORUS_ERROR || ended == TORUS_ERROR);
    CHECK(e.state == TORUS_ENCODER_IDLE);
    CHECK(torus_encoder_write(&e, body, 1, failing_sink, NULL) == TORUS_ERROR);
    CHECK(torus_encoder_begin(&e, TORUS_CODING_GZIP, 5, 0) == TORUS_OK);
    CHECK(torus_encoder_end(&e, NULL, NULL) == TORUS_OK);
    /* Identity is not a coding to encode with. */
    CHECK(torus_encoder_begin(&e, TORUS_CODING_IDENTITY, 0, 0) == TORUS_ERROR);
    torus_encoder_free(&e);

    printf("test_content_coding: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
