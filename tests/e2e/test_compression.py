"""Response compression: PHP responses in zstd, br and gzip chosen by
Accept-Encoding (classic and worker mode, buffered and streamed with
flush()), the cases that must not be compressed, and static files served
from precompressed siblings (app.js.br...) or compressed once in the cache
(--compress-static).

Bodies are decoded with zlib (gzip) and, through ctypes, with the system's
libzstd.so.1 and libbrotlidec.so.1 (installed with libzstd-dev and
libbrotli-dev by tools/install-deps build); every decoded body must equal
the uncompressed response byte for byte."""

import ctypes
import ctypes.util
import os
import shutil
import sys
import tempfile
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torus_harness as h  # noqa: E402
from torus_harness import get, request  # noqa: E402
from test_php_classic import PhpTestCase  # noqa: E402

ENCODINGS = ("zstd", "br", "gzip")


# ---------------------------------------------------------------------------
# Decoders: streaming, so that a flushed part decodes without the rest
# ---------------------------------------------------------------------------

def _load(name):
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None


_zstd = _load("libzstd.so.1")
_brotli = _load("libbrotlidec.so.1")


class _ZstdIn(ctypes.Structure):
    _fields_ = [("src", ctypes.c_void_p), ("size", ctypes.c_size_t), ("pos", ctypes.c_size_t)]


class _ZstdOut(ctypes.Structure):
    _fields_ = [("dst", ctypes.c_void_p), ("size", ctypes.c_size_t), ("pos", ctypes.c_size_t)]


def _zstd_decode(data):
    _zstd.ZSTD_createDStream.restype = ctypes.c_void_p
    _zstd.ZSTD_decompressStream.restype = ctypes.c_size_t
    _zstd.ZSTD_decompressStream.argtypes = [ctypes.c_void_p, ctypes.POINTER(_ZstdOut),
                                            ctypes.POINTER(_ZstdIn)]
    _zstd.ZSTD_isError.argtypes = [ctypes.c_size_t]
    _zstd.ZSTD_freeDStream.argtypes = [ctypes.c_void_p]
    stream = _zstd.ZSTD_createDStream()
    src = ctypes.create_string_buffer(data, len(data))
    zin = _ZstdIn(ctypes.cast(src, ctypes.c_void_p), len(data), 0)
    buf = ctypes.create_string_buffer(1 << 16)
    out = b""
    try:
        while True:
            zout = _ZstdOut(ctypes.cast(buf, ctypes.c_void_p), len(buf), 0)
            rc = _zstd.ZSTD_decompressStream(stream, ctypes.byref(zout), ctypes.byref(zin))
            if _zstd.ZSTD_isError(rc):
                raise AssertionError("not a zstd stream")
            out += buf.raw[:zout.pos]
            if zin.pos == zin.size and zout.pos < zout.size:
                return out
    finally:
        _zstd.ZSTD_freeDStream(stream)


def _brotli_decode(data):
    _brotli.BrotliDecoderCreateInstance.restype = ctypes.c_void_p
    _brotli.BrotliDecoderCreateInstance.argtypes = [ctypes.c_void_p] * 3
    _brotli.BrotliDecoderDestroyInstance.argtypes = [ctypes.c_void_p]
    _brotli.BrotliDecoderDecompressStream.argtypes = [
        ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t), ctypes.POINTER(ctypes.c_void_p),
        ctypes.POINTER(ctypes.c_size_t), ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p]
    state = _brotli.BrotliDecoderCreateInstance(None, None, None)
    src = ctypes.create_string_buffer(data, len(data))
    next_in = ctypes.c_void_p(ctypes.cast(src, ctypes.c_void_p).value)
    avail_in = ctypes.c_size_t(len(data))
    buf = ctypes.create_string_buffer(1 << 16)
    out = b""
    try:
        while True:
            next_out = ctypes.c_void_p(ctypes.cast(buf, ctypes.c_void_p).value)
            avail_out = ctypes.c_size_t(len(buf))
            rc = _brotli.BrotliDecoderDecompressStream(
                state, ctypes.byref(avail_in), ctypes.byref(next_in), ctypes.byref(avail_out),
                ctypes.byref(next_out), None)
            out += buf.raw[:len(buf) - avail_out.value]
            if rc == 0:
                raise AssertionError("not a brotli stream")
            if rc != 3:  # 3: needs more output
                return out
    finally:
        _brotli.BrotliDecoderDestroyInstance(state)


def decode(encoding, data):
    """Decodes a whole body, or the part of one up to a flush."""
    if encoding == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data)
    if encoding == "zstd":
        return _zstd_decode(data)
    return _brotli_decode(data)


