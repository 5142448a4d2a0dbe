/*
 * Compression in the SAPI's response path (sapi/response_encoding.c),
 * without PHP: a response is driven through sapi/response.c with
 * compression settings, and its header list and body are checked.
 */
#include "sapi/response_encoding.c"

#include <stdio.h>
#include <zlib.h>

#include "check.h"
#include "net/compress_policy.h"
#include "runtime/response_head.h"

/* What the executor emitted: the head it handed over, and the body bytes after it. */
static struct torus_response_head emitted_head;
static struct torus_coding_buffer emitted; /* the body */

static void capture_emit(struct torus_executor_port *port, struct torus_request *request,
                         const char *data, size_t len, unsigned flags)
{
    (void)port;
    (void)request;
    if (flags & TORUS_EMIT_HEAD) {
        const char *lines;
        size_t lines_len;
        CHECK(torus_response_head_get(data, len, &emitted_head, &lines, &lines_len) == TORUS_OK);
        data += emitted_head.size;
        len -= emitted_head.size;
    }
    torus_coding_buffer_append(&emitted, data, len);
}

static struct torus_executor_port port = {.emit = capture_emit};
static struct torus_request request;
static struct torus_header request_headers[1];
static struct torus_sapi_response response;
static struct torus_compression settings;

/* A fresh response to a GET (or HEAD) that sends Accept-Encoding `accepted` (NULL: none). */
static void start(const char *accepted, bool head)
{
    emitted.len = 0;
    memset(&emitted_head, 0, sizeof(emitted_head));
    memset(&request, 0, sizeof(request));
    request.http_minor = 1;
    request.keep_alive = true;
    request.head = head;
    if (accepted) {
        request_headers[0].name = TORUS_STR("accept-encoding");
        request_headers[0].value = (torus_str){accepted, strlen(accepted)};
        request.headers = request_headers;
        request.header_count = 1;
    }
    torus_sapi_response_begin(&response, &port, &request);
}

static void header(const char *line)
{
    CHECK(torus_sapi_response_add_header(&response, line, strlen(line)) == TORUS_OK);
}

/* True when the response's header list holds exactly this line. */
static bool has_line(const char *line)
{
    char needle[256];
    int n = snprintf(needle, sizeof(needle), "%s\r\n", line);
    for (size_t at = 0; at < response.headers_len;) {
        const char *crlf = memmem(response.headers + at, response.headers_len - at, "\r\n", 2);
        size_t len = (size_t)(crlf - (response.headers + at)) + 2;
        if (len == (size_t)n && memcmp(response.headers + at, needle, len) == 0)
            return true;
        at += len;
    }
    return false;
}

static bool has_header(const char *name)
{
    struct header_line line;
    return header_find(&response, name, &line);
}

/* The body length the head announced (Content-Length), or -1. */
static long emitted_length(void)
{
    if (emitted_head.body != TORUS_HEAD_BODY_LENGTH ||
        (emitted_head.flags & TORUS_HEAD_LENGTH_IN_LINES))
        return -1;
    return (long)emitted_head.length;
}

static const char *emitted_body(size_t *len)
{
    *len = emitted.len;
    return emitted.data;
}

static char page[6000];

static void make_page(void)
{
    size_t at = 0;
    for (int i = 0; at + 40 < sizeof(page); i++)
        at += (size_t)snprintf(page + at, sizeof(page) - at, "<tr><td>row %d</td></tr>\n", i);
    memset(page + at, '.', sizeof(page) - at);
}

