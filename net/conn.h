/*
 * The I/O loop's own header: the state of a shard's loop and of its
 * connections, shared by the files that make up the loop and by nobody else.
 *
 *   net/loop.c          set-up, the loop itself, completions, drain
 *   net/listener.c      accepting connections (and backing off without descriptors)
 *   net/conn_state.c    a connection's phase: the states, their transitions, when it is freed
 *   net/conn.c          a connection's lifecycle: open, receive, timers, close, free
 *   net/transport.c     plain or TLS between the socket and the session, one interface
 *   net/http_session.c  HTTP/1.1 on a connection: parse, route, answer or hand to PHP
 *   net/http1_response.c HTTP/1.1 framing of the response parts PHP emits
 *   net/h2_session.c    HTTP/2 on a connection (nghttp2): streams as requests, frames out
 *   net/dispatch.c      requests to executors, response parts back
 *   net/conn_output.c   what goes to the client: queued chunks, files, server responses
 *   net/route_lookup.c  routing off the I/O thread, on the shard's file-system worker
 *
 * A connection is in exactly one state (enum conn_state, net/conn_state.c
 * explains them), and it is freed only once it is CONN_CLOSED, no operation
 * refers to it any more (ops == 0) and no executor holds one of its requests
 * (held == 0).
 */
#ifndef TORUS_CONN_H
#define TORUS_CONN_H

#include <liburing.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "alloc/pool.h"
#include "net/access_log.h"
#include "runtime/chunk.h"
#include "net/fs_worker.h"
#include "net/http.h"
#include "net/http1_response.h"
#include "net/route.h"
#include "net/static.h"
#include "net/timer.h"
#include "net/tls.h"
#include "runtime/executor.h"
#include "runtime/shard.h"

#define RECV_BUFFER_SIZE  (16 * 1024) /* one provided buffer */
#define RECV_BUFFER_COUNT 512         /* per shard; a power of two */
#define RECV_GROUP        1
#define FILE_BUFFER_SIZE  (64 * 1024) /* what a streamed file costs a connection */
#define COALESCE_LIMIT    (16 * 1024) /* small queued chunks are sent as one */
/* Answers of a pipeline held back (corked) while the next request runs, up to COALESCE_LIMIT bytes
 * and while no executor is stalled; the loop looks again at least this often (net/conn_output.c).
 */
#define CORK_CHECK_MS 3
/* Requests queued at a busy executor before parking. Only one executor per shard queues (with
 * several, requests go to idle ones only); for it, parked or queued is the same FIFO, but each
 * park costs the I/O thread another round before the executor sees the request: 8 here cost
 * sqlite-read 28% and hello 13% against 64 (alternating A/B runs, 64 connections). */
#define EXECUTOR_DEPTH          64
#define EXECUTOR_STALL_MS       2 /* an executor this long on one request takes no more */
#define QUICK_COOLDOWN_NS       (250u * 1000 * 1000) /* after a slow request, no queueing */
#define H2_EXECUTOR_DEPTH       4 /* the same for HTTP/2 streams (rapid reset: see dispatch.c) */
#define SPIN_NS                 (30 * 1000) /* how long an idle loop under load polls before it blocks */
#define PENDING_INPUT_CAP       (64 * 1024) /* pipelined bytes kept while a request executes */
#define LINGER_MS               5000 /* after the last response, wait this long for the client's FIN */
#define ACCEPT_BACKOFF_FIRST_MS 50   /* out of descriptors: the first pause of accept */
#define ACCEPT_BACKOFF_MAX_MS   1000 /* and the longest, while it keeps failing */
#define ROUTE_LOOKUP_BUCKETS    64   /* a power of two: jobs in flight, hashed by path */
#define SPOOL_SPARES            2    /* temporary files kept ready for large bodies */
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
    TAG_SPOOL = 7, /* a write of a request body to its temporary file (net/body_spool.c) */
};
#define TAG_MASK 7u

static inline uint64_t user_data(void *ptr, enum op_tag tag)
{
    return (uint64_t)(uintptr_t)ptr | tag;
}

/* ------------------------------------------------------------------------ */
/* Types                                                                    */

