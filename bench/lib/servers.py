"""Starting and stopping the servers under test, with equivalent settings.

Every server serves the same document root (a copy of bench/php/ plus the
generated bench-config.php) on 127.0.0.1 and a free port, writes its logs
into the result folder, and in 1core mode runs under `taskset -c 1`:

  torus-classic  build/torus --threads 1 (auto in all mode), classic mode
  torus-worker   the same with --worker 'worker.php match=*.php' (every script to the worker)
  nginx-static   nginx, one worker per CPU it may use, pre-rendered bytes
  nginx-fpm      nginx as above + php-fpm on a unix socket, pm=static
  php-server     php -S (one process; PHP_CLI_SERVER_WORKERS=CPUs in all mode)
  php-cli        no server: the scenario's code in a loop under the php CLI (the
                 interpreter's own limit), for hello, json, template and sqlite-read

PHP runs with opcache on and timestamps not revalidated everywhere. A
scenario may add settings (upload-400m: Scenario.torus_args, .php_ini as -d
for Torus and php_admin_value for php-fpm, .nginx_http in nginx's http block).
In the https-* scenarios (Scenario.tls) the servers listen for HTTPS only,
with the harness's self-signed certificate: Torus with --tls-listen instead
of --listen, nginx with `listen ... ssl` (TLS 1.2 and 1.3, session cache and
tickets at nginx's defaults); php -S cannot, and has no row.
start() returns once a request for the scenario's path answered 200, or
raises ServerFailed with a one-line reason (process exited, no answer in
time, wrong status): the runner turns that into n/a rows and goes on.
"""

import os
import shutil

import catalog
import procs
import wrk_output

START_TIMEOUT = 10.0
OPCACHE_INI = ("-d", "opcache.enable=1", "-d", "opcache.enable_cli=1", "-d", "opcache.validate_timestamps=0")


class ServerFailed(Exception):
    """The server could not be started or does not answer; a one-line reason."""


def _fill(template, values):
    for key, value in values.items():
        template = template.replace("@" + key + "@", str(value))
    return template


def _read_conf(name):
    with open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "conf", name)) as f:
        return f.read()


