"""bench/run: start each server, load it, reduce the runs to a table.

Order of work, per scenario (in the order given), per server (catalog
order): make the fixtures the scenario needs, start the server, warm it up
with --warmup seconds of the same load (discarded), then for each
connection count do --runs runs of --duration seconds, sampling the
server's RSS during each run; stop the server. A server that fails to start
or dies gives n/a rows with the reason and the next one is measured.
Idle scenarios start a fresh server for each connection count (each row opens
its own idle connections); memory scenarios run their own client instead of
wrk (bench/lib/memory.py), one row per variant.

Exit codes: 0 done (rows may be n/a), 2 bad input or a missing peer binary,
3 the machine is too busy (load average above --max-load, no --force),
130 interrupted (what was measured is still written).
"""

import json
import os
import resource
import shutil
import signal
import sys
import tempfile
import time

import catalog
import cli
import idle
import loadgen
import machine
import mariadb
import memory
import plot
import procs
import servers
import stats
import table
import workspace

PROG = "bench/run"


def log(message):
    print(message, file=sys.stderr, flush=True)


class Runner:
    def __init__(self, ws):
        self.ws = ws
        self.o = ws.options
        self.rows = []
        self.mariadb = None
        self.mariadb_error = None
        self.server = None

    # -- fixtures ----------------------------------------------------------

    def prepare(self, scenario):
        """Makes what the scenario needs; returns a one-line reason when that failed."""
        needs = [n for n in scenario.needs if n != "mariadb"]
        if "nginx-static" in self.o.servers and scenario.name in ("json", "template"):
            needs.append("prerendered")
        try:
            self.ws.prepare(needs)
        except Exception as e:  # a fixture that fails costs its rows, not the run
            return f"setup failed: {e}"
        if "mariadb" in scenario.needs:
            if self.mariadb is None and self.mariadb_error is None:
                log("starting MariaDB ...")
                db = mariadb.MariaDB(self.ws, workspace.ROWS)
                try:
                    db.start()
                    self.mariadb = db
                except mariadb.MariaDBFailed as e:
                    self.mariadb_error = f"MariaDB: {e}"
            return self.mariadb_error
        return None

    # -- one row -----------------------------------------------------------

    def raw_path(self, server, scenario, connections, label):
        return os.path.join(self.ws.raw, scenario.name, f"{server.name}-c{connections}-{label}.txt")

    def load_run(self, server, scenario, connections, duration, label):
        if getattr(server, "measures_itself", False):
            result, why = server.run_loop(scenario, duration, self.raw_path(server, scenario, connections, label))
            return result, why, []
        if scenario.kind == "cpu-mix":
            return self.cpu_mix_run(server, scenario, connections, duration, label)
        run = loadgen.LoadRun(self.ws, scenario.scripts, server.base_url, scenario.path, connections, duration,
                              self.raw_path(server, scenario, connections, label), scenario.http2_streams)
        result, why = run.wait()
        return result, why, []

    def cpu_mix_run(self, server, scenario, connections, duration, label):
        base = server.base_url
        burner = loadgen.LoadRun(self.ws, catalog.BURN_SCRIPTS, base, catalog.BURN_PATH,
                                 catalog.BURN_CONNECTIONS, duration + 2,
                                 self.raw_path(server, scenario, connections, label + "-burn"))
        time.sleep(1.0)  # the burner holds its executors before hello is measured
        main = loadgen.LoadRun(self.ws, scenario.scripts, base, scenario.path, connections, duration,
                               self.raw_path(server, scenario, connections, label))
        result, why = main.wait()
        burn, burn_why = burner.wait()
        notes = []
        if burn is not None:
            notes.append(f"burn: {burn.rps:,.1f} req/s, p50 {table.format_ms(burn.p50_ms)} ms")
        else:
            notes.append(f"burn load failed: {burn_why}")
        return result, why, notes

    def measure(self, server, scenario, row):
        peaks = []
        notes = []
        pool = None
        if scenario.kind == "idle":
            pool = self.open_idle(server, scenario, row)
        try:
            for k in range(1, self.o.runs + 1):
                if not server.alive():
                    row.failure = f"server died: {server.failure_reason()}"
                    break
                with procs.RssSampler(server.roots) as sampler:
                    result, why, extra = self.load_run(server, scenario, row.connections, self.o.duration, f"run{k}")
                peaks.append(sampler.peak)
                row.pss_after = procs.tree_pss(server.roots())
                row.runs.append(result)
                for note in extra + ([why] if why else []):
                    if note not in notes:
                        notes.append(note)
                log(f"  {scenario.name} c={row.connections} {server.name} run {k}/{self.o.runs}: "
                    + (f"{result.rps:,.0f} req/s, p50 {table.format_ms(result.p50_ms)} ms, "
                       f"p99 {table.format_ms(result.p99_ms)} ms, "
                       f"{result.errors(not server.closes_connections)} errors"
                       if result else f"failed: {why}"))
            if pool is not None:
                left = pool.still_open()
                if left != pool.opened_and_idle:
                    row.notes.append(f"{left} idle conns left after the runs")
        finally:
            if pool is not None:
                pool.close()
        stats.summarize(row, peaks, count_read_errors=not server.closes_connections)
        row.notes.extend(notes)
        if server.closes_connections:
            reads = sum(r.read_errors for r in row.runs if r is not None)
            if reads:
                row.notes.append(f"no keep-alive: {reads} wrk read errors not counted")
        row.notes.extend(server.notes)

    def open_idle(self, server, scenario, row):
        """Opens the idle connections of idle-10k and notes the RSS they added."""
        wanted = self.o.idle_connections
        count = min(wanted, max(0, self.ws.nofile - 512 - row.connections))
        if count < wanted:
            row.notes.append(f"only {count} idle conns: the open-files limit is {self.ws.nofile}")
        before = procs.tree_rss(server.roots())
        pool = idle.IdleConnections(server.port, scenario.path, count, tls=scenario.tls)
        pool.open(timeout=120 if scenario.tls else 60)
        time.sleep(0.5)
        added = procs.tree_rss(server.roots()) - before
        pool.opened_and_idle = pool.still_open()
        row.rss_growth = added
        if pool.opened_and_idle:
            row.per_connection = round(added / pool.opened_and_idle)
        note = idle.per_connection_note(pool.opened_and_idle, count, added, scenario.target_per_connection)
        row.notes.append(note)
        log(f"  {scenario.name} {server.name}: {note}")
        return pool

    # -- the whole run -----------------------------------------------------

    def run(self):
        for name in self.o.scenarios:
            scenario = catalog.scenario(name)
            self.ws.current_scenario = name
            setup_failure = None
            for server_name in self.o.servers:
                if not catalog.server_runs_scenario(server_name, name):
                    continue
                if scenario.kind == "memory":  # one client, a row per variant
                    rows = [stats.Row(server_name, name, 1, kind="memory", variant=v)
                            for v in memory.variants(name)]
                else:
                    rows = [stats.Row(server_name, name, c) for c in self.o.connections]
                self.rows.extend(rows)
                if setup_failure is None:
                    setup_failure = self.prepare(scenario) or ""
                if setup_failure:
                    self.fail(rows, setup_failure)
                    continue
                if scenario.kind == "idle":
                    # A fresh server per row: the second pool of idle connections would
                    # reuse what the first one left in the heap and look almost free.
                    for row in rows:
                        self.run_server(server_name, scenario, [row])
                else:
                    self.run_server(server_name, scenario, rows)

    def run_server(self, server_name, scenario, rows):
        server = servers.make(self.ws, server_name)
        self.server = server
        log(f"{scenario.name}: starting {server_name} ...")
        try:
            server.start(scenario)
        except servers.ServerFailed as e:
            self.fail(rows, str(e))
            self.server = None
            return
        try:
            if self.o.warmup > 0 and scenario.kind != "memory":
                label = "warmup"
                run = loadgen.LoadRun(self.ws, scenario.scripts, server.base_url, scenario.path,
                                      max(self.o.connections), self.o.warmup,
                                      self.raw_path(server, scenario, max(self.o.connections), label),
                                      scenario.http2_streams)
                run.wait()
            for row in rows:
                if not server.alive():
                    row.failure = f"server died: {server.failure_reason()}"
                    continue
                if scenario.kind == "memory":
                    memory.measure(server, scenario, row, self.o.runs, log)
                else:
                    self.measure(server, scenario, row)
        finally:
            server.stop()
            self.server = None

    def fail(self, rows, reason):
        for row in rows:
            row.failure = reason
            log(f"  {row.scenario} c={row.connections} {row.server}: n/a ({reason})")

    def cleanup(self):
        """Stops whatever still runs; rows an interruption left half done get what they measured."""
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self.mariadb is not None:
            self.mariadb.stop()
            self.mariadb = None
        procs.stop_all()
        for row in self.rows:
            if row.kind == "memory":
                if row.rss_growth is None and row.failure is None:
                    row.failure = "not measured (interrupted)"
                continue
            if row.rps is None and row.failure is None:
                if any(r is not None for r in row.runs):
                    stats.summarize(row)
                    row.notes.append("interrupted")
                else:
                    row.failure = "not measured (interrupted)"


