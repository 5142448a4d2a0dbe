/*
 * The admin endpoints (--admin-listen), answered by the supervisor from the
 * scoreboard (runtime/scoreboard.h), so they keep answering while a shard
 * process restarts:
 *   GET /healthz   200 while the supervisor is up;
 *   GET /readyz    200 when every shard runs and has an executor ready, else
 *                  503 (booting, restarting after a crash, every executor
 *                  reloading, or draining);
 *   GET /metrics   Prometheus text format, the shards' metrics summed (and
 *                  the responses of each shard, for a rate by shard);
 *   GET /status.json  the same per shard, with the request each executor
 *                  runs (net/admin_status.c, docs/STATUS.md);
 *   GET /status    a page that polls /status.json (net/admin_status_page.html).
 * Reading the shards' metrics is a relaxed load of each counter: a scrape
 * may see one shard a few requests behind another, never a torn value.
 */
#include "net/admin.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "net/admin_status.h"
#include "net/http_response.h"
#include "net/json_writer.h"
#include "runtime/executor.h"
#include "runtime/process.h"
#include "runtime/scoreboard.h"

struct text {
    char *data;
    size_t len, cap;
};

static void text_printf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_printf(struct text *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->data + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap * 2 + (size_t)n;
        char *grown = realloc(t->data, cap);
        if (!grown)
            return;
        t->data = grown;
        t->cap = cap;
    }
}

static uint64_t sum(struct torus_scoreboard *board, size_t offset)
{
    uint64_t total = 0;
    for (int i = 0; i < board->shard_count; i++) {
        const torus_metric *m =
            (const torus_metric *)((const char *)&torus_scoreboard_shard(board, i)->metrics +
                                   offset);
        total += torus_metric_get(m);
    }
    return total;
}

#define SUM(field) sum(board, offsetof(struct torus_metrics, field))

/* Resident memory of one process ("self" or a pid), in bytes; 0 when it is gone. */
static size_t resident_bytes(const char *process)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%s/statm", process);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    unsigned long pages_total = 0, pages_resident = 0;
    int n = fscanf(f, "%lu %lu", &pages_total, &pages_resident);
    fclose(f);
    return n == 2 ? (size_t)pages_resident * (size_t)sysconf(_SC_PAGESIZE) : 0;
}

/* The supervisor's and every shard process's resident memory, summed. */
static size_t server_resident_bytes(struct torus_scoreboard *board)
{
    size_t total = resident_bytes("self");
    for (int i = 0; i < board->shard_count; i++) {
        int pid = atomic_load(&torus_scoreboard_shard(board, i)->pid);
        if (pid > 0) {
            char name[16];
            snprintf(name, sizeof(name), "%d", pid);
            total += resident_bytes(name);
        }
    }
    return total;
}

/*
 * Per worker script (by its name=), when there are workers: its executors by
 * state, and its restarts and crashes by reason. A handful of names: linear
 * look-ups.
 */
struct worker_tally {
    const char *name;
    uint64_t busy, idle, starting;
    uint64_t events[TORUS_EXECUTOR_EVENTS];
};

static void render_workers(struct text *t, struct torus_scoreboard *board)
{
    struct worker_tally tally[TORUS_MAX_WORKERS];
    int count = 0;
    for (int i = 0; i < board->shard_count; i++) {
        for (int e = 0; e < board->executors_per_shard; e++) {
            struct torus_executor_slot *x = torus_scoreboard_executor(board, i, e);
            if (!x->worker_name[0])
                continue;
            int w = 0;
            while (w < count && strcmp(tally[w].name, x->worker_name) != 0)
                w++;
            if (w == count) {
                if (count == TORUS_MAX_WORKERS)
                    continue;
                memset(&tally[count], 0, sizeof(tally[count]));
                tally[count++].name = x->worker_name;
            }
            if (atomic_load_explicit(&x->busy, memory_order_relaxed))
                tally[w].busy++;
            else if (atomic_load_explicit(&x->ready, memory_order_relaxed))
                tally[w].idle++;
            else
                tally[w].starting++;
            for (int r = 0; r < TORUS_EXECUTOR_EVENTS; r++)
                tally[w].events[r] += atomic_load_explicit(&x->events[r], memory_order_relaxed);
        }
    }
    if (!count)
        return;
    text_printf(t, "# HELP torus_worker_executors Executors of each worker script, by state.\n"
                   "# TYPE torus_worker_executors gauge\n");
    for (int w = 0; w < count; w++)
        text_printf(t,
                    "torus_worker_executors{worker=\"%s\",state=\"busy\"} %llu\n"
                    "torus_worker_executors{worker=\"%s\",state=\"idle\"} %llu\n"
                    "torus_worker_executors{worker=\"%s\",state=\"starting\"} %llu\n",
                    tally[w].name, (unsigned long long)tally[w].busy, tally[w].name,
                    (unsigned long long)tally[w].idle, tally[w].name,
                    (unsigned long long)tally[w].starting);
    static const char *const families[2][2] = {
        {"torus_worker_script_restarts_total", "Restarts of each worker script, by reason."},
        {"torus_worker_script_crashes_total",
         "Requests of each worker script ended by a PHP failure, by reason."},
    };
    for (int crash = 0; crash < 2; crash++) {
        text_printf(t, "# HELP %s %s\n# TYPE %s counter\n", families[crash][0], families[crash][1],
                    families[crash][0]);
        for (int w = 0; w < count; w++) {
            for (int r = 0; r < TORUS_EXECUTOR_EVENTS; r++) {
                if (torus_executor_event_is_crash(r) != (crash == 1))
                    continue;
                text_printf(t, "%s{worker=\"%s\",reason=\"%s\"} %llu\n", families[crash][0],
                            tally[w].name, torus_executor_event_name(r),
                            (unsigned long long)tally[w].events[r]);
            }
        }
    }
}

