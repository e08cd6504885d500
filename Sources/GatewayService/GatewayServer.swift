public import Foundation
public import Logging
public import TandemAuth
public import TandemProtocols
public import TandemRPC
import TandemWire

/// The services behind the gateway, each a client over every instance configured for it
/// (round-robin over healthy instances, retries of idempotent calls on UNAVAILABLE).
public struct GatewayUpstreams: Sendable {
    public var identity: RPCClient
    public var matching: RPCClient
    public var scheduling: RPCClient
    public var feedback: RPCClient

    public init(identity: RPCClient, matching: RPCClient, scheduling: RPCClient, feedback: RPCClient) {
        self.identity = identity
        self.matching = matching
        self.scheduling = scheduling
        self.feedback = feedback
    }

    public var all: [RPCClient] { [identity, matching, scheduling, feedback] }
}

/// How the gateway behaves.
public struct GatewayConfiguration: Sendable {
    /// The longest an aggregate call waits for its slowest part (a shorter client deadline wins).
    public var aggregateTimeout: Duration = .seconds(2)
    /// The clock (tests move it).
    public var now: @Sendable () -> Date = { Date() }

    public init() {}
}

/// The gateway: routes the services' user-facing methods, answers the aggregate calls.
public final class GatewayServer: Sendable {
    let upstreams: GatewayUpstreams
    let configuration: GatewayConfiguration
    let logger: Logger

    public init(upstreams: GatewayUpstreams, configuration: GatewayConfiguration = GatewayConfiguration(), logger: Logger) {
        self.upstreams = upstreams
        self.configuration = configuration
        self.logger = logger
    }

    /// The RPC handlers: every routed method, and the gateway's own.
    public var service: any RPCService { GatewayRPCService(server: self) }

    /// What the gateway passes on from the client's call: its credentials and idempotency key.
    /// The deadline and request id are inherited by every call made while serving; the trace
    /// continues through the tracing interceptors (the gateway's server span, a client span per
    /// upstream call, whose `traceparent` the service receives).
    static func forwarded(_ context: ServerContext) -> CallOptions {
        var metadata = Metadata()
        for key in [Metadata.Keys.authorization, Metadata.Keys.idempotencyKey] {
            if let value = context.metadata[key] { metadata[key] = value }
        }
        return CallOptions(metadata: metadata)
    }
}

struct GatewayRPCService: RPCService {
    let server: GatewayServer

