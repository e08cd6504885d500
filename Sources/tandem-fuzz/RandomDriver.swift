#if !TANDEM_LIBFUZZER
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif
import TandemRandom

/// The input being run, for the crash handler (which may only use async-signal-safe calls).
nonisolated(unsafe) private var currentInput: UnsafeMutablePointer<UInt8>?
nonisolated(unsafe) private var currentLength = 0
private let runStartedAt = Atomic<UInt64>(0)

private func saveCurrentInput(_ path: StaticString) {
    let fd = open(UnsafeRawPointer(path.utf8Start).assumingMemoryBound(to: CChar.self), O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    if fd >= 0, let input = currentInput {
        _ = write(fd, input, currentLength)
        _ = close(fd)
    }
}

/// A mutation-based fuzzing loop: start from valid seeds, mutate, run, and keep inputs that
/// produce an outcome not seen before (a cheap stand-in for coverage feedback).
struct RandomDriver {
    struct Options {
        var seconds = 60.0
        var seed: UInt64 = UInt64(Date().timeIntervalSince1970)
        var maxLength = 4096
        var corpus: String?
    }

    let options: Options

    func run() -> Int32 {
        installCrashHandlers()
        startWatchdog()
        currentInput = .allocate(capacity: options.maxLength + 64)

        var rng = SplitMix64(seed: options.seed)
        var corpus = FuzzTarget.seeds()
        if let directory = options.corpus, let files = try? FileManager.default.contentsOfDirectory(atPath: directory) {
            for file in files.sorted() {
                if let data = FileManager.default.contents(atPath: directory + "/" + file) { corpus.append(Array(data)) }
            }
        }
        var seen = Set<String>()
        for input in corpus { seen.insert(key(run(input))) }

        let start = Date()
        var executions = 0
        var lastReport = start
        print("tandem-fuzz: seed \(options.seed), \(corpus.count) seed inputs, \(options.seconds) s")
        while Date().timeIntervalSince(start) < options.seconds {
            var input = corpus[Int(rng.next() % UInt64(corpus.count))]
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                mutate(&input, corpus: corpus, rng: &rng)
            }
            if input.count > options.maxLength { input.removeLast(input.count - options.maxLength) }
            let outcome = key(run(input))
            executions += 1
            if seen.insert(outcome).inserted, corpus.count < 4096 {
                corpus.append(input)
                if let directory = options.corpus {
                    let path = directory + "/input-\(corpus.count)"
                    if !FileManager.default.createFile(atPath: path, contents: Data(input)) {
                        FileHandle.standardError.write(Data("tandem-fuzz: cannot write \(path); the input stays in memory only\n".utf8))
                    }
                }
            }
            if Date().timeIntervalSince(lastReport) >= 10 {
                lastReport = Date()
                print("  \(Int(lastReport.timeIntervalSince(start))) s: \(executions) runs, corpus \(corpus.count), outcomes \(seen.count)")
            }
        }
        let elapsed = Date().timeIntervalSince(start)
        print("tandem-fuzz: \(executions) runs in \(Int(elapsed)) s (\(Int(Double(executions) / elapsed))/s), corpus \(corpus.count), \(seen.count) distinct outcomes, no crash, no hang")
        return 0
    }

    private func run(_ input: [UInt8]) -> (FuzzTarget.Outcome, String) {
        input.withUnsafeBufferPointer { buffer in
            if let base = buffer.baseAddress { currentInput!.update(from: base, count: buffer.count) }
        }
        currentLength = input.count
        runStartedAt.store(DispatchTime.now().uptimeNanoseconds, ordering: .relaxed)
        defer { runStartedAt.store(0, ordering: .relaxed) }
        return FuzzTarget.run(input)
    }

    private func key(_ result: (FuzzTarget.Outcome, String)) -> String {
        "\(result.0.rawValue):\(result.1)"
    }

    private static let interestingBytes: [UInt8] = [
        0x00, 0x01, 0x17, 0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1F, 0x20, 0x3F, 0x40, 0x5F, 0x60, 0x7F, 0x80,
        0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xD8, 0xDF, 0xF4, 0xF6, 0xF7, 0xF8, 0xF9, 0xFA, 0xFB, 0xFF,
    ]
    private static let interestingWords: [UInt32] = [0, 1, 0x7F, 0x80, 0xFF, 0x4000, 0xFFFF, 0x10000, 0x40_0000, 0x7FFF_FFFF, 0xFFFF_FFFF]

    private func mutate(_ input: inout [UInt8], corpus: [[UInt8]], rng: inout SplitMix64) {
        func random(_ bound: Int) -> Int { bound <= 0 ? 0 : Int(rng.next() % UInt64(bound)) }
        switch random(9) {
        case 0 where !input.isEmpty:
            input[random(input.count)] ^= UInt8(1 << random(8))
        case 1 where !input.isEmpty:
            input[random(input.count)] = Self.interestingBytes[random(Self.interestingBytes.count)]
        case 2:
            let bytes = (0..<(1 + random(8))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            input.insert(contentsOf: bytes, at: random(input.count + 1))
        case 3 where input.count > 1:
            let start = random(input.count)
            input.removeSubrange(start..<min(input.count, start + 1 + random(16)))
        case 4 where !input.isEmpty:
            let start = random(input.count)
            let piece = input[start..<min(input.count, start + 1 + random(32))]
            input.insert(contentsOf: piece, at: random(input.count + 1))
        case 5:
            let other = corpus[random(corpus.count)]
            guard !other.isEmpty else { return }
            let start = random(other.count)
            input.insert(contentsOf: other[start..<min(other.count, start + 1 + random(64))], at: random(input.count + 1))
        case 6 where input.count >= 4:
            let at = random(input.count - 3)
            let word = Self.interestingWords[random(Self.interestingWords.count)]
            for i in 0..<4 { input[at + i] = UInt8(truncatingIfNeeded: word >> (24 - 8 * UInt32(i))) }
        case 7 where !input.isEmpty:
            input.removeLast(random(input.count))
        default:
            if !input.isEmpty { input[random(input.count)] = UInt8(truncatingIfNeeded: rng.next()) }
        }
    }

    private func installCrashHandlers() {
        let handler: @convention(c) (Int32) -> Void = { signal in
            saveCurrentInput("fuzz-crash.bin")
            let message: StaticString = "tandem-fuzz: CRASH, input written to fuzz-crash.bin\n"
            _ = write(2, message.utf8Start, message.utf8CodeUnitCount)
            _exit(1)
        }
        for sig in [SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGABRT, SIGFPE] {
            signal(sig, handler)
        }
    }

    /// Reports an input that runs for more than 5 s as a hang.
    private func startWatchdog() {
        let thread = Thread {
            while true {
                Thread.sleep(forTimeInterval: 0.25)
                let started = runStartedAt.load(ordering: .relaxed)
                if started != 0, DispatchTime.now().uptimeNanoseconds - started > 5_000_000_000 {
                    saveCurrentInput("fuzz-hang.bin")
                    let message: StaticString = "tandem-fuzz: HANG (> 5 s), input written to fuzz-hang.bin\n"
                    _ = write(2, message.utf8Start, message.utf8CodeUnitCount)
                    _exit(1)
                }
            }
        }
        thread.start()
    }
}

#endif
