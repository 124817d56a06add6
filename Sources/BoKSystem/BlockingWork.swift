import Foundation

/// BoK's one way to run blocking work (libssh2 sessions, libcurl transfers, file trees) from async code: on a thread of
/// its own, never on the cooperative pool or a NIO event loop, resuming the caller when it is done.
///
/// A thread per call is deliberate: the callers block for seconds (an SSH upload, a Kubernetes watch), and a
/// thread-pool queue would let a few slow calls starve the rest. Callers bound their own concurrency.
public func runBlocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
        let thread = Thread {
            continuation.resume(with: Result { try body() })
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
}
