import Synchronization
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// The operating system's cryptographically secure generator (`getrandom` on Linux), drawn in
/// blocks: one system call fills a 256-byte pool that then serves 32 words, instead of one system
/// call per word as `SystemRandomNumberGenerator` makes. For unguessable values made on every
/// call (meeting ids, video room names): a booking made five `getrandom` calls before.
///
/// The pool is shared by the process and guarded by a mutex; a word is never handed out twice
/// (each is cleared from the pool as it is taken). Tandem's services never `fork` (children are
/// started with `posix_spawn`), so a pool is never copied into a second process.
public struct SecureRandom: RandomNumberGenerator, Sendable {
    public init() {}

    public mutating func next() -> UInt64 {
        Self.pool.withLock { $0.take() }
    }

    /// Fills `count` bytes from the pool.
    public static func bytes(_ count: Int) -> [UInt8] {
        var generator = SecureRandom()
        var bytes = [UInt8]()
        bytes.reserveCapacity(count + 7)
        while bytes.count < count {
            var word = generator.next()
            for _ in 0..<8 {
                bytes.append(UInt8(truncatingIfNeeded: word))
                word >>= 8
            }
        }
        bytes.removeLast(bytes.count - count)
        return bytes
    }

    struct Pool: ~Copyable {
        static let words = 32
        private var storage: [UInt64]
        private var next: Int
        /// How many times the pool was filled (for tests).
        private(set) var refills = 0

        init() {
            storage = [UInt64](repeating: 0, count: Self.words)
            next = Self.words
        }

        mutating func take() -> UInt64 {
            if next == Self.words { refill() }
            let word = storage[next]
            storage[next] = 0
            next += 1
            return word
        }

        private mutating func refill() {
            storage.withUnsafeMutableBytes { fillFromSystem($0) }
            next = 0
            refills += 1
        }
    }

    static let pool = Mutex(Pool())

    /// How many times the shared pool has been filled from the operating system.
    public static var refills: Int { pool.withLock { $0.refills } }
}

/// Fills the buffer (at most 256 bytes) from the operating system's generator in one call
/// (`getentropy`, which reads `getrandom` on Linux); stops the process if that fails, as
/// `SystemRandomNumberGenerator` does.
func fillFromSystem(_ buffer: UnsafeMutableRawBufferPointer) {
    precondition(buffer.count <= 256)
    guard getentropy(buffer.baseAddress!, buffer.count) == 0 else { fatalError("getentropy failed: errno \(errno)") }
}