/*
 * The phase of a connection: what it waits for and what it may do next. One
 * state at a time, changed only by conn_set_state(), which checks the
 * transition against the table in net/conn_state.c (the comment there draws
 * the machine). What is not a phase stays a field of its own: operations in
 * flight (recv_armed, send_inflight, read_inflight, ops), receiving suspended
 * for backpressure (reading_paused), the client's FIN (peer_closed), and the
 * current request's own properties (keep_alive, head_request).
 */
enum conn_state {
    CONN_READING_HEAD, /* idle between requests, a TLS handshake, or a head arriving */
    CONN_READING_BODY, /* a head routed: its body arriving (for PHP, or discarded) */
    CONN_ROUTING,      /* a head waits for its route from the file-system workers; its bytes kept */
    CONN_SPOOLING_BODY, /* the body is complete; its last writes to the temporary file run */
    CONN_PARKED,        /* the request is complete and waits for a free executor */
    CONN_EXECUTING,     /* an executor has the request; its response comes until its END */
    CONN_WRITING_FILE,  /* a static file streams out; the next request waits until it is out */
    CONN_OUTPUT_FULL,   /* between pipelined requests: too much output waits for the client */
    CONN_WRITING_LAST,  /* no more requests: the queued output goes out, then the close */
    CONN_TLS_CLOSING,   /* the TLS close_notify goes out */
    CONN_LINGERING,     /* our side shut: the client's input is discarded until its FIN */
    CONN_CLOSED,        /* the socket is closed; freed once ops and held are 0 */
    CONN_STATE_COUNT
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
struct torus_conn;
struct h2_session;
struct h2_stream;
struct route_job;

/*
 * A request waiting for its route from the file-system workers
 * (net/route_lookup.c): an HTTP/1.1 connection's, or an HTTP/2 stream's.
 * Embedded in what waits; its owner sets `routed` before the lookup.
 */
struct route_waiter {
    struct route_waiter *next; /* the other waiters of its job */
    struct route_job *job;     /* the job it waits for; NULL when it waits for none */
    /*
     * The route is known: path is the routed path (route->path_info points
     * into it), file what the worker opened for a static route (its
     * descriptors may be taken; the caller closes the rest). With route NULL
     * the lookup was given up (the loop stops): only release. Called with
     * the waiter already off its job.
     */
    void (*routed)(struct route_waiter *w, const char *path, size_t path_len,
                   const struct torus_route *route, struct torus_static_file *file);
};

/* What a connection speaks: decided when its first bytes arrive (ALPN or the h2c preface). */
enum conn_protocol {
    CONN_PROTOCOL_UNDECIDED, /* nothing received yet */
    CONN_PROTOCOL_HTTP1,     /* HTTP/1.x (net/http_session.c) */
    CONN_PROTOCOL_H2,        /* HTTP/2 (net/h2_session.c) */
};

/*
 * A connection's transport (net/transport.c): plain or TLS, the same calls
 * either way, so the HTTP session never asks which.
 */
struct conn_transport {
    /* Bytes from the socket: their plaintext goes to session_on_data(). */
    void (*received)(struct torus_conn *c, const char *data, size_t len);
    /* Response bytes for the client, onto the output queue (encrypted on TLS); chunk taken. */
    void (*send)(struct torus_conn *c, struct torus_chunk *chunk);
    /* A handshake still runs (the first head's timer covers it). */
    bool (*handshaking)(const struct torus_conn *c);
    /* Whether a goodbye goes before the last close, and queueing it (TLS close_notify). */
    bool (*can_close_notify)(const struct torus_conn *c);
    void (*close_notify)(struct torus_conn *c);
    bool secure; /* HTTPS for PHP */
};

/* A connection's two addresses as PHP shows them (REMOTE_ADDR, SERVER_ADDR). */
struct conn_addresses {
    char remote_addr[INET6_ADDRSTRLEN];
    char server_addr[INET6_ADDRSTRLEN];
    uint16_t remote_port;
    uint16_t server_port;
    bool trusted; /* the peer (or the client a PROXY header named) is a --trusted-proxy */
};

struct torus_conn {
    struct torus_loop *loop;
    struct torus_conn *prev, *next; /* every open connection of the loop */
    int fd;
    enum conn_state state; /* changed by conn_set_state() only */
    uint8_t listener;
    bool recv_armed;     /* a multishot recv is in flight */
    bool send_inflight;  /* a send is in flight (one at most) */
    bool read_inflight;  /* a read of a streamed file is in flight */
    bool reading_paused; /* recv cancelled for backpressure: not re-armed until it is lifted */
    bool peer_closed;    /* the client's FIN (or close_notify) arrived */
    bool keep_alive;     /* the current request's verdict: the connection may carry the next one */
    bool head_request;   /* the current request is HEAD */
    bool tls_counted;    /* its handshake is in the metrics */
    const struct conn_transport *transport; /* plain or TLS (net/transport.c) */
    struct torus_tls_conn *tls;             /* the TLS session; NULL on a plain connection */
    uint16_t ops;  /* io_uring operations in flight that refer to this connection */
    uint16_t held; /* requests of this connection that an executor has not released */

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
    uint64_t out_bytes; /* unsent bytes in that list (what a slow reader costs) */
    struct torus_chunk *pending;
    int pending_status;

