/*
 * Routing a request without blocking the I/O thread on the file system.
 *
 * torus_route_resolve() makes stat() and realpath() calls and a static
 * file's answer needs open() and a read; on a slow or hung disk each would
 * stall every connection of the core. The I/O thread makes none of them:
 *
 *   route_lookup_begin(loop, waiter, path)
 *     the loop's memo (net/route.h) knows the path, or the kernel's caches
 *     answer every look routing makes (torus_route_try_resolve: no waiting),
 *     and for a static file the static cache holds it as routing saw it: the
 *     route comes back at once (the common case: a file system in memory,
 *     and under load one look serves a batch of requests);
 *     otherwise the request waits on a job for its path (a waiter: an
 *     HTTP/1.1 connection in CONN_ROUTING, an HTTP/2 stream in ROUTING),
 *     run by one of the shard's file-system workers (net/fs_worker.h): the route
 *     and, for a static file, the file opened and, when small, read.
 *     Requests that ask for a path whose job is in flight wait on that
 *     job: one look serves them all.
 *
 *   route_lookup_reap(loop), every iteration of the loop
 *     for each finished job: its route goes into the memo (the requests of
 *     this iteration share it), and each waiter, in arrival order, is
 *     called back with it (its `routed` function). A waiter is taken off
 *     the job's list before its call, and a waiter that goes away meanwhile
 *     takes itself off (route_lookup_cancel), so a call may free any other
 *     waiter safely.
 *
 * While a connection waits its head stays in its input buffer (the parser
 * paused after the head; net/http_session.c keeps the bytes), and it counts
 * as held (c->held), so it is not freed under the job; an HTTP/2 stream
 * reset meanwhile cancels its wait. Jobs past the workers' ring sizes wait
 * in a FIFO backlog and are submitted as earlier ones finish; so do other
 * file-system jobs the workers have no room for (fs_job_submit).
 */
#include "net/conn.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/fs_worker.h"
#include "runtime/log.h"

struct route_job {
    struct torus_fs_job base;     /* run on the worker: route_job_run */
    struct route_job *next;       /* in its bucket of jobs in flight, or in the backlog */
    struct route_waiter *waiters; /* newest first until the job completes */
    const struct torus_router *router;
    const struct torus_compression *compression; /* which variants of a static file to look for */
    size_t read_max; /* a static file of at most this many bytes is read whole */
    uint64_t hash;
    /* Written by the worker. */
    int rc;
    struct torus_route route; /* PATH_INFO points into path */
    struct torus_static_file file;
    size_t path_len;
    char path[]; /* path_len bytes and a NUL */
};

static void route_job_complete(struct torus_fs_job *done, void *ctx);

/* Worker thread: everything here may block. */
static void route_job_run(struct torus_fs_job *base)
{
    struct route_job *job = (struct route_job *)base;
    job->rc = torus_route_resolve(job->router, job->path, job->path_len, &job->route);
    job->file.fd = -1;
    job->file.data = NULL;
    job->file.error = 0;
    memset(job->file.variants, 0, sizeof(job->file.variants));
    job->file.siblings_looked = false;
    if (job->rc == TORUS_OK && job->route.kind == TORUS_ROUTE_STATIC &&
        torus_static_open(job->route.filename, job->read_max, &job->file) == TORUS_OK)
        torus_static_open_variants(job->route.filename, job->route.filename_len, job->read_max,
                                   job->compression, &job->file);
}

static uint64_t path_hash(const char *path, size_t len)
{
    uint64_t hash = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        hash = (hash ^ (unsigned char)path[i]) * 0x100000001b3ull;
    return hash;
}

static struct route_job **bucket_of(struct torus_loop *loop, uint64_t hash)
{
    return &loop->lookups[hash & (ROUTE_LOOKUP_BUCKETS - 1)];
}

static void job_unlink(struct torus_loop *loop, struct route_job *job)
{
    for (struct route_job **at = bucket_of(loop, job->hash); *at; at = &(*at)->next) {
        if (*at == job) {
            *at = job->next;
            return;
        }
    }
}

