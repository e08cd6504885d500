import NIOCore

/// Key–value pairs that travel with a call, in both directions (Protocols/WIRE.md §4.3).
/// Keys are lower-case ASCII; values are text, or bytes for binary data.
public struct Metadata: Hashable, Sendable, Sequence, ExpressibleByDictionaryLiteral {
    public enum Value: Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
        case text(String)
        case binary([UInt8])

        public init(stringLiteral value: String) {
            self = .text(value)
        }

        public var description: String {
            switch self {
            case .text(let text): return text
            case .binary(let bytes): return "<\(bytes.count) bytes>"
            }
        }
    }

    public struct Entry: Hashable, Sendable {
        public var key: String
        public var value: Value
    }

    /// Well-known keys.
    public enum Keys {
        /// `Bearer <access token>` or `ApiKey <key>`.
        public static let authorization = "authorization"
        /// W3C trace context: `00-<trace id>-<span id>-<flags>`.
        public static let traceparent = "traceparent"
        /// W3C trace state, vendor-specific.
        public static let tracestate = "tracestate"
        /// An id for the request, echoed in logs; the server makes one when absent.
        public static let requestID = "request-id"
        /// Makes a mutating call safe to retry: the server returns the first result again.
        public static let idempotencyKey = "idempotency-key"
        /// In error trailers: milliseconds to wait before retrying.
        public static let retryAfter = "retry-after"
        /// Set by the gateway on the calls it forwards: the address (no port) of the client that
        /// called it. Services believe it only from a peer whose certificate names `gateway`.
        public static let clientAddress = "tandem-client-address"
    }

    public private(set) var entries: [Entry] = []

    public init() {}

    public init(dictionaryLiteral elements: (String, Value)...) {
        for (key, value) in elements { append(key, value) }
    }

    public var isEmpty: Bool { entries.isEmpty }
    public var count: Int { entries.count }

    public func makeIterator() -> IndexingIterator<[Entry]> {
        entries.makeIterator()
    }

    /// Adds an entry; a key that is already present is replaced (keys are unique on the wire).
    public mutating func append(_ key: String, _ value: Value) {
        let key = Self.normalized(key)
        if let index = entries.firstIndex(where: { $0.key == key }) {
            entries[index].value = value
        } else {
            // Room for a call's usual few entries at once, instead of growing 1, 2, 4.
            if entries.isEmpty { entries.reserveCapacity(4) }
            entries.append(Entry(key: key, value: value))
        }
    }

    public mutating func append(_ key: String, _ value: String) {
        append(key, .text(value))
    }

    public mutating func removeValue(forKey key: String) {
        let key = key.lowercased()
        entries.removeAll { $0.key == key }
    }

    /// The text value for `key`, if present and text.
    public subscript(key: String) -> String? {
        get {
            let key = key.lowercased()
            guard let entry = entries.first(where: { $0.key == key }), case .text(let text) = entry.value else { return nil }
            return text
        }
        set {
            if let newValue { append(key, .text(newValue)) } else { removeValue(forKey: key) }
        }
    }

    /// The value for `key` in either form.
    public func value(forKey key: String) -> Value? {
        let key = Self.normalized(key)
        return entries.first(where: { $0.key == key })?.value
    }

    /// Adds every entry of `other`, replacing equal keys.
    public mutating func merge(_ other: Metadata) {
        for entry in other.entries { append(entry.key, entry.value) }
    }

    /// `key` in lower case. Keys are ASCII and nearly always lower case already: then the key
    /// itself, without `lowercased()`'s new string.
    static func normalized(_ key: String) -> String {
        key.utf8.allSatisfy { $0 < 0x80 && !(0x41...0x5A).contains($0) } ? key : key.lowercased()
    }

    func write(to buffer: inout ByteBuffer) {
        buffer.writeCBORHead(5, UInt64(entries.count))
        for entry in entries {
            buffer.writeCBORText(entry.key)
            switch entry.value {
            case .text(let text): buffer.writeCBORText(text)
            case .binary(let bytes): buffer.writeCBORBytes(bytes)
            }
        }
    }
}