    /* A file streamed after the queued output: held with `pending` while the request's body is
     * read (a reading state), streamed in CONN_WRITING_FILE or CONN_WRITING_LAST. */
    int file_fd;
    uint64_t file_offset, file_remaining;
    struct torus_chunk *file_chunk;

    /* A request body larger than --body-buffer-size, going to a temporary file. */
    int spool_fd;                  /* -1 when none */
    uint64_t spool_size;           /* bytes handed to writes so far */
    uint32_t spool_inflight;       /* writes in flight */
    uint64_t spool_inflight_bytes; /* and their bytes */

    struct conn_addresses *addresses; /* fetched at the first PHP request, kept for the next */
    struct proxy_stage *proxy;        /* the PROXY header being read (net/transport_proxy.c) */
    struct torus_exchange *exchange;  /* the PHP request of this connection, until its END */
    enum conn_protocol protocol;      /* chosen by the first bytes (or ALPN) */
    struct h2_session *h2;            /* HTTP/2: the session (net/h2_session.c), else NULL */
    struct route_waiter route_wait;   /* CONN_ROUTING: waiting for its route */
    /* Its queued answers wait for the next request of the pipeline (net/conn_output.c): linked in
     * the loop's list of corked connections. */
    bool corked;
    struct torus_conn *cork_prev, *cork_next;
};

struct torus_exchange {
    struct torus_request request; /* what the executor sees */
    struct torus_conn *conn;
    int executor;
    struct http1_response h1;      /* the framing of its response (net/http1_response.c) */
    struct sendfile_job *sendfile; /* X-Sendfile: the file replacing its response, until END */
    int pool;                      /* the executors that may take it (net/route_worker.h) */
    bool http2;                    /* a stream's request: its response goes to net/h2_session.c */
    struct h2_stream *stream;      /* HTTP/2: its stream, NULL once the stream is gone */
    struct torus_exchange *next_parked; /* its pool's FIFO of requests waiting for an executor */
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

    /* Unlinked temporary files for large request bodies, made ahead by the file-system workers
     * (net/body_spool.c). */
    int spool_spares[SPOOL_SPARES];
    int spool_spare_count;
    bool spool_refilling;

    /* Routing off the I/O thread (net/route_lookup.c). */
    struct torus_fs_pool fs;
    struct route_job *lookups[ROUTE_LOOKUP_BUCKETS]; /* jobs at the worker, by path */
    struct route_job *lookup_backlog,
        *lookup_backlog_last;                          /* jobs the worker has no room for yet */
    struct torus_fs_job *fs_backlog, *fs_backlog_last; /* other jobs waiting for room */

    struct torus_exchange *parked_first, *parked_last;
    /* Per pool of executors (net/route_worker.h): the one that took its last request
     * (net/dispatch.c). */
    int warm_executor[TORUS_MAX_WORKERS + 1];

    struct torus_conn *corked; /* connections whose answers are held back (out_flush_or_cork()) */
    bool stalled;              /* an executor has been on one request for EXECUTOR_STALL_MS */

