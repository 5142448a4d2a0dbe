"""The engine's timeouts, set to 1 s: --header-timeout (the whole head,
from its first byte: trickling does not extend it), --idle-timeout
(keep-alive), --body-timeout (a stalled body) and --send-timeout (a client
that stops reading). Each test also checks that a client inside the limits
is not cut."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torus_harness as h  # noqa: E402
from torus_harness import HELLO, get, request  # noqa: E402

TIMEOUT = 1.0
# A timeout fires no earlier than this, and no later than the limit below
# (generous: a timer may run on a coarse wheel, and CI machines are busy).
EARLIEST = 0.5 * TIMEOUT
LATEST = TIMEOUT + 3.0 * h.SLOW
HUGE = 16 << 20  # more than the kernel's socket buffers can hold (tcp_wmem max 4 MiB)


class Timeouts(h.ServerTestCase):
    server_options = {"header_timeout": TIMEOUT, "idle_timeout": TIMEOUT,
                      "body_timeout": TIMEOUT, "send_timeout": TIMEOUT}
    big_files = {"huge.bin": HUGE}

    def assertNoSuccess(self, data, allowed=(408,)):
        """What came before a timeout's close: nothing, or one refusal."""
        if not data:
            return
        self.assertTrue(data.startswith(b"HTTP/1."), data[:200])
        status = int(data[9:12])
        self.assertIn(status, allowed, data[:300])

    def test_header_timeout_cuts_a_trickling_client(self):
        head = get("/hello.txt", {"X-Pad": "p" * 200})  # 12 s at one byte per 300 ms
        with self.server.connect() as c:
            started = time.monotonic()
            closed_at = None
            for i in range(len(head)):
                if not c.try_send(head[i:i + 1]) or c.is_closed(0.3):
                    closed_at = time.monotonic() - started
                    break
                if time.monotonic() - started > LATEST + 1:
                    break
            self.assertIsNotNone(closed_at, "a head trickled for %.1f s was not cut"
                                 % (time.monotonic() - started))
            self.assertGreaterEqual(closed_at, EARLIEST)
            self.assertLessEqual(closed_at, LATEST)
            self.assertNoSuccess(c.buf)
        self.assertServes()

    def test_head_arriving_in_pieces_within_the_timeout_is_served(self):
        head = get("/hello.txt", {"X-Pad": "p" * 40})
        with self.server.connect() as c:
            third = len(head) // 3
            c.send(head[:third])
            time.sleep(0.2)
            c.send(head[third:2 * third])
            time.sleep(0.2)
            c.send(head[2 * third:])
            resp = c.read_response()
            self.assertStatus(resp, 200)
            self.assertEqual(resp.body, HELLO)

    def test_header_timeout_counts_from_each_head(self):
        # Requests spread over 3 s on one connection, each head quick: none is cut.
        with self.server.connect() as c:
            for _ in range(5):
                c.send(get("/hello.txt"))
                self.assertEqual(c.read_response().body, HELLO)
                time.sleep(0.6)

    def test_idle_keep_alive_connection_is_closed(self):
        with self.server.connect() as c:
            c.send(get("/hello.txt"))
            self.assertEqual(c.read_response().body, HELLO)
            started = time.monotonic()
            self.assertFalse(c.is_closed(EARLIEST), "closed before the idle timeout")
            self.assertTrue(c.is_closed(LATEST), "idle connection still open after %.1f s"
                            % (time.monotonic() - started))
            self.assertNoSuccess(c.buf)
        self.assertServes()

    def test_silent_connection_is_closed(self):
        # Connected, never a byte: the header or the idle timeout ends it.
        with self.server.connect() as c:
            self.assertTrue(c.is_closed(LATEST), "a silent connection stayed open")
            self.assertNoSuccess(c.buf)

    def test_partial_head_then_silence_is_closed(self):
        with self.server.connect() as c:
            c.send(b"GET /hello.txt HTTP/1.1\r\nHo")
            started = time.monotonic()
            self.assertTrue(c.is_closed(LATEST), "a stalled head stayed open")
            self.assertGreaterEqual(time.monotonic() - started, EARLIEST)
            self.assertNoSuccess(c.buf)

    def test_stalled_body_is_cut(self):
        with self.server.connect() as c:
            c.send(request("POST", "/hello.txt", {"Content-Length": 100}, b"x" * 10))
            started = time.monotonic()
            self.assertTrue(c.is_closed(LATEST), "a stalled body kept its connection open")
            self.assertGreaterEqual(time.monotonic() - started, EARLIEST)
            # A 405/200 for the POST may have come before the body (as nginx
            # does for a static file), or a 408 at the timeout.
            self.assertNoSuccess(c.buf, allowed=(200, 405, 408))
        self.assertServes()

    def test_slow_body_within_the_timeout_is_read(self):
        # A byte every 0.4 s for 2.4 s: each pause is under the body timeout.
        body = b"abcdef"
        with self.server.connect() as c:
            c.send(request("POST", "/hello.txt", {"Content-Length": len(body)}))
            for i in range(len(body)):
                time.sleep(0.4)
                c.send(body[i:i + 1])
            c.send(get("/dir/sub.txt"))
            first = c.read_response()
            self.assertStatus(first, 200, 405)
            nxt = c.read_response()
            self.assertEqual(nxt.body, h.DOCROOT_FILES["dir/sub.txt"])

    def test_send_timeout_drops_a_client_that_does_not_read(self):
        with self.server.connect(rcvbuf=4096) as c:
            c.send(get("/huge.bin"))
            time.sleep(LATEST + 1.0)
            got = 0
            deadline = time.monotonic() + 10 * h.SLOW
            try:
                while time.monotonic() < deadline:
                    data = c.read_some(deadline)
                    if not data:
                        break
                    got += len(data)
            except TimeoutError:
                pass  # open and silent: the assertions below say why
            self.assertTrue(c.eof, "the connection was not closed")
            self.assertLess(got, HUGE, "the whole file came: the send timeout never fired")
        self.assertServes()

    def test_slow_reader_within_the_send_timeout_gets_everything(self):
        # Pauses of 0.6 s, five of them (3 s in all), each under the send
        # timeout: the server's socket buffer is full during each pause.
        content = h.big_content(HUGE)
        with self.server.connect(rcvbuf=65536) as c:
            c.send(get("/huge.bin"))
            head = c.read_head()
            self.assertStatus(head, 200)
            body = bytearray()
            step = HUGE // 5 + 1
            while len(body) < HUGE and not c.eof:
                time.sleep(0.6)
                body += c.read_up_to(min(step, HUGE - len(body)))
            self.assertEqual(len(body), HUGE, "the connection was cut")
            self.assertEqual(h.sha256(bytes(body)), h.sha256(content))


if __name__ == "__main__":
    h.main()
