/*
 * Request accounting for /metrics: status classes and the duration histogram.
 */
#include "runtime/metrics.h"

const double torus_latency_bounds[TORUS_LATENCY_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

void torus_metrics_observe(struct torus_metrics *m, int status, uint64_t duration_ns)
{
    int class = status / 100;
    torus_metric_add(&m->responses[class >= 1 && class <= 5 ? class : 0], 1);
    double seconds = (double)duration_ns / 1e9;
    int bucket = 0;
    while (bucket < TORUS_LATENCY_BUCKETS && seconds > torus_latency_bounds[bucket])
        bucket++;
    torus_metric_add(&m->latency[bucket], 1);
    torus_metric_add(&m->latency_count, 1);
    torus_metric_add(&m->latency_sum_us, duration_ns / 1000);
}
