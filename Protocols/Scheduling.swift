#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif
public import TandemWire

/// The scheduling service: availability, fair slot finding across time zones, booking, series,
/// calendar export and reminders (Protocols/Scheduling.md).
public enum Scheduling {
    public static let serviceName = "scheduling"

    // Availability and pairs
    public static let setAvailability = MethodDescriptor<Availability, Availability>(service: serviceName, method: "SetAvailability", idempotent: true)
    public static let getAvailability = MethodDescriptor<PersonRef, Availability>(service: serviceName, method: "GetAvailability", idempotent: true)
    public static let registerPair = MethodDescriptor<Pair, Pair>(service: serviceName, method: "RegisterPair", idempotent: true)
    public static let getPair = MethodDescriptor<PairRef, Pair>(service: serviceName, method: "GetPair", idempotent: true)

    // Slots and meetings
    public static let findSlots = MethodDescriptor<FindSlotsRequest, SlotList>(service: serviceName, method: "FindSlots", idempotent: true)
    public static let bookMeeting = MethodDescriptor<BookMeetingRequest, Meeting>(service: serviceName, method: "BookMeeting")
    public static let rescheduleMeeting = MethodDescriptor<RescheduleMeetingRequest, Meeting>(service: serviceName, method: "RescheduleMeeting")
    public static let cancelMeeting = MethodDescriptor<CancelMeetingRequest, Meeting>(service: serviceName, method: "CancelMeeting", idempotent: true)
    public static let setMeetingStatus = MethodDescriptor<SetMeetingStatusRequest, Meeting>(service: serviceName, method: "SetMeetingStatus", idempotent: true)
    public static let updateAgenda = MethodDescriptor<UpdateAgendaRequest, Meeting>(service: serviceName, method: "UpdateAgenda", idempotent: true)
    public static let getMeeting = MethodDescriptor<MeetingRef, Meeting>(service: serviceName, method: "GetMeeting", idempotent: true)
    public static let listMeetings = MethodDescriptor<ListMeetingsRequest, MeetingPage>(service: serviceName, method: "ListMeetings", idempotent: true)

    // Series
    public static let bookSeries = MethodDescriptor<BookSeriesRequest, Series>(service: serviceName, method: "BookSeries")
    public static let getSeries = MethodDescriptor<SeriesRef, Series>(service: serviceName, method: "GetSeries", idempotent: true)
    public static let cancelSeries = MethodDescriptor<CancelSeriesRequest, Series>(service: serviceName, method: "CancelSeries", idempotent: true)

    // Calendar and reminders
    public static let exportCalendar = MethodDescriptor<ExportCalendarRequest, CalendarExport>(service: serviceName, method: "ExportCalendar", idempotent: true)
    public static let streamReminders = MethodDescriptor<StreamRemindersRequest, Reminder>(service: serviceName, method: "StreamReminders", kind: .serverStreaming)
    public static let acknowledgeReminders = MethodDescriptor<AcknowledgeRemindersRequest, Empty>(service: serviceName, method: "AcknowledgeReminders", idempotent: true)

    // Internal (service to service, over mutual TLS, no token)
    /// Every meeting write in change order, for services that keep a copy (feedback).
    public static let listMeetingChanges = MethodDescriptor<ListMeetingChangesRequest, MeetingChangePage>(service: serviceName, method: "ListMeetingChanges", idempotent: true)

    public static let methods: [AnyMethodDescriptor] = [
        setAvailability.erased, getAvailability.erased, registerPair.erased, getPair.erased,
        findSlots.erased, bookMeeting.erased, rescheduleMeeting.erased, cancelMeeting.erased, setMeetingStatus.erased, updateAgenda.erased,
        getMeeting.erased, listMeetings.erased,
        bookSeries.erased, getSeries.erased, cancelSeries.erased,
        exportCalendar.erased, streamReminders.erased, acknowledgeReminders.erased,
        listMeetingChanges.erased,
    ]

