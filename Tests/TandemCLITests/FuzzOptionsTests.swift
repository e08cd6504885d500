import Foundation
import TandemTestSupport
import Testing

@Suite("tandem-fuzz options")
struct FuzzOptionsTests {
    @Test("a bad value exits 2 naming the option and what it takes; an unusable corpus directory is refused before any run")
    func badOptions() async throws {
        for (arguments, message) in [
            (["--seconds", "soon"], "--seconds takes a number of seconds above 0, not 'soon'"),
            (["--seconds", "0"], "--seconds takes a number of seconds above 0, not '0'"),
            (["--seed", "-1"], "--seed takes a whole number of 0 or more, not '-1'"),
            (["--max-length"], "--max-length takes a length of 1 or more bytes, not ''"),
            (["--loud"], "unknown argument --loud; see --help"),
        ] {
            let run = try await ServiceProcess.run("tandem-fuzz", arguments)
            #expect(run.status == 2, "\(arguments)")
            #expect(run.output.contains("tandem-fuzz: " + message), "\(arguments): \(run.output)")
        }
        let file = Scratch.path("not-a-directory")
        _ = FileManager.default.createFile(atPath: file, contents: Data())
        let run = try await ServiceProcess.run("tandem-fuzz", ["--corpus", file + "/corpus", "--seconds", "1"])
        #expect(run.status == 2)
        #expect(run.output.contains("tandem-fuzz: --corpus: cannot create \(file)/corpus"), "\(run.output)")
        #expect(!run.output.contains("runs in"), "no fuzzing started")
    }

    @Test("the corpus directory is made, and every new input is written to it")
    func corpusIsWritten() async throws {
        let corpus = Scratch.path("corpus") + "/inputs"
        let run = try await ServiceProcess.run("tandem-fuzz", ["--corpus", corpus, "--seconds", "1", "--seed", "3"])
        #expect(run.status == 0, "\(run.output)")
        // "…, 11 seed inputs, …" at the start and "…, corpus 64, …" at the end: each input added
        // between them is a file.
        func number(before word: String) -> Int? {
            guard let range = run.output.range(of: word) else { return nil }
            return Int(run.output[..<range.lowerBound].split(separator: " ").last ?? "")
        }
        func number(after word: String) -> Int? {
            guard let range = run.output.range(of: word, options: .backwards) else { return nil }
            return Int(run.output[range.upperBound...].prefix { $0.isNumber })
        }
        let seeds = try #require(number(before: " seed inputs"))
        let final = try #require(number(after: "corpus "))
        let files = try FileManager.default.contentsOfDirectory(atPath: corpus)
        #expect(files.count == final - seeds)
        #expect(files.allSatisfy { $0.hasPrefix("input-") })
    }
}
