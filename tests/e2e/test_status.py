"""The live status of the admin listener (issue 19): /status.json, the page
/status and `torus status`.

A server with two shards (two executors each with a thread-safe PHP, one
with Debian's) and --admin-listen on 127.0.0.1 serves a few static files and
one slow PHP request (slow.php sleeps, bounded). While that request runs,
/status.json must show its executor busy with the method and the path
without the query, the shard's pid among the supervisor's children, the
latency buckets as /metrics has them and the per-shard requests adding up to
/metrics' total; a path full of quotes, backslashes, control characters and
bytes that are not UTF-8 must still give valid JSON. Under a short load the
request rate turns positive. /status is one self-contained HTML page (nothing
loaded from elsewhere). `torus status --admin ... --once` prints the shard
table and exits 0; without --once it refreshes in place until SIGTERM; a bad
or unreachable address is exit code 2 and one line."""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torus_harness as h  # noqa: E402
from torus_harness import admin_get, wait_for  # noqa: E402
from test_php_classic import PhpServer  # noqa: E402

# Sleeps for ?ms= milliseconds (at most 10 s), then answers.
SLOW_PHP = b"""<?php
usleep(1000 * min(10000, (int)($_GET['ms'] ?? 100)));
echo "slept\\n";
"""

SLOW_MS = int(4000 * h.SLOW)
CLI_TIMEOUT = 30 * h.SLOW


def executors_per_shard():
    return 2 if h.php_kind() == "ZTS" else 1


def metric_values(port):
    values = {}
    for line in admin_get(port, "/metrics").body.decode().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def status(port):
    resp = admin_get(port, "/status.json")
    if resp.status != 200:
        raise AssertionError("/status.json answered %r" % resp)
    return json.loads(resp.body.decode("utf-8"))  # strict: invalid UTF-8 or JSON raises


def busy_executors(doc):
    return [(s["shard"], x) for s in doc["shards"] for x in s["executors"] if x["state"] == "busy"]


class Background:
    """A request sent on its own connection and read in a thread, so a test
    can look at the server while it runs; join() returns its response."""

    def __init__(self, port, target):
        self.response = None
        self.error = None
        self.conn = h.Conn(port, timeout=SLOW_MS / 1000 + 10 * h.SLOW)
        self.conn.send(h.get(target))
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            self.response = self.conn.read_response(within=SLOW_MS / 1000 + 15 * h.SLOW)
        except Exception as e:  # noqa: BLE001 - reported by join()
            self.error = e

    def join(self):
        self.thread.join(SLOW_MS / 1000 + 20 * h.SLOW)
        self.conn.close()
        if self.error:
            raise self.error
        return self.response


class Load:
    """GET /hello.txt on keep-alive connections from one thread until stop(),
    or for at most `limit` seconds."""

    def __init__(self, port, limit=20.0):
        self.port = port
        self.deadline = time.monotonic() + limit
        self.stopped = threading.Event()
        self.count = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopped.is_set() and time.monotonic() < self.deadline:
            try:
                with h.Conn(self.port) as c:
                    for _ in range(50):
                        c.send(h.get("/hello.txt"))
                        c.read_response()
                        self.count += 1
            except (OSError, h.ProtocolError):
                time.sleep(0.01)

    def stop(self):
        self.stopped.set()
        self.thread.join(10)


class StatusTestCase(h.ServerTestCase):
    """One server for the class: two shards, --admin-listen on a free port."""

    server_options = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with open(os.path.join(cls.root, "slow.php"), "wb") as f:
            f.write(SLOW_PHP)
        cls.admin_port = h.free_port()
        cls.server = cls.make_server()

    @classmethod
    def make_server(cls):
        srv = PhpServer(cls.root, cls.workdir, threads=2,
                        php_threads_per_core=executors_per_shard(),
                        admin_listen="127.0.0.1:%d" % cls.admin_port).start()
        if not wait_for(lambda: h.can_connect(cls.admin_port, 0.2), h.START_TIMEOUT):
            raise AssertionError("the admin port never opened")
        if not wait_for(lambda: admin_get(cls.admin_port, "/readyz").status == 200,
                        10 * h.SLOW):
            raise AssertionError("the server never became ready")
        return srv

    def setUp(self):
        cls = type(self)
        if cls.server is not None and not cls.server.alive():
            cls.server = cls.make_server()
        super().setUp()

    @property
    def admin_address(self):
        return "127.0.0.1:%d" % self.admin_port

    def wait_busy(self, path):
        """Polls /status.json until an executor runs `path`; that document."""
        found = {}

        def look():
            doc = status(self.admin_port)
            if any(x["path"] == path for _, x in busy_executors(doc)):
                found["doc"] = doc
                return True
            return False

        self.assertTrue(wait_for(look, 10 * h.SLOW), "no executor ever showed %s busy" % path)
        return found["doc"]

    def run_cli(self, *args, timeout=CLI_TIMEOUT):
        return subprocess.run([h.TORUS_BIN, "status"] + list(args), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)