    /// Internal methods and the services (certificate names) allowed to call them.
    public static let internalMethods: [String: Set<String>] = [
        listMeetingChanges.fullName: ["feedback"],
    ]
}

// MARK: - Availability

/// A weekly recurring window in the person's own time zone.
public struct WeeklyWindow: Codable, Hashable, Sendable {
    /// ISO weekday: 1 Monday … 7 Sunday.
    public var day: Int
    /// Minutes after local midnight, 0–1439.
    public var startMinute: Int
    /// Minutes after local midnight, after `startMinute`, at most 1440.
    public var endMinute: Int

    public init(day: Int, startMinute: Int, endMinute: Int) {
        self.day = day
        self.startMinute = startMinute
        self.endMinute = endMinute
    }

    enum CodingKeys: Int, CodingKey { case day = 1, startMinute, endMinute }
}

/// A change to one local date: time off (`available` false) or extra hours (`available` true).
/// Without minutes it covers the whole day.
public struct AvailabilityException: Codable, Hashable, Sendable {
    /// `YYYY-MM-DD`, in the person's time zone.
    public var date: String
    public var available: Bool
    public var startMinute: Int?
    public var endMinute: Int?
    public var note: String?

    public init(date: String, available: Bool, startMinute: Int? = nil, endMinute: Int? = nil, note: String? = nil) {
        self.date = date
        self.available = available
        self.startMinute = startMinute
        self.endMinute = endMinute
        self.note = note
    }

    enum CodingKeys: Int, CodingKey { case date = 1, available, startMinute, endMinute, note }
}

/// When a person can meet, in their own time zone.
public struct Availability: Codable, Hashable, Sendable {
    public var personID: UUID
    /// IANA time zone, e.g. `Asia/Kolkata`.
    public var timeZone: String
    /// The person's working hours (slots outside them are ranked as an inconvenience).
    public var workingHours: WorkingHours
    /// When the person is willing to meet; empty means their working hours.
    public var windows: [WeeklyWindow]
    public var exceptions: [AvailabilityException]
    /// Whether windows outside working hours may be offered at all (extra-hours exceptions are).
    public var acceptsOutsideWorkingHours: Bool
    /// Set by the service; `SetAvailability` may send the version it read (a stale one is ABORTED).
    public var version: Int?
    public var updatedAt: Date?

    public init(
        personID: UUID, timeZone: String, workingHours: WorkingHours = WorkingHours(), windows: [WeeklyWindow] = [],
        exceptions: [AvailabilityException] = [], acceptsOutsideWorkingHours: Bool = false, version: Int? = nil, updatedAt: Date? = nil
    ) {
        self.personID = personID
        self.timeZone = timeZone
        self.workingHours = workingHours
        self.windows = windows
        self.exceptions = exceptions
        self.acceptsOutsideWorkingHours = acceptsOutsideWorkingHours
        self.version = version
        self.updatedAt = updatedAt
    }

    enum CodingKeys: Int, CodingKey { case personID = 1, timeZone, workingHours, windows, exceptions, acceptsOutsideWorkingHours, version, updatedAt }
}

/// A mentoring pair that may book meetings (registered when a match is made).
public struct Pair: Codable, Hashable, Sendable {
    public var matchID: UUID
    public var programID: UUID
    public var mentorID: UUID
    public var menteeID: UUID
    /// Set false when the match ends: no new bookings.
    public var active: Bool

    public init(matchID: UUID, programID: UUID, mentorID: UUID, menteeID: UUID, active: Bool = true) {
        self.matchID = matchID
        self.programID = programID
        self.mentorID = mentorID
        self.menteeID = menteeID
        self.active = active
    }

    enum CodingKeys: Int, CodingKey { case matchID = 1, programID, mentorID, menteeID, active }
}

public struct PairRef: Codable, Hashable, Sendable {
    public var matchID: UUID

