import NIOCore
import NIOEmbedded
import Testing
@testable import TandemRPC

/// A handler with nothing but the connections' coalesced output.
private final class Output: ChannelOutboundHandler, CoalescedOutput {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    var context: ChannelHandlerContext?
    var outbound = ByteBuffer()
    var inReadCycle = false
    var flushScheduled = false

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func send(_ text: String) {
        outbound.writeString(text)
        scheduleFlush()
    }
}

/// Copies each write into a buffer of its own and lets go of the one it was given, as the TLS
/// handler does when it encrypts.
private final class Copier: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var copy = context.channel.allocator.buffer(capacity: 0)
        copy.writeImmutableBuffer(unwrapOutboundIn(data))
        context.write(wrapOutboundOut(copy), promise: promise)
    }
}

/// Between the output and the channel: on the first write it sees, it has the output write (and
/// flush) more, as a handler reacting to a write would.
private final class Reentrant: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    var output: Output?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        context.write(data, promise: promise)
        if let output {
            self.output = nil
            output.outbound.writeString("|during")
            output.flushNow()
            output.outbound.writeString("|after")
        }
    }
}

@Suite("Coalesced output")
struct CoalescedOutputTests {
    /// Written buffers, as text.
    func written(_ channel: EmbeddedChannel) throws -> [String] {
        var result: [String] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { result.append(String(buffer: buffer)) }
        return result
    }

    func storage(_ buffer: ByteBuffer) -> UInt {
        buffer.withVeryUnsafeBytes { UInt(bitPattern: $0.baseAddress) }
    }

    @Test("writes of one tick go out together; when the next handler copies what it is given (as TLS does), the buffer is reused from its start")
    func coalescesAndReuses() throws {
        let output = Output()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([Copier(), output])
        output.send("a")
        output.send("b")
        #expect(try written(channel).isEmpty)
        let before = storage(output.outbound)
        channel.embeddedEventLoop.run()
        #expect(try written(channel) == ["ab"])
        #expect(storage(output.outbound) == before && output.outbound.writerIndex == 0)
        output.send("c")
        channel.embeddedEventLoop.run()
        #expect(try written(channel) == ["c"])
        #expect(storage(output.outbound) == before)
        _ = try channel.finish()
    }

    @Test("a written buffer that the channel still holds is never written over")
    func heldBuffersStayIntact() throws {
        let output = Output()
        let channel = EmbeddedChannel(handler: output)
        output.send("ab")
        channel.embeddedEventLoop.run()
        output.send("cd")
        channel.embeddedEventLoop.run()
        #expect(try written(channel) == ["ab", "cd"])
        _ = try channel.finish()
    }

    @Test("eight KiB gathered are written at once; a buffer grown past 16 KiB is let go")
    func eagerAndBounded() throws {
        let output = Output()
        let channel = EmbeddedChannel(handler: output)
        output.send(String(repeating: "x", count: 8 * 1024))
        #expect(try written(channel).map(\.count) == [8 * 1024])
        output.send(String(repeating: "y", count: 100 * 1024))
        #expect(try written(channel).map(\.count) == [100 * 1024])
        #expect(output.outbound.capacity <= 16 * 1024)
        _ = try channel.finish()
    }

    @Test("what is written while a write is under way goes out after it, once, and nothing is lost")
    func writesDuringAWrite() throws {
        let output = Output()
        let reentrant = Reentrant()
        reentrant.output = output
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([reentrant, output])
        output.send("before")
        channel.embeddedEventLoop.run()
        #expect(try written(channel) == ["before", "|during"])
        #expect(String(buffer: output.outbound) == "|after")
        output.flushNow()
        #expect(try written(channel) == ["|after"])
        _ = try channel.finish()
    }
}
