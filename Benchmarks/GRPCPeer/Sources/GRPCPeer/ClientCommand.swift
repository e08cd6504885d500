import ArgumentParser
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Histogram

/// `grpc-peer client`: a closed-loop load generator for `echo.Echo/Get` over one mutual-TLS connection.
///
/// `concurrency` tasks each make unary calls back to back through one `GRPCClient`. Calls that
/// start during the warm-up are not recorded; calls that start in the measured window have their
/// latency recorded in microseconds. One JSON line (`Report`) is printed at the end.
struct ClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client",
        abstract: "Drive echo.Echo/Get in a closed loop and print a JSON summary."
    )

    @Option(help: "Directory with client.pem, client-key.pem and ca.pem.") var pki: String
    @Option(help: "Server port on 127.0.0.1.") var port: Int
    @Option(help: "Calls in flight (one task per call).") var concurrency = 64
    @Option(help: "Measured seconds.") var seconds = 5.0
    @Option(help: "Warm-up seconds (not recorded).") var warmup = 1.0
    @Option(help: "Request payload size in bytes.") var payload = 256
    @Option(help: "Host name the server certificate must be valid for.") var serverName = "echo"

    func validate() throws {
        guard concurrency > 0, seconds > 0, warmup >= 0, payload >= 0 else {
            throw ValidationError("concurrency and seconds must be positive; warmup and payload non-negative")
        }
    }

    func run() async throws {
        // The client's `.mTLS` defaults serverCertificateVerification to `.fullVerification`
        // (chain + host name) and trust roots to the system's, so replace the roots with our CA.
        // The expected host name is the SNI name, which the transport takes from `http2.authority`;
        // an IP target alone gives no SNI name. NIOSSL then accepts the certificate if a DNS SAN
        // matches that name *or* an IP SAN matches the peer address (ours has IP 127.0.0.1 too).
        let security = HTTP2ClientTransport.Posix.TransportSecurity.mTLS(
            certificateChain: [.file(path: pki + "/client.pem", format: .pem)],
            privateKey: .file(path: pki + "/client-key.pem", format: .pem)
        ) { tls in
            tls.trustRoots = .certificates([.file(path: pki + "/ca.pem", format: .pem)])
        }
        let serverName = self.serverName
        let transport = try HTTP2ClientTransport.Posix(
            target: .ipv4(address: "127.0.0.1", port: port),
            transportSecurity: security,
            config: .defaults { $0.http2.authority = serverName }
        )

        let payload = [UInt8](repeating: 0x5A, count: self.payload)
        let concurrency = self.concurrency
        let clock = ContinuousClock()
        let measureStart = clock.now + .seconds(warmup)
        let measureEnd = measureStart + .seconds(seconds)

        let result = try await withGRPCClient(transport: transport) { client in
            await withTaskGroup(of: LoopResult.self) { group in
                for _ in 0..<concurrency {
                    group.addTask {
                        await Self.loop(client: client, payload: payload, clock: clock, measureStart: measureStart, measureEnd: measureEnd)
                    }
                }
                var total = LoopResult()
                for await partial in group { total.merge(partial) }
                total.finished = clock.now
                return total
            }
        }

        let elapsed = result.finished - measureStart
        let wall = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let histogram = result.histogram
        let calls = Int(histogram.totalCount)
        let report = Report(
            concurrency: concurrency,
            calls: calls,
            seconds: wall,
            callsPerSecond: Double(calls) / wall,
            p50Microseconds: Double(histogram.valueAtPercentile(50)),
            p90Microseconds: Double(histogram.valueAtPercentile(90)),
            p99Microseconds: Double(histogram.valueAtPercentile(99)),
            p999Microseconds: Double(histogram.valueAtPercentile(99.9)),
            maxMicroseconds: Double(histogram.max),
            errors: result.errors
        )
        if let firstError = result.firstError {
            FileHandle.standardError.write(Data("first error: \(firstError)\n".utf8))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = try encoder.encode(report)
        print(String(decoding: json, as: UTF8.self))
        fflush(nil)  // flush all C streams (naming the global `stdout` is an error in Swift 6 mode)
    }

    /// One closed-loop worker: calls back to back until `measureEnd`, recording calls started at or after `measureStart`.
    private static func loop(
        client: GRPCClient<HTTP2ClientTransport.Posix>,
        payload: [UInt8],
        clock: ContinuousClock,
        measureStart: ContinuousClock.Instant,
        measureEnd: ContinuousClock.Instant
    ) async -> LoopResult {
        var result = LoopResult()
        let expectedCount = payload.count
        while true {
            let start = clock.now
            if start >= measureEnd { break }
            let ok: Bool
            do {
                ok = try await client.unary(
                    request: ClientRequest(message: payload),
                    descriptor: Echo.get,
                    serializer: RawBytesSerializer(),
                    deserializer: RawBytesDeserializer(),
                    options: .defaults
                ) { response in
                    try response.message.count == expectedCount
                }
            } catch {
                if result.firstError == nil { result.firstError = String(describing: error) }
                ok = false
            }
            guard start >= measureStart else { continue }
            if ok {
                let latency = clock.now - start
                let micros = latency.components.seconds * 1_000_000 + latency.components.attoseconds / 1_000_000_000_000
                result.histogram.record(UInt64(max(micros, 0)))
            } else {
                result.errors += 1
            }
        }
        return result
    }
}

/// What one worker (or all of them, merged) measured.
struct LoopResult: Sendable {
    var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
    var errors = 0
    var firstError: String?
    var finished = ContinuousClock.now

    mutating func merge(_ other: LoopResult) {
        histogram.add(other.histogram)
        errors += other.errors
        firstError = firstError ?? other.firstError
    }
}

/// The JSON line the client prints; field names are the benchmark's comparison keys.
struct Report: Codable {
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
}
