/*
 * torus: start-up, signals and shutdown.
 *
 * Order matters: parse the flags, bind every shard's sockets and start PHP
 * on the main thread — any failure there is one line on stderr and exit code
 * 2 before a single thread exists — then start the shards. The main thread
 * then only waits for signals (every other thread blocks them): SIGTERM or
 * SIGINT drains the shards and exits 0 once they are done; a second one
 * exits at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <llhttp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>
#include <wolfssl/version.h>

#include "alloc/arena.h"
#include "net/admin.h"
#include "net/tls.h"
#include "runtime/config.h"
#include "runtime/log.h"
#include "runtime/process.h"
#include "runtime/shard.h"
#include "sapi/sapi.h"

static void print_version(void)
{
    printf("torus %s\n", TORUS_VERSION);
    printf("PHP %s\n", torus_sapi_php_version());
    printf("liburing %s\n", TORUS_LIBURING_VERSION);
    printf("%s\n", torus_arena_allocator_version());
    printf("wolfSSL %s\n", LIBWOLFSSL_VERSION_STRING);
    printf("llhttp %d.%d.%d\n", LLHTTP_VERSION_MAJOR, LLHTTP_VERSION_MINOR, LLHTTP_VERSION_PATCH);
}

/* The CPUs of the affinity mask, in order; shard i runs on cpus[i % count]. */
static int affinity_cpus(int *cpus, int max)
{
    cpu_set_t set;
    int count = 0;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        for (int cpu = 0; cpu < CPU_SETSIZE && count < max; cpu++) {
            if (CPU_ISSET(cpu, &set))
                cpus[count++] = cpu;
        }
    }
    return count;
}

