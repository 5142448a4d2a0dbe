"""PHP classic mode end to end (issue 5): `torus --root DIR` runs the
fixture scripts of tests/e2e/php_fixtures/classic, and every test asserts
what the same script does under PHP-FPM (behind nginx) or FrankenPHP.

Covered: routing (scripts, static files, directory index, PATH_INFO, the
front controller, 404 without one); $_SERVER and the other superglobals;
php://input; uploads and their temporary files; the ini limits on uploads
and POST bodies; the header functions, output buffering, flush() streaming
and zlib compression; errors, time and memory limits; client aborts;
getallheaders(); fastcgi_finish_request(); 103 Early Hints; sessions;
opcache; -d and --php-ini; HEAD, Expect: 100-continue, keep-alive; and
a slow script not blocking a fast one with two executors.

The fixtures are copied into each class's temporary directory, so scripts
may write marker files next to themselves (markers/) without touching the
source tree."""

import gzip
import json
import os
import re
import shutil
import sys
import unittest
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torus_harness as h  # noqa: E402
from torus_harness import get, request  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "php_fixtures")

# A variable of the server's environment that scripts must see.
ENV_NAME = "TORUS_E2E_ENV"
ENV_VALUE = "from-the-environment-42"
os.environ[ENV_NAME] = ENV_VALUE


# ---------------------------------------------------------------------------
# Servers over a copy of a fixture directory, with -d settings
# ---------------------------------------------------------------------------


# PHP's own defaults, for a torus linked with Debian's NTS PHP, whose
# php.ini (production: output_buffering=4096, upload_max_filesize=2M...) is
# otherwise read: these tests assert what scripts do under the defaults
# they set with -d, as with the ZTS build, which has no php.ini. Debian's
# conf.d (the extensions) is still read.
NO_PHP_INI = os.path.join(FIXTURES, "empty.ini")


class PhpServer(h.Server):
    """A Server that also passes `-d KEY=VALUE` for each of defines."""

    def __init__(self, root, workdir, defines=(), **options):
        if h.php_kind() == "NTS" and "php_ini" not in options:
            options["php_ini"] = NO_PHP_INI
        super().__init__(root, workdir, **options)
        self.defines = list(defines)

    def argv(self):
        args = super().argv()
        for define in self.defines:
            args += ["-d", define]
        return args


def copy_fixture(name, workdir):
    """Copies php_fixtures/<name> into workdir and returns the copy's path,
    with an empty markers/ directory in it."""
    dest = os.path.join(workdir, name)
    shutil.copytree(os.path.join(FIXTURES, name), dest)
    os.makedirs(os.path.join(dest, "markers"), exist_ok=True)
    return dest


