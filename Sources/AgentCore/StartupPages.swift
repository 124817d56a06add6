import BoKSystem
import Logging
import ServiceLifecycle

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// Releases the executable's pages a moment after `ready`, and again each time the agent is idle
/// again (its last connection closed and none opened for `delay`): what a request touched (the TLS
/// handshake, certificate checks, Docker calls) does not stay mapped while nobody is connected.
/// Event-driven: no timer runs while the agent is idle.
struct StartupPageRelease: Service {
    let logger: Logger
    /// Whether a connection is open now.
    let busy: @Sendable () -> Bool
    /// One element each time the last connection closed.
    let idle: AsyncStream<Void>
    var delay: Duration = .seconds(1)

    func run() async throws {
        guard ProcessInfo.processInfo.environment["BOK_AGENT_KEEP_STARTUP_PAGES"] != "1" else { return }
        do { try await Task.sleep(for: delay) } catch { return }
        // Not inside the log call: its message is not evaluated below the log level.
        let kib = ExecutablePages.release()
        logger.debug("released \(kib) KiB of start-up pages of the executable (they stay in the page cache)")
        for await _ in idle.cancelOnGracefulShutdown() {
            do { try await Task.sleep(for: delay) } catch { return }
            guard !busy() else { continue }
            let again = ExecutablePages.release()
            logger.trace("idle again: released \(again) KiB of the executable's pages")
        }
    }
}
