import Foundation
import TandemAuth
import TandemProtocols
import TandemRPC
import TandemWire

/// The `scheduling` methods (Protocols/Scheduling.md). Everything is scoped to the caller's
/// organisation; a meeting is visible to its two participants, its program's admins,
/// organisation admins and scoped service accounts.
struct SchedulingRPCService: RPCService {
    let server: SchedulingServer

    func register(into router: inout RPCRouter) {
        let server = self.server
        router.register(Scheduling.setAvailability, unary: { try await server.setAvailability($0, context: $1) })
        router.register(Scheduling.getAvailability, unary: { try await server.getAvailability($0, context: $1) })
        router.register(Scheduling.registerPair, unary: { try await server.registerPair($0, context: $1) })
        router.register(Scheduling.getPair, unary: { try await server.getPair($0, context: $1) })
        router.register(Scheduling.findSlots, unary: { try await server.findSlots($0, context: $1) })
        router.register(Scheduling.bookMeeting, unary: { try await server.bookMeeting($0, context: $1) })
        router.register(Scheduling.rescheduleMeeting, unary: { try await server.rescheduleMeeting($0, context: $1) })
        router.register(Scheduling.cancelMeeting, unary: { try await server.cancelMeeting($0, context: $1) })
        router.register(Scheduling.setMeetingStatus, unary: { try await server.setMeetingStatus($0, context: $1) })
        router.register(Scheduling.updateAgenda, unary: { try await server.updateAgenda($0, context: $1) })
        router.register(Scheduling.getMeeting, unary: { try await server.getMeeting($0, context: $1) })
        router.register(Scheduling.listMeetings, unary: { try await server.listMeetings($0, context: $1) })
        router.register(Scheduling.bookSeries, unary: { try await server.bookSeries($0, context: $1) })
        router.register(Scheduling.getSeries, unary: { try await server.getSeries($0, context: $1) })
        router.register(Scheduling.cancelSeries, unary: { try await server.cancelSeries($0, context: $1) })
        router.register(Scheduling.exportCalendar, unary: { try await server.exportCalendar($0, context: $1) })
        router.register(Scheduling.streamReminders, serverStreaming: { try await server.streamReminders($0, responses: $1, context: $2) })
        router.register(Scheduling.acknowledgeReminders, unary: { try await server.acknowledgeReminders($0, context: $1) })
        router.register(Scheduling.listMeetingChanges, unary: { try await server.listMeetingChanges($0, context: $1) })
    }
}

// MARK: - Access

extension AuthenticatedCaller {
    var actsForOrganisation: Bool { isOrganisationAdmin || isService }

    /// Participants, the program's admins, organisation admins, service accounts.
    func mayUse(_ pair: Pair) -> Bool {
        actsForOrganisation || subject == pair.mentorID || subject == pair.menteeID || programs.contains(pair.programID)
    }

    func mayUse(_ meeting: Meeting) -> Bool {
        actsForOrganisation || meeting.participantIDs.contains(subject) || programs.contains(meeting.programID)
    }
}

extension SchedulingServer {
    /// The pair, if the caller may use it; NOT_FOUND otherwise (as if it did not exist).
    func authorizedPair(_ match: UUID, _ caller: AuthenticatedCaller) async throws -> StoredPair {
        guard let stored = try await pair(organisation: caller.organisationID, match: match), caller.mayUse(stored.pair) else {
            throw RPCError.notFound("pair", match.uuidString.lowercased())
        }
        return stored
    }

    /// The meeting, if the caller may see it; NOT_FOUND otherwise.
    func authorizedMeeting(_ id: UUID, _ caller: AuthenticatedCaller) async throws -> Meeting {
        guard let meeting = try await store.meeting(organisation: caller.organisationID, id: id), caller.mayUse(meeting) else {
            throw RPCError.notFound("meeting", id.uuidString.lowercased())
        }
        return meeting
    }
}

// MARK: - Validation

enum SchedulingValidation {
    typealias Violation = ErrorDetail.FieldViolation

