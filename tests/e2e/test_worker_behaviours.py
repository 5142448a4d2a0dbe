"""What frameworks written for FrankenPHP's worker mode rely on, in worker
mode and, where it applies, in classic mode on the same cases.

The worker, php_fixtures/workers/public/behave.php, is written the way
Laravel Octane's and Symfony Runtime's FrankenPHP workers are
(ignore_user_abort(true), a MAX_REQUESTS loop around
frankenphp_handle_request(), gc_collect_cycles() between requests); its
requests and the classic script classic.php/<case> run the same cases
(lib/behaviours.php):

  exit, dd, destruct   output before exit() and from destructors reaches the client
  session...           a save handler the script sets keeps working; a session whose
                       request timed out or died releases its lock
  abort                a client that resets the connection does not restart the worker
  log                  frankenphp_log() / torus_log() in the server's log
  auth                 PHP_AUTH_USER, PHP_AUTH_PW, AUTH_TYPE, REMOTE_USER; malformed
                       Authorization headers set nothing
  hints                the 103 carries every header set before headers_send(103)
  cgi                  CONTENT_TYPE / CONTENT_LENGTH without HTTP_ twins
  putenv               undone between requests
  finish               connection_status() after fastcgi_finish_request(): 0, even after
                       output (measured on php-fpm 8.2 behind FastCGI, output_buffering 0)
plus a worker that cannot boot, logged with its script, exit code and count."""

import base64
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torus_harness as h  # noqa: E402
from torus_harness import get, request  # noqa: E402
from test_php_classic import PhpTestCase  # noqa: E402


