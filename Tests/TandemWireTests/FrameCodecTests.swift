import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing
import TandemRandom
@testable import TandemWire

private func frameBytes(_ frames: [Frame]) -> ByteBuffer {
    var buffer = ByteBuffer()
    for frame in frames { buffer.writeFrame(frame) }
    return buffer
}

@Suite("Frame codec")
struct FrameCodecTests {
    let frames = [
        Frame(type: .settings, streamID: 0, payload: ByteBuffer(bytes: [0xA0])),
        Frame(type: .headers, streamID: 1, payload: ByteBuffer(string: "headers")),
        Frame(type: .message, flags: [.endStream], streamID: 1, payload: ByteBuffer(bytes: Array(repeating: 7, count: 300))),
        Frame(type: .ping, streamID: 0, payload: ByteBuffer(bytes: [1, 2, 3, 4, 5, 6, 7, 8])),
        Frame(type: .message, flags: [.compressed], streamID: 3, payload: ByteBuffer()),
        Frame(type: FrameType(rawValue: 0x7E), flags: FrameFlags(rawValue: 0xF0), streamID: 0x7FFF_FFFF, payload: ByteBuffer(string: "future")),
    ]

    @Test func headerLayoutIsBigEndianTenBytes() {
        var buffer = ByteBuffer()
        buffer.writeFrameHeader(FrameHeader(length: 0x0102_0304, type: .trailers, flags: [.compressed, .endStream], streamID: 0x0A0B_0C0D))
        #expect(Array(buffer.readableBytesView) == [0x01, 0x02, 0x03, 0x04, 0x03, 0x03, 0x0A, 0x0B, 0x0C, 0x0D])
    }

