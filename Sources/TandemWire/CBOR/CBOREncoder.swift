#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif
public import NIOCore

/// Encodes `Encodable` values as CBOR (RFC 8949) in the Tandem profile described in
/// `Protocols/WIRE.md`: structs become maps keyed by property name (or by integer when the
/// `CodingKeys` have `Int` raw values), absent optionals are left out, `Date` is tag 1,
/// `UUID` tag 37, `Data` a byte string, and every head and float uses its shortest form.
///
/// The encoder writes straight into one buffer as the value is walked; it falls back to building
/// a tree only for the rare `Encodable` implementation that writes to a nested container after
/// its parent has moved on.
public struct CBOREncoder: Sendable {
    /// Values made available to `encode(to:)` implementations through `Encoder.userInfo`.
    public var userInfo: [CodingUserInfoKey: any Sendable] = [:]

    public init() {}

    /// Encodes `value` and returns the CBOR bytes.
    public func encode<T: Encodable>(_ value: T) throws -> Data {
        try withEncodedBytes(value) { Data($0) }
    }

    /// Encodes `value` and returns the CBOR bytes as an array.
    public func encodeBytes<T: Encodable>(_ value: T) throws -> [UInt8] {
        try withEncodedBytes(value) { Array($0) }
    }

    /// Encodes `value` and appends the CBOR bytes to `buffer`.
    public func encode<T: Encodable>(_ value: T, into buffer: inout ByteBuffer) throws {
        try withEncodedBytes(value) { _ = buffer.writeBytes($0) }
    }

    /// Encodes `value` through `Encodable` only, ignoring `CBORDirectEncodable` conformances: the
    /// bytes a direct encoding must reproduce (for tests).
    public func encodeWithoutDirectEncodings<T: Encodable>(_ value: T) throws -> [UInt8] {
        try withEncodedBytes(value, directEncodings: false) { Array($0) }
    }

    /// Encodes `value` and passes the bytes, valid only inside `body`, to `body`.
    public func withEncodedBytes<T: Encodable, R>(
        _ value: T,
        _ body: (UnsafeRawBufferPointer) throws -> R
    ) throws -> R {
        try withEncodedBytes(value, directEncodings: true, body)
    }

    func withEncodedBytes<T: Encodable, R>(
        _ value: T,
        directEncodings: Bool,
        _ body: (UnsafeRawBufferPointer) throws -> R
    ) throws -> R {
        if let raw = value as? CBORRawMessage { return try raw.bytes.withUnsafeBytes(body) }
        let state = CBOREncodingState(userInfo: userInfo, directEncodings: directEncodings)
        do {
            try state.encodeRoot(value)
        } catch is CBOREncodingState.NeedsTree {
            let tree = try CBORTreeEncoder(userInfo: userInfo).encode(value)
            let output = CBORByteWriter()
            tree.write(to: output.writer)
            return try body(output.bytes)
        }
        return try body(state.writer.bytes)
    }
}

/// Orders text keys the way RFC 8949 §4.2.1 orders their encodings: shorter first, then bytewise.
@inline(__always)
func cborKeyOrder(_ a: String, _ b: String) -> Bool {
    let la = a.utf8.count, lb = b.utf8.count
    if la != lb { return la < lb }
    return a.utf8.lexicographicallyPrecedes(b.utf8)
}

/// A position in the coding path, stored cheaply and turned into `CodingKey`s only when needed.
enum CBORPathComponent {
    case none
    case key(any CodingKey)
    case index(Int)
    case text(String)

    var codingKey: (any CodingKey)? {
        switch self {
        case .none: return nil
        case .key(let k): return k
        case .index(let i): return CBORCodingKey(index: i)
        case .text(let s): return CBORCodingKey(stringValue: s)
        }
    }
}

/// A `CodingKey` for array indices, dictionary keys and the `super` key.
public struct CBORCodingKey: CodingKey, Hashable, Sendable {
    public var stringValue: String
    public var intValue: Int?

    public init(stringValue: String) {
        self.stringValue = stringValue
        self.intValue = nil
    }

