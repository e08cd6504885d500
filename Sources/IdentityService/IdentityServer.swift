public import Foundation
public import Logging
import NIOPosix
import Synchronization
public import TandemAuth
public import TandemProtocols
public import TandemRPC
import TandemWire

/// How the identity service behaves; defaults suit production.
public struct IdentityConfiguration: Sendable {
    /// Access tokens live this long (the issue fixes 15 minutes).
    public var accessTokenLifetime: TimeInterval = 15 * 60
    /// Refresh tokens expire after this long without use.
    public var refreshTokenLifetime: TimeInterval = 30 * 24 * 3600
    /// log2 of scrypt's N (15: 32 MiB and ~0.1 s per check). Lower only for tests.
    public var scryptLogN = 15
    /// Failed sign-ins allowed per account before back-off starts.
    public var freeFailuresPerAccount = 5
    /// Failed sign-ins allowed per client address before back-off starts.
    public var freeFailuresPerClient = 20
    /// The first back-off; it doubles with each further failure, up to `maxBackoff`.
    public var baseBackoff: TimeInterval = 1
    public var maxBackoff: TimeInterval = 15 * 60
    /// The clock (tests move it).
    public var now: @Sendable () -> Date = { Date() }
    /// Awaited before each password check and each API key exchange's key check (tests hold
    /// attempts there, in flight).
    var beforeCredentialCheck: (@Sendable () async -> Void)?

    public init() {}
}

/// The identity service: its store, signing keys and sign-in throttles, and the RPC service
/// and auth interceptor built on them. Open it, host `service` on an `RPCServer` with
/// `interceptors`, and `close()` it after the server stopped.
public final class IdentityServer: Sendable {
    let store: IdentityStore
    let configuration: IdentityConfiguration
    let logger: Logger
    let hasher: PasswordHasher
    let signer = TokenSigner()
    let keyRing: LockedKeyRing
    let accountThrottle: Mutex<SignInThrottle>
    let clientThrottle: Mutex<SignInThrottle>
    /// Verifies this service's own tokens, with the local key ring.
    public let verifier: TokenVerifier

    /// Opens (creating and migrating) `<dataDirectory>/identity.sqlite` and loads the signing
    /// keys, making the first one if there is none.
    public static func open(dataDirectory: String, configuration: IdentityConfiguration = IdentityConfiguration(), logger: Logger) async throws -> IdentityServer {
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        let store = try IdentityStore(path: dataDirectory + "/identity.sqlite", logger: logger)
        do {
            var ring = SigningKeyRing(keys: try await store.signingKeys())
            if ring.current(at: configuration.now()) == nil {
                _ = ring.rotate(at: configuration.now(), overlap: configuration.accessTokenLifetime + 60)
                try await store.saveSigningKeys(ring.keys)
                logger.info("created a signing key", metadata: ["kid": "\(ring.current(at: configuration.now())?.keyID ?? "?")"])
            }
            return IdentityServer(store: store, ring: ring, configuration: configuration, logger: logger)
        } catch {
            store.close()
            throw error
        }
    }

    private init(store: IdentityStore, ring: SigningKeyRing, configuration: IdentityConfiguration, logger: Logger) {
        self.store = store
        self.configuration = configuration
        self.logger = logger
        self.hasher = PasswordHasher(logN: configuration.scryptLogN)
        let keyRing = LockedKeyRing(ring)
        self.keyRing = keyRing
        let now = configuration.now
        self.verifier = TokenVerifier(refreshInterval: 5, now: now) {
            VerificationKeys(keys: keyRing.withLock { $0.published(at: now()) })
        }
        self.accountThrottle = Mutex(SignInThrottle(freeFailures: configuration.freeFailuresPerAccount, baseDelay: configuration.baseBackoff, maxDelay: configuration.maxBackoff))
        self.clientThrottle = Mutex(SignInThrottle(freeFailures: configuration.freeFailuresPerClient, baseDelay: configuration.baseBackoff, maxDelay: configuration.maxBackoff))
    }

    /// The RPC handlers.
    public var service: any RPCService { IdentityRPCService(server: self) }

