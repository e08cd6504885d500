public import TandemProtocols
public import TandemRPC

/// Identity's erasure feed (`identity.ListErasures`), as the services that keep their own copies
/// of people's data read it to erase them too (feedback, scheduling).
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
