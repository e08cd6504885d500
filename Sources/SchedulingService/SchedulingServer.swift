public import Foundation
public import Logging
import Synchronization
import TandemRandom
import TandemAuth
import TandemProtocols
public import TandemRPC
import TandemWire

/// How the scheduling service behaves.
public struct SchedulingConfiguration: Sendable {
    /// The video link of a meeting: `{room}` is replaced by an unguessable room id.
    public var videoURLTemplate = "https://meet.tandem.example/{room}"
    /// Free minutes kept around existing meetings when finding slots.
    public var defaultBufferMinutes = 10
    /// How long cached pairs and availability are trusted (other replicas may change them).
    public var cacheSeconds: TimeInterval = 30
    /// How long idempotency keys are remembered.
    public var idempotencyWindow: TimeInterval = 24 * 3600
    /// The write-ahead log's size, in pages (4 KiB each), at which it starts being copied into
    /// the database file; under a booking storm the writer copies the rest at four times this
    /// (SchedulingStore explains the default). Larger: more bookings a second and a lower p99,
    /// for more disk (up to 4× this in the log) and a longer read of the log after a crash.
    public var checkpointPages = 65_536
    /// The clock (tests move it).
    public var now: @Sendable () -> Date = { Date() }

    public init() {}

    /// Checks the template at start-up.
    public func validate() throws {
        guard videoURLTemplate.contains("{room}"), videoURLTemplate.hasPrefix("https://") || videoURLTemplate.hasPrefix("http://") else {
            throw ConfigurationError("the video URL template must be an http(s) URL containing {room}, e.g. https://meet.example.com/{room}")
        }
        guard (0...120).contains(defaultBufferMinutes) else { throw ConfigurationError("the buffer must be 0–120 minutes") }
        guard checkpointPages >= 1_000 && checkpointPages <= 1_048_576 else {
            throw ConfigurationError("the checkpoint size must be 1,000–1,048,576 pages (4 KiB each), not \(checkpointPages)")
        }
    }
}

/// The scheduling service: its store, caches and RPC handlers.
public final class SchedulingServer: Sendable {
    let store: SchedulingStore
    let configuration: SchedulingConfiguration
    let logger: Logger
    let pairCache: TTLCache<PairKey, StoredPair>
    let calendarCache: TTLCache<PairKey, PersonCalendar>
    /// The video URL template split at each `{room}` (`String.replacing` took 2% of the CPU of a
    /// booking run).
    private let videoURLParts: [String]

    struct PairKey: Hashable, Sendable {
        var organisation: UUID
        var id: UUID
    }

    /// Opens (creating and migrating) `<dataDirectory>/scheduling.sqlite`.
    public static func open(dataDirectory: String, configuration: SchedulingConfiguration = SchedulingConfiguration(), logger: Logger) throws -> SchedulingServer {
        try configuration.validate()
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        let store = try SchedulingStore(path: dataDirectory + "/scheduling.sqlite", checkpointPages: configuration.checkpointPages, logger: logger)
        return SchedulingServer(store: store, configuration: configuration, logger: logger)
    }

    private init(store: SchedulingStore, configuration: SchedulingConfiguration, logger: Logger) {
        self.store = store
        self.configuration = configuration
        self.logger = logger
        self.pairCache = TTLCache(seconds: configuration.cacheSeconds, limit: 200_000)
        self.calendarCache = TTLCache(seconds: configuration.cacheSeconds, limit: 200_000)
        self.videoURLParts = configuration.videoURLTemplate.components(separatedBy: "{room}")
    }

    /// The RPC handlers.
    public var service: any RPCService { SchedulingRPCService(server: self) }

    public func close() {
        store.close()
    }

    /// Fails unless the database answers reads and writes (for the readiness probe).
    public func checkStore() async throws {
        try await store.database.check()
    }

    /// Housekeeping to run alongside the server: forgets old idempotency keys every minute.
    public func maintain() async {
        while !Task.isCancelled {
            do {
                let removed = try await store.expireIdempotencyKeys(olderThan: configuration.now().addingTimeInterval(-configuration.idempotencyWindow))
                if removed > 0 { logger.debug("expired idempotency keys", metadata: ["count": "\(removed)"]) }
            } catch {
                logger.warning("idempotency key expiry failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(60))
        }
    }

    /// Statistics of the store (for benchmarks and metrics).
    public var storeStatistics: SQLiteStatisticsView {
        let statistics = store.database.currentStatistics
        return SQLiteStatisticsView(transactions: statistics.transactions, writes: statistics.writes, largestBatch: statistics.largestBatch)
    }

    // MARK: Cached reads

    func pair(organisation: UUID, match: UUID) async throws -> StoredPair? {
        let key = PairKey(organisation: organisation, id: match)
        if let cached = pairCache.get(key, now: configuration.now()) { return cached }
        guard let stored = try await store.pair(organisation: organisation, match: match) else { return nil }
        pairCache.set(key, stored, now: configuration.now())
        return stored
    }

    /// A person's availability, ready for slot finding and scoring (nil if they have set none, or
    /// its time zone is unknown here). Cached as built: building it takes longer than finding it.
    func calendar(organisation: UUID, person: UUID) async throws -> PersonCalendar? {
        let key = PairKey(organisation: organisation, id: person)
        if let cached = calendarCache.get(key, now: configuration.now()) { return cached }
        guard let availability = try await store.availability(organisation: organisation, person: person),
              let calendar = PersonCalendar(availability) else { return nil }
        calendarCache.set(key, calendar, now: configuration.now())
        return calendar
    }

    /// An unguessable video link: 26 characters of 5 random bits each (130 bits), from three
    /// words of the operating system's secure generator (drawn in blocks: `SecureRandom`).
    func videoURL() -> String {
        var generator = SecureRandom()
        // 32 letters and digits without look-alikes (no l, o, 0, 1).
        let alphabet = Array("abcdefghijkmnpqrstuvwxyz23456789".utf8)
        var bits: [UInt64] = [generator.next(), generator.next(), generator.next()]
        var room = [UInt8]()
        room.reserveCapacity(26)
        for index in 0..<26 {
            let word = index / 12
            room.append(alphabet[Int(bits[word] & 31)])
            bits[word] >>= 5
        }
        return videoURLParts.joined(separator: String(decoding: room, as: UTF8.self))
    }
}

/// Store counters, for benchmarks and metrics.
public struct SQLiteStatisticsView: Sendable {
    public var transactions: Int
    public var writes: Int
    public var largestBatch: Int
}

/// A small cache whose entries expire.
final class TTLCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private let entries = Mutex<[Key: (value: Value, expires: Date)]>([:])
    private let seconds: TimeInterval
    private let limit: Int

    init(seconds: TimeInterval, limit: Int) {
        self.seconds = seconds
        self.limit = limit
    }

    func get(_ key: Key, now: Date) -> Value? {
        entries.withLock { entries in
            guard let entry = entries[key] else { return nil }
            if entry.expires <= now {
                entries[key] = nil
                return nil
            }
            return entry.value
        }
    }

    func set(_ key: Key, _ value: Value, now: Date) {
        entries.withLock { entries in
            if entries.count >= limit { entries.removeAll(keepingCapacity: true) }
            entries[key] = (value, now.addingTimeInterval(seconds))
        }
    }

    func remove(_ key: Key) {
        _ = entries.withLock { $0.removeValue(forKey: key) }
    }
}
