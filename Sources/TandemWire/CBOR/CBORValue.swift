/// A CBOR data item of any shape (RFC 8949 data model), for tools and tests that handle CBOR
/// without a Swift type: inspecting frames, printing diagnostic notation, building test inputs.
public indirect enum CBORValue: Hashable, Sendable {
    case unsigned(UInt64)
    /// A negative integer stored as n, meaning -1 - n (so the whole range down to -2^64 fits).
    case negative(UInt64)
    case bytes([UInt8])
    case text(String)
    case array([CBORValue])
    /// Map entries in their encoded order.
    case map([MapEntry])
    case tagged(UInt64, CBORValue)
    case bool(Bool)
    case null
    case undefined
    /// Another simple value (0–19 and 32–255).
    case simple(UInt8)
    /// A float, with the width it was encoded in (16, 32 or 64) so it round-trips byte for byte.
    case float(Double, width: FloatWidth)

    public enum FloatWidth: Int, Hashable, Sendable {
        case half = 16, single = 32, double = 64
    }

    public struct MapEntry: Hashable, Sendable {
        public var key: CBORValue
        public var value: CBORValue
        public init(_ key: CBORValue, _ value: CBORValue) {
            self.key = key
            self.value = value
        }
    }

    /// An integer item for `value`.
    public static func int(_ value: Int64) -> CBORValue {
        value >= 0 ? .unsigned(UInt64(value)) : .negative(UInt64(bitPattern: ~value))
    }

    /// A float item in the shortest width that keeps `value`.
    public static func double(_ value: Double) -> CBORValue {
        if value.isNaN { return .float(value, width: .half) }
        let single = Float(value)
        if Double(single) != value { return .float(value, width: .double) }
        return .float(value, width: HalfFloat.exactBits(of: single) != nil ? .half : .single)
    }

    /// A map with text keys, in the given order.
    public static func textMap(_ entries: KeyValuePairs<String, CBORValue>) -> CBORValue {
        .map(entries.map { MapEntry(.text($0.key), $0.value) })
    }

    /// Looks up a text key in a map item.
    public subscript(key: String) -> CBORValue? {
        guard case .map(let entries) = self else { return nil }
        return entries.first { $0.key == .text(key) }?.value
    }

    /// The value as a signed integer, if it is an integer that fits.
    public var intValue: Int64? {
        switch self {
        case .unsigned(let n): return n <= UInt64(Int64.max) ? Int64(n) : nil
        case .negative(let n): return n <= UInt64(Int64.max) ? ~Int64(n) : nil
        default: return nil
        }
    }

    /// The value as text, if it is a text string.
    public var textValue: String? {
        if case .text(let s) = self { return s }
        return nil
    }
}

// MARK: - Parsing and serialization

extension CBORValue {
    /// Parses exactly one well-formed item from `bytes`, rejecting trailing bytes.
    public init(decoding bytes: some Collection<UInt8>, maxDepth: Int = 64) throws(CBORFormatError) {
        let array = Array(bytes)
        let parsed: Result<CBORValue, CBORFormatError> = array.withUnsafeBytes { buffer in
            let reader = CBORReader(buffer)
            do throws(CBORFormatError) {
                let (value, next) = try CBORValue.parse(reader, at: 0, depth: 0, maxDepth: maxDepth)
                guard next == reader.count else { throw CBORFormatError(.trailingBytes, at: next) }
                return .success(value)
            } catch {
                return .failure(error)
            }
        }
        self = try parsed.get()
    }

    static func parse(
        _ reader: CBORReader, at offset: Int, depth: Int, maxDepth: Int
    ) throws(CBORFormatError) -> (CBORValue, Int) {
        guard depth <= maxDepth else { throw CBORFormatError(.nestingTooDeep(limit: maxDepth), at: offset) }
        let head = try reader.head(at: offset)
        switch head.major {
        case .unsigned:
            return (.unsigned(head.argument), head.next)
        case .negative:
            return (.negative(head.argument), head.next)
        case .bytes:
            let (bytes, next) = try reader.bytes(head)
            return (.bytes(bytes), next)
        case .text:
            let (text, next) = try reader.text(head, at: offset)
            return (.text(text), next)
        case .array:
            var items: [CBORValue] = []
            var position = head.next
            if head.isIndefinite {
                while try reader.byte(at: position) != CBORSimple.break {
                    let (item, next) = try parse(reader, at: position, depth: depth + 1, maxDepth: maxDepth)
                    items.append(item)
                    position = next
                }
                return (.array(items), position + 1)
            }
            let count = try reader.checkCount(head.argument, perItem: 1, at: position)
            items.reserveCapacity(count)
            for _ in 0..<count {
                let (item, next) = try parse(reader, at: position, depth: depth + 1, maxDepth: maxDepth)
                items.append(item)
                position = next
            }
            return (.array(items), position)
        case .map:
            var entries: [MapEntry] = []
            var position = head.next
            if head.isIndefinite {
                while try reader.byte(at: position) != CBORSimple.break {
                    let (key, afterKey) = try parse(reader, at: position, depth: depth + 1, maxDepth: maxDepth)
                    if try reader.byte(at: afterKey) == CBORSimple.break {
                        throw CBORFormatError(.unexpectedBreak, at: afterKey)
                    }
                    let (value, next) = try parse(reader, at: afterKey, depth: depth + 1, maxDepth: maxDepth)
                    entries.append(MapEntry(key, value))
                    position = next
                }
                return (.map(entries), position + 1)
            }
            let count = try reader.checkCount(head.argument, perItem: 2, at: position)
            entries.reserveCapacity(count)
            for _ in 0..<count {
                let (key, afterKey) = try parse(reader, at: position, depth: depth + 1, maxDepth: maxDepth)
                let (value, next) = try parse(reader, at: afterKey, depth: depth + 1, maxDepth: maxDepth)
                entries.append(MapEntry(key, value))
                position = next
            }
            return (.map(entries), position)
        case .tag:
            let (content, next) = try parse(reader, at: head.next, depth: depth + 1, maxDepth: maxDepth)
            return (.tagged(head.argument, content), next)
        case .simple:
            switch head.info {
            case 20: return (.bool(false), head.next)
            case 21: return (.bool(true), head.next)
            case 22: return (.null, head.next)
            case 23: return (.undefined, head.next)
            case 24:
                guard head.argument >= 32 else { throw CBORFormatError(.invalidSimpleValue, at: offset) }
                return (.simple(UInt8(head.argument)), head.next)
            case 25: return (.float(reader.float(head)!, width: .half), head.next)
            case 26: return (.float(reader.float(head)!, width: .single), head.next)
            case 27: return (.float(reader.float(head)!, width: .double), head.next)
            case 31: throw CBORFormatError(.unexpectedBreak, at: offset)
            default: return (.simple(head.info), head.next)
            }
        }
    }

