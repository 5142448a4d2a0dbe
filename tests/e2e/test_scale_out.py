"""Scale-out: examples/haproxy/haproxy.cfg in front of two Torus instances,
with wrk driving load through HAProxy while each instance in turn is drained
with SIGTERM and a new one is started on its port: no request may fail (no
non-2xx response, no socket error), and both instances serve.

The instances are configured the way examples/systemd/torus@.service does it,
through TORUS_* environment variables. Skipped (exit 77) when haproxy or wrk
is missing; tools/install-deps test installs both. About 20 seconds."""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torus_harness as h  # noqa: E402

HAPROXY = shutil.which("haproxy")
WRK = shutil.which("wrk")
EXAMPLE = os.path.join(h.SOURCE_DIR, "examples", "haproxy", "haproxy.cfg")
LOAD_SECONDS = 16


def http_status(url, timeout=1.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


def wait_for(what, predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


class Instance:
    """One torus process, configured by TORUS_* variables only."""

    def __init__(self, name, workdir, root, port, admin):
        self.name, self.workdir, self.root, self.port, self.admin = name, workdir, root, port, admin
        self.generation = 0
        self.proc = None
        self.logs = []

    def start(self):
        self.generation += 1
        log = os.path.join(self.workdir, "access-%s-%d.log" % (self.name, self.generation))
        self.logs.append(log)
        env = dict(os.environ, TORUS_LISTEN="127.0.0.1:%d" % self.port,
                   TORUS_ADMIN_LISTEN="127.0.0.1:%d" % self.admin, TORUS_ROOT=self.root,
                   TORUS_THREADS="1", TORUS_NO_PIN="1", TORUS_ACCESS_LOG=log,
                   TORUS_TRUSTED_PROXY="127.0.0.1", TORUS_SHUTDOWN_TIMEOUT="10",
                   TORUS_LOG_LEVEL="warn")
        stderr = open(os.path.join(self.workdir, "torus-%s-%d.stderr"
                                   % (self.name, self.generation)), "wb")
        self.proc = subprocess.Popen([h.TORUS_BIN], env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=stderr)
        stderr.close()
        wait_for("%s to be ready" % self.name,
                 lambda: http_status("http://127.0.0.1:%d/readyz" % self.admin) == 200,
                 h.START_TIMEOUT)

    def drain(self):
        """SIGTERM; returns the old process (still draining)."""
        old = self.proc
        old.send_signal(signal.SIGTERM)
        return old

    def served(self):
        total = 0
        for log in self.logs:
            try:
                with open(log, "rb") as f:
                    total += sum(1 for _ in f)
            except OSError:
                pass
        return total

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=h.STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@h.torus_only("HAProxy in front of torus instances")
class ScaleOut(h.ServerTestCase):
    server_options = None

    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix="scale-out-", dir=self.workdir)
        root = os.path.join(self.dir, "public")
        os.mkdir(root)
        with open(os.path.join(root, "index.php"), "w") as f:
            f.write("<?php echo 'served by ', $_SERVER['SERVER_PORT'], ' for ', "
                    "$_SERVER['REMOTE_ADDR'], \"\\n\";")
        ports = [h.free_port() for _ in range(5)]
        self.front = ports[0]
        self.instances = [Instance("torus1", self.dir, root, ports[1], ports[2]),
                          Instance("torus2", self.dir, root, ports[3], ports[4])]
        for inst in self.instances:
            self.addCleanup(inst.stop)
            inst.start()
        with open(EXAMPLE) as f:
            cfg = f.read()
        for old, new in (("127.0.0.1:8080", "127.0.0.1:%d" % self.front),
                         ("127.0.0.1:8081", "127.0.0.1:%d" % self.instances[0].port),
                         ("127.0.0.1:8082", "127.0.0.1:%d" % self.instances[1].port),
                         ("port 9181", "port %d" % self.instances[0].admin),
                         ("port 9182", "port %d" % self.instances[1].admin)):
            self.assertIn(old, cfg)
            cfg = cfg.replace(old, new)
        path = os.path.join(self.dir, "haproxy.cfg")
        with open(path, "w") as f:
            f.write(cfg)
        self.haproxy_log = open(os.path.join(self.dir, "haproxy.stderr"), "wb")
        self.haproxy = subprocess.Popen([HAPROXY, "-db", "-f", path], stdin=subprocess.DEVNULL,
                                        stdout=self.haproxy_log, stderr=self.haproxy_log)
        self.addCleanup(self.stop_haproxy)
        wait_for("HAProxy", lambda: h.can_connect(self.front, 0.2), h.START_TIMEOUT)

    def stop_haproxy(self):
        if self.haproxy.poll() is None:
            self.haproxy.terminate()
            try:
                self.haproxy.wait(timeout=h.STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.haproxy.kill()
                self.haproxy.wait()
        self.haproxy_log.close()

    def test_rolling_restart_under_load_fails_no_request(self):
        # Through HAProxy, PHP sees the client's address (X-Forwarded-For from a trusted proxy).
        body = urllib.request.urlopen("http://127.0.0.1:%d/index.php" % self.front,
                                      timeout=5).read()
        self.assertRegex(body, rb"^served by \d+ for 127\.0\.0\.1\n$")

        wrk = subprocess.Popen([WRK, "-t2", "-c16", "-d%ds" % LOAD_SECONDS, "--timeout", "5s",
                                "http://127.0.0.1:%d/index.php" % self.front],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
        try:
            for inst in self.instances:
                time.sleep(3)
                old = inst.drain()
                inst.start()  # on the same ports, while the old one still drains
                self.assertEqual(old.wait(timeout=h.STOP_TIMEOUT), 0)
                time.sleep(1)  # HAProxy's rise 2 x 250 ms: the new instance is back in
            out, _ = wrk.communicate(timeout=LOAD_SECONDS + 30)
        finally:
            if wrk.poll() is None:
                wrk.kill()
                wrk.wait()
        text = out.decode("utf-8", "replace")
        sys.stdout.write("\n" + text)
        self.assertEqual(wrk.returncode, 0, text)
        total = re.search(r"(\d+) requests in", text)
        self.assertTrue(total, text)
        self.assertNotIn("Non-2xx or 3xx responses", text)
        self.assertNotIn("Socket errors", text)
        for inst in self.instances:
            inst.stop()  # its access log is complete once it has exited
        served = [inst.served() for inst in self.instances]
        sys.stdout.write("requests served: %s (wrk counted %s, plus the first request)\n"
                         % (", ".join("%s %d" % (i.name, n)
                                      for i, n in zip(self.instances, served)),
                            total.group(1)))
        self.assertTrue(all(n > 0 for n in served), served)
        # Every request wrk completed was served by one of the instances (none lost or doubled
        # beyond HAProxy's retries of requests that reached no instance).
        self.assertGreaterEqual(sum(served), int(total.group(1)))


if __name__ == "__main__":
    if not HAPROXY or not WRK:
        print("test_scale_out: haproxy or wrk is missing (tools/install-deps test); skipped")
        sys.exit(77)
    h.main()
