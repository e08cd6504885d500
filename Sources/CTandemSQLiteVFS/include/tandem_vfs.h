#ifndef TANDEM_VFS_H
#define TANDEM_VFS_H
#include <stdint.h>

/// The name of the VFS that `tandem_vfs_register` adds.
#define TANDEM_VFS_NAME "tandem"

/// Registers the "tandem" VFS (not as the default): the operating system's default VFS with the
/// write-ahead log's writes gathered in memory and written in a few large writes when SQLite
/// syncs, reads, resizes or closes the log — instead of two calls per page (a frame header and the
/// page). SQLite's sync of the log still comes after every byte of the transaction is written,
/// and readers only see frames once they are written; unless a writer leaves its syncs to another
/// thread (below), they are also synced by then.
/// Returns an SQLite result code; safe to call more than once.
int tandem_vfs_register(void);

/// Write calls SQLite made on a write-ahead log through the VFS, and the writes that reached the
/// operating system (for tests and benchmarks).
typedef struct {
    uint64_t logWrites;
    uint64_t systemWrites;
    uint64_t deferredSyncs;
} tandem_vfs_counters;

typedef struct sqlite3 sqlite3;

/// The counters of the write-ahead log of `db`'s main database, since the connection opened it.
/// Returns SQLITE_OK, or SQLITE_NOTFOUND when the log is not open or not through this VFS. Call it
/// on the thread that uses the connection.
int tandem_vfs_log_counters(sqlite3 *db, tandem_vfs_counters *counters);

/// While `on`, SQLite's syncs of `db`'s write-ahead log write the gathered frames but leave the
/// sync itself to the caller, who must sync (tandem_vfs_take_deferred_sync) before telling anyone
/// that a transaction committed. The first sync of a log file is never left (it also makes the
/// file's name durable). Returns SQLITE_OK, or SQLITE_NOTFOUND when the log is not open or not
/// through this VFS (syncs then happen as usual). Call it on the thread that uses the connection.
int tandem_vfs_defer_log_syncs(sqlite3 *db, int on);

/// After a commit with syncs left to the caller: a new descriptor of the log (the caller syncs it
/// with fdatasync, on any thread, then closes it) when a sync was left since the last call; -1
/// when none was (or it could not hand one over and synced here instead); -2 when that sync
/// failed. Call it on the thread that uses the connection.
int tandem_vfs_take_deferred_sync(sqlite3 *db);

/// Installs SQLite's default page cache wrapped so that truncating it at the end of a
/// transaction discards the few pages past the database's end instead of walking the whole cache
/// (page_cache.c). Call before SQLite initialises (before the first connection opens); returns
/// an SQLite result code (SQLITE_MISUSE when SQLite is already initialised: nothing changes).
int tandem_page_cache_install(void);

/// Truncations of every page cache since the process started: those that discarded the tracked
/// pages only, and those handed to the default cache (for tests).
void tandem_page_cache_counters(unsigned long long *fast, unsigned long long *full);

/// Names the calling thread for the operating system (`top -H`, `perf`,
/// /proc/<pid>/task/<tid>/comm); Linux keeps the first 15 bytes. Does nothing elsewhere.
void tandem_name_current_thread(const char *name);

#endif
