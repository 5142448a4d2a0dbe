/*
 * The I/O loop of a shard: one io_uring, one thread, every client of a CPU.
 *
 * Each iteration of torus_loop_run() does the same four steps:
 *   1. take what the executors sent back (response parts) and put it on the
 *      connections, dispatch requests that waited for a free executor;
 *   2. announce the coming sleep to the executors (waker.sleeping = 1), look
 *      at their rings once more, and call io_uring_submit_and_wait_timeout()
 *      once: every SQE prepared since the last iteration is submitted by the
 *      same system call that waits, with the nearest timer as its timeout;
 *   3. handle every completion: accepts, receives, sends, file reads, the
 *      eventfd through which executors wake us;
 *   4. expire timers.
 *
 * Operations: one multishot accept per listener; one multishot recv per
 * connection into the shard's provided-buffer ring, so an idle connection
 * holds no receive buffer (the bytes are parsed straight from the ring's
 * buffer, and only an incomplete request head is copied aside); at most one
 * send per connection in flight, with partial sends resumed; large files are
 * streamed by alternating one read and one send of a bounded buffer, so a slow
 * reader costs one buffer.
 *
 * A connection is freed only when no operation refers to it any more (ops ==
 * 0) and no executor holds one of its requests (held == 0); closing cancels
 * its receive and closes the socket through the ring.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "alloc/pool.h"
#include "net/access_log.h"
#include "net/chunk.h"
#include "net/http.h"
#include "net/http_response.h"
#include "net/route.h"
#include "net/static.h"
#include "net/timer.h"
#include "net/tls.h"
#include "runtime/log.h"
#include "runtime/shard.h"

/* ------------------------------------------------------------------------ */
/* Sizes                                                                    */

#define RECV_BUFFER_SIZE  (16 * 1024) /* one provided buffer */
#define RECV_BUFFER_COUNT 512         /* per shard; a power of two */
#define RECV_GROUP        1
#define FILE_BUFFER_SIZE  (64 * 1024) /* what a streamed file costs a connection */
#define COALESCE_LIMIT    (16 * 1024) /* small queued chunks are sent as one */
/* Requests queued at a busy executor before parking. Only one executor per shard queues (with
 * several, requests go to idle ones only); for it, parked or queued is the same FIFO, but each
 * park costs the I/O thread another round before the executor sees the request: 8 here cost
 * sqlite-read 28% and hello 13% against 64 (alternating A/B runs, 64 connections). */
#define EXECUTOR_DEPTH          64
#define EXECUTOR_STALL_MS       2           /* an executor this long on one request takes no more */
#define SPIN_NS                 (30 * 1000) /* how long an idle loop under load polls before it blocks */
#define PENDING_INPUT_CAP       (64 * 1024) /* pipelined bytes kept while a request executes */
#define LINGER_MS               5000 /* after the last response, wait this long for the client's FIN */
#define ACCEPT_BACKOFF_FIRST_MS 50   /* out of descriptors: the first pause of accept */
#define ACCEPT_BACKOFF_MAX_MS   1000 /* and the longest, while it keeps failing */
#define DRAIN_GRACE_MS                                                                             \
    1000 /* on SIGTERM, an idle keep-alive connection may still send a request                     \
          */

/* What a completion is about: the low 3 bits of user_data; the rest is a pointer. */
enum op_tag {
    TAG_IGNORE = 0,
    TAG_ACCEPT = 1,
    TAG_RECV = 2,
    TAG_SEND = 3,
    TAG_READ = 4,
    TAG_WAKE = 5,
    TAG_LOG = 6,
};
#define TAG_MASK 7u

static inline uint64_t user_data(void *ptr, enum op_tag tag)
{
    return (uint64_t)(uintptr_t)ptr | tag;
}

/* ------------------------------------------------------------------------ */
/* Types                                                                    */

enum conn_state {
    CONN_READING,   /* waiting for or parsing a request (head or body) */
    CONN_BUSY,      /* a request is at an executor or a file is streaming: no parsing */
    CONN_LINGERING, /* the last response is out and the write side shut: waiting for FIN */
};

struct torus_listener {
    struct torus_loop *loop;
    int fd;
    int index;
    uint16_t port;
    bool armed;
    bool tls;              /* --tls-listen */
    uint32_t backoff_ms;   /* out of descriptors: the pause before the next try, 0 when none */
    uint64_t retry_at_ms;  /* while backing off: when accepting resumes */
    uint64_t failed_tries; /* accepts that failed in this episode, for the recovery line */
};

struct torus_exchange;

/* A connection's two addresses as PHP shows them (REMOTE_ADDR, SERVER_ADDR). */
struct conn_addresses {
    char remote_addr[INET6_ADDRSTRLEN];
    char server_addr[INET6_ADDRSTRLEN];
    uint16_t remote_port;
    uint16_t server_port;
};

struct torus_conn {
    struct torus_loop *loop;
    struct torus_conn *prev, *next; /* every open connection of the loop */
    int fd;
    uint8_t state;
    uint8_t listener;
    bool recv_armed;
    bool send_inflight;
    bool read_inflight;
    bool peer_closed;
    bool close_after;  /* close once the queued output is sent */
    bool closing;      /* being torn down */
    bool keep_alive;   /* the current request's verdict */
    bool head_request; /* the current request is HEAD */
    bool reading_paused;
    bool tls_shut;              /* close_notify queued */
    bool tls_counted;           /* its handshake is in the metrics */
    struct torus_tls_conn *tls; /* NULL on a plain connection */
    uint16_t ops;               /* io_uring operations in flight that refer to this connection */
    uint16_t held;              /* requests of this connection that an executor has not released */

    struct torus_timer timer;
    struct torus_http_parser parser;
    uint64_t request_start_ns; /* when the current request's head was parsed (metrics) */
    uint64_t response_bytes;   /* bytes of the current PHP response so far (access log) */
    struct torus_access_pending *log_pending; /* the current request's access-log line */

    /* Input kept across reads: [0, in_parsed) is the part of a head already parsed. */
    char *in;
    uint32_t in_len, in_parsed, in_cap;

    /* Output: chunks waiting to be sent; `pending` is a response held back until its request's body
     * is read. */
    struct torus_chunk *out_first, *out_last;
    struct torus_chunk *pending;
    int pending_status;

    /* A file being streamed after the queued output. */
    int file_fd;
    uint64_t file_offset, file_remaining;
    struct torus_chunk *file_chunk;
    bool pending_file; /* a file waits for the request body to be read */

    struct conn_addresses *addresses; /* fetched at the first PHP request, kept for the next */
    struct torus_exchange *exchange;  /* the request being executed, until its END */
    struct torus_conn *next_parked;   /* FIFO of connections waiting for an executor */
    bool parked;
};

struct torus_exchange {
    struct torus_request request; /* what the executor sees */
    struct torus_conn *conn;
    int executor;
};

struct torus_loop {
    struct torus_shard *shard;
    const struct torus_config *config;
    struct io_uring ring;
    struct torus_listener listeners[TORUS_MAX_LISTENERS];
    int listener_count;

    struct io_uring_buf_ring *buf_ring;
    char *buf_base;
    size_t buf_ring_bytes;
    int buf_returned; /* buffers given back since the last advance */

    struct torus_pool conn_pool;
    struct torus_conn *conns; /* every open connection */
    uint32_t open_conns;
    uint32_t max_conns;
    bool accept_paused;

    struct torus_timer_queue header_timers, body_timers, idle_timers, send_timers, linger_timers;
    struct torus_timer_queue drain_timers; /* idle keep-alive connections while draining */
    uint64_t now_ms;
    time_t now_s;

    struct torus_http_limits limits;
    struct torus_router router;
    struct torus_route_memo route_memo; /* forgotten at every iteration */
    struct torus_static_cache *static_cache;

    struct torus_conn *parked_first, *parked_last;

    uint64_t wake_value; /* the eventfd read lands here */
    bool busy;           /* the executors just answered: PHP traffic is flowing */
    bool io_batch;       /* the I/O thread runs as SCHED_BATCH now */
    bool io_batch_works; /* the kernel lets it (else it stays SCHED_OTHER) */
    struct torus_access_log access_log;
    bool logging;
    bool draining;
    uint64_t drain_deadline_ms;
};

static void conn_close(struct torus_conn *c);
static void conn_flush(struct torus_conn *c);
static void conn_parse(struct torus_conn *c);
static void conn_update_timer(struct torus_conn *c);
static void conn_arm_recv(struct torus_conn *c);

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */

static uint64_t monotonic_ms(void)
{
    return torus_monotonic_ns() / 1000000u;
}

/* A response is complete (queued in full, or its END arrived): count it, log it. */
static void conn_observe(struct torus_conn *c, int status, uint64_t bytes)
{
    uint64_t duration = torus_monotonic_ns() - c->request_start_ns;
    torus_metrics_observe(c->loop->shard->metrics, status, duration);
    if (c->log_pending) {
        torus_access_log_end(&c->loop->access_log, c->log_pending, status, bytes, duration);
        c->log_pending = NULL;
    }
}

static struct io_uring_sqe *get_sqe(struct torus_loop *loop)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&loop->ring);
    if (slow_path(!sqe)) {
        /* The submission queue is full: hand what is there to the kernel and retry. */
        io_uring_submit(&loop->ring);
        sqe = io_uring_get_sqe(&loop->ring);
    }
    return sqe;
}

static uint64_t ms_of(double seconds)
{
    return (uint64_t)(seconds * 1000.0 + 0.5);
}

/* ------------------------------------------------------------------------ */
/* Output                                                                   */