    /// Checks access tokens (and API keys) on every call but the public ones, and admits only the
    /// listed services (by certificate name) to the internal methods.
    public var interceptors: [any ServerInterceptor] {
        [AuthServerInterceptor(
            verifier: verifier,
            apiKeys: { [self] (key: String) async throws(RPCError) -> AuthenticatedCaller in try await self.callerForAPIKey(key) },
            internalMethods: Identity.internalMethods
        )]
    }

    /// Closes the database (after the server stopped).
    public func close() {
        store.close()
    }

    /// Fails unless the database answers reads and writes (for the readiness probe).
    public func checkStore() async throws {
        try await store.database.check()
    }

    /// Creates the first organisation and its administrator, who is also a platform admin.
    /// Refuses when any organisation exists. The admin's email is stored normalised, as
    /// `CreateOrganisation` and `CreatePerson` store it: sign-in looks emails up in lower case.
    public func bootstrap(organisationName: String, slug: String, admin: PersonInput, password: String) async throws -> (Organisation, Person) {
        guard try await store.organisationCount() == 0 else {
            throw RPCError(code: .failedPrecondition, message: "the platform is already bootstrapped (an organisation exists)")
        }
        var admin = admin
        admin.email = Validation.normalizedEmail(admin.email)
        try Validation.check(Self.organisationViolations(name: organisationName, slug: slug, admin: admin, password: password))
        let hash = try await hashPassword(password)
        return try await store.createOrganisation(name: organisationName, slug: slug, admin: admin, adminPasswordHash: hash, platformAdmin: true, now: configuration.now())
    }

    /// Creates a service account with one API key in the organisation `slug` (an operator's
    /// tool, for the first integration); returns the key, shown only here.
    public func createServiceAccountKey(organisation slug: String, name: String, scopes: [String]) async throws -> (ServiceAccount, CreatedAPIKey) {
        guard let organisation = try await store.organisation(slug: slug) else {
            throw RPCError.notFound("organisation", slug)
        }
        var violations = Self.scopeViolations(scopes)
        if let violation = Validation.nonEmpty(name, field: "name", maxLength: 100) { violations.append(violation) }
        try Validation.check(violations)
        let now = configuration.now()
        let account = try await store.createServiceAccount(organisation: organisation.id, name: name, scopes: scopes, now: now)
        let keyID = UUID()
        let key = APIKeyFormat.make(keyID: keyID)
        try await store.createAPIKey(organisation: organisation.id, account: account.id, keyID: keyID, secretDigest: secretDigest(key), now: now)
        return (account, CreatedAPIKey(keyID: keyID, apiKey: key))
    }

    static func organisationViolations(name: String, slug: String, admin: PersonInput, password: String) -> [ErrorDetail.FieldViolation] {
        var violations: [ErrorDetail.FieldViolation] = []
        if let violation = Validation.nonEmpty(name, field: "name") { violations.append(violation) }
        if let violation = Validation.slug(slug) { violations.append(violation) }
        violations += Validation.person(admin, prefix: "admin")
        if let violation = Validation.password(password, field: "adminPassword") { violations.append(violation) }
        return violations
    }

    // MARK: - CPU-heavy work off the event loops

    func hashPassword(_ password: String) async throws -> String {
        let hasher = self.hasher
        return try await NIOThreadPool.singleton.runIfActive { try hasher.hash(password) }
    }

    func verifyPassword(_ password: String, against stored: String?) async throws -> Bool {
        await configuration.beforeCredentialCheck?()
        let hasher = self.hasher
        return try await NIOThreadPool.singleton.runIfActive {
            guard let stored else {
                hasher.burn(password)
                return false
            }
            return hasher.verify(password, against: stored)
        }
    }

    // MARK: - Tokens

    /// Signs an access token for `claims` with the current key.
    func accessToken(subject: UUID, organisation: UUID, kind: String, roles: [String], programs: [UUID], scopes: [String]) async throws -> (String, Date) {
        let now = configuration.now()
        let expires = now.addingTimeInterval(configuration.accessTokenLifetime)
        guard let key = keyRing.withLock({ $0.current(at: now) }) else {
            throw RPCError(code: .unavailable, message: "no signing key is active")
        }
        let claims = AccessClaims(
            subject: subject, organisationID: organisation, kind: kind, roles: roles.sorted(), programs: programs, scopes: scopes,
            issuedAt: now, expiresAt: expires
        )
        return (try await signer.sign(claims, with: key), expires)
    }