    uint64_t wake_value; /* the eventfd read lands here */
    bool busy;           /* the executors just answered: PHP traffic is flowing */
    bool io_batch;       /* the I/O thread runs as SCHED_BATCH now */
    bool io_batch_works; /* the kernel lets it (else it stays SCHED_OTHER) */
    struct torus_access_log access_log;
    bool logging;
    bool draining;
    uint64_t drain_deadline_ms;
};

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */

static inline uint64_t monotonic_ms(void)
{
    return torus_monotonic_ns() / 1000000u;
}

/* A submission queue entry; when the queue is full, what is there goes to the kernel first. */
static inline struct io_uring_sqe *get_sqe(struct torus_loop *loop)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&loop->ring);
    if (slow_path(!sqe)) {
        io_uring_submit(&loop->ring);
        sqe = io_uring_get_sqe(&loop->ring);
    }
    return sqe;
}

/* Seconds (a flag's value) in milliseconds, rounded. */
static inline uint64_t ms_of(double seconds)
{
    return (uint64_t)(seconds * 1000.0 + 0.5);
}

/* ------------------------------------------------------------------------ */
/* States (net/conn_state.c) */

/* conn_state_next[s] has bit t set when the transition s -> t is allowed. */
extern const uint16_t conn_state_next[CONN_STATE_COUNT];

/* The state's name as the code spells it ("READING_HEAD"); "?" when out of range. */
const char *conn_state_name(enum conn_state state);

/* True when the table allows from -> to. */
bool conn_state_allowed(enum conn_state from, enum conn_state to);

/*
 * An illegal transition of c to `next`: in a debug build (TORUS_DEBUG) one line
 * naming both states, then abort(); otherwise the line only.
 */
void conn_state_illegal(const struct torus_conn *c, enum conn_state next);

/* Moves the connection to state `next`, checking the transition against the table. */
static inline void conn_set_state(struct torus_conn *c, enum conn_state next)
{
    if (slow_path(!(conn_state_next[c->state] & (1u << next))))
        conn_state_illegal(c, next);
    c->state = next;
}

/* True while requests are parsed: a head or a body is awaited. */
static inline bool conn_reading(const struct torus_conn *c)
{
    return c->state <= CONN_READING_BODY;
}

/* True once the connection is closed (it may still wait to be freed). */
static inline bool conn_closed(const struct torus_conn *c)
{
    return c->state == CONN_CLOSED;
}

/*
 * The connection can carry no further request (a TLS failure, no memory for
 * its output): in a reading state the request being read is dropped and the
 * queued output becomes the last (CONN_WRITING_LAST); while PHP has its
 * request, that request's response is the last (decided at its END). The
 * caller flushes.
 */
void conn_finish_after_output(struct torus_conn *c);

/*
 * A request's whole response (and any file after it) is queued: the
 * connection goes on to its next request, to the file, or to its last
 * output, as keep_alive and file_fd say.
 */
void conn_response_queued(struct torus_conn *c);

/*
 * Drops the request being read (a reading state, or a body being spooled):
 * its held response, its held file and an exchange no executor has seen.
 */
void conn_drop_request(struct torus_conn *c);

/* ------------------------------------------------------------------------ */
/* Output (net/conn_output.c) */
/* A response is complete (queued in full, or its END arrived): count it, log it. */
void conn_observe(struct torus_conn *c, int status, uint64_t bytes);

/* Queues bytes as they are to go on the wire (ciphertext on a TLS connection). */
void out_append_raw(struct torus_conn *c, struct torus_chunk *chunk);

/*
 * Queues response bytes through the connection's transport: as they are on a
 * plain connection, encrypted into records on a TLS one. The chunk is taken
 * (the file buffer is only read).
 */
void out_append(struct torus_conn *c, struct torus_chunk *chunk);

/* Frees every chunk queued on the connection, and the held response. */
void out_free_all(struct torus_conn *c);

/* A chunk holding `len` bytes copied from data (NULL when out of memory). */
struct torus_chunk *out_chunk(const char *data, size_t len, size_t extra);

/*
 * Queues a complete small response generated by the server itself (errors,
 * redirects, 405): a short HTML body like nginx's, or none for HEAD.
 */
void out_respond_simple(struct torus_conn *c, int status, const char *extra_headers, bool hold);

/* Answers a request that cannot be parsed or served, then closes. */
void out_respond_error_and_close(struct torus_conn *c, int status);

