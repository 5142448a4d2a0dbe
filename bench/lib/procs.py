"""Processes bench/run starts, and what it measures about them.

Every server, database and load generator is started in a session of its
own, so the process group it leads holds exactly what it forked (nginx
workers, php-fpm children). Stopping sends SIGTERM to that group, waits,
then SIGKILL: only processes the harness started are ever signalled.

Memory is read from /proc: a server's footprint is the sum of VmRSS over
its process tree (the tree is found by parent PID on every sample, so
children forked late are counted), sampled by a background thread; the
peak of that sum is what the table shows. Shared pages (opcache's shared
memory, the binary) count once per process that maps them, as in `ps`.
"""

import http.client
import os
import signal
import socket
import ssl
import subprocess
import threading
import time


_running = []  # every Spawned not stopped yet, for stop_all()


class Spawned:
    """A process started in its own session, with stdout and stderr in a log file."""

    def __init__(self, name, argv, log_path, env=None, cwd=None):
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        with open(log_path, "ab") as log:
            log.write(("$ " + " ".join(self.argv) + "\n").encode())
            log.flush()
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                         start_new_session=True)
        self.pid = self.proc.pid
        _running.append(self)

    def alive(self):
        return self.proc.poll() is None

    def log_tail(self, lines=3):
        """The last lines of the process's output, joined into one line."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 4096))
                text = f.read().decode(errors="replace")
        except OSError:
            return ""
        kept = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("$ ")]
        return " / ".join(kept[-lines:])

    def stop(self, timeout=5.0):
        """SIGTERM to the process group, SIGKILL after timeout seconds; returns the exit code."""
        if self in _running:
            _running.remove(self)
        self._signal_group(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        # Children may outlive their leader: the group is killed either way.
        self._signal_group(signal.SIGKILL)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def _signal_group(self, sig):
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def stop_all():
    """Stops every process started here that was not stopped yet (on the way out)."""
    for p in list(reversed(_running)):
        p.stop()


def _children_by_parent():
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def process_tree(roots):
    """The PIDs of roots and every descendant that is still alive."""
    children = _children_by_parent()
    found, todo = [], [r for r in roots if r]
    while todo:
        pid = todo.pop()
        if pid in found or not os.path.exists(f"/proc/{pid}"):
            continue
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def status_kib(pid, key):
    """A "Key: N kB" field of /proc/PID/status in KiB, or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def tree_rss(roots):
    """Sum of VmRSS over the trees of roots, in bytes."""
    return sum((status_kib(pid, "VmRSS") or 0) for pid in process_tree(roots)) * 1024


STATUS_KEYS = ("VmRSS", "RssAnon", "RssFile", "RssShmem")


def tree_status(roots):
    """{pid: {"Name": name, "VmRSS": KiB, "RssAnon": KiB, "RssFile": KiB, "RssShmem": KiB}}
    over the trees of roots: where a tree's RSS is, process by process and by kind."""
    found = {}
    for pid in process_tree(roots):
        fields = {}
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    key, _, value = line.partition(":")
                    if key == "Name":
                        fields["Name"] = value.strip()
                    elif key in STATUS_KEYS:
                        fields[key] = int(value.split()[0])
        except (OSError, ValueError, IndexError):
            continue
        found[pid] = fields
    return found


def tree_pss(roots):
    """Sum of Pss (shared pages split between their users) over the trees, in bytes."""
    total = 0
    for pid in process_tree(roots):
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except (OSError, ValueError, IndexError):
            pass
    return total * 1024


class RssSampler:
    """Samples tree_rss(roots()) every interval seconds on a thread; keeps the peak
    (with detail: also the tree_status() of the peak sample, as peak_status)."""

    def __init__(self, roots, interval=0.2, detail=False):
        self.roots = roots
        self.interval = interval
        self.detail = detail
        self.peak = 0
        self.peak_status = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self):
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.sample()

    def sample(self):
        if not self.detail:
            value = tree_rss(self.roots())
            self.peak = max(self.peak, value)
            return value
        status = tree_status(self.roots())
        value = sum(fields.get("VmRSS", 0) for fields in status.values()) * 1024
        if value > self.peak:
            self.peak, self.peak_status = value, status
        return value

    def _loop(self):
        while not self._stop.wait(self.interval):
            self.sample()


def free_port():
    """A TCP port of 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def insecure_tls_context():
    """A client TLS context that accepts any certificate: only ever used for 127.0.0.1,
    where the servers use the harness's self-signed certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def http_request(port, path, method="GET", body=None, headers=None, timeout=2.0, tls=False):
    """(status, body bytes) of one request to 127.0.0.1:port (over HTTPS when tls, the
    certificate not verified); raises OSError (ssl.SSLError too) or HTTPException."""
    if tls:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=insecure_tls_context())
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def tls_facts(port, path, timeout=2.0):
    """What a TLS client gets from 127.0.0.1:port: (protocol, cipher, whether a second
    connection resumed the first one's session). One keep-alive GET of path on each of
    two connections, closed by this side once the response is read; raises OSError
    (ssl.SSLError too) or HTTPException."""
    context = insecure_tls_context()
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").encode()
    session = None
    facts = None
    for _ in range(2):
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
            with context.wrap_socket(raw, session=session) as s:
                s.sendall(request)
                response = http.client.HTTPResponse(s)
                response.begin()
                response.read()  # TLS 1.3 session tickets are read on the way
                response.close()
                if facts is None:
                    facts = (s.version(), s.cipher()[0])
                else:
                    facts += (s.session_reused,)
                session = s.session
    return facts


def wait_until(check, timeout, interval=0.05):
    """Calls check() until it returns something true or timeout seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def run_bounded(argv, timeout, env=None, cwd=None):
    """Runs argv to completion with a time limit; (exit code or None on timeout, output text)."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        return proc.returncode, out.decode(errors="replace")
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, _ = proc.communicate()
        return None, out.decode(errors="replace")
