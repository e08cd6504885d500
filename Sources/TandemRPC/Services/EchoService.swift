#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import TandemProtocols

/// The `echo` test service (Protocols/Echo.md), for benchmarks and end-to-end tests.
public struct EchoService: RPCService {
    public init() {}

    public func register(into router: inout RPCRouter) {
        router.register(Echo.get, unary: { request, _ in
            if let delay = request.delayMilliseconds, delay > 0 {
                try await Task.sleep(for: .milliseconds(delay))
            }
            return request
        })
        router.register(Echo.expand, serverStreaming: { request, writer, _ in
            for _ in 0..<max(0, request.repeat ?? 1) {
                if let delay = request.delayMilliseconds, delay > 0 {
                    try await Task.sleep(for: .milliseconds(delay))
                }
                try await writer.write(request)
            }
        })
        router.register(Echo.collect, clientStreaming: { requests, _ in
            var result = EchoMessage()
            for try await request in requests {
                result.text += request.text
                result.payload.append(request.payload)
            }
            return result
        })
        router.register(Echo.update, bidirectional: { requests, writer, _ in
            for try await request in requests {
                try await writer.write(request)
            }
        })
    }
}
