import NIOCore

/// One timer per connection for the deadlines of all of its calls, confined to the connection's
/// event loop. Scheduling and cancelling a timer of its own for every call (a task, a promise and
/// a heap entry on the event loop each time) was about 2% of a busy service's CPU.
///
/// The connection keeps each call's deadline with the call. The timer is armed for the earliest
/// deadline it has been told of; when it fires, the connection ends the calls that are due and
/// arms it again for the earliest one left (`arm(by:)`). A call that ends earlier costs nothing:
/// the timer may then fire for nobody, and is armed again for the calls still open.
struct DeadlineTimer {
    private var scheduled: Scheduled<Void>?
    private var armedFor: NIODeadline?

    /// Whether the timer already fires by `deadline` (then `arm(by:)` would do nothing; asking
    /// first spares the caller building its closure, an allocation, for every call).
    func fires(by deadline: NIODeadline) -> Bool {
        armedFor.map { $0 <= deadline } ?? false
    }

    /// Makes sure the timer fires by `deadline`: arms it if it is not armed, or armed for later.
    mutating func arm(by deadline: NIODeadline, on eventLoop: any EventLoop, _ fire: @escaping () -> Void) {
        if fires(by: deadline) { return }
        scheduled?.cancel()
        armedFor = deadline
        scheduled = eventLoop.assumeIsolated().scheduleTask(deadline: deadline, fire)
    }

    /// Call first when the timer fires: it is no longer armed.
    mutating func fired() {
        scheduled = nil
        armedFor = nil
    }

    mutating func cancel() {
        scheduled?.cancel()
        fired()
    }

    /// Of `deadlines`, those due at `now` and the earliest still to come.
    static func due<Key>(_ deadlines: some Sequence<(Key, NIODeadline?)>, now: NIODeadline) -> (due: [Key], next: NIODeadline?) {
        var due: [Key] = []
        var next: NIODeadline?
        for (key, deadline) in deadlines {
            guard let deadline else { continue }
            if deadline <= now {
                due.append(key)
            } else if next.map({ deadline < $0 }) ?? true {
                next = deadline
            }
        }
        return (due, next)
    }
}
