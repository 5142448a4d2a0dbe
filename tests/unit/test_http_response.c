/*
 * net/http_response.c: reason phrases, IMF-fixdate formatting and parsing
 * (known dates, a round trip over many instants, malformed dates refused),
 * the per-thread Date cache, and torus_http_head(): the exact bytes of a
 * head for each Connection case, the extra lines and Content-Length, and the
 * "does not fit" answer for every buffer size short of the head's length,
 * with a check that nothing is written past the size given. And the
 * HTTP/1.1 framing of executor parts (net/http1_response.c): a head turned
 * into HTTP/1.1 in place in front of its body (one chunk, no copy), chunks
 * and the last chunk, HEAD, HTTP/1.0 streaming, interim heads, and a part
 * without room in front that gets a new chunk with the same bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net/http1_response.h"
#include "net/http_response.h"
#include "runtime/request.h"
#include "runtime/response_head.h"
#include "tests/unit/check.h"

static void test_reasons(void)
{
    static const struct {
        int status;
        const char *reason;
    } table[] = {
        {100, "Continue"},
        {101, "Switching Protocols"},
        {200, "OK"},
        {201, "Created"},
        {204, "No Content"},
        {206, "Partial Content"},
        {301, "Moved Permanently"},
        {302, "Found"},
        {303, "See Other"},
        {304, "Not Modified"},
        {307, "Temporary Redirect"},
        {308, "Permanent Redirect"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {408, "Request Timeout"},
        {411, "Length Required"},
        {412, "Precondition Failed"},
        {413, "Content Too Large"},
        {414, "URI Too Long"},
        {416, "Range Not Satisfiable"},
        {417, "Expectation Failed"},
        {422, "Unprocessable Content"},
        {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
        {505, "HTTP Version Not Supported"},
    };
    for (size_t i = 0; i < TORUS_ARRAY_SIZE(table); i++) {
        const char *reason = torus_http_reason(table[i].status);
        checks++;
        if (!reason || strcmp(reason, table[i].reason) != 0) {
            failures++;
            fprintf(stderr, "reason(%d) = \"%s\", want \"%s\"\n", table[i].status,
                    reason ? reason : "(null)", table[i].reason);
        }
    }
    static const int unknown[] = {0, -1, 99, 199, 299, 306, 399, 419, 499, 508, 599, 600, 1000};
    for (size_t i = 0; i < TORUS_ARRAY_SIZE(unknown); i++)
        CHECK(strcmp(torus_http_reason(unknown[i]), "Unknown") == 0);
}

static void check_format(time_t t, const char *expected, int line)
{
    char out[TORUS_HTTP_DATE_LEN + 8];
    memset(out, '#', sizeof(out));
    torus_http_date_format(t, out);
    checks++;
    if (strcmp(out, expected) != 0 || out[TORUS_HTTP_DATE_LEN + 1] != '#') {
        failures++;
        fprintf(stderr, "line %d: format(%lld) = \"%s\", want \"%s\"\n", line, (long long)t, out,
                expected);
    }
    time_t back = -1;
    checks++;
    if (torus_http_date_parse(expected, strlen(expected), &back) != TORUS_OK || back != t) {
        failures++;
        fprintf(stderr, "line %d: parse(\"%s\") = %lld, want %lld\n", line, expected,
                (long long)back, (long long)t);
    }
}

static void check_unparsable(const char *text, int line)
{
    time_t t = 42;
    checks++;
    if (torus_http_date_parse(text, strlen(text), &t) != TORUS_ERROR || t != 42) {
        failures++;
        fprintf(stderr, "line %d: parse(\"%s\") accepted as %lld\n", line, text, (long long)t);
    }
}

static void test_dates(void)
{
    check_format(0, "Thu, 01 Jan 1970 00:00:00 GMT", __LINE__);
    check_format(784111777, "Sun, 06 Nov 1994 08:49:37 GMT", __LINE__); /* RFC 9110's example */
    check_format(951782400, "Tue, 29 Feb 2000 00:00:00 GMT", __LINE__);
    check_format(1234567890, "Fri, 13 Feb 2009 23:31:30 GMT", __LINE__);
    check_format(2147483647, "Tue, 19 Jan 2038 03:14:07 GMT", __LINE__);
    check_format(4102444799, "Thu, 31 Dec 2099 23:59:59 GMT", __LINE__);
    check_format(1709251199, "Thu, 29 Feb 2024 23:59:59 GMT", __LINE__);

    /* Month names are matched without regard to case (clients vary). */
    time_t t = 0;
    CHECK(torus_http_date_parse("Sun, 06 NOV 1994 08:49:37 GMT", 29, &t) == TORUS_OK);
    CHECK(t == 784111777);

    /* Round trip over many instants between 1970 and 2100. */
    uint64_t seed = 88172645463325252ull;
    int round_trip_ok = 1;
    for (int i = 0; i < 100000; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        time_t instant = (time_t)(seed % 4102444800ull);
        char text[TORUS_HTTP_DATE_LEN + 1];
        torus_http_date_format(instant, text);
        time_t back = -1;
        if (strlen(text) != TORUS_HTTP_DATE_LEN ||
            torus_http_date_parse(text, TORUS_HTTP_DATE_LEN, &back) != TORUS_OK ||
            back != instant) {
            if (round_trip_ok)
                fprintf(stderr, "round trip of %lld: \"%s\" -> %lld\n", (long long)instant, text,
                        (long long)back);
            round_trip_ok = 0;
        }
    }
    CHECK(round_trip_ok);

    /* Only IMF-fixdate is a date we sent: other formats and garbage are refused. */
    check_unparsable("", __LINE__);
    check_unparsable("Sunday, 06-Nov-94 08:49:37 GMT", __LINE__); /* RFC 850 */
    check_unparsable("Sun Nov  6 08:49:37 1994", __LINE__);       /* asctime */
    check_unparsable("Sun, 06 Nov 1994 08:49:37 UTC", __LINE__);
    check_unparsable("Sun, 06 Nov 1994 08:49:37 GMTX", __LINE__);
    check_unparsable("Sun, 06 Nov 1994 08:49:37 GM", __LINE__);
    check_unparsable("Sun, 06 Nvv 1994 08:49:37 GMT", __LINE__);
    check_unparsable("Sun, 00 Nov 1994 08:49:37 GMT", __LINE__);
    check_unparsable("Sun, 32 Nov 1994 08:49:37 GMT", __LINE__);
    check_unparsable("Sun, 06 Nov 1994 24:49:37 GMT", __LINE__);
    check_unparsable("Sun, 06 Nov 1994 08:60:37 GMT", __LINE__);
    check_unparsable("Sun, 06 Nov 1994 08:49:61 GMT", __LINE__);
    check_unparsable("Sun, xx Nov 1994 08:49:37 GMT", __LINE__);
    check_unparsable("Sun, 06 Nov 19x4 08:49:37 GMT", __LINE__);
    check_unparsable("not a date at all, not at all", __LINE__);
    /* A prefix of a valid date is too short. */
    CHECK(torus_http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", 28, &t) == TORUS_ERROR);

    /* The cached current date is today's, and parses back to within a moment of now. */
    time_t before = time(NULL);
    const char *now_text = torus_http_date_now();
    time_t after = time(NULL);
    CHECK(now_text && strlen(now_text) == TORUS_HTTP_DATE_LEN);
    time_t parsed = 0;
    CHECK(torus_http_date_parse(now_text, strlen(now_text), &parsed) == TORUS_OK);
    CHECK(parsed >= before && parsed <= after);
    /* The same second gives the same cached text. */
    const char *again = torus_http_date_now();
    CHECK(again == now_text);
}

