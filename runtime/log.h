/*
 * The error log: one line per event on stderr, written with a single write()
 * so lines from different threads never interleave.
 */
#ifndef TORUS_LOG_H
#define TORUS_LOG_H

enum torus_log_level {
    TORUS_LOG_DEBUG,
    TORUS_LOG_INFO,
    TORUS_LOG_WARN,
    TORUS_LOG_ERROR,
};

/* Lines below this level are dropped; set once at start-up from --log-level. */
extern enum torus_log_level torus_log_threshold;

/* Parses "debug", "info", "warn" or "error"; returns -1 for anything else. */
int torus_log_level_parse(const char *name);

/* Writes one line "YYYY-mm-ddTHH:MM:SSZ [level] message" to stderr. */
void torus_log_write(enum torus_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define torus_log(level, ...)                                                                      \
    do {                                                                                           \
        if ((level) >= torus_log_threshold)                                                        \
            torus_log_write((level), __VA_ARGS__);                                                 \
    } while (0)

#define torus_log_debug(...) torus_log(TORUS_LOG_DEBUG, __VA_ARGS__)
#define torus_log_info(...)  torus_log(TORUS_LOG_INFO, __VA_ARGS__)
#define torus_log_warn(...)  torus_log(TORUS_LOG_WARN, __VA_ARGS__)
#define torus_log_error(...) torus_log(TORUS_LOG_ERROR, __VA_ARGS__)

#endif
