public import NIOCore
public import TandemWire

/// Options for one client call.
public struct CallOptions: Sendable {
    /// How long the caller waits. When the calling task is itself serving a call, the shorter of
    /// this and that call's remaining time is used.
    public var timeout: TimeAmount?
    /// Metadata to send (authorization, idempotency-key…).
    public var metadata: Metadata
    /// Overrides the client's retry policy for this call (nil: the client's, for idempotent methods).
    public var retryPolicy: RetryPolicy?

    public init(timeout: TimeAmount? = nil, metadata: Metadata = Metadata(), retryPolicy: RetryPolicy? = nil) {
        self.timeout = timeout
        self.metadata = metadata
        self.retryPolicy = retryPolicy
    }

    public static let defaults = CallOptions()
}

/// When and how a client retries a failed call.
public struct RetryPolicy: Sendable, Hashable {
    /// Total attempts, the first included.
    public var maxAttempts: Int
    /// Status codes worth another attempt.
    public var retryableCodes: Set<StatusCode>
    public var initialBackoff: TimeAmount
    public var maxBackoff: TimeAmount
    public var multiplier: Double

    public init(
        maxAttempts: Int = 3, retryableCodes: Set<StatusCode> = [.unavailable], initialBackoff: TimeAmount = .milliseconds(50),
        maxBackoff: TimeAmount = .seconds(1), multiplier: Double = 2
    ) {
        self.maxAttempts = maxAttempts
        self.retryableCodes = retryableCodes
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.multiplier = multiplier
    }

    /// No retries.
    public static let none = RetryPolicy(maxAttempts: 1)
    /// Up to 3 attempts on UNAVAILABLE.
    public static let idempotentDefault = RetryPolicy()
}
