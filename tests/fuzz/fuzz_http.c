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
 * Differential framing: the stream is also cut into messages by a small,
 * strict reference framer written here from RFC 9112 (request line, headers,
 * Content-Length or chunked with extensions and trailers), independent of
 * llhttp. Wherever the reference is sure, the parser must agree with it:
 * every message the parser completes must be one the reference completes,
 * with the same request target and (when bodies are buffered) the same body.
 * The parser may refuse more (its limits, Host, header syntax), never less:
 * a message the reference calls malformed or incomplete that the parser
 * accepts is how request smuggling starts, and aborts the run. Where the
 * reference does not model the bytes (bare LF, obs-fold, CONNECT...) it says
 * so, and nothing after that point is compared.
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
#include <strings.h>

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

/* What the parser made of the stream: its messages, in order. */
#define MAX_MESSAGES 64
struct seen_message {
    char target[64];
    size_t target_len; /* the whole length; target holds its first bytes */
    uint64_t body_hash;
    size_t body_len;
};

struct conn {
    struct torus_http_parser parser;
    struct seen_message messages[MAX_MESSAGES];
    int message_count;
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

static uint64_t hash_bytes(const char *data, size_t len)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)data[i]) * 1099511628211u;
    return h;
}

/* ------------------------------------------------------------------------ */
/* The reference framer                                                     */

enum ref_end {
    REF_INCOMPLETE, /* the stream ends inside a message (or before any) */
    REF_MALFORMED,  /* a framing error: nothing after it is a message */
    REF_UNKNOWN,    /* bytes the reference does not model: stop comparing */
};

struct ref_result {
    struct seen_message messages[MAX_MESSAGES];
    int count;
    enum ref_end end;
};

