public import Logging
public import Prometheus
public import ServiceLifecycle
public import TandemRPC

/// Runs a service's RPC server (and whatever else it needs) until SIGTERM or SIGINT, which
/// drain it: no new calls, the calls in flight finish within the grace period, then `run`
/// returns and the process exits 0.
///
/// With `--exit-with-parent` a `ParentWatch` runs last in the group: when the parent process has
/// gone it returns, which starts the same graceful shutdown.
///
/// Shutdown goes server first, then the `alongside` services in reverse order (calls still
/// draining can use the clients, e.g. to identity, they need), then the readiness probes and
/// the admin endpoints last: `/readyz` answers 503 for the whole drain.
public enum ServiceRunner {
    public static func run(
        server: RPCServer, alongside services: [any Service] = [], probes: [ReadinessProbe] = [],
        metrics registry: PrometheusCollectorRegistry, settings: ServiceSettings, logger: Logger,
        configureAdmin: (AdminEndpoints) -> Void = { _ in }
    ) async throws {
        let endpoints = AdminEndpoints(registry: registry)
        endpoints.watch(server)
        for probe in probes { probe.register(with: endpoints) }
        configureAdmin(endpoints)
        let admin: AdminServer
        do {
            admin = try await AdminServer.bind(host: settings.adminHost, port: settings.adminPort, endpoints: endpoints, logger: logger)
        } catch {
            throw ServiceConfigurationError("cannot listen on \(settings.adminHost):\(settings.adminPort) (--admin-port): \(error)")
        }
        if let clock = settings.clock {
            logger.warning(
                "this service runs on a dev clock (real time plus the offset in its file): tokens, meetings, surveys and expiries follow it",
                metadata: ["clock-file": "\(clock.path)", "offset": "\(DevClock.describe(offset: clock.offset))"]
            )
        }
        // A service group shuts its services down last to first; the parent watch goes first, so
        // it never outlives a shutdown that has started.
        let all: [any Service] = [admin] + probes + services + [server]
        var configured = all.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) }
        if settings.exitWithParent {
            configured.append(.init(service: ParentWatch(logger: logger), successTerminationBehavior: .gracefullyShutdownGroup))
        }
        let group = ServiceGroup(configuration: .init(
            services: configured,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        ))
        try await group.run()
    }
}