/* ------------------------------------------------------------------------ */
/* Response heads                                                           */
/* ------------------------------------------------------------------------ */

/*
 * Builds a head and compares it with `status_line` + Server + Date (whatever
 * second it is) + `rest`. Also checks every smaller buffer is refused with 0
 * and that no byte beyond the size given is touched.
 */
static void check_head(int status, uint8_t minor, bool keep_alive, const char *extra,
                       int64_t content_length, const char *status_line, const char *rest, int line)
{
    char out[1024];
    size_t extra_len = extra ? strlen(extra) : 0;
    memset(out, '#', sizeof(out));
    size_t n = torus_http_head(out, sizeof(out) - 1, status, minor, keep_alive, extra, extra_len,
                               content_length);

    /* The Date line is whatever second torus_http_head saw; take it from the output. */
    char expected[1024];
    const char *date_at = n ? strstr(out, "\r\nDate: ") : NULL;
    char date[TORUS_HTTP_DATE_LEN + 1] = "";
    if (date_at && (size_t)(date_at - out) + 8 + TORUS_HTTP_DATE_LEN <= n)
        memcpy(date, date_at + 8, TORUS_HTTP_DATE_LEN);
    date[TORUS_HTTP_DATE_LEN] = '\0';
    int expected_len = snprintf(expected, sizeof(expected), "%s\r\nServer: torus\r\nDate: %s\r\n%s",
                                status_line, date, rest);
    time_t date_value = 0, now = time(NULL);
    checks++;
    if (n != (size_t)expected_len || memcmp(out, expected, n) != 0 ||
        torus_http_date_parse(date, strlen(date), &date_value) != TORUS_OK || date_value > now ||
        now - date_value > 2) {
        failures++;
        fprintf(stderr, "line %d: head is %zu bytes:\n%.*s\nwant %d bytes:\n%s\n", line, n, (int)n,
                out, expected_len, expected);
        return;
    }

    /* Every smaller buffer: 0, and nothing written past its end. */
    int refused_cleanly = 1;
    for (size_t size = 0; size < n; size++) {
        memset(out, '#', sizeof(out));
        size_t got =
            torus_http_head(out, size, status, minor, keep_alive, extra, extra_len, content_length);
        if (got != 0)
            refused_cleanly = 0;
        for (size_t k = size; k < sizeof(out); k++) {
            if (out[k] != '#') {
                refused_cleanly = 0;
                break;
            }
        }
    }
    checks++;
    if (!refused_cleanly) {
        failures++;
        fprintf(stderr, "line %d: a buffer shorter than %zu bytes was not refused cleanly\n", line,
                n);
    }
    /* Exactly the length fits, and writes nothing after it. */
    memset(out, '#', sizeof(out));
    size_t exact =
        torus_http_head(out, n, status, minor, keep_alive, extra, extra_len, content_length);
    checks++;
    if (exact != n || out[n] != '#') {
        failures++;
        fprintf(stderr, "line %d: a buffer of exactly %zu bytes gave %zu\n", line, n, exact);
    }
}

