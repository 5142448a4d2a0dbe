"""The real applications of worker mode: examples/laravel (Laravel 8) and
examples/symfony (Symfony 5.4), each served by Torus with its worker script,
and examples/hello's worker; plus a classic-mode smoke test of each app.

What must hold in worker mode, where one booted application serves every
request: each route answers with its content; two clients' sessions never
see each other's data (nor does a client without a cookie inherit the one
before it); a route that throws gives 500 and the next request is fine; and
the application really persists (a static counter grows from one request
to the next).

The frameworks come from Debian packages: tools/setup-examples installs
them when missing (apt-get) and prepares each app's writable directories and
SQLite database in this run's temporary directory (APP_STORAGE for Laravel,
APP_VAR_DIR for Symfony), so the tree is not written to, except Laravel's
bootstrap/cache. When the packages are missing and cannot be installed, the
file is skipped (exit 77)."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torus_harness as h  # noqa: E402
from torus_harness import get  # noqa: E402

EXAMPLES = os.path.join(h.SOURCE_DIR, "examples")
LARAVEL = os.path.join(EXAMPLES, "laravel")
SYMFONY = os.path.join(EXAMPLES, "symfony")
HELLO_APP = os.path.join(EXAMPLES, "hello")
SETUP = os.path.join(h.SOURCE_DIR, "tools", "setup-examples")

# Every request of a booted worker is fast; the first one of a class (and a
# classic-mode request, which boots the framework) may take longer.
FIRST_REQUEST_DEADLINE = 30.0 * h.SLOW

_state_dir = None  # this run's Laravel storage and Symfony var/, under one temporary directory


def prepare_apps():
    """Runs tools/setup-examples into a temporary directory and points the
    apps at it through the environment the servers inherit. Returns None, or
    the reason to skip the whole file."""
    global _state_dir
    _state_dir = tempfile.mkdtemp(prefix="torus-apps-")
    os.chmod(_state_dir, 0o755)
    storage = os.path.join(_state_dir, "laravel-storage")
    var = os.path.join(_state_dir, "symfony-var")
    args = [SETUP, "--laravel-storage", storage, "--symfony-var", var]
    run = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, timeout=240)
    if run.returncode != 0:
        check = subprocess.run([SETUP, "--no-install"] + args[1:], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        if check.returncode == 3:  # the Debian packages are missing and could not be installed
            return "the frameworks' Debian packages are not installed:\n" + \
                run.stdout.decode("utf-8", "replace")
        raise SystemExit("tools/setup-examples failed:\n" + run.stdout.decode("utf-8", "replace"))
    os.environ["APP_STORAGE"] = storage
    os.environ["APP_VAR_DIR"] = var
    return None


def cleanup_apps():
    if _state_dir and os.environ.get("TORUS_E2E_KEEP") != "1":
        shutil.rmtree(_state_dir, ignore_errors=True)


# ---------------------------------------------------------------------------
# Clients
# ---------------------------------------------------------------------------


class Client:
    """A browser-like client of one server: its own cookie jar, one
    keep-alive connection (reopened when the server closes it)."""

    def __init__(self, server):
        self.server = server
        self.cookies = {}
        self.conn = None

    def get(self, target, headers=None, within=h.RESPONSE_DEADLINE):
        headers = list((headers or {}).items())
        if self.cookies:
            headers.append(("Cookie", "; ".join("%s=%s" % kv for kv in self.cookies.items())))
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = self.server.connect(timeout=max(h.READ_TIMEOUT, within))
            try:
                self.conn.send(get(target, headers))
                resp = self.conn.read_response(within=within)
                break
            except (h.ProtocolError, ConnectionError):
                self.close()
                if attempt == 2:
                    raise
        if resp.has_token("Connection", "close"):
            self.close()
        for value in resp.header_all("Set-Cookie"):
            name, _, rest = value.partition("=")
            self.cookies[name.strip()] = rest.split(";")[0].strip()
        return resp

    def json(self, target, **kw):
        resp = self.get(target, **kw)
        if resp.status != 200 or resp.media_type() != "application/json":
            raise AssertionError("expected a JSON 200 from %s, got %r" % (target, resp))
        return json.loads(resp.body)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class AppTestCase(h.ServerTestCase):
    """One server for the class, serving an app's public/ directory, in
    worker mode when `worker` names a script (relative to the app)."""

    app = None  # the example's directory
    public = "public"
    worker = None
    server_threads = 1
    extra_options = {}

    @classmethod
    def setUpClass(cls):
        cls.workdir = tempfile.mkdtemp(prefix="torus-e2e-apps-")
        os.chmod(cls.workdir, 0o755)
        cls.root = os.path.join(cls.app, cls.public)
        cls.server_options = dict(cls.extra_options, threads=cls.server_threads)
        if cls.worker:
            cls.server_options["worker"] = os.path.join(cls.app, cls.worker)
        cls.server = None
        cls.server = h.Server(cls.root, cls.workdir, **cls.server_options).start()
        # The first request waits for the application to boot.
        Client(cls.server).get("/json" if cls.app != HELLO_APP else "/",
                               within=FIRST_REQUEST_DEADLINE)

    def setUp(self):
        super().setUp()
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()
        super().tearDown()

    def client(self):
        c = Client(type(self).server)
        self.clients.append(c)
        return c

    def assertHtmlPage(self, resp, *fragments):
        self.assertStatus(resp, 200)
        self.assertEqual(resp.media_type(), "text/html", resp)
        body = resp.body.decode("utf-8")
        for fragment in fragments:
            self.assertIn(fragment, body)
        return body

    def assertThrowIs500ThenFine(self, marker):
        c = self.client()
        resp = c.get("/throw")
        self.assertStatus(resp, 500)
        self.assertIn(marker, resp.body)
        self.assertNotIn(b"thrown on purpose", resp.body, "the exception leaked to the client")
        # The next request, on the same connection and on a new one, is fine.
        self.assertEqual(c.json("/json")["framework"], self.framework)
        self.assertEqual(self.client().json("/json")["framework"], self.framework)
        self.assertIn(self.framework, self.client().get("/").body.decode().lower())


# ---------------------------------------------------------------------------
# Laravel
# ---------------------------------------------------------------------------


class LaravelWorker(AppTestCase):
    app = LARAVEL
    worker = "public/worker.php"
    framework = "laravel"
    extra_options = {"php_threads_per_core": 1}  # "served" counts one application's requests

    def test_home_renders_a_blade_view(self):
        body = self.assertHtmlPage(self.client().get("/?name=Torus"),
                                   "<title>Home · Torus Laravel example</title>",
                                   "<h1>Hello, Torus!</h1>", "Laravel 8.", "worker mode",
                                   "<li>Blade views</li>")
        self.assertIn("</html>", body)

    def test_blade_escapes_the_query(self):
        body = self.assertHtmlPage(self.client().get("/?name=" + quote("<b>bold</b>")))
        self.assertIn("Hello, &lt;b&gt;bold&lt;/b&gt;!", body)
        self.assertNotIn("<b>bold", body)

    def test_db_reads_sqlite(self):
        data = self.client().json("/db")
        self.assertEqual(data["count"], 6)
        self.assertEqual([g["language"] for g in data["greetings"]],
                         ["English", "French", "German", "Italian", "Japanese", "Spanish"])
        self.assertEqual(data["greetings"][1]["text"], "Bonjour")

    def test_json_from_a_persistent_application(self):
        c = self.client()
        first = c.json("/json")
        self.assertEqual(first["framework"], "laravel")
        self.assertTrue(first["laravel"].startswith("8."), first)
        self.assertEqual(first["mode"], "worker")
        # One executor: the same booted application answers both.
        self.assertEqual(c.json("/json")["served"], first["served"] + 1)
        self.assertEqual(self.client().json("/json")["served"], first["served"] + 2)

    def test_stateless_routes_set_no_cookie(self):
        resp = self.client().get("/json")
        self.assertEqual(resp.header_all("Set-Cookie"), [])

    def test_sessions_of_two_clients_never_mix(self):
        alice, bob = self.client(), self.client()
        self.assertEqual(alice.json("/session?visitor=alice"), {"counter": 1, "visitor": "alice"})
        self.assertIn("laravel_session", alice.cookies)
        self.assertEqual(alice.json("/session"), {"counter": 2, "visitor": "alice"})
        self.assertEqual(alice.json("/session"), {"counter": 3, "visitor": "alice"})
        # A new client right after alice starts from nothing: the worker's
        # session store does not carry alice's attributes over.
        self.assertEqual(bob.json("/session"), {"counter": 1, "visitor": None})
        self.assertNotEqual(bob.cookies["laravel_session"], alice.cookies["laravel_session"])
        self.assertEqual(bob.json("/session?visitor=bob"), {"counter": 2, "visitor": "bob"})
        self.assertEqual(alice.json("/session?visitor=mallory"), {"counter": 4, "visitor": "alice"})
        self.assertEqual(bob.json("/session"), {"counter": 3, "visitor": "bob"})
        # Nor does a request without any cookie, on a fresh connection.
        self.assertEqual(self.client().json("/session"), {"counter": 1, "visitor": None})
        self.assertEqual(alice.json("/session"), {"counter": 5, "visitor": "alice"})

    def test_a_client_cannot_take_over_a_session_with_a_forged_cookie(self):
        alice = self.client()
        alice.json("/session?visitor=alice")
        forger = self.client()
        forger.cookies["laravel_session"] = "forged"
        self.assertEqual(forger.json("/session"), {"counter": 1, "visitor": None})

    def test_throw_gives_500_and_the_next_request_is_fine(self):
        self.assertThrowIs500ThenFine(b"Server Error")

    def test_throw_does_not_disturb_a_session(self):
        c = self.client()
        self.assertEqual(c.json("/session?visitor=carol")["counter"], 1)
        self.assertStatus(c.get("/throw"), 500)
        self.assertEqual(c.json("/session"), {"counter": 2, "visitor": "carol"})

    def test_unknown_route_is_404(self):
        resp = self.client().get("/no/such/route")
        self.assertStatus(resp, 404)
        self.assertEqual(self.client().json("/json")["framework"], "laravel")

    def test_many_requests_on_one_connection(self):
        c = self.client()
        for i in range(30):
            route = ("/json", "/db", "/")[i % 3]
            resp = c.get(route)
            self.assertStatus(resp, 200)
        self.assertIsNotNone(c.conn, "the keep-alive connection was closed")


@h.needs_zts("two executors in one shard")
class LaravelWorkerTwoExecutors(AppTestCase):
    """Two executors (two PHP threads, each with its own booted application)
    and clients in parallel: each client's session stays its own."""

    app = LARAVEL
    worker = "public/worker.php"
    framework = "laravel"
    extra_options = {"php_threads_per_core": 2}

    def test_parallel_clients_keep_their_own_sessions(self):
        rounds, names = 8, ["p%d" % i for i in range(4)]
        failures = []

        def visit(name):
            c = Client(type(self).server)
            try:
                for i in range(1, rounds + 1):
                    data = c.json("/session?visitor=" + name)
                    if data != {"counter": i, "visitor": name}:
                        failures.append("%s round %d got %r" % (name, i, data))
                        return
            except Exception as e:  # noqa: BLE001 - reported below
                failures.append("%s: %r" % (name, e))
            finally:
                c.close()

        threads = [threading.Thread(target=visit, args=(n,)) for n in names]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60 * h.SLOW)
        self.assertFalse(any(t.is_alive() for t in threads), "a client hung")
        self.assertEqual(failures, [])