    public init(matchID: UUID) {
        self.matchID = matchID
    }

    enum CodingKeys: Int, CodingKey { case matchID = 1 }
}

// MARK: - Slots

public struct FindSlotsRequest: Codable, Hashable, Sendable {
    public var matchID: UUID
    public var durationMinutes: Int
    /// The range to search, at most 62 days long.
    public var from: Date
    public var to: Date
    /// Candidate starts are this many minutes apart (5–60, default 30), aligned to the hour in UTC.
    public var stepMinutes: Int?
    /// How many slots to return (1–100, default 10).
    public var limit: Int?
    /// Free time kept around existing meetings (0–120 minutes, default: the service's setting).
    public var bufferMinutes: Int?

    public init(matchID: UUID, durationMinutes: Int, from: Date, to: Date, stepMinutes: Int? = nil, limit: Int? = nil, bufferMinutes: Int? = nil) {
        self.matchID = matchID
        self.durationMinutes = durationMinutes
        self.from = from
        self.to = to
        self.stepMinutes = stepMinutes
        self.limit = limit
        self.bufferMinutes = bufferMinutes
    }

    enum CodingKeys: Int, CodingKey { case matchID = 1, durationMinutes, from, to, stepMinutes, limit, bufferMinutes }
}

/// How a slot looks to one participant.
public struct SlotView: Codable, Hashable, Sendable {
    public var personID: UUID
    public var timeZone: String
    /// Local wall-clock start and end, `YYYY-MM-DDTHH:MM`.
    public var localStart: String
    public var localEnd: String
    /// 0 inside working hours; grows with time outside them, more at night and on days off.
    public var inconvenience: Double
    /// Why, in words: e.g. "within working hours", "90 min after working hours, ends 19:30".
    public var reasons: [String]

    public init(personID: UUID, timeZone: String, localStart: String, localEnd: String, inconvenience: Double, reasons: [String]) {
        self.personID = personID
        self.timeZone = timeZone
        self.localStart = localStart
        self.localEnd = localEnd
        self.inconvenience = inconvenience
        self.reasons = reasons
    }

    enum CodingKeys: Int, CodingKey { case personID = 1, timeZone, localStart, localEnd, inconvenience, reasons }
}

public struct Slot: Codable, Hashable, Sendable {
    public var start: Date
    public var end: Date
    /// Lower is better: both inconveniences plus how unevenly the pair's history would share them.
    public var score: Double
    /// The mentor's view, then the mentee's.
    public var participants: [SlotView]
    /// Why the slot ranks where it does.
    public var explanation: String

    public init(start: Date, end: Date, score: Double, participants: [SlotView], explanation: String) {
        self.start = start
        self.end = end
        self.score = score
        self.participants = participants
        self.explanation = explanation
    }

    enum CodingKeys: Int, CodingKey { case start = 1, end, score, participants, explanation }
}

public struct SlotList: Codable, Hashable, Sendable {
    /// Best first.
    public var slots: [Slot]
    /// How many candidate starts both could attend.
    public var candidates: Int
    /// The inconvenience each participant has carried in the pair's meetings so far (mentor, mentee).
    public var burden: [Double]

    public init(slots: [Slot], candidates: Int, burden: [Double]) {
        self.slots = slots
        self.candidates = candidates
        self.burden = burden
    }

    enum CodingKeys: Int, CodingKey { case slots = 1, candidates, burden }
}

// MARK: - Meetings

/// Books one meeting for a mentoring pair. Send an `idempotency-key` to make retries safe.
public struct BookMeetingRequest: Codable, Hashable, Sendable {
    /// The match (mentoring pair) the meeting is for.
    public var matchID: UUID
    public var start: Date
    public var durationMinutes: Int
    /// The IANA time zone the booker sees the meeting in (for confirmations).
    public var timeZone: String
    /// What the pair plans to talk about.
    public var agenda: String?

