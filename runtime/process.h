/*
 * Process-wide chores: dropping root after binding (--user/--group), telling
 * systemd how the server is doing (Type=notify), naming signals.
 */
#ifndef TORUS_PROCESS_H
#define TORUS_PROCESS_H

#include <stddef.h>

/*
 * When running as root and user is set: switches to user (and group, or the
 * user's primary group) for good. TORUS_OK, or TORUS_ERROR with a one-line
 * message naming the flag.
 */
int torus_process_drop_privileges(const char *user, const char *group, char *err, size_t err_size);

/*
 * Sends a state line ("READY=1", "RELOADING=1", "STOPPING=1") to systemd
 * when it started us with a notification socket ($NOTIFY_SOCKET); otherwise
 * does nothing. The protocol is one datagram, so no library is needed.
 */
void torus_process_notify(const char *state);

/* The signal's name ("SIGSEGV"), written into out (16 bytes suffice); a number when unknown. */
const char *torus_process_signal_name(int sig, char *out, size_t size);

#endif
