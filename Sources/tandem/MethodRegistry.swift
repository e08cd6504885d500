import Foundation
import TandemProtocols
import TandemRPC
import TandemWire

/// A method `tandem call` can make: its descriptor, and how to turn a JSON body into its typed
/// request and its responses back into JSON.
struct CallableMethod: Sendable {
    let descriptor: AnyMethodDescriptor
    /// Decodes `json` as the method's input, calls it, and hands each response to `output` as JSON.
    let invoke: @Sendable (_ client: RPCClient, _ json: Data, _ options: CallOptions, _ output: @escaping @Sendable (Data) -> Void) async throws -> Void
}

/// Every method of the protocols in `Protocols/`, by full name (`identity.SignIn`), typed.
enum MethodRegistry {
    static let all: [String: CallableMethod] = {
        var methods: [String: CallableMethod] = [:]
        func add<I, O>(_ descriptor: MethodDescriptor<I, O>) {
            methods[descriptor.fullName] = CallableMethod(descriptor: descriptor.erased) { client, json, options, output in
                let request = try JSONCoding.decode(I.self, from: json, method: descriptor.fullName)
                switch descriptor.kind {
                case .serverStreaming:
                    try await client.serverStreaming(descriptor, request, options: options) { responses in
                        for try await response in responses { output(try JSONCoding.encode(response)) }
                    }
                default:
                    output(try JSONCoding.encode(try await client.call(descriptor, request, options: options)))
                }
            }
        }
        // Health and reflection
        add(Health.check); add(Health.watch); add(Reflection.listServices)
        // Gateway aggregates
        add(Gateway.dashboard); add(Gateway.programDashboard)
        // Identity
        add(Identity.signIn); add(Identity.refresh); add(Identity.signOut); add(Identity.exchangeAPIKey)
        add(Identity.verificationKeys); add(Identity.rotateSigningKey); add(Identity.whoAmI)
        add(Identity.createOrganisation); add(Identity.createProgram); add(Identity.updateProgram); add(Identity.getProgram); add(Identity.listPrograms)
        add(Identity.createPerson); add(Identity.updatePerson); add(Identity.getPerson); add(Identity.listPeople)
        add(Identity.deactivatePerson); add(Identity.erasePerson); add(Identity.setPassword); add(Identity.importPeople)
        add(Identity.upsertParticipation); add(Identity.getParticipation); add(Identity.listParticipants)
        add(Identity.createServiceAccount); add(Identity.createAPIKey); add(Identity.revokeAPIKey); add(Identity.listServiceAccounts)
        add(Identity.listErasures)
        // Matching
        add(Matching.setSettings); add(Matching.getSettings); add(Matching.syncParticipants)
        add(Matching.recommend); add(Matching.explainPair); add(Matching.compareMentors); add(Matching.exportScores)
        add(Matching.runCohort); add(Matching.proposeMatch); add(Matching.respondToMatch); add(Matching.endMatch)
        add(Matching.setAgreement); add(Matching.getMatch); add(Matching.listMatches)
        add(Matching.listMatchChanges); add(Matching.recordFitSignal)
        // Scheduling
        add(Scheduling.setAvailability); add(Scheduling.getAvailability); add(Scheduling.registerPair); add(Scheduling.getPair)
        add(Scheduling.findSlots); add(Scheduling.bookMeeting); add(Scheduling.rescheduleMeeting); add(Scheduling.cancelMeeting)
        add(Scheduling.setMeetingStatus); add(Scheduling.updateAgenda); add(Scheduling.getMeeting); add(Scheduling.listMeetings)
        add(Scheduling.bookSeries); add(Scheduling.getSeries); add(Scheduling.cancelSeries)
        add(Scheduling.exportCalendar); add(Scheduling.streamReminders); add(Scheduling.acknowledgeReminders)
        add(Scheduling.listMeetingChanges)
        // Feedback
        add(Feedback.submitSessionFeedback); add(Feedback.getSessionFeedback)
        add(Feedback.setSurveyTemplate); add(Feedback.getSurveyTemplate); add(Feedback.listDueSurveys); add(Feedback.submitSurvey)
        add(Feedback.streamSurveyInvitations); add(Feedback.setGoal); add(Feedback.listGoals)
        add(Feedback.programReport); add(Feedback.matchHealth); add(Feedback.exportReport); add(Feedback.streamReportExport)
        add(Feedback.setSettings); add(Feedback.getSettings); add(Feedback.erasePerson)
        return methods
    }()

    /// The descriptors the protocols publish, which the registry must cover.
    static let published: [AnyMethodDescriptor] =
        Health.methods + Reflection.methods + Gateway.methods + Identity.methods + Matching.methods + Scheduling.methods + Feedback.methods

    /// One line per method: name, shape, request and response types.
    static var listing: [String] {
        all.values.map(\.descriptor).sorted { $0.fullName < $1.fullName }.map { method in
            let shape = method.kind == .unary ? "unary" : "server-streaming"
            let name = method.fullName.padding(toLength: 36, withPad: " ", startingAt: 0)
            return "\(name) \(shape.padding(toLength: 17, withPad: " ", startingAt: 0)) \(method.inputType) -> \(method.outputType)"
        }
    }
}

/// JSON as `tandem call` reads and prints it: property names as keys, dates in ISO 8601,
/// UUIDs as strings, bytes in base64.
enum JSONCoding {
    static func decode<T: Decodable>(_ type: T.Type, from data: Data, method: String) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            if let date = parseDate(text) { return date }
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "'\(text)' is not an ISO 8601 date-time"))
        }
        do {
            return try decoder.decode(T.self, from: data)
        } catch let error as DecodingError {
            throw CLIError("bad JSON body for \(method) (\(T.self)): \(describe(error))")
        } catch {
            throw CLIError("bad JSON body for \(method) (\(T.self)): \(error.localizedDescription)")
        }
    }

    static func encode<T: Encodable>(_ value: T, pretty: Bool = true) throws -> Data {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(formatDate(date))
        }
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return lowercasingUUIDs(try encoder.encode(value))
    }

    /// Foundation writes UUIDs in upper case; the protocol documents (and services log) them in
    /// lower case, so the CLI prints them that way too.
    static func lowercasingUUIDs(_ data: Data) -> Data {
        let text = String(decoding: data, as: UTF8.self)
        let pattern = /"([0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12})"/
        return Data(text.replacing(pattern) { match in "\"\(match.1.lowercased())\"" }.utf8)
    }

    static func parseDate(_ text: String) -> Date? {
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = fractional.date(from: text) { return date }
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        return plain.date(from: text)
    }

    static func formatDate(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = date.timeIntervalSince1970.rounded() == date.timeIntervalSince1970
            ? [.withInternetDateTime] : [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            // Array positions come as "Index N"; message fields (integer CodingKeys) by their names.
            let keys = context.codingPath.map { key in key.stringValue.hasPrefix("Index ") ? "[\(key.intValue ?? 0)]" : key.stringValue }
            return keys.isEmpty ? "the body" : keys.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = path(context)
            return "missing field '\(key.stringValue)'" + (context.codingPath.isEmpty ? "" : " in \(parent)")
        case .typeMismatch(let type, let context):
            return "\(path(context)): expected \(typeName(type))"
        case .valueNotFound(let type, let context):
            return "\(path(context)): expected \(typeName(type)), got null"
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                let detail = context.underlyingError.map { ($0 as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\($0)" }
                return "not valid JSON" + (detail.map { " (\($0))" } ?? "")
            }
            return "\(path(context)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Double.Type: "a number"
        case is Bool.Type: "true or false"
        default: "\(type)"
        }
    }
}