/* Sends what is queued (one send in flight at most), or the next piece of a streamed file. */
void conn_flush(struct torus_conn *c);

/*
 * A response of a pipeline has ended: sends what is queued, unless the next
 * request of the pipeline was handed to an executor (EXECUTING or PARKED),
 * no executor is stalled and less than COALESCE_LIMIT bytes wait; then the
 * answers are held (corked) so the pipeline's answers go out in one send.
 */
void out_flush_or_cork(struct torus_conn *c);

/* Sends the answers of every corked connection (an executor stalled: net/loop.c). */
void out_uncork_all(struct torus_loop *loop);

/* A send completed with result res: resumes a partial send, or goes on with the next. */
void conn_on_send(struct torus_conn *c, int res);

/* A read of a streamed file completed with result res: sends what it read. */
void conn_on_file_read(struct torus_conn *c, int res);

/* Connections: lifecycle, receive, timers (net/conn.c) */
/*
 * Puts the connection in the timer queue its state calls for (header, body, idle, send, linger,
 * drain).
 */
void conn_update_timer(struct torus_conn *c);

/* Closes the connections whose timer has run out (header, body, idle, send, linger, drain). */
void conn_expire_timers(struct torus_loop *loop);

/*
 * The earliest deadline of any timer (or a listener's accept pause), in ms; UINT64_MAX when
 * none.
 */
uint64_t conn_next_deadline(struct torus_loop *loop);

/* Arms the connection's multishot receive into the provided-buffer ring. */
void conn_arm_recv(struct torus_conn *c);

/* Frees a closed connection once no operation and no executor refers to it any more. */
void conn_maybe_free(struct torus_conn *c);

/*
 * Closes the connection: cancels its receive, closes its socket through the ring; freed later by
 * conn_maybe_free().
 */
void conn_close(struct torus_conn *c);

/*
 * A receive completion: feeds the bytes to TLS or to the session, gives the buffer back,
 * re-arms.
 */
void conn_on_recv(struct torus_conn *c, struct io_uring_cqe *cqe);

/* A connection was accepted on listener l. */
void conn_open(struct torus_loop *loop, struct torus_listener *l, int fd);

/* The client finished sending (a FIN, or TLS close_notify): answer what it asked, then close. */
void conn_on_peer_fin(struct torus_conn *c);

/* Transports (net/transport.c) */
/* Gives a new connection its transport: plain, or TLS with a new session. TORUS_OK or TORUS_ERROR.
 */
int transport_open(struct torus_conn *c, bool tls);

/*
 * --proxy-protocol (net/transport_proxy.c): puts a stage before the
 * connection's transport that reads the PROXY header, sets the connection's
 * addresses from it and hands the bytes after it on. TORUS_ERROR (close the
 * connection unread) when the peer is not a --trusted-proxy or memory runs
 * out. The stage is freed by transport_proxy_free().
 */
int transport_proxy_open(struct torus_conn *c);

/*
 * X-Sendfile / X-Accel-Redirect (net/sendfile.c, --sendfile-root): whether
 * the head in chunk (a part with TORUS_EMIT_HEAD) names a file; if so the
 * file is being opened (x->sendfile), and the response's parts are to be
 * dropped until its END, when sendfile_end() lets the file's answer go out
 * (at once, or when the file-system worker is done). sendfile_end() is also
 * called at the RELEASE of an exchange whose END was not handled (its
 * connection closed).
 */
bool sendfile_begin(struct torus_loop *loop, struct torus_exchange *x,
                    const struct torus_chunk *chunk);
void sendfile_end(struct torus_exchange *x, unsigned flags);

/* HTTP/2: the stream an X-Sendfile job answers went away; the job finishes without it. */
void sendfile_stream_gone(struct sendfile_job *job);

/*
 * HTTP/2 (net/h2_static.c): the X-Sendfile answer for stream st: resp, the
 * static response for the file (its descriptor may be taken), with the
 * script's kept lines added; or, with resp NULL, the server's page for
 * status.
 */
void h2_stream_sendfile_answer(struct h2_stream *st, int status, struct torus_static_response *resp,
                               torus_str kept);
void transport_proxy_free(struct torus_conn *c);

