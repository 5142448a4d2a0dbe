"""The command line of build/torus: --version, --help, and the errors that
must stop it before it serves (exit 2, one line on stderr naming the
culprit)."""

import os
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torus_harness as h  # noqa: E402

RUN_TIMEOUT = 10.0 * h.SLOW

# Every flag the engine's tests and users rely on; --help must list them all.
FLAGS = ["--listen", "--root", "--threads", "--no-pin", "--max-body-size", "--max-header-size",
         "--max-uri-size", "--header-timeout", "--body-timeout", "--idle-timeout",
         "--send-timeout", "--max-connections", "--shutdown-timeout", "--log-level",
         "--version", "--help", "--modules"]


def run(*args, env=None):
    """Runs torus with args (and env added to its environment); returns (exit
    code, stdout, stderr). The process is killed by PID if it outlives
    RUN_TIMEOUT."""
    with subprocess.Popen([h.TORUS_BIN, *args], stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=dict(os.environ, **(env or {}))) as proc:
        try:
            out, err = proc.communicate(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            raise AssertionError("torus %s still running after %.0f s; stderr: %s"
                                 % (" ".join(args), RUN_TIMEOUT, err.decode("utf-8", "replace")))
        return proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


@h.torus_only("the command line of torus")
class CommandLine(h.ServerTestCase):
    server_options = None

    def setUp(self):
        super().setUp()
        self.root_dir = tempfile.mkdtemp(prefix="torus-cli-", dir=self.workdir)

    def assertUsageError(self, args, *words, env=None):
        code, out, err = run(*args, env=env)
        self.assertEqual(code, 2, "torus %s: exit %s, stderr %r" % (" ".join(args), code, err))
        lines = [line for line in err.splitlines() if line.strip()]
        self.assertEqual(len(lines), 1, "expected one line on stderr, got %r" % err)
        for word in words:
            self.assertIn(word, lines[0])
        return lines[0]

    def base_args(self):
        return ["--listen", "127.0.0.1:%d" % h.free_port(), "--root", self.root_dir]

    def test_version_names_php_and_its_thread_safety(self):
        code, out, err = run("--version")
        self.assertEqual(code, 0, err)
        text = out + err
        self.assertRegex(text, r"(?m)^PHP \d+\.\d+\.\d+ \((ZTS|NTS)\)$")
        self.assertRegex(text.lower(), r"torus")

    @unittest.skipUnless(h.php_kind() == "NTS", "a ZTS PHP runs several executors per shard")
    def test_nts_php_refuses_several_executors_per_core(self):
        # Debian's NTS PHP has one interpreter per process: the flag is refused
        # before anything starts, and the message says what to build instead.
        self.assertUsageError(self.base_args() + ["--php-threads-per-core", "2"],
                              "--php-threads-per-core", "NTS", "PHP=zts")

    def test_modules_lists_extensions_like_php_m(self):
        code, out, err = run("--modules")
        self.assertEqual(code, 0, err)
        self.assertTrue(out.startswith("[PHP Modules]\n"), out)
        self.assertIn("\n[Zend Modules]\n", out)
        php, zend = out.split("[Zend Modules]")
        names = [line for line in php.splitlines()[1:] if line]
        self.assertEqual(names, sorted(names, key=str.lower), "not sorted like php -m")
        for name in ("Core", "date", "json", "session", "standard", "Reflection", "SPL"):
            self.assertIn(name, names)
        if h.SANITIZE != "thread":  # TSan builds run without opcache (sapi/sapi.c)
            self.assertIn("Zend OPcache", zend.splitlines())
        # -m, and -d applies first: an extension that does not exist is one warning line.
        code, short_out, err = run("-m")
        self.assertEqual((code, short_out), (0, out))
        code, out, err = run("-m", "-d", "extension=torus-no-such-extension")
        self.assertEqual(code, 0, err)
        self.assertIn("torus-no-such-extension", out + err)

    def test_session_save_path_that_does_not_exist(self):
        missing = os.path.join(self.root_dir, "no-such-folder")
        line = self.assertUsageError(self.base_args() + ["-d", "session.save_path=" + missing],
                                     "session.save_path", missing)
        self.assertIn("No such file or directory", line)
        # The "N;MODE;/path" form names its folder last (quoted: ';' starts an INI comment).
        self.assertUsageError(self.base_args() + ["-d", 'session.save_path="2;0600;%s"' % missing],
                              "session.save_path", missing)
        self.assertFalse(os.path.exists(missing))

    def test_help_lists_every_flag(self):
        code, out, err = run("--help")
        self.assertEqual(code, 0, err)
        for flag in FLAGS:
            self.assertIn(flag, out)

    def test_unknown_flag(self):
        self.assertUsageError(["--bogus"], "--bogus")
        self.assertUsageError(self.base_args() + ["--bogus"], "--bogus")
        self.assertUsageError(["--bogus=1"], "--bogus")

    def test_missing_value(self):
        self.assertUsageError(["--root"], "--root")

    def test_root_that_does_not_exist(self):
        line = self.assertUsageError(["--listen", "127.0.0.1:%d" % h.free_port(),
                                      "--root", "/nonexistent/torus-root"], "--root")
        self.assertIn("/nonexistent/torus-root", line)

    def test_root_that_is_a_file(self):
        path = os.path.join(self.root_dir, "file.txt")
        with open(path, "w") as f:
            f.write("x")
        self.assertUsageError(["--listen", "127.0.0.1:%d" % h.free_port(), "--root", path],
                              "--root")

    def test_listen_address_in_use(self):
        # A plain listener (no SO_REUSEPORT), so torus's bind must fail.
        blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            blocker.bind((h.HOST, 0))
            blocker.listen(1)
            address = "127.0.0.1:%d" % blocker.getsockname()[1]
            self.assertUsageError(["--listen", address, "--root", self.root_dir, "--threads", "1",
                                   "--no-pin"], address)
        finally:
            blocker.close()

    def test_bad_listen_address(self):
        self.assertUsageError(["--listen", "127.0.0.1:99999", "--root", self.root_dir], "--listen")
        self.assertUsageError(["--listen", "no-port-here", "--root", self.root_dir], "--listen")

    def test_zero_threads(self):
        self.assertUsageError(self.base_args() + ["--threads", "0"], "--threads")

    def test_bad_values(self):
        for flag, value in (("--threads", "many"), ("--max-body-size", "lots"),
                            ("--max-header-size", "1Q"), ("--header-timeout", "-1"),
                            ("--idle-timeout", "soon"), ("--max-connections", "0"),
                            ("--log-level", "loud")):
            with self.subTest(flag=flag):
                self.assertUsageError(self.base_args() + [flag, value], flag)

    def test_valid_flags_start_and_stop(self):
        # Every engine flag at once, with values the tests use: it serves.
        srv = self.start_server(max_body_size="1K", max_header_size="4K", max_uri_size="1K",
                                header_timeout="1", body_timeout="0.5s", idle_timeout=1,
                                send_timeout=1, max_connections=16, shutdown_timeout=2,
                                log_level="warn")
        self.assertServes(srv)
        self.assertEqual(srv.kill(), 0)


@h.torus_only("the environment variables of torus")
class Environment(h.ServerTestCase):
    """Every flag can come from TORUS_<FLAG>; the command line wins."""
    server_options = None
    assertUsageError = CommandLine.assertUsageError

    def post(self, srv, size):
        return srv.fetch(b"POST /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
                         b"Connection: close\r\n\r\n" % size + b"x" * size)

    def test_help_names_each_variable(self):
        code, out, err = run("--help")
        self.assertEqual(code, 0, err)
        for flag in FLAGS:
            if flag in ("--help", "--version", "--modules"):
                continue
            line = next(line for line in out.splitlines() if flag + " " in line + " ")
            self.assertIn("TORUS_" + flag[2:].upper().replace("-", "_"), line)

    def test_environment_sets_a_flag(self):
        srv = self.start_server(env={"TORUS_MAX_BODY_SIZE": "1K"})
        self.assertStatus(self.post(srv, 2048), 413)
        self.assertNotEqual(self.post(srv, 512).status, 413)

    def test_command_line_wins(self):
        srv = self.start_server(max_body_size="4K", env={"TORUS_MAX_BODY_SIZE": "1K"})
        self.assertNotEqual(self.post(srv, 2048).status, 413)

    def test_list_of_listeners(self):
        a, b = h.free_port(), h.free_port()
        env = {"TORUS_LISTEN": "127.0.0.1:%d,127.0.0.1:%d" % (a, b), "TORUS_ROOT": self.root,
               "TORUS_THREADS": "1", "TORUS_NO_PIN": "true"}
        with subprocess.Popen([h.TORUS_BIN], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env=dict(os.environ, **env)) as proc:
            try:
                for port in (a, b):
                    deadline = h.time.monotonic() + h.START_TIMEOUT
                    while not h.can_connect(port, 0.2) and h.time.monotonic() < deadline:
                        self.assertIsNone(proc.poll(), "torus exited")
                        h.time.sleep(0.05)
                    with h.Conn(port) as c:
                        c.send(h.get("/hello.txt"))
                        resp, _ = c.read_final_response()
                    self.assertEqual(resp.body, h.HELLO)
            finally:
                proc.terminate()
                proc.wait(timeout=h.STOP_TIMEOUT)

    def test_bad_values_name_the_variable(self):
        for var, value in (("TORUS_MAX_BODY_SIZE", "lots"), ("TORUS_NO_PIN", "maybe"),
                           ("TORUS_THREADS", "0"), ("TORUS_LISTEN", "127.0.0.1:1,nowhere")):
            with self.subTest(var=var):
                line = self.assertUsageError(["--root", self.root], var, env={var: value})
                self.assertTrue(line.startswith("torus: " + var), line)


if __name__ == "__main__":
    h.main()
