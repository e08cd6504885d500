import Foundation
import Testing
@testable import TandemWire

private func bytes(_ hex: String) -> [UInt8] {
    let clean = hex.replacingOccurrences(of: " ", with: "")
    return stride(from: 0, to: clean.count, by: 2).map {
        let start = clean.index(clean.startIndex, offsetBy: $0)
        return UInt8(clean[start..<clean.index(start, offsetBy: 2)], radix: 16)!
    }
}

/// RFC 8949 Appendix A: every example, as (diagnostic notation, encoding).
let appendixA: [(String, String)] = [
    ("0", "00"), ("1", "01"), ("10", "0a"), ("23", "17"), ("24", "1818"), ("25", "1819"), ("100", "1864"),
    ("1000", "1903e8"), ("1000000", "1a000f4240"), ("1000000000000", "1b000000e8d4a51000"),
    ("18446744073709551615", "1bffffffffffffffff"), ("2(h'010000000000000000')", "c249010000000000000000"),
    ("-18446744073709551616", "3bffffffffffffffff"), ("3(h'010000000000000000')", "c349010000000000000000"),
    ("-1", "20"), ("-10", "29"), ("-100", "3863"), ("-1000", "3903e7"),
    ("0.0", "f90000"), ("-0.0", "f98000"), ("1.0", "f93c00"), ("1.1", "fb3ff199999999999a"), ("1.5", "f93e00"),
    ("65504.0", "f97bff"), ("100000.0", "fa47c35000"), ("3.4028234663852886e+38", "fa7f7fffff"),
    ("1e+300", "fb7e37e43c8800759c"), ("5.960464477539063e-08", "f90001"), ("6.103515625e-05", "f90400"),
    ("-4.0", "f9c400"), ("-4.1", "fbc010666666666666"),
    ("Infinity", "f97c00"), ("NaN", "f97e00"), ("-Infinity", "f9fc00"),
    ("Infinity", "fa7f800000"), ("NaN", "fa7fc00000"), ("-Infinity", "faff800000"),
    ("Infinity", "fb7ff0000000000000"), ("NaN", "fb7ff8000000000000"), ("-Infinity", "fbfff0000000000000"),
    ("false", "f4"), ("true", "f5"), ("null", "f6"), ("undefined", "f7"), ("simple(16)", "f0"), ("simple(255)", "f8ff"),
    ("0(\"2013-03-21T20:04:00Z\")", "c074323031332d30332d32315432303a30343a30305a"),
    ("1(1363896240)", "c11a514b67b0"), ("1(1363896240.5)", "c1fb41d452d9ec200000"),
    ("23(h'01020304')", "d74401020304"), ("24(h'6449455446')", "d818456449455446"),
    ("32(\"http://www.example.com\")", "d82076687474703a2f2f7777772e6578616d706c652e636f6d"),
    ("h''", "40"), ("h'01020304'", "4401020304"), ("\"\"", "60"), ("\"a\"", "6161"), ("\"IETF\"", "6449455446"),
    ("\"\\\"\\\\\"", "62225c"), ("\"ü\"", "62c3bc"), ("\"水\"", "63e6b0b4"), ("\"𐅑\"", "64f0908591"),
    ("[]", "80"), ("[1, 2, 3]", "83010203"), ("[1, [2, 3], [4, 5]]", "8301820203820405"),
    ("[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25]",
     "98190102030405060708090a0b0c0d0e0f101112131415161718181819"),
    ("{}", "a0"), ("{1: 2, 3: 4}", "a201020304"), ("{\"a\": 1, \"b\": [2, 3]}", "a26161016162820203"),
    ("[\"a\", {\"b\": \"c\"}]", "826161a161626163"),
    ("{\"a\": \"A\", \"b\": \"B\", \"c\": \"C\", \"d\": \"D\", \"e\": \"E\"}", "a56161614161626142616361436164614461656145"),
    // Indefinite-length items: the diagnostic shows the value they decode to.
    ("h'0102030405'", "5f42010243030405ff"), ("\"streaming\"", "7f657374726561646d696e67ff"),
    ("[]", "9fff"), ("[1, [2, 3], [4, 5]]", "9f018202039f0405ffff"), ("[1, [2, 3], [4, 5]]", "9f01820203820405ff"),
    ("[1, [2, 3], [4, 5]]", "83018202039f0405ff"), ("[1, [2, 3], [4, 5]]", "83019f0203ff820405"),
    ("[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25]",
     "9f0102030405060708090a0b0c0d0e0f101112131415161718181819ff"),
    ("{\"a\": 1, \"b\": [2, 3]}", "bf61610161629f0203ffff"), ("[\"a\", {\"b\": \"c\"}]", "826161bf61626163ff"),
    ("{\"Fun\": true, \"Amt\": -2}", "bf6346756ef563416d7421ff"),
]

