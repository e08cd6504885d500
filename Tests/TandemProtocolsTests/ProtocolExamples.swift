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

    /// `profile` with the fields added after the golden vector `cbor-participant-profile` (which
    /// pins `profile`'s 20-field encoding) was recorded: the full example sets every documented key.
    static let fullProfile: ParticipantProfile = {
        var full = profile
        full.managerID = managerID
        full.workingHours = WorkingHours(days: [1, 2, 3, 4, 5], startMinute: 8 * 60 + 30, endMinute: 17 * 60)
        full.hireDate = "2019-04-01"
        return full
    }()

    static let minimalProfile = ParticipantProfile(
        id: profile.id, personID: profile.personID, programID: profile.programID, role: .mentee,
        displayName: "Kenji Sato", division: "Sales", jobTitle: "Account Executive", seniority: 2,
        timeZone: "Asia/Tokyo", languages: ["ja"], skillsOffered: [], skillsWanted: [],
        updatedAt: Date(timeIntervalSince1970: 1_790_000_000), version: 1
    )

    // Identity
    static let organisationID = UUID(uuidString: "5E2B8C41-7A3F-4D19-B6E0-2C8F1A9D4B73")!
    static let programID = profile.programID
    static let personID = profile.personID
    static let managerID = UUID(uuidString: "3C9E7A10-5B2D-4E8F-A1C3-7D6B5E4F3A21")!
    static let serviceAccountID = UUID(uuidString: "A7C3E915-2F4B-4D8A-9E61-0B5D7C3F2E84")!
    static let apiKeyID = UUID(uuidString: "B2D4F6A8-1C3E-4A5B-8D7F-9E0A1B2C3D4E")!
    static let issuedAt = Date(timeIntervalSince1970: 1_790_000_000)

    static let workingHours = WorkingHours(days: [1, 2, 3, 4], startMinute: 8 * 60, endMinute: 16 * 60 + 30)

    static let personInput = PersonInput(
        externalID: "HR-004217", email: "amara.okafor@acme.example", name: "Amara Okafor",
        division: "Platform Engineering", jobTitle: "Staff Engineer", seniority: 7, managerID: managerID,
        timeZone: "Europe/London", workingHours: workingHours, languages: ["en", "yo"], location: "London",
        hireDate: "2019-04-01", organisationAdmin: true
    )

    static let minimalPersonInput = PersonInput(
        email: "kenji.sato@acme.example", name: "Kenji Sato", division: "Sales", jobTitle: "Account Executive",
        seniority: 2, timeZone: "Asia/Tokyo", languages: ["ja"]
    )

    static let person = Person(
        id: personID, organisationID: organisationID, externalID: "HR-004217", email: "amara.okafor@acme.example",
        name: "Amara Okafor", division: "Platform Engineering", jobTitle: "Staff Engineer", seniority: 7,
        managerID: managerID, timeZone: "Europe/London", workingHours: workingHours, languages: ["en", "yo"],
        location: "London", hireDate: "2019-04-01", active: true, roles: [Role.organisationAdmin, Role.programAdmin],
        version: 4, updatedAt: issuedAt
    )

    static let minimalPerson = Person(
        id: UUID(uuidString: "C4E6A8B0-3D5F-4B7C-9E1A-2F3B4C5D6E7F")!, organisationID: organisationID, externalID: nil,
        email: "kenji.sato@acme.example", name: "Kenji Sato", division: "Sales", jobTitle: "Account Executive",
        seniority: 2, managerID: nil, timeZone: "Asia/Tokyo", workingHours: WorkingHours(), languages: ["ja"],
        location: nil, hireDate: nil, active: false, roles: [], version: 1, updatedAt: issuedAt
    )

    static let programInput = ProgramInput(
        name: "Engineering Mentoring 2026", format: .oneToOne, startsOn: "2026-09-01", endsOn: "2027-06-30",
        onboarding: true, adminIDs: [personID]
    )

    static let minimalProgramInput = ProgramInput(name: "Peer Circles", format: .peer, startsOn: "2026-10-01")

    static let program = Program(
        id: programID, organisationID: organisationID, name: "Engineering Mentoring 2026", format: .oneToOne,
        startsOn: "2026-09-01", endsOn: "2027-06-30", onboarding: true, adminIDs: [personID], version: 3
    )

    static let minimalProgram = Program(
        id: programID, organisationID: organisationID, name: "Peer Circles", format: .group, startsOn: "2026-10-01",
        endsOn: nil, onboarding: false, adminIDs: [], version: 1
    )

    static let currentKey = VerificationKey(
        keyID: "k1790000000-3fa9c1d2", publicKey: Data((0..<32).map { UInt8($0 * 7 % 256) }), activeFrom: issuedAt, acceptedUntil: nil
    )

    static let previousKey = VerificationKey(
        keyID: "k1782000000-8b04e6f7", publicKey: Data((0..<32).map { UInt8(255 - $0 * 5) }),
        activeFrom: Date(timeIntervalSince1970: 1_782_000_000), acceptedUntil: issuedAt.addingTimeInterval(900)
    )

    static let serviceAccount = ServiceAccount(
        id: serviceAccountID, name: "hr-sync", scopes: ["identity.ImportPeople", "identity.ListPeople"],
        createdAt: issuedAt, activeKeyIDs: [apiKeyID]
    )

    static let importRowError = ImportRowError(
        line: 14, field: "time_zone", rule: "format", message: "\"Europe/Londn\" is not an IANA time zone."
    )

    static let participationInput = ParticipationInput(
        programID: programID, personID: personID, role: .mentor,
        skillsOffered: [SkillLevel(name: "distributed systems", level: 5)],
        skillsWanted: [SkillLevel(name: "people management", level: 2)],
        goals: "Help new tech leads grow", goalTags: ["leadership"], topics: ["career growth", "system design"],
        cadence: .fortnightly, capacity: 3, version: 12
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
            try MessageExample(ParticipantProfile.self, full: fullProfile, minimal: minimalProfile),
            try MessageExample(SkillLevel.self, full: SkillLevel(name: "swift", level: 4), minimal: SkillLevel(name: "go", level: 1)),
            try MessageExample(
                BookMeetingRequest.self, full: booking,
                minimal: BookMeetingRequest(matchID: matchID, start: booking.start, durationMinutes: 30, timeZone: "Asia/Kolkata")
            ),
        ] + (try identity()) + (try scheduling()) + (try matching()) + (try gateway())
    }

    /// The identity service's messages (Protocols/Identity.md), apart from ParticipantProfile and SkillLevel.
    static func identity() throws -> [MessageExample] {
        [
            // Authentication
            try MessageExample(
                SignInRequest.self,
                full: SignInRequest(organisation: "acme", email: "amara.okafor@acme.example", password: "correct horse battery"),
                minimal: SignInRequest(organisation: "globex", email: "kenji.sato@globex.example", password: "staple-lantern-42")
            ),
            try MessageExample(
                RefreshRequest.self,
                full: RefreshRequest(refreshToken: "rt_9fK2mQ7xLp3vZ8wN4bT6yH1cJ5dR0sAuE3gW8kX2nP7"), minimal: RefreshRequest(refreshToken: "rt_x")
            ),
            try MessageExample(
                APIKeyExchangeRequest.self,
                full: APIKeyExchangeRequest(apiKey: "tdm_b2d4f6a81c3e4a5b8d7f9e0a1b2c3d4e_q8Vn3kP0wZ7rT2yL5mX9cH4jD6sF1gA0eU3iO7pQ2w"),
                minimal: APIKeyExchangeRequest(apiKey: "tdm_x_y")
            ),
            try MessageExample(
                Tokens.self,
                full: Tokens(
                    accessToken: "eyJhbGciOiJFZERTQSIsImtpZCI6ImsxNzkwMDAwMDAwLTNmYTljMWQyIn0.eyJzdWIiOiIwQTFCIn0.c2lnbmF0dXJl",
                    accessExpiresAt: issuedAt.addingTimeInterval(900), refreshToken: "rt_9fK2mQ7xLp3vZ8wN4bT6yH1cJ5dR0sAuE3gW8kX2nP7",
                    refreshExpiresAt: issuedAt.addingTimeInterval(30 * 86_400), subject: personID, organisationID: organisationID,
                    roles: [Role.organisationAdmin, "mentor"]
                ),
                minimal: Tokens(
                    accessToken: "eyJhbGciOiJFZERTQSJ9.e30.c2ln", accessExpiresAt: issuedAt.addingTimeInterval(900),
                    refreshToken: nil, refreshExpiresAt: nil, subject: serviceAccountID, organisationID: organisationID,
                    roles: [Role.service]
                )
            ),
            try MessageExample(
                VerificationKeys.self, full: VerificationKeys(keys: [currentKey, previousKey]), minimal: VerificationKeys(keys: [])
            ),
            try MessageExample(VerificationKey.self, full: previousKey, minimal: currentKey),
            try MessageExample(
                RotateSigningKeyRequest.self, full: RotateSigningKeyRequest(overlapSeconds: 1_800), minimal: RotateSigningKeyRequest()
            ),
            try MessageExample(
                Caller.self,
                full: Caller(
                    subject: serviceAccountID, organisationID: organisationID, kind: "service",
                    roles: [Role.service, Role.programAdmin], programs: [programID], scopes: ["identity.ListPeople", "scheduling.*"]
                ),
                minimal: Caller(subject: personID, organisationID: organisationID, kind: "person", roles: [], programs: [], scopes: [])
            ),

            // Organisations and programs
            try MessageExample(
                CreateOrganisationRequest.self,
                full: CreateOrganisationRequest(name: "Acme Ltd", slug: "acme", admin: personInput, adminPassword: "correct horse battery"),
                minimal: CreateOrganisationRequest(name: "Globex", slug: "globex", admin: minimalPersonInput, adminPassword: "staple-lantern-42")
            ),
            try MessageExample(
                Organisation.self,
                full: Organisation(id: organisationID, name: "Acme Ltd", slug: "acme", createdAt: issuedAt),
                minimal: Organisation(id: organisationID, name: "Globex", slug: "globex", createdAt: Date(timeIntervalSince1970: 1_790_000_000.5))
            ),
            try MessageExample(ProgramInput.self, full: programInput, minimal: minimalProgramInput),
            try MessageExample(Program.self, full: program, minimal: minimalProgram),
            try MessageExample(
                UpdateProgramRequest.self,
                full: UpdateProgramRequest(programID: programID, version: 3, program: programInput),
                minimal: UpdateProgramRequest(programID: programID, version: 1, program: minimalProgramInput)
            ),
            try MessageExample(ProgramRef.self, full: ProgramRef(programID: programID), minimal: ProgramRef(programID: programID)),
            try MessageExample(
                ProgramList.self, full: ProgramList(programs: [program, minimalProgram]), minimal: ProgramList(programs: [])
            ),

            // People
            try MessageExample(WorkingHours.self, full: workingHours, minimal: WorkingHours()),
            try MessageExample(PersonInput.self, full: personInput, minimal: minimalPersonInput),
            try MessageExample(Person.self, full: person, minimal: minimalPerson),
            try MessageExample(
                CreatePersonRequest.self,
                full: CreatePersonRequest(person: personInput, password: "correct horse battery"),
                minimal: CreatePersonRequest(person: minimalPersonInput)
            ),
            try MessageExample(
                UpdatePersonRequest.self,
                full: UpdatePersonRequest(personID: personID, version: 4, person: personInput),
                minimal: UpdatePersonRequest(personID: personID, version: 1, person: minimalPersonInput)
            ),
            try MessageExample(PersonRef.self, full: PersonRef(personID: personID), minimal: PersonRef(personID: managerID)),
            try MessageExample(
                ListPeopleRequest.self,
                full: ListPeopleRequest(
                    programID: programID, role: .mentor, skill: "distributed systems", division: "Platform Engineering",
                    query: "okafor", includeInactive: true, pageSize: 100, pageToken: "p2.eyJhZnRlciI6Ik9rYWZvciJ9"
                ),
                minimal: ListPeopleRequest()
            ),
            try MessageExample(
                PeoplePage.self,
                full: PeoplePage(people: [person, minimalPerson], nextPageToken: "p3.eyJhZnRlciI6IlNhdG8ifQ"),
                minimal: PeoplePage(people: [], nextPageToken: nil)
            ),
            try MessageExample(
                SetPasswordRequest.self,
                full: SetPasswordRequest(personID: personID, currentPassword: "correct horse battery", newPassword: "orbit-meadow-7-violin"),
                minimal: SetPasswordRequest(personID: personID, newPassword: "staple-lantern-42")
            ),
            try MessageExample(
                ImportPeopleRequest.self,
                full: ImportPeopleRequest(
                    csv: """
                        email,name,time_zone,role,skills_offered
                        amara.okafor@acme.example,Amara Okafor,Europe/London,mentor,distributed systems:5;swift:4

                        """,
                    dryRun: true, deactivateMissing: true, programID: programID
                ),
                minimal: ImportPeopleRequest(csv: "email,name,time_zone\nkenji.sato@acme.example,Kenji Sato,Asia/Tokyo\n")
            ),
            try MessageExample(
                ImportReport.self,
                full: ImportReport(
                    dryRun: false, rows: 240, created: 180, updated: 41, unchanged: 17, deactivated: 3, participations: 96,
                    errors: [importRowError], keptActive: 2
                ),
                minimal: ImportReport(
                    dryRun: true, rows: 0, created: 0, updated: 0, unchanged: 0, deactivated: 0, participations: 0, errors: []
                )
            ),
            try MessageExample(
                ImportRowError.self, full: importRowError,
                minimal: ImportRowError(line: 2, field: "email", rule: "required", message: "email is required.")
            ),

            // Participation
            try MessageExample(
                ParticipationInput.self, full: participationInput,
                minimal: ParticipationInput(programID: programID, personID: personID, role: .mentee)
            ),
            try MessageExample(
                ParticipationRef.self,
                full: ParticipationRef(programID: programID, personID: personID),
                minimal: ParticipationRef(programID: programID, personID: managerID)
            ),
            try MessageExample(
                ListParticipantsRequest.self,
                full: ListParticipantsRequest(programID: programID, role: .both, pageSize: 200, pageToken: "p2.eyJhZnRlciI6MjAwfQ"),
                minimal: ListParticipantsRequest(programID: programID)
            ),
            try MessageExample(
                ParticipantPage.self,
                full: ParticipantPage(participants: [fullProfile, minimalProfile], nextPageToken: "p2.eyJhZnRlciI6Mn0"),
                minimal: ParticipantPage(participants: [], nextPageToken: nil)
            ),

            // Service accounts
            try MessageExample(
                CreateServiceAccountRequest.self,
                full: CreateServiceAccountRequest(name: "hr-sync", scopes: ["identity.ImportPeople", "identity.ListPeople"]),
                minimal: CreateServiceAccountRequest(name: "reporting", scopes: [])
            ),
            try MessageExample(
                ServiceAccount.self, full: serviceAccount,
                minimal: ServiceAccount(id: serviceAccountID, name: "reporting", scopes: [], createdAt: issuedAt, activeKeyIDs: [])
            ),
            try MessageExample(
                ServiceAccountRef.self,
                full: ServiceAccountRef(serviceAccountID: serviceAccountID), minimal: ServiceAccountRef(serviceAccountID: serviceAccountID)
            ),
            try MessageExample(
                ServiceAccountList.self,
                full: ServiceAccountList(serviceAccounts: [serviceAccount]), minimal: ServiceAccountList(serviceAccounts: [])
            ),
            try MessageExample(
                CreatedAPIKey.self,
                full: CreatedAPIKey(keyID: apiKeyID, apiKey: "tdm_b2d4f6a81c3e4a5b8d7f9e0a1b2c3d4e_q8Vn3kP0wZ7rT2yL5mX9cH4jD6sF1gA0eU3iO7pQ2w"),
                minimal: CreatedAPIKey(keyID: apiKeyID, apiKey: "tdm_b2d4f6a81c3e4a5b8d7f9e0a1b2c3d4e_Hs4Wc9Ue2Nj6Rb1Ty7Qp3Lm8Xk5Vz0Ga2Bd4Fh6Jn")
            ),
            try MessageExample(APIKeyRef.self, full: APIKeyRef(keyID: apiKeyID), minimal: APIKeyRef(keyID: apiKeyID)),
        ]
    }

    // Scheduling
    static let menteeID = minimalPerson.id
    static let meetingID = UUID(uuidString: "9B2E4C71-3A5D-4F8E-B1C6-7D0E2F4A6B83")!
    static let seriesID = UUID(uuidString: "E1F2A3B4-C5D6-4E7F-8091-A2B3C4D5E6F7")!
    static let firstOccurrenceID = UUID(uuidString: "2B4D6F81-9A3C-4E5F-B7D9-0C2E4A6B8D1F")!
    static let occurrenceID = UUID(uuidString: "4D6F8A1C-2E3B-4C5D-9E7F-6A8B0C1D2E3F")!
    static let finalOccurrenceID = UUID(uuidString: "7A9C1E3B-5D2F-4A6B-8C0E-1F3A5B7D9C2E")!
    static let videoURL = "https://meet.tandem.example/x7kq2mfa9rt3hc4wnp8ezd5vbg"

    /// A single meeting with only the required fields: Tuesday 6 October 2026, 08:00–08:45 in London.
    static let meeting = Meeting(
        id: meetingID, matchID: matchID, programID: programID, participantIDs: [personID, menteeID],
        start: Date(timeIntervalSince1970: 1_791_270_000), end: Date(timeIntervalSince1970: 1_791_272_700),
        timeZone: "Europe/London", status: .scheduled, agenda: nil, videoURL: videoURL, seriesID: nil, occurrence: nil,
        sequence: 0, cancelReason: nil, version: 1, createdAt: issuedAt, updatedAt: issuedAt
    )

    /// The second occurrence of `series` (08:00 London is 08:00 UTC after the clocks go back), cancelled.
    static let cancelledOccurrence = Meeting(
        id: occurrenceID, matchID: matchID, programID: programID, participantIDs: [personID, menteeID],
        start: Date(timeIntervalSince1970: 1_793_692_800), end: Date(timeIntervalSince1970: 1_793_695_500),
        timeZone: "Europe/London", status: .cancelled, agenda: "Quarterly goals", videoURL: videoURL, seriesID: seriesID,
        occurrence: 1, sequence: 1, cancelReason: "Mentor on leave", version: 2, createdAt: issuedAt,
        updatedAt: Date(timeIntervalSince1970: 1_792_000_000.5)
    )

    /// The first occurrence of `series`, still scheduled.
    static let firstOccurrence: Meeting = {
        var first = cancelledOccurrence
        first.id = firstOccurrenceID
        first.start = meeting.start
        first.end = meeting.end
        first.status = .scheduled
        first.occurrence = 0
        first.sequence = 0
        first.cancelReason = nil
        first.version = 1
        first.updatedAt = issuedAt
        return first
    }()

    static let finalOccurrence: Meeting = {
        var final = firstOccurrence
        final.id = finalOccurrenceID
        final.start = Date(timeIntervalSince1970: 1_796_112_000)
        final.end = Date(timeIntervalSince1970: 1_796_114_700)
        final.occurrence = 2
        return final
    }()

    static let series = Series(
        id: seriesID, matchID: matchID, rule: "FREQ=WEEKLY;INTERVAL=4;COUNT=3", timeZone: "Europe/London",
        meetings: [firstOccurrence, cancelledOccurrence, finalOccurrence]
    )

    static let exception = AvailabilityException(date: "2026-10-12", available: false, startMinute: 13 * 60, endMinute: 17 * 60, note: "Offsite")

    static let availability = Availability(
        personID: menteeID, timeZone: "Asia/Tokyo", workingHours: WorkingHours(days: [1, 2, 3, 4, 5], startMinute: 9 * 60 + 30, endMinute: 18 * 60 + 30),
        windows: [WeeklyWindow(day: 2, startMinute: 8 * 60, endMinute: 20 * 60), WeeklyWindow(day: 4, startMinute: 16 * 60, endMinute: 21 * 60)],
        exceptions: [exception, AvailabilityException(date: "2026-10-17", available: true, startMinute: 10 * 60, endMinute: 12 * 60)],
        acceptsOutsideWorkingHours: true, version: 4, updatedAt: issuedAt
    )

    /// The best slot of the worked example in Scheduling.md (London mentor, Tokyo mentee, burden 3.0 and 7.5).
    static let mentorView = SlotView(
        personID: personID, timeZone: "Europe/London", localStart: "2027-01-12T07:00", localEnd: "2027-01-12T07:30",
        inconvenience: 1.0, reasons: ["30 min before working hours (starts 07:00, work starts 09:00)"]
    )

    static let menteeView = SlotView(
        personID: menteeID, timeZone: "Asia/Tokyo", localStart: "2027-01-12T16:00", localEnd: "2027-01-12T16:30",
        inconvenience: 0, reasons: ["within working hours"]
    )

    static let slot = Slot(
        start: Date(timeIntervalSince1970: 1_799_737_200), end: Date(timeIntervalSince1970: 1_799_739_000), score: 2.75,
        participants: [mentorView, menteeView],
        explanation: "Outside working hours for the mentor (mentor 1, mentee 0); the mentee has carried more so far (3 vs 7.5); "
            + "after it: mentor 4, mentee 7.5. Mentor 07:00–07:30 Europe/London, mentee 16:00–16:30 Asia/Tokyo."
    )

    /// `meeting` as `ExportCalendar` writes it (CRLF line ends).
    static let ics = """
        BEGIN:VCALENDAR\r
        VERSION:2.0\r
        PRODID:-//Tandem//Scheduling//EN\r
        CALSCALE:GREGORIAN\r
        METHOD:PUBLISH\r
        BEGIN:VTIMEZONE\r
        TZID:Europe/London\r
        BEGIN:STANDARD\r
        DTSTART:20251026T020000\r
        TZOFFSETFROM:+0100\r
        TZOFFSETTO:+0000\r
        TZNAME:GMT\r
        END:STANDARD\r
        BEGIN:DAYLIGHT\r
        DTSTART:20260329T010000\r
        TZOFFSETFROM:+0000\r
        TZOFFSETTO:+0100\r
        TZNAME:BST\r
        END:DAYLIGHT\r
        BEGIN:STANDARD\r
        DTSTART:20261025T020000\r
        TZOFFSETFROM:+0100\r
        TZOFFSETTO:+0000\r
        TZNAME:GMT\r
        END:STANDARD\r
        BEGIN:DAYLIGHT\r
        DTSTART:20270328T010000\r
        TZOFFSETFROM:+0000\r
        TZOFFSETTO:+0100\r
        TZNAME:BST\r
        END:DAYLIGHT\r
        END:VTIMEZONE\r
        BEGIN:VEVENT\r
        UID:9b2e4c71-3a5d-4f8e-b1c6-7d0e2f4a6b83@tandem\r
        DTSTAMP:20260921T141320Z\r
        CREATED:20260921T141320Z\r
        LAST-MODIFIED:20260921T141320Z\r
        DTSTART;TZID=Europe/London:20261006T080000\r
        DTEND;TZID=Europe/London:20261006T084500\r
        SUMMARY:Mentoring meeting\r
        URL:https://meet.tandem.example/x7kq2mfa9rt3hc4wnp8ezd5vbg\r
        LOCATION:https://meet.tandem.example/x7kq2mfa9rt3hc4wnp8ezd5vbg\r
        SEQUENCE:0\r
        STATUS:CONFIRMED\r
        X-TANDEM-STATUS:scheduled\r
        END:VEVENT\r
        END:VCALENDAR\r

        """

    /// The scheduling service's messages (Protocols/Scheduling.md), apart from BookMeetingRequest
    /// (in `all()`, pinned by the golden vectors).
    static func scheduling() throws -> [MessageExample] {
        [
            // Availability and pairs
            try MessageExample(
                WeeklyWindow.self, full: WeeklyWindow(day: 2, startMinute: 18 * 60, endMinute: 24 * 60),
                minimal: WeeklyWindow(day: 1, startMinute: 9 * 60, endMinute: 17 * 60)
            ),
            try MessageExample(AvailabilityException.self, full: exception, minimal: AvailabilityException(date: "2026-12-24", available: false)),
            try MessageExample(Availability.self, full: availability, minimal: Availability(personID: personID, timeZone: "Europe/London")),
            try MessageExample(
                Pair.self, full: Pair(matchID: matchID, programID: programID, mentorID: personID, menteeID: menteeID),
                minimal: Pair(matchID: matchID, programID: programID, mentorID: personID, menteeID: menteeID, active: false)
            ),
            try MessageExample(PairRef.self, full: PairRef(matchID: matchID), minimal: PairRef(matchID: matchID)),

            // Slots
            try MessageExample(
                FindSlotsRequest.self,
                full: FindSlotsRequest(
                    matchID: matchID, durationMinutes: 30, from: Date(timeIntervalSince1970: 1_799_625_600),
                    to: Date(timeIntervalSince1970: 1_799_798_400), stepMinutes: 15, limit: 5, bufferMinutes: 10
                ),
                minimal: FindSlotsRequest(
                    matchID: matchID, durationMinutes: 45, from: Date(timeIntervalSince1970: 1_790_812_800),
                    to: Date(timeIntervalSince1970: 1_792_022_400)
                )
            ),
            try MessageExample(SlotView.self, full: mentorView, minimal: menteeView),
            try MessageExample(
                Slot.self, full: slot,
                minimal: Slot(start: slot.start, end: slot.end, score: 0, participants: [], explanation: "")
            ),
            try MessageExample(
                SlotList.self, full: SlotList(slots: [slot], candidates: 10, burden: [3.0, 7.5]),
                minimal: SlotList(slots: [], candidates: 0, burden: [0, 0])
            ),

            // Meetings
            try MessageExample(Meeting.self, full: cancelledOccurrence, minimal: meeting),
            try MessageExample(MeetingRef.self, full: MeetingRef(meetingID: meetingID), minimal: MeetingRef(meetingID: occurrenceID)),
            try MessageExample(
                RescheduleMeetingRequest.self,
                full: RescheduleMeetingRequest(meetingID: meetingID, start: Date(timeIntervalSince1970: 1_791_183_600), durationMinutes: 60, version: 1),
                minimal: RescheduleMeetingRequest(meetingID: meetingID, start: Date(timeIntervalSince1970: 1_791_183_600))
            ),
            try MessageExample(
                CancelMeetingRequest.self, full: CancelMeetingRequest(meetingID: occurrenceID, reason: "Mentor on leave"),
                minimal: CancelMeetingRequest(meetingID: meetingID, reason: "Clash with an offsite")
            ),
            try MessageExample(
                SetMeetingStatusRequest.self, full: SetMeetingStatusRequest(meetingID: meetingID, status: .held),
                minimal: SetMeetingStatusRequest(meetingID: meetingID, status: .noShow)
            ),
            try MessageExample(
                UpdateAgendaRequest.self, full: UpdateAgendaRequest(meetingID: meetingID, agenda: "Design review feedback", version: 1),
                minimal: UpdateAgendaRequest(meetingID: meetingID, agenda: nil)
            ),
            try MessageExample(
                ListMeetingsRequest.self,
                full: ListMeetingsRequest(
                    personID: personID, matchID: matchID, from: Date(timeIntervalSince1970: 1_790_812_800),
                    to: Date(timeIntervalSince1970: 1_806_451_200), includeCancelled: true, pageSize: 50,
                    pageToken: "p2.eyJhZnRlciI6IjIwMjYtMTEtMDMifQ"
                ),
                minimal: ListMeetingsRequest()
            ),
            try MessageExample(
                MeetingPage.self, full: MeetingPage(meetings: [meeting, cancelledOccurrence], nextPageToken: "p2.eyJhZnRlciI6Mn0"),
                minimal: MeetingPage(meetings: [], nextPageToken: nil)
            ),

            // Series
            try MessageExample(
                BookSeriesRequest.self,
                full: BookSeriesRequest(
                    matchID: matchID, firstStart: meeting.start, durationMinutes: 45, timeZone: "Europe/London", everyWeeks: 4,
                    count: 3, until: Date(timeIntervalSince1970: 1_806_451_200), agenda: "Quarterly goals"
                ),
                minimal: BookSeriesRequest(matchID: matchID, firstStart: meeting.start, durationMinutes: 30, timeZone: "Asia/Kolkata")
            ),
            try MessageExample(
                Series.self, full: series,
                minimal: Series(id: seriesID, matchID: matchID, rule: "FREQ=WEEKLY;COUNT=2", timeZone: "Asia/Kolkata", meetings: [])
            ),
            try MessageExample(SeriesRef.self, full: SeriesRef(seriesID: seriesID), minimal: SeriesRef(seriesID: seriesID)),
            try MessageExample(
                CancelSeriesRequest.self,
                full: CancelSeriesRequest(seriesID: seriesID, from: Date(timeIntervalSince1970: 1_793_232_000), reason: "The match has ended"),
                minimal: CancelSeriesRequest(seriesID: seriesID, reason: "Mentor on leave")
            ),

            // Calendar and reminders
            try MessageExample(
                ExportCalendarRequest.self, full: ExportCalendarRequest(personID: personID), minimal: ExportCalendarRequest(personID: menteeID)
            ),
            try MessageExample(CalendarExport.self, full: CalendarExport(ics: ics), minimal: CalendarExport(contentType: "", ics: "")),
            try MessageExample(
                StreamRemindersRequest.self, full: StreamRemindersRequest(lookbackSeconds: 600), minimal: StreamRemindersRequest()
            ),
            try MessageExample(
                Reminder.self,
                full: Reminder(
                    id: "\(firstOccurrenceID.uuidString.lowercased())/24h", kind: "24h",
                    dueAt: firstOccurrence.start.addingTimeInterval(-86_400), meeting: firstOccurrence
                ),
                minimal: Reminder(
                    id: "\(meetingID.uuidString.lowercased())/15m", kind: "15m", dueAt: meeting.start.addingTimeInterval(-900), meeting: meeting
                )
            ),
            try MessageExample(
                AcknowledgeRemindersRequest.self,
                full: AcknowledgeRemindersRequest(reminderIDs: [
                    "\(meetingID.uuidString.lowercased())/24h", "\(finalOccurrenceID.uuidString.lowercased())/15m",
                ]),
                minimal: AcknowledgeRemindersRequest(reminderIDs: [])
            ),
        ] + (try feedExamples()) + (try erasureFeedExamples()) + (try feedbackExamples())
    }

    /// Every service's method descriptors, by document.
    static let methodsByDocument: [String: [AnyMethodDescriptor]] = [
        "Health.md": Health.methods,
        "Reflection.md": Reflection.methods,
        "Echo.md": Echo.methods,
        "Identity.md": Identity.methods,
        "Scheduling.md": Scheduling.methods,
        "Feedback.md": Feedback.methods,
        "Matching.md": Matching.methods,
        "Gateway.md": Gateway.methods,
    ]

    // MARK: Matching

    static let mentorID = UUID(uuidString: "0C7A4E55-2B1D-4F3A-9E6B-8D2C5A1F7E30")!
    static let groupID = UUID(uuidString: "7B3E9D21-5C4A-4E8F-A1B6-2D9F0C8E4A17")!
    static let proposedAt = Date(timeIntervalSince1970: 1_799_625_600)

    static let skillsPoints = CriterionPoints(criterion: .skills, points: 45, maximum: 60, detail: "offers swift 3/4 (level offered/wanted)")
    static let divisionPoints = CriterionPoints(criterion: .division, points: 40, maximum: 40, detail: "another division (Sales)")

    static let fullCriterion = Criterion(
        kind: .seniority, mode: .should, weight: 20, preferCrossDivision: true, minimumGap: -1, maximumGap: 3, targetHours: 10, newHireDays: 90
    )

    static let agreement = Agreement(
        topics: ["career growth", "system design"], boundaries: ["compensation"], cadence: .fortnightly, notes: "Cameras optional",
        agreedBy: [personID, menteeID], updatedAt: proposedAt.addingTimeInterval(3 * 86_400)
    )

    /// An active match of a group program, with everything set.
    static let activeMatch = Match(
        id: matchID, organisationID: organisationID, programID: programID, mentorID: mentorID, menteeID: menteeID, groupID: groupID,
        status: .ended, source: .rematch, score: 85, parts: [skillsPoints, divisionPoints], mentorAccepted: true, menteeAccepted: true,
        proposedAt: proposedAt, expiresAt: proposedAt.addingTimeInterval(7 * 86_400), startedAt: proposedAt.addingTimeInterval(86_400),
        endedAt: proposedAt.addingTimeInterval(40 * 86_400), endReason: "not a good fit (said by the mentee)", notAGoodFit: true, declinedBy: mentorID,
        rematchOf: meetingID, rematchID: occurrenceID, agreement: agreement, version: 6, updatedAt: proposedAt.addingTimeInterval(40 * 86_400)
    )

    static let proposedMatch = Match(
        id: matchID, organisationID: organisationID, programID: programID, mentorID: mentorID, menteeID: menteeID, groupID: nil,
        status: .proposed, source: .cohort, score: 0, parts: [], mentorAccepted: false, menteeAccepted: false, proposedAt: proposedAt,
        expiresAt: nil, startedAt: nil, endedAt: nil, endReason: nil, notAGoodFit: false, declinedBy: nil, rematchOf: nil, rematchID: nil,
        agreement: nil, version: 1, updatedAt: proposedAt
    )

    static let explanation = PairExplanation(menteeID: menteeID, mentorID: mentorID, score: 85, parts: [skillsPoints, divisionPoints], exclusion: "none")

    /// The matching service's messages (Protocols/Matching.md).
    static func matching() throws -> [MessageExample] {
        [
            try MessageExample(Criterion.self, full: fullCriterion, minimal: Criterion(kind: .language, mode: .must)),
            try MessageExample(
                MatchingSettingsInput.self,
                full: MatchingSettingsInput(
                    programID: programID, criteria: [fullCriterion], requestExpiryDays: 5, groupMinimum: 3, groupMaximum: 6, autoRematch: false, version: 2
                ),
                minimal: MatchingSettingsInput(programID: programID, criteria: [Criterion(kind: .skills, mode: .should)])
            ),
            try MessageExample(
                MatchingSettings.self,
                full: MatchingSettings(
                    programID: programID, criteria: [fullCriterion], requestExpiryDays: 5, groupMinimum: 3, groupMaximum: 6, autoRematch: true,
                    version: 3, updatedAt: proposedAt
                ),
                minimal: MatchingSettings(
                    programID: programID, criteria: [fullCriterion], requestExpiryDays: 7, groupMinimum: nil, groupMaximum: nil, autoRematch: true,
                    version: 1, updatedAt: proposedAt
                )
            ),
            try MessageExample(
                SyncReport.self, full: SyncReport(programID: programID, mentors: 120, mentees: 480, removed: 3, syncedAt: proposedAt),
                minimal: SyncReport(programID: programID, mentors: 0, mentees: 0, removed: 0, syncedAt: proposedAt)
            ),
            try MessageExample(CriterionPoints.self, full: skillsPoints, minimal: divisionPoints),
            try MessageExample(
                RecommendRequest.self, full: RecommendRequest(programID: programID, menteeID: menteeID, limit: 10), minimal: RecommendRequest(programID: programID)
            ),
            try MessageExample(
                Recommendation.self,
                full: Recommendation(mentorID: mentorID, displayName: "Maria Silva", score: 85, parts: [skillsPoints, divisionPoints], openPlaces: 2),
                minimal: Recommendation(mentorID: mentorID, displayName: "Maria Silva", score: 0, parts: [], openPlaces: 1)
            ),
            try MessageExample(
                RecommendationList.self,
                full: RecommendationList(
                    menteeID: menteeID, recommendations: [Recommendation(mentorID: mentorID, displayName: "Maria Silva", score: 85, parts: [skillsPoints], openPlaces: 2)],
                    fullMentors: 4, excludedMentors: 1
                ),
                minimal: RecommendationList(menteeID: menteeID, recommendations: [], fullMentors: 0, excludedMentors: 0)
            ),
            try MessageExample(
                PairQuery.self, full: PairQuery(programID: programID, menteeID: menteeID, mentorID: mentorID),
                minimal: PairQuery(programID: programID, menteeID: personID, mentorID: mentorID)
            ),
            try MessageExample(
                PairExplanation.self, full: explanation,
                minimal: PairExplanation(menteeID: menteeID, mentorID: mentorID, score: nil, parts: [], exclusion: nil)
            ),
            try MessageExample(
                CompareMentorsRequest.self,
                full: CompareMentorsRequest(programID: programID, menteeID: menteeID, firstMentorID: mentorID, secondMentorID: personID),
                minimal: CompareMentorsRequest(programID: programID, firstMentorID: mentorID, secondMentorID: personID)
            ),
            try MessageExample(
                ComparisonRow.self,
                full: ComparisonRow(criterion: .skills, maximum: 60, firstPoints: 45, secondPoints: 15, firstDetail: "offers swift 3/4", secondDetail: "offers swift 1/4"),
                minimal: ComparisonRow(criterion: .division, maximum: 40, firstPoints: nil, secondPoints: nil, firstDetail: nil, secondDetail: nil)
            ),
            try MessageExample(
                MentorComparison.self,
                full: MentorComparison(
                    first: explanation, second: PairExplanation(menteeID: menteeID, mentorID: personID, score: 15, parts: [], exclusion: nil),
                    rows: [ComparisonRow(criterion: .skills, maximum: 60, firstPoints: 45, secondPoints: 15, firstDetail: nil, secondDetail: nil)],
                    summary: "the first mentor scores 70 points more (85 vs 15), mostly on division (+40), skills (+30)"
                ),
                minimal: MentorComparison(first: explanation, second: explanation, rows: [], summary: "both mentors score 85")
            ),
            try MessageExample(
                ScoreChunk.self,
                full: ScoreChunk(csv: "mentee_id,mentee_name,mentor_id,mentor_name,score,excluded,skills_points\n", rows: 0),
                minimal: ScoreChunk(csv: "", rows: 0)
            ),
            try MessageExample(
                RunCohortRequest.self, full: RunCohortRequest(programID: programID, objective: .fairest, dryRun: true, minimumScore: 30),
                minimal: RunCohortRequest(programID: programID, objective: .maxTotal)
            ),
            try MessageExample(
                CohortPair.self, full: CohortPair(menteeID: menteeID, mentorID: mentorID, score: 85, groupID: groupID, matchID: matchID),
                minimal: CohortPair(menteeID: menteeID, mentorID: mentorID, score: 85)
            ),
            try MessageExample(
                UnmatchedPerson.self, full: UnmatchedPerson(personID: menteeID, role: "mentee", reason: "no mentor passes the must criteria and exclusions"),
                minimal: UnmatchedPerson(personID: mentorID, role: "mentor", reason: "a group of 1 is below the minimum of 3")
            ),
            try MessageExample(
                CohortResult.self,
                full: CohortResult(
                    programID: programID, objective: .maxTotal, dryRun: false, mentees: 5000, mentors: 1000, matched: 4990, total: 415_938, lowest: 12,
                    blockingPairs: 1731, pairs: [CohortPair(menteeID: menteeID, mentorID: mentorID, score: 85, matchID: matchID)],
                    unmatched: [UnmatchedPerson(personID: personID, role: "mentee", reason: "each of the 3 mentors it could have is full")], elapsedMilliseconds: 1450
                ),
                minimal: CohortResult(
                    programID: programID, objective: .stable, dryRun: true, mentees: 0, mentors: 0, matched: 0, total: 0, lowest: nil, blockingPairs: 0,
                    pairs: [], unmatched: [], elapsedMilliseconds: 0
                )
            ),
            try MessageExample(
                Agreement.self, full: agreement,
                minimal: Agreement(topics: [], boundaries: [], cadence: nil, notes: nil, agreedBy: [mentorID], updatedAt: proposedAt)
            ),
            try MessageExample(Match.self, full: activeMatch, minimal: proposedMatch),
            try MessageExample(MatchRef.self, full: MatchRef(matchID: matchID), minimal: MatchRef(matchID: meetingID)),
            try MessageExample(
                ProposeMatchRequest.self, full: ProposeMatchRequest(programID: programID, menteeID: menteeID, mentorID: mentorID),
                minimal: ProposeMatchRequest(programID: programID, mentorID: mentorID)
            ),
            try MessageExample(
                RespondToMatchRequest.self, full: RespondToMatchRequest(matchID: matchID, accept: false, reason: "no time this quarter"),
                minimal: RespondToMatchRequest(matchID: matchID, accept: true)
            ),
            try MessageExample(
                EndMatchRequest.self, full: EndMatchRequest(matchID: matchID, outcome: .notAGoodFit, reason: "different expectations"),
                minimal: EndMatchRequest(matchID: matchID, outcome: .completed)
            ),
            try MessageExample(
                SetAgreementRequest.self,
                full: SetAgreementRequest(matchID: matchID, topics: ["career growth"], boundaries: ["compensation"], cadence: .monthly, notes: "Cameras optional", version: 4),
                minimal: SetAgreementRequest(matchID: matchID, topics: [], boundaries: [], version: 1)
            ),
            try MessageExample(
                ListMatchesRequest.self,
                full: ListMatchesRequest(programID: programID, personID: menteeID, statuses: [.proposed, .active], pageSize: 50, pageToken: "1042"),
                minimal: ListMatchesRequest()
            ),
            try MessageExample(
                MatchPage.self, full: MatchPage(matches: [proposedMatch], nextPageToken: "1042"), minimal: MatchPage(matches: [], nextPageToken: nil)
            ),
            try MessageExample(ListMatchChangesRequest.self, full: ListMatchChangesRequest(after: 1041, limit: 100), minimal: ListMatchChangesRequest(after: 0)),
            try MessageExample(MatchChange.self, full: MatchChange(sequence: 1042, match: activeMatch), minimal: MatchChange(sequence: 1, match: proposedMatch)),
            try MessageExample(
                MatchChangePage.self, full: MatchChangePage(changes: [MatchChange(sequence: 1042, match: proposedMatch)], last: 1042),
                minimal: MatchChangePage(changes: [], last: 0)
            ),
            try MessageExample(
                FitSignal.self, full: FitSignal(organisationID: organisationID, matchID: matchID, personID: menteeID, comment: "we never clicked"),
                minimal: FitSignal(organisationID: organisationID, matchID: matchID, personID: menteeID)
            ),
        ]
    }

    // MARK: Gateway

    /// The gateway's own messages (Protocols/Gateway.md).
    static func gateway() throws -> [MessageExample] {
        let down = PartStatus(part: "meetings", code: 14, message: "scheduling is unavailable")
        let londonMeeting = DashboardMeeting(meeting: meeting, localStart: "2026-03-02T09:30", localEnd: "2026-03-02T10:15", timeZone: "Europe/London")
        let partner = DashboardMatch(match: proposedMatch, partnerID: mentorID, partnerName: "Maria Silva", partnerTimeZone: "America/Sao_Paulo")
        return [
            try MessageExample(PartStatus.self, full: down, minimal: PartStatus(part: "profile", code: 0)),
            try MessageExample(DashboardRequest.self, full: DashboardRequest(days: 30), minimal: DashboardRequest()),
            try MessageExample(
                DashboardMatch.self, full: partner, minimal: DashboardMatch(match: proposedMatch, partnerID: mentorID, partnerName: nil, partnerTimeZone: nil)
            ),
            try MessageExample(DashboardMeeting.self, full: londonMeeting, minimal: londonMeeting),
            try MessageExample(
                Dashboard.self,
                full: Dashboard(
                    person: person, matches: [partner], meetings: [londonMeeting], parts: [PartStatus(part: "profile", code: 0), down],
                    surveys: [SurveyInvitation(
                        id: "\(matchID.uuidString.lowercased())/\(menteeID.uuidString.lowercased())/pulse/1", organisationID: organisationID, programID: programID,
                        matchID: matchID, personID: menteeID, kind: .pulse, round: 1, dueAt: feedbackAt
                    )],
                    goals: [Goal(matchID: matchID, title: "Lead a design review")]
                ),
                minimal: Dashboard(person: nil, matches: [], meetings: [], parts: [])
            ),
            try MessageExample(ProgramDashboardRequest.self, full: ProgramDashboardRequest(programID: programID), minimal: ProgramDashboardRequest(programID: programID)),
            try MessageExample(StatusCount.self, full: StatusCount(status: .active, count: 42), minimal: StatusCount(status: .expired, count: 0)),
            try MessageExample(
                ProgramDashboard.self,
                full: ProgramDashboard(
                    program: program, matchCounts: [StatusCount(status: .active, count: 42)], pendingProposals: [proposedMatch], parts: [PartStatus(part: "program", code: 0)],
                    report: ProgramReport(programID: programID, k: 5, overall: ReportCell(group: "all", suppressed: false), cuts: [], generatedAt: feedbackAt),
                    health: [PairHealth(matchID: matchID, mentorID: mentorID, menteeID: menteeID, status: .atRisk, meetingsHeld: 1, lastMeetingAt: nil, reasons: ["no meeting for 40 days"])]
                ),
                minimal: ProgramDashboard(program: nil, matchCounts: [], pendingProposals: [], parts: [])
            ),
        ]
    }
}

