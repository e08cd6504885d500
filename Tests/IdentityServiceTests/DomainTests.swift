import Foundation
import TandemProtocols
import TandemWire
import Testing
@testable import IdentityService

@Suite("Identity domain rules")
struct DomainTests {
    @Test("emails: a valid address passes, malformed ones name the field and rule")
    func emails() {
        #expect(Validation.email("ada@example.com") == nil)
        for bad in ["", "ada", "ada@", "@example.com", "ada@example", "ada @example.com", "a@b@c.com", "ada@.com", "ada@example.com."] {
            let violation = Validation.email(bad, field: "person.email")
            #expect(violation?.field == "person.email", "\(bad)")
            #expect(violation?.rule == "format", "\(bad)")
        }
        #expect(Validation.normalizedEmail("  Ada@Example.COM ") == "ada@example.com")
    }

    @Test("time zones must be IANA names")
    func timeZones() {
        for good in ["Europe/London", "America/New_York", "Asia/Kolkata", "UTC", "Australia/Lord_Howe"] {
            #expect(Validation.timeZone(good) == nil, "\(good)")
        }
        for bad in ["", "Mars/Olympus", "GMT+5", "EST", "europe/london/x"] {
            #expect(Validation.timeZone(bad)?.rule == "time-zone", "\(bad)")
        }
    }

