public import Instrumentation
public import Prometheus
public import TandemRPC
public import Logging
public import ServiceContextModule
import Synchronization
public import Tracing
import TandemRandom

/// W3C trace context (`traceparent`: `00-<trace id>-<span id>-<flags>`).
public struct TraceContext: Sendable, Hashable {
    /// 32 lower-case hex digits.
    public var traceID: String
    /// 16 lower-case hex digits.
    public var spanID: String
    public var sampled: Bool

    public init(traceID: String, spanID: String, sampled: Bool = true) {
        self.traceID = traceID
        self.spanID = spanID
        self.sampled = sampled
    }

    /// Parses a `traceparent` header; nil when it is not version 00 with valid, non-zero ids.
    public init?(traceparent: String) {
        let parts = traceparent.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "00", parts[1].count == 32, parts[2].count == 16, parts[3].count == 2,
              parts[1...3].allSatisfy({ $0.allSatisfy(\.isHexDigit) && $0 == $0.lowercased() }),
              parts[1].contains(where: { $0 != "0" }), parts[2].contains(where: { $0 != "0" }),
              let flags = UInt8(parts[3], radix: 16) else { return nil }
        self.init(traceID: String(parts[1]), spanID: String(parts[2]), sampled: flags & 1 == 1)
    }

    public var traceparent: String { "00-\(traceID)-\(spanID)-\(sampled ? "01" : "00")" }

    /// `bytes` (8 or 16) random bytes as hex. Ids need to be unique and unpredictable, not
    /// secret: SplitMix64 over a process-wide counter that starts at a random point (one atomic
    /// add per id instead of a system call).
    static func randomHex(bytes: Int) -> String {
        var text = hex(IDSequence.next())
        if bytes > 8 { text += hex(IDSequence.next()) }
        return text
    }

    private static func hex(_ value: UInt64) -> String {
        String(unsafeUninitializedCapacity: 16) { buffer in
            let digits: StaticString = "0123456789abcdef"
            digits.withUTF8Buffer { digits in
                for index in 0..<16 { buffer[index] = digits[Int((value >> UInt64(60 - 4 * index)) & 0xF)] }
            }
            return 16
        }
    }
}

/// The ids' source: a counter from a random start, each value mixed by SplitMix64 (a bijection,
/// so ids do not repeat within 2^64 draws; never zero, which W3C reserves).
enum IDSequence {
    private static let counter = Atomic<UInt64>(UInt64.random(in: 1...UInt64.max))

    static func next() -> UInt64 {
        while true {
            let mixed = SplitMix64.mix(counter.wrappingAdd(SplitMix64.increment, ordering: .relaxed).newValue)
            if mixed != 0 { return mixed }
        }
    }
}

/// Where the current span's trace context lives in a `ServiceContext`.
public enum TraceContextKey: ServiceContextKey {
    public typealias Value = TraceContext
}

/// A small W3C tracer: it continues the trace of an incoming `traceparent` (or starts one), gives
/// each span its own id, puts `traceparent` on outgoing calls, and exports every finished span as
/// one log line (`span finished`, with trace_id, span_id, parent_span_id, name, kind, duration_ms
/// and the span's attributes) — at debug level, so `--log-level debug` (with `--log-format json`
/// for a log shipper) exports them. It is installed with `InstrumentationSystem`, so an OTLP
/// tracer (swift-otel) can replace it without touching the services.
public struct TandemTracer: Tracer {
    public typealias Span = TandemSpan
    let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    public func startSpan<Instant: TracerInstant>(
        _ operationName: String, context: @autoclosure () -> ServiceContext, ofKind kind: SpanKind, at instant: @autoclosure () -> Instant,
        function: String, file fileID: String, line: UInt
    ) -> TandemSpan {
        var context = context()
        let parent = context[TraceContextKey.self]
        let current = TraceContext(
            traceID: parent?.traceID ?? TraceContext.randomHex(bytes: 16), spanID: TraceContext.randomHex(bytes: 8), sampled: parent?.sampled ?? true
        )
        context[TraceContextKey.self] = current
        return TandemSpan(
            name: operationName, kind: kind, context: context, parentSpanID: parent?.spanID, startNanoseconds: instant().nanosecondsSinceEpoch, logger: logger
        )
    }

    public func forceFlush() {}

