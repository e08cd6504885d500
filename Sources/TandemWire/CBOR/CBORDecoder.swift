#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif
public import NIOCore

/// Decodes `Decodable` values from CBOR (RFC 8949) in the Tandem profile (`Protocols/WIRE.md`).
///
/// Made for untrusted input: every read is bounds-checked, nesting is limited, a claimed length
/// or count is checked against the bytes that remain before anything is reserved, text must be
/// valid UTF-8, and a map may not repeat a key. Indefinite-length items are accepted. Unknown
/// keys are skipped and absent optionals decode as `nil`, so old and new message versions
/// interoperate. Every failure is a `DecodingError` carrying the coding path.
public struct CBORDecoder: Sendable {
    /// Values made available to `init(from:)` implementations through `Decoder.userInfo`.
    public var userInfo: [CodingUserInfoKey: any Sendable] = [:]
    /// The deepest nesting of arrays, maps and tags accepted (default 64).
    public var maxDepth: Int = 64

    public init() {}

    public func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        try data.withUnsafeBytes { try decode(type, from: $0) }
    }

    public func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try bytes.withUnsafeBytes { try decode(type, from: $0) }
    }

    public func decode<T: Decodable>(_ type: T.Type, from buffer: ByteBuffer) throws -> T {
        try buffer.withUnsafeReadableBytes { try decode(type, from: $0) }
    }

    /// Checks that `bytes` are one well-formed CBOR item and nothing after it, without decoding
    /// it (what a message passed on unread must be); `DecodingError.dataCorrupted` when not.
    public func checkWellFormed(_ bytes: UnsafeRawBufferPointer) throws {
        let next: Int
        do {
            next = try CBORReader(bytes).skip(at: 0, depth: 0, maxDepth: maxDepth)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: error.description, underlyingError: error))
        }
        if next != bytes.count {
            throw DecodingError.dataCorrupted(.init(
                codingPath: [], debugDescription: CBORFormatError(.trailingBytes, at: next).description, underlyingError: CBORFormatError(.trailingBytes, at: next)
            ))
        }
    }

    /// Decodes exactly one item filling `bytes`; trailing bytes are an error.
    public func decode<T: Decodable>(_ type: T.Type, from bytes: UnsafeRawBufferPointer) throws -> T {
        if type == CBORRawMessage.self {
            // Checked, not decoded: one well-formed item, nothing after it.
            try checkWellFormed(bytes)
            return CBORRawMessage(bytes: Array(bytes)) as! T
        }
        let state = CBORDecodingState(reader: CBORReader(bytes), maxDepth: maxDepth, userInfo: userInfo)
        let (value, next) = try state.decodeRoot(type)
        if next != bytes.count {
            throw DecodingError.dataCorrupted(.init(
                codingPath: [],
                debugDescription: CBORFormatError(.trailingBytes, at: next).description,
                underlyingError: CBORFormatError(.trailingBytes, at: next)
            ))
        }
        return value
    }
}

/// The state of one decode call: the input, the arena of parsed map entries, and the coding-path tree.
final class CBORDecodingState {
    /// One entry of a map that a keyed container was opened on.
    struct Entry {
        enum KeyKind: UInt8 {
            /// UTF-8 key bytes at `keyStart..<keyStart+keyValue` in the input.
            case text
            /// An integer key with value `keyValue`.
            case int
            /// A chunked text key, materialized at `extraKeys[keyValue]`.
            case chunkedText
            /// A key no `CodingKey` can name (bytes, float, array…): never matches.
            case other
        }
        var kind: KeyKind
        var keyStart: Int
        var keyValue: Int
        var value: Int
        /// Length and first bytes of a text key, or the integer: equal keys have equal
        /// fingerprints, so the duplicate check compares full keys only on a fingerprint match.
        var fingerprint: UInt64
    }

    /// A node of the coding-path tree: views refer to nodes by index, so no path is built
    /// unless an error or a caller asks for it.
    struct PathNode {
        let parent: Int
        let component: CBORPathComponent
    }