class LaravelClassic(AppTestCase):
    app = LARAVEL
    framework = "laravel"

    def test_routes_in_classic_mode(self):
        c = self.client()
        self.assertHtmlPage(c.get("/?name=Classic", within=FIRST_REQUEST_DEADLINE),
                            "<h1>Hello, Classic!</h1>", "classic mode", "(request 1 of")
        first = c.json("/json")
        self.assertEqual((first["framework"], first["mode"], first["served"]),
                         ("laravel", "classic", 1))
        self.assertEqual(c.json("/json")["served"], 1)  # nothing persists between requests
        self.assertEqual(c.json("/db")["count"], 6)
        self.assertEqual(c.json("/session?visitor=dave"), {"counter": 1, "visitor": "dave"})
        self.assertEqual(c.json("/session"), {"counter": 2, "visitor": "dave"})
        self.assertEqual(self.client().json("/session"), {"counter": 1, "visitor": None})

    def test_throw_gives_500_and_the_next_request_is_fine(self):
        self.assertThrowIs500ThenFine(b"Server Error")


# ---------------------------------------------------------------------------
# Symfony
# ---------------------------------------------------------------------------


class SymfonyWorker(AppTestCase):
    app = SYMFONY
    worker = "public/worker.php"
    extra_options = {"php_threads_per_core": 1}  # "served" counts one kernel's requests
    framework = "symfony"

    def test_home_renders_a_twig_template(self):
        body = self.assertHtmlPage(self.client().get("/?name=Torus"),
                                   "<title>Home · Torus Symfony example</title>",
                                   "<h1>Hello, Torus!</h1>", "Symfony 5.4.", "worker mode",
                                   "<li>Twig templates</li>")
        self.assertIn("</html>", body)

    def test_twig_escapes_the_query(self):
        body = self.assertHtmlPage(self.client().get("/?name=" + quote("<i>x</i>")))
        self.assertIn("Hello, &lt;i&gt;x&lt;/i&gt;!", body)
        self.assertNotIn("<i>x", body)

    def test_json_from_a_persistent_kernel(self):
        c = self.client()
        first = c.json("/json")
        self.assertEqual(first["framework"], "symfony")
        self.assertTrue(first["symfony"].startswith("5.4."), first)
        self.assertEqual(first["mode"], "worker")
        self.assertEqual(c.json("/json")["served"], first["served"] + 1)
        self.assertEqual(self.client().json("/json")["served"], first["served"] + 2)

    def test_throw_gives_500_and_the_next_request_is_fine(self):
        self.assertThrowIs500ThenFine(b"Internal Server Error")

    def test_unknown_route_is_404_and_the_next_request_is_fine(self):
        c = self.client()
        self.assertStatus(c.get("/no/such/route"), 404)
        self.assertEqual(c.json("/json")["framework"], "symfony")

    def test_many_requests_on_one_connection(self):
        c = self.client()
        for i in range(30):
            self.assertStatus(c.get(("/json", "/")[i % 2]), 200)
        self.assertIsNotNone(c.conn, "the keep-alive connection was closed")


