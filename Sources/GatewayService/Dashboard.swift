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
        let deadline = aggregateDeadline(context)
        let caps = configuration.caps
        let now = configuration.now()
        let upstreams = self.upstreams
        async let profile = Self.part("profile") {
            try await upstreams.identity.call(Identity.getPerson, PersonRef(personID: caller.subject), options: try deadline.options())
        }
        async let matchList = Self.listing("matches", cap: caps.personalMatches) { token in
            let page = try await upstreams.matching.call(
                Matching.listMatches, ListMatchesRequest(personID: caller.subject, statuses: [.proposed, .active], pageSize: 100, pageToken: token),
                options: try deadline.options()
            )
            return (page.matches, page.nextPageToken)
        }
        // Cancelled meetings are left out by scheduling (includeCancelled defaults to false).
        async let meetingList = Self.listing("meetings", cap: caps.meetings) { token in
            let page = try await upstreams.scheduling.call(
                Scheduling.listMeetings,
                ListMeetingsRequest(personID: caller.subject, from: now, to: now.addingTimeInterval(Double(days) * 86_400), pageSize: 200, pageToken: token),
                options: try deadline.options()
            )
            return (page.meetings, page.nextPageToken)
        }
        async let surveyList = Self.part("surveys") {
            try await upstreams.feedback.call(Feedback.listDueSurveys, ListDueSurveysRequest(), options: try deadline.options()).invitations
        }
        let (matches, matchesStatus) = await matchList
        // Goals of each active match, concurrently; the part fails if any list does.
        let active = (matches ?? []).filter { $0.status == .active }.map(\.id)
        async let goalList = Self.part("goals") {
            try await Self.each(active) { match in
                try await upstreams.feedback.call(Feedback.listGoals, ListGoalsRequest(matchID: match), options: try deadline.options()).goals
            }.flatMap { $0 }
        }
        // Partners' names and zones, concurrently; a partner identity cannot show stays nameless.
        let partnerIDs = Array(Set((matches ?? []).map { $0.mentorID == caller.subject ? $0.menteeID : $0.mentorID }))
        let found = (try? await Self.each(partnerIDs) { id -> Person? in
            try? await upstreams.identity.call(Identity.getPerson, PersonRef(personID: id), options: try deadline.options())
        }) ?? []
        let partners = found.reduce(into: [UUID: Person]()) { result, person in if let person { result[person.id] = person } }
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
    /// program report and each pair's health — each part asked concurrently, within one deadline.
    func programDashboard(_ request: ProgramDashboardRequest, context: ServerContext) async throws -> ProgramDashboard {
        let caller = try context.caller()
        guard caller.isOrganisationAdmin || caller.isService || caller.programs.contains(request.programID) else {
            throw RPCError(code: .permissionDenied, message: "a program's dashboard is for its admins and org-admin")
        }
        let deadline = aggregateDeadline(context)
        let caps = configuration.caps
        let upstreams = self.upstreams
        async let program = Self.part("program") {
            try await upstreams.identity.call(Identity.getProgram, ProgramRef(programID: request.programID), options: try deadline.options())
        }
        async let matchList = Self.listing("matches", cap: caps.programMatches) { token in
            let page = try await upstreams.matching.call(
                Matching.listMatches, ListMatchesRequest(programID: request.programID, pageSize: 500, pageToken: token), options: try deadline.options()
            )
            return (page.matches, page.nextPageToken)
        }
        async let report = Self.part("report") {
            try await upstreams.feedback.call(Feedback.programReport, ReportRequest(programID: request.programID), options: try deadline.options())
        }
        async let health = Self.part("health") {
            try await upstreams.feedback.call(Feedback.matchHealth, MatchHealthRequest(programID: request.programID), options: try deadline.options()).pairs
        }
        let (found, programStatus) = await program
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

    /// The one deadline of an aggregate call: `aggregateTimeout` from now, or the client's own
    /// deadline less a moment to answer in (`answerMargin`, or a tenth of the client's time left
    /// when less), whichever comes first. Every call of every part ends by it, however many calls
    /// a part makes one after another, so a late part is marked and the call itself still answers.
    func aggregateDeadline(_ context: ServerContext) -> AggregateDeadline {
        let now = ContinuousClock.now
        var at = now + configuration.aggregateTimeout
        if let client = context.deadline {
            // The client's deadline is on NIO's uptime clock: the time left, read on that clock.
            let left = Duration.nanoseconds(Int64(client.uptimeNanoseconds) - Int64(type(of: client).now().uptimeNanoseconds))
            at = min(at, now + left - min(configuration.answerMargin, left / 10))
        }
        return AggregateDeadline(at: at, forwarded: Self.forwarded(context))
    }

    /// Reads a listing page by page (`page` takes a page token, gives the items and the next
    /// token) as one part: every page, or the first `cap` items with the part's message saying the
    /// rest were left out. When the deadline passes between pages the part fails with
    /// DEADLINE_EXCEEDED, its message saying how far it got.
    static func listing<Item: Sendable>(
        _ name: String, cap: Int, _ page: @escaping @Sendable (String?) async throws -> (items: [Item], next: String?)
    ) async -> ([Item]?, PartStatus) {
        let (read, status) = await part(name) { () async throws -> ListingRead<Item> in
            var items: [Item] = []
            var token: String?
            repeat {
                do {
                    let next = try await page(token)
                    items += next.items
                    token = next.next
                } catch let error as RPCError where error.code == .deadlineExceeded && !items.isEmpty {
                    throw RPCError(code: .deadlineExceeded, message: "the deadline passed after \(items.count) \(name) had been read: \(error.message)")
                }
            } while token != nil && items.count < cap
            return items.count > cap || token != nil ? ListingRead(items: Array(items.prefix(cap)), capped: true) : ListingRead(items: items, capped: false)
        }
        guard let read else { return (nil, status) }
        guard read.capped else { return (read.items, status) }
        return (read.items, PartStatus(part: name, code: status.code, message: "the first \(cap) \(name) only: the dashboard reads no more"))
    }

    /// `body` for each of `items`, at most `width` at a time (a few hundred calls at once would
    /// be refused by the service's limit on calls per connection); the results in no set order.
    static func each<Item: Sendable, Result: Sendable>(
        _ items: [Item], width: Int = 16, _ body: @escaping @Sendable (Item) async throws -> Result
    ) async throws -> [Result] {
        try await withThrowingTaskGroup(of: Result.self) { group in
            var pending = items.makeIterator()
            for _ in 0..<width {
                guard let item = pending.next() else { break }
                group.addTask { try await body(item) }
            }
            var results: [Result] = []
            while let result = try await group.next() {
                results.append(result)
                if let item = pending.next() { group.addTask { try await body(item) } }
            }
            return results
        }
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

/// What `GatewayServer.listing` read: the items, and whether the cap cut the listing short.
struct ListingRead<Item: Sendable>: Sendable {
    var items: [Item]
    var capped: Bool
}

/// The deadline all the parts of one aggregate call share, on the monotonic clock.
struct AggregateDeadline: Sendable {
    let at: ContinuousClock.Instant
    /// The client's credentials and the rest `GatewayServer.forwarded` passes on.
    let forwarded: CallOptions

    /// Options for a call made now: the forwarded metadata and the time left (not a fresh
    /// timeout per call); DEADLINE_EXCEEDED when there is none.
    func options() throws -> CallOptions {
        let left = at - .now
        guard left > .zero else { throw RPCError(code: .deadlineExceeded, message: "the dashboard's deadline had passed") }
        var options = forwarded
        let (seconds, attoseconds) = left.components
        options.timeout = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        return options
    }
}

/// The most items an aggregate reads of one listing; past it the part says it stopped.
struct ListingCaps: Sendable {
    /// The signed-in person's proposed and active matches (each with a look-up of the partner).
    var personalMatches = 500
    /// The person's meetings in the window (up to 60 days).
    var meetings = 1_000
    /// A program's matches, counted by status.
    var programMatches = 100_000
}
