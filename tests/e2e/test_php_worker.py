"""PHP worker mode end to end (issue 6): `torus --root DIR --worker FILE`
with the worker scripts of tests/e2e/php_fixtures/worker, asserting what
FrankenPHP does with the same scripts, and what the issue adds to it.

Covered: the API (torus_handle_request and frankenphp_handle_request,
$_SERVER['FRANKENPHP_WORKER'] and ['TORUS_WORKER']); statics persisting
while superglobals, headers, status, sessions and putenv() are reset
between requests; zlib compression per request; static files served
without the worker; exit(), fatal errors and exceptions in the handler;
workers that cannot boot (--max-consecutive-failures); --max-requests;
SIGHUP restarting the worker without failing a request; SIGTERM ending
the worker's loop and the server with 0.

worker.php counts the requests of the current run of the script in a
static, so a restart shows as the count starting again from 1. One server
per class has one shard and one executor: every request reaches the same
worker."""

import gzip
import json
import os
import select
import re
import signal
import sys
import unittest
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torus_harness as h  # noqa: E402
from torus_harness import get  # noqa: E402
# The servers, fixture copies and request builders of the classic-mode tests.
from test_php_classic import ENV_VALUE, PhpServer, PhpTestCase, multipart, post  # noqa: E402

GZIP_TEXT = b"Torus compresses this line when asked to.\n" * 200


class WorkerTestCase(PhpTestCase):
    """The class server runs worker_script from a copy of php_fixtures/worker,
    with its public/ as the document root."""

    fixture = "worker"
    docroot = "public"
    worker_script = "worker.php"

    @classmethod
    def make_server(cls):
        cls.php_options = dict(cls.php_options,
                               worker=os.path.join(cls.fixture_dir, cls.worker_script))
        return super().make_server()

    def start_worker(self, script="worker.php", **options):
        # One executor unless a test asks for more: these tests follow one worker script's
        # state (its request count) from request to request.
        options.setdefault("php_threads_per_core", 1)
        return self.start_php_server(
            root=self.root, defines=["session.save_path=" + self.sessions],
            worker=os.path.join(self.fixture_dir, script), **options)

    def count(self, srv=None):
        resp = (srv or self.server).get("/count")
        self.assertStatus(resp, 200)
        return int(resp.body)

    def dump(self, raw=None):
        return self.fetch_json(raw or get("/dump"))


# ---------------------------------------------------------------------------
# The API and the state between requests
# ---------------------------------------------------------------------------


