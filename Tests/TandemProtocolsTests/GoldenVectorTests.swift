import Foundation
import NIOCore
import Testing
import TandemTestSupport
import TandemWire

/// Protocols/vectors/vectors.json holds the golden vectors; Protocols/vectors/README.md lists them.
/// Run with TANDEM_WRITE_VECTORS=1 to rewrite both from `GoldenVectors` after a deliberate change.
@Suite("Golden vectors")
struct GoldenVectorTests {
    static let directory = protocolsDirectory.appendingPathComponent("vectors")
    static let jsonFile = directory.appendingPathComponent("vectors.json")

    let vectors: [GoldenVector]

    init() throws {
        vectors = try GoldenVectors.all()
        if ProcessInfo.processInfo.environment["TANDEM_WRITE_VECTORS"] == "1" {
            try Self.write(vectors)
        }
    }

    @Test func thereAreAtLeastFifteenCoveringEveryKindOfFrame() {
        #expect(vectors.count >= 15)
        let types = Set(vectors.flatMap { $0.frames.map(\.frame.type) })
        #expect(types == [.settings, .headers, .message, .trailers, .cancel, .ping, .pong, .goAway])
        #expect(vectors.contains { $0.frames.contains { $0.frame.flags.contains(.compressed) } })
        #expect(Set(vectors.map(\.name)).count == vectors.count)
    }

    @Test func swiftProducesAndParsesEveryVectorByteForByte() throws {
        let recorded = try Self.load()
        #expect(Set(recorded.keys) == Set(vectors.map(\.name)), "vectors.json is out of date: run with TANDEM_WRITE_VECTORS=1")
        for vector in vectors {
            guard let entry = recorded[vector.name] else { continue }
            let hex = try #require(entry["hex"] as? String)
            let bytes = try #require(decodeHex(hex))
            #expect(bytes == vector.bytes, "\(vector.name): Swift no longer produces the recorded bytes")
            #expect(try vector.parse(bytes), "\(vector.name): the recorded bytes do not parse back to the values")
            #expect(entry["description"] as? String == vector.description, "\(vector.name)")
            if vector.kind == .cbor {
                #expect(entry["diagnostic"] as? String == (try CBORValue(decoding: bytes)).description, "\(vector.name)")
            }
        }
    }

    /// Python's cbor2 (an independent CBOR implementation) decodes every vector to the same
    /// diagnostic notation, and a plain-Python frame reader agrees with the frame fields.
    @Test func pythonCBOR2DecodesEveryVector() async throws {
        let script = protocolsDirectory.deletingLastPathComponent().appendingPathComponent("Tests/python/test_vectors.py")
        let result = try await runProgram("/usr/bin/env", ["python3", script.path, Self.jsonFile.path], mergeErrors: true)
        let text = String(decoding: result.output, as: UTF8.self)
        #expect(result.status == 0, "python3 test_vectors.py failed (is cbor2 installed? pip install cbor2):\n\(text)")
        #expect(text.contains("vectors checked"), "\(text)")
    }

    static func load() throws -> [String: [String: Any]] {
        let data = try Data(contentsOf: jsonFile)
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let list = try #require(root["vectors"] as? [[String: Any]])
        return Dictionary(uniqueKeysWithValues: list.compactMap { entry in (entry["name"] as? String).map { ($0, entry) } })
    }

    static func write(_ vectors: [GoldenVector]) throws {
        var list: [[String: Any]] = []
        var table = "| Name | Kind | Bytes | Description |\n|---|---|---|---|\n"
        for vector in vectors {
            var entry: [String: Any] = [
                "name": vector.name, "description": vector.description, "kind": vector.kind.rawValue,
                "hex": encodeHex(vector.bytes),
            ]
            switch vector.kind {
            case .cbor:
                entry["diagnostic"] = try CBORValue(decoding: vector.bytes).description
            case .frames:
                entry["preface"] = vector.preface
                entry["frames"] = try vector.frames.map { info -> [String: Any] in
                    var frame: [String: Any] = [
                        "type": Int(info.frame.type.rawValue), "typeName": info.frame.type.description,
                        "flags": Int(info.frame.flags.rawValue), "stream": Int(info.frame.streamID),
                        "payloadHex": encodeHex(Array(info.frame.payload.readableBytesView)),
                    ]
                    if info.payloadIsCBOR {
                        var payload = info.frame.payload
                        if info.frame.flags.contains(.compressed) { payload = try Deflate.decompress(payload, limit: 1 << 24) }
                        frame["diagnostic"] = try CBORValue(decoding: Array(payload.readableBytesView)).description
                    }
                    return frame
                }
            }
            list.append(entry)
            table += "| `\(vector.name)` | \(vector.kind.rawValue) | \(vector.bytes.count) | \(vector.description) |\n"
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let json = try JSONSerialization.data(withJSONObject: ["version": 1, "vectors": list], options: [.prettyPrinted, .sortedKeys])
        try (json + Data("\n".utf8)).write(to: jsonFile)
        let readme = """
        # Golden vectors

        `vectors.json` holds byte sequences every Tandem implementation must produce and parse
        exactly (Protocols/WIRE.md §10.4). Each entry has a `name`, a one-line `description`, the
        bytes as `hex`, and either the RFC 8949 diagnostic notation of the CBOR item (`kind: cbor`)
        or the frames it is made of (`kind: frames`: type, flags, stream id, payload hex, and the
        diagnostic notation of CBOR payloads, decompressed first when COMPRESSED is set). Frames
        vectors with `preface: true` start with the client preface `TANDEM/1`.

        Checked by the Swift tests (`GoldenVectorTests`: Swift produces and parses every vector byte
        for byte) and by `Tests/python/test_vectors.py`, which decodes them with Python's `cbor2`.
        The compressed vector's bytes are zlib 1.2.x at level 1 with a 4 KiB window, as Tandem sends
        them; other zlib versions may compress differently, so receivers compare the decompressed
        payload.

        \(table)
        """
        try Data(readme.utf8).write(to: directory.appendingPathComponent("README.md"))
    }
}

func encodeHex(_ bytes: [UInt8]) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

func decodeHex(_ hex: String) -> [UInt8]? {
    guard hex.count % 2 == 0 else { return nil }
    var bytes: [UInt8] = []
    var index = hex.startIndex
    while index < hex.endIndex {
        let next = hex.index(index, offsetBy: 2)
        guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
        bytes.append(byte)
        index = next
    }
    return bytes
}
