public import Logging

/// Follows another service's change feed until cancelled: `sync` applies one page and returns how
/// many entries it held; pages are read one after another while they come full (`pageSize`), then
/// every `interval`. A failure is logged once, as a warning, until the feed can be read again.
public func followFeed(
    _ feed: String, pageSize: Int, every interval: Duration, logger: Logger, _ sync: @Sendable () async throws -> Int
) async {
    var failing = false
    while !Task.isCancelled {
        do {
            while try await sync() == pageSize {}
            if failing { logger.info("following \(feed) again") }
            failing = false
        } catch {
            if !failing { logger.warning("cannot read \(feed); retrying", metadata: ["error": "\(error)"]) }
            failing = true
        }
        try? await Task.sleep(for: interval)
    }
}
