"""Reading h2load's output (a captured sample in bench/tests/data/) into a RunResult."""

import unittest

import support  # noqa: I001 (sets the import path first)
import h2load_output
import wrk_output


class Summary(unittest.TestCase):
    def test_counts_rate_and_times(self):
        r = h2load_output.parse(support.data("h2load-torus-hello.txt"))
        self.assertEqual(r.requests, 115145)
        self.assertAlmostEqual(r.duration_s, 5.0)
        self.assertAlmostEqual(r.rps, 115145 / 5.0)
        self.assertEqual(r.bytes, 16305964)
        self.assertAlmostEqual(r.mean_ms, 1.34)
        self.assertAlmostEqual(r.max_ms, 20.25)
        self.assertIsNone(r.p99_ms)  # h2load prints no percentiles

    def test_failures_are_errors(self):
        r = h2load_output.parse(support.data("h2load-torus-hello.txt"))
        self.assertEqual(r.status_errors, 37)
        self.assertEqual(r.read_errors, 5)
        self.assertEqual(r.timeout_errors, 3)
        self.assertEqual(r.errors(), 45)

    def test_microseconds_and_seconds(self):
        text = support.data("h2load-torus-hello.txt").replace("1.34ms", "880us").replace("20.25ms", "1.5s")
        r = h2load_output.parse(text)
        self.assertAlmostEqual(r.mean_ms, 0.88)
        self.assertAlmostEqual(r.max_ms, 1500.0)

    def test_no_summary(self):
        with self.assertRaises(wrk_output.WrkOutputError):
            h2load_output.parse("starting benchmark...\nconnect: Connection refused\n")


if __name__ == "__main__":
    support.main(__name__)
