/*
 * Requests to the shard's PHP executors and their responses back, through
 * each executor's pair of single-producer/single-consumer rings
 * (runtime/executor.h). Requests queue at one executor (up to
 * EXECUTOR_DEPTH) so it takes them in batches; with several per shard, only
 * while every request is quick (dispatch_request() says when), and otherwise
 * a request goes only to an idle executor. A request no executor takes waits,
 * parked, in the shard's FIFO (CONN_PARKED). A parked connection is not
 * parsed further: nothing is dropped, nothing queues without bound.
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

/* True while the executor has been on one request for TORUS_EXECUTOR_SLOW_NS or more. */
static bool executor_stalled(struct torus_executor *e, uint64_t now)
{
    uint64_t since = atomic_load_explicit(&e->running_since_ns, memory_order_relaxed);
    return since && since < now && now - since >= TORUS_EXECUTOR_SLOW_NS;
}

/* Whether executor e takes the requests of pool (net/route_worker.h). */
static bool in_pool(const struct torus_executor *e, int pool)
{
    return e->pool == pool;
}

/*
 * With several executors in the pool, whether requests may queue at its warm
 * one (see dispatch_request): none of them is on a slow request now, and none
 * finished one in the last QUICK_COOLDOWN_NS.
 */
static bool executors_quick(struct torus_shard *shard, int pool, uint64_t now)
{
    for (int i = 0; i < shard->executor_count; i++) {
        struct torus_executor *e = &shard->executors[i];
        if (!in_pool(e, pool))
            continue;
        uint64_t slow = atomic_load_explicit(&e->slow_seen_ns, memory_order_relaxed);
        if ((slow && slow < now && now - slow < QUICK_COOLDOWN_NS) || executor_stalled(e, now))
            return false;
    }
    return true;
}

static bool executor_ready(const struct torus_executor *e)
{
    return atomic_load_explicit(&e->slot->ready, memory_order_relaxed);
}

/*
 * Which executor takes a request: one of its pool's (a worker's executors,
 * or the classic ones; net/route_worker.h). One executor in the pool:
 * requests queue at it. Several: the warm executor (the one that took the
 * pool's last request) takes the requests of one batch, those handed over
 * before it is woken (needs_wake), so a busy core switches threads once per
 * batch, not per request, and the others sleep. A request that comes once
 * the warm executor is woken and still busy goes to an idle executor, which
 * takes the next batch: it never queues behind a request that may turn out
 * slow. And as soon as a request runs slow (TORUS_EXECUTOR_SLOW_NS), and for
 * QUICK_COOLDOWN_NS after the last slow one, each request goes only to an
 * idle executor: no request waits behind a long one, which is what several
 * executors are for. HTTP/2 streams never queue behind a busy executor while
 * another is idle: the streams of one connection (a page's requests, sent
 * together) run side by side.
 */
int dispatch_request(struct torus_loop *loop, struct torus_exchange *x)
{
    struct torus_shard *shard = loop->shard;
    int pool = x->pool;
    int pool_size = 0, first = -1;
    for (int i = 0; i < shard->executor_count; i++) {
        if (in_pool(&shard->executors[i], pool)) {
            if (first < 0)
                first = i;
            pool_size++;
        }
    }
    int *warm_index = &loop->warm_executor[(unsigned)pool % TORUS_ARRAY_SIZE(loop->warm_executor)];
    if (*warm_index >= shard->executor_count || !in_pool(&shard->executors[*warm_index], pool))
        *warm_index = first;
    int best = -1;
    uint32_t best_load = EXECUTOR_DEPTH;
    /* An HTTP/2 stream can be reset at no cost to the client: only a few queue at an executor,
     * the rest wait in the FIFO, where a reset frees them before any PHP runs. */
    uint32_t depth = x->http2 ? H2_EXECUTOR_DEPTH : EXECUTOR_DEPTH;
    if (pool_size > 1) {
        uint64_t now = torus_monotonic_ns();
        struct torus_executor *warm = &shard->executors[*warm_index];
        bool quick = executors_quick(shard, pool, now);
        if (executor_ready(warm) && warm->inflight < depth &&
            (warm->inflight == 0 || (warm->needs_wake && quick && !x->http2))) {
            best = *warm_index;
        } else {
            for (int i = 0; i < shard->executor_count; i++) {
                struct torus_executor *e = &shard->executors[i];
                if (!in_pool(e, pool))
                    continue; /* another worker's executor, or a classic one */
                if (e->inflight) {
                    if (executor_stalled(e, now))
                        torus_executor_set_demoted(e, true);
                    continue;
                }
                /* An executor restarting its worker (SIGHUP) is taken only when no other is. */
                uint32_t load = executor_ready(e) ? 0 : EXECUTOR_DEPTH / 2;
                if (load < best_load) {
                    best = i;
                    best_load = load;
                    if (load == 0)
                        break;
                }
            }
        }
    } else if (pool_size == 1) {
        /* An executor restarting its worker (SIGHUP) takes half as many. */
        struct torus_executor *e = &shard->executors[first];
        if (e->inflight + (executor_ready(e) ? 0 : depth / 2) < depth)
            best = first;
    }
    if (best < 0)
        return TORUS_AGAIN;
    if (torus_executor_push(&shard->executors[best], &x->request) != TORUS_OK)
        return TORUS_AGAIN;
    if (shard->executors[best].inflight++ == 0)
        shard->executors[best].progress_ms = loop->now_ms;
    *warm_index = best;
    x->executor = best;
    return TORUS_OK;
}

/*
 * Hands parked requests to executors, oldest first. Each pool of executors
 * (a worker's, the classic ones) has its own order: a request whose pool is
 * full stays parked, and so do the later ones of that pool (a pool that
 * failed once is not asked again in this pass), while other pools' go.
 */
static void dispatch_parked(struct torus_loop *loop)
{
    uint64_t full = 0; /* bit pool: that pool took nothing more */
    struct torus_exchange **link = &loop->parked_first;
    struct torus_exchange *prev = NULL;
    while (*link) {
        struct torus_exchange *x = *link;
        uint64_t bit = 1ull << ((unsigned)x->pool & 63);
        if ((full & bit) || dispatch_request(loop, x) != TORUS_OK) {
            full |= bit;
            prev = x;
            link = &x->next_parked;
            continue;
        }
        *link = x->next_parked;
        if (loop->parked_last == x)
            loop->parked_last = prev;
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
        if (slow_path(x->sendfile ||
                      ((part->flags & TORUS_EMIT_HEAD) && sendfile_begin(loop, x, chunk)))) {
            torus_chunk_free(chunk); /* X-Sendfile: the script's response is replaced */
            chunk = NULL;
        } else if (slow_path(http1_response_frame(&x->h1, &chunk, part->flags) != TORUS_OK)) {
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
    if (slow_path(x->sendfile) && (part->flags & (TORUS_EMIT_END | TORUS_EMIT_RELEASE))) {
        sendfile_end(x, part->flags); /* its answer goes out now or once the file is open */
    } else if ((part->flags & TORUS_EMIT_END) && c->exchange == x) {
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
        bool closed = conn_closed(c); /* before the release, which may free c */
        dispatch_release(loop, x);
        if (closed)
            return;
    }
    if (conn_closed(c))
        return;
    if (conn_reading(c) && (part->flags & TORUS_EMIT_END)) {
        /* The next request of a pipeline first: if it goes to an executor, this answer may wait to
         * go out with its own. */
        session_parse(c);
        if (conn_closed(c))
            return;
        out_flush_or_cork(c);
        return;
    }
    conn_flush(c);
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
