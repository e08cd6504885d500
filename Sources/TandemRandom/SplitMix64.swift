/// SplitMix64 (Steele, Lea and Flood, 2014): a small, fast generator whose whole state is one
/// 64-bit word, so the same seed repeats a run exactly — the generated population of a load test,
/// a demo's organisation, a fuzzer's inputs, a random test's instances. Not for secrets.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    /// The step between states: 2^64 divided by the golden ratio, odd, so every state is visited.
    public static let increment: UInt64 = 0x9E37_79B9_7F4A_7C15

    public var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= Self.increment
        return Self.mix(state)
    }

    /// SplitMix64's finaliser alone: a bijection on 64-bit words that scatters nearby inputs, so
    /// distinct inputs (a counter) give distinct, unrelated-looking outputs.
    @inlinable
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