static void render_shards(struct text *t, struct torus_scoreboard *board)
{
    int up = 0;
    uint64_t restarts = 0;
    for (int i = 0; i < board->shard_count; i++) {
        up += torus_scoreboard_shard_ready(board, i);
        restarts += atomic_load(&torus_scoreboard_shard(board, i)->restarts);
    }
    text_printf(t,
                "# HELP torus_shards Shards (one process per CPU) configured.\n"
                "# TYPE torus_shards gauge\ntorus_shards %d\n"
                "# HELP torus_shards_up Shards serving now (not starting, restarting or "
                "draining).\n# TYPE torus_shards_up gauge\ntorus_shards_up %d\n",
                board->shard_count, up);
    text_printf(t, "# HELP torus_shard_up Whether a shard serves now (1) or not (0).\n"
                   "# TYPE torus_shard_up gauge\n");
    for (int i = 0; i < board->shard_count; i++)
        text_printf(t, "torus_shard_up{shard=\"%d\"} %d\n", i,
                    torus_scoreboard_shard_ready(board, i) ? 1 : 0);
    text_printf(t,
                "# HELP torus_shard_restarts_total Shard processes started again after one "
                "ended.\n# TYPE torus_shard_restarts_total counter\n"
                "torus_shard_restarts_total %llu\n",
                (unsigned long long)restarts);
    /* The usual fatal signals always have a line, so a dashboard can rate() them from zero. */
    static const int usual[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL, SIGKILL};
    text_printf(t, "# HELP torus_shard_crashes_total Shard processes lost, by the signal that "
                   "ended them (\"exit\": an unexpected exit).\n"
                   "# TYPE torus_shard_crashes_total counter\n");
    for (int sig = 0; sig < TORUS_SCOREBOARD_SIGNALS; sig++) {
        uint64_t n = atomic_load(&board->crashes[sig]);
        bool listed = false;
        for (size_t u = 0; u < TORUS_ARRAY_SIZE(usual); u++)
            listed |= usual[u] == sig;
        if (n == 0 && !listed && sig != 0)
            continue;
        char name[32];
        if (sig == 0)
            snprintf(name, sizeof(name), "exit");
        else
            torus_process_signal_name(sig, name, sizeof(name));
        text_printf(t, "torus_shard_crashes_total{signal=\"%s\"} %llu\n", name,
                    (unsigned long long)n);
    }
}