@h.torus_only("the reference nginx runs no PHP")
class PhpTestCase(h.ServerTestCase):
    """One server for the class (unless class_server is False) over a copy
    of php_fixtures/<fixture>, whose <docroot> subdirectory is the document
    root, started with php_options (torus flags) and defines (-d settings).
    Scripts write their marker files into the copy's markers/."""

    fixture = "classic"
    docroot = ""
    class_server = True
    php_options = {}
    defines = ()
    server_options = None  # the harness' own class server is not used

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fixture_dir = copy_fixture(cls.fixture, cls.workdir)
        cls.root = os.path.join(cls.fixture_dir, cls.docroot) if cls.docroot else cls.fixture_dir
        cls.markers = os.path.join(cls.fixture_dir, "markers")
        cls.sessions = os.path.join(cls.workdir, "sessions")
        os.makedirs(cls.sessions, exist_ok=True)
        if cls.class_server:
            cls.server = cls.make_server()

    @classmethod
    def make_server(cls):
        defines = ["session.save_path=" + cls.sessions] + list(cls.defines)
        return PhpServer(cls.root, cls.workdir, defines=defines, **cls.php_options).start()

    def setUp(self):
        cls = type(self)
        if cls.server is not None and not cls.server.alive():
            cls.server = cls.make_server()  # an earlier test killed it (and failed for it)
        super().setUp()

    def start_php_server(self, root=None, defines=(), **options):
        """A server of this test only, killed when the test ends."""
        srv = PhpServer(root or self.root, self.workdir, defines=defines, **options)
        self._servers_used.append((srv, 0))
        self.addCleanup(srv.kill)
        srv.start()
        return srv

    # -- helpers -------------------------------------------------------------

    def fetch_json(self, raw, srv=None):
        resp = (srv or self.server).fetch(raw)
        self.assertStatus(resp, 200)
        try:
            return json.loads(resp.body)
        except ValueError:
            self.fail("not JSON: %r" % resp)

    def check_filter_server(self, path, custom):
        # ext/filter's INPUT_SERVER copy holds the request's variables as they
        # came (not the script's changes to $_SERVER, not the environment), as
        # under PHP-FPM.
        data = self.fetch_json(get(path, [("X-Custom", custom), ("X.Dot-Ted", "d")]))
        self.assertEqual(data["method"], "GET")
        self.assertEqual(data["server_method"], "CHANGED")
        self.assertEqual(data["custom"], custom)
        self.assertEqual(data["server_custom"], custom)
        self.assertTrue(data["has_custom"])
        self.assertEqual(data["dotted"], "d")
        self.assertEqual(data["server_dotted"], "d")
        self.assertEqual(data["uri"], path)
        self.assertEqual(data["port_int"], self.server.port)
        self.assertFalse(data["env_in_copy"])

    def marker(self, name):
        try:
            with open(os.path.join(self.markers, name)) as f:
                return f.read()
        except FileNotFoundError:
            return None

    def wait_for_marker(self, name, prefix, timeout):
        deadline = time.monotonic() + timeout * h.SLOW
        while time.monotonic() < deadline:
            text = self.marker(name)
            if text is not None and text.startswith(prefix):
                return text
            time.sleep(0.05)
        self.fail("marker %s never started with %r (last: %r)" % (name, prefix, self.marker(name)))


def post(target, body, content_type="application/x-www-form-urlencoded", headers=None):
    body = body.encode() if isinstance(body, str) else body
    items = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
    return request("POST", target, items + list(headers or []), body)


def multipart(fields, files, boundary="torus-e2e-boundary-7c1"):
    """(content type, body) of a multipart/form-data request; files maps a
    field to (file name, content type, bytes)."""
    parts = []
    for name, value in fields.items():
        parts.append(b"--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n"
                     % (boundary.encode(), name.encode(), value.encode()))
    for name, (filename, ctype, data) in files.items():
        parts.append(b"--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                     b"Content-Type: %s\r\n\r\n%s\r\n"
                     % (boundary.encode(), name.encode(), filename.encode(), ctype.encode(), data))
    body = b"".join(parts) + b"--%s--\r\n" % boundary.encode()
    return "multipart/form-data; boundary=" + boundary, body


def dechunk(data):
    """The payload of a complete chunked body (ending with the last chunk)."""
    out = b""
    while True:
        line, data = data.split(b"\r\n", 1)
        size = int(line.split(b";")[0], 16)
        if size == 0:
            return out
        out, data = out + data[:size], data[size + 2:]


# ---------------------------------------------------------------------------
# Routing
# ---------------------------------------------------------------------------


