/*
 * Request bodies larger than --body-buffer-size go to a temporary file, so
 * an upload costs the server a bounded amount of memory, not its size.
 *
 * The parser buffers a PHP request's body (net/http.c). Once the buffer
 * holds body_buffer_size bytes, the session takes it (spool_take) and hands
 * it to io_uring as one write to an unlinked temporary file, at the offset
 * where it belongs; the next bytes start a new buffer. Writes may complete
 * in any order: each carries its own buffer and frees it. While more than
 * SPOOL_INFLIGHT_MAX bytes are being written (a slow disk), the connection
 * stops reading, so memory stays bounded there too. When the whole body has
 * arrived, its last bytes are written the same way, and the request goes to
 * PHP only once every write has completed (spool_finish; meanwhile the
 * connection is CONN_SPOOLING_BODY): PHP then reads the body from the file
 * (request->body_fd), pread() on the executor's thread. A write that fails
 * answers 500 and closes (CONN_WRITING_LAST); a body that stops coming is
 * cut by the body timer like any other.
 *
 * The file descriptor belongs to the connection until the request is
 * dispatched, then to the request. A connection that closes while writes
 * are in flight keeps the descriptor open until the last one completes, so
 * a write never lands in a file that reused its number.
 *
 * The files are made ahead: the shard's file-system workers keep
 * SPOOL_SPARES unlinked files ready (one openat(O_TMPFILE) each, off the I/O
 * thread), and a large body takes one and asks for the next. Only a burst
 * of large bodies that outruns them makes the I/O thread open one itself.
 */
#include "net/conn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/log.h"

/* Bytes of one connection being written at once before it stops reading. */
#define SPOOL_INFLIGHT_MAX (1u << 20)

/* One write in flight: what io_uring's completion points back to. */
struct spool_write {
    struct torus_conn *conn;
    char *data;
    size_t len;
};

/* An unlinked file in $TMPDIR (or /tmp); -1 with errno set. */
int spool_open(void)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !dir[0])
        dir = "/tmp";
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
        return fd;
    /* A file system without O_TMPFILE: create, then unlink at once. */
    char path[4096];
    snprintf(path, sizeof(path), "%s/torus-body-XXXXXX", dir);
    fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0)
        unlink(path);
    return fd;
}

/* A spare file being made by a file-system worker. */
struct spare_job {
    struct torus_fs_job base;
    int fd;
    int error;
};

static void spare_run(struct torus_fs_job *base)
{
    struct spare_job *job = (struct spare_job *)base;
    job->fd = spool_open();
    job->error = job->fd < 0 ? errno : 0;
}

static void spare_complete(struct torus_fs_job *base, void *ctx)
{
    struct spare_job *job = (struct spare_job *)base;
    struct torus_loop *loop = ctx;
    loop->spool_refilling = false;
    int fd = job->fd;
    int error = job->error;
    free(job);
    if (fd < 0) {
        /* Not retried now (a full or read-only $TMPDIR): the next large body tries again. */
        torus_log_warn("shard %d: cannot make a temporary file for request bodies: %s",
                       loop->shard->id, strerror(error));
        return;
    }
    if (loop->spool_spare_count >= SPOOL_SPARES) {
        close(fd);
        return;
    }
    loop->spool_spares[loop->spool_spare_count++] = fd;
    spool_spares_refill(loop);
}

void spool_spares_refill(struct torus_loop *loop)
{
    if (loop->spool_refilling || loop->spool_spare_count >= SPOOL_SPARES)
        return;
    struct spare_job *job = calloc(1, sizeof(*job));
    if (slow_path(!job))
        return;
    job->base.run = spare_run;
    job->base.complete = spare_complete;
    job->fd = -1;
    if (torus_fs_pool_submit(&loop->fs, &job->base) != TORUS_OK) {
        free(job);
        return;
    }
    loop->spool_refilling = true;
}

void spool_spares_close(struct torus_loop *loop)
{
    while (loop->spool_spare_count > 0)
        close(loop->spool_spares[--loop->spool_spare_count]);
}

/* A temporary file for a large body: a spare one, else (a burst) one opened here. */
static int spool_file(struct torus_loop *loop)
{
    int fd;
    if (fast_path(loop->spool_spare_count > 0))
        fd = loop->spool_spares[--loop->spool_spare_count];
    else
        fd = spool_open();
    spool_spares_refill(loop);
    return fd;
}

