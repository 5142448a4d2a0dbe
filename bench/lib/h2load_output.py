"""Reads what h2load (nghttp2's HTTP/2 load generator) printed into a RunResult.

h2load prints no latency percentiles, only min/max/mean of "time for request"
(the mean goes into mean_ms and max into max_ms; p50, p90 and p99 stay unknown).
The lines read:

    finished in 5.00s, 81234.40 req/s, 3.12MB/s
    requests: N total, N started, N done, N succeeded, N failed, N errored, N timeout
    status codes: N 2xx, N 3xx, N 4xx, N 5xx
    traffic: 15.55MB (16305964) total, ...
    time for request:      176us     20.25ms      1.34ms       389us    81.50%
"""

import re

from wrk_output import RunResult, WrkOutputError, parse_time_ms

_FINISHED = re.compile(r"^finished in ([\d.]+(?:ms|s)), ", re.M)
_REQUESTS = re.compile(r"^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                       r"(\d+) failed, (\d+) errored, (\d+) timeout", re.M)
_STATUS = re.compile(r"^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", re.M)
_TRAFFIC = re.compile(r"^traffic: \S+ \((\d+)\) total", re.M)
_REQUEST_TIME = re.compile(r"^time for request:\s+(\S+)\s+(\S+)\s+(\S+)", re.M)


def parse(text):
    """The RunResult of one h2load run; WrkOutputError when its summary is missing."""
    finished = _FINISHED.search(text)
    requests = _REQUESTS.search(text)
    if not finished or not requests:
        raise WrkOutputError("h2load printed no summary (finished in ... / requests: ...)")
    r = RunResult()
    r.duration_s = parse_time_ms(finished.group(1)) / 1000.0
    done, failed, errored, timeouts = (int(requests.group(i)) for i in (3, 5, 6, 7))
    status = _STATUS.search(text)
    if status:
        r.status_errors = int(status.group(3)) + int(status.group(4))
    # As wrk's count: every request answered; answers of 400 and up are errors besides.
    r.requests = done
    r.read_errors = errored
    r.timeout_errors = timeouts
    r.connect_errors = max(0, failed - errored - timeouts - r.status_errors)
    traffic = _TRAFFIC.search(text)
    if traffic:
        r.bytes = int(traffic.group(1))
    timing = _REQUEST_TIME.search(text)
    if timing and done:
        r.max_ms = parse_time_ms(timing.group(2))
        r.mean_ms = parse_time_ms(timing.group(3))
    return r