    public init(matchID: UUID, start: Date, durationMinutes: Int, timeZone: String, agenda: String? = nil) {
        self.matchID = matchID
        self.start = start
        self.durationMinutes = durationMinutes
        self.timeZone = timeZone
        self.agenda = agenda
    }

    enum CodingKeys: Int, CodingKey {
        case matchID = 1
        case start = 2
        case durationMinutes = 3
        case timeZone = 4
        case agenda = 5
    }
}

public enum MeetingStatus: String, Codable, Hashable, Sendable, CaseIterable {
    case scheduled
    case held
    case cancelled
    case noShow = "no-show"
}

public struct Meeting: Codable, Hashable, Sendable {
    public var id: UUID
    public var matchID: UUID
    public var programID: UUID
    /// Mentor, then mentee.
    public var participantIDs: [UUID]
    public var start: Date
    public var end: Date
    public var timeZone: String
    public var status: MeetingStatus
    public var agenda: String?
    public var videoURL: String
    public var seriesID: UUID?
    /// 0-based position in its series.
    public var occurrence: Int?
    /// Bumped on every change that calendars must see (iCalendar SEQUENCE).
    public var sequence: Int
    public var cancelReason: String?
    public var version: Int
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: UUID, matchID: UUID, programID: UUID, participantIDs: [UUID], start: Date, end: Date, timeZone: String, status: MeetingStatus,
        agenda: String?, videoURL: String, seriesID: UUID?, occurrence: Int?, sequence: Int, cancelReason: String?, version: Int,
        createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.matchID = matchID
        self.programID = programID
        self.participantIDs = participantIDs
        self.start = start
        self.end = end
        self.timeZone = timeZone
        self.status = status
        self.agenda = agenda
        self.videoURL = videoURL
        self.seriesID = seriesID
        self.occurrence = occurrence
        self.sequence = sequence
        self.cancelReason = cancelReason
        self.version = version
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    enum CodingKeys: Int, CodingKey {
        case id = 1, matchID, programID, participantIDs, start, end, timeZone, status, agenda, videoURL, seriesID, occurrence, sequence,
             cancelReason, version, createdAt, updatedAt
    }
}

public struct MeetingRef: Codable, Hashable, Sendable {
    public var meetingID: UUID

    public init(meetingID: UUID) {
        self.meetingID = meetingID
    }

    enum CodingKeys: Int, CodingKey { case meetingID = 1 }
}

public struct RescheduleMeetingRequest: Codable, Hashable, Sendable {
    public var meetingID: UUID
    public var start: Date
    /// Keeps the current length when absent.
    public var durationMinutes: Int?
    /// The version read; a stale one is ABORTED.
    public var version: Int?

    public init(meetingID: UUID, start: Date, durationMinutes: Int? = nil, version: Int? = nil) {
        self.meetingID = meetingID
        self.start = start
        self.durationMinutes = durationMinutes
        self.version = version
    }

    enum CodingKeys: Int, CodingKey { case meetingID = 1, start, durationMinutes, version }
}

public struct CancelMeetingRequest: Codable, Hashable, Sendable {
    public var meetingID: UUID
    public var reason: String

    public init(meetingID: UUID, reason: String) {
        self.meetingID = meetingID
        self.reason = reason
    }

    enum CodingKeys: Int, CodingKey { case meetingID = 1, reason }
}

public struct SetMeetingStatusRequest: Codable, Hashable, Sendable {
    public var meetingID: UUID
    /// `held` or `no-show`, once the meeting has started.
    public var status: MeetingStatus

    public init(meetingID: UUID, status: MeetingStatus) {
        self.meetingID = meetingID
        self.status = status
    }

    enum CodingKeys: Int, CodingKey { case meetingID = 1, status }
}

public struct UpdateAgendaRequest: Codable, Hashable, Sendable {
    public var meetingID: UUID
    public var agenda: String?
    public var version: Int?

