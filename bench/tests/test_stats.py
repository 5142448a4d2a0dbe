"""Medians, ratios and how a row's runs become one line of the table."""

import unittest

import support  # noqa: F401
import stats
from wrk_output import RunResult


def run(rps, p50, p99, errors=0, read_errors=0):
    # duration 1 s, so requests == requests/s
    return RunResult(requests=rps, duration_s=1.0, p50_ms=p50, p99_ms=p99, status_errors=errors,
                     read_errors=read_errors)


class Median(unittest.TestCase):
    def test_odd_count_is_the_middle_value(self):
        self.assertEqual(stats.median([3, 1, 2]), 2)
        self.assertEqual(stats.median([10.5]), 10.5)

    def test_even_count_is_the_mean_of_the_middle_two(self):
        self.assertEqual(stats.median([4, 1, 3, 2]), 2.5)

    def test_none_is_ignored_and_nothing_gives_none(self):
        self.assertEqual(stats.median([None, 5, None, 7, 6]), 6)
        self.assertIsNone(stats.median([]))
        self.assertIsNone(stats.median([None, None]))

    def test_an_outlier_does_not_move_it(self):
        self.assertEqual(stats.median([100, 101, 1]), 100)


class Ratio(unittest.TestCase):
    def test_plain(self):
        self.assertAlmostEqual(stats.ratio(150, 100), 1.5)

    def test_missing_or_zero_reference(self):
        self.assertIsNone(stats.ratio(150, None))
        self.assertIsNone(stats.ratio(None, 100))
        self.assertIsNone(stats.ratio(150, 0))


class Summarize(unittest.TestCase):
    def test_medians_per_column_sum_of_errors_peak_rss(self):
        row = stats.Row("nginx-fpm", "hello", 64, runs=[run(900, 1.0, 9.0, 1), run(1100, 3.0, 5.0),
                                                         run(1000, 2.0, 7.0, 2)])
        stats.summarize(row, peak_rss_per_run=[10, 30, 20])
        self.assertAlmostEqual(row.rps, 1000)
        self.assertAlmostEqual(row.p50_ms, 2.0)
        self.assertAlmostEqual(row.p99_ms, 7.0)
        self.assertEqual(row.errors, 3)
        self.assertEqual(row.peak_rss, 30)
        self.assertTrue(row.ok)
        self.assertEqual(row.notes, [])

    def test_a_failed_run_is_left_out_and_noted(self):
        row = stats.Row("torus-worker", "json", 256, runs=[run(500, 1.0, 2.0), None, run(700, 1.0, 2.0)])
        stats.summarize(row, peak_rss_per_run=[5, None, 6])
        self.assertAlmostEqual(row.rps, 600)
        self.assertEqual(row.peak_rss, 6)
        self.assertIn("1 of 3 runs failed", row.notes)

    def test_no_result_means_no_numbers(self):
        row = stats.Row("torus-classic", "hello", 64, runs=[None])
        stats.summarize(row)
        self.assertFalse(row.ok)
        self.assertIsNone(row.rps)
        self.assertIsNone(row.errors)
        self.assertEqual(row.failure, "no run produced a result")

    def test_an_earlier_failure_reason_is_kept(self):
        row = stats.Row("torus-classic", "hello", 64, failure="build/torus not built")
        stats.summarize(row)
        self.assertEqual(row.failure, "build/torus not built")

    def test_read_errors_can_be_left_out(self):
        row = stats.Row("php-server", "hello", 64, runs=[run(100, 1.0, 2.0, errors=1, read_errors=100)])
        stats.summarize(row, count_read_errors=False)
        self.assertEqual(row.errors, 1)
        row = stats.Row("php-server", "hello", 64, runs=[run(100, 1.0, 2.0, errors=1, read_errors=100)])
        stats.summarize(row)
        self.assertEqual(row.errors, 101)


class FillRatios(unittest.TestCase):
    def rows(self):
        rows = [
            stats.Row("nginx-static", "hello", 64, rps=100000.0),
            stats.Row("nginx-fpm", "hello", 64, rps=10000.0),
            stats.Row("torus-worker", "hello", 64, rps=50000.0),
            stats.Row("torus-worker", "hello", 256, rps=40000.0),
            stats.Row("nginx-fpm", "hello", 256, rps=8000.0),
            stats.Row("torus-classic", "hello", 64, failure="not built"),
            stats.Row("torus-worker", "sqlite-read", 64, rps=3000.0),
        ]
        return {(r.server, r.scenario, r.connections): r for r in stats.fill_ratios(rows)}

    def test_against_the_same_scenario_and_connection_count(self):
        rows = self.rows()
        torus = rows[("torus-worker", "hello", 64)]
        self.assertAlmostEqual(torus.ratio_fpm, 5.0)
        self.assertAlmostEqual(torus.ratio_static, 0.5)
        self.assertAlmostEqual(rows[("torus-worker", "hello", 256)].ratio_fpm, 5.0)

    def test_references_compare_with_themselves(self):
        rows = self.rows()
        self.assertAlmostEqual(rows[("nginx-fpm", "hello", 64)].ratio_fpm, 1.0)
        self.assertAlmostEqual(rows[("nginx-static", "hello", 64)].ratio_static, 1.0)

    def test_missing_reference_or_value_gives_none(self):
        rows = self.rows()
        self.assertIsNone(rows[("torus-worker", "hello", 256)].ratio_static)  # no static row at 256
        self.assertIsNone(rows[("torus-worker", "sqlite-read", 64)].ratio_fpm)
        self.assertIsNone(rows[("torus-classic", "hello", 64)].ratio_fpm)

    def test_https_rows_compare_with_nginx_static_over_https(self):
        rows = {(r.server, r.scenario, r.connections): r for r in stats.fill_ratios([
            stats.Row("nginx-static", "hello", 64, rps=160000.0),
            stats.Row("nginx-static", "https-hello", 64, rps=120000.0),
            stats.Row("torus-worker", "https-hello", 64, rps=96000.0),
            stats.Row("nginx-static", "https-new-conn", 64, rps=4000.0),
            stats.Row("torus-worker", "https-new-conn", 64, rps=4400.0),
        ])}
        self.assertAlmostEqual(rows[("torus-worker", "https-hello", 64)].ratio_static, 0.8)
        self.assertAlmostEqual(rows[("torus-worker", "https-new-conn", 64)].ratio_static, 1.1)
        self.assertIsNone(rows[("torus-worker", "https-hello", 64)].ratio_fpm)  # no nginx-fpm row


if __name__ == "__main__":
    support.main(__name__)
