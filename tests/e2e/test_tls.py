"""TLS on --tls-listen, end to end, with Python's ssl module, curl and
`openssl s_client` as clients.

Certificates are made at start with the openssl command in a temporary
directory: a root, an intermediate and a leaf for localhost / 127.0.0.1;
the server gets the leaf and the intermediate in one chain file, and every
client trusts only the root (so the chain itself is checked), plus an
unrelated key for the mismatch test. Without the openssl command the file is
skipped (exit 77).

Until the shard loop speaks TLS, the file is skipped too: a probe server is
started with --tls-listen, and when its TLS port answers a plaintext request
with HTTP instead of completing a handshake, the file exits 77 saying so.

What is checked: TLS 1.2 and 1.3 handshakes (verified chain, AEAD suites,
weak suites refused), ALPN http/1.1 (an h2-only client is refused, a client
without ALPN served), resumption (Python's session reuse, openssl s_client
-sess_in, a stale ticket falling back to a full handshake), a truncated
handshake cut by --header-timeout while another client is served,
plaintext HTTP to the TLS port answered by a close or a 400 quickly, a large
body up (a 4 MiB POST refused with 405/413 under --max-body-size 1M, with
correct framing after it; 512 KiB read whole by PHP) and down (an 8 MiB
static file intact, also to a slow reader), keep-alive and pipelining,
close_notify on Connection: close, $_SERVER['HTTPS'] and SERVER_PORT, and
start-up errors (key/cert mismatch, malformed PEM, missing file: exit 2 with
one line naming the file).
"""

import atexit
import os
import signal
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torus_harness as h  # noqa: E402
from torus_harness import HELLO, get, request  # noqa: E402

HEADER_TIMEOUT = 1.0
EARLIEST = 0.5 * HEADER_TIMEOUT
LATEST = HEADER_TIMEOUT + 3.0 * h.SLOW
BIG_DOWN = 8 << 20  # a static file sent over TLS
BIG_UP = 4 << 20  # a POST body over --max-body-size 1M
PHP_BODY = 512 << 10  # a POST body PHP reads whole

OPENSSL = shutil.which("openssl")
CURL = shutil.which("curl")

# ---------------------------------------------------------------------------
# Certificates
# ---------------------------------------------------------------------------

CERTS = None  # the directory, once made


def cert(name):
    return os.path.join(CERTS, name)