class SymfonyClassic(AppTestCase):
    app = SYMFONY
    framework = "symfony"

    def test_routes_in_classic_mode(self):
        c = self.client()
        self.assertHtmlPage(c.get("/?name=Classic", within=FIRST_REQUEST_DEADLINE),
                            "<h1>Hello, Classic!</h1>", "classic mode", "(request 1 of")
        first = c.json("/json")
        self.assertEqual((first["framework"], first["mode"], first["served"]),
                         ("symfony", "classic", 1))
        self.assertEqual(c.json("/json")["served"], 1)

    def test_throw_gives_500_and_the_next_request_is_fine(self):
        self.assertThrowIs500ThenFine(b"Internal Server Error")


# ---------------------------------------------------------------------------
# examples/hello
# ---------------------------------------------------------------------------


class HelloWorker(AppTestCase):
    app = HELLO_APP
    public = "."
    worker = "worker.php"
    framework = "torus"
    extra_options = {"php_threads_per_core": 1}  # X-Worker-Requests counts one worker's requests

    def test_the_page_from_a_persistent_worker(self):
        c = self.client()
        first = c.get("/?name=Worker")
        self.assertHtmlPage(first, "<h1>Hello, Worker!</h1>", "worker mode")
        served = int(first.header("X-Worker-Requests"))
        second = c.get("/")
        self.assertHtmlPage(second, "<h1>Hello, world!</h1>")
        self.assertEqual(int(second.header("X-Worker-Requests")), served + 1)

    def test_static_files_next_to_the_worker(self):
        resp = self.client().get("/hello.txt")
        self.assertStatus(resp, 200)
        with open(os.path.join(HELLO_APP, "hello.txt"), "rb") as f:
            self.assertEqual(resp.body, f.read())


def main():
    if h.REFERENCE:
        print("worker mode and PHP apps are Torus's own: nothing to compare with nginx")
        print("0 passed, 0 failed, 1 skipped")
        sys.exit(77)
    if not os.access(h.TORUS_BIN, os.X_OK):
        h.main()  # reports the missing binary
    reason = prepare_apps()
    if reason:
        cleanup_apps()
        print("skipped: " + reason)
        print("0 passed, 0 failed, 1 skipped")
        sys.exit(77)
    try:
        h.main()
    finally:
        cleanup_apps()


if __name__ == "__main__":
    main()
