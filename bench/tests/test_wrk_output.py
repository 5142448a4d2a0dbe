"""Reading wrk's output (captured samples in bench/tests/data/) into RunResults."""

import unittest

import support
import wrk_output


class MarkerLine(unittest.TestCase):
    def test_nginx_static_json(self):
        r = wrk_output.parse(support.data("wrk-nginx-static-json.txt"))
        self.assertEqual(r.requests, 330676)
        self.assertAlmostEqual(r.duration_s, 3.003954)
        self.assertAlmostEqual(r.rps, 330676 / 3.003954)
        self.assertAlmostEqual(r.p50_ms, 0.483)
        self.assertAlmostEqual(r.p90_ms, 0.674)
        self.assertAlmostEqual(r.p99_ms, 1.184)
        self.assertAlmostEqual(r.max_ms, 3.771)
        self.assertEqual(r.bytes, 156409748)
        self.assertEqual(r.errors(), 0)

    def test_non_2xx_are_errors(self):
        r = wrk_output.parse(support.data("wrk-non2xx.txt"))
        self.assertEqual(r.status_errors, 30548)
        self.assertEqual(r.errors(), 30548)

    def test_read_errors_of_a_server_that_closes_connections(self):
        r = wrk_output.parse(support.data("wrk-php-server-read-errors.txt"))
        self.assertEqual(r.read_errors, 40256)
        self.assertEqual(r.errors(), 40256)
        self.assertEqual(r.errors(count_read_errors=False), 0)

    def test_a_run_with_no_request(self):
        r = wrk_output.parse(support.data("wrk-timeouts.txt"))
        self.assertEqual(r.requests, 0)
        self.assertEqual(r.rps, 0.0)

    def test_the_marker_wins_over_the_text(self):
        text = support.data("wrk-nginx-static-json.txt").replace("Requests/sec: 110080.25", "Requests/sec: 1.00")
        self.assertEqual(wrk_output.parse(text).requests, 330676)

    def test_a_broken_marker_is_an_error(self):
        with self.assertRaises(wrk_output.WrkOutputError):
            wrk_output.parse('BENCH_RESULT {"requests": 1,')
        with self.assertRaises(wrk_output.WrkOutputError):
            wrk_output.parse('BENCH_RESULT {"requests": 1}')  # no duration


class PlainText(unittest.TestCase):
    def test_without_the_lua_script(self):
        r = wrk_output.parse(support.data("wrk-plain-no-lua.txt"))
        self.assertEqual(r.requests, 18867)
        self.assertAlmostEqual(r.rps, 6284.98, places=2)
        self.assertAlmostEqual(r.p50_ms, 9.83)
        self.assertAlmostEqual(r.p90_ms, 12.04)
        self.assertAlmostEqual(r.p99_ms, 16.13)
        self.assertAlmostEqual(r.mean_ms, 10.15)
        self.assertAlmostEqual(r.max_ms, 19.65)
        self.assertEqual(r.errors(), 0)

    def test_seconds_minutes_and_every_error_kind(self):
        r = wrk_output.parse(support.data("wrk-slow-crafted.txt"))
        self.assertEqual(r.requests, 240)
        self.assertAlmostEqual(r.rps, 24.0)
        self.assertAlmostEqual(r.p50_ms, 1100.0)
        self.assertAlmostEqual(r.p99_ms, 2000.0)
        self.assertAlmostEqual(r.max_ms, 61200.0)
        self.assertEqual((r.connect_errors, r.read_errors, r.write_errors, r.timeout_errors), (3, 1, 2, 17))
        self.assertEqual(r.status_errors, 5)
        self.assertEqual(r.errors(), 28)

    def test_units(self):
        self.assertAlmostEqual(wrk_output.parse_time_ms("331.00us"), 0.331)
        self.assertAlmostEqual(wrk_output.parse_time_ms("1.10ms"), 1.1)
        self.assertAlmostEqual(wrk_output.parse_time_ms("2s"), 2000.0)
        self.assertAlmostEqual(wrk_output.parse_time_ms("1.50m"), 90000.0)
        with self.assertRaises(wrk_output.WrkOutputError):
            wrk_output.parse_time_ms("fast")

    def test_not_wrk_output(self):
        for text in ("", "unable to connect to 127.0.0.1:1 Connection refused\n", "Requests/sec: 12\n"):
            with self.assertRaises(wrk_output.WrkOutputError):
                wrk_output.parse(text)


if __name__ == "__main__":
    support.main(__name__)