// MARK: - Identity's erasure feed (kept apart to ease merging)

extension Examples {
    static func erasureFeedExamples() throws -> [MessageExample] {
        let erasure = Erasure(sequence: 17, organisationID: organisationID, personID: personID, erasedAt: issuedAt)
        return [
            try MessageExample(ListErasuresRequest.self, full: ListErasuresRequest(after: 16, limit: 100), minimal: ListErasuresRequest(after: 0)),
            try MessageExample(Erasure.self, full: erasure, minimal: erasure),
            try MessageExample(ErasurePage.self, full: ErasurePage(erasures: [erasure], last: 17), minimal: ErasurePage(erasures: [], last: 0)),
        ]
    }
}

// MARK: - Scheduling's meeting change feed and the feedback service (kept apart to ease merging)

extension Examples {
    static func feedExamples() throws -> [MessageExample] {
        [
            try MessageExample(ListMeetingChangesRequest.self, full: ListMeetingChangesRequest(after: 1041, limit: 200), minimal: ListMeetingChangesRequest(after: 0)),
            try MessageExample(
                MeetingChange.self,
                full: MeetingChange(sequence: 1042, organisationID: organisationID, meeting: firstOccurrence),
                minimal: MeetingChange(sequence: 1, organisationID: organisationID, meeting: meeting)
            ),
            try MessageExample(
                MeetingChangePage.self,
                full: MeetingChangePage(changes: [MeetingChange(sequence: 1042, organisationID: organisationID, meeting: meeting)], last: 1042),
                minimal: MeetingChangePage(changes: [], last: 0)
            ),
        ]
    }
}

