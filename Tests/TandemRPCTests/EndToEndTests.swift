import Foundation
import Logging
import NIOCore
import Synchronization
import TandemProtocols
import TandemRPC
import TandemTestSupport
import TandemWire
import Testing

/// Methods for probing the runtime's behaviour from inside a handler.
enum Probe {
    static let wait = MethodDescriptor<EchoMessage, EchoMessage>(service: "probe", method: "Wait")
    static let fail = MethodDescriptor<EchoMessage, EchoMessage>(service: "probe", method: "Fail")
    static let metadata = MethodDescriptor<EchoMessage, EchoMessage>(service: "probe", method: "Metadata")
    static let remaining = MethodDescriptor<EchoMessage, EchoMessage>(service: "probe", method: "Remaining")
    static let flaky = MethodDescriptor<EchoMessage, EchoMessage>(service: "probe", method: "Flaky", idempotent: true)
}

struct SecretError: Error {
    let password = "hunter2"
}

final class Counter: Sendable {
    private let value = Atomic<Int>(0)
    func next() -> Int { value.wrappingAdd(1, ordering: .relaxed).oldValue }
    var count: Int { value.load(ordering: .relaxed) }
}

struct ProbeService: RPCService {
    let log: EventLog
    let attempts = Counter()

    func register(into router: inout RPCRouter) {
        router.register(Probe.wait, unary: { request, _ in
            log.record("started:\(request.text)")
            do {
                try await Task.sleep(for: .milliseconds(request.delayMilliseconds ?? 0))
            } catch {
                log.record("cancelled:\(request.text)")
                throw error
            }
            log.record("finished:\(request.text)")
            return request
        })
        router.register(Probe.fail, unary: { _, _ in throw SecretError() })
        router.register(Probe.metadata, unary: { _, context in
            context.setTrailingMetadata("x-reply", "pong")
            context.setInitialMetadata("x-initial", "hello")
            return EchoMessage(text: context.metadata["x-test"] ?? "none")
        })
        router.register(Probe.remaining, unary: { _, context in
            let remaining = context.remainingTime.map { "\($0.nanoseconds / 1_000_000)" } ?? "none"
            return EchoMessage(text: remaining)
        })
        router.register(Probe.flaky, unary: { request, _ in
            if attempts.next() < 2 {
                throw RPCError(code: .unavailable, message: "try again")
            }
            return request
        })
    }
}

@Suite("RPC end to end over TLS")
struct EndToEndTests {
    @Test func unaryRoundTripWithEveryMessageField() async throws {
        try await withServer { _, endpoint in
            let client = try makeClient([endpoint])
            defer { client.close() }
            let request = EchoMessage(text: "hello", payload: Data(repeating: 7, count: 256), repeat: 2, delayMilliseconds: 0)
            #expect(try await client.call(Echo.get, request) == request)
        }
    }

    @Test func allStreamingShapes() async throws {
        try await withServer { _, endpoint in
            let client = try makeClient([endpoint])
            defer { client.close() }
            let expanded = try await client.serverStreaming(Echo.expand, EchoMessage(text: "x", repeat: 5)) { responses in
                var texts: [String] = []
                for try await response in responses { texts.append(response.text) }
                return texts
            }
            #expect(expanded == Array(repeating: "x", count: 5))

            let collected = try await client.clientStreaming(Echo.collect) { writer in
                for word in ["a", "b", "c"] { try await writer.write(EchoMessage(text: word, payload: Data([1]))) }
            }
            #expect(collected.text == "abc")
            #expect(collected.payload == Data([1, 1, 1]))

            let echoed = try await client.bidirectional(Echo.update, requests: { writer in
                for index in 0..<10 { try await writer.write(EchoMessage(text: "\(index)")) }
            }) { responses in
                var texts: [String] = []
                for try await response in responses { texts.append(response.text) }
                return texts
            }
            #expect(echoed == (0..<10).map(String.init))

            // A stream with zero messages each way.
            let empty = try await client.clientStreaming(Echo.collect) { _ in }
            #expect(empty == EchoMessage())
        }
    }

