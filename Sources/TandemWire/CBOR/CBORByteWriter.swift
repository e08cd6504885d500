/// A growable byte buffer that writes CBOR heads and scalars in preferred (shortest) serialization.
///
/// It is a class so that the encoder and its containers share one buffer without copy-on-write
/// checks on every byte; it is confined to the single encode call that owns it.
/// Writes CBOR heads and scalars, in preferred (shortest) serialization, into growable bytes.
///
/// A small value holding a pointer to its storage: codecs keep the storage in memory they manage
/// themselves, so writing costs no reference counting and no exclusivity checks. Whoever
/// allocates the storage frees it (see `CBORByteWriter` for an owning wrapper).
@usableFromInline
struct CBORWriter {
    @usableFromInline
    struct Storage {
        var base: UnsafeMutableRawPointer
        var count: Int
        var capacity: Int

        init(capacity: Int) {
            self.capacity = max(capacity, 16)
            self.base = .allocate(byteCount: self.capacity, alignment: 8)
            self.count = 0
        }

        func deallocate() {
            base.deallocate()
        }
    }

    @usableFromInline let storage: UnsafeMutablePointer<Storage>

    @inline(__always)
    init(_ storage: UnsafeMutablePointer<Storage>) {
        self.storage = storage
    }

    @inline(__always) var base: UnsafeMutableRawPointer { storage.pointee.base }

    @inline(__always) var count: Int {
        get { storage.pointee.count }
        nonmutating set { storage.pointee.count = newValue }
    }

    @inline(__always) var capacity: Int { storage.pointee.capacity }

    @inline(__always)
    func reserve(_ extra: Int) {
        if count &+ extra > capacity { grow(toAtLeast: count &+ extra) }
    }

    private func grow(toAtLeast needed: Int) {
        var newCapacity = capacity &* 2
        while newCapacity < needed { newCapacity &*= 2 }
        let newBase = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 8)
        newBase.copyMemory(from: base, byteCount: count)
        base.deallocate()
        storage.pointee.base = newBase
        storage.pointee.capacity = newCapacity
    }

    @inline(__always)
    func writeByte(_ byte: UInt8) {
        reserve(1)
        base.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count &+= 1
    }

    /// Writes an initial byte and argument in the shortest form (RFC 8949 §4.2.1).
    @inline(__always)
    func writeHead(_ major: CBORMajorType, _ argument: UInt64) {
        reserve(9)
        let m = major.initialBits
        if argument < 24 {
            base.storeBytes(of: m | UInt8(truncatingIfNeeded: argument), toByteOffset: count, as: UInt8.self)
            count &+= 1
        } else if argument <= UInt64(UInt8.max) {
            base.storeBytes(of: m | 24, toByteOffset: count, as: UInt8.self)
            base.storeBytes(of: UInt8(truncatingIfNeeded: argument), toByteOffset: count &+ 1, as: UInt8.self)
            count &+= 2
        } else if argument <= UInt64(UInt16.max) {
            base.storeBytes(of: m | 25, toByteOffset: count, as: UInt8.self)
            base.storeBytes(of: UInt16(truncatingIfNeeded: argument).bigEndian, toByteOffset: count &+ 1, as: UInt16.self)
            count &+= 3
        } else if argument <= UInt64(UInt32.max) {
            base.storeBytes(of: m | 26, toByteOffset: count, as: UInt8.self)
            base.storeBytes(of: UInt32(truncatingIfNeeded: argument).bigEndian, toByteOffset: count &+ 1, as: UInt32.self)
            count &+= 5
        } else {
            base.storeBytes(of: m | 27, toByteOffset: count, as: UInt8.self)
            base.storeBytes(of: argument.bigEndian, toByteOffset: count &+ 1, as: UInt64.self)
            count &+= 9
        }
    }

    @inline(__always)
    func writeInt(_ value: Int64) {
        if value >= 0 {
            writeHead(.unsigned, UInt64(value))
        } else {
            // -1 - n, computed without overflow for Int64.min.
            writeHead(.negative, UInt64(bitPattern: ~value))
        }
    }

    @inline(__always)
    func writeRaw(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        reserve(bytes.count)
        (base + count).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        count &+= bytes.count
    }

    @inline(__always)
    func writeText(_ string: String) {
        var string = string
        string.withUTF8 { utf8 in
            writeHead(.text, UInt64(utf8.count))
            writeRaw(UnsafeRawBufferPointer(utf8))
        }
    }

    @inline(__always)
    func writeBytes(_ bytes: UnsafeRawBufferPointer) {
        writeHead(.bytes, UInt64(bytes.count))
        writeRaw(bytes)
    }

    /// Writes a double in the shortest of half, single or double precision that keeps its value.
    func writeDouble(_ value: Double) {
        if value.isNaN {
            writeHalfBits(0x7E00)
            return
        }
        let single = Float(value)
        if Double(single) == value {
            writeFloat(single)
        } else {
            reserve(9)
            base.storeBytes(of: CBORSimple.float64, toByteOffset: count, as: UInt8.self)
            base.storeBytes(of: value.bitPattern.bigEndian, toByteOffset: count &+ 1, as: UInt64.self)
            count &+= 9
        }
    }

    /// Writes a float in the shortest of half or single precision that keeps its value.
    func writeFloat(_ value: Float) {
        if value.isNaN {
            writeHalfBits(0x7E00)
            return
        }
        if let half = HalfFloat.exactBits(of: value) {
            writeHalfBits(half)
        } else {
            reserve(5)
            base.storeBytes(of: CBORSimple.float32, toByteOffset: count, as: UInt8.self)
            base.storeBytes(of: value.bitPattern.bigEndian, toByteOffset: count &+ 1, as: UInt32.self)
            count &+= 5
        }
    }

    private func writeHalfBits(_ bits: UInt16) {
        reserve(3)
        base.storeBytes(of: CBORSimple.float16, toByteOffset: count, as: UInt8.self)
        base.storeBytes(of: bits.bigEndian, toByteOffset: count &+ 1, as: UInt16.self)
        count &+= 3
    }

    /// Reads back the initial byte at `offset` (used to patch container heads).
    @inline(__always)
    func byte(at offset: Int) -> UInt8 {
        base.load(fromByteOffset: offset, as: UInt8.self)
    }

    /// Rewrites the one-byte head reserved at `offset` as the shortest head for `argument`,
    /// moving everything after it when the head needs more than one byte.
    func patchHead(at offset: Int, _ major: CBORMajorType, _ argument: UInt64) {
        let m = major.initialBits
        if argument < 24 {
            base.storeBytes(of: m | UInt8(truncatingIfNeeded: argument), toByteOffset: offset, as: UInt8.self)
            return
        }
        let headSize: Int
        if argument <= UInt64(UInt8.max) {
            headSize = 2
        } else if argument <= UInt64(UInt16.max) {
            headSize = 3
        } else if argument <= UInt64(UInt32.max) {
            headSize = 5
        } else {
            headSize = 9
        }
        let extra = headSize - 1
        reserve(extra)
        let tail = count - (offset + 1)
        if tail > 0 {
            (base + offset + 1 + extra).copyMemory(from: base + offset + 1, byteCount: tail)
        }
        count += extra
        switch headSize {
        case 2:
            base.storeBytes(of: m | 24, toByteOffset: offset, as: UInt8.self)
            base.storeBytes(of: UInt8(truncatingIfNeeded: argument), toByteOffset: offset + 1, as: UInt8.self)
        case 3:
            base.storeBytes(of: m | 25, toByteOffset: offset, as: UInt8.self)
            base.storeBytes(of: UInt16(truncatingIfNeeded: argument).bigEndian, toByteOffset: offset + 1, as: UInt16.self)
        case 5:
            base.storeBytes(of: m | 26, toByteOffset: offset, as: UInt8.self)
            base.storeBytes(of: UInt32(truncatingIfNeeded: argument).bigEndian, toByteOffset: offset + 1, as: UInt32.self)
        default:
            base.storeBytes(of: m | 27, toByteOffset: offset, as: UInt8.self)
            base.storeBytes(of: argument.bigEndian, toByteOffset: offset + 1, as: UInt64.self)
        }
    }

    var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base, count: count)
    }
}

