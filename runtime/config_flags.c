/*
 * The table of flags (runtime/config_flags.h) and --help, printed from it.
 */
#include "runtime/config_flags.h"

#include <stdio.h>
#include <string.h>

#include "runtime/common.h"
#include "runtime/config.h"

const struct option_row torus_config_flags[OPT_COUNT] = {
    {OPT_LISTEN, "listen", 0, "HOST:PORT", "127.0.0.1:8080",
     "address to serve plain HTTP on (repeatable; [::1]:PORT for IPv6, :PORT for all)"},
    {OPT_TLS_LISTEN, "tls-listen", 0, "HOST:PORT", "off", "address to serve HTTPS on (repeatable)"},
    {OPT_TLS_CERT, "tls-cert", 0, "FILE", "none", "PEM certificate chain for --tls-listen"},
    {OPT_TLS_KEY, "tls-key", 0, "FILE", "none", "PEM private key for --tls-listen"},
    {OPT_H2C, "h2c", 0, NULL, "off",
     "plain listeners also accept HTTP/2 with prior knowledge (--tls-listen offers h2 always)"},
    {OPT_H2_MAX_STREAMS, "h2-max-concurrent-streams", 0, "N", "100",
     "HTTP/2 streams a client may have open on one connection"},
    {OPT_ROOT, "root", 0, "DIR", "current directory",
     "document root: static files and PHP scripts"},
    {OPT_THREADS, "threads", 0, "N|auto", "auto",
     "shards (one I/O thread each); auto = the CPUs in the affinity mask"},
    {OPT_NO_PIN, "no-pin", 0, NULL, "pinned", "do not pin each shard's threads to its CPU"},
    {OPT_PHP_THREADS, "php-threads-per-core", 0, "K|auto", "auto",
     "PHP executor threads per shard; auto = 4 (1 with a non-thread-safe PHP)"},
    {OPT_WORKER, "worker", 0, "FILE", "classic mode",
     "worker script run once per executor, looping on torus_handle_request() (repeatable; "
     "with options: 'FILE match=/api/* num=N max-requests=N env=KEY=VALUE name=NAME')"},
    {OPT_MAX_REQUESTS, "max-requests", 0, "N", "0",
     "restart an executor's interpreter after N requests (0 = never)"},
    {OPT_MAX_FAILURES, "max-consecutive-failures", 0, "N", "6",
     "exit when a worker script fails to start N times in a row"},
    {OPT_INI, "define", 'd', "KEY=VALUE", "none", "php.ini setting (repeatable)"},
    {OPT_PHP_INI, "php-ini", 0, "FILE", "none", "php.ini file to load"},
    {OPT_LOG_LEVEL, "log-level", 0, "LEVEL", "info", "debug, info, warn or error"},
    {OPT_MAX_BODY, "max-body-size", 0, "SIZE", "8M", "largest request body; larger gets 413"},
    {OPT_BODY_BUFFER, "body-buffer-size", 0, "SIZE", "64K",
     "request body kept in memory; a larger one goes to an unlinked temporary file in $TMPDIR"},
    {OPT_MAX_HEADER, "max-header-size", 0, "SIZE", "32K",
     "largest request line plus headers; larger gets 431"},
    {OPT_MAX_URI, "max-uri-size", 0, "SIZE", "8K", "longest request target; longer gets 414"},
    {OPT_ALLOW_UNDERSCORES, "allow-underscores-in-headers", 0, NULL, "dropped",
     "pass request headers whose names hold '_' to PHP (nginx drops them: X-Forwarded_For "
     "would become HTTP_X_FORWARDED_FOR)"},
    {OPT_MAX_CONNECTIONS, "max-connections", 0, "N", "65536",
     "open client connections for the whole process"},
    {OPT_HEADER_TIMEOUT, "header-timeout", 0, "SECONDS", "60",
     "time for a whole request head to arrive, from its first byte"},
    {OPT_BODY_TIMEOUT, "body-timeout", 0, "SECONDS", "60",
     "longest pause between two reads of a request body"},
    {OPT_IDLE_TIMEOUT, "idle-timeout", 0, "SECONDS", "75",
     "how long a keep-alive connection may wait for its next request"},
    {OPT_SEND_TIMEOUT, "send-timeout", 0, "SECONDS", "60",
     "longest pause of a client that does not read its response"},
    {OPT_SHUTDOWN_TIMEOUT, "shutdown-timeout", 0, "SECONDS", "30",
     "on SIGTERM/SIGINT, how long in-flight requests may take to finish"},
    {OPT_ADMIN_LISTEN, "admin-listen", 0, "HOST:PORT", "off",
     "address for /healthz, /readyz and /metrics"},
    {OPT_ACCESS_LOG, "access-log", 0, "FILE|-", "off", "access log file (- for stdout)"},
    {OPT_ACCESS_LOG_FORMAT, "access-log-format", 0, "FORMAT", "combined", "combined or json"},
    {OPT_USER, "user", 0, "NAME", "unchanged",
     "when started as root, run as this user once the sockets are bound"},
    {OPT_GROUP, "group", 0, "NAME", "the user's group", "group to run as (with --user)"},
    {OPT_COMPRESS, "compress", 0, "on|off", "on", "zstd, br or gzip by Accept-Encoding; off: none"},
    {OPT_PRECOMPRESSED, "precompressed", 0, "on|off", "on", "serve app.js.zst/.br/.gz for app.js"},
    {OPT_COMPRESS_STATIC, "compress-static", 0, "on|off", "off",
     "compress small static files of --compress-types once, in the static cache"},
    {OPT_COMPRESS_TYPES, "compress-types", 0, "LIST", "text/*,application/json,...",
     "media types to compress; '*' matches any run (application/*+json)"},
    {OPT_COMPRESS_MIN_SIZE, "compress-min-size", 0, "SIZE", "1024",
     "response bodies smaller than this are sent uncompressed"},
    {OPT_COMPRESS_LEVEL_ZSTD, "compress-level-zstd", 0, "N", "3", "zstd level, 1 to 19"},
    {OPT_COMPRESS_LEVEL_BR, "compress-level-br", 0, "N", "3", "brotli level, 0 to 11"},
    {OPT_COMPRESS_LEVEL_GZIP, "compress-level-gzip", 0, "N", "5", "gzip level, 1 to 9"},
    {OPT_TRUSTED_PROXY, "trusted-proxy", 0, "CIDR", "none",
     "proxy whose Forwarded/X-Forwarded-* headers (and PROXY header) give the client: an "
     "address, ADDRESS/BITS, loopback or private (repeatable)"},
    {OPT_PROXY_PROTOCOL, "proxy-protocol", 0, NULL, "off",
     "every listener expects a PROXY protocol v1/v2 header from a --trusted-proxy peer and "
     "closes other connections"},
    {OPT_WATCH, "watch", 0, "DIR[:GLOB]", "off",
     "development: restart the worker scripts when a file under DIR matching GLOB (default "
     "**/*.php) changes (repeatable)"},
    {OPT_SENDFILE_ROOT, "sendfile-root", 0, "[/PREFIX/=]DIR", "off",
     "a PHP response's X-Sendfile (a path under DIR) or X-Accel-Redirect (a URI under the "
     "document root, or /PREFIX/... for DIR/...) is answered with that file (repeatable)"},
    {OPT_HELP, "help", 'h', NULL, NULL, "print this help and exit"},
    {OPT_VERSION, "version", 'v', NULL, NULL, "print the versions of Torus and its libraries"},
    {OPT_MODULES, "modules", 'm', NULL, NULL,
     "print the PHP extensions that load (as php -m; after --php-ini and -d) and exit"},
};

