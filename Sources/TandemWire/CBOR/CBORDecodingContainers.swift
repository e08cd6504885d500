#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

struct CBORKeyedDecodingContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let state: CBORDecodingState
    /// This map's entries in the state's arena.
    let entries: Range<Int>
    /// Where this container keeps the index after its last match: fields are usually read in
    /// the order they were written, so the next lookup starts there.
    let cursorSlot: Int
    let depth: Int
    let path: Int

    var codingPath: [any CodingKey] { state.codingPath(path) }

    var allKeys: [Key] {
        entries.compactMap { index in
            let entry = state.entries[index]
            switch entry.kind {
            case .int:
                return Key(intValue: entry.keyValue) ?? Key(stringValue: String(entry.keyValue))
            case .text, .chunkedText:
                return state.keyText(entry).flatMap { Key(stringValue: $0) }
            case .other:
                return nil
            }
        }
    }

    /// The arena index of the entry for `key`, or nil when the map does not have it.
    @inline(__always)
    func find(_ key: Key) -> Int? {
        if let int = key.intValue, let index = find(int: int) { return index }
        return find(text: key.stringValue)
    }

    func find(int: Int) -> Int? {
        let count = entries.count
        var index = count == 0 ? 0 : state.cursors[cursorSlot]
        for _ in 0..<count {
            if index >= entries.upperBound { index = entries.lowerBound }
            let entry = state.entries[index]
            if entry.kind == .int && entry.keyValue == int {
                state.cursors[cursorSlot] = index &+ 1
                return index
            }
            index &+= 1
        }
        return nil
    }

    func find(text: String) -> Int? {
        let count = entries.count
        if count == 0 { return nil }
        let start = state.cursors[cursorSlot]
        var name = text
        return name.withUTF8 { utf8 -> Int? in
            let base = state.reader.base
            var index = start
            for _ in 0..<count {
                if index >= entries.upperBound { index = entries.lowerBound }
                let entry = state.entries[index]
                if entry.kind == .text {
                    if entry.keyValue == utf8.count
                        && equalBytes(base + entry.keyStart, UnsafeRawPointer(utf8.baseAddress!), count: utf8.count) {
                        state.cursors[cursorSlot] = index &+ 1
                        return index
                    }
                } else if entry.kind == .chunkedText, state.extraKeys[entry.keyValue] == text {
                    state.cursors[cursorSlot] = index &+ 1
                    return index
                }
                index &+= 1
            }
            return nil
        }
    }

    @inline(__always)
    func valueOffset(_ key: Key) throws -> Int {
        guard let index = find(key) else {
            throw DecodingError.keyNotFound(key, .init(
                codingPath: codingPath, debugDescription: "No value for key \"\(key.stringValue)\"."
            ))
        }
        return state.entries[index].value
    }

    func contains(_ key: Key) -> Bool {
        find(key) != nil
    }

    func decodeNil(forKey key: Key) throws -> Bool {
        let offset = try valueOffset(key)
        let (head, _) = try state.contentHead(at: offset, self.codingPath + [key])
        return state.isNull(head)
    }

    @inline(__always)
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        let offset = try valueOffset(key)
        return try state.decodeValue(type, at: offset, depth: depth + 1, parent: path, component: .key(key))
    }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
        try state.decodeBool(at: valueOffset(key), path, .key(key))
    }

    func decode(_ type: String.Type, forKey key: Key) throws -> String {
        try state.decodeString(at: valueOffset(key), path, .key(key))
    }

    func decode(_ type: Double.Type, forKey key: Key) throws -> Double {
        try state.decodeDouble(at: valueOffset(key), path, .key(key))
    }

    func decode(_ type: Float.Type, forKey key: Key) throws -> Float {
        try state.decodeFloat(at: valueOffset(key), path, .key(key))
    }

    func decode(_ type: Int.Type, forKey key: Key) throws -> Int {
        try state.decodeInteger(type, at: valueOffset(key), path, .key(key))
    }

    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 {
        try state.decodeInteger(type, at: valueOffset(key), path, .key(key))
    }

    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 {
        try state.decodeInteger(type, at: valueOffset(key), path, .key(key))
    }

    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 {
        try state.decodeInteger(type, at: valueOffset(key), path, .key(key))
    }

    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 {
        try state.decodeInteger(type, at: valueOffset(key), path, .key(key))
    }

    func decode(_ type: Int128.Type, forKey key: Key) throws -> Int128 {
        try state.decodeInteger(type, at: valueOffset(key), path, .key(key))
    }

    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt {
        try state.decodeInteger(type, at: valueOffset(key), path, .key(key))
    }

    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 {
        try state.decodeInteger(type, at: valueOffset(key), path, .key(key))
    }

    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 {
        try state.decodeInteger(type, at: valueOffset(key), path, .key(key))
    }

    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 {
        try state.decodeInteger(type, at: valueOffset(key), path, .key(key))
    }

    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 {
        try state.decodeInteger(type, at: valueOffset(key), path, .key(key))
    }

    func decode(_ type: UInt128.Type, forKey key: Key) throws -> UInt128 {
        try state.decodeInteger(type, at: valueOffset(key), path, .key(key))
    }

    /// An absent key and an explicit null both decode as nil, with one lookup.
    @inline(__always)
    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let index = find(key) else { return nil }
        let offset = state.entries[index].value
        let head = try state.contentHead(at: offset, self.codingPath + [key]).0
        if state.isNull(head) { return nil }
        return try state.decodeValue(type, at: offset, depth: depth + 1, parent: path, component: .key(key))
    }

    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? {
        try decodeIfPresent(type, forKeyGeneric: key)
    }

    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? {
        try decodeIfPresent(type, forKeyGeneric: key)
    }

    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? {
        try decodeIfPresent(type, forKeyGeneric: key)
    }

    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? {
        try decodeIfPresent(type, forKeyGeneric: key)
    }

    private func decodeIfPresent<T: Decodable>(_ type: T.Type, forKeyGeneric key: Key) throws -> T? {
        try decodeIfPresent(type, forKey: key)
    }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type, forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> {
        let offset = try valueOffset(key)
        return try state.keyedContainer(type, at: offset, depth: depth + 1, path: state.addPath(path, .key(key)))
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        let offset = try valueOffset(key)
        return try state.unkeyedContainer(at: offset, depth: depth + 1, path: state.addPath(path, .key(key)))
    }

    func superDecoder() throws -> any Decoder {
        try superDecoder(named: CBORCodingKey.superKey)
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        try superDecoder(named: key)
    }

    private func superDecoder(named key: some CodingKey) throws -> any Decoder {
        let index = key.intValue.flatMap { find(int: $0) } ?? find(text: key.stringValue)
        guard let offset = index.map({ state.entries[$0].value }) else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "No value for key \"\(key.stringValue)\"."))
        }
        let node = state.addPath(path, .key(key))
        return CBORValueDecoder(state: state, offset: offset, depth: depth + 1, path: node)
    }
}

