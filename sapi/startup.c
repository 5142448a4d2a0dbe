/*
 * PHP's start-up and shutdown for Torus (sapi/startup.h):
 * Debian's defaults below php.ini, opcache found and loaded, the -d entries,
 * the session folder made when missing, module start-up once per process
 * (the supervisor's, before it forks the shards), --modules, shutdown.
 */
#include "sapi/sapi.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <php.h>
#include <SAPI.h>
#include <php_main.h>
#include <zend_extensions.h>

#include "runtime/log.h"
#include "sapi/hooks.h"
#include "sapi/server_vars.h"
#include "sapi/startup.h"

static bool php_started;
static char *ini_entries;

/* TSRM's shutdown (ZTS); an NTS PHP has none. */
static void tsrm_stop(void)
{
#ifdef ZTS
    tsrm_shutdown();
#endif
}

bool torus_sapi_php_started(void)
{
    return php_started;
}

static void ini_default(HashTable *configuration, const char *name, const char *value)
{
    zval entry;
    ZVAL_NEW_STR(&entry, zend_string_init(value, strlen(value), 1));
    zend_hash_str_update(configuration, name, strlen(name), &entry);
}

/*
 * Defaults below php.ini: PHP-FPM's production stance, and Debian's choices
 * (sessions in /var/lib/php/sessions, made at start-up when missing; the
 * time zone UTC unless php.ini names one).
 */
static void on_ini_defaults(HashTable *configuration)
{
    ini_default(configuration, "display_errors", "0");
    ini_default(configuration, "log_errors", "1");
    ini_default(configuration, "opcache.enable", "1");
    ini_default(configuration, "date.timezone", "UTC");
    ini_default(configuration, "session.save_path", TORUS_SAPI_SESSION_DIR);
}

/*
 * PHP opens extensions (opcache, the PECL ones of conf.d) with
 * dlopen(RTLD_DEEPBIND): an extension then binds to its own dependencies
 * before the executable. Here that is wrong twice over: its malloc() and
 * free() become libc's while the engine, linked into the executable,
 * allocates with jemalloc (APCu frees at shutdown what the engine allocated:
 * "free(): invalid pointer"), and the sanitizer runtimes refuse the flag by
 * aborting the process. The executable's own dlopen comes first in symbol
 * resolution: it drops the flag and hands on to the next one (the
 * sanitizer's, else libc's).
 */
void *dlopen(const char *file, int mode)
{
    static void *(*next_dlopen)(const char *, int);
    if (!next_dlopen)
        next_dlopen = (void *(*)(const char *, int))dlsym(RTLD_NEXT, "dlopen");
    return next_dlopen(file, mode & ~RTLD_DEEPBIND);
}

/*
 * The opcache shared object to load, or NULL (built in, or not there, or
 * loaded by -d, or an NTS PHP: Debian's, whose conf.d loads it as
 * 10-opcache.ini when php-opcache is installed and enabled).
 */
static const char *opcache_path(const struct torus_config *cfg, char *path, size_t size)
{
#if PHP_VERSION_ID >= 80500 || defined(__SANITIZE_THREAD__) || !defined(ZTS)
    /*
     * PHP >= 8.5: opcache is part of the engine. ThreadSanitizer builds run
     * without it: the executors read the interned strings one of them has
     * just copied into opcache's shared memory (under opcache's lock) without
     * taking the lock, which TSan reports as a race on every test.
     */
    (void)cfg;
    (void)path;
    (void)size;
    return NULL;
#else
    for (int i = 0; i < cfg->ini_count; i++) {
        if (strcmp(cfg->ini_entries[i].key, "zend_extension") == 0 &&
            strstr(cfg->ini_entries[i].value, "opcache"))
            return NULL;
    }
    snprintf(path, size, "%s/opcache.so", TORUS_PHP_EXTENSION_DIR);
    if (access(path, R_OK) != 0) {
        torus_log_warn("opcache: %s is not readable; PHP runs without opcode cache", path);
        return NULL;
    }
    return path;
#endif
}

/*
 * INI text parsed after php.ini: opcache, then each -d entry. A value that
 * does not start with a letter, a digit or a quote is quoted, as
 * `php -d` does, so "-1" or "/tmp" stay strings and E_ALL & ~E_NOTICE stays
 * an expression.
 */
