/*
 * libFuzzer target for request parsing: net/http.c on arbitrary bytes, and
 * net/route.c's torus_path_normalize() on every request target it yields.
 *
 * An input is a few control bytes followed by the bytes a client sends:
 *
 *   byte 0      flags: which limits, body mode, whether the header table is
 *               dropped after each head (torus_http_head_done) and whether
 *               torus_http_idle() runs between requests
 *   bytes 1-4   two split points (little-endian 16-bit, modulo the length)
 *   the rest    the stream
 *
 * The stream is cut at the split points into up to three reads, each copied
 * into a buffer of exactly its size (so AddressSanitizer sees any read past
 * it), and handled the way net/loop.c handles a connection: parse straight
 * from the read's buffer, keep an unfinished head and unparsed bytes by
 * copying them into a new buffer and calling torus_http_rebase(), free the
 * old buffer, append the next read behind what was kept. A field pointer left
 * behind in a freed buffer is then a use-after-free the fuzzer reports.
 *
 * Besides memory errors, the target aborts when the parser breaks its
 * contract: consuming more than it was given, TORUS_AGAIN without consuming
 * everything, a failure status outside the documented set, a body over the
 * limit, no progress over several calls; and when normalisation returns a
 * path that is not normal (no leading '/', an empty, "." or ".." segment, a
 * length that disagrees with the string) or that normalises to something
 * else a second time.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/http.h"
#include "net/route.h"

static const struct torus_http_limits limit_sets[2] = {
    {.max_uri_size = 8 << 10, .max_header_size = 32 << 10, .max_body_size = 1 << 20},
    {.max_uri_size = 24, .max_header_size = 256, .max_body_size = 64},
};

#define FLAG_SMALL_LIMITS 0x01
#define FLAG_BUFFER_BODY  0x02
#define FLAG_HEAD_DONE    0x04
#define FLAG_IDLE         0x08
#define CONTROL_BYTES     5

struct conn {
    struct torus_http_parser parser;
    const struct torus_http_limits *limits;
    uint8_t flags;
    char *in; /* kept bytes: an unfinished head and what follows it */
    size_t in_len, in_parsed;
    bool done;
    uint32_t sink; /* a sum of bytes read through the parser's pointers */
};