    let reader: CBORReader
    let maxDepth: Int
    let userInfoStorage: [CodingUserInfoKey: any Sendable]
    /// Everything a decode call mutates, in one block reached through a pointer (see
    /// `UnsafeGrowableBuffer` for why).
    struct Hot {
        var entries = UnsafeGrowableBuffer<Entry>()
        var cursors = UnsafeGrowableBuffer<Int>()
        var paths = UnsafeGrowableBuffer<PathNode>()
        /// Text keys that arrived in chunks (indefinite length), materialized once.
        var extraKeys = UnsafeGrowableBuffer<String>()
        /// Where the top-level map ends, once known, so the end check needs no second pass.
        var rootEnd: Int?
        /// The last map parsed and where it ends: an array of maps moves to its next element
        /// without walking the one it just decoded a second time.
        var lastMapOffset = -1
        var lastMapEnd = -1
    }

    private let hot: UnsafeMutablePointer<Hot>

    init(reader: CBORReader, maxDepth: Int, userInfo: [CodingUserInfoKey: any Sendable]) {
        self.reader = reader
        self.maxDepth = min(max(maxDepth, 1), 0xFFFF)
        self.userInfoStorage = userInfo
        hot = .allocate(capacity: 1)
        hot.initialize(to: Hot())
        hot.pointee.paths.append(PathNode(parent: -1, component: .none))
    }

    deinit {
        hot.pointee.entries.deallocate()
        hot.pointee.cursors.deallocate()
        hot.pointee.paths.deallocate()
        hot.pointee.extraKeys.deallocate()
        hot.deinitialize(count: 1)
        hot.deallocate()
    }

    @inline(__always) var entries: UnsafeGrowableBuffer<Entry> {
        unsafeAddress { UnsafePointer(hot).pointer(to: \.entries)! }
        unsafeMutableAddress { hot.pointer(to: \.entries)! }
    }

    @inline(__always) var cursors: UnsafeGrowableBuffer<Int> {
        unsafeAddress { UnsafePointer(hot).pointer(to: \.cursors)! }
        unsafeMutableAddress { hot.pointer(to: \.cursors)! }
    }

    @inline(__always) var paths: UnsafeGrowableBuffer<PathNode> {
        unsafeAddress { UnsafePointer(hot).pointer(to: \.paths)! }
        unsafeMutableAddress { hot.pointer(to: \.paths)! }
    }

    @inline(__always) var extraKeys: UnsafeGrowableBuffer<String> {
        unsafeAddress { UnsafePointer(hot).pointer(to: \.extraKeys)! }
        unsafeMutableAddress { hot.pointer(to: \.extraKeys)! }
    }

    /// Where the item at `offset` ends, if a map parsed there says so.
    @inline(__always)
    func knownEnd(of offset: Int) -> Int? {
        hot.pointee.lastMapOffset == offset ? hot.pointee.lastMapEnd : nil
    }

    @inline(__always) var rootEnd: Int? {
        get { hot.pointee.rootEnd }
        set { hot.pointee.rootEnd = newValue }
    }

    // MARK: Paths and errors

    func codingPath(_ node: Int) -> [any CodingKey] {
        var keys: [any CodingKey] = []
        var index = node
        while index > 0 {
            if let key = paths[index].component.codingKey { keys.append(key) }
            index = paths[index].parent
        }
        return keys.reversed()
    }

    func codingPath(_ node: Int, appending component: CBORPathComponent) -> [any CodingKey] {
        var path = codingPath(node)
        if let key = component.codingKey { path.append(key) }
        return path
    }

    @inline(__always)
    func addPath(_ parent: Int, _ component: CBORPathComponent) -> Int {
        paths.append(PathNode(parent: parent, component: component))
        return paths.count &- 1
    }

    func corrupted(_ error: CBORFormatError, _ path: [any CodingKey]) -> DecodingError {
        .dataCorrupted(.init(codingPath: path, debugDescription: error.description, underlyingError: error))
    }

    func mismatch(_ type: Any.Type, expected: String, _ head: CBORHead?, at offset: Int, _ path: [any CodingKey]) -> DecodingError {
        let found = head.map { Self.describe($0) } ?? "nothing"
        if let head, head.major == .simple, head.info == 22 || head.info == 23 {
            return .valueNotFound(type, .init(codingPath: path, debugDescription: "Expected \(expected) but found null at byte \(offset)."))
        }
        return .typeMismatch(type, .init(codingPath: path, debugDescription: "Expected \(expected) but found \(found) at byte \(offset)."))
    }

