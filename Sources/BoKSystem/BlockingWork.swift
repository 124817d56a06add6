#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// BoK's one way to run blocking work (libssh2 sessions, libcurl transfers, file trees) from async code: on a thread of
/// its own, never on the cooperative pool or a NIO event loop, resuming the caller when it is done.
///
/// A thread per call is deliberate: the callers block for seconds (an SSH upload, a Kubernetes watch), and a
/// thread-pool queue would let a few slow calls starve the rest. Callers bound their own concurrency.
public func runBlocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
        // A detached pthread (FoundationEssentials has no `Thread`; the agent links no full Foundation).
        let job = Unmanaged.passRetained(BlockingJob { continuation.resume(with: Result { try body() }) })
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setstacksize(&attributes, 1 << 20)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        var thread = pthread_t()
        let rc = pthread_create(
            &thread, &attributes,
            { raw in
                Unmanaged<BlockingJob>.fromOpaque(raw!).takeRetainedValue().run()
                return nil
            }, job.toOpaque())
        pthread_attr_destroy(&attributes)
        if rc != 0 {
            job.release()
            continuation.resume(
                throwing: BlockingWorkError(
                    reason:
                        "cannot start a thread for blocking work (pthread_create: \(String(cString: strerror(rc)))); the process may have hit its thread limit (TasksMax, ulimit -u)"
                ))
        }
    }
}

private final class BlockingJob {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}

/// No thread could be started for blocking work: why, and what to check.
public struct BlockingWorkError: Error, CustomStringConvertible, Sendable {
    public let reason: String
    public var description: String { reason }
}
