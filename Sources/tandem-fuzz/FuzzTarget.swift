import Foundation
import NIOCore
import TandemProtocols
import TandemWire

/// What the fuzzer runs on every input: the CBOR decoders, the frame decoder and the envelope
/// decoders, with invariants that must hold for any bytes. A broken invariant traps, so both the
/// randomized driver and libFuzzer report it as a crash.
enum FuzzTarget {
    /// Outcome bits, used by the randomized driver as a cheap stand-in for coverage.
    struct Outcome: OptionSet, Hashable {
        let rawValue: UInt32
        static let cborValue = Outcome(rawValue: 1 << 0)
        static let anyValue = Outcome(rawValue: 1 << 1)
        static let profile = Outcome(rawValue: 1 << 2)
        static let booking = Outcome(rawValue: 1 << 3)
        static let echo = Outcome(rawValue: 1 << 4)
        static let dictionary = Outcome(rawValue: 1 << 5)
        static let details = Outcome(rawValue: 1 << 6)
        static let frames = Outcome(rawValue: 1 << 7)
        static let requestHeaders = Outcome(rawValue: 1 << 8)
        static let trailers = Outcome(rawValue: 1 << 9)
        static let settings = Outcome(rawValue: 1 << 10)
        static let goAway = Outcome(rawValue: 1 << 11)
        static let oversized = Outcome(rawValue: 1 << 12)
        static let inflated = Outcome(rawValue: 1 << 13)
        static let prefaced = Outcome(rawValue: 1 << 14)
    }

    static func run(_ data: [UInt8]) -> (Outcome, String) {
        var outcome: Outcome = []
        var signature = ""
        let decoder = CBORDecoder()

        // The generic parser and the Codable decoder agree on what is malformed.
        let value = try? CBORValue(decoding: data)
        do {
            let decoded = try decoder.decode(CBORValue.self, from: data)
            outcome.insert(.anyValue)
            precondition(value != nil, "CBORDecoder accepted input that CBORValue rejects")
            // Round trip: re-encoding and parsing again gives the same item.
            let again = try CBORValue(decoding: decoded.encoded)
            precondition(again.description == decoded.description, "CBORValue does not round-trip")
        } catch let error as DecodingError {
            signature += kind(error)
        } catch {
            preconditionFailure("CBORDecoder threw a non-DecodingError: \(error)")
        }
        if value != nil { outcome.insert(.cborValue) }

        if let profile = try? decoder.decode(ParticipantProfile.self, from: data) {
            outcome.insert(.profile)
            let bytes = try! CBOREncoder().encodeBytes(profile)
            precondition(try! decoder.decode(ParticipantProfile.self, from: bytes) == profile, "profile does not round-trip")
        }
        if (try? decoder.decode(BookMeetingRequest.self, from: data)) != nil { outcome.insert(.booking) }
        if (try? decoder.decode(EchoMessage.self, from: data)) != nil { outcome.insert(.echo) }
        if let dictionary = try? decoder.decode([String: [Int]].self, from: data) {
            outcome.insert(.dictionary)
            precondition(try! decoder.decode([String: [Int]].self, from: CBOREncoder().encodeBytes(dictionary)) == dictionary)
        }
        if (try? decoder.decode([ErrorDetail].self, from: data)) != nil { outcome.insert(.details) }

        // Frames: the same events whether the bytes arrive at once or in pieces.
        for preface in [false, true] {
            let whole = frameEvents(data, preface: preface, chunk: data.count)
            let dripped = frameEvents(data, preface: preface, chunk: 1 + data.count % 7)
            precondition(whole == dripped, "frame decoding depends on how bytes arrive")
            for event in whole.events {
                if preface { outcome.insert(.prefaced) }
                switch event {
                case .oversized: outcome.insert(.oversized)
                case .frame(let frame):
                    outcome.insert(.frames)
                    outcome.formUnion(decodeEnvelope(frame))
                }
            }
        }

        // Inflation never exceeds its limit.
        if let inflated = try? Deflate.decompress(ByteBuffer(bytes: data), limit: 1 << 16) {
            precondition(inflated.readableBytes <= 1 << 16)
            outcome.insert(.inflated)
        }
        return (outcome, signature)
    }

    struct FrameRun: Equatable {
        var events: [InboundFrame]
        var failed: Bool
    }

    static func frameEvents(_ data: [UInt8], preface: Bool, chunk: Int) -> FrameRun {
        var decoder = FrameDecoder(maxFrameSize: 16 * 1024, expectPreface: preface)
        var pending = ByteBuffer()
        var run = FrameRun(events: [], failed: false)
        var offset = 0
        while offset < data.count {
            let end = min(data.count, offset + max(chunk, 1))
            pending.writeBytes(data[offset..<end])
            offset = end
            do {
                while let event = try decoder.next(&pending) { run.events.append(event) }
            } catch {
                run.failed = true
                return run
            }
        }
        return run
    }

