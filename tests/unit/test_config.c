/*
 * Command-line parsing of runtime/config.c through its public API: the size,
 * duration and listen-address parsers on their own, then torus_config_parse()
 * on whole command lines — every spelling of a flag (--flag value,
 * --flag=value, -d k=v, -dk=v), defaults filled in after parsing, and for each
 * kind of mistake a TORUS_ERROR whose one-line message names the flag the
 * user got wrong. Paths are checked against a scratch directory made with
 * mkdtemp() (a directory, a regular file, a name that does not exist).
 */
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/config.h"
#include "runtime/log.h"
#include "tests/unit/check.h"

static char scratch[PATH_MAX];      /* the mkdtemp() directory, resolved */
static char a_dir[PATH_MAX + 16];   /* scratch/docroot */
static char a_file[PATH_MAX + 16];  /* scratch/worker.php */
static char missing[PATH_MAX + 16]; /* scratch/missing */

/* ------------------------------------------------------------------------ */
/* Sizes and durations                                                      */
/* ------------------------------------------------------------------------ */

static void check_size(const char *text, int expected_result, uint64_t expected, int line)
{
    uint64_t value = 12345;
    int result = torus_parse_size(text, &value);
    checks++;
    if (result != expected_result || (result == TORUS_OK && value != expected) ||
        (result != TORUS_OK && value != 12345)) {
        failures++;
        fprintf(stderr, "line %d: torus_parse_size(\"%s\") = %d, %llu\n", line, text, result,
                (unsigned long long)value);
    }
}

#define SIZE_OK(text, value) check_size(text, TORUS_OK, value, __LINE__)
#define SIZE_BAD(text)       check_size(text, TORUS_ERROR, 0, __LINE__)

static void test_sizes(void)
{
    SIZE_OK("0", 0);
    SIZE_OK("64", 64);
    SIZE_OK("16K", 16384);
    SIZE_OK("16k", 16384);
    SIZE_OK("16KB", 16384);
    SIZE_OK("16kb", 16384);
    SIZE_OK("8M", 8u << 20);
    SIZE_OK("8m", 8u << 20);
    SIZE_OK("1G", 1u << 30);
    SIZE_OK("3g", 3ull << 30);
    SIZE_OK("18446744073709551615", UINT64_MAX);
    SIZE_OK("17179869183G", 17179869183ull << 30); /* the largest count of G that fits */

    SIZE_BAD("");
    SIZE_BAD("K");
    SIZE_BAD("-1");
    SIZE_BAD("+1");
    SIZE_BAD(" 1");
    SIZE_BAD("1 ");
    SIZE_BAD("1.5M");
    SIZE_BAD("5X");
    SIZE_BAD("5T");
    SIZE_BAD("64b"); /* a unit of bytes only after K, M or G */
    SIZE_BAD("16KK");
    SIZE_BAD("16KBB");
    SIZE_BAD("18446744073709551616"); /* 2^64 */
    SIZE_BAD("17179869184G");         /* 2^64 bytes */
    SIZE_BAD("99999999999999999999999K");
}

static void check_duration(const char *text, int expected_result, double expected, int line)
{
    double value = -7;
    int result = torus_parse_duration(text, &value);
    checks++;
    if (result != expected_result || (result == TORUS_OK && value != expected) ||
        (result != TORUS_OK && value != -7)) {
        failures++;
        fprintf(stderr, "line %d: torus_parse_duration(\"%s\") = %d, %g\n", line, text, result,
                value);
    }
}

#define DURATION_OK(text, value) check_duration(text, TORUS_OK, value, __LINE__)
#define DURATION_BAD(text)       check_duration(text, TORUS_ERROR, 0, __LINE__)

static void test_durations(void)
{
    DURATION_OK("30", 30);
    DURATION_OK("0", 0);
    DURATION_OK("0.5", 0.5);
    DURATION_OK(".25", 0.25);
    DURATION_OK("2.5s", 2.5);
    DURATION_OK("60s", 60);
    DURATION_OK("31536000", 31536000); /* a year is the most */

    DURATION_BAD("");
    DURATION_BAD("s");
    DURATION_BAD("-1");
    DURATION_BAD("+1");
    DURATION_BAD(" 1");
    DURATION_BAD("abc");
    DURATION_BAD("nan");
    DURATION_BAD("inf");
    DURATION_BAD("1e400");
    DURATION_BAD("31536001");
    DURATION_BAD("5ms");
    DURATION_BAD("5 s");
    DURATION_BAD("5ss");
    DURATION_BAD("5m");
}

/* ------------------------------------------------------------------------ */
/* Listen addresses                                                         */
/* ------------------------------------------------------------------------ */

