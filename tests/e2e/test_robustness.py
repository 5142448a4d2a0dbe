"""Misbehaving and numerous clients: half-close, disconnects in the middle
of a request or of a response, slow readers, garbage, 200 concurrent
connections and --max-connections. None of them may disturb another client
or the server."""

import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torus_harness as h  # noqa: E402
from torus_harness import HELLO, get, request  # noqa: E402

BIG = 8 << 20
SUB = h.DOCROOT_FILES["dir/sub.txt"]


class Background:
    """A client that keeps doing keep-alive requests on its own thread and
    checks every answer, until stopped; records what went wrong."""

    def __init__(self, port):
        self.port = port
        self.stop_event = threading.Event()
        self.errors = []
        self.done = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        try:
            c = h.Conn(self.port)
            while not self.stop_event.is_set():
                c.send(get("/hello.txt") + get("/dir/sub.txt"))
                a, b = c.read_response(), c.read_response()
                if (a.status, a.body, b.status, b.body) != (200, HELLO, 200, SUB):
                    self.errors.append("wrong answer: %r %r" % (a, b))
                    return
                self.done += 1
                if self.done % 50 == 0:  # a fresh connection now and then
                    c.close()
                    c = h.Conn(self.port)
            c.close()
        except Exception as e:  # noqa: BLE001 - reported by finish()
            self.errors.append("%s: %s" % (type(e).__name__, e))

    def __enter__(self):
        self.thread.start()
        return self

    def finish(self, test):
        self.stop_event.set()
        self.thread.join(30 * h.SLOW)
        test.assertFalse(self.thread.is_alive(), "the background client hung")
        test.assertEqual(self.errors, [])
        test.assertGreater(self.done, 0, "the background client got nothing done")

    def __exit__(self, *exc):
        self.stop_event.set()
        self.thread.join(30 * h.SLOW)


class Robustness(h.ServerTestCase):
    server_options = {"threads": 2}
    big_files = {"big.bin": BIG}

    def test_half_close_still_gets_the_response(self):
        with self.server.connect() as c:
            c.send(get("/hello.txt"))
            c.shutdown_write()
            resp = c.read_response()
            self.assertStatus(resp, 200)
            self.assertEqual(resp.body, HELLO)
            self.assertClosed(c)

    def test_half_close_after_pipelined_requests(self):
        with self.server.connect() as c:
            c.send(get("/hello.txt") + get("/dir/sub.txt") + request("HEAD", "/hello.txt")
                   + get("/nope"))
            c.shutdown_write()
            self.assertEqual(c.read_response().body, HELLO)
            self.assertEqual(c.read_response().body, SUB)
            self.assertStatus(c.read_response(head_request=True), 200)
            self.assertStatus(c.read_response(), 404)
            self.assertClosed(c)

    @h.differs_from_nginx("nginx aborts a response still being sent when it sees the client's FIN")
    def test_half_close_with_a_large_response(self):
        with self.server.connect() as c:
            c.send(get("/big.bin"))
            c.shutdown_write()
            resp = c.read_response()
            self.assertEqual(h.sha256(resp.body), h.sha256(h.big_content(BIG)))

    def test_disconnect_mid_request(self):
        rng = random.Random(4)
        partials = [
            b"GET /hello.txt HTTP/1.1\r\nHost: local",
            b"GET /hello.txt HT",
            request("POST", "/hello.txt", {"Content-Length": 5000}, b"x" * 1000),
            request("POST", "/hello.txt", {"Transfer-Encoding": "chunked"}, b"100\r\nabc"),
            request("POST", "/hello.txt", {"Content-Length": 10, "Expect": "100-continue"}),
            b"G",
        ]
        with Background(self.server.port) as bg:
            for i in range(60):
                c = self.server.connect()
                c.send(partials[i % len(partials)])
                if rng.random() < 0.5:
                    time.sleep(0.005)
                c.close(abort=(i % 2 == 0))
            time.sleep(0.3)
            bg.finish(self)
        self.assertServes()

    def test_disconnect_mid_response(self):
        with Background(self.server.port) as bg:
            for i in range(20):
                c = self.server.connect(rcvbuf=65536)
                c.send(get("/big.bin"))
                got = 0
                while got < 100000:
                    data = c.read_some()
                    if not data:
                        break
                    got += len(data)
                c.close(abort=(i % 2 == 0))
            time.sleep(0.3)
            bg.finish(self)
        resp = self.server.get("/big.bin")
        self.assertEqual(h.sha256(resp.body), h.sha256(h.big_content(BIG)))

    def test_close_right_after_sending(self):
        # The response is written to a socket the client has closed: no
        # SIGPIPE, no crash, and the other clients go on.
        with Background(self.server.port) as bg:
            for i in range(60):
                c = self.server.connect()
                c.send(get("/big.bin" if i % 3 == 0 else "/hello.txt")
                       + get("/hello.txt"))
                c.close(abort=(i % 4 == 0))
            time.sleep(0.3)
            bg.finish(self)
        self.assertServes()

    def test_garbage_from_many_clients(self):
        rng = random.Random(1234)
        pieces = [b"GET ", b"POST ", b"/", b"/hello.txt", b" HTTP/1.1\r\n", b"Host: x\r\n",
                  b"Content-Length: 5\r\n", b"Transfer-Encoding: chunked\r\n", b"\r\n",
                  b"0\r\n\r\n", b"ffffffff\r\n", b"\x00", b"\r", b"\n", b":", b" ", b"%",
                  b"%2e%2e/", b"\xff\xfe", b"Content-Length: -1\r\n", b"HTTP/2.0\r\n"]
        with Background(self.server.port) as bg:
            for _ in range(250):
                junk = b"".join(rng.choice(pieces) if rng.random() < 0.7 else
                                rng.randbytes(rng.randint(1, 40))
                                for _ in range(rng.randint(1, 30)))
                c = self.server.connect()
                c.try_send(junk)
                c.close(abort=rng.random() < 0.3)
            time.sleep(0.3)
            bg.finish(self)
        self.assertServes()

    def test_200_concurrent_connections(self):
        conns = []
        try:
            for _ in range(200):
                conns.append(self.server.connect())
            for i, c in enumerate(conns):
                c.send(get("/hello.txt" if i % 2 else "/dir/sub.txt"))
            for i, c in enumerate(conns):
                resp = c.read_response()
                self.assertStatus(resp, 200)
                self.assertEqual(resp.body, HELLO if i % 2 else SUB, "connection %d" % i)
            # All still usable.
            for c in conns:
                c.send(get("/hello.txt"))
            for c in conns:
                self.assertEqual(c.read_response().body, HELLO)
        finally:
            for c in conns:
                c.close()

    def test_parallel_keep_alive_clients(self):
        errors = []

        def client(n):
            try:
                with self.server.connect() as c:
                    for i in range(100):
                        path, want = ("/hello.txt", HELLO) if (i + n) % 2 else ("/dir/sub.txt", SUB)
                        c.send(get(path) + get(path))
                        for _ in range(2):
                            resp = c.read_response()
                            if resp.body != want:
                                errors.append("client %d request %d: %r" % (n, i, resp))
                                return
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append("client %d: %s: %s" % (n, type(e).__name__, e))

        threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60 * h.SLOW)
        self.assertFalse(any(t.is_alive() for t in threads), "a client hung")
        self.assertEqual(errors, [])


