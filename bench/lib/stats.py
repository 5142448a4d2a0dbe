"""Medians, ratios and the reduction of a row's runs to one line of the table.

A row is one server x scenario x connection count. Its runs are reduced as
follows: requests/s, p50 and p99 are each the median over the runs that
produced a result; errors are summed over every run; peak RSS is the largest
seen in any run. The ratios compare a row's median requests/s with the
nginx + php-fpm row and the nginx static row of the same scenario and
connection count.
"""

from dataclasses import dataclass, field

import catalog


def median(values):
    """The median of the numbers in values, None ignored; None when there are none."""
    numbers = sorted(v for v in values if v is not None)
    if not numbers:
        return None
    middle = len(numbers) // 2
    if len(numbers) % 2:
        return numbers[middle]
    return (numbers[middle - 1] + numbers[middle]) / 2


def ratio(value, reference):
    """value / reference, or None when either is missing or the reference is not positive."""
    if value is None or reference is None or reference <= 0:
        return None
    return value / reference


@dataclass
class Row:
    server: str
    scenario: str
    connections: int
    kind: str = "load"  # "memory": no requests/s, the figure is rss_growth (bench/lib/memory.py)
    variant: str = ""  # a memory scenario's variant ("flush", "no flush"), shown after its name
    runs: list = field(default_factory=list)  # RunResult, or None for a run that failed
    rps: float = None
    p50_ms: float = None
    p99_ms: float = None
    errors: int = None
    peak_rss: int = None  # bytes
    pss_after: int = None  # bytes, shared pages split between processes, after the last run
    rss_growth: int = None  # bytes: what the idle connections or the memory scenario's client added
    per_connection: int = None  # bytes: rss_growth per idle connection (idle scenarios)
    ratio_fpm: float = None
    ratio_static: float = None
    notes: list = field(default_factory=list)
    failure: str = None  # why the row has no numbers

    @property
    def ok(self):
        if self.kind == "memory":
            return self.failure is None and self.rss_growth is not None
        return self.failure is None and self.rps is not None

    def as_dict(self):
        d = dict(self.__dict__)
        d["runs"] = [r.as_dict() if r is not None else None for r in self.runs]
        return d


def summarize(row, peak_rss_per_run=(), count_read_errors=True):
    """Fills row's medians, error total and peak RSS from row.runs; returns row.

    A row whose runs all failed keeps no numbers and gets a failure reason,
    unless it already has one.
    """
    results = [r for r in row.runs if r is not None]
    if not results:
        row.rps = row.p50_ms = row.p99_ms = row.errors = None
        if row.failure is None:
            row.failure = "no run produced a result"
    else:
        row.rps = median(r.rps for r in results)
        row.p50_ms = median(r.p50_ms for r in results)
        row.p99_ms = median(r.p99_ms for r in results)
        row.errors = sum(r.errors(count_read_errors) for r in results)
        failed = len(row.runs) - len(results)
        if failed:
            row.notes.append(f"{failed} of {len(row.runs)} runs failed")
    peaks = [p for p in peak_rss_per_run if p is not None]
    row.peak_rss = max(peaks) if peaks else None
    return row


def fill_ratios(rows):
    """Sets ratio_fpm and ratio_static of every row from the reference rows."""
    by_key = {(r.server, r.scenario, r.connections): r for r in rows}
    for row in rows:
        fpm = by_key.get((catalog.REFERENCE_FPM, row.scenario, row.connections))
        static = by_key.get((catalog.REFERENCE_STATIC, row.scenario, row.connections))
        row.ratio_fpm = ratio(row.rps, fpm.rps) if fpm is not None else None
        row.ratio_static = ratio(row.rps, static.rps) if static is not None else None
    return rows