static void test_listen_addresses(void)
{
    struct torus_listen_addr addr;
    char err[256];

    CHECK(torus_parse_listen("127.0.0.1:8080", &addr, err, sizeof(err)) == TORUS_OK);
    CHECK(strcmp(addr.text, "127.0.0.1:8080") == 0);
    CHECK(addr.addr.ss_family == AF_INET);
    CHECK(addr.addr_len == sizeof(struct sockaddr_in));
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)&addr.addr;
    CHECK(ntohs(v4->sin_port) == 8080);
    CHECK(ntohl(v4->sin_addr.s_addr) == INADDR_LOOPBACK);
    CHECK(!addr.tls);

    /* ":PORT" is every IPv4 address, as nginx's "listen PORT". */
    CHECK(torus_parse_listen(":9000", &addr, err, sizeof(err)) == TORUS_OK);
    CHECK(addr.addr.ss_family == AF_INET);
    CHECK(ntohs(v4->sin_port) == 9000);
    CHECK(v4->sin_addr.s_addr == htonl(INADDR_ANY));

    CHECK(torus_parse_listen("0.0.0.0:0", &addr, err, sizeof(err)) == TORUS_OK);
    CHECK(ntohs(v4->sin_port) == 0);
    CHECK(torus_parse_listen("10.1.2.3:65535", &addr, err, sizeof(err)) == TORUS_OK);
    CHECK(ntohs(v4->sin_port) == 65535);
    CHECK(ntohl(v4->sin_addr.s_addr) == 0x0A010203);

    CHECK(torus_parse_listen("[::1]:8443", &addr, err, sizeof(err)) == TORUS_OK);
    CHECK(addr.addr.ss_family == AF_INET6);
    CHECK(addr.addr_len == sizeof(struct sockaddr_in6));
    const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&addr.addr;
    CHECK(ntohs(v6->sin6_port) == 8443);
    CHECK(memcmp(&v6->sin6_addr, &in6addr_loopback, sizeof(struct in6_addr)) == 0);

    CHECK(torus_parse_listen("[::]:80", &addr, err, sizeof(err)) == TORUS_OK);
    CHECK(addr.addr.ss_family == AF_INET6);
    CHECK(memcmp(&v6->sin6_addr, &in6addr_any, sizeof(struct in6_addr)) == 0);

    /* Mistakes, each with a message saying what was wrong. */
    err[0] = '\0';
    CHECK(torus_parse_listen("8080", &addr, err, sizeof(err)) == TORUS_ERROR);
    CHECK(strstr(err, "HOST:PORT") != NULL);
    err[0] = '\0';
    CHECK(torus_parse_listen("[::1]8080", &addr, err, sizeof(err)) == TORUS_ERROR);
    CHECK(strstr(err, "IPV6") != NULL);
    CHECK(torus_parse_listen("[::1:8080", &addr, err, sizeof(err)) == TORUS_ERROR);
    err[0] = '\0';
    CHECK(torus_parse_listen("127.0.0.1:", &addr, err, sizeof(err)) == TORUS_ERROR);
    CHECK(strstr(err, "port") != NULL);
    err[0] = '\0';
    CHECK(torus_parse_listen("127.0.0.1:65536", &addr, err, sizeof(err)) == TORUS_ERROR);
    CHECK(strstr(err, "65536") != NULL);
    CHECK(torus_parse_listen("127.0.0.1:-1", &addr, err, sizeof(err)) == TORUS_ERROR);
    CHECK(torus_parse_listen("127.0.0.1:80x", &addr, err, sizeof(err)) == TORUS_ERROR);
    CHECK(torus_parse_listen("127.0.0.1:http", &addr, err, sizeof(err)) == TORUS_ERROR);
    CHECK(torus_parse_listen("[::1]:", &addr, err, sizeof(err)) == TORUS_ERROR);

    /* Longer than the text field: refused rather than cut. */
    char long_text[200];
    memset(long_text, '1', sizeof(long_text));
    memcpy(long_text + sizeof(long_text) - 6, ":8080", 6);
    err[0] = '\0';
    CHECK(torus_parse_listen(long_text, &addr, err, sizeof(err)) == TORUS_ERROR);
    CHECK(strstr(err, "too long") != NULL);
}

/* ------------------------------------------------------------------------ */
/* Whole command lines                                                      */
/* ------------------------------------------------------------------------ */

/* Parses {"torus", args..., NULL} into a fresh config. */
static int parse_argv(struct torus_config *cfg, char *err, size_t err_size, const char **args)
{
    char *argv[64];
    int argc = 0;
    for (; args[argc]; argc++)
        argv[argc] = (char *)args[argc];
    argv[argc] = NULL;
    torus_config_defaults(cfg);
    err[0] = '\0';
    return torus_config_parse(cfg, argc, argv, err, err_size);
}

#define PARSE(cfg, err, ...)                                                                       \
    parse_argv((cfg), (err), sizeof(err), (const char *[]){"torus", __VA_ARGS__, NULL})

/*
 * Expects the command line to be refused with a one-line message containing
 * both `names` (the flag) and `says` (what is wrong; NULL for anything).
 */
static void check_refused(const char **args, const char *names, const char *says, int line)
{
    struct torus_config cfg;
    char err[TORUS_CONFIG_ERROR_SIZE];
    int result = parse_argv(&cfg, err, sizeof(err), args);
    checks++;
    if (result != TORUS_ERROR || !strstr(err, names) || (says && !strstr(err, says)) ||
        strchr(err, '\n') || err[0] == '\0') {
        failures++;
        fprintf(stderr, "line %d: result %d, message \"%s\" (want \"%s\" and \"%s\")\n", line,
                result, err, names, says ? says : "");
    }
    torus_config_free(&cfg);
}

