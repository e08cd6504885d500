public import Foundation
public import Logging
package import Synchronization
import Metrics
public import TandemAuth
public import TandemProtocols
public import TandemRPC
import TandemWire

/// How the feedback service behaves.
public struct FeedbackConfiguration: Sendable {
    /// How often the match, meeting and erasure feeds are pulled (the first two also on demand).
    public var syncInterval: Duration = .seconds(3)
    /// Changes asked for per feed call.
    public var feedPageSize = 500
    /// The first retry of an undelivered fit signal; doubled per attempt up to `maxRetryDelay`.
    public var firstRetryDelay: TimeInterval = 2
    public var maxRetryDelay: TimeInterval = 300
    /// How often an open invitation stream looks for newly due surveys.
    public var invitationPoll: Duration = .seconds(30)
    /// Unanswered surveys older than this are no longer offered (they still count as due).
    public var invitationLifetimeDays = 30
    /// The clock (tests move it).
    public var now: @Sendable () -> Date = { Date() }

    public init() {}

    public func validate() throws {
        guard (1...1000).contains(feedPageSize) else { throw ConfigurationError("the feed page size must be 1–1000") }
        guard firstRetryDelay > 0, maxRetryDelay >= firstRetryDelay else { throw ConfigurationError("retry delays must be positive, the maximum at least the first") }
    }
}

/// Where feedback gets meeting facts: scheduling's change feed.
public protocol MeetingFeed: Sendable {
    func meetingChanges(after: Int, limit: Int) async throws -> MeetingChangePage
}

/// Where "not a good fit" answers go: matching's re-match signal.
public protocol FitSignalSink: Sendable {
    func recordFitSignal(_ signal: FitSignal) async throws
}

/// Where a respondent's division comes from (identity), asked with the respondent's own token.
public protocol RespondentDirectory: Sendable {
    func division(program: UUID, person: UUID, accessToken: String) async throws -> String?
}

/// The services feedback talks to. Any may be absent (its feature then waits or is skipped).
public struct FeedbackPeers: Sendable {
    public var meetings: (any MeetingFeed)?
    public var matches: (any MatchChangeFeed)?
    public var fitSignals: (any FitSignalSink)?
    public var directory: (any RespondentDirectory)?
    public var erasures: (any ErasureFeed)?

    public init(
        meetings: (any MeetingFeed)? = nil, matches: (any MatchChangeFeed)? = nil, fitSignals: (any FitSignalSink)? = nil,
        directory: (any RespondentDirectory)? = nil, erasures: (any ErasureFeed)? = nil
    ) {
        self.meetings = meetings
        self.matches = matches
        self.fitSignals = fitSignals
        self.directory = directory
        self.erasures = erasures
    }

    /// The peers over RPC: scheduling's, matching's and identity's internal methods (mutual TLS,
    /// no token) and identity's `GetParticipation` with the respondent's forwarded token.
    public static func rpc(scheduling: RPCClient?, matching: RPCClient?, identity: RPCClient?) -> FeedbackPeers {
        FeedbackPeers(
            meetings: scheduling.map(RPCMeetingFeed.init), matches: matching.map { RPCMatchChangeFeed(client: $0) }, fitSignals: matching.map(RPCFitSignalSink.init),
            directory: identity.map(RPCRespondentDirectory.init), erasures: identity.map { RPCErasureFeed(client: $0) }
        )
    }
}

struct RPCMeetingFeed: MeetingFeed {
    let client: RPCClient
    func meetingChanges(after: Int, limit: Int) async throws -> MeetingChangePage {
        try await client.call(Scheduling.listMeetingChanges, ListMeetingChangesRequest(after: after, limit: limit), options: CallOptions(timeout: .seconds(10)))
    }
}

struct RPCFitSignalSink: FitSignalSink {
    let client: RPCClient
    func recordFitSignal(_ signal: FitSignal) async throws {
        _ = try await client.call(Matching.recordFitSignal, signal, options: CallOptions(timeout: .seconds(10)))
    }
}

struct RPCRespondentDirectory: RespondentDirectory {
    let client: RPCClient
    func division(program: UUID, person: UUID, accessToken: String) async throws -> String? {
        var options = CallOptions(timeout: .seconds(5))
        options.metadata[Metadata.Keys.authorization] = "Bearer " + accessToken
        return try await client.call(Identity.getParticipation, ParticipationRef(programID: program, personID: person), options: options).division
    }
}

