import Foundation
@testable import GatewayService
import TandemProtocols
import TandemRPC
import TandemTestSupport
import TandemWire
import Testing

@Suite("Gateway")
struct GatewayTests {
    @Test("through the gateway: sign in, recommendations, a match, slots, a booking, the dashboards; a service down only empties its part")
    func journey() async throws {
        try await withGatewayCluster { cluster in
            let admin = try await cluster.signIn("admin@acme.example").accessToken
            let program = try await cluster.call(Identity.createProgram, ProgramInput(name: "Mentoring", format: .oneToOne, startsOn: "2027-01-04"), token: admin)
            let mentor = try await cluster.person("Nora Mentor", admin: admin, division: "Sales", seniority: 7, zone: "America/New_York")
            let mentee = try await cluster.person("Liam Mentee", admin: admin)
            for (person, role) in [(mentor.id, ParticipantRole.mentor), (mentee.id, .mentee)] {
                _ = try await cluster.call(Identity.upsertParticipation, ParticipationInput(
                    programID: program.id, personID: person, role: role, skillsOffered: role == .mentor ? [SkillLevel(name: "Swift", level: 5)] : [],
                    skillsWanted: role == .mentee ? [SkillLevel(name: "Swift", level: 4)] : [], capacity: role == .mentor ? 2 : nil
                ), token: admin)
            }
            _ = try await cluster.call(Matching.setSettings, MatchingSettingsInput(programID: program.id, criteria: [
                Criterion(kind: .skills, mode: .should, weight: 70), Criterion(kind: .workingHours, mode: .should, weight: 30),
            ]), token: admin)
            _ = try await cluster.call(Matching.syncParticipants, ProgramRef(programID: program.id), token: admin)

            let recommendations = try await cluster.call(Matching.recommend, RecommendRequest(programID: program.id), token: mentee.token)
            #expect(recommendations.recommendations.map(\.mentorID) == [mentor.id])
            let proposal = try await cluster.call(Matching.proposeMatch, ProposeMatchRequest(programID: program.id, mentorID: mentor.id), token: mentee.token)
            let match = try await cluster.call(Matching.respondToMatch, RespondToMatchRequest(matchID: proposal.id, accept: true), token: mentor.token)
            #expect(match.status == .active)

            _ = try await cluster.call(Scheduling.registerPair, Pair(matchID: match.id, programID: program.id, mentorID: mentor.id, menteeID: mentee.id), token: admin)
            _ = try await cluster.call(Scheduling.setAvailability, Availability(personID: mentor.id, timeZone: "America/New_York"), token: mentor.token)
            _ = try await cluster.call(Scheduling.setAvailability, Availability(personID: mentee.id, timeZone: "Europe/London"), token: mentee.token)
            let from = Date().addingTimeInterval(86_400)
            let slots = try await cluster.call(Scheduling.findSlots, FindSlotsRequest(
                matchID: match.id, durationMinutes: 30, from: from, to: from.addingTimeInterval(7 * 86_400)
            ), token: mentee.token)
            let slot = try #require(slots.slots.first)
            var keyed = CallOptions(timeout: .seconds(30))
            keyed.metadata[Metadata.Keys.authorization] = "Bearer " + mentee.token
            keyed.metadata[Metadata.Keys.idempotencyKey] = "gateway-journey-1"
            let request = BookMeetingRequest(matchID: match.id, start: slot.start, durationMinutes: 30, timeZone: "Europe/London", agenda: "First chat")
            let meeting = try await cluster.gateway.call(Scheduling.bookMeeting, request, options: keyed)
            #expect(try await cluster.gateway.call(Scheduling.bookMeeting, request, options: keyed) == meeting, "the idempotency key reaches scheduling")
            // A conflict keeps its code and its details through the gateway.
            let conflict = await expectRPCError(.failedPrecondition) {
                _ = try await cluster.call(Scheduling.bookMeeting, request, token: mentee.token)
            }
            #expect(conflict?.message.contains(meeting.id.uuidString.lowercased()) == true || conflict?.details.isEmpty == false)

            // The mentee's dashboard: profile, the match with the partner's name and zone, the meeting in London time.
            let dashboard = try await cluster.call(Gateway.dashboard, DashboardRequest(days: 14), token: mentee.token)
            #expect(dashboard.parts.map(\.code) == [0, 0, 0, 0, 0] && dashboard.parts.map(\.part) == ["profile", "matches", "meetings", "surveys", "goals"])
            #expect(dashboard.person?.name == "Liam Mentee")
            #expect(dashboard.matches.map(\.partnerName) == ["Nora Mentor"] && dashboard.matches.first?.partnerTimeZone == "America/New_York")
            #expect(dashboard.meetings.map(\.meeting.id) == [meeting.id] && dashboard.meetings[0].timeZone == "Europe/London")
            #expect(dashboard.meetings[0].localStart == GatewayServer.local(meeting.start, "Europe/London"))
            // The meeting takes place; the mentee gives feedback through the gateway.
            cluster.schedulingClock.advance(9 * 86_400)
            _ = try await cluster.call(Scheduling.setMeetingStatus, SetMeetingStatusRequest(meetingID: meeting.id, status: .held), token: mentor.token)
            let feedback = try await cluster.call(Feedback.submitSessionFeedback, SessionFeedbackInput(
                meetingID: meeting.id, rating: 5, useful: "Concrete advice on Swift concurrency", privateNote: "ask about the tech lead role", pairingFit: .goodFit
            ), token: mentee.token)
            #expect(feedback.rating == 5 && feedback.privateNote == "ask about the tech lead role")
            await expectRPCError(.permissionDenied) {
                _ = try await cluster.call(Feedback.programReport, ReportRequest(programID: program.id), token: mentee.token)
            }
            let adminView = try await cluster.call(Gateway.programDashboard, ProgramDashboardRequest(programID: program.id), token: admin)
            // The admin sees the report, k-anonymous: one respondent is below k, so the figures are withheld.
            #expect(adminView.report?.overall.suppressed == true && adminView.report?.overall.averageRating == nil)
            #expect(adminView.health.map(\.matchID) == [match.id])
            #expect(adminView.program?.name == "Mentoring" && adminView.matchCounts == [StatusCount(status: .active, count: 1)] && adminView.pendingProposals.isEmpty)
            #expect(adminView.parts.map(\.code) == [0, 0, 0, 0] && adminView.report?.programID == program.id)
            await expectRPCError(.permissionDenied) {
                _ = try await cluster.call(Gateway.programDashboard, ProgramDashboardRequest(programID: program.id), token: mentee.token)
            }

            // Scheduling unreachable: the dashboard still answers, with the meetings part marked UNAVAILABLE.
            let dead = Endpoint(host: "127.0.0.1", port: try freePort())
            try await cluster.withGateway(scheduling: [dead]) { client in
                let degraded = try await cluster.call(Gateway.dashboard, DashboardRequest(), token: mentee.token, client: client)
                #expect(degraded.parts.map(\.code) == [0, 0, Int(StatusCode.unavailable.rawValue), 0, 0])
                #expect(degraded.person != nil && degraded.matches.count == 1 && degraded.meetings.isEmpty)
                await expectRPCError(.unavailable) { _ = try await cluster.call(Scheduling.getMeeting, MeetingRef(meetingID: meeting.id), token: mentee.token, client: client) }
            }
        }
    }

