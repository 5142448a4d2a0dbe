/*
 * The supervisor: one small process above one process per shard.
 *
 *   torus (supervisor)          flags, sockets, PHP's modules, signals, admin
 *    ├─ torus-shard-0           I/O thread + executors, pinned to CPU a
 *    ├─ torus-shard-1           I/O thread + executors, pinned to CPU b
 *    └─ ...
 *
 * Start-up, in this order, so that any failure is one line on stderr and
 * exit code 2 before a single process or thread exists: parse the flags
 * (main.c), bind every shard's sockets and the admin socket, open the access
 * log, load the TLS certificate, drop root (--user), map the scoreboard and
 * start PHP's modules. Then fork the shards: each child inherits all of it,
 * opcache's shared memory included, as php-fpm's children do.
 *
 * The supervisor keeps its own copy of every listening socket, so a shard
 * that dies leaves its accept queue open and its successor serves what
 * waited there. Its one thread waits in poll() for three things: signals
 * (through a signalfd, SIGCHLD included), the admin connections and the
 * 50 ms tick that moves restarts and reloads along. Nothing on a request's
 * path crosses processes: the supervisor only reads the scoreboard.
 *
 * A shard process that dies by a signal, or exits when it was not asked to,
 * is logged in one line (signal, pid, and the request each executor was
 * running, read from the scoreboard), counted, and started again on the
 * same CPU at once. Only a shard that dies before it ever served backs off
 * (100 ms, doubling, up to 10 s); and while the server has never been ready,
 * such a failure --max-consecutive-failures times in a row (or a shard whose
 * worker script cannot boot) stops the server with exit code 2.
 */
#include "runtime/supervisor.h"

#include <errno.h>
#include <llhttp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>
#include <wolfssl/version.h>

#include "alloc/arena.h"
#include "net/access_log.h"
#include "net/admin.h"
#include "net/tls.h"
#include "runtime/log.h"
#include "runtime/process.h"
#include "runtime/scoreboard.h"
#include "runtime/shard_process.h"
#include "runtime/watch.h"
#include "sapi/sapi.h"

#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS   10000
/* A shard still running this long after a drain's --shutdown-timeout is killed. */
#define DRAIN_GRACE_MS 5000
#define TICK_MS        50

enum shard_run_state {
    SHARD_RUNNING, /* a process serves it */
    SHARD_WAITING, /* no process now: one starts at restart_at_ms */
    SHARD_STOPPED, /* no process, and none to come (draining) */
};

/* What the supervisor knows of one shard's process. */
struct shard_run {
    enum shard_run_state state;
    pid_t pid;
    bool served;    /* this process was ready at some point */
    int failures;   /* processes in a row that died before they served */
    bool restarted; /* a process of this shard ran before */
    uint64_t restart_at_ms;
};

struct supervisor {
    struct torus_config *cfg;
    struct torus_shard *shards; /* each child runs its own entry */
    struct shard_run *runs;
    int count;
    pid_t pid;
    struct torus_scoreboard *board;
    struct torus_admin_server admin;
    int signal_fd;
    int access_log_fd;
    struct torus_tls_context *tls;

    bool draining;
    uint64_t drain_kill_ms;
    bool ready_once;  /* every shard was ready at once, at least once */
    int reload_shard; /* shard restarting its worker scripts (SIGHUP); -1: none */
    pid_t reload_pid;
    uint64_t reload_target;    /* its scoreboard `reloads` once it is done */
    bool reload_again;         /* --watch saw a change during the reload: one more after it */
    struct torus_watch *watch; /* --watch; NULL without */
    int exit_code;
};