    static func decodeEnvelope(_ frame: Frame) -> Outcome {
        switch frame.type {
        case .headers:
            if let headers = try? RequestHeaders(decoding: frame.payload) {
                var buffer = ByteBuffer()
                headers.encode(into: &buffer)
                precondition((try? RequestHeaders(decoding: buffer)) == headers, "request headers do not round-trip")
                return .requestHeaders
            }
            _ = try? ResponseHeaders(decoding: frame.payload)
        case .trailers:
            if let trailers = try? Trailers(decoding: frame.payload) {
                var buffer = ByteBuffer()
                trailers.encode(into: &buffer)
                precondition((try? Trailers(decoding: buffer))?.code == trailers.code, "trailers do not round-trip")
                return .trailers
            }
        case .settings:
            if (try? Settings(decoding: frame.payload)) != nil { return .settings }
        case .goAway:
            if (try? GoAway(decoding: frame.payload)) != nil { return .goAway }
        default:
            break
        }
        return []
    }

    private static func kind(_ error: DecodingError) -> String {
        switch error {
        case .typeMismatch: return "t"
        case .valueNotFound: return "v"
        case .keyNotFound: return "k"
        case .dataCorrupted(let context): return "c" + String(context.debugDescription.prefix(24))
        @unknown default: return "?"
        }
    }

    /// Inputs to start from: valid encodings of real messages and frames.
    static func seeds() -> [[UInt8]] {
        let encoder = CBOREncoder()
        let profile = ParticipantProfile(
            id: UUID(), personID: UUID(), programID: UUID(), role: .mentor, displayName: "Amara Okafor",
            division: "Platform", jobTitle: "Staff Engineer", seniority: 7, timeZone: "Europe/London",
            languages: ["en", "yo"], skillsOffered: [SkillLevel(name: "swift", level: 4)],
            skillsWanted: [SkillLevel(name: "management", level: 2)], goals: "grow", goalTags: ["x"], topics: ["y"],
            cadence: .weekly, capacity: 2, location: "Lagos", updatedAt: Date(timeIntervalSince1970: 1_790_000_000.5), version: 3
        )
        var seeds: [[UInt8]] = [
            try! encoder.encodeBytes(profile),
            try! encoder.encodeBytes(BookMeetingRequest(matchID: UUID(), start: Date(), durationMinutes: 45, timeZone: "Asia/Kolkata", agenda: "a")),
            try! encoder.encodeBytes(EchoMessage(text: "hi", payload: Data([1, 2, 3]), repeat: 2)),
            try! encoder.encodeBytes(["a": [1, -2, 300], "bb": []]),
            try! encoder.encodeBytes([ErrorDetail.badRequest([.init(field: "f", rule: "r", description: "d")]), .retryInfo(retryDelayMilliseconds: 5)]),
            [0x9F, 0x01, 0x82, 0x02, 0x03, 0x9F, 0x04, 0x05, 0xFF, 0xFF],
            [0x7F, 0x65, 0x73, 0x74, 0x72, 0x65, 0x61, 0x64, 0x6D, 0x69, 0x6E, 0x67, 0xFF],
            [0xFB, 0x3F, 0xF1, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9A],
            [0xC2, 0x49, 0x01, 0, 0, 0, 0, 0, 0, 0, 0],
        ]
        var frames = ByteBuffer(bytes: ConnectionPreface.bytes)
        var settings = ByteBuffer()
        Settings(agent: "fuzz").encode(into: &settings)
        frames.writeFrame(Frame(type: .settings, streamID: 0, payload: settings))
        var headers = ByteBuffer()
        RequestHeaders(method: "echo.Get", timeoutMicroseconds: 1000, metadata: ["authorization": "Bearer x"]).encode(into: &headers)
        frames.writeFrame(Frame(type: .headers, streamID: 1, payload: headers))
        frames.writeFrame(Frame(type: .message, flags: .endStream, streamID: 1, payload: ByteBuffer(bytes: seeds[2])))
        var trailers = ByteBuffer()
        RPCError.invalidArgument(field: "x", rule: "y", "z").trailers.encode(into: &trailers)
        frames.writeFrame(Frame(type: .trailers, streamID: 1, payload: trailers))
        var goAway = ByteBuffer()
        GoAway(lastStreamID: 1, code: .unavailable, message: "draining").encode(into: &goAway)
        frames.writeFrame(Frame(type: .goAway, streamID: 0, payload: goAway))
        seeds.append(Array(frames.readableBytesView))
        var compressed = ByteBuffer()
        try! Deflate.compress(ByteBuffer(bytes: seeds[0]), into: &compressed)
        seeds.append(Array(compressed.readableBytesView))
        return seeds
    }
}
