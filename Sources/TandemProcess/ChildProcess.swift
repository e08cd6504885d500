public import Foundation
import CTandemSpawn
import Synchronization

/// Why a child process could not be started or run.
public struct ChildProcessError: Error, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// A child process started with `posix_spawn` (`tandem_spawn`), not Foundation's `Process`, whose
/// `run()` on Linux can crash the parent (swift-corelibs-foundation#5472; it did in a CI run of
/// the tests). Standard input is /dev/null and no descriptor of the parent but the two outputs
/// is inherited. Its exit status is collected once, by whichever caller sees it first.
public final class ChildProcess: Sendable {
    public let processIdentifier: Int32
    /// The raw wait status, once collected.
    private let status = Mutex<Int32?>(nil)

    /// Starts the program at `path` (no search of `PATH`); its standard output and error go to
    /// `outputFD` and `errorFD` (the caller closes its own copies afterwards).
    public init(path: String, arguments: [String], environment: [String: String], outputFD: Int32, errorFD: Int32) throws {
        func cStrings(_ strings: [String]) -> [UnsafeMutablePointer<CChar>?] { strings.map { strdup($0) } + [nil] }
        let argv = cStrings([path] + arguments)
        let envp = cStrings(environment.map { "\($0.key)=\($0.value)" })
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: pid_t = 0
        let result = tandem_spawn(path, argv, envp, outputFD, errorFD, &pid)
        guard result == 0 else { throw ChildProcessError("cannot start \(path): \(String(cString: strerror(result)))") }
        processIdentifier = pid
    }

    /// Collects the exit status if the process has ended.
    private func collect() -> Int32? {
        status.withLock { status in
            if let status { return status }
            var raw: Int32 = 0
            if waitpid(processIdentifier, &raw, WNOHANG) == processIdentifier { status = raw }
            return status
        }
    }

    public var isRunning: Bool { collect() == nil }

    /// The exit code, or the number of the signal that ended it (as Foundation's `Process`
    /// reports it). Only once it has ended.
    public var terminationStatus: Int32 {
        guard let raw = collect() else { preconditionFailure("process \(processIdentifier) is still running") }
        return Self.exitCode(raw)
    }

    /// Whether a signal ended it. Only once it has ended.
    public var wasSignalled: Bool {
        guard let raw = collect() else { preconditionFailure("process \(processIdentifier) is still running") }
        return raw & 0x7f != 0
    }

    static func exitCode(_ raw: Int32) -> Int32 {
        raw & 0x7f == 0 ? (raw >> 8) & 0xff : raw & 0x7f
    }

    /// Waits until it has ended, blocking the calling thread. Sleeps in the kernel until the
    /// process ends, without collecting its status (`WNOWAIT`), so no lock is held meanwhile and
    /// `isRunning` answers at once from other threads.
    public func waitUntilExitBlocking() {
        var info = siginfo_t()
        while waitid(P_PID, id_t(processIdentifier), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR {}
        // Collected here, or already by another caller (then waitid failed with ECHILD).
        while collect() == nil { usleep(5_000) }
    }

    /// Waits until it has ended, on a thread of its own: never blocks a thread of Swift
    /// concurrency's cooperative pool.
    public func waitUntilExit() async {
        if collect() != nil { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread {
                self.waitUntilExitBlocking()
                continuation.resume()
            }.start()
        }
    }

    /// Calls `handler` with the exit status (`terminationStatus`) once the process has ended, on
    /// a thread of its own.
    public func onExit(_ handler: @escaping @Sendable (Int32) -> Void) {
        Thread {
            self.waitUntilExitBlocking()
            handler(self.terminationStatus)
        }.start()
    }
}

/// Runs the program at `path` to the end, blocking the calling thread: its exit status, standard
/// output and standard error (or both in `output` with `mergeErrors`). `environment` defaults to
/// this process's.
public func runProgramBlocking(
    _ path: String, _ arguments: [String], environment: [String: String]? = nil, mergeErrors: Bool = false
) throws -> (status: Int32, output: Data, errors: Data) {
    var output: [Int32] = [0, 0], errors: [Int32] = [0, 0]
    guard pipe(&output) == 0 else { throw ChildProcessError("pipe: \(String(cString: strerror(errno)))") }
    guard pipe(&errors) == 0 else {
        let failure = ChildProcessError("pipe: \(String(cString: strerror(errno)))")
        for fd in output { close(fd) }
        throw failure
    }
    // Not inherited by children started meanwhile elsewhere (where `tandem_spawn` cannot close
    // every other descriptor): a write end held by another child would keep the read below
    // waiting until that child ends. The dup2 onto 1 and 2 in the child clears the flag there.
    for fd in output + errors { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    let process: ChildProcess
    do {
        process = try ChildProcess(
            path: path, arguments: arguments, environment: environment ?? ProcessInfo.processInfo.environment,
            outputFD: output[1], errorFD: mergeErrors ? output[1] : errors[1]
        )
    } catch {
        for fd in output + errors { close(fd) }
        throw error
    }
    close(output[1])
    close(errors[1])
    let outputReader = FileHandle(fileDescriptor: output[0], closeOnDealloc: true)
    let errorReader = FileHandle(fileDescriptor: errors[0], closeOnDealloc: true)
    // Standard error is read on a thread of its own, so that neither pipe can fill up while
    // the other is read.
    nonisolated(unsafe) var errorData = Data()
    let errorsRead = DispatchSemaphore(value: 0)
    Thread {
        errorData = errorReader.readDataToEndOfFile()
        errorsRead.signal()
    }.start()
    let outputData = outputReader.readDataToEndOfFile()
    errorsRead.wait()
    process.waitUntilExitBlocking()
    return (process.terminationStatus, outputData, errorData)
}
