#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif
import Crypto
import JWTKit
import Logging
import Synchronization
public import TandemProtocols
public import TandemWire

/// Verifies access tokens locally with the identity service's published keys.
///
/// Keys come from `source` (normally `identity.VerificationKeys`); they are fetched when first
/// needed, again every `refreshInterval`, and at once (at most every 10 s) when a token names a
/// key not seen yet — that is how a rotation reaches every service. Calls that need keys at the
/// same time share one fetch; after a failed one, the next waits `retryAfterFailure` (elapsed
/// time; 10 s while older keys are held, which are used meanwhile). A key past its
/// `acceptedUntil` is dropped. Verified tokens are cached until they expire, so a client that
/// reuses its token pays for one signature check, not one per call.
public final class TokenVerifier: Sendable {
    public typealias KeySource = @Sendable () async throws -> VerificationKeys

    private struct State {
        var keys: JWTKeyCollection?
        var keyIDs: Set<String> = []
        var acceptedUntil: [String: Date] = [:]
        var fetchedAt: Date = .distantPast
        /// When the last fetch failed (monotonic: a frozen or stepped clock cannot wedge it).
        var failedAt: ContinuousClock.Instant?
        /// The fetch under way, which other calls wait for instead of starting their own.
        var loading: Task<JWTKeyCollection, any Error>?
        var cache: [String: (caller: AuthenticatedCaller, keyID: String)] = [:]
    }

    private let source: KeySource
    private let refreshInterval: TimeInterval
    private let cacheLimit: Int
    private let state = Mutex(State())
    private let now: @Sendable () -> Date

    private let retryAfterFailure: Duration

    public init(
        refreshInterval: TimeInterval = 300, cacheLimit: Int = 50_000, retryAfterFailure: Duration = .seconds(1),
        now: @escaping @Sendable () -> Date = Date.init, source: @escaping KeySource
    ) {
        self.retryAfterFailure = retryAfterFailure
        self.source = source
        self.refreshInterval = refreshInterval
        self.cacheLimit = cacheLimit
        self.now = now
    }

    /// The caller a token stands for; UNAUTHENTICATED (naming the problem, never the internals)
    /// when it is not valid.
    public func verify(_ token: String) async throws(RPCError) -> AuthenticatedCaller {
        let now = self.now()
        if let cached = cachedCaller(token, now: now) { return cached }

        guard let kid = Self.keyID(of: token) else {
            throw RPCError(code: .unauthenticated, message: "access token is malformed")
        }
        let keys = try await keys(for: kid, now: now)
        guard state.withLock({ $0.keyIDs.contains(kid) }) else {
            throw RPCError(code: .unauthenticated, message: "access token was signed with an unknown or retired key; sign in again")
        }
        let claims: AccessClaims
        do {
            claims = try await keys.verify(token, as: AccessClaims.self)
        } catch {
            throw RPCError(code: .unauthenticated, message: Self.describe(error))
        }
        if claims.exp.value <= now {
            throw RPCError(code: .unauthenticated, message: "access token has expired; refresh it")
        }
        let accepted = state.withLock { $0.acceptedUntil[kid] }
        if let accepted, accepted <= now {
            throw RPCError(code: .unauthenticated, message: "access token was signed with a retired key; sign in again")
        }
        guard let subject = UUID(uuidString: claims.sub.value), let organisation = UUID(uuidString: claims.org) else {
            throw RPCError(code: .unauthenticated, message: "access token has malformed claims")
        }
        let caller = AuthenticatedCaller(
            subject: subject, organisationID: organisation, isService: claims.kind == "service", roles: Set(claims.roles),
            programs: Set(claims.programs.compactMap(UUID.init(uuidString:))), scopes: claims.scopes, expiresAt: claims.exp.value
        )
        state.withLock { state in
            if state.cache.count >= cacheLimit { state.cache.removeAll(keepingCapacity: true) }
            state.cache[token] = (caller, kid)
        }
        return caller
    }

    /// The caller of a token verified before and still valid (not expired, its key still
    /// accepted), without suspending; nil when `verify` has to check it.
    public func cachedCaller(_ token: String) -> AuthenticatedCaller? {
        cachedCaller(token, now: now())
    }