    @Test func decodesDripFedAndBatchedInput() throws {
        // The verifier feeds the bytes one at a time, in halves, all at once, and with EOF.
        let pairs = frames.map { (frameBytes([$0]), [InboundFrame.frame($0)]) }
            + [(frameBytes(frames), frames.map { InboundFrame.frame($0) })]
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) { FrameDecoder() }
    }

    @Test func serverSideReadsThePrefaceFirst() throws {
        var input = ByteBuffer(bytes: ConnectionPreface.bytes)
        input.writeImmutableBuffer(frameBytes(Array(frames.prefix(2))))
        // Byte by byte, then all at once.
        for chunkSize in [1, input.readableBytes] {
            var decoder = FrameDecoder(expectPreface: true)
            var pending = ByteBuffer()
            var produced: [InboundFrame] = []
            var rest = input
            while let chunk = rest.readSlice(length: min(chunkSize, rest.readableBytes)), chunk.readableBytes > 0 {
                pending.writeImmutableBuffer(chunk)
                while let event = try decoder.next(&pending) { produced.append(event) }
            }
            #expect(produced == frames.prefix(2).map { InboundFrame.frame($0) })
        }
    }

    @Test func aWrongPrefaceFailsAtTheFirstWrongByte() throws {
        var decoder = FrameDecoder(expectPreface: true)
        var http = ByteBuffer(string: "GET")
        #expect(throws: FramingError(.badPreface)) { try decoder.next(&http) }
        var tls = ByteBuffer(bytes: [0x16, 0x03, 0x01])
        var second = FrameDecoder(expectPreface: true)
        #expect(throws: FramingError(.badPreface)) { try second.next(&tls) }
        var partial = ByteBuffer(string: "TAND")
        var third = FrameDecoder(expectPreface: true)
        #expect(try third.next(&partial) == nil)
    }

    @Test func oversizedFrameIsRejectedFromItsHeaderAndNeverBuffered() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(maxFrameSize: 16 * 1024)))
        // A header claiming 1 GiB arrives; the decoder reports it at once.
        var header = ByteBuffer()
        header.writeFrameHeader(FrameHeader(length: 1 << 30, type: .message, flags: [], streamID: 5))
        try channel.writeInbound(header)
        let event = try channel.readInbound(as: InboundFrame.self)
        #expect(event == .oversized(FrameHeader(length: 1 << 30, type: .message, flags: [], streamID: 5)))
        // Its payload is dropped as it streams in: 64 KiB chunks leave nothing buffered.
        let chunk = ByteBuffer(bytes: [UInt8](repeating: 0xAB, count: 64 * 1024))
        for _ in 0..<32 { try channel.writeInbound(chunk) }
        #expect(try channel.readInbound(as: InboundFrame.self) == nil)
        // After the announced length, frames decode normally again.
        var decoder = FrameDecoder(maxFrameSize: 16 * 1024)
        var input = ByteBuffer()
        input.writeFrameHeader(FrameHeader(length: 20_000, type: .message, flags: [], streamID: 7))
        input.writeBytes([UInt8](repeating: 0, count: 20_000))
        input.writeFrame(frames[1])
        #expect(try decoder.next(&input) == .oversized(FrameHeader(length: 20_000, type: .message, flags: [], streamID: 7)))
        #expect(try decoder.next(&input) == .frame(frames[1]))
        _ = try? channel.finish()
    }

    @Test func aFrameExactlyAtTheLimitIsAccepted() throws {
        var decoder = FrameDecoder(maxFrameSize: 16 * 1024)
        let frame = Frame(type: .message, streamID: 1, payload: ByteBuffer(bytes: [UInt8](repeating: 1, count: 16 * 1024)))
        var input = frameBytes([frame])
        #expect(try decoder.next(&input) == .frame(frame))
    }

    @Test func truncatedFrameAtCloseIsAnError() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder()))
        var bytes = frameBytes([frames[2]])
        bytes.moveWriterIndex(to: 50)
        try channel.writeInbound(bytes)
        #expect(throws: FramingError(.truncatedFrame)) { try channel.finish() }
    }

    @Test func encoderWritesHeaderThenPayload() throws {
        let channel = EmbeddedChannel(handler: MessageToByteHandler(FrameEncoder()))
        try channel.writeOutbound(frames[2])
        let written = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(written == frameBytes([frames[2]]))
        _ = try channel.finish()
    }

    @Test func writeFrameInPlacePatchesTheLength() {
        var buffer = ByteBuffer()
        buffer.writeFrame(type: .message, flags: [.endStream], streamID: 9) { $0.writeString("hello") }
        #expect(buffer == frameBytes([Frame(type: .message, flags: [.endStream], streamID: 9, payload: ByteBuffer(string: "hello"))]))
    }
}

@Suite("Deflate")
struct DeflateTests {
    @Test func roundTripsAndMatchesTheZlibFormat() throws {
        let input = ByteBuffer(string: String(repeating: "mentoring across time zones ", count: 100))
        var compressed = ByteBuffer()
        try Deflate.compress(input, into: &compressed)
        #expect(compressed.readableBytes < input.readableBytes / 10)
        // RFC 1950 header: CMF 0x48 (deflate, a 4 KiB window: the smallest that holds these
        // 2,800 bytes), and (CMF*256+FLG) % 31 == 0.
        let cmf = compressed.getInteger(at: 0, as: UInt8.self)!
        let flg = compressed.getInteger(at: 1, as: UInt8.self)!
        #expect(cmf == 0x48)
        #expect((UInt16(cmf) << 8 | UInt16(flg)) % 31 == 0)
        #expect(try Deflate.decompress(compressed, limit: 1 << 20) == input)
    }