    public init(intValue: Int) {
        self.stringValue = String(intValue)
        self.intValue = intValue
    }

    init(index: Int) {
        self.stringValue = "Index \(index)"
        self.intValue = index
    }

    static let superKey = CBORCodingKey(stringValue: "super")
}

/// The state of one encode call; it is also the `Encoder` handed to values.
final class CBOREncodingState: Encoder {
    /// Thrown internally when a container is written to after it was closed; the encode restarts
    /// with the tree encoder.
    struct NeedsTree: Error {}

    enum Kind: UInt8 {
        case empty, map, array, single
    }

    /// One value being encoded, or one nested container: what it is and where its head sits.
    struct Level {
        var id: Int
        var path: CBORPathComponent
        var kind: Kind
        var headOffset: Int
        var count: Int
    }

    /// Everything an encode call mutates, in one block reached through a pointer (see
    /// `UnsafeGrowableBuffer` for why).
    struct Hot {
        var bytes: CBORWriter.Storage
        var levels = UnsafeGrowableBuffer<Level>()
        var nextID = 0
        /// Index in `levels` of the value whose `encode(to:)` is running.
        var valueLevel = 0
    }

    private let hot: UnsafeMutablePointer<Hot>
    let writer: CBORWriter
    let userInfoStorage: [CodingUserInfoKey: any Sendable]
    /// Whether `CBORDirectEncodable` types write themselves (false: their `Encodable` form, to
    /// compare the two).
    let directEncodings: Bool

    init(userInfo: [CodingUserInfoKey: any Sendable], directEncodings: Bool = true) {
        self.userInfoStorage = userInfo
        self.directEncodings = directEncodings
        hot = .allocate(capacity: 1)
        hot.initialize(to: Hot(bytes: CBORWriter.Storage(capacity: 256)))
        let bytesOffset = MemoryLayout<Hot>.offset(of: \Hot.bytes)!
        writer = CBORWriter((UnsafeMutableRawPointer(hot) + bytesOffset).assumingMemoryBound(to: CBORWriter.Storage.self))
    }

    deinit {
        hot.pointee.bytes.deallocate()
        hot.pointee.levels.deallocate()
        hot.deinitialize(count: 1)
        hot.deallocate()
    }

    @inline(__always) var levels: UnsafeGrowableBuffer<Level> {
        unsafeAddress { UnsafePointer(hot).pointer(to: \.levels)! }
        unsafeMutableAddress { hot.pointer(to: \.levels)! }
    }

    @inline(__always) var valueLevel: Int {
        get { hot.pointee.valueLevel }
        set { hot.pointee.valueLevel = newValue }
    }

    var userInfo: [CodingUserInfoKey: Any] { userInfoStorage }

    var codingPath: [any CodingKey] { path(through: valueLevel) }

    func path(through index: Int) -> [any CodingKey] {
        guard !levels.isEmpty, index >= 0 else { return [] }
        return (0...min(index, levels.count - 1)).compactMap { levels[$0].path.codingKey }
    }

    func path(forLevel id: Int) -> [any CodingKey] {
        guard let index = levelIndex(id) else { return [] }
        return path(through: index)
    }

    /// The index in `levels` of the open level `id`.
    func levelIndex(_ id: Int) -> Int? {
        var index = levels.count - 1
        while index >= 0 {
            if levels[index].id == id { return index }
            index -= 1
        }
        return nil
    }

    // MARK: Levels

    @inline(__always)
    func pushLevel(_ path: CBORPathComponent, kind: Kind = .empty) -> Int {
        let id = hot.pointee.nextID
        hot.pointee.nextID &+= 1
        levels.append(Level(id: id, path: path, kind: kind, headOffset: writer.count, count: 0))
        return id
    }

    /// Makes the level `id` the innermost open one, closing the ones nested in it.
    @inline(__always)
    func activate(_ id: Int) throws {
        if levels.last.id == id { return }
        guard let index = levelIndex(id) else { throw NeedsTree() }
        while levels.count > index + 1 { closeTop() }
    }

