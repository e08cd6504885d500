// tandem-fuzz: fuzzes the CBOR decoders, the frame decoder, the envelope decoders and inflation.
//
// Two ways to run it (see README.md, "Fuzzing"):
// - as built by `swift build`: a randomized, mutation-based driver with outcome-guided corpus
//   growth; `tandem-fuzz --seconds 60` (CI runs this);
// - with libFuzzer (coverage-guided, with AddressSanitizer): the build command is in README.md;
//   `tandem_fuzz_main` below then hands over to libFuzzer's driver.

#if TANDEM_LIBFUZZER

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// SwiftPM links executables with `main` aliased to `<module>_main`; in libFuzzer mode that
/// entry point hands control to libFuzzer's driver.
@_cdecl("tandem_fuzz_main")
func tandemFuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in
        _ = FuzzTarget.run(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
        return 0
    }
}

#else

import Foundation

@main
enum TandemFuzz {
    static func main() throws {
        var options = RandomDriver.Options()
        var arguments = CommandLine.arguments.dropFirst()
        while let argument = arguments.popFirst() {
            switch argument {
            case "--seconds": options.seconds = value(argument, arguments.popFirst(), Double.init, "a number of seconds above 0") { $0 > 0 }
            case "--seed": options.seed = value(argument, arguments.popFirst(), UInt64.init, "a whole number of 0 or more") { _ in true }
            case "--max-length": options.maxLength = value(argument, arguments.popFirst(), Int.init, "a length of 1 or more bytes") { $0 > 0 }
            case "--corpus":
                let directory = value(argument, arguments.popFirst(), { $0 }, "a directory") { !$0.isEmpty }
                do {
                    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                } catch {
                    fail("--corpus: cannot create \(directory): \(error.localizedDescription)")
                }
                options.corpus = directory
            case "--replay":
                let path = arguments.popFirst() ?? ""
                let data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
                print(FuzzTarget.run(data))
                exit(0)
            case "-h", "--help":
                print("""
                usage: tandem-fuzz [--seconds N] [--seed S] [--max-length L] [--corpus DIR] [--replay FILE]
                  Mutates valid Tandem messages and frames and checks the decoders' invariants.
                  A crash or hang writes the input to fuzz-crash.bin / fuzz-hang.bin.
                """)
                exit(0)
            default:
                fail("unknown argument \(argument); see --help")
            }
        }
        exit(RandomDriver(options: options).run())
    }

    /// The option's value, or exit 2 naming the option and what it takes.
    static func value<T>(_ option: String, _ text: String?, _ parse: (String) -> T?, _ rule: String, _ valid: (T) -> Bool) -> T {
        guard let text, let parsed = parse(text), valid(parsed) else { fail("\(option) takes \(rule), not '\(text ?? "")'") }
        return parsed
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("tandem-fuzz: \(message)\n".utf8))
        exit(2)
    }
}

#endif