class Routing(PhpTestCase):

    def test_existing_php_file_runs(self):
        resp = self.server.get("/hello.php")
        self.assertStatus(resp, 200)
        self.assertEqual(resp.body, b"hello from php\n")
        self.assertEqual(resp.media_type(), "text/html")

    def test_other_file_is_served_statically(self):
        resp = self.server.get("/static.txt")
        self.assertStatus(resp, 200)
        self.assertEqual(resp.body, b"a static file next to the scripts\n")
        self.assertEqual(resp.media_type(), "text/plain")
        self.assertIsNone(resp.header("X-Powered-By"))

    def test_directory_runs_its_index_php(self):
        for target in ("/sub/", "/sub/?x=1"):
            resp = self.server.get(target)
            self.assertStatus(resp, 200)
            self.assertEqual(resp.body, b"sub index ran: SCRIPT_NAME=/sub/index.php"
                             b" PHP_SELF=/sub/index.php\n")

    def test_path_info(self):
        data = self.fetch_json(get("/server.php/extra/path?x=1"))
        server = data["SERVER"]
        self.assertEqual(server["PATH_INFO"], "/extra/path")
        self.assertEqual(server["SCRIPT_NAME"], "/server.php")
        self.assertEqual(server["PHP_SELF"], "/server.php/extra/path")
        self.assertEqual(os.path.realpath(server["SCRIPT_FILENAME"]),
                         os.path.realpath(os.path.join(self.root, "server.php")))
        self.assertEqual(server["REQUEST_URI"], "/server.php/extra/path?x=1")
        self.assertEqual(server["QUERY_STRING"], "x=1")

    def test_path_info_is_decoded_request_uri_is_raw(self):
        server = self.fetch_json(get("/server.php/caf%C3%A9/a%2Fb?x=%41"))["SERVER"]
        self.assertEqual(server["PATH_INFO"], "/caf\u00e9/a/b")
        self.assertEqual(server["PHP_SELF"], "/server.php/caf\u00e9/a/b")
        self.assertEqual(server["REQUEST_URI"], "/server.php/caf%C3%A9/a%2Fb?x=%41")
        self.assertEqual(server["QUERY_STRING"], "x=%41")

    def test_front_controller_takes_unknown_paths(self):
        data = self.fetch_json(get("/no/such/page?q=1"))
        self.assertEqual(data, {"front": True, "REQUEST_URI": "/no/such/page?q=1",
                                "SCRIPT_NAME": "/index.php"})

    def test_missing_path_without_index_php_is_404(self):
        srv = self.start_php_server(root=copy_fixture("no_front", self.workdir))
        self.assertStatus(srv.get("/no/such/page"), 404)
        resp = srv.get("/page.php")
        self.assertStatus(resp, 200)
        self.assertEqual(resp.body, b"page ran\n")
        resp = srv.get("/dir/file.txt")
        self.assertStatus(resp, 200)
        self.assertEqual(resp.body, b"a static file\n")


# ---------------------------------------------------------------------------
# What a script sees
# ---------------------------------------------------------------------------


