/*
 * torus_static_respond() and its cache, through the public API, on files
 * made in a mkdtemp() directory with known contents and mtimes: the heads
 * of 200, 304, 206 and 416, HEAD, If-None-Match / If-Modified-Since /
 * If-Range, memory and file-descriptor bodies, revalidation after a change,
 * LRU eviction, pins outliving their entry, and the mime table.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/static.h"
#include "tests/unit/check.h"

#define MTIME      1700000000 /* 0x6553f100: Tue, 14 Nov 2023 22:13:20 GMT */
#define MTIME_TAG  "6553f100"
#define MTIME_HTTP "Tue, 14 Nov 2023 22:13:20 GMT"
#define NOW        1800000000

static char dir[PATH_MAX];

static void path_of(char *out, const char *name)
{
    snprintf(out, PATH_MAX, "%.*s/%.*s", 3000, dir, 1000, name);
}

/* Writes name with `len` bytes of content and sets its mtime. */
static void write_file(const char *name, const char *content, size_t len, time_t mtime)
{
    char path[PATH_MAX];
    path_of(path, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, content, len) != (ssize_t)len) {
        perror(path);
        exit(1);
    }
    struct timespec times[2] = {{mtime, 0}, {mtime, 0}};
    if (futimens(fd, times) != 0) {
        perror("futimens");
        exit(1);
    }
    close(fd);
}

static void set_mtime(const char *name, time_t mtime)
{
    char path[PATH_MAX];
    path_of(path, name);
    struct timespec times[2] = {{mtime, 0}, {mtime, 0}};
    if (utimensat(AT_FDCWD, path, times, 0) != 0) {
        perror("utimensat");
        exit(1);
    }
}

/* The value of header `name` in the head, copied into a static buffer, or NULL. */
static const char *header(const struct torus_static_response *resp, const char *name)
{
    static char value[512];
    size_t name_len = strlen(name);
    const char *p = memchr(resp->head, '\n', resp->head_len);
    const char *end = resp->head + resp->head_len;
    while (p != NULL && p + 1 < end) {
        p++;
        const char *line_end = memchr(p, '\r', (size_t)(end - p));
        if (line_end == NULL)
            return NULL;
        if ((size_t)(line_end - p) > name_len + 1 && strncasecmp(p, name, name_len) == 0 &&
            p[name_len] == ':') {
            const char *v = p + name_len + 1;
            while (*v == ' ')
                v++;
            snprintf(value, sizeof(value), "%.*s", (int)(line_end - v), v);
            return value;
        }
        p = memchr(line_end, '\n', (size_t)(end - line_end));
    }
    return NULL;
}

static bool header_is(const struct torus_static_response *resp, const char *name,
                      const char *expected)
{
    const char *value = header(resp, name);
    if (value == NULL || strcmp(value, expected) != 0) {
        fprintf(stderr, "  %s: '%s', want '%s'\n", name, value ? value : "(absent)", expected);
        return false;
    }
    return true;
}

static bool status_line_is(const struct torus_static_response *resp, const char *expected)
{
    size_t len = strlen(expected);
    bool ok = resp->head_len > len + 2 && memcmp(resp->head, expected, len) == 0 &&
              resp->head[len] == '\r' && resp->head_len >= 4 &&
              memcmp(resp->head + resp->head_len - 4, "\r\n\r\n", 4) == 0;
    if (!ok)
        fprintf(stderr, "  head: %.*s\n", (int)resp->head_len, resp->head);
    return ok;
}

static bool body_is(const struct torus_static_response *resp, const char *expected)
{
    size_t len = strlen(expected);
    bool ok = resp->body != NULL && resp->body_len == len &&
              memcmp(resp->body, expected, len) == 0 && resp->fd == -1;
    if (!ok)
        fprintf(stderr, "  body: '%.*s' (%zu bytes, fd %d), want '%s'\n", (int)resp->body_len,
                resp->body ? resp->body : "", resp->body_len, resp->fd, expected);
    return ok;
}

static bool no_body(const struct torus_static_response *resp)
{
    return resp->body == NULL && resp->body_len == 0 && resp->fd == -1 && resp->pin == NULL;
}

static torus_str str(const char *text)
{
    return (torus_str){text, text ? strlen(text) : 0};
}

