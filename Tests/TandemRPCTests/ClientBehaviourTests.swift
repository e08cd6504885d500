import Foundation
import NIOCore
import NIOPosix
import Logging
import Synchronization
import TandemProtocols
import TandemWire
import Testing
@testable import TandemRPC
import TandemTestSupport

enum Flood {
    static let method = MethodDescriptor<EchoMessage, EchoMessage>(service: "flood", method: "Pour", kind: .serverStreaming)
}

/// Writes as many 64 KiB messages as it is allowed to (up to `count`), counting them.
struct FloodService: RPCService {
    let written = Counter()
    /// Handlers that returned (all written, or stopped by a failed write).
    let ended = Counter()
    var count = 100_000

    func register(into router: inout RPCRouter) {
        router.register(Flood.method, serverStreaming: { [ended] _, writer, _ in
            defer { _ = ended.next() }
            // Random bytes, so compression cannot shrink them.
            var generator = SystemRandomNumberGenerator()
            let chunk = EchoMessage(payload: Data((0..<64 * 1024).map { _ in UInt8.random(in: 0...255, using: &generator) }))
            for _ in 0..<count {
                try await writer.write(chunk)
                _ = written.next()
            }
        })
    }
}

@Suite("Client behaviour and back-pressure")
struct ClientBehaviourTests {
    @Test func aClientThatDoesNotReadStopsTheServerFromBuffering() async throws {
        let flood = FloodService()
        try await withServer(services: [flood]) { _, endpoint in
            let raw = try await RawConnection.connect(to: endpoint)
            _ = try await raw.handshake()
            // Ask for 100,000 × 64 KiB (6 GiB) and then read nothing.
            try await raw.stopReading()
            try await raw.send(try unaryCall("flood.Pour", EchoMessage(), streamID: 1))
            // The handler is held back by the connection's writability: after it stalls, far
            // fewer than the requested messages have been produced.
            var last = -1
            while flood.written.count != last {
                last = flood.written.count
                try await Task.sleep(for: .milliseconds(300))
            }
            #expect(flood.written.count < 2_000, "\(flood.written.count) messages of 64 KiB buffered")
            raw.close()
        }
    }

    @Test("a caller that reads a stream more slowly than it arrives: past maxBufferedResponseBytes the call fails RESOURCE_EXHAUSTED; the connection goes on")
    func slowReaderOfAStreamIsCutOff() async throws {
        // 200 messages (12.5 MiB): the server goes on writing after the client gave up on the call
        // (see the notes of 2026-11-28), and the call after it waits for them.
        let flood = FloodService(count: 200)
        try await withServer(services: [flood, EchoService()]) { _, endpoint in
            var configuration = ClientConfiguration()
            configuration.maxBufferedResponseBytes = 1 << 20
            let client = try RPCClient(endpoints: [endpoint], tls: TestPKI.shared.clientTLS(), configuration: configuration, logger: Logger(label: "test"))
            defer { client.close() }
            let read = Counter()
            let error = await expectRPCError(.resourceExhausted) {
                try await client.serverStreaming(Flood.method, EchoMessage()) { stream in
                    // Read nothing until the server's handler has ended: the connection takes the
                    // messages in for the call, past 1 MiB the client ends it, and the server's
                    // next write fails. (Without the limit, it would end after all 200.)
                    #expect(try await eventually { flood.ended.count == 1 })
                    for try await _ in stream { _ = read.next() }
                }
            }
            #expect(error?.message.contains("maxBufferedResponseBytes") == true)
            #expect(read.count <= 16, "at most 1 MiB of messages was kept for the caller, got \(read.count)")
            // The connection serves other calls.
            #expect(try await client.call(Echo.get, EchoMessage(text: "still here")).text == "still here")
        }
    }

