/*
 * The access log (--access-log FILE|-, --access-log-format combined|json).
 *
 * Each shard formats its lines into a buffer of its own; the I/O loop hands
 * a full buffer (or, once a second, whatever it holds) to io_uring as one
 * write, so the loop never blocks on the log file. A line is built in two
 * steps because its fields are known at two moments: what the request said
 * (client, time, request line, Referer, User-Agent) when its head is parsed,
 * and the status and size when its response ends.
 *
 * Every process of the server appends to the same file. On a regular file
 * opened O_APPEND each write lands whole; on a pipe (--access-log - under
 * systemd or a container) only writes of up to PIPE_BUF bytes do, so there a
 * batch goes out in slices of whole lines of at most PIPE_BUF bytes, and a
 * short write is resumed where it stopped.
 */
#ifndef TORUS_ACCESS_LOG_H
#define TORUS_ACCESS_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/common.h"

/* A line waiting for its response to end: the text before and after "status bytes". */
struct torus_access_pending;

struct torus_access_log {
    int fd;
    bool json;
    char *buffer; /* lines being collected */
    size_t len, cap;
    char *writing; /* the batch being written, in slices */
    size_t writing_len;
    size_t writing_cap;
    size_t written;    /* bytes of the batch already written */
    size_t slice_max;  /* the most one write may carry: PIPE_BUF on a pipe */
    bool in_flight;    /* a slice was handed out and its write has not completed */
    uint64_t taken_ms; /* when the last batch was taken */
};

/* Lines are collected until this much waits, or for at most a second. */
#define TORUS_ACCESS_LOG_BATCH (32 * 1024)

/*
 * Opens the log file `path` for appending ("-" is stdout). Returns the
 * descriptor, or -1 with errno set.
 */
int torus_access_log_open(const char *path);

/*
 * SIGUSR1 (logrotate): opens `path` again and puts it under descriptor fd,
 * so whoever writes to fd writes to the new file from now on. Each process
 * calls it for its own descriptor. TORUS_OK, or TORUS_ERROR with errno set.
 */
int torus_access_log_reopen(const char *path, int fd);

/* Prepares a shard's log writing to fd (shared by the shards, opened O_APPEND). */
int torus_access_log_init(struct torus_access_log *log, int fd, bool json);

/* Frees the buffers (after torus_access_log_flush_sync()). */
void torus_access_log_release(struct torus_access_log *log);

/*
 * At the head of a request: formats what the request said; version is the
 * protocol's version times ten (10, 11, 20 for HTTP/2.0). Returns NULL when
 * out of memory (the line is then lost, not the request).
 */
struct torus_access_pending *torus_access_log_begin(const struct torus_access_log *log,
                                                    const char *remote_addr, const char *method,
                                                    torus_str target, uint8_t version,
                                                    const torus_str *referer,
                                                    const torus_str *user_agent);

/* At the end of the response: appends the finished line and frees pending. */
void torus_access_log_end(struct torus_access_log *log, struct torus_access_pending *pending,
                          int status, uint64_t bytes, uint64_t duration_ns);

/* Frees a pending line whose response never ended (the connection went away). */
void torus_access_log_drop(struct torus_access_pending *pending);

/*
 * The next write to make (now_ms: the monotonic clock in milliseconds): the
 * rest of the batch being written, or, when TORUS_ACCESS_LOG_BATCH bytes
 * wait or the oldest has waited a second, a new batch. Returns the bytes to
 * write at *data, or 0 when nothing is due or a write is in flight.
 */
size_t torus_access_log_take(struct torus_access_log *log, uint64_t now_ms, const char **data);

/* The write of what torus_access_log_take() returned has completed (res: its result). */
void torus_access_log_written(struct torus_access_log *log, int res);

/* True when a write is in flight. */
static inline bool torus_access_log_busy(const struct torus_access_log *log)
{
    return log->in_flight;
}

/* At exit: writes everything still buffered with plain write() calls. */
void torus_access_log_flush_sync(struct torus_access_log *log);

#endif
