/// The fallback encoder for `Encodable` implementations that interleave writes to a nested
/// container with writes to its parent (legal in `Codable`, rare in practice). It keeps each
/// container as a mutable node until the whole value is done; every sub-value that does not
/// interleave is still encoded by the streaming encoder and spliced in as raw bytes.
struct CBORTreeEncoder {
    let userInfo: [CodingUserInfoKey: any Sendable]

    func encode<T: Encodable>(_ value: T) throws -> CBORTreeNode {
        let root = CBORTreeNode()
        try encode(value, into: root, codingPath: [])
        return root
    }

    func encode<T: Encodable>(_ value: T, into node: CBORTreeNode, codingPath: [any CodingKey]) throws {
        let state = CBOREncodingState(userInfo: userInfo)
        do {
            try state.encodeRoot(value)
            node.content = .raw(Array(state.writer.bytes))
        } catch is CBOREncodingState.NeedsTree {
            try value.encode(to: CBORTreeNodeEncoder(node: node, codingPath: codingPath, tree: self))
        }
    }
}

/// A container or value under construction in the tree encoder.
final class CBORTreeNode {
    enum Content {
        case unset
        case raw([UInt8])
        case scalar(CBORValue)
        case map([(CBORValue, CBORTreeNode)])
        case array([CBORTreeNode])
    }

    var content: Content = .unset

    func write(to writer: CBORWriter) {
        switch content {
        case .unset:
            writer.writeByte(0xA0)
        case .raw(let bytes):
            bytes.withUnsafeBytes { writer.writeRaw($0) }
        case .scalar(let value):
            value.write(to: writer)
        case .map(let entries):
            writer.writeHead(.map, UInt64(entries.count))
            for (key, node) in entries {
                key.write(to: writer)
                node.write(to: writer)
            }
        case .array(let nodes):
            writer.writeHead(.array, UInt64(nodes.count))
            for node in nodes { node.write(to: writer) }
        }
    }

    func appendEntry(_ key: CBORValue) -> CBORTreeNode {
        let child = CBORTreeNode()
        if case .map(var entries) = content {
            content = .unset
            entries.append((key, child))
            content = .map(entries)
        }
        return child
    }

    func appendElement() -> CBORTreeNode {
        let child = CBORTreeNode()
        if case .array(var nodes) = content {
            content = .unset
            nodes.append(child)
            content = .array(nodes)
        }
        return child
    }
}

private func treeKey(_ key: some CodingKey) -> CBORValue {
    if let int = key.intValue { return .int(Int64(int)) }
    return .text(key.stringValue)
}

private struct CBORTreeNodeEncoder: Encoder {
    let node: CBORTreeNode
    let codingPath: [any CodingKey]
    let tree: CBORTreeEncoder

    var userInfo: [CodingUserInfoKey: Any] { tree.userInfo }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .unset = node.content { node.content = .map([]) }
        return KeyedEncodingContainer(CBORTreeKeyedContainer<Key>(node: node, codingPath: codingPath, tree: tree))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .unset = node.content { node.content = .array([]) }
        return CBORTreeUnkeyedContainer(node: node, codingPath: codingPath, tree: tree)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        CBORTreeSingleValueContainer(node: node, codingPath: codingPath, tree: tree)
    }
}

