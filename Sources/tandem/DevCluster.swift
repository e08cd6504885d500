import Foundation
import TandemCertificates
import TandemProcess
import TandemProtocols
import TandemRPC
import TandemWire

/// The dev cluster's administrator, created by `tandem-identity bootstrap` the first time the
/// cluster starts (kept in `<state-dir>/admin.json`, mode 0600).
struct DevAdmin: Codable {
    var organisation: String
    var email: String
    var name: String
    var password: String

    static func load(from path: String) -> DevAdmin? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(DevAdmin.self, from: data)
    }
}

/// One service of the dev cluster: its executable, RPC port and admin port.
struct DevService: Sendable {
    var name: String
    var port: Int
    var executable: String { "tandem-" + name }
    var adminPort: Int { port + 1000 }
    var endpoint: String { "127.0.0.1:\(port)" }
}

/// Something that ends `tandem dev up`: a signal, or a service that exited by itself.
enum ClusterEvent: Sendable {
    case signal(Int32)
    case exited(String, Int32)
}

/// The first event that arrived, for loops to poll.
final class ClusterEvents: @unchecked Sendable {
    // Safe: `first` is only read and written under `lock`.
    private let lock = NSLock()
    private var first: ClusterEvent?
    private var sources: [any DispatchSourceSignal] = []

    /// Catches SIGINT and SIGTERM (instead of dying by them) from now on.
    func catchSignals() {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in self?.record(.signal(number)) }
            source.resume()
            sources.append(source)
        }
    }

    func record(_ event: ClusterEvent) {
        lock.withLock { if first == nil { first = event } }
    }

    var event: ClusterEvent? { lock.withLock { first } }
}

/// The four services and the gateway as separate processes on loopback, with their data, logs
/// and certificates under the state directory.
final class DevCluster: @unchecked Sendable {
    // Safe: `processes` is written before any concurrent access (start) and then only read,
    // under `lock` for the termination handlers.
    let state: StateDirectory
    let services: [DevService]
    let binDirectory: String
    let scryptLogN: Int
    private let lock = NSLock()
    private var processes: [String: ChildProcess] = [:]

    init(state: StateDirectory, basePort: Int = 7100, binDirectory: String? = nil, scryptLogN: Int = 10) throws {
        self.state = state
        self.binDirectory = binDirectory ?? DevCluster.ownDirectory()
        self.scryptLogN = scryptLogN
        var services = [
            DevService(name: "identity", port: basePort + 1), DevService(name: "matching", port: basePort + 2),
            DevService(name: "scheduling", port: basePort + 3),
        ]
        if FileManager.default.isExecutableFile(atPath: self.binDirectory + "/tandem-feedback") {
            services.append(DevService(name: "feedback", port: basePort + 4))
        }
        services.append(DevService(name: "gateway", port: basePort))
        self.services = services
    }

    /// The directory of the running `tandem` executable, where `swift build` puts the others.
    static func ownDirectory() -> String {
        let own = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        if FileManager.default.fileExists(atPath: own.path), own.lastPathComponent.hasPrefix("tandem") {
            return own.deletingLastPathComponent().path
        }
        return URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
    }

    var gateway: DevService { services.last! }

    func service(_ name: String) -> DevService? { services.first { $0.name == name } }

    // MARK: Preparing

