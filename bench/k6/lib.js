// Shared by the scenario scripts of bench/k6/: the same loads as bench/wrk/,
// for users who have k6 (it is not in Debian). Every script reads
//   BASE_URL  (default http://127.0.0.1:8080), VUS (connections, default 64),
//   DURATION  (default 10s)
// from the environment (k6 run -e NAME=VALUE) and ends by printing the line
// bench/run parses: "BENCH_RESULT {json}", the same fields bench/wrk/report.lua
// prints. bench/run --tool k6 runs them this way; by hand:
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e VUS=64 -e DURATION=10s bench/k6/hello.js
//   k6 run -e BASE_URL=https://127.0.0.1:8443 bench/k6/https-new-conn.js
import http from 'k6/http';

export const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:8080';
export const VUS = parseInt(__ENV.VUS || '64', 10);
export const DURATION = __ENV.DURATION || '10s';
export const TREND_STATS = ['avg', 'min', 'med', 'max', 'p(50)', 'p(90)', 'p(99)'];

// Options of a script with one constant load of VUS virtual users (each one
// keep-alive connection issuing requests back to back, as wrk does). Over
// HTTPS (the https-* scenarios) the harness's certificate is self-signed, so
// it is not verified (the servers are on 127.0.0.1).
export function constantLoad() {
  return {
    vus: VUS,
    duration: DURATION,
    discardResponseBodies: true,
    summaryTrendStats: TREND_STATS,
    insecureSkipTLSVerify: BASE_URL.startsWith('https:'),
  };
}

// The iteration of a script that GETs one path.
export function getPath(path, headers = {}) {
  return function () {
    http.get(BASE_URL + path, { headers });
  };
}

// handleSummary body: the BENCH_RESULT line from k6's end-of-test data.
// suffix selects a sub-metric, e.g. '{scenario:hello}' (it must have a
// threshold to be in the data; see cpu-mix.js); durationMs, when given, is
// how long that part of the load ran (default: the whole test).
export function benchResult(data, suffix = '', durationMs = 0) {
  const metric = (name) => data.metrics[name + suffix] || data.metrics[name];
  const duration = metric('http_req_duration').values;
  const failed = metric('http_req_failed');
  const us = (ms) => Math.round((ms || 0) * 1000);
  const line = {
    requests: metric('http_reqs').values.count,
    duration_us: Math.round((durationMs || data.state.testRunDurationMs) * 1000),
    bytes: data.metrics.data_received ? data.metrics.data_received.values.count : 0,
    connect_errors: 0,
    read_errors: 0,
    write_errors: 0,
    status_errors: failed ? failed.values.passes : 0, // failed requests: bad status or network error
    timeout_errors: 0,
    latency_mean_us: us(duration.avg),
    latency_p50_us: us(duration['p(50)']),
    latency_p90_us: us(duration['p(90)']),
    latency_p99_us: us(duration['p(99)']),
    latency_max_us: us(duration.max),
  };
  return { stdout: 'BENCH_RESULT ' + JSON.stringify(line) + '\n' };
}
