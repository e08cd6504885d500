public import NIOSSL
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A certificate chain and its private key, loaded from PEM.
public struct TLSIdentity: Sendable {
    public var certificateChain: [NIOSSLCertificate]
    public var privateKey: NIOSSLPrivateKey

    public init(certificateChain: [NIOSSLCertificate], privateKey: NIOSSLPrivateKey) {
        self.certificateChain = certificateChain
        self.privateKey = privateKey
    }

    /// Loads `certificatePath` (the leaf first, then intermediates) and `keyPath`.
    public init(certificatePath: String, keyPath: String) throws {
        do {
            certificateChain = try NIOSSLCertificate.fromPEMFile(certificatePath)
        } catch {
            throw TLSSetupError("cannot load certificate \(certificatePath): \(error)")
        }
        guard !certificateChain.isEmpty else { throw TLSSetupError("\(certificatePath) holds no certificate") }
        do {
            privateKey = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        } catch {
            throw TLSSetupError("cannot load private key \(keyPath): \(error)")
        }
    }

    /// Builds an identity from PEM text.
    public init(certificatePEM: String, keyPEM: String) throws {
        certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(certificatePEM.utf8))
        privateKey = try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem)
    }
}

/// A TLS problem found while configuring a server or client: one clear sentence.
public struct TLSSetupError: Error, CustomStringConvertible, Sendable {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// Loads the trusted CA certificates from a PEM file.
public func loadTrustRoots(_ path: String) throws -> [NIOSSLCertificate] {
    do {
        let certificates = try NIOSSLCertificate.fromPEMFile(path)
        guard !certificates.isEmpty else { throw TLSSetupError("\(path) holds no certificate") }
        return certificates
    } catch let error as TLSSetupError {
        throw error
    } catch {
        throw TLSSetupError("cannot load CA certificates \(path): \(error)")
    }
}

/// TLS for a server's listener.
public struct ServerTLSConfiguration: Sendable {
    public var identity: TLSIdentity
    /// CA certificates that client certificates must chain to. Set for service-to-service
    /// listeners (mutual TLS); nil for the gateway's client-facing port (server certificate only).
    public var clientTrustRoots: [NIOSSLCertificate]?
    /// When set (with mutual TLS), only clients whose certificate names one of these (SAN DNS
    /// name or common name) are accepted.
    public var allowedClientNames: Set<String>?

    public init(identity: TLSIdentity, clientTrustRoots: [NIOSSLCertificate]? = nil, allowedClientNames: Set<String>? = nil) {
        self.identity = identity
        self.clientTrustRoots = clientTrustRoots
        self.allowedClientNames = allowedClientNames
    }

    /// Mutual TLS from files: this server's certificate and key, and the platform CA.
    public static func mutual(certificatePath: String, keyPath: String, caPath: String) throws -> ServerTLSConfiguration {
        ServerTLSConfiguration(
            identity: try TLSIdentity(certificatePath: certificatePath, keyPath: keyPath),
            clientTrustRoots: try loadTrustRoots(caPath)
        )
    }

    func makeContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: identity.certificateChain.map { .certificate($0) },
            privateKey: .privateKey(identity.privateKey)
        )
        configuration.minimumTLSVersion = .tlsv13
        configuration.applicationProtocols = [TandemALPN.protocolName]
        if let clientTrustRoots {
            // Requests and requires a client certificate chaining to the CA. Clients connect by
            // address, so there is no host name to check on this side.
            configuration.certificateVerification = .noHostnameVerification
            configuration.trustRoots = .certificates(clientTrustRoots)
        } else {
            configuration.certificateVerification = .none
        }
        return try NIOSSLContext(configuration: configuration)
    }
}

/// TLS for a client's connections to one service.
public struct ClientTLSConfiguration: Sendable {
    /// CA certificates the server's certificate must chain to (nil: the system's trust store).
    public var trustRoots: [NIOSSLCertificate]?
    /// This client's certificate, for mutual TLS.
    public var identity: TLSIdentity?
    /// The name the server's certificate must carry (a SAN DNS name), e.g. `scheduling`; also sent
    /// as SNI. Checked whatever address the client connects to.
    public var serverName: String

    public init(trustRoots: [NIOSSLCertificate]?, identity: TLSIdentity? = nil, serverName: String) {
        self.trustRoots = trustRoots
        self.identity = identity
        self.serverName = serverName
    }

    /// Mutual TLS from files: the platform CA, this client's certificate and key, and the name
    /// of the service it calls.
    public static func mutual(caPath: String, certificatePath: String, keyPath: String, serverName: String) throws -> ClientTLSConfiguration {
        ClientTLSConfiguration(
            trustRoots: try loadTrustRoots(caPath),
            identity: try TLSIdentity(certificatePath: certificatePath, keyPath: keyPath),
            serverName: serverName
        )
    }

    func makeContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv13
        configuration.applicationProtocols = [TandemALPN.protocolName]
        configuration.certificateVerification = .fullVerification
        if let trustRoots { configuration.trustRoots = .certificates(trustRoots) }
        if let identity {
            configuration.certificateChain = identity.certificateChain.map { .certificate($0) }
            configuration.privateKey = .privateKey(identity.privateKey)
        }
        return try NIOSSLContext(configuration: configuration)
    }
}

enum TandemALPN {
    static let protocolName = "tandem/1"
}
