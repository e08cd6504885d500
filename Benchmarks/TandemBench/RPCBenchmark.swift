import ArgumentParser
import CTandemMallocCounter
import Foundation
import Histogram
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import TandemBenchSupport
import TandemCertificates
import TandemProtocols
import TandemRPC
import TandemWire

/// Certificates for the benchmark, written once to a directory both processes read.
enum BenchPKI {
    static func ensure(_ directory: String) throws {
        if FileManager.default.fileExists(atPath: directory + "/ca.pem") { return }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let ca = try CertificateAuthority.create(commonName: "Bench CA")
        _ = try ca.issued.write(to: directory, name: "ca")
        _ = try ca.issue(name: "echo", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"]).write(to: directory, name: "echo")
        _ = try ca.issue(name: "bench-client").write(to: directory, name: "client")
    }
}

/// Results of one closed-loop run.
struct LoadResult: Codable {
    var concurrency: Int
    var calls: Int
    var seconds: Double
    var callsPerSecond: Double
    var p50Microseconds: Double
    var p90Microseconds: Double
    var p99Microseconds: Double
    var p999Microseconds: Double
    var maxMicroseconds: Double
    var errors: Int
    var serverCPUMicrosecondsPerCall: Double?
    var serverAllocationsPerCall: Double?
}

/// State shared by the load tasks of one run.
final class LoadState: Sendable {
    let measuring = Atomic<Bool>(false)
    let stop = Atomic<Bool>(false)
    let errors = Atomic<Int>(0)
    let merged = Mutex(Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three))
}

/// Closed loop: `concurrency` tasks each calling back to back, on the client connection's event
/// loop (no thread hop per call). Latency per call goes into an HDR histogram.
func closedLoop(client: RPCClient, concurrency: Int, warmup: Double, duration: Double, payloadBytes: Int) async throws -> LoadResult {
    let request = EchoMessage(text: "", payload: Data(repeating: 0x5A, count: payloadBytes))
    return try await closedLoop(client: client, concurrency: concurrency, warmup: warmup, duration: duration) {
        _ = try await client.call(Echo.get, request)
    }
}

/// Closed loop around any call.
func closedLoop(
    client: RPCClient, concurrency: Int, warmup: Double, duration: Double, _ call: @escaping @Sendable () async throws -> Void
) async throws -> LoadResult {
    let executor = try await client.preferredTaskExecutor()
    let shared = LoadState()
    let start = ContinuousClock.now
    var measuredFrom = start
    var measuredTo = start
    try await withThrowingTaskGroup(of: Void.self) { group in
        for _ in 0..<concurrency {
            group.addTask(executorPreference: executor) {
                var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
                while !shared.stop.load(ordering: .relaxed) {
                    let began = DispatchTime.now().uptimeNanoseconds
                    do {
                        try await call()
                    } catch {
                        if shared.measuring.load(ordering: .relaxed) { shared.errors.wrappingAdd(1, ordering: .relaxed) }
                        continue
                    }
                    if shared.measuring.load(ordering: .relaxed) {
                        _ = histogram.record((DispatchTime.now().uptimeNanoseconds - began) / 1000)
                    }
                }
                shared.merged.withLock { $0.add(histogram) }
            }
        }
        try await Task.sleep(for: .milliseconds(Int(warmup * 1000)))
        measuredFrom = ContinuousClock.now
        shared.measuring.store(true, ordering: .relaxed)
        try await Task.sleep(for: .milliseconds(Int(duration * 1000)))
        shared.measuring.store(false, ordering: .relaxed)
        measuredTo = ContinuousClock.now
        shared.stop.store(true, ordering: .relaxed)
        try await group.waitForAll()
    }
    let histogram = shared.merged.withLock { $0 }
    let seconds = Double((measuredTo - measuredFrom).components.attoseconds) / 1e18 + Double((measuredTo - measuredFrom).components.seconds)
    return LoadResult(
        concurrency: concurrency, calls: Int(histogram.totalCount), seconds: seconds,
        callsPerSecond: Double(histogram.totalCount) / seconds,
        p50Microseconds: Double(histogram.valueAtPercentile(50)), p90Microseconds: Double(histogram.valueAtPercentile(90)),
        p99Microseconds: Double(histogram.valueAtPercentile(99)), p999Microseconds: Double(histogram.valueAtPercentile(99.9)),
        maxMicroseconds: Double(histogram.max), errors: shared.errors.load(ordering: .relaxed)
    )
}

