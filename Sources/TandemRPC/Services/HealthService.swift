public import TandemProtocols
import Synchronization
import TandemWire

/// The serving status of a server and each service it hosts, as reported by `health.Check` and
/// streamed by `health.Watch`. A draining server reports NOT_SERVING for everything.
public final class HealthStatusProvider: Sendable {
    private struct State {
        var statuses: [String: ServingStatus] = ["": .notServing]
        var watchers: [UInt64: (service: String, continuation: AsyncStream<ServingStatus>.Continuation)] = [:]
        var nextWatcher: UInt64 = 0
        var draining = false
    }

    private let state = Mutex(State())

    public init() {}

    /// Sets the status of `service` ("" for the whole server) and tells its watchers.
    public func setStatus(_ status: ServingStatus, for service: String = "") {
        let notify = state.withLock { state -> [AsyncStream<ServingStatus>.Continuation] in
            let effective = state.draining ? .notServing : status
            guard state.statuses[service] != effective else { return [] }
            state.statuses[service] = effective
            return state.watchers.values.filter { $0.service == service }.map(\.continuation)
        }
        let current = self.status(of: service)
        for continuation in notify { continuation.yield(current) }
    }

    /// The status of `service`; SERVICE_UNKNOWN for a service this server does not host.
    public func status(of service: String) -> ServingStatus {
        state.withLock { $0.statuses[service] ?? .serviceUnknown }
    }

    /// Marks every service NOT_SERVING for good (the server is draining).
    func beginDrain() {
        let notify = state.withLock { state -> [AsyncStream<ServingStatus>.Continuation] in
            state.draining = true
            var changed: Set<String> = []
            for (service, status) in state.statuses where status != .notServing {
                state.statuses[service] = .notServing
                changed.insert(service)
            }
            return state.watchers.values.filter { changed.contains($0.service) }.map(\.continuation)
        }
        for continuation in notify { continuation.yield(.notServing) }
    }

    /// The status now, then every change.
    func watch(_ service: String) -> AsyncStream<ServingStatus> {
        let (stream, continuation) = AsyncStream.makeStream(of: ServingStatus.self, bufferingPolicy: .bufferingNewest(8))
        let id = state.withLock { state -> UInt64 in
            state.nextWatcher += 1
            state.watchers[state.nextWatcher] = (service, continuation)
            return state.nextWatcher
        }
        continuation.yield(status(of: service))
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.watchers.removeValue(forKey: id) }
        }
        return stream
    }
}

/// `health.Check` and `health.Watch` (Protocols/Health.md), hosted by every server.
struct HealthService: RPCService {
    let provider: HealthStatusProvider

    func register(into router: inout RPCRouter) {
        router.register(Health.check, unary: { request, _ in
            HealthCheckResponse(status: provider.status(of: request.service))
        })
        router.register(Health.watch, serverStreaming: { request, writer, _ in
            for await status in provider.watch(request.service) {
                try await writer.write(HealthCheckResponse(status: status))
            }
        })
    }
}

/// `reflection.ListServices` (Protocols/Reflection.md), hosted by every server.
struct ReflectionService: RPCService {
    let methods: [AnyMethodDescriptor]

    func register(into router: inout RPCRouter) {
        let services = Dictionary(grouping: methods, by: \.service)
            .map { ServiceInfo(name: $0.key, methods: $0.value.map(MethodInfo.init).sorted { $0.name < $1.name }) }
            .sorted { $0.name < $1.name }
        router.register(Reflection.listServices, unary: { _, _ in ServiceList(services: services) })
    }
}