/* Frees what the transport holds (the TLS session). */
void transport_free(struct torus_conn *c);

/* Listeners (net/listener.c) */
/* Listeners whose pause is over accept again (a failure pauses them for longer). */
void listener_retry_all(struct torus_loop *loop);

/*
 * An accept completion on listener l: opens the connection, pauses at --max-connections or when
 * out of descriptors.
 */
void listener_on_accept(struct torus_listener *l, struct io_uring_cqe *cqe);

/* Arms a multishot accept on the listener (unless armed or closed). */
void listener_arm(struct torus_listener *l);

/*
 * Output flow control (runtime/request.h): wakes the executor of request r
 * if it waits for its client and no longer has to.
 */
void dispatch_flow_release(struct torus_request *r);

/* Routing off the I/O thread (net/route_lookup.c) */
/*
 * The route of path (normalised): TORUS_OK with *route filled when the memo
 * knows it without a system call (and, for a static file, when want_file,
 * the static cache holds the file); else TORUS_AGAIN: w waits for the
 * shard's file-system workers, and w->routed() is called with the route
 * (from route_lookup_reap()). TORUS_ERROR when out of memory.
 */
int route_lookup_begin(struct torus_loop *loop, struct route_waiter *w, const char *path,
                       size_t path_len, bool want_file, struct torus_route *route);

/* w stops waiting (its request went away): it is never called back. No-op when it does not wait. */
void route_lookup_cancel(struct route_waiter *w);

/*
 * Hands any other job to the file-system workers, or, when their rings are
 * full, keeps it in a FIFO submitted as earlier jobs finish. A job still
 * waiting there when the loop ends is completed without having run: its
 * completion must tell (what run() would write is set beforehand).
 */
void fs_job_submit(struct torus_loop *loop, struct torus_fs_job *job);

/* Every iteration: finished lookups go into the memo and on to their connections. */
void route_lookup_reap(struct torus_loop *loop);

/* Starts the shard's file-system worker. TORUS_OK or TORUS_ERROR. */
int route_lookup_start(struct torus_loop *loop);

/* At the loop's end: stops the worker and releases the connections still waiting. */
void route_lookup_stop(struct torus_loop *loop);

/* Request bodies in temporary files (net/body_spool.c) */
/*
 * Asks the file-system workers for temporary files until SPOOL_SPARES are
 * ready (one request at a time); the loop calls it at start-up.
 */
void spool_spares_refill(struct torus_loop *loop);

/* At the loop's end: closes the spare files. */
void spool_spares_close(struct torus_loop *loop);

/* An unlinked file in $TMPDIR (or /tmp), opened here (blocking); -1 with errno set. */
int spool_open(void);

struct spool_write;

/*
 * While a PHP request's body arrives: once the parser holds
 * --body-buffer-size bytes, writes them to the connection's temporary file.
 * TORUS_OK, or TORUS_ERROR when it failed (answered with 500 and closing).
 */
int spool_take(struct torus_conn *c);

/*
 * The body is complete: a spooled one gets its last bytes written and its
 * file given to the request. TORUS_OK (dispatch now), TORUS_AGAIN (writes in
 * flight: spool_on_write() calls session_dispatch() later) or TORUS_ERROR.
 */
int spool_finish(struct torus_conn *c);

/* A spool write completed with result res. */
void spool_on_write(struct spool_write *w, int res);

/* The connection closes: its file goes as soon as no write refers to it. */
void spool_release(struct torus_conn *c);

/* Dispatch to executors (net/dispatch.c) */
/* Puts the connection (PARKED) at the end of the FIFO of requests waiting for a free executor. */
void dispatch_park(struct torus_loop *loop, struct torus_conn *c);

/* Takes the connection's request out of that FIFO (it closed). */
void dispatch_unpark(struct torus_loop *loop, struct torus_conn *c);

/* Puts a request at the end of that FIFO (an HTTP/2 stream's: its connection is not parked). */
void dispatch_enqueue(struct torus_loop *loop, struct torus_exchange *x);

/* Takes a request out of that FIFO. */
void dispatch_dequeue(struct torus_loop *loop, struct torus_exchange *x);

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
int dispatch_request(struct torus_loop *loop, struct torus_exchange *x);

