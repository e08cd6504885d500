import NIOCore

/// A connection handler's output (client and server alike): frames gathered in one buffer and
/// written at the end of a read cycle or event loop tick, so that many calls share one TLS record
/// and system call. Past `eagerFlushBytes` they are written at once, so the peer can start on the
/// first ones while the rest are produced.
///
/// The buffer is kept after each write and filled again from its start: the TLS handler encrypts
/// what it is given during the write, so the storage is ours alone again afterwards, and the next
/// frames need no new allocation (before, every write left a new 1 KiB buffer that the next
/// frames then grew). A buffer grown past `keptCapacity` by a burst is let go instead.
protocol CoalescedOutput: AnyObject, ChannelOutboundHandler where OutboundOut == ByteBuffer {
    var context: ChannelHandlerContext? { get }
    var outbound: ByteBuffer { get set }
    /// While a read cycle runs, writes wait for its end (`channelReadComplete` flushes).
    var inReadCycle: Bool { get }
    var flushScheduled: Bool { get set }
}

enum CoalescedOutputLimits {
    static let eagerFlushBytes = 8 * 1024
    /// Kept small: every open connection keeps its buffer (a thousand idle connections, 16 MiB
    /// at most).
    static let keptCapacity = 16 * 1024
    static let initialCapacity = 1024
}

extension CoalescedOutput {
    /// Writes now when enough is gathered; otherwise once, at the end of this read cycle or tick.
    func scheduleFlush() {
        if outbound.readableBytes >= CoalescedOutputLimits.eagerFlushBytes {
            flushNow()
            return
        }
        guard !inReadCycle, !flushScheduled, let context else { return }
        flushScheduled = true
        context.eventLoop.assumeIsolated().execute { [weak self] in
            guard let self else { return }
            self.flushScheduled = false
            self.flushNow()
        }
    }

    func flushNow() {
        guard let context, outbound.readableBytes > 0 else { return }
        context.writeAndFlush(wrapOutboundOut(takeOutbound()), promise: nil)
        // Frames written during that write (by a handler reacting to it) are still to go.
        guard outbound.readableBytes == 0 else { return }
        if outbound.capacity > CoalescedOutputLimits.keptCapacity {
            outbound = context.channel.allocator.buffer(capacity: CoalescedOutputLimits.initialCapacity)
        } else {
            // From the start again; storage that another handler still holds is left to it
            // (`clear()` then allocates).
            outbound.clear()
        }
    }

    /// The gathered bytes, leaving `outbound` empty before they are written: a write made while
    /// they are being written (and a flush of it) then sends only its own bytes.
    private func takeOutbound() -> ByteBuffer {
        let bytes = outbound
        outbound.moveReaderIndex(to: outbound.writerIndex)
        return bytes
    }
}