    public init(meetingID: UUID, agenda: String?, version: Int? = nil) {
        self.meetingID = meetingID
        self.agenda = agenda
        self.version = version
    }

    enum CodingKeys: Int, CodingKey { case meetingID = 1, agenda, version }
}

public struct ListMeetingsRequest: Codable, Hashable, Sendable {
    /// One person's meetings (either this or `matchID`).
    public var personID: UUID?
    public var matchID: UUID?
    /// Meetings starting in [from, to); both optional.
    public var from: Date?
    public var to: Date?
    public var includeCancelled: Bool?
    /// 1–1000, default 100.
    public var pageSize: Int?
    public var pageToken: String?

    public init(personID: UUID? = nil, matchID: UUID? = nil, from: Date? = nil, to: Date? = nil, includeCancelled: Bool? = nil, pageSize: Int? = nil, pageToken: String? = nil) {
        self.personID = personID
        self.matchID = matchID
        self.from = from
        self.to = to
        self.includeCancelled = includeCancelled
        self.pageSize = pageSize
        self.pageToken = pageToken
    }

    enum CodingKeys: Int, CodingKey { case personID = 1, matchID, from, to, includeCancelled, pageSize, pageToken }
}

public struct MeetingPage: Codable, Hashable, Sendable {
    /// By start time.
    public var meetings: [Meeting]
    public var nextPageToken: String?

    public init(meetings: [Meeting], nextPageToken: String?) {
        self.meetings = meetings
        self.nextPageToken = nextPageToken
    }

    enum CodingKeys: Int, CodingKey { case meetings = 1, nextPageToken }
}

// MARK: - Series

public struct BookSeriesRequest: Codable, Hashable, Sendable {
    public var matchID: UUID
    /// The first occurrence; later ones keep its local time in `timeZone` across daylight-saving changes.
    public var firstStart: Date
    public var durationMinutes: Int
    public var timeZone: String
    /// 1 for weekly, 2 for every other week… (1–8).
    public var everyWeeks: Int
    /// How many occurrences (2–104); or give `until`.
    public var count: Int?
    /// No occurrence starts after this.
    public var until: Date?
    public var agenda: String?

    public init(matchID: UUID, firstStart: Date, durationMinutes: Int, timeZone: String, everyWeeks: Int = 1, count: Int? = nil, until: Date? = nil, agenda: String? = nil) {
        self.matchID = matchID
        self.firstStart = firstStart
        self.durationMinutes = durationMinutes
        self.timeZone = timeZone
        self.everyWeeks = everyWeeks
        self.count = count
        self.until = until
        self.agenda = agenda
    }

    enum CodingKeys: Int, CodingKey { case matchID = 1, firstStart, durationMinutes, timeZone, everyWeeks, count, until, agenda }
}

public struct Series: Codable, Hashable, Sendable {
    public var id: UUID
    public var matchID: UUID
    /// The iCalendar rule, e.g. `FREQ=WEEKLY;INTERVAL=2;COUNT=6`.
    public var rule: String
    public var timeZone: String
    /// Every occurrence, by start (cancelled ones included, with their status).
    public var meetings: [Meeting]

    public init(id: UUID, matchID: UUID, rule: String, timeZone: String, meetings: [Meeting]) {
        self.id = id
        self.matchID = matchID
        self.rule = rule
        self.timeZone = timeZone
        self.meetings = meetings
    }

    enum CodingKeys: Int, CodingKey { case id = 1, matchID, rule, timeZone, meetings }
}

public struct SeriesRef: Codable, Hashable, Sendable {
    public var seriesID: UUID

    public init(seriesID: UUID) {
        self.seriesID = seriesID
    }

    enum CodingKeys: Int, CodingKey { case seriesID = 1 }
}

