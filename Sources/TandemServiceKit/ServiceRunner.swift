public import Logging
public import ServiceLifecycle
public import TandemRPC

/// Runs a service's RPC server (and whatever else it needs) until SIGTERM or SIGINT, which
/// drain it: no new calls, the calls in flight finish within the grace period, then `run`
/// returns and the process exits 0.
///
/// Shutdown goes server first, then the `alongside` services in reverse order: calls still
/// draining can use the clients (e.g. to identity) they need.
public enum ServiceRunner {
    public static func run(server: RPCServer, alongside services: [any Service] = [], logger: Logger) async throws {
        // A service group shuts its services down last to first.
        let group = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0) } + [.init(service: server)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        ))
        try await group.run()
    }
}