    /// Finishes the innermost level: patches its head with the final count.
    func closeTop() {
        let level = levels.removeLast()
        switch level.kind {
        case .empty:
            // A value that wrote nothing encodes as an empty map, as JSONEncoder writes `{}`.
            writer.writeByte(0xA0)
        case .map:
            writer.patchHead(at: level.headOffset, .map, UInt64(level.count))
        case .array:
            writer.patchHead(at: level.headOffset, .array, UInt64(level.count))
        case .single:
            break
        }
    }

    /// Opens (or reuses) a container of `kind` for the value at level `id`.
    func openContainer(_ kind: Kind, forLevel id: Int) -> Int? {
        guard let index = levelIndex(id) else { return nil }
        while levels.count > index + 1 { closeTop() }
        switch levels[index].kind {
        case .empty:
            levels[index].kind = kind
            levels[index].headOffset = writer.count
            writer.writeByte(kind == .map ? 0xA0 : 0x80)
            return id
        case kind where kind == .map:
            // A second keyed container for the same value adds to the same map.
            return id
        default:
            return nil
        }
    }

    func encodeRoot<T: Encodable>(_ value: T) throws {
        try encodeValue(value, path: .none)
    }

    // MARK: Values

    /// Encodes one value at the current position, using direct paths for the scalar and
    /// Foundation types the profile defines.
    @inline(__always)
    func encodeValue<T: Encodable>(_ value: T, path: CBORPathComponent) throws {
        if T.self == String.self {
            writer.writeText(unsafeBitCast(value, to: String.self))
        } else if T.self == Int.self {
            writer.writeInt(Int64(unsafeBitCast(value, to: Int.self)))
        } else if T.self == Double.self {
            writer.writeDouble(unsafeBitCast(value, to: Double.self))
        } else if T.self == Bool.self {
            writer.writeByte(unsafeBitCast(value, to: Bool.self) ? CBORSimple.true : CBORSimple.false)
        } else if T.self == Date.self {
            encodeDate(unsafeBitCast(value, to: Date.self))
        } else if T.self == UUID.self {
            encodeUUID(unsafeBitCast(value, to: UUID.self))
        } else if let special = CBORTypeCache.specialEncodable(T.self) {
            try encodeSpecial(value, as: special, path: path)
        } else {
            try encodeComposite(value, path: path)
        }
    }

    /// Calls the special encoding of `T`, known (from the cache) to be the type `special`.
    func encodeSpecial<T>(_ value: T, as special: any CBORSpecialEncodable.Type, path: CBORPathComponent) throws {
        func open<S: CBORSpecialEncodable>(_: S.Type) throws {
            try unsafeBitCast(value, to: S.self).encodeCBOR(to: self, path: path)
        }
        try open(special)
    }

    func encodeComposite<T: Encodable>(_ value: T, path: CBORPathComponent) throws {
        let savedValueLevel = valueLevel
        let id = pushLevel(path)
        valueLevel = levels.count &- 1
        try value.encode(to: self)
        try activate(id)
        closeTop()
        valueLevel = savedValueLevel
    }

    func encodeDate(_ date: Date) {
        writer.writeDate(date)
    }

    func encodeUUID(_ uuid: UUID) {
        writer.writeUUID(uuid)
    }

    @inline(__always)
    func writeKey<Key: CodingKey>(_ key: Key) {
        if let int = key.intValue {
            writer.writeInt(Int64(int))
        } else {
            writer.writeText(key.stringValue)
        }
    }

    // MARK: Encoder

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        containerForLevel(levels[valueLevel].id, keyedBy: type)
    }

    func containerForLevel<Key: CodingKey>(_ id: Int, keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        let level = openContainer(.map, forLevel: id)
        return KeyedEncodingContainer(CBORKeyedEncodingContainer<Key>(state: self, level: level ?? -1))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        unkeyedContainerForLevel(levels[valueLevel].id)
    }

    func unkeyedContainerForLevel(_ id: Int) -> any UnkeyedEncodingContainer {
        CBORUnkeyedEncodingContainer(state: self, level: openContainer(.array, forLevel: id) ?? -1)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        CBORSingleValueEncodingContainer(state: self, level: levels[valueLevel].id)
    }

    /// An `Encoder` for a nested position (from `superEncoder`): it targets its own level.
    func subEncoder(path: CBORPathComponent) -> any Encoder {
        let id = pushLevel(path)
        return CBORNestedEncoder(state: self, level: id)
    }

    func invalidContainer(_ path: [any CodingKey]) -> EncodingError {
        EncodingError.invalidValue(
            (),
            .init(codingPath: path, debugDescription: "A value requested two different kinds of container.")
        )
    }
}