    static func describe(_ head: CBORHead) -> String {
        switch head.major {
        case .unsigned: return "unsigned integer"
        case .negative: return "negative integer"
        case .bytes: return "byte string"
        case .text: return "text string"
        case .array: return "array"
        case .map: return "map"
        case .tag: return "tag \(head.argument)"
        case .simple:
            switch head.info {
            case 20, 21: return "boolean"
            case 22: return "null"
            case 23: return "undefined"
            case 25, 26, 27: return "float"
            default: return "simple value"
            }
        }
    }

    // MARK: Heads

    /// Reads the head at `offset`, skipping any tags; returns the innermost tag number.
    @inline(__always)
    func contentHead(at offset: Int, _ path: @autoclosure () -> [any CodingKey]) throws -> (CBORHead, tag: UInt64?) {
        do {
            var head = try reader.head(at: offset)
            var tag: UInt64?
            while head.major == .tag {
                tag = head.argument
                head = try reader.head(at: head.next)
            }
            return (head, tag)
        } catch {
            throw corrupted(error, path())
        }
    }

    @inline(__always)
    func isNull(_ head: CBORHead) -> Bool {
        head.major == .simple && (head.info == 22 || head.info == 23)
    }

    @inline(__always)
    func skip(at offset: Int, depth: Int, _ path: @autoclosure () -> [any CodingKey]) throws -> Int {
        do {
            return try reader.skip(at: offset, depth: depth, maxDepth: maxDepth)
        } catch {
            throw corrupted(error, path())
        }
    }

    // MARK: Values

    func decodeRoot<T: Decodable>(_ type: T.Type) throws -> (T, Int) {
        let value = try decodeValue(type, at: 0, depth: 0, parent: 0, component: .none)
        // A top-level map was walked whole while its entries were parsed; anything else is
        // walked now, so a malformed item the type never read is still reported.
        let end = try rootEnd ?? skip(at: 0, depth: 0, [])
        return (value, end)
    }

    /// Decodes a `T` at `offset`, with direct paths for the types the profile defines.
    @inline(__always)
    func decodeValue<T: Decodable>(
        _ type: T.Type, at offset: Int, depth: Int, parent: Int, component: CBORPathComponent
    ) throws -> T {
        if T.self == String.self {
            return unsafeBitCast(try decodeString(at: offset, parent, component), to: T.self)
        } else if T.self == Int.self {
            return unsafeBitCast(try decodeInteger(Int.self, at: offset, parent, component), to: T.self)
        } else if T.self == Double.self {
            return unsafeBitCast(try decodeDouble(at: offset, parent, component), to: T.self)
        } else if T.self == Bool.self {
            return unsafeBitCast(try decodeBool(at: offset, parent, component), to: T.self)
        } else if T.self == Date.self {
            return unsafeBitCast(try decodeDate(at: offset, parent, component), to: T.self)
        } else if T.self == UUID.self {
            return unsafeBitCast(try decodeUUID(at: offset, parent, component), to: T.self)
        } else if let special = CBORTypeCache.specialDecodable(T.self) {
            func open<S: CBORSpecialDecodable>(_: S.Type) throws -> T {
                unsafeBitCast(try S.decodeCBOR(from: self, at: offset, depth: depth, parent: parent, component: component), to: T.self)
            }
            return try open(special)
        }
        let node = addPath(parent, component)
        return try T(from: CBORValueDecoder(state: self, offset: offset, depth: depth, path: node))
    }

    func decodeString(at offset: Int, _ parent: Int, _ component: CBORPathComponent) throws -> String {
        let (head, _) = try contentHead(at: offset, self.codingPath(parent, appending: component))
        guard head.major == .text else {
            throw mismatch(String.self, expected: "a text string", head, at: offset, codingPath(parent, appending: component))
        }
        do {
            return try reader.text(head, at: offset).0
        } catch {
            throw corrupted(error, codingPath(parent, appending: component))
        }
    }

