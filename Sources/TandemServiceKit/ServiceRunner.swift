public import Logging
public import ServiceLifecycle
public import TandemRPC

/// Runs a service's RPC server (and whatever else it needs) until SIGTERM or SIGINT, which
/// drain it: no new calls, the calls in flight finish within the grace period, then `run`
/// returns and the process exits 0.
public enum ServiceRunner {
    public static func run(server: RPCServer, alongside services: [any Service] = [], logger: Logger) async throws {
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: server)] + services.map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        ))
        try await group.run()
    }
}