class Server:
    """One server under test; subclasses say how to start it."""

    closes_connections = False  # answers with Connection: close (wrk then counts read errors)

    def __init__(self, ws, name):
        self.ws = ws
        self.kind = catalog.server_kind(name)
        self.name = name
        self.port = None
        self.processes = []
        self.prefix = None
        self.notes = []
        self.tls = False  # serving HTTPS (set by start() from the scenario)

    @property
    def base_url(self):
        return catalog.base_url(self.port, self.tls)

    def request(self, path, method="GET", body=None, headers=None, timeout=2.0):
        """(status, body) of one request to this server, over HTTPS when it serves that."""
        return procs.http_request(self.port, path, method, body, headers, timeout=timeout, tls=self.tls)

    def roots(self):
        return [p.pid for p in self.processes if p.alive()]

    def alive(self):
        return bool(self.processes) and all(p.alive() for p in self.processes)

    def failure_reason(self):
        for p in self.processes:
            if not p.alive():
                tail = p.log_tail()
                return f"{p.name} exited with code {p.proc.returncode}" + (f": {tail}" if tail else "")
        return None

    def start(self, scenario):
        self.port = procs.free_port()
        self.prefix = os.path.join(self.ws.tmp, f"{self.name}-{scenario.name}")
        os.makedirs(self.prefix, exist_ok=True)
        self.notes = []
        self.tls = scenario.tls
        try:
            self.launch(scenario)
            self.wait_ready(scenario)
        except ServerFailed:
            self.stop()
            raise
        except OSError as e:
            self.stop()
            raise ServerFailed(f"cannot start {self.name}: {e}")

    def launch(self, scenario):
        raise NotImplementedError

    def spawn(self, label, argv, env=None):
        log = os.path.join(self.ws.logs, f"{self.name}-{self.ws.current_scenario}.log")
        p = procs.Spawned(label, self.ws.pin_server(argv), log, env=env, cwd=self.prefix)
        self.processes.append(p)
        return p

    def keep_conf(self, path):
        shutil.copy(path, os.path.join(self.ws.confs, f"{self.name}-{os.path.basename(path)}"))

    def wait_ready(self, scenario, timeout=START_TIMEOUT):
        method, body, headers = probe_request(scenario)
        what = f"{method} {scenario.path}" + "".join(f", {k}: {v}" for k, v in headers.items())
        last = {"why": "no answer"}

        def ready():
            why = self.failure_reason()
            if why:
                raise ServerFailed(why)
            try:
                status, text = self.request(scenario.path, method, body, headers, timeout=2.0)
            except Exception as e:  # refused, reset, timeout, bad HTTP, TLS handshake failure
                last["why"] = f"no answer to {what} on {self.base_url} ({type(e).__name__}: {e})"
                return False
            if status != 200:
                snippet = text[:120].decode(errors="replace").replace("\n", " ").strip()
                last["why"] = f"{scenario.path} answered {status}" + (f": {snippet}" if snippet else "")
                return False
            return True

        if not procs.wait_until(ready, timeout, interval=0.1):
            raise ServerFailed(last["why"] + f" after {timeout:.0f} s")
        if self.kind.php:
            self.check_opcache()
        if self.tls:
            self.note_tls(scenario)

    def check_opcache(self):
        try:
            status, text = self.request("/opcache.php", timeout=2.0)
        except Exception:
            return
        if status == 200 and text.strip() == b"off":
            self.notes.append("opcache off")

    def note_tls(self, scenario):
        """Adds what a TLS client negotiates with the server to its rows' notes."""
        try:
            facts = procs.tls_facts(self.port, scenario.path)
        except Exception as e:
            self.notes.append(f"TLS probe failed: {type(e).__name__}: {str(e)[:80]}")
            return
        self.notes.append(tls_note(*facts))

    def stop(self):
        for p in reversed(self.processes):
            p.stop()
        self.processes = []

    def version(self):
        return ""


class TorusServer(Server):
    def __init__(self, ws, name, worker):
        super().__init__(ws, name)
        self.worker = worker

    def launch(self, scenario):
        binary = self.ws.options.binaries["torus"]
        if not os.access(binary, os.X_OK):
            raise ServerFailed(f"{binary} not built (make build)")
        # match=*.php: every scenario's script is served by the worker (the scripts exist in the
        # document root, so without it they would run in classic mode beside the worker, as in
        # FrankenPHP); static files stay static.
        worker = os.path.join(self.ws.docroot, "worker.php") + " match=*.php" if self.worker else None
        argv = torus_argv(binary, self.port, self.ws.docroot, self.ws.options.mode, worker,
                          (self.ws.tls_cert, self.ws.tls_key) if self.tls else None,
                          scenario_torus_args(scenario) + list(self.ws.options.torus_args))
        self.spawn("torus", argv)


def scenario_torus_args(scenario):
    """The flags a scenario adds to build/torus: its own, then its php.ini settings as -d."""
    args = list(scenario.torus_args)
    for key, value in scenario.php_ini:
        args += ["-d", f"{key}={value}"]
    return args


def torus_argv(binary, port, docroot, mode, worker=None, tls=None, extra=()):
    """build/torus's command line: worker is the worker script or None (classic mode);
    tls is (certificate, key) to listen for HTTPS only, or None for plain HTTP."""
    if tls:
        cert, key = tls
        listen = ["--tls-listen", f"127.0.0.1:{port}", "--tls-cert", cert, "--tls-key", key]
    else:
        listen = ["--listen", f"127.0.0.1:{port}"]
    argv = [binary] + listen + ["--root", docroot, "--threads", "1" if mode == "1core" else "auto"]
    if worker:
        argv += ["--worker", worker]
    return argv + list(OPCACHE_INI) + list(extra)


