import Foundation
import TandemServiceKit
import TandemTestSupport
import Testing

@Suite("Service options")
struct ServiceOptionsTests {
    @Test("--compression-threshold: answers from that size are compressed, 0 turns compression off, 1024 by default")
    func compressionThreshold() throws {
        let directory = FileManager.default.temporaryDirectory.appending(path: "tandem-options-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try TestPKI.shared.writeFiles(for: ["scheduling"], into: directory)
        let files = [
            "TANDEM_CERTIFICATE": directory.appending(path: "scheduling.pem").path, "TANDEM_KEY": directory.appending(path: "scheduling-key.pem").path,
            "TANDEM_CA": directory.appending(path: "ca.pem").path,
        ]
        func server(_ environment: [String: String], _ arguments: [String] = []) throws -> (enabled: Bool, threshold: Int) {
            let settings = try ServiceOptions.parse(arguments).resolve(service: "scheduling", defaultPort: 7103, environment: files.merging(environment) { $1 })
            return (settings.serverConfiguration.compressionEnabled, settings.serverConfiguration.compressionThreshold)
        }
        #expect(try server([:]) == (true, 1024))
        #expect(try server(["TANDEM_COMPRESSION_THRESHOLD": "0"]) == (false, 1))
        #expect(try server(["TANDEM_COMPRESSION_THRESHOLD": "0"], ["--compression-threshold", "65536"]) == (true, 65_536), "the flag wins")
        #expect(throws: ServiceConfigurationError.self) { try server(["TANDEM_COMPRESSION_THRESHOLD": "a lot"]) }
        #expect(throws: ServiceConfigurationError.self) { try server([:], ["--compression-threshold", "\(128 << 20)"]) }
    }
}