class Behaviours:
    """The cases, run by WorkerBehaviours (prefix "/") and ClassicBehaviours
    (prefix "/classic.php/")."""

    prefix = "/"

    def fetch(self, case, headers=None, query=""):
        return self.server.get(self.prefix + case + query, headers)

    def cookie_of(self, resp):
        value = resp.header("Set-Cookie")
        self.assertIsNotNone(value, resp)
        return value.split(";")[0]

    # -- exit() and destructors -------------------------------------------

    def test_output_around_exit_and_destructors_reaches_the_client(self):
        cases = {
            "exit": (200, b"written before exit\n"),
            # Laravel's dd(): a 500 status, the dump, exit(1).
            "dd": (500, b"dumped\noutput of a destructor\n"),
            "exit-buffered": (200, b"buffered before exit\n"),
            "die-message": (200, b"first then die's message\n"),
            "exit-in-shutdown-function": (200, b"body\nfrom a shutdown function\n"),
            "destruct": (200, b"body\noutput of a destructor\n"),
        }
        for case, (status, body) in cases.items():
            resp = self.fetch(case)
            self.assertEqual(resp.status, status, (case, resp))
            self.assertEqual(resp.body, body, case)

    # -- sessions ------------------------------------------------------------

    def test_session_handler_set_in_a_request_keeps_working(self):
        first = self.fetch("session-handler-in-request")
        self.assertStatus(first, 200)
        self.assertTrue(first.body.startswith(b"n=1 reads="), first.body)
        cookie = self.cookie_of(first)
        for n in (2, 3):
            resp = self.fetch(self.session_case_after_handler, [("Cookie", cookie)])
            self.assertStatus(resp, 200)
            self.assertTrue(resp.body.startswith(b"n=%d reads=" % n), resp.body)
        log = self.server.log()
        self.assertNotIn("Failed to initialize storage module", log)

    def assertLockReleasedAfter(self, case):
        first = self.fetch("session")
        self.assertStatus(first, 200)
        cookie = self.cookie_of(first)
        resp = self.fetch(case, [("Cookie", cookie)])
        self.assertStatus(resp, 500)
        # With the lock still held this request would wait forever (the
        # harness' deadline fails it); released, it is answered.
        resp = self.fetch("session", [("Cookie", cookie)])
        self.assertStatus(resp, 200)
        self.assertTrue(resp.body.startswith(b"n="), resp.body)

    @unittest.skipIf(h.SANITIZE == "thread", "no time limit under ThreadSanitizer")
    def test_session_lock_released_after_a_timeout(self):
        self.assertLockReleasedAfter("session-timeout")

    def test_session_lock_released_after_a_fatal_error(self):
        self.assertLockReleasedAfter("session-fatal")

    # -- logging ---------------------------------------------------------------

    def test_frankenphp_log_writes_structured_lines(self):
        offset = len(self.server.log())
        self.assertEqual(self.fetch("log").body, b"logged\n")
        deadline = time.monotonic() + 5 * h.SLOW
        while "an error" not in self.server.log(offset) and time.monotonic() < deadline:
            time.sleep(0.05)
        log = self.server.log(offset)
        self.assertRegex(log, r"\[warn\] hello from php user=alice attempt=2 tags=\[\"a\",\"b\"\]\n")
        self.assertRegex(log, r"\[error\] an error code=\"E 42\"\n")
        self.assertNotIn("torus name", log)  # level -4 is debug: below --log-level info

    # -- $_SERVER ------------------------------------------------------------------

    def test_basic_auth_variables(self):
        token = base64.b64encode(b"alice:s3cr:et").decode()
        data = self.fetch_json(get(self.prefix + "auth", [("Authorization", "Basic " + token)]))
        self.assertEqual(data, {"PHP_AUTH_USER": "alice", "PHP_AUTH_PW": "s3cr:et",
                                "AUTH_TYPE": "Basic", "REMOTE_USER": "alice"})

    def test_malformed_authorization_sets_nothing(self):
        nothing = {"PHP_AUTH_USER": None, "PHP_AUTH_PW": None, "AUTH_TYPE": None,
                   "REMOTE_USER": None}
        for value in ("Basic !!!not-base64!!!", "Basic " + base64.b64encode(b"nocolon").decode(),
                      "Basic", "Basic ", "Bearer abc.def", "basic", "Basic =====",
                      "Digest", "Basic " + "A" * 4000):
            data = self.fetch_json(get(self.prefix + "auth", [("Authorization", value)]))
            self.assertEqual(data, nothing, value)
        self.assertTrue(self.server.alive())

    def test_early_hints_carry_every_header_set_before(self):
        with self.server.connect() as conn:
            conn.send(get(self.prefix + "hints"))
            hints = conn.read_response(allow_interim=True)
            self.assertEqual(hints.status, 103, hints)
            self.assertEqual(hints.header("X-Early"), "early")
            self.assertIn("</style.css>; rel=preload; as=style", hints.header_all("Link"))
            resp = conn.read_response()
        self.assertStatus(resp, 200)
        self.assertEqual(resp.header("X-Final"), "yes")
        self.assertIsNone(resp.header("X-Early"))
        self.assertEqual(resp.header_all("Link"), [])
        self.assertEqual(resp.body, b"final\n")

    def test_content_type_and_length_without_http_twins(self):
        raw = request("POST", self.prefix + "cgi",
                      [("Content-Type", "text/plain"), ("Content-Length", "5")], b"hello")
        data = self.fetch_json(raw)
        self.assertEqual(data, {"CONTENT_TYPE": "text/plain", "CONTENT_LENGTH": "5",
                                "HTTP_CONTENT_TYPE": False, "HTTP_CONTENT_LENGTH": False,
                                "body": "hello"})

    def test_putenv_is_undone_between_requests(self):
        for _ in range(3):
            resp = self.fetch("putenv")
            self.assertStatus(resp, 200)
            self.assertEqual(resp.body, b"before=false\n")

    def test_connection_status_after_finish_request(self):
        marker = "finish-%s" % type(self).__name__
        resp = self.fetch("finish", query="?marker=" + marker)
        self.assertStatus(resp, 200)
        self.assertEqual(resp.body, b"sent\n")
        # php-fpm 8.2: 0 right after fastcgi_finish_request() and still 0
        # after output the client never gets.
        self.assertEqual(self.wait_for_marker(marker, "after=", 5),
                         "after=0 after_output=0 aborted=0")


