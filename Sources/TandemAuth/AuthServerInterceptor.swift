public import TandemRPC
public import TandemWire

/// Requires credentials on every call except the public methods, and puts the caller in the
/// call's `ServiceContext` (read it with `context.caller()`). Credentials are an access token
/// (`authorization: Bearer <token>`), verified locally, or — where the service can check them —
/// an API key (`authorization: ApiKey <key>`). Service accounts may only call the methods their
/// scopes name.
public struct AuthServerInterceptor: ServerInterceptor {
    public typealias APIKeyChecker = @Sendable (String) async throws(RPCError) -> AuthenticatedCaller

    let verifier: TokenVerifier
    let publicMethods: Set<String>
    let apiKeys: APIKeyChecker?

    /// Health, reflection and the identity methods that sign in are always public.
    public static let alwaysPublic: Set<String> = [
        "health.Check", "health.Watch", "reflection.ListServices",
        "identity.SignIn", "identity.Refresh", "identity.SignOut", "identity.ExchangeAPIKey", "identity.VerificationKeys",
    ]

    public init(verifier: TokenVerifier, publicMethods: Set<String> = AuthServerInterceptor.alwaysPublic, apiKeys: APIKeyChecker? = nil) {
        self.verifier = verifier
        self.publicMethods = publicMethods
        self.apiKeys = apiKeys
    }

    public func intercept(context: ServerContext, next: @Sendable (ServerContext) async throws -> Void) async throws {
        guard let header = context.metadata[Metadata.Keys.authorization] else {
            if publicMethods.contains(context.method) { return try await next(context) }
            throw RPCError(code: .unauthenticated, message: "\(context.method) needs credentials (authorization: Bearer <access token>)")
        }
        let caller: AuthenticatedCaller
        if header.hasPrefix("Bearer ") {
            caller = try await verifier.verify(String(header.dropFirst("Bearer ".count)))
        } else if header.hasPrefix("ApiKey "), let apiKeys {
            caller = try await apiKeys(String(header.dropFirst("ApiKey ".count)))
        } else {
            throw RPCError(code: .unauthenticated, message: "authorization must be 'Bearer <access token>'\(apiKeys == nil ? "" : " or 'ApiKey <key>'")")
        }
        guard caller.scopeAllows(context.method) else {
            throw RPCError(code: .permissionDenied, message: "this service account's scopes do not include \(context.method)")
        }
        var context = context
        context.serviceContext[CallerKey.self] = caller
        try await next(context)
    }
}
