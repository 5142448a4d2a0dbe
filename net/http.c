/*
 * HTTP/1.1 request parsing on top of llhttp (the loose build Debian ships).
 *
 * llhttp reports each element of the head through span callbacks that may be
 * called several times for one element when it arrives in pieces; since the
 * caller keeps a head's bytes contiguous, the first callback records where an
 * element starts and later ones only extend its length. Limits are checked as
 * bytes arrive, so an over-long request target is refused (414) before its
 * end is seen and an over-large head (431) before it completes. The parser
 * pauses after the head (on_headers_complete returns HPE_PAUSED) and after
 * the message (on_message_complete), which is how torus_http_execute() hands
 * control back at those two points.
 *
 * llhttp refuses the classic smuggling vectors: Content-Length together with
 * Transfer-Encoding, duplicate Content-Length, invalid lengths and chunk
 * sizes, obs-fold, NUL, whitespace before the colon. What it accepts and
 * nginx does not is refused here: a Transfer-Encoding other than "chunked"
 * (501), a missing, repeated or invalid Host (400), an HTTP major version
 * other than 1 (505), an expectation other than 100-continue (417), a chunk
 * size past 63 bits (400) or past the body limit (413, on its size line),
 * chunk extensions and trailers larger than a head. And what its loose build
 * lets through is checked here too: the two bytes after a chunk's data must
 * be CRLF, and every CR of a head or of a chunked body's framing must be
 * followed by LF (check_chunk_framing, line_ends_valid). Its strict build
 * would check those, but also refuses raw UTF-8 in a request target, which
 * nginx serves.
 */
#include "net/http.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static inline struct torus_http_parser *parser_of(llhttp_t *llhttp)
{
    return torus_container_of(llhttp, struct torus_http_parser, llhttp);
}

static int fail(struct torus_http_parser *p, int status, const char *reason)
{
    if (!p->error_status) {
        p->error_status = status;
        p->error_reason = reason;
    }
    return -1;
}

static bool str_equals_nocase(torus_str s, const char *literal)
{
    size_t n = strlen(literal);
    return s.len == n && strncasecmp(s.data, literal, n) == 0;
}

/* Trims optional whitespace around a header value (llhttp keeps trailing OWS). */
static torus_str trim(torus_str s)
{
    while (s.len && (s.data[0] == ' ' || s.data[0] == '\t')) {
        s.data++;
        s.len--;
    }
    while (s.len && (s.data[s.len - 1] == ' ' || s.data[s.len - 1] == '\t'))
        s.len--;
    return s;
}

static int on_message_begin(llhttp_t *llhttp)
{
    struct torus_http_parser *p = parser_of(llhttp);
    p->url = (torus_str){NULL, 0};
    p->header_count = 0;
    p->in_header_value = false;
    p->has_host = false;
    p->expect_continue = false;
    p->has_body = false;
    p->body_mode = TORUS_BODY_DISCARD;
    p->body_len = 0;
    p->body_seen = 0;
    p->framing_bytes = 0;
    p->chunk_crlf_left = 0;
    p->cr_pending = false;
    return 0;
}

static int on_url(llhttp_t *llhttp, const char *at, size_t len)
{
    struct torus_http_parser *p = parser_of(llhttp);
    if (!p->url.data)
        p->url.data = at;
    p->url.len += len;
    if (slow_path(p->url.len > p->limits->max_uri_size))
        return fail(p, 414, "request target too long");
    return 0;
}

/* Trailer fields (after a chunked body) are parsed by llhttp, counted and otherwise ignored. */
static inline bool in_trailers(const struct torus_http_parser *p)
{
    return p->head_bytes == SIZE_MAX || !p->headers;
}

/*
 * Chunk extensions and trailer fields share one budget, the size of a head
 * (--max-header-size): a chunked body cannot carry unbounded framing that is
 * neither body nor head. Trailers are never added to the request's headers.
 */
