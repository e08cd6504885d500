public import NIOCore

/// A malformed envelope (HEADERS, TRAILERS, SETTINGS or GOAWAY payload).
public struct EnvelopeError: Error, Hashable, Sendable, CustomStringConvertible {
    public var frame: FrameType
    public var message: String

    public init(_ frame: FrameType, _ message: String) {
        self.frame = frame
        self.message = message
    }

    public var description: String { "malformed \(frame) payload: \(message)" }
}

// MARK: - Writing

extension ByteBuffer {
    /// Writes a CBOR head in its shortest form.
    @inlinable
    mutating func writeCBORHead(_ major: UInt8, _ argument: UInt64) {
        let m = major << 5
        if argument < 24 {
            writeInteger(m | UInt8(argument))
        } else if argument <= UInt64(UInt8.max) {
            writeMultipleIntegers(m | 24, UInt8(argument))
        } else if argument <= UInt64(UInt16.max) {
            writeMultipleIntegers(m | 25, UInt16(argument), endianness: .big)
        } else if argument <= UInt64(UInt32.max) {
            writeMultipleIntegers(m | 26, UInt32(argument), endianness: .big)
        } else {
            writeMultipleIntegers(m | 27, argument, endianness: .big)
        }
    }

    @inlinable
    mutating func writeCBORText(_ text: String) {
        writeCBORHead(3, UInt64(text.utf8.count))
        writeString(text)
    }

    @inlinable
    mutating func writeCBORBytes(_ bytes: [UInt8]) {
        writeCBORHead(2, UInt64(bytes.count))
        writeBytes(bytes)
    }
}

// MARK: - Reading

/// Reads the small, fixed-shape maps of the envelope without building a tree.
struct EnvelopeReader {
    let reader: CBORReader
    let frame: FrameType

    func fail(_ message: String) -> EnvelopeError {
        EnvelopeError(frame, message)
    }

    /// Calls `body` with each text key of the map at `offset` and the offset of its value;
    /// other keys are skipped. Returns the offset after the map.
    func forEachEntry(
        at offset: Int, _ body: (UnsafeRawBufferPointer, Int) throws(EnvelopeError) -> Void
    ) throws(EnvelopeError) -> Int {
        do {
            let head = try reader.head(at: offset)
            guard head.major == .map else { throw fail("expected a map at byte \(offset)") }
            var position = head.next
            var remaining = head.isIndefinite ? Int.max : try reader.checkCount(head.argument, perItem: 2, at: position)
            while remaining > 0 {
                if head.isIndefinite, try reader.byte(at: position) == CBORSimple.break {
                    return position + 1
                }
                let keyHead = try reader.head(at: position)
                let valueOffset: Int
                if keyHead.major == .text && !keyHead.isIndefinite {
                    let length = try reader.checkLength(keyHead.argument, at: keyHead.next)
                    valueOffset = keyHead.next + length
                    try body(UnsafeRawBufferPointer(start: reader.base + keyHead.next, count: length), valueOffset)
                } else {
                    valueOffset = try reader.skip(at: position, depth: 1, maxDepth: 16)
                }
                position = try reader.skip(at: valueOffset, depth: 1, maxDepth: 16)
                remaining -= 1
            }
            return position
        } catch let error as CBORFormatError {
            throw fail(error.description)
        } catch let error as EnvelopeError {
            throw error
        } catch {
            throw fail("\(error)")
        }
    }

    func uint(at offset: Int, _ field: String) throws(EnvelopeError) -> UInt64 {
        guard let head = try? reader.head(at: offset), head.major == .unsigned else {
            throw fail("field '\(field)' must be an unsigned integer")
        }
        return head.argument
    }

    /// The text at `offset`; `field` names it in the error (built only then).
    func text(at offset: Int, _ field: @autoclosure () -> String) throws(EnvelopeError) -> String {
        guard let head = try? reader.head(at: offset), head.major == .text,
              let (string, _) = try? reader.text(head, at: offset) else {
            throw fail("field '\(field())' must be a valid UTF-8 text string")
        }
        return string
    }

    func textArray(at offset: Int, _ field: String) throws(EnvelopeError) -> [String] {
        guard let head = try? reader.head(at: offset), head.major == .array, !head.isIndefinite,
              let count = try? reader.checkCount(head.argument, perItem: 1, at: head.next) else {
            throw fail("field '\(field)' must be an array of text strings")
        }
        var result: [String] = []
        var position = head.next
        for _ in 0..<count {
            result.append(try text(at: position, field))
            position = (try? reader.skip(at: position, depth: 1, maxDepth: 4)) ?? reader.count
        }
        return result
    }

    func metadata(at offset: Int) throws(EnvelopeError) -> Metadata {
        var metadata = Metadata()
        _ = try forEachEntry(at: offset) { (key, value) throws(EnvelopeError) in
            guard let name = UTF8Validation.string(key) else {
                throw fail("metadata key is not valid UTF-8")
            }
            guard let head = try? reader.head(at: value) else { throw fail("metadata '\(name)' is truncated") }
            switch head.major {
            case .text:
                metadata.append(name, try text(at: value, "metadata.\(name)"))
            case .bytes:
                guard let (bytes, _) = try? reader.bytes(head) else { throw fail("metadata '\(name)' is malformed") }
                metadata.append(name, .binary(bytes))
            default:
                throw fail("metadata '\(name)' must be text or bytes")
            }
        }
        return metadata
    }
}

@inline(__always)
func keyIs(_ key: UnsafeRawBufferPointer, _ name: StaticString) -> Bool {
    guard key.count == name.utf8CodeUnitCount else { return false }
    return key.count == 0 || equalBytes(key.baseAddress!, UnsafeRawPointer(name.utf8Start), count: key.count)
}

/// Runs `body` with a reader over the readable bytes of `payload`, checking the map fills it.
func readEnvelope<T>(
    _ payload: ByteBuffer, frame: FrameType,
    _ body: (EnvelopeReader) throws(EnvelopeError) -> (T, Int)
) throws(EnvelopeError) -> T {
    let result: Result<T, EnvelopeError> = payload.withUnsafeReadableBytes { bytes in
        let reader = EnvelopeReader(reader: CBORReader(bytes), frame: frame)
        do throws(EnvelopeError) {
            let (value, end) = try body(reader)
            guard end == bytes.count else { throw reader.fail("trailing bytes after the map") }
            return .success(value)
        } catch {
            return .failure(error)
        }
    }
    return try result.get()
}
