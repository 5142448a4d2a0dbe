"""The idle connections of the idle-10k and idle-10k-tls scenarios.

Opens `count` connections to the server (with tls: completes a TLS handshake
on each, the certificate not verified), sends one keep-alive request on each
and reads its response head, then leaves them open and silent while wrk
measures `hello`. At most IN_FLIGHT connects are pending at once so the
listen backlog never overflows. Every wait is bounded by a deadline, so a
server that accepts and never answers cannot hang the harness.
"""

import errno
import selectors
import socket
import ssl
import time

import procs

IN_FLIGHT = 256


class IdleConnections:
    def __init__(self, port, path, count, tls=False):
        self.port = port
        self.request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: bench-idle\r\n\r\n").encode()
        self.count = count
        self.context = procs.insecure_tls_context() if tls else None
        self.open_sockets = []
        self.failed = 0
        self.opened_and_idle = 0  # still_open() right after open(), kept by the caller

    def open(self, timeout=60.0):
        """Opens the connections; returns how many answered and stayed open."""
        selector = selectors.DefaultSelector()
        deadline = time.monotonic() + timeout
        started = 0
        pending = {}  # socket -> [stage, bytes read so far]; stage "connect", "handshake" or "response"
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
                    pending[s] = ["connect", b""]
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
        state = pending[s]
        try:
            if state[0] == "connect":
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    raise OSError(err, "connect")
                if self.context is None:
                    self._send_request(selector, s, state)
                    return
                selector.unregister(s)
                del pending[s]
                s = self.context.wrap_socket(s, do_handshake_on_connect=False)
                pending[s] = state
                state[0] = "handshake"
                selector.register(s, selectors.EVENT_WRITE)
            if state[0] == "handshake":
                try:
                    s.do_handshake()
                except ssl.SSLWantReadError:
                    selector.modify(s, selectors.EVENT_READ)
                    return
                except ssl.SSLWantWriteError:
                    selector.modify(s, selectors.EVENT_WRITE)
                    return
                self._send_request(selector, s, state)
                return
            try:
                data = s.recv(65536)
            except ssl.SSLWantReadError:
                return
            if not data:
                raise OSError(errno.ECONNRESET, "closed")
            state[1] += data
            if b"\r\n\r\n" not in state[1]:
                return
            selector.unregister(s)
            del pending[s]
            self.open_sockets.append(s)
        except OSError:  # ssl.SSLError too
            selector.unregister(s)
            del pending[s]
            s.close()
            self.failed += 1

    def _send_request(self, selector, s, state):
        s.sendall(self.request)  # small: fits the empty send buffer
        state[0] = "response"
        selector.modify(s, selectors.EVENT_READ)

    def still_open(self):
        """How many of the connections the server has not closed; drains what they received."""
        alive = 0
        for s in self.open_sockets:
            try:
                while True:
                    data = s.recv(65536)
                    if not data:
                        break
            except (BlockingIOError, ssl.SSLWantReadError):
                alive += 1
            except OSError:
                pass
        return alive

    def close(self):
        for s in self.open_sockets:
            s.close()
        self.open_sockets = []


def per_connection_note(opened, count, added, target=0):
    """The note of an idle row: how many stayed open, the RSS they added, bytes each,
    and the verdict against target (bytes per connection; 0 = none)."""
    per = f" ({added / opened:,.0f} B each)" if opened else ""
    note = f"idle: {opened}/{count} open, RSS +{added / 1048576:.1f} MiB{per}"
    if target and opened:
        verdict = "met" if added / opened <= target else "MISSED"
        note += f"; target <= {target / 1024:g} KiB/conn: {verdict}"
    return note
