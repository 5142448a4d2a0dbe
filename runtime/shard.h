/*
 * A shard: everything that serves the clients of one CPU. One I/O thread
 * (running net/loop.c) plus --php-threads-per-core executors, all pinned to
 * the shard's CPU. The I/O thread owns the shard's io_uring, its listeners,
 * its connections, its timers, its static-file cache and its counters; no
 * mutable state is shared with another shard.
 */
#ifndef TORUS_SHARD_H
#define TORUS_SHARD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime/config.h"
#include "runtime/executor.h"
#include "runtime/metrics.h"

struct torus_tls_context;

struct torus_shard {
    int id;
    int cpu; /* -1: not pinned */
    const struct torus_config *config;

    int listen_fds[TORUS_MAX_LISTENERS]; /* this shard's own SO_REUSEPORT sockets */
    int listen_count;
    int admin_fd;                  /* --admin-listen socket (shard 0 only), or -1 */
    int access_log_fd;             /* --access-log, shared by the shards (O_APPEND), or -1 */
    struct torus_tls_context *tls; /* shared read-only by the shards; NULL without --tls-listen */

    struct torus_io_waker waker;
    struct torus_executor *executors;
    int executor_count;

    _Atomic bool draining;     /* set by the main thread on SIGTERM/SIGINT */
    _Atomic bool hurry;        /* a second signal: drop what is in flight now */
    _Atomic bool failed;       /* an executor gave up (worker failing to start) */
    _Atomic bool ended;        /* the shard's threads are done */
    _Atomic bool loop_running; /* the I/O loop is set up and serving */

    pthread_t thread;
    bool started;
    int result; /* TORUS_OK, or TORUS_ERROR when the loop could not run */

    struct torus_metrics metrics; /* written by the I/O thread only (runtime/metrics.h) */

    struct torus_loop *loop; /* the I/O thread's private state (net/loop.c) */
};

/* Every shard of the process, for the admin endpoints; set once before the shards start. */
extern struct torus_shard *torus_shards;
extern int torus_shard_count;

/*
 * Creates the shard's listening sockets (SO_REUSEPORT, bound to every
 * configured address). port_of_listener[i], when non-zero, is the port to use
 * instead of the configured one (so ":0" resolves once for every shard).
 * Returns TORUS_OK or TORUS_ERROR with a one-line message naming the address.
 */
int torus_shard_bind(struct torus_shard *shard, const struct torus_config *config,
                     uint16_t *port_of_listener, char *err, size_t err_size);

/* Starts the shard's I/O thread, which starts its executors. TORUS_OK or TORUS_ERROR. */
int torus_shard_start(struct torus_shard *shard);

/* Asks the shard to drain: stop accepting, finish in-flight requests, exit. */
void torus_shard_drain(struct torus_shard *shard);

/* A second signal: end the drain now, cutting the connections still open. */
void torus_shard_hurry(struct torus_shard *shard);

/* Waits for the shard's threads to end; returns the shard's result. */
int torus_shard_join(struct torus_shard *shard);

/* Wakes the shard's I/O thread (from any thread). */
void torus_shard_wake(struct torus_shard *shard);

/* The I/O thread's loop (net/loop.c): runs until the shard has drained. */
int torus_loop_run(struct torus_shard *shard);

#endif
