/*
 * A client connection's lifecycle: opened on accept, receiving through one
 * multishot recv into the shard's provided-buffer ring (so an idle
 * connection holds no receive buffer), timed by one timer at a time (the
 * queue its state calls for), closed through the ring, and freed once no
 * operation and no executor refers to it (net/conn_state.c describes the
 * states and that reference counting). TLS ciphertext is turned into
 * plaintext here, so the HTTP session only ever sees plaintext.
 */
#include "net/conn.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/http_response.h"
#include "runtime/log.h"

void conn_update_timer(struct torus_conn *c)
{
    struct torus_loop *loop = c->loop;
    struct torus_timer_queue *want;
    bool output = c->out_first || c->send_inflight || c->read_inflight;
    switch (c->state) {
    case CONN_READING_HEAD:
    case CONN_READING_BODY:
    case CONN_OUTPUT_FULL:
        if (c->h2)
            want = h2_session_timer(c);
        else if (output)
            want = &loop->send_timers;
        else if (torus_http_in_head(&c->parser) || c->transport->handshaking(c))
            want = &loop->header_timers; /* a TLS handshake counts as part of the first head */
        else if (torus_http_in_request(&c->parser))
            want = &loop->body_timers;
        else if (c->in_len)
            want = &loop->header_timers;
        else
            want = loop->draining ? &loop->drain_timers : &loop->idle_timers;
        break;
    case CONN_ROUTING:
    case CONN_SPOOLING_BODY:
    case CONN_PARKED:
    case CONN_EXECUTING:
        /* The file system, an executor or PHP is awaited (PHP has max_execution_time), not the
         * client. */
        want = output ? &loop->send_timers : NULL;
        break;
    case CONN_WRITING_FILE:
    case CONN_WRITING_LAST:
    case CONN_TLS_CLOSING:
        want = &loop->send_timers;
        break;
    case CONN_LINGERING:
        want = &loop->linger_timers;
        break;
    case CONN_CLOSED:
    default:
        want = NULL;
        break;
    }

    if (c->timer.queue == want)
        return; /* it keeps its deadline: the header timeout counts from the first byte */
    if (!want)
        torus_timer_disarm(&c->timer);
    else
        torus_timer_arm(&c->timer, want, loop->now_ms);
}

void conn_expire_timers(struct torus_loop *loop)
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
            if (c->h2 && conn_reading(c) && h2_session_on_timeout(c, queues[i]))
                continue; /* one stream's timeout, not the connection's */
            torus_log_debug("shard %d: connection %d timed out (%s)", loop->shard->id, c->fd,
                            names[i]);
            conn_close(c);
        }
    }
}

uint64_t conn_next_deadline(struct torus_loop *loop)
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

void conn_arm_recv(struct torus_conn *c)
{
    if (c->recv_armed || conn_closed(c))
        return;
    struct io_uring_sqe *sqe = get_sqe(c->loop);
    io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = RECV_GROUP;
    io_uring_sqe_set_data64(sqe, user_data(c, TAG_RECV));
    c->recv_armed = true;
    c->ops++;
}

void conn_maybe_free(struct torus_conn *c)
{
    if (!conn_closed(c) || c->ops || c->held)
        return;
    struct torus_loop *loop = c->loop;
    torus_http_release(&c->parser);
    free(c->in);
    free(c->addresses);
    transport_proxy_free(c);
    h2_session_free(c);
    transport_free(c);
    torus_chunk_free(c->file_chunk);
    torus_pool_put(&loop->conn_pool, c);
    if (loop->accept_paused && loop->open_conns < loop->max_conns && !loop->draining) {
        loop->accept_paused = false;
        for (int i = 0; i < loop->listener_count; i++)
            listener_arm(&loop->listeners[i]);
    }
}

void conn_close(struct torus_conn *c)
{
    if (conn_closed(c))
        return;
    struct torus_loop *loop = c->loop;
    bool parked = c->state == CONN_PARKED;
    conn_set_state(c, CONN_CLOSED);
    spool_release(c);
    if (c->log_pending) {
        /* nginx's 499: the client went away before its response was complete. */
        conn_observe(c, 499, c->response_bytes);
    }
    torus_timer_disarm(&c->timer);
    if (parked)
        dispatch_unpark(loop, c);
    if (c->h2)
        h2_session_close(c);
    if (c->exchange) {
        atomic_store_explicit(&c->exchange->request.aborted, true, memory_order_release);
        dispatch_flow_release(&c->exchange->request); /* an executor waiting for it stops */
        if (c->exchange->executor < 0) {
            /* Never reached an executor: nobody else holds it. */
            dispatch_exchange_free(c->exchange);
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

/* What a receive completion means for the connection; it may close it, never frees it. */
static void on_recv_result(struct torus_conn *c, int res)
{
    if (res == 0) {
        /* The client closed its side (a half-close): every request it sent before is still
         * answered, in order; session_parse() closes once nothing more can be answered. */
        c->peer_closed = true;
        if (c->state == CONN_LINGERING)
            conn_close(c);
        else if (conn_reading(c))
            session_parse(c);
        return;
    }
    if (res < 0 && res != -ENOBUFS && res != -ECANCELED)
        conn_close(c);
}

void conn_on_peer_fin(struct torus_conn *c)
{
    on_recv_result(c, 0);
}

void conn_on_recv(struct torus_conn *c, struct io_uring_cqe *cqe)
{
    struct torus_loop *loop = c->loop;
    int res = cqe->res;
    bool more = (cqe->flags & IORING_CQE_F_MORE) != 0;
    if (!more)
        c->recv_armed = false;
    if (cqe->flags & IORING_CQE_F_BUFFER) {
        unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        char *buf = loop->buf_base + (size_t)bid * RECV_BUFFER_SIZE;
        if (res > 0 && !conn_closed(c))
            c->transport->received(c, buf, (size_t)res);
        io_uring_buf_ring_add(loop->buf_ring, buf, RECV_BUFFER_SIZE, (unsigned short)bid,
                              io_uring_buf_ring_mask(RECV_BUFFER_COUNT), loop->buf_returned++);
    }
    if (!conn_closed(c) && res <= 0)
        on_recv_result(c, res);
    /* The operation's reference is dropped last, so nothing above can free the connection. */
    if (!more)
        c->ops--;
    if (conn_closed(c))
        conn_maybe_free(c);
    else if (!more && !c->recv_armed && !c->peer_closed && !c->reading_paused)
        conn_arm_recv(c);
}

void conn_open(struct torus_loop *loop, struct torus_listener *l, int fd)
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
    c->spool_fd = -1;
    c->listener = (uint8_t)l->index;
    c->state = CONN_READING_HEAD; /* the first state (from the pool, zeroed) */
    if (transport_open(c, l->tls) != TORUS_OK ||
        (loop->config->proxy_protocol && transport_proxy_open(c) != TORUS_OK)) {
        transport_free(c);
        close(fd);
        torus_pool_put(&loop->conn_pool, c);
        return;
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
