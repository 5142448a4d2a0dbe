"""The supervisor and its shard processes (issue 13): a crash in PHP costs
one core's connections, never the server.

Scripts of tests/e2e/php_fixtures/crash crash their own shard process in the
ways PHP cannot catch: SIGSEGV and SIGABRT sent to the process (as a broken
extension would raise them), and recursion through array_map() that
overflows the executor's C stack. After each crash a fresh connection must
be answered within 1 s, five times in a row, with one log line per crash
naming the signal and the script, and the crash counted in /metrics. With
two shards a slow request on the other shard finishes while one crashes.
A shard killed by hand is a crash like any other; the supervisor killed by
hand takes its shards with it; a worker that cannot boot stops the server
with exit code 2; /readyz shows a restarting shard as down."""

import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torus_harness as h  # noqa: E402
from torus_harness import admin_get, wait_for  # noqa: E402
from test_php_classic import PhpTestCase  # noqa: E402

RESTART_WITHIN = 1.0 * h.SLOW  # the bound for a retrying client

# Under a sanitizer, its own SIGSEGV handler would report the crash and exit(1): let these
# crashes be the signals they are, as in a production build.
for _name in ("ASAN_OPTIONS", "TSAN_OPTIONS"):
    os.environ[_name] = ":".join(filter(None, [os.environ.get(_name, ""), "handle_segv=0",
                                               "handle_abort=0", "handle_sigbus=0"]))


def metrics(port):
    resp = admin_get(port, "/metrics")
    values = {}
    for line in resp.body.decode().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def children(pid):
    """The pids of a supervisor's shard processes."""
    return sorted(h.server_pids(pid)[1:])


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except OSError:
        return False


class SupervisorTestCase(PhpTestCase):
    fixture = "crash"
    class_server = False

    def start_supervised(self, **options):
        admin_port = h.free_port()
        srv = self.start_php_server(admin_listen="127.0.0.1:%d" % admin_port, **options)
        self.assertTrue(wait_for(lambda: h.can_connect(admin_port, 0.2), h.START_TIMEOUT))
        self.assertTrue(wait_for(lambda: admin_get(admin_port, "/readyz").status == 200,
                                 h.START_TIMEOUT), srv.log())
        return srv, admin_port

    def assertCrashes(self, srv, path):
        """The request gets no response (its process died under it)."""
        with srv.connect() as c:
            c.send(h.get(path))
            rest = c.read_until_closed(5 * h.SLOW)
            self.assertFalse(rest.startswith(b"HTTP/"), "%s answered: %r" % (path, rest[:200]))

    def assertServedSoon(self, srv):
        """A fresh connection made right after the crash is answered 200 within the bound."""
        started = time.monotonic()
        resp = srv.get("/pid.php")
        elapsed = time.monotonic() - started
        self.assertStatus(resp, 200)
        self.assertLess(elapsed, RESTART_WITHIN, "the restart took %.2f s" % elapsed)
        return int(resp.body)

    def crash_lines(self, srv, signame):
        return [line for line in srv.log().splitlines() if "killed by " + signame in line]


class CrashesCostOneShard(SupervisorTestCase):

    def check_five_crashes(self, path, signame):
        srv, admin = self.start_supervised()
        for attempt in range(1, 6):
            self.assertCrashes(srv, path)
            self.assertServedSoon(srv)
            lines = self.crash_lines(srv, signame)
            self.assertEqual(len(lines), attempt, srv.log())
            self.assertIn(os.path.join(self.root, path.lstrip("/")), lines[-1])
            self.assertIn("GET " + path, lines[-1])
        m = metrics(admin)
        self.assertEqual(m['torus_shard_crashes_total{signal="%s"}' % signame], 5)
        self.assertEqual(m["torus_shard_restarts_total"], 5)
        self.assertEqual(m["torus_shards_up"], 1)
        srv.send_signal(signal.SIGTERM)
        self.assertEqual(srv.wait_exit(10 * h.SLOW), 0)

    def test_segfault_sent_by_the_script(self):
        self.check_five_crashes("/segv.php", "SIGSEGV")

    def test_abort_sent_by_the_script(self):
        self.check_five_crashes("/abort.php", "SIGABRT")

    def test_recursion_through_array_map(self):
        # Where PHP knows the thread's stack (8.3+) this may become an Error and a 500: that
        # is fine too, as long as the server answers afterwards.
        srv, admin = self.start_supervised()
        for _ in range(5):
            with srv.connect() as c:
                c.send(h.get("/recurse.php"))
                rest = c.read_until_closed(30 * h.SLOW)
            if rest.startswith(b"HTTP/"):
                self.assertIn(b" 500 ", rest.split(b"\r\n", 1)[0])
            self.assertServedSoon(srv)
        lines = self.crash_lines(srv, "SIGSEGV")
        for line in lines:
            self.assertIn("recurse.php", line)

    def test_other_shard_finishes_its_slow_request(self):
        srv, admin = self.start_supervised(threads=2)
        # A keep-alive connection learns which shard it is on, then asks for a slow page.
        slow = srv.connect(timeout=10 * h.SLOW)
        self.addCleanup(slow.close)
        slow.send(h.get("/pid.php"))
        slow_pid = int(slow.read_response().body)
        # Find a connection that landed on the other shard.
        other = None
        for _ in range(200):
            c = srv.connect()
            c.send(h.get("/pid.php"))
            if int(c.read_response().body) != slow_pid:
                other = c
                break
            c.close()
        self.assertIsNotNone(other, "every connection landed on one shard")
        slow.send(h.get("/sleep.php?ms=1500"))
        time.sleep(0.3)  # the slow request runs now
        other.send(h.get("/segv.php"))
        other.read_until_closed(5 * h.SLOW)
        other.close()
        resp = slow.read_response()
        self.assertStatus(resp, 200)
        self.assertEqual(resp.body, b"slept in %d\n" % slow_pid)
        self.assertEqual(len(self.crash_lines(srv, "SIGSEGV")), 1)
        self.assertIn(slow_pid, children(srv.proc.pid))  # untouched


