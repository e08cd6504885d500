#ifndef TANDEM_SQLITE_SHIM_H
#define TANDEM_SQLITE_SHIM_H
#include <sqlite3.h>

/// SQLITE_TRANSIENT is a macro casting -1 to a function pointer; Swift cannot import it.
static inline void (*tandem_sqlite_transient(void))(void *) {
    return SQLITE_TRANSIENT;
}

/// Process-wide settings, before the first connection opens: no memory statistics (each
/// allocation would otherwise take a global mutex); savepoint and statement journals kept in
/// memory, in one block, up to 120 KiB (`TANDEM_SUBJOURNAL_MEMORY`; see SQLiteDatabase's
/// `temp_store`), then in a temporary file. Not more: when the journal moves to its file, SQLite
/// writes the block in one call, and its Unix VFS writes at most 128 KiB - 1 bytes per call (it
/// reports a larger write as a full disk). Returns SQLITE_MISUSE if SQLite was already initialised
/// (then nothing changes).
#define TANDEM_SUBJOURNAL_MEMORY (120 << 10)
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