static bool ref_is_hex(char c, unsigned *v)
{
    if (c >= '0' && c <= '9')
        *v = (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f')
        *v = (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
        *v = (unsigned)(c - 'A' + 10);
    else
        return false;
    return true;
}

static bool ref_name_is(const char *name, size_t len, const char *literal)
{
    return len == strlen(literal) && strncasecmp(name, literal, len) == 0;
}

/* The end of the line starting at `at` (the CR of its CRLF), or NULL; *bad when a bare CR or LF
 * comes first. */
static const char *ref_line_end(const char *at, const char *end, bool *bad)
{
    for (const char *c = at; c < end; c++) {
        if (*c == '\r') {
            if (c + 1 >= end)
                return NULL;
            if (c[1] != '\n')
                *bad = true;
            return c;
        }
        if (*c == '\n') {
            *bad = true;
            return c;
        }
    }
    return NULL;
}

/* The next line at `at`: its end (the CR of its CRLF), or NULL with r->end set to why not. */
static const char *ref_next_line(const char *at, const char *end, struct ref_result *r)
{
    bool bad = false;
    const char *eol = ref_line_end(at, end, &bad);
    if (!eol)
        r->end = REF_INCOMPLETE;
    else if (bad)
        r->end = REF_UNKNOWN; /* a bare CR or LF */
    return eol && !bad ? eol : NULL;
}

/* Frames one message at *pos; returns false when the stream ends, fails or leaves the model. */
static bool ref_message(const char *s, size_t len, size_t *pos, struct ref_result *r)
{
    const char *end = s + len, *at = s + *pos;
    while (at < end && (*at == '\r' || *at == '\n'))
        at++; /* empty lines before a request line are skipped */
    if (at == end) {
        r->end = REF_INCOMPLETE;
        return false;
    }
    const char *eol = ref_next_line(at, end, r);
    if (!eol)
        return false;
    /* METHOD SP target SP HTTP/1.x */
    const char *sp1 = memchr(at, ' ', (size_t)(eol - at));
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
    if (!sp1 || !sp2 || eol - sp2 != 9 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0 ||
        ref_name_is(at, (size_t)(sp1 - at), "CONNECT")) {
        r->end = REF_UNKNOWN;
        return false;
    }
    struct seen_message *m = &r->messages[r->count];
    memset(m, 0, sizeof(*m));
    m->target_len = (size_t)(sp2 - sp1 - 1);
    memcpy(m->target, sp1 + 1, TORUS_MIN(m->target_len, sizeof(m->target)));

    /* Header fields: only the framing ones matter here. */
    int64_t content_length = -1;
    int lengths = 0;
    bool chunked = false, other_coding = false;
    at = eol + 2;
    for (;;) {
        eol = ref_next_line(at, end, r);
        if (!eol)
            return false;
        if (*at == ' ' || *at == '\t') {
            r->end = REF_UNKNOWN; /* obs-fold */
            return false;
        }
        if (eol == at)
            break;
        const char *colon = memchr(at, ':', (size_t)(eol - at));
        if (!colon) {
            r->end = REF_UNKNOWN;
            return false;
        }
        const char *v = colon + 1, *ve = eol;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        if (ref_name_is(at, (size_t)(colon - at), "content-length")) {
            lengths++;
            int64_t n = 0;
            if (v == ve) {
                r->end = REF_MALFORMED;
                return false;
            }
            for (const char *d = v; d < ve; d++) {
                if (*d < '0' || *d > '9' || n > (INT64_MAX - 9) / 10) {
                    r->end = REF_MALFORMED; /* not a number, or past 63 bits */
                    return false;
                }
                n = n * 10 + (*d - '0'); /* leading zeros are fine, as for nginx */
            }
            content_length = n;
        } else if (ref_name_is(at, (size_t)(colon - at), "transfer-encoding")) {
            if (ref_name_is(v, (size_t)(ve - v), "chunked") && !chunked)
                chunked = true;
            else
                other_coding = true;
        }
        at = eol + 2;
    }
    at += 2; /* the empty line */
    if (lengths > 1) {
        r->end = REF_UNKNOWN; /* equal duplicates are a matter of taste */
        return false;
    }
    if (other_coding || (chunked && lengths)) {
        r->end = REF_MALFORMED; /* both framings at once, or a coding nobody can frame */
        return false;
    }

    uint64_t body_hash = 1469598103934665603u;
    size_t body_len = 0;
    if (chunked) {
        for (;;) {
            uint64_t size = 0;
            const char *c = at;
            unsigned digit;
            while (c < end && ref_is_hex(*c, &digit)) {
                if (size >> 60) {
                    r->end = REF_MALFORMED; /* more than 64 bits */
                    return false;
                }
                size = size << 4 | digit;
                c++;
            }
            if (c == end) {
                r->end = REF_INCOMPLETE;
                return false;
            }
            if (c == at) {
                r->end = REF_MALFORMED;
                return false;
            }
            if (*c == ';') {
                while (c < end && *c != '\r' && *c != '\n')
                    c++; /* a chunk extension */
            }
            if (c == end || (*c == '\r' && c + 1 == end)) {
                r->end = REF_INCOMPLETE;
                return false;
            }
            if (*c != '\r' || c[1] != '\n') {
                r->end = *c == '\n' ? REF_UNKNOWN : REF_MALFORMED;
                return false;
            }
            at = c + 2;
            if (size == 0)
                break;
            if ((uint64_t)(end - at) < 2 || (uint64_t)(end - at) - 2 < size) {
                r->end = REF_INCOMPLETE;
                return false;
            }
            for (uint64_t i = 0; i < size; i++)
                body_hash = (body_hash ^ (unsigned char)at[i]) * 1099511628211u;
            body_len += size;
            at += size;
            if (at[0] != '\r' || at[1] != '\n') {
                r->end = REF_MALFORMED; /* chunk data longer or shorter than its size */
                return false;
            }
            at += 2;
        }
        /* Trailer fields, then the empty line. */
        for (;;) {
            eol = ref_next_line(at, end, r);
            if (!eol)
                return false;
            bool empty = eol == at;
            at = eol + 2;
            if (empty)
                break;
        }
    } else if (content_length > 0) {
        if ((uint64_t)(end - at) < (uint64_t)content_length) {
            r->end = REF_INCOMPLETE;
            return false;
        }
        for (int64_t i = 0; i < content_length; i++)
            body_hash = (body_hash ^ (unsigned char)at[i]) * 1099511628211u;
        body_len = (size_t)content_length;
        at += content_length;
    }
    m->body_hash = body_hash;
    m->body_len = body_len;
    r->count++;
    *pos = (size_t)(at - s);
    return r->count < MAX_MESSAGES;
}

static void ref_frame(const char *s, size_t len, struct ref_result *r)
{
    r->count = 0;
    r->end = REF_INCOMPLETE;
    size_t pos = 0;
    while (ref_message(s, len, &pos, r)) {
    }
}

/* The parser may stop earlier than the reference, never later or elsewhere. */
static void compare_framings(const struct conn *c, const struct ref_result *r, bool bodies)
{
    for (int i = 0; i < c->message_count; i++) {
        if (i >= r->count) {
            /* The parser completed a message the reference did not: only where the reference
             * does not model the bytes can that be anything but a framing bug. */
            REQUIRE(r->end == REF_UNKNOWN);
            return;
        }
        const struct seen_message *a = &c->messages[i], *b = &r->messages[i];
        REQUIRE(a->target_len == b->target_len);
        REQUIRE(memcmp(a->target, b->target, TORUS_MIN(a->target_len, sizeof(a->target))) == 0);
        if (bodies) {
            REQUIRE(a->body_len == b->body_len);
            REQUIRE(a->body_hash == b->body_hash);
        }
    }
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
    if (c->message_count < MAX_MESSAGES) {
        struct seen_message *m = &c->messages[c->message_count];
        memset(m, 0, sizeof(*m));
        m->target_len = p->url.len;
        memcpy(m->target, p->url.data, TORUS_MIN(p->url.len, sizeof(m->target)));
    }

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
    if (c->message_count < MAX_MESSAGES) {
        struct seen_message *m = &c->messages[c->message_count++];
        m->body_len = body ? len : 0;
        m->body_hash = hash_bytes(body, m->body_len);
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

    /* The same bytes, framed by the reference. */
    static struct ref_result reference;
    ref_frame(stream, len, &reference);
    compare_framings(&c, &reference, (c.flags & FLAG_BUFFER_BODY) != 0);

    /* A raw target straight from the input, whatever the parser made of it. */
    check_normalized(stream, TORUS_MIN(len, (size_t)300));

    free(c.in);
    torus_http_release(&c.parser);
    return 0;
}
