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
            #expect(trace.traceID.utf8.count == 32 && trace.spanID.utf8.count == 16)
            #expect(trace.traceparent == "00-\(trace.traceID)-\(trace.spanID)-01")
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

    @Test("traceparent: version 00, lower-case hex, non-zero ids, dashes between; the ids read back as they were written")
    func traceparentParsing() throws {
        let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        let trace = try #require(TraceContext(traceparent: header))
        #expect(trace.traceIDHigh == 0x4bf9_2f35_77b3_4da6 && trace.traceIDLow == 0xa3ce_929d_0e0e_4736 && trace.spanIDBits == 0x00f0_67aa_0ba9_02b7)
        #expect(trace.traceID == "4bf92f3577b34da6a3ce929d0e0e4736" && trace.spanID == "00f067aa0ba902b7" && trace.sampled)
        #expect(trace.traceparent == header)
        #expect(TraceContext(traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")?.sampled == false)
        #expect(TraceContext(traceID: (0, 1), spanID: 0xab, sampled: false).traceparent == "00-00000000000000000000000000000001-00000000000000ab-00")
        for bad in [
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // another version
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  // upper case
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  // zero trace id
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  // zero span id
            "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",  // a dash out of place
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",  // short
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",  // long
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bg-01",  // not hex
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "",
        ] {
            #expect(TraceContext(traceparent: bad) == nil, "\(bad)")
        }
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
