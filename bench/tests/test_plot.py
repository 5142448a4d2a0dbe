"""bench/run --plot: a tiny result set drawn by the real gnuplot into SVG and
PNG files that parse, with one bar per server and scenario and the p99
labels; memory rows and rows without numbers left out; a bad extension and a
missing gnuplot refused with one line."""

import os
import shutil
import struct
import tempfile
import unittest
import xml.etree.ElementTree as ET

import support  # noqa: F401
import cli
import plot
import stats


def tiny_rows():
    rows = [
        stats.Row("torus-worker", "hello", 64, rps=110000.0, p50_ms=0.45, p99_ms=2.1, errors=0),
        stats.Row("nginx-fpm", "hello", 64, rps=7000.0, p50_ms=9.0, p99_ms=16.0, errors=0),
        stats.Row("nginx-static", "hello", 64, rps=100000.0, p50_ms=0.3, p99_ms=1.2, errors=0),
        stats.Row("torus-worker", "template", 64, rps=30000.0, p50_ms=2.0, p99_ms=4.5, errors=0),
        stats.Row("nginx-fpm", "template", 64, rps=5000.0, p50_ms=12.0, p99_ms=20.0, errors=0),
        stats.Row("torus-classic", "template", 64, failure="build/torus not built"),
        stats.Row("torus-worker", "upload-400m", 64, kind="memory", rss_growth=4 << 20),
    ]
    return stats.fill_ratios(rows)


@unittest.skipUnless(shutil.which("gnuplot"), "gnuplot missing: apt-get install gnuplot-nox")
class Drawing(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="torus-plot-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def test_svg_has_a_bar_per_server_and_scenario(self):
        out = plot.render(tiny_rows(), os.path.join(self.dir, "bench.svg"), title="tiny")
        root = ET.parse(out).getroot()  # a valid XML document
        self.assertTrue(root.tag.endswith("svg"))
        text = open(out).read()
        for label in ("hello", "template", "p99 2.1 ms", "p99 16 ms", "p99 4.5 ms"):
            self.assertIn(label, text)
        self.assertNotIn("upload-400m", text)
        with open(out + ".dat") as f:
            data = f.read().splitlines()
        self.assertEqual(len(data), 3)  # header, hello, template
        self.assertTrue(data[2].startswith('"template"'))
        self.assertEqual(data[2].split()[1:3], ["30000.0", "4.500"])
        self.assertIn("-", data[2].split())  # nginx static has no template row

    def test_png_is_a_png(self):
        out = plot.render(tiny_rows(), os.path.join(self.dir, "bench.png"))
        with open(out, "rb") as f:
            head = f.read(24)
        self.assertEqual(head[:8], b"\x89PNG\r\n\x1a\n")
        width, height = struct.unpack(">II", head[16:24])
        self.assertEqual((width, height), (1000, 520))

    def test_nothing_to_draw(self):
        rows = [stats.Row("torus-worker", "hello", 64, failure="not built")]
        with self.assertRaises(plot.PlotError):
            plot.render(rows, os.path.join(self.dir, "empty.svg"))


class Refusals(unittest.TestCase):
    def test_extension(self):
        with self.assertRaises(cli.UsageError) as e:
            cli.parse(["--plot", "out.pdf"])
        self.assertIn(".svg or .png", str(e.exception))
        self.assertEqual(cli.parse(["--plot", "x.SVG"]).plot, "x.SVG")

    def test_missing_gnuplot(self):
        with self.assertRaises(plot.PlotError) as e:
            plot.render(tiny_rows(), "/tmp/never.svg", gnuplot="/nonexistent/gnuplot")
        self.assertIn("gnuplot not found", str(e.exception))


if __name__ == "__main__":
    support.main(__name__)