    @Test("a server stream whose writes never wait still reads: the client's CANCEL stops it, and the connection's other calls are answered meanwhile")
    func aFastStreamDoesNotStarveItsConnection() async throws {
        let flood = FloodService()
        try await withServer(services: [flood, EchoService()]) { _, endpoint in
            let client = try makeClient([endpoint])
            defer { client.close() }
            // This client reads as fast as the server writes, so the server never waits.
            let received = try await client.serverStreaming(Flood.method, EchoMessage()) { stream in
                var count = 0
                for try await _ in stream {
                    count += 1
                    if count == 10 { break }  // and the call is cancelled
                }
                return count
            }
            #expect(received == 10)
            // Answered while (or after) the server stops pouring; before, it waited behind all
            // 100,000 messages of 64 KiB. The timeout only turns a regression into a failure.
            let echo = try await client.call(Echo.get, EchoMessage(text: "next"), options: CallOptions(timeout: .seconds(30)))
            #expect(echo.text == "next")
            var last = -1
            #expect(try await eventually {
                defer { last = flood.written.count }
                return flood.written.count == last
            })
            #expect(flood.written.count < 10_000, "\(flood.written.count) messages written after the cancel")
        }
    }

    @Test func reconnectBackoffFollowsTheSchedule() {
        let backoff = ConnectionBackoff()
        #expect(backoff.delay(attempt: 1, random: 0) == .seconds(1))
        #expect(backoff.delay(attempt: 2, random: 0) == .milliseconds(1600))
        #expect(backoff.delay(attempt: 3, random: 0) == .milliseconds(2560))
        #expect(backoff.delay(attempt: 30, random: 0) == .seconds(120))
        #expect(backoff.delay(attempt: 1, random: 1) == .milliseconds(1200))
        #expect(backoff.delay(attempt: 1, random: -1) == .milliseconds(800))
    }

    /// Echo that counts the calls it serves.
    struct CountingEcho: RPCService {
        let served = Counter()
        func register(into router: inout RPCRouter) {
            router.register(Echo.get, unary: { request, _ in
                _ = served.next()
                return request
            })
        }
    }

    @Test func instancesReportingNotServingAreSkipped() async throws {
        let firstEcho = CountingEcho(), secondEcho = CountingEcho()
        try await withServer(services: [firstEcho]) { _, firstEndpoint in
            try await withServer(services: [secondEcho]) { second, secondEndpoint in
                let client = try makeClient([firstEndpoint, secondEndpoint])
                defer { client.close() }
                for index in 0..<4 { _ = try await client.call(Echo.get, EchoMessage(text: "\(index)")) }
                #expect(firstEcho.served.count == 2 && secondEcho.served.count == 2)
                // The second instance reports NOT_SERVING; after a health check, calls avoid it.
                second.health.setStatus(.notServing, for: "echo")
                await client.checkHealth()
                for _ in 0..<20 { _ = try await client.call(Echo.get, EchoMessage()) }
                #expect(firstEcho.served.count == 22)
                #expect(secondEcho.served.count == 2)
                // Serving again: it gets calls again.
                second.health.setStatus(.serving, for: "echo")
                await client.checkHealth()
                for _ in 0..<20 { _ = try await client.call(Echo.get, EchoMessage()) }
                #expect(secondEcho.served.count == 12)
            }
        }
    }

    @Test("a caller on one of the client's event loops gets a connection on that loop; others go round-robin")
    func connectionsFollowTheCallersEventLoop() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        try await withServer { _, endpoint in
            var configuration = ClientConfiguration()
            configuration.connectionsPerEndpoint = 2
            configuration.healthCheckInterval = nil
            let client = try RPCClient(
                endpoints: [endpoint], tls: TestPKI.shared.clientTLS(), configuration: configuration, eventLoopGroup: group,
                logger: Logger(label: "test.client")
            )
            defer { client.close() }
            // Round-robin from outside the group opens both connections, one on each loop.
            for index in 0..<2 { _ = try await client.call(Echo.get, EchoMessage(text: "\(index)")) }
            let loops = Array(group.makeIterator())
            let outside = (0..<4).compactMap { _ in client.pool.readyConnection() }
            #expect(outside.count == 4)
            #expect(Set(outside.map { ObjectIdentifier($0) }).count == 2, "calls from outside the group alternate between the connections")
            for loop in loops {
                let picked = try await loop.submit { (0..<6).compactMap { _ in client.pool.readyConnection() } }.get()
                #expect(picked.count == 6)
                #expect(picked.allSatisfy { $0.eventLoop === loop }, "a caller on a loop is given that loop's connection every time")
            }
            // Calls made from a task running on each loop (as the gateway's handlers do) go out
            // and are answered on that loop.
            for connection in outside.prefix(2) {
                let echoed = try await Task(executorPreference: connection.executor) {
                    try await client.call(Echo.get, EchoMessage(text: "on loop"))
                }.value
                #expect(echoed.text == "on loop")
            }
        }
        try await group.shutdownGracefully()
    }

    @Test("a call on a connection that closed before the pool heard of it goes out again on a new connection")
    func aConnectionThePoolStillHandsOutIsDiscardedAndTheCallRetried() async throws {
        try await withServer { _, endpoint in
            let client = try makeClient([endpoint]) { $0.healthCheckInterval = nil }
            defer { client.close() }
            _ = try await client.call(Echo.get, EchoMessage(text: "first"))
            let dead = try #require(client.pool.readyConnection())
            // Closed without telling the pool: the window in which a GOAWAY or a close races a
            // call that has already been given the connection.
            try await dead.eventLoop.submit {
                dead.handler.value.onUnusable = nil
                dead.handler.value.close()
            }.get()
            try await dead.channel.closeFuture.get()
            #expect(await dead.isUsable == false)
            #expect(client.pool.readyConnection() === dead, "the pool still hands the closed connection out")
            // The call finds it unusable before sending anything (`notSent`), the pool drops it,
            // and the call goes out on a new connection instead of failing with UNAVAILABLE.
            let answer = try await client.call(Echo.get, EchoMessage(text: "second"))
            #expect(answer.text == "second")
            let replacement = try #require(client.pool.readyConnection())
            #expect(replacement !== dead)
        }
    }

    @Test func serverCertificateOnlyListenerAcceptsClientsWithoutCertificates() async throws {
        try await withServer(configure: { $0.tls.clientTrustRoots = nil }) { _, endpoint in
            let tls = ClientTLSConfiguration(trustRoots: TestPKI.shared.caCertificates, identity: nil, serverName: "echo")
            let client = try RPCClient(endpoints: [endpoint], tls: tls)
            defer { client.close() }
            #expect(try await client.call(Echo.get, EchoMessage(text: "no client certificate")).text == "no client certificate")
        }
    }

    @Test func mutualTLSListenerRefusesClientsWithoutCertificates() async throws {
        try await withServer { _, endpoint in
            let tls = ClientTLSConfiguration(trustRoots: TestPKI.shared.caCertificates, identity: nil, serverName: "echo")
            let client = try RPCClient(endpoints: [endpoint], tls: tls)
            defer { client.close() }
            await expectRPCError(.unavailable) { _ = try await client.call(Echo.get, EchoMessage()) }
        }
    }

    @Test func typedClientStub() async throws {
        try await withServer { _, endpoint in
            let echo = EchoClient(try makeClient([endpoint]))
            defer { echo.client.close() }
            #expect(try await echo.get(EchoMessage(text: "typed")).text == "typed")
            let count = try await echo.expand(EchoMessage(repeat: 3)) { responses in
                var count = 0
                for try await _ in responses { count += 1 }
                return count
            }
            #expect(count == 3)
        }
    }

    @Test func endpointsParse() throws {
        #expect(try Endpoint(parsing: "10.0.0.7:7443") == Endpoint(host: "10.0.0.7", port: 7443))
        #expect(try Endpoint(parsing: " [::1]:80 ") == Endpoint(host: "::1", port: 80))
        #expect(throws: ConfigurationError.self) { try Endpoint(parsing: "nohost") }
        #expect(throws: ConfigurationError.self) { try Endpoint(parsing: "host:99999") }
        #expect(throws: ConfigurationError.self) { try Endpoint(parsing: ":80") }
    }

    @Test func serverConfigurationIsValidatedWithClearErrors() async throws {
        var configuration = ServerConfiguration(tls: TestPKI.shared.serverTLS)
        configuration.maxFrameSize = 100
        #expect(throws: ConfigurationError.self) { try configuration.validate() }
        configuration = ServerConfiguration(port: 70_000, tls: TestPKI.shared.serverTLS)
        #expect(throws: ConfigurationError.self) { try configuration.validate() }
        configuration = ServerConfiguration(tls: TestPKI.shared.serverTLS)
        configuration.requestTimeout = .zero
        #expect { try configuration.validate() } throws: { "\($0)".contains("requestTimeout must be positive") }
        configuration = ServerConfiguration(tls: TestPKI.shared.serverTLS)
        configuration.maxPendingRequestBytesTotal = configuration.maxPendingRequestBytes - 1
        #expect { try configuration.validate() } throws: { "\($0)".contains("maxPendingRequestBytesTotal at least as large") }
        var client = ClientConfiguration()
        client.maxBufferedResponseBytes = 0
        #expect { try client.validate() } throws: { "\($0)".contains("maxBufferedResponseBytes must be positive") }
        // A port already in use fails at start-up with one clear line.
        try await withServer { _, endpoint in
            let clash = RPCServer(configuration: ServerConfiguration(host: "127.0.0.1", port: endpoint.port, tls: TestPKI.shared.serverTLS), services: [])
            await #expect { try await clash.run() } throws: { "\($0)".contains("cannot listen on 127.0.0.1:\(endpoint.port)") }
        }
    }

    @Test("a client connects from the local address it is given; a bad one is a clear configuration error")
    func localAddress() async throws {
        var configuration = ClientConfiguration()
        configuration.localAddress = "localhost"
        #expect { try configuration.validate() } throws: { "\($0)".contains("localAddress must be an IPv4 or IPv6 address") }
        configuration.localAddress = "127.0.0.7"
        try configuration.validate()
        struct PeerEcho: RPCService {
            func register(into router: inout RPCRouter) {
                router.register(Echo.get, unary: { _, context in EchoMessage(text: context.peer.address) })
            }
        }
        try await withServer(services: [PeerEcho()]) { _, endpoint in
            let client = try RPCClient(endpoints: [endpoint], tls: TestPKI.shared.clientTLS(), configuration: configuration, logger: Logger(label: "test"))
            defer { client.close() }
            let peer = try await client.call(Echo.get, EchoMessage()).text
            #expect(peer.hasPrefix("127.0.0.7:"), "the server saw \(peer)")
        }
    }
}

