import Foundation
import TandemTestSupport
import Testing

@Suite("Test files: one folder per test process, removed once the process is gone")
struct ScratchTests {
    @Test("a folder named for a process that is no longer running is removed; a running one's, and any other, are kept")
    func abandonedFoldersAreRemoved() throws {
        let parent = Scratch.directory("abandoned")
        let dead = "\(parent)/999999999"  // above Linux's largest pid (2^22)
        let running = "\(parent)/\(getppid())"
        let other = "\(parent)/notes"
        for folder in [dead, running, other] {
            try FileManager.default.createDirectory(atPath: folder + "/data", withIntermediateDirectories: true)
        }
        Scratch.removeAbandoned(in: parent)
        #expect(!FileManager.default.fileExists(atPath: dead))
        #expect(FileManager.default.fileExists(atPath: running + "/data"))
        #expect(FileManager.default.fileExists(atPath: other + "/data"))
    }

    @Test("files go in this process's own folder, each with a new name")
    func ownFolder() {
        let first = Scratch.directory("store")
        let second = Scratch.path("store", suffix: ".sqlite")
        #expect(Scratch.root.hasSuffix("/tandem-tests/\(getpid())"))
        #expect(first.hasPrefix(Scratch.root + "/store-"))
        #expect(second.hasPrefix(Scratch.root + "/store-") && second.hasSuffix(".sqlite"))
        #expect(FileManager.default.fileExists(atPath: first))
        #expect(!FileManager.default.fileExists(atPath: second))
    }
}