static struct torus_static_request get(void)
{
    struct torus_static_request req = {
        .head = false, .http_minor = 1, .keep_alive = true, .now = NOW};
    return req;
}

static struct torus_static_cache *cache;

static int respond(const char *name, const struct torus_static_request *req,
                   struct torus_static_response *resp)
{
    char path[PATH_MAX];
    path_of(path, name);
    return torus_static_respond(cache, path, strlen(path), req, resp);
}

/* The head without its Date line (which may tick between two requests). */
static void head_without_date(const struct torus_static_response *resp, char *out, size_t size)
{
    const char *date = strstr(resp->head, "\r\nDate: ");
    size_t before = date ? (size_t)(date - resp->head) : resp->head_len;
    const char *after = date ? strstr(date + 2, "\r\n") : resp->head + resp->head_len;
    snprintf(out, size, "%.*s%.*s", (int)before, resp->head,
             (int)(resp->head + resp->head_len - after), after);
}

static void test_full_response(void)
{
    struct torus_static_request req = get();
    struct torus_static_response resp;
    CHECK(respond("hello.txt", &req, &resp) == TORUS_OK);
    CHECK(resp.status == 200);
    CHECK(status_line_is(&resp, "HTTP/1.1 200 OK"));
    CHECK(header_is(&resp, "Content-Type", "text/plain; charset=utf-8"));
    CHECK(header_is(&resp, "Content-Length", "11"));
    CHECK(header_is(&resp, "ETag", "\"" MTIME_TAG "-b\""));
    CHECK(header_is(&resp, "Last-Modified", MTIME_HTTP));
    CHECK(header_is(&resp, "Accept-Ranges", "bytes"));
    CHECK(header(&resp, "Content-Range") == NULL);
    CHECK(header(&resp, "Connection") == NULL);
    CHECK(body_is(&resp, "hello world"));
    CHECK(resp.pin != NULL);
    char get_head[1024];
    head_without_date(&resp, get_head, sizeof(get_head));
    torus_static_response_release(cache, &resp);
    CHECK(resp.pin == NULL && resp.body == NULL);
    torus_static_response_release(cache, &resp); /* twice is harmless */

    /* HEAD: the same head, no body. */
    req.head = true;
    CHECK(respond("hello.txt", &req, &resp) == TORUS_OK);
    char head_head[1024];
    head_without_date(&resp, head_head, sizeof(head_head));
    CHECK(strcmp(get_head, head_head) == 0);
    CHECK(no_body(&resp));
    torus_static_response_release(cache, &resp);

    /* Connection handling comes from torus_http_head. */
    req = get();
    req.keep_alive = false;
    CHECK(respond("hello.txt", &req, &resp) == TORUS_OK);
    CHECK(header_is(&resp, "Connection", "close"));
    torus_static_response_release(cache, &resp);
    req.keep_alive = true;
    req.http_minor = 0;
    CHECK(respond("hello.txt", &req, &resp) == TORUS_OK);
    CHECK(status_line_is(&resp, "HTTP/1.1 200 OK"));
    CHECK(header_is(&resp, "Connection", "keep-alive"));
    torus_static_response_release(cache, &resp);

    /* Content types follow the file name. */
    req = get();
    CHECK(respond("page.html", &req, &resp) == TORUS_OK);
    CHECK(header_is(&resp, "Content-Type", "text/html; charset=utf-8"));
    CHECK(body_is(&resp, "<h1>hi</h1>"));
    torus_static_response_release(cache, &resp);

    /* An empty file. */
    CHECK(respond("empty.bin", &req, &resp) == TORUS_OK);
    CHECK(resp.status == 200 && header_is(&resp, "Content-Length", "0"));
    CHECK(header_is(&resp, "Content-Type", "application/octet-stream"));
    CHECK(no_body(&resp));
    torus_static_response_release(cache, &resp);
}

/* Status of a GET for hello.txt with these headers (NULL: absent). */
static int conditional_status(const char *if_none_match, const char *if_modified_since,
                              struct torus_static_response *resp)
{
    struct torus_static_request req = get();
    req.if_none_match = str(if_none_match);
    req.if_modified_since = str(if_modified_since);
    if (respond("hello.txt", &req, resp) != TORUS_OK)
        return -1;
    return resp->status;
}

