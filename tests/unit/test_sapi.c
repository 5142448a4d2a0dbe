/*
 * The PHP SAPI in classic mode, driven without a network: a test port hands
 * prepared requests (over the scripts in tests/fixtures/php/) to
 * torus_sapi_executor_main() on a thread, collects every emit() per request,
 * and the checks read the response bytes the way a client would.
 *
 * The first part of this file is the harness (port, request builder,
 * response parser, checks); test_sapi_worker.c includes it with
 * TEST_SAPI_HARNESS_ONLY defined.
 */
/* Paths and labels are built with snprintf into fixed buffers; a cut label is harmless. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <php_config.h> /* ZTS, as the linked PHP was configured */

#include "runtime/config.h"
#include "runtime/log.h"
#include "runtime/request.h"
#include "sapi/sapi.h"
#include "tests/unit/http1_capture.h"

/* ThreadSanitizer builds run without opcache (see sapi.c): the check expects it off there. */
#ifdef __SANITIZE_THREAD__
#define EXPECTED_OPCACHE "opcache=disabled sapi=fpm-fcgi"
#else
#define EXPECTED_OPCACHE "opcache=enabled sapi=fpm-fcgi"
#endif

/*
 * ThreadSanitizer delivers a signal only when the thread calls into
 * instrumented code: a busy PHP loop in the uninstrumented libphp never sees
 * its time limit's SIGPROF there, so time limits are not tested under TSan.
 */
#ifdef __SANITIZE_THREAD__
#define TEST_TIME_LIMITS 0
#else
#define TEST_TIME_LIMITS 1
#endif

/* ------------------------------------------------------------------------ */
/* Checks                                                                    */
/* ------------------------------------------------------------------------ */

static int failures;

/* Counts a failure when cond is false, and shows the exchange (may be NULL) it is about. */
#define CHECK(cond, exchange)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            fprintf(stderr, "FAIL %s:%d: %s", __FILE__, __LINE__, #cond);                          \
            check_context(exchange);                                                               \
        }                                                                                          \
    } while (0)

struct test_exchange;
static void exchange_dump(const struct test_exchange *exchange);

static void check_context(const struct test_exchange *exchange)
{
    fputc('\n', stderr);
    if (exchange)
        exchange_dump(exchange);
}

/* ------------------------------------------------------------------------ */
/* Requests and what the port collected for them                             */
/* ------------------------------------------------------------------------ */

#define MAX_HEADERS 32

struct test_exchange {
    struct torus_request request; /* first: emit() finds the exchange from the request */
    struct torus_header headers[MAX_HEADERS];
    char *text; /* method, target, header lines, paths: owned copies */
    char *body;
    char label[160];

    /* Collected by the port: the parts framed as the HTTP/1.1 session would frame them. */
    struct http1_response framing;
    bool framing_failed;
    char *bytes;
    size_t len;
    int emits;
    int end_emit;     /* index of the emit carrying END, -1 when none */
    int release_emit; /* index of the emit carrying RELEASE, -1 when none */
    int release_count;
    int end_count;
    unsigned flags;       /* every flag seen */
    bool bytes_after_end; /* bytes emitted after END: a framing bug */
    bool emitted_after_release;
    bool aborted_at_start; /* the client is gone before the script runs */
    const char *marker;    /* a file looked at when END and RELEASE arrive */
    bool marker_at_end;
    bool marker_at_release;
};

struct test_port;
typedef void (*test_before_fn)(struct test_port *port, size_t index);

struct test_port {
    struct torus_executor_port port;
    struct test_exchange **exchanges;
    size_t count;
    size_t next;
    test_before_fn before; /* called before handing out exchange `index`, may be NULL */
};

/* What the headers this test was compiled with say (php_config.h), to hold torus_sapi_thread_safe()
 * to. */
#ifdef ZTS
#define ZTS_BUILT true
#else
#define ZTS_BUILT false
#endif

static char fixtures_dir[PATH_MAX];
static char temp_dir[PATH_MAX];

