"""bench/run's argument parsing: defaults, --quick, and one-line errors with exit code 2."""

import os
import subprocess
import sys
import unittest

import support  # noqa: F401  (sets the import path)
import catalog
import cli

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
        self.assertEqual(names, ["wrk", "nginx", "php_fpm", "php"])

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
