/*
 * Conventions shared by every module of Torus.
 *
 * One return convention everywhere: TORUS_OK when the work is done,
 * TORUS_AGAIN when it must be retried later (more input, a full ring),
 * TORUS_ERROR when it failed. Error branches are marked with slow_path() so
 * the hot path reads straight down and the compiler lays it out that way.
 */
#ifndef TORUS_COMMON_H
#define TORUS_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define TORUS_OK    0
#define TORUS_ERROR (-1)
#define TORUS_AGAIN (-2)

#define slow_path(x) __builtin_expect(!!(x), 0)
#define fast_path(x) __builtin_expect(!!(x), 1)

#define TORUS_CACHE_LINE    64
#define TORUS_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define TORUS_MIN(a, b)     ((a) < (b) ? (a) : (b))
#define TORUS_MAX(a, b)     ((a) > (b) ? (a) : (b))

/* The struct that holds the member `field` pointed to by `ptr`. */
#define torus_container_of(ptr, type, field) ((type *)((char *)(ptr)-offsetof(type, field)))

/* A string that is not NUL-terminated: a pointer and a length. */
typedef struct {
    const char *data;
    size_t len;
} torus_str;

#define TORUS_STR(literal) ((torus_str){(literal), sizeof(literal) - 1})

/* CLOCK_MONOTONIC in nanoseconds (through the vDSO: no system call). */
static inline uint64_t torus_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
