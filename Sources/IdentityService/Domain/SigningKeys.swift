import Crypto
import Foundation
import JWTKit
import TandemAuth
import TandemProtocols

/// One Ed25519 signing key and the window in which tokens it signed are accepted.
struct SigningKey: Sendable, Equatable {
    var keyID: String
    var privateKey: Data
    var activeFrom: Date
    var acceptedUntil: Date?

    static func generate(activeFrom: Date) -> SigningKey {
        let key = Curve25519.Signing.PrivateKey()
        let id = "k" + String(Int(activeFrom.timeIntervalSince1970)) + "-" + randomSecret(bytes: 4)
        return SigningKey(keyID: id, privateKey: key.rawRepresentation, activeFrom: activeFrom, acceptedUntil: nil)
    }

    var publicKey: Data {
        (try? Curve25519.Signing.PrivateKey(rawRepresentation: privateKey).publicKey.rawRepresentation) ?? Data()
    }

    var published: VerificationKey {
        VerificationKey(keyID: keyID, publicKey: publicKey, activeFrom: activeFrom, acceptedUntil: acceptedUntil)
    }
}

/// Signs access tokens with the newest active key. Pure decisions (which key, what to publish,
/// what a rotation changes) are separate from the JWT machinery.
struct SigningKeyRing: Sendable, Equatable {
    var keys: [SigningKey]

    /// The key new tokens are signed with: the newest whose `activeFrom` has passed.
    func current(at now: Date) -> SigningKey? {
        // Of keys active at the same instant, the one added last is the newest.
        keys.filter { $0.activeFrom <= now && ($0.acceptedUntil.map { $0 > now } ?? true) }
            .reduce(nil) { best, key in best.map { key.activeFrom >= $0.activeFrom ? key : $0 } ?? key }
    }

    /// Keys still accepted: what `VerificationKeys` publishes.
    func published(at now: Date) -> [VerificationKey] {
        keys.filter { $0.acceptedUntil.map { $0 > now } ?? true }.sorted { $0.activeFrom < $1.activeFrom }.map(\.published)
    }

    /// A new key signs from now on; older keys stay accepted for `overlap`, so tokens they
    /// signed keep working until they would have expired anyway.
    mutating func rotate(at now: Date, overlap: TimeInterval) -> SigningKey {
        for index in keys.indices where keys[index].acceptedUntil == nil || keys[index].acceptedUntil! > now.addingTimeInterval(overlap) {
            keys[index].acceptedUntil = now.addingTimeInterval(overlap)
        }
        let key = SigningKey.generate(activeFrom: now)
        keys.append(key)
        keys.removeAll { $0.acceptedUntil.map { $0 <= now } ?? false }
        return key
    }
}

/// Signs access tokens (JWT, EdDSA) with jwt-kit.
actor TokenSigner {
    private var collection = JWTKeyCollection()
    private var loadedKeyID: String?

    func sign(_ claims: AccessClaims, with key: SigningKey) async throws -> String {
        if loadedKeyID != key.keyID {
            let privateKey = try Curve25519.Signing.PrivateKey(rawRepresentation: key.privateKey)
            collection = JWTKeyCollection()
            await collection.add(eddsa: EdDSA.PrivateKey(backing: privateKey), kid: JWKIdentifier(string: key.keyID))
            loadedKeyID = key.keyID
        }
        return try await collection.sign(claims, kid: JWKIdentifier(string: key.keyID))
    }
}
