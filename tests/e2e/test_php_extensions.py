"""The extensions of the PHP tools/build-php builds, end to end, and the
defaults Torus shares with Debian's PHP.

check.php (php_fixtures/extensions) makes one real call into each extension
real applications load: gd and imagick resize an image, intl formats a
number with ICU, zip writes and reads an archive, sodium opens a box, the
System V extensions lock, store and read, and so on; redis and pgsql show
their classes (no server to talk to here). It runs in classic mode on two
executor threads of one ZTS process, and once inside a worker script.
Against Debian's NTS PHP (make build PHP=system) the same calls run for the
extensions Debian's packages installed and enabled, on one executor.

Sessions: with no session.save_path anywhere, sessions go to Debian's
/var/lib/php/sessions, which Torus makes (mode 1733) when it is missing. To
see that on a machine that has the folder, the server runs in a mount
namespace of its own where a fresh tmpfs hides /var/lib (root and unshare(1)
needed, else skipped); the machine's own /var/lib is never touched."""

import json
import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torus_harness as h  # noqa: E402
from torus_harness import get  # noqa: E402
from test_php_classic import PhpServer, PhpTestCase  # noqa: E402

# Each extension and what its call in check.php returns.
EXPECTED = {
    "gd": [20, 15, True, True, True],
    "imagick": [20, 15, "PNG"],
    "intl": "1.234.567,891",
    "zip": "zipped hello",
    "sodium": "sealed message",
    "exif": 2,  # IMAGETYPE_JPEG
    "gmp": "1267650600228229401496703205376",
    "bcmath": "0.3",
    "soap": "SoapServer",
    "sysvsem": True,
    "sysvshm": {"kept": True},
    "shmop": "shmop!",
    "pcntl": "Operation not permitted",
    "posix": True,
    "calendar": 29,
    "gettext": "untranslated",
    "pgsql": True,
    "pdo_pgsql": True,
    "redis": "Redis",
    "apcu": True,
    "igbinary": {"a": [1, 2]},
    "msgpack": {"a": [1, 2]},
}

SESSION_DIR = "/var/lib/php/sessions"


def required_extensions():
    """The extensions of EXPECTED this build must load: all of them with the
    ZTS PHP tools/build-php builds; with Debian's NTS PHP, those its embed
    SAPI enables (a conf.d/NN-<name>.ini, as phpenmod makes for each
    installed php8.x-<name> package)."""
    if h.php_kind() == "ZTS":
        return list(EXPECTED)
    out = subprocess.run([h.TORUS_BIN, "--version"], stdout=subprocess.PIPE, timeout=30).stdout
    version = re.search(rb"PHP (\d+\.\d+)", out).group(1).decode()
    conf_d = "/etc/php/%s/embed/conf.d" % version
    enabled = {re.sub(r"^\d+-", "", f[:-4]) for f in os.listdir(conf_d) if f.endswith(".ini")}
    return [name for name in EXPECTED if name in enabled]


def can_hide_var_lib():
    return os.geteuid() == 0 and shutil.which("unshare") is not None and \
        subprocess.call(["unshare", "-m", "true"], stderr=subprocess.DEVNULL) == 0


class HiddenVarLibServer(PhpServer):
    """A server in a mount namespace where /var/lib is an empty tmpfs: a
    machine without /var/lib/php/sessions. unshare and sh exec into torus,
    so the PID the harness kills is the server's."""

    def argv(self):
        return ["unshare", "-m", "sh", "-c", 'mount -t tmpfs torus-e2e /var/lib && exec "$@"',
                "sh"] + super().argv()


class ExtensionChecks:
    def check_report(self, report):
        failures = []
        required = required_extensions()
        self.assertGreaterEqual(len(required), 10, "too few extensions to check: %r" % required)
        for name in required:
            expected = EXPECTED[name]
            entry = report.get(name, {})
            if not entry.get("loaded"):
                failures.append("%s: not loaded" % name)
            elif entry.get("result") != expected:
                failures.append("%s: %r, expected %r" % (name, entry.get("result"), expected))
        self.assertEqual(failures, [], "extensions that fail")
        defaults = report["defaults"]
        self.assertEqual(bool(defaults["zts"]), h.php_kind() == "ZTS")
        self.assertEqual(defaults["timezone"], "UTC")
        self.assertEqual(defaults["pdo_mysql.default_socket"], "/var/run/mysqld/mysqld.sock")
        self.assertIsNone(defaults["last_error"], "a warning or notice came first")


