/*
 * The --worker option string (runtime/config_worker.h): whitespace-separated
 * words, the first the script, each other one KEY=VALUE.
 */
#include "runtime/config_worker.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The script of a worker: absolute and resolved, a readable regular file. NULL with why. */
static char *worker_script(const char *path, char *why, size_t why_size)
{
    char *resolved = realpath(path, NULL);
    struct stat st;
    if (!resolved || stat(resolved, &st) != 0 || access(resolved, R_OK) != 0) {
        snprintf(why, why_size, "%s", strerror(errno));
        free(resolved);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(why, why_size, "not a regular file");
        free(resolved);
        return NULL;
    }
    return resolved;
}

static int parse_count(const char *text, uint64_t max, uint64_t *out)
{
    if (!isdigit((unsigned char)text[0]))
        return TORUS_ERROR;
    errno = 0;
    char *end;
    unsigned long long n = strtoull(text, &end, 10);
    if (errno || *end || n > max)
        return TORUS_ERROR;
    *out = n;
    return TORUS_OK;
}

static bool env_key_valid(const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv)
        return false;
    for (const char *p = kv; p < eq; p++) {
        if (!isalnum((unsigned char)*p) && *p != '_')
            return false;
    }
    return true;
}

/* Applies one KEY=VALUE word to w. TORUS_OK, or TORUS_ERROR with why. */
static int worker_option(struct torus_worker_config *w, const char *word, char *why,
                         size_t why_size)
{
    const char *eq = strchr(word, '=');
    if (!eq) {
        snprintf(why, why_size, "'%s' is not OPTION=VALUE", word);
        return TORUS_ERROR;
    }
    size_t key_len = (size_t)(eq - word);
    const char *value = eq + 1;
    uint64_t n;
    if (key_len == 5 && strncmp(word, "match", 5) == 0) {
        if (value[0] != '/' && value[0] != '*') {
            snprintf(why, why_size, "match=%s: a path pattern starts with '/' or '*'", value);
            return TORUS_ERROR;
        }
        free(w->match);
        w->match = strdup(value);
        return w->match ? TORUS_OK : TORUS_ERROR;
    }
    if (key_len == 3 && strncmp(word, "num", 3) == 0) {
        if (parse_count(value, 256, &n) != TORUS_OK || n == 0) {
            snprintf(why, why_size, "num=%s: expected a number from 1 to 256", value);
            return TORUS_ERROR;
        }
        w->num = (int)n;
        return TORUS_OK;
    }
    if (key_len == 12 && strncmp(word, "max-requests", 12) == 0) {
        if (parse_count(value, UINT64_MAX, &n) != TORUS_OK) {
            snprintf(why, why_size, "max-requests=%s: expected a whole number", value);
            return TORUS_ERROR;
        }
        w->max_requests = n;
        w->max_requests_set = true;
        return TORUS_OK;
    }
    if (key_len == 3 && strncmp(word, "env", 3) == 0) {
        if (!env_key_valid(value)) {
            snprintf(why, why_size, "env=%s: expected env=KEY=VALUE (KEY of letters, digits, _)",
                     value);
            return TORUS_ERROR;
        }
        char **grown = realloc(w->env, (size_t)(w->env_count + 1) * sizeof(*grown));
        if (!grown)
            return TORUS_ERROR;
        w->env = grown;
        w->env[w->env_count] = strdup(value);
        if (!w->env[w->env_count])
            return TORUS_ERROR;
        w->env_count++;
        return TORUS_OK;
    }
    if (key_len == 4 && strncmp(word, "name", 4) == 0) {
        if (!value[0] || strlen(value) >= TORUS_WORKER_NAME_MAX || strpbrk(value, "\"\\")) {
            snprintf(why, why_size,
                     "name=%s: expected a name of 1 to %d bytes, without quotes or backslashes",
                     value, TORUS_WORKER_NAME_MAX - 1);
            return TORUS_ERROR;
        }
        free(w->name);
        w->name = strdup(value);
        return w->name ? TORUS_OK : TORUS_ERROR;
    }
    snprintf(why, why_size, "unknown option '%.*s' (expected match, num, max-requests, env, name)",
             (int)key_len, word);
    return TORUS_ERROR;
}

static void worker_free(struct torus_worker_config *w)
{
    free(w->script);
    free(w->match);
    free(w->name);
    for (int i = 0; i < w->env_count; i++)
        free(w->env[i]);
    free(w->env);
    memset(w, 0, sizeof(*w));
}

