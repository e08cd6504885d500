public import Foundation
import Synchronization
public import TandemProtocols
public import TandemRPC
public import TandemWire

/// How a call ended, as the load report counts it.
public enum CallOutcome: Sendable, Equatable {
    case ok
    /// FAILED_PRECONDITION from a booking: the time was taken. An expected answer, not an error.
    case conflict
    case failed(StatusCode)
}

/// Supplies the access token calls carry, renewing it before it expires.
public final class TokenSource: Sendable {
    public typealias Fetch = @Sendable () async throws -> (token: String, expires: Date)
    private let fetch: Fetch?
    private let state: Mutex<(token: String, expires: Date)>

    /// A fixed token.
    public init(token: String) {
        fetch = nil
        state = Mutex((token, .distantFuture))
    }

    /// A token fetched now and again two minutes before it expires.
    public init(fetch: @escaping Fetch) async throws {
        self.fetch = fetch
        state = Mutex(try await fetch())
    }

    public func current() async throws -> String {
        let (token, expires) = state.withLock { $0 }
        guard let fetch, expires.timeIntervalSinceNow < 120 else { return token }
        let fresh = try await fetch()
        state.withLock { $0 = fresh }
        return fresh.token
    }
}

/// What tandem-load reads of a `FindSlots` answer: that it is a slot list. The slots themselves
/// (two local views, reasons and an explanation each) are checked to be well-formed CBOR and
/// skipped, not built: building them cost the load generator about half of its CPU, on the cores
/// the service under test shares with it.
struct SlotListChecked: Codable, Sendable {
    static let findSlots = MethodDescriptor<FindSlotsRequest, SlotListChecked>(
        service: Scheduling.findSlots.service, method: Scheduling.findSlots.method, idempotent: Scheduling.findSlots.isIdempotent
    )

    enum CodingKeys: Int, CodingKey { case slots = 1, candidates }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        _ = try container.nestedUnkeyedContainer(forKey: .slots)
        _ = try container.decode(Int.self, forKey: .candidates)
    }

    /// Never sent: it is the load generator's view of an answer.
    func encode(to encoder: any Encoder) throws {
        throw EncodingError.invalidValue(self, .init(codingPath: encoder.codingPath, debugDescription: "SlotListChecked is only decoded"))
    }
}

/// The load generator's view of a `Meeting` in an answer to a booking or a cancellation: the
/// fields it checks and records, the others skipped unread. Decoding the whole meeting was about
/// 14% of `tandem-load`'s CPU, taken from the service it measures on a shared machine.
public struct MeetingChecked: Codable, Sendable {
    static let bookMeeting = MethodDescriptor<BookMeetingRequest, MeetingChecked>(
        service: Scheduling.bookMeeting.service, method: Scheduling.bookMeeting.method, idempotent: Scheduling.bookMeeting.isIdempotent
    )
    static let cancelMeeting = MethodDescriptor<CancelMeetingRequest, MeetingChecked>(
        service: Scheduling.cancelMeeting.service, method: Scheduling.cancelMeeting.method, idempotent: Scheduling.cancelMeeting.isIdempotent
    )

    public var id: UUID
    public var start: Date
    public var end: Date
    public var status: MeetingStatus

    /// `Meeting`'s keys.
    enum CodingKeys: Int, CodingKey { case id = 1, start = 5, end = 6, status = 8 }

    /// Never sent: it is the load generator's view of an answer.
    public func encode(to encoder: any Encoder) throws {
        throw EncodingError.invalidValue(self, .init(codingPath: encoder.codingPath, debugDescription: "MeetingChecked is only decoded"))
    }
}

/// The scheduling service, called directly over TLS.
public struct SchedulingTarget: Sendable {
    public let client: RPCClient
    public let tokens: TokenSource

    public init(client: RPCClient, tokens: TokenSource) {
        self.client = client
        self.tokens = tokens
    }

    func options(idempotencyKey: String? = nil, timeout: Int64 = 10) async throws -> CallOptions {
        var options = CallOptions(timeout: .seconds(timeout), retryPolicy: RetryPolicy.none)
        options.metadata[Metadata.Keys.authorization] = "Bearer " + (try await tokens.current())
        if let idempotencyKey { options.metadata[Metadata.Keys.idempotencyKey] = idempotencyKey }
        return options
    }

    public func setAvailability(_ availability: Availability) async throws {
        _ = try await client.call(Scheduling.setAvailability, availability, options: try await options(timeout: 30))
    }

    public func registerPair(_ pair: Pair) async throws {
        _ = try await client.call(Scheduling.registerPair, pair, options: try await options(timeout: 30))
    }

    /// A booking: OK with the meeting (scheduled, at the time asked for), a conflict, or an error.
    public func book(_ request: BookMeetingRequest, key: String) async -> (CallOutcome, MeetingChecked?) {
        do {
            let meeting = try await client.call(MeetingChecked.bookMeeting, request, options: try await options(idempotencyKey: key))
            guard meeting.status == .scheduled, meeting.start == request.start else { return (.failed(.internal), nil) }
            return (.ok, meeting)
        } catch let error as RPCError {
            return (error.code == .failedPrecondition ? .conflict : .failed(error.code), nil)
        } catch {
            return (.failed(.unknown), nil)
        }
    }

    public func find(_ request: FindSlotsRequest) async -> CallOutcome {
        do {
            _ = try await client.call(SlotListChecked.findSlots, request, options: try await options())
            return .ok
        } catch let error as RPCError {
            return .failed(error.code)
        } catch {
            return .failed(.unknown)
        }
    }

    public func cancel(_ meeting: UUID) async -> CallOutcome {
        do {
            let cancelled = try await client.call(
                MeetingChecked.cancelMeeting, CancelMeetingRequest(meetingID: meeting, reason: "load test"), options: try await options()
            )
            return cancelled.id == meeting && cancelled.status == .cancelled ? .ok : .failed(.internal)
        } catch let error as RPCError {
            return error.code == .failedPrecondition ? .conflict : .failed(error.code)
        } catch {
            return .failed(.unknown)
        }
    }

    /// Every meeting of a person (cancelled ones included), page by page.
    public func meetings(of person: UUID) async throws -> [Meeting] {
        var all: [Meeting] = []
        var token: String?
        repeat {
            let page = try await client.call(
                Scheduling.listMeetings, ListMeetingsRequest(personID: person, includeCancelled: true, pageSize: 1000, pageToken: token),
                options: try await options(timeout: 60)
            )
            all += page.meetings
            token = page.nextPageToken
        } while token != nil
        return all
    }

    public func meeting(_ id: UUID) async throws -> Meeting? {
        do {
            return try await client.call(Scheduling.getMeeting, MeetingRef(meetingID: id), options: try await options())
        } catch let error as RPCError where error.code == .notFound {
            return nil
        }
    }
}

