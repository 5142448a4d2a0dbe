"""Running the load generator: wrk (bench/wrk/*.lua) or k6 (bench/k6/*.js), and
h2load (nghttp2's) for the HTTP/2 scenarios, which wrk and k6 cannot load.

Each run is a process started in its own session with its output going to
the raw file of the run, bounded by the run's duration plus a margin, so a
server that stops answering costs one timeout, never a hang. In 1core mode
the generator runs on CPU 0 with one thread; in all mode with one thread per
CPU (never more threads than connections).
"""

import os
import subprocess

import h2load_output
import procs
import wrk_output

BENCH_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REQUEST_TIMEOUT_S = 5
MARGIN_S = 15


def wrk_argv(ws, wrk_script, url, connections, duration):
    threads = 1 if ws.options.mode == "1core" else max(1, min(connections, len(os.sched_getaffinity(0))))
    argv = [ws.options.binaries["wrk"], "-t", str(threads), "-c", str(connections), "-d", f"{duration}s",
            "--timeout", f"{REQUEST_TIMEOUT_S}s", "--latency", "-s", os.path.join(BENCH_DIR, "wrk", wrk_script), url]
    return ws.pin_client(argv)


def k6_argv(ws, k6_script, base_url, connections, duration):
    script = os.path.join(BENCH_DIR, "k6", k6_script)
    argv = [ws.options.binaries["k6"], "run", "--quiet", "--no-usage-report",
            "-e", f"BASE_URL={base_url}", "-e", f"VUS={connections}", "-e", f"DURATION={duration}s", script]
    return ws.pin_client(argv)


def h2load_argv(ws, url, connections, streams, duration):
    threads = 1 if ws.options.mode == "1core" else max(1, min(connections, len(os.sched_getaffinity(0))))
    argv = [ws.options.binaries["h2load"], "-t", str(threads), "-c", str(connections), "-m", str(streams),
            "-D", str(duration), "-T", str(REQUEST_TIMEOUT_S), url]
    return ws.pin_client(argv)


class LoadRun:
    """One load generator process; its output goes to raw_path."""

    def __init__(self, ws, scripts, base_url, path, connections, duration, raw_path, http2_streams=0):
        """scripts: (wrk Lua script, k6 script); path: the URL path wrk loads (k6 scripts know theirs);
        http2_streams: when not 0, h2load loads path over HTTP/2 with that many streams per connection."""
        self.raw_path = raw_path
        self.duration = duration
        self.parse = h2load_output.parse if http2_streams else wrk_output.parse
        os.makedirs(os.path.dirname(raw_path), exist_ok=True)
        if http2_streams:
            argv = h2load_argv(ws, base_url + path, connections, http2_streams, duration)
        elif ws.options.tool == "k6":
            argv = k6_argv(ws, scripts[1], base_url, connections, duration)
        else:
            argv = wrk_argv(ws, scripts[0], base_url + path, connections, duration)
        self.process = procs.Spawned(os.path.basename(argv[0]), argv, raw_path)

    def wait(self):
        """(RunResult or None, one-line reason when None)."""
        try:
            self.process.proc.wait(self.duration + MARGIN_S)
        except subprocess.TimeoutExpired:
            self.process.stop()
            return None, f"load generator did not finish within {self.duration + MARGIN_S} s"
        try:
            with open(self.raw_path, errors="replace") as f:
                text = f.read()
        except OSError as e:
            return None, f"cannot read {self.raw_path}: {e.strerror}"
        if self.process.proc.returncode != 0:
            return None, f"load generator exited with code {self.process.proc.returncode}: {self.process.log_tail(1)}"
        try:
            result = self.parse(text)
        except wrk_output.WrkOutputError as e:
            return None, str(e)
        if result.requests == 0:
            return None, "no request completed"
        return result, None
