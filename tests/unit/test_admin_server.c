/*
 * The supervisor's admin server (net/admin_server.c) over real loopback
 * sockets, driven by poll() in this thread as the supervisor drives it:
 * /healthz, /readyz following the scoreboard, keep-alive and pipelined
 * requests answered in order, a malformed request answered 400 and the
 * connection closed, an oversized head refused, crash counters by signal
 * name in /metrics, and more clients than slots served one after another;
 * /status.json with a busy executor's method and path (query cut, quotes and
 * escapes kept valid JSON) and the rate between two samples, /status the
 * page with its Content-Security-Policy.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/admin_server.c"
#include "runtime/json_reader.h"
#include "runtime/scoreboard.h"
#include "tests/unit/check.h"

static struct torus_admin_server server;
static struct torus_scoreboard *board;
static uint16_t port;

static void pump(int rounds)
{
    for (int i = 0; i < rounds; i++) {
        struct pollfd fds[TORUS_ADMIN_MAX_CONNS + 1];
        int n = torus_admin_server_poll_fds(&server, fds, torus_monotonic_ns() / 1000000u);
        poll(fds, (nfds_t)n, 5);
        torus_admin_server_handle(&server, fds, n, torus_monotonic_ns() / 1000000u);
    }
}

static int connect_client(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    struct timeval tv = {0, 20000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/*
 * Pumps the server and reads what the client gets until `count` responses
 * (counted by their status lines) have arrived or the connection closed.
 * Returns the bytes read (NUL-terminated in out); *closed tells which.
 */
static size_t read_responses(int fd, int count, char *out, size_t size, bool *closed)
{
    size_t len = 0;
    *closed = false;
    for (int round = 0; round < 400; round++) {
        pump(1);
        ssize_t n = recv(fd, out + len, size - 1 - len, 0);
        if (n == 0) {
            *closed = true;
            break;
        }
        if (n > 0)
            len += (size_t)n;
        out[len] = '\0';
        int seen = 0;
        for (const char *p = out; (p = strstr(p, "HTTP/1.1 ")); p++)
            seen++;
        /* Complete once the last response's body (Content-Length) has arrived. */
        if (seen >= count) {
            const char *last = out;
            for (const char *p = out; (p = strstr(p, "HTTP/1.1 ")); p++)
                last = p;
            const char *cl = strstr(last, "Content-Length: ");
            const char *body = strstr(last, "\r\n\r\n");
            if (cl && body && (size_t)(out + len - (body + 4)) >= (size_t)atol(cl + 16))
                break;
        }
    }
    return len;
}

static void test_health_and_ready(void)
{
    int fd = connect_client();
    CHECK(fd >= 0);
    const char *req = "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n";
    CHECK(send(fd, req, strlen(req), 0) == (ssize_t)strlen(req));
    char out[16384];
    bool closed;
    read_responses(fd, 1, out, sizeof(out), &closed);
    CHECK(strncmp(out, "HTTP/1.1 200 ", 13) == 0);
    CHECK(strstr(out, "\r\n\r\nok\n") != NULL);
    CHECK(!closed);

    /* The same connection: not ready while the shard's loop does not run. */
    req = "GET /readyz?verbose HTTP/1.1\r\nHost: a\r\n\r\n";
    send(fd, req, strlen(req), 0);
    read_responses(fd, 1, out, sizeof(out), &closed);
    CHECK(strncmp(out, "HTTP/1.1 503 ", 13) == 0);

    atomic_store(&torus_scoreboard_shard(board, 0)->loop_running, true);
    atomic_store(&torus_scoreboard_executor(board, 0, 0)->ready, true);
    send(fd, req, strlen(req), 0);
    read_responses(fd, 1, out, sizeof(out), &closed);
    CHECK(strncmp(out, "HTTP/1.1 200 ", 13) == 0);
    CHECK(strstr(out, "ready\n") != NULL);
    close(fd);
}