    @Test("at the edge: no token, a mentee on an admin method, another organisation; every routed method is served")
    func edge() async throws {
        try await withGatewayCluster { cluster in
            let admin = try await cluster.signIn("admin@acme.example").accessToken
            let mentee = try await cluster.person("Edge Mentee", admin: admin)
            let unauthenticated = await expectRPCError(.unauthenticated) {
                _ = try await cluster.call(Matching.recommend, RecommendRequest(programID: UUID()), token: nil)
            }
            #expect(unauthenticated?.message.contains("identity.SignIn") == true)
            await expectRPCError(.unauthenticated) { _ = try await cluster.call(Identity.whoAmI, Empty(), token: "not-a-token") }
            let denied = await expectRPCError(.permissionDenied) {
                _ = try await cluster.call(Matching.runCohort, RunCohortRequest(programID: UUID(), objective: .maxTotal), token: mentee.token)
            }
            #expect(denied?.message.contains("needs an admin role") == true)
            // Globex's admin reaches nothing of Acme's.
            _ = try await cluster.call(Identity.createOrganisation, CreateOrganisationRequest(
                name: "Globex", slug: "globex",
                admin: PersonInput(email: "boss@globex.example", name: "Boss", division: "Ops", jobTitle: "Boss", seniority: 9, timeZone: "UTC"),
                adminPassword: GatewayCluster.password
            ), token: admin)
            let boss = try await cluster.signIn("boss@globex.example", organisation: "globex").accessToken
            await expectRPCError(.notFound) { _ = try await cluster.call(Identity.getPerson, PersonRef(personID: mentee.id), token: boss) }
            #expect(try await cluster.call(Matching.listMatches, ListMatchesRequest(personID: mentee.id), token: boss).matches.isEmpty)
            // Every routed method, and the gateway's own, is served; no internal one is.
            let services = try await cluster.call(Reflection.listServices, Empty(), token: nil).services
            let served = Set(services.flatMap { service in service.methods.map { "\(service.name).\($0.name)" } })
            let expected = Set((Gateway.routedMethods + Gateway.methods).map(\.fullName))
            #expect(expected.isSubset(of: served))
            #expect(served.subtracting(expected).allSatisfy { $0.hasPrefix("health.") || $0.hasPrefix("reflection.") }, "\(served.subtracting(expected))")
            #expect(!served.contains(Matching.listMatchChanges.fullName) && !served.contains(Identity.verificationKeys.fullName))
            #expect(!served.contains(Identity.listErasures.fullName))
            // Identity's erasure feed is not reachable through the gateway, even for an org-admin.
            await expectRPCError(.unimplemented) { _ = try await cluster.call(Identity.listErasures, ListErasuresRequest(after: 0), token: admin) }
        }
    }

