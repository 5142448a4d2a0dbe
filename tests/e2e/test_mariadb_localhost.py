"""A WordPress-style database connection: host "localhost", no socket named.

wp-config-sample.php ships DB_HOST 'localhost'; mysqli and PDO then connect
through PHP's default MySQL socket, which on Debian is
/var/run/mysqld/mysqld.sock (where Debian's mariadb-server listens). A PHP
built with another default (/tmp/mysql.sock) answers every page with
"Error establishing a database connection" where php-fpm works.

The test starts its own MariaDB on exactly that path without touching the
machine's: a holder process (unshare -m) keeps a mount namespace in which a
fresh tmpfs covers /run (so /var/run/mysqld is empty and private), and
mariadbd and torus are started inside it with nsenter, which execs, so each
PID the test kills is the program's own. Needs root, unshare(1), nsenter(1)
and Debian's mariadb-server; skipped otherwise."""

import json
import os
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torus_harness as h  # noqa: E402
from test_php_classic import PhpServer  # noqa: E402

MARIADBD = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
INSTALL_DB = shutil.which("mariadb-install-db") or "/usr/bin/mariadb-install-db"
CLIENT = shutil.which("mariadb") or "/usr/bin/mariadb"
SOCKET = "/var/run/mysqld/mysqld.sock"
START_WITHIN = 60.0 * h.SLOW

CONNECT_PHP = r"""<?php
// Exactly what WordPress does with DB_HOST 'localhost': no port, no socket.
mysqli_report(MYSQLI_REPORT_OFF);
$m = @new mysqli('localhost', 'root', '', 'mysql');
$out = ['mysqli' => $m->connect_error ? 'error: ' . $m->connect_error
                                      : $m->query('SELECT 40 + 2')->fetch_row()[0]];
try {
    $p = new PDO('mysql:host=localhost;dbname=mysql', 'root', '');
    $out['pdo'] = $p->query('SELECT 6 * 7')->fetchColumn();
} catch (PDOException $e) {
    $out['pdo'] = 'error: ' . $e->getMessage();
}
$out['socket'] = ini_get('mysqli.default_socket');
echo json_encode($out);
"""

WORKER_PHP = r"""<?php
$handler = static function () { require __DIR__ . '/connect.php'; };
while (torus_handle_request($handler)) {
    gc_collect_cycles();
}
"""


def usable():
    if os.geteuid() != 0:
        return False
    for tool in ("unshare", "nsenter"):
        if shutil.which(tool) is None:
            return False
    return all(os.access(p, os.X_OK) for p in (MARIADBD, INSTALL_DB, CLIENT)) and \
        subprocess.call(["unshare", "-m", "true"], stderr=subprocess.DEVNULL) == 0


class NamespacedServer(PhpServer):
    """torus inside the holder's mount namespace (nsenter execs into it)."""

    holder_pid = None

    def argv(self):
        return ["nsenter", "-t", str(self.holder_pid), "-m", "--"] + super().argv()


@h.torus_only("PHP's MySQL defaults")
@unittest.skipUnless(usable(), "needs root, unshare, nsenter and Debian's mariadb-server")
class LocalhostMariaDB(h.ServerTestCase):
    server_options = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.holder = None
        cls.mariadb = None
        try:
            cls.start_mariadb()
        except BaseException:
            cls.stop_mariadb()
            raise
        cls.docroot = os.path.join(cls.workdir, "app")
        os.makedirs(cls.docroot)
        with open(os.path.join(cls.docroot, "connect.php"), "w") as f:
            f.write(CONNECT_PHP)
        with open(os.path.join(cls.docroot, "worker.php"), "w") as f:
            f.write(WORKER_PHP)

    @classmethod
    def tearDownClass(cls):
        cls.stop_mariadb()
        super().tearDownClass()

    @classmethod
    def in_namespace(cls, argv):
        return ["nsenter", "-t", str(cls.holder.pid), "-m", "--"] + argv

    @classmethod
    def start_mariadb(cls):
        # The holder: a private mount namespace with an empty /run, kept alive by sleep.
        cls.holder = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c",
             "mount -t tmpfs torus-e2e-run /run && mkdir -p /run/mysqld && echo ready && exec sleep 600"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        line = cls.holder.stdout.readline()
        if line.strip() != b"ready":
            raise AssertionError("the namespace holder failed: %r" % cls.holder.stderr.read())
        datadir = os.path.join(cls.workdir, "mariadb-data")
        os.makedirs(datadir)
        log = open(os.path.join(cls.workdir, "mariadb.log"), "wb")
        done = subprocess.run([INSTALL_DB, "--no-defaults", "--user=root", "--datadir=" + datadir,
                               "--auth-root-authentication-method=normal", "--skip-test-db"],
                              stdout=log, stderr=subprocess.STDOUT, timeout=START_WITHIN)
        if done.returncode != 0:
            raise AssertionError("mariadb-install-db failed: see %s" % log.name)
        cls.mariadb = subprocess.Popen(
            cls.in_namespace([MARIADBD, "--no-defaults", "--user=root", "--datadir=" + datadir,
                              "--socket=" + SOCKET, "--skip-networking", "--skip-name-resolve",
                              "--innodb-buffer-pool-size=32M",
                              "--pid-file=" + os.path.join(cls.workdir, "mariadbd.pid")]),
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + START_WITHIN
        while time.monotonic() < deadline:
            if cls.mariadb.poll() is not None:
                raise AssertionError("mariadbd exited with %s: see %s" % (cls.mariadb.returncode, log.name))
            ping = subprocess.run(cls.in_namespace([CLIENT, "--no-defaults", "-S", SOCKET, "-u", "root",
                                                    "-e", "SELECT 1"]),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
            if ping.returncode == 0:
                return
            time.sleep(0.2)
        raise AssertionError("mariadbd did not answer on %s within %.0f s" % (SOCKET, START_WITHIN))

    @classmethod
    def stop_mariadb(cls):
        for proc in (cls.mariadb, cls.holder):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if cls.holder is not None:
            cls.holder.stdout.close()
            cls.holder.stderr.close()

    def start_torus(self, **options):
        srv = NamespacedServer(self.docroot, self.workdir, **options)
        srv.holder_pid = self.holder.pid
        self._servers_used.append((srv, 0))
        self.addCleanup(srv.kill)
        return srv.start()

    def check_connects(self, srv):
        resp = srv.get("/connect.php")
        self.assertStatus(resp, 200)
        self.assertEqual(json.loads(resp.body), {"mysqli": "42", "pdo": 42, "socket": SOCKET})

    def test_classic_mode_connects_to_localhost(self):
        self.check_connects(self.start_torus())

    def test_worker_mode_connects_to_localhost(self):
        self.check_connects(self.start_torus(worker=os.path.join(self.docroot, "worker.php")))


if __name__ == "__main__":
    h.main()
