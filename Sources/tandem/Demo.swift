import ArgumentParser
import Foundation
import TandemProtocols
import TandemRPC
import TandemServiceKit
import TandemWire
import TandemRandom

/// `tandem demo`: a whole mentoring program, from HR import to its return, through the gateway.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a mentoring program end to end on the dev cluster and print its report.",
        discussion: """
            Starts the dev cluster unless one is running, creates a demo organisation from a \
            generated global data set (imported through identity's CSV import), matches the whole \
            cohort, has every pair accept and book its first meeting and a series by fair slot finding, \
            then moves the cluster's dev clock a week at a time: the participants mark their meetings \
            held or missed, rate them and answer the surveys that fall due, the admin completes the \
            matches, both sides answer the closing survey, and the report's figures come from the \
            feedback service.
            """
    )

    @Option(help: "Seed of the data set and of what the participants do: the same seed gives the same organisation, matches and figures on a fresh --state-dir.")
    var seed: UInt64 = 2026

    @Option(help: "small (60 people), medium (300), large (1000), or a number of people (20–5000).")
    var size = "medium"

    @Option(help: "Cohort objective: max-total, max-matched, fairest or stable.")
    var objective = "max-total"

    @Option(help: "Weeks of follow-up meetings after each pair's first meeting; the dev clock runs until the last has taken place.")
    var weeks = 8

    @Flag(name: .customLong("keep-running"), help: "Keep a cluster the demo started running until Ctrl-C.")
    var keepRunning = false

    @Flag(help: "Print the generated data set as the CSV the demo imports, and exit.")
    var csv = false

    @OptionGroup var cluster: Dev.ClusterOptions

    func run() async throws {
        let people: Int
        switch size {
        case "small": people = 60
        case "medium": people = 300
        case "large": people = 1000
        default:
            guard let number = Int(size), (20...5000).contains(number) else { throw ValidationError("--size must be small, medium, large or 20–5000") }
            people = number
        }
        guard let objective = CohortObjective(rawValue: objective) else {
            throw ValidationError("--objective must be one of \(CohortObjective.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard (1...52).contains(weeks) else { throw ValidationError("--weeks must be 1–52") }
        if csv {
            print(DemoData.csv(DemoData.people(size: people, seed: seed, today: Date())), terminator: "")
            return
        }
        let devCluster = try cluster.cluster()
        let progress = ProgressDisplay(steps: 10)
        let events = ClusterEvents()
        var started = false
        progress.begin("Dev cluster")
        if await devCluster.check(devCluster.gateway, timeout: 2) == ServingStatus.serving.rawValue {
            // The weeks run on the dev clock: a cluster that does not follow it cannot run them.
            guard let record = DevClockText.runningCluster(devCluster.state), record.clockFile != nil else {
                throw CLIError(
                    "the cluster serving at \(devCluster.gateway.endpoint) does not follow the dev clock \(devCluster.state.clock) (started by an older `tandem dev up`, by hand or from another state directory): stop it, or give the demo a fresh --state-dir and another --base-port"
                )
            }
            progress.done("using the cluster serving at \(devCluster.gateway.endpoint) (dev clock \(DevClock.describe(offset: (try? DevClock.readOffset(at: devCluster.state.clock)) ?? 0)))")
        } else {
            events.catchSignals()
            try await DevRunner.start(devCluster, events: events, timeout: 90) { _ in }
            started = true
            progress.done("started \(devCluster.services.count) services (logs in \(devCluster.state.logs))")
        }
        do {
            let run = try DemoRun(
                cluster: devCluster, seed: seed, size: people, objective: objective, weeks: weeks, progress: progress, events: events
            )
            let report = try await run.run()
            print(report)
            if !started || keepRunning, let admin = DevAdmin.load(from: devCluster.state.path + "/demo-admin.json") {
                print("\nExplore it: TANDEM_PASSWORD='\(admin.password)' tandem sign-in --organisation \(admin.organisation) --email \(admin.email)")
                print("then e.g.  tandem call gateway.ProgramDashboard --json '{\"programID\": \"…\"}'   (tandem call identity.ListPrograms)")
            }
        } catch {
            if started { devCluster.stop() }
            throw error
        }
        if started {
            if keepRunning {
                DevRunner.printEndpoints(devCluster)
                print("press Ctrl-C to stop")
                while events.event == nil { try? await Task.sleep(for: .milliseconds(100)) }
            }
            devCluster.stop()
        }
    }
}

/// One run of the demo against a serving cluster.
final class DemoRun: Sendable {
    let cluster: DevCluster
    let seed: UInt64
    let size: Int
    let objective: CohortObjective
    let weeks: Int
    let progress: ProgressDisplay
    let events: ClusterEvents
    let client: RPCClient
    let endpoint: String

    init(cluster: DevCluster, seed: UInt64, size: Int, objective: CohortObjective, weeks: Int, progress: ProgressDisplay, events: ClusterEvents) throws {
        self.cluster = cluster
        self.seed = seed
        self.size = size
        self.objective = objective
        self.weeks = weeks
        self.progress = progress
        self.events = events
        endpoint = cluster.gateway.endpoint
        var configuration = ClientConfiguration()
        configuration.healthCheckInterval = nil
        configuration.connectionsPerEndpoint = 2
        client = try RPCClient(
            endpoints: [try Endpoint(parsing: endpoint)],
            tls: ClientTLSConfiguration(trustRoots: try loadTrustRoots(cluster.state.certificates + "/ca.pem"), serverName: "gateway"),
            configuration: configuration, logger: quietLogger
        )
    }

    deinit { client.close() }

    /// Calls through the gateway; waits out rate limits (RESOURCE_EXHAUSTED with retry-after) and
    /// brief unavailability (unless `retryUnavailable` is false: a call that must not run twice,
    /// such as using a single-use refresh token); any other failure is one line naming the method
    /// and endpoint.
    func call<I, O>(_ method: MethodDescriptor<I, O>, _ request: I, token: String?, idempotencyKey: String? = nil, retryUnavailable: Bool = true) async throws -> O {
        var metadata = Metadata()
        if let token { metadata.append(Metadata.Keys.authorization, "Bearer " + token) }
        if let idempotencyKey { metadata.append(Metadata.Keys.idempotencyKey, idempotencyKey) }
        var attempt = 0
        while true {
            attempt += 1
            if case .signal = events.event { throw CLIError("interrupted") }
            do {
                return try await client.call(method, request, options: CallOptions(timeout: .seconds(60), metadata: metadata))
            } catch let error as RPCError where error.code == .resourceExhausted && attempt < 50 {
                let wait = Int(error.metadata[Metadata.Keys.retryAfter] ?? "") ?? 100
                try await Task.sleep(for: .milliseconds(max(10, min(wait, 5000))))
            } catch let error as RPCError where error.code == .unavailable && attempt < 5 && retryUnavailable {
                try await Task.sleep(for: .milliseconds(200 * attempt))
            } catch {
                throw describeFailure(error, method: method.fullName, endpoint: endpoint)
            }
        }
    }

    func run() async throws -> String {
        // The cluster's time: real time shifted by the dev clock (a cluster run before is weeks ahead).
        let clock: DevClock
        do {
            clock = try DevClock(path: cluster.state.clock)
        } catch {
            throw CLIError(error.description)
        }
        let today = clock.now()
        let people = DemoData.people(size: size, seed: seed, today: today)
        guard let platformAdmin = DevAdmin.load(from: cluster.state.admin) else {
            throw CLIError("no dev admin in \(cluster.state.admin): the cluster at \(endpoint) was not started from this state directory")
        }

        // 2. The organisation, its admin and the program.
        progress.begin("Demo organisation")
        let platform = try await call(
            Identity.signIn, SignInRequest(organisation: platformAdmin.organisation, email: platformAdmin.email, password: platformAdmin.password), token: nil
        )
        let adminPassword = "demo-admin-\(seed)-\(DevCluster.randomPassword())"
        let adminInput = PersonInput(
            email: "programs@northwind.example", name: "Priya Raman", division: "People", jobTitle: "Head of Mentoring Programs", seniority: 7,
            timeZone: "Europe/London", languages: ["en"], location: "London"
        )
        var organisation: Organisation?
        var suffix = 0
        while organisation == nil {
            let slug = suffix == 0 ? "northwind-\(seed)" : "northwind-\(seed)-\(suffix)"
            do {
                organisation = try await client.call(
                    Identity.createOrganisation,
                    CreateOrganisationRequest(name: "Northwind Global", slug: slug, admin: adminInput, adminPassword: adminPassword),
                    options: CallOptions(timeout: .seconds(30), metadata: ["authorization": .text("Bearer " + platform.accessToken)])
                )
            } catch let error as RPCError where error.code == .alreadyExists && suffix < 1000 {
                suffix += 1
            } catch {
                throw describeFailure(error, method: Identity.createOrganisation.fullName, endpoint: endpoint)
            }
        }
        let slug = organisation!.slug
        // Kept so that people can sign in to the demo organisation afterwards.
        let demoAdmin = DevAdmin(organisation: slug, email: adminInput.email, name: adminInput.name, password: adminPassword)
        try writePrivateFile(cluster.state.path + "/demo-admin.json", try JSONEncoder().encode(demoAdmin))
        let admin = try await call(Identity.signIn, SignInRequest(organisation: slug, email: adminInput.email, password: adminPassword), token: nil)
        let sessions = DemoSessions()
        sessions.store(admin)
        let token = admin.accessToken
        let program = try await call(
            Identity.createProgram,
            ProgramInput(name: "Global Mentoring \(DemoData.dateString(today).prefix(4))", format: .oneToOne, startsOn: DemoData.dateString(today), onboarding: false, adminIDs: [admin.subject]),
            token: token
        )
        progress.done("organisation '\(slug)' with program \"\(program.name)\"")

        // 3. People through the CSV import.
        progress.begin("Importing \(people.count) people (CSV)")
        let imported = try await call(Identity.importPeople, ImportPeopleRequest(csv: DemoData.csv(people), programID: program.id), token: token)
        guard imported.errors.isEmpty else {
            let first = imported.errors[0]
            throw CLIError("the import rejected \(imported.errors.count) rows; line \(first.line) \(first.field): \(first.message)")
        }
        progress.done("\(imported.created) created, \(imported.updated) updated, \(imported.participations) joined the program")

        // 4. Matching.
        progress.begin("Matching the cohort (\(objective.rawValue))")
        _ = try await call(Matching.setSettings, MatchingSettingsInput(programID: program.id, criteria: Self.criteria), token: token)
        let sync = try await call(Matching.syncParticipants, ProgramRef(programID: program.id), token: token)
        let cohort = try await call(Matching.runCohort, RunCohortRequest(programID: program.id, objective: objective), token: token)
        // Identity's ids for the generated people; the demo orders by their HR ids (external ids)
        // so that a seed gives the same run.
        var directory: [UUID: DemoPerson] = [:]
        var ids: [String: UUID] = [:]
        var pageToken: String?
        repeat {
            let page = try await call(Identity.listPeople, ListPeopleRequest(pageSize: 500, pageToken: pageToken), token: token)
            for person in page.people { ids[person.email] = person.id }
            pageToken = page.nextPageToken
        } while pageToken != nil
        for person in people { if let id = ids[person.email] { directory[id] = person } }
        let known = directory
        func key(_ id: UUID) -> String { known[id]?.externalID ?? id.uuidString }
        let sortedPairs = cohort.pairs.sorted { ($0.score, key($0.menteeID)) < ($1.score, key($1.menteeID)) }
        var example: PairExplanation?
        if !sortedPairs.isEmpty {
            let pick = sortedPairs[sortedPairs.count * 3 / 4]
            example = try await call(Matching.explainPair, PairQuery(programID: program.id, menteeID: pick.menteeID, mentorID: pick.mentorID), token: token)
        }
        progress.done("\(cohort.matched) of \(cohort.mentees) mentees matched in \(cohort.elapsedMilliseconds) ms")

        // 5. Accounts for the matched people, so each answers for themselves.
        let participants = Array(Set(cohort.pairs.flatMap { [$0.menteeID, $0.mentorID] })).sorted { key($0) < key($1) }
        progress.begin("Signing in \(participants.count) participants", total: participants.count * 2)
        let seed = self.seed
        let tokens = try await concurrently(participants, limit: 6) { id -> (UUID, String) in
            let password = "demo-\(seed)-\(id.uuidString.prefix(8).lowercased())"
            _ = try await self.call(Identity.setPassword, SetPasswordRequest(personID: id, newPassword: password), token: token)
            self.progress.tick()
            guard let person = known[id] else { throw CLIError("person \(id) of a match is not in the imported data") }
            let signedIn = try await self.call(Identity.signIn, SignInRequest(organisation: slug, email: person.email, password: password), token: nil)
            sessions.store(signedIn)
            self.progress.tick()
            return (id, signedIn.accessToken)
        }
        let tokenOf = Dictionary(uniqueKeysWithValues: tokens)
        progress.done("\(tokens.count) people signed in with their own accounts")

        // 6. Both sides accept their proposal.
        progress.begin("Mentees and mentors accept their matches", total: cohort.pairs.count)
        let accepted = try await concurrently(cohort.pairs, limit: 8) { pair -> Match in
            guard let matchID = pair.matchID else { throw CLIError("matching proposed a pair without a match id") }
            _ = try await self.call(Matching.respondToMatch, RespondToMatchRequest(matchID: matchID, accept: true), token: tokenOf[pair.menteeID])
            let match = try await self.call(Matching.respondToMatch, RespondToMatchRequest(matchID: matchID, accept: true), token: tokenOf[pair.mentorID])
            self.progress.tick()
            return match
        }
        let active = accepted.filter { $0.status == .active }
        progress.done("\(active.count) matches active")

        // 7. Pairs and availability in scheduling.
        progress.begin("Availability and pairs in scheduling", total: participants.count + active.count)
        _ = try await concurrently(participants, limit: 8) { id -> Bool in
            guard let person = known[id] else { return false }
            let hours = WorkingHours(days: [1, 2, 3, 4, 5], startMinute: person.workingStart, endMinute: person.workingEnd)
            let windows = person.flexible
                ? (1...5).map { WeeklyWindow(day: $0, startMinute: max(0, person.workingStart - 120), endMinute: min(1440, person.workingEnd + 180)) } : []
            _ = try await self.call(
                Scheduling.setAvailability,
                Availability(personID: id, timeZone: person.timeZone, workingHours: hours, windows: windows, acceptsOutsideWorkingHours: person.flexible),
                token: tokenOf[id]
            )
            self.progress.tick()
            return true
        }
        // Scheduling learns of accepted matches from matching's change feed (it pulls every few
        // seconds); pairs it has not seen within 20 s are registered by hand.
        var waiting = active
        let deadline = Date().addingTimeInterval(20)
        while !waiting.isEmpty {
            let seen = try await concurrently(waiting, limit: 8) { match -> Bool in
                do {
                    _ = try await self.client.call(
                        Scheduling.getPair, PairRef(matchID: match.id), options: CallOptions(timeout: .seconds(30), metadata: ["authorization": .text("Bearer " + token)])
                    )
                    self.progress.tick()
                    return true
                } catch let error as RPCError where error.code == .notFound || error.code == .resourceExhausted {
                    return false
                } catch {
                    throw describeFailure(error, method: Scheduling.getPair.fullName, endpoint: self.endpoint)
                }
            }
            waiting = zip(waiting, seen).filter { !$0.1 }.map(\.0)
            guard !waiting.isEmpty, Date() < deadline else { break }
            try await Task.sleep(for: .milliseconds(300))
        }
        let registered = waiting.count
        _ = try await concurrently(waiting, limit: 8) { match -> Bool in
            _ = try await self.call(
                Scheduling.registerPair, Pair(matchID: match.id, programID: match.programID, mentorID: match.mentorID, menteeID: match.menteeID), token: token
            )
            self.progress.tick()
            return true
        }
        let fromFeed = registered == 0 ? "all \(active.count) pairs from matching's feed" : "\(active.count - registered) pairs from matching's feed, \(registered) registered"
        progress.done("\(participants.count) calendars; \(fromFeed)")

        // 8. First meetings by fair slot finding, one mentor's pairs after another.
        let from = Self.nextMonday(after: today)
        let to = from.addingTimeInterval(14 * 86400)
        progress.begin("Booking first meetings and follow-up series", total: active.count * 2)
        let byMentor = Dictionary(grouping: active, by: \.mentorID).values.map { $0.sorted { key($0.menteeID) < key($1.menteeID) } }
            .sorted { key($0[0].mentorID) < key($1[0].mentorID) }
        let booked = try await concurrently(byMentor, limit: 6) { matches -> [BookedMeeting] in
            var result: [BookedMeeting] = []
            for match in matches {
                if let meeting = try await self.bookFirstMeeting(match, from: from, to: to, token: tokenOf[match.menteeID], directory: known) {
                    result.append(meeting)
                }
                self.progress.tick()
            }
            // Then each pair's regular meetings, at the first meeting's time where that is free.
            for index in result.indices {
                let match = matches.first { $0.id == result[index].matchID }!
                let series = try await self.bookFollowUps(match, after: result[index], token: tokenOf[match.menteeID], directory: known)
                result[index].followUps = series.count
                result[index].meetings += series
                self.progress.tick()
            }
            return result
        }.flatMap { $0 }
        progress.done("\(booked.count) of \(active.count) pairs booked their first meeting, \(booked.filter { $0.followUps > 0 }.count) a series of \(booked.map(\.followUps).reduce(0, +)) more")

        // What the feedback service already knows: it follows matching's and scheduling's feeds.
        let feedback = try await feedbackView(programID: program.id, token: token, matches: active.count)

        // 9 and 10. The weeks after, on the dev clock, and the program's end.
        let bookedByMatch = Dictionary(uniqueKeysWithValues: booked.map { ($0.matchID, $0) })
        let pairs = active.map { match in
            let meeting = bookedByMatch[match.id]
            return DemoPair(
                key: key(match.menteeID), matchID: match.id, mentorID: match.mentorID, menteeID: match.menteeID, score: match.score,
                inconvenience: meeting.map { $0.mentor.inconvenience + $0.mentee.inconvenience } ?? 0,
                meetings: (meeting?.meetings ?? []).sorted { $0.start < $1.start }
            )
        }.sorted { $0.key < $1.key }
        let programRun = DemoProgramRun(
            run: self, clock: clock, programID: program.id, pairs: pairs, sessions: sessions, admin: admin.subject,
            behaviour: DemoBehaviour(seed: seed)
        )
        let weeksRun = try await programRun.runWeeks(from: from)
        let result = try await programRun.finish(weeks: weeksRun)
        progress.finish()

        return DemoReport(
            organisation: organisation!, program: program, seed: seed, people: people, sync: sync, cohort: cohort, directory: directory,
            example: example, booked: booked, activeMatches: active.count, from: from, to: to, outcome: result, weeks: weeks,
            feedback: feedback
        ).text
    }

    /// Finds the pair's fairest slot and books it; tries again when someone else took the time first.
    func bookFirstMeeting(_ match: Match, from: Date, to: Date, token: String?, directory: [UUID: DemoPerson]) async throws -> BookedMeeting? {
        let seed = self.seed
        for attempt in 1...4 {
            let slots = try await call(
                Scheduling.findSlots, FindSlotsRequest(matchID: match.id, durationMinutes: 45, from: from, to: to, stepMinutes: 15, limit: 3), token: token
            )
            guard let slot = slots.slots.first, slot.participants.count == 2 else { return nil }
            do {
                let meeting = try await client.call(
                    Scheduling.bookMeeting,
                    BookMeetingRequest(
                        matchID: match.id, start: slot.start, durationMinutes: 45, timeZone: directory[match.menteeID]?.timeZone ?? "UTC",
                        agenda: "Getting to know each other; goals for the program"
                    ),
                    options: CallOptions(
                        timeout: .seconds(30),
                        metadata: ["authorization": .text("Bearer " + (token ?? "")), "idempotency-key": .text("demo-first-\(match.id.uuidString.lowercased())-\(attempt)")]
                    )
                )
                let key = directory[match.menteeID]?.externalID ?? match.menteeID.uuidString
                return BookedMeeting(
                    key: key, matchID: match.id, everyWeeks: Self.cadence(key: key, seed: seed), score: match.score, start: slot.start, mentor: slot.participants[0], mentee: slot.participants[1], candidates: slots.candidates,
                    meetings: [PlannedMeeting(meeting)])
            } catch let error as RPCError where [.failedPrecondition, .aborted, .alreadyExists, .resourceExhausted].contains(error.code) && attempt < 4 {
                if error.code == .resourceExhausted { try await Task.sleep(for: .milliseconds(Int(error.metadata["retry-after"] ?? "") ?? 200)) }
                continue
            } catch {
                throw describeFailure(error, method: Scheduling.bookMeeting.fullName, endpoint: endpoint)
            }
        }
        return nil
    }

    /// The feedback service's view of the program, when the cluster has one: its closing survey's
    /// return questions and its report's activity, once its copy of the match feed has caught up
    /// (it pulls every few seconds; at most 15 s are waited for). Called through the gateway when
    /// the gateway routes feedback, else directly over mutual TLS with the CLI's certificate.
    func feedbackView(programID: UUID, token: String, matches: Int) async throws -> FeedbackView? {
        let direct = cluster.service("feedback")
        let routed = Gateway.routedMethods.contains { $0.service == Feedback.serviceName }
        guard routed || direct != nil else { return nil }
        let target: RPCClient
        let place: String
        if routed {
            target = client
            place = endpoint
        } else {
            var configuration = ClientConfiguration()
            configuration.healthCheckInterval = nil
            let certificates = cluster.state.certificates
            target = try RPCClient(
                endpoints: [try Endpoint(parsing: direct!.endpoint)],
                tls: try .mutual(caPath: certificates + "/ca.pem", certificatePath: certificates + "/cli.pem", keyPath: certificates + "/cli-key.pem", serverName: "feedback"),
                configuration: configuration, logger: quietLogger
            )
            place = direct!.endpoint
        }
        defer { if !routed { target.close() } }
        let options = CallOptions(timeout: .seconds(30), metadata: ["authorization": .text("Bearer " + token)])
        do {
            let template = try await target.call(Feedback.getSurveyTemplate, SurveyTemplateRef(programID: programID, kind: .closing), options: options)
            var report = try await target.call(Feedback.programReport, ReportRequest(programID: programID), options: options)
            let deadline = Date().addingTimeInterval(15)
            while (report.overall.matches ?? 0) < matches && Date() < deadline {
                try await Task.sleep(for: .milliseconds(500))
                report = try await target.call(Feedback.programReport, ReportRequest(programID: programID), options: options)
            }
            var questions: [String: String] = [:]
            for question in template.questions { if let measure = question.measures { questions[measure.rawValue] = question.text } }
            return FeedbackView(endpoint: place, k: report.k, participants: report.overall.participants, matches: report.overall.matches,
                                meetingsHeld: report.overall.meetingsHeld, questions: questions)
        } catch {
            throw describeFailure(error, method: "feedback", endpoint: place)
        }
    }

    /// Weekly for about two pairs in five, fortnightly for the others (drawn from the mentee's HR id).
    static func cadence(key: String, seed: UInt64) -> Int {
        var random = SplitMix64(seed: seed ^ stableHash(key) ^ 0xCADE)
        return random.chance(0.4) ? 1 : 2
    }

    /// Books the pair's regular meetings after the first (a series every one or two weeks over the
    /// program's weeks), at the first meeting's time or, when that collides with the mentor's other
    /// pairs, at one of the fairest slots of the following days. Answers the meetings it booked.
    func bookFollowUps(_ match: Match, after first: BookedMeeting, token: String?, directory: [UUID: DemoPerson]) async throws -> [PlannedMeeting] {
        let every = first.everyWeeks
        let count = max(2, weeks / every)
        let timeZone = directory[match.menteeID]?.timeZone ?? "UTC"
        var candidates = [first.start.addingTimeInterval(Double(every * 7 * 86400))]
        var attempt = 0
        while attempt < 5 {
            guard attempt < candidates.count else { break }
            let start = candidates[attempt]
            attempt += 1
            do {
                let series = try await client.call(
                    Scheduling.bookSeries,
                    BookSeriesRequest(matchID: match.id, firstStart: start, durationMinutes: 45, timeZone: timeZone, everyWeeks: every, count: count, agenda: "Mentoring session"),
                    options: CallOptions(
                        timeout: .seconds(30),
                        metadata: ["authorization": .text("Bearer " + (token ?? "")), "idempotency-key": .text("demo-series-\(match.id.uuidString.lowercased())-\(attempt)")]
                    )
                )
                return series.meetings.filter { $0.status == .scheduled }.map(PlannedMeeting.init)
            } catch let error as RPCError where [.failedPrecondition, .aborted].contains(error.code) {
                if candidates.count == 1 {
                    let from = first.start.addingTimeInterval(86400)
                    let slots = try await call(
                        Scheduling.findSlots,
                        FindSlotsRequest(matchID: match.id, durationMinutes: 45, from: from, to: from.addingTimeInterval(Double(every * 7 * 86400)), stepMinutes: 15, limit: 4),
                        token: token
                    )
                    candidates += slots.slots.map { $0.start.addingTimeInterval(Double(every * 7 * 86400)) }
                }
            } catch let error as RPCError where error.code == .resourceExhausted {
                try await Task.sleep(for: .milliseconds(Int(error.metadata["retry-after"] ?? "") ?? 200))
                attempt -= 1
            } catch {
                throw describeFailure(error, method: Scheduling.bookSeries.fullName, endpoint: endpoint)
            }
        }
        return []
    }

    /// The program's criteria: a shared language and a seniority gap are musts; skills weigh most,
    /// then another division's view, time in common and onboarding.
    static let criteria: [Criterion] = [
        Criterion(kind: .language, mode: .must),
        Criterion(kind: .seniority, mode: .must, minimumGap: 1, maximumGap: 6),
        Criterion(kind: .skills, mode: .should, weight: 45),
        Criterion(kind: .division, mode: .should, weight: 20, preferCrossDivision: true),
        Criterion(kind: .workingHours, mode: .should, weight: 20, targetHours: 6),
        Criterion(kind: .onboarding, mode: .should, weight: 15, newHireDays: 90),
    ]

    /// Midnight UTC of the first Monday at least two days from now.
    static func nextMonday(after date: Date) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        var day = calendar.startOfDay(for: date.addingTimeInterval(2 * 86400))
        while calendar.component(.weekday, from: day) != 2 { day = calendar.date(byAdding: .day, value: 1, to: day)! }
        return day
    }
}