static void fixtures_locate(void)
{
    const char *source = getenv("TORUS_SOURCE_DIR");
    if (source && *source) {
        snprintf(fixtures_dir, sizeof(fixtures_dir), "%s/tests/fixtures/php", source);
    } else {
        /* tests/unit/test_sapi.c -> tests/fixtures/php */
        char here[PATH_MAX];
        snprintf(here, sizeof(here), "%s", __FILE__);
        char *slash = strrchr(here, '/');
        if (slash)
            *slash = '\0';
        else
            snprintf(here, sizeof(here), ".");
        snprintf(fixtures_dir, sizeof(fixtures_dir), "%s/../fixtures/php", here);
    }
    char resolved[PATH_MAX];
    if (realpath(fixtures_dir, resolved))
        snprintf(fixtures_dir, sizeof(fixtures_dir), "%s", resolved);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Appends a NUL-terminated copy of data to the exchange's text area and returns it. */
static const char *text_put(char **cursor, const char *data, size_t len)
{
    char *start = *cursor;
    memcpy(start, data, len);
    start[len] = '\0';
    *cursor += len + 1;
    return start;
}

/*
 * A request for `script` (relative to the fixtures, NULL for none) as a
 * client would send it: headers are "Name: value" strings, NULL-terminated.
 * HTTP/1.1, kept alive, from 127.0.0.1:40000 to 127.0.0.1:8080.
 */
static struct test_exchange *exchange_new(const char *method, const char *target,
                                          const char *script, const char *const *headers,
                                          const char *body, size_t body_len)
{
    struct test_exchange *ex = calloc(1, sizeof(*ex));
    size_t size = strlen(method) + strlen(target) + 2 * strlen(fixtures_dir) + 256;
    if (script)
        size += 3 * strlen(script);
    for (size_t i = 0; headers && headers[i]; i++)
        size += strlen(headers[i]) + 2;
    ex->text = malloc(size);
    char *cursor = ex->text;
    struct torus_request *r = &ex->request;
    atomic_init(&r->aborted, false);

    const char *m = text_put(&cursor, method, strlen(method));
    r->method = (torus_str){m, strlen(m)};
    const char *t = text_put(&cursor, target, strlen(target));
    r->target = (torus_str){t, strlen(t)};
    const char *question = strchr(t, '?');
    r->path = (torus_str){t, question ? (size_t)(question - t) : strlen(t)};
    r->query = question ? (torus_str){question + 1, strlen(question + 1)} : (torus_str){"", 0};
    r->http_minor = 1;
    r->keep_alive = true;
    r->head = strcmp(method, "HEAD") == 0;

    for (size_t i = 0; headers && headers[i] && i < MAX_HEADERS; i++) {
        const char *line = text_put(&cursor, headers[i], strlen(headers[i]));
        const char *colon = strchr(line, ':');
        const char *value = colon + 1;
        while (*value == ' ')
            value++;
        ex->headers[i].name = (torus_str){line, (size_t)(colon - line)};
        ex->headers[i].value = (torus_str){value, strlen(value)};
        r->header_count = (uint32_t)i + 1;
    }
    r->headers = ex->headers;
    if (body) {
        ex->body = malloc(body_len + 1);
        memcpy(ex->body, body, body_len);
        r->body = (torus_str){ex->body, body_len};
    }

    r->document_root = text_put(&cursor, fixtures_dir, strlen(fixtures_dir));
    if (script) {
        char path[PATH_MAX];
        int n = snprintf(path, sizeof(path), "%s/%s", fixtures_dir, script);
        const char *filename = text_put(&cursor, path, (size_t)n);
        r->script_filename = (torus_str){filename, (size_t)n};
        n = snprintf(path, sizeof(path), "/%s", script);
        const char *name = text_put(&cursor, path, (size_t)n);
        r->script_name = (torus_str){name, (size_t)n};
    }
    snprintf(r->remote_addr, sizeof(r->remote_addr), "127.0.0.1");
    snprintf(r->server_addr, sizeof(r->server_addr), "127.0.0.1");
    r->remote_port = 40000;
    r->server_port = 8080;
    r->start_time = now_seconds();
    ex->end_emit = -1;
    ex->release_emit = -1;
    snprintf(ex->label, sizeof(ex->label), "%s %s", method, target);
    return ex;
}

static struct test_exchange *exchange_get(const char *target, const char *script)
{
    return exchange_new("GET", target, script, NULL, NULL, 0);
}

static void exchange_free(struct test_exchange *ex)
{
    free(ex->text);
    free(ex->body);
    free(ex->bytes);
    free(ex);
}

static void exchange_dump(const struct test_exchange *ex)
{
    fprintf(stderr, "  request: %s\n  %d emits, flags %#x, END at %d, RELEASE at %d (%d times)\n",
            ex->label, ex->emits, ex->flags, ex->end_emit, ex->release_emit, ex->release_count);
    fprintf(stderr, "  response (%zu bytes): ", ex->len);
    for (size_t i = 0; i < ex->len && i < 1200; i++) {
        unsigned char c = (unsigned char)ex->bytes[i];
        if (c == '\r')
            fputs("\\r", stderr);
        else if (c == '\n')
            fputs("\\n\n    ", stderr);
        else if (c < 32 || c > 126)
            fprintf(stderr, "\\x%02x", c);
        else
            fputc(c, stderr);
    }
    fputc('\n', stderr);
}

static bool file_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static struct torus_request *port_wait_request(struct torus_executor_port *base)
{
    struct test_port *port = (struct test_port *)base;
    if (port->next >= port->count)
        return NULL;
    size_t index = port->next++;
    if (port->before)
        port->before(port, index);
    struct test_exchange *ex = port->exchanges[index];
    if (ex->aborted_at_start)
        atomic_store(&ex->request.aborted, true);
    ex->request.start_time = now_seconds();
    http1_response_begin(&ex->framing, ex->request.http_minor, ex->request.keep_alive,
                         ex->request.head);
    return &ex->request;
}

static void port_emit(struct torus_executor_port *base, struct torus_request *request,
                      const char *data, size_t len, unsigned flags)
{
    (void)base;
    struct test_exchange *ex = (struct test_exchange *)request;
    if (ex->release_count)
        ex->emitted_after_release = true;
    if (len && ex->end_count)
        ex->bytes_after_end = true;
    if (!http1_capture(&ex->framing, data, len, flags, &ex->bytes, &ex->len))
        ex->framing_failed = true;
    flags &= ~TORUS_EMIT_HEAD;
    if ((flags & TORUS_EMIT_END) && !ex->framing.keep_alive)
        flags |= TORUS_EMIT_CLOSE; /* as net/dispatch.c decides at the END */
    if (flags & TORUS_EMIT_END) {
        ex->end_count++;
        ex->end_emit = ex->emits;
        if (ex->marker)
            ex->marker_at_end = file_exists(ex->marker);
    }
    if (flags & TORUS_EMIT_RELEASE) {
        ex->release_count++;
        ex->release_emit = ex->emits;
        if (ex->marker)
            ex->marker_at_release = file_exists(ex->marker);
    }
    ex->flags |= flags;
    ex->emits++;
}

static void port_init(struct test_port *port, struct test_exchange **exchanges, size_t count)
{
    memset(port, 0, sizeof(*port));
    port->port.wait_request = port_wait_request;
    port->port.emit = port_emit;
    port->exchanges = exchanges;
    port->count = count;
}

struct executor_run {
    const struct torus_config *config;
    struct test_port *port;
    int result;
    pthread_t thread;
};

static void *executor_thread(void *arg)
{
    struct executor_run *run = arg;
    run->result = torus_sapi_executor_main(run->config, &run->port->port);
    return NULL;
}

static void executor_start(struct executor_run *run)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 16u << 20);
    if (pthread_create(&run->thread, &attr, executor_thread, run) != 0) {
        perror("pthread_create");
        exit(1);
    }
    pthread_attr_destroy(&attr);
}

/* Runs one executor over the exchanges until its port is exhausted; returns what it returned. */
static int run_exchanges(const struct torus_config *config, struct test_exchange **exchanges,
                         size_t count, test_before_fn before)
{
    struct test_port port;
    port_init(&port, exchanges, count);
    port.before = before;
    struct executor_run run = {.config = config, .port = &port};
    executor_start(&run);
    pthread_join(run.thread, NULL);
    return run.result;
}

/* Every exchange was ended once and released once, RELEASE last. */
static void check_lifecycle(struct test_exchange **exchanges, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        struct test_exchange *ex = exchanges[i];
        CHECK(ex->end_count == 1, ex);
        CHECK(ex->release_count == 1, ex);
        CHECK(ex->release_emit == ex->emits - 1, ex);
        CHECK(!ex->bytes_after_end, ex);
        CHECK(!ex->emitted_after_release, ex);
    }
}

/* ------------------------------------------------------------------------ */
/* Reading a response                                                        */
/* ------------------------------------------------------------------------ */

struct parsed_response {
    int interim_status; /* 0 when no 1xx came first */
    char interim_head[2048];
    int status;
    char head[16384]; /* header lines of the final response, each ending in \r\n */
    char *body;       /* de-chunked when chunked */
    size_t body_len;
    bool chunked;
    size_t raw_body_len; /* bytes after the head, as sent */
};

static size_t parse_head(const char *data, size_t len, int *status, char *head, size_t head_size)
{
    const char *end = NULL;
    for (size_t i = 0; i + 3 < len; i++) {
        if (memcmp(data + i, "\r\n\r\n", 4) == 0) {
            end = data + i;
            break;
        }
    }
    *status = 0;
    head[0] = '\0';
    if (!end || len < 12 || memcmp(data, "HTTP/1.1 ", 9) != 0)
        return 0;
    *status = atoi(data + 9);
    const char *lines = memchr(data, '\n', (size_t)(end - data));
    size_t n = lines ? (size_t)(end - lines - 1) + 2 : 0;
    if (n >= head_size)
        n = head_size - 1;
    if (lines)
        memcpy(head, lines + 1, n);
    head[n] = '\0';
    return (size_t)(end - data) + 4;
}