    @Test func theWindowFollowsTheInputSize() throws {
        #expect(Deflate.windowBits(forSize: 0) == 9 && Deflate.windowBits(forSize: 512) == 9 && Deflate.windowBits(forSize: 513) == 10)
        #expect(Deflate.windowBits(forSize: 32_768) == 15 && Deflate.windowBits(forSize: 10_000_000) == 15)
        // Every size round-trips, and a large input gets zlib's largest window (CMF 0x78).
        for size in [1, 511, 512, 513, 4_097, 40_000, 300_000] {
            var generator = SplitMix64(seed: UInt64(size))
            let words = ["mentor", "mentee", "slot", "London", "Kolkata", "09:30", "agenda"]
            let text = (0..<(size / 5 + 1)).map { _ in words[Int(generator.next() % UInt64(words.count))] }.joined(separator: " ")
            let input = ByteBuffer(string: String(text.prefix(size)))
            var compressed = ByteBuffer()
            try Deflate.compress(input, into: &compressed)
            #expect(try Deflate.decompress(compressed, limit: 1 << 20) == input, "size \(size)")
            if size > 32_768 { #expect(compressed.getInteger(at: 0, as: UInt8.self) == 0x78) }
        }
    }

    @Test("the fast encoder's output is zlib data any inflate reads back exactly: every size, random, repetitive and long-distance input")
    func fastEncoderRoundTrips() throws {
        var generator = SplitMix64(seed: 42)
        func random(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) } }
        var inputs: [[UInt8]] = [[], [7], [1, 2, 3], Array("abcabcabcabc".utf8), [UInt8](repeating: 0x78, count: 100_000)]
        for size in [4, 5, 255, 256, 257, 1_024, 4_097, 32_768, 32_769, 70_000] {
            inputs.append(random(size))
            // Pieces copied from up to 200 bytes back, among random bytes.
            var copied = random(min(size, 200))
            while copied.count < size {
                let back = 1 + Int(generator.next() % UInt64(min(200, copied.count)))
                let length = 1 + Int(generator.next() % 300)
                for _ in 0..<length where copied.count < size { copied.append(copied[copied.count - back]) }
                copied.append(contentsOf: random(Int(generator.next() % 4)).prefix(size - copied.count))
            }
            inputs.append(copied)
        }
        // Repeats exactly 32 KiB back (deflate's longest distance) and 32 KiB + 1 back (too far).
        let block = random(32_768)
        inputs.append(block + block + random(10))
        inputs.append(block + [0] + block)
        for input in inputs {
            var compressed = ByteBuffer()
            input.withUnsafeBytes { Deflate.compressFast($0, into: &compressed) }
            let cmf = compressed.getInteger(at: 0, as: UInt8.self)!, flg = compressed.getInteger(at: 1, as: UInt8.self)!
            #expect(cmf & 0x0F == 8 && (UInt16(cmf) << 8 | UInt16(flg)) % 31 == 0, "size \(input.count)")
            // The window named is the smallest that holds the input (256 bytes to 32 KiB).
            #expect(Int(cmf >> 4) == max(0, min(7, Int(Deflate.windowBits(forSize: max(input.count, 1))) - 8)) || input.count <= 256, "size \(input.count)")
            #expect(try Deflate.decompress(compressed, limit: 1 << 20) == ByteBuffer(bytes: input), "size \(input.count)")
        }
        // A slot list's worth of repetitive CBOR text compresses about as well as with zlib.
        let text = ByteBuffer(string: String(repeating: "{localStart: 2026-12-01T09:00, reasons: [within working hours]} ", count: 60))
        var fast = ByteBuffer(), zlib = ByteBuffer()
        Deflate.compressFast(text, into: &fast)
        try Deflate.compress(text, into: &zlib, level: 1)
        #expect(fast.readableBytes < text.readableBytes / 10)
        #expect(fast.readableBytes <= zlib.readableBytes * 2)
    }

    @Test func decompressionBombStopsAtTheLimit() throws {
        // 64 MiB of zeros compress to ~64 KiB; the limit stops inflation at 1 MiB.
        let zeros = ByteBuffer(repeating: 0, count: 64 << 20)
        var bomb = ByteBuffer()
        try Deflate.compress(zeros, into: &bomb, level: 9)
        #expect(bomb.readableBytes < 100_000)
        #expect(throws: Deflate.Error(reason: .tooLarge(limit: 1 << 20))) { try Deflate.decompress(bomb, limit: 1 << 20) }
        // Exactly at the limit is fine.
        var exact = ByteBuffer()
        try Deflate.compress(ByteBuffer(repeating: 1, count: 4096), into: &exact)
        #expect(try Deflate.decompress(exact, limit: 4096).readableBytes == 4096)
        #expect(throws: Deflate.Error.self) { try Deflate.decompress(exact, limit: 4095) }
    }

    @Test func corruptOrTruncatedInputIsAnError() throws {
        var compressed = ByteBuffer()
        try Deflate.compress(ByteBuffer(string: "hello hello hello"), into: &compressed)
        let truncated = compressed.getSlice(at: 0, length: compressed.readableBytes - 3)!
        #expect(throws: Deflate.Error(reason: .corrupt)) { try Deflate.decompress(truncated, limit: 1000) }
        #expect(throws: Deflate.Error(reason: .corrupt)) { try Deflate.decompress(ByteBuffer(string: "not zlib"), limit: 1000) }
        var trailing = compressed
        trailing.writeString("x")
        #expect(throws: Deflate.Error(reason: .corrupt)) { try Deflate.decompress(trailing, limit: 1000) }
    }
}