/// What the feedback service reports about the demo program right after the bookings.
struct FeedbackView: Sendable {
    var endpoint: String
    var k: Int
    var participants: Int?
    var matches: Int?
    var meetingsHeld: Int?
    /// The closing survey's return questions by measure (`competency`, `relationship`, `retention`).
    var questions: [String: String]
}

/// A first meeting the demo booked, as both participants see it.
struct BookedMeeting: Sendable {
    /// The mentee's HR id (a mentee has one match).
    var key: String
    var matchID: UUID
    /// The pair's cadence: every week (1) or every other week (2).
    var everyWeeks: Int
    /// Meetings booked after this one (a series); 0 when none could be.
    var followUps = 0
    var score: Int
    var start: Date
    var mentor: SlotView
    var mentee: SlotView
    var candidates: Int
    /// The pair's meetings: this one, then the series.
    var meetings: [PlannedMeeting]
}

/// A booked meeting, as the demo marks it when its time has come.
struct PlannedMeeting: Sendable {
    var id: UUID
    var start: Date
    var end: Date

    init(_ meeting: Meeting) {
        id = meeting.id
        start = meeting.start
        end = meeting.end
    }
}

/// Runs `body` over `items`, at most `limit` at a time; the results keep the items' order.
func concurrently<T: Sendable, R: Sendable>(_ items: [T], limit: Int, _ body: @escaping @Sendable (T) async throws -> R) async throws -> [R] {
    try await withThrowingTaskGroup(of: (Int, R).self) { group in
        var results: [R?] = Array(repeating: nil, count: items.count)
        var next = 0
        while next < min(limit, items.count) {
            let index = next
            group.addTask { (index, try await body(items[index])) }
            next += 1
        }
        while let (index, result) = try await group.next() {
            results[index] = result
            if next < items.count {
                let index = next
                group.addTask { (index, try await body(items[index])) }
                next += 1
            }
        }
        return results.map { $0! }
    }
}

