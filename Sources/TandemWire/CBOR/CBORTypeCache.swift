import Synchronization

/// Remembers, per Swift type, whether the codec handles it specially (`Data`, `URL`, arrays,
/// string-keyed dictionaries…) or through its own `Codable` implementation.
///
/// Asking the runtime `value as? any CBORSpecialEncodable` costs a conformance lookup (and for
/// conditional conformances such as `Array: CBORSpecialEncodable where Element: Encodable`, a
/// witness-table instantiation) on every value; this cache answers with one dictionary lookup.
/// Types are only ever added, so the table stays small: one entry per type a program encodes.
enum CBORTypeCache {
    /// A metatype is immutable, process-global data, so sharing it between threads is safe;
    /// the compiler cannot see that for an existential metatype, hence the unchecked box.
    struct Entry<Special>: @unchecked Sendable {
        let special: Special?
    }

    private static let encodables = Mutex<[ObjectIdentifier: Entry<any CBORSpecialEncodable.Type>]>([:])
    private static let decodables = Mutex<[ObjectIdentifier: Entry<any CBORSpecialDecodable.Type>]>([:])

    @inline(__always)
    static func specialEncodable<T>(_ type: T.Type) -> (any CBORSpecialEncodable.Type)? {
        let id = ObjectIdentifier(type)
        if let known = encodables.withLock({ $0[id] }) { return known.special }
        let entry = Entry(special: type as? any CBORSpecialEncodable.Type)
        encodables.withLock { $0[id] = entry }
        return entry.special
    }

    @inline(__always)
    static func specialDecodable<T>(_ type: T.Type) -> (any CBORSpecialDecodable.Type)? {
        let id = ObjectIdentifier(type)
        if let known = decodables.withLock({ $0[id] }) { return known.special }
        let entry = Entry(special: type as? any CBORSpecialDecodable.Type)
        decodables.withLock { $0[id] = entry }
        return entry.special
    }
}
