public import Foundation
public import Logging
import Synchronization
public import TandemProtocols
public import TandemAuth
public import TandemRPC
import TandemWire

/// How the matching service behaves.
public struct MatchingConfiguration: Sendable {
    /// Days a proposal waits for both answers when the program sets none.
    public var defaultExpiryDays = 7
    /// How often lapsed proposals are expired.
    public var expirySweepSeconds: Double = 30
    /// The clock (tests move it).
    public var now: @Sendable () -> Date = { Date() }

    public init() {}
}

/// Where matching reads a program's participants: identity's `ListParticipants`, called with the
/// caller's own credentials, so identity decides what the caller may read.
public protocol ParticipantDirectory: Sendable {
    func participants(program: UUID, authorization: String) async throws -> [ParticipantProfile]
}

/// Identity over RPC.
public struct IdentityParticipantDirectory: ParticipantDirectory {
    let client: RPCClient

    public init(client: RPCClient) {
        self.client = client
    }

    public func participants(program: UUID, authorization: String) async throws -> [ParticipantProfile] {
        var metadata = Metadata()
        metadata[Metadata.Keys.authorization] = authorization
        var all: [ParticipantProfile] = []
        var token: String?
        repeat {
            let page = try await client.call(
                Identity.listParticipants, ListParticipantsRequest(programID: program, pageSize: 500, pageToken: token),
                options: CallOptions(timeout: .seconds(10), metadata: metadata)
            )
            all += page.participants
            token = page.nextPageToken
        } while token != nil
        return all
    }
}

/// The matching service: its store, the scored model of each program, and the RPC handlers.
public final class MatchingServer: Sendable {
    let store: MatchingStore
    let configuration: MatchingConfiguration
    let directory: any ParticipantDirectory
    let logger: Logger
    let models = Mutex<[ProgramKey: ProgramModel]>([:])

    struct ProgramKey: Hashable, Sendable {
        var organisation: UUID
        var program: UUID
    }

    /// Opens (creating and migrating) `<dataDirectory>/matching.sqlite`.
    public static func open(
        dataDirectory: String, directory: any ParticipantDirectory, configuration: MatchingConfiguration = MatchingConfiguration(), logger: Logger
    ) throws -> MatchingServer {
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        let store = try MatchingStore(path: dataDirectory + "/matching.sqlite", logger: logger)
        return MatchingServer(store: store, directory: directory, configuration: configuration, logger: logger)
    }

    private init(store: MatchingStore, directory: any ParticipantDirectory, configuration: MatchingConfiguration, logger: Logger) {
        self.store = store
        self.directory = directory
        self.configuration = configuration
        self.logger = logger
    }

    /// The RPC handlers.
    public var service: any RPCService { MatchingRPCService(server: self) }

    public func close() {
        store.close()
    }

    /// Fails unless the database answers reads and writes (for the readiness probe).
    public func checkStore() async throws {
        try await store.database.check()
    }