/* Queues bytes as they are to go on the wire (ciphertext on a TLS connection). */
static void out_append_raw(struct torus_conn *c, struct torus_chunk *chunk)
{
    chunk->next = NULL;
    if (c->out_last)
        c->out_last->next = chunk;
    else
        c->out_first = chunk;
    c->out_last = chunk;
}

/* Queues what TLS has to send (handshake flights, records, alerts). */
static void tls_queue_output(struct torus_conn *c)
{
    const char *data;
    size_t len;
    while ((len = torus_tls_output(c->tls, &data)) > 0) {
        struct torus_chunk *chunk = torus_chunk_new(len);
        if (slow_path(!chunk)) {
            c->close_after = true;
            return;
        }
        memcpy(chunk->data, data, len);
        chunk->len = (uint32_t)len;
        torus_tls_output_consumed(c->tls, len);
        out_append_raw(c, chunk);
    }
}

/*
 * Queues response bytes: as they are on a plain connection, encrypted into
 * records on a TLS one. The chunk is taken (the file buffer is only read).
 */
static void out_append(struct torus_conn *c, struct torus_chunk *chunk)
{
    if (fast_path(!c->tls)) {
        out_append_raw(c, chunk);
        return;
    }
    if (slow_path(torus_tls_write(c->tls, chunk->data + chunk->sent, chunk->len - chunk->sent) < 0))
        c->close_after = true;
    if (chunk == c->file_chunk)
        chunk->sent = chunk->len;
    else
        torus_chunk_free(chunk);
    tls_queue_output(c);
}

static void out_free_all(struct torus_conn *c)
{
    for (struct torus_chunk *k = c->out_first, *next; k; k = next) {
        next = k->next;
        if (k != c->file_chunk)
            torus_chunk_free(k);
    }
    c->out_first = c->out_last = NULL;
    for (struct torus_chunk *k = c->pending, *next; k; k = next) {
        next = k->next;
        torus_chunk_free(k);
    }
    c->pending = NULL;
}

/* A chunk holding `len` bytes copied from data (NULL when out of memory). */
static struct torus_chunk *chunk_of(const char *data, size_t len, size_t extra)
{
    struct torus_chunk *chunk = torus_chunk_new(len + extra);
    if (slow_path(!chunk))
        return NULL;
    memcpy(chunk->data, data, len);
    chunk->len = (uint32_t)len;
    return chunk;
}

/*
 * Queues a complete small response generated by the server itself (errors,
 * redirects, 405): a short HTML body like nginx's, or none for HEAD.
 */
static void respond_simple(struct torus_conn *c, int status, const char *extra_headers, bool hold)
{
    char body[256];
    int body_len = snprintf(body, sizeof(body),
                            "<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n"
                            "<center><h1>%d %s</h1></center>\r\n<hr><center>" TORUS_SERVER_NAME
                            "</center>\r\n</body>\r\n</html>\r\n",
                            status, torus_http_reason(status), status, torus_http_reason(status));
    char extra[1024];
    int extra_len = snprintf(extra, sizeof(extra), "Content-Type: text/html\r\n%s",
                             extra_headers ? extra_headers : "");
    if (extra_len < 0 || extra_len >= (int)sizeof(extra))
        extra_len = 0;
    char head[2048];
    size_t head_len =
        torus_http_head(head, sizeof(head), status, 1, c->keep_alive && !c->close_after, extra,
                        (size_t)extra_len, body_len);
    bool with_body = !c->head_request && status != 304 && status >= 200;
    struct torus_chunk *chunk = chunk_of(head, head_len, with_body ? (size_t)body_len : 0);
    if (slow_path(!chunk)) {
        conn_close(c);
        return;
    }
    if (with_body) {
        memcpy(chunk->data + chunk->len, body, (size_t)body_len);
        chunk->len += (uint32_t)body_len;
    }
    if (hold) {
        chunk->next = c->pending;
        c->pending = chunk;
        c->pending_status = status;
    } else {
        out_append(c, chunk);
    }
}

/* Answers a request that cannot be parsed or served, then closes. */
static void respond_error_and_close(struct torus_conn *c, int status)
{
    if (!c->request_start_ns)
        c->request_start_ns = torus_monotonic_ns();
    c->keep_alive = false;
    c->close_after = true;
    c->head_request = false;
    respond_simple(c, status, NULL, false);
    conn_observe(c, status, c->out_last ? c->out_last->len : 0);
    c->state = CONN_BUSY; /* parse nothing more */
    conn_flush(c);
}

static void submit_send(struct torus_conn *c)
{
    struct torus_chunk *first = c->out_first;
    /* Coalesce a run of small chunks (pipelined responses, a 100 Continue and its answer) into one
     * send. */
    if (first->next && first->len - first->sent < COALESCE_LIMIT) {
        size_t total = 0;
        int count = 0;
        for (struct torus_chunk *k = first; k && k != c->file_chunk; k = k->next) {
            if (total + (k->len - k->sent) > COALESCE_LIMIT)
                break;
            total += k->len - k->sent;
            count++;
        }
        if (count > 1) {
            struct torus_chunk *merged = torus_chunk_new(total);
            if (merged) {
                struct torus_chunk *k = first;
                for (int i = 0; i < count; i++) {
                    struct torus_chunk *next = k->next;
                    memcpy(merged->data + merged->len, k->data + k->sent, k->len - k->sent);
                    merged->len += k->len - k->sent;
                    torus_chunk_free(k);
                    k = next;
                }
                merged->next = k;
                c->out_first = merged;
                if (!k)
                    c->out_last = merged;
                first = merged;
            }
        }
    }
    struct io_uring_sqe *sqe = get_sqe(c->loop);
    io_uring_prep_send(sqe, c->fd, first->data + first->sent, first->len - first->sent,
                       MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, user_data(c, TAG_SEND));
    c->send_inflight = true;
    c->ops++;
}

static void submit_file_read(struct torus_conn *c)
{
    if (!c->file_chunk) {
        c->file_chunk = torus_chunk_new(FILE_BUFFER_SIZE);
        if (slow_path(!c->file_chunk)) {
            conn_close(c);
            return;
        }
    }
    uint64_t want = TORUS_MIN(c->file_remaining, (uint64_t)FILE_BUFFER_SIZE);
    struct io_uring_sqe *sqe = get_sqe(c->loop);
    io_uring_prep_read(sqe, c->file_fd, c->file_chunk->data, (unsigned)want, c->file_offset);
    io_uring_sqe_set_data64(sqe, user_data(c, TAG_READ));
    c->read_inflight = true;
    c->ops++;
}

/* Called when a connection has nothing more to send for its current response(s). */
static void conn_output_drained(struct torus_conn *c)
{
    if (c->close_after && c->tls && !c->tls_shut && torus_tls_handshake_done(c->tls)) {
        /* Say goodbye in TLS first; the lingering close follows once it is sent. */
        c->tls_shut = true;
        torus_tls_shutdown(c->tls);
        tls_queue_output(c);
        if (c->out_first) {
            conn_flush(c);
            return;
        }
    }
    if (c->close_after) {
        /* Lingering close, as nginx does: shut our side, then wait for the client's FIN. */
        c->state = CONN_LINGERING;
        /* A direct call (it never blocks on a socket): an io_uring shutdown names the socket by
         * its number, which a later accept may already have reused when the op runs. */
        shutdown(c->fd, SHUT_WR);
        if (c->peer_closed) {
            conn_close(c);
            return;
        }
        if (!c->recv_armed)
            conn_arm_recv(c);
        conn_update_timer(c);
        return;
    }
    if (c->state == CONN_BUSY && !c->exchange && c->file_fd < 0) {
        /* A streamed file is done: go on with pipelined requests. */
        c->state = CONN_READING;
        conn_parse(c);
        return;
    }
    if (c->state == CONN_READING && c->peer_closed) {
        conn_parse(c); /* the last answer is out: close, or answer the next pipelined request */
        return;
    }
    conn_update_timer(c);
}

static void conn_flush(struct torus_conn *c)
{
    if (c->closing || c->send_inflight || c->read_inflight)
        return;
    if (c->out_first) {
        submit_send(c);
        conn_update_timer(c);
        return;
    }
    if (c->file_fd >= 0 && !c->pending_file) {
        if (c->file_remaining > 0) {
            submit_file_read(c);
            conn_update_timer(c);
            return;
        }
        close(c->file_fd);
        c->file_fd = -1;
        torus_chunk_free(c->file_chunk);
        c->file_chunk = NULL;
    }
    conn_output_drained(c);
}

static void on_send(struct torus_conn *c, int res)
{
    c->send_inflight = false;
    if (c->closing)
        return;
    if (slow_path(res < 0)) {
        if (res == -EINTR || res == -EAGAIN) {
            conn_flush(c);
            return;
        }
        /* The client went away: tell PHP (connection_aborted()), drop the rest. */
        if (c->exchange)
            atomic_store_explicit(&c->exchange->request.aborted, true, memory_order_release);
        conn_close(c);
        return;
    }
    torus_metric_add(&c->loop->shard->metrics->bytes_out, (uint64_t)res);
    struct torus_chunk *first = c->out_first;
    first->sent += (uint32_t)res;
    if (first->sent == first->len) {
        c->out_first = first->next;
        if (!c->out_first)
            c->out_last = NULL;
        if (first != c->file_chunk)
            torus_chunk_free(first);
    }
    /* Progress re-arms the send timeout (nginx's send_timeout is between two writes). */
    if (c->timer.queue == &c->loop->send_timers)
        torus_timer_disarm(&c->timer);
    conn_flush(c);
}

