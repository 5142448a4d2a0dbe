/*
 * A shard: everything that serves the clients of one CPU. One I/O thread
 * (running net/loop.c) plus --php-threads-per-core executors, all pinned to
 * the shard's CPU, in a process of their own (runtime/shard_process.c) that
 * the supervisor forks. The I/O thread owns the shard's io_uring, its
 * listeners, its connections, its timers, its static-file cache and its
 * counters; no mutable state is shared with another shard, and the counters
 * live in the scoreboard only so the supervisor can read them.
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
#include "runtime/scoreboard.h"

struct torus_tls_context;

struct torus_shard {
    int id;
    int cpu; /* -1: not pinned */
    const struct torus_config *config;

    int listen_fds[TORUS_MAX_LISTENERS]; /* this shard's own SO_REUSEPORT sockets */
    int listen_count;
    int access_log_fd;             /* --access-log, shared by the shards (O_APPEND), or -1 */
    struct torus_tls_context *tls; /* shared read-only by the shards; NULL without --tls-listen */

    struct torus_io_waker waker;
    struct torus_executor *executors;
    int executor_count;

    _Atomic bool draining; /* set by the process's main thread on SIGTERM/SIGINT */
    _Atomic bool hurry;    /* a second signal: drop what is in flight now */
    _Atomic bool failed;   /* an executor gave up (worker failing to start) */
    _Atomic bool ended;    /* the shard's threads are done */

    pthread_t thread;
    bool started;
    int result; /* TORUS_OK, or TORUS_ERROR when the loop could not run */

    struct torus_scoreboard *board; /* shared with the supervisor */
    struct torus_shard_slot *slot;  /* this shard's place in it */
    struct torus_metrics *metrics;  /* &slot->metrics: written by the I/O thread only */

    struct torus_loop *loop; /* the I/O thread's private state (net/loop.c) */
};

/*
 * Creates one listening socket (SO_REUSEPORT) for addr; `flag` names the
 * option in messages. *port, when non-zero, replaces the configured port;
 * when zero it is set to the port the kernel chose. Returns the socket, or
 * -1 with a one-line message naming the flag and the address.
 */
int torus_listen_socket(const char *flag, const struct torus_listen_addr *addr, uint16_t *port,
                        char *err, size_t err_size);

/*
 * Creates the shard's listening sockets (SO_REUSEPORT, bound to every
 * configured address). port_of_listener[i], when non-zero, is the port to use
 * instead of the configured one (so ":0" resolves once for every shard).
 * Returns TORUS_OK or TORUS_ERROR with a one-line message naming the address.
 */
int torus_shard_bind(struct torus_shard *shard, const struct torus_config *config,
                     uint16_t *port_of_listener, char *err, size_t err_size);

/*
 * Starts the shard's I/O thread, which starts its executors; shard->board
 * must be set. TORUS_OK or TORUS_ERROR.
 */
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
