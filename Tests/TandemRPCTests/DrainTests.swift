import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import TandemProtocols
import TandemRPC
import TandemTestSupport
import TandemWire
import Testing

@Suite("Graceful drain")
struct DrainTests {
    @Test func drainFinishesCallsInFlightAndRefusesNewOnes() async throws {
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0, tls: TestPKI.shared.serverTLS)
        // Longer than any stall of a busy machine: the calls end when the test releases them.
        configuration.drainGracePeriod = .seconds(120)
        let held = HeldCalls()
        let server = RPCServer(configuration: configuration, services: [EchoService(), held])
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            let endpoint = Endpoint(host: "127.0.0.1", port: try await server.listeningAddress().port!)
            let client = try makeClient([endpoint], configure: { $0.retryPolicy = .none })
            defer { client.close() }
            let raw = try await RawConnection.connect(to: endpoint)
            defer { raw.close() }
            _ = try await raw.handshake()
            // The raw connection has a call in flight too, so it stays open while draining (a
            // connection without calls would be closed at once). The server holds every call
            // until the test releases it: no timing, however busy the machine.
            try await raw.send(try unaryCall("held.Hold", EchoMessage(text: "raw"), streamID: 1))
            // Three more calls in flight…
            let inFlight = (0..<3).map { index in
                Task { try await client.call(HeldCalls.hold, EchoMessage(text: "\(index)")) }
            }
            defer { held.release() }                            // also when an expectation fails
            #expect(try await eventually { held.started == 4 })
            // …when the drain starts (as on SIGTERM).
            server.beginGracefulShutdown()
            #expect(server.health.status(of: "") == .notServing)
            // A client sees GOAWAY, and a call it opens afterwards is refused with UNAVAILABLE.
            // Frames of stream 1 (its response headers) may come first; keep them for later.
            var earlier: [InboundFrame] = []
            var goAwayFrame: Frame?
            while goAwayFrame == nil, let event = try await raw.next() {
                if case .frame(let frame) = event, frame.type == .goAway { goAwayFrame = frame } else { earlier.append(event) }
            }
            guard let goAway = goAwayFrame else {
                Issue.record("expected GOAWAY, got \(earlier)")
                return
            }
            #expect(try GoAway(decoding: goAway.payload).code == .unavailable)
            try await raw.send(try unaryCall("echo.Get", EchoMessage(text: "late"), streamID: 3))
            var refusedFrame: Frame?
            while refusedFrame == nil, let event = try await raw.next() {
                if case .frame(let frame) = event, frame.streamID == 3 { refusedFrame = frame } else { earlier.append(event) }
            }
            guard let refused = refusedFrame else { Issue.record("no answer on stream 3"); return }
            #expect(try Trailers(decoding: refused.payload).code == .unavailable)
            // New connections are refused too.
            let late = try makeClient([endpoint], configure: { $0.retryPolicy = .none })
            defer { late.close() }
            await expectRPCError(.unavailable) { _ = try await late.call(Echo.get, EchoMessage(text: "late")) }
            // The calls in flight complete.
            held.release()
            for (index, call) in inFlight.enumerated() {
                #expect(try await call.value.text == "\(index)")
            }
            // The raw connection's call completes as well, then the server closes it.
            let rest = earlier + (await raw.remainingFrames())
            #expect(rest.contains { if case .frame(let frame) = $0 { return frame.type == .message && frame.streamID == 1 } else { return false } })
            // And run() returns once they have.
            try await group.waitForAll()
        }
    }

    @Test func gracePeriodCancelsCallsThatDoNotFinish() async throws {
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0, tls: TestPKI.shared.serverTLS)
        configuration.drainGracePeriod = .milliseconds(200)
        let log = EventLog()
        let server = RPCServer(configuration: configuration, services: [ProbeService(log: log)])
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            let port = try await server.listeningAddress().port!
            let client = try makeClient([Endpoint(host: "127.0.0.1", port: port)])
            defer { client.close() }
            let stuck = Task { try await client.call(Probe.wait, EchoMessage(text: "stuck", delayMilliseconds: 60_000)) }
            #expect(try await eventually { log.contains("started:stuck") })
            server.beginGracefulShutdown()
            await expectRPCError(.unavailable) { _ = try await stuck.value }
            try await group.waitForAll()
            #expect(try await eventually { log.contains("cancelled:stuck") })
        }
    }

    @Test func serviceGroupShutdownDrainsTheServer() async throws {
        let configuration = ServerConfiguration(host: "127.0.0.1", port: 0, tls: TestPKI.shared.serverTLS)
        let log = EventLog()
        let server = RPCServer(configuration: configuration, services: [ProbeService(log: log)])
        let serviceGroup = ServiceGroup(services: [server], logger: Logger(label: "test.group"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await serviceGroup.run() }
            let port = try await server.listeningAddress().port!
            let client = try makeClient([Endpoint(host: "127.0.0.1", port: port)])
            defer { client.close() }
            let slow = Task { try await client.call(Probe.wait, EchoMessage(text: "finishing", delayMilliseconds: 300)) }
            #expect(try await eventually { log.contains("started:finishing") })
            await serviceGroup.triggerGracefulShutdown()
            #expect(try await slow.value.text == "finishing")
            try await group.waitForAll()
        }
    }
}
