import ArgumentParser
import Foundation
import TandemProtocols
import TandemRPC
import TandemWire

/// `tandem call`: any method of the gateway or a service, with a JSON body (like grpcurl).
struct Call: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Call a method with a JSON body and print the answer as JSON.",
        discussion: """
            The body is the method's request message as JSON, keys as the property names in \
            Protocols/*.md, dates in ISO 8601, ids as strings. Streaming answers print one JSON \
            document per message. Examples:
              tandem call identity.WhoAmI
              tandem call matching.RunCohort --json '{"programID": "…", "objective": "max-total"}'
              tandem call health.Check --endpoint 127.0.0.1:7103 --server-name scheduling \\
                --certificate .tandem/certs/cli.pem --key .tandem/certs/cli-key.pem
            """
    )

    @Argument(help: "The method, service.Method (see --list).")
    var method: String?

    @Option(help: "The request as JSON (default: {}); '-' reads it from standard input; @FILE reads a file.")
    var json: String?

    @Flag(help: "List the methods with their request and response types.")
    var list = false

    @Flag(help: "Print the answer on one line.")
    var compact = false

    @OptionGroup var client: ClientOptions

    func run() async throws {
        if list {
            for line in MethodRegistry.listing { print(line) }
            return
        }
        guard let method else { throw ValidationError("name a method (tandem call --list shows them)") }
        guard let callable = MethodRegistry.all[method] else {
            let close = MethodRegistry.all.keys.filter { $0.lowercased() == method.lowercased() }.first
            throw CLIError("unknown method '\(method)'" + (close.map { "; did you mean \($0)?" } ?? " (tandem call --list shows them)"))
        }
        let body = try readBody()
        let endpoint = client.endpointText
        let rpc = try client.makeClient(serverName: client.expectedServerName(for: callable.descriptor.service))
        defer { rpc.close() }
        let compact = self.compact
        do {
            try await callable.invoke(rpc, body, client.callOptions(token: client.accessToken())) { data in
                if compact, let object = try? JSONSerialization.jsonObject(with: data),
                    let line = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) {
                    print(String(decoding: line, as: UTF8.self))
                } else {
                    print(String(decoding: data, as: UTF8.self))
                }
            }
        } catch {
            throw describeFailure(error, method: method, endpoint: endpoint)
        }
    }

    private func readBody() throws -> Data {
        guard let json else { return Data("{}".utf8) }
        if json == "-" { return FileHandle.standardInput.readDataToEndOfFile() }
        if json.hasPrefix("@") {
            let path = String(json.dropFirst())
            guard let data = FileManager.default.contents(atPath: path) else { throw CLIError("--json @\(path): cannot read the file") }
            return data
        }
        return Data(json.utf8)
    }
}