@Suite("Envelope")
struct EnvelopeTests {
    @Test func requestHeadersRoundTrip() throws {
        var metadata = Metadata()
        metadata.append("authorization", "Bearer abc")
        metadata.append("Trace-Bin", .binary([1, 2, 3]))
        let headers = RequestHeaders(method: "scheduling.BookMeeting", timeoutMicroseconds: 250_000, metadata: metadata)
        var buffer = ByteBuffer()
        headers.encode(into: &buffer)
        #expect(try RequestHeaders(decoding: buffer) == headers)
        let tree = try CBORValue(decoding: Array(buffer.readableBytesView))
        #expect(tree["method"] == .text("scheduling.BookMeeting"))
        #expect(tree["metadata"]?["trace-bin"] == .bytes([1, 2, 3]))
    }

    @Test("metadata keys are kept and found in lower case, however they are written; a value that is not text or bytes is named in the error")
    func metadataKeys() throws {
        var metadata = Metadata()
        metadata.append("Idempotency-Key", "k1")
        metadata.append("idempotency-key", "k2")
        metadata["ÉTAT"] = "x"
        #expect(metadata.entries.map(\.key) == ["idempotency-key", "état"])
        #expect(metadata["IDEMPOTENCY-KEY"] == "k2" && metadata["idempotency-key"] == "k2" && metadata["état"] == "x")
        metadata["Idempotency-Key"] = nil
        #expect(metadata.entries.map(\.key) == ["état"])
        let badValue = ByteBuffer(bytes: CBORValue.textMap(["method": .text("a.B"), "metadata": .textMap(["x-count": .unsigned(3)])]).encoded)
        #expect(throws: EnvelopeError(.headers, "metadata 'x-count' must be text or bytes")) { try RequestHeaders(decoding: badValue) }
        // {"method": "a.B", "metadata": {"x-name": <text of the one byte 0xFF, not UTF-8>}}
        let badText = ByteBuffer(bytes: [0xA2, 0x66] + Array("method".utf8) + [0x63] + Array("a.B".utf8) + [0x68] + Array("metadata".utf8)
            + [0xA1, 0x66] + Array("x-name".utf8) + [0x61, 0xFF])
        #expect(throws: EnvelopeError(.headers, "field 'metadata.x-name' must be a valid UTF-8 text string")) { try RequestHeaders(decoding: badText) }
    }