#define REFUSED(names, says, ...)                                                                  \
    check_refused((const char *[]){"torus", __VA_ARGS__, NULL}, names, says, __LINE__)

static void test_defaults(void)
{
    struct torus_config cfg;
    char err[TORUS_CONFIG_ERROR_SIZE];
    char *argv[] = {"torus", NULL};
    torus_config_defaults(&cfg);
    CHECK(torus_config_parse(&cfg, 1, argv, err, sizeof(err)) == TORUS_OK);
    CHECK(cfg.listener_count == 1);
    CHECK(!cfg.listen_given);
    CHECK(strcmp(cfg.listeners[0].text, "127.0.0.1:8080") == 0);
    CHECK(cfg.listeners[0].addr.ss_family == AF_INET);
    CHECK(ntohs(((struct sockaddr_in *)&cfg.listeners[0].addr)->sin_port) == 8080);

    char cwd[PATH_MAX];
    CHECK(realpath(".", cwd) != NULL);
    CHECK(cfg.root != NULL && strcmp(cfg.root, cwd) == 0);
    CHECK(cfg.threads == torus_config_cpu_count());
    CHECK(cfg.threads >= 1);
    CHECK(!cfg.no_pin);
    CHECK(!cfg.allow_underscores_in_headers);
    CHECK(cfg.php_threads_per_core == 0); /* auto: main() settles it once PHP is known */
    CHECK(cfg.worker == NULL);
    CHECK(cfg.max_requests == 0);
    CHECK(cfg.max_consecutive_failures == 6);
    CHECK(cfg.ini_count == 0);
    CHECK(cfg.log_level == TORUS_LOG_INFO);
    CHECK(cfg.max_body_size == 8u << 20);
    CHECK(cfg.body_buffer_size == 64u << 10);
    CHECK(cfg.max_header_size == 32u << 10);
    CHECK(cfg.max_uri_size == 8u << 10);
    CHECK(cfg.max_connections == 65536);
    CHECK(cfg.header_timeout == 60 && cfg.body_timeout == 60 && cfg.idle_timeout == 75 &&
          cfg.send_timeout == 60 && cfg.shutdown_timeout == 30);
    CHECK(!cfg.admin_enabled);
    CHECK(cfg.access_log == NULL);
    CHECK(cfg.access_log_format && strcmp(cfg.access_log_format, "combined") == 0);
    CHECK(cfg.tls_cert == NULL && cfg.tls_key == NULL);
    torus_config_free(&cfg);

    /* auto, said explicitly, is the default. */
    char *argv_auto[] = {"torus", "--php-threads-per-core", "3", "--php-threads-per-core=auto",
                         NULL};
    torus_config_defaults(&cfg);
    CHECK(torus_config_parse(&cfg, 4, argv_auto, err, sizeof(err)) == TORUS_OK);
    CHECK(cfg.php_threads_per_core == 0);
    torus_config_free(&cfg);

    /* --h2c is a switch: off by default, on when given (it was once parsed and then lost). */
    torus_config_defaults(&cfg);
    CHECK(!cfg.h2c);
    char *argv_h2c[] = {"torus", "--h2c", NULL};
    CHECK(torus_config_parse(&cfg, 2, argv_h2c, err, sizeof(err)) == TORUS_OK);
    CHECK(cfg.h2c);
    torus_config_free(&cfg);
}