extension Examples {
    static let feedbackProgramID = UUID(uuidString: "F0E1D2C3-B4A5-4697-8879-6A5B4C3D2E1F")!
    static let feedbackPersonID = UUID(uuidString: "0A1B2C3D-4E5F-4061-8273-94A5B6C7D8E9")!
    static let feedbackGoalID = UUID(uuidString: "3C5E7A91-2B4D-4F60-8A1C-9E0B2D4F6A83")!
    static let feedbackAt = Date(timeIntervalSince1970: 1_800_000_000)

    static func feedbackExamples() throws -> [MessageExample] {
        // Every key set (an encoding example: a real choice question measures no return figure).
        let question = SurveyQuestion(
            id: "goals", text: "How many of your goals did you reach?", type: .choice, choices: ["none", "some", "most", "all"], required: true,
            measures: .competency
        )
        let measured = SurveyQuestion(id: "competency", text: "Mentoring has significantly improved my competencies.", type: .likert, required: true, measures: .competency)
        let minimalQuestion = SurveyQuestion(id: "comments", text: "Anything else?", type: .freeText)
        let invitation = SurveyInvitation(
            id: "\(matchID.uuidString.lowercased())/\(feedbackPersonID.uuidString.lowercased())/pulse/1", organisationID: organisationID,
            programID: feedbackProgramID, matchID: matchID, personID: feedbackPersonID, kind: .pulse, round: 1, dueAt: feedbackAt
        )
        let figure = ReturnFigure(percent: 91.3, respondents: 46)
        let cell = ReportCell(
            group: "all", participants: 120, matches: 60, meetingsHeld: 410, mentoringHours: 352.5, respondents: 98, averageRating: 4.42, ratings: 380,
            responseRate: 71.4, competency: figure, relationship: ReturnFigure(percent: 90, respondents: 46), retention: ReturnFigure(percent: 82.6, respondents: 46),
            sharedComments: ["The career conversations were the most useful part."], suppressed: true, suppressedBecause: "fewer than k respondents"
        )
        let minimalCell = ReportCell(group: "Legal", suppressed: false)
        let goal = Goal(
            id: feedbackGoalID, matchID: matchID, title: "Lead a design review", milestones: [Milestone(title: "Shadow two reviews", done: true)],
            progress: 40, version: 3, updatedAt: feedbackAt
        )
        let health = PairHealth(
            matchID: matchID, mentorID: feedbackPersonID, menteeID: managerID, status: .needsCheckIn, meetingsHeld: 3, lastMeetingAt: feedbackAt,
            reasons: ["no meeting for 25 days"]
        )
        let minimalHealth = PairHealth(matchID: matchID, mentorID: feedbackPersonID, menteeID: managerID, status: .onTrack, meetingsHeld: 0, lastMeetingAt: nil, reasons: [])
        return [
            try MessageExample(
                SessionFeedbackInput.self,
                full: SessionFeedbackInput(
                    meetingID: meetingID, rating: 5, useful: "Walking through my promotion case", privateNote: "Ask about the staff track next time",
                    pairingFit: .goodFit, fitComment: "We click", shareTextWithAdmins: true
                ),
                minimal: SessionFeedbackInput(meetingID: meetingID, rating: 3)
            ),
            try MessageExample(
                SessionFeedback.self,
                full: SessionFeedback(
                    meetingID: meetingID, matchID: matchID, personID: feedbackPersonID, rating: 2, useful: "Not much", privateNote: "Felt rushed",
                    pairingFit: .notAGoodFit, fitComment: "Different time zones and goals", shareTextWithAdmins: false, submittedAt: feedbackAt
                ),
                minimal: SessionFeedback(
                    meetingID: meetingID, matchID: matchID, personID: feedbackPersonID, rating: 4, useful: nil, privateNote: nil, pairingFit: nil,
                    fitComment: nil, shareTextWithAdmins: false, submittedAt: feedbackAt
                )
            ),
            try MessageExample(SessionFeedbackRef.self, full: SessionFeedbackRef(meetingID: meetingID), minimal: SessionFeedbackRef(meetingID: meetingID)),
            try MessageExample(SurveyQuestion.self, full: question, minimal: minimalQuestion),
            try MessageExample(
                SurveyTemplate.self,
                full: SurveyTemplate(programID: feedbackProgramID, kind: .pulse, questions: [measured, question], firstAfterDays: 30, everyDays: 60, version: 2),
                minimal: SurveyTemplate(programID: feedbackProgramID, kind: .closing, questions: [minimalQuestion])
            ),
            try MessageExample(
                SurveyTemplateRef.self, full: SurveyTemplateRef(programID: feedbackProgramID, kind: .pulse),
                minimal: SurveyTemplateRef(programID: feedbackProgramID, kind: .closing)
            ),
            try MessageExample(SurveyInvitation.self, full: invitation, minimal: invitation),
            try MessageExample(ListDueSurveysRequest.self, full: ListDueSurveysRequest(personID: feedbackPersonID), minimal: ListDueSurveysRequest()),
            try MessageExample(SurveyInvitationList.self, full: SurveyInvitationList(invitations: [invitation]), minimal: SurveyInvitationList(invitations: [])),
            try MessageExample(
                SurveyAnswer.self, full: SurveyAnswer(questionID: "comments", value: 4, text: "More structure, please"),
                minimal: SurveyAnswer(questionID: "skipped")
            ),
            try MessageExample(
                SurveyResponseInput.self,
                full: SurveyResponseInput(
                    matchID: matchID, kind: .pulse, round: 1,
                    answers: [SurveyAnswer(questionID: "competency", value: 5), SurveyAnswer(questionID: "comments", text: "Great pairing")],
                    shareTextWithAdmins: true
                ),
                minimal: SurveyResponseInput(matchID: matchID, kind: .closing, round: 0, answers: [])
            ),
            try MessageExample(
                SurveyReceipt.self, full: SurveyReceipt(invitationID: invitation.id, submittedAt: feedbackAt, replaced: true),
                minimal: SurveyReceipt(invitationID: invitation.id, submittedAt: feedbackAt, replaced: false)
            ),
            try MessageExample(StreamSurveyInvitationsRequest.self, full: StreamSurveyInvitationsRequest(since: feedbackAt), minimal: StreamSurveyInvitationsRequest()),
            try MessageExample(Milestone.self, full: Milestone(title: "Shadow two reviews", done: true), minimal: Milestone(title: "Run one review")),
            try MessageExample(Goal.self, full: goal, minimal: Goal(matchID: matchID, title: "Learn Swift concurrency")),
            try MessageExample(ListGoalsRequest.self, full: ListGoalsRequest(matchID: matchID), minimal: ListGoalsRequest(matchID: matchID)),
            try MessageExample(GoalList.self, full: GoalList(goals: [goal]), minimal: GoalList(goals: [])),
            try MessageExample(
                ReportRequest.self, full: ReportRequest(programID: feedbackProgramID, fromMonth: "2026-01", toMonth: "2026-06"),
                minimal: ReportRequest(programID: feedbackProgramID)
            ),
            try MessageExample(ReturnFigure.self, full: figure, minimal: ReturnFigure(percent: 0, respondents: 0)),
            try MessageExample(ReportCell.self, full: cell, minimal: minimalCell),
            try MessageExample(ReportCut.self, full: ReportCut(dimension: .division, cells: [cell]), minimal: ReportCut(dimension: .month, cells: [])),
            try MessageExample(
                ProgramReport.self,
                full: ProgramReport(programID: feedbackProgramID, k: 5, overall: cell, cuts: [ReportCut(dimension: .role, cells: [minimalCell])], generatedAt: feedbackAt),
                minimal: ProgramReport(programID: feedbackProgramID, k: 3, overall: minimalCell, cuts: [], generatedAt: feedbackAt)
            ),
            try MessageExample(PairHealth.self, full: health, minimal: minimalHealth),
            try MessageExample(MatchHealthRequest.self, full: MatchHealthRequest(programID: feedbackProgramID), minimal: MatchHealthRequest(programID: feedbackProgramID)),
            try MessageExample(MatchHealthList.self, full: MatchHealthList(pairs: [health]), minimal: MatchHealthList(pairs: [])),
            try MessageExample(
                ReportExport.self, full: ReportExport(csv: "dimension,group\r\nall,all\r\n"), minimal: ReportExport(contentType: "", csv: "")
            ),
            try MessageExample(ReportExportChunk.self, full: ReportExportChunk(csv: "role,mentee,60\r\n"), minimal: ReportExportChunk(csv: "")),
            try MessageExample(FeedbackSettings.self, full: FeedbackSettings(k: 7), minimal: FeedbackSettings()),
            try MessageExample(ErasureReceipt.self, full: ErasureReceipt(personID: feedbackPersonID, removed: 12), minimal: ErasureReceipt(personID: feedbackPersonID, removed: 0)),
        ]
    }
}
