import ArgumentParser
import Foundation
import TandemProtocols
import TandemRPC
import TandemWire

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