static void raise_fd_limit(uint32_t want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t target = (rlim_t)want + 1024;
    if (rl.rlim_max != RLIM_INFINITY && target > rl.rlim_max)
        target = rl.rlim_max;
    if (rl.rlim_cur < target) {
        rl.rlim_cur = target;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/*
 * SIGHUP in worker mode: every executor restarts its worker script, one
 * executor index at a time across the shards, so a shard with K > 1 keeps
 * serving and, with K = 1, requests wait in the ring rather than fail.
 */
struct reload {
    int step; /* executor index being restarted, -1 when idle */
};

static void reload_trigger(struct torus_shard *shards, int count, int index)
{
    for (int i = 0; i < count; i++) {
        if (index < shards[i].executor_count)
            torus_executor_reload(&shards[i].executors[index]);
    }
}

static void reload_tick(struct reload *r, struct torus_shard *shards, int count, int per_shard)
{
    if (r->step < 0)
        return;
    for (int i = 0; i < count; i++) {
        if (r->step >= shards[i].executor_count)
            continue;
        struct torus_executor *e = &shards[i].executors[r->step];
        if (atomic_load(&e->reload) || !atomic_load(&e->ready))
            return; /* still restarting */
    }
    if (++r->step < per_shard) {
        reload_trigger(shards, count, r->step);
    } else {
        r->step = -1;
        torus_log_info("reload done: every worker script was restarted");
    }
}

static int open_access_log(const char *path)
{
    return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

/* SIGUSR1 (logrotate): the shards keep writing to the same descriptor number, now the new file. */
static void reopen_access_log(const struct torus_config *cfg, int fd)
{
    if (!cfg->access_log || fd == STDOUT_FILENO) {
        torus_log_info("received SIGUSR1: no access log file to reopen");
        return;
    }
    int fresh = open_access_log(cfg->access_log);
    if (fresh < 0) {
        torus_log_error("SIGUSR1: cannot reopen --access-log %s: %s", cfg->access_log,
                        strerror(errno));
        return;
    }
    dup3(fresh, fd, O_CLOEXEC);
    close(fresh);
    torus_log_info("received SIGUSR1: reopened %s", cfg->access_log);
}

static void listener_text(const struct torus_config *cfg, const uint16_t *ports, char *out,
                          size_t size)
{
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; i < cfg->listener_count && n < size; i++) {
        const struct torus_listen_addr *l = &cfg->listeners[i];
        char host[128];
        snprintf(host, sizeof(host), "%s", l->text);
        char *colon = strrchr(host, ':');
        if (colon)
            *colon = '\0';
        n += (size_t)snprintf(out + n, size - n, "%s%s://%s:%u", i ? ", " : "",
                              l->tls ? "https" : "http", host[0] ? host : "0.0.0.0", ports[i]);
    }
}

/* Runs the server with a parsed configuration; returns the exit code. */
static int run(struct torus_config *cfg, struct torus_shard **shards_out)
{
    char err[TORUS_CONFIG_ERROR_SIZE];
    torus_log_threshold = (enum torus_log_level)cfg->log_level;

    /* Every thread started from here on inherits this mask: only main() takes signals. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    sigaddset(&signals, SIGUSR1);
    sigaddset(&signals, SIGQUIT);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    raise_fd_limit(cfg->max_connections);

    int cpus[CPU_SETSIZE];
    int cpu_count = affinity_cpus(cpus, CPU_SETSIZE);
    struct torus_shard *shards = calloc((size_t)cfg->threads, sizeof(*shards));
    *shards_out = shards;
    if (!shards) {
        fprintf(stderr, "torus: out of memory\n");
        return 2;
    }
    uint16_t ports[TORUS_MAX_LISTENERS] = {0};
    for (int i = 0; i < cfg->listener_count; i++) {
        const struct sockaddr_storage *ss = &cfg->listeners[i].addr;
        ports[i] = ntohs(ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)ss)->sin6_port
                                                   : ((const struct sockaddr_in *)ss)->sin_port);
    }
    for (int i = 0; i < cfg->threads; i++) {
        shards[i].id = i;
        shards[i].config = cfg;
        shards[i].cpu = (cfg->no_pin || cpu_count == 0) ? -1 : cpus[i % cpu_count];
        if (torus_shard_bind(&shards[i], cfg, ports, err, sizeof(err)) != TORUS_OK) {
            fprintf(stderr, "torus: %s\n", err);
            return 2;
        }
    }

    /* The access log: one descriptor for every shard; SIGUSR1 swaps the file under it (dup2). */
    int access_log_fd = -1;
    if (cfg->access_log) {
        access_log_fd =
            strcmp(cfg->access_log, "-") == 0 ? STDOUT_FILENO : open_access_log(cfg->access_log);
        if (access_log_fd < 0) {
            fprintf(stderr, "torus: --access-log %s: %s\n", cfg->access_log, strerror(errno));
            return 2;
        }
    }

    /* TLS: one context (certificate, key, ticket keys) for every shard. */
    struct torus_tls_context *tls = NULL;
    bool tls_wanted = false;
    for (int i = 0; i < cfg->listener_count; i++)
        tls_wanted |= cfg->listeners[i].tls;
    if (tls_wanted) {
        tls = torus_tls_context_new(cfg->tls_cert, cfg->tls_key, err, sizeof(err));
        if (!tls) {
            fprintf(stderr, "torus: %s\n", err);
            return 2;
        }
    }

    /* Everything that needs root is done (ports bound, files opened). */
    if (torus_process_drop_privileges(cfg->user, cfg->group, err, sizeof(err)) != TORUS_OK) {
        fprintf(stderr, "torus: %s\n", err);
        torus_tls_context_free(tls);
        return 2;
    }

    if (torus_sapi_startup(cfg, cfg->threads * cfg->php_threads_per_core, err, sizeof(err)) !=
        TORUS_OK) {
        fprintf(stderr, "torus: %s\n", err);
        torus_tls_context_free(tls);
        return 2;
    }

    torus_shards = shards;
    torus_shard_count = cfg->threads;
    for (int i = 0; i < cfg->threads; i++) {
        shards[i].access_log_fd = access_log_fd;
        shards[i].tls = tls;
    }
    int started = 0;
    for (int i = 0; i < cfg->threads; i++) {
        if (torus_shard_start(&shards[i]) != TORUS_OK)
            break;
        started++;
    }
    char listening[1024];
    listener_text(cfg, ports, listening, sizeof(listening));
    torus_log_info("torus %s listening on %s; %d shard%s x %d PHP executor%s, %s mode, root %s; "
                   "PHP %s, liburing %s, %s, wolfSSL %s, llhttp %d.%d.%d",
                   TORUS_VERSION, listening, cfg->threads, cfg->threads == 1 ? "" : "s",
                   cfg->php_threads_per_core, cfg->php_threads_per_core == 1 ? "" : "s",
                   cfg->worker ? "worker" : "classic", cfg->root, torus_sapi_php_version(),
                   TORUS_LIBURING_VERSION, torus_arena_allocator_version(),
                   LIBWOLFSSL_VERSION_STRING, LLHTTP_VERSION_MAJOR, LLHTTP_VERSION_MINOR,
                   LLHTTP_VERSION_PATCH);

    struct reload reload = {.step = -1};
    bool notified_ready = false;
    time_t tickets_rotated = time(NULL);
    int exit_code = started == cfg->threads ? 0 : 1;
    bool draining = exit_code != 0;
    if (draining) {
        for (int i = 0; i < started; i++)
            torus_shard_drain(&shards[i]);
    }
    for (;;) {
        /* Wait for a signal, looking every 100 ms at whether a shard gave up or all have ended. */
        struct timespec tick = {0, 100 * 1000 * 1000};
        int sig = sigtimedwait(&signals, NULL, &tick);
        if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) {
            if (draining) {
                torus_log_warn("second signal: cutting the connections still open");
                for (int i = 0; i < started; i++)
                    torus_shard_hurry(&shards[i]);
                continue;
            }
            torus_log_info("received %s: draining (up to %.1f s)", strsignal(sig),
                           cfg->shutdown_timeout);
            torus_process_notify("STOPPING=1");
            draining = true;
            for (int i = 0; i < started; i++)
                torus_shard_drain(&shards[i]);
        }
        if (sig == SIGHUP && !draining && tls) {
            /* New connections get the reloaded certificate; open ones keep theirs. */
            if (torus_tls_context_reload(tls, cfg->tls_cert, cfg->tls_key, err, sizeof(err)) ==
                TORUS_OK)
                torus_log_info("received SIGHUP: reloaded the TLS certificate");
            else
                torus_log_error("SIGHUP: keeping the old TLS certificate: %s", err);
        }
        if (sig == SIGHUP && !draining) {
            if (!cfg->worker) {
                torus_log_info("received SIGHUP: classic mode reads scripts per request (opcache "
                               "revalidates them); nothing to restart");
            } else if (reload.step >= 0) {
                torus_log_info("received SIGHUP: a reload is already under way");
            } else {
                torus_log_info("received SIGHUP: restarting worker scripts");
                torus_process_notify("RELOADING=1");
                reload.step = 0;
                reload_trigger(shards, started, 0);
            }
        } else if (sig == SIGUSR1) {
            reopen_access_log(cfg, access_log_fd);
        }
        if (tls && time(NULL) - tickets_rotated >= TORUS_TLS_TICKET_KEY_LIFETIME) {
            torus_tls_context_rotate_ticket_keys(tls);
            tickets_rotated = time(NULL);
        }
        bool was_reloading = reload.step >= 0;
        reload_tick(&reload, shards, started, cfg->php_threads_per_core);
        if (was_reloading && reload.step < 0)
            torus_process_notify("READY=1");
        if (!notified_ready && !draining && torus_admin_ready()) {
            /* systemd's Type=notify: ready once every shard has an executor ready. */
            notified_ready = true;
            torus_process_notify("READY=1");
        }
        bool any_failed = false;
        bool all_ended = true;
        for (int i = 0; i < started; i++) {
            any_failed |= atomic_load(&shards[i].failed);
            all_ended &= atomic_load(&shards[i].ended);
        }
        if (any_failed && !draining) {
            torus_log_error("a shard failed; shutting down");
            exit_code = 1;
            draining = true;
            for (int i = 0; i < started; i++)
                torus_shard_drain(&shards[i]);
        }
        if ((draining || any_failed) && all_ended)
            break;
    }
    for (int i = 0; i < started; i++) {
        if (torus_shard_join(&shards[i]) != TORUS_OK)
            exit_code = 1;
    }
    torus_sapi_shutdown();
    torus_tls_context_free(tls);
    return exit_code;
}

int main(int argc, char **argv)
{
    struct torus_config cfg;
    char err[TORUS_CONFIG_ERROR_SIZE];
    torus_config_defaults(&cfg);
    int rc = torus_config_parse(&cfg, argc, argv, err, sizeof(err));
    int exit_code;
    if (rc == TORUS_ERROR) {
        fprintf(stderr, "torus: %s\n", err);
        exit_code = 2;
    } else if (rc == TORUS_CONFIG_HELP) {
        torus_config_print_help(stdout);
        exit_code = 0;
    } else if (rc == TORUS_CONFIG_VERSION) {
        print_version();
        exit_code = 0;
    } else {
        struct torus_shard *shards = NULL;
        exit_code = run(&cfg, &shards);
        free(shards);
    }
    torus_config_free(&cfg);
    return exit_code;
}
