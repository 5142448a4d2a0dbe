"""HTTP/2 limits and attacks, with hand-built frames over a plain socket
(--h2c): each test asserts what the attacking connection gets (a GOAWAY with
ENHANCE_YOUR_CALM or another error, a refused stream, a 431), that the
server stays up and answers a normal request on another connection
afterwards, and that the server's RSS did not grow beyond a bound.

  * rapid reset (CVE-2023-44487): HEADERS then RST_STREAM in a loop;
  * CONTINUATION flood (CVE-2024-27316): a header block that never ends;
  * SETTINGS, PING and empty DATA floods;
  * a header list over --max-header-size (431 on the stream);
  * more streams than --h2-max-concurrent-streams (REFUSED_STREAM);
  * a stream whose body never finishes (reset after --body-timeout, the
    connection goes on);
  * SIGTERM: GOAWAY (NO_ERROR) at once, the open stream still finishes, then
    the server exits.
"""

import os
import signal
import socket
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torus_harness as h  # noqa: E402
import test_http2  # noqa: E402
from test_slow_reader import server_rss_kib  # noqa: E402

if test_http2.HAVE_H2:
    import hpack

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = \
    range(10)
END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1
ENHANCE_YOUR_CALM, REFUSED_STREAM = 0xB, 0x7
RSS_BOUND_MIB = 48