    func decodeBool(at offset: Int, _ parent: Int, _ component: CBORPathComponent) throws -> Bool {
        let (head, _) = try contentHead(at: offset, self.codingPath(parent, appending: component))
        guard head.major == .simple, head.info == 20 || head.info == 21 else {
            throw mismatch(Bool.self, expected: "a boolean", head, at: offset, codingPath(parent, appending: component))
        }
        return head.info == 21
    }

    func decodeInteger<I: FixedWidthInteger>(
        _ type: I.Type, at offset: Int, _ parent: Int, _ component: CBORPathComponent
    ) throws -> I {
        let (head, tag) = try contentHead(at: offset, self.codingPath(parent, appending: component))
        switch head.major {
        case .unsigned:
            if let value = I(exactly: head.argument) { return value }
        case .negative:
            // -1 - n fits exactly when n fits (n <= max, so -1 - n >= min).
            if I.isSigned, let magnitude = I(exactly: head.argument) {
                return -1 - magnitude
            }
        case .bytes where tag == CBORTag.positiveBignum || tag == CBORTag.negativeBignum:
            let bytes: [UInt8]
            do { bytes = try reader.bytes(head).0 } catch { throw corrupted(error, codingPath(parent, appending: component)) }
            if let magnitude = CBORBigInteger.magnitude(bytes) {
                if tag == CBORTag.positiveBignum {
                    if let value = I(exactly: magnitude) { return value }
                } else if magnitude <= UInt128(Int128.max), let value = I(exactly: -1 - Int128(magnitude)) {
                    return value
                }
            }
        default:
            throw mismatch(I.self, expected: "an integer", head, at: offset, codingPath(parent, appending: component))
        }
        throw DecodingError.dataCorrupted(.init(
            codingPath: codingPath(parent, appending: component),
            debugDescription: "Integer at byte \(offset) does not fit in \(I.self)."
        ))
    }

    func decodeDouble(at offset: Int, _ parent: Int, _ component: CBORPathComponent) throws -> Double {
        let (head, _) = try contentHead(at: offset, self.codingPath(parent, appending: component))
        switch head.major {
        case .simple:
            if let value = reader.float(head) { return value }
        case .unsigned:
            return Double(head.argument)
        case .negative:
            return -1 - Double(head.argument)
        default:
            break
        }
        throw mismatch(Double.self, expected: "a number", head, at: offset, codingPath(parent, appending: component))
    }

    func decodeFloat(at offset: Int, _ parent: Int, _ component: CBORPathComponent) throws -> Float {
        let double = try decodeDouble(at: offset, parent, component)
        let single = Float(double)
        if single.isInfinite && !double.isInfinite {
            throw DecodingError.dataCorrupted(.init(
                codingPath: codingPath(parent, appending: component),
                debugDescription: "Number \(double) at byte \(offset) does not fit in Float."
            ))
        }
        return single
    }

    func decodeDate(at offset: Int, _ parent: Int, _ component: CBORPathComponent) throws -> Date {
        let (head, _) = try contentHead(at: offset, self.codingPath(parent, appending: component))
        switch head.major {
        case .unsigned, .negative, .simple:
            // Tag 1 (or an untagged number): seconds since the epoch.
            let seconds = try decodeDouble(at: offset, parent, component)
            if seconds.isFinite { return Date(timeIntervalSince1970: seconds) }
        case .text:
            // Tag 0 (or untagged text): an RFC 3339 date-time, as Python's cbor2 writes by default.
            let text = try decodeString(at: offset, parent, component)
            if let date = RFC3339.parse(text) { return date }
            throw DecodingError.dataCorrupted(.init(
                codingPath: codingPath(parent, appending: component),
                debugDescription: "Text at byte \(offset) is not an RFC 3339 date-time: \(text.prefix(40))"
            ))
        default:
            break
        }
        throw mismatch(Date.self, expected: "a date (tag 1 number or tag 0 text)", head, at: offset, codingPath(parent, appending: component))
    }