/* Counts the header lines named `name` and copies the first one's value into value. */
static int header_find(const char *head, const char *name, char *value, size_t size)
{
    int found = 0;
    size_t name_len = strlen(name);
    if (value && size)
        value[0] = '\0';
    for (const char *line = head; *line;) {
        const char *eol = strstr(line, "\r\n");
        if (!eol)
            break;
        if ((size_t)(eol - line) > name_len && strncasecmp(line, name, name_len) == 0 &&
            line[name_len] == ':') {
            if (found == 0 && value) {
                const char *v = line + name_len + 1;
                while (*v == ' ')
                    v++;
                size_t n = (size_t)(eol - v);
                if (n >= size)
                    n = size - 1;
                memcpy(value, v, n);
                value[n] = '\0';
            }
            found++;
        }
        line = eol + 2;
    }
    return found;
}

static bool dechunk(const char *data, size_t len, char **out, size_t *out_len)
{
    char *body = malloc(len + 1);
    size_t n = 0, i = 0;
    for (;;) {
        char *end;
        if (i >= len)
            goto bad;
        unsigned long size = strtoul(data + i, &end, 16);
        if (end == data + i || (size_t)(end - data) + 2 > len || memcmp(end, "\r\n", 2) != 0)
            goto bad;
        i = (size_t)(end - data) + 2;
        if (size == 0) {
            if (i + 2 > len || memcmp(data + i, "\r\n", 2) != 0)
                goto bad;
            break;
        }
        if (i + size + 2 > len || memcmp(data + i + size, "\r\n", 2) != 0)
            goto bad;
        memcpy(body + n, data + i, size);
        n += size;
        i += size + 2;
    }
    body[n] = '\0';
    *out = body;
    *out_len = n;
    return true;
bad:
    free(body);
    return false;
}

/* Parses what the port collected: an optional 1xx, then the final response. */
static bool response_parse(const struct test_exchange *ex, struct parsed_response *out)
{
    memset(out, 0, sizeof(*out));
    const char *data = ex->bytes ? ex->bytes : "";
    size_t len = ex->len;
    int status;
    size_t used = parse_head(data, len, &status, out->head, sizeof(out->head));
    if (!used)
        return false;
    if (status >= 100 && status < 200) {
        out->interim_status = status;
        snprintf(out->interim_head, sizeof(out->interim_head), "%s", out->head);
        data += used;
        len -= used;
        used = parse_head(data, len, &status, out->head, sizeof(out->head));
        if (!used)
            return false;
    }
    out->status = status;
    out->raw_body_len = len - used;
    char value[64];
    if (header_find(out->head, "Transfer-Encoding", value, sizeof(value)) &&
        strcasecmp(value, "chunked") == 0) {
        out->chunked = true;
        return dechunk(data + used, len - used, &out->body, &out->body_len);
    }
    out->body = malloc(len - used + 1);
    memcpy(out->body, data + used, len - used);
    out->body[len - used] = '\0';
    out->body_len = len - used;
    return true;
}

static void response_free(struct parsed_response *response)
{
    free(response->body);
    response->body = NULL;
}

/* The exchange's final response; parse failures are check failures. */
static struct parsed_response *response_of(struct test_exchange *ex)
{
    static _Thread_local struct parsed_response response;
    response_free(&response);
    bool parsed = response_parse(ex, &response);
    CHECK(parsed, ex);
    if (!parsed) {
        response.body = calloc(1, 1);
        response.status = -1;
    }
    return &response;
}

static bool body_contains(const struct parsed_response *response, const char *needle)
{
    return response->body && strstr(response->body, needle) != NULL;
}

static bool head_has(const struct parsed_response *response, const char *name, const char *value)
{
    char found[4096];
    if (!header_find(response->head, name, found, sizeof(found)))
        return false;
    return value == NULL || strcmp(found, value) == 0;
}

/* ------------------------------------------------------------------------ */
/* Start-up                                                                  */
/* ------------------------------------------------------------------------ */

static void temp_dir_create(void)
{
    snprintf(temp_dir, sizeof(temp_dir), "%s/torus-test-sapi-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(temp_dir)) {
        perror("mkdtemp");
        exit(1);
    }
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/uploads", temp_dir);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/sessions", temp_dir);
    mkdir(path, 0700);
}

static void temp_dir_remove(void)
{
    char command[PATH_MAX + 16];
    snprintf(command, sizeof(command), "rm -rf '%s'", temp_dir);
    if (system(command) != 0)
        fprintf(stderr, "could not remove %s\n", temp_dir);
}

/*
 * Starts PHP for the whole test process with the settings every test relies
 * on (plus `extra`, NULL-terminated KEY, VALUE pairs).
 */
static void php_start(struct torus_config *config, const char *const *extra)
{
    static struct torus_ini_entry entries[32];
    static char sessions[PATH_MAX], uploads[PATH_MAX];
    snprintf(sessions, sizeof(sessions), "%s/sessions", temp_dir);
    snprintf(uploads, sizeof(uploads), "%s/uploads", temp_dir);
    const char *pairs[] = {"precision",
                           "10",
                           "session.save_path",
                           sessions,
                           "upload_tmp_dir",
                           uploads,
                           "post_max_size",
                           "256K",
                           "upload_max_filesize",
                           "64K",
                           "memory_limit",
                           "128M",
                           "default_charset",
                           "UTF-8",
                           NULL};
    int n = 0;
    for (int i = 0; pairs[i]; i += 2, n++)
        entries[n] = (struct torus_ini_entry){(char *)pairs[i], (char *)pairs[i + 1]};
    for (int i = 0; extra && extra[i]; i += 2, n++)
        entries[n] = (struct torus_ini_entry){(char *)extra[i], (char *)extra[i + 1]};

    torus_config_defaults(config);
    config->root = fixtures_dir;
    config->ini_entries = entries;
    config->ini_count = n;
    /*
     * Debian's NTS PHP reads its production php.ini (output_buffering=4096
     * among others); these checks assume PHP's own defaults, as the ZTS
     * build has them, so an empty one stands in (conf.d is still read).
     */
    static char empty_ini[PATH_MAX + 64];
    if (!torus_sapi_thread_safe()) {
        snprintf(empty_ini, sizeof(empty_ini), "%s/../../e2e/php_fixtures/empty.ini", fixtures_dir);
        config->php_ini_file = empty_ini;
    }

    char err[512];
    if (torus_sapi_startup(config, 8, err, sizeof(err)) != TORUS_OK) {
        fprintf(stderr, "torus_sapi_startup: %s\n", err);
        exit(1);
    }
}