/// Types the profile encodes in a special form; checked after the hottest scalar types.
protocol CBORSpecialEncodable {
    func encodeCBOR(to state: CBOREncodingState, path: CBORPathComponent) throws
}

extension Data: CBORSpecialEncodable {
    func encodeCBOR(to state: CBOREncodingState, path: CBORPathComponent) throws {
        withUnsafeBytes { state.writer.writeBytes($0) }
    }
}

extension URL: CBORSpecialEncodable {
    func encodeCBOR(to state: CBOREncodingState, path: CBORPathComponent) throws {
        state.writer.writeHead(.tag, CBORTag.uri)
        state.writer.writeText(absoluteString)
    }
}

extension Decimal: CBORSpecialEncodable {
    func encodeCBOR(to state: CBOREncodingState, path: CBORPathComponent) throws {
        CBORDecimal.encode(self).write(to: state.writer)
    }
}

extension Float: CBORSpecialEncodable {
    func encodeCBOR(to state: CBOREncodingState, path: CBORPathComponent) throws {
        state.writer.writeFloat(self)
    }
}

extension Int128: CBORSpecialEncodable {
    func encodeCBOR(to state: CBOREncodingState, path: CBORPathComponent) throws {
        CBORBigInteger.value(self).write(to: state.writer)
    }
}

extension UInt128: CBORSpecialEncodable {
    func encodeCBOR(to state: CBOREncodingState, path: CBORPathComponent) throws {
        CBORBigInteger.value(self).write(to: state.writer)
    }
}

extension Dictionary: CBORSpecialEncodable where Key: Encodable, Value: Encodable {
    /// String and Int keys are written as text and integer map keys in deterministic order
    /// (RFC 8949 §4.2.1: shorter encodings first, then bytewise), so equal dictionaries always
    /// encode to equal bytes. Other key types use `Dictionary`'s own `Codable` form.
    func encodeCBOR(to state: CBOREncodingState, path: CBORPathComponent) throws {
        if Key.self == String.self {
            state.writer.writeHead(.map, UInt64(count))
            for (key, value) in sorted(by: { cborKeyOrder(unsafeBitCast($0.key, to: String.self), unsafeBitCast($1.key, to: String.self)) }) {
                let text = unsafeBitCast(key, to: String.self)
                state.writer.writeText(text)
                try state.encodeValue(value, path: .text(text))
            }
        } else if Key.self == Int.self {
            state.writer.writeHead(.map, UInt64(count))
            for (key, value) in sorted(by: { cborIntKeyOrder(unsafeBitCast($0.key, to: Int.self), unsafeBitCast($1.key, to: Int.self)) }) {
                let int = unsafeBitCast(key, to: Int.self)
                state.writer.writeInt(Int64(int))
                try state.encodeValue(value, path: .key(CBORCodingKey(intValue: int)))
            }
        } else {
            try state.encodeComposite(self, path: path)
        }
    }
}

/// Orders integer keys as RFC 8949 §4.2.1 orders their encodings: non-negative before
/// negative, then by magnitude.
@inline(__always)
func cborIntKeyOrder(_ a: Int, _ b: Int) -> Bool {
    if (a >= 0) != (b >= 0) { return a >= 0 }
    return a >= 0 ? a < b : a > b
}