static uint64_t now_ms(void)
{
    return torus_monotonic_ns() / 1000000u;
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

/*
 * Everything that can fail because of the command line, before any process
 * is forked. Returns TORUS_OK, or TORUS_ERROR with the line to print in err.
 */
static int prepare(struct supervisor *sv, uint16_t *ports, char *err, size_t err_size)
{
    struct torus_config *cfg = sv->cfg;
    raise_fd_limit(cfg->max_connections);

    int cpus[CPU_SETSIZE];
    int cpu_count = affinity_cpus(cpus, CPU_SETSIZE);
    sv->shards = calloc((size_t)cfg->threads, sizeof(*sv->shards));
    sv->runs = calloc((size_t)cfg->threads, sizeof(*sv->runs));
    if (!sv->shards || !sv->runs) {
        snprintf(err, err_size, "out of memory");
        return TORUS_ERROR;
    }
    for (int i = 0; i < cfg->listener_count; i++) {
        const struct sockaddr_storage *ss = &cfg->listeners[i].addr;
        ports[i] = ntohs(ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)ss)->sin6_port
                                                   : ((const struct sockaddr_in *)ss)->sin_port);
    }
    for (int i = 0; i < cfg->threads; i++) {
        struct torus_shard *shard = &sv->shards[i];
        shard->id = i;
        shard->config = cfg;
        shard->cpu = (cfg->no_pin || cpu_count == 0) ? -1 : cpus[i % cpu_count];
        shard->access_log_fd = -1;
        if (torus_shard_bind(shard, cfg, ports, err, err_size) != TORUS_OK)
            return TORUS_ERROR;
        sv->count++;
    }
    int admin_fd = -1;
    if (cfg->admin_enabled) {
        uint16_t port = 0;
        admin_fd = torus_listen_socket("--admin-listen", &cfg->admin_listen, &port, err, err_size);
        if (admin_fd < 0)
            return TORUS_ERROR;
    }

    /* The access log: one descriptor every shard inherits; SIGUSR1 puts a new file under it. */
    if (cfg->access_log) {
        sv->access_log_fd = torus_access_log_open(cfg->access_log);
        if (sv->access_log_fd < 0) {
            snprintf(err, err_size, "--access-log %s: %s", cfg->access_log, strerror(errno));
            return TORUS_ERROR;
        }
    }

    bool tls_wanted = false;
    for (int i = 0; i < cfg->listener_count; i++)
        tls_wanted |= cfg->listeners[i].tls;
    if (tls_wanted) {
        sv->tls = torus_tls_context_new(cfg->tls_cert, cfg->tls_key, err, err_size);
        if (!sv->tls)
            return TORUS_ERROR;
    }

    /* Everything that needs root is done (ports bound, files opened). */
    if (torus_process_drop_privileges(cfg->user, cfg->group, err, err_size) != TORUS_OK)
        return TORUS_ERROR;

    sv->board = torus_scoreboard_create(cfg->threads, cfg->php_threads_per_core);
    if (!sv->board) {
        snprintf(err, err_size, "cannot map the scoreboard: %s", strerror(errno));
        return TORUS_ERROR;
    }
    torus_admin_server_init(&sv->admin, admin_fd, sv->board);
    for (int i = 0; i < sv->count; i++) {
        sv->shards[i].access_log_fd = sv->access_log_fd;
        sv->shards[i].tls = sv->tls;
        sv->shards[i].board = sv->board;
        atomic_store(&torus_scoreboard_shard(sv->board, i)->cpu, sv->shards[i].cpu);
    }
    return torus_sapi_startup(cfg, cfg->threads * cfg->php_threads_per_core, err, err_size);
}

/* In a new shard process: what belongs to the supervisor or to other shards is closed. */
static void child_close_inherited(struct supervisor *sv, int shard)
{
    close(sv->signal_fd);
    for (int i = 0; i < TORUS_ADMIN_MAX_CONNS; i++) {
        if (sv->admin.conns[i].fd >= 0)
            close(sv->admin.conns[i].fd);
    }
    if (sv->admin.listen_fd >= 0)
        close(sv->admin.listen_fd);
    if (sv->watch)
        close(torus_watch_fd(sv->watch));
    for (int i = 0; i < sv->count; i++) {
        if (i == shard)
            continue;
        for (int l = 0; l < sv->shards[i].listen_count; l++)
            close(sv->shards[i].listen_fds[l]);
    }
}