static char *ini_entries_build(const struct torus_config *cfg)
{
    char opcache[4096];
    const char *opcache_so = opcache_path(cfg, opcache, sizeof(opcache));
    size_t size = 64 + (opcache_so ? strlen(opcache_so) : 0);
    for (int i = 0; i < cfg->ini_count; i++)
        size += strlen(cfg->ini_entries[i].key) + strlen(cfg->ini_entries[i].value) + 8;
    char *text = malloc(size);
    if (!text)
        return NULL;
    size_t n = 0;
    if (opcache_so)
        n += (size_t)snprintf(text + n, size - n, "zend_extension=\"%s\"\n", opcache_so);
    for (int i = 0; i < cfg->ini_count; i++) {
        const char *key = cfg->ini_entries[i].key;
        const char *value = cfg->ini_entries[i].value;
        unsigned char first = (unsigned char)value[0];
        bool quote = first && !isalnum(first) && first != '"' && first != '\'';
        n += (size_t)snprintf(text + n, size - n, quote ? "%s=\"%s\"\n" : "%s=%s\n", key, value);
    }
    text[n] = '\0';
    return text;
}

/* PHP's start-up for torus_sapi_startup() and torus_sapi_print_modules(). */
static int php_start(const struct torus_config *cfg, int max_threads, char *err, size_t err_size)
{
    if (php_started) {
        snprintf(err, err_size, "PHP is already started");
        return TORUS_ERROR;
    }
    /* A write to a closed socket of a script (fsockopen) must not kill the server. */
    struct sigaction pipe_action;
    if (sigaction(SIGPIPE, NULL, &pipe_action) == 0 && pipe_action.sa_handler == SIG_DFL)
        signal(SIGPIPE, SIG_IGN);

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    /*
     * Extensions stay mapped at shutdown: what one keeps in its globals until
     * the process ends (ImageMagick's, under imagick) is then still reachable
     * rather than a leak report with "<unknown module>" frames.
     */
    setenv("ZEND_DONT_UNLOAD_MODULES", "1", 0);
#endif
#ifdef ZTS
    if (max_threads < 1)
        max_threads = 1;
    if (!tsrm_startup(max_threads + 1, 1, 0, NULL)) {
        snprintf(err, err_size, "PHP's thread-safe resource manager failed to start");
        return TORUS_ERROR;
    }
    php_reserve_tsrm_memory();
    (void)ts_resource(0);
    ZEND_TSRMLS_CACHE_UPDATE();
#else
    (void)max_threads; /* NTS: one interpreter per process, its executor's */
#endif
    zend_signal_startup();

    torus_sapi_module.ini_defaults = on_ini_defaults;
    torus_sapi_module.php_ini_ignore_cwd = 1;
    sapi_startup(&torus_sapi_module); /* copies the module into sapi_module */

    ini_entries = ini_entries_build(cfg);
    if (!ini_entries) {
        snprintf(err, err_size, "out of memory while preparing PHP's settings");
        sapi_shutdown();
        tsrm_stop();
        return TORUS_ERROR;
    }
    sapi_module.ini_entries = ini_entries;
    sapi_module.php_ini_path_override = cfg->php_ini_file;

    if (sapi_module.startup(&sapi_module) == FAILURE) {
        snprintf(err, err_size, "PHP %s failed to start (see the PHP messages above)", PHP_VERSION);
        sapi_shutdown();
        tsrm_stop();
        free(ini_entries);
        ini_entries = NULL;
        return TORUS_ERROR;
    }
    php_started = true;
    torus_sapi_server_startup();
    return TORUS_OK;
}

/* Makes the folders down to path (0755), the last one with `mode`. */
static int make_folder(const char *path, mode_t mode)
{
    char partial[PATH_MAX];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof(partial))
        return -1;
    memcpy(partial, path, len + 1);
    for (char *slash = strchr(partial + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        if (mkdir(partial, 0755) != 0 && errno != EEXIST)
            return -1;
        *slash = '/';
    }
    if (mkdir(partial, mode) != 0)
        return -1;
    return chmod(partial, mode); /* past the umask */
}

