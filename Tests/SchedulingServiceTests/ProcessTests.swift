import Foundation
import TandemProtocols
import TandemRPC
import TandemTestSupport
import TandemWire
import Testing

/// `tandem-scheduling` as platform teams run it: its own process next to a real identity process.
@Suite("tandem-scheduling executable")
struct SchedulingProcessTests {
    @Test("bad configuration fails at start-up with one clear line")
    func configuration() async throws {
        let directory = temporaryDirectory()
        try TestPKI.shared.writeFiles(for: ["scheduling"], into: URL(fileURLWithPath: directory))
        let tls = ["--certificate", directory + "/scheduling.pem", "--key", directory + "/scheduling-key.pem", "--ca", directory + "/ca.pem", "--data-dir", directory + "/data"]
        let cases: [([String], [String: String], String)] = [
            (tls + ["--identity", "nowhere"], [:], "--identity 'nowhere' is not HOST:PORT"),
            (tls + ["--matching", "nowhere"], [:], "--matching 'nowhere' is not HOST:PORT (or 'off')"),
            (tls + ["--video-url-template", "https://meet.example.com/fixed"], [:], "{room}"),
            (tls, ["TANDEM_VIDEO_URL_TEMPLATE": "ftp://x/{room}"], "http(s) URL"),
            (tls + ["--buffer-minutes", "500"], [:], "0–120 minutes"),
            (tls, ["TANDEM_BUFFER_MINUTES": "ten"], "'ten' is not a whole number"),
            (tls + ["--checkpoint-pages", "10"], [:], "1,000–1,048,576 pages"),
            (tls, ["TANDEM_CHECKPOINT_PAGES": "lots"], "--checkpoint-pages 'lots' is not a whole number"),
            (tls + ["--port", "7999", "--admin-port", "7999"], [:], "--admin-port 7999 is the RPC port"),
            (tls + ["--admin-host", "nowhere"], [:], "--admin-host 'nowhere' is not an IP address"),
        ]
        for (arguments, environment, expected) in cases {
            let result = try await ServiceProcess.run("tandem-scheduling", arguments, environment: environment)
            #expect(result.status != 0, "\(arguments) \(environment)")
            #expect(result.output.contains(expected), "\(arguments): \(result.output)")
            #expect(!result.output.contains("listening"), "nothing is served")
        }
        // A configuration file: names as the long options; mistakes are named by file and line.
        for (text, expected) in [
            ("# comment\nport = 7103\nbuffer-minutes = 500\n", "0–120 minutes"),
            ("port = 7103\nfrobnicate = yes\n", "config.conf:2: unknown setting 'frobnicate'"),
            ("port = 7103\n\nport 7104\n", "config.conf:3: expected 'name = value'"),
            ("port = 7103\nport = 7104\n", "config.conf:2: 'port' is set twice"),
            ("video-url-template = 'https://x.example/fixed'\n", "{room}"),
            ("checkpoint-pages = 2000000\n", "not 2000000"),
        ] {
            let path = directory + "/config.conf"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            let result = try await ServiceProcess.run("tandem-scheduling", tls + ["--config", path])
            #expect(result.status != 0 && result.output.contains(expected), "\(text): \(result.output)")
        }
        let missing = try await ServiceProcess.run("tandem-scheduling", tls + ["--config", directory + "/nowhere.conf"])
        #expect(missing.status != 0 && missing.output.contains("nowhere.conf: no such readable file"))
        let version = try await ServiceProcess.run("tandem-scheduling", ["--version"])
        #expect(version.status == 0 && version.output.contains("wire protocol 1"))
    }

