import Foundation
import TandemProtocols
import TandemStore
import TandemWire

/// What sign-in needs to know about an account.
struct SignInRecord: Sendable {
    var person: Person
    var passwordHash: String?
}

/// The outcome of presenting a refresh token.
enum RefreshOutcome: Sendable {
    /// The token was valid; it is now used and `person` gets a new one in the same family.
    case rotated(person: UUID, organisation: UUID)
    /// The token had been used before: its whole family is now revoked.
    case reused
    case expired
    case invalid
}

/// A stored API key.
struct APIKeyRecord: Sendable {
    var accountID: UUID
    var organisation: UUID
    var scopes: [String]
    var secretDigest: [UInt8]
    var revoked: Bool
}

extension IdentityStore {
    func signInRecord(organisation: UUID, email: String) async throws -> SignInRecord? {
        try await database.read { connection in
            guard let row = try connection.first(
                "SELECT \(Self.personColumns), people.password_hash FROM people WHERE org_id = ? AND email = ? AND erased = 0", organisation, email
            ) else { return nil }
            return SignInRecord(person: try Self.person(row), passwordHash: row.text(20))
        }
    }

    // MARK: Refresh tokens

    /// Used tokens a family keeps for reuse detection (`useRefreshToken`).
    static let keptUsedTokens = 20

    func storeRefreshToken(digest: [UInt8], family: UUID, person: UUID, organisation: UUID, expiresAt: Date, now: Date) async throws {
        try await database.write { connection in
            try connection.execute("""
                INSERT INTO refresh_tokens (token_hash, family_id, person_id, org_id, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)
                """, digest, family, person, organisation, expiresAt.timeIntervalSince1970, now.timeIntervalSince1970)
            // Housekeeping: tokens long expired are of no further use, even for reuse detection.
            try connection.execute("DELETE FROM refresh_tokens WHERE person_id = ? AND expires_at < ?", person, now.timeIntervalSince1970 - 86_400)
        }
    }

    /// Uses a refresh token: marks it used and stores its successor, in one transaction. A
    /// token presented twice revokes every token of its family (someone has a copy).
    func useRefreshToken(digest: [UInt8], successor: [UInt8], successorExpiresAt: Date, now: Date) async throws -> RefreshOutcome {
        try await database.write { connection in
            guard let row = try connection.first(
                "SELECT family_id, person_id, org_id, expires_at, used, revoked FROM refresh_tokens WHERE token_hash = ?", digest
            ), let family = row.uuid(0), let person = row.uuid(1), let organisation = row.uuid(2) else { return .invalid }
            if row.int(5) == 1 { return .invalid }
            if row.int(4) == 1 {
                try connection.execute("UPDATE refresh_tokens SET revoked = 1 WHERE family_id = ? AND revoked = 0", family)
                return .reused
            }
            if (row.double(3) ?? 0) <= now.timeIntervalSince1970 { return .expired }
            guard try connection.first("SELECT 1 FROM people WHERE id = ? AND active = 1 AND erased = 0", person) != nil else {
                try connection.execute("UPDATE refresh_tokens SET revoked = 1 WHERE family_id = ? AND revoked = 0", family)
                return .invalid
            }
            try connection.execute("UPDATE refresh_tokens SET used = 1 WHERE token_hash = ?", digest)
            try connection.execute("""
                INSERT INTO refresh_tokens (token_hash, family_id, person_id, org_id, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)
                """, successor, family, person, organisation, successorExpiresAt.timeIntervalSince1970, now.timeIntervalSince1970)
            // A family keeps its last `keptUsedTokens` used tokens for reuse detection, not every one
            // since sign-in: a session refreshed every few minutes for weeks (or a client refreshing
            // in a loop) would otherwise grow the table, and each sign-out rewrite, without bound.
            // An older used token presented again is simply invalid.
            try connection.execute("""
                DELETE FROM refresh_tokens WHERE family_id = ?1 AND used = 1 AND token_hash NOT IN (
                    SELECT token_hash FROM refresh_tokens WHERE family_id = ?1 AND used = 1 ORDER BY created_at DESC, rowid DESC LIMIT ?2
                )
                """, family, Self.keptUsedTokens)
            return .rotated(person: person, organisation: organisation)
        }
    }

    /// Revokes the family of a refresh token (sign-out). Unknown tokens are ignored.
    func revokeRefreshFamily(digest: [UInt8]) async throws {
        _ = try await database.write { connection in
            try connection.execute("""
                UPDATE refresh_tokens SET revoked = 1
                WHERE family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = ?) AND revoked = 0
                """, digest)
        }
    }

    // MARK: Signing keys