    func decodeUUID(at offset: Int, _ parent: Int, _ component: CBORPathComponent) throws -> UUID {
        let (head, _) = try contentHead(at: offset, self.codingPath(parent, appending: component))
        if head.major == .bytes {
            let bytes: [UInt8]
            do { bytes = try reader.bytes(head).0 } catch { throw corrupted(error, codingPath(parent, appending: component)) }
            if bytes.count == 16 {
                return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                                   bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
            }
        } else if head.major == .text {
            let text = try decodeString(at: offset, parent, component)
            if let uuid = UUID(uuidString: text) { return uuid }
        } else {
            throw mismatch(UUID.self, expected: "a UUID (tag 37 with 16 bytes)", head, at: offset, codingPath(parent, appending: component))
        }
        throw DecodingError.dataCorrupted(.init(
            codingPath: codingPath(parent, appending: component),
            debugDescription: "Value at byte \(offset) is not a 16-byte UUID."
        ))
    }

    func decodeData(at offset: Int, _ parent: Int, _ component: CBORPathComponent) throws -> Data {
        let (head, _) = try contentHead(at: offset, self.codingPath(parent, appending: component))
        guard head.major == .bytes else {
            throw mismatch(Data.self, expected: "a byte string", head, at: offset, codingPath(parent, appending: component))
        }
        if !head.isIndefinite {
            do {
                let length = try reader.checkLength(head.argument, at: head.next)
                return Data(UnsafeRawBufferPointer(start: reader.base + head.next, count: length))
            } catch {
                throw corrupted(error, codingPath(parent, appending: component))
            }
        }
        do { return Data(try reader.bytes(head).0) } catch { throw corrupted(error, codingPath(parent, appending: component)) }
    }

    // MARK: Containers

    func keyedContainer<Key: CodingKey>(
        _ type: Key.Type, at offset: Int, depth: Int, path: Int
    ) throws -> KeyedDecodingContainer<Key> {
        let range = try parseMap(at: offset, depth: depth, path: path)
        cursors.append(range.lowerBound)
        let container = CBORKeyedDecodingContainer<Key>(
            state: self, entries: range, cursorSlot: cursors.count &- 1, depth: depth, path: path
        )
        return KeyedDecodingContainer(container)
    }

    /// Parses the map at `offset` into the entry arena and returns the range of its entries.
    func parseMap(at offset: Int, depth: Int, path: Int) throws -> Range<Int> {
        guard depth < maxDepth else {
            throw corrupted(CBORFormatError(.nestingTooDeep(limit: maxDepth), at: offset), codingPath(path))
        }
        let (head, _) = try contentHead(at: offset, self.codingPath(path))
        guard head.major == .map else {
            throw mismatch([String: Any].self, expected: "a map", head, at: offset, codingPath(path))
        }
        let first = entries.count
        do {
            var position = head.next
            if head.isIndefinite {
                while try reader.byte(at: position) != CBORSimple.break {
                    position = try parseEntry(at: position, depth: depth)
                }
                position += 1
            } else {
                let count = try reader.checkCount(head.argument, perItem: 2, at: position)
                for _ in 0..<count {
                    position = try parseEntry(at: position, depth: depth)
                }
            }
            if offset == 0 { rootEnd = position }
            hot.pointee.lastMapOffset = offset
            hot.pointee.lastMapEnd = position
        } catch {
            throw corrupted(error, codingPath(path))
        }
        let range = first..<entries.count
        if let duplicate = duplicateKey(in: range) {
            throw DecodingError.dataCorrupted(.init(
                codingPath: codingPath(path),
                debugDescription: "Map at byte \(offset) repeats the key \(duplicate)."
            ))
        }
        return range
    }

