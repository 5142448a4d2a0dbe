"""X-Sendfile and X-Accel-Redirect (--sendfile-root).

A PHP script answers with X-Sendfile: /abs/path (or X-Accel-Redirect: /uri)
and headers of its own; the client gets the file as the static path serves
it (Content-Type by extension, ETag, Range, If-None-Match, HEAD), the
script's other headers (Content-Disposition, Cache-Control) and never the
X-Sendfile header or the script's body. A path outside every --sendfile-root
(".." traversal, a symbolic link out) is refused with 403 and a log line;
a missing file is 404. Without --sendfile-root, nothing changes."""

import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torus_harness as h  # noqa: E402

REPORT = b"report contents 0123456789\n"
BIG = 1 << 20

DOWNLOAD = b"""<?php
header('Content-Disposition: attachment; filename="report.txt"');
header('Cache-Control: private, max-age=60');
if (isset($_GET['path'])) header('X-Sendfile: ' . $_GET['path']);
if (isset($_GET['uri'])) header('X-Accel-Redirect: ' . $_GET['uri']);
echo "this body is replaced";
"""


def make_files(cls):
    """The test class's download.php in its document root and, under
    cls.files (its --sendfile-root), report.txt, big.bin (cls.big) and
    escape.txt, a symbolic link to cls.secret outside it."""
    with open(os.path.join(cls.root, "download.php"), "wb") as f:
        f.write(DOWNLOAD)
    cls.files = os.path.join(cls.workdir, "files")
    os.makedirs(cls.files)
    with open(os.path.join(cls.files, "report.txt"), "wb") as f:
        f.write(REPORT)
    cls.big = bytes(range(256)) * (BIG // 256)
    with open(os.path.join(cls.files, "big.bin"), "wb") as f:
        f.write(cls.big)
    cls.secret = os.path.join(cls.workdir, "secret.txt")
    with open(cls.secret, "wb") as f:
        f.write(b"secret\n")
    os.symlink(cls.secret, os.path.join(cls.files, "escape.txt"))


@h.torus_only("--sendfile-root")
class Sendfile(h.ServerTestCase):
    server_options = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        make_files(cls)
        cls.server = h.Server(cls.root, cls.workdir, sendfile_root=cls.files).start()
        cls.accel = h.Server(cls.root, cls.workdir,
                             sendfile_root="/protected/=" + cls.files).start()

    @classmethod
    def tearDownClass(cls):
        cls.accel.kill()
        super().tearDownClass()

    def download(self, srv=None, headers=None, method="GET", **query):
        target = "/download.php?" + urllib.parse.urlencode(query)
        return (srv or self.server).fetch(h.request(method, target, headers),
                                          head_request=method == "HEAD")

    def assertFile(self, resp, body):
        self.assertStatus(resp, 200)
        self.assertEqual(resp.body, body)
        self.assertIsNone(resp.header("X-Sendfile"))
        self.assertIsNone(resp.header("X-Accel-Redirect"))
        self.assertEqual(resp.header("Content-Disposition"), 'attachment; filename="report.txt"')
        self.assertEqual(resp.header("Cache-Control"), "private, max-age=60")
        self.assertTrue(resp.header("ETag"))
        self.assertEqual(resp.header("Content-Length"), str(len(body)))

    def test_x_sendfile_serves_the_file(self):
        resp = self.download(path=os.path.join(self.files, "report.txt"))
        self.assertFile(resp, REPORT)
        self.assertTrue(resp.header("Content-Type").startswith("text/plain"))
        self.assertEqual(len(resp.header_all("Content-Type")), 1)

    def test_range_and_conditional_requests(self):
        path = os.path.join(self.files, "report.txt")
        resp = self.download(headers=[("Range", "bytes=0-5")], path=path)
        self.assertStatus(resp, 206)
        self.assertEqual(resp.body, REPORT[:6])
        self.assertEqual(resp.header("Content-Range"), "bytes 0-5/%d" % len(REPORT))
        etag = self.download(path=path).header("ETag")
        resp = self.download(headers=[("If-None-Match", etag)], path=path)
        self.assertStatus(resp, 304)
        self.assertEqual(resp.body, b"")
        resp = self.download(method="HEAD", path=path)
        self.assertStatus(resp, 200)
        self.assertEqual(resp.header("Content-Length"), str(len(REPORT)))

    def test_large_file_then_keep_alive(self):
        path = os.path.join(self.files, "big.bin")
        target = "/download.php?" + urllib.parse.urlencode({"path": path})
        with self.server.connect() as c:
            for _ in range(2):
                c.send(h.get(target))
                resp, _ = c.read_final_response()
                self.assertStatus(resp, 200)
                self.assertEqual(len(resp.body), BIG)
                self.assertTrue(resp.body == self.big)
        self.assertNotIn("illegal state", self.server.log())

    def assertRefused(self, resp, offset):
        self.assertStatus(resp, 403)
        self.assertNotIn(b"secret", resp.body)
        deadline = time.monotonic() + 5 * h.SLOW
        while time.monotonic() < deadline and "--sendfile-root: 403" not in self.server.log(offset):
            time.sleep(0.05)
        self.assertIn("outside every --sendfile-root: 403", self.server.log(offset))

    def test_traversal_is_refused(self):
        offset = self.server.log_size()
        resp = self.download(path=self.files + "/../secret.txt")
        self.assertRefused(resp, offset)

    def test_symlink_escape_is_refused(self):
        offset = self.server.log_size()
        resp = self.download(path=os.path.join(self.files, "escape.txt"))
        self.assertRefused(resp, offset)

    def test_outside_path_and_relative_path_are_refused(self):
        offset = self.server.log_size()
        self.assertRefused(self.download(path=self.secret), offset)
        self.assertStatus(self.download(path="secret.txt"), 403)

    def test_missing_file_is_404(self):
        self.assertStatus(self.download(path=os.path.join(self.files, "nope.txt")), 404)

    def test_x_accel_redirect_with_prefix(self):
        resp = self.download(self.accel, uri="/protected/report.txt")
        self.assertFile(resp, REPORT)
        # A ".." that climbs above "/" is refused; one that stays in the URI space is resolved
        # there (to /secret.txt under the document root, which does not exist).
        resp = self.download(self.accel, uri="/protected/../../secret.txt")
        self.assertStatus(resp, 403)
        self.assertStatus(self.download(self.accel, uri="/protected/%2e%2e/secret.txt"), 404)
        # Outside the prefix: the document root, which is not a --sendfile-root here.
        self.assertStatus(self.download(self.accel, uri="/hello.txt"), 403)

    def test_off_by_default(self):
        srv = self.start_server()
        resp = self.download(srv, path=os.path.join(self.files, "report.txt"))
        self.assertStatus(resp, 200)
        self.assertEqual(resp.body, b"this body is replaced")


if __name__ == "__main__":
    h.main()
