import Foundation
import TandemAuth
import TandemProtocols
import TandemRPC
import TandemStore
import TandemWire

// MARK: - The erasure feed (internal)

extension IdentityServer {
    /// Erasures of every organisation after a sequence, for the services that erase their own
    /// copies (feedback). Only an internal peer (mutual TLS, a listed certificate name) gets here.
    func listErasures(_ request: ListErasuresRequest, context: ServerContext) async throws -> ErasurePage {
        _ = try context.internalPeer()
        let limit = try RPCError.checkFeedPage(after: request.after, limit: request.limit)
        let erasures = try await store.erasures(after: request.after, limit: limit)
        return ErasurePage(erasures: erasures, last: erasures.last?.sequence ?? request.after)
    }
}

extension IdentityStore {
    /// Stamps an erasure with the next sequence, inside the erasure's transaction (whose single
    /// writer makes sequences commit in order).
    static func publishErasure(_ connection: SQLiteConnection, organisation: UUID, person: UUID, now: Date) throws {
        try connection.execute("INSERT INTO erasures (org_id, person_id, erased_at) VALUES (?, ?, ?)", organisation, person, now.timeIntervalSince1970)
    }

    /// Erasures after `sequence`, in order.
    func erasures(after sequence: Int, limit: Int) async throws -> [Erasure] {
        try await database.read { connection in
            try connection.query(
                "SELECT sequence, org_id, person_id, erased_at FROM erasures WHERE sequence > ? ORDER BY sequence LIMIT ?", sequence, limit
            ).map { row in
                guard let number = row.int(0), let organisation = row.uuid(1), let person = row.uuid(2), let at = row.double(3) else {
                    throw StoreError.corrupt("erasure")
                }
                return Erasure(sequence: Int(number), organisationID: organisation, personID: person, erasedAt: Date(timeIntervalSince1970: at))
            }
        }
    }
}