    /// The item's encoding: definite lengths, shortest heads, floats in their recorded width.
    public var encoded: [UInt8] {
        let output = CBORByteWriter()
        write(to: output.writer)
        return Array(output.bytes)
    }

    func write(to writer: CBORWriter) {
        switch self {
        case .unsigned(let n): writer.writeHead(.unsigned, n)
        case .negative(let n): writer.writeHead(.negative, n)
        case .bytes(let b): b.withUnsafeBytes { writer.writeBytes($0) }
        case .text(let s): writer.writeText(s)
        case .array(let items):
            writer.writeHead(.array, UInt64(items.count))
            for item in items { item.write(to: writer) }
        case .map(let entries):
            writer.writeHead(.map, UInt64(entries.count))
            for entry in entries {
                entry.key.write(to: writer)
                entry.value.write(to: writer)
            }
        case .tagged(let tag, let content):
            writer.writeHead(.tag, tag)
            content.write(to: writer)
        case .bool(let b): writer.writeByte(b ? CBORSimple.true : CBORSimple.false)
        case .null: writer.writeByte(CBORSimple.null)
        case .undefined: writer.writeByte(CBORSimple.undefined)
        case .simple(let v):
            if v < 24 { writer.writeByte(0xE0 | v) } else { writer.writeByte(0xF8); writer.writeByte(v) }
        case .float(let d, let width):
            switch width {
            case .half:
                let bits = d.isNaN ? 0x7E00 : HalfFloat.exactBits(of: Float(d)) ?? 0x7E00
                writer.writeByte(CBORSimple.float16)
                writer.writeByte(UInt8(bits >> 8))
                writer.writeByte(UInt8(bits & 0xFF))
            case .single:
                let bits = Float(d).bitPattern
                writer.writeByte(CBORSimple.float32)
                withUnsafeBytes(of: bits.bigEndian) { writer.writeRaw($0) }
            case .double:
                writer.writeByte(CBORSimple.float64)
                withUnsafeBytes(of: d.bitPattern.bigEndian) { writer.writeRaw($0) }
            }
        }
    }
}

// MARK: - Diagnostic notation

extension CBORValue: CustomStringConvertible {
    /// RFC 8949 §8 diagnostic notation, e.g. `{"a": 1, "b": [2, 3]}` or `1(1363896240)`.
    public var description: String {
        switch self {
        case .unsigned(let n): return String(n)
        case .negative(let n):
            return n == UInt64.max ? "-18446744073709551616" : "-" + String(n + 1)
        case .bytes(let b): return "h'" + b.map { hexByte($0) }.joined() + "'"
        case .text(let s): return "\"" + escapeDiagnostic(s) + "\""
        case .array(let items): return "[" + items.map(\.description).joined(separator: ", ") + "]"
        case .map(let entries):
            return "{" + entries.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}"
        case .tagged(let tag, let content): return "\(tag)(\(content))"
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        case .undefined: return "undefined"
        case .simple(let v): return "simple(\(v))"
        case .float(let d, _):
            if d.isNaN { return "NaN" }
            if d.isInfinite { return d < 0 ? "-Infinity" : "Infinity" }
            if d == d.rounded(), abs(d) < 1e16 {
                return (d.sign == .minus && d == 0 ? "-" : "") + String(Int64(d)) + ".0"
            }
            return "\(d)"
        }
    }
}

private func escapeDiagnostic(_ s: String) -> String {
    var out = ""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case _ where scalar.value < 0x20 || (scalar.value >= 0x7F && scalar.value < 0xA0):
            out += "\\u" + String(format4Hex(scalar.value))
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out
}

private func format4Hex(_ v: UInt32) -> String {
    let hex = String(v, radix: 16)
    return String(repeating: "0", count: max(0, 4 - hex.count)) + hex
}

@inline(__always)
func hexByte(_ b: UInt8) -> String {
    let digits: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"]
    return String([digits[Int(b >> 4)], digits[Int(b & 0xF)]])
}
