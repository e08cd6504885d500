import Synchronization

/// Bytes of a streaming call's messages received and not yet taken by whoever reads them: the
/// caller for a client's responses, the handler for a server's requests. The protocol has no
/// flow control per call, and a connection keeps reading for its other calls, so these counts
/// are what bounds a reader slower than its sender.
final class BufferedBytes: Sendable {
    private let bytes = Atomic<Int>(0)

    /// Adds `count`; returns the new total.
    func add(_ count: Int) -> Int { bytes.wrappingAdd(count, ordering: .relaxed).newValue }
    func take(_ count: Int) { bytes.wrappingSubtract(count, ordering: .relaxed) }
    var current: Int { bytes.load(ordering: .relaxed) }
}