static void on_file_read(struct torus_conn *c, int res)
{
    c->read_inflight = false;
    if (c->closing)
        return;
    if (slow_path(res <= 0)) {
        /* The file shrank or failed under us: the framing is broken, so close. */
        torus_log_warn("shard %d: reading a static file failed: %s", c->loop->shard->id,
                       res < 0 ? strerror(-res) : "unexpected end of file");
        conn_close(c);
        return;
    }
    c->file_chunk->len = (uint32_t)res;
    c->file_chunk->sent = 0;
    c->file_offset += (uint64_t)res;
    c->file_remaining -= (uint64_t)res;
    out_append(c, c->file_chunk);
    conn_flush(c);
}

/* ------------------------------------------------------------------------ */
/* Timers                                                                   */

static void conn_update_timer(struct torus_conn *c)
{
    struct torus_loop *loop = c->loop;
    struct torus_timer_queue *want;
    if (c->state == CONN_LINGERING)
        want = &loop->linger_timers;
    else if (c->out_first || c->send_inflight || c->read_inflight)
        want = &loop->send_timers;
    else if (c->state == CONN_BUSY)
        want = NULL; /* PHP has max_execution_time */
    else if (torus_http_in_head(&c->parser) || (c->tls && !torus_tls_handshake_done(c->tls)))
        want = &loop->header_timers; /* a TLS handshake counts as part of the first head */
    else if (torus_http_in_request(&c->parser))
        want = &loop->body_timers;
    else if (c->in_len)
        want = &loop->header_timers;
    else
        want = loop->draining ? &loop->drain_timers : &loop->idle_timers;

    if (c->timer.queue == want)
        return; /* it keeps its deadline: the header timeout counts from the first byte */
    if (!want)
        torus_timer_disarm(&c->timer);
    else
        torus_timer_arm(&c->timer, want, loop->now_ms);
}

static void expire_timers(struct torus_loop *loop)
{
    struct torus_timer_queue *queues[] = {&loop->header_timers, &loop->body_timers,
                                          &loop->idle_timers,   &loop->send_timers,
                                          &loop->linger_timers, &loop->drain_timers};
    static const char *const names[] = {"header", "body", "idle", "send", "linger", "drain"};
    for (size_t i = 0; i < TORUS_ARRAY_SIZE(queues); i++) {
        struct torus_timer *t;
        while ((t = torus_timer_expired(queues[i], loop->now_ms))) {
            struct torus_conn *c = torus_container_of(t, struct torus_conn, timer);
            torus_timer_disarm(&c->timer);
            torus_log_debug("shard %d: connection %d timed out (%s)", loop->shard->id, c->fd,
                            names[i]);
            conn_close(c);
        }
    }
}

static uint64_t next_deadline(struct torus_loop *loop)
{
    uint64_t next = UINT64_MAX;
    next = TORUS_MIN(next, torus_timer_next_deadline(&loop->header_timers));
    next = TORUS_MIN(next, torus_timer_next_deadline(&loop->body_timers));
    next = TORUS_MIN(next, torus_timer_next_deadline(&loop->idle_timers));
    next = TORUS_MIN(next, torus_timer_next_deadline(&loop->send_timers));
    next = TORUS_MIN(next, torus_timer_next_deadline(&loop->linger_timers));
    next = TORUS_MIN(next, torus_timer_next_deadline(&loop->drain_timers));
    for (int i = 0; i < loop->listener_count; i++) {
        if (slow_path(loop->listeners[i].backoff_ms))
            next = TORUS_MIN(next, loop->listeners[i].retry_at_ms);
    }
    return next;
}

/* ------------------------------------------------------------------------ */
/* Executors                                                                */

static void park(struct torus_loop *loop, struct torus_conn *c)
{
    c->parked = true;
    c->next_parked = NULL;
    if (loop->parked_last)
        loop->parked_last->next_parked = c;
    else
        loop->parked_first = c;
    loop->parked_last = c;
    torus_metric_add(&loop->shard->metrics->parked, 1);
    torus_metric_add(&loop->shard->metrics->queue_depth, 1);
}

static void unpark(struct torus_loop *loop, struct torus_conn *c)
{
    struct torus_conn **link = &loop->parked_first;
    struct torus_conn *prev = NULL;
    while (*link && *link != c) {
        prev = *link;
        link = &(*link)->next_parked;
    }
    if (*link) {
        *link = c->next_parked;
        if (loop->parked_last == c)
            loop->parked_last = prev;
    }
    c->parked = false;
}

/*
 * Hands a request to an executor. With one executor per shard, requests
 * queue at it (up to EXECUTOR_DEPTH), so it takes them in batches. With
 * several, a request goes only to an idle one, never behind a busy one: it
 * cannot know whether the busy one is on a 20 µs page or a 200 ms report, so
 * the request waits in the shard's FIFO for the first executor that frees up,
 * as in PHP-FPM's accept queue. An executor that has not finished a request
 * for EXECUTOR_STALL_MS is also given a lower CPU priority until it does, so
 * on the shared CPU the short requests come first.
 */
static int dispatch(struct torus_loop *loop, struct torus_exchange *x)
{
    struct torus_shard *shard = loop->shard;
    int best = -1;
    uint32_t best_load = EXECUTOR_DEPTH;
    for (int i = 0; i < shard->executor_count; i++) {
        struct torus_executor *e = &shard->executors[i];
        uint32_t load = e->inflight;
        if (load && shard->executor_count > 1) {
            if (loop->now_ms - e->progress_ms > EXECUTOR_STALL_MS)
                torus_executor_set_demoted(e, true);
            continue;
        }
        /* An executor restarting its worker (SIGHUP) counts as loaded while others can take it. */
        if (!atomic_load_explicit(&e->slot->ready, memory_order_relaxed))
            load += EXECUTOR_DEPTH / 2;
        if (load < best_load) {
            best = i;
            best_load = load;
            if (load == 0)
                break;
        }
    }
    if (best < 0)
        return TORUS_AGAIN;
    if (torus_executor_push(&shard->executors[best], &x->request) != TORUS_OK)
        return TORUS_AGAIN;
    if (shard->executors[best].inflight++ == 0)
        shard->executors[best].progress_ms = loop->now_ms;
    x->executor = best;
    return TORUS_OK;
}

static void dispatch_parked(struct torus_loop *loop)
{
    while (loop->parked_first) {
        struct torus_conn *c = loop->parked_first;
        if (dispatch(loop, c->exchange) != TORUS_OK)
            return;
        loop->parked_first = c->next_parked;
        if (!loop->parked_first)
            loop->parked_last = NULL;
        c->parked = false;
        torus_metric_sub(&loop->shard->metrics->queue_depth, 1);
    }
}

static void conn_maybe_free(struct torus_conn *c);

static void exchange_free(struct torus_exchange *x)
{
    free((void *)x->request.body.data);
    free(x);
}

static void on_response_part(struct torus_loop *loop, struct torus_response_part *part)
{
    struct torus_exchange *x = torus_container_of(part->request, struct torus_exchange, request);
    struct torus_conn *c = x->conn;
    if (part->chunk) {
        c->response_bytes += part->chunk->len;
        if (c->closing)
            torus_chunk_free(part->chunk);
        else
            out_append(c, part->chunk);
    }
    if (part->flags & TORUS_EMIT_CLOSE)
        c->close_after = true;
    if ((part->flags & TORUS_EMIT_END) && c->exchange == x) {
        conn_observe(c, x->request.status, c->response_bytes);
        c->exchange = NULL;
        if (!c->keep_alive)
            c->close_after = true;
        if (!c->closing && !c->close_after) {
            c->state = CONN_READING;
            if (c->reading_paused) {
                c->reading_paused = false;
                conn_arm_recv(c);
            }
        }
    }
    if (part->flags & TORUS_EMIT_RELEASE) {
        loop->shard->executors[x->executor].inflight--;
        loop->shard->executors[x->executor].progress_ms = loop->now_ms;
        torus_executor_set_demoted(&loop->shard->executors[x->executor], false);
        c->held--;
        exchange_free(x);
        if (c->closing) {
            conn_maybe_free(c);
            return;
        }
    }
    if (c->closing)
        return;
    conn_flush(c);
    if (!c->closing && c->state == CONN_READING && (part->flags & TORUS_EMIT_END))
        conn_parse(c);
}

static void drain_executors(struct torus_loop *loop)
{
    struct torus_shard *shard = loop->shard;
    struct torus_response_part part;
    bool released = false;
    loop->busy = false;
    for (int i = 0; i < shard->executor_count; i++) {
        while (torus_executor_pop(&shard->executors[i], &part) == TORUS_OK) {
            loop->busy = true;
            released |= (part.flags & TORUS_EMIT_RELEASE) != 0;
            on_response_part(loop, &part);
        }
    }
    if (released || loop->parked_first)
        dispatch_parked(loop);
}

static bool executors_have_output(struct torus_loop *loop)
{
    struct torus_shard *shard = loop->shard;
    for (int i = 0; i < shard->executor_count; i++) {
        if (!torus_handoff_empty(&shard->executors[i].responses))
            return true;
    }
    return false;
}

/* ------------------------------------------------------------------------ */
/* Requests                                                                 */

static size_t str_size(torus_str s)
{
    return s.len + 1;
}

static char *put_str(char **cursor, const char *data, size_t len, torus_str *out)
{
    char *at = *cursor;
    if (len)
        memcpy(at, data, len);
    at[len] = '\0';
    out->data = at;
    out->len = len;
    *cursor = at + len + 1;
    return at;
}