class ClassicMode(ExtensionChecks, PhpTestCase):
    fixture = "extensions"
    # Both executor threads of one ZTS process; Debian's NTS PHP has one.
    php_options = {"php_threads_per_core": 2 if h.php_kind() == "ZTS" else 1}

    def test_every_extension_works_on_every_executor(self):
        # Two requests at once, so both executor threads run the calls.
        with self.server.connect() as a, self.server.connect() as b:
            a.send(get("/check.php"))
            b.send(get("/check.php"))
            for conn in (a, b):
                resp = conn.read_response()
                self.assertStatus(resp, 200)
                self.check_report(json.loads(resp.body))
        self.assertNotRegex(self.server.log(), r"(?i)warning|unable to load")

    @unittest.skipIf(h.SANITIZE == "thread", "no opcache under ThreadSanitizer (sapi/startup.c)")
    def test_jit_is_built_in_and_off(self):
        jit = self.fetch_json(get("/check.php"))["defaults"]["jit"]
        self.assertEqual((jit["enabled"], jit["on"]), (False, False), jit)
        srv = self.start_php_server(defines=["opcache.jit=tracing", "opcache.jit_buffer_size=16M"])
        jit = self.fetch_json(get("/check.php"), srv)["defaults"]["jit"]
        self.assertEqual((jit["enabled"], jit["on"]), (True, True), jit)

    def test_modules_flag_lists_them(self):
        out = subprocess.run([h.TORUS_BIN, "--modules"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, timeout=30 * h.SLOW)
        self.assertEqual(out.returncode, 0, out.stderr)
        names = {line.lower() for line in out.stdout.decode().splitlines()}
        for name in required_extensions():
            self.assertIn(name, names)


class WorkerMode(ExtensionChecks, PhpTestCase):
    fixture = "extensions"

    @classmethod
    def make_server(cls):
        cls.php_options = dict(worker=os.path.join(cls.fixture_dir, "worker.php"))
        return super().make_server()

    def test_every_extension_works_in_a_worker(self):
        self.check_report(self.fetch_json(get("/check.php")))


@unittest.skipUnless(can_hide_var_lib(), "needs root and unshare(1) to hide /var/lib")
class DefaultSessionFolder(PhpTestCase):
    """No session.save_path is given: the default, on a /var/lib without it."""

    fixture = "extensions"
    class_server = False

    def start_hidden(self, **options):
        srv = HiddenVarLibServer(self.root, self.workdir, **options)
        self._servers_used.append((srv, 0))
        self.addCleanup(srv.kill)
        srv.start()
        return srv

    def session_round_trip(self, srv):
        resp = srv.get("/session.php")
        self.assertStatus(resp, 200)
        first = json.loads(resp.body)
        cookie = re.match(r"(PHPSESSID=[^;]+)", resp.header("Set-Cookie") or "")
        self.assertIsNotNone(cookie, resp)
        self.assertEqual(first["save_path"], SESSION_DIR)
        self.assertEqual(first["mode"], "1733")
        self.assertEqual(first["count"], 1)
        resp = srv.get("/session.php", headers={"Cookie": cookie.group(1)})
        second = json.loads(resp.body)
        self.assertEqual(second["count"], 2)
        self.assertTrue(second["file"])
        self.assertIn("made session folder " + SESSION_DIR, srv.log())

    def test_classic_mode(self):
        self.session_round_trip(self.start_hidden())

    def test_worker_mode(self):
        self.session_round_trip(
            self.start_hidden(worker=os.path.join(self.fixture_dir, "worker.php")))


if __name__ == "__main__":
    h.main()