    /// The text without leading and trailing white space and line breaks, as Foundation's
    /// `trimmingCharacters(in: .whitespacesAndNewlines)` gives it, without Foundation's bridging
    /// when there is nothing to trim (the usual case). Foundation's set is Unicode's White_Space
    /// plus U+200B ZERO WIDTH SPACE (checked against it for every scalar of the BMP).
    static func trimmed(_ text: String) -> String {
        func trimmable(_ scalar: Unicode.Scalar) -> Bool { scalar.properties.isWhitespace || scalar.value == 0x200B }
        guard let first = text.unicodeScalars.first, let last = text.unicodeScalars.last,
              trimmable(first) || trimmable(last) else { return text }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func timeZone(_ value: String, field: String = "timeZone") -> Violation? {
        Zones.zone(value) == nil ? Violation(field: field, rule: "time-zone", description: "'\(value.prefix(60))' is not an IANA time zone (e.g. Europe/London)") : nil
    }

    static func duration(_ minutes: Int, field: String = "durationMinutes") -> Violation? {
        (5...480).contains(minutes) ? nil : Violation(field: field, rule: "range", description: "must be 5–480 minutes, got \(minutes)")
    }

    static func text(_ value: String?, field: String, max: Int) -> Violation? {
        guard let value, value.count > max else { return nil }
        return Violation(field: field, rule: "length", description: "must be at most \(max) characters")
    }

    /// A meeting start: not more than 5 minutes in the past, not more than 2 years ahead.
    static func start(_ start: Date, now: Date, field: String = "start") -> Violation? {
        if start < now.addingTimeInterval(-300) {
            return Violation(field: field, rule: "future", description: "must not be in the past")
        }
        if start > now.addingTimeInterval(2 * 366 * 86_400) {
            return Violation(field: field, rule: "range", description: "must be within 2 years")
        }
        return nil
    }

    static func availability(_ availability: Availability) -> [Violation] {
        var violations: [Violation] = []
        if let violation = timeZone(availability.timeZone) { violations.append(violation) }
        let hours = availability.workingHours
        if hours.days.isEmpty || !hours.days.allSatisfy((1...7).contains) || Set(hours.days).count != hours.days.count {
            violations.append(Violation(field: "workingHours.days", rule: "range", description: "distinct ISO weekdays 1 (Monday) to 7 (Sunday)"))
        }
        if !(0..<1440).contains(hours.startMinute) || !(1...1440).contains(hours.endMinute) || hours.endMinute <= hours.startMinute {
            violations.append(Violation(field: "workingHours", rule: "range", description: "startMinute must be before endMinute, both within the day (0–1440)"))
        }
        if availability.windows.count > 100 { violations.append(Violation(field: "windows", rule: "length", description: "at most 100 windows")) }
        for (index, window) in availability.windows.enumerated() {
            if !(1...7).contains(window.day) {
                violations.append(Violation(field: "windows[\(index)].day", rule: "range", description: "must be 1 (Monday) to 7 (Sunday)"))
            }
            if !(0..<1440).contains(window.startMinute) || !(1...1440).contains(window.endMinute) || window.endMinute <= window.startMinute {
                violations.append(Violation(field: "windows[\(index)]", rule: "range", description: "startMinute must be before endMinute, both within the day"))
            }
        }
        if availability.exceptions.count > 1000 { violations.append(Violation(field: "exceptions", rule: "length", description: "at most 1000 exceptions")) }
        for (index, exception) in availability.exceptions.enumerated() {
            if LocalDays.day(of: exception.date) == nil {
                violations.append(Violation(field: "exceptions[\(index)].date", rule: "date", description: "'\(exception.date.prefix(20))' is not a date (YYYY-MM-DD)"))
            }
            switch (exception.startMinute, exception.endMinute) {
            case (nil, nil): break
            case (let start?, let end?) where (0..<1440).contains(start) && (1...1440).contains(end) && start < end: break
            default:
                violations.append(Violation(field: "exceptions[\(index)]", rule: "range", description: "give both startMinute and endMinute (start before end, within the day), or neither for the whole day"))
            }
            if let violation = text(exception.note, field: "exceptions[\(index)].note", max: 200) { violations.append(violation) }
        }
        return violations
    }

    static func check(_ violations: [Violation]) throws(RPCError) {
        guard violations.isEmpty else { throw RPCError.invalidArguments(violations) }
    }
}

// MARK: - Availability and pairs

extension SchedulingServer {
    func setAvailability(_ request: Availability, context: ServerContext) async throws -> Availability {
        let caller = try context.caller()
        guard caller.subject == request.personID || caller.actsForOrganisation else {
            throw RPCError(code: .permissionDenied, message: "people set their own availability; setting someone else's needs the org-admin role")
        }
        try SchedulingValidation.check(SchedulingValidation.availability(request))
        let stored = try await store.setAvailability(organisation: caller.organisationID, request, now: configuration.now())
        calendarCache.remove(PairKey(organisation: caller.organisationID, id: request.personID))
        return stored
    }