    func signingKeys() async throws -> [SigningKey] {
        try await database.read { connection in
            try connection.query("SELECT kid, private_key, active_from, accepted_until FROM signing_keys ORDER BY active_from").map { row in
                SigningKey(
                    keyID: row.text(0) ?? "", privateKey: Data(row.blob(1) ?? []), activeFrom: Date(timeIntervalSince1970: row.double(2) ?? 0),
                    acceptedUntil: row.double(3).map(Date.init(timeIntervalSince1970:))
                )
            }
        }
    }

    /// Replaces the stored key ring.
    func saveSigningKeys(_ keys: [SigningKey]) async throws {
        try await database.write { connection in
            try connection.execute("DELETE FROM signing_keys")
            for key in keys {
                try connection.execute(
                    "INSERT INTO signing_keys (kid, private_key, active_from, accepted_until) VALUES (?, ?, ?, ?)",
                    key.keyID, key.privateKey, key.activeFrom.timeIntervalSince1970, key.acceptedUntil?.timeIntervalSince1970
                )
            }
        }
    }

    // MARK: Service accounts and API keys

    private static func serviceAccount(_ connection: SQLiteConnection, _ row: SQLiteRow) throws -> ServiceAccount {
        guard let id = row.uuid(0) else { throw StoreError.corrupt("service account") }
        let keys = try connection.query("SELECT id FROM api_keys WHERE account_id = ? AND revoked = 0 ORDER BY created_at", id).compactMap { $0.uuid(0) }
        return ServiceAccount(
            id: id, name: row.text(1) ?? "", scopes: (row.text(2) ?? "").split(separator: " ").map(String.init),
            createdAt: Date(timeIntervalSince1970: row.double(3) ?? 0), activeKeyIDs: keys
        )
    }

    func createServiceAccount(organisation: UUID, name: String, scopes: [String], now: Date) async throws -> ServiceAccount {
        try await database.write { connection in
            if try connection.first("SELECT 1 FROM service_accounts WHERE org_id = ? AND name = ?", organisation, name) != nil {
                throw StoreFailure.alreadyExists(field: "name", "a service account named '\(name)' already exists")
            }
            let id = UUID()
            try connection.execute(
                "INSERT INTO service_accounts (id, org_id, name, scopes, created_at) VALUES (?, ?, ?, ?, ?)",
                id, organisation, name, scopes.joined(separator: " "), now.timeIntervalSince1970
            )
            return ServiceAccount(id: id, name: name, scopes: scopes, createdAt: now, activeKeyIDs: [])
        }
    }

    func serviceAccounts(organisation: UUID) async throws -> [ServiceAccount] {
        try await database.read { connection in
            try connection.query("SELECT id, name, scopes, created_at FROM service_accounts WHERE org_id = ? ORDER BY name", organisation).map {
                try Self.serviceAccount(connection, $0)
            }
        }
    }

    func createAPIKey(organisation: UUID, account: UUID, keyID: UUID, secretDigest: [UInt8], now: Date) async throws {
        try await database.write { connection in
            guard try connection.first("SELECT 1 FROM service_accounts WHERE org_id = ? AND id = ?", organisation, account) != nil else {
                throw RPCError.notFound("service account", account.uuidString.lowercased())
            }
            try connection.execute(
                "INSERT INTO api_keys (id, account_id, org_id, secret_hash, created_at) VALUES (?, ?, ?, ?, ?)",
                keyID, account, organisation, secretDigest, now.timeIntervalSince1970
            )
        }
    }

    func revokeAPIKey(organisation: UUID, keyID: UUID) async throws {
        try await database.write { connection in
            guard try connection.first("SELECT 1 FROM api_keys WHERE org_id = ? AND id = ?", organisation, keyID) != nil else {
                throw RPCError.notFound("API key", keyID.uuidString.lowercased())
            }
            try connection.execute("UPDATE api_keys SET revoked = 1 WHERE id = ?", keyID)
        }
    }

    func apiKey(id: UUID) async throws -> APIKeyRecord? {
        try await database.read { connection in
            guard let row = try connection.first("""
                SELECT k.account_id, k.org_id, a.scopes, k.secret_hash, k.revoked FROM api_keys k JOIN service_accounts a ON a.id = k.account_id
                WHERE k.id = ?
                """, id), let account = row.uuid(0), let organisation = row.uuid(1) else { return nil }
            return APIKeyRecord(
                accountID: account, organisation: organisation, scopes: (row.text(2) ?? "").split(separator: " ").map(String.init),
                secretDigest: row.blob(3) ?? [], revoked: row.int(4) == 1
            )
        }
    }
}
