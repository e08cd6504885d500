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

/// `tandem sign-in`: signs in through the gateway and stores the token for later calls.
struct SignIn: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign-in",
        abstract: "Sign in and store the access token (<state-dir>/token, mode 0600) for `tandem call`.",
        discussion: "The password comes from TANDEM_PASSWORD, --password-file, or a prompt; never from a flag."
    )

    @Option(help: "The organisation's slug. (default: the dev cluster's)")
    var organisation: String?

    @Option(help: "Your email. (default: the dev cluster's admin)")
    var email: String?

    @Option(name: .customLong("password-file"), help: "A file holding the password.")
    var passwordFile: String?

    @OptionGroup var client: ClientOptions

    func run() async throws {
        let dev = DevAdmin.load(from: client.state.admin)
        guard let organisation = organisation ?? dev?.organisation, let email = email ?? dev?.email else {
            throw ValidationError("give --organisation and --email (no dev cluster admin in \(client.state.admin))")
        }
        let password: String
        if let passwordFile {
            guard let text = try? String(contentsOfFile: passwordFile, encoding: .utf8) else { throw CLIError("--password-file \(passwordFile): cannot read it") }
            password = text.trimmingCharacters(in: .newlines)
        } else if let text = ProcessInfo.processInfo.environment["TANDEM_PASSWORD"] {
            password = text
        } else if email == dev?.email, organisation == dev?.organisation, let devPassword = dev?.password {
            password = devPassword
        } else if let pointer = getpass("Password for \(email): ") {
            password = String(cString: pointer)
        } else {
            throw CLIError("no password given (TANDEM_PASSWORD, --password-file or a terminal)")
        }
        let endpoint = client.endpointText
        let rpc = try client.makeClient(serverName: client.expectedServerName(for: "identity"))
        defer { rpc.close() }
        let tokens: Tokens
        do {
            tokens = try await rpc.call(Identity.signIn, SignInRequest(organisation: organisation, email: email, password: password), options: client.callOptions(token: nil))
        } catch {
            throw describeFailure(error, method: Identity.signIn.fullName, endpoint: endpoint)
        }
        let stored = StoredToken(
            accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, accessExpiresAt: tokens.accessExpiresAt,
            organisation: organisation, email: email, endpoint: endpoint
        )
        try stored.save(to: client.state.token)
        print("signed in as \(email) (\(tokens.roles.joined(separator: ", "))); token stored in \(client.state.token), valid until \(JSONCoding.formatDate(tokens.accessExpiresAt))")
    }
}
