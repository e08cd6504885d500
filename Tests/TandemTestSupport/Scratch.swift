import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where tests keep their files: one folder per test process, `$TMPDIR/tandem-tests/<pid>`,
/// removed when the process exits. A process that died before that (a crash, a kill) leaves its
/// folder behind; the next test process removes it. Set `TANDEM_KEEP_TEST_FILES=1` to keep the
/// files, to look at them after a failure.
public enum Scratch {
    /// A new, empty directory named `<prefix>-<8 hex digits>`, inside this process's folder.
    public static func directory(_ prefix: String) -> String {
        create(self.path(prefix))
    }

    /// A path inside this process's folder, named `<prefix>-<8 hex digits><suffix>`, that does not
    /// exist yet (for a file the test creates).
    public static func path(_ prefix: String, suffix: String = "") -> String {
        "\(root)/\(prefix)-\(UUID().uuidString.prefix(8))\(suffix)"
    }

    /// This process's folder (created, and registered for removal, on first use). Kept short:
    /// tests put Unix socket paths in it, which may be at most 107 bytes long.
    public static let root: String = {
        let parent = FileManager.default.temporaryDirectory.appending(path: "tandem-tests").path
        removeAbandoned(in: parent)
        let root = "\(parent)/\(getpid())"
        try? FileManager.default.removeItem(atPath: root)  // a process before us with the same pid
        create(root)
        if ProcessInfo.processInfo.environment["TANDEM_KEEP_TEST_FILES"] != "1" {
            atexit { try? FileManager.default.removeItem(atPath: Scratch.root) }
        }
        return root
    }()

    /// Creates the directory `path` (and its parents); a test cannot go on without it.
    @discardableResult
    private static func create(_ path: String) -> String {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            fatalError("cannot create the test directory \(path): \(error)")
        }
        return path
    }

    /// Removes the folders of test processes that are no longer running.
    public static func removeAbandoned(in parent: String) {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: parent) else { return }
        for entry in entries {
            guard let pid = pid_t(entry), pid != getpid() else { continue }
            if kill(pid, 0) == -1, errno == ESRCH {
                try? FileManager.default.removeItem(atPath: "\(parent)/\(entry)")
            }
        }
    }
}
