public import TandemWire

/// Lists what a server offers, so tools such as `tandem call --list` need no prior knowledge.
public enum Reflection {
    public static let serviceName = "reflection"

    public static let listServices = MethodDescriptor<Empty, ServiceList>(
        service: serviceName, method: "ListServices", idempotent: true
    )

    public static let methods: [AnyMethodDescriptor] = [listServices.erased]
}

public struct ServiceList: Codable, Hashable, Sendable {
    public var services: [ServiceInfo]

    public init(services: [ServiceInfo]) {
        self.services = services
    }

    enum CodingKeys: Int, CodingKey {
        case services = 1
    }
}

public struct ServiceInfo: Codable, Hashable, Sendable {
    public var name: String
    public var methods: [MethodInfo]

    public init(name: String, methods: [MethodInfo]) {
        self.name = name
        self.methods = methods
    }

    enum CodingKeys: Int, CodingKey {
        case name = 1
        case methods = 2
    }
}

public struct MethodInfo: Codable, Hashable, Sendable {
    /// `Method`, without the service prefix.
    public var name: String
    public var kind: CallKind
    public var idempotent: Bool
    /// The Swift type names of the input and output messages, for humans.
    public var inputType: String
    public var outputType: String

    public init(name: String, kind: CallKind, idempotent: Bool, inputType: String, outputType: String) {
        self.name = name
        self.kind = kind
        self.idempotent = idempotent
        self.inputType = inputType
        self.outputType = outputType
    }

    public init(_ descriptor: AnyMethodDescriptor) {
        self.init(
            name: descriptor.method, kind: descriptor.kind, idempotent: descriptor.isIdempotent,
            inputType: descriptor.inputType, outputType: descriptor.outputType
        )
    }

    enum CodingKeys: Int, CodingKey {
        case name = 1
        case kind = 2
        case idempotent = 3
        case inputType = 4
        case outputType = 5
    }
}
