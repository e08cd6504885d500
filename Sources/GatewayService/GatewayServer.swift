public import Foundation
public import Logging
import TandemAuth
import TandemProtocols
public import TandemRPC
import TandemWire

/// The services behind the gateway, each a client over every instance configured for it
/// (round-robin over healthy instances, retries of idempotent calls on UNAVAILABLE).
public struct GatewayUpstreams: Sendable {
    public var identity: RPCClient
    public var matching: RPCClient
    public var scheduling: RPCClient
    public var feedback: RPCClient

    public init(identity: RPCClient, matching: RPCClient, scheduling: RPCClient, feedback: RPCClient) {
        self.identity = identity
        self.matching = matching
        self.scheduling = scheduling
        self.feedback = feedback
    }

    public var all: [RPCClient] { [identity, matching, scheduling, feedback] }
}

/// How the gateway behaves.
public struct GatewayConfiguration: Sendable {
    /// The longest an aggregate call waits for its slowest part (a shorter client deadline wins).
    public var aggregateTimeout: Duration = .seconds(2)
    /// Time kept back from a client's deadline for the gateway to answer in: an aggregate's parts
    /// end this much (or a tenth of the client's time, when less) before the client stops waiting.
    public var answerMargin: Duration = .milliseconds(100)
    /// The most items an aggregate reads of each listing (tests lower them).
    var caps = ListingCaps()
    /// The clock (tests move it).
    public var now: @Sendable () -> Date = { Date() }

    public init() {}

    /// What `--max-message-bytes` accepts: from the least frame size every side must accept
    /// (16 KiB, WIRE.md) to 64 MiB.
    public static let messageBytesRange = WireDefaults.minFrameSize...(64 << 20)

    /// Makes `bytes` the largest message the gateway reads, every way one arrives: a frame from a
    /// client and what a compressed request expands to, a frame from a service and what a
    /// compressed answer expands to (a routed answer passes through whole, so it is held as one).
    public static func limitMessages(to bytes: Int, server: inout ServerConfiguration, upstream: inout ClientConfiguration) {
        server.maxFrameSize = bytes
        server.maxDecompressedSize = bytes
        upstream.maxFrameSize = bytes
        upstream.maxDecompressedSize = bytes
    }
}

/// The gateway: routes the services' user-facing methods, answers the aggregate calls.
public final class GatewayServer: Sendable {
    let upstreams: GatewayUpstreams
    let configuration: GatewayConfiguration
    let logger: Logger

    public init(upstreams: GatewayUpstreams, configuration: GatewayConfiguration = GatewayConfiguration(), logger: Logger) {
        self.upstreams = upstreams
        self.configuration = configuration
        self.logger = logger
    }

    /// The RPC handlers: every routed method, and the gateway's own.
    public var service: any RPCService { GatewayRPCService(server: self) }

    /// What the gateway passes on from the client's call: its credentials and idempotency key,
    /// and the client's address (`tandem-client-address`, always the gateway's own view of the
    /// peer: a value the client sent is not passed on), so that identity slows failed sign-ins
    /// down per client instead of counting every client's failures against the gateway.
    /// The deadline and request id are inherited by every call made while serving; the trace
    /// continues through the tracing interceptors (the gateway's server span, a client span per
    /// upstream call, whose `traceparent` the service receives).
    static func forwarded(_ context: ServerContext) -> CallOptions {
        CallOptions(metadata: forwarded(context.metadata, peer: context.peer))
    }

    static func forwarded(_ received: Metadata, peer: PeerIdentity) -> Metadata {
        var metadata = Metadata()
        for key in [Metadata.Keys.authorization, Metadata.Keys.idempotencyKey] {
            if let value = received[key] { metadata[key] = value }
        }
        metadata[Metadata.Keys.clientAddress] = peer.host
        return metadata
    }
}

struct GatewayRPCService: RPCService {
    let server: GatewayServer

    func register(into router: inout RPCRouter) {
        let upstreams = server.upstreams
        let clients = ["identity": upstreams.identity, "matching": upstreams.matching, "scheduling": upstreams.scheduling, "feedback": upstreams.feedback]
        // Routed methods are forwarded unread: the request's CBOR goes to the service as it came
        // (checked to be one well-formed item), the answer comes back as the service wrote it.
        // Unary ones are passed on from the event loop that read them, without a task, once the
        // caller's token is verified (cached): the edge's checks all have a synchronous form.
        for method in Gateway.routedMethods {
            guard let upstream = clients[method.service] else { preconditionFailure("no upstream for \(method.fullName)") }
            let forward = MethodDescriptor<CBORRawMessage, CBORRawMessage>(
                service: method.service, method: method.method, kind: method.kind, idempotent: method.isIdempotent
            )
            switch method.kind {
            case .unary:
                router.register(passingOn: method, to: upstream) { GatewayServer.forwarded($0.metadata, peer: $0.peer) }
            case .serverStreaming:
                router.register(forwarding: method, serverStreaming: { request, responses, context in
                    try await upstream.serverStreaming(forward, request, options: GatewayServer.forwarded(context)) { stream in
                        for try await message in stream { try await responses.write(message) }
                    }
                })
            case .clientStreaming, .bidirectionalStreaming:
                preconditionFailure("\(method.fullName): the gateway routes unary and server-streaming methods")
            }
        }
        // The gateway's own.
        let server = self.server
        router.register(Gateway.dashboard, unary: { try await server.dashboard($0, context: $1) })
        router.register(Gateway.programDashboard, unary: { try await server.programDashboard($0, context: $1) })
    }
}
