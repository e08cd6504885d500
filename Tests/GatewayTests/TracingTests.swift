import Logging
import TandemServiceKit
import Testing
import Tracing

@Suite("Tracing: span ids and what a span records")
struct TracingTests {
    @Test("span and trace ids are well-formed, non-zero and unique; children keep the trace")
    func idsAreWellFormedAndUnique() throws {
        let tracer = TandemTracer(logger: Logger(label: "test.trace"))
        var spanIDs = Set<String>(), traceIDs = Set<String>()
        for _ in 0..<20_000 {
            let span = tracer.startSpan("root", context: .topLevel, ofKind: .server)
            let trace = try #require(span.context[TraceContextKey.self])
            #expect(TraceContext(traceparent: trace.traceparent) == trace, "\(trace.traceparent) parses back")
            spanIDs.insert(trace.spanID)
            traceIDs.insert(trace.traceID)
            span.end()
        }
        #expect(spanIDs.count == 20_000)
        #expect(traceIDs.count == 20_000)
        let parent = tracer.startSpan("parent", context: .topLevel, ofKind: .server)
        let child = tracer.startSpan("child", context: parent.context, ofKind: .client)
        #expect(child.context[TraceContextKey.self]?.traceID == parent.context[TraceContextKey.self]?.traceID)
        #expect(child.context[TraceContextKey.self]?.spanID != parent.context[TraceContextKey.self]?.spanID)
    }

    @Test("a span records (and takes attributes) only when debug logging exports it, and not after it ended")
    func recordingFollowsTheLogLevel() {
        var quiet = Logger(label: "test.trace")
        quiet.logLevel = .info
        var verbose = quiet
        verbose.logLevel = .debug
        #expect(!TandemTracer(logger: quiet).startSpan("call", context: .topLevel, ofKind: .server).isRecording)
        let span = TandemTracer(logger: verbose).startSpan("call", context: .topLevel, ofKind: .server)
        #expect(span.isRecording)
        span.end()
        #expect(!span.isRecording)
    }
}
