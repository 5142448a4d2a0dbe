"""HTTP/2, end to end: h2 by ALPN on --tls-listen and h2c with prior
knowledge on a plain listener with --h2c, with curl and with Python's h2
package over a raw socket (one connection, many streams).

Checked: PHP (classic and worker) answers over HTTP/2 with SERVER_PROTOCOL
"HTTP/2.0" and :authority as HTTP_HOST; a POST body reaches php://input
byte-exact, also a multi-MiB one (spooled past --body-buffer-size); a body
over --max-body-size gets 413 on its stream; static files with Range (206)
and If-None-Match (304); many concurrent streams on one connection each get
their own answer; 103 Early Hints arrive as an interim HEADERS frame before
the final one; a streamed PHP response arrives whole; a slow-reading client
of a large PHP response parks the executor instead of growing the server's
memory; the access log says HTTP/2.0. Without --h2c, a plain listener answers
the client preface as HTTP/1.1 does (400). Files the static cache does not
hold (created after the start, larger than its read-whole limit) are served
whole, by Range and to HEAD, also to many streams at once, and streams reset
(or a connection closed) while their look-up is at a file-system worker
leave the server healthy. X-Sendfile is served as over HTTP/1.1: the file's
bytes, Range 206, If-None-Match 304, HEAD, the script's other headers kept,
neither the header nor the script's body sent, 403 for traversal or a
symbolic link out of --sendfile-root.
"""

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torus_harness as h  # noqa: E402
import test_sendfile  # noqa: E402  (its X-Sendfile files and script)
import test_tls  # noqa: E402  (its certificates and TlsServer)

def _import_h2():
    """Debian's python3-h2 (pure Python) also when this interpreter is not Debian's."""
    try:
        import h2.connection  # noqa: F401
    except ImportError:
        sys.path.append("/usr/lib/python3/dist-packages")
        try:
            import h2.connection  # noqa: F401
        except ImportError:
            return False
    return True


HAVE_H2 = _import_h2()
if HAVE_H2:
    import h2.config
    import h2.connection
    import h2.events

CURL = shutil.which("curl")
MIB = 1 << 20

PHP_FILES = {
    "echo.php": b"<?php $b = file_get_contents('php://input');"
                b" echo strlen($b), ' ', hash('sha256', $b);",
    "proto.php": b"<?php echo $_SERVER['SERVER_PROTOCOL'], ' ', $_SERVER['HTTP_HOST'] ?? '-',"
                 b" ' ', $_SERVER['REQUEST_METHOD'], ' ', $_SERVER['REQUEST_URI'];",
    "hints.php": b"<?php header('Link: </style.css>; rel=preload; as=style');"
                 b" headers_send(103); header_remove('Link'); header('X-Final: yes');"
                 b" echo \"final\\n\";",
    # A streamed response: 64 KiB blocks, each flushed, each holding its number.
    "stream.php": b"<?php $n = (int)($_GET['mib'] ?? 1) * 16;"
                  b" for ($i = 0; $i < $n; $i++) {"
                  b" echo str_pad(sprintf('%08d', $i), 65536, 'x'); flush(); }",
    "nap.php": b"<?php usleep(300000); echo 'awake';",
    "worker.php": b"<?php while (torus_handle_request(function () {"
                  b" echo 'worker ', $_SERVER['SERVER_PROTOCOL'], ' ', $_SERVER['REQUEST_URI'];"
                  b" })) {}",
}


def stream_body(mib):
    return b"".join(("%08d" % i).encode().ljust(65536, b"x") for i in range(mib * 16))


def curl(*args, timeout=30):
    run = subprocess.run([CURL, "-sS", "--max-time", str(timeout)] + list(args),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout + 10)
    return run


