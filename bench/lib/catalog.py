"""What bench/run knows how to measure: the scenarios and the servers.

Pure data, shared by the argument parser, the runner and the table, so the
names a user types, the rows of the table and the work done agree.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Scenario:
    name: str
    path: str  # the URL path wrk loads
    summary: str
    wrk_script: str = "get.lua"  # in bench/wrk/
    # "load", "cpu-mix" (a second wrk burns CPU), "idle" (10k idle conns, then load) or
    # "memory" (no wrk: a client of bench/lib/memory.py, RSS growth measured)
    kind: str = "load"
    needs: tuple = ()  # fixtures: "sqlite", "mariadb", "burn", "tls" (the certificate)
    static_copy: bool = False  # nginx-static can serve the same bytes (pre-rendered)
    k6_script: str = ""  # in bench/k6/; "" = NAME.js
    tls: bool = False  # served and loaded over HTTPS (servers that cannot do TLS have no row)
    servers: tuple = ()  # the only servers with a row; () = every one that can
    torus_args: tuple = ()  # extra flags for build/torus
    php_ini: tuple = ()  # (key, value) for PHP: -d for Torus, php_admin_value for php-fpm
    nginx_http: tuple = ()  # extra directives in nginx's http block
    target_growth: int = 0  # bytes: the RSS growth the server should stay under (memory)
    target_per_connection: int = 0  # bytes: the RSS an idle connection should cost at most (idle)
    # HTTP/2 (over TLS when tls): loaded by h2load with this many streams per connection,
    # whatever --tool says (wrk and k6 speak HTTP/1.1 only); nginx listens with http2.
    http2_streams: int = 0

    @property
    def scripts(self):
        """(wrk script, k6 script) of the measured load; ("", "") for a memory scenario and
        for an HTTP/2 one (h2load needs no script)."""
        if self.kind == "memory" or self.http2_streams:
            return ("", "")
        return (self.wrk_script, self.k6_script or self.name + ".js")


MIB = 1 << 20

# The servers of the memory scenarios: php -S serves one connection at a time and
# closes it after each response (no pipelining), nginx-static has no PHP.
_PHP_MEMORY_SERVERS = ("torus-classic", "torus-worker", "nginx-fpm")

SCENARIOS = (
    Scenario("hello", "/hello.php", "13-byte text response", static_copy=True),
    Scenario("hello-pipelined", "/hello.php",
             "hello with 16 requests pipelined per connection, written together (wrk only)",
             wrk_script="pipeline.lua", static_copy=True),
    Scenario("json", "/json.php", "json_encode of a ten-key document", static_copy=True),
    Scenario("template", "/template.php", "HTML table of 50 rows with htmlspecialchars",
             static_copy=True),
    # Compression: the template page compressed by the server. nginx gzips at the level Torus
    # uses by default (net/compress_policy.h); br and zstd are Torus's alone.
    Scenario("template-gzip", "/template.php", "template with Accept-Encoding: gzip (level 5)",
             wrk_script="accept-gzip.lua", static_copy=True,
             torus_args=("--compress-level-gzip", "5"),
             nginx_http=("gzip on;", "gzip_comp_level 5;", "gzip_min_length 1024;",
                         "gzip_vary on;")),
    Scenario("template-br", "/template.php", "template with Accept-Encoding: br",
             wrk_script="accept-br.lua", servers=("torus-classic", "torus-worker")),
    Scenario("template-zstd", "/template.php", "template with Accept-Encoding: zstd",
             wrk_script="accept-zstd.lua", servers=("torus-classic", "torus-worker")),
    Scenario("sqlite-read", "/sqlite-read.php", "one row by random id from a 10,000-row SQLite file",
             needs=("sqlite",)),
    Scenario("mariadb-read", "/mariadb-read.php", "one row by random id from MariaDB (unix socket)",
             needs=("mariadb",)),
    Scenario("mariadb-write", "/mariadb-write.php", "one INSERT into MariaDB per request (POST)",
             wrk_script="mariadb-write.lua", needs=("mariadb",)),
    Scenario("cpu-mix", "/hello.php",
             "hello while a second wrk keeps 2 connections on a ~20 ms CPU-bound request",
             kind="cpu-mix", needs=("burn",), k6_script="hello.js"),
    Scenario("static-file", "/static/page.html", "a 2 KiB static HTML file", static_copy=True),
    Scenario("idle-10k", "/hello.php",
             "hello with 10,000 idle keep-alive connections open; RSS they add, bytes per connection",
             kind="idle", static_copy=True, k6_script="hello.js", target_per_connection=1024),
    Scenario("idle-10k-tls", "/hello.php",
             "idle-10k over HTTPS: 10,000 idle TLS connections, bytes per connection; hello over HTTPS",
             kind="idle", needs=("tls",), static_copy=True, tls=True, k6_script="hello.js"),
    Scenario("https-hello", "/hello.php", "hello over HTTPS (TLS 1.2/1.3), keep-alive",
             needs=("tls",), static_copy=True, tls=True, k6_script="hello.js"),
    Scenario("h2-hello", "/hello.php",
             "hello over HTTP/2 (TLS, ALPN h2), 16 concurrent streams per connection (h2load)",
             needs=("tls",), static_copy=True, tls=True, http2_streams=16),
    Scenario("https-new-conn", "/hello.php",
             "one request per new TLS 1.3 connection (Connection: close): HTTPS connections/s",
             wrk_script="connection-close.lua", needs=("tls",), static_copy=True, tls=True),
    # The memory scenarios (bench/lib/memory.py); the path is the readiness probe's.
    Scenario("slow-reader", "/stream.php?mib=1",
             "512 MiB PHP response (with and without flush()) unread for 8 s, then read: RSS growth",
             wrk_script="", kind="memory", servers=_PHP_MEMORY_SERVERS, target_growth=32 * MIB),
    Scenario("upload-400m", "/upload.php", "400 MiB POST body hashed by PHP from php://input: RSS growth",
             wrk_script="", kind="memory", servers=_PHP_MEMORY_SERVERS, target_growth=32 * MIB,
             torus_args=("--max-body-size", "600M"), php_ini=(("post_max_size", "600M"),),
             nginx_http=("client_max_body_size 600m;",)),
    Scenario("pipeline-20k", "/hello.php",
             "20,000 pipelined GET /hello.php written before any answer is read: RSS growth",
             wrk_script="", kind="memory", static_copy=True,
             servers=_PHP_MEMORY_SERVERS + ("nginx-static",), target_growth=16 * MIB),
)

# cpu-mix's second load: 2 connections on a request that burns ~20 ms of CPU.
BURN_PATH = "/burn.php"
BURN_CONNECTIONS = 2
BURN_SCRIPTS = ("get.lua", "burn.js")

SCENARIO_NAMES = tuple(s.name for s in SCENARIOS)


def scenario(name):
    for s in SCENARIOS:
        if s.name == name:
            return s
    raise KeyError(name)


@dataclass(frozen=True)
class ServerKind:
    name: str
    label: str  # as shown in the table
    peer_binaries: tuple = field(default=())  # option names of the binaries it needs
    php: bool = True  # runs PHP (False: nginx-static serves pre-rendered bytes)
    tls: bool = True  # can serve HTTPS (php -S cannot)


SERVERS = (
    ServerKind("torus-classic", "torus classic", ("torus",)),
    ServerKind("torus-worker", "torus worker", ("torus",)),
    ServerKind("nginx-static", "nginx static", ("nginx",), php=False),
    ServerKind("nginx-fpm", "nginx + php-fpm", ("nginx", "php_fpm")),
    ServerKind("php-server", "php -S", ("php",), tls=False),
    # Not a server: the scenario's PHP code in a loop under the php CLI (bench/php/cli-loop.php),
    # the interpreter's own limit for that code, for the load scenarios served by PHP alone.
    ServerKind("php-cli", "php CLI loop", ("php_cli",), tls=False),
)

SERVER_NAMES = tuple(s.name for s in SERVERS)

# The scenarios the php-cli row runs: plain GETs whose work is all PHP (no network peer).
CLI_LOOP_SCENARIOS = ("hello", "json", "template", "sqlite-read")

# The reference rows every other row is compared with.
REFERENCE_FPM = "nginx-fpm"
REFERENCE_STATIC = "nginx-static"


def server_kind(name):
    for s in SERVERS:
        if s.name == name:
            return s
    raise KeyError(name)


def server_runs_scenario(server_name, scenario_name):
    """Whether the pair makes a row: nginx-static only serves what needs no PHP,
    php -S has no HTTPS, and a scenario may name its only servers."""
    kind = server_kind(server_name)
    s = scenario(scenario_name)
    if s.servers and server_name not in s.servers:
        return False
    if s.tls and not kind.tls:
        return False
    if server_name == "php-cli":
        return s.name in CLI_LOOP_SCENARIOS
    if kind.php:
        return True
    return s.static_copy


def base_url(port, tls=False):
    """The URL the load generator and the probes use for a server on 127.0.0.1:port."""
    return f"{'https' if tls else 'http'}://127.0.0.1:{port}"
