public import Foundation
@_exported public import TandemProcess
import Synchronization

/// Runs blocking work — waiting for a process to exit — on a thread of its own, off Swift
/// concurrency's cooperative pool. That pool has one thread per core and runs every test: two
/// tests blocked in `waitUntilExit` or a polling sleep stall all the others (in CI, trivial tests
/// took 16 s to run, and an idle-timeout test and a drain test failed because their connections
/// outlived their timers meanwhile). Waits in tests are `async` for that reason.
public func offThePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try work() }) }
        thread.start()
    }
}

/// Runs the program at `path` to the end, off the cooperative pool (`offThePool`): its exit
/// status, standard output and standard error (or both in `output` with `mergeErrors`).
public func runProgram(
    _ path: String, _ arguments: [String], environment: [String: String]? = nil, mergeErrors: Bool = false
) async throws -> (status: Int32, output: Data, errors: Data) {
    try await offThePool { try runProgramBlocking(path, arguments, environment: environment, mergeErrors: mergeErrors) }
}

/// Whether process `pid` (not necessarily a child of this one) has ended: gone, or a zombie
/// nobody has reaped yet.
public func processHasExited(_ pid: Int32) -> Bool {
    if kill(pid, 0) == -1 && errno == ESRCH { return true }
    let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
    return stat.split(separator: ")").last?.split(separator: " ").first == "Z"
}

/// A Tandem executable run as a real process, with its output captured, for end-to-end tests.
public final class ServiceProcess: @unchecked Sendable {
    public let process: ChildProcess
    public let outputPath: String

    /// The path of executable `name`, built next to the test bundle (`swift build --build-tests`
    /// and `swift test` build every product).
    public static func executable(_ name: String) -> String {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        // macOS runs the tests inside <bundle>.xctest/Contents/MacOS.
        while directory.path.contains(".xctest") { directory.deleteLastPathComponent() }
        return directory.appending(path: name).path
    }

    /// Starts `executable` with `arguments`; stdout and stderr go to one file.
    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        // The test's own TANDEM_ settings are not the service's, except the query-plan audit's log.
        var merged = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("TANDEM_") || $0.key == "TANDEM_SQL_PLAN_LOG" }
        merged.merge(environment) { _, new in new }
        outputPath = Scratch.path("process", suffix: ".log")
        let fd = open(outputPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw HTTPTestError("cannot create \(outputPath): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        process = try ChildProcess(path: Self.executable(executable), arguments: arguments, environment: merged, outputFD: fd, errorFD: fd)
    }

    /// Runs to the end; returns the exit status and everything it printed.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) async throws -> (status: Int32, output: String) {
        let process = try ServiceProcess(executable, arguments, environment: environment)
        let status = await process.waitForExit()
        return (status, process.output)
    }

    public var output: String {
        (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
    }

    /// Sends `signal` (SIGTERM by default, SIGKILL to simulate a crash).
    public func send(_ signal: Int32 = SIGTERM) {
        kill(process.processIdentifier, signal)
    }

    public var isRunning: Bool { process.isRunning }

    @discardableResult
    public func waitForExit() async -> Int32 {
        await process.waitUntilExit()
        return process.terminationStatus
    }

    /// Waits at most `seconds` for the process to exit; kills it (SIGKILL) and returns nil if it
    /// has not, so a hanging shutdown fails the test instead of hanging it.
    public func waitForExit(seconds: Double) async -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        guard !process.isRunning else {
            kill(process.processIdentifier, SIGKILL)
            await process.waitUntilExit()
            return nil
        }
        return process.terminationStatus
    }

    /// `waitForExit(seconds:)` for where no task can wait (a deinit): blocks its thread.
    public func waitForExitBlocking(seconds: Double) {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExitBlocking()
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExitBlocking()             // reaped: no zombie left behind
        }
        try? FileManager.default.removeItem(atPath: outputPath)
    }
}

/// Ports `freePort` has handed out in this test process: never handed out twice, so tests running
/// in parallel cannot be given one another's port.
private let handedOutPorts = Mutex<Set<Int>>([])