@h.torus_only("the admin listener")
class StatusJson(StatusTestCase):

    def check_structure(self, doc):
        self.assertEqual(set(doc), {"version", "uptime_seconds", "ready", "draining",
                                    "executors_per_shard", "rate_interval_seconds",
                                    "latency_bounds_seconds", "shards"})
        version = subprocess.run([h.TORUS_BIN, "--version"], stdout=subprocess.PIPE,
                                 timeout=30).stdout.decode().split("\n")[0]
        self.assertEqual("torus " + doc["version"], version)
        self.assertGreater(doc["uptime_seconds"], 0)
        self.assertIs(doc["ready"], True)
        self.assertIs(doc["draining"], False)
        self.assertEqual(doc["executors_per_shard"], executors_per_shard())
        bounds = doc["latency_bounds_seconds"]
        self.assertEqual(bounds, [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                  0.5, 1, 2.5, 5, 10])
        self.assertEqual([s["shard"] for s in doc["shards"]], [0, 1])
        children = set(h.server_pids(self.server.proc.pid)[1:])
        for s in doc["shards"]:
            self.assertEqual(set(s), {"shard", "pid", "cpu", "up", "restarts", "crashes",
                                      "worker_restarts", "worker_crashes", "connections_open",
                                      "connections_idle", "queue_depth", "requests_total",
                                      "requests_per_second", "latency_buckets", "latency_count",
                                      "latency_sum_seconds", "executors"})
            self.assertIn(s["pid"], children)
            self.assertIsNone(s["cpu"])  # the harness runs with --no-pin
            self.assertIs(s["up"], True)
            for key in ("restarts", "crashes", "worker_restarts", "worker_crashes",
                        "connections_open", "connections_idle", "queue_depth",
                        "requests_total", "latency_count"):
                self.assertIsInstance(s[key], int, key)
                self.assertGreaterEqual(s[key], 0, key)
            self.assertEqual((s["restarts"], s["crashes"]), (0, 0))
            self.assertGreaterEqual(s["requests_per_second"], 0)
            buckets = s["latency_buckets"]
            self.assertEqual(len(buckets), len(bounds) + 1)
            self.assertEqual(buckets, sorted(buckets))  # cumulative
            self.assertEqual(buckets[-1], s["latency_count"])
            self.assertEqual(len(s["executors"]), executors_per_shard())
            for i, x in enumerate(s["executors"]):
                self.assertEqual(set(x), {"executor", "state", "method", "path",
                                          "running_seconds"})
                self.assertEqual(x["executor"], i)
                self.assertIn(x["state"], ("idle", "busy", "starting"))
                if x["state"] != "busy":
                    self.assertEqual((x["method"], x["path"], x["running_seconds"]),
                                     (None, None, None))

    def test_busy_executor_and_structure(self):
        srv = self.server
        for _ in range(5):
            self.assertStatus(srv.get("/hello.txt"), 200)
        self.assertStatus(srv.get("/missing.txt"), 404)
        slow = Background(srv.port, "/slow.php?ms=%d&token=SECRET-TOKEN" % SLOW_MS)
        doc = self.wait_busy("/slow.php")
        self.check_structure(doc)
        [(shard, x)] = [(s, x) for s, x in busy_executors(doc) if x["path"] == "/slow.php"]
        self.assertEqual(x["method"], "GET")
        self.assertGreaterEqual(x["running_seconds"], 0)
        raw = admin_get(self.admin_port, "/status.json").body
        self.assertNotIn(b"SECRET-TOKEN", raw)
        self.assertNotIn(b"ms=", raw)
        time.sleep(0.5)
        later = [x2 for s, x2 in busy_executors(status(self.admin_port))
                 if s == shard and x2["executor"] == x["executor"]]
        self.assertEqual(len(later), 1)
        self.assertGreater(later[0]["running_seconds"], x["running_seconds"])
        self.assertGreaterEqual(doc["shards"][shard]["connections_open"], 1)

        self.assertStatus(slow.join(), 200)
        # Quiet now (once the last connections have closed: they close after their answers):
        # the shards' numbers add up to /metrics' sums.
        deadline = time.monotonic() + 5
        while True:
            doc = status(self.admin_port)
            m = metric_values(self.admin_port)
            settled = sum(s["connections_open"] for s in doc["shards"]) == m["torus_connections_open"]
            if settled or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        total = sum(v for k, v in m.items() if k.startswith("torus_requests_total{"))
        self.assertEqual(sum(s["requests_total"] for s in doc["shards"]), total)
        self.assertGreaterEqual(total, 7)
        for s in doc["shards"]:
            self.assertEqual(s["requests_total"],
                             m['torus_shard_requests_total{shard="%d"}' % s["shard"]])
            self.assertEqual(s["queue_depth"], m['torus_queue_depth{shard="%d"}' % s["shard"]])
        self.assertEqual(sum(s["latency_count"] for s in doc["shards"]),
                         m["torus_request_duration_seconds_count"])
        for i, le in enumerate(doc["latency_bounds_seconds"]):
            name = 'torus_request_duration_seconds_bucket{le="%g"}' % le
            self.assertEqual(sum(s["latency_buckets"][i] for s in doc["shards"]), m[name], name)
        self.assertEqual(sum(s["connections_open"] for s in doc["shards"]),
                         m["torus_connections_open"])
        busy = sum(1 for _ in busy_executors(doc))
        self.assertEqual(busy, m['torus_executors{state="busy"}'])

    def test_path_with_quotes_controls_and_bad_utf8(self):
        # PATH_INFO after the script: a quote, a backslash, ESC, a control character, é, a
        # byte that is not UTF-8, then a decoded '?' (%3F) and a real query.
        target = "/slow.php/a%22b%5Cc%1B%01%C3%A9%FF%3Fhidden?ms=" + str(SLOW_MS) + "&q=SECRET-Q"
        slow = Background(self.server.port, target)
        raw = None
        expected = '/slow.php/a"b\\c\x1b\x01\u00e9\ufffd'

        def look():
            nonlocal raw
            raw = admin_get(self.admin_port, "/status.json").body
            doc = json.loads(raw.decode("utf-8"))
            return any(x["path"] == expected for _, x in busy_executors(doc))

        self.assertTrue(wait_for(look, 10 * h.SLOW), "never shown busy: %r" % raw)
        self.assertNotIn(b"SECRET-Q", raw)
        self.assertNotIn(b"hidden", raw)
        self.assertFalse(re.search(rb"[\x00-\x1f\x7f]", raw), "a raw control byte in %r" % raw)
        self.assertStatus(slow.join(), 200)

    def test_request_rate(self):
        load = Load(self.server.port)
        try:
            # Samples are taken once a second: a rate shows within about two.
            rates = []

            def positive():
                doc = status(self.admin_port)
                rates.append([s["requests_per_second"] for s in doc["shards"]])
                return sum(rates[-1]) > 0 and doc["rate_interval_seconds"] is not None

            self.assertTrue(wait_for(positive, 6 * h.SLOW), "rates stayed at zero: %r" % rates)
            doc = status(self.admin_port)
            self.assertGreaterEqual(doc["rate_interval_seconds"], 0.9)
            self.assertLess(doc["rate_interval_seconds"], 3 * h.SLOW)
        finally:
            load.stop()
        self.assertGreater(load.count, 0)
        # Without load the rate falls back to zero once two quiet samples are in.
        self.assertTrue(wait_for(lambda: sum(s["requests_per_second"]
                                             for s in status(self.admin_port)["shards"]) == 0,
                                 5 * h.SLOW))

    def test_head_and_method(self):
        with h.Conn(self.admin_port) as c:
            c.send(h.request("HEAD", "/status.json"))
            resp = c.read_response(head_request=True)
        self.assertStatus(resp, 200)
        self.assertEqual(resp.header("Content-Type"), "application/json")
        self.assertEqual(resp.header("Cache-Control"), "no-store")
        with h.Conn(self.admin_port) as c:
            c.send(h.request("POST", "/status.json", {"Content-Length": "0"}))
            self.assertStatus(c.read_response(), 405)


