import ArgumentParser
import Foundation
import TandemProtocols
import TandemWire

/// CBOR encode/decode against Foundation's JSONEncoder/JSONDecoder on the same values.
struct WireBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wire",
        abstract: "CBOREncoder/CBORDecoder vs JSONEncoder/JSONDecoder: time, size and allocations."
    )

    @Option(help: "Measured rounds per case; the median is reported.")
    var rounds = 11

    @Option(help: "Seconds per round.")
    var seconds = 0.3

    @Option(help: "Write the results as JSON to this file.")
    var json: String?

    struct Row: Codable {
        var message: String
        var cborBytes: Int
        var jsonBytes: Int
        var cborEncodeMicroseconds: Double
        var jsonEncodeMicroseconds: Double
        var cborDecodeMicroseconds: Double
        var jsonDecodeMicroseconds: Double
        var cborEncodeAllocations: Double
        var jsonEncodeAllocations: Double
        var cborDecodeAllocations: Double
        var jsonDecodeAllocations: Double
        /// Medians of the per-round JSON/CBOR time ratios.
        var encodeSpeedup: Double
        var decodeSpeedup: Double
        var sizeRatio: Double { Double(cborBytes) / Double(jsonBytes) }
    }

    @Option(help: ArgumentHelp("Only loop one case (encode-profile, decode-profile, encode-booking, decode-booking) for profilers.", visibility: .hidden))
    var loop: String?

    func run() throws {
        if let loop {
            let profile = try CBOREncoder().encode(WireSamples.mentorProfile)
            let booking = try CBOREncoder().encode(WireSamples.bookingRequest)
            for _ in 0..<300_000 {
                switch loop {
                case "encode-profile": blackHole(try CBOREncoder().encode(WireSamples.mentorProfile))
                case "decode-profile": blackHole(try CBORDecoder().decode(ParticipantProfile.self, from: profile))
                case "encode-booking": blackHole(try CBOREncoder().encode(WireSamples.bookingRequest))
                default: blackHole(try CBORDecoder().decode(BookMeetingRequest.self, from: booking))
                }
            }
            return
        }
        let rows = [
            try bench("ParticipantProfile (mentor profile)", WireSamples.mentorProfile),
            try bench("BookMeetingRequest", WireSamples.bookingRequest),
        ]
        print("tandem-bench wire: \(rounds) rounds × \(seconds) s, CBOR and JSON alternating; median round in µs per operation, × = median per-round speed-up")
        print(pad("message", 36) + pad("CBOR B", 8, right: true) + pad("JSON B", 8, right: true) + pad("size", 7, right: true)
              + pad("enc CBOR", 10, right: true) + pad("enc JSON", 10, right: true) + pad("×", 7, right: true)
              + pad("dec CBOR", 10, right: true) + pad("dec JSON", 10, right: true) + pad("×", 7, right: true)
              + pad("allocs enc/dec CBOR", 21, right: true) + pad("JSON", 12, right: true))
        for row in rows {
            print(pad(row.message, 36) + pad("\(row.cborBytes)", 8, right: true) + pad("\(row.jsonBytes)", 8, right: true)
                  + pad(format(row.sizeRatio * 100, 0) + "%", 7, right: true)
                  + pad(format(row.cborEncodeMicroseconds), 10, right: true) + pad(format(row.jsonEncodeMicroseconds), 10, right: true)
                  + pad(format(row.encodeSpeedup, 1), 7, right: true)
                  + pad(format(row.cborDecodeMicroseconds), 10, right: true) + pad(format(row.jsonDecodeMicroseconds), 10, right: true)
                  + pad(format(row.decodeSpeedup, 1), 7, right: true)
                  + pad(format(row.cborEncodeAllocations, 1) + "/" + format(row.cborDecodeAllocations, 1), 21, right: true)
                  + pad(format(row.jsonEncodeAllocations, 1) + "/" + format(row.jsonDecodeAllocations, 1), 12, right: true))
        }
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(rows).write(to: URL(fileURLWithPath: json))
        }
    }

    func bench<T: Codable & Equatable>(_ name: String, _ value: T) throws -> Row {
        let cborEncoder = CBOREncoder()
        let cborDecoder = CBORDecoder()
        let jsonEncoder = JSONEncoder()
        let jsonDecoder = JSONDecoder()
        let cbor = try cborEncoder.encode(value)
        let json = try jsonEncoder.encode(value)
        guard try cborDecoder.decode(T.self, from: cbor) == value, try jsonDecoder.decode(T.self, from: json) == value else {
            throw ValidationError("\(name) does not round-trip")
        }
        // CBOR and JSON alternate round by round, so both see the same machine conditions.
        let encode = try measurePair(rounds: rounds, duration: seconds, { blackHole(try cborEncoder.encode(value)) }, { blackHole(try jsonEncoder.encode(value)) })
        let decode = try measurePair(rounds: rounds, duration: seconds, { blackHole(try cborDecoder.decode(T.self, from: cbor)) }, { blackHole(try jsonDecoder.decode(T.self, from: json)) })
        let (cborEncode, jsonEncode, cborDecode, jsonDecode) = (encode.a, encode.b, decode.a, decode.b)
        return Row(
            message: name, cborBytes: cbor.count, jsonBytes: json.count,
            cborEncodeMicroseconds: cborEncode.microseconds, jsonEncodeMicroseconds: jsonEncode.microseconds,
            cborDecodeMicroseconds: cborDecode.microseconds, jsonDecodeMicroseconds: jsonDecode.microseconds,
            cborEncodeAllocations: cborEncode.allocationsPerOperation, jsonEncodeAllocations: jsonEncode.allocationsPerOperation,
            cborDecodeAllocations: cborDecode.allocationsPerOperation, jsonDecodeAllocations: jsonDecode.allocationsPerOperation,
            encodeSpeedup: encode.ratio, decodeSpeedup: decode.ratio
        )
    }
}

/// The realistic messages the wire benchmark uses.
enum WireSamples {
    static let mentorProfile = ParticipantProfile(
        id: UUID(uuidString: "6F1C2A4E-8B3D-4F5A-9C7E-1D2B3A4C5E6F")!,
        personID: UUID(uuidString: "0A1B2C3D-4E5F-4061-8273-94A5B6C7D8E9")!,
        programID: UUID(uuidString: "F0E1D2C3-B4A5-4697-8879-6A5B4C3D2E1F")!,
        role: .mentor, displayName: "Amara Okafor", division: "Platform Engineering", jobTitle: "Staff Engineer",
        seniority: 7, timeZone: "Europe/London", languages: ["en", "fr", "yo"],
        skillsOffered: [
            SkillLevel(name: "distributed systems", level: 5), SkillLevel(name: "swift", level: 4),
            SkillLevel(name: "public speaking", level: 3), SkillLevel(name: "incident response", level: 4),
        ],
        skillsWanted: [SkillLevel(name: "people management", level: 2)],
        goals: "Help new tech leads grow confident in design reviews",
        goalTags: ["leadership", "architecture"], topics: ["career growth", "system design", "work-life balance"],
        cadence: .fortnightly, capacity: 3, location: nil,
        updatedAt: Date(timeIntervalSince1970: 1_790_000_000.25), version: 12
    )

    static let bookingRequest = BookMeetingRequest(
        matchID: UUID(uuidString: "3E4F5A6B-7C8D-4E9F-A0B1-C2D3E4F5A6B7")!,
        start: Date(timeIntervalSince1970: 1_790_100_000), durationMinutes: 45, timeZone: "America/New_York",
        agenda: "Design review feedback"
    )
}