struct RPCBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rpc",
        abstract: "Echo over TLS, client and server in separate processes, one connection; optionally side by side with grpc-swift-2."
    )

    @Option(help: "In-flight calls to measure, comma-separated.") var concurrency = "1,64"
    @Option var seconds = 10.0
    @Option var warmup = 2.0
    @Option var payload = 256
    @Option var pki = "/tmp/tandem-bench-pki"
    @Option(help: "Server event loop threads (0: one per core).") var serverThreads = 0
    @Option(help: "Also open this many connections and report the server's resident memory (0: skip).") var memoryConnections = 1000
    @Option(help: "Path of the grpc-swift-2 peer binary (Benchmarks/GRPCPeer) to run side by side.") var peer: String?
    @Option(help: "Write results as JSON here.") var json: String?

    func run() async throws {
        try BenchPKI.ensure(pki)
        let levels = concurrency.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        // The server is its own, lean binary (built alongside this one).
        let serverBinary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("tandem-echo-server").path
        let server = try launch(serverBinary, [pki, "0", "\(serverThreads)"])
        defer { server.process.terminate() }
        let tls = try ClientTLSConfiguration.mutual(caPath: pki + "/ca.pem", certificatePath: pki + "/client.pem", keyPath: pki + "/client-key.pem", serverName: "echo")
        var clientConfiguration = ClientConfiguration()
        clientConfiguration.healthCheckInterval = nil
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let client = try RPCClient(endpoints: [Endpoint(host: "127.0.0.1", port: server.port)], tls: tls, configuration: clientConfiguration, eventLoopGroup: group)

        print("tandem-bench rpc: echo \(payload)-byte messages over TLS 1.3 (mutual), one connection, \(seconds) s per level after \(warmup) s warm-up")
        print("server: separate process, \(serverThreads == 0 ? "one event loop per core" : "\(serverThreads) event loop threads"); client: one event loop thread")
        var results: [String: [LoadResult]] = ["tandem": []]
        for level in levels {
            let before = try await client.call(BenchMethods.stats, Empty())
            var result = try await closedLoop(client: client, concurrency: level, warmup: warmup, duration: seconds, payloadBytes: payload)
            let after = try await client.call(BenchMethods.stats, Empty())
            // Server CPU and allocations cover warm-up and measurement: divide by all calls made.
            let totalCalls = Double(result.calls) * (seconds + warmup) / seconds
            result.serverCPUMicrosecondsPerCall = Double(after.cpuMicroseconds - before.cpuMicroseconds) / totalCalls
            result.serverAllocationsPerCall = Double(after.allocations - before.allocations) / totalCalls
            results["tandem"]!.append(result)
            printRow("tandem", result)
        }
        client.close()

        if memoryConnections > 0 {
            let idle = try await memoryAtConnections(1, port: server.port, tls: tls, group: group)
            let resident = try await memoryAtConnections(memoryConnections, port: server.port, tls: tls, group: group)
            print("server resident memory: \(format(Double(idle) / 1_048_576, 1)) MiB after the runs with 1 connection, \(format(Double(resident) / 1_048_576, 1)) MiB with \(memoryConnections) open connections (\(format(Double(resident - idle) / Double(memoryConnections) / 1024, 1)) KiB per connection)")
        }
        server.process.terminate()
        server.process.waitUntilExit()

        if let peer {
            let peerServer = try launch(peer, ["server", "--pki", pki])
            defer { peerServer.process.terminate() }
            results["grpc-swift-2"] = []
            for level in levels {
                let output = try runToEnd(peer, ["client", "--pki", pki, "--port", "\(peerServer.port)", "--concurrency", "\(level)",
                                                 "--seconds", "\(seconds)", "--warmup", "\(warmup)", "--payload", "\(payload)"])
                guard let line = output.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
                      let result = try? JSONDecoder().decode(LoadResult.self, from: Data(line.utf8)) else {
                    throw ValidationError("peer client printed no result:\n\(output)")
                }
                results["grpc-swift-2"]!.append(result)
                printRow("grpc-swift-2", result)
            }
            for (ours, theirs) in zip(results["tandem"]!, results["grpc-swift-2"]!) {
                print("at \(ours.concurrency) in flight: tandem/grpc-swift-2 throughput ×\(format(ours.callsPerSecond / theirs.callsPerSecond, 1)), p99 \(format(ours.p99Microseconds / 1000, 2)) ms vs \(format(theirs.p99Microseconds / 1000, 2)) ms")
            }
        }
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(results).write(to: URL(fileURLWithPath: json))
        }
        try await group.shutdownGracefully()
    }

    func printRow(_ system: String, _ result: LoadResult) {
        var line = pad(system, 14) + pad("\(result.concurrency) in flight", 14) + pad(format(result.callsPerSecond, 0) + " calls/s", 18, right: true)
        line += "  p50 \(format(result.p50Microseconds, 0)) µs  p90 \(format(result.p90Microseconds, 0)) µs  p99 \(format(result.p99Microseconds, 0)) µs"
        line += "  p99.9 \(format(result.p999Microseconds, 0)) µs  max \(format(result.maxMicroseconds, 0)) µs  errors \(result.errors)"
        if let cpu = result.serverCPUMicrosecondsPerCall { line += "  server CPU/call \(format(cpu, 1)) µs" }
        if let allocations = result.serverAllocationsPerCall { line += "  server allocs/call \(format(allocations, 1))" }
        print(line)
    }

    /// Opens `count` connections (one call each) and asks the server for its resident memory.
    func memoryAtConnections(_ count: Int, port: Int, tls: ClientTLSConfiguration, group: any EventLoopGroup) async throws -> UInt64 {
        var configuration = ClientConfiguration()
        configuration.connectionsPerEndpoint = count
        configuration.healthCheckInterval = nil
        configuration.connectTimeout = .seconds(30)
        let client = try RPCClient(endpoints: [Endpoint(host: "127.0.0.1", port: port)], tls: tls, configuration: configuration, eventLoopGroup: group)
        defer { client.close() }
        for _ in 0..<count {
            _ = try await client.call(Echo.get, EchoMessage(text: "hi"))
        }
        let stats = try await client.call(BenchMethods.stats, Empty())
        guard stats.connections >= count else { throw ValidationError("only \(stats.connections) connections open") }
        return stats.residentBytes
    }
}

/// Starts a server process and reads the port it prints (`listening PORT`).
func launch(_ executable: String, _ arguments: [String]) throws -> (process: Process, port: Int) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    var buffer = Data()
    while true {
        let chunk = output.fileHandleForReading.availableData
        guard !chunk.isEmpty else { throw ValidationError("\(executable) exited before listening") }
        buffer.append(chunk)
        if let text = String(data: buffer, encoding: .utf8), let line = text.split(separator: "\n").first(where: { $0.hasPrefix("listening ") }),
           let port = Int(line.dropFirst("listening ".count)) {
            return (process, port)
        }
    }
}

func runToEnd(_ executable: String, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}

/// `tandem-bench pki DIR`: writes the benchmark certificates (the peer benchmark reads them too).
struct PKICommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pki", abstract: "Write the benchmark's CA and certificates to a directory.")

    @Argument var directory = "/tmp/tandem-bench-pki"

    func run() throws {
        try BenchPKI.ensure(directory)
        print("certificates in \(directory)")
    }
}
