import Foundation
import TandemProtocols
import TandemRPC
import TandemTestSupport
import TandemWire
import Testing

/// The platform as deployed: identity, matching, two scheduling instances and the gateway, each its
/// own process, mutual TLS between them, clients presenting no certificate to the gateway.
@Suite("Gateway in front of the services, as processes")
struct GatewayProcessTests {
    /// The repository's root, from this file's path (for the Python client).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test("a Python client written from Protocols/ books through the gateway; a killed instance is taken over; a killed service only empties its dashboard part")
    func platform() async throws {
        let directory = Scratch.directory("platform")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let deployment = try ProcessDeployment(directory: directory, services: ["identity", "matching", "scheduling", "feedback", "gateway"])
        func tls(_ name: String) -> [String] {
            deployment.tls(name) + ["--admin-port", "0", "--log-level", "debug", "--log-format", "json"]
        }
        let bootstrap = try await deployment.bootstrapIdentity()
        #expect(bootstrap.status == 0, "\(bootstrap.output)")
        let ports = (identity: try freePort(), matching: try freePort(), schedulingA: try freePort(), schedulingB: try freePort(), feedback: try freePort(), gateway: try freePort())
        let identity = try ServiceProcess("tandem-identity", tls("identity") + ["--port", "\(ports.identity)", "--scrypt-log-n", "10"])
        defer { identity.send(SIGKILL) }
        let upstream = ["--identity", "127.0.0.1:\(ports.identity)"]
        var matching = try ServiceProcess("tandem-matching", tls("matching") + ["--port", "\(ports.matching)"] + upstream)
        defer { matching.send(SIGKILL) }
        // Two scheduling instances over the same database (SQLite's locking serialises their writes).
        let schedulingArguments = { (port: Int) in tls("scheduling") + ["--port", "\(port)", "--matching", "127.0.0.1:\(ports.matching)"] + upstream }
        var schedulingA = try ServiceProcess("tandem-scheduling", schedulingArguments(ports.schedulingA))
        defer { schedulingA.send(SIGKILL) }
        let schedulingB = try ServiceProcess("tandem-scheduling", schedulingArguments(ports.schedulingB))
        defer { schedulingB.send(SIGKILL) }
        let feedback = try ServiceProcess("tandem-feedback", tls("feedback") + ["--port", "\(ports.feedback)", "--sync-seconds", "1"] + upstream + [
            "--matching", "127.0.0.1:\(ports.matching)", "--scheduling", "127.0.0.1:\(ports.schedulingA)", "--scheduling", "127.0.0.1:\(ports.schedulingB)",
        ])
        defer { feedback.send(SIGKILL) }
        #expect(await waitForPort(ports.identity))
        #expect(await waitForPort(ports.matching))
        #expect(await waitForPort(ports.schedulingA))
        #expect(await waitForPort(ports.schedulingB))
        #expect(await waitForPort(ports.feedback))
        let gateway = try ServiceProcess("tandem-gateway", tls("gateway") + [
            "--port", "\(ports.gateway)", "--identity", "127.0.0.1:\(ports.identity)", "--matching", "127.0.0.1:\(ports.matching)",
            "--scheduling", "127.0.0.1:\(ports.schedulingA),127.0.0.1:\(ports.schedulingB)", "--feedback", "127.0.0.1:\(ports.feedback)",
        ])
        defer { gateway.send(SIGKILL) }
        #expect(await waitForPort(ports.gateway))

        let client = try GatewayCluster.client(Endpoint(host: "127.0.0.1", port: ports.gateway))
        defer { client.close() }
        @Sendable func call<Input, Output>(_ method: MethodDescriptor<Input, Output>, _ request: Input, token: String?) async throws -> Output {
            var options = CallOptions(timeout: .seconds(30))
            if let token { options.metadata[Metadata.Keys.authorization] = "Bearer " + token }
            return try await client.call(method, request, options: options)
        }
        let admin = try await eventuallyCall {
            try await client.call(Identity.signIn, SignInRequest(organisation: "acme", email: "admin@acme.example", password: "bootstrap password"))
        }.accessToken
        let password = "a long enough password"
        let program = try await call(Identity.createProgram, ProgramInput(name: "Mentoring", format: .oneToOne, startsOn: "2027-01-04"), token: admin)
        var people: [(id: UUID, token: String)] = []
        for (name, zone, role) in [("mentor", "America/New_York", ParticipantRole.mentor), ("mentee", "Europe/London", .mentee), ("other", "Asia/Tokyo", .mentor)] {
            let person = try await call(Identity.createPerson, CreatePersonRequest(
                person: PersonInput(email: "\(name)@acme.example", name: name.capitalized, division: role == .mentor ? "Sales" : "Engineering", jobTitle: "Staff", seniority: 5, timeZone: zone),
                password: password
            ), token: admin)
            _ = try await call(Identity.upsertParticipation, ParticipationInput(
                programID: program.id, personID: person.id, role: role, skillsOffered: role == .mentor ? [SkillLevel(name: "Go", level: 5)] : [],
                skillsWanted: role == .mentee ? [SkillLevel(name: "Go", level: 3)] : [], capacity: role == .mentor ? 3 : nil
            ), token: admin)
            let token = try await call(Identity.signIn, SignInRequest(organisation: "acme", email: "\(name)@acme.example", password: password), token: nil).accessToken
            _ = try await eventuallyCall { try await call(Scheduling.setAvailability, Availability(personID: person.id, timeZone: zone), token: token) }
            people.append((person.id, token))
        }
        let (mentor, mentee, other) = (people[0], people[1], people[2])
        _ = try await eventuallyCall {
            try await call(Matching.setSettings, MatchingSettingsInput(programID: program.id, criteria: [Criterion(kind: .skills, mode: .should)]), token: admin)
        }
        _ = try await call(Matching.syncParticipants, ProgramRef(programID: program.id), token: admin)
        let proposal = try await call(Matching.proposeMatch, ProposeMatchRequest(programID: program.id, mentorID: mentor.id), token: mentee.token)
        let match = try await call(Matching.respondToMatch, RespondToMatchRequest(matchID: proposal.id, accept: true), token: mentor.token)
        // Scheduling learns of the match from matching's feed: no RegisterPair.
        #expect(try await eventually(timeout: .seconds(20)) { (try? await call(Scheduling.getPair, PairRef(matchID: match.id), token: mentee.token))?.active == true })

        // The Python client, from the spec alone.
        let python = try await runProgram("/usr/bin/env", [
            "python3", Self.root.appending(path: "Tests/python/gateway_client.py").path, "127.0.0.1", "\(ports.gateway)", "\(directory)/ca.pem",
            "acme", "mentee@acme.example", password, program.id.uuidString.lowercased(), match.id.uuidString.lowercased(),
        ])
        let output = python.output
        #expect(python.status == 0, "the Python client failed: \(String(decoding: output, as: UTF8.self)) \(String(decoding: python.errors, as: UTF8.self))")
        let report = try JSONSerialization.jsonObject(with: output) as? [String: Any] ?? [:]
        #expect(report["refusedWithoutToken"] as? Int == 16)
        // The mentor she has is not recommended again; the other one is.
        #expect((report["mentors"] as? [[String: Any]])?.map { $0["mentorID"] as? String } == [other.id.uuidString.lowercased()])
        #expect(report["sameMeetingOnRetry"] as? Bool == true && report["conflictWithoutKey"] as? Int == 9)
        let meetingID = try #require((report["meetingID"] as? String).flatMap(UUID.init(uuidString:)))
        #expect(try await call(Scheduling.getMeeting, MeetingRef(meetingID: meetingID), token: mentee.token).agenda == "Booked from Python")

        // A trace started by the client continues through the gateway into scheduling's span.
        let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
        var traced = CallOptions(timeout: .seconds(30))
        traced.metadata[Metadata.Keys.authorization] = "Bearer " + mentee.token
        traced.metadata[Metadata.Keys.traceparent] = "00-\(traceID)-00f067aa0ba902b7-01"
        _ = try await client.call(Scheduling.getMeeting, MeetingRef(meetingID: meetingID), options: traced)
        #expect(try await eventually {
            [schedulingA, schedulingB].contains { $0.output.split(separator: "\n").contains { $0.contains(traceID) && $0.contains("scheduling.GetMeeting") && $0.contains("span finished") } }
        })
        #expect(gateway.output.contains(traceID), "the gateway's own span is in its log")

        // One scheduling instance dies: the other serves, through the same gateway.
        schedulingA.send(SIGKILL)
        #expect(await schedulingA.waitForExit(seconds: 10) != 0)
        for _ in 0..<6 {
            #expect(try await call(Scheduling.getMeeting, MeetingRef(meetingID: meetingID), token: mentee.token).id == meetingID)
        }
        // Both die: UNAVAILABLE, faithfully; one comes back and serves again.
        schedulingB.send(SIGKILL)
        #expect(await schedulingB.waitForExit(seconds: 10) != 0)
        await expectRPCError(.unavailable) { _ = try await call(Scheduling.getMeeting, MeetingRef(meetingID: meetingID), token: mentee.token) }
        schedulingA = try ServiceProcess("tandem-scheduling", schedulingArguments(ports.schedulingA))
        #expect(await waitForPort(ports.schedulingA))
        _ = try await eventuallyCall { try await call(Scheduling.getMeeting, MeetingRef(meetingID: meetingID), token: mentee.token) }

        // Matching dies: the dashboard still answers, its matches part says UNAVAILABLE.
        matching.send(SIGKILL)
        #expect(await matching.waitForExit(seconds: 10) != 0)
        let dashboard = try await call(Gateway.dashboard, DashboardRequest(), token: mentee.token)
        // (Goals are read per active match: without matches, that part is UNAVAILABLE too.)
        #expect(dashboard.parts.map(\.code) == [0, Int(StatusCode.unavailable.rawValue), 0, 0, Int(StatusCode.unavailable.rawValue)], "\(dashboard.parts)")
        #expect(dashboard.person?.name == "Mentee" && dashboard.meetings.map(\.meeting.id) == [meetingID] && dashboard.matches.isEmpty)
        matching = try ServiceProcess("tandem-matching", tls("matching") + ["--port", "\(ports.matching)"] + upstream)
        #expect(await waitForPort(ports.matching))
        let recovered = try await eventuallyCall {
            let dashboard = try await call(Gateway.dashboard, DashboardRequest(), token: mentee.token)
            guard dashboard.parts.allSatisfy({ $0.code == 0 }) else { throw RPCError(code: .unavailable, message: "not yet") }
            return dashboard
        }
        #expect(recovered.matches.map(\.partnerName) == ["Mentor"])

        gateway.send(SIGTERM)
        #expect(await gateway.waitForExit(seconds: 30) == 0, "\(gateway.output.suffix(600))")

        // No secret in any log line of the whole run (debug level, every call logged).
        feedback.send(SIGTERM)
        #expect(await feedback.waitForExit(seconds: 30) == 0, "\(feedback.output.suffix(600))")
        let logs = [identity, matching, schedulingA, schedulingB, feedback, gateway].map(\.output).joined(separator: "\n")
        #expect(logs.contains("call finished"), "the logs were written")
        for secret in [password, "bootstrap password", admin, mentee.token, mentor.token] {
            #expect(!logs.contains(secret), "a secret appears in the logs")
        }
    }
}
