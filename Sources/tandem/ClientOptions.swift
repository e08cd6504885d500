import ArgumentParser
import Foundation
import Logging
import TandemRPC
import TandemWire

/// Where the dev cluster and the CLI keep their files: `./.tandem/` unless `--state-dir` or
/// `TANDEM_STATE_DIR` says otherwise.
struct StateDirectory: Sendable {
    var path: String

    init(_ path: String? = nil) {
        self.path = path ?? ProcessInfo.processInfo.environment["TANDEM_STATE_DIR"] ?? ".tandem"
    }

    var certificates: String { path + "/certs" }
    var data: String { path + "/data" }
    var logs: String { path + "/logs" }
    var token: String { path + "/token" }
    var cluster: String { path + "/cluster.json" }
    var admin: String { path + "/admin.json" }
    /// The dev clock's offset (seconds) that every service of `tandem dev up` follows.
    var clock: String { path + "/clock" }
}

/// How `tandem call`, `tandem sign-in` and `tandem demo` reach an endpoint.
struct ClientOptions: ParsableArguments {
    @Option(help: "HOST:PORT to call: the gateway, or a service directly. [env: TANDEM_ENDPOINT] (default: 127.0.0.1:7100)")
    var endpoint: String?

    @Option(name: .customLong("server-name"), help: "The name the server's certificate must carry (default: gateway; with --certificate, the method's service).")
    var serverName: String?

    @Option(help: "The platform CA (PEM) that signed the server's certificate. (default: <state-dir>/certs/ca.pem, else certs/ca.pem)")
    var ca: String?

    @Option(help: "A client certificate (PEM) for mutual TLS, needed to call a service directly.")
    var certificate: String?

    @Option(help: "The client certificate's private key (PEM).")
    var key: String?

    @Option(help: "An access token (default: the one `tandem sign-in` stored). [env: TANDEM_TOKEN]")
    var token: String?

    @Option(help: "Seconds to wait for the answer.")
    var deadline: Double = 30

    @Option(name: .customLong("state-dir"), help: "The directory of the dev cluster and the stored token. [env: TANDEM_STATE_DIR] (default: .tandem)")
    var stateDirectory: String?

    var state: StateDirectory { StateDirectory(stateDirectory) }

    var endpointText: String { endpoint ?? ProcessInfo.processInfo.environment["TANDEM_ENDPOINT"] ?? "127.0.0.1:7100" }

    var caPath: String {
        if let ca { return ca }
        let dev = state.certificates + "/ca.pem"
        return FileManager.default.fileExists(atPath: dev) ? dev : "certs/ca.pem"
    }

    /// The server name to expect for a call of `service`'s method.
    func expectedServerName(for service: String) -> String {
        if let serverName { return serverName }
        if certificate != nil, !["health", "reflection", "gateway"].contains(service) { return service }
        return "gateway"
    }

    /// A client for the endpoint, checking the server's certificate for `serverName`.
    func makeClient(serverName: String) throws -> RPCClient {
        let endpoint: Endpoint
        do { endpoint = try Endpoint(parsing: endpointText) } catch { throw CLIError("--endpoint '\(endpointText)' is not HOST:PORT") }
        guard FileManager.default.isReadableFile(atPath: caPath) else {
            throw CLIError("no CA certificate at \(caPath) to check \(endpointText) with (start the dev cluster with `tandem dev up`, or pass --ca)")
        }
        let tls: ClientTLSConfiguration
        do {
            if let certificate {
                guard let key else { throw CLIError("--certificate needs --key") }
                tls = try ClientTLSConfiguration.mutual(caPath: caPath, certificatePath: certificate, keyPath: key, serverName: serverName)
            } else {
                tls = ClientTLSConfiguration(trustRoots: try loadTrustRoots(caPath), serverName: serverName)
            }
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError("cannot load the TLS files (CA \(caPath)\(certificate.map { ", certificate \($0)" } ?? "")): \(error)")
        }
        var configuration = ClientConfiguration()
        configuration.healthCheckInterval = nil
        return try RPCClient(endpoints: [endpoint], tls: tls, configuration: configuration, logger: quietLogger)
    }

    /// The token to send: `--token`, `TANDEM_TOKEN`, or the stored one.
    func accessToken() -> String? {
        if let token { return token }
        if let token = ProcessInfo.processInfo.environment["TANDEM_TOKEN"] { return token }
        return StoredToken.load(from: state.token)?.accessToken
    }

    func callOptions(token: String?) -> CallOptions {
        var metadata = Metadata()
        if let token { metadata.append(Metadata.Keys.authorization, "Bearer " + token) }
        return CallOptions(timeout: .milliseconds(Int64(deadline * 1000)), metadata: metadata)
    }
}

/// A logger that says nothing: the CLI reports failures itself, in one line.
let quietLogger = Logger(label: "tandem.cli") { _ in SwiftLogNoOpLogHandler() }

/// The token `tandem sign-in` keeps (mode 0600).
struct StoredToken: Codable {
    var accessToken: String
    var refreshToken: String?
    var accessExpiresAt: Date
    var organisation: String
    var email: String
    var endpoint: String

    static func load(from path: String) -> StoredToken? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(StoredToken.self, from: data)
    }

    func save(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writePrivateFile(path, try encoder.encode(self))
    }
}

/// Writes a file readable by its owner only (0600), replacing it atomically.
func writePrivateFile(_ path: String, _ data: Data) throws {
    let directory = (path as NSString).deletingLastPathComponent
    if !directory.isEmpty { try ensureDirectory(directory) }
    let temporary = path + ".tmp"
    _ = FileManager.default.createFile(atPath: temporary, contents: nil, attributes: [.posixPermissions: 0o600])
    guard let handle = FileHandle(forWritingAtPath: temporary) else { throw CLIError("cannot write \(path)") }
    try handle.write(contentsOf: data)
    try handle.close()
    guard rename(temporary, path) == 0 else { throw CLIError("cannot write \(path): \(String(cString: strerror(errno)))") }
    chmod(path, 0o600)
}

/// One line for a failed call: what failed, where, and the status.
func describeFailure(_ error: any Error, method: String, endpoint: String) -> CLIError {
    switch error {
    case let error as CLIError:
        return error
    case let error as RPCError:
        let message = error.message.isEmpty ? "" : ": " + error.message.split(separator: "\n").joined(separator: " ")
        var line = "\(method) at \(endpoint) failed with \(error.code.name) (\(error.code.rawValue))\(message)"
        if let retry = error.metadata[Metadata.Keys.retryAfter] { line += " (retry after \(retry) ms)" }
        return CLIError(line)
    default:
        return CLIError("\(method) at \(endpoint) failed: \(String(describing: error).split(separator: "\n").joined(separator: " "))")
    }
}