    private func parseEntry(at position: Int, depth: Int) throws(CBORFormatError) -> Int {
        let keyHead = try reader.head(at: position)
        var entry = Entry(kind: .other, keyStart: 0, keyValue: 0, value: 0, fingerprint: 0)
        var afterKey: Int
        switch keyHead.major {
        case .text where !keyHead.isIndefinite:
            let length = try reader.checkLength(keyHead.argument, at: keyHead.next)
            entry.kind = .text
            entry.keyStart = keyHead.next
            entry.keyValue = length
            entry.fingerprint = Self.fingerprint(reader.base + keyHead.next, length)
            afterKey = keyHead.next + length
        case .text:
            let (text, next) = try reader.text(keyHead, at: position)
            extraKeys.append(text)
            entry.kind = .chunkedText
            entry.keyValue = extraKeys.count - 1
            entry.fingerprint = text.utf8.withContiguousStorageIfAvailable {
                Self.fingerprint(UnsafeRawPointer($0.baseAddress!), $0.count)
            } ?? 0
            afterKey = next
        case .unsigned:
            if keyHead.argument <= UInt64(Int.max) {
                entry.kind = .int
                entry.keyValue = Int(keyHead.argument)
                entry.fingerprint = UInt64(bitPattern: Int64(entry.keyValue))
            }
            afterKey = keyHead.next
        case .negative:
            if keyHead.argument <= UInt64(Int.max) {
                entry.kind = .int
                entry.keyValue = -1 - Int(keyHead.argument)
                entry.fingerprint = UInt64(bitPattern: Int64(entry.keyValue))
            }
            afterKey = keyHead.next
        default:
            afterKey = try reader.skip(at: position, depth: depth + 1, maxDepth: maxDepth)
        }
        if try reader.byte(at: afterKey) == CBORSimple.break {
            throw CBORFormatError(.unexpectedBreak, at: afterKey)
        }
        entry.value = afterKey
        entries.append(entry)
        return try reader.skip(at: afterKey, depth: depth + 1, maxDepth: maxDepth)
    }

    /// Length in the top byte, then up to the first seven bytes of the key.
    @inline(__always)
    static func fingerprint(_ bytes: UnsafeRawPointer, _ count: Int) -> UInt64 {
        var print = UInt64(truncatingIfNeeded: count) << 56
        for i in 0..<min(count, 7) {
            print |= UInt64(bytes.load(fromByteOffset: i, as: UInt8.self)) << (8 * UInt64(i))
        }
        return print
    }

    /// Returns a description of a key that appears twice in the entries, if any.
    private func duplicateKey(in range: Range<Int>) -> String? {
        guard range.count > 1 else { return nil }
        // Integer keys in increasing order (what encoders of integer-keyed structs write)
        // cannot repeat: one pass decides.
        var increasing = true
        var previous = Int.min
        for i in range {
            let entry = entries[i]
            guard entry.kind == .int, entry.keyValue > previous || i == range.lowerBound else {
                increasing = false
                break
            }
            previous = entry.keyValue
        }
        if increasing { return nil }
        if range.count <= 32 {
            for i in range {
                let print = entries[i].fingerprint
                var j = i + 1
                while j < range.upperBound {
                    if entries[j].fingerprint == print, sameKey(entries[i], entries[j]) {
                        return keyDescription(entries[i])
                    }
                    j += 1
                }
            }
            return nil
        }
        var seen = Set<String>()
        seen.reserveCapacity(range.count)
        for i in range where !seen.insert(keyIdentity(entries[i])).inserted {
            return keyDescription(entries[i])
        }
        return nil
    }

    private func sameKey(_ a: Entry, _ b: Entry) -> Bool {
        switch (a.kind, b.kind) {
        case (.int, .int):
            return a.keyValue == b.keyValue
        case (.text, .text):
            return a.keyValue == b.keyValue && equalBytes(reader.base + a.keyStart, reader.base + b.keyStart, count: a.keyValue)
        case (.other, _), (_, .other), (.int, _), (_, .int):
            return false
        default:
            return keyIdentity(a) == keyIdentity(b)
        }
    }

    private func keyIdentity(_ entry: Entry) -> String {
        switch entry.kind {
        case .int: return "i\(entry.keyValue)"
        case .text: return "t" + String(decoding: UnsafeRawBufferPointer(start: reader.base + entry.keyStart, count: entry.keyValue), as: UTF8.self)
        case .chunkedText: return "t" + extraKeys[entry.keyValue]
        case .other: return "o\(entry.value)"
        }
    }

    private func keyDescription(_ entry: Entry) -> String {
        let identity = keyIdentity(entry)
        return entry.kind == .int ? String(identity.dropFirst()) : "\"\(identity.dropFirst())\""
    }