static void spawn(struct supervisor *sv, int i)
{
    struct shard_run *run = &sv->runs[i];
    pid_t pid = fork();
    if (pid < 0) {
        torus_log_error("shard %d: cannot start its process: %s; trying again in 1 s", i,
                        strerror(errno));
        run->state = SHARD_WAITING;
        run->restart_at_ms = now_ms() + 1000;
        return;
    }
    if (pid == 0) {
        /* SIGCHLD is the supervisor's: a script's own children (proc_open, pcntl) get it as
         * before. The shard waits for the others itself. */
        sigset_t chld;
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        sigprocmask(SIG_UNBLOCK, &chld, NULL);
        child_close_inherited(sv, i);
        _exit(torus_shard_process_run(&sv->shards[i], sv->pid));
    }
    struct torus_shard_slot *slot = torus_scoreboard_shard(sv->board, i);
    atomic_store(&slot->pid, pid);
    if (run->restarted)
        atomic_fetch_add(&slot->restarts, 1);
    run->restarted = true;
    run->state = SHARD_RUNNING;
    run->pid = pid;
    run->served = false;
}

static void begin_drain(struct supervisor *sv, int exit_code)
{
    if (sv->draining)
        return;
    sv->draining = true;
    sv->exit_code = exit_code;
    atomic_store(&sv->board->draining, true);
    sv->drain_kill_ms = now_ms() + (uint64_t)(sv->cfg->shutdown_timeout * 1000) + DRAIN_GRACE_MS;
    torus_process_notify("STOPPING=1");
    /* The shards close their listeners as they stop accepting; the supervisor's copies go now,
     * so a socket leaves the port's reuseport group as soon as its shard is done with it. */
    for (int i = 0; i < sv->count; i++) {
        for (int l = 0; l < sv->shards[i].listen_count; l++)
            close(sv->shards[i].listen_fds[l]);
        sv->shards[i].listen_count = 0;
    }
    for (int i = 0; i < sv->count; i++) {
        struct shard_run *run = &sv->runs[i];
        if (run->state == SHARD_RUNNING)
            kill(run->pid, SIGTERM);
        else
            run->state = SHARD_STOPPED;
    }
}

/* "; executor 0 was running GET /x (script /srv/x.php); executor 1 was idle" */
static void describe_executors(struct supervisor *sv, int shard, char *out, size_t size)
{
    size_t n = 0;
    out[0] = '\0';
    for (int e = 0; e < sv->board->executors_per_shard && n < size; e++) {
        char request[TORUS_SCOREBOARD_REQUEST_SIZE];
        torus_executor_slot_request(torus_scoreboard_executor(sv->board, shard, e), request,
                                    sizeof(request));
        if (request[0])
            n += (size_t)snprintf(out + n, size - n, "; executor %d was running %s", e, request);
        else
            n += (size_t)snprintf(out + n, size - n, "; executor %d was idle", e);
    }
}

