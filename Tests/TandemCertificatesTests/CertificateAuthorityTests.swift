import Foundation
import Testing
import X509
@testable import TandemCertificates

@Suite("Certificate authority")
struct CertificateAuthorityTests {
    @Test func issuedCertificatesNameTheServiceAndChainToTheCA() throws {
        let ca = try CertificateAuthority.create(commonName: "Test CA")
        let issued = try ca.issue(name: "scheduling", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1", "::1"])
        let certificate = issued.certificate
        #expect(certificate.issuer == ca.certificate.subject)
        let names = try #require(try certificate.extensions.subjectAlternativeNames)
        #expect(names.contains(.dnsName("scheduling")))
        #expect(names.contains(.dnsName("localhost")))
        #expect(names.count == 4)
        #expect(try certificate.extensions.basicConstraints == .notCertificateAuthority)
        #expect(try ca.certificate.extensions.basicConstraints == .isCertificateAuthority(maxPathLength: 0))
        let usage = try #require(try certificate.extensions.extendedKeyUsage)
        #expect(usage.contains(.serverAuth) && usage.contains(.clientAuth))
        // The CA's key signed it.
        #expect(ca.certificate.publicKey.isValidSignature(certificate.signature, for: certificate))
    }

    @Test func filesAreWrittenWithPrivateKeysUnreadableByOthers() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-certs-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let ca = try CertificateAuthority.create()
        let caFiles = try ca.issued.write(to: directory, name: "ca")
        let files = try ca.issue(name: "identity").write(to: directory, name: "identity")
        for key in [caFiles.key, files.key] {
            let permissions = try FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? Int
            #expect(permissions == 0o600)
        }
        // The CA loads back from its files and keeps issuing.
        let loaded = try CertificateAuthority.load(certificatePath: caFiles.certificate, keyPath: caFiles.key)
        #expect(loaded.certificate == ca.certificate)
        _ = try loaded.issue(name: "matching")
        // A key that does not belong to the certificate is refused.
        #expect(throws: CertificateToolError.self) {
            try CertificateAuthority.load(certificatePath: caFiles.certificate, keyPath: files.key)
        }
    }

    @Test func badNamesAndAddressesAreRefused() throws {
        let ca = try CertificateAuthority.create()
        #expect(throws: CertificateToolError.self) { try ca.issue(name: "no spaces") }
        #expect(throws: CertificateToolError.self) { try ca.issue(name: "") }
        #expect(throws: CertificateToolError.self) { try ca.issue(name: "ok", ipAddresses: ["999.0.0.1"]) }
        #expect(parseIPAddress("10.1.2.3") == [10, 1, 2, 3])
        #expect(parseIPAddress("::1")?.count == 16)
    }
}