class H2Client:
    """One HTTP/2 connection over a plain socket (prior knowledge), driven by
    the h2 package: requests go out as streams, events come back."""

    def __init__(self, port, timeout=h.READ_TIMEOUT):
        self.sock = socket.create_connection((h.HOST, port), timeout=timeout)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        self.flush()
        self.responses = {}  # stream id -> {"headers": [...], "interim": [...], "body": bytearray()} (a bytearray: += of 64 MiB in 16 KiB pieces stays linear)
        self.ended = set()
        self.reset = set()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def request(self, path, method="GET", body=None, headers=()):
        sid = self.conn.get_next_available_stream_id()
        hdrs = [(":method", method), (":path", path), (":scheme", "http"),
                (":authority", "example.test")] + list(headers)
        if body is not None:
            hdrs.append(("content-length", str(len(body))))
        self.conn.send_headers(sid, hdrs, end_stream=body is None)
        self.responses[sid] = {"headers": None, "interim": [], "body": bytearray()}
        if body is not None:
            self.send_body(sid, body)
        self.flush()
        return sid

    def send_body(self, sid, body):
        if not body:
            self.conn.send_data(sid, b"", end_stream=True)
            return
        view = memoryview(body)
        while view:
            window = min(self.conn.local_flow_control_window(sid),
                         self.conn.max_outbound_frame_size)
            if window <= 0:
                self.pump()
                continue
            chunk, view = view[:window], view[window:]
            self.conn.send_data(sid, bytes(chunk), end_stream=not view)
            self.flush()

    def pump(self):
        data = self.sock.recv(1 << 20)
        if not data:
            raise ConnectionError("the server closed the connection")
        for event in self.conn.receive_data(data):
            if isinstance(event, h2.events.ResponseReceived):
                self.responses[event.stream_id]["headers"] = dict(
                    (k.decode(), v.decode()) for k, v in event.headers)
            elif isinstance(event, h2.events.InformationalResponseReceived):
                self.responses[event.stream_id]["interim"].append(dict(
                    (k.decode(), v.decode()) for k, v in event.headers))
            elif isinstance(event, h2.events.DataReceived):
                self.responses[event.stream_id]["body"] += event.data
                self.conn.acknowledge_received_data(event.flow_controlled_length,
                                                    event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                self.ended.add(event.stream_id)
            elif isinstance(event, h2.events.StreamReset):
                self.reset.add(event.stream_id)
        self.flush()

    def wait(self, sids, within=10):
        deadline = time.monotonic() + within * h.SLOW
        while not all(s in self.ended or s in self.reset for s in sids):
            if time.monotonic() > deadline:
                raise AssertionError("streams %s did not end" % sorted(
                    set(sids) - self.ended - self.reset))
            self.pump()

    def get(self, path, within=10, **kw):
        sid = self.request(path, **kw)
        self.wait([sid], within)
        return self.responses[sid]

    def close(self):
        self.sock.close()


class Http2Base(h.ServerTestCase):
    server_options = {"h2c": True, "max_body_size": "16M"}
    big_files = {"big.bin": 3 * MIB}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for name, content in PHP_FILES.items():
            with open(os.path.join(cls.root, name), "wb") as f:
                f.write(content)

    def url(self, path, srv=None):
        return "http://%s%s" % ((srv or self.server).address, path)


@unittest.skipUnless(CURL, "curl is not installed")
class CurlPriorKnowledge(Http2Base):

    def test_php_classic_over_h2c(self):
        run = curl("--http2-prior-knowledge", "-w", "\n%{http_version} %{http_code}",
                   self.url("/proto.php?x=1"))
        self.assertEqual(run.returncode, 0, run.stderr)
        body, tail = run.stdout.rsplit(b"\n", 1)
        self.assertEqual(tail, b"2 200")
        self.assertEqual(body, b"HTTP/2.0 %s GET /proto.php?x=1" % self.server.address.encode())

    def test_static_range_and_conditional(self):
        data = h.big_content(3 * MIB)
        run = curl("--http2-prior-knowledge", "-D", "-", "-r", "100-199", self.url("/big.bin"))
        self.assertEqual(run.returncode, 0, run.stderr)
        head, body = run.stdout.split(b"\r\n\r\n", 1)
        self.assertTrue(head.startswith(b"HTTP/2 206"), head)
        self.assertEqual(body, data[100:200])
        whole = curl("--http2-prior-knowledge", "-D", "-", self.url("/big.bin"))
        head, body = whole.stdout.split(b"\r\n\r\n", 1)
        self.assertEqual(hashlib.sha256(body).hexdigest(), hashlib.sha256(data).hexdigest())
        etag = [line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
                if line.lower().startswith(b"etag:")][0]
        cond = curl("--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code}",
                    "-H", "If-None-Match: " + etag.decode(), self.url("/big.bin"))
        self.assertEqual(cond.stdout, b"304")

    def test_plain_listener_without_h2c_answers_400(self):
        srv = self.start_server()
        with h.Conn(srv.port) as c:
            c.send(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            resp = c.read_response()
            self.assertStatus(resp, 400)


@unittest.skipUnless(HAVE_H2, "python3-h2 is not installed")
class Streams(Http2Base):

    def test_post_bodies_reach_php_byte_exact(self):
        c = H2Client(self.server.port)
        try:
            for size in (0, 1000, 200 * 1024, 5 * MIB):
                body = os.urandom(size)
                resp = c.get("/echo.php", method="POST", body=body)
                self.assertEqual(resp["headers"][":status"], "200")
                self.assertEqual(resp["body"].decode(),
                                 "%d %s" % (size, hashlib.sha256(body).hexdigest()))
        finally:
            c.close()

    def test_body_over_the_limit_gets_413(self):
        c = H2Client(self.server.port)
        try:
            sid = c.conn.get_next_available_stream_id()
            c.conn.send_headers(sid, [(":method", "POST"), (":path", "/echo.php"),
                                      (":scheme", "http"), (":authority", "t"),
                                      ("content-length", str(17 * MIB))])
            c.responses[sid] = {"headers": None, "interim": [], "body": bytearray()}
            c.flush()
            c.wait([sid])
            self.assertEqual(c.responses[sid]["headers"][":status"], "413")
            # The connection goes on.
            self.assertEqual(c.get("/hello.txt")["body"], h.HELLO)
        finally:
            c.close()

    def test_many_concurrent_streams_on_one_connection(self):
        c = H2Client(self.server.port)
        try:
            sids = {}
            for i in range(60):
                path = "/proto.php?n=%d" % i if i % 2 else "/hello.txt"
                sids[c.request(path)] = (i, path)
            c.wait(list(sids))
            for sid, (i, path) in sids.items():
                resp = c.responses[sid]
                self.assertEqual(resp["headers"][":status"], "200", path)
                if i % 2:
                    self.assertEqual(resp["body"].decode(),
                                     "HTTP/2.0 example.test GET /proto.php?n=%d" % i)
                else:
                    self.assertEqual(resp["body"], h.HELLO)
        finally:
            c.close()

    def test_early_hints_are_an_interim_headers_frame(self):
        c = H2Client(self.server.port)
        try:
            resp = c.get("/hints.php")
            self.assertEqual(len(resp["interim"]), 1)
            self.assertEqual(resp["interim"][0][":status"], "103")
            self.assertEqual(resp["interim"][0]["link"], "</style.css>; rel=preload; as=style")
            self.assertEqual(resp["headers"][":status"], "200")
            self.assertEqual(resp["headers"]["x-final"], "yes")
            self.assertNotIn("link", resp["headers"])
            self.assertEqual(resp["body"], b"final\n")
        finally:
            c.close()

    def test_streamed_response_arrives_whole(self):
        c = H2Client(self.server.port)
        try:
            resp = c.get("/stream.php?mib=3", within=30)
            self.assertEqual(resp["headers"][":status"], "200")
            self.assertNotIn("transfer-encoding", resp["headers"])
            self.assertEqual(resp["body"], stream_body(3))
        finally:
            c.close()

    def test_client_half_close_while_a_stream_runs(self):
        # The client's FIN while its stream is at an executor and nothing is to be sent: the
        # stream is still answered (the session once pumped itself until the stack overflowed).
        c = H2Client(self.server.port)
        try:
            sid = c.request("/nap.php")
            c.sock.shutdown(socket.SHUT_WR)
            c.flush = lambda: None  # nothing more can be sent (SETTINGS ACK, WINDOW_UPDATE)
            c.wait([sid])
            self.assertIn(sid, c.ended)
            self.assertEqual(c.responses[sid]["headers"][":status"], "200")
            self.assertEqual(c.responses[sid]["body"], b"awake")
        finally:
            c.close()

    def test_head_and_not_found(self):
        c = H2Client(self.server.port)
        try:
            resp = c.get("/hello.txt", method="HEAD")
            self.assertEqual(resp["headers"][":status"], "200")
            self.assertEqual(resp["headers"]["content-length"], str(len(h.HELLO)))
            self.assertEqual(resp["body"], b"")
            self.assertEqual(c.get("/missing.txt")["headers"][":status"], "404")
        finally:
            c.close()


@unittest.skipUnless(HAVE_H2, "python3-h2 is not installed")
class SlowReader(Http2Base):
    """A client that reads nothing of a 64 MiB PHP response: HTTP/2's flow
    control stops the DATA, the stream's queue reaches the high mark, the
    executor waits; the server's memory does not grow with the response."""

    def test_slow_reader_parks_the_executor(self):
        from test_slow_reader import server_rss_kib
        c = H2Client(self.server.port)
        try:
            # Warm up first (PHP's first run of the script, the shard's buffers), then measure.
            self.assertEqual(len(c.get("/stream.php?mib=2", within=30)["body"]), 2 * MIB)
            before = server_rss_kib(self.server.proc.pid)
            sid = c.request("/stream.php?mib=64")
            peak = before
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                time.sleep(0.2)
                peak = max(peak, server_rss_kib(self.server.proc.pid))
            growth_mib = (peak - before) / 1024
            self.assertLess(growth_mib, 32, "RSS grew by %.0f MiB" % growth_mib)
            # Now read it all: every byte arrives, in order.
            c.wait([sid], within=120)
            body = c.responses[sid]["body"]
            self.assertEqual(len(body), 64 * MIB)
            self.assertEqual(body[:65536], stream_body(1)[:65536])
        finally:
            c.close()


@unittest.skipUnless(HAVE_H2, "python3-h2 is not installed")
@h.needs_zts("two executors in one shard")
class Concurrency(Http2Base):
    server_options = {"h2c": True, "php_threads_per_core": 2}

    def test_streams_of_one_connection_run_on_several_executors(self):
        # Each script waits (up to 5 s) for the other's marker: both see it only when they run at
        # the same time, on two executors.
        marks = os.path.join(self.workdir, "marks")
        os.makedirs(marks, exist_ok=True)
        with open(os.path.join(self.root, "meet.php"), "wb") as f:
            f.write(b"<?php $d = '%s'; touch(\"$d/\" . $_GET['me']); $t = microtime(true);"
                    b" while (!file_exists(\"$d/\" . $_GET['other']) && microtime(true) - $t < 5)"
                    b" usleep(10000);"
                    b" echo file_exists(\"$d/\" . $_GET['other']) ? 'together' : 'alone';"
                    % marks.encode())
        c = H2Client(self.server.port)
        try:
            a = c.request("/meet.php?me=a&other=b")
            b = c.request("/meet.php?me=b&other=a")
            c.wait([a, b], within=15)
            self.assertEqual(c.responses[a]["body"], b"together")
            self.assertEqual(c.responses[b]["body"], b"together")
        finally:
            c.close()


class Worker(Http2Base):
    server_options = None

    @unittest.skipUnless(HAVE_H2, "python3-h2 is not installed")
    def test_worker_over_h2c(self):
        srv = self.start_server(h2c=True, worker=os.path.join(self.root, "worker.php"))
        c = H2Client(srv.port)
        try:
            self.assertEqual(c.get("/anything?q")["body"], b"worker HTTP/2.0 /anything?q")
            self.assertEqual(c.get("/second")["body"], b"worker HTTP/2.0 /second")
            # Another existing script runs in classic mode beside the worker, as in FrankenPHP;
            # with an NTS PHP (one executor per shard) the worker answers it.
            body = os.urandom(300 * 1024)
            expected = (b"%d %s" % (len(body), hashlib.sha256(body).hexdigest().encode())
                        if h.php_kind() == "ZTS" else b"worker HTTP/2.0 /echo.php")
            self.assertEqual(c.get("/echo.php", method="POST", body=body)["body"], expected)
        finally:
            c.close()


@unittest.skipUnless(HAVE_H2, "python3-h2 is not installed")
class ColdCache(Http2Base):
    """Files the static cache does not hold: looked up, opened and read by
    the file-system workers while the stream waits (ROUTING)."""

    def write(self, name, data):
        with open(os.path.join(self.root, name), "wb") as f:
            f.write(data)
        return data

    def test_files_created_after_the_start(self):
        small = self.write("fresh-small.txt", b"made after the start\n")
        big = self.write("fresh-big.bin", h.big_content(MIB + 12345))  # past the read-whole limit
        c = H2Client(self.server.port)
        try:
            resp = c.get("/fresh-small.txt")
            self.assertEqual(resp["headers"][":status"], "200")
            self.assertEqual(resp["body"], small)
            resp = c.get("/fresh-big.bin")
            self.assertEqual(resp["headers"][":status"], "200")
            self.assertEqual(resp["headers"]["content-length"], str(len(big)))
            self.assertEqual(hashlib.sha256(resp["body"]).hexdigest(),
                             hashlib.sha256(big).hexdigest())
        finally:
            c.close()

    def test_range_and_many_streams_of_an_uncached_file(self):
        big = self.write("fresh-range.bin", h.big_content(2 * MIB))
        c = H2Client(self.server.port)
        try:
            # Sent together: they wait on one look-up; each gets its own answer.
            sids = [c.request("/fresh-range.bin", headers=[("range", "bytes=%d-%d" % (i * 70000,
                                                                                   i * 70000 + 99))])
                    for i in range(8)]
            whole = c.request("/fresh-range.bin")
            head = c.request("/fresh-range.bin", method="HEAD")
            c.wait(sids + [whole, head])
            for i, sid in enumerate(sids):
                resp = c.responses[sid]
                self.assertEqual(resp["headers"][":status"], "206")
                self.assertEqual(resp["headers"]["content-range"],
                                 "bytes %d-%d/%d" % (i * 70000, i * 70000 + 99, len(big)))
                self.assertEqual(resp["body"], big[i * 70000:i * 70000 + 100])
            self.assertEqual(c.responses[whole]["body"], big)
            self.assertEqual(c.responses[head]["headers"]["content-length"], str(len(big)))
            self.assertEqual(c.responses[head]["body"], b"")
            # A file that is not there, and a directory's redirect, also go through the workers.
            self.assertEqual(c.get("/no-such-file.txt")["headers"][":status"], "404")
        finally:
            c.close()

    def test_curl_range_over_h2(self):
        big = self.write("fresh-curl.bin", h.big_content(MIB))
        run = curl("--http2-prior-knowledge", "-D", "-", "-r", "100000-100199",
                   self.url("/fresh-curl.bin"))
        self.assertEqual(run.returncode, 0, run.stderr)
        head, body = run.stdout.split(b"\r\n\r\n", 1)
        self.assertTrue(head.startswith(b"HTTP/2 206"), head)
        self.assertEqual(body, big[100000:100200])

    def test_streams_reset_while_their_route_is_looked_up(self):
        names = []
        for i in range(40):
            names.append("reset-%d.bin" % i)
            self.write(names[-1], h.big_content(200000 + i))
        c = H2Client(self.server.port)
        try:
            # Each request and its reset leave in one write: the stream goes while its
            # look-up (or the read of its file) is at a file-system worker.
            for name in names:
                sid = c.conn.get_next_available_stream_id()
                c.conn.send_headers(sid, [(":method", "GET"), (":path", "/" + name),
                                          (":scheme", "http"), (":authority", "example.test")],
                                    end_stream=True)
                c.conn.reset_stream(sid)
            c.flush()
            # The same files on another connection closed at once, with its look-ups in flight.
            other = H2Client(self.server.port)
            for name in names[:10]:
                other.conn.send_headers(other.conn.get_next_available_stream_id(),
                                        [(":method", "GET"), (":path", "/" + name),
                                         (":scheme", "http"), (":authority", "example.test")],
                                        end_stream=True)
            other.flush()
            other.close()
            # The connection and the server go on: later streams are answered.
            resp = c.get("/" + names[-1])
            self.assertEqual(resp["headers"][":status"], "200")
            self.assertEqual(resp["body"], h.big_content(200000 + 39))
            self.assertEqual(c.get("/proto.php")["headers"][":status"], "200")
        finally:
            c.close()
        c = H2Client(self.server.port)
        try:
            self.assertEqual(c.get("/" + names[0])["body"], h.big_content(200000))
        finally:
            c.close()


@unittest.skipUnless(HAVE_H2, "python3-h2 is not installed")
class Sendfile(Http2Base):
    """X-Sendfile over HTTP/2: the file as HTTP/1.1 serves it (net/sendfile.c);
    test_sendfile's files and script."""
    server_options = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        test_sendfile.make_files(cls)
        cls.report = test_sendfile.REPORT
        cls.server = h.Server(cls.root, cls.workdir, h2c=True, sendfile_root=cls.files).start()

    def download(self, c, path, **kw):
        return c.get("/download.php?path=" + urllib.parse.quote(path), **kw)

    def assertFile(self, resp, body):
        self.assertEqual(resp["headers"][":status"], "200")
        self.assertEqual(resp["body"], body)
        self.assertNotIn("x-sendfile", resp["headers"])
        self.assertNotIn(b"replaced", resp["body"])  # the script's own body
        self.assertEqual(resp["headers"]["content-disposition"],
                         'attachment; filename="report.txt"')
        self.assertEqual(resp["headers"]["cache-control"], "private, max-age=60")
        self.assertEqual(resp["headers"]["content-length"], str(len(body)))
        self.assertTrue(resp["headers"]["etag"])

    def test_serves_the_file(self):
        c = H2Client(self.server.port)
        try:
            resp = self.download(c, os.path.join(self.files, "report.txt"))
            self.assertFile(resp, self.report)
            self.assertTrue(resp["headers"]["content-type"].startswith("text/plain"))
            self.assertFile(self.download(c, os.path.join(self.files, "big.bin")), self.big)
            self.assertEqual(c.get("/proto.php")["headers"][":status"], "200")  # the rest works
        finally:
            c.close()

    def test_range_conditional_and_head(self):
        c = H2Client(self.server.port)
        try:
            path = os.path.join(self.files, "big.bin")
            resp = self.download(c, path, headers=[("range", "bytes=1000-1999")])
            self.assertEqual(resp["headers"][":status"], "206")
            self.assertEqual(resp["headers"]["content-range"], "bytes 1000-1999/%d" % len(self.big))
            self.assertEqual(resp["body"], self.big[1000:2000])
            etag = resp["headers"]["etag"]
            resp = self.download(c, path, headers=[("if-none-match", etag)])
            self.assertEqual(resp["headers"][":status"], "304")
            self.assertEqual(resp["body"], b"")
            resp = self.download(c, path, method="HEAD")
            self.assertEqual(resp["headers"][":status"], "200")
            self.assertEqual(resp["headers"]["content-length"], str(len(self.big)))
            self.assertEqual(resp["body"], b"")
        finally:
            c.close()

    def test_traversal_symlink_and_missing(self):
        c = H2Client(self.server.port)
        try:
            for path in (os.path.join(self.files, "..", "secret.txt"),
                         os.path.join(self.files, "escape.txt"), "/etc/passwd"):
                resp = self.download(c, path)
                self.assertEqual(resp["headers"][":status"], "403", path)
                self.assertNotIn(b"secret", resp["body"])
                self.assertNotIn("x-sendfile", resp["headers"])
            resp = self.download(c, os.path.join(self.files, "missing.txt"))
            self.assertEqual(resp["headers"][":status"], "404")
        finally:
            c.close()

    def test_reset_while_the_file_is_opened(self):
        c = H2Client(self.server.port)
        try:
            target = "/download.php?path=" + urllib.parse.quote(os.path.join(self.files,
                                                                             "big.bin"))
            for _ in range(10):
                sid = c.conn.get_next_available_stream_id()
                c.conn.send_headers(sid, [(":method", "GET"), (":path", target),
                                          (":scheme", "http"), (":authority", "example.test")],
                                    end_stream=True)
                c.conn.reset_stream(sid)
            c.flush()
            self.assertFile(self.download(c, os.path.join(self.files, "report.txt")),
                            self.report)
        finally:
            c.close()


@unittest.skipUnless(CURL, "curl is not installed")
class OverTls(test_tls.TlsTestCase):
    server_options = {}

    def test_curl_negotiates_h2_by_alpn(self):
        log = os.path.join(self.workdir, "access-%d.log" % os.getpid())
        srv = self.start_server(access_log=log)
        url = "https://localhost:%d/https.php" % srv.tls_port
        run = curl("--http2", "--cacert", test_tls.cert("root.pem"), "--resolve",
                   "localhost:%d:127.0.0.1" % srv.tls_port, "-w", " %{http_version}", url,
                   "-d", "x=1")
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(run.stdout, b"on %d 2" % srv.tls_port)
        # http/1.1 still, for a client that asks for it.
        run = curl("--http1.1", "--cacert", test_tls.cert("root.pem"), "--resolve",
                   "localhost:%d:127.0.0.1" % srv.tls_port, "-w", " %{http_version}", url)
        self.assertEqual(run.stdout, b"on %d 1.1" % srv.tls_port)
        h.wait_for(lambda: os.path.exists(log) and b"HTTP/2.0" in open(log, "rb").read(), 5)
        with open(log, "rb") as f:
            lines = f.read().splitlines()
        self.assertTrue(any(b'"POST /https.php HTTP/2.0" 200' in line for line in lines), lines)
        self.assertTrue(any(b'"GET /https.php HTTP/1.1" 200' in line for line in lines), lines)


if __name__ == "__main__":
    test_tls.make_certificates()
    h.main()
