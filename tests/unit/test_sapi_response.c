/*
 * The SAPI's response (sapi/response.c), without PHP: header lines and body
 * bytes go in; the emitted parts (a head, runtime/response_head.h, and raw
 * body bytes) are framed by the HTTP/1.1 session's framing
 * (net/http1_response.c) as the I/O thread does, and checked as a client
 * would read them.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/request.h"
#include "tests/unit/http1_capture.h"
#include "sapi/response.h"

static int failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                        \
        }                                                                                          \
    } while (0)

struct capture {
    struct torus_executor_port port;
    struct http1_response framing; /* the I/O thread's HTTP/1.1 framing of the parts */
    char *bytes;
    size_t len;
    int emits;
    int heads;           /* parts that carried a head */
    unsigned flags;      /* of every emit, OR-ed (TORUS_EMIT_HEAD left out) */
    unsigned last_flags; /* of the last emit */
    size_t len_at_first_emit;
    bool framing_failed;
};

/* The executor's port and the I/O thread in one: the part is framed for HTTP/1.1 and what a client
 * would receive is appended. */
static void capture_emit(struct torus_executor_port *port, struct torus_request *request,
                         const char *data, size_t len, unsigned flags)
{
    (void)request;
    struct capture *c = (struct capture *)port;
    if (!http1_capture(&c->framing, data, len, flags, &c->bytes, &c->len))
        c->framing_failed = true;
    if (c->emits == 0)
        c->len_at_first_emit = c->len;
    c->emits++;
    c->heads += (flags & TORUS_EMIT_HEAD) != 0;
    flags &= ~TORUS_EMIT_HEAD;
    if ((flags & TORUS_EMIT_END) && !c->framing.keep_alive)
        flags |= TORUS_EMIT_CLOSE; /* as net/dispatch.c decides at the END */
    c->flags |= flags;
    c->last_flags = flags;
}

static struct capture capture;
static struct torus_request request;
static struct torus_sapi_response response;

/* A fresh response to a kept-alive HTTP/1.1 GET (adjust `request` before calling). */
static void start(bool head, uint8_t http_minor, bool keep_alive)
{
    free(capture.bytes);
    memset(&capture, 0, sizeof(capture));
    capture.port.emit = capture_emit;
    memset(&request, 0, sizeof(request));
    request.head = head;
    request.http_minor = http_minor;
    request.keep_alive = keep_alive;
    http1_response_begin(&capture.framing, http_minor, keep_alive, head);
    torus_sapi_response_begin(&response, &capture.port, &request);
}

static void header(const char *line)
{
    CHECK(torus_sapi_response_add_header(&response, line, strlen(line)) == TORUS_OK);
}

static void write_text(const char *text)
{
    CHECK(torus_sapi_response_write(&response, text, strlen(text)) == TORUS_OK);
}

/* Where the body starts in what was emitted (after the first blank line). */
static const char *body_of(void)
{
    const char *end = capture.bytes ? strstr(capture.bytes, "\r\n\r\n") : NULL;
    return end ? end + 4 : "";
}

static bool has_line(const char *line)
{
    char needle[512];
    snprintf(needle, sizeof(needle), "\r\n%s\r\n", line);
    const char *end = strstr(capture.bytes, "\r\n\r\n");
    const char *found = strstr(capture.bytes, needle);
    return found && end && found < end + 2;
}

static bool has_header(const char *name)
{
    char needle[128];
    snprintf(needle, sizeof(needle), "\r\n%s:", name);
    const char *end = strstr(capture.bytes, "\r\n\r\n");
    const char *found = strstr(capture.bytes, needle);
    return found && end && found < end;
}

