/*
 * The scoreboard: what the supervisor and the shard processes share.
 *
 * One anonymous shared mapping, made by the supervisor before it forks the
 * shards, so every process sees the same pages:
 *
 *   header   | shard slot 0 | executor slots of shard 0 | shard slot 1 | ...
 *
 * Each shard process writes only its own slots: its I/O thread the metrics,
 * its executors their own executor slot. The supervisor writes the header
 * (crash counters, the drain flag) and, once a shard process is dead, resets
 * that shard's gauges. Every field is an atomic read and written with relaxed
 * order (single writer each), so the admin endpoint, in the supervisor, may
 * read a shard a few requests behind, never a torn value.
 *
 * Counters survive a shard's restart: the slot stays, the new process adds to
 * it, so Prometheus sees counters that only grow.
 */
#ifndef TORUS_SCOREBOARD_H
#define TORUS_SCOREBOARD_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "runtime/metrics.h"
#include "runtime/request.h"

/* Room for "METHOD /path (script /abs/script.php)" of the request an executor runs. */
#define TORUS_SCOREBOARD_REQUEST_SIZE 256

/* The longest method kept for /status.json; a longer one shows cut. */
#define TORUS_SCOREBOARD_METHOD_MAX 32

/*
 * One executor of one shard.
 *
 * The request fields (request, method_len, path_len, started_ns) are written
 * by the executor as a sequence lock: request_seq is odd while it writes
 * them, so a reader in another process (the supervisor's /status.json) that
 * sees the same even value before and after its copy has a consistent one.
 */
/* Room for a worker's name in its executors' slots (the longest name=NAME plus a NUL). */
#define TORUS_SCOREBOARD_WORKER_NAME 32

struct torus_executor_slot {
    _Atomic bool ready; /* waiting for or serving requests (a worker script has booted) */
    _Atomic bool busy;  /* running a request */
    /* A classic executor next to worker executors (worker mode's other scripts): its
     * readiness does not make the shard ready, its workers' does. */
    _Atomic bool beside_workers;
    /* The name of the worker script it runs (--worker '... name=NAME'), NUL-terminated; empty for
     * a classic executor. Written before the executor starts, for /metrics' labels. */
    char worker_name[TORUS_SCOREBOARD_WORKER_NAME];
    _Atomic uint64_t events[TORUS_EXECUTOR_EVENTS];
    _Atomic uint32_t request_seq; /* odd while the fields below are being written */
    uint16_t method_len;          /* request[0, method_len) is the method */
    uint16_t path_len;            /* request[method_len + 1, + path_len) is the path */
    uint64_t started_ns;          /* CLOCK_MONOTONIC_COARSE when the executor took it */
    /* The request being run while busy, NUL-terminated: for the supervisor's crash line. */
    char request[TORUS_SCOREBOARD_REQUEST_SIZE];
};

/* What an executor runs now, as /status.json shows it (torus_executor_slot_current()). */
struct torus_executor_current {
    char method[TORUS_SCOREBOARD_METHOD_MAX + 1]; /* NUL-terminated */
    char path[TORUS_SCOREBOARD_REQUEST_SIZE];     /* NUL-terminated, cut at the first '?' */
    uint64_t started_ns;                          /* CLOCK_MONOTONIC_COARSE */
};

/* One shard: its process and its I/O thread's metrics. */
struct torus_shard_slot {
    struct torus_metrics metrics;
    _Atomic int pid;           /* the shard process, 0 while none runs */
    _Atomic bool loop_running; /* its I/O loop serves its listeners */
    _Atomic bool draining;     /* it stopped accepting */
    _Atomic uint64_t reloads;  /* SIGHUP reloads the shard has finished */
    _Atomic uint64_t restarts; /* times the supervisor started it again */
    _Atomic uint64_t crashes;  /* its processes that died by a signal or an unasked exit */
    _Atomic int cpu;           /* the CPU it is pinned to, -1 when not pinned (supervisor) */
};

/* What a dead shard process left behind; index 0 counts exits that were not signals. */
#define TORUS_SCOREBOARD_SIGNALS 65

struct torus_scoreboard {
    int shard_count;
    int executors_per_shard;
    size_t shard_stride; /* bytes from one shard slot to the next */
    _Atomic bool draining;
    _Atomic uint64_t crashes[TORUS_SCOREBOARD_SIGNALS]; /* shard processes lost, by signal */
};

/*
 * Maps a zeroed scoreboard for shard_count shards of executors_per_shard
 * executors each, shared with every process forked afterwards. NULL when
 * the mapping fails.
 */
struct torus_scoreboard *torus_scoreboard_create(int shard_count, int executors_per_shard);

/* Unmaps it (in the process that calls it). */
void torus_scoreboard_destroy(struct torus_scoreboard *board);

/* Shard `shard`'s slot. */
struct torus_shard_slot *torus_scoreboard_shard(struct torus_scoreboard *board, int shard);

/* Executor `index` of shard `shard`. */
struct torus_executor_slot *torus_scoreboard_executor(struct torus_scoreboard *board, int shard,
                                                      int index);

/*
 * Supervisor, once the shard's process is dead: its gauges (open and idle
 * connections, queue depth, busy and ready executors) go back to zero and it
 * shows as down; its counters stay.
 */
void torus_scoreboard_shard_down(struct torus_scoreboard *board, int shard);

/*
 * True when the shard's loop runs and one of its executors is ready (in
 * worker mode, one of its worker executors).
 */
bool torus_scoreboard_shard_ready(struct torus_scoreboard *board, int shard);

/* True when every shard is ready and the server does not drain. */
bool torus_scoreboard_ready(struct torus_scoreboard *board);

/*
 * Executor thread: records the request it starts running, for a crash
 * report. `worker` is the worker script (NULL in classic mode), named when
 * the request has no script of its own.
 */
void torus_executor_slot_begin(struct torus_executor_slot *slot,
                               const struct torus_request *request, const char *worker);

/* Supervisor: copies the executor's current request into out ("" when it was idle). */
void torus_executor_slot_request(const struct torus_executor_slot *slot, char *out, size_t size);

/*
 * Any process, while the executor may be writing: copies the method, the
 * path (cut at a '?', which a decoded path may hold) and the start of the
 * request the executor runs now into *out. False when it is not busy, or
 * when it moved on to other requests during every one of a few tries.
 */
bool torus_executor_slot_current(const struct torus_executor_slot *slot,
                                 struct torus_executor_current *out);

/* CLOCK_MONOTONIC_COARSE in nanoseconds: the clock of started_ns (cheap, a few ms coarse). */
uint64_t torus_scoreboard_clock_ns(void);

#endif
