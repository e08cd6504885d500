// SQLite's default page cache, with truncation that does not walk the whole cache.
//
// At the end of every write transaction SQLite truncates its page cache to the database's size.
// The default cache (pcache1) then visits only the hash buckets that can hold pages past that
// size — unless its largest page number ever seen is far beyond it, when it walks every bucket
// and every page. While balancing a B-tree, SQLite gives a page the lock-byte page's number
// (262,145 with 4 KiB pages) for a moment, so on a database under 1 GiB that walk happens at every
// commit: with a 32 MiB cache, 8,192 pages, about 9% of the scheduling writer's CPU in `perf`.
//
// This wrapper keeps the pages whose numbers are at or past the last truncation limit (a few per
// transaction: pages the transaction added, and the temporary one) in a small table. A truncation
// at or above that limit discards exactly those pages through the default cache's own methods
// (fetch without creating, then unpin with discard) and skips its walk; anything else (a
// truncation below the limit, or more such pages than the table holds) goes to the default
// cache's truncation, as before.
#include "tandem_vfs.h"
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

enum { TRACKED = 256 };

typedef struct {
    sqlite3_pcache *inner;
    unsigned limit;     // pages numbered at or past this are tracked
    int overflow;       // more than TRACKED such pages were seen: the table is incomplete
    int count;
    struct { sqlite3_pcache_page *page; unsigned key; } pages[TRACKED];
} TrackedCache;

static sqlite3_pcache_methods2 inner;
static unsigned long long fastTruncations, fullTruncations;

static void forget(TrackedCache *cache, sqlite3_pcache_page *page) {
    for (int index = 0; index < cache->count; index++) {
        if (cache->pages[index].page == page) {
            cache->pages[index] = cache->pages[--cache->count];
            return;
        }
    }
}

static void track(TrackedCache *cache, sqlite3_pcache_page *page, unsigned key) {
    if (key < cache->limit) return;
    // A page object is reused for other numbers: one entry per object.
    for (int index = 0; index < cache->count; index++) {
        if (cache->pages[index].page == page) {
            cache->pages[index].key = key;
            return;
        }
    }
    if (cache->count == TRACKED) {
        cache->overflow = 1;
        return;
    }
    cache->pages[cache->count].page = page;
    cache->pages[cache->count].key = key;
    cache->count++;
}

static int cacheInit(void *argument) { (void)argument; return inner.xInit(inner.pArg); }
static void cacheShutdown(void *argument) { (void)argument; inner.xShutdown(inner.pArg); }

static sqlite3_pcache *cacheCreate(int pageSize, int extraSize, int purgeable) {
    TrackedCache *cache = calloc(1, sizeof(TrackedCache));
    if (cache == NULL) return NULL;
    cache->inner = inner.xCreate(pageSize, extraSize, purgeable);
    if (cache->inner == NULL) {
        free(cache);
        return NULL;
    }
    return (sqlite3_pcache *)cache;
}

static void cacheSize(sqlite3_pcache *handle, int size) { inner.xCachesize(((TrackedCache *)handle)->inner, size); }
static int cachePageCount(sqlite3_pcache *handle) { return inner.xPagecount(((TrackedCache *)handle)->inner); }

static sqlite3_pcache_page *cacheFetch(sqlite3_pcache *handle, unsigned key, int create) {
    TrackedCache *cache = (TrackedCache *)handle;
    sqlite3_pcache_page *page = inner.xFetch(cache->inner, key, create);
    if (page != NULL) track(cache, page, key);
    return page;
}

static void cacheUnpin(sqlite3_pcache *handle, sqlite3_pcache_page *page, int discard) {
    TrackedCache *cache = (TrackedCache *)handle;
    if (discard) forget(cache, page);
    inner.xUnpin(cache->inner, page, discard);
}

static void cacheRekey(sqlite3_pcache *handle, sqlite3_pcache_page *page, unsigned oldKey, unsigned newKey) {
    TrackedCache *cache = (TrackedCache *)handle;
    inner.xRekey(cache->inner, page, oldKey, newKey);
    forget(cache, page);
    track(cache, page, newKey);
}

static void cacheTruncate(sqlite3_pcache *handle, unsigned limit) {
    TrackedCache *cache = (TrackedCache *)handle;
    if (limit < cache->limit || cache->overflow) {
        // Pages below the tracked range may have to go, or the table is incomplete.
        __atomic_fetch_add(&fullTruncations, 1, __ATOMIC_RELAXED);
        inner.xTruncate(cache->inner, limit);
        cache->count = 0;
        cache->overflow = 0;
        cache->limit = limit;
        return;
    }
    // Every page numbered at or past `limit` is in the table (the table holds all those at or
    // past the old limit, which is not above this one). The default cache may have evicted some
    // since: fetching without creating then finds nothing.
    __atomic_fetch_add(&fastTruncations, 1, __ATOMIC_RELAXED);
    for (int index = 0; index < cache->count;) {
        unsigned key = cache->pages[index].key;
        if (key >= limit) {
            sqlite3_pcache_page *page = inner.xFetch(cache->inner, key, 0);
            if (page != NULL) inner.xUnpin(cache->inner, page, 1);
            cache->pages[index] = cache->pages[--cache->count];
        } else {
            index++;
        }
    }
    // Entries between the old limit and this one stay: they are still pages past the old one,
    // and tracking more than needed is harmless.
}

void tandem_page_cache_counters(unsigned long long *fast, unsigned long long *full) {
    *fast = __atomic_load_n(&fastTruncations, __ATOMIC_RELAXED);
    *full = __atomic_load_n(&fullTruncations, __ATOMIC_RELAXED);
}

static void cacheDestroy(sqlite3_pcache *handle) {
    TrackedCache *cache = (TrackedCache *)handle;
    inner.xDestroy(cache->inner);
    free(cache);
}

static void cacheShrink(sqlite3_pcache *handle) { inner.xShrink(((TrackedCache *)handle)->inner); }

int tandem_page_cache_install(void) {
    if (sqlite3_config(SQLITE_CONFIG_GETPCACHE2, &inner) != SQLITE_OK) return SQLITE_ERROR;
    if (inner.iVersion < 1 || inner.xCreate == NULL) return SQLITE_ERROR;
    static sqlite3_pcache_methods2 methods;
    methods = (sqlite3_pcache_methods2){
        .iVersion = 1,
        .pArg = NULL,
        .xInit = cacheInit,
        .xShutdown = cacheShutdown,
        .xCreate = cacheCreate,
        .xCachesize = cacheSize,
        .xPagecount = cachePageCount,
        .xFetch = cacheFetch,
        .xUnpin = cacheUnpin,
        .xRekey = cacheRekey,
        .xTruncate = cacheTruncate,
        .xDestroy = cacheDestroy,
        .xShrink = cacheShrink,
    };
    return sqlite3_config(SQLITE_CONFIG_PCACHE2, &methods);
}
