import Foundation
import Synchronization
public import TandemAuth
import TandemProtocols
public import TandemRPC
public import TandemWire

/// Rate limits and administrative methods at the edge, after `AuthServerInterceptor` (with
/// `Gateway.publicMethods`) has verified the token, or let a public method through without one.
/// Each signed-in caller has a bucket, and so has each address for calls without a token; a call
/// the token check refuses counts against its address's bucket too (`RefusedCalls`, ahead of
/// the check). Administrative methods need an admin role or a service account. The services check
/// everything again with the same token (the gateway forwards it).
public struct EdgeInterceptor: SynchronousServerInterceptor {
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
        let edge = EdgeInterceptor(limiter: limiter, now: now)
        return [RefusedCalls(edge: edge), AuthServerInterceptor(verifier: verifier, publicMethods: Gateway.publicMethods), edge]
    }

    public init(limiter: RateLimiter?, now: @escaping @Sendable () -> Double = monotonicSeconds) {
        self.limiter = limiter
        self.now = now
    }

    public func intercept(context: ServerContext, next: @Sendable (ServerContext) async throws -> Void) async throws {
        try await interceptWithBegin(context: context, next: next)
    }

    public func begin(_ context: inout ServerContext) throws(RPCError) -> CallEnd? {
        Self.admission?.admit()
        guard let caller = try? context.caller() else {
            try limit("address:" + context.peer.host)
            return nil
        }
        try limit("subject:\(caller.organisationID)/\(caller.subject)")
        if Self.administrativeMethods.contains(context.method) {
            let admin = caller.isOrganisationAdmin || caller.isService || caller.has(role: Role.programAdmin) || !caller.programs.isEmpty
            guard admin else { throw RPCError(code: .permissionDenied, message: "\(context.method) needs an admin role") }
        }
        return nil
    }

    /// Seconds on a monotonic clock (from an arbitrary start): rate limits follow elapsed time,
    /// not the wall clock, which NTP or an operator may step back or forward.
    @Sendable public static func monotonicSeconds() -> Double {
        let elapsed = ContinuousClock.now - monotonicStart
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    private static let monotonicStart = ContinuousClock.now

    /// Set while a call goes through the token check: the edge marks it admitted, so that
    /// `RefusedCalls` tells a refusal of the check from an UNAUTHENTICATED the service answered.
    @TaskLocal static var admission: Admission?

    /// RESOURCE_EXHAUSTED with `retry-after` (milliseconds, WIRE.md) when `key` has no token left.
    /// The key is built only when there is a limit.
    func limit(_ key: @autoclosure () -> String) throws(RPCError) {
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

/// Counts every call the token check refuses (no token where one is needed, a token that does not
/// verify) against its address's bucket, as a call without a token would be: before, a client
/// sending bad tokens was never limited. Once the bucket is empty such calls are
/// RESOURCE_EXHAUSTED with `retry-after` instead of UNAUTHENTICATED.
struct RefusedCalls: SynchronousServerInterceptor {
    let edge: EdgeInterceptor

    /// Nothing to count: a call passed on without a task got past the token check
    /// (`AuthServerInterceptor.beginsSynchronously` lets only those through; refusals run as tasks).
    func begin(_ context: inout ServerContext) -> CallEnd? { nil }

    func intercept(context: ServerContext, next: @Sendable (ServerContext) async throws -> Void) async throws {
        guard edge.limiter != nil else { return try await next(context) }
        let admission = Admission()
        do {
            try await EdgeInterceptor.$admission.withValue(admission) { try await next(context) }
        } catch let error as RPCError where error.code == .unauthenticated && !admission.isAdmitted {
            try edge.limit("address:" + context.peer.host)
            throw error
        }
    }
}

/// Whether a call got past the token check.
final class Admission: Sendable {
    private let admitted = Atomic<Bool>(false)

    func admit() {
        admitted.store(true, ordering: .relaxed)
    }

    var isAdmitted: Bool { admitted.load(ordering: .relaxed) }
}