    func getAvailability(_ request: PersonRef, context: ServerContext) async throws -> Availability {
        let caller = try context.caller()
        guard caller.subject == request.personID || caller.actsForOrganisation || caller.has(role: Role.programAdmin) else {
            throw RPCError(code: .permissionDenied, message: "reading someone else's availability needs the org-admin or program-admin role")
        }
        guard let availability = try await store.availability(organisation: caller.organisationID, person: request.personID) else {
            throw RPCError.notFound("availability", request.personID.uuidString.lowercased())
        }
        return availability
    }

    func registerPair(_ request: Pair, context: ServerContext) async throws -> Pair {
        let caller = try context.caller()
        guard caller.actsForOrganisation || caller.programs.contains(request.programID) else {
            throw RPCError(code: .permissionDenied, message: "registering a pair needs the org-admin role, or to administer its program")
        }
        guard request.mentorID != request.menteeID else {
            throw RPCError.invalidArgument(field: "menteeID", rule: "distinct", "a pair is two different people")
        }
        let stored = try await store.registerPair(organisation: caller.organisationID, request, now: configuration.now())
        pairCache.set(PairKey(organisation: caller.organisationID, id: request.matchID), stored, now: configuration.now())
        return stored.pair
    }

    func getPair(_ request: PairRef, context: ServerContext) async throws -> Pair {
        let caller = try context.caller()
        return try await authorizedPair(request.matchID, caller).pair
    }
}

// MARK: - Slots and meetings

extension SchedulingServer {
    func findSlots(_ request: FindSlotsRequest, context: ServerContext) async throws -> SlotList {
        let caller = try context.caller()
        var violations: [ErrorDetail.FieldViolation] = []
        if let violation = SchedulingValidation.duration(request.durationMinutes) { violations.append(violation) }
        if request.to <= request.from {
            violations.append(.init(field: "to", rule: "order", description: "must be after from"))
        } else if request.to.timeIntervalSince(request.from) > 62 * 86_400 {
            violations.append(.init(field: "to", rule: "range", description: "the range may be at most 62 days"))
        }
        let step = request.stepMinutes ?? 30
        if !(5...60).contains(step) || 60 % step != 0 {
            violations.append(.init(field: "stepMinutes", rule: "range", description: "must divide an hour: 5, 6, 10, 12, 15, 20, 30 or 60"))
        }
        let limit = request.limit ?? 10
        if !(1...100).contains(limit) { violations.append(.init(field: "limit", rule: "range", description: "must be 1–100")) }
        let buffer = request.bufferMinutes ?? configuration.defaultBufferMinutes
        if !(0...120).contains(buffer) { violations.append(.init(field: "bufferMinutes", rule: "range", description: "must be 0–120")) }
        try SchedulingValidation.check(violations)

        let stored = try await authorizedPair(request.matchID, caller)
        let pair = stored.pair
        guard let mentorCalendar = try await calendar(organisation: caller.organisationID, person: pair.mentorID) else {
            throw RPCError.failedPrecondition(type: "availability", subject: "person/" + pair.mentorID.uuidString.lowercased(), "the mentor has not set their availability")
        }
        guard let menteeCalendar = try await calendar(organisation: caller.organisationID, person: pair.menteeID) else {
            throw RPCError.failedPrecondition(type: "availability", subject: "person/" + pair.menteeID.uuidString.lowercased(), "the mentee has not set their availability")
        }
        let now = Int64(configuration.now().timeIntervalSince1970)
        let from = max(Int64(request.from.timeIntervalSince1970.rounded(.up)), now)
        let to = Int64(request.to.timeIntervalSince1970)
        let bufferSeconds = Int64(buffer) * 60
        let inputs = try await store.slotInputs(
            organisation: caller.organisationID, match: pair.matchID, mentor: pair.mentorID, mentee: pair.menteeID,
            from: from - bufferSeconds, to: to + bufferSeconds
        )
        let finder = SlotFinder(
            mentor: .init(calendar: mentorCalendar, busy: inputs.mentorBusy, burden: inputs.burdenMentor),
            mentee: .init(calendar: menteeCalendar, busy: inputs.menteeBusy, burden: inputs.burdenMentee),
            durationSeconds: Int64(request.durationMinutes) * 60, stepSeconds: Int64(step) * 60, bufferSeconds: bufferSeconds, limit: limit
        )
        let result = finder.find(from: from, to: to)
        return SlotList(slots: result.slots, candidates: result.candidates, burden: [inputs.burdenMentor, inputs.burdenMentee])
    }

    /// Each participant's inconvenience for `[start, end)` (0 for someone without availability).
    func inconvenience(_ pair: Pair, organisation: UUID, start: Int64, end: Int64) async throws -> (Double, Double) {
        func score(_ person: UUID) async throws -> Double {
            guard let calendar = try await calendar(organisation: organisation, person: person) else { return 0 }
            let offsets = ZoneOffsets(zone: calendar.zone, from: start - 86_400, to: end + 86_400)
            return calendar.score(start: start, end: end, offsets: offsets)
        }
        return (try await score(pair.mentorID), try await score(pair.menteeID))
    }

