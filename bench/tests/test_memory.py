"""The memory scenarios (bench/lib/memory.py) end to end, scaled down, against a small
HTTP server of this file's own (in a thread: its RSS is this process's); where the
growth went; the rows, servers and settings the catalog gives them; their table
cells; and the idle connections' per-connection note and TLS handshakes."""

import hashlib
import http.server
import json
import os
import shutil
import socket
import socketserver
import ssl
import tempfile
import threading
import unittest
from urllib.parse import parse_qs

import support  # noqa: F401  (sets the import path)
import catalog
import cli
import idle
import memory
import rawhttp
import servers
import stats
import table
import workspace

MIB = rawhttp.MIB


class _Handler(socketserver.StreamRequestHandler):
    """/hello.php, /stream.php?mib=N (chunked, numbered blocks) and /upload.php (the
    body's length and sha256), keep-alive; self.server.corrupt flips one streamed byte."""

    def handle(self):
        while True:
            line = self.rfile.readline()
            if not line:
                return
            _, target, _ = line.decode().split()
            headers = {}
            while True:
                header = self.rfile.readline()
                if header in (b"\r\n", b""):
                    break
                name, _, value = header.decode().partition(":")
                headers[name.strip().lower()] = value.strip()
            body = self.rfile.read(int(headers.get("content-length", "0")))
            path, _, query = target.partition("?")
            if path == "/stream.php":
                self.stream(int(parse_qs(query)["mib"][0]))
            elif path == "/upload.php":
                self.answer(json.dumps({"bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}).encode())
            else:
                self.answer(b"Hello, world!")

    def answer(self, body):
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

    def stream(self, mib):
        self.wfile.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        pattern = rawhttp.stream_pattern()
        for index in range(mib):
            block = rawhttp.numbered_block(index, pattern)
            if self.server.corrupt and index == 1:
                block = block[:100] + b"!" + block[101:]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(block), block))
        self.wfile.write(b"0\r\n\r\n")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    corrupt = False

    def handle_error(self, request, client_address):
        pass  # a client of the tests that hangs up early is no failure


class FakeServer:
    """What memory.measure() asks of a server under test."""

    name = "fake"

    def __init__(self, port):
        self.port = port
        self.notes = []

    def roots(self):
        return [os.getpid()]

    def alive(self):
        return True

    def failure_reason(self):
        return None


class Measure(unittest.TestCase):
    SMALL = {"SLOW_READER_MIB": 3, "SLOW_READER_PAUSE_S": 0.2, "UPLOAD_MIB": 3, "PIPELINE_REQUESTS": 300,
             "WARM_MIB": 2, "WARM_REQUESTS": 10, "AFTER_S": 0.05}

    def setUp(self):
        self.saved = {name: getattr(memory, name) for name in self.SMALL}
        for name, value in self.SMALL.items():
            setattr(memory, name, value)
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.server = FakeServer(self.httpd.server_address[1])
        self.lines = []

    def tearDown(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        for name, value in self.saved.items():
            setattr(memory, name, value)

    def measure(self, scenario_name, variant="", runs=1):
        row = stats.Row("torus-worker", scenario_name, 1, kind="memory", variant=variant)
        memory.measure(self.server, catalog.scenario(scenario_name), row, runs, self.lines.append)
        return row

    def assertMeasured(self, row, *words):
        self.assertIsNone(row.failure)
        self.assertTrue(row.ok)
        self.assertEqual(row.errors, 0, row.notes)
        self.assertIsInstance(row.rss_growth, int)
        self.assertGreater(row.peak_rss, 0)
        text = "; ".join(row.notes)
        for word in words:
            self.assertIn(word, text)

    def test_slow_reader_both_variants(self):
        self.assertEqual(memory.variants("slow-reader"), ("flush", "no flush"))
        for variant in memory.variants("slow-reader"):
            row = self.measure("slow-reader", variant)
            self.assertMeasured(row, "3 MiB read after 0.2 s unread", "every byte as PHP printed it", "target < 32 MiB")
        self.assertEqual(len(self.lines), 2)
        self.assertIn("slow-reader (flush) fake run 1/1: RSS", self.lines[0])

    def test_a_changed_byte_is_an_error_in_every_run(self):
        self.httpd.corrupt = True
        row = self.measure("slow-reader", "flush", runs=2)
        self.assertEqual(row.errors, 2)
        self.assertIsNotNone(row.rss_growth)  # the figure is still there
        self.assertIn("warm-up: byte 1,048,676 differs from what PHP printed", row.notes)
        self.assertRegex(row.notes[1], r"^3 MiB read after 0.2 s unread in [0-9.]+( to [0-9.]+)? s, "
                                       r"byte 1,048,676 differs from what PHP printed$")  # both runs, folded

    def test_upload(self):
        self.assertMeasured(self.measure("upload-400m"), "3 MiB sent and hashed", "sha256 matches")

    def test_pipeline(self):
        self.assertMeasured(self.measure("pipeline-20k"), "300/300 answered 200 Hello, world!",
                            "written before the first read", "target < 16 MiB")

    def test_a_server_that_does_not_answer_fails_the_row(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.server.port = s.getsockname()[1]  # bound, not listening: refused
            row = self.measure("upload-400m")
        self.assertFalse(row.ok)
        self.assertTrue(row.failure.startswith("warm-up request failed: connect"), row.failure)


class Figures(unittest.TestCase):
    def test_notes_of_several_runs_fold_into_one(self):
        outcomes = [memory.Outcome(None, "4 MiB read in {seconds} s, fine", 1.24),
                    memory.Outcome(None, "4 MiB read in {seconds} s, fine", 0.93),
                    memory.Outcome("short", "client failed: short"),
                    memory.Outcome(None, "4 MiB read in {seconds} s, fine", 1.0)]
        self.assertEqual(memory.fold_notes(outcomes), ["4 MiB read in 0.9 to 1.2 s, fine", "client failed: short"])
        self.assertEqual(memory.fold_notes(outcomes[:1]), ["4 MiB read in 1.2 s, fine"])

    def test_target_note(self):
        self.assertEqual(memory.target_note(31 * MIB, 32 * MIB), "target < 32 MiB: met")
        self.assertEqual(memory.target_note(32 * MIB, 32 * MIB), "target < 32 MiB: MISSED")

    def test_growth_by_process(self):
        before = {10: {"Name": "torus", "VmRSS": 50000, "RssAnon": 20000, "RssFile": 30000, "RssShmem": 0},
                  11: {"Name": "torus", "VmRSS": 40000, "RssAnon": 10000, "RssFile": 30000, "RssShmem": 0}}
        peak = {10: {"Name": "torus", "VmRSS": 50100, "RssAnon": 20100, "RssFile": 30000, "RssShmem": 0},
                11: {"Name": "torus", "VmRSS": 81960, "RssAnon": 51960, "RssFile": 30000, "RssShmem": 0},
                12: {"Name": "php-fpm8.2", "VmRSS": 2048, "RssAnon": 1024, "RssFile": 1024, "RssShmem": 0}}
        self.assertEqual(memory.growth_by_process(before, peak), [
            "torus 11 +41.0 MiB (anon +41.0, file +0.0, shmem +0.0)",
            "php-fpm8.2 12 +2.0 MiB (anon +1.0, file +1.0, shmem +0.0)",
        ])


class Catalog(unittest.TestCase):
    MEMORY = ("slow-reader", "upload-400m", "pipeline-20k")

    def test_rows(self):
        for name in self.MEMORY:
            self.assertEqual(catalog.scenario(name).kind, "memory")
            self.assertFalse(catalog.server_runs_scenario("php-server", name))
            for server in ("torus-classic", "torus-worker", "nginx-fpm"):
                self.assertTrue(catalog.server_runs_scenario(server, name), (server, name))
        self.assertTrue(catalog.server_runs_scenario("nginx-static", "pipeline-20k"))
        self.assertFalse(catalog.server_runs_scenario("nginx-static", "slow-reader"))
        self.assertTrue(catalog.server_runs_scenario("php-server", "idle-10k"))
        self.assertFalse(catalog.server_runs_scenario("php-server", "idle-10k-tls"))

    def test_targets(self):
        self.assertEqual([catalog.scenario(n).target_growth for n in self.MEMORY], [32 * MIB, 32 * MIB, 16 * MIB])
        self.assertEqual(catalog.scenario("idle-10k").target_per_connection, 1024)
        tls = catalog.scenario("idle-10k-tls")
        self.assertEqual((tls.kind, tls.tls, tls.needs, tls.target_per_connection), ("idle", True, ("tls",), 0))

    def test_upload_settings_for_each_server(self):
        upload = catalog.scenario("upload-400m")
        self.assertEqual(servers.scenario_torus_args(upload), ["--max-body-size", "600M", "-d", "post_max_size=600M"])
        self.assertEqual(servers.scenario_torus_args(catalog.scenario("hello")), [])
        self.assertEqual(servers.fpm_ini_lines(upload.php_ini), "php_admin_value[post_max_size] = 600M")
        conf = servers._fill(servers._read_conf("nginx-common.conf.in"), {"HTTP_EXTRA": "\n    ".join(upload.nginx_http)})
        self.assertIn("\n    client_max_body_size 600m;\n", conf)
        fpm = servers._fill(servers._read_conf("php-fpm.conf.in"), {"EXTRA_INI": servers.fpm_ini_lines(upload.php_ini)})
        self.assertTrue(fpm.rstrip().endswith("php_admin_value[post_max_size] = 600M"))

    def test_memory_scenarios_alone_need_no_load_generator(self):
        o = cli.parse(["--scenario", ",".join(self.MEMORY), "--server", "torus-classic,torus-worker"])
        self.assertEqual(cli.required_binaries(o), [])
        o = cli.parse(["--scenario", "pipeline-20k,idle-10k", "--server", "torus-worker"])
        self.assertEqual([name for name, _ in cli.required_binaries(o)], ["wrk"])


class Table(unittest.TestCase):
    def test_a_memory_row(self):
        row = stats.Row("torus-worker", "slow-reader", 1, kind="memory", variant="no flush", errors=0,
                        peak_rss=70 * MIB, rss_growth=2 * MIB, notes=["target < 32 MiB: met"])
        cells = [c.strip() for c in table.render_table([row]).splitlines()[2].split("|")]
        self.assertEqual(cells[1:13], ["slow-reader (no flush)", "1", "torus worker", "-", "-", "-", "0",
                                       "70.0 MiB", "+2.0 MiB", "-", "-", "target < 32 MiB: met"])

    def test_a_failed_memory_row_is_na(self):
        row = stats.Row("torus-worker", "upload-400m", 1, kind="memory", failure="server died")
        cells = [c.strip() for c in table.render_table([row]).splitlines()[2].split("|")]
        self.assertEqual(cells[4:10], ["n/a", "n/a", "n/a", "n/a", "n/a", "-"])

    def test_variants_sort_under_their_scenario(self):
        rows = [stats.Row("torus-worker", "slow-reader", 1, kind="memory", variant=v, rss_growth=0)
                for v in ("no flush", "flush")] + [stats.Row("torus-worker", "hello", 64)]
        names = [line.split("|")[1].strip() for line in table.render_table(rows).splitlines()[2:]]
        self.assertEqual(names, ["hello", "slow-reader (flush)", "slow-reader (no flush)"])


class _Hello(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"hi")

    def log_message(self, *args):
        pass


class _QuietHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


class Idle(unittest.TestCase):
    def test_per_connection_note(self):
        self.assertEqual(idle.per_connection_note(10000, 10000, 6502400, 1024),
                         "idle: 10000/10000 open, RSS +6.2 MiB (650 B each); target <= 1 KiB/conn: met")
        self.assertIn("(2,048 B each); target <= 1 KiB/conn: MISSED", idle.per_connection_note(10, 10, 20480, 1024))
        self.assertEqual(idle.per_connection_note(0, 10000, 0), "idle: 0/10000 open, RSS +0.0 MiB")

    def serve(self, tls_context=None):
        httpd = _QuietHTTPServer(("127.0.0.1", 0), _Hello)
        if tls_context is not None:
            httpd.socket = tls_context.wrap_socket(httpd.socket, server_side=True)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        self.addCleanup(httpd.server_close)
        self.addCleanup(httpd.shutdown)
        return httpd.server_address[1]

    def check_pool(self, port, tls):
        pool = idle.IdleConnections(port, "/hello.php", 20, tls=tls)
        try:
            self.assertEqual(pool.open(timeout=20), 20)
            self.assertEqual(pool.failed, 0)
            self.assertEqual(pool.still_open(), 20)
            if tls:
                self.assertTrue(all(isinstance(s, ssl.SSLSocket) for s in pool.open_sockets))
        finally:
            pool.close()

    def test_plain(self):
        self.check_pool(self.serve(), tls=False)

    @unittest.skipUnless(shutil.which("openssl"), "openssl is not installed")
    def test_tls_handshakes(self):
        tmp = tempfile.mkdtemp(prefix="bench-test-idle-")
        self.addCleanup(shutil.rmtree, tmp, True)
        cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
        workspace.make_certificate(shutil.which("openssl"), cert, key)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.check_pool(self.serve(context), tls=True)


if __name__ == "__main__":
    support.main(__name__)
