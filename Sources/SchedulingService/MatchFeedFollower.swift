public import Foundation
public import TandemProtocols
public import TandemRPC
import TandemStore
import TandemWire

/// Matching's change feed, as scheduling reads it.
public protocol MatchChangeSource: Sendable {
    func changes(after: Int, limit: Int) async throws -> MatchChangePage
}

/// `matching.ListMatchChanges` over mutual TLS, with scheduling's certificate (matching admits it
/// by name).
public struct RPCMatchChangeSource: MatchChangeSource {
    let client: RPCClient

    public init(client: RPCClient) {
        self.client = client
    }

    public func changes(after: Int, limit: Int) async throws -> MatchChangePage {
        try await client.call(Matching.listMatchChanges, ListMatchChangesRequest(after: after, limit: limit), options: CallOptions(timeout: .seconds(10)))
    }
}

extension SchedulingServer {
    static let matchFeed = "matching.matches"

    /// Follows matching's matches until cancelled: an active match becomes a pair that can book
    /// (registered as if by `RegisterPair`), a match that ended stops booking (`active` false;
    /// booked meetings stay). The position in the feed is stored with the pairs it produced, so a
    /// restart resumes where it stopped and nothing is applied twice or missed.
    public func followMatches(_ source: any MatchChangeSource, every interval: Duration = .seconds(2)) async {
        var failing = false
        while !Task.isCancelled {
            do {
                while try await syncMatches(source) == 500 {}
                if failing { logger.info("following matching's changes again") }
                failing = false
            } catch {
                if !failing { logger.warning("cannot read matching's changes; retrying", metadata: ["error": "\(error)"]) }
                failing = true
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// Applies one page of the feed; returns how many changes it held.
    @discardableResult
    public func syncMatches(_ source: any MatchChangeSource) async throws -> Int {
        let cursor = try await store.feedCursor(Self.matchFeed)
        let page = try await source.changes(after: cursor, limit: 500)
        guard !page.changes.isEmpty || page.last != cursor else { return 0 }
        let changed = try await store.applyMatchChanges(page, feed: Self.matchFeed, now: configuration.now())
        for (organisation, match) in changed { pairCache.remove(PairKey(organisation: organisation, id: match)) }
        return page.changes.count
    }
}

extension SchedulingStore {
    func feedCursor(_ name: String) async throws -> Int {
        try await database.read { connection in
            Int(try connection.first("SELECT position FROM feed_cursors WHERE name = ?", name)?.int(0) ?? 0)
        }
    }

    /// Registers or deactivates the pairs of `page`'s matches and moves the cursor, in one
    /// transaction. Returns the pairs changed.
    func applyMatchChanges(_ page: MatchChangePage, feed: String, now: Date) async throws -> [(UUID, UUID)] {
        try await database.write { connection in
            var changed: [(UUID, UUID)] = []
            for change in page.changes {
                let match = change.match
                let existing = try connection.first("SELECT active FROM pairs WHERE org_id = ? AND match_id = ?", match.organisationID, match.id)
                switch match.status {
                case .active:
                    if existing == nil {
                        try connection.execute("""
                            INSERT INTO pairs (org_id, match_id, program_id, mentor_id, mentee_id, active, created_at) VALUES (?, ?, ?, ?, ?, 1, ?)
                            """, match.organisationID, match.id, match.programID, match.mentorID, match.menteeID, now.timeIntervalSince1970)
                        changed.append((match.organisationID, match.id))
                    } else if existing?.int(0) == 0 {
                        try connection.execute("UPDATE pairs SET active = 1 WHERE org_id = ? AND match_id = ?", match.organisationID, match.id)
                        changed.append((match.organisationID, match.id))
                    }
                case .completed, .ended, .declined, .expired:
                    if existing?.int(0) == 1 {
                        try connection.execute("UPDATE pairs SET active = 0 WHERE org_id = ? AND match_id = ?", match.organisationID, match.id)
                        changed.append((match.organisationID, match.id))
                    }
                case .proposed:
                    break
                }
            }
            try connection.execute("INSERT OR REPLACE INTO feed_cursors (name, position) VALUES (?, ?)", feed, page.last)
            return changed
        }
    }
}
