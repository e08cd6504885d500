import Foundation
import Synchronization
import TandemAuth
import TandemProtocols
import TandemTestSupport
import TandemWire
import Testing

/// Counts the fetches of a key source that fails after a while (after answering the first
/// `answering` fetches with no keys).
final class FailingKeySource: Sendable {
    private let count = Atomic<Int>(0)
    let answering: Int

    init(answering: Int = 0) {
        self.answering = answering
    }

    var fetches: Int { count.load(ordering: .relaxed) }

    func fetch() async throws -> VerificationKeys {
        let number = count.add(1, ordering: .relaxed).newValue
        if number <= answering { return VerificationKeys(keys: []) }
        try await Task.sleep(for: .milliseconds(200))
        throw RPCError(code: .unavailable, message: "identity is down")
    }
}

@Suite("Token verification keys at the gateway")
struct KeyFetchTests {
    /// A token whose header names `kid` (the signature is never reached: there are no keys).
    static func token(kid: String) -> String {
        let header = Data(#"{"alg":"EdDSA","kid":"\#(kid)","typ":"JWT"}"#.utf8).base64EncodedString()
            .replacing("+", with: "-").replacing("/", with: "_").replacing("=", with: "")
        return header + ".eyJzdWIiOiJ4In0.c2ln"
    }

    @Test("tokens naming an unknown key: many calls at once share one fetch, and a failed fetch is not tried again at once")
    func oneFetchThenThrottled() async throws {
        let source = FailingKeySource()
        let verifier = TokenVerifier(retryAfterFailure: .seconds(600)) { try await source.fetch() }
        let token = Self.token(kid: "k-unknown")
        // Before, each of the 20 started its own fetch, and so did every later call.
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<20 {
                group.addTask { await expectRPCError(.unavailable) { _ = try await verifier.verify(token) } }
            }
        }
        #expect(source.fetches == 1)
        for _ in 0..<5 {
            let error = await expectRPCError(.unavailable) { _ = try await verifier.verify(token) }
            #expect(error?.message.contains("cannot fetch the token verification keys") == true)
        }
        #expect(source.fetches == 1, "no fetch again within retryAfterFailure")
        // With no wait after a failure, the next call fetches again.
        let eager = TokenVerifier(retryAfterFailure: .zero) { try await source.fetch() }
        await expectRPCError(.unavailable) { _ = try await eager.verify(token) }
        await expectRPCError(.unavailable) { _ = try await eager.verify(token) }
        #expect(source.fetches == 3)
    }

    @Test("with keys held, a token naming an unknown key fetches once; after that fetch failed, not again for 10 s")
    func unknownKeyAfterFailedFetch() async throws {
        let source = FailingKeySource(answering: 1)
        let clock = TestClock()
        let verifier = TokenVerifier(now: clock.now) { try await source.fetch() }
        try await verifier.reload()
        clock.advance(11)
        let token = Self.token(kid: "k-new")
        // The fetch fails; the keys held answer: the key is unknown.
        await expectRPCError(.unauthenticated) { _ = try await verifier.verify(token) }
        #expect(source.fetches == 2)
        // Before, the failed fetch left the 10 s throttle unset, and every such call fetched again.
        for _ in 0..<5 {
            await expectRPCError(.unauthenticated) { _ = try await verifier.verify(token) }
        }
        #expect(source.fetches == 2)
    }
}
