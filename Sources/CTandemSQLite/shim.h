#ifndef TANDEM_SQLITE_SHIM_H
#define TANDEM_SQLITE_SHIM_H
#include <sqlite3.h>

/// SQLITE_TRANSIENT is a macro casting -1 to a function pointer; Swift cannot import it.
static inline void (*tandem_sqlite_transient(void))(void *) {
    return SQLITE_TRANSIENT;
}

/// Process-wide settings, before the first connection opens: no memory statistics (each
/// allocation would otherwise take a global mutex); savepoint and statement journals kept in
/// memory, in one block, up to 4 MiB (`TANDEM_SUBJOURNAL_MEMORY` below; see SQLiteDatabase's
/// `temp_store`). Returns SQLITE_MISUSE if SQLite was already initialised (then nothing changes).
#define TANDEM_SUBJOURNAL_MEMORY (4 << 20)
static inline int tandem_sqlite_configure(void) {
    int result = sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, TANDEM_SUBJOURNAL_MEMORY);
    if (result != SQLITE_OK) return result;
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static int tandem_wal_hook_record(void *context, sqlite3 *db, const char *name, int pages) {
    (void)db; (void)name;
    *(int *)context = pages;
    return SQLITE_OK;
}

/// After every commit, stores the number of pages in the write-ahead log in `*pages`. A WAL
/// hook replaces SQLite's automatic checkpoints: the caller decides when to checkpoint.
static inline void tandem_record_wal_pages(sqlite3 *db, int *pages) {
    sqlite3_wal_hook(db, tandem_wal_hook_record, pages);
}
#endif