static void test_heads(void)
{
    /* HTTP/1.1, kept alive: nothing about Connection. */
    check_head(200, 1, true, NULL, 5, "HTTP/1.1 200 OK", "Content-Length: 5\r\n\r\n", __LINE__);
    /* HTTP/1.1 closing. */
    check_head(404, 1, false, NULL, 9, "HTTP/1.1 404 Not Found",
               "Content-Length: 9\r\nConnection: close\r\n\r\n", __LINE__);
    /* HTTP/1.0 kept alive must say so; the status line still says 1.1. */
    check_head(200, 0, true, NULL, 0, "HTTP/1.1 200 OK",
               "Content-Length: 0\r\nConnection: keep-alive\r\n\r\n", __LINE__);
    /* HTTP/1.0 closing. */
    check_head(500, 0, false, NULL, 21, "HTTP/1.1 500 Internal Server Error",
               "Content-Length: 21\r\nConnection: close\r\n\r\n", __LINE__);
    /* No Content-Length (a negative length): 304, or a body sent until close. */
    check_head(304, 1, true, "ETag: \"abc\"\r\n", -1, "HTTP/1.1 304 Not Modified",
               "ETag: \"abc\"\r\n\r\n", __LINE__);
    /* Extra lines go between Date and Content-Length, in the order given. */
    check_head(301, 1, true, "Location: /docs/\r\nContent-Type: text/html\r\n", 162,
               "HTTP/1.1 301 Moved Permanently",
               "Location: /docs/\r\nContent-Type: text/html\r\nContent-Length: 162\r\n\r\n",
               __LINE__);
    /* The largest length there is. */
    check_head(206, 1, false, "Content-Range: bytes 0-1/2\r\n", INT64_MAX,
               "HTTP/1.1 206 Partial Content",
               "Content-Range: bytes 0-1/2\r\nContent-Length: 9223372036854775807\r\n"
               "Connection: close\r\n\r\n",
               __LINE__);
    /* A status with no known reason. */
    check_head(299, 1, true, NULL, -1, "HTTP/1.1 299 Unknown", "\r\n", __LINE__);

    /* An empty extra with a non-NULL pointer is the same as none. */
    char a[512], b[512];
    size_t with_empty = torus_http_head(a, sizeof(a), 204, 1, true, "", 0, -1);
    size_t with_null = torus_http_head(b, sizeof(b), 204, 1, true, NULL, 0, -1);
    CHECK(with_empty > 0 && with_empty == with_null);

    /* Extra lines larger than the buffer: refused, not cut. */
    char big_extra[600];
    memset(big_extra, 'x', sizeof(big_extra));
    char out[512];
    CHECK(torus_http_head(out, sizeof(out), 200, 1, true, big_extra, sizeof(big_extra), 0) == 0);
}

/* A part as the executor's port hands it over: `front` free bytes, a head (status; lines; body
 * kind, length, flags) unless status is 0, then body bytes, then the tail room. */
