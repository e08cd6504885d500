public import TandemWire
#if canImport(Glibc)
import Glibc
#endif

/// What the benchmark echo server reports about itself (`bench.Stats`).
public struct BenchStats: Codable, Sendable {
    public var allocations: UInt64
    public var cpuMicroseconds: UInt64
    public var residentBytes: UInt64
    public var connections: Int
    public var heapBytes: UInt64?

    public init(allocations: UInt64, cpuMicroseconds: UInt64, residentBytes: UInt64, connections: Int, heapBytes: UInt64?) {
        self.allocations = allocations
        self.cpuMicroseconds = cpuMicroseconds
        self.residentBytes = residentBytes
        self.connections = connections
        self.heapBytes = heapBytes
    }

    enum CodingKeys: Int, CodingKey {
        case allocations = 1, cpuMicroseconds, residentBytes, connections, heapBytes
    }
}

public enum BenchMethods {
    public static let stats = MethodDescriptor<Empty, BenchStats>(service: "bench", method: "Stats", idempotent: true)
}

/// Process CPU time (user + system) and resident memory, read without Foundation so the echo
/// server stays as small as a real service binary.
public enum ProcessUsage {
    public static var cpuMicroseconds: UInt64 {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let user = UInt64(usage.ru_utime.tv_sec) * 1_000_000 + UInt64(usage.ru_utime.tv_usec)
        let system = UInt64(usage.ru_stime.tv_sec) * 1_000_000 + UInt64(usage.ru_stime.tv_usec)
        return user + system
    }

    /// VmRSS from /proc/self/status.
    public static var residentBytes: UInt64 {
        let fd = open("/proc/self/status", O_RDONLY)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 8192)
        let count = read(fd, &bytes, bytes.count)
        guard count > 0 else { return 0 }
        let text = String(decoding: bytes[0..<count], as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let digits = line.filter(\.isNumber)
            return (UInt64(digits) ?? 0) * 1024
        }
        return 0
    }
}
