import ArgumentParser
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix

/// `grpc-peer server`: a GRPCServer hosting `EchoService` on 127.0.0.1 over HTTP/2 with mutual TLS.
///
/// Prints `listening PORT` once bound, then serves until killed. Runs on the default
/// `MultiThreadedEventLoopGroup.singleton` (one event loop per core).
struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Serve echo.Echo/Get over mutual TLS until killed."
    )

    @Option(help: "Directory with echo.pem, echo-key.pem and ca.pem.") var pki: String
    @Option(help: "Port to bind on 127.0.0.1 (0: any free port).") var port = 0

    func run() async throws {
        // `.mTLS` defaults clientCertificateVerification to `.noHostnameVerification`, which NIOSSL
        // maps to SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT: a client certificate chaining
        // to the trust roots is required. The default trust roots are the system's, so replace them.
        let security = HTTP2ServerTransport.Posix.TransportSecurity.mTLS(
            certificateChain: [.file(path: pki + "/echo.pem", format: .pem)],
            privateKey: .file(path: pki + "/echo-key.pem", format: .pem)
        ) { tls in
            tls.trustRoots = .certificates([.file(path: pki + "/ca.pem", format: .pem)])
        }
        let transport = HTTP2ServerTransport.Posix(
            address: .ipv4(host: "127.0.0.1", port: port),
            transportSecurity: security
        )
        let server = GRPCServer(transport: transport, services: [EchoService()])

        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await server.serve() }
            guard let bound = try await transport.listeningAddress.ipv4 else {
                throw ValidationError("server did not bind an IPv4 address")
            }
            print("listening \(bound.port)")
            fflush(nil)  // flush all C streams (naming the global `stdout` is an error in Swift 6 mode)
        }
    }
}