static void test_conditional(void)
{
    struct torus_static_response resp;
    const char *etag = "\"" MTIME_TAG "-b\"";

    CHECK(conditional_status(etag, NULL, &resp) == 304);
    CHECK(status_line_is(&resp, "HTTP/1.1 304 Not Modified"));
    CHECK(header_is(&resp, "ETag", etag));
    CHECK(header_is(&resp, "Last-Modified", MTIME_HTTP));
    CHECK(header(&resp, "Content-Length") == NULL);
    CHECK(header(&resp, "Content-Type") == NULL);
    CHECK(no_body(&resp));
    torus_static_response_release(cache, &resp);

    CHECK(conditional_status("W/\"" MTIME_TAG "-b\"", NULL, &resp) == 304);
    CHECK(conditional_status("\"other\", W/\"" MTIME_TAG "-b\"", NULL, &resp) == 304);
    CHECK(conditional_status("\"a\",\"" MTIME_TAG "-b\"", NULL, &resp) == 304);
    CHECK(conditional_status("*", NULL, &resp) == 304);
    CHECK(conditional_status(" \"" MTIME_TAG "-b\" ", NULL, &resp) == 304);
    CHECK(conditional_status("\"other\"", NULL, &resp) == 200);
    CHECK(body_is(&resp, "hello world"));
    torus_static_response_release(cache, &resp);
    CHECK(conditional_status("\"" MTIME_TAG "-c\"", NULL, &resp) == 200);
    torus_static_response_release(cache, &resp);
    CHECK(conditional_status(MTIME_TAG "-b", NULL, &resp) == 200); /* unquoted: not an entity-tag */
    torus_static_response_release(cache, &resp);
    CHECK(conditional_status("", NULL, &resp) == 200);
    torus_static_response_release(cache, &resp);

    /* If-Modified-Since. */
    CHECK(conditional_status(NULL, MTIME_HTTP, &resp) == 304);
    CHECK(header_is(&resp, "ETag", etag) && header(&resp, "Content-Length") == NULL);
    CHECK(conditional_status(NULL, "Wed, 15 Nov 2023 00:00:00 GMT", &resp) == 304);
    CHECK(conditional_status(NULL, "Tue, 14 Nov 2023 22:13:19 GMT", &resp) == 200);
    torus_static_response_release(cache, &resp);
    CHECK(conditional_status(NULL, "yesterday", &resp) == 200);
    torus_static_response_release(cache, &resp);

    /* If-None-Match wins over If-Modified-Since, both ways. */
    CHECK(conditional_status("\"other\"", MTIME_HTTP, &resp) == 200);
    torus_static_response_release(cache, &resp);
    CHECK(conditional_status(etag, "Tue, 14 Nov 2023 22:13:19 GMT", &resp) == 304);

    /* HEAD gets the same 304. */
    struct torus_static_request req = get();
    req.head = true;
    req.if_none_match = str(etag);
    CHECK(respond("hello.txt", &req, &resp) == TORUS_OK && resp.status == 304 && no_body(&resp));
}

/* A GET (or HEAD) of hello.txt with Range and If-Range (NULL: absent). */
static int range_status(const char *range, const char *if_range, bool head,
                        struct torus_static_response *resp)
{
    struct torus_static_request req = get();
    req.range = str(range);
    req.if_range = str(if_range);
    req.head = head;
    if (respond("hello.txt", &req, resp) != TORUS_OK)
        return -1;
    return resp->status;
}

static void check_partial(const char *range, const char *content_range, const char *body, int line)
{
    struct torus_static_response resp;
    int status = range_status(range, NULL, false, &resp);
    char length[32];
    snprintf(length, sizeof(length), "%zu", strlen(body));
    checks++;
    if (status != 206 || !status_line_is(&resp, "HTTP/1.1 206 Partial Content") ||
        !header_is(&resp, "Content-Range", content_range) ||
        !header_is(&resp, "Content-Length", length) || !body_is(&resp, body) ||
        !header_is(&resp, "ETag", "\"" MTIME_TAG "-b\"")) {
        failures++;
        fprintf(stderr, "line %d: Range %s gave %d\n", line, range, status);
    }
    torus_static_response_release(cache, &resp);
}