    @Test("failed sign-ins through the gateway count against each client's address, not the gateway's; a client cannot set its own")
    func signInThrottlePerClient() async throws {
        try await withGatewayCluster { cluster in
            let guesser = try GatewayCluster.client(cluster.gatewayEndpoint, from: "127.0.0.2")
            defer { guesser.close() }
            let other = try GatewayCluster.client(cluster.gatewayEndpoint, from: "127.0.0.3")
            defer { other.close() }
            func signIn(_ client: RPCClient, _ email: String, _ password: String, claiming address: String? = nil) async throws {
                var options = CallOptions(timeout: .seconds(30))
                if let address { options.metadata[Metadata.Keys.clientAddress] = address }
                _ = try await client.call(Identity.signIn, SignInRequest(organisation: "acme", email: email, password: password), options: options)
            }
            // 20 free failures per client, each for another account (5 free per account); the 21st
            // starts the client's lock. The guesser claims another address each time, which the
            // gateway does not pass on.
            for index in 0..<21 {
                await expectRPCError(.unauthenticated) { try await signIn(guesser, "guess\(index)@acme.example", "wrong password!!", claiming: "10.0.0.\(index)") }
            }
            let throttled = await expectRPCError(.resourceExhausted) { try await signIn(guesser, "fresh@acme.example", "wrong password!!") }
            #expect(throttled?.message.contains("too many failed sign-ins") == true)
            // Before, every client of the gateway shared the gateway's address, so one guesser locked
            // everyone out.
            try await signIn(other, "admin@acme.example", GatewayCluster.password)
            await expectRPCError(.resourceExhausted) { try await signIn(guesser, "admin@acme.example", GatewayCluster.password) }
        }
    }

