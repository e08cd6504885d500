#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif
public import JWTKit

/// The claims of a Tandem access token (a JWT signed with EdDSA by the identity service).
public struct AccessClaims: JWTPayload, Equatable {
    /// The person or service account.
    public var sub: SubjectClaim
    /// The organisation id.
    public var org: String
    /// `person` or `service`.
    public var kind: String
    public var roles: [String]
    /// Programs the subject administers.
    public var programs: [String]
    /// Service accounts: methods they may call.
    public var scopes: [String]
    public var iss: IssuerClaim
    public var iat: IssuedAtClaim
    public var exp: ExpirationClaim

    public static let issuer = "tandem-identity"

    public init(subject: UUID, organisationID: UUID, kind: String, roles: [String], programs: [UUID], scopes: [String], issuedAt: Date, expiresAt: Date) {
        self.sub = SubjectClaim(value: subject.uuidString.lowercased())
        self.org = organisationID.uuidString.lowercased()
        self.kind = kind
        self.roles = roles
        self.programs = programs.map { $0.uuidString.lowercased() }
        self.scopes = scopes
        self.iss = IssuerClaim(value: Self.issuer)
        self.iat = IssuedAtClaim(value: issuedAt)
        self.exp = ExpirationClaim(value: expiresAt)
    }

    /// Checks the issuer. Expiry is checked by `TokenVerifier` against its own clock (so a
    /// test can move time, and every check in a process agrees on "now").
    public func verify(using algorithm: some JWTAlgorithm) async throws {
        guard iss.value == Self.issuer else { throw JWTError.claimVerificationFailure(failedClaim: iss, reason: "unknown issuer") }
    }
}
