/// Why a byte sequence is not well-formed CBOR (RFC 8949 §3, Appendix F) or breaks a decoding limit.
public struct CBORFormatError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Reason: Hashable, Sendable {
        /// The input ends inside an item.
        case truncated
        /// Additional information 28, 29 or 30, which RFC 8949 reserves.
        case reservedAdditionalInformation(UInt8)
        /// Indefinite length on a major type that has none (0, 1, 6), or a misplaced break.
        case invalidIndefiniteLength
        /// A "break" stop code where no indefinite-length item is open.
        case unexpectedBreak
        /// A chunk of an indefinite-length string that is not a definite string of the same type.
        case invalidStringChunk
        /// A simple value below 32 encoded in two bytes.
        case invalidSimpleValue
        /// Nesting deeper than the configured limit.
        case nestingTooDeep(limit: Int)
        /// A length or count that cannot fit in the bytes that remain.
        case lengthExceedsInput
        /// Text that is not valid UTF-8.
        case invalidUTF8
        /// Bytes left over after the top-level item.
        case trailingBytes
    }

    public var reason: Reason
    /// Byte offset in the input where the problem was found.
    public var offset: Int

    public init(_ reason: Reason, at offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    public var description: String {
        let what: String
        switch reason {
        case .truncated: what = "input ends inside an item"
        case .reservedAdditionalInformation(let ai): what = "reserved additional information \(ai)"
        case .invalidIndefiniteLength: what = "indefinite length is not allowed here"
        case .unexpectedBreak: what = "unexpected break stop code"
        case .invalidStringChunk: what = "indefinite-length string chunk is not a definite string of the same type"
        case .invalidSimpleValue: what = "simple value below 32 encoded in two bytes"
        case .nestingTooDeep(let limit): what = "nesting deeper than \(limit)"
        case .lengthExceedsInput: what = "length or count larger than the remaining input"
        case .invalidUTF8: what = "text string is not valid UTF-8"
        case .trailingBytes: what = "trailing bytes after the top-level item"
        }
        return "malformed CBOR at byte \(offset): \(what)"
    }
}

/// The head of a CBOR data item: major type, additional information and argument.
@usableFromInline
struct CBORHead {
    @usableFromInline let major: CBORMajorType
    /// The low five bits of the initial byte.
    @usableFromInline let info: UInt8
    /// The argument (length, count, value or tag number); 0 for indefinite lengths.
    @usableFromInline let argument: UInt64
    /// Offset just after the head.
    @usableFromInline let next: Int

    @inlinable var isIndefinite: Bool { info == 31 }
}

/// A bounds-checked view of encoded CBOR bytes. Every read checks against `count`, so no input
/// can make it read outside the buffer.
@usableFromInline
struct CBORReader {
    @usableFromInline let base: UnsafeRawPointer
    @usableFromInline let count: Int

    @inlinable
    init(_ buffer: UnsafeRawBufferPointer) {
        // An empty buffer may have a nil base address; any valid pointer works as nothing is read.
        self.base = buffer.baseAddress ?? UnsafeRawPointer(bitPattern: 0x10)!
        self.count = buffer.count
    }

    @inline(__always)
    func byte(at offset: Int) throws(CBORFormatError) -> UInt8 {
        guard offset < count else { throw CBORFormatError(.truncated, at: offset) }
        return base.load(fromByteOffset: offset, as: UInt8.self)
    }

    @inline(__always)
    func remaining(from offset: Int) -> Int { count - offset }

    /// Reads the head at `offset`. Accepts indefinite lengths for major types 2–5 and the break code.
    @inline(__always)
    func head(at offset: Int) throws(CBORFormatError) -> CBORHead {
        let initial = try byte(at: offset)
        // Every 3-bit value is a major type, so the raw value needs no check.
        let major = unsafeBitCast(initial >> 5, to: CBORMajorType.self)
        let info = initial & 0x1F
        switch info {
        case 0..<24:
            return CBORHead(major: major, info: info, argument: UInt64(info), next: offset &+ 1)
        case 24:
            guard offset + 2 <= count else { throw CBORFormatError(.truncated, at: offset) }
            let value = base.load(fromByteOffset: offset + 1, as: UInt8.self)
            return CBORHead(major: major, info: info, argument: UInt64(value), next: offset + 2)
        case 25:
            guard offset + 3 <= count else { throw CBORFormatError(.truncated, at: offset) }
            let value = UInt16(bigEndian: base.loadUnaligned(fromByteOffset: offset + 1, as: UInt16.self))
            return CBORHead(major: major, info: info, argument: UInt64(value), next: offset + 3)
        case 26:
            guard offset + 5 <= count else { throw CBORFormatError(.truncated, at: offset) }
            let value = UInt32(bigEndian: base.loadUnaligned(fromByteOffset: offset + 1, as: UInt32.self))
            return CBORHead(major: major, info: info, argument: UInt64(value), next: offset + 5)
        case 27:
            guard offset + 9 <= count else { throw CBORFormatError(.truncated, at: offset) }
            let value = UInt64(bigEndian: base.loadUnaligned(fromByteOffset: offset + 1, as: UInt64.self))
            return CBORHead(major: major, info: info, argument: value, next: offset + 9)
        case 31:
            switch major {
            case .bytes, .text, .array, .map, .simple:
                return CBORHead(major: major, info: info, argument: 0, next: offset &+ 1)
            default:
                throw CBORFormatError(.invalidIndefiniteLength, at: offset)
            }
        default:
            throw CBORFormatError(.reservedAdditionalInformation(info), at: offset)
        }
    }

    /// Checks that `length` bytes starting at `offset` are present.
    @inline(__always)
    func checkLength(_ length: UInt64, at offset: Int) throws(CBORFormatError) -> Int {
        guard length <= UInt64(count - offset) else { throw CBORFormatError(.lengthExceedsInput, at: offset) }
        return Int(length)
    }

