import NIOCore
import Synchronization

/// The server's open connections, so a drain can reach every one and the connection limit can
/// be enforced.
final class ConnectionRegistry: Sendable {
    private struct Entry: Sendable {
        let handler: NIOLoopBound<ServerConnectionHandler>
        let eventLoop: any EventLoop
    }

    private struct State {
        var connections: [UInt64: Entry] = [:]
        var emptyWaiters: [CheckedContinuation<Void, Never>] = []
        var nextID: UInt64 = 1
    }

    private let state = Mutex(State())

    var count: Int { state.withLock { $0.connections.count } }

    func nextID() -> UInt64 {
        state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
    }

    func add(_ handler: ServerConnectionHandler, id: UInt64, eventLoop: any EventLoop) {
        let entry = Entry(handler: NIOLoopBound(handler, eventLoop: eventLoop), eventLoop: eventLoop)
        state.withLock { $0.connections[id] = entry }
    }

    func remove(id: UInt64) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.connections[id] = nil
            guard state.connections.isEmpty else { return [] }
            defer { state.emptyWaiters.removeAll() }
            return state.emptyWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Sends GOAWAY on every connection; each closes once its calls are done.
    func drainAll() {
        for entry in state.withLock({ Array($0.connections.values) }) {
            entry.eventLoop.execute { entry.handler.value.beginDrain() }
        }
    }

    /// Cancels every call and closes every connection.
    func closeAll() {
        for entry in state.withLock({ Array($0.connections.values) }) {
            entry.eventLoop.execute { entry.handler.value.forceClose() }
        }
    }

    /// Returns when no connection is open.
    func waitUntilEmpty() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { state -> Bool in
                if state.connections.isEmpty { return true }
                state.emptyWaiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }
}