static int count_framing(struct torus_http_parser *p, size_t len, int status, const char *reason)
{
    p->framing_bytes += len;
    if (slow_path(p->framing_bytes > p->limits->max_header_size))
        return fail(p, status, reason);
    return 0;
}

static inline int count_trailer(struct torus_http_parser *p, size_t len)
{
    return count_framing(p, len, 431, "trailer section too large");
}

static int on_chunk_extension(llhttp_t *llhttp, const char *at, size_t len)
{
    (void)at;
    return count_framing(parser_of(llhttp), len, 400, "chunk extensions too long");
}

static int on_header_field(llhttp_t *llhttp, const char *at, size_t len)
{
    struct torus_http_parser *p = parser_of(llhttp);
    if (in_trailers(p))
        return count_trailer(p, len);
    if (p->in_header_value || p->header_count == 0) {
        if (slow_path(p->header_count == TORUS_HTTP_MAX_HEADERS))
            return fail(p, 431, "too many header fields");
        struct torus_http_header *h = &p->headers[p->header_count++];
        h->name = (torus_str){at, 0};
        h->value = (torus_str){NULL, 0};
        p->in_header_value = false;
    }
    p->headers[p->header_count - 1].name.len += len;
    return 0;
}

static int on_header_value(llhttp_t *llhttp, const char *at, size_t len)
{
    struct torus_http_parser *p = parser_of(llhttp);
    if (in_trailers(p))
        return count_trailer(p, len);
    struct torus_http_header *h = &p->headers[p->header_count - 1];
    if (!p->in_header_value) {
        h->value = (torus_str){at, 0};
        p->in_header_value = true;
    }
    h->value.len += len;
    return 0;
}

/*
 * A Host value nginx would take (ngx_http_validate_host): not empty; no NUL,
 * control character, space, DEL or '/'; no ".."; an IPv6 literal in
 * brackets. After the host, nginx lets anything through as the port; Torus
 * also wants ':' and at most five digits up to 65535 there (empty allowed,
 * as RFC 9110 allows), so "a:abc" and "a:99999" are refused too.
 */
static bool host_is_valid(torus_str v)
{
    size_t i = 0;
    if (v.len && v.data[0] == '[') {
        const char *close = memchr(v.data, ']', v.len);
        if (!close || close == v.data + 1)
            return false;
        for (const char *at = v.data + 1; at < close; at++) {
            if (!(isxdigit((unsigned char)*at) || *at == ':' || *at == '.'))
                return false;
        }
        i = (size_t)(close - v.data) + 1;
    } else {
        for (; i < v.len && v.data[i] != ':'; i++) {
            unsigned char ch = (unsigned char)v.data[i];
            if (ch <= 0x20 || ch == 0x7f || ch == '/')
                return false;
            if (ch == '.' && i > 0 && v.data[i - 1] == '.')
                return false;
        }
        if (i == 0)
            return false; /* no host before the port */
    }
    if (i == v.len)
        return true;
    if (v.data[i] != ':' || v.len - i - 1 > 5)
        return false;
    unsigned port = 0;
    for (size_t j = i + 1; j < v.len; j++) {
        if (v.data[j] < '0' || v.data[j] > '9')
            return false;
        port = port * 10 + (unsigned)(v.data[j] - '0');
    }
    return port <= 65535;
}