/* The request cannot get its body: 500, and the connection closes. */
static void spool_fail(struct torus_conn *c, const char *what, int error)
{
    torus_log_error("shard %d: cannot keep a request body in a temporary file (%s): %s",
                    c->loop->shard->id, what, strerror(error));
    out_respond_error_and_close(c, 500);
}

static void spool_close_if_idle(struct torus_conn *c)
{
    if (c->spool_fd >= 0 && c->spool_inflight == 0) {
        close(c->spool_fd);
        c->spool_fd = -1;
    }
}

/* Hands what the parser has buffered to a write. TORUS_OK or TORUS_ERROR (answered). */
static int spool_write(struct torus_conn *c)
{
    size_t len;
    char *data = torus_http_take_body(&c->parser, &len);
    if (!len) {
        free(data);
        return TORUS_OK;
    }
    if (c->spool_fd < 0) {
        c->spool_fd = spool_file(c->loop);
        if (c->spool_fd < 0) {
            int error = errno;
            free(data);
            spool_fail(c, "open", error);
            return TORUS_ERROR;
        }
        c->spool_size = 0;
    }
    struct spool_write *w = malloc(sizeof(*w));
    if (slow_path(!w)) {
        free(data);
        spool_fail(c, "write", ENOMEM);
        return TORUS_ERROR;
    }
    w->conn = c;
    w->data = data;
    w->len = len;
    struct io_uring_sqe *sqe = get_sqe(c->loop);
    io_uring_prep_write(sqe, c->spool_fd, data, (unsigned)len, c->spool_size);
    io_uring_sqe_set_data64(sqe, user_data(w, TAG_SPOOL));
    c->spool_size += len;
    c->spool_inflight++;
    c->spool_inflight_bytes += len;
    c->ops++;
    if (c->spool_inflight_bytes > SPOOL_INFLIGHT_MAX && c->recv_armed && !c->reading_paused) {
        /* The disk is behind: stop reading until it catches up. */
        c->reading_paused = true;
        struct io_uring_sqe *cancel = get_sqe(c->loop);
        io_uring_prep_cancel64(cancel, user_data(c, TAG_RECV), 0);
        io_uring_sqe_set_data64(cancel, user_data(NULL, TAG_IGNORE));
    }
    return TORUS_OK;
}

int spool_take(struct torus_conn *c)
{
    if (c->parser.body_len < c->loop->config->body_buffer_size)
        return TORUS_OK;
    return spool_write(c);
}

int spool_finish(struct torus_conn *c)
{
    if (c->spool_fd < 0)
        return TORUS_OK; /* small: the body stays in memory */
    if (spool_write(c) != TORUS_OK)
        return TORUS_ERROR;
    struct torus_request *r = &c->exchange->request;
    r->body = (torus_str){NULL, c->spool_size};
    if (c->spool_inflight) {
        conn_set_state(c, CONN_SPOOLING_BODY); /* spool_on_write() dispatches it */
        return TORUS_AGAIN;
    }
    r->body_in_file = true;
    r->body_fd = c->spool_fd;
    c->spool_fd = -1;
    return TORUS_OK;
}

void spool_on_write(struct spool_write *w, int res)
{
    struct torus_conn *c = w->conn;
    c->spool_inflight--;
    c->spool_inflight_bytes -= w->len;
    c->ops--;
    bool failed = res < 0 || (size_t)res != w->len;
    int error = res < 0 ? -res : ENOSPC;
    free(w->data);
    free(w);
    if (conn_closed(c)) {
        spool_close_if_idle(c);
        conn_maybe_free(c);
        return;
    }
    if (slow_path(failed)) {
        /* The first failure answers 500; the writes that fail after it say nothing new. */
        if (conn_reading(c) || c->state == CONN_SPOOLING_BODY)
            spool_fail(c, "write", error);
        return;
    }
    if (c->reading_paused && conn_reading(c) && c->spool_inflight_bytes <= SPOOL_INFLIGHT_MAX / 2) {
        c->reading_paused = false;
        conn_arm_recv(c);
    }
    if (c->state == CONN_SPOOLING_BODY && c->spool_inflight == 0) {
        c->exchange->request.body_in_file = true;
        c->exchange->request.body_fd = c->spool_fd;
        c->spool_fd = -1;
        session_dispatch(c);
    }
}

void spool_release(struct torus_conn *c)
{
    spool_close_if_idle(c);
}
