/*
 * An LD_PRELOAD shim that makes accept4(2) fail, for tests/accept.rs.
 *
 * Configured by the environment:
 *   SHIM_ACCEPT_ERRNO  the errno of each failure (a number, e.g. ENOBUFS's)
 *   SHIM_ACCEPT_PASS   connections accepted normally before failures start
 *   SHIM_ACCEPT_UNTIL  a path: once it exists, accept4 works again
 *   SHIM_ACCEPT_COUNT  a path: the number of failed calls so far, replaced
 *                      after each one
 * Without SHIM_ACCEPT_ERRNO, accept4 is left alone.
 *
 * The state is not locked: the server calls accept4 from one thread only,
 * its acceptor.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

typedef int (*accept4_fn)(int, struct sockaddr *, socklen_t *, int);

static long passed;
static long failed;

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    static accept4_fn real;
    if (!real)
        real = (accept4_fn)dlsym(RTLD_NEXT, "accept4");

    const char *err = getenv("SHIM_ACCEPT_ERRNO");
    const char *pass = getenv("SHIM_ACCEPT_PASS");
    const char *until = getenv("SHIM_ACCEPT_UNTIL");
    int failing = err && passed >= (pass ? atol(pass) : 0) &&
                  !(until && access(until, F_OK) == 0);
    if (!failing) {
        int conn = real(fd, addr, len, flags);
        if (conn >= 0)
            passed++;
        return conn;
    }

    failed++;
    const char *count = getenv("SHIM_ACCEPT_COUNT");
    if (count) {
        /* Written beside, then renamed over: a reader sees the old count or
         * the new one, never a file half written. */
        char tmp[4096];
        char text[24];
        int n = snprintf(text, sizeof text, "%ld\n", failed);
        if (snprintf(tmp, sizeof tmp, "%s.tmp", count) < (int)sizeof tmp) {
            int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (out >= 0) {
                int whole = write(out, text, (size_t)n) == n;
                close(out);
                if (whole)
                    rename(tmp, count);
            }
        }
    }
    errno = atoi(err);
    return -1;
}