/// Integer types other than `Int`, written directly.
protocol CBORFixedWidthInteger: FixedWidthInteger, CBORSpecialEncodable {}
extension CBORFixedWidthInteger {
    func encodeCBOR(to state: CBOREncodingState, path: CBORPathComponent) throws {
        if Self.isSigned {
            state.writer.writeInt(Int64(self))
        } else {
            state.writer.writeHead(.unsigned, UInt64(self))
        }
    }
}
extension Int8: CBORFixedWidthInteger {}
extension Int16: CBORFixedWidthInteger {}
extension Int32: CBORFixedWidthInteger {}
extension Int64: CBORFixedWidthInteger {}
extension UInt: CBORFixedWidthInteger {}
extension UInt8: CBORFixedWidthInteger {}
extension UInt16: CBORFixedWidthInteger {}
extension UInt32: CBORFixedWidthInteger {}
extension UInt64: CBORFixedWidthInteger {}

// MARK: - Containers

struct CBORKeyedEncodingContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let state: CBOREncodingState
    /// The id of the level this container writes to, or -1 when the request was invalid.
    let level: Int

    var codingPath: [any CodingKey] { state.path(forLevel: level) }

    /// Checks the container is still writable and counts one more entry.
    @inline(__always)
    private func begin(_ key: Key) throws {
        guard level >= 0 else { throw state.invalidContainer(state.codingPath + [key]) }
        try state.activate(level)
        state.levels.last.count &+= 1
        state.writeKey(key)
    }

    mutating func encodeNil(forKey key: Key) throws {
        try begin(key)
        state.writer.writeByte(CBORSimple.null)
    }

    mutating func encode(_ value: Bool, forKey key: Key) throws {
        try begin(key)
        state.writer.writeByte(value ? CBORSimple.true : CBORSimple.false)
    }

    mutating func encode(_ value: String, forKey key: Key) throws {
        try begin(key)
        state.writer.writeText(value)
    }

    mutating func encode(_ value: Double, forKey key: Key) throws {
        try begin(key)
        state.writer.writeDouble(value)
    }

    mutating func encode(_ value: Float, forKey key: Key) throws {
        try begin(key)
        state.writer.writeFloat(value)
    }

    mutating func encode(_ value: Int, forKey key: Key) throws {
        try begin(key)
        state.writer.writeInt(Int64(value))
    }

    mutating func encode(_ value: Int8, forKey key: Key) throws {
        try begin(key)
        state.writer.writeInt(Int64(value))
    }

    mutating func encode(_ value: Int16, forKey key: Key) throws {
        try begin(key)
        state.writer.writeInt(Int64(value))
    }

    mutating func encode(_ value: Int32, forKey key: Key) throws {
        try begin(key)
        state.writer.writeInt(Int64(value))
    }

    mutating func encode(_ value: Int64, forKey key: Key) throws {
        try begin(key)
        state.writer.writeInt(value)
    }

    mutating func encode(_ value: UInt, forKey key: Key) throws {
        try begin(key)
        state.writer.writeHead(.unsigned, UInt64(value))
    }

    mutating func encode(_ value: UInt8, forKey key: Key) throws {
        try begin(key)
        state.writer.writeHead(.unsigned, UInt64(value))
    }

    mutating func encode(_ value: UInt16, forKey key: Key) throws {
        try begin(key)
        state.writer.writeHead(.unsigned, UInt64(value))
    }

    mutating func encode(_ value: UInt32, forKey key: Key) throws {
        try begin(key)
        state.writer.writeHead(.unsigned, UInt64(value))
    }

    mutating func encode(_ value: UInt64, forKey key: Key) throws {
        try begin(key)
        state.writer.writeHead(.unsigned, value)
    }

    mutating func encode(_ value: Int128, forKey key: Key) throws {
        try begin(key)
        CBORBigInteger.value(value).write(to: state.writer)
    }

    mutating func encode(_ value: UInt128, forKey key: Key) throws {
        try begin(key)
        CBORBigInteger.value(value).write(to: state.writer)
    }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try begin(key)
        try state.encodeValue(value, path: .key(key))
    }

    // Absent optionals leave the key out; these overrides avoid the generic detour.
    mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) }
    }

    mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) }
    }

    mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) }
    }

    mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) }
    }

    mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) }
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        let id = nestedLevel(key)
        return state.containerForLevel(id, keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let id = nestedLevel(key)
        return state.unkeyedContainerForLevel(id)
    }

    mutating func superEncoder() -> any Encoder {
        superEncoder(path: .key(CBORCodingKey.superKey)) { state.writer.writeText("super") }
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        superEncoder(path: .key(key)) { state.writeKey(key) }
    }

    private func superEncoder(path: CBORPathComponent, writeKey: () -> Void) -> any Encoder {
        guard level >= 0, (try? state.activate(level)) != nil else {
            return CBORNestedEncoder(state: state, level: -1)
        }
        state.levels.last.count &+= 1
        writeKey()
        return state.subEncoder(path: path)
    }

    /// Writes `key` and opens a level for the container nested under it (-1 when not possible).
    private func nestedLevel(_ key: Key) -> Int {
        guard level >= 0, (try? state.activate(level)) != nil else { return -1 }
        state.levels.last.count &+= 1
        state.writeKey(key)
        return state.pushLevel(.key(key))
    }
}

