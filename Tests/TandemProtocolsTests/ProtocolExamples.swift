import Foundation
import TandemProtocols
import TandemWire

/// An example of one documented message: every field set, and only the required ones set.
struct MessageExample {
    let name: String
    let full: [UInt8]
    let minimal: [UInt8]
    /// Decodes both encodings and checks they give back the values they came from.
    let roundTrips: () throws -> Bool

    init<T: Codable & Equatable>(_ type: T.Type, full: T, minimal: T) throws {
        name = String(describing: T.self)
        let encoder = CBOREncoder()
        self.full = try encoder.encodeBytes(full)
        self.minimal = try encoder.encodeBytes(minimal)
        let fullBytes = self.full, minimalBytes = self.minimal
        roundTrips = {
            let decoder = CBORDecoder()
            return try decoder.decode(T.self, from: fullBytes) == full && decoder.decode(T.self, from: minimalBytes) == minimal
        }
    }
}

enum Examples {
    static let matchID = UUID(uuidString: "D14F0023-BB0D-4446-A7F1-72BBA6F187EF")!

    static let profile = ParticipantProfile(
        id: UUID(uuidString: "6F1C2A4E-8B3D-4F5A-9C7E-1D2B3A4C5E6F")!,
        personID: UUID(uuidString: "0A1B2C3D-4E5F-4061-8273-94A5B6C7D8E9")!,
        programID: UUID(uuidString: "F0E1D2C3-B4A5-4697-8879-6A5B4C3D2E1F")!,
        role: .mentor, displayName: "Amara Okafor", division: "Platform Engineering", jobTitle: "Staff Engineer",
        seniority: 7, timeZone: "Europe/London", languages: ["en", "yo"],
        skillsOffered: [SkillLevel(name: "distributed systems", level: 5), SkillLevel(name: "swift", level: 4)],
        skillsWanted: [SkillLevel(name: "people management", level: 2)],
        goals: "Help new tech leads grow", goalTags: ["leadership"], topics: ["career growth"],
        cadence: .fortnightly, capacity: 3, location: "Lagos",
        updatedAt: Date(timeIntervalSince1970: 1_790_000_000.25), version: 12
    )

    static let minimalProfile = ParticipantProfile(
        id: profile.id, personID: profile.personID, programID: profile.programID, role: .mentee,
        displayName: "Kenji Sato", division: "Sales", jobTitle: "Account Executive", seniority: 2,
        timeZone: "Asia/Tokyo", languages: ["ja"], skillsOffered: [], skillsWanted: [],
        updatedAt: Date(timeIntervalSince1970: 1_790_000_000), version: 1
    )

    static let booking = BookMeetingRequest(
        matchID: matchID, start: Date(timeIntervalSince1970: 1_772_443_800), durationMinutes: 45,
        timeZone: "Europe/London", agenda: "Design review feedback"
    )

    /// Every message documented in Protocols/*.md.
    static func all() throws -> [MessageExample] {
        [
            try MessageExample(HealthCheckRequest.self, full: HealthCheckRequest(service: "scheduling"), minimal: HealthCheckRequest()),
            try MessageExample(HealthCheckResponse.self, full: HealthCheckResponse(status: .serving), minimal: HealthCheckResponse(status: .notServing)),
            try MessageExample(Empty.self, full: Empty(), minimal: Empty()),
            try MessageExample(
                ServiceList.self,
                full: ServiceList(services: [ServiceInfo(name: "health", methods: Health.methods.map(MethodInfo.init))]),
                minimal: ServiceList(services: [])
            ),
            try MessageExample(
                ServiceInfo.self,
                full: ServiceInfo(name: "echo", methods: Echo.methods.map(MethodInfo.init)), minimal: ServiceInfo(name: "x", methods: [])
            ),
            try MessageExample(MethodInfo.self, full: MethodInfo(Echo.expand.erased), minimal: MethodInfo(Health.check.erased)),
            try MessageExample(
                EchoMessage.self,
                full: EchoMessage(text: "hi", payload: Data([1, 2, 3]), repeat: 3, delayMilliseconds: 10),
                minimal: EchoMessage(text: "", payload: Data())
            ),
            try MessageExample(ParticipantProfile.self, full: profile, minimal: minimalProfile),
            try MessageExample(SkillLevel.self, full: SkillLevel(name: "swift", level: 4), minimal: SkillLevel(name: "go", level: 1)),
            try MessageExample(
                BookMeetingRequest.self, full: booking,
                minimal: BookMeetingRequest(matchID: matchID, start: booking.start, durationMinutes: 30, timeZone: "Asia/Kolkata")
            ),
        ]
    }

    /// Every service's method descriptors, by document.
    static let methodsByDocument: [String: [AnyMethodDescriptor]] = [
        "Health.md": Health.methods,
        "Reflection.md": Reflection.methods,
        "Echo.md": Echo.methods,
        "Identity.md": [],
        "Scheduling.md": [],
    ]
}
