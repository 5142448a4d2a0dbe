/*
 * A shard's I/O loop without its thread, its executors' threads or PHP, for
 * the unit tests of connections (test_conn_output.c, test_body_spool.c).
 *
 * The loop's files are #included, as h2o's tests do, so their static
 * functions (setup_ring(), handle_completions(), parse_bytes(), ...) are
 * reachable. The loop is real: a real io_uring with its provided-buffer ring,
 * real TCP connections on 127.0.0.1 (the test holds the client's end), real
 * files under a mkdtemp() document root. What the test plays itself is the
 * executor: it takes requests from the executor's request ring and pushes
 * response parts into its response ring, as runtime/executor.c would.
 *
 * harness_pump() is one iteration of torus_loop_run(): take the executors'
 * response parts, submit and wait (at most `wait_ms`), take the routes the
 * file-system workers found (their thread is real), handle completions,
 * expire timers.
 */
#ifndef TORUS_TEST_LOOP_HARNESS_H
#define TORUS_TEST_LOOP_HARNESS_H

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/body_spool.c"
#include "net/conn.c"
#include "net/conn_output.c"
#include "net/conn_state.c"
#include "net/dispatch.c"
#include "net/http_session.c"
#include "net/listener.c"
#include "net/loop.c"
#include "net/http_response.h"
#include "runtime/response_head.h"
#include "tests/unit/check.h"

struct harness {
    struct torus_config config;
    struct torus_shard shard;
    struct torus_metrics metrics;
    struct torus_executor executor;
    struct torus_executor_slot executor_slot;
    struct torus_loop *loop;
    int listen_fd;
    char root[PATH_MAX];
};

static void harness_write_file(struct harness *h, const char *name, size_t size)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/%s", h->root, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    for (size_t i = 0; i < size; i++)
        fputc('a' + (int)(i % 26), f);
    fclose(f);
}

/*
 * A loop as torus_loop_run() sets it up, with one listener-less "listener"
 * (connections are handed to conn_open() by the test) and one executor
 * whose rings exist but whose thread never starts. `adjust` may change the
 * configuration (timeouts, the body buffer) before the loop reads it.
 */
