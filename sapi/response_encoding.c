/*
 * Compression in the SAPI's response path (see the header for the rules).
 *
 * The header list being edited is response->headers: one "Name: value\r\n"
 * line per header, as torus_sapi_response_add_header() normalised it. Lines
 * are removed in place and added through torus_sapi_response_add_header(),
 * so the list keeps one shape.
 *
 * The scratch buffer carries a body between two places of the response's
 * single body buffer: a buffered body is encoded from the pending bytes
 * into scratch, then copied back; a body that starts streaming has its
 * pending bytes moved to scratch first and encoded back into the pending
 * area. Both buffers are kept from one response to the next.
 */
#include "sapi/response_encoding.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/accept_encoding.h"
#include "net/compress_policy.h"
#include "net/header_value.h"
#include "sapi/response.h"

/* A scratch buffer grown past this by one large body is freed before the next response. */
#define SCRATCH_KEEP (4u << 20)

void torus_sapi_encoding_init(struct torus_sapi_encoding *e)
{
    memset(e, 0, sizeof(*e));
    torus_encoder_init(&e->encoder);
}

void torus_sapi_encoding_free(struct torus_sapi_encoding *e)
{
    torus_encoder_free(&e->encoder);
    free(e->scratch.data);
    const struct torus_compression *settings = e->settings;
    torus_sapi_encoding_init(e);
    e->settings = settings;
}

void torus_sapi_encoding_reset(struct torus_sapi_encoding *e)
{
    if (e->state == TORUS_SAPI_ENCODING_STREAMING)
        torus_encoder_end(&e->encoder, NULL, NULL);
    if (slow_path(e->scratch.capacity > SCRATCH_KEEP)) {
        free(e->scratch.data);
        e->scratch.data = NULL;
        e->scratch.capacity = 0;
    }
    e->state = TORUS_SAPI_ENCODING_NONE;
    e->coding = TORUS_CODING_IDENTITY;
    e->scratch.len = 0;
}

/* A header line of the response: where it starts, its length, and its value. */
struct header_line {
    size_t start;
    size_t len;
    const char *value;
    size_t value_len;
};

static bool header_find(const struct torus_sapi_response *r, const char *name,
                        struct header_line *found)
{
    size_t name_len = strlen(name);
    size_t at = 0;
    while (at < r->headers_len) {
        const char *line = r->headers + at;
        const char *crlf = memmem(line, r->headers_len - at, "\r\n", 2);
        size_t len = crlf ? (size_t)(crlf - line) + 2 : r->headers_len - at;
        if (len > name_len + 2 && line[name_len] == ':' && strncasecmp(line, name, name_len) == 0) {
            found->start = at;
            found->len = len;
            found->value = line + name_len + 2;
            found->value_len = len - name_len - 2 - (crlf ? 2 : 0);
            return true;
        }
        at += len;
    }
    return false;
}

static void header_remove(struct torus_sapi_response *r, const struct header_line *line)
{
    memmove(r->headers + line->start, r->headers + line->start + line->len,
            r->headers_len - line->start - line->len);
    r->headers_len -= line->len;
}

/*
 * Replaces header `name` (found at `line`) with "name: prefix value suffix".
 * TORUS_OK or TORUS_ERROR (out of memory: the header is then gone).
 */
static int header_rewrite(struct torus_sapi_response *r, const char *name,
                          const struct header_line *line, const char *prefix, const char *suffix)
{
    size_t size = strlen(name) + strlen(prefix) + line->value_len + strlen(suffix) + 4;
    char *text = malloc(size);
    if (slow_path(!text))
        return TORUS_ERROR;
    int n = snprintf(text, size, "%s: %s%.*s%s", name, prefix, (int)line->value_len, line->value,
                     suffix);
    header_remove(r, line);
    int rc = torus_sapi_response_add_header(r, text, (size_t)n);
    free(text);
    return rc;
}

/* Vary: Accept-Encoding, added to the script's own Vary when it lacks it. */
static int add_vary(struct torus_sapi_response *r)
{
    struct header_line vary;
    if (!header_find(r, "Vary", &vary))
        return torus_sapi_response_add_header(r, "Vary: Accept-Encoding", 21);
    if (torus_http_has_token(vary.value, vary.value_len, "Accept-Encoding") ||
        torus_http_has_token(vary.value, vary.value_len, "*"))
        return TORUS_OK;
    return header_rewrite(r, "Vary", &vary, "", ", Accept-Encoding");
}

/* The head of an encoded body: Content-Encoding, no Content-Length, a weak ETag. */
static int edit_head(struct torus_sapi_response *r, enum torus_coding coding)
{
    struct header_line line;
    if (header_find(r, "Content-Length", &line))
        header_remove(r, &line);
    r->declared_length = -1;
    r->declared_in_lines = false;
    if (header_find(r, "ETag", &line) && line.value_len && line.value[0] == '"' &&
        header_rewrite(r, "ETag", &line, "W/", "") != TORUS_OK)
        return TORUS_ERROR;
    char text[64];
    int n = snprintf(text, sizeof(text), "Content-Encoding: %s", torus_coding_name(coding));
    return torus_sapi_response_add_header(r, text, (size_t)n);
}

/* The request's Accept-Encoding, or NULL. */
static const torus_str *accept_encoding(const struct torus_request *q)
{
    for (uint32_t i = 0; i < q->header_count; i++) {
        const torus_str *name = &q->headers[i].name;
        if (name->len == 15 && strncasecmp(name->data, "Accept-Encoding", 15) == 0)
            return &q->headers[i].value;
    }
    return NULL;
}