/*
 * The files session handler's folder. Debian's (the default) is made when
 * missing, mode 1733 as Debian makes it: anyone may create a session file,
 * nobody may list them. A folder that php.ini or -d names must exist: a typo
 * there would otherwise only show as a warning at the first session_start().
 * Other handlers (redis, memcached) have no folder to check.
 */
static int session_folder_prepare(char *err, size_t err_size)
{
    const char *handler =
        zend_ini_string("session.save_handler", sizeof("session.save_handler") - 1, 0);
    const char *save_path =
        zend_ini_string("session.save_path", sizeof("session.save_path") - 1, 0);
    if (!handler || strcmp(handler, "files") != 0 || !save_path || !save_path[0])
        return TORUS_OK;
    /* "N;MODE;/path": the folder is the last part. */
    const char *folder = strrchr(save_path, ';');
    folder = folder ? folder + 1 : save_path;
    struct stat st;
    int found = stat(folder, &st);
    if (found == 0 && S_ISDIR(st.st_mode))
        return TORUS_OK;
    if (strcmp(save_path, TORUS_SAPI_SESSION_DIR) != 0) {
        snprintf(err, err_size, "session.save_path %s: %s", folder,
                 found == 0 ? "not a directory" : strerror(errno));
        return TORUS_ERROR;
    }
    if (make_folder(folder, 01733) != 0) {
        torus_log_warn("session.save_path %s could not be made (%s): session_start() will fail "
                       "until it exists or -d session.save_path names another folder",
                       folder, strerror(errno));
        return TORUS_OK;
    }
    torus_log_info("made session folder %s (mode 1733)", folder);
    return TORUS_OK;
}

int torus_sapi_php_startup(const struct torus_config *cfg, int max_threads, char *err,
                           size_t err_size)
{
    if (php_start(cfg, max_threads, err, err_size) != TORUS_OK)
        return TORUS_ERROR;
    if (session_folder_prepare(err, err_size) != TORUS_OK) {
        torus_sapi_shutdown();
        return TORUS_ERROR;
    }
    return TORUS_OK;
}

static int module_name_compare(const void *a, const void *b)
{
    return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

static void print_zend_extension(void *element, void *argument)
{
    const zend_extension *extension = element;
    fprintf(argument, "%s\n", extension->name);
}

int torus_sapi_print_modules(const struct torus_config *cfg, void *file, char *err, size_t err_size)
{
    FILE *out = file;
    if (php_start(cfg, 1, err, err_size) != TORUS_OK)
        return TORUS_ERROR;
    /* The same two lists as `php -m`, in its order: by name, case aside. */
    uint32_t count = zend_hash_num_elements(&module_registry);
    const char **names = calloc(count ? count : 1, sizeof(*names));
    if (!names) {
        snprintf(err, err_size, "out of memory while listing PHP's modules");
        torus_sapi_shutdown();
        return TORUS_ERROR;
    }
    uint32_t n = 0;
    const zend_module_entry *module;
    ZEND_HASH_MAP_FOREACH_PTR(&module_registry, module)
    {
        if (n < count)
            names[n++] = module->name;
    }
    ZEND_HASH_FOREACH_END();
    qsort(names, n, sizeof(*names), module_name_compare);
    fprintf(out, "[PHP Modules]\n");
    for (uint32_t i = 0; i < n; i++)
        fprintf(out, "%s\n", names[i]);
    fprintf(out, "\n[Zend Modules]\n");
    zend_llist_apply_with_argument(&zend_extensions, print_zend_extension, out);
    fprintf(out, "\n");
    free(names);
    torus_sapi_shutdown();
    return TORUS_OK;
}

void torus_sapi_shutdown(void)
{
    if (!php_started)
        return;
    if (sapi_module.shutdown)
        sapi_module.shutdown(&sapi_module);
    sapi_shutdown();
    tsrm_stop();
    torus_sapi_server_shutdown();
    free(ini_entries);
    ini_entries = NULL;
    php_started = false;
}

const char *torus_sapi_php_version(void)
{
#ifdef ZTS
    return PHP_VERSION " (ZTS)";
#else
    return PHP_VERSION " (NTS)";
#endif
}

bool torus_sapi_thread_safe(void)
{
#ifdef ZTS
    return true;
#else
    return false;
#endif
}