private struct CBORTreeKeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: CBORTreeNode
    let codingPath: [any CodingKey]
    let tree: CBORTreeEncoder

    private func child(_ key: Key) throws -> CBORTreeNode {
        guard case .map = node.content else {
            throw EncodingError.invalidValue((), .init(codingPath: codingPath + [key], debugDescription: "Not a keyed container."))
        }
        return node.appendEntry(treeKey(key))
    }

    mutating func encodeNil(forKey key: Key) throws {
        try child(key).content = .scalar(.null)
    }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try encodeGeneric(value, forKey: key)
    }

    private func encodeGeneric<T: Encodable>(_ value: T, forKey key: Key) throws {
        try tree.encode(value, into: try child(key), codingPath: codingPath + [key])
    }

    mutating func encode(_ value: Bool, forKey key: Key) throws { try encodeGeneric(value, forKey: key) }
    mutating func encode(_ value: String, forKey key: Key) throws { try encodeGeneric(value, forKey: key) }
    mutating func encode(_ value: Double, forKey key: Key) throws { try encodeGeneric(value, forKey: key) }
    mutating func encode(_ value: Float, forKey key: Key) throws { try encodeGeneric(value, forKey: key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { try encodeGeneric(value, forKey: key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { try encodeGeneric(value, forKey: key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { try encodeGeneric(value, forKey: key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { try encodeGeneric(value, forKey: key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { try encodeGeneric(value, forKey: key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { try encodeGeneric(value, forKey: key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { try encodeGeneric(value, forKey: key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { try encodeGeneric(value, forKey: key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { try encodeGeneric(value, forKey: key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { try encodeGeneric(value, forKey: key) }
    mutating func encode(_ value: Int128, forKey key: Key) throws { try encodeGeneric(value, forKey: key) }
    mutating func encode(_ value: UInt128, forKey key: Key) throws { try encodeGeneric(value, forKey: key) }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        let nested = (try? child(key)) ?? CBORTreeNode()
        return CBORTreeNodeEncoder(node: nested, codingPath: codingPath + [key], tree: tree).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let nested = (try? child(key)) ?? CBORTreeNode()
        return CBORTreeNodeEncoder(node: nested, codingPath: codingPath + [key], tree: tree).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        let nested = node.appendEntry(.text("super"))
        return CBORTreeNodeEncoder(node: nested, codingPath: codingPath + [CBORCodingKey.superKey], tree: tree)
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        let nested = (try? child(key)) ?? CBORTreeNode()
        return CBORTreeNodeEncoder(node: nested, codingPath: codingPath + [key], tree: tree)
    }
}

private struct CBORTreeUnkeyedContainer: UnkeyedEncodingContainer {
    let node: CBORTreeNode
    let codingPath: [any CodingKey]
    let tree: CBORTreeEncoder

    var count: Int {
        if case .array(let nodes) = node.content { return nodes.count }
        return 0
    }

    private func child() throws -> (CBORTreeNode, [any CodingKey]) {
        guard case .array = node.content else {
            throw EncodingError.invalidValue((), .init(codingPath: codingPath, debugDescription: "Not an unkeyed container."))
        }
        let path = codingPath + [CBORCodingKey(index: count)]
        return (node.appendElement(), path)
    }

    mutating func encodeNil() throws {
        try child().0.content = .scalar(.null)
    }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try encodeGeneric(value)
    }

    private func encodeGeneric<T: Encodable>(_ value: T) throws {
        let (child, path) = try child()
        try tree.encode(value, into: child, codingPath: path)
    }

    mutating func encode(_ value: Bool) throws { try encodeGeneric(value) }
    mutating func encode(_ value: String) throws { try encodeGeneric(value) }
    mutating func encode(_ value: Double) throws { try encodeGeneric(value) }
    mutating func encode(_ value: Float) throws { try encodeGeneric(value) }
    mutating func encode(_ value: Int) throws { try encodeGeneric(value) }
    mutating func encode(_ value: Int8) throws { try encodeGeneric(value) }
    mutating func encode(_ value: Int16) throws { try encodeGeneric(value) }
    mutating func encode(_ value: Int32) throws { try encodeGeneric(value) }
    mutating func encode(_ value: Int64) throws { try encodeGeneric(value) }
    mutating func encode(_ value: UInt) throws { try encodeGeneric(value) }
    mutating func encode(_ value: UInt8) throws { try encodeGeneric(value) }
    mutating func encode(_ value: UInt16) throws { try encodeGeneric(value) }
    mutating func encode(_ value: UInt32) throws { try encodeGeneric(value) }
    mutating func encode(_ value: UInt64) throws { try encodeGeneric(value) }
    mutating func encode(_ value: Int128) throws { try encodeGeneric(value) }
    mutating func encode(_ value: UInt128) throws { try encodeGeneric(value) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let (child, path) = (try? child()) ?? (CBORTreeNode(), codingPath)
        return CBORTreeNodeEncoder(node: child, codingPath: path, tree: tree).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let (child, path) = (try? child()) ?? (CBORTreeNode(), codingPath)
        return CBORTreeNodeEncoder(node: child, codingPath: path, tree: tree).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        let (child, path) = (try? child()) ?? (CBORTreeNode(), codingPath)
        return CBORTreeNodeEncoder(node: child, codingPath: path, tree: tree)
    }
}

private struct CBORTreeSingleValueContainer: SingleValueEncodingContainer {
    let node: CBORTreeNode
    let codingPath: [any CodingKey]
    let tree: CBORTreeEncoder

    mutating func encodeNil() throws {
        node.content = .scalar(.null)
    }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try encodeGeneric(value)
    }

    private func encodeGeneric<T: Encodable>(_ value: T) throws {
        try tree.encode(value, into: node, codingPath: codingPath)
    }

    mutating func encode(_ value: Bool) throws { try encodeGeneric(value) }
    mutating func encode(_ value: String) throws { try encodeGeneric(value) }
    mutating func encode(_ value: Double) throws { try encodeGeneric(value) }
    mutating func encode(_ value: Float) throws { try encodeGeneric(value) }
    mutating func encode(_ value: Int) throws { try encodeGeneric(value) }
    mutating func encode(_ value: Int8) throws { try encodeGeneric(value) }
    mutating func encode(_ value: Int16) throws { try encodeGeneric(value) }
    mutating func encode(_ value: Int32) throws { try encodeGeneric(value) }
    mutating func encode(_ value: Int64) throws { try encodeGeneric(value) }
    mutating func encode(_ value: UInt) throws { try encodeGeneric(value) }
    mutating func encode(_ value: UInt8) throws { try encodeGeneric(value) }
    mutating func encode(_ value: UInt16) throws { try encodeGeneric(value) }
    mutating func encode(_ value: UInt32) throws { try encodeGeneric(value) }
    mutating func encode(_ value: UInt64) throws { try encodeGeneric(value) }
    mutating func encode(_ value: Int128) throws { try encodeGeneric(value) }
    mutating func encode(_ value: UInt128) throws { try encodeGeneric(value) }
}