static void test_pipelined_and_close(void)
{
    int fd = connect_client();
    const char *req = "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"
                      "GET /nope HTTP/1.1\r\nHost: a\r\n\r\n"
                      "HEAD /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    send(fd, req, strlen(req), 0);
    char out[16384];
    bool closed;
    read_responses(fd, 4, out, sizeof(out), &closed);
    CHECK(closed); /* the third asked to close */
    const char *first = strstr(out, "HTTP/1.1 200");
    const char *second = strstr(out, "HTTP/1.1 404");
    const char *third = first ? strstr(first + 1, "HTTP/1.1 200") : NULL;
    CHECK(first == out);
    CHECK(second && second > first);
    CHECK(third && third > second);
    CHECK(third && strstr(third, "Connection: close") != NULL);
    CHECK(third && strstr(third, "\r\n\r\n")[4] == '\0'); /* HEAD: no body */
    close(fd);
}

static void test_bad_requests(void)
{
    int fd = connect_client();
    const char *req = "GARBAGE\r\n\r\nGET /healthz HTTP/1.1\r\nHost: a\r\n\r\n";
    send(fd, req, strlen(req), 0);
    char out[16384];
    bool closed;
    read_responses(fd, 2, out, sizeof(out), &closed);
    CHECK(strncmp(out, "HTTP/1.1 400 ", 13) == 0);
    CHECK(strstr(out + 1, "HTTP/1.1 ") == NULL); /* nothing after a bad request is answered */
    CHECK(closed);
    close(fd);

    /* A head that does not fit the connection's buffer. */
    fd = connect_client();
    char big[12000];
    int n = snprintf(big, sizeof(big), "GET /healthz HTTP/1.1\r\nHost: a\r\nX-Big: ");
    memset(big + n, 'x', sizeof(big) - (size_t)n);
    size_t sent = 0;
    for (int round = 0; round < 200 && sent < sizeof(big); round++) {
        ssize_t k = send(fd, big + sent, sizeof(big) - sent, MSG_DONTWAIT);
        if (k > 0)
            sent += (size_t)k;
        pump(1);
    }
    read_responses(fd, 1, out, sizeof(out), &closed);
    CHECK(strncmp(out, "HTTP/1.1 431 ", 13) == 0);
    close(fd);

    /* A method other than GET and HEAD. */
    fd = connect_client();
    req = "POST /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n";
    send(fd, req, strlen(req), 0);
    read_responses(fd, 1, out, sizeof(out), &closed);
    CHECK(strncmp(out, "HTTP/1.1 405 ", 13) == 0);
    close(fd);
}

static void test_metrics(void)
{
    atomic_store(&board->crashes[SIGSEGV], 3);
    atomic_store(&board->crashes[0], 1);
    torus_metric_add(&torus_scoreboard_shard(board, 0)->metrics.requests, 9);
    int fd = connect_client();
    const char *req = "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n";
    send(fd, req, strlen(req), 0);
    static char out[65536];
    bool closed;
    read_responses(fd, 1, out, sizeof(out), &closed);
    CHECK(strncmp(out, "HTTP/1.1 200 ", 13) == 0);
    CHECK(strstr(out, "torus_shard_crashes_total{signal=\"SIGSEGV\"} 3\n") != NULL);
    CHECK(strstr(out, "torus_shard_crashes_total{signal=\"SIGABRT\"} 0\n") != NULL);
    CHECK(strstr(out, "torus_shard_crashes_total{signal=\"exit\"} 1\n") != NULL);
    CHECK(strstr(out, "torus_shards 1\n") != NULL);
    CHECK(strstr(out, "torus_shard_up{shard=\"0\"} 1\n") != NULL);
    CHECK(strstr(out, "torus_executors{state=\"idle\"} 1\n") != NULL);
    close(fd);

    /* A shard that went down: its executor is starting again, its events still count. */
    struct torus_executor_slot *x = torus_scoreboard_executor(board, 0, 0);
    atomic_store(&x->events[TORUS_EVENT_CRASH_TIMEOUT], 2);
    torus_scoreboard_shard_down(board, 0);
    fd = connect_client();
    send(fd, req, strlen(req), 0);
    read_responses(fd, 1, out, sizeof(out), &closed);
    CHECK(strstr(out, "torus_executors{state=\"starting\"} 1\n") != NULL);
    CHECK(strstr(out, "torus_executors{state=\"idle\"} 0\n") != NULL);
    CHECK(strstr(out, "torus_worker_crashes_total{reason=\"timeout\"} 2\n") != NULL);
    CHECK(strstr(out, "torus_shard_up{shard=\"0\"} 0\n") != NULL);
    close(fd);
}

