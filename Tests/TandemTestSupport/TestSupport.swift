public import Foundation
import Logging
import NIOCore
import NIOPosix
public import NIOSSL
import Synchronization
public import TandemCertificates
import TandemProtocols
public import TandemRPC
public import TandemWire
public import Testing

/// A CA made once per test process, with certificates for a test server ("echo"), a test
/// client ("gateway"), and any service name a test asks for.
public final class TestPKI: Sendable {
    public let ca: CertificateAuthority
    public let caCertificates: [NIOSSLCertificate]
    public let server: TLSIdentity
    public let client: TLSIdentity
    private let issued = Mutex<[String: TLSIdentity]>([:])

    public static let shared: TestPKI = try! TestPKI()

    init() throws {
        ca = try CertificateAuthority.create(commonName: "Test CA")
        caCertificates = try NIOSSLCertificate.fromPEMBytes(Array(ca.certificatePEM.utf8))
        let serverCertificate = try ca.issue(name: "echo", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"])
        server = try TLSIdentity(certificatePEM: serverCertificate.certificatePEM, keyPEM: serverCertificate.privateKeyPEM)
        let clientCertificate = try ca.issue(name: "gateway")
        client = try TLSIdentity(certificatePEM: clientCertificate.certificatePEM, keyPEM: clientCertificate.privateKeyPEM)
    }

    /// A certificate naming `name` (and localhost / 127.0.0.1), issued once.
    public func identity(_ name: String) -> TLSIdentity {
        if name == "echo" { return server }
        if name == "gateway" { return client }
        return issued.withLock { issued in
            if let identity = issued[name] { return identity }
            let certificate = try! ca.issue(name: name, dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"])
            let identity = try! TLSIdentity(certificatePEM: certificate.certificatePEM, keyPEM: certificate.privateKeyPEM)
            issued[name] = identity
            return identity
        }
    }

    /// Writes the CA and a certificate for `name` as PEM files into `directory` (for tests that
    /// start executables): `ca.pem`, `<name>.pem`, `<name>-key.pem`.
    public func writeFiles(for names: [String], into directory: URL) throws {
        try ca.certificatePEM.write(to: directory.appending(path: "ca.pem"), atomically: true, encoding: .utf8)
        for name in names {
            let certificate = try ca.issue(name: name, dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"])
            try certificate.certificatePEM.write(to: directory.appending(path: "\(name).pem"), atomically: true, encoding: .utf8)
            try certificate.privateKeyPEM.write(to: directory.appending(path: "\(name)-key.pem"), atomically: true, encoding: .utf8)
        }
    }

    public var serverTLS: ServerTLSConfiguration {
        ServerTLSConfiguration(identity: server, clientTrustRoots: caCertificates)
    }

    public func serverTLS(name: String) -> ServerTLSConfiguration {
        ServerTLSConfiguration(identity: identity(name), clientTrustRoots: caCertificates)
    }

    public func clientTLS(serverName: String = "echo", clientName: String = "gateway") -> ClientTLSConfiguration {
        ClientTLSConfiguration(trustRoots: caCertificates, identity: identity(clientName), serverName: serverName)
    }
}

/// Runs a server for the duration of `body`, then shuts it down gracefully.
public func withServer<T>(
    services: [any RPCService] = [EchoService()],
    tls: ServerTLSConfiguration = TestPKI.shared.serverTLS,
    interceptors: [any ServerInterceptor] = [],
    configure: (inout ServerConfiguration) -> Void = { _ in },
    _ body: (RPCServer, Endpoint) async throws -> T
) async throws -> T {
    var configuration = ServerConfiguration(host: "127.0.0.1", port: 0, tls: tls)
    configure(&configuration)
    let server = RPCServer(configuration: configuration, services: services, interceptors: interceptors, logger: Logger(label: "test.server"))
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await server.run() }
        let address = try await server.listeningAddress()
        let endpoint = Endpoint(host: "127.0.0.1", port: address.port!)
        do {
            let result = try await body(server, endpoint)
            server.beginGracefulShutdown()
            try await group.waitForAll()
            return result
        } catch {
            server.beginGracefulShutdown()
            group.cancelAll()
            try? await group.waitForAll()
            throw error
        }
    }
}

public func makeClient(
    _ endpoints: [Endpoint], serverName: String = "echo", configure: (inout ClientConfiguration) -> Void = { _ in },
    interceptors: [any ClientInterceptor] = []
) throws -> RPCClient {
    var configuration = ClientConfiguration()
    configuration.backoff = ConnectionBackoff(initial: .milliseconds(20), maximum: .milliseconds(200))
    configure(&configuration)
    return try RPCClient(
        endpoints: endpoints, tls: TestPKI.shared.clientTLS(serverName: serverName), configuration: configuration,
        interceptors: interceptors, logger: Logger(label: "test.client")
    )
}

/// Expects `body` to throw an `RPCError` with `code`; returns it.
@discardableResult
public func expectRPCError(_ code: StatusCode, _ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) async -> RPCError? {
    do {
        try await body()
        Issue.record("expected \(code), but the call succeeded", sourceLocation: sourceLocation)
        return nil
    } catch let error as RPCError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected RPCError \(code), got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Polls `condition` until it holds or `timeout` passes (no fixed sleeps).
public func eventually(timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(10))
    }
    return try await condition()
}

/// Records events from handlers so tests can wait for them.
public final class EventLog: Sendable {
    private let events = Mutex<[String]>([])

    public init() {}

    public func record(_ event: String) {
        events.withLock { $0.append(event) }
    }

    public var all: [String] { events.withLock { $0 } }

    public func contains(_ event: String) -> Bool { all.contains(event) }
}



/// Retries a call while the server is still starting (UNAVAILABLE), for about 5 s.
public func eventuallyCall<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
    var lastError: (any Error)?
    for _ in 0..<100 {
        do { return try await body() } catch let error as RPCError where error.code == .unavailable {
            lastError = error
            try await Task.sleep(for: .milliseconds(50))
        }
    }
    throw lastError!
}

/// A clock tests move by hand: expiry, deadlines and rate limits are tested without waiting.
public final class TestClock: Sendable {
    private let value: Mutex<Date>

    public init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) {
        value = Mutex(start)
    }

    public var now: @Sendable () -> Date { { self.value.withLock { $0 } } }

    /// The same clock in seconds since 1970.
    public var seconds: @Sendable () -> Double { { self.value.withLock { $0.timeIntervalSince1970 } } }

    public func advance(_ seconds: TimeInterval) {
        value.withLock { $0 = $0.addingTimeInterval(seconds) }
    }
}
