-- The summary bench/run reads: wrk calls done() once after the run, and this
-- prints one line, "BENCH_RESULT {json}", with the totals, the errors by kind
-- and the latency percentiles in microseconds (bench/lib/wrk_output.py parses
-- it). Every scenario script of this folder ends by loading this file.

function done(summary, latency, requests)
   local errors = summary.errors
   io.write(string.format(
      'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"connect_errors":%d,"read_errors":%d,"write_errors":%d,' ..
      '"status_errors":%d,"timeout_errors":%d,' ..
      '"latency_mean_us":%.1f,"latency_p50_us":%d,"latency_p90_us":%d,' ..
      '"latency_p99_us":%d,"latency_max_us":%d}\n',
      summary.requests, summary.duration, summary.bytes,
      errors.connect, errors.read, errors.write, errors.status, errors.timeout,
      latency.mean, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max))
end