static void test_buffered(void)
{
    start(false, 1, true);
    header("X-A: 1");
    header("Content-Type: text/plain");
    write_text("abc");
    torus_sapi_response_end(&response, true);
    CHECK(capture.emits == 1);
    CHECK(capture.flags == (TORUS_EMIT_END | TORUS_EMIT_RELEASE));
    CHECK(strncmp(capture.bytes, "HTTP/1.1 200 OK\r\nServer: torus\r\nDate: ", 38) == 0);
    CHECK(has_line("X-A: 1"));
    CHECK(has_line("Content-Type: text/plain"));
    CHECK(has_line("Content-Length: 3"));
    CHECK(!has_header("Connection"));
    CHECK(strcmp(body_of(), "abc") == 0);
    CHECK(request.status == 200);
}

/* More header bytes than the headroom holds: the headroom grows and the body stays intact. */
static void test_large_head(void)
{
    start(false, 1, true);
    char line[1100];
    for (int i = 0; i < 12; i++) {
        int n = snprintf(line, sizeof(line), "X-Big-%02d: ", i);
        memset(line + n, 'a' + i, 1000);
        line[n + 1000] = '\0';
        header(line);
    }
    static char body[5000];
    for (size_t i = 0; i < sizeof(body); i++)
        body[i] = (char)('0' + i % 10);
    CHECK(torus_sapi_response_write(&response, body, sizeof(body)) == TORUS_OK);
    torus_sapi_response_end(&response, true);
    CHECK(capture.emits == 1);
    CHECK(has_line("Content-Length: 5000"));
    CHECK(has_header("X-Big-00") && has_header("X-Big-11"));
    CHECK(strlen(body_of()) == sizeof(body) && memcmp(body_of(), body, sizeof(body)) == 0);

    /* The next response reuses the grown buffer. */
    start(false, 1, true);
    write_text("small");
    torus_sapi_response_end(&response, true);
    CHECK(strcmp(body_of(), "small") == 0);
    CHECK(has_line("Content-Length: 5"));
}

static void test_chunked(void)
{
    start(false, 1, true);
    write_text("ab");
    CHECK(torus_sapi_response_flush(&response) == TORUS_OK);
    CHECK(capture.emits == 1);
    CHECK(!(capture.flags & TORUS_EMIT_END));
    write_text("cd");
    torus_sapi_response_end(&response, true);
    CHECK(has_line("Transfer-Encoding: chunked"));
    CHECK(!has_header("Content-Length"));
    CHECK(strcmp(body_of(), "2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n") == 0);
    CHECK(capture.last_flags == (TORUS_EMIT_END | TORUS_EMIT_RELEASE));
}

static void test_close_delimited(void)
{
    start(false, 0, true);
    write_text("ab");
    torus_sapi_response_flush(&response);
    write_text("cd");
    torus_sapi_response_end(&response, true);
    CHECK(!has_header("Transfer-Encoding"));
    CHECK(has_line("Connection: close"));
    CHECK(strcmp(body_of(), "abcd") == 0);
    CHECK(capture.last_flags & TORUS_EMIT_CLOSE);
}

static void test_declared_length(void)
{
    /* Streaming up to the script's Content-Length: extra bytes are dropped, the connection stays.
     */
    start(false, 1, true);
    header("Content-Length: 4");
    torus_sapi_response_flush(&response);
    write_text("abcdef");
    torus_sapi_response_end(&response, true);
    CHECK(!has_header("Transfer-Encoding"));
    CHECK(has_line("Content-Length: 4"));
    CHECK(strcmp(body_of(), "abcd") == 0);
    CHECK(!(capture.flags & TORUS_EMIT_CLOSE));

    /* Fewer bytes than announced: the connection must close. */
    start(false, 1, true);
    header("Content-Length: 10");
    write_text("abc");
    torus_sapi_response_end(&response, true);
    CHECK(strcmp(body_of(), "abc") == 0);
    CHECK(capture.flags & TORUS_EMIT_CLOSE);

    /* Not a number: dropped, the server counts. */
    start(false, 1, true);
    header("Content-Length: 12abc");
    write_text("xyz");
    torus_sapi_response_end(&response, true);
    CHECK(has_line("Content-Length: 3"));
}