/* Parses value's words into w. TORUS_OK, or TORUS_ERROR with why. */
static int worker_parse(struct torus_worker_config *w, const char *value, char *why,
                        size_t why_size)
{
    char *copy = strdup(value);
    if (!copy) {
        snprintf(why, why_size, "out of memory");
        return TORUS_ERROR;
    }
    int rc = TORUS_OK;
    char *save = NULL;
    char *word = strtok_r(copy, " \t", &save);
    if (!word) {
        snprintf(why, why_size, "expected a worker script");
        rc = TORUS_ERROR;
    } else if (!(w->script = worker_script(word, why, why_size))) {
        rc = TORUS_ERROR;
    }
    while (rc == TORUS_OK && (word = strtok_r(NULL, " \t", &save)) != NULL)
        rc = worker_option(w, word, why, why_size);
    if (rc == TORUS_OK && !w->name) {
        const char *slash = strrchr(w->script, '/');
        w->name = strndup(slash ? slash + 1 : w->script, TORUS_WORKER_NAME_MAX - 1);
        if (!w->name)
            rc = TORUS_ERROR;
    }
    free(copy);
    return rc;
}

int torus_config_worker_add(struct torus_config *cfg, const char *flag, const char *value,
                            char *err, size_t err_size)
{
    if (cfg->worker_count == TORUS_MAX_WORKERS) {
        snprintf(err, err_size, "%s %s: at most %d workers", flag, value, TORUS_MAX_WORKERS);
        return TORUS_ERROR;
    }
    struct torus_worker_config w = {0};
    char why[256] = "out of memory";
    if (worker_parse(&w, value, why, sizeof(why)) != TORUS_OK) {
        snprintf(err, err_size, "%s %s: %s", flag, value, why);
        worker_free(&w);
        return TORUS_ERROR;
    }
    for (int i = 0; i < cfg->worker_count; i++) {
        const struct torus_worker_config *other = &cfg->workers[i];
        const char *clash = strcmp(other->name, w.name) == 0 ? "name" : NULL;
        if (!clash && !w.match && !other->match)
            clash = "front controller (only one worker may go without match=)";
        if (clash) {
            snprintf(err, err_size, "%s %s: same %s as an earlier worker", flag, value, clash);
            worker_free(&w);
            return TORUS_ERROR;
        }
    }
    struct torus_worker_config *grown =
        realloc(cfg->workers, (size_t)(cfg->worker_count + 1) * sizeof(*grown));
    if (!grown || (!cfg->worker && !(cfg->worker = strdup(w.script)))) {
        if (grown)
            cfg->workers = grown;
        snprintf(err, err_size, "%s %s: out of memory", flag, value);
        worker_free(&w);
        return TORUS_ERROR;
    }
    cfg->workers = grown;
    cfg->workers[cfg->worker_count++] = w;
    return TORUS_OK;
}

int torus_config_workers_finish(struct torus_config *cfg, bool thread_safe, char *err,
                                size_t err_size)
{
    int executors = 0;
    for (int i = 0; i < cfg->worker_count; i++) {
        struct torus_worker_config *w = &cfg->workers[i];
        if (!w->num)
            w->num = cfg->php_threads_per_core;
        if (!w->max_requests_set)
            w->max_requests = cfg->max_requests;
        executors += w->num;
    }
    cfg->classic_executors = cfg->worker_count ? cfg->php_threads_per_core : 0;
    if (cfg->worker_count && !thread_safe) {
        if (executors > 1) {
            snprintf(err, err_size,
                     "--worker: %d worker executors per shard, but this PHP is not thread-safe "
                     "(NTS: one executor per shard); use one worker with num=1, or the ZTS build",
                     executors);
            return TORUS_ERROR;
        }
        cfg->classic_executors = 0;
    }
    return TORUS_OK;
}

int torus_config_executors_per_shard(const struct torus_config *cfg)
{
    if (!cfg->worker_count)
        return cfg->php_threads_per_core;
    int n = cfg->classic_executors;
    for (int i = 0; i < cfg->worker_count; i++)
        n += cfg->workers[i].num > 0 ? cfg->workers[i].num : cfg->php_threads_per_core;
    return n;
}

const struct torus_worker_config *torus_config_executor_worker(const struct torus_config *cfg,
                                                               int index)
{
    for (int i = 0; i < cfg->worker_count; i++) {
        int num = cfg->workers[i].num > 0 ? cfg->workers[i].num : cfg->php_threads_per_core;
        if (index < num)
            return &cfg->workers[i];
        index -= num;
    }
    return NULL;
}

bool torus_worker_match(const char *pattern, const char *path, size_t len)
{
    /* Glob with backtracking to the last '*': linear in practice, never recursive. */
    size_t p = 0, s = 0, star = SIZE_MAX, resume = 0;
    size_t plen = strlen(pattern);
    while (s < len) {
        if (p < plen && pattern[p] == '*') {
            star = p++;
            resume = s;
        } else if (p < plen &&
                   tolower((unsigned char)pattern[p]) == tolower((unsigned char)path[s])) {
            p++;
            s++;
        } else if (star != SIZE_MAX) {
            p = star + 1;
            s = ++resume;
        } else {
            return false;
        }
    }
    while (p < plen && pattern[p] == '*')
        p++;
    return p == plen;
}

void torus_config_workers_free(struct torus_config *cfg)
{
    for (int i = 0; i < cfg->worker_count; i++)
        worker_free(&cfg->workers[i]);
    free(cfg->workers);
    cfg->workers = NULL;
    cfg->worker_count = 0;
}
