#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif
public import TandemWire

/// A test service every shape of call can be exercised with; the RPC benchmarks and end-to-end
/// tests use it. Servers host it only when asked to.
public enum Echo {
    public static let serviceName = "echo"

    /// Returns the request.
    public static let get = MethodDescriptor<EchoMessage, EchoMessage>(service: serviceName, method: "Get", idempotent: true)
    /// Streams `repeat` copies of the request back.
    public static let expand = MethodDescriptor<EchoMessage, EchoMessage>(service: serviceName, method: "Expand", kind: .serverStreaming)
    /// Concatenates every request's payload into one response.
    public static let collect = MethodDescriptor<EchoMessage, EchoMessage>(service: serviceName, method: "Collect", kind: .clientStreaming)
    /// Answers each request as it arrives.
    public static let update = MethodDescriptor<EchoMessage, EchoMessage>(service: serviceName, method: "Update", kind: .bidirectionalStreaming)

    public static let methods: [AnyMethodDescriptor] = [get.erased, expand.erased, collect.erased, update.erased]
}

public struct EchoMessage: Codable, Hashable, Sendable {
    public var text: String
    public var payload: Data
    /// For `Expand`: how many responses to send.
    public var `repeat`: Int?
    /// Milliseconds the handler waits before answering (to test deadlines and cancellation).
    public var delayMilliseconds: Int?

    public init(text: String = "", payload: Data = Data(), repeat: Int? = nil, delayMilliseconds: Int? = nil) {
        self.text = text
        self.payload = payload
        self.repeat = `repeat`
        self.delayMilliseconds = delayMilliseconds
    }

    enum CodingKeys: Int, CodingKey {
        case text = 1
        case payload = 2
        case `repeat` = 3
        case delayMilliseconds = 4
    }
}