    func bookMeeting(_ request: BookMeetingRequest, context: ServerContext) async throws -> Meeting {
        let caller = try context.caller()
        let now = configuration.now()
        var violations: [ErrorDetail.FieldViolation] = []
        if let violation = SchedulingValidation.duration(request.durationMinutes) { violations.append(violation) }
        if let violation = SchedulingValidation.timeZone(request.timeZone) { violations.append(violation) }
        if let violation = SchedulingValidation.start(request.start, now: now) { violations.append(violation) }
        if let violation = SchedulingValidation.text(request.agenda, field: "agenda", max: 2000) { violations.append(violation) }
        let idempotency = try IdempotencyKey.from(context.metadata, scope: "meeting", request: request, violations: &violations)
        // A retry of a booking already made gets its meeting, although its start may have passed
        // or its pair ended since. Looked up only when a check fails: otherwise the booking's
        // transaction finds the key (no extra read for every booking).
        if !violations.isEmpty, let original = try await bookedMeeting(idempotency, caller) { return original }
        try SchedulingValidation.check(violations)
        let stored = try await authorizedPair(request.matchID, caller)
        guard stored.pair.active else {
            if let original = try await bookedMeeting(idempotency, caller) { return original }
            throw RPCError.failedPrecondition(type: "state", subject: "pair/" + request.matchID.uuidString.lowercased(), "this pair's match has ended; no new meetings")
        }
        let start = Int64(request.start.timeIntervalSince1970.rounded())
        let end = start + Int64(request.durationMinutes) * 60
        let inconvenience = try await inconvenience(stored.pair, organisation: caller.organisationID, start: start, end: end)
        let meeting = try await store.book(
            organisation: caller.organisationID,
            NewMeeting(
                id: TimeOrderedID.make(now: now), pair: stored.pair, start: start, end: end, timeZone: request.timeZone, agenda: request.agenda,
                videoURL: videoURL(), inconvenienceMentor: inconvenience.0, inconvenienceMentee: inconvenience.1, seriesID: nil, occurrence: nil
            ),
            idempotency: idempotency, now: now
        )
        return meeting
    }

    /// The meeting booked with an idempotency key, when the key was used for this same request and
    /// the caller may see the meeting; nil otherwise.
    func bookedMeeting(_ idempotency: IdempotencyKey?, _ caller: AuthenticatedCaller) async throws -> Meeting? {
        guard let idempotency, let id = try await store.idempotentOriginal(organisation: caller.organisationID, idempotency),
              let meeting = try await store.meeting(organisation: caller.organisationID, id: id), caller.mayUse(meeting) else { return nil }
        return meeting
    }

    func rescheduleMeeting(_ request: RescheduleMeetingRequest, context: ServerContext) async throws -> Meeting {
        let caller = try context.caller()
        let now = configuration.now()
        var violations: [ErrorDetail.FieldViolation] = []
        if let violation = SchedulingValidation.start(request.start, now: now) { violations.append(violation) }
        if let minutes = request.durationMinutes, let violation = SchedulingValidation.duration(minutes) { violations.append(violation) }
        try SchedulingValidation.check(violations)
        let meeting = try await authorizedMeeting(request.meetingID, caller)
        if let stored = try await pair(organisation: caller.organisationID, match: meeting.matchID), !stored.pair.active {
            throw RPCError.failedPrecondition(type: "state", subject: "pair/" + meeting.matchID.uuidString.lowercased(), "this pair's match has ended; meetings can be cancelled, not moved")
        }
        let start = Int64(request.start.timeIntervalSince1970.rounded())
        let length = request.durationMinutes.map { Int64($0) * 60 } ?? Int64(meeting.end.timeIntervalSince(meeting.start))
        let pair = Pair(matchID: meeting.matchID, programID: meeting.programID, mentorID: meeting.participantIDs[0], menteeID: meeting.participantIDs[1])
        let inconvenience = try await inconvenience(pair, organisation: caller.organisationID, start: start, end: start + length)
        let updated = try await store.reschedule(
            organisation: caller.organisationID, meeting: meeting.id, start: start, end: start + length, version: request.version,
            inconvenience: inconvenience, now: now, authorized: { caller.mayUse($0) }
        )
        return updated
    }