static void test_status(void)
{
    struct torus_shard_slot *shard = torus_scoreboard_shard(board, 0);
    struct torus_executor_slot *x = torus_scoreboard_executor(board, 0, 0);
    atomic_store(&shard->loop_running, true);
    atomic_store(&shard->pid, 4242);
    atomic_store(&shard->cpu, 3);
    atomic_store(&shard->crashes, 1);
    atomic_store(&x->ready, true);
    struct torus_request request;
    memset(&request, 0, sizeof(request));
    request.method = TORUS_STR("POST");
    request.path = TORUS_STR("/a\"b\x1b[2J/c.php?x=1");
    torus_executor_slot_begin(x, &request, NULL);
    atomic_store(&x->busy, true);

    /* Two samples a second apart, 50 responses between them: 50 per second. */
    torus_metric_add(&shard->metrics.responses[2], 10);
    torus_admin_server_tick(&server, 1000);
    torus_metric_add(&shard->metrics.responses[2], 40);
    torus_metric_add(&shard->metrics.responses[4], 10);
    torus_admin_server_tick(&server, 1500); /* too soon: no new sample */
    torus_admin_server_tick(&server, 2000);
    torus_metrics_observe(&shard->metrics, 200, 3000000); /* 3 ms */

    int fd = connect_client();
    const char *req = "GET /status.json?ignored HTTP/1.1\r\nHost: a\r\n\r\n";
    send(fd, req, strlen(req), 0);
    static char out[65536];
    bool closed;
    size_t len = read_responses(fd, 1, out, sizeof(out), &closed);
    close(fd);
    CHECK(strncmp(out, "HTTP/1.1 200 ", 13) == 0);
    CHECK(strstr(out, "Content-Type: application/json\r\n") != NULL);
    char *body = strstr(out, "\r\n\r\n");
    char err[128] = "";
    struct torus_json_value *doc =
        body ? torus_json_parse(body + 4, len - (size_t)(body + 4 - out), err, sizeof(err)) : NULL;
    CHECK(doc != NULL);
    const struct torus_json_value *s = torus_json_item(torus_json_member(doc, "shards"), 0);
    CHECK(strcmp(torus_json_get_string(torus_json_member(doc, "version"), ""), TORUS_VERSION) == 0);
    CHECK(torus_json_get_number(torus_json_member(doc, "rate_interval_seconds"), 0) == 1);
    CHECK(torus_json_length(torus_json_member(doc, "latency_bounds_seconds")) ==
          TORUS_LATENCY_BUCKETS);
    CHECK(torus_json_get_number(torus_json_member(s, "pid"), 0) == 4242);
    CHECK(torus_json_get_number(torus_json_member(s, "cpu"), 0) == 3);
    CHECK(torus_json_get_number(torus_json_member(s, "crashes"), 0) == 1);
    CHECK(torus_json_get_number(torus_json_member(s, "requests_total"), 0) == 61);
    CHECK(torus_json_get_number(torus_json_member(s, "requests_per_second"), 0) == 50);
    const struct torus_json_value *buckets = torus_json_member(s, "latency_buckets");
    CHECK(torus_json_length(buckets) == TORUS_LATENCY_BUCKETS + 1);
    CHECK(torus_json_get_number(torus_json_item(buckets, 2), -1) == 0); /* <= 2.5 ms */
    CHECK(torus_json_get_number(torus_json_item(buckets, 3), -1) == 1); /* <= 5 ms */
    const struct torus_json_value *e = torus_json_item(torus_json_member(s, "executors"), 0);
    CHECK(strcmp(torus_json_get_string(torus_json_member(e, "state"), ""), "busy") == 0);
    CHECK(strcmp(torus_json_get_string(torus_json_member(e, "method"), ""), "POST") == 0);
    CHECK(strcmp(torus_json_get_string(torus_json_member(e, "path"), ""), "/a\"b\x1b[2J/c.php") ==
          0);
    CHECK(torus_json_get_number(torus_json_member(e, "running_seconds"), -1) >= 0);
    torus_json_value_free(doc);

    fd = connect_client();
    req = "GET /status HTTP/1.1\r\nHost: a\r\n\r\n";
    send(fd, req, strlen(req), 0);
    read_responses(fd, 1, out, sizeof(out), &closed);
    close(fd);
    CHECK(strncmp(out, "HTTP/1.1 200 ", 13) == 0);
    CHECK(strstr(out, "Content-Type: text/html; charset=utf-8\r\n") != NULL);
    CHECK(strstr(out, "Content-Security-Policy: default-src 'none';") != NULL);
    CHECK(strstr(out, "\r\n\r\n<!doctype html>") != NULL);
    CHECK(strlen(torus_admin_status_page) == torus_admin_status_page_size);

    fd = connect_client();
    req = "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n";
    send(fd, req, strlen(req), 0);
    read_responses(fd, 1, out, sizeof(out), &closed);
    close(fd);
    CHECK(strstr(out, "torus_shard_requests_total{shard=\"0\"} 61\n") != NULL);
    atomic_store(&x->busy, false);
}