class ServerVariables(PhpTestCase):

    def test_filter_input_server(self):
        self.check_filter_server("/filter_server.php", "one")
        self.check_filter_server("/filter_server.php?again", "two")

    def test_server_array(self):
        headers = [("User-Agent", "torus-e2e/1.0"), ("X-Custom-Header", "custom value"),
                   ("Accept", "application/json")]
        with self.server.connect() as conn:
            conn.send(get("/server.php?a=1&b=%20x", headers))
            resp = conn.read_response()
            self.assertStatus(resp, 200)
            s = json.loads(resp.body)["SERVER"]
            client_port = conn.sock.getsockname()[1]
        self.assertEqual(s["REQUEST_METHOD"], "GET")
        self.assertEqual(s["REQUEST_URI"], "/server.php?a=1&b=%20x")  # raw
        self.assertEqual(s["QUERY_STRING"], "a=1&b=%20x")
        self.assertEqual(s["SCRIPT_NAME"], "/server.php")
        self.assertEqual(s["PHP_SELF"], "/server.php")
        self.assertEqual(os.path.realpath(s["SCRIPT_FILENAME"]),
                         os.path.realpath(os.path.join(self.root, "server.php")))
        self.assertEqual(os.path.realpath(s["DOCUMENT_ROOT"]), os.path.realpath(self.root))
        self.assertEqual(s["REMOTE_ADDR"], "127.0.0.1")
        self.assertEqual(int(s["REMOTE_PORT"]), client_port)
        self.assertEqual(s["SERVER_ADDR"], "127.0.0.1")
        self.assertEqual(int(s["SERVER_PORT"]), self.server.port)
        self.assertEqual(s["SERVER_NAME"], "localhost")
        self.assertEqual(s["SERVER_PROTOCOL"], "HTTP/1.1")
        self.assertTrue(s["SERVER_SOFTWARE"].lower().startswith("torus"), s["SERVER_SOFTWARE"])
        self.assertEqual(s["GATEWAY_INTERFACE"], "CGI/1.1")
        self.assertEqual(s["HTTP_HOST"], "localhost")
        self.assertEqual(s["HTTP_USER_AGENT"], "torus-e2e/1.0")
        self.assertEqual(s["HTTP_X_CUSTOM_HEADER"], "custom value")
        self.assertEqual(s["HTTP_ACCEPT"], "application/json")
        self.assertFalse(s.get("HTTPS"), "HTTPS set on a plain connection")
        self.assertFalse(s.get("CONTENT_LENGTH"))
        self.assertNotIn("PHP_AUTH_USER", s)

    def test_remote_port_is_the_client_socket_port(self):
        ports = set()
        for _ in range(3):
            with self.server.connect() as conn:
                conn.send(get("/server.php"))
                resp = conn.read_response()
                self.assertEqual(int(json.loads(resp.body)["SERVER"]["REMOTE_PORT"]),
                                 conn.sock.getsockname()[1])
                ports.add(conn.sock.getsockname()[1])
        self.assertEqual(len(ports), 3)

    def test_content_type_and_length(self):
        data = self.fetch_json(post("/server.php", "a=1&b=2"))
        s = data["SERVER"]
        self.assertEqual(s["REQUEST_METHOD"], "POST")
        self.assertEqual(s["CONTENT_TYPE"], "application/x-www-form-urlencoded")
        self.assertEqual(s["CONTENT_LENGTH"], "7")
        self.assertNotIn("HTTP_CONTENT_TYPE", s)
        self.assertNotIn("HTTP_CONTENT_LENGTH", s)

    def test_request_time(self):
        before = time.time()
        data = self.fetch_json(get("/server.php"))
        after = time.time()
        s = data["SERVER"]
        self.assertIsInstance(s["REQUEST_TIME"], int)
        self.assertIsInstance(s["REQUEST_TIME_FLOAT"], float)
        self.assertTrue(int(before) <= s["REQUEST_TIME"] <= after + 1, s["REQUEST_TIME"])
        self.assertTrue(before - 1 <= s["REQUEST_TIME_FLOAT"] <= data["now"] + 0.001,
                        (before, s["REQUEST_TIME_FLOAT"], data["now"]))
        self.assertEqual(int(s["REQUEST_TIME_FLOAT"]), s["REQUEST_TIME"])

    def test_basic_auth(self):
        # "alice:open sesame"
        data = self.fetch_json(get("/server.php",
                                   [("Authorization", "Basic YWxpY2U6b3BlbiBzZXNhbWU=")]))
        s = data["SERVER"]
        self.assertEqual(s["PHP_AUTH_USER"], "alice")
        self.assertEqual(s["PHP_AUTH_PW"], "open sesame")
        self.assertEqual(s["HTTP_AUTHORIZATION"], "Basic YWxpY2U6b3BlbiBzZXNhbWU=")

    def test_process_environment(self):
        data = self.fetch_json(get("/server.php"))
        self.assertEqual(data["getenv"], ENV_VALUE)
        self.assertEqual(data["SERVER"].get(ENV_NAME), ENV_VALUE)

    def test_request_headers_functions(self):
        resp = self.server.fetch(get("/request_headers.php",
                                     [("X-First", "1"), ("x-lower-case", "two")]))
        self.assertStatus(resp, 200)
        data = json.loads(resp.body)
        for key in ("getallheaders", "apache_request_headers"):
            headers = data[key]
            self.assertEqual(headers.get("Host"), "localhost", headers)
            self.assertEqual(headers.get("X-First"), "1", headers)
            # Named as PHP-FPM and FrankenPHP name them, whatever the client's case.
            self.assertEqual(headers.get("X-Lower-Case"), "two", headers)