    @Test("a person with several problems reports all of them")
    func personViolations() {
        let person = PersonInput(
            email: "nope", name: " ", division: "R&D", jobTitle: "Engineer", seniority: 11, timeZone: "Nowhere/City",
            workingHours: WorkingHours(days: [0, 8], startMinute: 600, endMinute: 500), languages: ["en", "12"], hireDate: "2024-02-30"
        )
        let fields = Set(Validation.person(person).map(\.field))
        #expect(fields == [
            "person.email", "person.name", "person.seniority", "person.timeZone", "person.languages", "person.workingHours.days",
            "person.workingHours", "person.hireDate",
        ])
        let good = PersonInput(email: "a@b.co", name: "A", division: "R&D", jobTitle: "Engineer", seniority: 3, timeZone: "Europe/Paris", hireDate: "2024-02-29")
        #expect(Validation.person(good).isEmpty)
    }

    @Test("participation: levels 1–5, capacity 0 or more and only for mentors")
    func participationRules() {
        let program = UUID(), person = UUID()
        var input = ParticipationInput(
            programID: program, personID: person, role: .mentor,
            skillsOffered: [SkillLevel(name: "swift", level: 0), SkillLevel(name: "sql", level: 5)], skillsWanted: [SkillLevel(name: "go", level: 6)],
            capacity: -1
        )
        #expect(Set(Validation.participation(input).map(\.field)) == ["skillsOffered[0].level", "skillsWanted[0].level", "capacity"])
        input.skillsOffered = [SkillLevel(name: "swift", level: 1)]
        input.skillsWanted = []
        input.capacity = 0
        #expect(Validation.participation(input).isEmpty)
        input.role = .mentee
        #expect(Validation.participation(input).map(\.rule) == ["role"])
    }

    @Test("program dates must be real and in order")
    func programDates() {
        #expect(Validation.program(ProgramInput(name: "Onboarding", format: .oneToOne, startsOn: "2026-01-01", endsOn: "2026-06-30")).isEmpty)
        let bad = Validation.program(ProgramInput(name: "", format: .group, startsOn: "2026-13-01", endsOn: "2025-01-01"))
        #expect(Set(bad.map(\.field)) == ["program.name", "program.startsOn"])
        let order = Validation.program(ProgramInput(name: "X", format: .peer, startsOn: "2026-02-01", endsOn: "2026-01-31"))
        #expect(order.map(\.rule) == ["order"])
    }

    @Test("scrypt hashes verify the right password only, and carry their cost")
    func passwords() throws {
        let hasher = PasswordHasher(logN: 10)
        let hash = try hasher.hash("correct horse battery staple")
        #expect(hash.hasPrefix("scrypt$10$8$1$"))
        #expect(hasher.verify("correct horse battery staple", against: hash))
        #expect(!hasher.verify("correct horse battery stapler", against: hash))
        #expect(try hasher.hash("correct horse battery staple") != hash, "salted")
        // A hash made at another cost still verifies (the cost is read from the hash).
        #expect(PasswordHasher(logN: 12).verify("correct horse battery staple", against: hash))
        for malformed in ["", "scrypt$10$8$1$", "bcrypt$x", "scrypt$40$8$1$AAAA$AAAA", hash + "x"] {
            #expect(!hasher.verify("correct horse battery staple", against: malformed), "\(malformed)")
        }
        #expect(constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!constantTimeEqual([1, 2], [1, 2, 3]))
    }

    @Test("sign-in throttle: free attempts, then doubling back-off up to the cap; success clears")
    func throttle() {
        var throttle = SignInThrottle(freeFailures: 3, baseDelay: 1, maxDelay: 8, forgetAfter: 3600)
        let start = Date(timeIntervalSince1970: 1_000_000)
        for attempt in 0..<3 {
            throttle.recordFailure("a", now: start.addingTimeInterval(Double(attempt)))
            #expect(throttle.lockedUntil("a", now: start.addingTimeInterval(Double(attempt))) == nil)
        }
        var now = start.addingTimeInterval(10)
        var delays: [TimeInterval] = []
        for _ in 0..<6 {
            throttle.recordFailure("a", now: now)
            let until = throttle.lockedUntil("a", now: now)!
            delays.append(until.timeIntervalSince(now))
            now = until
            #expect(throttle.lockedUntil("a", now: now) == nil, "unlocked when the delay is over")
        }
        #expect(delays == [1, 2, 4, 8, 8, 8])
        #expect(throttle.lockedUntil("b", now: now) == nil, "other keys are not affected")
        throttle.recordFailure("a", now: now)
        throttle.recordSuccess("a")
        #expect(throttle.lockedUntil("a", now: now) == nil)
        // Failures long ago are forgotten.
        var forgetful = SignInThrottle(freeFailures: 1, baseDelay: 1, maxDelay: 8, forgetAfter: 60)
        forgetful.recordFailure("c", now: start)
        forgetful.recordFailure("c", now: start.addingTimeInterval(120))
        #expect(forgetful.lockedUntil("c", now: start.addingTimeInterval(120)) == nil)
    }

    @Test("sign-in throttle: attempts in flight count against the free failures; past them, one at a time; an attempt that ends without failing costs nothing")
    func throttleInFlight() {
        var throttle = SignInThrottle(freeFailures: 3, baseDelay: 1, maxDelay: 8, forgetAfter: 3600)
        let now = Date(timeIntervalSince1970: 1_000_000)
        for _ in 0..<3 { #expect(throttle.begin("a", now: now) == nil) }
        #expect(throttle.begin("a", now: now) == now.addingTimeInterval(1), "three in flight use the three free failures")
        #expect(throttle.begin("b", now: now) == nil, "other keys are not affected")
        throttle.end("a", failed: false, now: now)
        #expect(throttle.begin("a", now: now) == nil, "a place freed by an attempt that did not fail")
        for _ in 0..<3 { throttle.end("a", failed: true, now: now) }
        // Three failures and nothing in flight: the next attempt goes ahead alone, as one by one.
        #expect(throttle.begin("a", now: now) == nil)
        #expect(throttle.begin("a", now: now) == now.addingTimeInterval(1))
        throttle.end("a", failed: true, now: now)
        #expect(throttle.begin("a", now: now) == now.addingTimeInterval(1), "the fourth failure's wait")
        #expect(throttle.begin("a", now: now.addingTimeInterval(1)) == nil)
    }

    @Test("sign-in throttle: old records are forgotten in sweeps that cost one per doubling of the records, not one per failure")
    func throttleSweeps() {
        var throttle = SignInThrottle(freeFailures: 5, baseDelay: 1, maxDelay: 8, forgetAfter: 60)
        let start = Date(timeIntervalSince1970: 1_000_000)
        // 50,000 failures long ago, then 160,000 recent ones from as many clients.
        for index in 0..<50_000 { throttle.recordFailure("old-\(index)", now: start) }
        let later = start.addingTimeInterval(3600)
        for index in 0..<160_000 { throttle.recordFailure("new-\(index)", now: later) }
        // The sweep at 100,000 records forgot the 50,000 old ones; the next was due at 100,000 again
        // (at least the threshold), and then not before 200,000: two in all, where sweeping at every
        // failure past 100,000 (as the throttle once did) would have been about 60,000.
        #expect(throttle.sweeps == 2)
        #expect(throttle.count == 160_000)
    }

    @Test("CSV: quotes, doubled quotes, embedded newlines, CRLF, BOM; broken quoting names the line")
    func csv() throws {
        let rows = try CSV.parse("\u{FEFF}a,b,c\r\n\"x, y\",\"say \"\"hi\"\"\",\"two\nlines\"\r\n\n1,,3\n")
        #expect(rows.map(\.fields) == [["a", "b", "c"], ["x, y", "say \"hi\"", "two\nlines"], ["1", "", "3"]])
        #expect(rows.map(\.line) == [1, 2, 5])
        #expect(throws: CSV.Error.unterminatedQuote(line: 2)) { try CSV.parse("a\n\"open\n") }
        #expect(throws: CSV.Error.textAfterQuote(line: 1)) { try CSV.parse("\"a\"b,c") }
    }

    @Test("import rows: every bad value is reported with its line, column and rule")
    func importRows() {
        let csv = """
            email,name,time_zone,seniority,working_days,working_hours,role,skills_offered,capacity,manager_email
            ada@example.com,Ada,Europe/London,4,1-5,09:00-17:30,mentor,swift:5;sql:3,2,
            bad-email,Bob,Europe/London,,,,mentee,,,
            cy@example.com,Cy,Mars/Base,,,,mentee,,,
            di@example.com,Di,UTC,12,,,mentor,,,
            ed@example.com,Ed,UTC,,8,,mentor,,,
            fay@example.com,Fay,UTC,,,17:00-09:00,mentor,,,
            gus@example.com,Gus,UTC,,,,boss,,,
            hal@example.com,Hal,UTC,,,,mentor,swift:9,,
            ivy@example.com,Ivy,UTC,,,,mentee,,3,
            ADA@example.com,Ada Again,UTC,,,,mentor,,,
            jo@example.com,Jo,UTC,,,,mentor,,-1,
            kim@example.com,Kim,UTC,,,,mentor,,,kim@example.com
            lu@example.com,Lu,UTC,,,,mentor,swift:3;Swift:4,,
            """
        let parsed = ImportPlanner.parse(csv, hasProgram: true)
        #expect(parsed.rowCount == 13)
        #expect(parsed.rows.map(\.person.email) == ["ada@example.com"])
        let ada = parsed.rows[0]
        #expect(ada.person.workingHours == WorkingHours(days: [1, 2, 3, 4, 5], startMinute: 540, endMinute: 1050))
        #expect(ada.participation == .init(role: .mentor, skillsOffered: [SkillLevel(name: "swift", level: 5), SkillLevel(name: "sql", level: 3)], skillsWanted: [], capacity: 2))
        let errors = parsed.errors.map { "\($0.line) \($0.field) \($0.rule)" }
        #expect(errors == [
            "3 email format", "4 time_zone time-zone", "5 seniority range", "6 working_days format", "7 working_hours format",
            "8 role enum", "9 skills_offered format", "10 capacity role", "11 email unique", "12 capacity range", "13 manager_email self",
            "14 skills_offered unique",
        ])
    }

    @Test("import header problems stop the import before any row")
    func importHeader() {
        let unknown = ImportPlanner.parse("email,name,time_zone,shoe_size\na@b.co,A,UTC,42\n", hasProgram: false)
        #expect(unknown.rows.isEmpty)
        #expect(unknown.errors.map(\.field) == ["shoe_size"])
        let missing = ImportPlanner.parse("email,name\na@b.co,A\n", hasProgram: false)
        #expect(missing.errors.map(\.field) == ["time_zone"])
        let role = ImportPlanner.parse("email,name,time_zone,role\na@b.co,A,UTC,mentor\n", hasProgram: false)
        #expect(role.errors.map(\.rule) == ["program"])
        let twice = ImportPlanner.parse("email,name,time_zone,Email\na@b.co,A,UTC,b@c.co\n", hasProgram: false)
        #expect(twice.rows.isEmpty && twice.errors.map { "\($0.field) \($0.rule)" } == ["email unique"])
        let broken = ImportPlanner.parse("email,name,time_zone\n\"a@b.co,A,UTC\n", hasProgram: false)
        #expect(broken.errors.map(\.rule) == ["csv"])
    }

    @Test("import plan: match by external id, then email; unchanged rows stay unchanged")
    func importPlan() throws {
        let csv = """
            external_id,email,name,time_zone,division
            E1,ada@example.com,Ada,Europe/London,R&D
            E2,bob.new@example.com,Bob,UTC,Sales
            ,cy@example.com,Cy,UTC,Ops
            ,dee@example.com,Dee,UTC,Ops
            """
        let parsed = ImportPlanner.parse(csv, hasProgram: false)
        #expect(parsed.errors.isEmpty)
        func existing(_ id: UUID, _ row: Int, active: Bool = true) -> ImportPlanner.Existing {
            let person = parsed.rows[row].person
            return .init(id: id, email: person.email, externalID: person.externalID, input: person, active: active)
        }
        let ada = UUID(), bob = UUID(), cy = UUID()
        var bobOld = existing(bob, 1)
        bobOld.email = "bob@example.com"
        bobOld.input.email = "bob@example.com"
        var cyOld = existing(cy, 2)
        cyOld.input.division = "Finance"
        let plan = ImportPlanner.plan(rows: parsed.rows, errors: parsed.errors, rowCount: parsed.rowCount, existing: [existing(ada, 0), bobOld, cyOld])
        #expect(plan.rows.map(\.action) == [.unchanged(ada), .update(bob), .update(cy), .create])
        // A deactivated person in the file is reactivated: an update, not unchanged.
        let reactivate = ImportPlanner.plan(rows: parsed.rows, errors: [], rowCount: 4, existing: [existing(ada, 0, active: false)])
        #expect(reactivate.rows[0].action == .update(ada))
        // An email that belongs to someone else cannot move to the person matched by external id.
        var clash = existing(UUID(), 3)
        clash.email = "bob.new@example.com"
        let conflicted = ImportPlanner.plan(rows: parsed.rows, errors: [], rowCount: 4, existing: [bobOld, clash])
        #expect(conflicted.errors.map { "\($0.line) \($0.field) \($0.rule)" } == ["3 email unique"])
    }

    @Test("signing keys: rotation keeps old keys for the overlap, then drops them")
    func keyRing() {
        let start = Date(timeIntervalSince1970: 2_000_000)
        var ring = SigningKeyRing(keys: [])
        #expect(ring.current(at: start) == nil)
        let first = ring.rotate(at: start, overlap: 60)
        #expect(ring.current(at: start)?.keyID == first.keyID)
        let second = ring.rotate(at: start.addingTimeInterval(100), overlap: 60)
        #expect(ring.current(at: start.addingTimeInterval(100))?.keyID == second.keyID)
        let published = ring.published(at: start.addingTimeInterval(130))
        #expect(published.map(\.keyID) == [first.keyID, second.keyID])
        #expect(published[0].acceptedUntil == start.addingTimeInterval(160))
        #expect(published[0].publicKey.count == 32)
        #expect(ring.published(at: start.addingTimeInterval(161)).map(\.keyID) == [second.keyID])
        _ = ring.rotate(at: start.addingTimeInterval(500), overlap: 0)
        #expect(ring.keys.count == 1, "keys past their overlap are dropped at the next rotation")
    }

    @Test("API keys and page tokens round-trip; garbage does not parse")
    func formats() {
        let id = UUID()
        let key = APIKeyFormat.make(keyID: id)
        #expect(key.hasPrefix("tdm_"))
        #expect(APIKeyFormat.parse(key)?.0 == id)
        for bad in ["", "tdm_", "tdm_123_abc", "xyz_" + String(repeating: "a", count: 32) + "_s", "tdm_" + String(repeating: "z", count: 32) + "_s"] {
            #expect(APIKeyFormat.parse(bad) == nil, "\(bad)")
        }
        let cursor = PeopleCursor(name: "Zoë | O'Brien", id: id)
        #expect(PeopleCursor(token: cursor.token) == cursor)
        #expect(PeopleCursor(token: "not base64!") == nil)
    }
}
