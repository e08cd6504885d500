import ServiceContextModule
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
public struct AuthServerInterceptor: SynchronousServerInterceptor {
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
        var context = context
        let credentials = try credentials(context)
        if !applyUnverified(credentials, &context) {
            switch credentials {
            case .bearer(let token): try admit(try await verifier.verify(token), &context)
            case .apiKey(let key, let check): try admit(try await check(key), &context)
            case .internalPeer, .publicMethod: break
            }
        }
        try await next(context)
    }

    /// Decides at once only the calls it lets through without waiting: from an allowed internal
    /// peer, to a public method without credentials, or with a token verified before (cached)
    /// whose scopes allow the method (noted in the context for `begin`: one look-up a call).
    /// Every refusal, and every token still to verify, runs as a task through `intercept` (where
    /// the gateway's `RefusedCalls` counts refusals).
    public func beginsSynchronously(_ context: inout ServerContext) -> Bool {
        switch try? credentials(context) {
        case .internalPeer?, .publicMethod?:
            return true
        case .bearer(let token)?:
            guard let caller = verifier.cachedCaller(token), caller.scopeAllows(context.method) else { return false }
            context.serviceContext[VerifiedCallerKey.self] = caller
            return true
        case .apiKey?, nil:
            return false
        }
    }

    public func begin(_ context: inout ServerContext) throws(RPCError) -> CallEnd? {
        if let caller = context.serviceContext[VerifiedCallerKey.self] {
            context.serviceContext[VerifiedCallerKey.self] = nil
            try admit(caller, &context)
            return nil
        }
        let credentials = try credentials(context)
        if !applyUnverified(credentials, &context) {
            guard case .bearer(let token) = credentials else {
                throw RPCError(code: .internal, message: "an API key is checked by intercept, not begin")
            }
            guard let caller = verifier.cachedCaller(token) else {
                throw RPCError(code: .unauthenticated, message: "access token has expired; refresh it")
            }
            try admit(caller, &context)
        }
        return nil
    }

    /// The caller `beginsSynchronously` found in the verifier's cache, for `begin`.
    private enum VerifiedCallerKey: ServiceContextKey {
        typealias Value = AuthenticatedCaller
    }

    /// What a call's credentials are, before anything is verified; the refusal when they cannot do.
    private enum Credentials {
        case internalPeer(String)
        case publicMethod
        case bearer(String)
        case apiKey(String, APIKeyChecker)
    }

    private func credentials(_ context: ServerContext) throws(RPCError) -> Credentials {
        if let allowed = internalMethods[context.method] {
            guard let name = context.peer.certificateNames.first(where: allowed.contains) else {
                throw RPCError(
                    code: .permissionDenied,
                    message: "\(context.method) is internal: only \(allowed.sorted().joined(separator: ", ")) may call it, over mutual TLS"
                )
            }
            return .internalPeer(name)
        }
        guard let header = context.metadata[Metadata.Keys.authorization] else {
            if publicMethods.contains(context.method) { return .publicMethod }
            throw RPCError(
                code: .unauthenticated,
                message: "\(context.method) needs credentials (authorization: Bearer <access token>, from identity.SignIn or identity.ExchangeAPIKey)"
            )
        }
        if header.hasPrefix("Bearer ") { return .bearer(String(header.dropFirst("Bearer ".count))) }
        if header.hasPrefix("ApiKey "), let apiKeys { return .apiKey(String(header.dropFirst("ApiKey ".count)), apiKeys) }
        throw RPCError(
            code: .unauthenticated,
            message: apiKeys == nil
                ? "authorization must be 'Bearer <access token>'; exchange an API key for one with identity.ExchangeAPIKey"
                : "authorization must be 'Bearer <access token>' or 'ApiKey <key>'"
        )
    }

    /// Applies credentials that need no verification: an internal peer's name goes in the
    /// context, a public method needs nothing. False for a token or a key, to verify first.
    private func applyUnverified(_ credentials: Credentials, _ context: inout ServerContext) -> Bool {
        switch credentials {
        case .internalPeer(let name):
            context.serviceContext[InternalPeerKey.self] = name
            return true
        case .publicMethod:
            return true
        case .bearer, .apiKey:
            return false
        }
    }

    /// Puts a verified caller in the call's context, if its scopes allow the method.
    private func admit(_ caller: AuthenticatedCaller, _ context: inout ServerContext) throws(RPCError) {
        guard caller.scopeAllows(context.method) else {
            throw RPCError(code: .permissionDenied, message: "this service account's scopes do not include \(context.method)")
        }
        context.serviceContext[CallerKey.self] = caller
    }
}
