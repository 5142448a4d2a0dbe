/*
 * /status.json: the scoreboard as one JSON document (docs/STATUS.md names
 * and explains every field), answered by the supervisor as /metrics is.
 *
 * It shows what /metrics shows, per shard instead of summed, plus the
 * method and path (never the query) of the request each busy executor runs.
 *
 * Requests per second: the supervisor's tick calls
 * torus_status_rates_sample() every 50 ms; once a second it keeps the
 * responses each shard has sent so far, and the one sample before. A shard's
 * rate is the difference of those two samples over the time between them:
 * the rate of the last whole second, whoever asks and however often, and the
 * same answer to every client in between (a page and `torus status` polling
 * at once do not disturb each other). Counters survive a shard's restart,
 * so the difference is never negative.
 */
#include "net/admin_status.h"

#include <stdlib.h>
#include <string.h>

#include "net/json_writer.h"
#include "runtime/executor.h"
#include "runtime/scoreboard.h"

/* Responses shard `shard` has sent, every status class. */
static uint64_t responses_sent(struct torus_scoreboard *board, int shard)
{
    const struct torus_metrics *m = &torus_scoreboard_shard(board, shard)->metrics;
    uint64_t total = 0;
    for (size_t c = 0; c < TORUS_ARRAY_SIZE(m->responses); c++)
        total += torus_metric_get(&m->responses[c]);
    return total;
}

void torus_status_rates_init(struct torus_status_rates *rates, int shard_count)
{
    memset(rates, 0, sizeof(*rates));
    if (shard_count <= 0)
        return;
    rates->last = calloc((size_t)shard_count, sizeof(uint64_t));
    rates->before = calloc((size_t)shard_count, sizeof(uint64_t));
    if (!rates->last || !rates->before) {
        torus_status_rates_free(rates);
        return;
    }
    rates->shard_count = shard_count;
}

void torus_status_rates_free(struct torus_status_rates *rates)
{
    free(rates->last);
    free(rates->before);
    memset(rates, 0, sizeof(*rates));
}

void torus_status_rates_sample(struct torus_status_rates *rates, struct torus_scoreboard *board,
                               uint64_t now_ms)
{
    if (rates->shard_count == 0 || !board)
        return;
    if (rates->last_ms && now_ms < rates->last_ms + TORUS_STATUS_SAMPLE_MS)
        return;
    uint64_t *older = rates->before;
    rates->before = rates->last;
    rates->before_ms = rates->last_ms;
    rates->last = older;
    int count = TORUS_MIN(rates->shard_count, board->shard_count);
    for (int i = 0; i < count; i++)
        rates->last[i] = responses_sent(board, i);
    rates->last_ms = now_ms ? now_ms : 1; /* 0 means "no sample" */
}

double torus_status_rate(const struct torus_status_rates *rates, int shard)
{
    if (!rates || shard < 0 || shard >= rates->shard_count || !rates->before_ms ||
        rates->last_ms <= rates->before_ms)
        return 0;
    uint64_t done = rates->last[shard] - rates->before[shard];
    if (rates->last[shard] < rates->before[shard])
        done = 0;
    return (double)done * 1000.0 / (double)(rates->last_ms - rates->before_ms);
}

static void write_executor(struct torus_json_writer *w, struct torus_executor_slot *slot, int index,
                           uint64_t now_ns)
{
    torus_json_object_begin(w);
    torus_json_key_int(w, "executor", index);
    struct torus_executor_current current;
    bool busy = atomic_load_explicit(&slot->busy, memory_order_acquire);
    bool known = busy && torus_executor_slot_current(slot, &current);
    const char *state = busy                                                       ? "busy"
                        : atomic_load_explicit(&slot->ready, memory_order_relaxed) ? "idle"
                                                                                   : "starting";
    torus_json_key_cstring(w, "state", state);
    if (known) {
        torus_json_key_cstring(w, "method", current.method);
        torus_json_key_cstring(w, "path", current.path);
        uint64_t ran = now_ns > current.started_ns ? now_ns - current.started_ns : 0;
        torus_json_key_double(w, "running_seconds", (double)ran / 1e9, 3);
    } else {
        torus_json_key(w, "method");
        torus_json_null(w);
        torus_json_key(w, "path");
        torus_json_null(w);
        torus_json_key(w, "running_seconds");
        torus_json_null(w);
    }
    torus_json_object_end(w);
}

