/*
 * torus: the command line. A bad flag is one line on stderr and exit code 2;
 * --help, --version and --modules print and exit 0 (--modules starts PHP to
 * see what loads, and exits 2 when it cannot); anything else runs the server, a
 * supervisor process above one process per shard (runtime/supervisor.c).
 * `torus status ...` is a client of a running server's admin listener
 * (runtime/status_cli.c), handed its arguments before any flag is parsed.
 */
#include <llhttp.h>
#include <stdio.h>
#include <string.h>
#include <wolfssl/version.h>

#include "alloc/arena.h"
#include "runtime/config.h"
#include "runtime/status_cli.h"
#include "runtime/supervisor.h"
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

/*
 * What the linked PHP cannot do: an NTS PHP (Debian's libphpX.Y-embed) has
 * one interpreter per process, so one executor per shard. Also settles
 * `--php-threads-per-core auto`: TORUS_DEFAULT_EXECUTORS with a ZTS PHP, 1
 * without. TORUS_OK or TORUS_ERROR with the message in err.
 */
static int check_php_support(struct torus_config *cfg, char *err, size_t err_size)
{
    if (cfg->php_threads_per_core == 0) /* auto */
        cfg->php_threads_per_core = torus_sapi_thread_safe() ? TORUS_DEFAULT_EXECUTORS : 1;
    if (cfg->php_threads_per_core > 1 && !torus_sapi_thread_safe()) {
        snprintf(err, err_size,
                 "--php-threads-per-core %d: this torus is linked with PHP %s, which runs one "
                 "executor per shard; several per core need the ZTS build (make build PHP=zts)",
                 cfg->php_threads_per_core, torus_sapi_php_version());
        return TORUS_ERROR;
    }
    return TORUS_OK;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "status") == 0)
        return torus_status_main(argc - 1, argv + 1);

    struct torus_config cfg;
    char err[TORUS_CONFIG_ERROR_SIZE];
    torus_config_defaults(&cfg);
    int rc = torus_config_parse(&cfg, argc, argv, err, sizeof(err));
    if (rc == TORUS_OK)
        rc = check_php_support(&cfg, err, sizeof(err));
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
    } else if (rc == TORUS_CONFIG_MODULES) {
        exit_code = 0;
        if (torus_sapi_print_modules(&cfg, stdout, err, sizeof(err)) != TORUS_OK) {
            fprintf(stderr, "torus: %s\n", err);
            exit_code = 2;
        }
    } else {
        exit_code = torus_supervisor_run(&cfg);
    }
    torus_config_free(&cfg);
    return exit_code;
}