static void test_every_flag(void)
{
    struct torus_config cfg;
    char err[TORUS_CONFIG_ERROR_SIZE];
    int result =
        PARSE(&cfg, err, "--listen", "127.0.0.1:9001", "--listen=[::1]:9002", "--root", a_dir,
              "--threads", "3", "--no-pin", "--php-threads-per-core=4", "--worker", a_file,
              "--max-requests", "500", "--max-consecutive-failures", "2", "-d", "memory_limit=256M",
              "-ddisplay_errors=0", "--define", "a.b=x=y", "--php-ini", a_file, "--log-level",
              "debug", "--max-body-size", "1M", "--max-header-size=16K", "--max-uri-size", "2K",
              "--max-connections", "100", "--header-timeout", "0.5", "--body-timeout", "10",
              "--idle-timeout=5s", "--send-timeout", "7", "--shutdown-timeout", "1.25",
              "--admin-listen", "127.0.0.1:9100", "--access-log", "-", "--access-log-format",
              "json", "--allow-underscores-in-headers", "--body-buffer-size", "128K");
    CHECK(result == TORUS_OK);
    if (result != TORUS_OK)
        fprintf(stderr, "error: %s\n", err);
    CHECK(cfg.listen_given);
    CHECK(cfg.listener_count == 2);
    CHECK(strcmp(cfg.listeners[0].text, "127.0.0.1:9001") == 0);
    CHECK(strcmp(cfg.listeners[1].text, "[::1]:9002") == 0);
    CHECK(cfg.listeners[1].addr.ss_family == AF_INET6);
    CHECK(!cfg.listeners[0].tls && !cfg.listeners[1].tls);
    CHECK(cfg.root && strcmp(cfg.root, a_dir) == 0);
    CHECK(cfg.threads == 3);
    CHECK(cfg.no_pin);
    CHECK(cfg.allow_underscores_in_headers);
    CHECK(cfg.body_buffer_size == 128u << 10);
    CHECK(cfg.php_threads_per_core == 4);
    CHECK(cfg.worker && strcmp(cfg.worker, a_file) == 0);
    CHECK(cfg.max_requests == 500);
    CHECK(cfg.max_consecutive_failures == 2);
    CHECK(cfg.ini_count == 3);
    if (cfg.ini_count == 3) {
        CHECK(strcmp(cfg.ini_entries[0].key, "memory_limit") == 0);
        CHECK(strcmp(cfg.ini_entries[0].value, "256M") == 0);
        CHECK(strcmp(cfg.ini_entries[1].key, "display_errors") == 0);
        CHECK(strcmp(cfg.ini_entries[1].value, "0") == 0);
        /* Only the first '=' separates. */
        CHECK(strcmp(cfg.ini_entries[2].key, "a.b") == 0);
        CHECK(strcmp(cfg.ini_entries[2].value, "x=y") == 0);
    }
    CHECK(cfg.php_ini_file && strcmp(cfg.php_ini_file, a_file) == 0);
    CHECK(cfg.log_level == TORUS_LOG_DEBUG);
    CHECK(cfg.max_body_size == 1u << 20);
    CHECK(cfg.max_header_size == 16u << 10);
    CHECK(cfg.max_uri_size == 2u << 10);
    CHECK(cfg.max_connections == 100);
    CHECK(cfg.header_timeout == 0.5);
    CHECK(cfg.body_timeout == 10);
    CHECK(cfg.idle_timeout == 5);
    CHECK(cfg.send_timeout == 7);
    CHECK(cfg.shutdown_timeout == 1.25);
    CHECK(cfg.admin_enabled);
    CHECK(strcmp(cfg.admin_listen.text, "127.0.0.1:9100") == 0);
    CHECK(cfg.access_log && strcmp(cfg.access_log, "-") == 0);
    CHECK(cfg.access_log_format && strcmp(cfg.access_log_format, "json") == 0);
    torus_config_free(&cfg);
    CHECK(cfg.root == NULL && cfg.ini_entries == NULL && cfg.ini_count == 0);

    /* Later values win; a path given twice keeps the last one only. */
    result = PARSE(&cfg, err, "--root", scratch, "--root", a_dir, "--threads", "2", "--threads",
                   "auto", "--access-log", "a.log", "--access-log", "b.log");
    CHECK(result == TORUS_OK);
    CHECK(cfg.root && strcmp(cfg.root, a_dir) == 0);
    CHECK(cfg.threads == torus_config_cpu_count());
    CHECK(cfg.access_log && strcmp(cfg.access_log, "b.log") == 0);
    torus_config_free(&cfg);

    /* A relative root is made absolute. */
    char here[PATH_MAX];
    CHECK(getcwd(here, sizeof(here)) != NULL);
    CHECK(chdir(scratch) == 0);
    result = PARSE(&cfg, err, "--root", "docroot/");
    CHECK(result == TORUS_OK);
    CHECK(cfg.root && strcmp(cfg.root, a_dir) == 0);
    torus_config_free(&cfg);
    CHECK(chdir(here) == 0);

    /* TLS listeners with their certificate and key. */
    result = PARSE(&cfg, err, "--tls-listen", "127.0.0.1:8443", "--tls-cert", a_file, "--tls-key",
                   a_file);
    CHECK(result == TORUS_OK);
    CHECK(cfg.listener_count == 1 && cfg.listeners[0].tls);
    CHECK(cfg.tls_cert && strcmp(cfg.tls_cert, a_file) == 0);
    CHECK(cfg.tls_key && strcmp(cfg.tls_key, a_file) == 0);
    torus_config_free(&cfg);

    /* The largest values each flag accepts. */
    result = PARSE(&cfg, err, "--threads", "1024", "--php-threads-per-core", "256",
                   "--max-requests", "18446744073709551615", "--max-connections", "16777216",
                   "--max-header-size", "64M", "--max-uri-size", "16", "--log-level", "error");
    CHECK(result == TORUS_OK);
    CHECK(cfg.threads == 1024 && cfg.php_threads_per_core == 256);
    CHECK(cfg.max_requests == UINT64_MAX);
    CHECK(cfg.max_connections == 16777216);
    CHECK(cfg.max_header_size == 64u << 20);
    CHECK(cfg.max_uri_size == 16);
    CHECK(cfg.log_level == TORUS_LOG_ERROR);
    torus_config_free(&cfg);

    /* Sixteen listeners are allowed. */
    const char *args[40] = {"torus"};
    char addresses[16][32];
    int n = 1;
    for (int i = 0; i < TORUS_MAX_LISTENERS; i++) {
        snprintf(addresses[i], sizeof(addresses[i]), "127.0.0.1:%d", 9000 + i);
        args[n++] = "--listen";
        args[n++] = addresses[i];
    }
    args[n] = NULL;
    CHECK(parse_argv(&cfg, err, sizeof(err), args) == TORUS_OK);
    CHECK(cfg.listener_count == TORUS_MAX_LISTENERS);
    torus_config_free(&cfg);
    /* ...and a seventeenth is refused. */
    args[n++] = "--tls-listen";
    args[n++] = "127.0.0.1:9999";
    args[n] = NULL;
    checks++;
    if (parse_argv(&cfg, err, sizeof(err), args) != TORUS_ERROR || !strstr(err, "--tls-listen") ||
        !strstr(err, "16")) {
        failures++;
        fprintf(stderr, "17 listeners: \"%s\"\n", err);
    }
    torus_config_free(&cfg);
}