def _method_facts(o, ws):
    pin = ("servers on CPU 1, wrk and the harness's own clients on CPU 0 (taskset)" if o.mode == "1core"
           else "no pinning, every CPU")
    children = o.fpm_children or 8 * ws.server_cpu_count
    facts = [("mode", f"{o.mode}: {pin}")]
    if any(catalog.scenario(name).kind != "memory" for name in o.scenarios):
        facts += [
            ("runs", f"{o.runs} x {o.duration} s per row after {o.warmup} s of warm-up; medians reported, "
                     "errors summed, RSS = peak sum over the server's processes"),
            ("load", f"{o.tool}, keep-alive, {', '.join(map(str, o.connections))} connections"),
        ]
    facts.append(("peers", f"nginx-fpm: pm=static, {children} children, opcache on; php -S: opcache on"))
    memory_names = [name for name in o.scenarios if catalog.scenario(name).kind == "memory"]
    if memory_names:
        facts.append(("memory", f"{', '.join(memory_names)}: one client (bench/lib/memory.py), {o.runs} run(s) "
                                "per row after one small warm-up request; RSS growth = peak sum of VmRSS over the "
                                "server's processes (sampled every 100 ms, during and 0.5 s after) minus the sum "
                                "just before; the largest run is reported, errors = runs whose data did not "
                                "arrive intact"))
    if any(catalog.scenario(name).tls for name in o.scenarios):
        facts.append(("tls", "https-*: HTTPS only, self-signed P-256 certificate (openssl req); nginx "
                             "TLSv1.2 TLSv1.3, session cache and tickets at its defaults; https-new-conn: "
                             "Connection: close, one request per connection; no php -S rows"))
    http2 = [catalog.scenario(name) for name in o.scenarios if catalog.scenario(name).http2_streams]
    if http2:
        facts.append(("http2", "; ".join(
            f"{s.name}: h2load instead of {o.tool}, {s.http2_streams} streams per connection, "
            "ALPN h2 (nginx: listen ... http2); no latency percentiles (h2load prints none)" for s in http2)))
    return facts


