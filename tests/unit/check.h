/*
 * The check macro of the C unit tests: CHECK(condition) counts a check, and
 * when the condition is false counts a failure and prints where it failed,
 * so one run reports every broken expectation, not just the first. Each test
 * ends by printing "NAME: N checks, N failed" and exiting 1 if any failed.
 */
#ifndef TORUS_TEST_CHECK_H
#define TORUS_TEST_CHECK_H

#include <stdio.h>

static int checks, failures;

#define CHECK(condition)                                                                           \
    do {                                                                                           \
        checks++;                                                                                  \
        if (!(condition)) {                                                                        \
            failures++;                                                                            \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #condition);          \
        }                                                                                          \
    } while (0)

#endif