_Static_assert(TORUS_ARRAY_SIZE(torus_config_flags) == OPT_COUNT, "one row per flag");

bool torus_config_flag_repeatable(enum option_id id)
{
    return id == OPT_LISTEN || id == OPT_TLS_LISTEN || id == OPT_INI || id == OPT_TRUSTED_PROXY ||
           id == OPT_WATCH || id == OPT_SENDFILE_ROOT || id == OPT_WORKER;
}

bool torus_config_flag_from_environment(enum option_id id)
{
    return id != OPT_HELP && id != OPT_VERSION && id != OPT_MODULES;
}

void torus_config_print_help(void *file)
{
    FILE *f = file;
    fprintf(f, "Usage: torus [FLAGS]\n"
               "       torus status --admin HOST:PORT [--once]   a running server's live status\n"
               "Torus: an HTTP application server for PHP, one io_uring shard per CPU.\n\n"
               "Flags (sizes take K/M/G suffixes; durations are seconds, fractions allowed).\n"
               "Each can also be set by the environment variable beside it; the command line\n"
               "wins. Repeatable flags take a comma- or newline-separated list there, switches\n"
               "1/0, true/false, yes/no or on/off.\n");
    for (size_t i = 0; i < OPT_COUNT; i++) {
        const struct option_row *o = &torus_config_flags[i];
        char head[64], env[64] = "";
        if (o->short_name)
            snprintf(head, sizeof(head), "-%c, --%s%s%s", o->short_name, o->name,
                     o->value ? " " : "", o->value ? o->value : "");
        else
            snprintf(head, sizeof(head), "    --%s%s%s", o->name, o->value ? " " : "",
                     o->value ? o->value : "");
        if (torus_config_flag_from_environment(o->id))
            torus_config_env_name(o->name, env, sizeof(env));
        fprintf(f, "  %-36s %-34s %s", head, env, o->help);
        if (o->def)
            fprintf(f, " [default: %s]", o->def);
        fputc('\n', f);
    }
}

const struct option_row *torus_config_flag_long(const char *name, size_t len)
{
    for (size_t i = 0; i < OPT_COUNT; i++) {
        if (strlen(torus_config_flags[i].name) == len &&
            memcmp(torus_config_flags[i].name, name, len) == 0)
            return &torus_config_flags[i];
    }
    return NULL;
}

const struct option_row *torus_config_flag_short(char c)
{
    for (size_t i = 0; i < OPT_COUNT; i++) {
        if (torus_config_flags[i].short_name == c)
            return &torus_config_flags[i];
    }
    return NULL;
}