/* Sessions with the files handler: the session cookie set by a response comes back in the next
 * requests. */
static void session_cookie_forward(struct test_port *port, size_t index)
{
    static char cookie[256];
    if (index == 0) {
        cookie[0] = '\0';
        return;
    }
    struct parsed_response response;
    if (response_parse(port->exchanges[index - 1], &response)) {
        char set_cookie[256];
        if (header_find(response.head, "Set-Cookie", set_cookie, sizeof(set_cookie))) {
            set_cookie[strcspn(set_cookie, ";")] = '\0';
            snprintf(cookie, sizeof(cookie), "%s", set_cookie);
        }
        response_free(&response);
    }
    if (cookie[0]) {
        struct test_exchange *ex = port->exchanges[index];
        ex->headers[0] = (struct torus_header){{"Cookie", 6}, {cookie, strlen(cookie)}};
        ex->request.header_count = 1;
    }
}

#ifndef TEST_SAPI_HARNESS_ONLY

/* ------------------------------------------------------------------------ */
/* Classic mode                                                              */
/* ------------------------------------------------------------------------ */

static size_t dir_entries(const char *path)
{
    char command[PATH_MAX + 32];
    snprintf(command, sizeof(command), "ls -A '%s' | wc -l", path);
    FILE *p = popen(command, "r");
    size_t n = 0;
    if (p) {
        if (fscanf(p, "%zu", &n) != 1)
            n = 0;
        pclose(p);
    }
    return n;
}

static char *marker_path(const char *name)
{
    static char paths[8][PATH_MAX];
    static int next;
    char *path = paths[next++ % 8];
    snprintf(path, PATH_MAX, "%s/%s", temp_dir, name);
    unlink(path);
    return path;
}

static struct test_exchange *with_marker(const char *script, const char *query_prefix,
                                         const char *marker)
{
    char target[PATH_MAX + 64];
    snprintf(target, sizeof(target), "/%s?%smarker=%s", script, query_prefix, marker);
    struct test_exchange *ex = exchange_get(target, script);
    ex->marker = marker;
    return ex;
}

static const char *const server_headers[] = {"Host: example.test:8080",
                                             "X-Forwarded-For: 203.0.113.7",
                                             "X-Dup: first",
                                             "Cookie: a=1",
                                             "X-Dup: second",
                                             "Cookie: b=2",
                                             "Authorization: Basic dXNlcjpwYXNz", /* user:pass */
                                             "Accept-Encoding: identity",
                                             NULL};

