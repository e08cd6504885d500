#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif
import Crypto
import SwiftASN1
public import X509
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A certificate and its private key, in PEM.
public struct IssuedCertificate: Sendable {
    public var certificatePEM: String
    public var privateKeyPEM: String
    public var certificate: Certificate

    /// Writes `<name>.pem` and `<name>-key.pem` into `directory`; the key file gets mode 0600.
    public func write(to directory: String, name: String) throws -> (certificate: String, key: String) {
        let certificatePath = directory + "/" + name + ".pem"
        let keyPath = directory + "/" + name + "-key.pem"
        try writeFile(certificatePath, certificatePEM, mode: 0o644)
        try writeFile(keyPath, privateKeyPEM, mode: 0o600)
        return (certificatePath, keyPath)
    }
}

/// Errors from certificate tooling, each a single clear sentence.
public struct CertificateToolError: Error, CustomStringConvertible, Sendable {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// The platform's certificate authority: creates itself, then issues a certificate per service
/// (mutual TLS between services) and for the gateway's client-facing port. Built on
/// swift-certificates and swift-crypto, so no `openssl` command is needed. Keys are ECDSA P-256.
public struct CertificateAuthority: Sendable {
    public let certificate: Certificate
    let privateKey: Certificate.PrivateKey

    /// The CA certificate in PEM.
    public var certificatePEM: String {
        get throws { try certificate.serializeAsPEM().pemString }
    }

    /// Creates a new CA, valid for `years` from now.
    public static func create(commonName: String = "Tandem Platform CA", years: Int = 10, now: Date = Date()) throws -> CertificateAuthority {
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let name = try DistinguishedName {
            OrganizationName("Tandem")
            CommonName(commonName)
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: key.publicKey,
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(Double(years) * 365.25 * 86400),
            issuer: name, subject: name,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: key.publicKey)
            },
            issuerPrivateKey: key
        )
        return CertificateAuthority(certificate: certificate, privateKey: key)
    }

    /// Loads a CA from its certificate and key PEM files.
    public static func load(certificatePath: String, keyPath: String) throws -> CertificateAuthority {
        let certificate = try Certificate(pemEncoded: readFile(certificatePath))
        let key = try Certificate.PrivateKey(pemEncoded: readFile(keyPath))
        guard key.publicKey == certificate.publicKey else {
            throw CertificateToolError("\(keyPath) is not the private key of \(certificatePath)")
        }
        return CertificateAuthority(certificate: certificate, privateKey: key)
    }

    /// The CA with its key, for writing to disk.
    public var issued: IssuedCertificate {
        get throws {
            IssuedCertificate(
                certificatePEM: try certificate.serializeAsPEM().pemString,
                privateKeyPEM: try privateKey.serializeAsPEM().pemString,
                certificate: certificate
            )
        }
    }

    /// Issues a certificate for a service: its name as common name and DNS name (that is what
    /// clients check), plus extra DNS names and IP addresses. Usable as both TLS server and
    /// client certificate, since services call each other.
    public func issue(
        name: String, dnsNames: [String] = [], ipAddresses: [String] = [], days: Int = 825, now: Date = Date()
    ) throws -> IssuedCertificate {
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." }) else {
            throw CertificateToolError("certificate name '\(name)' must be letters, digits, '-' or '.'")
        }
        var alternativeNames: [GeneralName] = []
        for dns in [name] + dnsNames where !alternativeNames.contains(.dnsName(dns)) {
            alternativeNames.append(.dnsName(dns))
        }
        for address in ipAddresses {
            guard let bytes = parseIPAddress(address) else {
                throw CertificateToolError("'\(address)' is not an IPv4 or IPv6 address")
            }
            alternativeNames.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(bytes))))
        }
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let subject = try DistinguishedName {
            OrganizationName("Tandem")
            CommonName(name)
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: key.publicKey,
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(Double(days) * 86400),
            issuer: self.certificate.subject, subject: subject,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
                SubjectAlternativeNames(alternativeNames)
                SubjectKeyIdentifier(hash: key.publicKey)
                AuthorityKeyIdentifier(keyIdentifier: try self.certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
            },
            issuerPrivateKey: privateKey
        )
        return IssuedCertificate(
            certificatePEM: try certificate.serializeAsPEM().pemString,
            privateKeyPEM: try key.serializeAsPEM().pemString,
            certificate: certificate
        )
    }
}

/// The 4 or 16 bytes of an IPv4 or IPv6 address in text form.
func parseIPAddress(_ text: String) -> [UInt8]? {
    var v4 = in_addr()
    if inet_pton(AF_INET, text, &v4) == 1 {
        return withUnsafeBytes(of: v4) { Array($0) }
    }
    var v6 = in6_addr()
    if inet_pton(AF_INET6, text, &v6) == 1 {
        return withUnsafeBytes(of: v6) { Array($0) }
    }
    return nil
}

func readFile(_ path: String) throws -> String {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw CertificateToolError("cannot read \(path)")
    }
    return String(decoding: data, as: UTF8.self)
}

/// Writes a file with the given permissions from the start (a key is never world-readable,
/// even briefly).
func writeFile(_ path: String, _ contents: String, mode: mode_t) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)
    guard fd >= 0 else { throw CertificateToolError("cannot write \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    guard fchmod(fd, mode) == 0 else { throw CertificateToolError("cannot set the mode of \(path)") }
    let bytes = Array(contents.utf8)
    var written = 0
    while written < bytes.count {
        let result = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard result > 0 else { throw CertificateToolError("cannot write \(path): \(String(cString: strerror(errno)))") }
        written += result
    }
}
