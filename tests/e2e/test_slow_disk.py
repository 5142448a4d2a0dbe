"""A slow disk stalls only the requests that need it (the I/O thread never
waits on the file system).

The document root holds a FUSE file system (slow_fs.py) whose every name
lookup takes DELAY seconds. With one shard, a request for a file on it is in
flight while other clients of the same core ask for a static file, a PHP
script and a missing path: each must be answered at once, not after the slow
lookup. Then the slow request itself is answered, with the file's bytes, and
several clients asking for the same slow path at once are all answered.
Over HTTP/2 the same holds for the streams of one connection: a stream
waiting for the slow disk does not hold up the others, and one reset while
its lookup is at the slow disk leaves the connection and the server going.

Needs root, /dev/fuse, fusermount3 and Debian's python3-llfuse (for
/usr/bin/python3); skipped otherwise."""

import os
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torus_harness as h  # noqa: E402
from torus_harness import get  # noqa: E402
import test_http2  # noqa: E402  (its HTTP/2 client)

SYSTEM_PYTHON = "/usr/bin/python3"
SLOW_FS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "slow_fs.py")
DELAY = 1.0  # per lookup: routing, realpath and open make three
FAST = 0.8  # a request that does not touch the slow disk is answered within this


def usable():
    if os.geteuid() != 0 or not os.path.exists("/dev/fuse") or not shutil.which("fusermount3"):
        return False
    return subprocess.call([SYSTEM_PYTHON, "-c", "import llfuse"], stderr=subprocess.DEVNULL) == 0


@h.torus_only("the I/O thread of torus")
@unittest.skipUnless(usable(), "needs root, /dev/fuse, fusermount3 and python3-llfuse")
class SlowDisk(h.ServerTestCase):
    server_options = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.root = os.path.join(cls.workdir, "root")
        cls.mount = os.path.join(cls.root, "slow")
        os.makedirs(cls.mount)
        with open(os.path.join(cls.root, "hello.txt"), "w") as f:
            f.write("hello from the fast disk\n")
        with open(os.path.join(cls.root, "page.php"), "w") as f:
            f.write("<?php echo 'php ', 6 * 7;")
        cls.fs = subprocess.Popen([SYSTEM_PYTHON, SLOW_FS, cls.mount, str(DELAY)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  stdin=subprocess.DEVNULL)
        line = cls.fs.stdout.readline()
        if line.strip() != b"mounted" or not os.path.ismount(cls.mount):
            cls.stop_fs()
            raise AssertionError("slow_fs.py did not mount: %r" % cls.fs.stderr.read())

    @classmethod
    def stop_fs(cls):
        if cls.fs.poll() is None:
            cls.fs.terminate()
            try:
                cls.fs.wait(timeout=20)
            except subprocess.TimeoutExpired:
                subprocess.call(["fusermount3", "-u", "-z", cls.mount])
                cls.fs.kill()
                cls.fs.wait()
        cls.fs.stdout.close()
        cls.fs.stderr.close()

    @classmethod
    def tearDownClass(cls):
        cls.stop_fs()
        super().tearDownClass()

    def test_other_requests_do_not_wait_for_a_slow_lookup(self):
        srv = self.start_server(root=self.root, threads=1)
        with srv.connect(timeout=DELAY * 6 + 10) as slow:
            started = time.monotonic()
            slow.send(get("/slow/file.txt"))
            time.sleep(0.2)  # the lookup is now at the file system
            for target, status, body in (("/hello.txt", 200, b"hello from the fast disk\n"),
                                         ("/page.php", 200, b"php 42"),
                                         ("/missing.txt", 404, None)):
                asked = time.monotonic()
                resp = srv.fetch(get(target))
                waited = time.monotonic() - asked
                self.assertStatus(resp, status)
                if body is not None:
                    self.assertEqual(resp.body, body)
                self.assertLess(waited, FAST, "%s waited %.2f s behind the slow disk" % (target, waited))
            resp = slow.read_response(within=DELAY * 4 + 10)
            self.assertStatus(resp, 200)
            self.assertEqual(resp.body, b"from the slow disk\n")
            self.assertGreaterEqual(time.monotonic() - started, DELAY * 0.9)

    def test_clients_asking_for_the_same_slow_path_are_all_answered(self):
        srv = self.start_server(root=self.root, threads=1)
        conns = [srv.connect(timeout=DELAY * 6 + 10) for _ in range(5)]
        try:
            for c in conns:
                c.send(get("/slow/file.txt"))
            for c in conns:
                resp = c.read_response(within=DELAY * 6 + 10)
                self.assertStatus(resp, 200)
                self.assertEqual(resp.body, b"from the slow disk\n")
            # And a keep-alive connection goes on with its next request.
            conns[0].send(get("/hello.txt"))
            self.assertStatus(conns[0].read_response(), 200)
        finally:
            for c in conns:
                c.close()

    @unittest.skipUnless(test_http2.HAVE_H2, "python3-h2 is not installed")
    def test_http2_streams_do_not_wait_for_a_slow_lookup(self):
        srv = self.start_server(root=self.root, threads=1, h2c=True)
        c = test_http2.H2Client(srv.port, timeout=DELAY * 6 + 10)
        try:
            slow = c.request("/slow/file.txt")
            reset = c.request("/slow/other.txt")
            time.sleep(0.2)  # both lookups are now at the file system
            c.conn.reset_stream(reset)
            c.flush()
            fast = [c.request("/hello.txt"), c.request("/page.php"), c.request("/missing.txt")]
            c.wait(fast, within=DELAY * 6 + 10)
            # Answered while the slow stream still waits (the I/O thread did not).
            self.assertNotIn(slow, c.ended)
            self.assertEqual(c.responses[fast[0]]["body"], b"hello from the fast disk\n")
            self.assertEqual(c.responses[fast[1]]["body"], b"php 42")
            self.assertEqual(c.responses[fast[2]]["headers"][":status"], "404")
            c.wait([slow], within=DELAY * 6 + 10)
            self.assertEqual(c.responses[slow]["headers"][":status"], "200")
            self.assertEqual(c.responses[slow]["body"], b"from the slow disk\n")
            self.assertIsNone(c.responses[reset]["headers"])  # reset: never answered
            self.assertEqual(c.get("/hello.txt")["headers"][":status"], "200")
        finally:
            c.close()

    def test_a_slow_lookup_does_not_hold_up_shutdown(self):
        srv = self.start_server(root=self.root, threads=1, shutdown_timeout=1)
        with srv.connect() as slow:
            slow.send(get("/slow/file.txt"))
            time.sleep(0.2)
            srv.send_signal(15)
            code = srv.wait_exit(DELAY + 15)
            self.assertEqual(code, 0, srv.log())


if __name__ == "__main__":
    h.main()
