import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import TandemCertificates
import TandemProtocols
import TandemRPC
import TandemWire

/// A CA with certificates for a test server ("echo") and a test client ("gateway"), made once.
struct TestPKI: Sendable {
    let ca: CertificateAuthority
    let caCertificates: [NIOSSLCertificate]
    let server: TLSIdentity
    let client: TLSIdentity

    static let shared: TestPKI = try! TestPKI()

    init() throws {
        ca = try CertificateAuthority.create(commonName: "Test CA")
        caCertificates = try NIOSSLCertificate.fromPEMBytes(Array(ca.certificatePEM.utf8))
        let serverCertificate = try ca.issue(name: "echo", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"])
        server = try TLSIdentity(certificatePEM: serverCertificate.certificatePEM, keyPEM: serverCertificate.privateKeyPEM)
        let clientCertificate = try ca.issue(name: "gateway")
        client = try TLSIdentity(certificatePEM: clientCertificate.certificatePEM, keyPEM: clientCertificate.privateKeyPEM)
    }

    var serverTLS: ServerTLSConfiguration {
        ServerTLSConfiguration(identity: server, clientTrustRoots: caCertificates)
    }

    func clientTLS(serverName: String = "echo") -> ClientTLSConfiguration {
        ClientTLSConfiguration(trustRoots: caCertificates, identity: client, serverName: serverName)
    }
}

/// Runs a server for the duration of `body`, then shuts it down gracefully.
func withServer<T>(
    services: [any RPCService] = [EchoService()],
    interceptors: [any ServerInterceptor] = [],
    configure: (inout ServerConfiguration) -> Void = { _ in },
    _ body: (RPCServer, Endpoint) async throws -> T
) async throws -> T {
    var configuration = ServerConfiguration(host: "127.0.0.1", port: 0, tls: TestPKI.shared.serverTLS)
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

func makeClient(
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
func expectRPCError(_ code: StatusCode, _ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) async -> RPCError? {
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
func eventually(timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(10))
    }
    return try await condition()
}

/// Records events from handlers so tests can wait for them.
final class EventLog: Sendable {
    private let events = Mutex<[String]>([])

    func record(_ event: String) {
        events.withLock { $0.append(event) }
    }

    var all: [String] { events.withLock { $0 } }

    func contains(_ event: String) -> Bool { all.contains(event) }
}

import Testing
