import ArgumentParser
import Foundation
import TandemProtocols
import TandemServiceKit

/// `tandem dev`: the whole platform on this machine, one process per service.
struct Dev: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the dev cluster (every service and the gateway on loopback) and check its health.",
        subcommands: [Up.self, Status.self, ClockCommand.self]
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

extension Dev {
    /// `tandem dev clock`: the cluster's test clock, which only moves forward while it runs.
    struct ClockCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "clock",
            abstract: "Show the dev cluster's clock: real time shifted by an offset that every service follows.",
            discussion: """
                `tandem dev up` starts each service with --clock-file <state-dir>/clock, so moving the clock \
                forward lets meetings take place, surveys fall due and tokens expire without waiting: \
                `tandem dev clock advance 7d`. The services see a change within 0.1 s.
                """,
            subcommands: [Show.self, Advance.self, Reset.self],
            defaultSubcommand: Show.self
        )

        struct Show: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "The clock's offset and the cluster's time (the default).")

            @OptionGroup var options: ClusterOptions

            func run() throws {
                let state = try options.cluster().state
                print(try DevClockText.describe(state))
            }
        }

        struct Advance: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Move the clock forward, e.g. `advance 7d` (units: m, h, d, w). It never moves back."
            )

            // Takes `-1d` too, so that moving back gets its own message rather than "unknown option".
            @Argument(parsing: .allUnrecognized, help: "How far: a number and a unit, m (minutes), h, d or w (weeks).")
            var amount: [String] = []

            @OptionGroup var options: ClusterOptions

            func run() throws {
                guard amount.count == 1 else { throw ValidationError("give one amount, e.g. `tandem dev clock advance 7d`") }
                let state = try options.cluster().state
                do {
                    try ensureDirectory(state.path)
                    try DevClock.advance(state.clock, by: try DevClock.parseAmount(amount[0]))
                } catch let error as DevClockError {
                    throw CLIError(error.description)
                }
                print(try DevClockText.describe(state))
            }
        }

        struct Reset: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Set the clock back to real time, while the cluster is stopped (its data keeps the times it was written at)."
            )

            @OptionGroup var options: ClusterOptions

            func run() throws {
                let state = try options.cluster().state
                if DevClockText.runningCluster(state) != nil {
                    throw CLIError("the dev cluster in \(state.path) is running: stop it first (its clock only moves forward; time going backwards would confuse the services)")
                }
                try? FileManager.default.removeItem(atPath: state.clock)
                print(try DevClockText.describe(state))
            }
        }
    }
}

/// What `tandem dev clock` prints.
enum DevClockText {
    /// The record of the cluster running from `state`, if its `tandem dev up` is alive.
    static func runningCluster(_ state: StateDirectory) -> ClusterRecord? {
        guard let record = ClusterRecord.load(from: state.cluster), kill(record.pid, 0) == 0 || errno == EPERM else { return nil }
        return record
    }

    static func describe(_ state: StateDirectory) throws -> String {
        let offset: TimeInterval
        do {
            offset = try DevClock.readOffset(at: state.clock)
        } catch {
            throw CLIError(error.description)
        }
        let now = Date()
        var lines = [
            "dev clock \(DevClock.describe(offset: offset)) (\(Int64(offset.rounded())) s) in \(state.clock)",
            "cluster time \(isoSeconds(now.addingTimeInterval(offset))) (real time \(isoSeconds(now)))",
        ]
        if let record = runningCluster(state), record.clockFile == nil {
            lines.append("the running cluster (pid \(record.pid)) was started without it: stop it and start it again with `tandem dev up`")
        }
        return lines.joined(separator: "\n")
    }

    static func isoSeconds(_ date: Date) -> String {
        date.formatted(.iso8601)
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