/// RFC 8949 Appendix F.1: malformed encodings every decoder must reject.
let appendixF: [String] = [
    // End of input in a head.
    "18", "19", "1a", "1b", "1901", "1a0102", "1b01020304050607", "38", "58", "78", "98", "9a01ff00", "b8", "d8", "f8",
    "f900", "fa0000", "fb000000",
    // Definite-length strings with short data.
    "41", "61", "5affffffff00", "5bffffffffffffffff010203", "7affffffff00", "7b7fffffffffffffff010203",
    // Definite-length maps and arrays not closed with enough items.
    "81", "818181818181818181", "8200", "a1", "a20102", "a100", "a2000000",
    // Tag number not followed by tag content.
    "c0",
    // Indefinite-length strings, maps and arrays not closed by a break.
    "5f4100", "7f6100", "9f", "9f0102", "bf", "bf01020102", "819f", "9f8000", "9f9f9f9f9fffffffff", "9f819f819f9fffffff",
    // Reserved additional information values.
    "1c", "1d", "1e", "3c", "3d", "3e", "5c", "5d", "5e", "7c", "7d", "7e", "9c", "9d", "9e", "bc", "bd", "be",
    "dc", "dd", "de", "fc", "fd", "fe",
    // Reserved two-byte encodings of simple values.
    "f800", "f801", "f818", "f81f",
    // Indefinite-length string chunks not of the correct type, or not definite.
    "5f00ff", "5f21ff", "5f6100ff", "5f80ff", "5fa0ff", "5fc000ff", "5fe0ff", "7f4100ff", "5f5f4100ffff", "7f7f6100ffff",
    // Break on its own, in a definite-length item, or in a map's value position.
    "ff", "81ff", "8200ff", "a1ff", "a1ff00", "a100ff", "a20000ff", "9f81ff", "9f829f819f9fffffffff", "bf00ff", "bf000000ff",
    // Major types 0, 1 and 6 with additional information 31.
    "1f", "3f", "df",
]

@Suite("RFC 8949 appendices")
struct CBORAppendixTests {
    @Test(arguments: appendixA.indices)
    func wellFormedExamplesDecodeToTheirDiagnosticNotation(index: Int) throws {
        let (diagnostic, encoded) = appendixA[index]
        let value = try CBORValue(decoding: bytes(encoded))
        #expect(value.description == diagnostic, "\(encoded)")
    }

    @Test(arguments: appendixF)
    func malformedExamplesAreRejected(encoded: String) {
        #expect(throws: CBORFormatError.self, "\(encoded)") { try CBORValue(decoding: bytes(encoded)) }
        // The Codable decoder rejects them too, whatever type is asked for.
        #expect(throws: DecodingError.self, "\(encoded)") { try CBORDecoder().decode(CBORValue.self, from: bytes(encoded)) }
        #expect(throws: DecodingError.self, "\(encoded)") { try CBORDecoder().decode([String: Int].self, from: bytes(encoded)) }
    }

    /// Definite-length, preferred examples are also what the encoder writes.
    @Test func encoderWritesThePreferredSerializations() throws {
        let encoder = CBOREncoder()
        func check<T: Encodable>(_ value: T, _ hex: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            #expect(try encoder.encodeBytes(value) == bytes(hex), sourceLocation: sourceLocation)
        }
        try check(0, "00"); try check(23, "17"); try check(24, "1818"); try check(1000, "1903e8")
        try check(UInt64(1_000_000_000_000), "1b000000e8d4a51000"); try check(UInt64.max, "1bffffffffffffffff")
        try check(-1000, "3903e7"); try check(-0.0, "f98000"); try check(65504.0, "f97bff")
        try check(3.4028234663852886e+38, "fa7f7fffff"); try check(1e300, "fb7e37e43c8800759c"); try check(-4.1, "fbc010666666666666")
        try check(6.103515625e-05, "f90400"); try check(Double.infinity, "f97c00")
        try check(false, "f4"); try check(Int?.none, "f6")
        try check(Date(timeIntervalSince1970: 1_363_896_240), "c11a514b67b0")
        try check(Date(timeIntervalSince1970: 1_363_896_240.5), "c1fb41d452d9ec200000")
        try check(URL(string: "http://www.example.com")!, "d82076687474703a2f2f7777772e6578616d706c652e636f6d")
        try check(Data([1, 2, 3, 4]), "4401020304"); try check("\u{10151}", "64f0908591"); try check("\"\\", "62225c")
        try check(Array(1...25), "98190102030405060708090a0b0c0d0e0f101112131415161718181819")
        try check([1: 2, 3: 4].sorted { $0.key < $1.key }.map { [$0.key, $0.value] }, "82820102820304")
        try check(["a": "A", "b": "B", "c": "C", "d": "D", "e": "E"], "a56161614161626142616361436164614461656145")
    }

