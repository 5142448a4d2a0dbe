"""Black-box harness for the end-to-end tests of Torus.

Every tests/e2e/test_*.py is a standalone script: it imports this module,
defines unittest.TestCase classes derived from ServerTestCase and ends with
`torus_harness.main()`. The harness

  * starts the real binary ($TORUS_BIN, default <repo>/build/torus) on a free
    port of 127.0.0.1 with a document root built in a temporary directory,
    waits until it accepts connections, and always kills it by PID at the end
    (SIGTERM, then SIGKILL when it does not go);
  * captures the server's stderr in a file and prints it when a test fails;
  * talks HTTP over raw sockets, so a test controls every byte it sends, and
    reads responses one at a time (Conn.read_response) leaving pipelined bytes
    in the buffer for the next read; every read has a socket timeout and every
    response an overall deadline;
  * bounds the whole script with a watchdog, and prints the closing line
    "N passed, N failed, N skipped".

Timing: the server's own timeouts in the tests are small (1 s); how long a
test waits for something to happen is multiplied by SLOW, which is larger
under sanitizer builds (TORUS_SANITIZE=address or thread).

Temporary files live in one directory per TestCase class, removed at its
end (TORUS_E2E_KEEP=1 keeps them).

Reference mode: with TORUS_E2E_REFERENCE=nginx the same tests run against an
nginx started on loopback with an equivalent configuration (the flags are
translated to nginx directives, dotfiles and *.php are answered 404 as the
issue requires). It exists to check that the tests encode what nginx really
does; tests of behaviour where Torus deliberately differs from nginx are
marked with @differs_from_nginx and skipped in that mode. nginx is never
needed to run the suite.
"""

import hashlib
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import unittest
from email.utils import parsedate_to_datetime

# ---------------------------------------------------------------------------
# Environment
# ---------------------------------------------------------------------------

