import Foundation
import Testing
@testable import TandemWire

private func roundTrip<T: Codable & Equatable>(_ value: T, sourceLocation: SourceLocation = #_sourceLocation) throws -> [UInt8] {
    let bytes = try CBOREncoder().encodeBytes(value)
    let back = try CBORDecoder().decode(T.self, from: bytes)
    #expect(back == value, sourceLocation: sourceLocation)
    // Every encoding is well-formed CBOR with nothing trailing.
    _ = try CBORValue(decoding: bytes)
    return bytes
}

private func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

struct Person: Codable, Equatable {
    var name: String
    var age: Int
    var email: String?
    var tags: [String]
    var scores: [String: Double]
}

struct IntKeyed: Codable, Equatable {
    var first: String
    var second: Int?
    enum CodingKeys: Int, CodingKey { case first = 1, second = 2 }
}

enum Shape: Codable, Equatable {
    case circle(radius: Double)
    case rectangle(width: Double, height: Double)
    case point
    case labelled(String, Int)
}

enum Colour: String, Codable { case red, green }
enum Level: Int, Codable { case low = 1, high = 5 }

class Animal: Codable {
    var name: String
    init(name: String) { self.name = name }
}

final class Dog: Animal, Equatable {
    var breed: String
    init(name: String, breed: String) {
        self.breed = breed
        super.init(name: name)
    }
    enum CodingKeys: String, CodingKey { case breed }
    required init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        breed = try container.decode(String.self, forKey: .breed)
        try super.init(from: container.superDecoder())
    }
    override func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(breed, forKey: .breed)
        try super.encode(to: container.superEncoder())
    }
    static func == (a: Dog, b: Dog) -> Bool { a.name == b.name && a.breed == b.breed }
}

/// Writes to a nested container after writing to its parent: legal Codable that a streaming
/// encoder must handle (the encoder falls back to its tree encoder).
struct Interleaved: Codable, Equatable {
    var a: Int
    var b: Int
    var c: Int
    enum Keys: String, CodingKey { case outer, x, y, z }
    init(a: Int, b: Int, c: Int) { self.a = a; self.b = b; self.c = c }
    func encode(to encoder: any Encoder) throws {
        var top = encoder.container(keyedBy: Keys.self)
        var nested = top.nestedContainer(keyedBy: Keys.self, forKey: .outer)
        try nested.encode(a, forKey: .x)
        try top.encode(b, forKey: .y)
        try nested.encode(c, forKey: .z)
    }
    init(from decoder: any Decoder) throws {
        let top = try decoder.container(keyedBy: Keys.self)
        let nested = try top.nestedContainer(keyedBy: Keys.self, forKey: .outer)
        a = try nested.decode(Int.self, forKey: .x)
        b = try top.decode(Int.self, forKey: .y)
        c = try nested.decode(Int.self, forKey: .z)
    }
}

/// Uses keyed, unkeyed and single-value containers directly, including nested ones.
struct Manual: Codable, Equatable {
    var matrix: [[Int]]
    var wrapped: Wrapper
    struct Wrapper: Codable, Equatable {
        var value: String
        init(value: String) { self.value = value }
        init(from decoder: any Decoder) throws { value = try decoder.singleValueContainer().decode(String.self) }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            try c.encode(value)
        }
    }
    init(matrix: [[Int]], wrapped: Wrapper) { self.matrix = matrix; self.wrapped = wrapped }
    enum Keys: String, CodingKey { case matrix, wrapped }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        var rows = c.nestedUnkeyedContainer(forKey: .matrix)
        for row in matrix {
            var r = rows.nestedUnkeyedContainer()
            for v in row { try r.encode(v) }
        }
        try c.encode(wrapped, forKey: .wrapped)
    }
    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        var rows = try c.nestedUnkeyedContainer(forKey: .matrix)
        var matrix: [[Int]] = []
        while !rows.isAtEnd {
            var r = try rows.nestedUnkeyedContainer()
            var row: [Int] = []
            while !r.isAtEnd { row.append(try r.decode(Int.self)) }
            matrix.append(row)
        }
        self.matrix = matrix
        wrapped = try c.decode(Wrapper.self, forKey: .wrapped)
    }
}