static void sockaddr_text(const struct sockaddr_storage *ss, char *text, size_t size,
                          uint16_t *port)
{
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr))
            inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], text, (socklen_t)size);
        else
            inet_ntop(AF_INET6, &a->sin6_addr, text, (socklen_t)size);
        *port = ntohs(a->sin6_port);
    } else if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, text, (socklen_t)size);
        *port = ntohs(a->sin_port);
    } else {
        snprintf(text, size, "unknown");
        *port = 0;
    }
}

/* The connection's addresses, fetched once (two system calls) and kept; NULL when out of memory. */
static struct conn_addresses *conn_addresses(struct torus_conn *c)
{
    if (fast_path(c->addresses != NULL))
        return c->addresses;
    c->addresses = calloc(1, sizeof(*c->addresses));
    if (slow_path(!c->addresses))
        return NULL;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getpeername(c->fd, (struct sockaddr *)&ss, &len) == 0)
        sockaddr_text(&ss, c->addresses->remote_addr, sizeof(c->addresses->remote_addr),
                      &c->addresses->remote_port);
    len = sizeof(ss);
    if (getsockname(c->fd, (struct sockaddr *)&ss, &len) == 0)
        sockaddr_text(&ss, c->addresses->server_addr, sizeof(c->addresses->server_addr),
                      &c->addresses->server_port);
    return c->addresses;
}

/*
 * Copies what the executor needs of a parsed head into one allocation: the
 * request, its header table and every string; the head's bytes may then be
 * reused by the connection for pipelined requests.
 */
static struct torus_exchange *build_exchange(struct torus_conn *c, const struct torus_route *route,
                                             const char *path, size_t path_len, const char *query,
                                             size_t query_len)
{
    struct torus_http_parser *p = &c->parser;
    const char *method = torus_http_method(p);
    size_t method_len = strlen(method);
    size_t size = sizeof(struct torus_exchange) + sizeof(struct torus_header) * p->header_count;
    size += method_len + 1 + str_size(p->url) + path_len + 1 + query_len + 1;
    size += route->filename_len + 1 + route->script_name_len + 1 + route->path_info_len + 1;
    for (uint32_t i = 0; i < p->header_count; i++)
        size += str_size(p->headers[i].name) + str_size(p->headers[i].value);

    struct torus_exchange *x = malloc(size);
    if (slow_path(!x))
        return NULL;
    memset(x, 0, sizeof(*x));
    struct torus_request *r = &x->request;
    r->headers = (struct torus_header *)(x + 1);
    r->header_count = p->header_count;
    char *cursor = (char *)(r->headers + p->header_count);
    put_str(&cursor, method, method_len, &r->method);
    put_str(&cursor, p->url.data, p->url.len, &r->target);
    put_str(&cursor, path, path_len, &r->path);
    put_str(&cursor, query, query_len, &r->query);
    put_str(&cursor, route->filename, route->filename_len, &r->script_filename);
    put_str(&cursor, route->script_name, route->script_name_len, &r->script_name);
    put_str(&cursor, route->path_info ? route->path_info : "", route->path_info_len, &r->path_info);
    for (uint32_t i = 0; i < p->header_count; i++) {
        put_str(&cursor, p->headers[i].name.data, p->headers[i].name.len, &r->headers[i].name);
        put_str(&cursor, p->headers[i].value.data, p->headers[i].value.len, &r->headers[i].value);
    }
    r->http_minor = torus_http_minor(p);
    r->keep_alive = c->keep_alive;
    r->head = c->head_request;
    r->tls = c->tls != NULL;
    r->document_root = c->loop->router.root;

    if (slow_path(!conn_addresses(c))) {
        free(x);
        return NULL;
    }
    memcpy(r->remote_addr, c->addresses->remote_addr, sizeof(r->remote_addr));
    memcpy(r->server_addr, c->addresses->server_addr, sizeof(r->server_addr));
    r->remote_port = c->addresses->remote_port;
    r->server_port = c->addresses->server_port;

    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    r->start_time = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
    atomic_init(&r->aborted, false);
    r->status = 200;
    x->conn = c;
    x->executor = -1;
    return x;
}

static void respond_static(struct torus_conn *c, const struct torus_route *route)
{
    struct torus_http_parser *p = &c->parser;
    struct torus_static_request sreq;
    memset(&sreq, 0, sizeof(sreq));
    sreq.head = c->head_request;
    sreq.http_minor = torus_http_minor(p);
    sreq.keep_alive = c->keep_alive;
    sreq.now = c->loop->now_s;
    sreq.st = &route->st;
    const torus_str *v;
    if ((v = torus_http_header(p, "if-none-match")))
        sreq.if_none_match = *v;
    if ((v = torus_http_header(p, "if-modified-since")))
        sreq.if_modified_since = *v;
    if ((v = torus_http_header(p, "range")))
        sreq.range = *v;
    if ((v = torus_http_header(p, "if-range")))
        sreq.if_range = *v;

    struct torus_static_response resp;
    if (torus_static_respond(c->loop->static_cache, route->filename, route->filename_len, &sreq,
                             &resp) != TORUS_OK) {
        respond_simple(c, 404, NULL, true);
        return;
    }
    struct torus_chunk *chunk = chunk_of(resp.head, resp.head_len, resp.body ? resp.body_len : 0);
    if (slow_path(!chunk)) {
        torus_static_response_release(c->loop->static_cache, &resp);
        conn_close(c);
        return;
    }
    if (resp.body && resp.body_len && !c->head_request) {
        memcpy(chunk->data + chunk->len, resp.body, resp.body_len);
        chunk->len += (uint32_t)resp.body_len;
    }
    chunk->next = c->pending;
    c->pending = chunk;
    c->pending_status = resp.status;
    if (resp.fd >= 0 && resp.length > 0 && !c->head_request) {
        c->file_fd = resp.fd;
        c->file_offset = resp.offset;
        c->file_remaining = resp.length;
        c->pending_file = true;
        resp.fd = -1; /* the connection owns it now */
    }
    torus_static_response_release(c->loop->static_cache, &resp);
}

/* The head of a request is complete: route it and decide what its body is for. */
static int on_head(struct torus_conn *c)
{
    struct torus_loop *loop = c->loop;
    struct torus_http_parser *p = &c->parser;
    torus_metric_add(&loop->shard->metrics->requests, 1);
    c->request_start_ns = torus_monotonic_ns();
    const char *method = torus_http_method(p);
    c->head_request = strcmp(method, "HEAD") == 0;
    c->keep_alive = torus_http_keep_alive(p) && !loop->draining;
    c->response_bytes = 0;
    if (loop->logging) {
        struct conn_addresses *a = conn_addresses(c);
        c->log_pending = torus_access_log_begin(
            &loop->access_log, a ? a->remote_addr : "-", method, p->url, torus_http_minor(p),
            torus_http_header(p, "referer"), torus_http_header(p, "user-agent"));
    }

    char path[PATH_MAX];
    size_t path_len;
    const char *query;
    size_t query_len;
    /* An absolute-form target ("http://host/path", RFC 9112 3.2.2): route its path. */
    torus_str target = p->url;
    if (target.len && target.data[0] != '/') {
        const char *scheme_end = memchr(target.data, ':', target.len);
        size_t rest = scheme_end ? target.len - (size_t)(scheme_end - target.data) : 0;
        if (rest >= 3 && memcmp(scheme_end, "://", 3) == 0) {
            const char *authority = scheme_end + 3;
            const char *slash =
                memchr(authority, '/', target.len - (size_t)(authority - target.data));
            if (slash) {
                target.len -= (size_t)(slash - target.data);
                target.data = slash;
            } else {
                target = TORUS_STR("/");
            }
        }
    }
    if (torus_path_normalize(target.data, target.len, path, sizeof(path), &path_len, &query,
                             &query_len) != TORUS_OK) {
        respond_error_and_close(c, 400);
        return TORUS_ERROR;
    }

    struct torus_route route;
    if (torus_route_resolve_memo(&loop->router, &loop->route_memo, path, path_len, &route) !=
        TORUS_OK)
        route.kind = TORUS_ROUTE_NOT_FOUND;

    if (route.kind == TORUS_ROUTE_PHP) {
        if (torus_http_set_body_mode(p, TORUS_BODY_BUFFER) != TORUS_OK) {
            respond_error_and_close(c, p->error_status);
            return TORUS_ERROR;
        }
        c->exchange = build_exchange(c, &route, path, path_len, query, query_len);
        if (slow_path(!c->exchange)) {
            respond_error_and_close(c, 500);
            return TORUS_ERROR;
        }
        c->held++;
    } else {
        if (torus_http_set_body_mode(p, TORUS_BODY_DISCARD) != TORUS_OK) {
            respond_error_and_close(c, p->error_status);
            return TORUS_ERROR;
        }
        bool get = strcmp(method, "GET") == 0 || c->head_request;
        switch (route.kind) {
        case TORUS_ROUTE_STATIC:
            if (get)
                respond_static(c, &route);
            else
                respond_simple(c, 405, "Allow: GET, HEAD\r\n", true);
            break;
        case TORUS_ROUTE_REDIRECT: {
            char location[PATH_MAX + 64];
            int n = snprintf(location, sizeof(location), "Location: %.*s%s%.*s\r\n",
                             (int)route.location_len, route.location, query_len ? "?" : "",
                             (int)query_len, query);
            if (n >= (int)sizeof(location))
                respond_simple(c, 414, NULL, true);
            else
                respond_simple(c, 301, location, true);
            break;
        }
        case TORUS_ROUTE_FORBIDDEN:
            respond_simple(c, 403, NULL, true);
            break;
        default:
            respond_simple(c, 404, NULL, true);
            break;
        }
    }

    /* Expect: 100-continue — ask for the body only when it is wanted and not already on its way. */
    if (p->expect_continue && p->has_body && torus_http_minor(p) == 1) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        struct torus_chunk *chunk = chunk_of(cont, sizeof(cont) - 1, 0);
        if (chunk) {
            out_append(c, chunk);
            conn_flush(c);
        }
    }
    return TORUS_OK;
}

