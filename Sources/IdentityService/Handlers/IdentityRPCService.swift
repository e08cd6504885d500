import Foundation
import TandemAuth
import TandemProtocols
import TandemRPC
import TandemWire

/// The `identity` methods (Protocols/Identity.md). Every method that reads or changes data
/// works inside the caller's organisation only: ids from another organisation are NOT_FOUND.
struct IdentityRPCService: RPCService {
    let server: IdentityServer

    func register(into router: inout RPCRouter) {
        let server = self.server
        router.register(Identity.signIn, unary: { try await server.signIn($0, context: $1) })
        router.register(Identity.refresh, unary: { try await server.refresh($0, context: $1) })
        router.register(Identity.signOut, unary: { try await server.signOut($0, context: $1) })
        router.register(Identity.exchangeAPIKey, unary: { try await server.exchangeAPIKey($0, context: $1) })
        router.register(Identity.verificationKeys, unary: { _, _ in server.verificationKeys() })
        router.register(Identity.rotateSigningKey, unary: { try await server.rotateSigningKey($0, context: $1) })
        router.register(Identity.whoAmI, unary: { try server.whoAmI(context: $1) })
        router.register(Identity.createOrganisation, unary: { try await server.createOrganisation($0, context: $1) })
        router.register(Identity.createProgram, unary: { try await server.createProgram($0, context: $1) })
        router.register(Identity.updateProgram, unary: { try await server.updateProgram($0, context: $1) })
        router.register(Identity.getProgram, unary: { try await server.getProgram($0, context: $1) })
        router.register(Identity.listPrograms, unary: { try await server.listPrograms(context: $1) })
        router.register(Identity.createPerson, unary: { try await server.createPerson($0, context: $1) })
        router.register(Identity.updatePerson, unary: { try await server.updatePerson($0, context: $1) })
        router.register(Identity.getPerson, unary: { try await server.getPerson($0, context: $1) })
        router.register(Identity.listPeople, unary: { try await server.listPeople($0, context: $1) })
        router.register(Identity.deactivatePerson, unary: { try await server.deactivatePerson($0, context: $1) })
        router.register(Identity.erasePerson, unary: { try await server.erasePerson($0, context: $1) })
        router.register(Identity.setPassword, unary: { try await server.setPassword($0, context: $1) })
        router.register(Identity.importPeople, unary: { try await server.importPeople($0, context: $1) })
        router.register(Identity.upsertParticipation, unary: { try await server.upsertParticipation($0, context: $1) })
        router.register(Identity.getParticipation, unary: { try await server.getParticipation($0, context: $1) })
        router.register(Identity.listParticipants, unary: { try await server.listParticipants($0, context: $1) })
        router.register(Identity.createServiceAccount, unary: { try await server.createServiceAccount($0, context: $1) })
        router.register(Identity.createAPIKey, unary: { try await server.createAPIKey($0, context: $1) })
        router.register(Identity.revokeAPIKey, unary: { try await server.revokeAPIKey($0, context: $1) })
        router.register(Identity.listServiceAccounts, unary: { try await server.listServiceAccounts(context: $1) })
        router.register(Identity.listErasures, unary: { try await server.listErasures($0, context: $1) })
    }
}

extension AuthenticatedCaller {
    /// Organisation admins, and service accounts (whose scopes already limit what they call).
    var actsForOrganisation: Bool { isOrganisationAdmin || isService }

    func requireOrganisationAuthority(_ action: String) throws(RPCError) {
        guard actsForOrganisation else { throw RPCError(code: .permissionDenied, message: "\(action) needs the org-admin role") }
    }

    func requirePerson(_ action: String) throws(RPCError) {
        guard !isService else { throw RPCError(code: .permissionDenied, message: "\(action) is for people, not service accounts") }
    }
}

// MARK: - Authentication

extension IdentityServer {
    /// The address sign-in attempts are counted against: the TLS peer, or, for calls the
    /// gateway forwards, the client address it reports.
    func clientAddress(_ context: ServerContext) -> String {
        if context.peer.certificateNames.contains("gateway"), let forwarded = context.metadata[Metadata.Keys.clientAddress], !forwarded.isEmpty {
            return forwarded
        }
        return context.peer.host
    }