struct AllIntegers: Codable, Equatable {
    var i8: Int8, i16: Int16, i32: Int32, i64: Int64, i: Int, i128: Int128
    var u8: UInt8, u16: UInt16, u32: UInt32, u64: UInt64, u: UInt, u128: UInt128
}

struct Foundations: Codable, Equatable {
    var date: Date
    var uuid: UUID
    var data: Data
    var url: URL
    var decimal: Decimal
    var float: Float
    var double: Double
    var optionalDate: Date?
}

@Suite("CBOR Codable round trips")
struct CBORRoundTripTests {
    @Test func structsWithOptionalsArraysAndDictionaries() throws {
        _ = try roundTrip(Person(name: "Ada", age: 36, email: nil, tags: ["math", "engines"], scores: ["x": 1.5, "y": -2]))
        _ = try roundTrip(Person(name: "", age: -1, email: "a@b.c", tags: [], scores: [:]))
    }

    @Test func absentOptionalsAreLeftOut() throws {
        let bytes = try CBOREncoder().encodeBytes(IntKeyed(first: "a", second: nil))
        #expect(hex(bytes) == "a1016161")
        let full = try CBOREncoder().encodeBytes(IntKeyed(first: "a", second: 7))
        #expect(hex(full) == "a201616102 07".replacingOccurrences(of: " ", with: ""))
    }

    @Test func integerKeysAcceptPropertyNamesOnInput() throws {
        let named = CBORValue.textMap(["first": .text("z"), "second": .unsigned(3)]).encoded
        #expect(try CBORDecoder().decode(IntKeyed.self, from: named) == IntKeyed(first: "z", second: 3))
    }

    @Test func unknownKeysAreSkippedAndNullMeansAbsent() throws {
        let value = CBORValue.map([
            .init(.unsigned(1), .text("q")),
            .init(.unsigned(2), .null),
            .init(.unsigned(99), .array([.map([]), .bytes([1, 2])])),
            .init(.text("future"), .tagged(1234, .text("x"))),
        ])
        #expect(try CBORDecoder().decode(IntKeyed.self, from: value.encoded) == IntKeyed(first: "q", second: nil))
    }

    @Test func enumsWithAndWithoutAssociatedValues() throws {
        for shape in [Shape.circle(radius: 2), .rectangle(width: 1, height: 3.25), .point, .labelled("x", 9)] {
            _ = try roundTrip(shape)
        }
        #expect(try hex(roundTrip(Colour.green)) == "6567726565 6e".replacingOccurrences(of: " ", with: ""))
        #expect(try hex(roundTrip(Level.high)) == "05")
    }

    @Test func dictionariesWithStringAndIntKeys() throws {
        let stringKeyed = try roundTrip(["b": 2, "a": 1, "10": 3, "ab": 4])
        // String keys stay text (even numeric ones) and are sorted as RFC 8949 §4.2.1 orders them.
        #expect(try CBORValue(decoding: stringKeyed) == .textMap(["a": .unsigned(1), "b": .unsigned(2), "10": .unsigned(3), "ab": .unsigned(4)]))
        // Integer keys too, in RFC 8949 order: 1, 3, then -1.
        let intKeyed = try roundTrip([3: "c", -1: "m", 1: "a"])
        #expect(hex(intKeyed) == "a301616103616320616d")
        _ = try roundTrip([UUID(): [1, 2]].mapValues { $0 })
    }

    @Test func classesWithSuperEncoders() throws {
        let bytes = try roundTrip(Dog(name: "Rex", breed: "collie"))
        #expect(try CBORValue(decoding: bytes) == .textMap(["breed": .text("collie"), "super": .textMap(["name": .text("Rex")])]))
    }

    @Test func interleavedNestedContainersFallBackCorrectly() throws {
        let bytes = try roundTrip(Interleaved(a: 1, b: 2, c: 3))
        #expect(try CBORValue(decoding: bytes) == .textMap(["outer": .textMap(["x": .unsigned(1), "z": .unsigned(3)]), "y": .unsigned(2)]))
    }

