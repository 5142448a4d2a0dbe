"""The idle connections of the idle-10k scenario.

Opens `count` connections to the server, sends one keep-alive request on
each and reads its response head, then leaves them open and silent while
wrk measures `hello`. At most IN_FLIGHT connects are pending at once so the
listen backlog never overflows. Every wait is bounded by a deadline, so a
server that accepts and never answers cannot hang the harness.
"""

import errno
import selectors
import socket
import time

IN_FLIGHT = 256


class IdleConnections:
    def __init__(self, port, path, count):
        self.port = port
        self.request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: bench-idle\r\n\r\n").encode()
        self.count = count
        self.open_sockets = []
        self.failed = 0
        self.opened_and_idle = 0  # still_open() right after open(), kept by the caller

    def open(self, timeout=60.0):
        """Opens the connections; returns how many answered and stayed open."""
        selector = selectors.DefaultSelector()
        deadline = time.monotonic() + timeout
        started = 0
        pending = {}  # socket -> bytes read so far, None before the request is sent
        try:
            while (started < self.count or pending) and time.monotonic() < deadline:
                while started < self.count and len(pending) < IN_FLIGHT:
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    s.setblocking(False)
                    started += 1
                    rc = s.connect_ex(("127.0.0.1", self.port))
                    if rc not in (0, errno.EINPROGRESS):
                        s.close()
                        self.failed += 1
                        continue
                    pending[s] = None
                    selector.register(s, selectors.EVENT_WRITE)
                for key, _ in selector.select(timeout=min(0.5, max(0.0, deadline - time.monotonic()))):
                    self._advance(selector, key.fileobj, pending)
        finally:
            for s in list(pending):
                selector.unregister(s)
                s.close()
                self.failed += 1
            selector.close()
        return len(self.open_sockets)

    def _advance(self, selector, s, pending):
        try:
            if pending[s] is None:
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    raise OSError(err, "connect")
                s.sendall(self.request)  # small: fits the empty send buffer
                pending[s] = b""
                selector.modify(s, selectors.EVENT_READ)
                return
            data = s.recv(65536)
            if not data:
                raise OSError(errno.ECONNRESET, "closed")
            pending[s] += data
            if b"\r\n\r\n" not in pending[s]:
                return
            selector.unregister(s)
            del pending[s]
            self.open_sockets.append(s)
        except OSError:
            selector.unregister(s)
            del pending[s]
            s.close()
            self.failed += 1

    def still_open(self):
        """How many of the connections the server has not closed; drains what they received."""
        alive = 0
        for s in self.open_sockets:
            try:
                while True:
                    data = s.recv(65536, socket.MSG_DONTWAIT)
                    if not data:
                        break
            except BlockingIOError:
                alive += 1
            except OSError:
                pass
        return alive

    def close(self):
        for s in self.open_sockets:
            s.close()
        self.open_sockets = []
