import Foundation
import TandemAuth
import TandemProtocols
import TandemRPC
import TandemWire

extension GatewayServer {
    /// The signed-in person's dashboard: their profile, proposed and active matches with each
    /// partner's name and time zone, upcoming meetings in their local time, the surveys they are
    /// due to answer and the goals of their active matches — each part asked
    /// of its service concurrently, within one deadline. A part whose service fails or is late
    /// is left empty and its status says why; the call itself succeeds.
    func dashboard(_ request: DashboardRequest, context: ServerContext) async throws -> Dashboard {
        let caller = try context.caller()
        let days = request.days ?? 14
        guard (1...60).contains(days) else { throw RPCError.invalidArgument(field: "days", rule: "range", "must be 1–60") }
        let options = partOptions(context)
        let now = configuration.now()
        let upstreams = self.upstreams
        async let profile = Self.part("profile") {
            try await upstreams.identity.call(Identity.getPerson, PersonRef(personID: caller.subject), options: options)
        }
        async let matchList = Self.part("matches") {
            try await upstreams.matching.call(
                Matching.listMatches, ListMatchesRequest(personID: caller.subject, statuses: [.proposed, .active], pageSize: 100), options: options
            ).matches
        }
        async let meetingList = Self.part("meetings") {
            try await upstreams.scheduling.call(
                Scheduling.listMeetings, ListMeetingsRequest(personID: caller.subject, from: now, to: now.addingTimeInterval(Double(days) * 86_400), pageSize: 200),
                options: options
            ).meetings
        }
        async let surveyList = Self.part("surveys") {
            try await upstreams.feedback.call(Feedback.listDueSurveys, ListDueSurveysRequest(), options: options).invitations
        }
        let (matches, matchesStatus) = await matchList
        // Goals of each active match, concurrently; the part fails if any list does.
        let active = (matches ?? []).filter { $0.status == .active }.map(\.id)
        async let goalList = Self.part("goals") {
            try await withThrowingTaskGroup(of: [Goal].self) { group in
                for match in active {
                    group.addTask { try await upstreams.feedback.call(Feedback.listGoals, ListGoalsRequest(matchID: match), options: options).goals }
                }
                return try await group.reduce(into: [Goal]()) { $0 += $1 }
            }
        }
        // Partners' names and zones, concurrently; a partner identity cannot show stays nameless.
        let partnerIDs = Set((matches ?? []).map { $0.mentorID == caller.subject ? $0.menteeID : $0.mentorID })
        let partners = await withTaskGroup(of: Person?.self) { group in
            for id in partnerIDs {
                group.addTask { try? await upstreams.identity.call(Identity.getPerson, PersonRef(personID: id), options: options) }
            }
            return await group.reduce(into: [UUID: Person]()) { result, person in if let person { result[person.id] = person } }
        }
        let (person, profileStatus) = await profile
        let (meetings, meetingsStatus) = await meetingList
        let (surveys, surveysStatus) = await surveyList
        var (goals, goalsStatus) = await goalList
        if matches == nil {
            goals = nil
            goalsStatus = PartStatus(part: "goals", code: matchesStatus.code, message: "the matches could not be read")
        }
        let zone = person?.timeZone ?? "UTC"
        return Dashboard(
            person: person,
            matches: (matches ?? []).map { match in
                let partner = match.mentorID == caller.subject ? match.menteeID : match.mentorID
                return DashboardMatch(match: match, partnerID: partner, partnerName: partners[partner]?.name, partnerTimeZone: partners[partner]?.timeZone)
            },
            meetings: (meetings ?? []).filter { $0.status == .scheduled }.sorted { $0.start < $1.start }.map { meeting in
                DashboardMeeting(meeting: meeting, localStart: Self.local(meeting.start, zone), localEnd: Self.local(meeting.end, zone), timeZone: zone)
            },
            parts: [profileStatus, matchesStatus, meetingsStatus, surveysStatus, goalsStatus],
            surveys: surveys ?? [], goals: goals ?? []
        )
    }

