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
            case "--seconds": options.seconds = Double(arguments.popFirst() ?? "") ?? options.seconds
            case "--seed": options.seed = UInt64(arguments.popFirst() ?? "") ?? options.seed
            case "--max-length": options.maxLength = Int(arguments.popFirst() ?? "") ?? options.maxLength
            case "--corpus": options.corpus = arguments.popFirst()
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
                FileHandle.standardError.write(Data("unknown argument \(argument); see --help\n".utf8))
                exit(2)
            }
        }
        exit(RandomDriver(options: options).run())
    }
}

#endif
