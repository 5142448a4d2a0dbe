/*
 * Request bodies spooled to a temporary file (net/body_spool.c), on a real
 * io_uring, real files in $TMPDIR and a real TCP connection whose client end
 * the test writes (tests/unit/loop_harness.h), with --body-buffer-size at
 * 16 KiB:
 *
 *   - the end of a body (Content-Length, then chunked): READING_BODY, then
 *     SPOOLING_BODY while its last writes run, then EXECUTING with the body
 *     in an unlinked file holding exactly what was sent; with no free
 *     executor, PARKED until one frees up;
 *   - errors: a temporary file that cannot be created, and writes that fail
 *     (RLIMIT_FSIZE): one 500, WRITING_LAST, the lingering close;
 *   - a body that stops coming: the body timer closes the connection, and a
 *     client that closes mid-body is closed at once; nothing reaches PHP and
 *     no descriptor is left open.
 */
#include <signal.h>
#include <sys/resource.h>

#include "tests/unit/loop_harness.h"

#define SPOOL_BUFFER (16 * 1024)

static void small_spool(struct torus_config *cfg)
{
    cfg->body_buffer_size = SPOOL_BUFFER;
    cfg->body_timeout = 0.3;
}

static char body_byte(size_t i)
{
    return (char)('0' + i % 43);
}

static char *make_body(size_t size)
{
    char *body = malloc(size);
    for (size_t i = 0; i < size; i++)
        body[i] = body_byte(i);
    return body;
}

/* True when the file at fd holds exactly `size` bytes of make_body(). */
static bool file_holds_body(int fd, size_t size)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || (size_t)st.st_size != size)
        return false;
    char *got = malloc(size);
    bool same = pread(fd, got, size, 0) == (ssize_t)size;
    for (size_t i = 0; same && i < size; i++)
        same = got[i] == body_byte(i);
    free(got);
    return same;
}

/*
 * Sends a request head and then the body in 16 KiB pieces, pumping the loop
 * between them, so the body is written to its file piece by piece as it
 * arrives. Records in seen[] every state the connection was in between two
 * pumps.
 */
static void send_body(struct harness *h, struct torus_conn *c, int client, const char *head,
                      const char *body, size_t len, bool seen[CONN_STATE_COUNT])
{
    harness_send(client, head, strlen(head));
    for (size_t at = 0; at < len;) {
        size_t n = TORUS_MIN(len - at, (size_t)SPOOL_BUFFER);
        harness_send(client, body + at, n);
        at += n;
        harness_pump(h, 1);
        seen[c->state] = true;
    }
}

/* The executor's side: takes the request (recording states on the way), checks its body. */
static struct torus_request *take_spooled(struct harness *h, struct torus_conn *c, size_t size,
                                          bool seen[CONN_STATE_COUNT])
{
    struct torus_request *r = NULL;
    CHECK(HARNESS_PUMP_UNTIL(h, (seen[c->state] = true, (r = harness_take_request(h)) != NULL),
                             3000));
    if (!r)
        return NULL;
    CHECK(r->body_in_file);
    CHECK(r->body.data == NULL);
    CHECK(r->body.len == size);
    CHECK(r->body_in_file && file_holds_body(r->body_fd, size));
    CHECK(c->spool_fd == -1); /* the file belongs to the request now */
    CHECK(c->spool_inflight == 0);
    return r;
}

/* The executor answers and releases the request: its file is closed, the connection reads. */
static void answer(struct harness *h, struct torus_conn *c, int client, struct torus_request *r)
{
    int body_fd = r->body_fd;
    struct stat before;
    CHECK(fstat(body_fd, &before) == 0);
    harness_emit_ok(h, r, TORUS_EMIT_END | TORUS_EMIT_RELEASE);
    char buf[256];
    harness_receive(h, client, buf, sizeof(buf), HARNESS_OK_LEN, 2000, NULL);
    CHECK(harness_is_ok(buf));
    CHECK(c->state == CONN_READING_HEAD);
    CHECK(c->held == 0 && c->exchange == NULL);
    /* Closed with the request. The number may already name a new spare file (made empty; its
       inode number may even be the freed one's): not the body's. */
    struct stat after;
    CHECK(before.st_size > 0 && (fstat(body_fd, &after) != 0 || after.st_size == 0));
}

static void test_end_content_length(void)
{
    enum { SIZE = 200 * 1024 + 123 };
    struct harness h;
    harness_init(&h, small_spool);
    struct torus_conn *c;
    int client = harness_connect(&h, &c, false);
    char *body = make_body(SIZE);
    char head[256];
    snprintf(head, sizeof(head),
             "POST /index.php HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n", SIZE);
    bool seen[CONN_STATE_COUNT] = {false};
    send_body(&h, c, client, head, body, SIZE, seen);
    struct torus_request *r = take_spooled(&h, c, SIZE, seen);
    CHECK(seen[CONN_READING_BODY]);
    CHECK(seen[CONN_SPOOLING_BODY]); /* its last write ran after the body was complete */
    CHECK(!seen[CONN_PARKED]);
    CHECK(c->state == CONN_EXECUTING);
    if (r)
        answer(&h, c, client, r);
    free(body);
    close(client);
    harness_free(&h);
}