static void test_head(void)
{
    start(true, 1, true);
    write_text("hello");
    torus_sapi_response_end(&response, true);
    CHECK(has_line("Content-Length: 5"));
    CHECK(strcmp(body_of(), "") == 0);

    start(true, 1, true);
    write_text("hello");
    torus_sapi_response_flush(&response);
    write_text(" world");
    torus_sapi_response_end(&response, true);
    CHECK(has_line("Transfer-Encoding: chunked"));
    CHECK(strcmp(body_of(), "") == 0);
    CHECK(!(capture.flags & TORUS_EMIT_CLOSE));
}

static void test_statuses_without_body(void)
{
    start(false, 1, true);
    torus_sapi_response_set_status(&response, 304);
    write_text("ignored");
    torus_sapi_response_end(&response, true);
    CHECK(strncmp(capture.bytes, "HTTP/1.1 304 Not Modified\r\n", 27) == 0);
    CHECK(!has_header("Content-Length"));
    CHECK(strcmp(body_of(), "") == 0);
    CHECK(request.status == 304);

    start(false, 1, true);
    torus_sapi_response_set_status(&response, 204);
    torus_sapi_response_flush(&response);
    write_text("ignored");
    torus_sapi_response_end(&response, true);
    CHECK(!has_header("Transfer-Encoding") && !has_header("Content-Length"));
    CHECK(strcmp(body_of(), "") == 0);
}

static void test_header_rules(void)
{
    start(false, 1, true);
    header("Status: 404 Not Found");
    header("Date: yesterday");
    header("Server: apache");
    header("Transfer-Encoding: gzip");
    header("Connection: keep-alive, close");
    header("no colon here");
    header("X-Kept:   padded value  ");
    write_text("x");
    torus_sapi_response_end(&response, true);
    CHECK(strncmp(capture.bytes, "HTTP/1.1 404 Not Found\r\n", 24) == 0);
    CHECK(!has_line("Date: yesterday") && !has_line("Server: apache"));
    CHECK(!has_header("Transfer-Encoding") && !has_header("Status"));
    CHECK(has_line("Connection: close"));
    CHECK(capture.flags & TORUS_EMIT_CLOSE);
    CHECK(has_line("X-Kept: padded value"));
    CHECK(!strstr(capture.bytes, "no colon"));

    /* Status: only applies while the status is still 200 */
    start(false, 1, true);
    torus_sapi_response_set_status(&response, 201);
    header("Status: 500 Oops");
    torus_sapi_response_end(&response, true);
    CHECK(strncmp(capture.bytes, "HTTP/1.1 201 Created\r\n", 22) == 0);

    start(false, 1, true);
    torus_sapi_response_set_status(&response, 42);
    torus_sapi_response_end(&response, true);
    CHECK(strncmp(capture.bytes, "HTTP/1.1 500 ", 13) == 0);
}