static void test_help_and_version(void)
{
    struct torus_config cfg;
    char err[TORUS_CONFIG_ERROR_SIZE];
    CHECK(PARSE(&cfg, err, "--help") == TORUS_CONFIG_HELP);
    torus_config_free(&cfg);
    CHECK(PARSE(&cfg, err, "-h") == TORUS_CONFIG_HELP);
    torus_config_free(&cfg);
    CHECK(PARSE(&cfg, err, "--version") == TORUS_CONFIG_VERSION);
    torus_config_free(&cfg);
    CHECK(PARSE(&cfg, err, "-v") == TORUS_CONFIG_VERSION);
    torus_config_free(&cfg);
    /* Help wins over version, in either order. */
    CHECK(PARSE(&cfg, err, "--version", "--help") == TORUS_CONFIG_HELP);
    torus_config_free(&cfg);
    CHECK(PARSE(&cfg, err, "-h", "-v") == TORUS_CONFIG_HELP);
    torus_config_free(&cfg);
    /* A mistake anywhere on the line is still reported. */
    CHECK(PARSE(&cfg, err, "--help", "--threads", "zero") == TORUS_ERROR);
    torus_config_free(&cfg);

    /* --modules (-m) lists PHP's extensions after php.ini and -d are applied. */
    CHECK(PARSE(&cfg, err, "--modules") == TORUS_CONFIG_MODULES);
    torus_config_free(&cfg);
    CHECK(PARSE(&cfg, err, "-m", "-d", "extension=redis.so") == TORUS_CONFIG_MODULES);
    CHECK(cfg.ini_count == 1 && strcmp(cfg.ini_entries[0].key, "extension") == 0);
    torus_config_free(&cfg);
    CHECK(PARSE(&cfg, err, "--modules=1") == TORUS_ERROR);
    CHECK(strstr(err, "takes no value") != NULL);
    torus_config_free(&cfg);
    /* Help and version win over it, in either order. */
    CHECK(PARSE(&cfg, err, "-m", "--help") == TORUS_CONFIG_HELP);
    torus_config_free(&cfg);
    CHECK(PARSE(&cfg, err, "-m", "-v") == TORUS_CONFIG_VERSION);
    torus_config_free(&cfg);
    CHECK(PARSE(&cfg, err, "-v", "-m") == TORUS_CONFIG_VERSION);
    torus_config_free(&cfg);

    /* The help text lists every flag with its default. */
    char *text = NULL;
    size_t text_len = 0;
    FILE *f = open_memstream(&text, &text_len);
    CHECK(f != NULL);
    if (!f)
        return;
    torus_config_print_help(f);
    fclose(f);
    static const char *const flags[] = {"--listen HOST:PORT",
                                        "--tls-listen",
                                        "--tls-cert",
                                        "--tls-key",
                                        "--root DIR",
                                        "--threads",
                                        "--no-pin",
                                        "--php-threads-per-core",
                                        "--worker FILE",
                                        "--max-requests",
                                        "--max-consecutive-failures",
                                        "-d, --define KEY=VALUE",
                                        "--php-ini",
                                        "--log-level",
                                        "--max-body-size SIZE",
                                        "--max-header-size",
                                        "--max-uri-size",
                                        "--max-connections",
                                        "--header-timeout",
                                        "--body-timeout",
                                        "--idle-timeout",
                                        "--send-timeout",
                                        "--shutdown-timeout",
                                        "--admin-listen",
                                        "--access-log",
                                        "--access-log-format",
                                        "-h, --help",
                                        "-v, --version",
                                        "-m, --modules",
                                        "[default: 127.0.0.1:8080]",
                                        "[default: 8M]",
                                        "[default: 75]",
                                        "Usage: torus"};
    for (size_t i = 0; i < TORUS_ARRAY_SIZE(flags); i++) {
        checks++;
        if (!strstr(text, flags[i])) {
            failures++;
            fprintf(stderr, "--help does not mention \"%s\"\n", flags[i]);
        }
    }
    free(text);
}

