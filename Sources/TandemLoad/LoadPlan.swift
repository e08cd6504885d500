public import Foundation
import Synchronization

/// The operations tandem-load sends and how often.
public enum LoadOperation: String, CaseIterable, Sendable, Codable {
    case book
    case find
    case cancel
}

/// What one run does: the population, the mix, how long, how hard.
public struct LoadPlan: Sendable {
    public enum Pace: Sendable, Equatable {
        /// `concurrency` calls always in flight.
        case closed(concurrency: Int)
        /// Calls started at a fixed rate, whatever the answers; latency counts from each call's
        /// intended start (no coordinated omission).
        case open(ratePerSecond: Double)
    }

    public var pace: Pace = .closed(concurrency: 64)
    /// Weights of the operations, e.g. book 70, find 20, cancel 10.
    public var mix: [LoadOperation: Int] = [.book: 80, .find: 0, .cancel: 20]
    public var duration: TimeInterval? = 30
    public var requests: Int?
    public var warmup: TimeInterval = 3
    public var people = 10_000
    public var pairs = 5_000
    public var seed: UInt64 = 1
    /// The random choices of the operations (which pair, when); default: `seed`. A second run
    /// over the same population (`--skip-setup`) gives another one so as not to repeat the first.
    public var operationsSeed: UInt64?
    /// Bookings are spread over this many days from `horizonStart`.
    public var horizonDays = 365
    public var horizonStart: Date
    public var meetingMinutes = 30
    /// Most calls in flight in open-loop mode (beyond it, starts wait and count as late).
    public var maxInFlight = 4096

    public init(horizonStart: Date) {
        self.horizonStart = horizonStart
    }

    /// Parses `book=70,find=20,cancel=10`.
    public static func parseMix(_ text: String) throws -> [LoadOperation: Int] {
        var mix: [LoadOperation: Int] = [:]
        for part in text.split(separator: ",") {
            let pieces = part.split(separator: "=")
            guard pieces.count == 2, let operation = LoadOperation(rawValue: pieces[0].trimmingCharacters(in: .whitespaces)),
                  let weight = Int(pieces[1].trimmingCharacters(in: .whitespaces)), weight >= 0 else {
                throw LoadError("--mix '\(text)': use operation=weight pairs, e.g. book=70,find=20,cancel=10 (operations: book, find, cancel)")
            }
            mix[operation] = weight
        }
        guard mix.values.reduce(0, +) > 0 else { throw LoadError("--mix needs at least one positive weight") }
        return mix
    }
}

/// A problem with the run, said in one line.
public struct LoadError: Error, CustomStringConvertible, Sendable {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// An atomic counter that closures can share.
final class Counter: Sendable {
    private let value = Atomic<Int>(0)

    /// Adds `amount`; returns the value before.
    @discardableResult
    func add(_ amount: Int = 1) -> Int {
        value.wrappingAdd(amount, ordering: .relaxed).oldValue
    }

    var current: Int { value.load(ordering: .relaxed) }
}

/// A value behind a lock that closures can share.
final class Locked<Value: Sendable>: Sendable {
    private let value: Mutex<Value>

    init(_ value: Value) {
        self.value = Mutex(value)
    }

    func withLock<T>(_ body: (inout Value) -> T) -> T {
        value.withLock { body(&$0) }
    }
}
