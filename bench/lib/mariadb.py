"""A private MariaDB for the mariadb-read and mariadb-write scenarios.

bench/run initialises a data directory in its temporary folder
(mariadb-install-db), starts mariadbd on a unix socket with networking off
(on CPU 0 in 1core mode: the database is not the server under test), and
loads the schema: `items` with 10,000 rows to read, `writes` to insert into.
root has an empty password, so PHP connects the same way under any user.
Durability is relaxed (innodb_flush_log_at_trx_commit=2) so writes measure
the application server rather than this machine's fsync.
"""

import os
import subprocess

import procs

SCHEMA = """
CREATE DATABASE IF NOT EXISTS bench;
USE bench;
CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL, value INT NOT NULL) ENGINE=InnoDB;
CREATE TABLE writes (id BIGINT AUTO_INCREMENT PRIMARY KEY, item_id INT NOT NULL,
                     payload VARCHAR(200) NOT NULL, created TIMESTAMP DEFAULT CURRENT_TIMESTAMP)
                     ENGINE=InnoDB;
"""


class MariaDBFailed(Exception):
    """One-line reason."""


class MariaDB:
    def __init__(self, ws, rows):
        self.ws = ws
        self.rows = rows
        self.dir = os.path.join(ws.tmp, "mariadb")
        self.datadir = os.path.join(self.dir, "data")
        self.socket = ws.config["BENCH_MARIADB_SOCKET"]
        self.process = None

    def _client(self, sql, timeout=60):
        argv = [self.ws.options.binaries["mariadb"], "--no-defaults", "-S", self.socket, "-u", "root",
                "--batch", "--skip-column-names"]
        try:
            done = subprocess.run(argv, input=sql.encode(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            return None, "timed out"
        return done.returncode, done.stdout.decode(errors="replace").strip()

    def start(self):
        os.makedirs(self.datadir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        user = ["--user=" + self.ws.user_name] if self.ws.is_root else []
        log = os.path.join(self.ws.logs, "mariadb.log")
        rc, out = procs.run_bounded([self.ws.options.binaries["mariadb_install_db"], "--no-defaults",
                                     "--datadir=" + self.datadir, "--auth-root-authentication-method=normal",
                                     "--skip-test-db"] + user, timeout=180)
        with open(log, "a") as f:
            f.write(out)
        if rc != 0:
            raise MariaDBFailed(f"mariadb-install-db failed ({rc}): see {log}")
        argv = [self.ws.options.binaries["mariadbd"], "--no-defaults", "--datadir=" + self.datadir,
                "--socket=" + self.socket, "--skip-networking", "--pid-file=" + os.path.join(self.dir, "mariadbd.pid"),
                "--innodb-buffer-pool-size=128M", "--innodb-flush-log-at-trx-commit=2", "--max-connections=2000",
                "--skip-name-resolve", "--character-set-server=utf8mb4"] + user
        self.process = procs.Spawned("mariadbd", self.ws.pin_client(argv), log)

        def up():
            if not self.process.alive():
                raise MariaDBFailed(f"mariadbd exited: {self.process.log_tail()}")
            return os.path.exists(self.socket) and self._client("SELECT 1;", timeout=5)[0] == 0

        try:
            if not procs.wait_until(up, 60, interval=0.2):
                raise MariaDBFailed("mariadbd did not answer on its socket in 60 s")
            values = ",".join(f"({i},'item-{i:05d}',{(i * 7919) % 100000})" for i in range(1, self.rows + 1))
            rc, out = self._client(SCHEMA + f"INSERT INTO items (id, name, value) VALUES {values};\n")
            if rc != 0:
                raise MariaDBFailed(f"loading the schema failed: {out[:200]}")
        except MariaDBFailed:
            self.stop()
            raise
        os.chmod(os.path.dirname(self.socket), 0o755)

    def row_count(self, table):
        rc, out = self._client(f"SELECT COUNT(*) FROM bench.{table};", timeout=10)
        return int(out) if rc == 0 and out.isdigit() else None

    def version(self):
        rc, out = procs.run_bounded([self.ws.options.binaries["mariadbd"], "--version"], 10)
        return out.strip() if rc == 0 else "unknown"

    def stop(self):
        if self.process is not None:
            self.process.stop(timeout=20)
            self.process = None