#define REQUIRE(condition)                                                                         \
    do {                                                                                           \
        if (!(condition)) {                                                                        \
            fprintf(stderr, "fuzz_http: %s:%d: %s\n", __FILE__, __LINE__, #condition);             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Reads every byte of s, so a stale pointer is a use-after-free right here. */
static void touch(struct conn *c, torus_str s)
{
    for (size_t i = 0; i < s.len; i++)
        c->sink += (unsigned char)s.data[i];
}

static bool has_segment(const char *path, size_t len, const char *segment)
{
    size_t n = strlen(segment);
    for (size_t i = 0; i + n + 1 <= len; i++) {
        if (path[i] == '/' && memcmp(path + i + 1, segment, n) == 0 &&
            (i + 1 + n == len || path[i + 1 + n] == '/'))
            return true;
    }
    return false;
}

static void check_normalized(const char *target, size_t target_len)
{
    char path[512];
    size_t path_len = SIZE_MAX, query_len = SIZE_MAX;
    const char *query = NULL;
    if (torus_path_normalize(target, target_len, path, sizeof(path), &path_len, &query,
                             &query_len) != TORUS_OK)
        return;
    REQUIRE(path_len < sizeof(path));
    REQUIRE(path_len == strlen(path));
    REQUIRE(path[0] == '/');
    REQUIRE(strstr(path, "//") == NULL);
    REQUIRE(!has_segment(path, path_len, "."));
    REQUIRE(!has_segment(path, path_len, ".."));
    REQUIRE(query && query >= target && query + query_len <= target + target_len);

    /* Normal is a fixed point (when decoding it again cannot change it). */
    if (!memchr(path, '%', path_len) && !memchr(path, '?', path_len) &&
        !memchr(path, '#', path_len)) {
        char again[512];
        size_t again_len = 0, again_query_len = 0;
        const char *again_query = NULL;
        REQUIRE(torus_path_normalize(path, path_len, again, sizeof(again), &again_len, &again_query,
                                     &again_query_len) == TORUS_OK);
        REQUIRE(again_len == path_len && memcmp(again, path, path_len) == 0);
    }
}

static void on_head(struct conn *c)
{
    struct torus_http_parser *p = &c->parser;
    REQUIRE(torus_http_in_request(p) && !torus_http_in_head(p));
    REQUIRE(p->headers != NULL && p->header_count <= TORUS_HTTP_MAX_HEADERS);
    REQUIRE(p->url.len <= c->limits->max_uri_size);
    touch(c, p->url);
    for (uint32_t i = 0; i < p->header_count; i++) {
        touch(c, p->headers[i].name);
        touch(c, p->headers[i].value);
    }
    const char *method = torus_http_method(p);
    REQUIRE(method != NULL);
    c->sink += (uint32_t)strlen(method) + torus_http_minor(p) + torus_http_keep_alive(p);
    const torus_str *host = torus_http_header(p, "host");
    if (host)
        touch(c, *host);

    check_normalized(p->url.data, p->url.len);

    enum torus_http_body_mode mode =
        (c->flags & FLAG_BUFFER_BODY) ? TORUS_BODY_BUFFER : TORUS_BODY_DISCARD;
    if (torus_http_set_body_mode(p, mode) != TORUS_OK) {
        REQUIRE(p->error_status == 413 || p->error_status == 500);
        c->done = true;
        return;
    }
    if (c->flags & FLAG_HEAD_DONE)
        torus_http_head_done(p);
}

static void on_message(struct conn *c)
{
    struct torus_http_parser *p = &c->parser;
    REQUIRE(p->body_len <= c->limits->max_body_size);
    size_t len = 0;
    char *body = torus_http_take_body(p, &len);
    if (c->flags & FLAG_BUFFER_BODY) {
        REQUIRE(len <= c->limits->max_body_size);
        REQUIRE(len == 0 || body != NULL);
        touch(c, (torus_str){body, body ? len : 0});
    } else {
        REQUIRE(body == NULL);
    }
    free(body);
}

/* net/loop.c's parse_bytes(). */
static size_t parse_bytes(struct conn *c, const char *data, size_t len)
{
    size_t done = 0;
    int idle_calls = 0;
    while (!c->done) {
        struct torus_http_parser *p = &c->parser;
        if (done == len && !(torus_http_in_request(p) && !torus_http_in_head(p)))
            break;
        size_t used = SIZE_MAX;
        int result = torus_http_execute(p, data + done, len - done, &used);
        REQUIRE(used <= len - done);
        done += used;
        /* HEAD then MESSAGE may each take no bytes; anything more is a loop that never ends. */
        idle_calls = used ? 0 : idle_calls + 1;
        REQUIRE(idle_calls <= 3);
        switch (result) {
        case TORUS_AGAIN:
            REQUIRE(done == len);
            return done;
        case TORUS_HTTP_HEAD:
            on_head(c);
            break;
        case TORUS_HTTP_MESSAGE:
            on_message(c);
            if ((c->flags & FLAG_IDLE) && !torus_http_in_request(p))
                torus_http_idle(p);
            break;
        case TORUS_HTTP_FAILED: {
            int s = p->error_status;
            REQUIRE(s == 400 || s == 413 || s == 414 || s == 417 || s == 431 || s == 500 ||
                    s == 501 || s == 505);
            REQUIRE(p->error_reason != NULL);
            c->done = true;
            return len;
        }
        default:
            REQUIRE(!"unknown result");
        }
    }
    return done;
}

/* Replaces c->in with a new buffer holding [from, from + len). */
static void keep(struct conn *c, const char *from, size_t len, size_t parsed)
{
    struct torus_http_parser *p = &c->parser;
    char *fresh = len ? malloc(len) : NULL;
    if (len) {
        REQUIRE(fresh != NULL);
        memcpy(fresh, from, len);
        if (torus_http_in_head(p) && from == p->head_start)
            torus_http_rebase(p, fresh - from);
    }
    free(c->in);
    c->in = fresh;
    c->in_len = len;
    c->in_parsed = parsed;
}

/* net/loop.c's keep_rest(). */
static void keep_rest(struct conn *c, const char *data, size_t len, size_t done)
{
    struct torus_http_parser *p = &c->parser;
    const char *from = data + done;
    if (torus_http_in_head(p)) {
        /* The head must be in this buffer: it is always kept contiguous. */
        REQUIRE(p->head_start >= data && p->head_start <= data + done);
        from = p->head_start;
    }
    keep(c, from, (size_t)(data + len - from), (size_t)(data + done - from));
}

/* net/loop.c's on_data(). */
static void on_data(struct conn *c, const char *bytes, size_t len)
{
    if (c->done || len == 0)
        return;
    char *data = malloc(len);
    REQUIRE(data != NULL);
    memcpy(data, bytes, len);
    if (c->in_len == 0) {
        size_t done = parse_bytes(c, data, len);
        if (!c->done)
            keep_rest(c, data, len, done);
    } else {
        char *grown = malloc(c->in_len + len);
        REQUIRE(grown != NULL);
        memcpy(grown, c->in, c->in_len);
        memcpy(grown + c->in_len, data, len);
        if (torus_http_in_head(&c->parser))
            torus_http_rebase(&c->parser, grown - c->in);
        free(c->in);
        c->in = grown;
        c->in_len += len;
        size_t done = c->in_parsed + parse_bytes(c, c->in + c->in_parsed, c->in_len - c->in_parsed);
        if (!c->done)
            keep_rest(c, c->in, c->in_len, done);
    }
    free(data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < CONTROL_BYTES)
        return 0;
    static struct conn c;
    memset(&c, 0, sizeof(c));
    c.flags = data[0];
    c.limits = &limit_sets[c.flags & FLAG_SMALL_LIMITS];
    torus_http_init(&c.parser, c.limits);

    const char *stream = (const char *)data + CONTROL_BYTES;
    size_t len = size - CONTROL_BYTES;
    size_t cut1 = len ? (size_t)(data[1] | data[2] << 8) % (len + 1) : 0;
    size_t cut2 = len ? (size_t)(data[3] | data[4] << 8) % (len + 1) : 0;
    if (cut2 < cut1) {
        size_t t = cut1;
        cut1 = cut2;
        cut2 = t;
    }
    on_data(&c, stream, cut1);
    on_data(&c, stream + cut1, cut2 - cut1);
    on_data(&c, stream + cut2, len - cut2);

    /* A raw target straight from the input, whatever the parser made of it. */
    check_normalized(stream, TORUS_MIN(len, (size_t)300));

    free(c.in);
    torus_http_release(&c.parser);
    return 0;
}
