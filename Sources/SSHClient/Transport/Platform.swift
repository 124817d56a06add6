#if canImport(Glibc)
    @_exported import Glibc
#elseif canImport(Musl)
    @_exported import Musl
#elseif canImport(Darwin)
    @_exported import Darwin
#endif

/// A point in time after which a blocking step gives up.
struct Deadline {
    let instant: ContinuousClock.Instant
    let seconds: Double

    init(seconds: Double) {
        self.seconds = seconds
        self.instant = .now + .milliseconds(Int64((seconds * 1000).rounded(.up)))
    }

    var hasPassed: Bool { ContinuousClock.now >= instant }

    /// What is left, in whole milliseconds for poll(2), at least 0.
    var remainingMilliseconds: Int32 {
        let left = instant - .now
        let (seconds, attoseconds) = left.components
        let milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        return Int32(clamping: max(0, milliseconds))
    }
}

enum POSIXErrorText {
    static func describe(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}

/// Formats seconds for messages: `5 s`, `0.5 s`.
func formatSeconds(_ seconds: Double) -> String {
    if seconds == seconds.rounded() { return "\(Int(seconds)) s" }
    return "\(seconds) s"
}
