public import TandemWire

/// Health checking, after grpc.health.v1: every Tandem server answers it (Protocols/Health.md).
public enum Health {
    public static let serviceName = "health"

    /// The current status of a service (or of the whole server when `service` is empty).
    public static let check = MethodDescriptor<HealthCheckRequest, HealthCheckResponse>(
        service: serviceName, method: "Check", idempotent: true
    )
    /// The status now, then every change until the call ends.
    public static let watch = MethodDescriptor<HealthCheckRequest, HealthCheckResponse>(
        service: serviceName, method: "Watch", kind: .serverStreaming, idempotent: true
    )

    public static let methods: [AnyMethodDescriptor] = [check.erased, watch.erased]
}

public struct HealthCheckRequest: Codable, Hashable, Sendable {
    /// The service to check, e.g. `scheduling`; empty for the server as a whole.
    public var service: String

    public init(service: String = "") {
        self.service = service
    }

    enum CodingKeys: Int, CodingKey {
        case service = 1
    }

    /// An absent `service` is the server as a whole, as in grpc.health.v1 (where an empty
    /// request is the usual probe): a client may send an empty map.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        service = try container.decodeIfPresent(String.self, forKey: .service) ?? ""
    }

    /// The whole server's check is an empty map.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        if !service.isEmpty { try container.encode(service, forKey: .service) }
    }
}

public struct HealthCheckResponse: Codable, Hashable, Sendable {
    public var status: ServingStatus

    public init(status: ServingStatus) {
        self.status = status
    }

    enum CodingKeys: Int, CodingKey {
        case status = 1
    }
}

/// Whether a service is ready to take calls.
public enum ServingStatus: String, Codable, Hashable, Sendable {
    case unknown = "UNKNOWN"
    case serving = "SERVING"
    case notServing = "NOT_SERVING"
    /// The server does not host the service asked about.
    case serviceUnknown = "SERVICE_UNKNOWN"
}
