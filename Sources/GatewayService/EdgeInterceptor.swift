public import Foundation
public import TandemAuth
public import TandemProtocols
public import TandemRPC
public import TandemWire

/// Authentication, authorisation and rate limits at the edge, before any routing: the access
/// token is verified locally with identity's published keys; only sign-in, token refresh, API-key
/// exchange and health answer without one; administrative methods need an admin role or a
/// service account; a service account only reaches the methods its scopes name. The services
/// check everything again with the same token (the gateway forwards it).
public struct EdgeInterceptor: ServerInterceptor {
    let verifier: TokenVerifier
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

    public init(verifier: TokenVerifier, limiter: RateLimiter?, now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.verifier = verifier
        self.limiter = limiter
        self.now = now
    }

    public func intercept(context: ServerContext, next: @Sendable (ServerContext) async throws -> Void) async throws {
        guard let header = context.metadata[Metadata.Keys.authorization] else {
            guard Gateway.publicMethods.contains(context.method) else {
                throw RPCError(code: .unauthenticated, message: "\(context.method) needs an access token (authorization: Bearer <token>, from identity.SignIn or identity.ExchangeAPIKey)")
            }
            try limit("address:" + Self.host(context.peer.address))
            return try await next(context)
        }
        guard header.hasPrefix("Bearer ") else {
            throw RPCError(code: .unauthenticated, message: "authorization must be 'Bearer <access token>'; exchange an API key for one with identity.ExchangeAPIKey")
        }
        let caller = try await verifier.verify(String(header.dropFirst("Bearer ".count)))
        try limit("subject:\(caller.organisationID)/\(caller.subject)")
        guard caller.scopeAllows(context.method) else {
            throw RPCError(code: .permissionDenied, message: "this service account's scopes do not include \(context.method)")
        }
        if Self.administrativeMethods.contains(context.method) {
            let admin = caller.isOrganisationAdmin || caller.isService || caller.has(role: Role.programAdmin) || !caller.programs.isEmpty
            guard admin else { throw RPCError(code: .permissionDenied, message: "\(context.method) needs an admin role") }
        }
        var context = context
        context.serviceContext[CallerKey.self] = caller
        try await next(context)
    }

    /// RESOURCE_EXHAUSTED with `retry-after` (milliseconds, WIRE.md) when `key` has no token left.
    func limit(_ key: String) throws {
        guard let limiter, let wait = limiter.take(key, now: now()) else { return }
        var metadata = Metadata()
        let milliseconds = max(1, Int((wait * 1000).rounded(.up)))
        metadata[Metadata.Keys.retryAfter] = String(milliseconds)
        throw RPCError(
            code: .resourceExhausted,
            message: "rate limit: \(limiter.perSecond.formatted()) calls a second, bursts of \(Int(limiter.burst)); retry after \(milliseconds) ms", metadata: metadata
        )
    }

    /// The address without its port.
    static func host(_ address: String) -> String {
        guard let colon = address.lastIndex(of: ":") else { return address }
        return String(address[..<colon])
    }
}
