/*
 * Shards: their sockets, their threads and their CPU.
 *
 * Every shard binds its own socket to each listening address with
 * SO_REUSEPORT, so the kernel spreads new connections over the shards and a
 * connection never moves between them. The shard's I/O thread and its
 * executors are pinned to the shard's CPU (unless --no-pin). All sockets are
 * bound by the main thread before any thread starts, so an address that
 * cannot be bound is reported before anything runs.
 */
#include "runtime/shard.h"

#include <errno.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "alloc/arena.h"
#include "net/tls.h"
#include "runtime/config_worker.h"
#include "runtime/log.h"

/*
 * Zero-downtime restarts rely on SO_REUSEPORT: a second process joins the
 * port, the first drains and closes its listeners. A connection the kernel
 * had already queued on a listener that closes is reset, unless the kernel
 * migrates it to another listener of the port. It does that when the port's
 * group carries a BPF program of type SK_REUSEPORT_SELECT_OR_MIGRATE (or
 * when the net.ipv4.tcp_migrate_req sysctl is on). This one is the smallest
 * such program: it returns SK_PASS without choosing, so new connections are
 * spread by the kernel's hash as without a program, and the queue of a
 * closing listener goes to the others. Loading it needs CAP_BPF (or root,
 * which binds before dropping privileges); without it, the gap stays: a
 * connection that arrives in the microseconds between the drain's last
 * accept() and close() is reset. Returns the program (-1: not available).
 */
static int migrate_program(void)
{
    static int program = -2;
    if (program != -2)
        return program;
    struct bpf_insn instructions[] = {
        {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = SK_PASS},
        {.code = BPF_JMP | BPF_EXIT},
    };
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.prog_type = BPF_PROG_TYPE_SK_REUSEPORT;
    attr.expected_attach_type = BPF_SK_REUSEPORT_SELECT_OR_MIGRATE;
    attr.insns = (uint64_t)(uintptr_t)instructions;
    attr.insn_cnt = TORUS_ARRAY_SIZE(instructions);
    attr.license = (uint64_t)(uintptr_t) "GPL";
    program = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
    if (program < 0) {
        torus_log_debug("SO_REUSEPORT migration program not loaded (%s): a restart may reset the "
                        "connections queued at the moment the old process closes its listeners",
                        strerror(errno));
        program = -1;
    }
    return program;
}

int torus_listen_socket(const char *flag, const struct torus_listen_addr *addr, uint16_t *port,
                        char *err, size_t err_size)
{
    struct sockaddr_storage ss = addr->addr;
    if (*port) {
        if (ss.ss_family == AF_INET6)
            ((struct sockaddr_in6 *)&ss)->sin6_port = htons(*port);
        else
            ((struct sockaddr_in *)&ss)->sin_port = htons(*port);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, err_size, "%s %s: socket: %s", flag, addr->text, strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
        snprintf(err, err_size, "%s %s: SO_REUSEPORT: %s", flag, addr->text, strerror(errno));
        close(fd);
        return -1;
    }
    if (ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, addr->addr_len) != 0) {
        snprintf(err, err_size, "%s %s: cannot bind: %s", flag, addr->text, strerror(errno));
        close(fd);
        return -1;
    }
    if (listen(fd, 4096) != 0) {
        snprintf(err, err_size, "%s %s: cannot listen: %s", flag, addr->text, strerror(errno));
        close(fd);
        return -1;
    }
    int program = migrate_program();
    if (program >= 0)
        setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &program, sizeof(program));
    if (!*port) {
        /* ":0" — the kernel chose a port: every other shard takes the same one. */
        struct sockaddr_storage bound;
        socklen_t len = sizeof(bound);
        getsockname(fd, (struct sockaddr *)&bound, &len);
        *port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                  : ((struct sockaddr_in *)&bound)->sin_port);
    }
    return fd;
}