/// What the demo is doing, on standard error: one updating line on a terminal, a line per step
/// otherwise.
final class ProgressDisplay: @unchecked Sendable {
    // Safe: every mutable property is read and written under `lock`.
    private let lock = NSLock()
    private let steps: Int
    private let terminal = isatty(STDERR_FILENO) == 1
    private var step = 0
    private var label = ""
    private var count = 0
    private var total = 0
    private var stepStarted = Date()
    private let started = Date()

    init(steps: Int) {
        self.steps = steps
    }

    func begin(_ label: String, total: Int = 0) {
        lock.withLock {
            step += 1
            self.label = label
            count = 0
            self.total = total
            stepStarted = Date()
            draw()
        }
    }

    func tick() {
        lock.withLock {
            count += 1
            if terminal { draw() }
        }
    }

    func done(_ summary: String) {
        lock.withLock {
            let seconds = String(format: "%.1f s", Date().timeIntervalSince(stepStarted))
            let line = "[\(step)/\(steps)] \(label): \(summary) (\(seconds))"
            write(terminal ? "\r\u{1B}[K" + line + "\n" : line + "\n")
        }
    }

    func finish() {
        lock.withLock { write(String(format: "done in %.1f s\n\n", Date().timeIntervalSince(started))) }
    }

    private func draw() {
        guard terminal else { return }
        let counter = total > 0 ? " \(count)/\(total)" : ""
        let width = 24
        let bar = total > 0 ? " [" + String(repeating: "#", count: width * count / max(total, 1)) + String(repeating: ".", count: width - width * count / max(total, 1)) + "]" : ""
        write("\r\u{1B}[K[\(step)/\(steps)] \(label)…\(bar)\(counter)")
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
