/*
 * One executor thread's SAPI state and PHP context (sapi/thread.h), and the
 * events it counts for /metrics.
 */
#include "sapi/thread.h"

#include <string.h>

#include <php.h>
#include <SAPI.h>
#include <php_main.h>
#include <zend_virtual_cwd.h>

#include "sapi/functions.h"
#include "sapi/server_vars.h"

_Thread_local struct torus_sapi_thread *torus_sapi_current;

#ifdef VIRTUAL_DIR
/*
 * php_execute_script() moves the thread's virtual working directory (ZTS) to
 * the script's directory and back afterwards, and checks each directory with
 * a stat() (php_is_dir_ok): two system calls and path walks per request,
 * about a fifth of the PHP thread's CPU on a classic-mode hello. Torus makes
 * the same two moves without the checks: the directory it enters is the one
 * the router has just found the script in, resolved as PHP resolves it
 * (virtual_file_ex(), symbolic links through the realpath cache), and the one
 * it goes back to is the working directory of a moment before, restored
 * verbatim. What the script sees (getcwd(), relative include paths, the
 * working directory of shutdown functions) is what PHP's own moves give.
 */
#define OLD_CWD_SIZE 4096 /* as php_execute_script(): a longer directory is not gone back to */

/* Saves the working directory into old (empty: none to go back to) and enters filename's. */
static void script_directory_enter(const char *filename, char *old)
{
    cwd_state *cwd = &CWDG(cwd);
    old[0] = '\0';
    if (cwd->cwd && cwd->cwd_length < OLD_CWD_SIZE - 1)
        memcpy(old, cwd->cwd, cwd->cwd_length + 1);
    size_t len = strlen(filename);
    while (len && filename[len - 1] != '/')
        len--;
    if (len == 0)
        return; /* a bare file name: PHP's chdir fails and nothing moves */
    size_t dir_len = len == 1 ? 1 : len - 1; /* "/index.php": "/" */
    if (dir_len >= MAXPATHLEN) {
        VCWD_CHDIR_FILE(filename); /* PHP's own way */
        return;
    }
    char dir[MAXPATHLEN];
    memcpy(dir, filename, dir_len);
    dir[dir_len] = '\0';
    virtual_file_ex(cwd, dir, NULL, CWD_REALPATH);
}

static void script_directory_leave(const char *old)
{
    if (!old[0])
        return;
    cwd_state *cwd = &CWDG(cwd);
    size_t len = strlen(old);
    cwd->cwd = erealloc(cwd->cwd, len + 1);
    memcpy(cwd->cwd, old, len + 1);
    cwd->cwd_length = len;
}
#endif

void torus_sapi_execute_file(const char *filename)
{
    zend_file_handle file;
    zend_stream_init_filename(&file, filename);
    file.primary_script = 1;
#ifdef VIRTUAL_DIR
    char old_cwd[OLD_CWD_SIZE];
    int options = SG(options);
    if (!(options & SAPI_OPTION_NO_CHDIR))
        script_directory_enter(filename, old_cwd);
    SG(options) |= SAPI_OPTION_NO_CHDIR;
#endif
    zend_first_try
    {
        php_execute_script(&file);
    }
    zend_end_try();
#ifdef VIRTUAL_DIR
    SG(options) = options;
    if (!(options & SAPI_OPTION_NO_CHDIR))
        script_directory_leave(old_cwd);
#endif
    zend_destroy_file_handle(&file);
}

void torus_sapi_note(struct torus_sapi_thread *t, enum torus_executor_event event)
{
    if (t->port->note)
        t->port->note(t->port, event);
}

bool torus_sapi_note_failure(struct torus_sapi_thread *t)
{
    const int fatal = E_ERROR | E_CORE_ERROR | E_COMPILE_ERROR | E_USER_ERROR | E_PARSE;
    if (!PG(last_error_message) || !(PG(last_error_type) & fatal))
        return false;
    const char *message = ZSTR_VAL(PG(last_error_message));
    enum torus_executor_event event = TORUS_EVENT_CRASH_FATAL_ERROR;
    if (strstr(message, "Maximum execution time"))
        event = TORUS_EVENT_CRASH_TIMEOUT;
    else if (strstr(message, "Allowed memory size"))
        event = TORUS_EVENT_CRASH_MEMORY;
    else if (strncmp(message, "Uncaught ", 9) == 0)
        event = TORUS_EVENT_CRASH_EXCEPTION;
    torus_sapi_note(t, event);
    return true;
}

/*
 * Gives the calling thread its PHP context. Zend signals would otherwise
 * install their own handler for SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and
 * SIGUSR2 at every request, process-wide, replacing Torus' own and running
 * on threads that have no PHP context: signal "reset" is switched off, so
 * only the signals PHP arms itself (the time limit's SIGPROF, pcntl_signal())
 * get its handler.
 */
void torus_sapi_thread_context_acquire(void)
{
#ifdef ZTS
    (void)ts_resource(0);
    ZEND_TSRMLS_CACHE_UPDATE();
#endif
#ifdef ZEND_SIGNALS
    SIGG(reset) = 0;
#endif
    /*
     * opcache_reset() would empty the shared cache under the scripts the
     * other executors are running (opcache's "nobody is using it" check
     * looks at processes, not threads). Each thread holds its own copy of
     * the internal function, so its handler is swapped here, per thread.
     */
    zend_function *reset =
        zend_hash_str_find_ptr(CG(function_table), "opcache_reset", sizeof("opcache_reset") - 1);
    if (reset && reset->type == ZEND_INTERNAL_FUNCTION)
        reset->internal_function.handler = ZEND_FN(torus_sapi_opcache_reset_refused);
    torus_sapi_filter_functions_wrap();
}

/* Frees the calling thread's PHP context (ZTS); an NTS PHP has one, the process's, kept. */
void torus_sapi_thread_context_release(void)
{
#ifdef ZTS
    ts_free_thread();
#endif
}