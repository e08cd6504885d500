import Foundation
import TandemProtocols
import TandemRPC
import TandemTestSupport
import TandemWire
import Testing

/// `tandem-identity` as platform teams run it: a process with flags, environment, files.
@Suite("tandem-identity executable")
struct ProcessTests {
    @Test("--version names the wire protocol; bad configuration fails at start-up with one clear line")
    func configuration() async throws {
        let version = try await ServiceProcess.run("tandem-identity", ["--version"])
        #expect(version.status == 0)
        #expect(version.output.contains("wire protocol 1"))

        let directory = temporaryDirectory()
        try TestPKI.shared.writeFiles(for: ["identity"], into: URL(fileURLWithPath: directory))
        let tls = ["--certificate", directory + "/identity.pem", "--key", directory + "/identity-key.pem", "--ca", directory + "/ca.pem", "--data-dir", directory + "/data"]
        let clock = directory + "/clock"
        try Data("next week".utf8).write(to: URL(fileURLWithPath: clock))
        for (arguments, environment, expected) in [
            (["--data-dir", directory + "/data"], [:], "--certificate"),
            (tls + ["--port", "70000"], [:], "--port must be between 0 and 65535"),
            (tls, ["TANDEM_PORT": "eighty"], "TANDEM_PORT='eighty' is not a whole number"),
            (tls + ["--host", "not an address"], [:], "is not an IP address"),
            (tls + ["--log-level", "chatty"], [:], "--log-level 'chatty'"),
            (tls + ["--frobnicate"], [:], "frobnicate"),
            (tls + ["--scrypt-log-n", "40"], [:], "--scrypt-log-n"),
            (tls + ["--clock-file", clock], [:], "--clock-file \(clock): the dev clock file must hold an offset in seconds, got 'next week'"),
            (tls, ["TANDEM_CLOCK_FILE": clock], "--clock-file \(clock)"),
            (tls, ["TANDEM_EXIT_WITH_PARENT": "maybe"], "TANDEM_EXIT_WITH_PARENT='maybe' must be 1 or 0"),
            (tls, ["TANDEM_COMPRESSION_THRESHOLD": "-1"], "TANDEM_COMPRESSION_THRESHOLD must be between 0 and 67108864, got -1"),
        ] as [([String], [String: String], String)] {
            let result = try await ServiceProcess.run("tandem-identity", arguments, environment: environment)
            #expect(result.status != 0, "\(arguments) \(environment)")
            #expect(result.output.contains(expected), "\(arguments): \(result.output)")
            #expect(!result.output.contains("listening"), "nothing is served")
        }
        // The port is in use: one line, non-zero exit.
        let port = try freePort()
        let first = try ServiceProcess("tandem-identity", tls + ["--port", "\(port)", "--admin-port", "0", "--scrypt-log-n", "10"])
        defer { first.send(SIGKILL) }
        #expect(await waitForPort(port))
        let second = try await ServiceProcess.run("tandem-identity", tls + ["--port", "\(port)", "--admin-port", "0"])
        #expect(second.status != 0)
        #expect(second.output.contains("cannot listen on 127.0.0.1:\(port)"), "\(second.output)")
    }

    @Test("bootstrap, serve over mutual TLS, SIGTERM drains and exits 0; kill -9 loses nothing acknowledged")
    func lifecycle() async throws {
        let directory = temporaryDirectory()
        try TestPKI.shared.writeFiles(for: ["identity"], into: URL(fileURLWithPath: directory))
        let data = directory + "/data"
        let bootstrap = try await ServiceProcess.run(
            "tandem-identity",
            ["bootstrap", "--data-dir", data, "--organisation", "Acme", "--slug", "acme", "--admin-email", "admin@acme.example", "--admin-name", "Ada", "--scrypt-log-n", "10"],
            environment: ["TANDEM_ADMIN_PASSWORD": "bootstrap password"]
        )
        #expect(bootstrap.status == 0, "\(bootstrap.output)")
        #expect(bootstrap.output.contains("organisation acme"))
        #expect(!bootstrap.output.contains("bootstrap password"))
        let again = try await ServiceProcess.run(
            "tandem-identity", ["bootstrap", "--data-dir", data, "--organisation", "Other", "--slug", "other", "--admin-email", "a@b.example", "--admin-name", "A"],
            environment: ["TANDEM_ADMIN_PASSWORD": "bootstrap password"]
        )
        #expect(again.status != 0 && again.output.contains("already bootstrapped"))

        // Configuration from the environment this time.
        let port = try freePort()
        let environment = [
            "TANDEM_PORT": "\(port)", "TANDEM_DATA_DIR": data, "TANDEM_CERTIFICATE": directory + "/identity.pem", "TANDEM_KEY": directory + "/identity-key.pem",
            "TANDEM_CA": directory + "/ca.pem", "TANDEM_SCRYPT_LOG_N": "10", "TANDEM_LOG_FORMAT": "json", "TANDEM_ADMIN_PORT": "0",
        ]
        var server = try ServiceProcess("tandem-identity", [], environment: environment)
        #expect(await waitForPort(port))
        let client = try makeClient([Endpoint(host: "127.0.0.1", port: port)], serverName: "identity")
        defer { client.close() }
        let admin = try await client.call(Identity.signIn, SignInRequest(organisation: "acme", email: "admin@acme.example", password: "bootstrap password"))
        var options = CallOptions()
        options.metadata[Metadata.Keys.authorization] = "Bearer " + admin.accessToken
        let person = try await client.call(Identity.createPerson, CreatePersonRequest(person: personInput("durable@acme.example")), options: options)

        // Crash right after the acknowledgement: the person must still be there.
        server.send(SIGKILL)
        #expect(await server.waitForExit() != 0)
        server = try ServiceProcess("tandem-identity", [], environment: environment)
        #expect(await waitForPort(port))
        let authorized = options
        let found = try await eventuallyCall { try await client.call(Identity.getPerson, PersonRef(personID: person.id), options: authorized) }
        #expect(found.email == "durable@acme.example", "acknowledged before kill -9, and the access token survived the restart")

        server.send(SIGTERM)
        #expect(await server.waitForExit(seconds: 30) == 0)
        let log = server.output
        #expect(log.contains("\"message\":\"draining\""), "JSON logs: \(log.prefix(400))")
        #expect(!log.contains("bootstrap password") && !log.contains(admin.accessToken) && !log.contains(admin.refreshToken!), "no secret in the logs")
    }
}
