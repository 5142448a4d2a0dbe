/*
 * Requests to the shard's PHP executors and their responses back, through
 * each executor's pair of single-producer/single-consumer rings
 * (runtime/executor.h). With one executor per shard, requests queue at it
 * (up to EXECUTOR_DEPTH) so it takes them in batches; with several, a
 * request goes only to an idle one and otherwise waits, parked, in the
 * shard's FIFO (CONN_PARKED). A parked connection is not parsed further:
 * nothing is dropped, nothing queues without bound.
 */
#include "net/conn.h"

#include <linux/futex.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

void dispatch_flow_release(struct torus_request *r)
{
    atomic_thread_fence(memory_order_seq_cst); /* what changed before the look at flow_wait */
    if (slow_path(atomic_load_explicit(&r->flow_wait, memory_order_relaxed)) &&
        atomic_exchange_explicit(&r->flow_wait, 0, memory_order_relaxed))
        syscall(SYS_futex, (uint32_t *)&r->flow_wait, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void dispatch_enqueue(struct torus_loop *loop, struct torus_exchange *x)
{
    x->next_parked = NULL;
    if (loop->parked_last)
        loop->parked_last->next_parked = x;
    else
        loop->parked_first = x;
    loop->parked_last = x;
    torus_metric_add(&loop->shard->metrics->parked, 1);
    torus_metric_add(&loop->shard->metrics->queue_depth, 1);
}

void dispatch_dequeue(struct torus_loop *loop, struct torus_exchange *x)
{
    struct torus_exchange **link = &loop->parked_first;
    struct torus_exchange *prev = NULL;
    while (*link && *link != x) {
        prev = *link;
        link = &(*link)->next_parked;
    }
    if (*link) {
        *link = x->next_parked;
        if (loop->parked_last == x)
            loop->parked_last = prev;
        torus_metric_sub(&loop->shard->metrics->queue_depth, 1);
    }
}

void dispatch_park(struct torus_loop *loop, struct torus_conn *c)
{
    conn_set_state(c, CONN_PARKED);
    dispatch_enqueue(loop, c->exchange);
}

void dispatch_unpark(struct torus_loop *loop, struct torus_conn *c)
{
    if (c->exchange)
        dispatch_dequeue(loop, c->exchange);
}

int dispatch_request(struct torus_loop *loop, struct torus_exchange *x)
{
    struct torus_shard *shard = loop->shard;
    int best = -1;
    /* An HTTP/2 stream can be reset at no cost to the client: only a few queue at an executor,
     * the rest wait in the FIFO, where a reset frees them before any PHP runs. */
    uint32_t best_load = x->http2 ? H2_EXECUTOR_DEPTH : EXECUTOR_DEPTH;
    for (int i = 0; i < shard->executor_count; i++) {
        struct torus_executor *e = &shard->executors[i];
        uint32_t load = e->inflight;
        if (load && shard->executor_count > 1) {
            if (loop->now_ms - e->progress_ms > EXECUTOR_STALL_MS)
                torus_executor_set_demoted(e, true);
            continue;
        }
        /* An executor restarting its worker (SIGHUP) counts as loaded while others can take it. */
        if (!atomic_load_explicit(&e->slot->ready, memory_order_relaxed))
            load += EXECUTOR_DEPTH / 2;
        if (load < best_load) {
            best = i;
            best_load = load;
            if (load == 0)
                break;
        }
    }
    if (best < 0)
        return TORUS_AGAIN;
    if (torus_executor_push(&shard->executors[best], &x->request) != TORUS_OK)
        return TORUS_AGAIN;
    if (shard->executors[best].inflight++ == 0)
        shard->executors[best].progress_ms = loop->now_ms;
    x->executor = best;
    return TORUS_OK;
}

static void dispatch_parked(struct torus_loop *loop)
{
    while (loop->parked_first) {
        struct torus_exchange *x = loop->parked_first;
        if (dispatch_request(loop, x) != TORUS_OK)
            return;
        loop->parked_first = x->next_parked;
        if (!loop->parked_first)
            loop->parked_last = NULL;
        if (!x->http2)
            conn_set_state(x->conn, CONN_EXECUTING); /* an HTTP/2 connection stays as it is */
        torus_metric_sub(&loop->shard->metrics->queue_depth, 1);
    }
}

void dispatch_exchange_free(struct torus_exchange *x)
{
    free((void *)x->request.body.data);
    if (x->request.body_in_file)
        close(x->request.body_fd);
    free(x);
}

/* The executor released x: it takes more work; x goes, and its connection if it closed meanwhile.
 */
static void dispatch_release(struct torus_loop *loop, struct torus_exchange *x)
{
    struct torus_conn *c = x->conn;
    loop->shard->executors[x->executor].inflight--;
    loop->shard->executors[x->executor].progress_ms = loop->now_ms;
    torus_executor_set_demoted(&loop->shard->executors[x->executor], false);
    c->held--;
    dispatch_exchange_free(x);
    if (conn_closed(c))
        conn_maybe_free(c);
}

void dispatch_on_response(struct torus_loop *loop, struct torus_response_part *part)
{
    struct torus_exchange *x = torus_container_of(part->request, struct torus_exchange, request);
    struct torus_conn *c = x->conn;
    if (x->http2) {
        h2_session_on_part(c, x, part);
        if (part->flags & TORUS_EMIT_RELEASE)
            dispatch_release(loop, x);
        return;
    }
    if (part->chunk || (part->flags & TORUS_EMIT_END)) {
        /* What the executor counted (runtime/request.h's flow control), before framing. */
        uint32_t len = part->chunk ? part->chunk->len - part->chunk->sent : 0;
        struct torus_chunk *chunk = part->chunk;
        if (slow_path(http1_response_frame(&x->h1, &chunk, part->flags) != TORUS_OK)) {
            /* No memory for the framing, or a broken head: this response cannot be completed. */
            torus_chunk_free(chunk);
            chunk = NULL;
            x->h1.keep_alive = false;
            if (!conn_closed(c))
                conn_finish_after_output(c);
        }
        if (chunk) {
            c->response_bytes += chunk->len - chunk->sent;
            if (conn_closed(c))
                torus_chunk_free(chunk);
            else
                out_append(c, chunk);
        }
        if (len && !(part->flags & TORUS_EMIT_END)) {
            /* A streamed part: the executor may wait for the client (runtime/request.h). */
            struct torus_request *r = &x->request;
            atomic_store_explicit(&r->taken,
                                  atomic_load_explicit(&r->taken, memory_order_relaxed) + len,
                                  memory_order_release);
            if (!conn_closed(c) && c->out_bytes > TORUS_OUTPUT_HIGH_MARK)
                atomic_store_explicit(&r->throttled, true, memory_order_release);
            dispatch_flow_release(r);
        }
    }
    if ((part->flags & TORUS_EMIT_END) && c->exchange == x) {
        /* The response is complete (c->exchange is NULL once the connection closed). */
        conn_observe(c, x->request.status, c->response_bytes);
        c->exchange = NULL;
        if ((part->flags & TORUS_EMIT_CLOSE) || !x->h1.keep_alive)
            c->keep_alive = false;
        if (c->keep_alive) {
            conn_set_state(c, CONN_READING_HEAD);
            if (c->reading_paused) {
                c->reading_paused = false;
                conn_arm_recv(c);
            }
        } else {
            conn_set_state(c, CONN_WRITING_LAST);
        }
    }
    if (part->flags & TORUS_EMIT_RELEASE) {
        dispatch_release(loop, x);
        if (conn_closed(c))
            return;
    }
    if (conn_closed(c))
        return;
    conn_flush(c);
    if (conn_reading(c) && (part->flags & TORUS_EMIT_END))
        session_parse(c);
}

void dispatch_take_responses(struct torus_loop *loop)
{
    struct torus_shard *shard = loop->shard;
    struct torus_response_part part;
    bool released = false;
    loop->busy = false;
    for (int i = 0; i < shard->executor_count; i++) {
        while (torus_executor_pop(&shard->executors[i], &part) == TORUS_OK) {
            loop->busy = true;
            released |= (part.flags & TORUS_EMIT_RELEASE) != 0;
            dispatch_on_response(loop, &part);
        }
    }
    if (released || loop->parked_first)
        dispatch_parked(loop);
}

bool dispatch_have_output(struct torus_loop *loop)
{
    struct torus_shard *shard = loop->shard;
    for (int i = 0; i < shard->executor_count; i++) {
        if (!torus_handoff_empty(&shard->executors[i].responses))
            return true;
    }
    return false;
}

bool dispatch_executors_idle(struct torus_loop *loop)
{
    struct torus_shard *shard = loop->shard;
    for (int i = 0; i < shard->executor_count; i++) {
        if (shard->executors[i].inflight)
            return false;
    }
    return true;
}