    /// The text of a key entry, when it is valid UTF-8.
    func keyText(_ entry: Entry) -> String? {
        switch entry.kind {
        case .text:
            return UTF8Validation.string(UnsafeRawBufferPointer(start: reader.base + entry.keyStart, count: entry.keyValue))
        case .chunkedText:
            return extraKeys[entry.keyValue]
        default:
            return nil
        }
    }

    func unkeyedContainer(at offset: Int, depth: Int, path: Int) throws -> CBORUnkeyedDecodingContainer {
        guard depth < maxDepth else {
            throw corrupted(CBORFormatError(.nestingTooDeep(limit: maxDepth), at: offset), codingPath(path))
        }
        let (head, _) = try contentHead(at: offset, self.codingPath(path))
        guard head.major == .array else {
            throw mismatch([Any].self, expected: "an array", head, at: offset, codingPath(path))
        }
        var count: Int
        do {
            if head.isIndefinite {
                // Count the items once so `count` and `isAtEnd` are exact.
                count = 0
                var position = head.next
                while try reader.byte(at: position) != CBORSimple.break {
                    position = try reader.skip(at: position, depth: depth + 1, maxDepth: maxDepth)
                    count += 1
                }
            } else {
                count = try reader.checkCount(head.argument, perItem: 1, at: head.next)
            }
        } catch {
            throw corrupted(error, codingPath(path))
        }
        return CBORUnkeyedDecodingContainer(state: self, count: count, position: head.next, depth: depth, path: path)
    }
}

// MARK: - Decoder view

/// The `Decoder` handed to `init(from:)`: a small value (three words, so boxing it as
/// `any Decoder` does not allocate) naming a position in the shared state.
struct CBORValueDecoder: Decoder {
    let state: CBORDecodingState
    let offset: Int
    /// Path node in the upper bits, nesting depth in the low 16 bits.
    let packed: Int

    init(state: CBORDecodingState, offset: Int, depth: Int, path: Int) {
        self.state = state
        self.offset = offset
        self.packed = path << 16 | depth
    }

    var depth: Int { packed & 0xFFFF }
    var path: Int { packed >> 16 }

    var codingPath: [any CodingKey] { state.codingPath(path) }
    var userInfo: [CodingUserInfoKey: Any] { state.userInfoStorage }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        try state.keyedContainer(type, at: offset, depth: depth, path: path)
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try state.unkeyedContainer(at: offset, depth: depth, path: path)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        CBORSingleValueDecodingContainer(state: state, offset: offset, packed: packed)
    }
}

// MARK: - Special types

/// Types the profile decodes from a special form, checked after the hottest scalar types.
protocol CBORSpecialDecodable {
    static func decodeCBOR(
        from state: CBORDecodingState, at offset: Int, depth: Int, parent: Int, component: CBORPathComponent
    ) throws -> Self
}

extension Data: CBORSpecialDecodable {
    static func decodeCBOR(from state: CBORDecodingState, at offset: Int, depth: Int, parent: Int, component: CBORPathComponent) throws -> Data {
        try state.decodeData(at: offset, parent, component)
    }
}

extension Float: CBORSpecialDecodable {
    static func decodeCBOR(from state: CBORDecodingState, at offset: Int, depth: Int, parent: Int, component: CBORPathComponent) throws -> Float {
        try state.decodeFloat(at: offset, parent, component)
    }
}

extension URL: CBORSpecialDecodable {
    static func decodeCBOR(from state: CBORDecodingState, at offset: Int, depth: Int, parent: Int, component: CBORPathComponent) throws -> URL {
        let text = try state.decodeString(at: offset, parent, component)
        guard let url = URL(string: text) else {
            throw DecodingError.dataCorrupted(.init(
                codingPath: state.codingPath(parent, appending: component),
                debugDescription: "Text at byte \(offset) is not a valid URL."
            ))
        }
        return url
    }
}

