"""Operations: the admin endpoints (/healthz, /readyz, /metrics), the access
log and its reopening on SIGUSR1, and /readyz turning 503 on SIGTERM."""

import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torus_harness as h  # noqa: E402
from torus_harness import admin_get, wait_for  # noqa: E402


class Admin(h.ServerTestCase):
    server_options = None

    def start_with_admin(self, **options):
        admin_port = h.free_port()
        srv = self.start_server(admin_listen="127.0.0.1:%d" % admin_port, **options)
        deadline = time.monotonic() + h.START_TIMEOUT
        while not h.can_connect(admin_port, 0.2):
            self.assertLess(time.monotonic(), deadline, "the admin port never opened")
            time.sleep(0.05)
        return srv, admin_port

    @h.torus_only("admin endpoints")
    def test_healthz_and_readyz(self):
        srv, admin = self.start_with_admin(threads=2)
        resp = admin_get(admin, "/healthz")
        self.assertStatus(resp, 200)
        self.assertEqual(resp.body, b"ok\n")
        self.assertTrue(wait_for(lambda: admin_get(admin, "/readyz").status == 200, 5 * h.SLOW))
        self.assertStatus(admin_get(admin, "/nope"), 404)

    @h.torus_only("admin endpoints")
    def test_metrics_count_requests(self):
        srv, admin = self.start_with_admin()
        for _ in range(5):
            self.assertStatus(srv.get("/hello.txt"), 200)
        self.assertStatus(srv.get("/missing-file.txt"), 404)
        resp = admin_get(admin, "/metrics")
        self.assertStatus(resp, 200)
        self.assertIn("text/plain", resp.header("Content-Type"))
        text = resp.body.decode()
        for name in ("torus_requests_total", "torus_request_duration_seconds",
                     "torus_connections_open", "torus_executors", "torus_queue_depth",
                     "torus_worker_restarts_total", "torus_process_resident_memory_bytes"):
            self.assertIn("# TYPE %s " % name, text)
            self.assertIn("# HELP %s " % name, text)
        lines = dict(line.rsplit(" ", 1) for line in text.splitlines()
                     if line and not line.startswith("#"))
        self.assertGreaterEqual(float(lines['torus_requests_total{code="2xx"}']), 5)
        self.assertGreaterEqual(float(lines['torus_requests_total{code="4xx"}']), 1)
        self.assertGreaterEqual(float(lines["torus_request_duration_seconds_count"]), 6)
        self.assertEqual(lines['torus_request_duration_seconds_bucket{le="+Inf"}'],
                         lines["torus_request_duration_seconds_count"])
        self.assertGreater(float(lines["torus_process_resident_memory_bytes"]), 1 << 20)
        # Every executor is in one state; in classic mode (and under a slow sanitizer) an
        # executor may still be starting, since these requests were static files. The
        # default is 4 executors per shard with a thread-safe PHP, 1 without.
        self.assertEqual(float(lines['torus_executors{state="idle"}']) +
                         float(lines['torus_executors{state="busy"}']) +
                         float(lines['torus_executors{state="starting"}']),
                         4 if h.php_kind() == "ZTS" else 1)

    @h.torus_only("admin endpoints")
    def test_readyz_turns_503_while_draining(self):
        srv, admin = self.start_with_admin(shutdown_timeout=5)
        self.assertTrue(wait_for(lambda: admin_get(admin, "/readyz").status == 200, 5 * h.SLOW))
        # Keep the process draining: a response the client does not read.
        slow = h.Conn(srv.port, rcvbuf=4096)
        slow.send(h.get("/huge.bin"))
        time.sleep(0.2)
        srv.send_signal(signal.SIGTERM)
        self.assertTrue(wait_for(lambda: admin_get(admin, "/readyz").status == 503, 3 * h.SLOW))
        slow.close(abort=True)
        self.assertEqual(srv.wait_exit(10 * h.SLOW), 0)

    big_files = {"huge.bin": 16 << 20}


