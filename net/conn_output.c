/*
 * What goes to a client. A connection's output is a list of chunks (response
 * heads, PHP body parts, server-made responses), sent in order with at most
 * one send in flight; a partial send is resumed, and small chunks queued
 * behind each other are coalesced into one send. On a TLS connection a
 * chunk is encrypted into records as it is queued (out_append). A large
 * static file follows the queued chunks: one io_uring read of a bounded
 * buffer, then its send, then the next read, so a slow reader holds one
 * buffer. When everything is out, conn_output_drained() decides what comes
 * next from the connection's state (net/conn_state.c): the TLS close_notify
 * and the lingering close after the last response, the next pipelined
 * request after a file, or the idle timer.
 *
 * Pipelined answers are corked: when a response ends and the next request of
 * the pipeline is already at an executor, the answer waits in the queue
 * instead of going out in a send of its own, so a pipeline of quick requests
 * is answered in one send (not one per request: each costs the TCP stack of
 * both ends). The answers go out as soon as a response ends with no request
 * after it, a streamed part comes, COALESCE_LIMIT bytes wait, or an executor
 * stalls (EXECUTOR_STALL_MS on one request: the loop, which looks at least
 * every CORK_CHECK_MS while something is corked, sends every corked answer),
 * so a slow request delays the answers before it by a few milliseconds only.
 *
 * Output marks: more than TORUS_OUTPUT_HIGH_MARK bytes unsent stops the
 * producer (a streamed PHP response is throttled in dispatch_on_response(),
 * pipelined requests stop being parsed: CONN_OUTPUT_FULL); conn_on_send()
 * lets it go on below TORUS_OUTPUT_LOW_MARK.
 */
#include "net/conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/http_response.h"
#include "runtime/log.h"

void conn_observe(struct torus_conn *c, int status, uint64_t bytes)
{
    uint64_t duration = torus_monotonic_ns() - c->request_start_ns;
    torus_metrics_observe(c->loop->shard->metrics, status, duration);
    if (c->log_pending) {
        torus_access_log_end(&c->loop->access_log, c->log_pending, status, bytes, duration);
        c->log_pending = NULL;
    }
}

void out_append_raw(struct torus_conn *c, struct torus_chunk *chunk)
{
    c->out_bytes += chunk->len - chunk->sent;
    torus_chunk_append(&c->out_first, &c->out_last, chunk);
}

void out_append(struct torus_conn *c, struct torus_chunk *chunk)
{
    c->transport->send(c, chunk);
}

/* The connection's answers are no longer held: out of the loop's list of corked connections. */
static void uncork(struct torus_conn *c)
{
    if (fast_path(!c->corked))
        return;
    if (c->cork_prev)
        c->cork_prev->cork_next = c->cork_next;
    else
        c->loop->corked = c->cork_next;
    if (c->cork_next)
        c->cork_next->cork_prev = c->cork_prev;
    c->cork_prev = c->cork_next = NULL;
    c->corked = false;
}

void out_flush_or_cork(struct torus_conn *c)
{
    struct torus_loop *loop = c->loop;
    bool next_at_executor = c->state == CONN_EXECUTING || c->state == CONN_PARKED;
    if (!next_at_executor || !c->out_first || c->out_bytes >= COALESCE_LIMIT || loop->stalled) {
        conn_flush(c);
        return;
    }
    if (c->corked)
        return;
    c->corked = true;
    c->cork_prev = NULL;
    c->cork_next = loop->corked;
    if (loop->corked)
        loop->corked->cork_prev = c;
    loop->corked = c;
}

void out_uncork_all(struct torus_loop *loop)
{
    while (loop->corked) {
        struct torus_conn *c = loop->corked;
        uncork(c);
        conn_flush(c);
    }
}