static void render_metrics(struct text *t, struct torus_scoreboard *board)
{
    static const char *const classes[6] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
    text_printf(t, "# HELP torus_requests_total Responses sent, by status class.\n"
                   "# TYPE torus_requests_total counter\n");
    for (int c = 0; c < 6; c++)
        text_printf(t, "torus_requests_total{code=\"%s\"} %llu\n", classes[c],
                    (unsigned long long)sum(board, offsetof(struct torus_metrics, responses) +
                                                       (size_t)c * sizeof(torus_metric)));

    text_printf(t, "# HELP torus_shard_requests_total Responses sent, per shard.\n"
                   "# TYPE torus_shard_requests_total counter\n");
    for (int i = 0; i < board->shard_count; i++) {
        const struct torus_metrics *m = &torus_scoreboard_shard(board, i)->metrics;
        uint64_t sent = 0;
        for (int c = 0; c < 6; c++)
            sent += torus_metric_get(&m->responses[c]);
        text_printf(t, "torus_shard_requests_total{shard=\"%d\"} %llu\n", i,
                    (unsigned long long)sent);
    }

    text_printf(t, "# HELP torus_request_duration_seconds Time from a request's head to its "
                   "response's end.\n# TYPE torus_request_duration_seconds histogram\n");
    uint64_t cumulative = 0;
    for (int b = 0; b <= TORUS_LATENCY_BUCKETS; b++) {
        cumulative +=
            sum(board, offsetof(struct torus_metrics, latency) + (size_t)b * sizeof(torus_metric));
        if (b < TORUS_LATENCY_BUCKETS)
            text_printf(t, "torus_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                        torus_latency_bounds[b], (unsigned long long)cumulative);
        else
            text_printf(t, "torus_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
                        (unsigned long long)cumulative);
    }
    text_printf(t, "torus_request_duration_seconds_sum %.6f\n", (double)SUM(latency_sum_us) / 1e6);
    text_printf(t, "torus_request_duration_seconds_count %llu\n",
                (unsigned long long)SUM(latency_count));

    text_printf(t,
                "# HELP torus_received_bytes_total Bytes read from clients.\n"
                "# TYPE torus_received_bytes_total counter\ntorus_received_bytes_total %llu\n"
                "# HELP torus_sent_bytes_total Bytes written to clients.\n"
                "# TYPE torus_sent_bytes_total counter\ntorus_sent_bytes_total %llu\n"
                "# HELP torus_connections_accepted_total Connections accepted.\n"
                "# TYPE torus_connections_accepted_total counter\n"
                "torus_connections_accepted_total %llu\n"
                "# HELP torus_connections_open Client connections open now.\n"
                "# TYPE torus_connections_open gauge\ntorus_connections_open %llu\n"
                "# HELP torus_connections_idle Keep-alive connections waiting for a request.\n"
                "# TYPE torus_connections_idle gauge\ntorus_connections_idle %llu\n"
                "# HELP torus_tls_handshakes_total TLS handshakes completed.\n"
                "# TYPE torus_tls_handshakes_total counter\ntorus_tls_handshakes_total %llu\n"
                "# HELP torus_parked_requests_total Requests that waited for a free executor.\n"
                "# TYPE torus_parked_requests_total counter\ntorus_parked_requests_total %llu\n",
                (unsigned long long)SUM(bytes_in), (unsigned long long)SUM(bytes_out),
                (unsigned long long)SUM(connections_accepted),
                (unsigned long long)SUM(connections_open),
                (unsigned long long)SUM(connections_idle), (unsigned long long)SUM(tls_handshakes),
                (unsigned long long)SUM(parked));

    text_printf(t, "# HELP torus_queue_depth Requests waiting for a free executor, per shard.\n"
                   "# TYPE torus_queue_depth gauge\n");
    for (int i = 0; i < board->shard_count; i++)
        text_printf(t, "torus_queue_depth{shard=\"%d\"} %llu\n", i,
                    (unsigned long long)torus_metric_get(
                        &torus_scoreboard_shard(board, i)->metrics.queue_depth));

    uint64_t busy = 0, idle = 0, starting = 0, restarts = 0, crashes = 0;
    uint64_t by_reason[TORUS_EXECUTOR_EVENTS] = {0};
    for (int i = 0; i < board->shard_count; i++) {
        for (int e = 0; e < board->executors_per_shard; e++) {
            struct torus_executor_slot *x = torus_scoreboard_executor(board, i, e);
            if (atomic_load_explicit(&x->busy, memory_order_relaxed))
                busy++;
            else if (atomic_load_explicit(&x->ready, memory_order_relaxed))
                idle++;
            else
                starting++; /* booting, restarting its worker, or its shard is down */
            for (int r = 0; r < TORUS_EXECUTOR_EVENTS; r++)
                by_reason[r] += atomic_load_explicit(&x->events[r], memory_order_relaxed);
        }
    }
    text_printf(t,
                "# HELP torus_executors PHP executors, by state.\n# TYPE torus_executors gauge\n"
                "torus_executors{state=\"busy\"} %llu\ntorus_executors{state=\"idle\"} %llu\n"
                "torus_executors{state=\"starting\"} %llu\n",
                (unsigned long long)busy, (unsigned long long)idle, (unsigned long long)starting);
    text_printf(t, "# HELP torus_worker_restarts_total Worker script restarts, by reason.\n"
                   "# TYPE torus_worker_restarts_total counter\n");
    for (int r = 0; r < TORUS_EXECUTOR_EVENTS; r++) {
        if (torus_executor_event_is_crash(r))
            continue;
        restarts += by_reason[r];
        text_printf(t, "torus_worker_restarts_total{reason=\"%s\"} %llu\n",
                    torus_executor_event_name(r), (unsigned long long)by_reason[r]);
    }
    text_printf(t, "# HELP torus_worker_crashes_total Requests ended by a PHP failure, by reason.\n"
                   "# TYPE torus_worker_crashes_total counter\n");
    for (int r = 0; r < TORUS_EXECUTOR_EVENTS; r++) {
        if (!torus_executor_event_is_crash(r))
            continue;
        crashes += by_reason[r];
        text_printf(t, "torus_worker_crashes_total{reason=\"%s\"} %llu\n",
                    torus_executor_event_name(r), (unsigned long long)by_reason[r]);
    }
    (void)restarts;
    (void)crashes;
    text_printf(t,
                "# HELP torus_process_resident_memory_bytes Resident set size of the process.\n"
                "# TYPE torus_process_resident_memory_bytes gauge\n"
                "torus_process_resident_memory_bytes %zu\n",
                server_resident_bytes(board));
    render_workers(t, board);
    render_shards(t, board);
}

/* The page's headers: nothing it could load from elsewhere, nothing sniffed. */
#define STATUS_PAGE_HEADERS                                                                        \
    "Content-Security-Policy: default-src 'none'; script-src 'unsafe-inline'; "                    \
    "style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; "              \
    "form-action 'none'; frame-ancestors 'none'\r\n"                                               \
    "X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n"

struct torus_chunk *torus_admin_respond(struct torus_admin_server *server, const char *method,
                                        const char *path, size_t path_len, bool keep_alive,
                                        int *status_out)
{
    struct torus_scoreboard *board = server->board;
    bool head = strcmp(method, "HEAD") == 0;
    struct text body = {.data = malloc(4096), .len = 0, .cap = 4096};
    if (!body.data)
        return NULL;
    body.data[0] = '\0';
    int status = 200;
    const char *type = "text/plain; charset=utf-8";
    const char *extra = "";
    const char *content = NULL; /* a body other than `body`: content_len bytes */
    size_t content_len = 0;
    struct torus_json_writer json = {0};
#define IS(literal) (path_len == sizeof(literal) - 1 && memcmp(path, literal, path_len) == 0)
    if (strcmp(method, "GET") != 0 && !head) {
        status = 405;
        extra = "Allow: GET, HEAD\r\n";
        text_printf(&body, "method not allowed\n");
    } else if (IS("/healthz")) {
        text_printf(&body, "ok\n");
    } else if (IS("/readyz")) {
        bool ready = torus_scoreboard_ready(board);
        status = ready ? 200 : 503;
        text_printf(&body, ready ? "ready\n" : "not ready\n");
    } else if (IS("/metrics")) {
        type = "text/plain; version=0.0.4; charset=utf-8";
        render_metrics(&body, board);
    } else if (IS("/status.json")) {
        type = "application/json";
        torus_json_init(&json);
        torus_status_json(&json, board, &server->rates,
                          torus_monotonic_ns() / 1000000u - server->started_ms);
        if (json.failed) {
            torus_json_free(&json);
            free(body.data);
            return NULL;
        }
        content = json.data;
        content_len = json.len;
    } else if (IS("/status")) {
        type = "text/html; charset=utf-8";
        extra = STATUS_PAGE_HEADERS;
        content = torus_admin_status_page;
        content_len = torus_admin_status_page_size;
    } else {
        status = 404;
        text_printf(&body, "not found: try /healthz, /readyz, /metrics, /status.json or /status\n");
    }
#undef IS
    if (!content) {
        content = body.data;
        content_len = body.len;
    }
    char extra_headers[1024];
    int extra_len = snprintf(extra_headers, sizeof(extra_headers),
                             "Content-Type: %s\r\nCache-Control: no-store\r\n%s", type, extra);
    char head_text[2048];
    size_t head_len = torus_http_head(head_text, sizeof(head_text), status, 1, keep_alive,
                                      extra_headers, (size_t)extra_len, (int64_t)content_len);
    size_t total = head_len + (head ? 0 : content_len);
    struct torus_chunk *chunk = torus_chunk_new(total);
    if (chunk) {
        memcpy(chunk->data, head_text, head_len);
        if (!head)
            memcpy(chunk->data + head_len, content, content_len);
        chunk->len = (uint32_t)total;
    }
    torus_json_free(&json);
    free(body.data);
    *status_out = status;
    return chunk;
}
