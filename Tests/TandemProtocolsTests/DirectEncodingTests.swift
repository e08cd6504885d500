import Foundation
import TandemProtocols
import TandemRandom
import TandemWire
import Testing

/// The hot answers that write their own CBOR (Protocols/SchedulingDirectEncoding.swift) write
/// exactly the bytes of their `Codable` declarations, which the contract defines.
@Suite("Direct CBOR encodings")
struct DirectEncodingTests {
    @Test("SlotList, Slot and SlotView: the same bytes as Codable, for many random values, at the top and nested")
    func slotListsEncodeAsTheirCodableForm() throws {
        var generator = SplitMix64(seed: 20261127)
        func double() -> Double {
            switch generator.next() % 6 {
            case 0: return 0
            case 1: return Double(generator.next() % 100) / 4  // fits in a half float
            case 2: return Double(generator.next() % 1_000_000) / 1000
            case 3: return -Double(generator.next() % 10_000) * 1e-7
            case 4: return .infinity
            default: return Double(bitPattern: generator.next() >> 2)
            }
        }
        func text() -> String {
            let pieces = ["within working hours", "90 min after working hours, ends 19:30", "Asia/Kolkata", "夜", "é", "", "2026-03-29T01:30"]
            return (0..<Int(generator.next() % 4)).map { _ in pieces[Int(generator.next() % UInt64(pieces.count))] }.joined(separator: " ")
        }
        func date() -> Date {
            let seconds = Double(Int64(generator.next() % 4_000_000_000) - 500_000_000)
            return Date(timeIntervalSince1970: generator.next() % 3 == 0 ? seconds + 0.25 : seconds)
        }
        func view() -> SlotView {
            SlotView(personID: UUID(), timeZone: text(), localStart: text(), localEnd: text(), inconvenience: double(),
                     reasons: (0..<Int(generator.next() % 3)).map { _ in text() })
        }
        for _ in 0..<300 {
            let slots = (0..<Int(generator.next() % 12)).map { _ in
                Slot(start: date(), end: date(), score: double(), participants: (0..<Int(generator.next() % 3)).map { _ in view() }, explanation: text())
            }
            let list = SlotList(slots: slots, candidates: Int(Int64(bitPattern: generator.next()) >> Int(generator.next() % 64)),
                                burden: (0..<Int(generator.next() % 3)).map { _ in double() })
            let encoder = CBOREncoder()
            #expect(try encoder.encodeBytes(list) == encoder.encodeWithoutDirectEncodings(list))
            // Nested in another message, and alone.
            #expect(try encoder.encodeBytes([list, list]) == encoder.encodeWithoutDirectEncodings([list, list]))
            if let slot = slots.first {
                #expect(try encoder.encodeBytes(slot) == encoder.encodeWithoutDirectEncodings(slot))
            }
            // And it decodes back to the same value.
            #expect(try CBORDecoder().decode(SlotList.self, from: Data(encoder.encodeBytes(list))) == list)
        }
    }

    @Test("Meeting, BookMeetingRequest, CancelMeetingRequest: the same bytes as Codable with every optional present or absent")
    func meetingsEncodeAsTheirCodableForm() throws {
        var generator = SplitMix64(seed: 20261128)
        func maybe<T>(_ value: T) -> T? { generator.next() % 2 == 0 ? value : nil }
        func date() -> Date {
            let seconds = Double(Int64(generator.next() % 4_000_000_000) - 500_000_000)
            return Date(timeIntervalSince1970: generator.next() % 3 == 0 ? seconds + 0.5 : seconds)
        }
        func number() -> Int { Int(Int64(bitPattern: generator.next()) >> Int(generator.next() % 64)) }
        let texts = ["", "Career goals", "夜の会議 — é", String(repeating: "agenda ", count: 40), "Europe/London", "https://video.example/room/abc"]
        func text() -> String { texts[Int(generator.next() % UInt64(texts.count))] }
        for _ in 0..<500 {
            let meeting = Meeting(
                id: UUID(), matchID: UUID(), programID: UUID(), participantIDs: (0..<Int(generator.next() % 3)).map { _ in UUID() },
                start: date(), end: date(), timeZone: text(), status: MeetingStatus.allCases[Int(generator.next() % 4)],
                agenda: maybe(text()), videoURL: text(), seriesID: maybe(UUID()), occurrence: maybe(number()), sequence: number(),
                cancelReason: maybe(text()), version: number(), createdAt: date(), updatedAt: date()
            )
            let encoder = CBOREncoder()
            #expect(try encoder.encodeBytes(meeting) == encoder.encodeWithoutDirectEncodings(meeting))
            #expect(try encoder.encodeBytes([meeting, meeting]) == encoder.encodeWithoutDirectEncodings([meeting, meeting]))
            #expect(try CBORDecoder().decode(Meeting.self, from: Data(encoder.encodeBytes(meeting))) == meeting)
            let booking = BookMeetingRequest(matchID: UUID(), start: date(), durationMinutes: number(), timeZone: text(), agenda: maybe(text()))
            #expect(try encoder.encodeBytes(booking) == encoder.encodeWithoutDirectEncodings(booking))
            #expect(try CBORDecoder().decode(BookMeetingRequest.self, from: Data(encoder.encodeBytes(booking))) == booking)
            let cancellation = CancelMeetingRequest(meetingID: UUID(), reason: text())
            #expect(try encoder.encodeBytes(cancellation) == encoder.encodeWithoutDirectEncodings(cancellation))
        }
    }
}