static void test_end_chunked(void)
{
    enum { SIZE = 100 * 1000, PIECE = 10000 };
    struct harness h;
    harness_init(&h, small_spool);
    struct torus_conn *c;
    int client = harness_connect(&h, &c, false);
    char *body = make_body(SIZE);
    static const char head[] =
        "POST /index.php HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
    harness_send(client, head, sizeof(head) - 1);
    bool seen[CONN_STATE_COUNT] = {false};
    for (size_t at = 0; at < SIZE; at += PIECE) {
        char size_line[32];
        int n = snprintf(size_line, sizeof(size_line), "%x\r\n", PIECE);
        harness_send(client, size_line, (size_t)n);
        harness_send(client, body + at, PIECE);
        harness_send(client, "\r\n", 2);
        harness_pump(&h, 1);
        seen[c->state] = true;
        CHECK(c->state == CONN_READING_BODY); /* no end before the last chunk */
    }
    harness_send(client, "0\r\n\r\n", 5); /* the end of the body */
    struct torus_request *r = take_spooled(&h, c, SIZE, seen);
    CHECK(seen[CONN_SPOOLING_BODY]);
    if (r)
        answer(&h, c, client, r);
    free(body);
    close(client);
    harness_free(&h);
}

static void test_end_parked(void)
{
    enum { SIZE = 64 * 1024 + 5 };
    struct harness h;
    harness_init(&h, small_spool);
    h.shard.executor_count = 0; /* every executor busy: nobody takes it */
    struct torus_conn *c;
    int client = harness_connect(&h, &c, false);
    char *body = make_body(SIZE);
    char head[256];
    snprintf(head, sizeof(head),
             "POST /index.php HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n", SIZE);
    bool seen[CONN_STATE_COUNT] = {false};
    send_body(&h, c, client, head, body, SIZE, seen);
    CHECK(HARNESS_PUMP_UNTIL(&h, (seen[c->state] = true, c->state == CONN_PARKED), 2000));
    CHECK(seen[CONN_SPOOLING_BODY]);
    CHECK(h.metrics.queue_depth == 1);
    CHECK(h.loop->parked_first == c->exchange);
    CHECK(c->timer.queue == NULL); /* waiting for an executor is not the client's fault */

    h.shard.executor_count = 1; /* an executor frees up */
    struct torus_request *r = take_spooled(&h, c, SIZE, seen);
    CHECK(c->state == CONN_EXECUTING);
    CHECK(h.metrics.queue_depth == 0);
    CHECK(h.loop->parked_first == NULL);
    if (r)
        answer(&h, c, client, r);
    free(body);
    close(client);
    harness_free(&h);
}

static int count_500(const char *buf)
{
    int count = 0;
    for (const char *p = buf; (p = strstr(p, "HTTP/1.1 500 ")); p++)
        count++;
    return count;
}

/* A failed body: one 500, the last output, the lingering close; freed when the client goes. */
static void expect_500_and_linger(struct harness *h, struct torus_conn *c, int client)
{
    char buf[8192];
    bool eof;
    harness_receive(h, client, buf, sizeof(buf), SIZE_MAX, 3000, &eof);
    CHECK(count_500(buf) == 1);
    CHECK(strstr(buf, "Connection: close\r\n") != NULL);
    CHECK(eof); /* our side was shut after the answer */
    CHECK(c->state == CONN_LINGERING);
    CHECK(c->exchange == NULL && c->held == 0); /* the request never reached PHP */
    CHECK(harness_take_request(h) == NULL);
    close(client);
    CHECK(HARNESS_PUMP_UNTIL(h, h->loop->conn_pool.in_use == 0, 2000)); /* its FIN: freed */
}

static void test_error_open(void)
{
    enum { SIZE = 64 * 1024 };
    struct harness h;
    harness_init(&h, small_spool);
    char *saved = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
    setenv("TMPDIR", "/nonexistent-torus-test-dir", 1);
    struct torus_conn *c;
    int client = harness_connect(&h, &c, false);
    char *body = make_body(SIZE);
    char head[256];
    snprintf(head, sizeof(head),
             "POST /index.php HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n", SIZE);
    bool seen[CONN_STATE_COUNT] = {false};
    send_body(&h, c, client, head, body, SIZE, seen);
    CHECK(seen[CONN_WRITING_LAST] || seen[CONN_LINGERING]);
    CHECK(c->spool_fd == -1);
    expect_500_and_linger(&h, c, client);
    if (saved) {
        setenv("TMPDIR", saved, 1);
        free(saved);
    } else {
        unsetenv("TMPDIR");
    }
    free(body);
    harness_free(&h);
}