def frame(kind, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(
        ">I", sid) + payload


class RawH2:
    """A client connection that sends whatever frames a test builds, and
    parses what comes back."""

    def __init__(self, port):
        self.sock = socket.create_connection((h.HOST, port), timeout=h.READ_TIMEOUT)
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        self.buffer = b""
        self.closed = False
        self.send(PREFACE + frame(SETTINGS, 0, 0))

    def send(self, data):
        """Sends; False once the server has closed (or reset) the connection."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            self.closed = True
            return False

    def block(self, path, method="GET", extra=()):
        return self.encoder.encode([(":method", method), (":path", path), (":scheme", "http"),
                                    (":authority", "t")] + list(extra))

    def frames(self, within=5):
        """Every frame the server sends within `within` seconds, or until it closes."""
        out = []
        deadline = time.monotonic() + within * h.SLOW
        self.sock.settimeout(0.2)
        while time.monotonic() < deadline:
            try:
                data = self.sock.recv(1 << 16)
            except socket.timeout:
                continue
            except OSError:
                data = b""
            if not data:
                self.closed = True
                break
            self.buffer += data
            while len(self.buffer) >= 9:
                length = int.from_bytes(self.buffer[:3], "big")
                if len(self.buffer) < 9 + length:
                    break
                kind, flags = self.buffer[3], self.buffer[4]
                sid = int.from_bytes(self.buffer[5:9], "big") & 0x7FFFFFFF
                out.append((kind, flags, sid, self.buffer[9:9 + length]))
                self.buffer = self.buffer[9 + length:]
        return out

    def close(self):
        self.sock.close()


def goaway_code(frames):
    for kind, _, _, payload in frames:
        if kind == GOAWAY:
            return int.from_bytes(payload[4:8], "big")
    return None


@unittest.skipUnless(test_http2.HAVE_H2, "python3-h2 is not installed")
class Attacks(test_http2.Http2Base):
    server_options = {"h2c": True, "max_header_size": "8K", "body_timeout": 1,
                      "h2_max_concurrent_streams": 4}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with open(os.path.join(cls.root, "sleep.php"), "wb") as f:
            f.write(b"<?php usleep(300000); echo 'slept';")

    def setUp(self):
        super().setUp()
        self.rss_before = server_rss_kib(self.server.proc.pid)

    def assertStillServes(self):
        """Another connection gets a PHP answer; memory did not grow past the bound."""
        c = test_http2.H2Client(self.server.port)
        try:
            resp = c.get("/proto.php", within=10)
            self.assertEqual(resp["headers"][":status"], "200")
            self.assertTrue(resp["body"].startswith(b"HTTP/2.0 "))
        finally:
            c.close()
        growth = (server_rss_kib(self.server.proc.pid) - self.rss_before) / 1024
        self.assertLess(growth, RSS_BOUND_MIB, "RSS grew by %.0f MiB" % growth)

    def test_rapid_reset(self):
        c = RawH2(self.server.port)
        try:
            sent = 0
            for i in range(5000):
                sid = 1 + 2 * i
                burst = frame(HEADERS, END_STREAM | END_HEADERS, sid, c.block("/sleep.php")) + \
                    frame(RST_STREAM, 0, sid, struct.pack(">I", 0x8))
                if not c.send(burst):
                    break
                sent += 1
            got = c.frames(within=5)
            self.assertEqual(goaway_code(got), ENHANCE_YOUR_CALM, got[-3:])
            self.assertTrue(c.closed)
            self.assertLess(sent, 5000 + 1)
        finally:
            c.close()
        # The executor is not left running thousands of abandoned scripts.
        start = time.monotonic()
        self.assertStillServes()
        self.assertLess(time.monotonic() - start, 8 * h.SLOW)

    def test_continuation_flood(self):
        c = RawH2(self.server.port)
        try:
            c.send(frame(HEADERS, 0, 1, c.block("/hello.txt")))
            piece = c.encoder.encode([("x-flood", "a" * 100)])
            for _ in range(20000):
                if not c.send(frame(CONTINUATION, 0, 1, piece)):
                    break
            got = c.frames(within=5)
            self.assertTrue(c.closed, "the connection is still open")
            self.assertIsNotNone(goaway_code(got))
        finally:
            c.close()
        self.assertStillServes()

    def flood(self, one, count=50000, opening=None):
        """Sends `one` frame count times (after `opening`, built with the connection's encoder):
        the connection must get GOAWAY ENHANCE_YOUR_CALM and be closed."""
        c = RawH2(self.server.port)
        try:
            if opening:
                c.send(opening(c))
            batch = one * 100
            for _ in range(count // 100):
                if not c.send(batch):
                    break
            got = c.frames(within=5)
            self.assertTrue(c.closed, "the connection is still open")
            self.assertEqual(goaway_code(got), ENHANCE_YOUR_CALM)
        finally:
            c.close()
        self.assertStillServes()

    def test_settings_flood(self):
        self.flood(frame(SETTINGS, 0, 0))

    def test_ping_flood(self):
        self.flood(frame(PING, 0, 0, b"12345678"))

    def test_window_update_flood(self):
        # WINDOW_UPDATEs that no DATA of ours earned (a fast reader's are: test_http2's SlowReader).
        self.flood(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 1)))

    def test_empty_data_flood(self):
        # A stream's HEADERS, then empty DATA frames that never end it.
        self.flood(frame(DATA, 0, 1), opening=lambda c: frame(
            HEADERS, END_HEADERS, 1, c.block("/echo.php", "POST", [("content-length", "10")])))

    def test_header_list_over_the_limit_gets_431(self):
        c = test_http2.H2Client(self.server.port)
        try:
            resp = c.get("/proto.php", headers=[("x-big", "b" * 9000)])
            self.assertEqual(resp["headers"][":status"], "431")
            self.assertEqual(c.get("/hello.txt")["body"], h.HELLO)  # the connection goes on
        finally:
            c.close()
        self.assertStillServes()

    def test_streams_over_the_limit_are_refused(self):
        # Before the client acknowledged the limit: the streams past it are refused.
        c = RawH2(self.server.port)
        try:
            for i in range(8):
                c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1 + 2 * i,
                             c.block("/sleep.php")))
            got = c.frames(within=4)
            refused = {sid for kind, _, sid, payload in got
                       if kind == RST_STREAM and int.from_bytes(payload, "big") == REFUSED_STREAM}
            answered = {sid for kind, flags, sid, _ in got if kind == HEADERS}
            self.assertEqual(answered, {1, 3, 5, 7})
            self.assertEqual(refused, {9, 11, 13, 15})
            self.assertFalse(c.closed)
        finally:
            c.close()
        # After: a client that ignores the limit it acknowledged loses the connection (nghttp2
        # makes it a connection error, which RFC 9113 5.1.2 allows).
        c = RawH2(self.server.port)
        try:
            c.frames(within=0.5)
            c.send(frame(SETTINGS, ACK, 0))
            for i in range(8):
                c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1 + 2 * i,
                             c.block("/sleep.php")))
            got = c.frames(within=4)
            self.assertEqual(goaway_code(got), 0x1)  # PROTOCOL_ERROR
            self.assertTrue(c.closed)
        finally:
            c.close()
        self.assertStillServes()

    def test_body_that_never_finishes_is_reset(self):
        c = RawH2(self.server.port)
        try:
            c.send(frame(HEADERS, END_HEADERS, 1,
                         c.block("/echo.php", "POST", [("content-length", "10")])) +
                   frame(DATA, 0, 1, b"12345"))
            got = c.frames(within=3)
            resets = [sid for kind, _, sid, _ in got if kind == RST_STREAM]
            self.assertEqual(resets, [1])
            self.assertFalse(c.closed)
            # The connection still serves.
            c.send(frame(HEADERS, END_STREAM | END_HEADERS, 3, c.block("/hello.txt")))
            got = c.frames(within=2)
            self.assertIn(h.HELLO, [payload for kind, _, sid, payload in got
                                    if kind == DATA and sid == 3])
        finally:
            c.close()


@unittest.skipUnless(test_http2.HAVE_H2, "python3-h2 is not installed")
class Drain(test_http2.Http2Base):
    server_options = None

    def test_sigterm_sends_goaway_and_finishes_open_streams(self):
        with open(os.path.join(self.root, "slow.php"), "wb") as f:
            f.write(b"<?php usleep(700000); echo 'finished';")
        srv = self.start_server(h2c=True)
        c = RawH2(srv.port)
        try:
            c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, c.block("/slow.php")))
            time.sleep(0.2)  # the script runs
            srv.send_signal(signal.SIGTERM)
            got = c.frames(within=5)
            kinds = [(kind, sid) for kind, _, sid, _ in got if kind in (GOAWAY, HEADERS, DATA)]
            self.assertEqual(kinds[0], (GOAWAY, 0), kinds)  # at once, before the answer
            self.assertEqual(goaway_code(got), 0)  # NO_ERROR
            self.assertEqual([payload for kind, _, sid, payload in got if kind == DATA and sid == 1],
                             [b"finished"])
            self.assertTrue(c.closed)
            self.assertEqual(srv.wait_exit(10 * h.SLOW), 0)
        finally:
            c.close()

    def test_idle_connection_is_closed_after_the_idle_timeout(self):
        srv = self.start_server(h2c=True, idle_timeout=1)
        c = RawH2(srv.port)
        try:
            c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, c.block("/hello.txt")))
            start = time.monotonic()
            got = c.frames(within=4)
            self.assertIn(h.HELLO, [p for kind, _, sid, p in got if kind == DATA and sid == 1])
            self.assertTrue(c.closed)
            self.assertGreater(time.monotonic() - start, 0.8)
        finally:
            c.close()


if __name__ == "__main__":
    h.main()