SOURCE_DIR = os.environ.get("TORUS_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TORUS_BIN = os.environ.get("TORUS_BIN") or os.path.join(SOURCE_DIR, "build", "torus")
SANITIZE = os.environ.get("TORUS_SANITIZE", "").strip()
REFERENCE = os.environ.get("TORUS_E2E_REFERENCE", "").strip()  # "" or "nginx"
NGINX_BIN = os.environ.get("TORUS_E2E_NGINX", "/usr/sbin/nginx")

# How much longer than in a plain build things may take.
SLOW = {"address": 3.0, "thread": 5.0}.get(SANITIZE, 1.0)

READ_TIMEOUT = 5.0 * SLOW  # one recv()
RESPONSE_DEADLINE = 15.0 * SLOW  # one whole response
START_TIMEOUT = 10.0 * (3.0 if SANITIZE else 1.0)
STOP_TIMEOUT = 10.0 * SLOW
# The whole test file; under CTest's own 300 s limit, so the watchdog (which
# kills the servers) fires first.
SCRIPT_DEADLINE = min(150.0 * SLOW, 280.0)

HOST = "127.0.0.1"

# ---------------------------------------------------------------------------
# The document root every test serves
# ---------------------------------------------------------------------------

# A fixed modification time, so Last-Modified is known exactly.
FIXED_MTIME = 1577836800  # 2020-01-01T00:00:00Z
FIXED_HTTP_DATE = "Wed, 01 Jan 2020 00:00:00 GMT"

HELLO = b"Hello, world\n"  # 13 bytes: the file of the speed goal
PHP_MARKER = b"SECRET-SOURCE"
OUTSIDE_MARKER = b"OUTSIDE-SECRET-7d1f"

DOCROOT_FILES = {
    "hello.txt": HELLO,
    "index.html": b"<!doctype html><title>root</title>root index page\n",
    "style.css": b"body { color: black; }\n",
    "app.js": b"console.log('torus');\n",
    "data.json": b'{"torus": true}\n',
    "logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(17),
    "image.svg": b'<svg xmlns="http://www.w3.org/2000/svg"/>\n',
    "page.htm": b"<p>htm</p>\n",
    "with space.txt": b"a file with a space\n",
    "dir/index.html": b"dir index page\n",
    "dir/sub.txt": b"sub file body\n",
    "dir/page.php": b"<?php /* " + PHP_MARKER + b" */ echo 'page ran';\n",
    "noindex/file.txt": b"not an index\n",
    "secret.php": b"<?php /* " + PHP_MARKER + b" */ echo 'secret ran';\n",
    ".env": b"DB_PASSWORD=" + OUTSIDE_MARKER + b"-env\n",
    ".git/config": b"[core]\n\tsecret = " + OUTSIDE_MARKER + b"-git\n",
    "dir/.hidden": b"hidden " + OUTSIDE_MARKER + b"-hidden\n",
}

_big_cache = {}


def big_content(size):
    """Deterministic pseudo-random bytes of the given size (cached)."""
    if size not in _big_cache:
        _big_cache[size] = random.Random(size).randbytes(size)
    return _big_cache[size]


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def make_docroot(base, big_files=None):
    """Builds <base>/www (the document root) and <base>/outside/secret.txt,
    a file that must never be reachable. big_files maps a name to a size.
    Returns the document root's path."""
    root = os.path.join(base, "www")
    files = dict(DOCROOT_FILES)
    for name, size in (big_files or {}).items():
        files[name] = big_content(size)
    for name, content in files.items():
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(content)
        os.utime(path, (FIXED_MTIME, FIXED_MTIME))
    outside = os.path.join(base, "outside")
    os.makedirs(outside, exist_ok=True)
    with open(os.path.join(outside, "secret.txt"), "wb") as f:
        f.write(OUTSIDE_MARKER + b"\n")
    # nginx's workers may run as another user: keep the tree readable.
    for dirpath, _, _ in os.walk(base):
        os.chmod(dirpath, 0o755)
    os.chmod(base, 0o755)
    return root


# ---------------------------------------------------------------------------
# HTTP over a raw socket
# ---------------------------------------------------------------------------


def request(method, target, headers=None, body=b"", version="HTTP/1.1", host="localhost"):
    """The bytes of one request. headers is a list of (name, value) pairs or a
    dict; Host comes first unless host is None. No header is added besides
    Host: the caller gives Content-Length or Transfer-Encoding itself."""
    lines = ["%s %s %s" % (method, target, version)]
    if host is not None:
        lines.append("Host: %s" % host)
    items = headers.items() if isinstance(headers, dict) else (headers or [])
    for name, value in items:
        lines.append("%s: %s" % (name, value))
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + (body if isinstance(body, bytes) else body.encode("latin-1"))


def get(target, headers=None, **kw):
    return request("GET", target, headers, **kw)


class Response:
    """One parsed HTTP response."""

    def __init__(self, version, status, reason, headers, body, raw_head):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value), in order
        self.body = body
        self.raw_head = raw_head
        self.trailers = []

    def header(self, name):
        """The last value of a header (case-insensitive name), or None."""
        values = self.header_all(name)
        return values[-1] if values else None

    def header_all(self, name):
        lower = name.lower()
        return [v for n, v in self.headers if n.lower() == lower]

    def has_token(self, name, token):
        """Whether a comma-separated header (Connection) lists token."""
        for value in self.header_all(name):
            if token.lower() in [t.strip().lower() for t in value.split(",")]:
                return True
        return False

    def media_type(self):
        ct = self.header("Content-Type")
        return ct.split(";")[0].strip().lower() if ct else None

    def __repr__(self):
        body = self.body if len(self.body) <= 200 else self.body[:200] + b"..."
        return "<Response %s %d %r headers=%r body=%r>" % (
            self.version, self.status, self.reason, self.headers, body)


class ProtocolError(AssertionError):
    """The server sent something that is not a valid HTTP response, or closed early."""


