import Foundation
import GatewayService
import TandemRPC
import TandemTestSupport
import TandemWire
import Testing

/// `tandem-gateway`'s own options: bad values fail at start-up with one line naming the option.
@Suite("tandem-gateway options")
struct GatewayOptionsTests {
    @Test("--max-message-bytes below the wire protocol's 16 KiB, or above 64 MiB, is refused naming the option and its range")
    func maxMessageBytesRange() async throws {
        let directory = Scratch.directory("gateway-options")
        let deployment = try ProcessDeployment(directory: directory, services: ["gateway"])
        let cases: [([String], [String: String], String)] = [
            // 4096 was once let through here and then failed at start with an error about maxFrameSize.
            (["--max-message-bytes", "4096"], [:], "--max-message-bytes '4096' must be a number in 16384…67108864"),
            (["--max-message-bytes", "16383"], [:], "--max-message-bytes '16383' must be a number in 16384…67108864"),
            (["--max-message-bytes", "67108865"], [:], "--max-message-bytes '67108865' must be a number in 16384…67108864"),
            ([], ["TANDEM_MAX_MESSAGE_BYTES": "1024"], "--max-message-bytes '1024' must be a number in 16384…67108864"),
        ]
        for (arguments, environment, expected) in cases {
            let result = try await ServiceProcess.run(
                "tandem-gateway", deployment.tls("gateway") + ["--port", "0", "--admin-port", "0"] + arguments, environment: environment
            )
            #expect(result.status != 0, "\(arguments) \(environment)")
            #expect(result.output.contains(expected), "\(arguments) \(environment): \(result.output)")
            #expect(!result.output.contains("maxFrameSize"), "the error is about the option, not the setting behind it")
        }
    }

    @Test("the message limit applies to every message the gateway reads: client frames, compressed requests, service frames and answers")
    func messageLimitEverywhere() throws {
        for bytes in [GatewayConfiguration.messageBytesRange.lowerBound, 1 << 20, GatewayConfiguration.messageBytesRange.upperBound] {
            var server = ServerConfiguration(host: "127.0.0.1", port: 0, tls: TestPKI.shared.serverTLS(name: "gateway"))
            var upstream = ClientConfiguration()
            GatewayConfiguration.limitMessages(to: bytes, server: &server, upstream: &upstream)
            let limits: [Int] = [server.maxFrameSize, server.maxDecompressedSize, upstream.maxFrameSize, upstream.maxDecompressedSize]
            #expect(limits == [bytes, bytes, bytes, bytes])
            // Every value of the range is one the server and the clients accept.
            try server.validate()
            try upstream.validate()
        }
        #expect(GatewayConfiguration.messageBytesRange.lowerBound == WireDefaults.minFrameSize)
    }
}
