"""bench/targets: the target lines it prints from the rows of its bench/run steps."""

import importlib.machinery
import importlib.util
import os
import unittest

import support

_loader = importlib.machinery.SourceFileLoader("targets", os.path.join(support.BENCH_DIR, "targets"))
_spec = importlib.util.spec_from_loader("targets", _loader)
targets = importlib.util.module_from_spec(_spec)
_loader.exec_module(targets)


def row(rps, p99=None, failure=None):
    return {"rps": rps, "p99_ms": p99, "failure": failure}


class Report(unittest.TestCase):
    def setUp(self):
        self.results = {
            "1core": {("hello", "torus-worker"): row(90000.0), ("hello", "nginx-static"): row(60000.0),
                      ("hello", "torus-classic"): row(40000.0), ("hello", "nginx-fpm"): row(5000.0),
                      ("cpu-mix", "torus-worker"): row(42000.0, 6.5),
                      ("cpu-mix", "nginx-fpm"): row(6000.0, 16.8),
                      ("template", "torus-worker"): row(20000.0), ("template", "php-cli"): row(25000.0)},
            "1exec": {("hello", "torus-worker"): row(100000.0)},
            "2core": {("hello", "torus-worker"): row(171000.0), ("hello", "nginx-static"): row(100000.0)},
        }
        self.lines = {line.split(" | ")[0].lstrip("| "): line for line in targets.report(self.results)}

    def figure(self, target):
        return self.lines[target].split(" | ")[1]

    def test_same_run_ratios(self):
        self.assertEqual(self.figure("worker hello / nginx static"), "1.50x")
        self.assertEqual(self.figure("classic hello / nginx + php-fpm"), "8.00x")
        self.assertEqual(self.figure("2 cores: worker hello / nginx static"), "1.71x")
        self.assertEqual(self.figure("worker template / the same code in a php CLI loop"), "0.80x")

    def test_ratios_across_steps(self):
        self.assertEqual(self.figure("4 executors / 1 executor, hello"), "0.90x")
        self.assertEqual(self.figure("worker hello, 2 cores / 1 core"), "1.90x")

    def test_cpu_mix(self):
        self.assertEqual(self.figure("cpu-mix, 4 executors / nginx + php-fpm"), "7.00x")
        self.assertEqual(self.figure("cpu-mix p99, 4 executors against php-fpm"), "6.5 ms against 16.8 ms")

    def test_missing_or_failed_rows_are_not_available(self):
        self.results["1core"][("hello", "nginx-static")] = row(60000.0, failure="server died")
        lines = targets.report(self.results)
        self.assertIn("| worker hello / nginx static | n/a | >= 1.25x |", lines)
        self.assertIn("| 4 executors / 1 executor, json | n/a | >= 0.95x |", lines)
        self.assertIn("| h2-hello (64 x 16 streams), worker / nginx static | n/a | >= 1.0x |", lines)


if __name__ == "__main__":
    support.main(__name__)
