"""A client that reads a big PHP response slowly costs the server a bounded
amount of memory, not the response (issue 14): the executor waits while the
connection's unsent output is above a high-water mark, and goes on once the
client catches up. Every byte still arrives, in order, in classic and worker
mode, with flush() or without; a client that goes away stops the script.

The memory figure itself is a benchmark's business; here the bound is loose
(a quarter of the response), enough to tell bounded from unbounded."""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torus_harness as h  # noqa: E402
from test_php_classic import PhpTestCase  # noqa: E402

RESPONSE_MB = 128
BLOCK = 65536


def server_rss_kib(pid):
    """Resident memory of the supervisor and its shard processes, in KiB."""
    total = 0
    for p in h.server_pids(pid):
        try:
            with open("/proc/%d/status" % p) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def expected_block(i):
    return ("%08d" % i).encode().ljust(BLOCK, b"x")


class SlowReaderTestCase(PhpTestCase):
    fixture = "stream"
    class_server = False

    def check_slow_reader(self, srv, target):
        # Warm up once, so the measurement sees steady-state memory.
        self.assertStatus(srv.get(target.replace("mb=%d" % RESPONSE_MB, "mb=1")), 200)
        before = server_rss_kib(srv.proc.pid)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.connect((h.HOST, srv.port))
        self.addCleanup(s.close)
        s.sendall(h.get(target, {"Connection": "close"}))
        peak = before
        for _ in range(12):  # 3 s without reading a byte
            time.sleep(0.25)
            peak = max(peak, server_rss_kib(srv.proc.pid))
        growth_mib = (peak - before) / 1024
        if not h.SANITIZE:  # a sanitizer's allocator keeps freed memory on purpose
            self.assertLess(growth_mib, RESPONSE_MB / 4,
                            "RSS grew by %.0f MiB for a %d MiB response" % (growth_mib, RESPONSE_MB))
        # Now read everything: every block arrives, in order.
        s.settimeout(30 * h.SLOW)
        data = bytearray()
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            data += chunk
        head, _, body = bytes(data).partition(b"\r\n\r\n")
        self.assertIn(b" 200 ", head.split(b"\r\n", 1)[0])
        if b"chunked" in head.lower():
            body = dechunk(body)
        self.assertEqual(len(body), RESPONSE_MB * 16 * BLOCK)
        for i in (0, 1, RESPONSE_MB * 8, RESPONSE_MB * 16 - 1):
            self.assertEqual(body[i * BLOCK:(i + 1) * BLOCK], expected_block(i))

    def check_client_going_away(self, srv, target):
        s = socket.create_connection((h.HOST, srv.port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.sendall(h.get(target))
        time.sleep(0.5)
        s.close()
        # The executor stops waiting and serves the next request.
        self.assertTrue(h.wait_for(lambda: srv.get("/big.php?mb=1").status == 200, 5 * h.SLOW))


def dechunk(body):
    out = bytearray()
    pos = 0
    while True:
        end = body.index(b"\r\n", pos)
        size = int(body[pos:end].split(b";")[0], 16)
        pos = end + 2
        if size == 0:
            return bytes(out)
        out += body[pos:pos + size]
        pos += size + 2


class ClassicSlowReader(SlowReaderTestCase):

    def test_buffered_script(self):
        srv = self.start_php_server()
        self.check_slow_reader(srv, "/big.php?mb=%d" % RESPONSE_MB)

    def test_flushing_script(self):
        srv = self.start_php_server()
        self.check_slow_reader(srv, "/big.php?mb=%d&flush=1" % RESPONSE_MB)

    def test_client_that_goes_away(self):
        srv = self.start_php_server()
        self.check_client_going_away(srv, "/big.php?mb=%d" % RESPONSE_MB)


class WorkerSlowReader(SlowReaderTestCase):

    def test_worker_response(self):
        srv = self.start_php_server(worker=os.path.join(self.root, "worker.php"))
        self.check_slow_reader(srv, "/big?mb=%d" % RESPONSE_MB)

    def test_client_that_goes_away(self):
        srv = self.start_php_server(worker=os.path.join(self.root, "worker.php"))
        self.check_client_going_away(srv, "/big?mb=%d" % RESPONSE_MB)


if __name__ == "__main__":
    h.main()
