import Foundation
import TandemRandom
import Testing
@testable import SchedulingService

@Suite("Identifiers: time-ordered meeting ids and the secure generator's pool")
struct IdentifierTests {
    @Test("A meeting id is a version-7 UUID whose first 48 bits are the millisecond it was made")
    func timeOrderedIDs() {
        let now = Date(timeIntervalSince1970: 1_795_000_000.123)
        let id = TimeOrderedID.make(now: now)
        let bytes = withUnsafeBytes(of: id.uuid) { Array($0) }
        let milliseconds = bytes[0..<6].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        #expect(milliseconds == 1_795_000_000_123)
        #expect(bytes[6] >> 4 == 7, "version 7")
        #expect(bytes[8] >> 6 == 0b10, "RFC 4122 variant")
        // Later ids sort after earlier ones (the index they go into stays append-only).
        let later = TimeOrderedID.make(now: now.addingTimeInterval(0.002))
        #expect(later.uuidString > id.uuidString)
        // The 74 random bits differ between ids of the same millisecond.
        let same = (0..<1000).map { _ in TimeOrderedID.make(now: now) }
        #expect(Set(same).count == 1000)
    }

    @Test("The secure generator draws the system's generator once per 32 words, and never repeats a word")
    func pooledSecureRandom() {
        var generator = SecureRandom()
        let before = SecureRandom.refills
        let words = (0..<2560).map { _ in generator.next() }
        // 80 pools' worth, of which at most one was left over from before: at least 79 refills
        // (other tests drawing at the same time can only add to them). The words are distinct
        // (64-bit random words collide with probability ~2^-45 here).
        #expect(SecureRandom.refills - before >= 79)
        #expect(Set(words).count == words.count)
        // Each bit position is set in about half the words: a pool left zeroed or filled from the
        // wrong place would fail this.
        for bit in 0..<64 {
            let ones = words.filter { $0 >> UInt64(bit) & 1 == 1 }.count
            #expect((1080...1480).contains(ones), "bit \(bit) set in \(ones) of 2560 words")
        }
        #expect(SecureRandom.bytes(13).count == 13)
        #expect(SecureRandom.bytes(0).isEmpty)
    }
}