static int on_header_value_complete(llhttp_t *llhttp)
{
    struct torus_http_parser *p = parser_of(llhttp);
    if (in_trailers(p))
        return count_trailer(p, 4); /* ": " and CRLF */
    if (!p->in_header_value) {
        /* An empty value: on_header_value was never called. */
        struct torus_http_header *h = &p->headers[p->header_count - 1];
        h->value = (torus_str){h->name.data + h->name.len, 0};
        p->in_header_value = true;
    }
    struct torus_http_header *h = &p->headers[p->header_count - 1];
    /* llhttp lets two things through that nginx refuses: whitespace between
     * the name and the colon, and obs-fold (a value continued on the next
     * line). The head is contiguous, so the byte after the name is here. */
    const char *name_end = h->name.data + h->name.len;
    if (slow_path(h->name.len == 0 || name_end[-1] == ' ' || name_end[-1] == '\t' ||
                  *name_end != ':'))
        return fail(p, 400, "whitespace before the colon of a header field");
    for (const char *at = name_end; h->value.len && at < h->value.data + h->value.len; at++) {
        if (slow_path(*at == '\r' || *at == '\n'))
            return fail(p, 400, "obsolete line folding in a header field");
    }
    h->value = trim(h->value);
    torus_str name = h->name;
    switch (name.len) {
    case 4:
        if (str_equals_nocase(name, "host")) {
            if (p->has_host)
                return fail(p, 400, "duplicate Host header");
            if (slow_path(!host_is_valid(h->value)))
                return fail(p, 400, "invalid Host header");
            p->has_host = true;
        }
        break;
    case 6:
        if (str_equals_nocase(name, "expect")) {
            if (!str_equals_nocase(h->value, "100-continue"))
                return fail(p, 417, "unsupported expectation");
            p->expect_continue = true;
        }
        break;
    case 17:
        if (str_equals_nocase(name, "transfer-encoding")) {
            /* Like nginx, chunked is the only transfer-coding a request may use. */
            if (!str_equals_nocase(h->value, "chunked"))
                return fail(p, 501, "unsupported transfer-coding");
        }
        break;
    default:
        break;
    }
    return 0;
}

static int on_headers_complete(llhttp_t *llhttp)
{
    struct torus_http_parser *p = parser_of(llhttp);
    if (slow_path(llhttp->http_major != 1))
        return fail(p, 505, "unsupported HTTP version");
    if (slow_path(llhttp->http_minor == 1 && !p->has_host))
        return fail(p, 400, "missing Host header");
    p->has_body = (llhttp->flags & F_CHUNKED) ||
                  ((llhttp->flags & F_CONTENT_LENGTH) && llhttp->content_length > 0);
    llhttp->upgrade = 0; /* no protocol switch (Upgrade, CONNECT): the next bytes are HTTP/1.1 */
    return HPE_PAUSED;
}

/*
 * After a span of chunk data: the framing before it (size line, extensions)
 * must have every CR followed by LF, and when the chunk's data ends here, the
 * two bytes after it must be CRLF. Debian's llhttp is its loose build, which
 * skips those two bytes unseen ("3\r\nabcXY0\r\n\r\n" ended the body and the
 * bytes after it parsed as a request of their own: request smuggling) and
 * takes any byte after a CR for its LF.
 */
static int check_chunk_framing(llhttp_t *llhttp, const char *at, size_t len);

/* Checks the bytes from `at` against what is left of the CRLF that ends a chunk's data. */
static int check_chunk_crlf(struct torus_http_parser *p, const char *at, const char *end)
{
    for (; p->chunk_crlf_left && at < end; at++, p->chunk_crlf_left--) {
        if (slow_path(*at != (p->chunk_crlf_left == 2 ? '\r' : '\n')))
            return fail(p, 400, "chunk data not followed by CRLF");
    }
    return 0;
}

/*
 * Whether every CR in [from, to) is followed by LF. A CR that is the last
 * byte leaves cr_pending, so the first byte checked next must be LF.
 */
static bool line_ends_valid(struct torus_http_parser *p, const char *from, const char *to)
{
    if (p->cr_pending && from < to) {
        p->cr_pending = false;
        if (slow_path(*from != '\n'))
            return false;
    }
    for (const char *cr; from < to && (cr = memchr(from, '\r', (size_t)(to - from)));
         from = cr + 2) {
        if (cr + 1 == to) {
            p->cr_pending = true;
            break;
        }
        if (slow_path(cr[1] != '\n'))
            return false;
    }
    return true;
}

