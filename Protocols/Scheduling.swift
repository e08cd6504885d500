#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif
public import TandemWire

/// The scheduling service: availability, slot finding, booking (Protocols/Scheduling.md).
public enum Scheduling {
    public static let serviceName = "scheduling"
}

/// Books one meeting for a mentoring pair.
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