class WorkerBehaviours(Behaviours, PhpTestCase):
    fixture = "workers"
    docroot = "public"
    session_case_after_handler = "session"  # the worker keeps the handler it set

    @classmethod
    def make_server(cls):
        cls.php_options = {"worker": os.path.join(cls.root, "behave.php") + " num=1"}
        return super().make_server()

    def served(self, resp):
        return int(resp.header("X-Served"))

    def test_session_handler_set_before_the_loop_keeps_working(self):
        srv = self.start_php_server(
            defines=["session.save_path=" + self.sessions],
            worker=os.path.join(self.root, "behave.php") + " num=1 env=SESSION_HANDLER_AT_BOOT=1")
        first = srv.get("/session")
        self.assertStatus(first, 200)
        self.assertEqual(first.body, b"n=1 reads=1\n")
        cookie = self.cookie_of(first)
        for n in (2, 3, 4):
            resp = srv.get("/session", [("Cookie", cookie)])
            self.assertEqual(resp.body, b"n=%d reads=%d\n" % (n, n))
        self.assertNotIn("Failed to initialize storage module", srv.log())

    def test_client_reset_does_not_restart_the_worker(self):
        self.assertResetKeepsTheWorker(self.server, "abort-worker")

    def test_client_reset_without_ignore_user_abort(self):
        # FrankenPHP's semantics: a worker's request runs to its end even
        # when the script left ignore_user_abort() off.
        srv = self.start_php_server(
            worker=os.path.join(self.root, "behave.php") + " num=1 env=KEEP_USER_ABORT=1")
        self.assertResetKeepsTheWorker(srv, "abort-keep")

    def assertResetKeepsTheWorker(self, srv, marker):
        before = self.served(srv.get("/putenv"))
        conn = srv.connect()
        conn.send(get("/abort?marker=" + marker))
        self.wait_for_marker(marker + ".started", "1", 10)
        conn.close(abort=True)  # RST right after the request
        with open(os.path.join(self.markers, marker + ".go"), "w"):
            pass
        # The request ran to its end, and saw the client gone.
        self.assertEqual(self.wait_for_marker(marker, "aborted=", 10), "aborted=1 status=1")
        # The worker's state survived: its request counter goes on.
        after = self.served(srv.get("/putenv"))
        self.assertEqual(after, before + 2)

    @h.needs_zts("classic executors next to the worker")
    def test_classic_scripts_answer_while_the_worker_is_busy(self):
        marker = "busy-worker"
        with self.server.connect() as conn:
            conn.send(get("/abort?rounds=1&marker=" + marker))  # holds the worker until marker.go
            self.wait_for_marker(marker + ".started", "1", 10)
            resp = self.server.get("/classic.php/putenv")  # another pool of executors
            self.assertStatus(resp, 200)
            self.assertEqual(resp.body, b"before=false\n")
            self.assertIsNone(resp.header("X-Served"))  # not the worker's answer
            with open(os.path.join(self.markers, marker + ".go"), "w"):
                pass
            self.assertStatus(conn.read_response(), 200)

    def test_boot_failure_is_logged_with_script_code_and_count(self):
        script = os.path.join(self.fixture_dir, "boot_exit.php")
        srv = h.Server(self.root, self.workdir, worker=script, max_consecutive_failures=2)
        self._servers_used.append((srv, 0))
        self.addCleanup(srv.kill)
        try:
            srv.start()
        except AssertionError:
            pass
        code = srv.wait_exit(15 * h.SLOW)
        self.assertEqual(code, 2)
        log = srv.log()
        self.assertRegex(log, re.escape(script) + r".*exit code 3.*start-up failure 1 in a row")
        self.assertRegex(log, re.escape(script) + r".*exit code 3.*start-up failure 2 in a row")


class ClassicBehaviours(Behaviours, PhpTestCase):
    fixture = "workers"
    docroot = "public"
    prefix = "/classic.php/"
    # Each classic request starts from nothing: it sets its handler again.
    session_case_after_handler = "session-handler-in-request"


if __name__ == "__main__":
    h.main()
