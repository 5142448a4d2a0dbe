"""HTTP/2: clients that close while their streams still run in PHP.

h2load ends every timed run that way (each connection with 16 streams in
flight, then its FIN). The shard used to pump its session, find nothing to
send, flush, and be sent back to pumping by the drained output of the
half-closed connection, until its stack overflowed (SIGSEGV, the supervisor
starting it again). Checked here, with h2load (Debian's nghttp2-client;
without it the file is skipped, 77): after two timed runs the shard is the
same process, has logged no crash, holds no connection of h2load's, and
serves the next request.
"""

import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torus_harness as h  # noqa: E402

H2LOAD = shutil.which("h2load")
if H2LOAD is None:
    print("test_http2_half_close.py: h2load (nghttp2-client) is not installed: skipped")
    sys.exit(77)


def established(port):
    """Established TCP connections whose local port is the server's."""
    count = 0
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if int(fields[1].split(":")[1], 16) == port and fields[3] == "01":
                count += 1
    return count


class HalfClose(h.ServerTestCase):
    server_options = {"h2c": True}

    def test_timed_h2load_runs_neither_crash_nor_leak(self):
        with open(os.path.join(self.root, "hi.php"), "wb") as f:
            f.write(b"<?php echo 'hi';")
        self.assertEqual(self.server.get("/hello.txt").status, 200)
        self.assertTrue(h.wait_for(lambda: len(h.server_pids(self.server.proc.pid)) > 1, 5),
                        "no shard process")
        pids = h.server_pids(self.server.proc.pid)
        log_from = self.server.log_size()
        url = "http://%s/hi.php" % self.server.address
        for _ in range(2):
            run = subprocess.run([H2LOAD, "-c8", "-m16", "-D1", url], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 timeout=30 * h.SLOW)
            self.assertEqual(run.returncode, 0, run.stdout)
            self.assertIn(b"Application protocol: h2c", run.stdout)
        self.assertTrue(h.wait_for(lambda: established(self.server.port) == 0, 10 * h.SLOW),
                        "%d connections still open" % established(self.server.port))
        self.assertNotIn("killed by", self.server.log(log_from))
        self.assertEqual(h.server_pids(self.server.proc.pid), pids, "a shard was started again")
        resp = self.server.get("/hello.txt")
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.body, h.HELLO)


if __name__ == "__main__":
    h.main()