static void write_shard(struct torus_json_writer *w, struct torus_scoreboard *board, int i,
                        const struct torus_status_rates *rates, uint64_t now_ns)
{
    struct torus_shard_slot *slot = torus_scoreboard_shard(board, i);
    const struct torus_metrics *m = &slot->metrics;
    torus_json_object_begin(w);
    torus_json_key_int(w, "shard", i);
    torus_json_key_int(w, "pid", atomic_load(&slot->pid));
    int cpu = atomic_load(&slot->cpu);
    torus_json_key(w, "cpu");
    if (cpu >= 0)
        torus_json_int(w, cpu);
    else
        torus_json_null(w);
    torus_json_key_bool(w, "up", torus_scoreboard_shard_ready(board, i));
    torus_json_key_uint(w, "restarts", atomic_load(&slot->restarts));
    torus_json_key_uint(w, "crashes", atomic_load(&slot->crashes));

    uint64_t worker_restarts = 0, worker_crashes = 0;
    for (int e = 0; e < board->executors_per_shard; e++) {
        struct torus_executor_slot *x = torus_scoreboard_executor(board, i, e);
        for (int r = 0; r < TORUS_EXECUTOR_EVENTS; r++) {
            uint64_t n = atomic_load_explicit(&x->events[r], memory_order_relaxed);
            if (torus_executor_event_is_crash(r))
                worker_crashes += n;
            else
                worker_restarts += n;
        }
    }
    torus_json_key_uint(w, "worker_restarts", worker_restarts);
    torus_json_key_uint(w, "worker_crashes", worker_crashes);
    torus_json_key_uint(w, "connections_open", torus_metric_get(&m->connections_open));
    torus_json_key_uint(w, "connections_idle", torus_metric_get(&m->connections_idle));
    torus_json_key_uint(w, "queue_depth", torus_metric_get(&m->queue_depth));
    torus_json_key_uint(w, "requests_total", responses_sent(board, i));
    torus_json_key_double(w, "requests_per_second", torus_status_rate(rates, i), 1);

    torus_json_key(w, "latency_buckets");
    torus_json_array_begin(w);
    uint64_t cumulative = 0;
    for (int b = 0; b <= TORUS_LATENCY_BUCKETS; b++) {
        cumulative += torus_metric_get(&m->latency[b]);
        torus_json_uint(w, cumulative);
    }
    torus_json_array_end(w);
    torus_json_key_uint(w, "latency_count", torus_metric_get(&m->latency_count));
    torus_json_key_double(w, "latency_sum_seconds",
                          (double)torus_metric_get(&m->latency_sum_us) / 1e6, 6);

    torus_json_key(w, "executors");
    torus_json_array_begin(w);
    for (int e = 0; e < board->executors_per_shard; e++)
        write_executor(w, torus_scoreboard_executor(board, i, e), e, now_ns);
    torus_json_array_end(w);
    torus_json_object_end(w);
}

void torus_status_json(struct torus_json_writer *w, struct torus_scoreboard *board,
                       const struct torus_status_rates *rates, uint64_t uptime_ms)
{
    uint64_t now_ns = torus_scoreboard_clock_ns();
    torus_json_object_begin(w);
    torus_json_key_cstring(w, "version", TORUS_VERSION);
    torus_json_key_double(w, "uptime_seconds", (double)uptime_ms / 1000.0, 3);
    torus_json_key_bool(w, "ready", torus_scoreboard_ready(board));
    torus_json_key_bool(w, "draining", atomic_load(&board->draining));
    torus_json_key_int(w, "executors_per_shard", board->executors_per_shard);
    torus_json_key(w, "rate_interval_seconds");
    if (rates && rates->before_ms && rates->last_ms > rates->before_ms)
        torus_json_double(w, (double)(rates->last_ms - rates->before_ms) / 1000.0, 3);
    else
        torus_json_null(w);
    torus_json_key(w, "latency_bounds_seconds");
    torus_json_array_begin(w);
    for (int b = 0; b < TORUS_LATENCY_BUCKETS; b++)
        torus_json_double(w, torus_latency_bounds[b], 4);
    torus_json_array_end(w);
    torus_json_key(w, "shards");
    torus_json_array_begin(w);
    for (int i = 0; i < board->shard_count; i++)
        write_shard(w, board, i, rates, now_ns);
    torus_json_array_end(w);
    torus_json_object_end(w);
}