/* Submits backlogged jobs while the worker takes them. */
static void backlog_submit(struct torus_loop *loop)
{
    while (loop->fs_backlog) {
        struct torus_fs_job *job = loop->fs_backlog;
        if (torus_fs_pool_submit(&loop->fs, job) != TORUS_OK)
            return;
        loop->fs_backlog = job->backlog_next;
        if (!loop->fs_backlog)
            loop->fs_backlog_last = NULL;
        job->backlog_next = NULL;
    }
    while (loop->lookup_backlog) {
        struct route_job *job = loop->lookup_backlog;
        if (torus_fs_pool_submit(&loop->fs, &job->base) != TORUS_OK)
            return;
        loop->lookup_backlog = job->next;
        if (!loop->lookup_backlog)
            loop->lookup_backlog_last = NULL;
        job->next = NULL;
        struct route_job **bucket = bucket_of(loop, job->hash);
        job->next = *bucket;
        *bucket = job;
    }
}

void fs_job_submit(struct torus_loop *loop, struct torus_fs_job *job)
{
    job->backlog_next = NULL;
    if (!loop->fs_backlog && torus_fs_pool_submit(&loop->fs, job) == TORUS_OK)
        return;
    if (loop->fs_backlog_last)
        loop->fs_backlog_last->backlog_next = job;
    else
        loop->fs_backlog = job;
    loop->fs_backlog_last = job;
}

int route_lookup_begin(struct torus_loop *loop, struct route_waiter *w, const char *path,
                       size_t path_len, bool want_file, struct torus_route *route)
{
    bool known = torus_route_memo_find(&loop->route_memo, path, path_len, route);
    if (!known) {
        struct torus_route_fds opened;
        if (torus_route_try_resolve(&loop->router, path, path_len, route, &opened) == TORUS_OK) {
            torus_route_memo_store(&loop->route_memo, path, path_len, route);
            known = true;
        }
        /* Closed by the ring with the next submission: no system call of their own. */
        for (int i = 0; i < opened.count; i++) {
            struct io_uring_sqe *sqe = get_sqe(loop);
            io_uring_prep_close(sqe, opened.fds[i]);
            io_uring_sqe_set_data64(sqe, user_data(NULL, TAG_IGNORE));
        }
    }
    if (fast_path(known)) {
        if (route->kind != TORUS_ROUTE_STATIC || !want_file ||
            torus_static_has(loop->static_cache, route->filename, route->filename_len, &route->st,
                             loop->now_s))
            return TORUS_OK;
        /* A static file the cache does not hold: opening and reading it may wait. */
    }

    /* A job for this path in flight (or waiting to be): wait on it. */
    uint64_t hash = path_hash(path, path_len);
    struct route_job *job = NULL;
    for (struct route_job *j = *bucket_of(loop, hash); j; j = j->next) {
        if (j->hash == hash && j->path_len == path_len && memcmp(j->path, path, path_len) == 0) {
            job = j;
            break;
        }
    }
    for (struct route_job *j = loop->lookup_backlog; !job && j; j = j->next) {
        if (j->hash == hash && j->path_len == path_len && memcmp(j->path, path, path_len) == 0)
            job = j;
    }
    if (!job) {
        job = malloc(sizeof(*job) + path_len + 1);
        if (slow_path(!job))
            return TORUS_ERROR;
        memset(job, 0, sizeof(*job));
        job->base.run = route_job_run;
        job->base.complete = route_job_complete;
        job->router = &loop->router;
        job->compression = &loop->config->compression;
        job->read_max = torus_static_cache_max_entry(loop->static_cache);
        job->hash = hash;
        job->path_len = path_len;
        memcpy(job->path, path, path_len);
        job->path[path_len] = '\0';
        if (!loop->lookup_backlog && torus_fs_pool_submit(&loop->fs, &job->base) == TORUS_OK) {
            struct route_job **bucket = bucket_of(loop, hash);
            job->next = *bucket;
            *bucket = job;
        } else {
            if (loop->lookup_backlog_last)
                loop->lookup_backlog_last->next = job;
            else
                loop->lookup_backlog = job;
            loop->lookup_backlog_last = job;
        }
    }
    w->next = job->waiters;
    w->job = job;
    job->waiters = w;
    return TORUS_AGAIN;
}

