"""Reads what a load generator printed into a RunResult.

The preferred source is the line bench/wrk/report.lua prints from wrk's
done() hook (and bench/k6/lib.js from k6's handleSummary):

    BENCH_RESULT {"requests": ..., "duration_us": ..., "latency_p99_us": ...}

When it is missing (a wrk run without our Lua script), wrk's own text is
parsed instead: "Requests/sec:", the "Latency Distribution" block that
--latency prints, "N requests in 3.00s", "Non-2xx or 3xx responses:" and
"Socket errors: connect A, read B, write C, timeout D".
"""

import json
import re
from dataclasses import dataclass

MARKER = "BENCH_RESULT "


class WrkOutputError(Exception):
    """The text holds no result."""


@dataclass
class RunResult:
    requests: int = 0
    duration_s: float = 0.0
    bytes: int = 0
    p50_ms: float = None
    p90_ms: float = None
    p99_ms: float = None
    max_ms: float = None
    mean_ms: float = None
    connect_errors: int = 0
    read_errors: int = 0
    write_errors: int = 0
    status_errors: int = 0  # responses with a status of 400 or more
    timeout_errors: int = 0

    @property
    def rps(self):
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    def errors(self, count_read_errors=True):
        total = self.connect_errors + self.write_errors + self.status_errors + self.timeout_errors
        return total + (self.read_errors if count_read_errors else 0)

    def as_dict(self):
        d = dict(self.__dict__)
        d["rps"] = self.rps
        return d


def _from_marker(line):
    data = json.loads(line[len(MARKER):])
    us = 1000.0

    def ms(key):
        value = data.get(key)
        return None if value is None else value / us

    return RunResult(
        requests=int(data["requests"]),
        duration_s=data["duration_us"] / 1e6,
        bytes=int(data.get("bytes", 0)),
        p50_ms=ms("latency_p50_us"),
        p90_ms=ms("latency_p90_us"),
        p99_ms=ms("latency_p99_us"),
        max_ms=ms("latency_max_us"),
        mean_ms=ms("latency_mean_us"),
        connect_errors=int(data.get("connect_errors", 0)),
        read_errors=int(data.get("read_errors", 0)),
        write_errors=int(data.get("write_errors", 0)),
        status_errors=int(data.get("status_errors", 0)),
        timeout_errors=int(data.get("timeout_errors", 0)),
    )


_TIME_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}


def parse_time_ms(text):
    """wrk's "331.00us", "1.10ms", "2.00s", "1.5m" in milliseconds."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(us|ms|s|m|h)\s*", text)
    if not m:
        raise WrkOutputError(f"not a wrk duration: '{text}'")
    return float(m.group(1)) * _TIME_UNITS_MS[m.group(2)]


def _from_text(text):
    rps = re.search(r"^Requests/sec:\s*([0-9.]+)", text, re.M)
    total = re.search(r"^\s*(\d+) requests in ([0-9.]+(?:us|ms|s|m|h)),", text, re.M)
    if not rps or not total:
        raise WrkOutputError("no 'Requests/sec:' or 'N requests in' line in the output")
    r = RunResult(requests=int(total.group(1)), duration_s=parse_time_ms(total.group(2)) / 1000.0)
    # wrk rounds the duration it prints; Requests/sec is computed from the exact one.
    if float(rps.group(1)) > 0:
        r.duration_s = r.requests / float(rps.group(1))
    percentiles = dict(re.findall(r"^\s*(50|90|99)%\s+([0-9.]+(?:us|ms|s|m|h))\s*$", text, re.M))
    if "50" in percentiles:
        r.p50_ms = parse_time_ms(percentiles["50"])
    if "90" in percentiles:
        r.p90_ms = parse_time_ms(percentiles["90"])
    if "99" in percentiles:
        r.p99_ms = parse_time_ms(percentiles["99"])
    latency = re.search(r"^\s*Latency\s+(\S+)\s+(\S+)\s+(\S+)", text, re.M)
    if latency:
        r.mean_ms = parse_time_ms(latency.group(1))
        r.max_ms = parse_time_ms(latency.group(3))
    status = re.search(r"^\s*Non-2xx or 3xx responses:\s*(\d+)", text, re.M)
    if status:
        r.status_errors = int(status.group(1))
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if sockets:
        r.connect_errors, r.read_errors, r.write_errors, r.timeout_errors = map(int, sockets.groups())
    return r


def parse(text):
    """A RunResult from the output of one wrk (or k6) run; raises WrkOutputError."""
    for line in text.splitlines():
        if line.startswith(MARKER):
            try:
                return _from_marker(line.strip())
            except (ValueError, KeyError, TypeError) as e:
                raise WrkOutputError(f"bad {MARKER.strip()} line: {e}")
    return _from_text(text)