class SlowReaders(h.ServerTestCase):
    server_options = None  # each test starts a server with one shard
    big_files = {"big.bin": BIG}

    def test_slow_reader_does_not_block_others(self):
        # One shard: a server that waited on a client's send would stall here.
        srv = self.start_server(threads=1)
        slow = [srv.connect(rcvbuf=4096) for _ in range(3)]
        try:
            for c in slow:
                c.send(get("/big.bin"))
            time.sleep(0.3)
            started = time.monotonic()
            with srv.connect() as c:
                for _ in range(50):
                    c.send(get("/hello.txt"))
                    self.assertEqual(c.read_response().body, HELLO)
                c.send(get("/big.bin"))
                self.assertEqual(h.sha256(c.read_response().body), h.sha256(h.big_content(BIG)))
            self.assertLess(time.monotonic() - started, 10 * h.SLOW)
            # The slow readers still get their files whole, at their pace.
            for c in slow:
                resp = c.read_response()
                self.assertEqual(len(resp.body), BIG)
        finally:
            for c in slow:
                c.close()


class MaxConnections(h.ServerTestCase):
    server_options = None
    LIMIT = 4

    def test_over_the_limit_then_served_again(self):
        srv = self.start_server(threads=1, max_connections=self.LIMIT)
        conns, served = [], 0
        try:
            for _ in range(self.LIMIT * 3):
                try:
                    conns.append(h.Conn(srv.port, timeout=1.0))
                except OSError:
                    pass  # refused or reset: allowed over the limit
            for c in conns:
                c.try_send(get("/hello.txt"))
            for c in conns:
                try:
                    resp = c.read_response(within=2.0 * h.SLOW)
                    served += resp.body == HELLO
                except (AssertionError, OSError):
                    pass  # closed or not answered while over the limit
            self.assertTrue(srv.alive(), "the server died over the connection limit")
            self.assertGreaterEqual(served, 1, "no connection was served at all")
        finally:
            for c in conns:
                c.close()
        # The slots come back: within a few seconds a new client is served.
        deadline = time.monotonic() + 5 * h.SLOW
        while True:
            try:
                resp = srv.fetch(get("/hello.txt"))
                if resp.body == HELLO:
                    break
            except (AssertionError, OSError):
                pass
            self.assertLess(time.monotonic(), deadline, "not served after the clients left")
            time.sleep(0.2)
        # And the limit holds again and again.
        for _ in range(3):
            time.sleep(0.3 * h.SLOW)  # the server notices the last close
            held = [srv.connect() for _ in range(self.LIMIT - 1)]
            try:
                self.assertServes(srv)
            finally:
                for c in held:
                    c.close()
        self.assertTrue(srv.alive())


if __name__ == "__main__":
    h.main()