class NginxServer(Server):
    """nginx alone (nginx-static) or in front of php-fpm (nginx-fpm)."""

    def __init__(self, ws, name, with_fpm):
        super().__init__(ws, name)
        self.with_fpm = with_fpm

    def launch(self, scenario):
        fpm_socket = os.path.join(self.prefix, "php-fpm.sock")
        if self.with_fpm:
            self.launch_fpm(fpm_socket, scenario)
        for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.makedirs(os.path.join(self.prefix, sub), exist_ok=True)
        locations = _read_conf("nginx-fpm.locations.in" if self.with_fpm else "nginx-static.locations.in")
        conf = _fill(_read_conf("nginx-common.conf.in"), {
            "USER_LINE": f"user {self.ws.user_name} {self.ws.group_name};" if self.ws.is_root else "",
            "WORKERS": self.ws.server_cpu_count,
            "NOFILE": self.ws.nofile,
            "WORKER_CONNECTIONS": max(1024, self.ws.nofile - 256),
            "PREFIX": self.prefix,
            "LISTEN": nginx_listen(self.port, (self.ws.tls_cert, self.ws.tls_key) if self.tls else None,
                                   http2=scenario.http2_streams > 0),
            "HTTP_EXTRA": "\n    ".join(scenario.nginx_http),
            "DOCROOT": self.ws.docroot,
            "LOCATIONS": _fill(locations, {"PRERENDERED": self.ws.prerendered, "FPM_SOCKET": fpm_socket}),
        })
        path = os.path.join(self.prefix, "nginx.conf")
        with open(path, "w") as f:
            f.write(conf)
        self.keep_conf(path)
        binary = self.ws.options.binaries["nginx"]
        self.spawn("nginx", [binary, "-p", self.prefix + "/", "-e", os.path.join(self.prefix, "error.log"),
                             "-c", path])

    def launch_fpm(self, socket_path, scenario):
        children = self.ws.options.fpm_children or 8 * self.ws.server_cpu_count
        user_lines = ""
        owner_lines = ""
        if self.ws.is_root:
            user_lines = f"user = {self.ws.user_name}\ngroup = {self.ws.group_name}"
            owner_lines = f"listen.owner = {self.ws.user_name}\nlisten.group = {self.ws.group_name}"
        conf = _fill(_read_conf("php-fpm.conf.in"), {
            "PREFIX": self.prefix,
            "USER_LINES": user_lines,
            "LISTEN_OWNER_LINES": owner_lines,
            "FPM_SOCKET": socket_path,
            "CHILDREN": children,
            "EXTRA_INI": fpm_ini_lines(scenario.php_ini),
        })
        path = os.path.join(self.prefix, "php-fpm.conf")
        with open(path, "w") as f:
            f.write(conf)
        self.keep_conf(path)
        argv = [self.ws.options.binaries["php_fpm"], "--nodaemonize", "--fpm-config", path]
        if self.ws.is_root:
            argv.append("--allow-to-run-as-root")
        self.spawn("php-fpm", argv)
        if not procs.wait_until(lambda: os.path.exists(socket_path) or self.failure_reason(), START_TIMEOUT):
            raise ServerFailed(f"php-fpm did not create {socket_path} in {START_TIMEOUT:.0f} s")
        why = self.failure_reason()
        if why:
            raise ServerFailed(why)


class PhpBuiltinServer(Server):
    closes_connections = True

    def launch(self, scenario):
        env = dict(os.environ)
        env.pop("PHP_CLI_SERVER_WORKERS", None)
        if self.ws.server_cpu_count > 1:
            env["PHP_CLI_SERVER_WORKERS"] = str(self.ws.server_cpu_count)
        # -q: no line per request on stderr (nginx runs with access_log off too).
        argv = [self.ws.options.binaries["php"], *OPCACHE_INI, "-q", "-S", f"127.0.0.1:{self.port}",
                "-t", self.ws.docroot]
        self.spawn("php -S", argv, env=env)


