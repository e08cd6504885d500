import Foundation
public import TandemAuth
import TandemProtocols
public import TandemRPC
import TandemWire

/// Rate limits and administrative methods at the edge, after `AuthServerInterceptor` (with
/// `Gateway.publicMethods`) has verified the token, or let a public method through without one.
/// Each signed-in caller has a bucket, and so has each address for calls without a token;
/// administrative methods need an admin role or a service account. The services check
/// everything again with the same token (the gateway forwards it).
public struct EdgeInterceptor: ServerInterceptor {
    let limiter: RateLimiter?
    let now: @Sendable () -> Double

    /// Methods that change the organisation's set-up: an admin role (`org-admin`,
    /// `program-admin`, `platform-admin`) or a service account.
    public static let administrativeMethods: Set<String> = Set([
        Identity.createOrganisation.erased, Identity.createProgram.erased, Identity.updateProgram.erased, Identity.createPerson.erased,
        Identity.deactivatePerson.erased, Identity.erasePerson.erased, Identity.importPeople.erased, Identity.createServiceAccount.erased,
        Identity.createAPIKey.erased, Identity.revokeAPIKey.erased, Identity.listServiceAccounts.erased,
    ].map(\.fullName)).union([
        Matching.setSettings.fullName, Matching.syncParticipants.fullName, Matching.runCohort.fullName, Matching.exportScores.fullName,
        Scheduling.registerPair.fullName, Scheduling.streamReminders.fullName, Scheduling.acknowledgeReminders.fullName,
        Gateway.programDashboard.fullName, Feedback.setSurveyTemplate.fullName, Feedback.streamSurveyInvitations.fullName,
        Feedback.programReport.fullName, Feedback.matchHealth.fullName, Feedback.exportReport.fullName, Feedback.streamReportExport.fullName,
        Feedback.setSettings.fullName, Feedback.erasePerson.fullName,
    ])

    /// The gateway's checks in order: the token (verified locally with identity's keys, service
    /// accounts' scopes), then these. `now` is the rate limiter's clock in seconds (tests move it).
    public static func chain(verifier: TokenVerifier, limiter: RateLimiter?, now: @escaping @Sendable () -> Double = monotonicSeconds) -> [any ServerInterceptor] {
        [AuthServerInterceptor(verifier: verifier, publicMethods: Gateway.publicMethods), EdgeInterceptor(limiter: limiter, now: now)]
    }

    public init(limiter: RateLimiter?, now: @escaping @Sendable () -> Double = monotonicSeconds) {
        self.limiter = limiter
        self.now = now
    }

    public func intercept(context: ServerContext, next: @Sendable (ServerContext) async throws -> Void) async throws {
        guard let caller = try? context.caller() else {
            try limit("address:" + context.peer.host)
            return try await next(context)
        }
        try limit("subject:\(caller.organisationID)/\(caller.subject)")
        if Self.administrativeMethods.contains(context.method) {
            let admin = caller.isOrganisationAdmin || caller.isService || caller.has(role: Role.programAdmin) || !caller.programs.isEmpty
            guard admin else { throw RPCError(code: .permissionDenied, message: "\(context.method) needs an admin role") }
        }
        try await next(context)
    }

    /// Seconds on a monotonic clock (from an arbitrary start): rate limits follow elapsed time,
    /// not the wall clock, which NTP or an operator may step back or forward.
    @Sendable public static func monotonicSeconds() -> Double {
        let elapsed = ContinuousClock.now - monotonicStart
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    private static let monotonicStart = ContinuousClock.now

    /// RESOURCE_EXHAUSTED with `retry-after` (milliseconds, WIRE.md) when `key` has no token left.
    /// The key is built only when there is a limit.
    func limit(_ key: @autoclosure () -> String) throws {
        guard let limiter, let wait = limiter.take(key(), now: now()) else { return }
        var metadata = Metadata()
        let milliseconds = max(1, Int((wait * 1000).rounded(.up)))
        metadata[Metadata.Keys.retryAfter] = String(milliseconds)
        throw RPCError(
            code: .resourceExhausted,
            message: "rate limit: \(limiter.perSecond.formatted()) calls a second, bursts of \(Int(limiter.burst)); retry after \(milliseconds) ms", metadata: metadata
        )
    }
}