static void harness_init(struct harness *h, void (*adjust)(struct torus_config *))
{
    memset(h, 0, sizeof(*h));
    snprintf(h->root, sizeof(h->root), "%s/torus-conn-XXXXXX",
             getenv("TMPDIR") && getenv("TMPDIR")[0] ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(h->root)) {
        perror("mkdtemp");
        exit(1);
    }
    harness_write_file(h, "hello.txt", 4096);      /* kept in the static cache */
    harness_write_file(h, "big.bin", 1024 * 1024); /* streamed from the file */
    harness_write_file(h, "index.php", 16);        /* a PHP route */

    torus_config_defaults(&h->config);
    h->config.root = h->root;
    h->config.threads = 1;
    h->config.max_connections = 64;
    if (adjust)
        adjust(&h->config);

    h->shard.id = 0;
    h->shard.cpu = -1;
    h->shard.config = &h->config;
    h->shard.metrics = &h->metrics;
    h->shard.access_log_fd = -1;
    h->shard.waker.event_fd = eventfd(0, EFD_CLOEXEC); /* the file-system workers wake the loop */
    if (torus_executor_init(&h->executor, &h->config, &h->shard.waker, &h->executor_slot, 0, 0,
                            -1) != TORUS_OK) {
        fprintf(stderr, "torus_executor_init failed\n");
        exit(1);
    }
    atomic_store(&h->executor_slot.ready, true);
    h->shard.executors = &h->executor;
    h->shard.executor_count = 1;

    /* The loop torus_loop_run() runs, without its listeners. */
    struct torus_loop *loop = loop_new(&h->shard);
    if (!loop) {
        fprintf(stderr, "cannot set up the loop (io_uring unavailable?)\n");
        exit(77);
    }
    h->loop = loop;
    h->shard.loop = loop;
    loop->listeners[0].loop = loop;
    loop->listeners[0].fd = -1;
    loop->listener_count = 1;

    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    h->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (h->listen_fd < 0 || bind(h->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
        listen(h->listen_fd, 16) != 0) {
        perror("listen");
        exit(1);
    }
}

/* One iteration of the loop: responses, submit and wait, completions, timers. */
static void harness_pump(struct harness *h, unsigned wait_ms)
{
    struct torus_loop *loop = h->loop;
    dispatch_take_responses(loop);
    torus_fs_pool_wake(&loop->fs);
    struct __kernel_timespec ts = {.tv_sec = wait_ms / 1000,
                                   .tv_nsec = (long long)(wait_ms % 1000) * 1000000};
    struct io_uring_cqe *cqe;
    io_uring_submit_and_wait_timeout(&loop->ring, &cqe, 1, &ts, NULL);
    loop->now_ms = monotonic_ms();
    loop->now_s = time(NULL);
    torus_route_memo_forget(&loop->route_memo);
    route_lookup_reap(loop);
    handle_completions(loop);
    conn_expire_timers(loop);
}

/*
 * Pumps until `condition` holds or `ms` milliseconds have passed; true when it
 * held. The condition is evaluated once per iteration (it may take something).
 */
#define HARNESS_PUMP_UNTIL(h, condition, ms)                                                       \
    ({                                                                                             \
        uint64_t until_ = monotonic_ms() + (ms);                                                   \
        bool held_;                                                                                \
        while (!(held_ = (condition)) && monotonic_ms() < until_)                                  \
            harness_pump((h), 5);                                                                  \
        held_;                                                                                     \
    })

/*
 * A connection from a client socket (returned) to the loop (*conn). Small
 * socket buffers when `small_buffers`, so a client that does not read stops
 * the server's sends after some 100 KiB instead of several MiB.
 */
static int harness_connect(struct harness *h, struct torus_conn **conn, bool small_buffers)
{
    struct sockaddr_in addr;
    socklen_t len = sizeof(addr);
    getsockname(h->listen_fd, (struct sockaddr *)&addr, &len);
    int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int size = 16 * 1024;
    if (small_buffers)
        setsockopt(client, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    if (connect(client, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        perror("connect");
        exit(1);
    }
    int server = accept4(h->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (server < 0) {
        perror("accept");
        exit(1);
    }
    if (small_buffers)
        setsockopt(server, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    conn_open(h->loop, &h->loop->listeners[0], server);
    *conn = h->loop->conns; /* conn_open() puts it first */
    fcntl(client, F_SETFL, O_NONBLOCK);
    return client;
}

static void harness_send(int client, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = send(client, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            struct pollfd pfd = {.fd = client, .events = POLLOUT};
            poll(&pfd, 1, 100);
            continue;
        }
        p += n;
        len -= (size_t)n;
    }
}

/* Reads what the client has (at most `max` bytes into buf, when buf); -1 at EOF. */
static ssize_t harness_read(int client, char *buf, size_t max)
{
    char scratch[65536];
    size_t total = 0;
    while (total < max) {
        size_t want = TORUS_MIN(max - total, sizeof(scratch));
        ssize_t n = recv(client, buf ? buf + total : scratch, want, 0);
        if (n == 0)
            return total ? (ssize_t)total : -1;
        if (n < 0)
            break;
        total += (size_t)n;
    }
    return (ssize_t)total;
}

/*
 * Pumps the loop and reads what the client gets into buf until `want` bytes
 * arrived, EOF (*eof, when given) or `ms` passed; NUL-terminates. The bytes read.
 */
__attribute__((unused)) static size_t harness_receive(struct harness *h, int client, char *buf,
                                                      size_t size, size_t want, unsigned ms,
                                                      bool *eof)
{
    size_t got = 0;
    bool at_end = false;
    uint64_t until = monotonic_ms() + ms;
    while (got < want && got < size - 1 && !at_end && monotonic_ms() < until) {
        ssize_t n = harness_read(client, buf + got, size - 1 - got);
        if (n > 0)
            got += (size_t)n;
        at_end = n < 0;
        if (got < want && !at_end)
            harness_pump(h, 5);
    }
    buf[got] = '\0';
    if (eof)
        *eof = at_end;
    return got;
}

/* The executor's side: the next request handed to it, or NULL. */
static struct torus_request *harness_take_request(struct harness *h)
{
    struct torus_request *r;
    if (torus_handoff_pop(&h->executor.requests, &r) != TORUS_OK)
        return NULL;
    return r;
}

/* The executor's side: pushes one part of r's response (bytes copied into a chunk with the room
 * the executor's port leaves around them, runtime/response_head.h; len may be 0). */
static void harness_emit(struct harness *h, struct torus_request *r, const void *data, size_t len,
                         unsigned flags)
{
    struct torus_response_part part = {.request = r, .chunk = NULL, .flags = flags};
    if (len) {
        size_t front =
            (flags & TORUS_EMIT_HEAD) ? TORUS_RESPONSE_FRONT_ROOM : TORUS_RESPONSE_BODY_FRONT_ROOM;
        part.chunk = torus_chunk_new(front + len + TORUS_RESPONSE_TAIL_ROOM);
        if (!part.chunk) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
        memcpy(part.chunk->data + front, data, len);
        part.chunk->sent = (uint32_t)front;
        part.chunk->len = (uint32_t)(front + len);
    }
    if (torus_handoff_push(&h->executor.responses, &part) != TORUS_OK) {
        fprintf(stderr, "response ring full\n");
        exit(1);
    }
}

/* The executor's side: a final head of `status` without header lines, whose body is `length`
 * bytes long (-1: unknown), followed by body bytes, in one part. */
__attribute__((unused)) static void harness_emit_head(struct harness *h, struct torus_request *r,
                                                      int status, int64_t length, const char *body,
                                                      size_t body_len, unsigned flags)
{
    struct torus_response_head head = {
        .size = sizeof(head),
        .status = (uint16_t)status,
        .kind = TORUS_HEAD_FINAL,
        .body = length >= 0 ? TORUS_HEAD_BODY_LENGTH : TORUS_HEAD_BODY_STREAM,
        .length = length,
    };
    char *part = malloc(sizeof(head) + body_len);
    torus_response_head_put(part, &head);
    if (body_len)
        memcpy(part + sizeof(head), body, body_len);
    harness_emit(h, r, part, sizeof(head) + body_len, flags | TORUS_EMIT_HEAD);
    free(part);
}

/* What the client gets for harness_emit_ok(): a 200 with Content-Length: 2 and "ok". */
#define HARNESS_OK_HEAD_START "HTTP/1.1 200 OK\r\nServer: torus\r\nDate: "
#define HARNESS_OK_HEAD_END   "\r\nContent-Length: 2\r\n\r\nok"
#define HARNESS_OK_LEN                                                                             \
    (sizeof(HARNESS_OK_HEAD_START) - 1 + TORUS_HTTP_DATE_LEN + sizeof(HARNESS_OK_HEAD_END) - 1)

/* The executor's side: answers r with a complete 200 "ok" in one part. */
__attribute__((unused)) static void harness_emit_ok(struct harness *h, struct torus_request *r,
                                                    unsigned flags)
{
    harness_emit_head(h, r, 200, 2, "ok", 2, flags);
}

/* True when buf (NUL-terminated) is exactly the answer of harness_emit_ok(). */
__attribute__((unused)) static bool harness_is_ok(const char *buf)
{
    size_t len = strlen(buf);
    return len == HARNESS_OK_LEN &&
           strncmp(buf, HARNESS_OK_HEAD_START, sizeof(HARNESS_OK_HEAD_START) - 1) == 0 &&
           strcmp(buf + len - (sizeof(HARNESS_OK_HEAD_END) - 1), HARNESS_OK_HEAD_END) == 0;
}

/* Open file descriptors of this process (to see that nothing leaks). */
__attribute__((unused)) static int harness_open_fds(void)
{
    int count = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    while (readdir(d))
        count++;
    closedir(d);
    return count;
}

static int harness_remove(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Closes what is still open, waits until every connection is freed, frees the loop. */
static void harness_free(struct harness *h)
{
    struct torus_loop *loop = h->loop;
    for (struct torus_conn *c = loop->conns, *next; c; c = next) {
        next = c->next;
        conn_close(c);
    }
    HARNESS_PUMP_UNTIL(h, loop->conn_pool.in_use == 0, 2000);
    CHECK(loop->conn_pool.in_use == 0);
    /* The last closes are prepared in the ring: let them run. */
    harness_pump(h, 0);
    close(h->listen_fd);
    loop_free(loop);
    close(h->shard.waker.event_fd);
    torus_handoff_destroy(&h->executor.requests);
    torus_handoff_destroy(&h->executor.responses);
    nftw(h->root, harness_remove, 8, FTW_DEPTH | FTW_PHYS);
}

#endif
