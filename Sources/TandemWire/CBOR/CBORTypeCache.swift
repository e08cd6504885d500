import Synchronization

/// Remembers, per Swift type, whether the codec handles it specially (`Data`, `URL`, arrays,
/// string-keyed dictionaries…) or through its own `Codable` implementation.
///
/// Asking the runtime `value as? any CBORSpecialEncodable` costs a conformance lookup (and for
/// conditional conformances such as `Array: CBORSpecialEncodable where Element: Encodable`, a
/// witness-table instantiation) on every value. This cache answers from an immutable snapshot
/// table read without a lock: types are only ever added (one entry per type a program encodes),
/// so a new snapshot replaces the old one and the old ones are kept, never freed, which makes
/// reading a snapshot that is being replaced safe.
enum CBORTypeCache {
    static let encodables = TypeTable<any CBORSpecialEncodable.Type>()
    static let decodables = TypeTable<any CBORSpecialDecodable.Type>()

    @inline(__always)
    static func specialEncodable<T>(_ type: T.Type) -> (any CBORSpecialEncodable.Type)? {
        encodables.lookup(type) { type in
            if let special = type as? any CBORSpecialEncodable.Type { return special }
            return (type as? any CBORDirectEncodable.Type).map(directEncodingAdapter(for:))
        }
    }

    @inline(__always)
    static func specialDecodable<T>(_ type: T.Type) -> (any CBORSpecialDecodable.Type)? {
        decodables.lookup(type) { $0 as? any CBORSpecialDecodable.Type }
    }
}

/// A grow-only map from metatypes to an answer about them, with lock-free reads.
final class TypeTable<Value>: Sendable {
    /// An immutable open-addressing table. Metatypes are immutable process-global data, so
    /// sharing the stored existential metatypes between threads is safe.
    final class Snapshot: @unchecked Sendable {
        let keys: [UInt]
        let values: [Value?]
        let mask: Int
        let count: Int

        init(capacity: Int, entries: [(UInt, Value?)]) {
            var keys = [UInt](repeating: 0, count: capacity)
            var values = [Value?](repeating: nil, count: capacity)
            let mask = capacity - 1
            for (key, value) in entries {
                var slot = Snapshot.slot(key, mask)
                while keys[slot] != 0 { slot = (slot + 1) & mask }
                keys[slot] = key
                values[slot] = value
            }
            self.keys = keys
            self.values = values
            self.mask = mask
            self.count = entries.count
        }

        @inline(__always)
        static func slot(_ key: UInt, _ mask: Int) -> Int {
            Int(truncatingIfNeeded: (key >> 4) &* 0x9E37_79B9_7F4A_7C15 >> 32) & mask
        }

        /// `.some(answer)` when the key is present.
        @inline(__always)
        func find(_ key: UInt) -> Value?? {
            var slot = Snapshot.slot(key, mask)
            while true {
                let stored = keys[slot]
                if stored == key { return .some(values[slot]) }
                if stored == 0 { return nil }
                slot = (slot + 1) & mask
            }
        }

        var entries: [(UInt, Value?)] {
            keys.indices.compactMap { keys[$0] == 0 ? nil : (keys[$0], values[$0]) }
        }
    }

    /// The current snapshot's address (an `Int`, so the property is `Sendable`).
    private let current = Atomic<Int>(Int(bitPattern: Unmanaged.passRetained(Snapshot(capacity: 64, entries: [])).toOpaque()))
    /// Serializes writers (readers never take it).
    private let writeLock = Mutex<Void>(())

    @inline(__always)
    func lookup<T>(_ type: T.Type, compute: (T.Type) -> Value?) -> Value? {
        let key = UInt(bitPattern: ObjectIdentifier(type))
        let found = snapshot(current.load(ordering: .acquiring))._withUnsafeGuaranteedRef { $0.find(key) }
        if let found { return found }
        let answer = compute(type)
        insert(key, answer)
        return answer
    }

    private func insert(_ key: UInt, _ value: Value?) {
        writeLock.withLock { _ in
            let old = snapshot(current.load(ordering: .acquiring)).takeUnretainedValue()
            guard old.find(key) == nil else { return }
            var capacity = old.keys.count
            while (old.count + 1) * 2 > capacity { capacity *= 2 }
            let snapshot = Snapshot(capacity: capacity, entries: old.entries + [(key, value)])
            // The old snapshot stays alive (it is never released): a reader may still be in it.
            current.store(Int(bitPattern: Unmanaged.passRetained(snapshot).toOpaque()), ordering: .releasing)
        }
    }

    @inline(__always)
    private func snapshot(_ address: Int) -> Unmanaged<Snapshot> {
        Unmanaged<Snapshot>.fromOpaque(UnsafeRawPointer(bitPattern: address)!)
    }
}