static void test_mistakes(void)
{
    /* Flags that do not exist, or are spelled wrong. */
    REFUSED("--bogus", "unknown flag", "--bogus");
    REFUSED("--bogus", "unknown flag", "--bogus=1");
    REFUSED("-x", "unknown flag", "-x");
    REFUSED("--listen-address", "unknown flag", "--listen-address", "127.0.0.1:1");
    REFUSED("'serve'", "unexpected argument", "serve");
    REFUSED("'-'", "unexpected argument", "-");
    REFUSED("'--'", "unexpected argument", "--");

    /* Values missing, or given to a switch. */
    REFUSED("--threads", "missing value", "--threads");
    REFUSED("--listen", "missing value", "--root", a_dir, "--listen");
    REFUSED("-d", "missing value", "-d");
    REFUSED("--no-pin", "takes no value", "--no-pin=yes");
    REFUSED("--help", "takes no value", "--help=1");
    REFUSED("-h", "takes no value", "-hx");

    /* Numbers out of range or not numbers. */
    REFUSED("--threads", "'0'", "--threads", "0");
    REFUSED("--threads", "'1025'", "--threads", "1025");
    REFUSED("--threads", "'-2'", "--threads", "-2");
    REFUSED("--threads", "''", "--threads=");
    REFUSED("--threads", "'two'", "--threads", "two");
    REFUSED("--php-threads-per-core", "'0'", "--php-threads-per-core", "0");
    REFUSED("--php-threads-per-core", "'257'", "--php-threads-per-core", "257");
    REFUSED("--max-requests", "'-1'", "--max-requests", "-1");
    REFUSED("--max-requests", "'18446744073709551616'", "--max-requests", "18446744073709551616");
    REFUSED("--max-consecutive-failures", "'0'", "--max-consecutive-failures", "0");
    REFUSED("--max-connections", "'0'", "--max-connections", "0");
    REFUSED("--max-connections", "'16777217'", "--max-connections", "16777217");

    /* Sizes and durations. */
    REFUSED("--max-body-size", "'8X'", "--max-body-size", "8X");
    REFUSED("--max-body-size", "'-1'", "--max-body-size=-1");
    REFUSED("--max-header-size", "'255'", "--max-header-size", "255");
    REFUSED("--max-header-size", "'65M'", "--max-header-size", "65M");
    REFUSED("--max-uri-size", "'15'", "--max-uri-size", "15");
    REFUSED("--max-uri-size", "'1G'", "--max-uri-size", "1G");
    REFUSED("--header-timeout", "'-1'", "--header-timeout", "-1");
    REFUSED("--body-timeout", "'soon'", "--body-timeout", "soon");
    REFUSED("--idle-timeout", "'5m'", "--idle-timeout", "5m");
    REFUSED("--send-timeout", "''", "--send-timeout", "");
    REFUSED("--shutdown-timeout", "'1e9'", "--shutdown-timeout", "1e9");

    /* Words. */
    REFUSED("--log-level", "'verbose'", "--log-level", "verbose");
    REFUSED("--log-level", "'INFO'", "--log-level", "INFO");
    REFUSED("--access-log-format", "'xml'", "--access-log-format", "xml");
    REFUSED("--define", "KEY=VALUE", "-d", "novalue");
    REFUSED("--define", "KEY=VALUE", "--define", "=value");

    /* Addresses. */
    REFUSED("--listen", "8080", "--listen", "8080");
    REFUSED("--listen", "bad port", "--listen", "127.0.0.1:99999");
    REFUSED("--tls-listen", "bad port", "--tls-listen=127.0.0.1:x");
    REFUSED("--admin-listen", "[::1]9000", "--admin-listen", "[::1]9000");
    REFUSED("--tls-listen", "--tls-cert", "--tls-listen", "127.0.0.1:8443");
    REFUSED("--tls-listen", "--tls-key", "--tls-listen", "127.0.0.1:8443", "--tls-cert", a_file);

    /* Files and directories. */
    REFUSED("--root", missing, "--root", missing);
    REFUSED("--root", "not a directory", "--root", a_file);
    REFUSED("--worker", "not a regular file", "--worker", a_dir);
    REFUSED("--worker", missing, "--worker", missing);
    REFUSED("--php-ini", "not a regular file", "--php-ini", scratch);
    REFUSED("--tls-cert", "No such file", "--tls-cert", missing);
    REFUSED("--tls-key", "not a regular file", "--tls-key", a_dir);

    /* The first mistake is the one reported. */
    REFUSED("--threads", "'x'", "--threads", "x", "--bogus");
}

/* ------------------------------------------------------------------------ */

static int make_scratch(void)
{
    char template[] = "/tmp/torus-test-config-XXXXXX";
    if (!mkdtemp(template) || !realpath(template, scratch))
        return -1;
    snprintf(a_dir, sizeof(a_dir), "%s/docroot", scratch);
    snprintf(a_file, sizeof(a_file), "%s/worker.php", scratch);
    snprintf(missing, sizeof(missing), "%s/missing", scratch);
    if (mkdir(a_dir, 0755) != 0)
        return -1;
    FILE *f = fopen(a_file, "w");
    if (!f)
        return -1;
    fputs("<?php\n", f);
    fclose(f);
    return 0;
}

static void remove_scratch(void)
{
    unlink(a_file);
    rmdir(a_dir);
    rmdir(scratch);
}

/* ------------------------------------------------------------------------ */
/* The environment (runtime/config_env.c)                                   */
/* ------------------------------------------------------------------------ */

