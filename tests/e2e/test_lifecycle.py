"""Start-up and shutdown: the start-up line names the listener; SIGTERM and
SIGINT stop accepting, let in-flight requests finish (bounded by
--shutdown-timeout), close idle keep-alive connections and exit 0."""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torus_harness as h  # noqa: E402
from torus_harness import HELLO, get, request  # noqa: E402

HUGE = 16 << 20  # far more than the socket buffers hold: stays in flight
EXIT_WITHIN = 5.0 * h.SLOW


def refused(port):
    """Whether a new connection is refused: the connect fails, or the
    connection is closed at once without an answer. One that is accepted
    (even only into a backlog nobody reads) and left hanging is not."""
    try:
        c = h.Conn(port, timeout=2.0)
    except (ConnectionRefusedError, ConnectionResetError):
        return True
    try:
        c.try_send(get("/hello.txt"))
        return c.is_closed(2.0) and not c.buf.startswith(b"HTTP/")
    finally:
        c.close()


class Lifecycle(h.ServerTestCase):
    server_options = None  # every test starts and stops its own
    big_files = {"huge.bin": HUGE}

    @h.torus_only("nginx writes no start-up line")
    def test_startup_line_names_the_listener(self):
        srv = self.start_server()
        deadline = time.monotonic() + 3.0 * h.SLOW
        while srv.address not in srv.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertIn(srv.address, srv.log())

    def test_sigterm_when_idle_exits_0(self):
        srv = self.start_server()
        self.assertServes(srv)
        started = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        self.assertEqual(srv.wait_exit(EXIT_WITHIN), 0)
        self.assertLess(time.monotonic() - started, EXIT_WITHIN)
        self.assertTrue(refused(srv.port))

    def test_sigint_when_idle_exits_0(self):
        srv = self.start_server(threads=2)
        self.assertServes(srv)
        srv.send_signal(signal.SIGINT)
        self.assertEqual(srv.wait_exit(EXIT_WITHIN), 0)

    def test_sigterm_closes_idle_keep_alive_connections(self):
        # The idle timeout (75 s by default) must not hold the exit back.
        srv = self.start_server()
        conns = [srv.connect() for _ in range(3)]
        try:
            for c in conns:
                c.send(get("/hello.txt"))
                self.assertEqual(c.read_response().body, HELLO)
            srv.send_signal(signal.SIGTERM)
            for c in conns:
                self.assertTrue(c.is_closed(EXIT_WITHIN), "an idle connection was kept open")
                self.assertEqual(c.buf, b"")
            self.assertEqual(srv.wait_exit(EXIT_WITHIN), 0)
        finally:
            for c in conns:
                c.close()

    def test_sigterm_lets_an_in_flight_download_finish(self):
        srv = self.start_server()
        content = h.big_content(HUGE)
        with srv.connect(rcvbuf=16384) as c:
            c.send(get("/huge.bin"))
            head = c.read_head()
            self.assertStatus(head, 200)
            srv.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            self.assertTrue(srv.alive(), "exited with a response in flight")
            # No new connections once draining.
            self.assertTrue(refused(srv.port), "a new connection was served after SIGTERM")
            # The response in flight still completes, whole.
            body = c.read_up_to(int(head.header("Content-Length")))
            self.assertEqual(len(body), HUGE)
            self.assertEqual(h.sha256(bytes(body)), h.sha256(content))
        self.assertEqual(srv.wait_exit(EXIT_WITHIN), 0)

    def test_sigterm_lets_an_in_flight_upload_finish(self):
        srv = self.start_server()
        body = b"u" * 200000
        with srv.connect() as c:
            c.send(request("POST", "/hello.txt", {"Content-Length": len(body)}) + body[:50000])
            time.sleep(0.2)
            srv.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            self.assertTrue(srv.alive(), "exited with a request in flight")
            c.try_send(body[50000:])
            resp = c.read_response()
            self.assertStatus(resp, 200, 405)
            self.assertClosed(c, EXIT_WITHIN)
        self.assertEqual(srv.wait_exit(EXIT_WITHIN), 0)

    def test_sigterm_pipelined_requests_already_received_are_answered(self):
        srv = self.start_server()
        with srv.connect(rcvbuf=16384) as c:
            c.send(get("/huge.bin") + get("/hello.txt"))
            head = c.read_head()
            srv.send_signal(signal.SIGTERM)
            want = int(head.header("Content-Length"))
            self.assertEqual(len(c.read_up_to(want)), want, "the in-flight response was cut")
            # The second request may be answered, or the connection closed
            # after the first: never a broken or partial answer.
            if c.buf or not c.is_closed(1.0):
                self.assertEqual(c.read_response().body, HELLO)
        self.assertEqual(srv.wait_exit(EXIT_WITHIN), 0)

    def test_shutdown_timeout_bounds_the_drain(self):
        srv = self.start_server(shutdown_timeout=1)
        with srv.connect(rcvbuf=4096) as c:
            c.send(get("/huge.bin"))  # and never read
            c.read_head()
            started = time.monotonic()
            srv.send_signal(signal.SIGTERM)
            rc = srv.wait_exit(1.0 + EXIT_WITHIN)
            self.assertIsNotNone(rc, "still running %.1f s after SIGTERM with --shutdown-timeout 1"
                                 % (time.monotonic() - started))
            self.assertEqual(rc, 0)
            self.assertGreaterEqual(time.monotonic() - started, 0.5,
                                    "exited before the shutdown timeout with a client in flight")

    def test_double_sigterm(self):
        srv = self.start_server()
        srv.send_signal(signal.SIGTERM)
        try:
            srv.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        self.assertEqual(srv.wait_exit(EXIT_WITHIN), 0)


if __name__ == "__main__":
    h.main()