class Conn:
    """A client connection with a receive buffer: read_response() consumes
    exactly one response, leaving any following bytes for the next call."""

    def __init__(self, port, timeout=READ_TIMEOUT, rcvbuf=None, host=HOST, source=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if source:
            # Another loopback address (127.0.0.2) is another peer to the server.
            self.sock.bind((source, 0))
        if rcvbuf:
            # Before connect, so the window is small from the start.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.timeout = timeout
        self.buf = b""
        self.eof = False
        self.reset = False

    # -- sending -------------------------------------------------------------

    def send(self, data):
        self.sock.sendall(data)

    def try_send(self, data):
        """Sends, returning False instead of raising when the peer is gone."""
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            return False

    def shutdown_write(self):
        self.sock.shutdown(socket.SHUT_WR)

    def close(self, abort=False):
        """Closes; with abort=True the close sends a RST (SO_LINGER 0)."""
        if self.sock is None:
            return
        if abort:
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                     (1).to_bytes(4, "little") + (0).to_bytes(4, "little"))
            except OSError:
                pass
        try:
            self.sock.close()
        finally:
            self.sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- receiving -----------------------------------------------------------

    def _fill(self, deadline=None):
        """Appends what one recv() returns; False at EOF or reset."""
        if self.eof:
            return False
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise socket.timeout("response deadline passed")
            self.sock.settimeout(min(self.timeout, remaining))
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, ConnectionAbortedError):
            self.eof = self.reset = True
            return False
        finally:
            if deadline is not None:
                self.sock.settimeout(self.timeout)
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def _read_line(self, deadline, limit=1 << 20):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            if len(self.buf) > limit:
                raise ProtocolError("line longer than %d bytes" % limit)
            if not self._fill(deadline):
                raise ProtocolError("connection closed inside a line; got %r" % self.buf[:200])

    def _read_exact(self, n, deadline):
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise ProtocolError("connection closed after %d of %d body bytes"
                                    % (len(self.buf), n))
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_some(self, deadline=None):
        """What is buffered, or else what one recv() brings; b"" at EOF."""
        if not self.buf and not self._fill(deadline):
            return b""
        data, self.buf = self.buf, b""
        return data

    def read_up_to(self, n, deadline=None):
        """Reads until n bytes or EOF; returns them (fewer at EOF) and leaves
        anything past n in the buffer."""
        while len(self.buf) < n and self._fill(deadline):
            pass
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_head(self, deadline=None):
        """Reads a status line and headers; returns a Response without body."""
        deadline = deadline or time.monotonic() + RESPONSE_DEADLINE
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > 1 << 20:
                raise ProtocolError("response head over 1 MiB")
            if not self._fill(deadline):
                if not self.buf:
                    raise ProtocolError("connection closed before a response (reset=%s)" % self.reset)
                raise ProtocolError("connection closed inside a response head: %r" % self.buf[:500])
        end = self.buf.index(b"\r\n\r\n")
        raw, self.buf = self.buf[:end + 4], self.buf[end + 4:]
        lines = raw[:-4].split(b"\r\n")
        m = re.match(rb"^(HTTP/\d\.\d) (\d{3})(?: (.*))?$", lines[0])
        if not m:
            raise ProtocolError("bad status line %r" % lines[0])
        headers = []
        for line in lines[1:]:
            if b":" not in line or line[:1] in (b" ", b"\t"):
                raise ProtocolError("bad header line %r" % line)
            name, value = line.split(b":", 1)
            if name != name.strip() or not name:
                raise ProtocolError("bad header name %r" % line)
            headers.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))
        return Response(m.group(1).decode(), int(m.group(2)),
                        (m.group(3) or b"").decode("latin-1"), headers, b"", raw)

    def read_response(self, head_request=False, allow_interim=False, within=RESPONSE_DEADLINE):
        """Reads exactly one response, which must be complete within `within`
        seconds. 1xx responses are returned as they come only when
        allow_interim; otherwise they are an error. The body is read by
        chunked coding, Content-Length, or until close."""
        deadline = time.monotonic() + within
        resp = self.read_head(deadline)
        if 100 <= resp.status < 200:
            if not allow_interim:
                raise ProtocolError("unexpected interim response %r" % resp)
            return resp
        if head_request or resp.status in (204, 304):
            return resp
        te = resp.header_all("Transfer-Encoding")
        cl = resp.header_all("Content-Length")
        if te:
            if te[-1].split(",")[-1].strip().lower() != "chunked":
                raise ProtocolError("unknown response transfer-coding %r" % te)
            if cl:
                raise ProtocolError("response has both Content-Length and Transfer-Encoding")
            body = b""
            while True:
                line = self._read_line(deadline)
                size_text = line.split(b";")[0].strip()
                if not re.fullmatch(rb"[0-9a-fA-F]+", size_text):
                    raise ProtocolError("bad chunk size line %r" % line)
                size = int(size_text, 16)
                if size == 0:
                    break
                body += self._read_exact(size, deadline)
                if self._read_exact(2, deadline) != b"\r\n":
                    raise ProtocolError("chunk not followed by CRLF")
            while True:
                line = self._read_line(deadline)
                if not line:
                    break
                resp.trailers.append(line)
            resp.body = body
        elif cl:
            if len(set(cl)) != 1 or not re.fullmatch(r"\d+", cl[0]):
                raise ProtocolError("bad Content-Length %r" % cl)
            resp.body = self._read_exact(int(cl[0]), deadline)
        else:
            while self._fill(deadline):
                pass
            resp.body, self.buf = self.buf, b""
        return resp

    def read_final_response(self, head_request=False):
        """Skips interim (1xx) responses; returns (final, [interim...])."""
        interim = []
        while True:
            resp = self.read_response(head_request=head_request, allow_interim=True)
            if resp.status >= 200:
                return resp, interim
            interim.append(resp)

    def read_until_closed(self, timeout=READ_TIMEOUT):
        """Reads until the server closes (EOF or reset) and returns the bytes
        that came; raises AssertionError when it is still open after timeout."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            try:
                self._fill(deadline)
            except socket.timeout:
                raise AssertionError("the server did not close the connection within %.1f s"
                                     " (got %r)" % (timeout, self.buf[:200]))
        data, self.buf = self.buf, b""
        return data

    def is_closed(self, wait=0.0):
        """Whether the server has closed (polling for up to `wait` seconds).
        Bytes that arrive meanwhile stay in the buffer."""
        deadline = time.monotonic() + wait
        first = True
        while not self.eof:
            remaining = deadline - time.monotonic()
            if remaining <= 0 and not first:
                return False  # still sending, not closed
            first = False
            self.sock.settimeout(max(remaining, 0.001))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, ConnectionAbortedError):
                self.eof = self.reset = True
                break
            finally:
                if self.sock is not None:
                    self.sock.settimeout(self.timeout)
            if not chunk:
                self.eof = True
                break
            self.buf += chunk
        return True


# ---------------------------------------------------------------------------
# The server under test
# ---------------------------------------------------------------------------

_all_servers = []
_all_servers_lock = threading.Lock()


try:
    import ctypes

    _libc = ctypes.CDLL(None, use_errno=True)
except (ImportError, OSError):
    _libc = None


def _die_with_parent():
    """In the child before exec: SIGKILL it if this test script dies first,
    so no server outlives a killed test run."""
    if _libc is not None:
        _libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG


def server_pids(pid):
    """A torus supervisor's pid and its shard processes' pids."""
    pids = [pid]
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            pids += [int(p) for p in f.read().split()]
    except OSError:
        pass
    return pids


def wait_for(predicate, within):
    """Polls predicate every 20 ms for up to `within` seconds; its last value."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def admin_get(port, path):
    """One GET to an --admin-listen port, on its own connection."""
    with Conn(port) as c:
        c.send(get(path))
        return c.read_response()


