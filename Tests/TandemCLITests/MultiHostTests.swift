import Foundation
import TandemTestSupport
import Testing

/// Separate hosts on one machine: a network namespace per host, each with its own address on a
/// private switch (a bridge in a namespace of its own, so the machine's own network and firewall
/// are not touched). Needs root and `ip netns`.
final class NamespaceNetwork {
    static let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Why namespaces cannot be used here, or nil when they can.
    static let unavailableReason: String? = {
        guard getuid() == 0 else { return "not root" }
        guard let ip else { return "no ip command" }
        let probe = "tdmprobe\(getpid())"
        guard (try? run(ip, ["netns", "add", probe]))?.status == 0 else { return "ip netns add failed" }
        _ = try? run(ip, ["netns", "del", probe])
        return nil
    }()

    let prefix: String
    let subnet = "10.77.0"
    private(set) var namespaces: [String] = []
    private(set) var addresses: [String: String] = [:]

    /// Creates the switch and one namespace per host name, addresses `10.77.0.(10 + index)/24`.
    init(hosts: [String]) throws {
        prefix = "tdm\(String(UInt32.random(in: 0...0xFFFF), radix: 16))"
        let switchName = "\(prefix)-sw"
        try add(switchName)
        try ip(["-n", switchName, "link", "add", "br0", "type", "bridge"])
        try ip(["-n", switchName, "link", "set", "br0", "up"])
        for (index, host) in hosts.enumerated() {
            let namespace = self.namespace(host)
            try add(namespace)
            let address = "\(subnet).\(10 + index)"
            try ip(["-n", switchName, "link", "add", "v\(index)", "type", "veth", "peer", "name", "eth0", "netns", namespace])
            try ip(["-n", switchName, "link", "set", "v\(index)", "master", "br0", "up"])
            try ip(["-n", namespace, "addr", "add", "\(address)/24", "dev", "eth0"])
            try ip(["-n", namespace, "link", "set", "eth0", "up"])
            try ip(["-n", namespace, "link", "set", "lo", "up"])
            addresses[host] = address
        }
    }

    func namespace(_ host: String) -> String { "\(prefix)-\(host)" }

    private func add(_ namespace: String) throws {
        try ip(["netns", "add", namespace])
        namespaces.append(namespace)
    }

    private func ip(_ arguments: [String]) throws {
        let result = try Self.run(Self.ip!, arguments)
        guard result.status == 0 else { throw HTTPTestError("ip \(arguments.joined(separator: " ")): \(result.output)") }
    }

    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> (status: Int32, output: String) {
        let result = try runProgramBlocking(executable, arguments, environment: environment, mergeErrors: true)
        return (result.status, String(decoding: result.output, as: UTF8.self))
    }

    /// Runs a built executable inside `host`'s namespace, to the end.
    func run(on host: String, _ executable: String, _ arguments: [String], environment: [String: String] = [:]) async throws -> (status: Int32, output: String) {
        let base = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("TANDEM_") }.merging(environment) { _, new in new }
        let arguments = ["netns", "exec", namespace(host), ServiceProcess.executable(executable)] + arguments
        return try await offThePool { try Self.run(Self.ip!, arguments, environment: base) }
    }

    /// Starts a built executable inside `host`'s namespace (`ip netns exec` becomes the executable).
    func start(on host: String, _ executable: String, _ arguments: [String]) throws -> ChildProcess {
        let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer { close(null) }
        return try ChildProcess(
            path: Self.ip!, arguments: ["netns", "exec", namespace(host), ServiceProcess.executable(executable)] + arguments,
            environment: ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("TANDEM_") }, outputFD: null, errorFD: null
        )
    }

    deinit {
        for namespace in namespaces.reversed() { _ = try? Self.run(Self.ip!, ["netns", "del", namespace]) }
    }
}

