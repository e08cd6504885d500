import Foundation
import TandemProtocols
import TandemRPC
import TandemTestSupport
import TandemWire
import Testing

/// `tandem-matching` as platform teams run it: its own process next to a real identity process.
@Suite("tandem-matching executable")
struct MatchingProcessTests {
    @Test("bad configuration fails at start-up with one clear line")
    func configuration() async throws {
        let directory = matchingTemporaryDirectory()
        try TestPKI.shared.writeFiles(for: ["matching"], into: URL(fileURLWithPath: directory))
        let tls = ["--certificate", directory + "/matching.pem", "--key", directory + "/matching-key.pem", "--ca", directory + "/ca.pem", "--data-dir", directory + "/data"]
        for (arguments, environment, expected) in [
            (tls + ["--identity", "nowhere"], [:], "--identity 'nowhere' is not HOST:PORT"),
            (tls + ["--expiry-sweep-seconds", "0"], [:], "1–3600"),
            (tls, ["TANDEM_EXPIRY_SWEEP_SECONDS": "soon"], "'soon' must be a whole number"),
        ] as [([String], [String: String], String)] {
            let result = try await ServiceProcess.run("tandem-matching", arguments, environment: environment)
            #expect(result.status != 0 && result.output.contains(expected), "\(arguments): \(result.output)")
        }
    }

    @Test("serves next to identity over mutual TLS; kill -9 loses no acknowledged match; SIGTERM exits 0")
    func lifecycle() async throws {
        let directory = matchingTemporaryDirectory()
        let deployment = try ProcessDeployment(directory: directory, services: ["identity", "matching"])
        let tls = deployment.tls
        let bootstrap = try await deployment.bootstrapIdentity()
        #expect(bootstrap.status == 0, "\(bootstrap.output)")
        let identityPort = try freePort()
        let identity = try ServiceProcess("tandem-identity", tls("identity") + ["--port", "\(identityPort)", "--admin-port", "0", "--scrypt-log-n", "10"])
        defer { identity.send(SIGKILL) }
        let matchingPort = try freePort()
        let adminPort = try freePort()
        let arguments = tls("matching") + ["--port", "\(matchingPort)", "--admin-port", "\(adminPort)", "--identity", "127.0.0.1:\(identityPort)"]
        var matching = try ServiceProcess("tandem-matching", arguments)
        defer { matching.send(SIGKILL) }
        #expect(await waitForPort(identityPort))
        #expect(await waitForPort(matchingPort))

        let identityClient = try makeClient([Endpoint(host: "127.0.0.1", port: identityPort)], serverName: "identity")
        defer { identityClient.close() }
        let matchingClient = try makeClient([Endpoint(host: "127.0.0.1", port: matchingPort)], serverName: "matching")
        defer { matchingClient.close() }
        let admin = try await eventuallyCall {
            try await identityClient.call(Identity.signIn, SignInRequest(organisation: "acme", email: "admin@acme.example", password: "bootstrap password"))
        }
        var options = CallOptions()
        options.metadata[Metadata.Keys.authorization] = "Bearer " + admin.accessToken
        let authorized = options
        let program = try await identityClient.call(Identity.createProgram, ProgramInput(name: "Mentoring", format: .oneToOne, startsOn: "2027-01-04"), options: authorized)
        let mentor = try await identityClient.call(Identity.createPerson, CreatePersonRequest(
            person: PersonInput(email: "mentor@acme.example", name: "Mentor", division: "Sales", jobTitle: "Lead", seniority: 7, timeZone: "Europe/Paris")
        ), options: authorized)
        for (person, role) in [(mentor.id, ParticipantRole.mentor), (admin.subject, .mentee)] {
            _ = try await identityClient.call(Identity.upsertParticipation, ParticipationInput(
                programID: program.id, personID: person, role: role, skillsOffered: [SkillLevel(name: "go", level: 4)],
                skillsWanted: [SkillLevel(name: "go", level: 3)], capacity: role == .mentor ? 2 : nil
            ), options: authorized)
        }
        _ = try await eventuallyCall {
            try await matchingClient.call(Matching.setSettings, MatchingSettingsInput(programID: program.id, criteria: [Criterion(kind: .skills, mode: .should)]), options: authorized)
        }
        let report = try await matchingClient.call(Matching.syncParticipants, ProgramRef(programID: program.id), options: authorized)
        #expect(report.mentors == 1 && report.mentees == 1)
        let result = try await matchingClient.call(Matching.runCohort, RunCohortRequest(programID: program.id, objective: .maxTotal), options: authorized)
        #expect(result.matched == 1 && result.total == 100)
        let matchID = try #require(result.pairs.first?.matchID)

        // Crash right after the acknowledgement: the proposal survives.
        matching.send(SIGKILL)
        #expect(await matching.waitForExit(seconds: 10) != 0)
        matching = try ServiceProcess("tandem-matching", arguments)
        #expect(await waitForPort(matchingPort))
        let found = try await eventuallyCall { try await matchingClient.call(Matching.getMatch, MatchRef(matchID: matchID), options: authorized) }
        #expect(found.status == .proposed && found.score == 100)

        #expect(try httpGet(port: adminPort, path: "/healthz").status == 200)
        #expect(try await eventually { (try? httpGet(port: adminPort, path: "/readyz").status) == 200 })
        let metrics = try httpGet(port: adminPort, path: "/metrics")
        #expect(metrics.body.contains(#"tandem_rpc_calls_total{method="matching.GetMatch",code="OK"} 1"#), "\(metrics.body.prefix(2000))")
        #expect(metrics.body.contains(#"tandem_store_commit_duration_count{database="matching"}"#) || metrics.body.contains("tandem_store_"))

        matching.send(SIGTERM)
        #expect(await matching.waitForExit(seconds: 30) == 0, "\(matching.output.suffix(600))")
        identity.send(SIGTERM)
        #expect(await identity.waitForExit(seconds: 30) == 0)
    }
}
