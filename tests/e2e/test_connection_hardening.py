"""Connections held to nginx's behaviour where a client or the system
misbehaves (issue 20): a client that sends pipelined requests and then
shuts down its write side gets every response before the close; an
incomplete request after them is dropped with the connection; with the
descriptor limit reached, accept backs off instead of spinning and the
server recovers by itself once descriptors free up."""

import os
import resource
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torus_harness as h  # noqa: E402
from torus_harness import get  # noqa: E402
from test_php_classic import PhpTestCase  # noqa: E402


def responses_after_half_close(srv, raw):
    """Sends raw, shuts the write side down, and returns the responses read until the close."""
    with srv.connect() as c:
        c.send(raw)
        c.shutdown_write()
        c.buf = c.read_until_closed(10 * h.SLOW)  # every byte, then parse them one by one
        responses = []
        while c.buf:
            responses.append(c.read_response())
        return responses


class HalfClose(h.ServerTestCase):

    def test_three_pipelined_static_requests(self):
        responses = responses_after_half_close(self.server, get("/hello.txt") * 3)
        self.assertEqual([r.status for r in responses], [200, 200, 200])
        self.assertEqual([r.body for r in responses], [h.HELLO] * 3)

    def test_mixed_statuses_then_an_incomplete_request(self):
        raw = get("/hello.txt") + get("/missing.txt") + get("/dir/sub.txt") + b"GET /hello.txt HT"
        responses = responses_after_half_close(self.server, raw)
        self.assertEqual([r.status for r in responses], [200, 404, 200])

    def test_incomplete_body_after_a_complete_request(self):
        raw = (get("/hello.txt") +
               h.request("POST", "/hello.txt", {"Content-Length": "100"}, body=b"short"))
        responses = responses_after_half_close(self.server, raw)
        self.assertEqual([r.status for r in responses], [200])

    def test_nothing_sent(self):
        with self.server.connect() as c:
            c.shutdown_write()
            self.assertEqual(c.read_until_closed(5 * h.SLOW), b"")


class HalfClosePhp(PhpTestCase):

    def test_three_pipelined_php_requests(self):
        responses = responses_after_half_close(self.server, get("/hello.php") * 3)
        self.assertEqual([r.status for r in responses], [200, 200, 200])
        self.assertEqual([r.body for r in responses], [b"hello from php\n"] * 3)

    def test_php_static_and_missing_in_one_pipeline(self):
        raw = get("/hello.php") + get("/static.txt") + get("/hello.php")
        responses = responses_after_half_close(self.server, raw)
        self.assertEqual([r.status for r in responses], [200, 200, 200])
        self.assertEqual(responses[2].body, b"hello from php\n")


class PipelineFlood(h.ServerTestCase):
    server_options = None

    @h.torus_only("memory of the server's own processes")
    def test_pipelined_requests_without_reading(self):
        # 100,000 pipelined requests, none of the answers read for a second: the server stops
        # parsing (and reading) while half a megabyte of answers waits, so its memory does not
        # follow the pipeline; then every answer arrives, in order.
        from test_slow_reader import server_rss_kib
        srv = self.start_server()
        self.assertStatus(srv.get("/hello.txt"), 200)
        count = 100000
        before = server_rss_kib(srv.proc.pid)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.connect((h.HOST, srv.port))
        self.addCleanup(s.close)
        import threading
        sender = threading.Thread(target=s.sendall, args=(get("/hello.txt") * count,), daemon=True)
        sender.start()
        time.sleep(1.0 * h.SLOW)
        peak = server_rss_kib(srv.proc.pid)
        if not h.SANITIZE:  # a sanitizer's allocator keeps freed memory on purpose
            self.assertLess((peak - before) / 1024, 16,
                            "RSS grew by %.0f MiB" % ((peak - before) / 1024))
        s.settimeout(30 * h.SLOW)
        seen = 0
        tail = b""
        marker = b"HTTP/1.1 200 OK"
        while seen < count:
            data = s.recv(1 << 20)
            if not data:
                break
            data = tail + data
            seen += data.count(marker)
            tail = data[-(len(marker) - 1):]
        sender.join(10 * h.SLOW)
        self.assertEqual(seen, count)


class DescriptorExhaustion(h.ServerTestCase):
    server_options = None

    @h.torus_only("the log line and the back-off are Torus' own")
    def test_accept_backs_off_and_recovers(self):
        # A server with few descriptors: a handful of idle clients use them all up.
        srv = h.Server(self.root, self.workdir)
        self._servers_used.append((srv, 0))
        self.addCleanup(srv.kill)
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)

        def limited():
            h._die_with_parent()
            resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

        import subprocess
        srv.port = h.free_port()
        srv.stderr_path = os.path.join(self.workdir, "fd-limit.stderr")
        argv = srv.argv() + ["--max-connections", "1000"]
        with open(srv.stderr_path, "wb") as err:
            srv.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=err, cwd=self.workdir, preexec_fn=limited)
        self.assertTrue(h.wait_for(lambda: h.can_connect(srv.port, 0.2), h.START_TIMEOUT))
        self.assertTrue(h.wait_for(lambda: srv.get("/hello.txt").status == 200, h.START_TIMEOUT))

        # Hold connections until the server's descriptors run out.
        held = []
        try:
            for _ in range(120):
                s = socket.create_connection((h.HOST, srv.port), timeout=2)
                held.append(s)
            time.sleep(1.0 * h.SLOW)  # the server meets EMFILE and backs off
            cpu_before = self.cpu_seconds(srv.proc.pid)
            time.sleep(1.0)
            cpu_used = self.cpu_seconds(srv.proc.pid) - cpu_before
            # A busy loop would burn the whole second; backing off costs next to nothing.
            self.assertLess(cpu_used, 0.3, "the server spins while out of descriptors")
            log = srv.log()
            self.assertLess(log.count("accept"), 10, "one log line per attempt:\n" + log[-2000:])
            self.assertIn("descriptor", log)
        finally:
            for s in held:
                s.close()
        # Descriptors free up: the server serves again by itself.
        self.assertTrue(h.wait_for(lambda: self.try_get(srv) == 200, 5 * h.SLOW), srv.log())

    @staticmethod
    def cpu_seconds(pid):
        """User and system CPU time of a process and all its children's threads."""
        total = 0
        pids = h.server_pids(pid)
        for p in pids:
            try:
                with open("/proc/%d/stat" % p) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            except OSError:
                pass
        return total / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def try_get(srv):
        try:
            return srv.get("/hello.txt").status
        except (OSError, AssertionError):
            return None


if __name__ == "__main__":
    h.main()