class PhpCliLoop(Server):
    """php-cli: no server at all. Each run is bench/php/cli-loop.php running the scenario's code
    in a loop for the run's duration under the php CLI, pinned where the servers run; its
    iterations per second are the interpreter's own limit for that code."""

    measures_itself = True

    def launch(self, scenario):
        self.notes = [f"php CLI: {self.ws.options.binaries['php_cli']}"]

    def wait_ready(self, scenario, timeout=START_TIMEOUT):
        pass

    def alive(self):
        return True

    def roots(self):
        return []

    def failure_reason(self):
        return None

    def run_loop(self, scenario, duration, raw_path):
        """(RunResult, None) of one run, or (None, a one-line reason)."""
        script = os.path.join(self.ws.docroot, "cli-loop.php")
        argv = self.ws.pin_server([self.ws.options.binaries["php_cli"], *OPCACHE_INI, script,
                                   scenario.path, str(duration)])
        rc, out = procs.run_bounded(argv, duration + 30, cwd=self.ws.docroot)
        os.makedirs(os.path.dirname(raw_path), exist_ok=True)
        with open(raw_path, "w") as f:
            f.write(out)
        fields = out.split()
        if rc != 0 or len(fields) < 8 or fields[0] != "iterations":
            return None, f"php cli-loop.php exited with code {rc}: {out.strip()[-200:]}"
        return wrk_output.RunResult(requests=int(fields[1]), duration_s=float(fields[3]),
                                    p50_ms=float(fields[5]) / 1000, p99_ms=float(fields[7]) / 1000), None


def make(ws, name):
    if name == "torus-classic":
        return TorusServer(ws, name, worker=False)
    if name == "torus-worker":
        return TorusServer(ws, name, worker=True)
    if name == "nginx-static":
        return NginxServer(ws, name, with_fpm=False)
    if name == "nginx-fpm":
        return NginxServer(ws, name, with_fpm=True)
    if name == "php-server":
        return PhpBuiltinServer(ws, name)
    if name == "php-cli":
        return PhpCliLoop(ws, name)
    raise KeyError(name)


def nginx_listen(port, tls=None, http2=False):
    """The listen directive of nginx's server block (and the ssl_* lines when tls is
    (certificate, key)); session cache and tickets stay at nginx's defaults. http2: HTTP/2
    too (by ALPN over TLS; nginx 1.22's plain listener would then speak only h2c)."""
    options = " http2" if http2 else ""
    if not tls:
        return f"listen 127.0.0.1:{port}{options} backlog=4096;"
    cert, key = tls
    return "\n        ".join((
        f"listen 127.0.0.1:{port} ssl{options} backlog=4096;",
        f"ssl_certificate {cert};",
        f"ssl_certificate_key {key};",
        "ssl_protocols TLSv1.2 TLSv1.3;",
    ))


def fpm_ini_lines(php_ini):
    """A scenario's php.ini settings as php-fpm pool lines."""
    return "\n".join(f"php_admin_value[{key}] = {value}" for key, value in php_ini)


def tls_note(protocol, cipher, resumed):
    """The note a TLS row gets from procs.tls_facts()."""
    return f"{protocol} {cipher}, " + ("resumes TLS sessions" if resumed else "no TLS session resumption")


def probe_request(scenario):
    """(method, body, headers) of a request like the ones the scenario's load sends."""
    if scenario.wrk_script == "mariadb-write.lua":
        return ("POST", "payload=probe", {"Content-Type": "application/x-www-form-urlencoded"})
    if scenario.wrk_script == "connection-close.lua":
        return ("GET", None, {"Connection": "close"})
    return ("GET", None, {})
