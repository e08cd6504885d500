#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif
public import ServiceContextModule
public import TandemRPC
public import TandemWire

/// Who is calling, as established from a verified access token.
public struct AuthenticatedCaller: Sendable, Hashable {
    public var subject: UUID
    public var organisationID: UUID
    public var isService: Bool
    public var roles: Set<String>
    public var programs: Set<UUID>
    public var scopes: [String]
    public var expiresAt: Date

    public init(subject: UUID, organisationID: UUID, isService: Bool, roles: Set<String>, programs: Set<UUID>, scopes: [String], expiresAt: Date) {
        self.subject = subject
        self.organisationID = organisationID
        self.isService = isService
        self.roles = roles
        self.programs = programs
        self.scopes = scopes
        self.expiresAt = expiresAt
    }

    public func has(role: String) -> Bool { roles.contains(role) }

    /// Administers the organisation (or the whole platform).
    public var isOrganisationAdmin: Bool { roles.contains("org-admin") || roles.contains("platform-admin") }

    /// Administers `program` (organisation admins administer every program).
    public func administers(program: UUID) -> Bool { isOrganisationAdmin || programs.contains(program) }

    /// Whether a service account's scopes allow `method` (`service.Method` or `service.*`).
    public func scopeAllows(_ method: String) -> Bool {
        guard isService else { return true }
        // Compared in place: this runs on every call of a service account.
        let service = method.utf8.firstIndex(of: UInt8(ascii: ".")).map { method.utf8[..<$0] } ?? method.utf8[...]
        return scopes.contains { scope in
            scope == method || (scope.utf8.count == service.count + 2 && scope.hasSuffix(".*") && scope.utf8.prefix(service.count).elementsEqual(service))
        }
    }

    /// PERMISSION_DENIED unless the caller administers the organisation.
    public func requireOrganisationAdmin(_ action: String) throws(RPCError) {
        guard isOrganisationAdmin else {
            throw RPCError(code: .permissionDenied, message: "\(action) needs the org-admin role")
        }
    }
}

/// Where the auth interceptor puts the caller for handlers.
public enum CallerKey: ServiceContextKey {
    public typealias Value = AuthenticatedCaller
}

/// Where the auth interceptor puts the certificate name of the service calling an internal method.
public enum InternalPeerKey: ServiceContextKey {
    public typealias Value = String
}

extension ServerContext {
    /// The service calling an internal method (its certificate name); PERMISSION_DENIED otherwise.
    public func internalPeer() throws(RPCError) -> String {
        guard let name = serviceContext[InternalPeerKey.self] else {
            throw RPCError(code: .permissionDenied, message: "\(method) is internal to the platform's services")
        }
        return name
    }

    /// The authenticated caller; UNAUTHENTICATED when the call carried no valid token.
    public func caller() throws(RPCError) -> AuthenticatedCaller {
        guard let caller = serviceContext[CallerKey.self] else {
            throw RPCError(code: .unauthenticated, message: "this method needs an access token (authorization: Bearer …)")
        }
        return caller
    }
}