static void check_full(const char *range, const char *if_range, int line)
{
    struct torus_static_response resp;
    int status = range_status(range, if_range, false, &resp);
    checks++;
    if (status != 200 || !body_is(&resp, "hello world") || header(&resp, "Content-Range") != NULL) {
        failures++;
        fprintf(stderr, "line %d: Range %s If-Range %s gave %d, want 200\n", line, range,
                if_range ? if_range : "-", status);
    }
    torus_static_response_release(cache, &resp);
}

static void check_unsatisfiable(const char *range, int line)
{
    struct torus_static_response resp;
    int status = range_status(range, NULL, false, &resp);
    checks++;
    if (status != 416 || !status_line_is(&resp, "HTTP/1.1 416 Range Not Satisfiable") ||
        !header_is(&resp, "Content-Range", "bytes */11") || !no_body(&resp) ||
        !header_is(&resp, "Content-Length", "0")) {
        failures++;
        fprintf(stderr, "line %d: Range %s gave %d, want 416\n", line, range, status);
    }
    torus_static_response_release(cache, &resp);
}

#define PARTIAL(range, content_range, body) check_partial(range, content_range, body, __LINE__)
#define FULL(range, if_range)               check_full(range, if_range, __LINE__)
#define UNSATISFIABLE(range)                check_unsatisfiable(range, __LINE__)

static void test_ranges(void)
{
    PARTIAL("bytes=0-4", "bytes 0-4/11", "hello");
    PARTIAL("bytes=6-", "bytes 6-10/11", "world");
    PARTIAL("bytes=-3", "bytes 8-10/11", "rld");
    PARTIAL("bytes=-100", "bytes 0-10/11", "hello world");
    PARTIAL("bytes=3-100", "bytes 3-10/11", "lo world");
    PARTIAL("bytes=10-10", "bytes 10-10/11", "d");
    PARTIAL("bytes=0-99999999999999999999999", "bytes 0-10/11", "hello world");
    PARTIAL("Bytes=0-0", "bytes 0-0/11", "h");
    PARTIAL(" bytes=1-2 ", "bytes 1-2/11", "el");

    /* Several ranges or bad syntax: ignored. */
    FULL("bytes=0-1,3-4", NULL);
    FULL("bytes=0-1, 5-", NULL);
    FULL("bytes=abc", NULL);
    FULL("bytes=", NULL);
    FULL("bytes=-", NULL);
    FULL("bytes=5-2", NULL);
    FULL("bytes=1-2x", NULL);
    FULL("items=0-1", NULL);
    FULL("bytes 0-1", NULL);
    FULL("", NULL);

    UNSATISFIABLE("bytes=11-");
    UNSATISFIABLE("bytes=11-20");
    UNSATISFIABLE("bytes=99999999999999999999-");
    UNSATISFIABLE("bytes=-0");

    /* If-Range: a strong match keeps the range, anything else sends it all. */
    struct torus_static_response resp;
    CHECK(range_status("bytes=0-4", "\"" MTIME_TAG "-b\"", false, &resp) == 206);
    CHECK(body_is(&resp, "hello"));
    torus_static_response_release(cache, &resp);
    CHECK(range_status("bytes=0-4", MTIME_HTTP, false, &resp) == 206);
    torus_static_response_release(cache, &resp);
    FULL("bytes=0-4", "\"other\"");
    FULL("bytes=0-4", "W/\"" MTIME_TAG "-b\"");
    FULL("bytes=0-4", "Tue, 14 Nov 2023 22:13:21 GMT");
    FULL("bytes=0-4", "garbage");

    /* HEAD with a range: the 206 head, no body. */
    CHECK(range_status("bytes=0-4", NULL, true, &resp) == 206);
    CHECK(header_is(&resp, "Content-Range", "bytes 0-4/11") &&
          header_is(&resp, "Content-Length", "5"));
    CHECK(no_body(&resp));
    torus_static_response_release(cache, &resp);

    /* A validator that matches wins over the range. */
    struct torus_static_request req = get();
    req.range = str("bytes=0-4");
    req.if_none_match = str("\"" MTIME_TAG "-b\"");
    CHECK(respond("hello.txt", &req, &resp) == TORUS_OK && resp.status == 304);
    torus_static_response_release(cache, &resp);

    /* Nothing in an empty file can be asked for. */
    req = get();
    req.range = str("bytes=0-");
    CHECK(respond("empty.bin", &req, &resp) == TORUS_OK && resp.status == 416);
    CHECK(header_is(&resp, "Content-Range", "bytes */0"));
    torus_static_response_release(cache, &resp);
}

