/*
 * The live status of the admin listener: /status.json (net/admin_status.c,
 * every field documented in docs/STATUS.md) and the page /status that shows
 * it (net/admin_status_page.html, compiled in by cmake/embed.cmake).
 */
#ifndef TORUS_ADMIN_STATUS_H
#define TORUS_ADMIN_STATUS_H

#include <stddef.h>
#include <stdint.h>

struct torus_scoreboard;
struct torus_json_writer;

/* Samples of the responses each shard has sent, for requests_per_second. */
#define TORUS_STATUS_SAMPLE_MS 1000

struct torus_status_rates {
    int shard_count;             /* 0: no memory for the samples; every rate reads 0 */
    uint64_t *last;              /* per shard: responses sent at last_ms */
    uint64_t *before;            /* per shard: responses sent at before_ms */
    uint64_t last_ms, before_ms; /* monotonic; 0: no such sample yet */
};

/* Prepares the samples of shard_count shards (none taken yet). */
void torus_status_rates_init(struct torus_status_rates *rates, int shard_count);

/* Frees them. */
void torus_status_rates_free(struct torus_status_rates *rates);

/*
 * Called often (the supervisor's 50 ms tick): takes a sample of the board
 * when the last one is TORUS_STATUS_SAMPLE_MS old or more, keeping the one
 * before it. now_ms is the monotonic clock in milliseconds.
 */
void torus_status_rates_sample(struct torus_status_rates *rates, struct torus_scoreboard *board,
                               uint64_t now_ms);

/*
 * Shard `shard`'s responses per second between the last two samples (0 until
 * there are two).
 */
double torus_status_rate(const struct torus_status_rates *rates, int shard);

/*
 * Writes the /status.json document of the board into w: rates from `rates`
 * (may be NULL: every rate 0), uptime_ms since the server started.
 */
void torus_status_json(struct torus_json_writer *w, struct torus_scoreboard *board,
                       const struct torus_status_rates *rates, uint64_t uptime_ms);

/* The page /status (HTML, inline CSS and script), generated from net/admin_status_page.html. */
extern const char torus_admin_status_page[];

/* Its length in bytes. */
extern const size_t torus_admin_status_page_size;

#endif
