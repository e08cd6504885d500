public import TandemRPC
public import TandemWire

/// Requires credentials on every call except the public methods, and puts the caller in the
/// call's `ServiceContext` (read it with `context.caller()`). Credentials are an access token
/// (`authorization: Bearer <token>`), verified locally, or — where the service can check them —
/// an API key (`authorization: ApiKey <key>`). Service accounts may only call the methods their
/// scopes name.
///
/// Internal methods (service-to-service feeds and signals that span organisations) take no token:
/// they are allowed only over mutual TLS from a peer whose certificate names one of the services
/// listed for the method, and answer PERMISSION_DENIED to anyone else. Handlers read the calling
/// service with `context.internalPeer()`.
public struct AuthServerInterceptor: ServerInterceptor {
    public typealias APIKeyChecker = @Sendable (String) async throws(RPCError) -> AuthenticatedCaller

    let verifier: TokenVerifier
    let publicMethods: Set<String>
    let apiKeys: APIKeyChecker?
    let internalMethods: [String: Set<String>]

    /// Health, reflection and the identity methods that sign in are always public.
    public static let alwaysPublic: Set<String> = [
        "health.Check", "health.Watch", "reflection.ListServices",
        "identity.SignIn", "identity.Refresh", "identity.SignOut", "identity.ExchangeAPIKey", "identity.VerificationKeys",
    ]

    /// `internalMethods` maps a method (`service.Method`) to the certificate names of the services
    /// that may call it.
    public init(
        verifier: TokenVerifier, publicMethods: Set<String> = AuthServerInterceptor.alwaysPublic, apiKeys: APIKeyChecker? = nil,
        internalMethods: [String: Set<String>] = [:]
    ) {
        self.verifier = verifier
        self.publicMethods = publicMethods
        self.apiKeys = apiKeys
        self.internalMethods = internalMethods
    }

    public func intercept(context: ServerContext, next: @Sendable (ServerContext) async throws -> Void) async throws {
        if let allowed = internalMethods[context.method] {
            guard let name = context.peer.certificateNames.first(where: allowed.contains) else {
                throw RPCError(
                    code: .permissionDenied,
                    message: "\(context.method) is internal: only \(allowed.sorted().joined(separator: ", ")) may call it, over mutual TLS"
                )
            }
            var context = context
            context.serviceContext[InternalPeerKey.self] = name
            return try await next(context)
        }
        guard let header = context.metadata[Metadata.Keys.authorization] else {
            if publicMethods.contains(context.method) { return try await next(context) }
            throw RPCError(
                code: .unauthenticated,
                message: "\(context.method) needs credentials (authorization: Bearer <access token>, from identity.SignIn or identity.ExchangeAPIKey)"
            )
        }
        let caller: AuthenticatedCaller
        if header.hasPrefix("Bearer ") {
            caller = try await verifier.verify(String(header.dropFirst("Bearer ".count)))
        } else if header.hasPrefix("ApiKey "), let apiKeys {
            caller = try await apiKeys(String(header.dropFirst("ApiKey ".count)))
        } else {
            throw RPCError(
                code: .unauthenticated,
                message: apiKeys == nil
                    ? "authorization must be 'Bearer <access token>'; exchange an API key for one with identity.ExchangeAPIKey"
                    : "authorization must be 'Bearer <access token>' or 'ApiKey <key>'"
            )
        }
        guard caller.scopeAllows(context.method) else {
            throw RPCError(code: .permissionDenied, message: "this service account's scopes do not include \(context.method)")
        }
        var context = context
        context.serviceContext[CallerKey.self] = caller
        try await next(context)
    }
}