    /// Checks a container count against the input left: every item needs at least one byte.
    @inline(__always)
    func checkCount(_ items: UInt64, perItem: UInt64, at offset: Int) throws(CBORFormatError) -> Int {
        let left = UInt64(count - offset)
        guard items <= left / perItem else { throw CBORFormatError(.lengthExceedsInput, at: offset) }
        return Int(items)
    }

    /// Returns the offset just after the item at `offset`, checking that it is well formed and
    /// nested no deeper than `maxDepth`. Recursion is bounded by `maxDepth`.
    func skip(at offset: Int, depth: Int, maxDepth: Int) throws(CBORFormatError) -> Int {
        guard depth <= maxDepth else { throw CBORFormatError(.nestingTooDeep(limit: maxDepth), at: offset) }
        let head = try head(at: offset)
        switch head.major {
        case .unsigned, .negative:
            return head.next
        case .bytes, .text:
            if head.isIndefinite {
                return try skipChunks(head, at: offset)
            }
            return head.next + (try checkLength(head.argument, at: head.next))
        case .array, .map:
            var position = head.next
            if head.isIndefinite {
                var index = 0
                while true {
                    if try byte(at: position) == CBORSimple.break {
                        if head.major == .map && index % 2 == 1 {
                            throw CBORFormatError(.unexpectedBreak, at: position)
                        }
                        return position + 1
                    }
                    position = try skip(at: position, depth: depth + 1, maxDepth: maxDepth)
                    index += 1
                }
            }
            let items = try checkCount(head.argument, perItem: head.major == .map ? 2 : 1, at: position)
            let total = head.major == .map ? items * 2 : items
            for _ in 0..<total {
                position = try skip(at: position, depth: depth + 1, maxDepth: maxDepth)
            }
            return position
        case .tag:
            return try skip(at: head.next, depth: depth + 1, maxDepth: maxDepth)
        case .simple:
            switch head.info {
            case 24:
                guard head.argument >= 32 else { throw CBORFormatError(.invalidSimpleValue, at: offset) }
                return head.next
            case 31:
                throw CBORFormatError(.unexpectedBreak, at: offset)
            default:
                return head.next
            }
        }
    }

    /// Skips the chunks of an indefinite-length string whose head is `head`.
    private func skipChunks(_ head: CBORHead, at offset: Int) throws(CBORFormatError) -> Int {
        var position = head.next
        while true {
            let initial = try byte(at: position)
            if initial == CBORSimple.break { return position + 1 }
            let chunk = try self.head(at: position)
            guard chunk.major == head.major, !chunk.isIndefinite else {
                throw CBORFormatError(.invalidStringChunk, at: position)
            }
            position = chunk.next + (try checkLength(chunk.argument, at: chunk.next))
        }
    }

    /// Calls `body` with each chunk of a (definite or indefinite) byte or text string and returns
    /// the offset after the string.
    func forEachChunk(
        _ head: CBORHead,
        _ body: (UnsafeRawBufferPointer) throws(CBORFormatError) -> Void
    ) throws(CBORFormatError) -> Int {
        if !head.isIndefinite {
            let length = try checkLength(head.argument, at: head.next)
            try body(UnsafeRawBufferPointer(start: base + head.next, count: length))
            return head.next + length
        }
        var position = head.next
        while true {
            let initial = try byte(at: position)
            if initial == CBORSimple.break { return position + 1 }
            let chunk = try self.head(at: position)
            guard chunk.major == head.major, !chunk.isIndefinite else {
                throw CBORFormatError(.invalidStringChunk, at: position)
            }
            let length = try checkLength(chunk.argument, at: chunk.next)
            try body(UnsafeRawBufferPointer(start: base + chunk.next, count: length))
            position = chunk.next + length
        }
    }

    /// Reads a text string (definite or chunked) with UTF-8 validation.
    func text(_ head: CBORHead, at offset: Int) throws(CBORFormatError) -> (String, next: Int) {
        if !head.isIndefinite {
            let length = try checkLength(head.argument, at: head.next)
            guard let string = UTF8Validation.string(UnsafeRawBufferPointer(start: base + head.next, count: length)) else {
                throw CBORFormatError(.invalidUTF8, at: head.next)
            }
            return (string, head.next + length)
        }
        var result = ""
        let next = try forEachChunk(head) { (chunk) throws(CBORFormatError) in
            // Each chunk must be valid UTF-8 on its own (RFC 8949 §3.2.3).
            guard let part = UTF8Validation.string(chunk) else {
                throw CBORFormatError(.invalidUTF8, at: offset)
            }
            result += part
        }
        return (result, next)
    }

    /// Reads a byte string (definite or chunked).
    func bytes(_ head: CBORHead) throws(CBORFormatError) -> ([UInt8], next: Int) {
        var result: [UInt8] = []
        if !head.isIndefinite {
            let length = try checkLength(head.argument, at: head.next)
            result = Array(UnsafeRawBufferPointer(start: base + head.next, count: length))
            return (result, head.next + length)
        }
        let next = try forEachChunk(head) { chunk in result.append(contentsOf: chunk) }
        return (result, next)
    }

    /// Reads a float of any width at a head whose major type is 7 and info 25–27.
    @inline(__always)
    func float(_ head: CBORHead) -> Double? {
        switch head.info {
        case 25: return HalfFloat.value(of: UInt16(truncatingIfNeeded: head.argument))
        case 26: return Double(Float(bitPattern: UInt32(truncatingIfNeeded: head.argument)))
        case 27: return Double(bitPattern: head.argument)
        default: return nil
        }
    }
}
