// A VFS over the platform's default one that gathers writes to the write-ahead log.
//
// SQLite writes each log frame as two writes (a 24-byte header, then the page), so a group commit
// of a few hundred pages is several hundred system calls, each touching the page cache twice.
// Here contiguous writes to a log file are appended to a buffer and reach the file in a few large
// writes when SQLite next syncs, reads an overlapping range, asks the size, truncates, sends a file
// control, or closes. In WAL mode SQLite syncs the log (synchronous=FULL) before it publishes a
// commit in the shared-memory index, so no reader — in this process or another — can look for a
// frame that is still in the buffer. Every other file, and every other method, goes straight to
// the default VFS.
//
// A writer may also leave the log's sync of a commit to another thread (tandem_vfs_defer_log_syncs):
// the frames are written when SQLite syncs, the sync itself is done by the caller with a descriptor
// of its own (tandem_vfs_take_deferred_sync), and the caller answers the commit's writers only
// after that. The writer can meanwhile run the next transaction. Readers then see a commit before
// it is durable, but no one is told it succeeded before it is.
#include "tandem_vfs.h"
#include <sqlite3.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { BUFFER_CAPACITY = 2 << 20, MAX_WRITE = 124 << 10 };

typedef struct {
    sqlite3_file base;
    sqlite3_file *real;      // the default VFS's file, stored right after this struct
    int isLog;               // opened as a write-ahead log
    unsigned char *buffer;   // pending bytes (allocated at the first write)
    sqlite3_int64 start;     // file offset of buffer[0]
    int used;
    int deferSyncs;          // syncs of this log are left to the caller (set by the writer around a commit)
    int syncDeferred;        // a sync was left to the caller since it last asked
    int synced;              // synced once: the first sync also makes a new file's name durable, so it is never left
    int syncFd;              // the log opened again, for syncing on another thread (-1 if that failed)
    tandem_vfs_counters counters;
} BufferedFile;

static sqlite3_vfs *realVFS;
static sqlite3_vfs tandemVFS;

static int flush(BufferedFile *file) {
    int used = file->used;
    file->used = 0;  // on failure the bytes are dropped: SQLite fails the transaction that wrote them
    for (int done = 0; done < used;) {
        // The Unix VFS writes at most 128 KiB - 1 bytes per call (it reports a longer write as a
        // full disk), so the buffer goes out in pieces of 124 KiB.
        int piece = used - done < MAX_WRITE ? used - done : MAX_WRITE;
        file->counters.systemWrites += 1;
        int rc = file->real->pMethods->xWrite(file->real, file->buffer + done, piece, file->start + done);
        if (rc != SQLITE_OK) return rc;
        done += piece;
    }
    return SQLITE_OK;
}

static int bufferedClose(sqlite3_file *handle) {
    BufferedFile *file = (BufferedFile *)handle;
    int rc = flush(file);
    int closed = file->real->pMethods->xClose(file->real);
    if (file->syncFd >= 0) close(file->syncFd);
    file->syncFd = -1;
    free(file->buffer);
    file->buffer = NULL;
    return rc != SQLITE_OK ? rc : closed;
}

static int bufferedRead(sqlite3_file *handle, void *data, int amount, sqlite3_int64 offset) {
    BufferedFile *file = (BufferedFile *)handle;
    if (file->used > 0 && offset < file->start + file->used && offset + amount > file->start) {
        int rc = flush(file);
        if (rc != SQLITE_OK) return rc;
    }
    return file->real->pMethods->xRead(file->real, data, amount, offset);
}

static int bufferedWrite(sqlite3_file *handle, const void *data, int amount, sqlite3_int64 offset) {
    BufferedFile *file = (BufferedFile *)handle;
    if (!file->isLog) return file->real->pMethods->xWrite(file->real, data, amount, offset);
    file->counters.logWrites += 1;
    if (file->used > 0 && offset == file->start + file->used && file->used + amount <= BUFFER_CAPACITY) {
        memcpy(file->buffer + file->used, data, (size_t)amount);
        file->used += amount;
        return SQLITE_OK;
    }
    int rc = flush(file);
    if (rc != SQLITE_OK) return rc;
    if (file->buffer == NULL) file->buffer = malloc(BUFFER_CAPACITY);
    if (file->buffer == NULL || amount > MAX_WRITE) {
        file->counters.systemWrites += 1;
        return file->real->pMethods->xWrite(file->real, data, amount, offset);
    }
    memcpy(file->buffer, data, (size_t)amount);
    file->start = offset;
    file->used = amount;
    return SQLITE_OK;
}

