/// The error of a failed call: a status code, a message for humans, structured details and
/// trailing metadata. Handlers throw it to choose the status a client sees; clients catch it.
public struct RPCError: Error, Hashable, Sendable, CustomStringConvertible {
    public var code: StatusCode
    public var message: String
    public var details: [ErrorDetail]
    public var metadata: Metadata

    public init(code: StatusCode, message: String, details: [ErrorDetail] = [], metadata: Metadata = Metadata()) {
        self.code = code
        self.message = message
        self.details = details
        self.metadata = metadata
    }

    /// INVALID_ARGUMENT naming the field and the rule it broke.
    public static func invalidArgument(field: String, rule: String, _ description: String) -> RPCError {
        RPCError(
            code: .invalidArgument, message: "\(field): \(description)",
            details: [.badRequest([.init(field: field, rule: rule, description: description)])]
        )
    }

    /// INVALID_ARGUMENT for several fields at once.
    public static func invalidArguments(_ violations: [ErrorDetail.FieldViolation]) -> RPCError {
        let summary = violations.map { "\($0.field): \($0.description)" }.joined(separator: "; ")
        return RPCError(code: .invalidArgument, message: summary, details: [.badRequest(violations)])
    }

    /// Checks a change-feed request (the internal `List…Changes` / `ListErasures` methods): its
    /// cursor `after` is 0 or a sequence returned before, its `limit` 1–1000 (500 when absent).
    /// Returns the limit; INVALID_ARGUMENT naming each bad field otherwise.
    public static func checkFeedPage(after: Int, limit: Int?) throws(RPCError) -> Int {
        var violations: [ErrorDetail.FieldViolation] = []
        if after < 0 { violations.append(.init(field: "after", rule: "range", description: "must be 0 or a sequence returned before")) }
        let limit = limit ?? 500
        if !(1...1000).contains(limit) { violations.append(.init(field: "limit", rule: "range", description: "must be 1–1000")) }
        guard violations.isEmpty else { throw invalidArguments(violations) }
        return limit
    }

    /// FAILED_PRECONDITION naming what conflicted.
    public static func failedPrecondition(type: String, subject: String, _ description: String) -> RPCError {
        RPCError(
            code: .failedPrecondition, message: description,
            details: [.preconditionFailure([.init(type: type, subject: subject, description: description)])]
        )
    }

    /// NOT_FOUND for a resource.
    public static func notFound(_ resourceType: String, _ name: String) -> RPCError {
        RPCError(
            code: .notFound, message: "\(resourceType) \(name) not found",
            details: [.resourceInfo(.init(resourceType: resourceType, resourceName: name, description: "not found"))]
        )
    }

    /// The field violations among the details.
    public var fieldViolations: [ErrorDetail.FieldViolation] {
        details.flatMap { detail -> [ErrorDetail.FieldViolation] in
            if case .badRequest(let violations) = detail { return violations }
            return []
        }
    }

    public var trailers: Trailers {
        Trailers(code: code, message: message, details: details, metadata: metadata)
    }

    public var description: String {
        message.isEmpty ? code.name : "\(code.name): \(message)"
    }
}