/* A shard's process ended: log it, count it, and decide when it starts again. */
static void on_shard_exit(struct supervisor *sv, int i, int status)
{
    struct shard_run *run = &sv->runs[i];
    bool was_ready = run->served || torus_scoreboard_shard_ready(sv->board, i);
    char executors[1024];
    describe_executors(sv, i, executors, sizeof(executors));
    pid_t pid = run->pid;
    torus_scoreboard_shard_down(sv->board, i);
    run->pid = 0;

    bool expected = sv->draining && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (expected) {
        run->state = SHARD_STOPPED;
        return;
    }
    char cause[64];
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        char name[32];
        snprintf(cause, sizeof(cause), "was killed by %s",
                 torus_process_signal_name(sig, name, sizeof(name)));
        if (sig < TORUS_SCOREBOARD_SIGNALS)
            atomic_fetch_add(&sv->board->crashes[sig], 1);
        atomic_fetch_add(&torus_scoreboard_shard(sv->board, i)->crashes, 1);
    } else {
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        snprintf(cause, sizeof(cause), "%s (exit code %d)",
                 code == TORUS_SHARD_EXIT_FAILED ? "failed" : "exited", code);
        atomic_fetch_add(&sv->board->crashes[0], 1);
        atomic_fetch_add(&torus_scoreboard_shard(sv->board, i)->crashes, 1);
    }
    if (sv->draining) {
        torus_log_error("shard %d (pid %d) %s while draining%s", i, (int)pid, cause, executors);
        run->state = SHARD_STOPPED;
        if (sv->exit_code == 0)
            sv->exit_code = 1;
        return;
    }

    uint64_t delay = 0;
    if (was_ready) {
        run->failures = 0;
    } else {
        run->failures++;
        bool cannot_boot = WIFEXITED(status) && WEXITSTATUS(status) == TORUS_SHARD_EXIT_FAILED;
        int limit = TORUS_MAX(sv->cfg->max_consecutive_failures, 1);
        if (!sv->ready_once && (cannot_boot || run->failures >= limit)) {
            torus_log_error("shard %d (pid %d) %s before it could serve%s; no shard can start: "
                            "shutting down",
                            i, (int)pid, cause, executors);
            run->state = SHARD_STOPPED;
            begin_drain(sv, 2);
            return;
        }
        delay = TORUS_MIN((uint64_t)BACKOFF_FIRST_MS << TORUS_MIN(run->failures - 1, 16),
                          (uint64_t)BACKOFF_MAX_MS);
    }
    if (delay)
        torus_log_error("shard %d (pid %d) %s%s; starting it again on CPU %d in %llu ms (%d "
                        "failures in a row before serving)",
                        i, (int)pid, cause, executors, sv->shards[i].cpu, (unsigned long long)delay,
                        run->failures);
    else
        torus_log_error("shard %d (pid %d) %s%s; starting it again on CPU %d", i, (int)pid, cause,
                        executors, sv->shards[i].cpu);
    run->state = SHARD_WAITING;
    run->restart_at_ms = now_ms() + delay;
}

static void reap(struct supervisor *sv)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (int i = 0; i < sv->count; i++) {
            if (sv->runs[i].state == SHARD_RUNNING && sv->runs[i].pid == pid) {
                on_shard_exit(sv, i, status);
                break;
            }
        }
    }
}

/* SIGHUP in worker mode: the shards restart their worker scripts one shard after another. */
static void reload_next(struct supervisor *sv, int from)
{
    for (int i = from; i < sv->count; i++) {
        if (sv->runs[i].state != SHARD_RUNNING)
            continue; /* a shard that starts again boots the new scripts anyway */
        sv->reload_shard = i;
        sv->reload_pid = sv->runs[i].pid;
        sv->reload_target = atomic_load(&torus_scoreboard_shard(sv->board, i)->reloads) + 1;
        kill(sv->runs[i].pid, SIGHUP);
        return;
    }
    sv->reload_shard = -1;
    if (sv->reload_again) {
        sv->reload_again = false;
        reload_next(sv, 0);
        return;
    }
    torus_log_info("reload done: every worker script was restarted");
    torus_process_notify("READY=1");
}

/*
 * A file that --watch follows changed (after the quiet time): the worker
 * scripts restart as on SIGHUP, once more after a reload already under way.
 * In classic mode the next request reads the file (--watch sets
 * opcache.revalidate_freq=0 so that opcache checks every time).
 */
static void on_watch_change(struct supervisor *sv, const char *path)
{
    if (sv->draining)
        return;
    if (!sv->cfg->worker) {
        torus_log_info("watch: %s changed (classic mode: the next request runs it)", path);
    } else if (sv->reload_shard >= 0) {
        torus_log_info("watch: %s changed: restarting worker scripts after the reload under way",
                       path);
        sv->reload_again = true;
    } else {
        torus_log_info("watch: %s changed: restarting worker scripts", path);
        torus_process_notify("RELOADING=1");
        reload_next(sv, 0);
    }
}

static void reload_tick(struct supervisor *sv)
{
    int i = sv->reload_shard;
    if (i < 0)
        return;
    struct shard_run *run = &sv->runs[i];
    if (run->state == SHARD_RUNNING && run->pid == sv->reload_pid &&
        atomic_load(&torus_scoreboard_shard(sv->board, i)->reloads) < sv->reload_target)
        return;
    reload_next(sv, i + 1);
}

