import Foundation
import TandemProtocols
import TandemRPC
public import TandemAuth
import TandemStore
import TandemWire

extension SchedulingServer {
    static let matchFeed = "matching.matches"
    static let erasureFeed = "identity.erasures"
    /// Changes read per call; a full page means there may be more right away.
    static let feedPage = 500

    /// Follows matching's matches until cancelled: an active match becomes a pair that can book
    /// (registered as if by `RegisterPair`), a match that ended stops booking (`active` false;
    /// booked meetings stay). The position in the feed is stored with the pairs it produced, so a
    /// restart resumes where it stopped and nothing is applied twice or missed.
    public func followMatches(_ source: any MatchChangeFeed, every interval: Duration = .seconds(2)) async {
        await follow("matching's changes", every: interval) { try await self.syncMatches(source) }
    }

    /// Follows identity's erasures until cancelled (`syncErasures`), like `followMatches`.
    public func followErasures(_ source: any ErasureFeed, every interval: Duration = .seconds(3)) async {
        await follow("identity's erasures", every: interval) { try await self.syncErasures(source) }
    }

    private func follow(_ feed: String, every interval: Duration, _ sync: @Sendable () async throws -> Int) async {
        await followFeed(feed, pageSize: Self.feedPage, every: interval, logger: logger, sync)
    }

    /// Applies one page of the feed; returns how many changes it held.
    @discardableResult
    public func syncMatches(_ source: any MatchChangeFeed) async throws -> Int {
        guard let page = try await store.database.nextFeedPage(Self.matchFeed, count: \.changes.count, last: \.last, fetch: {
            try await source.matchChanges(after: $0, limit: Self.feedPage)
        }) else { return 0 }
        let changed = try await store.applyMatchChanges(page, feed: Self.matchFeed, now: configuration.now())
        for (organisation, match) in changed { pairCache.remove(PairKey(organisation: organisation, id: match)) }
        return page.changes.count
    }

    /// Applies one page of identity's erasures (see `SchedulingStore.applyErasures`); returns how
    /// many it held.
    @discardableResult
    public func syncErasures(_ source: any ErasureFeed) async throws -> Int {
        guard let page = try await store.database.nextFeedPage(Self.erasureFeed, count: \.erasures.count, last: \.last, fetch: {
            try await source.erasures(after: $0, limit: Self.feedPage)
        }) else { return 0 }
        let result = try await store.applyErasures(page, feed: Self.erasureFeed, now: configuration.now())
        if !page.erasures.isEmpty { await store.database.truncateLogAfterErasure() }
        for (organisation, match) in result.pairs { pairCache.remove(PairKey(organisation: organisation, id: match)) }
        for erasure in page.erasures { calendarCache.remove(PairKey(organisation: erasure.organisationID, id: erasure.personID)) }
        if result.cancelled > 0 { logger.notice("cancelled the upcoming meetings of people erased in identity", metadata: ["meetings": "\(result.cancelled)"]) }
        return page.erasures.count
    }
}

extension SchedulingStore {
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
            try FeedCursors.set(connection, feed: feed, to: page.last)
            return changed
        }
    }

    /// A person's pairs (match, active), as mentor and as mentee.
    static let personPairsSQL = PairSQL.eitherSide(select: "match_id, active", from: "pairs", where: "org_id = ?1", person: "?2")

    /// What erasing people in identity means here, with the cursor, in one transaction: their
    /// availability is deleted, their pairs stop booking, and their meetings still to come are
    /// cancelled (freeing their partners' time). Meetings that took place stay, as ids and times.
    /// Applying a page again changes nothing more.
    func applyErasures(_ page: ErasurePage, feed: String, now: Date) async throws -> (pairs: [(UUID, UUID)], cancelled: Int) {
        try await database.write { connection in
            // What this transaction deletes is overwritten, not only unlinked (bookings, which
            // delete almost nothing, run without the cost).
            try connection.executeScript("PRAGMA secure_delete=ON")
            defer { try? connection.executeScript("PRAGMA secure_delete=OFF") }
            var pairs: [(UUID, UUID)] = [], cancelled = 0
            for erasure in page.erasures {
                let organisation = erasure.organisationID, person = erasure.personID
                try connection.execute("DELETE FROM availability WHERE org_id = ? AND person_id = ?", organisation, person)
                let matches = try connection.query(Self.personPairsSQL, organisation, person)
                for row in matches {
                    guard let match = row.uuid(0) else { continue }
                    if row.int(1) == 1 {
                        try connection.execute("UPDATE pairs SET active = 0 WHERE org_id = ? AND match_id = ?", organisation, match)
                        pairs.append((organisation, match))
                    }
                    let upcoming = try Self.matchMeetingRows(
                        connection, organisation: organisation, match: match, conditions: " AND a.start >= ? AND m.status = 'scheduled'",
                        values: [Int64(now.timeIntervalSince1970)]
                    )
                    for meetingRow in upcoming {
                        try Self.cancelRow(
                            connection, organisation: organisation, meeting: try Self.meeting(meetingRow), row: meetingRow,
                            reason: Erasure.reason, now: now
                        )
                        cancelled += 1
                    }
                }
            }
            try FeedCursors.set(connection, feed: feed, to: page.last)
            return (pairs, cancelled)
        }
    }
}