public struct CancelSeriesRequest: Codable, Hashable, Sendable {
    public var seriesID: UUID
    /// Cancels the occurrences starting at or after this (default: all that have not started).
    public var from: Date?
    public var reason: String

    public init(seriesID: UUID, from: Date? = nil, reason: String) {
        self.seriesID = seriesID
        self.from = from
        self.reason = reason
    }

    enum CodingKeys: Int, CodingKey { case seriesID = 1, from, reason }
}

// MARK: - Calendar and reminders

public struct ExportCalendarRequest: Codable, Hashable, Sendable {
    public var personID: UUID

    public init(personID: UUID) {
        self.personID = personID
    }

    enum CodingKeys: Int, CodingKey { case personID = 1 }
}

public struct CalendarExport: Codable, Hashable, Sendable {
    /// `text/calendar` (RFC 5545).
    public var contentType: String
    public var ics: String

    public init(contentType: String = "text/calendar; charset=utf-8", ics: String) {
        self.contentType = contentType
        self.ics = ics
    }

    enum CodingKeys: Int, CodingKey { case contentType = 1, ics }
}

public struct StreamRemindersRequest: Codable, Hashable, Sendable {
    /// Only reminders due within this many seconds before now are sent (late ones are dropped
    /// after the meeting starts anyway). Default 3600.
    public var lookbackSeconds: Int?

    public init(lookbackSeconds: Int? = nil) {
        self.lookbackSeconds = lookbackSeconds
    }

    enum CodingKeys: Int, CodingKey { case lookbackSeconds = 1 }
}

/// A reminder that has become due. Delivered until acknowledged.
public struct Reminder: Codable, Hashable, Sendable {
    /// `<meeting id>/<kind>`: what `AcknowledgeReminders` takes.
    public var id: String
    /// `24h` or `15m` before the start.
    public var kind: String
    public var dueAt: Date
    public var meeting: Meeting

    public init(id: String, kind: String, dueAt: Date, meeting: Meeting) {
        self.id = id
        self.kind = kind
        self.dueAt = dueAt
        self.meeting = meeting
    }

    enum CodingKeys: Int, CodingKey { case id = 1, kind, dueAt, meeting }
}

public struct AcknowledgeRemindersRequest: Codable, Hashable, Sendable {
    public var reminderIDs: [String]

    public init(reminderIDs: [String]) {
        self.reminderIDs = reminderIDs
    }

    enum CodingKeys: Int, CodingKey { case reminderIDs = 1 }
}

// MARK: - Change feed (internal)

/// Asks for meeting changes after a change sequence.
public struct ListMeetingChangesRequest: Codable, Hashable, Sendable {
    /// The last change sequence already seen; 0 reads from the start.
    public var after: Int
    /// 1–1000, default 500.
    public var limit: Int?

    public init(after: Int, limit: Int? = nil) {
        self.after = after
        self.limit = limit
    }

    enum CodingKeys: Int, CodingKey { case after = 1, limit }
}

/// A meeting as it was at one change. The feed is compacted: a meeting appears once, at its
/// latest change, so a reader that falls behind skips intermediate states but never the last one.
public struct MeetingChange: Codable, Hashable, Sendable {
    public var sequence: Int
    public var organisationID: UUID
    public var meeting: Meeting

    public init(sequence: Int, organisationID: UUID, meeting: Meeting) {
        self.sequence = sequence
        self.organisationID = organisationID
        self.meeting = meeting
    }

    enum CodingKeys: Int, CodingKey { case sequence = 1, organisationID, meeting }
}

/// Changes in increasing sequence order.
public struct MeetingChangePage: Codable, Hashable, Sendable {
    public var changes: [MeetingChange]
    /// The cursor for the next request: the last change's sequence, or the request's `after`
    /// when there was nothing new.
    public var last: Int

    public init(changes: [MeetingChange], last: Int) {
        self.changes = changes
        self.last = last
    }

    enum CodingKeys: Int, CodingKey { case changes = 1, last }
}