static struct torus_chunk *part(size_t front, int status, uint8_t kind, uint8_t body_kind,
                                int64_t length, uint8_t flags, const char *lines, const char *body)
{
    size_t lines_len = lines ? strlen(lines) : 0;
    size_t body_len = body ? strlen(body) : 0;
    size_t head_len = status ? sizeof(struct torus_response_head) + lines_len : 0;
    struct torus_chunk *k = torus_chunk_new(front + head_len + body_len + TORUS_RESPONSE_TAIL_ROOM);
    if (!k)
        abort();
    if (status) {
        struct torus_response_head head = {.size = (uint32_t)head_len,
                                           .status = (uint16_t)status,
                                           .kind = kind,
                                           .body = body_kind,
                                           .flags = flags,
                                           .length = length};
        torus_response_head_put(k->data + front, &head);
        if (lines_len)
            memcpy(k->data + front + sizeof(head), lines, lines_len);
    }
    if (body_len)
        memcpy(k->data + front + head_len, body, body_len);
    k->sent = (uint32_t)front;
    k->len = (uint32_t)(front + head_len + body_len);
    return k;
}

/* The bytes of a framed chunk with the Date value blanked ("D"), NUL-terminated in out. */
static const char *text_of(const struct torus_chunk *k, char *out, size_t size)
{
    size_t n = k ? k->len - k->sent : 0;
    if (n >= size)
        n = size - 1;
    memcpy(out, k ? k->data + k->sent : "", n);
    out[n] = '\0';
    char *date = strstr(out, "Date: ");
    if (date && strlen(date) >= 6 + TORUS_HTTP_DATE_LEN) {
        date[6] = 'D';
        memmove(date + 7, date + 6 + TORUS_HTTP_DATE_LEN,
                strlen(date + 6 + TORUS_HTTP_DATE_LEN) + 1);
    }
    return out;
}

