"""Zero-downtime restart: a second torus started on the same port (every
listener uses SO_REUSEPORT) while clients keep sending requests, then
SIGTERM to the first; no request may fail. The load is a bounded set of
keep-alive client threads on 127.0.0.1 that reconnect when a response says
Connection: close, as HTTP clients do."""

import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torus_harness as h  # noqa: E402
from torus_harness import HELLO, get  # noqa: E402

CLIENTS = 8


class Load:
    """CLIENTS threads doing keep-alive GETs until stopped; counts successes and failures."""

    def __init__(self, port):
        self.port = port
        self.stop = threading.Event()
        self.ok = 0
        self.failures = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(CLIENTS)]

    def run(self):
        conn = None
        deadline = time.monotonic() + 60 * h.SLOW
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                if conn is None:
                    conn = h.Conn(self.port)
                conn.send(get("/hello.txt"))
                resp = conn.read_response()
                if resp.status != 200 or resp.body != HELLO:
                    raise AssertionError("wrong response %r" % resp)
                with self.lock:
                    self.ok += 1
                if resp.has_token("Connection", "close"):
                    conn.close()
                    conn = None
            except Exception as e:  # noqa: BLE001 - every failure is counted
                with self.lock:
                    self.failures.append("%s: %s" % (type(e).__name__, e))
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(30 * h.SLOW)


class Restart(h.ServerTestCase):
    server_options = None

    @h.torus_only("SO_REUSEPORT restart")
    def test_second_process_takes_over_without_a_failed_request(self):
        old = self.start_server(threads=2)
        new = h.Server(self.root, self.workdir, threads=2)
        with Load(old.port) as load:
            time.sleep(1.0)
            # The new process joins the same port.
            new.port = old.port
            argv = new.argv()
            stderr = open(os.path.join(self.workdir, "new.stderr"), "wb")
            self.addCleanup(stderr.close)
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=stderr, cwd=self.workdir)
            self.addCleanup(lambda: (proc.poll() is None and proc.kill(), proc.wait()))
            deadline = time.monotonic() + h.START_TIMEOUT
            while b"listening on" not in open(stderr.name, "rb").read():
                self.assertIsNone(proc.poll(), "the new process exited: %s"
                                  % open(stderr.name, "rb").read())
                self.assertLess(time.monotonic(), deadline, "the new process never started")
                time.sleep(0.05)
            time.sleep(1.0)
            before = load.ok
            old.send_signal(signal.SIGTERM)
            self.assertEqual(old.wait_exit(10 * h.SLOW), 0)
            time.sleep(1.0)
            after_old_exit = load.ok
        self.assertEqual(load.failures, [])
        self.assertGreater(before, 100, "the load never got going")
        self.assertGreater(load.ok, after_old_exit - 1)
        self.assertGreater(after_old_exit, before, "nothing was served after the old process left")
        # The new process serves on its own now.
        self.assertEqual(self.fetch_new(old.port), HELLO)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(10 * h.SLOW), 0)

    def fetch_new(self, port):
        with h.Conn(port) as c:
            c.send(get("/hello.txt"))
            return c.read_response().body


if __name__ == "__main__":
    h.main()
