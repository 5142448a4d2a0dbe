"""The markdown table: formatting, order, n/a rows and the report around it."""

import unittest

import support  # noqa: F401
import stats
import table


def sample_rows():
    rows = [
        stats.Row("php-server", "hello", 64, rps=13503.4, p50_ms=2.301, p99_ms=6.52, errors=0,
                  peak_rss=22544384, notes=["no keep-alive: 40763 wrk read errors not counted"]),
        stats.Row("nginx-fpm", "hello", 64, rps=9957.0, p50_ms=6.47, p99_ms=10.19, errors=0, peak_rss=123941273),
        stats.Row("torus-classic", "hello", 64, failure="build/torus not built (make build)"),
        stats.Row("nginx-static", "hello", 64, rps=94536.2, p50_ms=0.31, p99_ms=18.8, errors=2, peak_rss=19713228),
        stats.Row("nginx-fpm", "json", 64, rps=9643.0, p50_ms=6.48, p99_ms=123.4, errors=0, peak_rss=None),
        stats.Row("nginx-fpm", "hello", 256, rps=9000.0, p50_ms=25.0, p99_ms=40.0, errors=0, peak_rss=1048576),
    ]
    return stats.fill_ratios(rows)


class Formatting(unittest.TestCase):
    def test_numbers(self):
        self.assertEqual(table.format_rps(94536.2), "94,536")
        self.assertEqual(table.format_ms(0.305), "0.30")
        self.assertEqual(table.format_ms(18.84), "18.8")
        self.assertEqual(table.format_ms(1234.0), "1,234")
        self.assertEqual(table.format_rss(19713228), "18.8 MiB")
        self.assertEqual(table.format_ratio(9.4945), "9.49x")

    def test_missing_values(self):
        self.assertEqual(table.format_rps(None), "n/a")
        self.assertEqual(table.format_ms(None), "n/a")
        self.assertEqual(table.format_rss(None), "n/a")
        self.assertEqual(table.format_ratio(None), "-")


class Table(unittest.TestCase):
    def setUp(self):
        self.text = table.render_table(sample_rows())
        self.lines = self.text.splitlines()

    def test_header_and_rule(self):
        self.assertTrue(self.lines[0].startswith("| scenario | conns | server"))
        self.assertIn("req/s", self.lines[0])
        self.assertIn("vs fpm", self.lines[0])
        self.assertIn("vs static", self.lines[0])
        self.assertRegex(self.lines[1], r"^\| -+ \| -+: \| -+ \| -+: \|")
        self.assertEqual(len(self.lines), 2 + 6)

    def test_every_line_has_the_same_columns(self):
        counts = {line.count(" | ") for line in self.lines}
        self.assertEqual(len(counts), 1, self.text)

    def test_order_scenario_then_connections_then_server(self):
        order = [(cells[1].strip(), cells[2].strip(), cells[3].strip())
                 for cells in (line.split("|") for line in self.lines[2:])]
        self.assertEqual(order, [
            ("hello", "64", "torus classic"),
            ("hello", "64", "nginx static"),
            ("hello", "64", "nginx + php-fpm"),
            ("hello", "64", "php -S"),
            ("hello", "256", "nginx + php-fpm"),
            ("json", "64", "nginx + php-fpm"),
        ])

    def line_of(self, label, scenario="hello", conns="64"):
        for line in self.lines[2:]:
            cells = [c.strip() for c in line.split("|")]
            if cells[1] == scenario and cells[2] == conns and cells[3] == label:
                return cells
        self.fail(f"no row for {label}")

    def test_a_measured_row(self):
        cells = self.line_of("php -S")
        self.assertEqual(cells[4:12], ["13,503", "2.30", "6.52", "0", "21.5 MiB", "-", "1.36x", "0.14x"])
        self.assertIn("no keep-alive", cells[12])

    def test_a_failed_row_is_na_with_its_reason(self):
        cells = self.line_of("torus classic")
        self.assertEqual(cells[4:12], ["n/a", "n/a", "n/a", "n/a", "n/a", "-", "-", "-"])
        self.assertEqual(cells[12], "build/torus not built (make build)")

    def test_references(self):
        self.assertEqual(self.line_of("nginx + php-fpm")[10:12], ["1.00x", "0.11x"])
        self.assertEqual(self.line_of("nginx static")[10:12], ["9.49x", "1.00x"])
        self.assertEqual(self.line_of("nginx + php-fpm", conns="256")[10:12], ["1.00x", "-"])

    def test_pipes_in_notes_are_escaped(self):
        row = stats.Row("nginx-fpm", "hello", 64, failure="a | b")
        self.assertIn("a \\| b", table.render_table([row]))


class Report(unittest.TestCase):
    def test_title_facts_then_table(self):
        text = table.render_report(sample_rows(), "bench/run 2026-01-01 00:00", [("cpu", "Xeon"), ("mode", "1core")])
        lines = text.splitlines()
        self.assertEqual(lines[0], "## bench/run 2026-01-01 00:00")
        self.assertIn("- cpu: Xeon", lines)
        self.assertIn("- mode: 1core", lines)
        self.assertTrue(any(line.startswith("| scenario") for line in lines))


if __name__ == "__main__":
    support.main(__name__)
