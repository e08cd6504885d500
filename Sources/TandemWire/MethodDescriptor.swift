/// The shape of a call: how many messages flow each way.
public enum CallKind: String, Hashable, Sendable, Codable {
    /// One request, one response.
    case unary
    /// One request, a stream of responses.
    case serverStreaming
    /// A stream of requests, one response.
    case clientStreaming
    /// Streams both ways.
    case bidirectionalStreaming
}

/// A method of a service with its message types, declared once in `TandemProtocols` and used by
/// both the server that implements it and the clients that call it.
public struct MethodDescriptor<Input: Codable & Sendable, Output: Codable & Sendable>: Hashable, Sendable, CustomStringConvertible {
    /// The service name, lower case: `scheduling`.
    public let service: String
    /// The method name, UpperCamelCase: `BookMeeting`.
    public let method: String
    public let kind: CallKind
    /// Calling it twice has the same effect as once, so clients may retry it on UNAVAILABLE.
    public let isIdempotent: Bool
    /// `service.Method`, the name on the wire (built once: every call sends it).
    public let fullName: String

    public init(service: String, method: String, kind: CallKind = .unary, idempotent: Bool = false) {
        self.service = service
        self.method = method
        self.kind = kind
        self.isIdempotent = idempotent
        fullName = "\(service).\(method)"
    }

    public var description: String { fullName }

    /// The descriptor without its types, for registries and listings.
    public var erased: AnyMethodDescriptor {
        AnyMethodDescriptor(
            service: service, method: method, kind: kind, isIdempotent: isIdempotent,
            inputType: String(describing: Input.self), outputType: String(describing: Output.self)
        )
    }
}

/// A method descriptor without its Swift types.
public struct AnyMethodDescriptor: Hashable, Sendable, Codable, CustomStringConvertible {
    public var service: String
    public var method: String
    public var kind: CallKind
    public var isIdempotent: Bool
    public var inputType: String
    public var outputType: String

    public init(service: String, method: String, kind: CallKind, isIdempotent: Bool, inputType: String, outputType: String) {
        self.service = service
        self.method = method
        self.kind = kind
        self.isIdempotent = isIdempotent
        self.inputType = inputType
        self.outputType = outputType
    }

    public var fullName: String { "\(service).\(method)" }
    public var description: String { fullName }
}

/// An empty message, for methods that take or return nothing.
public struct Empty: Codable, Hashable, Sendable {
    public init() {}
}