class AccessLog(h.ServerTestCase):
    server_options = None

    @h.torus_only("access log")
    def test_combined_lines_and_reopen(self):
        path = os.path.join(self.workdir, "access.log")
        srv = self.start_server(access_log=path, threads=2)
        for i in range(6):
            self.assertStatus(srv.get("/hello.txt?n=%d" % i, {"User-Agent": 'agent "q"',
                                                              "Referer": "http://r/"}), 200)
        self.assertStatus(srv.get("/missing.txt"), 404)
        self.assertTrue(wait_for(lambda: os.path.exists(path) and
                                 open(path).read().count("\n") >= 7, 4 * h.SLOW),
                        "lines were not written within a few seconds")
        lines = open(path).read().splitlines()
        self.assertEqual(len(lines), 7)
        first = [l for l in lines if "n=0" in l][0]
        self.assertRegex(first, r'^127\.0\.0\.1 - - \[\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] '
                                r'"GET /hello\.txt\?n=0 HTTP/1\.1" 200 \d+ "http://r/" "agent \\"q\\""$')
        self.assertTrue(any('"GET /missing.txt HTTP/1.1" 404 ' in l for l in lines))

        # logrotate: move the file, SIGUSR1, new lines land in a new file.
        os.rename(path, path + ".1")
        srv.send_signal(signal.SIGUSR1)
        self.assertTrue(wait_for(lambda: os.path.exists(path), 3 * h.SLOW))
        self.assertStatus(srv.get("/hello.txt?after=1"), 200)
        self.assertTrue(wait_for(lambda: "after=1" in open(path).read(), 4 * h.SLOW))
        self.assertNotIn("after=1", open(path + ".1").read())

    @h.torus_only("access log")
    def test_json_lines_written_at_exit(self):
        path = os.path.join(self.workdir, "access.json")
        srv = self.start_server(access_log=path, access_log_format="json")
        self.assertStatus(srv.get("/hello.txt", {"User-Agent": "tab\there"}), 200)
        srv.send_signal(signal.SIGTERM)
        self.assertEqual(srv.wait_exit(5 * h.SLOW), 0)
        entries = [json.loads(l) for l in open(path).read().splitlines()]
        self.assertEqual(len(entries), 1)
        e = entries[0]
        self.assertEqual((e["method"], e["uri"], e["status"], e["protocol"]),
                         ("GET", "/hello.txt", 200, "HTTP/1.1"))
        self.assertEqual(e["user_agent"], "tab\there")
        self.assertGreater(e["bytes"], 13)

    @h.torus_only("flag checking")
    def test_unwritable_log_is_a_start_up_error(self):
        import subprocess
        proc = subprocess.run([h.TORUS_BIN, "--listen", "127.0.0.1:%d" % h.free_port(),
                               "--root", self.root, "--access-log", "/nonexistent/dir/a.log"],
                              capture_output=True, timeout=20 * h.SLOW)
        self.assertEqual(proc.returncode, 2)
        self.assertIn(b"--access-log", proc.stderr)
        self.assertEqual(proc.stderr.count(b"\n"), 1)


class Supervisor(h.ServerTestCase):
    server_options = None

    @h.torus_only("systemd notification")
    def test_sd_notify_ready_and_stopping(self):
        import socket
        path = os.path.join(self.workdir, "notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(10 * h.SLOW)
        self.addCleanup(sock.close)
        old = os.environ.get("NOTIFY_SOCKET")
        os.environ["NOTIFY_SOCKET"] = path
        try:
            srv = self.start_server()
        finally:
            if old is None:
                del os.environ["NOTIFY_SOCKET"]
            else:
                os.environ["NOTIFY_SOCKET"] = old
        self.assertEqual(sock.recv(256), b"READY=1")
        self.assertStatus(srv.get("/hello.txt"), 200)
        srv.send_signal(signal.SIGTERM)
        self.assertEqual(sock.recv(256), b"STOPPING=1")
        self.assertEqual(srv.wait_exit(5 * h.SLOW), 0)

    @h.torus_only("privilege dropping")
    def test_user_drops_root_after_binding(self):
        import pwd
        if os.geteuid() != 0:
            self.skipTest("needs root")
        nobody = pwd.getpwnam("nobody")
        srv = self.start_server(user="nobody")
        self.assertStatus(srv.get("/hello.txt"), 200)
        with open("/proc/%d/status" % srv.proc.pid) as f:
            uids = [l.split()[1:] for l in f if l.startswith("Uid:")][0]
        self.assertEqual(set(map(int, uids)), {nobody.pw_uid})

    @h.torus_only("flag checking")
    def test_unknown_user_is_a_start_up_error(self):
        import subprocess
        if os.geteuid() != 0:
            self.skipTest("needs root")
        proc = subprocess.run([h.TORUS_BIN, "--listen", "127.0.0.1:%d" % h.free_port(),
                               "--root", self.root, "--user", "no-such-user-torus"],
                              capture_output=True, timeout=20 * h.SLOW)
        self.assertEqual(proc.returncode, 2)
        self.assertIn(b"--user no-such-user-torus", proc.stderr)


if __name__ == "__main__":
    h.main()