/* A bare CR comes before whatever else went wrong after it: its 400 replaces another status. */
static int fail_bare_cr(struct torus_http_parser *p)
{
    p->error_status = 400;
    p->error_reason = "CR not followed by LF";
    return TORUS_HTTP_FAILED;
}

static int check_chunk_framing(llhttp_t *llhttp, const char *at, size_t len)
{
    struct torus_http_parser *p = parser_of(llhttp);
    if (!(llhttp->flags & F_CHUNKED))
        return 0;
    /* What lies between two spans of data is framing. */
    if (slow_path(!line_ends_valid(p, p->framing_from, at)))
        return fail(p, 400, "CR not followed by LF");
    p->framing_from = at + len;
    if (llhttp->content_length == 0) {
        /* This chunk's data ends here: the next two bytes must be its CRLF. */
        p->chunk_crlf_left = 2;
        return check_chunk_crlf(p, at + len, p->input_end);
    }
    return 0;
}

static int on_body(llhttp_t *llhttp, const char *at, size_t len)
{
    struct torus_http_parser *p = parser_of(llhttp);
    if (slow_path(p->body_seen + len > p->limits->max_body_size))
        return fail(p, 413, "request body too large");
    p->body_seen += len;
    if (p->body_mode == TORUS_BODY_DISCARD) {
        p->body_len += len;
        return check_chunk_framing(llhttp, at, len);
    }
    if (p->body_len + len > p->body_cap) {
        size_t cap = p->body_cap ? p->body_cap : 4096;
        while (cap < p->body_len + len)
            cap *= 2;
        cap = TORUS_MIN(cap, (size_t)p->limits->max_body_size);
        char *grown = realloc(p->body, cap);
        if (slow_path(!grown))
            return fail(p, 500, "out of memory for the request body");
        p->body = grown;
        p->body_cap = cap;
    }
    memcpy(p->body + p->body_len, at, len);
    p->body_len += len;
    return check_chunk_framing(llhttp, at, len);
}

/*
 * A chunk's size is known before its data: one the body limit cannot take is
 * refused now (413, as nginx does), not after waiting for data that would be
 * refused anyway. Without this a size of 16 hex digits made the connection
 * wait for 2^60 bytes, and the client never got an answer.
 */
static int on_chunk_header(llhttp_t *llhttp)
{
    struct torus_http_parser *p = parser_of(llhttp);
    if (slow_path(llhttp->content_length > (uint64_t)INT64_MAX))
        return fail(p, 400, "chunk size past 63 bits"); /* what nginx calls invalid */
    if (slow_path(llhttp->content_length > p->limits->max_body_size - p->body_seen))
        return fail(p, 413, "chunk larger than the body limit");
    return 0;
}

static int on_message_complete(llhttp_t *llhttp)
{
    (void)llhttp;
    return HPE_PAUSED;
}

static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_chunk_header = on_chunk_header,
    .on_chunk_extension_name = on_chunk_extension,
    .on_chunk_extension_value = on_chunk_extension,
    .on_message_complete = on_message_complete,
};

void torus_http_init(struct torus_http_parser *parser, const struct torus_http_limits *limits)
{
    memset(parser, 0, sizeof(*parser));
    llhttp_init(&parser->llhttp, HTTP_REQUEST, &settings);
    parser->limits = limits;
}

void torus_http_release(struct torus_http_parser *parser)
{
    free(parser->body);
    parser->body = NULL;
    parser->body_len = parser->body_cap = 0;
    free(parser->headers);
    parser->headers = NULL;
}

void torus_http_head_done(struct torus_http_parser *parser)
{
    free(parser->headers);
    parser->headers = NULL;
    parser->header_count = 0;
}

void torus_http_idle(struct torus_http_parser *parser)
{
    if (!parser->head_start)
        torus_http_release(parser);
}

bool torus_http_in_request(const struct torus_http_parser *parser)
{
    return parser->head_start != NULL;
}

