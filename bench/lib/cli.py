"""The command line of bench/run.

parse() turns argv into an Options or raises UsageError with a one-line
message; bench/run prints it and exits with code 2. Nothing here starts a
process, so the parser is tested on its own (bench/tests/test_cli.py).
"""

import argparse
import os
import subprocess
import shutil
from dataclasses import dataclass, field

import catalog
import plot

BENCH_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_DIR = os.path.dirname(BENCH_DIR)

FULL_RUNS = 3
FULL_DURATION = 10
FULL_CONNECTIONS = (64, 256)
QUICK_RUNS = 1
QUICK_DURATION = 3
QUICK_CONNECTIONS = (64,)
DEFAULT_MAX_LOAD = 0.5
DEFAULT_FPM_CHILDREN_PER_CPU = 8
DEFAULT_IDLE_CONNECTIONS = 10000


class UsageError(Exception):
    """Bad input: a one-line message, exit code 2."""


@dataclass
class Options:
    quick: bool = False
    scenarios: list = field(default_factory=list)
    servers: list = field(default_factory=list)
    mode: str = "1core"
    duration: int = FULL_DURATION
    runs: int = FULL_RUNS
    connections: list = field(default_factory=list)
    warmup: int = 1
    ignore_load: bool = False
    max_load: float = DEFAULT_MAX_LOAD
    results: str = ""
    tool: str = "wrk"
    fpm_children: int = 0  # 0: DEFAULT_FPM_CHILDREN_PER_CPU per CPU the servers may use
    idle_connections: int = DEFAULT_IDLE_CONNECTIONS
    torus_args: list = field(default_factory=list)
    keep_temp: bool = False
    plot: str = None  # --plot FILE
    list_only: bool = False
    binaries: dict = field(default_factory=dict)  # option name -> path


# Option name -> (flag, how to find it by default).
BINARIES = {
    "torus": ("--torus", lambda: os.environ.get("TORUS_BIN") or os.path.join(REPO_DIR, "build", "torus")),
    "nginx": ("--nginx", lambda: _which("nginx", "/usr/sbin/nginx")),
    "php_fpm": ("--php-fpm", lambda: _which("php-fpm8.2", "/usr/sbin/php-fpm8.2", "php-fpm")),
    "php": ("--php", lambda: _which("php", "/usr/bin/php")),
    "php_cli": ("--php-cli", lambda: _php_of_torus() or _which("php", "/usr/bin/php")),
    "wrk": ("--wrk", lambda: _which("wrk", "/usr/bin/wrk")),
    "k6": ("--k6", lambda: _which("k6", "/usr/bin/k6")),
    "h2load": ("--h2load", lambda: _which("h2load", "/usr/bin/h2load")),
    "mariadbd": ("--mariadbd", lambda: _which("mariadbd", "/usr/sbin/mariadbd")),
    "mariadb_install_db": ("--mariadb-install-db",
                           lambda: _which("mariadb-install-db", "/usr/bin/mariadb-install-db")),
    "mariadb": ("--mariadb-client", lambda: _which("mariadb", "/usr/bin/mariadb")),
    "openssl": ("--openssl", lambda: _which("openssl", "/usr/bin/openssl")),
}

# Where a missing binary comes from, when not from `tools/install-deps bench`.
_WHERE = {
    "k6": "k6 is not in Debian: install it from k6.io",
    "openssl": "install Debian's openssl (tools/install-deps test)",
}


def _php_of_torus():
    """The php CLI of the PHP build Torus links (tools/choose-php), so that the php-cli row
    runs the very interpreter Torus embeds; None when that build has none."""
    try:
        out = subprocess.run([os.path.join(REPO_DIR, "tools", "choose-php"), "auto"],
                             capture_output=True, text=True, timeout=30).stdout.strip().splitlines()
    except (OSError, subprocess.SubprocessError):
        return None
    if not out:
        return None
    php = os.path.join(os.path.dirname(out[-1]), "php")
    return php if os.access(php, os.X_OK) and not os.path.isdir(php) else None


def _which(name, fallback, *others):
    for candidate in (name,) + others:
        found = shutil.which(candidate)
        if found:
            return found
    return fallback


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got '{text}'")
    return value