class ShardProcesses(SupervisorTestCase):

    def test_sigkill_of_a_shard_is_a_crash(self):
        srv, admin = self.start_supervised(threads=2)
        shards = children(srv.proc.pid)
        self.assertEqual(len(shards), 2)
        os.kill(shards[0], signal.SIGKILL)
        self.assertTrue(wait_for(lambda: len(self.crash_lines(srv, "SIGKILL")) == 1, 5 * h.SLOW))
        self.assertIn("pid %d" % shards[0], self.crash_lines(srv, "SIGKILL")[0])
        self.assertTrue(wait_for(lambda: len(children(srv.proc.pid)) == 2 and
                                 shards[0] not in children(srv.proc.pid), 5 * h.SLOW))
        self.assertTrue(wait_for(lambda: admin_get(admin, "/readyz").status == 200, 5 * h.SLOW))
        self.assertEqual(metrics(admin)['torus_shard_crashes_total{signal="SIGKILL"}'], 1)
        for _ in range(10):
            self.assertStatus(srv.get("/pid.php"), 200)

    def test_shards_die_with_the_supervisor(self):
        srv, admin = self.start_supervised(threads=2)
        shards = children(srv.proc.pid)
        self.assertEqual(len(shards), 2)
        srv.proc.kill()  # SIGKILL: no drain, no cleanup
        srv.proc.wait(5)
        self.assertTrue(wait_for(lambda: not any(pid_alive(p) for p in shards), 5 * h.SLOW),
                        "orphaned shard processes: %s" % [p for p in shards if pid_alive(p)])
        # Nothing holds the port any more.
        self.assertTrue(wait_for(lambda: not h.can_connect(srv.port, 0.2), 5 * h.SLOW))
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((h.HOST, srv.port))
        finally:
            s.close()

    def test_drain_after_crashes_exits_zero(self):
        srv, admin = self.start_supervised(threads=2)
        self.assertCrashes(srv, "/segv.php")
        self.assertServedSoon(srv)
        shards = children(srv.proc.pid)
        srv.send_signal(signal.SIGTERM)
        self.assertEqual(srv.wait_exit(10 * h.SLOW), 0)
        self.assertFalse(any(pid_alive(p) for p in shards))


class WorkerCrashes(SupervisorTestCase):

    def test_restart_shows_in_readyz_until_the_worker_is_back(self):
        with open(os.path.join(self.markers, "boot_ms"), "w") as f:
            f.write("0")
        srv, admin = self.start_supervised(worker=os.path.join(self.root, "worker.php"))
        first = srv.get("/hello")
        self.assertStatus(first, 200)
        self.assertRegex(first.body, rb"^worker \d+ request 1\n$")
        # From now on a booting worker takes a while: the restart is visible.
        with open(os.path.join(self.markers, "boot_ms"), "w") as f:
            f.write(str(int(1500 * h.SLOW)))
        self.assertCrashes(srv, "/segv")
        self.assertTrue(wait_for(lambda: admin_get(admin, "/readyz").status == 503, 1.0 * h.SLOW))
        m = metrics(admin)
        self.assertEqual(m['torus_shard_up{shard="0"}'], 0)
        self.assertEqual(m['torus_shard_crashes_total{signal="SIGSEGV"}'], 1)
        self.assertTrue(wait_for(lambda: admin_get(admin, "/readyz").status == 200, 10 * h.SLOW))
        resp = srv.get("/after")
        self.assertStatus(resp, 200)
        self.assertRegex(resp.body, rb"^worker \d+ request 1\n$")  # a fresh worker
        line = self.crash_lines(srv, "SIGSEGV")[0]
        self.assertIn("GET /segv", line)
        self.assertIn("worker.php", line)

    def test_worker_that_cannot_boot_exits_2(self):
        try:
            self.start_php_server(worker=os.path.join(self.root, "bad_worker.php"),
                                  max_consecutive_failures=2)
        except AssertionError:
            pass  # it may exit before the harness sees the port open
        srv = self._servers_used[-1][0]
        self.assertEqual(srv.wait_exit(15 * h.SLOW), 2)
        log = srv.log()
        self.assertIn("this worker cannot boot", log)
        self.assertIn("no shard can start", log)


if __name__ == "__main__":
    h.main()
