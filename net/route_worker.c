/*
 * Worker-mode routing: which executors answer a PHP request (net/route_worker.h).
 * A handful of workers at most: linear scans.
 */
#include "net/route_worker.h"

#include <string.h>

#include "runtime/config_worker.h"

int torus_route_worker_matched(const struct torus_config *cfg, const char *path, size_t len)
{
    for (int i = 0; i < cfg->worker_count; i++) {
        const char *pattern = cfg->workers[i].match;
        if (pattern && torus_worker_match(pattern, path, len))
            return i;
    }
    return -1;
}

void torus_route_to_worker(struct torus_route *route)
{
    /* No file, no script name: the request names the worker's script (sapi/request_bind.c). */
    *route = (struct torus_route){.kind = TORUS_ROUTE_PHP, .path_info = ""};
}

/* The worker without match=, or -1. */
static int front_worker(const struct torus_config *cfg)
{
    for (int i = 0; i < cfg->worker_count; i++) {
        if (!cfg->workers[i].match)
            return i;
    }
    return -1;
}

/* Whether route runs the document root's index.php (for "/", "/index.php"). */
static bool is_root_index(const struct torus_config *cfg, const struct torus_route *route)
{
    static const char index_php[] = "/index.php";
    size_t root_len = strlen(cfg->root);
    while (root_len && cfg->root[root_len - 1] == '/')
        root_len--;
    return route->filename_len == root_len + sizeof(index_php) - 1 &&
           strncmp(route->filename, cfg->root, root_len) == 0 &&
           strcmp(route->filename + root_len, index_php) == 0;
}

bool torus_route_worker_replaces(const struct torus_config *cfg, int pool,
                                 const struct torus_route *route)
{
    return pool >= 1 && pool <= cfg->worker_count && route->filename_len &&
           strcmp(cfg->workers[pool - 1].script, route->filename) != 0;
}

bool torus_route_has_front_worker(const struct torus_config *cfg)
{
    return front_worker(cfg) >= 0;
}

int torus_route_pool(const struct torus_config *cfg, const struct torus_route *route)
{
    if (cfg->worker_count == 0)
        return TORUS_POOL_CLASSIC;
    int front = front_worker(cfg);
    if (route->filename_len == 0)
        return front >= 0 ? 1 + front : 1;
    for (int i = 0; i < cfg->worker_count; i++) {
        if (strcmp(cfg->workers[i].script, route->filename) == 0)
            return 1 + i;
    }
    if (front >= 0 && is_root_index(cfg, route))
        return 1 + front;
    return cfg->classic_executors > 0 ? TORUS_POOL_CLASSIC : 1;
}