    @Test("what the gateway forwards: credentials, the idempotency key and the client's address (never the client's claim of one)")
    func forwardedMetadata() {
        var metadata = Metadata()
        metadata[Metadata.Keys.authorization] = "Bearer t"
        metadata[Metadata.Keys.idempotencyKey] = "k1"
        metadata[Metadata.Keys.clientAddress] = "10.9.8.7"
        metadata["x-other"] = "dropped"
        let forwarded = GatewayServer.forwarded(metadata, peer: PeerIdentity(address: "192.0.2.4:50123"))
        #expect(forwarded[Metadata.Keys.authorization] == "Bearer t")
        #expect(forwarded[Metadata.Keys.idempotencyKey] == "k1")
        #expect(forwarded[Metadata.Keys.clientAddress] == "192.0.2.4")
        #expect(forwarded["x-other"] == nil)
        #expect(PeerIdentity(address: "::1:443").host == "::1")
        #expect(PeerIdentity(address: "[2001:db8::5]:443").host == "2001:db8::5")
        #expect(PeerIdentity(address: "unix").host == "unix")
    }

    @Test("calls the token check refuses count against their address: bad tokens run out like calls without one")
    func refusedCallsAreLimited() async throws {
        try await withGatewayCluster(rate: 2, burst: 3) { cluster in
            let admin = try await cluster.signIn("admin@acme.example").accessToken  // 1 of the address's 3
            for _ in 0..<2 {
                await expectRPCError(.unauthenticated) { _ = try await cluster.call(Identity.whoAmI, Empty(), token: "not-a-token") }
            }
            // Before, a bad token was refused at the token check and never reached a bucket.
            let limited = await expectRPCError(.resourceExhausted) { _ = try await cluster.call(Identity.whoAmI, Empty(), token: "not-a-token") }
            #expect(limited?.metadata[Metadata.Keys.retryAfter] == "500")
            await expectRPCError(.resourceExhausted) { _ = try await cluster.call(Matching.recommend, RecommendRequest(programID: UUID()), token: nil) }
            // The signed-in caller's own bucket is untouched; the address's refills.
            _ = try await cluster.call(Identity.whoAmI, Empty(), token: admin)
            cluster.clock.advance(0.5)
            await expectRPCError(.unauthenticated) { _ = try await cluster.call(Identity.whoAmI, Empty(), token: "not-a-token") }
            await expectRPCError(.resourceExhausted) { _ = try await cluster.call(Identity.whoAmI, Empty(), token: "not-a-token") }
            // An UNAUTHENTICATED the service answers (a wrong password) is not a refusal at the
            // edge: it costs its address one call, not two.
            let other = try GatewayCluster.client(cluster.gatewayEndpoint, from: "127.0.0.2")
            defer { other.close() }
            for _ in 0..<3 {
                await expectRPCError(.unauthenticated) {
                    _ = try await other.call(Identity.signIn, SignInRequest(organisation: "acme", email: "admin@acme.example", password: "wrong password!!"))
                }
            }
            await expectRPCError(.resourceExhausted) {
                _ = try await other.call(Identity.signIn, SignInRequest(organisation: "acme", email: "admin@acme.example", password: GatewayCluster.password))
            }
        }
    }

    @Test("rate limits: a burst, then RESOURCE_EXHAUSTED with retry-after, then calls again once tokens refill")
    func rateLimits() async throws {
        try await withGatewayCluster(rate: 2, burst: 3) { cluster in
            let admin = try await cluster.signIn("admin@acme.example").accessToken  // 1 of the address's 3
            for _ in 0..<3 { _ = try await cluster.call(Identity.whoAmI, Empty(), token: admin) }
            let limited = await expectRPCError(.resourceExhausted) { _ = try await cluster.call(Identity.whoAmI, Empty(), token: admin) }
            #expect(limited?.metadata[Metadata.Keys.retryAfter] == "500")
            // Calls without a token count against their address.
            _ = try await cluster.signIn("admin@acme.example")
            _ = try await cluster.signIn("admin@acme.example")
            await expectRPCError(.resourceExhausted) { _ = try await cluster.signIn("admin@acme.example") }
            cluster.clock.advance(0.5)
            _ = try await cluster.call(Identity.whoAmI, Empty(), token: admin)
            await expectRPCError(.resourceExhausted) { _ = try await cluster.call(Identity.whoAmI, Empty(), token: admin) }
            cluster.clock.advance(10)
            for _ in 0..<3 { _ = try await cluster.call(Identity.whoAmI, Empty(), token: admin) }
        }
    }
}