/// The feedback service: its store, its copies of match and meeting facts, and its handlers.
public final class FeedbackServer: Sendable {
    let store: FeedbackStore
    let configuration: FeedbackConfiguration
    let peers: FeedbackPeers
    let logger: Logger
    /// How long the last report spent reading its facts and aggregating them (for the benchmark).
    package let lastReportPhases = Mutex<(read: Duration, aggregate: Duration)>((.zero, .zero))
    /// Report facts by program, while their organisation's data is unchanged.
    let reportCache = ReportFactsCache()
    /// One sync at a time; callers that arrive meanwhile wait for the next one.
    private let syncGate = SyncGate()

    /// Opens (creating and migrating) `<dataDirectory>/feedback.sqlite`.
    public static func open(
        dataDirectory: String, configuration: FeedbackConfiguration = FeedbackConfiguration(), peers: FeedbackPeers, logger: Logger
    ) throws -> FeedbackServer {
        try configuration.validate()
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        let store = try FeedbackStore(path: dataDirectory + "/feedback.sqlite", logger: logger)
        return FeedbackServer(store: store, configuration: configuration, peers: peers, logger: logger)
    }

    private init(store: FeedbackStore, configuration: FeedbackConfiguration, peers: FeedbackPeers, logger: Logger) {
        self.store = store
        self.configuration = configuration
        self.peers = peers
        self.logger = logger
    }

    /// The RPC handlers.
    public var service: any RPCService { FeedbackRPCService(server: self) }

    public func close() {
        store.close()
    }

    /// Fails unless the database answers reads and writes (for the readiness probe).
    public func checkStore() async throws {
        try await store.database.check()
    }

    // MARK: Sync

    /// The feeds feedback follows, by the name their cursor is stored under.
    static let feeds = ["matches", "meetings", "erasures"]

