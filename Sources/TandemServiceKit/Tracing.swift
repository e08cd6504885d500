public import Instrumentation
public import Prometheus
public import TandemRPC
public import Logging
import ServiceContextModule
import Synchronization
public import Tracing
import TandemRandom

/// W3C trace context (`traceparent`: `00-<trace id>-<span id>-<flags>`). The ids are kept as
/// numbers and written as hex only where they are sent or logged: a span is made for every call.
public struct TraceContext: Sendable, Hashable {
    /// The trace id's 128 bits: the first 16 hex digits, then the last 16.
    public var traceIDHigh: UInt64
    public var traceIDLow: UInt64
    /// The span id's 64 bits.
    public var spanIDBits: UInt64
    public var sampled: Bool

    public init(traceID: (high: UInt64, low: UInt64), spanID: UInt64, sampled: Bool = true) {
        traceIDHigh = traceID.high
        traceIDLow = traceID.low
        spanIDBits = spanID
        self.sampled = sampled
    }

    /// 32 lower-case hex digits.
    public var traceID: String {
        Self.text(count: 32) { Self.writeHex(traceIDHigh, $0, 0); Self.writeHex(traceIDLow, $0, 16) }
    }

    /// 16 lower-case hex digits.
    public var spanID: String {
        Self.hex(spanIDBits)
    }

    /// 16 lower-case hex digits.
    static func hex(_ value: UInt64) -> String {
        text(count: 16) { writeHex(value, $0, 0) }
    }

    /// Parses a `traceparent` header; nil when it is not version 00 with lower-case hex, non-zero
    /// ids and a dash between the fields.
    public init?(traceparent: String) {
        var text = traceparent
        let parsed = text.withUTF8 { utf8 -> TraceContext? in
            guard utf8.count == 55, utf8[0] == 0x30, utf8[1] == 0x30, utf8[2] == 0x2D, utf8[35] == 0x2D, utf8[52] == 0x2D,
                  let high = Self.parseHex(utf8, 3), let low = Self.parseHex(utf8, 19), let span = Self.parseHex(utf8, 36),
                  let flags = Self.parseHex(utf8, 53, digits: 2), high | low != 0, span != 0 else { return nil }
            return TraceContext(traceID: (high, low), spanID: span, sampled: flags & 1 == 1)
        }
        guard let parsed else { return nil }
        self = parsed
    }

    public var traceparent: String {
        Self.text(count: 55) { buffer in
            buffer[0] = 0x30; buffer[1] = 0x30; buffer[2] = 0x2D
            Self.writeHex(traceIDHigh, buffer, 3)
            Self.writeHex(traceIDLow, buffer, 19)
            buffer[35] = 0x2D
            Self.writeHex(spanIDBits, buffer, 36)
            buffer[52] = 0x2D; buffer[53] = 0x30; buffer[54] = sampled ? 0x31 : 0x30
        }
    }

    private static func text(count: Int, _ write: (UnsafeMutableBufferPointer<UInt8>) -> Void) -> String {
        String(unsafeUninitializedCapacity: count) { buffer in
            write(buffer)
            return count
        }
    }

    private static func writeHex(_ value: UInt64, _ buffer: UnsafeMutableBufferPointer<UInt8>, _ offset: Int) {
        for index in 0..<16 {
            let digit = UInt8(truncatingIfNeeded: value >> UInt64(60 - 4 * index)) & 0xF
            buffer[offset + index] = digit < 10 ? 0x30 + digit : 0x61 - 10 + digit
        }
    }

    /// `digits` lower-case hex digits at `offset`.
    private static func parseHex(_ utf8: UnsafeBufferPointer<UInt8>, _ offset: Int, digits: Int = 16) -> UInt64? {
        var value: UInt64 = 0
        for index in offset..<(offset + digits) {
            let byte = utf8[index]
            let digit: UInt8
            switch byte {
            case 0x30...0x39: digit = byte - 0x30
            case 0x61...0x66: digit = byte - 0x61 + 10
            default: return nil
            }
            value = value << 4 | UInt64(digit)
        }
        return value
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
            traceID: parent.map { ($0.traceIDHigh, $0.traceIDLow) } ?? (IDSequence.next(), IDSequence.next()),
            spanID: IDSequence.next(), sampled: parent?.sampled ?? true
        )
        context[TraceContextKey.self] = current
        return TandemSpan(
            name: operationName, kind: kind, context: context, parentSpanID: parent?.spanIDBits, startNanoseconds: instant().nanosecondsSinceEpoch, logger: logger
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
    let parentSpanID: UInt64?
    let startNanoseconds: UInt64
    let logger: Logger
    private let state: Mutex<State>

    init(name: String, kind: SpanKind, context: ServiceContext, parentSpanID: UInt64?, startNanoseconds: UInt64, logger: Logger) {
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
        if let parentSpanID { metadata["parent_span_id"] = "\(TraceContext.hex(parentSpanID))" }
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
