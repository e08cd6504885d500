import Foundation
import TandemServiceKit
import TandemTestSupport
import Testing

@Suite("DevClock: real time plus an offset from a file")
struct DevClockTests {
    /// A clock file path in a fresh temporary directory (the file itself is not created).
    func clockPath() throws -> String {
        Scratch.directory("clock") + "/clock"
    }

    func write(_ text: String, to path: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    @Test("a missing file is no offset: real time")
    func missingFile() throws {
        let clock = try DevClock(path: try clockPath())
        #expect(clock.offset == 0)
        #expect(abs(clock.now().timeIntervalSinceNow) < 5)
    }

    @Test("the file's seconds shift now(); an empty file is 0")
    func presentFile() throws {
        let path = try clockPath()
        try write("604800\n", to: path)
        let clock = try DevClock(path: path)
        #expect(clock.offset == 604_800)
        #expect(abs(clock.now().timeIntervalSinceNow - 604_800) < 5)
        try write("  \n", to: path)
        #expect(try DevClock(path: path).offset == 0)
        try write("90.5", to: path)
        #expect(try DevClock(path: path).offset == 90.5)
    }

    @Test("a change is seen within the re-read interval, and not before it")
    func changedFile() async throws {
        let path = try clockPath()
        try write("3600", to: path)
        let cached = try DevClock(path: path, rereadInterval: .seconds(3600))
        let following = try DevClock(path: path)
        try DevClock.writeOffset(7200, to: path)
        #expect(cached.offset == 3600, "an hour's re-read interval keeps the offset read at start")
        let deadline = Date().addingTimeInterval(10)
        while following.offset != 7200 && Date() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        #expect(following.offset == 7200)
    }

    @Test("garbage is refused at start-up and ignored later (the last offset read stays); a deleted file is 0")
    func garbage() throws {
        let path = try clockPath()
        try write("next tuesday", to: path)
        #expect { try DevClock(path: path) } throws: { error in
            let message = "\(error)"
            return message.contains(path) && message.contains("next tuesday")
        }
        for bad in ["nan", "inf", "1e300", "7d"] {
            try write(bad, to: path)
            #expect(throws: DevClockError.self, "\(bad)") { try DevClock.readOffset(at: path) }
        }
        try write("60", to: path)
        let clock = try DevClock(path: path, rereadInterval: .zero)
        try write("sixty", to: path)
        #expect(clock.offset == 60)
        try FileManager.default.removeItem(atPath: path)
        #expect(clock.offset == 0)
    }

    @Test("advance and moveForward only move forward; writes are whole")
    func advancing() throws {
        let path = try clockPath()
        #expect(try DevClock.advance(path, by: 86_400) == 86_400)
        #expect(try DevClock.advance(path, by: 3600) == 90_000)
        #expect(try DevClock.readOffset(at: path) == 90_000)
        #expect(throws: DevClockError.self) { try DevClock.advance(path, by: -60) }
        #expect(throws: DevClockError.self) { try DevClock.moveForward(path, to: 60) }
        try DevClock.moveForward(path, to: 100_000.25)
        #expect(try DevClock.readOffset(at: path) == 100_000.25)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "100000.25\n")
    }

    @Test("amounts: a number and m, h, d or w; moving back is refused by name")
    func amounts() throws {
        #expect(try DevClock.parseAmount("7d") == 604_800)
        #expect(try DevClock.parseAmount("2w") == 1_209_600)
        #expect(try DevClock.parseAmount("90m") == 5400)
        #expect(try DevClock.parseAmount("1.5h") == 5400)
        #expect { try DevClock.parseAmount("-1d") } throws: { "\($0)".contains("only moves forward") }
        #expect { try DevClock.parseAmount("0h") } throws: { "\($0)".contains("only moves forward") }
        for bad in ["7", "d", "7 days", "7y", ""] {
            #expect(throws: DevClockError.self, "\(bad)") { try DevClock.parseAmount(bad) }
        }
        #expect(DevClock.describe(offset: 0) == "+0")
        #expect(DevClock.describe(offset: 604_800) == "+7d")
        #expect(DevClock.describe(offset: 93_780) == "+1d 2h 3m")
        #expect(DevClock.describe(offset: -7200) == "-2h")
    }
}