/* The coding the response may be sent in, before its size is looked at; identity when none. */
static enum torus_coding choose(struct torus_sapi_response *r)
{
    const struct torus_compression *s = r->encoding.settings;
    if (!s || !s->enabled || r->refused || r->status < 200 || r->status == 204 ||
        r->status == 206 || r->status == 304)
        return TORUS_CODING_IDENTITY;
    struct header_line line;
    if (!header_find(r, "Content-Type", &line) ||
        !torus_compress_type_matches(s->types, line.value, line.value_len))
        return TORUS_CODING_IDENTITY;
    if (header_find(r, "Content-Encoding", &line))
        return TORUS_CODING_IDENTITY;
    if (header_find(r, "Cache-Control", &line) &&
        torus_http_has_token(line.value, line.value_len, "no-transform"))
        return TORUS_CODING_IDENTITY;
    /* A compressible representation: what is sent depends on Accept-Encoding. */
    if (slow_path(add_vary(r) != TORUS_OK)) {
        r->out_of_memory = true;
        return TORUS_CODING_IDENTITY;
    }
    const torus_str *accepted = accept_encoding(r->request);
    return torus_accept_encoding_choose(accepted ? accepted->data : NULL,
                                        accepted ? accepted->len : 0, TORUS_CODINGS_ALL);
}

/* Encodes the whole pending body into scratch, then puts scratch back as the body. */
static bool encode_buffered(struct torus_sapi_response *r, int level, torus_sapi_body_sink sink)
{
    struct torus_sapi_encoding *e = &r->encoding;
    const char *body = r->buffer + r->headroom;
    e->scratch.len = 0;
    if (torus_encoder_begin(&e->encoder, e->coding, level, r->pending) != TORUS_OK ||
        torus_encoder_write(&e->encoder, body, r->pending, torus_coding_buffer_append,
                            &e->scratch) != TORUS_OK ||
        torus_encoder_end(&e->encoder, torus_coding_buffer_append, &e->scratch) != TORUS_OK) {
        torus_encoder_end(&e->encoder, NULL, NULL);
        return false; /* sent uncompressed */
    }
    r->pending = 0;
    if (slow_path(sink(r, e->scratch.data, e->scratch.len) != TORUS_OK))
        r->out_of_memory = true;
    return true;
}

/* Starts the encoder on a body that streams; its pending bytes go through it, flushed. */
static bool encode_stream_start(struct torus_sapi_response *r, int level, torus_sapi_body_sink sink)
{
    struct torus_sapi_encoding *e = &r->encoding;
    e->scratch.len = 0;
    if (torus_encoder_begin(&e->encoder, e->coding, level, 0) != TORUS_OK ||
        torus_coding_buffer_append(&e->scratch, r->buffer + r->headroom, r->pending) != TORUS_OK) {
        torus_encoder_end(&e->encoder, NULL, NULL);
        return false;
    }
    r->pending = 0;
    if (slow_path(torus_encoder_write(&e->encoder, e->scratch.data, e->scratch.len, sink, r) !=
                      TORUS_OK ||
                  torus_encoder_flush(&e->encoder, sink, r) != TORUS_OK))
        r->out_of_memory = true;
    return true;
}

bool torus_sapi_encoding_decide(struct torus_sapi_response *r, bool streaming,
                                torus_sapi_body_sink sink)
{
    struct torus_sapi_encoding *e = &r->encoding;
    e->state = TORUS_SAPI_ENCODING_NONE;
    e->coding = choose(r);
    if (e->coding == TORUS_CODING_IDENTITY)
        return false;

    /* The body's size when known: what was written, cut to the script's Content-Length (which
     * alone says it for a body still being written). */
    bool size_known = !streaming || r->declared_length >= 0;
    uint64_t size = r->body_bytes;
    if (r->declared_length >= 0 && (streaming || (uint64_t)r->declared_length < size))
        size = (uint64_t)r->declared_length;
    if (size_known && size < e->settings->min_size)
        return false;

    int level = torus_compress_level(e->settings, e->coding);
    if (r->head_only) {
        e->state = TORUS_SAPI_ENCODING_HEAD_ONLY;
    } else if (!streaming) {
        if (r->pending > size)
            r->pending = (size_t)size;
        if (!encode_buffered(r, level, sink))
            return false;
        e->state = TORUS_SAPI_ENCODING_BUFFERED;
    } else {
        if (!encode_stream_start(r, level, sink))
            return false;
        e->state = TORUS_SAPI_ENCODING_STREAMING;
    }
    if (slow_path(edit_head(r, e->coding) != TORUS_OK))
        r->out_of_memory = true;
    return true;
}

int torus_sapi_encoding_write(struct torus_sapi_response *r, const char *data, size_t len,
                              torus_sapi_body_sink sink)
{
    return torus_encoder_write(&r->encoding.encoder, data, len, sink, r);
}

int torus_sapi_encoding_flush(struct torus_sapi_response *r, torus_sapi_body_sink sink)
{
    return torus_encoder_flush(&r->encoding.encoder, sink, r);
}

int torus_sapi_encoding_end(struct torus_sapi_response *r, torus_sapi_body_sink sink)
{
    r->encoding.state = TORUS_SAPI_ENCODING_NONE;
    return torus_encoder_end(&r->encoding.encoder, sink, r);
}