#define BIG_SIZE (200 * 1024)

static void test_large_file(void)
{
    struct torus_static_request req = get();
    struct torus_static_response resp;
    CHECK(respond("big.bin", &req, &resp) == TORUS_OK);
    CHECK(resp.status == 200 && header_is(&resp, "Content-Length", "204800"));
    CHECK(header_is(&resp, "ETag", "\"" MTIME_TAG "-32000\""));
    CHECK(resp.body == NULL && resp.pin == NULL && resp.fd >= 0);
    CHECK(resp.offset == 0 && resp.length == BIG_SIZE);
    unsigned char byte = 0;
    CHECK(pread(resp.fd, &byte, 1, 1000) == 1 && byte == (unsigned char)(1000 % 251));
    int fd = resp.fd;
    torus_static_response_release(cache, &resp);
    CHECK(resp.fd == -1);
    CHECK(fcntl(fd, F_GETFD) == -1 && errno == EBADF); /* closed by release */

    req.range = str("bytes=100000-100009");
    CHECK(respond("big.bin", &req, &resp) == TORUS_OK);
    CHECK(resp.status == 206 && header_is(&resp, "Content-Range", "bytes 100000-100009/204800"));
    CHECK(resp.fd >= 0 && resp.offset == 100000 && resp.length == 10);
    torus_static_response_release(cache, &resp);

    /* No body: no descriptor left open. */
    req = get();
    req.head = true;
    CHECK(respond("big.bin", &req, &resp) == TORUS_OK);
    CHECK(resp.status == 200 && header_is(&resp, "Content-Length", "204800") && no_body(&resp));
    req = get();
    req.if_none_match = str("*");
    CHECK(respond("big.bin", &req, &resp) == TORUS_OK && resp.status == 304 && no_body(&resp));
    req = get();
    req.range = str("bytes=204800-");
    CHECK(respond("big.bin", &req, &resp) == TORUS_OK && resp.status == 416 && no_body(&resp));
}

static void test_revalidation(void)
{
    struct torus_static_request req = get();
    req.now = NOW + 100;
    struct torus_static_response old, resp;
    write_file("change.txt", "first", 5, MTIME);
    CHECK(respond("change.txt", &req, &old) == TORUS_OK && body_is(&old, "first"));

    /* Changed within the same second: the cached copy is still trusted. */
    write_file("change.txt", "SECND", 5, MTIME);
    CHECK(respond("change.txt", &req, &resp) == TORUS_OK && body_is(&resp, "first"));
    torus_static_response_release(cache, &resp);

    /* Two seconds later: one stat() notices, the new bytes and validators are served. */
    set_mtime("change.txt", MTIME + 100);
    req.now = NOW + 102;
    CHECK(respond("change.txt", &req, &resp) == TORUS_OK && body_is(&resp, "SECND"));
    CHECK(header_is(&resp, "ETag", "\"6553f164-5\""));
    CHECK(header_is(&resp, "Last-Modified", "Tue, 14 Nov 2023 22:15:00 GMT"));
    torus_static_response_release(cache, &resp);
    /* The response made before the change still reads its own bytes (ASan checks this). */
    CHECK(body_is(&old, "first"));
    torus_static_response_release(cache, &old);

    /* The old validator no longer matches. */
    req.if_none_match = str("\"" MTIME_TAG "-5\"");
    CHECK(respond("change.txt", &req, &resp) == TORUS_OK && resp.status == 200);
    torus_static_response_release(cache, &resp);

    /* Unchanged: revalidated, still served. */
    req = get();
    req.now = NOW + 200;
    CHECK(respond("change.txt", &req, &resp) == TORUS_OK && body_is(&resp, "SECND"));
    torus_static_response_release(cache, &resp);

    /* Gone: an error the caller turns into 404. */
    char path[PATH_MAX];
    path_of(path, "change.txt");
    unlink(path);
    req.now = NOW + 300;
    CHECK(respond("change.txt", &req, &resp) == TORUS_ERROR && resp.status == 404);
    CHECK(resp.head_len == 0 && no_body(&resp));
    torus_static_response_release(cache, &resp);

    /* Not a regular file. */
    CHECK(respond("", &req, &resp) == TORUS_ERROR && resp.status == 404);
    CHECK(respond("missing", &req, &resp) == TORUS_ERROR && resp.status == 404);

    /* Permission denied gives 403 (root reads everything: checked only as another user). */
    if (geteuid() != 0) {
        write_file("private.txt", "no", 2, MTIME);
        path_of(path, "private.txt");
        chmod(path, 0);
        CHECK(respond("private.txt", &req, &resp) == TORUS_ERROR && resp.status == 403);
    }
}