static void test_classic_batch(const struct torus_config *config)
{
    const char *finish_marker = marker_path("finish.marker");
    const char *abort_marker = marker_path("abort.marker");
    const char *ignore_marker = marker_path("ignore.marker");

    struct test_exchange *x[64];
    size_t n = 0;

    /* 0: the common case */
    struct test_exchange *hello = x[n++] = exchange_get("/hello.php", "hello.php");

    /* 1: $_SERVER as PHP-FPM builds it */
    const char *keys = "REQUEST_METHOD,REQUEST_URI,QUERY_STRING,SCRIPT_NAME,SCRIPT_FILENAME,"
                       "PATH_INFO,PHP_SELF,DOCUMENT_ROOT,REMOTE_ADDR,REMOTE_PORT,SERVER_ADDR,"
                       "SERVER_PORT,SERVER_NAME,SERVER_PROTOCOL,SERVER_SOFTWARE,GATEWAY_INTERFACE,"
                       "HTTPS,HTTP_HOST,HTTP_X_FORWARDED_FOR,HTTP_X_DUP,HTTP_COOKIE,PHP_AUTH_USER,"
                       "PHP_AUTH_PW,REQUEST_TIME,REQUEST_TIME_FLOAT,TORUS_TEST_ENVIRONMENT,"
                       "CONTENT_TYPE,CONTENT_LENGTH,HTTP_ACCEPT_ENCODING,PATH_TRANSLATED,"
                       "REQUEST_SCHEME,DOCUMENT_URI";
    char target[2048];
    snprintf(target, sizeof(target), "/server.php/extra/path?keys=%s", keys);
    struct test_exchange *server = x[n++] =
        exchange_new("GET", target, "server.php", server_headers, NULL, 0);
    server->request.path = (torus_str){"/server.php/extra/path", 22};
    server->request.path_info = (torus_str){"/extra/path", 11};

    /* 2: TLS, no Host header */
    struct test_exchange *tls = x[n++] = exchange_get(
        "/server.php?keys=HTTPS,REQUEST_SCHEME,SERVER_NAME,PATH_INFO,PHP_SELF", "server.php");
    tls->request.tls = true;

    /* 3: a form POST, with a query string and a cookie */
    const char *form_headers[] = {"Content-Type: application/x-www-form-urlencoded",
                                  "Content-Length: 15", "Cookie: c=3", NULL};
    struct test_exchange *form = x[n++] = exchange_new(
        "POST", "/form.php?g=1&shared=get", "form.php", form_headers, "a=1&b[]=2&b[]=3", 15);

    /* 4, 5: php://input, twice, for a JSON POST and a PUT */
    const char *json_headers[] = {"Content-Type: application/json", "Content-Length: 13", NULL};
    struct test_exchange *json = x[n++] =
        exchange_new("POST", "/input.php", "input.php", json_headers, "{\"json\":true}", 13);
    struct test_exchange *put = x[n++] =
        exchange_new("PUT", "/input.php", "input.php", json_headers, "{\"json\":true}", 13);

    /* 6: multipart upload: a small file, a field, a file above upload_max_filesize */
    static char multipart[200000];
    size_t big_file = 100 * 1024;
    int m = snprintf(multipart, sizeof(multipart),
                     "--XyZ\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nReport\r\n"
                     "--XyZ\r\nContent-Disposition: form-data; name=\"doc\"; "
                     "filename=\"hello.txt\"\r\nContent-Type: text/plain\r\n\r\nhello upload\n\r\n"
                     "--XyZ\r\nContent-Disposition: form-data; name=\"huge\"; "
                     "filename=\"huge.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n");
    memset(multipart + m, 'z', big_file);
    m += (int)big_file;
    m += snprintf(multipart + m, sizeof(multipart) - (size_t)m, "\r\n--XyZ--\r\n");
    const char *upload_headers[] = {"Content-Type: multipart/form-data; boundary=XyZ", NULL};
    struct test_exchange *upload = x[n++] =
        exchange_new("POST", "/upload.php", "upload.php", upload_headers, multipart, (size_t)m);

    /* 7: a form body above post_max_size */
    static char large_form[300 * 1024];
    memset(large_form, 'v', sizeof(large_form));
    memcpy(large_form, "a=", 2);
    const char *large_headers[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    struct test_exchange *too_large = x[n++] = exchange_new(
        "POST", "/form.php", "form.php", large_headers, large_form, sizeof(large_form));

    /* 8: header(), header_remove(), http_response_code(), setcookie(), callbacks */
    struct test_exchange *headers = x[n++] = exchange_get("/headers.php", "headers.php");

    /* 9-12: status lines */
    struct test_exchange *not_found = x[n++] = exchange_get("/status.php?code=404", "status.php");
    struct test_exchange *teapot = x[n++] =
        exchange_get("/status.php?line=HTTP/1.1%20418%20Short%20and%20stout", "status.php");
    struct test_exchange *redirect = x[n++] =
        exchange_get("/status.php?location=/elsewhere", "status.php");
    struct test_exchange *cgi_status = x[n++] =
        exchange_get("/status.php?line=Status:%20503%20Service%20Unavailable", "status.php");

    /* 13, 14: flush() streams: chunked for HTTP/1.1, close-delimited for HTTP/1.0 */
    struct test_exchange *flushed = x[n++] = exchange_get("/flush.php", "flush.php");
    struct test_exchange *flushed10 = x[n++] = exchange_get("/flush.php", "flush.php");
    flushed10->request.http_minor = 0;
    flushed10->request.keep_alive = false;

    /* 15: HEAD */
    struct test_exchange *head = x[n++] =
        exchange_new("HEAD", "/hello.php", "hello.php", NULL, NULL, 0);

    /* 16-20: failures, each followed by a request that must be fine */
    struct test_exchange *fatal = x[n++] = exchange_get("/fatal.php", "fatal.php");
    struct test_exchange *after_fatal = x[n++] = exchange_get("/hello.php", "hello.php");
    struct test_exchange *exception = x[n++] = exchange_get("/exception.php", "exception.php");
    struct test_exchange *parse_error = x[n++] =
        exchange_get("/parse_error.php", "parse_error.php");
    struct test_exchange *memory = x[n++] = exchange_get("/memory.php", "memory.php");
    struct test_exchange *after_memory = x[n++] = exchange_get("/hello.php", "hello.php");
    struct test_exchange *timeout = NULL, *after_timeout = NULL;
    if (TEST_TIME_LIMITS) {
        timeout = x[n++] = exchange_get("/timeout.php", "timeout.php");
        after_timeout = x[n++] = exchange_get("/hello.php", "hello.php");
    }

    /* 24: getallheaders() */
    struct test_exchange *allheaders = x[n++] =
        exchange_new("GET", "/allheaders.php", "allheaders.php", server_headers, NULL, 0);

    /* 25: fastcgi_finish_request() */
    struct test_exchange *finish = x[n++] = with_marker("finish.php", "", finish_marker);

    /* 26: early hints */
    struct test_exchange *hints = x[n++] = exchange_get("/hints.php", "hints.php");

    /* 27: opcache */
    struct test_exchange *opcache = x[n++] = exchange_get("/opcache.php", "opcache.php");

    /* 28: -d overrides and the defaults */
    struct test_exchange *ini = x[n++] = exchange_get(
        "/ini.php?names=precision,display_errors,log_errors,post_max_size,torus.unknown",
        "ini.php");

    /* 29, 30: zlib.output_compression follows Accept-Encoding */
    const char *gzip_headers[] = {"Accept-Encoding: gzip, deflate", NULL};
    struct test_exchange *gzip = x[n++] =
        exchange_new("GET", "/zlib.php", "zlib.php", gzip_headers, NULL, 0);
    struct test_exchange *plain = x[n++] = exchange_get("/zlib.php", "zlib.php");

    /* 31, 32: the script's own Content-Length: longer body cut, shorter body closes */
    struct test_exchange *cut = x[n++] =
        exchange_get("/content_length.php?length=5&body=12345678", "content_length.php");
    struct test_exchange *short_body = x[n++] =
        exchange_get("/content_length.php?length=10&body=abc", "content_length.php");

    /* 33-35: connection handling */
    struct test_exchange *close_header = x[n++] =
        exchange_get("/connection_close.php", "connection_close.php");
    struct test_exchange *no_keep_alive = x[n++] = exchange_get("/hello.php", "hello.php");
    no_keep_alive->request.keep_alive = false;
    struct test_exchange *keep_alive10 = x[n++] = exchange_get("/hello.php", "hello.php");
    keep_alive10->request.http_minor = 0;

    /* 36, 37: the client went away */
    struct test_exchange *aborted = x[n++] = with_marker("abort.php", "", abort_marker);
    aborted->aborted_at_start = true;
    aborted->marker = NULL;
    struct test_exchange *ignored = x[n++] = with_marker("abort.php", "ignore=1&", ignore_marker);
    ignored->aborted_at_start = true;
    ignored->marker = NULL;

    /* 38: a body larger than the buffer streams */
    struct test_exchange *big = x[n++] = exchange_get("/big.php?size=2097152", "big.php");

    /* 39, 40: getenv() and putenv() */
    struct test_exchange *env = x[n++] =
        exchange_new("GET", "/env.php", "env.php", server_headers, NULL, 0);
    struct test_exchange *env_again = x[n++] =
        exchange_new("GET", "/env.php", "env.php", server_headers, NULL, 0);

    /* 41: 204 */
    struct test_exchange *no_content = x[n++] = exchange_get("/no_content.php", "no_content.php");

    /* 42: output buffering */
    struct test_exchange *buffers = x[n++] =
        exchange_get("/output_buffer.php", "output_buffer.php");

    /* opcache_reset() is refused */
    struct test_exchange *reset = x[n++] = exchange_get("/opcache_reset.php", "opcache_reset.php");

    /* 43: nothing routed */
    struct test_exchange *unrouted = x[n++] = exchange_get("/nothing", NULL);

    double started = monotonic_seconds();
    int rc = run_exchanges(config, x, n, NULL);
    double elapsed = monotonic_seconds() - started;
    CHECK(rc == TORUS_OK, NULL);
    check_lifecycle(x, n);

    struct parsed_response *r;
    char value[4096];

    /* The common case: one emit, head and body, Content-Length, kept alive. */
    r = response_of(hello);
    CHECK(r->status == 200, hello);
    CHECK(strcmp(r->body, "Hello, world!") == 0, hello);
    CHECK(head_has(r, "Content-Length", "13"), hello);
    CHECK(head_has(r, "Server", "torus"), hello);
    CHECK(head_has(r, "Date", NULL), hello);
    CHECK(head_has(r, "Content-type", "text/html; charset=UTF-8"), hello);
    CHECK(header_find(r->head, "X-Powered-By", value, sizeof(value)) == 1 &&
              strncmp(value, "PHP/8.", 6) == 0,
          hello);
    CHECK(!head_has(r, "Connection", NULL), hello);
    CHECK(hello->emits == 1, hello);
    CHECK(hello->flags == (TORUS_EMIT_END | TORUS_EMIT_RELEASE), hello);
    CHECK(hello->request.status == 200, hello);
    CHECK(strncmp(hello->bytes, "HTTP/1.1 200 OK\r\n", 17) == 0, hello);

    /* $_SERVER */
    r = response_of(server);
    CHECK(r->status == 200, server);
    CHECK(body_contains(r, "REQUEST_METHOD='GET'\n"), server);
    snprintf(value, sizeof(value), "REQUEST_URI='%s'\n", target);
    CHECK(body_contains(r, value), server);
    snprintf(value, sizeof(value), "QUERY_STRING='keys=%s'\n", keys);
    CHECK(body_contains(r, value), server);
    CHECK(body_contains(r, "SCRIPT_NAME='/server.php'\n"), server);
    snprintf(value, sizeof(value), "SCRIPT_FILENAME='%s/server.php'\n", fixtures_dir);
    CHECK(body_contains(r, value), server);
    CHECK(body_contains(r, "PATH_INFO='/extra/path'\n"), server);
    CHECK(body_contains(r, "PHP_SELF='/server.php/extra/path'\n"), server);
    snprintf(value, sizeof(value), "DOCUMENT_ROOT='%s'\n", fixtures_dir);
    CHECK(body_contains(r, value), server);
    snprintf(value, sizeof(value), "PATH_TRANSLATED='%s/extra/path'\n", fixtures_dir);
    CHECK(body_contains(r, value), server);
    CHECK(body_contains(r, "DOCUMENT_URI='/server.php/extra/path'\n"), server);
    CHECK(body_contains(r, "REMOTE_ADDR='127.0.0.1'\n"), server);
    CHECK(body_contains(r, "REMOTE_PORT='40000'\n"), server);
    CHECK(body_contains(r, "SERVER_ADDR='127.0.0.1'\n"), server);
    CHECK(body_contains(r, "SERVER_PORT='8080'\n"), server);
    CHECK(body_contains(r, "SERVER_NAME='example.test'\n"), server);
    CHECK(body_contains(r, "SERVER_PROTOCOL='HTTP/1.1'\n"), server);
    CHECK(body_contains(r, "SERVER_SOFTWARE='Torus/" TORUS_VERSION "'\n"), server);
    CHECK(body_contains(r, "GATEWAY_INTERFACE='CGI/1.1'\n"), server);
    CHECK(body_contains(r, "REQUEST_SCHEME='http'\n"), server);
    CHECK(body_contains(r, "HTTPS=(unset)\n"), server);
    CHECK(body_contains(r, "HTTP_HOST='example.test:8080'\n"), server);
    CHECK(body_contains(r, "HTTP_X_FORWARDED_FOR='203.0.113.7'\n"), server);
    CHECK(body_contains(r, "HTTP_X_DUP='first, second'\n"), server);
    CHECK(body_contains(r, "HTTP_COOKIE='a=1; b=2'\n"), server);
    CHECK(body_contains(r, "HTTP_ACCEPT_ENCODING='identity'\n"), server);
    CHECK(body_contains(r, "PHP_AUTH_USER='user'\n"), server);
    CHECK(body_contains(r, "PHP_AUTH_PW='pass'\n"), server);
    CHECK(body_contains(r, "TORUS_TEST_ENVIRONMENT='from the environment'\n"), server);
    CHECK(body_contains(r, "CONTENT_TYPE=(unset)\n"), server);
    CHECK(body_contains(r, "CONTENT_LENGTH=(unset)\n"), server);
    snprintf(value, sizeof(value), "REQUEST_TIME=%lld\n", (long long)server->request.start_time);
    CHECK(body_contains(r, value), server);
    snprintf(value, sizeof(value), "REQUEST_TIME_FLOAT=%lld.",
             (long long)server->request.start_time);
    CHECK(body_contains(r, value), server);

    r = response_of(tls);
    CHECK(body_contains(r, "HTTPS='on'\n"), tls);
    CHECK(body_contains(r, "REQUEST_SCHEME='https'\n"), tls);
    CHECK(body_contains(r, "SERVER_NAME='127.0.0.1'\n"), tls);
    CHECK(body_contains(r, "PATH_INFO=(unset)\n"), tls);
    CHECK(body_contains(r, "PHP_SELF='/server.php'\n"), tls);

    /* Forms, cookies, php://input */
    r = response_of(form);
    CHECK(body_contains(r, "GET g=1\n"), form);
    CHECK(body_contains(r, "POST a=1\n"), form);
    CHECK(body_contains(r, "POST b=[\"2\",\"3\"]\n"), form);
    CHECK(body_contains(r, "COOKIE c=3\n"), form);
    CHECK(body_contains(r, "REQUEST a=1\n"), form);
    CHECK(body_contains(r, "REQUEST g=1\n"), form);
    r = response_of(json);
    CHECK(strcmp(r->body, "13:{\"json\":true}|{\"json\":true}|0") == 0, json);
    r = response_of(put);
    CHECK(strcmp(r->body, "13:{\"json\":true}|{\"json\":true}|0") == 0, put);

    /* Uploads: parsed by PHP, temp files gone once the request is over */
    r = response_of(upload);
    CHECK(body_contains(r, "doc name=hello.txt size=13 error=0 md5=" /* md5 of "hello upload\n" */
                           "410b1586e6bdd59e710db93c2f8d3082"),
          upload);
    CHECK(body_contains(r, "uploaded=yes"), upload);
    CHECK(body_contains(r, "huge name=huge.bin size=0 error=1"), upload);
    CHECK(body_contains(r, "post={\"title\":\"Report\"}"), upload);
    const char *tmp = r->body ? strstr(r->body, " tmp=") : NULL;
    if (tmp) {
        char tmp_name[PATH_MAX];
        snprintf(tmp_name, sizeof(tmp_name), "%.*s", (int)strcspn(tmp + 5, "\n"), tmp + 5);
        CHECK(strncmp(tmp_name, temp_dir, strlen(temp_dir)) == 0, upload);
        CHECK(!file_exists(tmp_name), upload);
    }
    char uploads[PATH_MAX];
    snprintf(uploads, sizeof(uploads), "%s/uploads", temp_dir);
    CHECK(dir_entries(uploads) == 0, upload);

    r = response_of(too_large);
    CHECK(r->status == 200, too_large);
    CHECK(!body_contains(r, "POST a="), too_large);

    /* Headers, status, cookies */
    r = response_of(headers);
    CHECK(r->status == 201, headers);
    CHECK(strncmp(headers->bytes, "HTTP/1.1 201 Created\r\n", 22) == 0, headers);
    CHECK(head_has(r, "X-Test", "one"), headers);
    CHECK(header_find(r->head, "X-Multi", value, sizeof(value)) == 2, headers);
    CHECK(!head_has(r, "X-Removed", NULL), headers);
    CHECK(head_has(r, "X-Callback", "called"), headers);
    CHECK(head_has(r, "Set-Cookie", "flavour=chocolate%20chip; path=/; HttpOnly"), headers);
    CHECK(strcmp(r->body, "before:not sent after:sent") == 0, headers);
    CHECK(headers->request.status == 201, headers);

    CHECK(response_of(not_found)->status == 404, not_found);
    CHECK(strncmp(not_found->bytes, "HTTP/1.1 404 Not Found\r\n", 24) == 0, not_found);
    CHECK(response_of(teapot)->status == 418, teapot);
    r = response_of(redirect);
    CHECK(r->status == 302, redirect);
    CHECK(head_has(r, "Location", "/elsewhere"), redirect);
    r = response_of(cgi_status);
    CHECK(r->status == 503, cgi_status);
    CHECK(!head_has(r, "Status", NULL), cgi_status);

    /* Streaming */
    r = response_of(flushed);
    CHECK(r->status == 200, flushed);
    CHECK(r->chunked, flushed);
    CHECK(!head_has(r, "Content-Length", NULL), flushed);
    CHECK(strcmp(r->body, "first part;second part") == 0, flushed);
    CHECK(flushed->emits >= 2, flushed);
    CHECK(!(flushed->flags & TORUS_EMIT_CLOSE), flushed);
    r = response_of(flushed10);
    CHECK(!r->chunked, flushed10);
    CHECK(!head_has(r, "Content-Length", NULL), flushed10);
    CHECK(head_has(r, "Connection", "close"), flushed10);
    CHECK(strcmp(r->body, "first part;second part") == 0, flushed10);
    CHECK(flushed10->flags & TORUS_EMIT_CLOSE, flushed10);

    /* HEAD: the GET's head, no body */
    r = response_of(head);
    CHECK(r->status == 200, head);
    CHECK(head_has(r, "Content-Length", "13"), head);
    CHECK(r->raw_body_len == 0, head);

    /* Failures answer 500 and the executor goes on */
    r = response_of(fatal);
    CHECK(r->status == 500, fatal);
    CHECK(strncmp(fatal->bytes, "HTTP/1.1 500 Internal Server Error\r\n", 36) == 0, fatal);
    CHECK(!body_contains(r, "on purpose"), fatal); /* display_errors is off */
    CHECK(fatal->request.status == 500, fatal);
    CHECK(response_of(after_fatal)->status == 200, after_fatal);
    CHECK(strcmp(response_of(after_fatal)->body, "Hello, world!") == 0, after_fatal);
    CHECK(response_of(exception)->status == 500, exception);
    CHECK(response_of(parse_error)->status == 500, parse_error);
    CHECK(response_of(memory)->status == 500, memory);
    CHECK(response_of(after_memory)->status == 200, after_memory);
    if (TEST_TIME_LIMITS) {
        /* max_execution_time (1 s here) ends the script with a 500 */
        CHECK(response_of(timeout)->status == 500, timeout);
        CHECK(response_of(after_timeout)->status == 200, after_timeout);
        CHECK(elapsed >= 0.9, NULL);
    }

    /* getallheaders() */
    r = response_of(allheaders);
    CHECK(body_contains(r, "Host: example.test:8080\n"), allheaders);
    CHECK(body_contains(r, "X-Dup: first, second\n"), allheaders);
    CHECK(body_contains(r, "Cookie: a=1; b=2\n"), allheaders);
    CHECK(body_contains(r, "same=yes\n"), allheaders);

    /* fastcgi_finish_request(): END first, the work after it, RELEASE last */
    r = response_of(finish);
    CHECK(strcmp(r->body, "answered early") == 0, finish);
    CHECK(head_has(r, "Content-Length", "14"), finish);
    CHECK(finish->end_emit >= 0 && finish->end_emit < finish->release_emit, finish);
    CHECK(!finish->marker_at_end, finish);
    CHECK(finish->marker_at_release, finish);

    /* Early hints */
    r = response_of(hints);
    CHECK(r->interim_status == 103, hints);
    CHECK(strncmp(hints->bytes, "HTTP/1.1 103 Early Hints\r\n", 26) == 0, hints);
    CHECK(header_find(r->interim_head, "Link", value, sizeof(value)) == 2, hints);
    CHECK(strcmp(value, "</style.css>; rel=preload; as=style") == 0, hints);
    CHECK(!header_find(r->interim_head, "X-Not-A-Hint", NULL, 0), hints);
    CHECK(r->status == 200, hints);
    CHECK(header_find(r->head, "Link", NULL, 0) == 2, hints);
    CHECK(strcmp(r->body, "hint=1;page") == 0, hints);

    r = response_of(opcache);
    CHECK(strcmp(r->body, EXPECTED_OPCACHE) == 0, opcache);

    r = response_of(ini);
    CHECK(body_contains(r, "precision='10'\n"), ini);
    CHECK(body_contains(r, "display_errors='0'\n"), ini);
    CHECK(body_contains(r, "log_errors='1'\n"), ini);
    CHECK(body_contains(r, "post_max_size='256K'\n"), ini);
    CHECK(body_contains(r, "torus.unknown=false\n"), ini);

    r = response_of(gzip);
    CHECK(head_has(r, "Content-Encoding", "gzip"), gzip);
    CHECK(r->body_len > 2 && (unsigned char)r->body[0] == 0x1f && (unsigned char)r->body[1] == 0x8b,
          gzip);
    CHECK(r->body_len < 3600, gzip);
    r = response_of(plain);
    CHECK(!head_has(r, "Content-Encoding", NULL), plain);
    CHECK(r->body_len == 3600, plain);

    r = response_of(cut);
    CHECK(strcmp(r->body, "12345") == 0, cut);
    CHECK(head_has(r, "Content-Length", "5"), cut);
    CHECK(header_find(r->head, "Content-Length", NULL, 0) == 1, cut);
    CHECK(!(cut->flags & TORUS_EMIT_CLOSE), cut);
    r = response_of(short_body);
    CHECK(strcmp(r->body, "abc") == 0, short_body);
    CHECK(short_body->flags & TORUS_EMIT_CLOSE, short_body);

    r = response_of(close_header);
    CHECK(head_has(r, "Connection", "close"), close_header);
    CHECK(close_header->flags & TORUS_EMIT_CLOSE, close_header);
    r = response_of(no_keep_alive);
    CHECK(head_has(r, "Connection", "close"), no_keep_alive);
    CHECK(no_keep_alive->flags & TORUS_EMIT_CLOSE, no_keep_alive);
    r = response_of(keep_alive10);
    CHECK(head_has(r, "Connection", "keep-alive"), keep_alive10);
    CHECK(!(keep_alive10->flags & TORUS_EMIT_CLOSE), keep_alive10);

    /* A gone client stops the script at its first output, unless ignore_user_abort() */
    CHECK(!file_exists(abort_marker), aborted);
    CHECK(file_exists(ignore_marker), ignored);
    FILE *f = fopen(ignore_marker, "r");
    if (f) {
        char line[128] = "";
        CHECK(fgets(line, sizeof(line), f) && strcmp(line, "still running, aborted=1") == 0,
              ignored);
        fclose(f);
    }

    r = response_of(big);
    CHECK(r->chunked, big);
    CHECK(r->body_len == 2097152, big);
    CHECK(big->emits > 2, big);

    r = response_of(env);
    CHECK(body_contains(r, "putenv_before=false\n"), env);
    CHECK(body_contains(r, "host=example.test:8080\n"), env);
    CHECK(body_contains(r, "remote=127.0.0.1\n"), env);
    CHECK(body_contains(r, "path=present\n"), env);
    CHECK(body_contains(r, "putenv=set by script\n"), env);
    CHECK(body_contains(r, "server_path=present\n"), env);
    r = response_of(env_again);
    CHECK(body_contains(r, "putenv_before=false\n"), env_again);

    r = response_of(no_content);
    CHECK(r->status == 204, no_content);
    CHECK(!head_has(r, "Content-Length", NULL), no_content);
    CHECK(r->raw_body_len == 0, no_content);

    r = response_of(buffers);
    CHECK(strcmp(r->body, "SHOUTED level=0") == 0, buffers);

    r = response_of(reset);
#ifdef __SANITIZE_THREAD__
    CHECK(strcmp(r->body, "absent no warning") == 0, reset);
#else
    CHECK(strncmp(r->body, "false opcache_reset(): is disabled", 34) == 0, reset);
#endif

    r = response_of(unrouted);
    CHECK(r->status == 404, unrouted);

    for (size_t i = 0; i < n; i++)
        exchange_free(x[i]);
}

/* Two executors at once, each with its own port. */
static void test_two_executors(const struct torus_config *config)
{
    enum { PER_THREAD = 12 };
    struct test_exchange *a[PER_THREAD], *b[PER_THREAD];
    for (int i = 0; i < PER_THREAD; i++) {
        char target[64];
        snprintf(target, sizeof(target), "/sleep.php?us=50000&id=a%d", i);
        a[i] = exchange_get(target, "sleep.php");
        snprintf(target, sizeof(target), "/sleep.php?us=50000&id=b%d", i);
        b[i] = exchange_get(target, "sleep.php");
    }
    struct test_port port_a, port_b;
    port_init(&port_a, a, PER_THREAD);
    port_init(&port_b, b, PER_THREAD);
    struct executor_run run_a = {.config = config, .port = &port_a};
    struct executor_run run_b = {.config = config, .port = &port_b};
    double started = monotonic_seconds();
    executor_start(&run_a);
    executor_start(&run_b);
    pthread_join(run_a.thread, NULL);
    pthread_join(run_b.thread, NULL);
    double elapsed = monotonic_seconds() - started;
    CHECK(run_a.result == TORUS_OK, NULL);
    CHECK(run_b.result == TORUS_OK, NULL);
    check_lifecycle(a, PER_THREAD);
    check_lifecycle(b, PER_THREAD);
    for (int i = 0; i < PER_THREAD; i++) {
        char expected[32];
        snprintf(expected, sizeof(expected), "slept a%d", i);
        CHECK(strcmp(response_of(a[i])->body, expected) == 0, a[i]);
        snprintf(expected, sizeof(expected), "slept b%d", i);
        CHECK(strcmp(response_of(b[i])->body, expected) == 0, b[i]);
    }
    /* Serially this takes 2 x 12 x 50 ms = 1.2 s; side by side about half. */
    CHECK(elapsed < 1.0, NULL);
    for (int i = 0; i < PER_THREAD; i++) {
        exchange_free(a[i]);
        exchange_free(b[i]);
    }
}

static void test_session(const struct torus_config *config)
{
    struct test_exchange *x[3] = {exchange_get("/session.php", "session.php"),
                                  exchange_get("/session.php", "session.php"),
                                  exchange_get("/session.php", "session.php")};
    CHECK(run_exchanges(config, x, 3, session_cookie_forward) == TORUS_OK, NULL);
    check_lifecycle(x, 3);
    struct parsed_response *r = response_of(x[0]);
    CHECK(body_contains(r, "visits=1 id="), x[0]);
    CHECK(head_has(r, "Set-Cookie", NULL), x[0]);
    char id[128] = "";
    const char *at = r->body ? strstr(r->body, "id=") : NULL;
    if (at)
        snprintf(id, sizeof(id), "%s", at + 3);
    r = response_of(x[1]);
    CHECK(body_contains(r, "visits=2 id="), x[1]);
    CHECK(id[0] && body_contains(r, id), x[1]);
    CHECK(body_contains(response_of(x[2]), "visits=3"), x[2]);
    for (int i = 0; i < 3; i++)
        exchange_free(x[i]);
}

/* --max-requests in classic mode recreates the thread's context; requests keep working. */
static void test_max_requests(const struct torus_config *config)
{
    struct torus_config recycled = *config;
    recycled.max_requests = 2;
    struct test_exchange *x[5];
    for (int i = 0; i < 5; i++)
        x[i] = exchange_get("/opcache.php", "opcache.php");
    CHECK(run_exchanges(&recycled, x, 5, NULL) == TORUS_OK, NULL);
    check_lifecycle(x, 5);
    for (int i = 0; i < 5; i++) {
        CHECK(strcmp(response_of(x[i])->body, EXPECTED_OPCACHE) == 0, x[i]);
        exchange_free(x[i]);
    }
}

int main(void)
{
    setenv("TORUS_TEST_ENVIRONMENT", "from the environment", 1);
    fixtures_locate();
    char probe[PATH_MAX];
    snprintf(probe, sizeof(probe), "%s/hello.php", fixtures_dir);
    if (!file_exists(probe)) {
        fprintf(stderr, "fixtures not found at %s (set TORUS_SOURCE_DIR)\n", fixtures_dir);
        return 1;
    }
    temp_dir_create();
    torus_log_threshold = TORUS_LOG_ERROR; /* the failures below are on purpose */

    struct torus_config config;
    php_start(&config, NULL);
    int major = 0, minor = 0, release = 0;
    char zts[8] = "";
    CHECK(sscanf(torus_sapi_php_version(), "%d.%d.%d (%3s)", &major, &minor, &release, zts) == 4 &&
              major == 8 && minor >= 2 &&
              strcmp(zts, torus_sapi_thread_safe() ? "ZTS" : "NTS") == 0 &&
              ZTS_BUILT == torus_sapi_thread_safe(),
          NULL);
    CHECK(strcmp(torus_sapi_name, "fpm-fcgi") == 0, NULL);

    test_classic_batch(&config);
    if (torus_sapi_thread_safe()) /* an NTS PHP has one interpreter per process */
        test_two_executors(&config);
    test_session(&config);
    test_max_requests(&config);

    torus_sapi_shutdown();
    temp_dir_remove();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("test_sapi: all checks passed\n");
    return 0;
}

#endif /* TEST_SAPI_HARNESS_ONLY */