static int bufferedTruncate(sqlite3_file *handle, sqlite3_int64 size) {
    BufferedFile *file = (BufferedFile *)handle;
    int rc = flush(file);
    return rc != SQLITE_OK ? rc : file->real->pMethods->xTruncate(file->real, size);
}

static int bufferedSync(sqlite3_file *handle, int flags) {
    BufferedFile *file = (BufferedFile *)handle;
    int rc = flush(file);
    if (rc != SQLITE_OK) return rc;
    if (file->deferSyncs && file->synced && file->syncFd >= 0) {
        file->syncDeferred = 1;
        file->counters.deferredSyncs += 1;
        return SQLITE_OK;
    }
    rc = file->real->pMethods->xSync(file->real, flags);
    if (rc == SQLITE_OK) file->synced = 1;
    return rc;
}

static int bufferedFileSize(sqlite3_file *handle, sqlite3_int64 *size) {
    BufferedFile *file = (BufferedFile *)handle;
    int rc = flush(file);
    return rc != SQLITE_OK ? rc : file->real->pMethods->xFileSize(file->real, size);
}

static int bufferedFileControl(sqlite3_file *handle, int op, void *argument) {
    BufferedFile *file = (BufferedFile *)handle;
    int rc = flush(file);
    return rc != SQLITE_OK ? rc : file->real->pMethods->xFileControl(file->real, op, argument);
}

#define REAL(handle) (((BufferedFile *)(handle))->real)
static int bufferedLock(sqlite3_file *h, int lock) { return REAL(h)->pMethods->xLock(REAL(h), lock); }
static int bufferedUnlock(sqlite3_file *h, int lock) { return REAL(h)->pMethods->xUnlock(REAL(h), lock); }
static int bufferedCheckReservedLock(sqlite3_file *h, int *out) { return REAL(h)->pMethods->xCheckReservedLock(REAL(h), out); }
static int bufferedSectorSize(sqlite3_file *h) { return REAL(h)->pMethods->xSectorSize(REAL(h)); }
static int bufferedDeviceCharacteristics(sqlite3_file *h) { return REAL(h)->pMethods->xDeviceCharacteristics(REAL(h)); }
static int bufferedShmMap(sqlite3_file *h, int region, int size, int extend, void volatile **out) {
    return REAL(h)->pMethods->xShmMap(REAL(h), region, size, extend, out);
}
static int bufferedShmLock(sqlite3_file *h, int offset, int n, int flags) { return REAL(h)->pMethods->xShmLock(REAL(h), offset, n, flags); }
static void bufferedShmBarrier(sqlite3_file *h) { REAL(h)->pMethods->xShmBarrier(REAL(h)); }
static int bufferedShmUnmap(sqlite3_file *h, int delete) { return REAL(h)->pMethods->xShmUnmap(REAL(h), delete); }
static int bufferedFetch(sqlite3_file *h, sqlite3_int64 offset, int amount, void **out) {
    return REAL(h)->pMethods->xFetch(REAL(h), offset, amount, out);
}
static int bufferedUnfetch(sqlite3_file *h, sqlite3_int64 offset, void *page) { return REAL(h)->pMethods->xUnfetch(REAL(h), offset, page); }

static const sqlite3_io_methods bufferedMethods = {
    3, bufferedClose, bufferedRead, bufferedWrite, bufferedTruncate, bufferedSync, bufferedFileSize, bufferedLock, bufferedUnlock,
    bufferedCheckReservedLock, bufferedFileControl, bufferedSectorSize, bufferedDeviceCharacteristics, bufferedShmMap, bufferedShmLock,
    bufferedShmBarrier, bufferedShmUnmap, bufferedFetch, bufferedUnfetch,
};

static int tandemOpen(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *handle, int flags, int *outFlags) {
    (void)vfs;
    BufferedFile *file = (BufferedFile *)handle;
    memset(file, 0, sizeof(BufferedFile));
    file->real = (sqlite3_file *)&file[1];
    int rc = realVFS->xOpen(realVFS, name, file->real, flags, outFlags);
    if (rc != SQLITE_OK || file->real->pMethods == NULL) {
        file->base.pMethods = NULL;
        return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
    }
    // The methods above need a version-3 file (shared memory and memory-mapped reads), which the
    // default VFS of every platform SQLite supports gives.
    if (file->real->pMethods->iVersion < 3) {
        file->real->pMethods->xClose(file->real);
        file->base.pMethods = NULL;
        return SQLITE_CANTOPEN;
    }
    file->isLog = (flags & SQLITE_OPEN_WAL) != 0 && (flags & SQLITE_OPEN_READONLY) == 0;
    // Read-only is enough: fdatasync of any descriptor writes back the file's data.
    file->syncFd = file->isLog && name != NULL ? open(name, O_RDONLY | O_CLOEXEC) : -1;
    file->base.pMethods = &bufferedMethods;
    return SQLITE_OK;
}