void out_free_all(struct torus_conn *c)
{
    uncork(c);
    c->out_bytes = 0;
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

struct torus_chunk *out_chunk(const char *data, size_t len, size_t extra)
{
    struct torus_chunk *chunk = torus_chunk_new(len + extra);
    if (slow_path(!chunk))
        return NULL;
    memcpy(chunk->data, data, len);
    chunk->len = (uint32_t)len;
    return chunk;
}

void out_respond_simple(struct torus_conn *c, int status, const char *extra_headers, bool hold)
{
    char body[256];
    int body_len = (int)torus_http_error_page(body, sizeof(body), status);
    /* The extra headers may be long (a Location as long as --max-uri-size): sized to fit. */
    size_t extra_size = 32 + (extra_headers ? strlen(extra_headers) : 0);
    size_t head_size = extra_size + 512;
    char *extra = malloc(extra_size + head_size);
    if (slow_path(!extra)) {
        conn_close(c);
        return;
    }
    char *head = extra + extra_size;
    int extra_len = snprintf(extra, extra_size, "Content-Type: text/html\r\n%s",
                             extra_headers ? extra_headers : "");
    size_t head_len = torus_http_head(head, head_size, status, 1, c->keep_alive, extra,
                                      (size_t)extra_len, body_len);
    bool with_body = !c->head_request && status != 304 && status >= 200;
    struct torus_chunk *chunk =
        head_len ? out_chunk(head, head_len, with_body ? (size_t)body_len : 0) : NULL;
    free(extra);
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

void out_respond_error_and_close(struct torus_conn *c, int status)
{
    if (slow_path(!conn_reading(c) && c->state != CONN_SPOOLING_BODY))
        return; /* its last response is already decided (or it is closed) */
    if (!c->request_start_ns)
        c->request_start_ns = torus_monotonic_ns();
    c->keep_alive = false;
    c->head_request = false;
    conn_drop_request(c); /* the response it held, if any, is never sent */
    out_respond_simple(c, status, NULL, false);
    if (slow_path(conn_closed(c)))
        return;
    conn_observe(c, status, c->out_last ? c->out_last->len : 0);
    conn_set_state(c, CONN_WRITING_LAST); /* parse nothing more */
    conn_flush(c);
}

static void submit_send(struct torus_conn *c)
{
    uncork(c); /* what it held goes now */
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

/* Lingering close, as nginx does: shut our side, then wait for the client's FIN. */
static void conn_linger(struct torus_conn *c)
{
    conn_set_state(c, CONN_LINGERING);
    /* A direct call (it never blocks on a socket): an io_uring shutdown names the socket by its
     * number, which a later accept may already have reused when the op runs. */
    shutdown(c->fd, SHUT_WR);
    if (c->peer_closed) {
        conn_close(c);
        return;
    }
    if (!c->recv_armed)
        conn_arm_recv(c);
    conn_update_timer(c);
}

/* Called when a connection has nothing more to send for its current response(s). */
static void conn_output_drained(struct torus_conn *c)
{
    switch (c->state) {
    case CONN_WRITING_LAST:
        if (c->transport->can_close_notify(c)) {
            /* Say goodbye in TLS first; the lingering close follows once it is sent. */
            conn_set_state(c, CONN_TLS_CLOSING);
            c->transport->close_notify(c);
            if (c->out_first) {
                conn_flush(c);
                return;
            }
        }
        conn_linger(c);
        return;
    case CONN_TLS_CLOSING:
        conn_linger(c);
        return;
    case CONN_WRITING_FILE:
        /* A streamed file is done: go on with pipelined requests. */
        conn_set_state(c, CONN_READING_HEAD);
        session_parse(c);
        return;
    case CONN_READING_HEAD:
    case CONN_READING_BODY:
        if (c->peer_closed) {
            /* The last answer is out: close, or answer the next pipelined request. */
            session_parse(c);
            return;
        }
        break;
    default:
        break;
    }
    conn_update_timer(c);
}

void conn_flush(struct torus_conn *c)
{
    if (conn_closed(c) || c->send_inflight || c->read_inflight)
        return;
    if (c->out_first) {
        submit_send(c);
        conn_update_timer(c);
        return;
    }
    /* A file is streamed once its response is queued (before, it is held with the response). */
    if (c->file_fd >= 0 && (c->state == CONN_WRITING_FILE || c->state == CONN_WRITING_LAST)) {
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

void conn_on_send(struct torus_conn *c, int res)
{
    c->send_inflight = false;
    if (conn_closed(c))
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
    c->out_bytes -= (uint64_t)res;
    if (c->exchange && c->out_bytes < TORUS_OUTPUT_LOW_MARK &&
        slow_path(atomic_load_explicit(&c->exchange->request.throttled, memory_order_relaxed))) {
        /* The client caught up: PHP may go on producing. */
        atomic_store_explicit(&c->exchange->request.throttled, false, memory_order_release);
        dispatch_flow_release(&c->exchange->request);
    }
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
    if (slow_path(c->state == CONN_OUTPUT_FULL) && c->out_bytes < TORUS_OUTPUT_LOW_MARK) {
        /* The client caught up with its pipeline: parse and read again (after the bookkeeping
         * above: parsing queues and coalesces chunks). */
        conn_set_state(c, CONN_READING_HEAD);
        if (c->reading_paused) {
            c->reading_paused = false;
            conn_arm_recv(c);
        }
        session_parse(c);
        if (conn_closed(c))
            return;
    }
    if (c->h2) {
        h2_session_on_sent(c); /* executors may go on; the session queues more frames */
        if (conn_closed(c))
            return;
    }
    conn_flush(c);
}

void conn_on_file_read(struct torus_conn *c, int res)
{
    c->read_inflight = false;
    if (conn_closed(c))
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