bool torus_http_in_head(const struct torus_http_parser *parser)
{
    return parser->head_start != NULL && parser->head_bytes != SIZE_MAX;
}

void torus_http_rebase(struct torus_http_parser *p, ptrdiff_t delta)
{
    if (!p->head_start)
        return;
    p->head_start += delta;
    if (p->url.data)
        p->url.data += delta;
    for (uint32_t i = 0; i < p->header_count; i++) {
        if (p->headers[i].name.data)
            p->headers[i].name.data += delta;
        if (p->headers[i].value.data)
            p->headers[i].value.data += delta;
    }
}

/*
 * True when the request line from `line` has a version "HTTP/d.d" that ends
 * the line (or the bytes seen, which stop at `end`).
 */
static bool well_formed_version(const char *line, const char *end)
{
    const char *v = NULL;
    for (const char *at = line; at + 5 <= end && *at != '\r' && *at != '\n'; at++) {
        if (memcmp(at, "HTTP/", 5) == 0)
            v = at + 5;
    }
    if (!v || end - v < 3)
        return false;
    if (v[0] < '0' || v[0] > '9' || v[1] != '.' || v[2] < '0' || v[2] > '9')
        return false;
    const char *after = v + 3;
    return after == end || *after == '\r' || *after == '\n';
}

/* Maps an llhttp error to the status nginx answers with. */
static int status_of(struct torus_http_parser *p, llhttp_errno_t err)
{
    if (p->error_status)
        return p->error_status;
    switch (err) {
    case HPE_INVALID_VERSION:
        /* A well-formed version llhttp does not speak (HTTP/1.2, HTTP/3.0) is a 505; garbage is a
         * 400. */
        if (p->head_start && well_formed_version(p->head_start, p->input_end)) {
            p->error_reason = "unsupported HTTP version";
            return 505;
        }
        p->error_reason = "malformed HTTP version";
        return 400;
    case HPE_INVALID_TRANSFER_ENCODING:
        p->error_reason = "unsupported transfer-coding";
        return 501;
    default:
        p->error_reason = llhttp_get_error_reason(&p->llhttp);
        return 400;
    }
}