void route_lookup_cancel(struct route_waiter *w)
{
    if (!w->job)
        return;
    for (struct route_waiter **at = &w->job->waiters; *at; at = &(*at)->next) {
        if (*at == w) {
            *at = w->next;
            break;
        }
    }
    w->job = NULL;
    w->next = NULL;
}

/* Takes the first waiter off the job's list (NULL when none is left). */
static struct route_waiter *waiter_pop(struct route_job *job)
{
    struct route_waiter *w = job->waiters;
    if (w) {
        job->waiters = w->next;
        w->next = NULL;
        w->job = NULL;
    }
    return w;
}

/* A finished lookup: its route goes into the memo and to its waiters. */
static void route_job_complete(struct torus_fs_job *done, void *ctx)
{
    struct torus_loop *loop = ctx;
    struct route_job *job = (struct route_job *)done;
    job_unlink(loop, job);
    if (job->rc == TORUS_OK)
        torus_route_memo_store(&loop->route_memo, job->path, job->path_len, &job->route);
    else
        job->route.kind = TORUS_ROUTE_NOT_FOUND;
    /* Waiters were pushed in front: answer them in arrival order. */
    struct route_waiter *order = NULL;
    for (struct route_waiter *w = job->waiters, *next; w; w = next) {
        next = w->next;
        w->next = order;
        order = w;
    }
    job->waiters = order;
    struct route_waiter *w;
    while ((w = waiter_pop(job)) != NULL) {
        /* Each waiter answers with its own descriptors: the response takes one and closes it. */
        struct torus_static_file file = job->file;
        if (job->waiters)
            torus_static_file_dup_fds(&file);
        else
            torus_static_file_forget_fds(&job->file);
        w->routed(w, job->path, job->path_len, &job->route, &file);
        torus_static_file_close_fds(&file);
    }
    torus_static_file_release(&job->file);
    free(job);
}

/* Every finished job of the workers (lookups, spare body files) goes to its completion. */
static void reap_done(struct torus_loop *loop)
{
    struct torus_fs_job *done;
    while ((done = torus_fs_pool_pop(&loop->fs)) != NULL)
        done->complete(done, loop);
}

void route_lookup_reap(struct torus_loop *loop)
{
    reap_done(loop);
    backlog_submit(loop);
}

int route_lookup_start(struct torus_loop *loop)
{
    return torus_fs_pool_start(&loop->fs, &loop->shard->waker, loop->shard->cpu);
}

void route_lookup_stop(struct torus_loop *loop)
{
    if (torus_fs_pool_stop(&loop->fs) != TORUS_OK) {
        /* Stuck in the file system: its jobs and rings stay with it until the process ends. */
        torus_log_warn("shard %d: the file-system worker is still in a system call at shutdown",
                       loop->shard->id);
        return;
    }
    reap_done(loop); /* what finished; the connections it held are released */
    /* Never submitted: their waiters are told the lookup was given up. */
    for (struct route_job *job = loop->lookup_backlog, *next; job; job = next) {
        next = job->next;
        struct route_waiter *w;
        while ((w = waiter_pop(job)) != NULL)
            w->routed(w, job->path, job->path_len, NULL, NULL);
        free(job);
    }
    loop->lookup_backlog = loop->lookup_backlog_last = NULL;
    /* Other jobs never submitted complete unrun (each job's completion knows). */
    for (struct torus_fs_job *job = loop->fs_backlog, *next; job; job = next) {
        next = job->backlog_next;
        job->complete(job, loop);
    }
    loop->fs_backlog = loop->fs_backlog_last = NULL;
    torus_fs_pool_free(&loop->fs);
}