struct CBORUnkeyedEncodingContainer: UnkeyedEncodingContainer {
    let state: CBOREncodingState
    let level: Int

    var codingPath: [any CodingKey] { state.path(forLevel: level) }

    var count: Int {
        state.levelIndex(level).map { state.levels[$0].count } ?? 0
    }

    @inline(__always)
    private func begin() throws -> Int {
        guard level >= 0 else { throw state.invalidContainer(state.codingPath) }
        try state.activate(level)
        let index = state.levels.last.count
        state.levels.last.count &+= 1
        return index
    }

    mutating func encodeNil() throws {
        _ = try begin()
        state.writer.writeByte(CBORSimple.null)
    }

    mutating func encode(_ value: Bool) throws {
        _ = try begin()
        state.writer.writeByte(value ? CBORSimple.true : CBORSimple.false)
    }

    mutating func encode(_ value: String) throws {
        _ = try begin()
        state.writer.writeText(value)
    }

    mutating func encode(_ value: Double) throws {
        _ = try begin()
        state.writer.writeDouble(value)
    }

    mutating func encode(_ value: Float) throws {
        _ = try begin()
        state.writer.writeFloat(value)
    }

    mutating func encode(_ value: Int) throws {
        _ = try begin()
        state.writer.writeInt(Int64(value))
    }

    mutating func encode(_ value: Int64) throws {
        _ = try begin()
        state.writer.writeInt(value)
    }

    mutating func encode(_ value: UInt64) throws {
        _ = try begin()
        state.writer.writeHead(.unsigned, value)
    }

    mutating func encode(_ value: Int8) throws {
        _ = try begin()
        state.writer.writeInt(Int64(value))
    }

    mutating func encode(_ value: Int16) throws {
        _ = try begin()
        state.writer.writeInt(Int64(value))
    }

    mutating func encode(_ value: Int32) throws {
        _ = try begin()
        state.writer.writeInt(Int64(value))
    }

    mutating func encode(_ value: UInt) throws {
        _ = try begin()
        state.writer.writeHead(.unsigned, UInt64(value))
    }

    mutating func encode(_ value: UInt8) throws {
        _ = try begin()
        state.writer.writeHead(.unsigned, UInt64(value))
    }

    mutating func encode(_ value: UInt16) throws {
        _ = try begin()
        state.writer.writeHead(.unsigned, UInt64(value))
    }

    mutating func encode(_ value: UInt32) throws {
        _ = try begin()
        state.writer.writeHead(.unsigned, UInt64(value))
    }

    mutating func encode(_ value: Int128) throws {
        _ = try begin()
        CBORBigInteger.value(value).write(to: state.writer)
    }

    mutating func encode(_ value: UInt128) throws {
        _ = try begin()
        CBORBigInteger.value(value).write(to: state.writer)
    }