    @Test func missingOrMistypedFieldsAreReported() {
        let noMethod = ByteBuffer(bytes: CBORValue.textMap(["timeout": .unsigned(1)]).encoded)
        #expect(throws: EnvelopeError(.headers, "required field 'method' is missing")) { try RequestHeaders(decoding: noMethod) }
        let badTimeout = ByteBuffer(bytes: CBORValue.textMap(["method": .text("a.B"), "timeout": .negative(0)]).encoded)
        #expect(throws: EnvelopeError.self) { try RequestHeaders(decoding: badTimeout) }
        #expect(throws: EnvelopeError.self) { try RequestHeaders(decoding: ByteBuffer(bytes: [0x81, 0x00])) }
        #expect(throws: EnvelopeError.self) { try Trailers(decoding: ByteBuffer(bytes: [0xA0, 0x00])) }
    }

    @Test func unknownFieldsAreIgnored() throws {
        let future = ByteBuffer(bytes: CBORValue.textMap([
            "method": .text("a.B"), "priority": .unsigned(3), "x": .array([.map([])]),
        ]).encoded)
        #expect(try RequestHeaders(decoding: future) == RequestHeaders(method: "a.B"))
    }

    @Test("a change-feed request: limit 500 by default, 1–1000; after 0 or more; each bad field named")
    func feedPagesAreChecked() throws {
        #expect(try RPCError.checkFeedPage(after: 0, limit: nil) == 500)
        #expect(try RPCError.checkFeedPage(after: 42, limit: 1) == 1)
        #expect(try RPCError.checkFeedPage(after: 42, limit: 1000) == 1000)
        for (after, limit, fields) in [(-1, nil, ["after"]), (0, 0, ["limit"]), (0, 1001, ["limit"]), (-5, -5, ["after", "limit"])] as [(Int, Int?, [String])] {
            do {
                _ = try RPCError.checkFeedPage(after: after, limit: limit)
                Issue.record("after \(after), limit \(String(describing: limit)) was accepted")
            } catch {
                #expect(error.code == .invalidArgument)
                #expect(error.fieldViolations.map(\.field) == fields)
            }
        }
    }

    @Test func trailersWithDetailsRoundTrip() throws {
        let error = RPCError.invalidArgument(field: "email", rule: "format", "must be an email address")
        var trailers = error.trailers
        trailers.metadata.append("retry-after", "1500")
        var buffer = ByteBuffer()
        trailers.encode(into: &buffer)
        let decoded = try Trailers(decoding: buffer)
        #expect(decoded == trailers)
        #expect(decoded.error?.fieldViolations.first?.field == "email")
        // An unknown detail kind survives a round trip unchanged.
        let other = ErrorDetail.other(type: "quota", value: .textMap(["type": .text("quota"), "limit": .unsigned(5)]))
        var otherBuffer = ByteBuffer()
        Trailers(code: .resourceExhausted, details: [other]).encode(into: &otherBuffer)
        #expect(try Trailers(decoding: otherBuffer).details == [other])
    }

    @Test func settingsAndGoAwayRoundTripAndValidate() throws {
        let settings = Settings(maxFrameSize: 65536, maxConcurrentStreams: 100, compression: ["deflate"], agent: "test/1")
        var buffer = ByteBuffer()
        settings.encode(into: &buffer)
        #expect(try Settings(decoding: buffer) == settings)
        let tooSmall = ByteBuffer(bytes: CBORValue.textMap(["maxFrameSize": .unsigned(100)]).encoded)
        #expect(throws: EnvelopeError.self) { try Settings(decoding: tooSmall) }
        // Absent fields take the defaults.
        #expect(try Settings(decoding: ByteBuffer(bytes: [0xA0])) == Settings(compression: []))
        let goAway = GoAway(lastStreamID: 41, code: .unavailable, message: "draining")
        var goAwayBuffer = ByteBuffer()
        goAway.encode(into: &goAwayBuffer)
        #expect(try GoAway(decoding: goAwayBuffer) == goAway)
    }

    @Test func statusCodesHaveTheirGRPCNumbersAndNames() {
        #expect(StatusCode.allCases.count == 17)
        #expect(StatusCode.unauthenticated.rawValue == 16)
        #expect(StatusCode.failedPrecondition.name == "FAILED_PRECONDITION")
        #expect(StatusCode(name: "not_found") == .notFound)
    }
}