    @Test func manualNestedContainersAndSingleValues() throws {
        _ = try roundTrip(Manual(matrix: [[1, 2], [], [3]], wrapped: .init(value: "w")))
        _ = try roundTrip([[String?]]([["a", nil], [nil]]))
    }

    @Test func allIntegerWidthsAtTheirLimits() throws {
        _ = try roundTrip(AllIntegers(i8: .min, i16: .min, i32: .min, i64: .min, i: .min, i128: .min,
                                  u8: .max, u16: .max, u32: .max, u64: .max, u: .max, u128: .max))
        _ = try roundTrip(AllIntegers(i8: .max, i16: .max, i32: .max, i64: .max, i: .max, i128: .max,
                                  u8: 0, u16: 0, u32: 0, u64: 0, u: 0, u128: 0))
        // 128-bit values beyond 64 bits use bignum tags.
        #expect(try hex(CBOREncoder().encodeBytes(UInt128(1) << 64)) == "c249010000000000000000")
        #expect(try hex(CBOREncoder().encodeBytes(Int128(-1) - (Int128(1) << 64))) == "c349010000000000000000")
    }

    @Test func integerOverflowIsAnErrorNamingThePath() throws {
        struct Small: Codable { var v: Int8 }
        struct Big: Codable { var v: Int }
        let bytes = try CBOREncoder().encodeBytes(Big(v: 300))
        do {
            _ = try CBORDecoder().decode(Small.self, from: bytes)
            Issue.record("expected an error")
        } catch let DecodingError.dataCorrupted(context) {
            #expect(context.codingPath.map(\.stringValue) == ["v"])
        }
        #expect(throws: DecodingError.self) { try CBORDecoder().decode(UInt.self, from: [0x20]) }
        #expect(throws: DecodingError.self) { try CBORDecoder().decode(Int64.self, from: [0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]) }
    }

    @Test func foundationTypes() throws {
        let value = Foundations(
            date: Date(timeIntervalSince1970: 1_790_000_000.25), uuid: UUID(uuidString: "D14F0023-BB0D-4446-A7F1-72BBA6F187EF")!,
            data: Data([0, 1, 2, 255]), url: URL(string: "https://example.com/a?b=c")!, decimal: Decimal(string: "-1234.5678")!,
            float: 1.5, double: 0.1, optionalDate: Date(timeIntervalSince1970: 0)
        )
        let bytes = try roundTrip(value)
        let tree = try CBORValue(decoding: bytes)
        #expect(tree["date"] == .tagged(1, .float(1_790_000_000.25, width: .double)))
        #expect(tree["optionalDate"] == .tagged(1, .unsigned(0)))
        #expect(tree["uuid"] == .tagged(37, .bytes([0xD1, 0x4F, 0x00, 0x23, 0xBB, 0x0D, 0x44, 0x46, 0xA7, 0xF1, 0x72, 0xBB, 0xA6, 0xF1, 0x87, 0xEF])))
        #expect(tree["data"] == .bytes([0, 1, 2, 255]))
        #expect(tree["url"] == .tagged(32, .text("https://example.com/a?b=c")))
        #expect(tree["decimal"] == .tagged(4, .array([.negative(3), .negative(12_345_677)])))
        #expect(tree["float"] == .float(1.5, width: .half))
        _ = try roundTrip(Decimal(string: "12345678901234567890123456789012345678")!)
        _ = try roundTrip(Decimal(0))
    }

    @Test func datesFromOtherEncoders() throws {
        // Python's cbor2 writes datetimes as tag 0 text by default.
        let tag0 = CBORValue.tagged(0, .text("2013-03-21T20:04:00Z")).encoded
        #expect(try CBORDecoder().decode(Date.self, from: tag0) == Date(timeIntervalSince1970: 1_363_896_240))
        let offset = CBORValue.tagged(0, .text("2013-03-21T21:34:00.5+01:30")).encoded
        #expect(try CBORDecoder().decode(Date.self, from: offset) == Date(timeIntervalSince1970: 1_363_896_240.5))
        #expect(throws: DecodingError.self) { try CBORDecoder().decode(Date.self, from: CBORValue.tagged(0, .text("yesterday")).encoded) }
    }

