"""Shared by bench/tests/test_*.py: the import path and a runner that ends
with the "N passed, M failed" line CTest's log shows. Each test file runs
as a standalone program: exit 0 when every test passed, 1 otherwise."""

import os
import sys
import unittest

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
BENCH_DIR = os.path.dirname(TESTS_DIR)
DATA_DIR = os.path.join(TESTS_DIR, "data")
sys.path.insert(0, os.path.join(BENCH_DIR, "lib"))


def data(name):
    with open(os.path.join(DATA_DIR, name)) as f:
        return f.read()


def main(module_name):
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[module_name])
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors)
    passed = result.testsRun - failed - len(result.skipped)
    skipped = f", {len(result.skipped)} skipped" if result.skipped else ""
    print(f"{passed} passed, {failed} failed{skipped}")
    sys.exit(0 if failed == 0 and result.testsRun > 0 else 1)