    private func throttled(until: Date) -> RPCError {
        let seconds = max(1, Int(until.timeIntervalSince(configuration.now()).rounded(.up)))
        return RPCError(
            code: .resourceExhausted, message: "too many failed sign-ins (attempts still being checked count as failed); try again in \(seconds) s",
            details: [.retryInfo(retryDelayMilliseconds: UInt64(seconds) * 1000)], metadata: [Metadata.Keys.retryAfter: .text("\(seconds * 1000)")]
        )
    }

    /// Admits a password attempt for `account` (if any) and `client`, counted against both as in
    /// flight until `endAttempt` (so attempts sent at once cannot all get past the throttle);
    /// RESOURCE_EXHAUSTED with the wait when either must wait, and then nothing is counted.
    func beginAttempt(account: String?, client: String) throws(RPCError) {
        let now = configuration.now()
        let accountWait = account.flatMap { key in accountThrottle.withLock { $0.begin(key, now: now) } }
        let clientWait = clientThrottle.withLock { $0.begin(client, now: now) }
        guard let until = [accountWait, clientWait].compactMap({ $0 }).max() else { return }
        if let account, accountWait == nil { accountThrottle.withLock { $0.end(account, failed: false, now: now) } }
        if clientWait == nil { clientThrottle.withLock { $0.end(client, failed: false, now: now) } }
        throw throttled(until: until)
    }

    /// Ends an attempt `beginAttempt` admitted: `failed` when the password was wrong.
    func endAttempt(account: String?, client: String, failed: Bool) {
        let now = configuration.now()
        if let account { accountThrottle.withLock { $0.end(account, failed: failed, now: now) } }
        clientThrottle.withLock { $0.end(client, failed: failed, now: now) }
    }

    func newRefreshToken() -> (token: String, digest: [UInt8], expires: Date) {
        let token = "rt_" + randomSecret(bytes: 32)
        return (token, secretDigest(token), configuration.now().addingTimeInterval(configuration.refreshTokenLifetime))
    }

    func signIn(_ request: SignInRequest, context: ServerContext) async throws -> Tokens {
        var violations: [ErrorDetail.FieldViolation] = []
        for (value, field) in [(request.organisation, "organisation"), (request.email, "email"), (request.password, "password")] where value.isEmpty {
            violations.append(.init(field: field, rule: "required", description: "must not be empty"))
        }
        if request.password.count > 1024 { violations.append(.init(field: "password", rule: "length", description: "must be at most 1024 characters")) }
        // Longer than any organisation slug or email can be: refused before they become throttle
        // keys (which a failure keeps for an hour). Says nothing about whether an account exists.
        if request.organisation.count > 40 { violations.append(.init(field: "organisation", rule: "length", description: "must be at most 40 characters")) }
        if request.email.count > 254 { violations.append(.init(field: "email", rule: "length", description: "must be at most 254 characters")) }
        try Validation.check(violations)

        let slug = request.organisation.lowercased()
        let email = Validation.normalizedEmail(request.email)
        let account = slug + "/" + email
        let client = clientAddress(context)
        try beginAttempt(account: account, client: client)

        let signedIn: Person?
        do {
            let record: SignInRecord?
            if let organisation = try await store.organisation(slug: slug) {
                record = try await store.signInRecord(organisation: organisation.id, email: email)
            } else {
                record = nil
            }
            // Unknown accounts, deactivated people and people without a password cost the same
            // scrypt run as a wrong password, and get the same answer.
            let usable = record.flatMap { $0.person.active ? $0.passwordHash : nil }
            signedIn = try await verifyPassword(request.password, against: usable) ? record?.person : nil
        } catch {
            // Not an answer about the password (the store failed, the call was cancelled).
            endAttempt(account: account, client: client, failed: false)
            throw error
        }
        guard let person = signedIn else {
            endAttempt(account: account, client: client, failed: true)
            context.logger.info("sign-in failed", metadata: ["client": "\(client)"])
            throw RPCError(code: .unauthenticated, message: "the organisation, email or password is wrong")
        }
        endAttempt(account: account, client: client, failed: false)
        accountThrottle.withLock { $0.recordSuccess(account) }
        let refresh = newRefreshToken()
        try await store.storeRefreshToken(
            digest: refresh.digest, family: UUID(), person: person.id, organisation: person.organisationID, expiresAt: refresh.expires, now: configuration.now()
        )
        return try await tokens(for: person, refreshToken: refresh.token, refreshExpires: refresh.expires)
    }

