/*
 * The life of a shard process, from the supervisor's fork() to its exit.
 *
 * The process inherits everything the supervisor prepared before forking:
 * the configuration, the shard's listening sockets, the access log, the TLS
 * context, PHP's started modules (and opcache's shared memory) and the
 * scoreboard. Its main thread starts the shard's threads (the I/O thread and
 * its executors) and then only waits for the signals the supervisor passes
 * on, as the one-process server's main thread did:
 *
 *   SIGTERM, SIGINT, SIGQUIT   drain; a second one cuts what is still open
 *   SIGHUP                     reload the TLS certificate and restart the
 *                              worker scripts one executor at a time; the
 *                              scoreboard's `reloads` counts it done
 *   SIGUSR1                    reopen the access log
 *
 * The process dies with the supervisor (PR_SET_PDEATHSIG), so no orphan
 * keeps the port.
 */
#include "runtime/shard_process.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "net/access_log.h"
#include "net/tls.h"
#include "runtime/log.h"

/* Restarts the worker scripts of the shard one executor at a time: the others keep serving.
 * Classic executors (worker mode's other scripts) have nothing to restart. */
struct reload {
    int step; /* executor being restarted, -1 when no reload runs */
};

/* The first executor from `from` on that runs a worker script (classic ones have none). */
static int reload_next(const struct torus_shard *shard, int from)
{
    while (from < shard->executor_count && !shard->executors[from].worker)
        from++;
    return from;
}

static void reload_start(struct reload *r, struct torus_shard *shard)
{
    r->step = reload_next(shard, 0);
    if (r->step < shard->executor_count)
        torus_executor_reload(&shard->executors[r->step]);
}

/* Moves the reload on when the executor being restarted is back; true when it just finished. */
static bool reload_tick(struct reload *r, struct torus_shard *shard)
{
    if (r->step < 0)
        return false;
    if (r->step < shard->executor_count) {
        struct torus_executor *e = &shard->executors[r->step];
        if (atomic_load(&e->reload) || !atomic_load(&e->slot->ready))
            return false; /* still restarting */
        r->step = reload_next(shard, r->step + 1);
        if (r->step < shard->executor_count) {
            torus_executor_reload(&shard->executors[r->step]);
            return false;
        }
    }
    r->step = -1;
    return true;
}

static void on_reload_signal(struct torus_shard *shard, struct reload *reload)
{
    const struct torus_config *cfg = shard->config;
    if (shard->tls) {
        char err[TORUS_CONFIG_ERROR_SIZE];
        if (torus_tls_context_reload(shard->tls, cfg->tls_cert, cfg->tls_key, err, sizeof(err)) !=
            TORUS_OK)
            torus_log_error("shard %d: SIGHUP: keeping the old TLS certificate: %s", shard->id,
                            err);
    }
    if (!cfg->worker) {
        atomic_fetch_add(&shard->slot->reloads, 1); /* classic mode has nothing to restart */
    } else if (reload->step < 0) {
        reload_start(reload, shard);
    }
}

int torus_shard_process_run(struct torus_shard *shard, pid_t supervisor)
{
    /* Die with the supervisor; and if it is already gone, do not start. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != supervisor)
        return TORUS_SHARD_EXIT_FAILED;
    char name[16];
    snprintf(name, sizeof(name), "torus-shard-%d", shard->id);
    prctl(PR_SET_NAME, name);

    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGQUIT);
    sigaddset(&signals, SIGHUP);
    sigaddset(&signals, SIGUSR1);
    /* The supervisor blocked them before forking: they wait for sigtimedwait() here. */

    /* A fatal signal sent to the process (kill(), posix_kill(getmypid(), SIGSEGV)) goes to a
     * thread that does not block it: only the executors take them, so the one running the
     * script that sent it is the thread that dies, before its response can leave, and the
     * supervisor's crash line names the request. Faults are delivered to the faulting thread
     * whatever its mask. */
    sigset_t fatal;
    torus_executor_fatal_signals(&fatal);
    pthread_sigmask(SIG_BLOCK, &fatal, NULL);

    const struct torus_config *cfg = shard->config;
    if (torus_shard_start(shard) != TORUS_OK) {
        torus_shard_join(shard);
        return TORUS_SHARD_EXIT_FAILED;
    }

    struct reload reload = {.step = -1};
    bool draining = false;
    for (;;) {
        struct timespec tick = {0, 50 * 1000 * 1000};
        int sig = sigtimedwait(&signals, NULL, &tick);
        if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) {
            if (draining) {
                torus_shard_hurry(shard);
            } else {
                draining = true;
                atomic_store(&shard->slot->draining, true);
                torus_shard_drain(shard);
            }
        } else if (sig == SIGHUP && !draining) {
            on_reload_signal(shard, &reload);
        } else if (sig == SIGUSR1 && cfg->access_log && shard->access_log_fd != STDOUT_FILENO &&
                   shard->access_log_fd >= 0) {
            if (torus_access_log_reopen(cfg->access_log, shard->access_log_fd) != TORUS_OK)
                torus_log_error("shard %d: SIGUSR1: cannot reopen --access-log %s: %s", shard->id,
                                cfg->access_log, strerror(errno));
        }
        if (reload_tick(&reload, shard))
            atomic_fetch_add(&shard->slot->reloads, 1);
        if (atomic_load(&shard->ended))
            break;
    }
    bool failed = atomic_load(&shard->failed);
    int result = torus_shard_join(shard);
    if (failed || (result != TORUS_OK && !draining))
        return TORUS_SHARD_EXIT_FAILED;
    return TORUS_SHARD_EXIT_OK;
}