    /// Examples with a Codable equivalent decode to it.
    @Test func examplesDecodeIntoCodableTypes() throws {
        let decoder = CBORDecoder()
        #expect(try decoder.decode(UInt64.self, from: bytes("1bffffffffffffffff")) == .max)
        #expect(try decoder.decode(UInt128.self, from: bytes("c249010000000000000000")) == UInt128(1) << 64)
        #expect(try decoder.decode(Int128.self, from: bytes("3bffffffffffffffff")) == -(Int128(1) << 64))
        #expect(try decoder.decode(Int128.self, from: bytes("c349010000000000000000")) == -(Int128(1) << 64) - 1)
        #expect(try decoder.decode(Int.self, from: bytes("3903e7")) == -1000)
        #expect(try decoder.decode(Double.self, from: bytes("f90001")) == 5.960464477539063e-8)
        #expect(try decoder.decode(Double.self, from: bytes("fa7f7fffff")) == 3.4028234663852886e+38)
        #expect(try decoder.decode(Float.self, from: bytes("fa47c35000")) == 100000)
        #expect(try decoder.decode(Double.self, from: bytes("fb7ff8000000000000")).isNaN)
        #expect(try decoder.decode(Bool.self, from: bytes("f5")) == true)
        #expect(try decoder.decode(Int?.self, from: bytes("f6")) == nil)
        #expect(try decoder.decode(Int?.self, from: bytes("f7")) == nil)
        #expect(try decoder.decode(Date.self, from: bytes("c074323031332d30332d32315432303a30343a30305a")) == Date(timeIntervalSince1970: 1_363_896_240))
        #expect(try decoder.decode(Date.self, from: bytes("c1fb41d452d9ec200000")) == Date(timeIntervalSince1970: 1_363_896_240.5))
        #expect(try decoder.decode(URL.self, from: bytes("d82076687474703a2f2f7777772e6578616d706c652e636f6d")) == URL(string: "http://www.example.com"))
        #expect(try decoder.decode(Data.self, from: bytes("d74401020304")) == Data([1, 2, 3, 4]))
        #expect(try decoder.decode(Data.self, from: bytes("5f42010243030405ff")) == Data([1, 2, 3, 4, 5]))
        #expect(try decoder.decode(String.self, from: bytes("7f657374726561646d696e67ff")) == "streaming")
        #expect(try decoder.decode(String.self, from: bytes("63e6b0b4")) == "水")
        #expect(try decoder.decode([Int].self, from: bytes("9f0102030405060708090a0b0c0d0e0f101112131415161718181819ff")) == Array(1...25))
        #expect(try decoder.decode([Int: Int].self, from: bytes("a201020304")) == [1: 2, 3: 4])
        struct AB: Codable, Equatable { var a: Int; var b: [Int] }
        #expect(try decoder.decode(AB.self, from: bytes("a26161016162820203")) == AB(a: 1, b: [2, 3]))
        #expect(try decoder.decode(AB.self, from: bytes("bf61610161629f0203ffff")) == AB(a: 1, b: [2, 3]))
        struct FunAmt: Codable, Equatable { var Fun: Bool; var Amt: Int }
        #expect(try decoder.decode(FunAmt.self, from: bytes("bf6346756ef563416d7421ff")) == FunAmt(Fun: true, Amt: -2))
        #expect(try decoder.decode([String: String].self, from: bytes("a56161614161626142616361436164614461656145")).count == 5)
        #expect(try decoder.decode([[Int]].self, from: bytes("829f0203ff820405")) == [[2, 3], [4, 5]])
    }
}
