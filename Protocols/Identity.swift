#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif
public import TandemWire

/// The identity service: organisations, programs, people, profiles, sign-in (Protocols/Identity.md).
public enum Identity {
    public static let serviceName = "identity"
}

/// A skill with a level from 1 (beginner) to 5 (expert).
public struct SkillLevel: Codable, Hashable, Sendable {
    public var name: String
    public var level: Int

    public init(name: String, level: Int) {
        self.name = name
        self.level = level
    }

    enum CodingKeys: Int, CodingKey {
        case name = 1
        case level = 2
    }
}

/// The part a person plays in a program.
public enum ParticipantRole: String, Codable, Hashable, Sendable, CaseIterable {
    case mentor
    case mentee
    /// Mentor to some, mentee of others (peer and reverse programs).
    case both
}

/// How often a pair prefers to meet.
public enum MeetingCadence: String, Codable, Hashable, Sendable, CaseIterable {
    case weekly
    case fortnightly
    case monthly
    case flexible
}

/// A person's profile in one program: what matching reads and what a mentee sees of a mentor.
public struct ParticipantProfile: Codable, Hashable, Sendable {
    /// The participation (person in program) id.
    public var id: UUID
    public var personID: UUID
    public var programID: UUID
    public var role: ParticipantRole
    public var displayName: String
    public var division: String
    public var jobTitle: String
    /// Seniority level, 1 (entry) to 10 (executive).
    public var seniority: Int
    /// IANA time zone, e.g. `Europe/London`.
    public var timeZone: String
    /// BCP 47 language tags, e.g. `en`, `pt-BR`.
    public var languages: [String]
    public var skillsOffered: [SkillLevel]
    public var skillsWanted: [SkillLevel]
    /// The participant's goals in their own words.
    public var goals: String?
    public var goalTags: [String]
    /// Conversation topics the participant is open to.
    public var topics: [String]
    public var cadence: MeetingCadence?
    /// For mentors: the most mentees at once.
    public var capacity: Int?
    /// Optional and never a matching barrier.
    public var location: String?
    public var updatedAt: Date
    /// Incremented on every change; updates must name the version they read (optimistic concurrency).
    public var version: Int

    public init(
        id: UUID, personID: UUID, programID: UUID, role: ParticipantRole, displayName: String,
        division: String, jobTitle: String, seniority: Int, timeZone: String, languages: [String],
        skillsOffered: [SkillLevel], skillsWanted: [SkillLevel], goals: String? = nil, goalTags: [String] = [],
        topics: [String] = [], cadence: MeetingCadence? = nil, capacity: Int? = nil, location: String? = nil,
        updatedAt: Date, version: Int
    ) {
        self.id = id
        self.personID = personID
        self.programID = programID
        self.role = role
        self.displayName = displayName
        self.division = division
        self.jobTitle = jobTitle
        self.seniority = seniority
        self.timeZone = timeZone
        self.languages = languages
        self.skillsOffered = skillsOffered
        self.skillsWanted = skillsWanted
        self.goals = goals
        self.goalTags = goalTags
        self.topics = topics
        self.cadence = cadence
        self.capacity = capacity
        self.location = location
        self.updatedAt = updatedAt
        self.version = version
    }

    enum CodingKeys: Int, CodingKey {
        case id = 1
        case personID = 2
        case programID = 3
        case role = 4
        case displayName = 5
        case division = 6
        case jobTitle = 7
        case seniority = 8
        case timeZone = 9
        case languages = 10
        case skillsOffered = 11
        case skillsWanted = 12
        case goals = 13
        case goalTags = 14
        case topics = 15
        case cadence = 16
        case capacity = 17
        case location = 18
        case updatedAt = 19
        case version = 20
    }
}
