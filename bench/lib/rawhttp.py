"""A small HTTP/1.1 client on a raw socket, for the memory scenarios.

wrk and http.client cannot do what those scenarios need: stop reading a
response for seconds, write 20,000 requests before reading one answer, or
stream a 400 MiB body while hashing it. This module has the pieces:

  ResponseReader   reads responses (status line, headers, a body framed by
                   Content-Length, chunked or the end of the connection) from
                   a blocking socket, every wait bounded by one deadline; the
                   body goes to a callback piece by piece, never held whole
  StreamCheck      that callback for slow-reader: compares each byte with the
                   response bench_stream() (bench/php/scenarios.php) prints
  upload_blocks    the blocks of upload-400m's body, numbered like the stream

Every failure is a ClientFailed with a one-line reason.
"""

import os
import socket
import time

MIB = 1 << 20
MAX_LINE = 64 * 1024
RECV_SIZE = MIB


class ClientFailed(Exception):
    """The exchange with the server failed: a one-line reason."""


def connect(port, deadline):
    """A blocking TCP connection to 127.0.0.1:port."""
    try:
        return socket.create_connection(("127.0.0.1", port), timeout=max(0.1, min(10.0, deadline - time.monotonic())))
    except OSError as e:
        raise ClientFailed(f"connect: {e}")


def request_bytes(method, path, port, headers=()):
    """The bytes of one HTTP/1.1 request head (keep-alive, no body)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "User-Agent: bench-memory"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def send_all(sock, data, deadline):
    """sock.sendall(data) within the deadline."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise ClientFailed("timed out before sending")
    sock.settimeout(left)
    try:
        sock.sendall(data)
    except socket.timeout:
        raise ClientFailed("timed out sending")
    except OSError as e:
        raise ClientFailed(f"send: {e}")


class ResponseReader:
    """HTTP/1.1 responses from a blocking socket; every recv waits at most until deadline."""

    def __init__(self, sock, deadline):
        self.sock = sock
        self.deadline = deadline
        self.buf = bytearray()
        self.pos = 0
        self.received = 0  # bytes read from the socket so far

    def _recv(self, size=RECV_SIZE):
        """Up to size bytes from the socket; b"" at the end of the connection."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise ClientFailed(f"timed out after receiving {self.received:,} bytes")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(size)
        except socket.timeout:
            raise ClientFailed(f"timed out after receiving {self.received:,} bytes")
        except OSError as e:
            raise ClientFailed(f"recv after {self.received:,} bytes: {e}")
        self.received += len(data)
        return data

    def _buffered(self):
        return len(self.buf) - self.pos

    def _take(self, n):
        data = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        if self.pos >= 256 * 1024 or self.pos == len(self.buf):
            del self.buf[:self.pos]
            self.pos = 0
        return data

    def read_line(self):
        """One line, its CRLF included."""
        while True:
            end = self.buf.find(b"\n", self.pos)
            if end >= 0:
                return self._take(end + 1 - self.pos)
            if self._buffered() > MAX_LINE:
                raise ClientFailed(f"a line longer than {MAX_LINE} bytes")
            data = self._recv()
            if not data:
                raise ClientFailed(f"connection closed in a response head after {self.received:,} bytes")
            self.buf += data

    def read_head(self):
        """(status, {lower-case name: value}) of the next final response; 1xx are skipped."""
        while True:
            line = self.read_line()
            parts = line.decode("latin-1").split(None, 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
                raise ClientFailed(f"not a status line: {line[:60]!r}")
            status = int(parts[1])
            headers = {}
            while True:
                line = self.read_line()
                if line in (b"\r\n", b"\n"):
                    break
                name, sep, value = line.decode("latin-1").partition(":")
                if not sep:
                    raise ClientFailed(f"not a header line: {line[:60]!r}")
                headers[name.strip().lower()] = value.strip()
            if status >= 200:
                return status, headers

    def read_exact(self, n, sink):
        """Passes the next n bytes to sink, in pieces."""
        take = min(n, self._buffered())
        if take:
            sink(self._take(take))
            n -= take
        while n > 0:
            data = self._recv(min(n, RECV_SIZE))
            if not data:
                raise ClientFailed(f"connection closed with {n:,} bytes of a body missing")
            sink(data)
            n -= len(data)

    def read_body(self, headers, sink):
        """Passes the body the headers announce to sink; returns its length."""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            total = 0
            while True:
                line = self.read_line()
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise ClientFailed(f"bad chunk size line {line[:40]!r}")
                if size == 0:
                    while self.read_line() not in (b"\r\n", b"\n"):
                        pass  # trailers
                    return total
                self.read_exact(size, sink)
                total += size
                if self.read_line() not in (b"\r\n", b"\n"):
                    raise ClientFailed("chunk data not followed by CRLF")
        if "content-length" in headers:
            try:
                length = int(headers["content-length"])
            except ValueError:
                raise ClientFailed(f"bad Content-Length {headers['content-length']!r}")
            self.read_exact(length, sink)
            return length
        total = self._buffered()  # delimited by the end of the connection
        if total:
            sink(self._take(total))
        while True:
            data = self._recv()
            if not data:
                return total
            sink(data)
            total += len(data)

    def read_response(self, sink=None):
        """(status, headers, body bytes, or its length when sink took the body)."""
        status, headers = self.read_head()
        if sink is not None:
            return status, headers, self.read_body(headers, sink)
        parts = []
        self.read_body(headers, parts.append)
        return status, headers, b"".join(parts)


def stream_pattern():
    """The 1 MiB that bench_stream_pattern() returns in bench/php/scenarios.php."""
    return b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_" * 16384


def numbered_block(index, base):
    """Block number index: its number as 16 decimal digits, then base after its first 16 bytes."""
    return b"%016d" % index + base[16:]


class StreamCheck:
    """The body callback of slow-reader: counts the bytes and compares each with what
    bench_stream() prints (1 MiB blocks numbered from 0); remembers the first difference."""

    def __init__(self):
        self.pattern = stream_pattern()
        self.offset = 0
        self.first_difference = None
        self._index = -1
        self._block = b""

    def __call__(self, data):
        start = 0
        while start < len(data) and self.first_difference is None:
            index, within = divmod(self.offset, MIB)
            if index != self._index:
                self._index, self._block = index, numbered_block(index, self.pattern)
            n = min(len(data) - start, MIB - within)
            got = data[start:start + n] if start or n != len(data) else data
            if got != self._block[within:within + n]:
                wrong = next(i for i in range(n) if got[i] != self._block[within + i])
                self.first_difference = self.offset + wrong
            start += n
            self.offset += n
        self.offset += len(data) - start  # after a difference: only counted

    def verdict(self, expected_bytes):
        """None when exactly expected_bytes arrived as printed, else a one-line reason."""
        if self.first_difference is not None:
            return f"byte {self.first_difference:,} differs from what PHP printed"
        if self.offset != expected_bytes:
            return f"{self.offset:,} bytes received, {expected_bytes:,} expected"
        return None


def upload_blocks(mib, seed=None):
    """The mib blocks of 1 MiB of an upload: random bytes (one random MiB per upload),
    each block numbered like the stream, so a lost, repeated or reordered block changes
    the sha256."""
    base = seed if seed is not None else os.urandom(MIB)
    for index in range(mib):
        yield numbered_block(index, base)
