/*
 * When and how the access log (net/access_log.c) hands its lines to the
 * writer: a batch is due at TORUS_ACCESS_LOG_BATCH bytes or after a second;
 * on a pipe every write is whole lines of at most PIPE_BUF bytes (so lines
 * of several processes never interleave), on a regular file the batch goes
 * in one write; a short write is resumed where it stopped; at exit
 * everything left is written, in the same slices.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/access_log.c"
#include "tests/unit/check.h"

/* Appends `count` lines of the combined format. */
static void add_lines(struct torus_access_log *log, int count)
{
    for (int i = 0; i < count; i++) {
        char target[64];
        int n = snprintf(target, sizeof(target), "/page/%d?q=%d", i, i * 7);
        struct torus_access_pending *p = torus_access_log_begin(
            log, "127.0.0.1", "GET", (torus_str){target, (size_t)n}, 11, NULL, NULL);
        torus_access_log_end(log, p, 200, 13, 1000);
    }
}

static bool whole_lines(const char *data, size_t len)
{
    return len > 0 && data[len - 1] == '\n';
}

static void test_pipe_slices(void)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
    struct torus_access_log log;
    CHECK(torus_access_log_init(&log, fds[1], false) == TORUS_OK);
    CHECK(log.slice_max == PIPE_BUF);
    const char *data;
    uint64_t now = 5000;
    log.taken_ms = now;

    add_lines(&log, 3);
    CHECK(torus_access_log_take(&log, now + 10, &data) == 0); /* small and young: not due */
    size_t small = log.len;
    size_t n = torus_access_log_take(&log, now + 1000, &data); /* a second later: due */
    CHECK(n == small && whole_lines(data, n));
    CHECK(torus_access_log_busy(&log));
    CHECK(torus_access_log_take(&log, now + 2000, &data) == 0); /* one write at a time */
    torus_access_log_written(&log, (int)n);
    CHECK(!torus_access_log_busy(&log));

    /* A big batch: due at once, and written in slices of whole lines. */
    add_lines(&log, 600);
    size_t total = log.len, seen = 0;
    CHECK(total >= TORUS_ACCESS_LOG_BATCH);
    int slices = 0;
    while ((n = torus_access_log_take(&log, now + 2000, &data)) != 0) {
        CHECK(n <= PIPE_BUF);
        CHECK(whole_lines(data, n));
        /* Half of the first slice, then the rest: a short write resumes where it stopped. */
        size_t wrote = slices == 0 ? n / 2 : n;
        torus_access_log_written(&log, (int)wrote);
        seen += wrote;
        slices++;
    }
    CHECK(seen == total);
    CHECK(slices > (int)(total / PIPE_BUF));
    torus_access_log_release(&log);
    close(fds[0]);
    close(fds[1]);
}

static void test_file_whole_batch(void)
{
    char path[] = "/tmp/torus-test-access-log-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    struct torus_access_log log;
    CHECK(torus_access_log_init(&log, fd, true) == TORUS_OK);
    CHECK(log.slice_max == SIZE_MAX);
    add_lines(&log, 600);
    size_t total = log.len;
    const char *data;
    size_t n = torus_access_log_take(&log, 0, &data);
    CHECK(n == total);
    torus_access_log_written(&log, -5); /* EIO: the batch is dropped, the log goes on */
    CHECK(!torus_access_log_busy(&log));
    CHECK(torus_access_log_take(&log, 0, &data) == 0);

    /* At exit, what is left is written with plain writes. */
    add_lines(&log, 2);
    torus_access_log_flush_sync(&log);
    CHECK(log.len == 0);
    char buf[1024];
    ssize_t got = pread(fd, buf, sizeof(buf) - 1, 0);
    CHECK(got > 0);
    buf[got > 0 ? got : 0] = '\0';
    CHECK(strstr(buf, "\"uri\":\"/page/1?q=7\"") != NULL);
    torus_access_log_release(&log);
    close(fd);
    unlink(path);
}

static void test_flush_sync_slices_on_a_pipe(void)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
    struct torus_access_log log;
    CHECK(torus_access_log_init(&log, fds[1], false) == TORUS_OK);
    add_lines(&log, 300);
    size_t total = log.len;
    torus_access_log_flush_sync(&log);
    char *buf = malloc(total + 1);
    size_t got = 0;
    while (got < total) {
        ssize_t r = read(fds[0], buf + got, total - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    CHECK(got == total);
    CHECK(got && buf[got - 1] == '\n');
    free(buf);
    torus_access_log_release(&log);
    close(fds[0]);
    close(fds[1]);
}

int main(void)
{
    test_pipe_slices();
    test_file_whole_batch();
    test_flush_sync_slices_on_a_pipe();
    printf("test_access_log: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
