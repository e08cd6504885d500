public import TandemProtocols
public import TandemRPC

/// Identity's erasure feed (`identity.ListErasures`), as the services that keep their own copies
/// of people's data read it to erase them too (feedback, matching, scheduling).
public protocol ErasureFeed: Sendable {
    func erasures(after: Int, limit: Int) async throws -> ErasurePage
}

/// The feed over mutual TLS, with the reading service's certificate (identity admits it by name).
public struct RPCErasureFeed: ErasureFeed {
    let client: RPCClient

    public init(client: RPCClient) {
        self.client = client
    }

    public func erasures(after: Int, limit: Int) async throws -> ErasurePage {
        try await client.call(Identity.listErasures, ListErasuresRequest(after: after, limit: limit), options: CallOptions(timeout: .seconds(10)))
    }
}

/// Matching's change feed (`matching.ListMatchChanges`), as the services that keep their own copy
/// of matches read it (scheduling's pairs, feedback's match facts).
public protocol MatchChangeFeed: Sendable {
    func matchChanges(after: Int, limit: Int) async throws -> MatchChangePage
}

/// The feed over mutual TLS, with the reading service's certificate (matching admits it by name).
public struct RPCMatchChangeFeed: MatchChangeFeed {
    let client: RPCClient

    public init(client: RPCClient) {
        self.client = client
    }

    public func matchChanges(after: Int, limit: Int) async throws -> MatchChangePage {
        try await client.call(Matching.listMatchChanges, ListMatchChangesRequest(after: after, limit: limit), options: CallOptions(timeout: .seconds(10)))
    }
}