static void forward(struct supervisor *sv, int sig)
{
    for (int i = 0; i < sv->count; i++) {
        if (sv->runs[i].state == SHARD_RUNNING)
            kill(sv->runs[i].pid, sig);
    }
}

static void on_signal(struct supervisor *sv, int sig)
{
    char err[TORUS_CONFIG_ERROR_SIZE];
    const struct torus_config *cfg = sv->cfg;
    switch (sig) {
    case SIGCHLD:
        reap(sv);
        break;
    case SIGTERM:
    case SIGINT:
    case SIGQUIT:
        if (sv->draining) {
            torus_log_warn("second signal: cutting the connections still open");
            forward(sv, SIGTERM);
        } else {
            torus_log_info("received %s: draining (up to %.1f s)", strsignal(sig),
                           cfg->shutdown_timeout);
            begin_drain(sv, 0);
        }
        break;
    case SIGHUP:
        if (sv->draining)
            break;
        if (sv->tls) {
            /* For the shards started from now on; each running shard reloads its own copy. */
            if (torus_tls_context_reload(sv->tls, cfg->tls_cert, cfg->tls_key, err, sizeof(err)) ==
                TORUS_OK)
                torus_log_info("received SIGHUP: reloaded the TLS certificate");
            else
                torus_log_error("SIGHUP: keeping the old TLS certificate: %s", err);
        }
        if (!cfg->worker) {
            torus_log_info("received SIGHUP: classic mode reads scripts per request (opcache "
                           "revalidates them); nothing to restart");
            if (sv->tls)
                forward(sv, SIGHUP);
        } else if (sv->reload_shard >= 0) {
            torus_log_info("received SIGHUP: a reload is already under way");
        } else {
            torus_log_info("received SIGHUP: restarting worker scripts");
            torus_process_notify("RELOADING=1");
            reload_next(sv, 0);
        }
        break;
    case SIGUSR1:
        if (!cfg->access_log || sv->access_log_fd == STDOUT_FILENO) {
            torus_log_info("received SIGUSR1: no access log file to reopen");
            break;
        }
        if (torus_access_log_reopen(cfg->access_log, sv->access_log_fd) == TORUS_OK)
            torus_log_info("received SIGUSR1: reopened %s", cfg->access_log);
        else
            torus_log_error("SIGUSR1: cannot reopen --access-log %s: %s", cfg->access_log,
                            strerror(errno));
        forward(sv, SIGUSR1);
        break;
    default:
        break;
    }
}

/* Every TICK_MS and after every event: restarts that are due, reloads, readiness, drain. */
static void tick(struct supervisor *sv)
{
    uint64_t now = now_ms();
    bool all_ready = !sv->draining;
    for (int i = 0; i < sv->count; i++) {
        struct shard_run *run = &sv->runs[i];
        if (run->state == SHARD_WAITING && !sv->draining && now >= run->restart_at_ms)
            spawn(sv, i);
        bool ready = run->state == SHARD_RUNNING && torus_scoreboard_shard_ready(sv->board, i);
        if (ready && !run->served) {
            run->served = true;
            run->failures = 0;
        }
        all_ready &= ready;
    }
    if (all_ready && !sv->ready_once) {
        /* systemd's Type=notify: ready once every shard has an executor ready. */
        sv->ready_once = true;
        torus_process_notify("READY=1");
    }
    const char *changed = torus_watch_due(sv->watch, now);
    if (changed)
        on_watch_change(sv, changed);
    reload_tick(sv);
    torus_admin_server_tick(&sv->admin, now);
    if (sv->draining && now >= sv->drain_kill_ms) {
        for (int i = 0; i < sv->count; i++) {
            if (sv->runs[i].state == SHARD_RUNNING) {
                torus_log_error("shard %d (pid %d) still runs past the shutdown timeout: killing "
                                "it",
                                i, (int)sv->runs[i].pid);
                kill(sv->runs[i].pid, SIGKILL);
            }
        }
        sv->drain_kill_ms = UINT64_MAX;
    }
}

static bool any_running(const struct supervisor *sv)
{
    for (int i = 0; i < sv->count; i++) {
        if (sv->runs[i].state == SHARD_RUNNING)
            return true;
    }
    return false;
}