    func cancelMeeting(_ request: CancelMeetingRequest, context: ServerContext) async throws -> Meeting {
        let caller = try context.caller()
        let reason = SchedulingValidation.trimmed(request.reason)
        if reason.isEmpty { throw RPCError.invalidArgument(field: "reason", rule: "required", "say why the meeting is cancelled") }
        if reason.count > 500 { throw RPCError.invalidArgument(field: "reason", rule: "length", "must be at most 500 characters") }
        return try await store.cancel(
            organisation: caller.organisationID, meeting: request.meetingID, reason: reason, now: configuration.now(), authorized: { caller.mayUse($0) }
        )
    }

    func setMeetingStatus(_ request: SetMeetingStatusRequest, context: ServerContext) async throws -> Meeting {
        let caller = try context.caller()
        guard request.status == .held || request.status == .noShow else {
            throw RPCError.invalidArgument(field: "status", rule: "enum", "must be held or no-show (use CancelMeeting to cancel)")
        }
        return try await store.setStatus(
            organisation: caller.organisationID, meeting: request.meetingID, status: request.status, now: configuration.now(), authorized: { caller.mayUse($0) }
        )
    }

    func updateAgenda(_ request: UpdateAgendaRequest, context: ServerContext) async throws -> Meeting {
        let caller = try context.caller()
        if let violation = SchedulingValidation.text(request.agenda, field: "agenda", max: 2000) { throw RPCError.invalidArguments([violation]) }
        return try await store.updateAgenda(
            organisation: caller.organisationID, meeting: request.meetingID, agenda: request.agenda, version: request.version, now: configuration.now(),
            authorized: { caller.mayUse($0) }
        )
    }

    func getMeeting(_ request: MeetingRef, context: ServerContext) async throws -> Meeting {
        try await authorizedMeeting(request.meetingID, try context.caller())
    }

