/*
 * A connection's output queue and its marks (net/conn_output.c), on a real
 * io_uring and a real TCP connection whose client end the test reads at its
 * own pace (tests/unit/loop_harness.h):
 *
 *   - a streamed PHP response: the executor is throttled exactly when more
 *     than TORUS_OUTPUT_HIGH_MARK bytes wait unsent, stays throttled while
 *     the client drains down to TORUS_OUTPUT_LOW_MARK, and is woken below it;
 *   - pipelined requests whose answers are not read: OUTPUT_FULL above the
 *     high mark (nothing parsed, the receive cancelled), READING_HEAD again
 *     below the low mark, and every request answered in the end;
 *   - a static file streamed after the queued output: WRITING_FILE, the next
 *     pipelined request parsed only once the file is out;
 *   - pipelined PHP requests: each answer is corked while the next request is
 *     at the executor and they go out together after the last; a stalled
 *     executor sends what is corked; a closed connection leaves the list.
 */
#include "tests/unit/loop_harness.h"

#define HIGH TORUS_OUTPUT_HIGH_MARK
#define LOW  TORUS_OUTPUT_LOW_MARK

static char pattern(uint64_t i)
{
    return (char)('A' + i % 23);
}

static void test_streamed_response(void)
{
    struct harness h;
    harness_init(&h, NULL);
    struct torus_conn *c;
    int client = harness_connect(&h, &c, true);
    static const char request[] = "GET /index.php HTTP/1.1\r\nHost: t\r\n\r\n";
    harness_send(client, request, sizeof(request) - 1);
    struct torus_request *r = NULL;
    CHECK(HARNESS_PUMP_UNTIL(&h, (r = harness_take_request(&h)) != NULL, 2000));
    if (!r) {
        harness_free(&h);
        return;
    }
    CHECK(c->state == CONN_EXECUTING);
    CHECK(c->held == 1);

    /* The executor streams 64 KiB parts; the client reads nothing. Each part is taken at once
     * (dispatch_take_responses), so the mark is checked as the I/O thread saw it. */
    /* The head first, announcing more than will come (the framing is not the point here). */
    static char part[64 * 1024];
    const int64_t announced = 128 * (int64_t)sizeof(part) + 3;
    harness_emit_head(&h, r, 200, announced, NULL, 0, 0);
    char head_text[128];
    size_t head_len = (size_t)snprintf(head_text, sizeof(head_text),
                                       HARNESS_OK_HEAD_START "%*s\r\nContent-Length: %lld\r\n\r\n",
                                       TORUS_HTTP_DATE_LEN, "", (long long)announced);
    const uint64_t head_taken = sizeof(struct torus_response_head);
    uint64_t emitted = 0;
    bool throttled = false;
    for (int i = 0; i < 128 && !throttled; i++) {
        for (size_t k = 0; k < sizeof(part); k++)
            part[k] = pattern(emitted + k);
        harness_emit(&h, r, part, sizeof(part), 0);
        emitted += sizeof(part);
        dispatch_take_responses(h.loop);
        throttled = atomic_load(&r->throttled);
        CHECK(throttled == (c->out_bytes > HIGH));
        CHECK(atomic_load(&r->taken) == head_taken + emitted);
        harness_pump(&h, 1); /* the sends the kernel can still absorb */
    }
    CHECK(throttled);

    /* The executor sleeps on flow_wait; nothing wakes it while the client reads nothing. */
    atomic_store(&r->flow_wait, 1);
    uint64_t until = monotonic_ms() + 200;
    while (monotonic_ms() < until)
        harness_pump(&h, 10);
    CHECK(atomic_load(&r->throttled));
    CHECK(atomic_load(&r->flow_wait) == 1);
    CHECK(c->out_bytes >= LOW);
    CHECK(c->state == CONN_EXECUTING);

    /* The client reads slowly: throttled all the way down to the low mark, then woken. */
    static char buf[2 << 20];
    uint64_t received = 0;
    int between_marks = 0;
    until = monotonic_ms() + 10000;
    while (atomic_load(&r->throttled) && monotonic_ms() < until) {
        ssize_t n = harness_read(client, buf + received, 8192);
        if (n > 0)
            received += (uint64_t)n;
        harness_pump(&h, 1);
        if (c->out_bytes >= LOW)
            CHECK(atomic_load(&r->throttled)); /* it only ever clears below the low mark */
        if (c->out_bytes >= LOW && c->out_bytes <= HIGH && atomic_load(&r->throttled))
            between_marks++;
    }
    CHECK(!atomic_load(&r->throttled));
    CHECK(c->out_bytes < LOW);
    CHECK(atomic_load(&r->flow_wait) == 0); /* reset and woken (FUTEX_WAKE) */
    CHECK(between_marks > 0);               /* not resumed as soon as it was under the high mark */

    /* The end: the connection is kept alive and reads again; every byte arrived in order. */
    harness_emit(&h, r, "END", 3, TORUS_EMIT_END | TORUS_EMIT_RELEASE);
    until = monotonic_ms() + 10000;
    while (received < head_len + emitted + 3 && monotonic_ms() < until) {
        ssize_t n = harness_read(client, buf + received, sizeof(buf) - received);
        if (n > 0)
            received += (uint64_t)n;
        harness_pump(&h, 1);
    }
    CHECK(received == head_len + emitted + 3);
    CHECK(memcmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
    bool same = true;
    for (uint64_t i = 0; i < emitted && head_len + i < received; i++)
        same &= buf[head_len + i] == pattern(i);
    CHECK(same);
    CHECK(received < 3 || memcmp(buf + received - 3, "END", 3) == 0);
    CHECK(HARNESS_PUMP_UNTIL(&h, c->out_bytes == 0 && !c->send_inflight, 2000));
    CHECK(c->state == CONN_READING_HEAD);
    CHECK(c->held == 0);
    CHECK(c->exchange == NULL);
    close(client);
    harness_free(&h);
}

/* Occurrences of the 200 status line in buf. */
static int count_responses(const char *buf, size_t len)
{
    static const char line[] = "HTTP/1.1 200 OK\r\n";
    int count = 0;
    for (const char *p = buf; (p = memmem(p, len - (size_t)(p - buf), line, sizeof(line) - 1)); p++)
        count++;
    return count;
}

static void test_pipelined_output_full(void)
{
    enum { REQUESTS = 400 }; /* 400 answers of 4 KiB: well above the high mark */
    struct harness h;
    harness_init(&h, NULL);
    struct torus_conn *c;
    int client = harness_connect(&h, &c, true);
    static const char one[] = "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n";
    static char requests[REQUESTS * (sizeof(one) - 1)];
    for (int i = 0; i < REQUESTS; i++)
        memcpy(requests + (size_t)i * (sizeof(one) - 1), one, sizeof(one) - 1);
    harness_send(client, requests, sizeof(requests));

    CHECK(HARNESS_PUMP_UNTIL(&h, c->state == CONN_OUTPUT_FULL, 2000));
    CHECK(c->out_bytes > HIGH);
    CHECK(c->reading_paused); /* the receive is cancelled too */
    uint64_t parsed = h.metrics.requests;
    CHECK(parsed < REQUESTS);

    /* Nothing moves while the client reads nothing. */
    uint64_t until = monotonic_ms() + 200;
    while (monotonic_ms() < until)
        harness_pump(&h, 10);
    CHECK(c->state == CONN_OUTPUT_FULL);
    CHECK(h.metrics.requests == parsed);

    /* The client reads: parsing resumes each time the output is below the low mark. */
    static char buf[4 << 20];
    size_t received = 0;
    int resumed = 0;
    enum conn_state before = c->state;
    until = monotonic_ms() + 20000;
    while (count_responses(buf, received) < REQUESTS && monotonic_ms() < until) {
        ssize_t n = harness_read(client, buf + received, TORUS_MIN(sizeof(buf) - received, 8192));
        if (n > 0)
            received += (size_t)n;
        harness_pump(&h, 1);
        if (c->state == CONN_OUTPUT_FULL)
            CHECK(c->out_bytes >= LOW); /* it would have resumed below the low mark */
        if (before == CONN_OUTPUT_FULL && c->state != CONN_OUTPUT_FULL)
            resumed++;
        before = c->state;
    }
    CHECK(count_responses(buf, received) == REQUESTS);
    CHECK(h.metrics.requests == REQUESTS);
    CHECK(resumed >= 1);
    CHECK(HARNESS_PUMP_UNTIL(&h, c->out_bytes == 0 && !c->send_inflight, 2000));
    CHECK(c->state == CONN_READING_HEAD);
    CHECK(!c->reading_paused && c->recv_armed); /* reading again */
    close(client);
    harness_free(&h);
}

static void test_file_then_pipelined(void)
{
    struct harness h;
    harness_init(&h, NULL);
    struct torus_conn *c;
    int client = harness_connect(&h, &c, true);
    static const char requests[] = "GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n"
                                   "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n";
    harness_send(client, requests, sizeof(requests) - 1);
    CHECK(HARNESS_PUMP_UNTIL(&h, c->state == CONN_WRITING_FILE, 2000));
    CHECK(c->file_fd >= 0);
    CHECK(h.metrics.requests == 1); /* the second request waits for the file */

    static char buf[2 << 20];
    size_t received = 0;
    bool file_seen = false;
    uint64_t until = monotonic_ms() + 10000;
    while (count_responses(buf, received) < 2 && monotonic_ms() < until) {
        ssize_t n = harness_read(client, buf + received, sizeof(buf) - received);
        if (n > 0)
            received += (size_t)n;
        harness_pump(&h, 1);
        if (c->state == CONN_WRITING_FILE)
            file_seen = true;
        else if (c->state == CONN_READING_HEAD && h.metrics.requests == 1)
            CHECK(c->file_fd < 0); /* back to reading only once the file is out */
    }
    CHECK(file_seen);
    CHECK(count_responses(buf, received) == 2);
    CHECK(h.metrics.requests == 2);

    /* The first body is the file, whole and in order. */
    const char *body = memmem(buf, received, "\r\n\r\n", 4);
    CHECK(body != NULL);
    if (body) {
        body += 4;
        bool same = (size_t)(buf + received - body) > 1024 * 1024;
        for (size_t i = 0; same && i < 1024 * 1024; i++)
            same = body[i] == (char)('a' + i % 26);
        CHECK(same);
        CHECK(memcmp(body + 1024 * 1024, "HTTP/1.1 200 OK\r\n", 17) == 0);
    }
    CHECK(HARNESS_PUMP_UNTIL(&h, c->out_bytes == 0 && !c->send_inflight, 2000));
    CHECK(c->state == CONN_READING_HEAD);
    CHECK(c->file_fd < 0);
    close(client);
    harness_free(&h);
}

/* Answers the request at the executor with "ok" and pumps until the next one is there (or not). */
static struct torus_request *answer_then_next(struct harness *h, struct torus_request *r)
{
    harness_emit_ok(h, r, TORUS_EMIT_END | TORUS_EMIT_RELEASE);
    struct torus_request *next = NULL;
    HARNESS_PUMP_UNTIL(h, (next = harness_take_request(h)) != NULL, 200);
    return next;
}

static void test_pipelined_cork(void)
{
    struct harness h;
    harness_init(&h, NULL);
    struct torus_conn *c;
    int client = harness_connect(&h, &c, false);
    static const char one[] = "GET /index.php HTTP/1.1\r\nHost: t\r\n\r\n";
    char three[3 * (sizeof(one) - 1)];
    for (int i = 0; i < 3; i++)
        memcpy(three + (size_t)i * (sizeof(one) - 1), one, sizeof(one) - 1);
    harness_send(client, three, sizeof(three));
    struct torus_request *r = NULL;
    CHECK(HARNESS_PUMP_UNTIL(&h, (r = harness_take_request(&h)) != NULL, 2000));
    static char buf[8192];

    /* Two answers wait, corked, while the next request is at the executor; nothing is sent. */
    for (int i = 1; i <= 2 && r; i++) {
        r = answer_then_next(&h, r);
        CHECK(r != NULL);
        CHECK(c->state == CONN_EXECUTING);
        CHECK(c->corked && h.loop->corked == c);
        CHECK(c->out_bytes == (uint64_t)i * HARNESS_OK_LEN && !c->send_inflight);
        CHECK(harness_read(client, buf, sizeof(buf)) == 0);
    }
    /* The last answer has no request after it: all three go out in one send. */
    if (r)
        CHECK(answer_then_next(&h, r) == NULL);
    CHECK(!c->corked && h.loop->corked == NULL);
    size_t got = harness_receive(&h, client, buf, sizeof(buf), 3 * HARNESS_OK_LEN, 2000, NULL);
    CHECK(got == 3 * HARNESS_OK_LEN && count_responses(buf, got) == 3);
    CHECK(h.metrics.bytes_out == 3 * HARNESS_OK_LEN);

    /* An executor that stalls on the next request: what is corked goes out, the request runs on. */
    harness_send(client, three, 2 * (sizeof(one) - 1));
    CHECK(HARNESS_PUMP_UNTIL(&h, (r = harness_take_request(&h)) != NULL, 2000));
    r = r ? answer_then_next(&h, r) : NULL;
    CHECK(r != NULL && c->corked);
    h.executor.progress_ms = h.loop->now_ms - EXECUTOR_STALL_MS - 1;
    stalls_update(h.loop);
    CHECK(h.loop->stalled && !c->corked && h.loop->corked == NULL);
    got = harness_receive(&h, client, buf, sizeof(buf), HARNESS_OK_LEN, 2000, NULL);
    CHECK(got == HARNESS_OK_LEN);
    CHECK(c->state == CONN_EXECUTING);

    /* While an executor is stalled nothing is corked. */
    harness_send(client, one, sizeof(one) - 1);
    CHECK(HARNESS_PUMP_UNTIL(&h, c->in_len == sizeof(one) - 1, 2000)); /* kept while PHP runs */
    if (r)
        r = answer_then_next(&h, r);
    CHECK(r != NULL && !c->corked && c->state == CONN_EXECUTING);
    got = harness_receive(&h, client, buf, sizeof(buf), HARNESS_OK_LEN, 2000, NULL);
    CHECK(got == HARNESS_OK_LEN);

    /* A corked connection that closes leaves the loop's list. */
    h.executor.progress_ms = h.loop->now_ms;
    stalls_update(h.loop);
    CHECK(!h.loop->stalled);
    harness_send(client, one, sizeof(one) - 1);
    CHECK(HARNESS_PUMP_UNTIL(&h, c->in_len == sizeof(one) - 1, 2000));
    if (r)
        r = answer_then_next(&h, r);
    CHECK(r != NULL && c->corked);
    conn_close(c);
    CHECK(h.loop->corked == NULL && !c->corked);
    if (r) {
        harness_emit_ok(&h, r, TORUS_EMIT_END | TORUS_EMIT_RELEASE);
        dispatch_take_responses(h.loop); /* the release frees the connection */
    }
    close(client);
    harness_free(&h);
}

int main(void)
{
    int fds = harness_open_fds();
    test_streamed_response();
    test_pipelined_output_full();
    test_file_then_pipelined();
    test_pipelined_cork();
    CHECK(harness_open_fds() == fds); /* every socket and file closed */
    printf("test_conn_output: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