static void test_trusted_proxies(void)
{
    struct torus_config cfg;
    char err[TORUS_CONFIG_ERROR_SIZE];
    CHECK(PARSE(&cfg, err, "--trusted-proxy", "10.0.0.0/8", "--trusted-proxy=loopback",
                "--trusted-proxy", "2001:db8::1", "--proxy-protocol") == TORUS_OK);
    CHECK(cfg.trusted_proxy_count == 4 && cfg.proxy_protocol);
    CHECK(torus_cidr_contains_text(cfg.trusted_proxies, cfg.trusted_proxy_count, "10.2.3.4"));
    CHECK(torus_cidr_contains_text(cfg.trusted_proxies, cfg.trusted_proxy_count, "::1"));
    CHECK(torus_cidr_contains_text(cfg.trusted_proxies, cfg.trusted_proxy_count, "2001:db8::1"));
    CHECK(!torus_cidr_contains_text(cfg.trusted_proxies, cfg.trusted_proxy_count, "11.0.0.1"));
    torus_config_free(&cfg);
    CHECK(cfg.trusted_proxies == NULL);
    REFUSED("--trusted-proxy", "'10.0.0.0/33'", "--trusted-proxy", "10.0.0.0/33");
    REFUSED("--trusted-proxy", "'proxy.example'", "--trusted-proxy", "proxy.example");
    REFUSED("--proxy-protocol", "--trusted-proxy", "--proxy-protocol");

    /* From the environment: a list, and the switch. */
    CHECK(setenv("TORUS_TRUSTED_PROXY", "192.168.0.0/16, private", 1) == 0);
    CHECK(setenv("TORUS_PROXY_PROTOCOL", "on", 1) == 0);
    CHECK(PARSE(&cfg, err, "--threads", "1") == TORUS_OK);
    CHECK(cfg.trusted_proxy_count == 5 && cfg.proxy_protocol);
    torus_config_free(&cfg);
    CHECK(unsetenv("TORUS_TRUSTED_PROXY") == 0);
    CHECK(unsetenv("TORUS_PROXY_PROTOCOL") == 0);
}

static void test_watch_flag(void)
{
    struct torus_config cfg;
    char err[TORUS_CONFIG_ERROR_SIZE];
    char here[PATH_MAX];
    CHECK(getcwd(here, sizeof(here)) != NULL);
    CHECK(chdir(scratch) == 0);
    CHECK(PARSE(&cfg, err, "--watch", a_dir, "--watch", "docroot:src/**/*.tpl") == TORUS_OK);
    CHECK(cfg.watch_count == 2);
    if (cfg.watch_count == 2) {
        CHECK(strcmp(cfg.watch[0].dir, a_dir) == 0);
        CHECK(strcmp(cfg.watch[0].glob, TORUS_WATCH_DEFAULT_GLOB) == 0);
        CHECK(strcmp(cfg.watch[1].dir, a_dir) == 0);
        CHECK(strcmp(cfg.watch[1].glob, "src/**/*.tpl") == 0);
    }
    /* opcache revalidates on every include under --watch, unless -d says otherwise. */
    CHECK(cfg.ini_count == 1 && strcmp(cfg.ini_entries[0].key, "opcache.revalidate_freq") == 0 &&
          strcmp(cfg.ini_entries[0].value, "0") == 0);
    torus_config_free(&cfg);
    CHECK(PARSE(&cfg, err, "--watch", a_dir, "-d", "opcache.revalidate_freq=5") == TORUS_OK);
    CHECK(cfg.ini_count == 1 && strcmp(cfg.ini_entries[0].value, "5") == 0);
    torus_config_free(&cfg);
    CHECK(chdir(here) == 0);
    REFUSED("--watch", missing, "--watch", missing);
    REFUSED("--watch", "not a directory", "--watch", a_file);
    REFUSED("--watch", "empty glob", "--watch", "/tmp:");
}

static void test_env_helpers(void)
{
    char name[64];
    torus_config_env_name("max-body-size", name, sizeof(name));
    CHECK(strcmp(name, "TORUS_MAX_BODY_SIZE") == 0);
    torus_config_env_name("define", name, sizeof(name));
    CHECK(strcmp(name, "TORUS_DEFINE") == 0);
    torus_config_env_name("php-threads-per-core", name, 12);
    CHECK(strcmp(name, "TORUS_PHP_T") == 0); /* truncated, still terminated */

    bool on = false;
    const char *yes[] = {"1", "true", "TRUE", "yes", "On"};
    const char *no[] = {"0", "false", "No", "off", "OFF"};
    for (size_t i = 0; i < 5; i++) {
        on = false;
        CHECK(torus_config_env_bool(yes[i], &on) == TORUS_OK && on);
        on = true;
        CHECK(torus_config_env_bool(no[i], &on) == TORUS_OK && !on);
    }
    CHECK(torus_config_env_bool("", &on) == TORUS_ERROR);
    CHECK(torus_config_env_bool("2", &on) == TORUS_ERROR);
    CHECK(torus_config_env_bool("yess", &on) == TORUS_ERROR);
}

static int env_set(const char *name, const char *value)
{
    return value ? setenv(name, value, 1) : unsetenv(name);
}