    /// A program admin's view: the program, its matches by status, the proposals waiting, the
    /// program report and each pair's health.
    func programDashboard(_ request: ProgramDashboardRequest, context: ServerContext) async throws -> ProgramDashboard {
        let caller = try context.caller()
        guard caller.isOrganisationAdmin || caller.isService || caller.programs.contains(request.programID) else {
            throw RPCError(code: .permissionDenied, message: "a program's dashboard is for its admins and org-admin")
        }
        let options = partOptions(context)
        let upstreams = self.upstreams
        async let program = Self.part("program") {
            try await upstreams.identity.call(Identity.getProgram, ProgramRef(programID: request.programID), options: options)
        }
        async let matchList = Self.part("matches") {
            var all: [Match] = []
            var token: String?
            repeat {
                let page = try await upstreams.matching.call(
                    Matching.listMatches, ListMatchesRequest(programID: request.programID, pageSize: 500, pageToken: token), options: options
                )
                all += page.matches
                token = page.nextPageToken
            } while token != nil && all.count < 100_000
            return all
        }
        let (found, programStatus) = await program
        async let report = Self.part("report") {
            try await upstreams.feedback.call(Feedback.programReport, ReportRequest(programID: request.programID), options: options)
        }
        async let health = Self.part("health") {
            try await upstreams.feedback.call(Feedback.matchHealth, MatchHealthRequest(programID: request.programID), options: options).pairs
        }
        let (matches, matchesStatus) = await matchList
        let (programReport, reportStatus) = await report
        let (pairs, healthStatus) = await health
        let urgency: [HealthStatus: Int] = [.atRisk: 0, .needsCheckIn: 1, .onTrack: 2]
        let counts = Dictionary(grouping: matches ?? [], by: \.status).map { StatusCount(status: $0.key, count: $0.value.count) }
            .sorted { MatchStatus.allCases.firstIndex(of: $0.status)! < MatchStatus.allCases.firstIndex(of: $1.status)! }
        let pending = (matches ?? []).filter { $0.status == .proposed }.sorted { $0.proposedAt < $1.proposedAt }.prefix(100)
        return ProgramDashboard(
            program: found, matchCounts: counts, pendingProposals: Array(pending), parts: [programStatus, matchesStatus, reportStatus, healthStatus],
            report: programReport, health: (pairs ?? []).sorted { urgency[$0.status, default: 3] < urgency[$1.status, default: 3] }
        )
    }

    /// The forwarded credentials, with the aggregate's own time limit (a shorter client deadline
    /// still wins: calls inherit it).
    func partOptions(_ context: ServerContext) -> CallOptions {
        var options = Self.forwarded(context)
        let (seconds, attoseconds) = configuration.aggregateTimeout.components
        options.timeout = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        return options
    }

    /// Runs one part; its value, or nil and the status saying why not.
    static func part<T: Sendable>(_ name: String, _ body: @Sendable () async throws -> T) async -> (T?, PartStatus) {
        do {
            return (try await body(), PartStatus(part: name, code: Int(StatusCode.ok.rawValue)))
        } catch let error as RPCError {
            return (nil, PartStatus(part: name, code: Int(error.code.rawValue), message: error.message))
        } catch {
            return (nil, PartStatus(part: name, code: Int(StatusCode.unknown.rawValue), message: "\(error)"))
        }
    }

    /// `YYYY-MM-DDTHH:MM` on the wall clock of `zone`.
    static func local(_ date: Date, _ zone: String) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: zone) ?? TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        func two(_ value: Int?) -> String { value.map { $0 < 10 ? "0\($0)" : "\($0)" } ?? "00" }
        return "\(parts.year ?? 0)-\(two(parts.month))-\(two(parts.day))T\(two(parts.hour)):\(two(parts.minute))"
    }
}