/* Header lines that could split the response make it a bare 500 (defence in depth). */
static void test_unsafe_headers(void)
{
    static const char *const unsafe[] = {
        "X-A: one\r\nX-Injected: two",
        "X-A: one\nHTTP/1.1 200 OK",
        "X-A: a\rb",
        "X A: b",
        "X-A\x01: b",
        "X-A(: b",
    };
    for (size_t i = 0; i < sizeof(unsafe) / sizeof(unsafe[0]); i++) {
        start(false, 1, true);
        header("X-Before: kept?");
        header(unsafe[i]);
        header("X-After: never");
        torus_sapi_response_set_status(&response, 201);
        write_text("the script's body");
        torus_sapi_response_end(&response, true);
        CHECK(strncmp(capture.bytes, "HTTP/1.1 500 ", 13) == 0);
        CHECK(!has_header("X-Before") && !has_header("X-After") && !has_header("X-Injected"));
        CHECK(!strstr(capture.bytes, "the script's body"));
        CHECK(has_line("Content-Length: 0"));
        CHECK(request.status == 500);
    }
    /* A NUL inside a value (the line's length tells where it ends). */
    start(false, 1, true);
    torus_sapi_response_add_header(&response, "X-A: a\0b", 8);
    torus_sapi_response_end(&response, true);
    CHECK(strncmp(capture.bytes, "HTTP/1.1 500 ", 13) == 0);
    /* HEAD: no Content-Length of a body that was never sent. */
    start(true, 1, true);
    header("X-A: a\r\nb");
    write_text("12345");
    torus_sapi_response_end(&response, true);
    CHECK(strncmp(capture.bytes, "HTTP/1.1 500 ", 13) == 0);
    CHECK(has_line("Content-Length: 0"));
    /* The next response starts clean. */
    start(false, 1, true);
    header("X-Fine: yes");
    torus_sapi_response_end(&response, true);
    CHECK(strncmp(capture.bytes, "HTTP/1.1 200 ", 13) == 0 && has_line("X-Fine: yes"));
}

static void test_buffer_limit(void)
{
    start(false, 1, true);
    size_t size = TORUS_SAPI_RESPONSE_BUFFER_LIMIT + TORUS_SAPI_RESPONSE_BUFFER_LIMIT / 2;
    char *block = malloc(4096);
    memset(block, 'q', 4096);
    for (size_t sent = 0; sent < size; sent += 4096)
        torus_sapi_response_write(&response, block, 4096);
    CHECK(capture.emits >= 1); /* streaming started before the end */
    torus_sapi_response_end(&response, true);
    CHECK(has_line("Transfer-Encoding: chunked"));
    CHECK(capture.emits > 2);
    CHECK(capture.last_flags & TORUS_EMIT_END);
    free(block);
}

static void test_interim_and_finish(void)
{
    start(false, 1, true);
    const char *link = "Link: </a.css>; rel=preload\r\n";
    CHECK(torus_sapi_response_interim(&response, 103, link, strlen(link)) == TORUS_OK);
    CHECK(strcmp(capture.bytes,
                 "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n") == 0);
    write_text("ok");
    torus_sapi_response_flush(&response);
    CHECK(torus_sapi_response_interim(&response, 103, "", 0) == TORUS_ERROR);
    torus_sapi_response_end(&response, false); /* fastcgi_finish_request() */
    CHECK(capture.last_flags == TORUS_EMIT_END);
    write_text("dropped");
    int emits = capture.emits;
    torus_sapi_response_end(&response, true);
    CHECK(capture.emits == emits + 1);
    CHECK(capture.last_flags == TORUS_EMIT_RELEASE);
    CHECK(!strstr(capture.bytes, "dropped"));
    torus_sapi_response_end(&response, true); /* released once only */
    CHECK(capture.emits == emits + 1);

    start(false, 0, true);
    CHECK(torus_sapi_response_interim(&response, 103, "", 0) == TORUS_ERROR);
    CHECK(capture.emits == 0);
}

static void test_keep_alive(void)
{
    start(false, 1, false);
    torus_sapi_response_end(&response, true);
    CHECK(has_line("Connection: close"));
    CHECK(capture.flags & TORUS_EMIT_CLOSE);

    start(false, 0, true);
    torus_sapi_response_end(&response, true);
    CHECK(has_line("Connection: keep-alive"));
    CHECK(!(capture.flags & TORUS_EMIT_CLOSE));
}

int main(void)
{
    torus_sapi_response_init(&response);
    test_buffered();
    test_large_head();
    test_chunked();
    test_close_delimited();
    test_declared_length();
    test_head();
    test_statuses_without_body();
    test_header_rules();
    test_unsafe_headers();
    test_buffer_limit();
    test_interim_and_finish();
    test_keep_alive();
    torus_sapi_response_free(&response);
    free(capture.bytes);
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("test_sapi_response: all checks passed\n");
    return 0;
}
