/// How idempotent requests (GET, server-side apply, DELETE, absolute merge patches) are retried:
/// on 429, 500, 502, 503, 504 and on transport timeouts, refused or broken connections, with
/// exponential backoff. Other 4xx answers are never retried; POST and PUT never are.
public struct RetryPolicy: Sendable, Equatable {
    /// Attempts in total, the first included (1 = no retry).
    public var maxAttempts: Int
    public var initialDelay: Double
    public var multiplier: Double
    public var maxDelay: Double

    public init(maxAttempts: Int = 5, initialDelay: Double = 0.2, multiplier: Double = 2, maxDelay: Double = 5) {
        self.maxAttempts = max(1, maxAttempts)
        self.initialDelay = initialDelay
        self.multiplier = multiplier
        self.maxDelay = maxDelay
    }

    /// 5 attempts, 0.2 s doubling up to 5 s (about 3 s of waiting in all).
    public static let `default` = RetryPolicy()
    public static let none = RetryPolicy(maxAttempts: 1)

    /// The pause before attempt `attempt + 1` (attempt counts from 1). A server's
    /// `Retry-After` wins when it asks for longer, up to `maxDelay`.
    public func delay(afterAttempt attempt: Int, retryAfter: Double? = nil) -> Double {
        var d = initialDelay
        for _ in 1..<max(1, attempt) { d *= multiplier }
        d = min(d, maxDelay)
        if let retryAfter, retryAfter > d { d = min(retryAfter, maxDelay) }
        return d
    }

    /// HTTP codes worth another try.
    public static func isRetryable(status: Int) -> Bool {
        [429, 500, 502, 503, 504].contains(status)
    }
}
