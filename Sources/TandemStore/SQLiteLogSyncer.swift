#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Logging

/// Syncs the write-ahead log for the writer, so that the writer can run the next group of writes
/// while the last group's sync is under way (a pipelined group commit), and answers each group's
/// writers once a sync that began after its frames were written has finished.
///
/// Groups are answered in commit order. A group that left no sync (it wrote nothing, or SQLite
/// synced it) still waits behind the groups before it: it may have read what they wrote, and
/// must not answer before they are durable. A sync covers every group handed over before it
/// began: the log is one file, appended to in commit order.
///
/// A failed sync fails its groups and every later write: after a failed `fdatasync` the kernel
/// may have dropped the pages it could not write, so what is in the log is no longer known
/// (PostgreSQL stops for the same reason). The process must be restarted; SQLite then recovers
/// from what the log holds.
final class SQLiteLogSyncer: SQLiteBackgroundThread, @unchecked Sendable {
    // Safe: the state is only touched under `condition`.
    struct Group {
        /// A descriptor of the log to sync (closed once synced), or nil.
        var descriptor: Int32?
        var completions: [@Sendable (Result<Void, any Error>) -> Void]
        var outcome: Result<Void, any Error>
        /// The group's place in commit order (`SQLiteWorker.commitTicket` when it committed).
        var ticket: UInt64 = 0
    }

    private var queue: [Group] = []
    private var failure: (any Error)?
    /// The highest ticket whose group has been answered (its frames synced, or failed).
    private var durableTicket: UInt64 = 0
    /// Readers waiting for a ticket to be durable.
    private var waiters: [(ticket: UInt64, resume: CheckedContinuation<Void, Never>)] = []
    private let logger: Logger
    /// Called after each sync with its duration (nanoseconds).
    var onSync: (@Sendable (UInt64) -> Void)?

    init(logger: Logger) {
        self.logger = logger
        super.init(name: "sqlite-sync")
    }

    /// The error of a failed sync, after which no write may be acknowledged.
    var failed: (any Error)? {
        condition.lock()
        defer { condition.unlock() }
        return failure
    }

    /// Returns once every group up to `ticket` has been answered: what a read saw of them is
    /// durable (or their writers were told they failed).
    func waitUntilDurable(_ ticket: UInt64) async {
        await withCheckedContinuation { continuation in
            if !wait(for: ticket, continuation) { continuation.resume() }
        }
    }

    /// Registers a waiter; false when `ticket` is already durable (the caller resumes it).
    private func wait(for ticket: UInt64, _ continuation: CheckedContinuation<Void, Never>) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if durableTicket >= ticket || finished { return false }
        waiters.append((ticket, continuation))
        return true
    }

    func enqueue(_ group: Group) {
        condition.lock()
        queue.append(group)
        condition.signal()
        condition.unlock()
    }

    /// Answers the groups handed over so far (`stop()` waits for them), then ends.
    override func run() {
        while true {
            condition.lock()
            while queue.isEmpty && !stopping { condition.wait() }
            if queue.isEmpty {
                finished = true
                let waiting = waiters
                waiters.removeAll()
                condition.broadcast()
                condition.unlock()
                for waiter in waiting { waiter.resume.resume() }
                return
            }
            let groups = queue
            queue.removeAll(keepingCapacity: true)
            let earlier = failure
            condition.unlock()

            var error = earlier
            let descriptors = groups.compactMap(\.descriptor)
            if !descriptors.isEmpty {
                let started = DispatchTime.now().uptimeNanoseconds
                if error == nil { error = Self.sync(descriptors) }
                for descriptor in descriptors { close(descriptor) }
                onSync?(DispatchTime.now().uptimeNanoseconds &- started)
                if let error, earlier == nil {
                    logger.critical("the write-ahead log could not be synced: no more writes are accepted; restart the service", metadata: ["error": "\(error)"])
                    condition.lock()
                    failure = error
                    condition.unlock()
                }
            }
            for group in groups {
                let outcome: Result<Void, any Error>
                if let error, case .success = group.outcome { outcome = .failure(error) } else { outcome = group.outcome }
                for complete in group.completions { complete(outcome) }
            }
            resumeWaiters(upTo: groups.map(\.ticket).max() ?? 0)
        }
    }

    private func resumeWaiters(upTo ticket: UInt64) {
        condition.lock()
        durableTicket = max(durableTicket, ticket)
        let durable = durableTicket
        var ready: [CheckedContinuation<Void, Never>] = []
        waiters.removeAll { waiter in
            guard waiter.ticket <= durable else { return false }
            ready.append(waiter.resume)
            return true
        }
        condition.unlock()
        for continuation in ready { continuation.resume() }
    }

    /// Syncs each distinct file among `descriptors` once (they are normally all the same log).
    private static func sync(_ descriptors: [Int32]) -> (any Error)? {
        var synced: [(dev_t, ino_t)] = []
        for descriptor in descriptors.reversed() {
            var status = stat()
            if fstat(descriptor, &status) == 0 {
                if synced.contains(where: { $0 == (status.st_dev, status.st_ino) }) { continue }
                synced.append((status.st_dev, status.st_ino))
            }
            #if canImport(Darwin)
            let result = fsync(descriptor)
            #else
            let result = fdatasync(descriptor)
            #endif
            if result != 0 {
                let code = errno
                return SQLiteError(code: 1034 /* SQLITE_IOERR_FSYNC */, message: "cannot sync the write-ahead log: \(String(cString: strerror(code)))", sql: nil)
            }
        }
        return nil
    }
}