def free_port():
    """A port the kernel just handed out on 127.0.0.1 (bind :0, read, close)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def can_connect(port, timeout=0.5):
    try:
        s = socket.create_connection((HOST, port), timeout=timeout)
    except OSError:
        return False
    s.close()
    return True


class Server:
    """One torus process (or, in reference mode, one nginx).

    options are torus flags with underscores: max_body_size="1K" becomes
    "--max-body-size 1K"; a value of True is a bare switch. env: variables
    added to the server's environment (TORUS_* flags, for instance)."""

    def __init__(self, root, workdir, threads=1, pin=False, env=None, **options):
        self.env = env
        self.root = root
        self.workdir = workdir
        self.threads = threads
        self.pin = pin
        self.options = options
        self.port = None
        self.proc = None
        self.stderr_path = None
        self.stdout_path = None
        self.returncode = None
        self.stopped = False

    @property
    def address(self):
        return "%s:%d" % (HOST, self.port)

    def argv(self):
        args = [TORUS_BIN, "--listen", self.address, "--root", self.root,
                "--threads", str(self.threads)]
        if not self.pin:
            args.append("--no-pin")
        for key, value in self.options.items():
            flag = "--" + key.replace("_", "-")
            if value is True:
                args.append(flag)
            elif value is not None and value is not False:
                args += [flag, str(value)]
        return args

    def start(self):
        self.port = free_port()
        tag = "%d-%d" % (self.port, int(time.monotonic() * 1000))
        self.stderr_path = os.path.join(self.workdir, "server-%s.stderr" % tag)
        self.stdout_path = os.path.join(self.workdir, "server-%s.stdout" % tag)
        argv = self._nginx_argv() if REFERENCE == "nginx" else self.argv()
        self.argv_used = argv
        with open(self.stderr_path, "wb") as err, open(self.stdout_path, "wb") as out:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                         cwd=self.workdir, preexec_fn=_die_with_parent,
                                         env=dict(os.environ, **self.env) if self.env else None)
        with _all_servers_lock:
            _all_servers.append(self)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.returncode = self.proc.returncode
                raise AssertionError("server exited with %s while starting: %s\n%s"
                                     % (self.proc.returncode, " ".join(argv), self.log()))
            if can_connect(self.port, 0.2):
                return self
            time.sleep(0.05)
        self.kill()
        raise AssertionError("server did not accept connections within %.0f s: %s\n%s"
                             % (START_TIMEOUT, " ".join(argv), self.log()))

    # -- reference mode ----------------------------------------------------

    def _nginx_argv(self):
        o = self.options
        prefix = os.path.join(self.workdir, "nginx-%d" % self.port)
        os.makedirs(prefix, exist_ok=True)
        os.chmod(prefix, 0o755)
        def seconds(name, default):
            v = o.get(name)
            return "%dms" % int(float(v) * 1000) if v is not None else default
        def size(name, default):
            v = o.get(name)
            return str(v) if v is not None else default
        uri = o.get("max_uri_size")
        conf = """
daemon off;
master_process on;
worker_processes %(workers)d;
%(user)s
pid %(prefix)s/nginx.pid;
error_log stderr info;
worker_shutdown_timeout %(shutdown)s;
events { worker_connections %(conns)d; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    keepalive_requests 1000000;
    client_body_temp_path %(prefix)s/body;
    proxy_temp_path %(prefix)s/proxy;
    fastcgi_temp_path %(prefix)s/fastcgi;
    uwsgi_temp_path %(prefix)s/uwsgi;
    scgi_temp_path %(prefix)s/scgi;
    client_header_timeout %(header)s;
    client_body_timeout %(body)s;
    lingering_timeout %(linger)s;
    keepalive_timeout %(idle)s;
    send_timeout %(send)s;
    client_max_body_size %(max_body)s;
    %(large)s
    server {
        listen %(address)s;
        root %(root)s;
        index index.html;
        location ~ /\\. { return 404; }
        location ~ \\.php$ { return 404; }
    }
}
""" % {
            "workers": self.threads,
            "user": "user root root;" if os.geteuid() == 0 else "",
            "prefix": prefix,
            "shutdown": seconds("shutdown_timeout", "30s"),
            "conns": int(o.get("max_connections") or 1024) + 1,
            "header": seconds("header_timeout", "60s"),
            "body": seconds("body_timeout", "60s"),
            # nginx keeps a refused connection open while it drains the body
            # for lingering_timeout; the engine closes at once.
            "linger": seconds("body_timeout", "1s") if float(o.get("body_timeout") or 1) < 1
            else "1s",
            "idle": seconds("idle_timeout", "75s"),
            "send": seconds("send_timeout", "60s"),
            "max_body": size("max_body_size", "8m").lower(),
            "large": ("large_client_header_buffers 4 %s;" % str(uri).lower()) if uri else "",
            "address": self.address,
            "root": self.root,
        }
        path = os.path.join(prefix, "nginx.conf")
        with open(path, "w") as f:
            f.write(conf)
        return [NGINX_BIN, "-e", "stderr", "-p", prefix, "-c", path]

    # -- control ---------------------------------------------------------

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig):
        """Sends sig; in reference mode a graceful SIGTERM becomes nginx's SIGQUIT."""
        if REFERENCE == "nginx" and sig == signal.SIGTERM:
            sig = signal.SIGQUIT
        self.proc.send_signal(sig)

    def wait_exit(self, timeout):
        """The exit code, or None when the process is still running after timeout."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
            return self.returncode
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        """SIGTERM, then SIGKILL after STOP_TIMEOUT; never anything but our PID."""
        if self.proc is None or self.proc.poll() is not None:
            if self.proc is not None:
                self.returncode = self.proc.returncode
            return self.returncode
        try:
            self.proc.send_signal(signal.SIGTERM)
            self.returncode = self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.returncode = self.proc.wait(timeout=STOP_TIMEOUT)
        return self.returncode

    def log(self, offset=0):
        """The server's stderr from byte offset on."""
        try:
            with open(self.stderr_path, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace")
        except (OSError, TypeError):
            return ""

    def log_size(self):
        try:
            return os.path.getsize(self.stderr_path)
        except (OSError, TypeError):
            return 0

    # -- client helpers ---------------------------------------------------

    def connect(self, **kw):
        return Conn(self.port, **kw)

    def fetch(self, raw, head_request=False):
        """Sends raw on a new connection and returns the first final response."""
        with self.connect() as c:
            c.send(raw)
            resp, _ = c.read_final_response(head_request=head_request)
            return resp

    def get(self, target, headers=None, **kw):
        return self.fetch(get(target, headers, **kw))


def kill_all_servers():
    with _all_servers_lock:
        servers = list(_all_servers)
    for s in servers:
        try:
            s.kill()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


# ---------------------------------------------------------------------------
# Test case base
# ---------------------------------------------------------------------------


def differs_from_nginx(why):
    """Marks a test of behaviour the issue requires where nginx does otherwise;
    skipped in reference mode, with the reason."""
    return unittest.skipIf(REFERENCE == "nginx", "nginx differs: " + why)


def torus_only(why):
    return unittest.skipIf(REFERENCE == "nginx", "torus only: " + why)


_php_kind = None


def php_kind():
    """"ZTS" or "NTS": the PHP the torus under test is linked with (its
    --version line), so that a test of several executors per core is
    skipped against Debian's NTS PHP (make build PHP=system)."""
    global _php_kind
    if _php_kind is None:
        try:
            out = subprocess.run([TORUS_BIN, "--version"], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, timeout=30).stdout.decode()
        except (OSError, subprocess.SubprocessError):
            out = ""
        _php_kind = "NTS" if "(NTS)" in out else "ZTS"
    return _php_kind


def needs_zts(why):
    """Skips a test (or class) against an NTS PHP, saying why."""
    return unittest.skipIf(REFERENCE != "nginx" and php_kind() == "NTS",
                           "needs a ZTS PHP: " + why)


class ServerTestCase(unittest.TestCase):
    """Starts one server for the class (server_options; None for none) over a
    fresh document root; per-test servers come from start_server(). After a
    test, the class server must still be running; when a test fails, the
    stderr of every server it used is printed."""

    server_options = {}  # None: no class server
    big_files = {}  # name -> size, added to the document root
    maxDiff = 4000

    @classmethod
    def setUpClass(cls):
        cls.workdir = tempfile.mkdtemp(prefix="torus-e2e-")
        os.chmod(cls.workdir, 0o755)
        cls.root = make_docroot(cls.workdir, cls.big_files)
        cls.server = None
        if cls.server_options is not None:
            cls.server = Server(cls.root, cls.workdir, **cls.server_options).start()

    @classmethod
    def tearDownClass(cls):
        if cls.server is not None:
            cls.server.kill()
        # Failures have printed the servers' stderr already.
        if os.environ.get("TORUS_E2E_KEEP") != "1":
            shutil.rmtree(cls.workdir, ignore_errors=True)

    def setUp(self):
        self._servers_used = []
        cls = type(self)
        if cls.server is not None:
            if not cls.server.alive():
                # An earlier test crashed it (and failed for it): start afresh.
                cls.server = Server(cls.root, cls.workdir, **cls.server_options).start()
            self._servers_used.append((cls.server, cls.server.log_size()))

    def tearDown(self):
        srv = type(self).server
        if srv is not None and not srv.alive():
            self.fail("the server died during this test (exit %s)" % srv.proc.returncode)

    def start_server(self, root=None, **options):
        """A server of this test only, killed when the test ends."""
        srv = Server(root or self.root, self.workdir, **options)
        self._servers_used.append((srv, 0))
        srv.start()
        self.addCleanup(srv.kill)
        return srv

    def run(self, result=None):
        before = len(result.failures) + len(result.errors) if result is not None else 0
        out = super().run(result)
        if result is not None and len(result.failures) + len(result.errors) > before:
            for srv, offset in getattr(self, "_servers_used", []):
                text = srv.log(offset)
                sys.stdout.write("---- server stderr (%s, port %s) ----\n%s\n---- end ----\n"
                                 % (" ".join(getattr(srv, "argv_used", []) or []), srv.port,
                                    text[-8000:] if text else "(empty)"))
        return out

    # -- assertions ---------------------------------------------------------

    def assertStatus(self, resp, *statuses):
        if resp.status not in statuses:
            self.fail("expected status %s, got %r" % (" or ".join(map(str, statuses)), resp))

    def assertClosed(self, conn, timeout=READ_TIMEOUT):
        """The server closes the connection (EOF or reset) within timeout; no
        further response may come first."""
        rest = conn.read_until_closed(timeout)
        self.assertFalse(rest.startswith(b"HTTP/"),
                         "another response came before the close: %r" % rest[:300])

    def assertServes(self, srv=None):
        """A fresh connection gets hello.txt right."""
        srv = srv or type(self).server
        resp = srv.get("/hello.txt")
        self.assertStatus(resp, 200)
        self.assertEqual(resp.body, HELLO)


def is_imf_fixdate(text):
    return re.fullmatch(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} "
                        r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
                        r"\d{2}:\d{2}:\d{2} GMT", text or "") is not None


