/*
 * The flags of `torus`, as one table (runtime/config_flags.c) that drives
 * the parser (runtime/config.c), the environment layer and --help, so a flag
 * cannot exist without its help line and variable. Private to runtime/config*.c.
 */
#ifndef TORUS_CONFIG_FLAGS_H
#define TORUS_CONFIG_FLAGS_H

#include <stdbool.h>
#include <stddef.h>

enum option_id {
    OPT_LISTEN,
    OPT_ROOT,
    OPT_THREADS,
    OPT_NO_PIN,
    OPT_ALLOW_UNDERSCORES,
    OPT_PHP_THREADS,
    OPT_WORKER,
    OPT_MAX_REQUESTS,
    OPT_MAX_FAILURES,
    OPT_INI,
    OPT_PHP_INI,
    OPT_LOG_LEVEL,
    OPT_MAX_BODY,
    OPT_BODY_BUFFER,
    OPT_MAX_HEADER,
    OPT_MAX_URI,
    OPT_MAX_CONNECTIONS,
    OPT_HEADER_TIMEOUT,
    OPT_BODY_TIMEOUT,
    OPT_IDLE_TIMEOUT,
    OPT_SEND_TIMEOUT,
    OPT_SHUTDOWN_TIMEOUT,
    OPT_TLS_LISTEN,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_H2C,
    OPT_H2_MAX_STREAMS,
    OPT_ADMIN_LISTEN,
    OPT_ACCESS_LOG,
    OPT_ACCESS_LOG_FORMAT,
    OPT_USER,
    OPT_GROUP,
    OPT_COMPRESS, /* the OPT_COMPRESS* ids follow enum torus_compression_flag's order */
    OPT_PRECOMPRESSED,
    OPT_COMPRESS_STATIC,
    OPT_COMPRESS_TYPES,
    OPT_COMPRESS_MIN_SIZE,
    OPT_COMPRESS_LEVEL_ZSTD,
    OPT_COMPRESS_LEVEL_BR,
    OPT_COMPRESS_LEVEL_GZIP,
    OPT_TRUSTED_PROXY,
    OPT_PROXY_PROTOCOL,
    OPT_WATCH,
    OPT_SENDFILE_ROOT,
    OPT_HELP,
    OPT_VERSION,
    OPT_MODULES,
    OPT_COUNT /* the number of flags: the table has one row each */
};

struct option_row {
    enum option_id id;
    const char *name;  /* long name without "--" */
    char short_name;   /* 0 when none */
    const char *value; /* metavariable for --help; NULL for a switch */
    const char *def;   /* default, as --help shows it */
    const char *help;
};

/* Every flag, in the order --help lists them. */
extern const struct option_row torus_config_flags[OPT_COUNT];

/* The flag named `--name` (len bytes, without the dashes), or NULL. */
const struct option_row *torus_config_flag_long(const char *name, size_t len);

/* The flag whose short form is `-c`, or NULL. */
const struct option_row *torus_config_flag_short(char c);

/* Whether a flag can be given more than once, each time adding to a list. */
bool torus_config_flag_repeatable(enum option_id id);

/* Whether a flag can come from the environment (everything but the actions). */
bool torus_config_flag_from_environment(enum option_id id);

#endif
