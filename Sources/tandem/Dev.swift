import ArgumentParser
import Foundation
import TandemProtocols

/// `tandem dev`: the whole platform on this machine, one process per service.
struct Dev: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the dev cluster (every service and the gateway on loopback) and check its health.",
        subcommands: [Up.self, Status.self]
    )

    struct ClusterOptions: ParsableArguments {
        @Option(name: .customLong("state-dir"), help: "Certificates, data and logs. [env: TANDEM_STATE_DIR] (default: .tandem)")
        var stateDirectory: String?

        @Option(name: .customLong("base-port"), help: "The gateway's port; identity, matching, scheduling and feedback take the next four, admin ports are 1000 above.")
        var basePort = 7100

        @Option(name: .customLong("bin-dir"), help: "Where the tandem-* executables are. (default: next to this one)")
        var binDirectory: String?

        func cluster(scryptLogN: Int = 10) throws -> DevCluster {
            guard (1...(65535 - 1004)).contains(basePort) else { throw ValidationError("--base-port must leave room for five ports and their admin ports") }
            return try DevCluster(state: StateDirectory(stateDirectory), basePort: basePort, binDirectory: binDirectory, scryptLogN: scryptLogN)
        }
    }

    struct Up: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start the cluster and keep it running until Ctrl-C or SIGTERM, which stop every service cleanly.",
            discussion: "Creates certificates and the dev organisation's admin the first time (see <state-dir>/admin.json)."
        )

        @OptionGroup var options: ClusterOptions

        @Option(name: .customLong("scrypt-log-n"), help: "Password hashing cost for the dev identity service (10–20; lower than production's 15 so demos sign in many people quickly).")
        var scryptLogN = 10

        @Option(help: "Seconds to wait for every service to report SERVING.")
        var timeout: Double = 60

        func run() async throws {
            let cluster = try options.cluster(scryptLogN: scryptLogN)
            let events = ClusterEvents()
            events.catchSignals()
            try await DevRunner.start(cluster, events: events, timeout: timeout) { print($0) }
            DevRunner.printEndpoints(cluster)
            print("press Ctrl-C to stop")
            fflush(nil)
            while events.event == nil { try? await Task.sleep(for: .milliseconds(100)) }
            let reason: String
            switch events.event! {
            case .signal(let number): reason = number == SIGINT ? "interrupted" : "terminated"
            case .exited(let name, let status): reason = "\(name) exited with status \(status) (see \(cluster.state.logs)/\(name).log)"
            }
            print("\(reason); stopping the services")
            let statuses = cluster.stop()
            let summary = cluster.services.map { "\($0.name) \(statuses[$0.name].map(String.init) ?? "?")" }.joined(separator: ", ")
            print("stopped (exit statuses: \(summary))")
            if case .exited = events.event! { throw ExitCode(1) }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show each service's health (exit status 1 unless all are SERVING).")

        @OptionGroup var options: ClusterOptions

        func run() async throws {
            let cluster = try options.cluster()
            guard FileManager.default.fileExists(atPath: cluster.state.certificates + "/ca.pem") else {
                throw CLIError("no dev cluster in \(cluster.state.path) (start one with `tandem dev up`)")
            }
            let record = ClusterRecord.load(from: cluster.state.cluster)
            var allServing = true
            for (service, status) in await cluster.health() {
                let pid = record?.services.first { $0.name == service.name }.map { "pid \($0.pid)" } ?? "-"
                let name = service.name.padding(toLength: 11, withPad: " ", startingAt: 0)
                print("\(name) \(service.endpoint.padding(toLength: 16, withPad: " ", startingAt: 0)) admin http://127.0.0.1:\(service.adminPort)/readyz  \(pid.padding(toLength: 10, withPad: " ", startingAt: 0)) \(status)")
                if status != ServingStatus.serving.rawValue { allServing = false }
            }
            if !allServing { throw ExitCode(1) }
        }
    }
}

enum DevRunner {
    /// Prepares and starts `cluster`, waiting until every service is SERVING.
    static func start(_ cluster: DevCluster, events: ClusterEvents, timeout: Double, log: (String) -> Void) async throws {
        if await cluster.check(cluster.gateway, timeout: 1) == ServingStatus.serving.rawValue {
            throw CLIError("something already serves at \(cluster.gateway.endpoint) (a dev cluster? `tandem dev status`)")
        }
        try await cluster.prepare(log: log)
        try cluster.start { name, status in events.record(.exited(name, status)) }
        do {
            try await cluster.waitUntilServing(timeout: timeout, events: events)
        } catch {
            cluster.stop()
            throw error
        }
    }

    static func printEndpoints(_ cluster: DevCluster) {
        print("dev cluster serving (state in \(cluster.state.path)):")
        for service in cluster.services {
            let name = service.name.padding(toLength: 11, withPad: " ", startingAt: 0)
            print("  \(name) \(service.endpoint.padding(toLength: 16, withPad: " ", startingAt: 0)) admin http://127.0.0.1:\(service.adminPort)  log \(cluster.state.logs)/\(service.name).log")
        }
        if let admin = DevAdmin.load(from: cluster.state.admin) {
            print("sign in: tandem sign-in   (organisation '\(admin.organisation)', \(admin.email); password in \(cluster.state.admin))")
        }
    }
}
