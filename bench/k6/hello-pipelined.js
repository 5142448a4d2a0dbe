// hello-pipelined needs HTTP/1.1 pipelining, which k6 does not do: the row is
// n/a under --tool k6 with this reason (bench/wrk/pipeline.lua measures it).
throw new Error('k6 cannot pipeline HTTP/1.1 requests: measure hello-pipelined with --tool wrk');