class RequestData(PhpTestCase):

    def test_get_post_cookie_request(self):
        data = self.fetch_json(post("/server.php?q=from-query&list[]=x",
                                    "a=1&b%5B%5D=y&b%5B%5D=z&msg=hello+world",
                                    headers=[("Cookie", "c1=v1; c2=v%202")]))
        self.assertEqual(data["GET"], {"q": "from-query", "list": ["x"]})
        self.assertEqual(data["POST"], {"a": "1", "b": ["y", "z"], "msg": "hello world"})
        self.assertEqual(data["COOKIE"], {"c1": "v1", "c2": "v 2"})
        self.assertEqual(data["REQUEST"]["q"], "from-query")
        self.assertEqual(data["REQUEST"]["a"], "1")

    def test_php_input_is_readable_twice(self):
        body = '{"json": "body", "n": 1}'
        data = self.fetch_json(post("/server.php", body, content_type="application/json"))
        self.assertEqual(data["input1"], body)
        self.assertEqual(data["input2"], body)
        self.assertEqual(data["POST"], [])  # JSON is not parsed into $_POST

    def test_multipart_upload_and_temp_file_lifetime(self):
        content = h.big_content(10000)
        ctype, body = multipart({"title": "my upload"},
                                {"file": ("report.bin", "application/octet-stream", content)})
        data = self.fetch_json(post("/upload.php", body, content_type=ctype))
        self.assertEqual(data["POST"], {"title": "my upload"})
        f = data["FILES"]["file"]
        self.assertEqual(f["name"], "report.bin")
        self.assertEqual(f["type"], "application/octet-stream")
        self.assertEqual(f["size"], len(content))
        self.assertEqual(f["error"], 0)
        self.assertTrue(f["tmp_exists"], "the temporary file is missing during the request")
        self.assertTrue(f["is_uploaded_file"])
        self.assertEqual(f["sha256"], h.sha256(content))
        # Deleted once the request is over (the response may come just before).
        deadline = time.monotonic() + 2 * h.SLOW
        while os.path.exists(f["tmp_name"]) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertFalse(os.path.exists(f["tmp_name"]), "upload temp file left behind")

    def test_request_body_with_expect_100_continue(self):
        body = b"x" * 5000
        with self.server.connect() as conn:
            conn.send(request("POST", "/body.php", [("Content-Length", str(len(body))),
                                                    ("Content-Type", "application/octet-stream"),
                                                    ("Expect", "100-continue")]))
            interim = conn.read_response(allow_interim=True)
            self.assertEqual(interim.status, 100, interim)
            conn.send(body)
            resp = conn.read_response()
        self.assertStatus(resp, 200)
        self.assertEqual(resp.body, b"%d %s\n" % (len(body), h.sha256(body).encode()))


# ---------------------------------------------------------------------------
# The response
# ---------------------------------------------------------------------------