extension ClientBehaviourTests {
    @Test("calls that are not retried (no retry policy) whose turn falls on an instance that drained and stopped go to the other instance: nothing was sent")
    func aStoppedInstanceCostsItsTurnNotTheCall() async throws {
        let firstEcho = CountingEcho(), secondEcho = CountingEcho()
        try await withServer(services: [firstEcho]) { _, firstEndpoint in
            let client = try await withServer(services: [secondEcho]) { _, secondEndpoint in
                let client = try makeClient([firstEndpoint, secondEndpoint]) { $0.healthCheckInterval = nil }
                for index in 0..<4 { _ = try await client.call(Echo.get, EchoMessage(text: "\(index)")) }
                #expect(firstEcho.served.count == 2 && secondEcho.served.count == 2)
                return client
            }
            defer { client.close() }
            // The second server drained (GOAWAY) and stopped: its slot has no connection, and is
            // not backing off, so it is the next call's turn to connect there, which fails.
            #expect(try await eventually { client.pool.openConnections.count == 1 })
            for index in 0..<6 {
                let answer = try await client.call(Echo.get, EchoMessage(text: "\(index)"), options: CallOptions(retryPolicy: RetryPolicy.none))
                #expect(answer.text == "\(index)")
            }
            #expect(firstEcho.served.count == 8)
        }
    }
}
