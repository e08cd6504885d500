public import Foundation
import Synchronization

/// A development "test clock" (like Stripe's): real time plus an offset in seconds kept in a
/// file, so a dev cluster can live through weeks of a mentoring program in a minute. Every
/// process given the same file agrees on the shifted time; `tandem dev clock advance 7d`
/// moves it forward.
///
/// The file holds the offset as text (`604800`, a decimal point allowed); a missing file is 0.
/// `now()` re-reads the file at most every `rereadInterval` (0.1 s), so it costs a lock and a
/// monotonic-clock read on hot paths. A file whose text is not a number is refused when the
/// clock is opened (the service does not start); if it turns unreadable later, the last offset
/// read stays (a half-written file never moves time), while a deleted file means 0 again.
public final class DevClock: Sendable {
    public let path: String
    public let rereadInterval: Duration

    private struct Cache {
        var offset: TimeInterval
        var readAt: ContinuousClock.Instant
    }

    private let cache: Mutex<Cache>

    /// Opens the clock, reading the file once: a file that does not hold a number is an error.
    public init(path: String, rereadInterval: Duration = .milliseconds(100)) throws(DevClockError) {
        self.path = path
        self.rereadInterval = rereadInterval
        cache = Mutex(Cache(offset: try Self.readOffset(at: path), readAt: .now))
    }

    /// The offset in force, re-read from the file when the cached one is older than `rereadInterval`.
    public var offset: TimeInterval {
        let now = ContinuousClock.now
        let (cached, stale) = cache.withLock { cache -> (TimeInterval, Bool) in
            guard now - cache.readAt >= rereadInterval else { return (cache.offset, false) }
            // This caller re-reads; others keep the cached offset meanwhile instead of waiting.
            cache.readAt = now
            return (cache.offset, true)
        }
        guard stale, let fresh = try? Self.readOffset(at: path) else { return cached }
        // Unless a later re-read has claimed the cache since (this one was slow): that one wins.
        cache.withLock { if $0.readAt == now { $0.offset = fresh } }
        return fresh
    }

    /// Real time plus the offset.
    public func now() -> Date {
        Date().addingTimeInterval(offset)
    }

    // MARK: The file

    /// The offset a clock file holds: 0 when there is no file.
    public static func readOffset(at path: String) throws(DevClockError) -> TimeInterval {
        guard let data = FileManager.default.contents(atPath: path) else {
            if FileManager.default.fileExists(atPath: path) { throw DevClockError("\(path): cannot read the dev clock file") }
            return 0
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if text.isEmpty { return 0 }
        guard let offset = TimeInterval(text), offset.isFinite, abs(offset) < 100 * 365 * 86_400 else {
            throw DevClockError("\(path): the dev clock file must hold an offset in seconds, got '\(text.prefix(40))'")
        }
        return offset
    }

    /// Writes `offset` to the file atomically (a temporary file renamed over it), so a reader
    /// never sees half of it.
    public static func writeOffset(_ offset: TimeInterval, to path: String) throws {
        let text = offset == offset.rounded() ? String(Int64(offset)) : String(offset)
        try Data((text + "\n").utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// Moves the clock in `path` forward by `seconds` (refusing to move it back) and returns the
    /// new offset.
    @discardableResult
    public static func advance(_ path: String, by seconds: TimeInterval) throws -> TimeInterval {
        guard seconds > 0 else { throw DevClockError("the dev clock only moves forward (time going backwards would confuse the services)") }
        let offset = try readOffset(at: path) + seconds
        try writeOffset(offset, to: path)
        return offset
    }

    /// Moves the clock in `path` forward to `offset`; refuses an offset below the current one.
    public static func moveForward(_ path: String, to offset: TimeInterval) throws {
        let current = try readOffset(at: path)
        guard offset >= current else {
            throw DevClockError("the dev clock only moves forward: it is at \(describe(offset: current)), asked for \(describe(offset: offset))")
        }
        try writeOffset(offset, to: path)
    }

    // MARK: Amounts in words

    /// `7d`, `36h`, `90m`, `2w` (a whole or decimal number and one unit: m, h, d or w) in seconds.
    public static func parseAmount(_ text: String) throws(DevClockError) -> TimeInterval {
        let units: [Character: TimeInterval] = ["m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400]
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let unit = trimmed.last.flatMap({ units[$0] }), let number = Double(trimmed.dropLast()), number.isFinite else {
            throw DevClockError("'\(text)' is not an amount of time: a number and a unit, m, h, d or w (e.g. 7d, 36h, 2w)")
        }
        guard number > 0 else { throw DevClockError("the dev clock only moves forward: '\(text)' would move it back or not at all") }
        return number * unit
    }

    /// An offset in words: `+0`, `+7d 3h`, `+45m`, `-2h` (to the minute).
    public static func describe(offset: TimeInterval) -> String {
        var minutes = Int((abs(offset) / 60).rounded())
        guard minutes > 0 else { return "+0" }
        let days = minutes / 1440
        minutes %= 1440
        let parts = [days > 0 ? "\(days)d" : nil, minutes / 60 > 0 ? "\(minutes / 60)h" : nil, minutes % 60 > 0 ? "\(minutes % 60)m" : nil]
        return (offset < 0 ? "-" : "+") + parts.compactMap { $0 }.joined(separator: " ")
    }
}

/// A dev clock file or amount that cannot be used, in one line.
public struct DevClockError: Error, CustomStringConvertible, Sendable {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
