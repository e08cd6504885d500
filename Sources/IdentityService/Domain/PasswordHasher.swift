import Crypto
import _CryptoExtras
import Foundation

/// scrypt password hashes: `scrypt$<log2 N>$<r>$<p>$<salt base64>$<hash base64>`.
///
/// The cost is part of the stored string, so it can be raised later without breaking old
/// hashes. Comparison is constant-time.
struct PasswordHasher: Sendable {
    /// log2 of scrypt's N. 15 (32 MiB, ~100 ms here) for production; tests use less.
    var logN: Int = 15
    var blockSize: Int = 8
    var parallelism: Int = 1

    func hash(_ password: String) throws -> String {
        var salt = [UInt8](repeating: 0, count: 16)
        var generator = SystemRandomNumberGenerator()
        for index in salt.indices { salt[index] = UInt8.random(in: 0...255, using: &generator) }
        let derived = try derive(password, salt: salt, logN: logN, blockSize: blockSize, parallelism: parallelism)
        return "scrypt$\(logN)$\(blockSize)$\(parallelism)$\(Data(salt).base64EncodedString())$\(Data(derived).base64EncodedString())"
    }

    /// Whether `password` matches `stored`. A malformed stored hash never matches.
    func verify(_ password: String, against stored: String) -> Bool {
        let parts = stored.split(separator: "$")
        guard parts.count == 6, parts[0] == "scrypt", let logN = Int(parts[1]), let blockSize = Int(parts[2]), let parallelism = Int(parts[3]),
              (10...20).contains(logN), let salt = Data(base64Encoded: String(parts[4])), let expected = Data(base64Encoded: String(parts[5])),
              let derived = try? derive(password, salt: Array(salt), logN: logN, blockSize: blockSize, parallelism: parallelism) else {
            return false
        }
        return constantTimeEqual(derived, Array(expected))
    }

    /// Spends the same time as a real check, for unknown accounts (so timing does not tell
    /// whether an email exists).
    func burn(_ password: String) {
        _ = try? derive(password, salt: [UInt8](repeating: 7, count: 16), logN: logN, blockSize: blockSize, parallelism: parallelism)
    }

    private func derive(_ password: String, salt: [UInt8], logN: Int, blockSize: Int, parallelism: Int) throws -> [UInt8] {
        let key = try KDF.Scrypt.deriveKey(
            from: Array(password.utf8), salt: salt, outputByteCount: 32, rounds: 1 << logN, blockSize: blockSize, parallelism: parallelism,
            maxMemory: 128 * (1 << logN) * blockSize * 2 + 1_048_576
        )
        return key.withUnsafeBytes { Array($0) }
    }
}

/// Compares two byte arrays in time that depends only on their lengths.
func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for index in a.indices { difference |= a[index] ^ b[index] }
    return difference == 0
}

/// SHA-256 of a secret, for storing refresh tokens and API keys (high-entropy secrets need no
/// slow hash; a database leak still does not reveal them).
func secretDigest(_ secret: String) -> [UInt8] {
    Array(SHA256.hash(data: Array(secret.utf8)))
}

/// A random secret of `bytes` bytes, base64url without padding.
func randomSecret(bytes: Int = 32) -> String {
    var generator = SystemRandomNumberGenerator()
    let data = Data((0..<bytes).map { _ in UInt8.random(in: 0...255, using: &generator) })
    return data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
}
