import Foundation
import Logging
import ServiceLifecycle

/// Ends the service group when the process that started this one has gone (`--exit-with-parent`):
/// a parent killed with SIGKILL cannot stop its children, so each child checks every
/// `interval` whether it has been re-parented and then returns, which makes the group drain
/// exactly as on SIGTERM (`ServiceRunner` runs it with `gracefullyShutdownGroup`).
struct ParentWatch: Service {
    /// The parent at start-up.
    let parent: pid_t
    let interval: Duration
    let logger: Logger

    init(parent: pid_t = getppid(), interval: Duration = .seconds(1), logger: Logger) {
        self.parent = parent
        self.interval = interval
        self.logger = logger
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let current = getppid()
                if current != parent {
                    logger.notice("the parent process has exited; draining as on SIGTERM", metadata: ["parent": "\(parent)", "new-parent": "\(current)"])
                    return
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
