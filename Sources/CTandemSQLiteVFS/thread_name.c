// Thread names for the operating system: Foundation's Thread.name does not reach it on Linux,
// so the store's threads showed as their parent's name in `top -H` and `perf`.
#define _GNU_SOURCE
#include "tandem_vfs.h"
#include <pthread.h>
#include <string.h>

void tandem_name_current_thread(const char *name) {
#if defined(__linux__)
    char truncated[16];
    strncpy(truncated, name, sizeof truncated - 1);
    truncated[sizeof truncated - 1] = 0;
    pthread_setname_np(pthread_self(), truncated);
#else
    (void)name;
#endif
}