    func listMeetings(_ request: ListMeetingsRequest, context: ServerContext) async throws -> MeetingPage {
        let caller = try context.caller()
        var violations: [ErrorDetail.FieldViolation] = []
        if request.personID == nil && request.matchID == nil {
            violations.append(.init(field: "personID", rule: "required", description: "give personID or matchID"))
        }
        let pageSize = request.pageSize ?? 100
        if !(1...1000).contains(pageSize) { violations.append(.init(field: "pageSize", rule: "range", description: "must be 1–1000")) }
        if let from = request.from, let to = request.to, to <= from {
            violations.append(.init(field: "to", rule: "order", description: "must be after from"))
        }
        var cursor: (Int64, UUID)?
        if let token = request.pageToken {
            let parts = token.split(separator: "_")
            if parts.count == 2, let start = Int64(parts[0]), let id = UUID(uuidString: String(parts[1])) {
                cursor = (start, id)
            } else {
                violations.append(.init(field: "pageToken", rule: "format", description: "is not a token from a previous page"))
            }
        }
        try SchedulingValidation.check(violations)
        // Someone else's meetings: organisation admins and service accounts see all of them,
        // program admins those in the programs they administer, others none.
        var programs: Set<UUID>?
        if let person = request.personID, person != caller.subject, !caller.actsForOrganisation {
            guard !caller.programs.isEmpty else {
                throw RPCError(code: .permissionDenied, message: "listing someone else's meetings needs the org-admin role or to administer their program")
            }
            programs = caller.programs
        }
        if let match = request.matchID { _ = try await authorizedPair(match, caller) }
        var meetings = try await store.meetings(
            organisation: caller.organisationID, person: request.personID, match: request.matchID, programs: programs,
            from: request.from.map { Int64($0.timeIntervalSince1970) }, to: request.to.map { Int64($0.timeIntervalSince1970) },
            includeCancelled: request.includeCancelled ?? false, after: cursor, limit: pageSize
        )
        var next: String?
        if meetings.count > pageSize {
            meetings.removeLast(meetings.count - pageSize)
            if let last = meetings.last { next = "\(Int64(last.start.timeIntervalSince1970))_\(last.id.uuidString.lowercased())" }
        }
        return MeetingPage(meetings: meetings, nextPageToken: next)
    }
}

// MARK: - Series

extension SchedulingServer {
    func bookSeries(_ request: BookSeriesRequest, context: ServerContext) async throws -> Series {
        let caller = try context.caller()
        let now = configuration.now()
        var violations: [ErrorDetail.FieldViolation] = []
        if let violation = SchedulingValidation.duration(request.durationMinutes) { violations.append(violation) }
        if let violation = SchedulingValidation.timeZone(request.timeZone) { violations.append(violation) }
        if let violation = SchedulingValidation.start(request.firstStart, now: now, field: "firstStart") { violations.append(violation) }
        if let violation = SchedulingValidation.text(request.agenda, field: "agenda", max: 2000) { violations.append(violation) }
        if !(1...8).contains(request.everyWeeks) { violations.append(.init(field: "everyWeeks", rule: "range", description: "must be 1–8")) }
        let idempotency = try IdempotencyKey.from(context.metadata, scope: "series", request: request, violations: &violations)
        switch (request.count, request.until) {
        case (let count?, nil):
            if !(2...104).contains(count) { violations.append(.init(field: "count", rule: "range", description: "must be 2–104")) }
        case (nil, let until?):
            if until <= request.firstStart || until > request.firstStart.addingTimeInterval(2 * 366 * 86_400) {
                violations.append(.init(field: "until", rule: "range", description: "must be after firstStart and within 2 years of it"))
            }
        default:
            violations.append(.init(field: "count", rule: "required", description: "give count or until (not both)"))
        }
        // A retry of a series already booked gets it, although its first start may have passed.
        if !violations.isEmpty, let original = try await bookedSeries(idempotency, caller) { return original }
        try SchedulingValidation.check(violations)
        guard let zone = Zones.zone(request.timeZone) else { throw RPCError.invalidArgument(field: "timeZone", rule: "time-zone", "unknown") }
        let first = Int64(request.firstStart.timeIntervalSince1970.rounded())
        let starts = Recurrence.starts(
            first: first, zone: zone, everyWeeks: request.everyWeeks, count: request.count, until: request.until.map { Int64($0.timeIntervalSince1970) }
        )
        // With `until`, up to 105 starts come back: more than 104 is refused, not cut short (the
        // rule's UNTIL would describe occurrences never booked).
        guard starts.count >= 2, starts.count <= 104 else {
            let given = starts.count > 104 ? "more than 104" : "\(starts.count)"
            throw RPCError.invalidArgument(field: "until", rule: "range", "gives \(given) occurrences; a series has 2–104")
        }
        if let last = starts.last, last - first > 2 * 366 * 86_400 {
            throw RPCError.invalidArgument(field: "count", rule: "range", "the last occurrence would be more than 2 years after the first")
        }
        let stored = try await authorizedPair(request.matchID, caller)
        guard stored.pair.active else {
            // A retry of a series booked before the pair ended gets it.
            if let original = try await bookedSeries(idempotency, caller) { return original }
            throw RPCError.failedPrecondition(type: "state", subject: "pair/" + request.matchID.uuidString.lowercased(), "this pair's match has ended; no new meetings")
        }
        let seriesID = TimeOrderedID.make(now: now)
        let length = Int64(request.durationMinutes) * 60
        // One video room for the whole series, as with any recurring meeting.
        let link = videoURL()
        var occurrences: [NewMeeting] = []
        for (index, start) in starts.enumerated() {
            let inconvenience = try await inconvenience(stored.pair, organisation: caller.organisationID, start: start, end: start + length)
            occurrences.append(NewMeeting(
                id: TimeOrderedID.make(now: now), pair: stored.pair, start: start, end: start + length, timeZone: request.timeZone,
                agenda: request.agenda, videoURL: link, inconvenienceMentor: inconvenience.0, inconvenienceMentee: inconvenience.1,
                seriesID: seriesID, occurrence: index
            ))
        }
        let series = StoredSeries(
            id: seriesID, matchID: request.matchID, timeZone: request.timeZone, everyWeeks: request.everyWeeks, count: request.count,
            until: request.until.map { Int64($0.timeIntervalSince1970) }, firstStart: first, durationMinutes: request.durationMinutes,
            agenda: request.agenda, sequence: 0, cancelled: false
        )
        let (saved, meetings) = try await store.bookSeries(
            organisation: caller.organisationID, series: series, occurrences: occurrences, idempotency: idempotency, now: now
        )
        return message(saved, meetings)
    }

    /// The series booked with an idempotency key, when the key was used for this same request and
    /// the caller may see the series; nil otherwise.
    func bookedSeries(_ idempotency: IdempotencyKey?, _ caller: AuthenticatedCaller) async throws -> Series? {
        guard let idempotency, let id = try await store.idempotentOriginal(organisation: caller.organisationID, idempotency),
              let (series, meetings) = try await store.series(organisation: caller.organisationID, id: id),
              let first = meetings.first, caller.mayUse(first) else { return nil }
        return message(series, meetings)
    }

    func message(_ series: StoredSeries, _ meetings: [Meeting]) -> Series {
        Series(
            id: series.id, matchID: series.matchID,
            rule: ICalendar.rule(everyWeeks: series.everyWeeks, count: series.count, until: series.until.map { Date(timeIntervalSince1970: TimeInterval($0)) }),
            timeZone: series.timeZone, meetings: meetings
        )
    }

