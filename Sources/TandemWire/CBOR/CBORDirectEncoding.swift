#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// A type that writes its own CBOR — exactly the bytes its `Encodable` conformance would give
/// (pin that with a test: `CBOREncoder.encodeWithoutDirectEncodings` gives the `Encodable` form) —
/// without containers: for messages sent thousands of times a second, where `Codable`'s keyed
/// containers (an allocation each) and generic dispatch cost more than the bytes. `CBOREncoder`
/// uses it wherever the type appears, at the top or nested.
public protocol CBORDirectEncodable: Encodable {
    func encodeCBOR(to writer: CBORDirectWriter)
}

/// Writes CBOR items as `CBOREncoder` writes them (preferred serialization, Tandem's tags for
/// dates and UUIDs). Valid only during the `encodeCBOR(to:)` call it is given to.
public struct CBORDirectWriter {
    let writer: CBORWriter

    init(_ writer: CBORWriter) {
        self.writer = writer
    }

    /// The head of a map of `count` entries; the keys and values follow.
    public func writeMap(count: Int) { writer.writeHead(.map, UInt64(count)) }
    /// The head of an array of `count` items; the items follow.
    public func writeArray(count: Int) { writer.writeHead(.array, UInt64(count)) }
    /// An integer key of a map (a `CodingKey`'s `intValue`), or any integer.
    public func write(_ value: Int) { writer.writeInt(Int64(value)) }
    public func write(_ value: Double) { writer.writeDouble(value) }
    public func write(_ value: String) { writer.writeText(value) }
    /// Tag 1 and whole seconds as an integer, or a float when there is a fraction.
    public func write(_ value: Date) { writer.writeDate(value) }
    /// Tag 37 and the 16 bytes.
    public func write(_ value: UUID) { writer.writeUUID(value) }
    public func write(_ values: [Double]) {
        writer.writeHead(.array, UInt64(values.count))
        for value in values { writer.writeDouble(value) }
    }
    public func write(_ values: [String]) {
        writer.writeHead(.array, UInt64(values.count))
        for value in values { writer.writeText(value) }
    }
}

extension CBORWriter {
    func writeDate(_ date: Date) {
        writeHead(.tag, CBORTag.epochDateTime)
        let seconds = date.timeIntervalSince1970
        if seconds.rounded() == seconds, abs(seconds) < 9e15 {
            writeInt(Int64(seconds))
        } else {
            writeDouble(seconds)
        }
    }

    func writeUUID(_ uuid: UUID) {
        writeHead(.tag, CBORTag.uuid)
        withUnsafeBytes(of: uuid.uuid) { writeBytes($0) }
    }
}

/// Lets the encoder's one look-up per type (`CBORTypeCache.specialEncodable`) find direct
/// encodings too: the adapter has the layout of the value it wraps, so the encoder's
/// `unsafeBitCast` to it is a no-op.
struct CBORDirectEncodingAdapter<Value: CBORDirectEncodable>: CBORSpecialEncodable {
    let value: Value

    func encodeCBOR(to state: CBOREncodingState, path: CBORPathComponent) throws {
        if state.directEncodings {
            value.encodeCBOR(to: CBORDirectWriter(state.writer))
        } else {
            try state.encodeComposite(value, path: path)
        }
    }
}

/// The adapter type for a direct-encodable type.
func directEncodingAdapter(for type: any CBORDirectEncodable.Type) -> any CBORSpecialEncodable.Type {
    func open<D: CBORDirectEncodable>(_: D.Type) -> any CBORSpecialEncodable.Type { CBORDirectEncodingAdapter<D>.self }
    return open(type)
}