    private func cachedCaller(_ token: String, now: Date) -> AuthenticatedCaller? {
        state.withLock { state -> AuthenticatedCaller? in
            guard let entry = state.cache[token] else { return nil }
            // Valid while the token has not expired and its key is still accepted (a
            // rotation learnt since it was cached retires it on time).
            let keyAccepted = state.keyIDs.contains(entry.keyID) && (state.acceptedUntil[entry.keyID].map { $0 > now } ?? true)
            if entry.caller.expiresAt <= now || !keyAccepted {
                state.cache[token] = nil
                return nil
            }
            return entry.caller
        }
    }

    /// Drops every cached verification (e.g. after a key was withdrawn).
    public func clearCache() {
        state.withLock { $0.cache.removeAll() }
    }

    private func keys(for kid: String, now: Date) async throws(RPCError) -> JWTKeyCollection {
        let current = state.withLock { state -> (JWTKeyCollection?, Task<JWTKeyCollection, any Error>?) in
            let known = state.keyIDs.contains(kid)
            let fresh = now.timeIntervalSince(state.fetchedAt) < refreshInterval
            let mayRefetch = now.timeIntervalSince(state.fetchedAt) >= 10
            if let keys = state.keys, fresh, known || !mayRefetch { return (keys, nil) }
            // A failed fetch is not tried again at once: with keys held (used meanwhile), not for
            // 10 s, as after a successful one; without, not for retryAfterFailure.
            let failedRecently = state.failedAt.map { ContinuousClock.now - $0 < (state.keys == nil ? retryAfterFailure : .seconds(10)) } ?? false
            if failedRecently { return (state.keys, nil) }
            if let loading = state.loading { return (state.keys, loading) }
            // Detached: the fetch is shared, so it must not end with the deadline of whichever
            // call started it.
            let loading = Task.detached { () async throws -> JWTKeyCollection in
                do {
                    let keys = try await self.load(now: now)
                    self.state.withLock { $0.loading = nil }
                    return keys
                } catch {
                    self.state.withLock { state in
                        state.loading = nil
                        state.failedAt = .now
                    }
                    throw error
                }
            }
            state.loading = loading
            return (state.keys, loading)
        }
        guard let loading = current.1 else {
            if let keys = current.0 { return keys }
            throw RPCError(code: .unavailable, message: "cannot fetch the token verification keys: the last attempt failed moments ago")
        }
        do {
            return try await loading.value
        } catch {
            if let keys = current.0 { return keys }
            throw RPCError(code: .unavailable, message: "cannot fetch the token verification keys: \(error)")
        }
    }

    /// Fetches the keys now.
    public func reload(now: Date? = nil) async throws {
        _ = try await load(now: now)
    }

    private func load(now: Date? = nil) async throws -> JWTKeyCollection {
        let published = try await source()
        let now = now ?? self.now()
        let collection = JWTKeyCollection()
        var ids: Set<String> = []
        var acceptedUntil: [String: Date] = [:]
        for key in published.keys where key.algorithm == "EdDSA" && key.curve == "Ed25519" {
            if let until = key.acceptedUntil, until <= now { continue }
            guard let publicKey = try? Curve25519.Signing.PublicKey(rawRepresentation: key.publicKey) else { continue }
            await collection.add(eddsa: EdDSA.PublicKey(backing: publicKey), kid: JWKIdentifier(string: key.keyID))
            ids.insert(key.keyID)
            acceptedUntil[key.keyID] = key.acceptedUntil
        }
        state.withLock { state in
            state.keys = collection
            state.keyIDs = ids
            state.acceptedUntil = acceptedUntil
            state.fetchedAt = now
            state.failedAt = nil
        }
        return collection
    }

    /// The `kid` in a JWT's header, without verifying anything.
    public static func keyID(of token: String) -> String? {
        guard let headerPart = token.split(separator: ".", omittingEmptySubsequences: false).first else { return nil }
        var base64 = String(headerPart).replacing("-", with: "+").replacing("_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64),
              let header = try? JSONDecoder().decode([String: String].self, from: data) else { return nil }
        return header["kid"]
    }

    static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        if text.contains("exp") || text.contains("expired") { return "access token has expired; refresh it" }
        if text.contains("signature") { return "access token signature is not valid" }
        return "access token is not valid"
    }
}