    func refresh(_ request: RefreshRequest, context: ServerContext) async throws -> Tokens {
        guard !request.refreshToken.isEmpty, request.refreshToken.count <= 200 else {
            throw RPCError.invalidArgument(field: "refreshToken", rule: "format", "is not a refresh token")
        }
        let successor = newRefreshToken()
        let outcome = try await store.useRefreshToken(
            digest: secretDigest(request.refreshToken), successor: successor.digest, successorExpiresAt: successor.expires, now: configuration.now()
        )
        switch outcome {
        case .rotated(let personID, let organisation):
            guard let person = try await store.person(organisation: organisation, id: personID), person.active else {
                throw RPCError(code: .unauthenticated, message: "the refresh token is not valid; sign in again")
            }
            return try await tokens(for: person, refreshToken: successor.token, refreshExpires: successor.expires)
        case .reused:
            context.logger.warning("refresh token reused; its family is revoked")
            throw RPCError(
                code: .unauthenticated,
                message: "this refresh token was already used, so it may have been copied: every session of that sign-in is now signed out; sign in again"
            )
        case .expired:
            throw RPCError(code: .unauthenticated, message: "the refresh token has expired; sign in again")
        case .invalid:
            throw RPCError(code: .unauthenticated, message: "the refresh token is not valid; sign in again")
        }
    }

    func signOut(_ request: RefreshRequest, context: ServerContext) async throws -> Empty {
        guard !request.refreshToken.isEmpty else { throw RPCError.invalidArgument(field: "refreshToken", rule: "required", "must not be empty") }
        try await store.revokeRefreshFamily(digest: secretDigest(request.refreshToken))
        return Empty()
    }

    func exchangeAPIKey(_ request: APIKeyExchangeRequest, context: ServerContext) async throws -> Tokens {
        guard !request.apiKey.isEmpty else { throw RPCError.invalidArgument(field: "apiKey", rule: "required", "must not be empty") }
        let client = clientAddress(context)
        // Counted against the client as sign-ins are, attempts still being checked included: a
        // burst of wrong keys sent at once is not all checked before the first failure counts.
        try beginAttempt(account: nil, client: client)
        let record: APIKeyRecord
        do {
            await configuration.beforeCredentialCheck?()
            record = try await checkAPIKey(request.apiKey)
        } catch {
            endAttempt(account: nil, client: client, failed: (error as? RPCError)?.code == .unauthenticated)
            throw error
        }
        endAttempt(account: nil, client: client, failed: false)
        let (token, expires) = try await accessToken(
            subject: record.accountID, organisation: record.organisation, kind: "service", roles: [Role.service], programs: [], scopes: record.scopes
        )
        return Tokens(
            accessToken: token, accessExpiresAt: expires, refreshToken: nil, refreshExpiresAt: nil, subject: record.accountID,
            organisationID: record.organisation, roles: [Role.service]
        )
    }

    func verificationKeys() -> VerificationKeys {
        let now = configuration.now()
        return VerificationKeys(keys: keyRing.withLock { $0.published(at: now) })
    }

    func rotateSigningKey(_ request: RotateSigningKeyRequest, context: ServerContext) async throws -> VerificationKeys {
        let caller = try context.caller()
        guard caller.has(role: Role.platformAdmin) else {
            throw RPCError(code: .permissionDenied, message: "rotating the signing key needs the platform-admin role")
        }
        let overlap = request.overlapSeconds ?? Int(configuration.accessTokenLifetime) + 60
        guard (0...7 * 86_400).contains(overlap) else {
            throw RPCError.invalidArgument(field: "overlapSeconds", rule: "range", "must be between 0 and 604800 (7 days)")
        }
        return VerificationKeys(keys: try await rotateSigningKey(overlap: TimeInterval(overlap)))
    }

    func whoAmI(context: ServerContext) throws -> Caller {
        let caller = try context.caller()
        return Caller(
            subject: caller.subject, organisationID: caller.organisationID, kind: caller.isService ? "service" : "person",
            roles: caller.roles.sorted(), programs: caller.programs.sorted { $0.uuidString < $1.uuidString }, scopes: caller.scopes
        )
    }
}