struct CBORUnkeyedDecodingContainer: UnkeyedDecodingContainer {
    let state: CBORDecodingState
    let itemCount: Int
    /// Offset of the next item.
    var position: Int
    let depth: Int
    let path: Int
    private(set) var currentIndex: Int = 0

    init(state: CBORDecodingState, count: Int, position: Int, depth: Int, path: Int) {
        self.state = state
        self.itemCount = count
        self.position = position
        self.depth = depth
        self.path = path
    }

    var codingPath: [any CodingKey] { state.codingPath(path) }
    var count: Int? { itemCount }
    var isAtEnd: Bool { currentIndex >= itemCount }

    /// Returns the offset of the next item and moves past it.
    @inline(__always)
    private mutating func next<T>(_ type: T.Type) throws -> (offset: Int, component: CBORPathComponent) {
        guard currentIndex < itemCount else {
            throw DecodingError.valueNotFound(type, .init(
                codingPath: codingPath + [CBORCodingKey(index: currentIndex)],
                debugDescription: "Unkeyed container is at its end."
            ))
        }
        let offset = position
        let component = CBORPathComponent.index(currentIndex)
        position = try state.skip(at: offset, depth: depth + 1, state.codingPath(path, appending: component))
        currentIndex += 1
        return (offset, component)
    }

