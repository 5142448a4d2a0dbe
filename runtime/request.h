/*
 * A request as it crosses from a shard's I/O thread to one of its PHP
 * executors, and the port through which an executor takes requests and
 * gives back response bytes.
 *
 * Ownership: the I/O thread fills a torus_request (every string points into
 * memory the request owns) and hands it over through the executor's request
 * ring. From then on the I/O thread writes only `aborted`, and frees the
 * request only once the executor has released it (TORUS_EMIT_RELEASE): the
 * response may end (TORUS_EMIT_END) before that, as fastcgi_finish_request()
 * does, while the script still reads the request. The executor writes
 * `status` before the response's last part, for the access log and metrics.
 */
#ifndef TORUS_REQUEST_H
#define TORUS_REQUEST_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime/common.h"

struct torus_header {
    torus_str name; /* as the client sent it */
    torus_str value;
};

struct torus_request {
    torus_str method;   /* "GET" */
    torus_str target;   /* raw request-target: "/a/b.php/x?q=1" (REQUEST_URI) */
    torus_str path;     /* percent-decoded path, no query: "/a/b.php/x" */
    torus_str query;    /* raw query after '?', without it; empty when none */
    uint8_t http_minor; /* 0 for HTTP/1.0, 1 for HTTP/1.1 (and HTTP/2) */
    bool http2;         /* arrived over HTTP/2: SERVER_PROTOCOL is "HTTP/2.0" */
    bool keep_alive;    /* the connection stays open after this response */
    bool head;          /* HEAD: the response carries no body */
    bool tls;           /* arrived over TLS */

    struct torus_header *headers;
    uint32_t header_count;
    torus_str body;    /* the whole request body (Content-Length or de-chunked); data is NULL when
                        * it is in body_fd */
    bool body_in_file; /* a larger body: body_fd, an unlinked file, holds its body.len bytes */
    int body_fd;

    /* Routing, resolved by the I/O thread against --root (FrankenPHP's php_server rules). */
    const char *document_root; /* absolute, no trailing slash */
    torus_str script_filename; /* absolute path of the script to run (classic mode) */
    torus_str script_name;     /* URI path of the script: "/a/b.php" */
    torus_str path_info;       /* what follows the script in the path: "/x"; may be empty */

    /* Addresses, as text for $_SERVER. */
    char remote_addr[INET6_ADDRSTRLEN];
    char server_addr[INET6_ADDRSTRLEN];
    uint16_t remote_port; /* 0 when a trusted proxy named the client without a port */
    uint16_t server_port;
    /* SERVER_NAME as a trusted proxy forwarded it (X-Forwarded-Host, Forwarded host=); empty
     * otherwise. remote_addr, remote_port, server_port and tls are then what the proxy said. */
    torus_str forwarded_host;

    double start_time; /* REQUEST_TIME_FLOAT: seconds since the epoch */

    /* Written by the I/O thread when the client goes away; read by the executor. */
    _Atomic bool aborted;

    /*
     * Output flow control, so that a client that reads slowly holds a
     * bounded part of a streamed response, not all of it. The executor waits
     * (torus_executor_port.emit) while more than TORUS_OUTPUT_HIGH_MARK bytes
     * it emitted are still in its ring (emitted - taken), or while the I/O
     * thread says the connection's unsent output is above the mark
     * (throttled, cleared below TORUS_OUTPUT_LOW_MARK); it sleeps on the
     * futex word flow_wait, which the I/O thread resets and wakes.
     */
    uint64_t emitted;           /* executor: body bytes it emitted before the END */
    _Atomic uint64_t taken;     /* I/O thread: of those, what it took from the ring */
    _Atomic bool throttled;     /* I/O thread: the connection's output is above the mark */
    _Atomic uint32_t flow_wait; /* futex word: 1 while the executor waits */

    /* Written by the executor before its last part: the final status code sent. */
    int status;
};

/* Output flow control: the executor waits above the high mark until the low mark. */
#define TORUS_OUTPUT_HIGH_MARK (512u << 10)
#define TORUS_OUTPUT_LOW_MARK  (128u << 10)

/* Flags of torus_executor_port.emit(). */
#define TORUS_EMIT_END     1u /* the last part of the response */
#define TORUS_EMIT_CLOSE   2u /* close the connection after the response */
#define TORUS_EMIT_RELEASE 4u /* the executor is done with the request: the I/O thread frees it */
#define TORUS_EMIT_HEAD    8u /* the part starts with a head (runtime/response_head.h) */

/*
 * What an executor's PHP side uses to talk to its shard. The executor loop
 * (runtime/executor.c) provides it; tests provide their own to drive the SAPI
 * without a network.
 */
/* What happened to an executor's PHP, for /metrics (torus_executor_port.note). */
enum torus_executor_event {
    /* Worker script restarts, by reason. */
    TORUS_EVENT_RESTART_MAX_REQUESTS,
    TORUS_EVENT_RESTART_EXIT,       /* exit() or die() in the handler */
    TORUS_EVENT_RESTART_SCRIPT_END, /* the worker script returned */
    TORUS_EVENT_RESTART_RELOAD,     /* SIGHUP */
    TORUS_EVENT_RESTART_FATAL,      /* a fatal error, timeout or memory exhaustion in a request */
    TORUS_EVENT_RESTART_BOOT_FAILURE,
    /* Requests ended by a PHP failure (500), by reason. */
    TORUS_EVENT_CRASH_FATAL_ERROR,
    TORUS_EVENT_CRASH_TIMEOUT,
    TORUS_EVENT_CRASH_MEMORY,
    TORUS_EVENT_CRASH_EXCEPTION,
    TORUS_EXECUTOR_EVENTS
};

struct torus_executor_port {
    /*
     * Blocks until the next request for this executor arrives. Returns NULL
     * when the executor must stop taking requests (shutdown, reload, recycle).
     */
    struct torus_request *(*wait_request)(struct torus_executor_port *port);

    /*
     * Appends a part of req's response in order; the bytes are copied. A
     * part is a head (TORUS_EMIT_HEAD: the encoding of runtime/response_head.h,
     * an interim one or the final one) followed by raw body bytes, or raw body
     * bytes only; the session on the I/O thread frames them for its protocol
     * (HTTP/1.1: status line, Content-Length or chunks). flags: TORUS_EMIT_END
     * on the last part, TORUS_EMIT_CLOSE to close the connection after it,
     * TORUS_EMIT_RELEASE exactly once per request when the executor no longer
     * reads it (usually together with END; len may be 0). After RELEASE the
     * request must not be touched.
     */
    void (*emit)(struct torus_executor_port *port, struct torus_request *req, const char *data,
                 size_t len, unsigned flags);

    /* Counts an event for /metrics (may be NULL in tests). */
    void (*note)(struct torus_executor_port *port, enum torus_executor_event event);

    /*
     * True when the executor should restart its worker script (SIGHUP): the
     * SAPI checks it between requests and lets torus_handle_request() return
     * false. wait_request() also returns NULL then; the executor is not
     * stopping, so the script is started again. May be NULL in tests.
     */
    bool (*reload_requested)(struct torus_executor_port *port);
};

#endif
