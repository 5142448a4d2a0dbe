/*
 * Privilege dropping and systemd's readiness protocol. See process.h.
 */
#include "runtime/process.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "runtime/common.h"

int torus_process_drop_privileges(const char *user, const char *group, char *err, size_t err_size)
{
    if (!user && !group)
        return TORUS_OK;
    if (geteuid() != 0) {
        snprintf(err, err_size, "%s needs torus to be started as root",
                 user ? "--user" : "--group");
        return TORUS_ERROR;
    }
    if (!user) {
        snprintf(err, err_size, "--group needs --user");
        return TORUS_ERROR;
    }
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        snprintf(err, err_size, "--user %s: no such user", user);
        return TORUS_ERROR;
    }
    gid_t gid = pw->pw_gid;
    if (group) {
        struct group *gr = getgrnam(group);
        if (!gr) {
            snprintf(err, err_size, "--group %s: no such group", group);
            return TORUS_ERROR;
        }
        gid = gr->gr_gid;
    }
    if (setgroups(0, NULL) != 0 || initgroups(pw->pw_name, gid) != 0 || setgid(gid) != 0 ||
        setuid(pw->pw_uid) != 0) {
        snprintf(err, err_size, "--user %s: cannot switch: %s", user, strerror(errno));
        return TORUS_ERROR;
    }
    if (setuid(0) == 0) {
        snprintf(err, err_size, "--user %s: root could be regained; refusing to run", user);
        return TORUS_ERROR;
    }
    return TORUS_OK;
}

void torus_process_notify(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !path[0])
        return;
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    size_t len = strlen(path);
    if (len >= sizeof(addr.sun_path))
        return;
    memcpy(addr.sun_path, path, len);
    if (path[0] == '@')
        addr.sun_path[0] = '\0'; /* an abstract socket */
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    ssize_t rc = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&addr,
                        (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
    (void)rc;
    close(fd);
}

const char *torus_process_signal_name(int sig, char *out, size_t size)
{
    const char *abbrev = sigabbrev_np(sig);
    if (abbrev)
        snprintf(out, size, "SIG%s", abbrev);
    else
        snprintf(out, size, "signal %d", sig);
    return out;
}
