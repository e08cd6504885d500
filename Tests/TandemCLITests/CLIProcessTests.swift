import Foundation
import TandemProtocols
import TandemTestSupport
import TandemWire
import Testing

/// A base port for a dev cluster: it and the next four are free, and so are their admin ports
/// (1000 above).
/// A base port with the next four and their admin ports (1000 above) free, for `tandem dev up`.
func freeBasePort() throws -> Int {
    try freePorts(offsets: Array(0..<5) + Array(1000..<1005))
}

func temporaryDirectory() throws -> String {
    Scratch.directory("cli")
}

/// Polls `condition` every 50 ms until it holds or `seconds` pass.
func waitUntil(seconds: Double, _ condition: () -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return condition()
}

/// `tandem dev up` running in a temporary state directory, stopped with SIGTERM at the end.
final class RunningCluster {
    let state: String
    let base: Int
    let process: ServiceProcess

    init() async throws {
        state = try temporaryDirectory()
        base = try freeBasePort()
        process = try ServiceProcess("tandem", ["dev", "up", "--state-dir", state, "--base-port", String(base)])
        let ready = await waitUntil(seconds: 120) { process.output.contains("press Ctrl-C to stop") || !process.isRunning }
        guard ready, process.isRunning else { throw HTTPTestError("dev up did not come up:\n\(process.output)") }
    }

    var endpoint: String { "127.0.0.1:\(base)" }

