import Foundation
import TandemAuth
import TandemProtocols
import TandemRPC
import TandemTestSupport
import TandemWire
import Testing

/// `tandem-feedback` as platform teams run it: its own process next to a real `tandem-identity`
/// (and `tandem-scheduling` when asked for), over mutual TLS, with a stand-in matching server in
/// this process; Acme's admin signed in, with a program.
final class FeedbackProcesses: @unchecked Sendable {
    // Safe: `feedback` is replaced only by the test's own task (`restartFeedback`).
    let matching: FakeMatching
    let identityClient: RPCClient
    let feedbackClient: RPCClient
    /// Nil without scheduling (its feed then fails on its own while the others go on).
    let schedulingClient: RPCClient?
    let admin: Tokens
    let program: Program
    let adminPort: Int
    private let feedbackPort: Int
    private let feedbackArguments: [String]
    private(set) var feedback: ServiceProcess

    fileprivate init(
        matching: FakeMatching, identityClient: RPCClient, feedbackClient: RPCClient, schedulingClient: RPCClient?, admin: Tokens, program: Program,
        adminPort: Int, feedbackPort: Int, feedbackArguments: [String], feedback: ServiceProcess
    ) {
        self.matching = matching
        self.identityClient = identityClient
        self.feedbackClient = feedbackClient
        self.schedulingClient = schedulingClient
        self.admin = admin
        self.program = program
        self.adminPort = adminPort
        self.feedbackPort = feedbackPort
        self.feedbackArguments = feedbackArguments
        self.feedback = feedback
    }

    static func bearer(_ token: String) -> CallOptions {
        var options = CallOptions(timeout: .seconds(20))
        options.metadata[Metadata.Keys.authorization] = "Bearer " + token
        return options
    }

    func bearer(_ token: String) -> CallOptions { Self.bearer(token) }

    var asAdmin: CallOptions { bearer(admin.accessToken) }

    /// Starts feedback again with the same data directory and flags (after it exited).
    func restartFeedback() async throws {
        feedback = try ServiceProcess("tandem-feedback", feedbackArguments)
        #expect(await waitForPort(feedbackPort))
    }
}

/// Runs `body` with the processes of `FeedbackProcesses`; stops them afterwards (identity and
/// scheduling with SIGTERM, expected to exit 0).
func withFeedbackProcesses(scheduling withScheduling: Bool, _ body: (FeedbackProcesses) async throws -> Void) async throws {
    let directory = temporaryDirectory()
    let deployment = try ProcessDeployment(directory: directory, services: ["identity", "feedback"] + (withScheduling ? ["scheduling"] : []))
    let bootstrap = try await deployment.bootstrapIdentity()
    #expect(bootstrap.status == 0, "\(bootstrap.output)")
    let identityPort = try freePort(), schedulingPort = try freePort(), feedbackPort = try freePort(), adminPort = try freePort()
    let identity = try ServiceProcess("tandem-identity", deployment.tls("identity") + ["--port", "\(identityPort)", "--admin-port", "0", "--scrypt-log-n", "10"])
    defer { identity.send(SIGKILL) }
    let scheduling = withScheduling
        ? try ServiceProcess("tandem-scheduling", deployment.tls("scheduling") + [
            "--port", "\(schedulingPort)", "--admin-port", "0", "--identity", "127.0.0.1:\(identityPort)",
        ])
        : nil
    defer { scheduling?.send(SIGKILL) }
    #expect(await waitForPort(identityPort))
    if scheduling != nil { #expect(await waitForPort(schedulingPort)) }

    let matching = FakeMatching()
    let verifier = TokenVerifier { throw RPCError(code: .unavailable, message: "no tokens here") }
    try await withServer(
        services: [matching.service], tls: TestPKI.shared.serverTLS(name: "matching"),
        interceptors: [AuthServerInterceptor(verifier: verifier, internalMethods: Matching.internalMethods)]
    ) { _, matchingEndpoint in
        let feedbackArguments = deployment.tls("feedback") + [
            "--port", "\(feedbackPort)", "--admin-port", "\(adminPort)", "--identity", "127.0.0.1:\(identityPort)",
            "--scheduling", "127.0.0.1:\(schedulingPort)", "--matching", "127.0.0.1:\(matchingEndpoint.port)", "--sync-seconds", "1",
        ]
        let feedback = try ServiceProcess("tandem-feedback", feedbackArguments)
        #expect(await waitForPort(feedbackPort))
        let identityClient = try makeClient([Endpoint(host: "127.0.0.1", port: identityPort)], serverName: "identity")
        defer { identityClient.close() }
        let schedulingClient = withScheduling ? try makeClient([Endpoint(host: "127.0.0.1", port: schedulingPort)], serverName: "scheduling") : nil
        defer { schedulingClient?.close() }
        let feedbackClient = try makeClient([Endpoint(host: "127.0.0.1", port: feedbackPort)], serverName: "feedback")
        defer { feedbackClient.close() }
        let admin = try await eventuallyCall {
            try await identityClient.call(Identity.signIn, SignInRequest(organisation: "acme", email: "admin@acme.example", password: "bootstrap password"))
        }
        let program = try await identityClient.call(
            Identity.createProgram, ProgramInput(name: "Mentoring", format: .oneToOne, startsOn: "2026-01-01"), options: FeedbackProcesses.bearer(admin.accessToken)
        )
        let processes = FeedbackProcesses(
            matching: matching, identityClient: identityClient, feedbackClient: feedbackClient, schedulingClient: schedulingClient, admin: admin,
            program: program, adminPort: adminPort, feedbackPort: feedbackPort, feedbackArguments: feedbackArguments, feedback: feedback
        )
        defer { processes.feedback.send(SIGKILL) }
        try await body(processes)
    }
    if let scheduling {
        scheduling.send(SIGTERM)
        #expect(await scheduling.waitForExit(seconds: 30) == 0)
    }
    identity.send(SIGTERM)
    #expect(await identity.waitForExit(seconds: 30) == 0)
}
