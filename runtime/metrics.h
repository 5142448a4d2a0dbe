/*
 * Counters and gauges of a shard, for /metrics.
 *
 * Each shard's I/O thread is the only writer of its own metrics, so an update
 * is a relaxed load and a relaxed store — a plain memory write on x86, no
 * locked instruction on the hot path — and the admin endpoint, on another
 * thread, reads them with relaxed loads and sums them over the shards.
 */
#ifndef TORUS_METRICS_H
#define TORUS_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Upper bounds (seconds) of the request-duration histogram's buckets; +Inf is implied. */
#define TORUS_LATENCY_BUCKETS 14
extern const double torus_latency_bounds[TORUS_LATENCY_BUCKETS];

typedef _Atomic uint64_t torus_metric;

struct torus_metrics {
    torus_metric requests;     /* request heads parsed */
    torus_metric responses[6]; /* by status class: [2] counts 2xx; [0] anything odd */
    torus_metric bytes_in, bytes_out;
    torus_metric connections_accepted;
    torus_metric connections_open; /* gauge */
    torus_metric connections_idle; /* gauge: keep-alive connections between requests */
    torus_metric queue_depth;      /* gauge: requests parked for lack of a free executor */
    torus_metric parked;           /* requests that ever had to wait for an executor */
    torus_metric tls_handshakes;
    torus_metric latency[TORUS_LATENCY_BUCKETS + 1]; /* per bucket, not cumulative; last is +Inf */
    torus_metric latency_count;
    torus_metric latency_sum_us;
};

/* Single-writer update: adds n to a metric (a relaxed read and write). */
static inline void torus_metric_add(torus_metric *metric, uint64_t n)
{
    atomic_store_explicit(metric, atomic_load_explicit(metric, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

/* Single-writer update: subtracts n from a gauge. */
static inline void torus_metric_sub(torus_metric *metric, uint64_t n)
{
    atomic_store_explicit(metric, atomic_load_explicit(metric, memory_order_relaxed) - n,
                          memory_order_relaxed);
}

/* Any thread: the metric's current value. */
static inline uint64_t torus_metric_get(const torus_metric *metric)
{
    return atomic_load_explicit((torus_metric *)metric, memory_order_relaxed);
}

/* Records one response: its status class and how long it took, in nanoseconds. */
void torus_metrics_observe(struct torus_metrics *metrics, int status, uint64_t duration_ns);

#endif