def write_results(ws, o, rows, facts, interrupted):
    title = f"bench/run {time.strftime('%Y-%m-%d %H:%M')}" + (" (interrupted)" if interrupted else "")
    report = table.render_report(rows, title, facts)
    with open(os.path.join(ws.results, "table.md"), "w") as f:
        f.write(report)
    with open(os.path.join(ws.results, "machine.txt"), "w") as f:
        f.write("".join(f"{label}: {text}\n" for label, text in facts))
    with open(os.path.join(ws.results, "results.json"), "w") as f:
        json.dump({"options": {k: v for k, v in o.__dict__.items()}, "facts": facts,
                   "rows": [r.as_dict() for r in rows], "interrupted": interrupted}, f, indent=1, default=str)
    return report


def _terminate(signum, frame):
    raise KeyboardInterrupt


def main(argv):
    try:
        o = cli.parse(argv)
    except cli.UsageError as e:
        log(f"{PROG}: {e}")
        return 2
    if o.list_only:
        for s in catalog.SCENARIOS:
            print(f"scenario  {s.name:14} {s.summary}")
        for s in catalog.SERVERS:
            print(f"server    {s.name:14} {s.label}" + ("" if s.tls else " (no HTTPS: no row in https-*)"))
        return 0
    missing = cli.missing_binary(o)
    if missing:
        log(f"{PROG}: {missing}")
        return 2
    if o.mode == "1core" and not {0, 1} <= os.sched_getaffinity(0):
        log(f"{PROG}: --mode 1core needs CPUs 0 and 1, this process may use "
            f"{sorted(os.sched_getaffinity(0))}; use --mode all")
        return 2
    load = os.getloadavg()[0]
    if load > o.max_load:
        if not o.ignore_load:
            log(f"{PROG}: the 1-minute load average is {load:.2f}, above {o.max_load}: this machine is "
                "busy and the numbers would be noise; wait, or pass --force to measure anyway")
            return 3
        log(f"{PROG}: warning: the 1-minute load average is {load:.2f} (above {o.max_load}); measuring anyway")

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    results_dir = os.path.join(o.results, workspace.timestamp())
    os.makedirs(results_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="torus-bench-")
    ws = workspace.Workspace(o, tmp, results_dir)
    facts = machine.describe(o)
    facts += _method_facts(o, ws)
    if o.mode == "1core":
        os.sched_setaffinity(0, {0})  # this process samples RSS on the client's CPU
    estimate = 0
    for name in o.scenarios:
        servers_with_rows = sum(catalog.server_runs_scenario(server, name) for server in o.servers)
        if catalog.scenario(name).kind == "memory":
            per_run = memory.SLOW_READER_PAUSE_S + 10 if name == "slow-reader" else 10
            estimate += servers_with_rows * len(memory.variants(name)) * int(o.runs * per_run + 5)
        else:
            estimate += servers_with_rows * len(o.connections) * (o.runs * o.duration + o.warmup + 2)
    log(f"{PROG}: {len(o.scenarios)} scenario(s) x {len(o.servers)} server(s) x {len(o.connections)} "
        f"connection count(s) x {o.runs} run(s) of {o.duration} s; at most ~{estimate // 60} min {estimate % 60} s")
    log(f"{PROG}: results in {results_dir}")

    previous = signal.signal(signal.SIGTERM, _terminate)
    runner = Runner(ws)
    interrupted = False
    try:
        runner.run()
    except KeyboardInterrupt:
        interrupted = True
        log(f"{PROG}: interrupted; writing what was measured")
    finally:
        runner.cleanup()
        signal.signal(signal.SIGTERM, previous)
        if o.keep_temp:
            log(f"{PROG}: temporary folder kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    rows = stats.fill_ratios(runner.rows)
    report = write_results(ws, o, rows, facts, interrupted)
    print(report, end="")
    log(f"{PROG}: wrote {os.path.join(results_dir, 'table.md')}")
    if o.plot:
        try:
            drawn = plot.render(rows, o.plot, title=f"bench/run {time.strftime('%Y-%m-%d %H:%M')}, "
                                                     f"{o.mode}, median of {o.runs}")
            log(f"{PROG}: drew {drawn}")
        except plot.PlotError as e:
            log(f"{PROG}: {e}")
            return 2
    return 130 if interrupted else 0