static void test_error_write(void)
{
    enum { SIZE = 256 * 1024 };
    struct harness h;
    harness_init(&h, small_spool);
    /* Files of this process may not grow past 32 KiB: the writes past it fail (EFBIG). */
    struct rlimit saved, limit;
    getrlimit(RLIMIT_FSIZE, &saved);
    limit = saved;
    limit.rlim_cur = 32 * 1024;
    signal(SIGXFSZ, SIG_IGN);
    setrlimit(RLIMIT_FSIZE, &limit);
    struct torus_conn *c;
    int client = harness_connect(&h, &c, false);
    char *body = make_body(SIZE);
    char head[256];
    snprintf(head, sizeof(head),
             "POST /index.php HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n", SIZE);
    bool seen[CONN_STATE_COUNT] = {false};
    send_body(&h, c, client, head, body, SIZE, seen);
    CHECK(seen[CONN_READING_BODY]);
    expect_500_and_linger(&h, c, client);
    setrlimit(RLIMIT_FSIZE, &saved);
    signal(SIGXFSZ, SIG_DFL);
    free(body);
    harness_free(&h);
}

static void test_timeout(void)
{
    enum { SIZE = 200 * 1024, SENT = 40 * 1024 };
    struct harness h;
    harness_init(&h, small_spool);
    struct torus_conn *c;
    int client = harness_connect(&h, &c, false);
    char *body = make_body(SIZE);
    char head[256];
    snprintf(head, sizeof(head),
             "POST /index.php HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n", SIZE);
    bool seen[CONN_STATE_COUNT] = {false};
    send_body(&h, c, client, head, body, SENT, seen); /* then nothing more */
    CHECK(HARNESS_PUMP_UNTIL(&h, c->spool_inflight == 0, 2000));
    CHECK(c->state == CONN_READING_BODY);
    CHECK(c->spool_fd >= 0);                       /* part of it is in the file */
    CHECK(c->timer.queue == &h.loop->body_timers); /* re-armed by each read of the body */
    uint64_t stalled = monotonic_ms();
    CHECK(HARNESS_PUMP_UNTIL(&h, h.loop->conn_pool.in_use == 0, 3000));
    CHECK(monotonic_ms() - stalled >= 250); /* closed by its timer, not before */
    CHECK(harness_take_request(&h) == NULL);
    char buf[256];
    bool eof;
    harness_receive(&h, client, buf, sizeof(buf), SIZE_MAX, 3000, &eof);
    CHECK(eof);
    free(body);
    close(client);
    harness_free(&h);
}

static void test_client_gone_mid_body(void)
{
    enum { SIZE = 200 * 1024, SENT = 40 * 1024 };
    struct harness h;
    harness_init(&h, small_spool);
    struct torus_conn *c;
    int client = harness_connect(&h, &c, false);
    char *body = make_body(SIZE);
    char head[256];
    snprintf(head, sizeof(head),
             "POST /index.php HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n", SIZE);
    bool seen[CONN_STATE_COUNT] = {false};
    send_body(&h, c, client, head, body, SENT, seen);
    CHECK(c->state == CONN_READING_BODY);
    uint64_t gone = monotonic_ms();
    shutdown(client, SHUT_WR); /* the body ends before its Content-Length */
    CHECK(HARNESS_PUMP_UNTIL(&h, h.loop->conn_pool.in_use == 0, 2000));
    CHECK(monotonic_ms() - gone < 250); /* at once, not by the body timer */
    CHECK(harness_take_request(&h) == NULL);
    free(body);
    close(client);
    harness_free(&h);
}

/*
 * The files are made ahead by the file-system workers: two spares wait
 * before any body comes, a large body takes one (no open on the I/O thread),
 * and the workers make its replacement.
 */
static void test_spare_files(void)
{
    enum { SIZE = 200 * 1024 };
    struct harness h;
    harness_init(&h, small_spool);
    spool_spares_refill(h.loop);
    CHECK(HARNESS_PUMP_UNTIL(&h, h.loop->spool_spare_count == SPOOL_SPARES, 3000));
    int spares[SPOOL_SPARES];
    memcpy(spares, h.loop->spool_spares, sizeof(spares));
    struct torus_conn *c;
    int client = harness_connect(&h, &c, false);
    char *body = make_body(SIZE);
    char head[256];
    snprintf(head, sizeof(head),
             "POST /index.php HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n", SIZE);
    bool seen[CONN_STATE_COUNT] = {false};
    send_body(&h, c, client, head, body, SIZE, seen);
    struct torus_request *r = take_spooled(&h, c, SIZE, seen);
    CHECK(r && r->body_fd == spares[SPOOL_SPARES - 1]); /* the last spare, taken */
    CHECK(HARNESS_PUMP_UNTIL(&h, h.loop->spool_spare_count == SPOOL_SPARES, 3000)); /* replaced */
    if (r)
        answer(&h, c, client, r);
    free(body);
    close(client);
    harness_free(&h); /* closes the spares */
}

int main(void)
{
    int fds = harness_open_fds();
    test_end_content_length();
    test_end_chunked();
    test_end_parked();
    test_error_open();
    test_error_write();
    test_timeout();
    test_client_gone_mid_body();
    test_spare_files();
    CHECK(harness_open_fds() == fds); /* every socket and spool file closed */
    printf("test_body_spool: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