static void test_http1_framing(void)
{
    char text[1024];
    struct http1_response f;

    /* The common buffered response: framed in place, in the same chunk. */
    http1_response_begin(&f, 1, true, false);
    struct torus_chunk *k = part(TORUS_RESPONSE_FRONT_ROOM, 200, TORUS_HEAD_FINAL,
                                 TORUS_HEAD_BODY_LENGTH, 5, 0, "X-A: 1\r\n", "hello");
    struct torus_chunk *same = k;
    CHECK(http1_response_frame(&f, &k, TORUS_EMIT_HEAD | TORUS_EMIT_END) == TORUS_OK);
    CHECK(k == same);
    CHECK(strcmp(text_of(k, text, sizeof(text)),
                 "HTTP/1.1 200 OK\r\nServer: torus\r\nDate: D\r\nX-A: 1\r\n"
                 "Content-Length: 5\r\n\r\nhello") == 0);
    CHECK(f.keep_alive);
    torus_chunk_free(k);

    /* No room in front (a part made elsewhere): a new chunk, the same bytes. */
    http1_response_begin(&f, 1, true, false);
    k = part(0, 404, TORUS_HEAD_FINAL, TORUS_HEAD_BODY_LENGTH, 2, TORUS_HEAD_CLOSE, "", "no");
    CHECK(http1_response_frame(&f, &k, TORUS_EMIT_HEAD | TORUS_EMIT_END) == TORUS_OK);
    CHECK(strcmp(text_of(k, text, sizeof(text)),
                 "HTTP/1.1 404 Not Found\r\nServer: torus\r\nDate: D\r\n"
                 "Content-Length: 2\r\nConnection: close\r\n\r\nno") == 0);
    CHECK(!f.keep_alive);
    torus_chunk_free(k);

    /* Streamed, length unknown: chunks, the first one's size line in the head, the last chunk at
     * the END (a new chunk when the END carries no bytes). */
    http1_response_begin(&f, 1, true, false);
    k = part(TORUS_RESPONSE_FRONT_ROOM, 200, TORUS_HEAD_FINAL, TORUS_HEAD_BODY_STREAM, -1, 0, "",
             "ab");
    CHECK(http1_response_frame(&f, &k, TORUS_EMIT_HEAD) == TORUS_OK);
    CHECK(strcmp(text_of(k, text, sizeof(text)),
                 "HTTP/1.1 200 OK\r\nServer: torus\r\nDate: D\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n") == 0);
    torus_chunk_free(k);
    k = part(TORUS_RESPONSE_BODY_FRONT_ROOM, 0, 0, 0, 0, 0, NULL, "0123456789abcdefg");
    CHECK(http1_response_frame(&f, &k, 0) == TORUS_OK);
    CHECK(strcmp(text_of(k, text, sizeof(text)), "11\r\n0123456789abcdefg\r\n") == 0);
    torus_chunk_free(k);
    k = NULL;
    CHECK(http1_response_frame(&f, &k, TORUS_EMIT_END) == TORUS_OK);
    CHECK(strcmp(text_of(k, text, sizeof(text)), "0\r\n\r\n") == 0);
    CHECK(f.keep_alive);
    torus_chunk_free(k);

    /* HEAD: the head a GET gets, no chunk, no last chunk. */
    http1_response_begin(&f, 1, true, true);
    k = part(TORUS_RESPONSE_FRONT_ROOM, 200, TORUS_HEAD_FINAL, TORUS_HEAD_BODY_STREAM, -1, 0, "",
             NULL);
    CHECK(http1_response_frame(&f, &k, TORUS_EMIT_HEAD) == TORUS_OK);
    CHECK(strstr(text_of(k, text, sizeof(text)), "Transfer-Encoding: chunked\r\n\r\n") != NULL);
    torus_chunk_free(k);
    k = part(TORUS_RESPONSE_BODY_FRONT_ROOM, 0, 0, 0, 0, 0, NULL, "body");
    CHECK(http1_response_frame(&f, &k, TORUS_EMIT_END) == TORUS_OK);
    CHECK(k == NULL);

    /* HTTP/1.0, length unknown: the body ends with the connection. */
    http1_response_begin(&f, 0, true, false);
    k = part(TORUS_RESPONSE_FRONT_ROOM, 200, TORUS_HEAD_FINAL, TORUS_HEAD_BODY_STREAM, -1, 0, "",
             "raw");
    CHECK(http1_response_frame(&f, &k, TORUS_EMIT_HEAD) == TORUS_OK);
    CHECK(strcmp(text_of(k, text, sizeof(text)),
                 "HTTP/1.1 200 OK\r\nServer: torus\r\nDate: D\r\nConnection: close\r\n\r\nraw") ==
          0);
    CHECK(!f.keep_alive);
    torus_chunk_free(k);

    /* The script's own Content-Length line is not doubled; 304 gets no length at all. */
    http1_response_begin(&f, 1, true, false);
    k = part(TORUS_RESPONSE_FRONT_ROOM, 200, TORUS_HEAD_FINAL, TORUS_HEAD_BODY_LENGTH, 3,
             TORUS_HEAD_LENGTH_IN_LINES, "Content-Length: 3\r\n", "abc");
    CHECK(http1_response_frame(&f, &k, TORUS_EMIT_HEAD | TORUS_EMIT_END) == TORUS_OK);
    const char *t = text_of(k, text, sizeof(text));
    const char *length_line = strstr(t, "Content-Length");
    CHECK(length_line && strcmp(length_line, "Content-Length: 3\r\n\r\nabc") == 0); /* once */
    torus_chunk_free(k);
    http1_response_begin(&f, 1, true, false);
    k = part(TORUS_RESPONSE_FRONT_ROOM, 304, TORUS_HEAD_FINAL, TORUS_HEAD_BODY_NONE, -1, 0, "",
             NULL);
    CHECK(http1_response_frame(&f, &k, TORUS_EMIT_HEAD | TORUS_EMIT_END) == TORUS_OK);
    CHECK(strcmp(text_of(k, text, sizeof(text)),
                 "HTTP/1.1 304 Not Modified\r\nServer: torus\r\nDate: D\r\n\r\n") == 0);
    torus_chunk_free(k);

    /* An interim head: status line and lines only; the final head may follow. */
    http1_response_begin(&f, 1, true, false);
    k = part(TORUS_RESPONSE_FRONT_ROOM, 103, TORUS_HEAD_INTERIM, TORUS_HEAD_BODY_NONE, -1, 0,
             "Link: </a.css>; rel=preload\r\n", NULL);
    CHECK(http1_response_frame(&f, &k, TORUS_EMIT_HEAD) == TORUS_OK);
    CHECK(strcmp(text_of(k, text, sizeof(text)),
                 "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n") == 0);
    CHECK(f.framing == HTTP1_FRAMING_UNSET);
    torus_chunk_free(k);

    /* A head shorter than it says: refused. */
    k = part(TORUS_RESPONSE_FRONT_ROOM, 200, TORUS_HEAD_FINAL, TORUS_HEAD_BODY_LENGTH, 0, 0, "",
             NULL);
    k->len -= 4;
    CHECK(http1_response_frame(&f, &k, TORUS_EMIT_HEAD | TORUS_EMIT_END) == TORUS_ERROR);
    torus_chunk_free(k);
}

int main(void)
{
    test_reasons();
    test_dates();
    test_heads();
    test_http1_framing();
    printf("test_http_response: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