    /// Creates what is missing: directories, the CA and each service's certificate (plus `cli`,
    /// a client certificate for calling services directly), and the bootstrapped admin.
    func prepare(log: (String) -> Void) async throws {
        for directory in [state.path, state.certificates, state.data, state.logs] { try ensureDirectory(directory) }
        for service in services {
            let path = binDirectory + "/" + service.executable
            guard FileManager.default.isExecutableFile(atPath: path) else {
                throw CLIError("cannot find \(path) (build everything with `swift build`, or pass --bin-dir)")
            }
        }
        let caPath = state.certificates + "/ca.pem"
        if !FileManager.default.fileExists(atPath: caPath) {
            let ca = try CertificateAuthority.create()
            _ = try ca.issued.write(to: state.certificates, name: "ca")
            log("created a CA in \(state.certificates)")
        }
        let ca = try CertificateAuthority.load(certificatePath: caPath, keyPath: state.certificates + "/ca-key.pem")
        for name in services.map(\.name) + ["cli"] where !FileManager.default.fileExists(atPath: state.certificates + "/\(name).pem") {
            let issued = try ca.issue(name: name, dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"])
            _ = try issued.write(to: state.certificates, name: name)
            log("issued a certificate for \(name)")
        }
        if DevAdmin.load(from: state.admin) == nil {
            let admin = DevAdmin(organisation: "dev", email: "admin@tandem.dev", name: "Dev Admin", password: Self.randomPassword())
            let result = try runToEnd(
                "tandem-identity",
                [
                    "bootstrap", "--data-dir", state.data + "/identity", "--organisation", "Tandem Dev", "--slug", admin.organisation,
                    "--admin-email", admin.email, "--admin-name", admin.name, "--scrypt-log-n", String(scryptLogN),
                ],
                environment: ["TANDEM_ADMIN_PASSWORD": admin.password]
            )
            guard result.status == 0 else {
                throw CLIError("tandem-identity bootstrap failed (exit \(result.status)): \(result.output.split(separator: "\n").last ?? "")")
            }
            try writePrivateFile(state.admin, try JSONEncoder().encode(admin))
            log("bootstrapped organisation '\(admin.organisation)' with admin \(admin.email) (password in \(state.admin))")
        }
    }

    static func randomPassword() -> String {
        let alphabet = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<24).map { _ in alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))] })
    }

    // MARK: Processes

    /// The arguments each service starts with.
    func arguments(for service: DevService) -> [String] {
        let certificates = state.certificates
        var arguments = [
            "--host", "127.0.0.1", "--port", String(service.port), "--admin-port", String(service.adminPort),
            "--certificate", "\(certificates)/\(service.name).pem", "--key", "\(certificates)/\(service.name)-key.pem",
            "--ca", "\(certificates)/ca.pem", "--drain-seconds", "5",
            // The dev clock (`tandem dev clock`), and no service left behind if `tandem` is killed.
            "--clock-file", state.clock, "--exit-with-parent",
        ]
        if service.name != "gateway" { arguments += ["--data-dir", "\(state.data)/\(service.name)"] }
        let identity = self.service("identity")!.endpoint
        switch service.name {
        case "identity":
            arguments += ["--scrypt-log-n", String(scryptLogN)]
        case "matching":
            arguments += ["--identity", identity]
        case "scheduling":
            // Scheduling follows matching's change feed: accepted matches become pairs that can book.
            arguments += ["--identity", identity]
            if schedulingFollowsMatching { arguments += ["--matching", self.service("matching")!.endpoint] }
        case "feedback":
            arguments += ["--identity", identity, "--matching", self.service("matching")!.endpoint, "--scheduling", self.service("scheduling")!.endpoint]
        case "gateway":
            arguments += ["--identity", identity, "--matching", self.service("matching")!.endpoint, "--scheduling", self.service("scheduling")!.endpoint]
            if let feedback = self.service("feedback"), gatewayRoutesFeedback { arguments += ["--feedback", feedback.endpoint] }
        default:
            break
        }
        return arguments
    }

    /// Whether this build's scheduling service takes `--matching` (it follows matching's feed).
    var schedulingFollowsMatching: Bool {
        guard let help = try? runToEnd("tandem-scheduling", ["--help"], environment: [:]) else { return false }
        return help.output.contains("--matching")
    }

    /// Whether this build's gateway takes `--feedback` (it routes feedback's methods).
    var gatewayRoutesFeedback: Bool {
        guard let help = try? runToEnd("tandem-gateway", ["--help"], environment: [:]) else { return false }
        return help.output.contains("--feedback")
    }

    /// Starts every service; `exited` hears of any that stops.
    func start(exited: @escaping @Sendable (String, Int32) -> Void) throws {
        for service in services {
            let logPath = "\(state.logs)/\(service.name).log"
            let log = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            guard log >= 0 else {
                let reason = String(cString: strerror(errno))
                stop()
                throw CLIError("cannot open \(logPath): \(reason)")
            }
            defer { close(log) }
            let process: ChildProcess
            do {
                process = try ChildProcess(
                    path: binDirectory + "/" + service.executable, arguments: arguments(for: service),
                    environment: childEnvironment, outputFD: log, errorFD: log
                )
            } catch {
                stop()
                throw CLIError("cannot start \(service.executable): \(error)")
            }
            lock.withLock { processes[service.name] = process }
            let name = service.name
            process.onExit { status in exited(name, status) }
        }
        let started = lock.withLock { processes }
        let record = ClusterRecord(
            pid: getpid(), clockFile: state.clock, services: services.map { ClusterRecord.Entry(name: $0.name, port: $0.port, adminPort: $0.adminPort, pid: started[$0.name]?.processIdentifier ?? 0) }
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try? encoder.encode(record).write(to: URL(fileURLWithPath: state.cluster))
    }

    /// Sends SIGTERM to every service still running and waits (at most `seconds`) for them to
    /// exit; the ones that do not are killed.
    @discardableResult
    func stop(seconds: Double = 15) -> [String: Int32] {
        let running = lock.withLock { processes }
        for process in running.values where process.isRunning { kill(process.processIdentifier, SIGTERM) }
        let deadline = Date().addingTimeInterval(seconds)
        while running.values.contains(where: \.isRunning) && Date() < deadline { usleep(20_000) }
        for process in running.values where process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExitBlocking()
        }
        try? FileManager.default.removeItem(atPath: state.cluster)
        return running.mapValues(\.terminationStatus)
    }

    // MARK: Health

    /// Each service's `health.Check` answer, or the failure in words.
    func health(timeout: Double = 2) async -> [(service: DevService, status: String)] {
        await withTaskGroup(of: (Int, String).self) { group in
            for (index, service) in services.enumerated() {
                group.addTask { (index, await self.check(service, timeout: timeout)) }
            }
            var results: [(Int, String)] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map { (services[$0.0], $0.1) }
        }
    }

    func check(_ service: DevService, timeout: Double) async -> String {
        do {
            let certificates = state.certificates
            let tls: ClientTLSConfiguration
            if service.name == "gateway" {
                tls = ClientTLSConfiguration(trustRoots: try loadTrustRoots(certificates + "/ca.pem"), serverName: "gateway")
            } else {
                tls = try .mutual(
                    caPath: certificates + "/ca.pem", certificatePath: certificates + "/cli.pem", keyPath: certificates + "/cli-key.pem", serverName: service.name
                )
            }
            var configuration = ClientConfiguration()
            configuration.healthCheckInterval = nil
            configuration.connectTimeout = .milliseconds(Int64(timeout * 1000))
            let client = try RPCClient(endpoints: [try Endpoint(parsing: service.endpoint)], tls: tls, configuration: configuration, logger: quietLogger)
            defer { client.close() }
            let answer = try await client.call(
                Health.check, HealthCheckRequest(service: ""),
                options: CallOptions(timeout: .milliseconds(Int64(timeout * 1000)), retryPolicy: RetryPolicy.none)
            )
            return answer.status.rawValue
        } catch let error as RPCError {
            guard error.code == .unavailable else { return "\(error.code.name): \(error.message)" }
            return error.message.contains("Connection refused") ? "DOWN (connection refused)" : "DOWN (\(error.message))"
        } catch {
            return "DOWN (\(error))"
        }
    }

    /// Polls until every service reports SERVING, `events` has something, or `timeout` passes.
    func waitUntilServing(timeout: Double, events: ClusterEvents?) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let event = events?.event {
                switch event {
                case .signal: throw CLIError("interrupted while starting")
                case .exited(let name, let status):
                    throw CLIError("\(name) exited with status \(status) while starting; see \(state.logs)/\(name).log")
                }
            }
            let statuses = await health(timeout: 1)
            if statuses.allSatisfy({ $0.status == ServingStatus.serving.rawValue }) { return }
            if Date() > deadline {
                let waiting = statuses.filter { $0.status != ServingStatus.serving.rawValue }.map { "\($0.service.name) at \($0.service.endpoint): \($0.status)" }
                throw CLIError("not serving after \(Int(timeout)) s: \(waiting.joined(separator: "; ")) (logs in \(state.logs))")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    // MARK: Helpers

    /// This process's environment without its TANDEM_* settings (each service gets its own as flags).
    private var childEnvironment: [String: String] {
        ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("TANDEM_") }
    }

    private func runToEnd(_ executable: String, _ arguments: [String], environment: [String: String]) throws -> (status: Int32, output: String) {
        let result = try runProgramBlocking(
            binDirectory + "/" + executable, arguments,
            environment: childEnvironment.merging(environment) { _, new in new },
            mergeErrors: true
        )
        return (result.status, String(decoding: result.output, as: UTF8.self))
    }
}

/// What `<state-dir>/cluster.json` says about a running dev cluster.
struct ClusterRecord: Codable {
    struct Entry: Codable {
        var name: String
        var port: Int
        var adminPort: Int
        var pid: Int32
    }

    var pid: Int32
    /// The dev clock file the services follow; absent for a cluster started by an older `tandem`.
    var clockFile: String?
    var services: [Entry]

    static func load(from path: String) -> ClusterRecord? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(ClusterRecord.self, from: data)
    }
}
