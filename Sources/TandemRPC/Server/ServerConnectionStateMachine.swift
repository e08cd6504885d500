import NIOCore
import TandemWire

/// The connection-level protocol state of one server connection (Protocols/WIRE.md §3): the
/// settings exchange, stream-id rules, concurrency limit, keepalive and draining. Pure: the
/// channel handler feeds it events and performs the actions it returns.
struct ServerConnectionStateMachine {
    enum State: Equatable {
        /// Waiting for the client's SETTINGS (the preface is checked by the frame decoder).
        case awaitingSettings
        case active
        /// GOAWAY sent: finishing the calls already accepted.
        case draining
        case closed
    }

    struct Limits {
        var maxConcurrentStreams: Int
    }

    private(set) var state: State = .awaitingSettings
    private(set) var peerSettings = Settings(compression: [])
    private(set) var lastStreamID: UInt32 = 0
    private(set) var openStreams = 0
    /// The payload of the PING we sent and have no PONG for.
    private(set) var outstandingPing: UInt64?
    let limits: Limits

    init(limits: Limits) {
        self.limits = limits
    }

    enum SettingsAction: Equatable {
        case accept(Settings)
        /// A protocol error: send GOAWAY with this message and close.
        case protocolError(String)
    }

    mutating func receivedSettings(_ payload: ByteBuffer) -> SettingsAction {
        guard state == .awaitingSettings else {
            return .protocolError("SETTINGS may only be sent once")
        }
        do {
            peerSettings = try Settings(decoding: payload)
        } catch {
            return .protocolError(error.description)
        }
        state = .active
        return .accept(peerSettings)
    }

    enum StreamAction: Equatable {
        /// Open the stream and start the call.
        case open
        /// Refuse this stream with a TRAILERS status; the connection carries on.
        case refuse(StatusCode, String)
        /// A protocol error: GOAWAY and close.
        case protocolError(String)
    }

    /// A HEADERS frame opening stream `id`.
    mutating func receivedHeaders(streamID: UInt32) -> StreamAction {
        switch state {
        case .awaitingSettings:
            return .protocolError("the first frame must be SETTINGS")
        case .closed:
            return .refuse(.unavailable, "connection is closing")
        case .active, .draining:
            break
        }
        guard streamID != 0 else { return .protocolError("HEADERS on stream 0") }
        guard streamID > lastStreamID else {
            return .protocolError("stream id \(streamID) is not greater than \(lastStreamID)")
        }
        lastStreamID = streamID
        if state == .draining {
            return .refuse(.unavailable, "server is draining; retry on another connection")
        }
        guard openStreams < limits.maxConcurrentStreams else {
            return .refuse(.resourceExhausted, "too many concurrent calls on this connection (limit \(limits.maxConcurrentStreams))")
        }
        openStreams += 1
        return .open
    }

    enum CloseAction: Equatable {
        case none
        /// Draining and nothing left: close now.
        case close
        /// No call open: start the idle timer.
        case startIdleTimer
    }

    /// A stream opened with `.open` has ended (TRAILERS sent, or cancelled).
    mutating func streamClosed() -> CloseAction {
        precondition(openStreams > 0)
        openStreams -= 1
        guard openStreams == 0 else { return .none }
        return state == .draining ? .close : .startIdleTimer
    }

    /// Frames that may only travel on stream 0, and those that may not. (Compared one by one:
    /// this runs for every frame, and a set literal here was built, and allocated, each time.)
    func checkStream(_ type: FrameType, streamID: UInt32) -> String? {
        let connectionLevel = type == .settings || type == .ping || type == .pong || type == .goAway
        let callLevel = type == .headers || type == .message || type == .trailers || type == .cancel
        if connectionLevel && streamID != 0 { return "\(type) must be sent on stream 0" }
        if callLevel && streamID == 0 { return "\(type) must not be sent on stream 0" }
        if state == .awaitingSettings && type != .settings { return "the first frame must be SETTINGS" }
        return nil
    }

    enum DrainAction: Equatable {
        case none
        /// Send GOAWAY with `lastStreamID`, then close at once if `closeNow`.
        case sendGoAway(lastStreamID: UInt32, closeNow: Bool)
    }

    /// Begin a graceful drain.
    mutating func beginDrain() -> DrainAction {
        switch state {
        case .awaitingSettings:
            state = .draining
            return .sendGoAway(lastStreamID: lastStreamID, closeNow: true)
        case .active:
            state = .draining
            return .sendGoAway(lastStreamID: lastStreamID, closeNow: openStreams == 0)
        case .draining, .closed:
            return .none
        }
    }

    enum PingAction: Equatable {
        case sendPing(UInt64)
        /// The previous ping went unanswered: the peer is gone.
        case close
    }

    /// The keepalive timer fired.
    mutating func keepaliveTimerFired(nextPayload: UInt64) -> PingAction {
        if outstandingPing != nil { return .close }
        outstandingPing = nextPayload
        return .sendPing(nextPayload)
    }

    /// A PONG arrived.
    mutating func receivedPong(_ payload: UInt64) {
        if outstandingPing == payload { outstandingPing = nil }
    }

    /// The keepalive timeout passed: true when our ping is still unanswered.
    func pingTimedOut(_ payload: UInt64) -> Bool {
        outstandingPing == payload
    }

    mutating func closed() {
        state = .closed
    }
}