/* The whole request is read: send the held static response, or hand the request to PHP. */
static void on_message(struct torus_conn *c)
{
    struct torus_loop *loop = c->loop;
    if (c->exchange) {
        /* close_after waits for the response's end (on_response_part()): set now, a drained
         * output in between (a TLS session ticket) would close before PHP answered. */
        size_t len;
        char *body = torus_http_take_body(&c->parser, &len);
        c->exchange->request.body.data = body;
        c->exchange->request.body.len = len;
        c->state = CONN_BUSY;
        if (dispatch(loop, c->exchange) != TORUS_OK)
            park(loop, c);
        conn_update_timer(c);
        return;
    }
    if (!c->keep_alive)
        c->close_after = true;
    /* The held response goes out now, in request order. */
    conn_observe(c, c->pending_status,
                 (c->pending ? c->pending->len : 0) + (c->pending_file ? c->file_remaining : 0));
    struct torus_chunk *k = c->pending;
    c->pending = NULL;
    while (k) { /* pending is a stack of one; keep order anyway */
        struct torus_chunk *next = k->next;
        out_append(c, k);
        k = next;
    }
    if (c->pending_file) {
        c->pending_file = false;
        c->state = CONN_BUSY; /* parse nothing until the file is out */
    }
    conn_flush(c);
}

/*
 * Parses the bytes at data: requests are handled as they complete. Stops at
 * a request that must wait (PHP, a streamed file) or at an error. Returns the
 * bytes used.
 */
static size_t parse_bytes(struct torus_conn *c, const char *data, size_t len)
{
    size_t done = 0;
    while (c->state == CONN_READING && !c->closing && !c->close_after) {
        /* Out of bytes: stop, unless a request paused after its head may now complete. */
        if (done == len && !(torus_http_in_request(&c->parser) && !torus_http_in_head(&c->parser)))
            break;
        size_t used;
        bool was_idle = !torus_http_in_request(&c->parser);
        int rc = torus_http_execute(&c->parser, data + done, len - done, &used);
        done += used;
        if (was_idle && torus_http_in_request(&c->parser)) {
            /* The first byte of a request: its header timeout starts now. */
            torus_timer_disarm(&c->timer);
        }
        if (rc == TORUS_AGAIN)
            break;
        switch (rc) {
        case TORUS_HTTP_HEAD:
            if (on_head(c) != TORUS_OK)
                return done;
            /* Everything the head said has been copied or acted on: drop its table. */
            torus_http_head_done(&c->parser);
            continue;
        case TORUS_HTTP_MESSAGE:
            on_message(c);
            continue;
        case TORUS_HTTP_FAILED:
        default:
            torus_log_debug("shard %d: bad request: %s", c->loop->shard->id,
                            c->parser.error_reason ? c->parser.error_reason : "?");
            respond_error_and_close(c, c->parser.error_status ? c->parser.error_status : 400);
            return len;
        }
    }
    return done;
}

static int in_reserve(struct torus_conn *c, size_t need)
{
    if (need <= c->in_cap)
        return TORUS_OK;
    size_t cap = c->in_cap ? c->in_cap : 2048;
    while (cap < need)
        cap *= 2;
    uintptr_t old = (uintptr_t)c->in;
    /* The head being parsed moves with the buffer only if it lives there (it may still be in
     * the receive buffer the bytes came from). */
    uintptr_t head = (uintptr_t)c->parser.head_start;
    bool head_inside =
        old && torus_http_in_head(&c->parser) && head >= old && head < old + c->in_len;
    char *grown = realloc(c->in, cap);
    if (slow_path(!grown))
        return TORUS_ERROR;
    if (head_inside && (uintptr_t)grown != old)
        torus_http_rebase(&c->parser, (ptrdiff_t)((uintptr_t)grown - old));
    c->in = grown;
    c->in_cap = (uint32_t)cap;
    return TORUS_OK;
}

/*
 * Keeps what must survive the buffer the bytes came from: the parsed part of
 * an incomplete head (its fields point into it) and any unparsed bytes.
 * [data, data + len) is the buffer; `done` bytes of it were parsed.
 */
static int keep_rest(struct torus_conn *c, const char *data, size_t len, size_t done)
{
    const char *from = data + done;
    if (torus_http_in_head(&c->parser) && c->parser.head_start >= data &&
        c->parser.head_start < data + len)
        from = c->parser.head_start;
    size_t keep = (size_t)(data + len - from);
    size_t parsed = (size_t)(data + done - from);
    if (keep == 0) {
        c->in_len = c->in_parsed = 0;
        return TORUS_OK;
    }
    if (data == c->in) {
        /* Already in our buffer: slide it to the front. */
        if (from != c->in) {
            ptrdiff_t delta = c->in - from;
            memmove(c->in, from, keep);
            if (torus_http_in_head(&c->parser))
                torus_http_rebase(&c->parser, delta);
        }
    } else {
        if (in_reserve(c, keep) != TORUS_OK)
            return TORUS_ERROR;
        memcpy(c->in, from, keep);
        if (torus_http_in_head(&c->parser) && from == c->parser.head_start)
            torus_http_rebase(&c->parser, c->in - from);
    }
    c->in_len = (uint32_t)keep;
    c->in_parsed = (uint32_t)parsed;
    return TORUS_OK;
}

/* Parses what the connection has buffered (after a response let it go on). */
static void conn_parse(struct torus_conn *c)
{
    if (c->closing)
        return;
    if (c->in_len > c->in_parsed && c->state == CONN_READING) {
        size_t done = c->in_parsed + parse_bytes(c, c->in + c->in_parsed, c->in_len - c->in_parsed);
        if (c->closing)
            return;
        if (keep_rest(c, c->in, c->in_len, done) != TORUS_OK) {
            conn_close(c);
            return;
        }
    }
    if (c->state == CONN_READING && c->peer_closed && !c->out_first && !c->send_inflight &&
        !c->exchange && c->file_fd < 0) {
        /* The client sent its last byte and every request it completed has been answered; an
         * incomplete one never will be. */
        conn_close(c);
        return;
    }
    if (c->state == CONN_READING && !torus_http_in_request(&c->parser) && c->in_len == 0) {
        /* Idle between requests: hold no parsing memory. */
        torus_http_idle(&c->parser);
        free(c->in);
        c->in = NULL;
        c->in_cap = c->in_len = c->in_parsed = 0;
    }
    conn_update_timer(c);
}

/* Bytes arrived from the client. */
static void on_data(struct torus_conn *c, const char *data, size_t len)
{
    struct torus_loop *loop = c->loop;
    torus_metric_add(&loop->shard->metrics->bytes_in, len);
    if (c->state == CONN_LINGERING)
        return; /* discarded */

    if (c->state == CONN_READING && c->in_len == c->in_parsed && c->in_len == 0) {
        /* The common case: parse straight from the receive buffer, copy nothing. */
        size_t done = parse_bytes(c, data, len);
        if (c->closing)
            return;
        if (keep_rest(c, data, len, done) != TORUS_OK) {
            conn_close(c);
            return;
        }
    } else {
        if (in_reserve(c, (size_t)c->in_len + len) != TORUS_OK) {
            conn_close(c);
            return;
        }
        memcpy(c->in + c->in_len, data, len);
        c->in_len += (uint32_t)len;
        if (c->state == CONN_READING) {
            conn_parse(c);
            if (c->closing)
                return;
        } else if (c->in_len > PENDING_INPUT_CAP && c->recv_armed && !c->reading_paused) {
            /* Pipelined bytes pile up behind a slow request: stop reading until it is done. */
            c->reading_paused = true;
            struct io_uring_sqe *sqe = get_sqe(loop);
            io_uring_prep_cancel64(sqe, user_data(c, TAG_RECV), 0);
            io_uring_sqe_set_data64(sqe, user_data(NULL, TAG_IGNORE));
        }
    }
    /* A body that keeps coming re-arms its timeout. */
    if (c->timer.queue == &loop->body_timers)
        torus_timer_disarm(&c->timer);
    conn_update_timer(c);
}

/* ------------------------------------------------------------------------ */
/* Connections                                                              */

static void conn_arm_recv(struct torus_conn *c)
{
    if (c->recv_armed || c->closing)
        return;
    struct io_uring_sqe *sqe = get_sqe(c->loop);
    io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = RECV_GROUP;
    io_uring_sqe_set_data64(sqe, user_data(c, TAG_RECV));
    c->recv_armed = true;
    c->ops++;
}

static void listener_arm(struct torus_listener *l);

static void conn_maybe_free(struct torus_conn *c)
{
    if (c->ops || c->held)
        return;
    struct torus_loop *loop = c->loop;
    torus_http_release(&c->parser);
    free(c->in);
    free(c->addresses);
    torus_tls_conn_free(c->tls);
    torus_chunk_free(c->file_chunk);
    torus_pool_put(&loop->conn_pool, c);
    if (loop->accept_paused && loop->open_conns < loop->max_conns && !loop->draining) {
        loop->accept_paused = false;
        for (int i = 0; i < loop->listener_count; i++)
            listener_arm(&loop->listeners[i]);
    }
}