    /// Housekeeping to run alongside the server: expires lapsed proposals (offering re-matches)
    /// until cancelled.
    public func maintain() async {
        while !Task.isCancelled {
            do {
                _ = try await expireProposals()
            } catch {
                logger.warning("expiring proposals failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(configuration.expirySweepSeconds))
        }
    }

    /// Expires every proposal past its deadline and offers each mentee a re-match; returns the
    /// expired matches.
    @discardableResult
    public func expireProposals() async throws -> [Match] {
        var all: [Match] = []
        while true {
            let expired = try await store.expireDue(now: configuration.now())
            all += expired
            for match in expired {
                invalidate(organisation: match.organisationID, program: match.programID)
                await offerRematch(after: match)
            }
            if expired.count < 500 { return all }
        }
    }

    static let erasureFeed = "identity.erasures"
    /// Erasures read per call; a full page means there may be more right away.
    static let feedPage = 500

    /// Follows identity's erasures until cancelled (`syncErasures`); the position in the feed is
    /// stored with what it changed, so a restart resumes where it stopped.
    public func followErasures(_ source: any ErasureFeed, every interval: Duration = .seconds(3)) async {
        await followFeed("identity's erasures", pageSize: Self.feedPage, every: interval, logger: logger) { try await self.syncErasures(source) }
    }

    /// Applies one page of identity's erasures (see `MatchingStore.applyErasures`): the people are
    /// no longer matched, and the mentee of a match that ended because its mentor was erased is
    /// offered another mentor when the program re-matches automatically. Returns how many
    /// erasures the page held.
    @discardableResult
    public func syncErasures(_ source: any ErasureFeed) async throws -> Int {
        guard let page = try await store.database.nextFeedPage(Self.erasureFeed, count: \.erasures.count, last: \.last, fetch: {
            try await source.erasures(after: $0, limit: Self.feedPage)
        }) else { return 0 }
        let result = try await store.applyErasures(page, feed: Self.erasureFeed, now: configuration.now())
        if !page.erasures.isEmpty { await store.database.truncateLogAfterErasure() }
        for (organisation, program) in result.programs { invalidate(organisation: organisation, program: program) }
        let erased = Set(page.erasures.map(\.personID))
        for match in result.ended where !erased.contains(match.menteeID) {
            await offerRematch(after: match)
        }
        if !result.ended.isEmpty { logger.notice("ended the matches of people erased in identity", metadata: ["matches": "\(result.ended.count)"]) }
        return page.erasures.count
    }

    func invalidate(organisation: UUID, program: UUID) {
        _ = models.withLock { $0.removeValue(forKey: ProgramKey(organisation: organisation, program: program)) }
    }
}

// MARK: - The scored model of a program

/// A program's settings, participants and scorers, built once and reused until something they
/// depend on changes (settings, a sync, a match that ended badly).
struct ProgramModel: Sendable {
    var settings: MatchingSettings
    var mentees: [ParticipantProfile]
    var mentors: [ParticipantProfile]
    var menteeIndex: [UUID: Int]
    var mentorIndex: [UUID: Int]
    var menteeProfiles: [MatchProfile]
    var mentorProfiles: [MatchProfile]
    var pairScorer: PairScorer
    var cohortScorer: CohortScorer

    init(settings: MatchingSettings, participants: [ParticipantProfile], matches: [Match], today: Date) {
        self.settings = settings
        mentees = participants.filter { $0.role == .mentee || $0.role == .both }
        mentors = participants.filter { $0.role == .mentor || $0.role == .both }
        menteeIndex = Dictionary(uniqueKeysWithValues: mentees.enumerated().map { ($1.personID, $0) })
        mentorIndex = Dictionary(uniqueKeysWithValues: mentors.enumerated().map { ($1.personID, $0) })
        let managers = Dictionary(participants.map { ($0.personID, $0.managerID) }, uniquingKeysWith: { first, _ in first })
        menteeProfiles = mentees.map { ProgramModel.profile($0, managers: managers, today: today) }
        mentorProfiles = mentors.map { ProgramModel.profile($0, managers: managers, today: today) }
        var scorer = PairScorer(criteria: settings.criteria.map(ProgramModel.criterion), today: today)
        scorer.endedBadly = Set(matches.filter(MatchLifecycle.endedBadly).map { [$0.menteeID, $0.mentorID] })
        pairScorer = scorer
        cohortScorer = CohortScorer(scorer: scorer, mentees: menteeProfiles, mentors: mentorProfiles)
    }

    /// Group programs: the bounds of a group's size.
    var groupSize: ClosedRange<Int>? {
        guard settings.groupMinimum != nil || settings.groupMaximum != nil else { return nil }
        let maximum = settings.groupMaximum ?? 6
        return min(settings.groupMinimum ?? 2, maximum)...maximum
    }

    /// A mentor's capacity (absent: 1; in group programs: the group maximum, and never more).
    func capacity(ofMentor index: Int) -> Int {
        guard let groups = groupSize else { return max(0, mentors[index].capacity ?? 1) }
        return max(0, min(mentors[index].capacity ?? groups.upperBound, groups.upperBound))
    }

    static func criterion(_ criterion: Criterion) -> MatchCriterion {
        MatchCriterion(
            criterion.kind, criterion.mode, weight: criterion.weight ?? 10,
            preferCrossDivision: criterion.preferCrossDivision ?? true, minimumGap: criterion.minimumGap ?? 1, maximumGap: criterion.maximumGap ?? 4,
            targetHours: criterion.targetHours ?? 10, newHireDays: criterion.newHireDays ?? 90
        )
    }

    /// What scoring needs of a participant. The reporting line is followed through the managers
    /// known to the program (the direct manager is always known).
    static func profile(_ participant: ParticipantProfile, managers: [UUID: UUID?], today: Date) -> MatchProfile {
        var chain: [UUID] = []
        var next = participant.managerID
        while let manager = next, chain.count < 20, !chain.contains(manager), manager != participant.personID {
            chain.append(manager)
            next = managers[manager] ?? nil
        }
        let lower = { (skills: [SkillLevel]) in
            Dictionary(skills.map { ($0.name.lowercased(), $0.level) }, uniquingKeysWith: { max($0, $1) })
        }
        let hours = participant.workingHours ?? WorkingHours()
        return MatchProfile(
            personID: participant.personID, skillsOffered: lower(participant.skillsOffered), skillsWanted: lower(participant.skillsWanted),
            topics: Set((participant.goalTags + participant.topics).map { $0.lowercased() }), division: participant.division,
            seniority: participant.seniority, languages: Set(participant.languages.map { $0.lowercased() }), timeZone: participant.timeZone,
            workStartMinute: hours.startMinute, workEndMinute: hours.endMinute, hireDate: participant.hireDate.flatMap(ProgramModel.date),
            managerChain: chain
        ).fixingZoneOffset(on: today)
    }

    static func date(_ text: String) -> Date? {
        let parts = text.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3 else { return nil }
        var components = DateComponents()
        components.year = parts[0]
        components.month = parts[1]
        components.day = parts[2]
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.date(from: components)
    }

    /// The pair's explanation on the wire.
    func explanation(mentee: Int, mentor: Int) -> PairExplanation {
        let menteeID = mentees[mentee].personID
        let mentorID = mentors[mentor].personID
        switch pairScorer.score(mentee: menteeProfiles[mentee], mentor: mentorProfiles[mentor]) {
        case .success(let score):
            return PairExplanation(menteeID: menteeID, mentorID: mentorID, score: score.total, parts: score.parts.map(ProgramModel.points), exclusion: nil)
        case .failure(let exclusion):
            return PairExplanation(menteeID: menteeID, mentorID: mentorID, score: nil, parts: [], exclusion: exclusion.description)
        }
    }

    static func points(_ part: PairScore.Part) -> CriterionPoints {
        CriterionPoints(criterion: part.criterion, points: part.points, maximum: part.maximum, detail: part.detail)
    }
}

extension MatchingServer {
    /// The program's model, built from the store when not cached. FAILED_PRECONDITION when the
    /// program has no settings or was never synced.
    func model(organisation: UUID, program: UUID) async throws -> ProgramModel {
        let key = ProgramKey(organisation: organisation, program: program)
        if let cached = models.withLock({ $0[key] }) { return cached }
        guard let settings = try await store.settings(organisation: organisation, program: program) else {
            throw RPCError.failedPrecondition(type: "NO_SETTINGS", subject: program.uuidString.lowercased(), "the program has no matching criteria yet: an admin sets them with SetSettings")
        }
        guard let participants = try await store.participants(organisation: organisation, program: program) else {
            throw RPCError.failedPrecondition(type: "NOT_SYNCED", subject: program.uuidString.lowercased(), "the program's participants were never read from identity: an admin calls SyncParticipants")
        }
        let matches = try await store.programMatches(organisation: organisation, program: program)
        let model = ProgramModel(settings: settings, participants: participants, matches: matches, today: configuration.now())
        models.withLock { $0[key] = model }
        return model
    }

    /// A new proposal of `mentee` with `mentor`, explained.
    func proposal(_ model: ProgramModel, organisation: UUID, mentee: Int, mentor: Int, source: MatchSource, group: UUID? = nil, rematchOf: UUID? = nil) -> Match {
        let now = configuration.now()
        let explanation = model.explanation(mentee: mentee, mentor: mentor)
        return Match(
            id: UUID(), organisationID: organisation, programID: model.settings.programID, mentorID: model.mentors[mentor].personID,
            menteeID: model.mentees[mentee].personID, groupID: group, status: .proposed, source: source, score: explanation.score ?? 0,
            parts: explanation.parts, mentorAccepted: false, menteeAccepted: source == .request, proposedAt: now,
            expiresAt: now.addingTimeInterval(Double(model.settings.requestExpiryDays) * 86_400), startedAt: nil, endedAt: nil, endReason: nil,
            notAGoodFit: false, declinedBy: nil, rematchOf: rematchOf, rematchID: nil, agreement: nil, version: 1, updatedAt: now
        )
    }

    /// Open places per mentor of the model.
    func openPlaces(_ model: ProgramModel, organisation: UUID) async throws -> [Int] {
        let held = try await store.placesHeld(organisation: organisation, program: model.settings.programID)
        return model.mentors.indices.map { model.capacity(ofMentor: $0) - (held[model.mentors[$0].personID] ?? 0) }
    }

    /// Mentors the mentee has had any match with (they are not recommended again).
    func previousMentors(_ model: ProgramModel, organisation: UUID, mentee: UUID) async throws -> Set<Int> {
        let matches = try await store.menteeMatches(organisation: organisation, program: model.settings.programID, mentee: mentee)
        return Set(matches.compactMap { model.mentorIndex[$0.mentorID] })
    }

    /// The best mentor with room for the mentee of `match`, proposed as a re-match when the
    /// program allows it. Best effort: the ended match stays ended whatever happens here.
    @discardableResult
    func offerRematch(after match: Match) async -> Match? {
        do {
            let model = try await self.model(organisation: match.organisationID, program: match.programID)
            guard model.settings.autoRematch, let mentee = model.menteeIndex[match.menteeID] else { return nil }
            let open = try await openPlaces(model, organisation: match.organisationID)
            let skip = try await previousMentors(model, organisation: match.organisationID, mentee: match.menteeID)
            let best = Recommender.recommend(mentee: mentee, scorer: model.cohortScorer, openPlaces: open, skip: skip, limit: 1, rotation: 0)
            guard let mentor = best.mentors.first else { return nil }
            let offer = proposal(model, organisation: match.organisationID, mentee: mentee, mentor: mentor, source: .rematch, rematchOf: match.id)
            let capacity = [offer.mentorID: model.capacity(ofMentor: mentor)]
            let created = try await store.propose([offer], capacity: capacity)
            let now = configuration.now()
            _ = try await store.update(organisation: match.organisationID, id: match.id, capacity: nil) { current in
                var linked = current.touched(now)
                linked.rematchID = offer.id
                return linked
            }
            return created.first
        } catch {
            logger.info("no re-match offered", metadata: ["match": "\(match.id)", "reason": "\(error)"])
            return nil
        }
    }
}