static int tandemDelete(sqlite3_vfs *v, const char *name, int sync) { (void)v; return realVFS->xDelete(realVFS, name, sync); }
static int tandemAccess(sqlite3_vfs *v, const char *name, int flags, int *out) { (void)v; return realVFS->xAccess(realVFS, name, flags, out); }
static int tandemFullPathname(sqlite3_vfs *v, const char *name, int size, char *out) {
    (void)v;
    return realVFS->xFullPathname(realVFS, name, size, out);
}
static void *tandemDlOpen(sqlite3_vfs *v, const char *name) { (void)v; return realVFS->xDlOpen(realVFS, name); }
static void tandemDlError(sqlite3_vfs *v, int size, char *out) { (void)v; realVFS->xDlError(realVFS, size, out); }
static void (*tandemDlSym(sqlite3_vfs *v, void *library, const char *symbol))(void) {
    (void)v;
    return realVFS->xDlSym(realVFS, library, symbol);
}
static void tandemDlClose(sqlite3_vfs *v, void *library) { (void)v; realVFS->xDlClose(realVFS, library); }
static int tandemRandomness(sqlite3_vfs *v, int size, char *out) { (void)v; return realVFS->xRandomness(realVFS, size, out); }
static int tandemSleep(sqlite3_vfs *v, int microseconds) { (void)v; return realVFS->xSleep(realVFS, microseconds); }
static int tandemCurrentTime(sqlite3_vfs *v, double *out) { (void)v; return realVFS->xCurrentTime(realVFS, out); }
static int tandemGetLastError(sqlite3_vfs *v, int size, char *out) { (void)v; return realVFS->xGetLastError(realVFS, size, out); }
static int tandemCurrentTimeInt64(sqlite3_vfs *v, sqlite3_int64 *out) { (void)v; return realVFS->xCurrentTimeInt64(realVFS, out); }

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int registered = SQLITE_ERROR;

static void registerOnce(void) {
    realVFS = sqlite3_vfs_find(NULL);
    if (realVFS == NULL || realVFS->iVersion < 2 || realVFS->xCurrentTimeInt64 == NULL) return;
    tandemVFS = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = (int)sizeof(BufferedFile) + realVFS->szOsFile,
        .mxPathname = realVFS->mxPathname,
        .zName = TANDEM_VFS_NAME,
        .xOpen = tandemOpen,
        .xDelete = tandemDelete,
        .xAccess = tandemAccess,
        .xFullPathname = tandemFullPathname,
        .xDlOpen = tandemDlOpen,
        .xDlError = tandemDlError,
        .xDlSym = tandemDlSym,
        .xDlClose = tandemDlClose,
        .xRandomness = tandemRandomness,
        .xSleep = tandemSleep,
        .xCurrentTime = tandemCurrentTime,
        .xGetLastError = tandemGetLastError,
        .xCurrentTimeInt64 = tandemCurrentTimeInt64,
    };
    registered = sqlite3_vfs_register(&tandemVFS, 0);
}

int tandem_vfs_register(void) {
    pthread_once(&once, registerOnce);
    return registered;
}

static BufferedFile *logOf(sqlite3 *db) {
    sqlite3_file *log = NULL;
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &log) != SQLITE_OK) return NULL;
    if (log == NULL || log->pMethods != &bufferedMethods) return NULL;
    return (BufferedFile *)log;
}

int tandem_vfs_log_counters(sqlite3 *db, tandem_vfs_counters *counters) {
    BufferedFile *log = logOf(db);
    if (log == NULL) return SQLITE_NOTFOUND;
    *counters = log->counters;
    return SQLITE_OK;
}

int tandem_vfs_defer_log_syncs(sqlite3 *db, int on) {
    BufferedFile *log = logOf(db);
    if (log == NULL) return SQLITE_NOTFOUND;
    log->deferSyncs = on;
    return SQLITE_OK;
}

int tandem_vfs_take_deferred_sync(sqlite3 *db) {
    BufferedFile *log = logOf(db);
    if (log == NULL || !log->syncDeferred) return -1;
    log->syncDeferred = 0;
    int fd = fcntl(log->syncFd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        // No descriptor to hand over: sync here, as SQLite would have.
        if (log->real->pMethods->xSync(log->real, SQLITE_SYNC_NORMAL) != SQLITE_OK) return -2;
        return -1;
    }
    return fd;
}
