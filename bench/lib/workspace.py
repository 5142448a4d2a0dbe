"""The temporary folder of one bench/run and the data every server shares.

    TMP/docroot/       a copy of bench/php/ plus bench-config.php (paths, burn rounds)
    TMP/prerendered/   the bytes json.php and template.php print, for nginx-static
    TMP/data/          the 10,000-row SQLite file; tls-cert.pem and tls-key.pem (https-*)
    TMP/<server>-<scenario>/   each server's generated configs, sockets, pid files

Fixtures are made on first use only, so `--scenario hello` does not build a
database. In 1core mode the servers run on CPU 1 and everything on the
client side (wrk, this process, MariaDB) on CPU 0.
"""

import grp
import json
import os
import pwd
import resource
import shutil
import sqlite3
import time

import procs

BENCH_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROWS = 10000
BURN_TARGET_MS = 20.0


class Workspace:
    def __init__(self, options, tmp, results_dir):
        self.options = options
        self.tmp = tmp
        self.results = results_dir
        self.logs = os.path.join(results_dir, "logs")
        self.confs = os.path.join(results_dir, "conf")
        self.raw = os.path.join(results_dir, "raw")
        for d in (self.logs, self.confs, self.raw):
            os.makedirs(d, exist_ok=True)
        self.docroot = os.path.join(tmp, "docroot")
        self.prerendered = os.path.join(tmp, "prerendered")
        self.data = os.path.join(tmp, "data")
        self.tls_cert = os.path.join(self.data, "tls-cert.pem")
        self.tls_key = os.path.join(self.data, "tls-key.pem")
        self.current_scenario = "setup"
        self.is_root = os.geteuid() == 0
        self.user_name = pwd.getpwuid(os.geteuid()).pw_name
        self.group_name = grp.getgrgid(os.getegid()).gr_name
        self.nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        if options.mode == "1core":
            self.server_cpus, self.client_cpus = "1", "0"
            self.server_cpu_count = 1
        else:
            self.server_cpus = self.client_cpus = None
            self.server_cpu_count = len(os.sched_getaffinity(0))
        self.config = {"BENCH_SQLITE_PATH": os.path.join(self.data, "bench.sqlite"),
                       "BENCH_MARIADB_SOCKET": os.path.join(tmp, "mariadb", "mysqld.sock"),
                       "BENCH_BURN_ITERATIONS": 60000,
                       "BENCH_ROWS": ROWS}
        self._made = set()
        self._copy_docroot()

    @staticmethod
    def _pin(argv, cpus):
        return ["taskset", "-c", cpus] + list(argv) if cpus else list(argv)

    def pin_server(self, argv):
        return self._pin(argv, self.server_cpus)

    def pin_client(self, argv):
        return self._pin(argv, self.client_cpus)

    def _copy_docroot(self):
        shutil.copytree(os.path.join(BENCH_DIR, "php"), self.docroot)
        os.makedirs(self.prerendered, exist_ok=True)
        os.makedirs(self.data, exist_ok=True)
        # Servers whose workers run as another user must be able to read it all.
        for d in (self.tmp, self.docroot, self.prerendered, self.data):
            os.chmod(d, 0o755)
        self.write_config()

    def write_config(self):
        lines = ["<?php", "// Written by bench/run: where this run's data lives."]
        for key, value in self.config.items():
            lines.append(f"define({json.dumps(key)}, {json.dumps(value)});")
        with open(os.path.join(self.docroot, "bench-config.php"), "w") as f:
            f.write("\n".join(lines) + "\n")

    def prepare(self, needs):
        """Makes the fixtures in needs ("sqlite", "burn", "prerendered", "tls") once; errors are one line."""
        for need in needs:
            if need in self._made:
                continue
            if need == "sqlite":
                make_sqlite(self.config["BENCH_SQLITE_PATH"])
            elif need == "burn":
                self.config["BENCH_BURN_ITERATIONS"] = self.calibrate_burn()
                self.write_config()
            elif need == "prerendered":
                self.prerender()
            elif need == "tls":
                make_certificate(self.options.binaries["openssl"], self.tls_cert, self.tls_key)
            self._made.add(need)

    def php_cli(self, code, timeout=60):
        argv = self.pin_server([self.options.binaries["php"], "-r", code])
        rc, out = procs.run_bounded(argv, timeout)
        if rc != 0:
            raise RuntimeError(f"php -r failed ({rc}): {out.strip()[:200]}")
        return out

    def prerender(self):
        for name in ("json", "template"):
            code = f"require {json.dumps(os.path.join(self.docroot, name + '.php'))};"
            with open(os.path.join(self.prerendered, name + ".out"), "w") as f:
                f.write(self.php_cli(code))

    def calibrate_burn(self):
        """Rounds of bench_burn_rounds() that take BURN_TARGET_MS on a server CPU (best of 5)."""
        probe = 20000
        code = (f"require {json.dumps(os.path.join(self.docroot, 'scenarios.php'))};"
                f"$best = INF; for ($k = 0; $k < 5; $k++) {{ $t = hrtime(true);"
                f" bench_burn_rounds({probe}); $best = min($best, hrtime(true) - $t); }}"
                f" echo $best / 1e6;")
        ms = float(self.php_cli(code).strip())
        self.burn_ms_per_round = ms / probe
        return max(1, int(probe * BURN_TARGET_MS / ms))


def make_sqlite(path, rows=ROWS):
    """The SQLite file of sqlite-read: table items(id, name, value), ids 1..rows."""
    if os.path.exists(path):
        os.unlink(path)
    db = sqlite3.connect(path)
    try:
        db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, value INTEGER NOT NULL)")
        db.executemany("INSERT INTO items (id, name, value) VALUES (?, ?, ?)",
                       ((i, f"item-{i:05d}", (i * 7919) % 100000) for i in range(1, rows + 1)))
        db.commit()
    finally:
        db.close()
    os.chmod(path, 0o644)


def certificate_argv(openssl, cert, key):
    """The openssl command that writes a self-signed P-256 certificate for localhost and its key."""
    return [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-days", "2", "-subj", "/CN=localhost", "-keyout", key, "-out", cert]


def make_certificate(openssl, cert, key):
    """The certificate every server of the https-* scenarios uses (made once per run)."""
    rc, out = procs.run_bounded(certificate_argv(openssl, cert, key), 30)
    if rc != 0 or not (os.path.isfile(cert) and os.path.isfile(key)):
        tail = " / ".join(line.strip() for line in out.strip().splitlines()[-2:])
        raise RuntimeError(f"openssl req failed ({'timed out' if rc is None else rc}): {tail[:200]}")
    os.chmod(cert, 0o644)
    os.chmod(key, 0o600)


def timestamp():
    return time.strftime("%Y-%m-%dT%H-%M-%S")