static void test_more_clients_than_slots(void)
{
    int fds[TORUS_ADMIN_MAX_CONNS + 4];
    int count = (int)TORUS_ARRAY_SIZE(fds);
    for (int i = 0; i < count; i++) {
        fds[i] = connect_client();
        pump(1);
    }
    /* Every client asks once, with close: each slot frees as its answer goes. */
    const char *req = "GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    int answered = 0;
    for (int i = 0; i < count; i++)
        send(fds[i], req, strlen(req), 0);
    for (int i = 0; i < count; i++) {
        char out[4096];
        bool closed;
        read_responses(fds[i], 1, out, sizeof(out), &closed);
        answered += strncmp(out, "HTTP/1.1 200 ", 13) == 0;
        close(fds[i]);
    }
    CHECK(answered == count);
}

/* With no descriptor left for accept, the listener is left alone for a while (no spin). */
static void test_out_of_descriptors(void)
{
    struct rlimit saved;
    getrlimit(RLIMIT_NOFILE, &saved);
    int client = connect_client(); /* queued in the backlog; the server has not accepted it */
    int highest = dup(0);          /* the next descriptor number: the limit is just below it */
    close(highest);
    struct rlimit low = {.rlim_cur = (rlim_t)highest, .rlim_max = saved.rlim_max};
    CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
    pump(3);
    CHECK(server.accept_paused_until_ms != 0);
    struct pollfd fds[TORUS_ADMIN_MAX_CONNS + 1];
    int n = torus_admin_server_poll_fds(&server, fds, torus_monotonic_ns() / 1000000u);
    CHECK(fds[n - 1].fd == -1); /* the listener is not polled during the pause */
    CHECK(setrlimit(RLIMIT_NOFILE, &saved) == 0);
    usleep(150 * 1000);
    const char *req = "GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    send(client, req, strlen(req), 0);
    char out[4096];
    bool closed;
    read_responses(client, 1, out, sizeof(out), &closed);
    CHECK(strncmp(out, "HTTP/1.1 200 ", 13) == 0); /* served once descriptors are back */
    CHECK(server.accept_paused_until_ms == 0);
    close(client);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    board = torus_scoreboard_create(1, 1);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 64) != 0) {
        printf("test_admin_server: no loopback socket (%s): skipped\n", strerror(errno));
        return 77;
    }
    socklen_t len = sizeof(sa);
    getsockname(fd, (struct sockaddr *)&sa, &len);
    port = ntohs(sa.sin_port);
    torus_admin_server_init(&server, fd, board);

    test_health_and_ready();
    test_pipelined_and_close();
    test_bad_requests();
    test_metrics();
    test_status();
    test_more_clients_than_slots();
    test_out_of_descriptors();

    torus_admin_server_close(&server);
    torus_scoreboard_destroy(board);
    printf("test_admin_server: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