def _load(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got '{text}'")
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of at least 0, got '{text}'")
    return value


def build_parser():
    p = _Parser(
        prog="bench/run",
        allow_abbrev=False,
        description="Side-by-side benchmarks of Torus, nginx, nginx + php-fpm and php -S "
        "(see bench/README.md).",
        epilog="Scenarios: " + ", ".join(catalog.SCENARIO_NAMES)
        + ". Servers: " + ", ".join(catalog.SERVER_NAMES) + ".",
    )
    p.add_argument("--quick", action="store_true",
                   help=f"{QUICK_RUNS} run of {QUICK_DURATION} s per row, {QUICK_CONNECTIONS[0]} connections")
    p.add_argument("--scenario", action="append", default=[], metavar="NAME",
                   help="scenario to run (repeatable; 'all' = every one, the default)")
    p.add_argument("--server", action="append", default=[], metavar="NAME",
                   help="server to measure (repeatable; default: all)")
    p.add_argument("--mode", choices=("1core", "all"), default="1core",
                   help="1core: servers pinned to CPU 1, wrk to CPU 0; all: no pinning "
                   "[default: 1core]")
    p.add_argument("--duration", type=_positive_int, metavar="S",
                   help=f"seconds per run [default: {FULL_DURATION}, quick: {QUICK_DURATION}]")
    p.add_argument("--runs", type=_positive_int, metavar="N",
                   help=f"runs per row, the median is reported [default: {FULL_RUNS}, quick: {QUICK_RUNS}]")
    p.add_argument("--connections", action="append", type=_positive_int, metavar="N",
                   help="keep-alive connections (repeatable) [default: 64 and 256, quick: 64]")
    p.add_argument("--warmup", type=int, default=1, metavar="S",
                   help="seconds of load before the measured runs of a server [default: 1]")
    p.add_argument("--force", "--ignore-load", dest="ignore_load", action="store_true",
                   help="measure even when the 1-minute load average is above --max-load")
    p.add_argument("--max-load", type=_load, default=DEFAULT_MAX_LOAD, metavar="X",
                   help=f"highest 1-minute load average to measure at [default: {DEFAULT_MAX_LOAD}]")
    p.add_argument("--results", metavar="DIR", default=os.path.join(BENCH_DIR, "results"),
                   help="where the timestamped result folder goes [default: bench/results]")
    p.add_argument("--tool", choices=("wrk", "k6"), default="wrk",
                   help="load generator; k6 runs the scripts of bench/k6/ [default: wrk]")
    p.add_argument("--fpm-children", type=_positive_int, metavar="N",
                   help=f"php-fpm pm.max_children [default: {DEFAULT_FPM_CHILDREN_PER_CPU} per CPU]")
    p.add_argument("--idle-connections", type=_positive_int, default=DEFAULT_IDLE_CONNECTIONS,
                   metavar="N", help=f"idle connections of idle-10k [default: {DEFAULT_IDLE_CONNECTIONS}]")
    p.add_argument("--torus-arg", action="append", default=[], metavar="ARG",
                   help="extra argument for build/torus (repeatable; write --torus-arg=--flag)")
    p.add_argument("--plot", metavar="FILE",
                   help="also draw the results into FILE (.svg or .png) with gnuplot: a bar per server "
                        "per scenario, p99 written above each")
    p.add_argument("--keep-temp", action="store_true",
                   help="keep the temporary folder with the generated configs and data")
    p.add_argument("--list", dest="list_only", action="store_true",
                   help="list the scenarios and servers and exit")
    for name, (flag, _) in BINARIES.items():
        p.add_argument(flag, dest="bin_" + name, metavar="PATH", help=f"the {flag[2:]} binary")
    return p


def _expand(values, known, what):
    chosen = []
    for value in values:
        for name in value.split(","):
            name = name.strip()
            if name == "all":
                chosen.extend(n for n in known if n not in chosen)
                continue
            if name not in known:
                raise UsageError(f"unknown {what} '{name}' (known: {', '.join(known)})")
            if name not in chosen:
                chosen.append(name)
    return chosen or list(known)


def parse(argv):
    """Options from argv (without the program name); raises UsageError."""
    args = build_parser().parse_args(argv)
    o = Options()
    o.quick = args.quick
    o.scenarios = _expand(args.scenario, catalog.SCENARIO_NAMES, "scenario")
    o.servers = _expand(args.server, catalog.SERVER_NAMES, "server")
    o.mode = args.mode
    o.duration = args.duration or (QUICK_DURATION if o.quick else FULL_DURATION)
    o.runs = args.runs or (QUICK_RUNS if o.quick else FULL_RUNS)
    o.connections = list(dict.fromkeys(args.connections or (QUICK_CONNECTIONS if o.quick else FULL_CONNECTIONS)))
    if args.warmup < 0:
        raise UsageError(f"argument --warmup: expected a number of at least 0, got '{args.warmup}'")
    o.warmup = args.warmup
    o.ignore_load = args.ignore_load
    o.max_load = args.max_load
    o.results = args.results
    o.tool = args.tool
    o.fpm_children = args.fpm_children or 0
    o.idle_connections = args.idle_connections
    o.torus_args = list(args.torus_arg)
    o.keep_temp = args.keep_temp
    o.plot = args.plot
    if o.plot:
        try:
            plot.check_path(o.plot)
        except plot.PlotError as e:
            raise UsageError(str(e))
    o.list_only = args.list_only
    for name, (_, default) in BINARIES.items():
        o.binaries[name] = getattr(args, "bin_" + name) or default()
    return o


def required_binaries(o):
    """The (option name, path) pairs this run cannot do without, in check order.

    Torus is not among them: a missing or broken build/torus gives n/a rows,
    so the peers can be measured before the engine exists.
    """
    scenarios = [catalog.scenario(n) for n in o.scenarios]
    # The memory scenarios bring their own client; the others need the load generator.
    needed = [o.tool] if any(s.kind != "memory" and not s.http2_streams for s in scenarios) else []
    if any(s.http2_streams for s in scenarios):
        needed.append("h2load")
    for server in o.servers:
        # A server without a row in any chosen scenario (php -S for https-*) needs nothing.
        if any(catalog.server_runs_scenario(server, name) for name in o.scenarios):
            needed.extend(b for b in catalog.server_kind(server).peer_binaries if b != "torus")
    if any("mariadb" in s.needs for s in scenarios):
        needed.extend(("mariadbd", "mariadb_install_db", "mariadb"))
    # openssl (the CLI) makes the self-signed certificate of the https-* scenarios.
    if any("tls" in s.needs for s in scenarios):
        needed.append("openssl")
    # php (the CLI) renders nginx-static's copies and calibrates the CPU burner.
    if any("burn" in s.needs for s in scenarios) or "nginx-static" in o.servers:
        needed.append("php")
    seen = []
    for name in needed:
        if name not in seen:
            seen.append(name)
    return [(name, o.binaries[name]) for name in seen]


def missing_binary(o):
    """A one-line message naming the first required binary that is missing, or None."""
    for name, path in required_binaries(o):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            flag = BINARIES[name][0]
            where = _WHERE.get(name, "run tools/install-deps bench")
            return f"{flag[2:]} not found at {path}: {where} or pass {flag} PATH"
    return None