extension Decimal: CBORSpecialDecodable {
    static func decodeCBOR(from state: CBORDecodingState, at offset: Int, depth: Int, parent: Int, component: CBORPathComponent) throws -> Decimal {
        let path = state.codingPath(parent, appending: component)
        let (head, tag) = try state.contentHead(at: offset, path)
        switch head.major {
        case .unsigned, .negative:
            let value = try state.decodeInteger(Int128.self, at: offset, parent, component)
            if let decimal = CBORDecimal.decimal(exponent: 0, mantissa: value) { return decimal }
        case .bytes where tag == CBORTag.positiveBignum || tag == CBORTag.negativeBignum:
            let value = try state.decodeInteger(Int128.self, at: offset, parent, component)
            if let decimal = CBORDecimal.decimal(exponent: 0, mantissa: value) { return decimal }
        case .array where tag == CBORTag.decimalFraction:
            var container = try state.unkeyedContainer(at: offset, depth: depth, path: state.addPath(parent, component))
            guard container.count == 2 else { break }
            let exponent = try container.decode(Int64.self)
            let mantissa = try container.decode(Int128.self)
            if let decimal = CBORDecimal.decimal(exponent: exponent, mantissa: mantissa) { return decimal }
        case .simple:
            if let double = state.reader.float(head) {
                return double.isNaN ? Decimal.nan : Decimal(double)
            }
        default:
            break
        }
        throw DecodingError.dataCorrupted(.init(
            codingPath: path, debugDescription: "Value at byte \(offset) is not a decimal fraction (tag 4) that fits Decimal."
        ))
    }
}

/// Integer types other than `Int`, decoded with overflow checks.
protocol CBORSpecialInteger: FixedWidthInteger, CBORSpecialDecodable {}
extension CBORSpecialInteger {
    static func decodeCBOR(from state: CBORDecodingState, at offset: Int, depth: Int, parent: Int, component: CBORPathComponent) throws -> Self {
        try state.decodeInteger(Self.self, at: offset, parent, component)
    }
}
extension Int8: CBORSpecialInteger {}
extension Int16: CBORSpecialInteger {}
extension Int32: CBORSpecialInteger {}
extension Int64: CBORSpecialInteger {}
extension Int128: CBORSpecialInteger {}
extension UInt: CBORSpecialInteger {}
extension UInt8: CBORSpecialInteger {}
extension UInt16: CBORSpecialInteger {}
extension UInt32: CBORSpecialInteger {}
extension UInt64: CBORSpecialInteger {}
extension UInt128: CBORSpecialInteger {}

extension Dictionary: CBORSpecialDecodable where Key: Decodable, Value: Decodable {
    /// String-keyed dictionaries are read straight from the map (rejecting non-text keys);
    /// other key types use `Dictionary`'s own `Codable` form.
    static func decodeCBOR(from state: CBORDecodingState, at offset: Int, depth: Int, parent: Int, component: CBORPathComponent) throws -> Self {
        let path = state.addPath(parent, component)
        guard Key.self == String.self else {
            return try Self(from: CBORValueDecoder(state: state, offset: offset, depth: depth, path: path))
        }
        let range = try state.parseMap(at: offset, depth: depth, path: path)
        var result: [Key: Value] = [:]
        result.reserveCapacity(range.count)
        for index in range {
            let entry = state.entries[index]
            guard let key = state.keyText(entry) else {
                throw DecodingError.dataCorrupted(.init(
                    codingPath: state.codingPath(path),
                    debugDescription: "A key of the map at byte \(offset) is not a text string."
                ))
            }
            result[unsafeBitCast(key, to: Key.self)] = try state.decodeValue(
                Value.self, at: entry.value, depth: depth + 1, parent: path, component: .text(key)
            )
        }
        return result
    }
}

extension Array: CBORSpecialDecodable where Element: Decodable {
    /// Decodes the elements directly into an array reserved to the (checked) count.
    static func decodeCBOR(from state: CBORDecodingState, at offset: Int, depth: Int, parent: Int, component: CBORPathComponent) throws -> [Element] {
        let path = state.addPath(parent, component)
        var container = try state.unkeyedContainer(at: offset, depth: depth, path: path)
        return try [Element](unsafeUninitializedCapacity: container.itemCount) { elements, initialized in
            while !container.isAtEnd {
                (elements.baseAddress! + initialized).initialize(to: try container.decode(Element.self))
                initialized += 1
            }
        }
    }
}