/// A loopback TCP port that nobody listens on right now, for a process that a test starts later.
///
/// It comes from below the kernel's ephemeral range (32768–60999 on Linux): a port from there
/// (what binding port 0 gives) can be taken by another test's port-0 listener or an outgoing
/// connection between this check and the process's own bind — the process then fails to start
/// while the test talks to somebody else's server.
public func freePort() throws -> Int {
    try freePorts(offsets: [0])
}

/// A base port such that `base + offset` is free (as in `freePort`) for every one of `offsets`.
public func freePorts(offsets: [Int]) throws -> Int {
    func bindable(_ port: Int) -> Bool {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        return withLoopbackAddress(port) { bind(socket, $0, $1) } == 0
    }
    let span = (offsets.max() ?? 0)
    for _ in 0..<500 {
        let base = Int.random(in: 10000...(32000 - span))
        let ports = offsets.map { base + $0 }
        let taken = handedOutPorts.withLock { handedOut in
            guard ports.allSatisfy({ !handedOut.contains($0) }) else { return false }
            handedOut.formUnion(ports)
            return true
        }
        guard taken else { continue }
        if ports.allSatisfy(bindable) { return base }
    }
    throw HTTPTestError("no free loopback ports below the ephemeral range")
}

/// Calls `body` with 127.0.0.1:`port` as a socket address and its length (for bind, connect).
private func withLoopbackAddress(_ port: Int, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
}

/// Waits until something accepts connections on loopback `port` (at most 10 s).
public func waitForPort(_ port: Int) async -> Bool {
    for _ in 0..<400 {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let connected = withLoopbackAddress(port) { connect(socket, $0, $1) }
        close(socket)
        if connected == 0 { return true }
        try? await Task.sleep(for: .milliseconds(25))
    }
    return false
}

/// A plain HTTP/1.1 GET to loopback `port` (the admin endpoints): the status code and body.
public func httpGet(port: Int, path: String) throws -> (status: Int, body: String) {
    let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(socket) }
    var timeout = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    let connected = withLoopbackAddress(port) { connect(socket, $0, $1) }
    guard connected == 0 else { throw HTTPTestError("cannot connect to 127.0.0.1:\(port)") }
    let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
    guard request.withUnsafeBytes({ send(socket, $0.baseAddress, $0.count, 0) }) == request.count else { throw HTTPTestError("send failed") }
    var response: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
        if count <= 0 { break }
        response += buffer[0..<count]
    }
    let text = String(decoding: response, as: UTF8.self)
    guard let headerEnd = text.range(of: "\r\n\r\n"), let status = Int(text.split(separator: " ").dropFirst().first ?? "") else {
        throw HTTPTestError("not an HTTP response: \(text.prefix(200))")
    }
    return (status, String(text[headerEnd.upperBound...]))
}

public struct HTTPTestError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Tandem's executables deployed in one directory, as the process tests run them: the CA and a
/// certificate per service (from `TestPKI`), a data directory per service.
public struct ProcessDeployment: Sendable {
    public let directory: String

    /// Writes the CA and a certificate for each of `services` into `directory`.
    public init(directory: String, services: [String]) throws {
        self.directory = directory
        try TestPKI.shared.writeFiles(for: services, into: URL(fileURLWithPath: directory))
    }

    /// `--certificate`, `--key`, `--ca` for `name`, and its data directory `<directory>/<name>`.
    public func tls(_ name: String) -> [String] {
        ["--certificate", "\(directory)/\(name).pem", "--key", "\(directory)/\(name)-key.pem", "--ca", "\(directory)/ca.pem", "--data-dir", "\(directory)/\(name)"]
    }

    /// Runs `tandem-identity bootstrap`: organisation Acme (`acme`), admin `admin@acme.example`
    /// with `password`, fast password hashing.
    public func bootstrapIdentity(password: String = "bootstrap password") async throws -> (status: Int32, output: String) {
        try await ServiceProcess.run(
            "tandem-identity",
            ["bootstrap", "--data-dir", directory + "/identity", "--organisation", "Acme", "--slug", "acme", "--admin-email", "admin@acme.example",
             "--admin-name", "Ada", "--scrypt-log-n", "10"],
            environment: ["TANDEM_ADMIN_PASSWORD": password]
        )
    }
}
