import Foundation
import NIOCore
import TandemProtocols
import TandemWire

/// One golden vector: bytes Tandem must produce and parse exactly, with a one-line description.
struct GoldenVector {
    enum Kind: String { case cbor, frames }

    /// What one frame of a frames vector holds, for the JSON file and the Python check.
    struct FrameInfo {
        var frame: Frame
        /// The payload is a CBOR item (after decompression when `compressed`).
        var payloadIsCBOR: Bool
    }

    let name: String
    let description: String
    let kind: Kind
    let preface: Bool
    let bytes: [UInt8]
    let frames: [FrameInfo]
    /// Parses `bytes` back into Swift values and checks they equal the ones the vector came from.
    let parse: ([UInt8]) throws -> Bool

    static func message<T: Codable & Equatable>(_ name: String, _ description: String, _ value: T) throws -> GoldenVector {
        GoldenVector(
            name: name, description: description, kind: .cbor, preface: false,
            bytes: try CBOREncoder().encodeBytes(value), frames: [],
            parse: { try CBORDecoder().decode(T.self, from: $0) == value }
        )
    }

    /// A vector built from frames; `check` parses each decoded frame's payload and compares it.
    static func frames(
        _ name: String, _ description: String, preface: Bool = false, _ frames: [FrameInfo],
        check: @escaping ([Frame]) throws -> Bool
    ) -> GoldenVector {
        var buffer = ByteBuffer()
        if preface { buffer.writeBytes(ConnectionPreface.bytes) }
        for info in frames { buffer.writeFrame(info.frame) }
        return GoldenVector(
            name: name, description: description, kind: .frames, preface: preface,
            bytes: Array(buffer.readableBytesView), frames: frames,
            parse: { bytes in
                var decoder = FrameDecoder(expectPreface: preface)
                var input = ByteBuffer(bytes: bytes)
                var decoded: [Frame] = []
                while let event = try decoder.next(&input) {
                    guard case .frame(let frame) = event else { return false }
                    decoded.append(frame)
                }
                let matches = try check(decoded)
                return input.readableBytes == 0 && decoded == frames.map(\.frame) && matches
            }
        )
    }
}

func envelope(_ encode: (inout ByteBuffer) -> Void) -> ByteBuffer {
    var buffer = ByteBuffer()
    encode(&buffer)
    return buffer
}

func message<T: Encodable>(_ value: T) throws -> ByteBuffer {
    var buffer = ByteBuffer()
    try CBOREncoder().encode(value, into: &buffer)
    return buffer
}

enum GoldenVectors {
    static let agent = "tandem-swift/1"
    static let clientSettings = Settings(maxConcurrentStreams: 0, agent: agent)
    static let serverSettings = Settings(maxConcurrentStreams: 1024, agent: agent)
    static let requestHeaders = RequestHeaders(
        method: "health.Check", timeoutMicroseconds: 5_000_000,
        metadata: ["authorization": "Bearer eyJhbGciOiJFZERTQSJ9.e30.c2ln", "request-id": "req-7f3a"]
    )
    static let checkRequest = HealthCheckRequest(service: "scheduling")
    static let checkResponse = HealthCheckResponse(status: .serving)
    static let okTrailers = Trailers(code: .ok, metadata: ["request-id": "req-7f3a"])
    static let invalidArgument = RPCError.invalidArguments([
        .init(field: "durationMinutes", rule: "range", description: "must be between 15 and 240"),
        .init(field: "timeZone", rule: "format", description: "Mars/Olympus is not an IANA time zone"),
    ]).trailers
    static let conflict = Trailers(
        code: .failedPrecondition, message: "Amara Okafor already has a meeting then",
        details: [
            .preconditionFailure([.init(type: "conflict", subject: "meeting/6b1f0c52-0a4e-4b8e-9d7a-3c2e1f0a9b8c", description: "overlaps 09:30–10:15 UTC")]),
            .resourceInfo(.init(resourceType: "meeting", resourceName: "6b1f0c52-0a4e-4b8e-9d7a-3c2e1f0a9b8c", description: "the conflicting meeting")),
        ]
    )
    static let goAway = GoAway(lastStreamID: 41, code: .unavailable, message: "draining")
    static let echo = EchoMessage(text: String(repeating: "mentoring across time zones; ", count: 70), payload: Data(repeating: 0x2A, count: 256))