static void conn_close(struct torus_conn *c)
{
    if (c->closing)
        return;
    struct torus_loop *loop = c->loop;
    c->closing = true;
    if (c->log_pending) {
        /* nginx's 499: the client went away before its response was complete. */
        conn_observe(c, 499, c->response_bytes);
    }
    torus_timer_disarm(&c->timer);
    if (c->parked) {
        unpark(loop, c);
        torus_metric_sub(&loop->shard->metrics->queue_depth, 1);
    }
    if (c->exchange) {
        atomic_store_explicit(&c->exchange->request.aborted, true, memory_order_release);
        if (c->exchange->executor < 0) {
            /* Never reached an executor: nobody else holds it. */
            exchange_free(c->exchange);
            c->held--;
        }
        c->exchange = NULL;
    }
    out_free_all(c);
    if (c->file_fd >= 0) {
        close(c->file_fd);
        c->file_fd = -1;
    }
    /* Cancel what is in flight: a send to a client that stopped reading would otherwise hold
     * the socket (and this connection) open for good. */
    static const enum op_tag pending[] = {TAG_RECV, TAG_SEND, TAG_READ};
    bool inflight[] = {c->recv_armed, c->send_inflight, c->read_inflight};
    for (size_t i = 0; i < TORUS_ARRAY_SIZE(pending); i++) {
        if (!inflight[i])
            continue;
        struct io_uring_sqe *sqe = get_sqe(loop);
        io_uring_prep_cancel64(sqe, user_data(c, pending[i]), 0);
        io_uring_sqe_set_data64(sqe, user_data(NULL, TAG_IGNORE));
    }
    struct io_uring_sqe *sqe = get_sqe(loop);
    io_uring_prep_close(sqe, c->fd);
    io_uring_sqe_set_data64(sqe, user_data(NULL, TAG_IGNORE));
    c->fd = -1;

    if (c->prev)
        c->prev->next = c->next;
    else
        loop->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    loop->open_conns--;
    torus_metric_sub(&loop->shard->metrics->connections_open, 1);
    conn_maybe_free(c);
}

static void on_recv_result(struct torus_conn *c, int res);

static void tls_count_handshake(struct torus_conn *c)
{
    if (!c->tls_counted && torus_tls_handshake_done(c->tls)) {
        c->tls_counted = true;
        torus_metric_add(&c->loop->shard->metrics->tls_handshakes, 1);
    }
}

/*
 * Ciphertext arrived on a TLS connection: run the handshake, decrypt, and
 * parse the plaintext exactly as on a plain connection.
 */
static void on_cipher(struct torus_conn *c, const char *data, size_t len)
{
    if (c->state == CONN_LINGERING)
        return;
    if (slow_path(torus_tls_feed(c->tls, data, len) != TORUS_OK)) {
        conn_close(c);
        return;
    }
    char plain[16 * 1024];
    for (;;) {
        ssize_t n = torus_tls_read(c->tls, plain, sizeof(plain));
        if (n > 0) {
            tls_count_handshake(c);
            on_data(c, plain, (size_t)n);
            if (c->closing)
                return;
            continue;
        }
        if (n == TORUS_AGAIN)
            break;
        if (n == 0) { /* close_notify: like a FIN */
            tls_queue_output(c);
            on_recv_result(c, 0);
            return;
        }
        torus_log_debug("shard %d: TLS connection failed: %s", c->loop->shard->id,
                        torus_tls_error(c->tls));
        c->keep_alive = false;
        c->close_after = true;
        c->state = CONN_BUSY;
        if (torus_tls_plaintext_http(c->tls)) {
            /* nginx's answer to plain HTTP on a TLS port: a plaintext 400, then close. */
            static const char refusal[] =
                "HTTP/1.1 400 Bad Request\r\nServer: " TORUS_SERVER_NAME "\r\n"
                "Content-Type: text/plain\r\nContent-Length: 47\r\nConnection: close\r\n\r\n"
                "The plain HTTP request was sent to HTTPS port.\n";
            struct torus_chunk *chunk = chunk_of(refusal, sizeof(refusal) - 1, 0);
            if (chunk)
                out_append_raw(c, chunk);
        } else {
            tls_queue_output(c); /* the alert, if any */
        }
        conn_flush(c);
        return;
    }
    tls_count_handshake(c);
    tls_queue_output(c);
    conn_flush(c);
}

/* What a receive completion means for the connection; it may close it, never frees it. */
static void on_recv_result(struct torus_conn *c, int res)
{
    if (res == 0) {
        /* The client closed its side (a half-close): every request it sent before is still
         * answered, in order; conn_parse() closes once nothing more can be answered. */
        c->peer_closed = true;
        if (c->state == CONN_LINGERING)
            conn_close(c);
        else if (c->state == CONN_READING)
            conn_parse(c);
        return;
    }
    if (res < 0 && res != -ENOBUFS && res != -ECANCELED)
        conn_close(c);
}

static void on_recv(struct torus_conn *c, struct io_uring_cqe *cqe)
{
    struct torus_loop *loop = c->loop;
    int res = cqe->res;
    bool more = (cqe->flags & IORING_CQE_F_MORE) != 0;
    if (!more)
        c->recv_armed = false;
    if (cqe->flags & IORING_CQE_F_BUFFER) {
        unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        char *buf = loop->buf_base + (size_t)bid * RECV_BUFFER_SIZE;
        if (res > 0 && !c->closing) {
            if (c->tls)
                on_cipher(c, buf, (size_t)res);
            else
                on_data(c, buf, (size_t)res);
        }
        io_uring_buf_ring_add(loop->buf_ring, buf, RECV_BUFFER_SIZE, (unsigned short)bid,
                              io_uring_buf_ring_mask(RECV_BUFFER_COUNT), loop->buf_returned++);
    }
    if (!c->closing && res <= 0)
        on_recv_result(c, res);
    /* The operation's reference is dropped last, so nothing above can free the connection. */
    if (!more)
        c->ops--;
    if (c->closing)
        conn_maybe_free(c);
    else if (!more && !c->recv_armed && !c->peer_closed && !c->reading_paused)
        conn_arm_recv(c);
}