    /// Tokens for a person: roles and administered programs as stored now, and a new refresh
    /// token in `family` (a new family at sign-in).
    func tokens(for person: Person, refreshToken: String, refreshExpires: Date) async throws -> Tokens {
        let programs = try await store.administeredPrograms(person: person.id)
        var roles = Set(person.roles)
        roles.formUnion(try await store.participationRoles(person: person.id))
        if !programs.isEmpty { roles.insert(Role.programAdmin) }
        let (token, expires) = try await accessToken(
            subject: person.id, organisation: person.organisationID, kind: "person", roles: Array(roles), programs: programs, scopes: []
        )
        return Tokens(
            accessToken: token, accessExpiresAt: expires, refreshToken: refreshToken, refreshExpiresAt: refreshExpires,
            subject: person.id, organisationID: person.organisationID, roles: roles.sorted()
        )
    }

    /// Rotates the signing key; tokens signed with older keys stay valid for `overlap`.
    func rotateSigningKey(overlap: TimeInterval) async throws -> [VerificationKey] {
        let now = configuration.now()
        let (keys, newKey) = keyRing.withLock { ring -> ([SigningKey], SigningKey) in
            let key = ring.rotate(at: now, overlap: overlap)
            return (ring.keys, key)
        }
        try await store.saveSigningKeys(keys)
        try await verifier.reload(now: now)
        verifier.clearCache()
        logger.notice("rotated the signing key", metadata: ["kid": "\(newKey.keyID)", "overlap-seconds": "\(Int(overlap))"])
        return keyRing.withLock { $0.published(at: now) }
    }

    /// The service-account caller an API key stands for (used for `ApiKey` authorization).
    func callerForAPIKey(_ key: String) async throws(RPCError) -> AuthenticatedCaller {
        let record: APIKeyRecord
        do {
            record = try await checkAPIKey(key)
        } catch let error as RPCError {
            throw error
        } catch {
            throw RPCError(code: .unavailable, message: "cannot check the API key now")
        }
        return AuthenticatedCaller(
            subject: record.accountID, organisationID: record.organisation, isService: true, roles: [Role.service], programs: [],
            scopes: record.scopes, expiresAt: configuration.now().addingTimeInterval(60)
        )
    }

    /// The stored key an API key names, if the secret matches and it is not revoked.
    func checkAPIKey(_ key: String) async throws -> APIKeyRecord {
        let invalid = RPCError(code: .unauthenticated, message: "the API key is not valid")
        guard let (keyID, _) = APIKeyFormat.parse(key) else { throw invalid }
        guard let record = try await store.apiKey(id: keyID), !record.revoked,
              constantTimeEqual(record.secretDigest, secretDigest(key)) else { throw invalid }
        return record
    }
}

/// The key ring, shared between signing and the local verifier.
final class LockedKeyRing: Sendable {
    private let ring: Mutex<SigningKeyRing>

    init(_ ring: SigningKeyRing) {
        self.ring = Mutex(ring)
    }

    func withLock<T>(_ body: (inout SigningKeyRing) -> T) -> T {
        ring.withLock { body(&$0) }
    }
}

/// API keys: `tdm_<key id, 32 hex digits>_<secret>`.
enum APIKeyFormat {
    static func make(keyID: UUID) -> String {
        "tdm_" + keyID.uuidString.lowercased().replacing("-", with: "") + "_" + randomSecret(bytes: 32)
    }

    static func parse(_ key: String) -> (UUID, String)? {
        let parts = key.split(separator: "_", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "tdm", parts[1].count == 32, !parts[2].isEmpty else { return nil }
        let hex = Array(parts[1])
        let text = String(hex[0..<8]) + "-" + String(hex[8..<12]) + "-" + String(hex[12..<16]) + "-" + String(hex[16..<20]) + "-" + String(hex[20..<32])
        guard let id = UUID(uuidString: text) else { return nil }
        return (id, String(parts[2]))
    }
}
