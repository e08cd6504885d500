import CTandemMallocCounter
import Logging
import Synchronization
import TandemBenchSupport
import TandemProtocols
import TandemRPC
import TandemWire
#if canImport(Glibc)
import Glibc
#endif

/// The echo server the RPC benchmark calls: the echo service plus `bench.Stats`, in a binary
/// that links what a Tandem service links and nothing more (no full Foundation), so its memory
/// is what a deployed server's would be.
///
/// Usage: tandem-echo-server PKI_DIR [PORT] [THREADS]   (prints `listening PORT`)
@main
enum EchoServerMain {
    static func main() async throws {
        let arguments = CommandLine.arguments
        guard arguments.count >= 2 else {
            print("usage: tandem-echo-server PKI_DIR [PORT] [THREADS]")
            exit(2)
        }
        let pki = arguments[1]
        let port = arguments.count > 2 ? Int(arguments[2]) ?? 0 : 0
        var configuration = ServerConfiguration(
            host: "127.0.0.1", port: port,
            tls: try .mutual(certificatePath: pki + "/echo.pem", keyPath: pki + "/echo-key.pem", caPath: pki + "/ca.pem")
        )
        configuration.eventLoopThreads = arguments.count > 3 ? Int(arguments[3]) ?? 0 : 0
        configuration.maxConnections = 20_000
        configuration.maxConcurrentStreams = 4096
        let reference = ServerReference()
        var logger = Logger(label: "bench.server")
        logger.logLevel = .warning
        let server = RPCServer(configuration: configuration, services: [EchoService(), StatsService(reference: reference)], logger: logger)
        reference.server.withLock { $0 = server }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            let address = try await server.listeningAddress()
            print("listening \(address.port!)")
            fflush(nil)
            try await group.next()
        }
    }
}

final class ServerReference: Sendable {
    let server = Mutex<RPCServer?>(nil)
}

struct StatsService: RPCService {
    let reference: ServerReference

    func register(into router: inout RPCRouter) {
        router.register(BenchMethods.stats, unary: { _, _ in
            BenchStats(
                allocations: tandem_allocation_count(), cpuMicroseconds: ProcessUsage.cpuMicroseconds,
                residentBytes: ProcessUsage.residentBytes, connections: reference.server.withLock { $0?.connectionCount ?? 0 },
                heapBytes: tandem_heap_in_use()
            )
        })
    }
}