    @Test("serves next to identity over mutual TLS; kill -9 loses no acknowledged booking; SIGTERM exits 0")
    func lifecycle() async throws {
        let directory = temporaryDirectory()
        let deployment = try ProcessDeployment(directory: directory, services: ["identity", "scheduling"])
        let tls = deployment.tls
        let bootstrap = try await deployment.bootstrapIdentity()
        #expect(bootstrap.status == 0, "\(bootstrap.output)")
        let identityPort = try freePort()
        let identity = try ServiceProcess("tandem-identity", tls("identity") + ["--port", "\(identityPort)", "--admin-port", "0", "--scrypt-log-n", "10"])
        defer { identity.send(SIGKILL) }
        let schedulingPort = try freePort()
        let adminPort = try freePort()
        // Part of the configuration from a file (flags and TANDEM_* variables win over it).
        let configuration = directory + "/scheduling.conf"
        try """
            # tandem-scheduling
            video-url-template = "https://video.acme.example/r/{room}"
            admin-port = \(adminPort)
            drain-seconds = 10
            checkpoint-pages = 1000
            port = 1
            """.write(toFile: configuration, atomically: true, encoding: .utf8)
        let schedulingArguments = tls("scheduling") + [
            "--port", "\(schedulingPort)", "--identity", "127.0.0.1:\(identityPort)", "--config", configuration,
        ]
        var scheduling = try ServiceProcess("tandem-scheduling", schedulingArguments)
        defer { scheduling.send(SIGKILL) }
        #expect(await waitForPort(identityPort))
        #expect(await waitForPort(schedulingPort))

        let identityClient = try makeClient([Endpoint(host: "127.0.0.1", port: identityPort)], serverName: "identity")
        defer { identityClient.close() }
        let schedulingClient = try makeClient([Endpoint(host: "127.0.0.1", port: schedulingPort)], serverName: "scheduling")
        defer { schedulingClient.close() }
        let admin = try await eventuallyCall {
            try await identityClient.call(Identity.signIn, SignInRequest(organisation: "acme", email: "admin@acme.example", password: "bootstrap password"))
        }
        var options = CallOptions()
        options.metadata[Metadata.Keys.authorization] = "Bearer " + admin.accessToken
        let authorized = options
        let mentee = UUID()
        for person in [admin.subject, mentee] {
            _ = try await eventuallyCall {
                try await schedulingClient.call(Scheduling.setAvailability, Availability(personID: person, timeZone: "Europe/Berlin"), options: authorized)
            }
        }
        let pair = try await schedulingClient.call(
            Scheduling.registerPair, Pair(matchID: UUID(), programID: UUID(), mentorID: admin.subject, menteeID: mentee), options: authorized
        )
        let start = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 / 3600).rounded(.up) * 3600 + 86_400)
        let request = BookMeetingRequest(matchID: pair.matchID, start: start, durationMinutes: 45, timeZone: "Europe/Berlin")
        var keyed = authorized
        keyed.metadata[Metadata.Keys.idempotencyKey] = "process-test-1"
        let bookingOptions = keyed
        let meeting = try await schedulingClient.call(Scheduling.bookMeeting, request, options: bookingOptions)
        #expect(meeting.videoURL.hasPrefix("https://video.acme.example/r/"))

        // Crash right after the acknowledgement: the booking, and its idempotency key, survive.
        scheduling.send(SIGKILL)
        #expect(await scheduling.waitForExit(seconds: 10) != 0)
        scheduling = try ServiceProcess("tandem-scheduling", schedulingArguments)
        #expect(await waitForPort(schedulingPort))
        let found = try await eventuallyCall { try await schedulingClient.call(Scheduling.getMeeting, MeetingRef(meetingID: meeting.id), options: authorized) }
        #expect(found == meeting)
        #expect(try await schedulingClient.call(Scheduling.bookMeeting, request, options: bookingOptions) == meeting, "a retry after the crash is the same meeting")
        await expectRPCError(.failedPrecondition) {
            _ = try await schedulingClient.call(Scheduling.bookMeeting, request, options: authorized)
        }

        // The admin port: liveness, readiness (the store and identity answer), metrics of the calls above.
        #expect(try httpGet(port: adminPort, path: "/healthz").status == 200)
        #expect(try await eventually { (try? httpGet(port: adminPort, path: "/readyz").status) == 200 })
        let metrics = try httpGet(port: adminPort, path: "/metrics")
        #expect(metrics.status == 200)
        for expected in [
            #"tandem_rpc_calls_total{method="scheduling.BookMeeting",code="OK"} 1"#,
            #"tandem_rpc_calls_total{method="scheduling.BookMeeting",code="FAILED_PRECONDITION"} 1"#,
            #"tandem_rpc_calls_total{method="scheduling.GetMeeting",code="OK"} 1"#,
            "tandem_rpc_duration_bucket{", "tandem_rpc_open_connections 1", "tandem_rpc_connections_accepted_total ",
            #"tandem_store_commit_duration_count{database="scheduling"}"#, #"tandem_store_batch_size_bucket{database="scheduling""#,
            #"tandem_store_wait_duration_count{database="scheduling",kind="write"}"#, #"tandem_store_wait_duration_count{database="scheduling",kind="read"}"#,
            #"tandem_store_log_pages{database="scheduling"} "#, "process_resident_memory_bytes", "process_open_fds",
        ] {
            #expect(metrics.body.contains(expected), "\(expected) in \(metrics.body.prefix(3000))")
        }
        #expect(try httpGet(port: adminPort, path: "/nothing").status == 404)

        // SIGTERM with a call open: /readyz says 503 while the server drains, then the process
        // exits 0 promptly, although the identity client is still open.
        let stream = Task {
            try await schedulingClient.serverStreaming(Scheduling.streamReminders, StreamRemindersRequest(), options: authorized) { stream in
                for try await _ in stream {}
            }
        }
        try await Task.sleep(for: .milliseconds(300))
        scheduling.send(SIGTERM)
        #expect(try await eventually {
            guard let ready = try? httpGet(port: adminPort, path: "/readyz") else { return false }
            return ready.status == 503 && ready.body.contains("server: not serving")
        })
        stream.cancel()
        #expect(await scheduling.waitForExit(seconds: 30) == 0, "\(scheduling.output.suffix(600))")
        identity.send(SIGTERM)
        #expect(await identity.waitForExit(seconds: 30) == 0)
    }

    @Test("tandem-load's crash run: --kill-cmd kills scheduling with SIGKILL mid-run, --restart-cmd starts it again, and the invariant check passes")
    func loadToolKillAndRestart() async throws {
        let directory = temporaryDirectory()
        let deployment = try ProcessDeployment(directory: directory, services: ["identity", "scheduling", "tandem-load"])
        let tls = deployment.tls
        let bootstrap = try await deployment.bootstrapIdentity()
        #expect(bootstrap.status == 0, "\(bootstrap.output)")
        let account = try await ServiceProcess.run(
            "tandem-identity", ["service-account", "--data-dir", directory + "/identity", "--organisation", "acme", "--name", "load", "--scope", "scheduling.*"]
        )
        let apiKey = try #require(account.output.split(separator: "\n").first { $0.hasPrefix("api-key ") }?.dropFirst("api-key ".count), "\(account.output)")
        let identityPort = try freePort(), schedulingPort = try freePort()
        let identity = try ServiceProcess("tandem-identity", tls("identity") + ["--port", "\(identityPort)", "--admin-port", "0", "--scrypt-log-n", "10"])
        defer { identity.send(SIGKILL) }
        #expect(await waitForPort(identityPort))
        // The start command as a script, run once here and once more by tandem-load after the kill.
        let pidFile = directory + "/scheduling.pid"
        let arguments = [ServiceProcess.executable("tandem-scheduling")] + tls("scheduling")
            + ["--port", "\(schedulingPort)", "--admin-port", "0", "--identity", "127.0.0.1:\(identityPort)", "--matching", "off"]
        let script = directory + "/start-scheduling.sh"
        try """
            \(arguments.map { "'\($0)'" }.joined(separator: " ")) >>'\(directory)/scheduling.log' 2>&1 &
            echo $! >'\(pidFile)'
            """.write(toFile: script, atomically: true, encoding: .utf8)
        func runningScheduling() -> Int32? { (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) } }
        defer { if let pid = runningScheduling() { kill(pid, SIGKILL) } }
        #expect(try await runProgram("/bin/sh", [script]).status == 0)
        let first = try #require(runningScheduling())
        #expect(await waitForPort(schedulingPort))

        let load = try await ServiceProcess.run("tandem-load", [
            "--endpoint", "127.0.0.1:\(schedulingPort)", "--identity", "127.0.0.1:\(identityPort)", "--ca", directory + "/ca.pem",
            "--certificate", directory + "/tandem-load.pem", "--key", directory + "/tandem-load-key.pem", "--api-key", String(apiKey),
            "--concurrency", "8", "--duration", "4", "--warmup", "0", "--people", "40", "--pairs", "20", "--horizon-days", "30", "--quiet",
            // Calls made while scheduling is down fail; the check that matters is the invariants'.
            "--max-error-rate", "1",
            "--kill-after", "1", "--kill-cmd", "kill -9 $(cat '\(pidFile)')", "--restart-cmd", "/bin/sh '\(script)'",
        ])
        #expect(load.status == 0, "\(load.output)")
        #expect(load.output.contains("killing the target: kill -9"), "\(load.output)")
        #expect(load.output.contains("invariants: PASSED"), "\(load.output)")
        // The kill reached the first process, and the restart command started another one.
        #expect(processHasExited(first), "the first scheduling process is gone")
        let second = try #require(runningScheduling())
        #expect(second != first && kill(second, 0) == 0, "the restarted scheduling process runs")
    }
}