/* Frees an exchange whose executor has released it. */
void dispatch_exchange_free(struct torus_exchange *x);

/* One part of a response from an executor: queues its bytes, ends or releases the exchange. */
void dispatch_on_response(struct torus_loop *loop, struct torus_response_part *part);

/* Takes every response part the executors have pushed and puts it on its connection. */
void dispatch_take_responses(struct torus_loop *loop);

/* True when an executor has pushed response parts not taken yet. */
bool dispatch_have_output(struct torus_loop *loop);

/* True when no executor has a request queued or running. */
bool dispatch_executors_idle(struct torus_loop *loop);

/* The HTTP/1.1 session (net/http_session.c) */
/*
 * Copies len bytes of data and a NUL to *cursor, sets *out to the copy and
 * moves *cursor past it (a request's strings, packed in its allocation).
 */
char *session_put_str(char **cursor, const char *data, size_t len, torus_str *out);

/*
 * A new exchange (zeroed) with room for header_count headers and
 * header_bytes bytes of their text, its method, target, path, query and the
 * route's script fields copied in (left empty when worker_script: a worker
 * runs its own script, net/route_worker.h); *cursor is where the headers'
 * text goes. NULL when out of memory.
 */
struct torus_exchange *session_exchange_new(uint32_t header_count, size_t header_bytes,
                                            torus_str method, torus_str target, torus_str path,
                                            torus_str query, const struct torus_route *route,
                                            bool worker_script, char **cursor);

/* The connection's addresses (fetched once, kept); NULL when out of memory. */
struct conn_addresses *session_addresses(struct torus_conn *c);

/*
 * From a --trusted-proxy peer, what its Forwarded or X-Forwarded-* headers
 * among r's say replaces r's client address, scheme, host and port; from any
 * other peer nothing changes. c's addresses must have been fetched.
 */
void session_apply_forwarded(struct torus_conn *c, struct torus_request *r);

/* The request's body is complete (and spooled, when it had to be): hands it to PHP. */
void session_dispatch(struct torus_conn *c);

/* Parses what the connection has buffered (after a response let it go on). */
void session_parse(struct torus_conn *c);

/* Bytes arrived from the client. */
void session_on_data(struct torus_conn *c, const char *data, size_t len);

/*
 * The route a request waited for (CONN_ROUTING) is known: answers it or
 * hands it on as on_head() would have, then parses what follows. path is
 * the routed path (route->path_info points into it); file is what the
 * worker opened for a static route (its fd may be taken).
 */
void session_on_routed(struct torus_conn *c, const char *path, size_t path_len,
                       const struct torus_route *route, struct torus_static_file *file);

/* HTTP/2 (net/h2_session.c) */
/* Starts HTTP/2 on the connection (ALPN h2, or the h2c preface). TORUS_OK or TORUS_ERROR. */
int h2_session_start(struct torus_conn *c);

/* Plaintext from the client of an HTTP/2 connection. */
void h2_session_on_data(struct torus_conn *c, const char *data, size_t len);

/* Queues what the session has to send; moves the connection to its close when it is over. */
void h2_session_pump(struct torus_conn *c);

/* A part of a stream's response from an executor (the part's chunk is taken). */
void h2_session_on_part(struct torus_conn *c, struct torus_exchange *x,
                        struct torus_response_part *part);

/* A send completed: executors may go on, more frames may be queued. */
void h2_session_on_sent(struct torus_conn *c);

/* The connection closes: its streams go (requests at an executor are marked aborted). */
void h2_session_close(struct torus_conn *c);

/* Frees the session (the connection is being freed). */
void h2_session_free(struct torus_conn *c);

/* SIGTERM: GOAWAY, the open streams finish, then the connection closes. */
void h2_session_drain(struct torus_conn *c);

/* The timer queue an HTTP/2 connection belongs in (send, body, idle, drain), or NULL. */
struct torus_timer_queue *h2_session_timer(struct torus_conn *c);

/*
 * The connection's timer in `queue` ran out: true when the session handled it
 * (the body timeout resets the streams still arriving), false when the
 * connection must close.
 */
bool h2_session_on_timeout(struct torus_conn *c, struct torus_timer_queue *queue);

/* net/loop.c */
#endif