def need_decoders():
    if _zstd is None or _brotli is None:
        raise h.unittest.SkipTest("libzstd.so.1 or libbrotlidec.so.1 missing")


def accept(encoding):
    return [("Accept-Encoding", encoding)]


# ---------------------------------------------------------------------------
# PHP responses
# ---------------------------------------------------------------------------

class Dynamic(PhpTestCase):
    fixture = "compress"

    def setUp(self):
        super().setUp()
        need_decoders()

    def fetch(self, target, headers=(), method="GET", srv=None):
        srv = srv or self.server
        raw = request(method, target, list(headers))
        return srv.fetch(raw, head_request=method == "HEAD")

    def test_each_encoding_decodes_to_the_identity_body(self):
        for size in (5600, 200000, 2 << 20):  # buffered, and over the 1 MiB buffer (streamed)
            target = "/page.php?size=%d&etag=1" % size
            plain = self.fetch(target)
            self.assertStatus(plain, 200)
            self.assertEqual(len(plain.body), size)
            self.assertTrue(plain.has_token("Vary", "Accept-Encoding"), plain.headers)
            self.assertIsNone(plain.header("Content-Encoding"))
            self.assertEqual(plain.header("ETag"), '"page-%d"' % size)
            for encoding in ENCODINGS:
                with self.subTest(size=size, encoding=encoding):
                    resp = self.fetch(target, accept("gzip, deflate, br, zstd")
                                      if encoding == "zstd" else accept(encoding))
                    self.assertStatus(resp, 200)
                    self.assertEqual(resp.header("Content-Encoding"), encoding)
                    self.assertTrue(resp.has_token("Vary", "Accept-Encoding"), resp.headers)
                    self.assertEqual(resp.header("ETag"), 'W/"page-%d"' % size)
                    if size < 1 << 20:
                        self.assertEqual(resp.header("Content-Length"), str(len(resp.body)))
                    self.assertLess(len(resp.body), size // 3)
                    self.assertEqual(decode(encoding, resp.body), plain.body)

    def test_script_content_length_is_replaced(self):
        plain = self.fetch("/page.php?size=8000&cl=1")
        self.assertEqual(plain.header("Content-Length"), "8000")
        resp = self.fetch("/page.php?size=8000&cl=1", accept("br"))
        self.assertEqual(resp.header_all("Content-Length"), [str(len(resp.body))])
        self.assertEqual(decode("br", resp.body), plain.body)

    def stream(self, encoding, srv=None):
        """A script that flushes half its body, then waits for a file: the
        first part must arrive, and decode, before the script goes on."""
        srv = srv or self.server
        gate = tempfile.mkdtemp(dir=self.workdir)
        os.chmod(gate, 0o777)
        target = "/page.php?size=20000&flush=" + gate
        headers = accept(encoding) if encoding else []
        with srv.connect() as conn:
            conn.send(request("GET", target, headers))
            head = conn.read_head()
            self.assertStatus(head, 200)
            self.assertEqual(head.header("Transfer-Encoding"), "chunked")
            self.assertEqual(head.header("Content-Encoding"), encoding)
            self.assertIsNone(head.header("Content-Length"))
            # Chunks until the first part decodes whole (the script is waiting).
            first = b""
            decoded = b""
            while len(decoded) < 10000:
                size = int(conn._read_line(None).split(b";")[0], 16)
                self.assertNotEqual(size, 0, "the body ended while the script waits")
                first += conn._read_exact(size, None)
                conn._read_exact(2, None)
                decoded = decode(encoding, first) if encoding else first
            self.assertEqual(len(decoded), 10000)
            open(os.path.join(gate, "go"), "w").close()
            rest = b""
            while True:
                size = int(conn._read_line(None).split(b";")[0], 16)
                if size == 0:
                    conn._read_line(None)
                    break
                rest += conn._read_exact(size, None)
                conn._read_exact(2, None)
        whole = first + rest
        return decode(encoding, whole) if encoding else whole

    def test_flushed_response_streams_compressed(self):
        plain = self.fetch("/page.php?size=20000").body
        for encoding in ENCODINGS:
            with self.subTest(encoding=encoding):
                self.assertEqual(self.stream(encoding), plain)

    def test_small_body_is_not_compressed(self):
        resp = self.fetch("/page.php?size=1000", accept("gzip"))
        self.assertIsNone(resp.header("Content-Encoding"))
        self.assertTrue(resp.has_token("Vary", "Accept-Encoding"))
        self.assertEqual(len(resp.body), 1000)
        self.assertEqual(self.fetch("/page.php?size=1024", accept("gzip"))
                         .header("Content-Encoding"), "gzip")

    def test_types_not_compressed(self):
        resp = self.fetch("/page.php?type=image/png", accept("gzip, br, zstd"))
        self.assertIsNone(resp.header("Content-Encoding"))
        self.assertIsNone(resp.header("Vary"))
        self.assertEqual(len(resp.body), 5000)
        for kind in ("application/json", "application/ld%2Bjson", "image/svg%2Bxml",
                     "text/plain;%20charset=utf-8"):
            resp = self.fetch("/page.php?type=" + kind, accept("gzip"))
            self.assertEqual(resp.header("Content-Encoding"), "gzip", kind)

    def test_script_content_encoding_is_untouched(self):
        plain = self.fetch("/page.php").body
        resp = self.fetch("/page.php?ce=1", accept("br, gzip, zstd"))
        self.assertEqual(resp.header_all("Content-Encoding"), ["gzip"])
        self.assertEqual(zlib.decompress(resp.body, 16 + zlib.MAX_WBITS), plain)

    def test_no_transform_is_untouched(self):
        resp = self.fetch("/page.php?nt=1", accept("gzip"))
        self.assertIsNone(resp.header("Content-Encoding"))
        self.assertEqual(len(resp.body), 5000)

    def test_head_gets_the_head_of_get(self):
        for encoding in ENCODINGS:
            get_resp = self.fetch("/page.php?etag=1", accept(encoding))
            head = self.fetch("/page.php?etag=1", accept(encoding), method="HEAD")
            self.assertStatus(head, 200)
            self.assertEqual(head.body, b"")
            for name in ("Content-Encoding", "Vary", "ETag", "Content-Type"):
                self.assertEqual(head.header(name), get_resp.header(name), name)
        head = self.fetch("/page.php", method="HEAD")
        self.assertIsNone(head.header("Content-Encoding"))
        self.assertEqual(head.header("Content-Length"), "5000")

    def test_q_zero_is_honoured(self):
        self.assertIsNone(self.fetch("/page.php", accept("gzip;q=0"))
                          .header("Content-Encoding"))
        self.assertIsNone(self.fetch("/page.php", accept("*;q=0"))
                          .header("Content-Encoding"))
        self.assertEqual(self.fetch("/page.php", accept("zstd;q=0, br;q=0, gzip;q=0.1"))
                         .header("Content-Encoding"), "gzip")
        self.assertEqual(self.fetch("/page.php", accept("gzip;q=0.5, br;q=0.9"))
                         .header("Content-Encoding"), "br")

    def test_partial_content_is_not_compressed(self):
        resp = self.fetch("/page.php?status=206", accept("gzip"))
        self.assertStatus(resp, 206)
        self.assertIsNone(resp.header("Content-Encoding"))
        self.assertEqual(len(resp.body), 5000)

    def test_compress_off(self):
        srv = self.start_php_server(compress="off")
        resp = srv.fetch(request("GET", "/page.php", accept("gzip, br, zstd")))
        self.assertIsNone(resp.header("Content-Encoding"))
        self.assertIsNone(resp.header("Vary"))
        self.assertEqual(len(resp.body), 5000)

    def test_levels_and_min_size_flags(self):
        srv = self.start_php_server(compress_level_gzip=1, compress_min_size="10K",
                                    compress_types="application/json")
        resp = srv.fetch(request("GET", "/page.php?size=20000&type=application/json",
                                 accept("gzip")))
        self.assertEqual(resp.header("Content-Encoding"), "gzip")
        self.assertEqual(resp.body[8:9], b"\x04")  # gzip's XFL: the fastest level
        resp = srv.fetch(request("GET", "/page.php?size=20000", accept("gzip")))
        self.assertIsNone(resp.header("Content-Encoding"))  # text/html is not in the list
        resp = srv.fetch(request("GET", "/page.php?size=9000&type=application/json",
                                 accept("gzip")))
        self.assertIsNone(resp.header("Content-Encoding"))


class DynamicWorker(Dynamic):
    php_options = {}

    @classmethod
    def make_server(cls):
        cls.php_options = dict(worker=os.path.join(cls.fixture_dir, "worker.php"))
        return super().make_server()

    def start_php_server(self, root=None, defines=(), **options):
        options.setdefault("worker", os.path.join(self.fixture_dir, "worker.php"))
        return super().start_php_server(root, defines, **options)


# ---------------------------------------------------------------------------
# Static files
# ---------------------------------------------------------------------------

APP = b"".join(b"function f%d() { return 'compressible static line %d'; }\n" % (i, i)
               for i in range(200))


class Static(h.ServerTestCase):
    server_options = None

    def setUp(self):
        super().setUp()
        need_decoders()
        self.site = tempfile.mkdtemp(dir=self.workdir)
        os.chmod(self.site, 0o755)
        self.write("app.js", APP, h.FIXED_MTIME)
        self.write("big.txt", APP * 200, h.FIXED_MTIME)  # larger than the cache takes
        self.write("logo.png", APP, h.FIXED_MTIME)

    def write(self, name, data, mtime):
        path = os.path.join(self.site, name)
        with open(path, "wb") as f:
            f.write(data)
        os.utime(path, (mtime, mtime))
        return path

    def siblings(self, name, data, mtime, encodings=("gzip", "br", "zstd")):
        """Precompressed siblings, marked so that the test knows which was sent."""
        made = {}
        for encoding in encodings:
            marked = data + ("/* %s sibling */\n" % encoding).encode()
            if encoding == "gzip":
                blob, suffix = zlib.compress(marked, 9, 16 + zlib.MAX_WBITS), ".gz"
            else:
                blob, suffix = self.compress_with_server(encoding, marked), \
                    {"br": ".br", "zstd": ".zst"}[encoding]
            self.write(name + suffix, blob, mtime)
            made[encoding] = marked
        return made

    def compress_with_server(self, encoding, data):
        """brotli and zstd blobs, made by torus itself with --compress-static."""
        if not hasattr(type(self), "_maker_dir"):
            type(self)._maker_dir = tempfile.mkdtemp(dir=self.workdir)
            os.chmod(type(self)._maker_dir, 0o755)
        path = os.path.join(type(self)._maker_dir, "blob.txt")
        with open(path, "wb") as f:
            f.write(data)
        srv = self.start_server(root=type(self)._maker_dir, compress_static="on")
        resp = srv.get("/blob.txt", accept(encoding))
        srv.kill()
        self.assertEqual(resp.header("Content-Encoding"), encoding)
        self.assertEqual(decode(encoding, resp.body), data)
        return resp.body

    def test_sibling_served_by_preference(self):
        made = self.siblings("app.js", APP, h.FIXED_MTIME + 10)
        srv = self.start_server(root=self.site)
        etags = set()
        for offer, encoding in (("gzip, br, zstd", "zstd"), ("gzip, br", "br"),
                                ("gzip", "gzip"), ("br;q=0, gzip", "gzip")):
            resp = srv.get("/app.js", accept(offer))
            self.assertStatus(resp, 200)
            self.assertEqual(resp.header("Content-Encoding"), encoding, offer)
            self.assertEqual(resp.header("Content-Type"), "text/javascript; charset=utf-8")
            self.assertTrue(resp.has_token("Vary", "Accept-Encoding"))
            self.assertEqual(resp.header("Content-Length"), str(len(resp.body)))
            self.assertEqual(decode(encoding, resp.body), made[encoding])
            self.assertIn("-" + encoding + '"', resp.header("ETag"))
            etags.add(resp.header("ETag"))
        plain = srv.get("/app.js")
        self.assertIsNone(plain.header("Content-Encoding"))
        self.assertTrue(plain.has_token("Vary", "Accept-Encoding"))
        self.assertEqual(plain.body, APP)
        etags.add(plain.header("ETag"))
        self.assertEqual(len(etags), 4)  # one per representation
        # HEAD: the same head.
        with srv.connect() as conn:
            conn.send(request("HEAD", "/app.js", accept("br")))
            head = conn.read_response(head_request=True)
        self.assertEqual(head.header("Content-Encoding"), "br")
        # The .gz asked for by name is itself.
        direct = srv.get("/app.js.gz", accept("gzip"))
        self.assertIsNone(direct.header("Content-Encoding"))
        self.assertEqual(direct.header("Content-Type"), "application/gzip")
        self.assertEqual(zlib.decompress(direct.body, 16 + zlib.MAX_WBITS), made["gzip"])

    def test_conditional_and_range_on_the_encoded_representation(self):
        self.siblings("app.js", APP, h.FIXED_MTIME + 10, encodings=("gzip",))
        srv = self.start_server(root=self.site)
        first = srv.get("/app.js", accept("gzip"))
        etag = first.header("ETag")
        resp = srv.get("/app.js", accept("gzip") + [("If-None-Match", etag)])
        self.assertStatus(resp, 304)
        self.assertEqual(resp.header("ETag"), etag)
        # The identity representation does not match the gzip ETag.
        self.assertStatus(srv.get("/app.js", [("If-None-Match", etag)]), 200)
        resp = srv.get("/app.js", accept("gzip") + [("Range", "bytes=0-9")])
        self.assertStatus(resp, 206)
        self.assertEqual(resp.body, first.body[:10])
        self.assertEqual(resp.header("Content-Range"), "bytes 0-9/%d" % len(first.body))

    def test_older_sibling_is_ignored(self):
        self.siblings("app.js", APP, h.FIXED_MTIME - 10)
        srv = self.start_server(root=self.site)
        resp = srv.get("/app.js", accept("gzip, br, zstd"))
        self.assertIsNone(resp.header("Content-Encoding"))
        self.assertEqual(resp.body, APP)

    def test_sibling_added_or_removed_later_is_seen(self):
        srv = self.start_server(root=self.site)
        self.assertIsNone(srv.get("/app.js", accept("gzip")).header("Content-Encoding"))
        made = self.siblings("app.js", APP, h.FIXED_MTIME + 10, encodings=("gzip",))

        def coding():
            return srv.get("/app.js", accept("gzip")).header("Content-Encoding")
        # The cached file's siblings are looked for again within 2 s.
        self.assertTrue(h.wait_for(lambda: coding() == "gzip", 10 * h.SLOW))
        self.assertEqual(decode("gzip", srv.get("/app.js", accept("gzip")).body), made["gzip"])
        os.unlink(os.path.join(self.site, "app.js.gz"))
        self.assertTrue(h.wait_for(lambda: coding() is None, 10 * h.SLOW))
        self.assertEqual(srv.get("/app.js", accept("gzip")).body, APP)

    def test_symlinked_sibling_is_not_followed(self):
        outside = os.path.join(self.workdir, "outside-secret.gz")
        with open(outside, "wb") as f:
            f.write(zlib.compress(b"SECRET outside the root\n", 9, 16 + zlib.MAX_WBITS))
        os.symlink(outside, os.path.join(self.site, "app.js.gz"))
        srv = self.start_server(root=self.site)
        resp = srv.get("/app.js", accept("gzip"))
        self.assertIsNone(resp.header("Content-Encoding"))
        self.assertEqual(resp.body, APP)

    def test_large_file_sibling(self):
        made = self.siblings("big.txt", APP * 200, h.FIXED_MTIME + 10, encodings=("gzip",))
        srv = self.start_server(root=self.site)
        resp = srv.get("/big.txt", accept("gzip"))
        self.assertEqual(resp.header("Content-Encoding"), "gzip")
        self.assertEqual(decode("gzip", resp.body), made["gzip"])

    def test_precompressed_off_and_compress_off(self):
        self.siblings("app.js", APP, h.FIXED_MTIME + 10, encodings=("gzip",))
        for options in ({"precompressed": "off"}, {"compress": "off"}):
            srv = self.start_server(root=self.site, **options)
            resp = srv.get("/app.js", accept("gzip"))
            self.assertIsNone(resp.header("Content-Encoding"), options)
            self.assertEqual(resp.body, APP)

    def test_compress_static(self):
        srv = self.start_server(root=self.site, compress_static="on")
        for encoding in ENCODINGS:
            resp = srv.get("/app.js", accept(encoding))
            self.assertEqual(resp.header("Content-Encoding"), encoding)
            self.assertTrue(resp.has_token("Vary", "Accept-Encoding"))
            self.assertEqual(decode(encoding, resp.body), APP)
        self.assertIsNone(srv.get("/logo.png", accept("gzip")).header("Content-Encoding"))
        self.assertEqual(srv.get("/app.js").body, APP)
        # Off by default.
        srv = self.start_server(root=self.site)
        self.assertIsNone(srv.get("/app.js", accept("gzip")).header("Content-Encoding"))


@h.torus_only("the command line of torus")
class Flags(h.ServerTestCase):
    server_options = None

    def test_bad_values_name_the_flag(self):
        import subprocess
        for flag, value in (("--compress-level-gzip", "10"), ("--compress-level-zstd", "0"),
                            ("--compress-level-br", "12"), ("--compress", "maybe"),
                            ("--precompressed", "1"), ("--compress-types", "text"),
                            ("--compress-min-size", "big")):
            proc = subprocess.run([h.TORUS_BIN, flag, value], stdin=subprocess.DEVNULL,
                                  capture_output=True, timeout=10)
            self.assertEqual(proc.returncode, 2, flag)
            lines = proc.stderr.decode().strip().splitlines()
            self.assertEqual(len(lines), 1, lines)
            self.assertIn(flag, lines[0])


if __name__ == "__main__":
    h.main()
