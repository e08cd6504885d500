import Foundation
import Synchronization
import TandemProtocols
import TandemRPC
import TandemTestSupport
import TandemWire
import Testing

/// The echo service, but a `collect` call sent with `x-hold` metadata reads nothing until the
/// test opens the gate: a method that reads its requests more slowly than the client sends them.
final class HoldingEcho: EchoHandlers {
    let open = Mutex(false)
    let echo = EchoService()

    func get(_ request: EchoMessage, context: ServerContext) async throws -> EchoMessage { request }

    func expand(_ request: EchoMessage, responses: RPCWriter<EchoMessage>, context: ServerContext) async throws {
        try await echo.expand(request, responses: responses, context: context)
    }

    func collect(_ requests: RPCRequestStream<EchoMessage>, context: ServerContext) async throws -> EchoMessage {
        if context.metadata["x-hold"] != nil {
            while !open.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(5)) }
        }
        var bytes = 0
        for try await request in requests { bytes += request.payload.count }
        return EchoMessage(text: "\(bytes)")
    }

    func update(_ requests: RPCRequestStream<EchoMessage>, responses: RPCWriter<EchoMessage>, context: ServerContext) async throws {
        try await echo.update(requests, responses: responses, context: context)
    }
}

@Suite("RPC: request messages a streaming method has not read yet")
struct UnreadRequestTests {
    let held = CallOptions(metadata: ["x-hold": "1"])
    let piece = EchoMessage(payload: Data(count: 10 * 1024))

    @Test("past maxPendingRequestBytes unread on one call it fails RESOURCE_EXHAUSTED; past the server's total the call that would exceed it does; what is read, or left when a call ends, is free again")
    func unreadRequestsAreLimited() async throws {
        let service = HoldingEcho()
        try await withServer(services: [service], configure: {
            $0.maxPendingRequestBytes = 512 * 1024
            $0.maxPendingRequestBytesTotal = 768 * 1024
        }) { _, endpoint in
            let client = try makeClient([endpoint])
            defer { client.close() }
            let piece = self.piece, held = self.held

            // A method that reads: 4 MiB in 10 KiB messages go through a 512 KiB bound, since
            // each message read is no longer held.
            let read = try await client.clientStreaming(Echo.collect) { writer in
                for _ in 0..<410 { try await writer.write(piece) }
            }
            #expect(read.text == "\(410 * 10 * 1024)")

            /// A call holding 450 KiB until its method reads: it fits only while less than
            /// 318 KiB of the server's 768 KiB is held by other calls.
            func fits() async throws -> Bool {
                service.open.withLock { $0 = false }
                async let call = client.clientStreaming(Echo.collect, options: held) { writer in
                    for _ in 0..<45 { try await writer.write(piece) }
                }
                // Not read yet: the bytes sit at the server. Then let it read.
                try await Task.sleep(for: .milliseconds(50))
                service.open.withLock { $0 = true }
                do {
                    return try await call.text == "\(45 * 10 * 1024)"
                } catch let error as RPCError where error.code == .resourceExhausted {
                    return false
                }
            }

            // A method that does not read: the message that would pass 512 KiB fails the call.
            let perCall = await expectRPCError(.resourceExhausted) {
                _ = try await client.clientStreaming(Echo.collect, options: held) { writer in
                    for _ in 0..<60 { try await writer.write(piece) }
                }
            }
            #expect(perCall?.message.contains("not yet read by the handler") == true)
            #expect(perCall?.message.contains("maxPendingRequestBytes") == true)
            // What it held (~510 KiB) is given back once the call has ended.
            #expect(try await eventually { try await fits() })

            // Two calls holding 400 KiB each: the second passes the server's 768 KiB. (One
            // connection, so the first call's messages arrive first.)
            service.open.withLock { $0 = false }
            let firstSent = Mutex(false)
            async let first = client.clientStreaming(Echo.collect, options: held) { writer in
                for _ in 0..<40 { try await writer.write(piece) }
                firstSent.withLock { $0 = true }
            }
            #expect(try await eventually { firstSent.withLock { $0 } })
            let total = await expectRPCError(.resourceExhausted) {
                _ = try await client.clientStreaming(Echo.collect, options: held) { writer in
                    for _ in 0..<40 { try await writer.write(piece) }
                }
            }
            #expect(total?.message.contains("too many request messages not yet read") == true)
            // The first call is read once its method reads.
            service.open.withLock { $0 = true }
            #expect(try await first.text == "\(40 * 10 * 1024)")
            // And the second call's unread messages are given back too.
            #expect(try await eventually { try await fits() })
        }
    }
}