    /// Pulls every feed until it is exhausted; returns how many changes (and erasures) were
    /// applied. Each page is stored with its cursor in one transaction, so a crash never skips nor
    /// half-applies one.
    @discardableResult
    public func syncNow() async throws -> Int {
        try await syncGate.run {
            var pulls: [@Sendable () async throws -> Int] = []
            if let feed = peers.matches {
                pulls.append { try await self.pull("matches", feed.matchChanges, count: \.changes.count, last: \.last, apply: self.store.applyMatchChanges) }
            }
            if let feed = peers.meetings {
                pulls.append { try await self.pull("meetings", feed.meetingChanges, count: \.changes.count, last: \.last, apply: self.store.applyMeetingChanges) }
            }
            if let feed = peers.erasures {
                pulls.append { try await self.pull("erasures", feed.erasures, count: \.erasures.count, last: \.last, apply: self.store.applyErasures) }
            }
            // Each feed on its own, at the same time: one service being down or slow to answer
            // does not hold up the others (an erasure waits for no meeting).
            let results = await withTaskGroup(of: Result<Int, any Error>.self) { group in
                for pull in pulls {
                    group.addTask {
                        do { return .success(try await pull()) } catch { return .failure(error) }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            var copied = 0
            for result in results { copied += try result.get() }
            return copied
        }
    }

    /// Reads one feed from its stored cursor until it is exhausted, storing each page with its cursor.
    private func pull<Page: Sendable>(
        _ feed: String, _ fetch: (Int, Int) async throws -> Page, count: KeyPath<Page, Int>, last: KeyPath<Page, Int>,
        apply: (Page) async throws -> Void
    ) async throws -> Int {
        var copied = 0
        while true {
            let cursor = try await store.cursor(feed)
            let page = try await fetch(cursor, configuration.feedPageSize)
            guard page[keyPath: count] > 0 || page[keyPath: last] != cursor else { break }
            try await apply(page)
            copied += page[keyPath: count]
            if page[keyPath: count] < configuration.feedPageSize { break }
        }
        return copied
    }

    /// Tries to deliver every fit signal that is due; failures are retried later with back-off.
    /// Returns how many were delivered.
    @discardableResult
    public func deliverFitSignals() async throws -> Int {
        guard let sink = peers.fitSignals else { return 0 }
        var delivered = 0
        for pending in try await store.pendingFitSignals(now: configuration.now(), limit: 100) {
            do {
                try await sink.recordFitSignal(pending.signal)
                try await store.markDelivered(pending.id, now: configuration.now())
                delivered += 1
            } catch let error as RPCError where error.code == .notFound || error.code == .invalidArgument {
                // Matching will never accept it (the match is gone): stop retrying, keep it for operators.
                logger.warning("fit signal refused", metadata: ["match": "\(pending.signal.matchID)", "error": "\(error)"])
                try await store.markFailed(pending.id, error: "\(error)", retryAt: .distantFuture)
            } catch {
                let delay = min(configuration.maxRetryDelay, configuration.firstRetryDelay * pow(2, Double(min(pending.attempts, 20))))
                logger.info("fit signal not delivered yet", metadata: ["match": "\(pending.signal.matchID)", "error": "\(error)", "retryInSeconds": "\(delay)"])
                try await store.markFailed(pending.id, error: "\(error)", retryAt: configuration.now().addingTimeInterval(delay))
            }
        }
        return delivered
    }

    /// Drops cached report facts (the benchmark measures reports read from the database too).
    package func forgetCachedReports() {
        reportCache.removeAll()
    }

    /// Fit signals delivered and still waiting.
    public func fitSignalCounts() async throws -> (delivered: Int, pending: Int) {
        try await store.outboxCounts()
    }

    /// The background work, until cancelled: sync the feeds (matching's matches, scheduling's
    /// meetings, identity's erasures) and deliver fit signals every `syncInterval`. Reports for
    /// operators: `tandem_feedback_fit_signals_pending` (waiting for matching),
    /// `tandem_feedback_feed_cursor{feed}` and `tandem_feedback_sync_failures_total`.
    public func runBackground() async {
        let pending = Gauge(label: "tandem_feedback_fit_signals_pending")
        let failures = Counter(label: "tandem_feedback_sync_failures_total")
        let cursors = Self.feeds.map { ($0, Gauge(label: "tandem_feedback_feed_cursor", dimensions: [("feed", $0)])) }
        while !Task.isCancelled {
            do {
                try await syncNow()
            } catch {
                failures.increment()
                logger.info("feed sync failed; retrying", metadata: ["error": "\(error)"])
            }
            for (feed, gauge) in cursors {
                if let cursor = try? await store.cursor(feed) { gauge.record(cursor) }
            }
            do {
                try await deliverFitSignals()
            } catch {
                logger.warning("fit signal delivery failed", metadata: ["error": "\(error)"])
            }
            if let count = try? await store.pendingFitSignalCount() { pending.record(count) }
            try? await Task.sleep(for: configuration.syncInterval)
        }
    }
}

/// Runs one operation at a time.
final class SyncGate: Sendable {
    private let busy = Mutex(false)
    private let waiters = Mutex<[CheckedContinuation<Void, Never>]>([])

    func run<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        while true {
            let acquired = busy.withLock { busy -> Bool in
                if busy { return false }
                busy = true
                return true
            }
            if acquired { break }
            await withCheckedContinuation { continuation in
                let stillBusy = busy.withLock { busy -> Bool in
                    if busy { waiters.withLock { $0.append(continuation) } }
                    return busy
                }
                if !stillBusy { continuation.resume() }
            }
        }
        defer {
            let next = busy.withLock { busy -> [CheckedContinuation<Void, Never>] in
                busy = false
                return waiters.withLock { waiting in
                    let all = waiting
                    waiting.removeAll()
                    return all
                }
            }
            for waiter in next { waiter.resume() }
        }
        return try await body()
    }
}

/// The columnar facts of recent reports, valid while their organisation's data generation is
/// unchanged (a write bumps it after committing) and for at most `lifetime` seconds.
final class ReportFactsCache: Sendable {
    struct Key: Hashable, Sendable {
        var organisation: UUID
        var program: UUID
        var months: ClosedRange<Int32>
        var first: Int
        var every: Int
    }

    private struct Entry {
        var facts: ReportFacts
        var generation: UInt64
        var storedAt: Date
    }

    private let entries = Mutex<[Key: Entry]>([:])
    let limit: Int
    let lifetime: TimeInterval

    init(limit: Int = 8, lifetime: TimeInterval = 60) {
        self.limit = limit
        self.lifetime = lifetime
    }

    func get(_ key: Key, generation: UInt64, now: Date) -> ReportFacts? {
        entries.withLock { entries in
            guard let entry = entries[key] else { return nil }
            guard entry.generation == generation, now.timeIntervalSince(entry.storedAt) < lifetime, entry.storedAt <= now else {
                entries[key] = nil
                return nil
            }
            return entry.facts
        }
    }

    func removeAll() {
        entries.withLock { $0.removeAll() }
    }

    func set(_ key: Key, _ facts: ReportFacts, generation: UInt64, now: Date) {
        entries.withLock { entries in
            if entries.count >= limit, let oldest = entries.min(by: { $0.value.storedAt < $1.value.storedAt })?.key { entries[oldest] = nil }
            entries[key] = Entry(facts: facts, generation: generation, storedAt: now)
        }
    }
}
