/*
 * Accepting connections: one multishot accept per listener of the shard. At
 * the shard's share of --max-connections accepting stops, and resumes when a
 * connection closes; out of descriptors a listener pauses, for longer while
 * it keeps failing, instead of spinning. The kernel's backlog holds the
 * clients meanwhile.
 */
#include "net/conn.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "runtime/log.h"

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

void listener_retry_all(struct torus_loop *loop)
{
    for (int i = 0; i < loop->listener_count; i++) {
        struct torus_listener *l = &loop->listeners[i];
        if (slow_path(l->backoff_ms) && !l->armed && loop->now_ms >= l->retry_at_ms &&
            !loop->draining && !loop->accept_paused)
            listener_arm(l);
    }
}

void listener_on_accept(struct torus_listener *l, struct io_uring_cqe *cqe)
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

void listener_arm(struct torus_listener *l)
{
    if (l->armed || l->fd < 0)
        return;
    struct io_uring_sqe *sqe = get_sqe(l->loop);
    io_uring_prep_multishot_accept(sqe, l->fd, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, user_data(l, TAG_ACCEPT));
    l->armed = true;
}
