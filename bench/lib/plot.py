"""bench/run --plot FILE: the measured rows as a picture, drawn by gnuplot.

One group of bars per scenario (and connection count, when several were
measured), one bar per server in the catalog's order: the median requests/s.
Above each bar its p99 latency is written ("p99 2.1 ms"), so the fast bar
with a long tail shows as such. Memory rows (no requests/s) and rows without
numbers are left out; a scenario left with no bar is not drawn.

The picture's kind follows FILE's extension: .svg (gnuplot's svg terminal)
or .png (pngcairo). gnuplot comes from Debian's gnuplot-nox; the data file
and the script it ran are kept beside FILE (FILE.dat, FILE.gp), so a plot
can be redrawn or restyled by hand.
"""

import os
import shutil
import subprocess

import catalog
import table

TERMINALS = {
    ".svg": 'svg size 1000,520 dynamic background "white" font "sans,11"',
    ".png": 'pngcairo size 1000,520 background "white" font "sans,10"',
}


class PlotError(Exception):
    """One-line reason the plot could not be drawn."""


def check_path(path):
    """Raises PlotError when path's extension has no terminal."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in TERMINALS:
        raise PlotError(f"--plot {path}: the file must end in .svg or .png")


def _groups(rows):
    """[(group label, {server: row})] in the catalog's order, load rows with numbers only."""
    usable = [r for r in rows if r.kind != "memory" and r.ok and r.rps is not None]
    several_counts = len({r.connections for r in usable}) > 1
    groups = {}
    for r in sorted(usable, key=table._order):
        label = r.scenario + (f" ({r.variant})" if r.variant else "")
        if several_counts:
            label += f" c{r.connections}"
        groups.setdefault(label, {})[r.server] = r
    return list(groups.items())


def _servers(groups):
    present = {server for _, by_server in groups for server in by_server}
    return [s for s in catalog.SERVER_NAMES if s in present] + sorted(present - set(catalog.SERVER_NAMES))


def _quote(text):
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_data(rows, path):
    """Writes gnuplot's data file: a row per group, two columns (req/s, p99 ms) per server.
    Returns (groups, servers); a missing value is "-" (gnuplot leaves it out)."""
    groups = _groups(rows)
    servers = _servers(groups)
    with open(path, "w") as f:
        f.write("# group " + " ".join(f"{_quote(table._label(s))}_rps p99_ms" for s in servers) + "\n")
        for label, by_server in groups:
            cells = [_quote(label)]
            for server in servers:
                row = by_server.get(server)
                cells.append(f"{row.rps:.1f}" if row else "-")
                cells.append(f"{row.p99_ms:.3f}" if row and row.p99_ms is not None else "-")
            f.write(" ".join(cells) + "\n")
    return groups, servers


def script(data_path, out_path, servers, title):
    """The gnuplot script drawing data_path into out_path."""
    ext = os.path.splitext(out_path)[1].lower()
    n = len(servers)
    width = 0.8 / max(n, 1)
    lines = [
        f"set terminal {TERMINALS[ext]}",
        f"set output {_quote(out_path)}",
        f"set title {_quote(title)}",
        'set ylabel "requests/s (median)"',
        "set style data histograms",
        "set style histogram clustered gap 1",
        "set style fill solid 0.85 border -1",
        f"set boxwidth {0.9:.2f}",
        "set key outside right top vertical",
        "set grid ytics",
        "set yrange [0:*]",
        "set offsets 0, 0, graph 0.12, 0",
        "set xtics nomirror rotate by -20",
        'set format y "%.0s%c"',
        "set datafile missing '-'",
    ]
    plots = []
    for i, server in enumerate(servers):
        rps_col = 2 + 2 * i
        plots.append(f"{_quote(data_path)} using {rps_col}:xtic(1) title {_quote(table._label(server))}")
    # The p99 labels: x of bar i of group g is g + (i - (n-1)/2) * width in clustered histograms.
    for i in range(n):
        rps_col = 2 + 2 * i
        p99_col = rps_col + 1
        offset = (i - (n - 1) / 2.0) * width
        plots.append(f"{_quote(data_path)} using ($0 + {offset:.4f}):(${rps_col}):"
                     f"(sprintf(\"p99 %.2g ms\", ${p99_col})) with labels rotate by 90 left offset 0,0.4 "
                     "font \",8\" notitle")
    lines.append("plot " + ", \\\n     ".join(plots))
    return "\n".join(lines) + "\n"


def render(rows, out_path, gnuplot="gnuplot", title="bench/run"):
    """Draws rows into out_path (.svg or .png). Raises PlotError with a one-line reason."""
    check_path(out_path)
    exe = shutil.which(gnuplot) or (gnuplot if os.path.isfile(gnuplot) else None)
    if exe is None:
        raise PlotError(f"--plot: gnuplot not found ({gnuplot}): apt-get install gnuplot-nox "
                        "(tools/install-deps bench does)")
    out_path = os.path.abspath(out_path)
    data_path = out_path + ".dat"
    script_path = out_path + ".gp"
    groups, servers = write_data(rows, data_path)
    if not groups:
        raise PlotError("--plot: no row with requests/s to draw")
    with open(script_path, "w") as f:
        f.write(script(data_path, out_path, servers, title))
    done = subprocess.run([exe, script_path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    if done.returncode != 0 or not os.path.isfile(out_path) or os.path.getsize(out_path) == 0:
        message = done.stdout.decode(errors="replace").strip().splitlines()
        raise PlotError(f"--plot: gnuplot failed: {message[-1] if message else done.returncode}")
    return out_path