    public func extract<Carrier, Extract: Extractor>(_ carrier: Carrier, into context: inout ServiceContext, using extractor: Extract)
    where Extract.Carrier == Carrier {
        if let header = extractor.extract(key: "traceparent", from: carrier), let trace = TraceContext(traceparent: header) {
            context[TraceContextKey.self] = trace
        }
    }

    public func inject<Carrier, Inject: Injector>(_ context: ServiceContext, into carrier: inout Carrier, using injector: Inject)
    where Inject.Carrier == Carrier {
        if let trace = context[TraceContextKey.self] { injector.inject(trace.traceparent, forKey: "traceparent", into: &carrier) }
    }

    /// Installs the tracer for the process (call once, at start-up).
    public static func bootstrap(logger: Logger) {
        InstrumentationSystem.bootstrap(TandemTracer(logger: logger))
    }
}

/// A span of `TandemTracer`; logged when it ends.
public final class TandemSpan: Tracing.Span {
    private struct State {
        var name: String
        var attributes = SpanAttributes()
        var status: SpanStatus?
        var ended = false
    }

    public let context: ServiceContext
    let kind: SpanKind
    let parentSpanID: String?
    let startNanoseconds: UInt64
    let logger: Logger
    private let state: Mutex<State>

    init(name: String, kind: SpanKind, context: ServiceContext, parentSpanID: String?, startNanoseconds: UInt64, logger: Logger) {
        self.context = context
        self.kind = kind
        self.parentSpanID = parentSpanID
        self.startNanoseconds = startNanoseconds
        self.logger = logger
        state = Mutex(State(name: name))
    }

    public var operationName: String {
        get { state.withLock { $0.name } }
        set { state.withLock { $0.name = newValue } }
    }

    public var attributes: SpanAttributes {
        get { state.withLock { $0.attributes } }
        set { state.withLock { $0.attributes = newValue } }
    }

    /// Recording means exported when it ends: this tracer exports spans as debug log lines, so
    /// with debug logging off a span records nothing (and callers can skip its attributes).
    public var isRecording: Bool { logger.logLevel <= .debug && state.withLock { !$0.ended } }

    public func setStatus(_ status: SpanStatus) {
        state.withLock { $0.status = status }
    }

    public func addEvent(_ event: SpanEvent) {}

    public func recordError<Instant: TracerInstant>(_ error: any Error, attributes: SpanAttributes, at instant: @autoclosure () -> Instant) {
        state.withLock { $0.status = SpanStatus(code: .error, message: "\(error)") }
    }

    public func addLink(_ link: SpanLink) {}

    public func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {
        let finished = state.withLock { state -> State? in
            guard !state.ended else { return nil }
            state.ended = true
            return state
        }
        // Exported as a debug line: nothing to build when debug is off (the usual case).
        guard let finished, logger.logLevel <= .debug, let trace = context[TraceContextKey.self], trace.sampled else { return }
        let end = instant().nanosecondsSinceEpoch
        var metadata: Logger.Metadata = [
            "trace_id": "\(trace.traceID)", "span_id": "\(trace.spanID)", "name": "\(finished.name)", "kind": "\(kind)",
            "duration_ms": "\(Double(end &- startNanoseconds) / 1_000_000)",
        ]
        if let parentSpanID { metadata["parent_span_id"] = "\(parentSpanID)" }
        finished.attributes.forEach { key, attribute in metadata["attr." + key] = "\(attribute)" }
        if let status = finished.status, status.code == .error { metadata["error"] = "\(status.message ?? "error")" }
        logger.debug("span finished", metadata: metadata)
    }
}

/// What every executable installs around its RPC server and clients.
public enum TandemObservability {
    /// Logs, metrics (returns the registry the admin port serves) and the tracer, once, at start-up.
    public static func bootstrap(settings: ServiceSettings) -> PrometheusCollectorRegistry {
        TandemLogging.bootstrap(level: settings.logLevel, format: settings.logFormat)
        TandemTracer.bootstrap(logger: Logger(label: "tandem.\(settings.service).trace"))
        return TandemMetrics.bootstrap()
    }

    /// A server span per call (continuing the caller's trace), then metrics, then the call's log line.
    public static var serverInterceptors: [any ServerInterceptor] {
        [TracingServerInterceptor(tracer: InstrumentationSystem.tracer), MetricsServerInterceptor(), LoggingServerInterceptor()]
    }

    /// A client span per call, its `traceparent` in the request.
    public static var clientInterceptors: [any ClientInterceptor] {
        [TracingClientInterceptor(tracer: InstrumentationSystem.tracer)]
    }
}