def http_date_to_epoch(text):
    return parsedate_to_datetime(text).timestamp()


# ---------------------------------------------------------------------------
# Running a test file
# ---------------------------------------------------------------------------


class _CountingResult(unittest.TextTestResult):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.passed = 0

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1


def _watchdog():
    sys.stdout.write("\nwatchdog: the test file ran over %.0f s; stopping\n" % SCRIPT_DEADLINE)
    traceback.print_stack(sys._current_frames().get(threading.main_thread().ident), file=sys.stdout)
    kill_all_servers()
    sys.stdout.write("0 passed, 1 failed\n")
    sys.stdout.flush()
    os._exit(1)


def main(require_binary=True):
    """Runs the TestCases of __main__ (or only those named on the command
    line, as Class or Class.test_name), prints "N passed, N failed, N
    skipped" and exits 0 only when nothing failed."""
    if REFERENCE not in ("", "nginx"):
        print("TORUS_E2E_REFERENCE must be empty or nginx")
        sys.exit(2)
    if REFERENCE == "nginx":
        print("reference mode: testing %s, not torus" % NGINX_BIN)
    elif require_binary and not os.access(TORUS_BIN, os.X_OK):
        print("torus binary not found at %s (build it, or set TORUS_BIN)" % TORUS_BIN)
        print("0 passed, 1 failed")
        sys.exit(1)
    def on_signal(signum, frame):
        kill_all_servers()
        sys.stdout.write("\nstopped by signal %d\n0 passed, 1 failed\n" % signum)
        sys.stdout.flush()
        os._exit(1)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    timer = threading.Timer(SCRIPT_DEADLINE, _watchdog)
    timer.daemon = True
    timer.start()
    started = time.monotonic()
    main_module = sys.modules["__main__"]
    names = sys.argv[1:]  # "Class" or "Class.test_name" to run only those
    loader = unittest.defaultTestLoader
    suite = (loader.loadTestsFromNames(names, main_module) if names
             else loader.loadTestsFromModule(main_module))
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, resultclass=_CountingResult)
    try:
        result = runner.run(suite)
    finally:
        kill_all_servers()
        timer.cancel()
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    print("%s: %.1f s" % (os.path.basename(sys.argv[0]), time.monotonic() - started))
    print("%d passed, %d failed, %d skipped" % (result.passed, failed, len(result.skipped)))
    sys.stdout.flush()
    sys.exit(0 if failed == 0 else 1)