/// A `CBORWriter` that owns its storage, for writing outside the encoder.
final class CBORByteWriter {
    private let storage: UnsafeMutablePointer<CBORWriter.Storage>
    let writer: CBORWriter

    init(capacity: Int = 256) {
        storage = .allocate(capacity: 1)
        storage.initialize(to: CBORWriter.Storage(capacity: capacity))
        writer = CBORWriter(storage)
    }

    deinit {
        storage.pointee.deallocate()
        storage.deallocate()
    }

    var bytes: UnsafeRawBufferPointer { writer.bytes }
}

/// IEEE 754 half precision conversions, written out so they work on every platform.
enum HalfFloat {
    /// The binary16 bit pattern of `value` when it is exactly representable, else nil.
    static func exactBits(of value: Float) -> UInt16? {
        let bits = value.bitPattern
        let sign = UInt16(truncatingIfNeeded: bits >> 16) & 0x8000
        let exponent = Int((bits >> 23) & 0xFF)
        let mantissa = bits & 0x7F_FFFF
        if exponent == 0xFF {
            // Infinity (NaN is handled by the caller).
            return mantissa == 0 ? sign | 0x7C00 : nil
        }
        if exponent == 0 {
            // Zero stays zero; single-precision subnormals are far below half's range.
            return mantissa == 0 ? sign : nil
        }
        let unbiased = exponent - 127
        if unbiased >= -14 && unbiased <= 15 {
            guard mantissa & 0x1FFF == 0 else { return nil }
            return sign | UInt16(unbiased + 15) << 10 | UInt16(truncatingIfNeeded: mantissa >> 13)
        }
        if unbiased >= -24 && unbiased < -14 {
            let full = 0x80_0000 | mantissa
            let shift = UInt32(-(unbiased + 1))
            guard full & ((1 << shift) - 1) == 0 else { return nil }
            return sign | UInt16(truncatingIfNeeded: full >> shift)
        }
        return nil
    }

    /// The value of a binary16 bit pattern.
    static func value(of bits: UInt16) -> Double {
        let sign: Double = bits & 0x8000 != 0 ? -1 : 1
        let exponent = Int((bits >> 10) & 0x1F)
        let mantissa = Double(bits & 0x3FF)
        switch exponent {
        case 0:
            return sign * mantissa * 0x1p-24
        case 31:
            return mantissa == 0 ? sign * .infinity : .nan
        default:
            return sign * (1 + mantissa / 1024) * Double(sign: .plus, exponent: exponent - 15, significand: 1)
        }
    }
}