class ResponseFunctions(PhpTestCase):

    def test_header_functions(self):
        resp = self.server.get("/headers.php")
        self.assertStatus(resp, 201)
        self.assertEqual(resp.body, b"code=201")
        self.assertEqual(resp.header("X-One"), "1")
        self.assertIsNone(resp.header("X-Removed"))
        self.assertEqual(resp.header_all("X-Multi"), ["a", "b"])
        self.assertEqual(resp.header_all("X-Replaced"), ["new"])
        self.assertEqual(resp.header("X-Callback"), "ran")
        cookies = resp.header_all("Set-Cookie")
        self.assertEqual(len(cookies), 2, resp.headers)
        self.assertEqual(cookies[0], "first=one")
        self.assertTrue(cookies[1].startswith("second=two; path=/sub"), cookies[1])
        self.assertIn("HttpOnly", cookies[1])

    def test_location_header_gives_302(self):
        resp = self.server.get("/redirect.php")
        self.assertStatus(resp, 302)
        self.assertEqual(resp.header("Location"), "/hello.php")

    def test_headers_sent(self):
        resp = self.server.get("/headers_sent.php")
        self.assertStatus(resp, 200)
        self.assertEqual(resp.body, b"x buffered=false after=true where=headers_sent.php:6")

    def test_output_buffering(self):
        resp = self.server.get("/ob.php")
        self.assertStatus(resp, 200)
        self.assertEqual(resp.body, b"kept,FILTERED,left open at the end")

    def test_flush_streams_chunked(self):
        with self.server.connect() as conn:
            started = time.monotonic()
            conn.send(get("/stream.php"))
            head = conn.read_head()
            self.assertStatus(head, 200)
            self.assertEqual(head.header("Transfer-Encoding"), "chunked", head.headers)
            self.assertIsNone(head.header("Content-Length"))
            data = b""
            while b"first part" not in data:
                more = conn.read_some()
                self.assertTrue(more, "closed before the first part")
                data += more
            early = time.monotonic() - started
            self.assertNotIn(b"second part", data)
            self.assertLess(early, 0.8, "the first part waited for the script's end")
            while not data.endswith(b"0\r\n\r\n"):
                more = conn.read_some()
                self.assertTrue(more, "closed before the last chunk: %r" % data)
                data += more
        self.assertEqual(dechunk(data), b"first part\nsecond part\n")
        self.assertGreaterEqual(time.monotonic() - started, 1.0)

    def test_zlib_output_compression_follows_accept_encoding(self):
        expected = b"Torus compresses this line when asked to.\n" * 200
        resp = self.server.get("/gzip.php", [("Accept-Encoding", "gzip, deflate")])
        self.assertStatus(resp, 200)
        self.assertEqual(resp.header("Content-Encoding"), "gzip", resp.headers)
        self.assertLess(len(resp.body), len(expected) // 4)
        self.assertEqual(gzip.decompress(resp.body), expected)
        resp = self.server.get("/gzip.php")
        self.assertStatus(resp, 200)
        self.assertIsNone(resp.header("Content-Encoding"))
        self.assertEqual(resp.body, expected)

    def test_head_gives_headers_without_body(self):
        with self.server.connect() as conn:
            # Pipelined: a body after HEAD's head would corrupt the second response.
            conn.send(request("HEAD", "/hello.php") + get("/static.txt"))
            head = conn.read_response(head_request=True)
            self.assertStatus(head, 200)
            self.assertEqual(head.media_type(), "text/html")
            self.assertIsNotNone(head.header("X-Powered-By"))
            resp = conn.read_response()
        self.assertStatus(resp, 200)
        self.assertEqual(resp.body, b"a static file next to the scripts\n")

    def test_keep_alive_across_many_php_requests(self):
        with self.server.connect() as conn:
            port = None
            for i in range(60):
                conn.send(get("/server.php?i=%d" % i))
                resp = conn.read_response()
                self.assertStatus(resp, 200)
                data = json.loads(resp.body)
                self.assertEqual(data["GET"], {"i": str(i)})
                port = port or data["SERVER"]["REMOTE_PORT"]
                self.assertEqual(data["SERVER"]["REMOTE_PORT"], port)  # the same connection
                self.assertFalse(resp.has_token("Connection", "close"))

    def test_fastcgi_finish_request(self):
        with self.server.connect() as conn:
            started = time.monotonic()
            conn.send(get("/finish.php?marker=finish1"))
            resp = conn.read_response()
            elapsed = time.monotonic() - started
        self.assertStatus(resp, 200)
        self.assertEqual(resp.body, b"sent before the after-work\n")
        self.assertLess(elapsed, 0.8, "the response waited for the script's after-work")
        self.assertIsNone(self.marker("finish1"), "after-work already done?")
        self.wait_for_marker("finish1", "after-work done", 5)
        # The executor is free again.
        self.assertEqual(self.server.get("/hello.php").body, b"hello from php\n")

    def test_early_hints(self):
        with self.server.connect() as conn:
            conn.send(get("/early_hints.php"))
            hints = conn.read_response(allow_interim=True)
            self.assertEqual(hints.status, 103, hints)
            links = ", ".join(hints.header_all("Link"))
            self.assertIn("</style.css>; rel=preload; as=style", links)
            self.assertIn("</app.js>; rel=preload; as=script", links)
            resp = conn.read_response()
        self.assertStatus(resp, 200)
        self.assertEqual(resp.header("X-Final"), "yes")
        self.assertEqual(resp.header_all("Link"), [])
        self.assertEqual(resp.body, b"final response\n")


# ---------------------------------------------------------------------------
# Errors, limits and aborts
# ---------------------------------------------------------------------------


class Errors(PhpTestCase):

    def assertRecovers(self):
        resp = self.server.get("/hello.php")
        self.assertStatus(resp, 200)
        self.assertEqual(resp.body, b"hello from php\n")

    def test_fatal_error_is_500(self):
        resp = self.server.get("/fatal.php")
        self.assertStatus(resp, 500)
        self.assertNotIn(b"on purpose", resp.body)  # display_errors is off
        self.assertNotIn(b"never reached", resp.body)
        self.assertRecovers()

    def test_uncaught_exception_is_500(self):
        resp = self.server.get("/exception.php")
        self.assertStatus(resp, 500)
        self.assertNotIn(b"uncaught on purpose", resp.body)
        self.assertRecovers()

    def test_parse_error_is_500(self):
        resp = self.server.get("/parse_error.php")
        self.assertStatus(resp, 500)
        self.assertNotIn(b"this line never runs", resp.body)
        self.assertRecovers()

    def test_many_errors_in_a_row(self):
        for script in ("/fatal.php", "/exception.php", "/parse_error.php") * 3:
            self.assertStatus(self.server.get(script), 500)
        self.assertRecovers()

    def abort_midway(self, ignore, marker):
        conn = self.server.connect()
        conn.send(get("/abort.php?ignore=%d&marker=%s" % (ignore, marker)))
        head = conn.read_head()
        self.assertStatus(head, 200)
        while len(conn.buf) < 2048:  # a couple of the script's lines
            self.assertTrue(conn._fill(time.monotonic() + 5), "closed early")
        conn.close(abort=True)
        return time.monotonic()

    def test_ignore_user_abort_keeps_the_script_running(self):
        self.abort_midway(1, "abort-ignored")
        text = self.wait_for_marker("abort-ignored", "finished", 6)
        self.assertEqual(text, "finished aborted=1")
        self.assertRecovers()

    def test_client_abort_stops_the_script(self):
        closed = self.abort_midway(0, "abort-stopped")
        # Unstopped, the script would finish about two seconds after it started.
        time.sleep(max(0.0, closed + 3.0 * h.SLOW - time.monotonic()))
        text = self.marker("abort-stopped")
        self.assertTrue(text and text.startswith("progress "), text)
        self.assertLess(int(text.split()[1]), 39, "the script ran to its end")
        self.assertRecovers()


class Limits(PhpTestCase):
    """max_execution_time, memory_limit, upload_max_filesize and post_max_size
    given with -d."""

    defines = ("max_execution_time=1", "memory_limit=16M", "upload_max_filesize=1K",
               "post_max_size=4K")

    def assertRecovers(self):
        resp = self.server.get("/hello.php")
        self.assertStatus(resp, 200)
        self.assertEqual(resp.body, b"hello from php\n")

    def test_settings_are_applied(self):
        data = self.fetch_json(get("/ini.php?key[]=max_execution_time&key[]=memory_limit"
                                   "&key[]=upload_max_filesize&key[]=post_max_size"))
        self.assertEqual(data, {"max_execution_time": "1", "memory_limit": "16M",
                                "upload_max_filesize": "1K", "post_max_size": "4K"})

    # ThreadSanitizer cannot deliver the time-limit signal to a busy PHP loop,
    # so TSan builds run without max_execution_time (see sapi/timer.c).
    @unittest.skipIf(h.SANITIZE == "thread", "no time limit under ThreadSanitizer")
    def test_max_execution_time(self):
        started = time.monotonic()
        resp = self.server.get("/busy.php")
        self.assertStatus(resp, 500)
        self.assertLess(time.monotonic() - started, 4.0 * h.SLOW)
        self.assertRecovers()

    def test_memory_limit(self):
        resp = self.server.get("/memory.php")
        self.assertStatus(resp, 500)
        self.assertRecovers()

    def test_upload_max_filesize(self):
        ctype, body = multipart({}, {"small": ("small.txt", "text/plain", b"s" * 500),
                                     "large": ("large.txt", "text/plain", b"L" * 2000)})
        data = self.fetch_json(post("/upload.php", body, content_type=ctype))
        self.assertEqual(data["FILES"]["small"]["error"], 0)
        self.assertEqual(data["FILES"]["small"]["size"], 500)
        self.assertEqual(data["FILES"]["large"]["error"], 1)  # UPLOAD_ERR_INI_SIZE
        self.assertEqual(data["FILES"]["large"]["size"], 0)
        self.assertFalse(data["FILES"]["large"]["tmp_exists"])

    def test_post_max_size(self):
        data = self.fetch_json(post("/server.php", "small=1"))
        self.assertEqual(data["POST"], {"small": "1"})
        data = self.fetch_json(post("/server.php", "big=" + "b" * 5000))
        self.assertEqual(data["POST"], [])


class IniSettings(PhpTestCase):
    """--php-ini FILE, with -d given later winning over the file."""

    defines = ("display_errors=1", "precision=11")

    @classmethod
    def make_server(cls):
        ini = os.path.join(cls.workdir, "torus-e2e.ini")
        with open(ini, "w") as f:
            f.write("; a php.ini of the test\n"
                    "user_agent = \"torus-e2e-ini\"\n"
                    "precision = 10\n"
                    "default_socket_timeout = 17\n")
        cls.php_options = {"php_ini": ini}
        return super().make_server()

    def test_ini_file_and_defines(self):
        data = self.fetch_json(get("/ini.php?key[]=user_agent&key[]=default_socket_timeout"
                                   "&key[]=precision&key[]=display_errors"))
        self.assertEqual(data, {"user_agent": "torus-e2e-ini", "default_socket_timeout": "17",
                                "precision": "11", "display_errors": "1"})

    def test_display_errors_shows_a_warning(self):
        resp = self.server.get("/warning.php")
        self.assertStatus(resp, 200)
        self.assertIn(b"Warning", resp.body)
        self.assertIn(b"undefined_variable", resp.body)
        self.assertTrue(resp.body.startswith(b"start\n") and resp.body.endswith(b"end\n"),
                        resp.body)


class Sessions(PhpTestCase):

    def session_request(self, query="", cookie=None):
        headers = [("Cookie", cookie)] if cookie else []
        resp = self.server.fetch(get("/session.php" + query, headers))
        self.assertStatus(resp, 200)
        new_cookie = None
        for value in resp.header_all("Set-Cookie"):
            m = re.match(r"(PHPSESSID=[^;]+)", value)
            if m:
                new_cookie = m.group(1)
        return json.loads(resp.body), new_cookie

    def test_files_handler_round_trip_and_isolation(self):
        a, cookie_a = self.session_request("?set=alpha")
        self.assertEqual(a["handler"], "files")
        self.assertEqual((a["visits"], a["value"]), (1, "alpha"))
        self.assertEqual(cookie_a, "PHPSESSID=" + a["id"])
        a2, again = self.session_request(cookie=cookie_a)
        self.assertIsNone(again)  # the same session: no new cookie
        self.assertEqual((a2["id"], a2["visits"], a2["value"]), (a["id"], 2, "alpha"))
        self.assertTrue(os.path.exists(os.path.join(self.sessions, "sess_" + a["id"])))

        b, cookie_b = self.session_request()
        self.assertNotEqual(b["id"], a["id"])
        self.assertEqual((b["visits"], b["value"]), (1, None))
        b2, _ = self.session_request("?set=beta", cookie=cookie_b)
        self.assertEqual((b2["visits"], b2["value"]), (2, "beta"))
        a3, _ = self.session_request(cookie=cookie_a)
        self.assertEqual((a3["visits"], a3["value"]), (3, "alpha"))


class Opcache(PhpTestCase):

    # ThreadSanitizer builds run without opcache (see sapi/startup.c).
    @unittest.skipIf(h.SANITIZE == "thread", "no opcache under ThreadSanitizer")
    def test_opcache_is_enabled(self):
        self.server.get("/hello.php")
        data = self.fetch_json(get("/opcache.php"))
        self.assertTrue(data["enabled"], data)
        self.assertGreaterEqual(data["cached_scripts"], 1)


@h.needs_zts("two executors in one shard")
class Executors(PhpTestCase):
    php_options = {"php_threads_per_core": 2}

    def test_slow_request_does_not_block_a_fast_one(self):
        with self.server.connect() as slow, self.server.connect() as fast:
            started = time.monotonic()
            slow.send(get("/sleep.php"))
            time.sleep(0.1)
            fast.send(get("/hello.php"))
            resp = fast.read_response()
            fast_time = time.monotonic() - started
            self.assertStatus(resp, 200)
            self.assertLess(fast_time, 0.9, "the fast request waited for the slow one")
            resp = slow.read_response()
            self.assertStatus(resp, 200)
            self.assertEqual(resp.body, b"slept\n")
            self.assertGreaterEqual(time.monotonic() - started, 1.0)


if __name__ == "__main__":
    h.main()
