public import Foundation

/// A mentee's best mentors, capacity-aware: full mentors are left out, and mentors within
/// `nearEqual` points of each other are rotated, so that a popular mentor is not first on every
/// list while equally good ones wait.
public enum Recommender {
    public struct Result: Sendable, Equatable {
        /// Mentor indices, best first.
        public var mentors: [Int]
        public var full: Int
        public var excluded: Int
    }

    /// Points within which two mentors count as equally good.
    public static let nearEqual = 3

    /// `openPlaces[j]`: the places mentor `j` has left; `skip`: mentors already matched with (or
    /// declined by) this mentee. `rotation` varies the order among near-equal mentors: the same
    /// mentee sees the same list during a day, different mentees see different orders.
    public static func recommend(
        mentee: Int, scorer: CohortScorer, openPlaces: [Int], skip: Set<Int>, limit: Int, rotation: UInt64
    ) -> Result {
        var candidates: [(mentor: Int, score: Int)] = []
        candidates.reserveCapacity(scorer.mentorCount)
        var full = 0
        var excluded = 0
        let scores = [Int16](unsafeUninitializedCapacity: scorer.mentorCount) { buffer, count in
            scorer.row(mentee: mentee, into: buffer)
            count = scorer.mentorCount
        }
        for mentor in 0..<scorer.mentorCount where !skip.contains(mentor) {
            guard scores[mentor] >= 0 else {
                excluded += 1
                continue
            }
            let score = Int(scores[mentor])
            guard openPlaces[mentor] > 0 else {
                full += 1
                continue
            }
            candidates.append((mentor, score))
        }
        candidates.sort { ($0.score, $0.mentor) > ($1.score, $1.mentor) }
        // Bands of near-equal scores, each shuffled by a hash of (rotation, mentor).
        var ordered: [Int] = []
        var start = 0
        while start < candidates.count, ordered.count < limit {
            var end = start + 1
            while end < candidates.count, candidates[start].score - candidates[end].score < nearEqual { end += 1 }
            let band = candidates[start..<end].sorted { mix(rotation, $0.mentor) < mix(rotation, $1.mentor) }
            ordered.append(contentsOf: band.prefix(limit - ordered.count).map(\.mentor))
            start = end
        }
        return Result(mentors: ordered, full: full, excluded: excluded)
    }

    /// The rotation of a mentee's list on a day.
    public static func rotation(mentee: UUID, on date: Date) -> UInt64 {
        // From the id's bytes, not `Hasher` (seeded per process): every replica agrees.
        let bytes = withUnsafeBytes(of: mentee.uuid) { Array($0) }
        let seed = bytes.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) } ^ bytes.suffix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return mix(seed, Int(max(0, date.timeIntervalSince1970 / 86_400)))
    }

    static func mix(_ rotation: UInt64, _ mentor: Int) -> UInt64 {
        var value = rotation &+ UInt64(mentor) &* 0x9E37_79B9_7F4A_7C15
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}
