"""The markdown table bench/run prints and docs/PERFORMANCE.md carries.

One row per scenario (and variant) x connection count x server, in the
catalog's order. Columns are padded so the table reads as plain text too;
numbers are right aligned. A row without numbers shows "n/a" and its reason
in the notes; a missing reference makes its ratio "-". "RSS growth" is what
the idle connections (idle-*) or a memory scenario's client added to the
server's RSS; "-" for the other rows.
"""

import catalog

COLUMNS = (
    ("scenario", "left"),
    ("conns", "right"),
    ("server", "left"),
    ("req/s", "right"),
    ("p50 ms", "right"),
    ("p99 ms", "right"),
    ("errors", "right"),
    ("peak RSS", "right"),
    ("RSS growth", "right"),
    ("vs fpm", "right"),
    ("vs static", "right"),
    ("notes", "left"),
)

NOT_AVAILABLE = "n/a"
NO_REFERENCE = "-"


def format_rps(value):
    return NOT_AVAILABLE if value is None else f"{value:,.0f}"


def format_ms(value):
    if value is None:
        return NOT_AVAILABLE
    if value < 10:
        return f"{value:.2f}"
    if value < 100:
        return f"{value:.1f}"
    return f"{value:,.0f}"


def format_rss(value):
    return NOT_AVAILABLE if value is None else f"{value / 1048576:.1f} MiB"


def format_growth(value):
    """An RSS growth in MiB with its sign; "-" when the row has none."""
    return NO_REFERENCE if value is None else f"{value / 1048576:+.1f} MiB"


def format_ratio(value):
    return NO_REFERENCE if value is None else f"{value:.2f}x"


def format_count(value):
    return NOT_AVAILABLE if value is None else str(value)


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def _order(row):
    scenario = catalog.SCENARIO_NAMES.index(row.scenario) if row.scenario in catalog.SCENARIO_NAMES else 99
    server = catalog.SERVER_NAMES.index(row.server) if row.server in catalog.SERVER_NAMES else 99
    return (scenario, row.variant, row.connections, server)


def _label(server):
    try:
        return catalog.server_kind(server).label
    except KeyError:
        return server


def row_cells(row):
    """A memory row has no requests/s nor latency ("-" when measured); its errors are the
    runs whose data did not arrive intact."""
    notes = ([row.failure] if row.failure else []) + list(row.notes)
    no_load = row.kind == "memory" and row.ok
    return [
        row.scenario + (f" ({row.variant})" if row.variant else ""),
        str(row.connections),
        _label(row.server),
        NO_REFERENCE if no_load else format_rps(row.rps),
        NO_REFERENCE if no_load else format_ms(row.p50_ms),
        NO_REFERENCE if no_load else format_ms(row.p99_ms),
        format_count(row.errors),
        format_rss(row.peak_rss),
        format_growth(row.rss_growth),
        format_ratio(row.ratio_fpm) if row.ok else NO_REFERENCE,
        format_ratio(row.ratio_static) if row.ok else NO_REFERENCE,
        "; ".join(notes),
    ]


def render_table(rows):
    """The markdown table of rows, sorted, as one string ending in a newline."""
    body = [[_cell(c) for c in row_cells(r)] for r in sorted(rows, key=_order)]
    header = [name for name, _ in COLUMNS]
    widths = [max([len(header[i])] + [len(line[i]) for line in body]) for i in range(len(COLUMNS))]

    def line(cells):
        padded = []
        for i, text in enumerate(cells):
            align = COLUMNS[i][1]
            padded.append(text.rjust(widths[i]) if align == "right" else text.ljust(widths[i]))
        return ("| " + " | ".join(padded) + " |").rstrip()

    rule = []
    for i, (_, align) in enumerate(COLUMNS):
        rule.append("-" * (widths[i] - 1) + ":" if align == "right" else "-" * widths[i])
    out = [line(header), "| " + " | ".join(rule) + " |"]
    out.extend(line(cells) for cells in body)
    return "\n".join(out) + "\n"


def render_report(rows, title, facts):
    """A markdown section: a title, a bullet list of facts (label, text), then the table."""
    out = [f"## {title}", ""]
    out.extend(f"- {label}: {text}" for label, text in facts)
    out.append("")
    out.append(render_table(rows))
    return "\n".join(out)