int torus_shard_bind(struct torus_shard *shard, const struct torus_config *config,
                     uint16_t *port_of_listener, char *err, size_t err_size)
{
    shard->listen_count = 0;
    for (int i = 0; i < config->listener_count; i++) {
        int fd = torus_listen_socket(config->listeners[i].tls ? "--tls-listen" : "--listen",
                                     &config->listeners[i], &port_of_listener[i], err, err_size);
        if (fd < 0) {
            for (int j = 0; j < shard->listen_count; j++)
                close(shard->listen_fds[j]);
            shard->listen_count = 0;
            return TORUS_ERROR;
        }
        shard->listen_fds[shard->listen_count++] = fd;
    }
    return TORUS_OK;
}

static void *shard_main(void *arg)
{
    struct torus_shard *shard = arg;
    char name[16];
    snprintf(name, sizeof(name), "torus-io-%d", shard->id);
    pthread_setname_np(pthread_self(), name);
    torus_arena_bind_thread();

    shard->result = TORUS_OK;
    for (int i = 0; i < shard->executor_count; i++) {
        if (torus_executor_start(&shard->executors[i]) != TORUS_OK) {
            shard->result = TORUS_ERROR;
            break;
        }
    }
    /* The executors are started first: they must not inherit the I/O thread's scheduling policy,
     * which the loop changes (SCHED_BATCH, see net/loop.c). */
    if (shard->result == TORUS_OK)
        shard->result = torus_loop_run(shard);
    if (shard->result != TORUS_OK) {
        atomic_store(&shard->failed, true);
        for (int i = 0; i < shard->executor_count; i++)
            torus_executor_stop(&shard->executors[i]);
    }
    for (int i = 0; i < shard->executor_count; i++) {
        if (atomic_load(&shard->executors[i].result) != TORUS_OK)
            shard->result = TORUS_ERROR;
        torus_executor_join(&shard->executors[i]);
    }
    torus_tls_thread_cleanup();
    atomic_store(&shard->ended, true);
    return NULL;
}

int torus_shard_start(struct torus_shard *shard)
{
    atomic_init(&shard->draining, false);
    atomic_init(&shard->failed, false);
    atomic_init(&shard->ended, false);
    atomic_init(&shard->hurry, false);
    shard->slot = torus_scoreboard_shard(shard->board, shard->id);
    shard->metrics = &shard->slot->metrics;
    atomic_init(&shard->waker.sleeping, 0);
    shard->waker.event_fd = eventfd(0, EFD_CLOEXEC);
    if (shard->waker.event_fd < 0) {
        torus_log_error("shard %d: eventfd: %s", shard->id, strerror(errno));
        return TORUS_ERROR;
    }
    const struct torus_config *cfg = shard->config;
    int executors = torus_config_executors_per_shard(cfg);
    shard->executors = calloc((size_t)executors, sizeof(*shard->executors));
    if (!shard->executors)
        return TORUS_ERROR;
    for (int i = 0; i < executors; i++) {
        if (torus_executor_init(&shard->executors[i], cfg, &shard->waker,
                                torus_scoreboard_executor(shard->board, shard->id, i), shard->id, i,
                                shard->cpu) != TORUS_OK)
            return TORUS_ERROR;
        shard->executor_count++;
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    if (shard->cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(shard->cpu, &set);
        pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
    }
    int rc = pthread_create(&shard->thread, &attr, shard_main, shard);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        torus_log_error("shard %d: cannot start its thread: %s", shard->id, strerror(rc));
        return TORUS_ERROR;
    }
    shard->started = true;
    return TORUS_OK;
}

void torus_shard_wake(struct torus_shard *shard)
{
    uint64_t one = 1;
    ssize_t rc = write(shard->waker.event_fd, &one, sizeof(one));
    (void)rc;
}

void torus_shard_drain(struct torus_shard *shard)
{
    atomic_store(&shard->draining, true);
    torus_shard_wake(shard);
}

void torus_shard_hurry(struct torus_shard *shard)
{
    atomic_store(&shard->hurry, true);
    torus_shard_drain(shard);
}

int torus_shard_join(struct torus_shard *shard)
{
    if (!shard->started)
        return TORUS_ERROR;
    pthread_join(shard->thread, NULL);
    shard->started = false;
    free(shard->executors);
    shard->executors = NULL;
    close(shard->waker.event_fd);
    return shard->result;
}