    func register(into router: inout RPCRouter) {
        let upstreams = server.upstreams
        var routes = Routes(router: router)
        // identity
        routes.unary(Identity.signIn, upstreams.identity)
        routes.unary(Identity.refresh, upstreams.identity)
        routes.unary(Identity.exchangeAPIKey, upstreams.identity)
        routes.unary(Identity.signOut, upstreams.identity)
        routes.unary(Identity.whoAmI, upstreams.identity)
        routes.unary(Identity.createOrganisation, upstreams.identity)
        routes.unary(Identity.createProgram, upstreams.identity)
        routes.unary(Identity.updateProgram, upstreams.identity)
        routes.unary(Identity.getProgram, upstreams.identity)
        routes.unary(Identity.listPrograms, upstreams.identity)
        routes.unary(Identity.createPerson, upstreams.identity)
        routes.unary(Identity.updatePerson, upstreams.identity)
        routes.unary(Identity.getPerson, upstreams.identity)
        routes.unary(Identity.listPeople, upstreams.identity)
        routes.unary(Identity.deactivatePerson, upstreams.identity)
        routes.unary(Identity.erasePerson, upstreams.identity)
        routes.unary(Identity.setPassword, upstreams.identity)
        routes.unary(Identity.importPeople, upstreams.identity)
        routes.unary(Identity.upsertParticipation, upstreams.identity)
        routes.unary(Identity.getParticipation, upstreams.identity)
        routes.unary(Identity.listParticipants, upstreams.identity)
        routes.unary(Identity.createServiceAccount, upstreams.identity)
        routes.unary(Identity.createAPIKey, upstreams.identity)
        routes.unary(Identity.revokeAPIKey, upstreams.identity)
        routes.unary(Identity.listServiceAccounts, upstreams.identity)
        // matching
        routes.unary(Matching.setSettings, upstreams.matching)
        routes.unary(Matching.getSettings, upstreams.matching)
        routes.unary(Matching.syncParticipants, upstreams.matching)
        routes.unary(Matching.recommend, upstreams.matching)
        routes.unary(Matching.explainPair, upstreams.matching)
        routes.unary(Matching.compareMentors, upstreams.matching)
        routes.serverStreaming(Matching.exportScores, upstreams.matching)
        routes.unary(Matching.runCohort, upstreams.matching)
        routes.unary(Matching.proposeMatch, upstreams.matching)
        routes.unary(Matching.respondToMatch, upstreams.matching)
        routes.unary(Matching.endMatch, upstreams.matching)
        routes.unary(Matching.setAgreement, upstreams.matching)
        routes.unary(Matching.getMatch, upstreams.matching)
        routes.unary(Matching.listMatches, upstreams.matching)
        // scheduling
        routes.unary(Scheduling.setAvailability, upstreams.scheduling)
        routes.unary(Scheduling.getAvailability, upstreams.scheduling)
        routes.unary(Scheduling.registerPair, upstreams.scheduling)
        routes.unary(Scheduling.getPair, upstreams.scheduling)
        routes.unary(Scheduling.findSlots, upstreams.scheduling)
        routes.unary(Scheduling.bookMeeting, upstreams.scheduling)
        routes.unary(Scheduling.rescheduleMeeting, upstreams.scheduling)
        routes.unary(Scheduling.cancelMeeting, upstreams.scheduling)
        routes.unary(Scheduling.setMeetingStatus, upstreams.scheduling)
        routes.unary(Scheduling.updateAgenda, upstreams.scheduling)
        routes.unary(Scheduling.getMeeting, upstreams.scheduling)
        routes.unary(Scheduling.listMeetings, upstreams.scheduling)
        routes.unary(Scheduling.bookSeries, upstreams.scheduling)
        routes.unary(Scheduling.getSeries, upstreams.scheduling)
        routes.unary(Scheduling.cancelSeries, upstreams.scheduling)
        routes.unary(Scheduling.exportCalendar, upstreams.scheduling)
        routes.serverStreaming(Scheduling.streamReminders, upstreams.scheduling)
        routes.unary(Scheduling.acknowledgeReminders, upstreams.scheduling)
        // feedback
        routes.unary(Feedback.submitSessionFeedback, upstreams.feedback)
        routes.unary(Feedback.getSessionFeedback, upstreams.feedback)
        routes.unary(Feedback.setSurveyTemplate, upstreams.feedback)
        routes.unary(Feedback.getSurveyTemplate, upstreams.feedback)
        routes.unary(Feedback.listDueSurveys, upstreams.feedback)
        routes.unary(Feedback.submitSurvey, upstreams.feedback)
        routes.serverStreaming(Feedback.streamSurveyInvitations, upstreams.feedback)
        routes.unary(Feedback.setGoal, upstreams.feedback)
        routes.unary(Feedback.listGoals, upstreams.feedback)
        routes.unary(Feedback.programReport, upstreams.feedback)
        routes.unary(Feedback.matchHealth, upstreams.feedback)
        routes.unary(Feedback.exportReport, upstreams.feedback)
        routes.serverStreaming(Feedback.streamReportExport, upstreams.feedback)
        routes.unary(Feedback.setSettings, upstreams.feedback)
        routes.unary(Feedback.getSettings, upstreams.feedback)
        routes.unary(Feedback.erasePerson, upstreams.feedback)
        // the gateway's own
        let server = self.server
        routes.router.register(Gateway.dashboard, unary: { try await server.dashboard($0, context: $1) })
        routes.router.register(Gateway.programDashboard, unary: { try await server.programDashboard($0, context: $1) })
        router = routes.router
    }
}

/// Registers a routed method: the request goes to the service as it came, with the caller's
/// credentials; the answer — or the error with its code, details and metadata — comes back as is.
struct Routes {
    var router: RPCRouter

    mutating func unary<Input, Output>(_ method: MethodDescriptor<Input, Output>, _ upstream: RPCClient) {
        router.register(method, unary: { request, context in
            try await upstream.call(method, request, options: GatewayServer.forwarded(context))
        })
    }

    mutating func serverStreaming<Input, Output>(_ method: MethodDescriptor<Input, Output>, _ upstream: RPCClient) {
        router.register(method, serverStreaming: { request, responses, context in
            try await upstream.serverStreaming(method, request, options: GatewayServer.forwarded(context)) { stream in
                for try await message in stream { try await responses.write(message) }
            }
        })
    }
}
