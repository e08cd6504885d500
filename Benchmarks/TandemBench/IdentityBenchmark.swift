import _CryptoExtras
import ArgumentParser
import Foundation
import Synchronization
import NIOCore
import NIOPosix
import IdentityService
import TandemCertificates
import TandemProtocols
import TandemRPC
import TandemWire

/// The identity service as deployed: the `tandem-identity` binary in its own process, over
/// mutual TLS. Measures the CSV import (the issue's 10,000 rows in under 10 s), sign-in (scrypt
/// bound, compared with scrypt alone at the same cost), and calls that only verify a token.
struct IdentityBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "identity",
        abstract: "tandem-identity in its own process: CSV import, sign-in, token-checked calls."
    )

    @Option var rows = 10_000
    @Option var pki = "/tmp/tandem-bench-pki"
    @Option(help: "Sign-ins to time.") var signIns = 40
    @Option(help: "Seconds of token-checked calls (WhoAmI) at 64 in flight.") var seconds = 5.0

    func run() async throws {
        try BenchPKI.ensure(pki)
        try BenchPKI.ensureService("identity", in: pki)
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("tandem-identity").path
        let data = FileManager.default.temporaryDirectory.appending(path: "tandem-bench-identity-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: data) }
        let password = "bench admin password"
        let bootstrap = Process()
        bootstrap.executableURL = URL(fileURLWithPath: binary)
        bootstrap.arguments = ["bootstrap", "--data-dir", data, "--organisation", "Bench", "--slug", "bench", "--admin-email", "admin@bench.example", "--admin-name", "Admin"]
        bootstrap.environment = ["TANDEM_ADMIN_PASSWORD": password]
        bootstrap.standardOutput = FileHandle.nullDevice
        try bootstrap.run()
        bootstrap.waitUntilExit()
        guard bootstrap.terminationStatus == 0 else { throw ValidationError("tandem-identity bootstrap failed") }

        let port = try freePort()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: binary)
        server.arguments = [
            "--data-dir", data, "--port", "\(port)", "--certificate", pki + "/identity.pem", "--key", pki + "/identity-key.pem", "--ca", pki + "/ca.pem",
            "--log-level", "warning",
        ]
        try server.run()
        defer { server.terminate() }

        let tls = try ClientTLSConfiguration.mutual(caPath: pki + "/ca.pem", certificatePath: pki + "/client.pem", keyPath: pki + "/client-key.pem", serverName: "identity")
        var configuration = ClientConfiguration()
        configuration.healthCheckInterval = nil
        configuration.defaultTimeout = .seconds(120)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let client = try RPCClient(endpoints: [Endpoint(host: "127.0.0.1", port: port)], tls: tls, configuration: configuration, eventLoopGroup: group)
        defer { client.close() }
        var ready = false
        for _ in 0..<200 where !ready {
            if (try? await client.call(Health.check, HealthCheckRequest(service: "identity")))?.status == .serving { ready = true } else {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        guard ready else { throw ValidationError("tandem-identity did not start") }

        @Sendable func options(_ token: String) -> CallOptions {
            var options = CallOptions()
            options.metadata[Metadata.Keys.authorization] = "Bearer " + token
            return options
        }
        let admin = try await client.call(Identity.signIn, SignInRequest(organisation: "bench", email: "admin@bench.example", password: password))
        let program = try await client.call(Identity.createProgram, ProgramInput(name: "Everyone", format: .peer, startsOn: "2026-01-01"), options: options(admin.accessToken))
        let csv = SampleHRData.csv(rows: rows, domain: "bench.example")
        print("tandem-bench identity: tandem-identity (release) in its own process, mutual TLS, SQLite WAL synchronous=FULL")
        print("CSV import of \(rows) people with manager lines and program participations (\(csv.utf8.count / 1024) KiB), one ImportPeople call each:")
        for (label, request) in [
            ("dry run (validate, plan, roll back)", ImportPeopleRequest(csv: csv, dryRun: true, programID: program.id)),
            ("first import (all created)", ImportPeopleRequest(csv: csv, programID: program.id)),
            ("same file again (all unchanged)", ImportPeopleRequest(csv: csv, programID: program.id)),
        ] {
            let start = ContinuousClock.now
            let report = try await client.call(Identity.importPeople, request, options: options(admin.accessToken))
            let elapsed = ContinuousClock.now - start
            print("  \(pad(label, 38)) \(format(seconds(elapsed), 2)) s  created \(report.created) updated \(report.updated) unchanged \(report.unchanged) participations \(report.participations) errors \(report.errors.count)")
        }

        // Sign-in: scrypt N=2^15, r=8, p=1 — the cost is the point. Compared with scrypt alone.
        let hashStart = ContinuousClock.now
        for _ in 0..<8 {
            _ = try KDF.Scrypt.deriveKey(from: Array(password.utf8), salt: Array(repeating: 1, count: 16), outputByteCount: 32, rounds: 1 << 15, blockSize: 8, parallelism: 1, maxMemory: 64 << 20)
        }
        let scryptAlone = seconds(ContinuousClock.now - hashStart) / 8
        let signInStart = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<2 {
                group.addTask {
                    for _ in 0..<(signIns / 2) {
                        _ = try await client.call(Identity.signIn, SignInRequest(organisation: "bench", email: "admin@bench.example", password: password))
                    }
                    _ = worker
                }
            }
            try await group.waitForAll()
        }
        let signInSeconds = seconds(ContinuousClock.now - signInStart)
        print("sign-in (2 in flight, \(signIns) calls): \(format(Double(signIns) / signInSeconds, 1))/s, \(format(signInSeconds / Double(signIns) * 2000, 0)) ms each; scrypt alone at the same cost (N=2^15, r=8, p=1), in this process: \(format(scryptAlone * 1000, 0)) ms")

        // Refresh: each call rotates a refresh token (a write) and re-reads the person's roles and
        // programs. Each of 16 chains takes its token from a pool and puts the new one back: a
        // token is used once, as a client would.
        let pool = Mutex<[String]>([])
        for _ in 0..<16 {
            let tokens = try await client.call(Identity.signIn, SignInRequest(organisation: "bench", email: "admin@bench.example", password: password))
            if let refreshToken = tokens.refreshToken { pool.withLock { $0.append(refreshToken) } }
        }
        let refresh = try await closedLoop(client: client, concurrency: 16, warmup: 1, duration: seconds) {
            guard let used = pool.withLock({ $0.popLast() }) else { throw CancellationError() }
            let tokens = try await client.call(Identity.refresh, RefreshRequest(refreshToken: used))
            if let next = tokens.refreshToken { pool.withLock { $0.append(next) } }
        }
        print("Refresh (refresh token rotated, roles and programs read again; 16 in flight): \(format(refresh.callsPerSecond, 0)) calls/s  p50 \(format(refresh.p50Microseconds, 0)) µs  p99 \(format(refresh.p99Microseconds, 0)) µs  errors \(refresh.errors)")

        let token = admin.accessToken
        let whoAmI = try await closedLoop(client: client, concurrency: 64, warmup: 1, duration: seconds) {
            _ = try await client.call(Identity.whoAmI, Empty(), options: options(token))
        }
        print("WhoAmI (token verified on every call, 64 in flight): \(format(whoAmI.callsPerSecond, 0)) calls/s  p50 \(format(whoAmI.p50Microseconds, 0)) µs  p99 \(format(whoAmI.p99Microseconds, 0)) µs  errors \(whoAmI.errors)")
        let list = try await closedLoop(client: client, concurrency: 16, warmup: 1, duration: seconds) {
            _ = try await client.call(Identity.listPeople, ListPeopleRequest(programID: program.id, role: .mentor, division: "Engineering", pageSize: 50), options: options(token))
        }
        print("ListPeople (program + role + division filter, 50 per page, 16 in flight): \(format(list.callsPerSecond, 0)) calls/s  p50 \(format(list.p50Microseconds, 0)) µs  p99 \(format(list.p99Microseconds, 0)) µs  errors \(list.errors)")
        server.terminate()
        server.waitUntilExit()
        try await group.shutdownGracefully()
    }

    func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

/// A TCP port nobody listens on right now.
func freePort() throws -> Int {
    let channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).wait()
    let port = channel.localAddress!.port!
    try channel.close().wait()
    return port
}

extension BenchPKI {
    /// A certificate for `service` (server name `service`, localhost, 127.0.0.1), from the bench CA.
    static func ensureService(_ service: String, in directory: String) throws {
        if FileManager.default.fileExists(atPath: directory + "/\(service).pem") { return }
        let ca = try CertificateAuthority.load(certificatePath: directory + "/ca.pem", keyPath: directory + "/ca-key.pem")
        _ = try ca.issue(name: service, dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"]).write(to: directory, name: service)
    }
}
