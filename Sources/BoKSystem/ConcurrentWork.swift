import Dispatch
import Synchronization

/// BoK's one bounded concurrent map: runs blocking work (libcurl requests, file writes, key generation) on up to N
/// threads at once and returns the results in order.
public enum ConcurrentWork {
    /// `body(0..<count)`, at most `concurrency` at a time; sequential when `concurrency <= 1`.
    public static func map<T: Sendable>(count: Int, concurrency: Int, _ body: @Sendable (Int) -> T) -> [T] {
        guard count > 0 else { return [] }
        if concurrency <= 1 || count == 1 { return (0..<count).map(body) }
        let work = Work<T>(count: count)
        DispatchQueue.concurrentPerform(iterations: min(concurrency, count)) { _ in
            while let i = work.take() { work.set(i, body(i)) }
        }
        return work.results()
    }

    /// `body(0..<count)` for throwing work, at most `concurrency` at a time: after the first error no new index is
    /// handed out, and the error of the lowest failed index is rethrown. The results, in order, when none failed.
    public static func tryMap<T: Sendable>(count: Int, concurrency: Int, _ body: @Sendable (Int) throws -> T) throws -> [T] {
        guard count > 0 else { return [] }
        let work = Work<Result<T, any Error>>(count: count)
        DispatchQueue.concurrentPerform(iterations: max(1, min(concurrency, count))) { _ in
            while let i = work.take() {
                let result = Result { try body(i) }
                work.set(i, result)
                if case .failure = result { work.stop() }
            }
        }
        return try work.filledResults().map { try $0.get() }
    }
}

/// The next index to hand out and the result slots, behind one mutex.
private final class Work<T: Sendable>: Sendable {
    private struct State {
        var next = 0
        var slots: [T?]
    }
    private let state: Mutex<State>
    init(count: Int) { state = Mutex(State(slots: Array(repeating: nil, count: count))) }

    func take() -> Int? {
        state.withLock { s in
            guard s.next < s.slots.count else { return nil }
            s.next += 1
            return s.next - 1
        }
    }
    func set(_ i: Int, _ value: T) { state.withLock { $0.slots[i] = value } }
    /// No index is handed out any more.
    func stop() { state.withLock { $0.next = $0.slots.count } }
    func results() -> [T] { state.withLock { $0.slots.map { $0! } } }
    /// The slots that were filled, in index order (all of them unless `stop()` was called).
    func filledResults() -> [T] { state.withLock { $0.slots.compactMap { $0 } } }
}