def make_certificates():
    """root -> intermediate -> leaf (localhost, 127.0.0.1); chain.pem holds
    the leaf and the intermediate; other.key matches nothing."""
    global CERTS
    CERTS = tempfile.mkdtemp(prefix="torus-e2e-tls-certs-")
    os.chmod(CERTS, 0o755)
    atexit.register(lambda: shutil.rmtree(CERTS, ignore_errors=True))
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    with open(cert("ca.ext"), "w") as f:
        f.write("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n")
    with open(cert("leaf.ext"), "w") as f:
        f.write("basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n")
    steps = [
        ["req", "-x509"] + ec + ["-keyout", "root.key", "-out", "root.pem", "-days", "2",
                                 "-subj", "/CN=Torus Test Root"],
        ["req"] + ec + ["-keyout", "inter.key", "-out", "inter.csr", "-subj", "/CN=Torus Test CA"],
        ["x509", "-req", "-in", "inter.csr", "-CA", "root.pem", "-CAkey", "root.key",
         "-CAcreateserial", "-out", "inter.pem", "-days", "2", "-extfile", "ca.ext"],
        ["req"] + ec + ["-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=localhost"],
        ["x509", "-req", "-in", "leaf.csr", "-CA", "inter.pem", "-CAkey", "inter.key",
         "-CAcreateserial", "-out", "leaf.pem", "-days", "2", "-extfile", "leaf.ext"],
        ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-out", "other.key"],
    ]
    for step in steps:
        run = subprocess.run([OPENSSL] + step, cwd=CERTS, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        if run.returncode != 0:
            raise SystemExit("openssl %s failed:\n%s" % (" ".join(step),
                                                         run.stdout.decode("utf-8", "replace")))
    with open(cert("chain.pem"), "wb") as out:
        for name in ("leaf.pem", "inter.pem"):
            with open(cert(name), "rb") as f:
                out.write(f.read())
    with open(cert("garbage.pem"), "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n"
                "-----END CERTIFICATE-----\n")
    for name in os.listdir(CERTS):
        os.chmod(cert(name), 0o644)


# ---------------------------------------------------------------------------
# Server and clients
# ---------------------------------------------------------------------------


class TlsServer(h.Server):
    """A torus with its usual --listen port (which the harness waits on) and
    a --tls-listen port, tls_port."""

    def __init__(self, root, workdir, cert_file=None, key_file=None, **options):
        super().__init__(root, workdir, **options)
        self.cert_file = cert_file or cert("chain.pem")
        self.key_file = key_file or cert("leaf.key")
        self.tls_port = None

    def argv(self):
        return super().argv() + ["--tls-listen", "%s:%d" % (h.HOST, self.tls_port),
                                 "--tls-cert", self.cert_file, "--tls-key", self.key_file]

    def start(self):
        self.tls_port = h.free_port()
        super().start()
        deadline = time.monotonic() + h.START_TIMEOUT
        while not h.can_connect(self.tls_port, 0.2):
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError("the TLS port %d never accepted\n%s"
                                     % (self.tls_port, self.log()))
            time.sleep(0.05)
        return self


def client_context(version=None, alpn=("http/1.1",), ciphers=None):
    """A verifying client context that trusts only the test root."""
    ctx = ssl.create_default_context(cafile=cert("root.pem"))
    if version is not None:
        ctx.minimum_version = ctx.maximum_version = version
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    if ciphers:
        ctx.set_ciphers(ciphers)
    return ctx


def tls_conn(port, ctx=None, session=None, timeout=h.READ_TIMEOUT, rcvbuf=None):
    """A harness Conn whose socket is TLS (handshake done). A clean EOF is one
    with close_notify: an EOF without it raises ssl.SSLEOFError."""
    c = h.Conn(port, timeout=timeout, rcvbuf=rcvbuf)
    try:
        c.sock = (ctx or client_context()).wrap_socket(c.sock, server_hostname="localhost",
                                                       session=session,
                                                       suppress_ragged_eofs=False)
    except BaseException:
        c.close()
        raise
    return c


def client_hello(version=None):
    """The bytes of a real ClientHello (from an SSLObject on memory BIOs)."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = client_context(version).wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------

PHP_FILES = {
    # The whole body, as PHP sees it: its length and a digest.
    "echo.php": b"<?php $b = file_get_contents('php://input');"
                b" echo strlen($b), ' ', hash('sha256', $b);",
    "https.php": b"<?php echo $_SERVER['HTTPS'] ?? 'unset', ' ', $_SERVER['SERVER_PORT'] ?? '';",
}


class TlsTestCase(h.ServerTestCase):
    """A class server that is a TlsServer."""

    server_options = {"header_timeout": HEADER_TIMEOUT, "max_body_size": "1M"}
    big_files = {"big.bin": BIG_DOWN}

    @classmethod
    def setUpClass(cls):
        cls.workdir = tempfile.mkdtemp(prefix="torus-e2e-")
        os.chmod(cls.workdir, 0o755)
        cls.root = h.make_docroot(cls.workdir, cls.big_files)
        for name, content in PHP_FILES.items():
            with open(os.path.join(cls.root, name), "wb") as f:
                f.write(content)
        cls.server = TlsServer(cls.root, cls.workdir, **cls.server_options).start()

    def setUp(self):
        cls = type(self)
        if cls.server is not None and not cls.server.alive():
            cls.server = TlsServer(cls.root, cls.workdir, **cls.server_options).start()
        super().setUp()

    def start_server(self, root=None, **options):
        """A TlsServer of this test only, killed when the test ends."""
        srv = TlsServer(root or self.root, self.workdir, **options)
        self._servers_used.append((srv, 0))
        srv.start()
        self.addCleanup(srv.kill)
        return srv

    def connect_tls(self, **kw):
        return tls_conn(self.server.tls_port, **kw)

    def assertServesTls(self):
        with self.connect_tls() as c:
            c.send(get("/hello.txt"))
            resp = c.read_response()
            self.assertStatus(resp, 200)
            self.assertEqual(resp.body, HELLO)


class Handshakes(TlsTestCase):

    def check_version(self, version, name):
        with self.connect_tls(ctx=client_context(version)) as c:
            self.assertEqual(c.sock.version(), name)
            self.assertEqual(c.sock.selected_alpn_protocol(), "http/1.1")
            suite = c.sock.cipher()[0]
            self.assertTrue("GCM" in suite or "CHACHA20" in suite, suite)
            if name == "TLSv1.2":
                self.assertTrue(suite.startswith("ECDHE-"), suite)
            c.send(get("/hello.txt"))
            resp = c.read_response()
            self.assertStatus(resp, 200)
            self.assertEqual(resp.body, HELLO)

    def test_tls13(self):
        self.check_version(ssl.TLSVersion.TLSv1_3, "TLSv1.3")

    def test_tls12(self):
        self.check_version(ssl.TLSVersion.TLSv1_2, "TLSv1.2")

    def assertRefusedWithAlert(self, ctx, alert):
        """The handshake fails on the server's side: the client got its alert."""
        with self.assertRaises(ssl.SSLError) as caught:
            tls_conn(self.server.tls_port, ctx=ctx).close()
        self.assertIn(alert, str(caught.exception).lower())
        self.assertServesTls()

    def test_weak_tls12_suites_are_refused(self):
        ctx = client_context(ssl.TLSVersion.TLSv1_2, ciphers="ECDHE-ECDSA-AES128-SHA:AES128-SHA")
        self.assertRefusedWithAlert(ctx, "alert handshake failure")

    def test_tls11_is_refused(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx = client_context(ssl.TLSVersion.TLSv1_1, ciphers="DEFAULT:@SECLEVEL=0")
        self.assertRefusedWithAlert(ctx, "alert protocol version")

    def test_client_without_alpn_is_served(self):
        with self.connect_tls(ctx=client_context(alpn=None)) as c:
            self.assertIsNone(c.sock.selected_alpn_protocol())
            c.send(get("/hello.txt"))
            self.assertEqual(c.read_response().body, HELLO)

    def test_alpn_picks_h2_from_a_list(self):
        # HTTP/2 is served (tests/e2e/test_http2.py); http/1.1 when the client offers only that.
        with self.connect_tls(ctx=client_context(alpn=("h2", "http/1.1"))) as c:
            self.assertEqual(c.sock.selected_alpn_protocol(), "h2")
        with self.connect_tls(ctx=client_context(alpn=("http/1.1",))) as c:
            self.assertEqual(c.sock.selected_alpn_protocol(), "http/1.1")

    def test_alpn_follows_the_servers_preference(self):
        # As nginx: h2 when offered at all, whatever the client's order; a protocol
        # we do not speak, listed first, is skipped.
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            for offer, chosen in ((("http/1.1", "h2"), "h2"),
                                  (("http/1.0", "http/1.1"), "http/1.1"),
                                  (("spdy/3", "http/1.1"), "http/1.1")):
                with self.subTest(version=version.name, offer=offer):
                    with self.connect_tls(ctx=client_context(version, alpn=offer)) as c:
                        self.assertEqual(c.sock.selected_alpn_protocol(), chosen)

    def test_http10_only_client_is_served(self):
        # As nginx without HTTP/2: http/1.0 is a protocol we speak.
        with self.connect_tls(ctx=client_context(alpn=("http/1.0",))) as c:
            self.assertEqual(c.sock.selected_alpn_protocol(), "http/1.0")
            c.send(b"GET /hello.txt HTTP/1.0\r\nHost: localhost\r\n\r\n")
            self.assertEqual(c.read_response().body, HELLO)

    def test_unknown_protocol_only_client_is_refused(self):
        # RFC 7301: no protocol in common is a no_application_protocol alert.
        self.assertRefusedWithAlert(client_context(alpn=("spdy/3",)),
                                    "alert no application protocol")

    @unittest.skipUnless(CURL, "curl is not installed")
    def test_curl(self):
        for flags in ([], ["--tlsv1.2", "--tls-max", "1.2"]):
            with self.subTest(flags=flags):
                url = "https://localhost:%d/hello.txt" % self.server.tls_port
                run = subprocess.run(
                    [CURL, "-sS", "--http1.1", "--cacert", cert("root.pem"),
                     "--resolve", "localhost:%d:127.0.0.1" % self.server.tls_port,
                     "--max-time", str(10 * h.SLOW), "-w", "\n%{http_code} %{http_version}"]
                    + flags + [url], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE, timeout=30 * h.SLOW)
                self.assertEqual(run.returncode, 0, run.stderr)
                self.assertEqual(run.stdout, HELLO + b"\n200 1.1")


class Resumption(TlsTestCase):

    def fetch(self, ctx, session=None, port=None):
        """One request on a new connection; returns (session_reused, session)."""
        with tls_conn(port or self.server.tls_port, ctx=ctx, session=session) as c:
            c.send(get("/hello.txt"))
            self.assertEqual(c.read_response().body, HELLO)  # TLS 1.3 tickets come with it
            return c.sock.session_reused, c.sock.session

    def check_resumes(self, version):
        ctx = client_context(version)
        reused, session = self.fetch(ctx)
        self.assertFalse(reused)
        self.assertTrue(session is not None and session.has_ticket, "no session ticket issued")
        for _ in range(2):
            reused, _ = self.fetch(ctx, session)
            self.assertTrue(reused, "the second connection did not resume")

    def test_tls13_resumes(self):
        self.check_resumes(ssl.TLSVersion.TLSv1_3)

    def test_tls12_resumes(self):
        self.check_resumes(ssl.TLSVersion.TLSv1_2)

    def test_stale_ticket_gets_a_full_handshake(self):
        # Another server process has other ticket keys: its tickets are refused
        # here, and the connection goes on with a full handshake.
        other = self.start_server()
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            with self.subTest(version=version):
                ctx = client_context(version)
                _, session = self.fetch(ctx, port=other.tls_port)
                reused, _ = self.fetch(ctx, session)
                self.assertFalse(reused)

    def test_tickets_resume_on_every_shard_and_after_a_restart(self):
        # Each shard is a process; a ticket sealed by one opens in every other, and in a
        # shard process started again after a crash.
        srv = self.start_server(threads=2)
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            with self.subTest(version=version):
                ctx = client_context(version)
                _, session = self.fetch(ctx, port=srv.tls_port)
                results = [self.fetch(ctx, session, port=srv.tls_port)[0] for _ in range(8)]
                self.assertEqual(results, [True] * 8)
        with open("/proc/%d/task/%d/children" % (srv.proc.pid, srv.proc.pid)) as f:
            shards = [int(p) for p in f.read().split()]
        ctx = client_context(ssl.TLSVersion.TLSv1_3)
        _, session = self.fetch(ctx, port=srv.tls_port)
        os.kill(shards[0], signal.SIGKILL)
        self.assertTrue(h.wait_for(lambda: "killed by SIGKILL" in srv.log(), 5 * h.SLOW))
        time.sleep(0.5 * h.SLOW)  # the new shard process starts
        results = [self.fetch(ctx, session, port=srv.tls_port)[0] for _ in range(8)]
        self.assertEqual(results, [True] * 8)

    @unittest.skipUnless(OPENSSL, "openssl is not installed")
    def test_openssl_s_client_resumes(self):
        for flag in ("-tls1_2", "-tls1_3"):
            with self.subTest(version=flag):
                sess = os.path.join(self.workdir, "session%s.pem" % flag)
                outputs = []
                for extra in (["-sess_out", sess], ["-sess_in", sess]):
                    run = subprocess.run(
                        [OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % self.server.tls_port,
                         "-servername", "localhost", "-CAfile", cert("root.pem"), "-alpn",
                         "http/1.1", "-ign_eof", flag] + extra,
                        input=get("/hello.txt", {"Connection": "close"}),
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30 * h.SLOW)
                    outputs.append(run.stdout.decode("utf-8", "replace"))
                    self.assertIn("Verify return code: 0 (ok)", outputs[-1])
                    self.assertIn("Hello, world", outputs[-1])
                self.assertIn("\nNew, TLSv1.", outputs[0])
                self.assertIn("\nReused, TLSv1.", outputs[1], outputs[1][-3000:])


class Robustness(TlsTestCase):

    def test_truncated_handshake_is_cut_by_the_header_timeout(self):
        hello = client_hello()
        self.assertGreater(len(hello), 100)
        with h.Conn(self.server.tls_port) as stalled:
            started = time.monotonic()
            stalled.send(hello[:len(hello) // 2])
            # Meanwhile another client is served at once.
            time.sleep(0.2)
            began = time.monotonic()
            self.assertServesTls()
            self.assertLess(time.monotonic() - began, EARLIEST + 0.5)
            stalled.read_until_closed(LATEST + 1)
            closed_at = time.monotonic() - started
            self.assertGreaterEqual(closed_at, EARLIEST)
            self.assertLessEqual(closed_at, LATEST)
        self.assertServesTls()

    def check_plaintext_refused(self, data):
        with h.Conn(self.server.tls_port) as c:
            started = time.monotonic()
            c.send(data)
            rest = c.read_until_closed(2.0 * h.SLOW)  # never a hang
            self.assertLess(time.monotonic() - started, 2.0 * h.SLOW)
            if rest:  # a plaintext 400 (as nginx), or a TLS alert
                if rest.startswith(b"HTTP/"):
                    self.assertTrue(rest.startswith(b"HTTP/1.1 400 "), rest[:200])
                else:
                    self.assertEqual(rest[0], 21, rest[:50])  # alert record

    def test_plaintext_http_to_the_tls_port(self):
        self.check_plaintext_refused(get("/hello.txt"))
        # Even a request that has not ended yet: its first byte gives it away.
        self.check_plaintext_refused(b"GET /hello.txt HT")
        self.assertServesTls()

    def test_keep_alive_and_pipelining(self):
        with self.connect_tls() as c:
            for _ in range(3):
                c.send(get("/hello.txt"))
                self.assertEqual(c.read_response().body, HELLO)
            c.send(get("/hello.txt") + get("/style.css") + get("/dir/sub.txt"))
            self.assertEqual(c.read_response().body, HELLO)
            self.assertEqual(c.read_response().body, h.DOCROOT_FILES["style.css"])
            self.assertEqual(c.read_response().body, h.DOCROOT_FILES["dir/sub.txt"])

    def test_connection_close_ends_with_close_notify(self):
        with self.connect_tls() as c:
            c.send(get("/hello.txt", {"Connection": "close"}))
            self.assertEqual(c.read_response().body, HELLO)
            # suppress_ragged_eofs=False: an EOF without close_notify raises here.
            self.assertEqual(c.read_until_closed(), b"")

    def test_connection_close_after_php(self):
        # The session ticket goes out while PHP runs: the close must still wait for the
        # response (it once came before it, and the client got nothing).
        for headers, version in (({"Connection": "close"}, "1.1"), ({}, "1.0")):
            with self.connect_tls() as c:
                line = "GET /https.php HTTP/%s\r\nHost: localhost\r\n" % version
                c.send((line + "".join("%s: %s\r\n" % kv for kv in headers.items()) +
                        "\r\n").encode())
                resp = c.read_response(within=30 * h.SLOW)
                self.assertStatus(resp, 200)
                self.assertEqual(resp.body.decode(), "on %d" % self.server.tls_port)
                self.assertEqual(c.read_until_closed(), b"")

    def test_big_static_file_down(self):
        want = h.big_content(BIG_DOWN)
        with self.connect_tls() as c:
            c.send(get("/big.bin"))
            resp = c.read_response(within=60 * h.SLOW)
            self.assertStatus(resp, 200)
            self.assertEqual(len(resp.body), BIG_DOWN)
            self.assertEqual(h.sha256(resp.body), h.sha256(want))
            c.send(get("/hello.txt"))  # the connection is still in step
            self.assertEqual(c.read_response().body, HELLO)

    def test_big_static_file_to_a_slow_reader(self):
        want = h.big_content(BIG_DOWN)
        with self.connect_tls(rcvbuf=16384) as c:
            c.send(get("/big.bin"))
            head = c.read_head()
            self.assertStatus(head, 200)
            time.sleep(0.5)  # the server meets a full socket
            got = c.buf
            c.buf = b""
            deadline = time.monotonic() + 60 * h.SLOW
            while len(got) < BIG_DOWN:
                chunk = c.read_some(deadline)
                self.assertTrue(chunk, "closed after %d bytes" % len(got))
                got += chunk
                if len(got) < (1 << 20):
                    time.sleep(0.01)  # slow for the first MiB
            self.assertEqual(h.sha256(got[:BIG_DOWN]), h.sha256(want))

    def test_body_over_the_limit_up(self):
        # The body goes up until the server answers (from the head: 413, or
        # 405), or stops reading. One thread only: an SSL socket must not be
        # read and written from two threads at once, so each chunk sent is
        # followed by a read that does not wait. (select() cannot tell: a
        # TLS 1.3 session ticket makes the socket readable too.)
        data = request("POST", "/hello.txt", {"Content-Length": BIG_UP}) + b"u" * BIG_UP
        with self.connect_tls() as c:
            sent = 0
            deadline = time.monotonic() + 15 * h.SLOW
            while sent < len(data) and not c.buf and time.monotonic() < deadline:
                c.sock.settimeout(1.0)
                try:
                    sent += c.sock.send(data[sent:sent + 16384])
                except (OSError, ssl.SSLError):
                    break  # stopped reading (a timeout), or gone
                c.sock.settimeout(0.0)
                try:
                    c.buf += c.sock.recv(65536)
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                    pass
                except (OSError, ssl.SSLError):
                    break
                finally:
                    c.sock.settimeout(c.timeout)
            resp = c.read_response(within=15 * h.SLOW)
            self.assertIn(resp.status, (405, 413), resp)
            if resp.has_token("Connection", "close"):
                self.assertClosed(c)
            else:  # the body was read and dropped: the next request is in step
                self.assertEqual(sent, len(data))
                c.send(get("/hello.txt"))
                self.assertEqual(c.read_response().body, HELLO)
        self.assertServesTls()

    def test_body_up_to_php(self):
        body = bytes(range(256)) * (PHP_BODY // 256)
        with self.connect_tls() as c:
            c.send(request("POST", "/echo.php", {"Content-Length": len(body),
                                                 "Content-Type": "application/octet-stream"},
                           body))
            resp = c.read_response(within=30 * h.SLOW)
            self.assertStatus(resp, 200)
            self.assertEqual(resp.body.decode(), "%d %s" % (len(body), h.sha256(body)))
            c.send(get("/hello.txt"))
            self.assertEqual(c.read_response().body, HELLO)

    def test_php_sees_https(self):
        with self.connect_tls() as c:
            c.send(get("/https.php"))
            resp = c.read_response(within=30 * h.SLOW)
            self.assertStatus(resp, 200)
            self.assertEqual(resp.body.decode(), "on %d" % self.server.tls_port)
        # ... and not on the plain port.
        resp = self.server.get("/https.php")
        self.assertStatus(resp, 200)
        self.assertTrue(resp.body.decode().startswith(("unset", "off", " ")), resp.body)


class StartupErrors(unittest.TestCase):
    """Bad certificate or key: exit 2 before serving, one line naming the file."""

    def start_expecting_failure(self, cert_file, key_file, names):
        workdir = tempfile.mkdtemp(prefix="torus-e2e-")
        self.addCleanup(shutil.rmtree, workdir, True)
        root = h.make_docroot(workdir)
        argv = [h.TORUS_BIN, "--listen", "%s:%d" % (h.HOST, h.free_port()), "--root", root,
                "--threads", "1", "--no-pin", "--tls-listen", "%s:%d" % (h.HOST, h.free_port()),
                "--tls-cert", cert_file, "--tls-key", key_file]
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, preexec_fn=h._die_with_parent)
        try:
            out, err = proc.communicate(timeout=h.START_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            self.fail("torus kept running with %s / %s" % (cert_file, key_file))
        text = err.decode("utf-8", "replace").strip()
        self.assertEqual(proc.returncode, 2, text)
        self.assertEqual(len(text.splitlines()), 1, text)
        for name in names:
            self.assertIn(name, text)
        return text

    def test_key_not_matching_the_certificate(self):
        text = self.start_expecting_failure(cert("chain.pem"), cert("other.key"),
                                            [cert("other.key")])
        self.assertIn("match", text)

    def test_malformed_certificate(self):
        self.start_expecting_failure(cert("garbage.pem"), cert("leaf.key"), [cert("garbage.pem")])

    def test_key_given_as_certificate(self):
        self.start_expecting_failure(cert("leaf.key"), cert("leaf.key"), [cert("leaf.key")])

    def test_missing_file(self):
        missing = cert("missing.pem")
        self.start_expecting_failure(cert("chain.pem"), missing, [missing])


# ---------------------------------------------------------------------------
# Skipping until the loop speaks TLS
# ---------------------------------------------------------------------------


def tls_not_served_yet():
    """None when torus completes a TLS handshake on --tls-listen; otherwise
    the reason to skip (the port answers plaintext HTTP, or the flags are
    refused as unsupported)."""
    workdir = tempfile.mkdtemp(prefix="torus-e2e-tls-probe-")
    try:
        os.chmod(workdir, 0o755)
        srv = TlsServer(h.make_docroot(workdir), workdir)
        try:
            srv.start()
        except AssertionError as e:
            if "not supported" in str(e) or "not implemented" in str(e):
                return "torus refuses --tls-listen: %s" % str(e).splitlines()[0]
            raise
        try:
            try:
                tls_conn(srv.tls_port, timeout=3.0 * h.SLOW).close()
                return None
            except (ssl.SSLError, OSError) as e:
                failure = e
            with h.Conn(srv.tls_port, timeout=3.0 * h.SLOW) as c:
                c.send(get("/hello.txt"))
                try:
                    data = c.read_some(time.monotonic() + 3.0 * h.SLOW)
                except OSError:
                    data = b""
            if data.startswith(b"HTTP/1.1 200"):
                return ("TLS not supported yet: torus answers plaintext HTTP on --tls-listen "
                        "(handshake: %s)" % failure)
            return None  # it does something else: let the tests say what
        finally:
            srv.kill()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    if h.REFERENCE:
        print("SKIP: the TLS tests have no nginx reference mode")
        sys.exit(77)
    if not OPENSSL:
        print("SKIP: the openssl command is needed to make the test certificates")
        sys.exit(77)
    if not os.access(h.TORUS_BIN, os.X_OK):
        h.main()  # reports the missing binary
    make_certificates()
    reason = tls_not_served_yet()
    if reason:
        print("SKIP: " + reason)
        sys.exit(77)
    h.main()