/* Whether `name` is served from the cache: rewrites it in place (same size and
   mtime, same second) and looks whether the old bytes come back. */
static bool is_cached(struct torus_static_cache *c, const char *name, char marker)
{
    char path[PATH_MAX];
    path_of(path, name);
    struct torus_static_request req = get();
    struct torus_static_response resp;
    char content[4000];
    memset(content, marker, sizeof(content));
    write_file(name, content, sizeof(content), MTIME);
    int result = torus_static_respond(c, path, strlen(path), &req, &resp);
    bool cached = result == TORUS_OK && resp.body_len == sizeof(content) && resp.body[0] != marker;
    torus_static_response_release(c, &resp);
    return cached;
}

static void load(struct torus_static_cache *c, const char *name)
{
    char path[PATH_MAX];
    path_of(path, name);
    struct torus_static_request req = get();
    struct torus_static_response resp;
    CHECK(torus_static_respond(c, path, strlen(path), &req, &resp) == TORUS_OK);
    CHECK(resp.status == 200 && resp.body_len == 4000);
    torus_static_response_release(c, &resp);
}

static void test_eviction(void)
{
    char content[4000];
    memset(content, 'a', sizeof(content));
    write_file("a.bin", content, sizeof(content), MTIME);
    write_file("b.bin", content, sizeof(content), MTIME);
    write_file("c.bin", content, sizeof(content), MTIME);

    /* Room for two entries, not three. */
    struct torus_static_cache *c = torus_static_cache_new(8192, 10000);
    CHECK(c != NULL);
    load(c, "a.bin");
    load(c, "b.bin");
    load(c, "a.bin"); /* a is now the most recently used */
    load(c, "c.bin"); /* evicts b */
    CHECK(is_cached(c, "a.bin", 'x'));
    CHECK(is_cached(c, "c.bin", 'x'));
    CHECK(!is_cached(c, "b.bin", 'y'));

    /* An evicted entry that a response still pins stays readable until released. */
    struct torus_static_cache *tiny = torus_static_cache_new(8192, 5000);
    struct torus_static_request req = get();
    struct torus_static_response pinned, resp;
    char path[PATH_MAX];
    memset(content, 'p', sizeof(content));
    write_file("a.bin", content, sizeof(content), MTIME);
    path_of(path, "a.bin");
    CHECK(torus_static_respond(tiny, path, strlen(path), &req, &pinned) == TORUS_OK);
    path_of(path, "b.bin");
    CHECK(torus_static_respond(tiny, path, strlen(path), &req, &resp) == TORUS_OK);
    torus_static_response_release(tiny, &resp);
    CHECK(pinned.body_len == 4000 && pinned.body[0] == 'p' && pinned.body[3999] == 'p');
    /* Even past the cache's own end. */
    torus_static_cache_free(tiny);
    CHECK(pinned.body[100] == 'p');
    torus_static_response_release(NULL, &pinned);

    /* A file larger than max_entry is never held in memory. */
    struct torus_static_cache *small = torus_static_cache_new(1000, 10000);
    path_of(path, "a.bin");
    CHECK(torus_static_respond(small, path, strlen(path), &req, &resp) == TORUS_OK);
    CHECK(resp.fd >= 0 && resp.body == NULL && resp.length == 4000);
    torus_static_response_release(small, &resp);
    torus_static_cache_free(small);
    torus_static_cache_free(c);
}

static void test_many_files(void)
{
    /* Enough entries to grow the hash table several times; each keeps its own bytes. */
    struct torus_static_cache *c = torus_static_cache_new(0, 0);
    struct torus_static_request req = get();
    struct torus_static_response resp;
    char name[64], content[64], path[PATH_MAX];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 300; i++) {
            snprintf(name, sizeof(name), "many-%d.txt", i);
            snprintf(content, sizeof(content), "file %d", i);
            if (round == 0)
                write_file(name, content, strlen(content), MTIME);
            path_of(path, name);
            int result = torus_static_respond(c, path, strlen(path), &req, &resp);
            checks++;
            if (result != TORUS_OK || !body_is(&resp, content)) {
                failures++;
                fprintf(stderr, "%s: wrong body\n", name);
            }
            torus_static_response_release(c, &resp);
        }
    }
    torus_static_cache_free(c);
}