static void test_environment(void)
{
    struct torus_config cfg;
    char err[TORUS_CONFIG_ERROR_SIZE];

    /* Values, a list and a switch from the environment alone. */
    CHECK(env_set("TORUS_MAX_BODY_SIZE", "1M") == 0);
    CHECK(env_set("TORUS_LISTEN", "127.0.0.1:9001, [::1]:9002,,") == 0);
    CHECK(env_set("TORUS_NO_PIN", "yes") == 0);
    CHECK(env_set("TORUS_ROOT", a_dir) == 0);
    CHECK(env_set("TORUS_DEFINE", "a=1,2\nb=3") == 0); /* a newline: commas stay in values */
    CHECK(PARSE(&cfg, err, "--threads", "2") == TORUS_OK);
    CHECK(cfg.max_body_size == 1u << 20);
    CHECK(cfg.listener_count == 2);
    CHECK(strcmp(cfg.listeners[0].text, "127.0.0.1:9001") == 0);
    CHECK(strcmp(cfg.listeners[1].text, "[::1]:9002") == 0);
    CHECK(cfg.no_pin);
    CHECK(cfg.root && strcmp(cfg.root, a_dir) == 0);
    CHECK(cfg.ini_count == 2);
    if (cfg.ini_count == 2) {
        CHECK(strcmp(cfg.ini_entries[0].key, "a") == 0);
        CHECK(strcmp(cfg.ini_entries[0].value, "1,2") == 0);
        CHECK(strcmp(cfg.ini_entries[1].key, "b") == 0);
    }
    CHECK(cfg.threads == 2);
    torus_config_free(&cfg);

    /* The command line wins, and replaces a repeatable flag's list. */
    CHECK(PARSE(&cfg, err, "--max-body-size", "2K", "--listen", "127.0.0.1:9009", "--root", scratch,
                "-d", "c=4") == TORUS_OK);
    CHECK(cfg.max_body_size == 2048);
    CHECK(cfg.listener_count == 1 && strcmp(cfg.listeners[0].text, "127.0.0.1:9009") == 0);
    CHECK(cfg.root && strcmp(cfg.root, scratch) == 0);
    CHECK(cfg.ini_count == 1 && strcmp(cfg.ini_entries[0].key, "c") == 0);
    CHECK(cfg.no_pin); /* still from the environment */
    torus_config_free(&cfg);

    /* An empty variable is an unset one. */
    CHECK(env_set("TORUS_ACCESS_LOG", "") == 0);
    CHECK(PARSE(&cfg, err, "--threads", "1") == TORUS_OK);
    CHECK(cfg.access_log == NULL);
    torus_config_free(&cfg);
    CHECK(env_set("TORUS_ACCESS_LOG", NULL) == 0);

    /* A switch can be turned off; a flag on the command line turns it on. */
    CHECK(env_set("TORUS_NO_PIN", "off") == 0);
    CHECK(PARSE(&cfg, err, "--threads", "1") == TORUS_OK);
    CHECK(!cfg.no_pin);
    torus_config_free(&cfg);
    CHECK(PARSE(&cfg, err, "--no-pin") == TORUS_OK);
    CHECK(cfg.no_pin);
    torus_config_free(&cfg);

    /* A bad value names the variable; the same value on the command line names the flag. */
    CHECK(env_set("TORUS_MAX_BODY_SIZE", "lots") == 0);
    REFUSED("TORUS_MAX_BODY_SIZE", "lots", "--threads", "1");
    CHECK(PARSE(&cfg, err, "--max-body-size", "3K") == TORUS_OK && cfg.max_body_size == 3072);
    torus_config_free(&cfg);
    CHECK(env_set("TORUS_MAX_BODY_SIZE", NULL) == 0);
    CHECK(env_set("TORUS_NO_PIN", "maybe") == 0);
    REFUSED("TORUS_NO_PIN", "maybe", "--threads", "1");
    CHECK(env_set("TORUS_NO_PIN", NULL) == 0);
    CHECK(env_set("TORUS_LISTEN", "127.0.0.1:9001,nowhere") == 0);
    REFUSED("TORUS_LISTEN", "nowhere", "--threads", "1");
    CHECK(env_set("TORUS_LISTEN", NULL) == 0);
    CHECK(env_set("TORUS_ROOT", missing) == 0);
    REFUSED("TORUS_ROOT", missing, "--threads", "1");
    /* --help and --version print whatever the environment holds. */
    CHECK(PARSE(&cfg, err, "--help") == TORUS_CONFIG_HELP);
    torus_config_free(&cfg);

    /* Variables that name no flag, and the actions, are ignored. */
    const char *unset[] = {"TORUS_LISTEN", "TORUS_ROOT", "TORUS_DEFINE"};
    for (size_t i = 0; i < 3; i++)
        CHECK(env_set(unset[i], NULL) == 0);
    CHECK(env_set("TORUS_HELP", "1") == 0);
    CHECK(env_set("TORUS_NOT_A_FLAG", "x") == 0);
    CHECK(PARSE(&cfg, err, "--threads", "1") == TORUS_OK);
    torus_config_free(&cfg);
    CHECK(env_set("TORUS_HELP", NULL) == 0);
    CHECK(env_set("TORUS_NOT_A_FLAG", NULL) == 0);
}

int main(void)
{
    if (make_scratch() != 0) {
        perror("scratch directory");
        return 1;
    }
    test_sizes();
    test_durations();
    test_listen_addresses();
    test_defaults();
    test_every_flag();
    test_help_and_version();
    test_mistakes();
    test_trusted_proxies();
    test_watch_flag();
    test_env_helpers();
    test_environment();
    remove_scratch();
    printf("test_config: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
