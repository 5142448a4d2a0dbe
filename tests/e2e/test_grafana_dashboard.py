"""The Grafana dashboard of examples/grafana (issue 19): every metric name its
PromQL expressions use is one the real server's /metrics exports, so the
dashboard cannot silently show "No data" after a metric is renamed; and the
Prometheus example scrapes /metrics.

The server runs with two shards and --admin-listen on 127.0.0.1 and serves
a few requests first, so every labelled series is there."""

import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torus_harness as h  # noqa: E402
from torus_harness import admin_get, wait_for  # noqa: E402

GRAFANA = os.path.join(h.SOURCE_DIR, "examples", "grafana")

METRIC_NAME = re.compile(r"\btorus_[a-zA-Z0-9_]+")


def dashboard_expressions():
    """Every `expr` of every panel and every query variable's query."""
    with open(os.path.join(GRAFANA, "torus.json")) as f:
        dashboard = json.load(f)
    exprs = []

    def walk(panels):
        for p in panels:
            exprs.extend(t["expr"] for t in p.get("targets", []) if t.get("expr"))
            walk(p.get("panels", []))  # panels inside collapsed rows

    walk(dashboard["panels"])
    for var in dashboard.get("templating", {}).get("list", []):
        query = var.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        if query:
            exprs.append(query)
    return dashboard, exprs


def exported_names(port):
    """The sample names /metrics exports (histogram parts included), and its TYPE lines."""
    text = admin_get(port, "/metrics").body.decode()
    samples, types = set(), {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
        elif line and not line.startswith("#"):
            samples.add(re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0))
    return samples, types


@h.torus_only("the admin listener")
class GrafanaDashboard(h.ServerTestCase):
    server_options = None

    def test_every_metric_the_dashboard_uses_is_exported(self):
        admin_port = h.free_port()
        srv = self.start_server(threads=2, admin_listen="127.0.0.1:%d" % admin_port)
        self.assertTrue(wait_for(lambda: h.can_connect(admin_port, 0.2), h.START_TIMEOUT))
        for _ in range(4):
            self.assertStatus(srv.get("/hello.txt"), 200)
        samples, types = exported_names(admin_port)

        dashboard, exprs = dashboard_expressions()
        self.assertGreaterEqual(len(exprs), 10)
        used = set()
        for expr in exprs:
            names = METRIC_NAME.findall(expr)
            self.assertTrue(names, "an expression that reads no torus metric: %r" % expr)
            used.update(names)
        missing = sorted(n for n in used if n not in samples)
        self.assertEqual(missing, [], "the dashboard uses names /metrics does not export")

        # rate()/increase() only on counters (and histogram parts), never on gauges.
        for expr in exprs:
            for fn, name in re.findall(r"\b(rate|increase)\((torus_[a-zA-Z0-9_]+)", expr):
                base = re.sub(r"_(bucket|sum|count)$", "", name)
                kind = types.get(name) or types.get(base)
                self.assertIn(kind, ("counter", "histogram"), "%s() of %s (%s)" % (fn, name, kind))

        # What the issue asks the dashboard to show.
        for needed in ("torus_shard_requests_total", "torus_request_duration_seconds_bucket",
                       "torus_connections_open", "torus_connections_idle", "torus_executors",
                       "torus_shard_crashes_total", "torus_shard_restarts_total",
                       "torus_queue_depth"):
            self.assertIn(needed, used)
        self.assertTrue(any("histogram_quantile" in e for e in exprs))
        titles = [p["title"] for p in dashboard["panels"]]
        self.assertEqual(len(titles), len(set(titles)))

    def test_prometheus_example_scrapes_metrics(self):
        with open(os.path.join(GRAFANA, "prometheus.yml")) as f:
            text = f.read()
        self.assertIn("scrape_configs:", text)
        self.assertRegex(text, r"metrics_path: /metrics\b")
        self.assertRegex(text, r"- 127\.0\.0\.1:\d+")


if __name__ == "__main__":
    h.main()