    /// The end of each service's log, for failure messages.
    var logs: String {
        ["identity", "matching", "scheduling", "gateway"].map { name in
            let text = (try? String(contentsOfFile: "\(state)/logs/\(name).log", encoding: .utf8)) ?? ""
            return "--- \(name)\n" + text.split(separator: "\n").suffix(15).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    /// `tandem ARGUMENTS` with this cluster's state directory and endpoint.
    func tandem(_ arguments: [String], environment: [String: String] = [:]) async throws -> (status: Int32, output: String) {
        try await ServiceProcess.run("tandem", arguments + ["--state-dir", state], environment: environment)
    }

    func call(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await tandem(["call"] + arguments + ["--endpoint", endpoint])
    }

    deinit {
        process.send(SIGTERM)
        // A deinit cannot wait asynchronously: quick after SIGTERM (dev up stops its services).
        process.waitForExitBlocking(seconds: 30)
        try? FileManager.default.removeItem(atPath: state)
    }
}

@Suite("tandem command (processes)", .serialized)
struct CLIProcessTests {
    @Test("dev up starts every service, dev status reports SERVING, SIGTERM stops them all")
    func devUpAndDown() async throws {
        let cluster = try await RunningCluster()
        let output = cluster.process.output
        for name in ["identity", "matching", "scheduling", "gateway"] { #expect(output.contains(name), "endpoint of \(name) printed") }
        let status = try await cluster.tandem(["dev", "status", "--base-port", String(cluster.base)])
        #expect(status.status == 0, "\(status.output)")
        #expect(status.output.split(separator: "\n").filter { $0.hasSuffix("SERVING") }.count >= 4, "\(status.output)")

        let record = try #require(FileManager.default.contents(atPath: cluster.state + "/cluster.json"))
        let json = try #require(try JSONSerialization.jsonObject(with: record) as? [String: Any])
        let pids = (json["services"] as? [[String: Any]] ?? []).compactMap { $0["pid"] as? Int32 ?? ($0["pid"] as? Int).map(Int32.init) }
        #expect(pids.count >= 4)
        for pid in pids { #expect(kill(pid, 0) == 0, "service \(pid) runs") }

        // A second cluster on the same ports is refused; the demo uses the running one and leaves it running.
        let second = try await cluster.tandem(["dev", "up", "--base-port", String(cluster.base)])
        #expect(second.status != 0 && second.output.contains("already serves at \(cluster.endpoint)"), "\(second.output)")
        let demo = try await cluster.tandem(["demo", "--size", "20", "--base-port", String(cluster.base)])
        #expect(demo.status == 0 && demo.output.contains("using the cluster serving at \(cluster.endpoint)"), "\(demo.output)")
        #expect(demo.output.contains("Explore it: TANDEM_PASSWORD="))
        for pid in pids { #expect(kill(pid, 0) == 0, "service \(pid) still runs after the demo") }

        cluster.process.send(SIGTERM)
        let exit = await cluster.process.waitForExit(seconds: 30)
        #expect(exit == 0, "dev up exits 0 after SIGTERM:\n\(cluster.process.output)")
        let stopped = try #require(cluster.process.output.split(separator: "\n").first { $0.hasPrefix("stopped (exit statuses:") })
        for name in ["identity", "matching", "scheduling", "feedback", "gateway"] {
            #expect(stopped.contains("\(name) 0"), "\(name) drained and exited 0: \(stopped)")
        }
        for pid in pids { #expect(kill(pid, 0) == -1 && errno == ESRCH, "service \(pid) has exited") }

        let after = try await cluster.tandem(["dev", "status", "--base-port", String(cluster.base)])
        #expect(after.status != 0)
        #expect(after.output.contains("DOWN"))
    }

    @Test("a service that dies under dev up: dev up names it, stops the others and exits 1")
    func serviceDies() async throws {
        let cluster = try await RunningCluster()
        let record = try #require(FileManager.default.contents(atPath: cluster.state + "/cluster.json"))
        let json = try #require(try JSONSerialization.jsonObject(with: record) as? [String: Any])
        let services = (json["services"] as? [[String: Any]] ?? []).compactMap { entry -> (String, Int32)? in
            guard let name = entry["name"] as? String, let pid = entry["pid"] as? Int32 ?? (entry["pid"] as? Int).map(Int32.init) else { return nil }
            return (name, pid)
        }
        let matching = try #require(services.first { $0.0 == "matching" }?.1)
        #expect(kill(matching, SIGKILL) == 0)
        let exit = await cluster.process.waitForExit(seconds: 60)
        let output = cluster.process.output
        #expect(exit == 1, "dev up exits 1 when a service dies:\n\(output)")
        #expect(output.contains("matching exited with status \(SIGKILL)"), "\(output)")
        let stopped = try #require(output.split(separator: "\n").first { $0.hasPrefix("stopped (exit statuses:") })
        for name in ["identity", "scheduling", "feedback", "gateway"] {
            #expect(stopped.contains("\(name) 0"), "\(name) drained and exited 0: \(stopped)")
        }
        for (name, pid) in services { #expect(kill(pid, 0) == -1 && errno == ESRCH, "\(name) (\(pid)) has exited") }
    }

    @Test("call: list, sign-in, a good call, a bad body, an RPC error, an unknown method")
    func calls() async throws {
        let cluster = try await RunningCluster()

        let list = try await cluster.call(["--list"])
        #expect(list.status == 0)
        for method in ["identity.SignIn", "matching.RunCohort", "scheduling.BookMeeting", "gateway.Dashboard", "health.Check"] {
            #expect(list.output.contains(method), "--list shows \(method)")
        }

        // Without a token the gateway refuses: one line, the status, the endpoint.
        let anonymous = try await cluster.call(["identity.WhoAmI"])
        #expect(anonymous.status != 0)
        #expect(anonymous.output.contains("UNAUTHENTICATED") && anonymous.output.contains(cluster.endpoint), "\(anonymous.output)")
        #expect(anonymous.output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count == 1, "\(anonymous.output)")

        let signIn = try await cluster.tandem(["sign-in", "--endpoint", cluster.endpoint])
        try #require(signIn.status == 0, "\(signIn.output)\n\(cluster.logs)")
        let attributes = try FileManager.default.attributesOfItem(atPath: cluster.state + "/token")
        #expect((attributes[.posixPermissions] as? Int) == 0o600, "the token file is private")

        let whoAmI = try await cluster.call(["identity.WhoAmI"])
        #expect(whoAmI.status == 0, "\(whoAmI.output)")
        let caller = try #require(try JSONSerialization.jsonObject(with: Data(whoAmI.output.utf8)) as? [String: Any])
        #expect((caller["roles"] as? [String])?.contains("org-admin") == true, "\(whoAmI.output)")

        let program = try await cluster.call(["identity.CreateProgram", "--json", #"{"name": "CLI test", "format": "one-to-one", "startsOn": "2026-01-05", "onboarding": false, "adminIDs": []}"#])
        #expect(program.status == 0, "\(program.output)")
        #expect(program.output.contains("\"name\" : \"CLI test\""), "\(program.output)")

        let badJSON = try await cluster.call(["identity.CreateProgram", "--json", #"{"name": "x", "format": "one-to-one""#])
        #expect(badJSON.status != 0)
        #expect(badJSON.output.contains("bad JSON body for identity.CreateProgram"), "\(badJSON.output)")
        #expect(badJSON.output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count == 1, "\(badJSON.output)")

        let missingField = try await cluster.call(["identity.CreateProgram", "--json", #"{"name": "x"}"#])
        #expect(missingField.status != 0)
        #expect(missingField.output.contains("missing field 'format'"), "\(missingField.output)")

        let notFound = try await cluster.call(["identity.GetPerson", "--json", #"{"personID": "\#(UUID().uuidString)"}"#])
        #expect(notFound.status != 0)
        #expect(notFound.output.contains("identity.GetPerson at \(cluster.endpoint) failed with NOT_FOUND (5)"), "\(notFound.output)")
        #expect(notFound.output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count == 1, "\(notFound.output)")

        // Dates are ISO 8601, ids are strings.
        let me = try #require(caller["subject"] as? String)
        let meetings = try await cluster.call(["scheduling.ListMeetings", "--json", #"{"personID": "\#(me)", "from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00.500Z"}"#])
        #expect(meetings.status == 0 && meetings.output.contains("\"meetings\""), "\(meetings.output)")
        let badDate = try await cluster.call(["scheduling.ListMeetings", "--json", #"{"from": "yesterday"}"#])
        #expect(badDate.status != 0 && badDate.output.contains("from: 'yesterday' is not an ISO 8601 date-time"), "\(badDate.output)")

        let wrongPassword = try await cluster.tandem(["sign-in", "--endpoint", cluster.endpoint, "--organisation", "dev", "--email", "admin@tandem.dev"], environment: ["TANDEM_PASSWORD": "not the password at all"])
        #expect(wrongPassword.status != 0 && wrongPassword.output.contains("identity.SignIn at \(cluster.endpoint) failed with UNAUTHENTICATED (16)"), "\(wrongPassword.output)")

        let unknown = try await cluster.call(["identity.signin"])
        #expect(unknown.status != 0)
        #expect(unknown.output.contains("did you mean identity.SignIn"), "\(unknown.output)")

        // A service called directly, over mutual TLS with the CLI's certificate.
        let direct = try await cluster.tandem([
            "call", "health.Check", "--json", #"{"service": ""}"#, "--endpoint", "127.0.0.1:\(cluster.base + 3)", "--server-name", "scheduling",
            "--certificate", cluster.state + "/certs/cli.pem", "--key", cluster.state + "/certs/cli-key.pem",
        ])
        #expect(direct.status == 0 && direct.output.contains("SERVING"), "\(direct.output)")

        // Nothing listening: one line naming the endpoint.
        let down = try await cluster.tandem(["call", "health.Check", "--json", #"{"service": ""}"#, "--endpoint", "127.0.0.1:\(try freePort())", "--deadline", "3"])
        #expect(down.status != 0)
        #expect(down.output.contains("health.Check at 127.0.0.1:") && down.output.contains("UNAVAILABLE"), "\(down.output)")
    }

    @Test("demo --size small: a whole program end to end, its weeks on the dev clock, the return figures from the feedback service")
    func demo() async throws {
        let state = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let started = Date()
        let run = try await ServiceProcess.run("tandem", ["demo", "--size", "small", "--seed", "7", "--state-dir", state, "--base-port", String(try freeBasePort())])
        let seconds = Date().timeIntervalSince(started)
        #expect(run.status == 0, "\(run.output)")
        for figure in ["Match rate:", "Scores (0–100)", "Example:", "Meetings booked:", "Local start times", "Series booked:", "Meetings held:", "Competency improvement:", "Positive relationship:", "Intention to stay:"] {
            #expect(run.output.contains(figure), "the report shows \(figure)")
        }
        #expect(run.output.contains("[10/10]"), "progress is shown")
        print("demo --size small took \(String(format: "%.1f", seconds)) s")
        // The cluster the demo started is gone again.
        #expect(!FileManager.default.fileExists(atPath: state + "/cluster.json"))

        // The weeks ran on the dev clock: it stands weeks ahead, and the figures are the feedback
        // service's: its report's respondents, each return figure a share of them or hidden by k.
        let offset = try #require(Double(try String(contentsOfFile: state + "/clock", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(offset > 8 * 7 * 86_400, "the dev clock moved at least the program's weeks: \(offset) s")
        let lines = run.output.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("FEEDBACK SERVICE REPORT (feedback.ProgramReport") }, "\(run.output)")
        let held = try #require(lines.first { $0.hasPrefix("  Meetings held: ") }, "\(run.output)")
        #expect(held.firstMatch(of: /Meetings held: [1-9][0-9]* \([0-9]+ mentoring hours\)/) != nil, "\(held)")
        let respondents = try #require(lines.first { $0.hasPrefix("  Respondents: ") || $0.contains("hidden (") }, "\(run.output)")
        for name in ["Competency improvement:", "Positive relationship:", "Intention to stay:"] {
            let line = try #require(lines.first { $0.hasPrefix("  " + name) })
            if let figure = line.firstMatch(of: /: +([0-9]+\.[0-9])% of ([0-9]+)\s/) {
                #expect((0...100).contains(Double(figure.1)!), "\(line)")
                #expect(Int(figure.2)! >= 5, "a published figure has at least k respondents: \(line)")
                #expect(respondents.contains("Respondents: "), "\(respondents)")
            } else {
                #expect(line.contains("hidden (k = "), "a figure is a percentage of respondents or hidden by k: \(line)")
            }
        }
    }

    @Test("dev clock: advance moves the running cluster's time forward (identity's tokens follow), never back; reset waits for a stopped cluster")
    func devClock() async throws {
        let cluster = try await RunningCluster()
        let advanced = try await cluster.tandem(["dev", "clock", "advance", "7d"])
        #expect(advanced.status == 0, "\(advanced.output)")
        #expect(advanced.output.contains("dev clock +7d (604800 s)"), "\(advanced.output)")
        let back = try await cluster.tandem(["dev", "clock", "advance", "-1d"])
        #expect(back.status != 0)
        #expect(back.output.contains("only moves forward") && back.output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count == 1, "\(back.output)")
        let garbage = try await cluster.tandem(["dev", "clock", "advance", "soon"])
        #expect(garbage.status != 0 && garbage.output.contains("m, h, d or w"), "\(garbage.output)")
        let reset = try await cluster.tandem(["dev", "clock", "reset"])
        #expect(reset.status != 0 && reset.output.contains("is running: stop it first"), "\(reset.output)")
        let shown = try await cluster.tandem(["dev", "clock"])
        #expect(shown.status == 0 && shown.output.contains("dev clock +7d (604800 s)"), "moving back changed nothing:\n\(shown.output)")

        // Identity issues tokens in the cluster's time: they expire a week (and 15 minutes) from now.
        let admin = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: cluster.state + "/admin.json"))) as? [String: String])
        let body = try JSONSerialization.data(withJSONObject: ["organisation": admin["organisation"]!, "email": admin["email"]!, "password": admin["password"]!])
        let tokens = try await cluster.call(["identity.SignIn", "--json", String(decoding: body, as: UTF8.self)])
        #expect(tokens.status == 0, "\(tokens.output)")
        let answer = try #require(try JSONSerialization.jsonObject(with: Data(tokens.output.utf8)) as? [String: Any])
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let text = try #require(answer["accessExpiresAt"] as? String, "\(tokens.output)")
        let expires = try #require(formatter.date(from: text) ?? ISO8601DateFormatter().date(from: text), "\(text)")
        let ahead = expires.timeIntervalSinceNow
        #expect(ahead > 7 * 86_400 && ahead < 7 * 86_400 + 3600, "the access token expires \(ahead) s from now")

        // A cluster that does not follow a dev clock (as an older `tandem dev up` started it) cannot run the demo's weeks.
        let recordPath = cluster.state + "/cluster.json"
        var record = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: recordPath))) as? [String: Any])
        record["clockFile"] = nil
        try JSONSerialization.data(withJSONObject: record).write(to: URL(fileURLWithPath: recordPath))
        let demo = try await cluster.tandem(["demo", "--size", "20", "--base-port", String(cluster.base)])
        #expect(demo.status != 0 && demo.output.contains("does not follow the dev clock"), "\(demo.output)")
        #expect(demo.output.split(separator: "\n").filter { $0.hasPrefix("Error:") }.count == 1, "\(demo.output)")
    }

    @Test("dev up killed with SIGKILL: every service notices its parent has gone and exits")
    func devUpKilled() async throws {
        let cluster = try await RunningCluster()
        let record = try #require(FileManager.default.contents(atPath: cluster.state + "/cluster.json"))
        let json = try #require(try JSONSerialization.jsonObject(with: record) as? [String: Any])
        let pids = (json["services"] as? [[String: Any]] ?? []).compactMap { ($0["pid"] as? Int).map(Int32.init) }
        #expect(pids.count >= 4)
        for pid in pids { #expect(kill(pid, 0) == 0, "service \(pid) runs") }
        cluster.process.send(SIGKILL)
        _ = await cluster.process.waitForExit(seconds: 10)
        #expect(
            await waitUntil(seconds: 30) { pids.allSatisfy(processHasExited) }, "services still running: \(pids.filter { !processHasExited($0) })\n\(cluster.logs)"
        )
        for name in ["identity", "matching", "scheduling", "gateway"] {
            let log = (try? String(contentsOfFile: "\(cluster.state)/logs/\(name).log", encoding: .utf8)) ?? ""
            #expect(log.contains("the parent process has exited; draining as on SIGTERM"), "\(name) drained because its parent went")
        }
    }

    @Test("call --list covers every method the protocols publish")
    func listCoversProtocols() async throws {
        let list = try await ServiceProcess.run("tandem", ["call", "--list"])
        #expect(list.status == 0)
        let lines = Set(list.output.split(separator: "\n").map { String($0.split(separator: " ").first ?? "") })
        let published = Health.methods + Reflection.methods + Gateway.methods + Identity.methods + Matching.methods + Scheduling.methods + Feedback.methods
        for method in published { #expect(lines.contains(method.fullName), "\(method.fullName) is callable") }
    }

    @Test("demo --csv: the seed fixes the data set: a global organisation with new hires")
    func demoDataSet() async throws {
        let first = try await ServiceProcess.run("tandem", ["demo", "--csv", "--seed", "11", "--size", "300"])
        #expect(first.status == 0)
        #expect(try await ServiceProcess.run("tandem", ["demo", "--csv", "--seed", "11", "--size", "300"]).output == first.output)
        #expect(try await ServiceProcess.run("tandem", ["demo", "--csv", "--seed", "12", "--size", "300"]).output != first.output)
        let rows = first.output.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let header = try #require(rows.first)
        #expect(rows.count == 301)
        let column = { (name: String) in header.firstIndex(of: name)! }
        let zones = Set(rows.dropFirst().map { $0[column("time_zone")] })
        let continents = Set(zones.map { $0.split(separator: "/")[0] })
        #expect(zones.count >= 8, "\(zones)")
        #expect(continents.count >= 4, "\(continents)")
        #expect(Set(rows.dropFirst().map { $0[column("division")] }).count >= 6)
        #expect(Set(rows.dropFirst().map { $0[column("seniority")] }).count >= 6)
        #expect(Set(rows.dropFirst().map { $0[column("email")] }).count == 300, "emails are unique")
        let recent = rows.dropFirst().filter { row in
            guard let date = ISO8601DateFormatter().date(from: row[column("hire_date")] + "T00:00:00Z") else { return false }
            return Date().timeIntervalSince(date) < 90 * 86400
        }
        #expect(recent.count >= 10, "new hires")
        #expect(rows.dropFirst().contains { $0[column("role")] == "mentor" } && rows.dropFirst().contains { $0[column("role")] == "mentee" })
    }
}