    static func compressedEcho() throws -> ByteBuffer {
        var compressed = ByteBuffer()
        // As the RPC runtime compresses (`Deflate.compressFast`): deflate's fixed codes, the
        // smallest window that holds the message (4 KiB here: CMF 0x48).
        Deflate.compressFast(try message(echo), into: &compressed)
        return compressed
    }

    static func all() throws -> [GoldenVector] {
        let cbor = try [
            GoldenVector.message("cbor-health-check-request", "HealthCheckRequest(service: \"scheduling\"): integer key 1, text value", checkRequest),
            GoldenVector.message("cbor-health-check-response", "HealthCheckResponse(status: SERVING): a String-raw enum as text", checkResponse),
            GoldenVector.message("cbor-book-meeting-request", "BookMeetingRequest: UUID as tag 37, whole-second Date as tag 1 integer, optional agenda present", Examples.booking),
            GoldenVector.message("cbor-book-meeting-request-minimal", "BookMeetingRequest without its optional agenda: the key is left out", BookMeetingRequest(matchID: Examples.matchID, start: Examples.booking.start, durationMinutes: 30, timeZone: "Asia/Kolkata")),
            GoldenVector.message("cbor-participant-profile", "ParticipantProfile (a mentor profile): 20 fields, nested arrays of SkillLevel maps, fractional Date as tag 1 float", Examples.profile),
            GoldenVector.message("cbor-service-list", "ServiceList from reflection.ListServices for the health service", ServiceList(services: [ServiceInfo(name: "health", methods: Health.methods.map(MethodInfo.init))])),
            GoldenVector.message("cbor-echo-message", "EchoMessage with a byte string payload and optional integer fields", EchoMessage(text: "ping", payload: Data([0, 1, 2, 0xFF]), repeat: 3, delayMilliseconds: 250)),
            GoldenVector.message("cbor-error-details", "Error details array: bad-request with a field violation, retry-info", [ErrorDetail.badRequest([.init(field: "email", rule: "format", description: "must be an email address")]), .retryInfo(retryDelayMilliseconds: 1500)]),
            GoldenVector(
                name: "cbor-book-meeting-request-text-keys",
                description: "Input only: BookMeetingRequest with property names as text keys, accepted in place of integer keys",
                kind: .cbor, preface: false,
                bytes: CBORValue.textMap([
                    "matchID": .tagged(37, .bytes(withUnsafeBytes(of: Examples.matchID.uuid) { Array($0) })),
                    "start": .tagged(1, .unsigned(1_772_443_800)), "durationMinutes": .unsigned(45),
                    "timeZone": .text("Europe/London"), "agenda": .text("Design review feedback"),
                ]).encoded,
                frames: [], parse: { try CBORDecoder().decode(BookMeetingRequest.self, from: $0) == Examples.booking }
            ),
        ]
        let frames: [GoldenVector] = [
            .frames("frames-client-preface-settings", "Client connection start: the 8-byte preface TANDEM/1, then its SETTINGS", preface: true,
                    [.init(frame: Frame(type: .settings, streamID: 0, payload: envelope(clientSettings.encode)), payloadIsCBOR: true)]) {
                try Settings(decoding: $0[0].payload) == clientSettings
            },
            .frames("frame-server-settings", "Server SETTINGS: 4 MiB frames, 1024 concurrent calls, deflate, 4 MiB decompressed",
                    [.init(frame: Frame(type: .settings, streamID: 0, payload: envelope(serverSettings.encode)), payloadIsCBOR: true)]) {
                try Settings(decoding: $0[0].payload) == serverSettings
            },
            .frames("frames-unary-request", "A full unary request on stream 1: HEADERS (method, 5 s timeout, metadata) then MESSAGE with END_STREAM", [
                .init(frame: Frame(type: .headers, streamID: 1, payload: envelope(requestHeaders.encode)), payloadIsCBOR: true),
                .init(frame: Frame(type: .message, flags: .endStream, streamID: 1, payload: try message(checkRequest)), payloadIsCBOR: true),
            ]) {
                try RequestHeaders(decoding: $0[0].payload) == requestHeaders
                    && CBORDecoder().decode(HealthCheckRequest.self, from: $0[1].payload) == checkRequest
            },
            .frames("frames-unary-response", "The response to it: MESSAGE, then TRAILERS with status OK and the request id", [
                .init(frame: Frame(type: .message, streamID: 1, payload: try message(checkResponse)), payloadIsCBOR: true),
                .init(frame: Frame(type: .trailers, streamID: 1, payload: envelope(okTrailers.encode)), payloadIsCBOR: true),
            ]) {
                try CBORDecoder().decode(HealthCheckResponse.self, from: $0[0].payload) == checkResponse
                    && Trailers(decoding: $0[1].payload) == okTrailers
            },
            .frames("frames-server-streaming", "Server streaming on stream 3: initial metadata HEADERS, two MESSAGEs, TRAILERS OK", [
                .init(frame: Frame(type: .headers, streamID: 3, payload: envelope(ResponseHeaders(metadata: ["request-id": "req-91"]).encode)), payloadIsCBOR: true),
                .init(frame: Frame(type: .message, streamID: 3, payload: try message(HealthCheckResponse(status: .serving))), payloadIsCBOR: true),
                .init(frame: Frame(type: .message, streamID: 3, payload: try message(HealthCheckResponse(status: .notServing))), payloadIsCBOR: true),
                .init(frame: Frame(type: .trailers, streamID: 3, payload: envelope(Trailers(code: .ok).encode)), payloadIsCBOR: true),
            ]) {
                try ResponseHeaders(decoding: $0[0].payload).metadata["request-id"] == "req-91"
                    && CBORDecoder().decode(HealthCheckResponse.self, from: $0[2].payload).status == .notServing
                    && Trailers(decoding: $0[3].payload).code == .ok
            },
            .frames("frame-trailers-invalid-argument", "Error status INVALID_ARGUMENT (3) with a bad-request detail naming two fields and their rules",
                    [.init(frame: Frame(type: .trailers, streamID: 5, payload: envelope(invalidArgument.encode)), payloadIsCBOR: true)]) {
                try Trailers(decoding: $0[0].payload) == invalidArgument
            },
            .frames("frame-trailers-failed-precondition", "Booking conflict: FAILED_PRECONDITION (9) naming the conflicting meeting (precondition-failure and resource-info details)",
                    [.init(frame: Frame(type: .trailers, streamID: 7, payload: envelope(conflict.encode)), payloadIsCBOR: true)]) {
                try Trailers(decoding: $0[0].payload) == conflict
            },
            .frames("frame-compressed-message", "MESSAGE with COMPRESSED (zlib, RFC 1950) and END_STREAM: an EchoMessage of 2.3 KiB deflated",
                    [.init(frame: Frame(type: .message, flags: [.compressed, .endStream], streamID: 9, payload: try compressedEcho()), payloadIsCBOR: true)]) {
                try CBORDecoder().decode(EchoMessage.self, from: Deflate.decompress($0[0].payload, limit: 1 << 20)) == echo
            },
            .frames("frame-cancel", "CANCEL on stream 11: the client abandons the call (empty payload)",
                    [.init(frame: Frame(type: .cancel, streamID: 11), payloadIsCBOR: false)]) { $0[0].payload.readableBytes == 0 },
            .frames("frame-ping", "PING on stream 0 with 8 opaque bytes",
                    [.init(frame: Frame(type: .ping, streamID: 0, payload: ByteBuffer(bytes: [1, 2, 3, 4, 5, 6, 7, 8])), payloadIsCBOR: false)]) {
                $0[0].payload.readableBytes == 8
            },
            .frames("frame-pong", "PONG answering it with the same 8 bytes",
                    [.init(frame: Frame(type: .pong, streamID: 0, payload: ByteBuffer(bytes: [1, 2, 3, 4, 5, 6, 7, 8])), payloadIsCBOR: false)]) {
                $0[0].payload.readableBytes == 8
            },
            .frames("frame-goaway-drain", "GOAWAY while draining: UNAVAILABLE (14), calls up to stream 41 still complete",
                    [.init(frame: Frame(type: .goAway, streamID: 0, payload: envelope(goAway.encode)), payloadIsCBOR: true)]) {
                try GoAway(decoding: $0[0].payload) == goAway
            },
        ]
        return cbor + frames
    }
}