static void serve(struct supervisor *sv)
{
    struct pollfd fds[1 + TORUS_ADMIN_MAX_CONNS + 1 + 1]; /* signals, admin, --watch */
    while (!sv->draining || any_running(sv)) {
        fds[0].fd = sv->signal_fd;
        fds[0].events = POLLIN;
        fds[0].revents = 0;
        int admin_count = torus_admin_server_poll_fds(&sv->admin, fds + 1, now_ms());
        struct pollfd *watch_fd = &fds[1 + admin_count];
        watch_fd->fd = sv->watch ? torus_watch_fd(sv->watch) : -1;
        watch_fd->events = POLLIN;
        watch_fd->revents = 0;
        int rc = poll(fds, (nfds_t)(2 + admin_count), TICK_MS);
        if (rc < 0 && errno != EINTR) {
            torus_log_error("supervisor: poll: %s", strerror(errno));
            begin_drain(sv, 1);
        }
        if (rc > 0 && (fds[0].revents & POLLIN)) {
            struct signalfd_siginfo info;
            while (read(sv->signal_fd, &info, sizeof(info)) == (ssize_t)sizeof(info))
                on_signal(sv, (int)info.ssi_signo);
        }
        if (rc > 0)
            torus_admin_server_handle(&sv->admin, fds + 1, admin_count, now_ms());
        if (rc > 0 && (watch_fd->revents & POLLIN))
            torus_watch_read(sv->watch, now_ms());
        reap(sv); /* SIGCHLD merges: look for every dead child each time */
        tick(sv);
    }
}

static void release(struct supervisor *sv, bool php_started)
{
    torus_admin_server_close(&sv->admin);
    if (php_started)
        torus_sapi_shutdown();
    torus_tls_context_free(sv->tls);
    torus_watch_close(sv->watch);
    if (sv->shards) {
        for (int i = 0; i < sv->count; i++) {
            for (int l = 0; l < sv->shards[i].listen_count; l++)
                close(sv->shards[i].listen_fds[l]);
        }
    }
    if (sv->access_log_fd > STDOUT_FILENO)
        close(sv->access_log_fd);
    torus_scoreboard_destroy(sv->board);
    if (sv->signal_fd >= 0)
        close(sv->signal_fd);
    free(sv->shards);
    free(sv->runs);
}

int torus_supervisor_run(struct torus_config *cfg)
{
    torus_log_threshold = (enum torus_log_level)cfg->log_level;
    struct supervisor sv = {
        .cfg = cfg,
        .pid = getpid(),
        .signal_fd = -1,
        .access_log_fd = -1,
        .reload_shard = -1,
    };
    sv.admin.listen_fd = -1;
    for (int i = 0; i < TORUS_ADMIN_MAX_CONNS; i++)
        sv.admin.conns[i].fd = -1;

    /* Signals arrive through a signalfd here; the shards inherit the mask and sigtimedwait(). */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    sigaddset(&signals, SIGUSR1);
    sigaddset(&signals, SIGQUIT);
    sigaddset(&signals, SIGCHLD);
    sigprocmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    sv.signal_fd = signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sv.signal_fd < 0) {
        fprintf(stderr, "torus: signalfd: %s\n", strerror(errno));
        return 2;
    }

    char err[TORUS_CONFIG_ERROR_SIZE];
    uint16_t ports[TORUS_MAX_LISTENERS] = {0};
    if (prepare(&sv, ports, err, sizeof(err)) != TORUS_OK) {
        fprintf(stderr, "torus: %s\n", err);
        release(&sv, false);
        return 2;
    }
    if (cfg->watch_count) {
        sv.watch = torus_watch_open(cfg->watch, cfg->watch_count, err, sizeof(err));
        if (!sv.watch) {
            fprintf(stderr, "torus: %s\n", err);
            release(&sv, true);
            return 2;
        }
    }
    for (int i = 0; i < sv.count; i++)
        spawn(&sv, i);

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

    serve(&sv);
    int exit_code = sv.exit_code;
    release(&sv, true);
    return exit_code;
}