    @Test func aThousandConcurrentCallsShareOneConnection() async throws {
        try await withServer { server, endpoint in
            let client = try makeClient([endpoint])
            defer { client.close() }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<1000 {
                    group.addTask {
                        // Responses come back in any order; each matches its own request.
                        let response = try await client.call(Echo.get, EchoMessage(text: "\(index)", delayMilliseconds: index % 3))
                        #expect(response.text == "\(index)")
                    }
                }
                try await group.waitForAll()
            }
            #expect(server.connectionCount == 1)
        }
    }

    @Test func deadlineExpiresOnTheServerAndCancelsTheHandler() async throws {
        let log = EventLog()
        try await withServer(services: [ProbeService(log: log)]) { _, endpoint in
            let client = try makeClient([endpoint])
            defer { client.close() }
            _ = try await client.call(Probe.wait, EchoMessage(text: "warm-up"))
            let started = ContinuousClock.now
            await expectRPCError(.deadlineExceeded) {
                _ = try await client.call(Probe.wait, EchoMessage(text: "slow", delayMilliseconds: 120_000), options: CallOptions(timeout: .milliseconds(200)))
            }
            // Long before the handler would have answered; generous, for a busy machine can hold
            // this task up for many seconds.
            #expect(ContinuousClock.now - started < .seconds(60))
            #expect(try await eventually { log.contains("cancelled:slow") })
            #expect(!log.contains("finished:slow"))
        }
    }

    @Test func clientCancellationReachesTheHandler() async throws {
        let log = EventLog()
        try await withServer(services: [ProbeService(log: log)]) { _, endpoint in
            let client = try makeClient([endpoint])
            defer { client.close() }
            let call = Task {
                try await client.call(Probe.wait, EchoMessage(text: "abandoned", delayMilliseconds: 10_000))
            }
            #expect(try await eventually { log.contains("started:abandoned") })
            call.cancel()
            await expectRPCError(.cancelled) { _ = try await call.value }
            #expect(try await eventually { log.contains("cancelled:abandoned") })
        }
    }

    @Test func handlerErrorsBecomeStatusesWithoutLeakingInternals() async throws {
        try await withServer(services: [ProbeService(log: EventLog()), EchoService()]) { _, endpoint in
            let client = try makeClient([endpoint])
            defer { client.close() }
            let unknown = await expectRPCError(.unknown) { _ = try await client.call(Probe.fail, EchoMessage()) }
            #expect(unknown?.message.contains("hunter2") == false)
            #expect(unknown?.message.contains("SecretError") == false)
            let missing = MethodDescriptor<EchoMessage, EchoMessage>(service: "nowhere", method: "Nothing")
            await expectRPCError(.unimplemented) { _ = try await client.call(missing, EchoMessage()) }
            // A request that does not decode as the method's input names the field and the rule.
            let wrongShape = MethodDescriptor<BookMeetingRequest, EchoMessage>(service: "echo", method: "Get")
            let booking = BookMeetingRequest(matchID: UUID(), start: Date(), durationMinutes: 30, timeZone: "UTC")
            let invalid = await expectRPCError(.invalidArgument) { _ = try await client.call(wrongShape, booking) }
            #expect(invalid?.fieldViolations.first?.field == "text")
            #expect(invalid?.fieldViolations.first?.rule == "type")
        }
    }

    @Test func metadataTravelsBothWays() async throws {
        try await withServer(services: [ProbeService(log: EventLog())]) { _, endpoint in
            let client = try makeClient([endpoint])
            defer { client.close() }
            let (response, metadata) = try await client.callWithMetadata(
                Probe.metadata, EchoMessage(), options: CallOptions(metadata: ["x-test": "ping"])
            )
            #expect(response.text == "ping")
            #expect(metadata["x-reply"] == "pong")
            #expect(metadata["x-initial"] == "hello")
            // The server made a request id and returned it in the trailers.
            #expect(metadata["request-id"]?.isEmpty == false)
            let (_, echoed) = try await client.callWithMetadata(Probe.metadata, EchoMessage(), options: CallOptions(metadata: ["request-id": "mine-7"]))
            #expect(echoed["request-id"] == "mine-7")
        }
    }

    @Test func idempotentCallsAreRetriedOnUnavailable() async throws {
        let service = ProbeService(log: EventLog())
        try await withServer(services: [service]) { _, endpoint in
            let client = try makeClient([endpoint])
            defer { client.close() }
            #expect(try await client.call(Probe.flaky, EchoMessage(text: "third time")).text == "third time")
            #expect(service.attempts.count == 3)
        }
    }

    @Test func nonIdempotentCallsAreNotRetried() async throws {
        let service = ProbeService(log: EventLog())
        try await withServer(services: [service]) { _, endpoint in
            let client = try makeClient([endpoint])
            defer { client.close() }
            let notIdempotent = MethodDescriptor<EchoMessage, EchoMessage>(service: "probe", method: "Flaky")
            await expectRPCError(.unavailable) { _ = try await client.call(notIdempotent, EchoMessage()) }
            #expect(service.attempts.count == 1)
        }
    }

    @Test func healthAndReflection() async throws {
        try await withServer { server, endpoint in
            let client = try makeClient([endpoint])
            defer { client.close() }
            #expect(try await client.call(Health.check, HealthCheckRequest()).status == .serving)
            #expect(try await client.call(Health.check, HealthCheckRequest(service: "echo")).status == .serving)
            #expect(try await client.call(Health.check, HealthCheckRequest(service: "billing")).status == .serviceUnknown)
            let list = try await client.call(Reflection.listServices, Empty())
            #expect(Set(list.services.map(\.name)) == ["echo", "health", "reflection"])
            #expect(list.services.first { $0.name == "echo" }?.methods.map(\.name) == ["Collect", "Expand", "Get", "Update"])

            // Watch sees the current status, then each change.
            let statuses = try await client.serverStreaming(Health.watch, HealthCheckRequest(service: "echo")) { responses in
                var seen: [ServingStatus] = []
                for try await response in responses {
                    seen.append(response.status)
                    if seen.count == 1 { server.health.setStatus(.notServing, for: "echo") }
                    if seen.count == 2 { break }
                }
                return seen
            }
            #expect(statuses == [.serving, .notServing])
        }
    }

    @Test func callsSpreadRoundRobinOverInstancesAndSurviveOneStopping() async throws {
        try await withServer { first, firstEndpoint in
            try await withServer { second, secondEndpoint in
                let client = try makeClient([firstEndpoint, secondEndpoint])
                defer { client.close() }
                for index in 0..<20 {
                    _ = try await client.call(Echo.get, EchoMessage(text: "\(index)"))
                }
                #expect(first.connectionCount == 1)
                #expect(second.connectionCount == 1)
                // The first instance drains away; idempotent calls carry on through the second.
                first.beginGracefulShutdown()
                for index in 0..<20 {
                    #expect(try await client.call(Echo.get, EchoMessage(text: "\(index)")).text == "\(index)")
                }
            }
        }
    }
}