class WorkerApi(WorkerTestCase):
    defines = ("zlib.output_compression=1",)

    def test_worker_variables(self):
        data = self.dump()
        # Set in the worker script's own $_SERVER (at boot), as FrankenPHP does,
        # not in each request's.
        self.assertEqual(data["boot"]["FRANKENPHP_WORKER"], "1")
        self.assertEqual(data["boot"]["TORUS_WORKER"], "1")
        self.assertIsNone(data["FRANKENPHP_WORKER"], data)
        self.assertIsNone(data["TORUS_WORKER"], data)
        self.assertEqual(data["env"], ENV_VALUE)  # the process environment

    def test_every_non_static_path_reaches_the_worker(self):
        for target in ("/", "/some/route?x=1", "/index.php", "/missing.php/extra"):
            resp = self.server.get(target)
            self.assertStatus(resp, 404)
            self.assertEqual(resp.body, b"no such route\n", target)

    def test_statics_persist_across_requests(self):
        first = self.count()
        self.assertEqual([self.count() for _ in range(5)], list(range(first + 1, first + 6)))

    def test_superglobals_are_fresh_per_request(self):
        data = self.dump(post("/dump?from=first", "field=posted&list%5B%5D=1",
                              headers=[("Cookie", "flavour=chocolate")]))
        self.assertEqual(data["REQUEST_METHOD"], "POST")
        self.assertEqual(data["GET"], {"from": "first"})
        self.assertEqual(data["POST"], {"field": "posted", "list": ["1"]})
        self.assertEqual(data["COOKIE"], {"flavour": "chocolate"})
        self.assertEqual(data["REQUEST"]["from"], "first")
        self.assertEqual(data["REQUEST"]["field"], "posted")

        data = self.dump(get("/dump?second=2"))
        self.assertEqual(data["REQUEST_METHOD"], "GET")
        self.assertEqual(data["REQUEST_URI"], "/dump?second=2")
        self.assertEqual(data["GET"], {"second": "2"})
        self.assertEqual(data["POST"], [])
        self.assertEqual(data["COOKIE"], [])
        self.assertNotIn("from", data["REQUEST"])
        self.assertNotIn("field", data["REQUEST"])

    def test_files_are_fresh_and_temp_files_deleted(self):
        content = h.big_content(3000)
        ctype, body = multipart({"title": "t"}, {"upload": ("a.bin", "application/octet-stream",
                                                            content)})
        data = self.dump(post("/dump", body, content_type=ctype))
        upload = data["FILES"]["upload"]
        self.assertEqual((upload["name"], upload["size"]), ("a.bin", len(content)))
        self.assertTrue(upload["tmp_exists"])
        self.assertEqual(data["POST"], {"title": "t"})
        data = self.dump()
        self.assertEqual(data["FILES"], [])
        self.assertEqual(data["POST"], [])
        deadline = time.monotonic() + 2 * h.SLOW
        while os.path.exists(upload["tmp_name"]) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertFalse(os.path.exists(upload["tmp_name"]), "upload temp file left behind")

    def test_server_array_is_this_requests(self):
        with self.server.connect() as conn:
            conn.send(get("/dump", [("X-Test", "one")]))
            first = json.loads(conn.read_response().body)
            port = conn.sock.getsockname()[1]
        time.sleep(0.05)
        second = self.dump()
        self.assertEqual(int(first["REMOTE_PORT"]), port)
        self.assertEqual(first["HTTP_X_TEST"], "one")
        self.assertEqual(first["headers"].get("X-Test"), "one")
        self.assertIsNone(second["HTTP_X_TEST"])
        self.assertNotIn("X-Test", second["headers"])
        self.assertNotEqual(second["REMOTE_PORT"], first["REMOTE_PORT"])
        self.assertGreater(second["REQUEST_TIME_FLOAT"], first["REQUEST_TIME_FLOAT"] + 0.04)

    def test_open_output_buffer_is_sent_and_not_carried_over(self):
        resp = self.server.get("/buffered")
        self.assertStatus(resp, 200)
        self.assertEqual(resp.body, b"left in an open buffer")
        resp = self.server.get("/count")
        self.assertStatus(resp, 200)
        self.assertTrue(resp.body.isdigit(), resp.body)

    def test_flush_streams(self):
        with self.server.connect() as conn:
            started = time.monotonic()
            conn.send(get("/stream"))
            head = conn.read_head()
            self.assertStatus(head, 200)
            self.assertEqual(head.header("Transfer-Encoding"), "chunked", head.headers)
            data = b""
            while b"first part" not in data:
                more = conn.read_some()
                self.assertTrue(more, "closed before the first part")
                data += more
            self.assertNotIn(b"second part", data)
            self.assertLess(time.monotonic() - started, 0.8, "the first part waited")
            while not data.endswith(b"0\r\n\r\n"):
                more = conn.read_some()
                self.assertTrue(more, "closed before the last chunk: %r" % data)
                data += more
        self.assertIn(b"second part", data)
        self.assertEqual(self.server.get("/count").status, 200)

    def test_headers_and_status_are_reset(self):
        resp = self.server.get("/leave-state")
        self.assertStatus(resp, 418)
        self.assertEqual(resp.header("X-Left-Behind"), "yes")
        resp = self.server.get("/count")
        self.assertStatus(resp, 200)
        self.assertIsNone(resp.header("X-Left-Behind"))
        self.assertEqual(resp.media_type(), "text/html")

    def test_putenv_does_not_reach_the_next_request(self):
        with self.server.connect() as conn:  # the same connection, too
            conn.send(get("/leave-state"))
            self.assertEqual(conn.read_response().body, b"leaked")
            conn.send(get("/dump"))
            data = json.loads(conn.read_response().body)
        self.assertIs(data["putenv"], False)
        self.assertEqual(data["env"], ENV_VALUE)

    def test_sessions_are_reset_and_isolated(self):
        def session(query="", cookie=None):
            resp = self.server.fetch(get("/session" + query,
                                         [("Cookie", cookie)] if cookie else []))
            self.assertStatus(resp, 200)
            cookies = [m.group(1) for v in resp.header_all("Set-Cookie")
                       for m in [re.match(r"(PHPSESSID=[^;]+)", v)] if m]
            return json.loads(resp.body), (cookies[0] if cookies else None)

        a, cookie_a = session("?set=alpha")
        self.assertEqual((a["visits"], a["value"]), (1, "alpha"))
        self.assertEqual(cookie_a, "PHPSESSID=" + a["id"])
        b, cookie_b = session()  # right after A, without a cookie: a new session
        self.assertNotEqual(b["id"], a["id"])
        self.assertEqual((b["visits"], b["value"]), (1, None))
        self.assertIsNotNone(cookie_b)
        a2, _ = session(cookie=cookie_a)
        self.assertEqual((a2["id"], a2["visits"], a2["value"]), (a["id"], 2, "alpha"))
        b2, _ = session("?set=beta", cookie=cookie_b)
        self.assertEqual((b2["id"], b2["visits"], b2["value"]), (b["id"], 2, "beta"))
        a3, _ = session(cookie=cookie_a)
        self.assertEqual((a3["visits"], a3["value"]), (3, "alpha"))

    def test_zlib_compression_follows_each_request(self):
        for accept in (True, False, True, False):
            headers = [("Accept-Encoding", "gzip")] if accept else []
            resp = self.server.get("/gzip", headers)
            self.assertStatus(resp, 200)
            if accept:
                self.assertEqual(resp.header("Content-Encoding"), "gzip", resp.headers)
                self.assertEqual(gzip.decompress(resp.body), GZIP_TEXT)
            else:
                self.assertIsNone(resp.header("Content-Encoding"), resp.headers)
                self.assertEqual(resp.body, GZIP_TEXT)

    def test_static_file_next_to_the_worker(self):
        before = self.count()
        resp = self.server.get("/static.txt")
        self.assertStatus(resp, 200)
        self.assertEqual(resp.body, b"a static file next to the worker\n")
        self.assertEqual(resp.media_type(), "text/plain")
        self.assertEqual(self.count(), before + 1)  # the worker did not see it

    def test_uncaught_exception_gives_500_and_the_worker_goes_on(self):
        before = self.count()
        resp = self.server.get("/throw")
        self.assertStatus(resp, 500)
        self.assertNotIn(b"thrown in the handler", resp.body)
        self.assertEqual(self.count(), before + 2)

    def test_exit_completes_the_response_then_restarts(self):
        self.count()
        self.assertGreaterEqual(self.count(), 2)
        resp = self.server.get("/exit")
        self.assertStatus(resp, 200)
        self.assertEqual(resp.body, b"exiting\n")
        self.assertEqual(self.count(), 1)
        self.assertEqual(self.count(), 2)

    def test_fatal_error_gives_500_then_restarts(self):
        self.count()
        self.assertGreaterEqual(self.count(), 2)
        resp = self.server.get("/fatal")
        self.assertStatus(resp, 500)
        self.assertNotIn(b"on purpose", resp.body)
        self.assertEqual(self.count(), 1)

    def test_memory_exhaustion_gives_500_then_restarts(self):
        self.count()
        self.assertGreaterEqual(self.count(), 2)
        self.assertStatus(self.server.get("/memory"), 500)
        self.assertEqual(self.count(), 1)

    # ThreadSanitizer cannot deliver the time-limit signal to a busy PHP loop,
    # so TSan builds run without max_execution_time (see sapi/timer.c).
    @unittest.skipIf(h.SANITIZE == "thread", "no time limit under ThreadSanitizer")
    def test_timeout_gives_500_then_restarts(self):
        self.count()
        self.assertGreaterEqual(self.count(), 2)
        started = time.monotonic()
        self.assertStatus(self.server.get("/timeout"), 500)
        self.assertLess(time.monotonic() - started, 4 * h.SLOW)
        self.assertEqual(self.count(), 1)

    @unittest.skipIf(h.SANITIZE == "thread", "no time limit under ThreadSanitizer")
    def test_time_limit_belongs_to_its_own_request(self):
        # Six requests of 0.3 s, each with a 1 s limit, one after the other: the
        # limits of the earlier ones pass while later ones run, and must not
        # cut them off, nor wake their usleep() early.
        first = self.count()
        for _ in range(6):
            resp = self.server.get("/nap")
            self.assertStatus(resp, 200)
            slept = float(resp.body.split()[1])
            self.assertGreaterEqual(slept, 0.29)
        self.assertEqual(self.count(), first + 7)  # the same worker all along

    def test_filter_input_server_per_request(self):
        # Each request's own variables, though the worker stays.
        for n in range(3):
            self.check_filter_server("/filter_server?n=%d" % n, "value %d" % n)

    def test_keep_alive_across_many_worker_requests(self):
        with self.server.connect() as conn:
            first = None
            for i in range(50):
                conn.send(get("/count"))
                resp = conn.read_response()
                self.assertStatus(resp, 200)
                first = first or int(resp.body)
                self.assertEqual(int(resp.body), first + i)


