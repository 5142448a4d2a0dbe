"""Development watch mode (--watch DIR[:GLOB]) with real file writes.

A worker script includes lib/message.php at boot and answers with it: after
the file is edited, the answer changes (the workers restarted), with one
"watch: ... changed" log line naming the file. A burst of 20 writes makes one
reload; editors' temporary files and files the glob does not match make
none; a directory made after the start is watched too. In classic mode a
change needs no restart: the next request runs the new file (opcache
revalidates every time under --watch)."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torus_harness as h  # noqa: E402

WORKER = b"""<?php
$message = require __DIR__ . '/lib/message.php';
while (torus_handle_request(function () use ($message) { echo $message; })) {
}
"""
WAIT = 10.0 * h.SLOW


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def message(text):
    return "<?php return %r;\n" % text


@h.torus_only("--watch")
class WatchWorker(h.ServerTestCase):
    server_options = None

    def setUp(self):
        super().setUp()
        self.app = os.path.join(self.workdir, "app-%d" % id(self))
        os.makedirs(os.path.join(self.app, "lib"))
        os.makedirs(os.path.join(self.app, "public"))
        with open(os.path.join(self.app, "worker.php"), "wb") as f:
            f.write(WORKER)
        self.message = os.path.join(self.app, "lib", "message.php")
        write(self.message, message("v1"))
        self.srv = self.start_server(root=os.path.join(self.app, "public"),
                                     worker=os.path.join(self.app, "worker.php"),
                                     watch=self.app)
        self.assertEqual(self.body(), b"v1")

    def body(self):
        resp = self.srv.get("/")
        self.assertStatus(resp, 200)
        return resp.body

    def wait_body(self, want):
        """Polls until the worker answers want; returns the seconds it took."""
        start = time.monotonic()
        while time.monotonic() < start + WAIT:
            resp = self.srv.get("/")
            if resp.status == 200 and resp.body == want:
                return time.monotonic() - start
            time.sleep(0.02)
        self.fail("the worker still answers %r, not %r" % (self.body(), want))

    def watch_lines(self, offset):
        return [line for line in self.srv.log(offset).splitlines() if "watch: " in line]

    def reload_lines(self, offset):
        return [line for line in self.srv.log(offset).splitlines() if "reload done" in line]

    def wait_reloads(self, offset, count):
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and len(self.reload_lines(offset)) < count:
            time.sleep(0.05)

    def test_edit_restarts_the_workers(self):
        offset = self.srv.log_size()
        write(self.message, message("v2"))
        took = self.wait_body(b"v2")
        sys.stdout.write("\n  the new answer came %.0f ms after the write\n" % (took * 1000))
        self.wait_reloads(offset, 1)
        lines = self.watch_lines(offset)
        self.assertEqual(len(lines), 1, lines)
        self.assertIn(self.message, lines[0])

    def test_burst_of_writes_is_one_reload(self):
        offset = self.srv.log_size()
        for i in range(20):
            write(self.message, message("burst %d" % i))
            time.sleep(0.005)
        self.wait_body(b"burst 19")
        self.wait_reloads(offset, 1)
        time.sleep(0.5)  # a second reload, if any, would have started by now
        self.assertEqual(len(self.watch_lines(offset)), 1, self.srv.log(offset))
        self.assertEqual(len(self.reload_lines(offset)), 1, self.srv.log(offset))

    def test_temporary_and_unmatched_files_are_ignored(self):
        offset = self.srv.log_size()
        for name in (".message.php.swp", "message.php~", "4913", ".#message.php", "notes.txt"):
            write(os.path.join(self.app, "lib", name), "x")
        time.sleep(0.6)
        self.assertEqual(self.watch_lines(offset), [])
        self.assertEqual(self.body(), b"v1")

    def test_new_directory_is_watched(self):
        sub = os.path.join(self.app, "lib", "later")
        os.mkdir(sub)
        time.sleep(0.2)
        offset = self.srv.log_size()
        write(os.path.join(sub, "x.php"), "<?php\n")
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and not self.watch_lines(offset):
            time.sleep(0.05)
        lines = self.watch_lines(offset)
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("later/x.php", lines[0])


@h.torus_only("--watch")
class WatchClassic(h.ServerTestCase):
    server_options = None

    def test_next_request_runs_the_new_file(self):
        root = os.path.join(self.workdir, "classic")
        os.makedirs(root)
        script = os.path.join(root, "index.php")
        write(script, "<?php echo 'one';")
        srv = self.start_server(root=root, watch=root, define="opcache.enable_cli=1")
        self.assertEqual(srv.get("/index.php").body, b"one")
        offset = srv.log_size()
        write(script, "<?php echo 'two';")
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and srv.get("/index.php").body != b"two":
            time.sleep(0.02)
        self.assertEqual(srv.get("/index.php").body, b"two")
        while time.monotonic() < deadline and "watch: " not in srv.log(offset):
            time.sleep(0.05)
        self.assertIn("watch: %s changed (classic mode" % script, srv.log(offset))

    def test_watch_of_missing_directory(self):
        srv = h.Server(self.root, self.workdir, watch="/nonexistent/torus-watch")
        with self.assertRaises(AssertionError) as cm:
            srv.start()
        self.assertIn("--watch", str(cm.exception))


if __name__ == "__main__":
    h.main()
