/// Where a service is in a change feed of another service that it follows (matching's matches,
/// identity's erasures): one row per feed, written in the same transaction as what the feed's page
/// changed, so that a restart neither applies a page twice nor skips one.
public enum FeedCursors {
    /// The table, for a service's migrations.
    public static let schema = "CREATE TABLE feed_cursors (name TEXT PRIMARY KEY, position INTEGER NOT NULL) WITHOUT ROWID;"

    /// The position stored for `feed` (0 before its first page).
    public static func position(_ connection: SQLiteConnection, feed: String) throws -> Int {
        Int(try connection.first("SELECT position FROM feed_cursors WHERE name = ?", feed)?.int(0) ?? 0)
    }

    public static func set(_ connection: SQLiteConnection, feed: String, to position: Int) throws {
        try connection.execute("INSERT OR REPLACE INTO feed_cursors (name, position) VALUES (?, ?)", feed, position)
    }
}

extension SQLiteDatabase {
    /// The position stored for `feed` (see `FeedCursors`), read in a snapshot.
    public func feedCursor(_ feed: String) async throws -> Int {
        try await read { try FeedCursors.position($0, feed: feed) }
    }

    /// The page of `feed` after its stored position (`fetch` asks the other service for it), or
    /// nil when there is nothing to apply: no item, and a `last` position equal to the stored one.
    public func nextFeedPage<Page>(
        _ feed: String, count: KeyPath<Page, Int>, last: KeyPath<Page, Int>, fetch: (Int) async throws -> Page
    ) async throws -> Page? {
        let cursor = try await feedCursor(feed)
        let page = try await fetch(cursor)
        return page[keyPath: count] > 0 || page[keyPath: last] != cursor ? page : nil
    }
}