    mutating func decodeNil() throws -> Bool {
        guard currentIndex < itemCount else {
            throw DecodingError.valueNotFound(Any?.self, .init(codingPath: codingPath, debugDescription: "Unkeyed container is at its end."))
        }
        let (head, _) = try state.contentHead(at: position, self.codingPath)
        guard state.isNull(head) else { return false }
        _ = try next(Any?.self)
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        guard currentIndex < itemCount else {
            throw DecodingError.valueNotFound(type, .init(
                codingPath: codingPath + [CBORCodingKey(index: currentIndex)],
                debugDescription: "Unkeyed container is at its end."
            ))
        }
        let offset = position
        let component = CBORPathComponent.index(currentIndex)
        let value = try state.decodeValue(type, at: offset, depth: depth + 1, parent: path, component: component)
        // Decoding a map element found its end already; other items are skipped over.
        position = try state.knownEnd(of: offset) ?? state.skip(at: offset, depth: depth + 1, state.codingPath(path, appending: component))
        currentIndex += 1
        return value
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { try decodeGeneric(type) }
    mutating func decode(_ type: String.Type) throws -> String { try decodeGeneric(type) }
    mutating func decode(_ type: Double.Type) throws -> Double { try decodeGeneric(type) }
    mutating func decode(_ type: Float.Type) throws -> Float { try decodeGeneric(type) }
    mutating func decode(_ type: Int.Type) throws -> Int { try decodeGeneric(type) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try decodeGeneric(type) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try decodeGeneric(type) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try decodeGeneric(type) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try decodeGeneric(type) }
    mutating func decode(_ type: Int128.Type) throws -> Int128 { try decodeGeneric(type) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try decodeGeneric(type) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try decodeGeneric(type) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try decodeGeneric(type) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try decodeGeneric(type) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try decodeGeneric(type) }
    mutating func decode(_ type: UInt128.Type) throws -> UInt128 { try decodeGeneric(type) }

    private mutating func decodeGeneric<T: Decodable>(_ type: T.Type) throws -> T {
        try decode(type)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let (offset, component) = try next(KeyedDecodingContainer<NestedKey>.self)
        return try state.keyedContainer(type, at: offset, depth: depth + 1, path: state.addPath(path, component))
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let (offset, component) = try next((any UnkeyedDecodingContainer).self)
        return try state.unkeyedContainer(at: offset, depth: depth + 1, path: state.addPath(path, component))
    }

    mutating func superDecoder() throws -> any Decoder {
        let (offset, component) = try next((any Decoder).self)
        return CBORValueDecoder(state: state, offset: offset, depth: depth + 1, path: state.addPath(path, component))
    }
}

struct CBORSingleValueDecodingContainer: SingleValueDecodingContainer {
    let state: CBORDecodingState
    let offset: Int
    let packed: Int

    var depth: Int { packed & 0xFFFF }
    var path: Int { packed >> 16 }
    var codingPath: [any CodingKey] { state.codingPath(path) }

    func decodeNil() -> Bool {
        guard let (head, _) = try? state.contentHead(at: offset, []) else { return false }
        return state.isNull(head)
    }

    /// A single value container decodes the value at its own position: no new path component.
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try state.decodeValue(type, at: offset, depth: depth, parent: path, component: .none)
    }

    func decode(_ type: Bool.Type) throws -> Bool { try state.decodeBool(at: offset, path, .none) }
    func decode(_ type: String.Type) throws -> String { try state.decodeString(at: offset, path, .none) }
    func decode(_ type: Double.Type) throws -> Double { try state.decodeDouble(at: offset, path, .none) }
    func decode(_ type: Float.Type) throws -> Float { try state.decodeFloat(at: offset, path, .none) }
    func decode(_ type: Int.Type) throws -> Int { try state.decodeInteger(type, at: offset, path, .none) }
    func decode(_ type: Int8.Type) throws -> Int8 { try state.decodeInteger(type, at: offset, path, .none) }
    func decode(_ type: Int16.Type) throws -> Int16 { try state.decodeInteger(type, at: offset, path, .none) }
    func decode(_ type: Int32.Type) throws -> Int32 { try state.decodeInteger(type, at: offset, path, .none) }
    func decode(_ type: Int64.Type) throws -> Int64 { try state.decodeInteger(type, at: offset, path, .none) }
    func decode(_ type: Int128.Type) throws -> Int128 { try state.decodeInteger(type, at: offset, path, .none) }
    func decode(_ type: UInt.Type) throws -> UInt { try state.decodeInteger(type, at: offset, path, .none) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try state.decodeInteger(type, at: offset, path, .none) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try state.decodeInteger(type, at: offset, path, .none) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try state.decodeInteger(type, at: offset, path, .none) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try state.decodeInteger(type, at: offset, path, .none) }
    func decode(_ type: UInt128.Type) throws -> UInt128 { try state.decodeInteger(type, at: offset, path, .none) }
}
