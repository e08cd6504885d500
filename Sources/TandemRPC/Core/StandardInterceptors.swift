public import CoreMetrics
import Logging
import NIOCore
import Synchronization
public import Tracing
import TandemWire

/// Carries trace context in call metadata for `Tracer.inject` / `Tracer.extract` (W3C
/// `traceparent` with a W3C tracer such as swift-otel's).
struct MetadataInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout Metadata) {
        carrier.append(key, value)
    }
}

struct MetadataExtractor: Extractor {
    func extract(key: String, from carrier: Metadata) -> String? {
        carrier[key]
    }
}

/// Opens a server span for every call, continuing the caller's trace from the request
/// metadata, and makes it the current context, so calls the handler makes join the trace.
public struct TracingServerInterceptor: SynchronousServerInterceptor {
    let tracer: any Tracer

    public init(tracer: any Tracer) {
        self.tracer = tracer
    }

    public func intercept(context: ServerContext, next: @Sendable (ServerContext) async throws -> Void) async throws {
        var context = context
        let end = begin(&context)
        try await endingWith(end) {
            try await ServiceContext.withValue(context.serviceContext) {
                try await next(context)
            }
        }
    }

    /// Starts the span and puts its context in `context.serviceContext` (a call passed on sends
    /// it as the upstream call's `traceparent`); the end records the status and ends the span.
    public func begin(_ context: inout ServerContext) -> CallEnd? {
        var parent = context.serviceContext
        tracer.extract(context.metadata, into: &parent, using: MetadataExtractor())
        let span = tracer.startSpan(context.method, context: parent, ofKind: .server)
        // Attributes only for a span that records them (one that will be exported).
        let recording = span.isRecording
        if recording {
            span.attributes["rpc.system"] = "tandem"
            span.attributes["rpc.method"] = context.method
            span.attributes["tandem.request_id"] = context.requestID
        }
        context.serviceContext = span.context
        return { error in
            if recording { span.attributes["rpc.status_code"] = Int((error?.code ?? .ok).rawValue) }
            if let error { span.recordError(error) }
            span.end()
        }
    }
}

/// Opens a client span for every call and puts its context into the request metadata.
public struct TracingClientInterceptor: SynchronousClientInterceptor {
    let tracer: any Tracer

    public init(tracer: any Tracer) {
        self.tracer = tracer
    }

    public func intercept(head: ClientCallHead, next: @Sendable (ClientCallHead) async throws -> Void) async throws {
        try await interceptWithBegin(head: head, next: next)
    }

    public func begin(_ head: inout ClientCallHead, context: ServiceContext) -> CallEnd? {
        let span = tracer.startSpan(head.method, context: context, ofKind: .client)
        if span.isRecording {
            span.attributes["rpc.system"] = "tandem"
            span.attributes["rpc.method"] = head.method
        }
        tracer.inject(span.context, into: &head.metadata, using: MetadataInjector())
        return { error in
            if let error { span.recordError(error) }
            span.end()
        }
    }
}

/// Logs every call: one line at debug when it succeeds or the caller got an answer about its own
/// request (INVALID_ARGUMENT, NOT_FOUND, a booking conflict…), at warning when the server failed
/// (UNKNOWN, INTERNAL, UNAVAILABLE, DATA_LOSS, DEADLINE_EXCEEDED…), with the request id,
/// method, status, duration, peer and organisation (when an auth interceptor set one).
/// Metadata values (tokens) are never logged.
public struct LoggingServerInterceptor: SynchronousServerInterceptor {
    public init() {}

    public func intercept(context: ServerContext, next: @Sendable (ServerContext) async throws -> Void) async throws {
        try await interceptWithBegin(context: context, next: next)
    }

    public func begin(_ context: inout ServerContext) -> CallEnd? {
        // Nothing to write at this level, whatever the outcome.
        guard context.logLevel <= .warning else { return nil }
        let started = NIODeadline.now()
        let context = context
        return { error in
            // A rate limit's answer (RESOURCE_EXHAUSTED with a retry-after) is the caller's doing,
            // counted by the metrics interceptor: at warning, a client over its limit would flood
            // the log with a line per refused call.
            let code = error?.code ?? .ok
            let quota = code == .resourceExhausted && error?.metadata[Metadata.Keys.retryAfter] != nil
            let level: Logger.Level = code.isServerFailure && !quota ? .warning : .debug
            // The line's metadata is built only when it will be written.
            guard context.logLevel <= level else { return }
            let milliseconds = Double((NIODeadline.now() - started).nanoseconds) / 1_000_000
            var metadata: Logger.Metadata = [
                "status": "\(code.name)", "duration_ms": "\((milliseconds * 1000).rounded() / 1000)", "peer": "\(context.peer)",
            ]
            if let error { metadata["error"] = "\(error.message)" }
            context.logger.log(level: level, "call finished", metadata: metadata)
        }
    }
}

/// Records per-method metrics: `tandem_rpc_calls_total{method,code}` and the latency timer
/// `tandem_rpc_duration{method}`, plus `tandem_rpc_in_flight{method}`. The metric handles are
/// made once per method (and code) and kept: making them costs a registry lookup each time.
public struct MetricsServerInterceptor: SynchronousServerInterceptor {
    let factory: any MetricsFactory
    private let handles = Handles()

    private final class Handles: Sendable {
        struct Method {
            var inFlight: Meter
            var duration: Timer
            var calls: [StatusCode: Counter] = [:]
        }

        let methods = Mutex<[String: Method]>([:])

        func method(_ name: String, _ factory: any MetricsFactory) -> Method {
            if let found = methods.withLock({ $0[name] }) { return found }
            let made = Method(
                inFlight: Meter(label: "tandem_rpc_in_flight", dimensions: [("method", name)], factory: factory),
                duration: Timer(label: "tandem_rpc_duration", dimensions: [("method", name)], factory: factory)
            )
            return methods.withLock { methods in
                if let found = methods[name] { return found }
                methods[name] = made
                return made
            }
        }

        func calls(_ name: String, _ code: StatusCode, _ factory: any MetricsFactory) -> Counter {
            if let found = methods.withLock({ $0[name]?.calls[code] }) { return found }
            let made = Counter(label: "tandem_rpc_calls_total", dimensions: [("method", name), ("code", code.name)], factory: factory)
            return methods.withLock { methods in
                if let found = methods[name]?.calls[code] { return found }
                methods[name]?.calls[code] = made
                return made
            }
        }
    }

    /// - Parameter factory: where metrics go; by default the process's `MetricsSystem`.
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
    }

    public func intercept(context: ServerContext, next: @Sendable (ServerContext) async throws -> Void) async throws {
        try await interceptWithBegin(context: context, next: next)
    }

    public func begin(_ context: inout ServerContext) -> CallEnd? {
        let method = context.method
        let metrics = handles.method(method, factory)
        metrics.inFlight.increment()
        let started = NIODeadline.now()
        let (handles, factory) = (self.handles, self.factory)
        return { error in
            metrics.inFlight.decrement()
            metrics.duration.recordNanoseconds((NIODeadline.now() - started).nanoseconds)
            handles.calls(method, error?.code ?? .ok, factory).increment()
        }
    }
}
