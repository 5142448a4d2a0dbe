/*
 * compress-levels: the compressed size and CPU time per response of each
 * content coding at a few levels, through Torus's own encoder
 * (net/content_coding.c, contexts reused as an executor reuses them), for
 * choosing the default levels (docs/PERFORMANCE.md, "Compression").
 *
 *   build/compress-levels FILE...
 *
 * Each file is one response body. For each coding and level it is encoded
 * again and again for at least 0.3 s of this thread's CPU time; the line
 * printed gives the encoded size, its share of the original, and the CPU
 * microseconds per response.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "net/content_coding.h"

static double thread_cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int count_bytes(void *ctx, const char *data, size_t len)
{
    (void)data;
    *(size_t *)ctx += len;
    return 0;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc((size_t)size + 1);
    if (data && fread(data, 1, (size_t)size, f) != (size_t)size) {
        free(data);
        data = NULL;
    }
    fclose(f);
    *len = (size_t)size;
    return data;
}

int main(int argc, char **argv)
{
    static const struct {
        enum torus_coding coding;
        int levels[6];
    } plan[] = {
        {TORUS_CODING_ZSTD, {1, 3, 6, 9, 19, -1}},
        {TORUS_CODING_BR, {1, 3, 4, 5, 6, 11}},
        {TORUS_CODING_GZIP, {1, 3, 5, 6, 9, -1}},
    };
    if (argc < 2) {
        fprintf(stderr, "usage: compress-levels FILE...\n");
        return 2;
    }
    struct torus_encoder encoder;
    torus_encoder_init(&encoder);
    for (int a = 1; a < argc; a++) {
        size_t len;
        char *body = read_file(argv[a], &len);
        if (!body) {
            fprintf(stderr, "compress-levels: cannot read %s\n", argv[a]);
            return 2;
        }
        printf("%s: %zu bytes\n| coding | level | bytes | of original | CPU us/response |\n"
               "| --- | --- | --- | --- | --- |\n",
               argv[a], len);
        for (size_t p = 0; p < sizeof(plan) / sizeof(plan[0]); p++) {
            for (int l = 0; l < 6 && plan[p].levels[l] >= 0; l++) {
                int level = plan[p].levels[l];
                size_t out = 0;
                long rounds = 0;
                double start = thread_cpu_seconds(), spent;
                do {
                    out = 0;
                    if (torus_encoder_begin(&encoder, plan[p].coding, level, len) != 0 ||
                        torus_encoder_write(&encoder, body, len, count_bytes, &out) != 0 ||
                        torus_encoder_end(&encoder, count_bytes, &out) != 0) {
                        fprintf(stderr, "compress-levels: encoding failed\n");
                        return 1;
                    }
                    rounds++;
                    spent = thread_cpu_seconds() - start;
                } while (spent < 0.3);
                printf("| %s | %d | %zu | %.1f%% | %.1f |\n", torus_coding_name(plan[p].coding),
                       level, out, 100.0 * (double)out / (double)len, spent * 1e6 / (double)rounds);
            }
        }
        free(body);
    }
    torus_encoder_free(&encoder);
    return 0;
}
