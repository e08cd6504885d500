#ifndef TANDEM_SQLITE_SHIM_H
#define TANDEM_SQLITE_SHIM_H
#include <sqlite3.h>

/// SQLITE_TRANSIENT is a macro casting -1 to a function pointer; Swift cannot import it.
static inline void (*tandem_sqlite_transient(void))(void *) {
    return SQLITE_TRANSIENT;
}
#endif
