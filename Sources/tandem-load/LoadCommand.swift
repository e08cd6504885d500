import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import TandemLoad
import TandemProcess
import TandemProtocols
import TandemRPC
import TandemWire

@main
struct LoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tandem-load",
        abstract: "Load-test Tandem's scheduling service: closed or open loop, an operation mix, a generated population, and an invariant check at the end.",
        discussion: """
            Exit status: 0 when the run passed; 1 when an invariant failed (a double booking, an acknowledged booking or \
            cancellation missing) or the error rate was above --max-error-rate; 2 for bad options or a setup failure.
            """
    )

    enum Target: String, ExpressibleByArgument {
        case scheduling
        case gateway
    }

    @Option(help: "What to drive: scheduling (directly) or gateway (the same scheduling methods, through tandem-gateway; run it with --rate-limit 0 or high enough).") var target: Target = .scheduling
    @Option(help: "HOST:PORT of the target (repeatable: calls are spread over them).") var endpoint: [String] = []
    @Option(help: "The platform CA (PEM).") var ca = "certs/ca.pem"
    @Option(help: "A client certificate (PEM) for mutual TLS.") var certificate: String?
    @Option(help: "Its private key (PEM).") var key: String?
    @Option(name: .customLong("server-name"), help: "The name the target's certificate must carry (default: the target).") var serverName: String?

    @Option(help: "An access token to send (or TANDEM_LOAD_TOKEN).") var token: String?
    @Option(name: .customLong("api-key"), help: "A service account's API key, exchanged with identity for tokens (or TANDEM_API_KEY).") var apiKey: String?
    @Option(help: "HOST:PORT of identity, for --api-key.") var identity = "127.0.0.1:7101"

    @Option(help: "Closed loop: calls in flight.") var concurrency: Int?
    @Option(help: "Open loop: calls started per second (latency counted from each call's intended start).") var rate: Double?
    @Option(help: "Connections to each endpoint.") var connections = 1
    @Option(help: "Event loop threads of the load generator (default: one per connection, up to the number of cores; with fewer, one connection's answers wait behind another's).") var threads: Int?
    @Option(help: "Seconds to measure (after the warm-up).") var duration: Double?
    @Option(help: "Calls to measure, instead of --duration.") var requests: Int?
    @Option(help: "Seconds of warm-up, not measured.") var warmup = 3.0
    @Option(help: "Operation weights.") var mix = "book=80,cancel=20"
    @Option(help: "People in the generated population.") var people = 10_000
    @Option(help: "Mentoring pairs among them.") var pairs = 5_000
    @Option(help: "Seed of the population and the random choices.") var seed: UInt64 = 1
    @Option(name: .customLong("operations-seed"), help: "Seed of the operations' random choices only (default: --seed); give another one to run again over the same population.") var operationsSeed: UInt64?
    @Option(name: .customLong("horizon-days"), help: "Bookings spread over this many days, starting next Monday.") var horizonDays = 365
    @Flag(name: .customLong("skip-setup"), help: "The population exists already (same --seed, --people, --pairs).") var skipSetup = false
    @Flag(inversion: .prefixedNo, help: "Read every meeting back afterwards and check the invariants.") var verify = true
    @Option(name: .customLong("max-error-rate"), help: "Fail when more than this share of calls errs (conflicts are not errors).") var maxErrorRate = 0.01
    @Option(help: "Also write the report as JSON to this file.") var json: String?
    @Flag(help: "No live progress line.") var quiet = false

    @Option(name: .customLong("kill-after"), help: "Seconds into the measured run at which to run --kill-cmd, then --restart-cmd.") var killAfter: Double?
    @Option(name: .customLong("kill-cmd"), help: "Shell command that kills the target, e.g. 'kill -9 $(cat scheduling.pid)'.") var killCommand: String?
    @Option(name: .customLong("restart-cmd"), help: "Shell command that starts the target again (in the background).") var restartCommand: String?

    func validate() throws {
        if concurrency != nil && rate != nil { throw ValidationError("give --concurrency (closed loop) or --rate (open loop), not both") }
        if let concurrency, !(1...100_000).contains(concurrency) { throw ValidationError("--concurrency must be 1–100000") }
        if let rate, !(rate > 0) { throw ValidationError("--rate must be positive") }
        if duration != nil && requests != nil { throw ValidationError("give --duration or --requests, not both") }
        if people < 2 || pairs < 1 { throw ValidationError("--people must be at least 2 and --pairs at least 1") }
        if (killAfter == nil) != (killCommand == nil) || (killAfter != nil && restartCommand == nil) {
            throw ValidationError("--kill-after needs --kill-cmd and --restart-cmd")
        }
        if connections < 1 || (threads ?? 1) < 1 { throw ValidationError("--connections and --threads must be at least 1") }
        do {
            _ = try LoadPlan.parseMix(mix)
        } catch {
            throw ValidationError("\(error)")
        }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let endpoints = try (endpoint.isEmpty ? ["127.0.0.1:7103"] : endpoint).map { text in
            do { return try Endpoint(parsing: text) } catch { throw ValidationError("--endpoint '\(text)' is not HOST:PORT") }
        }
        let tls: ClientTLSConfiguration
        do {
            let roots = try loadTrustRoots(ca)
            var identity: TLSIdentity?
            if let certificate, let key { identity = try TLSIdentity(certificatePath: certificate, keyPath: key) }
            tls = ClientTLSConfiguration(trustRoots: roots, identity: identity, serverName: serverName ?? target.rawValue)
        } catch {
            throw ValidationError("TLS files: \(error)")
        }
        let threads = self.threads ?? min(connections, System.coreCount)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        var configuration = ClientConfiguration()
        configuration.connectionsPerEndpoint = connections
        configuration.healthCheckInterval = nil
        configuration.retryPolicy = .none
        configuration.eventLoopThreads = threads
        let client = try RPCClient(endpoints: endpoints, tls: tls, configuration: configuration, eventLoopGroup: group)
        defer { client.close() }

        let tokens: TokenSource
        if let token = token ?? environment["TANDEM_LOAD_TOKEN"] {
            tokens = TokenSource(token: token)
        } else if let apiKey = apiKey ?? environment["TANDEM_API_KEY"] {
            let identityTLS = ClientTLSConfiguration(trustRoots: tls.trustRoots, identity: tls.identity, serverName: "identity")
            let identityClient = try RPCClient(endpoints: [try Endpoint(parsing: identity)], tls: identityTLS, eventLoopGroup: group)
            tokens = try await TokenSource {
                let tokens = try await identityClient.call(Identity.exchangeAPIKey, APIKeyExchangeRequest(apiKey: apiKey), options: CallOptions(timeout: .seconds(10)))
                return (tokens.accessToken, tokens.accessExpiresAt)
            }
        } else {
            throw ValidationError("give --token, or --api-key with --identity (a service account scoped to scheduling.*)")
        }

        var plan = LoadPlan(horizonStart: Self.nextMonday())
        plan.pace = rate.map { .open(ratePerSecond: $0) } ?? .closed(concurrency: concurrency ?? 64)
        plan.mix = try LoadPlan.parseMix(mix)
        plan.duration = requests == nil ? (duration ?? 30) : nil
        plan.requests = requests
        plan.warmup = warmup
        plan.people = people
        plan.pairs = pairs
        plan.seed = seed
        plan.operationsSeed = operationsSeed
        plan.horizonDays = horizonDays
        let quiet = self.quiet
        let runner = LoadRunner(plan: plan, target: SchedulingTarget(client: client, tokens: tokens)) { line in
            if !quiet { FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8)) }
        }

        let pace = rate.map { "open loop at \(Int($0))/s" } ?? "closed loop, \(concurrency ?? 64) in flight"
        print("tandem-load: \(target.rawValue) at \(endpoints.map(\.description).joined(separator: ", ")), \(pace), \(connections) connection(s), mix \(mix)")
        if !skipSetup {
            let started = ContinuousClock.now
            do {
                try await runner.setUp()
            } catch {
                print("setup failed: \(error)")
                throw ExitCode(2)
            }
            print("population: \(people) people, \(pairs) pairs (seed \(seed)) set up in \(format(LoadRunner.secondsSince(started))) s")
        }

        var killTask: Task<Void, Never>?
        if let killAfter, let killCommand, let restartCommand {
            killTask = Task {
                try? await Task.sleep(for: .milliseconds(Int64((warmup + killAfter) * 1000)))
                print("\nkilling the target: \(killCommand)")
                Self.shell(killCommand)
                print("restarting it: \(restartCommand)")
                Self.shell(restartCommand)
            }
        }
        var report = try await runner.run()
        killTask?.cancel()
        if !quiet { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        if verify {
            let started = ContinuousClock.now
            report.verification = try await Verifier.verify(population: runner.population, ledger: runner.ledger, target: runner.target)
            print("verification read \(report.verification!.meetingsRead) meetings in \(format(LoadRunner.secondsSince(started))) s")
        }
        print(Self.text(report))
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(report).write(to: URL(fileURLWithPath: json))
        }
        try await group.shutdownGracefully()
        if let verification = report.verification, !verification.passed { throw ExitCode(1) }
        if report.errorRate > maxErrorRate {
            print("error rate \(format(report.errorRate * 100))% is above --max-error-rate \(format(maxErrorRate * 100))%")
            throw ExitCode(1)
        }
    }

    static func text(_ report: LoadReport) -> String {
        var lines: [String] = []
        lines.append("measured \(format(report.seconds)) s: \(report.calls) calls, \(format(report.callsPerSecond, 0)) calls/s, \(format(report.bookingsPerSecond, 0)) bookings acknowledged/s, error rate \(format(report.errorRate * 100, 3))%")
        lines.append("operation       calls    calls/s        ok  conflict  errors     p50 ms   p90 ms   p99 ms  p99.9 ms   max ms")
        for (name, stats) in report.operations.sorted(by: { $0.key < $1.key }) + [("all", report.all)] {
            lines.append(
                name.padding(toLength: 12, withPad: " ", startingAt: 0)
                    + pad(stats.calls, 9) + pad(format(stats.callsPerSecond, 0), 11) + pad(stats.ok, 10) + pad(stats.conflicts, 10) + pad(stats.errors, 8)
                    + pad(format(stats.p50Milliseconds), 11) + pad(format(stats.p90Milliseconds), 9) + pad(format(stats.p99Milliseconds), 9)
                    + pad(format(stats.p999Milliseconds), 10) + pad(format(stats.maxMilliseconds), 9)
            )
        }
        lines.append("status codes: " + report.all.statusCodes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        if let verification = report.verification {
            lines.append("invariants: \(verification.passed ? "PASSED" : "FAILED") — double bookings \(verification.doubleBookings), acknowledged bookings missing \(verification.missingBookings), cancellations not applied \(verification.cancellationsNotApplied) (checked \(verification.acknowledgedBookings) bookings, \(verification.acknowledgedCancellations) cancellations)")
            for example in verification.examples { lines.append("  " + example) }
        }
        return lines.joined(separator: "\n")
    }

    static func pad(_ value: Int, _ width: Int) -> String { pad(String(value), width) }

    static func pad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }

    static func nextMonday() -> Date {
        let now = Int64(Date().timeIntervalSince1970)
        let day = now / 86_400
        let weekday = Int64(((day % 7) + 3) % 7)  // 0 = Monday
        return Date(timeIntervalSince1970: TimeInterval((day + 7 - weekday) * 86_400))
    }

    @discardableResult
    static func shell(_ command: String) -> Int32 {
        // posix_spawn, not Foundation's Process (whose run() can crash the parent on Linux,
        // swift-corelibs-foundation#5472); the command prints to this program's output.
        do {
            let process = try ChildProcess(
                path: "/bin/sh", arguments: ["-c", command], environment: ProcessInfo.processInfo.environment, outputFD: 1, errorFD: 2
            )
            process.waitUntilExitBlocking()
            return process.terminationStatus
        } catch {
            print("cannot run '\(command)': \(error)")
            return -1
        }
    }
}

func format(_ value: Double, _ digits: Int = 2) -> String {
    String(format: "%.\(digits)f", value)
}

extension LoadRunner {
    static func secondsSince(_ start: ContinuousClock.Instant) -> Double {
        let duration = ContinuousClock.now - start
        return Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