@Suite("Multi-host (network namespaces)", .serialized)
struct MultiHostTests {
    @Test(
        "each service on its own host with its own certificate; a gateway call end to end across them",
        .enabled(if: NamespaceNetwork.unavailableReason == nil, "needs root and `ip netns` (\(NamespaceNetwork.unavailableReason ?? ""))")
    )
    func gatewayCallAcrossHosts() async throws {
        var services = ["gateway", "identity", "matching", "scheduling"]
        if FileManager.default.isExecutableFile(atPath: ServiceProcess.executable("tandem-feedback")) { services.append("feedback") }
        let network = try NamespaceNetwork(hosts: services + ["client"])
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let certificates = directory + "/certs"
        func address(_ host: String) -> String { network.addresses[host]! }
        let ports = ["gateway": 7100, "identity": 7101, "matching": 7102, "scheduling": 7103, "feedback": 7104]
        func endpoint(_ host: String) -> String { "\(address(host)):\(ports[host]!)" }

        // A certificate per host: the service's name, its host name and its address.
        let initialised = try await ServiceProcess.run("tandem", ["certs", "init", "--dir", certificates])
        try #require(initialised.status == 0, "\(initialised.output)")
        for service in services {
            let issued = try await ServiceProcess.run("tandem", ["certs", "issue", service, "--dns", "\(service).tandem.test", "--ip", address(service), "--dir", certificates])
            try #require(issued.status == 0, "\(issued.output)")
        }
        let clientCertificate = try await ServiceProcess.run("tandem", ["certs", "issue", "client", "--dns", "client.tandem.test", "--ip", address("client"), "--dir", certificates])
        try #require(clientCertificate.status == 0, "\(clientCertificate.output)")
        let password = "multi-host-password-\(UUID().uuidString.prefix(6))"
        let bootstrap = try await ServiceProcess.run(
            "tandem-identity",
            ["bootstrap", "--data-dir", directory + "/identity", "--organisation", "Multi", "--slug", "multi", "--admin-email", "admin@multi.test", "--admin-name", "Admin", "--scrypt-log-n", "10"],
            environment: ["TANDEM_ADMIN_PASSWORD": password]
        )
        try #require(bootstrap.status == 0, "\(bootstrap.output)")

        let schedulingFollowsMatching = (try? await ServiceProcess.run("tandem-scheduling", ["--help"]))?.output.contains("--matching") ?? false
        let gatewayTakesFeedback = (try? await ServiceProcess.run("tandem-gateway", ["--help"]))?.output.contains("--feedback") ?? false
        var processes: [ChildProcess] = []
        defer {
            for process in processes where process.isRunning { kill(process.processIdentifier, SIGTERM) }
            // On the way out (a defer cannot wait asynchronously): quick after SIGTERM.
            for process in processes { process.waitUntilExitBlocking() }
        }
        for service in services.reversed() {
            var arguments = [
                "--host", address(service), "--port", String(ports[service]!),
                "--certificate", "\(certificates)/\(service).pem", "--key", "\(certificates)/\(service)-key.pem", "--ca", "\(certificates)/ca.pem",
                "--drain-seconds", "2",
            ]
            if service != "gateway" { arguments += ["--data-dir", "\(directory)/\(service)"] }
            if service != "identity" { arguments += ["--identity", endpoint("identity")] }
            if service == "gateway" || service == "feedback" { arguments += ["--matching", endpoint("matching"), "--scheduling", endpoint("scheduling")] }
            if service == "scheduling", schedulingFollowsMatching { arguments += ["--matching", endpoint("matching")] }
            if service == "gateway", services.contains("feedback"), gatewayTakesFeedback { arguments += ["--feedback", endpoint("feedback")] }
            processes.append(try network.start(on: service, "tandem-\(service)", arguments))
        }

        // From the client's host: sign in through the gateway (retried until the platform is up),
        // then the dashboard, which the gateway assembles from identity, matching, scheduling and feedback.
        let client = ["--endpoint", endpoint("gateway"), "--ca", "\(certificates)/ca.pem", "--state-dir", "\(directory)/client"]
        var signIn: (status: Int32, output: String) = (1, "")
        let deadline = Date().addingTimeInterval(90)
        while Date() < deadline {
            signIn = try await network.run(
                on: "client", "tandem", ["sign-in", "--organisation", "multi", "--email", "admin@multi.test", "--deadline", "3"] + client,
                environment: ["TANDEM_PASSWORD": password]
            )
            if signIn.status == 0 || processes.contains(where: { !$0.isRunning }) { break }
            try? await Task.sleep(for: .milliseconds(300))
        }
        try #require(signIn.status == 0, "sign-in across hosts: \(signIn.output)")

        var dashboard: (status: Int32, output: String) = (1, "")
        var parts: [[String: Any]] = []
        while Date() < deadline {
            dashboard = try await network.run(on: "client", "tandem", ["call", "gateway.Dashboard"] + client)
            if dashboard.status == 0, let json = try? JSONSerialization.jsonObject(with: Data(dashboard.output.utf8)) as? [String: Any] {
                parts = json["parts"] as? [[String: Any]] ?? []
                // Each service verifies the token with identity's keys, fetched across hosts.
                if parts.count >= 3 && parts.allSatisfy({ ($0["code"] as? Int) == 0 }) { break }
            }
            try? await Task.sleep(for: .milliseconds(300))
        }
        #expect(dashboard.status == 0, "\(dashboard.output)")
        #expect(dashboard.output.contains("admin@multi.test"), "the profile came from identity's host")
        #expect(parts.count >= 3 && parts.allSatisfy { ($0["code"] as? Int) == 0 }, "every part answered: \(dashboard.output)")

        // Feedback, called directly from the client's host over mutual TLS, follows the other
        // hosts' feeds and verifies the token with identity's keys.
        if services.contains("feedback") {
            let direct = try await network.run(on: "client", "tandem", [
                "call", "feedback.GetSettings", "--endpoint", endpoint("feedback"), "--ca", "\(certificates)/ca.pem",
                "--certificate", "\(certificates)/client.pem", "--key", "\(certificates)/client-key.pem", "--state-dir", "\(directory)/client",
            ])
            #expect(direct.status == 0 && direct.output.contains("\"k\""), "\(direct.output)")
        }

        // A service is not reachable by the wrong name: its certificate names its own host.
        let wrongName = try await network.run(
            on: "client", "tandem", ["call", "health.Check", "--json", #"{"service": ""}"#, "--endpoint", endpoint("gateway"), "--server-name", "identity", "--ca", "\(certificates)/ca.pem", "--deadline", "3"]
        )
        #expect(wrongName.status != 0)

        for process in processes { kill(process.processIdentifier, SIGTERM) }
        for process in processes {
            await process.waitUntilExit()
            #expect(process.terminationStatus == 0, "a service exits 0 after SIGTERM")
        }
        withExtendedLifetime(network) {}  // the namespaces go only after the services
    }
}