static void test_mime(void)
{
    static const struct {
        const char *name;
        const char *type;
    } cases[] = {
        {"index.html", "text/html; charset=utf-8"},
        {"a.htm", "text/html; charset=utf-8"},
        {"app.css", "text/css; charset=utf-8"},
        {"app.js", "text/javascript; charset=utf-8"},
        {"mod.mjs", "text/javascript; charset=utf-8"},
        {"data.json", "application/json; charset=utf-8"},
        {"app.js.map", "application/json; charset=utf-8"},
        {"notes.txt", "text/plain; charset=utf-8"},
        {"feed.xml", "application/xml; charset=utf-8"},
        {"logo.svg", "image/svg+xml; charset=utf-8"},
        {"a.png", "image/png"},
        {"a.jpg", "image/jpeg"},
        {"a.jpeg", "image/jpeg"},
        {"a.gif", "image/gif"},
        {"a.webp", "image/webp"},
        {"a.avif", "image/avif"},
        {"favicon.ico", "image/x-icon"},
        {"f.woff", "font/woff"},
        {"f.woff2", "font/woff2"},
        {"f.ttf", "font/ttf"},
        {"f.otf", "font/otf"},
        {"doc.pdf", "application/pdf"},
        {"a.zip", "application/zip"},
        {"a.tar.gz", "application/gzip"},
        {"m.wasm", "application/wasm"},
        {"v.mp4", "video/mp4"},
        {"v.webm", "video/webm"},
        {"s.mp3", "audio/mpeg"},
        {"s.ogg", "audio/ogg"},
        {"t.csv", "text/csv; charset=utf-8"},
        {"README.md", "text/markdown; charset=utf-8"},
        {"site.webmanifest", "application/manifest+json; charset=utf-8"},
        {"/srv/www/UPPER.PNG", "image/png"},
        {"Mixed.Css", "text/css; charset=utf-8"},
        {"3d.3gp", "video/3gpp"},
        {"x.yml", "application/yaml; charset=utf-8"},
        {"noextension", "application/octet-stream"},
        {"trailing.", "application/octet-stream"},
        {"dir.d/file", "application/octet-stream"},
        {".htaccess", "application/octet-stream"},
        {"a.unknownext", "application/octet-stream"},
        {"a.averyveryverylongextension", "application/octet-stream"},
        {"", "application/octet-stream"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *type = torus_mime_type(cases[i].name, strlen(cases[i].name));
        checks++;
        if (strcmp(type, cases[i].type) != 0) {
            failures++;
            fprintf(stderr, "mime(%s) = %s, want %s\n", cases[i].name, type, cases[i].type);
        }
    }
    /* Only the first len bytes count. */
    CHECK(strcmp(torus_mime_type("a.css.php", 5), "text/css; charset=utf-8") == 0);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int main(void)
{
    char template[] = "/tmp/torus-static-XXXXXX";
    if (mkdtemp(template) == NULL || realpath(template, dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    write_file("hello.txt", "hello world", 11, MTIME);
    write_file("page.html", "<h1>hi</h1>", 11, MTIME);
    write_file("empty.bin", "", 0, MTIME);
    char *big = malloc(BIG_SIZE);
    for (size_t i = 0; i < BIG_SIZE; i++)
        big[i] = (char)(i % 251);
    write_file("big.bin", big, BIG_SIZE, MTIME);
    free(big);

    cache = torus_static_cache_new(0, 0);
    if (cache == NULL) {
        fprintf(stderr, "torus_static_cache_new failed\n");
        return 1;
    }
    test_mime();
    test_full_response();
    test_conditional();
    test_ranges();
    test_large_file();
    test_revalidation();
    test_eviction();
    test_many_files();
    torus_static_cache_free(cache);
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);

    printf("test_static: %d passed, %d failed\n", checks - failures, failures);
    return failures == 0 ? 0 : 1;
}