    func getSeries(_ request: SeriesRef, context: ServerContext) async throws -> Series {
        let caller = try context.caller()
        guard let (series, meetings) = try await store.series(organisation: caller.organisationID, id: request.seriesID),
              let first = meetings.first, caller.mayUse(first) else {
            throw RPCError.notFound("series", request.seriesID.uuidString.lowercased())
        }
        return message(series, meetings)
    }

    func cancelSeries(_ request: CancelSeriesRequest, context: ServerContext) async throws -> Series {
        let caller = try context.caller()
        let reason = SchedulingValidation.trimmed(request.reason)
        if reason.isEmpty { throw RPCError.invalidArgument(field: "reason", rule: "required", "say why the series is cancelled") }
        if reason.count > 500 { throw RPCError.invalidArgument(field: "reason", rule: "length", "must be at most 500 characters") }
        _ = try await getSeries(SeriesRef(seriesID: request.seriesID), context: context)
        let from = Int64((request.from ?? configuration.now()).timeIntervalSince1970)
        let (series, meetings) = try await store.cancelSeries(organisation: caller.organisationID, id: request.seriesID, from: from, reason: reason, now: configuration.now())
        return message(series, meetings)
    }
}

extension IdempotencyKey {
    /// The call's idempotency key (metadata), kept apart per method by `scope`, with the digest of
    /// the request it came with; nil without one. A key of the wrong length adds a violation.
    static func from(
        _ metadata: Metadata, scope: String, request: some Encodable, violations: inout [ErrorDetail.FieldViolation]
    ) throws -> IdempotencyKey? {
        guard let key = metadata[Metadata.Keys.idempotencyKey] else { return nil }
        guard !key.isEmpty, key.count <= 200 else {
            violations.append(.init(field: "idempotency-key", rule: "length", description: "must be 1–200 characters"))
            return nil
        }
        return IdempotencyKey(key: scope + ":" + key, requestDigest: try CBOREncoder().encodeBytes(request))
    }
}

// MARK: - Calendar and reminders

extension SchedulingServer {
    func exportCalendar(_ request: ExportCalendarRequest, context: ServerContext) async throws -> CalendarExport {
        let caller = try context.caller()
        guard request.personID == caller.subject || caller.actsForOrganisation else {
            throw RPCError(code: .permissionDenied, message: "exporting someone else's calendar needs the org-admin role")
        }
        let now = configuration.now()
        var meetings: [Meeting] = []
        var cursor: (Int64, UUID)?
        repeat {
            let page = try await store.meetings(
                organisation: caller.organisationID, person: request.personID, match: nil, from: Int64(now.timeIntervalSince1970) - 30 * 86_400, to: nil,
                includeCancelled: true, after: cursor, limit: 1000
            )
            meetings += page.prefix(1000)
            cursor = page.count > 1000 ? page[999].cursor : nil
        } while cursor != nil && meetings.count < 20_000
        // A series in the export comes with all of its occurrences, also those that started more
        // than 30 days ago: its rule expands from the first, so their cancellations (EXDATE) and
        // changes (overrides) must be there too, and its SEQUENCE is the highest of them all.
        let seriesIDs = Set(meetings.compactMap(\.seriesID))
        let (series, occurrences, originals) = try await store.seriesDetails(organisation: caller.organisationID, ids: seriesIDs)
        meetings.removeAll { meeting in meeting.seriesID.map { occurrences[$0] != nil } ?? false }
        meetings += occurrences.values.joined()
        let calendarSeries = Dictionary(uniqueKeysWithValues: series.map { series in
            (series.id, CalendarSeries(
                id: series.id, timeZone: series.timeZone, everyWeeks: series.everyWeeks, count: series.count,
                until: series.until.map { Date(timeIntervalSince1970: TimeInterval($0)) }, firstStart: Date(timeIntervalSince1970: TimeInterval(series.firstStart)),
                durationMinutes: series.durationMinutes, agenda: series.agenda, sequence: series.sequence,
                // Cancelled once every occurrence is, however each was (CancelSeries, CancelMeeting,
                // an erasure): read from the occurrences, not from the flag CancelSeries sets.
                cancelled: occurrences[series.id].map { all in !all.isEmpty && all.allSatisfy { $0.status == .cancelled } } ?? series.cancelled
            ))
        })
        let ics = ICalendar.export(
            meetings: meetings, series: calendarSeries, originalStarts: originals.mapValues { Date(timeIntervalSince1970: TimeInterval($0)) },
            personName: nil, now: now
        )
        return CalendarExport(ics: ics)
    }