static void test_buffered_gzip(void)
{
    start("br;q=0.5, gzip", false);
    header("Content-Type: text/html; charset=UTF-8");
    header("ETag: \"v1\"");
    header("Vary: Cookie");
    header("Content-Length: 5000"); /* shorter than what is written: the body is cut to it */
    CHECK(torus_sapi_response_write(&response, page, sizeof(page)) == TORUS_OK);
    torus_sapi_response_end(&response, true);
    CHECK(has_line("Content-Encoding: gzip"));
    CHECK(has_line("Vary: Cookie, Accept-Encoding"));
    CHECK(has_line("ETag: W/\"v1\""));
    CHECK(!has_line("Content-Length: 5000"));
    size_t len;
    const char *body = emitted_body(&len);
    CHECK(emitted_length() == (long)len && len < 2000);
    char plain[8000];
    uLongf plain_len = sizeof(plain);
    z_stream z = {0};
    inflateInit2(&z, 16 + 15);
    z.next_in = (Bytef *)body;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)plain;
    z.avail_out = (uInt)plain_len;
    CHECK(inflate(&z, Z_FINISH) == Z_STREAM_END);
    CHECK(z.total_out == 5000 && memcmp(plain, page, 5000) == 0);
    inflateEnd(&z);
}

static void test_not_compressed(void)
{
    /* No Accept-Encoding: Vary all the same. */
    start(NULL, false);
    header("Content-Type: text/html");
    torus_sapi_response_write(&response, page, sizeof(page));
    torus_sapi_response_end(&response, true);
    CHECK(!has_header("Content-Encoding") && has_line("Vary: Accept-Encoding"));
    CHECK(emitted_length() == (long)sizeof(page));

    /* A Vary of "*" or one naming Accept-Encoding is kept as it is. */
    start("gzip", false);
    header("Content-Type: text/html");
    header("Vary: accept-encoding");
    torus_sapi_response_write(&response, page, sizeof(page));
    torus_sapi_response_end(&response, true);
    CHECK(has_line("Vary: accept-encoding") && has_line("Content-Encoding: gzip"));

    /* Not a compressible type, already encoded, no-transform, 206, 304: untouched. */
    static const char *const cases[][2] = {
        {"Content-Type: image/png", NULL},
        {"Content-Type: text/html", "Content-Encoding: br"},
        {"Content-Type: text/html", "Cache-Control: private, No-Transform"},
        {"Content-Type: text/html", "Status: 206"},
        {"Content-Type: text/html", "Status: 304"},
        {NULL, NULL}, /* no Content-Type */
    };
    for (size_t i = 0; i < TORUS_ARRAY_SIZE(cases); i++) {
        start("gzip, br, zstd", false);
        if (cases[i][0])
            header(cases[i][0]);
        if (cases[i][1])
            header(cases[i][1]);
        torus_sapi_response_write(&response, page, sizeof(page));
        torus_sapi_response_end(&response, true);
        CHECK(!has_header("Vary"));
        CHECK(!has_line("Content-Encoding: zstd"));
    }

    /* Below the minimum size: sent as it is, with Vary. */
    start("zstd", false);
    header("Content-Type: application/json");
    torus_sapi_response_write(&response, page, 1023);
    torus_sapi_response_end(&response, true);
    CHECK(!has_header("Content-Encoding") && has_header("Vary") && emitted_length() == 1023);

    /* Compression off. */
    settings.enabled = false;
    start("gzip", false);
    header("Content-Type: text/html");
    torus_sapi_response_write(&response, page, sizeof(page));
    torus_sapi_response_end(&response, true);
    CHECK(!has_header("Content-Encoding") && !has_header("Vary"));
    settings.enabled = true;
}

static void test_head(void)
{
    start("zstd", true);
    header("Content-Type: text/html");
    header("ETag: \"h\"");
    torus_sapi_response_write(&response, page, sizeof(page));
    torus_sapi_response_end(&response, true);
    CHECK(has_line("Content-Encoding: zstd") && has_line("ETag: W/\"h\""));
    CHECK(emitted_length() == -1);
    size_t len;
    emitted_body(&len);
    CHECK(len == 0);
}

int main(void)
{
    make_page();
    torus_compression_defaults(&settings);
    torus_sapi_response_init(&response);
    response.encoding.settings = &settings;
    test_buffered_gzip();
    test_not_compressed();
    test_head();
    torus_sapi_response_free(&response);
    free(emitted.data);
    printf("test_sapi_response_encoding: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