/* A connection was accepted on listener l. */
static void conn_open(struct torus_loop *loop, struct torus_listener *l, int fd)
{
    struct torus_conn *c = torus_pool_get(&loop->conn_pool);
    if (slow_path(!c)) {
        close(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->loop = loop;
    c->fd = fd;
    c->file_fd = -1;
    c->listener = (uint8_t)l->index;
    c->state = CONN_READING;
    if (l->tls) {
        c->tls = torus_tls_conn_new(loop->shard->tls);
        if (slow_path(!c->tls)) {
            close(fd);
            torus_pool_put(&loop->conn_pool, c);
            return;
        }
    }
    torus_http_init(&c->parser, &loop->limits);
    c->next = loop->conns;
    if (loop->conns)
        loop->conns->prev = c;
    loop->conns = c;
    loop->open_conns++;
    torus_metric_add(&loop->shard->metrics->connections_accepted, 1);
    torus_metric_add(&loop->shard->metrics->connections_open, 1);
    /* nginx's client_header_timeout covers the wait for the first request too. */
    torus_timer_arm(&c->timer, &loop->header_timers, loop->now_ms);
    conn_arm_recv(c);
}

/*
 * Out of descriptors (EMFILE, ENFILE) or kernel memory: re-arming the accept
 * at once would fail again at once, a busy loop. Stop accepting on this
 * listener for a while instead, as nginx disables its accept events: 50 ms,
 * doubling up to a second while the tries keep failing. The kernel's backlog
 * holds the waiting clients; one line is logged when it starts and one when
 * accepting works again.
 */
static void listener_back_off(struct torus_listener *l, int error)
{
    struct torus_loop *loop = l->loop;
    if (l->armed) {
        struct io_uring_sqe *sqe = get_sqe(loop);
        io_uring_prep_cancel64(sqe, user_data(l, TAG_ACCEPT), 0);
        io_uring_sqe_set_data64(sqe, user_data(NULL, TAG_IGNORE));
    }
    if (l->backoff_ms == 0) {
        torus_log_error("shard %d: cannot accept on %s: %s (raise the descriptor limit, "
                        "ulimit -n, or lower --max-connections); pausing accept",
                        loop->shard->id, loop->config->listeners[l->index].text, strerror(error));
        l->backoff_ms = ACCEPT_BACKOFF_FIRST_MS;
    } else {
        l->backoff_ms = TORUS_MIN(l->backoff_ms * 2, ACCEPT_BACKOFF_MAX_MS);
    }
    l->failed_tries++;
    l->retry_at_ms = loop->now_ms + l->backoff_ms;
}

static void listener_recovered(struct torus_listener *l)
{
    torus_log_info("shard %d: accepting on %s again (%llu tries failed for lack of descriptors)",
                   l->loop->shard->id, l->loop->config->listeners[l->index].text,
                   (unsigned long long)l->failed_tries);
    l->backoff_ms = 0;
    l->failed_tries = 0;
}

/* Listeners whose pause is over accept again (a failure pauses them for longer). */
static void listeners_retry(struct torus_loop *loop)
{
    for (int i = 0; i < loop->listener_count; i++) {
        struct torus_listener *l = &loop->listeners[i];
        if (slow_path(l->backoff_ms) && !l->armed && loop->now_ms >= l->retry_at_ms &&
            !loop->draining && !loop->accept_paused)
            listener_arm(l);
    }
}

static void on_accept(struct torus_listener *l, struct io_uring_cqe *cqe)
{
    struct torus_loop *loop = l->loop;
    if (!(cqe->flags & IORING_CQE_F_MORE))
        l->armed = false;
    int fd = cqe->res;
    if (slow_path(fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM)) {
        listener_back_off(l, -fd);
        return;
    }
    if (slow_path(l->backoff_ms) && fd >= 0)
        listener_recovered(l);
    if (fd < 0) {
        if (fd != -ECANCELED && fd != -EINTR)
            torus_log_warn("shard %d: accept failed: %s", loop->shard->id, strerror(-fd));
    } else if (loop->draining) {
        close(fd);
    } else {
        conn_open(loop, l, fd);
    }
    if (loop->open_conns >= loop->max_conns && !loop->accept_paused) {
        /* At the limit: stop accepting; the kernel's backlog holds the rest. */
        loop->accept_paused = true;
        for (int i = 0; i < loop->listener_count; i++) {
            if (loop->listeners[i].armed) {
                struct io_uring_sqe *sqe = get_sqe(loop);
                io_uring_prep_cancel64(sqe, user_data(&loop->listeners[i], TAG_ACCEPT), 0);
                io_uring_sqe_set_data64(sqe, user_data(NULL, TAG_IGNORE));
            }
        }
    } else if (!l->armed && !loop->draining && !loop->accept_paused && !l->backoff_ms) {
        listener_arm(l);
    }
}

static void listener_arm(struct torus_listener *l)
{
    if (l->armed || l->fd < 0)
        return;
    struct io_uring_sqe *sqe = get_sqe(l->loop);
    io_uring_prep_multishot_accept(sqe, l->fd, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, user_data(l, TAG_ACCEPT));
    l->armed = true;
}

/* ------------------------------------------------------------------------ */
/* Drain                                                                    */

static void start_drain(struct torus_loop *loop)
{
    if (loop->draining)
        return;
    loop->draining = true;
    loop->drain_deadline_ms = loop->now_ms + ms_of(loop->config->shutdown_timeout);
    for (int i = 0; i < loop->listener_count; i++) {
        struct torus_listener *l = &loop->listeners[i];
        if (l->armed) {
            struct io_uring_sqe *sqe = get_sqe(loop);
            io_uring_prep_cancel64(sqe, user_data(l, TAG_ACCEPT), 0);
            io_uring_sqe_set_data64(sqe, user_data(NULL, TAG_IGNORE));
        }
        /* Take what already waits in the backlog (a restart's new process may have joined the
         * port: these clients were routed here and must not be reset), then close the socket,
         * which takes it out of the port's reuseport group. */
        fcntl(l->fd, F_SETFL, fcntl(l->fd, F_GETFL) | O_NONBLOCK);
        int fd;
        while ((fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
            conn_open(loop, l, fd);
        close(l->fd);
        l->fd = -1;
    }
    for (struct torus_conn *c = loop->conns, *next; c; c = next) {
        next = c->next;
        /* Idle keep-alive connections get a short grace: a busy client's next request may be on
         * its way (closing now would lose it); it is answered with Connection: close. Every
         * other connection finishes its request and closes. */
        c->keep_alive = false;
        if (c->state == CONN_LINGERING) {
            conn_close(c);
        } else if (c->timer.queue == &loop->idle_timers) {
            torus_timer_disarm(&c->timer);
            conn_update_timer(c);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Set-up and the loop                                                      */

static int setup_ring(struct torus_loop *loop)
{
    struct io_uring_params params;
    memset(&params, 0, sizeof(params));
    params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN |
                   IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    /* Multishot receives post many completions per submission: size the CQ for the connection
     * limit. */
    uint32_t cq = 4096;
    while (cq < loop->max_conns * 2u && cq < 65536u) /* the kernel's IORING_MAX_CQ_ENTRIES */
        cq <<= 1;
    params.cq_entries = cq;
    int rc = io_uring_queue_init_params(2048, &loop->ring, &params);
    if (rc == -EINVAL) {
        static _Atomic bool warned;
        if (!atomic_exchange(&warned, true))
            torus_log_warn("io_uring: SINGLE_ISSUER/DEFER_TASKRUN not supported by this kernel; "
                           "falling back to a plain ring");
        memset(&params, 0, sizeof(params));
        params.flags = IORING_SETUP_CQSIZE;
        params.cq_entries = cq;
        rc = io_uring_queue_init_params(2048, &loop->ring, &params);
    }
    if (rc < 0) {
        torus_log_error("shard %d: io_uring_queue_init: %s", loop->shard->id, strerror(-rc));
        return TORUS_ERROR;
    }

    /* The provided-buffer ring every receive of this shard draws from. */
    loop->buf_ring_bytes = RECV_BUFFER_COUNT * sizeof(struct io_uring_buf);
    void *ring_mem = NULL;
    if (posix_memalign(&ring_mem, 4096, loop->buf_ring_bytes) != 0)
        return TORUS_ERROR;
    memset(ring_mem, 0, loop->buf_ring_bytes);
    loop->buf_ring = ring_mem;
    loop->buf_base = malloc((size_t)RECV_BUFFER_SIZE * RECV_BUFFER_COUNT);
    if (!loop->buf_base)
        return TORUS_ERROR;
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof(reg));
    reg.ring_addr = (uint64_t)(uintptr_t)loop->buf_ring;
    reg.ring_entries = RECV_BUFFER_COUNT;
    reg.bgid = RECV_GROUP;
    rc = io_uring_register_buf_ring(&loop->ring, &reg, 0);
    if (rc < 0) {
        torus_log_error("shard %d: io_uring_register_buf_ring: %s (kernel 5.19 or later needed)",
                        loop->shard->id, strerror(-rc));
        return TORUS_ERROR;
    }
    io_uring_buf_ring_init(loop->buf_ring);
    for (int i = 0; i < RECV_BUFFER_COUNT; i++)
        io_uring_buf_ring_add(loop->buf_ring, loop->buf_base + (size_t)i * RECV_BUFFER_SIZE,
                              RECV_BUFFER_SIZE, (unsigned short)i,
                              io_uring_buf_ring_mask(RECV_BUFFER_COUNT), i);
    io_uring_buf_ring_advance(loop->buf_ring, RECV_BUFFER_COUNT);
    return TORUS_OK;
}

static void arm_wake(struct torus_loop *loop)
{
    struct io_uring_sqe *sqe = get_sqe(loop);
    io_uring_prep_read(sqe, loop->shard->waker.event_fd, &loop->wake_value,
                       sizeof(loop->wake_value), 0);
    io_uring_sqe_set_data64(sqe, user_data(loop, TAG_WAKE));
}

static void handle_cqe(struct torus_loop *loop, struct io_uring_cqe *cqe)
{
    uint64_t data = io_uring_cqe_get_data64(cqe);
    void *ptr = (void *)(uintptr_t)(data & ~(uint64_t)TAG_MASK);
    switch ((enum op_tag)(data & TAG_MASK)) {
    case TAG_ACCEPT:
        on_accept(ptr, cqe);
        break;
    case TAG_RECV:
        on_recv(ptr, cqe);
        break;
    case TAG_SEND: {
        struct torus_conn *c = ptr;
        on_send(c, cqe->res);
        c->ops--; /* dropped last: nothing in on_send() can free the connection */
        if (c->closing)
            conn_maybe_free(c);
        break;
    }
    case TAG_READ: {
        struct torus_conn *c = ptr;
        on_file_read(c, cqe->res);
        c->ops--;
        if (c->closing)
            conn_maybe_free(c);
        break;
    }
    case TAG_WAKE:
        arm_wake(loop);
        break;
    case TAG_LOG:
        torus_access_log_written(&loop->access_log, cqe->res);
        break;
    case TAG_IGNORE:
    default:
        break;
    }
}

/*
 * The I/O thread's scheduling policy. As SCHED_BATCH, its wake-ups do not
 * preempt the executor running on its CPU: each request that arrived while
 * PHP ran used to take the CPU from PHP for that one request and give it back,
 * two switches per request; now the arrivals are taken in one go when PHP waits
 * for work (worker-mode sqlite-read +10 to +20 %, alternating A/B runs). But
 * while an executor is on a long request (EXECUTOR_STALL_MS and more), a batch
 * I/O thread would wait for the end of PHP's time slice each time, and a static
 * file took 2 ms instead of 0.3 ms next to a CPU-bound script: then the I/O
 * thread is an ordinary thread again, preempting, until the executors move on.
 */
static void io_policy_update(struct torus_loop *loop)
{
    if (!loop->io_batch_works)
        return;
    struct torus_shard *shard = loop->shard;
    bool stalled = false;
    for (int i = 0; i < shard->executor_count && !stalled; i++) {
        const struct torus_executor *e = &shard->executors[i];
        stalled = e->inflight && loop->now_ms - e->progress_ms > EXECUTOR_STALL_MS;
    }
    bool batch = !stalled;
    if (batch == loop->io_batch)
        return;
    struct sched_param param = {.sched_priority = 0};
    if (pthread_setschedparam(pthread_self(), batch ? SCHED_BATCH : SCHED_OTHER, &param) != 0) {
        torus_log_debug("shard %d: SCHED_BATCH refused; the I/O thread keeps SCHED_OTHER",
                        shard->id);
        loop->io_batch_works = false;
        return;
    }
    loop->io_batch = batch;
}

static bool executors_idle(struct torus_loop *loop)
{
    struct torus_shard *shard = loop->shard;
    for (int i = 0; i < shard->executor_count; i++) {
        if (shard->executors[i].inflight)
            return false;
    }
    return true;
}

/*
 * Right after the executors answered, instead of blocking as soon as the
 * ring is empty, poll it for a few microseconds: the next requests are
 * usually that close, and a CPU that goes idle and is woken again costs more
 * than the polls (measured: +6 % on worker-mode hello; on static files,
 * where no executor is involved, it costs a little, so it is not done
 * there). Only when no executor has work: they share this CPU, and polling
 * would keep them from it. Returns true when completions arrived.
 */
static bool spin_for_completions(struct torus_loop *loop)
{
    io_uring_submit(&loop->ring);
    uint64_t until = torus_monotonic_ns() + SPIN_NS;
    do {
        if (io_uring_cq_ready(&loop->ring))
            return true;
        io_uring_get_events(&loop->ring); /* runs the deferred completions without sleeping */
        if (io_uring_cq_ready(&loop->ring))
            return true;
    } while (torus_monotonic_ns() < until);
    return false;
}

/* Handles every completion in the ring, then gives the receive buffers back in one step. */
static void handle_completions(struct torus_loop *loop)
{
    unsigned head;
    unsigned seen = 0;
    struct io_uring_cqe *cqe;
    io_uring_for_each_cqe(&loop->ring, head, cqe)
    {
        handle_cqe(loop, cqe);
        seen++;
    }
    io_uring_cq_advance(&loop->ring, seen);
    if (loop->buf_returned) {
        io_uring_buf_ring_advance(loop->buf_ring, loop->buf_returned);
        loop->buf_returned = 0;
    }
}

static void loop_free(struct torus_loop *loop)
{
    io_uring_queue_exit(&loop->ring);
    free(loop->buf_base);
    free(loop->buf_ring);
    if (loop->static_cache)
        torus_static_cache_free(loop->static_cache);
    torus_pool_destroy(&loop->conn_pool);
    free(loop);
}

int torus_loop_run(struct torus_shard *shard)
{
    const struct torus_config *cfg = shard->config;
    struct torus_loop *loop = calloc(1, sizeof(*loop));
    if (!loop)
        return TORUS_ERROR;
    shard->loop = loop;
    loop->shard = shard;
    loop->config = cfg;
    loop->max_conns = (cfg->max_connections + (uint32_t)cfg->threads - 1) / (uint32_t)cfg->threads;
    loop->limits.max_uri_size = cfg->max_uri_size;
    loop->limits.max_header_size = cfg->max_header_size;
    loop->limits.max_body_size = cfg->max_body_size;
    loop->router.root = cfg->root;
    loop->router.root_len = strlen(cfg->root);
    loop->router.php = true;
    loop->router.worker_mode = cfg->worker != NULL;
    torus_pool_init(&loop->conn_pool, sizeof(struct torus_conn), 256);
    torus_timer_queue_init(&loop->header_timers, ms_of(cfg->header_timeout));
    torus_timer_queue_init(&loop->body_timers, ms_of(cfg->body_timeout));
    torus_timer_queue_init(&loop->idle_timers, ms_of(cfg->idle_timeout));
    torus_timer_queue_init(&loop->send_timers, ms_of(cfg->send_timeout));
    torus_timer_queue_init(&loop->linger_timers, LINGER_MS);
    torus_timer_queue_init(&loop->drain_timers, DRAIN_GRACE_MS);
    loop->now_ms = monotonic_ms();
    loop->now_s = time(NULL);
    loop->io_batch_works = true; /* io_policy_update() makes the thread SCHED_BATCH */

    loop->static_cache = torus_static_cache_new(64 * 1024, 32u << 20);
    if (!loop->static_cache || setup_ring(loop) != TORUS_OK) {
        loop_free(loop);
        shard->loop = NULL;
        return TORUS_ERROR;
    }
    for (int i = 0; i < shard->listen_count; i++) {
        struct torus_listener *l = &loop->listeners[i];
        l->loop = loop;
        l->fd = shard->listen_fds[i];
        l->index = i;
        l->tls = cfg->listeners[i].tls;
        listener_arm(l);
    }
    loop->listener_count = shard->listen_count;
    arm_wake(loop);
    if (shard->access_log_fd >= 0 &&
        torus_access_log_init(&loop->access_log, shard->access_log_fd,
                              strcmp(cfg->access_log_format, "json") == 0) == TORUS_OK)
        loop->logging = true;
    loop->access_log.taken_ms = loop->now_ms;
    atomic_store(&shard->slot->loop_running, true);

    struct torus_io_waker *waker = &shard->waker;
    for (;;) {
        drain_executors(loop);
        for (int i = 0; i < shard->executor_count; i++) {
            if (slow_path(
                    atomic_load_explicit(&shard->executors[i].finished, memory_order_acquire)) &&
                !loop->draining) {
                /* An executor gave up (a worker script that cannot start): the shard stops. */
                atomic_store(&shard->failed, true);
                atomic_store(&shard->draining, true);
            }
        }
        if (atomic_load_explicit(&shard->draining, memory_order_acquire))
            start_drain(loop);
        if (slow_path(loop->draining && atomic_load_explicit(&shard->hurry, memory_order_relaxed)))
            loop->drain_deadline_ms = loop->now_ms;
        if (loop->draining && (loop->open_conns == 0 || loop->now_ms >= loop->drain_deadline_ms))
            break;

        /* The access log goes out in batches (net/access_log.h says when). */
        const char *log_data;
        size_t log_len =
            loop->logging ? torus_access_log_take(&loop->access_log, loop->now_ms, &log_data) : 0;
        if (log_len) {
            struct io_uring_sqe *sqe = get_sqe(loop);
            /* Offset 0 on an O_APPEND file appends atomically (the position is the end, per write).
             */
            io_uring_prep_write(sqe, loop->access_log.fd, log_data, (unsigned)log_len, 0);
            io_uring_sqe_set_data64(sqe, user_data(loop, TAG_LOG));
        }

        /* Executors handed requests in this iteration get them as one batch, now. */
        for (int i = 0; i < shard->executor_count; i++)
            torus_executor_wake(&shard->executors[i]);

        /* Announce the sleep, then look at the executors' rings one last time; the fence orders
         * the store before those loads (runtime/executor.c explains the handshake). */
        atomic_store_explicit(&waker->sleeping, 1, memory_order_relaxed);
        atomic_thread_fence(memory_order_seq_cst);
        bool work = executors_have_output(loop) ||
                    atomic_load_explicit(&shard->draining, memory_order_seq_cst) != loop->draining;
        uint64_t deadline = next_deadline(loop);
        if (loop->draining)
            deadline = TORUS_MIN(deadline, loop->drain_deadline_ms);
        uint64_t wait_ms =
            deadline == UINT64_MAX ? 1000 : (deadline > loop->now_ms ? deadline - loop->now_ms : 0);
        wait_ms = TORUS_MIN(wait_ms, 1000);
        struct __kernel_timespec ts = {.tv_sec = (long long)(wait_ms / 1000),
                                       .tv_nsec = (long long)(wait_ms % 1000) * 1000000};
        if (work || wait_ms == 0) {
            io_uring_submit(&loop->ring);
        } else if (!(loop->busy && executors_idle(loop) && spin_for_completions(loop))) {
            struct io_uring_cqe *cqe;
            int rc = io_uring_submit_and_wait_timeout(&loop->ring, &cqe, 1, &ts, NULL);
            if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY)
                torus_log_warn("shard %d: io_uring wait: %s", shard->id, strerror(-rc));
        }
        atomic_store_explicit(&waker->sleeping, 0, memory_order_relaxed);

        loop->now_ms = monotonic_ms();
        loop->now_s = time(NULL);
        torus_route_memo_forget(&loop->route_memo);
        handle_completions(loop);
        io_policy_update(loop);
        /* Idle keep-alive connections are the idle and drain timer queues: publish their size. */
        atomic_store_explicit(&shard->metrics->connections_idle,
                              loop->idle_timers.count + loop->drain_timers.count,
                              memory_order_relaxed);
        expire_timers(loop);
        listeners_retry(loop);
    }

    /* Whatever is still open past the shutdown deadline is cut; then the cancelled operations
     * are reaped so every connection is freed. */
    for (struct torus_conn *c = loop->conns, *next; c; c = next) {
        next = c->next;
        conn_close(c);
    }
    uint64_t reap_until = monotonic_ms() + 2000;
    while (loop->conn_pool.in_use > 0 && monotonic_ms() < reap_until) {
        drain_executors(loop); /* releases free the connections executors held */
        struct __kernel_timespec tick = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
        struct io_uring_cqe *cqe;
        io_uring_submit_and_wait_timeout(&loop->ring, &cqe, 1, &tick, NULL);
        handle_completions(loop);
    }

    /* Let the executors finish what they hold; their last parts are dropped as they come. */
    for (int i = 0; i < shard->executor_count; i++) {
        torus_executor_wake(&shard->executors[i]);
        torus_executor_stop(&shard->executors[i]);
    }
    uint64_t give_up = monotonic_ms() + 5000;
    for (;;) {
        drain_executors(loop);
        bool all_done = true;
        for (int i = 0; i < shard->executor_count; i++)
            all_done &= atomic_load(&shard->executors[i].finished);
        if (all_done || monotonic_ms() > give_up)
            break;
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
    }
    drain_executors(loop);
    atomic_store(&shard->slot->loop_running, false);
    if (loop->logging) {
        /* Let an in-flight write land, then write the rest directly. */
        while (torus_access_log_busy(&loop->access_log)) {
            struct io_uring_cqe *cqe;
            if (io_uring_wait_cqe(&loop->ring, &cqe) != 0)
                break;
            handle_cqe(loop, cqe);
            io_uring_cqe_seen(&loop->ring, cqe);
        }
        torus_access_log_flush_sync(&loop->access_log);
        torus_access_log_release(&loop->access_log);
    }
    for (int i = 0; i < loop->listener_count; i++) {
        if (loop->listeners[i].fd >= 0)
            close(loop->listeners[i].fd);
    }
    loop_free(loop);
    shard->loop = NULL;
    return TORUS_OK;
}
