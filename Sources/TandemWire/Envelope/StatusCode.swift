/// The status of a finished call: the 17 gRPC codes, with the same numbers (Protocols/WIRE.md §5).
public struct StatusCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible, Codable {
    public var rawValue: UInt8

    public init(rawValue: UInt8) {
        self.rawValue = rawValue
    }

    /// Not an error.
    public static let ok = StatusCode(rawValue: 0)
    /// The caller cancelled the call.
    public static let cancelled = StatusCode(rawValue: 1)
    /// An error with no better code; also any error a handler throws that is not an `RPCError`.
    public static let unknown = StatusCode(rawValue: 2)
    /// The request is invalid regardless of system state (bad field, undecodable message).
    public static let invalidArgument = StatusCode(rawValue: 3)
    /// The deadline passed before the call finished.
    public static let deadlineExceeded = StatusCode(rawValue: 4)
    /// A requested entity does not exist (or is not visible to the caller).
    public static let notFound = StatusCode(rawValue: 5)
    /// The entity the caller tried to create already exists.
    public static let alreadyExists = StatusCode(rawValue: 6)
    /// The caller is known but may not do this.
    public static let permissionDenied = StatusCode(rawValue: 7)
    /// A limit was hit: rate limit, message or frame size, concurrent calls.
    public static let resourceExhausted = StatusCode(rawValue: 8)
    /// The system is not in the state the operation needs (e.g. a booking conflict).
    public static let failedPrecondition = StatusCode(rawValue: 9)
    /// A concurrency conflict (e.g. a stale version number); retry at a higher level.
    public static let aborted = StatusCode(rawValue: 10)
    /// A value is past the valid range (e.g. paging past the end).
    public static let outOfRange = StatusCode(rawValue: 11)
    /// The method is not known or not implemented by this server.
    public static let unimplemented = StatusCode(rawValue: 12)
    /// An invariant broke inside the server, or the protocol was violated.
    public static let `internal` = StatusCode(rawValue: 13)
    /// The service cannot answer now (draining, overloaded, dependency down); safe to retry.
    public static let unavailable = StatusCode(rawValue: 14)
    /// Unrecoverable data loss or corruption.
    public static let dataLoss = StatusCode(rawValue: 15)
    /// The request has no valid credentials.
    public static let unauthenticated = StatusCode(rawValue: 16)

    public static let allCases: [StatusCode] = (0...16).map { StatusCode(rawValue: $0) }

    /// The canonical upper-case name, e.g. `INVALID_ARGUMENT`.
    public var name: String {
        switch rawValue {
        case 0: return "OK"
        case 1: return "CANCELLED"
        case 2: return "UNKNOWN"
        case 3: return "INVALID_ARGUMENT"
        case 4: return "DEADLINE_EXCEEDED"
        case 5: return "NOT_FOUND"
        case 6: return "ALREADY_EXISTS"
        case 7: return "PERMISSION_DENIED"
        case 8: return "RESOURCE_EXHAUSTED"
        case 9: return "FAILED_PRECONDITION"
        case 10: return "ABORTED"
        case 11: return "OUT_OF_RANGE"
        case 12: return "UNIMPLEMENTED"
        case 13: return "INTERNAL"
        case 14: return "UNAVAILABLE"
        case 15: return "DATA_LOSS"
        case 16: return "UNAUTHENTICATED"
        default: return "CODE_\(rawValue)"
        }
    }

    /// The code for a name such as `NOT_FOUND` (case-insensitive).
    public init?(name: String) {
        guard let code = Self.allCases.first(where: { $0.name == name.uppercased() }) else { return nil }
        self = code
    }

    public var description: String { name }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(UInt8.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

extension StatusCode {
    /// Whether the status says the server (not the request) went wrong: UNKNOWN, INTERNAL,
    /// UNAVAILABLE, DATA_LOSS, DEADLINE_EXCEEDED, UNIMPLEMENTED, RESOURCE_EXHAUSTED. Operators
    /// alert on these; the others answer the caller about its own request.
    public var isServerFailure: Bool {
        switch self {
        case .unknown, .internal, .unavailable, .dataLoss, .deadlineExceeded, .unimplemented, .resourceExhausted: true
        default: false
        }
    }
}
