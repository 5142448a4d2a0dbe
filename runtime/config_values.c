/*
 * The values of flags that other modules parse too: sizes with K/M/G
 * suffixes, durations in seconds, listen addresses, and the CPU count that
 * --threads auto resolves to. Declared in runtime/config.h.
 */
#include "runtime/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int torus_parse_size(const char *text, uint64_t *out)
{
    if (!isdigit((unsigned char)text[0]))
        return TORUS_ERROR;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno)
        return TORUS_ERROR;
    unsigned shift = 0;
    switch (*end) {
    case '\0':
        break;
    case 'k':
    case 'K':
        shift = 10;
        end++;
        break;
    case 'm':
    case 'M':
        shift = 20;
        end++;
        break;
    case 'g':
    case 'G':
        shift = 30;
        end++;
        break;
    default:
        return TORUS_ERROR;
    }
    if (*end == 'b' || *end == 'B')
        end++;
    if (*end != '\0' || (shift && v > (UINT64_MAX >> shift)))
        return TORUS_ERROR;
    *out = (uint64_t)v << shift;
    return TORUS_OK;
}

int torus_parse_duration(const char *text, double *out)
{
    if (!isdigit((unsigned char)text[0]) && text[0] != '.')
        return TORUS_ERROR;
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text)
        return TORUS_ERROR;
    if (*end == 's')
        end++;
    if (*end != '\0' || !isfinite(v) || v < 0 || v > 86400.0 * 365)
        return TORUS_ERROR;
    *out = v;
    return TORUS_OK;
}

int torus_parse_listen(const char *text, struct torus_listen_addr *out, char *err, size_t err_size)
{
    memset(out, 0, sizeof(*out));
    if (strlen(text) >= sizeof(out->text)) {
        snprintf(err, err_size, "address too long");
        return TORUS_ERROR;
    }
    snprintf(out->text, sizeof(out->text), "%s", text);

    char host[128];
    const char *port;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':') {
            snprintf(err, err_size, "expected [IPV6]:PORT");
            return TORUS_ERROR;
        }
        size_t n = (size_t)(close - text - 1);
        memcpy(host, text + 1, n);
        host[n] = '\0';
        port = close + 2;
    } else {
        const char *colon = strrchr(text, ':');
        if (!colon) {
            snprintf(err, err_size, "expected HOST:PORT");
            return TORUS_ERROR;
        }
        size_t n = (size_t)(colon - text);
        memcpy(host, text, n);
        host[n] = '\0';
        port = colon + 1;
    }
    char *end;
    errno = 0;
    long p = strtol(port, &end, 10);
    if (!port[0] || *end || errno || p < 0 || p > 65535) {
        snprintf(err, err_size, "bad port '%s'", port);
        return TORUS_ERROR;
    }

    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, err_size, "cannot resolve '%s': %s", host, gai_strerror(rc));
        return TORUS_ERROR;
    }
    /* With no host, prefer the IPv4 wildcard, as nginx's "listen PORT" does. */
    struct addrinfo *pick = res;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            pick = ai;
            break;
        }
    }
    memcpy(&out->addr, pick->ai_addr, pick->ai_addrlen);
    out->addr_len = pick->ai_addrlen;
    freeaddrinfo(res);
    return TORUS_OK;
}

int torus_config_cpu_count(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        return (int)sysconf(_SC_NPROCESSORS_ONLN);
    return CPU_COUNT(&set);
}