    func streamReminders(_ request: StreamRemindersRequest, responses: RPCWriter<Reminder>, context: ServerContext) async throws {
        let caller = try context.caller()
        guard caller.actsForOrganisation else {
            throw RPCError(code: .permissionDenied, message: "reminders are for the organisation's notification worker (org-admin or a service account)")
        }
        let lookback = Int64(request.lookbackSeconds ?? 3600)
        guard (0...7 * 86_400).contains(lookback) else {
            throw RPCError.invalidArgument(field: "lookbackSeconds", rule: "range", "must be 0–604800")
        }
        // The look-back bounds the first pass only: every later pass covers all that became due
        // since then (from the stream's start less the look-back), so a reminder that is not
        // acknowledged keeps coming however long ago it fell due, and with a look-back of 0 those
        // that fall due while the stream is open are sent.
        let since = Int64(configuration.now().timeIntervalSince1970) - lookback
        // Sent on this stream and not acknowledged yet: sent again after a minute.
        var sent: [String: Date] = [:]
        // A full pass (all that is due since `since`, for the re-sends: up to a day of meetings
        // for the 24-hour reminders) every 15 s; the passes between, every 200 ms, read only what
        // fell due since the pass before (less a few seconds, for a write that became durable
        // late; the next full pass catches any later one).
        var lastFull: Date?
        var lastPass = since
        while !Task.isCancelled {
            let now = configuration.now()
            let full = lastFull.map { now.timeIntervalSince($0) >= 15 || now < $0 } ?? true
            let from = full ? since : max(since, lastPass - 5)
            let due = try await store.dueReminders(organisation: caller.organisationID, now: Int64(now.timeIntervalSince1970), since: from, limit: 500)
            if full { lastFull = now }
            lastPass = Int64(now.timeIntervalSince1970)
            var dueIDs: Set<String> = []
            for reminder in due {
                let id = reminder.meeting.id.uuidString.lowercased() + "/" + reminder.kind.rawValue
                dueIDs.insert(id)
                if let at = sent[id], now.timeIntervalSince(at) < 60 { continue }
                try await responses.write(Reminder(
                    id: id, kind: reminder.kind.rawValue, dueAt: Date(timeIntervalSince1970: TimeInterval(reminder.dueAt)), meeting: reminder.meeting
                ))
                sent[id] = now
            }
            // Only a full pass sees every reminder still due.
            if full { sent = sent.filter { dueIDs.contains($0.key) } }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    func acknowledgeReminders(_ request: AcknowledgeRemindersRequest, context: ServerContext) async throws -> Empty {
        let caller = try context.caller()
        guard caller.actsForOrganisation else {
            throw RPCError(code: .permissionDenied, message: "acknowledging reminders needs the org-admin role or a service account")
        }
        var parsed: [(UUID, ReminderKind)] = []
        var violations: [ErrorDetail.FieldViolation] = []
        for (index, id) in request.reminderIDs.enumerated() {
            let parts = id.split(separator: "/")
            if parts.count == 2, let meeting = UUID(uuidString: String(parts[0])), let kind = ReminderKind(rawValue: String(parts[1])) {
                parsed.append((meeting, kind))
            } else {
                violations.append(.init(field: "reminderIDs[\(index)]", rule: "format", description: "'\(id.prefix(80))' is not a reminder id"))
            }
        }
        if request.reminderIDs.count > 1000 { violations.append(.init(field: "reminderIDs", rule: "length", description: "at most 1000 at once")) }
        try SchedulingValidation.check(violations)
        try await store.acknowledge(organisation: caller.organisationID, parsed, now: configuration.now())
        return Empty()
    }
}

extension Meeting {
    var cursor: (Int64, UUID) { (Int64(start.timeIntervalSince1970), id) }
}

// MARK: - Change feed (internal)

extension SchedulingServer {
    /// Internal methods and the services allowed to call them (for `AuthServerInterceptor`).
    public static var internalMethods: [String: Set<String>] { Scheduling.internalMethods }

    /// Meeting changes of every organisation, for the services that keep a copy. Only an
    /// internal peer (mutual TLS, a listed certificate name) gets here.
    func listMeetingChanges(_ request: ListMeetingChangesRequest, context: ServerContext) async throws -> MeetingChangePage {
        _ = try context.internalPeer()
        let limit = try RPCError.checkFeedPage(after: request.after, limit: request.limit)
        let changes = try await store.meetingChanges(after: request.after, limit: limit)
        return MeetingChangePage(changes: changes, last: changes.last?.sequence ?? request.after)
    }
}
