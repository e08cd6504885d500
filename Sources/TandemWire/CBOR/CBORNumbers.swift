#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// 128-bit integers in CBOR: a plain integer when it fits in 64 bits, a bignum (tags 2/3) otherwise.
enum CBORBigInteger {
    static func value(_ value: Int128) -> CBORValue {
        if value >= 0 { return Self.value(UInt128(value)) }
        // -1 - n  ⇔  n = ~value (never overflows).
        let n = UInt128(bitPattern: ~value)
        if n <= UInt128(UInt64.max) { return .negative(UInt64(n)) }
        return .tagged(CBORTag.negativeBignum, .bytes(magnitudeBytes(n)))
    }

    static func value(_ value: UInt128) -> CBORValue {
        if value <= UInt128(UInt64.max) { return .unsigned(UInt64(value)) }
        return .tagged(CBORTag.positiveBignum, .bytes(magnitudeBytes(value)))
    }

    /// Big-endian bytes without leading zeros.
    static func magnitudeBytes(_ value: UInt128) -> [UInt8] {
        var bytes: [UInt8] = []
        var v = value
        while v > 0 {
            bytes.append(UInt8(truncatingIfNeeded: v))
            v >>= 8
        }
        return bytes.reversed()
    }

    /// The magnitude held in a bignum's bytes, if it fits in 128 bits.
    static func magnitude(_ bytes: some Collection<UInt8>) -> UInt128? {
        var result: UInt128 = 0
        for byte in bytes.drop(while: { $0 == 0 }).enumerated() {
            guard byte.offset < 16 else { return nil }
            result = result << 8 | UInt128(byte.element)
        }
        return result
    }
}

/// `Decimal` as a CBOR decimal fraction (tag 4): `[exponent, mantissa]`, value = mantissa × 10^exponent.
enum CBORDecimal {
    static func encode(_ decimal: Decimal) -> CBORValue {
        if decimal.isNaN { return .float(.nan, width: .half) }
        // `significand` is the non-negative integer mantissa; `exponent` its power of ten.
        let digits = decimalDigits(of: decimal.significand)
        let magnitude = digits.flatMap(parseUInt128) ?? 0
        let mantissa: CBORValue
        if decimal.sign == .minus && magnitude != 0 {
            mantissa = CBORBigInteger.value(-Int128(magnitude))
        } else {
            mantissa = CBORBigInteger.value(magnitude)
        }
        return .tagged(CBORTag.decimalFraction, .array([.int(Int64(decimal.exponent)), mantissa]))
    }

    /// Builds a Decimal from an exponent and a signed mantissa; nil when it does not fit.
    static func decimal(exponent: Int64, mantissa: Int128) -> Decimal? {
        guard exponent >= -128 && exponent <= 127 else { return nil }
        let magnitude = mantissa.magnitude
        guard let significand = Decimal(string: String(magnitude)) else { return nil }
        let value = Decimal(sign: mantissa < 0 ? .minus : .plus, exponent: Int(exponent), significand: significand)
        return value.isNaN ? nil : value
    }

    private static func decimalDigits(of integer: Decimal) -> String? {
        let text = "\(integer)"
        guard !text.isEmpty, text.allSatisfy(\.isNumber) else { return nil }
        return text
    }

    private static func parseUInt128(_ text: String) -> UInt128? {
        var result: UInt128 = 0
        for char in text.utf8 {
            guard char >= 48 && char <= 57 else { return nil }
            let (times10, o1) = result.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt128(char - 48))
            guard !o1 && !o2 else { return nil }
            result = sum
        }
        return result
    }
}