class FrankenphpApi(WorkerTestCase):
    worker_script = "frankenphp_worker.php"

    def test_frankenphp_handle_request(self):
        for n in (1, 2, 3):
            resp = self.server.get("/anything")
            self.assertStatus(resp, 200)
            self.assertEqual(resp.body, b"frankenphp worker, request %d, FRANKENPHP_WORKER=1" % n)


# ---------------------------------------------------------------------------
# Lifecycle: boot failures, recycling, signals
# ---------------------------------------------------------------------------


class Lifecycle(WorkerTestCase):
    class_server = False

    def setUp(self):
        super().setUp()
        if os.path.exists(os.path.join(self.markers, "stopped")):
            os.unlink(os.path.join(self.markers, "stopped"))

    def assertGivesUp(self, script, line=None):
        srv = PhpServer(self.root, self.workdir, worker=os.path.join(self.fixture_dir, script),
                        max_consecutive_failures=2)
        self._servers_used.append((srv, 0))
        self.addCleanup(srv.kill)
        try:
            srv.start()  # it may listen for a moment before giving up
        except AssertionError:
            pass
        code = srv.wait_exit(15 * h.SLOW)
        self.assertIsNotNone(code, "torus still runs with a worker that cannot boot")
        self.assertNotEqual(code, 0)
        self.assertGreater(code, 0, "killed by a signal: %d" % code)
        log = srv.log()
        self.assertIn(script, log)
        if line is not None:
            self.assertRegex(log, re.escape(script) + r"(:| on line )%d\b" % line)

    def test_syntax_error_at_boot(self):
        self.assertGivesUp("bad_syntax.php", line=5)

    def test_exception_at_boot(self):
        self.assertGivesUp("boot_exception.php", line=3)

    def test_max_requests_restarts_the_worker(self):
        srv = self.start_worker(max_requests=3)
        self.assertEqual([self.count(srv) for _ in range(7)], [1, 2, 3, 1, 2, 3, 1])
        self.assertEqual(self.marker("stopped"), "stopped after 3 requests\n")

    def test_sighup_restarts_the_worker_without_failing_a_request(self):
        srv = self.start_worker()
        results = []
        stop = threading.Event()

        def client():
            while not stop.is_set():
                try:
                    resp = srv.get("/count")
                    results.append((resp.status, resp.body))
                except Exception as e:  # noqa: BLE001 - every failure is a result
                    results.append(("error", repr(e)))

        thread = threading.Thread(target=client, daemon=True)
        thread.start()
        try:
            time.sleep(0.3)
            before = len(results)
            srv.send_signal(signal.SIGHUP)
            time.sleep(1.2 * h.SLOW)
        finally:
            stop.set()
            thread.join(10)
        self.assertTrue(srv.alive())
        failed = [r for r in results if r[0] != 200]
        self.assertEqual(failed, [], "requests failed around the SIGHUP")
        counts = [int(body) for _, body in results]
        self.assertGreater(before, 3, "too few requests before the SIGHUP")
        self.assertGreater(len(counts), before + 3, "too few requests after the SIGHUP")
        resets = [i for i in range(1, len(counts)) if counts[i] <= counts[i - 1]]
        self.assertEqual(len(resets), 1, "expected exactly one restart: %r" % counts)
        self.assertEqual(counts[resets[0]], 1)
        self.assertTrue((self.marker("stopped") or "").startswith("stopped after"),
                        "torus_handle_request() did not return false on SIGHUP")

    @h.needs_zts("a worker with two executors in one shard")
    def test_a_slow_request_does_not_hold_quick_ones_behind_it(self):
        # The worker's own num=2, with one executor per shard for everything else: while one
        # request sleeps, the next ones go to the second executor instead of queueing
        # behind it, even those sent the moment the slow one began.
        srv = self.start_worker("worker.php num=2")
        for _ in range(3):
            self.assertStatus(srv.get("/count"), 200)  # both executors have booted
        with srv.connect() as conn:
            conn.send(get("/stream"))  # "first part", then a second of sleep()
            self.assertStatus(conn.read_head(), 200)
            data = b""
            while b"first part" not in data:
                more = conn.read_some()
                self.assertTrue(more, "closed before the first part")
                data += more
            for _ in range(5):
                self.assertStatus(srv.get("/count"), 200)
            if select.select([conn.sock], [], [], 0)[0]:
                data += conn.sock.recv(65536)
            self.assertNotIn(b"second part", data,
                             "the quick requests were answered only after the slow one")

    def test_sigterm_ends_the_loop_and_exits_0(self):
        srv = self.start_worker()
        self.assertEqual(self.count(srv), 1)
        self.assertEqual(self.count(srv), 2)
        self.assertIsNone(self.marker("stopped"))
        srv.send_signal(signal.SIGTERM)
        self.assertEqual(srv.wait_exit(10 * h.SLOW), 0)
        self.assertEqual(self.marker("stopped"), "stopped after 2 requests\n")


if __name__ == "__main__":
    h.main()