    @Test func floatsUseTheShortestExactWidth() throws {
        #expect(try hex(CBOREncoder().encodeBytes(1.0)) == "f93c00")
        #expect(try hex(CBOREncoder().encodeBytes(100000.0)) == "fa47c35000")
        #expect(try hex(CBOREncoder().encodeBytes(1.1)) == "fb3ff199999999999a")
        #expect(try hex(CBOREncoder().encodeBytes(Double.nan)) == "f97e00")
        #expect(try hex(CBOREncoder().encodeBytes(-Double.infinity)) == "f9fc00")
        #expect(try hex(CBOREncoder().encodeBytes(5.960464477539063e-8)) == "f90001")
        // Integers are accepted where a Double is expected (other languages write 3 for 3.0).
        #expect(try CBORDecoder().decode(Double.self, from: [0x03]) == 3)
    }

    @Test func topLevelScalarsAndEmptyValues() throws {
        #expect(try hex(roundTrip("IETF")) == "6449455446")
        #expect(try hex(roundTrip(Empty())) == "a0")
        #expect(try hex(roundTrip([Int]())) == "80")
        #expect(try hex(roundTrip(Int?.none)) == "f6")
        #expect(try hex(roundTrip(true)) == "f5")
    }

    @Test func largeContainersGrowTheirHeads() throws {
        let array = Array(0..<70000)
        let bytes = try roundTrip(array)
        #expect(Array(bytes.prefix(5)) == [0x9a, 0x00, 0x01, 0x11, 0x70])
        var many: [String: Int] = [:]
        for i in 0..<300 { many["k\(i)"] = i }
        _ = try roundTrip(many)
        struct Wide: Codable, Equatable {
            var a0 = 0, a1 = 1, a2 = 2, a3 = 3, a4 = 4, a5 = 5, a6 = 6, a7 = 7, a8 = 8, a9 = 9
            var b0 = 0, b1 = 1, b2 = 2, b3 = 3, b4 = 4, b5 = 5, b6 = 6, b7 = 7, b8 = 8, b9 = 9
            var c0 = 0, c1 = 1, c2 = 2, c3 = 3, c4 = 4
        }
        let wide = try roundTrip(Wide())
        #expect(Array(wide.prefix(2)) == [0xb8, 25])
    }

    @Test func userInfoReachesCodableImplementations() throws {
        struct Probe: Codable, Equatable {
            static let key = CodingUserInfoKey(rawValue: "probe")!
            var seen: String
            init(seen: String) { self.seen = seen }
            init(from decoder: any Decoder) throws { seen = decoder.userInfo[Self.key] as? String ?? "none" }
            func encode(to encoder: any Encoder) throws {
                var c = encoder.singleValueContainer()
                try c.encode(encoder.userInfo[Self.key] as? String ?? "none")
            }
        }
        var encoder = CBOREncoder()
        encoder.userInfo[Probe.key] = "enc"
        var decoder = CBORDecoder()
        decoder.userInfo[Probe.key] = "dec"
        let bytes = try encoder.encodeBytes(Probe(seen: "x"))
        #expect(try CBORValue(decoding: bytes) == .text("enc"))
        #expect(try decoder.decode(Probe.self, from: bytes).seen == "dec")
    }

    @Test func cborValueIsCodableBothWays() throws {
        let value = CBORValue.map([
            .init(.text("n"), .negative(9)), .init(.unsigned(7), .tagged(37, .bytes(Array(repeating: 1, count: 16)))),
            .init(.text("f"), .float(0.5, width: .single)), .init(.text("s"), .simple(99)),
        ])
        #expect(try CBORValue(decoding: CBOREncoder().encodeBytes(value)) == value)
        #expect(try CBORDecoder().decode(CBORValue.self, from: value.encoded) == value)
        let json = try JSONEncoder().encode(CBORValue.textMap(["a": .array([.unsigned(1), .text("x"), .null])]))
        #expect(String(decoding: json, as: UTF8.self) == #"{"a":[1,"x",null]}"#)
    }
}
