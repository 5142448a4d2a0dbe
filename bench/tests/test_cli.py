"""bench/run's argument parsing: defaults, --quick, and one-line errors with exit code 2;
and the pure pieces of the https-* scenarios (which pairs make rows, URLs, the servers'
command lines and configuration, the certificate, the HTTPS readiness probe)."""

import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

import support  # noqa: F401  (sets the import path)
import catalog
import cli
import procs
import servers
import workspace

RUN = os.path.join(support.BENCH_DIR, "run")


def run_harness(*args):
    done = subprocess.run([sys.executable, RUN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=60, text=True)
    return done.returncode, done.stdout, done.stderr


class Defaults(unittest.TestCase):
    def test_full_run_covers_everything(self):
        o = cli.parse([])
        self.assertEqual(o.scenarios, list(catalog.SCENARIO_NAMES))
        self.assertEqual(o.servers, list(catalog.SERVER_NAMES))
        self.assertEqual(o.connections, [64, 256])
        self.assertEqual(o.runs, 3)
        self.assertEqual(o.duration, 10)
        self.assertEqual(o.mode, "1core")
        self.assertFalse(o.ignore_load)
        self.assertEqual(o.max_load, 0.5)

    def test_quick_is_one_short_run_at_64(self):
        o = cli.parse(["--quick"])
        self.assertEqual((o.runs, o.duration, o.connections), (1, 3, [64]))

    def test_explicit_values_beat_quick(self):
        o = cli.parse(["--quick", "--runs", "5", "--duration", "7", "--connections", "256"])
        self.assertEqual((o.runs, o.duration, o.connections), (5, 7, [256]))

    def test_repeated_and_comma_separated_names_keep_order_without_duplicates(self):
        o = cli.parse(["--scenario", "json", "--scenario", "hello,json", "--connections", "256",
                       "--connections", "64", "--connections", "256"])
        self.assertEqual(o.scenarios, ["json", "hello"])
        self.assertEqual(o.connections, [256, 64])

    def test_all_selects_every_scenario(self):
        self.assertEqual(cli.parse(["--scenario", "all"]).scenarios, list(catalog.SCENARIO_NAMES))

    def test_force_and_ignore_load_are_the_same(self):
        self.assertTrue(cli.parse(["--force"]).ignore_load)
        self.assertTrue(cli.parse(["--ignore-load"]).ignore_load)

    def test_mode_and_binaries(self):
        o = cli.parse(["--mode", "all", "--nginx", "/opt/nginx", "--torus-arg=--no-pin"])
        self.assertEqual(o.mode, "all")
        self.assertEqual(o.binaries["nginx"], "/opt/nginx")
        self.assertEqual(o.torus_args, ["--no-pin"])


class BadInput(unittest.TestCase):
    def assertUsageError(self, argv, *words):
        with self.assertRaises(cli.UsageError) as caught:
            cli.parse(argv)
        message = str(caught.exception)
        self.assertNotIn("\n", message)
        for word in words:
            self.assertIn(word, message)

    def test_unknown_scenario_is_named(self):
        self.assertUsageError(["--scenario", "hello,nope"], "unknown scenario 'nope'", "hello")

    def test_unknown_server_is_named(self):
        self.assertUsageError(["--server", "apache"], "unknown server 'apache'")

    def test_bad_numbers(self):
        self.assertUsageError(["--duration", "0"], "--duration")
        self.assertUsageError(["--connections", "many"], "--connections", "many")
        self.assertUsageError(["--runs", "-1"], "--runs")
        self.assertUsageError(["--max-load", "x"], "--max-load")

    def test_bad_mode_and_unknown_flag(self):
        self.assertUsageError(["--mode", "3core"], "--mode", "3core")
        self.assertUsageError(["--frobnicate"], "--frobnicate")

    def test_abbreviations_are_refused(self):
        self.assertUsageError(["--scen", "hello"], "--scen")


class RequiredBinaries(unittest.TestCase):
    def test_hello_on_peers_needs_wrk_nginx_fpm_php(self):
        o = cli.parse(["--scenario", "hello"])
        names = [name for name, _ in cli.required_binaries(o)]
        self.assertEqual(names, ["wrk", "nginx", "php_fpm", "php", "php_cli"])

    def test_php_cli_loop_only_where_the_work_is_all_php(self):
        self.assertTrue(catalog.server_runs_scenario("php-cli", "template"))
        self.assertTrue(catalog.server_runs_scenario("php-cli", "sqlite-read"))
        self.assertFalse(catalog.server_runs_scenario("php-cli", "static-file"))
        self.assertFalse(catalog.server_runs_scenario("php-cli", "cpu-mix"))
        self.assertFalse(catalog.server_runs_scenario("php-cli", "https-hello"))
        o = cli.parse(["--scenario", "static-file"])
        self.assertNotIn("php_cli", [name for name, _ in cli.required_binaries(o)])

    def test_http2_needs_h2load_not_wrk(self):
        o = cli.parse(["--server", "torus-worker", "--scenario", "h2-hello"])
        self.assertEqual([name for name, _ in cli.required_binaries(o)], ["h2load", "openssl"])
        o = cli.parse(["--server", "torus-worker", "--scenario", "h2-hello,hello"])
        self.assertEqual([name for name, _ in cli.required_binaries(o)], ["wrk", "h2load", "openssl"])

    def test_torus_is_never_required(self):
        o = cli.parse(["--server", "torus-classic", "--scenario", "json"])
        self.assertEqual([name for name, _ in cli.required_binaries(o)], ["wrk"])

    def test_mariadb_scenarios_need_the_database(self):
        o = cli.parse(["--server", "php-server", "--scenario", "mariadb-read"])
        names = [name for name, _ in cli.required_binaries(o)]
        for name in ("mariadbd", "mariadb_install_db", "mariadb", "php"):
            self.assertIn(name, names)

    def test_missing_binary_message_names_it(self):
        o = cli.parse(["--server", "nginx-static", "--nginx", "/nonexistent/nginx", "--wrk", sys.executable,
                       "--php", sys.executable])
        message = cli.missing_binary(o)
        self.assertIn("/nonexistent/nginx", message)
        self.assertIn("--nginx", message)


class HttpsScenarios(unittest.TestCase):
    def test_catalog(self):
        for name in ("https-hello", "https-new-conn"):
            s = catalog.scenario(name)
            self.assertTrue(s.tls)
            self.assertEqual(s.path, "/hello.php")
            self.assertIn("tls", s.needs)
            self.assertTrue(s.static_copy)
        self.assertEqual(catalog.scenario("https-hello").scripts, ("get.lua", "hello.js"))
        self.assertEqual(catalog.scenario("https-new-conn").scripts, ("connection-close.lua", "https-new-conn.js"))
        self.assertFalse(any(catalog.scenario(n).tls for n in ("hello", "json", "idle-10k", "cpu-mix")))

    def test_scripts_exist(self):
        for s in catalog.SCENARIOS:
            if s.kind == "memory" or s.http2_streams:  # bench/lib/memory.py's client; h2load
                self.assertEqual(s.scripts, ("", ""))
                continue
            wrk, k6 = s.scripts
            self.assertTrue(os.path.isfile(os.path.join(support.BENCH_DIR, "wrk", wrk)), wrk)
            self.assertTrue(os.path.isfile(os.path.join(support.BENCH_DIR, "k6", k6)), k6)

    def test_connection_close_script(self):
        with open(os.path.join(support.BENCH_DIR, "wrk", "connection-close.lua")) as f:
            text = f.read()
        self.assertIn('wrk.headers["Connection"] = "close"', text)
        self.assertIn('dofile(here .. "report.lua")', text)

    def test_php_server_has_no_https_rows_the_others_have(self):
        for name in ("https-hello", "https-new-conn"):
            self.assertFalse(catalog.server_runs_scenario("php-server", name))
            for server in ("torus-classic", "torus-worker", "nginx-static", "nginx-fpm"):
                self.assertTrue(catalog.server_runs_scenario(server, name), (server, name))
        self.assertTrue(catalog.server_runs_scenario("php-server", "hello"))
        self.assertFalse(catalog.server_runs_scenario("nginx-static", "sqlite-read"))

    def test_base_url(self):
        self.assertEqual(catalog.base_url(8080), "http://127.0.0.1:8080")
        self.assertEqual(catalog.base_url(8443, tls=True), "https://127.0.0.1:8443")

    def test_parse_and_all(self):
        o = cli.parse(["--scenario", "https-hello,https-new-conn"])
        self.assertEqual(o.scenarios, ["https-hello", "https-new-conn"])
        self.assertIn("https-new-conn", cli.parse(["--scenario", "all"]).scenarios)
        self.assertEqual(cli.parse(["--openssl", "/opt/openssl"]).binaries["openssl"], "/opt/openssl")

    def test_https_needs_openssl_and_not_php_server_binaries(self):
        o = cli.parse(["--scenario", "https-hello", "--server", "torus-worker,php-server", "--php", "/nope/php"])
        self.assertEqual([name for name, _ in cli.required_binaries(o)], ["wrk", "openssl"])
        o = cli.parse(["--scenario", "hello"])
        self.assertNotIn("openssl", [name for name, _ in cli.required_binaries(o)])

    def test_missing_openssl_message(self):
        o = cli.parse(["--scenario", "https-new-conn", "--server", "torus-worker", "--wrk", sys.executable,
                       "--openssl", "/nonexistent/openssl"])
        message = cli.missing_binary(o)
        self.assertNotIn("\n", message)
        self.assertIn("/nonexistent/openssl", message)
        self.assertIn("--openssl", message)


class HttpsServerConfig(unittest.TestCase):
    def test_torus_plain(self):
        argv = servers.torus_argv("/b/torus", 8080, "/d", "1core")
        self.assertEqual(argv[:7], ["/b/torus", "--listen", "127.0.0.1:8080", "--root", "/d", "--threads", "1"])
        self.assertNotIn("--tls-listen", argv)
        self.assertNotIn("--worker", argv)
        self.assertIn("opcache.validate_timestamps=0", argv)

    def test_torus_tls_listens_for_https_only(self):
        argv = servers.torus_argv("/b/torus", 8443, "/d", "all", worker="/d/worker.php",
                                  tls=("/c/cert.pem", "/c/key.pem"), extra=["--no-pin"])
        self.assertNotIn("--listen", argv)
        self.assertEqual(argv[1:7], ["--tls-listen", "127.0.0.1:8443", "--tls-cert", "/c/cert.pem",
                                     "--tls-key", "/c/key.pem"])
        self.assertEqual(argv[argv.index("--threads") + 1], "auto")
        self.assertEqual(argv[argv.index("--worker") + 1], "/d/worker.php")
        self.assertEqual(argv[-1], "--no-pin")

    def test_nginx_listen(self):
        self.assertEqual(servers.nginx_listen(8080), "listen 127.0.0.1:8080 backlog=4096;")
        lines = [line.strip() for line in servers.nginx_listen(8443, ("/c/cert.pem", "/c/key.pem")).splitlines()]
        self.assertEqual(lines, ["listen 127.0.0.1:8443 ssl backlog=4096;", "ssl_certificate /c/cert.pem;",
                                 "ssl_certificate_key /c/key.pem;", "ssl_protocols TLSv1.2 TLSv1.3;"])

    def test_nginx_conf_renders_tls(self):
        conf = servers._fill(servers._read_conf("nginx-common.conf.in"), {
            "USER_LINE": "", "WORKERS": 1, "NOFILE": 4096, "WORKER_CONNECTIONS": 3840, "PREFIX": "/p",
            "LISTEN": servers.nginx_listen(8443, ("/c/cert.pem", "/c/key.pem")), "DOCROOT": "/d", "HTTP_EXTRA": "",
            "LOCATIONS": servers._fill(servers._read_conf("nginx-static.locations.in"), {"PRERENDERED": "/r"}),
        })
        self.assertIn("        listen 127.0.0.1:8443 ssl backlog=4096;\n        ssl_certificate /c/cert.pem;\n", conf)
        self.assertIn("ssl_protocols TLSv1.2 TLSv1.3;", conf)
        self.assertNotIn("ssl_session", conf)  # nginx's defaults
        directives = "\n".join(line for line in conf.splitlines() if not line.lstrip().startswith("#"))
        self.assertNotRegex(directives, r"@[A-Z_]+@")
        self.assertIn('return 200 "Hello, world!";', conf)

    def test_fpm_passes_https(self):
        self.assertIn("fastcgi_param HTTPS $https if_not_empty;", servers._read_conf("nginx-fpm.locations.in"))

    def test_probe_request(self):
        self.assertEqual(servers.probe_request(catalog.scenario("https-new-conn")),
                         ("GET", None, {"Connection": "close"}))
        self.assertEqual(servers.probe_request(catalog.scenario("https-hello")), ("GET", None, {}))

    def test_tls_note(self):
        self.assertEqual(servers.tls_note("TLSv1.3", "TLS_AES_256_GCM_SHA384", True),
                         "TLSv1.3 TLS_AES_256_GCM_SHA384, resumes TLS sessions")
        self.assertIn("no TLS session resumption", servers.tls_note("TLSv1.3", "X", False))

    def test_certificate_argv(self):
        argv = workspace.certificate_argv("/usr/bin/openssl", "/w/cert.pem", "/w/key.pem")
        self.assertEqual(argv[:5], ["/usr/bin/openssl", "req", "-x509", "-newkey", "ec"])
        for flag, value in (("-pkeyopt", "ec_paramgen_curve:P-256"), ("-days", "2"), ("-subj", "/CN=localhost"),
                            ("-keyout", "/w/key.pem"), ("-out", "/w/cert.pem")):
            self.assertEqual(argv[argv.index(flag) + 1], value)
        self.assertIn("-nodes", argv)


class _Hello(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = b"Hello, world!"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@unittest.skipUnless(shutil.which("openssl"), "openssl is not installed")
class HttpsProbe(unittest.TestCase):
    """The certificate the harness makes, and its readiness probe over HTTPS, against a
    small TLS server of Python's own on 127.0.0.1."""

    @classmethod
    def setUpClass(cls):
        import ssl
        cls.tmp = tempfile.mkdtemp(prefix="bench-test-tls-")
        cls.cert = os.path.join(cls.tmp, "cert.pem")
        cls.key = os.path.join(cls.tmp, "key.pem")
        workspace.make_certificate(shutil.which("openssl"), cls.cert, cls.key)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cls.cert, cls.key)
        cls.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
        cls.httpd.socket = context.wrap_socket(cls.httpd.socket, server_side=True)
        cls.thread = threading.Thread(target=cls.httpd.serve_forever, daemon=True)
        cls.thread.start()

    @classmethod
    def tearDownClass(cls):
        cls.httpd.shutdown()
        cls.httpd.server_close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_certificate(self):
        self.assertEqual(os.stat(self.key).st_mode & 0o777, 0o600)
        done = subprocess.run(["openssl", "x509", "-in", self.cert, "-noout", "-subject", "-text"],
                              stdout=subprocess.PIPE, text=True, timeout=30)
        self.assertIn("CN = localhost", done.stdout)
        self.assertIn("P-256", done.stdout)

    def test_probe_over_https_skips_verification(self):
        port = self.httpd.server_address[1]
        self.assertEqual(procs.http_request(port, "/hello.php", tls=True), (200, b"Hello, world!"))

    def test_plain_probe_fails_on_https(self):
        port = self.httpd.server_address[1]
        with self.assertRaises(Exception):
            procs.http_request(port, "/hello.php", timeout=2.0)

    def test_tls_facts(self):
        protocol, cipher, resumed = procs.tls_facts(self.httpd.server_address[1], "/hello.php")
        self.assertEqual(protocol, "TLSv1.3")
        self.assertTrue(cipher.startswith("TLS_"))
        self.assertIn(resumed, (True, False))


class CommandLine(unittest.TestCase):
    """The real bench/run: errors come before any measuring, as one line, with exit code 2."""

    def test_unknown_scenario_exits_2_with_one_line(self):
        rc, out, err = run_harness("--scenario", "nope")
        self.assertEqual(rc, 2)
        self.assertEqual(out, "")
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("unknown scenario 'nope'", err)

    def test_missing_peer_binary_exits_2_naming_it(self):
        rc, out, err = run_harness("--quick", "--scenario", "hello", "--server", "nginx-fpm",
                                   "--php-fpm", "/nonexistent/php-fpm8.2", "--nginx", sys.executable,
                                   "--wrk", sys.executable, "--force")
        self.assertEqual(rc, 2)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("/nonexistent/php-fpm8.2", err)

    def test_list(self):
        rc, out, _ = run_harness("--list")
        self.assertEqual(rc, 0)
        for name in catalog.SCENARIO_NAMES + catalog.SERVER_NAMES:
            self.assertIn(name, out)
        self.assertIn("https-new-conn", out)
        php_server = [line for line in out.splitlines() if "php-server" in line]
        self.assertIn("no HTTPS", php_server[0])

    def test_missing_openssl_exits_2_naming_it(self):
        rc, out, err = run_harness("--scenario", "https-hello", "--server", "torus-worker", "--wrk", sys.executable,
                                   "--openssl", "/nonexistent/openssl", "--force")
        self.assertEqual(rc, 2)
        self.assertEqual(out, "")
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("/nonexistent/openssl", err)

    def test_busy_machine_is_refused_without_force(self):
        # --max-load 0 refuses as soon as the load average is above zero; skip the
        # rare moment it is exactly 0.00.
        if os.getloadavg()[0] == 0:
            self.skipTest("load average is exactly 0")
        rc, _, err = run_harness("--scenario", "hello", "--server", "php-server", "--php", sys.executable,
                                 "--wrk", sys.executable, "--max-load", "0")
        self.assertEqual(rc, 3)
        self.assertIn("--force", err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)


if __name__ == "__main__":
    support.main(__name__)