    mutating func encode<T: Encodable>(_ value: T) throws {
        let index = try begin()
        try state.encodeValue(value, path: .index(index))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type
    ) -> KeyedEncodingContainer<NestedKey> {
        state.containerForLevel(nestedLevel(), keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        state.unkeyedContainerForLevel(nestedLevel())
    }

    mutating func superEncoder() -> any Encoder {
        guard let index = try? begin() else { return CBORNestedEncoder(state: state, level: -1) }
        return state.subEncoder(path: .index(index))
    }

    private mutating func nestedLevel() -> Int {
        guard let index = try? begin() else { return -1 }
        return state.pushLevel(.index(index))
    }
}

struct CBORSingleValueEncodingContainer: SingleValueEncodingContainer {
    let state: CBOREncodingState
    let level: Int

    var codingPath: [any CodingKey] { state.path(forLevel: level) }

    @inline(__always)
    private func begin() throws {
        try state.activate(level)
        guard state.levels.last.kind == .empty else {
            throw EncodingError.invalidValue(
                (), .init(codingPath: codingPath, debugDescription: "A single value container was written twice.")
            )
        }
        state.levels.last.kind = .single
    }

    mutating func encodeNil() throws {
        try begin()
        state.writer.writeByte(CBORSimple.null)
    }

    mutating func encode(_ value: Bool) throws {
        try begin()
        state.writer.writeByte(value ? CBORSimple.true : CBORSimple.false)
    }

    mutating func encode(_ value: String) throws {
        try begin()
        state.writer.writeText(value)
    }

    mutating func encode(_ value: Double) throws {
        try begin()
        state.writer.writeDouble(value)
    }

    mutating func encode(_ value: Float) throws {
        try begin()
        state.writer.writeFloat(value)
    }

    mutating func encode(_ value: Int) throws {
        try begin()
        state.writer.writeInt(Int64(value))
    }

    mutating func encode(_ value: Int64) throws {
        try begin()
        state.writer.writeInt(value)
    }

    mutating func encode(_ value: UInt64) throws {
        try begin()
        state.writer.writeHead(.unsigned, value)
    }

    mutating func encode(_ value: Int8) throws {
        try begin()
        state.writer.writeInt(Int64(value))
    }

    mutating func encode(_ value: Int16) throws {
        try begin()
        state.writer.writeInt(Int64(value))
    }

    mutating func encode(_ value: Int32) throws {
        try begin()
        state.writer.writeInt(Int64(value))
    }

    mutating func encode(_ value: UInt) throws {
        try begin()
        state.writer.writeHead(.unsigned, UInt64(value))
    }

    mutating func encode(_ value: UInt8) throws {
        try begin()
        state.writer.writeHead(.unsigned, UInt64(value))
    }

    mutating func encode(_ value: UInt16) throws {
        try begin()
        state.writer.writeHead(.unsigned, UInt64(value))
    }

    mutating func encode(_ value: UInt32) throws {
        try begin()
        state.writer.writeHead(.unsigned, UInt64(value))
    }

    mutating func encode(_ value: Int128) throws {
        try begin()
        CBORBigInteger.value(value).write(to: state.writer)
    }

    mutating func encode(_ value: UInt128) throws {
        try begin()
        CBORBigInteger.value(value).write(to: state.writer)
    }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try begin()
        try state.encodeValue(value, path: .none)
    }
}

/// The `Encoder` returned by `superEncoder()`: it writes to the level opened for it.
final class CBORNestedEncoder: Encoder {
    let state: CBOREncodingState
    let level: Int

    init(state: CBOREncodingState, level: Int) {
        self.state = state
        self.level = level
    }

    var codingPath: [any CodingKey] { state.path(forLevel: level) }
    var userInfo: [CodingUserInfoKey: Any] { state.userInfo }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        state.containerForLevel(level, keyedBy: type)
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        state.unkeyedContainerForLevel(level)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        CBORSingleValueEncodingContainer(state: state, level: level)
    }
}

extension Array: CBORSpecialEncodable where Element: Encodable {
    /// Arrays know their count up front: write the head once and the elements directly,
    /// skipping the unkeyed-container machinery.
    func encodeCBOR(to state: CBOREncodingState, path: CBORPathComponent) throws {
        state.writer.writeHead(.array, UInt64(count))
        try withUnsafeBufferPointer { elements in
            var index = 0
            while index < elements.count {
                try state.encodeValue(elements[index], path: .index(index))
                index &+= 1
            }
        }
    }
}
