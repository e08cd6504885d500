/// Structured information attached to an error status (Protocols/WIRE.md §5.2): which field
/// was invalid, which precondition failed, when to retry. Encoded as a map whose `type`
/// names the kind; unknown kinds are kept as `other` so nothing is lost in transit.
public enum ErrorDetail: Hashable, Sendable, Codable {
    /// Fields of the request that broke a rule.
    case badRequest([FieldViolation])
    /// Conditions of the system that the request needed and did not find.
    case preconditionFailure([PreconditionViolation])
    /// The resource the error is about.
    case resourceInfo(ResourceInfo)
    /// When the caller may retry (rate limits, overload).
    case retryInfo(retryDelayMilliseconds: UInt64)
    /// A machine-readable reason, its domain and extra facts.
    case errorInfo(ErrorInfo)
    /// A kind this version does not know: its `type` and the whole map as received.
    case other(type: String, value: CBORValue)

    public struct FieldViolation: Hashable, Sendable, Codable {
        /// Path of the field, e.g. `email` or `skills[2].level`.
        public var field: String
        /// The rule it broke, e.g. `required`, `format`, `range`, `unique`.
        public var rule: String
        /// A sentence for humans.
        public var description: String

        public init(field: String, rule: String, description: String) {
            self.field = field
            self.rule = rule
            self.description = description
        }
    }

    public struct PreconditionViolation: Hashable, Sendable, Codable {
        /// Kind of precondition, e.g. `conflict`, `capacity`, `state`.
        public var type: String
        /// What it concerns, e.g. `meeting/3f2a…`.
        public var subject: String
        public var description: String

        public init(type: String, subject: String, description: String) {
            self.type = type
            self.subject = subject
            self.description = description
        }
    }

    public struct ResourceInfo: Hashable, Sendable, Codable {
        public var resourceType: String
        public var resourceName: String
        public var description: String

        public init(resourceType: String, resourceName: String, description: String) {
            self.resourceType = resourceType
            self.resourceName = resourceName
            self.description = description
        }
    }

    public struct ErrorInfo: Hashable, Sendable, Codable {
        /// An UPPER_SNAKE_CASE reason, stable across versions.
        public var reason: String
        /// The service that produced it, e.g. `scheduling`.
        public var domain: String
        public var metadata: [String: String]

        public init(reason: String, domain: String, metadata: [String: String] = [:]) {
            self.reason = reason
            self.domain = domain
            self.metadata = metadata
        }
    }

    private enum CodingKeys: String, CodingKey {
        case type, violations, resourceType, resourceName, description, retryDelay, reason, domain, metadata
    }

    private enum Kind {
        static let badRequest = "bad-request"
        static let preconditionFailure = "precondition-failure"
        static let resourceInfo = "resource-info"
        static let retryInfo = "retry-info"
        static let errorInfo = "error-info"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let type = try container.decode(String.self, forKey: .type)
        switch type {
        case Kind.badRequest:
            self = .badRequest(try container.decode([FieldViolation].self, forKey: .violations))
        case Kind.preconditionFailure:
            self = .preconditionFailure(try container.decode([PreconditionViolation].self, forKey: .violations))
        case Kind.resourceInfo:
            self = .resourceInfo(ResourceInfo(
                resourceType: try container.decode(String.self, forKey: .resourceType),
                resourceName: try container.decode(String.self, forKey: .resourceName),
                description: try container.decodeIfPresent(String.self, forKey: .description) ?? ""
            ))
        case Kind.retryInfo:
            self = .retryInfo(retryDelayMilliseconds: try container.decode(UInt64.self, forKey: .retryDelay))
        case Kind.errorInfo:
            self = .errorInfo(ErrorInfo(
                reason: try container.decode(String.self, forKey: .reason),
                domain: try container.decode(String.self, forKey: .domain),
                metadata: try container.decodeIfPresent([String: String].self, forKey: .metadata) ?? [:]
            ))
        default:
            self = .other(type: type, value: try CBORValue(from: decoder))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .other(_, let value):
            try value.encode(to: encoder)
            return
        default:
            break
        }
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .badRequest(let violations):
            try container.encode(Kind.badRequest, forKey: .type)
            try container.encode(violations, forKey: .violations)
        case .preconditionFailure(let violations):
            try container.encode(Kind.preconditionFailure, forKey: .type)
            try container.encode(violations, forKey: .violations)
        case .resourceInfo(let info):
            try container.encode(Kind.resourceInfo, forKey: .type)
            try container.encode(info.resourceType, forKey: .resourceType)
            try container.encode(info.resourceName, forKey: .resourceName)
            try container.encode(info.description, forKey: .description)
        case .retryInfo(let delay):
            try container.encode(Kind.retryInfo, forKey: .type)
            try container.encode(delay, forKey: .retryDelay)
        case .errorInfo(let info):
            try container.encode(Kind.errorInfo, forKey: .type)
            try container.encode(info.reason, forKey: .reason)
            try container.encode(info.domain, forKey: .domain)
            if !info.metadata.isEmpty { try container.encode(info.metadata, forKey: .metadata) }
        case .other:
            break
        }
    }
}