int torus_http_execute(struct torus_http_parser *p, const char *data, size_t len, size_t *consumed)
{
    *consumed = 0;
    if (slow_path(p->error_status))
        return TORUS_HTTP_FAILED;
    /* With no bytes, only a request paused after its head can move (to its end, when it has no
     * body). */
    if (len == 0 && !(p->head_start && p->head_bytes == SIZE_MAX))
        return TORUS_AGAIN;

    bool starting = p->head_start == NULL;
    if (starting) {
        /* Like nginx, tolerate empty lines before a request line (RFC 9112 2.2). */
        size_t skip = 0;
        while (skip < len && (data[skip] == '\r' || data[skip] == '\n'))
            skip++;
        if (skip == len) {
            *consumed = len;
            return TORUS_AGAIN;
        }
        data += skip;
        len -= skip;
        *consumed = skip;
        if (!p->headers) {
            p->headers = malloc(sizeof(*p->headers) * TORUS_HTTP_MAX_HEADERS);
            if (slow_path(!p->headers)) {
                fail(p, 500, "out of memory for the request head");
                return TORUS_HTTP_FAILED;
            }
        }
        p->head_start = data;
        p->head_bytes = 0;
    }

    bool in_head = p->head_bytes != SIZE_MAX;
    p->input_end = data + len;
    p->framing_from = data;
    if (slow_path(p->chunk_crlf_left) && check_chunk_crlf(p, data, p->input_end) != 0)
        return TORUS_HTTP_FAILED;
    llhttp_errno_t err = llhttp_execute(&p->llhttp, data, len);
    size_t used = len;
    if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE)
        used = (size_t)(llhttp_get_error_pos(&p->llhttp) - data);
    if (!in_head && (p->llhttp.flags & F_CHUNKED)) {
        /* The framing after the last span of data, up to where llhttp stopped (or failed: a chunk
         * size refused on a size line that ended with a bare CR is a 400 for the CR). */
        const char *end = err == HPE_OK ? data + len : llhttp_get_error_pos(&p->llhttp);
        if (end && slow_path(!line_ends_valid(p, p->framing_from, end)))
            return fail_bare_cr(p);
    }

    if (in_head && err != HPE_PAUSED) {
        p->head_bytes += used;
        if (slow_path(p->head_bytes > p->limits->max_header_size) && err == HPE_OK) {
            /* A request line longer than the target limit is a 414; otherwise the head is too big.
             */
            fail(p, p->url.len > p->limits->max_uri_size ? 414 : 431, "request head too large");
            return TORUS_HTTP_FAILED;
        }
    }

    if (err == HPE_OK) {
        *consumed += used;
        return TORUS_AGAIN;
    }
    if (err == HPE_PAUSED) {
        if (in_head && slow_path(!line_ends_valid(p, p->head_start, data + used)))
            return fail_bare_cr(p);
        *consumed += used;
        llhttp_resume(&p->llhttp);
        if (in_head) {
            p->head_bytes += used;
            if (slow_path(p->head_bytes > p->limits->max_header_size)) {
                fail(p, 431, "request head too large");
                return TORUS_HTTP_FAILED;
            }
            p->head_bytes = SIZE_MAX; /* the head is done: now in the body */
            return TORUS_HTTP_HEAD;
        }
        p->head_start = NULL;
        return TORUS_HTTP_MESSAGE;
    }
    if (err == HPE_PAUSED_UPGRADE) {
        /* An Upgrade request (websocket, h2c): not supported, answered as a plain request. */
        *consumed += used;
        llhttp_resume_after_upgrade(&p->llhttp);
        p->head_start = NULL;
        return TORUS_HTTP_MESSAGE;
    }
    p->error_status = status_of(p, err);
    return TORUS_HTTP_FAILED;
}

int torus_http_set_body_mode(struct torus_http_parser *p, enum torus_http_body_mode mode)
{
    p->body_mode = mode;
    if ((p->llhttp.flags & F_CONTENT_LENGTH) &&
        p->llhttp.content_length > p->limits->max_body_size) {
        fail(p, 413, "request body too large");
        return TORUS_ERROR;
    }
    uint64_t want = p->llhttp.content_length;
    if (p->limits->body_preallocate && want > p->limits->body_preallocate)
        want = p->limits->body_preallocate;
    if (mode == TORUS_BODY_BUFFER && (p->llhttp.flags & F_CONTENT_LENGTH) && want > p->body_cap) {
        /* The length is known: one allocation for the whole body (or what the caller keeps). */
        char *buffer = realloc(p->body, want);
        if (slow_path(!buffer)) {
            fail(p, 500, "out of memory for the request body");
            return TORUS_ERROR;
        }
        p->body = buffer;
        p->body_cap = want;
    }
    return TORUS_OK;
}

char *torus_http_take_body(struct torus_http_parser *p, size_t *len)
{
    char *body = p->body;
    *len = p->body_len;
    p->body = NULL;
    p->body_len = p->body_cap = 0;
    return body;
}

const char *torus_http_method(const struct torus_http_parser *p)
{
    return llhttp_method_name((llhttp_method_t)p->llhttp.method);
}

uint8_t torus_http_minor(const struct torus_http_parser *p)
{
    return p->llhttp.http_minor;
}

bool torus_http_keep_alive(const struct torus_http_parser *p)
{
    return llhttp_should_keep_alive(&p->llhttp) != 0;
}

const torus_str *torus_http_header(const struct torus_http_parser *p, const char *name)
{
    size_t n = strlen(name);
    for (uint32_t i = 0; i < p->header_count; i++) {
        const struct torus_http_header *h = &p->headers[i];
        if (h->name.len == n && strncasecmp(h->name.data, name, n) == 0)
            return &h->value;
    }
    return NULL;
}
