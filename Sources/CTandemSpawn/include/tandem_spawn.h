#ifndef TANDEM_SPAWN_H
#define TANDEM_SPAWN_H

#include <sys/types.h>

/// Starts `path` with `argv` and `envp` (NULL-terminated), its standard input from /dev/null,
/// standard output to `out_fd` and standard error to `err_fd`, and no other descriptor of the
/// parent open. Stores the child's id in `pid`; returns 0, or an errno value.
///
/// Instead of Foundation's Process.run, which on Linux (Swift 6.3.1) can crash the parent while it
/// lists /proc/self/fd (swift-corelibs-foundation#5472: a 256-byte copy of each directory entry's
/// name reads past the end of glibc's buffer), seen in a CI run of the tests.
int tandem_spawn(const char *path, char *const argv[], char *const envp[], int out_fd, int err_fd, pid_t *pid);

#endif
