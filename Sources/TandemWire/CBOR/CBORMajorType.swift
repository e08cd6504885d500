/// The eight CBOR major types (RFC 8949 §3.1), as stored in the top three bits of an initial byte.
@usableFromInline
enum CBORMajorType: UInt8, Sendable {
    case unsigned = 0
    case negative = 1
    case bytes = 2
    case text = 3
    case array = 4
    case map = 5
    case tag = 6
    case simple = 7

    @inlinable
    var initialBits: UInt8 { rawValue << 5 }
}

/// Well-known tag numbers used by the Tandem CBOR profile (see Protocols/WIRE.md).
public enum CBORTag {
    /// Standard date/time string (RFC 3339), accepted on input for `Date`.
    public static let dateTimeString: UInt64 = 0
    /// Epoch-based date/time: seconds since 1970-01-01T00:00Z as an integer or float.
    public static let epochDateTime: UInt64 = 1
    /// Unsigned bignum: a byte string holding a big-endian magnitude.
    public static let positiveBignum: UInt64 = 2
    /// Negative bignum: a byte string holding n, meaning -1 - n.
    public static let negativeBignum: UInt64 = 3
    /// Decimal fraction: a two-element array [exponent, mantissa] meaning mantissa × 10^exponent.
    public static let decimalFraction: UInt64 = 4
    /// Uniform resource identifier as a text string.
    public static let uri: UInt64 = 32
    /// Binary UUID (RFC 9562): a 16-byte byte string.
    public static let uuid: UInt64 = 37
    /// Self-described CBOR: ignored on input.
    public static let selfDescribed: UInt64 = 55799
}

/// Initial bytes of the simple values the profile uses.
@usableFromInline
enum CBORSimple {
    @usableFromInline static let `false`: UInt8 = 0xF4
    @usableFromInline static let `true`: UInt8 = 0xF5
    @usableFromInline static let null: UInt8 = 0xF6
    @usableFromInline static let undefined: UInt8 = 0xF7
    @usableFromInline static let float16: UInt8 = 0xF9
    @usableFromInline static let float32: UInt8 = 0xFA
    @usableFromInline static let float64: UInt8 = 0xFB
    @usableFromInline static let `break`: UInt8 = 0xFF
}