@h.torus_only("the admin listener")
class StatusPage(StatusTestCase):

    def test_page_is_self_contained(self):
        resp = admin_get(self.admin_port, "/status")
        self.assertStatus(resp, 200)
        self.assertEqual(resp.media_type(), "text/html")
        csp = resp.header("Content-Security-Policy") or ""
        self.assertIn("default-src 'none'", csp)
        self.assertIn("connect-src 'self'", csp)
        body = resp.body.decode("utf-8")
        self.assertTrue(body.startswith("<!doctype html>"))
        self.assertIn("status.json", body)
        for needle in ('src="http', "src='http", 'href="http', "href='http", "<link",
                       "@import", "url(", "<iframe", "src=\"//", "href=\"//"):
            self.assertNotIn(needle, body.lower())
        # The only absolute URL is the SVG namespace name, which is never fetched.
        urls = set(re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}[^\s\"'<>]*", body, re.I))
        self.assertEqual(urls, {"http://www.w3.org/2000/svg"})
        self.assertNotIn(".innerHTML", body)  # server text goes in as text, never as markup


@h.torus_only("the admin listener")
class StatusCli(StatusTestCase):

    def test_once_prints_the_table(self):
        slow = Background(self.server.port, "/slow.php?ms=%d&token=SECRET-TOKEN" % SLOW_MS)
        self.wait_busy("/slow.php")
        out = self.run_cli("--admin", self.admin_address, "--once")
        text = out.stdout.decode("utf-8", "replace")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stderr, b"")
        self.assertNotIn("\x1b", text)  # --once is for scripts: no escape sequences
        self.assertRegex(text, r"^torus \S+ at 127\.0\.0\.1:%d, up " % self.admin_port)
        self.assertRegex(text, r"\nshard +pid +cpu +state +req/s +requests +open +idle +queue "
                               r"+restarts +crashes +php-fail +p50 +p99\n")
        for shard in (0, 1):
            self.assertRegex(text, r"\n +%d +\d+ +any +up " % shard)
        self.assertRegex(text, r"\n +\d\.\d +busy +\d+\.\d\d s +GET /slow\.php\n")
        self.assertNotIn("SECRET-TOKEN", text)
        self.assertStatus(slow.join(), 200)

    def test_refreshes_in_place_until_sigterm(self):
        proc = subprocess.Popen([h.TORUS_BIN, "status", "--admin", self.admin_address],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        try:
            time.sleep(2.5)
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=CLI_TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        self.assertEqual(proc.returncode, 0, err)
        text = out.decode("utf-8", "replace")
        self.assertGreaterEqual(text.count("\x1b[H\x1b[2J"), 2)
        self.assertGreaterEqual(text.count("\nshard "), 2)

    def test_bad_or_unreachable_address(self):
        closed_port = h.free_port()  # bound and closed again: nothing listens there
        cases = [
            (["--admin", "127.0.0.1:%d" % closed_port, "--once"], "cannot connect"),
            (["--admin", "127.0.0.1:%d" % closed_port], "cannot connect"),  # no table first
            (["--admin", "nope", "--once"], "bad admin address 'nope'"),
            (["--admin", "127.0.0.1:99999", "--once"], "bad admin address"),
            (["--admin", "127.0.0.1:0", "--once"], "port 0"),
            (["--admin", "127.0.0.1:%d" % self.server.port, "--once"], "answered 404"),
            (["--once"], "--admin HOST:PORT is required"),
            (["--admin"], "--admin needs HOST:PORT"),
            (["--bogus"], "unknown argument '--bogus'"),
        ]
        for args, message in cases:
            out = self.run_cli(*args)
            err = out.stderr.decode()
            self.assertEqual(out.returncode, 2, (args, err))
            self.assertEqual(err.count("\n"), 1, (args, err))
            self.assertTrue(err.startswith("torus status: "), (args, err))
            self.assertIn(message, err, args)
            self.assertEqual(out.stdout, b"", args)

    def test_help_and_the_rest_of_main(self):
        out = self.run_cli("--help")
        self.assertEqual(out.returncode, 0)
        self.assertIn(b"--admin HOST:PORT", out.stdout)
        self.assertIn(b"--once", out.stdout)
        # The server's own command line is untouched.
        out = subprocess.run([h.TORUS_BIN, "--help"], stdout=subprocess.PIPE, timeout=30)
        self.assertEqual(out.returncode, 0)
        self.assertIn(b"torus status --admin HOST:PORT", out.stdout)
        self.assertIn(b"--admin-listen", out.stdout)
        out = subprocess.run([h.TORUS_BIN, "--version"], stdout=subprocess.PIPE, timeout=30)
        self.assertEqual(out.returncode, 0)
        self.assertTrue(out.stdout.startswith(b"torus "))
        out = subprocess.run([h.TORUS_BIN, "--no-such-flag"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(out.returncode, 2)


if __name__ == "__main__":
    h.main()
