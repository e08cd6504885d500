import Foundation
import Synchronization
import TandemProcess
import TandemTestSupport
import Testing

// Runs go through `runProgram` (TandemTestSupport): it runs `runProgramBlocking` off the
// cooperative pool.

@Suite("Child processes (posix_spawn)")
struct ChildProcessTests {
    @Test("exit code, standard output and standard error apart, or merged")
    func outputsAndStatus() async throws {
        let apart = try await runProgram("/bin/sh", ["-c", "echo out; echo err >&2; exit 3"])
        #expect(apart.status == 3)
        #expect(String(decoding: apart.output, as: UTF8.self) == "out\n")
        #expect(String(decoding: apart.errors, as: UTF8.self) == "err\n")
        let merged = try await runProgram("/bin/sh", ["-c", "echo out; echo err >&2"], mergeErrors: true)
        #expect(merged.status == 0)
        #expect(String(decoding: merged.output, as: UTF8.self) == "out\nerr\n")
        #expect(merged.errors.isEmpty)
    }

    @Test("a lot of output on both pipes at once does not deadlock")
    func largeOutputs() async throws {
        // 1 MiB on each: far more than a pipe holds, so both must be read while the child runs.
        let script = "head -c 1048576 /dev/zero; head -c 1048576 /dev/zero >&2"
        let result = try await runProgram("/bin/sh", ["-c", script])
        #expect(result.status == 0)
        #expect(result.output.count == 1 << 20)
        #expect(result.errors.count == 1 << 20)
    }

    @Test("exactly the given environment")
    func environment() async throws {
        let result = try await runProgram("/bin/sh", ["-c", "echo \"$TANDEM_PROBE|${HOME-unset}\""], environment: ["TANDEM_PROBE": "a b=c"])
        #expect(String(decoding: result.output, as: UTF8.self) == "a b=c|unset\n")
    }

    @Test("standard input is /dev/null and no other descriptor of the parent is inherited")
    func descriptors() async throws {
        // A descriptor without close-on-exec, which a plain fork/exec would hand down.
        let inheritable = open("/dev/null", O_RDONLY)
        try #require(inheritable > 2)
        defer { close(inheritable) }
        let script = "if read line; then echo stdin-open; fi; if [ -e /proc/$$/fd/\(inheritable) ]; then echo inherited; fi; echo checked"
        let result = try await runProgram("/bin/sh", ["-c", script])
        #expect(String(decoding: result.output, as: UTF8.self) == "checked\n")
    }

    @Test("a process ended by a signal reports the signal's number")
    func signalled() async throws {
        let process = try ChildProcess(path: "/bin/sh", arguments: ["-c", "kill -9 $$"], environment: [:], outputFD: 2, errorFD: 2)
        await process.waitUntilExit()
        #expect(!process.isRunning)
        #expect(process.wasSignalled)
        #expect(process.terminationStatus == SIGKILL)
    }

    @Test("a program that does not exist is an error naming it")
    func missingProgram() {
        #expect {
            _ = try ChildProcess(path: "/nonexistent/tandem-nothing", arguments: [], environment: [:], outputFD: 2, errorFD: 2)
        } throws: { error in
            "\(error)".contains("/nonexistent/tandem-nothing")
        }
    }

    @Test("a blocked waiter does not hold up isRunning, and every waiter sees the same status")
    func concurrentWaiters() async throws {
        let process = try ChildProcess(path: "/bin/sh", arguments: ["-c", "exec sleep 600"], environment: [:], outputFD: 2, errorFD: 2)
        let exits = Mutex<[Int32]>([])
        process.onExit { status in exits.withLock { $0.append(status) } }
        let blockedReturned = Mutex(false)
        let blocked = Thread {
            process.waitUntilExitBlocking()
            blockedReturned.withLock { $0 = true }
        }
        blocked.start()
        // With two waiters in the kernel (onExit's thread and `blocked`), isRunning answers at once.
        #expect(process.isRunning)
        kill(process.processIdentifier, SIGTERM)
        await process.waitUntilExit()
        #expect(process.terminationStatus == SIGTERM)
        // Bounded so that a broken waiter fails the test instead of hanging it.
        for _ in 0..<12_000 where exits.withLock({ $0.isEmpty }) || !blockedReturned.withLock({ $0 }) {
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(exits.withLock { $0 } == [SIGTERM])
        #expect(blockedReturned.withLock { $0 }, "the blocked waiter returned")
        // Waiting again, once collected, returns at once.
        process.waitUntilExitBlocking()
        await process.waitUntilExit()
    }
}
