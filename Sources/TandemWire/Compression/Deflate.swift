import CTandemDeflate
import CTandemZlib
public import NIOCore

/// Message compression with the system zlib, in the zlib format (RFC 1950: a 2-byte header,
/// deflate data, an Adler-32 trailer) — what Python's `zlib.compress` writes and
/// `zlib.decompress` reads.
public enum Deflate {
    public struct Error: Swift.Error, Hashable, Sendable, CustomStringConvertible {
        public enum Reason: Hashable, Sendable {
            /// The decompressed data would exceed the limit (a decompression bomb, or just too big).
            case tooLarge(limit: Int)
            /// The input is not valid zlib data, or ends early.
            case corrupt
            /// zlib could not be initialised.
            case unavailable
        }

        public var reason: Reason

        public var description: String {
            switch reason {
            case .tooLarge(let limit): return "decompressed message exceeds \(limit) bytes"
            case .corrupt: return "compressed payload is not valid zlib data"
            case .unavailable: return "zlib could not be initialised"
            }
        }
    }

    /// Compresses `input` (its readable bytes) and appends the result to `output`.
    public static func compress(_ input: ByteBuffer, into output: inout ByteBuffer, level: Int32 = 6) throws {
        try input.withUnsafeReadableBytes { try compress($0, into: &output, level: level) }
    }

    /// Compresses `source` and appends the result to `output`.
    ///
    /// The window is the smallest power of two that holds the whole input (512 bytes to
    /// 32 KiB), and the hash table is sized to match: zlib's defaults allocate about 256 KiB per
    /// stream, and setting that up cost more than compressing a message of a few kilobytes. A
    /// window at least as long as the input finds every match the default one would.
    public static func compress(_ source: UnsafeRawBufferPointer, into output: inout ByteBuffer, level: Int32 = 6) throws {
        var stream = z_stream()
        let windowBits = windowBits(forSize: source.count)
        guard tandem_deflateInit2(&stream, level, windowBits, max(1, min(8, windowBits - 7))) == Z_OK else { throw Error(reason: .unavailable) }
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, UInt(source.count)))
        output.reserveCapacity(minimumWritableBytes: bound)
        let written = try output.withUnsafeMutableWritableBytes { target -> Int in
            stream.next_in = UnsafeMutablePointer(mutating: source.bindMemory(to: Bytef.self).baseAddress)
            stream.avail_in = uInt(source.count)
            stream.next_out = target.bindMemory(to: Bytef.self).baseAddress
            stream.avail_out = uInt(target.count)
            guard deflate(&stream, Z_FINISH) == Z_STREAM_END else { throw Error(reason: .corrupt) }
            return target.count - Int(stream.avail_out)
        }
        output.moveWriterIndex(forwardBy: written)
    }

    /// Compresses `source` for a message and appends the result to `output`: zlib format, one
    /// block with deflate's fixed codes, matches found with one hash look-up per position (no
    /// search). About three times faster than zlib's fastest level on a message of a few
    /// kilobytes (6 against 21 µs for 4 KB), for output about 5% larger; any inflate reads it
    /// (Python's `zlib` too).
    public static func compressFast(_ source: UnsafeRawBufferPointer, into output: inout ByteBuffer) {
        let bound = tandem_fast_zlib_bound(source.count)
        output.reserveCapacity(minimumWritableBytes: bound)
        let written = output.withUnsafeMutableWritableBytes { target -> Int in
            tandem_fast_zlib(source.bindMemory(to: UInt8.self).baseAddress, source.count, target.bindMemory(to: UInt8.self).baseAddress, target.count)
        }
        precondition(written > 0, "the output was reserved for the bound")
        output.moveWriterIndex(forwardBy: written)
    }

    /// Compresses `input` (its readable bytes) with `compressFast`.
    public static func compressFast(_ input: ByteBuffer, into output: inout ByteBuffer) {
        input.withUnsafeReadableBytes { compressFast($0, into: &output) }
    }

    /// log2 of the window for an input of `size` bytes: 9 (512 bytes) to 15 (32 KiB, zlib's most).
    static func windowBits(forSize size: Int) -> Int32 {
        var bits: Int32 = 9
        while bits < 15 && (1 << bits) < size { bits += 1 }
        return bits
    }

    /// Decompresses `input`, refusing to produce more than `limit` bytes. Output grows in
    /// bounded steps, so memory follows the actual output, never a claimed size.
    public static func decompress(_ input: ByteBuffer, limit: Int) throws -> ByteBuffer {
        var stream = z_stream()
        guard tandem_inflateInit(&stream) == Z_OK else { throw Error(reason: .unavailable) }
        defer { inflateEnd(&stream) }
        var output = ByteBuffer()
        output.reserveCapacity(min(limit, max(input.readableBytes * 4, 256)))
        return try input.withUnsafeReadableBytes { source in
            stream.next_in = UnsafeMutablePointer(mutating: source.bindMemory(to: Bytef.self).baseAddress)
            stream.avail_in = uInt(source.count)
            while true {
                if output.writableBytes == 0 {
                    guard output.writerIndex < limit + 1 else { throw Error(reason: .tooLarge(limit: limit)) }
                    output.reserveCapacity(minimumWritableBytes: min(max(output.capacity, 4096), limit + 1 - output.writerIndex))
                }
                let allowed = limit + 1 - output.writerIndex
                let (status, produced) = output.withUnsafeMutableWritableBytes { target -> (Int32, Int) in
                    let room = min(target.count, allowed)
                    stream.next_out = target.bindMemory(to: Bytef.self).baseAddress
                    stream.avail_out = uInt(room)
                    let status = inflate(&stream, Z_NO_FLUSH)
                    return (status, room - Int(stream.avail_out))
                }
                output.moveWriterIndex(forwardBy: produced)
                if output.readableBytes > limit { throw Error(reason: .tooLarge(limit: limit)) }
                switch status {
                case Z_STREAM_END:
                    // Trailing bytes after the zlib stream are not allowed.
                    guard stream.avail_in == 0 else { throw Error(reason: .corrupt) }
                    return output
                case Z_OK:
                    continue
                case Z_BUF_ERROR where stream.avail_in == 0:
                    // Input ended before the stream did.
                    throw Error(reason: .corrupt)
                case Z_BUF_ERROR:
                    continue
                default:
                    throw Error(reason: .corrupt)
                }
            }
        }
    }
}
